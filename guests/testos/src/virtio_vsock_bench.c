/* SPDX-License-Identifier: Apache-2.0 */
/* testos.run=virtio-vsock-bench[:ROUNDS]: vsock round-trip latency and throughput against an
 * echo server on the host (CID 2, port testos.vsock.port=, default 1234), on one connection:
 * 1. ping-pong: ROUNDS times (default 1000) send a 64-byte message and wait for its echo;
 *    reports min, median and mean round-trip time in nanoseconds;
 * 2. bulk: send testos.vsock.bytes= bytes (default 4 MiB) in 4 KiB packets within the peer's
 *    credit while taking the echoes back; reports the time until the last echoed byte is in,
 *    as MiB/s each way.
 * Lines "virtio-vsock-bench: rtt ...", "... bulk ...", "... result=ok|failed ..." (the host
 * side and the benchmark script parse them: bench/virtio/run, docs/testos.md). */
#include "virtio_vsock.h"

#define PING_BYTES 64u
#define MAX_ROUNDS 10000u
#define CHUNK RX_PAYLOAD

static uint32_t samples[MAX_ROUNDS];
static uint64_t s_target;

static bool received_target(struct vsock const *v) { return v->received_total >= s_target; }

/* Shell sort (Ciura's gaps): the samples are few and testos has no qsort. */
static void sort_samples(uint32_t *a, uint32_t n)
{
    static uint32_t const gaps[] = { 701, 301, 132, 57, 23, 10, 4, 1 };
    for (uint32_t g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++) {
        for (uint32_t i = gaps[g]; i < n; i++) {
            uint32_t value = a[i], j = i;
            for (; j >= gaps[g] && a[j - gaps[g]] > value; j -= gaps[g])
                a[j] = a[j - gaps[g]];
            a[j] = value;
        }
    }
}

static bool ping_pong(struct vsock *v, uint32_t rounds)
{
    uint8_t message[PING_BYTES];
    uint64_t total = 0;
    for (uint32_t round = 0; round < rounds; round++) {
        for (uint32_t i = 0; i < PING_BYTES; i++)
            message[i] = (uint8_t)(round + i);
        if (vsock_credit(v) < PING_BYTES && (!send_packet(v, OP_CREDIT_REQUEST, 0, NULL, 0) || !poll_until(v, has_credit)))
            return false;
        uint64_t start = time_ns();
        s_target = v->received_total + PING_BYTES;
        if (!send_packet(v, OP_RW, 0, message, PING_BYTES))
            return false;
        v->tx_cnt += PING_BYTES;
        if (!poll_until(v, received_target))
            return false;
        uint64_t elapsed = time_ns() - start;
        samples[round] = elapsed > 0xffffffffu ? 0xffffffffu : (uint32_t)elapsed;
        total += elapsed;
    }
    sort_samples(samples, rounds);
    kprintf("virtio-vsock-bench: rtt rounds=%u bytes=%u min_ns=%u median_ns=%u mean_ns=%lu\n", rounds, PING_BYTES, samples[0],
        samples[rounds / 2], total / rounds);
    return true;
}

static bool bulk(struct vsock *v, uint64_t bytes)
{
    static uint8_t chunk[CHUNK];
    for (uint32_t i = 0; i < CHUNK; i++)
        chunk[i] = (uint8_t)(i * 7);
    uint64_t start = time_ns(), sent = 0, deadline = start + TIMEOUT_NS;
    s_target = v->received_total + bytes;
    while (sent < bytes && !v->reset && time_ns() < deadline) {
        while (vsock_poll_once(v)) /* take echoes back first: they free the peer's buffer */
            ;
        uint32_t credit = vsock_credit(v);
        uint32_t length = bytes - sent < CHUNK ? (uint32_t)(bytes - sent) : CHUNK;
        if (credit < length) {
            cpu_relax();
            continue;
        }
        if (!send_packet(v, OP_RW, 0, chunk, length))
            return false;
        v->tx_cnt += length;
        sent += length;
        deadline = time_ns() + TIMEOUT_NS; /* progress: the timeout is per stall, not in total */
    }
    if (sent < bytes || !poll_until(v, received_target))
        return false;
    uint64_t elapsed = time_ns() - start;
    uint64_t kib_per_s = elapsed ? bytes * 1000000000ull / 1024 / elapsed : 0;
    kprintf("virtio-vsock-bench: bulk bytes=%lu ns=%lu mib_per_s=%lu.%03lu\n", bytes, elapsed, kib_per_s / 1024,
        kib_per_s % 1024 * 1000 / 1024);
    return true;
}

static int finish(struct vsock *v, bool ok, char const *why)
{
    kprintf("virtio-vsock-bench: %s\n", why);
    kprintf("virtio-vsock-bench: result=%s transport=%s cid=%lu port=%u sent=%u received=%lu\n", ok ? "ok" : "failed",
        v->device ? v->device->where : "none", v->guest_cid, v->port, v->tx_cnt, v->received_total);
    return ok ? TESTOS_EXIT_SUCCESS : TESTOS_EXIT_FAILURE;
}

static bool read_option(char const *key, uint64_t min, uint64_t max, uint64_t *out)
{
    char value[24];
    if (!option_value(key, value, sizeof(value)))
        return true;
    if (parse_u64(value, strlen(value), out) && *out >= min && *out <= max)
        return true;
    kprintf("testos: %s%s: want %lu-%lu\n", key, value, min, max);
    return false;
}

int virtio_vsock_bench_run(uint64_t rounds)
{
    struct vsock v = { 0 };
    uint64_t port = 1234, bytes = 4ull << 20;
    if (rounds > MAX_ROUNDS || !read_option("testos.vsock.port=", 0, 0xffffffffu, &port)
        || !read_option("testos.vsock.bytes=", 1, 1ull << 30, &bytes))
        return TESTOS_EXIT_USAGE;
    v.port = (uint32_t)port;
    if (!vsock_open(&v))
        return TESTOS_EXIT_FAILURE;
    kprintf("virtio-vsock-bench: %s: guest CID %lu, CID 2 port %u, %lu rounds, %lu bytes\n", v.device->where, v.guest_cid,
        v.port, rounds, bytes);
    char const *refused = vsock_connect(&v);
    if (refused)
        return finish(&v, false, refused);
    bool ok = ping_pong(&v, (uint32_t)rounds);
    char const *why = ok ? "done" : v.reset ? "the peer reset the connection during ping-pong" : "ping-pong timed out";
    if (ok && !bulk(&v, bytes)) {
        ok = false;
        why = v.reset ? "the peer reset the connection during the bulk transfer" : "bulk transfer timed out";
    }
    send_packet(&v, OP_SHUTDOWN, SHUTDOWN_BOTH, NULL, 0);
    return finish(&v, ok, why);
}
