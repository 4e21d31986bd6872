// SPDX-License-Identifier: GPL-2.0
/*
 * KDBUS_CMD_BUS_CREATOR_INFO as seen from this area (fs-bus-endpoint.md §8,
 * connection-pool.md §7.5, checklist §13 "BUS_CREATOR_INFO"): the answer's
 * header, the MAKE_NAME item, selection by the owner mask, the BUS_MAKE
 * snapshot, and use from a custom endpoint. The module mask's effect is in
 * test-fs.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

FIXTURE(ci) {
	struct kdbus_domain d;
	char param[64];		/* attach_flags_mask to restore, if saved */
};

FIXTURE_SETUP(ci)
{
	self->param[0] = 0;
	ASSERT_EQ(0, kdbus_domain_init(&self->d));
}

FIXTURE_TEARDOWN(ci)
{
	if (self->param[0])
		kdbus_write_file(KDBUS_PARAM_PATH, self->param);
	kdbus_domain_fini(&self->d);
}

/* Pin the module mask to its default for this test (restored at teardown). */
static int default_module_mask(char *saved, size_t len)
{
	ssize_t n = kdbus_read_file(KDBUS_PARAM_PATH, saved, len);

	if (n < 0)
		return n;
	saved[strcspn(saved, "\n")] = 0;
	return kdbus_write_file(KDBUS_PARAM_PATH, KDBUS_PARAM_DEFAULT);
}

static void check_make_name(struct __test_metadata *_metadata, struct kdbus_info *info,
			    const char *bus)
{
	struct kdbus_item *item = info->items;

	ASSERT_LE(sizeof(*info) + KDBUS_ITEM_HEADER_SIZE, info->size);
	EXPECT_EQ(KDBUS_ITEM_MAKE_NAME, item->type);
	EXPECT_EQ(KDBUS_ITEM_HEADER_SIZE + strlen(bus) + 1, item->size);
	EXPECT_STREQ(bus, item->str);
}

TEST_F(ci, from_custom_endpoint_reports_bus_name)
{
	struct kdbus_conn c;
	struct kdbus_info *info;
	uint64_t info_size = 0;
	char bus[64], ep[64], path[256];
	int owner, busfd;

	owner = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "ci", bus);
	ASSERT_LE(0, owner);
	busfd = kdbus_open_bus(self->d.root, bus);
	ASSERT_LE(0, busfd);
	kdbus_domain_name(&self->d, ep, sizeof(ep), "ep");
	ASSERT_EQ(0, kdbus_ep_make(busfd, KDBUS_MAKE_ACCESS_WORLD, ep));
	ASSERT_EQ(0, kdbus_conn_open(&c, kdbus_path(path, sizeof(path), self->d.root,
						    "%s/%s", bus, ep),
				     0, KDBUS_TEST_POOL_SIZE));

	ASSERT_EQ(0, kdbus_bus_creator_info(c.fd, c.pool, 0, &info, &info_size));
	check_make_name(_metadata, info, bus);
	EXPECT_EQ(1, kdbus_info_count(info));
	EXPECT_EQ(info->size, info_size);
	EXPECT_EQ(0, kdbus_info_free(c.fd, c.pool, info));
	kdbus_conn_close(&c);
	close(busfd);
	close(owner);
}

TEST_F(ci, without_owner_mask_only_make_name)
{
	struct kdbus_conn c;
	struct kdbus_info *info;
	char bus[64], path[256];
	int owner;

	owner = kdbus_create_bus(self->d.root, 0, "ci", bus);
	ASSERT_LE(0, owner);
	ASSERT_EQ(0, kdbus_conn_open(&c, kdbus_path(path, sizeof(path), self->d.root,
						    "%s/bus", bus),
				     0, KDBUS_TEST_POOL_SIZE));

	ASSERT_EQ(0, kdbus_bus_creator_info(c.fd, c.pool, _KDBUS_ATTACH_ALL, &info, NULL));
	check_make_name(_metadata, info, bus);
	EXPECT_EQ(1, kdbus_info_count(info));
	EXPECT_EQ(0, kdbus_info_free(c.fd, c.pool, info));

	/* ~0 means ALL. */
	ASSERT_EQ(0, kdbus_bus_creator_info(c.fd, c.pool, _KDBUS_ATTACH_ANY, &info, NULL));
	EXPECT_EQ(1, kdbus_info_count(info));
	EXPECT_EQ(0, kdbus_info_free(c.fd, c.pool, info));
	kdbus_conn_close(&c);
	close(owner);
}

struct creator {
	int control;
	const char *name;
	int ready[2];	/* child -> parent: bus made, uid changed */
	int done[2];	/* parent -> child: may exit */
};

/* Runs as root: BUS_MAKE, then become UID 65534 and stay alive. */
static int make_bus_then_change_uid(void *arg)
{
	struct creator *cr = arg;
	char c;

	close(cr->ready[0]);
	close(cr->done[1]);
	KDBUS_CHILD_CHECK(kdbus_bus_make(cr->control, 0, cr->name, 64, 1,
					 KDBUS_OPT_ATTACH_SEND(KDBUS_ATTACH_PIDS |
							       KDBUS_ATTACH_CREDS)) == 0);
	KDBUS_CHILD_CHECK(setresgid(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY,
				    KDBUS_TEST_NOBODY) == 0);
	KDBUS_CHILD_CHECK(setresuid(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY,
				    KDBUS_TEST_NOBODY) == 0);
	KDBUS_CHILD_CHECK(write(cr->ready[1], "r", 1) == 1);
	KDBUS_CHILD_CHECK(read(cr->done[0], &c, 1) == 1);
	return 0;
}

TEST_F(ci, owner_mask_creds_pids_gives_exactly_those_from_bus_make_time)
{
	struct creator cr;
	struct kdbus_conn c;
	struct kdbus_info *info;
	struct kdbus_item *item;
	char bus[64], path[256], ch;
	uint64_t types[4];
	int n = 0;
	pid_t pid;

	ASSERT_EQ(0, default_module_mask(self->param, sizeof(self->param)));
	cr.control = kdbus_open_control(self->d.root);
	ASSERT_LE(0, cr.control);
	cr.name = kdbus_domain_name(&self->d, bus, sizeof(bus), "ci");
	ASSERT_EQ(0, pipe(cr.ready));
	ASSERT_EQ(0, pipe(cr.done));
	pid = kdbus_spawn(make_bus_then_change_uid, &cr);
	ASSERT_LT(0, pid);
	close(cr.ready[1]);
	close(cr.done[0]);
	ASSERT_EQ(1, read(cr.ready[0], &ch, 1));

	ASSERT_EQ(0, kdbus_conn_open(&c, kdbus_path(path, sizeof(path), self->d.root,
						    "%s/bus", bus),
				     0, KDBUS_TEST_POOL_SIZE));
	ASSERT_EQ(0, kdbus_bus_creator_info(c.fd, c.pool, _KDBUS_ATTACH_ALL, &info, NULL));
	check_make_name(_metadata, info, bus);
	KDBUS_ITEM_FOREACH(item, info, items) {
		if (n < 4)
			types[n] = item->type;
		n++;
	}
	ASSERT_EQ(3, n);
	EXPECT_EQ(KDBUS_ITEM_MAKE_NAME, types[0]);
	EXPECT_EQ(KDBUS_ITEM_CREDS, types[1]);
	EXPECT_EQ(KDBUS_ITEM_PIDS, types[2]);

	/* The snapshot from BUS_MAKE: root then, 65534 now. */
	item = kdbus_info_item(info, KDBUS_ITEM_CREDS);
	ASSERT_NE(NULL, item);
	EXPECT_EQ(KDBUS_ITEM_HEADER_SIZE + sizeof(struct kdbus_creds), item->size);
	EXPECT_EQ(0, item->creds.uid);
	EXPECT_EQ(0, item->creds.euid);
	EXPECT_EQ(0, item->creds.suid);
	EXPECT_EQ(0, item->creds.fsuid);
	EXPECT_EQ(0, item->creds.gid);
	EXPECT_EQ(0, item->creds.egid);
	item = kdbus_info_item(info, KDBUS_ITEM_PIDS);
	ASSERT_NE(NULL, item);
	EXPECT_EQ(KDBUS_ITEM_HEADER_SIZE + sizeof(struct kdbus_pids), item->size);
	EXPECT_EQ((uint64_t)pid, item->pids.pid);
	EXPECT_EQ((uint64_t)pid, item->pids.tid);
	EXPECT_EQ((uint64_t)getpid(), item->pids.ppid);
	EXPECT_EQ(0, kdbus_info_free(c.fd, c.pool, info));

	/* Asking for less gives less. */
	ASSERT_EQ(0, kdbus_bus_creator_info(c.fd, c.pool, KDBUS_ATTACH_PIDS, &info, NULL));
	EXPECT_EQ(2, kdbus_info_count(info));
	EXPECT_NE(NULL, kdbus_info_item(info, KDBUS_ITEM_PIDS));
	EXPECT_EQ(0, kdbus_info_free(c.fd, c.pool, info));

	EXPECT_EQ(1, write(cr.done[1], "d", 1));
	EXPECT_EQ(0, kdbus_wait(pid));
	kdbus_conn_close(&c);
	close(cr.control);
}

TEST_F(ci, info_flags_are_bus_flags_and_id_is_bus_id)
{
	struct kdbus_conn c1, c2;
	struct kdbus_info *info;
	char bus1[64], bus2[64], path[256];
	uint64_t id1;
	int owner1, owner2;

	owner1 = kdbus_create_bus(self->d.root,
				  KDBUS_MAKE_ACCESS_GROUP | KDBUS_MAKE_ACCESS_WORLD, "ci", bus1);
	ASSERT_LE(0, owner1);
	ASSERT_EQ(0, kdbus_conn_open(&c1, kdbus_path(path, sizeof(path), self->d.root,
						     "%s/bus", bus1),
				     0, KDBUS_TEST_POOL_SIZE));
	ASSERT_EQ(0, kdbus_bus_creator_info(c1.fd, c1.pool, 0, &info, NULL));
	EXPECT_EQ(KDBUS_MAKE_ACCESS_GROUP | KDBUS_MAKE_ACCESS_WORLD, info->flags);
	/* The first bus of a fresh domain has ID 1. */
	EXPECT_EQ(1, info->id);
	id1 = info->id;
	EXPECT_EQ(0, kdbus_info_free(c1.fd, c1.pool, info));

	owner2 = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "ci", bus2);
	ASSERT_LE(0, owner2);
	ASSERT_EQ(0, kdbus_conn_open(&c2, kdbus_path(path, sizeof(path), self->d.root,
						     "%s/bus", bus2),
				     0, KDBUS_TEST_POOL_SIZE));
	ASSERT_EQ(0, kdbus_bus_creator_info(c2.fd, c2.pool, 0, &info, NULL));
	EXPECT_EQ(KDBUS_MAKE_ACCESS_WORLD, info->flags);
	/* IDs come from one increasing per-domain counter. */
	EXPECT_LT(id1, info->id);
	EXPECT_LT(c1.id, info->id);
	EXPECT_GT(c2.id, info->id);
	EXPECT_EQ(0, kdbus_info_free(c2.fd, c2.pool, info));

	kdbus_conn_close(&c1);
	kdbus_conn_close(&c2);
	close(owner1);
	close(owner2);
}

TEST_F(ci, request_id_is_ignored)
{
	struct kdbus_builder b;
	struct kdbus_cmd_info *cmd;
	struct kdbus_conn c;
	char bus[64], path[256];
	int owner;

	owner = kdbus_create_bus(self->d.root, 0, "ci", bus);
	ASSERT_LE(0, owner);
	ASSERT_EQ(0, kdbus_conn_open(&c, kdbus_path(path, sizeof(path), self->d.root,
						    "%s/bus", bus),
				     0, KDBUS_TEST_POOL_SIZE));
	kdbus_b_init(&b, sizeof(*cmd));
	cmd = kdbus_b_cmd(&b);
	cmd->id = 0x123456789ULL;
	ASSERT_EQ(0, kdbus_ioctl(c.fd, KDBUS_CMD_BUS_CREATOR_INFO, cmd));
	EXPECT_EQ(0, cmd->offset % 8);
	EXPECT_STREQ(bus, ((struct kdbus_info *)(c.pool + cmd->offset))->items[0].str);
	EXPECT_EQ(0, kdbus_free(c.fd, cmd->offset));
	kdbus_conn_close(&c);
	close(owner);
}

TEST_F(ci, unknown_attach_bit_einval)
{
	struct kdbus_conn c;
	struct kdbus_info *info;
	char bus[64], path[256];
	int owner;

	owner = kdbus_create_bus(self->d.root, 0, "ci", bus);
	ASSERT_LE(0, owner);
	ASSERT_EQ(0, kdbus_conn_open(&c, kdbus_path(path, sizeof(path), self->d.root,
						    "%s/bus", bus),
				     0, KDBUS_TEST_POOL_SIZE));
	EXPECT_EQ(-EINVAL, kdbus_bus_creator_info(c.fd, c.pool, 0x4000, &info, NULL));
	kdbus_conn_close(&c);
	close(owner);
}

TEST_F(ci, reply_slice_is_freed_once)
{
	struct kdbus_conn c;
	struct kdbus_info *info;
	char bus[64], path[256];
	int owner;

	owner = kdbus_create_bus(self->d.root, 0, "ci", bus);
	ASSERT_LE(0, owner);
	ASSERT_EQ(0, kdbus_conn_open(&c, kdbus_path(path, sizeof(path), self->d.root,
						    "%s/bus", bus),
				     0, KDBUS_TEST_POOL_SIZE));
	ASSERT_EQ(0, kdbus_bus_creator_info(c.fd, c.pool, 0, &info, NULL));
	EXPECT_EQ(0, kdbus_info_free(c.fd, c.pool, info));
	EXPECT_EQ(-ENXIO, kdbus_info_free(c.fd, c.pool, info));
	kdbus_conn_close(&c);
	close(owner);
}

TEST_HARNESS_MAIN
