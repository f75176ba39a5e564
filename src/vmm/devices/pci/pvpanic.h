// SPDX-License-Identifier: Apache-2.0
// PvPanic: QEMU's PCI pvpanic device (`-device pvpanic-pci`, Cloud Hypervisor's `--pvpanic`),
// through which a guest tells the host that it panicked. Protocol (QEMU docs/specs/pvpanic.rst,
// Linux drivers/misc/pvpanic/pvpanic-pci.c and pvpanic.c): a byte read at offset 0 of BAR0
// returns the events the device supports, a byte write there reports events.
#pragma once

#include "common/result.h"
#include "vmm/devices/pci/pci_config_space.h"
#include "vmm/devices/pci/pci_device.h"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>

namespace monarch::vmm::pci {

// Red Hat's ID range for virtual hardware; the Linux driver binds by vendor and device.
inline constexpr uint16_t PVPANIC_VENDOR = 0x1b36;
inline constexpr uint16_t PVPANIC_DEVICE = 0x0011;
inline constexpr uint8_t PVPANIC_REVISION = 1;
inline constexpr uint8_t PVPANIC_CLASS = 0x08;    // base system peripheral
inline constexpr uint8_t PVPANIC_SUBCLASS = 0x80; // other
inline constexpr uint16_t PVPANIC_SUBSYSTEM_VENDOR = 0x1af4; // what QEMU gives every device
inline constexpr uint16_t PVPANIC_SUBSYSTEM = 0x1100;
// QEMU's region is 2 bytes, which its BAR rounds up to 16. Ours is one page, as every memory
// BAR we create (pci_device.h): no other device's registers share the page a driver maps.
inline constexpr uint64_t PVPANIC_BAR_SIZE = 0x1000;
inline constexpr uint8_t PVPANIC_BAR = 0;

// The event bits (pvpanic.rst; include/uapi/misc/pvpanic.h).
namespace pvpanic_event {
inline constexpr uint8_t PANICKED = 1u << 0;     // the guest panicked
inline constexpr uint8_t CRASH_LOADED = 1u << 1; // it panicked and a crash (kdump) kernel runs next
inline constexpr uint8_t SUPPORTED = PANICKED | CRASH_LOADED;
} // namespace pvpanic_event

struct PvPanicCounters {
    uint64_t panicked { 0 };
    uint64_t crash_loaded { 0 };
    uint64_t unknown_events { 0 }; // writes carrying bits we do not support (those bits are dropped)
    uint64_t odd_accesses { 0 };   // another offset, width or BAR: read 0 / ignored
};

class PvPanic final : public PciDevice {
public:
    // Called on the writing vCPU thread, without the device lock, once per reported event:
    // they may only request things (stop the VM, log), never join vCPUs.
    struct Events {
        std::function<void()> panicked;
        std::function<void()> crash_loaded;
    };
    explicit PvPanic(Events);

    [[nodiscard]] std::string_view name() const override { return "pvpanic"; }
    void config_read(uint16_t offset, std::span<std::byte> data) override;
    void config_write(uint16_t offset, std::span<std::byte const> data) override;
    [[nodiscard]] std::vector<BarRequest> bar_requests() const override;
    void bar_assigned(uint8_t index, uint64_t address) override;
    void bar_read(uint8_t index, uint64_t offset, std::span<std::byte> data) override;
    void bar_write(uint8_t index, uint64_t offset, std::span<std::byte const> data) override;

    [[nodiscard]] PvPanicCounters counters() const;

    // Snapshots: the device's only state is its configuration space (BAR address, command
    // register...), as QEMU migrates it. restore() refuses (Errc::Corrupt, nothing changed)
    // bytes whose read-only parts are not this device's; the caller then has the host bridge
    // re-map the BAR (PciRoot follows a write of the command register).
    [[nodiscard]] std::array<std::byte, config::SIZE> config_state() const;
    [[nodiscard]] Result<void> restore_config(std::span<std::byte const> bytes);

private:
    [[nodiscard]] static bool event_access(uint8_t index, uint64_t offset, size_t size);

    Events const m_events; // immutable after construction: called without the lock
    mutable std::mutex m_mutex; // the configuration space
    PciConfigSpace m_config;
    std::atomic<uint64_t> m_panicked { 0 };
    std::atomic<uint64_t> m_crash_loaded { 0 };
    std::atomic<uint64_t> m_unknown_events { 0 };
    std::atomic<uint64_t> m_odd_accesses { 0 };
};

} // namespace monarch::vmm::pci
