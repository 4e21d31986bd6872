#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the guest for `make check`: load kdbus (its KUnit suites run at
# load), print their TAP, run every kselftest, unload. Sections start with
# "### <kind> <name>" so the host can count results per kind.
set -u
echo "### step insmod"
if insmod /kdbus/kdbus.ko; then echo "ok 1 insmod kdbus.ko"; else echo "not ok 1 insmod kdbus.ko"; exit 1; fi
found=0
for r in /sys/kernel/debug/kunit/kdbus*/results; do
	[ -f "$r" ] || continue
	found=1
	echo "### kunit $(basename "$(dirname "$r")")"
	cat "$r"
done
[ $found = 1 ] || { echo "### step kunit"; echo "not ok 1 no kdbus KUnit suite ran"; }
for t in /kdbus/tests/test-*; do
	echo "### kselftest $(basename "$t")"
	"$t"
done
echo "### step rmmod"
if rmmod kdbus; then echo "ok 1 rmmod kdbus"; else echo "not ok 1 rmmod kdbus"; fi
[ -d /sys/fs/kdbus ] && echo "not ok 2 /sys/fs/kdbus removed at unload" || echo "ok 2 /sys/fs/kdbus removed at unload"
exit 0
