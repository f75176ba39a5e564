// SPDX-License-Identifier: Apache-2.0
// VmConfig: what one VM is made of, as the CLI (and later the API) resolved it. Plain values:
// every field was parsed and range-checked by whoever filled it in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace monarch::vmm::machine {

struct VmConfig {
    std::string kernel;                 // path to an ELF (PVH) or bzImage
    std::optional<std::string> initrd;
    std::string cmdline;
    uint64_t memory { 0 };              // bytes
    uint32_t cpus { 1 };
    std::string serial { "stdio" };     // stdio|file:PATH|pty|socket:PATH|off
};

// The guest-physical pages KVM needs for itself on Intel VMX (api.rst, KVM_SET_TSS_ADDR and
// KVM_SET_IDENTITY_MAP_ADDR): just below the BIOS area at the top of 4 GiB, inside the MMIO
// hole where no RAM or device of ours lies (the same choice as Firecracker and Cloud Hypervisor).
inline constexpr uint64_t KVM_IDENTITY_MAP_ADDRESS = 0xfffbc000; // 1 page
inline constexpr uint64_t KVM_TSS_ADDRESS = 0xfffbd000;          // 3 pages

} // namespace monarch::vmm::machine
