// SPDX-License-Identifier: Apache-2.0
// monarch-vmm --restore on snapshots of a guest built without KVM: an intact snapshot is
// verified (and, resuming not being implemented, nothing starts: exit 78); a tampered,
// truncated, wrong-key or unexpected-generation one is refused with one line and exit 76.
#include "../vmcrypt_vmm/built_guest.h"

#include "crypt/owner_key.h"
#include "support/subprocess.h"
#include "vmm/snapshot/snapshot_file.h"

#include <filesystem>
#include <fmt/format.h>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::vmcrypt::test;
using crypt::sealtest::TempDir;

namespace {

std::string const VMM = MONARCH_BINARY_DIR "/src/vmm/monarch-vmm";

struct Saved {
    TempDir dir;
    std::string key;
    std::string snapshot;
    uint64_t generation { 0 };
};

void save(Saved& saved)
{
    crypt::sealtest::init();
    saved.key = saved.dir.file("owner.key");
    REQUIRE(crypt::generate_owner_key_file(saved.key).has_value());
    auto owner = crypt::OwnerKey::from_file(saved.key);
    REQUIRE(owner.has_value());
    auto sealing = make_sealing(std::move(*owner));
    auto guest = build_guest();
    saved.snapshot = saved.dir.file("snap");
    auto written = snapshot::write_snapshot(saved.snapshot, *guest.memory, sealing, {}, nlohmann::json::object());
    REQUIRE(written.has_value());
    saved.generation = written->generation.raw();
}

monarch::test::ProcessResult restore(Saved const& saved, std::string const& key, std::string const& extra = "")
{
    return monarch::test::run_process({ VMM, "--owner-key", "file=" + key, "--restore",
        "source_url=file://" + saved.snapshot + extra });
}

} // namespace

TEST_CASE("monarch-vmm --restore verifies an intact snapshot and starts nothing", "[unit][snapshot][restore]")
{
    Saved saved;
    save(saved);
    auto result = restore(saved, saved.key, fmt::format(",generation={}", saved.generation));
    INFO(monarch::test::describe(result));
    REQUIRE(result.exited);
    CHECK(result.exit_code == 78);
    CHECK(result.output.find("the snapshot is intact") != std::string::npos);
    CHECK(result.output.find("nothing was started") != std::string::npos);
}

TEST_CASE("monarch-vmm --restore refuses tampered, truncated, wrong-key and replayed snapshots", "[unit][snapshot][restore]")
{
    Saved saved;
    save(saved);
    auto const state = saved.snapshot + "/state.sealed";
    SECTION("a flipped byte")
    {
        auto bytes = crypt::sealtest::read_file(state);
        bytes[bytes.size() / 2] ^= std::byte { 0x80 };
        std::filesystem::remove(state);
        crypt::sealtest::write_file(state, bytes, 0600);
    }
    SECTION("truncated")
    {
        std::filesystem::resize_file(state, std::filesystem::file_size(state) / 3);
    }
    SECTION("the wrong key")
    {
        REQUIRE(crypt::generate_owner_key_file(saved.dir.file("other.key")).has_value());
        saved.key = saved.dir.file("other.key");
    }
    SECTION("not the expected generation")
    {
        auto result = restore(saved, saved.key, fmt::format(",generation={}", saved.generation + 1));
        CHECK(result.exit_code == 76);
        CHECK(result.output.find("snapshot refused") != std::string::npos);
        return;
    }
    auto result = restore(saved, saved.key);
    INFO(monarch::test::describe(result));
    REQUIRE(result.exited);
    CHECK(result.exit_code == 76);
    CHECK(result.output.find("monarch-vmm: error: --restore:") != std::string::npos);
    CHECK(result.output.find("intact") == std::string::npos);
}

TEST_CASE("restore without an owner key is a usage error", "[unit][snapshot][restore]")
{
    auto result = monarch::test::run_process({ VMM, "--restore", "source_url=file:///nonexistent" });
    CHECK(result.exit_code == 64);
    CHECK(result.output.find("--restore needs --owner-key") != std::string::npos);
}
