// SPDX-License-Identifier: Apache-2.0
// VMCrypt's command-line values: --owner-key file=PATH|fd=N (never the key itself),
// --restore source_url=file:///DIR[,prefault=on|off][,resume=on|off][,generation=N] (Cloud
// Hypervisor's keys plus the generation) and --platform uuid=UUID (the VM's UUID).
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
    bool prefault { false };               // CH's prefault: accepted; every page is read anyway
    bool resume { false };                 // CH's resume: run at once (without --api-socket always)
    std::optional<uint64_t> generation;    // the generation the restore must find
};

// "source_url=URL[,prefault=on|off][,resume=on|off][,generation=N]" (on/off also true/false),
// each key once; InvalidArgument otherwise.
[[nodiscard]] Result<RestoreSpec> parse_restore_spec(std::string_view text);

// "uuid=UUID" (Cloud Hypervisor's --platform; its other keys are not supported) -> the
// canonical lower-case UUID; InvalidArgument otherwise.
[[nodiscard]] Result<std::string> parse_platform_spec(std::string_view text);

} // namespace monarch::vmm::cli
