#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the guest for `make check`: load kdbus (its KUnit suites run at
# load), print their TAP, run every kselftest, unload. Sections start with
# "### <kind> <name>" so the host can count results per kind.
#
# With --builtin (`make check-intree`), kdbus is built into the kernel: its
# KUnit suites ran at boot, nothing is loaded or unloaded, and the
# kselftests run through the kernel's own runner from the kselftest-install
# tree at /kdbus/kselftest, whose output is split into the same sections
# (the runner's verdict per binary counts as a "runner" step).
set -u
builtin=0
[ "${1:-}" = --builtin ] && builtin=1
if [ $builtin = 1 ]; then
	# The kselftest runner needs applets the VM runner does not link, and
	# writes each test's output to /dev/stdout, which devtmpfs lacks (it
	# would become a plain file there and the output would be lost).
	/bin/busybox --install -s /bin 2>/dev/null
	for n in 0:stdin 1:stdout 2:stderr; do
		[ -e "/dev/${n#*:}" ] || ln -s "/proc/self/fd/${n%%:*}" "/dev/${n#*:}"
	done
	echo "### step builtin"
	if [ -d /sys/fs/kdbus ] && grep -qw kdbusfs /proc/filesystems &&
	   [ -d /sys/module/kdbus ] && [ ! -e /sys/module/kdbus/initstate ]; then
		echo "ok 1 kdbus is built into the kernel"
	else
		echo "not ok 1 kdbus is built into the kernel"
		exit 1
	fi
else
	echo "### step insmod"
	if insmod /kdbus/kdbus.ko; then echo "ok 1 insmod kdbus.ko"; else echo "not ok 1 insmod kdbus.ko"; exit 1; fi
fi
found=0
for r in /sys/kernel/debug/kunit/kdbus*/results; do
	[ -f "$r" ] || continue
	found=1
	echo "### kunit $(basename "$(dirname "$r")")"
	cat "$r"
done
[ $found = 1 ] || { echo "### step kunit"; echo "not ok 1 no kdbus KUnit suite ran"; }
if [ $builtin = 1 ]; then
	cd /kdbus/kselftest || exit 1
	./run_kselftest.sh -c kdbus | awk '
		/^# selftests: kdbus: / { print "### kselftest " $4; next }
		/^(not )?ok [0-9]+ selftests: kdbus: / { print "### runner kdbus"; print; next }
		/^# / { print substr($0, 3); next }
		{ print }'
	exit 0
fi
for t in /kdbus/tests/test-*; do
	echo "### kselftest $(basename "$t")"
	"$t"
done
echo "### step rmmod"
if rmmod kdbus; then echo "ok 1 rmmod kdbus"; else echo "not ok 1 rmmod kdbus"; fi
[ -d /sys/fs/kdbus ] && echo "not ok 2 /sys/fs/kdbus removed at unload" || echo "ok 2 /sys/fs/kdbus removed at unload"
exit 0
