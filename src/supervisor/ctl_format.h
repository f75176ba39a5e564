// SPDX-License-Identifier: Apache-2.0
// monarchctl's human output: the VM table of `list`, the key-value page of `info`, sizes
// ("64M") and durations ("1h02m").
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

namespace monarch::supervisor::ctl {

[[nodiscard]] std::string format_size(uint64_t bytes);
[[nodiscard]] std::string format_duration(std::optional<int64_t> seconds); // "-" when none
// Columns NAME STATE CPUS MEMORY UPTIME PID, padded to the widest cell; one line per VM.
[[nodiscard]] std::string format_table(nlohmann::json const& vms);
[[nodiscard]] std::string format_info(nlohmann::json const& vm);

} // namespace monarch::supervisor::ctl
