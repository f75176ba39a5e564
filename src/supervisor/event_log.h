// SPDX-License-Identifier: Apache-2.0
// EventLog: monarchd's structured log, one JSON object per line ({"time":..., "event":...,
// ...}), for every API request (who, what, the answer) and every VM state change.
#pragma once

#include <cstdio>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace monarch::supervisor {

class EventLog {
public:
    // `path` "-" is stderr; otherwise the file is opened for appending (created 0640).
    [[nodiscard]] static EventLog open(std::string const& path);
    EventLog(EventLog&&) noexcept;
    EventLog& operator=(EventLog&&) noexcept;
    ~EventLog();

    // Adds "time" (RFC 3339, UTC, milliseconds) and "event" to `fields` and writes one line.
    void write(std::string const& event, nlohmann::json fields);
    [[nodiscard]] bool is_open() const { return m_file != nullptr; }

private:
    explicit EventLog(std::FILE* file, bool owned) : m_file(file), m_owned(owned) {}
    std::FILE* m_file { nullptr };
    bool m_owned { false };
};

} // namespace monarch::supervisor
