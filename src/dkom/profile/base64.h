// SPDX-License-Identifier: Apache-2.0
// Base64 (RFC 4648, standard alphabet, padded): ISF stores a symbol's constant_data so.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace monarch::dkom {

[[nodiscard]] std::string base64_encode(std::string_view bytes);
// Empty optional when `text` is not valid padded base64.
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

} // namespace monarch::dkom
