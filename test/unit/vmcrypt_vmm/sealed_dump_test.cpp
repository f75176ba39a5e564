// SPDX-License-Identifier: Apache-2.0
// The sealed dump of a built guest: a new 0600 file, no secret in it, all of RAM and the
// dump.info record for the owner; never over an existing file; file:// URLs.
#include "built_guest.h"

#include "crypt/owner_key.h"
#include "vmm/vmcrypt/sealed_dump.h"
#include "vmm/vmcrypt/sealed_file.h"

#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::vmcrypt;
using namespace monarch::vmm::vmcrypt::test;
using crypt::sealtest::TempDir;

TEST_CASE("the sealed dump is a new owner-only file without the secret that the owner opens", "[unit][vmcrypt][dump]")
{
    crypt::sealtest::init();
    auto guest = build_guest();
    Bytes secret(32);
    randombytes_buf(secret.data(), secret.size());
    GuestPhysAddr const secret_gpa { 0x1234560 };
    REQUIRE(guest.memory->write(secret_gpa, secret).has_value());

    auto owner = crypt::OwnerKey::generate();
    REQUIRE(owner.has_value());
    auto sealing = make_sealing(std::move(*owner));
    ClearRegions regions(guest.supplied);
    std::vector<NamedState> states { { "vcpu0.note", Bytes(5, std::byte { 7 }) } };
    DumpContents contents { &regions, 1, "registers need a running vCPU", states };
    TempDir dir;
    ::umask(0); // the file must still be 0600
    auto generation = write_sealed_dump(dir.file("core.sealed"), *guest.memory, sealing, contents);
    ::umask(022);
    REQUIRE(generation.has_value());

    struct stat status {};
    REQUIRE(::stat(dir.file("core.sealed").c_str(), &status) == 0);
    CHECK((status.st_mode & 0777) == 0600);
    auto bytes = crypt::sealtest::read_file(dir.file("core.sealed"));
    CHECK_FALSE(contains_any_run(bytes, secret));

    auto read = crypt::sealtest::read_stream(bytes, sealing.owner());
    REQUIRE_FALSE(read.error.has_value());
    CHECK(read.info->generation == *generation);
    CHECK(read.info->vm == sealing.vm());
    REQUIRE(read.records.size() >= 3);
    CHECK(read.records[0].name == "dump.info");
    std::string info(reinterpret_cast<char const*>(read.records[0].data.data()), read.records[0].data.size());
    CHECK(info.find("\"format\":\"monarch-dump/1\"") != std::string::npos);
    CHECK(info.find(fmt::format("\"name\":\"initrd\",\"gpa\":{},\"size\":{}",
              std::ranges::find_if(guest.supplied, [](auto const& r) { return r.what == "initrd"; })->base.raw(),
              guest.initrd.size()))
        != std::string::npos);
    CHECK(read.records[1].name == "vcpu0.note");
    CHECK(read.records.back().type == crypt::RecordType::End);
    CHECK(read.records.back().gpa == 0);
    uint64_t pages = 0;
    Bytes secret_page;
    for (auto const& record : read.records) {
        if (record.type != crypt::RecordType::MemoryPages)
            continue;
        pages += record.data.size() / PAGE_SIZE;
        uint64_t const page = secret_gpa.raw() & ~(PAGE_SIZE - 1);
        if (page >= record.gpa && page < record.gpa + record.data.size())
            secret_page.assign(record.data.begin() + static_cast<ptrdiff_t>(page - record.gpa),
                record.data.begin() + static_cast<ptrdiff_t>(page - record.gpa + PAGE_SIZE));
    }
    CHECK(pages == GUEST_MEMORY / PAGE_SIZE);
    REQUIRE(secret_page.size() == PAGE_SIZE);
    CHECK(std::equal(secret.begin(), secret.end(), secret_page.begin() + static_cast<ptrdiff_t>(secret_gpa.raw() % PAGE_SIZE)));
}

TEST_CASE("a dump never replaces an existing file, and a failed dump leaves no file", "[unit][vmcrypt][dump]")
{
    crypt::sealtest::init();
    auto guest = build_guest();
    auto owner = crypt::OwnerKey::generate();
    REQUIRE(owner.has_value());
    auto sealing = make_sealing(std::move(*owner));
    TempDir dir;
    crypt::sealtest::write_file(dir.file("existing"), Bytes(3, std::byte { 1 }), 0644);
    auto refused = write_sealed_dump(dir.file("existing"), *guest.memory, sealing, {});
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().sys_errno == EEXIST);
    CHECK(crypt::sealtest::read_file(dir.file("existing")).size() == 3);

    // A bad state name fails after the file was created: it is removed again.
    std::vector<NamedState> bad { { "../escape", Bytes(1) } };
    auto failed = write_sealed_dump(dir.file("new"), *guest.memory, sealing, DumpContents { nullptr, 0, "", bad });
    REQUIRE_FALSE(failed.has_value());
    CHECK(::access(dir.file("new").c_str(), F_OK) != 0);
}

TEST_CASE("file URLs: only absolute local paths", "[unit][vmcrypt]")
{
    CHECK(path_from_file_url("file:///var/lib/vm/core").value() == "/var/lib/vm/core");
    CHECK_FALSE(path_from_file_url("file://host/x").has_value());
    CHECK_FALSE(path_from_file_url("file://").has_value());
    CHECK_FALSE(path_from_file_url("file:///").has_value());
    CHECK_FALSE(path_from_file_url("http://x/y").has_value());
    CHECK_FALSE(path_from_file_url("/plain/path").has_value());
    CHECK_FALSE(path_from_file_url("file:///a?b").has_value());
}
