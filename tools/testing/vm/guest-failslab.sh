#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Runs inside the guest for `make check`: the messaging kselftests again,
# with failslab failing a share of the kernel allocations made *by kdbus*
# (the stack trace filter limits failures to calls with kdbus.ko's code on
# the stack, so tests get past their own forks and mounts). The tests'
# results mean nothing here (they see ENOMEM where they expect success);
# what counts is that the module survives: no WARN, oops, KASAN or lockdep
# report, no leak (the runner's kmemleak scan), and a clean unload.
# Usage: guest-failslab.sh PROBABILITY_PERCENT
set -u
p=${1:-2}
insmod /kdbus/kdbus.ko || { echo "not ok 1 insmod kdbus.ko"; exit 1; }
f=/sys/kernel/debug/failslab
# kdbus.ko's text: /proc/modules gives its base and size.
set -- $(grep '^kdbus ' /proc/modules)
base=$6 size=$2
[ -w $f/require-start ] || { echo "not ok 1 failslab stack trace filter missing"; exit 1; }
echo "$base" >$f/require-start
printf '0x%x\n' $((base + size)) >$f/require-end
echo 32 >$f/stacktrace-depth
echo N >$f/task-filter
echo 1 >$f/interval
echo -1 >$f/times
echo 0 >$f/space
echo 0 >$f/verbose
echo N >$f/ignore-gfp-wait
echo "$p" >$f/probability
for t in test-send test-recv test-fds test-memfd test-reply test-sync test-conn test-hello \
	 test-conn-info test-list test-endpoint test-bus-make; do
	[ -x /kdbus/tests/$t ] || continue
	# The stress tests are left out: they would only repeat the same
	# paths, slowly.
	/kdbus/tests/$t -T stress_every_call_has_one_outcome \
		-T stress_thousands_of_async_calls_and_callee_deaths \
		-T stress_calls_signals_and_callee_deaths >/tmp/out 2>&1
	echo "# failslab $p%: $t: $(grep -c '^ok' /tmp/out) ok, $(grep -c '^not ok' /tmp/out) not ok"
done
echo 0 >$f/probability
# A test whose teardown failed may leave its private kdbusfs mount behind.
for m in $(grep ' kdbusfs ' /proc/mounts | cut -d' ' -f2); do umount "$m"; done
if rmmod kdbus; then echo "ok 1 module survives failslab ($p%) and unloads"; else echo "not ok 1 rmmod kdbus after failslab"; fi
