// SPDX-License-Identifier: Apache-2.0
// The virtio-vsock packet header (virtio 1.2 section 5.10.6, struct virtio_vsock_hdr): its
// constants, little-endian encoding, and the checks every packet from the guest passes before
// the muxer sees it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace monarch::vmm::virtio::vsock {

// virtio 1.2 section 5.10.2: rx, tx, event.
inline constexpr uint16_t RX_QUEUE = 0;
inline constexpr uint16_t TX_QUEUE = 1;
inline constexpr uint16_t EVENT_QUEUE = 2;

// Well-known CIDs (virtio 1.2 section 5.10.4; the guest's own CID is >= 3).
inline constexpr uint64_t HOST_CID = 2;
inline constexpr uint64_t FIRST_GUEST_CID = 3;
inline constexpr uint64_t LAST_GUEST_CID = 0xffff'fffe; // upper 32 bits are reserved; -1U is "any"

// virtio 1.2 section 5.10.6: the header is 44 bytes, packed, little-endian.
inline constexpr size_t HEADER_SIZE = 44;
// The largest payload we accept or send in one packet. Linux never sends more than 64 KiB
// (VIRTIO_VSOCK_MAX_PKT_BUF_SIZE); a larger len is a broken or hostile driver.
inline constexpr uint32_t MAX_PAYLOAD = 64 * 1024;

enum class SocketType : uint16_t {
    Stream = 1,    // the only type we offer (no VIRTIO_VSOCK_F_SEQPACKET)
    SeqPacket = 2,
};

enum class Op : uint16_t {
    Invalid = 0,
    Request = 1,
    Response = 2,
    Rst = 3,
    Shutdown = 4,
    Rw = 5,
    CreditUpdate = 6,
    CreditRequest = 7,
};

// OP_SHUTDOWN flags: what the SENDER of the packet will no longer do.
inline constexpr uint32_t SHUTDOWN_RECEIVE = 1;
inline constexpr uint32_t SHUTDOWN_SEND = 2;
inline constexpr uint32_t SHUTDOWN_BOTH = SHUTDOWN_RECEIVE | SHUTDOWN_SEND;

// virtio 1.2 section 5.10.6.3: the only event, sent when the transport was reset (for example
// after a snapshot restore); the driver then drops every connection.
inline constexpr uint32_t EVENT_TRANSPORT_RESET = 0;

struct PacketHeader {
    uint64_t src_cid { 0 };
    uint64_t dst_cid { 0 };
    uint32_t src_port { 0 };
    uint32_t dst_port { 0 };
    uint32_t length { 0 };       // payload bytes after the header
    uint16_t type { 0 };         // SocketType, unvalidated
    uint16_t op { 0 };           // Op, unvalidated
    uint32_t flags { 0 };
    uint32_t buf_alloc { 0 };    // the sender's receive buffer size (credit, section 5.10.6.3)
    uint32_t fwd_cnt { 0 };      // bytes the sender has consumed from that buffer so far

    friend bool operator==(PacketHeader const&, PacketHeader const&) = default;
};

// Field-by-field little-endian encoding (no reinterpret_cast of guest bytes).
[[nodiscard]] std::optional<PacketHeader> decode_header(std::span<std::byte const> bytes);
void encode_header(PacketHeader const& header, std::span<std::byte, HEADER_SIZE> out);

// Why a packet from the guest was refused. Each has its own counter.
enum class PacketFault : uint8_t {
    None,
    BadSourceCid,     // not the guest's CID: dropped silently (the sender is not who it claims)
    BadDestinationCid,// not the host: RST (we do not route guest to guest)
    BadType,          // not STREAM: RST
    BadOp,            // INVALID or beyond CREDIT_REQUEST: RST
    BadLength,        // len beyond the chain, beyond MAX_PAYLOAD, or non-zero on a control op: RST
};

// virtio 1.2 section 5.10.6.1: the device checks a packet's addressing before acting on it.
// `payload_capacity` is how many readable bytes the chain has after the header.
[[nodiscard]] PacketFault check_guest_packet(PacketHeader const& header, uint64_t guest_cid, uint64_t payload_capacity);

// The RST that answers `header` (ports swapped), or nullopt for an RST, which is never answered
// (two peers must not bounce resets forever).
[[nodiscard]] std::optional<PacketHeader> reset_reply(PacketHeader const& header);

} // namespace monarch::vmm::virtio::vsock
