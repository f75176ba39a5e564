# SPDX-License-Identifier: Apache-2.0
# The introspection benchmark (issue 5): boots the test guest once under QEMU TCG, drives the
# built monarch-introspect against it and times it from the host (wall clock, time.monotonic),
# observing effects through the guest's own shell on the serial console. Prints a Markdown table.
# Usage: bench.py TOOL BENCH_PROGRAM PROFILE_TOOL GUEST_SCRIPT KERNEL_IMAGE  (bench/introspect/run passes them)
import os
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPEATS = 5           # runs per ps / suspend / resume figure (median reported)
WINDOW_S = 3.0        # spinner progress window per sampling mode
SAMPLING_S = 5        # each sampling run; the window lies inside it
SAMPLING_ROUNDS = 5   # rounds of none / 100 Hz / 1 kHz, rotating order
SLEEP_FOREVER = "sleep 100000"


class Guest:
    """The test guest (scripts/make-linux-guest boot) and its shell on the serial console."""

    def __init__(self, script, directory):
        self.memory_file = os.path.join(directory, "mem")
        self.gdb = "unix:" + os.path.join(directory, "gdb.sock")
        self.console = b""
        self.sequence = 0
        self.qemu = subprocess.Popen(
            [script, "boot", "--memory-file", self.memory_file, "--gdb", self.gdb, "--spinners", "2", "--smp", "2"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        if not self.wait_for(b"MONARCH-GUEST-READY", 0, 180):
            raise RuntimeError("the guest did not come up:\n" + self.console.decode(errors="replace"))
        self.shell("true", 60)

    def close(self):
        if self.qemu.poll() is None:
            os.killpg(self.qemu.pid, signal.SIGKILL)
        self.qemu.wait()

    def pump(self, wait_s):
        ready, _, _ = select.select([self.qemu.stdout], [], [], wait_s)
        if ready:
            chunk = os.read(self.qemu.stdout.fileno(), 65536)
            if not chunk:
                self.qemu.wait()
                raise RuntimeError(f"QEMU went away (exit {self.qemu.returncode}); console ends:\n"
                                   + self.console[-3000:].decode(errors="replace"))
            self.console += chunk

    def wait_for(self, marker, start, timeout_s):
        deadline = time.monotonic() + timeout_s
        while marker not in self.console[start:]:
            if time.monotonic() > deadline or self.qemu.poll() is not None:
                return False
            self.pump(0.05)
        return True

    def shell(self, command, timeout_s=30):
        """Runs COMMAND in the guest's shell; returns its output. The markers are computed by the
        guest ($((N+1))), so the console's echo of the command line never matches them."""
        self.sequence += 2
        n = self.sequence
        begin, end = f"@@B{n + 1}@@".encode(), f"@@E{n + 1}@@".encode()
        start = len(self.console)
        line = f"echo @@B$(({n}+1))@@; {command}; echo @@E$(({n}+1))@@\n"
        self.qemu.stdin.write(line.encode())
        self.qemu.stdin.flush()
        if not self.wait_for(end, start, timeout_s):
            raise RuntimeError(f"no answer to {command!r}")
        text = self.console[start:]
        return text[text.index(begin) + len(begin):text.index(end)].decode(errors="replace").replace("\r", "")


class Tool:
    def __init__(self, binary, guest, profile):
        self.base = [binary, "--qemu-gdb", guest.gdb, "--memory-file", guest.memory_file, "--profile", profile]

    def timed(self, *arguments):
        """Runs the tool to completion; returns (wall seconds, stdout)."""
        start = time.monotonic()
        done = subprocess.run(self.base + list(arguments), capture_output=True, text=True, timeout=120)
        took = time.monotonic() - start
        if done.returncode != 0:
            raise RuntimeError(f"{arguments}: exit {done.returncode}: {done.stderr}")
        return took, done.stdout

    def start(self, *arguments):
        return subprocess.Popen(self.base + list(arguments), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def median_ms(values):
    return statistics.median(values) * 1000


def process_count(tool):
    _, out = tool.timed("ps")
    return len(out.splitlines()) - 1


def grow_to(guest, tool, target):
    """Starts `sleep` processes in the guest until the process list (kernel threads included) holds TARGET."""
    missing = target - process_count(tool)
    if missing > 0:
        # A subshell, so that the interactive shell prints no job lines; 300 s covers 1,000 forks under TCG.
        guest.shell(f"(i=0; while [ $i -lt {missing} ]; do {SLEEP_FOREVER} & i=$((i+1)); done)", 300)
    return process_count(tool)


def time_ps(tool):
    return [tool.timed("ps")[0] for _ in range(REPEATS)]


def proc_state(guest, pid):
    return guest.shell(f"cut -d' ' -f3 /proc/{pid}/stat").strip()


class Session:
    """monarch-bench-introspect attached to the guest, one operation after a handshake, so that
    the clock starts at the request, after the session's start-up (bench_introspect.cpp)."""

    def __init__(self, program, guest, profile, *arguments):
        self.process = subprocess.Popen([program, guest.gdb, guest.memory_file, profile] + list(arguments),
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{arguments}: {self.process.communicate()[1]}")

    def go(self):
        self.process.stdin.write("go\n")
        self.process.stdin.flush()

    def result(self):
        out, err = self.process.communicate(timeout=120)
        if self.process.returncode != 0:
            raise RuntimeError(f"monarch-bench-introspect: exit {self.process.returncode}: {err}")
        return {name: float(value) for name, value in (line.split() for line in out.splitlines())}


def state_change(guest, request, pid, wanted):
    """Request to effect: REQUEST() starts the operation and returns its process and the time of
    the request; the guest's /proc/PID/stat is polled through its shell until the state is (or,
    with wanted=None, is no longer) T. Returns (seconds to the process's exit, seconds to the
    first poll showing it)."""
    process, start = request()
    exited = {}
    waiter = threading.Thread(target=lambda: exited.setdefault("t", (process.wait(), time.monotonic())))
    waiter.start()
    while (proc_state(guest, pid) == "T") != (wanted == "T"):
        if time.monotonic() - start > 60:
            raise RuntimeError(f"{request}: no effect on {pid} after 60 s")
    effect = time.monotonic() - start
    waiter.join(120)
    status, end = exited["t"]
    if status != 0:
        raise RuntimeError(f"{request}: exit {status}")
    return end - start, effect


def suspend_resume(guest, request, pid):
    """REPEATS suspend/resume pairs; returns the medians in ms, suspend then resume, each as
    (to exit, to effect)."""
    runs = {"suspend": [], "resume": []}
    for _ in range(REPEATS):
        for name, wanted in (("suspend", "T"), ("resume", None)):
            runs[name].append(state_change(guest, request(name), pid, wanted))
    return [(median_ms([r[0] for r in runs[n]]), median_ms([r[1] for r in runs[n]])) for n in ("suspend", "resume")]


def spinner_counts(guest):
    out = guest.shell("cat /run/spin/*")
    return sum(int(word) for word in out.split())


def spinner_rate(guest):
    """Spinner iterations per host second over WINDOW_S, both spinners together."""
    c0, t0 = spinner_counts(guest), time.monotonic()
    time.sleep(WINDOW_S)
    c1, t1 = spinner_counts(guest), time.monotonic()
    return (c1 - c0) / (t1 - t0)


def sampled_rate(guest, session):
    """The spinners' progress while SESSION samples (sample_cpu, what `top` runs); the window
    opens after the handshake and closes before the sampling ends."""
    session.go()
    progress = spinner_rate(guest)
    result = session.result()
    return progress, result["samples"] / result["seconds"], result["running_seconds"] / result["seconds"]


def sampling_rows(guest, start_session):
    """Rounds of no sampling, 100 Hz and 1 kHz, in rotating order; each sampled window is compared
    with the unsampled one of its own round (the host's load drifts), and the median of those
    paired ratios is reported."""
    runs = {0: [], 100: [], 1000: []}
    rates = [0, 100, 1000]
    for round_index in range(SAMPLING_ROUNDS):
        for rate in rates[round_index % 3:] + rates[:round_index % 3]:
            runs[rate].append((spinner_rate(guest), 0, 1) if rate == 0 else sampled_rate(guest, start_session(rate)))
    base = statistics.median(r[0] for r in runs[0])
    rows = [("spinner progress (2 spinners, one per vCPU), no sampling", f"{base / 1e6:.0f} M iterations/s", "1.00")]
    for rate in (100, 1000):
        ratios = [r[0] / n[0] for r, n in zip(runs[rate], runs[0])]
        achieved = statistics.median(r[1] for r in runs[rate])
        ran = statistics.median(r[2] for r in runs[rate])
        rows.append((f"spinner progress, sampling at {rate} Hz", f"{statistics.median(r[0] for r in runs[rate]) / 1e6:.0f} M iterations/s",
                     f"**{statistics.median(ratios):.2f}** (rounds: {', '.join(f'{x:.2f}' for x in ratios)}); "
                     f"achieved {achieved:.0f} Hz, sampler's guest-ran share {ran:.0%}"))
    return rows


def phases(program, guest, profile):
    """monarch-bench-introspect: in-process times of one session's phases (bench_introspect.cpp)."""
    done = subprocess.run([program, guest.gdb, guest.memory_file, profile, "phases", str(REPEATS)],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"monarch-bench-introspect: exit {done.returncode}: {done.stderr}")
    return {name: float(value) for name, value in (line.split() for line in done.stdout.splitlines())}


def main():
    binary, program, profile_tool, script, image = sys.argv[1:6]
    directory = tempfile.mkdtemp(prefix="monarch-bench-introspect-")
    profile = os.path.join(directory, "profile.isf.json")
    subprocess.run([profile_tool, image, "-o", profile], check=True, stderr=subprocess.DEVNULL)
    guest = Guest(script, directory)
    try:
        rows = measure(guest, Tool(binary, guest, profile), program, profile)
    finally:
        guest.close()
        shutil.rmtree(directory, ignore_errors=True)
    print("| measurement (guest under QEMU 7.2 TCG, 2 vCPUs) | figure | ratio / note |")
    print("| --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def listing_rows(small, large, ps_small, ps_large, fixed):
    rows = [
        ("session: read the ISF profile", f"{small['profile_ms']:.0f} ms", "monarch-bench-introspect, once"),
        ("session: attach (gdbstub, map the memory file)", f"{small['attach_ms']:.0f} ms", "once"),
        ("session: find the KASLR slide", f"{small['kaslr_ms']:.0f} ms", "once"),
    ]
    for p in (small, large):
        n, ms = int(p["processes_count"]), p["processes_ms"]
        rows.append((f"session: walk the task list, {n} processes", f"{ms:.2f} ms",
                     f"{ms * 1000 / n:.1f} µs per process; guest paused meanwhile"))
    for p in (small, large):
        n, ms = int(p["threads_count"]), p["threads_ms"]
        rows.append((f"session: walk every thread, {n} threads", f"{ms:.2f} ms", f"{ms * 1000 / n:.1f} µs per thread"))
    rows.append(("`monarch-introspect show 1` (start-up + one task)", f"{median_ms(fixed):.0f} ms",
                 "start-up of every command below"))
    for (n, times) in (ps_small, ps_large):
        rows.append((f"`monarch-introspect ps`, {n} processes", f"{median_ms(times):.0f} ms",
                     f"{median_ms(times) / median_ms(fixed):.2f}× `show 1`"))
    return rows


def measure(guest, tool, program, profile):
    fixed = [tool.timed("show", "1")[0] for _ in range(REPEATS)]
    spinner = int(guest.shell("ls /run/spin | head -n 1").strip())

    count = grow_to(guest, tool, 100)
    ps_small = (count, time_ps(tool))
    small = phases(program, guest, profile)

    rows = []
    for label, request in (
            ("`monarch-introspect {}` (start-up included)", lambda name: lambda: (time.monotonic(), tool.start(name, str(spinner)))[::-1]),
            ("session {} (attached)", lambda name: lambda: session_request(program, guest, profile, name, spinner))):
        for name, (to_exit, to_effect) in zip(("suspend", "resume"), suspend_resume(guest, request, spinner)):
            rows.append((label.format(name) + ": request → done", f"{to_exit:.0f} ms", "guest kernel ran send_sig_info"))
            rows.append((label.format(name) + ": request → /proc shows it", f"{to_effect:.0f} ms",
                         "state T" if name == "suspend" else "state no longer T"))
    poll = []
    for _ in range(REPEATS):
        t = time.monotonic()
        proc_state(guest, spinner)
        poll.append(time.monotonic() - t)
    rows.append(("one /proc poll through the serial console (resolution of the above)", f"{median_ms(poll):.0f} ms", ""))
    rows += sampling_rows(guest, lambda rate: Session(program, guest, profile, "sample", str(rate), str(SAMPLING_S)))

    count = grow_to(guest, tool, 1000)
    ps_large = (count, time_ps(tool))
    large = phases(program, guest, profile)
    return listing_rows(small, large, ps_small, ps_large, fixed) + rows


def session_request(program, guest, profile, name, pid):
    """Attaches a session (not timed), then tells it to go; returns its process and that moment."""
    session = Session(program, guest, profile, name, str(pid))
    start = time.monotonic()
    session.go()
    return session.process, start


if __name__ == "__main__":
    main()
