// SPDX-License-Identifier: Apache-2.0
// Snapshot and restore of a running guest: testos counts in ring 3 (testos.run=count), the VM
// is paused and snapshotted through the API, the VMM is killed, and a fresh monarch-vmm
// restores the snapshot with the owner key. The restored VM waits Paused; a second snapshot
// of it holds the same RAM (opened with monarch-unseal); after vm.resume the guest's counts go
// on from the last one before the snapshot. Needs /dev/kvm and the built testos.
#include "crypt/owner_key.h"
#include "crypt/sodium.h"
#include "kvm/vmm/vmm_process.h"
#include "support/skip.h"
#include "unit/vmm_api/vmm_api_process.h"

#include <catch2/catch.hpp>
#include <csignal>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

using namespace monarch::test;
using namespace std::chrono_literals;

namespace {

std::string const UNSEAL = MONARCH_UNSEAL;

std::string read_text(std::string const& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// The "testos: count N" values in the serial log, in order.
std::vector<uint64_t> counts(std::string const& log)
{
    std::vector<uint64_t> values;
    std::regex const line("testos: count ([0-9]+)\r?\n"); // whole lines only (the UART sends CR LF)
    for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator(); ++it)
        values.push_back(std::stoull((*it)[1].str()));
    return values;
}

std::vector<uint64_t> wait_for_counts(std::string const& path, size_t at_least, std::chrono::seconds timeout)
{
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto values = counts(read_text(path));
        if (values.size() >= at_least)
            return values;
        std::this_thread::sleep_for(100ms);
    }
    return counts(read_text(path));
}

std::string extract_memory(std::string const& key, std::string const& snapshot, std::string const& out)
{
    auto result = run_process({ UNSEAL, "--key-file", key, "extract", snapshot + "/state.sealed", "--memory", out });
    INFO(describe(result));
    REQUIRE(result.exit_code == 0);
    return read_text(out);
}

} // namespace

TEST_CASE("kvm restore: a counting guest snapshotted, killed and restored goes on counting", "[kvm][restore]")
{
    require_kvm();
    auto testos = built_testos();
    if (!testos)
        skip("testos.elf is not built (ninja testos)");
    auto const dir = scratch_directory();
    auto const key = dir + "/owner.key";
    REQUIRE(monarch::crypt::initialize().has_value()); // libsodium before its first use, as main() does
    REQUIRE(monarch::crypt::generate_owner_key_file(key).has_value());
    auto const before_log = dir + "/before.log", after_log = dir + "/after.log";
    auto const snapshot = dir + "/snap", second = dir + "/snap2";

    uint64_t last_before = 0;
    {
        auto const socket = dir + "/a.sock";
        VmmProcess vmm({ "--owner-key", "file=" + key, "--api-socket", socket });
        REQUIRE(vmm.wait_for_socket(socket, 10s));
        auto const config = R"({"memory":{"size":134217728},"payload":{"kernel":")" + *testos
            + R"(","cmdline":"testos.run=count"},"serial":{"mode":"File","file":")" + before_log + R"("}})";
        REQUIRE(api_call(socket, "PUT", "vm.create", config).status == 204);
        auto boot = api_call(socket, "PUT", "vm.boot");
        INFO(boot.body << vmm.output());
        REQUIRE(boot.status == 204);
        REQUIRE(wait_for_counts(before_log, 3, 60s).size() >= 3);
        REQUIRE(api_call(socket, "PUT", "vm.pause").status == 204);
        std::this_thread::sleep_for(200ms);
        auto const paused = counts(read_text(before_log));
        REQUIRE_FALSE(paused.empty());
        last_before = paused.back();
        auto taken = api_call(socket, "PUT", "vm.snapshot", R"({"destination_url":"file://)" + snapshot + R"("})");
        INFO(taken.body << vmm.output());
        REQUIRE(taken.status == 204);
        vmm.send_signal(SIGKILL); // no orderly shutdown: the snapshot alone carries the VM
        REQUIRE(vmm.wait_exit(10s).has_value());
    }

    auto const socket = dir + "/b.sock";
    VmmProcess restored({ "--owner-key", "file=" + key, "--api-socket", socket, "--restore", "source_url=file://" + snapshot,
        "--serial", "file:" + after_log });
    REQUIRE(restored.wait_for_socket(socket, 60s));
    auto info = api_call(socket, "GET", "vm.info");
    INFO(info.body << restored.output());
    REQUIRE(info.status == 200);
    CHECK(info.json()["state"] == "Paused");
    // Paused: the RAM is the snapshot's, page for page.
    REQUIRE(api_call(socket, "PUT", "vm.snapshot", R"({"destination_url":"file://)" + second + R"("})").status == 204);
    auto const original = extract_memory(key, snapshot, dir + "/first.raw");
    auto const again = extract_memory(key, second, dir + "/second.raw");
    CHECK(original.size() == again.size());
    CHECK(original == again);

    REQUIRE(api_call(socket, "PUT", "vm.resume").status == 204);
    auto after = wait_for_counts(after_log, 2, 60s);
    INFO(read_text(after_log) << restored.output());
    REQUIRE(after.size() >= 2);
    // Not reset: the first count printed after the restore follows the last whole one before
    // it (one print every 2^24 steps; a line the pause cut in two is in neither list).
    CHECK(after.front() > last_before);
    CHECK(after.front() <= last_before + 2 * (1u << 24));
    CHECK(after.back() > after.front());
}
