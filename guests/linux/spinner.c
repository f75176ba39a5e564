// SPDX-License-Identifier: Apache-2.0
// A CPU spinner for the introspection tests: it counts as fast as it can and, every 100 ms of
// wall time, writes its count to /run/spin/<pid>. A test reads those files through the guest's
// own shell (serial console), independently of introspection: a suspended spinner's file
// stops changing, a running one's keeps growing. It also starts one idle thread, so that
// the thread walk (signal->thread_head) has a second thread to find.
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void* idle_thread(void* argument)
{
    (void)argument;
    for (;;)
        pause();
    return NULL;
}

int main(void)
{
    pthread_t idle;
    if (pthread_create(&idle, NULL, idle_thread, NULL) != 0)
        perror("spinner: pthread_create");
    char path[64];
    snprintf(path, sizeof(path), "/run/spin/%d", (int)getpid());
    volatile unsigned long long count = 0;
    long last = now_ms();
    for (;;) {
        for (int i = 0; i < 100000; ++i)
            count = count + 1;
        long const t = now_ms();
        if (t - last < 100)
            continue;
        last = t;
        char text[32];
        int const length = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)count);
        int const fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            if (write(fd, text, (size_t)length) < 0)
                perror("spinner: write");
            close(fd);
        }
    }
}
