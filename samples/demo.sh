#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The kdbus-rs demo, run inside the guest by `make demo`. It grows with
# every feature.
set -e
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; sh -c "$*"; }

step 'insmod /kdbus/kdbus.ko'
step 'dmesg | grep -i kdbus | tail -n 5'
step 'ls -ld /sys/fs/kdbus'
step 'grep kdbus /proc/filesystems'
step 'cat /sys/module/kdbus/parameters/attach_flags_mask; ls -l /sys/module/kdbus/parameters/'
step 'mount -t kdbusfs kdbusfs /sys/fs/kdbus'
step 'grep kdbusfs /proc/mounts; stat -f -c "type=%T magic=0x%t bsize=%s" /sys/fs/kdbus; ls -la /sys/fs/kdbus'
step '/kdbus/kdbus-demo'
step 'ls -la /sys/fs/kdbus'
step 'umount /sys/fs/kdbus'
step 'rmmod kdbus'
step 'ls -d /sys/fs/kdbus 2>&1 || echo "/sys/fs/kdbus is gone with the module"'
echo
echo "demo: done"
