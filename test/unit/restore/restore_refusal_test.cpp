// SPDX-License-Identifier: Apache-2.0
// Real sealed snapshots (the snapshot writer over a guest built without KVM, as the snapshot
// tests make them) restored through vm.restore on a real MachineBackend and through
// monarch-vmm --restore: a flipped byte, a truncated stream, the wrong key, a replayed
// generation, another VM, another layout or vCPU count are refused with one clear line and
// exit 76 (400 on the API), and no VM is left. An intact one passes verification and stops
// only at /dev/kvm on a host without it.
#include "../vmcrypt_vmm/built_guest.h"

#include "crypt/owner_key.h"
#include "support/subprocess.h"
#include "vmm/api/api_handler.h"
#include "vmm/api/machine_backend.h"
#include "vmm/api/vm_config_json.h"
#include "vmm/cli/build_error_message.h"
#include "vmm/snapshot/snapshot_file.h"

#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <unistd.h>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::vmcrypt::test;
using crypt::sealtest::TempDir;

namespace {

std::string const VMM = MONARCH_BINARY_DIR "/src/vmm/monarch-vmm";

bool have_kvm() { return ::access("/dev/kvm", R_OK | W_OK) == 0; }

struct Saved {
    TempDir dir;
    std::string key;
    std::string uuid;
    uint64_t generation { 0 };

    std::string path(std::string const& name) const { return dir.file(name); }
};

// A snapshot of a one-vCPU 64 MiB testos guest; "vcpu0" holds placeholder bytes and the other
// machine records are absent (real ones need /dev/kvm), so that the stream's verification
// passes and only apply_machine_state, after /dev/kvm, refuses.
void take(Saved& saved, std::string const& name, crypt::OwnerKey owner, std::optional<std::string> uuid = {})
{
    auto sealing = vmcrypt::VmSealing::create_default(std::move(owner),
        uuid ? std::optional<crypt::VmUuid>(crypt::VmUuid::parse(*uuid).value()) : std::nullopt);
    REQUIRE(sealing.has_value());
    saved.uuid = sealing->vm().to_string();
    machine::VmConfig config;
    config.kernel = MONARCH_TESTOS_ELF;
    config.memory = GUEST_MEMORY;
    config.cpus = 1;
    config.serial = "off";
    config.platform.uuid = saved.uuid;
    auto guest = build_guest();
    std::vector<vmcrypt::NamedState> states { { "vcpu0", std::vector<std::byte>(64, std::byte { 0x5a }) } };
    auto written = snapshot::write_snapshot(saved.path(name), *guest.memory, *sealing, states, api::vm_config_to_json(config));
    REQUIRE(written.has_value());
    saved.generation = written->generation.raw();
}

void save(Saved& saved)
{
    crypt::sealtest::init();
    saved.key = saved.path("owner.key");
    REQUIRE(crypt::generate_owner_key_file(saved.key).has_value());
    take(saved, "snap", crypt::OwnerKey::from_file(saved.key).value());
}

void edit_manifest(std::string const& directory, std::function<void(nlohmann::json&)> const& change)
{
    auto manifest = snapshot::read_manifest(directory);
    REQUIRE(manifest.has_value());
    change(*manifest);
    std::filesystem::remove(directory + "/manifest.json");
    std::ofstream(directory + "/manifest.json") << manifest->dump(2);
}

// The ways a snapshot is spoiled; each returns the words its refusal must contain.
std::string spoil(Saved& saved, std::string const& how)
{
    auto const directory = saved.path("snap");
    auto const state = directory + "/state.sealed";
    if (how == "flipped") {
        auto bytes = crypt::sealtest::read_file(state);
        bytes[bytes.size() / 2] ^= std::byte { 0x80 };
        std::filesystem::remove(state);
        crypt::sealtest::write_file(state, bytes, 0600);
        return "snapshot refused";
    }
    if (how == "truncated") {
        std::filesystem::resize_file(state, std::filesystem::file_size(state) / 3);
        return "snapshot refused";
    }
    if (how == "wrong key") {
        saved.key = saved.path("other.key");
        REQUIRE(crypt::generate_owner_key_file(saved.key).has_value());
        return "snapshot refused";
    }
    if (how == "spliced") { // another VM's stream under this manifest
        take(saved, "other", crypt::OwnerKey::from_file(saved.key).value());
        std::filesystem::remove(state);
        std::filesystem::copy_file(saved.path("other") + "/state.sealed", state);
        return "not of the same snapshot";
    }
    if (how == "config of another VM") {
        edit_manifest(directory, [](nlohmann::json& m) { m["config"]["platform"]["uuid"] = "11111111-2222-4333-8444-555555555555"; });
        return "is not the snapshot's VM";
    }
    if (how == "another layout") {
        edit_manifest(directory, [](nlohmann::json& m) { m["config"]["memory"]["size"] = 2 * GUEST_MEMORY; });
        return "layout differs";
    }
    if (how == "another vCPU count") {
        edit_manifest(directory, [](nlohmann::json& m) { m["config"]["cpus"] = { { "boot_vcpus", 2 }, { "max_vcpus", 2 } }; });
        return "vCPU records";
    }
    FAIL("unknown way " << how);
    return {};
}

std::vector<std::string> const SPOILS { "flipped", "truncated", "wrong key", "spliced", "config of another VM", "another layout",
    "another vCPU count" };

struct Api {
    event::EventLoop loop;
    vmcrypt::VmSealing sealing;
    api::MachineBackend backend { loop,
        [](machine::BuildError const& error, machine::VmConfig const& vm) {
            auto exit = cli::describe_build_error(error, vm, 0);
            return api::BuildFailure { exit.status, exit.text };
        },
        [](int) {}, &sealing };
    api::VmController controller { backend };
    api::ApiHandler handler { controller, [] {} };

    explicit Api(std::string const& key) : sealing(make_sealing(crypt::OwnerKey::from_file(key).value())) {}

    http::HttpResponse restore(std::string const& directory)
    {
        http::HttpRequest request;
        request.method = "PUT";
        request.target = request.path = "/api/v1/vm.restore";
        request.body = nlohmann::json { { "source_url", "file://" + directory } }.dump();
        return handler.handle(request);
    }
};

monarch::test::ProcessResult restore_process(Saved const& saved, std::vector<std::string> extra = {}, std::string const& url_extra = "")
{
    std::vector<std::string> argv { VMM, "--owner-key", "file=" + saved.key, "--restore", "source_url=file://" + saved.path("snap") + url_extra };
    argv.insert(argv.end(), extra.begin(), extra.end());
    return monarch::test::run_process(argv, { std::chrono::seconds(60), {} });
}

size_t count_of(std::string const& text, std::string const& word)
{
    size_t count = 0;
    for (auto at = text.find(word); at != std::string::npos; at = text.find(word, at + 1))
        ++count;
    return count;
}

} // namespace

TEST_CASE("vm.restore refuses spoiled snapshots with 400 and leaves no VM", "[unit][restore]")
{
    for (auto const& how : SPOILS) {
        Saved saved;
        save(saved);
        auto const words = spoil(saved, how);
        Api api(saved.key);
        auto response = api.restore(saved.path("snap"));
        INFO(how << ": " << response.status << " " << response.body);
        CHECK(response.status == 400);
        CHECK(response.body.find(words) != std::string::npos);
        CHECK(api.controller.state() == api::VmState::NotCreated);
        CHECK(api.backend.vmm() == nullptr);
    }
}

TEST_CASE("vm.restore of an intact snapshot: verified, then only /dev/kvm or the placeholder vCPU record stops it", "[unit][restore]")
{
    Saved saved;
    save(saved);
    Api api(saved.key);
    auto response = api.restore(saved.path("snap"));
    INFO(response.status << " " << response.body);
    if (have_kvm()) { // the placeholder record set is refused when it is applied
        CHECK(response.status == 400);
        CHECK(response.body.find("snapshot refused") != std::string::npos);
    } else {
        CHECK(response.status == 500);
        CHECK(response.body.find("/dev/kvm") != std::string::npos);
        CHECK(response.body.find("refused") == std::string::npos);
    }
    CHECK(api.controller.state() == api::VmState::NotCreated);
    CHECK(api.backend.vmm() == nullptr);
}

TEST_CASE("monarch-vmm --restore refuses spoiled snapshots with one line and exit 76", "[unit][restore]")
{
    for (auto const& how : SPOILS) {
        Saved saved;
        save(saved);
        auto const words = spoil(saved, how);
        auto result = restore_process(saved);
        INFO(how << ": " << monarch::test::describe(result));
        REQUIRE(result.exited); // it ended by itself: nothing is left running
        CHECK(result.exit_code == 76);
        CHECK(result.output.find(words) != std::string::npos);
        CHECK(count_of(result.output, "monarch-vmm: error:") == 1);
    }
}

TEST_CASE("monarch-vmm --restore: replayed generation, another VM's UUID, a missing snapshot, a bad URL", "[unit][restore]")
{
    Saved saved;
    save(saved);
    auto replayed = restore_process(saved, {}, fmt::format(",generation={}", saved.generation + 1));
    INFO(monarch::test::describe(replayed));
    CHECK(replayed.exit_code == 76);
    CHECK(replayed.output.find("not the expected generation") != std::string::npos);

    auto other = restore_process(saved, { "--platform", "uuid=11111111-2222-4333-8444-555555555555" });
    INFO(monarch::test::describe(other));
    CHECK(other.exit_code == 76);
    CHECK(other.output.find(fmt::format("snapshot of VM {}, not of VM 11111111", saved.uuid)) != std::string::npos);

    auto missing = monarch::test::run_process({ VMM, "--owner-key", "file=" + saved.key, "--restore", "source_url=file://" + saved.path("none") });
    CHECK(missing.exit_code == 66);
    auto bad_url = monarch::test::run_process({ VMM, "--owner-key", "file=" + saved.key, "--restore", "source_url=" + saved.path("snap") });
    CHECK(bad_url.exit_code == 64);
    auto no_key = monarch::test::run_process({ VMM, "--restore", "source_url=file:///nonexistent" });
    CHECK(no_key.exit_code == 64);
    CHECK(no_key.output.find("--restore needs --owner-key") != std::string::npos);
}

TEST_CASE("monarch-vmm --restore of an intact snapshot with its own UUID and generation gets past verification", "[unit][restore]")
{
    Saved saved;
    save(saved);
    auto result = restore_process(saved, { "--platform", "uuid=" + saved.uuid, "--serial", "off" }, fmt::format(",generation={}", saved.generation));
    INFO(monarch::test::describe(result));
    REQUIRE(result.exited);
    if (have_kvm()) { // the placeholder record set is refused when it is applied
        CHECK(result.exit_code == 76);
        CHECK(result.output.find("snapshot refused") != std::string::npos);
    } else {
        CHECK(result.exit_code == 69);
        CHECK(result.output.find("refused") == std::string::npos);
    }
}
