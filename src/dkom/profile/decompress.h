// SPDX-License-Identifier: Apache-2.0
// Decompressors for the payloads a kernel image or a profile file may carry: gzip, xz,
// LZ4 (the legacy frame the kernel's build uses) and zstd. Each stops at the end of its
// stream, ignores what follows, and refuses output beyond a limit.
#pragma once

#include "common/result.h"

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

namespace monarch::dkom {

enum class Compression { Gzip, Xz, Lz4Legacy, Zstd };

// 1 GiB: the largest vmlinux we accept (a distribution kernel is about 60 MB).
inline constexpr size_t max_decompressed_size = size_t { 1 } << 30;

// The format whose magic number starts `data`, if any.
[[nodiscard]] std::optional<Compression> detect_compression(std::span<std::byte const> data);

[[nodiscard]] Result<std::vector<std::byte>> decompress(Compression, std::span<std::byte const> data,
    size_t limit = max_decompressed_size);

} // namespace monarch::dkom
