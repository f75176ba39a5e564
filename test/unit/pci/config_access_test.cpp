// SPDX-License-Identifier: Apache-2.0
// Configuration access through ports 0xCF8/0xCFC and through ECAM: address decoding, the
// enable bit, absent functions reading all-ones, byte lanes and access widths.
#include "fake_pci_device.h"
#include "pci_test_support.h"
#include "vmm/devices/pci/pci_config_access.h"
#include "vmm/devices/pci/pci_host_bridge.h"
#include "vmm/devices/pci/pci_root.h"

#include <catch2/catch.hpp>
#include <memory>

using namespace monarch::vmm;
using namespace monarch::vmm::pci;
using monarch::vmm::test::FakePciDevice;

namespace {

struct Fixture {
    Bus mmio;
    Bus pio;
    PciRoot root { mmio, pio, PciWindows::for_ram_end(2 * layout::GiB) };
    std::shared_ptr<FakePciDevice> device = std::make_shared<FakePciDevice>(std::vector<BarRequest> { { 0, 0x1000, BarKind::Memory32, false } }, 0x5678);

    Fixture()
    {
        REQUIRE(root.register_config_access().has_value());
        REQUIRE(root.attach(device, 3).has_value());
    }
    template<typename T> T in(uint16_t port)
    {
        std::array<std::byte, sizeof(T)> data {};
        REQUIRE(pio.read(port, data));
        T value;
        std::memcpy(&value, data.data(), sizeof(T));
        return value;
    }
    template<typename T> void out(uint16_t port, T value)
    {
        std::array<std::byte, sizeof(T)> data {};
        std::memcpy(data.data(), &value, sizeof(T));
        REQUIRE(pio.write(port, data));
    }
    template<typename T> T ecam_read(uint64_t offset)
    {
        std::array<std::byte, sizeof(T)> data {};
        REQUIRE(mmio.read(layout::PCI_ECAM_START + offset, data));
        T value;
        std::memcpy(&value, data.data(), sizeof(T));
        return value;
    }
    template<typename T> void ecam_write(uint64_t offset, T value)
    {
        std::array<std::byte, sizeof(T)> data {};
        std::memcpy(data.data(), &value, sizeof(T));
        REQUIRE(mmio.write(layout::PCI_ECAM_START + offset, data));
    }
};

uint32_t cf8(uint8_t bus, uint8_t device, uint8_t function, uint8_t reg)
{
    return PciConfigIo::ENABLE | uint32_t { bus } << 16 | uint32_t { device } << 11 | uint32_t { function } << 8 | reg;
}

uint64_t ecam(uint8_t bus, uint8_t device, uint8_t function, uint16_t reg)
{
    return uint64_t { bus } << 20 | uint64_t { device } << 15 | uint64_t { function } << 12 | reg;
}

} // namespace

TEST_CASE("cf8: CONFIG_ADDRESS latches dword writes only, as Linux's type-1 probe expects", "[unit][pci]")
{
    Fixture f;
    f.out<uint8_t>(0xcfb, 0x01); // pci_check_type1 pokes 0xCFB first
    f.out<uint32_t>(0xcf8, 0x80000000);
    CHECK(f.in<uint32_t>(0xcf8) == 0x80000000);
    f.out<uint32_t>(0xcf8, 0xffffffff); // reserved bits 30:24 and 1:0 read zero
    CHECK(f.in<uint32_t>(0xcf8) == 0x80fffffc);
    f.out<uint16_t>(0xcf8, 0x1234);
    f.out<uint8_t>(0xcf9, 0x06); // Intel's reset control register: not ours
    CHECK(f.in<uint32_t>(0xcf8) == 0x80fffffc);
    CHECK(f.in<uint8_t>(0xcf9) == 0xff);
    CHECK(f.in<uint16_t>(0xcf8) == 0xffff);
}

TEST_CASE("cf8: host bridge and device IDs, byte lanes of CONFIG_DATA", "[unit][pci]")
{
    Fixture f;
    f.out<uint32_t>(0xcf8, cf8(0, 0, 0, 0));
    CHECK(f.in<uint32_t>(0xcfc) == (uint32_t { HOST_BRIDGE_DEVICE } << 16 | HOST_BRIDGE_VENDOR));
    f.out<uint32_t>(0xcf8, cf8(0, 0, 0, config::REVISION_ID));
    CHECK(f.in<uint32_t>(0xcfc) >> 8 == 0x060000); // class: bridge, host bridge
    f.out<uint32_t>(0xcf8, cf8(0, 3, 0, 0));
    CHECK(f.in<uint32_t>(0xcfc) == 0x56781af4);
    CHECK(f.in<uint16_t>(0xcfe) == 0x5678);
    CHECK(f.in<uint8_t>(0xcfd) == 0x1a);
    CHECK(f.in<uint8_t>(0xcff) == 0x56);
    // A byte write through lane 0 of the interrupt-line dword.
    f.out<uint32_t>(0xcf8, cf8(0, 3, 0, config::INTERRUPT_LINE));
    f.out<uint8_t>(0xcfc, 0x0b);
    CHECK(f.device->config.interrupt_line() == 0x0b);
    CHECK(f.in<uint8_t>(0xcfd) == 1); // interrupt pin INTA
}

TEST_CASE("cf8: absent functions and disabled CONFIG_ADDRESS read all-ones", "[unit][pci]")
{
    Fixture f;
    for (uint32_t address : { cf8(0, 4, 0, 0), cf8(0, 3, 1, 0), cf8(1, 3, 0, 0), cf8(0, 31, 7, 0), cf8(0, 3, 0, 0) & ~PciConfigIo::ENABLE }) {
        f.out<uint32_t>(0xcf8, address);
        CHECK(f.in<uint32_t>(0xcfc) == 0xffffffff);
        CHECK(f.in<uint16_t>(0xcfe) == 0xffff);
        f.out<uint32_t>(0xcfc, 0); // ignored
    }
    // The device was not written through a disabled CONFIG_ADDRESS.
    f.out<uint32_t>(0xcf8, cf8(0, 3, 0, 0));
    CHECK(f.in<uint32_t>(0xcfc) == 0x56781af4);
    // The extended register bits (AMD's 27:24) are ignored: this is register 0 again.
    f.out<uint32_t>(0xcf8, cf8(0, 3, 0, 0) | 0x0f000000);
    CHECK(f.in<uint32_t>(0xcfc) == 0x56781af4);
}

TEST_CASE("ecam: bus/device/function/register decoding and widths", "[unit][pci]")
{
    Fixture f;
    CHECK(f.ecam_read<uint32_t>(ecam(0, 0, 0, 0)) == (uint32_t { HOST_BRIDGE_DEVICE } << 16 | HOST_BRIDGE_VENDOR));
    CHECK(f.ecam_read<uint32_t>(ecam(0, 3, 0, 0)) == 0x56781af4);
    CHECK(f.ecam_read<uint16_t>(ecam(0, 3, 0, 2)) == 0x5678);
    CHECK(f.ecam_read<uint8_t>(ecam(0, 3, 0, config::INTERRUPT_PIN)) == 1);
    CHECK(f.ecam_read<uint64_t>(ecam(0, 3, 0, 0)) == ((uint64_t { f.ecam_read<uint32_t>(ecam(0, 3, 0, 4)) } << 32) | 0x56781af4));
    // Present function, extended register: the device says zero (no extended capabilities).
    CHECK(f.ecam_read<uint32_t>(ecam(0, 3, 0, 0x100)) == 0);
    // Absent: other slot, other function, other bus, last byte of the window.
    CHECK(f.ecam_read<uint32_t>(ecam(0, 5, 0, 0)) == 0xffffffff);
    CHECK(f.ecam_read<uint32_t>(ecam(0, 3, 2, 0)) == 0xffffffff);
    CHECK(f.ecam_read<uint32_t>(ecam(1, 3, 0, 0)) == 0xffffffff);
    CHECK(f.ecam_read<uint8_t>(layout::PCI_ECAM_SIZE - 1) == 0xff);
    // Misaligned: all-ones, writes dropped.
    CHECK(f.ecam_read<uint32_t>(ecam(0, 3, 0, 2)) == 0xffffffff);
    f.ecam_write<uint32_t>(ecam(0, 3, 0, config::INTERRUPT_LINE - 2), 0xffffffff);
    f.ecam_write<uint8_t>(ecam(0, 3, 0, config::INTERRUPT_LINE), 0x2a);
    CHECK(f.device->config.interrupt_line() == 0x2a);
    f.ecam_write<uint8_t>(ecam(0, 3, 1, config::INTERRUPT_LINE), 0x11); // function 1: absent
    CHECK(f.device->config.interrupt_line() == 0x2a);
}
