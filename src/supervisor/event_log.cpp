// SPDX-License-Identifier: Apache-2.0
// EventLog: JSON lines, flushed one by one so that a crash loses no line already written.
#include "supervisor/event_log.h"

#include "common/json_text.h"

#include <chrono>
#include <fcntl.h>
#include <fmt/chrono.h>
#include <nlohmann/json.hpp>
#include <unistd.h>
#include <utility>

namespace monarch::supervisor {

EventLog EventLog::open(std::string const& path)
{
    if (path == "-")
        return EventLog(stderr, false);
    int const fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0)
        return EventLog(stderr, false);
    std::FILE* file = ::fdopen(fd, "a");
    if (!file) {
        ::close(fd);
        return EventLog(stderr, false);
    }
    return EventLog(file, true);
}

EventLog::EventLog(EventLog&& other) noexcept
    : m_file(std::exchange(other.m_file, nullptr))
    , m_owned(std::exchange(other.m_owned, false))
{
}

EventLog& EventLog::operator=(EventLog&& other) noexcept
{
    if (this != &other) {
        if (m_owned && m_file)
            std::fclose(m_file);
        m_file = std::exchange(other.m_file, nullptr);
        m_owned = std::exchange(other.m_owned, false);
    }
    return *this;
}

EventLog::~EventLog()
{
    if (m_owned && m_file)
        std::fclose(m_file);
}

void EventLog::write(std::string const& event, nlohmann::json fields)
{
    if (!m_file)
        return;
    auto const now = std::chrono::system_clock::now();
    auto const milliseconds = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    fields["time"] = fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", fmt::gmtime(std::chrono::system_clock::to_time_t(now)), milliseconds);
    fields["event"] = event;
    std::string const line = to_json_text(fields);
    std::fprintf(m_file, "%s\n", line.c_str());
    std::fflush(m_file);
}

} // namespace monarch::supervisor
