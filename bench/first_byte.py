#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Runs one command and reports, as "first_byte_ms=X total_ms=Y peak_rss_kib=Z status=S":
# the wall time from exec to the first byte on its stdout (the guest's first serial byte,
# since both VMMs send the serial console to stdout), the wall time to its exit, and its
# peak resident set size (getrusage of the child, which includes guest memory it touched).
import os
import select
import sys
import time

def main(argv):
    if len(argv) < 2:
        print("usage: first_byte.py COMMAND [ARGS...]", file=sys.stderr)
        return 2
    read_end, write_end = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.dup2(write_end, 1)
        devnull = os.open("/dev/null", os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 2)
        os.execvp(argv[1], argv[1:])
    os.close(write_end)
    first_byte = None
    deadline = start + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([read_end], [], [], 1.0)
        if not ready:
            continue
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        if first_byte is None:
            first_byte = time.monotonic()
    else:
        os.kill(pid, 9)
    _, status, usage = os.wait4(pid, 0)
    end = time.monotonic()
    if first_byte is None:
        print(f"first_byte_ms=none total_ms={(end - start) * 1000:.1f} peak_rss_kib={usage.ru_maxrss} status={status}")
        return 1
    print(f"first_byte_ms={(first_byte - start) * 1000:.1f} total_ms={(end - start) * 1000:.1f} "
          f"peak_rss_kib={usage.ru_maxrss} status={status}")
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv))
