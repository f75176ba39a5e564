// SPDX-License-Identifier: Apache-2.0
// Hexadecimal digits: text forms of keys and UUIDs, and the GDB remote protocol's encodings.
#pragma once

namespace monarch {

// The value of one hex digit (either case), or -1 if `c` is not one.
[[nodiscard]] constexpr int hex_digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

} // namespace monarch
