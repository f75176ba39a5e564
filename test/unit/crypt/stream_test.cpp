// SPDX-License-Identifier: Apache-2.0
// Sealed streams that are intact: round trips for both ciphers, writer argument checks,
// nonce uniqueness, and that no plaintext of the guest leaks into the sealed bytes.
#include "crypt_test_support.h"

#include <set>

using namespace monarch;
using namespace monarch::crypt;
using sealtest::Bytes;

namespace {

constexpr size_t page = format::page_size;

SealingKeys make_keys(OwnerKey const& owner, Cipher cipher, uint8_t uuid_byte = 0x42)
{
    auto keys = SealingKeys::create(owner, sealtest::uuid_filled(uuid_byte), cipher);
    REQUIRE(keys.has_value());
    return std::move(*keys);
}

OwnerKey make_owner()
{
    auto owner = OwnerKey::generate();
    REQUIRE(owner.has_value());
    return std::move(*owner);
}

// Every 16-byte window of the sealed bytes, to look up runs of a secret quickly.
bool contains_run(Bytes const& haystack, Bytes const& run)
{
    return std::search(haystack.begin(), haystack.end(), run.begin(), run.end()) != haystack.end();
}

} // namespace

TEST_CASE("sealed stream round trip: pages, state blobs and end, both ciphers", "[unit][crypt]")
{
    sealtest::init();
    auto owner = make_owner();
    for (auto cipher : sealtest::ciphers_here()) {
        INFO(to_string(cipher));
        auto keys = make_keys(owner, cipher);
        auto low = sealtest::pattern_bytes(3 * page, 1);
        auto big = sealtest::pattern_bytes(600 * page, 2); // more than one record's worth
        auto regs = sealtest::pattern_bytes(1000, 3);
        auto xsave = sealtest::pattern_bytes(3 * 4096 + 17, 4);
        auto stream = sealtest::write_stream(keys, Generation(7), [&](StreamWriter& writer) {
            REQUIRE(writer.append_pages(GuestPhysAddr(0), low).has_value());
            REQUIRE(writer.append_state("vcpu0.regs", regs).has_value());
            REQUIRE(writer.append_pages(GuestPhysAddr(0x100000), big).has_value());
            REQUIRE(writer.append_state("vcpu0.xsave", xsave).has_value());
            REQUIRE(writer.append_state("empty", {}).has_value());
        });
        auto result = sealtest::read_stream(stream, owner);
        REQUIRE_FALSE(result.error.has_value());
        REQUIRE(result.info->cipher == cipher);
        REQUIRE(result.info->vm == keys.vm);
        REQUIRE(result.info->generation == Generation(7));

        Bytes memory_low;
        Bytes memory_big;
        std::vector<std::pair<std::string, Bytes>> states;
        for (auto const& record : result.records) {
            if (record.type == RecordType::MemoryPages && record.gpa < 0x100000) {
                REQUIRE(record.gpa == memory_low.size());
                memory_low.insert(memory_low.end(), record.data.begin(), record.data.end());
            } else if (record.type == RecordType::MemoryPages) {
                REQUIRE(record.gpa == 0x100000 + memory_big.size());
                REQUIRE(record.data.size() <= format::max_pages_per_record * page);
                memory_big.insert(memory_big.end(), record.data.begin(), record.data.end());
            } else if (record.type == RecordType::State) {
                states.emplace_back(record.name, record.data);
            }
        }
        REQUIRE(memory_low == low);
        REQUIRE(memory_big == big);
        REQUIRE(states.size() == 3);
        REQUIRE(states[0] == std::pair<std::string, Bytes> { "vcpu0.regs", regs });
        REQUIRE(states[1] == std::pair<std::string, Bytes> { "vcpu0.xsave", xsave });
        REQUIRE(states[2] == std::pair<std::string, Bytes> { "empty", Bytes {} });
        REQUIRE(result.records.back().type == RecordType::End);
    }
}

TEST_CASE("stream writer refuses partial pages, unaligned GPAs, bad names and late appends", "[unit][crypt]")
{
    sealtest::init();
    auto owner = make_owner();
    auto keys = make_keys(owner, Cipher::XChaCha20Poly1305);
    Bytes out;
    auto writer = StreamWriter::create(sealtest::vector_sink(out), keys, Generation(1));
    REQUIRE(writer.has_value());
    auto pages = sealtest::pattern_bytes(2 * page, 1);
    REQUIRE(writer->append_pages(GuestPhysAddr(0x1001), pages).error().code == Errc::InvalidArgument);
    REQUIRE(writer->append_pages(GuestPhysAddr(0x1000), std::span(pages).first(100)).error().code == Errc::InvalidArgument);
    REQUIRE(writer->append_pages(GuestPhysAddr(0x1000), {}).error().code == Errc::InvalidArgument);
    REQUIRE(writer->append_pages(GuestPhysAddr(~uint64_t { 0xfff }), pages).error().code == Errc::OutOfRange);
    for (std::string const& name : std::vector<std::string> { "", ".hidden", "a/b", "..", "sp ace", std::string(256, 'x') })
        REQUIRE(writer->append_state(name, pages).error().code == Errc::InvalidArgument);
    REQUIRE(writer->finish().has_value());
    REQUIRE(writer->append_pages(GuestPhysAddr(0), pages).error().code == Errc::Busy);
    REQUIRE(writer->finish().error().code == Errc::Busy);
}

TEST_CASE("nonces never repeat: identical pages seal to distinct keystreams", "[unit][crypt]")
{
    sealtest::init();
    auto owner = make_owner();
    for (auto cipher : sealtest::ciphers_here()) {
        INFO(to_string(cipher));
        auto keys = make_keys(owner, cipher);
        // A zero page sealed is the keystream for (key, nonce): if a nonce repeated under
        // the stream key, two sealed pages would be equal. Same GPA every time, too.
        Bytes zero(page);
        constexpr size_t count = 2000;
        auto stream = sealtest::write_stream(keys, Generation(1), [&](StreamWriter& writer) {
            for (size_t i = 0; i < count; ++i)
                REQUIRE(writer.append_pages(GuestPhysAddr(0x2000), zero).has_value());
        });
        std::set<Bytes> keystreams;
        std::set<uint64_t> unit_indices;
        size_t offset = format::header_size;
        for (size_t i = 0; i < count; ++i) {
            auto header = std::span<std::byte const>(stream).subspan(offset, format::record_header_size);
            unit_indices.insert(format::load_le64(header.subspan(16)));
            auto sealed = stream.begin() + static_cast<ptrdiff_t>(offset + format::record_header_size);
            keystreams.insert(Bytes(sealed, sealed + 16));
            offset += format::record_header_size + page + tag_size;
        }
        REQUIRE(keystreams.size() == count);
        REQUIRE(unit_indices.size() == count);
    }
}

TEST_CASE("two writers with one data key produce different streams", "[unit][crypt]")
{
    sealtest::init();
    auto owner = make_owner();
    auto keys = make_keys(owner, preferred_cipher());
    auto pages = sealtest::pattern_bytes(4 * page, 9);
    auto body = [&](StreamWriter& writer) { REQUIRE(writer.append_pages(GuestPhysAddr(0), pages).has_value()); };
    auto first = sealtest::write_stream(keys, Generation(5), body);
    auto second = sealtest::write_stream(keys, Generation(5), body);
    REQUIRE(first.size() == second.size());
    auto stream_id = [](Bytes const& s) { return Bytes(s.begin() + 48, s.begin() + 64); };
    REQUIRE(stream_id(first) != stream_id(second));
    // The sealed pages share no 16-byte block: the keys differ, not just the header.
    auto payload = [](Bytes const& s) {
        auto begin = s.begin() + format::header_size + format::record_header_size;
        return Bytes(begin, begin + 4 * (page + tag_size));
    };
    auto a = payload(first);
    auto b = payload(second);
    for (size_t i = 0; i + 16 <= a.size(); i += 16)
        REQUIRE_FALSE(contains_run(b, Bytes(a.begin() + static_cast<ptrdiff_t>(i), a.begin() + static_cast<ptrdiff_t>(i) + 16)));
    REQUIRE(sealtest::read_stream(first, owner).records == sealtest::read_stream(second, owner).records);
}

TEST_CASE("a secret written into guest pages never appears in the sealed stream", "[unit][crypt]")
{
    sealtest::init();
    auto owner = make_owner();
    auto secret = sealtest::pattern_bytes(64, 0x5ec7e7);
    for (auto cipher : sealtest::ciphers_here()) {
        INFO(to_string(cipher));
        auto keys = make_keys(owner, cipher);
        // The secret repeated through guest memory and a state blob, at every alignment.
        Bytes memory(64 * page);
        for (size_t i = 0; i < memory.size(); ++i)
            memory[i] = secret[(i + i / page) % secret.size()];
        Bytes state(secret.begin(), secret.end());
        auto stream = sealtest::write_stream(keys, Generation(1), [&](StreamWriter& writer) {
            REQUIRE(writer.append_pages(GuestPhysAddr(0x10000), memory).has_value());
            REQUIRE(writer.append_state("secret-state", state).has_value());
        });
        // Every 16-byte run of the secret, including runs that wrap around its end.
        for (size_t start = 0; start < secret.size(); ++start) {
            Bytes run(16);
            for (size_t i = 0; i < 16; ++i)
                run[i] = secret[(start + i) % secret.size()];
            REQUIRE_FALSE(contains_run(stream, run));
        }
        // And the stream is still readable: the secret went in.
        auto result = sealtest::read_stream(stream, owner);
        REQUIRE_FALSE(result.error.has_value());
        REQUIRE(result.records[0].data == Bytes(memory.begin(), memory.begin() + 64 * page));
    }
}
