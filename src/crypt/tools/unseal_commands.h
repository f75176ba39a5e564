// SPDX-License-Identifier: Apache-2.0
// The commands of monarch-unseal, free of command-line parsing: each returns the tool's
// exit status (docs/vmcrypt.md, "monarch-unseal").
#pragma once

#include "crypt/owner_key.h"

#include <optional>
#include <string>

namespace monarch::crypt::unseal {

enum ExitStatus : int {
    Ok = 0,
    VerificationFailed = 1, // tampered, truncated, or the wrong key
    Usage = 2,              // bad arguments, or a key file that is refused
    IoError = 3,            // a file could not be read or written
};

struct KeySource {
    std::optional<std::string> file;
    std::optional<int> fd;
};

struct ExtractOptions {
    std::string stream;
    std::optional<std::string> memory;     // raw image, pages at their GPAs (sparse)
    std::optional<std::string> state_dir;  // one file per state record
};

[[nodiscard]] int keygen(std::string const& path);
[[nodiscard]] int inspect(KeySource const&, std::string const& stream);
[[nodiscard]] int extract(KeySource const&, ExtractOptions const&);

} // namespace monarch::crypt::unseal
