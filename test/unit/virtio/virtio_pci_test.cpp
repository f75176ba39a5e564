// SPDX-License-Identifier: Apache-2.0
// virtio-pci modern (virtio 1.2 section 4.1) driven as a guest driver would: capabilities in
// configuration space, the common configuration structure, notify, ISR, MSI-X and INTx.

#include "vmm/virtio/transport/virtio_pci.h"

#include "fake_device.h"
#include "support/vec_guest_memory.h"
#include "support/virtio_test_driver.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <optional>

using namespace monarch;
using namespace monarch::vmm::virtio;
using test::FakeDevice;
using test::VirtqueueDriver;
namespace layout = pci_layout;
namespace common = pci_layout::common;

namespace {

uint64_t const FEATURES = F_VERSION_1 | F_EVENT_IDX | 1;

struct Bench {
    test::VecGuestMemory memory { 1 << 20 };
    FakeDevice device;
    test::FakeIrq irq;
    test::FakeMsiRouter router;
    boost::asio::io_context loop;
    VirtioPci pci { device, memory, loop, router, irq };

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
    // The capability with ID `id` (and, for vendor capabilities, cfg_type `type`).
    std::optional<uint16_t> find_capability(uint8_t id, std::optional<uint8_t> type = {})
    {
        uint16_t at = cfg<uint8_t>(0x34);
        for (int guard = 0; at != 0 && guard < 48; ++guard) {
            if (cfg<uint8_t>(at) == id && (!type || cfg<uint8_t>(at + 3) == *type))
                return at;
            at = cfg<uint8_t>(at + 1);
        }
        return std::nullopt;
    }
    uint8_t status() { return bar<uint8_t>(common::DEVICE_STATUS); }
    void add_status(uint8_t bits) { set_bar<uint8_t>(common::DEVICE_STATUS, status() | bits); }
    bool negotiate(uint64_t features)
    {
        set_bar<uint8_t>(common::DEVICE_STATUS, 0);
        while (status() != 0) // section 4.1.4.3.2: wait for the reset to complete
            test::run_loop(loop);
        add_status(status::ACKNOWLEDGE | status::DRIVER);
        set_bar<uint32_t>(common::DRIVER_FEATURE_SELECT, 0);
        set_bar<uint32_t>(common::DRIVER_FEATURE, static_cast<uint32_t>(features));
        set_bar<uint32_t>(common::DRIVER_FEATURE_SELECT, 1);
        set_bar<uint32_t>(common::DRIVER_FEATURE, static_cast<uint32_t>(features >> 32));
        add_status(status::FEATURES_OK);
        return (status() & status::FEATURES_OK) != 0;
    }
    void setup_queue(uint16_t index, VirtqueueDriver const& driver, uint16_t vector = NO_VECTOR)
    {
        set_bar<uint16_t>(common::QUEUE_SELECT, index);
        set_bar<uint16_t>(common::QUEUE_SIZE, driver.size());
        set_bar<uint16_t>(common::QUEUE_MSIX_VECTOR, vector);
        set_bar<uint64_t>(common::QUEUE_DESC, driver.descriptor_table().raw());
        // The 64-bit fields as two 32-bit halves, as a driver may write them.
        set_bar<uint32_t>(common::QUEUE_DRIVER, static_cast<uint32_t>(driver.available_ring().raw()));
        set_bar<uint32_t>(common::QUEUE_DRIVER + 4, static_cast<uint32_t>(driver.available_ring().raw() >> 32));
        set_bar<uint64_t>(common::QUEUE_DEVICE, driver.used_ring().raw());
        set_bar<uint16_t>(common::QUEUE_ENABLE, 1);
    }
    void enable_msix()
    {
        auto msix = find_capability(0x11);
        REQUIRE(msix.has_value());
        set_cfg<uint16_t>(*msix + 2, 0x8000);
        for (uint16_t vector = 0; vector < pci.msix().vector_count(); ++vector) {
            uint64_t const entry = layout::MSIX_TABLE_OFFSET + 16ULL * vector;
            set_bar<uint32_t>(entry, 0xfee0'0000);
            set_bar<uint32_t>(entry + 4, 0);
            set_bar<uint32_t>(entry + 8, 0x40 + vector);
            set_bar<uint32_t>(entry + 12, 0); // unmask
        }
    }
    void kick(uint16_t queue)
    {
        set_bar<uint16_t>(layout::NOTIFY_OFFSET + 4ULL * bar<uint16_t>(common::QUEUE_NOTIFY_OFF), queue);
    }
};

} // namespace

TEST_CASE("virtio-pci identifies itself and announces its structures", "[unit][virtio]")
{
    Bench bench;
    CHECK(bench.cfg<uint16_t>(0x00) == 0x1af4);
    CHECK(bench.cfg<uint16_t>(0x02) == 0x1042); // 0x1040 + block
    CHECK(bench.cfg<uint8_t>(0x08) == 1);
    CHECK(bench.cfg<uint8_t>(0x3d) == 1); // INTA
    CHECK((bench.cfg<uint16_t>(0x06) & 0x10) != 0); // capability list

    struct Expected {
        uint8_t type;
        uint32_t offset;
        uint32_t length;
    };
    for (auto [type, offset, length] : { Expected { 1, 0x0000, 0x3c }, Expected { 2, 0x3000, 8 }, Expected { 3, 0x1000, 1 }, Expected { 4, 0x2000, 0x1000 } }) {
        auto at = bench.find_capability(0x09, type);
        REQUIRE(at.has_value());
        CHECK(bench.cfg<uint8_t>(*at + 4) == 0); // BAR 0
        CHECK(bench.cfg<uint32_t>(*at + 8) == offset);
        CHECK(bench.cfg<uint32_t>(*at + 12) == length);
    }
    auto notify = bench.find_capability(0x09, 2);
    CHECK(bench.cfg<uint8_t>(*notify + 2) == 20);
    CHECK(bench.cfg<uint32_t>(*notify + 16) == 4);
    CHECK(bench.find_capability(0x09, 5).has_value());
    auto msix = bench.find_capability(0x11);
    REQUIRE(msix.has_value());
    CHECK((bench.cfg<uint16_t>(*msix + 2) & 0x7ff) == 2); // 3 vectors: config + 2 queues
    CHECK(bench.cfg<uint32_t>(*msix + 4) == layout::MSIX_TABLE_OFFSET);
    CHECK(bench.cfg<uint32_t>(*msix + 8) == layout::MSIX_PBA_OFFSET);

    auto bars = bench.pci.bar_requests();
    REQUIRE(bars.size() == 1);
    CHECK(bars[0].size == layout::BAR_SIZE);
    CHECK(bars[0].kind == vmm::pci::BarKind::Memory64);
    bench.pci.bar_assigned(0, 0xe000'0000);
    CHECK(bench.pci.bar_address() == 0xe000'0000);
    CHECK((bench.cfg<uint32_t>(0x10) & ~0xfu) == 0xe000'0000);
}

TEST_CASE("virtio-pci full initialization with MSI-X, a request and its vector", "[unit][virtio]")
{
    Bench bench;
    VirtqueueDriver driver { bench.memory, 16 };
    CHECK(bench.bar<uint16_t>(common::NUM_QUEUES) == 2);
    bench.set_bar<uint32_t>(common::DEVICE_FEATURE_SELECT, 1);
    CHECK(bench.bar<uint32_t>(common::DEVICE_FEATURE) == (bench.device.features >> 32));
    bench.enable_msix();
    REQUIRE(bench.negotiate(FEATURES));
    bench.set_bar<uint16_t>(common::CONFIG_MSIX_VECTOR, 0);
    CHECK(bench.bar<uint16_t>(common::CONFIG_MSIX_VECTOR) == 0);
    bench.set_bar<uint16_t>(common::QUEUE_SELECT, 0);
    CHECK(bench.bar<uint16_t>(common::QUEUE_SIZE) == 16); // the maximum until the driver writes
    bench.setup_queue(0, driver, 1);
    CHECK(bench.bar<uint16_t>(common::QUEUE_MSIX_VECTOR) == 1);
    CHECK(bench.bar<uint16_t>(common::QUEUE_ENABLE) == 1);
    CHECK(bench.bar<uint64_t>(common::QUEUE_DRIVER) == driver.available_ring().raw());
    bench.add_status(status::DRIVER_OK);
    test::run_loop(bench.loop);
    REQUIRE(bench.device.activations == 1);
    CHECK(bench.device.acked_features == FEATURES);
    CHECK(bench.device.queues()[0].config().used_ring == driver.used_ring());

    uint16_t head = driver.add_chain({ VirtqueueDriver::writable(driver.alloc(32), 32) });
    bench.kick(0);
    test::run_loop(bench.loop);
    auto used = driver.next_used();
    REQUIRE(used.has_value());
    CHECK(used->id == head);
    CHECK(bench.router.triggered == std::vector<uint16_t> { 1 });
    CHECK(bench.pci.isr() == 0); // MSI-X: no ISR queue bit
    CHECK_FALSE(bench.irq.level);
}

TEST_CASE("virtio-pci refuses MSI-X vectors past its table", "[unit][virtio]")
{
    Bench bench;
    bench.set_bar<uint16_t>(common::CONFIG_MSIX_VECTOR, 3);
    CHECK(bench.bar<uint16_t>(common::CONFIG_MSIX_VECTOR) == NO_VECTOR);
    bench.set_bar<uint16_t>(common::QUEUE_SELECT, 1);
    bench.set_bar<uint16_t>(common::QUEUE_MSIX_VECTOR, 2);
    CHECK(bench.bar<uint16_t>(common::QUEUE_MSIX_VECTOR) == 2);
    bench.set_bar<uint16_t>(common::QUEUE_MSIX_VECTOR, 0x800);
    CHECK(bench.bar<uint16_t>(common::QUEUE_MSIX_VECTOR) == NO_VECTOR);
    bench.set_bar<uint16_t>(common::QUEUE_SELECT, 5); // no such queue
    CHECK(bench.bar<uint16_t>(common::QUEUE_SIZE) == 0);
    CHECK(bench.bar<uint16_t>(common::QUEUE_MSIX_VECTOR) == NO_VECTOR);
}

TEST_CASE("virtio-pci without MSI-X raises INTx with ISR bits, cleared by reading ISR", "[unit][virtio]")
{
    Bench bench;
    VirtqueueDriver driver { bench.memory, 16 };
    REQUIRE(bench.negotiate(FEATURES));
    bench.setup_queue(0, driver, 1); // a vector, but MSI-X is off: INTx is used
    bench.add_status(status::DRIVER_OK);
    test::run_loop(bench.loop);
    driver.add_chain({ VirtqueueDriver::writable(driver.alloc(8), 8) });
    bench.kick(0);
    test::run_loop(bench.loop);
    CHECK(bench.router.triggered.empty());
    CHECK(bench.irq.level);
    CHECK((bench.cfg<uint16_t>(0x06) & 0x08) != 0); // PCI status: interrupt pending
    CHECK(bench.bar<uint8_t>(layout::ISR_OFFSET) == layout::ISR_QUEUE);
    CHECK_FALSE(bench.irq.level);
    CHECK(bench.bar<uint8_t>(layout::ISR_OFFSET) == 0); // read-to-clear
    CHECK((bench.cfg<uint16_t>(0x06) & 0x08) == 0);

    SECTION("INTx Disable in the command register keeps the line low")
    {
        bench.set_cfg<uint16_t>(0x04, 0x0406);
        driver.set_used_event(1); // EVENT_IDX: interrupt me after the second entry
        driver.add_chain({ VirtqueueDriver::writable(driver.alloc(8), 8) });
        bench.kick(0);
        test::run_loop(bench.loop);
        CHECK(bench.pci.isr() == layout::ISR_QUEUE);
        CHECK_FALSE(bench.irq.level);
        bench.set_cfg<uint16_t>(0x04, 0x0006);
        CHECK(bench.irq.level);
    }
}

TEST_CASE("virtio-pci feature negotiation failures leave FEATURES_OK clear", "[unit][virtio]")
{
    Bench bench;
    SECTION("unoffered") { CHECK_FALSE(bench.negotiate(FEATURES | (1ULL << 50))); }
    SECTION("no VERSION_1") { CHECK_FALSE(bench.negotiate(1)); }
    CHECK(bench.pci.counters().bad_feature_negotiations == 1);
}

TEST_CASE("virtio-pci refuses a queue larger than its maximum", "[unit][virtio]")
{
    Bench bench;
    VirtqueueDriver driver { bench.memory, 32 };
    REQUIRE(bench.negotiate(FEATURES));
    bench.setup_queue(0, driver); // the device offers 16
    CHECK(bench.bar<uint16_t>(common::QUEUE_ENABLE) == 0);
    CHECK((bench.status() & status::DEVICE_NEEDS_RESET) != 0);
    CHECK(bench.pci.isr() == layout::ISR_CONFIG);
}

TEST_CASE("virtio-pci ignores accesses that are not the fields' natural width", "[unit][virtio]")
{
    Bench bench;
    REQUIRE(bench.negotiate(FEATURES));
    bench.set_bar<uint32_t>(common::DEVICE_STATUS, 0); // status is 8-bit: a 32-bit write is ignored
    CHECK(bench.status() != 0);
    bench.set_bar<uint8_t>(common::QUEUE_SELECT, 1);
    CHECK(bench.bar<uint16_t>(common::QUEUE_SELECT) == 0);
}

TEST_CASE("virtio-pci reset mid-flight and NEEDS_RESET through the config vector", "[unit][virtio]")
{
    Bench bench;
    VirtqueueDriver driver { bench.memory, 16 };
    bench.enable_msix();
    REQUIRE(bench.negotiate(FEATURES));
    bench.set_bar<uint16_t>(common::CONFIG_MSIX_VECTOR, 2);
    bench.setup_queue(0, driver, 1);
    bench.add_status(status::DRIVER_OK);
    test::run_loop(bench.loop);
    REQUIRE(bench.device.active());

    SECTION("a malformed chain")
    {
        driver.make_available(200);
        bench.kick(0);
        test::run_loop(bench.loop);
        CHECK((bench.status() & status::DEVICE_NEEDS_RESET) != 0);
        CHECK(bench.router.triggered == std::vector<uint16_t> { 2 });
        CHECK(bench.pci.isr() == layout::ISR_CONFIG);
    }
    SECTION("reset while a kick is in flight")
    {
        driver.add_chain({ VirtqueueDriver::writable(driver.alloc(8), 8) });
        bench.kick(0);
        bench.set_bar<uint8_t>(common::DEVICE_STATUS, 0);
        // Section 4.1.4.3.2: status reads 0 only once the device has really stopped.
        CHECK(bench.status() != 0);
        CHECK(bench.bar<uint16_t>(common::CONFIG_MSIX_VECTOR) == NO_VECTOR);
        bench.set_bar<uint16_t>(common::QUEUE_SELECT, 0);
        CHECK(bench.bar<uint16_t>(common::QUEUE_ENABLE) == 0);
        CHECK(bench.bar<uint16_t>(common::QUEUE_MSIX_VECTOR) == NO_VECTOR);
        CHECK(bench.bar<uint16_t>(common::QUEUE_SIZE) == 16);
        CHECK(bench.device.resets == 0);
        test::run_loop(bench.loop);
        CHECK(bench.device.resets == 1);
        CHECK(bench.status() == 0);
        CHECK_FALSE(bench.device.active());
        bench.kick(0);
        test::run_loop(bench.loop);
        CHECK(bench.device.notifications.size() == 1);
    }
}

TEST_CASE("virtio-pci device configuration through the BAR and the PCI-config window", "[unit][virtio]")
{
    Bench bench;
    bench.device.config = { std::byte { 0x11 }, std::byte { 0x22 }, std::byte { 0x33 }, std::byte { 0x44 } };
    VirtioPci pci { bench.device, bench.memory, bench.loop, bench.router, bench.irq };
    std::array<std::byte, 2> two {};
    pci.bar_read(0, layout::DEVICE_OFFSET + 1, two);
    CHECK(two[0] == std::byte { 0x22 });
    CHECK(two[1] == std::byte { 0x33 });

    // VIRTIO_PCI_CAP_PCI_CFG: read device_status, then write it, through configuration space.
    Bench& b = bench;
    auto window = b.find_capability(0x09, 5);
    REQUIRE(window.has_value());
    b.set_cfg<uint8_t>(*window + 4, 0);
    b.set_cfg<uint32_t>(*window + 8, common::DEVICE_STATUS);
    b.set_cfg<uint32_t>(*window + 12, 1);
    b.set_cfg<uint32_t>(*window + 16, status::ACKNOWLEDGE);
    CHECK(b.status() == status::ACKNOWLEDGE);
    b.set_cfg<uint32_t>(*window + 8, common::NUM_QUEUES);
    b.set_cfg<uint32_t>(*window + 12, 2);
    CHECK(b.cfg<uint32_t>(*window + 16) == 2);
    // A misaligned window access is not executed.
    b.set_cfg<uint32_t>(*window + 8, common::DEVICE_STATUS - 1);
    b.set_cfg<uint32_t>(*window + 12, 2);
    b.set_cfg<uint32_t>(*window + 16, 0);
    CHECK(b.status() == status::ACKNOWLEDGE);
}

TEST_CASE("virtio-pci configuration change: generation, ISR bit and vector", "[unit][virtio]")
{
    Bench bench;
    VirtqueueDriver driver { bench.memory, 16 };
    REQUIRE(bench.negotiate(FEATURES));
    bench.setup_queue(0, driver);
    bench.add_status(status::DRIVER_OK);
    test::run_loop(bench.loop);
    uint8_t const before = bench.bar<uint8_t>(common::CONFIG_GENERATION);
    bench.device.change_config(2, std::byte { 0x5a });
    CHECK(bench.bar<uint8_t>(common::CONFIG_GENERATION) != before);
    CHECK(bench.bar<uint8_t>(layout::DEVICE_OFFSET + 2) == 0x5a);
    CHECK(bench.irq.level);
    CHECK(bench.bar<uint8_t>(layout::ISR_OFFSET) == layout::ISR_CONFIG);
    CHECK_FALSE(bench.irq.level);
}

TEST_CASE("virtio-pci notify addresses", "[unit][virtio]")
{
    Bench bench;
    auto addresses = bench.pci.notify_addresses();
    REQUIRE(addresses.size() == 2);
    CHECK(addresses[1].bar == 0);
    CHECK(addresses[1].offset == layout::NOTIFY_OFFSET + 4);
    CHECK(addresses[1].length == 0); // any width: each queue has its own address
    CHECK_FALSE(addresses[1].datamatch.has_value());
}
