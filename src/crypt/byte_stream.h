// SPDX-License-Identifier: Apache-2.0
// Where sealed streams go and come from: a sink takes whole buffers, a source fills up to
// a buffer's size (0 at end of stream). File-descriptor adapters for both.
#pragma once

#include "common/result.h"

#include <cstddef>
#include <functional>
#include <span>

namespace monarch::crypt {

// Writes all of the bytes or fails.
using ByteSink = std::function<Result<void>(std::span<std::byte const>)>;
// Reads at most buffer.size() bytes; returns how many, 0 only at the end of the stream.
using ByteSource = std::function<Result<size_t>(std::span<std::byte>)>;

// The descriptor stays owned by the caller and must outlive the sink or source.
[[nodiscard]] ByteSink fd_sink(int fd);
[[nodiscard]] ByteSource fd_source(int fd);

// Fills `buffer` from `source`; returns the count read, less than buffer.size() only at
// the end of the stream.
[[nodiscard]] Result<size_t> read_fully(ByteSource const& source, std::span<std::byte> buffer);

} // namespace monarch::crypt
