// SPDX-License-Identifier: Apache-2.0
// The one parser of memory sizes written by people ("512M", "1G", "256"): monarch-vmm's
// --memory, monarchd's VM definitions and monarchctl's --memory all read sizes through it, so
// a size means the same everywhere (docs/monarch-vmm.md, docs/monarchd.md).
#pragma once

#include "common/result.h"

#include <cstdint>
#include <string_view>

namespace monarch {

// A decimal number with an optional binary unit: K, M, G, T (case-insensitive, 2^10 to 2^40),
// which may be followed by "B" or "iB" ("64MB", "64MiB" are 64 MiB). A bare number is MiB, as
// QEMU's -m and monarch-vmm's --memory have always read it. No sign, space, fraction or hex.
// Unparsable: Errc::InvalidArgument; more than 64 bits: Errc::OutOfRange. Zero is returned as 0
// (callers refuse sizes below their own minimum).
[[nodiscard]] Result<uint64_t> parse_size(std::string_view text);

} // namespace monarch
