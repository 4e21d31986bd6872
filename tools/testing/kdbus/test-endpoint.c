// SPDX-License-Identifier: GPL-2.0
/*
 * Custom endpoints (fs-bus-endpoint.md §7, checklist §13 "Custom
 * endpoints"): ENDPOINT_MAKE (who, names, items, flags, modes),
 * connections through custom endpoints, ENDPOINT_UPDATE validation, the
 * teardown of endpoints and the per-endpoint connection limit.
 *
 * Not covered here (they need names, notifications or policy enforcement,
 * names-match-policy-metadata.md): NAME_ADD/ID_ADD/ID_REMOVE visibility,
 * CONN_INFO by name or by a peer's ID, NAME_ACQUIRE on an endpoint, and
 * "the previous policy still applies" after a failed ENDPOINT_UPDATE
 * (only the errno and that the endpoint keeps accepting updates are
 * checked).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

#define NAME_A	"foo.bar.baz"

/* A fresh mount with a WORLD bus and a privileged untyped handle on its
 * default endpoint (opened by root, the creator). */
FIXTURE(ep) {
	struct kdbus_domain d;
	char bus[64];
	char ep[64];		/* a fresh valid endpoint name */
	int owner;		/* bus owner */
	int busfd;		/* privileged handle on <bus>/bus */
};

FIXTURE_SETUP(ep)
{
	ASSERT_EQ(0, kdbus_domain_init(&self->d));
	self->owner = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "e", self->bus);
	ASSERT_LE(0, self->owner);
	self->busfd = kdbus_open_bus(self->d.root, self->bus);
	ASSERT_LE(0, self->busfd);
	kdbus_domain_name(&self->d, self->ep, sizeof(self->ep), "ep");
}

FIXTURE_TEARDOWN(ep)
{
	kdbus_domain_fini(&self->d);
}

static char *ep_path(char *buf, size_t len, const char *root, const char *bus,
		     const char *ep)
{
	return kdbus_path(buf, len, root, "%s/%s", bus, ep);
}

TEST_F(ep, make_creates_private_endpoint_owned_by_caller)
{
	struct kdbus_dirent ents[8];
	char path[256];
	struct stat st;
	int n;

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	ASSERT_EQ(0, stat(ep_path(path, sizeof(path), self->d.root, self->bus, self->ep), &st));
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(geteuid(), st.st_uid);
	EXPECT_EQ(getegid(), st.st_gid);
	EXPECT_EQ(0, st.st_size);

	n = kdbus_read_dir(kdbus_path(path, sizeof(path), self->d.root, "%s", self->bus),
			   ents, 8);
	EXPECT_EQ(4, n);
	EXPECT_LE(0, kdbus_dirent_find(ents, n, "bus"));
	EXPECT_LE(0, kdbus_dirent_find(ents, n, self->ep));
}

TEST_F(ep, make_turns_handle_into_endpoint_owner)
{
	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	EXPECT_EQ(-EBADFD, kdbus_hello(self->busfd, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL));
}

TEST_F(ep, make_with_world_flag_gives_0666)
{
	char path[256];
	struct stat st;

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, KDBUS_MAKE_ACCESS_WORLD, self->ep));
	ASSERT_EQ(0, stat(ep_path(path, sizeof(path), self->d.root, self->bus, self->ep), &st));
	EXPECT_EQ(0666, st.st_mode & 07777);
}

TEST_F(ep, make_with_group_flag_gives_0660)
{
	char path[256];
	struct stat st;

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, KDBUS_MAKE_ACCESS_GROUP, self->ep));
	ASSERT_EQ(0, stat(ep_path(path, sizeof(path), self->d.root, self->bus, self->ep), &st));
	EXPECT_EQ(0660, st.st_mode & 07777);
}

struct child_arg {
	const char *root;
	const char *bus;
	const char *ep;
};

static int unprivileged_make(void *arg)
{
	struct child_arg *a = arg;
	struct kdbus_builder b;
	struct kdbus_cmd *cmd;
	char name[64];
	int fd = kdbus_open_bus(a->root, a->bus);

	KDBUS_CHILD_CHECK(fd >= 0);
	kdbus_make_name(name, sizeof(name), geteuid(), "ep");
	KDBUS_CHILD_CHECK(kdbus_ep_make(fd, 0, name) == -EPERM);
	/* EPERM precedes parsing: also for a NEGOTIATE probe. */
	kdbus_b_init(&b, sizeof(*cmd));
	kdbus_b_str(&b, KDBUS_ITEM_MAKE_NAME, name);
	cmd = kdbus_b_cmd(&b);
	cmd->flags = KDBUS_FLAG_NEGOTIATE;
	KDBUS_CHILD_CHECK(kdbus_ioctl(fd, KDBUS_CMD_ENDPOINT_MAKE, cmd) == -EPERM);
	KDBUS_CHILD_CHECK(cmd->flags == KDBUS_FLAG_NEGOTIATE);
	return 0;
}

TEST_F(ep, make_by_unprivileged_user_eperm_even_negotiating)
{
	struct child_arg a = { .root = self->d.root, .bus = self->bus };

	EXPECT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY, unprivileged_make, &a));
}

TEST_F(ep, make_on_custom_endpoint_handle_eperm)
{
	char other[64];
	int fd;

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	fd = kdbus_open_ep(self->d.root, self->bus, self->ep);
	ASSERT_LE(0, fd);
	kdbus_domain_name(&self->d, other, sizeof(other), "ep");
	EXPECT_EQ(-EPERM, kdbus_ep_make(fd, 0, other));
	close(fd);
}

TEST_F(ep, name_with_63_characters_after_prefix_enametoolong)
{
	char name[80];
	int n = snprintf(name, sizeof(name), "%u-", (unsigned int)geteuid());

	memset(name + n, 'a', 63);
	name[n + 63] = 0;
	EXPECT_EQ(-ENAMETOOLONG, kdbus_ep_make(self->busfd, 0, name));
}

TEST_F(ep, name_of_63_characters_accepted)
{
	char name[80];
	int n = snprintf(name, sizeof(name), "%u-", (unsigned int)geteuid());

	memset(name + n, 'a', 63 - n);
	name[63] = 0;
	EXPECT_EQ(0, kdbus_ep_make(self->busfd, 0, name));
}

TEST_F(ep, name_with_other_uid_prefix_einval)
{
	char name[64];

	kdbus_make_name(name, sizeof(name), geteuid() + 1, "ep");
	EXPECT_EQ(-EINVAL, kdbus_ep_make(self->busfd, 0, name));
}

TEST_F(ep, name_bus_einval)
{
	EXPECT_EQ(-EINVAL, kdbus_ep_make(self->busfd, 0, "bus"));
}

TEST_F(ep, make_with_name_item_einval)
{
	struct kdbus_builder b;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_MAKE_NAME, self->ep);
	kdbus_b_str(&b, KDBUS_ITEM_NAME, NAME_A);
	EXPECT_EQ(-EINVAL, kdbus_ioctl(self->busfd, KDBUS_CMD_ENDPOINT_MAKE, kdbus_b_cmd(&b)));
	/* Still untyped. */
	EXPECT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
}

TEST_F(ep, make_with_policy_access_item_einval)
{
	struct kdbus_builder b;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_MAKE_NAME, self->ep);
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_SEE, 0);
	EXPECT_EQ(-EINVAL, kdbus_ioctl(self->busfd, KDBUS_CMD_ENDPOINT_MAKE, kdbus_b_cmd(&b)));
}

TEST_F(ep, make_without_make_name_einval)
{
	struct kdbus_builder b;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	EXPECT_EQ(-EINVAL, kdbus_ioctl(self->busfd, KDBUS_CMD_ENDPOINT_MAKE, kdbus_b_cmd(&b)));
}

TEST_F(ep, same_name_twice_on_one_bus_eexist)
{
	int fd2 = kdbus_open_bus(self->d.root, self->bus);

	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	EXPECT_EQ(-EEXIST, kdbus_ep_make(fd2, 0, self->ep));
	close(fd2);
}

TEST_F(ep, same_name_on_two_buses_accepted)
{
	char bus2[64];
	int owner2, fd2;

	owner2 = kdbus_create_bus(self->d.root, 0, "e", bus2);
	ASSERT_LE(0, owner2);
	fd2 = kdbus_open_bus(self->d.root, bus2);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	EXPECT_EQ(0, kdbus_ep_make(fd2, 0, self->ep));
	close(fd2);
	close(owner2);
}

TEST_F(ep, make_negotiate_reports_flags_and_creates_nothing)
{
	struct kdbus_builder b;
	struct kdbus_cmd *cmd;
	char path[256];
	struct stat st;

	kdbus_b_init(&b, sizeof(*cmd));
	kdbus_b_str(&b, KDBUS_ITEM_MAKE_NAME, self->ep);
	cmd = kdbus_b_cmd(&b);
	cmd->flags = KDBUS_FLAG_NEGOTIATE;
	EXPECT_EQ(0, kdbus_ioctl(self->busfd, KDBUS_CMD_ENDPOINT_MAKE, cmd));
	EXPECT_EQ(KDBUS_MAKE_ACCESS_GROUP | KDBUS_MAKE_ACCESS_WORLD, cmd->flags);
	EXPECT_EQ(-1, stat(ep_path(path, sizeof(path), self->d.root, self->bus, self->ep), &st));
	EXPECT_EQ(ENOENT, errno);
	/* The handle is still untyped. */
	EXPECT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
}

TEST_F(ep, make_unknown_flag_einval)
{
	EXPECT_EQ(-EINVAL, kdbus_ep_make(self->busfd, 4, self->ep));
}

static int open_ep_as_user(void *arg)
{
	struct child_arg *a = arg;
	int fd = kdbus_open_ep(a->root, a->bus, a->ep);

	KDBUS_CHILD_CHECK(fd == -EACCES);
	return 0;
}

TEST_F(ep, private_endpoint_eacces_for_other_users)
{
	struct child_arg a = { .root = self->d.root, .bus = self->bus, .ep = self->ep };

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	EXPECT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY, open_ep_as_user, &a));
}

static int hello_ep_as_user(void *arg)
{
	struct child_arg *a = arg;
	int fd = kdbus_open_ep(a->root, a->bus, a->ep);

	KDBUS_CHILD_CHECK(fd >= 0);
	KDBUS_CHILD_CHECK(kdbus_hello(fd, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL) == 0);
	return 0;
}

TEST_F(ep, world_endpoint_on_world_bus_accepts_other_users)
{
	struct child_arg a = { .root = self->d.root, .bus = self->bus, .ep = self->ep };

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, KDBUS_MAKE_ACCESS_WORLD, self->ep));
	EXPECT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY, hello_ep_as_user, &a));
}

TEST_F(ep, monitor_hello_on_custom_endpoint_eopnotsupp)
{
	int fd;

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	fd = kdbus_open_ep(self->d.root, self->bus, self->ep);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EOPNOTSUPP, kdbus_hello(fd, KDBUS_HELLO_MONITOR, 0, 0,
					   KDBUS_TEST_POOL_SIZE, NULL));
	close(fd);
}

TEST_F(ep, activator_hello_on_custom_endpoint_eperm)
{
	int fd;

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	fd = kdbus_open_ep(self->d.root, self->bus, self->ep);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EPERM, kdbus_hello_name(fd, KDBUS_HELLO_ACTIVATOR, NAME_A,
					   KDBUS_TEST_POOL_SIZE, NULL));
	EXPECT_EQ(-EPERM, kdbus_hello_name(fd, KDBUS_HELLO_POLICY_HOLDER, NAME_A,
					   KDBUS_TEST_POOL_SIZE, NULL));
	/* An ordinary connection is fine. */
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL));
	close(fd);
}

/* --------------------------------------------------------- ENDPOINT_UPDATE */

static int update(int fd, struct kdbus_builder *b)
{
	if (b->err)
		return b->err;
	return kdbus_ioctl(fd, KDBUS_CMD_ENDPOINT_UPDATE, kdbus_b_cmd(b));
}

/* A valid policy: NAME_A visible to everyone. */
static int update_valid(int fd)
{
	struct kdbus_builder b;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, NAME_A);
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_SEE, 0);
	return update(fd, &b);
}

TEST_F(ep, update_without_items_succeeds)
{
	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	EXPECT_EQ(0, update_valid(self->busfd));
	EXPECT_EQ(0, kdbus_cmd_simple(self->busfd, KDBUS_CMD_ENDPOINT_UPDATE));
}

TEST_F(ep, update_with_valid_policy_succeeds)
{
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, NAME_A);
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_SEE, 0);
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_USER, KDBUS_POLICY_TALK, 0);
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.other");
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_GROUP, KDBUS_POLICY_OWN, 0);
	/* A name without access records is an empty entry. */
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.empty");
	EXPECT_EQ(0, update(self->busfd, &b));
}

TEST_F(ep, update_with_wildcard_beside_exact_name_succeeds)
{
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "foo.bar");
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_SEE, 0);
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "foo.bar.*");
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_TALK, 0);
	EXPECT_EQ(0, update(self->busfd, &b));
}

TEST_F(ep, update_policy_access_before_name_einval)
{
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	ASSERT_EQ(0, update_valid(self->busfd));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_SEE, 0);
	kdbus_b_str(&b, KDBUS_ITEM_NAME, NAME_A);
	EXPECT_EQ(-EINVAL, update(self->busfd, &b));
	EXPECT_EQ(0, update_valid(self->busfd));
}

TEST_F(ep, update_access_level_3_einval)
{
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	ASSERT_EQ(0, update_valid(self->busfd));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, NAME_A);
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, 3, 0);
	EXPECT_EQ(-EINVAL, update(self->busfd, &b));
	EXPECT_EQ(0, update_valid(self->busfd));
}

TEST_F(ep, update_access_type_0_einval)
{
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	ASSERT_EQ(0, update_valid(self->busfd));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, NAME_A);
	kdbus_b_policy(&b, _KDBUS_POLICY_ACCESS_NULL, KDBUS_POLICY_SEE, 0);
	EXPECT_EQ(-EINVAL, update(self->busfd, &b));
	EXPECT_EQ(0, update_valid(self->busfd));
}

TEST_F(ep, update_access_type_4_einval)
{
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, NAME_A);
	kdbus_b_policy(&b, 4, KDBUS_POLICY_SEE, 0);
	EXPECT_EQ(-EINVAL, update(self->busfd, &b));
}

TEST_F(ep, update_invalid_name_einval)
{
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	ASSERT_EQ(0, update_valid(self->busfd));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "foo");
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_SEE, 0);
	EXPECT_EQ(-EINVAL, update(self->busfd, &b));
	EXPECT_EQ(0, update_valid(self->busfd));
}

TEST_F(ep, update_same_name_twice_eexist)
{
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	ASSERT_EQ(0, update_valid(self->busfd));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, NAME_A);
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_SEE, 0);
	kdbus_b_str(&b, KDBUS_ITEM_NAME, NAME_A);
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_TALK, 0);
	EXPECT_EQ(-EEXIST, update(self->busfd, &b));
	EXPECT_EQ(0, update_valid(self->busfd));
}

TEST_F(ep, update_negotiate_reports_no_flags)
{
	struct kdbus_builder b;
	struct kdbus_cmd *cmd;

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	kdbus_b_init(&b, sizeof(*cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, NAME_A);
	kdbus_b_policy(&b, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_SEE, 0);
	cmd = kdbus_b_cmd(&b);
	cmd->flags = KDBUS_FLAG_NEGOTIATE;
	EXPECT_EQ(0, kdbus_ioctl(self->busfd, KDBUS_CMD_ENDPOINT_UPDATE, cmd));
	EXPECT_EQ(0, cmd->flags);
}

TEST_F(ep, update_unknown_flag_einval)
{
	struct kdbus_builder b;
	struct kdbus_cmd *cmd;

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	kdbus_b_init(&b, sizeof(*cmd));
	cmd = kdbus_b_cmd(&b);
	cmd->flags = 1;
	EXPECT_EQ(-EINVAL, kdbus_ioctl(self->busfd, KDBUS_CMD_ENDPOINT_UPDATE, cmd));
}

TEST_F(ep, update_with_make_name_item_einval)
{
	struct kdbus_builder b;

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	kdbus_b_str(&b, KDBUS_ITEM_MAKE_NAME, self->ep);
	EXPECT_EQ(-EINVAL, update(self->busfd, &b));
}

/* ---------------------------------------------------------------- teardown */

TEST_F(ep, closing_owner_removes_endpoint_and_resets_connections)
{
	struct kdbus_conn c;
	char path[256];
	struct stat st;
	size_t i;
	int untyped, fd2;

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, KDBUS_MAKE_ACCESS_WORLD, self->ep));
	ep_path(path, sizeof(path), self->d.root, self->bus, self->ep);
	ASSERT_EQ(0, kdbus_conn_open(&c, path, 0, KDBUS_TEST_POOL_SIZE));
	untyped = kdbus_open_ep(self->d.root, self->bus, self->ep);
	ASSERT_LE(0, untyped);

	close(self->busfd);
	self->busfd = -1;

	EXPECT_EQ(-1, stat(path, &st));
	EXPECT_EQ(ENOENT, errno);
	for (i = 0; i < ARRAY_SIZE(kdbus_conn_cmds); i++) {
		EXPECT_EQ(-ECONNRESET, kdbus_cmd_simple(c.fd, kdbus_conn_cmds[i]))
			TH_LOG("%s", kdbus_cmd_name(kdbus_conn_cmds[i]));
	}
	EXPECT_EQ(POLLERR | POLLHUP, kdbus_poll(c.fd, POLLIN | POLLOUT, 5000));
	EXPECT_EQ(-ESHUTDOWN, kdbus_hello(untyped, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL));

	/* The bus is unaffected and the name is free again. */
	fd2 = kdbus_open_bus(self->d.root, self->bus);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(0, kdbus_ep_make(fd2, 0, self->ep));
	close(fd2);
	close(untyped);
	kdbus_conn_close(&c);
}

TEST_F(ep, bus_close_shuts_down_endpoint_owner)
{
	char other[64];

	ASSERT_EQ(0, kdbus_ep_make(self->busfd, 0, self->ep));
	close(self->owner);
	self->owner = -1;

	EXPECT_EQ(-ESHUTDOWN, kdbus_cmd_simple(self->busfd, KDBUS_CMD_ENDPOINT_UPDATE));
	EXPECT_EQ(-ESHUTDOWN, kdbus_cmd_simple(self->busfd, KDBUS_CMD_SEND));
	EXPECT_EQ(-ESHUTDOWN, kdbus_cmd_simple(self->busfd, KDBUS_CMD_LIST));
	/* Make-commands on a typed handle stay EBADFD. */
	kdbus_domain_name(&self->d, other, sizeof(other), "ep");
	EXPECT_EQ(-EBADFD, kdbus_ep_make(self->busfd, 0, other));
	EXPECT_EQ(-EBADFD, kdbus_hello(self->busfd, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL));
}

/* ------------------------------------------------------------------ limits */

#define HALF	(KDBUS_TEST_MAX_CONN / 2)

struct limit_arg {
	const char *path;
	int ready[2];	/* child -> parent: its connections are up */
	int done[2];	/* parent -> child: may exit */
};

static int open_and_hello(const char *path)
{
	int ret, fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	ret = kdbus_hello(fd, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

/* As UID 65534: the second half of the connections, then one too many. */
static int second_user_connections(void *arg)
{
	struct limit_arg *a = arg;
	int i, fd, status = 0;
	char c;

	close(a->ready[0]);
	close(a->done[1]);
	for (i = 0; i < HALF; i++) {
		fd = open_and_hello(a->path);
		if (fd < 0) {
			fprintf(stderr, "# connection %d of UID 65534: %d\n", HALF + i + 1, fd);
			status = 1;
			break;
		}
	}
	if (!status) {
		fd = open_and_hello(a->path);
		if (fd != -EMFILE) {
			fprintf(stderr, "# connection 1025 (UID 65534): %d, want %d\n",
				fd, -EMFILE);
			status = 2;
		}
	}
	if (write(a->ready[1], "r", 1) != 1)
		status = 3;
	if (read(a->done[0], &c, 1) != 1)
		status = status ? status : 4;
	return status;
}

TEST_F_TIMEOUT(ep, connection_limit_is_per_endpoint_for_all_users, 300)
{
	struct limit_arg a;
	char path[256], c;
	pid_t pid;
	int i, fd;

	ASSERT_EQ(0, kdbus_raise_nofile(4 * KDBUS_TEST_MAX_CONN));
	ASSERT_EQ(0, kdbus_ep_make(self->busfd, KDBUS_MAKE_ACCESS_WORLD, self->ep));
	a.path = ep_path(path, sizeof(path), self->d.root, self->bus, self->ep);

	/* Half the connections by root... */
	for (i = 0; i < HALF; i++) {
		fd = open_and_hello(path);
		ASSERT_LE(0, fd) TH_LOG("connection %d (root)", i + 1);
	}
	/* ...the other half, and one more, by UID 65534... */
	ASSERT_EQ(0, pipe(a.ready));
	ASSERT_EQ(0, pipe(a.done));
	pid = kdbus_spawn_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY,
			     second_user_connections, &a);
	ASSERT_LT(0, pid);
	close(a.ready[1]);
	close(a.done[0]);
	EXPECT_EQ(1, read(a.ready[0], &c, 1));
	/* ...and the 1025th fails for root too. */
	EXPECT_EQ(-EMFILE, open_and_hello(path));
	EXPECT_EQ(1, write(a.done[1], "d", 1));
	EXPECT_EQ(0, kdbus_wait(pid));
}

TEST_F_TIMEOUT(ep, custom_endpoint_connections_not_charged_to_user, 300)
{
	char path[256];
	int i, fd;

	ASSERT_EQ(0, kdbus_raise_nofile(4 * KDBUS_TEST_MAX_CONN));
	ASSERT_EQ(0, kdbus_ep_make(self->busfd, KDBUS_MAKE_ACCESS_WORLD, self->ep));

	kdbus_path(path, sizeof(path), self->d.root, "%s/bus", self->bus);
	for (i = 0; i < KDBUS_TEST_MAX_CONN; i++) {
		fd = open_and_hello(path);
		ASSERT_LE(0, fd) TH_LOG("connection %d", i + 1);
	}
	EXPECT_EQ(-EMFILE, open_and_hello(path));

	ep_path(path, sizeof(path), self->d.root, self->bus, self->ep);
	EXPECT_LE(0, open_and_hello(path));
}

TEST_HARNESS_MAIN
