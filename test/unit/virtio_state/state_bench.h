// SPDX-License-Identifier: Apache-2.0
// Benches for the virtio snapshot tests: a device model behind a virtio-pci or virtio-mmio
// transport over shared guest RAM, driven through the registers as a guest driver would, so
// that a second bench over the same RAM can take the first one's state.
#pragma once

#include "../virtio/fake_device.h"
#include "support/vec_guest_memory.h"
#include "support/virtio_test_driver.h"
#include "vmm/virtio/transport/virtio_mmio.h"
#include "vmm/virtio/transport/virtio_pci.h"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include <array>
#include <cstring>
#include <memory>

namespace monarch::test {

namespace common_cfg = vmm::virtio::pci_layout::common;

struct PciBench {
    PciBench(VecGuestMemory& memory, std::unique_ptr<vmm::virtio::VirtioDevice> model)
        : device(std::move(model))
        , pci(*device, memory, loop, router, irq)
    {
    }
    boost::asio::io_context loop;
    FakeIrq irq;
    FakeMsiRouter router;
    std::unique_ptr<vmm::virtio::VirtioDevice> device;
    vmm::virtio::VirtioPci pci;

    template<typename T>
    T bar(uint64_t offset)
    {
        std::array<std::byte, sizeof(T)> data {};
        pci.bar_read(0, offset, data);
        T value {};
        std::memcpy(&value, data.data(), sizeof(T));
        return value;
    }
    template<typename T>
    void set_bar(uint64_t offset, T value)
    {
        std::array<std::byte, sizeof(T)> data {};
        std::memcpy(data.data(), &value, sizeof(T));
        pci.bar_write(0, offset, data);
    }
    template<typename T>
    T cfg(uint16_t offset)
    {
        std::array<std::byte, sizeof(T)> data {};
        pci.config_read(offset, data);
        T value {};
        std::memcpy(&value, data.data(), sizeof(T));
        return value;
    }
    template<typename T>
    void set_cfg(uint16_t offset, T value)
    {
        std::array<std::byte, sizeof(T)> data {};
        std::memcpy(data.data(), &value, sizeof(T));
        pci.config_write(offset, data);
    }
    uint8_t status() { return bar<uint8_t>(common_cfg::DEVICE_STATUS); }
    void add_status(uint8_t bits) { set_bar<uint8_t>(common_cfg::DEVICE_STATUS, status() | bits); }
    // MSI-X on (capability at `msix_at`), every vector unmasked with its own data.
    void enable_msix(uint16_t msix_at)
    {
        set_cfg<uint16_t>(msix_at + 2, 0x8000);
        for (uint16_t vector = 0; vector < pci.msix().vector_count(); ++vector) {
            uint64_t const entry = vmm::virtio::pci_layout::MSIX_TABLE_OFFSET + 16ULL * vector;
            set_bar<uint32_t>(entry, 0xfee0'0000);
            set_bar<uint32_t>(entry + 8, 0x40 + vector);
            set_bar<uint32_t>(entry + 12, 0);
        }
    }
    uint16_t find_msix()
    {
        uint16_t at = cfg<uint8_t>(0x34);
        for (int guard = 0; at != 0 && guard < 48; ++guard) {
            if (cfg<uint8_t>(at) == 0x11)
                return at;
            at = cfg<uint8_t>(at + 1);
        }
        FAIL("no MSI-X capability");
        return 0;
    }
    void negotiate(uint64_t features)
    {
        add_status(vmm::virtio::status::ACKNOWLEDGE | vmm::virtio::status::DRIVER);
        set_bar<uint32_t>(common_cfg::DRIVER_FEATURE_SELECT, 0);
        set_bar<uint32_t>(common_cfg::DRIVER_FEATURE, static_cast<uint32_t>(features));
        set_bar<uint32_t>(common_cfg::DRIVER_FEATURE_SELECT, 1);
        set_bar<uint32_t>(common_cfg::DRIVER_FEATURE, static_cast<uint32_t>(features >> 32));
        add_status(vmm::virtio::status::FEATURES_OK);
        REQUIRE((status() & vmm::virtio::status::FEATURES_OK) != 0);
    }
    void setup_queue(uint16_t index, VirtqueueDriver const& driver, uint16_t vector)
    {
        set_bar<uint16_t>(common_cfg::QUEUE_SELECT, index);
        set_bar<uint16_t>(common_cfg::QUEUE_SIZE, driver.size());
        set_bar<uint16_t>(common_cfg::QUEUE_MSIX_VECTOR, vector);
        set_bar<uint64_t>(common_cfg::QUEUE_DESC, driver.descriptor_table().raw());
        set_bar<uint64_t>(common_cfg::QUEUE_DRIVER, driver.available_ring().raw());
        set_bar<uint64_t>(common_cfg::QUEUE_DEVICE, driver.used_ring().raw());
        set_bar<uint16_t>(common_cfg::QUEUE_ENABLE, 1);
    }
    void kick(uint16_t queue) { set_bar<uint16_t>(vmm::virtio::pci_layout::NOTIFY_OFFSET + 4ULL * queue, queue); }
    // Every register a driver can read back, for comparing two benches: the configuration
    // space, the common structure for each queue, the MSI-X table and PBA.
    std::vector<uint32_t> registers()
    {
        std::vector<uint32_t> out;
        for (uint16_t offset = 0; offset < 256; offset += 4)
            out.push_back(cfg<uint32_t>(offset) & (offset == 4 ? ~(8u << 16) : ~0u)); // Status.Interrupt aside
        uint16_t const queues = bar<uint16_t>(common_cfg::NUM_QUEUES);
        uint16_t const selected = bar<uint16_t>(common_cfg::QUEUE_SELECT);
        for (uint16_t queue = 0; queue < queues; ++queue) {
            set_bar<uint16_t>(common_cfg::QUEUE_SELECT, queue);
            for (uint64_t offset = common_cfg::QUEUE_SIZE; offset + 4 <= common_cfg::SIZE; offset += 4)
                out.push_back(bar<uint32_t>(offset));
        }
        set_bar<uint16_t>(common_cfg::QUEUE_SELECT, selected);
        for (uint64_t offset = 0; offset < common_cfg::QUEUE_SELECT; offset += 4)
            out.push_back(bar<uint32_t>(offset));
        for (uint64_t offset = 0; offset < pci.msix().table_size(); offset += 4)
            out.push_back(bar<uint32_t>(vmm::virtio::pci_layout::MSIX_TABLE_OFFSET + offset));
        out.push_back(bar<uint32_t>(vmm::virtio::pci_layout::MSIX_PBA_OFFSET));
        return out;
    }
};

struct MmioBench {
    MmioBench(VecGuestMemory& memory, std::unique_ptr<vmm::virtio::VirtioDevice> model)
        : device(std::move(model))
        , mmio(*device, memory, loop, irq)
    {
    }
    boost::asio::io_context loop;
    FakeIrq irq;
    std::unique_ptr<vmm::virtio::VirtioDevice> device;
    vmm::virtio::VirtioMmio mmio;

    uint32_t read32(uint64_t offset)
    {
        std::array<std::byte, 4> data {};
        mmio.read(offset, data);
        uint32_t value = 0;
        std::memcpy(&value, data.data(), 4);
        return value;
    }
    void write32(uint64_t offset, uint32_t value)
    {
        std::array<std::byte, 4> data {};
        std::memcpy(data.data(), &value, 4);
        mmio.write(offset, data);
    }
    void add_status(uint8_t bits) { write32(vmm::virtio::mmio_reg::STATUS, read32(vmm::virtio::mmio_reg::STATUS) | bits); }
    void negotiate(uint64_t features)
    {
        using namespace vmm::virtio;
        add_status(status::ACKNOWLEDGE | status::DRIVER);
        write32(mmio_reg::DRIVER_FEATURES_SEL, 0);
        write32(mmio_reg::DRIVER_FEATURES, static_cast<uint32_t>(features));
        write32(mmio_reg::DRIVER_FEATURES_SEL, 1);
        write32(mmio_reg::DRIVER_FEATURES, static_cast<uint32_t>(features >> 32));
        add_status(status::FEATURES_OK);
        REQUIRE((read32(mmio_reg::STATUS) & status::FEATURES_OK) != 0);
    }
    void setup_queue(uint16_t index, VirtqueueDriver const& driver)
    {
        using namespace vmm::virtio;
        write32(mmio_reg::QUEUE_SEL, index);
        write32(mmio_reg::QUEUE_NUM, driver.size());
        write32(mmio_reg::QUEUE_DESC_LOW, static_cast<uint32_t>(driver.descriptor_table().raw()));
        write32(mmio_reg::QUEUE_DESC_HIGH, static_cast<uint32_t>(driver.descriptor_table().raw() >> 32));
        write32(mmio_reg::QUEUE_DRIVER_LOW, static_cast<uint32_t>(driver.available_ring().raw()));
        write32(mmio_reg::QUEUE_DRIVER_HIGH, static_cast<uint32_t>(driver.available_ring().raw() >> 32));
        write32(mmio_reg::QUEUE_DEVICE_LOW, static_cast<uint32_t>(driver.used_ring().raw()));
        write32(mmio_reg::QUEUE_DEVICE_HIGH, static_cast<uint32_t>(driver.used_ring().raw() >> 32));
        write32(mmio_reg::QUEUE_READY, 1);
    }
    void kick(uint16_t queue) { write32(vmm::virtio::mmio_reg::QUEUE_NOTIFY, queue); }
    // The readable registers (per queue where they are per queue) and the config space.
    std::vector<uint32_t> registers()
    {
        using namespace vmm::virtio;
        std::vector<uint32_t> out;
        for (uint64_t offset : { mmio_reg::MAGIC_VALUE, mmio_reg::VERSION, mmio_reg::DEVICE_ID, mmio_reg::INTERRUPT_STATUS,
                 mmio_reg::STATUS, mmio_reg::CONFIG_GENERATION })
            out.push_back(read32(offset));
        for (uint32_t queue = 0; queue < 4; ++queue) {
            write32(mmio_reg::QUEUE_SEL, queue);
            out.push_back(read32(mmio_reg::QUEUE_NUM_MAX));
            out.push_back(read32(mmio_reg::QUEUE_READY));
        }
        for (uint64_t offset = 0; offset < 64; offset += 4)
            out.push_back(read32(mmio_reg::CONFIG + offset));
        return out;
    }
};

} // namespace monarch::test
