/* SPDX-License-Identifier: GPL-2.0 */
/* The interface between kdbusfs.c and the Rust side of kdbus. */
#ifndef __KDBUS_KDBUSFS_H
#define __KDBUS_KDBUSFS_H

#define KDBUS_SUPER_MAGIC 0x44427573 /* "DBus" */

int kdbusfs_init(void);
void kdbusfs_exit(void);

#endif
