// SPDX-License-Identifier: GPL-2.0
/*
 * kdbus-bench: kdbus against AF_UNIX sockets and pipes, side by side, in one
 * run, on the same terms for every transport.
 *
 * One-way throughput. The sender and the receiver are two processes. Every
 * transport has the same in-flight window of W messages (32, fewer for
 * payloads above 256 KiB so that at most 8 MiB are in flight): the receiver
 * acknowledges every W/2 messages over an eventfd and the sender blocks on
 * that eventfd while W messages are unacknowledged. Socket and pipe buffers
 * are sized so that the window, not the buffer, is what stops the sender; if
 * a socket is full anyway the sender blocks in poll(POLLOUT). If kdbus
 * refuses a message (ENOBUFS/EXFULL) the sender waits for the next
 * acknowledgement (the "stalls" note). Nobody ever spins. Every receiver
 * runs the same loop: receive without blocking until EAGAIN, then
 * poll(POLLIN). Byte streams (AF_UNIX stream, pipe) are read with reads of
 * at most one message (fixed-size framing). Each row reports messages per
 * second, MB/s, and CPU ns per message: the CPU time of both processes
 * (CLOCK_PROCESS_CPUTIME_ID, measured by each), summed, over the messages.
 *
 * Round trip (ping-pong): one message each way at a time, the same receive
 * loop; the kdbus sync call is SEND with KDBUS_SEND_SYNC_REPLY answered by a
 * callee process (one ioctl per call on the caller's side).
 *
 * Every table row is the best of 3 runs (the highest rate: load on the host
 * of a TCG guest only ever slows a run down), the transports of one payload
 * size interleaved run by run.
 *
 * Bus state (64 B kdbus one-way, 5 alternating runs of each state; the best
 * and the median):
 * an empty bus; 1000 idle connections (HELLO'd, never reading) holding 100
 * well-known names; a receiver whose queue holds 256 parked messages (sent
 * beforehand by a connection of another user, so the per-user quota of 256
 * queued messages leaves the measured sender its whole window, at a less
 * urgent priority than the measured messages, which the receiver takes with
 * KDBUS_RECV_USE_PRIORITY; the parked ones stay queued throughout).
 *
 * Absolute numbers mean little under QEMU TCG; ratios measured side by side
 * in the same guest mean something. kdbus needs a kdbusfs mounted at
 * /sys/fs/kdbus and root (SO_SNDBUFFORCE, F_SETPIPE_SZ beyond the limit,
 * setresuid for the other user, RLIMIT_NOFILE).
 *
 * Syscall costs (-m c, not run by default): one process, the sender and
 * the receiver end of one transport, batches of 128 messages: the time of
 * each call (SEND, poll, RECV, FREE; send, poll, recv), the mean of the
 * fastest batch (the clock is read once per batch).
 *
 * Send by name (-m n): the 64 B kdbus one-way exchange above, the receiver
 * holding the well-known name org.bench.Sink, addressed once by its ID and
 * once by the name (dst_id 0 and a KDBUS_ITEM_DST_NAME item), both with the
 * same message builder; on an empty bus and with 100 idle connections
 * holding 100 other names; REPS alternating runs, the best and the median.
 *
 * Broadcast fan-out (-m f): the parent broadcasts 64 B signals (one
 * KDBUS_ITEM_BLOOM_FILTER of the bus bloom size, generation 0) to 10
 * receiver processes, each with one match entry of one BLOOM_MASK rule that
 * the filter covers; on a bus of just them and with 990 idle connections
 * besides (no match entries; on a second bus, <uid>-bench-fan, made once:
 * closing 990 connections takes seconds). Window: the sender waits (on an
 * eventfd the receivers signal every W/2 messages) while the slowest
 * receiver is W broadcasts behind, so no receiver quota or pool ever
 * fills; receivers run the common loop (RECV, FREE until EAGAIN, then
 * poll) and count the messages they got and RECV's dropped_msgs. Rows: broadcasts/s, the
 * sender's CPU ns per broadcast (the SEND: what grows with the bus) and the
 * CPU of all 11 processes per broadcast; REPS alternating runs.
 *
 * Usage: kdbus-bench [-v] [-t TRANSPORTS] [-s SIZES] [-m SECTIONS] [seconds-per-run]
 *   seconds-per-run  default 0.5
 *   -t  comma-separated transports to run (default all): seqpacket, stream,
 *       pipe, vec, vecfree, memfd, call (o, r and c sections); kdbus
 *       receivers free each slice in their next RECV (KDBUS_RECV_FREE)
 *       where the kernel offers it, except vecfree's, which call
 *       KDBUS_CMD_FREE after every RECV as kdbus clients always did
 *   -s  comma-separated payload sizes in bytes (default all; o, r, c)
 *   -m  sections: o one-way, r round trip, b bus state, n send by name,
 *       f broadcast fan-out, x disconnect, c syscall costs (default
 *       "orbnfx"); the goals
 *       are printed when o and b both run
 *   -v  one-way rows also show the voluntary context switches (sleeps) per
 *       message of the sender and of the receiver; the fan-out shows the
 *       setup and teardown times of each run
 *   e.g. `kdbus-bench -t vec -s 64 -m o 2`: the one 64 B kdbus one-way row
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/kdbus.h>

#define WINDOW		32u		/* one-way in-flight window, messages */
#define WINDOW_BYTES	(8u << 20)	/* ... and bytes at most */
#define POOL		(64u << 20)	/* pool of the measured connections */
#define SMALL_POOL	(16u << 10)	/* pool of idle and pre-filling ones */
#define IDLE_CONNS	1000
#define IDLE_NAMES	100
#define DEPTH		256		/* KDBUS_CONN_MAX_MSGS per user */
#define OTHER_UID	1000		/* the user that parks the messages */
#define ROUNDS		3		/* runs per table row, interleaved; best kept */
#define REPS		5		/* runs of the bus-state rows, alternating */
#define TAG_DATA	1
#define TAG_STOP	0xdead

static double secs = 0.5;
static unsigned kind_mask = ~0u;	/* -t: 1 << enum kind */
static size_t only_sizes[16];		/* -s: 0-terminated; empty: all */
static const char *sections = "orbnfx";	/* -m */
static int verbose;			/* -v */
static volatile sig_atomic_t stop_flag;

static void on_alarm(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* Sets stop_flag after @s seconds; blocking calls return EINTR. */
static void arm(double s)
{
	struct itimerval it = { 0 };

	stop_flag = 0;
	it.it_value.tv_sec = (time_t)s;
	it.it_value.tv_usec = (suseconds_t)((s - (time_t)s) * 1e6);
	if (!it.it_value.tv_sec && !it.it_value.tv_usec)
		it.it_value.tv_usec = 1;
	setitimer(ITIMER_REAL, &it, NULL);
}

static void disarm(void)
{
	struct itimerval it = { 0 };

	setitimer(ITIMER_REAL, &it, NULL);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
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

/* ------------------------------------------------------------ transports */

enum kind { T_SEQPACKET, T_STREAM, T_PIPE, T_KDBUS, T_MEMFD, T_CALL, T_VECFREE, N_KINDS };

static const char *const kind_name[] = {
	[T_SEQPACKET] = "AF_UNIX seqpacket",
	[T_STREAM] = "AF_UNIX stream",
	[T_PIPE] = "pipe",
	[T_KDBUS] = "kdbus vec",
	[T_MEMFD] = "kdbus memfd",
	[T_CALL] = "kdbus sync call",
	[T_VECFREE] = "kdbus vec+FREE",
};

static const char *const kind_opt[] = {
	[T_SEQPACKET] = "seqpacket", [T_STREAM] = "stream", [T_PIPE] = "pipe",
	[T_KDBUS] = "vec", [T_MEMFD] = "memfd", [T_CALL] = "call", [T_VECFREE] = "vecfree",
};

static int want_kind(enum kind k)
{
	return !!(kind_mask & (1u << k));
}

static int want_size(size_t size)
{
	if (!only_sizes[0])
		return 1;
	for (size_t i = 0; only_sizes[i]; i++)
		if (only_sizes[i] == size)
			return 1;
	return 0;
}

static int want_section(char c)
{
	return strchr(sections, c) != NULL;
}

struct kconn {
	int fd;
	uint64_t id;
	uint8_t *pool;
	size_t pool_size;
	int recv_free;		/* RECV frees the held slice (KDBUS_RECV_FREE) */
	uint64_t held;		/* the slice of the last RECV, pool_size if none */
};

/* One end of a transport, as used by one process. */
struct ep {
	enum kind kind;
	int rx, tx;		/* pipe and socket fds */
	size_t rxoff, txoff;	/* progress in the current message (byte streams) */
	struct kconn *k;	/* kdbus */
	uint64_t peer;		/* kdbus destination id */
	int memfd;		/* T_MEMFD: the sealed memfd sent each time */
	int64_t prio;		/* kdbus: priority of sent messages, RECV threshold */
	int use_prio;		/* kdbus: RECV with KDBUS_RECV_USE_PRIORITY */
	int ex;			/* kdbus vec: send with ksend_ex() */
	const char *dst_name;	/* ... to this name (peer 0) */
};

/* e[0] is the parent's end (sender, caller), e[1] the child's. */
struct pair {
	enum kind kind;
	struct ep e[2];
	struct kconn k[2];
	int fds[4];
};

/* ----------------------------------------------------------------- kdbus */

static char kbus_name[64];
static int kbus = -1;
static const char *kbus_suffix = "bench";	/* the bus is <uid>-<suffix> */

/* Swaps the current bus with the one saved in *@fd, @name. */
static void kbus_swap(int *fd, char *name)
{
	char tmp[sizeof(kbus_name)];
	int t = kbus;

	kbus = *fd;
	*fd = t;
	memcpy(tmp, kbus_name, sizeof(tmp));
	memcpy(kbus_name, name, sizeof(tmp));
	memcpy(name, tmp, sizeof(tmp));
}

static int kbus_make(void)
{
	uint64_t buf[32] = { 0 };
	struct kdbus_cmd *cmd = (struct kdbus_cmd *)buf;
	struct kdbus_item *item = cmd->items;

	if (kbus >= 0)
		return 0;
	snprintf(kbus_name, sizeof(kbus_name), "%u-%s", (unsigned)geteuid(), kbus_suffix);
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
	if (ioctl(kbus, KDBUS_CMD_BUS_MAKE, cmd) < 0) {
		close(kbus);
		kbus = -1;
		return -1;
	}
	return 0;
}

/* A connection on the bench bus (no metadata); @map: mmap its pool. */
static int kconn_open(struct kconn *c, size_t pool_size, int map)
{
	struct kdbus_cmd_hello hello = {
		.size = sizeof(hello), .pool_size = pool_size,
		.flags = KDBUS_HELLO_ACCEPT_FD,
	};
	struct kdbus_cmd_free f = { .size = sizeof(f) };
	char path[128];

	c->pool = NULL;
	c->pool_size = pool_size;
	if (kbus_make())
		return -1;
	snprintf(path, sizeof(path), "/sys/fs/kdbus/%s/bus", kbus_name);
	c->fd = open(path, O_RDWR | O_CLOEXEC);
	if (c->fd < 0)
		return -1;
	if (ioctl(c->fd, KDBUS_CMD_HELLO, &hello) < 0) {
		close(c->fd);
		return -1;
	}
	c->id = hello.id;
	f.offset = hello.offset;
	ioctl(c->fd, KDBUS_CMD_FREE, &f);
	/* Receivers use the kdbus-rs extension where the kernel reports it. */
	{
		struct kdbus_cmd_recv probe = { .size = sizeof(probe), .flags = KDBUS_FLAG_NEGOTIATE };

		c->recv_free = !ioctl(c->fd, KDBUS_CMD_RECV, &probe) &&
			       (probe.flags & KDBUS_RECV_FREE);
		c->held = pool_size;
	}
	if (map) {
		c->pool = mmap(NULL, pool_size, PROT_READ, MAP_SHARED, c->fd, 0);
		if (c->pool == MAP_FAILED) {
			close(c->fd);
			return -1;
		}
	}
	return 0;
}

static void kconn_close(struct kconn *c)
{
	if (c->pool)
		munmap(c->pool, c->pool_size);
	close(c->fd);
}

/* One message with one vector, or with @memfd >= 0 one memfd. Returns 0, 1
 * if the receiver's quota or pool is full (ENOBUFS, EXFULL), -1 on error.
 * A synchronous call interrupted by a signal is retried as is (calls.rst). */
static int ksend(struct kconn *c, uint64_t dst, const void *data, size_t size, int memfd,
		 uint64_t cookie, int64_t prio, uint64_t msg_flags, uint64_t timeout_or_reply,
		 struct kdbus_cmd_send *out)
{
	struct {
		struct kdbus_msg msg;
		struct kdbus_item item;
	} m;
	struct kdbus_cmd_send cmd = { .size = sizeof(cmd), .msg_address = (uintptr_t)&m };

	memset(&m, 0, sizeof(m));
	m.msg.dst_id = dst;
	m.msg.payload_type = KDBUS_PAYLOAD_DBUS;
	m.msg.cookie = cookie;
	m.msg.priority = prio;
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
		if (errno == EINTR && (cmd.flags & KDBUS_SEND_SYNC_REPLY))
			continue;
		return errno == ENOBUFS || errno == EXFULL ? 1 : -1;
	}
	if (out)
		*out = cmd;
	return 0;
}

/* One message with one vector, built item by item: addressed to @dst, and
 * with @name a DST_NAME item (@dst 0: by name); with @bloom a broadcast
 * signal carrying a BLOOM_FILTER of @bloom_size bytes, generation 0.
 * Returns as ksend(). */
static int ksend_ex(struct kconn *c, uint64_t dst, const char *name, const void *data,
		    size_t size, uint64_t cookie, const uint64_t *bloom, size_t bloom_size)
{
	uint64_t buf[80];
	struct kdbus_msg *m = (struct kdbus_msg *)buf;
	struct kdbus_item *item;
	struct kdbus_cmd_send cmd = { .size = sizeof(cmd), .msg_address = (uintptr_t)buf };
	size_t len = sizeof(*m) + 32;

	if (name)
		len += (16 + strlen(name) + 1 + 7) & ~7ULL;
	if (bloom)
		len += 24 + bloom_size;
	if (len > sizeof(buf))
		return -1;
	memset(buf, 0, len);
	m->size = len;
	m->dst_id = dst;
	m->payload_type = KDBUS_PAYLOAD_DBUS;
	m->cookie = cookie;
	m->flags = bloom ? KDBUS_MSG_SIGNAL : 0;
	item = m->items;
	item->size = 32;
	item->type = KDBUS_ITEM_PAYLOAD_VEC;
	item->vec.size = size;
	item->vec.address = (uintptr_t)data;
	item = (struct kdbus_item *)((char *)item + 32);
	if (name) {
		item->size = 16 + strlen(name) + 1;
		item->type = KDBUS_ITEM_DST_NAME;
		strcpy(item->str, name);
		item = (struct kdbus_item *)((char *)item + ((item->size + 7) & ~7ULL));
	}
	if (bloom) {
		item->size = 24 + bloom_size;
		item->type = KDBUS_ITEM_BLOOM_FILTER;
		item->bloom_filter.generation = 0;
		memcpy(item->bloom_filter.data, bloom, bloom_size);
	}
	if (ioctl(c->fd, KDBUS_CMD_SEND, &cmd) < 0)
		return errno == ENOBUFS || errno == EXFULL ? 1 : -1;
	return 0;
}

/* Acquires @name for @c: 0 or the errno. */
static int kname_acquire(struct kconn *c, const char *name)
{
	uint64_t buf[16] = { 0 };
	struct kdbus_cmd *cmd = (struct kdbus_cmd *)buf;
	struct kdbus_item *item = cmd->items;

	snprintf(item->str, 64, "%s", name);
	item->size = 16 + strlen(item->str) + 1;
	item->type = KDBUS_ITEM_NAME;
	cmd->size = sizeof(*cmd) + ((item->size + 7) & ~7ULL);
	return ioctl(c->fd, KDBUS_CMD_NAME_ACQUIRE, cmd) < 0 ? errno : 0;
}

/* One RECV without blocking: 0 (cookie and sender in *@cookie, *@src), 1 on
 * EAGAIN, -1 on error. Closes a received memfd and frees the slice: with
 * KDBUS_RECV_FREE, in the next RECV; else with KDBUS_CMD_FREE at once. */
static int krecv(struct kconn *c, int use_prio, int64_t prio, uint64_t *cookie, uint64_t *src)
{
	struct kdbus_cmd_recv cmd = { .size = sizeof(cmd) };
	struct kdbus_cmd_free f = { .size = sizeof(f) };
	struct kdbus_msg *msg;
	struct kdbus_item *item;

	if (use_prio) {
		cmd.flags = KDBUS_RECV_USE_PRIORITY;
		cmd.priority = prio;
	}
	if (c->recv_free) {
		cmd.flags |= KDBUS_RECV_FREE;
		cmd.msg.offset = c->held;
	}
	if (ioctl(c->fd, KDBUS_CMD_RECV, &cmd) < 0) {
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		/* The free came first; EINTR: nothing happened. */
		if (errno == EAGAIN)
			c->held = c->pool_size;
		return 1;
	}
	msg = (struct kdbus_msg *)(c->pool + cmd.msg.offset);
	*cookie = msg->cookie;
	if (src)
		*src = msg->src_id;
	for (item = msg->items; (uint8_t *)item < (uint8_t *)msg + msg->size;
	     item = (struct kdbus_item *)((uint8_t *)item + ((item->size + 7) & ~7ULL))) {
		if (item->size < 16)
			break;
		if (item->type == KDBUS_ITEM_PAYLOAD_MEMFD && item->memfd.fd >= 0)
			close(item->memfd.fd);
	}
	if (c->recv_free) {
		c->held = cmd.msg.offset;
		return 0;
	}
	f.offset = cmd.msg.offset;
	ioctl(c->fd, KDBUS_CMD_FREE, &f);
	return 0;
}

/* A sealed memfd of @size bytes. */
static int make_memfd(size_t size)
{
	int fd = memfd_create("kdbus-bench", MFD_ALLOW_SEALING | MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (ftruncate(fd, size) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ------------------------------------------------------ generic endpoint */

/* Sends one message without blocking: 0 sent, 1 would block (socket or pipe
 * full; kdbus quota or pool full), -1 error. A byte stream may have sent
 * part of the message; the next call goes on with it. */
static int ep_send(struct ep *e, char *buf, size_t size, uint64_t tag)
{
	if (e->kind >= T_KDBUS && e->ex)
		return ksend_ex(e->k, e->peer, e->dst_name, buf, size, tag, NULL, 0);
	if (e->kind >= T_KDBUS)
		return ksend(e->k, e->peer, buf, size, e->kind == T_MEMFD ? e->memfd : -1, tag,
			     e->prio, 0, 0, NULL);
	if (!e->txoff)
		memcpy(buf, &tag, sizeof(tag));
	while (e->txoff < size) {
		ssize_t n = e->kind == T_PIPE ? write(e->tx, buf + e->txoff, size - e->txoff)
					      : send(e->tx, buf + e->txoff, size - e->txoff, 0);

		if (n < 0) {
			if (errno == EAGAIN)
				return 1;
			if (errno == EINTR)
				continue;
			return -1;
		}
		e->txoff += n;
	}
	e->txoff = 0;
	return 0;
}

/* Receives one message without blocking: 0 (its tag in *@tag), 1 on EAGAIN,
 * -1 on error or EOF. Byte streams read at most the rest of one message. */
static int ep_recv(struct ep *e, char *buf, size_t size, uint64_t *tag)
{
	if (e->kind >= T_KDBUS)
		return krecv(e->k, e->use_prio, e->prio, tag, NULL);
	while (e->rxoff < size) {
		ssize_t n = e->kind == T_PIPE ? read(e->rx, buf + e->rxoff, size - e->rxoff)
					      : recv(e->rx, buf + e->rxoff, size - e->rxoff, 0);

		if (n < 0) {
			if (errno == EAGAIN)
				return 1;
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			return -1;
		e->rxoff += n;
	}
	e->rxoff = 0;
	memcpy(tag, buf, sizeof(*tag));
	return 0;
}

static void ep_wait(struct ep *e, short events)
{
	struct pollfd p = {
		.fd = e->kind >= T_KDBUS ? e->k->fd : events == POLLIN ? e->rx : e->tx,
		.events = events,
	};

	poll(&p, 1, -1);	/* EINTR: the caller tries again */
}

/* The receive loop of every receiver: try, and on EAGAIN poll(POLLIN). */
static int recv_one(struct ep *e, char *buf, size_t size, uint64_t *tag)
{
	int r;

	while ((r = ep_recv(e, buf, size, tag)) == 1)
		ep_wait(e, POLLIN);
	return r;
}

/* Sends one message, blocking in poll(POLLOUT) while a socket or pipe is
 * full; for kdbus (no POLLOUT wait exists) a full receiver is an error. */
static int send_one(struct ep *e, char *buf, size_t size, uint64_t tag)
{
	int r;

	while ((r = ep_send(e, buf, size, tag)) == 1) {
		if (e->kind >= T_KDBUS)
			return -1;
		ep_wait(e, POLLOUT);
	}
	return r;
}

static void sockbuf(int fd, size_t bytes)
{
	int sz = bytes > (64u << 20) ? 64 << 20 : (int)bytes;

	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

/* Sets up a transport whose buffers hold @w messages of @size bytes with
 * room to spare (so the window is the limit, not the buffer). */
static int pair_open(struct pair *p, enum kind kind, size_t size, unsigned w, int memfd)
{
	size_t buf = 2 * (size_t)w * (size + 1024) + (256 << 10);
	int i;

	memset(p, 0, sizeof(*p));
	p->kind = kind;
	for (i = 0; i < 4; i++)
		p->fds[i] = -1;
	for (i = 0; i < 2; i++) {
		p->e[i].kind = kind;
		p->e[i].memfd = memfd;
	}
	if (kind == T_PIPE) {
		int a[2], b[2];
		size_t psz = 1 << 16;

		if (pipe2(a, O_NONBLOCK | O_CLOEXEC))
			return -1;
		if (pipe2(b, O_NONBLOCK | O_CLOEXEC)) {
			close(a[0]);
			close(a[1]);
			return -1;
		}
		while (psz < buf / 2)
			psz <<= 1;
		fcntl(a[1], F_SETPIPE_SZ, (int)psz);
		fcntl(b[1], F_SETPIPE_SZ, (int)psz);
		p->fds[0] = a[0], p->fds[1] = a[1], p->fds[2] = b[0], p->fds[3] = b[1];
		p->e[0].tx = a[1], p->e[1].rx = a[0];
		p->e[1].tx = b[1], p->e[0].rx = b[0];
		return 0;
	}
	if (kind == T_SEQPACKET || kind == T_STREAM) {
		int sv[2];

		if (socketpair(AF_UNIX, (kind == T_STREAM ? SOCK_STREAM : SOCK_SEQPACKET) |
			       SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv))
			return -1;
		sockbuf(sv[0], buf);
		sockbuf(sv[1], buf);
		p->fds[0] = sv[0], p->fds[1] = sv[1];
		p->e[0].rx = p->e[0].tx = sv[0];
		p->e[1].rx = p->e[1].tx = sv[1];
		return 0;
	}
	if (kconn_open(&p->k[0], POOL, 1))
		return -1;
	if (kconn_open(&p->k[1], POOL, 1)) {
		kconn_close(&p->k[0]);
		return -1;
	}
	if (kind == T_VECFREE)
		p->k[0].recv_free = p->k[1].recv_free = 0;
	p->e[0].k = &p->k[0], p->e[0].peer = p->k[1].id;
	p->e[1].k = &p->k[1], p->e[1].peer = p->k[0].id;
	return 0;
}

static void pair_close(struct pair *p)
{
	int i;

	if (p->kind >= T_KDBUS) {
		kconn_close(&p->k[0]);
		kconn_close(&p->k[1]);
		return;
	}
	for (i = 0; i < 4; i++)
		if (p->fds[i] >= 0)
			close(p->fds[i]);
}

/* --------------------------------------------------------- measurements */

struct cell {
	int ok;
	uint64_t n;		/* messages (one-way) or round trips */
	double wall;		/* seconds */
	double rate;		/* n per second */
	double mbs;		/* payload MB/s (one-way) */
	double cpu;		/* CPU ns of both processes per message / round trip */
	uint64_t stalls;	/* kdbus sends refused for a full quota or pool */
	double csw_tx, csw_rx;	/* one-way: voluntary context switches per message */
};

/* Voluntary context switches of the calling process so far. */
static uint64_t csw_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_nvcsw;
}

static char *payload(size_t size)
{
	char *buf = malloc(size);

	if (buf)
		memset(buf, 0x5a, size);
	return buf;
}

static void wait_credit(int efd, uint64_t *acked)
{
	uint64_t v;

	if (read(efd, &v, sizeof(v)) == sizeof(v))
		*acked += v;
}

/* Sends one message of the window: blocks for a credit or poll(POLLOUT) as
 * needed. Returns 0, or -1 on error. With @stoppable, returns 1 when the
 * time is up before anything of the message was sent. */
static int window_send(struct ep *e, char *buf, size_t size, uint64_t tag, unsigned w,
		       int efd, uint64_t *sent, uint64_t *acked, uint64_t *stalls, int stoppable)
{
	for (;;) {
		int r;

		if (stoppable && stop_flag && !e->txoff)
			return 1;
		if (*sent - *acked >= w) {
			wait_credit(efd, acked);
			continue;
		}
		r = ep_send(e, buf, size, tag);
		if (r <= 0) {
			if (!r)
				(*sent)++;
			return r;
		}
		if (e->kind >= T_KDBUS) {
			/* Refused: wait for the receiver to take some. */
			(*stalls)++;
			if (*sent == *acked)
				return -1;
			wait_credit(efd, acked);
		} else {
			ep_wait(e, POLLOUT);
		}
	}
}

/* One-way throughput over @p: the parent sends e[0] -> e[1] for `secs`. */
static struct cell oneway(struct pair *p, size_t size, unsigned w)
{
	struct cell c = { 0 };
	char *buf = payload(size);
	uint64_t rep[3], sent = 0, acked = 0, c0, s0;
	int efd = eventfd(0, EFD_CLOEXEC), res[2] = { -1, -1 };
	double t0;
	char ready;
	pid_t pid;

	if (!buf || efd < 0 || pipe2(res, O_CLOEXEC))
		goto out;
	pid = fork();
	if (pid < 0)
		goto out;
	if (pid == 0) {
		struct ep *e = &p->e[1];
		uint64_t n = 0, since = 0, tag, r0 = cpu_now(), w0 = csw_now();
		int r;

		xwrite(res[1], "r", 1);
		for (;;) {
			r = ep_recv(e, buf, size, &tag);
			if (r == 1) {
				ep_wait(e, POLLIN);
				continue;
			}
			if (r < 0 || tag == TAG_STOP)
				break;
			n++;
			if (++since == w / 2) {
				xwrite(efd, &since, sizeof(since));
				since = 0;
			}
		}
		rep[0] = r < 0 ? UINT64_MAX : n;
		rep[1] = cpu_now() - r0;
		rep[2] = csw_now() - w0;
		xwrite(res[1], rep, sizeof(rep));
		_exit(0);
	}
	if (xread(res[0], &ready, 1))
		goto reap;
	t0 = now();
	c0 = cpu_now();
	s0 = csw_now();
	arm(secs);
	while (!window_send(&p->e[0], buf, size, TAG_DATA, w, efd, &sent, &acked, &c.stalls, 1))
		;
	disarm();
	if (!stop_flag || window_send(&p->e[0], buf, size, TAG_STOP, w, efd, &sent, &acked,
				      &c.stalls, 0))
		goto reap;
	if (xread(res[0], rep, sizeof(rep)) || rep[0] == UINT64_MAX || !rep[0])
		goto reap;
	c.wall = now() - t0;
	c.n = rep[0];
	c.rate = c.n / c.wall;
	c.mbs = (double)c.n * size / c.wall / 1e6;
	c.cpu = (double)(cpu_now() - c0 + rep[1]) / c.n;
	c.csw_tx = (double)(csw_now() - s0) / c.n;
	c.csw_rx = (double)rep[2] / c.n;
	c.ok = 1;
reap:
	disarm();
	if (!c.ok)
		kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
out:
	if (efd >= 0)
		close(efd);
	if (res[0] >= 0) {
		close(res[0]);
		close(res[1]);
	}
	free(buf);
	return c;
}

/* Round trips: the parent sends e[0] -> e[1], the child echoes it back. */
static struct cell roundtrip(struct pair *p, size_t size)
{
	struct cell c = { 0 };
	char *buf = payload(size);
	uint64_t rep[2], tag, c0;
	int res[2] = { -1, -1 };
	double t0;
	char ready;
	pid_t pid;

	if (!buf || pipe2(res, O_CLOEXEC))
		goto out;
	pid = fork();
	if (pid < 0)
		goto out;
	if (pid == 0) {
		struct ep *e = &p->e[1];
		uint64_t r0 = cpu_now();
		int r;

		xwrite(res[1], "r", 1);
		while (!(r = recv_one(e, buf, size, &tag)) && tag != TAG_STOP)
			if ((r = send_one(e, buf, size, TAG_DATA)))
				break;
		rep[0] = r < 0 ? UINT64_MAX : 0;
		rep[1] = cpu_now() - r0;
		xwrite(res[1], rep, sizeof(rep));
		_exit(0);
	}
	if (xread(res[0], &ready, 1))
		goto reap;
	t0 = now();
	c0 = cpu_now();
	arm(secs);
	while (!stop_flag) {
		if (send_one(&p->e[0], buf, size, TAG_DATA) || recv_one(&p->e[0], buf, size, &tag))
			goto reap;
		c.n++;
	}
	disarm();
	if (send_one(&p->e[0], buf, size, TAG_STOP) || xread(res[0], rep, sizeof(rep)) ||
	    rep[0] == UINT64_MAX || !c.n)
		goto reap;
	c.wall = now() - t0;
	c.rate = c.n / c.wall;
	c.cpu = (double)(cpu_now() - c0 + rep[1]) / c.n;
	c.ok = 1;
reap:
	disarm();
	if (!c.ok)
		kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
out:
	if (res[0] >= 0) {
		close(res[0]);
		close(res[1]);
	}
	free(buf);
	return c;
}

/* Synchronous method calls (SEND with SYNC_REPLY, the D-Bus pattern): the
 * callee receives each call with the common loop and replies; the caller's
 * SEND returns the reply, whose slice it frees. */
static struct cell kdbus_call(size_t size)
{
	struct cell c = { 0 };
	struct pair p;
	struct kdbus_cmd_free f = { .size = sizeof(f) };
	char *buf = payload(size);
	uint64_t rep[2], c0, cookie = 1;
	int res[2] = { -1, -1 };
	double t0, t;
	char ready;
	pid_t pid;

	if (!buf || pipe2(res, O_CLOEXEC)) {
		free(buf);
		return c;
	}
	if (pair_open(&p, T_CALL, size, 1, -1))
		goto out;
	pid = fork();
	if (pid < 0)
		goto shut;
	if (pid == 0) {
		uint64_t r0 = cpu_now(), src, ck;
		int r;

		xwrite(res[1], "r", 1);
		for (;;) {
			r = krecv(&p.k[1], 0, 0, &ck, &src);
			if (r == 1) {
				ep_wait(&p.e[1], POLLIN);
				continue;
			}
			if (r < 0 || ck == TAG_STOP)
				break;
			if ((r = ksend(&p.k[1], src, buf, size, -1, 1, 0, 0, ck, NULL)))
				break;
		}
		rep[0] = r ? UINT64_MAX : 0;
		rep[1] = cpu_now() - r0;
		xwrite(res[1], rep, sizeof(rep));
		_exit(0);
	}
	if (xread(res[0], &ready, 1))
		goto reap;
	t0 = now();
	c0 = cpu_now();
	do {
		struct kdbus_cmd_send out;
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (ksend(&p.k[0], p.k[1].id, buf, size, -1, ++cookie, 0, KDBUS_MSG_EXPECT_REPLY,
			  (ts.tv_sec + 10) * 1000000000ULL + ts.tv_nsec, &out))
			goto reap;
		f.offset = out.reply.offset;
		ioctl(p.k[0].fd, KDBUS_CMD_FREE, &f);
		c.n++;
		t = ts.tv_sec + ts.tv_nsec / 1e9;
	} while (t - t0 < secs);
	if (ksend(&p.k[0], p.k[1].id, buf, 8, -1, TAG_STOP, 0, 0, 0, NULL) ||
	    xread(res[0], rep, sizeof(rep)) || rep[0] == UINT64_MAX)
		goto reap;
	c.wall = now() - t0;
	c.rate = c.n / c.wall;
	c.cpu = (double)(cpu_now() - c0 + rep[1]) / c.n;
	c.ok = 1;
reap:
	if (!c.ok)
		kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
shut:
	pair_close(&p);
out:
	close(res[0]);
	close(res[1]);
	free(buf);
	return c;
}

/* Keeps the run with the highest rate (host load only ever slows a run);
 * stalls add up over the runs. */
static void keep_best(struct cell *best, struct cell c)
{
	uint64_t stalls = best->stalls + c.stalls;

	if (c.ok && (!best->ok || c.rate > best->rate))
		*best = c;
	best->stalls = stalls;
}

static unsigned window_for(size_t size)
{
	size_t w = WINDOW_BYTES / size;

	return w > WINDOW ? WINDOW : w < 2 ? 2 : (unsigned)w;
}

static struct cell measure_oneway(enum kind kind, size_t size)
{
	struct cell c = { 0 };
	struct pair p;
	int memfd = -1;

	if (kind == T_MEMFD && (memfd = make_memfd(size)) < 0)
		return c;
	if (!pair_open(&p, kind, size, window_for(size), memfd)) {
		c = oneway(&p, size, window_for(size));
		pair_close(&p);
	}
	if (memfd >= 0)
		close(memfd);
	return c;
}

static struct cell measure_roundtrip(enum kind kind, size_t size)
{
	struct cell c = { 0 };
	struct pair p;

	if (kind == T_CALL)
		return kdbus_call(size);
	if (!pair_open(&p, kind, size, 1, -1)) {
		c = roundtrip(&p, size);
		pair_close(&p);
	}
	return c;
}

/* ------------------------------------------------------------ bus state */

static struct kconn idle[IDLE_CONNS];
static int n_idle;

/* @conns idle connections; the first @nnames try to acquire a name each.
 * Returns the number of names held; *@err is the first NAME_ACQUIRE errno. */
static int idle_open_n(int conns, int nnames, int *err)
{
	int names = 0;

	*err = 0;
	for (n_idle = 0; n_idle < conns && n_idle < IDLE_CONNS; n_idle++)
		if (kconn_open(&idle[n_idle], SMALL_POOL, 0))
			break;
	for (int i = 0; i < nnames && i < n_idle && !*err; i++) {
		char name[64];

		snprintf(name, sizeof(name), "org.kdbus.bench.n%d", i);
		*err = kname_acquire(&idle[i], name);
		names += !*err;
	}
	return names;
}

/* 1000 idle connections, the first 100 holding a name each. */
static int idle_open(int *err)
{
	return idle_open_n(IDLE_CONNS, IDLE_NAMES, err);
}

static void idle_close(void)
{
	while (n_idle > 0)
		kconn_close(&idle[--n_idle]);
}

/* Parks up to DEPTH 64 B messages, priority 1, from a connection @c of
 * another user (its HELLO is made with real UID OTHER_UID; the handle was
 * opened as root, so it may talk to anyone) in @dst's queue. */
static int park(struct kconn *c, uint64_t dst)
{
	char buf[64] = { 0 };
	int n = 0, r;

	if (setresuid(OTHER_UID, -1, -1))
		return -1;
	r = kconn_open(c, SMALL_POOL, 0);
	if (setresuid(0, -1, -1) || r)
		return -1;
	while (n < DEPTH && !ksend(c, dst, buf, sizeof(buf), -1, 7, 1, 0, 0, NULL))
		n++;
	return n;
}

enum state { S_EMPTY, S_IDLE, S_PRIO, S_DEPTH, N_STATES };

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ------------------------------------------------------------------ main */

/* CPUs and clock source: with the jiffies clock, times have the resolution
 * of a tick and CPU times are tick samples. */
static void print_machine(void)
{
	char cs[64] = "?";
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");

	if (f) {
		if (fgets(cs, sizeof(cs), f))
			cs[strcspn(cs, "\n")] = 0;
		fclose(f);
	}
	printf("machine: %ld CPU(s) online, clocksource %s%s\n\n", sysconf(_SC_NPROCESSORS_ONLN), cs,
	       strstr(cs, "jiffies") ? " (tick resolution: CPU times are tick samples)" : "");
}

/* One goal line: x / base against @target (at least with @ge, else at most);
 * @time: the time-per-message ratio, for cost goals. */
static void goal(const char *what, double x, double base, int ok, double target, int ge,
		 const char *time)
{
	char r[16], t[48] = "";
	double q = ok && base > 0 ? x / base : 0;

	if (time)
		snprintf(t, sizeof(t), ", time/msg %s", time);
	if (!ok || base <= 0) {
		printf("  %-50s %7s  (goal %s %.2fx%s)  n/a\n", what, "-", ge ? ">=" : "<=", target, t);
		return;
	}
	snprintf(r, sizeof(r), "%.2fx", q);
	printf("  %-50s %7s  (goal %s %.2fx%s)  %s\n", what, r, ge ? ">=" : "<=", target, t,
	       (ge ? q >= target : q <= target) ? "met" : "missed");
}

static const char *size_str(size_t size)
{
	static char s[32];

	if (size >= (1 << 20))
		snprintf(s, sizeof(s), "%zu MiB", size >> 20);
	else if (size >= 1024)
		snprintf(s, sizeof(s), "%zu KiB", size >> 10);
	else
		snprintf(s, sizeof(s), "%zu B", size);
	return s;
}

static void ratio(char *s, double x, double base, int ok)
{
	if (ok && base > 0)
		sprintf(s, "%.2fx", x / base);
	else
		strcpy(s, "-");
}

static int parse_args(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "t:s:m:v")) != -1) {
		char *tok, *save = NULL;
		size_t n = 0;

		switch (opt) {
		case 't':
			kind_mask = 0;
			for (tok = strtok_r(optarg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				int k;

				for (k = 0; k < N_KINDS && strcmp(tok, kind_opt[k]); k++)
					;
				if (k == N_KINDS) {
					fprintf(stderr, "kdbus-bench: unknown transport %s\n", tok);
					return -1;
				}
				kind_mask |= 1u << k;
			}
			break;
		case 's':
			for (tok = strtok_r(optarg, ",", &save); tok && n < 15;
			     tok = strtok_r(NULL, ",", &save))
				only_sizes[n++] = strtoul(tok, NULL, 0);
			only_sizes[n] = 0;
			break;
		case 'm':
			sections = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			fprintf(stderr, "usage: kdbus-bench [-v] [-t TRANSPORTS] [-s SIZES] "
				"[-m SECTIONS] [seconds-per-run]\n");
			return -1;
		}
	}
	if (optind < argc)
		secs = atof(argv[optind]);
	if (secs <= 0)
		secs = 0.5;
	return 0;
}

/* --------------------------------------------------------- syscall costs */

#define BATCH	128
#define MAX_BATCHES 4096

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

enum { OP_SEND, OP_POLL, OP_RECV, OP_FREE, OP_NULL, N_OPS };

static const char *const op_name[N_OPS] = {
	[OP_SEND] = "send", [OP_POLL] = "poll (readable)", [OP_RECV] = "recv",
	[OP_FREE] = "FREE", [OP_NULL] = "null call",
};

/* ns per call of each op: the fastest batch's mean (host load on a TCG guest
 * only ever slows a batch down, as for the table rows). */
static void costs_print(const char *what, double (*t)[N_OPS], int n, const int *ops)
{
	printf("%-18s", what);
	for (int o = 0; o < N_OPS; o++) {
		double best = 0;

		if (!ops[o]) {
			printf(" %10s", "-");
			continue;
		}
		for (int b = 0; b < n; b++)
			if (!b || t[b][o] < best)
				best = t[b][o];
		printf(" %10.0f", best);
	}
	printf("\n");
}

/* Per-call costs, one process: batches of BATCH sends, polls, receives. */
static void syscall_costs_one(enum kind kind, size_t size)
{
	static double t[MAX_BATCHES][N_OPS];
	int ops[N_OPS] = { 0 }, n = 0;
	char *buf = payload(size), label[48];
	struct pair p;
	double t_end;

	if (!buf)
		return;
	if (pair_open(&p, kind == T_KDBUS ? T_KDBUS : kind, size, 2 * BATCH, -1)) {
		free(buf);
		return;
	}
	ops[OP_SEND] = ops[OP_POLL] = ops[OP_RECV] = ops[OP_NULL] = 1;
	ops[OP_FREE] = kind >= T_KDBUS;
	t_end = now() + secs;
	while (n < MAX_BATCHES && now() < t_end) {
		uint64_t off[BATCH], t0, t1;
		int fail = 0;

		/* send */
		t0 = mono_ns();
		for (int i = 0; i < BATCH; i++)
			fail |= ep_send(&p.e[0], buf, size, TAG_DATA) != 0;
		t1 = mono_ns();
		t[n][OP_SEND] = (double)(t1 - t0) / BATCH;
		/* poll on a readable receiver */
		t0 = mono_ns();
		for (int i = 0; i < BATCH; i++) {
			struct pollfd pf = {
				.fd = kind >= T_KDBUS ? p.k[1].fd : p.e[1].rx, .events = POLLIN,
			};

			fail |= poll(&pf, 1, 0) != 1;
		}
		t1 = mono_ns();
		t[n][OP_POLL] = (double)(t1 - t0) / BATCH;
		/* recv (kdbus: RECV and the read of the header in the pool) */
		t0 = mono_ns();
		for (int i = 0; i < BATCH; i++) {
			if (kind >= T_KDBUS) {
				struct kdbus_cmd_recv cmd = { .size = sizeof(cmd) };
				const struct kdbus_msg *m;

				if (ioctl(p.k[1].fd, KDBUS_CMD_RECV, &cmd) < 0) {
					fail = 1;
					break;
				}
				off[i] = cmd.msg.offset;
				m = (const struct kdbus_msg *)(p.k[1].pool + off[i]);
				fail |= m->cookie != TAG_DATA;
			} else {
				uint64_t tag;

				fail |= ep_recv(&p.e[1], buf, size, &tag) != 0;
			}
		}
		t1 = mono_ns();
		t[n][OP_RECV] = (double)(t1 - t0) / BATCH;
		if (kind >= T_KDBUS) {
			t0 = mono_ns();
			for (int i = 0; i < BATCH; i++) {
				struct kdbus_cmd_free f = { .size = sizeof(f), .offset = off[i] };

				fail |= ioctl(p.k[1].fd, KDBUS_CMD_FREE, &f) < 0;
			}
			t1 = mono_ns();
			t[n][OP_FREE] = (double)(t1 - t0) / BATCH;
		}
		/* the cheapest call on the same file: an unknown ioctl (ENOTTY) */
		t0 = mono_ns();
		for (int i = 0; i < BATCH; i++)
			ioctl(kind >= T_KDBUS ? p.k[1].fd : p.e[1].rx, _IO(0x99, 0x7f), 0);
		t1 = mono_ns();
		t[n][OP_NULL] = (double)(t1 - t0) / BATCH;
		if (fail) {
			printf("%s %zu B: a call failed (%s)\n", kind_name[kind], size,
			       strerror(errno));
			break;
		}
		n++;
	}
	snprintf(label, sizeof(label), "%s %zu B", kind_opt[kind], size);
	costs_print(label, t, n, ops);
	pair_close(&p);
	free(buf);
}

static void syscall_costs(void)
{
	static const size_t sizes[] = { 64, 4096 };
	static const enum kind kinds[] = { T_SEQPACKET, T_KDBUS };

	printf("Syscall costs: one process, batches of %d messages, ns per call (the\n"
	       "mean of the fastest batch); \"null call\" is an unknown ioctl on the same\n"
	       "file (ENOTTY: the syscall and dispatch floor).\n\n", BATCH);
	printf("%-18s", "transport");
	for (int o = 0; o < N_OPS; o++)
		printf(" %10s", o == OP_POLL ? "poll" : op_name[o]);
	printf("\n");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (!want_size(sizes[i]))
			continue;
		for (size_t j = 0; j < sizeof(kinds) / sizeof(kinds[0]); j++)
			if (want_kind(kinds[j]))
				syscall_costs_one(kinds[j], sizes[i]);
	}
	printf("\n");
}

/* ---------------------------------------------------------- send by name */

#define SINK_NAME	"org.bench.Sink"
#define NAME_OTHERS	100	/* other names on the bus, by idle connections */

/* 64 B one-way over a new kdbus pair whose receiver holds SINK_NAME, sent
 * by ID or by name with the same builder (ksend_ex). *@err: the errno of a
 * failed NAME_ACQUIRE. */
static struct cell measure_named(int by_name, int *err)
{
	struct cell c = { 0 };
	struct pair p;

	if (pair_open(&p, T_KDBUS, 64, WINDOW, -1))
		return c;
	*err = kname_acquire(&p.k[1], SINK_NAME);
	if (!*err) {
		p.e[0].ex = 1;
		if (by_name) {
			p.e[0].peer = KDBUS_DST_ID_NAME;
			p.e[0].dst_name = SINK_NAME;
		}
		c = oneway(&p, 64, WINDOW);
	}
	pair_close(&p);
	return c;
}

static void names_section(void)
{
	enum { N_ROWS = 4 };	/* empty bus by ID, by name; 100 names by ID, by name */
	double rate[N_ROWS][REPS] = { { 0 } }, cpu[N_ROWS][REPS] = { { 0 } };
	double b_rate[N_ROWS] = { 0 }, b_cpu[N_ROWS] = { 0 }, med[N_ROWS] = { 0 };
	int ok[N_ROWS] = { 0 }, names = 0, name_err = 0, made = 0, err = 0;
	char r1[16], r2[16], label[96];

	for (int rep = 0; rep < REPS; rep++) {
		for (int row = 0; row < N_ROWS; row++) {
			struct cell c;

			if (row == 2) {
				int n = idle_open_n(NAME_OTHERS, NAME_OTHERS, &name_err);

				if (!rep)
					names = n;
				made = n_idle;
			}
			c = measure_named(row & 1, &err);
			rate[row][ok[row]] = c.rate;
			cpu[row][ok[row]] = c.cpu;
			ok[row] += c.ok;
			if (row == 3)
				idle_close();
		}
	}
	printf("Send by name: 64 B kdbus vec one-way, W %u, %d alternating runs: the best\n"
	       "msgs/s and CPU/msg, and the median CPU/msg. The receiver holds %s;\n"
	       "by ID: dst_id = its ID; by name: dst_id 0 and a DST_NAME item (same builder).\n"
	       "Other names: held by idle connections HELLO'd before the measured pair.\n\n",
	       WINDOW, REPS, SINK_NAME);
	if (err)
		printf("NAME_ACQUIRE %s: %s\n", SINK_NAME, strerror(err));
	if (name_err)
		printf("NAME_ACQUIRE of the other names: %s\n", strerror(name_err));
	snprintf(label, sizeof(label), "%d idle conns, %d other names", made, names);
	printf("%-32s %-8s %9s %10s %10s | %s\n", "", "", "best", "best", "median",
	       "vs by ID (best)");
	printf("%-32s %-8s %9s %10s %10s | %8s %8s\n", "bus", "address", "msgs/s", "CPU ns/msg",
	       "CPU ns/msg", "msgs/s", "CPU/msg");
	for (int row = 0; row < N_ROWS; row++) {
		const char *bus = row == 0 ? "empty bus (2 conns)" : row == 2 ? label : "";
		const char *how = row & 1 ? "by name" : "by ID";

		if (!ok[row]) {
			printf("%-32s %-8s %9s %10s %10s |\n", bus, how, "failed", "", "");
			continue;
		}
		med[row] = median(cpu[row], ok[row]);
		b_cpu[row] = cpu[row][0];	/* sorted by median() */
		median(rate[row], ok[row]);
		b_rate[row] = rate[row][ok[row] - 1];
		if (!(row & 1)) {
			printf("%-32s %-8s %9.0f %10.0f %10.0f |\n", bus, how, b_rate[row],
			       b_cpu[row], med[row]);
			continue;
		}
		ratio(r1, b_rate[row], b_rate[row - 1], ok[row - 1]);
		ratio(r2, b_cpu[row], b_cpu[row - 1], ok[row - 1]);
		printf("%-32s %-8s %9.0f %10.0f %10.0f | %8s %8s\n", bus, how, b_rate[row],
		       b_cpu[row], med[row], r1, r2);
	}
	ratio(r1, b_cpu[3], b_cpu[1], ok[3] && ok[1]);
	ratio(r2, b_cpu[2], b_cpu[0], ok[2] && ok[0]);
	printf("CPU/msg with %d other names / empty bus (best): by name %s, by ID %s\n", names,
	       r1, r2);
}

/* ------------------------------------------------------- broadcast fan-out */

#define FAN_RX		10		/* receivers with a match entry */
#define FAN_IDLE	990		/* idle connections of state (b) */
#define FAN_W		32u		/* broadcasts in flight (<< DEPTH) */
#define FAN_POOL	(1u << 20)
#define BLOOM_SIZE	64		/* the bus bloom size (kbus_make) */

struct fcell {
	int ok;
	uint64_t n;		/* broadcasts */
	double rate;		/* broadcasts per second */
	double cpu_tx;		/* the sender's CPU ns per broadcast */
	double cpu_all;		/* all processes' CPU ns per broadcast */
	uint64_t dropped;	/* dropped_msgs reported by the receivers' RECVs */
	uint64_t missing;	/* broadcasts sent but not received (sum) */
};

/* What a receiver reports: messages, CPU ns, dropped_msgs, errno. */
struct frep {
	uint64_t n, cpu, dropped, err;
};

/* Receiver @i: the common loop; counts in @cnt[i], kicks @efd every FAN_W/2. */
static void fan_receiver(struct kconn *c, int i, volatile uint64_t *cnt, int efd, int res)
{
	struct frep r = { 0 };
	uint64_t r0 = cpu_now(), one = FAN_W / 2;

	xwrite(res, "r", 1);
	for (;;) {
		struct kdbus_cmd_recv cmd = { .size = sizeof(cmd) };
		struct kdbus_cmd_free f = { .size = sizeof(f) };
		uint64_t cookie;
		int ret = ioctl(c->fd, KDBUS_CMD_RECV, &cmd);

		if (cmd.return_flags & KDBUS_RECV_RETURN_DROPPED_MSGS)
			r.dropped += cmd.dropped_msgs;
		if (ret < 0) {
			struct pollfd p = { .fd = c->fd, .events = POLLIN };

			if (errno != EAGAIN && errno != EINTR) {
				r.err = errno;
				break;
			}
			poll(&p, 1, -1);
			continue;
		}
		cookie = ((const struct kdbus_msg *)(c->pool + cmd.msg.offset))->cookie;
		f.offset = cmd.msg.offset;
		ioctl(c->fd, KDBUS_CMD_FREE, &f);
		if (cookie == TAG_STOP)
			break;
		r.n++;
		__atomic_store_n(&cnt[i], r.n, __ATOMIC_RELEASE);
		if (r.n % (FAN_W / 2) == 0)
			xwrite(efd, &one, sizeof(one));
	}
	r.cpu = cpu_now() - r0;
	xwrite(res, &r, sizeof(r));
	_exit(0);
}

static uint64_t fan_min(volatile uint64_t *cnt)
{
	uint64_t m = UINT64_MAX;

	for (int i = 0; i < FAN_RX; i++) {
		uint64_t v = __atomic_load_n(&cnt[i], __ATOMIC_ACQUIRE);

		if (v < m)
			m = v;
	}
	return m;
}

/* One fan-out run on the current bus (its idle connections made before). */
static struct fcell fanout(void)
{
	struct fcell fc = { 0 };
	struct kconn rx[FAN_RX], tx;
	uint64_t bloom[BLOOM_SIZE / 8], sent = 0, c0, cpu_rx = 0, v;
	volatile uint64_t *cnt = MAP_FAILED;
	pid_t pid[FAN_RX];
	int n_rx = 0, n_pid = 0, efd = -1, res[2] = { -1, -1 }, fail = 0;
	char buf[64], ready;
	double t0, ts = now(), tr = 0, te = 0, tw = 0;

	memset(buf, 0x5a, sizeof(buf));
	for (int i = 0; i < BLOOM_SIZE / 8; i++)
		bloom[i] = 0x1111111111111111ULL;	/* covers the masks below */
	for (; n_rx < FAN_RX; n_rx++) {
		uint64_t mb[(32 + 16 + BLOOM_SIZE) / 8] = { 0 };
		struct kdbus_cmd_match *m = (struct kdbus_cmd_match *)mb;
		struct kdbus_item *item = m->items;

		if (kconn_open(&rx[n_rx], FAN_POOL, 1))
			goto out;
		m->size = sizeof(mb);
		m->cookie = 1;
		item->size = 16 + BLOOM_SIZE;
		item->type = KDBUS_ITEM_BLOOM_MASK;
		for (int i = 0; i < BLOOM_SIZE / 8; i++)
			item->data64[i] = 0x0101010101010101ULL;
		if (ioctl(rx[n_rx].fd, KDBUS_CMD_MATCH_ADD, m) < 0) {
			printf("fan-out: MATCH_ADD: %s\n", strerror(errno));
			kconn_close(&rx[n_rx]);
			goto out;
		}
	}
	if (kconn_open(&tx, SMALL_POOL, 0))
		goto out;
	cnt = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	efd = eventfd(0, EFD_CLOEXEC);
	if (cnt == MAP_FAILED || efd < 0 || pipe2(res, O_CLOEXEC))
		goto shut;
	for (; n_pid < FAN_RX; n_pid++) {
		pid[n_pid] = fork();
		if (pid[n_pid] < 0)
			goto reap;
		if (!pid[n_pid])
			fan_receiver(&rx[n_pid], n_pid, cnt, efd, res[1]);
	}
	for (int i = 0; i < FAN_RX; i++)
		if (xread(res[0], &ready, 1))
			goto reap;
	t0 = tr = now();
	c0 = cpu_now();
	arm(secs);
	while (!stop_flag && !fail) {
		if (sent - fan_min(cnt) >= FAN_W) {
			if (read(efd, &v, sizeof(v)) < 0 && errno != EINTR)
				fail = 1;
			continue;
		}
		if (ksend_ex(&tx, KDBUS_DST_ID_BROADCAST, NULL, buf, sizeof(buf), TAG_DATA, bloom,
			     BLOOM_SIZE))
			fail = errno != EINTR;
		else
			sent++;
	}
	disarm();
	while (!fail && sent - fan_min(cnt) >= FAN_W)
		fail = read(efd, &v, sizeof(v)) < 0;
	if (fail || ksend_ex(&tx, KDBUS_DST_ID_BROADCAST, NULL, buf, sizeof(buf), TAG_STOP,
			     bloom, BLOOM_SIZE)) {
		printf("fan-out: broadcast SEND: %s\n", strerror(errno));
		goto reap;
	}
	for (int i = 0; i < FAN_RX; i++) {
		struct frep r;

		if (xread(res[0], &r, sizeof(r)))
			goto reap;
		if (r.err) {
			printf("fan-out: receiver RECV: %s\n", strerror((int)r.err));
			fail = 1;
		}
		cpu_rx += r.cpu;
		fc.dropped += r.dropped;
		fc.missing += sent - r.n;
	}
	if (fail || !sent)
		goto reap;
	fc.n = sent;
	fc.rate = sent / (now() - t0);
	fc.cpu_tx = (double)(cpu_now() - c0) / sent;
	fc.cpu_all = (double)(cpu_now() - c0 + cpu_rx) / sent;
	fc.ok = 1;
reap:
	disarm();
	te = now();
	for (int i = 0; i < n_pid; i++) {
		if (!fc.ok)
			kill(pid[i], SIGKILL);
		waitpid(pid[i], NULL, 0);
	}
	tw = now();
shut:
	if (res[0] >= 0) {
		close(res[0]);
		close(res[1]);
	}
	if (efd >= 0)
		close(efd);
	if (cnt != MAP_FAILED)
		munmap((void *)cnt, 4096);
	kconn_close(&tx);
out:
	while (n_rx > 0)
		kconn_close(&rx[--n_rx]);
	if (verbose && tr > 0)
		printf("fan-out on %s: setup %.2f s, run %.2f s, teardown %.2f s (waitpid %.2f s)\n",
		       kbus_name, tr - ts, te - tr, now() - te, tw - te);
	return fc;
}

/* ---- Disconnect: what closing a connection costs as the bus grows ---- */

#define CLOSE_N	20	/* connections closed per run */

/* The wall time of close() of CLOSE_N idle connections on the current bus,
 * per close in ms; -1 on error. */
static double measure_close(void)
{
	struct kconn c[CLOSE_N];
	double t;
	int n;

	for (n = 0; n < CLOSE_N; n++)
		if (kconn_open(&c[n], SMALL_POOL, 0))
			break;
	t = now();
	for (int i = 0; i < n; i++)
		close(c[i].fd);
	t = now() - t;
	return n == CLOSE_N ? t / n * 1e3 : -1;
}

/* Closing a connection on an empty bus and on one with 1000 idle
 * connections (100 of them holding names): the teardown visits only
 * connections with reply trackers, so the two should be close. */
static void close_section(void)
{
	double t[2][REPS];
	int ok[2] = { 0 }, err = 0, made = 0;
	char r[16], label[64];

	for (int rep = 0; rep < REPS; rep++) {
		double v = measure_close();

		if (v >= 0)
			t[0][ok[0]++] = v;
		idle_open(&err);
		made = n_idle;
		v = measure_close();
		if (v >= 0)
			t[1][ok[1]++] = v;
		idle_close();
	}
	printf("Disconnect: close() of %d idle connections (HELLO'd, pool not mapped),\n"
	       "wall time per close, the median of %d alternating runs.\n\n", CLOSE_N, REPS);
	snprintf(label, sizeof(label), "%d idle conns, %d names", made, IDLE_NAMES);
	printf("%-40s %12s\n", "bus", "ms/close");
	if (ok[0])
		printf("%-40s %12.3f\n", "empty bus", median(t[0], ok[0]));
	if (ok[1])
		printf("%-40s %12.3f\n", label, median(t[1], ok[1]));
	ratio(r, ok[1] ? median(t[1], ok[1]) : 0, ok[0] ? median(t[0], ok[0]) : 0,
	      ok[0] && ok[1]);
	printf("close with %d idle conns / empty bus: %s\n", made, r);
}

static void fanout_section(void)
{
	double rate[2][REPS] = { { 0 } }, tx[2][REPS] = { { 0 } }, all[2][REPS] = { { 0 } };
	double b_rate[2] = { 0 }, b_tx[2] = { 0 }, b_all[2] = { 0 }, m_tx[2] = { 0 };
	uint64_t dropped[2] = { 0 }, missing[2] = { 0 };
	int ok[2] = { 0 }, made = 0, err, fan_fd = -1;
	char r1[16], r2[16], r3[16], label[2][64], what[96], fan_name[64] = "";
	double t;

	/* (b) on a bus of its own, <uid>-bench-fan, its idle connections made
	 * once (closing them costs much more than the runs); (a) on the main
	 * bench bus, empty. */
	kbus_swap(&fan_fd, fan_name);
	kbus_suffix = "bench-fan";
	t = now();
	idle_open_n(FAN_IDLE, 0, &err);
	made = n_idle;
	kbus_suffix = "bench";
	if (verbose)
		printf("fan-out: %d idle connections HELLO'd in %.2f s\n", made, now() - t);
	kbus_swap(&fan_fd, fan_name);
	for (int rep = 0; rep < REPS; rep++) {
		for (int s = 0; s < 2; s++) {
			struct fcell c;

			if (s)
				kbus_swap(&fan_fd, fan_name);
			c = fanout();
			if (s)
				kbus_swap(&fan_fd, fan_name);
			rate[s][ok[s]] = c.rate;
			tx[s][ok[s]] = c.cpu_tx;
			all[s][ok[s]] = c.cpu_all;
			dropped[s] += c.dropped;
			missing[s] += c.missing;
			ok[s] += c.ok;
		}
	}
	t = now();
	idle_close();
	if (fan_fd >= 0)
		close(fan_fd);
	if (verbose)
		printf("fan-out: %d idle connections and their bus closed in %.2f s\n", made,
		       now() - t);
	printf("Broadcast fan-out: 64 B signals (bloom filter %d B, generation 0) to %d\n"
	       "receiver processes, each with one match entry (one BLOOM_MASK rule the filter\n"
	       "covers); window W %u broadcasts (the sender waits while the slowest receiver\n"
	       "is W behind); receivers drain until EAGAIN, then poll(POLLIN). (b) runs on\n"
	       "a second bus whose idle connections (no match entries) were HELLO'd first.\n"
	       "%d alternating runs: the best bcasts/s and CPU, and the median sender CPU;\n"
	       "\"sender\" is the SEND side, \"all\" adds the receivers' CPU; lost:\n"
	       "dropped_msgs + broadcasts not received.\n\n",
	       BLOOM_SIZE, FAN_RX, FAN_W, REPS);
	snprintf(label[0], sizeof(label[0]), "%d receivers", FAN_RX);
	snprintf(label[1], sizeof(label[1]), "%d receivers + %d idle conns", FAN_RX, made);
	printf("%-34s %9s %10s %10s %10s %6s | %s\n", "", "best", "best", "median", "best", "",
	       "vs (a) (best)");
	printf("%-34s %9s %10s %10s %10s %6s | %8s %8s %8s\n", "bus", "bcasts/s", "sender ns",
	       "sender ns", "all ns", "lost", "bcasts/s", "sender", "all");
	for (int s = 0; s < 2; s++) {
		if (!ok[s]) {
			printf("(%c) %-30s %9s %10s %10s %10s %6s |\n", 'a' + s, label[s], "failed",
			       "", "", "", "");
			continue;
		}
		m_tx[s] = median(tx[s], ok[s]);
		b_tx[s] = tx[s][0];
		median(all[s], ok[s]);
		b_all[s] = all[s][0];
		median(rate[s], ok[s]);
		b_rate[s] = rate[s][ok[s] - 1];
		ratio(r1, b_rate[s], b_rate[0], ok[0]);
		ratio(r2, b_tx[s], b_tx[0], ok[0]);
		ratio(r3, b_all[s], b_all[0], ok[0]);
		printf("(%c) %-30s %9.0f %10.0f %10.0f %10.0f %6llu | %8s %8s %8s\n", 'a' + s,
		       label[s], b_rate[s], b_tx[s], m_tx[s], b_all[s],
		       (unsigned long long)(dropped[s] + missing[s]), r1, r2, r3);
	}
	if (dropped[0] + dropped[1] + missing[0] + missing[1])
		printf("lost: dropped_msgs (a) %llu (b) %llu, not received (a) %llu (b) %llu\n",
		       (unsigned long long)dropped[0], (unsigned long long)dropped[1],
		       (unsigned long long)missing[0], (unsigned long long)missing[1]);
	printf("\nGoal (figures, not tests):\n");
	snprintf(what, sizeof(what), "broadcast sender CPU, %d / %d conns", FAN_RX + made + 1,
		 FAN_RX + 1);
	ratio(r1, b_rate[0], b_rate[1], ok[0] && ok[1]);
	goal(what, b_tx[1], b_tx[0], ok[0] && ok[1], 1.2, 0, r1);
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 8, 64, 512, 4096, 65536, 1 << 20 };
	static const enum kind ow_kinds[] = { T_SEQPACKET, T_STREAM, T_PIPE, T_KDBUS, T_VECFREE,
					      T_MEMFD };
	static const enum kind rt_kinds[] = { T_SEQPACKET, T_STREAM, T_PIPE, T_KDBUS, T_CALL };
	enum { N_OW = sizeof(ow_kinds) / sizeof(ow_kinds[0]),
	       N_RT = sizeof(rt_kinds) / sizeof(rt_kinds[0]) };
	struct sigaction sa = { .sa_handler = on_alarm };
	struct rlimit rl = { 4096, 4096 };
	struct cell ow64k = { 0 }, sp64k = { 0 }, ow64 = { 0 }, sp64 = { 0 };
	double st_rate[N_STATES][REPS] = { { 0 } }, st_cpu[N_STATES][REPS] = { { 0 } };
	double m_rate[N_STATES] = { 0 }, m_cpu[N_STATES] = { 0 };
	int st_ok[N_STATES] = { 0 }, names = 0, name_err = 0, depth = -1, idle_made = 0;
	char r1[16], r2[16], idle_label[96], depth_label[96];
	double med;
	size_t i, j;
	double t_start = now();

	if (parse_args(argc, argv))
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART: blocking calls see EINTR */
	signal(SIGPIPE, SIG_IGN);
	setrlimit(RLIMIT_NOFILE, &rl);

	printf("kdbus-bench: %.2f s per run, the best of %d interleaved runs per row\n", secs, ROUNDS);
	print_machine();

	if (want_section('c'))
		syscall_costs();
	if (!want_section('o'))
		goto roundtrip;
	printf("One-way throughput: sender and receiver processes; window W messages (the\n"
	       "receiver acks every W/2 over an eventfd, the sender blocks at W unacked or in\n"
	       "poll(POLLOUT)); every receiver drains until EAGAIN, then poll(POLLIN). CPU is\n"
	       "both processes' CPU time per message.\n\n");
	printf("%65s| %s\n", "", "vs AF_UNIX seqpacket");
	printf("%-8s %-18s %3s %10s %9s %11s | %8s %8s\n", "payload", "transport", "W",
	       "msgs/s", "MB/s", "CPU ns/msg", "msgs/s", "CPU/msg");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct cell base = { 0 }, best[N_KINDS] = { { 0 } };

		if (!want_size(sizes[i]))
			continue;
		for (int round = 0; round < ROUNDS; round++)
			for (j = 0; j < N_OW; j++)
				if (want_kind(ow_kinds[j]))
					keep_best(&best[j], measure_oneway(ow_kinds[j], sizes[i]));
		for (j = 0; j < N_OW; j++) {
			struct cell c = best[j];

			if (!want_kind(ow_kinds[j]))
				continue;

			if (ow_kinds[j] == T_SEQPACKET)
				base = c;
			if (sizes[i] == 64 && ow_kinds[j] == T_SEQPACKET)
				sp64 = c;
			if (sizes[i] == 64 && ow_kinds[j] == T_KDBUS)
				ow64 = c;
			if (sizes[i] == 65536 && ow_kinds[j] == T_SEQPACKET)
				sp64k = c;
			if (sizes[i] == 65536 && ow_kinds[j] == T_KDBUS)
				ow64k = c;
			ratio(r1, c.rate, base.rate, c.ok && base.ok);
			ratio(r2, c.cpu, base.cpu, c.ok && base.ok);
			if (c.ok && verbose)
				printf("%-8s %-18s %3u %10.0f %9.2f %11.0f | %8s %8s%s"
				       "  sleeps/msg: sender %.3f receiver %.3f\n",
				       size_str(sizes[i]), kind_name[ow_kinds[j]], window_for(sizes[i]),
				       c.rate, c.mbs, c.cpu, r1, r2, c.stalls ? "  (stalls)" : "",
				       c.csw_tx, c.csw_rx);
			else if (c.ok)
				printf("%-8s %-18s %3u %10.0f %9.2f %11.0f | %8s %8s%s\n",
				       size_str(sizes[i]), kind_name[ow_kinds[j]], window_for(sizes[i]),
				       c.rate, c.mbs, c.cpu, r1, r2, c.stalls ? "  (stalls)" : "");
			else
				printf("%-8s %-18s %3u %10s %9s %11s |\n", size_str(sizes[i]),
				       kind_name[ow_kinds[j]], window_for(sizes[i]), "failed", "", "");
		}
		printf("\n");
	}

roundtrip:
	if (!want_section('r'))
		goto state;
	printf("Round trip: one message each way at a time, the same receive loop; the sync\n"
	       "call is SEND with SYNC_REPLY, the callee receives and replies. CPU is both\n"
	       "processes' CPU time per round trip.\n\n");
	printf("%65s| %s\n", "", "vs AF_UNIX seqpacket");
	printf("%-8s %-18s %13s %10s %11s | %8s %8s\n", "payload", "transport", "round trips/s",
	       "us/trip", "CPU ns/trip", "us/trip", "CPU");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct cell base = { 0 }, best[N_KINDS] = { { 0 } };

		if (!want_size(sizes[i]))
			continue;
		for (int round = 0; round < ROUNDS; round++)
			for (j = 0; j < N_RT; j++)
				if (want_kind(rt_kinds[j]))
					keep_best(&best[j], measure_roundtrip(rt_kinds[j], sizes[i]));
		for (j = 0; j < N_RT; j++) {
			struct cell c = best[j];

			if (!want_kind(rt_kinds[j]))
				continue;

			if (rt_kinds[j] == T_SEQPACKET)
				base = c;
			ratio(r1, base.rate, c.rate, c.ok && base.ok);	/* time ratio */
			ratio(r2, c.cpu, base.cpu, c.ok && base.ok);
			if (c.ok)
				printf("%-8s %-18s %13.0f %10.1f %11.0f | %8s %8s\n",
				       size_str(sizes[i]), kind_name[rt_kinds[j]], c.rate,
				       1e6 / c.rate, c.cpu, r1, r2);
			else
				printf("%-8s %-18s %13s %10s %11s |\n", size_str(sizes[i]),
				       kind_name[rt_kinds[j]], "failed", "", "");
		}
		printf("\n");
	}

state:
	if (!want_section('b'))
		goto more;
	/* Bus state: 64 B kdbus one-way; REPS alternating rounds, medians. */
	for (int rep = 0; rep < REPS; rep++) {
		for (int s = 0; s < N_STATES; s++) {
			struct cell c = { 0 };
			struct pair p;
			struct kconn other;
			int parked = -1;

			if (s == S_IDLE) {
				int n = idle_open(&name_err);

				if (!rep)
					names = n;
				idle_made = n_idle;
			}
			if (pair_open(&p, T_KDBUS, 64, WINDOW, -1)) {
				idle_close();
				continue;
			}
			if (s == S_PRIO || s == S_DEPTH) {
				/* Measured messages: priority 0; RECV takes <= 0. */
				p.e[1].use_prio = 1;
				p.e[0].prio = p.e[1].prio = 0;
			}
			if (s == S_DEPTH) {
				parked = park(&other, p.k[1].id);
				if (parked >= 0 && (depth < 0 || parked < depth))
					depth = parked;
			}
			if (s != S_DEPTH || parked > 0)
				c = oneway(&p, 64, WINDOW);
			if (s == S_DEPTH && parked >= 0)
				kconn_close(&other);
			pair_close(&p);
			if (s == S_IDLE)
				idle_close();
			st_rate[s][st_ok[s]] = c.rate;
			st_cpu[s][st_ok[s]] = c.cpu;
			st_ok[s] += c.ok;
		}
	}
	if (name_err == EOPNOTSUPP)
		snprintf(idle_label, sizeof(idle_label), "%d conns, %d names (NAME_ACQUIRE not available)",
			 idle_made, names);
	else if (name_err)
		snprintf(idle_label, sizeof(idle_label), "%d conns, %d names (NAME_ACQUIRE: %s)",
			 idle_made, names, strerror(name_err));
	else
		snprintf(idle_label, sizeof(idle_label), "%d idle conns, %d names", idle_made, names);
	snprintf(depth_label, sizeof(depth_label), "queue depth %d parked, RECV by priority",
		 depth);
	printf("Bus state: 64 B kdbus vec one-way, W %u, %d alternating runs: the best\n"
	       "msgs/s and CPU/msg, and the median CPU/msg; idle connections are HELLO'd\n"
	       "(after them, the measured pair) and never read; parked messages are sent\n"
	       "first by another user at a less urgent priority and stay queued.\n\n",
	       WINDOW, REPS);
	printf("%-50s %9s %10s %10s | %s\n", "", "best", "best", "median", "vs empty bus (best)");
	printf("%-50s %9s %10s %10s | %8s %8s\n", "bus", "msgs/s", "CPU ns/msg", "CPU ns/msg",
	       "msgs/s", "CPU/msg");
	for (int s = 0; s < N_STATES; s++) {
		static const char *const fixed[] = {
			[S_EMPTY] = "empty bus (2 conns)",
			[S_PRIO] = "empty queue, RECV by priority",
		};
		const char *label = s == S_IDLE ? idle_label : s == S_DEPTH ? depth_label : fixed[s];

		if (!st_ok[s]) {
			printf("%-50s %9s %10s %10s |\n", label, "failed", "", "");
			continue;
		}
		med = median(st_cpu[s], st_ok[s]);
		m_cpu[s] = st_cpu[s][0];	/* sorted by median() */
		median(st_rate[s], st_ok[s]);
		m_rate[s] = st_rate[s][st_ok[s] - 1];
		ratio(r1, m_rate[s], m_rate[S_EMPTY], st_ok[S_EMPTY]);
		ratio(r2, m_cpu[s], m_cpu[S_EMPTY], st_ok[S_EMPTY]);
		printf("%-50s %9.0f %10.0f %10.0f | %8s %8s\n", label, m_rate[s], m_cpu[s], med, r1,
		       r2);
	}

	if (!want_section('o'))
		goto more;
	printf("\nGoals (issue 11, item 5; figures, not tests):\n");
	goal("64 B one-way msgs/s, kdbus vec / AF_UNIX seqpacket", ow64.rate, sp64.rate,
	     ow64.ok && sp64.ok, 0.5, 1, NULL);
	goal("64 KiB one-way MB/s, kdbus vec / AF_UNIX seqpacket", ow64k.mbs, sp64k.mbs,
	     ow64k.ok && sp64k.ok, 1.5, 1, NULL);
	snprintf(idle_label, sizeof(idle_label), "64 B CPU/msg, %d conns + %d names / empty bus",
		 idle_made, names);
	ratio(r2, m_rate[S_EMPTY], m_rate[S_IDLE], st_ok[S_IDLE] && st_ok[S_EMPTY]);
	goal(idle_label, m_cpu[S_IDLE], m_cpu[S_EMPTY], st_ok[S_IDLE] && st_ok[S_EMPTY], 1.1, 0,
	     r2);
	snprintf(depth_label, sizeof(depth_label), "64 B CPU/msg, queue depth %d / empty bus", depth);
	ratio(r2, m_rate[S_EMPTY], m_rate[S_DEPTH], st_ok[S_DEPTH] && st_ok[S_EMPTY]);
	goal(depth_label, m_cpu[S_DEPTH], m_cpu[S_EMPTY], st_ok[S_DEPTH] && st_ok[S_EMPTY], 1.1, 0,
	     r2);
more:
	/* The b and n sections end without a blank line. */
	if (want_section('n')) {
		if (want_section('b'))
			printf("\n");
		names_section();
	}
	if (want_section('f')) {
		if (want_section('b') || want_section('n'))
			printf("\n");
		fanout_section();
	}
	if (want_section('x')) {
		if (want_section('b') || want_section('n') || want_section('f'))
			printf("\n");
		close_section();
	}
	printf("\nkdbus-bench: done in %.0f s\n", now() - t_start);
	return 0;
}
