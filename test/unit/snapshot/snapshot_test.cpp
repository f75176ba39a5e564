// SPDX-License-Identifier: Apache-2.0
// A full sealed snapshot of a guest built without KVM (memory, firmware tables, kernel, a UART):
// restored into fresh memory it is identical; no secret in either file; tampered, truncated,
// spliced, replayed and wrong-key snapshots are refused.
#include "../vmcrypt_vmm/built_guest.h"

#include "crypt/owner_key.h"
#include "vmm/snapshot/device_state.h"
#include "vmm/snapshot/snapshot_file.h"

#include <filesystem>
#include <sodium.h>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::snapshot;
using namespace monarch::vmm::vmcrypt::test;
using crypt::sealtest::TempDir;

namespace {

bool initialized()
{
    crypt::sealtest::init();
    return true;
}

struct Fixture {
    bool ready = initialized(); // libsodium before any key
    BuiltGuest guest = build_guest();
    Bytes secret = Bytes(32);
    vmcrypt::VmSealing sealing = make_sealing(crypt::OwnerKey::generate().value());
    TempDir dir;

    Fixture()
    {
        randombytes_buf(secret.data(), secret.size());
        REQUIRE(guest.memory->write(GuestPhysAddr { 0x3456780 }, secret).has_value());
    }

    std::string take(std::string const& name)
    {
        std::vector<vmcrypt::NamedState> states { { "uart.com1", encode_uart(UartState { { std::byte { 'x' } }, 1, 3, 8, 0, 0, 0x5a, 1, 0, true, 8, false }) } };
        auto written = write_snapshot(dir.file(name), *guest.memory, sealing, states, nlohmann::json { { "memory", GUEST_MEMORY } });
        REQUIRE(written.has_value());
        CHECK(written->pages == GUEST_MEMORY / vmcrypt::PAGE_SIZE);
        return dir.file(name);
    }

    std::expected<RestoredSnapshot, RestoreFailure> restore(std::string const& directory, GuestMemoryMmap& target,
        std::optional<crypt::Generation> expected = {})
    {
        return read_snapshot(directory, sealing.owner(), target, expected);
    }
};

GuestMemoryMmap fresh_memory()
{
    auto memory = GuestMemoryMmap::create(GUEST_MEMORY, 0);
    REQUIRE(memory.has_value());
    return std::move(*memory);
}

bool same_memory(GuestMemoryMmap& a, GuestMemoryMmap& b)
{
    for (auto const& range : a.ranges()) {
        auto left = a.span(range.base, range.size);
        auto right = b.span(range.base, range.size);
        if (!left || !right || std::memcmp(left->data(), right->data(), range.size) != 0)
            return false;
    }
    return true;
}

void flip_byte(std::string const& path, uint64_t offset)
{
    auto bytes = crypt::sealtest::read_file(path);
    REQUIRE(offset < bytes.size());
    bytes[offset] ^= std::byte { 0x01 };
    std::filesystem::remove(path);
    crypt::sealtest::write_file(path, bytes, 0600);
}

} // namespace

TEST_CASE("a sealed snapshot restored into fresh memory is identical and carries the device state", "[unit][snapshot]")
{
    Fixture f;
    auto directory = f.take("snap");
    for (auto const* name : { "state.sealed", "manifest.json" }) {
        auto bytes = crypt::sealtest::read_file(directory + "/" + name);
        CHECK_FALSE(contains_any_run(bytes, f.secret));
    }
    auto target = fresh_memory();
    REQUIRE_FALSE(same_memory(*f.guest.memory, target));
    auto restored = f.restore(directory, target);
    REQUIRE(restored.has_value());
    CHECK(same_memory(*f.guest.memory, target));
    CHECK(restored->info.vm == f.sealing.vm());
    REQUIRE(restored->states.size() == 1);
    CHECK(restored->states[0].name == "uart.com1");
    auto uart = decode_uart(restored->states[0].bytes);
    REQUIRE(uart.has_value());
    CHECK(uart->scr == 0x5a);
    CHECK(restored->config["memory"] == GUEST_MEMORY);
}

TEST_CASE("tampered, truncated, wrong-key, spliced and replayed snapshots are refused", "[unit][snapshot]")
{
    Fixture f;
    auto older = f.take("older");
    auto newer = f.take("newer");
    auto const newer_generation = crypt::Generation { read_manifest(newer).value()["generation"].get<uint64_t>() };
    auto target = fresh_memory();

    SECTION("a flipped byte in a page")
    {
        flip_byte(newer + "/state.sealed", 1 << 20);
        auto result = f.restore(newer, target);
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().error.code == Errc::Corrupt);
        CHECK(describe(result.error()).starts_with("snapshot refused: "));
        CHECK(result.error().where.record_index.has_value());
    }
    SECTION("truncated")
    {
        auto path = newer + "/state.sealed";
        std::filesystem::resize_file(path, std::filesystem::file_size(path) - 100);
        auto result = f.restore(newer, target);
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().error.code == Errc::Corrupt);
    }
    SECTION("the wrong owner key")
    {
        auto other = crypt::OwnerKey::generate().value();
        auto result = read_snapshot(newer, other, target, std::nullopt);
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().error.code == Errc::Corrupt);
    }
    SECTION("an older snapshot's stream behind the newer manifest")
    {
        std::filesystem::copy_file(older + "/state.sealed", newer + "/state.sealed", std::filesystem::copy_options::overwrite_existing);
        auto result = f.restore(newer, target);
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().error.code == Errc::Corrupt);
    }
    SECTION("a whole older snapshot when the newer generation is expected")
    {
        CHECK(f.restore(newer, target, newer_generation).has_value());
        auto result = f.restore(older, target, newer_generation);
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().error.code == Errc::Corrupt);
    }
    SECTION("a memory of another size")
    {
        auto small = GuestMemoryMmap::create(GUEST_MEMORY / 2, 0);
        REQUIRE(small.has_value());
        auto result = f.restore(newer, *small);
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().error.code == Errc::InvalidArgument);
    }
    SECTION("a manifest that is not ours")
    {
        std::filesystem::remove(newer + "/manifest.json");
        crypt::sealtest::write_file(newer + "/manifest.json", std::as_bytes(std::span { std::string_view("{\"format\":1}") }), 0600);
        auto result = f.restore(newer, target);
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().error.code == Errc::Corrupt);
    }
}

TEST_CASE("a snapshot never replaces existing files", "[unit][snapshot]")
{
    Fixture f;
    auto directory = f.take("once");
    auto again = write_snapshot(directory, *f.guest.memory, f.sealing, {}, nlohmann::json::object());
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error().sys_errno == EEXIST);
}
