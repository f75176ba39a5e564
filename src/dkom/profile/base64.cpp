// SPDX-License-Identifier: Apache-2.0
// Base64 encoding and strict decoding (RFC 4648 section 4).
#include "dkom/profile/base64.h"

#include <cstdint>

namespace monarch::dkom {

namespace {

constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int value_of(char c)
{
    auto at = alphabet.find(c);
    return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

} // namespace

std::string base64_encode(std::string_view bytes)
{
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (size_t i = 0; i < bytes.size(); i += 3) {
        size_t n = std::min<size_t>(3, bytes.size() - i);
        uint32_t group = 0;
        for (size_t k = 0; k < 3; ++k)
            group = (group << 8) | (k < n ? static_cast<uint8_t>(bytes[i + k]) : 0);
        for (size_t k = 0; k < 4; ++k)
            out.push_back(k <= n ? alphabet[(group >> (18 - 6 * k)) & 0x3f] : '=');
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text)
{
    if (text.size() % 4 != 0)
        return std::nullopt;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (size_t i = 0; i < text.size(); i += 4) {
        uint32_t group = 0;
        size_t padding = 0;
        for (size_t k = 0; k < 4; ++k) {
            char c = text[i + k];
            bool last_group = i + 4 == text.size();
            if (c == '=' && last_group && k >= 2) {
                ++padding;
                group <<= 6;
                continue;
            }
            int value = value_of(c);
            if (value < 0 || padding > 0)
                return std::nullopt;
            group = (group << 6) | static_cast<uint32_t>(value);
        }
        for (size_t k = 0; k < 3 - padding; ++k)
            out.push_back(static_cast<char>((group >> (16 - 8 * k)) & 0xff));
    }
    return out;
}

} // namespace monarch::dkom
