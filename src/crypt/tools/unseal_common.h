// SPDX-License-Identifier: Apache-2.0
// What monarch-unseal's commands share: loading the key, opening the stream, and turning
// errors into one-line messages and exit statuses.
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"
#include "crypt/stream_reader.h"
#include "crypt/tools/unseal_commands.h"

#include <string>
#include <variant>

namespace monarch::crypt::unseal {

[[nodiscard]] int status_for(Error const&);
// Prints "monarch-unseal: WHAT: ERROR" and returns the exit status for the error.
[[nodiscard]] int report(std::string const& what, Error const&);
// As report(), with where in the stream it failed.
[[nodiscard]] int report_read_failure(std::string const& stream, Error const&, ReadFailure const&);

struct OpenStream {
    UniqueFd fd;
    StreamReader reader;
};

// Makes the process undumpable, loads the key, opens and verifies the stream header; on
// failure prints the error and gives the exit status.
[[nodiscard]] std::variant<OpenStream, int> open_stream(KeySource const&, std::string const& path);

} // namespace monarch::crypt::unseal
