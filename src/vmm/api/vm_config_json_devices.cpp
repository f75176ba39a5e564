// SPDX-License-Identifier: Apache-2.0
// The device entries of Cloud Hypervisor's VmConfig (cloud-hypervisor.yaml: DiskConfig,
// NetConfig, RngConfig, VsockConfig, SerialConfig/ConsoleConfig with ConsoleMode
// Off|Pty|Tty|File|Socket|Null) to machine::VmConfig's entries, and back for vm.info.
#include "vmm/api/vm_config_json_parts.h"

#include "common/hex.h"
#include "vmm/chardev/char_backend.h"
#include "vmm/machine/device_checks.h"

#include <fmt/format.h>

namespace monarch::vmm::api {

using nlohmann::json;

namespace {

// Monarch's own key, absent from Cloud Hypervisor's schema: absent means pci.
ParseResult<machine::VirtioTransport> transport_field(JsonObject& object)
{
    auto text = TRY_PARSE(object.string_field("transport"));
    if (!text)
        return machine::VirtioTransport::Pci;
    auto transport = machine::parse_virtio_transport(*text);
    if (!transport)
        return std::unexpected(fmt::format("{}: {}", object.name("transport"), machine::bad_transport(*text).message));
    return *transport;
}

// The shared checks' problem, named as this object's field ("net[0].mac: ...").
template<typename Config>
ParseResult<Config> checked(JsonObject const& object, Config config, machine::DeviceCheck (*check)(Config const&))
{
    if (auto problem = check(config))
        return std::unexpected(fmt::format("{}: {}", object.name(problem->key), problem->message));
    return config;
}

} // namespace

void put_transport(json& out, machine::VirtioTransport transport)
{
    // Only when not the default, so that vm.info stays Cloud Hypervisor's shape for pci devices.
    if (transport != machine::VirtioTransport::Pci)
        out["transport"] = std::string(machine::to_string(transport));
}

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
    disk.transport = TRY_PARSE(transport_field(object));
    TRY_PARSE_VOID(object.finish({
        { "iommu", false }, { "num_queues", 1 }, { "queue_size", 128 }, { "vhost_user", false }, { "vhost_socket", nullptr },
        { "pci_segment", 0 }, { "queue_affinity", json::array() }, { "backing_files", false }, { "sparse", true },
        { "image_type", "Raw" }, { "lock_granularity", "ByteRange" }, { "poll_queue", true },
        { "disable_io_uring", false }, { "disable_aio", false } }));
    return checked(object, std::move(disk), &machine::check_disk);
}

ParseResult<machine::NetConfig> parse_net(json const& value, std::string where)
{
    auto object = TRY_PARSE(JsonObject::from(value, where));
    machine::NetConfig net;
    net.tap = TRY_PARSE(object.string_field("tap")).value_or("");
    if (auto mac = TRY_PARSE(object.string_field("mac"))) {
        net.mac = parse_mac(*mac);
        if (!net.mac)
            return std::unexpected(fmt::format("{}: '{}' is not a MAC address (xx:xx:xx:xx:xx:xx)", object.name("mac"), *mac));
    }
    net.host_ip = TRY_PARSE(object.string_field("ip"));
    net.netmask = TRY_PARSE(object.string_field("mask"));
    net.id = TRY_PARSE(object.string_field("id"));
    net.transport = TRY_PARSE(transport_field(object));
    TRY_PARSE_VOID(object.finish({
        { "iommu", false }, { "num_queues", 2 }, { "queue_size", 256 }, { "vhost_user", false }, { "vhost_socket", nullptr },
        { "vhost_mode", "Client" }, { "pci_segment", 0 }, { "offload_tso", true }, { "offload_ufo", true },
        { "offload_csum", true }, { "fds", json::array() } }));
    return checked(object, std::move(net), &machine::check_net);
}

ParseResult<machine::RngConfig> parse_rng(json const& value)
{
    auto object = TRY_PARSE(JsonObject::from(value, "rng"));
    machine::RngConfig rng;
    rng.source = TRY_PARSE(object.string_field("src")).value_or("/dev/urandom");
    rng.transport = TRY_PARSE(transport_field(object));
    TRY_PARSE_VOID(object.finish({ { "iommu", false }, { "pci_segment", 0 } }));
    return checked(object, std::move(rng), &machine::check_rng);
}

ParseResult<machine::VsockConfig> parse_vsock(json const& value)
{
    auto object = TRY_PARSE(JsonObject::from(value, "vsock"));
    machine::VsockConfig vsock;
    // virtio spec, "Device configuration layout" of vsock: CIDs 0-2 are reserved, and the
    // upper 32 bits of guest_cid are reserved too; 0xffffffff is VMADDR_CID_ANY.
    auto cid = TRY_PARSE(object.unsigned_field("cid", UINT64_MAX));
    if (!cid)
        return std::unexpected(fmt::format("{}: required, 3 or more", object.name("cid")));
    vsock.cid = *cid;
    vsock.socket = TRY_PARSE(object.string_field("socket")).value_or("");
    vsock.transport = TRY_PARSE(transport_field(object));
    TRY_PARSE_VOID(object.finish({ { "iommu", false }, { "pci_segment", 0 } }));
    return checked(object, std::move(vsock), &machine::check_vsock);
}

namespace {

ParseResult<std::string> console_mode(JsonObject& object)
{
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

} // namespace

ParseResult<std::string> parse_console_mode(json const& value, std::string where)
{
    auto object = TRY_PARSE(JsonObject::from(value, where));
    return console_mode(object);
}

ParseResult<machine::ConsoleConfig> parse_console(json const& value)
{
    auto object = TRY_PARSE(JsonObject::from(value, "console"));
    machine::ConsoleConfig console;
    console.transport = TRY_PARSE(transport_field(object));
    console.mode = TRY_PARSE(console_mode(object));
    return console;
}

ParseResult<void> check_devices(machine::VmConfig const& config)
{
    if (auto problem = machine::check_virtio_transports(config))
        return std::unexpected(fmt::format("{}: {}", problem->key, problem->message));
    return {};
}

json disk_to_json(machine::DiskConfig const& disk)
{
    json out = { { "path", disk.path }, { "readonly", disk.readonly }, { "direct", disk.direct } };
    out["id"] = disk.id ? json(*disk.id) : json();
    put_transport(out, disk.transport);
    return out;
}

json net_to_json(machine::NetConfig const& net)
{
    json out = { { "tap", net.tap } };
    out["mac"] = net.mac ? json(format_mac(*net.mac)) : json();
    out["ip"] = net.host_ip ? json(*net.host_ip) : json();
    out["mask"] = net.netmask ? json(*net.netmask) : json();
    out["id"] = net.id ? json(*net.id) : json();
    put_transport(out, net.transport);
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
