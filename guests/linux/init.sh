#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /init of the introspection test guest: mount the pseudo file systems, start the spinners
# (their number from the kernel command line: monarch.spinners=N), print a ready marker, and
# run a shell on the serial console that the tests drive.
/bin/busybox --install -s /bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run
# virtio (pci, blk, console, rng): modules in Debian's cloud kernel, loaded in dependency order.
[ -f /modules/order ] && while read -r module; do insmod "/modules/$module"; done < /modules/order
mkdir -p /run/spin
spinners=2
for word in $(cat /proc/cmdline); do
    case "$word" in monarch.spinners=*) spinners=${word#monarch.spinners=} ;; esac
done
i=0
while [ "$i" -lt "$spinners" ]; do
    /bin/spinner &
    i=$((i + 1))
done
sleep 3600 &
echo MONARCH-GUEST-READY
exec /bin/sh
