// SPDX-License-Identifier: Apache-2.0
// I8042: controller commands as the IBM PC/AT keyboard controller defines them and Linux's
// drivers/input/serio/i8042.c uses them during probing.
#include "vmm/devices/i8042.h"

#include "vmm/devices/port_view.h"

#include <algorithm>
#include <utility>

namespace monarch::vmm {

using namespace i8042_bits;

namespace {
enum class Command : uint8_t {
    ReadCtr = 0x20,        // command byte -> output buffer
    WriteCtr = 0x60,       // next data byte -> command byte
    DisableAux = 0xa7,
    EnableAux = 0xa8,
    TestAux = 0xa9,        // -> 0x00: interface OK
    SelfTest = 0xaa,       // -> 0x55
    TestKbd = 0xab,        // -> 0x00: interface OK
    DisableKbd = 0xad,
    EnableKbd = 0xae,
    ReadOutputPort = 0xd0,
    WriteOutputPort = 0xd1,
    WriteKbdBuffer = 0xd2, // next data byte appears as if from the keyboard
    WriteAuxBuffer = 0xd3, // next data byte appears as if from the mouse (Linux's AUX loop test)
    WriteAux = 0xd4,       // next data byte goes to the mouse
};
constexpr uint8_t SELF_TEST_OK = 0x55;
constexpr uint8_t INTERFACE_OK = 0x00;

uint8_t low_byte(std::span<std::byte const> data) { return data.empty() ? 0 : std::to_integer<uint8_t>(data[0]); }
} // namespace

I8042::I8042(std::function<void()> reset)
    : m_reset(std::move(reset))
{
}

std::shared_ptr<BusDevice> I8042::data_port(std::shared_ptr<I8042> controller)
{
    return std::make_shared<PortView<I8042>>(std::move(controller), &I8042::read_data, &I8042::write_data);
}

std::shared_ptr<BusDevice> I8042::command_port(std::shared_ptr<I8042> controller)
{
    return std::make_shared<PortView<I8042>>(std::move(controller), &I8042::read_status, &I8042::write_command);
}

I8042Counters I8042::counters() const
{
    std::lock_guard lock { m_mutex };
    return m_counters;
}

void I8042::push_output(uint8_t value, bool aux)
{
    if (m_output_count == m_output.size()) {
        ++m_counters.output_overflows;
        return;
    }
    m_output[(m_output_head + m_output_count) % m_output.size()] = Output { value, aux };
    ++m_output_count;
}

uint8_t I8042::status() const
{
    uint8_t value = STATUS_UNLOCKED;
    if (m_output_count > 0) {
        value |= STATUS_OBF;
        if (m_output[m_output_head].aux)
            value |= STATUS_AUX_OBF;
    }
    if (m_ctr & CTR_SYS)
        value |= STATUS_SYS;
    if (m_last_was_command)
        value |= STATUS_CMD;
    return value;
}

void I8042::read_status(uint64_t, std::span<std::byte> data)
{
    if (data.empty())
        return;
    std::lock_guard lock { m_mutex };
    if (data.size() != 1)
        ++m_counters.wide_accesses;
    std::fill(data.begin(), data.end(), std::byte { 0 });
    data[0] = std::byte { status() };
}

void I8042::read_data(uint64_t, std::span<std::byte> data)
{
    if (data.empty())
        return;
    std::lock_guard lock { m_mutex };
    if (data.size() != 1)
        ++m_counters.wide_accesses;
    std::fill(data.begin(), data.end(), std::byte { 0 });
    if (m_output_count == 0)
        return; // an empty output buffer reads as the last value on real parts; 0 here
    data[0] = std::byte { m_output[m_output_head].value };
    m_output_head = (m_output_head + 1) % m_output.size();
    --m_output_count;
}

void I8042::write_data(uint64_t, std::span<std::byte const> data)
{
    if (data.empty())
        return;
    uint8_t const value = low_byte(data);
    bool reset = false;
    {
        std::lock_guard lock { m_mutex };
        if (data.size() != 1)
            ++m_counters.wide_accesses;
        m_last_was_command = false;
        switch (std::exchange(m_pending, Pending::None)) {
        case Pending::WriteCtr: m_ctr = value; break;
        case Pending::WriteOutputPort:
            m_output_port = value;
            reset = !(value & 0x01); // bit 0 drives the CPU reset line (active low)
            break;
        case Pending::WriteKbdBuffer: push_output(value); break;
        case Pending::WriteAuxBuffer: push_output(value, true); break;
        case Pending::WriteAux:
        case Pending::None: ++m_counters.device_writes; break; // no keyboard or mouse attached
        }
        if (reset)
            ++m_counters.resets;
    }
    if (reset && m_reset)
        m_reset();
}

void I8042::write_command(uint64_t, std::span<std::byte const> data)
{
    if (data.empty())
        return;
    bool reset = false;
    {
        std::lock_guard lock { m_mutex };
        if (data.size() != 1)
            ++m_counters.wide_accesses;
        m_last_was_command = true;
        reset = command(low_byte(data));
        if (reset)
            ++m_counters.resets;
    }
    if (reset && m_reset)
        m_reset();
}

bool I8042::command(uint8_t value)
{
    m_pending = Pending::None;
    // 0xF0-0xFF pulse the output port lines whose bits are 0 in the low nibble; bit 0 is reset.
    if (value >= 0xf0)
        return !(value & 0x01);
    switch (static_cast<Command>(value)) {
    case Command::ReadCtr: push_output(m_ctr); break;
    case Command::WriteCtr: m_pending = Pending::WriteCtr; break;
    case Command::DisableAux: m_ctr |= CTR_AUX_DISABLE; break;
    case Command::EnableAux: m_ctr &= ~CTR_AUX_DISABLE; break;
    case Command::TestAux: push_output(INTERFACE_OK); break;
    case Command::SelfTest:
        m_ctr |= CTR_SYS;
        push_output(SELF_TEST_OK);
        break;
    case Command::TestKbd: push_output(INTERFACE_OK); break;
    case Command::DisableKbd: m_ctr |= CTR_KBD_DISABLE; break;
    case Command::EnableKbd: m_ctr &= ~CTR_KBD_DISABLE; break;
    case Command::ReadOutputPort: push_output(m_output_port); break;
    case Command::WriteOutputPort: m_pending = Pending::WriteOutputPort; break;
    case Command::WriteKbdBuffer: m_pending = Pending::WriteKbdBuffer; break;
    case Command::WriteAuxBuffer: m_pending = Pending::WriteAuxBuffer; break;
    case Command::WriteAux: m_pending = Pending::WriteAux; break;
    default: ++m_counters.unknown_commands; break;
    }
    return false;
}

} // namespace monarch::vmm
