// SPDX-License-Identifier: GPL-2.0
/*
 * KDBUS_CMD_LIST (connection-pool.md §8, abi.md §4.5, §8.5, checklist §15
 * "LIST"): which connections and names are listed for UNIQUE, NAMES and
 * ACTIVATORS, the record layout, the empty answer, argument checks and
 * negotiation, EXFULL, and custom endpoints.
 *
 * Name records of ordinary owners and waiters ("LIST with NAMES returns one
 * record per name held by a non-activator owner", "LIST with QUEUED",
 * implementer / activator double records, "LIST on a custom endpoint omits
 * names the caller cannot see") are tested in test-names.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

#define POOL	KDBUS_TEST_POOL_SIZE

FIXTURE(list) {
	struct kdbus_domain d;
	char bus[64];
	char path[256];		/* <root>/<bus>/bus */
	int owner;
};

FIXTURE_SETUP(list)
{
	ASSERT_EQ(0, kdbus_domain_init(&self->d));
	self->owner = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "l", self->bus);
	ASSERT_LE(0, self->owner);
	kdbus_path(self->path, sizeof(self->path), self->d.root, "%s/bus", self->bus);
}

FIXTURE_TEARDOWN(list)
{
	if (self->owner >= 0)
		close(self->owner);
	kdbus_domain_fini(&self->d);
}

/* Check one name record: @id/@flags, one OWNED_NAME item @name with name
 * flags @name_flags, and the exact sizes of abi.md §8.5. */
static void check_name_record(struct __test_metadata *_metadata, struct kdbus_info *info,
			      uint64_t id, uint64_t flags, const char *name,
			      uint64_t name_flags)
{
	struct kdbus_item *item = info->items;
	uint64_t isize = KDBUS_ITEM_HEADER_SIZE + 8 + strlen(name) + 1;

	EXPECT_EQ(id, info->id);
	EXPECT_EQ(flags, info->flags);
	EXPECT_EQ(sizeof(*info) + KDBUS_ALIGN8(isize), info->size);
	ASSERT_LE(sizeof(*info) + isize, info->size);
	EXPECT_EQ(KDBUS_ITEM_OWNED_NAME, item->type);
	EXPECT_EQ(isize, item->size);
	EXPECT_EQ(name_flags, item->name.flags);
	EXPECT_STREQ(name, item->name.name);
}

/* The record of @list (@size bytes) carrying the OWNED_NAME @name. */
static struct kdbus_info *find_name(void *list, uint64_t size, const char *name)
{
	uint64_t pos = 0;

	while (pos + sizeof(struct kdbus_info) <= size) {
		struct kdbus_info *info = (void *)((uint8_t *)list + pos);
		struct kdbus_item *item;

		if (info->size < sizeof(*info))
			return NULL;
		item = kdbus_info_item(info, KDBUS_ITEM_OWNED_NAME);
		if (item && !strcmp(item->name.name, name))
			return info;
		pos += info->size;
	}
	return NULL;
}

/* How many records of @list carry @id? */
static int count_id(void *list, uint64_t size, uint64_t id)
{
	uint64_t pos = 0;
	int n = 0;

	while (pos + sizeof(struct kdbus_info) <= size) {
		struct kdbus_info *info = (void *)((uint8_t *)list + pos);

		if (info->size < sizeof(*info))
			break;
		n += info->id == id;
		pos += info->size;
	}
	return n;
}

TEST_F(list, unique_lists_ordinary_and_policy_holders_once)
{
	struct kdbus_conn o1, o2, ph, act, mon;
	struct kdbus_info *info;
	uint64_t off, size;
	uint8_t *list;

	ASSERT_EQ(0, kdbus_conn_open(&o1, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&o2, self->path, KDBUS_HELLO_ACCEPT_FD, POOL));
	ASSERT_EQ(0, kdbus_conn_open_name(&ph, self->path, KDBUS_HELLO_POLICY_HOLDER,
					  "org.kdbus.t.ph", POOL));
	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->path, KDBUS_HELLO_ACTIVATOR,
					  "org.kdbus.t.act", POOL));
	ASSERT_EQ(0, kdbus_conn_open(&mon, self->path, KDBUS_HELLO_MONITOR, POOL));

	ASSERT_EQ(0, kdbus_list(o1.fd, KDBUS_LIST_UNIQUE, &off, &size));
	list = o1.pool + off;
	EXPECT_EQ(3, kdbus_list_count(list, size));
	EXPECT_EQ(3 * sizeof(struct kdbus_info), size);
	info = kdbus_list_find(list, size, o1.id);
	ASSERT_NE(NULL, info);
	EXPECT_EQ(sizeof(*info), info->size);
	EXPECT_EQ(0, info->flags);
	info = kdbus_list_find(list, size, o2.id);
	ASSERT_NE(NULL, info);
	EXPECT_EQ(sizeof(*info), info->size);
	EXPECT_EQ(KDBUS_HELLO_ACCEPT_FD, info->flags);
	info = kdbus_list_find(list, size, ph.id);
	ASSERT_NE(NULL, info);
	EXPECT_EQ(sizeof(*info), info->size);
	EXPECT_EQ(KDBUS_HELLO_POLICY_HOLDER, info->flags);
	EXPECT_EQ(NULL, kdbus_list_find(list, size, act.id));
	EXPECT_EQ(NULL, kdbus_list_find(list, size, mon.id));
	EXPECT_EQ(0, kdbus_free(o1.fd, off));

	kdbus_conn_close(&o1);
	kdbus_conn_close(&o2);
	kdbus_conn_close(&ph);
	kdbus_conn_close(&act);
	kdbus_conn_close(&mon);
}

TEST_F(list, activators_lists_activator_held_names)
{
	static const char *const names[] = { "org.kdbus.t.a", "org.kdbus.t.bbbbbbbb" };
	struct kdbus_conn o, act[2];
	struct kdbus_info *info;
	uint64_t off, size;
	uint8_t *list;
	int i;

	ASSERT_EQ(0, kdbus_conn_open(&o, self->path, 0, POOL));
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, kdbus_conn_open_name(&act[i], self->path,
						  KDBUS_HELLO_ACTIVATOR | (i ? KDBUS_HELLO_ACCEPT_FD : 0),
						  names[i], POOL));

	ASSERT_EQ(0, kdbus_list(o.fd, KDBUS_LIST_ACTIVATORS, &off, &size));
	list = o.pool + off;
	EXPECT_EQ(2, kdbus_list_count(list, size));
	for (i = 0; i < 2; i++) {
		info = find_name(list, size, names[i]);
		ASSERT_NE(NULL, info) TH_LOG("%s", names[i]);
		check_name_record(_metadata, info, act[i].id,
				  KDBUS_HELLO_ACTIVATOR | (i ? KDBUS_HELLO_ACCEPT_FD : 0),
				  names[i], KDBUS_NAME_ACTIVATOR);
	}
	/* Nameless ordinary connections have no record here. */
	EXPECT_EQ(0, count_id(list, size, o.id));
	EXPECT_EQ(0, kdbus_free(o.fd, off));
	for (i = 0; i < 2; i++)
		kdbus_conn_close(&act[i]);
	kdbus_conn_close(&o);
}

TEST_F(list, unique_with_activators_includes_activator_once)
{
	struct kdbus_conn o, act, mon;
	struct kdbus_info *info;
	uint64_t off, size;
	uint8_t *list;

	ASSERT_EQ(0, kdbus_conn_open(&o, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->path, KDBUS_HELLO_ACTIVATOR,
					  "org.kdbus.t.act", POOL));
	ASSERT_EQ(0, kdbus_conn_open(&mon, self->path, KDBUS_HELLO_MONITOR, POOL));
	ASSERT_EQ(0, kdbus_list(o.fd, KDBUS_LIST_UNIQUE | KDBUS_LIST_ACTIVATORS, &off, &size));
	list = o.pool + off;
	EXPECT_EQ(2, kdbus_list_count(list, size));
	EXPECT_EQ(1, count_id(list, size, o.id));
	EXPECT_EQ(1, count_id(list, size, act.id));
	EXPECT_EQ(0, count_id(list, size, mon.id));
	/* The activator's record is its name record (§8.3 step 3). */
	info = kdbus_list_find(list, size, act.id);
	ASSERT_NE(NULL, info);
	check_name_record(_metadata, info, act.id, KDBUS_HELLO_ACTIVATOR, "org.kdbus.t.act",
			  KDBUS_NAME_ACTIVATOR);
	EXPECT_EQ(0, kdbus_free(o.fd, off));
	kdbus_conn_close(&o);
	kdbus_conn_close(&act);
	kdbus_conn_close(&mon);
}

TEST_F(list, names_alone_omits_activator_held_names)
{
	struct kdbus_conn o, act;
	uint64_t off = 0, size = 1;

	ASSERT_EQ(0, kdbus_conn_open(&o, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->path, KDBUS_HELLO_ACTIVATOR,
					  "org.kdbus.t.act", POOL));
	ASSERT_EQ(0, kdbus_list(o.fd, KDBUS_LIST_NAMES, &off, &size));
	EXPECT_EQ(POOL, off);
	EXPECT_EQ(0, size);
	EXPECT_EQ(0, kdbus_free(o.fd, off));
	/* QUEUED: nobody waits for anything. */
	ASSERT_EQ(0, kdbus_list(o.fd, KDBUS_LIST_QUEUED, &off, &size));
	EXPECT_EQ(POOL, off);
	EXPECT_EQ(0, size);
	kdbus_conn_close(&o);
	kdbus_conn_close(&act);
}

TEST_F(list, records_aligned_and_sum_to_list_size)
{
	static const char *const names[] = {
		"a.b", "org.kdbus.t.x1", "org.kdbus.t.xx12", "org.kdbus.t.xxx123",
		"org.kdbus.t.xxxx1234", "org.kdbus.t.xxxxx12345",
	};
	struct kdbus_conn o[3], act[6];
	uint64_t off, size, pos;
	uint8_t *list;
	int i;

	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, kdbus_conn_open(&o[i], self->path, 0, POOL));
	for (i = 0; i < 6; i++)
		ASSERT_EQ(0, kdbus_conn_open_name(&act[i], self->path, KDBUS_HELLO_ACTIVATOR,
						  names[i], POOL));
	ASSERT_EQ(0, kdbus_list(o[0].fd, KDBUS_LIST_UNIQUE | KDBUS_LIST_NAMES |
				KDBUS_LIST_ACTIVATORS | KDBUS_LIST_QUEUED, &off, &size));
	EXPECT_EQ(0, off % 8);
	EXPECT_EQ(0, size % 8);
	ASSERT_LE(off + size, POOL);
	list = o[0].pool + off;
	EXPECT_EQ(9, kdbus_list_count(list, size));
	/* Walk by hand as well: 8-aligned sizes, back to back, exact total. */
	for (pos = 0; pos < size;) {
		struct kdbus_info *info = (struct kdbus_info *)(list + pos);

		ASSERT_LE(sizeof(*info), info->size);
		EXPECT_EQ(0, info->size % 8);
		ASSERT_LE(pos + info->size, size);
		pos += info->size;
	}
	EXPECT_EQ(size, pos);
	for (i = 0; i < 6; i++) {
		struct kdbus_info *info = find_name(list, size, names[i]);

		ASSERT_NE(NULL, info) TH_LOG("%s", names[i]);
		check_name_record(_metadata, info, act[i].id, KDBUS_HELLO_ACTIVATOR, names[i],
				  KDBUS_NAME_ACTIVATOR);
	}
	EXPECT_EQ(0, kdbus_free(o[0].fd, off));
	for (i = 0; i < 6; i++)
		kdbus_conn_close(&act[i]);
	for (i = 0; i < 3; i++)
		kdbus_conn_close(&o[i]);
}

TEST_F(list, flags_zero_is_the_empty_sentinel)
{
	struct kdbus_conn c;
	uint64_t off = 0, size = 1;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, 2 * POOL));
	ASSERT_EQ(0, kdbus_list(c.fd, 0, &off, &size));
	EXPECT_EQ(2 * POOL, off);
	EXPECT_EQ(0, size);
	EXPECT_EQ(0, kdbus_free(c.fd, off));
	EXPECT_EQ(0, kdbus_free(c.fd, off));
	kdbus_conn_close(&c);
}

TEST_F(list, unknown_flag_einval)
{
	static const uint64_t bad[] = {
		1ULL << 4, 1ULL << 40, KDBUS_LIST_UNIQUE | (1ULL << 5),
		KDBUS_FLAG_NEGOTIATE | (1ULL << 4),
	};
	struct kdbus_conn c;
	size_t i;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, kdbus_list(c.fd, bad[i], NULL, NULL))
			TH_LOG("flags %#llx", (unsigned long long)bad[i]);
	}
	kdbus_conn_close(&c);
}

TEST_F(list, negotiate_reports_0xf_and_lists_nothing)
{
	struct kdbus_conn c;
	struct kdbus_cmd_list cmd = {
		.size = sizeof(cmd),
		.flags = KDBUS_FLAG_NEGOTIATE | KDBUS_LIST_UNIQUE,
		.offset = 0x1238,
		.list_size = 0x77,
	};

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	EXPECT_EQ(0, kdbus_ioctl(c.fd, KDBUS_CMD_LIST, &cmd));
	EXPECT_EQ(KDBUS_LIST_UNIQUE | KDBUS_LIST_NAMES | KDBUS_LIST_ACTIVATORS |
		  KDBUS_LIST_QUEUED, cmd.flags);
	EXPECT_EQ(0xf, cmd.flags);
	EXPECT_EQ(0x1238, cmd.offset);
	EXPECT_EQ(0x77, cmd.list_size);
	kdbus_conn_close(&c);
}

TEST_F(list, items_other_than_negotiate_einval)
{
	static const uint64_t probe[] = { KDBUS_ITEM_NEGOTIATE, KDBUS_ITEM_NAME };
	struct kdbus_conn c;
	struct kdbus_builder b;
	struct kdbus_cmd_list *cmd;
	__u64 *payload;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	kdbus_b_init(&b, sizeof(*cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.t.x");
	cmd = kdbus_b_cmd(&b);
	cmd->flags = KDBUS_LIST_UNIQUE;
	EXPECT_EQ(-EINVAL, kdbus_ioctl(c.fd, KDBUS_CMD_LIST, cmd));

	/* A NEGOTIATE item is accepted, and zeroes NAME. */
	kdbus_b_init(&b, sizeof(*cmd));
	kdbus_b_negotiate(&b, probe, 2);
	cmd = kdbus_b_cmd(&b);
	cmd->flags = KDBUS_LIST_UNIQUE;
	ASSERT_EQ(0, kdbus_ioctl(c.fd, KDBUS_CMD_LIST, cmd));
	payload = cmd->items[0].data64;
	EXPECT_EQ(KDBUS_ITEM_NEGOTIATE, payload[0]);
	EXPECT_EQ(0, payload[1]);
	EXPECT_EQ(sizeof(struct kdbus_info), cmd->list_size);
	EXPECT_EQ(0, kdbus_free(c.fd, cmd->offset));
	kdbus_conn_close(&c);
}

TEST_F(list, exfull_when_pool_is_full_then_ok_after_free)
{
	static uint64_t offs[POOL / 8];
	struct kdbus_conn c;
	struct kdbus_info *info;
	uint64_t off, size;
	int n = 0, ret;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	/* Fill the pool with 24-byte CONN_INFO answers. */
	for (;;) {
		ret = kdbus_conn_info(c.fd, c.pool, c.id, NULL, 0, &info, NULL);
		if (ret < 0)
			break;
		ASSERT_LT(n, POOL / 8);
		offs[n++] = (uint8_t *)info - c.pool;
	}
	ASSERT_EQ(-EXFULL, ret);
	ASSERT_LT(100, n);
	EXPECT_EQ(-EXFULL, kdbus_list(c.fd, KDBUS_LIST_UNIQUE, &off, &size));
	/* An empty list needs no space. */
	EXPECT_EQ(0, kdbus_list(c.fd, KDBUS_LIST_NAMES, &off, &size));
	EXPECT_EQ(POOL, off);
	ASSERT_EQ(0, kdbus_free(c.fd, offs[n / 2]));
	ASSERT_EQ(0, kdbus_list(c.fd, KDBUS_LIST_UNIQUE, &off, &size));
	EXPECT_EQ(offs[n / 2], off);
	EXPECT_EQ(sizeof(struct kdbus_info), size);
	EXPECT_EQ(c.id, ((struct kdbus_info *)(c.pool + off))->id);
	kdbus_conn_close(&c);
}

TEST_F(list, custom_endpoint_unique_records_not_filtered)
{
	struct kdbus_conn d1, d2, e;
	char ep[64], ep_path[256];
	uint64_t off, size;
	int epfd;

	epfd = kdbus_open_bus(self->d.root, self->bus);
	ASSERT_LE(0, epfd);
	kdbus_domain_name(&self->d, ep, sizeof(ep), "ep");
	ASSERT_EQ(0, kdbus_ep_make(epfd, KDBUS_MAKE_ACCESS_WORLD, ep));
	kdbus_path(ep_path, sizeof(ep_path), self->d.root, "%s/%s", self->bus, ep);
	ASSERT_EQ(0, kdbus_conn_open(&d1, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&d2, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&e, ep_path, 0, POOL));
	ASSERT_EQ(0, kdbus_list(e.fd, KDBUS_LIST_UNIQUE, &off, &size));
	EXPECT_EQ(3, kdbus_list_count(e.pool + off, size));
	EXPECT_NE(NULL, kdbus_list_find(e.pool + off, size, d1.id));
	EXPECT_NE(NULL, kdbus_list_find(e.pool + off, size, d2.id));
	EXPECT_NE(NULL, kdbus_list_find(e.pool + off, size, e.id));
	EXPECT_EQ(0, kdbus_free(e.fd, off));
	kdbus_conn_close(&d1);
	kdbus_conn_close(&d2);
	kdbus_conn_close(&e);
	close(epfd);
}

TEST_F(list, closed_connection_not_listed)
{
	struct kdbus_conn a, b;
	uint64_t off, size, id;

	ASSERT_EQ(0, kdbus_conn_open(&a, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&b, self->path, 0, POOL));
	id = b.id;
	kdbus_conn_close(&b);
	ASSERT_EQ(0, kdbus_list(a.fd, KDBUS_LIST_UNIQUE, &off, &size));
	EXPECT_EQ(1, kdbus_list_count(a.pool + off, size));
	EXPECT_EQ(NULL, kdbus_list_find(a.pool + off, size, id));
	EXPECT_NE(NULL, kdbus_list_find(a.pool + off, size, a.id));
	EXPECT_EQ(0, kdbus_free(a.fd, off));
	kdbus_conn_close(&a);
}

TEST_F(list, other_buses_not_listed)
{
	struct kdbus_conn a, other;
	char bus2[64], path2[256];
	uint64_t off, size;
	int owner2;

	owner2 = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "l2", bus2);
	ASSERT_LE(0, owner2);
	kdbus_path(path2, sizeof(path2), self->d.root, "%s/bus", bus2);
	ASSERT_EQ(0, kdbus_conn_open(&a, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&other, path2, 0, POOL));
	ASSERT_EQ(0, kdbus_list(a.fd, KDBUS_LIST_UNIQUE, &off, &size));
	EXPECT_EQ(1, kdbus_list_count(a.pool + off, size));
	EXPECT_EQ(NULL, kdbus_list_find(a.pool + off, size, other.id));
	EXPECT_EQ(0, kdbus_free(a.fd, off));
	kdbus_conn_close(&a);
	kdbus_conn_close(&other);
	close(owner2);
}

TEST_HARNESS_MAIN
