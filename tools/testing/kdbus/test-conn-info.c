// SPDX-License-Identifier: GPL-2.0
/*
 * KDBUS_CMD_CONN_INFO and KDBUS_CMD_BUS_CREATOR_INFO basics
 * (connection-pool.md §7, abi.md §4.4, §8.4, checklist §15 "CONN_INFO"):
 * lookup by id and by (activator-held) name and their errors, argument
 * checks, which metadata an answer carries, the HELLO-time snapshot, the
 * slice size, and visibility on a custom endpoint.
 *
 * The EXFULL case is in test-pool.c. "CONN_INFO by name returns the
 * current owner" for an ordinary owner, and the OWNED_NAME items of
 * ordinary owners / queued names are tested in test-names.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

#define POOL	KDBUS_TEST_POOL_SIZE
#define ACT	"org.kdbus.t.act"

FIXTURE(ci) {
	struct kdbus_domain d;
	char bus[64];
	char path[256];		/* <root>/<bus>/bus */
	int owner;
	char param[64];
};

FIXTURE_SETUP(ci)
{
	self->param[0] = 0;
	ASSERT_EQ(0, kdbus_domain_init(&self->d));
	self->owner = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "ci", self->bus);
	ASSERT_LE(0, self->owner);
	kdbus_path(self->path, sizeof(self->path), self->d.root, "%s/bus", self->bus);
	/* Every test here sees the default module mask. */
	ASSERT_EQ(0, kdbus_param_set(KDBUS_PARAM_DEFAULT, self->param, sizeof(self->param)));
}

FIXTURE_TEARDOWN(ci)
{
	if (self->param[0])
		kdbus_write_file(KDBUS_PARAM_PATH, self->param);
	if (self->owner >= 0)
		close(self->owner);
	kdbus_domain_fini(&self->d);
}

/* A connection with a description and the given send mask. */
static int open_described(struct kdbus_conn *c, const char *path, const char *desc,
			  uint64_t flags, uint64_t send)
{
	struct kdbus_builder b;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	kdbus_b_str(&b, KDBUS_ITEM_CONN_DESCRIPTION, desc);
	return kdbus_conn_open_b(c, path, &b, flags, send, 0, POOL);
}

/* Raw CONN_INFO with an optional extra item; the command stays in @b. */
static int info_cmd(int fd, struct kdbus_builder *b, uint64_t flags, uint64_t id,
		    uint64_t attach)
{
	struct kdbus_cmd_info *cmd = kdbus_b_cmd(b);

	cmd->flags = flags;
	cmd->id = id;
	cmd->attach_flags = attach;
	return kdbus_ioctl(fd, KDBUS_CMD_CONN_INFO, cmd);
}

/* Collect the item types of @info into @types (at most @max); returns the
 * count. */
static int item_types(struct kdbus_info *info, uint64_t *types, int max)
{
	struct kdbus_item *item;
	int n = 0;

	KDBUS_ITEM_FOREACH(item, info, items) {
		if (n < max)
			types[n] = item->type;
		n++;
	}
	return n;
}

/* ---------------------------------------------------------------- lookup */

TEST_F(ci, by_id_returns_id_and_hello_flags)
{
	struct kdbus_conn peer, obs;
	struct kdbus_builder b;
	struct kdbus_cmd_info *cmd;
	struct kdbus_info *info;

	ASSERT_EQ(0, kdbus_conn_open(&peer, self->path, KDBUS_HELLO_ACCEPT_FD, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&obs, self->path, 0, POOL));
	kdbus_b_init(&b, sizeof(*cmd));
	cmd = kdbus_b_cmd(&b);
	cmd->return_flags = 0x5a;
	ASSERT_EQ(0, info_cmd(obs.fd, &b, 0, peer.id, 0));
	EXPECT_EQ(0, cmd->return_flags);
	EXPECT_EQ(0, cmd->offset % 8);
	ASSERT_LE(cmd->offset + cmd->info_size, POOL);
	info = (struct kdbus_info *)(obs.pool + cmd->offset);
	EXPECT_EQ(peer.id, info->id);
	EXPECT_EQ(KDBUS_HELLO_ACCEPT_FD, info->flags);
	/* Nothing requested: the bare header. */
	EXPECT_EQ(sizeof(*info), info->size);
	EXPECT_EQ(sizeof(*info), cmd->info_size);
	EXPECT_EQ(0, kdbus_free(obs.fd, cmd->offset));
	kdbus_conn_close(&peer);
	kdbus_conn_close(&obs);
}

TEST_F(ci, own_id_ok)
{
	struct kdbus_conn c;
	struct kdbus_info *info;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_info(c.fd, c.pool, c.id, NULL, _KDBUS_ATTACH_ALL, &info, NULL));
	EXPECT_EQ(c.id, info->id);
	EXPECT_EQ(0, info->flags);
	EXPECT_EQ(0, kdbus_info_free(c.fd, c.pool, info));
	kdbus_conn_close(&c);
}

TEST_F(ci, activator_and_policy_holder_by_id_report_their_flag)
{
	struct kdbus_conn act, ph, obs;
	struct kdbus_info *info;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_conn_open_name(&ph, self->path,
					  KDBUS_HELLO_POLICY_HOLDER | KDBUS_HELLO_ACCEPT_FD,
					  "org.kdbus.t.ph", POOL));
	ASSERT_EQ(0, kdbus_conn_open(&obs, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, act.id, NULL, 0, &info, NULL));
	EXPECT_EQ(act.id, info->id);
	EXPECT_EQ(KDBUS_HELLO_ACTIVATOR, info->flags);
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, ph.id, NULL, 0, &info, NULL));
	EXPECT_EQ(ph.id, info->id);
	EXPECT_EQ(KDBUS_HELLO_POLICY_HOLDER | KDBUS_HELLO_ACCEPT_FD, info->flags);
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));
	kdbus_conn_close(&act);
	kdbus_conn_close(&ph);
	kdbus_conn_close(&obs);
}

TEST_F(ci, monitor_by_id_does_not_crash)
{
	struct kdbus_conn mon, obs;
	struct kdbus_info *info;
	int ret;

	ASSERT_EQ(0, kdbus_conn_open(&mon, self->path, KDBUS_HELLO_MONITOR, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&obs, self->path, 0, POOL));
	/* §14: succeeds in the reference; tests must not rely on more. */
	ret = kdbus_conn_info(obs.fd, obs.pool, mon.id, NULL, 0, &info, NULL);
	EXPECT_TRUE(ret == 0 || ret == -ENXIO);
	if (ret == 0) {
		EXPECT_EQ(mon.id, info->id);
		EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));
	}
	kdbus_conn_close(&mon);
	kdbus_conn_close(&obs);
}

TEST_F(ci, by_name_of_activator_held_name_returns_activator)
{
	struct kdbus_conn act, obs;
	struct kdbus_info *info;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&obs, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, 0, ACT, 0, &info, NULL));
	EXPECT_EQ(act.id, info->id);
	EXPECT_EQ(KDBUS_HELLO_ACTIVATOR, info->flags);
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));
	/* A matching id is fine too. */
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, act.id, ACT, 0, &info, NULL));
	EXPECT_EQ(act.id, info->id);
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));
	kdbus_conn_close(&act);
	kdbus_conn_close(&obs);
}

TEST_F(ci, by_name_with_other_nonzero_id_esrch)
{
	struct kdbus_conn act, obs;
	struct kdbus_info *info;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&obs, self->path, 0, POOL));
	/* The name wins; an id that is not the owner's is an error. */
	EXPECT_EQ(-ESRCH, kdbus_conn_info(obs.fd, obs.pool, obs.id, ACT, 0, &info, NULL));
	EXPECT_EQ(-ESRCH, kdbus_conn_info(obs.fd, obs.pool, act.id + 1000, ACT, 0, &info,
					  NULL));
	kdbus_conn_close(&act);
	kdbus_conn_close(&obs);
}

TEST_F(ci, unknown_name_esrch)
{
	struct kdbus_conn ph, obs;
	struct kdbus_info *info;

	ASSERT_EQ(0, kdbus_conn_open_name(&ph, self->path, KDBUS_HELLO_POLICY_HOLDER,
					  "org.kdbus.t.ph", POOL));
	ASSERT_EQ(0, kdbus_conn_open(&obs, self->path, 0, POOL));
	EXPECT_EQ(-ESRCH, kdbus_conn_info(obs.fd, obs.pool, 0, "org.kdbus.t.none", 0, &info,
					  NULL));
	/* An invalid name is simply not found. */
	EXPECT_EQ(-ESRCH, kdbus_conn_info(obs.fd, obs.pool, 0, "not a name", 0, &info, NULL));
	EXPECT_EQ(-ESRCH, kdbus_conn_info(obs.fd, obs.pool, 0, ":1.1", 0, &info, NULL));
	/* A policy holder's NAME is a policy entry, not an owned name. */
	EXPECT_EQ(-ESRCH, kdbus_conn_info(obs.fd, obs.pool, 0, "org.kdbus.t.ph", 0, &info,
					  NULL));
	/* Unknown name with a valid id: still the name decides. */
	EXPECT_EQ(-ESRCH, kdbus_conn_info(obs.fd, obs.pool, obs.id, "org.kdbus.t.none", 0,
					  &info, NULL));
	kdbus_conn_close(&ph);
	kdbus_conn_close(&obs);
}

TEST_F(ci, unknown_id_enxio)
{
	struct kdbus_conn c;
	struct kdbus_info *info;
	uint64_t bus_id;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	EXPECT_EQ(-ENXIO, kdbus_conn_info(c.fd, c.pool, c.id + 1000, NULL, 0, &info, NULL));
	EXPECT_EQ(-ENXIO, kdbus_conn_info(c.fd, c.pool, ~0ULL, NULL, 0, &info, NULL));
	/* The bus's own id is not a connection. */
	ASSERT_EQ(0, kdbus_bus_creator_info(c.fd, c.pool, 0, &info, NULL));
	bus_id = info->id;
	EXPECT_EQ(0, kdbus_info_free(c.fd, c.pool, info));
	EXPECT_EQ(-ENXIO, kdbus_conn_info(c.fd, c.pool, bus_id, NULL, 0, &info, NULL));
	kdbus_conn_close(&c);
}

TEST_F(ci, id_zero_without_name_einval)
{
	struct kdbus_conn c;
	struct kdbus_info *info;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	EXPECT_EQ(-EINVAL, kdbus_conn_info(c.fd, c.pool, 0, NULL, 0, &info, NULL));
	kdbus_conn_close(&c);
}

TEST_F(ci, owned_name_item_einval)
{
	struct kdbus_conn act, c;
	struct kdbus_builder b;
	uint8_t payload[8 + sizeof(ACT)];

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	memset(payload, 0, sizeof(payload));
	memcpy(payload + 8, ACT, sizeof(ACT));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd_info));
	kdbus_b_item(&b, KDBUS_ITEM_OWNED_NAME, payload, sizeof(payload));
	EXPECT_EQ(-EINVAL, info_cmd(c.fd, &b, 0, 0, 0));
	EXPECT_EQ(-EINVAL, info_cmd(c.fd, &b, 0, act.id, 0));
	kdbus_conn_close(&act);
	kdbus_conn_close(&c);
}

TEST_F(ci, malformed_request_einval)
{
	struct kdbus_conn act, c;
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	/* Two NAME items. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd_info));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, ACT);
	kdbus_b_str(&b, KDBUS_ITEM_NAME, ACT);
	EXPECT_EQ(-EINVAL, info_cmd(c.fd, &b, 0, 0, 0));
	/* Unknown flag. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd_info));
	EXPECT_EQ(-EINVAL, info_cmd(c.fd, &b, 1, c.id, 0));
	EXPECT_EQ(-EINVAL, info_cmd(c.fd, &b, KDBUS_FLAG_NEGOTIATE | 2, c.id, 0));
	/* Foreign item. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd_info));
	kdbus_b_u64(&b, KDBUS_ITEM_ID, act.id);
	EXPECT_EQ(-EINVAL, info_cmd(c.fd, &b, 0, act.id, 0));
	/* Too small. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd_info));
	((struct kdbus_cmd_info *)kdbus_b_cmd(&b))->size = 48;
	EXPECT_EQ(-EINVAL, kdbus_ioctl(c.fd, KDBUS_CMD_CONN_INFO, b.buf));
	kdbus_conn_close(&act);
	kdbus_conn_close(&c);
}

TEST_F(ci, negotiate_reports_0_and_answers_nothing)
{
	struct kdbus_conn c;
	struct kdbus_builder b;
	struct kdbus_cmd_info *cmd;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	kdbus_b_init(&b, sizeof(*cmd));
	cmd = kdbus_b_cmd(&b);
	cmd->offset = 0x1238;
	ASSERT_EQ(0, info_cmd(c.fd, &b, KDBUS_FLAG_NEGOTIATE, c.id, 0));
	EXPECT_EQ(0, cmd->flags);
	EXPECT_EQ(0x1238, cmd->offset);
	kdbus_conn_close(&c);
}

TEST_F(ci, unknown_attach_bits_einval)
{
	static const uint64_t bad[] = { 1ULL << 14, 1ULL << 63, 0xffffffffULL, ~0ULL - 1 };
	struct kdbus_conn c;
	struct kdbus_info *info;
	size_t i;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, kdbus_conn_info(c.fd, c.pool, c.id, NULL, bad[i], &info, NULL))
			TH_LOG("attach %#llx", (unsigned long long)bad[i]);
	}
	ASSERT_EQ(0, kdbus_conn_info(c.fd, c.pool, c.id, NULL, _KDBUS_ATTACH_ANY, &info, NULL));
	EXPECT_EQ(0, kdbus_info_free(c.fd, c.pool, info));
	kdbus_conn_close(&c);
}

/* -------------------------------------------------------------- metadata */

TEST_F(ci, metadata_is_peer_send_mask_and_request)
{
	struct kdbus_conn peer, obs;
	struct kdbus_info *info;
	struct kdbus_item *item;
	uint64_t types[8];

	ASSERT_EQ(0, open_described(&peer, self->path, "peer-desc", 0,
				    KDBUS_ATTACH_CREDS | KDBUS_ATTACH_PIDS |
				    KDBUS_ATTACH_CONN_DESCRIPTION));
	ASSERT_EQ(0, kdbus_conn_open(&obs, self->path, 0, POOL));

	/* Requested and allowed: PIDS and the description, in that order. */
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, peer.id, NULL,
				     KDBUS_ATTACH_PIDS | KDBUS_ATTACH_CONN_DESCRIPTION |
				     KDBUS_ATTACH_AUXGROUPS | KDBUS_ATTACH_SECLABEL,
				     &info, NULL));
	ASSERT_EQ(2, item_types(info, types, 8));
	EXPECT_EQ(KDBUS_ITEM_PIDS, types[0]);
	EXPECT_EQ(KDBUS_ITEM_CONN_DESCRIPTION, types[1]);
	item = kdbus_info_item(info, KDBUS_ITEM_PIDS);
	ASSERT_NE(NULL, item);
	EXPECT_EQ(KDBUS_ITEM_HEADER_SIZE + sizeof(struct kdbus_pids), item->size);
	EXPECT_EQ((uint64_t)getpid(), item->pids.pid);
	EXPECT_EQ((uint64_t)syscall(SYS_gettid), item->pids.tid);
	EXPECT_EQ((uint64_t)getppid(), item->pids.ppid);
	item = kdbus_info_item(info, KDBUS_ITEM_CONN_DESCRIPTION);
	ASSERT_NE(NULL, item);
	EXPECT_EQ(KDBUS_ITEM_HEADER_SIZE + sizeof("peer-desc"), item->size);
	EXPECT_STREQ("peer-desc", item->str);
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));

	/* Everything requested: exactly what the peer allows. */
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, peer.id, NULL, _KDBUS_ATTACH_ALL,
				     &info, NULL));
	ASSERT_EQ(3, item_types(info, types, 8));
	EXPECT_EQ(KDBUS_ITEM_CREDS, types[0]);
	EXPECT_EQ(KDBUS_ITEM_PIDS, types[1]);
	EXPECT_EQ(KDBUS_ITEM_CONN_DESCRIPTION, types[2]);
	item = kdbus_info_item(info, KDBUS_ITEM_CREDS);
	ASSERT_NE(NULL, item);
	EXPECT_EQ(KDBUS_ITEM_HEADER_SIZE + sizeof(struct kdbus_creds), item->size);
	EXPECT_EQ((uint64_t)getuid(), item->creds.uid);
	EXPECT_EQ((uint64_t)geteuid(), item->creds.euid);
	EXPECT_EQ((uint64_t)getgid(), item->creds.gid);
	EXPECT_EQ((uint64_t)getegid(), item->creds.egid);
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));

	/* Nothing requested: nothing. */
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, peer.id, NULL, 0, &info, NULL));
	EXPECT_EQ(0, item_types(info, types, 8));
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));
	kdbus_conn_close(&peer);
	kdbus_conn_close(&obs);
}

TEST_F(ci, peer_that_allows_nothing_exports_nothing)
{
	struct kdbus_conn peer, obs;
	struct kdbus_info *info;

	ASSERT_EQ(0, open_described(&peer, self->path, "quiet", 0, 0));
	ASSERT_EQ(0, kdbus_conn_open(&obs, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, peer.id, NULL, _KDBUS_ATTACH_ANY, &info,
				     NULL));
	EXPECT_EQ(0, kdbus_info_count(info));
	EXPECT_EQ(sizeof(*info), info->size);
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));
	kdbus_conn_close(&peer);
	kdbus_conn_close(&obs);
}

TEST_F(ci, module_mask_limits_answer)
{
	struct kdbus_conn peer;
	struct kdbus_info *info;
	uint64_t types[8];
	char buf[32];

	ASSERT_EQ(0, open_described(&peer, self->path, "masked", 0, _KDBUS_ATTACH_ALL));
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)KDBUS_ATTACH_PIDS);
	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, buf));
	ASSERT_EQ(0, kdbus_conn_info(peer.fd, peer.pool, peer.id, NULL, _KDBUS_ATTACH_ALL,
				     &info, NULL));
	ASSERT_EQ(1, item_types(info, types, 8));
	EXPECT_EQ(KDBUS_ITEM_PIDS, types[0]);
	EXPECT_EQ(0, kdbus_info_free(peer.fd, peer.pool, info));
	kdbus_conn_close(&peer);
}

TEST_F(ci, never_a_timestamp)
{
	struct kdbus_conn peer, obs;
	struct kdbus_info *info;
	uint64_t types[32];
	int n, i;

	/* Even with every bit in the module mask. */
	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, "18446744073709551615"));
	ASSERT_EQ(0, open_described(&peer, self->path, "stamp", 0, _KDBUS_ATTACH_ANY));
	ASSERT_EQ(0, kdbus_conn_open(&obs, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, peer.id, NULL, _KDBUS_ATTACH_ANY,
				     &info, NULL));
	n = item_types(info, types, 32);
	EXPECT_LE(2, n);
	for (i = 0; i < n && i < 32; i++) {
		EXPECT_NE(KDBUS_ITEM_TIMESTAMP, types[i]) TH_LOG("item %d", i);
	}
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, peer.id, NULL, KDBUS_ATTACH_TIMESTAMP,
				     &info, NULL));
	EXPECT_EQ(0, kdbus_info_count(info));
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));
	kdbus_conn_close(&peer);
	kdbus_conn_close(&obs);
}

TEST_F(ci, activator_names_item_carries_activator_flag)
{
	struct kdbus_conn act, obs;
	struct kdbus_info *info;
	struct kdbus_item *item;
	int n = 0;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->path, KDBUS_HELLO_ACTIVATOR, ACT, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&obs, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, act.id, NULL, KDBUS_ATTACH_NAMES,
				     &info, NULL));
	KDBUS_ITEM_FOREACH(item, info, items) {
		n++;
		EXPECT_EQ(KDBUS_ITEM_OWNED_NAME, item->type);
		EXPECT_EQ(KDBUS_ITEM_HEADER_SIZE + 8 + sizeof(ACT), item->size);
		EXPECT_EQ(KDBUS_NAME_ACTIVATOR, item->name.flags);
		EXPECT_STREQ(ACT, item->name.name);
	}
	EXPECT_EQ(1, n);
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));
	/* A connection owning nothing has no OWNED_NAME item. */
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, obs.id, NULL, KDBUS_ATTACH_NAMES,
				     &info, NULL));
	EXPECT_EQ(0, kdbus_info_count(info));
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));
	kdbus_conn_close(&act);
	kdbus_conn_close(&obs);
}

struct snapshot {
	const char *path;
	int up[2];	/* child -> parent: connection id */
	int down[2];	/* parent -> child: may exit */
};

/* Runs as root: HELLO, then become UID/GID 65534 and stay alive. */
static int hello_then_drop_uid(void *arg)
{
	struct snapshot *s = arg;
	struct kdbus_conn c;
	char ch;

	close(s->up[0]);
	close(s->down[1]);
	KDBUS_CHILD_CHECK(kdbus_conn_open(&c, s->path, 0, POOL) == 0);
	KDBUS_CHILD_CHECK(setresgid(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY,
				    KDBUS_TEST_NOBODY) == 0);
	KDBUS_CHILD_CHECK(setresuid(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY,
				    KDBUS_TEST_NOBODY) == 0);
	KDBUS_CHILD_CHECK(write(s->up[1], &c.id, sizeof(c.id)) == sizeof(c.id));
	KDBUS_CHILD_CHECK(read(s->down[0], &ch, 1) == 1);
	return 0;
}

TEST_F(ci, credentials_are_from_hello_time)
{
	struct snapshot s = { .path = self->path };
	struct kdbus_conn obs;
	struct kdbus_info *info;
	struct kdbus_item *item;
	uint64_t id;
	pid_t pid;

	ASSERT_EQ(0, pipe(s.up));
	ASSERT_EQ(0, pipe(s.down));
	pid = kdbus_spawn(hello_then_drop_uid, &s);
	ASSERT_LT(0, pid);
	close(s.up[1]);
	close(s.down[0]);
	ASSERT_EQ(sizeof(id), read(s.up[0], &id, sizeof(id)));

	ASSERT_EQ(0, kdbus_conn_open(&obs, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, id, NULL,
				     KDBUS_ATTACH_CREDS | KDBUS_ATTACH_PIDS, &info, NULL));
	item = kdbus_info_item(info, KDBUS_ITEM_CREDS);
	ASSERT_NE(NULL, item);
	EXPECT_EQ(0, item->creds.uid);
	EXPECT_EQ(0, item->creds.euid);
	EXPECT_EQ(0, item->creds.suid);
	EXPECT_EQ(0, item->creds.fsuid);
	EXPECT_EQ(0, item->creds.gid);
	EXPECT_EQ(0, item->creds.egid);
	item = kdbus_info_item(info, KDBUS_ITEM_PIDS);
	ASSERT_NE(NULL, item);
	EXPECT_EQ((uint64_t)pid, item->pids.pid);
	EXPECT_EQ((uint64_t)getpid(), item->pids.ppid);
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));

	EXPECT_EQ(1, write(s.down[1], "x", 1));
	EXPECT_EQ(0, kdbus_wait(pid));
	kdbus_conn_close(&obs);
}

TEST_F(ci, info_size_equals_record_size_multiple_of_8)
{
	static const char *const descs[] = { "a", "ab", "abc", "abcdefg", "abcdefgh",
					     "abcdefghi", "x-y.z_0123456789" };
	struct kdbus_conn peer, obs;
	struct kdbus_info *info;
	struct kdbus_item *item;
	uint64_t info_size, walked;
	size_t i;

	ASSERT_EQ(0, kdbus_conn_open(&obs, self->path, 0, POOL));
	for (i = 0; i < sizeof(descs) / sizeof(descs[0]); i++) {
		ASSERT_EQ(0, open_described(&peer, self->path, descs[i], 0, _KDBUS_ATTACH_ALL));
		ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, peer.id, NULL, _KDBUS_ATTACH_ALL,
					     &info, &info_size));
		EXPECT_EQ(info->size, info_size) TH_LOG("%s", descs[i]);
		EXPECT_EQ(0, info_size % 8) TH_LOG("%s", descs[i]);
		EXPECT_EQ(0, ((uint8_t *)info - obs.pool) % 8) TH_LOG("%s", descs[i]);
		/* The items, padded, fill the record exactly. */
		walked = sizeof(*info);
		KDBUS_ITEM_FOREACH(item, info, items)
			walked += KDBUS_ALIGN8(item->size);
		EXPECT_EQ(info->size, walked) TH_LOG("%s", descs[i]);
		item = kdbus_info_item(info, KDBUS_ITEM_CONN_DESCRIPTION);
		EXPECT_NE(NULL, item) TH_LOG("%s", descs[i]);
		if (item)
			EXPECT_STREQ(descs[i], item->str);
		EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));
		kdbus_conn_close(&peer);
	}
	kdbus_conn_close(&obs);
}

TEST_F(ci, custom_endpoint_cannot_see_nameless_peer)
{
	struct kdbus_conn peer, e;
	struct kdbus_info *info;
	char ep[64], ep_path[256];
	int epfd;

	epfd = kdbus_open_bus(self->d.root, self->bus);
	ASSERT_LE(0, epfd);
	kdbus_domain_name(&self->d, ep, sizeof(ep), "ep");
	ASSERT_EQ(0, kdbus_ep_make(epfd, KDBUS_MAKE_ACCESS_WORLD, ep));
	kdbus_path(ep_path, sizeof(ep_path), self->d.root, "%s/%s", self->bus, ep);
	ASSERT_EQ(0, kdbus_conn_open(&peer, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&e, ep_path, 0, POOL));
	EXPECT_EQ(-ENXIO, kdbus_conn_info(e.fd, e.pool, peer.id, NULL, 0, &info, NULL));
	/* The other way round there is no restriction. */
	ASSERT_EQ(0, kdbus_conn_info(peer.fd, peer.pool, e.id, NULL, 0, &info, NULL));
	EXPECT_EQ(e.id, info->id);
	EXPECT_EQ(0, kdbus_info_free(peer.fd, peer.pool, info));
	kdbus_conn_close(&peer);
	kdbus_conn_close(&e);
	close(epfd);
}

/* ------------------------------------------------------ BUS_CREATOR_INFO */

TEST_F(ci, bus_creator_info_header_and_make_name)
{
	struct kdbus_conn c;
	struct kdbus_info *info;
	struct kdbus_item *item;
	uint64_t info_size;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_bus_creator_info(c.fd, c.pool, 0, &info, &info_size));
	EXPECT_NE(0, info->id);
	EXPECT_LT(info->id, c.id);
	EXPECT_EQ(KDBUS_MAKE_ACCESS_WORLD, info->flags);
	EXPECT_EQ(info->size, info_size);
	EXPECT_EQ(0, info_size % 8);
	item = info->items;
	EXPECT_EQ(KDBUS_ITEM_MAKE_NAME, item->type);
	EXPECT_EQ(KDBUS_ITEM_HEADER_SIZE + strlen(self->bus) + 1, item->size);
	EXPECT_STREQ(self->bus, item->str);
	EXPECT_EQ(1, kdbus_info_count(info));
	EXPECT_EQ(0, kdbus_info_free(c.fd, c.pool, info));
	kdbus_conn_close(&c);
}

TEST_F(ci, bus_creator_info_ignores_id)
{
	struct kdbus_conn c;
	struct kdbus_builder b;
	struct kdbus_cmd_info *cmd;
	struct kdbus_info *info;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	kdbus_b_init(&b, sizeof(*cmd));
	cmd = kdbus_b_cmd(&b);
	cmd->id = 0x123456;
	ASSERT_EQ(0, kdbus_ioctl(c.fd, KDBUS_CMD_BUS_CREATOR_INFO, cmd));
	info = (struct kdbus_info *)(c.pool + cmd->offset);
	EXPECT_EQ(KDBUS_MAKE_ACCESS_WORLD, info->flags);
	EXPECT_NE(0x123456, info->id);
	EXPECT_EQ(0, kdbus_free(c.fd, cmd->offset));
	kdbus_conn_close(&c);
}

TEST_F(ci, bus_creator_info_bad_arguments_einval)
{
	struct kdbus_conn c;
	struct kdbus_builder b;
	struct kdbus_cmd_info *cmd;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	/* A NAME item is not accepted here. */
	kdbus_b_init(&b, sizeof(*cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, self->bus);
	EXPECT_EQ(-EINVAL, kdbus_ioctl(c.fd, KDBUS_CMD_BUS_CREATOR_INFO, kdbus_b_cmd(&b)));
	/* Unknown flag, unknown attach bits. */
	kdbus_b_init(&b, sizeof(*cmd));
	cmd = kdbus_b_cmd(&b);
	cmd->flags = 1;
	EXPECT_EQ(-EINVAL, kdbus_ioctl(c.fd, KDBUS_CMD_BUS_CREATOR_INFO, cmd));
	cmd->flags = 0;
	cmd->attach_flags = 1ULL << 14;
	EXPECT_EQ(-EINVAL, kdbus_ioctl(c.fd, KDBUS_CMD_BUS_CREATOR_INFO, cmd));
	kdbus_conn_close(&c);
}

TEST_F(ci, bus_creator_info_negotiate_reports_0)
{
	struct kdbus_conn c;
	struct kdbus_builder b;
	struct kdbus_cmd_info *cmd;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	kdbus_b_init(&b, sizeof(*cmd));
	cmd = kdbus_b_cmd(&b);
	cmd->flags = KDBUS_FLAG_NEGOTIATE;
	cmd->offset = 0x1238;
	EXPECT_EQ(0, kdbus_ioctl(c.fd, KDBUS_CMD_BUS_CREATOR_INFO, cmd));
	EXPECT_EQ(0, cmd->flags);
	EXPECT_EQ(0x1238, cmd->offset);
	kdbus_conn_close(&c);
}

TEST_HARNESS_MAIN
