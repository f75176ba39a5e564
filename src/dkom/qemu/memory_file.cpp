// SPDX-License-Identifier: Apache-2.0
// Mapping QEMU's memory-backend-file and bounds-checked access to it.
#include "dkom/qemu/memory_file.h"

#include "common/unique_fd.h"

#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>

namespace monarch::dkom {

Result<QemuMemoryFile> QemuMemoryFile::open(std::string const& path)
{
    UniqueFd fd { ::open(path.c_str(), O_RDWR | O_CLOEXEC) };
    if (!fd)
        return fail_errno("memory file: open");
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0)
        return fail_errno("memory file: fstat");
    auto const size = static_cast<uint64_t>(info.st_size);
    if (size == 0 || size % 0x1000 != 0)
        return fail(Errc::InvalidArgument, "memory file: size is not a whole number of pages");
    if (size > max_single_range)
        return fail(Errc::Unsupported, "memory file: RAM above 2.75 GiB (split around the PCI hole) is not supported");
    // SAFETY: MAP_SHARED of a regular file we opened read-write; Mapping unmaps it.
    auto mapping = TRY(Mapping::map_shared(fd.get(), size));
    return QemuMemoryFile { std::move(mapping) };
}

Result<std::span<std::byte>> QemuMemoryFile::span(GuestPhysAddr gpa, uint64_t length) const
{
    auto const bytes = m_mapping.bytes();
    if (gpa.raw() > bytes.size() || length > bytes.size() - gpa.raw())
        return fail(Errc::OutOfRange, "guest-physical access outside guest RAM");
    return bytes.subspan(gpa.raw(), length);
}

Result<void> QemuMemoryFile::read_physical(GuestPhysAddr gpa, std::span<std::byte> out)
{
    auto const source = TRY(span(gpa, out.size()));
    std::memcpy(out.data(), source.data(), out.size());
    return {};
}

Result<void> QemuMemoryFile::write_physical(GuestPhysAddr gpa, std::span<std::byte const> data)
{
    auto const target = TRY(span(gpa, data.size()));
    std::memcpy(target.data(), data.data(), data.size());
    return {};
}

} // namespace monarch::dkom
