/* SPDX-License-Identifier: Apache-2.0 */
/* The virtio-net workload (virtio 1.2, 5.1), polled in ring 0: broadcast an Ethernet frame of
 * type 0x88b5 whose payload is "testos virtio-net ping <seed>" on transmitq1 (queue 1), and wait
 * on receiveq1 (queue 0) for a frame of that type carrying "testos virtio-net pong <seed>" from
 * the peer (a test's socket behind QEMU's -netdev socket, a tap, ...). The ping is repeated
 * every 500 ms for up to 10 s, as the peer may not be listening yet. No offloads are
 * negotiated; the 12-byte header (5.1.6, num_buffers included with VERSION_1) is zero. */
#include "virtio.h"
#include "testos/virtio_pattern.h"

#define VIRTIO_NET_F_MAC (1ull << 5)
#define NET_HEADER 12u
#define FRAME_MAX 1514u
#define RX_BUFFERS 8u
#define RX_BUFFER_SIZE (NET_HEADER + FRAME_MAX)
#define RESEND_NS (500ull * 1000 * 1000)
#define TOTAL_NS (10ull * 1000 * 1000 * 1000)

struct net {
    struct virtio_device *device;
    struct virtq rx, tx;
    uint8_t *rx_buffers;
    uint8_t *tx_buffer;
    uint8_t mac[6];
    uint32_t sent, received;
};

/* "<prefix><seed>" into out; returns its length. */
static uint32_t payload(char *out, char const *prefix, uint64_t seed)
{
    uint32_t n = (uint32_t)strlen(prefix);
    memcpy(out, prefix, n);
    char digits[20];
    int count = 0;
    do {
        digits[count++] = (char)('0' + seed % 10);
        seed /= 10;
    } while (seed);
    while (count)
        out[n++] = digits[--count];
    return n;
}

static bool post_rx(struct net *n, uint32_t index)
{
    struct vbuf buffer = { n->rx_buffers + index * RX_BUFFER_SIZE, RX_BUFFER_SIZE, true };
    return virtq_add(&n->rx, &buffer, 1) >= 0;
}

static bool net_open(struct net *n)
{
    n->device = virtio_find(VIRTIO_ID_NET);
    if (!n->device) {
        kprintf("virtio-net: no virtio-net device found\n");
        return false;
    }
    uint64_t features;
    void *rx_ring = dma_alloc(VIRTQ_BYTES, PAGE_SIZE), *tx_ring = dma_alloc(VIRTQ_BYTES, PAGE_SIZE);
    n->rx_buffers = dma_alloc(RX_BUFFERS * RX_BUFFER_SIZE, 64);
    n->tx_buffer = dma_alloc(RX_BUFFER_SIZE, 64);
    if (!rx_ring || !tx_ring || !n->rx_buffers || !n->tx_buffer || !virtio_begin(n->device, VIRTIO_NET_F_MAC, &features))
        return false;
    if (!virtio_queue_setup(n->device, &n->rx, 0, 16, rx_ring) || !virtio_queue_setup(n->device, &n->tx, 1, 16, tx_ring)) {
        virtio_fail(n->device, "queues missing");
        return false;
    }
    static uint8_t const local_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 }; /* locally administered */
    for (uint32_t i = 0; i < 6; i++)
        n->mac[i] = features & VIRTIO_NET_F_MAC ? (uint8_t)virtio_config_read(n->device, i, 1) : local_mac[i];
    for (uint32_t i = 0; i < RX_BUFFERS; i++)
        post_rx(n, i);
    virtio_driver_ok(n->device);
    virtq_kick(&n->rx);
    return true;
}

static bool send_ping(struct net *n, uint64_t seed)
{
    uint8_t *frame = n->tx_buffer + NET_HEADER;
    memset(n->tx_buffer, 0, NET_HEADER + 60);
    memset(frame, 0xff, 6);
    memcpy(frame + 6, n->mac, 6);
    frame[12] = TESTOS_NET_ETHERTYPE >> 8;
    frame[13] = TESTOS_NET_ETHERTYPE & 0xff;
    uint32_t length = 14 + payload((char *)frame + 14, TESTOS_NET_PING, seed);
    if (length < 60)
        length = 60; /* the Ethernet minimum without FCS; the padding is zero */
    struct vbuf buffer = { n->tx_buffer, NET_HEADER + length, false };
    int head = virtq_add(&n->tx, &buffer, 1);
    if (head < 0)
        return false;
    virtq_kick(&n->tx);
    uint32_t used;
    if (!virtq_wait(&n->tx, head, TOTAL_NS, &used))
        return false;
    n->sent++;
    return true;
}

/* Polls receiveq1 until deadline; true when the pong arrived. Every frame's buffer is posted
 * again. */
static bool wait_pong(struct net *n, uint64_t seed, uint64_t deadline)
{
    char expected[64];
    uint32_t expected_length = payload(expected, TESTOS_NET_PONG, seed);
    while (time_ns() < deadline) {
        uint32_t length;
        int head = virtq_get(&n->rx, &length);
        if (head < 0) {
            cpu_relax();
            continue;
        }
        uint8_t const *buffer = (uint8_t const *)(uintptr_t)n->rx.desc[head].addr;
        uint32_t index = (uint32_t)((buffer - n->rx_buffers) / RX_BUFFER_SIZE);
        n->received++;
        uint8_t const *frame = buffer + NET_HEADER;
        bool match = length >= NET_HEADER + 14 + expected_length && length <= RX_BUFFER_SIZE
            && frame[12] == (TESTOS_NET_ETHERTYPE >> 8) && frame[13] == (TESTOS_NET_ETHERTYPE & 0xff)
            && memcmp(frame + 14, expected, expected_length) == 0;
        kprintf("virtio-net: received %u bytes, type %02x%02x%s\n", length - NET_HEADER, frame[12], frame[13], match ? ", the pong" : "");
        if (index < RX_BUFFERS)
            post_rx(n, index);
        virtq_kick(&n->rx);
        if (match)
            return true;
    }
    virtio_device_broken(n->device); /* says so if the device gave up */
    return false;
}

int virtio_net_run(void)
{
    struct net n = { 0 };
    if (!net_open(&n))
        return TESTOS_EXIT_FAILURE;
    uint64_t seed = virtio_seed();
    kprintf("virtio-net: %s: mac %02x:%02x:%02x:%02x:%02x:%02x\n", n.device->where, n.mac[0], n.mac[1], n.mac[2], n.mac[3],
        n.mac[4], n.mac[5]);
    uint64_t end = time_ns() + TOTAL_NS;
    bool ok = false;
    while (!ok && time_ns() < end) {
        if (!send_ping(&n, seed))
            break;
        uint64_t next = time_ns() + RESEND_NS;
        ok = wait_pong(&n, seed, next < end ? next : end);
    }
    kprintf("virtio-net: result=%s transport=%s sent=%u received=%u\n", ok ? "ok" : "failed", n.device->where, n.sent, n.received);
    return ok ? TESTOS_EXIT_SUCCESS : TESTOS_EXIT_FAILURE;
}
