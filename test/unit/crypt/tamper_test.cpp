// SPDX-License-Identifier: Apache-2.0
// Sealed streams that were tampered with: every case must fail with Errc::Corrupt, and no
// record from the point of damage on may be returned.
#include "crypt_test_support.h"

using namespace monarch;
using namespace monarch::crypt;
using sealtest::Bytes;

namespace {

constexpr size_t page = format::page_size;
constexpr size_t sealed_page = page + tag_size;

struct Span {
    size_t offset;
    size_t size;
};

// Where each record lies in an intact stream, from its record headers.
std::vector<Span> record_spans(Bytes const& stream)
{
    std::vector<Span> spans;
    size_t offset = format::header_size;
    while (offset < stream.size()) {
        auto bytes = std::span<std::byte const>(stream).subspan(offset).first<format::record_header_size>();
        auto record = format::decode_record_header(bytes);
        REQUIRE(record.has_value());
        size_t size = format::record_header_size + record->name_length + format::sealed_payload_size(*record);
        spans.push_back({ offset, size });
        offset += size;
    }
    REQUIRE(offset == stream.size());
    return spans;
}

// One scenario: a data key and owner, and a fixed stream layout:
// #0 two pages at 0, #1 two pages at 0x10000, #2 state "dev.uart" (100 bytes), #3 end.
struct Scenario {
    OwnerKey owner;
    SealingKeys keys;

    Bytes write(Generation generation, uint64_t content_seed, std::optional<StreamId> stream = std::nullopt) const
    {
        return sealtest::write_stream(keys, generation, [&](StreamWriter& writer) {
            REQUIRE(writer.append_pages(GuestPhysAddr(0), sealtest::pattern_bytes(2 * page, content_seed)).has_value());
            REQUIRE(writer.append_pages(GuestPhysAddr(0x10000), sealtest::pattern_bytes(2 * page, content_seed + 1)).has_value());
            REQUIRE(writer.append_state("dev.uart", sealtest::pattern_bytes(100, content_seed + 2)).has_value());
        }, stream);
    }
};

Scenario make_scenario(Cipher cipher, uint8_t uuid_byte = 0x42)
{
    auto owner = OwnerKey::generate();
    REQUIRE(owner.has_value());
    auto keys = SealingKeys::create(*owner, sealtest::uuid_filled(uuid_byte), cipher);
    REQUIRE(keys.has_value());
    return { std::move(*owner), std::move(*keys) };
}

// The read fails with Errc::Corrupt, and only the intact records before `first_bad`
// were returned, unchanged.
sealtest::ReadResult expect_corrupt(Bytes const& damaged, Bytes const& intact, OwnerKey const& owner, size_t first_bad)
{
    auto result = sealtest::read_stream(damaged, owner);
    REQUIRE(result.error.has_value());
    INFO(to_string(*result.error));
    REQUIRE(result.error->code == Errc::Corrupt);
    auto original = sealtest::read_stream(intact, owner);
    REQUIRE(result.records.size() == first_bad);
    for (size_t i = 0; i < first_bad; ++i)
        REQUIRE(result.records[i].data == original.records[i].data);
    return result;
}

void splice(Bytes& into, Span where, Bytes const& from, Span what)
{
    REQUIRE(where.size == what.size);
    std::copy_n(from.begin() + static_cast<ptrdiff_t>(what.offset), what.size, into.begin() + static_cast<ptrdiff_t>(where.offset));
}

} // namespace

TEST_CASE("tamper: a flipped byte in a page or in its tag", "[unit][crypt]")
{
    sealtest::init();
    for (auto cipher : sealtest::ciphers_here()) {
        INFO(to_string(cipher));
        auto scenario = make_scenario(cipher);
        auto intact = scenario.write(Generation(1), 10);
        auto spans = record_spans(intact);
        REQUIRE(spans.size() == 4);

        auto in_page = intact;
        in_page[spans[1].offset + format::record_header_size + sealed_page + 100] ^= std::byte(0x01);
        auto result = expect_corrupt(in_page, intact, scenario.owner, 1);
        REQUIRE(result.error->context == "sealed stream: authentication failed (page at GPA)");
        REQUIRE(result.failure.gpa == GuestPhysAddr(0x11000));
        REQUIRE(result.failure.record_index == 1u);

        auto in_tag = intact;
        in_tag[spans[0].offset + format::record_header_size + page + 3] ^= std::byte(0x80);
        result = expect_corrupt(in_tag, intact, scenario.owner, 0);
        REQUIRE(result.failure.gpa == GuestPhysAddr(0));

        auto in_state = intact;
        in_state[spans[2].offset + format::record_header_size + 8 + 50] ^= std::byte(0x04);
        result = expect_corrupt(in_state, intact, scenario.owner, 2);
        REQUIRE(result.error->context == "sealed stream: authentication failed (state record)");

        auto in_end = intact;
        in_end[spans[3].offset + format::record_header_size + 2] ^= std::byte(0x01);
        expect_corrupt(in_end, intact, scenario.owner, 3);
    }
}

TEST_CASE("tamper: any flipped byte in the stream header or a record header", "[unit][crypt]")
{
    sealtest::init();
    for (auto cipher : sealtest::ciphers_here()) {
        INFO(to_string(cipher));
        auto scenario = make_scenario(cipher);
        auto intact = scenario.write(Generation(1), 20);
        for (size_t i = 0; i < format::header_size; ++i) {
            INFO("header byte " << i);
            auto damaged = intact;
            damaged[i] ^= std::byte(0x01);
            expect_corrupt(damaged, intact, scenario.owner, 0);
        }
        auto spans = record_spans(intact);
        for (size_t record : { 1, 2 }) {
            for (size_t i = 0; i < format::record_header_size + (record == 2 ? 8 : 0); ++i) {
                INFO("record " << record << " header byte " << i);
                auto damaged = intact;
                damaged[spans[record].offset + i] ^= std::byte(0x10);
                expect_corrupt(damaged, intact, scenario.owner, record);
            }
        }
    }
}

TEST_CASE("tamper: records swapped, renumbered, dropped, or pages moved", "[unit][crypt]")
{
    sealtest::init();
    for (auto cipher : sealtest::ciphers_here()) {
        INFO(to_string(cipher));
        auto scenario = make_scenario(cipher);
        auto intact = scenario.write(Generation(1), 30);
        auto spans = record_spans(intact);

        auto swapped = intact;
        splice(swapped, spans[0], intact, spans[1]);
        splice(swapped, spans[1], intact, spans[0]);
        auto result = expect_corrupt(swapped, intact, scenario.owner, 0);
        REQUIRE(result.error->context == "sealed stream: record out of order");

        // Swapped, with the position fields rewritten to look in order: the additional
        // data of the units still names the old positions.
        auto renumbered = swapped;
        for (size_t record : { 0, 1 }) {
            auto at = std::span<std::byte>(renumbered).subspan(spans[record].offset);
            format::store_le64(at.subspan(8), record);
            format::store_le64(at.subspan(16), record * 2);
        }
        result = expect_corrupt(renumbered, intact, scenario.owner, 0);
        REQUIRE(result.error->context == "sealed stream: authentication failed (page at GPA)");

        // A page record moved to another GPA.
        auto moved = intact;
        format::store_le64(std::span<std::byte>(moved).subspan(spans[1].offset + 24), 0x20000);
        result = expect_corrupt(moved, intact, scenario.owner, 1);
        REQUIRE(result.failure.gpa == GuestPhysAddr(0x20000));

        // Two pages of one record exchanged.
        auto exchanged = intact;
        size_t first_page = spans[1].offset + format::record_header_size;
        splice(exchanged, { first_page, sealed_page }, intact, { first_page + sealed_page, sealed_page });
        splice(exchanged, { first_page + sealed_page, sealed_page }, intact, { first_page, sealed_page });
        expect_corrupt(exchanged, intact, scenario.owner, 1);

        // A record dropped from the middle.
        auto dropped = intact;
        dropped.erase(dropped.begin() + static_cast<ptrdiff_t>(spans[1].offset),
            dropped.begin() + static_cast<ptrdiff_t>(spans[1].offset + spans[1].size));
        result = expect_corrupt(dropped, intact, scenario.owner, 1);
        REQUIRE(result.error->context == "sealed stream: record out of order");
    }
}

TEST_CASE("tamper: a record replayed from an older generation", "[unit][crypt]")
{
    sealtest::init();
    for (auto cipher : sealtest::ciphers_here()) {
        INFO(to_string(cipher));
        auto scenario = make_scenario(cipher);
        // Same keys and even the same stream id: only the generation differs.
        StreamId stream;
        stream.bytes.fill(std::byte(0x77));
        auto older = scenario.write(Generation(1), 40, stream);
        auto newer = scenario.write(Generation(2), 50, stream);
        auto spans = record_spans(newer);
        REQUIRE(record_spans(older).size() == spans.size());
        for (size_t record = 0; record < 3; ++record) {
            INFO("record " << record);
            auto replayed = newer;
            splice(replayed, spans[record], older, spans[record]);
            expect_corrupt(replayed, newer, scenario.owner, record);
        }
        // The whole body of the older stream behind the newer header.
        auto body = older;
        std::copy_n(newer.begin(), format::header_size, body.begin());
        expect_corrupt(body, newer, scenario.owner, 0);
    }
}

TEST_CASE("tamper: a record from another VM's stream under the same data key", "[unit][crypt]")
{
    sealtest::init();
    for (auto cipher : sealtest::ciphers_here()) {
        INFO(to_string(cipher));
        auto scenario = make_scenario(cipher, 0x42);
        // VM B gets the very same data key (unwrapped and re-wrapped for B's UUID), the
        // same generation and the same stream id: only the UUID differs.
        auto data = unwrap_data_key(scenario.owner, scenario.keys.wrapped, scenario.keys.vm, cipher);
        REQUIRE(data.has_value());
        auto other_vm = sealtest::uuid_filled(0x43);
        auto wrapped = wrap_data_key(scenario.owner, *data, other_vm, cipher);
        REQUIRE(wrapped.has_value());
        Scenario other { std::move(*OwnerKey::generate()), SealingKeys { std::move(*data), *wrapped, other_vm, cipher } };
        StreamId stream;
        stream.bytes.fill(std::byte(0x99));
        auto mine = scenario.write(Generation(3), 60, stream);
        auto theirs = other.write(Generation(3), 70, stream);
        auto spans = record_spans(mine);
        for (size_t record = 0; record < 4; ++record) {
            INFO("record " << record);
            auto mixed = mine;
            splice(mixed, spans[record], theirs, spans[record]);
            expect_corrupt(mixed, mine, scenario.owner, record);
        }
    }
}

TEST_CASE("tamper: truncation anywhere, a missing end record, trailing bytes", "[unit][crypt]")
{
    sealtest::init();
    for (auto cipher : sealtest::ciphers_here()) {
        INFO(to_string(cipher));
        auto scenario = make_scenario(cipher);
        auto intact = scenario.write(Generation(1), 80);
        auto spans = record_spans(intact);
        std::vector<std::pair<size_t, size_t>> cuts = { // (length kept, records intact before it)
            { 0, 0 }, { 100, 0 }, { format::header_size - 1, 0 },
            { format::header_size, 0 },                          // header only
            { spans[0].offset + 10, 0 },                         // inside a record header
            { spans[0].offset + format::record_header_size + 2000, 0 }, // inside a page
            { spans[1].offset, 1 },                              // at a record boundary
            { spans[2].offset + format::record_header_size + 4, 2 }, // inside a state name
            { spans[3].offset, 3 },                              // end record missing
            { spans[3].offset + 40, 3 },                         // inside the end record
            { intact.size() - 1, 3 } };
        for (auto [length, before] : cuts) {
            INFO("cut at " << length);
            Bytes cut(intact.begin(), intact.begin() + static_cast<ptrdiff_t>(length));
            auto result = expect_corrupt(cut, intact, scenario.owner, before);
            REQUIRE(std::string_view(result.error->context).starts_with("sealed stream: truncated"));
        }
        Bytes no_end(intact.begin(), intact.begin() + static_cast<ptrdiff_t>(spans[3].offset));
        REQUIRE(expect_corrupt(no_end, intact, scenario.owner, 3).error->context
            == "sealed stream: truncated (end record missing)");

        auto trailing = intact;
        trailing.push_back(std::byte(0));
        auto result = expect_corrupt(trailing, intact, scenario.owner, 3);
        REQUIRE(result.error->context == "sealed stream: data after the end record");
    }
}

TEST_CASE("tamper: the wrong owner key opens nothing", "[unit][crypt]")
{
    sealtest::init();
    for (auto cipher : sealtest::ciphers_here()) {
        auto scenario = make_scenario(cipher);
        auto intact = scenario.write(Generation(1), 90);
        auto wrong = OwnerKey::generate();
        REQUIRE(wrong.has_value());
        auto result = sealtest::read_stream(intact, *wrong);
        REQUIRE(result.error.has_value());
        REQUIRE(result.error->code == Errc::Corrupt);
        REQUIRE(result.error->context == "wrong owner key or damaged key wrap");
        REQUIRE_FALSE(result.info.has_value());
        REQUIRE(result.records.empty());
    }
}

TEST_CASE("reader stays failed after an error and refuses to read past the end", "[unit][crypt]")
{
    sealtest::init();
    auto scenario = make_scenario(Cipher::XChaCha20Poly1305);
    auto intact = scenario.write(Generation(1), 100);
    auto damaged = intact;
    damaged[format::header_size + format::record_header_size + 5] ^= std::byte(1);
    auto reader = StreamReader::open(sealtest::vector_source(damaged), scenario.owner);
    REQUIRE(reader.has_value());
    REQUIRE(reader->next().error().code == Errc::Corrupt);
    REQUIRE(reader->next().error().code == Errc::Corrupt); // not the next record
    auto good = StreamReader::open(sealtest::vector_source(intact), scenario.owner);
    REQUIRE(good.has_value());
    for (int i = 0; i < 4; ++i)
        REQUIRE(good->next().has_value());
    REQUIRE_FALSE(good->next().has_value());
}
