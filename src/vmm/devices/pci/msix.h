// SPDX-License-Identifier: Apache-2.0
// MSI-X (PCI Local Bus 3.0, section 6.8.2): MsixTable, the BAR-resident vector table and
// Pending Bit Array with masking and delivery, and MsixCapability, the capability structure in
// configuration space whose Message Control drives the table's enable and function mask.
#pragma once

#include "common/result.h"
#include "vmm/devices/pci/msi.h"
#include "vmm/devices/pci/pci_config_space.h"

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

namespace monarch::vmm::pci {

namespace msix {
inline constexpr uint8_t CAPABILITY_ID = 0x11;
inline constexpr uint16_t MAX_VECTORS = 2048;      // Table Size is 11 bits (N - 1)
inline constexpr uint64_t ENTRY_SIZE = 16;         // 6.8.2.6: address lo/hi, data, vector control
inline constexpr uint16_t CONTROL_ENABLE = 1u << 15;
inline constexpr uint16_t CONTROL_FUNCTION_MASK = 1u << 14;
inline constexpr uint16_t CONTROL_TABLE_SIZE_MASK = 0x7ff;
inline constexpr uint32_t VECTOR_CONTROL_MASK = 1u << 0;
// Offsets inside the capability (from its ID byte).
inline constexpr uint16_t MESSAGE_CONTROL = 2;
inline constexpr uint16_t TABLE_OFFSET_BIR = 4;
inline constexpr uint16_t PBA_OFFSET_BIR = 8;
inline constexpr uint8_t CAPABILITY_LENGTH = 12;
} // namespace msix

enum class MsixDelivery : uint8_t {
    Delivered, // MsiRouter::trigger() was called
    Pending,   // masked (vector or function): the PBA bit is set, delivered on unmask
    Disabled,  // MSI-X is off: nothing recorded; the device falls back to INTx
    Invalid,   // vector out of range (a device bug or a guest-chosen vector number)
};

// One vector table entry as software wrote it (6.8.2.6 to 6.8.2.9).
struct MsixEntry {
    uint32_t address_low { 0 };
    uint32_t address_high { 0 };
    uint32_t data { 0 };
    uint32_t vector_control { msix::VECTOR_CONTROL_MASK }; // masked at reset (6.8.2.9)
    friend bool operator==(MsixEntry const&, MsixEntry const&) = default;
};

// A table's snapshot: the entries, the PBA and Message Control's two bits.
struct MsixState {
    std::vector<MsixEntry> entries;
    std::vector<uint64_t> pending; // the PBA, (vector count + 63) / 64 words
    bool enabled { false };
    bool function_masked { false };
    friend bool operator==(MsixState const&, MsixState const&) = default;
};

// Thread-safe: table/PBA accesses come from vCPU threads, notify() from the event loop. The
// router is called with the table's lock held so that update() for an entry is always seen
// before a trigger() of it; both router calls are non-blocking.
class MsixTable {
public:
    MsixTable(uint16_t vector_count, MsiRouter& router);

    [[nodiscard]] uint16_t vector_count() const { return static_cast<uint16_t>(m_entries.size()); }
    // Bytes the table and the PBA take in their BARs (the PBA in whole qwords, 6.8.2.7).
    [[nodiscard]] uint64_t table_size() const { return m_entries.size() * msix::ENTRY_SIZE; }
    [[nodiscard]] uint64_t pba_size() const { return m_pending.size() * 8; }

    // Guest accesses relative to the table's / PBA's start. Aligned dword and qword accesses
    // are served (6.8.2: software uses only those); others read zero, are ignored and counted.
    void table_read(uint64_t offset, std::span<std::byte> data);
    void table_write(uint64_t offset, std::span<std::byte const> data);
    void pba_read(uint64_t offset, std::span<std::byte> data);
    void pba_write(uint64_t offset, std::span<std::byte const> data); // read-only: ignored

    // Message Control's MSI-X Enable and Function Mask, as the capability last saw them.
    void set_control(bool enabled, bool function_masked);
    [[nodiscard]] bool enabled() const;
    [[nodiscard]] bool function_masked() const;

    // The device signals `vector`.
    MsixDelivery notify(uint16_t vector);

    [[nodiscard]] bool pending(uint16_t vector) const;
    [[nodiscard]] bool vector_masked(uint16_t vector) const; // the entry's own mask bit
    [[nodiscard]] MsiMessage message(uint16_t vector) const;
    [[nodiscard]] uint64_t malformed_accesses() const;

    // Snapshots. restore() refuses (Errc::Corrupt, nothing changed) a state of another vector
    // count, reserved address or vector-control bits set, or PBA bits past the last vector;
    // then reports every vector to the router (so that it sets up the routes as the guest had
    // them) and delivers nothing: pending bits stay pending until the guest unmasks.
    [[nodiscard]] MsixState state() const;
    [[nodiscard]] Result<void> restore(MsixState const& state);
    // What restore() checks, changing nothing.
    [[nodiscard]] Result<void> check_state(MsixState const& state) const;

private:
    using Entry = MsixEntry;
    [[nodiscard]] bool blocked_locked(uint16_t vector) const;
    [[nodiscard]] bool pending_locked(uint16_t vector) const;
    void set_pending_locked(uint16_t vector, bool value);
    void deliver_pending_locked();
    void write_dword_locked(uint64_t offset, uint32_t value);
    void report_locked(uint16_t vector);

    mutable std::mutex m_mutex;
    MsiRouter& m_router;
    std::vector<Entry> m_entries;
    std::vector<uint64_t> m_pending; // the PBA, one bit per vector
    bool m_enabled { false };
    bool m_function_masked { false };
    uint64_t m_malformed_accesses { 0 };
};

// Where a table or PBA lives: BAR index (BIR) and a qword-aligned offset inside it.
struct MsixLocation {
    uint8_t bar { 0 };
    uint32_t offset { 0 };
};

// The MSI-X capability structure. Constructing it adds the capability to `config` and hooks
// Message Control so that `table` follows the guest's enable and function-mask writes; both
// must outlive the config space's use (they are members of the same device).
class MsixCapability {
public:
    MsixCapability(PciConfigSpace& config, MsixTable& table, MsixLocation table_at, MsixLocation pba_at);
    [[nodiscard]] uint8_t offset() const { return m_offset; }

private:
    uint8_t m_offset { 0 };
};

} // namespace monarch::vmm::pci
