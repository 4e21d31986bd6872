// SPDX-License-Identifier: GPL-2.0
/*
 * kdbus-bench: one-way throughput and ping-pong latency, side by side, in
 * one run, for payloads of 8 B to 1 MiB over
 *
 *   pipe      a pipe pair (two copies: sender -> pipe buffer -> receiver)
 *   unix      an AF_UNIX SOCK_STREAM socketpair (two copies)
 *   kdbus     kdbus SEND/RECV with PAYLOAD_VEC (one copy, into the pool)
 *
 * and prints a table with ratios. Absolute numbers mean nothing under QEMU
 * TCG; the ratios measured side by side in the same guest do. kdbus needs a
 * kdbusfs mounted at /sys/fs/kdbus. The memfd column sends one sealed memfd
 * of the payload size per message (passed, not copied; the receiver gets
 * and closes a new fd each time).
 *
 * Usage: kdbus-bench [seconds-per-cell]   (default 0.5)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/kdbus.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int xwrite(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

static int xread(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

/* A byte-stream transport: fds[0] is the "a" side, fds[1] the "b" side of
 * each direction. */
struct chan {
	int a_tx, b_rx, b_tx, a_rx;
};

static int make_pipe(struct chan *c)
{
	int p1[2], p2[2];

	if (pipe(p1) || pipe(p2))
		return -1;
	fcntl(p1[1], F_SETPIPE_SZ, 1 << 20);
	fcntl(p2[1], F_SETPIPE_SZ, 1 << 20);
	*c = (struct chan){ p1[1], p1[0], p2[1], p2[0] };
	return 0;
}

static int make_unix(struct chan *c)
{
	int sv[2];
	int sz = 4 << 20;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return -1;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	*c = (struct chan){ sv[0], sv[1], sv[1], sv[0] };
	return 0;
}

/* Throughput in MB/s: a child receives, the parent sends for `secs`. */
static double throughput(struct chan *c, size_t size, double secs)
{
	char *buf = calloc(1, size);
	uint64_t count = 0, got;
	double t0, t;
	pid_t pid = fork();

	if (pid == 0) {
		for (;;) {
			if (xread(c->b_rx, buf, size))
				_exit(0);
			count++;
			if (!memcmp(buf, "STOP", 4) && size >= 4)
				break;
		}
		xwrite(c->b_tx, &count, sizeof(count));
		_exit(0);
	}
	t0 = now();
	do {
		xwrite(c->a_tx, buf, size);
		count++;
	} while ((t = now()) - t0 < secs);
	memcpy(buf, "STOP", size >= 4 ? 4 : size);
	xwrite(c->a_tx, buf, size);
	xread(c->a_rx, &got, sizeof(got));
	t = now() - t0;
	waitpid(pid, NULL, 0);
	free(buf);
	return (double)got * size / t / 1e6;
}

/* Round-trip latency in microseconds. */
static double pingpong(struct chan *c, size_t size, double secs)
{
	char *buf = calloc(1, size);
	uint64_t rounds = 0;
	double t0, t;
	pid_t pid = fork();

	if (pid == 0) {
		while (!xread(c->b_rx, buf, size) && buf[0] != 'Q')
			xwrite(c->b_tx, buf, size);
		_exit(0);
	}
	t0 = now();
	do {
		xwrite(c->a_tx, buf, size);
		xread(c->a_rx, buf, size);
		rounds++;
	} while ((t = now()) - t0 < secs);
	buf[0] = 'Q';
	xwrite(c->a_tx, buf, size);
	waitpid(pid, NULL, 0);
	free(buf);
	return (t - t0) * 1e6 / rounds;
}

/* ---------------------------------------------------------------- kdbus */

#define POOL (64u << 20)
#define STOP_COOKIE 0xdead

struct kconn {
	int fd;
	uint64_t id;
	uint8_t *pool;
};

static int kbus = -1;
static char kbus_name[64];

static int kdbus_setup(struct kconn *a, struct kconn *b)
{
	uint64_t buf[32] = { 0 };
	struct kdbus_cmd *cmd = (struct kdbus_cmd *)buf;
	struct kdbus_item *item = cmd->items;
	struct kconn *conns[2] = { a, b };
	char path[128];
	int i;

	if (kbus < 0) {
		snprintf(kbus_name, sizeof(kbus_name), "%u-bench", (unsigned)geteuid());
		kbus = open("/sys/fs/kdbus/control", O_RDWR | O_CLOEXEC);
		if (kbus < 0)
			return -1;
		item->size = 16 + strlen(kbus_name) + 1;
		item->type = KDBUS_ITEM_MAKE_NAME;
		strcpy(item->str, kbus_name);
		item = (struct kdbus_item *)((char *)item + ((item->size + 7) & ~7ULL));
		item->size = 32;
		item->type = KDBUS_ITEM_BLOOM_PARAMETER;
		item->bloom_parameter.size = 64;
		item->bloom_parameter.n_hash = 1;
		cmd->size = (char *)item + 32 - (char *)cmd;
		if (ioctl(kbus, KDBUS_CMD_BUS_MAKE, cmd) < 0)
			return -1;
	}
	for (i = 0; i < 2; i++) {
		struct kdbus_cmd_hello hello = {
			.size = sizeof(hello), .pool_size = POOL,
			.flags = KDBUS_HELLO_ACCEPT_FD,
		};
		struct kdbus_cmd_free f = { .size = sizeof(f) };

		snprintf(path, sizeof(path), "/sys/fs/kdbus/%s/bus", kbus_name);
		conns[i]->fd = open(path, O_RDWR | O_CLOEXEC);
		if (conns[i]->fd < 0 || ioctl(conns[i]->fd, KDBUS_CMD_HELLO, &hello) < 0)
			return -1;
		conns[i]->id = hello.id;
		conns[i]->pool = mmap(NULL, POOL, PROT_READ, MAP_SHARED, conns[i]->fd, 0);
		if (conns[i]->pool == MAP_FAILED)
			return -1;
		f.offset = hello.offset;
		ioctl(conns[i]->fd, KDBUS_CMD_FREE, &f);
	}
	return 0;
}

static void kdbus_close(struct kconn *c)
{
	munmap(c->pool, POOL);
	close(c->fd);
}

/* One message with one vector (or, with @memfd >= 0, one memfd); retries
 * while the receiver's quota is full. */
static int ksend_full(struct kconn *c, uint64_t dst, const void *data, size_t size,
		      uint64_t cookie, int memfd, uint64_t msg_flags, uint64_t timeout_or_reply,
		      struct kdbus_cmd_send *out)
{
	struct {
		struct kdbus_msg msg;
		struct kdbus_item item;
	} m = { 0 };
	struct kdbus_cmd_send cmd = { .size = sizeof(cmd), .msg_address = (uintptr_t)&m };

	m.msg.dst_id = dst;
	m.msg.payload_type = KDBUS_PAYLOAD_DBUS;
	m.msg.cookie = cookie;
	m.msg.flags = msg_flags;
	m.msg.timeout_ns = timeout_or_reply;	/* union with cookie_reply */
	if (msg_flags & KDBUS_MSG_EXPECT_REPLY)
		cmd.flags = KDBUS_SEND_SYNC_REPLY;
	if (memfd >= 0) {
		m.msg.size = sizeof(m.msg) + 40;
		m.item.size = 40;
		m.item.type = KDBUS_ITEM_PAYLOAD_MEMFD;
		m.item.memfd.size = size;
		m.item.memfd.fd = memfd;
	} else {
		m.msg.size = sizeof(m.msg) + 32;
		m.item.size = 32;
		m.item.type = KDBUS_ITEM_PAYLOAD_VEC;
		m.item.vec.size = size;
		m.item.vec.address = (uintptr_t)data;
	}
	while (ioctl(c->fd, KDBUS_CMD_SEND, &cmd) < 0) {
		if (errno != ENOBUFS && errno != EXFULL)
			return -1;
		sched_yield();
	}
	if (out)
		*out = cmd;
	return 0;
}

static int ksend_any(struct kconn *c, uint64_t dst, const void *data, size_t size,
		     uint64_t cookie, int memfd)
{
	return ksend_full(c, dst, data, size, cookie, memfd, 0, 0, NULL);
}

static int ksend(struct kconn *c, uint64_t dst, const void *data, size_t size, uint64_t cookie)
{
	return ksend_any(c, dst, data, size, cookie, -1);
}

/* Waits for and receives one message; returns its cookie (and its sender
 * in *@src if not NULL). */
static int64_t krecv_from(struct kconn *c, uint64_t *src)
{
	struct kdbus_cmd_recv cmd = { .size = sizeof(cmd) };
	struct kdbus_cmd_free f = { .size = sizeof(f) };
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	struct kdbus_msg *msg;
	int64_t cookie;

	while (ioctl(c->fd, KDBUS_CMD_RECV, &cmd) < 0) {
		if (errno != EAGAIN)
			return -1;
		poll(&pfd, 1, -1);
	}
	msg = (struct kdbus_msg *)(c->pool + cmd.msg.offset);
	cookie = msg->cookie;
	if (src)
		*src = msg->src_id;
	if (msg->size > sizeof(*msg) &&
	    msg->items[0].type == KDBUS_ITEM_PAYLOAD_MEMFD && msg->items[0].memfd.fd >= 0)
		close(msg->items[0].memfd.fd);
	f.offset = cmd.msg.offset;
	ioctl(c->fd, KDBUS_CMD_FREE, &f);
	return cookie;
}

static int64_t krecv(struct kconn *c)
{
	return krecv_from(c, NULL);
}

static double kdbus_throughput(size_t size, double secs, int memfd)
{
	struct kconn a, b;
	char *buf = calloc(1, size);
	uint64_t count = 0, got = 0;
	int p[2];
	double t0, t;
	pid_t pid;

	if (!buf || pipe(p) || kdbus_setup(&a, &b))
		return -1;
	pid = fork();
	if (pid == 0) {
		int64_t cookie;

		while ((cookie = krecv(&b)) >= 0 && cookie != STOP_COOKIE)
			count++;
		xwrite(p[1], &count, sizeof(count));
		_exit(0);
	}
	t0 = now();
	do {
		if (ksend_any(&a, b.id, buf, size, 1, memfd))
			break;
		count++;
	} while ((t = now()) - t0 < secs);
	ksend(&a, b.id, buf, 8, STOP_COOKIE);
	xread(p[0], &got, sizeof(got));
	t = now() - t0;
	waitpid(pid, NULL, 0);
	kdbus_close(&a);
	kdbus_close(&b);
	close(p[0]);
	close(p[1]);
	free(buf);
	return (double)got * size / t / 1e6;
}

static double kdbus_pingpong(size_t size, double secs)
{
	struct kconn a, b;
	char *buf = calloc(1, size);
	uint64_t rounds = 0;
	double t0, t;
	pid_t pid;

	if (!buf || kdbus_setup(&a, &b))
		return -1;
	pid = fork();
	if (pid == 0) {
		int64_t cookie;

		while ((cookie = krecv(&b)) >= 0 && cookie != STOP_COOKIE)
			ksend(&b, a.id, buf, size, 1);
		_exit(0);
	}
	t0 = now();
	do {
		ksend(&a, b.id, buf, size, 1);
		krecv(&a);
		rounds++;
	} while ((t = now()) - t0 < secs);
	ksend(&a, b.id, buf, 8, STOP_COOKIE);
	waitpid(pid, NULL, 0);
	kdbus_close(&a);
	kdbus_close(&b);
	free(buf);
	return (t - t0) * 1e6 / rounds;
}

/* Synchronous method calls (SEND with SYNC_REPLY, the D-Bus pattern): the
 * callee RECVs each call and replies; the caller's SEND returns the reply. */
static double kdbus_call(size_t size, double secs)
{
	struct kconn a, b;
	char *buf = calloc(1, size);
	struct kdbus_cmd_free f = { .size = sizeof(f) };
	uint64_t rounds = 0, cookie = 1;
	double t0, t;
	pid_t pid;

	if (!buf || kdbus_setup(&a, &b))
		return -1;
	pid = fork();
	if (pid == 0) {
		int64_t c;
		uint64_t src;

		while ((c = krecv_from(&b, &src)) >= 0 && c != STOP_COOKIE)
			ksend_full(&b, src, buf, size, 1, -1, 0, c, NULL);
		_exit(0);
	}
	t0 = now();
	do {
		struct kdbus_cmd_send out;
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (ksend_full(&a, b.id, buf, size, cookie++, -1, KDBUS_MSG_EXPECT_REPLY,
			       (ts.tv_sec + 10) * 1000000000ULL + ts.tv_nsec, &out))
			break;
		f.offset = out.reply.offset;
		ioctl(a.fd, KDBUS_CMD_FREE, &f);
		rounds++;
	} while ((t = now()) - t0 < secs);
	ksend(&a, b.id, buf, 8, STOP_COOKIE);
	waitpid(pid, NULL, 0);
	kdbus_close(&a);
	kdbus_close(&b);
	free(buf);
	return rounds ? (t - t0) * 1e6 / rounds : -1;
}

/* A sealed memfd of @size bytes. */
static int make_memfd(size_t size)
{
	int fd = memfd_create("kdbus-bench", MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, size) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL))
		return -1;
	return fd;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 8, 64, 512, 4096, 65536, 1 << 20 };
	double secs = argc > 1 ? atof(argv[1]) : 0.5;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("kdbus-bench: %.2f s per cell; ratios are against AF_UNIX\n\n", secs);
	printf("%-8s | %10s %10s %10s %8s %10s %8s | %9s %9s %9s %8s %9s %8s\n", "payload",
	       "pipe MB/s", "unix MB/s", "kdbus MB/s", "k/unix", "memfd MB/s", "m/unix",
	       "pipe us", "unix us", "kdbus us", "k/unix", "call us", "c/unix");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct chan p, u;
		double tp, tu, tk, tm, lp, lu, lk, lc;
		int mfd = make_memfd(sizes[i]);

		if (make_pipe(&p) || make_unix(&u)) {
			perror("kdbus-bench: setup");
			return 1;
		}
		tp = throughput(&p, sizes[i], secs);
		tu = throughput(&u, sizes[i], secs);
		tk = kdbus_throughput(sizes[i], secs, -1);
		tm = mfd >= 0 ? kdbus_throughput(sizes[i], secs, mfd) : -1;
		if (mfd >= 0)
			close(mfd);
		lp = pingpong(&p, sizes[i], secs);
		lu = pingpong(&u, sizes[i], secs);
		lk = kdbus_pingpong(sizes[i], secs);
		lc = kdbus_call(sizes[i], secs);
		printf("%-8zu | %10.1f %10.1f %10.1f %7.2fx %10.1f %7.2fx | %9.1f %9.1f %9.1f %7.2fx %9.1f %7.2fx\n",
		       sizes[i], tp, tu, tk, tk / tu, tm, tm / tu, lp, lu, lk, lk / lu, lc, lc / lu);
		close(p.a_tx); close(p.b_rx); close(p.b_tx); close(p.a_rx);
		close(u.a_tx); close(u.b_tx);
	}
	printf("\nk/unix: kdbus (PAYLOAD_VEC, one copy into the pool) against AF_UNIX;\n"
	       "m/unix: kdbus with one sealed memfd per message (no copy) against AF_UNIX;\n"
	       "call: a synchronous method call (SEND with SYNC_REPLY, the callee RECVs\n"
	       "and replies) against an AF_UNIX ping-pong of the same payload;\n"
	       "throughput higher is better, latency lower is better.\n");
	return 0;
}
