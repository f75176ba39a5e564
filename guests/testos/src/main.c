/* SPDX-License-Identifier: Apache-2.0 */
/* kmain: the boot sequence on the boot CPU, the command line (testos.run=, testos.hz=,
 * testos.timeout=), starting the chosen workload's ring-3 tasks, and system_exit, which reports
 * the guest's status on the debug-exit port and then powers off through ACPI S5. */
#include "kernel.h"

#define SMP_TIMEOUT_NS (10ull * 1000 * 1000 * 1000)
#define SPIN_TIME_NS (300ull * 1000 * 1000)

struct options {
    char run[64];
    uint64_t hz;
    uint64_t timeout_s;
};

static struct options options = { .run = "hello", .hz = 100, .timeout_s = 0 };
static uint64_t deadline_ns;

void system_exit(int status)
{
    __asm__ volatile("cli");
    kprintf("testos: exit status %d\n", status);
    outb(TESTOS_PORT_DEBUG_EXIT, (uint8_t)status);
    if (platform.pm1a_cnt && platform.have_s5) /* ACPI 4.8.3.2.1: SLP_TYP in bits 10-12, SLP_EN bit 13 */
        outw(platform.pm1a_cnt, (uint16_t)((platform.s5_slp_typ & 7) << 10 | 1 << 13));
    if (platform.sleep_control && platform.have_s5) { /* ACPI 4.8.3.7: SLP_TYPx bits 2-4, SLP_EN bit 5 */
        uint8_t value = (uint8_t)((platform.s5_slp_typ & 7) << 2 | 1 << 5);
        if (platform.sleep_control_is_io)
            outb((uint16_t)platform.sleep_control, value);
        else
            *(uint8_t volatile *)(uintptr_t)platform.sleep_control = value;
    }
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* Copies the value of `key` (e.g. "testos.run=") into out; false if absent. */
bool option_value(char const *key, char *out, size_t out_size)
{
    size_t key_length = strlen(key);
    char const *p = boot_info.cmdline;
    while (*p) {
        while (*p == ' ')
            p++;
        char const *end = p;
        while (*end && *end != ' ')
            end++;
        if ((size_t)(end - p) >= key_length && memcmp(p, key, key_length) == 0) {
            size_t n = (size_t)(end - p) - key_length;
            if (n >= out_size)
                n = out_size - 1;
            memcpy(out, p + key_length, n);
            out[n] = 0;
            return true;
        }
        p = end;
    }
    return false;
}

static void parse_options(void)
{
    char value[64];
    option_value("testos.run=", options.run, sizeof(options.run));
    if (option_value("testos.hz=", value, sizeof(value))
        && (!parse_u64(value, strlen(value), &options.hz) || options.hz < 10 || options.hz > 10000)) {
        kprintf("testos: testos.hz=%s: want 10-10000\n", value);
        system_exit(TESTOS_EXIT_USAGE);
    }
    if (option_value("testos.timeout=", value, sizeof(value))
        && !parse_u64(value, strlen(value), &options.timeout_s)) {
        kprintf("testos: testos.timeout=%s: want seconds\n", value);
        system_exit(TESTOS_EXIT_USAGE);
    }
    tick_hz = (uint32_t)options.hz;
}

/* "name:N" -> N (1..max); false if the argument is missing or out of range. */
static bool run_argument(char const *name, uint64_t max, uint64_t *n)
{
    size_t length = strlen(name);
    if (memcmp(options.run, name, length) != 0 || options.run[length] != ':')
        return false;
    char const *arg = options.run + length + 1;
    if (!parse_u64(arg, strlen(arg), n) || *n > max || (*n == 0 && memcmp(name, "exit", 4) != 0)) {
        kprintf("testos: testos.run=%s: argument out of range (max %lu)\n", options.run, max);
        system_exit(TESTOS_EXIT_USAGE);
    }
    return true;
}

static bool is_run(char const *name) { return memcmp(options.run, name, strlen(name) + 1) == 0; }

static int must(int slot)
{
    if (slot < 0) {
        kprintf("testos: cannot create a task (table or page pool full)\n");
        system_exit(TESTOS_EXIT_FAILURE);
    }
    return slot;
}

/* KVM cannot fetch an instruction from MMIO: KVM_RUN returns KVM_EXIT_INTERNAL_ERROR
 * (emulation). QEMU's TCG does fetch there (unassigned memory reads as zeros, `add %al,(%rax)`):
 * rax is non-canonical so that this first instruction raises #GP at once, and the guest ends
 * with TESTOS_EXIT_EXCEPTION instead of sliding through the hole. */
static void jump_to_mmio(void)
{
    __asm__ volatile("call *%1" ::"a"(0x8000000000000000ull), "r"(TESTOS_MMIO_BENCH_PAGE) : "memory");
}

/* count tasks running `entry` on `cpu` (cpu_count: one per CPU instead); returns the first
 * slot and count packed as the coordinators expect (first | count << 32). */
static uint64_t start_group(char const *name, user_entry_t entry, uint64_t count, bool one_per_cpu)
{
    int first = -1;
    for (uint64_t i = 0; i < count; i++) {
        int slot = must(task_create(name, one_per_cpu ? (uint32_t)i : 0, entry, 0, 0, false));
        if (first < 0)
            first = slot;
    }
    return (uint64_t)first | count << 32;
}

/* The workloads that end in ring 0 rather than through a task. */
static void run_failure_workload(void)
{
    if (is_run("triple-fault")) {
        kprintf("testos: triple-fault: loading an empty IDT and raising #UD in ring 0\n");
        load_empty_idt();
        __asm__ volatile("ud2");
    } else if (is_run("reset")) {
        /* The keyboard controller's "pulse output port" command 0xFE: bit 0 low pulses the CPU
         * reset line, as Linux's reboot=k does. */
        kprintf("testos: reset: pulsing the reset line through the i8042\n");
        outb(0x64, 0xfe);
        for (;;)
            __asm__ volatile("hlt");
    } else if (is_run("emulation-failure")) {
        kprintf("testos: emulation-failure: jumping to MMIO (no RAM) at %lx\n", TESTOS_MMIO_BENCH_PAGE);
        jump_to_mmio();
        kprintf("testos: emulation-failure: came back from MMIO\n");
        system_exit(TESTOS_EXIT_FAILURE);
    }
    kprintf("testos: unknown workload testos.run=%s\n", options.run);
    system_exit(TESTOS_EXIT_USAGE);
}

static void start_workload(void)
{
    uint64_t n;
    if (is_run("hello")) {
        main_task = must(task_create("hello", 0, user_hello, 0, 0, false));
    } else if (is_run("smp")) {
        uint64_t workers = start_group("smp-worker", user_smp_worker, platform.cpu_count, true);
        main_task = must(task_create("smp-wait", 0, user_smp_coordinator, workers, SMP_TIMEOUT_NS, false));
    } else if (run_argument("spin", TESTOS_MAX_TASKS - 1, &n)) {
        uint64_t spinners = start_group("spinner", user_spinner, n, false);
        main_task = must(task_create("spin-wait", 0, user_spin_coordinator, spinners, SPIN_TIME_NS, false));
    } else if (is_run("count")) {
        main_task = must(task_create("counter", 0, user_counter, 0, 0, false));
    } else if (is_run("idle")) {
        main_task = must(task_create("idle", 0, user_idle, 0, 0, false));
    } else if (run_argument("pio-bench", 1ull << 32, &n)) {
        main_task = must(task_create("pio-bench", 0, user_pio_bench, n, 0, false));
    } else if (run_argument("mmio-bench", 1ull << 32, &n)) {
        main_task = must(task_create("mmio-bench", 0, user_mmio_bench, n, 0, true));
    } else if (run_argument("exit", 255, &n)) {
        main_task = must(task_create("exit", 0, user_exit, n, 0, false));
    } else if (is_run("selftest")) {
        main_task = must(task_create("selftest", 0, user_selftest, (uint64_t)(uintptr_t)&options, 0, false));
    } else if (is_run("user-fault")) {
        main_task = must(task_create("user-fault", 0, user_fault, (uint64_t)(uintptr_t)&options, 0, false));
    } else if (memcmp(options.run, "virtio-", 7) == 0) {
        virtio_workload(options.run); /* ends the guest, or starts the benchmark's task */
    } else {
        run_failure_workload();
    }
    kprintf("testos: running %s\n", options.run);
}

void kmain(uint32_t start_info) __attribute__((noreturn));
void kmain(uint32_t start_info)
{
    serial_init();
    kprintf("testos: booting (PVH entry, long mode)\n");
    if (!boot_info_read(start_info))
        system_exit(TESTOS_EXIT_BOOT);
    parse_options();
    paging_init();
    idt_init();
    cpu_init(0, lapic_id());
    time_init();
    platform_discover();
    /* The boot CPU is CPU 0 whatever the tables' order. */
    for (uint32_t i = 1; i < platform.cpu_count; i++) {
        if (platform.apic_ids[i] == cpus[0].apic_id) {
            platform.apic_ids[i] = platform.apic_ids[0];
            platform.apic_ids[0] = (uint8_t)cpus[0].apic_id;
        }
    }
    lapic_init();
    cpus[0].online = true;
    smp_boot();
    testos_task_table.cpu_count = platform.cpu_count;
    testos_task_table.tick_hz = tick_hz;
    testos_task_table.boot_tsc = boot_tsc;
    testos_task_table.tsc_khz = tsc_khz;
    if (options.timeout_s)
        deadline_ns = time_ns() + options.timeout_s * 1000000000ull;
    start_workload();
    enter_frame(&cpus[0].idle);
}

/* Called on the boot CPU's timer tick. */
void watchdog_check(void)
{
    if (deadline_ns && time_ns() > deadline_ns) {
        kprintf("testos: testos.timeout=%lu expired\n", options.timeout_s);
        system_exit(TESTOS_EXIT_TIMEOUT);
    }
}
