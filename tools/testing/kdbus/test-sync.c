// SPDX-License-Identifier: GPL-2.0
/*
 * Synchronous method calls (KDBUS_SEND_SYNC_REPLY): message.md §1.1, §2.2,
 * §2.6, §4 (4.1-4.7), §9, §11 #3/#4/#7/#10; connection-pool.md §5.1
 * (BYEBYE from another thread wakes a blocked sync SEND).
 *
 * Covered, checklist message.md §12 "Replies and calls" (synchronous items):
 *  - a sync call returns 0 with reply.offset/msg_size describing the reply
 *    in the caller's pool; the reply is not in the caller's queue
 *  - the reply slice has the received-message layout and can be FREEd
 *  - deadline already past: ETIMEDOUT, callee's queue stays empty
 *  - timeout_ns >= 2^63: ETIMEDOUT without sending
 *  - unanswered: ETIMEDOUT at (not before) the deadline; a later reply EPERM
 *  - callee disconnects before replying (after RECV, and with the call still
 *    queued): EPIPE
 *  - callee RECVs the call with DROP: EPIPE
 *  - CANCEL_FD written: ECANCELED, the call was delivered (and a later reply
 *    fails EPERM); an already readable CANCEL_FD cancels at once
 *  - BYEBYE by another thread: ECONNRESET
 *  - caller without ACCEPT_FD, reply with fds: replier ECOMM, caller EREMOTEIO
 *  - reply over the caller's quota: ENOBUFS for both
 *  - SA_RESTART signal storm: the call completes with the reply, the callee
 *    got it exactly once; without reply it times out at the original
 *    deadline
 *  - no SA_RESTART: EINTR; the identical re-issued SEND returns the reply,
 *    callee got the call once
 *  - reply sent while the caller is interrupted is returned by the re-issued
 *    SEND, no duplicate call (§11 #3)
 *  - callee dies / DROPs while the caller is interrupted: EPIPE, nothing
 *    re-sent (§11 #4)
 *  - deadline passed during the interruption: ETIMEDOUT without re-sending
 *  - an interrupted call never resumed produces no REPLY_TIMEOUT
 *  - the callee sees the caller's cookie and absolute deadline
 * Also: §4.5 "other messages arriving do not end the wait", memfds in a
 * sync reply are installed for a caller without ACCEPT_FD (§4.5 last
 * paragraph), CANCEL_FD validation (§2.2 step 6: closed fd EBADF,
 * non-pollable file EINVAL, ignored by non-sync SENDs), and a stress test
 * (8 signalled caller processes, 4 callee processes that reply, reply late,
 * ignore, DROP and die/restart; up to 3200 calls, bounded by a 20 s budget
 * per caller: about 1000 in the TCG guest) for the VM runner's
 * kmemleak/lockdep checks.
 *
 * Left out:
 *  - the "reply wins" races of §4.5 step 5 (a reply racing with a timeout,
 *    cancel or BYEBYE): not deterministically reachable from user space;
 *    the stress test exercises them statistically;
 *  - EMLINK with sync calls, monitors' copies of sync calls/replies and
 *    activator-addressed sync calls: other files' subjects;
 *  - the fatal-signal case (§4.6): nothing observable besides "no leak",
 *    which the stress test's exits cover;
 *  - INCOMPLETE_FDS in reply.return_flags (needs an exhausted fd table in
 *    the caller while a reply with fds is attached).
 *
 * Timing tolerances (TCG guests are ~10x slower than native):
 *  - "at (not before) the deadline": the SEND's return, read with
 *    CLOCK_MONOTONIC, must be >= the deadline (strict) and at most LATE_NS
 *    (2 s) after it;
 *  - calls expected to be answered use a deadline LONG_NS (10 s) ahead and
 *    must end before it; "immediately" means within LATE_NS;
 *  - calls that must be interrupted before their deadline get 1 s of
 *    headroom; "never resumed" is checked 500 ms after the deadline (the
 *    caller's scanner has to reap the interrupted tracker by then);
 *  - a callee waits up to ARRIVE_MS (5 s) for a call to arrive;
 *  - stress: 20-250 ms deadlines, SIGALRM every 4 ms, alarm() watchdog
 *    of 150 s, harness timeout 240 s.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

#define CALLER_POOL	(16 * 1024)	/* per-user share (8192/3) is 2730 bytes */
#define CALLEE_POOL	(64 * 1024)
#define MS		1000000ULL
#define SEC		1000000000ULL
#define LONG_NS		(10 * SEC)
#define LATE_NS		(2 * SEC)
#define ARRIVE_MS	5000
#define REPLY_COOKIE	0x7e7e
#define PING		"ping"
#define PONG		"pong!"			/* 5 bytes: msg_size 104, size 96 */
#define SEALS		(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)
#define EMPTY		0x5a5a5a5a5a5a5a5aULL	/* reply pattern before SEND */

FIXTURE(sync) {
	struct kdbus_domain d;
	char bus[64];
	char path[256];		/* <root>/<bus>/bus */
	int owner;
	struct kdbus_conn a;	/* caller: HELLO flags 0 (no ACCEPT_FD), 16 KiB */
	struct kdbus_conn b;	/* callee: ACCEPT_FD, 64 KiB */
};

FIXTURE_SETUP(sync)
{
	self->a.fd = self->b.fd = -1;
	ASSERT_EQ(0, kdbus_domain_init(&self->d));
	self->owner = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "y", self->bus);
	ASSERT_LE(0, self->owner);
	kdbus_path(self->path, sizeof(self->path), self->d.root, "%s/bus", self->bus);
	ASSERT_EQ(0, kdbus_conn_open(&self->a, self->path, 0, CALLER_POOL));
	ASSERT_EQ(0, kdbus_conn_open(&self->b, self->path, KDBUS_HELLO_ACCEPT_FD,
				     CALLEE_POOL));
}

FIXTURE_TEARDOWN(sync)
{
	kdbus_conn_close(&self->a);
	kdbus_conn_close(&self->b);
	if (self->owner >= 0)
		close(self->owner);
	kdbus_domain_fini(&self->d);
}

/* ------------------------------------------------------------ time */

/* Sleep until CLOCK_MONOTONIC reaches @t (signals do not cut it short). */
static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = t / SEC, .tv_nsec = t % SEC };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void sleep_ms(unsigned int ms)
{
	sleep_until(kdbus_now_ns() + ms * MS);
}

/* ------------------------------------------------------------ signals */

static volatile sig_atomic_t n_sig;

static void on_signal(int sig)
{
	(void)sig;
	n_sig++;
}

static int catch_signal(int sig, int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	n_sig = 0;
	return sigaction(sig, &sa, NULL) < 0 ? -errno : 0;
}

/* A thread sending SIGUSR1 to @target every @period_us until stopped. */
struct storm {
	pthread_t target;
	pthread_t thread;
	unsigned int period_us;
	int stop;
	int sent;
};

static void *storm_fn(void *p)
{
	struct storm *s = p;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		pthread_kill(s->target, SIGUSR1);
		s->sent++;
		usleep(s->period_us);
	}
	return NULL;
}

static int storm_start(struct storm *s, pthread_t target, unsigned int period_us)
{
	memset(s, 0, sizeof(*s));
	s->target = target;
	s->period_us = period_us;
	return pthread_create(&s->thread, NULL, storm_fn, s);
}

static void storm_stop(struct storm *s)
{
	__atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
	pthread_join(s->thread, NULL);
}

/* ------------------------------------------------------------ the call */

/*
 * One synchronous call: the message and the command stay in place so that
 * the call can be re-issued with byte-identical arguments (§4.6).
 */
struct call {
	struct kdbus_builder b;		/* the kdbus_msg */
	struct {
		struct kdbus_cmd_send cmd;
		struct {		/* optional KDBUS_ITEM_CANCEL_FD */
			uint64_t size;
			uint64_t type;
			int32_t fd;
			uint32_t pad;
		} cancel;
	} send;
	int fd;
	pthread_t thread;
	int ret;
	int done;			/* set when the SEND returned */
	uint64_t t_end;			/* CLOCK_MONOTONIC when it returned */
};

#define CALL_CMD(c)	(&(c)->send.cmd)

_Static_assert(sizeof(((struct call *)0)->send) == 56 + 24, "cmd + CANCEL_FD item");

/* Prepare a sync call from @fd to @dst; @cancel_fd < 0: no CANCEL_FD item. */
static void call_init(struct call *c, int fd, uint64_t dst, uint64_t cookie,
		      uint64_t deadline, int cancel_fd)
{
	struct kdbus_cmd_send *cmd = CALL_CMD(c);

	kdbus_msg_init(&c->b, dst, KDBUS_MSG_EXPECT_REPLY, 0, cookie);
	kdbus_msg_hdr(&c->b)->timeout_ns = deadline;
	kdbus_b_vec(&c->b, PING, 4);
	kdbus_b_cmd(&c->b);

	memset(&c->send, 0, sizeof(c->send));
	cmd->size = sizeof(*cmd);
	cmd->flags = KDBUS_SEND_SYNC_REPLY;
	cmd->msg_address = (uintptr_t)c->b.buf;
	if (cancel_fd >= 0) {
		c->send.cancel.size = KDBUS_ITEM_HEADER_SIZE + sizeof(int);	/* 20 */
		c->send.cancel.type = KDBUS_ITEM_CANCEL_FD;
		c->send.cancel.fd = cancel_fd;
		cmd->size += KDBUS_ITEM_SIZE(sizeof(int));			/* 24 */
	}
	c->fd = fd;
	c->done = 0;
}

static int call_issue(struct call *c)
{
	struct kdbus_cmd_send *cmd = CALL_CMD(c);

	memset(&cmd->reply, 0x5a, sizeof(cmd->reply));
	c->ret = kdbus_ioctl(c->fd, KDBUS_CMD_SEND, cmd);
	c->t_end = kdbus_now_ns();
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return c->ret;
}

static void *call_thread(void *p)
{
	call_issue(p);
	return NULL;
}

/* Issue the call in a new thread. */
static int call_start(struct call *c)
{
	__atomic_store_n(&c->done, 0, __ATOMIC_RELEASE);
	return pthread_create(&c->thread, NULL, call_thread, c);
}

static int call_join(struct call *c)
{
	pthread_join(c->thread, NULL);
	return c->ret;
}

/*
 * Check the reply slice published in @c's command for caller @a: a message
 * from @src answering @cookie with payload PONG, exact §5.3 layout (no
 * metadata: the caller's recv mask is 0). Frees the slice. Returns "" or
 * what is wrong.
 */
static const char *reply_problem(struct kdbus_conn *a, struct call *c,
				 uint64_t cookie, uint64_t src)
{
	struct kdbus_cmd_send *cmd = CALL_CMD(c);
	struct kdbus_msg *m;
	char buf[16] = { 0 };
	const char *bad = "";

	if (cmd->reply.offset >= a->pool_size || cmd->reply.msg_size > a->pool_size ||
	    cmd->reply.offset + cmd->reply.msg_size > a->pool_size)
		return "reply slice outside the pool";
	m = (struct kdbus_msg *)(a->pool + cmd->reply.offset);
	if (cmd->reply.msg_size % 8)
		bad = "msg_size not 8-aligned";
	else if (cmd->reply.msg_size != 104 || m->size != 96)
		bad = "slice layout (msg_size 104, size 96 expected)";
	else if (cmd->reply.return_flags)
		bad = "reply.return_flags != 0";
	else if (m->src_id != src)
		bad = "src_id != callee";
	else if (m->dst_id != a->id)
		bad = "dst_id != caller";
	else if (m->cookie_reply != cookie)
		bad = "cookie_reply != cookie";
	else if (m->cookie != REPLY_COOKIE)
		bad = "cookie of the reply changed";
	else if (m->flags || m->payload_type != KDBUS_PAYLOAD_DBUS)
		bad = "flags / payload_type";
	else if (kdbus_msg_payload(m, cmd->reply.msg_size, buf, sizeof(buf)) != 5 ||
		 strcmp(buf, PONG))
		bad = "payload";
	if (kdbus_free(a->fd, cmd->reply.offset) && !*bad)
		bad = "FREE of the reply slice failed";
	return bad;
}

/* ------------------------------------------------------------ callee side */

/* Wait up to @ms for POLLIN on @fd, giving up early once *@stop is set. */
static int wait_in(int fd, int ms, const int *stop)
{
	int waited, r;

	for (waited = 0; waited < ms; waited += 20) {
		if (stop && __atomic_load_n(stop, __ATOMIC_ACQUIRE))
			return 0;
		r = kdbus_poll(fd, POLLIN, 20);
		if (r > 0 && (r & POLLIN))
			return 1;
		if (r < 0 && r != -EINTR)
			return 0;
	}
	return 0;
}

/* RECV one message; its header goes to @hdr. 0 or -errno. */
static int recv_hdr(struct kdbus_conn *c, struct kdbus_msg *hdr)
{
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	int ret = kdbus_msg_recv(c, 0, 0, &m, &r);

	if (ret < 0)
		return ret;
	if (!m)
		return -ENOMSG;
	*hdr = *m;
	kdbus_free(c->fd, r.msg.offset);
	return 0;
}

/* Is @m a REPLY_DEAD notification for @cookie? */
static bool is_reply_dead(struct kdbus_msg *m, uint64_t cookie)
{
	return m->src_id == KDBUS_SRC_ID_KERNEL && m->cookie_reply == cookie &&
	       kdbus_msg_item(m, KDBUS_ITEM_REPLY_DEAD, 0);
}

/*
 * Drain @c's queue, tolerating stray REPLY_DEADs for @cookie (§11 #6).
 * Returns their number, or -1 if anything else was queued.
 */
static int drain_reply_dead(struct kdbus_conn *c, uint64_t cookie)
{
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	int n = 0, bad = 0, ret;

	while ((ret = kdbus_msg_recv(c, 0, 0, &m, &r)) == 0) {
		if (!m || !is_reply_dead(m, cookie))
			bad = 1;
		else
			n++;
		kdbus_free(c->fd, r.msg.offset);
	}
	return bad || ret != -EAGAIN ? -1 : n;
}

static int make_memfd(const char *data)
{
	int fd = memfd_create("kdbus-sync", MFD_ALLOW_SEALING | MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (write(fd, data, strlen(data)) != (ssize_t)strlen(data) ||
	    fcntl(fd, F_ADD_SEALS, SEALS) < 0) {
		close(fd);
		return -EIO;
	}
	return fd;
}

enum reply_kind { R_PONG, R_FDS, R_MEMFD, R_BIG };

#define MEMFD_DATA	"memfd-reply"

/* Reply from @c to @dst for @cookie; R_BIG carries @big inline bytes. */
static int send_reply(struct kdbus_conn *c, uint64_t dst, uint64_t cookie,
		      enum reply_kind kind, size_t big)
{
	static char big_buf[16384];
	struct kdbus_builder b;
	struct kdbus_memfd mfd = { .start = 0, .size = strlen(MEMFD_DATA) };
	int p[2] = { -1, -1 }, ret;

	kdbus_msg_init(&b, dst, 0, 0, REPLY_COOKIE);
	kdbus_msg_hdr(&b)->cookie_reply = cookie;
	switch (kind) {
	case R_PONG:
		kdbus_b_vec(&b, PONG, 5);
		break;
	case R_FDS:
		if (pipe(p))
			return -errno;
		kdbus_b_vec(&b, PONG, 5);
		kdbus_b_item(&b, KDBUS_ITEM_FDS, &p[1], sizeof(int));
		break;
	case R_MEMFD:
		p[0] = make_memfd(MEMFD_DATA);
		if (p[0] < 0)
			return p[0];
		mfd.fd = p[0];
		kdbus_b_item(&b, KDBUS_ITEM_PAYLOAD_MEMFD, &mfd, sizeof(mfd));
		break;
	case R_BIG:
		if (big > sizeof(big_buf))
			return -E2BIG;
		memset(big_buf, 'z', big);
		kdbus_b_vec(&b, big_buf, big);
		break;
	}
	ret = kdbus_msg_send_b(c->fd, &b, 0, NULL);
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	return ret;
}

/* What a callee thread does with the call. */
enum callee_act {
	C_REPLY,		/* RECV, wait delay_ms, reply with kind */
	C_NOTE_REPLY,		/* RECV, send a plain message first, then reply */
	C_CLOSE,		/* RECV, wait delay_ms, disconnect */
	C_CLOSE_QUEUED,		/* wait delay_ms, disconnect with the call queued */
	C_DROP,			/* wait delay_ms, RECV DROP */
};

struct callee {
	struct kdbus_conn *c;
	enum callee_act act;
	enum reply_kind kind;
	size_t big;
	unsigned int delay_ms;
	const int *stop;	/* the caller's done flag: give up when set */
	pthread_t thread;
	/* results */
	int got;		/* 0 = received (or dropped/closed) the call */
	struct kdbus_msg hdr;	/* header of the received call */
	int reply_ret;
};

static void *callee_fn(void *p)
{
	struct callee *k = p;

	k->got = -ETIME;
	k->reply_ret = 1;
	if (!wait_in(k->c->fd, ARRIVE_MS, k->stop))
		return NULL;
	switch (k->act) {
	case C_CLOSE_QUEUED:
		sleep_ms(k->delay_ms);
		kdbus_conn_close(k->c);
		k->got = 0;
		return NULL;
	case C_DROP:
		sleep_ms(k->delay_ms);
		k->got = kdbus_msg_recv(k->c, KDBUS_RECV_DROP, 0, NULL, NULL);
		return NULL;
	default:
		break;
	}
	k->got = recv_hdr(k->c, &k->hdr);
	if (k->got)
		return NULL;
	sleep_ms(k->delay_ms);
	switch (k->act) {
	case C_CLOSE:
		kdbus_conn_close(k->c);
		break;
	case C_NOTE_REPLY:
		k->reply_ret = kdbus_msg_send(k->c->fd, k->hdr.src_id, 0, 0, 5, NULL, 0);
		if (k->reply_ret)
			break;
		sleep_ms(100);
		/* fall through */
	default:
		k->reply_ret = send_reply(k->c, k->hdr.src_id, k->hdr.cookie, k->kind, k->big);
		break;
	}
	return NULL;
}

/* Start a callee thread on @c for @call; replies are of @kind (@big bytes). */
static int callee_start(struct callee *k, struct kdbus_conn *c, enum callee_act act,
			unsigned int delay_ms, struct call *call, enum reply_kind kind,
			size_t big)
{
	memset(k, 0, sizeof(*k));
	k->c = c;
	k->act = act;
	k->kind = kind;
	k->big = big;
	k->delay_ms = delay_ms;
	k->stop = &call->done;
	return pthread_create(&k->thread, NULL, callee_fn, k);
}

static void callee_join(struct callee *k)
{
	pthread_join(k->thread, NULL);
}

/* ------------------------------------------------------------ basic calls */

TEST_F(sync, reply_returned_in_pool_not_queued)
{
	struct call c;
	struct callee k;
	uint64_t deadline = kdbus_now_ns() + LONG_NS;

	call_init(&c, self->a.fd, self->b.id, 0x1001, deadline, -1);
	ASSERT_EQ(0, callee_start(&k, &self->b, C_REPLY, 0, &c, R_PONG, 0));
	EXPECT_EQ(0, call_issue(&c));
	callee_join(&k);
	ASSERT_EQ(0, c.ret);
	EXPECT_EQ(0, k.got);
	EXPECT_EQ(0, k.reply_ret);
	EXPECT_GT(deadline, c.t_end);
	EXPECT_EQ(0, CALL_CMD(&c)->return_flags);
	EXPECT_STREQ("", reply_problem(&self->a, &c, 0x1001, self->b.id));
	/* Freed once: a second FREE finds no user reference. */
	EXPECT_EQ(-ENXIO, kdbus_free(self->a.fd, CALL_CMD(&c)->reply.offset));
	/* The reply never entered the caller's queue; nothing else left. */
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
}

TEST_F(sync, callee_sees_cookie_and_absolute_deadline)
{
	struct call c;
	struct callee k;
	uint64_t deadline = kdbus_now_ns() + LONG_NS + 12345;

	call_init(&c, self->a.fd, self->b.id, 0xabcdef0123ULL, deadline, -1);
	ASSERT_EQ(0, callee_start(&k, &self->b, C_REPLY, 0, &c, R_PONG, 0));
	EXPECT_EQ(0, call_issue(&c));
	callee_join(&k);
	ASSERT_EQ(0, k.got);
	EXPECT_EQ(0xabcdef0123ULL, k.hdr.cookie);
	EXPECT_EQ(deadline, k.hdr.timeout_ns);
	EXPECT_EQ(KDBUS_MSG_EXPECT_REPLY, k.hdr.flags);
	EXPECT_EQ(self->a.id, k.hdr.src_id);
	EXPECT_EQ(self->b.id, k.hdr.dst_id);
	if (c.ret == 0)
		kdbus_free(self->a.fd, CALL_CMD(&c)->reply.offset);
}

TEST_F(sync, unrelated_message_does_not_end_the_wait)
{
	struct call c;
	struct callee k;
	struct kdbus_msg hdr;

	call_init(&c, self->a.fd, self->b.id, 0x1002, kdbus_now_ns() + LONG_NS, -1);
	ASSERT_EQ(0, callee_start(&k, &self->b, C_NOTE_REPLY, 0, &c, R_PONG, 0));
	EXPECT_EQ(0, call_issue(&c));
	callee_join(&k);
	EXPECT_EQ(0, k.reply_ret);
	ASSERT_EQ(0, c.ret);
	EXPECT_STREQ("", reply_problem(&self->a, &c, 0x1002, self->b.id));
	/* The plain message is queued; the reply is not. */
	ASSERT_EQ(0, recv_hdr(&self->a, &hdr));
	EXPECT_EQ(5, hdr.cookie);
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
}

TEST_F(sync, past_deadline_etimedout_nothing_sent)
{
	struct kdbus_msg_info pattern;
	struct call c;

	memset(&pattern, 0x5a, sizeof(pattern));
	call_init(&c, self->a.fd, self->b.id, 0x1003, kdbus_now_ns() - MS, -1);
	EXPECT_EQ(-ETIMEDOUT, call_issue(&c));
	EXPECT_EQ(0, memcmp(&pattern, &CALL_CMD(&c)->reply, sizeof(pattern)));
	call_init(&c, self->a.fd, self->b.id, 0x1004, 1, -1);
	EXPECT_EQ(-ETIMEDOUT, call_issue(&c));
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
}

TEST_F(sync, deadline_2_pow_63_or_more_etimedout_nothing_sent)
{
	struct call c;

	call_init(&c, self->a.fd, self->b.id, 0x1005, 1ULL << 63, -1);
	EXPECT_EQ(-ETIMEDOUT, call_issue(&c));
	call_init(&c, self->a.fd, self->b.id, 0x1006, ~0ULL, -1);
	EXPECT_EQ(-ETIMEDOUT, call_issue(&c));
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
}

TEST_F(sync, unanswered_times_out_at_deadline_late_reply_eperm)
{
	struct kdbus_msg hdr;
	struct call c;
	uint64_t deadline = kdbus_now_ns() + 500 * MS;

	call_init(&c, self->a.fd, self->b.id, 0x1007, deadline, -1);
	EXPECT_EQ(-ETIMEDOUT, call_issue(&c));
	EXPECT_LE(deadline, c.t_end);
	EXPECT_GE(deadline + LATE_NS, c.t_end);
	/* The call is still queued at the callee; replying is too late. */
	ASSERT_EQ(0, recv_hdr(&self->b, &hdr));
	EXPECT_EQ(0x1007, hdr.cookie);
	EXPECT_EQ(-EPERM, send_reply(&self->b, self->a.id, 0x1007, R_PONG, 0));
	/* Sync calls never produce REPLY_TIMEOUT. */
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
}

TEST_F(sync, callee_disconnects_after_recv_epipe)
{
	struct call c;
	struct callee k;

	call_init(&c, self->a.fd, self->b.id, 0x1008, kdbus_now_ns() + LONG_NS, -1);
	ASSERT_EQ(0, callee_start(&k, &self->b, C_CLOSE, 100, &c, R_PONG, 0));
	EXPECT_EQ(-EPIPE, call_issue(&c));
	callee_join(&k);
	EXPECT_EQ(0, k.got);
	EXPECT_LE(0, drain_reply_dead(&self->a, 0x1008));
}

TEST_F(sync, callee_disconnects_with_call_queued_epipe)
{
	struct call c;
	struct callee k;
	int n;

	call_init(&c, self->a.fd, self->b.id, 0x1009, kdbus_now_ns() + LONG_NS, -1);
	ASSERT_EQ(0, callee_start(&k, &self->b, C_CLOSE_QUEUED, 100, &c, R_PONG, 0));
	EXPECT_EQ(-EPIPE, call_issue(&c));
	callee_join(&k);
	EXPECT_EQ(0, k.got);
	/* A stray REPLY_DEAD (or two) next to EPIPE is tolerated (§11 #6). */
	n = drain_reply_dead(&self->a, 0x1009);
	EXPECT_LE(0, n);
	EXPECT_GE(2, n);
}

TEST_F(sync, callee_recv_drop_epipe)
{
	struct call c;
	struct callee k;

	call_init(&c, self->a.fd, self->b.id, 0x100a, kdbus_now_ns() + LONG_NS, -1);
	ASSERT_EQ(0, callee_start(&k, &self->b, C_DROP, 100, &c, R_PONG, 0));
	EXPECT_EQ(-EPIPE, call_issue(&c));
	callee_join(&k);
	EXPECT_EQ(0, k.got);
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
}

TEST_F(sync, byebye_from_other_thread_econnreset)
{
	struct call c, again;
	struct kdbus_msg hdr;
	uint64_t deadline = kdbus_now_ns() + LONG_NS;

	call_init(&c, self->a.fd, self->b.id, 0x100b, deadline, -1);
	ASSERT_EQ(0, call_start(&c));
	ASSERT_EQ(1, wait_in(self->b.fd, ARRIVE_MS, &c.done));
	sleep_ms(100);
	EXPECT_EQ(0, kdbus_byebye(self->a.fd));
	EXPECT_EQ(-ECONNRESET, call_join(&c));
	EXPECT_GT(deadline, c.t_end);
	/* The caller is dead now; its ID is gone for the replier. */
	call_init(&again, self->a.fd, self->b.id, 0x100c, deadline, -1);
	EXPECT_EQ(-ECONNRESET, call_issue(&again));
	ASSERT_EQ(0, recv_hdr(&self->b, &hdr));
	EXPECT_EQ(0x100b, hdr.cookie);
	EXPECT_EQ(-ENXIO, send_reply(&self->b, self->a.id, 0x100b, R_PONG, 0));
}

/* ------------------------------------------------------------ CANCEL_FD */

struct writer {
	int fd;
	unsigned int delay_ms;
};

static void *writer_fn(void *p)
{
	struct writer *w = p;
	uint64_t one = 1;

	sleep_ms(w->delay_ms);
	if (write(w->fd, &one, sizeof(one)) != sizeof(one))
		w->fd = -1;
	return NULL;
}

TEST_F(sync, cancel_fd_written_ecanceled_call_delivered)
{
	struct writer w;
	struct kdbus_msg hdr;
	struct call c;
	pthread_t t;
	uint64_t t0, deadline;
	int efd = eventfd(0, EFD_CLOEXEC);

	ASSERT_LE(0, efd);
	w.fd = efd;
	w.delay_ms = 100;
	t0 = kdbus_now_ns();
	deadline = t0 + LONG_NS;
	call_init(&c, self->a.fd, self->b.id, 0x100d, deadline, efd);
	ASSERT_EQ(0, pthread_create(&t, NULL, writer_fn, &w));
	EXPECT_EQ(-ECANCELED, call_issue(&c));
	pthread_join(t, NULL);
	EXPECT_EQ(efd, w.fd);
	EXPECT_LE(t0 + 100 * MS, c.t_end);
	EXPECT_GT(deadline, c.t_end);
	/* The call was delivered; the tracker is closed. */
	ASSERT_EQ(0, recv_hdr(&self->b, &hdr));
	EXPECT_EQ(0x100d, hdr.cookie);
	EXPECT_EQ(-EPERM, send_reply(&self->b, self->a.id, 0x100d, R_PONG, 0));
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
	close(efd);
}

TEST_F(sync, cancel_fd_already_readable_cancels_at_once)
{
	struct kdbus_msg hdr;
	struct call c;
	uint64_t t0;
	int p[2], efd = eventfd(1, EFD_CLOEXEC);

	ASSERT_LE(0, efd);
	t0 = kdbus_now_ns();
	call_init(&c, self->a.fd, self->b.id, 0x100e, t0 + LONG_NS, efd);
	EXPECT_EQ(-ECANCELED, call_issue(&c));
	EXPECT_GE(t0 + LATE_NS, c.t_end);
	ASSERT_EQ(0, recv_hdr(&self->b, &hdr));
	EXPECT_EQ(0x100e, hdr.cookie);

	/* Any pollable file works, e.g. a pipe with data. */
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(1, write(p[1], "x", 1));
	t0 = kdbus_now_ns();
	call_init(&c, self->a.fd, self->b.id, 0x100f, t0 + LONG_NS, p[0]);
	EXPECT_EQ(-ECANCELED, call_issue(&c));
	EXPECT_GE(t0 + LATE_NS, c.t_end);
	ASSERT_EQ(0, recv_hdr(&self->b, &hdr));
	EXPECT_EQ(0x100f, hdr.cookie);
	/* The kernel never reads the cancel descriptor. */
	EXPECT_EQ(POLLIN, kdbus_poll(p[0], POLLIN, 0) & POLLIN);
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
	close(p[0]);
	close(p[1]);
	close(efd);
}

TEST_F(sync, cancel_fd_not_written_call_completes)
{
	struct call c;
	struct callee k;
	int efd = eventfd(0, EFD_CLOEXEC);

	ASSERT_LE(0, efd);
	call_init(&c, self->a.fd, self->b.id, 0x1010, kdbus_now_ns() + LONG_NS, efd);
	ASSERT_EQ(0, callee_start(&k, &self->b, C_REPLY, 100, &c, R_PONG, 0));
	EXPECT_EQ(0, call_issue(&c));
	callee_join(&k);
	EXPECT_EQ(0, k.reply_ret);
	if (c.ret == 0)
		EXPECT_STREQ("", reply_problem(&self->a, &c, 0x1010, self->b.id));
	close(efd);
}

TEST_F(sync, cancel_fd_validation)
{
	struct kdbus_cmd_send *cmd;
	struct call c;
	int mfd = make_memfd("x"), efd = eventfd(0, EFD_CLOEXEC);

	ASSERT_LE(0, mfd);
	ASSERT_LE(0, efd);
	/* Closed descriptor: EBADF, nothing sent (§11 #1). */
	call_init(&c, self->a.fd, self->b.id, 0x1011, kdbus_now_ns() + LONG_NS, 1000);
	EXPECT_EQ(-EBADF, call_issue(&c));
	/* A shmem file has no poll: EINVAL. */
	call_init(&c, self->a.fd, self->b.id, 0x1012, kdbus_now_ns() + LONG_NS, mfd);
	EXPECT_EQ(-EINVAL, call_issue(&c));
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
	/* Validated but not used by a non-synchronous SEND. */
	call_init(&c, self->a.fd, self->b.id, 7, 0, efd);
	kdbus_msg_hdr(&c.b)->flags = 0;
	cmd = CALL_CMD(&c);
	cmd->flags = 0;
	EXPECT_EQ(0, call_issue(&c));
	EXPECT_EQ(CALLER_POOL, cmd->reply.offset);
	EXPECT_EQ(0, kdbus_queue_empty(&self->b));
	c.send.cancel.fd = 1000;
	EXPECT_EQ(-EBADF, call_issue(&c));
	c.send.cancel.fd = mfd;
	EXPECT_EQ(-EINVAL, call_issue(&c));
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
	close(mfd);
	close(efd);
}

/* ------------------------------------------------------------ reply errors */

TEST_F(sync, reply_with_fds_to_caller_without_accept_fd_eremoteio)
{
	struct call c;
	struct callee k;

	call_init(&c, self->a.fd, self->b.id, 0x1013, kdbus_now_ns() + LONG_NS, -1);
	ASSERT_EQ(0, callee_start(&k, &self->b, C_REPLY, 0, &c, R_FDS, 0));
	EXPECT_EQ(-EREMOTEIO, call_issue(&c));
	callee_join(&k);
	EXPECT_EQ(0, k.got);
	EXPECT_EQ(-ECOMM, k.reply_ret);
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
}

TEST_F(sync, reply_over_caller_quota_enobufs_both)
{
	struct call c;
	struct callee k;

	/* Control: a 2096-byte slice fits the 2730-byte share. */
	call_init(&c, self->a.fd, self->b.id, 0x1014, kdbus_now_ns() + LONG_NS, -1);
	ASSERT_EQ(0, callee_start(&k, &self->b, C_REPLY, 0, &c, R_BIG, 2000));
	EXPECT_EQ(0, call_issue(&c));
	callee_join(&k);
	EXPECT_EQ(0, k.reply_ret);
	if (c.ret == 0) {
		EXPECT_EQ(2096, CALL_CMD(&c)->reply.msg_size);
		EXPECT_EQ(0, kdbus_free(self->a.fd, CALL_CMD(&c)->reply.offset));
	}

	/* A 4096-byte slice exceeds (16384/2)/3. */
	call_init(&c, self->a.fd, self->b.id, 0x1015, kdbus_now_ns() + LONG_NS, -1);
	ASSERT_EQ(0, callee_start(&k, &self->b, C_REPLY, 0, &c, R_BIG, 4000));
	EXPECT_EQ(-ENOBUFS, call_issue(&c));
	callee_join(&k);
	EXPECT_EQ(0, k.got);
	EXPECT_EQ(-ENOBUFS, k.reply_ret);
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
}

TEST_F(sync, memfd_reply_installed_without_accept_fd)
{
	struct kdbus_cmd_send *cmd;
	struct kdbus_item *item;
	struct kdbus_msg *m;
	struct call c;
	struct callee k;
	char buf[32] = { 0 };

	call_init(&c, self->a.fd, self->b.id, 0x1016, kdbus_now_ns() + LONG_NS, -1);
	ASSERT_EQ(0, callee_start(&k, &self->b, C_REPLY, 0, &c, R_MEMFD, 0));
	EXPECT_EQ(0, call_issue(&c));
	callee_join(&k);
	EXPECT_EQ(0, k.reply_ret);
	ASSERT_EQ(0, c.ret);
	cmd = CALL_CMD(&c);
	EXPECT_EQ(0, cmd->reply.return_flags);
	ASSERT_GT(CALLER_POOL, cmd->reply.offset);
	m = (struct kdbus_msg *)(self->a.pool + cmd->reply.offset);
	EXPECT_EQ(0x1016, m->cookie_reply);
	item = kdbus_msg_item(m, KDBUS_ITEM_PAYLOAD_MEMFD, 0);
	ASSERT_NE(NULL, item);
	EXPECT_EQ(strlen(MEMFD_DATA), item->memfd.size);
	ASSERT_LE(0, item->memfd.fd);
	EXPECT_TRUE(fcntl(item->memfd.fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ((ssize_t)strlen(MEMFD_DATA), pread(item->memfd.fd, buf, sizeof(buf), 0));
	EXPECT_STREQ(MEMFD_DATA, buf);
	close(item->memfd.fd);
	EXPECT_EQ(0, kdbus_free(self->a.fd, cmd->reply.offset));
}

/* ------------------------------------------------------------ signals */

TEST_F(sync, sa_restart_storm_reply_returned_callee_got_call_once)
{
	struct storm s;
	struct call c;
	struct callee k;

	ASSERT_EQ(0, catch_signal(SIGUSR1, SA_RESTART));
	call_init(&c, self->a.fd, self->b.id, 0x2001, kdbus_now_ns() + LONG_NS, -1);
	ASSERT_EQ(0, callee_start(&k, &self->b, C_REPLY, 400, &c, R_PONG, 0));
	ASSERT_EQ(0, storm_start(&s, pthread_self(), 3000));
	call_issue(&c);
	storm_stop(&s);
	callee_join(&k);
	EXPECT_EQ(0, c.ret);
	TH_LOG("%d signals handled during the call", (int)n_sig);
	EXPECT_LE(3, n_sig);
	EXPECT_EQ(0, k.got);
	EXPECT_EQ(0, k.reply_ret);
	if (c.ret == 0)
		EXPECT_STREQ("", reply_problem(&self->a, &c, 0x2001, self->b.id));
	/* Exactly one call reached the callee: nothing more is queued. */
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
}

TEST_F(sync, sa_restart_storm_no_reply_times_out_at_original_deadline)
{
	struct kdbus_msg hdr;
	struct storm s;
	struct call c;
	uint64_t deadline;

	ASSERT_EQ(0, catch_signal(SIGUSR1, SA_RESTART));
	deadline = kdbus_now_ns() + 500 * MS;
	call_init(&c, self->a.fd, self->b.id, 0x2002, deadline, -1);
	ASSERT_EQ(0, storm_start(&s, pthread_self(), 3000));
	call_issue(&c);
	storm_stop(&s);
	EXPECT_EQ(-ETIMEDOUT, c.ret);
	EXPECT_LE(deadline, c.t_end);
	EXPECT_GE(deadline + LATE_NS, c.t_end);
	EXPECT_LE(3, n_sig);
	ASSERT_EQ(0, recv_hdr(&self->b, &hdr));
	EXPECT_EQ(0x2002, hdr.cookie);
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
}

/*
 * Start @c in a thread, wait until the call is queued at @callee and
 * interrupt the thread with SIGUSR1 (no SA_RESTART). The thread is inside
 * the SEND past the insertion, so the result must be EINTR. Returns the
 * SEND's result.
 */
static int call_interrupted(struct call *c, struct kdbus_conn *callee)
{
	if (call_start(c))
		return -EAGAIN;
	if (wait_in(callee->fd, ARRIVE_MS, &c->done))
		pthread_kill(c->thread, SIGUSR1);
	return call_join(c);
}

TEST_F(sync, eintr_then_identical_reissue_gets_reply)
{
	struct kdbus_msg hdr;
	struct call c;

	ASSERT_EQ(0, catch_signal(SIGUSR1, 0));
	call_init(&c, self->a.fd, self->b.id, 0x2003, kdbus_now_ns() + LONG_NS, -1);
	ASSERT_EQ(-EINTR, call_interrupted(&c, &self->b));
	EXPECT_EQ(1, n_sig);
	ASSERT_EQ(0, recv_hdr(&self->b, &hdr));
	EXPECT_EQ(0x2003, hdr.cookie);

	/* Re-issue the identical SEND; it must wait, not send again. */
	ASSERT_EQ(0, call_start(&c));
	EXPECT_EQ(0, wait_in(self->b.fd, 300, &c.done));
	EXPECT_EQ(0, __atomic_load_n(&c.done, __ATOMIC_ACQUIRE));
	EXPECT_EQ(0, send_reply(&self->b, self->a.id, 0x2003, R_PONG, 0));
	EXPECT_EQ(0, call_join(&c));
	if (c.ret == 0)
		EXPECT_STREQ("", reply_problem(&self->a, &c, 0x2003, self->b.id));
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
}

TEST_F(sync, reply_while_interrupted_returned_by_reissue)
{
	struct kdbus_msg hdr;
	struct call c;

	ASSERT_EQ(0, catch_signal(SIGUSR1, 0));
	call_init(&c, self->a.fd, self->b.id, 0x2004, kdbus_now_ns() + LONG_NS, -1);
	ASSERT_EQ(-EINTR, call_interrupted(&c, &self->b));
	ASSERT_EQ(0, recv_hdr(&self->b, &hdr));
	EXPECT_EQ(0x2004, hdr.cookie);
	/* Reply while nobody waits: kept with the interrupted tracker. */
	EXPECT_EQ(0, send_reply(&self->b, self->a.id, 0x2004, R_PONG, 0));
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
	EXPECT_EQ(0, call_issue(&c));
	if (c.ret == 0)
		EXPECT_STREQ("", reply_problem(&self->a, &c, 0x2004, self->b.id));
	/* No duplicate call (§11 #3). */
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
}

TEST_F(sync, callee_dies_while_interrupted_epipe_not_resent)
{
	struct kdbus_msg hdr;
	struct call c;

	ASSERT_EQ(0, catch_signal(SIGUSR1, 0));
	call_init(&c, self->a.fd, self->b.id, 0x2005, kdbus_now_ns() + LONG_NS, -1);
	ASSERT_EQ(-EINTR, call_interrupted(&c, &self->b));
	ASSERT_EQ(0, recv_hdr(&self->b, &hdr));
	kdbus_conn_close(&self->b);
	/* A re-sent call would fail ENXIO: the callee's ID is gone. */
	EXPECT_EQ(-EPIPE, call_issue(&c));
	EXPECT_LE(0, drain_reply_dead(&self->a, 0x2005));
}

TEST_F(sync, callee_drops_while_interrupted_epipe_not_resent)
{
	struct call c;

	ASSERT_EQ(0, catch_signal(SIGUSR1, 0));
	call_init(&c, self->a.fd, self->b.id, 0x2006, kdbus_now_ns() + LONG_NS, -1);
	ASSERT_EQ(-EINTR, call_interrupted(&c, &self->b));
	ASSERT_EQ(0, kdbus_msg_recv(&self->b, KDBUS_RECV_DROP, 0, NULL, NULL));
	EXPECT_EQ(-EPIPE, call_issue(&c));
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
}

TEST_F(sync, deadline_passed_while_interrupted_etimedout_not_resent)
{
	struct kdbus_msg hdr;
	struct call c;
	uint64_t deadline;

	ASSERT_EQ(0, catch_signal(SIGUSR1, 0));
	deadline = kdbus_now_ns() + SEC;
	call_init(&c, self->a.fd, self->b.id, 0x2007, deadline, -1);
	ASSERT_EQ(-EINTR, call_interrupted(&c, &self->b));
	sleep_until(deadline + 100 * MS);
	EXPECT_EQ(-ETIMEDOUT, call_issue(&c));
	EXPECT_GE(deadline + 100 * MS + LATE_NS, c.t_end);
	/* Only the original call is queued at the callee. */
	ASSERT_EQ(0, recv_hdr(&self->b, &hdr));
	EXPECT_EQ(0x2007, hdr.cookie);
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
}

TEST_F(sync, interrupted_never_resumed_no_reply_timeout)
{
	struct kdbus_msg hdr;
	struct call c;
	uint64_t deadline;

	ASSERT_EQ(0, catch_signal(SIGUSR1, 0));
	deadline = kdbus_now_ns() + SEC;
	call_init(&c, self->a.fd, self->b.id, 0x2008, deadline, -1);
	ASSERT_EQ(-EINTR, call_interrupted(&c, &self->b));
	sleep_until(deadline + 500 * MS);
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
	/* The interrupted tracker was reaped silently at its deadline. */
	ASSERT_EQ(0, recv_hdr(&self->b, &hdr));
	EXPECT_EQ(0x2008, hdr.cookie);
	EXPECT_EQ(-EPERM, send_reply(&self->b, self->a.id, 0x2008, R_PONG, 0));
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
}

/* ------------------------------------------------------------ stress */

#define S_CALLERS	8
#define S_CALLEES	4
#define S_CALLS		400		/* per caller: 3200 calls in all */
#define S_BUDGET_NS	(20 * SEC)	/* per caller, whichever ends first */
#define S_POOL		(64 * 1024)
#define S_WATCHDOG	150		/* seconds, alarm() in the test process */

enum { S_OK, S_TIMEDOUT, S_PIPE, S_NXIO, S_CONNRESET, S_BAD, S_NOTES, S_STRAY, S_NR };

static const char *const s_names[S_NR] = {
	"ok", "ETIMEDOUT", "EPIPE", "ENXIO", "ECONNRESET", "bad", "REPLY_DEAD", "stray",
};

struct stress_shared {
	uint64_t ids[S_CALLEES];	/* current ID of each callee slot */
	int stop;
	struct {
		uint64_t n[S_NR];
		uint64_t calls, signals;
		int bad_errno;
	} caller[S_CALLERS];
	struct {
		uint64_t lives, received, replied, late, ignored, dropped, bad;
		int bad_errno;
	} callee[S_CALLEES];
};

struct stress_arg {
	struct stress_shared *sh;
	const char *path;
	int idx;
};

static volatile sig_atomic_t s_alarms;

static void s_on_alarm(int sig)
{
	(void)sig;
	s_alarms++;
}

static int s_reply(struct kdbus_conn *c, uint64_t dst, uint64_t cookie)
{
	struct kdbus_builder b;

	kdbus_msg_init(&b, dst, 0, 0, 1);
	kdbus_msg_hdr(&b)->cookie_reply = cookie;
	kdbus_b_vec(&b, &cookie, sizeof(cookie));
	return kdbus_msg_send_b(c->fd, &b, 0, NULL);
}

/* A reply may race with the caller's timeout or death. */
static void s_count_reply(struct stress_shared *sh, int idx, int ret)
{
	if (ret == 0 || ret == -EPERM || ret == -ECONNRESET || ret == -ENXIO) {
		__atomic_add_fetch(&sh->callee[idx].replied, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_add_fetch(&sh->callee[idx].bad, 1, __ATOMIC_RELAXED);
	sh->callee[idx].bad_errno = -ret;
}

/*
 * A callee slot: serve calls on a connection (reply now 57%, reply 1-40 ms
 * later 20%, never reply 20%, die 3%; 10% of RECVs DROP); death is either
 * the process exiting (the supervisor respawns it) or closing the
 * connection and opening a new one.
 */
static int stress_callee(void *p)
{
	struct stress_arg *a = p;
	struct stress_shared *sh = a->sh;
	unsigned int seed = getpid() * 2654435761u;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		struct { uint64_t dst, cookie, at; } pend[8];
		struct kdbus_conn c;
		int npend = 0, i, ret;

		if (kdbus_conn_open(&c, a->path, 0, S_POOL) < 0)
			return 2;
		sh->callee[a->idx].lives++;
		__atomic_store_n(&sh->ids[a->idx], c.id, __ATOMIC_RELEASE);
		for (;;) {
			struct kdbus_cmd_recv r;
			struct kdbus_msg *m;
			uint64_t now;

			if (__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE)) {
				kdbus_conn_close(&c);
				return 0;
			}
			kdbus_poll(c.fd, POLLIN, 5);
			now = kdbus_now_ns();
			for (i = 0; i < npend;) {
				if (pend[i].at > now) {
					i++;
					continue;
				}
				s_count_reply(sh, a->idx, s_reply(&c, pend[i].dst, pend[i].cookie));
				pend[i] = pend[--npend];
			}
			for (;;) {
				bool drop = rand_r(&seed) % 100 < 10;
				uint64_t dst, cookie;
				int x;

				ret = kdbus_msg_recv(&c, drop ? KDBUS_RECV_DROP : 0, 0, &m, &r);
				if (ret == -EAGAIN)
					break;
				if (ret < 0) {
					sh->callee[a->idx].bad++;
					sh->callee[a->idx].bad_errno = -ret;
					break;
				}
				if (drop) {
					sh->callee[a->idx].dropped++;
					continue;
				}
				if (!m)
					continue;
				dst = m->src_id;
				cookie = m->cookie;
				x = m->flags & KDBUS_MSG_EXPECT_REPLY;
				kdbus_free(c.fd, r.msg.offset);
				if (!x)
					continue;
				sh->callee[a->idx].received++;
				x = rand_r(&seed) % 100;
				if (x < 3) {
					if (x < 1)
						_exit(0);	/* pending calls die with us */
					kdbus_conn_close(&c);
					goto next_life;
				} else if (x < 60) {
					s_count_reply(sh, a->idx, s_reply(&c, dst, cookie));
				} else if (x < 80 && npend < 8) {
					pend[npend].dst = dst;
					pend[npend].cookie = cookie;
					pend[npend].at = now + (1 + rand_r(&seed) % 40) * MS;
					npend++;
					sh->callee[a->idx].late++;
				} else {
					sh->callee[a->idx].ignored++;
				}
			}
		}
next_life:
		;
	}
}

/*
 * A caller: sync calls with 20-250 ms deadlines to random callee slots
 * while SIGALRM (SA_RESTART) fires every 4 ms. Every call must end with 0
 * and the right reply, ETIMEDOUT, EPIPE, ENXIO (stale callee ID) or
 * ECONNRESET (callee disconnecting); the queue may only ever hold
 * REPLY_DEADs (§11 #6).
 */
static int stress_caller(void *p)
{
	struct stress_arg *a = p;
	struct stress_shared *sh = a->sh;
	struct itimerval it = { { 0, 4000 }, { 0, 4000 } }, off = { { 0, 0 }, { 0, 0 } };
	struct sigaction sa;
	struct kdbus_conn c;
	unsigned int seed = getpid() * 2246822519u;
	uint64_t *n = sh->caller[a->idx].n, t_stop, calls = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (kdbus_conn_open(&c, a->path, 0, S_POOL) < 0)
		return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = s_on_alarm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	t_stop = kdbus_now_ns() + S_BUDGET_NS;
	while (calls < S_CALLS && kdbus_now_ns() < t_stop) {
		struct kdbus_cmd_send cmd;
		struct kdbus_cmd_recv r;
		struct kdbus_builder b;
		struct kdbus_msg *m;
		uint64_t dst = __atomic_load_n(&sh->ids[rand_r(&seed) % S_CALLEES],
					       __ATOMIC_ACQUIRE);
		uint64_t cookie = ((uint64_t)(a->idx + 1) << 32) | (calls + 1), got = 0;
		int ret;

		if (!dst) {
			usleep(1000);
			continue;
		}
		calls++;
		kdbus_msg_init(&b, dst, KDBUS_MSG_EXPECT_REPLY, 0, cookie);
		kdbus_msg_hdr(&b)->timeout_ns = kdbus_now_ns() + (20 + rand_r(&seed) % 231) * MS;
		kdbus_b_vec(&b, &cookie, sizeof(cookie));
		ret = kdbus_msg_send_b(c.fd, &b, KDBUS_SEND_SYNC_REPLY, &cmd);
		switch (ret) {
		case 0:
			m = (struct kdbus_msg *)(c.pool + cmd.reply.offset);
			if (cmd.reply.offset < S_POOL && m->cookie_reply == cookie &&
			    m->src_id == dst &&
			    kdbus_msg_payload(m, cmd.reply.msg_size, &got, sizeof(got)) == 8 &&
			    got == cookie && kdbus_free(c.fd, cmd.reply.offset) == 0) {
				n[S_OK]++;
			} else {
				n[S_BAD]++;
				sh->caller[a->idx].bad_errno = 1000;
			}
			break;
		case -ETIMEDOUT:
			n[S_TIMEDOUT]++;
			break;
		case -EPIPE:
			n[S_PIPE]++;
			break;
		case -ENXIO:
			n[S_NXIO]++;
			break;
		case -ECONNRESET:
			n[S_CONNRESET]++;
			break;
		default:
			n[S_BAD]++;
			sh->caller[a->idx].bad_errno = -ret;
			break;
		}
		while ((ret = kdbus_msg_recv(&c, 0, 0, &m, &r)) == 0) {
			if (m && m->src_id == KDBUS_SRC_ID_KERNEL &&
			    kdbus_msg_item(m, KDBUS_ITEM_REPLY_DEAD, 0))
				n[S_NOTES]++;
			else
				n[S_STRAY]++;
			kdbus_free(c.fd, r.msg.offset);
		}
		if (ret != -EAGAIN) {
			n[S_BAD]++;
			sh->caller[a->idx].bad_errno = 2000 - ret;
		}
	}
	setitimer(ITIMER_REAL, &off, NULL);
	sh->caller[a->idx].calls = calls;
	sh->caller[a->idx].signals = s_alarms;
	kdbus_conn_close(&c);
	return n[S_BAD] || n[S_STRAY] ? 1 : 0;
}

TEST_F_TIMEOUT(sync, stress_calls_signals_and_callee_deaths, 240)
{
	struct stress_arg ca[S_CALLERS], ka[S_CALLEES];
	pid_t cpid[S_CALLERS], kpid[S_CALLEES];
	uint64_t tot[S_NR] = { 0 }, calls = 0, signals = 0, lives = 0, received = 0;
	uint64_t replied = 0, late = 0, ignored = 0, dropped = 0, kbad = 0;
	int cstatus[S_CALLERS], kfail = 0, left = S_CALLERS, i, j, status;
	struct stress_shared *sh;
	uint64_t t0 = kdbus_now_ns();
	pid_t pid;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sh);
	memset(sh, 0, sizeof(*sh));
	/* Watchdog: the test process dies, PDEATHSIG takes the children. */
	alarm(S_WATCHDOG);
	for (i = 0; i < S_CALLEES; i++) {
		ka[i] = (struct stress_arg){ .sh = sh, .path = self->path, .idx = i };
		kpid[i] = kdbus_spawn(stress_callee, &ka[i]);
		ASSERT_LT(0, kpid[i]);
	}
	for (i = 0; i < S_CALLERS; i++) {
		ca[i] = (struct stress_arg){ .sh = sh, .path = self->path, .idx = i };
		cstatus[i] = -1;
		cpid[i] = kdbus_spawn(stress_caller, &ca[i]);
		ASSERT_LT(0, cpid[i]);
	}
	while (left) {
		pid = waitpid(-1, &status, 0);
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < S_CALLERS; i++)
			if (cpid[i] == pid) {
				cstatus[i] = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
				left--;
			}
		for (i = 0; i < S_CALLEES; i++)
			if (kpid[i] == pid) {
				if (!WIFEXITED(status) || WEXITSTATUS(status))
					kfail++;
				kpid[i] = kdbus_spawn(stress_callee, &ka[i]);
				if (kpid[i] < 0)
					kfail++;
			}
	}
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < S_CALLEES; i++) {
		if (kpid[i] <= 0)
			continue;
		status = kdbus_wait(kpid[i]);
		if (status)
			kfail++;
	}
	alarm(0);

	for (i = 0; i < S_CALLERS; i++) {
		for (j = 0; j < S_NR; j++)
			tot[j] += sh->caller[i].n[j];
		calls += sh->caller[i].calls;
		signals += sh->caller[i].signals;
		if (sh->caller[i].bad_errno)
			TH_LOG("caller %d: bad outcome, errno %d", i, sh->caller[i].bad_errno);
		EXPECT_EQ(0, cstatus[i]);
	}
	for (i = 0; i < S_CALLEES; i++) {
		lives += sh->callee[i].lives;
		received += sh->callee[i].received;
		replied += sh->callee[i].replied;
		late += sh->callee[i].late;
		ignored += sh->callee[i].ignored;
		dropped += sh->callee[i].dropped;
		kbad += sh->callee[i].bad;
		if (sh->callee[i].bad_errno)
			TH_LOG("callee %d: bad reply/recv, errno %d", i, sh->callee[i].bad_errno);
	}
	TH_LOG("%llu calls in %llu ms, %llu signals: %s %llu, %s %llu, %s %llu, %s %llu, "
	       "%s %llu, %s %llu, %s %llu, %s %llu",
	       (unsigned long long)calls, (unsigned long long)((kdbus_now_ns() - t0) / MS),
	       (unsigned long long)signals,
	       s_names[0], (unsigned long long)tot[0], s_names[1], (unsigned long long)tot[1],
	       s_names[2], (unsigned long long)tot[2], s_names[3], (unsigned long long)tot[3],
	       s_names[4], (unsigned long long)tot[4], s_names[5], (unsigned long long)tot[5],
	       s_names[6], (unsigned long long)tot[6], s_names[7], (unsigned long long)tot[7]);
	TH_LOG("callees: %llu lives, %llu calls received, %llu replies (%llu late), "
	       "%llu ignored, %llu dropped",
	       (unsigned long long)lives, (unsigned long long)received,
	       (unsigned long long)replied, (unsigned long long)late,
	       (unsigned long long)ignored, (unsigned long long)dropped);
	EXPECT_EQ(0, tot[S_BAD]);
	EXPECT_EQ(0, tot[S_STRAY]);
	EXPECT_EQ(0, kbad);
	EXPECT_EQ(0, kfail);
	EXPECT_EQ(calls, tot[S_OK] + tot[S_TIMEDOUT] + tot[S_PIPE] + tot[S_NXIO] +
		  tot[S_CONNRESET] + tot[S_BAD]);
	/* The run really exercised something. */
	EXPECT_LE(S_CALLERS * 20, calls);
	EXPECT_LT(0, tot[S_OK]);
	EXPECT_LT(S_CALLEES, lives);
	munmap(sh, sizeof(*sh));
}

TEST_HARNESS_MAIN
