// SPDX-License-Identifier: Apache-2.0
// VmDefinition from and to JSON, with every field checked (nlohmann-json throws; each access
// here is guarded by a type test first, and parsing is caught at the edge).
#include "supervisor/vm_definition.h"

#include "common/size_parse.h"
#include "vmm/api/vm_config_json.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace monarch::supervisor {

using nlohmann::json;

std::string_view to_string(RestartPolicy policy)
{
    return policy == RestartPolicy::OnFailure ? "on-failure" : "never";
}

bool is_valid_vm_name(std::string_view name)
{
    if (name.empty() || name.size() > MAX_NAME_LENGTH || name[0] == '.' || name[0] == '-')
        return false;
    for (char c : name) {
        bool const ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.'
            || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

namespace {

std::expected<std::string, DefinitionError> absolute_path(json const& value, std::string_view field)
{
    if (!value.is_string())
        return std::unexpected(fmt::format("{}: must be a string", field));
    auto path = value.get<std::string>();
    if (path.empty() || path[0] != '/')
        return std::unexpected(fmt::format("{}: '{}' is not an absolute path", field, path));
    if (path.find('\0') != std::string::npos)
        return std::unexpected(fmt::format("{}: contains a NUL byte", field));
    return path;
}

std::expected<uint64_t, DefinitionError> memory_from_json(json const& value)
{
    std::optional<uint64_t> bytes;
    // A number is bytes, as Cloud Hypervisor's memory.size; a string is a size as monarch-vmm's
    // --memory reads it (common/size_parse.h: a bare number there is MiB).
    if (value.is_number_unsigned()) {
        bytes = value.get<uint64_t>();
    } else if (value.is_string()) {
        if (auto parsed = parse_size(value.get<std::string>()))
            bytes = *parsed;
    }
    if (!bytes)
        return std::unexpected(fmt::format("memory: {} is not a size (a number of bytes, or a string like \"512M\" or \"512\", which is MiB)", value.dump()));
    if (*bytes < MIN_MEMORY || *bytes % 4096 != 0)
        return std::unexpected(fmt::format("memory: {} bytes is not a multiple of 4 KiB of at least 1 MiB", *bytes));
    return *bytes;
}

std::expected<std::vector<DiskDefinition>, DefinitionError> disks_from_json(json const& value)
{
    if (!value.is_array())
        return std::unexpected(DefinitionError("disks: must be an array"));
    std::vector<DiskDefinition> disks;
    for (auto const& entry : value) {
        if (!entry.is_object())
            return std::unexpected(DefinitionError("disks: each entry must be an object {\"path\":..., \"readonly\":...}"));
        DiskDefinition disk;
        for (auto const& [key, field] : entry.items()) {
            if (key == "path") {
                auto path = absolute_path(field, "disks.path");
                if (!path)
                    return std::unexpected(path.error());
                disk.path = *path;
            } else if (key == "readonly" && field.is_boolean()) {
                disk.readonly = field.get<bool>();
            } else {
                return std::unexpected(fmt::format("disks: unknown or mistyped field '{}'", key));
            }
        }
        if (disk.path.empty())
            return std::unexpected(DefinitionError("disks: an entry has no path"));
        disks.push_back(std::move(disk));
    }
    return disks;
}

// One field of the top-level object; an empty error means "accepted".
std::optional<DefinitionError> apply_field(VmDefinition& definition, std::string const& key, json const& value)
{
    if (key == "name") {
        if (!value.is_string() || !is_valid_vm_name(value.get<std::string>()))
            return fmt::format("name: {} is not 1-64 characters of [A-Za-z0-9._-] (not starting with '.' or '-')", value.dump());
        definition.name = value.get<std::string>();
    } else if (key == "cpus") {
        if (!value.is_number_unsigned() || value.get<uint64_t>() < 1 || value.get<uint64_t>() > MAX_CPUS)
            return fmt::format("cpus: {} is not a count from 1 to {}", value.dump(), MAX_CPUS);
        definition.cpus = value.get<uint32_t>();
    } else if (key == "memory") {
        auto memory = memory_from_json(value);
        if (!memory)
            return memory.error();
        definition.memory = *memory;
    } else if (key == "kernel" || key == "initrd") {
        auto path = absolute_path(value, key);
        if (!path)
            return path.error();
        (key == "kernel" ? definition.kernel : definition.initrd) = *path;
    } else if (key == "cmdline") {
        if (!value.is_string() || value.get<std::string>().size() > 4096)
            return DefinitionError("cmdline: must be a string of at most 4096 bytes");
        definition.cmdline = value.get<std::string>();
    } else if (key == "disks") {
        auto disks = disks_from_json(value);
        if (!disks)
            return disks.error();
        definition.disks = std::move(*disks);
    } else if (key == "restart") {
        if (value == "never")
            definition.restart = RestartPolicy::Never;
        else if (value == "on-failure")
            definition.restart = RestartPolicy::OnFailure;
        else
            return fmt::format("restart: {} is neither \"never\" nor \"on-failure\"", value.dump());
    } else {
        return fmt::format("unknown field '{}'", key);
    }
    return std::nullopt;
}

} // namespace

std::expected<VmDefinition, DefinitionError> definition_from_json(json const& object)
{
    if (!object.is_object())
        return std::unexpected(DefinitionError("a VM definition must be a JSON object"));
    VmDefinition definition;
    for (auto const& [key, value] : object.items()) {
        if (auto error = apply_field(definition, key, value))
            return std::unexpected(*error);
    }
    if (definition.name.empty())
        return std::unexpected(DefinitionError("name: missing"));
    if (!definition.kernel)
        return std::unexpected(DefinitionError("kernel: missing (monarch-vmm's vm.create needs a payload kernel)"));
    return definition;
}

std::expected<VmDefinition, DefinitionError> definition_from_text(std::string_view text)
{
    auto object = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (object.is_discarded())
        return std::unexpected(DefinitionError("the body is not valid JSON"));
    return definition_from_json(object);
}

json to_json(VmDefinition const& definition)
{
    json object = { { "name", definition.name }, { "cpus", definition.cpus }, { "memory", definition.memory },
        { "restart", to_string(definition.restart) } };
    if (definition.kernel)
        object["kernel"] = *definition.kernel;
    if (definition.initrd)
        object["initrd"] = *definition.initrd;
    if (definition.cmdline)
        object["cmdline"] = *definition.cmdline;
    json disks = json::array();
    for (auto const& disk : definition.disks)
        disks.push_back({ { "path", disk.path }, { "readonly", disk.readonly } });
    object["disks"] = std::move(disks);
    return object;
}

// monarch-vmm's own writer builds the body, so that vm.create always says what monarch-vmm's
// parser (api::vm_config_from_json) reads: the two cannot drift apart.
json to_vm_config(VmDefinition const& definition)
{
    vmm::machine::VmConfig config;
    config.cpus = definition.cpus;
    config.memory = definition.memory;
    config.kernel = definition.kernel.value_or(std::string());
    config.initrd = definition.initrd;
    config.cmdline = definition.cmdline.value_or(std::string());
    config.serial = "pty"; // monarchctl console attaches to it (vm.info names it)
    config.console.mode = "off";
    for (auto const& disk : definition.disks)
        config.disks.push_back(vmm::machine::DiskConfig { .path = disk.path, .readonly = disk.readonly, .direct = false, .id = std::nullopt });
    return vmm::api::vm_config_to_json(config);
}

} // namespace monarch::supervisor
