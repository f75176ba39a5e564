/* SPDX-License-Identifier: Apache-2.0 */
/* COM1 (16550 at 0x3f8), polled, and a small printf for the kernel's own messages. Output of
 * one kprintf or one write syscall is never interleaved with another CPU's. */
#include "kernel.h"

#define COM1 0x3f8
#define UART_THR 0 /* transmit holding register */
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_THR_EMPTY 0x20

static spinlock_t console_lock;

void serial_init(void)
{
    outb(COM1 + UART_IER, 0x00); /* no interrupts: we poll */
    outb(COM1 + UART_LCR, 0x80); /* DLAB: divisor 1 = 115200 baud */
    outb(COM1 + 0, 0x01);
    outb(COM1 + 1, 0x00);
    outb(COM1 + UART_LCR, 0x03); /* 8N1 */
    outb(COM1 + UART_FCR, 0x07); /* FIFO on, cleared */
    outb(COM1 + UART_MCR, 0x03); /* DTR, RTS */
}

static void put_raw(char ch)
{
    /* Bounded wait: a VMM without a UART reads 0xff (THR empty) or 0; never hang on it. */
    for (int spins = 0; spins < 100000 && !(inb(COM1 + UART_LSR) & LSR_THR_EMPTY); spins++)
        cpu_relax();
    outb(COM1 + UART_THR, (uint8_t)ch);
}

static void put_locked(char const *s, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        if (s[i] == '\n')
            put_raw('\r');
        put_raw(s[i]);
    }
}

void serial_write(char const *s, size_t length)
{
    spin_lock(&console_lock);
    put_locked(s, length);
    spin_unlock(&console_lock);
}

struct out {
    char buffer[256];
    size_t length;
};

static void out_char(struct out *o, char ch)
{
    if (o->length < sizeof(o->buffer))
        o->buffer[o->length++] = ch;
}

static void out_number(struct out *o, uint64_t value, unsigned base, int width, char pad)
{
    char digits[24];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[value % base];
        value /= base;
    } while (value);
    while (width-- > n)
        out_char(o, pad);
    while (n)
        out_char(o, digits[--n]);
}

/* Supports %s %c %d %u %x %p with an optional 0/width and one 'l' (all integers are taken
 * as 64-bit when 'l' is given, 32-bit otherwise). */
static void format(struct out *o, char const *f, va_list args)
{
    for (; *f; f++) {
        if (*f != '%') {
            out_char(o, *f);
            continue;
        }
        f++;
        char pad = ' ';
        int width = 0;
        bool is_long = false;
        if (*f == '0')
            pad = '0';
        while (*f >= '0' && *f <= '9')
            width = width * 10 + (*f++ - '0');
        while (*f == 'l') {
            is_long = true;
            f++;
        }
        switch (*f) {
        case 's': {
            char const *s = va_arg(args, char const *);
            while (s && *s)
                out_char(o, *s++);
            break;
        }
        case 'c': out_char(o, (char)va_arg(args, int)); break;
        case 'd': {
            int64_t v = is_long ? va_arg(args, int64_t) : va_arg(args, int);
            if (v < 0) {
                out_char(o, '-');
                v = -v;
            }
            out_number(o, (uint64_t)v, 10, width, pad);
            break;
        }
        case 'u': out_number(o, is_long ? va_arg(args, uint64_t) : va_arg(args, unsigned), 10, width, pad); break;
        case 'x': out_number(o, is_long ? va_arg(args, uint64_t) : va_arg(args, unsigned), 16, width, pad); break;
        case 'p': out_char(o, '0'); out_char(o, 'x'); out_number(o, (uint64_t)va_arg(args, void *), 16, 0, ' '); break;
        case '%': out_char(o, '%'); break;
        default: return;
        }
    }
}

void kprintf(char const *f, ...)
{
    struct out o;
    o.length = 0;
    va_list args;
    va_start(args, f);
    format(&o, f, args);
    va_end(args);
    serial_write(o.buffer, o.length);
}
