// SPDX-License-Identifier: Apache-2.0
// I8042: the controller commands Linux's i8042 driver issues while probing, and the reset line.
#include "vmm/devices/i8042.h"

#include "device_test_support.h"
#include "vmm/devices/bus.h"
#include "vmm/memory/layout.h"

#include <catch2/catch.hpp>

using namespace monarch::vmm;
using namespace monarch::vmm::test;
using namespace monarch::vmm::i8042_bits;

namespace {

struct Fixture {
    int resets = 0;
    std::shared_ptr<I8042> controller = std::make_shared<I8042>([this] { ++resets; });
    Bus bus;
    Fixture()
    {
        REQUIRE(bus.insert(layout::PORT_I8042_DATA, 1, I8042::data_port(controller), "i8042 data"));
        REQUIRE(bus.insert(layout::PORT_I8042_COMMAND, 1, I8042::command_port(controller), "i8042 command"));
    }
    uint8_t in(uint16_t port)
    {
        std::array<std::byte, 1> data {};
        REQUIRE(bus.read(port, data));
        return std::to_integer<uint8_t>(data[0]);
    }
    void out(uint16_t port, uint8_t value)
    {
        std::array<std::byte, 1> data { std::byte { value } };
        REQUIRE(bus.write(port, data));
    }
    void command(uint8_t value) { out(layout::PORT_I8042_COMMAND, value); }
    uint8_t status() { return in(layout::PORT_I8042_COMMAND); }
    uint8_t data() { return in(layout::PORT_I8042_DATA); }
};

} // namespace

TEST_CASE("i8042 self-test answers 0x55 and interface tests 0", "[unit][i8042]")
{
    Fixture f;
    CHECK((f.status() & STATUS_OBF) == 0);
    f.command(0xaa);
    REQUIRE((f.status() & STATUS_OBF) != 0);
    CHECK(f.data() == 0x55);
    CHECK((f.status() & STATUS_OBF) == 0);
    CHECK((f.status() & STATUS_SYS) != 0);
    f.command(0xab);
    CHECK(f.data() == 0x00);
    f.command(0xa9);
    CHECK(f.data() == 0x00);
}

TEST_CASE("i8042 command byte reads back what 0x60 wrote, and enable/disable commands edit it", "[unit][i8042]")
{
    Fixture f;
    f.command(0x60);
    f.out(layout::PORT_I8042_DATA, 0x47);
    f.command(0x20);
    CHECK(f.data() == 0x47);
    f.command(0xad); // disable keyboard
    f.command(0xa7); // disable aux
    f.command(0x20);
    CHECK(f.data() == (0x47 | CTR_KBD_DISABLE | CTR_AUX_DISABLE));
    f.command(0xae);
    f.command(0xa8);
    f.command(0x20);
    CHECK(f.data() == 0x47);
}

TEST_CASE("i8042 AUX loop (0xD3) returns the byte flagged as AUX data", "[unit][i8042]")
{
    Fixture f;
    f.command(0xd3);
    f.out(layout::PORT_I8042_DATA, 0x5a);
    uint8_t const status = f.status();
    CHECK((status & STATUS_OBF) != 0);
    CHECK((status & STATUS_AUX_OBF) != 0);
    CHECK(f.data() == 0x5a);
    // 0xD4: the next byte goes to the (absent) mouse; nothing comes back.
    f.command(0xd4);
    f.out(layout::PORT_I8042_DATA, 0xf4);
    CHECK((f.status() & STATUS_OBF) == 0);
    CHECK(f.controller->counters().device_writes == 1);
}

TEST_CASE("i8042 0xFE pulses the reset line", "[unit][i8042]")
{
    Fixture f;
    f.command(0xff); // pulses no line
    CHECK(f.resets == 0);
    f.command(layout::ACPI_RESET_VALUE);
    CHECK(f.resets == 1);
    // Output port bit 0 cleared through 0xD1 resets too.
    f.command(0xd1);
    f.out(layout::PORT_I8042_DATA, 0x02);
    CHECK(f.resets == 2);
    CHECK(f.controller->counters().resets == 2);
}

TEST_CASE("i8042 unknown commands are counted and ignored", "[unit][i8042]")
{
    Fixture f;
    f.command(0x01);
    f.command(0xc5);
    CHECK(f.controller->counters().unknown_commands == 2);
    CHECK((f.status() & STATUS_OBF) == 0);
    CHECK(f.resets == 0);
    CHECK((f.status() & STATUS_CMD) != 0); // last write went to the command port
}
