// SPDX-License-Identifier: Apache-2.0
// Locating kallsyms by structure, from the inside out: the token table (256 NUL-terminated
// strings in which the ten digits are consecutive one-character tokens), its u16 index,
// the u32 markers just before it, the names and their count before those, and the address
// offsets with their base before the count. Every step is checked against the next one.
#include "dkom/profile/kallsyms.h"

#include <array>
#include <cstring>
#include <optional>
#include <string_view>

namespace monarch::dkom {

namespace {

constexpr size_t token_count = 256;
constexpr size_t max_token_length = 256;     // kallsyms.c tokens are merged pairs; real ones < 40
constexpr size_t max_symbols = 4'000'000;    // a distribution kernel has about 150,000
constexpr uint64_t kernel_half = 0xffff800000000000; // x86-64 canonical kernel addresses

class Reader {
public:
    explicit Reader(std::span<std::byte const> bytes) : m_bytes(bytes) {}
    size_t size() const { return m_bytes.size(); }
    bool has(size_t at, size_t length) const { return at <= m_bytes.size() && length <= m_bytes.size() - at; }
    template<typename T>
    T load(size_t at) const // callers check has(at, sizeof(T)) first
    {
        T value;
        std::memcpy(&value, m_bytes.data() + at, sizeof value);
        return value;
    }
    uint8_t byte(size_t at) const { return std::to_integer<uint8_t>(m_bytes[at]); }
    std::span<std::byte const> bytes() const { return m_bytes; }

private:
    std::span<std::byte const> m_bytes;
};

size_t align_up(size_t value, size_t alignment) { return (value + alignment - 1) & ~(alignment - 1); }

struct TokenTable {
    size_t start { 0 };
    size_t end { 0 }; // one past the last NUL
    size_t index { 0 };
    std::array<std::string_view, token_count> tokens;
};

// Token starts for entries 1..255 around a run of the digit tokens ('0' is entry 48), or none.
std::optional<std::array<size_t, token_count + 1>> token_starts(Reader const& image, size_t digits)
{
    std::array<size_t, token_count + 1> starts {}; // starts[256]: one past the table's end
    size_t at = digits;
    for (size_t entry = 48; entry < token_count; ++entry) {
        starts[entry] = at;
        size_t length = 0;
        while (at < image.size() && image.byte(at) != 0 && length <= max_token_length)
            ++at, ++length;
        if (at >= image.size() || length > max_token_length)
            return std::nullopt;
        ++at;
    }
    starts[token_count] = at;
    at = digits; // entries 47 down to 1 end just before the next one starts
    for (size_t entry = 47; entry >= 1; --entry) {
        if (at == 0 || image.byte(at - 1) != 0)
            return std::nullopt;
        size_t begin = at - 1;
        while (begin > 0 && image.byte(begin - 1) != 0 && at - begin <= max_token_length)
            --begin;
        if (begin == 0 || at - begin > max_token_length)
            return std::nullopt;
        starts[entry] = begin;
        at = begin;
    }
    return starts;
}

// kallsyms_token_index: u16 offsets of the 256 tokens from the table's start; entry 0 is 0.
bool index_matches(Reader const& image, size_t at, std::array<size_t, token_count + 1> const& starts)
{
    if (!image.has(at, 2 * token_count) || image.load<uint16_t>(at) != 0)
        return false;
    size_t first = image.load<uint16_t>(at + 2);
    if (first == 0 || first > starts[1])
        return false;
    for (size_t entry = 1; entry < token_count; ++entry) {
        if (image.load<uint16_t>(at + 2 * entry) != starts[entry] - starts[1] + first)
            return false;
    }
    return true;
}

std::optional<TokenTable> token_table_at(Reader const& image, size_t digits, bool anywhere)
{
    auto starts = token_starts(image, digits);
    if (!starts)
        return std::nullopt;
    // The index follows the table in every layout of scripts/kallsyms.c; look there first,
    // then anywhere in the image.
    std::optional<size_t> index;
    for (size_t at = align_up((*starts)[token_count], 2); at < (*starts)[token_count] + 64 && !index; at += 2) {
        if (index_matches(image, at, *starts))
            index = at;
    }
    for (size_t at = 0; anywhere && !index && at + 2 * token_count <= image.size(); at += 2) {
        if (image.load<uint16_t>(at) == 0 && image.load<uint16_t>(at + 2) != 0 && index_matches(image, at, *starts))
            index = at;
    }
    if (!index)
        return std::nullopt;
    TokenTable table { .start = (*starts)[1] - image.load<uint16_t>(*index + 2), .end = (*starts)[token_count], .index = *index };
    (*starts)[0] = table.start;
    for (size_t at = table.start; at + 1 < (*starts)[1]; ++at) {
        if (image.byte(at) == 0)
            return std::nullopt; // entry 0 must be one string
    }
    // SAFETY: every token lies inside the image (checked while finding the starts).
    auto const* base = reinterpret_cast<char const*>(image.bytes().data());
    for (size_t entry = 0; entry < token_count; ++entry)
        table.tokens[entry] = std::string_view(base + (*starts)[entry], (*starts)[entry + 1] - (*starts)[entry] - 1);
    return table;
}

// Every place where the digit tokens occur, in image order. Other tables of one-character
// strings exist in a kernel (ctype-like tables), so each candidate must pass every later step.
std::vector<size_t> digit_runs(Reader const& image)
{
    static constexpr char digits[] = "0\0" "1\0" "2\0" "3\0" "4\0" "5\0" "6\0" "7\0" "8\0" "9";
    std::string_view needle { digits, sizeof digits };
    // SAFETY: searching bytes as characters.
    std::string_view haystack { reinterpret_cast<char const*>(image.bytes().data()), image.size() };
    std::vector<size_t> runs;
    for (size_t at = haystack.find(needle); at != std::string_view::npos && runs.size() < 1000; at = haystack.find(needle, at + 1))
        runs.push_back(at);
    return runs;
}

} // namespace

namespace {

// kallsyms_markers: u32 offsets into kallsyms_names of every 256th symbol, markers[0] == 0,
// strictly increasing. In 6.1 as released they end just before the token table; Debian's
// 6.1 (like 6.2+) has kallsyms_seqs_of_names in between: 3 bytes per symbol, 8-aligned.
// So each 8-aligned 0 word before the table starts a candidate whose run of increasing
// words, plus 3 bytes for each symbol it implies, must end where the token table begins.
struct Markers {
    size_t at;
    std::vector<uint32_t> values;
};

std::vector<Markers> find_markers(Reader const& image, size_t table_start)
{
    std::vector<Markers> found;
    size_t lowest = table_start > 3 * max_symbols ? table_start - 3 * max_symbols : 0;
    for (size_t at = table_start & ~size_t { 7 }; at >= lowest + 8 && found.size() < 16;) {
        at -= 8;
        if (image.load<uint32_t>(at) != 0)
            continue;
        std::vector<uint32_t> values { 0 };
        for (size_t next = at + 4; next + 4 <= table_start; next += 4) {
            uint32_t value = image.load<uint32_t>(next);
            if (value <= values.back())
                break;
            values.push_back(value);
        }
        // The run may swallow a few words of what follows it: try the shorter ones too.
        for (size_t drop = 0; drop < 8 && drop < values.size(); ++drop) {
            size_t groups = values.size() - drop;
            size_t end = align_up(at + 4 * groups, 8);
            size_t rest = table_start - std::min(end, table_start);
            bool adjacent = end == table_start;
            bool with_seqs = rest > 3 * 256 * (groups - 1) && rest <= align_up(3 * 256 * groups, 8);
            if (end <= table_start && (adjacent || with_seqs))
                found.push_back({ at, std::vector<uint32_t>(values.begin(), values.begin() + static_cast<ptrdiff_t>(groups)) });
        }
    }
    return found;
}

// The byte after name entry `at`: one length byte, or two when the first has bit 7 set
// (6.1's "big symbol" encoding: length = low 7 bits | next byte << 7), then that many tokens.
std::optional<size_t> skip_name(Reader const& image, size_t at)
{
    if (!image.has(at, 1))
        return std::nullopt;
    size_t length = image.byte(at++);
    if (length & 0x80) {
        if (!image.has(at, 1))
            return std::nullopt;
        length = (length & 0x7f) | (size_t { image.byte(at++) } << 7);
    }
    if (length == 0 || !image.has(at, length))
        return std::nullopt;
    return at + length;
}

std::optional<size_t> skip_names(Reader const& image, size_t at, size_t count)
{
    for (size_t i = 0; i < count; ++i) {
        auto next = skip_name(image, at);
        if (!next)
            return std::nullopt;
        at = *next;
    }
    return at;
}

struct NamesLocation {
    size_t num_syms_at;
    size_t names_at;
    uint32_t count;
};

// kallsyms_num_syms (u32) and kallsyms_names: N entries that end where the markers begin,
// whose every 256th entry starts where its marker says.
std::optional<NamesLocation> find_names(Reader const& image, size_t markers_at, std::vector<uint32_t> const& markers)
{
    size_t groups = markers.size();
    size_t last_group_at = markers.back();
    if (markers_at < last_group_at)
        return std::nullopt;
    for (size_t tail = 0; tail <= 256 * 258 && markers_at - last_group_at >= tail + 4; ++tail) {
        size_t names_at = markers_at - last_group_at - tail;
        for (size_t gap : { 4, 8 }) {
            if (names_at < gap)
                continue;
            uint32_t count = image.load<uint32_t>(names_at - gap);
            if (count <= 256 * (groups - 1) || count > 256 * groups)
                continue;
            auto end = skip_names(image, names_at + last_group_at, count - 256 * (groups - 1));
            if (!end || *end > markers_at || markers_at - *end >= 8)
                continue;
            return NamesLocation { names_at - gap, names_at, count };
        }
    }
    return std::nullopt;
}

Result<std::vector<KallsymsSymbol>> decode_names(Reader const& image, TokenTable const& table, NamesLocation const& where,
    std::vector<uint32_t> const& markers)
{
    std::vector<KallsymsSymbol> symbols;
    symbols.reserve(where.count);
    size_t at = where.names_at;
    std::string expanded;
    for (size_t i = 0; i < where.count; ++i) {
        if (i % 256 == 0 && at - where.names_at != markers[i / 256])
            return fail(Errc::Corrupt, "kallsyms: names disagree with their markers");
        auto next = skip_name(image, at);
        if (!next)
            return fail(Errc::Corrupt, "kallsyms: a name runs past the image");
        size_t length_bytes = (image.byte(at) & 0x80) ? 2 : 1;
        expanded.clear();
        for (size_t k = at + length_bytes; k < *next; ++k)
            expanded += table.tokens[image.byte(k)];
        if (expanded.size() < 2)
            return fail(Errc::Corrupt, "kallsyms: an empty symbol name");
        symbols.push_back({ expanded.substr(1), expanded[0], 0 });
        at = *next;
    }
    return symbols;
}

// How the 32-bit entries of kallsyms_offsets become addresses (kernel/kallsyms.c,
// kallsyms_sym_address): with CONFIG_KALLSYMS_ABSOLUTE_PERCPU a non-negative entry is the
// address itself (a per-CPU offset) and a negative one is relative_base - 1 - entry;
// without it every entry is relative_base + (u32)entry.
bool assign_offsets(Reader const& image, size_t offsets_at, uint64_t base, std::vector<KallsymsSymbol>& symbols, bool& absolute_percpu)
{
    if ((base & kernel_half) != kernel_half || !image.has(offsets_at, 4 * symbols.size()))
        return false;
    absolute_percpu = false;
    for (size_t i = 0; i < symbols.size() && !absolute_percpu; ++i)
        absolute_percpu = image.load<int32_t>(offsets_at + 4 * i) < 0;
    size_t unordered = 0;
    for (size_t i = 0; i < symbols.size(); ++i) {
        int32_t entry = image.load<int32_t>(offsets_at + 4 * i);
        if (!absolute_percpu)
            symbols[i].address = base + static_cast<uint32_t>(entry);
        else
            symbols[i].address = entry >= 0 ? static_cast<uint64_t>(entry) : base - 1 - static_cast<int64_t>(entry);
        unordered += i > 0 && symbols[i].address < symbols[i - 1].address;
    }
    return unordered <= symbols.size() / 100; // scripts/kallsyms.c sorts by address
}

Result<Kallsyms> decode_at(Reader const& image, TokenTable const& table)
{
    std::optional<NamesLocation> names;
    Markers markers;
    for (auto& candidate : find_markers(image, table.start)) {
        names = find_names(image, candidate.at, candidate.values);
        if (names) {
            markers = std::move(candidate);
            break;
        }
    }
    if (!names)
        return fail(Errc::NotFound, "kallsyms: no markers and names before the token table");
    Kallsyms result { .symbols = TRY(decode_names(image, table, *names, markers.values)) };
    result.layout = { .token_table = table.start, .token_index = table.index, .markers = markers.at,
        .names = names->names_at, .num_syms = names->num_syms_at };
    // 6.1: offsets, then relative_base, then num_syms, each label 8-byte aligned. Later
    // kernels put offsets and relative_base after the token index: try that second.
    struct Candidate { size_t offsets; size_t base; };
    std::vector<Candidate> candidates;
    if (names->num_syms_at >= 8 + align_up(4 * names->count, 8)) {
        size_t base_at = names->num_syms_at - 8;
        candidates.push_back({ base_at - align_up(4 * names->count, 8), base_at });
    }
    size_t after_index = align_up(table.index + 2 * token_count, 8);
    candidates.push_back({ after_index, align_up(after_index + 4 * names->count, 8) });
    for (auto const& candidate : candidates) {
        if (!image.has(candidate.base, 8))
            continue;
        uint64_t base = image.load<uint64_t>(candidate.base);
        if (assign_offsets(image, candidate.offsets, base, result.symbols, result.layout.absolute_percpu)) {
            result.layout.offsets = candidate.offsets;
            result.layout.relative_base = base;
            return result;
        }
    }
    return fail(Errc::NotFound, "kallsyms: no address offsets matching the names");
}

} // namespace

Result<Kallsyms> find_kallsyms(std::span<std::byte const> bytes)
{
    Reader image { bytes };
    auto runs = digit_runs(image);
    if (runs.empty())
        return fail(Errc::NotFound, "kallsyms: no token table found");
    Error last { Errc::NotFound, 0, "kallsyms: no token table found" };
    // First with the token index right after the table (every layout so far), then anywhere.
    for (bool anywhere : { false, true }) {
        for (size_t run : runs) {
            auto table = token_table_at(image, run, anywhere);
            if (!table)
                continue;
            auto decoded = decode_at(image, *table);
            if (decoded)
                return decoded;
            last = decoded.error();
        }
    }
    return Failure(last);
}

} // namespace monarch::dkom
