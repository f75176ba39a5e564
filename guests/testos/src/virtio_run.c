/* SPDX-License-Identifier: Apache-2.0 */
/* testos.run=virtio-*: finds the virtio devices (PCI and MMIO) and runs one device workload in
 * ring 0 on the boot CPU before the scheduler starts (docs/testos.md, "Virtio workloads"),
 * ending the guest with its status; the benchmark instead starts a ring-3 task. */
#include "virtio.h"

static uint64_t seed = 1;

uint64_t virtio_seed(void) { return seed; }

/* "name" or "name:N" with N in 1..max; *n keeps its default when there is no argument. */
static bool workload_is(char const *run, char const *name, uint64_t max, uint64_t *n)
{
    size_t length = strlen(name);
    if (memcmp(run, name, length) != 0 || (run[length] != 0 && run[length] != ':'))
        return false;
    if (run[length] == 0)
        return true;
    char const *arg = run + length + 1;
    if (!n || !parse_u64(arg, strlen(arg), n) || *n == 0 || *n > max) {
        kprintf("testos: testos.run=%s: argument out of range (1-%lu)\n", run, max);
        system_exit(TESTOS_EXIT_USAGE);
    }
    return true;
}

static void read_seed(void)
{
    char value[32];
    if (option_value("testos.seed=", value, sizeof(value)) && !parse_u64(value, strlen(value), &seed)) {
        kprintf("testos: testos.seed=%s: want a decimal number\n", value);
        system_exit(TESTOS_EXIT_USAGE);
    }
}

/* Ends the guest (system_exit) except for the benchmark, which leaves main_task set. */
void virtio_workload(char const *run)
{
    read_seed();
    uint64_t n = 0;
    virtio_discover();
    if (workload_is(run, "virtio-list", 0, NULL)) {
        system_exit(TESTOS_EXIT_SUCCESS);
    } else if (workload_is(run, "virtio-blk", 0, NULL)) {
        system_exit(virtio_blk_run());
    } else if (workload_is(run, "virtio-blk-garbage", 0, NULL)) {
        system_exit(virtio_blk_garbage_run());
    } else if (n = 5, workload_is(run, "virtio-blk-bench", 3600, &n)) {
        main_task = virtio_blk_bench_start(n);
        if (main_task < 0)
            system_exit(TESTOS_EXIT_FAILURE);
        return;
    } else if (workload_is(run, "virtio-console", 0, NULL)) {
        system_exit(virtio_console_run());
    } else if (n = 64, workload_is(run, "virtio-rng", 4096, &n)) {
        system_exit(virtio_rng_run(n));
    } else if (workload_is(run, "virtio-net", 0, NULL)) {
        system_exit(virtio_net_run());
    } else if (workload_is(run, "virtio-vsock", 0, NULL)) {
        system_exit(virtio_vsock_run());
    } else if (n = 1000, workload_is(run, "virtio-vsock-bench", 10000, &n)) {
        system_exit(virtio_vsock_bench_run(n));
    }
    kprintf("testos: unknown workload testos.run=%s\n", run);
    system_exit(TESTOS_EXIT_USAGE);
}
