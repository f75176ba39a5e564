// SPDX-License-Identifier: Apache-2.0
// error_message_of: the message of an {"error": "..."} body, the one error shape of our HTTP
// servers (http::HttpResponse::error), as monarchd reads it from a VMM and from its own
// answers, and monarchctl from monarchd's.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace monarch::supervisor {

// nullopt when `body` is not an object with a string "error".
[[nodiscard]] inline std::optional<std::string> error_message_of(nlohmann::json const& body)
{
    if (!body.is_object())
        return std::nullopt;
    auto const found = body.find("error");
    if (found == body.end() || !found->is_string())
        return std::nullopt;
    return found->get<std::string>();
}

} // namespace monarch::supervisor
