// SPDX-License-Identifier: GPL-2.0
/*
 * kdbus_splat: a test-only module that makes the kernel report a problem on
 * purpose, to prove that the VM runner's splat detector fails such a run.
 * It is never part of kdbus.ko and never loaded outside that self-test.
 *
 *   insmod kdbus_splat.ko trigger=warn    a WARN_ON(1)
 *   insmod kdbus_splat.ko trigger=kasan   a heap out-of-bounds read (KASAN)
 *   insmod kdbus_splat.ko trigger=leak    an unreferenced allocation (kmemleak)
 *   insmod kdbus_splat.ko trigger=none    nothing: the negative control
 *
 * Loading always fails with -EAGAIN afterwards so nothing stays behind.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

static char *trigger = "none";
module_param(trigger, charp, 0444);
MODULE_PARM_DESC(trigger, "none, warn, kasan or leak");

static void *kdbus_splat_leaked;

static noinline int kdbus_splat_oob(size_t len)
{
	volatile char *p = kmalloc(len, GFP_KERNEL);
	int v;

	if (!p)
		return -ENOMEM;
	v = p[len + 8];	/* beyond the object: KASAN reports it */
	kfree((void *)p);
	return v;
}

static int __init kdbus_splat_init(void)
{
	if (!strcmp(trigger, "warn")) {
		WARN_ON(1);
	} else if (!strcmp(trigger, "kasan")) {
		pr_info("kdbus_splat: oob read gave %d\n", kdbus_splat_oob(24));
	} else if (!strcmp(trigger, "leak")) {
		int i;

		/* Drop the only references: kmemleak must find them. */
		for (i = 0; i < 64; i++) {
			WRITE_ONCE(kdbus_splat_leaked, kzalloc(128, GFP_KERNEL));
			WRITE_ONCE(kdbus_splat_leaked, NULL);
		}
	} else if (strcmp(trigger, "none")) {
		return -EINVAL;
	}
	return -EAGAIN;
}
module_init(kdbus_splat_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("kdbus-rs test helper: provoke a kernel splat on purpose");
