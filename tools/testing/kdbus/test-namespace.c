// SPDX-License-Identifier: GPL-2.0
/*
 * Namespaces (fs-bus-endpoint.md §2.1, §2.3, §9, §10, checklist §13
 * "Namespaces"): a domain belongs to the user namespace of its mounter,
 * which decides the "<uid>-" prefix of names and where CAP_IPC_OWNER
 * counts; a new mount namespace with a fresh mount is a fresh domain.
 *
 * Every namespace is entered by a child process; children report through
 * their exit status (0 = all checks passed, failures are logged).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

/* Outer UID of the user namespaces of tests 1 and 4 (any non-root UID). */
#define OUTER_UID	1000

FIXTURE(ns) {
	struct kdbus_domain d;
};

FIXTURE_SETUP(ns)
{
	ASSERT_EQ(0, kdbus_domain_init(&self->d));
}

FIXTURE_TEARDOWN(ns)
{
	kdbus_domain_fini(&self->d);
}

/* "0 <OUTER_UID> 1", created by OUTER_UID itself, with a mount namespace. */
static const struct kdbus_userns unpriv_ns = {
	.creator_uid = OUTER_UID,
	.creator_gid = OUTER_UID,
	.unshare_flags = CLONE_NEWNS,
	.uid_map = "0 1000 1",
	.gid_map = "0 1000 1",
	.uid = 0,
	.gid = 0,
};

/* In the namespace: mount a domain, check names and ownership. */
static int prefix_is_inner_uid(void *arg)
{
	struct kdbus_domain d;
	char name[64], path[256];
	struct stat st;
	int ctl, ctl2, status = 0;

	KDBUS_CHILD_CHECK(getuid() == 0 && geteuid() == 0);
	KDBUS_CHILD_CHECK(kdbus_domain_init(&d) == 0);
	ctl = kdbus_open_control(d.root);
	ctl2 = kdbus_open_control(d.root);
	if (ctl < 0 || ctl2 < 0) {
		fprintf(stderr, "# open control: %d %d\n", ctl, ctl2);
		status = 1;
		goto out;
	}
	/* The outer UID is not the prefix... */
	kdbus_make_name(name, sizeof(name), OUTER_UID, "ns");
	if (kdbus_bus_make(ctl, 0, name, 64, 1) != -EINVAL) {
		fprintf(stderr, "# BUS_MAKE %s: not EINVAL\n", name);
		status = 1;
	}
	/* ...the UID inside the namespace is. */
	kdbus_make_name(name, sizeof(name), 0, "ns");
	if (kdbus_bus_make(ctl2, 0, name, 64, 1) != 0) {
		fprintf(stderr, "# BUS_MAKE %s failed\n", name);
		status = 1;
	}
	/* Root and control belong to kuid 0, unmapped here. */
	if (stat(kdbus_path(path, sizeof(path), d.root, "control"), &st) ||
	    st.st_uid != KDBUS_TEST_OVERFLOW_ID || st.st_gid != KDBUS_TEST_OVERFLOW_ID) {
		fprintf(stderr, "# control uid/gid %u/%u\n", st.st_uid, st.st_gid);
		status = 1;
	}
	if (stat(d.root, &st) || st.st_uid != KDBUS_TEST_OVERFLOW_ID) {
		fprintf(stderr, "# root uid %u\n", st.st_uid);
		status = 1;
	}
	/* The bus belongs to its creator, in-namespace UID 0. */
	if (!status && (stat(kdbus_path(path, sizeof(path), d.root, "%s", name), &st) ||
			st.st_uid != 0 || st.st_gid != 0)) {
		fprintf(stderr, "# bus uid/gid %u/%u\n", st.st_uid, st.st_gid);
		status = 1;
	}
out:
	kdbus_domain_fini(&d);
	return status;
}

TEST(userns_domain_prefix_is_uid_inside_namespace)
{
	EXPECT_EQ(0, kdbus_run_userns(&unpriv_ns, prefix_is_inner_uid, NULL));
}

/* Sub-child: in-namespace UID 1 makes a bus on an inherited control fd. */
struct sub_bus {
	int control;
	char name[64];
};

static int bus_make_as_inner_uid_1(void *arg)
{
	struct sub_bus *sb = arg;

	KDBUS_CHILD_CHECK(setresgid(1, 1, 1) == 0);
	KDBUS_CHILD_CHECK(setresuid(1, 1, 1) == 0);
	KDBUS_CHILD_CHECK(kdbus_bus_make(sb->control, 0, sb->name, 64, 1) == 0);
	return 0;
}

static int ns_root_privileged_on_foreign_bus(void *arg)
{
	struct kdbus_domain d;
	struct sub_bus sb;
	char path[256];
	struct stat st;
	int fd, status = 1;

	KDBUS_CHILD_CHECK(kdbus_domain_init(&d) == 0);
	sb.control = kdbus_open_control(d.root);
	if (sb.control < 0)
		goto out;
	kdbus_make_name(sb.name, sizeof(sb.name), 1, "ns");
	if (kdbus_run(bus_make_as_inner_uid_1, &sb) != 0) {
		fprintf(stderr, "# BUS_MAKE as in-namespace UID 1 failed\n");
		goto out;
	}
	/* The bus (0500/0600) belongs to in-namespace UID 1. */
	if (stat(kdbus_path(path, sizeof(path), d.root, "%s/bus", sb.name), &st) ||
	    st.st_uid != 1) {
		fprintf(stderr, "# bus file uid %u\n", st.st_uid);
		goto out;
	}
	fd = kdbus_open_bus(d.root, sb.name);
	if (fd < 0) {
		fprintf(stderr, "# open %s: %d\n", path, fd);
		goto out;
	}
	/* Not the creator, but CAP_IPC_OWNER in the domain's namespace. */
	if (kdbus_hello(fd, KDBUS_HELLO_MONITOR, 0, 0, KDBUS_TEST_POOL_SIZE, NULL) != 0) {
		fprintf(stderr, "# MONITOR HELLO refused\n");
		goto out;
	}
	status = 0;
out:
	kdbus_domain_fini(&d);
	return status;
}

TEST(userns_root_is_privileged_on_every_bus_of_its_domain)
{
	static const struct kdbus_userns ns = {
		.creator_uid = 0,
		.creator_gid = 0,
		.unshare_flags = CLONE_NEWNS,
		.uid_map = "0 100000 100",
		.gid_map = "0 100000 100",
		.uid = 0,
		.gid = 0,
	};

	EXPECT_EQ(0, kdbus_run_userns(&ns, ns_root_privileged_on_foreign_bus, NULL));
}

struct outer_domain {
	const char *root;
	const char *world_bus;	/* a WORLD bus made by root */
};

static int use_initial_domain(void *arg)
{
	struct outer_domain *od = arg;
	char name[64];
	int ctl, ctl2, fd;

	KDBUS_CHILD_CHECK(getuid() == 0);
	ctl = kdbus_open_control(od->root);
	ctl2 = kdbus_open_control(od->root);
	KDBUS_CHILD_CHECK(ctl >= 0 && ctl2 >= 0);
	/* In the initial domain, the UID seen from the initial namespace. */
	kdbus_make_name(name, sizeof(name), 0, "ns");
	KDBUS_CHILD_CHECK(kdbus_bus_make(ctl, 0, name, 64, 1) == -EINVAL);
	kdbus_make_name(name, sizeof(name), KDBUS_TEST_NOBODY, "ns");
	KDBUS_CHILD_CHECK(kdbus_bus_make(ctl2, 0, name, 64, 1) == 0);
	/* Capabilities in its own namespace do not count in this domain. */
	fd = kdbus_open_bus(od->root, od->world_bus);
	KDBUS_CHILD_CHECK(fd >= 0);
	KDBUS_CHILD_CHECK(kdbus_hello(fd, KDBUS_HELLO_MONITOR, 0, 0,
				      KDBUS_TEST_POOL_SIZE, NULL) == -EPERM);
	KDBUS_CHILD_CHECK(kdbus_hello(fd, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL) == 0);
	return 0;
}

TEST_F(ns, child_userns_root_in_initial_domain_uses_outer_uid)
{
	static const struct kdbus_userns ns = {
		.creator_uid = KDBUS_TEST_NOBODY,
		.creator_gid = KDBUS_TEST_NOBODY,
		.uid_map = "0 65534 1",
		.gid_map = "0 65534 1",
		.uid = 0,
		.gid = 0,
	};
	struct outer_domain od = { .root = self->d.root };
	char bus[64];
	int owner;

	owner = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "ns", bus);
	ASSERT_LE(0, owner);
	od.world_bus = bus;
	EXPECT_EQ(0, kdbus_run_userns(&ns, use_initial_domain, &od));
	close(owner);
}

/* Mount a domain in the namespace and pass its control file out. */
static int send_control_fd(void *arg)
{
	int sock = *(int *)arg;
	struct kdbus_domain d;
	int fd;

	KDBUS_CHILD_CHECK(kdbus_domain_init(&d) == 0);
	fd = kdbus_open_control(d.root);
	KDBUS_CHILD_CHECK(kdbus_send_fd(sock, fd) == 0);
	kdbus_domain_fini(&d);
	return fd >= 0 ? 0 : 1;
}

TEST(global_root_cannot_make_bus_in_domain_not_mapping_it)
{
	char name[64];
	int sv[2], fd;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = kdbus_spawn_userns(&unpriv_ns, send_control_fd, &sv[1]);
	ASSERT_LT(0, pid);
	close(sv[1]);
	fd = kdbus_recv_fd(sv[0]);
	EXPECT_EQ(0, kdbus_wait(pid));
	ASSERT_LE(0, fd);

	/* kuid 0 has no mapping in the domain's namespace: any name fails. */
	kdbus_make_name(name, sizeof(name), 0, "ns");
	EXPECT_EQ(-EINVAL, kdbus_bus_make(fd, 0, name, 64, 1));
	kdbus_make_name(name, sizeof(name), OUTER_UID, "ns");
	EXPECT_EQ(-EINVAL, kdbus_bus_make(fd, 0, name, 64, 1));
	close(fd);
	close(sv[0]);
}

struct fresh_ns {
	const char *outer_root;
	const char *outer_bus;
};

static int fresh_domain_in_new_mount_ns(void *arg)
{
	struct fresh_ns *fn = arg;
	struct kdbus_domain d;
	struct kdbus_dirent ents[8];
	struct kdbus_conn c;
	struct kdbus_info *info;
	char name[64], path[256];
	struct stat st;
	int owner, n, status = 1;

	KDBUS_CHILD_CHECK(unshare(CLONE_NEWNS) == 0);
	/* Keep our mounts from propagating back (as isolated setups do);
	 * a private root (initramfs) needs nothing, so ignore a refusal. */
	mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL);
	/* The parent's domains are still visible in the copy... */
	KDBUS_CHILD_CHECK(stat(kdbus_path(path, sizeof(path), fn->outer_root, "%s",
					  fn->outer_bus), &st) == 0);
	/* ...and a fresh mount here is a fresh domain. */
	KDBUS_CHILD_CHECK(kdbus_domain_init(&d) == 0);
	n = kdbus_read_dir(d.root, ents, 8);
	if (n != 3 || kdbus_dirent_find(ents, n, "control") < 0) {
		fprintf(stderr, "# fresh mount has %d entries\n", n);
		goto out;
	}
	owner = kdbus_create_bus(d.root, 0, "ns", name);
	if (owner < 0) {
		fprintf(stderr, "# BUS_MAKE: %d\n", owner);
		goto out;
	}
	if (kdbus_conn_open(&c, kdbus_path(path, sizeof(path), d.root, "%s/bus", name), 0,
			    KDBUS_TEST_POOL_SIZE)) {
		fprintf(stderr, "# HELLO failed\n");
		goto out;
	}
	if (kdbus_bus_creator_info(c.fd, c.pool, 0, &info, NULL) || info->id != 1) {
		fprintf(stderr, "# first bus of the fresh domain is not ID 1\n");
		goto out;
	}
	if (c.id != 2) {
		fprintf(stderr, "# first connection ID %llu\n", (unsigned long long)c.id);
		goto out;
	}
	status = 0;
out:
	kdbus_domain_fini(&d);
	return status;
}

TEST_F(ns, new_mount_namespace_fresh_mount_is_fresh_domain)
{
	struct fresh_ns fn = { .outer_root = self->d.root };
	struct kdbus_conn c;
	char bus[64], path[256];
	int owner, owner2;

	/* Advance the outer domain's ID counter. */
	owner = kdbus_create_bus(self->d.root, 0, "ns", bus);
	ASSERT_LE(0, owner);
	owner2 = kdbus_create_bus(self->d.root, 0, "ns", path);
	ASSERT_LE(0, owner2);
	ASSERT_EQ(0, kdbus_conn_open(&c, kdbus_path(path, sizeof(path), self->d.root,
						    "%s/bus", bus),
				     0, KDBUS_TEST_POOL_SIZE));
	fn.outer_bus = bus;
	EXPECT_EQ(0, kdbus_run(fresh_domain_in_new_mount_ns, &fn));
	kdbus_conn_close(&c);
	close(owner2);
	close(owner);
}

TEST_HARNESS_MAIN
