// SPDX-License-Identifier: Apache-2.0
// Per-vCPU CPUID from synthetic "supported" lists shaped like KVM_GET_SUPPORTED_CPUID on an
// Intel and on an AMD host. Topology leaves are decoded the way Linux does
// (arch/x86/kernel/cpu/topology.c: shift of each level, x2APIC ID in EDX).
#include "vmm/arch/cpuid.h"

#include <catch2/catch.hpp>

#include <cstring>

using namespace monarch::vmm::arch;

namespace {

kvm_cpuid_entry2 leaf(uint32_t function, uint32_t index, uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx, bool indexed = false)
{
    kvm_cpuid_entry2 entry {};
    entry.function = function;
    entry.index = index;
    entry.flags = indexed ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
    entry.eax = eax;
    entry.ebx = ebx;
    entry.ecx = ecx;
    entry.edx = edx;
    return entry;
}

uint32_t str4(char const* text)
{
    uint32_t value;
    std::memcpy(&value, text, 4);
    return value;
}

kvm_cpuid_entry2 vendor_leaf(uint32_t max_leaf, char const* vendor)
{
    return leaf(0, 0, max_leaf, str4(vendor), str4(vendor + 8), str4(vendor + 4));
}

kvm_cpuid_entry2 kvm_signature() { return leaf(0x40000000, 0, 0x40000001, str4("KVMK"), str4("VMKV"), str4("M\0\0\0")); }

// A Skylake-like host: host values deliberately describe a different topology (APIC ID 0x22,
// 16 logical processors) so that a rewrite that forgets a field shows.
std::vector<kvm_cpuid_entry2> intel_supported()
{
    return {
        vendor_leaf(0x16, "GenuineIntel"),
        leaf(1, 0, 0x50654, 0x22100800, 0x7ffaf3bf | (1u << 15), 0xbfebfbff & ~(1u << 28)),
        leaf(4, 0, 0x3c004121, 0x1c0003f, 0x3f, 0, true),      // L1d
        leaf(4, 1, 0x3c004122, 0x1c0003f, 0x3f, 0, true),      // L1i
        leaf(4, 2, 0x3c004143, 0x3c0003f, 0x3ff, 0, true),     // L2
        leaf(4, 3, 0x3c07c163, 0x280003f, 0x6fff, 4, true),    // L3
        leaf(4, 4, 0, 0, 0, 0, true),                          // no more caches
        leaf(6, 0, 0x77, 0x2, 0x9, 0),
        leaf(7, 0, 0, 0xd39ffffb, 0x8, 0xbc000400, true),
        leaf(0xa, 0, 0x7300404, 0, 0, 0x603),
        leaf(0xb, 0, 1, 2, 0x100, 0x22, true),
        leaf(0xb, 1, 5, 16, 0x201, 0x22, true),
        kvm_signature(),
        leaf(0x40000001, 0, 0x01007afb, 0, 0, 0),
        leaf(0x80000000, 0, 0x80000008, 0, 0, 0),
        leaf(0x80000008, 0, 0x3027, 0, 0, 0),
    };
}

// A Zen-like host.
std::vector<kvm_cpuid_entry2> amd_supported()
{
    return {
        vendor_leaf(0xd, "AuthenticAMD"),
        leaf(1, 0, 0x830f10, 0x3f100800, 0x7ef8320b, 0x178bfbff),
        leaf(6, 0, 0x4, 0, 0x1, 0),
        kvm_signature(),
        leaf(0x80000000, 0, 0x8000001f, str4("Auth"), str4("cAMD"), str4("enti")),
        leaf(0x80000001, 0, 0x830f10, 0x40000000, 0x75c237ff, 0x2fd3fbff),
        leaf(0x80000008, 0, 0x3030, 0x18cf757, 0x703f | (1u << 16), 0),
        leaf(0x8000001d, 0, 0x00004121, 0x01c0003f, 0x3f, 0, true),  // L1d, 2 threads
        leaf(0x8000001d, 1, 0x00004122, 0x01c0003f, 0x3f, 0, true),  // L1i
        leaf(0x8000001d, 2, 0x00004143, 0x01c0003f, 0x3ff, 2, true), // L2
        leaf(0x8000001d, 3, 0x0003c163, 0x03c0003f, 0x7fff, 1, true), // L3, 16 threads
        leaf(0x8000001d, 4, 0, 0, 0, 0, true),
        leaf(0x8000001e, 0, 0x3f, 0x13f, 0x3, 0),
    };
}

kvm_cpuid_entry2 get(std::vector<kvm_cpuid_entry2> const& entries, uint32_t function, uint32_t index = 0)
{
    auto entry = find_cpuid(entries, function, index);
    REQUIRE(entry);
    return *entry;
}

size_t count_of(std::vector<kvm_cpuid_entry2> const& entries, uint32_t function)
{
    size_t count = 0;
    for (auto const& entry : entries)
        count += entry.function == function;
    return count;
}

uint32_t ceil_log2(uint32_t n)
{
    uint32_t bits = 0;
    while ((1u << bits) < n)
        ++bits;
    return bits;
}

} // namespace

TEST_CASE("no topology leaves beyond the basic range", "[unit][arch][cpuid]")
{
    auto supported = amd_supported();
    supported[0].eax = 0x7;
    auto entries = vcpu_cpuid(supported, 1, CpuTopology { .vcpu_count = 2 });
    REQUIRE(count_of(entries, 0xb) == 0);
    REQUIRE(count_of(entries, 0x1f) == 0);
    REQUIRE(entries.size() == supported.size());
}

TEST_CASE("vendor is read from leaf 0", "[unit][arch][cpuid]")
{
    REQUIRE(cpu_vendor(intel_supported()) == CpuVendor::Intel);
    REQUIRE(cpu_vendor(amd_supported()) == CpuVendor::Amd);
    std::vector<kvm_cpuid_entry2> other { vendor_leaf(1, "VIA VIA VIA ") };
    REQUIRE(cpu_vendor(other) == CpuVendor::Other);
}

TEST_CASE("Intel: leaves 1, 4 and 0xB describe 1, 2, 4 and 6 vCPUs in one package", "[unit][arch][cpuid]")
{
    auto supported = intel_supported();
    for (uint32_t count : { 1u, 2u, 4u, 6u }) {
        CpuTopology topology { .vcpu_count = count };
        uint32_t core_bits = ceil_log2(count);
        for (uint32_t vcpu = 0; vcpu < count; ++vcpu) {
            CAPTURE(count, vcpu);
            auto entries = vcpu_cpuid(supported, vcpu, topology);
            auto leaf1 = get(entries, 1);
            REQUIRE(leaf1.ebx >> 24 == vcpu);                          // initial APIC ID
            REQUIRE(((leaf1.ebx >> 16) & 0xff) == (1u << core_bits));  // addressable IDs
            REQUIRE(((leaf1.ebx >> 8) & 0xff) == 8);                   // CLFLUSH 64 bytes
            REQUIRE(bool(leaf1.edx & (1u << 28)) == (count > 1));      // HTT
            REQUIRE(leaf1.ecx & (1u << 31));                           // hypervisor
            REQUIRE_FALSE(leaf1.ecx & (1u << 15));                     // PDCM
            REQUIRE(leaf1.eax == 0x50654);                             // family/model kept

            for (uint32_t cache = 0; cache < 4; ++cache) {
                auto leaf4 = get(entries, 4, cache);
                REQUIRE((leaf4.eax >> 26) + 1 == (1u << core_bits));
                uint32_t level = (leaf4.eax >> 5) & 7;
                uint32_t sharing = ((leaf4.eax >> 14) & 0xfff) + 1;
                REQUIRE(sharing == (level == 3 ? (1u << core_bits) : 1u));
                REQUIRE((leaf4.eax & 0x3fff) == (supported[2 + cache].eax & 0x3fff)); // type/level kept
            }
            REQUIRE(get(entries, 4, 4).eax == 0);

            REQUIRE(count_of(entries, 0xb) == 3);
            auto smt = get(entries, 0xb, 0);
            auto core = get(entries, 0xb, 1);
            auto end = get(entries, 0xb, 2);
            REQUIRE(((smt.ecx >> 8) & 0xff) == 1);
            REQUIRE((smt.eax & 0x1f) == 0);
            REQUIRE((smt.ebx & 0xffff) == 1);
            REQUIRE(((core.ecx >> 8) & 0xff) == 2);
            REQUIRE((core.eax & 0x1f) == core_bits);
            REQUIRE((core.ebx & 0xffff) == count);
            REQUIRE(((end.ecx >> 8) & 0xff) == 0);
            REQUIRE((end.ecx & 0xff) == 2);
            for (auto const& level : { smt, core, end })
                REQUIRE(level.edx == vcpu);
            REQUIRE((core.edx >> (core.eax & 0x1f)) == 0); // package ID 0
            REQUIRE(count_of(entries, 0x1f) == 0);        // the host list had no leaf 0x1F
        }
    }
}

TEST_CASE("Intel: thermal/power and PMU leaves are normalised, KVM's signature kept", "[unit][arch][cpuid]")
{
    auto entries = vcpu_cpuid(intel_supported(), 0, CpuTopology { .vcpu_count = 2 });
    auto leaf6 = get(entries, 6);
    REQUIRE_FALSE(leaf6.eax & (1u << 1));
    REQUIRE_FALSE(leaf6.ecx & (1u << 3));
    REQUIRE(leaf6.eax == (0x77u & ~(1u << 1)));
    auto leafa = get(entries, 0xa);
    REQUIRE((leafa.eax | leafa.ebx | leafa.ecx | leafa.edx) == 0);
    auto signature = get(entries, 0x40000000);
    char name[12];
    std::memcpy(name, &signature.ebx, 4);
    std::memcpy(name + 4, &signature.ecx, 4);
    std::memcpy(name + 8, &signature.edx, 4);
    REQUIRE(std::memcmp(name, "KVMKVMKVM\0\0\0", 12) == 0);
    REQUIRE(get(entries, 0x40000001).eax == 0x01007afb);
    REQUIRE(get(entries, 7).ebx == 0xd39ffffb);
}

TEST_CASE("Intel: SMT topology and leaf 0x1F", "[unit][arch][cpuid]")
{
    auto supported = intel_supported();
    supported[0].eax = 0x1f;
    supported.push_back(leaf(0x1f, 0, 1, 2, 0x100, 0x22, true));
    CpuTopology topology { .vcpu_count = 6, .threads_per_core = 2 }; // 3 cores -> 2 core bits
    auto entries = vcpu_cpuid(supported, 5, topology);                // core 2, thread 1
    REQUIRE(get(entries, 1).ebx >> 24 == 5);
    REQUIRE(((get(entries, 1).ebx >> 16) & 0xff) == 8);
    for (uint32_t function : { 0xbu, 0x1fu }) {
        REQUIRE(count_of(entries, function) == 3);
        REQUIRE(get(entries, function, 0).eax == 1);
        REQUIRE(get(entries, function, 0).ebx == 2);
        REQUIRE(get(entries, function, 1).eax == 3);
        REQUIRE(get(entries, function, 1).ebx == 6);
        REQUIRE(get(entries, function, 1).edx == 5);
    }
    auto l1 = get(entries, 4, 0);
    REQUIRE(((l1.eax >> 14) & 0xfff) + 1 == 2); // L1 shared by the core's two threads
    REQUIRE((l1.eax >> 26) + 1 == 4);
}

TEST_CASE("AMD: leaf 1 and the extended topology leaves for 1, 2, 4 and 6 vCPUs", "[unit][arch][cpuid]")
{
    auto supported = amd_supported();
    for (uint32_t count : { 1u, 2u, 4u, 6u }) {
        CpuTopology topology { .vcpu_count = count };
        uint32_t core_bits = ceil_log2(count);
        for (uint32_t vcpu = 0; vcpu < count; ++vcpu) {
            CAPTURE(count, vcpu);
            auto entries = vcpu_cpuid(supported, vcpu, topology);
            auto leaf1 = get(entries, 1);
            REQUIRE(leaf1.ebx >> 24 == vcpu);
            REQUIRE(bool(leaf1.edx & (1u << 28)) == (count > 1));
            REQUIRE(leaf1.ecx & (1u << 31));
            auto sizes = get(entries, 0x80000008);
            REQUIRE((sizes.ecx & 0xff) == count - 1);            // NC
            REQUIRE(((sizes.ecx >> 12) & 0xf) == core_bits);     // ApicIdSize
            REQUIRE(sizes.ecx & (1u << 16));                     // unrelated bits kept
            REQUIRE(sizes.eax == 0x3030);
            auto extended = get(entries, 0x8000001e);
            REQUIRE(extended.eax == vcpu);                       // extended APIC ID
            REQUIRE((extended.ebx & 0xff) == vcpu);              // core ID
            REQUIRE(((extended.ebx >> 8) & 0xff) == 0);          // one thread per core
            REQUIRE((extended.ecx & 0xff) == 0);                 // node 0
            REQUIRE(count_of(entries, 0xb) == 3);                // basic range reaches 0xB
            REQUIRE(get(entries, 0xb, 1).edx == vcpu);
            REQUIRE(get(entries, 0xb, 1).eax == core_bits);
            REQUIRE(get(entries, 6).ecx == 1);                   // Intel-only rules not applied
            for (uint32_t cache = 0; cache < 4; ++cache) {
                auto amd_cache = get(entries, 0x8000001d, cache);
                uint32_t level = (amd_cache.eax >> 5) & 7;
                REQUIRE(((amd_cache.eax >> 14) & 0xfff) + 1 == (level == 3 ? count : 1u));
                REQUIRE((amd_cache.eax & 0x3fff) == (supported[7 + cache].eax & 0x3fff));
            }
            REQUIRE(get(entries, 0x8000001d, 4).eax == 0);
            REQUIRE(count_of(entries, 0x40000000) == 1);
        }
    }
}
