// SPDX-License-Identifier: Apache-2.0
// kallsyms decoding on tables built here the way scripts/kallsyms.c lays them out (6.1, and
// 6.1 with kallsyms_seqs_of_names as Debian ships it), after a decoy table of one-byte strings.
#include "dkom/profile/kallsyms.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <fmt/format.h>

using namespace monarch;
using namespace monarch::dkom;

namespace {

constexpr uint64_t relative_base = 0xffffffff81000000;

class Blob {
public:
    void bytes(void const* data, size_t size)
    {
        auto const* p = static_cast<std::byte const*>(data);
        m_data.insert(m_data.end(), p, p + size);
    }
    template<typename T> void put(T value) { bytes(&value, sizeof value); }
    void align(size_t alignment) { while (m_data.size() % alignment) m_data.push_back(std::byte { 0 }); }
    void junk(size_t count) { for (size_t i = 0; i < count; ++i) m_data.push_back(std::byte(0x41 + i % 23)); }
    std::vector<std::byte>& data() { return m_data; }

private:
    std::vector<std::byte> m_data;
};

std::vector<KallsymsSymbol> make_symbols()
{
    std::vector<KallsymsSymbol> symbols;
    symbols.push_back({ "fixed_percpu_data", 'D', 0 });
    symbols.push_back({ "current_task", 'D', 0x1fb80 }); // per-CPU: absolute, not relative
    for (int i = 0; i < 700; ++i)
        symbols.push_back({ fmt::format("sym_{:04}", i), i % 3 ? 't' : 'T', relative_base + 0x40 * uint64_t(i) });
    symbols.push_back({ "init_task", 'D', relative_base + 0x1a1aa40 });
    symbols.push_back({ "init_" + std::string(200, 'x'), 'T', relative_base + 0x1a1ab00 }); // two-byte length
    symbols.push_back({ "linux_banner", 'R', relative_base + 0x1a1ac00 });
    return symbols;
}

// Tokens: every printable byte stands for itself; two multi-character tokens exercise expansion.
std::array<std::string, 256> make_tokens()
{
    std::array<std::string, 256> tokens;
    for (int i = 0; i < 256; ++i)
        tokens[i] = (i > 0x20 && i < 0x7f) ? std::string(1, char(i)) : fmt::format("~{}", i);
    tokens[0x80] = "init_";
    tokens[0x81] = "sym_";
    return tokens;
}

std::vector<uint8_t> encode(std::string const& text)
{
    std::vector<uint8_t> out;
    for (size_t at = 0; at < text.size();) {
        if (text.compare(at, 5, "init_") == 0) {
            out.push_back(0x80), at += 5;
        } else if (text.compare(at, 4, "sym_") == 0) {
            out.push_back(0x81), at += 4;
        } else {
            out.push_back(uint8_t(text[at++]));
        }
    }
    return out;
}

// A decoy like the kernel's own byte tables: 255 one-byte strings, then a u16 index for them.
void add_decoy(Blob& blob)
{
    blob.align(8);
    for (int i = 1; i < 256; ++i)
        blob.put<uint16_t>(uint16_t(i));
    for (uint16_t i = 0; i < 256; ++i)
        blob.put<uint16_t>(uint16_t(2 * i));
}

enum class Layout {
    Linux61,     // offsets, relative_base, num_syms, names, markers, token_table, token_index
    Linux61Seqs, // the same with kallsyms_seqs_of_names before token_table (Debian's 6.1)
    Late,        // num_syms, names, markers, token_table, token_index, offsets, relative_base, seqs
};

std::vector<std::byte> encode_names(std::vector<KallsymsSymbol> const& symbols, std::vector<uint32_t>& markers)
{
    std::vector<std::byte> names;
    for (size_t i = 0; i < symbols.size(); ++i) {
        if (i % 256 == 0)
            markers.push_back(uint32_t(names.size()));
        auto encoded = encode(std::string(1, symbols[i].type) + symbols[i].name);
        if (encoded.size() >= 128) {
            names.push_back(std::byte((encoded.size() & 0x7f) | 0x80));
            names.push_back(std::byte(encoded.size() >> 7));
        } else {
            names.push_back(std::byte(encoded.size()));
        }
        for (auto token : encoded)
            names.push_back(std::byte(token));
    }
    return names;
}

// kallsyms_offsets and kallsyms_relative_base. With CONFIG_KALLSYMS_ABSOLUTE_PERCPU an entry
// is the address itself when it is small, else relative_base - 1 - address; without it, the
// address minus relative_base.
void add_offsets(Blob& blob, std::vector<KallsymsSymbol> const& symbols, bool absolute_percpu)
{
    blob.align(8);
    for (auto const& symbol : symbols) {
        if (!absolute_percpu)
            blob.put<uint32_t>(uint32_t(symbol.address - relative_base));
        else
            blob.put<int32_t>(symbol.address < relative_base ? int32_t(symbol.address) : int32_t(relative_base - 1 - symbol.address));
    }
    blob.align(8);
    blob.put<uint64_t>(relative_base);
}

void add_seqs(Blob& blob, size_t count)
{
    blob.align(8);
    for (size_t i = 0; i < count; ++i) {
        uint8_t seq[3] = { uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i) };
        blob.bytes(seq, 3);
    }
}

void add_tokens(Blob& blob)
{
    blob.align(8);
    std::vector<uint16_t> index;
    size_t offset = 0;
    for (auto const& token : make_tokens()) {
        index.push_back(uint16_t(offset));
        blob.bytes(token.c_str(), token.size() + 1);
        offset += token.size() + 1;
    }
    blob.align(8);
    blob.bytes(index.data(), 2 * index.size());
}

void add_table(Blob& blob, std::vector<KallsymsSymbol> const& symbols, Layout layout, bool absolute_percpu = true)
{
    std::vector<uint32_t> markers;
    auto names = encode_names(symbols, markers);
    if (layout != Layout::Late)
        add_offsets(blob, symbols, absolute_percpu);
    blob.align(8);
    blob.put<uint32_t>(uint32_t(symbols.size()));
    blob.align(8);
    blob.bytes(names.data(), names.size());
    blob.align(8);
    for (auto marker : markers)
        blob.put<uint32_t>(marker);
    if (layout == Layout::Linux61Seqs)
        add_seqs(blob, symbols.size());
    add_tokens(blob);
    if (layout == Layout::Late) {
        add_offsets(blob, symbols, absolute_percpu);
        add_seqs(blob, symbols.size());
    }
}

void check_decodes(Layout layout, bool absolute_percpu = true)
{
    auto symbols = make_symbols();
    if (!absolute_percpu) // every address at or above the base
        symbols.erase(symbols.begin(), symbols.begin() + 2);
    Blob blob;
    blob.junk(1001);
    add_decoy(blob);
    blob.junk(333);
    add_table(blob, symbols, layout, absolute_percpu);
    blob.junk(77);
    auto found = find_kallsyms(blob.data());
    INFO((found ? std::string() : to_string(found.error())));
    REQUIRE(found);
    CHECK(found->layout.relative_base == relative_base);
    CHECK(found->layout.absolute_percpu == absolute_percpu);
    REQUIRE(found->symbols.size() == symbols.size());
    for (size_t i = 0; i < symbols.size(); ++i) {
        INFO(i);
        CHECK(found->symbols[i].name == symbols[i].name);
        CHECK(found->symbols[i].type == symbols[i].type);
        CHECK(found->symbols[i].address == symbols[i].address);
    }
}

} // namespace

TEST_CASE("kallsyms: the 6.1 layout decodes to the symbols it was built from", "[unit][kallsyms]")
{
    check_decodes(Layout::Linux61);
}

TEST_CASE("kallsyms: with kallsyms_seqs_of_names between markers and tokens", "[unit][kallsyms]")
{
    check_decodes(Layout::Linux61Seqs);
}

TEST_CASE("kallsyms: offsets after the token index, and without absolute per-CPU entries", "[unit][kallsyms]")
{
    check_decodes(Layout::Late);
    check_decodes(Layout::Linux61, false);
    check_decodes(Layout::Late, false);
}

TEST_CASE("kallsyms: absent or damaged tables are reported, not guessed", "[unit][kallsyms]")
{
    Blob garbage;
    garbage.junk(100000);
    CHECK_FALSE(find_kallsyms(garbage.data()));
    CHECK_FALSE(find_kallsyms({}));

    auto symbols = make_symbols();
    Blob damaged;
    add_table(damaged, symbols, Layout::Linux61);
    // Break the second marker: names and markers no longer agree.
    auto& bytes = damaged.data();
    auto table = find_kallsyms(bytes);
    REQUIRE(table);
    size_t marker1 = table->layout.markers + 4;
    uint32_t value;
    std::memcpy(&value, bytes.data() + marker1, 4);
    value += 1;
    std::memcpy(bytes.data() + marker1, &value, 4);
    CHECK_FALSE(find_kallsyms(bytes));
}
