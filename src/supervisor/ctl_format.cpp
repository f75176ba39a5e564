// SPDX-License-Identifier: Apache-2.0
// monarchctl's tables and pages, from monarchd's JSON (each field type-checked: the answer
// comes from another process).
#include "supervisor/ctl_format.h"

#include <algorithm>
#include <array>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <vector>

namespace monarch::supervisor::ctl {

using nlohmann::json;

std::string format_size(uint64_t bytes)
{
    constexpr std::array<char const*, 5> units { "", "K", "M", "G", "T" };
    size_t unit = 0;
    while (unit + 1 < units.size() && bytes >= 1024 && bytes % 1024 == 0) {
        bytes /= 1024;
        ++unit;
    }
    return fmt::format("{}{}", bytes, units[unit]);
}

std::string format_duration(std::optional<int64_t> seconds)
{
    if (!seconds || *seconds < 0)
        return "-";
    auto const s = *seconds;
    if (s < 60)
        return fmt::format("{}s", s);
    if (s < 3600)
        return fmt::format("{}m{:02}s", s / 60, s % 60);
    if (s < 86400)
        return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
    return fmt::format("{}d{:02}h", s / 86400, (s % 86400) / 3600);
}

namespace {

std::string text_of(json const& vm, char const* key)
{
    if (!vm.is_object() || !vm.contains(key))
        return "-";
    auto const& value = vm[key];
    if (value.is_string())
        return value.get<std::string>();
    if (value.is_number_integer())
        return std::to_string(value.get<int64_t>());
    return "-";
}

std::optional<int64_t> integer_of(json const& vm, char const* key)
{
    if (vm.is_object() && vm.contains(key) && vm[key].is_number_integer())
        return vm[key].get<int64_t>();
    return std::nullopt;
}

} // namespace

std::string format_table(json const& vms)
{
    std::vector<std::array<std::string, 6>> rows { { "NAME", "STATE", "CPUS", "MEMORY", "UPTIME", "PID" } };
    if (vms.is_array()) {
        for (auto const& vm : vms) {
            auto const memory = integer_of(vm, "memory");
            rows.push_back({ text_of(vm, "name"), text_of(vm, "state"), text_of(vm, "cpus"),
                memory ? format_size(static_cast<uint64_t>(*memory)) : "-", format_duration(integer_of(vm, "uptime")),
                text_of(vm, "pid") });
        }
    }
    std::array<size_t, 6> widths {};
    for (auto const& row : rows) {
        for (size_t i = 0; i < row.size(); ++i)
            widths[i] = std::max(widths[i], row[i].size());
    }
    std::string out;
    for (auto const& row : rows) {
        std::string line;
        for (size_t i = 0; i < row.size(); ++i)
            line += i + 1 < row.size() ? fmt::format("{:<{}}  ", row[i], widths[i]) : row[i];
        out += line + "\n";
    }
    return out;
}

std::string format_info(json const& vm)
{
    std::string out;
    auto const line = [&](char const* label, std::string const& value) { out += fmt::format("{:<12} {}\n", label, value); };
    line("Name:", text_of(vm, "name"));
    line("State:", text_of(vm, "state"));
    line("vCPUs:", text_of(vm, "cpus"));
    auto const memory = integer_of(vm, "memory");
    line("Memory:", memory ? format_size(static_cast<uint64_t>(*memory)) : "-");
    line("PID:", text_of(vm, "pid"));
    line("Uptime:", format_duration(integer_of(vm, "uptime")));
    line("Restart:", text_of(vm, "restart"));
    line("Restarts:", text_of(vm, "restarts"));
    line("Last exit:", text_of(vm, "last_exit"));
    line("Console:", text_of(vm, "console"));
    line("API socket:", text_of(vm, "api_socket"));
    line("Log:", text_of(vm, "log"));
    if (vm.is_object() && vm.contains("definition") && vm["definition"].is_object()) {
        auto const& definition = vm["definition"];
        line("Kernel:", text_of(definition, "kernel"));
        line("Initrd:", text_of(definition, "initrd"));
        line("Cmdline:", text_of(definition, "cmdline"));
        if (definition.contains("disks") && definition["disks"].is_array()) {
            for (auto const& disk : definition["disks"])
                line("Disk:", text_of(disk, "path") + (disk.is_object() && disk.value("readonly", false) ? " (read-only)" : ""));
        }
    }
    return out;
}

} // namespace monarch::supervisor::ctl
