// SPDX-License-Identifier: GPL-2.0
/*
 * KDBUS_CMD_BUS_MAKE and bus teardown (fs-bus-endpoint.md §4, §6, checklist
 * §13 "BUS_MAKE"): names, items, bloom parameters, attach masks, flags and
 * node modes, IDs and id128, the per-user bus limit, and what closing the
 * bus-owner handle does to the bus, its connections and other handles.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

FIXTURE(bus_make) {
	struct kdbus_domain d;
	struct kdbus_domain d2;	/* a second mount, if a test needs one */
	int control;
	char name[64];		/* a fresh valid name "<euid>-b-<n>" */
};

FIXTURE_SETUP(bus_make)
{
	self->d2.root[0] = 0;
	ASSERT_EQ(0, kdbus_domain_init(&self->d));
	self->control = kdbus_open_control(self->d.root);
	ASSERT_LE(0, self->control);
	kdbus_domain_name(&self->d, self->name, sizeof(self->name), "b");
}

FIXTURE_TEARDOWN(bus_make)
{
	kdbus_domain_fini(&self->d2);
	kdbus_domain_fini(&self->d);
}

static char *bus_path(char *buf, size_t len, struct kdbus_domain *d, const char *bus,
		      const char *file)
{
	if (file)
		return kdbus_path(buf, len, d->root, "%s/%s", bus, file);
	return kdbus_path(buf, len, d->root, "%s", bus);
}

TEST_F(bus_make, valid_bus_make_creates_directory_with_only_bus)
{
	struct kdbus_dirent ents[8];
	char path[256];
	struct stat st;
	int n, i;

	ASSERT_EQ(0, kdbus_bus_make(self->control, 0, self->name, 64, 1));
	ASSERT_EQ(0, stat(bus_path(path, sizeof(path), &self->d, self->name, NULL), &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	EXPECT_EQ(2, st.st_nlink);
	n = kdbus_read_dir(path, ents, 8);
	ASSERT_EQ(3, n);
	EXPECT_LE(0, kdbus_dirent_find(ents, n, "."));
	EXPECT_LE(0, kdbus_dirent_find(ents, n, ".."));
	i = kdbus_dirent_find(ents, n, "bus");
	ASSERT_LE(0, i);
	EXPECT_EQ(DT_REG, ents[i].type);

	/* The root now lists control and the bus. */
	n = kdbus_read_dir(self->d.root, ents, 8);
	EXPECT_EQ(4, n);
	i = kdbus_dirent_find(ents, n, self->name);
	ASSERT_LE(0, i);
	EXPECT_EQ(DT_DIR, ents[i].type);
}

TEST_F(bus_make, name_without_uid_prefix_einval)
{
	EXPECT_EQ(-EINVAL, kdbus_bus_make(self->control, 0, "foo", 64, 1));
}

TEST_F(bus_make, name_with_other_uid_prefix_einval)
{
	char name[64];

	kdbus_make_name(name, sizeof(name), geteuid() + 1, "b");
	EXPECT_EQ(-EINVAL, kdbus_bus_make(self->control, 0, name, 64, 1));
}

TEST_F(bus_make, name_with_leading_zero_prefix_einval)
{
	char name[64];

	snprintf(name, sizeof(name), "0%u-foo", (unsigned int)geteuid());
	EXPECT_EQ(-EINVAL, kdbus_bus_make(self->control, 0, name, 64, 1));
}

TEST_F(bus_make, name_with_invalid_character_einval)
{
	char name[64];

	snprintf(name, sizeof(name), "%u-blah@123", (unsigned int)geteuid());
	EXPECT_EQ(-EINVAL, kdbus_bus_make(self->control, 0, name, 64, 1));
}

TEST_F(bus_make, name_ending_in_dash_einval)
{
	char name[64];

	snprintf(name, sizeof(name), "%u-blah-", (unsigned int)geteuid());
	EXPECT_EQ(-EINVAL, kdbus_bus_make(self->control, 0, name, 64, 1));
	snprintf(name, sizeof(name), "%u-", (unsigned int)geteuid());
	EXPECT_EQ(-EINVAL, kdbus_bus_make(self->control, 0, name, 64, 1));
}

TEST_F(bus_make, name_with_dot_dash_underscore_accepted)
{
	char name[64];

	snprintf(name, sizeof(name), "%u-a.b-c_d", (unsigned int)geteuid());
	EXPECT_EQ(0, kdbus_bus_make(self->control, 0, name, 64, 1));
}

static void long_name(char *buf, size_t total)
{
	int n = snprintf(buf, total + 1, "%u-", (unsigned int)geteuid());

	memset(buf + n, 'a', total - n);
	buf[total] = 0;
}

TEST_F(bus_make, name_of_64_characters_enametoolong)
{
	char name[80];

	long_name(name, 64);
	ASSERT_EQ(64, strlen(name));
	EXPECT_EQ(-ENAMETOOLONG, kdbus_bus_make(self->control, 0, name, 64, 1));
}

TEST_F(bus_make, name_of_63_characters_accepted)
{
	char name[80], path[256];
	struct stat st;

	long_name(name, 63);
	ASSERT_EQ(63, strlen(name));
	EXPECT_EQ(0, kdbus_bus_make(self->control, 0, name, 64, 1));
	EXPECT_EQ(0, stat(bus_path(path, sizeof(path), &self->d, name, "bus"), &st));
}

TEST_F(bus_make, make_name_size_including_trailing_nuls_einval)
{
	struct kdbus_builder b;
	char payload[80] = { 0 };
	size_t len = strlen(self->name);

	memcpy(payload, self->name, len);
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	/* The name and 8 NULs, all counted in the item size. */
	kdbus_b_raw(&b, KDBUS_ITEM_MAKE_NAME, payload, len + 8,
		    KDBUS_ITEM_HEADER_SIZE + len + 8);
	kdbus_b_bloom(&b, 64, 1);
	ASSERT_EQ(0, b.err);
	EXPECT_EQ(-EINVAL, kdbus_ioctl(self->control, KDBUS_CMD_BUS_MAKE, kdbus_b_cmd(&b)));
}

TEST_F(bus_make, same_name_twice_eexist)
{
	int fd2 = kdbus_open_control(self->d.root);

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, kdbus_bus_make(self->control, 0, self->name, 64, 1));
	EXPECT_EQ(-EEXIST, kdbus_bus_make(fd2, 0, self->name, 64, 1));
	close(fd2);
}

TEST_F(bus_make, second_bus_make_on_same_handle_ebadfd)
{
	char other[64];

	ASSERT_EQ(0, kdbus_bus_make(self->control, 0, self->name, 64, 1));
	kdbus_domain_name(&self->d, other, sizeof(other), "b");
	EXPECT_EQ(-EBADFD, kdbus_bus_make(self->control, 0, other, 64, 1));
}

TEST_F(bus_make, failed_bus_make_leaves_handle_untyped)
{
	EXPECT_EQ(-EINVAL, kdbus_bus_make(self->control, 0, "foo", 64, 1));
	EXPECT_EQ(0, kdbus_bus_make(self->control, 0, self->name, 64, 1));
}

TEST_F(bus_make, missing_bloom_parameter_einval)
{
	EXPECT_EQ(-EINVAL, kdbus_bus_make(self->control, 0, self->name, 64, 1,
					  KDBUS_OPT_NO_BLOOM));
}

TEST_F(bus_make, missing_make_name_einval)
{
	EXPECT_EQ(-EINVAL, kdbus_bus_make(self->control, 0, NULL, 64, 1));
}

TEST_F(bus_make, invalid_bloom_size_einval)
{
	static const uint64_t sizes[] = { 0, 4, 12, 4104 };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		EXPECT_EQ(-EINVAL, kdbus_bus_make(self->control, 0, self->name, sizes[i], 1))
			TH_LOG("bloom size %llu", (unsigned long long)sizes[i]);
	}
}

TEST_F(bus_make, bloom_n_hash_zero_einval)
{
	EXPECT_EQ(-EINVAL, kdbus_bus_make(self->control, 0, self->name, 64, 0));
}

TEST_F(bus_make, bloom_4096_with_1000_hashes_accepted)
{
	struct kdbus_conn c;
	struct kdbus_item *item;
	char path[256];

	ASSERT_EQ(0, kdbus_bus_make(self->control, 0, self->name, 4096, 1000));
	ASSERT_EQ(0, kdbus_conn_open(&c, bus_path(path, sizeof(path), &self->d, self->name,
						  "bus"),
				     0, KDBUS_TEST_POOL_SIZE));
	/* The HELLO slice reports the parameters unchanged. */
	EXPECT_EQ(32, c.hello.items_size);
	item = (struct kdbus_item *)(c.pool + c.hello.offset);
	EXPECT_EQ(32, item->size);
	EXPECT_EQ(KDBUS_ITEM_BLOOM_PARAMETER, item->type);
	EXPECT_EQ(4096, item->bloom_parameter.size);
	EXPECT_EQ(1000, item->bloom_parameter.n_hash);
	kdbus_conn_close(&c);
}

TEST_F(bus_make, attach_recv_unknown_bit_einval)
{
	EXPECT_EQ(-EINVAL, kdbus_bus_make(self->control, 0, self->name, 64, 1,
					  KDBUS_OPT_ATTACH_RECV(0x4000)));
}

TEST_F(bus_make, attach_send_unknown_bit_einval)
{
	EXPECT_EQ(-EINVAL, kdbus_bus_make(self->control, 0, self->name, 64, 1,
					  KDBUS_OPT_ATTACH_SEND(0x4000)));
}

TEST_F(bus_make, attach_recv_all_requires_all_send_at_hello)
{
	int fd;

	ASSERT_EQ(0, kdbus_bus_make(self->control, 0, self->name, 64, 1,
				    KDBUS_OPT_ATTACH_RECV(_KDBUS_ATTACH_ANY)));
	fd = kdbus_open_bus(self->d.root, self->name);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ECONNREFUSED, kdbus_hello(fd, 0, _KDBUS_ATTACH_ALL & ~KDBUS_ATTACH_TIMESTAMP,
					     0, KDBUS_TEST_POOL_SIZE, NULL));
	EXPECT_EQ(-ECONNREFUSED, kdbus_hello(fd, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL));
	/* A failed HELLO leaves the handle untyped; ALL is enough. */
	EXPECT_EQ(0, kdbus_hello(fd, 0, _KDBUS_ATTACH_ALL, 0, KDBUS_TEST_POOL_SIZE, NULL));
	close(fd);
}

TEST_F(bus_make, two_attach_send_items_einval)
{
	EXPECT_EQ(-EINVAL, kdbus_bus_make(self->control, 0, self->name, 64, 1,
					  KDBUS_OPT_ATTACH_SEND(KDBUS_ATTACH_CREDS),
					  KDBUS_OPT_ATTACH_SEND(KDBUS_ATTACH_PIDS)));
}

TEST_F(bus_make, name_item_einval)
{
	EXPECT_EQ(-EINVAL, kdbus_bus_make(self->control, 0, self->name, 64, 1,
					  KDBUS_OPT_NAME("foo.bar.baz")));
}

TEST_F(bus_make, unknown_flag_einval)
{
	EXPECT_EQ(-EINVAL, kdbus_bus_make(self->control, 4, self->name, 64, 1));
}

TEST_F(bus_make, negotiate_reports_flags_and_creates_nothing)
{
	struct kdbus_dirent ents[8];
	struct kdbus_builder b;
	struct kdbus_cmd *cmd;

	kdbus_b_init(&b, sizeof(*cmd));
	kdbus_b_str(&b, KDBUS_ITEM_MAKE_NAME, self->name);
	kdbus_b_bloom(&b, 64, 1);
	cmd = kdbus_b_cmd(&b);
	cmd->flags = KDBUS_FLAG_NEGOTIATE;
	EXPECT_EQ(0, kdbus_ioctl(self->control, KDBUS_CMD_BUS_MAKE, cmd));
	EXPECT_EQ(KDBUS_MAKE_ACCESS_GROUP | KDBUS_MAKE_ACCESS_WORLD, cmd->flags);
	EXPECT_EQ(3, kdbus_read_dir(self->d.root, ents, 8));
	/* The same handle can then create the bus. */
	EXPECT_EQ(0, kdbus_bus_make(self->control, 0, self->name, 64, 1));
}

static void check_modes(struct __test_metadata *_metadata, struct kdbus_domain *d,
			const char *name, unsigned int dir_mode, unsigned int file_mode)
{
	char path[256];
	struct stat st;

	ASSERT_EQ(0, stat(bus_path(path, sizeof(path), d, name, NULL), &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	EXPECT_EQ(dir_mode, st.st_mode & 07777);
	EXPECT_EQ(geteuid(), st.st_uid);
	EXPECT_EQ(getegid(), st.st_gid);
	ASSERT_EQ(0, stat(bus_path(path, sizeof(path), d, name, "bus"), &st));
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(file_mode, st.st_mode & 07777);
	EXPECT_EQ(geteuid(), st.st_uid);
	EXPECT_EQ(getegid(), st.st_gid);
	EXPECT_EQ(0, st.st_size);
}

TEST_F(bus_make, flags_none_gives_0500_and_0600)
{
	ASSERT_EQ(0, kdbus_bus_make(self->control, 0, self->name, 64, 1));
	check_modes(_metadata, &self->d, self->name, 0500, 0600);
}

TEST_F(bus_make, flags_group_gives_0550_and_0660)
{
	ASSERT_EQ(0, kdbus_bus_make(self->control, KDBUS_MAKE_ACCESS_GROUP, self->name, 64, 1));
	check_modes(_metadata, &self->d, self->name, 0550, 0660);
}

TEST_F(bus_make, flags_world_gives_0555_and_0666)
{
	ASSERT_EQ(0, kdbus_bus_make(self->control, KDBUS_MAKE_ACCESS_WORLD, self->name, 64, 1));
	check_modes(_metadata, &self->d, self->name, 0555, 0666);
}

TEST_F(bus_make, flags_group_world_gives_0555_and_0666)
{
	ASSERT_EQ(0, kdbus_bus_make(self->control,
				    KDBUS_MAKE_ACCESS_GROUP | KDBUS_MAKE_ACCESS_WORLD,
				    self->name, 64, 1));
	check_modes(_metadata, &self->d, self->name, 0555, 0666);
}

static int bus_flags_of(const char *root, const char *name, uint64_t *bus_flags)
{
	struct kdbus_cmd_hello hello;
	int ret, fd = kdbus_open_bus(root, name);

	if (fd < 0)
		return fd;
	ret = kdbus_hello(fd, 0, 0, 0, KDBUS_TEST_POOL_SIZE, &hello);
	*bus_flags = hello.bus_flags;
	close(fd);
	return ret;
}

TEST_F(bus_make, hello_reports_bus_flags_world_as_2)
{
	uint64_t flags = ~0ULL;

	ASSERT_EQ(0, kdbus_bus_make(self->control, KDBUS_MAKE_ACCESS_WORLD, self->name, 64, 1));
	ASSERT_EQ(0, bus_flags_of(self->d.root, self->name, &flags));
	EXPECT_EQ(2, flags);
}

TEST_F(bus_make, hello_reports_bus_flags_group_world_as_3)
{
	uint64_t flags = ~0ULL;

	ASSERT_EQ(0, kdbus_bus_make(self->control,
				    KDBUS_MAKE_ACCESS_GROUP | KDBUS_MAKE_ACCESS_WORLD,
				    self->name, 64, 1));
	ASSERT_EQ(0, bus_flags_of(self->d.root, self->name, &flags));
	EXPECT_EQ(3, flags);
}

TEST_F(bus_make, first_bus_id_is_1_and_first_connection_id_2)
{
	struct kdbus_conn c;
	struct kdbus_info *info;
	char path[256];

	ASSERT_EQ(0, kdbus_bus_make(self->control, 0, self->name, 64, 1));
	ASSERT_EQ(0, kdbus_conn_open(&c, bus_path(path, sizeof(path), &self->d, self->name,
						  "bus"),
				     0, KDBUS_TEST_POOL_SIZE));
	EXPECT_EQ(2, c.id);
	ASSERT_EQ(0, kdbus_bus_creator_info(c.fd, c.pool, 0, &info, NULL));
	EXPECT_EQ(1, info->id);
	EXPECT_EQ(0, kdbus_info_free(c.fd, c.pool, info));
	kdbus_conn_close(&c);
}

TEST_F(bus_make, connections_of_one_bus_share_id128)
{
	struct kdbus_cmd_hello h1, h2;
	int fd1, fd2;

	ASSERT_EQ(0, kdbus_bus_make(self->control, 0, self->name, 64, 1));
	fd1 = kdbus_open_bus(self->d.root, self->name);
	fd2 = kdbus_open_bus(self->d.root, self->name);
	ASSERT_LE(0, fd1);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, kdbus_hello(fd1, 0, 0, 0, KDBUS_TEST_POOL_SIZE, &h1));
	ASSERT_EQ(0, kdbus_hello(fd2, 0, 0, 0, KDBUS_TEST_POOL_SIZE, &h2));
	EXPECT_NE(h1.id, h2.id);
	EXPECT_EQ(0, memcmp(h1.id128, h2.id128, 16));
	close(fd1);
	close(fd2);
}

TEST_F(bus_make, successive_buses_have_different_id128)
{
	struct kdbus_cmd_hello h1, h2;
	char other[64];
	int ctl2, fd1, fd2;

	ctl2 = kdbus_open_control(self->d.root);
	ASSERT_LE(0, ctl2);
	kdbus_domain_name(&self->d, other, sizeof(other), "b");
	ASSERT_EQ(0, kdbus_bus_make(self->control, 0, self->name, 64, 1));
	ASSERT_EQ(0, kdbus_bus_make(ctl2, 0, other, 64, 1));
	fd1 = kdbus_open_bus(self->d.root, self->name);
	fd2 = kdbus_open_bus(self->d.root, other);
	ASSERT_LE(0, fd1);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, kdbus_hello(fd1, 0, 0, 0, KDBUS_TEST_POOL_SIZE, &h1));
	ASSERT_EQ(0, kdbus_hello(fd2, 0, 0, 0, KDBUS_TEST_POOL_SIZE, &h2));
	EXPECT_NE(0, memcmp(h1.id128, h2.id128, 16));
	close(fd1);
	close(fd2);
	close(ctl2);
}

TEST_F(bus_make, id128_is_uuid_version_4_dce_variant)
{
	struct kdbus_cmd_hello h;
	int fd;

	ASSERT_EQ(0, kdbus_bus_make(self->control, 0, self->name, 64, 1));
	fd = kdbus_open_bus(self->d.root, self->name);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kdbus_hello(fd, 0, 0, 0, KDBUS_TEST_POOL_SIZE, &h));
	EXPECT_EQ(0x40, h.id128[6] & 0xf0);
	EXPECT_EQ(0x80, h.id128[8] & 0xc0);
	close(fd);
}

TEST_F(bus_make, seventeenth_bus_emfile_until_one_is_closed)
{
	int fds[KDBUS_TEST_MAX_BUSES + 1];
	char name[64];
	int i;

	for (i = 0; i < KDBUS_TEST_MAX_BUSES; i++) {
		fds[i] = kdbus_create_bus(self->d.root, 0, "lim", name);
		ASSERT_LE(0, fds[i]) TH_LOG("bus %d", i + 1);
	}
	fds[i] = kdbus_open_control(self->d.root);
	ASSERT_LE(0, fds[i]);
	kdbus_domain_name(&self->d, name, sizeof(name), "lim");
	EXPECT_EQ(-EMFILE, kdbus_bus_make(fds[i], 0, name, 64, 1));
	/* The slot is back as soon as close() returns. */
	close(fds[0]);
	EXPECT_EQ(0, kdbus_bus_make(fds[i], 0, name, 64, 1));
	for (i = 1; i <= KDBUS_TEST_MAX_BUSES; i++)
		close(fds[i]);
}

TEST_F(bus_make, sixteen_buses_in_each_of_two_mounts)
{
	int fds[2][KDBUS_TEST_MAX_BUSES];
	struct kdbus_domain *doms[2] = { &self->d, &self->d2 };
	char name[64];
	int i, j;

	ASSERT_EQ(0, kdbus_domain_init(&self->d2));
	for (j = 0; j < 2; j++) {
		for (i = 0; i < KDBUS_TEST_MAX_BUSES; i++) {
			fds[j][i] = kdbus_create_bus(doms[j]->root, 0, "two", name);
			ASSERT_LE(0, fds[j][i]) TH_LOG("mount %d bus %d", j, i + 1);
		}
	}
	for (j = 0; j < 2; j++)
		for (i = 0; i < KDBUS_TEST_MAX_BUSES; i++)
			close(fds[j][i]);
}

TEST_F(bus_make, closing_owner_removes_bus_and_frees_name)
{
	char path[256];
	struct stat st;
	int ctl2;

	ASSERT_EQ(0, kdbus_bus_make(self->control, 0, self->name, 64, 1));
	ASSERT_EQ(0, stat(bus_path(path, sizeof(path), &self->d, self->name, NULL), &st));
	close(self->control);
	self->control = -1;
	EXPECT_EQ(-1, stat(path, &st));
	EXPECT_EQ(ENOENT, errno);
	EXPECT_EQ(-1, stat(bus_path(path, sizeof(path), &self->d, self->name, "bus"), &st));
	EXPECT_EQ(ENOENT, errno);

	ctl2 = kdbus_open_control(self->d.root);
	ASSERT_LE(0, ctl2);
	EXPECT_EQ(0, kdbus_bus_make(ctl2, 0, self->name, 64, 1));
	close(ctl2);
}

TEST_F(bus_make, closing_owner_resets_connections)
{
	struct kdbus_conn c;
	struct kdbus_item *item;
	char path[256];
	void *p = NULL;
	size_t i;

	ASSERT_EQ(0, kdbus_bus_make(self->control, 0, self->name, 64, 1));
	ASSERT_EQ(0, kdbus_conn_open(&c, bus_path(path, sizeof(path), &self->d, self->name,
						  "bus"),
				     0, KDBUS_TEST_POOL_SIZE));
	close(self->control);
	self->control = -1;

	for (i = 0; i < ARRAY_SIZE(kdbus_conn_cmds); i++) {
		EXPECT_EQ(-ECONNRESET, kdbus_cmd_simple(c.fd, kdbus_conn_cmds[i]))
			TH_LOG("%s", kdbus_cmd_name(kdbus_conn_cmds[i]));
	}
	EXPECT_EQ(-ECONNRESET, kdbus_cmd_simple(c.fd, KDBUS_CMD_ENDPOINT_UPDATE));
	EXPECT_EQ(POLLERR | POLLHUP, kdbus_poll(c.fd, POLLIN | POLLOUT, 5000));

	/* The pool mapping stays readable, and a dead connection can still
	 * be mapped. */
	item = (struct kdbus_item *)(c.pool + c.hello.offset);
	EXPECT_EQ(32, item->size);
	EXPECT_EQ(KDBUS_ITEM_BLOOM_PARAMETER, item->type);
	EXPECT_EQ(64, item->bloom_parameter.size);
	EXPECT_EQ(1, item->bloom_parameter.n_hash);
	EXPECT_EQ(0, kdbus_pool_map(c.fd, KDBUS_TEST_POOL_SIZE, &p));
	if (p)
		munmap(p, KDBUS_TEST_POOL_SIZE);
	kdbus_conn_close(&c);
}

TEST_F(bus_make, untyped_endpoint_handle_of_closed_bus)
{
	int fd;

	ASSERT_EQ(0, kdbus_bus_make(self->control, 0, self->name, 64, 1));
	fd = kdbus_open_bus(self->d.root, self->name);
	ASSERT_LE(0, fd);
	close(self->control);
	self->control = -1;
	EXPECT_EQ(-ESHUTDOWN, kdbus_hello(fd, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL));
	EXPECT_EQ(-EBADFD, kdbus_cmd_simple(fd, KDBUS_CMD_LIST));
	close(fd);
}

TEST_F(bus_make, make_commands_on_dead_endpoint_handle_eshutdown)
{
	char other[64];
	int fd;

	ASSERT_EQ(0, kdbus_bus_make(self->control, 0, self->name, 64, 1));
	fd = kdbus_open_bus(self->d.root, self->name);	/* privileged: same euid */
	ASSERT_LE(0, fd);
	close(self->control);
	self->control = -1;
	kdbus_domain_name(&self->d, other, sizeof(other), "ep");
	EXPECT_EQ(-ESHUTDOWN, kdbus_ep_make(fd, 0, other));
	EXPECT_EQ(-ESHUTDOWN, kdbus_bus_make(fd, 0, other, 64, 1));
	close(fd);
}

TEST_F(bus_make, reopen_through_proc_of_dead_bus_eshutdown)
{
	char proc[64];
	int fd;

	ASSERT_EQ(0, kdbus_bus_make(self->control, 0, self->name, 64, 1));
	fd = kdbus_open_bus(self->d.root, self->name);
	ASSERT_LE(0, fd);
	close(self->control);
	self->control = -1;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	EXPECT_EQ(-1, open(proc, O_RDWR | O_CLOEXEC));
	EXPECT_EQ(ESHUTDOWN, errno);
	close(fd);
}

TEST_F(bus_make, open_directory_of_dead_bus_lists_only_dot_entries)
{
	struct kdbus_dirent ents[8];
	char path[256];
	int dirfd, n;

	ASSERT_EQ(0, kdbus_bus_make(self->control, 0, self->name, 64, 1));
	dirfd = open(bus_path(path, sizeof(path), &self->d, self->name, NULL),
		     O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, dirfd);
	EXPECT_EQ(3, kdbus_read_dirfd(dirfd, ents, 8));
	close(self->control);
	self->control = -1;

	n = kdbus_read_dirfd(dirfd, ents, 8);
	EXPECT_EQ(2, n);
	EXPECT_LE(0, kdbus_dirent_find(ents, n, "."));
	EXPECT_LE(0, kdbus_dirent_find(ents, n, ".."));
	EXPECT_EQ(-1, openat(dirfd, "bus", O_RDWR | O_CLOEXEC));
	EXPECT_EQ(ENOENT, errno);
	close(dirfd);
}

struct user_bus {
	const char *root;
	char name[64];
};

static int make_bus_as_user(void *arg)
{
	struct user_bus *ub = arg;
	char path[256];
	struct stat st;
	int fd = kdbus_open_control(ub->root);

	KDBUS_CHILD_CHECK(fd >= 0);
	KDBUS_CHILD_CHECK(kdbus_bus_make(fd, 0, ub->name, 64, 1) == 0);
	KDBUS_CHILD_CHECK(stat(kdbus_path(path, sizeof(path), ub->root, "%s/bus", ub->name),
			       &st) == 0);
	KDBUS_CHILD_CHECK(st.st_uid == KDBUS_TEST_NOBODY);
	KDBUS_CHILD_CHECK(st.st_gid == KDBUS_TEST_NOBODY);
	return 0;
}

TEST_F(bus_make, unprivileged_user_can_make_own_bus)
{
	struct user_bus ub = { .root = self->d.root };

	kdbus_make_name(ub.name, sizeof(ub.name), KDBUS_TEST_NOBODY, "u");
	EXPECT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY, make_bus_as_user, &ub));
}

struct bus_make_arg {
	int control;
	const char *name;
};

static int bus_make_on_inherited_fd(void *arg)
{
	struct bus_make_arg *a = arg;

	KDBUS_CHILD_CHECK(kdbus_bus_make(a->control, 0, a->name, 64, 1) == 0);
	return 0;
}

TEST_F(bus_make, bus_owned_by_bus_make_caller_not_by_opener)
{
	struct bus_make_arg a = { .control = self->control };
	char name[64], path[256];
	struct stat st;

	/* control opened by root, BUS_MAKE issued by UID 65534. */
	kdbus_make_name(name, sizeof(name), KDBUS_TEST_NOBODY, "u");
	a.name = name;
	ASSERT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY,
				  bus_make_on_inherited_fd, &a));
	/* The bus lives on: the owner handle is still open here. */
	ASSERT_EQ(0, stat(bus_path(path, sizeof(path), &self->d, name, NULL), &st));
	EXPECT_EQ(KDBUS_TEST_NOBODY, st.st_uid);
	EXPECT_EQ(KDBUS_TEST_NOBODY, st.st_gid);
	ASSERT_EQ(0, stat(bus_path(path, sizeof(path), &self->d, name, "bus"), &st));
	EXPECT_EQ(KDBUS_TEST_NOBODY, st.st_uid);
	EXPECT_EQ(KDBUS_TEST_NOBODY, st.st_gid);
}

TEST_HARNESS_MAIN
