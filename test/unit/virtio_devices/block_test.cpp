// SPDX-License-Identifier: Apache-2.0
// virtio-blk against a real temporary image file: every request type, its effect on the file,
// the guest errors (read-only, out of range, short header, no status byte, unknown type), the
// creation errors, reset with I/O in flight, flush_and_quiesce, and O_DIRECT bounce buffers.
#include "device_harness.h"
#include "support/skip.h"
#include "vmm/virtio/block/virtio_block.h"

#include "common/scope_guard.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

using namespace monarch;
using namespace monarch::test;
using namespace monarch::vmm;
using namespace monarch::vmm::virtio;

namespace {

constexpr uint64_t IMAGE_BYTES = 1 << 20;
constexpr uint64_t ALL_FEATURES = ~uint64_t { 0 };

std::filesystem::path make_temp_dir()
{
    std::string pattern = (std::filesystem::temp_directory_path() / "monarch-blk-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    return pattern;
}

void write_file(std::filesystem::path const& path, std::vector<std::byte> const& bytes)
{
    UniqueFd fd { ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) };
    REQUIRE(fd);
    REQUIRE(::pwrite(fd.get(), bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
}

std::vector<std::byte> read_file(std::filesystem::path const& path, uint64_t offset, uint64_t length)
{
    UniqueFd fd { ::open(path.c_str(), O_RDONLY | O_CLOEXEC) };
    REQUIRE(fd);
    std::vector<std::byte> bytes(length);
    REQUIRE(::pread(fd.get(), bytes.data(), length, static_cast<off_t>(offset)) == static_cast<ssize_t>(length));
    return bytes;
}

std::vector<std::byte> pattern(uint64_t length, uint8_t seed)
{
    std::vector<std::byte> bytes(length);
    for (uint64_t i = 0; i < length; ++i)
        bytes[i] = std::byte(static_cast<uint8_t>(seed + i * 7 + (i >> 9)));
    return bytes;
}

std::vector<std::byte> header(blk::RequestType type, uint64_t sector)
{
    blk::RequestHeader value { static_cast<uint32_t>(type), 0, sector };
    auto view = std::as_bytes(std::span { &value, 1 });
    return { view.begin(), view.end() };
}

std::vector<std::byte> segment(uint64_t sector, uint32_t count, uint32_t flags)
{
    blk::DiscardSegment value { sector, count, flags };
    auto view = std::as_bytes(std::span { &value, 1 });
    return { view.begin(), view.end() };
}

struct Reply {
    uint8_t status { 0xff };
    uint32_t used_length { 0 };
    std::vector<std::byte> data;
};

struct Posted {
    uint16_t head { 0 };
    GuestPhysAddr data;
    uint32_t data_length { 0 };
    GuestPhysAddr status;
};

struct BlockFixture {
    explicit BlockFixture(machine::DiskConfig config_ = {}, std::optional<std::vector<std::byte>> contents = {})
        : directory(make_temp_dir())
        , config(std::move(config_))
    {
        if (config.path.empty())
            config.path = directory / "disk.img";
        if (!std::filesystem::exists(config.path))
            write_file(config.path, contents.value_or(pattern(IMAGE_BYTES, 0x11)));
    }
    ~BlockFixture() { std::filesystem::remove_all(directory); }

    VirtioBlock& open(uint64_t features = ALL_FEATURES)
    {
        auto created = VirtioBlock::create(io, config);
        INFO((created ? std::string() : to_string(created.error())));
        REQUIRE(created);
        device = std::move(*created);
        harness.activate(*device, device->device_features() & features);
        return *device;
    }

    // Posts a request chain: header, then `out` (readable), then `in_length` writable bytes,
    // then the status byte, each in its own descriptor.
    Posted post(std::vector<std::byte> const& request_header, std::vector<std::byte> const& out, uint32_t in_length)
    {
        auto& driver = harness.drivers.front();
        std::vector<VirtqueueDriver::Segment> segments { VirtqueueDriver::readable(driver.put_bytes(request_header), static_cast<uint32_t>(request_header.size())) };
        if (!out.empty())
            segments.push_back(VirtqueueDriver::readable(driver.put_bytes(out), static_cast<uint32_t>(out.size())));
        Posted posted;
        if (in_length > 0) {
            posted.data = driver.alloc(in_length);
            posted.data_length = in_length;
            segments.push_back(VirtqueueDriver::writable(posted.data, in_length));
        }
        posted.status = driver.alloc(1);
        REQUIRE(harness.memory.write_obj(posted.status, uint8_t { 0xff }));
        segments.push_back(VirtqueueDriver::writable(posted.status, 1));
        posted.head = driver.add_chain(segments);
        return posted;
    }

    Reply finish(Posted const& posted)
    {
        auto& driver = harness.drivers.front();
        std::optional<VirtqueueDriver::UsedEntry> used;
        run_until(io, [&] { return (used = driver.next_used()).has_value(); });
        REQUIRE(used->id == posted.head);
        Reply reply;
        reply.used_length = used->length;
        reply.status = *harness.memory.read_obj<uint8_t>(posted.status);
        if (posted.data_length > 0)
            reply.data = driver.read_bytes(posted.data, posted.data_length);
        return reply;
    }

    Reply request(blk::RequestType type, uint64_t sector, std::vector<std::byte> const& out = {}, uint32_t in_length = 0)
    {
        auto posted = post(header(type, sector), out, in_length);
        device->queue_notify(0);
        return finish(posted);
    }

    std::filesystem::path directory;
    machine::DiskConfig config;
    boost::asio::io_context io;
    DeviceHarness harness { 1 };
    std::unique_ptr<VirtioBlock> device;
};

} // namespace

TEST_CASE("virtio-blk offers its features and reports the capacity in sectors", "[unit][virtio-blk]")
{
    BlockFixture fixture({}, pattern(IMAGE_BYTES + 100, 1)); // a partial last sector is not counted
    auto& device = fixture.open();
    CHECK(device.device_type() == DeviceType::Block);
    auto features = device.device_features();
    for (auto bit : { F_VERSION_1, blk::F_FLUSH, blk::F_DISCARD, blk::F_WRITE_ZEROES, blk::F_BLK_SIZE, blk::F_SEG_MAX, blk::F_SIZE_MAX })
        CHECK((features & bit) != 0);
    CHECK((features & blk::F_RO) == 0);

    std::array<std::byte, 8> capacity {};
    device.read_config(blk::config::CAPACITY, capacity);
    uint64_t sectors = 0;
    std::memcpy(&sectors, capacity.data(), 8);
    CHECK(sectors == IMAGE_BYTES / 512);
    std::array<std::byte, 4> block_size {};
    device.read_config(blk::config::BLK_SIZE, block_size);
    CHECK(block_size[0] == std::byte { 0 });
    CHECK(block_size[1] == std::byte { 2 }); // 512
    std::array<std::byte, 4> beyond { std::byte { 1 }, std::byte { 1 }, std::byte { 1 }, std::byte { 1 } };
    device.read_config(4096, beyond);
    CHECK(beyond == std::array<std::byte, 4> {});
}

TEST_CASE("virtio-blk writes to the image, reads back and flushes", "[unit][virtio-blk]")
{
    BlockFixture fixture;
    fixture.open();
    auto data = pattern(2 * 512, 0x5a);
    auto write = fixture.request(blk::RequestType::Out, 3, data);
    CHECK(write.status == blk::S_OK);
    CHECK(write.used_length == 1);
    CHECK(read_file(fixture.config.path, 3 * 512, data.size()) == data);
    CHECK(read_file(fixture.config.path, 0, 512) == std::vector<std::byte>(pattern(512, 0x11))); // untouched

    auto read = fixture.request(blk::RequestType::In, 3, {}, 1024);
    CHECK(read.status == blk::S_OK);
    CHECK(read.used_length == 1024 + 1);
    CHECK(read.data == data);

    auto flush = fixture.request(blk::RequestType::Flush, 0);
    CHECK(flush.status == blk::S_OK);
    CHECK(fixture.device->counters().flushes == 1);
    CHECK(fixture.device->counters().written_bytes == 1024);
    CHECK(fixture.device->counters().read_bytes == 1024);
    CHECK_FALSE(fixture.harness.interrupt.queue_signals.empty());
}

TEST_CASE("virtio-blk handles data and status in one descriptor and reads the last sector", "[unit][virtio-blk]")
{
    BlockFixture fixture;
    fixture.open();
    auto& driver = fixture.harness.drivers.front();
    auto request = header(blk::RequestType::In, IMAGE_BYTES / 512 - 1);
    auto buffer = driver.alloc(513);
    auto head = driver.add_chain({ VirtqueueDriver::readable(driver.put_bytes(request), 16), VirtqueueDriver::writable(buffer, 513) });
    fixture.device->queue_notify(0);
    std::optional<VirtqueueDriver::UsedEntry> used;
    run_until(fixture.io, [&] { return (used = driver.next_used()).has_value(); });
    CHECK(used->id == head);
    auto bytes = driver.read_bytes(buffer, 513);
    CHECK(bytes[512] == std::byte { blk::S_OK });
    bytes.pop_back();
    CHECK(bytes == read_file(fixture.config.path, IMAGE_BYTES - 512, 512));
}

TEST_CASE("virtio-blk refuses writes on a read-only disk", "[unit][virtio-blk]")
{
    machine::DiskConfig config;
    config.readonly = true;
    BlockFixture fixture(config);
    auto& device = fixture.open();
    CHECK((device.device_features() & blk::F_RO) != 0);
    CHECK((device.device_features() & (blk::F_DISCARD | blk::F_WRITE_ZEROES)) == 0);
    auto before = read_file(fixture.config.path, 0, IMAGE_BYTES);
    auto write = fixture.request(blk::RequestType::Out, 0, pattern(512, 0x77));
    CHECK(write.status == blk::S_IOERR);
    auto zeroes = fixture.request(blk::RequestType::WriteZeroes, 0, segment(0, 8, 0));
    CHECK(zeroes.status == blk::S_UNSUPP); // not negotiated
    CHECK(read_file(fixture.config.path, 0, IMAGE_BYTES) == before);
    auto read = fixture.request(blk::RequestType::In, 0, {}, 512);
    CHECK(read.status == blk::S_OK);
    CHECK(read.data == pattern(512, 0x11));
}

TEST_CASE("virtio-blk answers IOERR for sectors beyond the capacity", "[unit][virtio-blk]")
{
    BlockFixture fixture;
    fixture.open();
    uint64_t const capacity = IMAGE_BYTES / 512;
    CHECK(fixture.request(blk::RequestType::In, capacity, {}, 512).status == blk::S_IOERR);
    CHECK(fixture.request(blk::RequestType::In, capacity - 1, {}, 1024).status == blk::S_IOERR);
    CHECK(fixture.request(blk::RequestType::Out, capacity - 1, pattern(1024, 1)).status == blk::S_IOERR);
    CHECK(fixture.request(blk::RequestType::In, UINT64_MAX - 1, {}, 1024).status == blk::S_IOERR); // sector * 512 overflows
    CHECK(fixture.request(blk::RequestType::In, 0, {}, 100).status == blk::S_IOERR); // not whole sectors
    CHECK(fixture.request(blk::RequestType::Discard, 0, segment(capacity - 4, 8, 0)).status == blk::S_IOERR);
    auto const original = pattern(IMAGE_BYTES, 0x11);
    CHECK(read_file(fixture.config.path, IMAGE_BYTES - 512, 512) == std::vector<std::byte>(original.end() - 512, original.end()));
    CHECK(fixture.device->counters().io_errors == 6);
    CHECK_FALSE(fixture.device->needs_reset());
}

TEST_CASE("virtio-blk answers IOERR to a header too short and UNSUPP to unknown types", "[unit][virtio-blk]")
{
    BlockFixture fixture;
    fixture.open();
    auto short_header = header(blk::RequestType::In, 0);
    short_header.resize(8);
    auto posted = fixture.post(short_header, {}, 512);
    fixture.device->queue_notify(0);
    CHECK(fixture.finish(posted).status == blk::S_IOERR);

    blk::RequestHeader odd { 99, 0, 0 };
    auto odd_bytes = std::as_bytes(std::span { &odd, 1 });
    auto posted_odd = fixture.post({ odd_bytes.begin(), odd_bytes.end() }, {}, 512);
    fixture.device->queue_notify(0);
    auto reply = fixture.finish(posted_odd);
    CHECK(reply.status == blk::S_UNSUPP);
    CHECK(reply.used_length == 1);
    CHECK(fixture.request(blk::RequestType::GetLifetime, 0, {}, 16).status == blk::S_UNSUPP);
    CHECK(fixture.device->counters().unsupported == 2);
}

TEST_CASE("virtio-blk: a chain without room for the status byte makes the device need a reset", "[unit][virtio-blk]")
{
    BlockFixture fixture;
    fixture.open();
    auto& driver = fixture.harness.drivers.front();
    auto request = header(blk::RequestType::Out, 0);
    auto data = pattern(512, 3);
    driver.add_chain({ VirtqueueDriver::readable(driver.put_bytes(request), 16), VirtqueueDriver::readable(driver.put_bytes(data), 512) });
    fixture.device->queue_notify(0);
    fixture.io.restart();
    fixture.io.poll();
    CHECK(fixture.device->needs_reset());
    CHECK(fixture.device->counters().broken_chains == 1);
    CHECK_FALSE(driver.next_used());
    CHECK(read_file(fixture.config.path, 0, 512) == pattern(512, 0x11)); // nothing written

    // A reset and a new activation bring it back.
    fixture.device->reset();
    CHECK_FALSE(fixture.device->needs_reset());
    fixture.harness.drivers.clear();
    fixture.harness.drivers.emplace_back(fixture.harness.memory, 64, GuestPhysAddr { 0x1000 });
    fixture.harness.activate(*fixture.device, fixture.device->device_features());
    CHECK(fixture.request(blk::RequestType::In, 0, {}, 512).status == blk::S_OK);
}

TEST_CASE("virtio-blk answers GET_ID with the configured id or a derived one", "[unit][virtio-blk]")
{
    machine::DiskConfig config;
    config.id = "monarch-disk-7";
    BlockFixture fixture(config);
    fixture.open();
    auto reply = fixture.request(blk::RequestType::GetId, 0, {}, 20);
    CHECK(reply.status == blk::S_OK);
    CHECK(reply.used_length == 21);
    std::string id(reinterpret_cast<char const*>(reply.data.data()), 20);
    CHECK(id == std::string("monarch-disk-7") + std::string(6, '\0'));

    BlockFixture plain;
    plain.open();
    auto derived = plain.request(blk::RequestType::GetId, 0, {}, 20);
    CHECK(derived.status == blk::S_OK);
    CHECK(derived.data[0] != std::byte { 0 });
}

TEST_CASE("virtio-blk discard and write-zeroes zero the ranges on the image and nothing else", "[unit][virtio-blk]")
{
    BlockFixture fixture({}, std::vector<std::byte>(IMAGE_BYTES, std::byte { 0xaa }));
    fixture.open();
    std::vector<std::byte> const zeros(4096, std::byte { 0 });
    std::vector<std::byte> const filled(4096, std::byte { 0xaa });

    auto zeroes = segment(8, 8, 0);
    auto unmap = segment(64, 8, blk::SEGMENT_F_UNMAP);
    zeroes.insert(zeroes.end(), unmap.begin(), unmap.end());
    CHECK(fixture.request(blk::RequestType::WriteZeroes, 0, zeroes).status == blk::S_OK);
    CHECK(read_file(fixture.config.path, 8 * 512, 4096) == zeros);
    CHECK(read_file(fixture.config.path, 64 * 512, 4096) == zeros);
    CHECK(read_file(fixture.config.path, 0, 4096) == filled);
    CHECK(read_file(fixture.config.path, 16 * 512, 4096) == filled);

    CHECK(fixture.request(blk::RequestType::Discard, 0, segment(128, 8, 0)).status == blk::S_OK);
    CHECK(read_file(fixture.config.path, 128 * 512, 4096) == zeros); // a punched hole on this file system
    CHECK(read_file(fixture.config.path, 136 * 512, 4096) == filled);
    CHECK(std::filesystem::file_size(fixture.config.path) == IMAGE_BYTES);

    // Section 5.2.6.2: unmap on a discard, and unknown flags, are UNSUPP; a partial segment is IOERR.
    CHECK(fixture.request(blk::RequestType::Discard, 0, segment(256, 8, blk::SEGMENT_F_UNMAP)).status == blk::S_UNSUPP);
    CHECK(fixture.request(blk::RequestType::WriteZeroes, 0, segment(256, 8, 4)).status == blk::S_UNSUPP);
    auto partial = segment(256, 8, 0);
    partial.resize(12);
    CHECK(fixture.request(blk::RequestType::WriteZeroes, 0, partial).status == blk::S_IOERR);
    CHECK(read_file(fixture.config.path, 256 * 512, 4096) == filled);
}

TEST_CASE("virtio-blk: discard without the negotiated feature is UNSUPP", "[unit][virtio-blk]")
{
    BlockFixture fixture({}, std::vector<std::byte>(IMAGE_BYTES, std::byte { 0xaa }));
    fixture.open(~(blk::F_DISCARD | blk::F_WRITE_ZEROES));
    CHECK(fixture.request(blk::RequestType::Discard, 0, segment(0, 8, 0)).status == blk::S_UNSUPP);
    CHECK(read_file(fixture.config.path, 0, 4096) == std::vector<std::byte>(4096, std::byte { 0xaa }));
}

TEST_CASE("virtio-blk creation errors: missing, directory, read-only, too short", "[unit][virtio-blk]")
{
    auto directory = make_temp_dir();
    ScopeGuard cleanup { [&] { std::filesystem::remove_all(directory); } };
    boost::asio::io_context io;
    auto create = [&](std::filesystem::path const& path, bool readonly = false) {
        machine::DiskConfig config;
        config.path = path;
        config.readonly = readonly;
        return VirtioBlock::create(io, config);
    };

    auto missing = create(directory / "absent.img");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == Errc::NotFound);
    CHECK(to_string(missing.error()).find("does not exist") != std::string::npos);

    auto is_directory = create(directory);
    REQUIRE_FALSE(is_directory);
    CHECK(is_directory.error().code == Errc::InvalidArgument);
    CHECK(to_string(is_directory.error()).find("directory") != std::string::npos);
    CHECK_FALSE(create(directory, true)); // read-only makes no difference

    auto locked = directory / "locked.img";
    write_file(locked, pattern(4096, 1));
    REQUIRE(::chmod(locked.c_str(), 0444) == 0);
    auto read_write = create(locked);
    REQUIRE_FALSE(read_write);
    CHECK(read_write.error().code == Errc::Busy);
    CHECK(to_string(read_write.error()).find("readonly=on") != std::string::npos);
    CHECK(create(locked, true));

    auto tiny = directory / "tiny.img";
    write_file(tiny, pattern(100, 1));
    auto too_short = create(tiny);
    REQUIRE_FALSE(too_short);
    CHECK(too_short.error().code == Errc::InvalidArgument);
    CHECK(to_string(too_short.error()).find("shorter than one 512-byte sector") != std::string::npos);

    machine::DiskConfig long_id;
    long_id.path = locked;
    long_id.readonly = true;
    long_id.id = std::string(21, 'x');
    CHECK_FALSE(VirtioBlock::create(io, long_id));
}

TEST_CASE("virtio-blk reset waits for I/O in flight and the device works after it", "[unit][virtio-blk]")
{
    BlockFixture fixture;
    fixture.open();
    std::vector<std::vector<std::byte>> written;
    for (uint64_t i = 0; i < 16; ++i) {
        written.push_back(pattern(32 * 1024, static_cast<uint8_t>(i)));
        fixture.post(header(blk::RequestType::Out, i * 64), written.back(), 0);
    }
    fixture.device->queue_notify(0); // submitted; completions not reaped (the loop does not run)
    CHECK(fixture.device->in_flight() > 0);
    fixture.device->reset();
    CHECK(fixture.device->in_flight() == 0);
    CHECK(fixture.harness.drivers.front().used_idx() == 0); // after reset nothing touches the ring
    for (uint64_t i = 0; i < 16; ++i)
        CHECK(read_file(fixture.config.path, i * 64 * 512, 32 * 1024) == written[i]);
    fixture.io.restart();
    fixture.io.poll(); // the stale completion event must find nothing to do

    fixture.harness.drivers.clear();
    fixture.harness.drivers.emplace_back(fixture.harness.memory, 64, GuestPhysAddr { 0x1000 });
    fixture.harness.activate(*fixture.device, fixture.device->device_features());
    auto read = fixture.request(blk::RequestType::In, 64, {}, 4096);
    CHECK(read.status == blk::S_OK);
    CHECK(read.data == std::vector<std::byte>(written[1].begin(), written[1].begin() + 4096));
}

TEST_CASE("virtio-blk flush_and_quiesce completes acknowledged writes and takes no new ones", "[unit][virtio-blk]")
{
    BlockFixture fixture;
    fixture.open();
    auto data = pattern(8192, 0x42);
    auto posted = fixture.post(header(blk::RequestType::Out, 100), data, 0);
    fixture.device->queue_notify(0);
    REQUIRE(fixture.device->flush_and_quiesce());
    CHECK(fixture.device->in_flight() == 0);
    auto used = fixture.harness.drivers.front().next_used();
    REQUIRE(used); // completed to the guest before returning
    CHECK(used->id == posted.head);
    CHECK(*fixture.harness.memory.read_obj<uint8_t>(posted.status) == blk::S_OK);
    CHECK(read_file(fixture.config.path, 100 * 512, 8192) == data);

    fixture.post(header(blk::RequestType::Out, 0), pattern(512, 9), 0);
    fixture.device->queue_notify(0);
    fixture.io.restart();
    fixture.io.poll();
    CHECK_FALSE(fixture.harness.drivers.front().next_used());
    CHECK(read_file(fixture.config.path, 0, 512) == pattern(512, 0x11));
}

TEST_CASE("virtio-blk with direct=on goes through O_DIRECT, bouncing unaligned guest buffers", "[unit][virtio-blk]")
{
    machine::DiskConfig config;
    config.direct = true;
    BlockFixture fixture(config);
    {
        // A probe, closed before the fixture opens the image (an open image is locked).
        auto created = VirtioBlock::create(fixture.io, fixture.config);
        if (!created && created.error().code == Errc::Unsupported)
            skip("the temporary directory's file system refuses O_DIRECT");
    }
    fixture.open();
    auto data = pattern(4096, 0x33);
    CHECK(fixture.request(blk::RequestType::Out, 8, data).status == blk::S_OK);
    CHECK(read_file(fixture.config.path, 8 * 512, 4096) == data);
    auto read = fixture.request(blk::RequestType::In, 8, {}, 4096);
    CHECK(read.status == blk::S_OK);
    CHECK(read.data == data);
}

TEST_CASE("virtio-blk serves more requests than it keeps in flight, through indirect chains", "[unit][virtio-blk]")
{
    BlockFixture fixture;
    fixture.harness.drivers.clear();
    fixture.harness.drivers.emplace_back(fixture.harness.memory, 256, GuestPhysAddr { 0x1000 });
    fixture.open();
    auto& driver = fixture.harness.drivers.front();
    constexpr uint32_t REQUESTS = VirtioBlock::MAX_IN_FLIGHT + 72;
    std::vector<GuestPhysAddr> buffers;
    std::vector<uint16_t> heads;
    for (uint32_t i = 0; i < REQUESTS; ++i) {
        auto request = header(blk::RequestType::In, i * 8);
        buffers.push_back(driver.alloc(4096 + 1));
        heads.push_back(driver.add_indirect_chain({ VirtqueueDriver::readable(driver.put_bytes(request), 16),
            VirtqueueDriver::writable(buffers.back(), 4096 + 1) }));
    }
    fixture.device->queue_notify(0);
    CHECK(fixture.device->in_flight() <= VirtioBlock::MAX_IN_FLIGHT);
    std::vector<bool> seen(REQUESTS, false);
    size_t completed = 0;
    run_until(fixture.io, [&] {
        while (auto used = driver.next_used()) {
            auto index = static_cast<size_t>(std::find(heads.begin(), heads.end(), used->id) - heads.begin());
            REQUIRE(index < REQUESTS);
            CHECK_FALSE(seen[index]);
            seen[index] = true;
            CHECK(used->length == 4097);
            ++completed;
        }
        return completed == REQUESTS;
    });
    auto const image = pattern(IMAGE_BYTES, 0x11);
    for (uint32_t i = 0; i < REQUESTS; ++i) {
        auto bytes = driver.read_bytes(buffers[i], 4097);
        CHECK(bytes[4096] == std::byte { blk::S_OK });
        bytes.pop_back();
        CHECK(std::equal(bytes.begin(), bytes.end(), image.begin() + i * 4096));
    }
}

TEST_CASE("a disk image is locked while open: one writer alone, or readers together", "[unit][virtio-blk]")
{
    auto const dir = make_temp_dir();
    ScopeGuard cleanup { [&] { std::filesystem::remove_all(dir); } };
    auto const path = dir / "disk.raw";
    write_file(path, pattern(IMAGE_BYTES, 3));
    auto const config = [&](bool readonly) {
        machine::DiskConfig disk;
        disk.path = path.string();
        disk.readonly = readonly;
        return disk;
    };
    {
        auto writer = blk::DiskImage::open(config(false));
        REQUIRE(writer.has_value());
        // The lock belongs to each open image, so a second VM in this very process conflicts too.
        for (bool readonly : { false, true }) {
            auto second = blk::DiskImage::open(config(readonly));
            REQUIRE_FALSE(second.has_value());
            CHECK(second.error().code == Errc::Sys);
            CHECK(second.error().sys_errno == EBUSY);
            CHECK(std::string(second.error().context).find("in use") != std::string::npos);
        }
    }
    // The writer closed: its lock went with it. Readers share, and keep a writer out.
    auto reader = blk::DiskImage::open(config(true));
    REQUIRE(reader.has_value());
    auto other_reader = blk::DiskImage::open(config(true));
    CHECK(other_reader.has_value());
    auto writer = blk::DiskImage::open(config(false));
    REQUIRE_FALSE(writer.has_value());
    CHECK(writer.error().sys_errno == EBUSY);
}
