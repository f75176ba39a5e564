// SPDX-License-Identifier: Apache-2.0
// Logging on fmt: one line per event on stderr, with an optional per-process prefix
// (the VM's id). Levels: error (VM stopping), warn, info (lifecycle), debug and trace.
#pragma once

#include <fmt/format.h>
#include <optional>
#include <string_view>

namespace monarch::log {

enum class Level : int { Trace = 0, Debug, Info, Warn, Error, Off };

void set_level(Level);
[[nodiscard]] Level level();
void set_prefix(std::string_view prefix); // e.g. the VM's name; empty for none
[[nodiscard]] std::optional<Level> parse_level(std::string_view name);

void write(Level, std::string_view message);

template<typename... Args>
void emit(Level lvl, fmt::format_string<Args...> format, Args&&... args)
{
    if (lvl < level())
        return;
    write(lvl, fmt::format(format, std::forward<Args>(args)...));
}

template<typename... Args> void trace(fmt::format_string<Args...> f, Args&&... a) { emit(Level::Trace, f, std::forward<Args>(a)...); }
template<typename... Args> void debug(fmt::format_string<Args...> f, Args&&... a) { emit(Level::Debug, f, std::forward<Args>(a)...); }
template<typename... Args> void info(fmt::format_string<Args...> f, Args&&... a) { emit(Level::Info, f, std::forward<Args>(a)...); }
template<typename... Args> void warn(fmt::format_string<Args...> f, Args&&... a) { emit(Level::Warn, f, std::forward<Args>(a)...); }
template<typename... Args> void error(fmt::format_string<Args...> f, Args&&... a) { emit(Level::Error, f, std::forward<Args>(a)...); }

} // namespace monarch::log
