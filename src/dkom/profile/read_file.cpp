// SPDX-License-Identifier: Apache-2.0
// read_whole_file: one regular file into memory, with a size limit.
#include "dkom/profile/read_file.h"
#include "dkom/profile/decompress.h"

#include "common/read_file.h"
#include "common/unique_fd.h"

#include <fcntl.h>
#include <sys/stat.h>

namespace monarch::dkom {

Result<std::vector<std::byte>> read_whole_file(std::string const& path)
{
    UniqueFd fd { ::open(path.c_str(), O_RDONLY | O_CLOEXEC) };
    if (!fd)
        return fail_errno("open");
    struct stat info {};
    if (::fstat(fd.get(), &info) != 0)
        return fail_errno("fstat");
    if (!S_ISREG(info.st_mode))
        return fail(Errc::InvalidArgument, "not a regular file");
    if (static_cast<uint64_t>(info.st_size) > max_decompressed_size)
        return fail(Errc::InvalidArgument, "file larger than 1 GiB");
    return read_to_end(fd.get(), static_cast<uint64_t>(info.st_size), max_decompressed_size);
}

} // namespace monarch::dkom
