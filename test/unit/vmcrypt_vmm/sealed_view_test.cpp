// SPDX-License-Identifier: Apache-2.0
// Sealed views of a built guest's RAM: no secret leaves in the clear, clear-region pages
// included; the owner (StreamReader, monarch-unseal) gets the pages back.
#include "built_guest.h"

#include "crypt/owner_key.h"
#include "support/subprocess.h"
#include "vmm/vmcrypt/sealed_view.h"

#include <map>
#include <sodium.h>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::vmcrypt;
using namespace monarch::vmm::vmcrypt::test;
using crypt::sealtest::TempDir;

namespace {

constexpr GuestPhysAddr SECRET_GPA { 0x2345678 }; // ordinary RAM, not page aligned

Bytes random_secret()
{
    Bytes secret(32);
    randombytes_buf(secret.data(), secret.size());
    return secret;
}

Bytes page_at(GuestMemory& memory, uint64_t gpa)
{
    Bytes page(PAGE_SIZE);
    REQUIRE(memory.read(GuestPhysAddr { gpa & ~(PAGE_SIZE - 1) }, page).has_value());
    return page;
}

// The pages of a stream, keyed by GPA, read with the owner key.
std::map<uint64_t, Bytes> open_pages(Bytes const& stream, crypt::OwnerKey const& owner)
{
    auto result = crypt::sealtest::read_stream(stream, owner);
    REQUIRE_FALSE(result.error.has_value());
    std::map<uint64_t, Bytes> pages;
    for (auto const& record : result.records) {
        if (record.type != crypt::RecordType::MemoryPages)
            continue;
        for (size_t offset = 0; offset < record.data.size(); offset += PAGE_SIZE)
            pages[record.gpa + offset] = Bytes(record.data.begin() + static_cast<ptrdiff_t>(offset),
                record.data.begin() + static_cast<ptrdiff_t>(offset + PAGE_SIZE));
    }
    return pages;
}

} // namespace

TEST_CASE("a sealed view of all RAM never holds the secret, not even in clear-region pages", "[unit][vmcrypt]")
{
    crypt::sealtest::init();
    auto guest = build_guest();
    auto secret = random_secret();
    REQUIRE(guest.memory->write(SECRET_GPA, secret).has_value());
    // The same secret inside the initrd (a clear region the guest may reuse once it has run).
    auto initrd = std::ranges::find_if(guest.supplied, [](auto const& r) { return r.what == "initrd"; });
    REQUIRE(initrd != guest.supplied.end());
    GuestPhysAddr const in_initrd { initrd->base.raw() + 0x1000 };
    REQUIRE(guest.memory->write(in_initrd, secret).has_value());
    // The scan is able to find it when it is there.
    auto ram = guest.memory->span(GuestPhysAddr { 0 }, GUEST_MEMORY);
    REQUIRE(ram.has_value());
    REQUIRE(contains_any_run(*ram, secret));

    auto owner = crypt::OwnerKey::generate();
    REQUIRE(owner.has_value());
    auto sealing = make_sealing(std::move(*owner));
    auto view = seal_memory_view(*guest.memory, sealing, std::nullopt);
    REQUIRE(view.has_value());
    CHECK(view->size() > GUEST_MEMORY);
    CHECK_FALSE(contains_any_run(*view, secret));

    auto pages = open_pages(*view, sealing.owner());
    CHECK(pages.size() == GUEST_MEMORY / PAGE_SIZE);
    CHECK(pages.at(SECRET_GPA.raw() & ~(PAGE_SIZE - 1)) == page_at(*guest.memory, SECRET_GPA.raw()));
    CHECK(pages.at(in_initrd.raw()) == page_at(*guest.memory, in_initrd.raw()));
}

TEST_CASE("a ranged view covers whole pages of the range and nothing else", "[unit][vmcrypt]")
{
    crypt::sealtest::init();
    auto guest = build_guest();
    auto owner = crypt::OwnerKey::generate();
    REQUIRE(owner.has_value());
    auto sealing = make_sealing(std::move(*owner));
    auto view = seal_memory_view(*guest.memory, sealing, ViewRange { GuestPhysAddr { 0x100fe0 }, 0x20 });
    REQUIRE(view.has_value());
    auto pages = open_pages(*view, sealing.owner());
    REQUIRE(pages.size() == 1);
    CHECK(pages.begin()->first == 0x100000);
    CHECK(pages.begin()->second == page_at(*guest.memory, 0x100000));

    // Crossing a page boundary takes both pages.
    auto two = seal_memory_view(*guest.memory, sealing, ViewRange { GuestPhysAddr { 0x100ff0 }, 0x20 });
    REQUIRE(two.has_value());
    CHECK(open_pages(*two, sealing.owner()).size() == 2);
}

TEST_CASE("view ranges that hold no RAM, are empty or overflow are refused", "[unit][vmcrypt]")
{
    auto guest = build_guest();
    CHECK(view_pieces(*guest.memory, ViewRange { GuestPhysAddr { 0x1000 }, 0 }).error().code == Errc::OutOfRange);
    CHECK(view_pieces(*guest.memory, ViewRange { GuestPhysAddr { GUEST_MEMORY }, 0x1000 }).error().code == Errc::OutOfRange);
    CHECK(view_pieces(*guest.memory, ViewRange { GuestPhysAddr { UINT64_MAX - 10 }, 100 }).error().code == Errc::OutOfRange);
    // Partly outside RAM: only the RAM part.
    auto pieces = view_pieces(*guest.memory, ViewRange { GuestPhysAddr { GUEST_MEMORY - 0x1000 }, 0x10000 });
    REQUIRE(pieces.has_value());
    REQUIRE(pieces->size() == 1);
    CHECK((*pieces)[0].size == 0x1000);
}

TEST_CASE("monarch-unseal opens a sealed view with the owner key file and gets the page back", "[unit][vmcrypt]")
{
    crypt::sealtest::init();
    auto guest = build_guest();
    auto secret = random_secret();
    REQUIRE(guest.memory->write(SECRET_GPA, secret).has_value());
    TempDir dir;
    REQUIRE(crypt::generate_owner_key_file(dir.file("owner.key")).has_value());
    auto owner = crypt::OwnerKey::from_file(dir.file("owner.key"));
    REQUIRE(owner.has_value());
    auto sealing = make_sealing(std::move(*owner));
    auto view = seal_memory_view(*guest.memory, sealing, ViewRange { SECRET_GPA, secret.size() });
    REQUIRE(view.has_value());
    crypt::sealtest::write_file(dir.file("view.sealed"), *view, 0600);

    auto result = monarch::test::run_process({ MONARCH_UNSEAL, "--key-file", dir.file("owner.key"), "extract",
        dir.file("view.sealed"), "--memory", dir.file("view.raw") });
    INFO(monarch::test::describe(result));
    REQUIRE(result.exited);
    REQUIRE(result.exit_code == 0);
    auto raw = crypt::sealtest::read_file(dir.file("view.raw"));
    REQUIRE(raw.size() >= SECRET_GPA.raw() + secret.size());
    CHECK(Bytes(raw.begin() + static_cast<ptrdiff_t>(SECRET_GPA.raw()),
              raw.begin() + static_cast<ptrdiff_t>(SECRET_GPA.raw() + secret.size())) == secret);

    // Another owner's key opens nothing.
    REQUIRE(crypt::generate_owner_key_file(dir.file("other.key")).has_value());
    auto wrong = monarch::test::run_process({ MONARCH_UNSEAL, "--key-file", dir.file("other.key"), "inspect",
        dir.file("view.sealed") });
    CHECK(wrong.exited);
    CHECK(wrong.exit_code == 1);
}
