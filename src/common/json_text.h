// SPDX-License-Identifier: Apache-2.0
// to_json_text: nlohmann::json's dump() that never throws. A string from outside (a path, a
// VMM's message, a client's input) may hold invalid UTF-8, on which dump() would throw; here
// it is replaced with U+FFFD instead. Header-only: users link nlohmann_json themselves.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace monarch {

// `indent` as dump()'s: -1 for one line, N for N spaces per level.
[[nodiscard]] inline std::string to_json_text(nlohmann::json const& value, int indent = -1)
{
    return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace monarch
