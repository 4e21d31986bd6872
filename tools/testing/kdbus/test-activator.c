// SPDX-License-Identifier: GPL-2.0
/*
 * The hand-over of queued messages between an activator and the
 * implementer of its name (names-match-policy-metadata.md §1.5, §7
 * "Activators"; message.md §3.3, §5.8, §5.9; connection-pool.md §4 step 5):
 *
 *  - take-over: everything queued at the activator moves to the
 *    implementer, in order, after what the implementer already had; the
 *    activator's queue is empty afterwards;
 *  - reply trackers move along: a call queued at the activator is answered
 *    by the implementer (asynchronous and synchronous callers), and on
 *    hand-back the tracker returns to the activator (the old implementer's
 *    reply is refused, the next implementer's accepted);
 *  - hand-back at NAME_RELEASE and at the implementer's death: messages
 *    sent to the name move back to the activator in order, messages sent
 *    to the implementer's ID stay;
 *  - unmovable messages (fds to a connection without ACCEPT_FD) are
 *    dropped and counted at the new holder, in both directions; a dropped
 *    call is answered with REPLY_DEAD; the dropped files are released;
 *  - 1000 messages from four unprivileged users (TALK granted by the
 *    activator's POLICY_ACCESS items), a tenth of them calls, all moved and
 *    answered.
 *
 * Each test fails on a module that leaves the messages at the activator.
 * NAME_CHANGE notifications of take-over and hand-back are in
 * test-notify.c.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

#define POOL		(1 << 20)
#define BIG_POOL	(16 << 20)
#define ACT		"org.kdbus.t.act"
#define SEC		1000000000ULL
#define LONG_NS		(60 * SEC)	/* deadline of calls meant to be answered */
#define REPLY_COOKIE	0x7e7e

FIXTURE(act) {
	struct kdbus_test_bus tb;	/* domain, bus, owner, path, param */
	struct kdbus_conn a;	/* sender / caller */
	struct kdbus_conn c;	/* second sender */
};

FIXTURE_SETUP(act)
{
	self->a.fd = self->c.fd = -1;
	signal(SIGPIPE, SIG_IGN);
	ASSERT_EQ(0, kdbus_test_bus_setup(&self->tb, "ac", false));
	ASSERT_EQ(0, kdbus_conn_open(&self->a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&self->c, self->tb.path, 0, POOL));
}

FIXTURE_TEARDOWN(act)
{
	kdbus_conn_close(&self->a);
	kdbus_conn_close(&self->c);
	kdbus_test_bus_teardown(&self->tb);
}

/* ------------------------------------------------------------ helpers */

/* A short payload naming the message: "m<cookie>" plus a tail whose
 * length depends on the cookie (so sizes differ too). */
static size_t payload_of(uint64_t cookie, char *buf, size_t len)
{
	int n = snprintf(buf, len, "m%llu-", (unsigned long long)cookie);
	size_t tail = (cookie * 7) % 23;

	memset(buf + n, 'a' + cookie % 26, tail);
	return n + tail;
}

static int send_name(struct kdbus_conn *c, uint64_t cookie)
{
	char p[64];

	return kdbus_send_name(c->fd, ACT, cookie, 0, NULL, 0, p, payload_of(cookie, p, sizeof(p)));
}

static int send_id(struct kdbus_conn *c, uint64_t dst, uint64_t cookie)
{
	char p[64];

	return kdbus_send_id(c->fd, dst, cookie, 0, NULL, 0, p, payload_of(cookie, p, sizeof(p)));
}

/* A call by name with payload_of(@cookie) and a deadline LONG_NS ahead. */
static int call_name(struct kdbus_conn *c, uint64_t cookie, const int *fds, size_t n_fds)
{
	char p[64];

	return kdbus_send_name(c->fd, ACT, cookie, kdbus_now_ns() + LONG_NS, fds, n_fds, p,
			       payload_of(cookie, p, sizeof(p)));
}

/* Does @s carry @cookie from @src to @dst with payload_of(@cookie)? */
static bool is_msg(const struct kdbus_msg_summary *s, uint64_t cookie, uint64_t src,
		   uint64_t dst)
{
	char p[64];
	size_t n = payload_of(cookie, p, sizeof(p));

	return s->cookie == cookie && s->src_id == src && s->dst_id == dst &&
	       s->payload_len == (ssize_t)n && !memcmp(s->payload, p, n);
}

/* Receive (no waiting) and describe a mismatch with the expectation. */
#define EXPECT_RECV(conn_, ck_, src_, dst_) do {					\
	struct kdbus_msg_summary _s;							\
	int _r = kdbus_recv_summary(conn_, 0, &_s);					\
											\
	EXPECT_EQ(0, _r) TH_LOG("RECV of cookie %llu", (unsigned long long)(ck_));	\
	if (_r == 0) {									\
		EXPECT_TRUE(is_msg(&_s, ck_, src_, dst_))				\
			TH_LOG("expected cookie %llu src %llu dst %llx, got cookie "	\
			       "%llu src %llu dst %llx payload %zd",			\
			       (unsigned long long)(ck_), (unsigned long long)(src_),	\
			       (unsigned long long)(dst_), (unsigned long long)_s.cookie, \
			       (unsigned long long)_s.src_id,				\
			       (unsigned long long)_s.dst_id, _s.payload_len);		\
		EXPECT_EQ(0, _s.recv_return_flags & KDBUS_RECV_RETURN_DROPPED_MSGS);	\
	}										\
} while (0)

/* The queue of @conn is empty and nothing was dropped. */
#define EXPECT_EMPTY(conn) do {								\
	struct kdbus_msg_summary _s;							\
											\
	EXPECT_EQ(-EAGAIN, kdbus_recv_summary(conn, 0, &_s))				\
		TH_LOG("queue not empty: cookie %llu", (unsigned long long)_s.cookie);	\
	EXPECT_EQ(0, _s.recv_return_flags & KDBUS_RECV_RETURN_DROPPED_MSGS);		\
} while (0)

/* write() one byte: 0 or -errno. */
static int write_err(int fd)
{
	return write(fd, "x", 1) == 1 ? 0 : -errno;
}

/* Is @s a REPLY_DEAD notification to @dst about @cookie? */
static bool is_reply_dead(const struct kdbus_msg_summary *s, uint64_t dst, uint64_t cookie)
{
	return s->src_id == KDBUS_SRC_ID_KERNEL && s->dst_id == dst &&
	       s->type == KDBUS_ITEM_REPLY_DEAD && s->cookie_reply == cookie &&
	       s->payload_type == KDBUS_PAYLOAD_KERNEL;
}

/* ------------------------------------------------------------ take-over */

TEST_F(act, takeover_moves_queue_in_order_after_implementers_own)
{
	struct kdbus_conn act, impl;
	uint64_t id, i;

	ASSERT_EQ(0, kdbus_conn_open_activator(&act, self->tb.path, 0, ACT, NULL, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, 0, POOL));
	/* Already queued at the implementer: sent by ID. */
	ASSERT_EQ(0, send_id(&self->a, impl.id, 100));
	/* Queued at the activator, from two senders, interleaved. */
	for (i = 1; i <= 6; i++)
		ASSERT_EQ(0, send_name(i % 2 ? &self->a : &self->c, i));
	ASSERT_EQ(0, kdbus_name_owner(&self->a, ACT, &id));
	ASSERT_EQ(act.id, id);

	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, 0, NULL));
	ASSERT_EQ(0, kdbus_name_owner(&self->a, ACT, &id));
	EXPECT_EQ(impl.id, id);

	/* The activator has nothing left (and dropped nothing). */
	EXPECT_EMPTY(&act);
	/* The implementer: its own message first, then the moved ones. */
	EXPECT_RECV(&impl, 100, self->a.id, impl.id);
	for (i = 1; i <= 6; i++)
		EXPECT_RECV(&impl, i, i % 2 ? self->a.id : self->c.id, KDBUS_DST_ID_NAME);
	EXPECT_EMPTY(&impl);
	kdbus_conn_close(&impl);
	kdbus_conn_close(&act);
}

TEST_F(act, moved_message_keeps_dst_name_and_layout)
{
	struct kdbus_conn act, impl;
	struct kdbus_msg_summary peek, s;

	ASSERT_EQ(0, kdbus_conn_open_activator(&act, self->tb.path, 0, ACT, NULL, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, 0, POOL));
	ASSERT_EQ(0, send_name(&self->a, 42));
	/* What the activator sees (PEEK: it stays queued). */
	ASSERT_EQ(0, kdbus_recv_summary_flags(&act, KDBUS_RECV_PEEK, 0, &peek));
	ASSERT_TRUE(is_msg(&peek, 42, self->a.id, KDBUS_DST_ID_NAME));
	EXPECT_STREQ(ACT, peek.dst_name);

	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, 0, NULL));
	ASSERT_EQ(0, kdbus_recv_summary(&impl, 0, &s));
	EXPECT_TRUE(is_msg(&s, 42, self->a.id, KDBUS_DST_ID_NAME));
	EXPECT_STREQ(ACT, s.dst_name);
	/* Same size and items (the activator's metadata selection is kept). */
	EXPECT_EQ(peek.size, s.size);
	EXPECT_EQ(peek.msg_size, s.msg_size);
	EXPECT_EQ(peek.n_items, s.n_items);
	EXPECT_EQ(peek.flags, s.flags);
	EXPECT_EQ(peek.priority, s.priority);
	EXPECT_EMPTY(&impl);
	EXPECT_EMPTY(&act);
	kdbus_conn_close(&impl);
	kdbus_conn_close(&act);
}

TEST_F(act, call_queued_at_activator_answered_by_implementer)
{
	struct kdbus_conn act, impl;
	struct kdbus_msg_summary s;

	ASSERT_EQ(0, kdbus_conn_open_activator(&act, self->tb.path, 0, ACT, NULL, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, 0, POOL));
	ASSERT_EQ(0, call_name(&self->a, 0x1001, NULL, 0));
	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, 0, NULL));

	ASSERT_EQ(0, kdbus_recv_summary(&impl, 0, &s));
	EXPECT_TRUE(is_msg(&s, 0x1001, self->a.id, KDBUS_DST_ID_NAME));
	EXPECT_TRUE(s.flags & KDBUS_MSG_EXPECT_REPLY);
	/* The tracker now expects the implementer. */
	ASSERT_EQ(0, kdbus_reply_send(impl.fd, self->a.id, REPLY_COOKIE, 0x1001, "pong", 4));
	ASSERT_EQ(0, kdbus_recv_summary(&self->a, 0, &s));
	EXPECT_EQ(impl.id, s.src_id);
	EXPECT_EQ(self->a.id, s.dst_id);
	EXPECT_EQ(REPLY_COOKIE, s.cookie);
	EXPECT_EQ(0x1001, s.cookie_reply);
	EXPECT_EQ(4, s.payload_len);
	EXPECT_EQ(0, memcmp(s.payload, "pong", 4));
	/* Consumed: a second reply has no tracker. */
	EXPECT_EQ(-EPERM, kdbus_reply_send(impl.fd, self->a.id, REPLY_COOKIE, 0x1001, NULL, 0));
	EXPECT_EMPTY(&self->a);
	EXPECT_EMPTY(&act);
	EXPECT_EMPTY(&impl);
	kdbus_conn_close(&impl);
	kdbus_conn_close(&act);
}

struct sync_call {
	struct kdbus_conn *c;
	uint64_t cookie;
	int ret;
	struct kdbus_cmd_send out;
};

static void *sync_call_thread(void *arg)
{
	struct sync_call *sc = arg;
	struct kdbus_builder *b = malloc(sizeof(*b));
	char p[64];

	if (!b) {
		sc->ret = -ENOMEM;
		return NULL;
	}
	kdbus_msg_init_name(b, ACT, KDBUS_MSG_EXPECT_REPLY, 0, sc->cookie);
	kdbus_msg_hdr(b)->timeout_ns = kdbus_now_ns() + LONG_NS;
	kdbus_b_vec(b, p, payload_of(sc->cookie, p, sizeof(p)));
	sc->ret = kdbus_msg_send_b(sc->c->fd, b, KDBUS_SEND_SYNC_REPLY, &sc->out);
	free(b);
	return NULL;
}

TEST_F(act, sync_call_waiting_on_activator_answered_after_takeover)
{
	struct sync_call sc = { .c = &self->a, .cookie = 0x2002, .ret = 1 };
	struct kdbus_conn act, impl;
	struct kdbus_msg_summary s;
	struct kdbus_msg *m;
	pthread_t th;
	char buf[8];

	ASSERT_EQ(0, kdbus_conn_open_activator(&act, self->tb.path, 0, ACT, NULL, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, 0, POOL));
	ASSERT_EQ(0, pthread_create(&th, NULL, sync_call_thread, &sc));
	/* The call reaches the activator; the caller stays blocked. */
	EXPECT_TRUE(kdbus_poll(act.fd, POLLIN, 10000) & POLLIN);
	usleep(200 * 1000);
	EXPECT_EQ(1, __atomic_load_n(&sc.ret, __ATOMIC_SEQ_CST));

	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, 0, NULL));
	ASSERT_EQ(0, kdbus_recv_summary(&impl, 0, &s));
	EXPECT_TRUE(is_msg(&s, 0x2002, self->a.id, KDBUS_DST_ID_NAME));
	EXPECT_EQ(0, kdbus_reply_send(impl.fd, self->a.id, REPLY_COOKIE, 0x2002, "sync!", 5));
	pthread_join(th, NULL);

	ASSERT_EQ(0, sc.ret);
	ASSERT_LT(sc.out.reply.offset, self->a.pool_size);
	m = (struct kdbus_msg *)(self->a.pool + sc.out.reply.offset);
	EXPECT_EQ(impl.id, m->src_id);
	EXPECT_EQ(0x2002, m->cookie_reply);
	EXPECT_EQ(REPLY_COOKIE, m->cookie);
	EXPECT_EQ(5, kdbus_msg_payload(m, sc.out.reply.msg_size, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "sync!", 5));
	EXPECT_EQ(0, kdbus_free(self->a.fd, sc.out.reply.offset));
	EXPECT_EMPTY(&self->a);
	EXPECT_EMPTY(&act);
	EXPECT_EMPTY(&impl);
	kdbus_conn_close(&impl);
	kdbus_conn_close(&act);
}

/* ------------------------------------------------------------ hand-back */

/*
 * Message 1 is queued at the activator before the take-over; 2 and 4 are
 * sent to the name and 3 to the implementer's ID afterwards. @die: the
 * implementer closes its handle instead of releasing the name.
 */
static void handback(struct __test_metadata *_metadata, FIXTURE_DATA(act) *self, bool die)
{
	struct kdbus_conn act, impl;
	struct kdbus_msg_summary s;
	uint64_t id;

	ASSERT_EQ(0, kdbus_conn_open_activator(&act, self->tb.path, 0, ACT, NULL, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, 0, POOL));
	ASSERT_EQ(0, send_name(&self->a, 1));
	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, 0, NULL));
	ASSERT_EQ(0, send_name(&self->a, 2));
	ASSERT_EQ(0, send_id(&self->c, impl.id, 3));
	ASSERT_EQ(0, send_name(&self->c, 4));
	ASSERT_EQ(0, send_id(&self->a, impl.id, 5));
	/* None of it is at the activator now. */
	EXPECT_EQ(-EAGAIN, kdbus_recv_summary_flags(&act, KDBUS_RECV_PEEK, 0, &s));

	if (die)
		kdbus_conn_close(&impl);
	else
		ASSERT_EQ(0, kdbus_name_release(impl.fd, ACT));
	ASSERT_EQ(0, kdbus_name_owner(&self->a, ACT, &id));
	EXPECT_EQ(act.id, id);

	/* The activator has the name-addressed ones, in order. */
	ASSERT_EQ(0, kdbus_recv_summary_flags(&act, KDBUS_RECV_PEEK, 0, &s));
	EXPECT_TRUE(is_msg(&s, 1, self->a.id, KDBUS_DST_ID_NAME))
		TH_LOG("PEEK at the activator: cookie %llu", (unsigned long long)s.cookie);
	EXPECT_RECV(&act, 1, self->a.id, KDBUS_DST_ID_NAME);
	EXPECT_RECV(&act, 2, self->a.id, KDBUS_DST_ID_NAME);
	EXPECT_RECV(&act, 4, self->c.id, KDBUS_DST_ID_NAME);
	EXPECT_EMPTY(&act);
	if (!die) {
		/* The ID-addressed ones stayed with the implementer. */
		EXPECT_RECV(&impl, 3, self->c.id, impl.id);
		EXPECT_RECV(&impl, 5, self->a.id, impl.id);
		EXPECT_EMPTY(&impl);
		kdbus_conn_close(&impl);
	}
	kdbus_conn_close(&act);
}

TEST_F(act, handback_on_release_moves_name_messages_back)
{
	handback(_metadata, self, false);
}

TEST_F(act, handback_on_death_moves_name_messages_back)
{
	handback(_metadata, self, true);
}

TEST_F(act, handback_after_ids_stay_then_next_takeover_gets_them)
{
	struct kdbus_conn act, impl, impl2;

	ASSERT_EQ(0, kdbus_conn_open_activator(&act, self->tb.path, 0, ACT, NULL, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl2, self->tb.path, 0, POOL));
	ASSERT_EQ(0, send_name(&self->a, 1));
	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, 0, NULL));
	ASSERT_EQ(0, send_name(&self->a, 2));
	ASSERT_EQ(0, kdbus_name_release(impl.fd, ACT));
	/* Sent to the activator-held name after the hand-back. */
	ASSERT_EQ(0, send_name(&self->a, 3));
	ASSERT_EQ(0, send_id(&self->a, impl2.id, 10));
	ASSERT_EQ(0, kdbus_name_acquire(impl2.fd, ACT, 0, NULL));
	EXPECT_EMPTY(&act);
	EXPECT_EMPTY(&impl);
	EXPECT_RECV(&impl2, 10, self->a.id, impl2.id);
	EXPECT_RECV(&impl2, 1, self->a.id, KDBUS_DST_ID_NAME);
	EXPECT_RECV(&impl2, 2, self->a.id, KDBUS_DST_ID_NAME);
	EXPECT_RECV(&impl2, 3, self->a.id, KDBUS_DST_ID_NAME);
	EXPECT_EMPTY(&impl2);
	kdbus_conn_close(&impl2);
	kdbus_conn_close(&impl);
	kdbus_conn_close(&act);
}

TEST_F(act, handback_with_waiter_goes_to_the_waiter_not_the_activator)
{
	struct kdbus_conn act, impl, waiter;
	uint64_t id, rf;

	ASSERT_EQ(0, kdbus_conn_open_activator(&act, self->tb.path, 0, ACT, NULL, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&waiter, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(waiter.fd, ACT, KDBUS_NAME_QUEUE, &rf));
	ASSERT_EQ(KDBUS_NAME_IN_QUEUE, rf);
	ASSERT_EQ(0, send_name(&self->a, 1));
	ASSERT_EQ(0, kdbus_name_release(impl.fd, ACT));
	ASSERT_EQ(0, kdbus_name_owner(&self->a, ACT, &id));
	EXPECT_EQ(waiter.id, id);
	/* Nothing moves to the activator; the message stays where it was. */
	EXPECT_EMPTY(&act);
	EXPECT_RECV(&impl, 1, self->a.id, KDBUS_DST_ID_NAME);
	EXPECT_EMPTY(&waiter);
	kdbus_conn_close(&waiter);
	kdbus_conn_close(&impl);
	kdbus_conn_close(&act);
}

TEST_F(act, call_follows_the_name_back_and_to_the_next_implementer)
{
	struct kdbus_conn act, impl, impl2;
	struct kdbus_msg_summary s;

	ASSERT_EQ(0, kdbus_conn_open_activator(&act, self->tb.path, 0, ACT, NULL, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl2, self->tb.path, 0, POOL));
	ASSERT_EQ(0, call_name(&self->a, 7, NULL, 0));
	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, 0, NULL));
	/* A call sent to the name while the implementer holds it. */
	ASSERT_EQ(0, call_name(&self->a, 8, NULL, 0));
	ASSERT_EQ(0, kdbus_name_release(impl.fd, ACT));
	/* Both went back; the trackers expect the activator again. */
	EXPECT_EQ(-EPERM, kdbus_reply_send(impl.fd, self->a.id, REPLY_COOKIE, 7, NULL, 0));
	EXPECT_EQ(-EPERM, kdbus_reply_send(impl.fd, self->a.id, REPLY_COOKIE, 8, NULL, 0));
	EXPECT_EMPTY(&impl);

	ASSERT_EQ(0, kdbus_name_acquire(impl2.fd, ACT, 0, NULL));
	EXPECT_EMPTY(&act);
	ASSERT_EQ(0, kdbus_recv_summary(&impl2, 0, &s));
	EXPECT_EQ(7, s.cookie);
	ASSERT_EQ(0, kdbus_recv_summary(&impl2, 0, &s));
	EXPECT_EQ(8, s.cookie);
	EXPECT_EMPTY(&impl2);
	EXPECT_EQ(0, kdbus_reply_send(impl2.fd, self->a.id, REPLY_COOKIE, 8, NULL, 0));
	EXPECT_EQ(0, kdbus_reply_send(impl2.fd, self->a.id, REPLY_COOKIE, 7, NULL, 0));
	ASSERT_EQ(0, kdbus_recv_summary(&self->a, 0, &s));
	EXPECT_EQ(impl2.id, s.src_id);
	EXPECT_EQ(8, s.cookie_reply);
	ASSERT_EQ(0, kdbus_recv_summary(&self->a, 0, &s));
	EXPECT_EQ(impl2.id, s.src_id);
	EXPECT_EQ(7, s.cookie_reply);
	EXPECT_EMPTY(&self->a);
	kdbus_conn_close(&impl2);
	kdbus_conn_close(&impl);
	kdbus_conn_close(&act);
}

/* ------------------------------------------------------------ unmovable */

TEST_F(act, fds_to_activator_without_accept_fd_ecomm)
{
	struct kdbus_conn act;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, kdbus_conn_open_activator(&act, self->tb.path, 0, ACT, NULL, 0, POOL));
	EXPECT_EQ(-ECOMM, kdbus_send_name(self->a.fd, ACT, 1, 0, &p[0], 1, NULL, 0));
	EXPECT_EMPTY(&act);
	kdbus_conn_close(&act);
	close(p[0]);
	close(p[1]);
}

TEST_F(act, fd_messages_dropped_and_counted_at_implementer_without_accept_fd)
{
	struct kdbus_conn act, impl;
	struct kdbus_msg_summary s;
	uint64_t i;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, kdbus_conn_open_activator(&act, self->tb.path, KDBUS_HELLO_ACCEPT_FD, ACT,
					       NULL, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, 0, POOL));
	/* 1, 3, 5, 7 plain; 2, 4, 6 carry the pipe's read end. */
	for (i = 1; i <= 7; i++) {
		char d[64];
		size_t n = payload_of(i, d, sizeof(d));

		ASSERT_EQ(0, kdbus_send_name(self->a.fd, ACT, i, 0, &p[0], i % 2 ? 0 : 1, d, n));
	}
	/* Our own reference goes: only the queued messages hold the pipe. */
	close(p[0]);
	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, 0, NULL));
	EXPECT_EMPTY(&act);

	ASSERT_EQ(0, kdbus_recv_summary(&impl, 0, &s));
	EXPECT_TRUE(is_msg(&s, 1, self->a.id, KDBUS_DST_ID_NAME));
	EXPECT_TRUE(s.recv_return_flags & KDBUS_RECV_RETURN_DROPPED_MSGS);
	EXPECT_EQ(3, s.dropped_msgs);
	EXPECT_RECV(&impl, 3, self->a.id, KDBUS_DST_ID_NAME);
	EXPECT_RECV(&impl, 5, self->a.id, KDBUS_DST_ID_NAME);
	EXPECT_RECV(&impl, 7, self->a.id, KDBUS_DST_ID_NAME);
	EXPECT_EMPTY(&impl);
	/* The dropped messages released their files: no reader is left. */
	EXPECT_EQ(-EPIPE, write_err(p[1]));
	close(p[1]);
	kdbus_conn_close(&impl);
	kdbus_conn_close(&act);
}

TEST_F(act, fd_messages_moved_to_implementer_with_accept_fd)
{
	struct kdbus_conn act, impl;
	struct kdbus_msg_summary s;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, kdbus_conn_open_activator(&act, self->tb.path, KDBUS_HELLO_ACCEPT_FD, ACT,
					       NULL, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, KDBUS_HELLO_ACCEPT_FD, POOL));
	ASSERT_EQ(0, kdbus_send_name(self->a.fd, ACT, 1, 0, &p[0], 1, "x", 1));
	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, 0, NULL));
	EXPECT_EMPTY(&act);
	ASSERT_EQ(0, kdbus_recv_summary(&impl, 0, &s));
	EXPECT_EQ(1, s.cookie);
	EXPECT_EQ(1, s.n_fds);
	EXPECT_EQ(0, s.recv_return_flags & KDBUS_RECV_RETURN_DROPPED_MSGS);
	EXPECT_EMPTY(&impl);
	close(p[0]);
	close(p[1]);
	kdbus_conn_close(&impl);
	kdbus_conn_close(&act);
}

TEST_F(act, handback_drops_fd_messages_at_activator_without_accept_fd)
{
	struct kdbus_conn act, impl;
	struct kdbus_msg_summary s;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, kdbus_conn_open_activator(&act, self->tb.path, 0, ACT, NULL, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, KDBUS_HELLO_ACCEPT_FD, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, 0, NULL));
	ASSERT_EQ(0, send_name(&self->a, 1));
	ASSERT_EQ(0, kdbus_send_name(self->a.fd, ACT, 2, 0, &p[0], 1, NULL, 0));
	ASSERT_EQ(0, send_name(&self->a, 3));
	close(p[0]);
	ASSERT_EQ(0, kdbus_name_release(impl.fd, ACT));
	EXPECT_EMPTY(&impl);

	ASSERT_EQ(0, kdbus_recv_summary(&act, 0, &s));
	EXPECT_TRUE(is_msg(&s, 1, self->a.id, KDBUS_DST_ID_NAME));
	EXPECT_TRUE(s.recv_return_flags & KDBUS_RECV_RETURN_DROPPED_MSGS);
	EXPECT_EQ(1, s.dropped_msgs);
	EXPECT_RECV(&act, 3, self->a.id, KDBUS_DST_ID_NAME);
	EXPECT_EMPTY(&act);
	EXPECT_EQ(-EPIPE, write_err(p[1]));
	close(p[1]);
	kdbus_conn_close(&impl);
	kdbus_conn_close(&act);
}

TEST_F(act, dropped_call_on_move_gets_reply_dead)
{
	struct kdbus_conn act, impl;
	struct kdbus_msg_summary s;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, kdbus_conn_open_activator(&act, self->tb.path, KDBUS_HELLO_ACCEPT_FD, ACT,
					       NULL, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, 0, POOL));
	ASSERT_EQ(0, call_name(&self->a, 9, &p[0], 1));
	ASSERT_EQ(0, call_name(&self->a, 10, NULL, 0));
	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, 0, NULL));

	/* The caller learns at once that call 9 is dead. */
	ASSERT_EQ(0, kdbus_recv_summary(&self->a, 2000, &s));
	EXPECT_TRUE(is_reply_dead(&s, self->a.id, 9))
		TH_LOG("got src %llu type %llu cookie_reply %llu", (unsigned long long)s.src_id,
		       (unsigned long long)s.type, (unsigned long long)s.cookie_reply);
	EXPECT_EMPTY(&self->a);

	/* The implementer gets call 10 and the count of the dropped one. */
	ASSERT_EQ(0, kdbus_recv_summary(&impl, 0, &s));
	EXPECT_TRUE(is_msg(&s, 10, self->a.id, KDBUS_DST_ID_NAME));
	EXPECT_TRUE(s.recv_return_flags & KDBUS_RECV_RETURN_DROPPED_MSGS);
	EXPECT_EQ(1, s.dropped_msgs);
	EXPECT_EMPTY(&impl);
	EXPECT_EMPTY(&act);
	/* No tracker for 9 any more; 10 is answered by the implementer. */
	EXPECT_EQ(-EPERM, kdbus_reply_send(impl.fd, self->a.id, REPLY_COOKIE, 9, NULL, 0));
	EXPECT_EQ(0, kdbus_reply_send(impl.fd, self->a.id, REPLY_COOKIE, 10, NULL, 0));
	ASSERT_EQ(0, kdbus_recv_summary(&self->a, 0, &s));
	EXPECT_EQ(impl.id, s.src_id);
	EXPECT_EQ(10, s.cookie_reply);
	EXPECT_EMPTY(&self->a);
	close(p[0]);
	close(p[1]);
	kdbus_conn_close(&impl);
	kdbus_conn_close(&act);
}

/* ------------------------------------------------------------ 1000 messages */

#define N_USERS		4
#define BASE_UID	4001
#define PER_USER	250		/* below KDBUS_CONN_MAX_MSGS (256) */
#define CALL_EVERY	10		/* 25 calls per user: below 128 trackers */
#define BIG_MAX		720

struct big_sender {
	const char *path;
	int ready;		/* pipe: one byte when all messages are sent */
};

struct big_hdr {
	uint32_t uid;
	uint32_t seq;
};

/* Message @seq of @uid: a big_hdr, then a pattern, 8..727 bytes. */
static size_t big_payload(uint32_t uid, uint32_t seq, uint8_t *buf)
{
	struct big_hdr h = { .uid = uid, .seq = seq };
	size_t len = sizeof(h) + (seq * 37 + uid * 11) % BIG_MAX;

	memcpy(buf, &h, sizeof(h));
	kdbus_fill_pattern(buf + sizeof(h), len - sizeof(h), ((uint64_t)uid << 32) | seq);
	return len;
}

static bool big_is_call(uint32_t seq)
{
	return seq % CALL_EVERY == 3;
}

/* Runs as BASE_UID + k: sends PER_USER messages by name (cookie seq + 1),
 * then waits for the replies of its calls, in order. */
static int big_send(void *arg)
{
	struct big_sender *b = arg;
	uint8_t buf[sizeof(struct big_hdr) + BIG_MAX];
	uint32_t uid = getuid(), seq, replies = 0;
	uint64_t deadline = kdbus_now_ns() + 240 * SEC;
	struct kdbus_conn c;

	KDBUS_CHILD_CHECK(uid >= BASE_UID && uid < BASE_UID + N_USERS);
	KDBUS_CHILD_CHECK(kdbus_conn_open(&c, b->path, 0, POOL) == 0);
	for (seq = 0; seq < PER_USER; seq++) {
		size_t len = big_payload(uid, seq, buf);
		int ret = kdbus_send_name(c.fd, ACT, seq + 1, big_is_call(seq) ? deadline : 0,
					  NULL, 0, buf, len);

		if (ret < 0)
			fprintf(stderr, "# uid %u: SEND of message %u: %d\n", uid, seq, ret);
		KDBUS_CHILD_CHECK(ret == 0);
	}
	KDBUS_CHILD_CHECK(write(b->ready, "s", 1) == 1);
	for (seq = 0; seq < PER_USER; seq++) {
		struct kdbus_msg_summary s;
		int ret;

		if (!big_is_call(seq))
			continue;
		ret = kdbus_recv_summary(&c, 200 * 1000, &s);
		if (ret < 0 || s.cookie_reply != seq + 1 || s.src_id == KDBUS_SRC_ID_KERNEL)
			fprintf(stderr, "# uid %u: reply %u: ret %d cookie_reply %llu src %llu "
				"type %llu\n", uid, seq + 1, ret,
				(unsigned long long)s.cookie_reply,
				(unsigned long long)s.src_id, (unsigned long long)s.type);
		KDBUS_CHILD_CHECK(ret == 0);
		KDBUS_CHILD_CHECK(s.cookie_reply == seq + 1);
		KDBUS_CHILD_CHECK(s.src_id != KDBUS_SRC_ID_KERNEL);
		KDBUS_CHILD_CHECK(s.payload_len == sizeof(struct big_hdr));
		KDBUS_CHILD_CHECK(!memcmp(s.payload, &(struct big_hdr){ uid, seq },
					  sizeof(struct big_hdr)));
		replies++;
	}
	KDBUS_CHILD_CHECK(replies == PER_USER / CALL_EVERY);
	KDBUS_CHILD_CHECK(kdbus_queue_empty(&c) == 1);
	kdbus_conn_close(&c);
	return 0;
}

TEST_F_TIMEOUT(act, takeover_of_1000_messages_from_four_users_with_calls, 300)
{
	const struct kdbus_policy_access talk = {
		.type = KDBUS_POLICY_ACCESS_WORLD, .access = KDBUS_POLICY_TALK,
	};
	struct big_sender snd = { .path = self->tb.path };
	uint32_t next[N_USERS] = { 0 }, calls = 0, total = 0;
	uint8_t buf[sizeof(struct big_hdr) + BIG_MAX];
	struct kdbus_conn act, impl;
	pid_t pid[N_USERS];
	int i, ready[2], status;
	char ch;

	ASSERT_EQ(0, kdbus_conn_open_activator(&act, self->tb.path, 0, ACT, &talk, 1, BIG_POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, 0, BIG_POOL));
	ASSERT_EQ(0, pipe(ready));
	snd.ready = ready[1];
	for (i = 0; i < N_USERS; i++) {
		pid[i] = kdbus_spawn_as(BASE_UID + i, BASE_UID + i, big_send, &snd);
		ASSERT_LT(0, pid[i]);
	}
	close(ready[1]);
	/* All 1000 are queued at the activator. */
	for (i = 0; i < N_USERS; i++) {
		if (!(kdbus_poll(ready[0], POLLIN, 120 * 1000) & POLLIN) ||
		    read(ready[0], &ch, 1) != 1)
			break;
	}
	close(ready[0]);
	ASSERT_EQ(N_USERS, i) TH_LOG("only %d senders finished sending", i);
	ASSERT_EQ(0, send_id(&self->a, impl.id, 100));

	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, 0, NULL));
	EXPECT_EMPTY(&act);
	EXPECT_RECV(&impl, 100, self->a.id, impl.id);
	for (;;) {
		struct kdbus_msg_summary s;
		struct big_hdr h;
		uint32_t u;
		size_t len;
		int ret = kdbus_recv_summary(&impl, 0, &s);

		if (ret == -EAGAIN) {
			EXPECT_EQ(0, s.recv_return_flags & KDBUS_RECV_RETURN_DROPPED_MSGS)
				TH_LOG("%llu dropped", (unsigned long long)s.dropped_msgs);
			break;
		}
		/* (No ASSERT in here: the senders are to be killed on failure.) */
		EXPECT_EQ(0, ret);
		if (ret < 0)
			break;
		EXPECT_EQ(0, s.recv_return_flags & KDBUS_RECV_RETURN_DROPPED_MSGS)
			TH_LOG("%llu dropped", (unsigned long long)s.dropped_msgs);
		EXPECT_LE(sizeof(h), s.payload_len);
		if (s.payload_len < (ssize_t)sizeof(h))
			break;
		memcpy(&h, s.payload, sizeof(h));
		u = h.uid - BASE_UID;
		EXPECT_GT(N_USERS, u) TH_LOG("uid %u", h.uid);
		if (u >= N_USERS)
			break;
		EXPECT_EQ(next[u], h.seq) TH_LOG("uid %u out of order", h.uid);
		if (next[u] != h.seq)
			break;
		EXPECT_EQ(h.seq + 1, s.cookie);
		EXPECT_EQ(KDBUS_DST_ID_NAME, s.dst_id);
		len = big_payload(h.uid, h.seq, buf);
		EXPECT_EQ((ssize_t)len, s.payload_len);
		EXPECT_EQ(kdbus_csum(buf, len), s.payload_csum) TH_LOG("uid %u seq %u", h.uid, h.seq);
		EXPECT_EQ(big_is_call(h.seq), !!(s.flags & KDBUS_MSG_EXPECT_REPLY));
		if (s.flags & KDBUS_MSG_EXPECT_REPLY) {
			EXPECT_EQ(0, kdbus_reply_send(impl.fd, s.src_id, REPLY_COOKIE, s.cookie,
						      &h, sizeof(h)))
				TH_LOG("reply to uid %u seq %u", h.uid, h.seq);
			calls++;
		}
		next[u]++;
		total++;
	}
	EXPECT_EQ(N_USERS * PER_USER, total);
	EXPECT_EQ(N_USERS * PER_USER / CALL_EVERY, calls);
	/* Replies that will not come: do not wait for the senders' timeout. */
	if (calls != N_USERS * PER_USER / CALL_EVERY)
		for (i = 0; i < N_USERS; i++)
			kill(pid[i], SIGKILL);
	for (i = 0; i < N_USERS; i++) {
		EXPECT_EQ(PER_USER, next[i]) TH_LOG("uid %u", BASE_UID + i);
		status = kdbus_wait(pid[i]);
		EXPECT_EQ(0, status) TH_LOG("sender uid %u", BASE_UID + i);
	}
	kdbus_conn_close(&impl);
	kdbus_conn_close(&act);
}

TEST_HARNESS_MAIN
