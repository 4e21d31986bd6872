// SPDX-License-Identifier: GPL-2.0
/*
 * Asynchronous method calls and their outcomes (message.md §2.1, §2.6,
 * §4.1-§4.4, §4.7, §5.8, §6.1, §7.1, §7.2, §7.5, §9, §11;
 * connection-pool.md §5.1, §5.3, §14): sending an EXPECT_REPLY call,
 * what the callee sees, replies and the tracker as the permission to
 * reply (EPERM cases, no TALK check), the 128-tracker limit (EMLINK, also
 * for timed-out calls still queued at the callee), REPLY_TIMEOUT (shape,
 * TIMESTAMP, promptness, past and far deadlines, a short deadline behind
 * a long one), REPLY_DEAD (callee closes with the call queued or received,
 * RECV DROP, BYEBYE), replies to a vanished caller, CANCEL_FD validation on
 * an asynchronous SEND, and multi-threaded stress runs (one with thousands of
 * pipelined calls and repeated callee deaths) in which every call ends with
 * exactly one outcome, and the connection slots of callers that closed while
 * their calls sat unread at the callee.
 *
 * Checklist message.md §12 covered here:
 *  "Replies and calls": all asynchronous items (reply delivered, EPERM for
 *   an unknown cookie / another replier / a second reply, reply despite
 *   TALK policy, EMLINK, REPLY_TIMEOUT, reply after REPLY_TIMEOUT, past
 *   deadline, 10 s / 1 s deadlines, REPLY_DEAD on disconnect and on DROP,
 *   the callee sees cookie and absolute deadline);
 *  "SEND": CANCEL_FD closed (EBADF) and not pollable (EINVAL); reply.offset
 *   / msg_size after an asynchronous SEND;
 *  "Notifications": REPLY_TIMEOUT / REPLY_DEAD without any match, item
 *   size 16, TIMESTAMP only when requested.
 * Also connection-pool.md: BYEBYE EBUSY with a queued call; REPLY_DEAD on
 * BYEBYE; one or two REPLY_DEAD for an unread call (§14).
 *
 * Not covered here: synchronous calls (SYNC_REPLY, EPIPE, ECANCELED,
 * ETIMEDOUT, signal restart — their own file), trackers re-targeted by
 * activator hand-over and replies by name (need name acquisition), monitor
 * copies of calls/replies/notifications, a reply whose delivery fails after
 * the tracker was consumed (§11 #9: only observable through quota tricks,
 * behaviour is "caller gets nothing") and REPLY_* lost to a full caller pool
 * (silent by design, nothing to assert but absence).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

#define A_POOL		(2 << 20)	/* caller; differs from the callee's */
#define B_POOL		(1 << 20)	/* callee */
#define C_POOL		(64 << 10)	/* a bystander */
#define NSEC		1000000000ULL
#define MSEC		1000000ULL
#define REPLY_COOKIE	0x7e7e		/* the cookie a reply itself carries */
#define MAX_CALLS	128		/* trackers per caller (message.md §0) */
#define NOTIFY_SIZE	80		/* REPLY_* message without TIMESTAMP */

FIXTURE(reply) {
	struct kdbus_domain d;
	char bus[64];
	char path[256];		/* <root>/<bus>/bus */
	int owner;
	char param[64];
	struct kdbus_conn a;	/* caller */
	struct kdbus_conn b;	/* callee */
	struct kdbus_conn c;	/* third connection */
};

FIXTURE_SETUP(reply)
{
	self->param[0] = 0;
	self->a.fd = self->b.fd = self->c.fd = -1;
	ASSERT_EQ(0, kdbus_domain_init(&self->d));
	self->owner = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "rp", self->bus);
	ASSERT_LE(0, self->owner);
	kdbus_path(self->path, sizeof(self->path), self->d.root, "%s/bus", self->bus);
	/* TIMESTAMP on notifications needs the module mask to allow it. */
	ASSERT_EQ(0, kdbus_param_set(KDBUS_PARAM_DEFAULT, self->param, sizeof(self->param)));
	ASSERT_EQ(0, kdbus_conn_open(&self->a, self->path, 0, A_POOL));
	ASSERT_EQ(0, kdbus_conn_open(&self->b, self->path, 0, B_POOL));
	ASSERT_EQ(0, kdbus_conn_open(&self->c, self->path, 0, C_POOL));
}

FIXTURE_TEARDOWN(reply)
{
	kdbus_conn_close(&self->a);
	kdbus_conn_close(&self->b);
	kdbus_conn_close(&self->c);
	if (self->param[0])
		kdbus_write_file(KDBUS_PARAM_PATH, self->param);
	if (self->owner >= 0)
		close(self->owner);
	kdbus_domain_fini(&self->d);
}

/* ------------------------------------------------------------ helpers */

/* Build an asynchronous call: EXPECT_REPLY, @cookie, absolute @deadline. */
static void call_init(struct kdbus_builder *b, uint64_t dst, uint64_t cookie, uint64_t deadline)
{
	kdbus_msg_init(b, dst, KDBUS_MSG_EXPECT_REPLY, 0, cookie);
	kdbus_msg_hdr(b)->timeout_ns = deadline;
}

/* Send an asynchronous call; 0 or -errno. */
static int send_call(int fd, uint64_t dst, uint64_t cookie, uint64_t deadline,
		     struct kdbus_cmd_send *out)
{
	struct kdbus_builder b;

	call_init(&b, dst, cookie, deadline);
	return kdbus_msg_send_b(fd, &b, 0, out);
}

/* Send a reply (no EXPECT_REPLY, cookie_reply = @cookie_reply); 0 or -errno. */
static int send_reply(int fd, uint64_t dst, uint64_t cookie_reply, struct kdbus_cmd_send *out)
{
	struct kdbus_builder b;

	kdbus_msg_init(&b, dst, 0, 0, REPLY_COOKIE);
	kdbus_msg_hdr(&b)->cookie_reply = cookie_reply;
	return kdbus_msg_send_b(fd, &b, 0, out);
}

/*
 * Asynchronous call with a CANCEL_FD command item carrying @cancel_fd
 * (@len payload bytes: 4 is the valid size). The command is laid out as in
 * kdbus_send(); its reply fields are preset to 0x5a. 0 or -errno.
 */
static int send_call_cancel(int fd, uint64_t dst, uint64_t cookie, uint64_t deadline,
			    int cancel_fd, size_t len, struct kdbus_cmd_send *out)
{
	static struct kdbus_builder mb, cb;	/* 40 KiB each: keep off the stack */
	struct kdbus_cmd_send *cmd;
	uint64_t payload = 0;
	int ret;

	memcpy(&payload, &cancel_fd, sizeof(cancel_fd));
	call_init(&mb, dst, cookie, deadline);
	kdbus_b_init(&cb, sizeof(*cmd));
	kdbus_b_item(&cb, KDBUS_ITEM_CANCEL_FD, &payload, len);
	if (cb.err)
		return cb.err;
	cmd = kdbus_b_cmd(&cb);
	cmd->msg_address = (uintptr_t)kdbus_b_cmd(&mb);
	memset(&cmd->reply, 0x5a, sizeof(cmd->reply));
	ret = kdbus_ioctl(fd, KDBUS_CMD_SEND, cmd);
	if (out)
		memcpy(out, cmd, sizeof(*out));
	return ret;
}

/* Wait up to @ms for a message on @c and receive it: 0 (*m set),
 * -ETIMEDOUT if nothing arrived, -errno. */
static int recv_wait(struct kdbus_conn *c, int ms, struct kdbus_msg **m,
		     struct kdbus_cmd_recv *r)
{
	int ret = kdbus_poll(c->fd, POLLIN, ms);

	if (ret < 0)
		return ret;
	if (!(ret & POLLIN))
		return ret ? -EPIPE : -ETIMEDOUT;
	ret = kdbus_msg_recv(c, 0, 0, m, r);
	if (ret == 0 && !*m)
		return -ENOMSG;
	return ret;
}

/* Receive one message without waiting and return its cookie (freeing it),
 * or -errno. */
static int64_t recv_cookie(struct kdbus_conn *c)
{
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	int64_t cookie;
	int ret = kdbus_msg_recv(c, 0, 0, &m, &r);

	if (ret < 0)
		return ret;
	if (!m)
		return -ENOMSG;
	cookie = m->cookie;
	kdbus_free(c->fd, r.msg.offset);
	return cookie;
}

/* Is @m a REPLY_* notification of @type for @dst about @cookie, without
 * TIMESTAMP (message.md §7.1)? */
static bool is_notify(const struct kdbus_msg *m, uint64_t type, uint64_t dst, uint64_t cookie)
{
	return m->size == NOTIFY_SIZE && m->src_id == KDBUS_SRC_ID_KERNEL &&
	       m->dst_id == dst && m->payload_type == KDBUS_PAYLOAD_KERNEL &&
	       m->flags == KDBUS_MSG_SIGNAL && m->cookie == 0 && m->priority == 0 &&
	       m->cookie_reply == cookie && m->items[0].size == 16 &&
	       m->items[0].type == type;
}

/* Field-by-field version of is_notify() for the tests that look closely. */
static void expect_notify(struct __test_metadata *_metadata, struct kdbus_msg *m,
			  uint64_t msg_size, uint64_t type, uint64_t dst, uint64_t cookie)
{
	EXPECT_EQ(KDBUS_SRC_ID_KERNEL, m->src_id);
	EXPECT_EQ(dst, m->dst_id);
	EXPECT_EQ(KDBUS_PAYLOAD_KERNEL, m->payload_type);
	EXPECT_EQ(KDBUS_MSG_SIGNAL, m->flags);
	EXPECT_EQ(0, m->cookie);
	EXPECT_EQ(cookie, m->cookie_reply);
	EXPECT_EQ(0, m->priority);
	EXPECT_EQ(msg_size, m->size);
	EXPECT_EQ(type, m->items[0].type);
	EXPECT_EQ(16, m->items[0].size);
	EXPECT_EQ(msg_size == NOTIFY_SIZE ? 1 : 2, kdbus_msg_count(m));
}

/*
 * Collect the REPLY_DEAD notifications for @cookie at @c: wait up to
 * @first_ms for the first, then 300 ms for each further one. Returns how
 * many arrived (0 if none), or -EBADMSG if anything else arrived (logged),
 * or -errno.
 */
static int collect_dead(struct kdbus_conn *c, uint64_t cookie, int first_ms)
{
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	int n = 0, ms = first_ms, ret;

	for (;;) {
		ret = recv_wait(c, ms, &m, &r);
		if (ret == -ETIMEDOUT)
			return n;
		if (ret < 0)
			return ret;
		if (!is_notify(m, KDBUS_ITEM_REPLY_DEAD, c->id, cookie)) {
			fprintf(stderr, "# unexpected message: src %llu size %llu flags %#llx "
				"cookie %llu cookie_reply %llu item type %#llx\n",
				(unsigned long long)m->src_id, (unsigned long long)m->size,
				(unsigned long long)m->flags, (unsigned long long)m->cookie,
				(unsigned long long)m->cookie_reply,
				(unsigned long long)m->items[0].type);
			kdbus_free(c->fd, r.msg.offset);
			return -EBADMSG;
		}
		kdbus_free(c->fd, r.msg.offset);
		n++;
		ms = 300;
	}
}

/* ------------------------------------------------ calls and replies */

TEST_F(reply, async_call_and_reply_round_trip)
{
	struct kdbus_cmd_send s;
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	uint64_t deadline = kdbus_now_ns() + 5 * NSEC;

	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 0xc0ffee, deadline, &s));
	/* An asynchronous SEND reports the empty slice of the caller's pool. */
	EXPECT_EQ(A_POOL, s.reply.offset);
	EXPECT_EQ(0, s.reply.msg_size);
	EXPECT_EQ(0, s.reply.return_flags);
	EXPECT_EQ(0, s.return_flags);

	/* The callee sees the call header as sent, with the absolute deadline. */
	ASSERT_EQ(0, recv_wait(&self->b, 5000, &m, &r));
	EXPECT_EQ(self->a.id, m->src_id);
	EXPECT_EQ(self->b.id, m->dst_id);
	EXPECT_EQ(0xc0ffee, m->cookie);
	EXPECT_EQ(KDBUS_MSG_EXPECT_REPLY, m->flags);
	EXPECT_EQ(deadline, m->timeout_ns);
	EXPECT_EQ(KDBUS_PAYLOAD_DBUS, m->payload_type);
	EXPECT_EQ(0, kdbus_free(self->b.fd, r.msg.offset));

	/* The reply goes into the caller's queue. */
	ASSERT_EQ(0, send_reply(self->b.fd, self->a.id, 0xc0ffee, &s));
	EXPECT_EQ(B_POOL, s.reply.offset);
	EXPECT_EQ(0, s.reply.msg_size);
	ASSERT_EQ(0, recv_wait(&self->a, 5000, &m, &r));
	EXPECT_EQ(self->b.id, m->src_id);
	EXPECT_EQ(self->a.id, m->dst_id);
	EXPECT_EQ(0xc0ffee, m->cookie_reply);
	EXPECT_EQ(REPLY_COOKIE, m->cookie);
	EXPECT_EQ(0, m->flags);
	EXPECT_EQ(KDBUS_PAYLOAD_DBUS, m->payload_type);
	EXPECT_EQ(0, kdbus_free(self->a.fd, r.msg.offset));
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
}

TEST_F(reply, answered_call_yields_no_timeout_and_no_dead)
{
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	uint64_t deadline = kdbus_now_ns() + 2 * NSEC;

	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 5, deadline, NULL));
	ASSERT_EQ(5, recv_cookie(&self->b));
	ASSERT_EQ(0, send_reply(self->b.fd, self->a.id, 5, NULL));
	ASSERT_EQ(0, recv_wait(&self->a, 5000, &m, &r));
	EXPECT_EQ(5, m->cookie_reply);
	EXPECT_EQ(self->b.id, m->src_id);
	kdbus_free(self->a.fd, r.msg.offset);
	/* The callee going away later does not matter either. */
	kdbus_conn_close(&self->b);
	while (kdbus_now_ns() < deadline + 500 * MSEC)
		usleep(50000);
	EXPECT_EQ(0, kdbus_poll(self->a.fd, POLLIN, 200));
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
}

TEST_F(reply, reply_with_unknown_cookie_eperm)
{
	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 7, kdbus_now_ns() + 10 * NSEC, NULL));
	ASSERT_EQ(7, recv_cookie(&self->b));
	EXPECT_EQ(-EPERM, send_reply(self->b.fd, self->a.id, 8, NULL));
	EXPECT_EQ(-EPERM, send_reply(self->b.fd, self->a.id, ~7ULL, NULL));
	/* The tracker lives at the caller: the right cookie to someone else,
	 * or to the callee itself, is no reply either. */
	EXPECT_EQ(-EPERM, send_reply(self->b.fd, self->c.id, 7, NULL));
	EXPECT_EQ(-EPERM, send_reply(self->b.fd, self->b.id, 7, NULL));
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
	EXPECT_EQ(1, kdbus_queue_empty(&self->c));
	/* The failures consumed nothing. */
	EXPECT_EQ(0, send_reply(self->b.fd, self->a.id, 7, NULL));
	EXPECT_EQ(REPLY_COOKIE, recv_cookie(&self->a));
}

TEST_F(reply, reply_from_other_connection_eperm)
{
	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 9, kdbus_now_ns() + 10 * NSEC, NULL));
	ASSERT_EQ(9, recv_cookie(&self->b));
	EXPECT_EQ(-EPERM, send_reply(self->c.fd, self->a.id, 9, NULL));
	/* Not even the caller may answer its own call. */
	EXPECT_EQ(-EPERM, send_reply(self->a.fd, self->a.id, 9, NULL));
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
	/* The callee still can. */
	EXPECT_EQ(0, send_reply(self->b.fd, self->a.id, 9, NULL));
	EXPECT_EQ(REPLY_COOKIE, recv_cookie(&self->a));
}

TEST_F(reply, second_reply_eperm)
{
	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 11, kdbus_now_ns() + 10 * NSEC, NULL));
	ASSERT_EQ(11, recv_cookie(&self->b));
	ASSERT_EQ(0, send_reply(self->b.fd, self->a.id, 11, NULL));
	EXPECT_EQ(-EPERM, send_reply(self->b.fd, self->a.id, 11, NULL));
	EXPECT_EQ(REPLY_COOKIE, recv_cookie(&self->a));
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
}

TEST_F(reply, reply_before_callee_received_call_accepted)
{
	/* The tracker is the permission, not the callee having read the call. */
	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 13, kdbus_now_ns() + 10 * NSEC, NULL));
	ASSERT_EQ(0, send_reply(self->b.fd, self->a.id, 13, NULL));
	EXPECT_EQ(REPLY_COOKIE, recv_cookie(&self->a));
	EXPECT_EQ(-EPERM, send_reply(self->b.fd, self->a.id, 13, NULL));
	/* The call is still queued at the callee. */
	EXPECT_EQ(13, recv_cookie(&self->b));
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
}

/* The callee of reply_bypasses_talk_policy, running as an unprivileged
 * user that may not talk to the (root, nameless) caller. */
struct nobody_callee {
	const char *path;
	int idpipe[2];
};

static int nobody_callee_fn(void *arg)
{
	struct nobody_callee *nc = arg;
	struct kdbus_cmd_recv r;
	struct kdbus_conn c;
	struct kdbus_msg *m;
	uint64_t caller, cookie;

	close(nc->idpipe[0]);
	KDBUS_CHILD_CHECK(kdbus_conn_open(&c, nc->path, 0, B_POOL) == 0);
	KDBUS_CHILD_CHECK(write(nc->idpipe[1], &c.id, sizeof(c.id)) == sizeof(c.id));
	KDBUS_CHILD_CHECK(recv_wait(&c, 10000, &m, &r) == 0);
	KDBUS_CHILD_CHECK(m->flags == KDBUS_MSG_EXPECT_REPLY);
	caller = m->src_id;
	cookie = m->cookie;
	kdbus_free(c.fd, r.msg.offset);
	/* On its own, this user may not talk to the caller... */
	KDBUS_CHILD_CHECK(kdbus_msg_send(c.fd, caller, 0, 0, 1, NULL, 0) == -EPERM);
	/* ...but it may answer the call, once. */
	KDBUS_CHILD_CHECK(send_reply(c.fd, caller, cookie, NULL) == 0);
	KDBUS_CHILD_CHECK(send_reply(c.fd, caller, cookie, NULL) == -EPERM);
	kdbus_conn_close(&c);
	return 0;
}

TEST_F(reply, reply_bypasses_talk_policy)
{
	struct nobody_callee nc = { .path = self->path };
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	uint64_t id = 0;
	pid_t pid;

	ASSERT_EQ(0, pipe(nc.idpipe));
	pid = kdbus_spawn_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY, nobody_callee_fn, &nc);
	ASSERT_LT(0, pid);
	close(nc.idpipe[1]);
	ASSERT_EQ(sizeof(id), read(nc.idpipe[0], &id, sizeof(id)));
	close(nc.idpipe[0]);
	/* Root may call anybody. */
	ASSERT_EQ(0, send_call(self->a.fd, id, 21, kdbus_now_ns() + 20 * NSEC, NULL));
	ASSERT_EQ(0, recv_wait(&self->a, 20000, &m, &r));
	EXPECT_EQ(id, m->src_id);
	EXPECT_EQ(21, m->cookie_reply);
	kdbus_free(self->a.fd, r.msg.offset);
	EXPECT_EQ(0, kdbus_wait(pid));
	/* No REPLY_DEAD after the answered callee left. */
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
}

/* -------------------------------------------------------------- EMLINK */

TEST_F(reply, call_129_emlink_until_one_is_answered)
{
	uint64_t deadline = kdbus_now_ns() + 120 * NSEC;
	uint64_t i;

	for (i = 1; i <= MAX_CALLS; i++)
		ASSERT_EQ(0, send_call(self->a.fd, self->b.id, i, deadline, NULL))
			TH_LOG("call %llu", (unsigned long long)i);
	EXPECT_EQ(-EMLINK, send_call(self->a.fd, self->b.id, 1000, deadline, NULL));
	/* The limit is about calls: plain messages still go through. */
	EXPECT_EQ(0, kdbus_msg_send(self->a.fd, self->c.id, 0, 0, 1, NULL, 0));
	EXPECT_EQ(1, recv_cookie(&self->c));
	/* Other connections have their own budget. */
	EXPECT_EQ(0, send_call(self->c.fd, self->b.id, 2000, deadline, NULL));

	/* Answer one: the callee reads it and replies, the caller reads the reply. */
	ASSERT_EQ(1, recv_cookie(&self->b));
	ASSERT_EQ(0, send_reply(self->b.fd, self->a.id, 1, NULL));
	ASSERT_EQ(REPLY_COOKIE, recv_cookie(&self->a));
	EXPECT_EQ(0, send_call(self->a.fd, self->b.id, 1001, deadline, NULL));
	EXPECT_EQ(-EMLINK, send_call(self->a.fd, self->b.id, 1002, deadline, NULL));

	/* The refused calls were never queued. */
	for (i = 2; i <= MAX_CALLS; i++)
		ASSERT_EQ(i, recv_cookie(&self->b));
	EXPECT_EQ(2000, recv_cookie(&self->b));
	EXPECT_EQ(1001, recv_cookie(&self->b));
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
}

TEST_F_TIMEOUT(reply, timed_out_call_still_queued_keeps_counting, 120)
{
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	uint64_t i;
	int n = 0;

	/* 128 calls that time out at once, left unread at the callee. */
	for (i = 1; i <= MAX_CALLS; i++)
		ASSERT_EQ(0, send_call(self->a.fd, self->b.id, i, 1, NULL))
			TH_LOG("call %llu", (unsigned long long)i);
	while (n < MAX_CALLS && recv_wait(&self->a, 10000, &m, &r) == 0) {
		EXPECT_TRUE(is_notify(m, KDBUS_ITEM_REPLY_TIMEOUT, self->a.id, m->cookie_reply));
		kdbus_free(self->a.fd, r.msg.offset);
		n++;
	}
	ASSERT_EQ(MAX_CALLS, n);
	/* The trackers die only with the queued calls (message.md §4.1). */
	EXPECT_EQ(-EMLINK, send_call(self->a.fd, self->b.id, 1000, kdbus_now_ns() + 60 * NSEC, NULL));
	ASSERT_EQ(1, recv_cookie(&self->b));
	EXPECT_EQ(0, send_call(self->a.fd, self->b.id, 1001, kdbus_now_ns() + 60 * NSEC, NULL));
	EXPECT_EQ(-EMLINK, send_call(self->a.fd, self->b.id, 1002, kdbus_now_ns() + 60 * NSEC, NULL));
	/* A reply to a timed-out call is refused. */
	EXPECT_EQ(-EPERM, send_reply(self->b.fd, self->a.id, 1, NULL));
}

/* ------------------------------------------------------- REPLY_TIMEOUT */

TEST_F(reply, unanswered_call_reply_timeout_after_deadline)
{
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	uint64_t deadline = kdbus_now_ns() + 200 * MSEC, t;

	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 0x1234, deadline, NULL));
	ASSERT_EQ(0, recv_wait(&self->a, 5000, &m, &r));
	t = kdbus_now_ns();
	EXPECT_LE(deadline, t);
	EXPECT_GT(deadline + 3 * NSEC, t);
	expect_notify(_metadata, m, NOTIFY_SIZE, KDBUS_ITEM_REPLY_TIMEOUT, self->a.id, 0x1234);
	EXPECT_EQ(NOTIFY_SIZE, r.msg.msg_size);
	kdbus_free(self->a.fd, r.msg.offset);
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
	/* The call itself is still queued at the callee. */
	EXPECT_EQ(0x1234, recv_cookie(&self->b));
}

TEST_F(reply, reply_timeout_carries_timestamp_when_requested)
{
	struct kdbus_cmd_recv r;
	struct kdbus_item *ts;
	struct kdbus_msg *m;
	uint64_t deadline, t;

	ASSERT_EQ(0, kdbus_update_u64(self->a.fd, KDBUS_ITEM_ATTACH_FLAGS_RECV,
				      KDBUS_ATTACH_TIMESTAMP));
	deadline = kdbus_now_ns() + 150 * MSEC;
	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 0x4321, deadline, NULL));
	ASSERT_EQ(0, recv_wait(&self->a, 5000, &m, &r));
	t = kdbus_now_ns();
	EXPECT_LE(deadline, t);
	expect_notify(_metadata, m, NOTIFY_SIZE + 40, KDBUS_ITEM_REPLY_TIMEOUT,
		      self->a.id, 0x4321);
	EXPECT_EQ(NOTIFY_SIZE + 40, r.msg.msg_size);
	ts = kdbus_msg_item(m, KDBUS_ITEM_TIMESTAMP, 0);
	ASSERT_NE(NULL, ts);
	EXPECT_EQ(40, ts->size);
	EXPECT_NE(0, ts->timestamp.seqnum);
	/* Taken when the notification was flushed, i.e. after the deadline. */
	EXPECT_LE(deadline, ts->timestamp.monotonic_ns);
	EXPECT_GE(t, ts->timestamp.monotonic_ns);
	EXPECT_NE(0, ts->timestamp.realtime_ns);
	kdbus_free(self->a.fd, r.msg.offset);
}

TEST_F(reply, reply_after_reply_timeout_eperm)
{
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;

	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 31, kdbus_now_ns() + 300 * MSEC, NULL));
	/* The callee has read the call but is too slow. */
	ASSERT_EQ(31, recv_cookie(&self->b));
	ASSERT_EQ(0, recv_wait(&self->a, 5000, &m, &r));
	EXPECT_TRUE(is_notify(m, KDBUS_ITEM_REPLY_TIMEOUT, self->a.id, 31));
	kdbus_free(self->a.fd, r.msg.offset);
	EXPECT_EQ(-EPERM, send_reply(self->b.fd, self->a.id, 31, NULL));
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
	/* And no REPLY_DEAD when the callee leaves afterwards. */
	kdbus_conn_close(&self->b);
	EXPECT_EQ(0, kdbus_poll(self->a.fd, POLLIN, 300));
}

TEST_F(reply, past_deadline_call_queued_then_prompt_timeout)
{
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	uint64_t start = kdbus_now_ns();
	int seen = 0, i;

	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 41, 1, NULL));
	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 42, start - NSEC, NULL));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, recv_wait(&self->a, 5000, &m, &r)) TH_LOG("timeout %d", i + 1);
		EXPECT_TRUE(is_notify(m, KDBUS_ITEM_REPLY_TIMEOUT, self->a.id, m->cookie_reply));
		if (m->cookie_reply == 41 || m->cookie_reply == 42)
			seen |= 1 << (m->cookie_reply - 41);
		kdbus_free(self->a.fd, r.msg.offset);
	}
	EXPECT_EQ(3, seen);
	/* Promptly: a generous bound for a slow guest. */
	EXPECT_GT(start + 3 * NSEC, kdbus_now_ns());
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
	/* Both calls were delivered, with their deadlines as sent. */
	ASSERT_EQ(0, kdbus_msg_recv(&self->b, 0, 0, &m, &r));
	EXPECT_EQ(41, m->cookie);
	EXPECT_EQ(1, m->timeout_ns);
	kdbus_free(self->b.fd, r.msg.offset);
	ASSERT_EQ(0, kdbus_msg_recv(&self->b, 0, 0, &m, &r));
	EXPECT_EQ(42, m->cookie);
	EXPECT_EQ(start - NSEC, m->timeout_ns);
	kdbus_free(self->b.fd, r.msg.offset);
}

TEST_F(reply, short_deadline_behind_long_one_times_out_first)
{
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	uint64_t start = kdbus_now_ns(), d10 = start + 10 * NSEC, d1 = start + NSEC, t;

	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 10, d10, NULL));
	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 1, d1, NULL));
	ASSERT_EQ(0, recv_wait(&self->a, 8000, &m, &r));
	t = kdbus_now_ns();
	EXPECT_TRUE(is_notify(m, KDBUS_ITEM_REPLY_TIMEOUT, self->a.id, 1));
	EXPECT_EQ(1, m->cookie_reply);
	kdbus_free(self->a.fd, r.msg.offset);
	EXPECT_LE(d1, t);
	/* About 1 s, not at the 10 s deadline armed first (message.md §11 #5). */
	EXPECT_GT(start + 6 * NSEC, t);
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
	/* The 10 s call is still open. */
	EXPECT_EQ(10, recv_cookie(&self->b));
	EXPECT_EQ(0, send_reply(self->b.fd, self->a.id, 10, NULL));
	EXPECT_EQ(REPLY_COOKIE, recv_cookie(&self->a));
}

TEST_F(reply, huge_deadline_never_times_out)
{
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;

	/* Unsigned comparison: ~0 and 2^63 are far in the future. */
	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 51, ~0ULL, NULL));
	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 52, 1ULL << 63, NULL));
	EXPECT_EQ(0, kdbus_poll(self->a.fd, POLLIN, 300));
	ASSERT_EQ(0, kdbus_msg_recv(&self->b, 0, 0, &m, &r));
	EXPECT_EQ(51, m->cookie);
	EXPECT_EQ(~0ULL, m->timeout_ns);
	kdbus_free(self->b.fd, r.msg.offset);
	EXPECT_EQ(52, recv_cookie(&self->b));
	EXPECT_EQ(0, kdbus_poll(self->a.fd, POLLIN, 300));
	/* Both are still answerable. */
	EXPECT_EQ(0, send_reply(self->b.fd, self->a.id, 51, NULL));
	EXPECT_EQ(0, send_reply(self->b.fd, self->a.id, 52, NULL));
	EXPECT_EQ(REPLY_COOKIE, recv_cookie(&self->a));
	EXPECT_EQ(REPLY_COOKIE, recv_cookie(&self->a));
}

/* ---------------------------------------------------------- REPLY_DEAD */

TEST_F(reply, callee_closes_with_call_queued_reply_dead)
{
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	int n;

	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 61, kdbus_now_ns() + 30 * NSEC, NULL));
	kdbus_conn_close(&self->b);
	/* Look at the first one closely, then count (one or two, §14). */
	ASSERT_EQ(0, recv_wait(&self->a, 5000, &m, &r));
	expect_notify(_metadata, m, NOTIFY_SIZE, KDBUS_ITEM_REPLY_DEAD, self->a.id, 61);
	EXPECT_EQ(NOTIFY_SIZE, r.msg.msg_size);
	kdbus_free(self->a.fd, r.msg.offset);
	n = collect_dead(&self->a, 61, 300);
	EXPECT_LE(0, n);
	EXPECT_GE(1, n);
}

TEST_F(reply, callee_closes_after_recv_reply_dead)
{
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;

	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 62, kdbus_now_ns() + 30 * NSEC, NULL));
	ASSERT_EQ(62, recv_cookie(&self->b));
	kdbus_conn_close(&self->b);
	ASSERT_EQ(0, recv_wait(&self->a, 5000, &m, &r));
	expect_notify(_metadata, m, NOTIFY_SIZE, KDBUS_ITEM_REPLY_DEAD, self->a.id, 62);
	kdbus_free(self->a.fd, r.msg.offset);
	/* Not queued any more: exactly one. */
	EXPECT_EQ(0, collect_dead(&self->a, 62, 300));
}

TEST_F(reply, callee_drops_call_reply_dead)
{
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;

	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 63, kdbus_now_ns() + 30 * NSEC, NULL));
	ASSERT_EQ(0, kdbus_msg_recv(&self->b, KDBUS_RECV_DROP, 0, &m, &r));
	EXPECT_EQ(NULL, m);
	EXPECT_EQ(B_POOL, r.msg.offset);
	ASSERT_EQ(0, recv_wait(&self->a, 5000, &m, &r));
	expect_notify(_metadata, m, NOTIFY_SIZE, KDBUS_ITEM_REPLY_DEAD, self->a.id, 63);
	kdbus_free(self->a.fd, r.msg.offset);
	EXPECT_EQ(1, kdbus_queue_empty(&self->a));
	/* The tracker is gone: no reply, and no second REPLY_DEAD later. */
	EXPECT_EQ(-EPERM, send_reply(self->b.fd, self->a.id, 63, NULL));
	kdbus_conn_close(&self->b);
	EXPECT_EQ(0, collect_dead(&self->a, 63, 300));
}

TEST_F(reply, drop_of_plain_message_no_reply_dead)
{
	/* A DROP of something that is not a call, and of a call whose
	 * tracker is already closed, produce nothing. */
	ASSERT_EQ(0, kdbus_msg_send(self->a.fd, self->b.id, 0, 0, 1, NULL, 0));
	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 64, kdbus_now_ns() + 30 * NSEC, NULL));
	ASSERT_EQ(0, send_reply(self->b.fd, self->a.id, 64, NULL));
	EXPECT_EQ(REPLY_COOKIE, recv_cookie(&self->a));
	EXPECT_EQ(0, kdbus_msg_recv(&self->b, KDBUS_RECV_DROP, 0, NULL, NULL));
	EXPECT_EQ(0, kdbus_msg_recv(&self->b, KDBUS_RECV_DROP, 0, NULL, NULL));
	EXPECT_EQ(0, kdbus_poll(self->a.fd, POLLIN, 300));
}

TEST_F(reply, byebye_with_call_queued_ebusy_then_reply_dead)
{
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;

	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 65, kdbus_now_ns() + 30 * NSEC, NULL));
	EXPECT_EQ(-EBUSY, kdbus_byebye(self->b.fd));
	/* No side effect: the call is still there and nobody was told. */
	EXPECT_EQ(0, kdbus_poll(self->a.fd, POLLIN, 100));
	ASSERT_EQ(65, recv_cookie(&self->b));
	ASSERT_EQ(0, kdbus_byebye(self->b.fd));
	ASSERT_EQ(0, recv_wait(&self->a, 5000, &m, &r));
	expect_notify(_metadata, m, NOTIFY_SIZE, KDBUS_ITEM_REPLY_DEAD, self->a.id, 65);
	kdbus_free(self->a.fd, r.msg.offset);
	EXPECT_EQ(0, collect_dead(&self->a, 65, 300));
	EXPECT_EQ(-ECONNRESET, send_reply(self->b.fd, self->a.id, 65, NULL));
}

/* ------------------------------------------------------- dead callers */

TEST_F(reply, reply_to_disconnected_caller_enxio)
{
	uint64_t c_id = self->c.id;

	/* One caller says BYEBYE, the other closes its fd. */
	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 71, kdbus_now_ns() + 30 * NSEC, NULL));
	ASSERT_EQ(0, send_call(self->c.fd, self->b.id, 72, kdbus_now_ns() + 30 * NSEC, NULL));
	ASSERT_EQ(0, kdbus_byebye(self->a.fd));
	kdbus_conn_close(&self->c);
	ASSERT_EQ(71, recv_cookie(&self->b));
	ASSERT_EQ(72, recv_cookie(&self->b));
	/* Pinning fails first: the IDs are gone. */
	EXPECT_EQ(-ENXIO, send_reply(self->b.fd, self->a.id, 71, NULL));
	EXPECT_EQ(-ENXIO, send_reply(self->b.fd, c_id, 72, NULL));
}

TEST_F(reply, caller_closing_with_calls_outstanding)
{
	uint64_t caller = self->a.id, now = kdbus_now_ns();
	int ret, i;

	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 81, now + 200 * MSEC, NULL));
	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 82, now + NSEC, NULL));
	ASSERT_EQ(0, send_call(self->a.fd, self->b.id, 83, ~0ULL, NULL));
	ASSERT_EQ(81, recv_cookie(&self->b));
	kdbus_conn_close(&self->a);
	/* Let the first deadlines pass with nobody to notify. */
	usleep(1200 * 1000);
	EXPECT_EQ(82, recv_cookie(&self->b));
	EXPECT_EQ(83, recv_cookie(&self->b));
	for (i = 81; i <= 83; i++) {
		ret = send_reply(self->b.fd, caller, i, NULL);
		EXPECT_TRUE(ret == -ENXIO || ret == -EPERM) TH_LOG("reply %d: %d", i, ret);
	}
	/* The callee is unharmed: nothing stray queued, it can still talk. */
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
	EXPECT_EQ(0, send_call(self->b.fd, self->c.id, 84, kdbus_now_ns() + 30 * NSEC, NULL));
	EXPECT_EQ(84, recv_cookie(&self->c));
	EXPECT_EQ(0, send_reply(self->c.fd, self->b.id, 84, NULL));
	EXPECT_EQ(REPLY_COOKIE, recv_cookie(&self->b));
	EXPECT_EQ(0, kdbus_byebye(self->b.fd));
}

/*
 * A callee that never reads does not keep its callers alive: a closed
 * caller returns its connection slot (connection-pool.md §3.9, the slot
 * goes with the connection object, fs-bus-endpoint.md §4.4) even though
 * its calls, with their trackers, still sit unread in the callee's queue.
 * One unprivileged user runs the callee and PIN_CALLERS callers, closes
 * the callers and then must be able to HELLO up to the per-user limit.
 */
#define PIN_UID		4003
#define PIN_CALLERS	200

static int pinned_callers_fn(void *arg)
{
	static struct kdbus_conn callers[PIN_CALLERS];
	static int fds[KDBUS_TEST_MAX_CONN];
	static uint64_t ids[PIN_CALLERS];
	const char *path = arg;
	uint64_t deadline = kdbus_now_ns() + 3600 * NSEC;
	struct kdbus_cmd_recv r;
	struct kdbus_conn svc;
	struct kdbus_msg *m;
	int i, n, fd, ret = 0;

	KDBUS_CHILD_CHECK(getuid() == PIN_UID);
	KDBUS_CHILD_CHECK(kdbus_conn_open(&svc, path, 0, B_POOL) == 0);
	for (i = 0; i < PIN_CALLERS; i++) {
		KDBUS_CHILD_CHECK(kdbus_conn_open(&callers[i], path, 0, KDBUS_TEST_POOL_SIZE) == 0);
		ids[i] = callers[i].id;
		KDBUS_CHILD_CHECK(send_call(callers[i].fd, svc.id, i + 1, deadline, NULL) == 0);
	}
	for (i = 0; i < PIN_CALLERS; i++)
		kdbus_conn_close(&callers[i]);

	/* The callee holds one slot: 1023 more connections. */
	for (n = 0; n < KDBUS_TEST_MAX_CONN - 1; n++) {
		fds[n] = open(path, O_RDWR | O_CLOEXEC);
		KDBUS_CHILD_CHECK(fds[n] >= 0);
		ret = kdbus_hello(fds[n], 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL);
		if (ret < 0) {
			close(fds[n]);
			break;
		}
	}
	if (n != KDBUS_TEST_MAX_CONN - 1)
		fprintf(stderr, "# uid %d: HELLO %d after the callee failed with %d\n",
			PIN_UID, n + 1, ret);
	KDBUS_CHILD_CHECK(n == KDBUS_TEST_MAX_CONN - 1);
	/* And the limit is exact. */
	fd = open(path, O_RDWR | O_CLOEXEC);
	KDBUS_CHILD_CHECK(fd >= 0);
	KDBUS_CHILD_CHECK(kdbus_hello(fd, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL) == -EMFILE);
	close(fd);
	for (i = 0; i < n; i++)
		close(fds[i]);

	/* The calls are still queued, in order; their callers are gone, so
	 * a reply has nobody to go to. */
	for (i = 0; i < 3; i++) {
		KDBUS_CHILD_CHECK(kdbus_msg_recv(&svc, 0, 0, &m, &r) == 0 && m);
		KDBUS_CHILD_CHECK(m->cookie == (uint64_t)i + 1);
		KDBUS_CHILD_CHECK(m->src_id == ids[i]);
		KDBUS_CHILD_CHECK(m->flags & KDBUS_MSG_EXPECT_REPLY);
		kdbus_free(svc.fd, r.msg.offset);
		ret = send_reply(svc.fd, ids[i], i + 1, NULL);
		KDBUS_CHILD_CHECK(ret == -ENXIO || ret == -EPERM);
	}
	kdbus_conn_close(&svc);
	return 0;
}

TEST_F_TIMEOUT(reply, unread_calls_do_not_pin_closed_callers_slots, 300)
{
	/* Inherited by the child: callee + callers + 1024 HELLOs. */
	ASSERT_EQ(0, kdbus_raise_nofile(2 * KDBUS_TEST_MAX_CONN + PIN_CALLERS));
	EXPECT_EQ(0, kdbus_run_as(PIN_UID, PIN_UID, pinned_callers_fn, self->path));
}

/* ----------------------------------------------------------- CANCEL_FD */

TEST_F(reply, cancel_fd_eventfd_accepted_and_ignored_on_async_call)
{
	struct kdbus_cmd_send s;
	uint64_t one = 1;
	int efd = eventfd(0, EFD_CLOEXEC);

	ASSERT_LE(0, efd);
	ASSERT_EQ(0, send_call_cancel(self->a.fd, self->b.id, 91, kdbus_now_ns() + 30 * NSEC,
				      efd, sizeof(int), &s));
	EXPECT_EQ(A_POOL, s.reply.offset);
	EXPECT_EQ(0, s.reply.msg_size);
	/* Readable: would cancel a synchronous call, means nothing here. */
	ASSERT_EQ(sizeof(one), write(efd, &one, sizeof(one)));
	ASSERT_EQ(0, send_call_cancel(self->a.fd, self->b.id, 92, kdbus_now_ns() + 30 * NSEC,
				      efd, sizeof(int), &s));
	EXPECT_EQ(A_POOL, s.reply.offset);
	EXPECT_EQ(91, recv_cookie(&self->b));
	EXPECT_EQ(92, recv_cookie(&self->b));
	/* Both calls are open. */
	EXPECT_EQ(0, send_reply(self->b.fd, self->a.id, 91, NULL));
	EXPECT_EQ(0, send_reply(self->b.fd, self->a.id, 92, NULL));
	EXPECT_EQ(REPLY_COOKIE, recv_cookie(&self->a));
	EXPECT_EQ(REPLY_COOKIE, recv_cookie(&self->a));
	/* The kernel never reads the eventfd. */
	EXPECT_EQ(POLLIN, kdbus_poll(efd, POLLIN, 0));
	close(efd);
}

TEST_F(reply, cancel_fd_closed_ebadf)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	ASSERT_LE(0, fd);
	close(fd);
	EXPECT_EQ(-EBADF, send_call_cancel(self->a.fd, self->b.id, 93, kdbus_now_ns() + 30 * NSEC,
					   fd, sizeof(int), NULL));
	EXPECT_EQ(-EBADF, send_call_cancel(self->a.fd, self->b.id, 93, kdbus_now_ns() + 30 * NSEC,
					   -1, sizeof(int), NULL));
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
	/* No tracker was left behind. */
	EXPECT_EQ(0, kdbus_poll(self->a.fd, POLLIN, 100));
}

TEST_F(reply, cancel_fd_not_pollable_einval)
{
	/* shmem files (memfd) have no ->poll. */
	int fd = memfd_create("kdbus-cancel", MFD_CLOEXEC);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, send_call_cancel(self->a.fd, self->b.id, 94, kdbus_now_ns() + 30 * NSEC,
					    fd, sizeof(int), NULL));
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
	close(fd);
}

TEST_F(reply, cancel_fd_payload_not_4_bytes_einval)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, send_call_cancel(self->a.fd, self->b.id, 95, kdbus_now_ns() + 30 * NSEC,
					    fd, 8, NULL));
	EXPECT_EQ(-EINVAL, send_call_cancel(self->a.fd, self->b.id, 95, kdbus_now_ns() + 30 * NSEC,
					    fd, 0, NULL));
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
	close(fd);
}

/* -------------------------------------------------------------- stress */

/*
 * 4 callers x 75 calls to 4 callees with deadlines of 50 ms - 1.5 s (every
 * tenth one already past).
 * Callees randomly reply, DROP, read without replying, or leave the call
 * queued for a while; two of them close their connection part-way. Every
 * call that SEND accepted must end with exactly one of reply, REPLY_TIMEOUT
 * or REPLY_DEAD (an extra REPLY_DEAD after REPLY_DEAD or REPLY_TIMEOUT is
 * tolerated, message.md §11 #6), and nothing may hang.
 */
#define ST_CALLEES	4
#define ST_CALLERS	4
#define ST_CALLS	75

enum { ST_UNSENT, ST_PENDING, ST_REPLY, ST_TIMEOUT, ST_DEAD };

struct stress {
	struct kdbus_conn callee[ST_CALLEES];
	uint64_t callee_id[ST_CALLEES];
	struct kdbus_conn caller[ST_CALLERS];
	atomic_int stop;
};

struct stress_arg {
	struct stress *s;
	int idx;
	int die_after;		/* callee: close after this many messages (0: never) */
	char err[160];		/* empty: success */
	int n[5];		/* caller: outcomes by ST_*; callee: unused */
	int dups;
};

static void *stress_callee(void *p)
{
	struct stress_arg *a = p;
	struct kdbus_conn *c = &a->s->callee[a->idx];
	unsigned int seed = 0x5eed + a->idx;
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	int handled = 0, ret, what;

	while (!atomic_load(&a->s->stop)) {
		if (a->die_after && handled >= a->die_after) {
			kdbus_conn_close(c);
			return NULL;
		}
		ret = kdbus_poll(c->fd, POLLIN, 20);
		if (ret < 0 || (ret & (POLLERR | POLLHUP))) {
			snprintf(a->err, sizeof(a->err), "callee %d: poll %d", a->idx, ret);
			return NULL;
		}
		if (!(ret & POLLIN))
			continue;
		what = rand_r(&seed) % 10;
		if (what < 2) {
			/* Leave it queued for a while. */
			usleep(10000 + rand_r(&seed) % 40000);
			continue;
		}
		handled++;
		if (what < 4) {
			ret = kdbus_msg_recv(c, KDBUS_RECV_DROP, 0, NULL, NULL);
			if (ret) {
				snprintf(a->err, sizeof(a->err), "callee %d: drop %d", a->idx, ret);
				return NULL;
			}
			continue;
		}
		ret = kdbus_msg_recv(c, 0, 0, &m, &r);
		if (ret || !m) {
			snprintf(a->err, sizeof(a->err), "callee %d: recv %d", a->idx, ret);
			return NULL;
		}
		if ((m->flags & KDBUS_MSG_EXPECT_REPLY) && what < 8) {
			ret = send_reply(c->fd, m->src_id, m->cookie, NULL);
			/* EPERM: it timed out already. */
			if (ret && ret != -EPERM) {
				snprintf(a->err, sizeof(a->err), "callee %d: reply %d",
					 a->idx, ret);
				kdbus_free(c->fd, r.msg.offset);
				return NULL;
			}
		}
		kdbus_free(c->fd, r.msg.offset);
	}
	return NULL;
}

/* Account one message received by a caller; 0 or -1 with a->err set. */
static int stress_account(struct stress_arg *a, uint8_t *state, uint8_t *dup,
			  const int *callee_of, struct kdbus_msg *m, int *pending)
{
	uint64_t id = a->s->caller[a->idx].id;
	uint64_t cookie = m->cookie_reply;
	uint64_t i = cookie - 1;
	int kind;

	if (cookie == 0 || cookie > ST_CALLS) {
		snprintf(a->err, sizeof(a->err), "caller %d: cookie_reply %llu", a->idx,
			 (unsigned long long)cookie);
		return -1;
	}
	if (m->src_id == KDBUS_SRC_ID_KERNEL) {
		if (is_notify(m, KDBUS_ITEM_REPLY_TIMEOUT, id, cookie))
			kind = ST_TIMEOUT;
		else if (is_notify(m, KDBUS_ITEM_REPLY_DEAD, id, cookie))
			kind = ST_DEAD;
		else
			kind = -1;
	} else {
		kind = m->src_id == a->s->callee_id[callee_of[i]] && m->dst_id == id &&
		       m->flags == 0 ? ST_REPLY : -1;
	}
	if (kind < 0) {
		snprintf(a->err, sizeof(a->err), "caller %d: bad message for cookie %llu "
			 "(src %llu type %#llx)", a->idx, (unsigned long long)cookie,
			 (unsigned long long)m->src_id, (unsigned long long)m->items[0].type);
		return -1;
	}
	if (state[i] == ST_PENDING) {
		state[i] = kind;
		a->n[kind]++;
		(*pending)--;
		return 0;
	}
	if (kind == ST_DEAD && (state[i] == ST_DEAD || state[i] == ST_TIMEOUT) && !dup[i]) {
		dup[i] = 1;
		a->dups++;
		return 0;
	}
	snprintf(a->err, sizeof(a->err), "caller %d: cookie %llu: outcome %d after %d",
		 a->idx, (unsigned long long)cookie, kind, state[i]);
	return -1;
}

/* Receive everything queued at the caller; 0 or -1. */
static int stress_drain(struct stress_arg *a, uint8_t *state, uint8_t *dup,
			const int *callee_of, int *pending)
{
	struct kdbus_conn *c = &a->s->caller[a->idx];
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	int ret;

	for (;;) {
		ret = kdbus_msg_recv(c, 0, 0, &m, &r);
		if (ret == -EAGAIN)
			return 0;
		if (ret || !m) {
			snprintf(a->err, sizeof(a->err), "caller %d: recv %d", a->idx, ret);
			return -1;
		}
		ret = stress_account(a, state, dup, callee_of, m, pending);
		kdbus_free(c->fd, r.msg.offset);
		if (ret)
			return -1;
	}
}

static void *stress_caller(void *p)
{
	struct stress_arg *a = p;
	struct kdbus_conn *c = &a->s->caller[a->idx];
	unsigned int seed = 0xca11 + a->idx;
	uint8_t state[ST_CALLS] = { 0 }, dup[ST_CALLS] = { 0 };
	int callee_of[ST_CALLS];
	uint64_t deadline, last = 0, end;
	int i, k, ret, pending = 0;

	for (i = 0; i < ST_CALLS; i++) {
		k = rand_r(&seed) % ST_CALLEES;
		callee_of[i] = k;
		if (rand_r(&seed) % 10 == 0)
			deadline = kdbus_now_ns() - MSEC;
		else
			deadline = kdbus_now_ns() + (50 + rand_r(&seed) % 1450) * MSEC;
		if (deadline > last)
			last = deadline;
		ret = send_call(c->fd, a->s->callee_id[k], i + 1, deadline, NULL);
		if (ret == 0) {
			state[i] = ST_PENDING;
			pending++;
		} else if (ret == -ENXIO || ret == -ECONNRESET) {
			state[i] = ST_UNSENT;	/* the callee is gone */
			a->n[ST_UNSENT]++;
		} else {
			snprintf(a->err, sizeof(a->err), "caller %d: call %d: %d", a->idx,
				 i + 1, ret);
			return NULL;
		}
		if (stress_drain(a, state, dup, callee_of, &pending))
			return NULL;
		usleep(rand_r(&seed) % 5000);
	}
	end = (last > kdbus_now_ns() ? last : kdbus_now_ns()) + 10 * NSEC;
	while (pending > 0 && kdbus_now_ns() < end) {
		kdbus_poll(c->fd, POLLIN, 100);
		if (stress_drain(a, state, dup, callee_of, &pending))
			return NULL;
	}
	if (pending) {
		for (i = 0; i < ST_CALLS && state[i] != ST_PENDING; i++)
			;
		snprintf(a->err, sizeof(a->err), "caller %d: %d calls without outcome "
			 "(first: cookie %d to callee %d)", a->idx, pending, i + 1,
			 callee_of[i]);
	}
	return NULL;
}

TEST_F_TIMEOUT(reply, stress_every_call_has_one_outcome, 180)
{
	static struct stress s;
	struct stress_arg ce[ST_CALLEES], cr[ST_CALLERS];
	pthread_t tce[ST_CALLEES], tcr[ST_CALLERS];
	int i, k, total[5] = { 0 }, dups = 0;

	memset(&s, 0, sizeof(s));
	for (i = 0; i < ST_CALLEES; i++) {
		ASSERT_EQ(0, kdbus_conn_open(&s.callee[i], self->path, 0, B_POOL));
		s.callee_id[i] = s.callee[i].id;
	}
	for (i = 0; i < ST_CALLERS; i++)
		ASSERT_EQ(0, kdbus_conn_open(&s.caller[i], self->path, 0, B_POOL));
	memset(ce, 0, sizeof(ce));
	memset(cr, 0, sizeof(cr));
	for (i = 0; i < ST_CALLEES; i++) {
		ce[i].s = &s;
		ce[i].idx = i;
		ce[i].die_after = i == 3 ? 15 : i == 2 ? 40 : 0;
		ASSERT_EQ(0, pthread_create(&tce[i], NULL, stress_callee, &ce[i]));
	}
	for (i = 0; i < ST_CALLERS; i++) {
		cr[i].s = &s;
		cr[i].idx = i;
		ASSERT_EQ(0, pthread_create(&tcr[i], NULL, stress_caller, &cr[i]));
	}
	for (i = 0; i < ST_CALLERS; i++) {
		pthread_join(tcr[i], NULL);
		EXPECT_STREQ("", cr[i].err);
		for (k = 0; k < 5; k++)
			total[k] += cr[i].n[k];
		dups += cr[i].dups;
	}
	atomic_store(&s.stop, 1);
	for (i = 0; i < ST_CALLEES; i++) {
		pthread_join(tce[i], NULL);
		EXPECT_STREQ("", ce[i].err);
	}
	TH_LOG("calls %d: unsent %d, replies %d, timeouts %d, dead %d (+%d duplicates)",
	       ST_CALLERS * ST_CALLS, total[ST_UNSENT], total[ST_REPLY], total[ST_TIMEOUT],
	       total[ST_DEAD], dups);
	/* Every kind of outcome actually happened. */
	EXPECT_LT(0, total[ST_REPLY]);
	EXPECT_LT(0, total[ST_TIMEOUT]);
	EXPECT_LT(0, total[ST_DEAD]);
	for (i = 0; i < ST_CALLEES; i++)
		kdbus_conn_close(&s.callee[i]);
	for (i = 0; i < ST_CALLERS; i++)
		kdbus_conn_close(&s.caller[i]);
}

/*
 * Thousands of calls and callee deaths (kmemleak and lockdep are checked by
 * the VM runner after the run): 4 callers x 1100 asynchronous calls, each
 * caller pipelining up to 64 calls in flight, to 6 callees, with deadlines
 * 50-500 ms ahead. Callees randomly reply, DROP, read without replying, or
 * leave the call queued for a moment; each one closes its connection after
 * every 40-200 handled messages and reconnects under a new ID. Callers
 * address a callee by its currently published ID: a call to one that just
 * died fails (ENXIO, ECONNRESET) and counts as unsent, as do EMLINK, ENOBUFS
 * and EXFULL (limits). Every accepted call must end with exactly one of
 * reply (from the callee it was sent to), REPLY_TIMEOUT or REPLY_DEAD (one
 * extra REPLY_DEAD tolerated, message.md §11 #6), and nothing may hang.
 */
#define SM_CALLEES	6
#define SM_CALLERS	4
#define SM_CALLS	1100	/* per caller */
#define SM_WINDOW	64	/* calls in flight per caller (< MAX_CALLS) */
#define SM_POOL		(8 << 20)

struct smass {
	char path[256];
	struct kdbus_conn caller[SM_CALLERS];
	_Atomic uint64_t callee_id[SM_CALLEES];	/* the current connection */
	atomic_int stop;
};

struct smass_arg {
	struct smass *s;
	int idx;
	char err[160];		/* empty: success */
	struct kdbus_conn conn;	/* callee: its current connection */
	int deaths;		/* callee: reconnections */
	int n[5];		/* caller: outcomes by ST_* */
	int busy;		/* caller: unsent for EMLINK, ENOBUFS, EXFULL */
	int dups;
	uint8_t state[SM_CALLS], dup[SM_CALLS];
	uint64_t dst[SM_CALLS];	/* caller: callee ID each call went to */
};

static void *smass_callee(void *p)
{
	struct smass_arg *a = p;
	struct smass *s = a->s;
	struct kdbus_conn *c = &a->conn;
	unsigned int seed = 0xdead + a->idx;
	int die_after = 40 + rand_r(&seed) % 160, handled = 0, ret, what;
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;

	while (!atomic_load(&s->stop)) {
		if (handled >= die_after) {
			/* Die with whatever is queued or received, come back. */
			kdbus_conn_close(c);
			a->deaths++;
			usleep(1000 + rand_r(&seed) % 10000);
			ret = kdbus_conn_open(c, s->path, 0, SM_POOL);
			if (ret) {
				snprintf(a->err, sizeof(a->err), "callee %d: reconnect %d",
					 a->idx, ret);
				return NULL;
			}
			atomic_store(&s->callee_id[a->idx], c->id);
			handled = 0;
			die_after = 40 + rand_r(&seed) % 160;
			continue;
		}
		ret = kdbus_poll(c->fd, POLLIN, 20);
		if (ret < 0 || (ret & (POLLERR | POLLHUP))) {
			snprintf(a->err, sizeof(a->err), "callee %d: poll %d", a->idx, ret);
			return NULL;
		}
		if (!(ret & POLLIN))
			continue;
		what = rand_r(&seed) % 20;
		if (what == 0) {
			/* Leave it queued for a moment. */
			usleep(1000 + rand_r(&seed) % 4000);
			continue;
		}
		handled++;
		if (what < 4) {
			ret = kdbus_msg_recv(c, KDBUS_RECV_DROP, 0, NULL, NULL);
			if (ret) {
				snprintf(a->err, sizeof(a->err), "callee %d: drop %d", a->idx, ret);
				return NULL;
			}
			continue;
		}
		ret = kdbus_msg_recv(c, 0, 0, &m, &r);
		if (ret || !m) {
			snprintf(a->err, sizeof(a->err), "callee %d: recv %d", a->idx, ret);
			return NULL;
		}
		/* what 4..6: read without replying (REPLY_TIMEOUT or REPLY_DEAD). */
		if ((m->flags & KDBUS_MSG_EXPECT_REPLY) && what >= 7) {
			ret = send_reply(c->fd, m->src_id, m->cookie, NULL);
			/* EPERM: it timed out already. */
			if (ret && ret != -EPERM) {
				snprintf(a->err, sizeof(a->err), "callee %d: reply to %llu "
					 "cookie %llu: %d", a->idx,
					 (unsigned long long)m->src_id,
					 (unsigned long long)m->cookie, ret);
				kdbus_free(c->fd, r.msg.offset);
				return NULL;
			}
		}
		kdbus_free(c->fd, r.msg.offset);
	}
	return NULL;
}

/* Account one message received by a caller; 0 or -1 with a->err set. */
static int smass_account(struct smass_arg *a, struct kdbus_msg *m, int *pending)
{
	uint64_t id = a->s->caller[a->idx].id;
	uint64_t cookie = m->cookie_reply;
	uint64_t i = cookie - 1;
	int kind;

	if (cookie == 0 || cookie > SM_CALLS) {
		snprintf(a->err, sizeof(a->err), "caller %d: cookie_reply %llu", a->idx,
			 (unsigned long long)cookie);
		return -1;
	}
	if (m->src_id == KDBUS_SRC_ID_KERNEL) {
		if (is_notify(m, KDBUS_ITEM_REPLY_TIMEOUT, id, cookie))
			kind = ST_TIMEOUT;
		else if (is_notify(m, KDBUS_ITEM_REPLY_DEAD, id, cookie))
			kind = ST_DEAD;
		else
			kind = -1;
	} else {
		kind = m->src_id == a->dst[i] && m->dst_id == id && m->flags == 0 &&
		       m->cookie == REPLY_COOKIE ? ST_REPLY : -1;
	}
	if (kind < 0) {
		snprintf(a->err, sizeof(a->err), "caller %d: bad message for cookie %llu "
			 "(src %llu, sent to %llu, type %#llx)", a->idx,
			 (unsigned long long)cookie, (unsigned long long)m->src_id,
			 (unsigned long long)a->dst[i], (unsigned long long)m->items[0].type);
		return -1;
	}
	if (a->state[i] == ST_PENDING) {
		a->state[i] = kind;
		a->n[kind]++;
		(*pending)--;
		return 0;
	}
	if (kind == ST_DEAD && (a->state[i] == ST_DEAD || a->state[i] == ST_TIMEOUT) &&
	    !a->dup[i]) {
		a->dup[i] = 1;
		a->dups++;
		return 0;
	}
	snprintf(a->err, sizeof(a->err), "caller %d: cookie %llu: outcome %d after %d",
		 a->idx, (unsigned long long)cookie, kind, a->state[i]);
	return -1;
}

/* Wait up to @ms for the caller's queue, then receive everything; 0 or -1. */
static int smass_drain(struct smass_arg *a, int ms, int *pending)
{
	struct kdbus_conn *c = &a->s->caller[a->idx];
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	int ret = kdbus_poll(c->fd, POLLIN, ms);

	if (ret < 0 || (ret & (POLLERR | POLLHUP))) {
		snprintf(a->err, sizeof(a->err), "caller %d: poll %d", a->idx, ret);
		return -1;
	}
	for (;;) {
		ret = kdbus_msg_recv(c, 0, 0, &m, &r);
		if (ret == -EAGAIN)
			return 0;
		if (ret || !m) {
			snprintf(a->err, sizeof(a->err), "caller %d: recv %d", a->idx, ret);
			return -1;
		}
		ret = smass_account(a, m, pending);
		kdbus_free(c->fd, r.msg.offset);
		if (ret)
			return -1;
	}
}

static void *smass_caller(void *p)
{
	struct smass_arg *a = p;
	struct smass *s = a->s;
	struct kdbus_conn *c = &s->caller[a->idx];
	unsigned int seed = 0xca11 + a->idx;
	uint64_t deadline, last = 0, end;
	int i = 0, k, ret, pending = 0;

	while (i < SM_CALLS) {
		/* Refill the window. */
		while (i < SM_CALLS && pending < SM_WINDOW) {
			k = rand_r(&seed) % SM_CALLEES;
			a->dst[i] = atomic_load(&s->callee_id[k]);
			deadline = kdbus_now_ns() + (50 + rand_r(&seed) % 451) * MSEC;
			if (deadline > last)
				last = deadline;
			ret = send_call(c->fd, a->dst[i], i + 1, deadline, NULL);
			i++;
			if (ret == 0) {
				a->state[i - 1] = ST_PENDING;
				pending++;
				continue;
			}
			if (ret != -ENXIO && ret != -ECONNRESET && ret != -EMLINK &&
			    ret != -ENOBUFS && ret != -EXFULL) {
				snprintf(a->err, sizeof(a->err), "caller %d: call %d to %llu: %d",
					 a->idx, i, (unsigned long long)a->dst[i - 1], ret);
				return NULL;
			}
			a->n[ST_UNSENT]++;
			if (ret != -ENXIO && ret != -ECONNRESET) {
				/* A limit: let outcomes come in first. */
				a->busy++;
				break;
			}
		}
		if (smass_drain(a, 50, &pending))
			return NULL;
	}
	end = (last > kdbus_now_ns() ? last : kdbus_now_ns()) + 10 * NSEC;
	while (pending > 0 && kdbus_now_ns() < end)
		if (smass_drain(a, 100, &pending))
			return NULL;
	if (pending) {
		for (i = 0; i < SM_CALLS && a->state[i] != ST_PENDING; i++)
			;
		snprintf(a->err, sizeof(a->err), "caller %d: %d calls without outcome "
			 "(first: cookie %d to %llu)", a->idx, pending, i + 1,
			 (unsigned long long)a->dst[i]);
		return NULL;
	}
	/* A late second outcome would be caught here. */
	smass_drain(a, 200, &pending);
	return NULL;
}

TEST_F_TIMEOUT(reply, stress_thousands_of_async_calls_and_callee_deaths, 150)
{
	static struct smass s;
	static struct smass_arg ce[SM_CALLEES], cr[SM_CALLERS];
	pthread_t tce[SM_CALLEES], tcr[SM_CALLERS];
	int i, k, total[5] = { 0 }, dups = 0, deaths = 0, busy = 0, sum = 0;
	uint64_t t0 = kdbus_now_ns();

	memset(&s, 0, sizeof(s));
	memset(ce, 0, sizeof(ce));
	memset(cr, 0, sizeof(cr));
	snprintf(s.path, sizeof(s.path), "%s", self->path);
	for (i = 0; i < SM_CALLERS; i++)
		s.caller[i].fd = -1;
	for (i = 0; i < SM_CALLEES; i++)
		ce[i].conn.fd = -1;
	for (i = 0; i < SM_CALLEES; i++) {
		ASSERT_EQ(0, kdbus_conn_open(&ce[i].conn, s.path, 0, SM_POOL));
		atomic_store(&s.callee_id[i], ce[i].conn.id);
	}
	for (i = 0; i < SM_CALLERS; i++)
		ASSERT_EQ(0, kdbus_conn_open(&s.caller[i], s.path, 0, SM_POOL));
	for (i = 0; i < SM_CALLEES; i++) {
		ce[i].s = &s;
		ce[i].idx = i;
		ASSERT_EQ(0, pthread_create(&tce[i], NULL, smass_callee, &ce[i]));
	}
	for (i = 0; i < SM_CALLERS; i++) {
		cr[i].s = &s;
		cr[i].idx = i;
		ASSERT_EQ(0, pthread_create(&tcr[i], NULL, smass_caller, &cr[i]));
	}
	for (i = 0; i < SM_CALLERS; i++) {
		pthread_join(tcr[i], NULL);
		EXPECT_STREQ("", cr[i].err);
		for (k = 0; k < 5; k++)
			total[k] += cr[i].n[k];
		dups += cr[i].dups;
		busy += cr[i].busy;
	}
	atomic_store(&s.stop, 1);
	for (i = 0; i < SM_CALLEES; i++) {
		pthread_join(tce[i], NULL);
		EXPECT_STREQ("", ce[i].err);
		deaths += ce[i].deaths;
	}
	for (k = 0; k < 5; k++)
		sum += total[k];
	TH_LOG("calls %d: unsent %d (%d at a limit), replies %d, timeouts %d, dead %d "
	       "(+%d duplicates); %d callee deaths; %.1f s",
	       SM_CALLERS * SM_CALLS, total[ST_UNSENT], busy, total[ST_REPLY],
	       total[ST_TIMEOUT], total[ST_DEAD], dups, deaths,
	       (kdbus_now_ns() - t0) / 1e9);
	/* Every call was either refused or got its outcome. */
	EXPECT_EQ(SM_CALLERS * SM_CALLS, sum);
	EXPECT_EQ(0, total[ST_PENDING]);
	/* Every kind of outcome actually happened, and callees died. */
	EXPECT_LT(0, total[ST_REPLY]);
	EXPECT_LT(0, total[ST_TIMEOUT]);
	EXPECT_LT(0, total[ST_DEAD]);
	EXPECT_LT(0, deaths);
	for (i = 0; i < SM_CALLEES; i++)
		kdbus_conn_close(&ce[i].conn);
	for (i = 0; i < SM_CALLERS; i++)
		kdbus_conn_close(&s.caller[i]);
}

TEST_HARNESS_MAIN
