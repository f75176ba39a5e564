// SPDX-License-Identifier: Apache-2.0
// parse_size: a number, then a unit suffix looked up case-insensitively.
#include "common/size_parse.h"

#include <cctype>
#include <charconv>
#include <optional>
#include <string>

namespace monarch {
namespace {

// The shift for a unit suffix ("", "k", "kb", "kib", ...); nullopt if it is not one.
std::optional<unsigned> unit_shift(std::string_view suffix)
{
    std::string unit(suffix);
    for (auto& c : unit)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (unit.ends_with("ib"))
        unit.resize(unit.size() - 2);
    else if (unit.size() == 2 && unit.ends_with("b"))
        unit.resize(1);
    if (unit.empty())
        return 20; // a bare number is MiB
    if (unit == "k")
        return 10;
    if (unit == "m")
        return 20;
    if (unit == "g")
        return 30;
    if (unit == "t")
        return 40;
    return std::nullopt;
}

} // namespace

Result<uint64_t> parse_size(std::string_view text)
{
    uint64_t number = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error == std::errc::result_out_of_range)
        return fail(Errc::OutOfRange, "size does not fit in 64 bits");
    if (error != std::errc() || end == text.data())
        return fail(Errc::InvalidArgument, "not a number");
    auto shift = unit_shift(std::string_view(end, text.data() + text.size() - end));
    if (!shift)
        return fail(Errc::InvalidArgument, "unknown unit");
    if (number > (~uint64_t { 0 } >> *shift))
        return fail(Errc::OutOfRange, "size does not fit in 64 bits");
    return number << *shift;
}

} // namespace monarch
