// SPDX-License-Identifier: Apache-2.0
// The one way to include <linux/kvm.h> in C++. Bookworm's linux-libc-dev (6.1) declares every
// flexible array with __DECLARE_FLEX_ARRAY, which wraps an empty struct around it: size 0 in C,
// size 1 in C++. In C++ that moves kvm_irq_routing::entries, kvm_msrs::entries,
// kvm_cpuid2::entries and the rest, and changes the sizes that the ioctl numbers encode
// (KVM_SET_GSI_ROUTING gives ENOTTY). Later kernels fixed the macro for C++ by declaring a
// plain zero-length array; this header does the same before the first <linux/kvm.h>, and
// pins the C layouts below so that a header included in another order fails to compile.
#pragma once

#include <linux/stddef.h>

#undef __DECLARE_FLEX_ARRAY
#define __DECLARE_FLEX_ARRAY(TYPE, NAME) TYPE NAME[0]

#include <linux/kvm.h>

#include <cstddef>

namespace monarch::vmm::kvm::uapi_layout {

// The C layouts (gcc, x86-64) that KVM reads and writes, and that the ioctl numbers encode.
static_assert(sizeof(kvm_irq_routing) == 8 && offsetof(kvm_irq_routing, entries) == 8);
static_assert(sizeof(kvm_msrs) == 8 && offsetof(kvm_msrs, entries) == 8);
static_assert(sizeof(kvm_msr_list) == 4 && offsetof(kvm_msr_list, indices) == 4);
static_assert(sizeof(kvm_cpuid2) == 8 && offsetof(kvm_cpuid2, entries) == 8);
static_assert(sizeof(kvm_cpuid) == 8 && offsetof(kvm_cpuid, entries) == 8);
static_assert(sizeof(kvm_signal_mask) == 4 && offsetof(kvm_signal_mask, sigset) == 4);
static_assert(sizeof(kvm_reg_list) == 8 && offsetof(kvm_reg_list, reg) == 8);
static_assert(sizeof(kvm_coalesced_mmio_ring) == 8);
static_assert(sizeof(kvm_xsave) == 4096);
static_assert(KVM_SET_GSI_ROUTING == 0x4008ae6a);
static_assert(KVM_SET_MSRS == 0x4008ae89 && KVM_GET_MSRS == 0xc008ae88);
static_assert(KVM_SET_CPUID2 == 0x4008ae90 && KVM_GET_SUPPORTED_CPUID == 0xc008ae05);
static_assert(KVM_GET_MSR_INDEX_LIST == 0xc004ae02);

} // namespace monarch::vmm::kvm::uapi_layout
