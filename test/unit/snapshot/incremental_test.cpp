// SPDX-License-Identifier: Apache-2.0
// Incremental snapshots without KVM: a full snapshot, pages changed through GuestMemoryMmap
// (which marks them), increments holding only those pages; the chain restored gives the final
// memory; wrong, missing, reordered and replayed links are refused.
#include "../crypt/crypt_test_support.h"

#include "crypt/owner_key.h"
#include "vmm/memory/guest_memory_mmap.h"
#include "vmm/snapshot/dirty_pages.h"
#include "vmm/snapshot/snapshot_file.h"
#include "vmm/vmcrypt/vm_sealing.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sodium.h>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::snapshot;
using crypt::sealtest::TempDir;

namespace {

constexpr uint64_t MEMORY = 32ull << 20;

GuestMemoryMmap make_memory()
{
    auto memory = GuestMemoryMmap::create(MEMORY, 0);
    REQUIRE(memory.has_value());
    return std::move(*memory);
}

bool same_memory(GuestMemoryMmap& a, GuestMemoryMmap& b)
{
    UntrackedGuestMemory left_view(a);
    UntrackedGuestMemory right_view(b);
    for (auto const& range : a.ranges()) {
        auto left = left_view.span(range.base, range.size);
        auto right = right_view.span(range.base, range.size);
        if (!left || !right || std::memcmp(left->data(), right->data(), range.size) != 0)
            return false;
    }
    return true;
}

// Random bytes at `gpa` (written through the tracked interface, as a device would).
void scribble(GuestMemoryMmap& memory, uint64_t gpa, size_t length)
{
    std::vector<std::byte> bytes(length);
    randombytes_buf(bytes.data(), bytes.size());
    REQUIRE(memory.write(GuestPhysAddr { gpa }, bytes).has_value());
}

vmcrypt::VmSealing make_sealing()
{
    auto sealing = vmcrypt::VmSealing::create_default(crypt::OwnerKey::generate().value());
    REQUIRE(sealing.has_value());
    return std::move(*sealing);
}

struct Chain {
    bool ready = (crypt::sealtest::init(), true);
    GuestMemoryMmap memory = make_memory();
    vmcrypt::VmSealing sealing = make_sealing();
    TempDir dir;
    std::optional<SnapshotLink> last;

    std::vector<vmcrypt::NamedState> states(uint8_t tag) { return { { "dev.test", std::vector<std::byte>(8, std::byte { tag }) } }; }

    // A full snapshot (through the untracked view, then the marks cleared, as vm.snapshot does).
    SnapshotWritten full(std::string const& name)
    {
        UntrackedGuestMemory view(memory);
        auto written = write_snapshot(dir.file(name), view, sealing, states(0), nlohmann::json { { "memory", MEMORY } });
        REQUIRE(written.has_value());
        (void)take_dirty_pieces(memory);
        last = SnapshotLink { dir.file(name), ParentRef { written->stream, written->generation } };
        return *written;
    }

    SnapshotWritten increment(std::string const& name, uint8_t tag, std::optional<SnapshotLink> parent = {})
    {
        UntrackedGuestMemory view(memory);
        Increment increment { parent.value_or(*last), take_dirty_pieces(memory) };
        auto written = write_incremental_snapshot(dir.file(name), view, sealing, states(tag), nlohmann::json { { "memory", MEMORY } }, increment);
        REQUIRE(written.has_value());
        last = SnapshotLink { dir.file(name), ParentRef { written->stream, written->generation } };
        return *written;
    }

    std::expected<RestoredSnapshot, RestoreFailure> restore(std::string const& name, GuestMemoryMmap& target,
        std::optional<crypt::Generation> expected = {})
    {
        return read_snapshot(dir.file(name), sealing.owner(), target, expected);
    }
};

void rewrite_manifest(std::string const& directory, auto edit)
{
    auto manifest = read_manifest(directory);
    REQUIRE(manifest.has_value());
    edit(*manifest);
    auto const path = directory + "/manifest.json";
    std::filesystem::remove(path);
    std::ofstream(path) << manifest->dump(2);
}

} // namespace

TEST_CASE("an incremental snapshot holds only the dirtied pages and its chain restores the final memory", "[unit][snapshot]")
{
    Chain chain;
    scribble(chain.memory, 0x100000, 3 << 20);
    auto const base = chain.full("base");
    CHECK(base.pages == MEMORY / 4096);

    scribble(chain.memory, 0x200ff0, 32);  // pages 0x200 and 0x201
    scribble(chain.memory, 0x1000000, 4096 * 5); // five pages
    auto const first = chain.increment("inc1", 1);
    CHECK(first.pages == 7);
    CHECK(first.generation > base.generation);

    scribble(chain.memory, 0x1000000, 16); // one page again
    scribble(chain.memory, 0x1f00000, 4096);
    auto const second = chain.increment("inc2", 2);
    CHECK(second.pages == 2);

    auto target = make_memory();
    auto restored = chain.restore("inc2", target, second.generation);
    REQUIRE(restored.has_value());
    CHECK(restored->links == 3);
    CHECK(restored->info.generation == second.generation);
    CHECK(restored->pages == MEMORY / 4096 + 7 + 2);
    REQUIRE(restored->states.size() == 1);
    CHECK(restored->states[0].bytes[0] == std::byte { 2 }); // the last link's records
    CHECK(same_memory(chain.memory, target));

    // The middle of the chain restores the memory as it was then: not the final one.
    auto middle = make_memory();
    REQUIRE(chain.restore("inc1", middle).has_value());
    CHECK_FALSE(same_memory(chain.memory, middle));

    // The full snapshot alone still reads as before (format unchanged).
    auto alone = make_memory();
    auto full = chain.restore("base", alone);
    REQUIRE(full.has_value());
    CHECK(full->links == 1);
    CHECK_FALSE(read_manifest(chain.dir.file("base"))->contains("parent"));
}

TEST_CASE("an increment without changes holds no page and still restores", "[unit][snapshot]")
{
    Chain chain;
    chain.full("base");
    CHECK(chain.increment("inc", 1).pages == 0);
    auto target = make_memory();
    REQUIRE(chain.restore("inc", target).has_value());
    CHECK(same_memory(chain.memory, target));
}

TEST_CASE("a missing link of a chain is refused", "[unit][snapshot]")
{
    Chain chain;
    chain.full("base");
    scribble(chain.memory, 0x5000, 10);
    chain.increment("inc1", 1);
    scribble(chain.memory, 0x6000, 10);
    chain.increment("inc2", 2);
    std::filesystem::remove_all(chain.dir.file("inc1"));
    auto target = make_memory();
    auto refused = chain.restore("inc2", target);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().error.code == Errc::NotFound);
}

TEST_CASE("an increment over the wrong parent is refused", "[unit][snapshot]")
{
    Chain chain;
    chain.full("base");
    scribble(chain.memory, 0x5000, 10);
    chain.increment("inc1", 1);
    // Another full snapshot of the same VM put where the increment's parent was.
    chain.full("other");
    std::filesystem::remove_all(chain.dir.file("base"));
    std::filesystem::rename(chain.dir.file("other"), chain.dir.file("base"));
    auto target = make_memory();
    auto refused = chain.restore("inc1", target);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().error.code == Errc::Corrupt);

    // The same with the clear manifest rewritten to name the new parent: the sealed
    // snapshot.info still names the old one.
    auto const other = read_manifest(chain.dir.file("base"));
    REQUIRE(other.has_value());
    rewrite_manifest(chain.dir.file("inc1"), [&](nlohmann::json& manifest) {
        manifest["parent"]["stream_id"] = (*other)["stream_id"];
        manifest["parent"]["generation"] = (*other)["generation"];
    });
    auto sealed = chain.restore("inc1", target);
    REQUIRE_FALSE(sealed.has_value());
    CHECK(sealed.error().error.code == Errc::Corrupt);
    CHECK(describe(sealed.error()).find("sealed parent") != std::string::npos);
}

TEST_CASE("a reordered chain (a link skipped in the manifests) is refused", "[unit][snapshot]")
{
    Chain chain;
    chain.full("base");
    auto const base = *read_manifest(chain.dir.file("base"));
    scribble(chain.memory, 0x5000, 10);
    chain.increment("inc1", 1);
    scribble(chain.memory, 0x6000, 10);
    chain.increment("inc2", 2);
    // inc2 pointed straight at the full snapshot, as if inc1 had not been.
    rewrite_manifest(chain.dir.file("inc2"), [&](nlohmann::json& manifest) {
        manifest["parent"] = { { "directory", chain.dir.file("base") }, { "stream_id", base["stream_id"] }, { "generation", base["generation"] } };
    });
    auto target = make_memory();
    auto refused = chain.restore("inc2", target);
    REQUIRE_FALSE(refused.has_value());
    CHECK(describe(refused.error()).find("sealed parent") != std::string::npos);
}

TEST_CASE("a replayed older increment and a looping chain are refused", "[unit][snapshot]")
{
    Chain chain;
    chain.full("base");
    scribble(chain.memory, 0x5000, 10);
    auto const first = chain.increment("inc1", 1);
    scribble(chain.memory, 0x6000, 10);
    auto const second = chain.increment("inc2", 2);
    auto target = make_memory();
    // The management plane hands back inc1 when inc2 is the one expected.
    auto replayed = chain.restore("inc1", target, second.generation);
    REQUIRE_FALSE(replayed.has_value());
    CHECK(describe(replayed.error()).find("expected generation") != std::string::npos);
    CHECK(first.generation < second.generation);

    // A manifest naming its own directory as its parent.
    auto const self = *read_manifest(chain.dir.file("inc2"));
    rewrite_manifest(chain.dir.file("inc2"), [&](nlohmann::json& manifest) {
        manifest["parent"] = { { "directory", "." }, { "stream_id", self["stream_id"] }, { "generation", self["generation"] } };
    });
    auto looping = chain.restore("inc2", target);
    REQUIRE_FALSE(looping.has_value());
    CHECK(looping.error().error.code == Errc::Corrupt);
}

TEST_CASE("an increment piece outside RAM or not whole pages is refused when writing", "[unit][snapshot]")
{
    Chain chain;
    auto const base = chain.full("base");
    UntrackedGuestMemory view(chain.memory);
    Increment outside { *chain.last, { GuestRamRange { GuestPhysAddr { MEMORY }, 4096 } } };
    CHECK_FALSE(write_incremental_snapshot(chain.dir.file("a"), view, chain.sealing, {}, nlohmann::json::object(), outside).has_value());
    Increment partial { *chain.last, { GuestRamRange { GuestPhysAddr { 0x1000 }, 100 } } };
    CHECK_FALSE(write_incremental_snapshot(chain.dir.file("b"), view, chain.sealing, {}, nlohmann::json::object(), partial).has_value());
    (void)base;
}
