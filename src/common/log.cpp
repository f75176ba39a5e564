// SPDX-License-Identifier: Apache-2.0
#include "common/log.h"
#include "common/verify.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <unistd.h>

namespace monarch::log {
namespace {

// The level is read on every call from any thread; the prefix is set once at start-up.
std::atomic<Level> s_level { Level::Warn };
std::string s_prefix;
std::mutex s_write_mutex;

char const* level_name(Level lvl)
{
    switch (lvl) {
    case Level::Trace: return "trace";
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
    case Level::Off: return "off";
    }
    return "?";
}

} // namespace

void set_level(Level lvl) { s_level.store(lvl, std::memory_order_relaxed); }
Level level() { return s_level.load(std::memory_order_relaxed); }
void set_prefix(std::string_view prefix) { s_prefix = prefix; }

std::optional<Level> parse_level(std::string_view name)
{
    for (auto lvl : { Level::Trace, Level::Debug, Level::Info, Level::Warn, Level::Error, Level::Off })
        if (name == level_name(lvl))
            return lvl;
    return std::nullopt;
}

void write(Level lvl, std::string_view message)
{
    std::string line = s_prefix.empty()
        ? fmt::format("[{}] {}\n", level_name(lvl), message)
        : fmt::format("[{}] {}: {}\n", level_name(lvl), s_prefix, message);
    std::lock_guard lock { s_write_mutex };
    // One write() per line so that lines from several threads never interleave.
    (void)!::write(STDERR_FILENO, line.data(), line.size());
}

} // namespace monarch::log

namespace monarch::detail {

void verify_failed(char const* expression, char const* file, int line)
{
    std::fprintf(stderr, "VERIFY(%s) failed at %s:%d\n", expression, file, line);
    std::abort();
}

} // namespace monarch::detail
