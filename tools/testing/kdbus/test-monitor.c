// SPDX-License-Identifier: GPL-2.0
/*
 * Monitors (message.md §3.7, §5.8, §8; connection-pool.md §4, §10.6;
 * checklist lines "A monitor receives ..." of message.md §12 and
 * connection-pool.md §15): a monitor gets a copy of every unicast, call,
 * reply (asynchronous and synchronous), broadcast, unicast signal and
 * kernel notification of its bus without any match entry; copies are
 * made before the destination filters or refuses the message (signals
 * without a match, ECOMM, ENOBUFS); nothing that failed validation or
 * pinning is copied, nor an activator's hand-over; descriptors read -1
 * for a monitor without ACCEPT_FD and are installed for one with it; the
 * metadata of a copy follows the monitor's receive mask; a copy the
 * monitor cannot take is counted lost there and the sender never knows;
 * a monitor sees a broadcast before the reaction to it.
 *
 * Monitor HELLO rules, UPDATE, the commands a monitor may issue, ENXIO
 * for its ID and its absence from LIST and ID_* notifications are in
 * test-hello.c, test-conn.c, test-send.c, test-list.c and test-notify.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

#define POOL		(256 * 1024)
#define SMALL		KDBUS_TEST_POOL_SIZE	/* per-user share 682 bytes */
#define QUOTA_POOL	(3 * 4096)		/* per-user share 2048 = 32 * 64 */
#define BLOOM		64
#define BCAST		KDBUS_DST_ID_BROADCAST
#define ACT		"org.kdbus.t.mon.act"
#define N1		"org.kdbus.t.mon.n1"
#define SEC		1000000000ULL
#define WAIT_MS		5000

FIXTURE(mon) {
	struct kdbus_test_bus tb;
	struct kdbus_conn a;	/* a sender */
	struct kdbus_conn b;	/* a receiver, ACCEPT_FD */
	struct kdbus_conn m;	/* the monitor, recv mask 0, no ACCEPT_FD */
};

FIXTURE_SETUP(mon)
{
	self->a.fd = self->b.fd = self->m.fd = -1;
	ASSERT_EQ(0, kdbus_test_bus_setup(&self->tb, "mon", true));
	ASSERT_EQ(0, kdbus_conn_open(&self->a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&self->b, self->tb.path, KDBUS_HELLO_ACCEPT_FD, POOL));
	ASSERT_EQ(0, kdbus_conn_open_monitor(&self->m, self->tb.path, 0, 0, POOL));
}

FIXTURE_TEARDOWN(mon)
{
	kdbus_conn_close(&self->m);
	kdbus_conn_close(&self->a);
	kdbus_conn_close(&self->b);
	kdbus_test_bus_teardown(&self->tb);
}

#define NEXT(c, s)	ASSERT_EQ(0, kdbus_recv_summary((c), 0, (s)))
#define EMPTY(c)	EXPECT_EQ(1, kdbus_queue_empty(c))

/* ------------------------------------------------------------ messages */

TEST_F(mon, unicast_copied_without_matches)
{
	static const char data[] = "payload";
	struct kdbus_msg_summary s, d;

	ASSERT_EQ(0, kdbus_send_id(self->a.fd, self->b.id, 0x11, 0, NULL, 0, data, sizeof(data)));
	NEXT(&self->m, &s);
	NEXT(&self->b, &d);
	EXPECT_EQ(self->a.id, s.src_id);
	EXPECT_EQ(self->b.id, s.dst_id);
	EXPECT_EQ(0x11, s.cookie);
	EXPECT_EQ(0, s.flags);
	EXPECT_EQ(sizeof(data), s.payload_len);
	EXPECT_EQ(0, memcmp(data, s.payload, sizeof(data)));
	/* The same message as the destination's (both have recv mask 0). */
	EXPECT_EQ(d.msg_size, s.msg_size);
	EXPECT_EQ(d.size, s.size);
	EXPECT_EQ(d.payload_csum, s.payload_csum);
	EMPTY(&self->m);
}

TEST_F(mon, every_monitor_gets_a_copy)
{
	struct kdbus_msg_summary s;
	struct kdbus_conn m2;

	ASSERT_EQ(0, kdbus_conn_open_monitor(&m2, self->tb.path, 0, 0, POOL));
	ASSERT_EQ(0, kdbus_send_id(self->a.fd, self->b.id, 0x12, 0, NULL, 0, NULL, 0));
	NEXT(&self->m, &s);
	EXPECT_EQ(0x12, s.cookie);
	NEXT(&m2, &s);
	EXPECT_EQ(0x12, s.cookie);
	EMPTY(&self->m);
	EMPTY(&m2);
	kdbus_conn_close(&m2);
}

TEST_F(mon, by_name_copy_carries_dst_name)
{
	struct kdbus_msg_summary s;

	ASSERT_EQ(0, kdbus_name_acquire(self->b.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_recv_summary(&self->m, 0, &s));	/* NAME_ADD */
	EXPECT_TRUE(kdbus_is_name_notify(&s, KDBUS_ITEM_NAME_ADD, 0, self->b.id, N1));
	ASSERT_EQ(0, kdbus_send_name(self->a.fd, N1, 0x13, 0, NULL, 0, NULL, 0));
	NEXT(&self->m, &s);
	EXPECT_EQ(0x13, s.cookie);
	EXPECT_EQ(KDBUS_DST_ID_NAME, s.dst_id);
	EXPECT_STREQ(N1, s.dst_name);
	EMPTY(&self->m);
}

TEST_F(mon, call_and_reply_copied_in_order)
{
	struct kdbus_msg_summary s;

	ASSERT_EQ(0, kdbus_send_id(self->a.fd, self->b.id, 0x21, kdbus_now_ns() + 10 * SEC,
				   NULL, 0, "call", 4));
	NEXT(&self->b, &s);
	ASSERT_EQ(0, kdbus_reply_send(self->b.fd, self->a.id, 0x22, 0x21, "reply", 5));
	NEXT(&self->a, &s);
	EXPECT_EQ(0x21, s.cookie_reply);

	NEXT(&self->m, &s);
	EXPECT_EQ(KDBUS_MSG_EXPECT_REPLY, s.flags);
	EXPECT_EQ(0x21, s.cookie);
	EXPECT_EQ(self->a.id, s.src_id);
	NEXT(&self->m, &s);
	EXPECT_EQ(0x22, s.cookie);
	EXPECT_EQ(0x21, s.cookie_reply);
	EXPECT_EQ(self->b.id, s.src_id);
	EXPECT_EQ(self->a.id, s.dst_id);
	EMPTY(&self->m);
}

struct sync_call {
	int fd;
	uint64_t dst;
	int ret;
	struct kdbus_cmd_send out;
};

static void *sync_call_fn(void *p)
{
	static __thread struct kdbus_builder b;
	struct sync_call *c = p;

	kdbus_msg_init(&b, c->dst, KDBUS_MSG_EXPECT_REPLY, 0, 0x31);
	kdbus_msg_hdr(&b)->timeout_ns = kdbus_now_ns() + 10 * SEC;
	kdbus_b_vec(&b, "sync", 4);
	c->ret = kdbus_msg_send_b(c->fd, &b, KDBUS_SEND_SYNC_REPLY, &c->out);
	return NULL;
}

TEST_F(mon, sync_call_and_reply_copied)
{
	struct sync_call c = { .fd = self->a.fd, .dst = self->b.id, .ret = -1 };
	struct kdbus_msg_summary s;
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, sync_call_fn, &c));
	ASSERT_EQ(0, kdbus_recv_summary(&self->b, WAIT_MS, &s));
	EXPECT_EQ(0x31, s.cookie);
	EXPECT_EQ(0, kdbus_reply_send(self->b.fd, self->a.id, 0x32, 0x31, "pong", 4));
	pthread_join(t, NULL);
	ASSERT_EQ(0, c.ret);
	EXPECT_EQ(0, kdbus_free(self->a.fd, c.out.reply.offset));

	NEXT(&self->m, &s);
	EXPECT_EQ(0x31, s.cookie);
	EXPECT_EQ(KDBUS_MSG_EXPECT_REPLY, s.flags);
	NEXT(&self->m, &s);
	EXPECT_EQ(0x32, s.cookie);
	EXPECT_EQ(0x31, s.cookie_reply);
	EXPECT_EQ(self->a.id, s.dst_id);
	EMPTY(&self->m);
}

TEST_F(mon, broadcast_copied_when_nobody_matches)
{
	struct kdbus_msg_summary s;

	ASSERT_EQ(0, kdbus_broadcast(&self->a, 0x41, NULL));
	NEXT(&self->m, &s);
	EXPECT_EQ(0x41, s.cookie);
	EXPECT_EQ(BCAST, s.dst_id);
	EXPECT_EQ(KDBUS_MSG_SIGNAL, s.flags);
	EXPECT_FALSE(s.has_bloom);
	EMPTY(&self->m);
	EMPTY(&self->b);
}

TEST_F(mon, broadcast_seen_before_the_reaction)
{
	struct kdbus_msg_summary s;

	ASSERT_EQ(0, kdbus_match_add(self->b.fd, 1, 0));
	ASSERT_EQ(0, kdbus_broadcast(&self->a, 0x42, NULL));
	NEXT(&self->b, &s);
	EXPECT_EQ(0x42, s.cookie);
	ASSERT_EQ(0, kdbus_send_id(self->b.fd, self->a.id, 0x43, 0, NULL, 0, NULL, 0));
	NEXT(&self->m, &s);
	EXPECT_EQ(0x42, s.cookie);
	NEXT(&self->m, &s);
	EXPECT_EQ(0x43, s.cookie);
	EMPTY(&self->m);
}

TEST_F(mon, filtered_unicast_signal_copied)
{
	struct kdbus_msg_summary s;

	/* b has no match entry: the signal is dropped there, silently. */
	ASSERT_EQ(0, kdbus_signal_send(self->a.fd, self->b.id, 0x51, 0, NULL, BLOOM, NULL, 0));
	EMPTY(&self->b);
	NEXT(&self->m, &s);
	EXPECT_EQ(0x51, s.cookie);
	EXPECT_EQ(self->b.id, s.dst_id);
	EXPECT_EQ(KDBUS_MSG_SIGNAL, s.flags);
	EMPTY(&self->m);
}

TEST_F(mon, unicast_refused_ecomm_copied)
{
	struct kdbus_msg_summary s;
	struct kdbus_conn c;
	int fd = STDERR_FILENO;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));	/* no ACCEPT_FD */
	NEXT(&self->m, &s);
	EXPECT_TRUE(kdbus_is_id_notify(&s, KDBUS_ITEM_ID_ADD, c.id));
	EXPECT_EQ(-ECOMM, kdbus_send_id(self->a.fd, c.id, 0x61, 0, &fd, 1, NULL, 0));
	EMPTY(&c);
	NEXT(&self->m, &s);
	EXPECT_EQ(0x61, s.cookie);
	EXPECT_EQ(c.id, s.dst_id);
	EXPECT_EQ(1, s.n_fds);
	EMPTY(&self->m);
	kdbus_conn_close(&c);
}

TEST_F(mon, unicast_refused_by_quota_copied)
{
	struct kdbus_msg_summary s;
	struct kdbus_conn c;
	int i, n = 0;

	/* 32 header-only messages (64 bytes each) fill a's share of c's
	 * queue exactly: the 33rd is refused before any of it could fit. */
	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, QUOTA_POOL));
	NEXT(&self->m, &s);
	EXPECT_TRUE(kdbus_is_id_notify(&s, KDBUS_ITEM_ID_ADD, c.id));
	for (i = 0; i < 32; i++)
		ASSERT_EQ(0, kdbus_send_id(self->a.fd, c.id, 0x100 + i, 0, NULL, 0, NULL, 0));
	EXPECT_EQ(-ENOBUFS, kdbus_send_id(self->a.fd, c.id, 0x200, 0, NULL, 0, NULL, 0));
	while (kdbus_recv_summary(&self->m, 0, &s) == 0) {
		EXPECT_EQ(n < 32 ? 0x100 + n : 0x200, s.cookie);
		n++;
	}
	EXPECT_EQ(33, n);
	EXPECT_EQ(32, kdbus_drain(&c));
	kdbus_conn_close(&c);
}

TEST_F(mon, failed_sends_not_copied)
{
	struct kdbus_builder b;

	EXPECT_EQ(-ENXIO, kdbus_send_id(self->a.fd, 0x7fffffff, 1, 0, NULL, 0, NULL, 0));
	EXPECT_EQ(-ESRCH, kdbus_send_name(self->a.fd, N1, 2, 0, NULL, 0, NULL, 0));
	/* A reply to a call nobody made. */
	EXPECT_EQ(-EPERM, kdbus_reply_send(self->a.fd, self->b.id, 3, 0x999, NULL, 0));
	/* Validation: an unknown message flag. */
	kdbus_msg_init(&b, self->b.id, 1ULL << 40, 0, 4);
	EXPECT_EQ(-EINVAL, kdbus_msg_send_b(self->a.fd, &b, 0, NULL));
	EMPTY(&self->m);
	EMPTY(&self->b);
}

TEST_F(mon, activator_hand_over_not_copied)
{
	struct kdbus_msg_summary s;
	struct kdbus_conn act, impl;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, 0, POOL));
	EXPECT_EQ(3, kdbus_drain(&self->m));	/* ID_ADD, NAME_ADD, ID_ADD */
	ASSERT_EQ(0, kdbus_send_name(self->a.fd, ACT, 0x71, 0, NULL, 0, NULL, 0));
	NEXT(&self->m, &s);
	EXPECT_EQ(0x71, s.cookie);
	EXPECT_STREQ(ACT, s.dst_name);
	/* The take-over moves the message; only the name change is seen. */
	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, 0, NULL));
	NEXT(&impl, &s);
	EXPECT_EQ(0x71, s.cookie);
	NEXT(&self->m, &s);
	EXPECT_TRUE(kdbus_is_name_notify(&s, KDBUS_ITEM_NAME_CHANGE, act.id, impl.id, ACT));
	EMPTY(&self->m);
	kdbus_conn_close(&impl);
	kdbus_conn_close(&act);
}

/* --------------------------------------------------------- descriptors */

/* RECV on @c: the FDS item's descriptors go to @fds (at most 4), their
 * number is returned (-errno on failure); the slice is freed. */
static int recv_fds(struct kdbus_conn *c, int *fds)
{
	struct kdbus_msg *msg;
	struct kdbus_item *item;
	int n = 0, i;

	if (kdbus_msg_recv(c, 0, 0, &msg, NULL) < 0)
		return -EAGAIN;
	item = kdbus_msg_item(msg, KDBUS_ITEM_FDS, 0);
	if (item) {
		n = (item->size - KDBUS_ITEM_HEADER_SIZE) / sizeof(int);
		for (i = 0; i < n && i < 4; i++)
			fds[i] = item->fds[i];
	}
	kdbus_free(c->fd, kdbus_msg_offset(c, msg));
	return n;
}

TEST_F(mon, fds_read_minus_one_without_accept_fd)
{
	int p[2], fds[4] = { 0, 0, 0, 0 };

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, kdbus_send_id(self->a.fd, self->b.id, 0x81, 0, p, 2, NULL, 0));
	ASSERT_EQ(2, recv_fds(&self->m, fds));
	EXPECT_EQ(-1, fds[0]);
	EXPECT_EQ(-1, fds[1]);
	/* The destination, with ACCEPT_FD, gets them installed. */
	ASSERT_EQ(2, recv_fds(&self->b, fds));
	EXPECT_LE(0, fds[0]);
	EXPECT_LE(0, fds[1]);
	close(fds[0]);
	close(fds[1]);
	close(p[0]);
	close(p[1]);
}

TEST_F(mon, fds_installed_with_accept_fd)
{
	struct kdbus_conn m2;
	int p[2], fds[4] = { -1, -1, -1, -1 };
	char c = 0;

	ASSERT_EQ(0, kdbus_conn_open_monitor(&m2, self->tb.path, KDBUS_HELLO_ACCEPT_FD, 0, POOL));
	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, kdbus_send_id(self->a.fd, self->b.id, 0x82, 0, &p[1], 1, NULL, 0));
	close(p[1]);
	ASSERT_EQ(1, recv_fds(&m2, fds));
	ASSERT_LE(0, fds[0]);
	/* It is the pipe's write end. */
	EXPECT_EQ(1, write(fds[0], "x", 1));
	EXPECT_EQ(1, read(p[0], &c, 1));
	EXPECT_EQ('x', c);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fds[0], F_GETFD));
	close(fds[0]);
	close(p[0]);
	EXPECT_EQ(1, kdbus_drain(&self->b));
	kdbus_conn_close(&m2);
}

TEST_F(mon, close_with_queued_fd_copies)
{
	struct kdbus_conn m2;
	int p[2], i;

	ASSERT_EQ(0, kdbus_conn_open_monitor(&m2, self->tb.path, KDBUS_HELLO_ACCEPT_FD, 0, POOL));
	ASSERT_EQ(0, pipe(p));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, kdbus_send_id(self->a.fd, self->b.id, 0x83 + i, 0, p, 2, NULL, 0));
	close(p[0]);
	close(p[1]);
	/* The copies, and the pipe ends they hold, go with the monitor. */
	kdbus_conn_close(&m2);
	EXPECT_EQ(4, kdbus_drain(&self->m));
}

/* ------------------------------------------------------------ metadata */

TEST_F(mon, metadata_follows_the_monitor_recv_mask)
{
	struct kdbus_msg_summary s, d;
	struct kdbus_conn m2;

	ASSERT_EQ(0, kdbus_conn_open_monitor(&m2, self->tb.path, 0, KDBUS_ATTACH_TIMESTAMP, POOL));
	ASSERT_EQ(0, kdbus_send_id(self->a.fd, self->b.id, 0x91, 0, NULL, 0, NULL, 0));
	NEXT(&self->b, &d);
	EXPECT_FALSE(d.has_timestamp);
	NEXT(&self->m, &s);
	EXPECT_FALSE(s.has_timestamp);
	NEXT(&m2, &s);
	EXPECT_EQ(0x91, s.cookie);
	EXPECT_TRUE(s.has_timestamp);
	EXPECT_NE(0, s.ts.seqnum);
	/* The sender's send mask still applies. */
	ASSERT_EQ(0, kdbus_update_u64(self->a.fd, KDBUS_ITEM_ATTACH_FLAGS_SEND, 0));
	ASSERT_EQ(0, kdbus_send_id(self->a.fd, self->b.id, 0x92, 0, NULL, 0, NULL, 0));
	NEXT(&m2, &s);
	EXPECT_EQ(0x92, s.cookie);
	EXPECT_FALSE(s.has_timestamp);
	kdbus_conn_close(&m2);
}

/* ------------------------------------------------------- notifications */

TEST_F(mon, id_and_name_notifications_copied_without_matches)
{
	struct kdbus_msg_summary s;
	struct kdbus_conn c, m2;
	uint64_t id;

	/* Another monitor is not announced. */
	ASSERT_EQ(0, kdbus_conn_open_monitor(&m2, self->tb.path, 0, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	id = c.id;
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N1, 0, NULL));
	kdbus_conn_close(&c);
	kdbus_conn_close(&m2);

	NEXT(&self->m, &s);
	EXPECT_TRUE(kdbus_is_id_notify(&s, KDBUS_ITEM_ID_ADD, id));
	EXPECT_EQ(NULL, kdbus_notify_defect(&s, false));
	NEXT(&self->m, &s);
	EXPECT_TRUE(kdbus_is_name_notify(&s, KDBUS_ITEM_NAME_ADD, 0, id, N1));
	NEXT(&self->m, &s);
	EXPECT_TRUE(kdbus_is_name_notify(&s, KDBUS_ITEM_NAME_REMOVE, id, 0, N1));
	NEXT(&self->m, &s);
	EXPECT_TRUE(kdbus_is_id_notify(&s, KDBUS_ITEM_ID_REMOVE, id));
	EMPTY(&self->m);
	EMPTY(&self->b);
}

TEST_F(mon, reply_timeout_copied)
{
	struct kdbus_msg_summary s;

	ASSERT_EQ(0, kdbus_send_id(self->a.fd, self->b.id, 0xa1,
				   kdbus_now_ns() + SEC / 10, NULL, 0, NULL, 0));
	ASSERT_EQ(0, kdbus_recv_summary(&self->a, WAIT_MS, &s));
	EXPECT_EQ(KDBUS_ITEM_REPLY_TIMEOUT, s.type);
	NEXT(&self->m, &s);
	EXPECT_EQ(0xa1, s.cookie);
	NEXT(&self->m, &s);
	EXPECT_EQ(KDBUS_ITEM_REPLY_TIMEOUT, s.type);
	EXPECT_EQ(0, s.src_id);
	EXPECT_EQ(self->a.id, s.dst_id);
	EXPECT_EQ(0xa1, s.cookie_reply);
	EMPTY(&self->m);
}

TEST_F(mon, reply_dead_copied)
{
	struct kdbus_msg_summary s;
	uint64_t callee = self->b.id;

	ASSERT_EQ(0, kdbus_send_id(self->a.fd, callee, 0xb1, kdbus_now_ns() + 10 * SEC,
				   NULL, 0, NULL, 0));
	kdbus_conn_close(&self->b);
	ASSERT_EQ(0, kdbus_recv_summary(&self->a, WAIT_MS, &s));
	EXPECT_EQ(KDBUS_ITEM_REPLY_DEAD, s.type);
	NEXT(&self->m, &s);
	EXPECT_EQ(0xb1, s.cookie);
	NEXT(&self->m, &s);
	EXPECT_EQ(KDBUS_ITEM_REPLY_DEAD, s.type);
	EXPECT_EQ(self->a.id, s.dst_id);
	EXPECT_EQ(0xb1, s.cookie_reply);
	/* Teardown order: REPLY_DEAD, then ID_REMOVE. */
	NEXT(&self->m, &s);
	EXPECT_TRUE(kdbus_is_id_notify(&s, KDBUS_ITEM_ID_REMOVE, callee));
	EMPTY(&self->m);
}

TEST_F(mon, no_reply_notification_for_a_gone_target)
{
	struct kdbus_msg_summary s;
	uint64_t caller = self->a.id, callee = self->b.id;

	ASSERT_EQ(0, kdbus_send_id(self->a.fd, self->b.id, 0xc1, kdbus_now_ns() + 10 * SEC,
				   NULL, 0, NULL, 0));
	kdbus_conn_close(&self->a);
	kdbus_conn_close(&self->b);
	NEXT(&self->m, &s);
	EXPECT_EQ(0xc1, s.cookie);
	NEXT(&self->m, &s);
	EXPECT_TRUE(kdbus_is_id_notify(&s, KDBUS_ITEM_ID_REMOVE, caller));
	NEXT(&self->m, &s);
	/* No REPLY_DEAD for the caller that is gone. */
	EXPECT_TRUE(kdbus_is_id_notify(&s, KDBUS_ITEM_ID_REMOVE, callee));
	EMPTY(&self->m);
}

/* ---------------------------------------------------------- lost copies */

TEST_F(mon, lost_copy_counted_sender_unaffected)
{
	static char big[1024];
	struct kdbus_msg_summary s;
	struct kdbus_conn m2;

	/* 1 KiB does not fit the sender's 682-byte share of a 4 KiB pool. */
	ASSERT_EQ(0, kdbus_conn_open_monitor(&m2, self->tb.path, 0, 0, SMALL));
	ASSERT_EQ(0, kdbus_send_id(self->a.fd, self->b.id, 0xd1, 0, NULL, 0, big, sizeof(big)));
	ASSERT_EQ(0, kdbus_broadcast(&self->a, 0xd2, NULL));
	ASSERT_EQ(0, kdbus_send_id(self->a.fd, self->b.id, 0xd3, 0, NULL, 0, NULL, 0));
	NEXT(&self->b, &s);
	EXPECT_EQ(0xd1, s.cookie);
	EXPECT_EQ(POLLIN, kdbus_poll(m2.fd, POLLIN, 0));
	NEXT(&m2, &s);
	EXPECT_EQ(1, s.dropped_msgs);
	EXPECT_EQ(KDBUS_RECV_RETURN_DROPPED_MSGS, s.recv_return_flags);
	EXPECT_EQ(0xd2, s.cookie);
	NEXT(&m2, &s);
	EXPECT_EQ(0, s.dropped_msgs);
	EXPECT_EQ(0xd3, s.cookie);
	EMPTY(&m2);
	kdbus_conn_close(&m2);
}

/* ---------------------------------------------------------- concurrency */

struct sender {
	struct kdbus_conn *from;
	uint64_t to;
	int sent;
};

static void *sender_fn(void *p)
{
	struct sender *s = p;
	int i;

	for (i = 0; i < 300; i++)
		if (kdbus_send_id(s->from->fd, s->to, i + 1, 0, NULL, 0, "x", 1) == 0)
			s->sent++;
	return NULL;
}

TEST_F(mon, monitors_come_and_go_during_traffic)
{
	struct sender s1 = { .from = &self->a, .to = self->b.id };
	struct sender s2 = { .from = &self->b, .to = self->a.id };
	pthread_t t1, t2;
	struct kdbus_conn m2;
	int i;

	ASSERT_EQ(0, pthread_create(&t1, NULL, sender_fn, &s1));
	ASSERT_EQ(0, pthread_create(&t2, NULL, sender_fn, &s2));
	for (i = 0; i < 30; i++) {
		ASSERT_EQ(0, kdbus_conn_open_monitor(&m2, self->tb.path, 0, 0, SMALL));
		kdbus_drain(&m2);
		kdbus_conn_close(&m2);
		kdbus_drain(&self->a);
		kdbus_drain(&self->b);
		kdbus_drain(&self->m);
	}
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	kdbus_drain(&self->a);
	kdbus_drain(&self->b);
	/* The fixture's monitor saw every message that was sent, or counted
	 * what it could not take (it is drained concurrently, its share of
	 * a 256 KiB pool suffices for the rest). */
	EXPECT_LT(0, s1.sent);
	EXPECT_LT(0, s2.sent);
}

TEST_HARNESS_MAIN
