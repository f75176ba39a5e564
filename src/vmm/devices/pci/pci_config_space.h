// SPDX-License-Identifier: Apache-2.0
// PciConfigSpace: the type-0 configuration header a PCI function embeds (PCI Local Bus 3.0,
// section 6.1): IDs, command/status, BARs with sizing, the capability list and the interrupt
// registers, with per-bit write masks so that read-only bits stay read-only.
#pragma once

#include "common/result.h"
#include "vmm/devices/pci/pci_device.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace monarch::vmm::pci {

// Type-0 header registers (PCI Local Bus 3.0, figure 6-1).
namespace config {
inline constexpr uint16_t VENDOR_ID = 0x00;
inline constexpr uint16_t DEVICE_ID = 0x02;
inline constexpr uint16_t COMMAND = 0x04;
inline constexpr uint16_t STATUS = 0x06;
inline constexpr uint16_t REVISION_ID = 0x08;
inline constexpr uint16_t PROG_IF = 0x09;
inline constexpr uint16_t SUBCLASS = 0x0a;
inline constexpr uint16_t CLASS_CODE = 0x0b;
inline constexpr uint16_t CACHE_LINE_SIZE = 0x0c;
inline constexpr uint16_t HEADER_TYPE = 0x0e;
inline constexpr uint16_t BAR0 = 0x10;
inline constexpr uint16_t SUBSYSTEM_VENDOR_ID = 0x2c;
inline constexpr uint16_t SUBSYSTEM_ID = 0x2e;
inline constexpr uint16_t EXPANSION_ROM = 0x30;
inline constexpr uint16_t CAPABILITIES_POINTER = 0x34;
inline constexpr uint16_t INTERRUPT_LINE = 0x3c;
inline constexpr uint16_t INTERRUPT_PIN = 0x3d;
inline constexpr uint16_t FIRST_CAPABILITY = 0x40; // right after the predefined header
inline constexpr size_t SIZE = 256;                // conventional space; extended reads zero
inline constexpr size_t ECAM_FUNCTION_SIZE = 4096; // what ECAM maps per function (PCIe)
inline constexpr uint8_t BAR_COUNT = 6;
} // namespace config

// Command register bits (6.2.2) the model implements; the others are hardwired to zero.
namespace command {
inline constexpr uint16_t IO_SPACE = 1u << 0;
inline constexpr uint16_t MEMORY_SPACE = 1u << 1;
inline constexpr uint16_t BUS_MASTER = 1u << 2;
inline constexpr uint16_t INTX_DISABLE = 1u << 10;
} // namespace command

// Status register bits (6.2.3).
namespace status {
inline constexpr uint16_t INTERRUPT = 1u << 3;        // INTx asserted (read-only)
inline constexpr uint16_t CAPABILITIES_LIST = 1u << 4; // capability pointer valid
} // namespace status

// BAR register low bits (6.2.5.1).
namespace bar_bits {
inline constexpr uint32_t IO_SPACE = 1u << 0;
inline constexpr uint32_t MEMORY_TYPE_64 = 2u << 1;
inline constexpr uint32_t PREFETCHABLE = 1u << 3;
inline constexpr uint32_t MEMORY_ADDRESS_MASK = ~0xfu;
inline constexpr uint32_t IO_ADDRESS_MASK = ~0x3u;
} // namespace bar_bits

// Interrupt pin register values (6.2.4).
enum class InterruptPin : uint8_t { None = 0, IntA = 1, IntB = 2, IntC = 3, IntD = 4 };

struct PciIds {
    uint16_t vendor { 0 };
    uint16_t device { 0 };
    uint8_t revision { 0 };
    uint8_t class_code { 0 }; // base class
    uint8_t subclass { 0 };
    uint8_t prog_if { 0 };
    uint16_t subsystem_vendor { 0 };
    uint16_t subsystem { 0 };
};

// Called around guest accesses inside one capability. `offset` is relative to the capability's
// first byte (its ID), `size` the number of bytes of the access that fall inside it.
struct CapabilityHooks {
    // Before the stored bytes are returned: the owner may refresh them with write_register().
    std::function<void(uint16_t offset, size_t size)> before_read;
    // After the write has been merged into the stored bytes through the writable mask.
    std::function<void(uint16_t offset, size_t size)> after_write;
};

// Not thread-safe: the device that embeds it serialises accesses (it holds its own lock
// around config_read/config_write). Hooks and observers run inside those calls.
class PciConfigSpace {
public:
    explicit PciConfigSpace(PciIds const&, InterruptPin = InterruptPin::None);

    // Guest accesses (what PciDevice::config_read/config_write forward): 1, 2 or 4 bytes not
    // crossing a dword. Offsets past the conventional 256 bytes read zero and ignore writes;
    // so does a malformed access (counted in malformed_accesses()).
    void config_read(uint16_t offset, std::span<std::byte> data);
    void config_write(uint16_t offset, std::span<std::byte const> data);

    // Device side: BARs. add_bar() before the device is attached; a malformed request (index
    // out of range or taken, size not a power of two, memory BAR under 16 bytes, I/O BAR under
    // 4 or over 256 bytes) is our bug and aborts.
    void add_bar(BarRequest const&);
    [[nodiscard]] std::vector<BarRequest> bar_requests() const;
    [[nodiscard]] std::optional<BarRequest> bar_request(uint8_t index) const;
    // The address the BAR registers hold now (type bits stripped; 0 for an absent BAR).
    [[nodiscard]] uint64_t bar_address(uint8_t index) const;
    // The host bridge (or the device) places a BAR: stores `address` (masked to the BAR's
    // size) without calling the BAR observer.
    void set_bar_address(uint8_t index, uint64_t address);

    // Device side: capabilities. Appends capability `id` with `body` (the bytes after the ID
    // and next-pointer bytes) to the list, dword-aligned from 0x40, and returns the offset of
    // its ID byte. `writable` (empty, or one mask byte per body byte) says which body bits the
    // guest may write; the header bytes are read-only. Running out of space aborts (our bug).
    uint8_t add_capability(uint8_t id, std::span<std::byte const> body, std::span<std::byte const> writable = {}, CapabilityHooks hooks = {});

    // Device side: direct register access that bypasses masks, hooks and observers (values a
    // device updates itself, e.g. a capability's read-only state). Out of range aborts.
    [[nodiscard]] uint8_t read_u8(uint16_t offset) const;
    [[nodiscard]] uint16_t read_u16(uint16_t offset) const;
    [[nodiscard]] uint32_t read_u32(uint16_t offset) const;
    void write_u8(uint16_t offset, uint8_t value);
    void write_u16(uint16_t offset, uint16_t value);
    void write_u32(uint16_t offset, uint32_t value);

    [[nodiscard]] uint16_t command() const { return read_u16(config::COMMAND); }
    [[nodiscard]] bool memory_enabled() const { return command() & command::MEMORY_SPACE; }
    [[nodiscard]] bool io_enabled() const { return command() & command::IO_SPACE; }
    [[nodiscard]] bool bus_master() const { return command() & command::BUS_MASTER; }
    [[nodiscard]] bool intx_disabled() const { return command() & command::INTX_DISABLE; }
    // Status bit 3 follows the device's INTx state (6.2.3).
    void set_interrupt_status(bool asserted);
    [[nodiscard]] uint8_t interrupt_line() const { return read_u8(config::INTERRUPT_LINE); }
    void set_interrupt_line(uint8_t line) { write_u8(config::INTERRUPT_LINE, line); }

    // Called after a guest write changed BAR `index`'s address (also half of a 64-bit pair)
    // or the command register; the host bridge and the VMM follow the BAR with them.
    void set_bar_observer(std::function<void(uint8_t index, uint64_t old_address, uint64_t new_address)>);
    void set_command_observer(std::function<void(uint16_t old_command, uint16_t new_command)>);

    [[nodiscard]] uint64_t malformed_accesses() const { return m_malformed_accesses; }

    // Snapshots: the 256 bytes of the header and capabilities as they are now. restore()
    // accepts a state only if every bit software cannot write (IDs, BAR type bits, the
    // capability list) equals this space's own, except Status' Interrupt bit, which the device
    // recomputes; Errc::Corrupt (nothing changed) otherwise. It copies the bytes without
    // calling hooks or observers: the owner re-derives what it keeps beside them (MSI-X
    // control, INTx Disable) and the host bridge re-maps the BARs.
    [[nodiscard]] std::array<std::byte, config::SIZE> state() const { return m_bytes; }
    [[nodiscard]] Result<void> restore(std::span<std::byte const> bytes);
    // What restore() checks, changing nothing.
    [[nodiscard]] Result<void> check_state(std::span<std::byte const> bytes) const;

private:
    struct Capability {
        uint8_t offset;
        uint8_t length;
        CapabilityHooks hooks;
    };
    struct Bar {
        BarRequest request;
        bool present { false };
        bool upper_half { false }; // the high dword of a 64-bit BAR
    };
    [[nodiscard]] static bool valid_access(uint16_t offset, size_t size);
    void run_read_hooks(uint16_t offset, size_t size);
    void run_write_hooks(uint16_t offset, size_t size);
    [[nodiscard]] std::array<uint64_t, config::BAR_COUNT> bar_addresses() const;
    void set_mask(uint16_t offset, size_t size, uint64_t mask);

    std::array<std::byte, config::SIZE> m_bytes {};
    std::array<std::byte, config::SIZE> m_writable {};
    std::array<Bar, config::BAR_COUNT> m_bars {};
    std::vector<Capability> m_capabilities;
    uint16_t m_next_capability { config::FIRST_CAPABILITY };
    std::function<void(uint8_t, uint64_t, uint64_t)> m_bar_observer;
    std::function<void(uint16_t, uint16_t)> m_command_observer;
    uint64_t m_malformed_accesses { 0 };
};

} // namespace monarch::vmm::pci
