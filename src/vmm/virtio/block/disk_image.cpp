// SPDX-License-Identifier: Apache-2.0
// Opening and checking a virtio-blk image: existence, kind, size, write permission, O_DIRECT.
#include "vmm/virtio/block/disk_image.h"

#include "vmm/virtio/block/virtio_blk_spec.h"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

namespace monarch::vmm::virtio::blk {
namespace {

Failure open_error(int error, bool readonly)
{
    switch (error) {
    case ENOENT:
    case ENOTDIR:
        return fail(Errc::NotFound, "virtio-blk: the disk image does not exist");
    case EISDIR:
        return fail(Errc::InvalidArgument, "virtio-blk: the disk image is a directory");
    case EROFS:
    case EACCES:
    case EPERM:
        if (!readonly)
            return fail(Errc::Busy, "virtio-blk: the disk image cannot be opened for writing (use readonly=on)");
        return fail(Errc::Sys, "virtio-blk: cannot open the disk image");
    case EINVAL:
        return fail(Errc::Unsupported, "virtio-blk: the file system does not support O_DIRECT (direct=on)");
    default:
        return Failure(Error::from_errno(error, "virtio-blk: cannot open the disk image"));
    }
}

std::array<char, ID_BYTES> make_id(machine::DiskConfig const& config, struct stat const& info)
{
    std::array<char, ID_BYTES> id {};
    // Cloud Hypervisor's default serial, from the image's identity: stable across runs.
    std::string text = config.id ? *config.id : fmt::format("{:x}{:x}{:x}", info.st_dev, info.st_rdev, info.st_ino);
    std::copy_n(text.begin(), std::min<size_t>(text.size(), id.size()), id.begin());
    return id;
}

// Two VMs writing one image corrupt it, and a VM reading an image another writes sees torn
// data: as QEMU does, the image is locked while it is open, for writing (exclusive) or for
// reading (shared with other readers). An open file description lock (F_OFD_SETLK) belongs to
// this descriptor alone, so it goes with the VM (a reboot's new VM takes it afresh) and is
// never lost to an unrelated close() of the same file elsewhere in the process.
Result<void> lock_image(int fd, bool readonly)
{
    struct flock lock {};
    lock.l_type = readonly ? F_RDLCK : F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0;
    lock.l_len = 0; // the whole file, however it grows
    if (::fcntl(fd, F_OFD_SETLK, &lock) == 0)
        return {};
    if (errno == EAGAIN || errno == EACCES)
        return Failure(Error::from_errno(EBUSY, readonly
            ? "virtio-blk: the disk image is in use for writing by another VM (locked)"
            : "virtio-blk: the disk image is in use by another VM (locked; VMs share an image only with readonly=on on each)"));
    return fail_errno("virtio-blk: cannot lock the disk image (fcntl F_OFD_SETLK)");
}

} // namespace

Result<DiskImage> DiskImage::open(machine::DiskConfig const& config)
{
    if (config.id && config.id->size() > ID_BYTES)
        return fail(Errc::InvalidArgument, "virtio-blk: id is longer than 20 bytes");
    int flags = (config.readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    if (config.direct)
        flags |= O_DIRECT;
    UniqueFd fd { ::open(config.path.c_str(), flags) };
    if (!fd)
        return open_error(errno, config.readonly);

    struct stat info {};
    if (::fstat(fd.get(), &info) != 0)
        return fail_errno("virtio-blk: fstat on the disk image");
    if (S_ISDIR(info.st_mode))
        return fail(Errc::InvalidArgument, "virtio-blk: the disk image is a directory");

    DiskImage image;
    if (S_ISREG(info.st_mode)) {
        image.m_size = static_cast<uint64_t>(info.st_size);
        // Root opens any file read-write; honour the file's mode anyway, so that an image made
        // read-only on purpose is not written through a forgotten readonly=on.
        if (!config.readonly && (info.st_mode & (S_IWUSR | S_IWGRP | S_IWOTH)) == 0)
            return fail(Errc::Busy, "virtio-blk: the disk image is read-only (no write permission; use readonly=on)");
    } else if (S_ISBLK(info.st_mode)) {
        uint64_t bytes = 0;
        // SAFETY: BLKGETSIZE64 writes one uint64_t to the pointer we pass.
        if (::ioctl(fd.get(), BLKGETSIZE64, &bytes) != 0)
            return fail_errno("virtio-blk: BLKGETSIZE64 on the disk");
        image.m_size = bytes;
        image.m_block_device = true;
    } else {
        return fail(Errc::InvalidArgument, "virtio-blk: the disk image is neither a regular file nor a block device");
    }
    if (image.m_size < SECTOR_SIZE)
        return fail(Errc::InvalidArgument, "virtio-blk: the disk image is shorter than one 512-byte sector");
    if (auto locked = lock_image(fd.get(), config.readonly); !locked)
        return std::unexpected(locked.error());

    image.m_fd = std::move(fd);
    image.m_readonly = config.readonly;
    image.m_direct = config.direct;
    image.m_id = make_id(config, info);
    return image;
}

} // namespace monarch::vmm::virtio::blk
