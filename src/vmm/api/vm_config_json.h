// SPDX-License-Identifier: Apache-2.0
// Cloud Hypervisor's VmConfig JSON (the vm.create body, the "config" of vm.info) and
// machine::VmConfig. Both the current form (payload.kernel/cmdline/initramfs) and the older
// top-level kernel.path / cmdline.args / initramfs.path that libvirt 9.0 sends are read.
// What is accepted, and which defaults of unimplemented fields pass: docs/monarch-vmm.md, "API".
#pragma once

#include "vmm/api/json_object.h"
#include "vmm/machine/vm_config.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace monarch::vmm::api {

// Cloud Hypervisor's defaults for what the body leaves out (its --memory and --cpus).
inline constexpr uint64_t CH_DEFAULT_MEMORY = 512ULL * 1024 * 1024;
inline constexpr uint32_t CH_DEFAULT_VCPUS = 1;

[[nodiscard]] ParseResult<machine::VmConfig> vm_config_from_json(nlohmann::json const& body);
// The same from a request body (text), with parse errors as messages.
[[nodiscard]] ParseResult<machine::VmConfig> vm_config_from_body(std::string_view body);

// What only a running VM knows, shown in vm.info's config where CH shows it: the pty paths
// as serial.file / console.file (libvirt reads them for `virsh console`).
struct RuntimeDetails {
    std::optional<std::string> serial_pty;
    std::optional<std::string> console_pty;
};

[[nodiscard]] nlohmann::json vm_config_to_json(machine::VmConfig const&, RuntimeDetails const& = {});

} // namespace monarch::vmm::api
