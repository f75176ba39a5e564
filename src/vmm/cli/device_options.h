// SPDX-License-Identifier: Apache-2.0
// The device options of monarch-vmm (--disk, --net, --vsock, --rng, --console) in Cloud
// Hypervisor's "key=value,key=value" syntax, parsed into the VmConfig device entries, and its
// --pvpanic flag. Each error is one line naming the option, the key and the value.
#pragma once

#include "vmm/machine/vm_config.h"

#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace monarch::vmm::cli {

// A usage error: "--disk: readonly: 'maybe' is not on or off".
using DeviceOptionError = std::string;

// path=IMG[,readonly=on|off][,direct=on|off][,id=ID]; path is required, id is 20 bytes at most
// (the VIRTIO_BLK_T_GET_ID string).
[[nodiscard]] std::expected<machine::DiskConfig, DeviceOptionError> parse_disk_option(std::string_view text);
// [tap=NAME][,mac=MAC][,ip=IPV4][,mask=IPV4][,id=ID]; NAME fits IFNAMSIZ, MAC is six hex bytes
// separated by ':' and unicast.
[[nodiscard]] std::expected<machine::NetConfig, DeviceOptionError> parse_net_option(std::string_view text);
// cid=N,socket=PATH; N from 3 (0-2 are the hypervisor, local and host) to 0xfffffffe.
[[nodiscard]] std::expected<machine::VsockConfig, DeviceOptionError> parse_vsock_option(std::string_view text);
// "" or src=PATH; PATH must be /dev/urandom or /dev/random (the device uses getrandom()).
[[nodiscard]] std::expected<machine::RngConfig, DeviceOptionError> parse_rng_option(std::string_view text);
// off|null|pty|tty|stdio|file=PATH|socket=PATH (also file:PATH and socket:PATH, as --serial
// spells them), then optionally ",transport=pci|mmio"; the result's mode is in the SerialSpec syntax.
[[nodiscard]] std::expected<machine::ConsoleConfig, DeviceOptionError> parse_console_option(std::string_view text);

// The parsed device options, in the form VmConfig holds them.
struct DeviceOptions {
    std::vector<machine::DiskConfig> disks;
    std::vector<machine::NetConfig> nets;
    std::optional<machine::VsockConfig> vsock;
    std::optional<machine::RngConfig> rng;
    machine::ConsoleConfig console;
    bool pvpanic { false };
};

// The option strings as CLI11 collected them.
struct RawDeviceOptions {
    std::vector<std::string> disks;
    std::vector<std::string> nets;
    std::vector<std::string> vsock;
    std::vector<std::string> rng;
    bool rng_given { false };
    std::vector<std::string> console;
    bool pvpanic { false };
};

// Registers --disk, --net (both repeatable, also several values after one flag), --vsock,
// --rng, --console and --pvpanic on app; they fill raw.
void add_device_options(CLI::App& app, RawDeviceOptions& raw);
// Parses what add_device_options collected; also refuses more transport=mmio devices than the
// virtio-mmio window has slots.
[[nodiscard]] std::expected<DeviceOptions, DeviceOptionError> convert_device_options(RawDeviceOptions const& raw);
// Copies the device entries into a VmConfig.
void apply_device_options(DeviceOptions const& options, machine::VmConfig& config);

} // namespace monarch::vmm::cli
