/* SPDX-License-Identifier: Apache-2.0 */
/* The virtio-vsock workload (virtio 1.2, 5.10), polled in ring 0: connect a stream socket to the
 * host (CID 2) on port testos.vsock.port= (default 1234), send one line, expect the same bytes
 * back (an echo server on the host), shut down. Flow control per 5.10.6.3: our buf_alloc and
 * fwd_cnt go in every header, and we send only within the peer's advertised credit, asking for
 * an update when it is short. Under QEMU (no vhost-vsock without /dev/vhost-vsock) the tests
 * run it against their own vhost-user back end (test/qemu/testos_virtio/vhost_user_vsock.h). */
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
    char received[128];
    uint32_t received_length;
    bool connected, reset;
};

static bool post_rx(struct vsock *v, uint32_t index)
{
    struct vbuf buffer = { v->rx_buffers + index * RX_BUFFER_SIZE, RX_BUFFER_SIZE, true };
    return virtq_add(&v->rx, &buffer, 1) >= 0;
}

static bool send_packet(struct vsock *v, uint16_t op, uint32_t flags, void const *data, uint32_t length)
{
    struct vsock_header *h = (struct vsock_header *)v->tx_buffer;
    *h = (struct vsock_header){ .src_cid = v->guest_cid, .dst_cid = VSOCK_HOST_CID, .src_port = LOCAL_PORT, .dst_port = v->port,
        .len = length, .type = VSOCK_TYPE_STREAM, .op = op, .flags = flags, .buf_alloc = RX_BUFFERS * RX_PAYLOAD, .fwd_cnt = v->fwd_cnt };
    if (length)
        memcpy(v->tx_buffer + sizeof(*h), data, length);
    struct vbuf buffer = { v->tx_buffer, (uint32_t)sizeof(*h) + length, false };
    int head = virtq_add(&v->tx, &buffer, 1);
    if (head < 0)
        return false;
    virtq_kick(&v->tx);
    uint32_t used;
    return virtq_wait(&v->tx, head, TIMEOUT_NS, &used);
}

/* Handles one received packet for our connection; others are ignored. */
static void handle(struct vsock *v, struct vsock_header const *h, uint32_t length)
{
    if (length < sizeof(*h) || h->dst_port != LOCAL_PORT || h->src_port != v->port || h->src_cid != VSOCK_HOST_CID)
        return;
    v->peer_buf_alloc = h->buf_alloc;
    v->peer_fwd_cnt = h->fwd_cnt;
    switch (h->op) {
    case OP_RESPONSE: v->connected = true; break;
    case OP_RST: v->reset = true; break;
    case OP_SHUTDOWN: v->reset = true; break;
    case OP_CREDIT_REQUEST: send_packet(v, OP_CREDIT_UPDATE, 0, NULL, 0); break;
    case OP_RW: {
        uint32_t n = h->len <= length - sizeof(*h) ? h->len : length - (uint32_t)sizeof(*h);
        for (uint32_t i = 0; i < n && v->received_length < sizeof(v->received); i++)
            v->received[v->received_length++] = ((char const *)(h + 1))[i];
        v->fwd_cnt += n; /* consumed at once */
        break;
    }
    default: break;
    }
}

/* Polls the receive queue until done(v) or the timeout. */
static bool poll_until(struct vsock *v, bool (*done)(struct vsock const *v))
{
    uint64_t deadline = time_ns() + TIMEOUT_NS;
    while (!done(v) && !v->reset && time_ns() < deadline) {
        uint32_t length;
        int head = virtq_get(&v->rx, &length);
        if (head < 0) {
            cpu_relax();
            continue;
        }
        uint8_t *buffer = (uint8_t *)(uintptr_t)v->rx.desc[head].addr;
        uint32_t index = (uint32_t)((buffer - v->rx_buffers) / RX_BUFFER_SIZE);
        handle(v, (struct vsock_header const *)buffer, length <= RX_BUFFER_SIZE ? length : 0);
        if (index < RX_BUFFERS)
            post_rx(v, index);
        virtq_kick(&v->rx);
    }
    return done(v);
}

static bool is_connected(struct vsock const *v) { return v->connected; }
static bool has_credit(struct vsock const *v) { return v->peer_buf_alloc - (v->tx_cnt - v->peer_fwd_cnt) >= 64; }
static uint32_t s_expected;
static bool echo_complete(struct vsock const *v) { return v->received_length >= s_expected; }

static bool vsock_open(struct vsock *v)
{
    v->device = virtio_find(VIRTIO_ID_VSOCK);
    if (!v->device) {
        kprintf("virtio-vsock: no virtio-vsock device found\n");
        return false;
    }
    uint64_t features;
    void *rx = dma_alloc(VIRTQ_BYTES, PAGE_SIZE), *tx = dma_alloc(VIRTQ_BYTES, PAGE_SIZE), *ev = dma_alloc(VIRTQ_BYTES, PAGE_SIZE);
    v->rx_buffers = dma_alloc(RX_BUFFERS * RX_BUFFER_SIZE, 64);
    v->tx_buffer = dma_alloc(RX_BUFFER_SIZE, 64);
    v->events = dma_alloc(64, 8);
    if (!rx || !tx || !ev || !v->rx_buffers || !v->tx_buffer || !v->events || !virtio_begin(v->device, 1 /* F_STREAM */, &features))
        return false;
    if (!virtio_queue_setup(v->device, &v->rx, 0, 16, rx) || !virtio_queue_setup(v->device, &v->tx, 1, 16, tx)
        || !virtio_queue_setup(v->device, &v->event, 2, 4, ev)) {
        virtio_fail(v->device, "queues missing");
        return false;
    }
    v->guest_cid = virtio_config_read(v->device, 0, 4) | (uint64_t)virtio_config_read(v->device, 4, 4) << 32;
    for (uint32_t i = 0; i < RX_BUFFERS; i++)
        post_rx(v, i);
    for (uint32_t i = 0; i < 2; i++) { /* 5.10.6.1: the event queue is kept filled */
        struct vbuf event = { v->events + 8 * i, 8, true };
        virtq_add(&v->event, &event, 1);
    }
    virtio_driver_ok(v->device);
    virtq_kick(&v->rx);
    virtq_kick(&v->event);
    return true;
}

static int finish(struct vsock *v, bool ok, char const *why)
{
    kprintf("virtio-vsock: %s\n", why);
    kprintf("virtio-vsock: result=%s transport=%s cid=%lu port=%u\n", ok ? "ok" : "failed", v->device->where, v->guest_cid, v->port);
    return ok ? TESTOS_EXIT_SUCCESS : TESTOS_EXIT_FAILURE;
}

int virtio_vsock_run(void)
{
    struct vsock v = { 0 };
    char value[16];
    uint64_t port = 1234;
    if (option_value("testos.vsock.port=", value, sizeof(value)) && (!parse_u64(value, strlen(value), &port) || port > 0xffffffffu)) {
        kprintf("testos: testos.vsock.port=%s: want 0-4294967295\n", value);
        return TESTOS_EXIT_USAGE;
    }
    v.port = (uint32_t)port;
    if (!vsock_open(&v))
        return TESTOS_EXIT_FAILURE;
    kprintf("virtio-vsock: %s: guest CID %lu, connecting to CID 2 port %u\n", v.device->where, v.guest_cid, v.port);
    if (!send_packet(&v, OP_REQUEST, 0, NULL, 0) || !poll_until(&v, is_connected))
        return finish(&v, false, v.reset ? "connection refused (RST)" : "no RESPONSE to our REQUEST");
    if (!has_credit(&v) && (!send_packet(&v, OP_CREDIT_REQUEST, 0, NULL, 0) || !poll_until(&v, has_credit)))
        return finish(&v, false, "the peer gives no credit");
    char line[64];
    memcpy(line, "testos vsock echo ", 18);
    uint32_t length = 18;
    for (uint64_t seed = virtio_seed(), div = 10000000000000000000ull; div; div /= 10) {
        if (seed / div || length > 18 || div == 1)
            line[length++] = (char)('0' + seed / div % 10);
    }
    line[length++] = '\n';
    s_expected = length;
    if (!send_packet(&v, OP_RW, 0, line, length))
        return finish(&v, false, "sending failed");
    v.tx_cnt += length;
    bool echoed = poll_until(&v, echo_complete);
    bool same = echoed && v.received_length == length && memcmp(v.received, line, length) == 0;
    send_packet(&v, OP_SHUTDOWN, SHUTDOWN_BOTH, NULL, 0);
    kprintf("virtio-vsock: sent %u bytes, received %u\n", length, v.received_length);
    return finish(&v, same, same ? "echo matches" : echoed ? "echo differs" : "no echo");
}
