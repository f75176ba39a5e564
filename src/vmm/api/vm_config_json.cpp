// SPDX-License-Identifier: Apache-2.0
// The top level of Cloud Hypervisor's VmConfig (cloud-hypervisor.yaml, components.schemas.
// VmConfig): cpus, memory, the payload in its two forms, the device lists, each read by
// vm_config_json_devices.cpp, and the pvpanic flag. Writing goes the other way for vm.info.
#include "vmm/api/vm_config_json.h"

#include "vmm/api/vm_config_json_parts.h"
#include "vmm/arch/topology.h"
#include "vmm/memory/memory_size.h"

#include <fmt/format.h>

namespace monarch::vmm::api {

using nlohmann::json;

namespace {

// CpusConfig: boot_vcpus and max_vcpus must agree (no CPU hotplug).
ParseResult<uint32_t> parse_cpus(json const& value)
{
    auto object = TRY_PARSE(JsonObject::from(value, "cpus"));
    auto boot = TRY_PARSE(object.unsigned_field("boot_vcpus", arch::MAX_VCPUS));
    auto max = TRY_PARSE(object.unsigned_field("max_vcpus", arch::MAX_VCPUS));
    uint64_t const count = boot.value_or(max.value_or(CH_DEFAULT_VCPUS));
    if (count == 0)
        return std::unexpected(std::string("cpus.boot_vcpus: must be at least 1"));
    if (max && *max != count)
        return std::unexpected(fmt::format("cpus.max_vcpus: {} differs from boot_vcpus {}; CPU hotplug is not supported", *max, count));
    TRY_PARSE_VOID(object.finish({
        { "topology", nullptr }, { "kvm_hyperv", false }, { "max_phys_bits", 46 }, { "affinity", json::array() },
        { "features", json { { "amx", false } } }, { "nested", true }, { "core_scheduling", "Vm" } }));
    return static_cast<uint32_t>(count);
}

// MemoryConfig: a plain size; hotplug, sharing, huge pages and zones are not implemented.
ParseResult<uint64_t> parse_memory(json const& value)
{
    auto object = TRY_PARSE(JsonObject::from(value, "memory"));
    auto size = TRY_PARSE(object.unsigned_field("size", UINT64_MAX));
    if (!size)
        return std::unexpected(std::string("memory.size: required"));
    if (auto checked = check_guest_memory_size(*size, 0); !checked)
        return std::unexpected(fmt::format("memory.size: {}: {}", *size, to_string(checked.error())));
    TRY_PARSE_VOID(object.finish({
        { "hotplug_size", nullptr }, { "hotplugged_size", nullptr }, { "mergeable", false }, { "hotplug_method", "Acpi" },
        { "shared", false }, { "hugepages", false }, { "hugepage_size", nullptr }, { "prefault", false },
        { "reserve", false }, { "thp", true }, { "zones", json::array() } }));
    return *size;
}

// PlatformConfig: only the UUID; the other fields must keep CH's defaults.
ParseResult<std::optional<std::string>> parse_platform(json const& value)
{
    auto object = TRY_PARSE(JsonObject::from(value, "platform"));
    auto uuid = TRY_PARSE(object.string_field("uuid"));
    TRY_PARSE_VOID(object.finish({ { "num_pci_segments", 1 }, { "iommu_segments", json::array() }, { "serial_number", nullptr },
        { "oem_strings", json::array() }, { "tdx", false }, { "sev_snp", false } }));
    if (!uuid)
        return std::nullopt;
    auto canonical = machine::canonical_uuid(*uuid);
    if (!canonical)
        return std::unexpected(fmt::format("platform.uuid: '{}' is not a UUID (8-4-4-4-12 hex digits)", *uuid));
    return canonical;
}

// A legacy {"path": ...} / {"args": ...} object as libvirt 9.0 sends it.
ParseResult<std::optional<std::string>> legacy_string(JsonObject& top, std::string_view key, std::string_view inner)
{
    auto const* value = top.field(key);
    if (!value)
        return std::nullopt;
    auto object = TRY_PARSE(JsonObject::from(*value, std::string(key)));
    auto text = TRY_PARSE(object.string_field(inner));
    TRY_PARSE_VOID(object.finish({}));
    return text;
}

ParseResult<void> parse_payload(JsonObject& top, machine::VmConfig& config)
{
    std::optional<std::string> kernel, cmdline, initramfs;
    if (auto const* value = top.field("payload")) {
        auto payload = TRY_PARSE(JsonObject::from(*value, "payload"));
        kernel = TRY_PARSE(payload.string_field("kernel"));
        cmdline = TRY_PARSE(payload.string_field("cmdline"));
        initramfs = TRY_PARSE(payload.string_field("initramfs"));
        TRY_PARSE_VOID(payload.finish({})); // firmware, igvm, host_data: not implemented
    }
    auto legacy_kernel = TRY_PARSE(legacy_string(top, "kernel", "path"));
    auto legacy_cmdline = TRY_PARSE(legacy_string(top, "cmdline", "args"));
    auto legacy_initramfs = TRY_PARSE(legacy_string(top, "initramfs", "path"));
    if ((kernel && legacy_kernel) || (cmdline && legacy_cmdline) || (initramfs && legacy_initramfs))
        return std::unexpected(std::string("payload: give the kernel, cmdline and initramfs either in payload or in the "
                                           "older kernel/cmdline/initramfs objects, not both"));
    kernel = kernel ? kernel : legacy_kernel;
    if (!kernel || kernel->empty())
        return std::unexpected(std::string("payload.kernel: required (a kernel path; firmware booting is not supported)"));
    config.kernel = *kernel;
    config.cmdline = cmdline ? *cmdline : legacy_cmdline.value_or(""); // CH's default: empty
    config.initrd = initramfs ? initramfs : legacy_initramfs;
    if (config.initrd && config.initrd->empty())
        return std::unexpected(std::string("payload.initramfs: empty path"));
    return {};
}

template<typename Item, typename Parse>
ParseResult<std::vector<Item>> parse_list(JsonObject& top, std::string_view key, Parse parse)
{
    std::vector<Item> items;
    auto const* value = top.field(key);
    if (!value)
        return items;
    if (!value->is_array())
        return std::unexpected(fmt::format("{}: expected an array", key));
    for (size_t index = 0; index < value->size(); ++index)
        items.push_back(TRY_PARSE(parse((*value)[index], fmt::format("{}[{}]", key, index))));
    return items;
}

// CH's DebugConsoleConfig defaults to mode Off: only that is accepted.
ParseResult<void> check_debug_console(JsonObject& top)
{
    auto const* value = top.field("debug_console");
    if (!value)
        return {};
    if (!value->is_object() || value->value("mode", json()) != "Off")
        return std::unexpected(std::string("debug_console: not supported by monarch-vmm (only mode Off is accepted)"));
    return {};
}

ParseResult<machine::VmConfig> parse_top(json const& body)
{
    auto top = TRY_PARSE(JsonObject::from(body, ""));
    machine::VmConfig config;
    config.cpus = CH_DEFAULT_VCPUS;
    config.memory = CH_DEFAULT_MEMORY;
    if (auto const* cpus = top.field("cpus"))
        config.cpus = TRY_PARSE(parse_cpus(*cpus));
    if (auto const* memory = top.field("memory"))
        config.memory = TRY_PARSE(parse_memory(*memory));
    TRY_PARSE_VOID(parse_payload(top, config));
    config.disks = TRY_PARSE(parse_list<machine::DiskConfig>(top, "disks", parse_disk));
    config.nets = TRY_PARSE(parse_list<machine::NetConfig>(top, "net", parse_net));
    if (auto const* rng = top.field("rng"))
        config.rng = TRY_PARSE(parse_rng(*rng));
    if (auto const* vsock = top.field("vsock"))
        config.vsock = TRY_PARSE(parse_vsock(*vsock));
    if (auto const* platform = top.field("platform"))
        config.platform.uuid = TRY_PARSE(parse_platform(*platform));
    // CH's VmConfig.pvpanic: a boolean, default false (null too).
    config.pvpanic = TRY_PARSE(top.bool_field("pvpanic")).value_or(false);
    // CH's defaults are serial Null and console Tty; absent here means ours: serial off
    // (nobody reads the VMM's stdio under an API client) and no virtio console.
    config.serial = "off";
    if (auto const* serial = top.field("serial"))
        config.serial = TRY_PARSE(parse_console_mode(*serial, "serial"));
    if (auto const* console = top.field("console"))
        config.console = TRY_PARSE(parse_console(*console));
    TRY_PARSE_VOID(check_devices(config));
    TRY_PARSE_VOID(check_debug_console(top));
    auto const none = json::array();
    TRY_PARSE_VOID(top.finish({
        { "iommu", false }, { "watchdog", false }, { "landlock_enable", false },
        { "fs", none }, { "pmem", none }, { "devices", none }, { "user_devices", none }, { "vdpa", none },
        { "numa", none }, { "rate_limit_groups", none }, { "pci_segments", none }, { "landlock_rules", none },
        { "preserved_fds", none }, { "sgx_epc", none }, { "generic_vhost_user", none },
        { "balloon", nullptr }, { "tpm", nullptr }, { "rtc", nullptr } }));
    return config;
}

} // namespace

ParseResult<machine::VmConfig> vm_config_from_json(json const& body)
{
    // Everything above checks types before reading; this only stops a missed case at the edge.
    try {
        return parse_top(body);
    } catch (json::exception const& error) {
        return std::unexpected(fmt::format("malformed VmConfig: {}", error.what()));
    }
}

ParseResult<machine::VmConfig> vm_config_from_body(std::string_view body)
{
    auto parsed = TRY_PARSE(parse_body(body));
    return vm_config_from_json(parsed);
}

json vm_config_to_json(machine::VmConfig const& config, RuntimeDetails const& runtime)
{
    json out = json::object();
    out["cpus"] = { { "boot_vcpus", config.cpus }, { "max_vcpus", config.cpus } };
    out["memory"] = { { "size", config.memory } };
    out["platform"] = config.platform.uuid ? json { { "uuid", *config.platform.uuid } } : json();
    json payload = { { "kernel", config.kernel }, { "cmdline", config.cmdline } };
    if (config.initrd)
        payload["initramfs"] = *config.initrd;
    out["payload"] = payload;
    out["disks"] = json::array();
    for (auto const& disk : config.disks)
        out["disks"].push_back(disk_to_json(disk));
    out["net"] = json::array();
    for (auto const& net : config.nets)
        out["net"].push_back(net_to_json(net));
    out["rng"] = config.rng ? json { { "src", config.rng->source } } : json();
    if (config.rng)
        put_transport(out["rng"], config.rng->transport);
    out["vsock"] = config.vsock ? json { { "cid", config.vsock->cid }, { "socket", config.vsock->socket } } : json();
    if (config.vsock)
        put_transport(out["vsock"], config.vsock->transport);
    out["serial"] = console_mode_to_json(config.serial, runtime.serial_pty);
    out["console"] = console_mode_to_json(config.console.mode, runtime.console_pty);
    put_transport(out["console"], config.console.transport);
    out["pvpanic"] = config.pvpanic; // CH's vm.info always shows it
    return out;
}

} // namespace monarch::vmm::api
