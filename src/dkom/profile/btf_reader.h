// SPDX-License-Identifier: Apache-2.0
// Type layouts from BTF (the kernel's .BTF section, Documentation/bpf/btf.rst): every
// struct and union with its members, the base types and enums they use.
#pragma once

#include "dkom/profile/profile_data.h"

#include <span>

namespace monarch::dkom {

struct BtfSummary {
    size_t btf_types { 0 };  // entries in the BTF blob
    size_t user_types { 0 }; // structs and unions added to the profile
    // Types of global variables BTF describes (the kernel's per-CPU variables), by name.
    std::map<std::string, TypeRef, std::less<>> variables;
};

// Adds the types of the BTF blob `btf` (raw .BTF section bytes) to `data`.
[[nodiscard]] Result<BtfSummary> read_btf_types(std::span<std::byte const> btf, ProfileData& data);

} // namespace monarch::dkom
