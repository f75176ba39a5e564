// SPDX-License-Identifier: Apache-2.0
#include "vmm/cli/build_error_message.h"

#include "vmm/exit_status.h"

#include <array>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace monarch::vmm::cli {
namespace {

using machine::BuildError;
using machine::BuildStep;
using machine::VmConfig;

CliExit make(int status, std::string text) { return CliExit { status, std::move(text) }; }

std::string reason(Error const& error)
{
    return error.code == Errc::Sys ? std::string(std::strerror(error.sys_errno)) : std::string(error.context);
}

CliExit image_read_error(char const* what, std::string const& path, Error const& error)
{
    if (error.code == Errc::Sys)
        return make(exit_status::NoInput, fmt::format("cannot read {} {}: {}", what, path, reason(error)));
    return make(exit_status::BadImage, fmt::format("{} {}: {}", what, path, reason(error)));
}

CliExit memory_error(VmConfig const& config, Error const& error, uint64_t host_total)
{
    if (error.code == Errc::InvalidArgument)
        return make(exit_status::Usage, fmt::format("--memory: {} bytes ({}): {}", config.memory, format_size(config.memory), reason(error)));
    if (error.code == Errc::OutOfRange)
        return make(exit_status::Config, fmt::format("--memory: {} is more than this host has ({} in /proc/meminfo MemTotal)",
            format_size(config.memory), format_size(host_total)));
    return make(exit_status::HostError, fmt::format("cannot allocate {} of guest memory: {}", format_size(config.memory), to_string(error)));
}

CliExit load_error(VmConfig const& config, Error const& error)
{
    switch (error.code) {
    case Errc::BadImage:
    case Errc::Unsupported:
        return make(exit_status::BadImage, fmt::format("kernel {} is not a loadable image: {}", config.kernel, reason(error)));
    case Errc::OutOfRange:
        return make(exit_status::Config, fmt::format("kernel {}{} does not fit in {} of guest memory: {} (use a larger --memory)",
            config.kernel, config.initrd ? fmt::format(" with initrd {}", *config.initrd) : std::string(),
            format_size(config.memory), reason(error)));
    case Errc::InvalidArgument:
        return make(exit_status::Usage, fmt::format("--cmdline: {}", reason(error)));
    default:
        return make(exit_status::Internal, fmt::format("cannot load kernel {}: {}", config.kernel, to_string(error)));
    }
}

// A device's back end: a missing or unreadable image is missing input; a socket path in use is
// an output we cannot create; anything else is a value the host cannot honour.
CliExit device_error(std::string const& subject, Error const& error)
{
    std::string text = fmt::format("{}: {}", subject, error.code == Errc::Sys ? fmt::format("{}: {}", error.context, reason(error)) : reason(error));
    if (error.code == Errc::NotFound)
        return make(exit_status::NoInput, std::move(text));
    if (error.code == Errc::Sys && error.sys_errno == EBUSY)
        return make(exit_status::DiskInUse, std::move(text));
    if (error.code == Errc::Sys && (error.sys_errno == ENOENT || error.sys_errno == EACCES || error.sys_errno == EISDIR || error.sys_errno == EROFS))
        return make(exit_status::NoInput, std::move(text));
    if (error.code == Errc::Sys && (error.sys_errno == EADDRINUSE || error.sys_errno == EEXIST))
        return make(exit_status::CannotCreate, std::move(text));
    return make(exit_status::Config, std::move(text));
}

CliExit kvm_error(Error const& error)
{
    if (error.code == Errc::Sys && (error.sys_errno == EACCES || error.sys_errno == EPERM))
        return make(exit_status::KvmPermission, std::string(error.context));
    if (error.code == Errc::Sys)
        return make(exit_status::KvmUnavailable, to_string(error));
    return make(exit_status::KvmUnavailable, std::string(error.context));
}

} // namespace

std::string format_size(uint64_t bytes)
{
    constexpr std::array<char const*, 5> units { "bytes", "KiB", "MiB", "GiB", "TiB" };
    size_t unit = 0;
    double value = static_cast<double>(bytes);
    while (value >= 1024 && unit + 1 < units.size()) {
        value /= 1024;
        ++unit;
    }
    if (value == static_cast<double>(static_cast<uint64_t>(value)))
        return fmt::format("{} {}", static_cast<uint64_t>(value), units[unit]);
    return fmt::format("{:.1f} {}", value, units[unit]);
}

CliExit describe_build_error(BuildError const& failure, VmConfig const& config, uint64_t host_total)
{
    auto const& error = failure.error;
    switch (failure.step) {
    case BuildStep::SerialSpec:
        return make(exit_status::Usage, fmt::format("--serial: '{}' is not one of stdio, file:PATH, pty, socket:PATH, off", config.serial));
    case BuildStep::Memory:
        return memory_error(config, error, host_total);
    case BuildStep::ReadKernel:
        return image_read_error("kernel", config.kernel, error);
    case BuildStep::ReadInitrd:
        return image_read_error("initrd", config.initrd.value_or(""), error);
    case BuildStep::InitrdSize:
        return make(exit_status::Config, fmt::format("initrd {} is larger than guest memory ({}): use a larger --memory",
            config.initrd.value_or(""), format_size(config.memory)));
    case BuildStep::FirmwareTables:
        if (error.code == Errc::InvalidArgument)
            return make(exit_status::Config, fmt::format("--cpus {}: {}", config.cpus, reason(error)));
        return make(exit_status::Internal, fmt::format("cannot write the firmware tables: {}", to_string(error)));
    case BuildStep::LoadKernel:
        return load_error(config, error);
    case BuildStep::OpenKvm:
        return kvm_error(error);
    case BuildStep::CpuCount:
        return make(exit_status::Config, fmt::format("--cpus {} is more than this host's KVM supports ({})", config.cpus, failure.limit));
    case BuildStep::Serial:
        return make(exit_status::CannotCreate, fmt::format("--serial {}: {}", config.serial, to_string(error)));
    case BuildStep::VirtioDevices:
        return device_error(failure.subject, error);
    case BuildStep::Devices:
        if (error.code == Errc::Unsupported)
            return make(exit_status::Config, std::string(error.context));
        break;
    case BuildStep::CreateVm:
    case BuildStep::CreateVcpus:
    case BuildStep::Start:
        break;
    }
    return make(exit_status::HostError, fmt::format("cannot set up the VM: {}", to_string(error)));
}

} // namespace monarch::vmm::cli
