// SPDX-License-Identifier: Apache-2.0
// Internal to vm_config_json: the readers of the device entries (disks, net, rng, vsock) and
// of the serial/console modes, and their writers.
#pragma once

#include "vmm/api/json_object.h"
#include "vmm/machine/vm_config.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace monarch::vmm::api {

[[nodiscard]] ParseResult<machine::DiskConfig> parse_disk(nlohmann::json const&, std::string where);
[[nodiscard]] ParseResult<machine::NetConfig> parse_net(nlohmann::json const&, std::string where);
[[nodiscard]] ParseResult<machine::RngConfig> parse_rng(nlohmann::json const&);
[[nodiscard]] ParseResult<machine::VsockConfig> parse_vsock(nlohmann::json const&);
// CH's SerialConfig/ConsoleConfig ({"mode": "Pty"...}) to our serial spec ("pty").
[[nodiscard]] ParseResult<std::string> parse_console_mode(nlohmann::json const&, std::string where);
// The virtio console: its mode (as parse_console_mode) and Monarch's "transport".
[[nodiscard]] ParseResult<machine::ConsoleConfig> parse_console(nlohmann::json const&);
// Adds "transport" to a device object for vm.info when it is not the default (pci).
void put_transport(nlohmann::json& out, machine::VirtioTransport transport);
// What no single entry can check: more transport "mmio" devices than the window has slots.
[[nodiscard]] ParseResult<void> check_devices(machine::VmConfig const&);

[[nodiscard]] nlohmann::json disk_to_json(machine::DiskConfig const&);
[[nodiscard]] nlohmann::json net_to_json(machine::NetConfig const&);
// Our serial spec back to CH's form; `pty` fills "file" for mode Pty.
[[nodiscard]] nlohmann::json console_mode_to_json(std::string const& spec, std::optional<std::string> const& pty);

[[nodiscard]] std::optional<machine::MacAddress> parse_mac(std::string const&);
[[nodiscard]] std::string format_mac(machine::MacAddress const&);

} // namespace monarch::vmm::api
