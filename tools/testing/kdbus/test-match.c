// SPDX-License-Identifier: GPL-2.0
/*
 * Match rules (names-match-policy-metadata.md §2, checklist §7 "MATCH_ADD /
 * MATCH_REMOVE"): MATCH_ADD and MATCH_REMOVE argument checking and errno,
 * NEGOTIATE, the 256-entry limit, REPLACE and cookies, and the evaluation
 * of each rule kind (§2.4) against kernel notifications (NAME_*, ID_*) and
 * user broadcasts (ID, NAME rules; bloom masks are in test-broadcast.c).
 *
 * The notifications themselves (layout, emission points, ordering, lost
 * counter) are in test-notify.c; broadcasts, bloom evaluation and unicast
 * signals in test-broadcast.c.
 *
 * Monitors (they receive every notification without matches) are in
 * test-monitor.c; moving activator-queued messages on hand-over is in
 * test-activator.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

#define POOL	(256 * 1024)
#define N1	"org.kdbus.t.m1"
#define N2	"org.kdbus.t.m2"
#define ACT	"org.kdbus.t.act"
#define ANY	KDBUS_MATCH_ID_ANY
#define BLOOM	64		/* bus bloom size made by kdbus_create_bus() */

#define NAME_ADD	KDBUS_ITEM_NAME_ADD
#define NAME_REMOVE	KDBUS_ITEM_NAME_REMOVE
#define NAME_CHANGE	KDBUS_ITEM_NAME_CHANGE
#define ID_ADD		KDBUS_ITEM_ID_ADD
#define ID_REMOVE	KDBUS_ITEM_ID_REMOVE

FIXTURE(match) {
	struct kdbus_test_bus tb;	/* domain, bus, owner, path, param */
	struct kdbus_conn a;	/* the subject: acquires names, broadcasts */
	struct kdbus_conn obs;	/* the observer: installs matches */
};

FIXTURE_SETUP(match)
{
	self->a.fd = self->obs.fd = -1;
	ASSERT_EQ(0, kdbus_test_bus_setup(&self->tb, "ma", false));
	ASSERT_EQ(0, kdbus_conn_open(&self->a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&self->obs, self->tb.path, 0, POOL));
}

FIXTURE_TEARDOWN(match)
{
	kdbus_conn_close(&self->a);
	kdbus_conn_close(&self->obs);
	kdbus_test_bus_teardown(&self->tb);
}

/* Next message at @c, or an ASSERT failure. */
#define NEXT(c, s)	ASSERT_EQ(0, kdbus_recv_summary((c), 0, (s)))
/* @s is the NAME_* / ID_* notification described; logs what it got. */
#define EXPECT_IS_NAME(s, t_, o_, n_, name_)					\
	EXPECT_TRUE(kdbus_is_name_notify(&(s), t_, o_, n_, name_))		\
		TH_LOG("got %s %llu -> %llu \"%s\" (src %llu cookie %llu)",	\
		       kdbus_item_type_name((s).type),				\
		       (unsigned long long)(s).old_id,				\
		       (unsigned long long)(s).new_id, (s).name,		\
		       (unsigned long long)(s).src_id,				\
		       (unsigned long long)(s).cookie)
#define EXPECT_IS_ID(s, t_, i_)							\
	EXPECT_TRUE(kdbus_is_id_notify(&(s), t_, i_))				\
		TH_LOG("got %s %llu (src %llu cookie %llu)",			\
		       kdbus_item_type_name((s).type),				\
		       (unsigned long long)(s).id,				\
		       (unsigned long long)(s).src_id,				\
		       (unsigned long long)(s).cookie)
/* Nothing (more) queued at @c. */
#define EMPTY(c)	EXPECT_EQ(1, kdbus_queue_empty(c))

/* Open and close a connection: one ID_ADD and one ID_REMOVE; its id. */
static uint64_t churn_id(const char *path)
{
	struct kdbus_conn c;

	if (kdbus_conn_open(&c, path, 0, KDBUS_TEST_POOL_SIZE) < 0)
		return 0;
	kdbus_conn_close(&c);
	return c.id;
}

/* ------------------------------------------------------------ MATCH_ADD */

TEST_F(match, negotiate_reports_0x1_and_installs_nothing)
{
	struct kdbus_builder b;
	uint64_t flags = 0;

	kdbus_match_init(&b, 7);
	kdbus_b_id_change(&b, ID_ADD, ANY);
	ASSERT_EQ(0, kdbus_match_add_b(self->obs.fd, &b, KDBUS_FLAG_NEGOTIATE, &flags));
	EXPECT_EQ(KDBUS_MATCH_REPLACE, flags);
	ASSERT_NE(0, churn_id(self->tb.path));
	EMPTY(&self->obs);
	EXPECT_EQ(-EBADSLT, kdbus_match_remove(self->obs.fd, 7));
	/* MATCH_REMOVE negotiates flags 0. */
	kdbus_match_init(&b, 7);
	ASSERT_EQ(0, kdbus_match_remove_b(self->obs.fd, &b, KDBUS_FLAG_NEGOTIATE));
	EXPECT_EQ(0, ((struct kdbus_cmd_match *)kdbus_b_cmd(&b))->flags);
}

TEST_F(match, negotiate_item_without_flag_is_not_a_rule)
{
	static const uint64_t types[] = { KDBUS_ITEM_ID_ADD, KDBUS_ITEM_BLOOM_MASK };
	struct kdbus_msg_summary s;
	struct kdbus_builder b;
	uint64_t id;

	kdbus_match_init(&b, 8);
	kdbus_b_negotiate(&b, types, 2);
	kdbus_b_id_change(&b, ID_ADD, ANY);
	ASSERT_EQ(0, kdbus_match_add_b(self->obs.fd, &b, 0, NULL));
	id = churn_id(self->tb.path);
	ASSERT_NE(0, id);
	NEXT(&self->obs, &s);
	EXPECT_IS_ID(s, ID_ADD, id);
	EMPTY(&self->obs);
	/* Freeing the entry must work (the reference crashes here, §6). */
	EXPECT_EQ(0, kdbus_match_remove(self->obs.fd, 8));
	ASSERT_NE(0, churn_id(self->tb.path));
	EMPTY(&self->obs);
	/* Only a NEGOTIATE item: an entry without rules, matching everything. */
	kdbus_match_init(&b, 9);
	kdbus_b_negotiate(&b, types, 1);
	ASSERT_EQ(0, kdbus_match_add_b(self->obs.fd, &b, 0, NULL));
	id = churn_id(self->tb.path);
	NEXT(&self->obs, &s);
	EXPECT_IS_ID(s, ID_ADD, id);
	NEXT(&self->obs, &s);
	EXPECT_IS_ID(s, ID_REMOVE, id);
	EMPTY(&self->obs);
	EXPECT_EQ(0, kdbus_match_remove(self->obs.fd, 9));
}

TEST_F(match, bloom_mask_not_multiple_of_bloom_size_or_empty_edom)
{
	static const size_t bad[] = { 0, 8, 56, 72, 120, 200 };
	struct kdbus_builder b;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kdbus_match_init(&b, 1);
		kdbus_b_bloom_mask(&b, NULL, bad[i]);
		EXPECT_EQ(-EDOM, kdbus_match_add_b(self->obs.fd, &b, 0, NULL))
			TH_LOG("mask of %zu bytes", bad[i]);
	}
	EXPECT_EQ(-EBADSLT, kdbus_match_remove(self->obs.fd, 1));
	/* One and three generations are fine. */
	EXPECT_EQ(0, kdbus_match_add(self->obs.fd, 2, 0, KDBUS_RULE_BLOOM(NULL, BLOOM)));
	EXPECT_EQ(0, kdbus_match_add(self->obs.fd, 3, 0, KDBUS_RULE_BLOOM(NULL, 3 * BLOOM)));
}

TEST_F(match, failing_item_leaves_database_unchanged)
{
	/* A valid ID_ADD rule followed by a bad mask: nothing is installed. */
	EXPECT_EQ(-EDOM, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_ID_ADD(ANY),
					 KDBUS_RULE_BLOOM(NULL, 8)));
	EXPECT_EQ(-EINVAL, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_ID_ADD(ANY),
					   KDBUS_RULE_NAME("foo")));
	ASSERT_NE(0, churn_id(self->tb.path));
	EMPTY(&self->obs);
	EXPECT_EQ(-EBADSLT, kdbus_match_remove(self->obs.fd, 1));
	/* REPLACE with a failing item does not remove the old entry either. */
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 2, 0, KDBUS_RULE_ID_ADD(ANY)));
	EXPECT_EQ(-EDOM, kdbus_match_add(self->obs.fd, 2, KDBUS_MATCH_REPLACE,
					 KDBUS_RULE_BLOOM(NULL, 8)));
	ASSERT_NE(0, churn_id(self->tb.path));
	EXPECT_EQ(0, kdbus_queue_empty(&self->obs));
	EMPTY(&self->obs);
}

TEST_F(match, invalid_name_in_name_rule_einval)
{
	static const char * const bad[] = { "foo", "foo.*", ":1.42", ".a.b", "a..b", "1a.b", "" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(-EINVAL, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_NAME(bad[i])))
			TH_LOG("name #%zu", i);
	EXPECT_EQ(-EBADSLT, kdbus_match_remove(self->obs.fd, 1));
	EXPECT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_NAME("a.b")));
}

TEST_F(match, malformed_notification_rules_einval)
{
	struct kdbus_notify_name_change nc = { .old_id = { 0, 0 }, .new_id = { ANY, 0 } };
	uint8_t buf[64];
	struct kdbus_builder b;
	uint64_t id = ANY;

	/* ID_ADD / ID_REMOVE payload not 16 bytes. */
	kdbus_match_init(&b, 1);
	kdbus_b_item(&b, ID_ADD, &id, 8);
	EXPECT_EQ(-EINVAL, kdbus_match_add_b(self->obs.fd, &b, 0, NULL));
	memset(buf, 0, sizeof(buf));
	memcpy(buf, &id, 8);
	kdbus_match_init(&b, 1);
	kdbus_b_item(&b, ID_ADD, buf, 24);
	EXPECT_EQ(-EINVAL, kdbus_match_add_b(self->obs.fd, &b, 0, NULL));
	kdbus_match_init(&b, 1);
	kdbus_b_item(&b, ID_REMOVE, buf, 8);
	EXPECT_EQ(-EINVAL, kdbus_match_add_b(self->obs.fd, &b, 0, NULL));
	/* NAME_* payload below 32 bytes. */
	kdbus_match_init(&b, 1);
	kdbus_b_item(&b, NAME_ADD, &nc, 24);
	EXPECT_EQ(-EINVAL, kdbus_match_add_b(self->obs.fd, &b, 0, NULL));
	/* NAME_* with a name that is not NUL-terminated. */
	memcpy(buf, &nc, sizeof(nc));
	memcpy(buf + 32, "a.bcdefg", 8);
	kdbus_match_init(&b, 1);
	kdbus_b_item(&b, NAME_CHANGE, buf, 40);
	EXPECT_EQ(-EINVAL, kdbus_match_add_b(self->obs.fd, &b, 0, NULL));
	/* ... or with bytes after its NUL. */
	memcpy(buf + 32, "a.b\0\0\0\0\0", 8);
	kdbus_match_init(&b, 1);
	kdbus_b_item(&b, NAME_REMOVE, buf, 40);
	EXPECT_EQ(-EINVAL, kdbus_match_add_b(self->obs.fd, &b, 0, NULL));
	/* An ID rule whose payload is not a u64. */
	kdbus_match_init(&b, 1);
	kdbus_b_item(&b, KDBUS_ITEM_ID, buf, 16);
	EXPECT_EQ(-EINVAL, kdbus_match_add_b(self->obs.fd, &b, 0, NULL));
	EXPECT_EQ(-EBADSLT, kdbus_match_remove(self->obs.fd, 1));
	/* Well-formed versions succeed: a 36-byte NAME_REMOVE payload. */
	kdbus_match_init(&b, 1);
	kdbus_b_item(&b, NAME_REMOVE, buf, 36);
	EXPECT_EQ(0, kdbus_match_add_b(self->obs.fd, &b, 0, NULL));
}

TEST_F(match, unknown_item_or_flag_einval)
{
	struct kdbus_builder b;

	kdbus_match_init(&b, 1);
	kdbus_b_u64(&b, 0x4242, 0);
	EXPECT_EQ(-EINVAL, kdbus_match_add_b(self->obs.fd, &b, 0, NULL));
	kdbus_match_init(&b, 1);
	kdbus_b_str(&b, KDBUS_ITEM_DST_NAME, "a.b");
	EXPECT_EQ(-EINVAL, kdbus_match_add_b(self->obs.fd, &b, 0, NULL));
	kdbus_match_init(&b, 1);
	EXPECT_EQ(-EINVAL, kdbus_match_add_b(self->obs.fd, &b, 2, NULL));
	EXPECT_EQ(-EBADSLT, kdbus_match_remove(self->obs.fd, 1));
}

TEST_F(match, limit_256_entries_emfile_replace_at_limit_ok)
{
	uint64_t i;

	for (i = 0; i < 256; i++)
		ASSERT_EQ(0, kdbus_match_add(self->obs.fd, i, 0, KDBUS_RULE_ID_ADD(0x77777777)))
			TH_LOG("entry %llu", (unsigned long long)i);
	EXPECT_EQ(-EMFILE, kdbus_match_add(self->obs.fd, 1000, 0, KDBUS_RULE_ID_ADD(ANY)));
	/* REPLACE of an existing cookie frees its slot first. */
	EXPECT_EQ(0, kdbus_match_add(self->obs.fd, 5, KDBUS_MATCH_REPLACE,
				     KDBUS_RULE_ID_ADD(ANY)));
	/* REPLACE of an unknown cookie removes nothing. */
	EXPECT_EQ(-EMFILE, kdbus_match_add(self->obs.fd, 1001, KDBUS_MATCH_REPLACE,
					   KDBUS_RULE_ID_ADD(ANY)));
	EXPECT_EQ(0, kdbus_match_remove(self->obs.fd, 6));
	EXPECT_EQ(0, kdbus_match_add(self->obs.fd, 1002, 0));
	EXPECT_EQ(-EMFILE, kdbus_match_add(self->obs.fd, 1003, 0));
}

TEST_F(match, replace_removes_all_entries_with_the_cookie)
{
	struct kdbus_msg_summary s;
	uint64_t id;

	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_ID_ADD(ANY)));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_ID_REMOVE(ANY)));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 2, 0, KDBUS_RULE_NAME_ADD(0, ANY, N1)));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, KDBUS_MATCH_REPLACE,
				     KDBUS_RULE_NAME_ADD(0, ANY, N2)));
	ASSERT_NE(0, churn_id(self->tb.path));
	EMPTY(&self->obs);
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N2, 0, NULL));
	NEXT(&self->obs, &s);
	EXPECT_IS_NAME(s, NAME_ADD, 0, self->a.id, N1);
	NEXT(&self->obs, &s);
	EXPECT_IS_NAME(s, NAME_ADD, 0, self->a.id, N2);
	EMPTY(&self->obs);
	/* REPLACE with a cookie nobody uses is not an error. */
	EXPECT_EQ(0, kdbus_match_add(self->obs.fd, 3, KDBUS_MATCH_REPLACE,
				     KDBUS_RULE_ID_ADD(ANY)));
	id = churn_id(self->tb.path);
	NEXT(&self->obs, &s);
	EXPECT_IS_ID(s, ID_ADD, id);
	EMPTY(&self->obs);
}

TEST_F(match, same_cookie_twice_both_installed_one_remove_removes_both)
{
	struct kdbus_msg_summary s;
	uint64_t id;

	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 4, 0, KDBUS_RULE_ID_ADD(ANY)));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 4, 0, KDBUS_RULE_ID_REMOVE(ANY)));
	id = churn_id(self->tb.path);
	NEXT(&self->obs, &s);
	EXPECT_IS_ID(s, ID_ADD, id);
	NEXT(&self->obs, &s);
	EXPECT_IS_ID(s, ID_REMOVE, id);
	EMPTY(&self->obs);
	EXPECT_EQ(0, kdbus_match_remove(self->obs.fd, 4));
	EXPECT_EQ(-EBADSLT, kdbus_match_remove(self->obs.fd, 4));
	ASSERT_NE(0, churn_id(self->tb.path));
	EMPTY(&self->obs);
}

TEST_F(match, remove_unknown_cookie_ebadslt)
{
	EXPECT_EQ(-EBADSLT, kdbus_match_remove(self->obs.fd, 0));
	EXPECT_EQ(-EBADSLT, kdbus_match_remove(self->obs.fd, 12345));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 12345, 0));
	EXPECT_EQ(-EBADSLT, kdbus_match_remove(self->obs.fd, 12346));
	EXPECT_EQ(0, kdbus_match_remove(self->obs.fd, 12345));
}

TEST_F(match, remove_with_rule_item_or_flag_einval)
{
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 5, 0));
	kdbus_match_init(&b, 5);
	kdbus_b_id_change(&b, ID_ADD, ANY);
	EXPECT_EQ(-EINVAL, kdbus_match_remove_b(self->obs.fd, &b, 0));
	kdbus_match_init(&b, 5);
	EXPECT_EQ(-EINVAL, kdbus_match_remove_b(self->obs.fd, &b, KDBUS_MATCH_REPLACE));
	/* The entry is still there. */
	EXPECT_EQ(0, kdbus_match_remove(self->obs.fd, 5));
}

TEST_F(match, special_connections_eopnotsupp)
{
	struct kdbus_conn act, ph, mon;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_conn_open_name(&ph, self->tb.path, KDBUS_HELLO_POLICY_HOLDER,
					  "org.kdbus.t.ph", POOL));
	ASSERT_EQ(0, kdbus_conn_open(&mon, self->tb.path, KDBUS_HELLO_MONITOR, POOL));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_match_add(act.fd, 1, 0)) TH_LOG("activator");
	EXPECT_EQ(-EOPNOTSUPP, kdbus_match_add(ph.fd, 1, 0)) TH_LOG("policy holder");
	EXPECT_EQ(-EOPNOTSUPP, kdbus_match_add(mon.fd, 1, 0)) TH_LOG("monitor");
	/* Before parsing: even a malformed command. */
	EXPECT_EQ(-EOPNOTSUPP, kdbus_match_add(act.fd, 1, 0x4242));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_match_remove(act.fd, 1)) TH_LOG("activator");
	EXPECT_EQ(-EOPNOTSUPP, kdbus_match_remove(ph.fd, 1)) TH_LOG("policy holder");
	EXPECT_EQ(-EOPNOTSUPP, kdbus_match_remove(mon.fd, 1)) TH_LOG("monitor");
	kdbus_conn_close(&act);
	kdbus_conn_close(&ph);
	kdbus_conn_close(&mon);
}

/* --------------------------------------------- evaluation: notifications */

TEST_F(match, no_entries_no_notifications_and_no_broadcasts)
{
	ASSERT_NE(0, churn_id(self->tb.path));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_release(self->a.fd, N1));
	ASSERT_EQ(0, kdbus_broadcast(&self->a, 1, NULL));
	EMPTY(&self->obs);
}

TEST_F(match, entry_without_rules_receives_everything)
{
	struct kdbus_msg_summary s;
	struct kdbus_conn c;

	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0));
	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N1, KDBUS_NAME_ALLOW_REPLACEMENT, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1, KDBUS_NAME_REPLACE_EXISTING, NULL));
	ASSERT_EQ(0, kdbus_broadcast(&self->a, 0x99, NULL));
	ASSERT_EQ(0, kdbus_name_release(self->a.fd, N1));
	kdbus_conn_close(&c);

	NEXT(&self->obs, &s);
	EXPECT_IS_ID(s, ID_ADD, c.id);
	NEXT(&self->obs, &s);
	EXPECT_IS_NAME(s, NAME_ADD, 0, c.id, N1);
	NEXT(&self->obs, &s);
	EXPECT_IS_NAME(s, NAME_CHANGE, c.id, self->a.id, N1);
	NEXT(&self->obs, &s);
	EXPECT_EQ(self->a.id, s.src_id);
	EXPECT_EQ(0x99, s.cookie);
	NEXT(&self->obs, &s);
	EXPECT_IS_NAME(s, NAME_REMOVE, self->a.id, 0, N1);
	NEXT(&self->obs, &s);
	EXPECT_IS_ID(s, ID_REMOVE, c.id);
	EMPTY(&self->obs);
}

TEST_F(match, name_add_rule_with_old_0_or_any_matches_every_name_add)
{
	struct kdbus_msg_summary s;
	struct kdbus_conn o2;
	uint64_t old;

	ASSERT_EQ(0, kdbus_conn_open(&o2, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_NAME_ADD(0, ANY, NULL)));
	ASSERT_EQ(0, kdbus_match_add(o2.fd, 1, 0, KDBUS_RULE_NAME_ADD(ANY, ANY, NULL)));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N2, 0, NULL));
	ASSERT_EQ(0, kdbus_name_release(self->a.fd, N1));
	ASSERT_NE(0, churn_id(self->tb.path));
	for (old = 0; old < 2; old++) {
		struct kdbus_conn *c = old ? &o2 : &self->obs;

		NEXT(c, &s);
		EXPECT_IS_NAME(s, NAME_ADD, 0, self->a.id, N1);
		NEXT(c, &s);
		EXPECT_IS_NAME(s, NAME_ADD, 0, self->a.id, N2);
		EMPTY(c);
	}
	kdbus_conn_close(&o2);
}

TEST_F(match, zero_filled_name_add_rule_matches_nothing)
{
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_NAME_ADD(0, 0, NULL)));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 2, 0, KDBUS_RULE_NAME_REMOVE(0, 0, NULL)));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 3, 0, KDBUS_RULE_ID_ADD(0)));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_release(self->a.fd, N1));
	ASSERT_NE(0, churn_id(self->tb.path));
	EMPTY(&self->obs);
}

TEST_F(match, name_rule_with_a_name_matches_only_that_name)
{
	struct kdbus_msg_summary s;
	struct kdbus_conn c;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_NAME_CHANGE(ANY, ANY, N2)));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 2, 0, KDBUS_RULE_NAME_ADD(0, ANY, N1)));
	/* A prefix or extension of a name is another name. */
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 3, 0,
				     KDBUS_RULE_NAME_ADD(0, ANY, "org.kdbus.t")));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1 ".x", 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1, KDBUS_NAME_ALLOW_REPLACEMENT, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N2, KDBUS_NAME_ALLOW_REPLACEMENT, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N1, KDBUS_NAME_REPLACE_EXISTING, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N2, KDBUS_NAME_REPLACE_EXISTING, NULL));
	NEXT(&self->obs, &s);
	EXPECT_IS_NAME(s, NAME_ADD, 0, self->a.id, N1);
	NEXT(&self->obs, &s);
	EXPECT_IS_NAME(s, NAME_CHANGE, self->a.id, c.id, N2);
	EMPTY(&self->obs);
	kdbus_conn_close(&c);
	EMPTY(&self->obs);
}

TEST_F(match, name_remove_rule_with_old_id_matches_only_that_owner)
{
	struct kdbus_msg_summary s;
	struct kdbus_conn c;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0,
				     KDBUS_RULE_NAME_REMOVE(self->a.id, 0, NULL)));
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_release(c.fd, N1));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N2, 0, NULL));
	ASSERT_EQ(0, kdbus_name_release(self->a.fd, N2));
	NEXT(&self->obs, &s);
	EXPECT_IS_NAME(s, NAME_REMOVE, self->a.id, 0, N2);
	EMPTY(&self->obs);
	kdbus_conn_close(&c);
}

TEST_F(match, name_change_rule_with_old_or_new_id)
{
	struct kdbus_msg_summary s;
	struct kdbus_conn c, o2;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&o2, self->tb.path, 0, POOL));
	/* obs: changes away from a; o2: changes to a. */
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0,
				     KDBUS_RULE_NAME_CHANGE(self->a.id, ANY, NULL)));
	ASSERT_EQ(0, kdbus_match_add(o2.fd, 1, 0, KDBUS_RULE_NAME_CHANGE(ANY, self->a.id, NULL)));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1, KDBUS_NAME_ALLOW_REPLACEMENT, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N1, KDBUS_NAME_REPLACE_EXISTING |
					KDBUS_NAME_ALLOW_REPLACEMENT, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1, KDBUS_NAME_REPLACE_EXISTING, NULL));
	NEXT(&self->obs, &s);
	EXPECT_IS_NAME(s, NAME_CHANGE, self->a.id, c.id, N1);
	EMPTY(&self->obs);
	NEXT(&o2, &s);
	EXPECT_IS_NAME(s, NAME_CHANGE, c.id, self->a.id, N1);
	EMPTY(&o2);
	kdbus_conn_close(&c);
	kdbus_conn_close(&o2);
}

TEST_F(match, id_add_rule_any_or_specific)
{
	struct kdbus_msg_summary s;
	struct kdbus_conn o2, c;
	uint64_t id1, id2;

	ASSERT_EQ(0, kdbus_conn_open(&o2, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_ID_ADD(ANY)));
	id1 = churn_id(self->tb.path);
	ASSERT_NE(0, id1);
	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	id2 = c.id;
	ASSERT_EQ(0, kdbus_match_add(o2.fd, 1, 0, KDBUS_RULE_ID_ADD(id2)));
	kdbus_conn_close(&c);
	NEXT(&self->obs, &s);
	EXPECT_IS_ID(s, ID_ADD, id1);
	NEXT(&self->obs, &s);
	EXPECT_IS_ID(s, ID_ADD, id2);
	EMPTY(&self->obs);
	/* o2's rule names c, installed after c's ID_ADD: nothing matches it
	 * (ids are never reused). */
	ASSERT_NE(0, churn_id(self->tb.path));
	EMPTY(&o2);
	kdbus_conn_close(&o2);
}

TEST_F(match, id_remove_rule_for_specific_id_fires_on_close)
{
	struct kdbus_msg_summary s;
	struct kdbus_conn c, d;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&d, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_ID_REMOVE(c.id)));
	kdbus_conn_close(&d);
	EMPTY(&self->obs);
	kdbus_conn_close(&c);
	NEXT(&self->obs, &s);
	EXPECT_IS_ID(s, ID_REMOVE, c.id);
	EMPTY(&self->obs);
	/* ID_REMOVE(ANY) catches everybody, BYEBYE included. */
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 2, 0, KDBUS_RULE_ID_REMOVE(ANY)));
	ASSERT_EQ(0, kdbus_byebye(self->a.fd));
	NEXT(&self->obs, &s);
	EXPECT_IS_ID(s, ID_REMOVE, self->a.id);
	EMPTY(&self->obs);
}

TEST_F(match, rules_of_different_types_in_one_entry_match_nothing)
{
	struct kdbus_msg_summary s;
	uint64_t id;

	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_NAME_ADD(0, ANY, NULL),
				     KDBUS_RULE_NAME_REMOVE(ANY, 0, NULL)));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 2, 0, KDBUS_RULE_ID_ADD(ANY),
				     KDBUS_RULE_NAME_ADD(ANY, ANY, NULL)));
	/* A user rule and a notification rule: neither kind matches. */
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 3, 0, KDBUS_RULE_ID(ANY),
				     KDBUS_RULE_ID_REMOVE(ANY)));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_release(self->a.fd, N1));
	ASSERT_NE(0, churn_id(self->tb.path));
	ASSERT_EQ(0, kdbus_broadcast(&self->a, 1, NULL));
	EMPTY(&self->obs);
	/* Two rules of the same type are ANDed. */
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 4, 0, KDBUS_RULE_ID_REMOVE(ANY),
				     KDBUS_RULE_ID_REMOVE(self->a.id)));
	id = churn_id(self->tb.path);
	ASSERT_NE(0, id);
	EMPTY(&self->obs);
	kdbus_conn_close(&self->a);
	self->a.fd = -1;
	NEXT(&self->obs, &s);
	EXPECT_IS_ID(s, ID_REMOVE, self->a.id);
	EMPTY(&self->obs);
}

TEST_F(match, user_rules_never_match_notifications)
{
	struct kdbus_msg_summary s;

	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_BLOOM(NULL, BLOOM)));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 2, 0, KDBUS_RULE_ID(ANY)));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 3, 0, KDBUS_RULE_ID(KDBUS_SRC_ID_KERNEL)));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 4, 0, KDBUS_RULE_NAME(N1)));
	ASSERT_EQ(0, kdbus_name_release(self->a.fd, N1));
	ASSERT_NE(0, churn_id(self->tb.path));
	EMPTY(&self->obs);
	/* ...but match user broadcasts (sanity check of the setup). */
	ASSERT_EQ(0, kdbus_broadcast(&self->a, 5, NULL));
	NEXT(&self->obs, &s);
	EXPECT_EQ(5, s.cookie);
	EMPTY(&self->obs);
}

TEST_F(match, removed_entry_stops_delivery)
{
	struct kdbus_msg_summary s;
	uint64_t id;

	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_ID_ADD(ANY)));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 2, 0, KDBUS_RULE_ID_REMOVE(ANY)));
	ASSERT_EQ(0, kdbus_match_remove(self->obs.fd, 1));
	id = churn_id(self->tb.path);
	NEXT(&self->obs, &s);
	EXPECT_IS_ID(s, ID_REMOVE, id);
	EMPTY(&self->obs);
}

/* ------------------------------------------------ evaluation: broadcasts */

TEST_F(match, id_rule_matches_broadcasts_of_that_sender)
{
	struct kdbus_msg_summary s;
	struct kdbus_conn c, o2, o3;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&o2, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&o3, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_ID(self->a.id)));
	ASSERT_EQ(0, kdbus_match_add(o2.fd, 1, 0, KDBUS_RULE_ID(ANY)));
	ASSERT_EQ(0, kdbus_match_add(o3.fd, 1, 0, KDBUS_RULE_ID(0x77777777)));
	ASSERT_EQ(0, kdbus_broadcast(&self->a, 1, NULL));
	ASSERT_EQ(0, kdbus_broadcast(&c, 2, NULL));
	NEXT(&self->obs, &s);
	EXPECT_EQ(1, s.cookie);
	EXPECT_EQ(self->a.id, s.src_id);
	EMPTY(&self->obs);
	NEXT(&o2, &s);
	EXPECT_EQ(1, s.cookie);
	NEXT(&o2, &s);
	EXPECT_EQ(2, s.cookie);
	EXPECT_EQ(c.id, s.src_id);
	EMPTY(&o2);
	EMPTY(&o3);
	kdbus_conn_close(&c);
	kdbus_conn_close(&o2);
	kdbus_conn_close(&o3);
}

TEST_F(match, name_rule_matches_only_while_sender_owns_the_name)
{
	struct kdbus_msg_summary s;
	struct kdbus_conn c;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	/* The name rule is not checked against policy or existence. */
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_NAME(N1)));
	ASSERT_EQ(0, kdbus_broadcast(&self->a, 1, NULL));	/* no owner */
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1, KDBUS_NAME_QUEUE, NULL));
	ASSERT_EQ(0, kdbus_broadcast(&self->a, 2, NULL));	/* queued only */
	ASSERT_EQ(0, kdbus_broadcast(&c, 3, NULL));		/* owner */
	ASSERT_EQ(0, kdbus_name_release(c.fd, N1));		/* a promoted */
	ASSERT_EQ(0, kdbus_broadcast(&self->a, 4, NULL));
	ASSERT_EQ(0, kdbus_broadcast(&c, 5, NULL));
	ASSERT_EQ(0, kdbus_name_release(self->a.fd, N1));
	ASSERT_EQ(0, kdbus_broadcast(&self->a, 6, NULL));
	NEXT(&self->obs, &s);
	EXPECT_EQ(3, s.cookie);
	EXPECT_EQ(c.id, s.src_id);
	NEXT(&self->obs, &s);
	EXPECT_EQ(4, s.cookie);
	EXPECT_EQ(self->a.id, s.src_id);
	EMPTY(&self->obs);
	kdbus_conn_close(&c);
}

TEST_F(match, two_name_rules_in_one_entry_require_both_names)
{
	struct kdbus_msg_summary s;

	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_NAME(N1),
				     KDBUS_RULE_NAME(N2)));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_broadcast(&self->a, 1, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N2, 0, NULL));
	ASSERT_EQ(0, kdbus_broadcast(&self->a, 2, NULL));
	NEXT(&self->obs, &s);
	EXPECT_EQ(2, s.cookie);
	EMPTY(&self->obs);
}

TEST_F(match, two_entries_ored_broadcast_delivered_once)
{
	struct kdbus_msg_summary s;

	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 1, 0, KDBUS_RULE_ID(self->a.id)));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 2, 0, KDBUS_RULE_ID(ANY)));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 2, 0));
	ASSERT_EQ(0, kdbus_broadcast(&self->a, 1, NULL));
	NEXT(&self->obs, &s);
	EXPECT_EQ(1, s.cookie);
	EMPTY(&self->obs);
	/* Also for notifications. */
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 3, 0, KDBUS_RULE_NAME_ADD(0, ANY, NULL)));
	ASSERT_EQ(0, kdbus_match_add(self->obs.fd, 4, 0, KDBUS_RULE_NAME_ADD(ANY, self->a.id, N1)));
	ASSERT_EQ(0, kdbus_name_acquire(self->a.fd, N1, 0, NULL));
	NEXT(&self->obs, &s);
	EXPECT_IS_NAME(s, NAME_ADD, 0, self->a.id, N1);
	EMPTY(&self->obs);
}

TEST_HARNESS_MAIN
