// SPDX-License-Identifier: Apache-2.0
// The two shapes most KVM state ioctls have: KVM_GET_* writing one fixed-size struct, KVM_SET_*
// reading one. Shared by VcpuFd and VmFd.
#pragma once

#include "common/result.h"

#include <string_view>
#include <sys/ioctl.h>

namespace monarch::vmm::kvm::detail {

// KVM_GET_* of one fixed-size struct.
template<typename T>
inline Result<T> get_struct(int fd, unsigned long request, std::string_view what)
{
    T value {};
    // SAFETY: `request` is a KVM_GET_* ioctl that writes exactly one T through the pointer.
    if (::ioctl(fd, request, &value) < 0)
        return fail_errno(what);
    return value;
}

template<typename T>
inline Result<void> set_struct(int fd, unsigned long request, T const& value, std::string_view what)
{
    // SAFETY: `request` is a KVM_SET_* ioctl that reads exactly one T through the pointer.
    if (::ioctl(fd, request, &value) < 0)
        return fail_errno(what);
    return {};
}

} // namespace monarch::vmm::kvm::detail
