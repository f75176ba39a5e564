/* SPDX-License-Identifier: Apache-2.0 */
/* Time and the local APIC: the TSC calibrated against the 8254 PIT (1.193182 MHz, channel 0
 * counter read back with the latch command), ns since boot from the TSC, and the xAPIC at
 * 0xfee00000 (SDM vol. 3, chapter 11) with its timer in periodic mode as the scheduler tick. */
#include "kernel.h"

#define LAPIC_BASE 0xfee00000ull
#define LAPIC_ID 0x20
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_ICR_LOW 0x300
#define LAPIC_ICR_HIGH 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_TIMER_CURRENT 0x390
#define LAPIC_TIMER_DIVIDE 0x3e0
#define LVT_MASKED (1u << 16)
#define LVT_PERIODIC (1u << 17)
#define ICR_PENDING (1u << 12)
#define PIT_HZ 1193182ull
#define CALIBRATION_MS 20

uint64_t tsc_khz;
uint64_t boot_tsc;
uint32_t tick_hz = 100;
static uint64_t ns_mult; /* ns = (tsc delta * ns_mult) >> 32 */
static uint32_t lapic_ticks_per_period;

static inline uint32_t lapic_read(uint32_t reg) { return *(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + reg); }
static inline void lapic_write(uint32_t reg, uint32_t v) { *(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + reg) = v; }

uint32_t lapic_id(void) { return lapic_read(LAPIC_ID) >> 24; }
void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }

static uint16_t pit_read_channel0(void)
{
    outb(0x43, 0x00); /* counter latch, channel 0 */
    uint8_t low = inb(0x40);
    uint8_t high = inb(0x40);
    return (uint16_t)(low | high << 8);
}

/* TSC ticks during `ms` of PIT time, or 0 when the PIT does not count (a VMM without one). */
static uint64_t tsc_per_pit_window(unsigned ms)
{
    outb(0x43, 0x34); /* channel 0, low/high byte, mode 2 (rate generator), binary */
    outb(0x40, 0x00); /* reload 65536 */
    outb(0x40, 0x00);
    uint64_t want = PIT_HZ * ms / 1000, elapsed = 0;
    uint16_t previous = pit_read_channel0();
    uint32_t unchanged = 0;
    uint64_t start = rdtsc();
    while (elapsed < want) {
        uint16_t now = pit_read_channel0();
        if (now == previous) {
            if (++unchanged > 5000) /* the counter moves every 0.84 us */
                return 0;
            continue;
        }
        unchanged = 0;
        elapsed += (uint16_t)(previous - now); /* counts down, wraps at 65536 */
        previous = now;
    }
    return (rdtsc() - start) * 1000 / ms;
}

static void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

/* The hypervisor timing leaf 0x40000010 (eax: TSC kHz), which KVM VMMs and VMware offer when
 * the hypervisor range reaches it; then the architectural leaf 0x15 (crystal and ratio). */
static uint64_t tsc_hz_from_cpuid(void)
{
    uint32_t a, b, c, d;
    cpuid(0x40000000, &a, &b, &c, &d);
    if (a >= 0x40000010 && a < 0x40010000) {
        cpuid(0x40000010, &a, &b, &c, &d);
        if (a)
            return (uint64_t)a * 1000;
    }
    cpuid(0, &a, &b, &c, &d);
    if (a < 0x15)
        return 0;
    cpuid(0x15, &a, &b, &c, &d);
    if (a && b && c)
        return (uint64_t)c * b / a; /* crystal Hz * numerator / denominator */
    return 0;
}

void time_init(void)
{
    boot_tsc = rdtsc();
    uint64_t hz = tsc_per_pit_window(CALIBRATION_MS);
    char const *source = "PIT";
    if (!hz) {
        hz = tsc_hz_from_cpuid();
        source = "CPUID";
    }
    if (!hz) {
        hz = 2000000000ull;
        source = "nothing (no PIT, no CPUID timing leaf): assuming 2 GHz";
    }
    tsc_khz = hz / 1000;
    ns_mult = (1000000000ull << 32) / hz;
    kprintf("testos: TSC %lu kHz (calibrated against %s)\n", tsc_khz, source);
}

uint64_t time_ns(void)
{
    uint64_t delta = rdtsc() - boot_tsc;
    return (uint64_t)(((unsigned __int128)delta * ns_mult) >> 32);
}

void delay_ns(uint64_t ns)
{
    uint64_t end = time_ns() + ns;
    while (time_ns() < end)
        cpu_relax();
}

/* LAPIC timer ticks (divide by 16) per scheduler period, measured against the TSC once. */
static uint32_t calibrate_lapic_timer(void)
{
    lapic_write(LAPIC_TIMER_DIVIDE, 0x3); /* divide by 16 */
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | VECTOR_TIMER);
    lapic_write(LAPIC_TIMER_INITIAL, 0xffffffffu);
    delay_ns(10 * 1000 * 1000);
    uint32_t used = 0xffffffffu - lapic_read(LAPIC_TIMER_CURRENT);
    lapic_write(LAPIC_TIMER_INITIAL, 0);
    uint64_t per_second = (uint64_t)used * 100;
    uint64_t per_period = per_second / tick_hz;
    if (per_period == 0 || per_period > 0xffffffffu)
        per_period = 1000000000ull / 16 / tick_hz; /* KVM's and QEMU's APIC bus: 1 GHz */
    kprintf("testos: LAPIC timer %lu Hz (divide by 16), tick %u Hz\n", per_second, tick_hz);
    return (uint32_t)per_period;
}

void lapic_init(void)
{
    outb(0x21, 0xff); /* mask both 8259 PICs: only LAPIC interrupts are used */
    outb(0xa1, 0xff);
    lapic_write(LAPIC_SVR, 0x100 | VECTOR_SPURIOUS); /* software enable */
    lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
    lapic_write(LAPIC_LVT_LINT1, LVT_MASKED);
    lapic_write(LAPIC_LVT_ERROR, LVT_MASKED);
    if (!lapic_ticks_per_period)
        lapic_ticks_per_period = calibrate_lapic_timer();
    lapic_write(LAPIC_TIMER_DIVIDE, 0x3);
    lapic_write(LAPIC_LVT_TIMER, LVT_PERIODIC | VECTOR_TIMER);
    lapic_write(LAPIC_TIMER_INITIAL, lapic_ticks_per_period);
}

bool lapic_wait_icr_idle(void)
{
    for (uint64_t end = time_ns() + 10000000; time_ns() < end;) {
        if (!(lapic_read(LAPIC_ICR_LOW) & ICR_PENDING))
            return true;
        cpu_relax();
    }
    return false;
}

void lapic_send_ipi(uint32_t apic_id, uint32_t icr_low)
{
    lapic_write(LAPIC_ICR_HIGH, apic_id << 24);
    lapic_write(LAPIC_ICR_LOW, icr_low);
    lapic_wait_icr_idle();
}
