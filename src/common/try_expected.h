// SPDX-License-Identifier: Apache-2.0
// TRY_EXPECTED: TRY (common/result.h) for any std::expected, whatever its error type (an HTTP
// status and message, a monarchctl exit status, a parse message): the one macro behind what
// monarchd, monarchctl and the API parser each wrote for themselves.
#pragma once

#include <expected>
#include <utility>

// Evaluates a std::expected; on error returns std::unexpected(that error) from the enclosing
// function, else yields the value (nothing for std::expected<void, E>).
#define TRY_EXPECTED(expr) __extension__({                                 \
        auto try_expected_result_ = (expr);                                \
        if (!try_expected_result_)                                         \
            return std::unexpected(std::move(try_expected_result_).error()); \
        std::move(try_expected_result_).value();                           \
    })
