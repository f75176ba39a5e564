// SPDX-License-Identifier: Apache-2.0
// JsonObject and the body parsing helpers. nlohmann-json throws only from get<>() on a wrong
// type, from parse() with exceptions enabled and from dump() on invalid UTF-8: every call here
// checks the type first or uses the non-throwing form.
#include "vmm/api/json_object.h"

#include <fmt/format.h>

namespace monarch::vmm::api {

namespace {

std::string_view type_of(nlohmann::json const& value)
{
    if (value.is_number_unsigned())
        return "a non-negative integer";
    if (value.is_number_integer())
        return "a negative integer";
    return value.type_name();
}

} // namespace

ParseResult<JsonObject> JsonObject::from(nlohmann::json const& value, std::string where)
{
    if (!value.is_object())
        return std::unexpected(fmt::format("{}: expected an object, got {}", where.empty() ? "body" : where, type_of(value)));
    return JsonObject(value, std::move(where));
}

std::string JsonObject::name(std::string_view key) const
{
    return m_where.empty() ? std::string(key) : fmt::format("{}.{}", m_where, key);
}

nlohmann::json const* JsonObject::field(std::string_view key)
{
    m_read.emplace(key);
    auto found = m_object->find(key);
    if (found == m_object->end() || found->is_null())
        return nullptr;
    return &*found;
}

ParseResult<std::optional<std::string>> JsonObject::string_field(std::string_view key)
{
    auto const* value = field(key);
    if (!value)
        return std::nullopt;
    if (!value->is_string())
        return std::unexpected(fmt::format("{}: expected a string, got {}", name(key), type_of(*value)));
    return value->get<std::string>();
}

ParseResult<std::optional<bool>> JsonObject::bool_field(std::string_view key)
{
    auto const* value = field(key);
    if (!value)
        return std::nullopt;
    if (!value->is_boolean())
        return std::unexpected(fmt::format("{}: expected a boolean, got {}", name(key), type_of(*value)));
    return value->get<bool>();
}

ParseResult<std::optional<uint64_t>> JsonObject::unsigned_field(std::string_view key, uint64_t maximum)
{
    auto const* value = field(key);
    if (!value)
        return std::nullopt;
    // Integers beyond 64 bits arrive as floating point: refused like any non-integer.
    if (!value->is_number_unsigned())
        return std::unexpected(fmt::format("{}: expected a non-negative integer, got {}", name(key), type_of(*value)));
    auto const number = value->get<uint64_t>();
    if (number > maximum)
        return std::unexpected(fmt::format("{}: {} is larger than the maximum {}", name(key), number, maximum));
    return number;
}

ParseResult<void> JsonObject::finish(std::initializer_list<AcceptedDefault> defaults) const
{
    for (auto const& [key, value] : m_object->items()) {
        if (m_read.contains(key) || value.is_null())
            continue;
        AcceptedDefault const* known = nullptr;
        for (auto const& entry : defaults)
            if (entry.key == key)
                known = &entry;
        if (!known)
            return std::unexpected(fmt::format("{}: unknown or unsupported field", name(key)));
        // An empty array or object stands for "none" as well (CH clients send "fs": []).
        bool const empty_container = (value.is_array() || value.is_object()) && value.empty();
        if (value != known->value && !empty_container)
            return std::unexpected(fmt::format("{}: not supported by monarch-vmm (only the default {} is accepted)",
                                               name(key), dump_json(known->value)));
    }
    return {};
}

bool nesting_within(std::string_view text, unsigned limit)
{
    unsigned depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '[' || c == '{') {
            if (++depth > limit)
                return false;
        } else if ((c == ']' || c == '}') && depth > 0)
            --depth;
    }
    return true;
}

ParseResult<nlohmann::json> parse_body(std::string_view body)
{
    if (body.empty())
        return std::unexpected(std::string("the request needs a JSON body"));
    if (!nesting_within(body, 32))
        return std::unexpected(std::string("JSON nested too deeply"));
    auto value = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded())
        return std::unexpected(std::string("the body is not valid JSON"));
    return value;
}

std::string dump_json(nlohmann::json const& value)
{
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace monarch::vmm::api
