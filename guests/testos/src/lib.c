/* SPDX-License-Identifier: Apache-2.0 */
/* The few C library routines the kernel needs (gcc may emit calls to memcpy and memset itself),
 * number parsing for the command line, and the spinlock. */
#include "kernel.h"

/* One string instruction each: where ring 0 is emulated instruction by instruction, a rep
 * prefix costs one emulation, a byte loop thousands. */
void *memset(void *dst, int value, size_t length)
{
    void *d = dst;
    if ((((uintptr_t)dst | length) & 7) == 0) { /* pages, frames: eight bytes at a time */
        size_t count = length / 8;
        uint64_t pattern = (uint8_t)value * 0x0101010101010101ull;
        __asm__ volatile("rep stosq" : "+D"(d), "+c"(count) : "a"(pattern) : "memory");
        return dst;
    }
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(length) : "a"(value) : "memory");
    return dst;
}

void *memcpy(void *dst, void const *src, size_t length)
{
    void *d = dst;
    if ((((uintptr_t)dst | (uintptr_t)src | length) & 7) == 0) {
        size_t count = length / 8;
        __asm__ volatile("rep movsq" : "+D"(d), "+S"(src), "+c"(count) : : "memory");
        return dst;
    }
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(length) : : "memory");
    return dst;
}

int memcmp(void const *a, void const *b, size_t length)
{
    uint8_t const *x = a, *y = b;
    for (size_t i = 0; i < length; i++) {
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    }
    return 0;
}

size_t strlen(char const *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

/* Decimal only; rejects empty input, other characters and overflow. */
bool parse_u64(char const *s, size_t length, uint64_t *out)
{
    uint64_t value = 0;
    if (length == 0)
        return false;
    for (size_t i = 0; i < length; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t digit = (uint64_t)(s[i] - '0');
        if (value > (UINT64_MAX - digit) / 10)
            return false;
        value = value * 10 + digit;
    }
    *out = value;
    return true;
}

/* Ring 0 always runs with interrupts off (interrupt gates), so a plain test-and-set lock is
 * enough. */
void spin_lock(spinlock_t *lock)
{
    while (__atomic_exchange_n(&lock->locked, 1u, __ATOMIC_ACQUIRE))
        cpu_relax();
}

void spin_unlock(spinlock_t *lock)
{
    __atomic_store_n(&lock->locked, 0u, __ATOMIC_RELEASE);
}
