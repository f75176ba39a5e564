// SPDX-License-Identifier: Apache-2.0
// I8042: the PS/2 keyboard controller as far as Linux's i8042 driver probes it, and the reset
// line it drives (0xFE on the command port: the FADT reset register points there too).
// No keyboard or mouse is attached; boot Linux with i8042.noaux i8042.nomux i8042.dumbkbd.
#pragma once

#include "common/result.h"
#include "vmm/devices/bus_device.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

namespace monarch::vmm {

namespace i8042_bits {
inline constexpr uint8_t STATUS_OBF = 0x01;      // output buffer full
inline constexpr uint8_t STATUS_SYS = 0x04;      // system flag (self-test passed)
inline constexpr uint8_t STATUS_CMD = 0x08;      // last write went to the command port
inline constexpr uint8_t STATUS_UNLOCKED = 0x10; // keyboard not inhibited
inline constexpr uint8_t STATUS_AUX_OBF = 0x20;  // the byte in the output buffer is from AUX
inline constexpr uint8_t CTR_KBD_INT = 0x01;
inline constexpr uint8_t CTR_AUX_INT = 0x02;
inline constexpr uint8_t CTR_SYS = 0x04;
inline constexpr uint8_t CTR_KBD_DISABLE = 0x10;
inline constexpr uint8_t CTR_AUX_DISABLE = 0x20;
inline constexpr uint8_t CTR_XLATE = 0x40;
} // namespace i8042_bits

struct I8042Counters {
    uint64_t resets { 0 };            // reset pulses requested by the guest
    uint64_t unknown_commands { 0 };  // command-port bytes the model does not know, ignored
    uint64_t device_writes { 0 };     // bytes for the (absent) keyboard or mouse, dropped
    uint64_t output_overflows { 0 };  // responses dropped because the output queue was full
    uint64_t wide_accesses { 0 };     // accesses wider than 1 byte: the low byte is used
};

// One byte waiting in the controller's output buffer, and whether it came from the AUX port.
struct I8042Output {
    uint8_t value { 0 };
    bool aux { false };
    bool operator==(I8042Output const&) const = default;
};

// Everything of the controller the guest can observe, for snapshots (vmm/snapshot encodes it).
// `pending` is what the next data-port byte is for: 0 nothing, 1 the command byte, 2 the output
// port, 3 the keyboard buffer, 4 the AUX buffer, 5 the AUX device (commands 0x60, 0xD1-0xD4).
struct I8042State {
    std::vector<I8042Output> output; // oldest first, at most I8042::OUTPUT_SIZE
    uint8_t ctr { 0 };
    uint8_t output_port { 0 };
    bool last_was_command { false };
    uint8_t pending { 0 };
    bool operator==(I8042State const&) const = default;
};

class I8042 {
public:
    // reset is called (without the lock held, on the vCPU thread) when the guest pulses the
    // reset line: command 0xFE (or any 0xF0-0xFF with bit 0 clear), or output-port bit 0 cleared.
    static constexpr size_t OUTPUT_SIZE = 16;

    explicit I8042(std::function<void()> reset);

    // The two ports, as views that keep the controller alive: register data_port() at
    // layout::PORT_I8042_DATA and command_port() at layout::PORT_I8042_COMMAND, 1 byte each.
    [[nodiscard]] static std::shared_ptr<BusDevice> data_port(std::shared_ptr<I8042> controller);
    [[nodiscard]] static std::shared_ptr<BusDevice> command_port(std::shared_ptr<I8042> controller);

    void read_data(uint64_t offset, std::span<std::byte> data);
    void write_data(uint64_t offset, std::span<std::byte const> data);
    void read_status(uint64_t offset, std::span<std::byte> data);
    void write_command(uint64_t offset, std::span<std::byte const> data);

    [[nodiscard]] I8042Counters counters() const;

    // Snapshot and restore (i8042_state.cpp). restore() checks every field first
    // (InvalidArgument, nothing changed) and never pulses the reset line.
    [[nodiscard]] I8042State state() const;
    [[nodiscard]] Result<void> restore(I8042State const&);

private:
    enum class Pending : uint8_t { None, WriteCtr, WriteOutputPort, WriteKbdBuffer, WriteAuxBuffer, WriteAux };
    struct Output {
        uint8_t value;
        bool aux;
    };
    [[nodiscard]] bool command(uint8_t value); // true: pulse reset
    void push_output(uint8_t value, bool aux = false);
    [[nodiscard]] uint8_t status() const;

    std::function<void()> m_reset;
    mutable std::mutex m_mutex; // everything below
    std::array<Output, OUTPUT_SIZE> m_output {};
    size_t m_output_head { 0 };
    size_t m_output_count { 0 };
    uint8_t m_ctr { i8042_bits::CTR_KBD_INT | i8042_bits::CTR_SYS | i8042_bits::CTR_XLATE };
    uint8_t m_output_port { 0x03 }; // bit 0: reset line released, bit 1: A20 enabled
    bool m_last_was_command { false };
    Pending m_pending { Pending::None };
    I8042Counters m_counters;
};

} // namespace monarch::vmm
