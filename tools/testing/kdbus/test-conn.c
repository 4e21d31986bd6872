// SPDX-License-Identifier: GPL-2.0
/*
 * Connection life and types (connection-pool.md §1.1, §4, §5, §6,
 * checklist §15 "Connection types", "BYEBYE / close", "UPDATE"): BYEBYE and
 * the dead-connection state, bus and endpoint teardown, UPDATE of the
 * attach masks and of a policy holder's policy, and which connection kind
 * may issue which command.
 *
 * Not covered here (they need SEND/RECV, NAME_ACQUIRE, matches or
 * notifications): BYEBYE with a queued or peeked message (EBUSY), unicasts
 * to special or dead connections, monitors' copies, ECOMM, every
 * notification and name hand-over item, REPLY_DEAD / EPIPE / ECONNRESET of
 * callers, and UPDATE's effect on metadata attached to messages (its effect
 * on CONN_INFO answers is tested instead).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

#define POOL	KDBUS_TEST_POOL_SIZE

FIXTURE(conn) {
	struct kdbus_domain d;
	char bus[64];
	char path[256];		/* <root>/<bus>/bus */
	int owner;
	char param[64];
};

FIXTURE_SETUP(conn)
{
	self->param[0] = 0;
	ASSERT_EQ(0, kdbus_domain_init(&self->d));
	self->owner = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "c", self->bus);
	ASSERT_LE(0, self->owner);
	kdbus_path(self->path, sizeof(self->path), self->d.root, "%s/bus", self->bus);
}

FIXTURE_TEARDOWN(conn)
{
	if (self->param[0])
		kdbus_write_file(KDBUS_PARAM_PATH, self->param);
	if (self->owner >= 0)
		close(self->owner);
	kdbus_domain_fini(&self->d);
}

enum kind { ORDINARY, ACTIVATOR, POLICY_HOLDER, MONITOR };

static const char *const kind_name[] = { "ordinary", "activator", "policy holder", "monitor" };

static int open_kind(struct kdbus_conn *c, const char *path, enum kind kind)
{
	switch (kind) {
	case ACTIVATOR:
		return kdbus_conn_open_name(c, path, KDBUS_HELLO_ACTIVATOR, "org.kdbus.t.act",
					    POOL);
	case POLICY_HOLDER:
		return kdbus_conn_open_name(c, path, KDBUS_HELLO_POLICY_HOLDER, "org.kdbus.t.ph",
					    POOL);
	case MONITOR:
		return kdbus_conn_open(c, path, KDBUS_HELLO_MONITOR, POOL);
	default:
		return kdbus_conn_open(c, path, 0, POOL);
	}
}

/* Does @c's own CONN_INFO answer carry a CREDS item? 1, 0, or -errno. */
static int own_info_has_creds(struct kdbus_conn *c)
{
	struct kdbus_info *info;
	int ret = kdbus_conn_info(c->fd, c->pool, c->id, NULL, KDBUS_ATTACH_CREDS, &info, NULL);

	if (ret < 0)
		return ret;
	ret = kdbus_info_item(info, KDBUS_ITEM_CREDS) != NULL;
	kdbus_info_free(c->fd, c->pool, info);
	return ret;
}

/* Is @id listed by LIST UNIQUE on @c? 1, 0, or -errno. */
static int listed(struct kdbus_conn *c, uint64_t id)
{
	uint64_t off, size;
	int ret = kdbus_list(c->fd, KDBUS_LIST_UNIQUE, &off, &size);

	if (ret < 0)
		return ret;
	ret = kdbus_list_find(c->pool + off, size, id) != NULL;
	kdbus_free(c->fd, off);
	return ret;
}

/* ---------------------------------------------------------------- BYEBYE */

TEST_F(conn, byebye_empty_queue_ok_then_econnreset)
{
	struct kdbus_conn c;
	size_t i;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_byebye(c.fd));
	for (i = 0; i < 12; i++) {
		EXPECT_EQ(-ECONNRESET, kdbus_cmd_simple(c.fd, kdbus_conn_cmds[i]))
			TH_LOG("%s", kdbus_cmd_name(kdbus_conn_cmds[i]));
	}
	/* The handle stays connected (dead): no second HELLO. */
	EXPECT_EQ(-EBADFD, kdbus_hello(c.fd, 0, 0, 0, POOL, NULL));
	kdbus_conn_close(&c);
}

TEST_F(conn, second_byebye_econnreset)
{
	struct kdbus_conn c;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_byebye(c.fd));
	EXPECT_EQ(-ECONNRESET, kdbus_byebye(c.fd));
	kdbus_conn_close(&c);
}

TEST_F(conn, byebye_with_unfreed_slices_ok)
{
	struct kdbus_conn c;
	struct kdbus_info *info;
	uint64_t off;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	/* The HELLO slice, a CONN_INFO and a LIST answer stay unfreed. */
	ASSERT_EQ(0, kdbus_conn_info(c.fd, c.pool, c.id, NULL, 0, &info, NULL));
	ASSERT_EQ(0, kdbus_list(c.fd, KDBUS_LIST_UNIQUE, &off, NULL));
	EXPECT_EQ(0, kdbus_byebye(c.fd));
	kdbus_conn_close(&c);
}

TEST_F(conn, byebye_negotiate_reports_0_and_keeps_connection)
{
	struct kdbus_conn c;
	struct kdbus_cmd cmd = { .size = sizeof(cmd), .flags = KDBUS_FLAG_NEGOTIATE };

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	EXPECT_EQ(0, kdbus_ioctl(c.fd, KDBUS_CMD_BYEBYE, &cmd));
	EXPECT_EQ(0, cmd.flags);
	EXPECT_EQ(0, kdbus_cmd_simple(c.fd, KDBUS_CMD_LIST));
	EXPECT_EQ(1, own_info_has_creds(&c));
	EXPECT_EQ(0, kdbus_byebye(c.fd));
	kdbus_conn_close(&c);
}

TEST_F(conn, byebye_bad_arguments_einval)
{
	struct kdbus_conn c;
	struct kdbus_builder b;
	struct kdbus_cmd *cmd;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	kdbus_b_init(&b, sizeof(*cmd));
	cmd = kdbus_b_cmd(&b);
	cmd->flags = 1;
	EXPECT_EQ(-EINVAL, kdbus_ioctl(c.fd, KDBUS_CMD_BYEBYE, cmd));
	cmd->flags = KDBUS_FLAG_NEGOTIATE | 1;
	EXPECT_EQ(-EINVAL, kdbus_ioctl(c.fd, KDBUS_CMD_BYEBYE, cmd));
	cmd->flags = 0;
	cmd->size = 16;
	EXPECT_EQ(-EINVAL, kdbus_ioctl(c.fd, KDBUS_CMD_BYEBYE, cmd));

	kdbus_b_init(&b, sizeof(*cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.t.x");
	EXPECT_EQ(-EINVAL, kdbus_ioctl(c.fd, KDBUS_CMD_BYEBYE, kdbus_b_cmd(&b)));
	/* None of them disconnected. */
	EXPECT_EQ(0, kdbus_cmd_simple(c.fd, KDBUS_CMD_LIST));
	EXPECT_EQ(0, kdbus_byebye(c.fd));
	kdbus_conn_close(&c);
}

TEST_F(conn, after_byebye_poll_err_hup)
{
	struct kdbus_conn c;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_byebye(c.fd));
	EXPECT_EQ(POLLERR | POLLHUP, kdbus_poll(c.fd, POLLIN | POLLOUT, 0));
	EXPECT_EQ(POLLERR | POLLHUP, kdbus_poll(c.fd, POLLIN, 1000));
	kdbus_conn_close(&c);
}

TEST_F(conn, after_byebye_pool_readable_and_mmap_works)
{
	struct kdbus_conn c;
	struct kdbus_info *info;
	struct kdbus_item *bloom;
	uint64_t off;
	uint8_t *map2;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_info(c.fd, c.pool, c.id, NULL, 0, &info, NULL));
	off = (uint8_t *)info - c.pool;
	ASSERT_EQ(0, kdbus_byebye(c.fd));

	bloom = (struct kdbus_item *)(c.pool + c.hello.offset);
	EXPECT_EQ(KDBUS_ITEM_BLOOM_PARAMETER, bloom->type);
	EXPECT_EQ(64, bloom->bloom_parameter.size);
	EXPECT_EQ(c.id, info->id);

	map2 = mmap(NULL, POOL, PROT_READ, MAP_SHARED, c.fd, 0);
	ASSERT_NE(MAP_FAILED, map2);
	EXPECT_EQ(0, memcmp(map2, c.pool, POOL));
	EXPECT_EQ(c.id, ((struct kdbus_info *)(map2 + off))->id);
	munmap(map2, POOL);
	kdbus_conn_close(&c);
}

TEST_F(conn, after_byebye_peer_is_gone)
{
	struct kdbus_conn a, b;
	struct kdbus_info *info;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&b, self->path, 0, POOL));
	ASSERT_EQ(1, listed(&a, b.id));
	ASSERT_EQ(0, kdbus_byebye(b.fd));
	EXPECT_EQ(-ENXIO, kdbus_conn_info(a.fd, a.pool, b.id, NULL, 0, &info, NULL));
	EXPECT_EQ(0, listed(&a, b.id));
	EXPECT_EQ(1, listed(&a, a.id));
	kdbus_conn_close(&a);
	kdbus_conn_close(&b);
}

TEST_F(conn, after_close_peer_is_gone)
{
	struct kdbus_conn a, b;
	struct kdbus_info *info;
	uint64_t id;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&b, self->path, 0, POOL));
	id = b.id;
	kdbus_conn_close(&b);
	EXPECT_EQ(-ENXIO, kdbus_conn_info(a.fd, a.pool, id, NULL, 0, &info, NULL));
	EXPECT_EQ(0, listed(&a, id));
	kdbus_conn_close(&a);
}

TEST_F(conn, bus_owner_close_disconnects_all)
{
	struct kdbus_conn c[2];
	size_t i, j;
	void *map;

	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, kdbus_conn_open(&c[i], self->path, 0, POOL));
	close(self->owner);
	self->owner = -1;
	for (i = 0; i < 2; i++) {
		for (j = 0; j < 12; j++) {
			EXPECT_EQ(-ECONNRESET, kdbus_cmd_simple(c[i].fd, kdbus_conn_cmds[j]))
				TH_LOG("conn %zu %s", i, kdbus_cmd_name(kdbus_conn_cmds[j]));
		}
		EXPECT_EQ(POLLERR | POLLHUP, kdbus_poll(c[i].fd, POLLIN | POLLOUT, 0));
		/* The pool is still there. */
		map = mmap(NULL, POOL, PROT_READ, MAP_SHARED, c[i].fd, 0);
		EXPECT_NE(MAP_FAILED, map);
		if (map != MAP_FAILED) {
			EXPECT_EQ(0, memcmp(map, c[i].pool, POOL));
			munmap(map, POOL);
		}
		kdbus_conn_close(&c[i]);
	}
}

TEST_F(conn, endpoint_owner_close_disconnects_its_connections)
{
	struct kdbus_conn e, d;
	struct kdbus_info *info;
	char ep[64], ep_path[256];
	int epfd;

	epfd = kdbus_open_bus(self->d.root, self->bus);
	ASSERT_LE(0, epfd);
	kdbus_domain_name(&self->d, ep, sizeof(ep), "ep");
	ASSERT_EQ(0, kdbus_ep_make(epfd, KDBUS_MAKE_ACCESS_WORLD, ep));
	kdbus_path(ep_path, sizeof(ep_path), self->d.root, "%s/%s", self->bus, ep);
	ASSERT_EQ(0, kdbus_conn_open(&e, ep_path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&d, self->path, 0, POOL));

	close(epfd);
	EXPECT_EQ(-ECONNRESET, kdbus_cmd_simple(e.fd, KDBUS_CMD_LIST));
	EXPECT_EQ(-ECONNRESET, kdbus_byebye(e.fd));
	EXPECT_EQ(POLLERR | POLLHUP, kdbus_poll(e.fd, POLLIN | POLLOUT, 0));
	/* The default endpoint's connection lives on, without the peer. */
	EXPECT_EQ(0, kdbus_cmd_simple(d.fd, KDBUS_CMD_LIST));
	EXPECT_EQ(-ENXIO, kdbus_conn_info(d.fd, d.pool, e.id, NULL, 0, &info, NULL));
	EXPECT_EQ(0, listed(&d, e.id));
	kdbus_conn_close(&e);
	kdbus_conn_close(&d);
}

/* ---------------------------------------------------------------- UPDATE */

static int update(int fd, struct kdbus_builder *b, uint64_t flags)
{
	struct kdbus_cmd *cmd = kdbus_b_cmd(b);

	cmd->flags = flags;
	return kdbus_ioctl(fd, KDBUS_CMD_UPDATE, cmd);
}

TEST_F(conn, update_without_items_ok)
{
	struct kdbus_conn c;
	struct kdbus_builder b;
	struct kdbus_cmd *cmd;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	cmd = kdbus_b_cmd(&b);
	cmd->return_flags = 0x5a;
	EXPECT_EQ(0, kdbus_ioctl(c.fd, KDBUS_CMD_UPDATE, cmd));
	EXPECT_EQ(0, cmd->return_flags);
	EXPECT_EQ(1, own_info_has_creds(&c));
	kdbus_conn_close(&c);
}

TEST_F(conn, update_negotiate_reports_0_and_applies_nothing)
{
	struct kdbus_conn c;
	struct kdbus_builder b;
	struct kdbus_cmd *cmd;

	ASSERT_EQ(0, kdbus_param_set(KDBUS_PARAM_DEFAULT, self->param, sizeof(self->param)));
	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_u64(&b, KDBUS_ITEM_ATTACH_FLAGS_SEND, 0);
	cmd = kdbus_b_cmd(&b);
	EXPECT_EQ(0, update(c.fd, &b, KDBUS_FLAG_NEGOTIATE));
	EXPECT_EQ(0, cmd->flags);
	EXPECT_EQ(1, own_info_has_creds(&c));
	kdbus_conn_close(&c);
}

TEST_F(conn, update_send_mask_applies_to_conn_info_at_once)
{
	struct kdbus_conn c;

	ASSERT_EQ(0, kdbus_param_set(KDBUS_PARAM_DEFAULT, self->param, sizeof(self->param)));
	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	ASSERT_EQ(1, own_info_has_creds(&c));
	EXPECT_EQ(0, kdbus_update_u64(c.fd, KDBUS_ITEM_ATTACH_FLAGS_SEND, KDBUS_ATTACH_PIDS));
	EXPECT_EQ(0, own_info_has_creds(&c));
	/* ~0 means ALL here too. */
	EXPECT_EQ(0, kdbus_update_u64(c.fd, KDBUS_ITEM_ATTACH_FLAGS_SEND, _KDBUS_ATTACH_ANY));
	EXPECT_EQ(1, own_info_has_creds(&c));
	kdbus_conn_close(&c);
}

TEST_F(conn, update_send_missing_required_bit_einval)
{
	struct kdbus_conn c;
	char name[64], path[256];
	int ctl;

	ASSERT_EQ(0, kdbus_param_set(KDBUS_PARAM_DEFAULT, self->param, sizeof(self->param)));
	ctl = kdbus_open_control(self->d.root);
	ASSERT_LE(0, ctl);
	kdbus_domain_name(&self->d, name, sizeof(name), "req");
	ASSERT_EQ(0, kdbus_bus_make(ctl, KDBUS_MAKE_ACCESS_WORLD, name, 64, 1,
				    KDBUS_OPT_ATTACH_RECV(KDBUS_ATTACH_CREDS)));
	kdbus_path(path, sizeof(path), self->d.root, "%s/bus", name);
	ASSERT_EQ(0, kdbus_conn_open(&c, path, 0, POOL));

	EXPECT_EQ(-EINVAL, kdbus_update_u64(c.fd, KDBUS_ITEM_ATTACH_FLAGS_SEND,
					    KDBUS_ATTACH_PIDS));
	EXPECT_EQ(-EINVAL, kdbus_update_u64(c.fd, KDBUS_ITEM_ATTACH_FLAGS_SEND, 0));
	EXPECT_EQ(1, own_info_has_creds(&c));
	EXPECT_EQ(0, kdbus_update_u64(c.fd, KDBUS_ITEM_ATTACH_FLAGS_SEND, KDBUS_ATTACH_CREDS));
	/* The recv mask is not checked against anything. */
	EXPECT_EQ(0, kdbus_update_u64(c.fd, KDBUS_ITEM_ATTACH_FLAGS_RECV, 0));
	kdbus_conn_close(&c);
	close(ctl);
}

TEST_F(conn, update_unknown_attach_bits_einval)
{
	static const uint64_t bad[] = {
		1ULL << 14, 1ULL << 63, 0xffffffffULL, ~0ULL - 1,
	};
	struct kdbus_conn c;
	size_t i;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, kdbus_update_u64(c.fd, KDBUS_ITEM_ATTACH_FLAGS_SEND, bad[i]))
			TH_LOG("send %#llx", (unsigned long long)bad[i]);
		EXPECT_EQ(-EINVAL, kdbus_update_u64(c.fd, KDBUS_ITEM_ATTACH_FLAGS_RECV, bad[i]))
			TH_LOG("recv %#llx", (unsigned long long)bad[i]);
	}
	EXPECT_EQ(0, kdbus_update_u64(c.fd, KDBUS_ITEM_ATTACH_FLAGS_RECV, _KDBUS_ATTACH_ANY));
	kdbus_conn_close(&c);
}

TEST_F(conn, update_duplicate_attach_items_einval)
{
	struct kdbus_conn c;
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_u64(&b, KDBUS_ITEM_ATTACH_FLAGS_SEND, 0);
	kdbus_b_u64(&b, KDBUS_ITEM_ATTACH_FLAGS_SEND, 0);
	EXPECT_EQ(-EINVAL, update(c.fd, &b, 0));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_u64(&b, KDBUS_ITEM_ATTACH_FLAGS_RECV, 0);
	kdbus_b_u64(&b, KDBUS_ITEM_ATTACH_FLAGS_RECV, 0);
	EXPECT_EQ(-EINVAL, update(c.fd, &b, 0));
	EXPECT_EQ(1, own_info_has_creds(&c));
	/* One of each is fine. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_u64(&b, KDBUS_ITEM_ATTACH_FLAGS_SEND, _KDBUS_ATTACH_ALL);
	kdbus_b_u64(&b, KDBUS_ITEM_ATTACH_FLAGS_RECV, 0);
	EXPECT_EQ(0, update(c.fd, &b, 0));
	kdbus_conn_close(&c);
}

TEST_F(conn, update_malformed_einval)
{
	struct kdbus_conn c;
	struct kdbus_builder b;
	uint64_t two[2] = { 0, 0 };
	uint32_t four = 0;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	/* Attach items whose payload is not one u64. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_item(&b, KDBUS_ITEM_ATTACH_FLAGS_SEND, &four, sizeof(four));
	EXPECT_EQ(-EINVAL, update(c.fd, &b, 0));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_item(&b, KDBUS_ITEM_ATTACH_FLAGS_RECV, two, sizeof(two));
	EXPECT_EQ(-EINVAL, update(c.fd, &b, 0));
	/* Unknown flag, foreign item type. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	EXPECT_EQ(-EINVAL, update(c.fd, &b, 1));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_CONN_DESCRIPTION, "new");
	EXPECT_EQ(-EINVAL, update(c.fd, &b, 0));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_u64(&b, KDBUS_ITEM_ID, 1);
	EXPECT_EQ(-EINVAL, update(c.fd, &b, 0));
	EXPECT_EQ(1, own_info_has_creds(&c));
	kdbus_conn_close(&c);
}

TEST_F(conn, update_checks_everything_before_applying)
{
	struct kdbus_conn c;
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_param_set(KDBUS_PARAM_DEFAULT, self->param, sizeof(self->param)));
	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_u64(&b, KDBUS_ITEM_ATTACH_FLAGS_SEND, 0);
	kdbus_b_u64(&b, KDBUS_ITEM_ATTACH_FLAGS_RECV, 1ULL << 20);
	EXPECT_EQ(-EINVAL, update(c.fd, &b, 0));
	/* The valid send mask was not applied. */
	EXPECT_EQ(1, own_info_has_creds(&c));
	kdbus_conn_close(&c);
}

TEST_F(conn, update_activator_send_eopnotsupp_recv_ok)
{
	struct kdbus_conn a;
	struct kdbus_builder b;

	ASSERT_EQ(0, open_kind(&a, self->path, ACTIVATOR));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_update_u64(a.fd, KDBUS_ITEM_ATTACH_FLAGS_SEND,
						_KDBUS_ATTACH_ALL));
	EXPECT_EQ(0, kdbus_update_u64(a.fd, KDBUS_ITEM_ATTACH_FLAGS_RECV, _KDBUS_ATTACH_ALL));
	/* Policy items are for policy holders only. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.t.act");
	EXPECT_EQ(-EOPNOTSUPP, update(a.fd, &b, 0));
	kdbus_conn_close(&a);
}

TEST_F(conn, update_policy_holder_attach_eopnotsupp)
{
	struct kdbus_conn p;

	ASSERT_EQ(0, open_kind(&p, self->path, POLICY_HOLDER));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_update_u64(p.fd, KDBUS_ITEM_ATTACH_FLAGS_SEND, 0));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_update_u64(p.fd, KDBUS_ITEM_ATTACH_FLAGS_RECV, 0));
	kdbus_conn_close(&p);
}

TEST_F(conn, update_monitor_attach_ok_policy_eopnotsupp)
{
	struct kdbus_conn m;
	struct kdbus_builder b;

	ASSERT_EQ(0, open_kind(&m, self->path, MONITOR));
	EXPECT_EQ(0, kdbus_update_u64(m.fd, KDBUS_ITEM_ATTACH_FLAGS_SEND, 0));
	EXPECT_EQ(0, kdbus_update_u64(m.fd, KDBUS_ITEM_ATTACH_FLAGS_RECV, _KDBUS_ATTACH_ALL));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.t.mon");
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_SEE, 0);
	EXPECT_EQ(-EOPNOTSUPP, update(m.fd, &b, 0));
	kdbus_conn_close(&m);
}

TEST_F(conn, update_policy_items_on_ordinary_eopnotsupp)
{
	struct kdbus_conn c;
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.t.ord");
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_SEE, 0);
	EXPECT_EQ(-EOPNOTSUPP, update(c.fd, &b, 0));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.t.ord");
	EXPECT_EQ(-EOPNOTSUPP, update(c.fd, &b, 0));
	kdbus_conn_close(&c);
}

/* Can a new policy holder for @name be created? 0 or -errno. */
static int ph_probe(const char *path, const char *name)
{
	int ret, fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	ret = kdbus_hello_name(fd, KDBUS_HELLO_POLICY_HOLDER, name, POOL, NULL);
	close(fd);
	return ret;
}

TEST_F(conn, update_policy_holder_replaces_its_policy)
{
	struct kdbus_conn p;
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_conn_open_name(&p, self->path, KDBUS_HELLO_POLICY_HOLDER,
					  "org.kdbus.t.a", POOL));
	ASSERT_EQ(-EEXIST, ph_probe(self->path, "org.kdbus.t.a"));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.t.b");
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_SEE, 0);
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_USER, KDBUS_POLICY_TALK, KDBUS_TEST_NOBODY);
	EXPECT_EQ(0, update(p.fd, &b, 0));
	/* The old entry is gone, the new one is held. */
	EXPECT_EQ(0, ph_probe(self->path, "org.kdbus.t.a"));
	EXPECT_EQ(-EEXIST, ph_probe(self->path, "org.kdbus.t.b"));
	kdbus_conn_close(&p);
}

TEST_F(conn, update_policy_holder_same_name_or_no_access_ok)
{
	struct kdbus_conn p;
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_conn_open_name(&p, self->path, KDBUS_HELLO_POLICY_HOLDER,
					  "org.kdbus.t.a", POOL));
	/* Replacing one's own entry is no conflict. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.t.a");
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_OWN, 0);
	EXPECT_EQ(0, update(p.fd, &b, 0));
	/* A NAME without access items is accepted. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.t.a");
	EXPECT_EQ(0, update(p.fd, &b, 0));
	/* So is a wildcard. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.t.*");
	EXPECT_EQ(0, update(p.fd, &b, 0));
	EXPECT_EQ(0, ph_probe(self->path, "org.kdbus.t.a"));
	EXPECT_EQ(-EEXIST, ph_probe(self->path, "org.kdbus.t.*"));
	kdbus_conn_close(&p);
}

TEST_F(conn, update_policy_second_name_e2big)
{
	struct kdbus_conn p;
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_conn_open_name(&p, self->path, KDBUS_HELLO_POLICY_HOLDER,
					  "org.kdbus.t.a", POOL));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.t.b");
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_SEE, 0);
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.t.c");
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_SEE, 0);
	EXPECT_EQ(-E2BIG, update(p.fd, &b, 0));
	/* The previous policy is still in force. */
	EXPECT_EQ(-EEXIST, ph_probe(self->path, "org.kdbus.t.a"));
	EXPECT_EQ(0, ph_probe(self->path, "org.kdbus.t.b"));
	kdbus_conn_close(&p);
}

TEST_F(conn, update_policy_access_before_name_einval)
{
	struct kdbus_conn p;
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_conn_open_name(&p, self->path, KDBUS_HELLO_POLICY_HOLDER,
					  "org.kdbus.t.a", POOL));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_SEE, 0);
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.t.b");
	EXPECT_EQ(-EINVAL, update(p.fd, &b, 0));
	EXPECT_EQ(-EEXIST, ph_probe(self->path, "org.kdbus.t.a"));
	EXPECT_EQ(0, ph_probe(self->path, "org.kdbus.t.b"));
	kdbus_conn_close(&p);
}

TEST_F(conn, update_policy_bad_entries_einval)
{
	struct kdbus_conn p;
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_conn_open_name(&p, self->path, KDBUS_HELLO_POLICY_HOLDER,
					  "org.kdbus.t.a", POOL));
	/* Invalid name. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "nodot");
	EXPECT_EQ(-EINVAL, update(p.fd, &b, 0));
	/* Bad access. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.t.b");
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, 7, 0);
	EXPECT_EQ(-EINVAL, update(p.fd, &b, 0));
	/* Bad type. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.t.b");
	kdbus_b_policy(&b, 0, KDBUS_POLICY_SEE, 0);
	EXPECT_EQ(-EINVAL, update(p.fd, &b, 0));
	/* Wrong POLICY_ACCESS payload size. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.t.b");
	{
		uint64_t pa[2] = { KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_SEE };

		kdbus_b_item(&b, KDBUS_ITEM_POLICY_ACCESS, pa, sizeof(pa));
	}
	EXPECT_EQ(-EINVAL, update(p.fd, &b, 0));
	EXPECT_EQ(-EEXIST, ph_probe(self->path, "org.kdbus.t.a"));
	EXPECT_EQ(0, ph_probe(self->path, "org.kdbus.t.b"));
	kdbus_conn_close(&p);
}

TEST_F(conn, failed_policy_update_keeps_previous_policy)
{
	struct kdbus_conn p1, p2;
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_conn_open_name(&p1, self->path, KDBUS_HELLO_POLICY_HOLDER,
					  "org.kdbus.t.a", POOL));
	ASSERT_EQ(0, kdbus_conn_open_name(&p2, self->path, KDBUS_HELLO_POLICY_HOLDER,
					  "org.kdbus.t.b", POOL));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.t.b");
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_SEE, 0);
	EXPECT_EQ(-EEXIST, update(p1.fd, &b, 0));
	/* p1 still holds a, p2 still holds b. */
	EXPECT_EQ(-EEXIST, ph_probe(self->path, "org.kdbus.t.a"));
	EXPECT_EQ(-EEXIST, ph_probe(self->path, "org.kdbus.t.b"));
	kdbus_conn_close(&p2);
	EXPECT_EQ(-EEXIST, ph_probe(self->path, "org.kdbus.t.a"));
	EXPECT_EQ(0, ph_probe(self->path, "org.kdbus.t.b"));
	kdbus_conn_close(&p1);
}

/* ------------------------------------------------------ connection types */

TEST_F(conn, special_connections_send_eopnotsupp)
{
	struct kdbus_conn c;
	enum kind k;

	for (k = ACTIVATOR; k <= MONITOR; k++) {
		ASSERT_EQ(0, open_kind(&c, self->path, k)) TH_LOG("%s", kind_name[k]);
		EXPECT_EQ(-EOPNOTSUPP, kdbus_cmd_simple(c.fd, KDBUS_CMD_SEND))
			TH_LOG("%s", kind_name[k]);
		kdbus_conn_close(&c);
	}
}

TEST_F(conn, special_connections_byebye_names_matches_eopnotsupp)
{
	static const unsigned long cmds[] = {
		KDBUS_CMD_BYEBYE, KDBUS_CMD_NAME_ACQUIRE, KDBUS_CMD_NAME_RELEASE,
		KDBUS_CMD_MATCH_ADD, KDBUS_CMD_MATCH_REMOVE,
	};
	struct kdbus_conn c;
	enum kind k;
	size_t i;

	for (k = ACTIVATOR; k <= MONITOR; k++) {
		ASSERT_EQ(0, open_kind(&c, self->path, k)) TH_LOG("%s", kind_name[k]);
		for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			EXPECT_EQ(-EOPNOTSUPP, kdbus_cmd_simple(c.fd, cmds[i]))
				TH_LOG("%s %s", kind_name[k], kdbus_cmd_name(cmds[i]));
		}
		/* Still connected. */
		EXPECT_EQ(0, kdbus_cmd_simple(c.fd, KDBUS_CMD_LIST)) TH_LOG("%s", kind_name[k]);
		kdbus_conn_close(&c);
	}
}

TEST_F(conn, policy_holder_recv_free_eopnotsupp)
{
	struct kdbus_conn p;

	ASSERT_EQ(0, open_kind(&p, self->path, POLICY_HOLDER));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_cmd_simple(p.fd, KDBUS_CMD_RECV));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_free(p.fd, p.hello.offset));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_free(p.fd, POOL));
	kdbus_conn_close(&p);
}

TEST_F(conn, activator_and_monitor_may_free)
{
	struct kdbus_conn c;
	enum kind k;

	for (k = ACTIVATOR; k <= MONITOR; k += 2) {
		ASSERT_EQ(0, open_kind(&c, self->path, k)) TH_LOG("%s", kind_name[k]);
		EXPECT_EQ(0, kdbus_free(c.fd, c.hello.offset)) TH_LOG("%s", kind_name[k]);
		EXPECT_EQ(-ENXIO, kdbus_free(c.fd, c.hello.offset)) TH_LOG("%s", kind_name[k]);
		kdbus_conn_close(&c);
	}
}

TEST_F(conn, every_type_may_list_conn_info_and_bus_creator_info)
{
	struct kdbus_conn o, c;
	struct kdbus_info *info;
	uint64_t off, size;
	enum kind k;

	ASSERT_EQ(0, kdbus_conn_open(&o, self->path, 0, POOL));
	for (k = ORDINARY; k <= MONITOR; k++) {
		bool can_free = k != POLICY_HOLDER;

		ASSERT_EQ(0, open_kind(&c, self->path, k)) TH_LOG("%s", kind_name[k]);
		EXPECT_EQ(0, kdbus_list(c.fd, KDBUS_LIST_UNIQUE, &off, &size))
			TH_LOG("%s", kind_name[k]);
		EXPECT_NE(NULL, kdbus_list_find(c.pool + off, size, o.id)) TH_LOG("%s", kind_name[k]);
		if (can_free)
			EXPECT_EQ(0, kdbus_free(c.fd, off));
		EXPECT_EQ(0, kdbus_conn_info(c.fd, c.pool, o.id, NULL, 0, &info, NULL))
			TH_LOG("%s", kind_name[k]);
		EXPECT_EQ(o.id, info->id) TH_LOG("%s", kind_name[k]);
		if (can_free)
			EXPECT_EQ(0, kdbus_info_free(c.fd, c.pool, info));
		EXPECT_EQ(0, kdbus_conn_info(c.fd, c.pool, c.id, NULL, 0, &info, NULL))
			TH_LOG("%s: own id", kind_name[k]);
		if (can_free)
			EXPECT_EQ(0, kdbus_info_free(c.fd, c.pool, info));
		EXPECT_EQ(0, kdbus_bus_creator_info(c.fd, c.pool, 0, &info, NULL))
			TH_LOG("%s", kind_name[k]);
		EXPECT_EQ(KDBUS_MAKE_ACCESS_WORLD, info->flags) TH_LOG("%s", kind_name[k]);
		if (can_free)
			EXPECT_EQ(0, kdbus_info_free(c.fd, c.pool, info));
		kdbus_conn_close(&c);
	}
	kdbus_conn_close(&o);
}

TEST_F(conn, wrong_type_eopnotsupp_before_parsing)
{
	struct kdbus_conn a, p, m;
	uint64_t bad[4] = { 8, 0, 0, 0 };	/* size below every struct */

	ASSERT_EQ(0, open_kind(&a, self->path, ACTIVATOR));
	ASSERT_EQ(0, open_kind(&p, self->path, POLICY_HOLDER));
	ASSERT_EQ(0, open_kind(&m, self->path, MONITOR));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_ioctl(a.fd, KDBUS_CMD_BYEBYE, bad));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_ioctl(a.fd, KDBUS_CMD_SEND, NULL));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_ioctl(p.fd, KDBUS_CMD_FREE, bad));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_ioctl(p.fd, KDBUS_CMD_RECV, (uint8_t *)bad + 4));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_ioctl(m.fd, KDBUS_CMD_BYEBYE, NULL));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_ioctl(m.fd, KDBUS_CMD_NAME_ACQUIRE, bad));
	EXPECT_EQ(-EOPNOTSUPP, kdbus_ioctl(m.fd, KDBUS_CMD_MATCH_ADD, bad));
	kdbus_conn_close(&a);
	kdbus_conn_close(&p);
	kdbus_conn_close(&m);
}

TEST_HARNESS_MAIN
