/* SPDX-License-Identifier: Apache-2.0 */
/* The few C library routines the kernel needs (gcc may emit calls to memcpy and memset itself),
 * number parsing for the command line, and the spinlock. */
#include "kernel.h"

void *memset(void *dst, int value, size_t length)
{
    uint8_t *d = dst;
    while (length--)
        *d++ = (uint8_t)value;
    return dst;
}

void *memcpy(void *dst, void const *src, size_t length)
{
    uint8_t *d = dst;
    uint8_t const *s = src;
    while (length--)
        *d++ = *s++;
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
