// SPDX-License-Identifier: Apache-2.0
// APIC ID assignment from the topology (Intel SDM vol. 3A, 9.9 "Programming considerations for
// hardware multi-threading capable processors").
#include "vmm/arch/topology.h"

#include <bit>

namespace monarch::vmm::arch {

namespace {

uint32_t bits_for(uint32_t count)
{
    // Number of bits that can hold the values 0 .. count-1.
    return count <= 1 ? 0 : static_cast<uint32_t>(std::bit_width(count - 1));
}

} // namespace

uint32_t cores_per_package(CpuTopology const& topology)
{
    if (topology.cores_per_die != 0)
        return topology.cores_per_die;
    uint32_t threads = topology.threads_per_core == 0 ? 1 : topology.threads_per_core;
    uint32_t cores = (topology.vcpu_count + threads - 1) / threads;
    return cores == 0 ? 1 : cores;
}

uint32_t thread_id_bits(CpuTopology const& topology) { return bits_for(topology.threads_per_core); }
uint32_t core_id_bits(CpuTopology const& topology) { return bits_for(cores_per_package(topology)); }

CpuPosition position_of(uint32_t vcpu_index, CpuTopology const& topology)
{
    uint32_t threads = topology.threads_per_core == 0 ? 1 : topology.threads_per_core;
    uint32_t cores = cores_per_package(topology);
    return CpuPosition {
        .package = vcpu_index / (threads * cores),
        .core = (vcpu_index / threads) % cores,
        .thread = vcpu_index % threads,
    };
}

uint32_t apic_id_of(uint32_t vcpu_index, CpuTopology const& topology)
{
    auto position = position_of(vcpu_index, topology);
    uint32_t thread_bits = thread_id_bits(topology);
    uint32_t core_bits = core_id_bits(topology);
    return (position.package << (thread_bits + core_bits)) | (position.core << thread_bits) | position.thread;
}

Result<void> validate(CpuTopology const& topology)
{
    if (topology.vcpu_count == 0)
        return fail(Errc::InvalidArgument, "cpu topology: zero vCPUs");
    if (topology.threads_per_core == 0 || topology.threads_per_core > 64)
        return fail(Errc::InvalidArgument, "cpu topology: threads per core must be 1..64");
    if (topology.cores_per_die > 256)
        return fail(Errc::InvalidArgument, "cpu topology: more than 256 cores per die");
    if (topology.vcpu_count > MAX_VCPUS)
        return fail(Errc::InvalidArgument, "cpu topology: more vCPUs than xAPIC IDs");
    // The highest index has the highest ID: the fields grow with the index.
    if (apic_id_of(topology.vcpu_count - 1, topology) > MAX_APIC_ID)
        return fail(Errc::InvalidArgument, "cpu topology: an APIC ID exceeds the xAPIC range");
    return {};
}

} // namespace monarch::vmm::arch
