// SPDX-License-Identifier: Apache-2.0
// read_image_file: reads a kernel or initrd file whole, with errors that name which one failed.
#include "vmm/boot/boot_loader.h"

#include "common/read_file.h"
#include "common/unique_fd.h"

#include <fcntl.h>
#include <limits>
#include <sys/stat.h>
#include <unistd.h>

namespace monarch::vmm::boot {

namespace {

// Error contexts are static literals (Error never allocates), one set per kind of image.
struct ImageNames {
    std::string_view open;
    std::string_view stat;
    std::string_view read;
    std::string_view empty;
};

ImageNames names_for(ImageKind kind)
{
    switch (kind) {
    case ImageKind::Kernel: return { "open kernel", "stat kernel", "read kernel", "kernel image is empty" };
    case ImageKind::Initrd: return { "open initrd", "stat initrd", "read initrd", "initrd is empty" };
    }
    return { "open image", "stat image", "read image", "image is empty" };
}

} // namespace

Result<std::vector<std::byte>> read_image_file(std::string const& path, ImageKind kind)
{
    auto names = names_for(kind);
    UniqueFd fd { ::open(path.c_str(), O_RDONLY | O_CLOEXEC) };
    if (!fd)
        return fail_errno(names.open);
    struct stat status {};
    if (::fstat(fd.get(), &status) != 0)
        return fail_errno(names.stat);
    // st_size is only a hint: a pipe or a file that grows is read to its end all the same.
    auto read = read_to_end(fd.get(), S_ISREG(status.st_mode) ? static_cast<uint64_t>(status.st_size) : 0, std::numeric_limits<uint64_t>::max() - 1);
    if (!read)
        return Failure(Error::from_errno(read.error().sys_errno, names.read));
    auto bytes = std::move(*read);
    if (bytes.empty())
        return fail(Errc::BadImage, names.empty);
    return bytes;
}

} // namespace monarch::vmm::boot
