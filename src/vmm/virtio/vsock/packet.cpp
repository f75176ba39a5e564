// SPDX-License-Identifier: Apache-2.0
// virtio-vsock header encoding and validation (virtio 1.2 section 5.10.6).

#include "vmm/virtio/vsock/packet.h"

#include "common/byte_access.h"

#include <algorithm>

namespace monarch::vmm::virtio::vsock {

// Offsets of struct virtio_vsock_hdr's fields (virtio 1.2 section 5.10.6, packed).
namespace {
constexpr size_t OFF_SRC_CID = 0;
constexpr size_t OFF_DST_CID = 8;
constexpr size_t OFF_SRC_PORT = 16;
constexpr size_t OFF_DST_PORT = 20;
constexpr size_t OFF_LEN = 24;
constexpr size_t OFF_TYPE = 28;
constexpr size_t OFF_OP = 30;
constexpr size_t OFF_FLAGS = 32;
constexpr size_t OFF_BUF_ALLOC = 36;
constexpr size_t OFF_FWD_CNT = 40;
static_assert(OFF_FWD_CNT + 4 == HEADER_SIZE);
} // namespace

std::optional<PacketHeader> decode_header(std::span<std::byte const> bytes)
{
    if (bytes.size() < HEADER_SIZE)
        return std::nullopt;
    PacketHeader h;
    h.src_cid = *load_le<uint64_t>(bytes, OFF_SRC_CID);
    h.dst_cid = *load_le<uint64_t>(bytes, OFF_DST_CID);
    h.src_port = *load_le<uint32_t>(bytes, OFF_SRC_PORT);
    h.dst_port = *load_le<uint32_t>(bytes, OFF_DST_PORT);
    h.length = *load_le<uint32_t>(bytes, OFF_LEN);
    h.type = *load_le<uint16_t>(bytes, OFF_TYPE);
    h.op = *load_le<uint16_t>(bytes, OFF_OP);
    h.flags = *load_le<uint32_t>(bytes, OFF_FLAGS);
    h.buf_alloc = *load_le<uint32_t>(bytes, OFF_BUF_ALLOC);
    h.fwd_cnt = *load_le<uint32_t>(bytes, OFF_FWD_CNT);
    return h;
}

void encode_header(PacketHeader const& h, std::span<std::byte, HEADER_SIZE> out)
{
    store_le<uint64_t>(out, OFF_SRC_CID, h.src_cid);
    store_le<uint64_t>(out, OFF_DST_CID, h.dst_cid);
    store_le<uint32_t>(out, OFF_SRC_PORT, h.src_port);
    store_le<uint32_t>(out, OFF_DST_PORT, h.dst_port);
    store_le<uint32_t>(out, OFF_LEN, h.length);
    store_le<uint16_t>(out, OFF_TYPE, h.type);
    store_le<uint16_t>(out, OFF_OP, h.op);
    store_le<uint32_t>(out, OFF_FLAGS, h.flags);
    store_le<uint32_t>(out, OFF_BUF_ALLOC, h.buf_alloc);
    store_le<uint32_t>(out, OFF_FWD_CNT, h.fwd_cnt);
}

PacketFault check_guest_packet(PacketHeader const& h, uint64_t guest_cid, uint64_t payload_capacity)
{
    if (h.src_cid != guest_cid)
        return PacketFault::BadSourceCid;
    if (h.dst_cid != HOST_CID)
        return PacketFault::BadDestinationCid;
    if (h.type != static_cast<uint16_t>(SocketType::Stream))
        return PacketFault::BadType;
    if (h.op == static_cast<uint16_t>(Op::Invalid) || h.op > static_cast<uint16_t>(Op::CreditRequest))
        return PacketFault::BadOp;
    // Only OP_RW carries a payload (section 5.10.6.3); its len must fit in what the chain holds.
    uint64_t allowed = h.op == static_cast<uint16_t>(Op::Rw) ? std::min<uint64_t>(payload_capacity, MAX_PAYLOAD) : 0;
    if (h.length > allowed)
        return PacketFault::BadLength;
    return PacketFault::None;
}

std::optional<PacketHeader> reset_reply(PacketHeader const& h)
{
    if (h.op == static_cast<uint16_t>(Op::Rst))
        return std::nullopt;
    PacketHeader reply;
    reply.src_cid = HOST_CID;
    reply.dst_cid = h.src_cid;
    reply.src_port = h.dst_port;
    reply.dst_port = h.src_port;
    reply.type = static_cast<uint16_t>(SocketType::Stream);
    reply.op = static_cast<uint16_t>(Op::Rst);
    return reply;
}

} // namespace monarch::vmm::virtio::vsock
