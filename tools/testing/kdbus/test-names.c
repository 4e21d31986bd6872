// SPDX-License-Identifier: GPL-2.0
/*
 * Well-known names (names-match-policy-metadata.md §1, checklist §7 "Name
 * syntax", "NAME_ACQUIRE", "NAME_RELEASE and queue", "Activators", "LIST
 * (names)"; connection-pool.md §8 LIST; message.md §3.2 SEND by name):
 * name syntax, NAME_ACQUIRE's decision table and its errors, the queue,
 * NAME_RELEASE, implicit release at close, activator registration and
 * take-over of the name, the name view of LIST and CONN_INFO, addressing
 * by name, and OWN policy for an unprivileged connection.
 *
 * Ownership is observed through CONN_INFO by name (the owner's id), the
 * OWNED_NAME items of CONN_INFO, and LIST NAMES / QUEUED / ACTIVATORS.
 *
 * Arrives with matches/hand-over (not tested here):
 *  - every NAME_ADD / NAME_CHANGE / NAME_REMOVE and ID_ADD / ID_REMOVE
 *    notification (needs MATCH_ADD), including "names of a closing
 *    connection are notified before its ID_REMOVE";
 *  - moving the messages queued at an activator to the implementer at
 *    take-over, and name-addressed messages back to the activator when the
 *    implementer releases the name or dies;
 *  - re-targeting of reply trackers between activator and implementer
 *    (method call queued at the activator answered by the implementer);
 *  - dropped-message counting of unmovable messages at hand-over (fds to
 *    an implementer without ACCEPT_FD).
 * Covered elsewhere: SEND with an invalid DST_NAME (EINVAL), SEND by name
 * to an activator (queued there, PEEK/RECV) and NO_AUTO_START →
 * EADDRNOTAVAIL for an activator-held name are in test-send.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

#define POOL	(16 * KDBUS_TEST_POOL_SIZE)	/* room for LISTs of 256+ names */
#define N1	"org.kdbus.t.n1"
#define N2	"org.kdbus.t.n2"
#define N3	"org.kdbus.t.n3"
#define N4	"org.kdbus.t.n4"
#define ACT	"org.kdbus.t.act"
#define POISON	0x5a5a5a5a5a5a5a5aULL

#define REPLACE	KDBUS_NAME_REPLACE_EXISTING
#define ALLOW	KDBUS_NAME_ALLOW_REPLACEMENT
#define QUEUE	KDBUS_NAME_QUEUE

#define MAX_RECS 300

FIXTURE(names) {
	struct kdbus_test_bus tb;	/* domain, bus, owner, path, param */
	struct kdbus_conn obs;	/* an observer: CONN_INFO and LIST */
};

FIXTURE_SETUP(names)
{
	self->obs.fd = -1;
	/* OWNED_NAME items of CONN_INFO need NAMES in the module mask. */
	ASSERT_EQ(0, kdbus_test_bus_setup(&self->tb, "nm", true));
	ASSERT_EQ(0, kdbus_conn_open(&self->obs, self->tb.path, 0, POOL));
}

FIXTURE_TEARDOWN(names)
{
	kdbus_conn_close(&self->obs);
	kdbus_test_bus_teardown(&self->tb);
}

/* The id of @name's owner seen from the observer, 0 if there is none. */
static uint64_t owner_of(struct kdbus_conn *obs, const char *name)
{
	uint64_t id = 0;

	return kdbus_name_owner(obs, name, &id) < 0 ? 0 : id;
}

/* The flags @id holds @name with (CONN_INFO OWNED_NAME), or POISON. */
static uint64_t flags_of(struct kdbus_conn *obs, uint64_t id, const char *name)
{
	uint64_t flags = POISON;

	return kdbus_name_flags(obs, id, name, &flags) < 0 ? POISON : flags;
}

/* Number of OWNED_NAME items in CONN_INFO of @id, or -errno. */
static int names_owned(struct kdbus_conn *obs, uint64_t id)
{
	struct kdbus_info *info;
	struct kdbus_item *item;
	int n = 0, ret;

	ret = kdbus_conn_info(obs->fd, obs->pool, id, NULL, KDBUS_ATTACH_NAMES, &info, NULL);
	if (ret < 0)
		return ret;
	KDBUS_ITEM_FOREACH(item, info, items)
		n += item->type == KDBUS_ITEM_OWNED_NAME;
	kdbus_info_free(obs->fd, obs->pool, info);
	return n;
}

/* NAME_ACQUIRE with a prebuilt command; return_flags poisoned first. */
static int acquire_b(int fd, struct kdbus_builder *b, uint64_t flags, uint64_t *rflags)
{
	struct kdbus_cmd *cmd = kdbus_b_cmd(b);
	int ret;

	cmd->flags = flags;
	cmd->return_flags = POISON;
	ret = kdbus_ioctl(fd, KDBUS_CMD_NAME_ACQUIRE, cmd);
	if (rflags)
		*rflags = cmd->return_flags;
	return ret;
}

/* ------------------------------------------------------------ name syntax */

TEST_F(names, valid_names_acquired)
{
	char n255[256], latin[8] = { 'o', 'r', 'g', '.', (char)0xc0, 'x', 0 };
	const char *valid[] = { "a.b", "a-b._c", "-x.y", "_a.-b", "A.B9.c-d_e", latin, n255 };
	struct kdbus_conn c;
	uint64_t rf;
	size_t i;

	/* 255 bytes: "a." followed by 253 'b'. */
	memset(n255, 'b', 255);
	n255[0] = 'a';
	n255[1] = '.';
	n255[255] = 0;
	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		EXPECT_EQ(0, kdbus_name_acquire(c.fd, valid[i], 0, &rf))
			TH_LOG("%s", valid[i]);
		EXPECT_EQ(0, rf) TH_LOG("%s", valid[i]);
		EXPECT_EQ(c.id, owner_of(&self->obs, valid[i])) TH_LOG("%s", valid[i]);
	}
	EXPECT_EQ((int)(sizeof(valid) / sizeof(valid[0])), names_owned(&self->obs, c.id));
	kdbus_conn_close(&c);
}

TEST_F(names, invalid_names_einval)
{
	char n256[257];
	const char *invalid[] = {
		"foo", ".foo.bar", "foo.bar.", "foo..bar", "1foo.bar", "foo.1bar",
		"foo.b@r", ":1.42", "foo.*", "org.foo*", "*.foo", "*", "", ".", "a b.c",
		"foo/bar.x", "foo.b\xd7r", n256,
	};
	struct kdbus_conn c;
	uint64_t rf;
	size_t i;

	memset(n256, 'b', 256);
	n256[0] = 'a';
	n256[1] = '.';
	n256[256] = 0;
	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		EXPECT_EQ(-EINVAL, kdbus_name_acquire(c.fd, invalid[i], 0, &rf))
			TH_LOG("\"%.40s\"", invalid[i]);
		/* Failures after the copy-in write return_flags = 0. */
		EXPECT_EQ(0, rf) TH_LOG("\"%.40s\"", invalid[i]);
	}
	EXPECT_EQ(0, names_owned(&self->obs, c.id));
	kdbus_conn_close(&c);
}

TEST_F(names, name_item_with_padding_in_size_einval)
{
	static const char name[8] = "a.bcdef";	/* 7 chars + NUL: exact 24-byte item */
	char buf[16] = "a.bc";			/* "a.bc\0" + 11 zero bytes */
	struct kdbus_builder b;
	struct kdbus_conn c;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	/* Payload "a.bc\0" plus 3 padding bytes counted in the size. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_raw(&b, KDBUS_ITEM_NAME, buf, 5, KDBUS_ITEM_HEADER_SIZE + 8);
	EXPECT_EQ(-EINVAL, acquire_b(c.fd, &b, 0, NULL));
	/* A whole padding word more. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_raw(&b, KDBUS_ITEM_NAME, buf, 16, KDBUS_ITEM_HEADER_SIZE + 16);
	EXPECT_EQ(-EINVAL, acquire_b(c.fd, &b, 0, NULL));
	/* No NUL at all. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_item(&b, KDBUS_ITEM_NAME, "a.bc", 4);
	EXPECT_EQ(-EINVAL, acquire_b(c.fd, &b, 0, NULL));
	/* An interior NUL: "a.b\0cd\0". */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_item(&b, KDBUS_ITEM_NAME, "a.b\0cd", 7);
	EXPECT_EQ(-EINVAL, acquire_b(c.fd, &b, 0, NULL));
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, "a.bc", NULL));
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, "a.b", NULL));
	/* An exactly sized item whose NUL ends on the 8-byte boundary is fine. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_item(&b, KDBUS_ITEM_NAME, name, sizeof(name));
	EXPECT_EQ(0, acquire_b(c.fd, &b, 0, NULL));
	EXPECT_EQ(c.id, owner_of(&self->obs, name));
	kdbus_conn_close(&c);
}

TEST_F(names, missing_or_duplicate_name_item_einval)
{
	struct kdbus_builder b;
	struct kdbus_conn c;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	EXPECT_EQ(-EINVAL, acquire_b(c.fd, &b, 0, NULL));
	EXPECT_EQ(-EINVAL, kdbus_ioctl(c.fd, KDBUS_CMD_NAME_RELEASE, kdbus_b_cmd(&b)));
	/* Two NAME items, equal or not. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, N1);
	kdbus_b_str(&b, KDBUS_ITEM_NAME, N1);
	EXPECT_EQ(-EINVAL, acquire_b(c.fd, &b, 0, NULL));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, N1);
	kdbus_b_str(&b, KDBUS_ITEM_NAME, N2);
	EXPECT_EQ(-EINVAL, acquire_b(c.fd, &b, 0, NULL));
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, N1, NULL));
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, N2, NULL));
	/* A foreign item. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, N1);
	kdbus_b_u64(&b, KDBUS_ITEM_ID, c.id);
	EXPECT_EQ(-EINVAL, acquire_b(c.fd, &b, 0, NULL));
	/* Release with two NAME items. */
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N1, 0, NULL));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, N1);
	kdbus_b_str(&b, KDBUS_ITEM_NAME, N1);
	EXPECT_EQ(-EINVAL, kdbus_ioctl(c.fd, KDBUS_CMD_NAME_RELEASE, kdbus_b_cmd(&b)));
	EXPECT_EQ(c.id, owner_of(&self->obs, N1));
	kdbus_conn_close(&c);
}

/* ----------------------------------------------------------- NAME_ACQUIRE */

TEST_F(names, acquire_free_name_makes_caller_owner)
{
	struct kdbus_conn c;
	uint64_t rf;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, N1, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N1, 0, &rf));
	EXPECT_EQ(0, rf);
	EXPECT_EQ(c.id, owner_of(&self->obs, N1));
	EXPECT_EQ(0, flags_of(&self->obs, c.id, N1));
	/* A CONN_INFO by name with the owner's id matches too. */
	EXPECT_EQ(0, kdbus_conn_info(self->obs.fd, self->obs.pool, c.id, N1, 0, NULL, NULL));
	kdbus_conn_close(&c);
}

TEST_F(names, acquire_owned_name_ealready)
{
	static const uint64_t flags[] = { 0, QUEUE, REPLACE, ALLOW, REPLACE | ALLOW | QUEUE };
	struct kdbus_conn c;
	uint64_t rf;
	size_t i;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N1, ALLOW, NULL));
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		EXPECT_EQ(-EALREADY, kdbus_name_acquire(c.fd, N1, flags[i], &rf))
			TH_LOG("flags %#llx", (unsigned long long)flags[i]);
		EXPECT_EQ(0, rf);
	}
	/* Nothing changed: still owner with the first flags, not queued. */
	EXPECT_EQ(c.id, owner_of(&self->obs, N1));
	EXPECT_EQ(ALLOW, flags_of(&self->obs, c.id, N1));
	EXPECT_EQ(0, kdbus_list_records(&self->obs, KDBUS_LIST_QUEUED, NULL, 0));
	kdbus_conn_close(&c);
}

TEST_F(names, acquire_busy_name_without_queue_eexist)
{
	struct kdbus_conn a, b;
	uint64_t rf;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&b, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, 0, NULL));
	EXPECT_EQ(-EEXIST, kdbus_name_acquire(b.fd, N1, 0, &rf));
	EXPECT_EQ(0, rf);
	EXPECT_EQ(-EEXIST, kdbus_name_acquire(b.fd, N1, ALLOW, &rf));
	EXPECT_EQ(a.id, owner_of(&self->obs, N1));
	EXPECT_EQ(0, names_owned(&self->obs, b.id));
	EXPECT_EQ(0, kdbus_list_records(&self->obs, KDBUS_LIST_QUEUED, NULL, 0));
	kdbus_conn_close(&a);
	kdbus_conn_close(&b);
}

TEST_F(names, acquire_busy_name_with_queue_in_queue)
{
	struct kdbus_list_rec recs[8];
	struct kdbus_conn a, b;
	uint64_t rf;
	int n;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&b, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(b.fd, N1, QUEUE, &rf));
	EXPECT_EQ(KDBUS_NAME_IN_QUEUE, rf);
	EXPECT_EQ(0x8, rf);
	/* The owner is unchanged; b is listed as queued, not as owner. */
	EXPECT_EQ(a.id, owner_of(&self->obs, N1));
	EXPECT_EQ(0, names_owned(&self->obs, b.id));
	n = kdbus_list_records(&self->obs, KDBUS_LIST_QUEUED, recs, 8);
	ASSERT_EQ(1, n);
	EXPECT_EQ(b.id, recs[0].id);
	EXPECT_STREQ(N1, recs[0].name);
	n = kdbus_list_records(&self->obs, KDBUS_LIST_NAMES, recs, 8);
	ASSERT_EQ(1, n);
	EXPECT_EQ(a.id, recs[0].id);
	kdbus_conn_close(&a);
	kdbus_conn_close(&b);
}

TEST_F(names, replace_existing_takes_name_allowing_replacement)
{
	struct kdbus_conn a, b;
	uint64_t rf;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&b, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, ALLOW, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(b.fd, N1, REPLACE, &rf));
	EXPECT_EQ(0, rf);
	EXPECT_EQ(b.id, owner_of(&self->obs, N1));
	EXPECT_EQ(REPLACE, flags_of(&self->obs, b.id, N1));
	/* a acquired without QUEUE: it lost the name entirely. */
	EXPECT_EQ(0, names_owned(&self->obs, a.id));
	EXPECT_EQ(0, kdbus_list_records(&self->obs, KDBUS_LIST_QUEUED, NULL, 0));
	/* b did not allow replacement: a cannot take it back. */
	EXPECT_EQ(-EEXIST, kdbus_name_acquire(a.fd, N1, REPLACE, &rf));
	EXPECT_EQ(0, rf);
	/* When b releases, nobody gets it. */
	ASSERT_EQ(0, kdbus_name_release(b.fd, N1));
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, N1, NULL));
	kdbus_conn_close(&a);
	kdbus_conn_close(&b);
}

TEST_F(names, replace_existing_without_allow_replacement_eexist_or_queued)
{
	struct kdbus_list_rec recs[8];
	struct kdbus_conn a, b;
	uint64_t rf;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&b, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, QUEUE, NULL));
	EXPECT_EQ(-EEXIST, kdbus_name_acquire(b.fd, N1, REPLACE, &rf));
	EXPECT_EQ(0, rf);
	EXPECT_EQ(-EEXIST, kdbus_name_acquire(b.fd, N1, REPLACE | ALLOW, &rf));
	EXPECT_EQ(a.id, owner_of(&self->obs, N1));
	/* With QUEUE as well: queued. */
	ASSERT_EQ(0, kdbus_name_acquire(b.fd, N1, REPLACE | QUEUE, &rf));
	EXPECT_EQ(KDBUS_NAME_IN_QUEUE, rf);
	EXPECT_EQ(a.id, owner_of(&self->obs, N1));
	ASSERT_EQ(1, kdbus_list_records(&self->obs, KDBUS_LIST_QUEUED, recs, 8));
	EXPECT_EQ(b.id, recs[0].id);
	/* b gets it, with its requested flags, when a releases. */
	ASSERT_EQ(0, kdbus_name_release(a.fd, N1));
	EXPECT_EQ(b.id, owner_of(&self->obs, N1));
	EXPECT_EQ(REPLACE | QUEUE, flags_of(&self->obs, b.id, N1));
	EXPECT_EQ(0, names_owned(&self->obs, a.id));
	kdbus_conn_close(&a);
	kdbus_conn_close(&b);
}

TEST_F(names, allow_replacement_alone_does_not_let_others_take)
{
	struct kdbus_conn a, b;
	uint64_t rf;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&b, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, ALLOW, NULL));
	EXPECT_EQ(-EEXIST, kdbus_name_acquire(b.fd, N1, 0, &rf));
	EXPECT_EQ(-EEXIST, kdbus_name_acquire(b.fd, N1, ALLOW, &rf));
	EXPECT_EQ(a.id, owner_of(&self->obs, N1));
	ASSERT_EQ(0, kdbus_name_acquire(b.fd, N1, QUEUE | ALLOW, &rf));
	EXPECT_EQ(KDBUS_NAME_IN_QUEUE, rf);
	EXPECT_EQ(a.id, owner_of(&self->obs, N1));
	kdbus_conn_close(&a);
	kdbus_conn_close(&b);
}

TEST_F(names, replaced_owner_with_queue_goes_to_queue_tail)
{
	struct kdbus_list_rec recs[8];
	struct kdbus_conn a, w, r;
	uint64_t rf;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&w, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&r, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, ALLOW | QUEUE, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w.fd, N1, QUEUE, &rf));
	EXPECT_EQ(KDBUS_NAME_IN_QUEUE, rf);
	/* r replaces a, jumping ahead of the waiter w. */
	ASSERT_EQ(0, kdbus_name_acquire(r.fd, N1, REPLACE, &rf));
	EXPECT_EQ(0, rf);
	EXPECT_EQ(r.id, owner_of(&self->obs, N1));
	/* Both w and a are now queued; their records carry r's flags. */
	ASSERT_EQ(2, kdbus_list_records(&self->obs, KDBUS_LIST_QUEUED, recs, 8));
	EXPECT_EQ(1, kdbus_list_rec_count(recs, 2, w.id, N1));
	EXPECT_EQ(1, kdbus_list_rec_count(recs, 2, a.id, N1));
	EXPECT_EQ(REPLACE, recs[0].name_flags);
	EXPECT_EQ(REPLACE, recs[1].name_flags);
	EXPECT_EQ(0, names_owned(&self->obs, a.id));
	/* Earlier waiter first, then the replaced owner with its old flags. */
	ASSERT_EQ(0, kdbus_name_release(r.fd, N1));
	EXPECT_EQ(w.id, owner_of(&self->obs, N1));
	EXPECT_EQ(QUEUE, flags_of(&self->obs, w.id, N1));
	ASSERT_EQ(0, kdbus_name_release(w.fd, N1));
	EXPECT_EQ(a.id, owner_of(&self->obs, N1));
	EXPECT_EQ(ALLOW | QUEUE, flags_of(&self->obs, a.id, N1));
	EXPECT_EQ(0, kdbus_list_records(&self->obs, KDBUS_LIST_QUEUED, NULL, 0));
	ASSERT_EQ(0, kdbus_name_release(a.fd, N1));
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, N1, NULL));
	kdbus_conn_close(&a);
	kdbus_conn_close(&w);
	kdbus_conn_close(&r);
}

/* §6: a waiter that becomes owner by replacement loses its queue entry. */
TEST_F(names, waiter_replacing_owner_drops_its_queue_entry)
{
	struct kdbus_list_rec recs[8];
	struct kdbus_conn a, w;
	uint64_t rf;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&w, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, ALLOW, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w.fd, N1, QUEUE, &rf));
	EXPECT_EQ(KDBUS_NAME_IN_QUEUE, rf);
	ASSERT_EQ(0, kdbus_name_acquire(w.fd, N1, REPLACE, &rf));
	EXPECT_EQ(0, rf);
	EXPECT_EQ(w.id, owner_of(&self->obs, N1));
	EXPECT_EQ(0, kdbus_list_records(&self->obs, KDBUS_LIST_QUEUED, recs, 8));
	/* Its release frees the name instead of "promoting" it to itself. */
	ASSERT_EQ(0, kdbus_name_release(w.fd, N1));
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, N1, NULL));
	EXPECT_EQ(0, names_owned(&self->obs, w.id));
	kdbus_conn_close(&a);
	kdbus_conn_close(&w);
}

TEST_F(names, in_queue_activator_or_unknown_flag_einval)
{
	static const uint64_t bad[] = {
		KDBUS_NAME_IN_QUEUE, KDBUS_NAME_ACTIVATOR, KDBUS_NAME_IN_QUEUE | QUEUE,
		KDBUS_NAME_ACTIVATOR | REPLACE, 1ULL << 5, 1ULL << 40,
		KDBUS_FLAG_NEGOTIATE | KDBUS_NAME_IN_QUEUE,
	};
	struct kdbus_builder bb;
	struct kdbus_cmd *cmd;
	struct kdbus_conn a, b;
	uint64_t rf;
	size_t i;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&b, self->tb.path, 0, POOL));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, kdbus_name_acquire(a.fd, N1, bad[i], &rf))
			TH_LOG("flags %#llx", (unsigned long long)bad[i]);
		EXPECT_EQ(0, rf) TH_LOG("flags %#llx", (unsigned long long)bad[i]);
	}
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, N1, NULL));
	/* Also on a busy name (not queued). */
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, 0, NULL));
	EXPECT_EQ(-EINVAL, kdbus_name_acquire(b.fd, N1, KDBUS_NAME_IN_QUEUE, NULL));
	EXPECT_EQ(-EINVAL, kdbus_name_acquire(b.fd, N1, QUEUE | KDBUS_NAME_ACTIVATOR, NULL));
	EXPECT_EQ(0, kdbus_list_records(&self->obs, KDBUS_LIST_QUEUED, NULL, 0));
	/* NAME_RELEASE accepts no flag but NEGOTIATE. */
	kdbus_b_init(&bb, sizeof(*cmd));
	kdbus_b_str(&bb, KDBUS_ITEM_NAME, N1);
	cmd = kdbus_b_cmd(&bb);
	cmd->flags = QUEUE;
	EXPECT_EQ(-EINVAL, kdbus_ioctl(a.fd, KDBUS_CMD_NAME_RELEASE, cmd));
	EXPECT_EQ(a.id, owner_of(&self->obs, N1));
	kdbus_conn_close(&a);
	kdbus_conn_close(&b);
}

TEST_F(names, negotiate_reports_0x7_and_acquires_nothing)
{
	struct kdbus_builder b;
	struct kdbus_cmd *cmd;
	struct kdbus_conn c;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	kdbus_b_init(&b, sizeof(*cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, N1);
	cmd = kdbus_b_cmd(&b);
	cmd->flags = KDBUS_FLAG_NEGOTIATE | QUEUE;
	cmd->return_flags = POISON;
	ASSERT_EQ(0, kdbus_ioctl(c.fd, KDBUS_CMD_NAME_ACQUIRE, cmd));
	EXPECT_EQ(0x7, cmd->flags);
	EXPECT_EQ(REPLACE | ALLOW | QUEUE, cmd->flags);
	/* return_flags: untouched (reference) or 0 (allowed). */
	EXPECT_TRUE(cmd->return_flags == POISON || cmd->return_flags == 0);
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, N1, NULL));
	EXPECT_EQ(0, names_owned(&self->obs, c.id));
	/* The mandatory NAME is checked even when negotiating. */
	kdbus_b_init(&b, sizeof(*cmd));
	cmd = kdbus_b_cmd(&b);
	cmd->flags = KDBUS_FLAG_NEGOTIATE;
	EXPECT_EQ(-EINVAL, kdbus_ioctl(c.fd, KDBUS_CMD_NAME_ACQUIRE, cmd));
	/* Negotiation does not check the name's syntax. */
	kdbus_b_init(&b, sizeof(*cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "nodot");
	cmd = kdbus_b_cmd(&b);
	cmd->flags = KDBUS_FLAG_NEGOTIATE;
	EXPECT_EQ(0, kdbus_ioctl(c.fd, KDBUS_CMD_NAME_ACQUIRE, cmd));
	EXPECT_EQ(0x7, cmd->flags);
	/* NAME_RELEASE negotiates 0 and releases nothing. */
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N1, 0, NULL));
	kdbus_b_init(&b, sizeof(*cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, N1);
	cmd = kdbus_b_cmd(&b);
	cmd->flags = KDBUS_FLAG_NEGOTIATE;
	ASSERT_EQ(0, kdbus_ioctl(c.fd, KDBUS_CMD_NAME_RELEASE, cmd));
	EXPECT_EQ(0, cmd->flags);
	EXPECT_EQ(c.id, owner_of(&self->obs, N1));
	kdbus_conn_close(&c);
}

TEST_F(names, limit_256_names_e2big)
{
	static struct kdbus_list_rec recs[MAX_RECS];
	struct kdbus_conn c, o;
	char name[64];
	uint64_t rf;
	int i;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&o, self->tb.path, 0, POOL));
	for (i = 0; i < 256; i++) {
		snprintf(name, sizeof(name), "org.kdbus.t.lim%d", i);
		ASSERT_EQ(0, kdbus_name_acquire(c.fd, name, 0, NULL)) TH_LOG("%s", name);
	}
	EXPECT_EQ(256, names_owned(&self->obs, c.id));
	ASSERT_EQ(256, kdbus_list_records(&self->obs, KDBUS_LIST_NAMES, recs, MAX_RECS));
	for (i = 0; i < 256; i++)
		EXPECT_EQ(c.id, recs[i].id);
	EXPECT_EQ(1, kdbus_list_rec_count(recs, 256, c.id, "org.kdbus.t.lim255"));
	/* The 257th: E2BIG, before EALREADY and before queueing. */
	EXPECT_EQ(-E2BIG, kdbus_name_acquire(c.fd, "org.kdbus.t.lim256", 0, &rf));
	EXPECT_EQ(0, rf);
	EXPECT_EQ(-E2BIG, kdbus_name_acquire(c.fd, "org.kdbus.t.lim0", 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(o.fd, N1, 0, NULL));
	EXPECT_EQ(-E2BIG, kdbus_name_acquire(c.fd, N1, QUEUE, &rf));
	EXPECT_EQ(0, rf);
	EXPECT_EQ(0, kdbus_list_records(&self->obs, KDBUS_LIST_QUEUED, NULL, 0));
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, "org.kdbus.t.lim256", NULL));
	/* Releasing one makes room for one. */
	ASSERT_EQ(0, kdbus_name_release(c.fd, "org.kdbus.t.lim17"));
	EXPECT_EQ(0, kdbus_name_acquire(c.fd, "org.kdbus.t.lim256", 0, &rf));
	EXPECT_EQ(0, rf);
	EXPECT_EQ(c.id, owner_of(&self->obs, "org.kdbus.t.lim256"));
	EXPECT_EQ(-E2BIG, kdbus_name_acquire(c.fd, "org.kdbus.t.lim17", 0, NULL));
	EXPECT_EQ(256, names_owned(&self->obs, c.id));
	/* Another connection is not limited by c's names. */
	EXPECT_EQ(0, kdbus_name_acquire(o.fd, "org.kdbus.t.lim17", 0, NULL));
	kdbus_conn_close(&c);
	kdbus_conn_close(&o);
}

/* Queue entries do not count; a connection can exceed 256 by promotion. */
TEST_F(names, limit_exceeded_by_queue_promotion)
{
	struct kdbus_conn c, o;
	char name[64];
	int i;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&o, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(o.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N1, QUEUE, NULL));
	for (i = 0; i < 256; i++) {
		snprintf(name, sizeof(name), "org.kdbus.t.lim%d", i);
		ASSERT_EQ(0, kdbus_name_acquire(c.fd, name, 0, NULL)) TH_LOG("%s", name);
	}
	ASSERT_EQ(0, kdbus_name_release(o.fd, N1));
	EXPECT_EQ(c.id, owner_of(&self->obs, N1));
	EXPECT_EQ(257, names_owned(&self->obs, c.id));
	EXPECT_EQ(-E2BIG, kdbus_name_acquire(c.fd, N2, 0, NULL));
	kdbus_conn_close(&c);
	kdbus_conn_close(&o);
}

TEST_F(names, special_connections_eopnotsupp)
{
	struct kdbus_conn act, ph, mon, o;

	ASSERT_EQ(0, kdbus_conn_open(&o, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_conn_open_name(&ph, self->tb.path, KDBUS_HELLO_POLICY_HOLDER,
					  "org.kdbus.t.ph", POOL));
	ASSERT_EQ(0, kdbus_conn_open(&mon, self->tb.path, KDBUS_HELLO_MONITOR, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(o.fd, N2, 0, NULL));

	EXPECT_EQ(-EOPNOTSUPP, kdbus_name_acquire(act.fd, N1, 0, NULL));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_name_acquire(act.fd, ACT, 0, NULL));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_name_release(act.fd, ACT));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_name_acquire(ph.fd, N1, 0, NULL));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_name_acquire(ph.fd, "org.kdbus.t.ph", 0, NULL));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_name_release(ph.fd, N2));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_name_acquire(mon.fd, N1, 0, NULL));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_name_release(mon.fd, N2));
	/* Before parsing: even a malformed request. */
	EXPECT_EQ(-EOPNOTSUPP, kdbus_name_acquire(mon.fd, "nodot", KDBUS_NAME_IN_QUEUE, NULL));

	EXPECT_EQ(act.id, owner_of(&self->obs, ACT));
	EXPECT_EQ(o.id, owner_of(&self->obs, N2));
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, N1, NULL));
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, "org.kdbus.t.ph", NULL));
	kdbus_conn_close(&act);
	kdbus_conn_close(&ph);
	kdbus_conn_close(&mon);
	kdbus_conn_close(&o);
}

TEST_F(names, flags_appear_unchanged_in_list_and_conn_info)
{
	static const struct { const char *name; uint64_t flags; } n[] = {
		{ N1, REPLACE | QUEUE }, { N2, ALLOW }, { N3, 0 }, { N4, REPLACE | ALLOW | QUEUE },
	};
	struct kdbus_list_rec recs[8];
	struct kdbus_info *info;
	struct kdbus_item *item;
	struct kdbus_conn c;
	const struct kdbus_list_rec *r;
	int i, k;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, KDBUS_HELLO_ACCEPT_FD, POOL));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, kdbus_name_acquire(c.fd, n[i].name, n[i].flags, NULL));
	EXPECT_EQ(0x5, flags_of(&self->obs, c.id, N1));

	ASSERT_EQ(4, kdbus_list_records(&self->obs, KDBUS_LIST_NAMES, recs, 8));
	for (i = 0; i < 4; i++) {
		r = kdbus_list_rec_find(recs, 4, c.id, n[i].name);
		ASSERT_NE(NULL, r) TH_LOG("%s", n[i].name);
		EXPECT_EQ(KDBUS_HELLO_ACCEPT_FD, r->flags);
		EXPECT_EQ(n[i].flags, r->name_flags) TH_LOG("%s", n[i].name);
	}
	/* CONN_INFO: one OWNED_NAME per name, in the order of acquisition. */
	ASSERT_EQ(0, kdbus_conn_info(self->obs.fd, self->obs.pool, c.id, NULL,
				     KDBUS_ATTACH_NAMES, &info, NULL));
	k = 0;
	KDBUS_ITEM_FOREACH(item, info, items) {
		if (item->type != KDBUS_ITEM_OWNED_NAME)
			continue;
		ASSERT_LT(k, 4);
		EXPECT_EQ(KDBUS_ITEM_HEADER_SIZE + 8 + strlen(n[k].name) + 1, item->size);
		EXPECT_STREQ(n[k].name, item->name.name);
		EXPECT_EQ(n[k].flags, item->name.flags);
		k++;
	}
	EXPECT_EQ(4, k);
	EXPECT_EQ(0, kdbus_info_free(self->obs.fd, self->obs.pool, info));
	/* By name, the same item set. */
	ASSERT_EQ(0, kdbus_conn_info(self->obs.fd, self->obs.pool, 0, N3, KDBUS_ATTACH_NAMES,
				     &info, NULL));
	EXPECT_EQ(c.id, info->id);
	EXPECT_EQ(4, kdbus_info_count(info));
	EXPECT_EQ(0, kdbus_info_free(self->obs.fd, self->obs.pool, info));
	kdbus_conn_close(&c);
}

/* ------------------------------------------------- NAME_RELEASE and queue */

TEST_F(names, release_without_waiters_frees_name)
{
	struct kdbus_conn c, o;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&o, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N1, ALLOW | QUEUE, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(c.fd, N2, 0, NULL));
	ASSERT_EQ(0, kdbus_name_release(c.fd, N1));
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, N1, NULL));
	EXPECT_EQ(1, names_owned(&self->obs, c.id));
	EXPECT_EQ(c.id, owner_of(&self->obs, N2));
	/* A second release: the name is gone. */
	EXPECT_EQ(-ESRCH, kdbus_name_release(c.fd, N1));
	/* Free for anyone again, with new flags. */
	ASSERT_EQ(0, kdbus_name_acquire(o.fd, N1, 0, NULL));
	EXPECT_EQ(o.id, owner_of(&self->obs, N1));
	EXPECT_EQ(0, flags_of(&self->obs, o.id, N1));
	kdbus_conn_close(&c);
	kdbus_conn_close(&o);
}

TEST_F(names, release_with_waiters_hands_name_to_oldest)
{
	struct kdbus_list_rec recs[8];
	struct kdbus_conn a, w1, w2;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	/* Open the waiters in reverse id order to the queue order. */
	ASSERT_EQ(0, kdbus_conn_open(&w2, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&w1, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w1.fd, N1, QUEUE, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w2.fd, N1, QUEUE | ALLOW, NULL));
	ASSERT_EQ(0, kdbus_name_release(a.fd, N1));
	EXPECT_EQ(w1.id, owner_of(&self->obs, N1));
	EXPECT_EQ(QUEUE, flags_of(&self->obs, w1.id, N1));
	ASSERT_EQ(1, kdbus_list_records(&self->obs, KDBUS_LIST_QUEUED, recs, 8));
	EXPECT_EQ(w2.id, recs[0].id);
	EXPECT_EQ(QUEUE, recs[0].name_flags);	/* the owner's flags */
	ASSERT_EQ(0, kdbus_name_release(w1.fd, N1));
	EXPECT_EQ(w2.id, owner_of(&self->obs, N1));
	EXPECT_EQ(QUEUE | ALLOW, flags_of(&self->obs, w2.id, N1));
	EXPECT_EQ(0, kdbus_list_records(&self->obs, KDBUS_LIST_QUEUED, NULL, 0));
	/* The former owners are not queued: the name disappears. */
	ASSERT_EQ(0, kdbus_name_release(w2.fd, N1));
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, N1, NULL));
	kdbus_conn_close(&a);
	kdbus_conn_close(&w1);
	kdbus_conn_close(&w2);
}

TEST_F(names, release_by_waiter_leaves_queue)
{
	struct kdbus_list_rec recs[8];
	struct kdbus_conn a, w1, w2;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&w1, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&w2, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w1.fd, N1, QUEUE, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w2.fd, N1, QUEUE, NULL));
	ASSERT_EQ(2, kdbus_list_records(&self->obs, KDBUS_LIST_QUEUED, recs, 8));
	ASSERT_EQ(0, kdbus_name_release(w1.fd, N1));
	EXPECT_EQ(a.id, owner_of(&self->obs, N1));
	ASSERT_EQ(1, kdbus_list_records(&self->obs, KDBUS_LIST_QUEUED, recs, 8));
	EXPECT_EQ(w2.id, recs[0].id);
	/* No longer queued: EADDRINUSE now. */
	EXPECT_EQ(-EADDRINUSE, kdbus_name_release(w1.fd, N1));
	ASSERT_EQ(0, kdbus_name_release(a.fd, N1));
	EXPECT_EQ(w2.id, owner_of(&self->obs, N1));
	kdbus_conn_close(&a);
	kdbus_conn_close(&w1);
	kdbus_conn_close(&w2);
}

TEST_F(names, release_unknown_or_invalid_name_esrch)
{
	static const char *const bad[] = {
		"org.kdbus.t.none", "nodot", "", ":1.1", "foo.*", "1a.b", "foo..bar",
	};
	struct kdbus_conn c;
	size_t i;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->tb.path, 0, POOL));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(-ESRCH, kdbus_name_release(c.fd, bad[i])) TH_LOG("bad[%zu]", i);
	/* A policy holder's or a closed activator's name is not registered. */
	{
		struct kdbus_conn ph, act;

		ASSERT_EQ(0, kdbus_conn_open_name(&ph, self->tb.path, KDBUS_HELLO_POLICY_HOLDER,
						  "org.kdbus.t.ph", POOL));
		ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR,
						  ACT, POOL));
		EXPECT_EQ(-ESRCH, kdbus_name_release(c.fd, "org.kdbus.t.ph"));
		kdbus_conn_close(&act);
		EXPECT_EQ(-ESRCH, kdbus_name_release(c.fd, ACT));
		kdbus_conn_close(&ph);
	}
	kdbus_conn_close(&c);
}

TEST_F(names, release_of_other_owners_name_eaddrinuse)
{
	struct kdbus_conn a, b, act;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&b, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, ALLOW, NULL));
	EXPECT_EQ(-EADDRINUSE, kdbus_name_release(b.fd, N1));
	EXPECT_EQ(a.id, owner_of(&self->obs, N1));
	/* The same for an activator-held name. */
	EXPECT_EQ(-EADDRINUSE, kdbus_name_release(b.fd, ACT));
	EXPECT_EQ(act.id, owner_of(&self->obs, ACT));
	kdbus_conn_close(&a);
	kdbus_conn_close(&b);
	kdbus_conn_close(&act);
}

TEST_F(names, closing_owner_promotes_oldest_waiter)
{
	struct kdbus_conn a, w1, w2;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&w2, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&w1, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, QUEUE, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N2, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w1.fd, N1, QUEUE | REPLACE, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w2.fd, N1, QUEUE, NULL));
	kdbus_conn_close(&a);
	EXPECT_EQ(w1.id, owner_of(&self->obs, N1));
	EXPECT_EQ(QUEUE | REPLACE, flags_of(&self->obs, w1.id, N1));
	/* The closed owner's other name is gone. */
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, N2, NULL));
	kdbus_conn_close(&w1);
	EXPECT_EQ(w2.id, owner_of(&self->obs, N1));
	kdbus_conn_close(&w2);
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, N1, NULL));
}

TEST_F(names, byebye_releases_names_like_close)
{
	struct kdbus_conn a, w;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&w, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w.fd, N1, QUEUE, NULL));
	ASSERT_EQ(0, kdbus_byebye(a.fd));
	EXPECT_EQ(w.id, owner_of(&self->obs, N1));
	kdbus_conn_close(&a);
	kdbus_conn_close(&w);
}

TEST_F(names, closing_waiter_leaves_queue_silently)
{
	struct kdbus_list_rec recs[8];
	struct kdbus_conn a, w1, w2;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&w1, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&w2, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N2, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w1.fd, N1, QUEUE, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w1.fd, N2, QUEUE, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w2.fd, N1, QUEUE, NULL));
	ASSERT_EQ(3, kdbus_list_records(&self->obs, KDBUS_LIST_QUEUED, recs, 8));
	kdbus_conn_close(&w1);
	ASSERT_EQ(1, kdbus_list_records(&self->obs, KDBUS_LIST_QUEUED, recs, 8));
	EXPECT_EQ(w2.id, recs[0].id);
	EXPECT_STREQ(N1, recs[0].name);
	EXPECT_EQ(a.id, owner_of(&self->obs, N1));
	EXPECT_EQ(a.id, owner_of(&self->obs, N2));
	ASSERT_EQ(0, kdbus_name_release(a.fd, N1));
	ASSERT_EQ(0, kdbus_name_release(a.fd, N2));
	EXPECT_EQ(w2.id, owner_of(&self->obs, N1));
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, N2, NULL));
	kdbus_conn_close(&a);
	kdbus_conn_close(&w2);
}

/* ------------------------------------------------------------- activators */

TEST_F(names, activator_held_name_listed_only_with_activators)
{
	struct kdbus_list_rec recs[8];
	struct kdbus_conn act;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	EXPECT_EQ(act.id, owner_of(&self->obs, ACT));
	EXPECT_EQ(KDBUS_NAME_ACTIVATOR, flags_of(&self->obs, act.id, ACT));
	EXPECT_EQ(0, kdbus_list_records(&self->obs, KDBUS_LIST_NAMES, recs, 8));
	ASSERT_EQ(1, kdbus_list_records(&self->obs, KDBUS_LIST_ACTIVATORS, recs, 8));
	EXPECT_EQ(act.id, recs[0].id);
	EXPECT_EQ(KDBUS_HELLO_ACTIVATOR, recs[0].flags);
	EXPECT_STREQ(ACT, recs[0].name);
	EXPECT_EQ(KDBUS_NAME_ACTIVATOR, recs[0].name_flags);
	ASSERT_EQ(1, kdbus_list_records(&self->obs, KDBUS_LIST_NAMES | KDBUS_LIST_ACTIVATORS,
					recs, 8));
	EXPECT_EQ(act.id, recs[0].id);
	kdbus_conn_close(&act);
}

TEST_F(names, acquire_of_activator_held_name_takes_it_over)
{
	struct kdbus_list_rec recs[8];
	const struct kdbus_list_rec *r;
	struct kdbus_conn act, impl;
	uint64_t rf;
	int n;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, KDBUS_HELLO_ACCEPT_FD, POOL));
	/* No REPLACE_EXISTING needed. */
	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, 0, &rf));
	EXPECT_EQ(0, rf);
	EXPECT_EQ(impl.id, owner_of(&self->obs, ACT));
	EXPECT_EQ(0, flags_of(&self->obs, impl.id, ACT));
	EXPECT_EQ(0, names_owned(&self->obs, act.id));
	EXPECT_EQ(-EALREADY, kdbus_name_acquire(impl.fd, ACT, 0, NULL));

	/* NAMES: the implementer's record. */
	ASSERT_EQ(1, kdbus_list_records(&self->obs, KDBUS_LIST_NAMES, recs, 8));
	EXPECT_EQ(impl.id, recs[0].id);
	EXPECT_EQ(KDBUS_HELLO_ACCEPT_FD, recs[0].flags);
	EXPECT_STREQ(ACT, recs[0].name);
	EXPECT_EQ(0, recs[0].name_flags);
	/* ACTIVATORS alone: one record with the activator's id and the
	 * implementer's name flags, none for the implementer. */
	ASSERT_EQ(1, kdbus_list_records(&self->obs, KDBUS_LIST_ACTIVATORS, recs, 8));
	EXPECT_EQ(act.id, recs[0].id);
	EXPECT_EQ(KDBUS_HELLO_ACTIVATOR, recs[0].flags);
	EXPECT_STREQ(ACT, recs[0].name);
	EXPECT_EQ(0, recs[0].name_flags);
	/* Both: one each. */
	n = kdbus_list_records(&self->obs, KDBUS_LIST_NAMES | KDBUS_LIST_ACTIVATORS, recs, 8);
	ASSERT_EQ(2, n);
	r = kdbus_list_rec_find(recs, n, act.id, ACT);
	ASSERT_NE(NULL, r);
	EXPECT_EQ(0, r->name_flags);
	r = kdbus_list_rec_find(recs, n, impl.id, ACT);
	ASSERT_NE(NULL, r);
	EXPECT_EQ(0, r->name_flags);
	kdbus_conn_close(&impl);
	kdbus_conn_close(&act);
}

TEST_F(names, takeover_stores_requested_flags_and_never_queues)
{
	struct kdbus_conn act, impl, b;
	uint64_t rf;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&b, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, QUEUE | ALLOW, &rf));
	EXPECT_EQ(0, rf);
	EXPECT_EQ(impl.id, owner_of(&self->obs, ACT));
	EXPECT_EQ(QUEUE | ALLOW, flags_of(&self->obs, impl.id, ACT));
	EXPECT_EQ(0, kdbus_list_records(&self->obs, KDBUS_LIST_QUEUED, NULL, 0));
	/* From now on the ordinary rules apply: b replaces, impl is queued. */
	ASSERT_EQ(0, kdbus_name_acquire(b.fd, ACT, REPLACE, &rf));
	EXPECT_EQ(0, rf);
	EXPECT_EQ(b.id, owner_of(&self->obs, ACT));
	ASSERT_EQ(0, kdbus_name_release(b.fd, ACT));
	EXPECT_EQ(impl.id, owner_of(&self->obs, ACT));
	ASSERT_EQ(0, kdbus_name_release(impl.fd, ACT));
	EXPECT_EQ(act.id, owner_of(&self->obs, ACT));
	kdbus_conn_close(&impl);
	kdbus_conn_close(&b);
	kdbus_conn_close(&act);
}

TEST_F(names, implementer_release_returns_name_to_activator)
{
	struct kdbus_list_rec recs[8];
	struct kdbus_conn act, impl;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, REPLACE, NULL));
	ASSERT_EQ(0, kdbus_name_release(impl.fd, ACT));
	EXPECT_EQ(act.id, owner_of(&self->obs, ACT));
	EXPECT_EQ(KDBUS_NAME_ACTIVATOR, flags_of(&self->obs, act.id, ACT));
	EXPECT_EQ(0, names_owned(&self->obs, impl.id));
	EXPECT_EQ(0, kdbus_list_records(&self->obs, KDBUS_LIST_NAMES, recs, 8));
	ASSERT_EQ(1, kdbus_list_records(&self->obs, KDBUS_LIST_ACTIVATORS, recs, 8));
	EXPECT_EQ(act.id, recs[0].id);
	EXPECT_EQ(KDBUS_NAME_ACTIVATOR, recs[0].name_flags);
	/* A release by the implementer again: not the owner. */
	EXPECT_EQ(-EADDRINUSE, kdbus_name_release(impl.fd, ACT));
	/* Again and again. */
	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, 0, NULL));
	EXPECT_EQ(impl.id, owner_of(&self->obs, ACT));
	kdbus_conn_close(&impl);
	EXPECT_EQ(act.id, owner_of(&self->obs, ACT));
	EXPECT_EQ(KDBUS_NAME_ACTIVATOR, flags_of(&self->obs, act.id, ACT));
	kdbus_conn_close(&act);
}

TEST_F(names, waiters_take_precedence_over_activator)
{
	struct kdbus_conn act, impl, w;
	uint64_t rf;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&w, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w.fd, ACT, QUEUE, &rf));
	EXPECT_EQ(KDBUS_NAME_IN_QUEUE, rf);
	ASSERT_EQ(0, kdbus_name_release(impl.fd, ACT));
	EXPECT_EQ(w.id, owner_of(&self->obs, ACT));
	EXPECT_EQ(QUEUE, flags_of(&self->obs, w.id, ACT));
	/* The last one out hands it back to the activator. */
	kdbus_conn_close(&w);
	EXPECT_EQ(act.id, owner_of(&self->obs, ACT));
	kdbus_conn_close(&impl);
	kdbus_conn_close(&act);
}

TEST_F(names, activator_for_owned_name_registered_silently)
{
	struct kdbus_list_rec recs[8];
	struct kdbus_conn a, act;
	int n;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, ACT, ALLOW, NULL));
	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	/* The owner is unchanged. */
	EXPECT_EQ(a.id, owner_of(&self->obs, ACT));
	EXPECT_EQ(ALLOW, flags_of(&self->obs, a.id, ACT));
	EXPECT_EQ(0, names_owned(&self->obs, act.id));
	/* LIST ACTIVATORS shows the activator with the owner's flags. */
	ASSERT_EQ(1, kdbus_list_records(&self->obs, KDBUS_LIST_ACTIVATORS, recs, 8));
	EXPECT_EQ(act.id, recs[0].id);
	EXPECT_EQ(ALLOW, recs[0].name_flags);
	n = kdbus_list_records(&self->obs, KDBUS_LIST_NAMES, recs, 8);
	ASSERT_EQ(1, n);
	EXPECT_EQ(a.id, recs[0].id);
	/* Released: the activator gets it. */
	ASSERT_EQ(0, kdbus_name_release(a.fd, ACT));
	EXPECT_EQ(act.id, owner_of(&self->obs, ACT));
	EXPECT_EQ(KDBUS_NAME_ACTIVATOR, flags_of(&self->obs, act.id, ACT));
	kdbus_conn_close(&a);
	kdbus_conn_close(&act);
}

TEST_F(names, second_activator_eexist_first_undisturbed)
{
	struct kdbus_list_rec recs[8];
	struct kdbus_conn act, act2, o;
	int fd, n;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	EXPECT_EQ(-EEXIST, kdbus_conn_open_name(&act2, self->tb.path, KDBUS_HELLO_ACTIVATOR,
						 ACT, POOL));
	EXPECT_EQ(act.id, owner_of(&self->obs, ACT));
	n = kdbus_list_records(&self->obs, KDBUS_LIST_UNIQUE | KDBUS_LIST_ACTIVATORS, recs, 8);
	ASSERT_EQ(2, n);	/* obs and the first activator */
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, act.id, ACT));
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, self->obs.id, NULL));

	/* Also while an implementer holds the name. */
	ASSERT_EQ(0, kdbus_conn_open(&o, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(o.fd, ACT, 0, NULL));
	fd = kdbus_open_bus(self->tb.d.root, self->tb.bus);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EEXIST, kdbus_hello_name(fd, KDBUS_HELLO_ACTIVATOR, ACT, POOL, NULL));
	/* The failed handle is still untyped: an ordinary HELLO works. */
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);
	EXPECT_EQ(o.id, owner_of(&self->obs, ACT));
	ASSERT_EQ(1, kdbus_list_records(&self->obs, KDBUS_LIST_ACTIVATORS, recs, 8));
	EXPECT_EQ(act.id, recs[0].id);
	ASSERT_EQ(0, kdbus_name_release(o.fd, ACT));
	EXPECT_EQ(act.id, owner_of(&self->obs, ACT));
	kdbus_conn_close(&o);
	kdbus_conn_close(&act);
}

TEST_F(names, closing_activator_holding_name_removes_it)
{
	struct kdbus_conn act, act2, o;
	uint64_t rf;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	kdbus_conn_close(&act);
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, ACT, NULL));
	EXPECT_EQ(0, kdbus_list_records(&self->obs, KDBUS_LIST_ACTIVATORS | KDBUS_LIST_NAMES,
					NULL, 0));
	/* The name is free: an ordinary acquire creates it afresh. */
	ASSERT_EQ(0, kdbus_conn_open(&o, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(o.fd, ACT, 0, &rf));
	EXPECT_EQ(0, rf);
	ASSERT_EQ(0, kdbus_name_release(o.fd, ACT));
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, ACT, NULL));
	/* And a new activator may register. */
	ASSERT_EQ(0, kdbus_conn_open_name(&act2, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	EXPECT_EQ(act2.id, owner_of(&self->obs, ACT));
	kdbus_conn_close(&act2);
	kdbus_conn_close(&o);
}

TEST_F(names, closing_activator_while_implementer_owns)
{
	struct kdbus_list_rec recs[8];
	struct kdbus_conn act, impl;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, 0, NULL));
	kdbus_conn_close(&act);
	EXPECT_EQ(impl.id, owner_of(&self->obs, ACT));
	EXPECT_EQ(0, kdbus_list_records(&self->obs, KDBUS_LIST_ACTIVATORS, recs, 8));
	ASSERT_EQ(0, kdbus_name_release(impl.fd, ACT));
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, ACT, NULL));
	kdbus_conn_close(&impl);
}

TEST_F(names, activator_hello_name_checks)
{
	static const char *const bad[] = { "nodot", "org.kdbus.*", "1a.b", ":1.2" };
	struct kdbus_conn act;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR,
							bad[i], POOL)) TH_LOG("%s", bad[i]);
		EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, bad[i], NULL));
	}
	EXPECT_EQ(0, kdbus_list_records(&self->obs, KDBUS_LIST_ACTIVATORS, NULL, 0));
}

/* ------------------------------------------------------------ LIST (names) */

TEST_F(names, list_names_one_record_per_owned_name)
{
	struct kdbus_list_rec recs[16];
	struct kdbus_conn a, b, w, act;
	int n;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&b, self->tb.path, KDBUS_HELLO_ACCEPT_FD, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&w, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, ALLOW, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N2, QUEUE, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(b.fd, N3, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w.fd, N3, QUEUE, NULL));
	n = kdbus_list_records(&self->obs, KDBUS_LIST_NAMES, recs, 16);
	ASSERT_EQ(3, n);
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, a.id, N1));
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, a.id, N2));
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, b.id, N3));
	EXPECT_EQ(ALLOW, kdbus_list_rec_find(recs, n, a.id, N1)->name_flags);
	EXPECT_EQ(QUEUE, kdbus_list_rec_find(recs, n, a.id, N2)->name_flags);
	EXPECT_EQ(0, kdbus_list_rec_find(recs, n, b.id, N3)->name_flags);
	EXPECT_EQ(KDBUS_HELLO_ACCEPT_FD, kdbus_list_rec_find(recs, n, b.id, N3)->flags);
	/* No record for the waiter, the activator or the nameless observer. */
	EXPECT_EQ(0, kdbus_list_rec_count(recs, n, w.id, N3));
	EXPECT_EQ(0, kdbus_list_rec_count(recs, n, act.id, ACT));
	EXPECT_EQ(0, kdbus_list_rec_count(recs, n, self->obs.id, NULL));
	kdbus_conn_close(&a);
	kdbus_conn_close(&b);
	kdbus_conn_close(&w);
	kdbus_conn_close(&act);
}

TEST_F(names, list_queued_one_record_per_queue_entry)
{
	struct kdbus_list_rec recs[16];
	const struct kdbus_list_rec *r;
	struct kdbus_conn a, w1, w2;
	int n, i;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&w1, self->tb.path, KDBUS_HELLO_ACCEPT_FD, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&w2, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, ALLOW, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N2, REPLACE | QUEUE, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w1.fd, N1, QUEUE, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w1.fd, N2, QUEUE | ALLOW, NULL));
	/* w2 replaces a, which acquired N1 without QUEUE and so loses it. */
	ASSERT_EQ(0, kdbus_name_acquire(w2.fd, N1, QUEUE | REPLACE, NULL));
	EXPECT_EQ(w2.id, owner_of(&self->obs, N1));
	n = kdbus_list_records(&self->obs, KDBUS_LIST_QUEUED, recs, 16);
	ASSERT_EQ(2, n);
	r = kdbus_list_rec_find(recs, n, w1.id, N1);
	ASSERT_NE(NULL, r);
	EXPECT_EQ(KDBUS_HELLO_ACCEPT_FD, r->flags);
	EXPECT_EQ(QUEUE | REPLACE, r->name_flags);	/* w2's, the owner's */
	r = kdbus_list_rec_find(recs, n, w1.id, N2);
	ASSERT_NE(NULL, r);
	EXPECT_EQ(REPLACE | QUEUE, r->name_flags);	/* a's */
	for (i = 0; i < n; i++)
		EXPECT_EQ(0, recs[i].name_flags & KDBUS_NAME_IN_QUEUE);
	/* QUEUED does not list owners. */
	EXPECT_EQ(0, kdbus_list_rec_count(recs, n, a.id, N2));
	EXPECT_EQ(0, kdbus_list_rec_count(recs, n, w2.id, N1));
	/* NAMES|QUEUED lists both kinds. */
	n = kdbus_list_records(&self->obs, KDBUS_LIST_NAMES | KDBUS_LIST_QUEUED, recs, 16);
	ASSERT_EQ(4, n);
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, a.id, N2));
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, w2.id, N1));
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, w1.id, N1));
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, w1.id, N2));
	kdbus_conn_close(&a);
	kdbus_conn_close(&w1);
	kdbus_conn_close(&w2);
}

TEST_F(names, list_unique_alone_bare_records)
{
	struct kdbus_list_rec recs[16];
	struct kdbus_conn a, w, ph, act, mon;
	int n, i;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&w, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open_name(&ph, self->tb.path, KDBUS_HELLO_POLICY_HOLDER,
					  "org.kdbus.t.ph", POOL));
	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&mon, self->tb.path, KDBUS_HELLO_MONITOR, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w.fd, N1, QUEUE, NULL));
	n = kdbus_list_records(&self->obs, KDBUS_LIST_UNIQUE, recs, 16);
	ASSERT_EQ(4, n);	/* obs, a, w, ph */
	for (i = 0; i < n; i++)
		EXPECT_FALSE(recs[i].has_name);
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, self->obs.id, NULL));
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, a.id, NULL));
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, w.id, NULL));
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, ph.id, NULL));
	kdbus_conn_close(&a);
	kdbus_conn_close(&w);
	kdbus_conn_close(&ph);
	kdbus_conn_close(&act);
	kdbus_conn_close(&mon);
}

TEST_F(names, list_unique_with_names_or_queued)
{
	struct kdbus_list_rec recs[16];
	struct kdbus_conn a, w;
	int n;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&w, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N2, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w.fd, N1, QUEUE, NULL));

	/* UNIQUE|NAMES: name records for the owner, bare ones for the rest
	 * (a waiter counts as nameless here). */
	n = kdbus_list_records(&self->obs, KDBUS_LIST_UNIQUE | KDBUS_LIST_NAMES, recs, 16);
	ASSERT_EQ(4, n);
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, a.id, N1));
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, a.id, N2));
	EXPECT_EQ(0, kdbus_list_rec_count(recs, n, a.id, NULL));
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, w.id, NULL));
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, self->obs.id, NULL));

	/* UNIQUE|QUEUED: the waiter's queue record replaces its bare one;
	 * the owner is listed bare. */
	n = kdbus_list_records(&self->obs, KDBUS_LIST_UNIQUE | KDBUS_LIST_QUEUED, recs, 16);
	ASSERT_EQ(3, n);
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, w.id, N1));
	EXPECT_EQ(0, kdbus_list_rec_count(recs, n, w.id, NULL));
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, a.id, NULL));
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, self->obs.id, NULL));

	/* All four flags. */
	n = kdbus_list_records(&self->obs, KDBUS_LIST_UNIQUE | KDBUS_LIST_NAMES |
			       KDBUS_LIST_QUEUED | KDBUS_LIST_ACTIVATORS, recs, 16);
	ASSERT_EQ(4, n);
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, w.id, N1));
	EXPECT_EQ(2, kdbus_list_rec_count(recs, n, a.id, N1) +
		     kdbus_list_rec_count(recs, n, a.id, N2));
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, self->obs.id, NULL));
	kdbus_conn_close(&a);
	kdbus_conn_close(&w);
}

/* connection-pool.md §8.3: the implementer's activator record counts as
 * "added", so under UNIQUE|ACTIVATORS the implementer has no bare record,
 * while the activator (owning nothing) gets one besides that record. */
TEST_F(names, list_unique_activators_with_implementer)
{
	struct kdbus_list_rec recs[16];
	struct kdbus_conn act, impl;
	int n;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, ALLOW, NULL));
	n = kdbus_list_records(&self->obs, KDBUS_LIST_UNIQUE | KDBUS_LIST_ACTIVATORS, recs, 16);
	ASSERT_EQ(3, n);
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, act.id, ACT));
	EXPECT_EQ(ALLOW, kdbus_list_rec_find(recs, n, act.id, ACT)->name_flags);
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, act.id, NULL));
	EXPECT_EQ(0, kdbus_list_rec_count(recs, n, impl.id, NULL));
	EXPECT_EQ(0, kdbus_list_rec_count(recs, n, impl.id, ACT));
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, self->obs.id, NULL));
	kdbus_conn_close(&impl);
	kdbus_conn_close(&act);
}

TEST_F(names, list_on_custom_endpoint_omits_invisible_names)
{
	struct kdbus_list_rec recs[16];
	struct kdbus_conn a, e;
	char ep[64], ep_path[256];
	int epfd, n;

	epfd = kdbus_open_bus(self->tb.d.root, self->tb.bus);
	ASSERT_LE(0, epfd);
	kdbus_domain_name(&self->tb.d, ep, sizeof(ep), "ep");
	ASSERT_EQ(0, kdbus_ep_make(epfd, KDBUS_MAKE_ACCESS_WORLD, ep));
	kdbus_path(ep_path, sizeof(ep_path), self->tb.d.root, "%s/%s", self->tb.bus, ep);
	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&e, ep_path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, 0, NULL));
	/* The endpoint's empty policy hides every name. */
	EXPECT_EQ(0, kdbus_list_records(&e, KDBUS_LIST_NAMES, recs, 16));
	n = kdbus_list_records(&e, KDBUS_LIST_UNIQUE, recs, 16);
	ASSERT_EQ(3, n);
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, a.id, NULL));
	/* A hidden name record still counts as "added": no bare record for a. */
	n = kdbus_list_records(&e, KDBUS_LIST_UNIQUE | KDBUS_LIST_NAMES, recs, 16);
	ASSERT_EQ(2, n);
	EXPECT_EQ(0, kdbus_list_rec_count(recs, n, a.id, NULL));
	EXPECT_EQ(0, kdbus_list_rec_count(recs, n, a.id, N1));
	/* The default endpoint sees it. */
	ASSERT_EQ(1, kdbus_list_records(&self->obs, KDBUS_LIST_NAMES, recs, 16));
	kdbus_conn_close(&a);
	kdbus_conn_close(&e);
	close(epfd);
}

/* ------------------------------------------------------------ SEND by name */

/* Send a plain message with @cookie by name @name and @dst_id. */
static int send_named(int fd, const char *name, uint64_t dst_id, uint64_t flags,
		      uint64_t cookie)
{
	struct kdbus_builder b;

	kdbus_msg_init(&b, dst_id, flags, 0, cookie);
	kdbus_b_str(&b, KDBUS_ITEM_DST_NAME, name);
	return kdbus_msg_send_b(fd, &b, 0, NULL);
}

/* Receive one message on @c: its cookie (0 on failure); checks that it
 * carries DST_NAME @name; frees it. */
static uint64_t recv_named(struct kdbus_conn *c, const char *name)
{
	struct kdbus_cmd_recv r;
	struct kdbus_item *item;
	struct kdbus_msg *m;
	uint64_t cookie = 0;

	if (kdbus_msg_recv(c, 0, 0, &m, &r) < 0 || !m)
		return 0;
	item = kdbus_msg_item(m, KDBUS_ITEM_DST_NAME, 0);
	if (item && !strcmp(item->str, name) && item->size == 16 + strlen(name) + 1)
		cookie = m->cookie;
	kdbus_free(c->fd, r.msg.offset);
	return cookie;
}

TEST_F(names, send_by_name_reaches_owner)
{
	struct kdbus_conn a, w, s;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&w, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&s, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w.fd, N1, QUEUE, NULL));
	ASSERT_EQ(0, send_named(s.fd, N1, KDBUS_DST_ID_NAME, 0, 11));
	EXPECT_EQ(11, recv_named(&a, N1));
	EXPECT_EQ(1, kdbus_queue_empty(&w));
	/* dst_id equal to the owner's id is fine. */
	ASSERT_EQ(0, send_named(s.fd, N1, a.id, 0, 12));
	EXPECT_EQ(12, recv_named(&a, N1));
	/* NO_AUTO_START has no effect on an ordinary owner. */
	ASSERT_EQ(0, send_named(s.fd, N1, 0, KDBUS_MSG_NO_AUTO_START, 13));
	EXPECT_EQ(13, recv_named(&a, N1));
	/* Sending to oneself by name. */
	ASSERT_EQ(0, send_named(a.fd, N1, 0, 0, 14));
	EXPECT_EQ(14, recv_named(&a, N1));
	/* After the owner releases, the waiter is the destination. */
	ASSERT_EQ(0, kdbus_name_release(a.fd, N1));
	ASSERT_EQ(0, send_named(s.fd, N1, 0, 0, 15));
	EXPECT_EQ(15, recv_named(&w, N1));
	EXPECT_EQ(1, kdbus_queue_empty(&a));
	kdbus_conn_close(&a);
	kdbus_conn_close(&w);
	kdbus_conn_close(&s);
}

TEST_F(names, send_by_name_with_wrong_dst_id_eremchg)
{
	struct kdbus_conn a, w, s;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&w, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&s, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(w.fd, N1, QUEUE, NULL));
	EXPECT_EQ(-EREMCHG, send_named(s.fd, N1, w.id, 0, 1));	/* a waiter */
	EXPECT_EQ(-EREMCHG, send_named(s.fd, N1, s.id, 0, 1));
	EXPECT_EQ(-EREMCHG, send_named(s.fd, N1, a.id + 1000, 0, 1));
	EXPECT_EQ(1, kdbus_queue_empty(&a));
	EXPECT_EQ(1, kdbus_queue_empty(&w));
	/* After a hand-over the old owner's id is wrong. */
	ASSERT_EQ(0, kdbus_name_release(a.fd, N1));
	EXPECT_EQ(-EREMCHG, send_named(s.fd, N1, a.id, 0, 1));
	ASSERT_EQ(0, send_named(s.fd, N1, w.id, 0, 2));
	EXPECT_EQ(2, recv_named(&w, N1));
	kdbus_conn_close(&a);
	kdbus_conn_close(&w);
	kdbus_conn_close(&s);
}

TEST_F(names, send_to_released_name_esrch)
{
	struct kdbus_conn a, s;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&s, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N1, 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(a.fd, N2, 0, NULL));
	ASSERT_EQ(0, send_named(s.fd, N1, 0, 0, 1));
	ASSERT_EQ(0, kdbus_name_release(a.fd, N1));
	EXPECT_EQ(-ESRCH, send_named(s.fd, N1, 0, 0, 2));
	EXPECT_EQ(-ESRCH, send_named(s.fd, N1, a.id, 0, 2));
	/* Names of a closed owner too. */
	kdbus_conn_close(&a);
	EXPECT_EQ(-ESRCH, send_named(s.fd, N2, 0, 0, 3));
	kdbus_conn_close(&s);
}

TEST_F(names, send_after_takeover_reaches_implementer)
{
	struct kdbus_conn act, impl, s;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&impl, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&s, self->tb.path, 0, POOL));
	ASSERT_EQ(-EADDRNOTAVAIL, send_named(s.fd, ACT, 0, KDBUS_MSG_NO_AUTO_START, 1));
	ASSERT_EQ(0, kdbus_name_acquire(impl.fd, ACT, 0, NULL));
	/* The implementer is a real owner: NO_AUTO_START is fine now. */
	ASSERT_EQ(0, send_named(s.fd, ACT, 0, KDBUS_MSG_NO_AUTO_START, 2));
	EXPECT_EQ(2, recv_named(&impl, ACT));
	ASSERT_EQ(0, send_named(s.fd, ACT, impl.id, 0, 3));
	EXPECT_EQ(3, recv_named(&impl, ACT));
	EXPECT_EQ(-EREMCHG, send_named(s.fd, ACT, act.id, 0, 4));
	/* Back at the activator. */
	ASSERT_EQ(0, kdbus_name_release(impl.fd, ACT));
	EXPECT_EQ(-EADDRNOTAVAIL, send_named(s.fd, ACT, 0, KDBUS_MSG_NO_AUTO_START, 5));
	EXPECT_EQ(-EREMCHG, send_named(s.fd, ACT, impl.id, 0, 6));
	kdbus_conn_close(&act);
	kdbus_conn_close(&impl);
	kdbus_conn_close(&s);
}

/* ------------------------------------------------------- OWN policy (§3.5) */

struct unpriv_arg {
	const char *path;
	const char *name;
	const char *busy;	/* a name owned by a privileged peer, or NULL */
	int expect;		/* of ACQUIRE(name) */
};

/* Runs as UID 65534 (unprivileged: the bus belongs to root). */
static int unpriv_acquire(void *p)
{
	struct unpriv_arg *a = p;
	struct kdbus_conn c;
	uint64_t rf = 0;

	KDBUS_CHILD_CHECK(kdbus_conn_open(&c, a->path, 0, POOL) == 0);
	KDBUS_CHILD_CHECK(kdbus_name_acquire(c.fd, a->name, 0, &rf) == a->expect);
	KDBUS_CHILD_CHECK(rf == 0);
	if (a->busy) {
		/* EPERM wins over EEXIST and queueing. */
		KDBUS_CHILD_CHECK(kdbus_name_acquire(c.fd, a->busy, 0, NULL) == -EPERM);
		KDBUS_CHILD_CHECK(kdbus_name_acquire(c.fd, a->busy, QUEUE, &rf) == -EPERM);
		KDBUS_CHILD_CHECK(rf == 0);
	}
	kdbus_conn_close(&c);
	return 0;
}

TEST_F(names, unprivileged_acquire_without_policy_eperm)
{
	struct unpriv_arg a = { .path = self->tb.path, .name = N1, .busy = N2, .expect = -EPERM };
	struct kdbus_conn o;

	ASSERT_EQ(0, kdbus_conn_open(&o, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(o.fd, N2, ALLOW, NULL));
	EXPECT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY, unpriv_acquire, &a));
	EXPECT_EQ(-ESRCH, kdbus_name_owner(&self->obs, N1, NULL));
	EXPECT_EQ(o.id, owner_of(&self->obs, N2));
	EXPECT_EQ(0, kdbus_list_records(&self->obs, KDBUS_LIST_QUEUED, NULL, 0));
	kdbus_conn_close(&o);
}

TEST_F(names, policy_holder_granting_own_lets_unprivileged_acquire)
{
	struct unpriv_arg a = { .path = self->tb.path };
	struct kdbus_builder b;
	struct kdbus_conn ph;

	/* OWN for uid 65534 on N1, TALK for everyone on N2. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, N1);
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_USER, KDBUS_POLICY_OWN, KDBUS_TEST_NOBODY);
	ASSERT_EQ(0, kdbus_conn_open_b(&ph, self->tb.path, &b, KDBUS_HELLO_POLICY_HOLDER, 0, 0,
				       POOL));
	{
		struct kdbus_conn ph2;

		kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
		kdbus_b_str(&b, KDBUS_ITEM_NAME, N2);
		kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_TALK, 0);
		ASSERT_EQ(0, kdbus_conn_open_b(&ph2, self->tb.path, &b, KDBUS_HELLO_POLICY_HOLDER,
					       0, 0, POOL));
		a.name = N1;
		a.expect = 0;
		EXPECT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY,
					  unpriv_acquire, &a));
		a.name = N2;
		a.expect = -EPERM;
		EXPECT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY,
					  unpriv_acquire, &a));
		kdbus_conn_close(&ph2);
	}
	/* Another uid is not covered by the USER record. */
	a.name = N1;
	a.expect = -EPERM;
	EXPECT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY - 1, KDBUS_TEST_NOBODY - 1,
				  unpriv_acquire, &a));
	/* Once the policy holder is gone, nobody unprivileged may own N1. */
	kdbus_conn_close(&ph);
	EXPECT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY, unpriv_acquire, &a));
}

TEST_F(names, activator_policy_access_governs_unprivileged_takeover)
{
	struct unpriv_arg a = { .path = self->tb.path };
	struct kdbus_builder b;
	struct kdbus_conn act, act2;

	/* An activator without POLICY_ACCESS: its empty entry grants nothing. */
	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->tb.path, KDBUS_HELLO_ACTIVATOR, N1, POOL));
	a.name = N1;
	a.expect = -EPERM;
	EXPECT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY, unpriv_acquire, &a));
	EXPECT_EQ(act.id, owner_of(&self->obs, N1));
	/* With {WORLD, OWN}: an unprivileged service takes it over. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, N2);
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_OWN, 0);
	ASSERT_EQ(0, kdbus_conn_open_b(&act2, self->tb.path, &b, KDBUS_HELLO_ACTIVATOR, 0, 0,
				       POOL));
	a.name = N2;
	a.expect = 0;
	EXPECT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY, unpriv_acquire, &a));
	/* The child closed its connection: the name is back at the activator. */
	EXPECT_EQ(act2.id, owner_of(&self->obs, N2));
	kdbus_conn_close(&act);
	kdbus_conn_close(&act2);
}

TEST_HARNESS_MAIN
