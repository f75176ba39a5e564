// SPDX-License-Identifier: Apache-2.0
// JsonObject: strict reading of one JSON object of a request body. Each field read is marked;
// finish() then refuses every field left over unless it is null or equal to the default the
// caller lists, so a field we do not implement is never silently ignored. Errors are one line
// naming the field ("vm.create: disks[1].readonly: expected a boolean").
#pragma once

#include <cstdint>
#include <expected>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace monarch::vmm::api {

template<typename T>
using ParseResult = std::expected<T, std::string>;

// A field we accept only with this value (Cloud Hypervisor's default), or null.
struct AcceptedDefault {
    std::string_view key;
    nlohmann::json value;
};

class JsonObject {
public:
    // `where` names the object in messages: "cpus", "disks[0]"; "" for the top level.
    [[nodiscard]] static ParseResult<JsonObject> from(nlohmann::json const& value, std::string where);

    // The field, or nullptr when it is absent or null. Marks it as read.
    [[nodiscard]] nlohmann::json const* field(std::string_view key);
    [[nodiscard]] ParseResult<std::optional<std::string>> string_field(std::string_view key);
    [[nodiscard]] ParseResult<std::optional<bool>> bool_field(std::string_view key);
    // A non-negative integer no larger than `maximum`.
    [[nodiscard]] ParseResult<std::optional<uint64_t>> unsigned_field(std::string_view key, uint64_t maximum);

    // Every field not read must be null or equal to its accepted default.
    [[nodiscard]] ParseResult<void> finish(std::initializer_list<AcceptedDefault> defaults) const;

    // "disks[0].path"
    [[nodiscard]] std::string name(std::string_view key) const;

private:
    JsonObject(nlohmann::json const& object, std::string where) : m_object(&object), m_where(std::move(where)) {}

    nlohmann::json const* m_object;
    std::string m_where;
    std::set<std::string, std::less<>> m_read;
};

// Refuses nesting deeper than `limit` before nlohmann's recursive parser sees the text (a
// 1 MiB body of '[' would otherwise exhaust the stack).
[[nodiscard]] bool nesting_within(std::string_view text, unsigned limit);

// Parses a request body into a JSON value without exceptions; the error names the problem.
[[nodiscard]] ParseResult<nlohmann::json> parse_body(std::string_view body);

// dump() that never throws: invalid UTF-8 in strings is replaced.
[[nodiscard]] std::string dump_json(nlohmann::json const& value);

} // namespace monarch::vmm::api

// TRY for ParseResult: on error, returns the message from the enclosing function.
#define TRY_PARSE(expr) __extension__({                                    \
        auto try_parse_result_ = (expr);                                   \
        if (!try_parse_result_)                                            \
            return std::unexpected(std::move(try_parse_result_).error());  \
        std::move(try_parse_result_).value();                              \
    })
#define TRY_PARSE_VOID(expr) do {                                          \
        auto try_parse_result_ = (expr);                                   \
        if (!try_parse_result_)                                            \
            return std::unexpected(std::move(try_parse_result_).error());  \
    } while (0)
