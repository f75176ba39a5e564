// SPDX-License-Identifier: Apache-2.0
// Parsers for --owner-key and --restore.
#include "vmm/cli/owner_key_option.h"

#include <charconv>
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

Result<RestoreSpec> parse_restore_spec(std::string_view text)
{
    RestoreSpec spec;
    bool have_url = false;
    while (!text.empty()) {
        auto comma = text.find(',');
        std::string_view item = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view {} : text.substr(comma + 1);
        if (item.starts_with("source_url=") && !have_url) {
            spec.source_url = std::string(item.substr(11));
            have_url = !spec.source_url.empty();
        } else if (item.starts_with("generation=") && !spec.generation) {
            spec.generation = parse_decimal<uint64_t>(item.substr(11));
            if (!spec.generation)
                return fail(Errc::InvalidArgument, "--restore: generation=N needs a number");
        } else {
            return fail(Errc::InvalidArgument, "--restore: expected source_url=file:///DIR[,generation=N]");
        }
    }
    if (!have_url)
        return fail(Errc::InvalidArgument, "--restore: source_url=file:///DIR is required");
    return spec;
}

} // namespace monarch::vmm::cli
