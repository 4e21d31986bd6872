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

/* Implemented in Rust (kdbus/fs.rs). */
int kdbus_domain_new(struct super_block *sb, struct user_namespace *user_ns,
		     struct kdbus_node **root);
void kdbus_domain_destroy(struct kdbus_node *root);
struct inode *kdbusfs_iget_root(struct super_block *sb, struct kdbus_node *root);
void kdbusfs_evict_inode(struct inode *inode);
int kdbusfs_d_revalidate(struct inode *dir, const struct qstr *name,
			 struct dentry *dentry, unsigned int flags);

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
long kdbus_current_exe(char *buf, int buflen, struct path *root);
bool kdbus_is_current_root(const struct path *root);
int kdbus_current_argv0(char **out);
int kdbus_current_cgroup(char *buf, size_t buflen);
bool kdbus_current_audit(u32 *sessionid, kuid_t *loginuid);
unsigned long kdbus_totalram_pages(void);
struct page *kdbus_zero_page(void);
bool kdbus_access_ok(u64 addr, u64 size);
bool kdbus_file_is_unix_socket(struct file *file);
bool kdbus_file_is_io_uring(struct file *file);
int kdbus_memfd_info(struct file *file, loff_t *size);
struct poll_wqueues;
int kdbus_poll_sleep(struct poll_wqueues *pwq, ktime_t expires);

#endif
