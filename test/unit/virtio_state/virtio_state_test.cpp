// SPDX-License-Identifier: Apache-2.0
// Snapshot state of the virtio devices: virtio-blk on virtio-pci and virtio-rng on virtio-mmio
// driven to DRIVER_OK with requests completed, saved as records, restored into fresh
// transports and devices over the same guest RAM, where the next request completes and the
// registers read back the same; refused records; quiesce with virtio-blk I/O in flight;
// vsock's TRANSPORT_RESET after a restore.

#include "state_bench.h"

#include "common/unique_fd.h"
#include "vmm/machine/virtio_state_codec.h"
#include "vmm/virtio/block/virtio_block.h"
#include "vmm/virtio/rng/virtio_rng.h"
#include "vmm/virtio/vsock/packet.h"
#include "vmm/virtio/vsock/vsock_device.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <filesystem>
#include <unistd.h>

using namespace monarch;
using namespace monarch::test;
using namespace monarch::vmm;
using namespace monarch::vmm::virtio;

namespace {

constexpr uint64_t BLK_FEATURES = F_VERSION_1 | F_EVENT_IDX;

struct TempDir {
    TempDir()
    {
        std::string pattern = (std::filesystem::temp_directory_path() / "monarch-vstate-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::filesystem::path path;
};

std::string make_image(TempDir const& dir)
{
    auto const path = (dir.path / "disk.img").string();
    UniqueFd fd { ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) };
    REQUIRE(fd);
    REQUIRE(::ftruncate(fd.get(), 1 << 20) == 0);
    return path;
}

std::unique_ptr<VirtioDevice> make_blk(boost::asio::io_context& loop, std::string const& path)
{
    auto device = VirtioBlock::create(loop, machine::DiskConfig { path });
    REQUIRE(device);
    return std::move(*device);
}

// One virtio-blk request: header, data (readable for a write, writable for a read), status.
struct BlkRequest {
    GuestPhysAddr data;
    GuestPhysAddr status;
    uint16_t head { 0 };
};

BlkRequest add_blk_request(VirtqueueDriver& driver, blk::RequestType type, uint64_t sector, std::vector<std::byte> const& payload)
{
    blk::RequestHeader header { static_cast<uint32_t>(type), 0, sector };
    auto header_bytes = std::as_bytes(std::span { &header, 1 });
    auto header_at = driver.put_bytes({ header_bytes.begin(), header_bytes.end() });
    BlkRequest request;
    request.data = type == blk::RequestType::Out ? driver.put_bytes(payload) : driver.alloc(payload.size());
    request.status = driver.alloc(1);
    auto const length = static_cast<uint32_t>(payload.size());
    auto data_segment = type == blk::RequestType::Out ? VirtqueueDriver::readable(request.data, length) : VirtqueueDriver::writable(request.data, length);
    request.head = driver.add_chain({ VirtqueueDriver::readable(header_at, 16), data_segment, VirtqueueDriver::writable(request.status, 1) });
    return request;
}

std::vector<std::byte> pattern(size_t length, uint8_t seed)
{
    std::vector<std::byte> bytes(length);
    for (size_t i = 0; i < length; ++i)
        bytes[i] = std::byte(static_cast<uint8_t>(seed + i * 13));
    return bytes;
}

// virtio-blk on virtio-pci at DRIVER_OK with MSI-X, one write completed.
struct BlkScene {
    TempDir dir;
    std::string image { make_image(dir) };
    VecGuestMemory memory { 4 << 20 };
    VirtqueueDriver driver { memory, 16, GuestPhysAddr { 0x10000 } };
    // The device models are created before their bench, on a loop of their own (virtio-blk's
    // io_uring completions arrive there); run_until() runs it with the bench's. It outlives
    // every device.
    boost::asio::io_context device_loop;
    std::unique_ptr<PciBench> bench;

    BlkScene()
    {
        bench = std::make_unique<PciBench>(memory, new_blk());
        bench->pci.bar_assigned(0, 0xe000'0000);
        bench->set_cfg<uint16_t>(pci::config::COMMAND, pci::command::MEMORY_SPACE | pci::command::BUS_MASTER);
        bench->enable_msix(bench->find_msix());
        bench->negotiate(BLK_FEATURES);
        bench->set_bar<uint16_t>(common_cfg::CONFIG_MSIX_VECTOR, 0);
        bench->setup_queue(0, driver, 1);
        bench->add_status(status::DRIVER_OK);
        run_loop(bench->loop);
        auto write = add_blk_request(driver, blk::RequestType::Out, 2, pattern(512, 7));
        bench->kick(0);
        run_until(*bench, [&] { return driver.next_used().has_value(); });
        CHECK(driver.read_bytes(write.status, 1)[0] == std::byte { 0 });
    }
    std::unique_ptr<VirtioDevice> new_blk() { return make_blk(device_loop, image); }

    // done() may consume what it checks (VirtqueueDriver::next_used): called until true, once.
    void run_until(PciBench& target, std::function<bool()> const& done)
    {
        bool reached = false;
        for (int round = 0; round < 500 && !reached; ++round) {
            run_loop(target.loop);
            device_loop.restart();
            device_loop.run_for(std::chrono::milliseconds(2));
            reached = done();
        }
        REQUIRE(reached);
    }
};

} // namespace

TEST_CASE("virtio-blk on virtio-pci: saved, restored into a fresh transport, completes the next request", "[unit][virtio][snapshot]")
{
    BlkScene scene;
    auto& old = *scene.bench;
    old.pci.quiesce();
    auto const record = machine::encode_virtio_pci(DeviceType::Block, old.pci.state());
    auto const registers = old.registers();
    // As in a restore, the old VM's device is gone before the new one opens the image (an
    // image open for writing is locked).
    scene.bench.reset();

    PciBench fresh { scene.memory, scene.new_blk() };
    auto state = machine::decode_virtio_pci(record, DeviceType::Block);
    REQUIRE(state);
    REQUIRE(fresh.pci.restore(*state));
    CHECK(fresh.registers() == registers);
    CHECK(fresh.pci.bar_address() == 0xe000'0000);
    CHECK(fresh.pci.msix().enabled());
    // The restored table was reported to the router, so that KVM routes match the guest's.
    REQUIRE(fresh.router.updates.size() == fresh.pci.msix().vector_count());
    CHECK(fresh.router.updates[1].message.data == 0x41);
    CHECK_FALSE(fresh.router.updates[1].masked);

    // The restored device reads what the old one wrote, and completes on the queue's vector.
    // EVENT_IDX: the driver asks for an interrupt when the next used entry appears.
    scene.driver.set_used_event(1);
    auto read = add_blk_request(scene.driver, blk::RequestType::In, 2, std::vector<std::byte>(512));
    fresh.kick(0);
    scene.run_until(fresh, [&] { return !fresh.router.triggered.empty(); });
    auto used = scene.driver.next_used();
    REQUIRE(used.has_value());
    CHECK(used->id == read.head);
    CHECK(scene.driver.read_bytes(read.status, 1)[0] == std::byte { 0 });
    CHECK(scene.driver.read_bytes(read.data, 512) == pattern(512, 7));
    CHECK(fresh.router.triggered == std::vector<uint16_t> { 1 });
}

TEST_CASE("virtio-pci state: records of another device, truncated or out of range are refused", "[unit][virtio][snapshot]")
{
    BlkScene scene;
    scene.bench->pci.quiesce();
    auto const good = scene.bench->pci.state();
    auto const record = machine::encode_virtio_pci(DeviceType::Block, good);
    scene.bench.reset(); // its image lock goes with it: each fresh device below opens the image

    auto other_type = machine::decode_virtio_pci(record, DeviceType::Net);
    REQUIRE_FALSE(other_type);
    CHECK(other_type.error().code == Errc::Corrupt);
    for (size_t cut : { size_t { 0 }, size_t { 10 }, record.size() / 2, record.size() - 1 }) {
        auto truncated = machine::decode_virtio_pci(std::span { record }.first(cut), DeviceType::Block);
        REQUIRE_FALSE(truncated);
        CHECK(truncated.error().code == Errc::Corrupt);
    }

    auto refused = [&](auto&& change) {
        auto state = good;
        change(state);
        PciBench fresh { scene.memory, scene.new_blk() };
        auto before = fresh.registers();
        auto restored = fresh.pci.restore(state);
        REQUIRE_FALSE(restored);
        CHECK(restored.error().code == Errc::Corrupt);
        CHECK(fresh.registers() == before); // nothing changed
        CHECK(fresh.status() == 0);
    };
    refused([](VirtioPciState& s) { s.core.queues[0].size = 3; s.core.rings[0].config.size = 3; });
    refused([](VirtioPciState& s) { s.core.rings[0].config.used_ring = GuestPhysAddr { 64ULL << 20 }; s.core.queues[0].device_area = 64ULL << 20; });
    refused([](VirtioPciState& s) { s.core.rings[0].next_available = static_cast<uint16_t>(s.core.rings[0].next_used + 17); });
    refused([](VirtioPciState& s) { s.core.rings[0].config.descriptor_table = GuestPhysAddr { 0x20000 }; });
    refused([](VirtioPciState& s) { s.core.queues.pop_back(); });
    refused([](VirtioPciState& s) { s.core.queues[0].msix_vector = 7; });
    refused([](VirtioPciState& s) { s.core.driver_features |= 1ULL << 40; });
    refused([](VirtioPciState& s) { s.isr = 0x80; });
    refused([](VirtioPciState& s) { s.config[0] = std::byte { 0x12 }; }); // another vendor
    refused([](VirtioPciState& s) { s.msix.entries.pop_back(); });
    refused([](VirtioPciState& s) { s.msix.pending[0] = ~uint64_t { 0 }; });
}

TEST_CASE("quiesce waits for a virtio-blk request in flight on io_uring and holds kicks until thaw", "[unit][virtio][snapshot]")
{
    BlkScene scene;
    auto& bench = *scene.bench;
    auto& block = static_cast<VirtioBlock&>(*bench.device);
    auto write = add_blk_request(scene.driver, blk::RequestType::Out, 4, pattern(4096, 3));
    bench.pci.handle_queue_notify(0); // as the ioeventfd handler: submitted, not yet reaped
    REQUIRE(block.in_flight() == 1);
    REQUIRE_FALSE(scene.driver.next_used().has_value());

    bench.pci.quiesce();
    CHECK(block.in_flight() == 0);
    auto used = scene.driver.next_used();
    REQUIRE(used.has_value());
    CHECK(used->id == write.head);
    CHECK(scene.driver.read_bytes(write.status, 1)[0] == std::byte { 0 });

    // While quiesced a kick is held back; thaw delivers it.
    auto read = add_blk_request(scene.driver, blk::RequestType::In, 4, std::vector<std::byte>(4096));
    bench.pci.handle_queue_notify(0);
    CHECK(block.in_flight() == 0);
    CHECK(bench.pci.state().core.rings[0].next_available == 2);
    bench.pci.thaw();
    scene.run_until(bench, [&] { return scene.driver.next_used().has_value(); });
    CHECK(scene.driver.read_bytes(read.data, 4096) == pattern(4096, 3));
}

TEST_CASE("virtio-rng on virtio-mmio: saved, restored, completes the next request", "[unit][virtio][snapshot]")
{
    VecGuestMemory memory { 1 << 20 };
    VirtqueueDriver driver { memory, 8, GuestPhysAddr { 0x4000 } };
    boost::asio::io_context device_loop;
    auto make_rng = [&] {
        auto rng = VirtioRng::create(device_loop, machine::RngConfig {});
        REQUIRE(rng);
        return std::unique_ptr<VirtioDevice>(std::move(*rng));
    };
    MmioBench old { memory, make_rng() };
    old.negotiate(F_VERSION_1);
    old.setup_queue(0, driver);
    old.add_status(status::DRIVER_OK);
    run_loop(old.loop);
    auto first = driver.alloc(32);
    driver.add_chain({ VirtqueueDriver::writable(first, 32) });
    old.kick(0);
    run_loop(old.loop);
    REQUIRE(driver.next_used().has_value());
    REQUIRE(old.irq.level);

    old.mmio.quiesce();
    auto const record = machine::encode_virtio_mmio(DeviceType::Rng, old.mmio.state());
    auto const registers = old.registers();
    REQUIRE_FALSE(machine::decode_virtio_mmio(record, DeviceType::Block));
    REQUIRE_FALSE(machine::decode_virtio_mmio(std::span { record }.first(record.size() - 2), DeviceType::Rng));

    MmioBench fresh { memory, make_rng() };
    auto state = machine::decode_virtio_mmio(record, DeviceType::Rng);
    REQUIRE(state);
    REQUIRE(fresh.mmio.restore(*state));
    CHECK(fresh.registers() == registers);
    CHECK(fresh.irq.level); // InterruptStatus was set: the line is asserted again

    auto second = driver.alloc(64);
    uint16_t head = driver.add_chain({ VirtqueueDriver::writable(second, 64) });
    fresh.kick(0);
    run_loop(fresh.loop);
    auto used = driver.next_used();
    REQUIRE(used.has_value());
    CHECK(used->id == head);
    CHECK(used->length == 64);

    auto bad = *state;
    bad.interrupt_status = 4;
    MmioBench refused { memory, make_rng() };
    auto result = refused.mmio.restore(bad);
    REQUIRE_FALSE(result);
    CHECK(result.error().code == Errc::Corrupt);
}

TEST_CASE("virtio-vsock sends TRANSPORT_RESET on the event queue after a restore", "[unit][virtio][snapshot]")
{
    TempDir dir;
    VecGuestMemory memory { 4 << 20 };
    std::deque<VirtqueueDriver> drivers;
    for (uint64_t queue = 0; queue < 3; ++queue)
        drivers.emplace_back(memory, 8, GuestPhysAddr { 0x10000 + queue * 0x40000 });
    boost::asio::io_context device_loop;
    int made = 0;
    auto make_vsock = [&] {
        auto path = (dir.path / ("v" + std::to_string(made++) + ".sock")).string();
        auto device = vsock::VsockDevice::create(device_loop, vsock::VsockDeviceConfig { 3, path });
        REQUIRE(device);
        return std::unique_ptr<VirtioDevice>(std::move(*device));
    };
    MmioBench old { memory, make_vsock() };
    old.negotiate(F_VERSION_1);
    for (uint16_t queue = 0; queue < 3; ++queue)
        old.setup_queue(queue, drivers[queue]);
    auto event = drivers[vsock::EVENT_QUEUE].alloc(4);
    uint16_t head = drivers[vsock::EVENT_QUEUE].add_chain({ VirtqueueDriver::writable(event, 4) });
    old.add_status(status::DRIVER_OK);
    run_loop(old.loop);
    std::vector<std::byte> const poison(4, std::byte { 0xaa });
    REQUIRE(memory.write(event, poison));
    old.mmio.quiesce();
    CHECK_FALSE(drivers[vsock::EVENT_QUEUE].next_used().has_value()); // nothing sent before
    auto record = machine::encode_virtio_mmio(DeviceType::Vsock, old.mmio.state());

    MmioBench fresh { memory, make_vsock() };
    auto state = machine::decode_virtio_mmio(record, DeviceType::Vsock);
    REQUIRE(state);
    REQUIRE(fresh.mmio.restore(*state));
    auto used = drivers[vsock::EVENT_QUEUE].next_used();
    REQUIRE(used.has_value());
    CHECK(used->id == head);
    CHECK(used->length == 4);
    CHECK(drivers[vsock::EVENT_QUEUE].read_bytes(event, 4) == std::vector<std::byte>(4, std::byte { 0 })); // id 0: TRANSPORT_RESET
    CHECK(fresh.irq.level);
}
