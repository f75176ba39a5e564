// SPDX-License-Identifier: Apache-2.0
// GDB remote serial protocol, the byte level: packet framing ($payload#checksum), escapes and
// run-length decoding, hex fields, and the register list of a target description. Pure
// functions over bytes, so they are unit-tested without a target.
// Spec: GDB manual, appendix "Remote Serial Protocol" (Overview, Packets, Target Descriptions).
#pragma once

#include "common/result.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace monarch::dkom::gdb {

// "$" payload "#" two hex digits of the modulo-256 sum; '$', '#', '}' and '*' in the payload are
// escaped as '}' followed by the byte XOR 0x20.
[[nodiscard]] std::string frame(std::string_view payload);

// Accumulates bytes from the stub and yields whole packets. Acks ('+', '-') between packets are
// skipped. A packet with a bad checksum yields Errc::Corrupt.
class PacketDecoder {
public:
    // Feeds one byte; returns a decoded payload when it completes a packet.
    [[nodiscard]] std::optional<Result<std::string>> feed(char byte);
    static constexpr size_t max_packet_size = 1 << 20;

private:
    enum class State : uint8_t { Idle, Payload, Checksum1, Checksum2 };
    State m_state { State::Idle };
    std::string m_raw;
    uint8_t m_sum { 0 };
    char m_checksum_high { 0 };
};

// Undoes '}' escapes and '*' run-length encoding of a received payload.
[[nodiscard]] Result<std::string> unescape(std::string_view raw);

[[nodiscard]] std::string hex_encode(std::span<std::byte const>);
[[nodiscard]] Result<std::vector<std::byte>> hex_decode(std::string_view);
// A register value as the stub sends it: target byte order (little-endian on x86), up to 8 bytes.
[[nodiscard]] Result<uint64_t> decode_le_register(std::string_view hex);
[[nodiscard]] std::string encode_le_register(uint64_t value, size_t bytes);
// A big-endian hex number as used in thread ids and addresses ("1f").
[[nodiscard]] Result<uint64_t> parse_hex_number(std::string_view);

struct RegisterDescription {
    std::string name;
    uint32_t bitsize { 0 };
    std::optional<uint32_t> regnum; // when the document gives one explicitly
};

// One <reg> or <xi:include> of a target description, in document order: registers are numbered
// in that order (includes expanded in place) unless a regnum attribute says otherwise.
struct TargetElement {
    std::optional<RegisterDescription> reg;
    std::string include_href; // set for an <xi:include>
};
[[nodiscard]] std::vector<TargetElement> parse_target_xml(std::string_view xml);

// The thread id in a stop reply "T05thread:02;..." (or nullopt when it names none).
[[nodiscard]] std::optional<uint64_t> stop_reply_thread(std::string_view reply);

} // namespace monarch::dkom::gdb
