/* SPDX-License-Identifier: Apache-2.0 */
/* 4-level paging (SDM vol. 3, 4.5). The kernel's identity map (boot.S) is shared by every task
 * through PML4 slot 0; the first 4 MiB are re-mapped with 4 KiB pages so that the ring-3 code and
 * the task table can carry the U bit alone. Each task gets its own PML4 whose slot 1 (virtual
 * 512 GiB) holds its private pages: a stack and, for mmio-bench, the uncached benchmark page;
 * paging_map_user adds more there (the virtio-blk benchmark's rings, buffers and registers). */
#include "kernel.h"

#define PTE_P 0x1ull
#define PTE_W 0x2ull
#define PTE_U 0x4ull
#define PTE_PWT 0x8ull
#define PTE_PCD 0x10ull
#define PTE_PS 0x80ull
#define PTE_ADDR 0x000ffffffffff000ull

#define SPLIT_PTS 2                 /* 4 KiB page tables for 0-4 MiB */
#define POOL_PAGES (TESTOS_MAX_TASKS * 6 + 8)
#define USER_BASE (1ull << 39)      /* PML4 slot 1 */
#define USER_STACK_PAGES 2
#define USER_MMIO_VA (USER_BASE + 0x200000)

extern uint64_t boot_pml4[512], boot_pd[4 * 512];
extern char __user_start[], __user_end[], __user_data_start[], __user_data_end[];

static uint64_t split_pt[SPLIT_PTS][512] __attribute__((aligned(4096)));
static uint8_t pool[POOL_PAGES][PAGE_SIZE] __attribute__((aligned(4096)));
static uint32_t pool_used;
static spinlock_t pool_lock;

uint64_t kernel_cr3(void) { return (uint64_t)(uintptr_t)boot_pml4; }

void *page_alloc(void)
{
    void *page = NULL;
    spin_lock(&pool_lock);
    if (pool_used < POOL_PAGES)
        page = pool[pool_used++];
    spin_unlock(&pool_lock);
    if (page)
        memset(page, 0, PAGE_SIZE);
    return page;
}

static uint64_t user_flags(uint64_t address)
{
    uint64_t a = address;
    if (a >= (uint64_t)(uintptr_t)__user_start && a < (uint64_t)(uintptr_t)__user_end)
        return PTE_U; /* ring-3 code and its constants: read-only */
    if (a >= (uint64_t)(uintptr_t)__user_data_start && a < (uint64_t)(uintptr_t)__user_data_end)
        return PTE_U | PTE_W; /* the task table: the workloads advance their counters */
    return PTE_W;
}

void paging_init(void)
{
    for (unsigned t = 0; t < SPLIT_PTS; t++) {
        for (unsigned i = 0; i < 512; i++) {
            uint64_t address = ((uint64_t)t << 21) + ((uint64_t)i << 12);
            split_pt[t][i] = address | PTE_P | user_flags(address);
        }
        boot_pd[t] = (uint64_t)(uintptr_t)split_pt[t] | PTE_P | PTE_W | PTE_U;
    }
    __asm__ volatile("mov %0, %%cr3" ::"r"(kernel_cr3()) : "memory");
}

/* A new address space: the shared kernel half plus private user pages. Returns its CR3 (0 when
 * the page pool is exhausted); *stack_top and *mmio_va tell where the task's pages are. */
uint64_t paging_new_user_space(uint64_t *stack_top, bool map_mmio_bench, uint64_t *mmio_va)
{
    uint64_t *pml4 = page_alloc(), *pdpt = page_alloc(), *pd = page_alloc(), *pt = page_alloc();
    if (!pml4 || !pdpt || !pd || !pt)
        return 0;
    pml4[0] = boot_pml4[0];
    pml4[1] = (uint64_t)(uintptr_t)pdpt | PTE_P | PTE_W | PTE_U;
    pdpt[0] = (uint64_t)(uintptr_t)pd | PTE_P | PTE_W | PTE_U;
    pd[0] = (uint64_t)(uintptr_t)pt | PTE_P | PTE_W | PTE_U;
    for (unsigned i = 0; i < USER_STACK_PAGES; i++) {
        void *page = page_alloc();
        if (!page)
            return 0;
        pt[i] = (uint64_t)(uintptr_t)page | PTE_P | PTE_W | PTE_U;
    }
    *stack_top = USER_BASE + USER_STACK_PAGES * PAGE_SIZE;
    if (map_mmio_bench) {
        uint64_t *pt2 = page_alloc();
        if (!pt2)
            return 0;
        pd[1] = (uint64_t)(uintptr_t)pt2 | PTE_P | PTE_W | PTE_U;
        pt2[0] = TESTOS_MMIO_BENCH_PAGE | PTE_P | PTE_W | PTE_U | PTE_PCD | PTE_PWT; /* uncached */
        *mmio_va = USER_MMIO_VA;
    }
    return (uint64_t)(uintptr_t)pml4;
}

/* Whether ring 3 may read [va, va+length) in the address space cr3: walks the tables and
 * requires P and U at every level (SDM 4.6: user access needs U=1 in every entry). */
bool paging_user_range_ok(uint64_t cr3, uint64_t va, uint64_t length)
{
    if (length == 0)
        return true;
    if (va + length < va || va + length > (1ull << 47))
        return false;
    for (uint64_t page = va & ~(PAGE_SIZE - 1); page < va + length; page += PAGE_SIZE) {
        uint64_t const *table = (uint64_t const *)(uintptr_t)(cr3 & PTE_ADDR);
        for (int level = 3; level >= 0; level--) {
            uint64_t entry = table[(page >> (12 + 9 * level)) & 511];
            if ((entry & (PTE_P | PTE_U)) != (PTE_P | PTE_U))
                return false;
            if (level == 0 || (level <= 2 && (entry & PTE_PS)))
                break;
            table = (uint64_t const *)(uintptr_t)(entry & PTE_ADDR);
        }
    }
    return true;
}

/* Maps [pa, pa+size) at va (4 KiB pages, read-write, user) into the address space cr3, inside
 * the first GiB of its private slot 1; uncached for device registers. The page tables come from
 * the pool; false when it is exhausted or the range is outside that GiB or taken already. */
bool paging_map_user(uint64_t cr3, uint64_t va, uint64_t pa, uint64_t size, bool uncached)
{
    if (((va | pa | size) & (PAGE_SIZE - 1)) || va < USER_BASE || size > (1ull << 30) || va - USER_BASE > (1ull << 30) - size)
        return false;
    uint64_t *pml4 = (uint64_t *)(uintptr_t)(cr3 & PTE_ADDR);
    uint64_t *pdpt = (uint64_t *)(uintptr_t)(pml4[1] & PTE_ADDR);
    uint64_t *pd = (uint64_t *)(uintptr_t)(pdpt[0] & PTE_ADDR);
    for (uint64_t offset = 0; offset < size; offset += PAGE_SIZE) {
        uint64_t page = va - USER_BASE + offset;
        uint64_t *pde = &pd[page >> 21];
        if (!(*pde & PTE_P)) {
            uint64_t *pt = page_alloc();
            if (!pt)
                return false;
            *pde = (uint64_t)(uintptr_t)pt | PTE_P | PTE_W | PTE_U;
        }
        uint64_t *pt = (uint64_t *)(uintptr_t)(*pde & PTE_ADDR);
        uint64_t *pte = &pt[(page >> 12) & 511];
        if (*pte & PTE_P)
            return false;
        *pte = (pa + offset) | PTE_P | PTE_W | PTE_U | (uncached ? PTE_PCD | PTE_PWT : 0);
    }
    return true;
}
