// SPDX-License-Identifier: Apache-2.0
// Result<T> and TRY: the one error-value type of the project (STYLE.md section 2).
#pragma once

#include <cerrno>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace monarch {

enum class Errc : uint16_t {
    Sys,             // a system call failed; sys_errno says why
    InvalidArgument, // a caller-supplied value is wrong
    OutOfRange,      // an address or length falls outside what exists
    Unsupported,     // a feature or capability this host or image lacks
    BadImage,        // a kernel, initrd or other input file is malformed
    Busy,            // the object is in a state that refuses the request
    NotFound,        // a named thing (symbol, task, file) does not exist
    Corrupt,         // authenticated data failed verification, or a structure is inconsistent
    Timeout,         // an operation did not complete in time
};

struct Error {
    Errc code { Errc::Sys };
    int sys_errno { 0 };        // set when code == Errc::Sys
    std::string_view context;   // a static literal: "KVM_CREATE_VCPU", "bzImage: bad magic"

    static Error from_errno(std::string_view context) { return { Errc::Sys, errno, context }; }
    static Error from_errno(int error_number, std::string_view context) { return { Errc::Sys, error_number, context }; }
};

template<typename T>
using Result = std::expected<T, Error>;
using Failure = std::unexpected<Error>;

inline Failure fail(Errc code, std::string_view context) { return Failure(Error { code, 0, context }); }
inline Failure fail_errno(std::string_view context) { return Failure(Error::from_errno(context)); }

// "KVM_CREATE_VCPU: Operation not permitted" or "bzImage: bad magic".
[[nodiscard]] std::string to_string(Error const& error);
[[nodiscard]] std::string_view to_string(Errc code);

} // namespace monarch

// Evaluates a Result; on error returns it from the enclosing function, else yields the value.
#define TRY(expr) __extension__({                                          \
        auto try_result_ = (expr);                                         \
        if (!try_result_)                                                  \
            return ::monarch::Failure(std::move(try_result_).error());     \
        std::move(try_result_).value();                                    \
    })

// For Result<void>.
#define TRY_VOID(expr) do {                                                \
        auto try_result_ = (expr);                                         \
        if (!try_result_)                                                  \
            return ::monarch::Failure(std::move(try_result_).error());     \
    } while (0)
