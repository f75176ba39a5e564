/* SPDX-License-Identifier: Apache-2.0 */
/* Ring-3 helpers: building a line of text and writing it with one system call. Written so that
 * gcc emits no library calls (memset/memcpy would land in kernel-only pages). */
#include "user.h"

void u_init(struct u_line *line) { line->length = 0; }

void u_str(struct u_line *line, char const *s)
{
    while (*s && line->length < sizeof(line->text))
        line->text[line->length++] = *s++;
}

void u_dec(struct u_line *line, uint64_t value)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    while (n && line->length < sizeof(line->text))
        line->text[line->length++] = digits[--n];
}

void u_flush(struct u_line *line)
{
    u_syscall(TESTOS_SYS_WRITE, (uint64_t)(uintptr_t)line->text, line->length, 0);
    line->length = 0;
}
