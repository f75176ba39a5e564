// SPDX-License-Identifier: Apache-2.0
// APIC ID assignment and topology limits. Expected IDs are worked out by hand from the SDM's
// field layout (package | core | thread, each field rounded up to a power of two).
#include "vmm/arch/topology.h"

#include <catch2/catch.hpp>

#include <set>

using namespace monarch;
using namespace monarch::vmm::arch;

TEST_CASE("one package, one thread per core: APIC IDs are the vCPU indices", "[unit][arch]")
{
    for (uint32_t count : { 1u, 2u, 4u, 6u }) {
        CpuTopology topology { .vcpu_count = count };
        REQUIRE(validate(topology));
        for (uint32_t i = 0; i < count; ++i)
            REQUIRE(apic_id_of(i, topology) == i);
    }
}

TEST_CASE("sparse topologies leave gaps in the APIC IDs", "[unit][arch]")
{
    SECTION("two packages of three cores: the core field is 2 bits wide")
    {
        CpuTopology topology { .vcpu_count = 6, .threads_per_core = 1, .cores_per_die = 3 };
        REQUIRE(validate(topology));
        uint32_t expected[] = { 0, 1, 2, 4, 5, 6 };
        for (uint32_t i = 0; i < 6; ++i)
            REQUIRE(apic_id_of(i, topology) == expected[i]);
    }
    SECTION("three threads per core: the thread field is 2 bits wide")
    {
        CpuTopology topology { .vcpu_count = 6, .threads_per_core = 3 };
        REQUIRE(cores_per_package(topology) == 2);
        uint32_t expected[] = { 0, 1, 2, 4, 5, 6 };
        for (uint32_t i = 0; i < 6; ++i)
            REQUIRE(apic_id_of(i, topology) == expected[i]);
    }
}

TEST_CASE("topology limits are refused with InvalidArgument", "[unit][arch]")
{
    REQUIRE(validate(CpuTopology { .vcpu_count = 0 }).error().code == Errc::InvalidArgument);
    REQUIRE(validate(CpuTopology { .vcpu_count = 2, .threads_per_core = 0 }).error().code == Errc::InvalidArgument);
    REQUIRE(validate(CpuTopology { .vcpu_count = MAX_APIC_ID + 1 }));
    REQUIRE(validate(CpuTopology { .vcpu_count = MAX_APIC_ID + 2 }).error().code == Errc::InvalidArgument);
    // 200 vCPUs in packages of 3 cores: package 66's IDs start at 66 * 4 = 264, past 0xfd.
    REQUIRE(validate(CpuTopology { .vcpu_count = 200, .cores_per_die = 3 }).error().code == Errc::InvalidArgument);

    CpuTopology big { .vcpu_count = MAX_APIC_ID + 1 };
    std::set<uint32_t> ids;
    for (uint32_t i = 0; i < big.vcpu_count; ++i)
        ids.insert(apic_id_of(i, big));
    REQUIRE(ids.size() == big.vcpu_count);
    REQUIRE(*ids.rbegin() == MAX_APIC_ID);
}
