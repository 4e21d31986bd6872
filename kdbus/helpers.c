// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers for kdbus: kernel functions that exist only as inline functions
 * or macros, which Rust cannot call (an out-of-tree module cannot add to the
 * kernel's rust/helpers). Each is a thin wrapper, nothing more; the last one
 * is a copy of a static function of fs/select.c.
 */

#include <linux/audit.h>
#include <linux/cgroup.h>
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/file.h>
#include <linux/fs_struct.h>
#include <linux/kernfs.h>
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
#include <linux/string.h>
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

/*
 * EXE metadata: the path of the caller's executable as its root shows it,
 * rendered at the end of @buf (d_path()), and a counted reference to that
 * root in @root. Returns the offset of the path in @buf, -ENOENT for a
 * task without an executable mapping, or another -errno.
 */
long kdbus_current_exe(char *buf, int buflen, struct path *root)
{
	struct mm_struct *mm = current->mm;
	struct file *exe;
	char *p;

	if (!mm || !current->fs)
		return -ENOENT;
	rcu_read_lock();
	exe = get_file_rcu(&mm->exe_file);
	rcu_read_unlock();
	if (!exe)
		return -ENOENT;
	get_fs_root(current->fs, root);
	p = d_path(&exe->f_path, buf, buflen);
	fput(exe);
	if (IS_ERR(p)) {
		path_put(root);
		return PTR_ERR(p);
	}
	return p - buf;
}

/* Whether @root is the caller's filesystem root. */
bool kdbus_is_current_root(const struct path *root)
{
	struct fs_struct *fs = current->fs;
	bool eq;

	if (!fs)
		return false;
	read_seqlock_excl(&fs->seq);
	eq = path_equal(&fs->root, root);
	read_sequnlock_excl(&fs->seq);
	return eq;
}

/*
 * CMDLINE metadata: a copy (kmalloc) of the caller's argument area up to
 * its first NUL, in *@out; NULL for a task without one. -EINVAL if the
 * area holds no NUL, -EFAULT if it cannot be read (strndup_user()).
 */
int kdbus_current_argv0(char **out)
{
	struct mm_struct *mm = current->mm;
	unsigned long start, end;
	char *s;

	*out = NULL;
	if (!mm)
		return 0;
	spin_lock(&mm->arg_lock);
	start = mm->arg_start;
	end = mm->arg_end;
	spin_unlock(&mm->arg_lock);
	if (end <= start)
		return -EINVAL;
	s = strndup_user((const char __user *)start, end - start);
	if (IS_ERR(s))
		return PTR_ERR(s);
	*out = s;
	return 0;
}

/*
 * CGROUP metadata: the caller's path in the default hierarchy, from its
 * root (not translated into a cgroup namespace), into @buf. Returns the
 * length, -ENOENT without cgroups, or -E2BIG.
 */
int kdbus_current_cgroup(char *buf, size_t buflen)
{
#ifdef CONFIG_CGROUPS
	int ret;

	rcu_read_lock();
	ret = kernfs_path_from_node(task_dfl_cgroup(current)->kn, NULL, buf, buflen);
	rcu_read_unlock();
	return ret;
#else
	return -ENOENT;
#endif
}

/* AUDIT metadata of the caller; false without syscall auditing. */
bool kdbus_current_audit(u32 *sessionid, kuid_t *loginuid)
{
#ifdef CONFIG_AUDITSYSCALL
	*sessionid = audit_get_sessionid(current);
	*loginuid = audit_get_loginuid(current);
	return true;
#else
	return false;
#endif
}
