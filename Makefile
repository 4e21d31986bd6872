# SPDX-License-Identifier: GPL-2.0
#
# kdbus-rs top-level Makefile.
#
#   make            build kdbus.ko against the cached `test` kernel
#   make demo       provision, build, boot the VM with kdbus loaded, run the demo
#   make check      every test: host (uapi layout, cargo test), then in the VM
#                   the module's KUnit suites and the kselftests; prints
#                   "N passed, N failed"
#   make vm         interactive shell in the guest with kdbus loaded
#   make check-matrix  `make check` on every supported kernel (7.3, 7.2)
#   make bench      benchmarks on the `bench` kernel
#   make clippy     build the module with CLIPPY=1
#   make kernel-patch  the patch series adding kdbus to a Linux tree
#                   (build/kernel-patch)
#   make check-intree  that series applied, kdbus built in, kselftests in
#                   the VM (`make check` runs it too)
#   make deb        Debian packages kdbus-dkms and kdbus-tests in build/deb/
#   make clean
#
# Toolchain, kernel source and kernel builds live in $(KDBUS_CACHE)
# (default ~/.cache/kdbus-rs); tools/testing/vm/setup provisions them.
#
# KDBUS_KERNEL=7.2 builds and tests against Debian's 7.2 kernel instead of
# the default 7.3: its kernels live in $(KDBUS_CACHE)/kernel-7.2-<flavour>,
# our outputs in build/7.2/ (Documentation/kdbus/kernels.rst).

KDBUS_CACHE ?= $(HOME)/.cache/kdbus-rs
export KDBUS_CACHE
KDBUS_KERNEL_VERSION ?= 7.3
KDBUS_KERNEL ?= $(KDBUS_KERNEL_VERSION)
export KDBUS_KERNEL
# The default kernel keeps the historic paths; the others get a suffix
# (tools/testing/kernel-env does the same for the scripts).
ifeq ($(KDBUS_KERNEL),7.3)
KTAG        :=
BUILD       := $(CURDIR)/build
else
KTAG        := -$(KDBUS_KERNEL)
BUILD       := $(CURDIR)/build/$(KDBUS_KERNEL)
endif
FLAVOUR     ?= test
KDIR        ?= $(KDBUS_CACHE)/kernel$(KTAG)-$(FLAVOUR)
SETUP       := tools/testing/vm/setup
export PATH := /usr/lib/llvm-19/bin:$(KDBUS_CACHE)/cargo/bin:$(PATH)

KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) MO=$(BUILD)/module-$(FLAVOUR) \
	LLVM=1 RUSTC=/usr/bin/rustc RUSTFMT=/usr/bin/rustfmt CLIPPY_DRIVER=/usr/bin/clippy-driver \
	BINDGEN=$(KDBUS_CACHE)/cargo/bin/bindgen HOSTRUSTC=/usr/bin/rustc

.PHONY: all module setup clippy demo check check-matrix check-intree kernel-patch vm bench clean rustfmt deb

all: module

setup:
	@$(SETUP) $(FLAVOUR) >/dev/null

module: setup
	@mkdir -p $(BUILD)/module-$(FLAVOUR)
	+$(KMAKE) modules

clippy: setup
	@mkdir -p $(BUILD)/module-$(FLAVOUR)
	+$(KMAKE) CLIPPY=1 modules

rustfmt:
	/usr/bin/rustfmt --edition 2021 --check kdbus/*.rs

demo:
	@tools/testing/demo

check:
	@tools/testing/check

check-intree:
	@tools/testing/check-intree

# Against the cached 7.3 source, or any Linux tree given as KSRC=.
kernel-patch:
	@tools/kernel-patch/generate -o $(BUILD)/kernel-patch $(KSRC)

deb:
	@tools/packaging/deb

check-matrix:
	@tools/testing/check-matrix

vm: module
	@tools/testing/vm/run -i -f $(BUILD)/module-$(FLAVOUR)/kdbus.ko \
		-f tools/testing/vm/guest-vm-profile:/etc/profile

bench:
	@tools/testing/bench/run

clean:
	rm -rf $(BUILD) target
