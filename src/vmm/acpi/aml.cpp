// SPDX-License-Identifier: Apache-2.0
// AML term encodings, ACPI 6.x 20.2 (grammar) and 6.4 (resource data types).
#include "vmm/acpi/aml.h"

#include "common/verify.h"

namespace monarch::vmm::acpi::aml {

namespace {

constexpr uint8_t ZERO_OP = 0x00;
constexpr uint8_t ONE_OP = 0x01;
constexpr uint8_t NAME_OP = 0x08;
constexpr uint8_t BYTE_PREFIX = 0x0a;
constexpr uint8_t WORD_PREFIX = 0x0b;
constexpr uint8_t DWORD_PREFIX = 0x0c;
constexpr uint8_t STRING_PREFIX = 0x0d;
constexpr uint8_t QWORD_PREFIX = 0x0e;
constexpr uint8_t SCOPE_OP = 0x10;
constexpr uint8_t BUFFER_OP = 0x11;
constexpr uint8_t PACKAGE_OP = 0x12;
constexpr uint8_t EXT_OP_PREFIX = 0x5b;
constexpr uint8_t DEVICE_OP = 0x82; // after ExtOpPrefix
constexpr uint8_t ROOT_CHAR = '\\';
constexpr uint8_t DUAL_NAME_PREFIX = 0x2e;
constexpr uint8_t MULTI_NAME_PREFIX = 0x2f;

void put(Bytes& bytes, uint8_t value) { bytes.push_back(std::byte { value }); }

void put_le(Bytes& bytes, uint64_t value, size_t width)
{
    for (size_t i = 0; i < width; ++i)
        put(bytes, static_cast<uint8_t>(value >> (8 * i)));
}

// Op, PkgLength, then the body.
Bytes with_length(std::initializer_list<uint8_t> opcode, Bytes const& body)
{
    Bytes out;
    for (auto byte : opcode)
        put(out, byte);
    append(out, package_length(body.size()));
    append(out, body);
    return out;
}

} // namespace

void append(Bytes& to, Bytes const& from) { to.insert(to.end(), from.begin(), from.end()); }

Bytes package_length(size_t body_length)
{
    Bytes out;
    // One byte holds 6 bits; with N extra bytes the lead byte keeps 4 bits and each extra 8.
    if (body_length + 1 < 0x40) {
        put(out, static_cast<uint8_t>(body_length + 1));
        return out;
    }
    for (size_t extra = 1; extra <= 3; ++extra) {
        size_t total = body_length + 1 + extra;
        if (total >= (size_t { 1 } << (4 + 8 * extra)))
            continue;
        put(out, static_cast<uint8_t>((extra << 6) | (total & 0xf)));
        put_le(out, total >> 4, extra);
        return out;
    }
    VERIFY(false && "AML package larger than 256 MiB");
    return out;
}

Bytes integer(uint64_t value)
{
    Bytes out;
    if (value == 0)
        put(out, ZERO_OP);
    else if (value == 1)
        put(out, ONE_OP);
    else if (value <= 0xff)
        put(out, BYTE_PREFIX), put_le(out, value, 1);
    else if (value <= 0xffff)
        put(out, WORD_PREFIX), put_le(out, value, 2);
    else if (value <= 0xffffffff)
        put(out, DWORD_PREFIX), put_le(out, value, 4);
    else
        put(out, QWORD_PREFIX), put_le(out, value, 8);
    return out;
}

Bytes string(std::string_view text)
{
    Bytes out;
    put(out, STRING_PREFIX);
    for (char c : text)
        put(out, static_cast<uint8_t>(c));
    put(out, 0);
    return out;
}

Bytes name_string(std::string_view path)
{
    Bytes out;
    if (!path.empty() && path.front() == '\\') {
        put(out, ROOT_CHAR);
        path.remove_prefix(1);
    }
    Bytes segments;
    size_t count = 0;
    while (!path.empty()) {
        VERIFY(path.size() >= 4);
        for (char c : path.substr(0, 4))
            put(segments, static_cast<uint8_t>(c));
        path.remove_prefix(4);
        if (!path.empty() && path.front() == '.')
            path.remove_prefix(1);
        ++count;
    }
    if (count == 2)
        put(out, DUAL_NAME_PREFIX);
    else if (count > 2)
        put(out, MULTI_NAME_PREFIX), put(out, static_cast<uint8_t>(count));
    append(out, segments);
    return out;
}

Bytes name(std::string_view path, Bytes const& object)
{
    Bytes out;
    put(out, NAME_OP);
    append(out, name_string(path));
    append(out, object);
    return out;
}

Bytes package(std::span<Bytes const> elements)
{
    VERIFY(elements.size() <= 0xff);
    Bytes body;
    put(body, static_cast<uint8_t>(elements.size()));
    for (auto const& element : elements)
        append(body, element);
    return with_length({ PACKAGE_OP }, body);
}

Bytes buffer(std::span<std::byte const> data)
{
    Bytes body = integer(data.size());
    body.insert(body.end(), data.begin(), data.end());
    return with_length({ BUFFER_OP }, body);
}

Bytes scope(std::string_view path, Bytes const& terms)
{
    Bytes body = name_string(path);
    append(body, terms);
    return with_length({ SCOPE_OP }, body);
}

Bytes device(std::string_view path, Bytes const& terms)
{
    Bytes body = name_string(path);
    append(body, terms);
    return with_length({ EXT_OP_PREFIX, DEVICE_OP }, body);
}

uint32_t eisa_id(std::string_view id)
{
    // Three letters of 5 bits each ('A' = 1), then four hex digits; stored big-endian.
    VERIFY(id.size() == 7);
    auto letter = [&](size_t i) { return static_cast<uint32_t>(id[i] - 0x40) & 0x1f; };
    auto hex = [&](size_t i) {
        char c = id[i];
        return static_cast<uint32_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    };
    uint32_t vendor = (letter(0) << 10) | (letter(1) << 5) | letter(2);
    uint32_t product = (hex(3) << 12) | (hex(4) << 8) | (hex(5) << 4) | hex(6);
    uint32_t big_endian = (vendor << 16) | product;
    return __builtin_bswap32(big_endian);
}

Bytes io_port_resource(uint16_t base, uint8_t length)
{
    Bytes out;
    put(out, 0x47); // small item, I/O port descriptor, 7 bytes follow
    put(out, 0x01); // decodes 16 address bits
    put_le(out, base, 2); // minimum base
    put_le(out, base, 2); // maximum base: fixed
    put(out, 0x01); // alignment
    put(out, length);
    return out;
}

Bytes irq_resource(uint8_t irq)
{
    Bytes out;
    put(out, 0x22); // small item, IRQ descriptor, 2 bytes: edge, active high, not shared
    put_le(out, uint16_t(1u << irq), 2);
    return out;
}

namespace {

// Address space descriptor types (6.4.3.5.1, table 6.50) and flags.
constexpr uint8_t RESOURCE_MEMORY = 0;
constexpr uint8_t RESOURCE_IO = 1;
constexpr uint8_t RESOURCE_BUS = 2;
constexpr uint8_t GENERAL_MIN_MAX_FIXED = 0x0c;  // _MAF | _MIF, positive decode, producer
constexpr uint8_t MEMORY_CACHEABLE_RW = 0x03;    // _MEM = cacheable, _RW = read-write
constexpr uint8_t IO_ENTIRE_RANGE = 0x03;        // _RNG: ISA and non-ISA ranges

// Tag, length, resource type, general flags, type-specific flags, then five fields of
// `width` bytes: granularity, minimum, maximum, translation offset, length.
Bytes address_space(uint8_t tag, size_t width, uint8_t type, uint8_t specific, uint64_t first, uint64_t last)
{
    Bytes out;
    put(out, tag);
    put_le(out, 3 + 5 * width, 2);
    put(out, type);
    put(out, GENERAL_MIN_MAX_FIXED);
    put(out, specific);
    put_le(out, 0, width);
    put_le(out, first, width);
    put_le(out, last, width);
    put_le(out, 0, width);
    put_le(out, last - first + 1, width);
    return out;
}

} // namespace

Bytes word_bus_number_resource(uint16_t first, uint16_t last)
{
    VERIFY(first <= last);
    return address_space(0x88, 2, RESOURCE_BUS, 0, first, last);
}

Bytes word_io_resource(uint16_t first, uint16_t last)
{
    VERIFY(first <= last);
    return address_space(0x88, 2, RESOURCE_IO, IO_ENTIRE_RANGE, first, last);
}

Bytes dword_memory_resource(uint32_t first, uint32_t last)
{
    VERIFY(first <= last);
    return address_space(0x87, 4, RESOURCE_MEMORY, MEMORY_CACHEABLE_RW, first, last);
}

Bytes qword_memory_resource(uint64_t first, uint64_t last)
{
    VERIFY(first <= last);
    return address_space(0x8a, 8, RESOURCE_MEMORY, MEMORY_CACHEABLE_RW, first, last);
}

Bytes memory32_fixed_resource(uint32_t base, uint32_t length)
{
    Bytes out;
    put(out, 0x86);       // large item, 32-bit fixed memory range
    put_le(out, 9, 2);    // length of what follows
    put(out, 0x01);       // read-write
    put_le(out, base, 4);
    put_le(out, length, 4);
    return out;
}

Bytes end_tag_resource()
{
    return Bytes { std::byte { 0x79 }, std::byte { 0x00 } }; // checksum 0: treated as valid
}

} // namespace monarch::vmm::acpi::aml
