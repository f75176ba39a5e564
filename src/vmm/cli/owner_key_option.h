// SPDX-License-Identifier: Apache-2.0
// VMCrypt's command-line values: --owner-key file=PATH|fd=N (never the key itself) and
// --restore source_url=file:///DIR[,generation=N]; and loading the key, which first makes the
// process non-dumpable.
#pragma once

#include "common/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace monarch::vmm::cli {

struct OwnerKeySpec {
    std::optional<std::string> path; // file=PATH
    int fd { -1 };                   // fd=N
};

// InvalidArgument unless exactly one of file=PATH (non-empty) or fd=N (0..INT_MAX).
[[nodiscard]] Result<OwnerKeySpec> parse_owner_key_spec(std::string_view text);

struct RestoreSpec {
    std::string source_url;                // checked as a file URL when used
    std::optional<uint64_t> generation;    // the generation the restore must find
};

// "source_url=URL[,generation=N]"; InvalidArgument otherwise.
[[nodiscard]] Result<RestoreSpec> parse_restore_spec(std::string_view text);

} // namespace monarch::vmm::cli
