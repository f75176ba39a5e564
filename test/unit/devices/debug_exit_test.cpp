// SPDX-License-Identifier: Apache-2.0
// DebugExit: the value written is the exit status the VMM is asked for.
#include "vmm/devices/debug_exit.h"

#include "device_test_support.h"

#include <catch2/catch.hpp>
#include <optional>

using namespace monarch::vmm;
using namespace monarch::vmm::test;

TEST_CASE("debug-exit passes the written value to the exit callback", "[unit][debug_exit]")
{
    std::vector<uint8_t> codes;
    DebugExit device { [&](uint8_t code) { codes.push_back(code); } };
    write8(device, 0, 0x2a);
    write8(device, 0, 0);
    CHECK(codes == std::vector<uint8_t> { 0x2a, 0 });
    CHECK(read8(device, 0) == 0);
    // A 32-bit outl: the low byte is the value.
    std::array<std::byte, 4> wide { std::byte { 3 }, std::byte { 1 }, std::byte { 0 }, std::byte { 0 } };
    device.write(0, wide);
    CHECK(codes.back() == 3);
    CHECK(device.counters().exits == 3);
    CHECK(device.counters().wide_accesses == 1);
}
