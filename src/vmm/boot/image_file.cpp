// SPDX-License-Identifier: Apache-2.0
// read_image_file: reads a kernel or initrd file whole, with errors that name which one failed.
#include "vmm/boot/boot_loader.h"

#include "common/unique_fd.h"

#include <cerrno>
#include <fcntl.h>
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
    std::vector<std::byte> bytes(S_ISREG(status.st_mode) ? static_cast<size_t>(status.st_size) + 1 : 1 << 20);
    size_t used = 0;
    for (;;) {
        if (used == bytes.size())
            bytes.resize(bytes.size() * 2);
        ssize_t count = ::read(fd.get(), bytes.data() + used, bytes.size() - used);
        if (count < 0 && errno == EINTR)
            continue;
        if (count < 0)
            return fail_errno(names.read);
        if (count == 0)
            break;
        used += static_cast<size_t>(count);
    }
    if (used == 0)
        return fail(Errc::BadImage, names.empty);
    bytes.resize(used);
    return bytes;
}

} // namespace monarch::vmm::boot
