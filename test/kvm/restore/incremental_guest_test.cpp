// SPDX-License-Identifier: Apache-2.0
// Incremental snapshots of a running guest: testos counts, a full vm.snapshot, the guest runs
// on, an incremental one ({"incremental": true}) holds fewer pages than RAM; a full snapshot
// taken right after it is the reference. A fresh monarch-vmm restored from the increment
// (following its parent link) holds that same RAM, page for page. Needs /dev/kvm and testos.
#include "crypt/owner_key.h"
#include "crypt/sodium.h"
#include "kvm/vmm/vmm_process.h"
#include "support/skip.h"
#include "unit/vmm_api/vmm_api_process.h"

#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

using namespace monarch::test;
using namespace std::chrono_literals;

namespace {

std::string slurp(std::string const& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string unseal_memory(std::string const& key, std::string const& snapshot, std::string const& out)
{
    auto result = run_process({ MONARCH_UNSEAL, "--key-file", key, "extract", snapshot + "/state.sealed", "--memory", out });
    INFO(describe(result));
    REQUIRE(result.exit_code == 0);
    return slurp(out);
}

std::string snapshot_body(std::string const& path, bool incremental)
{
    return nlohmann::json { { "destination_url", "file://" + path }, { "incremental", incremental } }.dump();
}

} // namespace

TEST_CASE("kvm restore: a full and an incremental snapshot of a running guest restore to the same RAM", "[kvm][restore]")
{
    require_kvm();
    auto testos = built_testos();
    if (!testos)
        skip("testos.elf is not built (ninja testos)");
    auto const dir = scratch_directory();
    auto const key = dir + "/owner.key";
    REQUIRE(monarch::crypt::initialize().has_value()); // libsodium before its first use, as main() does
    REQUIRE(monarch::crypt::generate_owner_key_file(key).has_value());
    auto const log = dir + "/serial.log";
    auto const base = dir + "/base", increment = dir + "/inc", reference = dir + "/ref", again = dir + "/again";
    constexpr uint64_t memory = 128ull << 20;
    {
        auto const socket = dir + "/a.sock";
        VmmProcess vmm({ "--owner-key", "file=" + key, "--api-socket", socket });
        REQUIRE(vmm.wait_for_socket(socket, 10s));
        auto const config = R"({"memory":{"size":134217728},"payload":{"kernel":")" + *testos
            + R"(","cmdline":"testos.run=count"},"serial":{"mode":"File","file":")" + log + R"("}})";
        REQUIRE(api_call(socket, "PUT", "vm.create", config).status == 204);
        REQUIRE(api_call(socket, "PUT", "vm.boot").status == 204);
        std::this_thread::sleep_for(2s);
        auto full = api_call(socket, "PUT", "vm.snapshot", snapshot_body(base, false));
        INFO(full.body << vmm.output());
        REQUIRE(full.status == 204);
        std::this_thread::sleep_for(1s); // the guest counts on, writing its memory
        REQUIRE(api_call(socket, "PUT", "vm.pause").status == 204);
        auto inc = api_call(socket, "PUT", "vm.snapshot", snapshot_body(increment, true));
        INFO(inc.body << vmm.output());
        REQUIRE(inc.status == 204);
        REQUIRE(api_call(socket, "PUT", "vm.snapshot", snapshot_body(reference, false)).status == 204);
        vmm.send_signal(SIGKILL);
        REQUIRE(vmm.wait_exit(10s).has_value());
    }
    auto const manifest = nlohmann::json::parse(slurp(increment + "/manifest.json"));
    REQUIRE(manifest.contains("parent"));
    CHECK(manifest["parent"]["directory"] == base);
    CHECK(manifest["memory_pages"].get<uint64_t>() > 0);
    CHECK(manifest["memory_pages"].get<uint64_t>() < memory / 4096);

    auto const socket = dir + "/b.sock";
    VmmProcess restored({ "--owner-key", "file=" + key, "--api-socket", socket, "--restore", "source_url=file://" + increment });
    REQUIRE(restored.wait_for_socket(socket, 60s));
    auto info = api_call(socket, "GET", "vm.info");
    INFO(info.body << restored.output());
    REQUIRE(info.status == 200);
    REQUIRE(api_call(socket, "PUT", "vm.snapshot", snapshot_body(again, false)).status == 204);
    auto const expected = unseal_memory(key, reference, dir + "/ref.raw");
    auto const actual = unseal_memory(key, again, dir + "/again.raw");
    CHECK(expected.size() == memory);
    CHECK(expected == actual);
}
