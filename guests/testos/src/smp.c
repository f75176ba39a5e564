/* SPDX-License-Identifier: Apache-2.0 */
/* Bringing up the other CPUs (Intel MP spec 1.4, B.4; SDM vol. 3, 8.4.4.1): copy the real-mode
 * trampoline below 1 MiB, then for each AP in turn INIT, 10 ms, SIPI, 200 us, SIPI, and wait
 * until it reports online from ap_main. The VMM deals with KVM_RUN's EAGAIN on the AP's side. */
#include "kernel.h"

#define ICR_INIT 0x00004500u   /* delivery mode INIT, level assert */
#define ICR_STARTUP 0x00004600u /* delivery mode start-up; the low byte is the vector (page) */
#define AP_TIMEOUT_NS 2000000000ull /* generous: a loaded host may be slow to run a new vCPU */

extern char trampoline_start[], trampoline_end[];

uint64_t ap_boot_cr3;   /* read by the trampoline in 32-bit mode: must stay below 4 GiB */
uint64_t ap_boot_stack; /* read by ap_long_entry */
static volatile uint32_t ap_boot_index;
static uint8_t ap_stacks[MAX_CPUS][8192] __attribute__((aligned(16)));

void ap_main(void) __attribute__((noreturn));
void ap_main(void)
{
    uint32_t index = ap_boot_index;
    cpu_init(index, platform.apic_ids[index]);
    lapic_init();
    struct cpu *c = this_cpu();
    __atomic_store_n(&c->online, true, __ATOMIC_RELEASE);
    enter_frame(&c->idle);
}

static bool start_ap(uint32_t index)
{
    uint32_t apic = platform.apic_ids[index];
    ap_boot_index = index;
    ap_boot_stack = (uint64_t)(uintptr_t)(ap_stacks[index] + sizeof(ap_stacks[index]));
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    lapic_send_ipi(apic, ICR_INIT);
    delay_ns(10 * 1000 * 1000);
    for (int i = 0; i < 2; i++) {
        lapic_send_ipi(apic, ICR_STARTUP | (TRAMPOLINE_BASE >> 12));
        delay_ns(200 * 1000);
    }
    for (uint64_t end = time_ns() + AP_TIMEOUT_NS; time_ns() < end;) {
        if (__atomic_load_n(&cpus[index].online, __ATOMIC_ACQUIRE))
            return true;
        cpu_relax();
    }
    return false;
}

void smp_boot(void)
{
    uint64_t size = (uint64_t)(trampoline_end - trampoline_start);
    if (platform.cpu_count > 1 && boot_info.range_count && !ram_contains(TRAMPOLINE_BASE, PAGE_SIZE)) {
        kprintf("testos: trampoline page %x is not RAM: staying on one CPU\n", TRAMPOLINE_BASE);
        platform.cpu_count = 1;
        return;
    }
    memcpy((void *)(uintptr_t)TRAMPOLINE_BASE, trampoline_start, size);
    ap_boot_cr3 = kernel_cr3();
    uint32_t online = 1;
    for (uint32_t i = 1; i < platform.cpu_count; i++) {
        if (start_ap(i)) {
            online++;
        } else {
            kprintf("testos: cpu %u (apic %u) did not come online\n", i, platform.apic_ids[i]);
        }
    }
    kprintf("testos: %u of %u CPUs online\n", online, platform.cpu_count);
}
