// SPDX-License-Identifier: Apache-2.0
// What the vsock device, its muxer and its connections share: the connection key, the limits
// the VMM may tune, and the per-device counters of guest-triggerable events (STYLE.md 8).
#pragma once

#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>

namespace monarch::vmm::virtio::vsock {

// A connection is named by its two ports (the CIDs are fixed: host 2, the guest's own).
struct ConnectionKey {
    uint32_t local_port { 0 };   // the host side's port
    uint32_t peer_port { 0 };    // the guest side's port
    friend auto operator<=>(ConnectionKey const&, ConnectionKey const&) = default;
};

struct VsockLimits {
    size_t max_connections { 1024 };         // beyond: host CONNECT gets "ERR", guest REQUEST gets RST
    size_t max_pending_handshakes { 64 };    // host clients that have not sent their CONNECT line yet
    size_t max_queued_resets { 4096 };       // RSTs waiting for rx buffers; beyond: dropped, counted
    uint32_t buffer_size { 256 * 1024 };     // our buf_alloc per connection (guest -> host bytes in flight)
    std::chrono::milliseconds connect_timeout { 2000 };   // guest must answer our REQUEST; host must send CONNECT
    std::chrono::milliseconds close_timeout { 2000 };     // flushing to the host after the guest closed
};

// Counters (Firecracker-style metrics). Monotonic; read them with VsockDevice::counters().
struct VsockCounters {
    // Packets and payload bytes, from the guest (tx) and to the guest (rx).
    uint64_t tx_packets { 0 };
    uint64_t tx_bytes { 0 };
    uint64_t rx_packets { 0 };
    uint64_t rx_bytes { 0 };
    // Malformed guest packets, by reason (see PacketFault).
    uint64_t tx_short_chain { 0 };       // fewer than 44 readable bytes: dropped
    uint64_t tx_bad_src_cid { 0 };       // dropped
    uint64_t tx_bad_dst_cid { 0 };       // RST
    uint64_t tx_bad_type { 0 };          // RST
    uint64_t tx_bad_op { 0 };            // RST
    uint64_t tx_bad_length { 0 };        // RST
    uint64_t tx_unknown_connection { 0 };// a packet for no connection: RST
    uint64_t protocol_errors { 0 };      // a valid packet in the wrong state (RW before RESPONSE...): RST
    uint64_t credit_violations { 0 };    // the guest sent more than our buf_alloc allowed: RST
    uint64_t rx_buffer_too_small { 0 };  // an rx chain shorter than a header: returned empty
    // Connections.
    uint64_t connections_opened { 0 };
    uint64_t connections_closed { 0 };
    uint64_t connection_limit_hits { 0 };
    uint64_t host_connect_failures { 0 };   // guest-initiated: nobody listens on <socket>_<port>
    uint64_t host_handshake_errors { 0 };   // host client sent no valid CONNECT line
    uint64_t host_io_errors { 0 };          // read/write on a host socket failed: RST
    uint64_t timeouts { 0 };                // the guest did not answer our REQUEST, or a close stalled
    uint64_t resets_sent { 0 };
    uint64_t resets_dropped { 0 };          // reset queue full
    uint64_t events_sent { 0 };             // TRANSPORT_RESET events
};

} // namespace monarch::vmm::virtio::vsock
