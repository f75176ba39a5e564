/* SPDX-License-Identifier: Apache-2.0 */
/* testos's virtio-vsock connection (virtio 1.2, 5.10), polled in ring 0: one stream connection
 * from the guest to the host (CID 2), shared by the echo workload (virtio_vsock.c) and the
 * benchmark (virtio_vsock_bench.c). */
#pragma once

#include "virtio.h"

#define VSOCK_HOST_CID 2
#define VSOCK_TYPE_STREAM 1
#define OP_REQUEST 1
#define OP_RESPONSE 2
#define OP_RST 3
#define OP_SHUTDOWN 4
#define OP_RW 5
#define OP_CREDIT_UPDATE 6
#define OP_CREDIT_REQUEST 7
#define SHUTDOWN_BOTH 3
#define LOCAL_PORT 49152u
#define RX_BUFFERS 8u
#define RX_PAYLOAD 4096u
#define VSOCK_BUF_ALLOC (RX_BUFFERS * RX_PAYLOAD) /* what we announce: our receive buffers */
#define TIMEOUT_NS (10ull * 1000 * 1000 * 1000)

struct vsock_header {
    uint64_t src_cid, dst_cid;
    uint32_t src_port, dst_port, len;
    uint16_t type, op;
    uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

#define RX_BUFFER_SIZE (sizeof(struct vsock_header) + RX_PAYLOAD)

struct vsock {
    struct virtio_device *device;
    struct virtq rx, tx, event;
    uint8_t *rx_buffers, *tx_buffer, *events;
    uint64_t guest_cid;
    uint32_t port, peer_buf_alloc, peer_fwd_cnt, tx_cnt, fwd_cnt;
    uint32_t fwd_cnt_sent;   /* the fwd_cnt our last packet told the peer */
    char received[128];      /* the first bytes of the stream (the echo workload checks them) */
    uint32_t received_length;
    uint64_t received_total; /* every stream byte received */
    bool connected, reset;
};

/* Finds the device, sets up its three queues and fills the receive and event queues. */
bool vsock_open(struct vsock *v);
/* Sends one packet on our connection (v->port) and waits until the device has taken it. */
bool send_packet(struct vsock *v, uint16_t op, uint32_t flags, void const *data, uint32_t length);
/* REQUEST, wait for RESPONSE, make sure there is credit; the reason on failure. */
char const *vsock_connect(struct vsock *v);
/* Handles one received packet if there is one; false when the receive queue was empty. */
bool vsock_poll_once(struct vsock *v);
/* Polls the receive queue until done(v), a reset, or the timeout; returns done(v). */
bool poll_until(struct vsock *v, bool (*done)(struct vsock const *v));
bool is_connected(struct vsock const *v);
bool has_credit(struct vsock const *v);
/* Bytes we may still send before the peer's buffer is full (5.10.6.3). */
uint32_t vsock_credit(struct vsock const *v);
