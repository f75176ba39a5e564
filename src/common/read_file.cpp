// SPDX-License-Identifier: Apache-2.0
#include "common/read_file.h"

#include <algorithm>
#include <cerrno>
#include <unistd.h>

namespace monarch {

Result<std::vector<std::byte>> read_to_end(int fd, uint64_t size_hint, uint64_t limit)
{
    // One byte past the hint, so that reaching the end needs no second allocation.
    std::vector<std::byte> bytes(static_cast<size_t>(std::min(size_hint, limit) + 1));
    size_t used = 0;
    for (;;) {
        if (used == bytes.size()) {
            if (used > limit)
                return fail(Errc::OutOfRange, "file too large");
            bytes.resize(static_cast<size_t>(std::min<uint64_t>(bytes.size() * 2, limit + 1)));
        }
        ssize_t count = ::read(fd, bytes.data() + used, bytes.size() - used);
        if (count < 0 && errno == EINTR)
            continue;
        if (count < 0)
            return fail_errno("read");
        if (count == 0)
            break;
        used += static_cast<size_t>(count);
    }
    if (used > limit)
        return fail(Errc::OutOfRange, "file too large");
    bytes.resize(used);
    return bytes;
}

} // namespace monarch
