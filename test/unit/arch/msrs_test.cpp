// SPDX-License-Identifier: Apache-2.0
// Boot MSR list and its filtering by KVM's index list.
#include "vmm/arch/msrs.h"

#include <catch2/catch.hpp>

#include <optional>

using namespace monarch::vmm::arch;

namespace {

std::optional<uint64_t> value_of(std::vector<kvm_msr_entry> const& entries, uint32_t index)
{
    for (auto const& entry : entries)
        if (entry.index == index)
            return entry.data;
    return std::nullopt;
}

} // namespace

TEST_CASE("boot MSRs: syscall MSRs zero, fast strings, MTRRs enabled write-back", "[unit][arch]")
{
    auto entries = boot_msrs();
    REQUIRE(entries.size() == 11);
    for (uint32_t index : { 0x174u, 0x175u, 0x176u, 0xc0000081u, 0xc0000082u, 0xc0000083u, 0xc0000084u, 0xc0000102u, 0x10u })
        REQUIRE(value_of(entries, index) == uint64_t { 0 });
    REQUIRE(value_of(entries, 0x1a0) == uint64_t { 1 });      // IA32_MISC_ENABLE.FAST_STRINGS
    REQUIRE(value_of(entries, 0x2ff) == uint64_t { 0x806 });  // MTRRdefType: E=1, type 6 (WB)
    for (auto const& entry : entries)
        REQUIRE(entry.reserved == 0);
}

TEST_CASE("boot MSRs are filtered by KVM's supported index list", "[unit][arch]")
{
    // A list like KVM_GET_MSR_INDEX_LIST's, lacking MTRRdefType and CSTAR, with extra MSRs.
    std::vector<uint32_t> supported { 0x10, 0x174, 0x175, 0x176, 0xc0000080, 0xc0000081, 0xc0000082,
                                      0xc0000084, 0xc0000102, 0x1a0, 0x3b, 0x4b564d00 };
    auto entries = boot_msrs(supported);
    REQUIRE(entries.size() == 10);
    REQUIRE_FALSE(value_of(entries, 0xc0000083));
    REQUIRE(value_of(entries, 0x1a0) == uint64_t { 1 });
    // KVM emulates MTRRdefType without listing it: kept.
    REQUIRE(value_of(entries, 0x2ff) == uint64_t { 0x806 });
    auto none = boot_msrs(std::span<uint32_t const> {});
    REQUIRE(none.size() == 1);
    REQUIRE(none[0].index == 0x2ff);
}
