// SPDX-License-Identifier: Apache-2.0
// Per-vCPU CPUID normalisation. Bit positions: Intel SDM vol. 2A, CPUID; AMD APM vol. 3,
// appendix E. The approach (which leaves to rewrite, which to blank) follows Firecracker's
// documented CPUID normalisation and Cloud Hypervisor's topology code.
#include "vmm/arch/cpuid.h"

#include <algorithm>
#include <cstring>

namespace monarch::vmm::arch {

namespace {

constexpr uint32_t LEAF_CACHE_PARAMETERS = 0x4;
constexpr uint32_t LEAF_THERMAL_POWER = 0x6;
constexpr uint32_t LEAF_PERFORMANCE_MONITORING = 0xa;
constexpr uint32_t LEAF_EXTENDED_TOPOLOGY = 0xb;
constexpr uint32_t LEAF_V2_EXTENDED_TOPOLOGY = 0x1f;
constexpr uint32_t LEAF_AMD_ADDRESS_SIZES = 0x80000008;
constexpr uint32_t LEAF_AMD_CACHE_TOPOLOGY = 0x8000001d;
constexpr uint32_t LEAF_AMD_EXTENDED_APIC_ID = 0x8000001e;

// Extended topology level types (leaf 0xB/0x1F ECX[15:8]).
constexpr uint32_t LEVEL_TYPE_SMT = 1;
constexpr uint32_t LEVEL_TYPE_CORE = 2;

constexpr uint32_t bits(uint32_t value, uint32_t low, uint32_t width) { return (value & ((1u << width) - 1)) << low; }
constexpr uint32_t clear(uint32_t value, uint32_t low, uint32_t width) { return value & ~bits(0xffffffff, low, width); }

struct Geometry {
    uint32_t apic_id;
    uint32_t thread_bits;
    uint32_t core_bits;
    uint32_t threads_per_core;
    uint32_t logical_per_package; // threads_per_core * cores_per_package
    CpuPosition position;
};

void normalise_leaf1(kvm_cpuid_entry2& entry, Geometry const& geometry)
{
    uint32_t addressable = 1u << (geometry.thread_bits + geometry.core_bits);
    entry.ebx = clear(entry.ebx, 8, 24) | bits(8, 8, 8) // CLFLUSH: 8 * 8 = 64 bytes
        | bits(std::min(addressable, 255u), 16, 8) | bits(geometry.apic_id, 24, 8);
    entry.ecx |= 1u << 31; // hypervisor present
    entry.ecx |= 1u << 24; // TSC deadline timer
    entry.ecx &= ~(1u << 15); // PDCM
    if (geometry.logical_per_package > 1)
        entry.edx |= 1u << 28; // HTT: EBX[23:16] is meaningful
    else
        entry.edx &= ~(1u << 28);
}

void normalise_cache_leaf(kvm_cpuid_entry2& entry, Geometry const& geometry)
{
    uint32_t level = (entry.eax >> 5) & 0x7;
    if ((entry.eax & 0x1f) == 0)
        return; // no cache at this subleaf
    uint32_t sharing_bits = level >= 3 ? geometry.thread_bits + geometry.core_bits : geometry.thread_bits;
    entry.eax = clear(entry.eax, 14, 18) | bits((1u << sharing_bits) - 1, 14, 12)
        | bits((1u << geometry.core_bits) - 1, 26, 6);
}

// Subleaf 0: SMT level; 1: core level; 2: the invalid level that ends the enumeration.
kvm_cpuid_entry2 topology_subleaf(uint32_t function, uint32_t subleaf, Geometry const& geometry)
{
    kvm_cpuid_entry2 entry {};
    entry.function = function;
    entry.index = subleaf;
    entry.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
    entry.edx = geometry.apic_id; // x2APIC ID of this logical processor
    entry.ecx = subleaf & 0xff;
    if (subleaf == 0) {
        entry.eax = geometry.thread_bits;
        entry.ebx = geometry.threads_per_core;
        entry.ecx |= LEVEL_TYPE_SMT << 8;
    } else if (subleaf == 1) {
        entry.eax = geometry.thread_bits + geometry.core_bits;
        entry.ebx = geometry.logical_per_package;
        entry.ecx |= LEVEL_TYPE_CORE << 8;
    }
    return entry;
}

void normalise_amd(kvm_cpuid_entry2& entry, Geometry const& geometry)
{
    if (entry.function == LEAF_AMD_ADDRESS_SIZES) {
        // ECX[7:0] NC: threads in the package - 1; ECX[15:12] ApicIdSize: bits of the APIC ID
        // that identify a thread within the package.
        entry.ecx = clear(clear(entry.ecx, 0, 8), 12, 4) | bits(geometry.logical_per_package - 1, 0, 8)
            | bits(geometry.thread_bits + geometry.core_bits, 12, 4);
    } else if (entry.function == LEAF_AMD_CACHE_TOPOLOGY && (entry.eax & 0x1f) != 0) {
        // EAX[25:14] NumSharingCache: logical processors sharing this cache - 1 (a count, not
        // a power of two as Intel's leaf 4 has it): a core's threads for L1/L2, the package for L3.
        uint32_t level = (entry.eax >> 5) & 0x7;
        uint32_t sharing = level >= 3 ? geometry.logical_per_package : geometry.threads_per_core;
        entry.eax = clear(entry.eax, 14, 12) | bits(sharing - 1, 14, 12);
    } else if (entry.function == LEAF_AMD_EXTENDED_APIC_ID) {
        entry.eax = geometry.apic_id;
        entry.ebx = bits(geometry.position.core, 0, 8) | bits(geometry.threads_per_core - 1, 8, 8);
        entry.ecx = bits(geometry.position.package, 0, 8); // one node per package
        entry.edx = 0;
    }
}

bool is_topology_leaf(uint32_t function)
{
    return function == LEAF_EXTENDED_TOPOLOGY || function == LEAF_V2_EXTENDED_TOPOLOGY;
}

} // namespace

CpuVendor cpu_vendor(std::span<kvm_cpuid_entry2 const> entries)
{
    auto leaf0 = find_cpuid(entries, 0);
    if (!leaf0)
        return CpuVendor::Other;
    char vendor[12];
    std::memcpy(vendor, &leaf0->ebx, 4);
    std::memcpy(vendor + 4, &leaf0->edx, 4);
    std::memcpy(vendor + 8, &leaf0->ecx, 4);
    std::string_view name { vendor, sizeof vendor };
    if (name == "GenuineIntel")
        return CpuVendor::Intel;
    if (name == "AuthenticAMD" || name == "HygonGenuine")
        return CpuVendor::Amd;
    return CpuVendor::Other;
}

std::optional<kvm_cpuid_entry2> find_cpuid(std::span<kvm_cpuid_entry2 const> entries, uint32_t function, uint32_t index)
{
    for (auto const& entry : entries) {
        if (entry.function != function)
            continue;
        if ((entry.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && entry.index != index)
            continue;
        return entry;
    }
    return std::nullopt;
}

std::vector<kvm_cpuid_entry2> vcpu_cpuid(std::span<kvm_cpuid_entry2 const> supported, uint32_t vcpu_index, CpuTopology const& topology)
{
    auto vendor = cpu_vendor(supported);
    uint32_t threads_per_core = std::max(topology.threads_per_core, 1u); // validate() refuses 0; stay sane anyway
    Geometry geometry {
        .apic_id = apic_id_of(vcpu_index, topology),
        .thread_bits = thread_id_bits(topology),
        .core_bits = core_id_bits(topology),
        .threads_per_core = threads_per_core,
        .logical_per_package = threads_per_core * cores_per_package(topology),
        .position = position_of(vcpu_index, topology),
    };
    auto leaf0 = find_cpuid(supported, 0);
    uint32_t max_basic = leaf0 ? leaf0->eax : 0;
    bool has_leaf_1f = find_cpuid(supported, LEAF_V2_EXTENDED_TOPOLOGY, 0).has_value();

    std::vector<kvm_cpuid_entry2> result;
    result.reserve(supported.size() + 6);
    for (auto entry : supported) {
        if (is_topology_leaf(entry.function))
            continue; // rebuilt below
        if (entry.function == 1)
            normalise_leaf1(entry, geometry);
        else if (vendor == CpuVendor::Intel && entry.function == LEAF_CACHE_PARAMETERS)
            normalise_cache_leaf(entry, geometry);
        else if (vendor == CpuVendor::Intel && entry.function == LEAF_THERMAL_POWER) {
            entry.eax &= ~(1u << 1); // Turbo Boost: the guest cannot control host frequency
            entry.ecx &= ~(1u << 3); // energy/performance bias MSR
        } else if (vendor == CpuVendor::Intel && entry.function == LEAF_PERFORMANCE_MONITORING)
            entry.eax = entry.ebx = entry.ecx = entry.edx = 0; // no virtual PMU
        else if (vendor == CpuVendor::Amd)
            normalise_amd(entry, geometry);
        result.push_back(entry);
    }
    for (uint32_t function : { LEAF_EXTENDED_TOPOLOGY, LEAF_V2_EXTENDED_TOPOLOGY }) {
        if (max_basic < function || (function == LEAF_V2_EXTENDED_TOPOLOGY && !has_leaf_1f))
            continue;
        for (uint32_t subleaf = 0; subleaf < 3; ++subleaf)
            result.push_back(topology_subleaf(function, subleaf, geometry));
    }
    return result;
}

} // namespace monarch::vmm::arch
