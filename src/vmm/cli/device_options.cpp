// SPDX-License-Identifier: Apache-2.0
// Parsers for --disk, --net, --vsock, --rng and --console (Cloud Hypervisor's comma-separated
// key=value lists) and their registration on the CLI11 app, with the --pvpanic flag.
#include "vmm/cli/device_options.h"

#include "vmm/machine/device_checks.h"

#include <CLI/CLI.hpp>
#include <charconv>
#include <fmt/format.h>
#include <span>

namespace monarch::vmm::cli {
namespace {

using Unexpected = std::unexpected<DeviceOptionError>;

// TRY for std::expected<T, DeviceOptionError>: the value, or return its error.
#define TRY_OPTION(expr) __extension__({              \
        auto try_option_ = (expr);                    \
        if (!try_option_)                             \
            return Unexpected(try_option_.error());   \
        std::move(try_option_).value();               \
    })

struct KeyValue {
    std::string_view key;
    std::string_view value;
};

// "a=1,b=2" into pairs, each key one of `keys` and given once, no value empty.
std::expected<std::vector<KeyValue>, DeviceOptionError> split_pairs(std::string_view option, std::string_view text,
    std::span<std::string_view const> keys)
{
    std::vector<KeyValue> pairs;
    if (text.empty())
        return Unexpected(fmt::format("{}: empty value (expected {}=...)", option, keys.front()));
    while (true) {
        auto comma = text.find(',');
        auto item = text.substr(0, comma);
        auto equals = item.find('=');
        if (equals == std::string_view::npos)
            return Unexpected(fmt::format("{}: '{}' is not key=value", option, item));
        KeyValue pair { item.substr(0, equals), item.substr(equals + 1) };
        if (std::find(keys.begin(), keys.end(), pair.key) == keys.end())
            return Unexpected(fmt::format("{}: unknown key '{}' (known keys: {})", option, pair.key, fmt::join(keys, ", ")));
        for (auto const& seen : pairs) {
            if (seen.key == pair.key)
                return Unexpected(fmt::format("{}: key '{}' given twice", option, pair.key));
        }
        if (pair.value.empty())
            return Unexpected(fmt::format("{}: {}: empty value", option, pair.key));
        pairs.push_back(pair);
        if (comma == std::string_view::npos)
            break;
        text.remove_prefix(comma + 1);
    }
    return pairs;
}

// Cloud Hypervisor's toggles: on/off, also true/false.
std::expected<bool, DeviceOptionError> parse_toggle(std::string_view option, KeyValue const& pair)
{
    if (pair.value == "on" || pair.value == "true")
        return true;
    if (pair.value == "off" || pair.value == "false")
        return false;
    return Unexpected(fmt::format("{}: {}: '{}' is not on or off", option, pair.key, pair.value));
}

std::optional<uint8_t> parse_hex_byte(std::string_view text)
{
    uint8_t value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
    if (error != std::errc {} || end != text.data() + text.size() || text.size() != 2)
        return std::nullopt;
    return value;
}

std::expected<machine::MacAddress, DeviceOptionError> parse_mac(std::string_view option, KeyValue const& pair)
{
    auto bad = [&](std::string_view why) {
        return Unexpected(fmt::format("{}: {}: '{}' is not a usable MAC address ({})", option, pair.key, pair.value, why));
    };
    machine::MacAddress mac {};
    if (pair.value.size() != 17)
        return bad("expected six hex bytes separated by ':', e.g. 52:54:00:12:34:56");
    for (size_t i = 0; i < mac.size(); ++i) {
        if (i > 0 && pair.value[i * 3 - 1] != ':')
            return bad("expected six hex bytes separated by ':', e.g. 52:54:00:12:34:56");
        auto byte = parse_hex_byte(pair.value.substr(i * 3, 2));
        if (!byte)
            return bad("expected six hex bytes separated by ':', e.g. 52:54:00:12:34:56");
        mac[i] = *byte;
    }
    return mac;
}

std::expected<machine::VirtioTransport, DeviceOptionError> parse_transport(std::string_view option, KeyValue const& pair)
{
    auto transport = machine::parse_virtio_transport(pair.value);
    if (!transport)
        return Unexpected(fmt::format("{}: transport: {}", option, machine::bad_transport(pair.value).message));
    return *transport;
}

// The checks the API applies too (machine/device_checks.h), in this option's words.
template<typename Config>
std::expected<Config, DeviceOptionError> checked(std::string_view option, Config config, machine::DeviceCheck (*check)(Config const&))
{
    if (auto problem = check(config))
        return Unexpected(fmt::format("{}: {}: {}", option, problem->key, problem->message));
    return config;
}

constexpr std::string_view DISK_KEYS[] = { "path", "readonly", "direct", "id", "transport" };
constexpr std::string_view NET_KEYS[] = { "tap", "mac", "ip", "mask", "id", "transport" };
constexpr std::string_view VSOCK_KEYS[] = { "cid", "socket", "transport" };
constexpr std::string_view RNG_KEYS[] = { "src", "transport" };
constexpr std::string_view CONSOLE_KEYS[] = { "transport" };

} // namespace

std::expected<machine::DiskConfig, DeviceOptionError> parse_disk_option(std::string_view text)
{
    constexpr std::string_view option = "--disk";
    auto pairs = split_pairs(option, text, DISK_KEYS);
    if (!pairs)
        return Unexpected(pairs.error());
    machine::DiskConfig disk;
    for (auto const& pair : *pairs) {
        if (pair.key == "path") {
            disk.path = pair.value;
        } else if (pair.key == "readonly" || pair.key == "direct") {
            auto toggle = parse_toggle(option, pair);
            if (!toggle)
                return Unexpected(toggle.error());
            (pair.key == "readonly" ? disk.readonly : disk.direct) = *toggle;
        } else if (pair.key == "id") {
            disk.id = std::string(pair.value);
        } else if (pair.key == "transport") {
            disk.transport = TRY_OPTION(parse_transport(option, pair));
        }
    }
    if (disk.path.empty())
        return Unexpected(fmt::format("{}: '{}': missing path=IMAGE (the raw disk image)", option, text));
    return checked(option, std::move(disk), &machine::check_disk);
}

std::expected<machine::NetConfig, DeviceOptionError> parse_net_option(std::string_view text)
{
    constexpr std::string_view option = "--net";
    auto pairs = split_pairs(option, text, NET_KEYS);
    if (!pairs)
        return Unexpected(pairs.error());
    machine::NetConfig net;
    for (auto const& pair : *pairs) {
        if (pair.key == "tap") {
            net.tap = pair.value;
        } else if (pair.key == "mac") {
            net.mac = TRY_OPTION(parse_mac(option, pair));
        } else if (pair.key == "ip" || pair.key == "mask") {
            (pair.key == "ip" ? net.host_ip : net.netmask) = std::string(pair.value);
        } else if (pair.key == "id") {
            net.id = std::string(pair.value);
        } else if (pair.key == "transport") {
            net.transport = TRY_OPTION(parse_transport(option, pair));
        }
    }
    return checked(option, std::move(net), &machine::check_net);
}

std::expected<machine::VsockConfig, DeviceOptionError> parse_vsock_option(std::string_view text)
{
    constexpr std::string_view option = "--vsock";
    auto pairs = split_pairs(option, text, VSOCK_KEYS);
    if (!pairs)
        return Unexpected(pairs.error());
    machine::VsockConfig vsock;
    bool have_cid = false;
    for (auto const& pair : *pairs) {
        if (pair.key == "cid") {
            auto [end, error] = std::from_chars(pair.value.data(), pair.value.data() + pair.value.size(), vsock.cid);
            if (error != std::errc {} || end != pair.value.data() + pair.value.size())
                return Unexpected(fmt::format("{}: cid: '{}' is not a number", option, pair.value));
            have_cid = true;
        } else if (pair.key == "socket") {
            vsock.socket = pair.value;
        } else if (pair.key == "transport") {
            vsock.transport = TRY_OPTION(parse_transport(option, pair));
        }
    }
    if (!have_cid)
        return Unexpected(fmt::format("{}: '{}': missing cid=N (the guest's context ID, 3 or more)", option, text));
    if (vsock.socket.empty())
        return Unexpected(fmt::format("{}: '{}': missing socket=PATH (the host's Unix socket)", option, text));
    return checked(option, std::move(vsock), &machine::check_vsock);
}

std::expected<machine::RngConfig, DeviceOptionError> parse_rng_option(std::string_view text)
{
    constexpr std::string_view option = "--rng";
    machine::RngConfig rng;
    if (text.empty())
        return rng;
    auto pairs = split_pairs(option, text, RNG_KEYS);
    if (!pairs)
        return Unexpected(pairs.error());
    for (auto const& pair : *pairs) {
        if (pair.key == "src")
            rng.source = pair.value;
        else if (pair.key == "transport")
            rng.transport = TRY_OPTION(parse_transport(option, pair));
    }
    return checked(option, std::move(rng), &machine::check_rng);
}

std::expected<machine::ConsoleConfig, DeviceOptionError> parse_console_option(std::string_view text)
{
    constexpr std::string_view option = "--console";
    machine::ConsoleConfig console;
    // MODE[,transport=pci|mmio]: Cloud Hypervisor's extra keys follow the mode after a comma.
    if (auto comma = text.find(','); comma != std::string_view::npos) {
        auto pairs = split_pairs(option, text.substr(comma + 1), CONSOLE_KEYS);
        if (!pairs)
            return Unexpected(pairs.error());
        console.transport = TRY_OPTION(parse_transport(option, pairs->front()));
        text = text.substr(0, comma);
    }
    if (text == "off" || text == "null") {
        console.mode = "off";
    } else if (text == "pty") {
        console.mode = "pty";
    } else if (text == "tty" || text == "stdio") {
        console.mode = "stdio";
    } else if (text.starts_with("file=") || text.starts_with("file:") || text.starts_with("socket=")
        || text.starts_with("socket:")) {
        auto separator = text.find_first_of("=:");
        auto kind = text.substr(0, separator);
        auto path = text.substr(separator + 1);
        if (path.empty())
            return Unexpected(fmt::format("{}: {}: empty path", option, kind));
        console.mode = fmt::format("{}:{}", kind, path);
    } else {
        return Unexpected(fmt::format("{}: '{}' is not off, pty, tty, file=PATH or socket=PATH", option, text));
    }
    return console;
}

void add_device_options(CLI::App& app, RawDeviceOptions& raw)
{
    app.add_option("--disk", raw.disks, "virtio-blk disk: path=IMG[,readonly=on][,direct=on][,id=ID][,transport=pci|mmio] (repeatable)")
        ->type_name("SPEC");
    app.add_option("--net", raw.nets, "virtio-net on a tap: tap=NAME[,mac=MAC][,ip=IP,mask=MASK][,id=ID][,transport=pci|mmio] (repeatable)")
        ->type_name("SPEC");
    app.add_option("--vsock", raw.vsock, "virtio-vsock: cid=N,socket=PATH[,transport=pci|mmio]")->type_name("SPEC")->expected(1);
    app.add_option("--rng", raw.rng, "virtio-rng from getrandom(); optional src=/dev/urandom,transport=pci|mmio")
        ->type_name("[SPEC]")
        ->expected(0, 1)
        ->each([&raw](std::string const&) { raw.rng_given = true; })
        ->trigger_on_parse();
    app.add_option("--console", raw.console, "virtio-console port 0: off|pty|tty|file=PATH|socket=PATH[,transport=pci|mmio] (default off)")
        ->type_name("SPEC")
        ->expected(1);
    // Cloud Hypervisor's --pvpanic: a flag, no value.
    app.add_flag("--pvpanic", raw.pvpanic,
        "pvpanic PCI device (QEMU's pvpanic-pci, 1b36:0011): a guest that panics ends the VM with exit status 83 "
        "instead of rebooting through its panic= timer (Linux guest: module pvpanic_pci)");
}

std::expected<DeviceOptions, DeviceOptionError> convert_device_options(RawDeviceOptions const& raw)
{
    DeviceOptions options;
    for (auto const& text : raw.disks) {
        auto disk = parse_disk_option(text);
        if (!disk)
            return Unexpected(disk.error());
        options.disks.push_back(*disk);
    }
    for (auto const& text : raw.nets) {
        auto net = parse_net_option(text);
        if (!net)
            return Unexpected(net.error());
        options.nets.push_back(*net);
    }
    if (!raw.vsock.empty()) {
        auto vsock = parse_vsock_option(raw.vsock.back());
        if (!vsock)
            return Unexpected(vsock.error());
        options.vsock = *vsock;
    }
    if (raw.rng_given || !raw.rng.empty()) {
        auto rng = parse_rng_option(raw.rng.empty() ? std::string_view {} : std::string_view { raw.rng.back() });
        if (!rng)
            return Unexpected(rng.error());
        options.rng = *rng;
    }
    if (!raw.console.empty()) {
        auto console = parse_console_option(raw.console.back());
        if (!console)
            return Unexpected(console.error());
        options.console = *console;
    }
    options.pvpanic = raw.pvpanic;
    machine::VmConfig config;
    apply_device_options(options, config);
    if (auto problem = machine::check_virtio_transports(config))
        return Unexpected(fmt::format("--disk/--net/--rng/--vsock/--console: {}: {}", problem->key, problem->message));
    return options;
}

void apply_device_options(DeviceOptions const& options, machine::VmConfig& config)
{
    config.disks = options.disks;
    config.nets = options.nets;
    config.vsock = options.vsock;
    config.rng = options.rng;
    config.console = options.console;
    config.pvpanic = options.pvpanic;
}

} // namespace monarch::vmm::cli
