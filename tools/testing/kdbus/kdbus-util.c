// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kdbus-util.h"

/* ------------------------------------------------------------------ builder */

void kdbus_b_init(struct kdbus_builder *b, size_t fixed)
{
	b->err = 0;
	b->len = KDBUS_ALIGN8(fixed);
	if (b->len > sizeof(b->buf)) {
		b->len = 0;
		b->err = -ENOSPC;
	}
	memset(b->buf, 0, b->len);
}

int kdbus_b_raw(struct kdbus_builder *b, uint64_t type, const void *data,
		size_t len, uint64_t size_field)
{
	size_t need = KDBUS_ITEM_SIZE(len);
	uint8_t *p;

	if (b->len + need > sizeof(b->buf)) {
		b->err = -ENOSPC;
		return -ENOSPC;
	}
	p = (uint8_t *)b->buf + b->len;
	memset(p, 0, need);
	memcpy(p, &size_field, 8);
	memcpy(p + 8, &type, 8);
	if (len)
		memcpy(p + KDBUS_ITEM_HEADER_SIZE, data, len);
	b->len += need;
	return 0;
}

int kdbus_b_item(struct kdbus_builder *b, uint64_t type, const void *data, size_t len)
{
	return kdbus_b_raw(b, type, data, len, KDBUS_ITEM_HEADER_SIZE + len);
}

int kdbus_b_str(struct kdbus_builder *b, uint64_t type, const char *s)
{
	return kdbus_b_item(b, type, s, strlen(s) + 1);
}

int kdbus_b_u64(struct kdbus_builder *b, uint64_t type, uint64_t v)
{
	return kdbus_b_item(b, type, &v, sizeof(v));
}

int kdbus_b_bloom(struct kdbus_builder *b, uint64_t size, uint64_t n_hash)
{
	struct kdbus_bloom_parameter bp = { .size = size, .n_hash = n_hash };

	return kdbus_b_item(b, KDBUS_ITEM_BLOOM_PARAMETER, &bp, sizeof(bp));
}

int kdbus_b_policy(struct kdbus_builder *b, uint64_t type, uint64_t access, uint64_t id)
{
	struct kdbus_policy_access pa = { .type = type, .access = access, .id = id };

	return kdbus_b_item(b, KDBUS_ITEM_POLICY_ACCESS, &pa, sizeof(pa));
}

int kdbus_b_negotiate(struct kdbus_builder *b, const uint64_t *types, size_t n)
{
	return kdbus_b_item(b, KDBUS_ITEM_NEGOTIATE, types, n * sizeof(*types));
}

void *kdbus_b_cmd(struct kdbus_builder *b)
{
	b->buf[0] = b->len;
	return b->buf;
}

int kdbus_ioctl(int fd, unsigned long request, void *arg)
{
	return ioctl(fd, request, arg) < 0 ? -errno : 0;
}

/* ---------------------------------------------------------- simple commands */

const unsigned long kdbus_conn_cmds[12] = {
	KDBUS_CMD_UPDATE, KDBUS_CMD_BYEBYE, KDBUS_CMD_FREE, KDBUS_CMD_CONN_INFO,
	KDBUS_CMD_BUS_CREATOR_INFO, KDBUS_CMD_LIST, KDBUS_CMD_SEND, KDBUS_CMD_RECV,
	KDBUS_CMD_NAME_ACQUIRE, KDBUS_CMD_NAME_RELEASE, KDBUS_CMD_MATCH_ADD,
	KDBUS_CMD_MATCH_REMOVE,
};

const char *kdbus_cmd_name(unsigned long request)
{
	switch (request) {
	case KDBUS_CMD_BUS_MAKE: return "BUS_MAKE";
	case KDBUS_CMD_ENDPOINT_MAKE: return "ENDPOINT_MAKE";
	case KDBUS_CMD_ENDPOINT_UPDATE: return "ENDPOINT_UPDATE";
	case KDBUS_CMD_HELLO: return "HELLO";
	case KDBUS_CMD_UPDATE: return "UPDATE";
	case KDBUS_CMD_BYEBYE: return "BYEBYE";
	case KDBUS_CMD_FREE: return "FREE";
	case KDBUS_CMD_CONN_INFO: return "CONN_INFO";
	case KDBUS_CMD_BUS_CREATOR_INFO: return "BUS_CREATOR_INFO";
	case KDBUS_CMD_LIST: return "LIST";
	case KDBUS_CMD_SEND: return "SEND";
	case KDBUS_CMD_RECV: return "RECV";
	case KDBUS_CMD_NAME_ACQUIRE: return "NAME_ACQUIRE";
	case KDBUS_CMD_NAME_RELEASE: return "NAME_RELEASE";
	case KDBUS_CMD_MATCH_ADD: return "MATCH_ADD";
	case KDBUS_CMD_MATCH_REMOVE: return "MATCH_REMOVE";
	default: return "?";
	}
}

int kdbus_cmd_simple(int fd, unsigned long request)
{
	struct kdbus_builder b;
	struct kdbus_msg msg;

	switch (request) {
	case KDBUS_CMD_UPDATE:
	case KDBUS_CMD_BYEBYE:
	case KDBUS_CMD_ENDPOINT_UPDATE:
		kdbus_b_init(&b, sizeof(struct kdbus_cmd));
		return kdbus_ioctl(fd, request, kdbus_b_cmd(&b));
	case KDBUS_CMD_FREE: {
		struct kdbus_cmd_free *cmd;

		kdbus_b_init(&b, sizeof(*cmd));
		cmd = kdbus_b_cmd(&b);
		cmd->offset = 0;
		return kdbus_ioctl(fd, request, cmd);
	}
	case KDBUS_CMD_CONN_INFO:
	case KDBUS_CMD_BUS_CREATOR_INFO: {
		struct kdbus_cmd_info *cmd;

		kdbus_b_init(&b, sizeof(*cmd));
		cmd = kdbus_b_cmd(&b);
		cmd->id = 1;
		return kdbus_ioctl(fd, request, cmd);
	}
	case KDBUS_CMD_LIST: {
		struct kdbus_cmd_list *cmd;

		kdbus_b_init(&b, sizeof(*cmd));
		cmd = kdbus_b_cmd(&b);
		cmd->flags = KDBUS_LIST_UNIQUE;
		return kdbus_ioctl(fd, request, cmd);
	}
	case KDBUS_CMD_SEND: {
		struct kdbus_cmd_send *cmd;

		memset(&msg, 0, sizeof(msg));
		msg.size = sizeof(msg);
		msg.dst_id = 1;
		msg.payload_type = KDBUS_PAYLOAD_DBUS;
		msg.cookie = 1;
		kdbus_b_init(&b, sizeof(*cmd));
		cmd = kdbus_b_cmd(&b);
		cmd->msg_address = (uintptr_t)&msg;
		return kdbus_ioctl(fd, request, cmd);
	}
	case KDBUS_CMD_RECV:
		kdbus_b_init(&b, sizeof(struct kdbus_cmd_recv));
		return kdbus_ioctl(fd, request, kdbus_b_cmd(&b));
	case KDBUS_CMD_NAME_ACQUIRE:
	case KDBUS_CMD_NAME_RELEASE:
		kdbus_b_init(&b, sizeof(struct kdbus_cmd));
		kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.test");
		return kdbus_ioctl(fd, request, kdbus_b_cmd(&b));
	case KDBUS_CMD_MATCH_ADD:
	case KDBUS_CMD_MATCH_REMOVE: {
		struct kdbus_cmd_match *cmd;

		kdbus_b_init(&b, sizeof(*cmd));
		cmd = kdbus_b_cmd(&b);
		cmd->cookie = 1;
		return kdbus_ioctl(fd, request, cmd);
	}
	default:
		return -EINVAL;
	}
}

/* -------------------------------------------------------- names and domains */

static uint64_t *name_counter;

/* Shared by every process forked from the test binary, so names stay
 * unique across the harness's per-test processes and their children. */
static void __attribute__((constructor)) kdbus_util_init(void)
{
	void *p = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p != MAP_FAILED)
		name_counter = p;
}

char *kdbus_make_name(char *buf, size_t len, uid_t uid, const char *tag)
{
	static uint64_t local_counter;
	uint64_t n;

	if (name_counter)
		n = __atomic_add_fetch(name_counter, 1, __ATOMIC_SEQ_CST);
	else
		n = ++local_counter;
	snprintf(buf, len, "%u-%s-%llu", (unsigned int)uid, tag, (unsigned long long)n);
	return buf;
}

bool kdbus_builtin(void)
{
	return access("/sys/module/" KDBUS_MODULE, F_OK) == 0 &&
	       access("/sys/module/" KDBUS_MODULE "/initstate", F_OK) < 0;
}

int kdbus_mount_tmp(char *dir, size_t len)
{
	if (snprintf(dir, len, "/tmp/kdbus-test.XXXXXX") >= (int)len)
		return -ENAMETOOLONG;
	if (!mkdtemp(dir))
		return -errno;
	if (mount("kdbusfs", dir, KDBUS_FSTYPE, MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL) < 0) {
		int err = -errno;

		rmdir(dir);
		return err;
	}
	return 0;
}

void kdbus_umount_tmp(const char *dir)
{
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

int kdbus_domain_init(struct kdbus_domain *d)
{
	return kdbus_mount_tmp(d->root, sizeof(d->root));
}

void kdbus_domain_fini(struct kdbus_domain *d)
{
	if (!d->root[0])
		return;
	/* A test may have stacked or bind mounts here; undo them all. */
	while (umount2(d->root, MNT_DETACH) == 0)
		;
	rmdir(d->root);
	d->root[0] = 0;
}

char *kdbus_domain_name(struct kdbus_domain *d, char *buf, size_t len, const char *tag)
{
	(void)d;
	return kdbus_make_name(buf, len, geteuid(), tag);
}

char *kdbus_path(char *buf, size_t len, const char *root, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(buf, len, "%s/", root);

	if (n < 0 || (size_t)n >= len)
		return buf;
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
	return buf;
}

/* ------------------------------------------------------------------ opening */

int kdbus_open(const char *root, const char *rel, int flags)
{
	char path[512];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", root, rel) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int kdbus_open_control(const char *root)
{
	return kdbus_open(root, "control", O_RDWR);
}

int kdbus_open_bus(const char *root, const char *bus)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "%s/bus", bus);
	return kdbus_open(root, rel, O_RDWR);
}

int kdbus_open_ep(const char *root, const char *bus, const char *ep)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "%s/%s", bus, ep);
	return kdbus_open(root, rel, O_RDWR);
}

/* ------------------------------------------------------ BUS / ENDPOINT MAKE */

int kdbus_bus_make_opts(int control_fd, uint64_t flags, const char *name,
			uint64_t bloom_size, uint64_t n_hash, ...)
{
	struct kdbus_builder b;
	struct kdbus_cmd *cmd;
	bool bloom = true;
	uint64_t tok;
	va_list ap;

	va_start(ap, n_hash);
	for (tok = va_arg(ap, uint64_t); tok != KDBUS_OPT_END; tok = va_arg(ap, uint64_t)) {
		if (tok == KDBUS_OPT_NO_BLOOM)
			bloom = false;
		else
			(void)va_arg(ap, uint64_t);
	}
	va_end(ap);

	kdbus_b_init(&b, sizeof(*cmd));
	if (name)
		kdbus_b_str(&b, KDBUS_ITEM_MAKE_NAME, name);
	if (bloom)
		kdbus_b_bloom(&b, bloom_size, n_hash);

	va_start(ap, n_hash);
	for (tok = va_arg(ap, uint64_t); tok != KDBUS_OPT_END; tok = va_arg(ap, uint64_t)) {
		uint64_t v;

		if (tok == KDBUS_OPT_NO_BLOOM)
			continue;
		v = va_arg(ap, uint64_t);
		if (tok == KDBUS_ITEM_NAME)
			kdbus_b_str(&b, tok, (const char *)(uintptr_t)v);
		else
			kdbus_b_u64(&b, tok, v);
	}
	va_end(ap);

	if (b.err)
		return b.err;
	cmd = kdbus_b_cmd(&b);
	cmd->flags = flags;
	return kdbus_ioctl(control_fd, KDBUS_CMD_BUS_MAKE, cmd);
}

int kdbus_create_bus(const char *root, uint64_t flags, const char *tag, char *name)
{
	int fd, ret;

	kdbus_make_name(name, 64, geteuid(), tag);
	fd = kdbus_open_control(root);
	if (fd < 0)
		return fd;
	ret = kdbus_bus_make(fd, flags, name, 64, 1);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

int kdbus_ep_make(int ep_fd, uint64_t flags, const char *name)
{
	struct kdbus_builder b;
	struct kdbus_cmd *cmd;

	kdbus_b_init(&b, sizeof(*cmd));
	kdbus_b_str(&b, KDBUS_ITEM_MAKE_NAME, name);
	if (b.err)
		return b.err;
	cmd = kdbus_b_cmd(&b);
	cmd->flags = flags;
	return kdbus_ioctl(ep_fd, KDBUS_CMD_ENDPOINT_MAKE, cmd);
}

/* -------------------------------------------------------------- connections */

static int hello_common(int fd, struct kdbus_builder *b, uint64_t flags,
			uint64_t attach_send, uint64_t attach_recv,
			uint64_t pool_size, struct kdbus_cmd_hello *out)
{
	struct kdbus_cmd_hello *h;
	int ret;

	if (b->err)
		return b->err;
	h = kdbus_b_cmd(b);
	h->flags = flags;
	h->attach_flags_send = attach_send;
	h->attach_flags_recv = attach_recv;
	h->pool_size = pool_size;
	ret = kdbus_ioctl(fd, KDBUS_CMD_HELLO, h);
	if (out)
		memcpy(out, h, sizeof(*out));
	return ret;
}

int kdbus_hello(int fd, uint64_t flags, uint64_t attach_send, uint64_t attach_recv,
		uint64_t pool_size, struct kdbus_cmd_hello *out)
{
	struct kdbus_builder b;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	return hello_common(fd, &b, flags, attach_send, attach_recv, pool_size, out);
}

int kdbus_hello_name(int fd, uint64_t flags, const char *name, uint64_t pool_size,
		     struct kdbus_cmd_hello *out)
{
	struct kdbus_builder b;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, name);
	return hello_common(fd, &b, flags, 0, 0, pool_size, out);
}

int kdbus_pool_map(int fd, size_t size, void **pool)
{
	void *p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	*pool = p;
	return 0;
}

int kdbus_free(int fd, uint64_t offset)
{
	struct kdbus_cmd_free cmd = {
		.size = sizeof(cmd),
		.offset = offset,
	};

	return kdbus_ioctl(fd, KDBUS_CMD_FREE, &cmd);
}

int kdbus_conn_open(struct kdbus_conn *c, const char *path, uint64_t flags,
		    size_t pool_size)
{
	void *pool = NULL;
	int ret;

	memset(c, 0, sizeof(*c));
	c->fd = open(path, O_RDWR | O_CLOEXEC);
	if (c->fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = kdbus_hello(c->fd, flags, _KDBUS_ATTACH_ALL, 0, pool_size, &c->hello);
	if (ret < 0)
		goto fail_close;
	ret = kdbus_pool_map(c->fd, pool_size, &pool);
	if (ret < 0)
		goto fail_close;
	c->pool = pool;
	c->pool_size = pool_size;
	c->id = c->hello.id;
	return 0;

fail_close:
	close(c->fd);
fail:
	c->fd = -1;
	return ret;
}

void kdbus_conn_close(struct kdbus_conn *c)
{
	if (c->pool)
		munmap(c->pool, c->pool_size);
	if (c->fd >= 0)
		close(c->fd);
	c->pool = NULL;
	c->fd = -1;
}

static int info_common(int fd, unsigned long request, void *pool, uint64_t id,
		       const char *name, uint64_t attach_flags,
		       struct kdbus_info **info, uint64_t *info_size)
{
	struct kdbus_builder b;
	struct kdbus_cmd_info *cmd;
	int ret;

	kdbus_b_init(&b, sizeof(*cmd));
	if (name)
		kdbus_b_str(&b, KDBUS_ITEM_NAME, name);
	if (b.err)
		return b.err;
	cmd = kdbus_b_cmd(&b);
	cmd->id = id;
	cmd->attach_flags = attach_flags;
	ret = kdbus_ioctl(fd, request, cmd);
	if (ret < 0)
		return ret;
	if (info)
		*info = (struct kdbus_info *)((uint8_t *)pool + cmd->offset);
	if (info_size)
		*info_size = cmd->info_size;
	return 0;
}

int kdbus_conn_info(int fd, void *pool, uint64_t id, const char *name,
		    uint64_t attach_flags, struct kdbus_info **info, uint64_t *info_size)
{
	return info_common(fd, KDBUS_CMD_CONN_INFO, pool, id, name, attach_flags,
			   info, info_size);
}

int kdbus_bus_creator_info(int fd, void *pool, uint64_t attach_flags,
			   struct kdbus_info **info, uint64_t *info_size)
{
	return info_common(fd, KDBUS_CMD_BUS_CREATOR_INFO, pool, 0, NULL, attach_flags,
			   info, info_size);
}

int kdbus_info_free(int fd, void *pool, struct kdbus_info *info)
{
	return kdbus_free(fd, (uint8_t *)info - (uint8_t *)pool);
}

struct kdbus_item *kdbus_info_item(struct kdbus_info *info, uint64_t type)
{
	struct kdbus_item *item;

	KDBUS_ITEM_FOREACH(item, info, items)
		if (item->type == type)
			return item;
	return NULL;
}

int kdbus_info_count(struct kdbus_info *info)
{
	struct kdbus_item *item;
	int n = 0;

	KDBUS_ITEM_FOREACH(item, info, items)
		n++;
	return n;
}

/* ---------------------------------------------------- files and directories */

ssize_t kdbus_read_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	else
		buf[n] = 0;
	close(fd);
	return n;
}

int kdbus_write_file(const char *path, const char *s)
{
	ssize_t n;
	int err = 0;
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	if (n < 0)
		err = -errno;
	else if ((size_t)n != strlen(s))
		err = -EIO;
	close(fd);
	return err;
}

struct linux_dirent64_hdr {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

int kdbus_read_dirfd(int dirfd, struct kdbus_dirent *ents, int max)
{
	char buf[4096] __attribute__((aligned(8)));
	int n = 0;

	if (lseek(dirfd, 0, SEEK_SET) < 0)
		return -errno;
	for (;;) {
		long got = syscall(SYS_getdents64, dirfd, buf, sizeof(buf));
		long pos;

		if (got < 0)
			return -errno;
		if (got == 0)
			return n;
		for (pos = 0; pos < got;) {
			struct linux_dirent64_hdr *d = (void *)(buf + pos);

			if (n < max) {
				snprintf(ents[n].name, sizeof(ents[n].name), "%s", d->d_name);
				ents[n].type = d->d_type;
				ents[n].ino = d->d_ino;
			}
			n++;
			pos += d->d_reclen;
		}
	}
}

int kdbus_read_dir(const char *path, struct kdbus_dirent *ents, int max)
{
	int ret, fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	ret = kdbus_read_dirfd(fd, ents, max);
	close(fd);
	return ret;
}

int kdbus_dirent_find(const struct kdbus_dirent *ents, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(ents[i].name, name))
			return i;
	return -1;
}

int kdbus_poll(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int ret = poll(&p, 1, timeout_ms);

	if (ret < 0)
		return -errno;
	return ret ? p.revents : 0;
}

int kdbus_raise_nofile(rlim_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur >= n && rl.rlim_max >= n)
		return 0;
	if (rl.rlim_max < n)
		rl.rlim_max = n;
	rl.rlim_cur = n;
	return setrlimit(RLIMIT_NOFILE, &rl) < 0 ? -errno : 0;
}

/* ---------------------------------------------------------------- processes */

pid_t kdbus_spawn(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

int kdbus_wait(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status))
		return -ECHILD;
	return WEXITSTATUS(status);
}

int kdbus_run(int (*fn)(void *), void *arg)
{
	pid_t pid = kdbus_spawn(fn, arg);

	return pid < 0 ? pid : kdbus_wait(pid);
}

/* Drop supplementary groups (only if there are any: setgroups() is
 * refused in a user namespace whose setgroups file says "deny"), then
 * switch gid and uid. */
static int switch_creds(uid_t uid, gid_t gid)
{
	if (getgroups(0, NULL) > 0 && setgroups(0, NULL) < 0)
		return -errno;
	if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		return -errno;
	return 0;
}

pid_t kdbus_spawn_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (switch_creds(uid, gid) < 0)
			_exit(126);
		_exit(fn(arg));
	}
	return pid;
}

int kdbus_run_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg)
{
	pid_t pid = kdbus_spawn_as(uid, gid, fn, arg);

	return pid < 0 ? pid : kdbus_wait(pid);
}

int kdbus_become(uid_t uid, gid_t gid, const gid_t *groups, size_t n)
{
	/* From another kdbus_become() identity: root first (saved UID 0). */
	if (geteuid() != 0 && seteuid(0) < 0)
		return -errno;
	if (setgroups(n, groups) < 0 || setresgid(gid, gid, 0) < 0 ||
	    setresuid(uid, uid, 0) < 0)
		return -errno;
	return 0;
}

int kdbus_become_root(void)
{
	if (setresuid(0, 0, 0) < 0 || setresgid(0, 0, 0) < 0 || setgroups(0, NULL) < 0)
		return -errno;
	return 0;
}

int kdbus_send_fd(int sock, int fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	int err = fd < 0 ? -fd : 0;
	struct iovec iov = { .iov_base = &err, .iov_len = sizeof(err) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	memset(&u, 0, sizeof(u));
	if (fd >= 0) {
		struct cmsghdr *c;

		msg.msg_control = u.buf;
		msg.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int kdbus_recv_fd(int sock)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} u;
	int err = 0, fd = -1;
	struct iovec iov = { .iov_base = &err, .iov_len = sizeof(err) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);

	if (n < 0)
		return -errno;
	if (n != sizeof(err))
		return -EPROTO;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(&fd, CMSG_DATA(c), sizeof(int));
	if (err) {
		if (fd >= 0)
			close(fd);
		return -err;
	}
	return fd >= 0 ? fd : -EPROTO;
}

int kdbus_open_as(uid_t uid, gid_t gid, const char *path, int flags)
{
	int sv[2], fd, status;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		fd = -errno;
		close(sv[0]);
		close(sv[1]);
		return fd;
	}
	if (pid == 0) {
		close(sv[0]);
		fd = switch_creds(uid, gid);
		if (fd == 0) {
			fd = open(path, flags | O_CLOEXEC);
			if (fd < 0)
				fd = -errno;
		}
		_exit(kdbus_send_fd(sv[1], fd) < 0 ? 1 : 0);
	}
	close(sv[1]);
	fd = kdbus_recv_fd(sv[0]);
	close(sv[0]);
	status = kdbus_wait(pid);
	if (fd >= 0 && status != 0) {
		close(fd);
		return status < 0 ? status : -EPROTO;
	}
	return fd;
}

/* ---------------------------------------------------------- user namespaces */

static int write_proc(pid_t pid, const char *file, const char *s)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	return kdbus_write_file(path, s);
}

pid_t kdbus_spawn_userns(const struct kdbus_userns *ns, int (*fn)(void *), void *arg)
{
	int up[2], down[2], err;
	pid_t pid;
	char c;

	if (pipe2(up, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(down, O_CLOEXEC) < 0) {
		err = -errno;
		close(up[0]);
		close(up[1]);
		return err;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto out_close;
	}
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		err = 0;
		if ((ns->creator_uid != geteuid() || ns->creator_gid != getegid()) &&
		    switch_creds(ns->creator_uid, ns->creator_gid) < 0)
			err = errno;
		/* Keep /proc/<pid> writable for a caller with the same uid. */
		if (!err)
			prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		if (!err && unshare(CLONE_NEWUSER | ns->unshare_flags) < 0)
			err = errno;
		if (write(up[1], &err, sizeof(err)) != sizeof(err) || err)
			_exit(125);
		if (read(down[0], &c, 1) != 1 || c != 'm')
			_exit(124);
		close(up[1]);
		close(down[0]);
		if (ns->gid_map && setresgid(ns->gid, ns->gid, ns->gid) < 0)
			_exit(123);
		if (ns->uid_map && setresuid(ns->uid, ns->uid, ns->uid) < 0)
			_exit(123);
		_exit(fn(arg));
	}
	close(up[1]);
	up[1] = -1;
	close(down[0]);
	down[0] = -1;
	if (read(up[0], &err, sizeof(err)) != sizeof(err))
		err = ECHILD;
	if (!err) {
		int r = write_proc(pid, "setgroups", "deny");

		if (r < 0 && r != -ENOENT)
			err = -r;
	}
	if (!err && ns->uid_map)
		err = -write_proc(pid, "uid_map", ns->uid_map);
	if (!err && ns->gid_map)
		err = -write_proc(pid, "gid_map", ns->gid_map);
	if (!err && write(down[1], "m", 1) != 1)
		err = EIO;
	if (err) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -err;
	}
out_close:
	if (up[0] >= 0)
		close(up[0]);
	if (up[1] >= 0)
		close(up[1]);
	if (down[0] >= 0)
		close(down[0]);
	if (down[1] >= 0)
		close(down[1]);
	return pid;
}

int kdbus_run_userns(const struct kdbus_userns *ns, int (*fn)(void *), void *arg)
{
	pid_t pid = kdbus_spawn_userns(ns, fn, arg);

	return pid < 0 ? pid : kdbus_wait(pid);
}

/* In the child: unshare the pid namespace and run @fn in a grandchild,
 * the first process (pid 1) of the new namespace. */
static int pidns_child(int (*fn)(void *), void *arg)
{
	pid_t pid;

	if (unshare(CLONE_NEWPID) < 0)
		return 125;
	pid = kdbus_spawn(fn, arg);
	if (pid < 0)
		return 125;
	pid = kdbus_wait(pid);
	return pid < 0 ? 125 : pid;
}

int kdbus_run_pidns(int (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(pidns_child(fn, arg));
	return kdbus_wait(pid);
}

/* ------------------------------------------------------ connection commands */

int kdbus_hello_b(int fd, struct kdbus_builder *b, uint64_t flags, uint64_t attach_send,
		  uint64_t attach_recv, uint64_t pool_size, struct kdbus_cmd_hello *out)
{
	return hello_common(fd, b, flags, attach_send, attach_recv, pool_size, out);
}

int kdbus_conn_open_b(struct kdbus_conn *c, const char *path, struct kdbus_builder *b,
		      uint64_t flags, uint64_t attach_send, uint64_t attach_recv,
		      size_t pool_size)
{
	struct kdbus_builder empty;
	void *pool = NULL;
	int ret;

	memset(c, 0, sizeof(*c));
	if (!b) {
		b = &empty;
		kdbus_b_init(b, sizeof(struct kdbus_cmd_hello));
	}
	c->fd = open(path, O_RDWR | O_CLOEXEC);
	if (c->fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = hello_common(c->fd, b, flags, attach_send, attach_recv, pool_size, &c->hello);
	if (ret < 0)
		goto fail_close;
	ret = kdbus_pool_map(c->fd, pool_size, &pool);
	if (ret < 0)
		goto fail_close;
	c->pool = pool;
	c->pool_size = pool_size;
	c->id = c->hello.id;
	return 0;

fail_close:
	close(c->fd);
fail:
	c->fd = -1;
	return ret;
}

int kdbus_conn_open_fd(struct kdbus_conn *c, int fd, uint64_t flags, size_t pool_size)
{
	void *pool = NULL;
	int ret;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	ret = kdbus_hello(fd, flags, _KDBUS_ATTACH_ALL, 0, pool_size, &c->hello);
	if (ret < 0)
		return ret;
	ret = kdbus_pool_map(fd, pool_size, &pool);
	if (ret < 0)
		return ret;
	c->fd = fd;
	c->pool = pool;
	c->pool_size = pool_size;
	c->id = c->hello.id;
	return 0;
}

int kdbus_conn_open_monitor(struct kdbus_conn *c, const char *path, uint64_t flags,
			    uint64_t attach_recv, size_t pool_size)
{
	return kdbus_conn_open_b(c, path, NULL, KDBUS_HELLO_MONITOR | flags, _KDBUS_ATTACH_ALL,
				 attach_recv, pool_size);
}

int kdbus_conn_open_name(struct kdbus_conn *c, const char *path, uint64_t flags,
			 const char *name, size_t pool_size)
{
	struct kdbus_builder b;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, name);
	return kdbus_conn_open_b(c, path, &b, flags, _KDBUS_ATTACH_ALL, 0, pool_size);
}

int kdbus_byebye(int fd)
{
	struct kdbus_cmd cmd = { .size = sizeof(cmd) };

	return kdbus_ioctl(fd, KDBUS_CMD_BYEBYE, &cmd);
}

int kdbus_list(int fd, uint64_t flags, uint64_t *offset, uint64_t *list_size)
{
	struct kdbus_cmd_list cmd = { .size = sizeof(cmd), .flags = flags };
	int ret = kdbus_ioctl(fd, KDBUS_CMD_LIST, &cmd);

	if (ret < 0)
		return ret;
	if (offset)
		*offset = cmd.offset;
	if (list_size)
		*list_size = cmd.list_size;
	return 0;
}

int kdbus_update_u64(int fd, uint64_t type, uint64_t v)
{
	struct kdbus_builder b;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_u64(&b, type, v);
	return kdbus_ioctl(fd, KDBUS_CMD_UPDATE, kdbus_b_cmd(&b));
}

int kdbus_param_set(const char *value, char *saved, size_t len)
{
	ssize_t n = kdbus_read_file(KDBUS_PARAM_PATH, saved, len);

	if (n < 0)
		return n;
	saved[strcspn(saved, "\n")] = 0;
	return kdbus_write_file(KDBUS_PARAM_PATH, value);
}

int kdbus_list_count(const void *list, uint64_t size)
{
	uint64_t pos = 0;
	int n = 0;

	while (pos < size) {
		const struct kdbus_info *info = (const void *)((const uint8_t *)list + pos);

		if (size - pos < sizeof(*info) || info->size < sizeof(*info) ||
		    info->size % 8 || info->size > size - pos)
			return -EINVAL;
		pos += info->size;
		n++;
	}
	return n;
}

struct kdbus_info *kdbus_list_find(const void *list, uint64_t size, uint64_t id)
{
	uint64_t pos = 0;

	while (pos + sizeof(struct kdbus_info) <= size) {
		struct kdbus_info *info = (void *)((const uint8_t *)list + pos);

		if (info->size < sizeof(*info))
			return NULL;
		if (info->id == id)
			return info;
		pos += info->size;
	}
	return NULL;
}

/* -------------------------------------------------------------------- names */

int kdbus_name_acquire(int fd, const char *name, uint64_t flags, uint64_t *return_flags)
{
	struct kdbus_builder b;
	struct kdbus_cmd *cmd;
	int ret;

	kdbus_b_init(&b, sizeof(*cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, name);
	if (b.err)
		return b.err;
	cmd = kdbus_b_cmd(&b);
	cmd->flags = flags;
	memset(&cmd->return_flags, 0x5a, sizeof(cmd->return_flags));
	ret = kdbus_ioctl(fd, KDBUS_CMD_NAME_ACQUIRE, cmd);
	if (return_flags)
		*return_flags = cmd->return_flags;
	return ret;
}

int kdbus_name_release(int fd, const char *name)
{
	struct kdbus_builder b;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, name);
	if (b.err)
		return b.err;
	return kdbus_ioctl(fd, KDBUS_CMD_NAME_RELEASE, kdbus_b_cmd(&b));
}

int kdbus_name_owner(struct kdbus_conn *c, const char *name, uint64_t *id)
{
	struct kdbus_info *info;
	int ret = kdbus_conn_info(c->fd, c->pool, 0, name, 0, &info, NULL);

	if (ret < 0)
		return ret;
	if (id)
		*id = info->id;
	return kdbus_info_free(c->fd, c->pool, info);
}

int kdbus_name_flags(struct kdbus_conn *c, uint64_t id, const char *name, uint64_t *flags)
{
	struct kdbus_info *info;
	struct kdbus_item *item;
	int ret = kdbus_conn_info(c->fd, c->pool, id, NULL, KDBUS_ATTACH_NAMES, &info, NULL);

	if (ret < 0)
		return ret;
	ret = -ENOENT;
	KDBUS_ITEM_FOREACH(item, info, items) {
		if (item->type == KDBUS_ITEM_OWNED_NAME && !strcmp(item->name.name, name)) {
			if (flags)
				*flags = item->name.flags;
			ret = 0;
			break;
		}
	}
	kdbus_info_free(c->fd, c->pool, info);
	return ret;
}

int kdbus_list_records(struct kdbus_conn *c, uint64_t flags, struct kdbus_list_rec *recs,
		       int max)
{
	uint64_t off, size, pos = 0;
	const uint8_t *list;
	int n = 0, ret;

	ret = kdbus_list(c->fd, flags, &off, &size);
	if (ret < 0)
		return ret;
	if (size == 0)
		return 0;
	if (off > c->pool_size || size > c->pool_size - off) {
		ret = -EBADMSG;
		goto out;
	}
	list = c->pool + off;
	while (pos < size) {
		const struct kdbus_info *info = (const void *)(list + pos);
		const struct kdbus_item *item = info->items;
		struct kdbus_list_rec *r;
		size_t nlen;

		if (size - pos < sizeof(*info) || info->size < sizeof(*info) ||
		    info->size % 8 || info->size > size - pos) {
			ret = -EBADMSG;
			goto out;
		}
		if (n >= max) {
			ret = -ENOSPC;
			goto out;
		}
		r = &recs[n];
		memset(r, 0, sizeof(*r));
		r->id = info->id;
		r->flags = info->flags;
		if (info->size > sizeof(*info)) {
			if (info->size - sizeof(*info) < KDBUS_ITEM_HEADER_SIZE + 8 + 1 ||
			    item->type != KDBUS_ITEM_OWNED_NAME ||
			    item->size < KDBUS_ITEM_HEADER_SIZE + 8 + 1 ||
			    item->size > info->size - sizeof(*info)) {
				ret = -EBADMSG;
				goto out;
			}
			nlen = strnlen(item->name.name, item->size - KDBUS_ITEM_HEADER_SIZE - 8);
			if (nlen >= sizeof(r->name) ||
			    item->size != KDBUS_ITEM_HEADER_SIZE + 8 + nlen + 1 ||
			    info->size != sizeof(*info) + KDBUS_ALIGN8(item->size)) {
				ret = -EBADMSG;
				goto out;
			}
			r->has_name = true;
			r->name_flags = item->name.flags;
			memcpy(r->name, item->name.name, nlen + 1);
		}
		pos += info->size;
		n++;
	}
	ret = n;
out:
	kdbus_free(c->fd, off);
	return ret;
}

static bool list_rec_match(const struct kdbus_list_rec *r, uint64_t id, const char *name)
{
	if (id && r->id != id)
		return false;
	if (!name)
		return !r->has_name;
	return r->has_name && !strcmp(r->name, name);
}

int kdbus_list_rec_count(const struct kdbus_list_rec *recs, int n, uint64_t id,
			 const char *name)
{
	int i, count = 0;

	for (i = 0; i < n; i++)
		count += list_rec_match(&recs[i], id, name);
	return count;
}

const struct kdbus_list_rec *kdbus_list_rec_find(const struct kdbus_list_rec *recs, int n,
						 uint64_t id, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (list_rec_match(&recs[i], id, name))
			return &recs[i];
	return NULL;
}

/* ----------------------------------------------------------------- messages */

void kdbus_msg_init(struct kdbus_builder *b, uint64_t dst_id, uint64_t flags,
		    int64_t priority, uint64_t cookie)
{
	struct kdbus_msg *m;

	kdbus_b_init(b, sizeof(*m));
	m = (struct kdbus_msg *)b->buf;
	m->dst_id = dst_id;
	m->flags = flags;
	m->priority = priority;
	m->cookie = cookie;
	m->payload_type = KDBUS_PAYLOAD_DBUS;
}

struct kdbus_msg *kdbus_msg_hdr(struct kdbus_builder *b)
{
	return (struct kdbus_msg *)b->buf;
}

int kdbus_b_vec(struct kdbus_builder *b, const void *data, uint64_t size)
{
	struct kdbus_vec v = { .size = size, .address = (uintptr_t)data };

	return kdbus_b_item(b, KDBUS_ITEM_PAYLOAD_VEC, &v, sizeof(v));
}

int kdbus_b_bloom_filter(struct kdbus_builder *b, uint64_t generation, size_t len)
{
	uint8_t buf[8 + 8192];

	if (len > sizeof(buf) - 8)
		return -ENOSPC;
	memset(buf, 0, 8 + len);
	memcpy(buf, &generation, 8);
	return kdbus_b_item(b, KDBUS_ITEM_BLOOM_FILTER, buf, 8 + len);
}

int kdbus_send(int fd, const void *msg, uint64_t send_flags, struct kdbus_cmd_send *out)
{
	struct kdbus_cmd_send cmd;
	int ret;

	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.flags = send_flags;
	cmd.msg_address = (uintptr_t)msg;
	memset(&cmd.reply, 0x5a, sizeof(cmd.reply));
	ret = kdbus_ioctl(fd, KDBUS_CMD_SEND, &cmd);
	if (out)
		*out = cmd;
	return ret;
}

int kdbus_msg_send_b(int fd, struct kdbus_builder *b, uint64_t send_flags,
		     struct kdbus_cmd_send *out)
{
	if (b->err)
		return b->err;
	return kdbus_send(fd, kdbus_b_cmd(b), send_flags, out);
}

int kdbus_msg_send(int fd, uint64_t dst_id, uint64_t flags, int64_t priority,
		   uint64_t cookie, const struct kdbus_test_vec *vecs, size_t n_vecs)
{
	struct kdbus_builder b;
	size_t i;

	kdbus_msg_init(&b, dst_id, flags, priority, cookie);
	for (i = 0; i < n_vecs; i++)
		kdbus_b_vec(&b, vecs[i].data, vecs[i].size);
	return kdbus_msg_send_b(fd, &b, 0, NULL);
}

int kdbus_msg_recv(struct kdbus_conn *c, uint64_t flags, int64_t priority,
		   struct kdbus_msg **msg, struct kdbus_cmd_recv *out)
{
	struct kdbus_cmd_recv cmd;
	int ret;

	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.flags = flags;
	cmd.priority = priority;
	memset(&cmd.return_flags, 0x5a, sizeof(cmd.return_flags));
	memset(&cmd.dropped_msgs, 0x5a, sizeof(cmd.dropped_msgs));
	memset(&cmd.msg, 0x5a, sizeof(cmd.msg));
	ret = kdbus_ioctl(c->fd, KDBUS_CMD_RECV, &cmd);
	if (out)
		*out = cmd;
	if (msg) {
		*msg = NULL;
		if (ret == 0 && cmd.msg.offset < c->pool_size)
			*msg = (struct kdbus_msg *)(c->pool + cmd.msg.offset);
	}
	return ret;
}

uint64_t kdbus_msg_offset(struct kdbus_conn *c, const struct kdbus_msg *msg)
{
	return (const uint8_t *)msg - c->pool;
}

struct kdbus_item *kdbus_msg_item(struct kdbus_msg *msg, uint64_t type, int n)
{
	struct kdbus_item *item;

	KDBUS_ITEM_FOREACH(item, msg, items)
		if (item->type == type && n-- == 0)
			return item;
	return NULL;
}

int kdbus_msg_count(struct kdbus_msg *msg)
{
	struct kdbus_item *item;
	int n = 0;

	KDBUS_ITEM_FOREACH(item, msg, items)
		n++;
	return n;
}

ssize_t kdbus_msg_payload(struct kdbus_msg *msg, uint64_t msg_size, void *buf, size_t len)
{
	struct kdbus_item *item;
	uint8_t *out = buf;
	uint64_t pos = 0;

	KDBUS_ITEM_FOREACH(item, msg, items) {
		uint64_t size, i;

		if (item->type == KDBUS_ITEM_PAYLOAD_OFF) {
			size = item->vec.size;
			if (item->vec.offset != ~0ULL &&
			    (item->vec.offset > msg_size || size > msg_size - item->vec.offset))
				return -ERANGE;
			for (i = 0; i < size && pos + i < len; i++)
				out[pos + i] = item->vec.offset == ~0ULL ? 0 :
					((uint8_t *)msg)[item->vec.offset + i];
		} else if (item->type == KDBUS_ITEM_PAYLOAD_MEMFD) {
			size = item->memfd.size;
			if (item->memfd.fd < 0)
				return -EBADF;
			if (pos < len) {
				size_t want = size < len - pos ? size : len - pos;
				ssize_t n = pread(item->memfd.fd, out + pos, want,
						  item->memfd.start);

				if (n < 0)
					return -errno;
				if ((size_t)n != want)
					return -EIO;
			}
		} else {
			continue;
		}
		pos += size;
	}
	return pos;
}

int kdbus_queue_empty(struct kdbus_conn *c)
{
	struct kdbus_cmd_recv r;
	int ret = kdbus_msg_recv(c, 0, 0, NULL, &r);

	if (ret == -EAGAIN)
		return 1;
	if (ret < 0)
		return ret;
	kdbus_free(c->fd, r.msg.offset);
	return 0;
}

uint64_t kdbus_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ---------------------------------------------------- patterns, meminfo */

void kdbus_fill_pattern(void *buf, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL;
	uint8_t *p = buf;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		/* xorshift64 */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
	for (; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

uint64_t kdbus_csum(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t h = 0xcbf29ce484222325ULL ^ len;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	for (; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h ^ (h >> 32);
}

long long kdbus_meminfo_kb(const char *name)
{
	char buf[8192], *line;
	size_t n = strlen(name);
	ssize_t ret = kdbus_read_file("/proc/meminfo", buf, sizeof(buf));

	if (ret < 0)
		return ret;
	for (line = buf; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (!strncmp(line, name, n) && line[n] == ':')
			return strtoll(line + n + 1, NULL, 10);
	}
	return -ENOENT;
}

/*
 * Fault injection (the failslab pass of `make check`): with
 * KDBUS_TEST_MAKE_IT_FAIL in the environment, a test process marks itself
 * for failslab's task filter once its exec is over, so that the kernel
 * allocations of this process and its children fail, not those of exec.
 */
__attribute__((constructor)) static void kdbus_make_it_fail(void)
{
	if (getenv("KDBUS_TEST_MAKE_IT_FAIL"))
		kdbus_write_file("/proc/self/make-it-fail", "1");
}

/* ------------------------------------------- matches, notifications, signals */

void kdbus_match_init(struct kdbus_builder *b, uint64_t cookie)
{
	kdbus_b_init(b, sizeof(struct kdbus_cmd_match));
	b->buf[offsetof(struct kdbus_cmd_match, cookie) / 8] = cookie;
}

int kdbus_b_name_change(struct kdbus_builder *b, uint64_t type, uint64_t old_id,
			uint64_t new_id, const char *name)
{
	uint8_t buf[sizeof(struct kdbus_notify_name_change) + 512];
	struct kdbus_notify_name_change nc = {
		.old_id = { .id = old_id },
		.new_id = { .id = new_id },
	};
	size_t len = sizeof(nc);

	memcpy(buf, &nc, sizeof(nc));
	if (name) {
		size_t n = strlen(name) + 1;

		if (n > sizeof(buf) - sizeof(nc))
			return -ENOSPC;
		memcpy(buf + sizeof(nc), name, n);
		len += n;
	}
	return kdbus_b_item(b, type, buf, len);
}

int kdbus_b_id_change(struct kdbus_builder *b, uint64_t type, uint64_t id)
{
	struct kdbus_notify_id_change ic = { .id = id };

	return kdbus_b_item(b, type, &ic, sizeof(ic));
}

int kdbus_b_bloom_mask(struct kdbus_builder *b, const void *mask, size_t len)
{
	uint8_t zeros[8192] = { 0 };

	if (!mask) {
		if (len > sizeof(zeros))
			return -ENOSPC;
		mask = zeros;
	}
	return kdbus_b_item(b, KDBUS_ITEM_BLOOM_MASK, mask, len);
}

static int match_cmd(int fd, unsigned long request, struct kdbus_builder *b,
		     uint64_t flags, uint64_t *flags_out)
{
	struct kdbus_cmd_match *cmd;
	int ret;

	if (b->err)
		return b->err;
	cmd = kdbus_b_cmd(b);
	cmd->flags = flags;
	ret = kdbus_ioctl(fd, request, cmd);
	if (flags_out)
		*flags_out = cmd->flags;
	return ret;
}

int kdbus_match_add_b(int fd, struct kdbus_builder *b, uint64_t flags, uint64_t *flags_out)
{
	return match_cmd(fd, KDBUS_CMD_MATCH_ADD, b, flags, flags_out);
}

int kdbus_match_remove_b(int fd, struct kdbus_builder *b, uint64_t flags)
{
	return match_cmd(fd, KDBUS_CMD_MATCH_REMOVE, b, flags, NULL);
}

int kdbus_match_remove(int fd, uint64_t cookie)
{
	struct kdbus_builder b;

	kdbus_match_init(&b, cookie);
	return kdbus_match_remove_b(fd, &b, 0);
}

int kdbus_match_add_opts(int fd, uint64_t cookie, uint64_t flags, ...)
{
	struct kdbus_builder *b = malloc(sizeof(*b));
	uint64_t type, a, c;
	const void *p;
	va_list ap;
	int ret;

	if (!b)
		return -ENOMEM;
	kdbus_match_init(b, cookie);
	va_start(ap, flags);
	while ((type = va_arg(ap, uint64_t)) != KDBUS_OPT_END) {
		switch (type) {
		case KDBUS_ITEM_ID:
			kdbus_b_u64(b, type, va_arg(ap, uint64_t));
			break;
		case KDBUS_ITEM_NAME:
			kdbus_b_str(b, type, (const char *)(uintptr_t)va_arg(ap, uint64_t));
			break;
		case KDBUS_ITEM_BLOOM_MASK:
			p = (const void *)(uintptr_t)va_arg(ap, uint64_t);
			kdbus_b_bloom_mask(b, p, va_arg(ap, uint64_t));
			break;
		case KDBUS_ITEM_NAME_ADD:
		case KDBUS_ITEM_NAME_REMOVE:
		case KDBUS_ITEM_NAME_CHANGE:
			a = va_arg(ap, uint64_t);
			c = va_arg(ap, uint64_t);
			p = (const void *)(uintptr_t)va_arg(ap, uint64_t);
			kdbus_b_name_change(b, type, a, c, p);
			break;
		case KDBUS_ITEM_ID_ADD:
		case KDBUS_ITEM_ID_REMOVE:
			kdbus_b_id_change(b, type, va_arg(ap, uint64_t));
			break;
		default:
			b->err = -EINVAL;
			break;
		}
		if (b->err)
			break;
	}
	va_end(ap);
	ret = kdbus_match_add_b(fd, b, flags, NULL);
	free(b);
	return ret;
}

uint64_t kdbus_conn_bloom_size(struct kdbus_conn *c)
{
	struct kdbus_item *first, *item;

	if (!c->pool || c->hello.offset >= c->pool_size ||
	    c->hello.items_size > c->pool_size - c->hello.offset)
		return 0;
	first = (struct kdbus_item *)(c->pool + c->hello.offset);
	KDBUS_ITEMS_FOREACH(item, first, c->hello.items_size)
		if (item->type == KDBUS_ITEM_BLOOM_PARAMETER)
			return item->bloom_parameter.size;
	return 0;
}

int kdbus_b_bloom_filter_data(struct kdbus_builder *b, uint64_t generation,
			      const void *data, size_t len)
{
	uint8_t buf[8 + 8192];

	if (len > sizeof(buf) - 8)
		return -ENOSPC;
	memcpy(buf, &generation, 8);
	if (data)
		memcpy(buf + 8, data, len);
	else
		memset(buf + 8, 0, len);
	return kdbus_b_item(b, KDBUS_ITEM_BLOOM_FILTER, buf, 8 + len);
}

int kdbus_signal_send(int fd, uint64_t dst_id, uint64_t cookie, uint64_t generation,
		      const void *bloom, size_t bloom_size, const void *data, size_t len)
{
	struct kdbus_builder *b = malloc(sizeof(*b));
	int ret;

	if (!b)
		return -ENOMEM;
	kdbus_msg_init(b, dst_id, KDBUS_MSG_SIGNAL, 0, cookie);
	kdbus_b_bloom_filter_data(b, generation, bloom, bloom_size);
	if (len)
		kdbus_b_vec(b, data, len);
	ret = kdbus_msg_send_b(fd, b, 0, NULL);
	free(b);
	return ret;
}

int kdbus_broadcast(struct kdbus_conn *c, uint64_t cookie, const void *bloom)
{
	uint64_t size = kdbus_conn_bloom_size(c);

	if (!size)
		return -ENODATA;
	return kdbus_signal_send(c->fd, KDBUS_DST_ID_BROADCAST, cookie, 0, bloom, size,
				 NULL, 0);
}

int kdbus_recv_summary(struct kdbus_conn *c, int timeout_ms, struct kdbus_msg_summary *s)
{
	return kdbus_recv_summary_flags(c, 0, timeout_ms, s);
}

int kdbus_recv_summary_flags(struct kdbus_conn *c, uint64_t recv_flags, int timeout_ms,
			     struct kdbus_msg_summary *s)
{
	struct kdbus_cmd_recv r;
	struct kdbus_item *item;
	struct kdbus_msg *m;
	int ret;

	memset(s, 0, sizeof(*s));
	ret = kdbus_msg_recv(c, recv_flags, 0, &m, &r);
	if (ret == -EAGAIN && timeout_ms > 0) {
		uint64_t deadline = kdbus_now_ns() + (uint64_t)timeout_ms * 1000000;

		while (ret == -EAGAIN && kdbus_now_ns() < deadline) {
			/* Keep a counter reported by the first RECV. */
			uint64_t dropped = r.dropped_msgs, rflags = r.return_flags;

			kdbus_poll(c->fd, POLLIN,
				   (int)((deadline - kdbus_now_ns()) / 1000000) + 1);
			ret = kdbus_msg_recv(c, recv_flags, 0, &m, &r);
			if (dropped && (rflags & KDBUS_RECV_RETURN_DROPPED_MSGS)) {
				r.dropped_msgs += dropped;
				r.return_flags |= KDBUS_RECV_RETURN_DROPPED_MSGS;
			}
		}
	}
	if (ret == 0 || ret == -EAGAIN) {
		s->recv_return_flags = r.return_flags;
		s->dropped_msgs = r.dropped_msgs;
	}
	if (ret < 0)
		return ret;
	if (!m)
		return -ENOMSG;
	s->msg_size = r.msg.msg_size;
	s->size = m->size;
	s->flags = m->flags;
	s->src_id = m->src_id;
	s->dst_id = m->dst_id;
	s->payload_type = m->payload_type;
	s->cookie = m->cookie;
	s->cookie_reply = m->cookie_reply;
	s->priority = m->priority;
	s->n_items = kdbus_msg_count(m);
	if (s->n_items > 0) {
		item = m->items;
		s->type = item->type;
		s->item_size = item->size;
	}
	KDBUS_ITEM_FOREACH(item, m, items) {
		switch (item->type) {
		case KDBUS_ITEM_ID_ADD:
		case KDBUS_ITEM_ID_REMOVE:
			if (item->size >= 16 + sizeof(item->id_change)) {
				s->id = item->id_change.id;
				s->id_flags = item->id_change.flags;
			}
			break;
		case KDBUS_ITEM_NAME_ADD:
		case KDBUS_ITEM_NAME_REMOVE:
		case KDBUS_ITEM_NAME_CHANGE: {
			size_t fixed = 16 + sizeof(struct kdbus_notify_name_change);
			size_t n, i;
			const char *str;

			if (item->size < fixed)
				break;
			s->old_id = item->name_change.old_id.id;
			s->old_flags = item->name_change.old_id.flags;
			s->new_id = item->name_change.new_id.id;
			s->new_flags = item->name_change.new_id.flags;
			str = item->name_change.name;
			n = strnlen(str, item->size - fixed);
			s->name_nul = n < item->size - fixed;
			for (i = n; s->name_nul && i < item->size - fixed; i++)
				if (str[i])
					s->name_nul = false;
			if (n >= sizeof(s->name))
				n = sizeof(s->name) - 1;
			memcpy(s->name, str, n);
			s->name[n] = 0;
			break;
		}
		case KDBUS_ITEM_TIMESTAMP:
			s->has_timestamp = true;
			s->ts = item->timestamp;
			break;
		case KDBUS_ITEM_BLOOM_FILTER:
			s->has_bloom = true;
			break;
		case KDBUS_ITEM_PAYLOAD_OFF:
			s->has_payload = true;
			break;
		case KDBUS_ITEM_FDS: {
			int i, n = (item->size - KDBUS_ITEM_HEADER_SIZE) / sizeof(int);

			for (i = 0; i < n; i++)
				if (item->fds[i] >= 0)
					close(item->fds[i]);
			s->n_fds += n;
			break;
		}
		case KDBUS_ITEM_DST_NAME: {
			size_t n = strnlen(item->str, item->size - KDBUS_ITEM_HEADER_SIZE);

			if (n >= sizeof(s->dst_name))
				n = sizeof(s->dst_name) - 1;
			memcpy(s->dst_name, item->str, n);
			s->dst_name[n] = 0;
			break;
		}
		}
	}
	s->payload_len = kdbus_msg_payload(m, r.msg.msg_size, NULL, 0);
	if (s->payload_len > 0) {
		uint8_t *buf = malloc(s->payload_len);

		if (buf && kdbus_msg_payload(m, r.msg.msg_size, buf, s->payload_len) ==
			   s->payload_len) {
			memcpy(s->payload, buf, s->payload_len < (ssize_t)sizeof(s->payload) ?
			       (size_t)s->payload_len : sizeof(s->payload));
			s->payload_csum = kdbus_csum(buf, s->payload_len);
		} else {
			s->payload_len = buf ? -EIO : -ENOMEM;
		}
		free(buf);
	}
	kdbus_free(c->fd, r.msg.offset);
	return 0;
}

const char *kdbus_notify_defect(const struct kdbus_msg_summary *s, bool timestamp)
{
	uint64_t item_size;

	if (s->src_id != KDBUS_SRC_ID_KERNEL)
		return "src_id is not 0";
	if (s->dst_id != KDBUS_DST_ID_BROADCAST)
		return "dst_id is not ~0";
	if (s->payload_type != KDBUS_PAYLOAD_KERNEL)
		return "payload_type is not 0";
	if (s->flags != KDBUS_MSG_SIGNAL)
		return "flags is not SIGNAL";
	if (s->cookie || s->cookie_reply || s->priority)
		return "cookie, cookie_reply or priority is not 0";
	switch (s->type) {
	case KDBUS_ITEM_ID_ADD:
	case KDBUS_ITEM_ID_REMOVE:
		item_size = 32;
		break;
	case KDBUS_ITEM_NAME_ADD:
	case KDBUS_ITEM_NAME_REMOVE:
	case KDBUS_ITEM_NAME_CHANGE:
		if (!s->name_nul)
			return "name not NUL-terminated and zero-padded";
		item_size = KDBUS_ALIGN8(16 + 32 + strlen(s->name) + 1);
		break;
	default:
		return "first item is not an ID or NAME notification";
	}
	if (s->item_size != item_size)
		return "notification item size wrong (must include the padding)";
	if (s->n_items != (timestamp ? 2 : 1))
		return "wrong number of items";
	if (s->has_timestamp != timestamp)
		return timestamp ? "TIMESTAMP missing" : "unexpected TIMESTAMP";
	if (s->size != 64 + item_size + (timestamp ? 40 : 0))
		return "message size wrong";
	if (s->msg_size != s->size)
		return "slice size differs from message size";
	return NULL;
}

const char *kdbus_item_type_name(uint64_t type)
{
	switch (type) {
	case KDBUS_ITEM_NAME_ADD: return "NAME_ADD";
	case KDBUS_ITEM_NAME_REMOVE: return "NAME_REMOVE";
	case KDBUS_ITEM_NAME_CHANGE: return "NAME_CHANGE";
	case KDBUS_ITEM_ID_ADD: return "ID_ADD";
	case KDBUS_ITEM_ID_REMOVE: return "ID_REMOVE";
	case KDBUS_ITEM_REPLY_TIMEOUT: return "REPLY_TIMEOUT";
	case KDBUS_ITEM_REPLY_DEAD: return "REPLY_DEAD";
	default: return "other";
	}
}

int kdbus_drain(struct kdbus_conn *c)
{
	int n = 0, ret;

	while ((ret = kdbus_queue_empty(c)) == 0)
		n++;
	return ret < 0 ? ret : n;
}

bool kdbus_is_name_notify(const struct kdbus_msg_summary *s, uint64_t type,
			  uint64_t old_id, uint64_t new_id, const char *name)
{
	return s->src_id == KDBUS_SRC_ID_KERNEL && s->type == type &&
	       s->old_id == old_id && s->new_id == new_id && !strcmp(s->name, name);
}

bool kdbus_is_id_notify(const struct kdbus_msg_summary *s, uint64_t type, uint64_t id)
{
	return s->src_id == KDBUS_SRC_ID_KERNEL && s->type == type && s->id == id;
}

/* ------------------------------------------------ activators, by name, replies */

int kdbus_conn_open_activator(struct kdbus_conn *c, const char *path, uint64_t flags,
			      const char *name, const struct kdbus_policy_access *policy,
			      size_t n, size_t pool_size)
{
	static __thread struct kdbus_builder b;
	size_t i;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, name);
	for (i = 0; i < n; i++)
		kdbus_b_policy(&b, policy[i].type, policy[i].access, policy[i].id);
	if (b.err) {
		memset(c, 0, sizeof(*c));
		c->fd = -1;
		return b.err;
	}
	return kdbus_conn_open_b(c, path, &b, KDBUS_HELLO_ACTIVATOR | flags, _KDBUS_ATTACH_ALL,
				 0, pool_size);
}

void kdbus_msg_init_name(struct kdbus_builder *b, const char *name, uint64_t flags,
			 int64_t priority, uint64_t cookie)
{
	kdbus_msg_init(b, KDBUS_DST_ID_NAME, flags, priority, cookie);
	kdbus_b_str(b, KDBUS_ITEM_DST_NAME, name);
}

static int send_common(int fd, uint64_t dst_id, const char *name, uint64_t cookie,
		       uint64_t deadline_ns, const int *fds, size_t n_fds, const void *data,
		       size_t len)
{
	static __thread struct kdbus_builder b;	/* 40 KiB: keep off the stack */
	uint64_t flags = deadline_ns ? KDBUS_MSG_EXPECT_REPLY : 0;

	if (name)
		kdbus_msg_init_name(&b, name, flags, 0, cookie);
	else
		kdbus_msg_init(&b, dst_id, flags, 0, cookie);
	kdbus_msg_hdr(&b)->timeout_ns = deadline_ns;
	if (n_fds)
		kdbus_b_item(&b, KDBUS_ITEM_FDS, fds, n_fds * sizeof(int));
	if (len)
		kdbus_b_vec(&b, data, len);
	return kdbus_msg_send_b(fd, &b, 0, NULL);
}

int kdbus_send_name(int fd, const char *name, uint64_t cookie, uint64_t deadline_ns,
		    const int *fds, size_t n_fds, const void *data, size_t len)
{
	return send_common(fd, 0, name, cookie, deadline_ns, fds, n_fds, data, len);
}

int kdbus_send_id(int fd, uint64_t dst_id, uint64_t cookie, uint64_t deadline_ns,
		  const int *fds, size_t n_fds, const void *data, size_t len)
{
	return send_common(fd, dst_id, NULL, cookie, deadline_ns, fds, n_fds, data, len);
}

int kdbus_reply_send(int fd, uint64_t dst_id, uint64_t cookie, uint64_t cookie_reply,
		     const void *data, size_t len)
{
	static __thread struct kdbus_builder b;

	kdbus_msg_init(&b, dst_id, 0, 0, cookie);
	kdbus_msg_hdr(&b)->cookie_reply = cookie_reply;
	if (len)
		kdbus_b_vec(&b, data, len);
	return kdbus_msg_send_b(fd, &b, 0, NULL);
}

/* ---------------------------------------------------------- test fixture */

int kdbus_test_bus_setup(struct kdbus_test_bus *tb, const char *tag, bool set_param)
{
	int ret;

	tb->d.root[0] = 0;
	tb->bus[0] = 0;
	tb->path[0] = 0;
	tb->owner = -1;
	tb->param[0] = 0;

	ret = kdbus_domain_init(&tb->d);
	if (ret < 0)
		return ret;
	ret = kdbus_create_bus(tb->d.root, KDBUS_MAKE_ACCESS_WORLD, tag, tb->bus);
	if (ret < 0)
		goto fail;
	tb->owner = ret;
	kdbus_path(tb->path, sizeof(tb->path), tb->d.root, "%s/bus", tb->bus);
	if (set_param) {
		ret = kdbus_param_set(KDBUS_PARAM_DEFAULT, tb->param, sizeof(tb->param));
		if (ret < 0)
			goto fail;
	}
	return 0;

fail:
	kdbus_test_bus_teardown(tb);
	return ret;
}

void kdbus_test_bus_teardown(struct kdbus_test_bus *tb)
{
	if (tb->param[0]) {
		kdbus_write_file(KDBUS_PARAM_PATH, tb->param);
		tb->param[0] = 0;
	}
	if (tb->owner >= 0) {
		close(tb->owner);
		tb->owner = -1;
	}
	kdbus_domain_fini(&tb->d);
}
