// SPDX-License-Identifier: Apache-2.0
// The checks every device entry of a VmConfig passes, whoever filled it in: the command line
// (cli/device_options) and the REST API (api/vm_config_json_devices) parse their own syntax,
// then both call these, so a value one accepts the other accepts too. Each problem names the
// key it is about; the caller prefixes its own spelling of the option ("--net", "net[0]").
#pragma once

#include "vmm/machine/virtio_placement.h"
#include "vmm/machine/vm_config.h"
#include "vmm/memory/virtio_mmio_layout.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <net/if.h>

#include <optional>
#include <string>
#include <string_view>

namespace monarch::vmm::machine {

struct DeviceProblem {
    std::string_view key; // "mac", "cid", "transport"...
    std::string message;  // "'01:00:5e:00:00:01' is a multicast address..."
};
using DeviceCheck = std::optional<DeviceProblem>;

namespace device_limits {
// virtio 1.2 section 5.2.6: VIRTIO_BLK_T_GET_ID answers with at most 20 bytes.
inline constexpr size_t DISK_ID_MAX = 20;
// virtio 1.2 section 5.10.4: CIDs 0-2 are reserved, and 0xffffffff is VMADDR_CID_ANY.
inline constexpr uint64_t VSOCK_CID_MIN = 3;
inline constexpr uint64_t VSOCK_CID_MAX = 0xfffffffe;
} // namespace device_limits

// "pci" or "mmio", as `transport=` spells them.
[[nodiscard]] inline std::optional<VirtioTransport> parse_virtio_transport(std::string_view text)
{
    if (text == "pci")
        return VirtioTransport::Pci;
    if (text == "mmio")
        return VirtioTransport::Mmio;
    return std::nullopt;
}
[[nodiscard]] inline std::string_view to_string(VirtioTransport transport) { return transport == VirtioTransport::Pci ? "pci" : "mmio"; }
[[nodiscard]] inline DeviceProblem bad_transport(std::string_view text)
{
    return { "transport", fmt::format("'{}' is not pci or mmio", text) };
}

// What the kernel's dev_valid_name() accepts (IFNAMSIZ includes the NUL).
[[nodiscard]] inline bool valid_interface_name(std::string_view name)
{
    if (name.empty() || name.size() >= IFNAMSIZ || name == "." || name == "..")
        return false;
    return name.find_first_of("/: \t\n") == std::string_view::npos;
}

[[nodiscard]] inline bool valid_ipv4(std::string const& text)
{
    in_addr address {};
    return ::inet_pton(AF_INET, text.c_str(), &address) == 1;
}

[[nodiscard]] inline DeviceCheck check_disk(DiskConfig const& disk)
{
    if (disk.path.empty())
        return DeviceProblem { "path", "required (the raw disk image)" };
    if (disk.id && disk.id->size() > device_limits::DISK_ID_MAX)
        return DeviceProblem { "id", fmt::format("'{}' is longer than {} bytes", *disk.id, device_limits::DISK_ID_MAX) };
    return std::nullopt;
}

[[nodiscard]] inline DeviceCheck check_mac(MacAddress const& mac)
{
    // IEEE 802: the least significant bit of the first octet marks a group address.
    if (mac[0] & 1)
        return DeviceProblem { "mac", "a multicast address cannot be a NIC's address" };
    if (mac == MacAddress {})
        return DeviceProblem { "mac", "all zeros is not a NIC's address" };
    return std::nullopt;
}

[[nodiscard]] inline DeviceCheck check_net(NetConfig const& net)
{
    // An empty tap name: the kernel names a new tap.
    if (!net.tap.empty() && !valid_interface_name(net.tap))
        return DeviceProblem { "tap", fmt::format("'{}' is not an interface name (1-{} characters, no '/', ':' or spaces)",
            net.tap, IFNAMSIZ - 1) };
    if (net.mac) {
        if (auto problem = check_mac(*net.mac))
            return problem;
    }
    // The tap's host address is set with SIOCSIFADDR/SIOCSIFNETMASK: IPv4 only.
    if (net.host_ip && !valid_ipv4(*net.host_ip))
        return DeviceProblem { "ip", fmt::format("'{}' is not an IPv4 address", *net.host_ip) };
    if (net.netmask && !valid_ipv4(*net.netmask))
        return DeviceProblem { "mask", fmt::format("'{}' is not an IPv4 netmask", *net.netmask) };
    return std::nullopt;
}

[[nodiscard]] inline DeviceCheck check_vsock(VsockConfig const& vsock)
{
    if (vsock.cid < device_limits::VSOCK_CID_MIN || vsock.cid > device_limits::VSOCK_CID_MAX)
        return DeviceProblem { "cid", fmt::format("'{}' is out of range ({} to {}; 0-2 are reserved)", vsock.cid,
            device_limits::VSOCK_CID_MIN, device_limits::VSOCK_CID_MAX) };
    if (vsock.socket.empty())
        return DeviceProblem { "socket", "required (the host's Unix socket)" };
    return std::nullopt;
}

[[nodiscard]] inline DeviceCheck check_rng(RngConfig const& rng)
{
    // The device reads getrandom(); these two sources mean just that.
    if (rng.source != "/dev/urandom" && rng.source != "/dev/random")
        return DeviceProblem { "src", fmt::format("'{}' is not /dev/urandom or /dev/random (the device reads getrandom())", rng.source) };
    return std::nullopt;
}

// Across devices: the virtio-mmio window has layout::VIRTIO_MMIO_SLOTS slots (one GSI each).
[[nodiscard]] inline DeviceCheck check_virtio_transports(VmConfig const& config)
{
    size_t const count = virtio_mmio_device_count(config);
    if (count > layout::VIRTIO_MMIO_SLOTS)
        return DeviceProblem { "transport", fmt::format("{} devices ask for mmio, the virtio-mmio window has {} slots",
            count, layout::VIRTIO_MMIO_SLOTS) };
    return std::nullopt;
}

} // namespace monarch::vmm::machine
