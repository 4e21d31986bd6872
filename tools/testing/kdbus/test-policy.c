// SPDX-License-Identifier: GPL-2.0
/*
 * Policy (names-match-policy-metadata.md §3): the bus policy of policy
 * holders with real unprivileged users and groups (OWN by user, group,
 * supplementary group and world, TALK in both directions (unicasts, also
 * to activator-held names, unicast signals), replies,
 * wildcards, installation errors, the effect of changes), and custom
 * endpoints enforcing their policy on OWN, TALK and SEE.
 *
 * The bus belongs to root, so connections of root on the default endpoint
 * are privileged. A test body switches its own identity with
 * kdbus_become() (it runs in a child of the harness); connections opened
 * in between belong to that user, which stays unprivileged.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "kdbus-util.h"

#define POOL	(16 * 4096)
#define U1	1001	/* two unprivileged users */
#define U2	1002
#define G1	2001	/* a group */

FIXTURE(pol) {
	struct kdbus_test_bus tb;
	struct kdbus_conn root;		/* privileged, on the default endpoint */
	char ep_path[256];		/* a world-accessible custom endpoint */
	int ep_owner;
};

FIXTURE_SETUP(pol)
{
	char ep[64];

	ASSERT_EQ(0, kdbus_test_bus_setup(&self->tb, "pol", false));
	ASSERT_EQ(0, kdbus_conn_open(&self->root, self->tb.path, 0, POOL));
	self->ep_owner = kdbus_open_bus(self->tb.d.root, self->tb.bus);
	ASSERT_LE(0, self->ep_owner);
	kdbus_domain_name(&self->tb.d, ep, sizeof(ep), "ep");
	ASSERT_EQ(0, kdbus_ep_make(self->ep_owner, KDBUS_MAKE_ACCESS_WORLD, ep));
	kdbus_path(self->ep_path, sizeof(self->ep_path), self->tb.d.root, "%s/%s",
		   self->tb.bus, ep);
}

FIXTURE_TEARDOWN(pol)
{
	kdbus_become_root();
	kdbus_conn_close(&self->root);
	close(self->ep_owner);
	kdbus_test_bus_teardown(&self->tb);
}

/* A policy holder for @name with the @n records {type, access, id}. */
static int holder(struct kdbus_conn *c, const char *path, const char *name,
		  const struct kdbus_policy_access *pa, size_t n)
{
	struct kdbus_builder b;
	size_t i;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, name);
	for (i = 0; i < n; i++)
		kdbus_b_policy(&b, pa[i].type, pa[i].access, pa[i].id);
	return kdbus_conn_open_b(c, path, &b, KDBUS_HELLO_POLICY_HOLDER, 0, 0, POOL);
}

/* UPDATE of a policy holder to @name with the @n records. */
static int holder_update(int fd, const char *name, const struct kdbus_policy_access *pa,
			 size_t n)
{
	struct kdbus_builder b;
	size_t i;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, name);
	for (i = 0; i < n; i++)
		kdbus_b_policy(&b, pa[i].type, pa[i].access, pa[i].id);
	if (b.err)
		return b.err;
	return kdbus_ioctl(fd, KDBUS_CMD_UPDATE, kdbus_b_cmd(&b));
}

/* ENDPOINT_UPDATE of the fixture's endpoint: @name (if any) with the @n
 * records. */
static int ep_update(int fd, const char *name, const struct kdbus_policy_access *pa,
		     size_t n)
{
	struct kdbus_builder b;
	size_t i;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	if (name)
		kdbus_b_str(&b, KDBUS_ITEM_NAME, name);
	for (i = 0; i < n; i++)
		kdbus_b_policy(&b, pa[i].type, pa[i].access, pa[i].id);
	if (b.err)
		return b.err;
	return kdbus_ioctl(fd, KDBUS_CMD_ENDPOINT_UPDATE, kdbus_b_cmd(&b));
}

#define REC(t, a, i)	{ .type = KDBUS_POLICY_ACCESS_##t, .access = KDBUS_POLICY_##a, .id = (i) }

/* Opens a connection as @uid/@gid (with the @n groups @groups), then
 * becomes root again. */
static int open_as(struct kdbus_conn *c, const char *path, uid_t uid, gid_t gid,
		   const gid_t *groups, size_t n)
{
	int ret = kdbus_become(uid, gid, groups, n);

	if (ret == 0)
		ret = kdbus_conn_open(c, path, 0, POOL);
	kdbus_become_root();
	return ret;
}

/* ACQUIRE of @name on @c by @uid/@gid (with @n groups). */
static int acquire_as(struct kdbus_conn *c, const char *name, uid_t uid, gid_t gid,
		      const gid_t *groups, size_t n)
{
	int ret = kdbus_become(uid, gid, groups, n);

	if (ret == 0)
		ret = kdbus_name_acquire(c->fd, name, 0, NULL);
	kdbus_become_root();
	return ret;
}

/* A plain message from @c to @dst_id (or to @name when not NULL), sent by
 * @uid. */
static int send_as(struct kdbus_conn *c, uid_t uid, uint64_t dst_id, const char *name,
		   uint64_t cookie)
{
	int ret = kdbus_become(uid, uid, NULL, 0);

	if (ret == 0)
		ret = name ? kdbus_send_name(c->fd, name, cookie, 0, NULL, 0, "x", 1) :
			     kdbus_send_id(c->fd, dst_id, cookie, 0, NULL, 0, "x", 1);
	kdbus_become_root();
	return ret;
}

/* The cookie of the next message of @c, or -errno. */
static long long recv_cookie(struct kdbus_conn *c)
{
	struct kdbus_msg_summary s;
	int ret = kdbus_recv_summary(c, 0, &s);

	return ret < 0 ? ret : (long long)s.cookie;
}

/* ------------------------------------------------------------------- OWN */

TEST_F(pol, own_by_effective_group_and_by_supplementary_group)
{
	static const struct kdbus_policy_access pa[] = { REC(GROUP, OWN, G1) };
	static const gid_t g1 = G1;
	struct kdbus_conn ph, a, b, c;

	ASSERT_EQ(0, holder(&ph, self->tb.path, "pol.group", pa, 1));
	ASSERT_EQ(0, open_as(&a, self->tb.path, U1, G1, NULL, 0));
	ASSERT_EQ(0, open_as(&b, self->tb.path, U2, U2, &g1, 1));
	ASSERT_EQ(0, open_as(&c, self->tb.path, U2, U2, NULL, 0));
	/* Without the group, then as the group's member (egid, then aux). */
	EXPECT_EQ(-EPERM, acquire_as(&c, "pol.group", U2, U2, NULL, 0));
	EXPECT_EQ(0, acquire_as(&a, "pol.group", U1, G1, NULL, 0));
	EXPECT_EQ(0, kdbus_name_release(a.fd, "pol.group"));
	EXPECT_EQ(0, acquire_as(&b, "pol.group", U2, U2, &g1, 1));
	/* The check uses the caller's current credentials, not HELLO's. */
	EXPECT_EQ(0, kdbus_name_release(b.fd, "pol.group"));
	EXPECT_EQ(-EPERM, acquire_as(&b, "pol.group", U2, U2, NULL, 0));
	EXPECT_EQ(0, acquire_as(&c, "pol.group", U2, U2, &g1, 1));
	kdbus_conn_close(&a);
	kdbus_conn_close(&b);
	kdbus_conn_close(&c);
	kdbus_conn_close(&ph);
}

TEST_F(pol, talk_or_see_alone_does_not_grant_own)
{
	static const struct kdbus_policy_access talk[] = { REC(WORLD, TALK, 0) };
	static const struct kdbus_policy_access see[] = { REC(USER, SEE, U1) };
	struct kdbus_conn ph1, ph2, a;

	ASSERT_EQ(0, holder(&ph1, self->tb.path, "pol.talk", talk, 1));
	ASSERT_EQ(0, holder(&ph2, self->tb.path, "pol.see", see, 1));
	ASSERT_EQ(0, open_as(&a, self->tb.path, U1, U1, NULL, 0));
	EXPECT_EQ(-EPERM, acquire_as(&a, "pol.talk", U1, U1, NULL, 0));
	EXPECT_EQ(-EPERM, acquire_as(&a, "pol.see", U1, U1, NULL, 0));
	kdbus_conn_close(&a);
	kdbus_conn_close(&ph1);
	kdbus_conn_close(&ph2);
}

TEST_F(pol, policy_update_applies_to_next_acquire_owned_names_stay)
{
	static const struct kdbus_policy_access own[] = { REC(WORLD, OWN, 0) };
	static const struct kdbus_policy_access u2[] = { REC(USER, OWN, U2) };
	struct kdbus_conn ph, a, b;
	uint64_t id;

	ASSERT_EQ(0, holder(&ph, self->tb.path, "pol.upd", own, 1));
	ASSERT_EQ(0, open_as(&a, self->tb.path, U1, U1, NULL, 0));
	ASSERT_EQ(0, open_as(&b, self->tb.path, U2, U2, NULL, 0));
	ASSERT_EQ(0, acquire_as(&a, "pol.upd", U1, U1, NULL, 0));
	/* Revoke: a keeps the name, a waiter may no longer queue. */
	ASSERT_EQ(0, holder_update(ph.fd, "pol.upd", NULL, 0));
	ASSERT_EQ(0, kdbus_name_owner(&self->root, "pol.upd", &id));
	EXPECT_EQ(a.id, id);
	EXPECT_EQ(-EPERM, acquire_as(&b, "pol.upd", U2, U2, NULL, 0));
	EXPECT_EQ(0, kdbus_name_release(a.fd, "pol.upd"));
	EXPECT_EQ(-EPERM, acquire_as(&a, "pol.upd", U1, U1, NULL, 0));
	/* Grant again, to U2 only. */
	ASSERT_EQ(0, holder_update(ph.fd, "pol.upd", u2, 1));
	EXPECT_EQ(-EPERM, acquire_as(&a, "pol.upd", U1, U1, NULL, 0));
	EXPECT_EQ(0, acquire_as(&b, "pol.upd", U2, U2, NULL, 0));
	kdbus_conn_close(&a);
	kdbus_conn_close(&b);
	kdbus_conn_close(&ph);
}

/* -------------------------------------------------------------- wildcards */

TEST_F(pol, wildcard_covers_exactly_one_more_level)
{
	static const struct kdbus_policy_access own[] = { REC(WORLD, OWN, 0) };
	struct kdbus_conn ph, a;

	ASSERT_EQ(0, holder(&ph, self->tb.path, "org.pol.*", own, 1));
	ASSERT_EQ(0, open_as(&a, self->tb.path, U1, U1, NULL, 0));
	EXPECT_EQ(0, acquire_as(&a, "org.pol.bar", U1, U1, NULL, 0));
	EXPECT_EQ(0, acquire_as(&a, "org.pol.x-1", U1, U1, NULL, 0));
	EXPECT_EQ(0, acquire_as(&a, "org.pol._", U1, U1, NULL, 0));
	EXPECT_EQ(-EPERM, acquire_as(&a, "org.pol", U1, U1, NULL, 0));
	EXPECT_EQ(-EPERM, acquire_as(&a, "org.pol.bar.baz", U1, U1, NULL, 0));
	EXPECT_EQ(-EPERM, acquire_as(&a, "org.polx.bar", U1, U1, NULL, 0));
	EXPECT_EQ(-EPERM, acquire_as(&a, "org.po.bar", U1, U1, NULL, 0));
	kdbus_conn_close(&a);
	kdbus_conn_close(&ph);
}

TEST_F(pol, empty_exact_entry_shadows_wildcard)
{
	static const struct kdbus_policy_access own[] = { REC(WORLD, OWN, 0) };
	struct kdbus_conn ph1, ph2, a;

	ASSERT_EQ(0, holder(&ph1, self->tb.path, "org.sh.*", own, 1));
	ASSERT_EQ(0, holder(&ph2, self->tb.path, "org.sh.bar", NULL, 0));
	ASSERT_EQ(0, open_as(&a, self->tb.path, U1, U1, NULL, 0));
	EXPECT_EQ(-EPERM, acquire_as(&a, "org.sh.bar", U1, U1, NULL, 0));
	EXPECT_EQ(0, acquire_as(&a, "org.sh.qux", U1, U1, NULL, 0));
	/* Once the exact entry is gone the wildcard applies again. */
	kdbus_conn_close(&ph2);
	EXPECT_EQ(0, acquire_as(&a, "org.sh.bar", U1, U1, NULL, 0));
	kdbus_conn_close(&a);
	kdbus_conn_close(&ph1);
}

TEST_F(pol, exact_and_wildcard_entries_coexist_duplicates_eexist)
{
	struct kdbus_conn ph1, ph2, ph3, ph4;

	ASSERT_EQ(0, holder(&ph1, self->tb.path, "org.dup", NULL, 0));
	ASSERT_EQ(0, holder(&ph2, self->tb.path, "org.dup.*", NULL, 0));
	EXPECT_EQ(-EEXIST, holder(&ph3, self->tb.path, "org.dup.*", NULL, 0));
	EXPECT_EQ(-EEXIST, holder(&ph3, self->tb.path, "org.dup", NULL, 0));
	/* UPDATE onto a name another holder has: EEXIST, own entry kept. */
	ASSERT_EQ(0, holder(&ph4, self->tb.path, "org.dup.other", NULL, 0));
	EXPECT_EQ(-EEXIST, holder_update(ph4.fd, "org.dup.*", NULL, 0));
	EXPECT_EQ(-EEXIST, holder(&ph3, self->tb.path, "org.dup.other", NULL, 0));
	/* The entry of a closed holder can be installed again. */
	kdbus_conn_close(&ph2);
	EXPECT_EQ(0, holder(&ph3, self->tb.path, "org.dup.*", NULL, 0));
	kdbus_conn_close(&ph1);
	kdbus_conn_close(&ph3);
	kdbus_conn_close(&ph4);
}

TEST_F(pol, malformed_policy_einval)
{
	static const char *const bad[] = { "org.*.*", "org.*.x", "*", "org.foo*", "*.org",
					   "org..*", ":1.42", "org.foo.*.*" };
	static const struct kdbus_policy_access unmapped[] = { REC(USER, OWN, 0xffffffffu) };
	struct kdbus_conn c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, holder(&c, self->tb.path, bad[i], NULL, 0)) TH_LOG("%s", bad[i]);
		EXPECT_EQ(-EINVAL, ep_update(self->ep_owner, bad[i], NULL, 0)) TH_LOG("%s", bad[i]);
	}
	/* (uid_t)-1 has no mapping in any namespace. */
	EXPECT_EQ(-EINVAL, holder(&c, self->tb.path, "org.unmapped", unmapped, 1));
	EXPECT_EQ(-EINVAL, ep_update(self->ep_owner, "org.unmapped", unmapped, 1));
}

/* ------------------------------------------------------------------ TALK */

TEST_F(pol, talk_to_other_uid_needs_talk_on_one_of_the_peers_names)
{
	static const struct kdbus_policy_access own2[] = { REC(USER, OWN, U2) };
	static const struct kdbus_policy_access talk[] = { REC(USER, OWN, U2),
							   REC(USER, TALK, U1) };
	struct kdbus_conn ph1, ph2, a, p;

	/* P (U2) owns pol.p.one and pol.p.two; pol.p.two's holder will
	 * grant TALK to U1. */
	ASSERT_EQ(0, holder(&ph1, self->tb.path, "pol.p.one", own2, 1));
	ASSERT_EQ(0, holder(&ph2, self->tb.path, "pol.p.two", own2, 1));
	ASSERT_EQ(0, open_as(&a, self->tb.path, U1, U1, NULL, 0));
	ASSERT_EQ(0, open_as(&p, self->tb.path, U2, U2, NULL, 0));
	ASSERT_EQ(0, acquire_as(&p, "pol.p.one", U2, U2, NULL, 0));
	ASSERT_EQ(0, acquire_as(&p, "pol.p.two", U2, U2, NULL, 0));
	EXPECT_EQ(-EPERM, send_as(&a, U1, p.id, NULL, 1));
	EXPECT_EQ(-EPERM, send_as(&a, U1, 0, "pol.p.one", 2));
	/* The privileged root talks to anyone. */
	EXPECT_EQ(0, kdbus_send_id(self->root.fd, p.id, 3, 0, NULL, 0, "x", 1));
	EXPECT_EQ(3, recv_cookie(&p));
	ASSERT_EQ(0, holder_update(ph2.fd, "pol.p.two", talk, 2));
	/* TALK on one name: by ID and by every name of P. */
	EXPECT_EQ(0, send_as(&a, U1, p.id, NULL, 4));
	EXPECT_EQ(0, send_as(&a, U1, 0, "pol.p.one", 5));
	EXPECT_EQ(0, send_as(&a, U1, 0, "pol.p.two", 6));
	EXPECT_EQ(4, recv_cookie(&p));
	EXPECT_EQ(5, recv_cookie(&p));
	EXPECT_EQ(6, recv_cookie(&p));
	/* Without the name the grant is gone (names at check time). */
	ASSERT_EQ(0, kdbus_name_release(p.fd, "pol.p.two"));
	EXPECT_EQ(-EPERM, send_as(&a, U1, p.id, NULL, 7));
	kdbus_conn_close(&a);
	kdbus_conn_close(&p);
	kdbus_conn_close(&ph1);
	kdbus_conn_close(&ph2);
}

TEST_F(pol, talk_to_same_uid_needs_no_policy)
{
	struct kdbus_conn a, b;

	ASSERT_EQ(0, open_as(&a, self->tb.path, U1, U1, NULL, 0));
	ASSERT_EQ(0, open_as(&b, self->tb.path, U1, U1, NULL, 0));
	EXPECT_EQ(0, send_as(&a, U1, b.id, NULL, 1));
	EXPECT_EQ(1, recv_cookie(&b));
	/* The sender's current euid counts: as U2 the same handle may not. */
	EXPECT_EQ(-EPERM, send_as(&a, U2, b.id, NULL, 2));
	kdbus_conn_close(&a);
	kdbus_conn_close(&b);
}

TEST_F(pol, reply_to_pending_call_needs_no_talk)
{
	struct kdbus_msg_summary s;
	struct kdbus_conn a;
	int ret;

	ASSERT_EQ(0, open_as(&a, self->tb.path, U1, U1, NULL, 0));
	/* U1 may not talk to root's nameless connection... */
	EXPECT_EQ(-EPERM, send_as(&a, U1, self->root.id, NULL, 1));
	/* ...but may answer its call. */
	ASSERT_EQ(0, kdbus_send_id(self->root.fd, a.id, 2, kdbus_now_ns() + 10000000000ULL,
				   NULL, 0, "q", 1));
	ASSERT_EQ(0, kdbus_recv_summary(&a, 0, &s));
	ASSERT_EQ(2, s.cookie);
	ASSERT_EQ(0, kdbus_become(U1, U1, NULL, 0));
	ret = kdbus_reply_send(a.fd, self->root.id, 3, 2, "r", 1);
	/* A second "reply" has no pending call left: EPERM. */
	EXPECT_EQ(-EPERM, kdbus_reply_send(a.fd, self->root.id, 4, 2, "r", 1));
	ASSERT_EQ(0, kdbus_become_root());
	EXPECT_EQ(0, ret);
	ASSERT_EQ(0, kdbus_recv_summary(&self->root, 0, &s));
	EXPECT_EQ(3, s.cookie);
	EXPECT_EQ(2, s.cookie_reply);
	kdbus_conn_close(&a);
}

TEST_F(pol, queued_messages_survive_a_revoked_talk)
{
	static const struct kdbus_policy_access grant[] = { REC(USER, OWN, U2),
							    REC(WORLD, TALK, 0) };
	static const struct kdbus_policy_access own2[] = { REC(USER, OWN, U2) };
	struct kdbus_conn ph, a, p;

	ASSERT_EQ(0, holder(&ph, self->tb.path, "pol.rev", grant, 2));
	ASSERT_EQ(0, open_as(&a, self->tb.path, U1, U1, NULL, 0));
	ASSERT_EQ(0, open_as(&p, self->tb.path, U2, U2, NULL, 0));
	ASSERT_EQ(0, acquire_as(&p, "pol.rev", U2, U2, NULL, 0));
	ASSERT_EQ(0, send_as(&a, U1, 0, "pol.rev", 1));
	ASSERT_EQ(0, holder_update(ph.fd, "pol.rev", own2, 1));
	EXPECT_EQ(-EPERM, send_as(&a, U1, 0, "pol.rev", 2));
	EXPECT_EQ(1, recv_cookie(&p));
	/* A policy holder's death takes its entries with it. */
	ASSERT_EQ(0, holder_update(ph.fd, "pol.rev", grant, 2));
	EXPECT_EQ(0, send_as(&a, U1, 0, "pol.rev", 3));
	kdbus_conn_close(&ph);
	EXPECT_EQ(-EPERM, send_as(&a, U1, p.id, NULL, 4));
	EXPECT_EQ(3, recv_cookie(&p));
	kdbus_conn_close(&a);
	kdbus_conn_close(&p);
}

TEST_F(pol, send_to_activator_name_needs_talk_to_the_activator)
{
	static const struct kdbus_policy_access talk1[] = { REC(USER, TALK, U1) };
	struct kdbus_msg_summary s;
	struct kdbus_conn act1, act2, a, b;

	/* Root's activators: privileged, but not of U1's or U2's uid. */
	ASSERT_EQ(0, kdbus_conn_open_activator(&act1, self->tb.path, 0, "pol.act.none",
					       NULL, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open_activator(&act2, self->tb.path, 0, "pol.act.talk",
					       talk1, 1, POOL));
	ASSERT_EQ(0, open_as(&a, self->tb.path, U1, U1, NULL, 0));
	ASSERT_EQ(0, open_as(&b, self->tb.path, U2, U2, NULL, 0));
	/* No TALK record for the name: EPERM, nothing queued. */
	EXPECT_EQ(-EPERM, send_as(&a, U1, 0, "pol.act.none", 1));
	EXPECT_EQ(-EAGAIN, kdbus_recv_summary_flags(&act1, KDBUS_RECV_PEEK, 0, &s));
	/* TALK for U1 only: U1's message queues at the activator. */
	EXPECT_EQ(-EPERM, send_as(&b, U2, 0, "pol.act.talk", 2));
	EXPECT_EQ(0, send_as(&a, U1, 0, "pol.act.talk", 3));
	ASSERT_EQ(0, kdbus_recv_summary_flags(&act2, KDBUS_RECV_PEEK, 0, &s));
	EXPECT_EQ(3, s.cookie);
	EXPECT_EQ(a.id, s.src_id);
	kdbus_conn_close(&a);
	kdbus_conn_close(&b);
	kdbus_conn_close(&act1);
	kdbus_conn_close(&act2);
}

TEST_F(pol, unicast_signal_needs_receivers_talk_to_sender)
{
	static const struct kdbus_policy_access grant[] = { REC(USER, OWN, U1),
							    REC(USER, TALK, U2) };
	struct kdbus_msg_summary s;
	struct kdbus_conn ph, snd, other, same;
	uint64_t bloom;
	int ret;

	ASSERT_EQ(0, holder(&ph, self->tb.path, "pol.sig", grant, 2));
	ASSERT_EQ(0, open_as(&snd, self->tb.path, U1, U1, NULL, 0));
	ASSERT_EQ(0, open_as(&other, self->tb.path, U2, U2, NULL, 0));
	ASSERT_EQ(0, open_as(&same, self->tb.path, U1, U1, NULL, 0));
	bloom = kdbus_conn_bloom_size(&snd);
	ASSERT_LT(0, bloom);
	/* An all-zero bloom mask: every signal, no notification. */
	ASSERT_EQ(0, kdbus_match_add(other.fd, 1, 0, KDBUS_RULE_BLOOM(NULL, bloom)));
	ASSERT_EQ(0, kdbus_match_add(same.fd, 1, 0, KDBUS_RULE_BLOOM(NULL, bloom)));

	/* U2 may not talk to the nameless U1 sender: not delivered, SEND 0;
	 * a receiver of the sender's uid gets it. */
	ASSERT_EQ(0, kdbus_become(U1, U1, NULL, 0));
	ret = kdbus_signal_send(snd.fd, other.id, 1, 0, NULL, bloom, NULL, 0);
	EXPECT_EQ(0, kdbus_signal_send(snd.fd, same.id, 2, 0, NULL, bloom, NULL, 0));
	ASSERT_EQ(0, kdbus_become_root());
	EXPECT_EQ(0, ret);
	EXPECT_EQ(-EAGAIN, kdbus_recv_summary(&other, 0, &s));
	EXPECT_EQ(0, s.dropped_msgs);
	ASSERT_EQ(0, kdbus_recv_summary(&same, 0, &s));
	EXPECT_EQ(2, s.cookie);

	/* Once the sender owns a name granting U2 TALK, it is delivered. */
	ASSERT_EQ(0, acquire_as(&snd, "pol.sig", U1, U1, NULL, 0));
	ASSERT_EQ(0, kdbus_become(U1, U1, NULL, 0));
	ret = kdbus_signal_send(snd.fd, other.id, 3, 0, NULL, bloom, NULL, 0);
	ASSERT_EQ(0, kdbus_become_root());
	EXPECT_EQ(0, ret);
	ASSERT_EQ(0, kdbus_recv_summary(&other, 0, &s));
	EXPECT_EQ(3, s.cookie);
	EXPECT_EQ(snd.id, s.src_id);
	kdbus_conn_close(&snd);
	kdbus_conn_close(&other);
	kdbus_conn_close(&same);
	kdbus_conn_close(&ph);
}

/* ------------------------------------------------------- custom endpoints */

/* SEND reads a message's header first and may refuse it for the receiver's
 * quota before reading the rest (deviations.rst); a sender that may not
 * talk to the receiver is refused for that, and learns nothing of the
 * receiver's quota. */
TEST_F(pol, talk_is_checked_before_the_receivers_quota)
{
	static const struct kdbus_policy_access grant[] = { REC(USER, OWN, U2),
							    REC(WORLD, TALK, 0) };
	static const struct kdbus_policy_access own2[] = { REC(USER, OWN, U2) };
	struct kdbus_conn ph, a, p;
	int i, ret = 0;

	ASSERT_EQ(0, holder(&ph, self->tb.path, "pol.quota", grant, 2));
	ASSERT_EQ(0, open_as(&a, self->tb.path, U1, U1, NULL, 0));
	ASSERT_EQ(0, open_as(&p, self->tb.path, U2, U2, NULL, 0));
	ASSERT_EQ(0, acquire_as(&p, "pol.quota", U2, U2, NULL, 0));
	/* U1 uses up its share of P's queue while it may talk to P. */
	ASSERT_EQ(0, kdbus_become(U1, U1, NULL, 0));
	for (i = 1; i <= 512 && ret == 0; i++)	/* the limit is 256 messages */
		ret = kdbus_send_id(a.fd, p.id, i, 0, NULL, 0, "x", 1);
	ASSERT_EQ(0, kdbus_become_root());
	ASSERT_EQ(-ENOBUFS, ret);
	/* Then it may not any more: EPERM, not the quota's ENOBUFS. */
	ASSERT_EQ(0, holder_update(ph.fd, "pol.quota", own2, 1));
	EXPECT_EQ(-EPERM, send_as(&a, U1, p.id, NULL, 9999));
	EXPECT_EQ(1, recv_cookie(&p));
	kdbus_conn_close(&a);
	kdbus_conn_close(&p);
	kdbus_conn_close(&ph);
}

TEST_F(pol, fresh_custom_endpoint_can_neither_own_nor_talk)
{
	struct kdbus_conn e, peer;

	/* Opened by root, the bus owner: never privileged on a custom
	 * endpoint. */
	ASSERT_EQ(0, kdbus_conn_open(&e, self->ep_path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&peer, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(peer.fd, "pol.peer", 0, NULL));
	EXPECT_EQ(-EPERM, kdbus_name_acquire(e.fd, "pol.mine", 0, NULL));
	EXPECT_EQ(-EPERM, kdbus_send_id(e.fd, peer.id, 1, 0, NULL, 0, "x", 1));
	EXPECT_EQ(-EPERM, kdbus_send_id(e.fd, self->root.id, 2, 0, NULL, 0, "x", 1));
	/* Not even to itself (it owns no name). */
	EXPECT_EQ(-EPERM, kdbus_send_id(e.fd, e.id, 3, 0, NULL, 0, "x", 1));
	kdbus_conn_close(&e);
	kdbus_conn_close(&peer);
}

TEST_F(pol, custom_endpoint_own_needs_endpoint_and_bus_policy)
{
	static const struct kdbus_policy_access own[] = { REC(WORLD, OWN, 0) };
	struct kdbus_conn e, ph;

	ASSERT_EQ(0, ep_update(self->ep_owner, "pol.eown", own, 1));
	ASSERT_EQ(0, kdbus_conn_open(&e, self->ep_path, 0, POOL));
	/* Endpoint grants, bus policy does not (root is unprivileged here). */
	EXPECT_EQ(-EPERM, kdbus_name_acquire(e.fd, "pol.eown", 0, NULL));
	ASSERT_EQ(0, holder(&ph, self->tb.path, "pol.eown", own, 1));
	EXPECT_EQ(0, kdbus_name_acquire(e.fd, "pol.eown", 0, NULL));
	EXPECT_EQ(0, kdbus_name_release(e.fd, "pol.eown"));
	/* Bus grants, endpoint does not. */
	ASSERT_EQ(0, ep_update(self->ep_owner, "pol.other", own, 1));
	EXPECT_EQ(-EPERM, kdbus_name_acquire(e.fd, "pol.eown", 0, NULL));
	kdbus_conn_close(&e);
	kdbus_conn_close(&ph);
}

TEST_F(pol, custom_endpoint_talk_to_same_uid_needs_endpoint_talk)
{
	static const struct kdbus_policy_access talk[] = { REC(WORLD, TALK, 0) };
	struct kdbus_conn e, peer, nameless;

	ASSERT_EQ(0, kdbus_conn_open(&e, self->ep_path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&peer, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&nameless, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(peer.fd, "pol.t.one", 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(peer.fd, "pol.t.two", 0, NULL));
	ASSERT_EQ(0, ep_update(self->ep_owner, "pol.t.other", talk, 1));
	EXPECT_EQ(-EPERM, kdbus_send_id(e.fd, peer.id, 1, 0, NULL, 0, "x", 1));
	/* TALK on one of its names: by ID and by either name. */
	ASSERT_EQ(0, ep_update(self->ep_owner, "pol.t.two", talk, 1));
	EXPECT_EQ(0, kdbus_send_id(e.fd, peer.id, 2, 0, NULL, 0, "x", 1));
	EXPECT_EQ(0, kdbus_send_name(e.fd, "pol.t.one", 3, 0, NULL, 0, "x", 1));
	EXPECT_EQ(2, recv_cookie(&peer));
	EXPECT_EQ(3, recv_cookie(&peer));
	/* A nameless peer is never talkable from a custom endpoint. */
	EXPECT_EQ(-EPERM, kdbus_send_id(e.fd, nameless.id, 4, 0, NULL, 0, "x", 1));
	/* The other direction is governed by the default endpoint alone. */
	EXPECT_EQ(0, kdbus_send_id(nameless.fd, e.id, 5, 0, NULL, 0, "x", 1));
	EXPECT_EQ(5, recv_cookie(&e));
	kdbus_conn_close(&e);
	kdbus_conn_close(&peer);
	kdbus_conn_close(&nameless);
}

TEST_F(pol, custom_endpoint_hides_what_it_does_not_grant)
{
	static const struct kdbus_policy_access see[] = { REC(WORLD, SEE, 0) };
	struct kdbus_conn e, peer, nameless;
	struct kdbus_info *info;

	ASSERT_EQ(0, kdbus_conn_open(&e, self->ep_path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&peer, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&nameless, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(peer.fd, "pol.h.hidden", 0, NULL));
	EXPECT_EQ(-ESRCH, kdbus_conn_info(e.fd, e.pool, 0, "pol.h.hidden", 0, &info, NULL));
	EXPECT_EQ(-ENXIO, kdbus_conn_info(e.fd, e.pool, peer.id, NULL, 0, &info, NULL));
	EXPECT_EQ(-ENXIO, kdbus_conn_info(e.fd, e.pool, nameless.id, NULL, 0, &info, NULL));
	/* SEND does not hide: EPERM for an existing name, ESRCH otherwise. */
	EXPECT_EQ(-EPERM, kdbus_send_name(e.fd, "pol.h.hidden", 1, 0, NULL, 0, "x", 1));
	EXPECT_EQ(-ESRCH, kdbus_send_name(e.fd, "pol.h.none", 2, 0, NULL, 0, "x", 1));
	/* SEE makes both lookups work, but not SEND (that needs TALK). */
	ASSERT_EQ(0, ep_update(self->ep_owner, "pol.h.hidden", see, 1));
	ASSERT_EQ(0, kdbus_conn_info(e.fd, e.pool, 0, "pol.h.hidden", 0, &info, NULL));
	EXPECT_EQ(peer.id, info->id);
	EXPECT_EQ(0, kdbus_info_free(e.fd, e.pool, info));
	ASSERT_EQ(0, kdbus_conn_info(e.fd, e.pool, peer.id, NULL, 0, &info, NULL));
	EXPECT_EQ(0, kdbus_info_free(e.fd, e.pool, info));
	EXPECT_EQ(-EPERM, kdbus_send_name(e.fd, "pol.h.hidden", 3, 0, NULL, 0, "x", 1));
	/* An update without items revokes all of it. */
	ASSERT_EQ(0, ep_update(self->ep_owner, NULL, NULL, 0));
	EXPECT_EQ(-ESRCH, kdbus_conn_info(e.fd, e.pool, 0, "pol.h.hidden", 0, &info, NULL));
	EXPECT_EQ(-ENXIO, kdbus_conn_info(e.fd, e.pool, peer.id, NULL, 0, &info, NULL));
	kdbus_conn_close(&e);
	kdbus_conn_close(&peer);
	kdbus_conn_close(&nameless);
}

TEST_F(pol, custom_endpoint_see_shows_name_in_list_and_notifications)
{
	static const struct kdbus_policy_access see[] = { REC(WORLD, SEE, 0) };
	struct kdbus_list_rec recs[16];
	struct kdbus_msg_summary s;
	struct kdbus_conn e, peer;
	int n;

	ASSERT_EQ(0, ep_update(self->ep_owner, "pol.v.shown", see, 1));
	ASSERT_EQ(0, kdbus_conn_open(&e, self->ep_path, 0, POOL));
	ASSERT_EQ(0, kdbus_match_add(e.fd, 1, 0,
				     KDBUS_RULE_NAME_ADD(0, KDBUS_MATCH_ID_ANY, NULL)));
	ASSERT_EQ(0, kdbus_conn_open(&peer, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(peer.fd, "pol.v.hidden", 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(peer.fd, "pol.v.shown", 0, NULL));
	ASSERT_EQ(0, kdbus_recv_summary(&e, 0, &s));
	EXPECT_TRUE(kdbus_is_name_notify(&s, KDBUS_ITEM_NAME_ADD, 0, peer.id, "pol.v.shown"));
	EXPECT_EQ(-EAGAIN, kdbus_recv_summary(&e, 0, &s));
	n = kdbus_list_records(&e, KDBUS_LIST_NAMES, recs, 16);
	ASSERT_LE(0, n);
	EXPECT_EQ(1, kdbus_list_rec_count(recs, n, peer.id, "pol.v.shown"));
	EXPECT_EQ(0, kdbus_list_rec_count(recs, n, peer.id, "pol.v.hidden"));
	kdbus_conn_close(&e);
	kdbus_conn_close(&peer);
}

TEST_F(pol, endpoint_update_on_a_connection_ebadfd)
{
	EXPECT_EQ(-EBADFD, ep_update(self->root.fd, NULL, NULL, 0));
}

TEST_F(pol, custom_endpoint_receiver_of_broadcast_needs_endpoint_talk)
{
	static const struct kdbus_policy_access talk[] = { REC(WORLD, TALK, 0) };
	struct kdbus_msg_summary s;
	struct kdbus_conn e, snd;

	ASSERT_EQ(0, kdbus_conn_open(&e, self->ep_path, 0, POOL));
	ASSERT_EQ(0, kdbus_match_add(e.fd, 1, 0));
	ASSERT_EQ(0, kdbus_conn_open(&snd, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(snd.fd, "pol.b.snd", 0, NULL));
	/* Same uid, but the endpoint grants nothing: skipped. */
	ASSERT_EQ(0, kdbus_broadcast(&snd, 1, NULL));
	EXPECT_EQ(-EAGAIN, kdbus_recv_summary(&e, 0, &s));
	EXPECT_EQ(0, s.dropped_msgs);
	ASSERT_EQ(0, ep_update(self->ep_owner, "pol.b.snd", talk, 1));
	ASSERT_EQ(0, kdbus_broadcast(&snd, 2, NULL));
	ASSERT_EQ(0, kdbus_recv_summary(&e, 0, &s));
	EXPECT_EQ(2, s.cookie);
	kdbus_conn_close(&e);
	kdbus_conn_close(&snd);
}

/* In a user namespace mapping its uid 0 to U1: records name ids of that
 * namespace; an id without a mapping there is EINVAL. */
static int update_in_userns(void *arg)
{
	static const struct kdbus_policy_access root_see[] = { REC(USER, SEE, 0) };
	static const struct kdbus_policy_access unmapped[] = { REC(USER, SEE, 5) };
	int fd = *(int *)arg;

	KDBUS_CHILD_CHECK(ep_update(fd, "pol.ns.name", unmapped, 1) == -EINVAL);
	KDBUS_CHILD_CHECK(ep_update(fd, "pol.ns.name", root_see, 1) == 0);
	return 0;
}

TEST_F(pol, policy_ids_are_read_in_the_callers_user_namespace)
{
	static const struct kdbus_userns ns = {
		.creator_uid = U1, .creator_gid = U1,
		.uid_map = "0 1001 1", .gid_map = "0 1001 1",
		.uid = 0, .gid = 0,
	};
	struct kdbus_conn e1, e2, peer;
	struct kdbus_info *info;

	ASSERT_EQ(0, kdbus_conn_open(&peer, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_name_acquire(peer.fd, "pol.ns.name", 0, NULL));
	ASSERT_EQ(0, kdbus_run_userns(&ns, update_in_userns, &self->ep_owner));
	/* The record is for U1 (uid 0 inside), not for U2 nor for root. */
	ASSERT_EQ(0, open_as(&e1, self->ep_path, U1, U1, NULL, 0));
	ASSERT_EQ(0, open_as(&e2, self->ep_path, U2, U2, NULL, 0));
	ASSERT_EQ(0, kdbus_become(U1, U1, NULL, 0));
	EXPECT_EQ(0, kdbus_conn_info(e1.fd, e1.pool, 0, "pol.ns.name", 0, &info, NULL));
	ASSERT_EQ(0, kdbus_become(U2, U2, NULL, 0));
	EXPECT_EQ(-ESRCH, kdbus_conn_info(e2.fd, e2.pool, 0, "pol.ns.name", 0, &info, NULL));
	ASSERT_EQ(0, kdbus_become_root());
	EXPECT_EQ(-ESRCH, kdbus_conn_info(e1.fd, e1.pool, 0, "pol.ns.name", 0, &info, NULL));
	kdbus_conn_close(&e1);
	kdbus_conn_close(&e2);
	kdbus_conn_close(&peer);
}

TEST_HARNESS_MAIN
