/* SPDX-License-Identifier: Apache-2.0 */
/* The virtio-vsock workload (virtio 1.2, 5.10), polled in ring 0: connect a stream socket to the
 * host (CID 2) on port testos.vsock.port= (default 1234), send one line, expect the same bytes
 * back (an echo server on the host), shut down. Flow control per 5.10.6.3: our buf_alloc and
 * fwd_cnt go in every header, and we send only within the peer's advertised credit, asking for
 * an update when it is short. Under QEMU (no vhost-vsock without /dev/vhost-vsock) the tests
 * run it against their own vhost-user back end (test/qemu/testos_virtio/vhost_user_vsock.h).
 * The connection code is shared with the benchmark (virtio_vsock.h, virtio_vsock_bench.c). */
#include "virtio_vsock.h"

static bool post_rx(struct vsock *v, uint32_t index)
{
    struct vbuf buffer = { v->rx_buffers + index * RX_BUFFER_SIZE, RX_BUFFER_SIZE, true };
    return virtq_add(&v->rx, &buffer, 1) >= 0;
}

bool send_packet(struct vsock *v, uint16_t op, uint32_t flags, void const *data, uint32_t length)
{
    struct vsock_header *h = (struct vsock_header *)v->tx_buffer;
    *h = (struct vsock_header){ .src_cid = v->guest_cid, .dst_cid = VSOCK_HOST_CID, .src_port = LOCAL_PORT, .dst_port = v->port,
        .len = length, .type = VSOCK_TYPE_STREAM, .op = op, .flags = flags, .buf_alloc = VSOCK_BUF_ALLOC, .fwd_cnt = v->fwd_cnt };
    v->fwd_cnt_sent = v->fwd_cnt;
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
        v->received_total += n;
        /* 5.10.6.3: tell the peer about freed space before it runs out of credit, in case we
         * are not sending anything that would carry fwd_cnt (the benchmark's bulk tail). */
        if (v->fwd_cnt - v->fwd_cnt_sent >= VSOCK_BUF_ALLOC / 2)
            send_packet(v, OP_CREDIT_UPDATE, 0, NULL, 0);
        break;
    }
    default: break;
    }
}

bool vsock_poll_once(struct vsock *v)
{
    uint32_t length;
    int head = virtq_get(&v->rx, &length);
    if (head < 0)
        return false;
    uint8_t *buffer = (uint8_t *)(uintptr_t)v->rx.desc[head].addr;
    uint32_t index = (uint32_t)((buffer - v->rx_buffers) / RX_BUFFER_SIZE);
    handle(v, (struct vsock_header const *)buffer, length <= RX_BUFFER_SIZE ? length : 0);
    if (index < RX_BUFFERS)
        post_rx(v, index);
    virtq_kick(&v->rx);
    return true;
}

bool poll_until(struct vsock *v, bool (*done)(struct vsock const *v))
{
    uint64_t deadline = time_ns() + TIMEOUT_NS;
    while (!done(v) && !v->reset && time_ns() < deadline) {
        if (!vsock_poll_once(v))
            cpu_relax();
    }
    return done(v);
}

bool is_connected(struct vsock const *v) { return v->connected; }
bool has_credit(struct vsock const *v) { return vsock_credit(v) >= 64; }
uint32_t vsock_credit(struct vsock const *v) { return v->peer_buf_alloc - (v->tx_cnt - v->peer_fwd_cnt); }
static uint32_t s_expected;
static bool echo_complete(struct vsock const *v) { return v->received_length >= s_expected; }

bool vsock_open(struct vsock *v)
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

char const *vsock_connect(struct vsock *v)
{
    if (!send_packet(v, OP_REQUEST, 0, NULL, 0) || !poll_until(v, is_connected))
        return v->reset ? "connection refused (RST)" : "no RESPONSE to our REQUEST";
    if (!has_credit(v) && (!send_packet(v, OP_CREDIT_REQUEST, 0, NULL, 0) || !poll_until(v, has_credit)))
        return "the peer gives no credit";
    return NULL;
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
    char const *refused = vsock_connect(&v);
    if (refused)
        return finish(&v, false, refused);
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
