// SPDX-License-Identifier: Apache-2.0
// The vmlinux ELF inside an x86 bzImage: located through the setup header's payload fields
// (boot protocol 2.08+), else by scanning for a compressed stream's magic number.
#pragma once

#include "common/result.h"

#include <cstddef>
#include <span>
#include <vector>

namespace monarch::dkom {

[[nodiscard]] bool looks_like_bzimage(std::span<std::byte const> image);
// The decompressed payload; it must be an ELF file (checked).
[[nodiscard]] Result<std::vector<std::byte>> extract_vmlinux(std::span<std::byte const> bzimage);

} // namespace monarch::dkom
