// SPDX-License-Identifier: GPL-2.0
/*
 * Broadcasts, bloom filters and unicast signals (message.md §3.4, §3.5,
 * §5.8, §8; names-match-policy-metadata.md §2.5, §2.6; checklist "Bloom"
 * and the broadcast/signal/lost-counter lines of message.md §12): who
 * receives a broadcast (ordinary connections with a matching entry, never
 * the sender), bloom mask evaluation including generations, the bloom
 * filter not being delivered, unicast signals delivered only through a
 * matching entry, the lost-message counter (broadcasts counted, unicast
 * signals silently dropped without counting), one sender's order across
 * unicasts and broadcasts, a broadcast to 300 receivers of which 10 match,
 * and the receiver-side TALK check for an unprivileged receiver.
 *
 * Match rule validation is in test-match.c; SEND-level errors of signals
 * (EBADMSG, EDOM, EFAULT of the bloom filter) are also in test-send.c.
 *
 * Monitors' copies of broadcasts and of filtered unicast signals are in
 * test-monitor.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

#define POOL	(256 * 1024)
#define SMALL	KDBUS_TEST_POOL_SIZE
#define BLOOM	64		/* bus bloom size made by kdbus_create_bus() */
#define W	(BLOOM / 8)
#define N1	"org.kdbus.t.b1"
#define ACT	"org.kdbus.t.act"
#define ANY	KDBUS_MATCH_ID_ANY
#define BCAST	KDBUS_DST_ID_BROADCAST

FIXTURE(bc) {
	struct kdbus_test_bus tb;	/* domain, bus, owner, path, param */
	struct kdbus_conn a;	/* the sender */
	struct kdbus_conn r;	/* a receiver */
};

FIXTURE_SETUP(bc)
{
	self->a.fd = self->r.fd = -1;
	ASSERT_EQ(0, kdbus_test_bus_setup(&self->tb, "bc", false));
	ASSERT_EQ(0, kdbus_conn_open(&self->a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&self->r, self->tb.path, 0, POOL));
	ASSERT_EQ(BLOOM, kdbus_conn_bloom_size(&self->a));
}

FIXTURE_TEARDOWN(bc)
{
	kdbus_conn_close(&self->a);
	kdbus_conn_close(&self->r);
	kdbus_test_bus_teardown(&self->tb);
}

#define NEXT(c, s)	ASSERT_EQ(0, kdbus_recv_summary((c), 0, (s)))
#define EMPTY(c)	EXPECT_EQ(1, kdbus_queue_empty(c))

/* Broadcast from @c with @cookie and @gen, filter @f (W words). */
static int bcast(struct kdbus_conn *c, uint64_t cookie, uint64_t gen, const uint64_t *f)
{
	return kdbus_signal_send(c->fd, BCAST, cookie, gen, f, BLOOM, NULL, 0);
}

/* Cookie of the next message at @c (0 if none); checks nothing else. */
static uint64_t next_cookie(struct kdbus_conn *c)
{
	struct kdbus_msg_summary s;

	return kdbus_recv_summary(c, 0, &s) ? 0 : s.cookie;
}

/* ------------------------------------------------------------ delivery */

TEST_F(bc, reaches_matching_ordinary_connections_except_sender)
{
	static const char payload[] = "hello";
	struct kdbus_msg_summary s;
	struct kdbus_conn r2, none, act;

	ASSERT_EQ(0, kdbus_conn_open(&r2, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&none, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_match_add(self->r.fd, 1, 0));
	ASSERT_EQ(0, kdbus_match_add(r2.fd, 1, 0, KDBUS_RULE_BLOOM(NULL, BLOOM)));
	ASSERT_EQ(0, kdbus_match_add(self->a.fd, 1, 0));	/* the sender matches too */
	ASSERT_EQ(0, kdbus_signal_send(self->a.fd, BCAST, 0x42, 0, NULL, BLOOM,
				       payload, sizeof(payload)));
	NEXT(&self->r, &s);
	EXPECT_EQ(self->a.id, s.src_id);
	EXPECT_EQ(BCAST, s.dst_id);
	EXPECT_EQ(KDBUS_MSG_SIGNAL, s.flags);
	EXPECT_EQ(KDBUS_PAYLOAD_DBUS, s.payload_type);
	EXPECT_EQ(0x42, s.cookie);
	EXPECT_EQ(0, s.cookie_reply);
	/* The filter is not delivered; the payload is. */
	EXPECT_FALSE(s.has_bloom);
	EXPECT_TRUE(s.has_payload);
	EMPTY(&self->r);
	EXPECT_EQ(0x42, next_cookie(&r2));
	EMPTY(&r2);
	EMPTY(&none);
	EMPTY(&act);
	EMPTY(&self->a);
	kdbus_conn_close(&r2);
	kdbus_conn_close(&none);
	kdbus_conn_close(&act);
}

TEST_F(bc, returns_0_when_nobody_matches)
{
	uint64_t ones[W];

	memset(ones, 0xff, sizeof(ones));
	EXPECT_EQ(0, bcast(&self->a, 1, 0, NULL));
	ASSERT_EQ(0, kdbus_match_add(self->r.fd, 1, 0, KDBUS_RULE_BLOOM(ones, BLOOM)));
	EXPECT_EQ(0, bcast(&self->a, 2, 0, NULL));
	EMPTY(&self->r);
}

TEST_F(bc, send_errors)
{
	struct kdbus_builder b;
	int fds[1] = { 0 };

	/* Filter size differs from the bus bloom size. */
	EXPECT_EQ(-EDOM, kdbus_signal_send(self->a.fd, BCAST, 1, 0, NULL, BLOOM - 8, NULL, 0));
	EXPECT_EQ(-EDOM, kdbus_signal_send(self->a.fd, BCAST, 1, 0, NULL, BLOOM + 8, NULL, 0));
	/* Without SIGNAL / without filter / filter without SIGNAL. */
	kdbus_msg_init(&b, BCAST, 0, 0, 1);
	kdbus_b_bloom_filter_data(&b, 0, NULL, BLOOM);
	EXPECT_EQ(-EBADMSG, kdbus_msg_send_b(self->a.fd, &b, 0, NULL));
	kdbus_msg_init(&b, BCAST, KDBUS_MSG_SIGNAL, 0, 1);
	EXPECT_EQ(-EBADMSG, kdbus_msg_send_b(self->a.fd, &b, 0, NULL));
	kdbus_msg_init(&b, self->r.id, 0, 0, 1);
	kdbus_b_bloom_filter_data(&b, 0, NULL, BLOOM);
	EXPECT_EQ(-EBADMSG, kdbus_msg_send_b(self->a.fd, &b, 0, NULL));
	/* FDS on a broadcast, even an empty one. */
	kdbus_msg_init(&b, BCAST, KDBUS_MSG_SIGNAL, 0, 1);
	kdbus_b_bloom_filter_data(&b, 0, NULL, BLOOM);
	kdbus_b_item(&b, KDBUS_ITEM_FDS, fds, sizeof(fds));
	EXPECT_EQ(-ENOTUNIQ, kdbus_msg_send_b(self->a.fd, &b, 0, NULL));
	kdbus_msg_init(&b, BCAST, KDBUS_MSG_SIGNAL, 0, 1);
	kdbus_b_bloom_filter_data(&b, 0, NULL, BLOOM);
	kdbus_b_item(&b, KDBUS_ITEM_FDS, NULL, 0);
	EXPECT_EQ(-ENOTUNIQ, kdbus_msg_send_b(self->a.fd, &b, 0, NULL));
	EMPTY(&self->r);
}

/* --------------------------------------------------------------- bloom */

TEST_F(bc, zero_mask_matches_all_ones_mask_only_all_ones)
{
	uint64_t ones[W], some[W] = { 1, 0, 0, 0, 0, 0, 0, 0x8000000000000000ULL };
	struct kdbus_conn r2;

	memset(ones, 0xff, sizeof(ones));
	ASSERT_EQ(0, kdbus_conn_open(&r2, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_match_add(self->r.fd, 1, 0, KDBUS_RULE_BLOOM(NULL, BLOOM)));
	ASSERT_EQ(0, kdbus_match_add(r2.fd, 1, 0, KDBUS_RULE_BLOOM(ones, BLOOM)));
	ASSERT_EQ(0, bcast(&self->a, 1, 0, NULL));
	ASSERT_EQ(0, bcast(&self->a, 2, 0, some));
	ones[3] = ~2ULL;
	ASSERT_EQ(0, bcast(&self->a, 3, 0, ones));
	ones[3] = ~0ULL;
	ASSERT_EQ(0, bcast(&self->a, 4, 0, ones));
	EXPECT_EQ(1, next_cookie(&self->r));
	EXPECT_EQ(2, next_cookie(&self->r));
	EXPECT_EQ(3, next_cookie(&self->r));
	EXPECT_EQ(4, next_cookie(&self->r));
	EMPTY(&self->r);
	EXPECT_EQ(4, next_cookie(&r2));
	EMPTY(&r2);
	kdbus_conn_close(&r2);
}

TEST_F(bc, mask_bit_missing_in_filter_blocks_extra_filter_bits_do_not)
{
	uint64_t mask[W] = { 0 }, f[W] = { 0 };

	mask[0] = 0x11;
	mask[W - 1] = 1ULL << 40;
	ASSERT_EQ(0, kdbus_match_add(self->r.fd, 1, 0, KDBUS_RULE_BLOOM(mask, BLOOM)));
	f[0] = 0x11;
	ASSERT_EQ(0, bcast(&self->a, 1, 0, f));			/* word 7 missing */
	f[W - 1] = 1ULL << 40;
	ASSERT_EQ(0, bcast(&self->a, 2, 0, f));			/* exact */
	f[0] = 0x10;
	ASSERT_EQ(0, bcast(&self->a, 3, 0, f));			/* bit 0 missing */
	f[0] = 0xff;
	f[3] = 0x1234;
	ASSERT_EQ(0, bcast(&self->a, 4, 0, f));			/* superset */
	EXPECT_EQ(2, next_cookie(&self->r));
	EXPECT_EQ(4, next_cookie(&self->r));
	EMPTY(&self->r);
}

TEST_F(bc, mask_generations_selected_by_filter_generation)
{
	uint64_t mask[2 * W] = { 0 }, f[W] = { 0 };

	mask[0] = 1;		/* generation 0: bit 0 */
	mask[W] = 2;		/* generation 1 (and later): bit 1 */
	ASSERT_EQ(0, kdbus_match_add(self->r.fd, 1, 0, KDBUS_RULE_BLOOM(mask, 2 * BLOOM)));
	f[0] = 1;
	ASSERT_EQ(0, bcast(&self->a, 1, 0, f));		/* gen 0, bit 0: match */
	ASSERT_EQ(0, bcast(&self->a, 2, 1, f));		/* gen 1, bit 0: no */
	f[0] = 2;
	ASSERT_EQ(0, bcast(&self->a, 3, 0, f));		/* gen 0, bit 1: no */
	ASSERT_EQ(0, bcast(&self->a, 4, 1, f));		/* gen 1, bit 1: match */
	ASSERT_EQ(0, bcast(&self->a, 5, 7, f));		/* gen 7 uses the last */
	f[0] = 1;
	ASSERT_EQ(0, bcast(&self->a, 6, 1000, f));	/* no */
	EXPECT_EQ(1, next_cookie(&self->r));
	EXPECT_EQ(4, next_cookie(&self->r));
	EXPECT_EQ(5, next_cookie(&self->r));
	EMPTY(&self->r);
}

TEST_F(bc, bloom_and_id_rules_anded_entries_ored)
{
	uint64_t mask[W] = { 4 }, f[W] = { 4 };
	struct kdbus_conn c;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_match_add(self->r.fd, 1, 0, KDBUS_RULE_BLOOM(mask, BLOOM),
				     KDBUS_RULE_ID(self->a.id)));
	ASSERT_EQ(0, bcast(&c, 1, 0, f));		/* wrong sender */
	ASSERT_EQ(0, bcast(&self->a, 2, 0, NULL));	/* bit missing */
	ASSERT_EQ(0, bcast(&self->a, 3, 0, f));
	ASSERT_EQ(0, kdbus_match_add(self->r.fd, 2, 0, KDBUS_RULE_ID(c.id)));
	ASSERT_EQ(0, bcast(&c, 4, 0, f));
	ASSERT_EQ(0, bcast(&self->a, 5, 0, f));
	EXPECT_EQ(3, next_cookie(&self->r));
	EXPECT_EQ(4, next_cookie(&self->r));
	EXPECT_EQ(5, next_cookie(&self->r));
	EMPTY(&self->r);
	kdbus_conn_close(&c);
}

/* ----------------------------------------------------- unicast signals */

TEST_F(bc, unicast_signal_delivered_only_through_a_matching_entry)
{
	uint64_t mask[W] = { 8 }, f[W] = { 8 };
	struct kdbus_msg_summary s;
	struct kdbus_conn r2;

	ASSERT_EQ(0, kdbus_conn_open(&r2, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(self->r.fd, N1, 0, NULL));
	/* No entry: returns 0, not queued. */
	EXPECT_EQ(0, kdbus_signal_send(self->a.fd, self->r.id, 1, 0, f, BLOOM, NULL, 0));
	EMPTY(&self->r);
	ASSERT_EQ(0, kdbus_match_add(self->r.fd, 1, 0, KDBUS_RULE_BLOOM(mask, BLOOM)));
	EXPECT_EQ(0, kdbus_signal_send(self->a.fd, self->r.id, 2, 0, NULL, BLOOM, NULL, 0));
	EXPECT_EQ(0, kdbus_signal_send(self->a.fd, self->r.id, 3, 0, f, BLOOM, NULL, 0));
	NEXT(&self->r, &s);
	EXPECT_EQ(3, s.cookie);
	EXPECT_EQ(self->r.id, s.dst_id);
	EXPECT_EQ(KDBUS_MSG_SIGNAL, s.flags);
	EXPECT_FALSE(s.has_bloom);
	EMPTY(&self->r);
	/* By name too; another connection's entry does not help. */
	ASSERT_EQ(0, kdbus_match_add(r2.fd, 1, 0));
	do {
		struct kdbus_builder b;

		kdbus_msg_init(&b, KDBUS_DST_ID_NAME, KDBUS_MSG_SIGNAL, 0, 4);
		kdbus_b_bloom_filter_data(&b, 0, f, BLOOM);
		kdbus_b_str(&b, KDBUS_ITEM_DST_NAME, N1);
		EXPECT_EQ(0, kdbus_msg_send_b(self->a.fd, &b, 0, NULL));
		kdbus_msg_init(&b, KDBUS_DST_ID_NAME, KDBUS_MSG_SIGNAL, 0, 5);
		kdbus_b_bloom_filter_data(&b, 0, NULL, BLOOM);
		kdbus_b_str(&b, KDBUS_ITEM_DST_NAME, N1);
		EXPECT_EQ(0, kdbus_msg_send_b(self->a.fd, &b, 0, NULL));
	} while (0);
	EXPECT_EQ(4, next_cookie(&self->r));
	EMPTY(&self->r);
	EMPTY(&r2);
	/* Destination errors are still reported. */
	EXPECT_EQ(-ENXIO, kdbus_signal_send(self->a.fd, 0x7777777, 6, 0, f, BLOOM, NULL, 0));
	kdbus_conn_close(&r2);
}

TEST_F(bc, unicast_signal_with_fds_to_receiver_without_accept_fd_dropped)
{
	uint64_t f[W] = { 0 };
	struct kdbus_msg_summary s;
	struct kdbus_builder b;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, kdbus_match_add(self->r.fd, 1, 0));
	kdbus_msg_init(&b, self->r.id, KDBUS_MSG_SIGNAL, 0, 1);
	kdbus_b_bloom_filter_data(&b, 0, f, BLOOM);
	kdbus_b_item(&b, KDBUS_ITEM_FDS, p, sizeof(p));
	EXPECT_EQ(0, kdbus_msg_send_b(self->a.fd, &b, 0, NULL));
	EXPECT_EQ(-EAGAIN, kdbus_recv_summary(&self->r, 0, &s));
	EXPECT_EQ(0, s.dropped_msgs);
	close(p[0]);
	close(p[1]);
}

/* --------------------------------------------------------- lost counter */

TEST_F(bc, broadcast_over_quota_is_counted_unicast_signal_is_not)
{
	static char big[1500];
	struct kdbus_msg_summary s;
	struct kdbus_conn small;

	ASSERT_EQ(0, kdbus_conn_open(&small, self->tb.path, 0, SMALL));
	ASSERT_EQ(0, kdbus_match_add(small.fd, 1, 0));
	/* More than a sixth of a one-page pool: refused by the quota. */
	ASSERT_EQ(0, kdbus_signal_send(self->a.fd, small.id, 1, 0, NULL, BLOOM, big,
				       sizeof(big)));
	EXPECT_EQ(0, kdbus_poll(small.fd, POLLIN, 0) & POLLIN);
	EXPECT_EQ(-EAGAIN, kdbus_recv_summary(&small, 0, &s));
	EXPECT_EQ(0, s.dropped_msgs);
	EXPECT_EQ(0, s.recv_return_flags);

	ASSERT_EQ(0, kdbus_signal_send(self->a.fd, BCAST, 2, 0, NULL, BLOOM, big, sizeof(big)));
	ASSERT_EQ(0, kdbus_signal_send(self->a.fd, BCAST, 3, 0, NULL, BLOOM, big, sizeof(big)));
	/* A non-zero counter makes the fd readable with an empty queue. */
	EXPECT_TRUE(kdbus_poll(small.fd, POLLIN, 0) & POLLIN);
	EXPECT_EQ(-EAGAIN, kdbus_recv_summary(&small, 0, &s));
	EXPECT_EQ(2, s.dropped_msgs);
	EXPECT_EQ(KDBUS_RECV_RETURN_DROPPED_MSGS, s.recv_return_flags);
	/* Reset after being reported. */
	EXPECT_EQ(-EAGAIN, kdbus_recv_summary(&small, 0, &s));
	EXPECT_EQ(0, s.dropped_msgs);
	EXPECT_EQ(0, s.recv_return_flags);
	/* A broadcast that fits still arrives. */
	ASSERT_EQ(0, kdbus_broadcast(&self->a, 4, NULL));
	EXPECT_EQ(4, next_cookie(&small));
	kdbus_conn_close(&small);
}

TEST_F(bc, unicast_signal_to_receiver_at_its_message_limit_returns_0)
{
	struct kdbus_conn rx;
	int i;

	ASSERT_EQ(0, kdbus_conn_open(&rx, self->tb.path, 0, 256 * 4096));
	ASSERT_EQ(0, kdbus_match_add(rx.fd, 1, 0));
	for (i = 1; i <= 256; i++)
		ASSERT_EQ(0, kdbus_msg_send(self->a.fd, rx.id, 0, 0, i, NULL, 0));
	EXPECT_EQ(-ENOBUFS, kdbus_msg_send(self->a.fd, rx.id, 0, 0, 257, NULL, 0));
	/* A unicast signal's failure is silent (message.md §3.5). */
	EXPECT_EQ(0, kdbus_signal_send(self->a.fd, rx.id, 258, 0, NULL, BLOOM, NULL, 0));
	kdbus_conn_close(&rx);
}

/* ------------------------------------------------------------ ordering */

TEST_F(bc, one_sender_order_kept_across_unicasts_and_broadcasts)
{
	uint64_t i;

	ASSERT_EQ(0, kdbus_match_add(self->r.fd, 1, 0));
	for (i = 1; i <= 30; i++) {
		int ret;

		if (i % 3 == 0)
			ret = kdbus_msg_send(self->a.fd, self->r.id, 0, 0, i, NULL, 0);
		else if (i % 3 == 1)
			ret = kdbus_broadcast(&self->a, i, NULL);
		else
			ret = kdbus_signal_send(self->a.fd, self->r.id, i, 0, NULL, BLOOM, NULL, 0);
		ASSERT_EQ(0, ret) TH_LOG("#%llu", (unsigned long long)i);
	}
	for (i = 1; i <= 30; i++)
		EXPECT_EQ(i, next_cookie(&self->r));
	EMPTY(&self->r);
}

/* -------------------------------------------------------------- scale */

#define MANY	300
#define HITS	10

TEST_F(bc, broadcast_to_300_receivers_10_match)
{
	uint64_t hit[W] = { 0, 0, 0, 0x100 }, miss[W] = { 0, 0, 0, 0x200 };
	uint64_t f[W] = { 0xf0, 0, 0, 0x100 };
	struct kdbus_conn *c = calloc(MANY, sizeof(*c));
	int i, got = 0, wrong = 0;

	ASSERT_NE(NULL, c);
	ASSERT_EQ(0, kdbus_raise_nofile(MANY + 64));
	for (i = 0; i < MANY; i++) {
		bool match = i % (MANY / HITS) == 7;

		ASSERT_EQ(0, kdbus_conn_open(&c[i], self->tb.path, 0, SMALL)) TH_LOG("#%d", i);
		int ret = 0;

		if (match)
			ret = kdbus_match_add(c[i].fd, 1, 0, KDBUS_RULE_BLOOM(hit, BLOOM));
		else if (i % 2)
			ret = kdbus_match_add(c[i].fd, 1, 0, KDBUS_RULE_BLOOM(miss, BLOOM));
		else if (i % 4 == 0)
			ret = kdbus_match_add(c[i].fd, 1, 0, KDBUS_RULE_ID(self->r.id));
		/* else: no entry at all */
		ASSERT_EQ(0, ret) TH_LOG("#%d", i);
	}
	ASSERT_EQ(0, bcast(&self->a, 0x300, 0, f));
	for (i = 0; i < MANY; i++) {
		bool match = i % (MANY / HITS) == 7;
		uint64_t cookie = next_cookie(&c[i]);

		if (match) {
			got += cookie == 0x300;
			EXPECT_EQ(0x300, cookie) TH_LOG("#%d", i);
		} else if (cookie) {
			wrong++;
			TH_LOG("#%d got %llu", i, (unsigned long long)cookie);
		}
		EMPTY(&c[i]);
	}
	EXPECT_EQ(HITS, got);
	EXPECT_EQ(0, wrong);
	for (i = 0; i < MANY; i++)
		kdbus_conn_close(&c[i]);
	free(c);
}

/* -------------------------------------------------------------- policy */

struct unpriv {
	const char *path;
	int ready[2], go[2];
};

/* As uid nobody: a receiver matching everything and a same-uid sender.
 * Only the same-uid broadcast may arrive. */
static int unpriv_receiver(void *arg)
{
	struct unpriv *u = arg;
	struct kdbus_msg_summary s;
	struct kdbus_conn r, snd;
	char c = 0;

	KDBUS_CHILD_CHECK(kdbus_conn_open(&r, u->path, 0, POOL) == 0);
	KDBUS_CHILD_CHECK(kdbus_conn_open(&snd, u->path, 0, POOL) == 0);
	KDBUS_CHILD_CHECK(kdbus_match_add(r.fd, 1, 0) == 0);
	KDBUS_CHILD_CHECK(write(u->ready[1], "r", 1) == 1);
	KDBUS_CHILD_CHECK(read(u->go[0], &c, 1) == 1);
	KDBUS_CHILD_CHECK(kdbus_broadcast(&snd, 2, NULL) == 0);
	KDBUS_CHILD_CHECK(kdbus_recv_summary(&r, 0, &s) == 0);
	KDBUS_CHILD_CHECK(s.cookie == 2);
	KDBUS_CHILD_CHECK(s.src_id == snd.id);
	KDBUS_CHILD_CHECK(kdbus_recv_summary(&r, 0, &s) == -EAGAIN);
	KDBUS_CHILD_CHECK(s.dropped_msgs == 0);
	return 0;
}

TEST_F(bc, unprivileged_receiver_of_other_uid_without_policy_skipped)
{
	struct unpriv u = { .path = self->tb.path };
	char c = 0;
	pid_t pid;

	ASSERT_EQ(0, pipe(u.ready));
	ASSERT_EQ(0, pipe(u.go));
	pid = kdbus_spawn_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY, unpriv_receiver, &u);
	ASSERT_LT(0, pid);
	close(u.ready[1]);
	ASSERT_EQ(1, read(u.ready[0], &c, 1));
	/* The root sender owns no name: the receiver may not TALK to it. */
	ASSERT_EQ(0, kdbus_broadcast(&self->a, 1, NULL));
	ASSERT_EQ(1, write(u.go[1], "g", 1));
	EXPECT_EQ(0, kdbus_wait(pid));
	close(u.ready[0]);
	close(u.go[0]);
	close(u.go[1]);
}

TEST_HARNESS_MAIN
