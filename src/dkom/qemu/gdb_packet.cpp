// SPDX-License-Identifier: Apache-2.0
// Framing and field encodings of the GDB remote serial protocol (see gdb_packet.h).
#include "dkom/qemu/gdb_packet.h"

#include "common/hex.h"

#include <fmt/format.h>

namespace monarch::dkom::gdb {

namespace {

// The value of attribute `name` inside one tag's text, or empty.
std::string attribute(std::string_view tag, std::string_view name)
{
    std::string const key = fmt::format(" {}=\"", name);
    auto const at = tag.find(key);
    if (at == std::string_view::npos)
        return {};
    auto const start = at + key.size();
    auto const end = tag.find('"', start);
    if (end == std::string_view::npos)
        return {};
    return std::string(tag.substr(start, end - start));
}

// A small decimal attribute value ("64"), or nullopt.
std::optional<uint32_t> parse_decimal(std::string_view text)
{
    if (text.empty() || text.size() > 6)
        return std::nullopt;
    uint32_t value = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return std::nullopt;
        value = value * 10 + static_cast<uint32_t>(c - '0');
    }
    return value;
}

} // namespace

std::string frame(std::string_view payload)
{
    std::string out = "$";
    uint8_t sum = 0;
    for (char c : payload) {
        if (c == '$' || c == '#' || c == '}' || c == '*') {
            out += '}';
            sum = static_cast<uint8_t>(sum + '}');
            c = static_cast<char>(c ^ 0x20);
        }
        out += c;
        sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(c));
    }
    out += fmt::format("#{:02x}", sum);
    return out;
}

std::optional<Result<std::string>> PacketDecoder::feed(char byte)
{
    switch (m_state) {
    case State::Idle:
        if (byte == '$') {
            m_state = State::Payload;
            m_raw.clear();
            m_sum = 0;
        }
        return std::nullopt; // acks and noise between packets
    case State::Payload:
        if (byte == '#') {
            m_state = State::Checksum1;
            return std::nullopt;
        }
        if (m_raw.size() >= max_packet_size) {
            m_state = State::Idle;
            return Result<std::string>(fail(Errc::Corrupt, "gdbstub: packet too long"));
        }
        m_raw += byte;
        m_sum = static_cast<uint8_t>(m_sum + static_cast<uint8_t>(byte));
        return std::nullopt;
    case State::Checksum1:
        m_checksum_high = byte;
        m_state = State::Checksum2;
        return std::nullopt;
    case State::Checksum2: {
        m_state = State::Idle;
        int const high = hex_digit_value(m_checksum_high);
        int const low = hex_digit_value(byte);
        if (high < 0 || low < 0 || static_cast<uint8_t>(high * 16 + low) != m_sum)
            return Result<std::string>(fail(Errc::Corrupt, "gdbstub: packet checksum mismatch"));
        return unescape(m_raw);
    }
    }
    return std::nullopt;
}

Result<std::string> unescape(std::string_view raw)
{
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
        char const c = raw[i];
        if (c == '}') {
            if (i + 1 >= raw.size())
                return fail(Errc::Corrupt, "gdbstub: escape at end of packet");
            out += static_cast<char>(raw[++i] ^ 0x20);
        } else if (c == '*') {
            // Run-length: the previous character repeated (next char - 29) more times.
            if (out.empty() || i + 1 >= raw.size())
                return fail(Errc::Corrupt, "gdbstub: bad run-length encoding");
            int const count = static_cast<uint8_t>(raw[++i]) - 29;
            if (count < 0)
                return fail(Errc::Corrupt, "gdbstub: bad run-length count");
            out.append(static_cast<size_t>(count), out.back());
        } else {
            out += c;
        }
    }
    return out;
}

std::string hex_encode(std::span<std::byte const> bytes)
{
    std::string out;
    out.reserve(bytes.size() * 2);
    for (auto b : bytes)
        out += fmt::format("{:02x}", static_cast<unsigned>(b));
    return out;
}

Result<std::vector<std::byte>> hex_decode(std::string_view hex)
{
    if (hex.size() % 2 != 0)
        return fail(Errc::Corrupt, "gdbstub: odd-length hex");
    std::vector<std::byte> out;
    out.reserve(hex.size() / 2);
    for (size_t i = 0; i < hex.size(); i += 2) {
        int const high = hex_digit_value(hex[i]);
        int const low = hex_digit_value(hex[i + 1]);
        if (high < 0 || low < 0)
            return fail(Errc::Corrupt, "gdbstub: bad hex digit");
        out.push_back(static_cast<std::byte>(high * 16 + low));
    }
    return out;
}

Result<uint64_t> decode_le_register(std::string_view hex)
{
    if (hex.empty() || hex.size() > 16 || hex.find('x') != std::string_view::npos)
        return fail(Errc::Unsupported, "gdbstub: register unavailable");
    auto const bytes = TRY(hex_decode(hex));
    uint64_t value = 0;
    for (size_t i = 0; i < bytes.size(); ++i)
        value |= static_cast<uint64_t>(bytes[i]) << (8 * i);
    return value;
}

std::string encode_le_register(uint64_t value, size_t bytes)
{
    std::string out;
    for (size_t i = 0; i < bytes; ++i)
        out += fmt::format("{:02x}", (i < 8) ? static_cast<unsigned>((value >> (8 * i)) & 0xff) : 0U);
    return out;
}

Result<uint64_t> parse_hex_number(std::string_view text)
{
    if (text.empty() || text.size() > 16)
        return fail(Errc::Corrupt, "gdbstub: bad hex number");
    uint64_t value = 0;
    for (char c : text) {
        int const digit = hex_digit_value(c);
        if (digit < 0)
            return fail(Errc::Corrupt, "gdbstub: bad hex number");
        value = value * 16 + static_cast<uint64_t>(digit);
    }
    return value;
}

std::vector<TargetElement> parse_target_xml(std::string_view xml)
{
    std::vector<TargetElement> out;
    size_t at = 0;
    while ((at = xml.find('<', at)) != std::string_view::npos) {
        if (xml.substr(at).starts_with("<!--")) {
            // Comments may hold commented-out <reg> elements (QEMU's i386-64bit.xml does).
            auto const close = xml.find("-->", at + 4);
            if (close == std::string_view::npos)
                break;
            at = close + 3;
            continue;
        }
        auto const end = xml.find('>', at);
        if (end == std::string_view::npos)
            break;
        std::string_view const tag = xml.substr(at, end - at + 1);
        at = end;
        if (tag.starts_with("<reg ")) {
            RegisterDescription reg;
            reg.name = attribute(tag, "name");
            reg.bitsize = parse_decimal(attribute(tag, "bitsize")).value_or(0);
            if (auto const number = attribute(tag, "regnum"); !number.empty())
                reg.regnum = parse_decimal(number);
            out.push_back(TargetElement { std::move(reg), {} });
        } else if (tag.starts_with("<xi:include ")) {
            out.push_back(TargetElement { std::nullopt, attribute(tag, "href") });
        }
    }
    return out;
}

std::optional<uint64_t> stop_reply_thread(std::string_view reply)
{
    auto const at = reply.find("thread:");
    if (at == std::string_view::npos)
        return std::nullopt;
    auto const start = at + 7;
    auto const end = reply.find(';', start);
    auto const field = reply.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    auto const value = parse_hex_number(field.starts_with('p') ? field.substr(field.find('.') + 1) : field);
    if (!value)
        return std::nullopt;
    return *value;
}

} // namespace monarch::dkom::gdb
