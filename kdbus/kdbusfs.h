/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The interface between the C glue (kdbusfs.c, helpers.c) and the Rust side
 * of kdbus (kdbus/fs.rs implements the kdbus_* functions).
 */
#ifndef __KDBUS_KDBUSFS_H
#define __KDBUS_KDBUSFS_H

#include <linux/fs.h>
#include <linux/types.h>
#include <linux/uidgid.h>

#define KDBUS_SUPER_MAGIC 0x44427573 /* "DBus" */

/* A node of kdbusfs; opaque to C (a Rust Arc<Node>). */
struct kdbus_node;

struct kdbus_node_attr {
	const char *name;	/* valid while a reference to the node is held */
	size_t name_len;
	u32 id;			/* the inode number */
	umode_t mode;
	kuid_t uid;
	kgid_t gid;
};

/* Implemented in Rust (kdbus/fs.rs). */
int kdbus_domain_new(struct super_block *sb, struct user_namespace *user_ns,
		     struct kdbus_node **root);
void kdbus_domain_destroy(struct kdbus_node *root);
void kdbus_node_get(struct kdbus_node *node);
void kdbus_node_put(struct kdbus_node *node);
void kdbus_node_attr(struct kdbus_node *node, struct kdbus_node_attr *attr);
bool kdbus_node_is_active(struct kdbus_node *node);
struct kdbus_node *kdbus_node_lookup(struct kdbus_node *dir, const char *name,
				     size_t len);
struct kdbus_node *kdbus_node_next(struct kdbus_node *dir, loff_t after,
				   struct kdbus_node_attr *attr);
extern const struct file_operations kdbus_handle_fops;

/* Implemented in C (kdbusfs.c), called from Rust. */
int kdbusfs_init(void);
void kdbusfs_exit(void);

/* Implemented in C (helpers.c): inline kernel functions, for Rust. */
struct user_namespace *kdbus_get_user_ns(struct user_namespace *ns);
void kdbus_put_user_ns(struct user_namespace *ns);
const struct cred *kdbus_get_current_cred(void);
void kdbus_current_pids(struct pid **pid, struct pid **tgid, struct pid **ppid);
struct pid *kdbus_get_pid(struct pid *pid);
void kdbus_current_comm(char *tid_comm, char *pid_comm);
unsigned long kdbus_totalram_pages(void);
bool kdbus_access_ok(u64 addr, u64 size);
bool kdbus_file_is_unix_socket(struct file *file);
int kdbus_memfd_info(struct file *file, loff_t *size);
struct poll_wqueues;
int kdbus_poll_sleep(struct poll_wqueues *pwq, ktime_t expires);

#endif
