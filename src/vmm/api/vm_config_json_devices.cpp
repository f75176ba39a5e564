// SPDX-License-Identifier: Apache-2.0
// The device entries of Cloud Hypervisor's VmConfig (cloud-hypervisor.yaml: DiskConfig,
// NetConfig, RngConfig, VsockConfig, SerialConfig/ConsoleConfig with ConsoleMode
// Off|Pty|Tty|File|Socket|Null) to machine::VmConfig's entries, and back for vm.info.
#include "vmm/api/vm_config_json_parts.h"

#include "common/hex.h"
#include "vmm/chardev/char_backend.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <net/if.h>

namespace monarch::vmm::api {

using nlohmann::json;

namespace {

// virtio spec, "Device ID" of virtio-blk: VIRTIO_BLK_ID_BYTES is 20.
constexpr size_t MAX_DISK_ID = 20;

bool valid_ip(std::string const& text)
{
    unsigned char buffer[16];
    return ::inet_pton(AF_INET, text.c_str(), buffer) == 1 || ::inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

} // namespace

ParseResult<machine::DiskConfig> parse_disk(json const& value, std::string where)
{
    auto object = TRY_PARSE(JsonObject::from(value, where));
    machine::DiskConfig disk;
    auto path = TRY_PARSE(object.string_field("path"));
    if (!path || path->empty())
        return std::unexpected(fmt::format("{}: required (a raw image file; vhost-user disks are not supported)", object.name("path")));
    disk.path = *path;
    disk.readonly = TRY_PARSE(object.bool_field("readonly")).value_or(false);
    disk.direct = TRY_PARSE(object.bool_field("direct")).value_or(false);
    disk.id = TRY_PARSE(object.string_field("id"));
    if (disk.id && disk.id->size() > MAX_DISK_ID)
        return std::unexpected(fmt::format("{}: longer than {} bytes", object.name("id"), MAX_DISK_ID));
    TRY_PARSE_VOID(object.finish({
        { "iommu", false }, { "num_queues", 1 }, { "queue_size", 128 }, { "vhost_user", false }, { "vhost_socket", nullptr },
        { "pci_segment", 0 }, { "queue_affinity", json::array() }, { "backing_files", false }, { "sparse", true },
        { "image_type", "Raw" }, { "lock_granularity", "ByteRange" }, { "poll_queue", true },
        { "disable_io_uring", false }, { "disable_aio", false } }));
    return disk;
}

ParseResult<machine::NetConfig> parse_net(json const& value, std::string where)
{
    auto object = TRY_PARSE(JsonObject::from(value, where));
    machine::NetConfig net;
    net.tap = TRY_PARSE(object.string_field("tap")).value_or("");
    if (net.tap.size() >= IFNAMSIZ)
        return std::unexpected(fmt::format("{}: '{}' is longer than {} bytes", object.name("tap"), net.tap, IFNAMSIZ - 1));
    if (auto mac = TRY_PARSE(object.string_field("mac"))) {
        net.mac = parse_mac(*mac);
        if (!net.mac)
            return std::unexpected(fmt::format("{}: '{}' is not a MAC address (xx:xx:xx:xx:xx:xx)", object.name("mac"), *mac));
    }
    net.host_ip = TRY_PARSE(object.string_field("ip"));
    if (net.host_ip && !valid_ip(*net.host_ip))
        return std::unexpected(fmt::format("{}: '{}' is not an IP address", object.name("ip"), *net.host_ip));
    net.netmask = TRY_PARSE(object.string_field("mask"));
    if (net.netmask && !valid_ip(*net.netmask))
        return std::unexpected(fmt::format("{}: '{}' is not a netmask", object.name("mask"), *net.netmask));
    net.id = TRY_PARSE(object.string_field("id"));
    TRY_PARSE_VOID(object.finish({
        { "iommu", false }, { "num_queues", 2 }, { "queue_size", 256 }, { "vhost_user", false }, { "vhost_socket", nullptr },
        { "vhost_mode", "Client" }, { "pci_segment", 0 }, { "offload_tso", true }, { "offload_ufo", true },
        { "offload_csum", true }, { "fds", json::array() } }));
    return net;
}

ParseResult<machine::RngConfig> parse_rng(json const& value)
{
    auto object = TRY_PARSE(JsonObject::from(value, "rng"));
    machine::RngConfig rng;
    rng.source = TRY_PARSE(object.string_field("src")).value_or("/dev/urandom");
    // The device reads getrandom(); these two sources mean just that.
    if (rng.source != "/dev/urandom" && rng.source != "/dev/random")
        return std::unexpected(fmt::format("rng.src: '{}' is not supported (only /dev/urandom or /dev/random)", rng.source));
    TRY_PARSE_VOID(object.finish({ { "iommu", false }, { "pci_segment", 0 } }));
    return rng;
}

ParseResult<machine::VsockConfig> parse_vsock(json const& value)
{
    auto object = TRY_PARSE(JsonObject::from(value, "vsock"));
    machine::VsockConfig vsock;
    // virtio spec, "Device configuration layout" of vsock: CIDs 0-2 are reserved, and the
    // upper 32 bits of guest_cid are reserved too; 0xffffffff is VMADDR_CID_ANY.
    auto cid = TRY_PARSE(object.unsigned_field("cid", 0xfffffffeULL));
    if (!cid || *cid < 3)
        return std::unexpected(std::string("vsock.cid: required, 3 or more"));
    vsock.cid = *cid;
    auto socket = TRY_PARSE(object.string_field("socket"));
    if (!socket || socket->empty())
        return std::unexpected(std::string("vsock.socket: required (a Unix socket path)"));
    vsock.socket = *socket;
    TRY_PARSE_VOID(object.finish({ { "iommu", false }, { "pci_segment", 0 } }));
    return vsock;
}

ParseResult<std::string> parse_console_mode(json const& value, std::string where)
{
    auto object = TRY_PARSE(JsonObject::from(value, where));
    auto mode = TRY_PARSE(object.string_field("mode"));
    auto file = TRY_PARSE(object.string_field("file"));
    auto socket = TRY_PARSE(object.string_field("socket"));
    TRY_PARSE_VOID(object.finish({ { "iommu", false }, { "pci_segment", 0 } }));
    if (!mode)
        return std::unexpected(fmt::format("{}: required", object.name("mode")));
    // Off and Null both leave the device without a host side (output dropped).
    if (*mode == "Off" || *mode == "Null")
        return std::string("off");
    if (*mode == "Pty")
        return std::string("pty");
    if (*mode == "Tty")
        return std::string("stdio");
    if (*mode == "File") {
        if (!file || file->empty())
            return std::unexpected(fmt::format("{}: mode File needs a path", object.name("file")));
        return "file:" + *file;
    }
    if (*mode == "Socket") {
        if (!socket || socket->empty())
            return std::unexpected(fmt::format("{}: mode Socket needs a path", object.name("socket")));
        return "socket:" + *socket;
    }
    return std::unexpected(fmt::format("{}: '{}' is not one of Off, Pty, Tty, File, Socket, Null", object.name("mode"), *mode));
}

json disk_to_json(machine::DiskConfig const& disk)
{
    json out = { { "path", disk.path }, { "readonly", disk.readonly }, { "direct", disk.direct } };
    out["id"] = disk.id ? json(*disk.id) : json();
    return out;
}

json net_to_json(machine::NetConfig const& net)
{
    json out = { { "tap", net.tap } };
    out["mac"] = net.mac ? json(format_mac(*net.mac)) : json();
    out["ip"] = net.host_ip ? json(*net.host_ip) : json();
    out["mask"] = net.netmask ? json(*net.netmask) : json();
    out["id"] = net.id ? json(*net.id) : json();
    return out;
}

json console_mode_to_json(std::string const& spec, std::optional<std::string> const& pty)
{
    json out = { { "mode", "Off" }, { "file", nullptr }, { "socket", nullptr } };
    auto parsed = parse_serial_spec(spec);
    if (!parsed)
        return out;
    switch (parsed->kind) {
    case SerialSpec::Kind::Off: break;
    case SerialSpec::Kind::Stdio: out["mode"] = "Tty"; break;
    case SerialSpec::Kind::Pty:
        out["mode"] = "Pty";
        if (pty)
            out["file"] = *pty;
        break;
    case SerialSpec::Kind::File:
        out["mode"] = "File";
        out["file"] = parsed->path;
        break;
    case SerialSpec::Kind::Socket:
        out["mode"] = "Socket";
        out["socket"] = parsed->path;
        break;
    }
    return out;
}

std::optional<machine::MacAddress> parse_mac(std::string const& text)
{
    machine::MacAddress mac {};
    if (text.size() != 17)
        return std::nullopt;
    for (size_t index = 0; index < mac.size(); ++index) {
        auto const part = text.substr(index * 3, 2);
        if (index < 5 && text[index * 3 + 2] != ':')
            return std::nullopt;
        unsigned value = 0;
        for (char c : part) {
            int const digit = hex_digit_value(c);
            if (digit < 0)
                return std::nullopt;
            value = value * 16 + static_cast<unsigned>(digit);
        }
        mac[index] = static_cast<uint8_t>(value);
    }
    return mac;
}

std::string format_mac(machine::MacAddress const& mac)
{
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

} // namespace monarch::vmm::api
