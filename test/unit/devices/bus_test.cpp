// SPDX-License-Identifier: Apache-2.0
// Bus: registration rules and dispatch.
#include "vmm/devices/bus.h"

#include <catch2/catch.hpp>
#include <algorithm>
#include <array>
#include <memory>
#include <thread>
#include <vector>

using namespace monarch;
using namespace monarch::vmm;

namespace {

// Records every access and answers reads with its tag plus the offset.
class RecordingDevice final : public BusDevice {
public:
    explicit RecordingDevice(uint8_t tag) : m_tag(tag) {}
    void read(uint64_t offset, std::span<std::byte> data) override
    {
        reads.push_back({ offset, data.size() });
        for (auto& byte : data)
            byte = std::byte(m_tag + offset);
    }
    void write(uint64_t offset, std::span<std::byte const> data) override
    {
        writes.push_back({ offset, data.size() });
        last_value = data.empty() ? 0 : std::to_integer<uint8_t>(data[0]);
    }
    struct Access {
        uint64_t offset;
        size_t size;
    };
    std::vector<Access> reads;
    std::vector<Access> writes;
    uint8_t last_value { 0 };

private:
    uint8_t m_tag;
};

} // namespace

TEST_CASE("bus rejects zero length, wrap-around and null devices", "[unit][bus]")
{
    Bus bus;
    auto device = std::make_shared<RecordingDevice>(0);
    auto zero = bus.insert(0x100, 0, device, "zero");
    REQUIRE_FALSE(zero);
    CHECK(zero.error().code == Errc::InvalidArgument);
    auto wraps = bus.insert(UINT64_MAX - 3, 8, device, "wraps");
    REQUIRE_FALSE(wraps);
    CHECK(wraps.error().code == Errc::InvalidArgument);
    auto null = bus.insert(0x100, 1, nullptr, "null");
    REQUIRE_FALSE(null);
    CHECK(null.error().code == Errc::InvalidArgument);
    // A range may end exactly at the top of the address space.
    CHECK(bus.insert(UINT64_MAX - 7, 8, device, "top"));
    CHECK(bus.ranges().size() == 1);
}

TEST_CASE("bus refuses overlapping ranges and accepts adjacent ones", "[unit][bus]")
{
    Bus bus;
    auto a = std::make_shared<RecordingDevice>(0x10);
    REQUIRE(bus.insert(0x3f8, 8, a, "com1"));
    struct Case {
        uint64_t base, length;
    };
    for (auto [base, length] : { Case { 0x3f8, 8 }, Case { 0x3f0, 9 }, Case { 0x3ff, 1 }, Case { 0x3fa, 1 }, Case { 0x300, 0x200 } }) {
        auto result = bus.insert(base, length, std::make_shared<RecordingDevice>(0), "other");
        INFO("base " << base << " length " << length);
        REQUIRE_FALSE(result);
        CHECK(result.error().code == Errc::Busy);
    }
    CHECK(bus.insert(0x3f0, 8, std::make_shared<RecordingDevice>(0), "below"));
    CHECK(bus.insert(0x400, 8, std::make_shared<RecordingDevice>(0), "above"));
    auto ranges = bus.ranges();
    REQUIRE(ranges.size() == 3);
    CHECK(ranges[0].name == "below");
    CHECK(ranges[1].name == "com1");
    CHECK(ranges[1].base == 0x3f8);
    CHECK(ranges[2].name == "above");
}

TEST_CASE("bus dispatches with the offset from the device's base", "[unit][bus]")
{
    Bus bus;
    auto a = std::make_shared<RecordingDevice>(0x10);
    auto b = std::make_shared<RecordingDevice>(0x40);
    REQUIRE(bus.insert(0x1000, 0x10, a, "a"));
    REQUIRE(bus.insert(0x1010, 0x10, b, "b"));

    std::array<std::byte, 4> data {};
    REQUIRE(bus.read(0x1014, data));
    CHECK(data[0] == std::byte { 0x44 });
    REQUIRE(b->reads.size() == 1);
    CHECK(b->reads[0].offset == 4);
    CHECK(b->reads[0].size == 4);
    CHECK(a->reads.empty());

    std::array<std::byte, 1> value { std::byte { 0x5a } };
    REQUIRE(bus.write(0x100f, value));
    REQUIRE(a->writes.size() == 1);
    CHECK(a->writes[0].offset == 0xf);
    CHECK(a->last_value == 0x5a);
}

TEST_CASE("bus accesses that straddle a range end or hit nothing go nowhere", "[unit][bus]")
{
    Bus bus;
    auto a = std::make_shared<RecordingDevice>(0);
    auto b = std::make_shared<RecordingDevice>(0);
    REQUIRE(bus.insert(0x1000, 0x10, a, "a"));
    REQUIRE(bus.insert(0x1010, 0x10, b, "b"));
    std::array<std::byte, 4> data {};
    CHECK_FALSE(bus.read(0x100e, data));  // two bytes in a, two in b
    CHECK_FALSE(bus.write(0x101e, data)); // past the end of b
    CHECK_FALSE(bus.read(0xfff, std::span<std::byte>(data).first(1)));
    CHECK_FALSE(bus.read(0x2000, data));
    CHECK_FALSE(bus.read(0x1000, std::span<std::byte>())); // empty access
    CHECK(a->reads.empty());
    CHECK(a->writes.empty());
    CHECK(b->reads.empty());
    CHECK(b->writes.empty());
    // The last bytes of a range are still reachable.
    CHECK(bus.read(0x101c, data));
}

TEST_CASE("bus remove unmaps a range and frees its slot", "[unit][bus]")
{
    Bus bus;
    auto a = std::make_shared<RecordingDevice>(0);
    REQUIRE(bus.insert(0x60, 1, a, "a"));
    auto missing = bus.remove(0x61);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == Errc::NotFound);
    REQUIRE(bus.remove(0x60));
    std::array<std::byte, 1> data {};
    CHECK_FALSE(bus.read(0x60, data));
    CHECK(bus.insert(0x60, 1, std::make_shared<RecordingDevice>(1), "again"));
    CHECK(bus.read(0x60, data));
    CHECK(data[0] == std::byte { 1 });
}

TEST_CASE("bus dispatch is safe from several threads while ranges change", "[unit][bus]")
{
    Bus bus;
    REQUIRE(bus.insert(0x0, 0x100, std::make_shared<RecordingDevice>(0), "fixed"));
    std::atomic<bool> done { false };
    std::atomic<uint64_t> hits { 0 };
    std::vector<std::thread> readers;
    for (int t = 0; t < 2; ++t) {
        readers.emplace_back([&] {
            // Only the churned, stateless device is read here: the bus is under test, not it.
            std::array<std::byte, 1> data {};
            while (!done.load())
                hits += bus.read(0x200, data) ? 1 : 0;
        });
    }
    for (int i = 0; i < 2000; ++i) {
        class Constant final : public BusDevice {
        public:
            void read(uint64_t, std::span<std::byte> data) override { std::fill(data.begin(), data.end(), std::byte { 7 }); }
            void write(uint64_t, std::span<std::byte const>) override {}
        };
        REQUIRE(bus.insert(0x200, 1, std::make_shared<Constant>(), "churn"));
        REQUIRE(bus.remove(0x200));
    }
    done = true;
    for (auto& reader : readers)
        reader.join();
    CHECK(bus.ranges().size() == 1);
}

TEST_CASE("bus string accesses reach the device once per element at the same offset", "[unit][bus]")
{
    Bus bus;
    auto device = std::make_shared<RecordingDevice>(0x20);
    REQUIRE(bus.insert(0x60, 4, device, "port"));

    std::array<std::byte, 6> in {};
    REQUIRE(bus.read_each(0x62, in, 2)); // rep insw, count 3
    REQUIRE(device->reads.size() == 3);
    for (auto const& access : device->reads) {
        CHECK(access.offset == 2);
        CHECK(access.size == 2);
    }
    CHECK(in[5] == std::byte { 0x22 });

    std::array<std::byte, 3> out { std::byte { 1 }, std::byte { 2 }, std::byte { 3 } };
    REQUIRE(bus.write_each(0x63, out, 1)); // rep outsb, count 3
    REQUIRE(device->writes.size() == 3);
    CHECK(device->last_value == 3);

    CHECK_FALSE(bus.read_each(0x70, in, 2)); // nothing there
    CHECK_FALSE(bus.read_each(0x63, in, 2)); // straddles the range's end
    CHECK_FALSE(bus.read_each(0x60, in, 0)); // no width: never a device call
}

TEST_CASE("bus overlaps answers what insert would refuse, without a copy of the ranges", "[unit][bus]")
{
    Bus bus;
    REQUIRE(bus.insert(0x1000, 0x100, std::make_shared<RecordingDevice>(0), "a"));
    REQUIRE(bus.insert(0x1200, 0x10, std::make_shared<RecordingDevice>(0), "b"));
    REQUIRE(bus.insert(0x2000, 0x1000, std::make_shared<RecordingDevice>(0), "c"));
    REQUIRE(bus.insert(UINT64_MAX - 0xf, 0x10, std::make_shared<RecordingDevice>(0), "top"));
    auto const ranges = bus.ranges();
    auto brute_force = [&](uint64_t base, uint64_t length) {
        for (auto const& range : ranges) {
            uint64_t const last = base + std::min(length - 1, UINT64_MAX - base);
            if (base <= range.base + (range.length - 1) && range.base <= last)
                return true;
        }
        return false;
    };
    // Probes around every edge, of lengths from 1 to past the end of the address space.
    std::vector<uint64_t> bases { 0, 0xfff, 0x1000, 0x10ff, 0x1100, 0x11ff, 0x1200, 0x1210, 0x1f00, 0x2fff, 0x3000,
        UINT64_MAX - 0x10, UINT64_MAX - 0xf, UINT64_MAX };
    for (uint64_t base : bases) {
        for (uint64_t length : { uint64_t { 1 }, uint64_t { 0x10 }, uint64_t { 0x101 }, uint64_t { 0x1000 }, uint64_t { 0x10000 }, UINT64_MAX }) {
            INFO("base " << base << " length " << length);
            CHECK(bus.overlaps(base, length) == brute_force(base, length));
            // Where insert can say, it agrees: Busy exactly when overlaps() says so.
            uint64_t last = 0;
            if (!__builtin_add_overflow(base, length - 1, &last)) {
                Bus copy;
                for (auto const& range : ranges)
                    REQUIRE(copy.insert(range.base, range.length, std::make_shared<RecordingDevice>(0), range.name));
                auto inserted = copy.insert(base, length, std::make_shared<RecordingDevice>(0), "probe");
                CHECK(inserted.has_value() == !bus.overlaps(base, length));
            }
        }
    }
    CHECK_FALSE(bus.overlaps(0x1000, 0)); // an empty range overlaps nothing
    CHECK_FALSE(Bus {}.overlaps(0, UINT64_MAX));
}
