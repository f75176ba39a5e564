// SPDX-License-Identifier: Apache-2.0
// parse_command_line over CLI11. CLI11 reports errors (and --help/--version) by throwing; this
// file is the edge where those exceptions become a CliExit, so nothing above it throws.
#include "vmm/cli/options.h"

#include "vmm/api/ch_compat.h"
#include "vmm/exit_status.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#ifndef MONARCH_VERSION
#error "MONARCH_VERSION must be defined by the build"
#endif

namespace monarch::vmm::cli {
namespace {

constexpr char const* DESCRIPTION = "monarch-vmm: run one KVM virtual machine.\n"
                                    "With no --kernel it boots the built-in test guest (testos).";

constexpr char const* FOOTER = R"(Memory sizes take K, M, G or T (binary units); a bare number is MiB.
Serial: stdio (the terminal), file:PATH (output only; created or truncated), pty (prints the pty path),
socket:PATH (a Unix socket server; one client), off.
The exit status is the guest's (0-63, from its debug-exit port; 0 on power-off) or a host
error code 64 and above (see docs/monarch-vmm.md); 83 with --pvpanic: the guest panicked.

Examples:
  monarch-vmm                                   boot testos, say hello, power off
  monarch-vmm --cpus 4 --cmdline testos.run=smp  every CPU reports in
  monarch-vmm --kernel vmlinuz --initrd initrd.img --memory 1G --cpus 2 \
              --cmdline "console=ttyS0 reboot=k panic=1"
  monarch-vmm --kernel vmlinux --cmdline "earlyprintk=serial console=ttyS0" --serial file:boot.log
  monarch-vmm --kernel vmlinuz --initrd initrd.img --pvpanic    a guest panic exits 83
  monarch-vmm --api-socket /run/vm1.sock        wait for vm.create and vm.boot on the API)";

struct RawOptions {
    std::string api_socket;
    bool api_socket_given { false }; // an empty value is an error, not "no API"
    std::string kernel, initrd, cmdline, memory, cpus, serial { "stdio" }, log_level { "warn" };
    RawDeviceOptions devices;
    std::string owner_key, restore, platform;
    std::string introspect;
    bool serial_given { false };
    bool no_reboot { false };
};

void add_options(CLI::App& app, RawOptions& raw)
{
    app.add_option("--kernel", raw.kernel, "Guest kernel: an ELF with a PVH entry (vmlinux, testos.elf) or a bzImage")
        ->type_name("PATH");
    app.add_option("--initrd", raw.initrd, "Initial ramdisk loaded for the kernel")->type_name("PATH");
    app.add_option("--cmdline", raw.cmdline,
           fmt::format("Kernel command line (default: \"{}\" for testos, \"{}\" for --kernel)",
               DEFAULT_TESTOS_CMDLINE, DEFAULT_LINUX_CMDLINE))
        ->type_name("STRING");
    app.add_option("--memory", raw.memory, "Guest RAM, e.g. 512M, 1G, size=2G (default 512M)")->type_name("SIZE");
    app.add_option("--cpus", raw.cpus, fmt::format("Number of vCPUs, 1 to {} (or boot=N; default 1)", MAX_CPUS))
        ->type_name("N");
    app.add_option("--serial", raw.serial, "COM1 back end: stdio|file:PATH|pty|socket:PATH|off (default stdio)")
        ->type_name("SPEC")
        ->each([&raw](std::string const&) { raw.serial_given = true; });
    add_device_options(app, raw.devices);
    app.add_flag("--no-reboot", raw.no_reboot,
        "When the guest resets (reboot, or panic= after a panic), end with status 0 instead of booting it again "
        "in this process");
    app.add_option("--log-level", raw.log_level, "error|warn|info|debug|trace (default warn)")->type_name("LEVEL");
    app.add_option("--api-socket", raw.api_socket,
           "Serve the REST API (Cloud Hypervisor compatible) on a Unix socket: PATH, path=PATH, or fd=N "
           "for a listening socket inherited from the parent. Without --kernel, wait for vm.create")
        ->type_name("SOCKET")
        ->each([&raw](std::string const&) { raw.api_socket_given = true; });
    app.add_option("--owner-key", raw.owner_key,
           "VMCrypt owner key: file=PATH (mode 0600, 32 raw bytes or 64 hex digits) or fd=N (32 raw bytes). "
           "Enables sealed memory views, dumps and snapshots; the process becomes non-dumpable")
        ->type_name("SOURCE");
    app.add_option("--restore", raw.restore,
           "Restore a sealed snapshot into this process: source_url=file:///DIR[,prefault=on|off][,resume=on|off]"
           "[,generation=N] (needs --owner-key; the VM's config comes from the snapshot). With --api-socket the VM "
           "waits paused for vm.resume unless resume=on; without it the guest runs at once")
        ->type_name("SPEC");
    app.add_option("--platform", raw.platform,
           "uuid=UUID: the VM's UUID (VMCrypt seals for it; with --restore the snapshot must be of this VM)")
        ->type_name("SPEC");
    app.add_option("--introspect", raw.introspect,
           "Introspection of the guest's processes through the API: profile=PATH (a Volatility ISF JSON profile "
           "of the guest kernel, e.g. from monarch-profile; needs --api-socket)")
        ->type_name("SPEC");
}

// "monarch-vmm 0.1.0"; run as cloud-hypervisor (libvirt's ch driver runs
// `cloud-hypervisor --version`), "cloud-hypervisor vMAJOR.MINOR.PATCH" with the CH API level
// we implement (api/ch_compat.h).
std::string version_text(char const* argv0)
{
    std::string_view name = argv0 ? argv0 : "";
    if (auto slash = name.rfind('/'); slash != std::string_view::npos)
        name.remove_prefix(slash + 1);
    if (name == api::CH_PROGRAM_NAME)
        return fmt::format("{} v{}", api::CH_PROGRAM_NAME, api::CH_API_LEVEL);
    return std::string("monarch-vmm ") + MONARCH_VERSION;
}

std::expected<Options, CliExit> usage(std::string text) { return std::unexpected(CliExit { exit_status::Usage, std::move(text) }); }

std::expected<Options, CliExit> convert(RawOptions const& raw)
{
    Options options;
    options.no_reboot = raw.no_reboot;
    if (!raw.kernel.empty())
        options.kernel = raw.kernel;
    if (!raw.initrd.empty())
        options.initrd = raw.initrd;
    if (!raw.cmdline.empty())
        options.cmdline = raw.cmdline;
    if (!raw.memory.empty()) {
        auto size = parse_memory_size(raw.memory);
        if (!size)
            return usage(describe_memory_error(raw.memory, size.error()));
        if (*size == 0)
            return usage(fmt::format("--memory: '{}': guest memory cannot be zero", raw.memory));
        options.memory = *size;
    }
    if (!raw.cpus.empty()) {
        auto cpus = parse_cpu_count(raw.cpus);
        if (!cpus)
            return usage(describe_cpus_error(raw.cpus, cpus.error()));
        options.cpus = *cpus;
    }
    options.serial = raw.serial;
    if (raw.api_socket_given)
        options.api_socket = raw.api_socket;
    auto level = log::parse_level(raw.log_level);
    if (!level || *level == log::Level::Off)
        return usage(fmt::format("--log-level: '{}' is not one of error, warn, info, debug, trace", raw.log_level));
    options.log_level = *level;
    auto devices = convert_device_options(raw.devices);
    if (!devices)
        return usage(devices.error());
    options.devices = std::move(*devices);
    if (!raw.owner_key.empty()) {
        auto spec = parse_owner_key_spec(raw.owner_key);
        if (!spec)
            return usage(fmt::format("{} (got '{}')", to_string(spec.error()), raw.owner_key));
        options.owner_key = *spec;
    }
    if (!raw.restore.empty()) {
        auto spec = parse_restore_spec(raw.restore);
        if (!spec)
            return usage(fmt::format("{} (got '{}')", to_string(spec.error()), raw.restore));
        if (!options.owner_key)
            return usage("--restore needs --owner-key (the snapshot is sealed for the VM's owner)");
        options.restore = *spec;
    }
    if (!raw.introspect.empty()) {
        std::string_view const spec = raw.introspect;
        if (!spec.starts_with("profile=") || spec.size() == 8)
            return usage(fmt::format("--introspect: give profile=PATH (got '{}')", raw.introspect));
        if (!options.api_socket)
            return usage("--introspect needs --api-socket (introspection is served by the API)");
        options.introspect_profile = std::string(spec.substr(8));
    }
    if (!raw.platform.empty()) {
        auto uuid = parse_platform_spec(raw.platform);
        if (!uuid)
            return usage(fmt::format("{} (got '{}')", to_string(uuid.error()), raw.platform));
        options.platform_uuid = *uuid;
    }
    options.serial_given = raw.serial_given;
    // Cloud Hypervisor: --restore takes the whole VM config from the snapshot.
    bool const config_given = !raw.kernel.empty() || !raw.initrd.empty() || !raw.cmdline.empty() || !raw.memory.empty()
        || !raw.cpus.empty() || !raw.devices.disks.empty() || !raw.devices.nets.empty() || !raw.devices.vsock.empty()
        || raw.devices.rng_given || !raw.devices.console.empty() || raw.devices.pvpanic;
    if (options.restore && config_given)
        return usage("--restore takes the VM's config from the snapshot: give no --kernel, --initrd, --cmdline, --memory, "
                     "--cpus or device options with it");
    if (options.initrd && !options.kernel)
        return usage("--initrd needs --kernel (the built-in test guest takes no initrd)");
    return options;
}

} // namespace

std::expected<Options, CliExit> parse_command_line(int argc, char const* const* argv)
{
    RawOptions raw;
    try {
        CLI::App app { DESCRIPTION, "monarch-vmm" };
        app.footer(FOOTER);
        add_options(app, raw);
        app.set_version_flag("--version", version_text(argc > 0 ? argv[0] : nullptr), "Print the version and exit");
        try {
            app.parse(argc, argv);
        } catch (CLI::CallForHelp const&) {
            return std::unexpected(CliExit { exit_status::Success, app.help() });
        } catch (CLI::CallForAllHelp const&) {
            return std::unexpected(CliExit { exit_status::Success, app.help("", CLI::AppFormatMode::All) });
        } catch (CLI::CallForVersion const& version) {
            return std::unexpected(CliExit { exit_status::Success, std::string(version.what()) + "\n" });
        } catch (CLI::ParseError const& error) {
            return usage(fmt::format("{} (see monarch-vmm --help)", error.what()));
        }
    } catch (std::exception const& error) {
        // CLI11 can also throw while the options are being set up: our bug, but no crash.
        return std::unexpected(CliExit { exit_status::Internal, fmt::format("command-line parser: {}", error.what()) });
    }
    return convert(raw);
}

} // namespace monarch::vmm::cli
