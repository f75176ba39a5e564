// SPDX-License-Identifier: Apache-2.0
#include "common/result.h"

#include <cstring>
#include <fmt/format.h>

namespace monarch {

std::string_view to_string(Errc code)
{
    switch (code) {
    case Errc::Sys: return "system error";
    case Errc::InvalidArgument: return "invalid argument";
    case Errc::OutOfRange: return "out of range";
    case Errc::Unsupported: return "unsupported";
    case Errc::BadImage: return "bad image";
    case Errc::Busy: return "busy";
    case Errc::NotFound: return "not found";
    case Errc::Corrupt: return "corrupt";
    case Errc::Timeout: return "timed out";
    }
    return "unknown error";
}

std::string to_string(Error const& error)
{
    if (error.code == Errc::Sys)
        return fmt::format("{}: {}", error.context, std::strerror(error.sys_errno));
    if (error.context.empty())
        return std::string(to_string(error.code));
    return std::string(error.context);
}

} // namespace monarch
