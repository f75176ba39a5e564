/* SPDX-License-Identifier: Apache-2.0 */
/* What a CPU runs in ring 0 when none of its tasks is runnable: wait for the next interrupt. */
        .text
        .global idle_loop
idle_loop:
        sti
        hlt
        jmp     idle_loop
