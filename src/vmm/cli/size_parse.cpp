// SPDX-License-Identifier: Apache-2.0
// Parsers for --memory and --cpus values, and the usage messages for their errors.
#include "vmm/cli/options.h"

#include <cctype>
#include <charconv>
#include <fmt/format.h>

namespace monarch::vmm::cli {
namespace {

std::string lower(std::string_view text)
{
    std::string out(text);
    for (auto& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// The shift for a unit suffix ("", "k", "kb", "kib", ...); nullopt if it is not one.
std::optional<unsigned> unit_shift(std::string_view suffix)
{
    std::string unit = lower(suffix);
    if (unit.ends_with("ib"))
        unit.resize(unit.size() - 2);
    else if (unit.size() == 2 && unit.ends_with("b"))
        unit.resize(1);
    if (unit.empty())
        return 20; // a bare number is MiB, as in Cloud Hypervisor's and QEMU's -m
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

// Cloud Hypervisor's "key=value" form: accept "<key>=<value>" with exactly our key.
std::string_view strip_key(std::string_view text, std::string_view key)
{
    if (text.starts_with(key) && text.size() > key.size() && text[key.size()] == '=')
        return text.substr(key.size() + 1);
    return text;
}

} // namespace

Result<uint64_t> parse_memory_size(std::string_view text)
{
    text = strip_key(text, "size");
    uint64_t number = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error == std::errc::result_out_of_range)
        return fail(Errc::OutOfRange, "size does not fit in 64 bits");
    if (error != std::errc() || end == text.data())
        return fail(Errc::InvalidArgument, "not a number");
    auto shift = unit_shift(std::string_view(end, text.data() + text.size() - end));
    if (!shift)
        return fail(Errc::InvalidArgument, "unknown unit");
    if (number > (~uint64_t { 0} >> *shift))
        return fail(Errc::OutOfRange, "size does not fit in 64 bits");
    return number << *shift;
}

Result<uint32_t> parse_cpu_count(std::string_view text)
{
    text = strip_key(text, "boot");
    uint64_t number = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (error == std::errc::result_out_of_range)
        return fail(Errc::OutOfRange, "too many vCPUs");
    if (error != std::errc() || end != text.data() + text.size())
        return fail(Errc::InvalidArgument, "not a number");
    if (number == 0)
        return fail(Errc::InvalidArgument, "zero vCPUs");
    if (number > MAX_CPUS)
        return fail(Errc::OutOfRange, "too many vCPUs");
    return static_cast<uint32_t>(number);
}

std::string describe_memory_error(std::string_view text, Error const& error)
{
    if (error.code == Errc::OutOfRange)
        return fmt::format("--memory: '{}' is too large to represent", text);
    return fmt::format("--memory: '{}' is not a size (use e.g. 512M, 1G, 1024K; a bare number is MiB)", text);
}

std::string describe_cpus_error(std::string_view text, Error const& error)
{
    if (error.code == Errc::OutOfRange)
        return fmt::format("--cpus: '{}' is more than the maximum of {} vCPUs", text, MAX_CPUS);
    if (error.context == std::string_view("zero vCPUs"))
        return fmt::format("--cpus: '{}': a VM needs at least 1 vCPU", text);
    return fmt::format("--cpus: '{}' is not a number of vCPUs (1 to {})", text, MAX_CPUS);
}

} // namespace monarch::vmm::cli
