// SPDX-License-Identifier: Apache-2.0
// Reading a whole input file (kernel image, profile) into memory, up to 1 GiB.
#pragma once

#include "common/result.h"

#include <cstddef>
#include <string>
#include <vector>

namespace monarch::dkom {

[[nodiscard]] Result<std::vector<std::byte>> read_whole_file(std::string const& path);

} // namespace monarch::dkom
