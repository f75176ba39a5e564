/* SPDX-License-Identifier: Apache-2.0 */
/* Memory the virtio devices see: a bump allocator over RAM just past the kernel image
 * (identity-mapped, so a pointer is its own guest-physical address), and uncached kernel
 * mappings of device registers anywhere in the 48-bit physical space (BARs above 4 GiB get
 * 2 MiB pages in a PD of their own). Only the boot CPU calls these, before any task runs. */
#include "virtio.h"

#define DMA_POOL_SIZE (16ull << 20)
#define PAGE_2M (2ull << 20)
#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define PTE_PWT 0x8ull
#define PTE_PCD 0x10ull
#define PTE_PS 0x80ull
#define HIGH_PDS 4u /* GiB-sized windows above 4 GiB that io_map can open */

extern char __kernel_end[];
extern uint64_t boot_pdpt[512], boot_pd[4 * 512];

static uint64_t pool_next, pool_end;
static uint64_t high_pd[HIGH_PDS][512] __attribute__((aligned(4096)));
static uint32_t high_pd_used;

static uint64_t round_up(uint64_t value, uint64_t align) { return (value + align - 1) & ~(align - 1); }

/* The pool starts at the first 2 MiB boundary past the kernel (the ring-3 benchmark maps 2 MiB
 * pieces of it) and must lie in one RAM range of the memory map. */
static bool pool_init(void)
{
    uint64_t start = round_up((uint64_t)(uintptr_t)__kernel_end, PAGE_2M);
    if (!ram_contains(start, DMA_POOL_SIZE)) {
        kprintf("virtio: no %lu MiB of RAM at %lx for rings and buffers\n", (uint64_t)(DMA_POOL_SIZE >> 20), start);
        return false;
    }
    pool_next = start;
    pool_end = start + DMA_POOL_SIZE;
    return true;
}

void *dma_alloc(uint64_t size, uint64_t align)
{
    if (!pool_end && !pool_init())
        return NULL;
    uint64_t start = round_up(pool_next, align ? align : 8);
    if (start > pool_end || size > pool_end - start)
        return NULL;
    pool_next = start + size;
    memset((void *)(uintptr_t)start, 0, size);
    return (void *)(uintptr_t)start;
}

static void flush_tlb(void)
{
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
}

/* Below 4 GiB the identity map exists; 3-4 GiB is uncached already (boot.S). A 2 MiB page
 * elsewhere (q35's ECAM at 2.75 GiB) is made uncached unless RAM lies in it. */
static void uncache_low(uint64_t paddr, uint64_t size)
{
    for (uint64_t page = paddr & ~(PAGE_2M - 1); page < paddr + size; page += PAGE_2M) {
        uint64_t *entry = &boot_pd[page / PAGE_2M];
        if ((*entry & PTE_PS) && !(*entry & PTE_PCD) && page >= (4ull << 20) && !ram_contains(page, 1))
            *entry |= PTE_PCD | PTE_PWT;
    }
}

void *io_map(uint64_t paddr, uint64_t size)
{
    if (size == 0 || paddr + size < paddr || paddr + size > (1ull << 39))
        return NULL; /* past what one PDPT (PML4 slot 0, shared by every task) covers */
    if (paddr + size <= (4ull << 30)) {
        uncache_low(paddr, size);
        flush_tlb();
        return (void *)(uintptr_t)paddr;
    }
    for (uint64_t gib = paddr >> 30; gib <= (paddr + size - 1) >> 30; gib++) {
        if (boot_pdpt[gib] & PTE_P)
            continue;
        if (high_pd_used == HIGH_PDS)
            return NULL;
        uint64_t *pd = high_pd[high_pd_used++];
        for (unsigned i = 0; i < 512; i++)
            pd[i] = ((gib << 30) + ((uint64_t)i << 21)) | PTE_P | PTE_W | PTE_PS | PTE_PCD | PTE_PWT;
        boot_pdpt[gib] = (uint64_t)(uintptr_t)pd | PTE_P | PTE_W;
    }
    flush_tlb();
    return (void *)(uintptr_t)paddr;
}
