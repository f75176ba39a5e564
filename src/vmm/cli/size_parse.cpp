// SPDX-License-Identifier: Apache-2.0
// Parsers for --memory and --cpus values, and the usage messages for their errors.
#include "vmm/cli/options.h"

#include "common/size_parse.h"

#include <charconv>
#include <fmt/format.h>

namespace monarch::vmm::cli {
namespace {

// Cloud Hypervisor's "key=value" form: accept "<key>=<value>" with exactly our key.
std::string_view strip_key(std::string_view text, std::string_view key)
{
    if (text.starts_with(key) && text.size() > key.size() && text[key.size()] == '=')
        return text.substr(key.size() + 1);
    return text;
}

} // namespace

// The number and its unit are common/size_parse.h's, shared with monarchd and monarchctl.
Result<uint64_t> parse_memory_size(std::string_view text)
{
    return ::monarch::parse_size(strip_key(text, "size"));
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
