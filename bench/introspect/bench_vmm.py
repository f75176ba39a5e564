# SPDX-License-Identifier: Apache-2.0
# The introspection benchmark's monarch-vmm target: boots the test guest (scripts/make-linux-guest's
# kernel and initramfs) on monarch-vmm with --api-socket and times `monarch-introspect --api-socket`
# ps, suspend and resume from the host (wall clock, median of REPEATS). Needs /dev/kvm (the caller
# skips it without). Prints Markdown table rows.
# Usage: bench_vmm.py VMM TOOL GUEST_DIR
import os
import statistics
import subprocess
import sys
import tempfile
import time

REPEATS = 5


def timed(argv):
    start = time.monotonic()
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=180)
    elapsed = time.monotonic() - start
    if done.returncode != 0:
        raise RuntimeError(" ".join(argv) + " failed:\n" + done.stdout.decode(errors="replace"))
    return elapsed, done.stdout.decode(errors="replace")


def main():
    vmm, tool, guest_dir = sys.argv[1:4]
    with tempfile.TemporaryDirectory(prefix="monarch-bench-vmm-") as scratch:
        socket = os.path.join(scratch, "api.sock")
        console = os.path.join(scratch, "console")
        process = subprocess.Popen([vmm, "--kernel", os.path.join(guest_dir, "vmlinuz"),
                                    "--initrd", os.path.join(guest_dir, "initramfs.cpio.gz"), "--memory", "512M", "--cpus", "2",
                                    "--cmdline", "console=ttyS0 quiet panic=-1 monarch.spinners=2",
                                    "--serial", "file:" + console, "--api-socket", socket],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if os.path.exists(console) and b"MONARCH-GUEST-READY" in open(console, "rb").read():
                    break
                time.sleep(0.2)
            else:
                raise RuntimeError("the guest did not come up on monarch-vmm")
            base = [tool, "--api-socket", socket, "--timeout-ms", "60000"]
            _, listing = timed(base + ["--kernel-image", os.path.join(guest_dir, "vmlinuz"), "ps"])
            spinner = next(int(line.split()[0]) for line in listing.splitlines() if line.split()[-2:-1] == ["spinner"])
            ps = [timed(base + ["ps"])[0] for _ in range(REPEATS)]
            suspend, resume = [], []
            for _ in range(REPEATS):
                suspend.append(timed(base + ["suspend", str(spinner)])[0])
                resume.append(timed(base + ["resume", str(spinner)])[0])
            note = "monarch-vmm under KVM; the profile stays loaded in the VMM, start-up of the tool included"
            for name, values in (("`monarch-introspect --api-socket ps` (monarch-vmm, API)", ps),
                                 ("`monarch-introspect --api-socket suspend`: request → done (monarch-vmm, API)", suspend),
                                 ("`monarch-introspect --api-socket resume`: request → done (monarch-vmm, API)", resume)):
                print(f"| {name} | {statistics.median(values) * 1000:.1f} ms | {note} |")
        finally:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
