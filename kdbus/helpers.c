// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers for kdbus: kernel functions that exist only as inline functions
 * or macros, which Rust cannot call (an out-of-tree module cannot add to the
 * kernel's rust/helpers). Each is a thin wrapper, nothing more; the last one
 * is a copy of a static function of fs/select.c.
 */

#include <linux/cred.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/namei.h>
#include <linux/net.h>
#include <net/sock.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/shmem_fs.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>

#include "kdbusfs.h"

struct user_namespace *kdbus_get_user_ns(struct user_namespace *ns)
{
	return get_user_ns(ns);
}

void kdbus_put_user_ns(struct user_namespace *ns)
{
	put_user_ns(ns);
}

const struct cred *kdbus_get_current_cred(void)
{
	return get_current_cred();
}

/* Counted references to the caller's thread, thread group and parent pids. */
void kdbus_current_pids(struct pid **pid, struct pid **tgid, struct pid **ppid)
{
	*pid = get_pid(task_pid(current));
	*tgid = get_pid(task_tgid(current));
	rcu_read_lock();
	*ppid = get_pid(task_tgid(rcu_dereference(current->real_parent)));
	rcu_read_unlock();
}

struct pid *kdbus_get_pid(struct pid *pid)
{
	return get_pid(pid);
}

/* The thread's and the thread group leader's comm (16 bytes each). */
void kdbus_current_comm(char *tid_comm, char *pid_comm)
{
	strscpy_pad(tid_comm, current->comm, TASK_COMM_LEN);
	strscpy_pad(pid_comm, current->group_leader->comm, TASK_COMM_LEN);
}

unsigned long kdbus_totalram_pages(void)
{
	return totalram_pages();
}

/* kext.rs mirrors LOOKUP_RCU, which bindgen cannot translate. */
static_assert(LOOKUP_RCU == (1 << 8));

struct page *kdbus_zero_page(void)
{
	return ZERO_PAGE(0);
}

bool kdbus_access_ok(u64 addr, u64 size)
{
	return access_ok(u64_to_user_ptr(addr), size);
}

bool kdbus_file_is_unix_socket(struct file *file)
{
	struct socket *sock = sock_from_file(file);

	return sock && sock->sk && sock->sk->sk_family == AF_UNIX;
}

/*
 * Whether @file is an io_uring instance (not an O_PATH reference to one).
 * io_is_uring_fops() is not exported to modules; io_uring makes its files
 * with anon_inode_create_getfile("[io_uring]", ...), and only kernel code
 * can name a file on the anon inode mount.
 */
bool kdbus_file_is_io_uring(struct file *file)
{
	const struct dentry *dentry = file->f_path.dentry;

	if (file->f_mode & FMODE_PATH)
		return false;
	if (file->f_path.mnt->mnt_sb->s_magic != ANON_INODE_FS_MAGIC)
		return false;
	return strcmp(dentry->d_name.name, "[io_uring]") == 0;
}

/*
 * For PAYLOAD_MEMFD: the seals of a shmem file and its size, or
 * -EMEDIUMTYPE if @file is not a shmem (memfd) file.
 */
int kdbus_memfd_info(struct file *file, loff_t *size)
{
	if (!shmem_mapping(file->f_mapping))
		return -EMEDIUMTYPE;
	*size = i_size_read(file_inode(file));
	return READ_ONCE(SHMEM_I(file_inode(file))->seals);
}

/*
 * poll_schedule_timeout() of fs/select.c, which is static: sleeps until a
 * wait queue registered in @pwq fires, a signal arrives or the absolute
 * CLOCK_MONOTONIC time @expires passes. Returns 0 on timeout.
 */
int kdbus_poll_sleep(struct poll_wqueues *pwq, ktime_t expires)
{
	int rc = -EINTR;

	set_current_state(TASK_INTERRUPTIBLE);
	if (!pwq->triggered)
		rc = schedule_hrtimeout_range(&expires, 0, HRTIMER_MODE_ABS);
	__set_current_state(TASK_RUNNING);
	smp_store_mb(pwq->triggered, 0);
	return rc;
}
