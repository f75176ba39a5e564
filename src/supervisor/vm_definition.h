// SPDX-License-Identifier: Apache-2.0
// VmDefinition: what monarchd keeps of one VM (name, vCPUs, memory, payload, disks, restart
// policy), its validation from JSON (monarchctl's request or the state directory's file), and
// the Cloud Hypervisor VmConfig that monarchd sends to the VM's monarch-vmm as vm.create.
#pragma once

#include <cstdint>
#include <expected>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace monarch::supervisor {

enum class RestartPolicy { Never, OnFailure };

[[nodiscard]] std::string_view to_string(RestartPolicy);

struct DiskDefinition {
    std::string path;
    bool readonly { false };
};

struct VmDefinition {
    std::string name;
    uint32_t cpus { 1 };
    uint64_t memory { 512ULL * 1024 * 1024 }; // bytes
    std::optional<std::string> kernel;        // required by the VMM's vm.create
    std::optional<std::string> initrd;
    std::optional<std::string> cmdline;
    std::vector<DiskDefinition> disks;
    RestartPolicy restart { RestartPolicy::Never };
};

inline constexpr uint32_t MAX_CPUS = 254;          // monarch-vmm's limit (xAPIC IDs)
inline constexpr uint64_t MIN_MEMORY = 1ULL << 20; // 1 MiB
inline constexpr size_t MAX_NAME_LENGTH = 64;

// A message for the client ("memory: '12X' is not a size"), never thrown.
using DefinitionError = std::string;

// Names are file names in the state directory and path segments in the API: 1-64 characters
// of [A-Za-z0-9._-], not starting with '.' or '-'.
[[nodiscard]] bool is_valid_vm_name(std::string_view);

// Validates every field; unknown fields are refused, not ignored. memory may be a number
// (bytes) or a size string read by common/size_parse.h ("512M"; a bare "512" is MiB). Paths must be absolute (the VMM runs in another directory).
[[nodiscard]] std::expected<VmDefinition, DefinitionError> definition_from_json(nlohmann::json const&);
[[nodiscard]] std::expected<VmDefinition, DefinitionError> definition_from_text(std::string_view json_text);
[[nodiscard]] nlohmann::json to_json(VmDefinition const&);

// Cloud Hypervisor's VmConfig (cpus.boot_vcpus, memory.size, payload, disks, serial as a pty),
// written by monarch-vmm's own api::vm_config_to_json.
[[nodiscard]] nlohmann::json to_vm_config(VmDefinition const&);

} // namespace monarch::supervisor
