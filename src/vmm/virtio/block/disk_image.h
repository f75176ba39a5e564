// SPDX-License-Identifier: Apache-2.0
// DiskImage: the raw image file (or block device) behind a virtio-blk device, opened and checked
// once at creation so that a bad --disk fails before the VM starts, with a clear error.
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"
#include "vmm/machine/vm_config.h"

#include <array>
#include <cstdint>

namespace monarch::vmm::virtio::blk {

class DiskImage {
public:
    // Errors (all at creation): NotFound for a missing image; InvalidArgument for a directory,
    // something neither a regular file nor a block device, or an image shorter than one 512-byte
    // sector; Busy ("read-only image: use readonly=on") for an image without write permission
    // opened read-write, or one the kernel refuses to open for writing (EROFS, EACCES, EPERM);
    // Unsupported when direct=on and the file system refuses O_DIRECT; Sys with EBUSY when
    // another open image holds a conflicting lock (read-write images are locked exclusively,
    // readonly=on ones shared: several VMs may read one image, none may write it then); Sys
    // otherwise.
    [[nodiscard]] static Result<DiskImage> open(machine::DiskConfig const& config);

    [[nodiscard]] int fd() const { return m_fd.get(); }
    [[nodiscard]] uint64_t size() const { return m_size; }          // bytes
    [[nodiscard]] uint64_t sectors() const { return m_size >> 9; }  // whole 512-byte sectors
    [[nodiscard]] bool readonly() const { return m_readonly; }
    [[nodiscard]] bool direct() const { return m_direct; }
    [[nodiscard]] bool block_device() const { return m_block_device; }
    // The GET_ID answer: the configured id, else one derived from the image's device and inode
    // (as Cloud Hypervisor does), NUL-padded; not NUL-terminated when all 20 bytes are used.
    [[nodiscard]] std::array<char, 20> const& id() const { return m_id; }

private:
    DiskImage() = default;

    UniqueFd m_fd;
    uint64_t m_size { 0 };
    bool m_readonly { false };
    bool m_direct { false };
    bool m_block_device { false };
    std::array<char, 20> m_id {};
};

} // namespace monarch::vmm::virtio::blk
