// SPDX-License-Identifier: Apache-2.0
// Reading a whole file descriptor into memory: the one read loop behind the loaders' and the
// profile reader's file inputs (short reads and EINTR retried, a size limit enforced).
#pragma once

#include "common/result.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace monarch {

// Reads `fd` to its end. `size_hint` (st_size for a regular file, 0 if unknown) sizes the first
// buffer; a file that grows or shrinks meanwhile is read as it is. More than `limit` bytes →
// Errc::OutOfRange "file too large"; a read error → Errc::Sys with context "read".
[[nodiscard]] Result<std::vector<std::byte>> read_to_end(int fd, uint64_t size_hint, uint64_t limit);

} // namespace monarch
