// SPDX-License-Identifier: Apache-2.0
// KASLR: finding where a randomized x86-64 Linux kernel image lies, from the running guest.
#pragma once

#include "dkom/paging/page_walker.h"

#include <span>

namespace monarch::dkom {

struct KernelSlide {
    int64_t virtual_slide { 0 };  // runtime VA of a kernel-image symbol minus its link-time VA
    GuestPhysAddr anchor_gpa;     // where the anchor symbol lies in guest-physical memory
};

// The kernel image (text, data, bss) lies at __START_KERNEL_map + a random offset, in the
// 1 GiB KERNEL_IMAGE_SIZE window [0xffffffff80000000, 0xffffffffc0000000), aligned to
// CONFIG_PHYSICAL_ALIGN (2 MiB on x86-64 distribution kernels): see arch/x86/boot/compressed/
// kaslr.c, find_random_virt_addr(). So there are at most 512 candidate slides. For each one,
// translate the anchor symbol's link-time address + slide through the kernel's page tables
// (any vCPU's CR3: the kernel half is shared by every address space) and compare the bytes
// there with what the profile says the anchor holds (linux_banner: "Linux version 6.1...").
// Only a present page with the exact bytes counts. Errc::NotFound when no candidate matches.
[[nodiscard]] Result<KernelSlide> find_kernel_slide(PageWalker const&, AddressSpace const& kernel_space,
    uint64_t anchor_link_address, std::span<std::byte const> anchor_bytes);

inline constexpr uint64_t kernel_image_window_start = 0xffff'ffff'8000'0000;
inline constexpr uint64_t kernel_image_window_end = 0xffff'ffff'c000'0000;
inline constexpr uint64_t kaslr_alignment = 0x20'0000;

} // namespace monarch::dkom
