// SPDX-License-Identifier: Apache-2.0
#include "vmm/cli/main_logic.h"

#include "common/log.h"
#include "vmm/cli/api_mode.h"
#include "vmm/cli/build_error_message.h"
#include "vmm/cli/device_options.h"
#include "vmm/cli/options.h"
#include "vmm/cli/run_until_end.h"
#include "vmm/cli/vmcrypt_setup.h"
#include "vmm/arch/topology.h"
#include "vmm/event/event_loop.h"
#include "vmm/exit_status.h"
#include "vmm/machine/signals.h"
#include "vmm/machine/vm_builder.h"
#include "vmm/memory/memory_size.h"

#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <unistd.h>

#if !defined(MONARCH_BUILD_TESTOS) || !defined(MONARCH_INSTALL_TESTOS)
#error "the build must define MONARCH_BUILD_TESTOS and MONARCH_INSTALL_TESTOS"
#endif

namespace monarch::vmm::cli {

// The CLI's bound is the topology's: one xAPIC ID per vCPU, the IOAPIC's ID after them.
static_assert(MAX_CPUS == arch::MAX_VCPUS);

namespace {

// The one line a user sees when monarch-vmm cannot run the VM.
int report(CliExit const& exit)
{
    if (exit.status == exit_status::Success) {
        std::fputs(exit.text.c_str(), stdout);
        std::fflush(stdout);
    } else {
        std::fprintf(stderr, "monarch-vmm: error: %s\n", exit.text.c_str());
    }
    return exit.status;
}

std::string program_directory()
{
    char buffer[4096];
    ssize_t length = ::readlink("/proc/self/exe", buffer, sizeof buffer - 1);
    if (length <= 0)
        return ".";
    std::string path(buffer, static_cast<size_t>(length));
    auto slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

std::expected<machine::VmConfig, CliExit> resolve(Options const& options)
{
    machine::VmConfig config;
    if (options.kernel) {
        config.kernel = *options.kernel;
        config.cmdline = options.cmdline.value_or(std::string(DEFAULT_LINUX_CMDLINE));
    } else {
        auto testos = find_testos();
        if (!testos)
            return std::unexpected(CliExit { exit_status::NoInput,
                fmt::format("no --kernel given and the built-in test guest testos.elf was not found (looked in {}); "
                            "build it (ninja testos) or pass --kernel PATH", fmt::join(testos_candidates(), ", ")) });
        config.kernel = *testos;
        config.cmdline = options.cmdline.value_or(std::string(DEFAULT_TESTOS_CMDLINE));
    }
    config.initrd = options.initrd;
    config.memory = options.memory;
    config.cpus = options.cpus;
    config.serial = options.serial;
    config.platform.uuid = options.platform_uuid;
    apply_device_options(options.devices, config);
    // One terminal cannot carry two consoles: both would read the same keystrokes.
    if (config.serial == "stdio" && config.console.mode == "stdio")
        return std::unexpected(CliExit { exit_status::Usage,
            "--console stdio and --serial stdio cannot share the terminal; give one of them pty, file=PATH, socket=PATH or off" });
    return config;
}

} // namespace

std::vector<std::string> testos_candidates()
{
    std::vector<std::string> candidates;
    if (char const* overridden = std::getenv("MONARCH_TESTOS"); overridden && *overridden)
        candidates.emplace_back(overridden);
    candidates.push_back(program_directory() + "/testos.elf");
    candidates.emplace_back(MONARCH_BUILD_TESTOS);
    candidates.emplace_back(MONARCH_INSTALL_TESTOS);
    return candidates;
}

std::optional<std::string> find_testos()
{
    for (auto const& candidate : testos_candidates())
        if (::access(candidate.c_str(), R_OK) == 0)
            return candidate;
    return std::nullopt;
}

int run_monarch_vmm(int argc, char const* const* argv)
{
    auto options = parse_command_line(argc, argv);
    if (!options)
        return report(options.error());
    log::set_level(options->log_level);
    // The checks that need no file and no KVM come first, so that their errors never depend on
    // what else is wrong (a missing kernel, an absent /dev/kvm).
    uint64_t host_total = host_memory_total().value_or(0);
    if (options->api_socket) {
        if (auto bad = check_api_socket(*options->api_socket))
            return report(*bad);
    }
    if (auto spec = parse_serial_spec(options->serial); !spec)
        return report(CliExit { exit_status::Usage,
            fmt::format("--serial: '{}' is not one of stdio, file:PATH, pty, socket:PATH, off", options->serial) });
    if (auto size = check_guest_memory_size(options->memory, host_total); !size) {
        machine::VmConfig sized;
        sized.memory = options->memory;
        return report(describe_build_error(machine::BuildError { machine::BuildStep::Memory, size.error() }, sized, host_total));
    }
    // VMCrypt: the process becomes non-dumpable before the owner key is read.
    std::optional<vmcrypt::VmSealing> sealing;
    if (options->owner_key) {
        auto created = set_up_sealing(*options->owner_key, options->platform_uuid);
        if (!created)
            return report(created.error());
        sealing.emplace(std::move(*created));
    }
    vmcrypt::VmSealing* const sealing_ptr = sealing ? &*sealing : nullptr;
    if (options->restore) {
        auto request = restore_request(*options);
        if (!request)
            return report(request.error());
        // Before any thread exists, so that every thread inherits the blocked mask.
        auto signal_fd = machine::block_termination_signals();
        if (!signal_fd)
            return report(CliExit { exit_status::HostError, to_string(signal_fd.error()) });
        if (options->api_socket)
            return run_with_api(*options->api_socket, std::nullopt, signal_fd->get(), !options->no_reboot, host_total, sealing_ptr, std::move(*request),
                                options->introspect_profile);
        return run_restore(*request, *sealing, signal_fd->get(), { !options->no_reboot, host_total });
    }
    // With --api-socket and no --kernel, the VM comes from vm.create (Cloud Hypervisor's way).
    if (options->api_socket && !options->kernel) {
        auto signal_fd = machine::block_termination_signals();
        if (!signal_fd)
            return report(CliExit { exit_status::HostError, to_string(signal_fd.error()) });
        return run_with_api(*options->api_socket, std::nullopt, signal_fd->get(), !options->no_reboot, host_total, sealing_ptr, std::nullopt,
                            options->introspect_profile);
    }
    auto config = resolve(*options);
    if (!config)
        return report(config.error());
    log::info("kernel {} cmdline \"{}\" memory {} cpus {}", config->kernel, config->cmdline, format_size(config->memory), config->cpus);

    // Before any thread exists, so that every thread inherits the blocked mask.
    auto signal_fd = machine::block_termination_signals();
    if (!signal_fd)
        return report(CliExit { exit_status::HostError, to_string(signal_fd.error()) });

    if (options->api_socket)
        return run_with_api(*options->api_socket, std::move(*config), signal_fd->get(), !options->no_reboot, host_total, sealing_ptr, std::nullopt,
                            options->introspect_profile);
    event::EventLoop loop; // before the VM: it outlives everything the VM registers on it
    auto vmm = machine::VmBuilder(*config, loop).build();
    if (!vmm)
        return report(describe_build_error(vmm.error(), *config, host_total));
    return run_until_end(std::move(*vmm), *config, loop, signal_fd->get(), { !options->no_reboot, host_total });
}

} // namespace monarch::vmm::cli
