// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel name and ID notifications (names-match-policy-metadata.md §1.6,
 * §1.7; message.md §7, §8; checklist "Notifications" of both documents):
 * the layout of ID_ADD / ID_REMOVE / NAME_ADD / NAME_REMOVE / NAME_CHANGE
 * messages (src_id 0, dst_id ~0, flags SIGNAL, payload_type 0, the item's
 * size including its padding, sizes 96 and 64 + ALIGN8(48 + strlen + 1)),
 * the ids and flags they carry for each transition of the name state
 * machine, who receives them (ordinary connections with a matching entry,
 * never activators or policy holders, on custom endpoints only visible
 * names and no ID_*), TIMESTAMP as their only metadata, the ordering
 * guarantees (teardown: name notifications, REPLY_DEAD, ID_REMOVE;
 * activator HELLO: ID_ADD before NAME_ADD; one global order for all
 * observers), the lost-message counter for notifications a receiver cannot
 * take, and concurrent name churn without lost or duplicated notifications.
 *
 * Rule evaluation is in test-match.c.
 *
 * Monitors' copies of notifications are in test-monitor.c; moving
 * activator-queued messages on hand-over (kdbus/connection/handover.rs) is
 * in test-activator.c. TIMESTAMP is the only metadata on notifications.
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

#define POOL	(1024 * 1024)
#define SMALL	KDBUS_TEST_POOL_SIZE
#define N1	"org.kdbus.t.n1"
#define N2	"org.kdbus.t.n2"
#define N3	"org.kdbus.t.n3"
#define ACT	"org.kdbus.t.act"
#define ANY	KDBUS_MATCH_ID_ANY
#define DEADLINE (1ULL << 62)	/* a far-away absolute CLOCK_MONOTONIC value */

#define NAME_ADD	KDBUS_ITEM_NAME_ADD
#define NAME_REMOVE	KDBUS_ITEM_NAME_REMOVE
#define NAME_CHANGE	KDBUS_ITEM_NAME_CHANGE
#define ID_ADD		KDBUS_ITEM_ID_ADD
#define ID_REMOVE	KDBUS_ITEM_ID_REMOVE
#define REPLACE		KDBUS_NAME_REPLACE_EXISTING
#define ALLOW		KDBUS_NAME_ALLOW_REPLACEMENT
#define QUEUE		KDBUS_NAME_QUEUE

FIXTURE(notify) {
	struct kdbus_test_bus tb;	/* domain, bus, owner, path, param */
	struct kdbus_conn a;	/* the subject */
	struct kdbus_conn obs;	/* the observer, with an entry matching everything */
};

FIXTURE_SETUP(notify)
{
	self->a.fd = self->obs.fd = -1;
	/* TIMESTAMP on notifications needs the module mask to allow it. */
	ASSERT_EQ(0, kdbus_test_bus_setup(&self->tb, "nt", true));
	ASSERT_EQ(0, kdbus_conn_open(&self->a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&self->obs, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0));
}

FIXTURE_TEARDOWN(notify)
{
	kdbus_conn_close(&self->a);
	kdbus_conn_close(&self->obs);
	kdbus_test_bus_teardown(&self->tb);
}

#define NEXT(c, s)	ASSERT_EQ(0, kdbus_recv_summary((c), 0, (s)))
#define EMPTY(c)	EXPECT_EQ(1, kdbus_queue_empty(c))

/* Next message at @c is a well-formed NAME_* notification of @type with
 * old {@old_id, @old_flags}, new {@new_id, @new_flags}, @name. */
#define EXPECT_NAME(c, t_, o_, of_, n_, nf_, name_) do {				\
	struct kdbus_msg_summary _s;						\
	const char *_d;								\
	ASSERT_EQ(0, kdbus_recv_summary((c), 0, &_s)) TH_LOG("%s %s expected",	\
		kdbus_item_type_name(t_), name_);				\
	_d = kdbus_notify_defect(&_s, false);					\
	EXPECT_EQ(NULL, _d) TH_LOG("%s", _d);					\
	EXPECT_EQ((uint64_t)(t_), _s.type) TH_LOG("got %s",			\
		kdbus_item_type_name(_s.type));					\
	EXPECT_EQ((uint64_t)(o_), _s.old_id);					\
	EXPECT_EQ((uint64_t)(of_), _s.old_flags);				\
	EXPECT_EQ((uint64_t)(n_), _s.new_id);					\
	EXPECT_EQ((uint64_t)(nf_), _s.new_flags);				\
	EXPECT_STREQ(name_, _s.name);						\
} while (0)

/* Next message at @c is a well-formed ID_* notification {@id, @flags}. */
#define EXPECT_ID(c, t_, i_, f_) do {						\
	struct kdbus_msg_summary _s;						\
	const char *_d;								\
	ASSERT_EQ(0, kdbus_recv_summary((c), 0, &_s)) TH_LOG("%s expected",	\
		kdbus_item_type_name(t_));					\
	_d = kdbus_notify_defect(&_s, false);					\
	EXPECT_EQ(NULL, _d) TH_LOG("%s", _d);					\
	EXPECT_EQ((uint64_t)(t_), _s.type) TH_LOG("got %s",			\
		kdbus_item_type_name(_s.type));					\
	EXPECT_EQ((uint64_t)(i_), _s.id);					\
	EXPECT_EQ((uint64_t)(f_), _s.id_flags);					\
} while (0)

/* ------------------------------------------------------------- layout */

TEST_F(notify, id_add_and_id_remove_carry_hello_flags)
{
	struct kdbus_conn c;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, KDBUS_HELLO_ACCEPT_FD, SMALL));
	EXPECT_ID(&self->obs, ID_ADD, c.id, KDBUS_HELLO_ACCEPT_FD);
	EMPTY(&self->obs);
	kdbus_conn_close(&c);
	EXPECT_ID(&self->obs, ID_REMOVE, c.id, KDBUS_HELLO_ACCEPT_FD);
	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, SMALL));
	ASSERT_EQ(0, kdbus_byebye(c.fd));
	EXPECT_ID(&self->obs, ID_ADD, c.id, 0);
	EXPECT_ID(&self->obs, ID_REMOVE, c.id, 0);
	kdbus_conn_close(&c);
	EMPTY(&self->obs);
}

TEST_F(notify, name_notifications_carry_ids_and_name_flags)
{
	struct kdbus_conn c;
	uint64_t rf;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	kdbus_drain(&self->obs);
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1, ALLOW | QUEUE, NULL));
	EXPECT_NAME(&self->obs, NAME_ADD, 0, 0, self->a.id, ALLOW | QUEUE, N1);
	/* Replacement: a (QUEUE) goes to the queue. */
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N1, REPLACE | QUEUE, &rf));
	EXPECT_EQ(0, rf);
	EXPECT_NAME(&self->obs, NAME_CHANGE, self->a.id, ALLOW | QUEUE, c.id, REPLACE | QUEUE, N1);
	/* Hand-over to the waiter. */
	ASSERT_EQ(0, kdbus_name_release(c.fd, N1));
	EXPECT_NAME(&self->obs, NAME_CHANGE, c.id, REPLACE | QUEUE, self->a.id, ALLOW | QUEUE, N1);
	ASSERT_EQ(0, kdbus_name_release(self->a.fd, N1));
	EXPECT_NAME(&self->obs, NAME_REMOVE, self->a.id, ALLOW | QUEUE, 0, 0, N1);
	EMPTY(&self->obs);
	kdbus_conn_close(&c);
}

TEST_F(notify, name_item_size_is_aligned_and_includes_padding)
{
	char name[32];
	int len;

	kdbus_drain(&self->obs);
	/* Lengths 3..18 cover every padding amount twice. */
	for (len = 3; len <= 18; len++) {
		struct kdbus_msg_summary s;
		const char *d;

		memset(name, 'x', len);
		name[0] = 'a';
		name[1] = '.';
		name[len] = 0;
		ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, name, 0, NULL));
		ASSERT_EQ(0, kdbus_recv_summary(&self->obs, 0, &s));
		d = kdbus_notify_defect(&s, false);
		EXPECT_EQ(NULL, d) TH_LOG("length %d: %s", len, d);
		EXPECT_EQ(KDBUS_ALIGN8(16 + 32 + len + 1), s.item_size) TH_LOG("length %d", len);
		EXPECT_EQ(64 + KDBUS_ALIGN8(48 + len + 1), s.size) TH_LOG("length %d", len);
		EXPECT_TRUE(s.name_nul) TH_LOG("length %d", len);
		EXPECT_STREQ(name, s.name);
	}
	EMPTY(&self->obs);
}

TEST_F(notify, acquirer_receives_its_own_name_add)
{
	ASSERT_EQ(0, kdbus_match_add(self->a.fd, 1, 0, KDBUS_RULE_NAME_ADD(0, ANY, NULL)));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1, ALLOW, NULL));
	EXPECT_NAME(&self->a, NAME_ADD, 0, 0, self->a.id, ALLOW, N1);
	EMPTY(&self->a);
}

TEST_F(notify, queueing_and_waiter_release_emit_nothing)
{
	struct kdbus_conn c;
	uint64_t rf;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1, 0, NULL));
	kdbus_drain(&self->obs);
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N1, QUEUE, &rf));
	EXPECT_EQ(KDBUS_NAME_IN_QUEUE, rf);
	/* Failing acquisitions and a waiter's release emit nothing either. */
	EXPECT_EQ(-EEXIST, kdbus_name_acquire(c.fd, N2, 0, NULL) ?: kdbus_name_acquire(c.fd, N1, 0, NULL));
	EXPECT_EQ(-EALREADY, kdbus_name_acquire(self->a.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_release(c.fd, N1));
	EXPECT_EQ(-EADDRINUSE, kdbus_name_release(c.fd, N1));
	EXPECT_NAME(&self->obs, NAME_ADD, 0, 0, c.id, 0, N2);
	EMPTY(&self->obs);
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N1, QUEUE, NULL));
	kdbus_conn_close(&c);	/* a waiter dies: nothing for N1 */
	EXPECT_NAME(&self->obs, NAME_REMOVE, c.id, 0, 0, 0, N2);
	EXPECT_ID(&self->obs, ID_REMOVE, c.id, 0);
	EMPTY(&self->obs);
}

TEST_F(notify, timestamp_only_when_requested)
{
	struct kdbus_msg_summary s;
	struct kdbus_conn ts;
	uint64_t seq = 0;
	const char *d;
	int i;

	ASSERT_EQ(0, kdbus_conn_open_b(&ts, self->tb.path, NULL, 0, _KDBUS_ATTACH_ALL,
				       KDBUS_ATTACH_TIMESTAMP | KDBUS_ATTACH_CREDS |
				       KDBUS_ATTACH_PIDS | KDBUS_ATTACH_NAMES, POOL));
	ASSERT_EQ(0, kdbus_match_add(ts.fd, 1, 0));
	kdbus_drain(&self->obs);
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_release(self->a.fd, N1));
	kdbus_conn_close(&self->a);
	self->a.fd = -1;
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, kdbus_recv_summary(&ts, 0, &s));
		d = kdbus_notify_defect(&s, true);
		EXPECT_EQ(NULL, d) TH_LOG("#%d: %s", i, d);
		EXPECT_TRUE(s.has_timestamp);
		EXPECT_LT(seq, s.ts.seqnum) TH_LOG("#%d", i);
		EXPECT_NE(0, s.ts.monotonic_ns);
		EXPECT_NE(0, s.ts.realtime_ns);
		seq = s.ts.seqnum;

		ASSERT_EQ(0, kdbus_recv_summary(&self->obs, 0, &s));
		d = kdbus_notify_defect(&s, false);
		EXPECT_EQ(NULL, d) TH_LOG("#%d: %s", i, d);
	}
	EMPTY(&ts);
	EMPTY(&self->obs);
	kdbus_conn_close(&ts);
}

/* --------------------------------------------------------- activators */

TEST_F(notify, activator_lifecycle)
{
	struct kdbus_conn act, c;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	/* HELLO: ID_ADD before NAME_ADD. */
	EXPECT_ID(&self->obs, ID_ADD, act.id, KDBUS_HELLO_ACTIVATOR);
	EXPECT_NAME(&self->obs, NAME_ADD, 0, 0, act.id, KDBUS_NAME_ACTIVATOR, ACT);
	EMPTY(&self->obs);
	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	kdbus_drain(&self->obs);
	/* Take-over and hand-back. */
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, ACT, ALLOW, NULL));
	EXPECT_NAME(&self->obs, NAME_CHANGE, act.id, KDBUS_NAME_ACTIVATOR, c.id, ALLOW, ACT);
	ASSERT_EQ(0, kdbus_name_release(c.fd, ACT));
	EXPECT_NAME(&self->obs, NAME_CHANGE, c.id, ALLOW, act.id, KDBUS_NAME_ACTIVATOR, ACT);
	EMPTY(&self->obs);
	/* The activator never receives notifications. */
	EMPTY(&act);
	/* Closing the activator holding its name: NAME_REMOVE, ID_REMOVE. */
	kdbus_conn_close(&act);
	EXPECT_NAME(&self->obs, NAME_REMOVE, act.id, KDBUS_NAME_ACTIVATOR, 0, 0, ACT);
	EXPECT_ID(&self->obs, ID_REMOVE, act.id, KDBUS_HELLO_ACTIVATOR);
	EMPTY(&self->obs);
	kdbus_conn_close(&c);
}

TEST_F(notify, closing_activator_while_implementer_owns_emits_only_id_remove)
{
	struct kdbus_conn act;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, ACT, 0, NULL));
	kdbus_drain(&self->obs);
	kdbus_conn_close(&act);
	EXPECT_ID(&self->obs, ID_REMOVE, act.id, KDBUS_HELLO_ACTIVATOR);
	EMPTY(&self->obs);
	ASSERT_EQ(0, kdbus_name_release(self->a.fd, ACT));
	EXPECT_NAME(&self->obs, NAME_REMOVE, self->a.id, 0, 0, 0, ACT);
	EMPTY(&self->obs);
}

TEST_F(notify, activator_for_owned_name_registers_silently)
{
	struct kdbus_conn act;

	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, ACT, 0, NULL));
	kdbus_drain(&self->obs);
	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	EXPECT_ID(&self->obs, ID_ADD, act.id, KDBUS_HELLO_ACTIVATOR);
	EMPTY(&self->obs);
	ASSERT_EQ(0, kdbus_name_release(self->a.fd, ACT));
	EXPECT_NAME(&self->obs, NAME_CHANGE, self->a.id, 0, act.id, KDBUS_NAME_ACTIVATOR, ACT);
	EMPTY(&self->obs);
	kdbus_conn_close(&act);
}

TEST_F(notify, second_activator_eexist_id_add_then_id_remove)
{
	struct kdbus_msg_summary s, s2;
	struct kdbus_conn act, act2;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	kdbus_drain(&self->obs);
	ASSERT_EQ(-EEXIST, kdbus_conn_open_name(&act2, self->tb.path, KDBUS_HELLO_ACTIVATOR,
						ACT, POOL));
	/* The failed activator was linked: ID_ADD and ID_REMOVE, no NAME_*. */
	NEXT(&self->obs, &s);
	EXPECT_EQ(ID_ADD, s.type);
	EXPECT_EQ(KDBUS_HELLO_ACTIVATOR, s.id_flags);
	EXPECT_NE(act.id, s.id);
	NEXT(&self->obs, &s2);
	EXPECT_TRUE(kdbus_is_id_notify(&s2, ID_REMOVE, s.id));
	EXPECT_EQ(KDBUS_HELLO_ACTIVATOR, s2.id_flags);
	EMPTY(&self->obs);
	kdbus_conn_close(&act);
}

TEST_F(notify, policy_holder_gets_id_notifications_about_it_but_none_itself)
{
	struct kdbus_conn ph;

	ASSERT_EQ(0, kdbus_conn_open_name(&ph, self->tb.path, KDBUS_HELLO_POLICY_HOLDER,
					  "org.kdbus.t.ph", POOL));
	EXPECT_ID(&self->obs, ID_ADD, ph.id, KDBUS_HELLO_POLICY_HOLDER);
	EMPTY(&self->obs);
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1, 0, NULL));
	kdbus_conn_close(&ph);
	EXPECT_NAME(&self->obs, NAME_ADD, 0, 0, self->a.id, 0, N1);
	EXPECT_ID(&self->obs, ID_REMOVE, ph.id, KDBUS_HELLO_POLICY_HOLDER);
	EMPTY(&self->obs);
}

/* ------------------------------------------------------------ ordering */

TEST_F(notify, teardown_order_names_then_reply_dead_then_id_remove)
{
	struct kdbus_msg_summary s;
	struct kdbus_conn c, w;
	struct kdbus_builder b;
	int dead = 0;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&w, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N2, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N3, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w.fd, N1, QUEUE, NULL));
	/* The observer calls c; c dies without answering. */
	kdbus_msg_init(&b, c.id, KDBUS_MSG_EXPECT_REPLY, 0, 0x4711);
	kdbus_msg_hdr(&b)->timeout_ns = DEADLINE;
	ASSERT_EQ(0, kdbus_msg_send_b(self->obs.fd, &b, 0, NULL));
	kdbus_drain(&self->obs);
	kdbus_conn_close(&c);
	/* Names in the order c became their owner. */
	EXPECT_NAME(&self->obs, NAME_REMOVE, c.id, 0, 0, 0, N2);
	EXPECT_NAME(&self->obs, NAME_CHANGE, c.id, 0, w.id, QUEUE, N1);
	EXPECT_NAME(&self->obs, NAME_REMOVE, c.id, 0, 0, 0, N3);
	/* One REPLY_DEAD (two tolerated, message.md §11 #6). */
	for (;;) {
		NEXT(&self->obs, &s);
		if (s.type != KDBUS_ITEM_REPLY_DEAD)
			break;
		EXPECT_EQ(0x4711, s.cookie_reply);
		EXPECT_EQ(self->obs.id, s.dst_id);
		dead++;
	}
	EXPECT_LE(1, dead);
	EXPECT_GE(2, dead);
	EXPECT_TRUE(kdbus_is_id_notify(&s, ID_REMOVE, c.id)) TH_LOG("got %s",
		kdbus_item_type_name(s.type));
	EMPTY(&self->obs);
	kdbus_conn_close(&w);
}

TEST_F(notify, observers_see_the_same_order)
{
	struct kdbus_msg_summary s1, s2;
	struct kdbus_conn o2, c;
	int n = 0;

	ASSERT_EQ(0, kdbus_conn_open(&o2, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_match_add(o2.fd, 1, 0, KDBUS_RULE_NAME_ADD(ANY, ANY, NULL)));
	ASSERT_EQ(0, kdbus_match_add(o2.fd, 2, 0, KDBUS_RULE_NAME_CHANGE(ANY, ANY, NULL)));
	ASSERT_EQ(0, kdbus_match_add(o2.fd, 3, 0, KDBUS_RULE_NAME_REMOVE(ANY, ANY, NULL)));
	ASSERT_EQ(0, kdbus_match_add(o2.fd, 4, 0, KDBUS_RULE_ID_ADD(ANY)));
	ASSERT_EQ(0, kdbus_match_add(o2.fd, 5, 0, KDBUS_RULE_ID_REMOVE(ANY)));
	kdbus_drain(&self->obs);
	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N1, ALLOW, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N2, QUEUE, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N2, QUEUE, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1, REPLACE, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N3, 0, NULL));
	kdbus_conn_close(&c);
	ASSERT_EQ(0, kdbus_name_release(self->a.fd, N1));
	for (;;) {
		int r1 = kdbus_recv_summary(&self->obs, 0, &s1);
		int r2 = kdbus_recv_summary(&o2, 0, &s2);

		ASSERT_EQ(r1, r2) TH_LOG("after %d notifications", n);
		if (r1 == -EAGAIN)
			break;
		ASSERT_EQ(0, r1);
		EXPECT_EQ(s1.type, s2.type) TH_LOG("#%d", n);
		EXPECT_EQ(s1.id, s2.id) TH_LOG("#%d", n);
		EXPECT_EQ(s1.old_id, s2.old_id) TH_LOG("#%d", n);
		EXPECT_EQ(s1.new_id, s2.new_id) TH_LOG("#%d", n);
		EXPECT_STREQ(s1.name, s2.name) TH_LOG("#%d", n);
		n++;
	}
	/* ID_ADD, NAME_ADD n1, NAME_ADD n2, NAME_CHANGE n1, NAME_ADD n3,
	 * NAME_REMOVE n3, ID_REMOVE, NAME_REMOVE n1. */
	EXPECT_EQ(8, n);
	kdbus_conn_close(&o2);
}

/* ------------------------------------------------------ custom endpoint */

TEST_F(notify, custom_endpoint_no_id_notifications_only_visible_names)
{
	struct kdbus_msg_summary s;
	struct kdbus_builder b;
	char ep[64], ep_path[256];
	struct kdbus_conn e, c;
	int epfd;

	epfd = kdbus_open_bus(self->tb.d.root, self->tb.bus);
	ASSERT_LE(0, epfd);
	kdbus_domain_name(&self->tb.d, ep, sizeof(ep), "ep");
	ASSERT_EQ(0, kdbus_ep_make(epfd, KDBUS_MAKE_ACCESS_WORLD, ep));
	kdbus_path(ep_path, sizeof(ep_path), self->tb.d.root, "%s/%s", self->tb.bus, ep);
	ASSERT_EQ(0, kdbus_conn_open(&e, ep_path, 0, POOL));
	ASSERT_EQ(0, kdbus_match_add(e.fd, 1, 0));
	/* No policy: nothing visible. */
	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_release(c.fd, N1));
	EXPECT_EQ(-EAGAIN, kdbus_recv_summary(&e, 0, &s))
		TH_LOG("got %s id %llu name \"%s\"", kdbus_item_type_name(s.type),
		       (unsigned long long)s.id, s.name);
	/* SEE on N1. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, N1);
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_SEE, 0);
	ASSERT_EQ(0, kdbus_ioctl(epfd, KDBUS_CMD_ENDPOINT_UPDATE, kdbus_b_cmd(&b)));
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N2, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N1, 0, NULL));
	kdbus_conn_close(&c);
	NEXT(&e, &s);
	EXPECT_TRUE(kdbus_is_name_notify(&s, NAME_ADD, 0, c.id, N1));
	NEXT(&e, &s);
	EXPECT_TRUE(kdbus_is_name_notify(&s, NAME_REMOVE, c.id, 0, N1));
	EMPTY(&e);
	/* The default endpoint's observer saw everything. */
	EXPECT_EQ(9, kdbus_drain(&self->obs));
	kdbus_conn_close(&e);
	close(epfd);
}

/* Runs as nobody: acquires and releases N1 (a policy holder grants OWN). */
static int nobody_churns_n1(void *p)
{
	struct kdbus_conn c;

	KDBUS_CHILD_CHECK(kdbus_conn_open(&c, p, 0, POOL) == 0);
	KDBUS_CHILD_CHECK(kdbus_name_acquire(c.fd, N1, 0, NULL) == 0);
	KDBUS_CHILD_CHECK(kdbus_name_release(c.fd, N1) == 0);
	kdbus_conn_close(&c);
	return 0;
}

/*
 * The SEE check of a recipient uses the recipient's HELLO credentials, not
 * those of the task that happens to deliver the notification: here the
 * acquirer (uid nobody) delivers, and only root, the recipient, may see N1.
 */
TEST_F(notify, custom_endpoint_see_checked_with_the_recipients_credentials)
{
	struct kdbus_msg_summary s;
	struct kdbus_builder b;
	char ep[64], ep_path[256];
	struct kdbus_conn e, ph;
	int epfd;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, N1);
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_USER, KDBUS_POLICY_OWN, KDBUS_TEST_NOBODY);
	ASSERT_EQ(0, kdbus_conn_open_b(&ph, self->tb.path, &b, KDBUS_HELLO_POLICY_HOLDER, 0, 0,
				       POOL));
	epfd = kdbus_open_bus(self->tb.d.root, self->tb.bus);
	ASSERT_LE(0, epfd);
	kdbus_domain_name(&self->tb.d, ep, sizeof(ep), "ep");
	ASSERT_EQ(0, kdbus_ep_make(epfd, KDBUS_MAKE_ACCESS_WORLD, ep));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, N1);
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_USER, KDBUS_POLICY_SEE, 0);
	ASSERT_EQ(0, kdbus_ioctl(epfd, KDBUS_CMD_ENDPOINT_UPDATE, kdbus_b_cmd(&b)));
	kdbus_path(ep_path, sizeof(ep_path), self->tb.d.root, "%s/%s", self->tb.bus, ep);
	ASSERT_EQ(0, kdbus_conn_open(&e, ep_path, 0, POOL));
	ASSERT_EQ(0, kdbus_match_add(e.fd, 1, 0));
	EXPECT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY, nobody_churns_n1,
				  self->tb.path));
	NEXT(&e, &s);
	EXPECT_EQ(KDBUS_ITEM_NAME_ADD, s.type);
	EXPECT_STREQ(N1, s.name);
	NEXT(&e, &s);
	EXPECT_EQ(KDBUS_ITEM_NAME_REMOVE, s.type);
	EXPECT_STREQ(N1, s.name);
	EMPTY(&e);
	kdbus_conn_close(&e);
	kdbus_conn_close(&ph);
	close(epfd);
}

/* -------------------------------------------------------- lost counter */

TEST_F(notify, notification_quota_separate_from_users_lost_ones_counted)
{
	struct kdbus_msg_summary s;
	struct kdbus_conn r, c;
	int i;

	ASSERT_EQ(0, kdbus_conn_open(&r, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_match_add(r.fd, 1, 0, KDBUS_RULE_ID_ADD(ANY)));
	for (i = 0; i < 259; i++) {
		ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, SMALL)) TH_LOG("#%d", i);
		kdbus_conn_close(&c);
	}
	/* A user's unicast is accounted to another user. */
	ASSERT_EQ(0, kdbus_msg_send(self->a.fd, r.id, 0, 0, 0x1234, NULL, 0));
	ASSERT_EQ(0, kdbus_recv_summary(&r, 0, &s));
	EXPECT_EQ(KDBUS_RECV_RETURN_DROPPED_MSGS, s.recv_return_flags);
	EXPECT_EQ(3, s.dropped_msgs);
	EXPECT_EQ(ID_ADD, s.type);
	for (i = 1; i < 256; i++) {
		ASSERT_EQ(0, kdbus_recv_summary(&r, 0, &s)) TH_LOG("#%d", i);
		EXPECT_EQ(ID_ADD, s.type);
		EXPECT_EQ(0, s.recv_return_flags);
		EXPECT_EQ(0, s.dropped_msgs);
	}
	ASSERT_EQ(0, kdbus_recv_summary(&r, 0, &s));
	EXPECT_EQ(self->a.id, s.src_id);
	EXPECT_EQ(0x1234, s.cookie);
	EXPECT_EQ(-EAGAIN, kdbus_recv_summary(&r, 0, &s));
	EXPECT_EQ(0, s.dropped_msgs);
	kdbus_conn_close(&r);
}

TEST_F(notify, small_pool_loses_notifications_and_counts_them)
{
	struct kdbus_msg_summary s;
	uint64_t dropped = 0;
	struct kdbus_conn r;
	char name[32];
	int i, got = 0, ret;

	ASSERT_EQ(0, kdbus_conn_open(&r, self->tb.path, 0, SMALL));
	ASSERT_EQ(0, kdbus_match_add(r.fd, 1, 0, KDBUS_RULE_NAME_ADD(0, ANY, NULL)));
	for (i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "org.kdbus.t.small%02d", i);
		ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, name, 0, NULL));
	}
	/* The pool is readable though the queue might be empty. */
	EXPECT_TRUE(kdbus_poll(r.fd, POLLIN, 0) & POLLIN);
	while ((ret = kdbus_recv_summary(&r, 0, &s)) == 0) {
		EXPECT_EQ(NAME_ADD, s.type);
		dropped += s.dropped_msgs;
		got++;
	}
	EXPECT_EQ(-EAGAIN, ret);
	dropped += s.dropped_msgs;
	EXPECT_LE(1, got);
	EXPECT_LE(1, dropped);
	EXPECT_EQ(20, got + dropped);
	/* Reported once, then reset. */
	EXPECT_EQ(-EAGAIN, kdbus_recv_summary(&r, 0, &s));
	EXPECT_EQ(0, s.dropped_msgs);
	EXPECT_EQ(0, s.recv_return_flags);
	kdbus_conn_close(&r);
}

/* ------------------------------------------------------------ churn */

#define CHURNERS	4
#define CYCLES		24	/* per churner and round: < 256 notifications */
#define ROUNDS		5
#define SHARED		"org.kdbus.t.shared"

struct churner {
	int fd;
	int idx;
	int round;
};

/* Acquire and release an own name and a shared, contended one. */
static int churn(void *arg)
{
	struct churner *ch = arg;
	char own[64];
	int i, ret;

	snprintf(own, sizeof(own), "org.kdbus.t.c%d", ch->idx);
	for (i = 0; i < CYCLES; i++) {
		if (i % 2 == 0) {
			ret = kdbus_name_acquire(ch->fd, own, 0, NULL);
			KDBUS_CHILD_CHECK(ret == 0);
			ret = kdbus_name_release(ch->fd, own);
			KDBUS_CHILD_CHECK(ret == 0);
		} else {
			ret = kdbus_name_acquire(ch->fd, SHARED, QUEUE | ALLOW |
						 (i % 4 == 1 ? REPLACE : 0), NULL);
			KDBUS_CHILD_CHECK(ret == 0);
			ret = kdbus_name_release(ch->fd, SHARED);
			/* Everybody queues: we are owner or waiter. */
			KDBUS_CHILD_CHECK(ret == 0);
		}
	}
	return 0;
}

TEST_F(notify, concurrent_name_churn_no_lost_or_duplicated_notifications)
{
	struct kdbus_conn c[CHURNERS];
	struct churner ch[CHURNERS];
	uint64_t shared_owner = 0;
	int own_add[CHURNERS] = { 0 }, own_remove[CHURNERS] = { 0 };
	int became[CHURNERS] = { 0 }, lost[CHURNERS] = { 0 };
	bool own_held[CHURNERS] = { false };
	pid_t pid[CHURNERS];
	int i, round, n = 0, bad = 0;

	ASSERT_EQ(0, kdbus_match_remove(self->obs.fd, 1));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_NAME_ADD(ANY, ANY, NULL)));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_NAME_CHANGE(ANY, ANY, NULL)));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_NAME_REMOVE(ANY, ANY, NULL)));
	for (i = 0; i < CHURNERS; i++)
		ASSERT_EQ(0, kdbus_conn_open(&c[i], self->tb.path, 0, SMALL));
	kdbus_drain(&self->obs);

	for (round = 0; round < ROUNDS; round++) {
		struct kdbus_msg_summary s;
		int ret;

		for (i = 0; i < CHURNERS; i++) {
			ch[i] = (struct churner){ .fd = c[i].fd, .idx = i, .round = round };
			pid[i] = kdbus_spawn(churn, &ch[i]);
			ASSERT_LT(0, pid[i]);
		}
		for (i = 0; i < CHURNERS; i++)
			EXPECT_EQ(0, kdbus_wait(pid[i])) TH_LOG("round %d churner %d", round, i);

		while ((ret = kdbus_recv_summary(&self->obs, 0, &s)) == 0) {
			int who = -1, j;
			const char *d = kdbus_notify_defect(&s, false);

			EXPECT_EQ(NULL, d) TH_LOG("%s", d);
			EXPECT_EQ(0, s.dropped_msgs);
			n++;
			if (!strcmp(s.name, SHARED)) {
				/* Replay the chain: old owner = previous new owner. */
				if (s.old_id != shared_owner)
					bad++;
				if ((s.type == NAME_ADD) != (s.old_id == 0) ||
				    (s.type == NAME_REMOVE) != (s.new_id == 0))
					bad++;
				shared_owner = s.new_id;
				for (j = 0; j < CHURNERS; j++) {
					if (s.new_id == c[j].id)
						became[j]++;
					if (s.old_id == c[j].id)
						lost[j]++;
				}
				continue;
			}
			if (sscanf(s.name, "org.kdbus.t.c%d", &who) != 1 || who < 0 ||
			    who >= CHURNERS) {
				bad++;
				continue;
			}
			if (s.type == NAME_ADD && !own_held[who] && s.new_id == c[who].id &&
			    s.old_id == 0) {
				own_held[who] = true;
				own_add[who]++;
			} else if (s.type == NAME_REMOVE && own_held[who] &&
				   s.old_id == c[who].id && s.new_id == 0) {
				own_held[who] = false;
				own_remove[who]++;
			} else {
				bad++;
			}
		}
		EXPECT_EQ(-EAGAIN, ret);
		EXPECT_EQ(0, s.dropped_msgs) TH_LOG("round %d", round);
		EXPECT_EQ(0, shared_owner) TH_LOG("round %d", round);
	}
	EXPECT_EQ(0, bad);
	for (i = 0; i < CHURNERS; i++) {
		EXPECT_EQ(ROUNDS * CYCLES / 2, own_add[i]) TH_LOG("churner %d", i);
		EXPECT_EQ(ROUNDS * CYCLES / 2, own_remove[i]) TH_LOG("churner %d", i);
		EXPECT_EQ(became[i], lost[i]) TH_LOG("churner %d", i);
		EXPECT_LE(1, became[i]) TH_LOG("churner %d", i);
	}
	TH_LOG("%d notifications", n);
	for (i = 0; i < CHURNERS; i++)
		kdbus_conn_close(&c[i]);
}

TEST_HARNESS_MAIN
