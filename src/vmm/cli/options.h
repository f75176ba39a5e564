// SPDX-License-Identifier: Apache-2.0
// monarch-vmm's command line: the options, the value parsers (sizes, CPU counts, log levels),
// and parse_command_line, which turns argv into Options or into the exit the program takes
// (help and version text, or a usage error naming the option and value).
#pragma once

#include "common/log.h"
#include "common/result.h"
#include "vmm/cli/device_options.h"
#include "vmm/cli/owner_key_option.h"

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace monarch::vmm::cli {

// 254: xAPIC IDs are 8 bits, 0xff is the broadcast ID and the IOAPIC takes the ID after the
// last CPU (arch::MAX_APIC_ID is 0xfd), so CPUs get IDs 0..253. KVM's own limit
// (KVM_CAP_MAX_VCPUS) is checked once /dev/kvm is open.
inline constexpr uint32_t MAX_CPUS = 254;
inline constexpr uint64_t DEFAULT_MEMORY = 512ULL * 1024 * 1024;
inline constexpr std::string_view DEFAULT_TESTOS_CMDLINE = "testos.run=hello";
inline constexpr std::string_view DEFAULT_LINUX_CMDLINE = "console=ttyS0 reboot=k panic=1";

struct Options {
    std::optional<std::string> kernel;   // none: the built-in test guest
    std::optional<std::string> initrd;
    std::optional<std::string> cmdline;  // none: the default for the kernel kind
    // --api-socket PATH | path=PATH | fd=N: serve the REST API there (checked by main_logic).
    std::optional<std::string> api_socket;
    uint64_t memory { DEFAULT_MEMORY };  // bytes
    uint32_t cpus { 1 };
    std::string serial { "stdio" };      // checked by the serial back end's parser
    log::Level log_level { log::Level::Warn };
    DeviceOptions devices;               // --disk, --net, --vsock, --rng, --console, --pvpanic
    // --owner-key file=PATH|fd=N and --restore source_url=...: VMCrypt (owner_key_option.h).
    std::optional<OwnerKeySpec> owner_key;
    std::optional<RestoreSpec> restore;
    // --introspect profile=PATH: the guest kernel's ISF profile for the introspection
    // endpoints (docs/monarch-vmm.md, "Introspection"); needs --api-socket.
    std::optional<std::string> introspect_profile;
    // --platform uuid=UUID (canonical); none: a random UUID (a restore takes the snapshot's).
    std::optional<std::string> platform_uuid;
    bool serial_given { false };         // --restore keeps the snapshot's serial unless given
    // --no-reboot: a guest reset ends monarch-vmm (status 0) instead of rebooting the guest in
    // this process (QEMU's -no-reboot; Cloud Hypervisor always reboots).
    bool no_reboot { false };
};

// How the program ends without running a VM: help or version (status 0, text for stdout), or
// a usage error (status exit_status::Usage, one line for stderr without the "error:" prefix).
struct CliExit {
    int status { 0 };
    std::string text;
};

[[nodiscard]] std::expected<Options, CliExit> parse_command_line(int argc, char const* const* argv);

// "512M", "1G", "1024K", "2T", "4096" (a bare number is MiB), also Cloud Hypervisor's
// "size=512M". Suffixes are case-insensitive and may end in "B" or "iB" (all binary units).
// Unparsable or overflowing: InvalidArgument. Zero is returned as 0 (the caller refuses it).
[[nodiscard]] Result<uint64_t> parse_memory_size(std::string_view text);

// "4", also Cloud Hypervisor's "boot=4"; 1..MAX_CPUS, else InvalidArgument/OutOfRange.
[[nodiscard]] Result<uint32_t> parse_cpu_count(std::string_view text);

// The usage error for a bad --memory/--cpus value: "--memory: 'banana' is not a size ...".
[[nodiscard]] std::string describe_memory_error(std::string_view text, Error const&);
[[nodiscard]] std::string describe_cpus_error(std::string_view text, Error const&);

} // namespace monarch::vmm::cli
