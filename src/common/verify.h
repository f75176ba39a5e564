// SPDX-License-Identifier: Apache-2.0
// VERIFY: a broken invariant is our bug: log where, then abort. Never for guest input.
#pragma once

namespace monarch::detail {
[[noreturn]] void verify_failed(char const* expression, char const* file, int line);
}

#define VERIFY(cond)                                                          \
    do {                                                                      \
        if (!(cond)) [[unlikely]]                                             \
            ::monarch::detail::verify_failed(#cond, __FILE__, __LINE__);      \
    } while (0)
