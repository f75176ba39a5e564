// SPDX-License-Identifier: Apache-2.0
// File-descriptor sinks and sources, with EINTR and short transfers handled.
#include "crypt/byte_stream.h"

#include <cerrno>
#include <unistd.h>

namespace monarch::crypt {

ByteSink fd_sink(int fd)
{
    return [fd](std::span<std::byte const> bytes) -> Result<void> {
        while (!bytes.empty()) {
            ssize_t n = ::write(fd, bytes.data(), bytes.size());
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return fail_errno("sealed stream: write");
            bytes = bytes.subspan(static_cast<size_t>(n));
        }
        return {};
    };
}

ByteSource fd_source(int fd)
{
    return [fd](std::span<std::byte> buffer) -> Result<size_t> {
        for (;;) {
            ssize_t n = ::read(fd, buffer.data(), buffer.size());
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return fail_errno("sealed stream: read");
            return static_cast<size_t>(n);
        }
    };
}

Result<size_t> read_fully(ByteSource const& source, std::span<std::byte> buffer)
{
    size_t done = 0;
    while (done < buffer.size()) {
        size_t n = TRY(source(buffer.subspan(done)));
        if (n == 0)
            break;
        done += n;
    }
    return done;
}

} // namespace monarch::crypt
