// SPDX-License-Identifier: Apache-2.0
// Parsers for --owner-key, --restore and --platform.
#include "vmm/cli/owner_key_option.h"

#include "vmm/machine/vm_config.h"

#include <charconv>
#include <fmt/format.h>
#include <climits>

namespace monarch::vmm::cli {

namespace {

template<typename T>
std::optional<T> parse_decimal(std::string_view text)
{
    T value {};
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

} // namespace

Result<OwnerKeySpec> parse_owner_key_spec(std::string_view text)
{
    OwnerKeySpec spec;
    if (text.starts_with("file=") && text.size() > 5) {
        spec.path = std::string(text.substr(5));
        return spec;
    }
    if (text.starts_with("fd=")) {
        auto fd = parse_decimal<int>(text.substr(3));
        if (!fd || *fd < 0)
            return fail(Errc::InvalidArgument, "--owner-key: fd=N needs a descriptor number");
        spec.fd = *fd;
        return spec;
    }
    return fail(Errc::InvalidArgument, "--owner-key: expected file=PATH or fd=N");
}

namespace {

std::optional<bool> parse_switch(std::string_view text)
{
    if (text == "on" || text == "true")
        return true;
    if (text == "off" || text == "false")
        return false;
    return std::nullopt;
}

// One "key=value" item of a --restore list into `spec`; false when it is not one of ours or
// repeats a key (`seen` holds the keys so far).
Result<void> apply_restore_item(std::string_view item, RestoreSpec& spec, std::string& seen)
{
    auto equals = item.find('=');
    std::string_view const key = item.substr(0, equals);
    std::string_view const value = equals == std::string_view::npos ? std::string_view {} : item.substr(equals + 1);
    if (equals == std::string_view::npos || value.empty() || seen.find(fmt::format("[{}]", key)) != std::string::npos)
        return fail(Errc::InvalidArgument, "--restore: expected source_url=file:///DIR[,prefault=on|off][,resume=on|off][,generation=N]");
    seen += fmt::format("[{}]", key);
    if (key == "source_url") {
        spec.source_url = std::string(value);
    } else if (key == "generation") {
        spec.generation = parse_decimal<uint64_t>(value);
        if (!spec.generation)
            return fail(Errc::InvalidArgument, "--restore: generation=N needs a number");
    } else if (key == "prefault" || key == "resume") {
        auto on = parse_switch(value);
        if (!on)
            return fail(Errc::InvalidArgument, "--restore: prefault and resume take on or off");
        (key == "prefault" ? spec.prefault : spec.resume) = *on;
    } else {
        return fail(Errc::InvalidArgument, "--restore: expected source_url=file:///DIR[,prefault=on|off][,resume=on|off][,generation=N]");
    }
    return {};
}

} // namespace

Result<RestoreSpec> parse_restore_spec(std::string_view text)
{
    RestoreSpec spec;
    std::string seen;
    while (!text.empty()) {
        auto comma = text.find(',');
        std::string_view item = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view {} : text.substr(comma + 1);
        TRY_VOID(apply_restore_item(item, spec, seen));
    }
    if (spec.source_url.empty())
        return fail(Errc::InvalidArgument, "--restore: source_url=file:///DIR is required");
    return spec;
}

Result<std::string> parse_platform_spec(std::string_view text)
{
    if (!text.starts_with("uuid="))
        return fail(Errc::InvalidArgument, "--platform: expected uuid=UUID (the other Cloud Hypervisor keys are not supported)");
    auto uuid = machine::canonical_uuid(text.substr(5));
    if (!uuid)
        return fail(Errc::InvalidArgument, "--platform: uuid=UUID needs 8-4-4-4-12 hex digits");
    return *uuid;
}

} // namespace monarch::vmm::cli
