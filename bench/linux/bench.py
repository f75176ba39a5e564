#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# The measuring half of bench/linux (run that script, not this one): boots the same Debian image
# on each VMM in turn, drives its serial console, and prints one Markdown table.
import argparse
import os
import re
import select
import statistics
import subprocess
import sys
import time

HOST_IP = "192.168.250.1"
GUEST_IP = "192.168.250.2"
TAP = "benchtap0"
PROMPT = b"root@monarch-guest:~#"
CMDLINE = "root=LABEL=debian-root console=ttyS0 quiet"
TICK = os.sysconf("SC_CLK_TCK")


def sh(command, check=True):
    return subprocess.run(["sh", "-c", command], check=check, capture_output=True, text=True).stdout


class Vm:
    """One VMM process with the guest's serial console on our pipes."""

    def __init__(self, name, argv, log_path):
        self.name = name
        self.log = open(log_path, "wb")
        self.start = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.console = b""
        self.first_byte = None
        self.sequence = 0

    def pump(self, wait):
        ready, _, _ = select.select([self.proc.stdout], [], [], wait)
        if ready:
            data = self.proc.stdout.read() or b""
            if data and self.first_byte is None:
                self.first_byte = time.monotonic() - self.start
            self.console += data
            self.log.write(data)

    def expect(self, marker, timeout, since=0):
        deadline = time.monotonic() + timeout
        while marker not in self.console[since:]:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                return None
            self.pump(0.05)
        return time.monotonic() - self.start

    def shell(self, command, timeout=120):
        self.sequence += 2
        n = self.sequence
        since = len(self.console)
        self.proc.stdin.write(f"echo @@B$(({n}+1))@@; {command}; echo @@E$(({n}+1))@@\n".encode())
        self.proc.stdin.flush()
        if self.expect(f"@@E{n + 1}@@".encode(), timeout, since) is None:
            raise RuntimeError(f"{self.name}: no answer to `{command}` within {timeout} s")
        text = self.console[since:].decode(errors="replace")
        return text[text.index(f"@@B{n + 1}@@") + len(f"@@B{n + 1}@@"):text.index(f"@@E{n + 1}@@")].replace("\r", "").strip()

    def memory_kib(self):
        """Resident memory apart from guest RAM (which is shared memory, memfd, on both VMMs)."""
        fields = {}
        with open(f"/proc/{self.proc.pid}/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                fields[key] = value.split()[0] if value.split() else "0"
        return int(fields.get("RssAnon", 0)) + int(fields.get("RssFile", 0))

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as stat:
            parts = stat.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / TICK  # utime, stime of every thread

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"poweroff\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=90)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def configs(args, root_disk, data_disk):
    image = args.image
    common_qemu = ["qemu-system-x86_64", "-enable-kvm", "-cpu", "host", "-smp", "2", "-m", "1G",
                   "-object", "memory-backend-memfd,id=ram,size=1G", "-nodefaults", "-no-user-config",
                   "-nographic", "-serial", "stdio", "-kernel", f"{image}/vmlinuz", "-initrd", f"{image}/initrd.img",
                   "-append", CMDLINE,
                   "-drive", f"file={root_disk},if=none,id=root,format=raw",
                   "-drive", f"file={data_disk},if=none,id=data,format=raw"]
    tap = f"tap,id=net0,ifname={TAP},script=no,downscript=no"
    q35 = common_qemu + ["-M", "q35,memory-backend=ram", "-device", "virtio-blk-pci,drive=root",
                         "-device", "virtio-blk-pci,drive=data,serial=benchdata", "-device", "virtio-rng-pci"]
    microvm = common_qemu + ["-M", "microvm,memory-backend=ram", "-device", "virtio-blk-device,drive=root",
                             "-device", "virtio-blk-device,drive=data,serial=benchdata", "-device", "virtio-rng-device"]
    return [
        ("monarch-vmm (virtio-pci)", [args.vmm, "--kernel", f"{image}/vmlinuz", "--initrd", f"{image}/initrd.img",
                                      "--cmdline", CMDLINE, "--cpus", "2", "--memory", "1G", "--serial", "stdio",
                                      "--disk", f"path={root_disk}", "--disk", f"path={data_disk},id=benchdata",
                                      "--net", f"tap={TAP}", "--rng"]),
        ("QEMU q35 (virtio-pci)", q35 + ["-netdev", tap + ",vhost=off", "-device", "virtio-net-pci,netdev=net0"]),
        ("QEMU microvm (virtio-mmio)", microvm + ["-netdev", tap + ",vhost=off", "-device", "virtio-net-device,netdev=net0"]),
    ] + ([("QEMU q35 (virtio-pci, vhost-net)", q35 + ["-netdev", tap + ",vhost=on", "-device", "virtio-net-pci,netdev=net0"])]
         if args.vhost else [])


def fio(vm, rw, block, seconds):
    # terse v3: field 7 is the read bandwidth in KiB/s, field 8 the read IOPS.
    line = vm.shell(f"fio --name=b --filename=/dev/disk/by-id/virtio-benchdata --direct=1 --ioengine=libaio "
                    f"--iodepth=32 --rw={rw} --bs={block} --runtime={seconds} --time_based "
                    f"--output-format=terse --terse-version=3 | cut -d';' -f7,8", timeout=seconds + 120)
    kib_per_s, iops = line.splitlines()[-1].split(";")
    return float(kib_per_s), float(iops)


def measure(name, argv, args, scratch):
    sh(f"ip tuntap add {TAP} mode tap && ip addr add {HOST_IP}/24 dev {TAP} && ip link set {TAP} up")
    vm = Vm(name, argv, f"{scratch}/{re.sub('[^a-z0-9]+', '-', name.lower())}.log")
    result = {}
    try:
        login = vm.expect(PROMPT, 300)
        if login is None:
            raise RuntimeError(f"{name}: no login within 300 s (log in {vm.log.name})")
        result["first_line_s"] = vm.first_byte
        result["login_s"] = login
        vm.shell("stty -echo")
        result["memory_kib"] = vm.memory_kib()
        cpu_before = vm.cpu_seconds()
        _, iops = fio(vm, "randread", "4k", args.seconds)
        cpu = vm.cpu_seconds() - cpu_before
        result["iops"] = iops
        result["cpu_us_per_io"] = cpu * 1e6 / max(iops * args.seconds, 1)
        kib_per_s, _ = fio(vm, "read", "1M", args.seconds)
        result["seq_mb_s"] = kib_per_s * 1024 / 1e6
        vm.shell(f"dev=$(ls /sys/class/net | grep -v '^lo$' | head -n 1); ip addr add {GUEST_IP}/24 dev $dev; "
                 f"ip link set $dev up; ping -c 2 -W 5 {HOST_IP} >/dev/null")
        server = subprocess.Popen(["iperf3", "-s", "-1", "-B", HOST_IP, "-J", "--logfile", f"{scratch}/iperf.json"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        vm.shell(f"iperf3 -c {HOST_IP} -t {args.seconds} >/dev/null", timeout=args.seconds + 60)
        server.wait(timeout=30)
        text = open(f"{scratch}/iperf.json").read()
        os.unlink(f"{scratch}/iperf.json")
        bits = re.findall(r'"sum_received":\s*\{[^}]*"bits_per_second":\s*([0-9.e+]+)', text)
        result["net_gbit_s"] = float(bits[-1]) / 1e9 if bits else float("nan")
    finally:
        vm.stop()
        sh(f"ip link del {TAP}", check=False)
    return result


def main():
    parser = argparse.ArgumentParser()
    for option in ("--vmm", "--image", "--where", "--out"):
        parser.add_argument(option, required=True)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--vhost", action="store_true")
    args = parser.parse_args()

    scratch = subprocess.run(["mktemp", "-d", "/tmp/bench-linux-XXXXXX"], capture_output=True, text=True, check=True).stdout.strip()
    root_disk = f"{scratch}/root.raw"
    data_disk = f"{scratch}/data.raw"
    sh("ip link set lo up; modprobe tun 2>/dev/null; modprobe vhost_net 2>/dev/null; true")
    # The data disk holds real bytes (a hole reads as zeros without touching the host's page cache).
    sh(f"head -c 256M /dev/urandom > {data_disk}")
    results = {}
    failed = False
    for name, _ in configs(args, root_disk, data_disk):
        results[name] = []
    for run in range(args.runs):
        for name, argv in configs(args, root_disk, data_disk):
            sh(f"cp --sparse=always {args.image}/debian.raw {root_disk}")
            print(f"bench/linux: run {run + 1}/{args.runs}: {name}", file=sys.stderr, flush=True)
            try:
                results[name].append(measure(name, argv, args, scratch))
            except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as error:
                print(f"bench/linux: {error}", file=sys.stderr)
                failed = name.startswith("monarch") or failed
            # The table so far, after each VMM: a run cut short keeps what it measured.
            write_table(args, results, final=False)
    write_table(args, results, final=True)
    print(f"bench/linux: logs in {scratch}", file=sys.stderr)
    return 1 if failed else 0


def write_table(args, results, final):
    base = "monarch-vmm (virtio-pci)"
    rows = [("first serial byte (s)", "first_line_s", False), ("login shell (s)", "login_s", False),
            ("VMM memory apart from guest RAM (MiB)", "memory_kib", False),
            ("fio 4 KiB random read (IOPS)", "iops", True), ("fio 1 MiB sequential read (MB/s)", "seq_mb_s", True),
            ("host CPU per 4 KiB read (µs)", "cpu_us_per_io", False), ("iperf3 guest to host (Gbit/s)", "net_gbit_s", True)]

    def value(name, key):
        values = [r[key] for r in results[name] if key in r]
        if not values:
            return None
        median = statistics.median(values)
        return median / 1024 if key == "memory_kib" else median

    names = list(results)
    lines = [f"# bench/linux, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
             f"{args.runs} boot(s) per VMM (medians)", "",
             f"Guest: the Debian bookworm image of scripts/make-debian-image (systemd, cloud kernel "
             f"{open(args.image + '/version').read().strip()}, its initrd), 2 vCPUs, 1 GiB, `{CMDLINE}`; a 256 MiB "
             f"data disk (virtio-blk, fio with libaio, iodepth 32, O_DIRECT, {args.seconds} s each) and a tap "
             f"(iperf3 {args.seconds} s). Images on tmpfs, page cache on (QEMU's default cache=writeback, "
             f"aio=threads; monarch-vmm's io_uring). Guest RAM is memfd on both (QEMU: memory-backend-memfd), so "
             f"'VMM memory' is RssAnon + RssFile. {sh('qemu-system-x86_64 --version').splitlines()[0]}.", "",
             f"All figures {args.where}.", "",
             "| measure | " + " | ".join(names) + " | monarch-vmm vs QEMU q35 | target |",
             "| --- |" + " --- |" * (len(names) + 2)]
    targets = {"login_s": ("<= 0.7x", lambda r: r <= 0.7), "memory_kib": ("<= 0.3x", lambda r: r <= 0.3),
               "iops": (">= 1.2x", lambda r: r >= 1.2), "seq_mb_s": (">= 1.2x", lambda r: r >= 1.2),
               "net_gbit_s": (">= 1.2x", lambda r: r >= 1.2)}
    for label, key, _ in rows:
        cells = []
        for name in names:
            v = value(name, key)
            cells.append("did not run" if v is None else f"{v:.2f}")
        ours, theirs = value(base, key), value("QEMU q35 (virtio-pci)", key)
        ratio = f"{ours / theirs:.2f}x" if ours is not None and theirs else "-"
        target = targets.get(key)
        verdict = "-"
        if target and ratio != "-":
            verdict = f"{target[0]}: {'met' if target[1](ours / theirs) else 'not met'}"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio} | {verdict} |")
    table = "\n".join(lines) + "\n"
    if final:
        print(table)
    with open(args.out, "w") as out:
        out.write(table)


if __name__ == "__main__":
    sys.exit(main())
