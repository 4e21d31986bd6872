// SPDX-License-Identifier: GPL-2.0
/*
 * Privileged handles (fs-bus-endpoint.md §5.1, §9, checklist §13
 * "Privilege"): a handle on a default endpoint is privileged when its
 * opener had CAP_IPC_OWNER in the domain's user namespace or the bus
 * creator's effective UID; the decision is taken at open() and travels
 * with the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

#define ACTIVATOR_NAME	"org.kdbus.test.activator"

FIXTURE(priv) {
	struct kdbus_domain d;
};

FIXTURE_SETUP(priv)
{
	ASSERT_EQ(0, kdbus_domain_init(&self->d));
}

FIXTURE_TEARDOWN(priv)
{
	kdbus_domain_fini(&self->d);
}

/* Runs as UID 65534: make a bus, then open its default endpoint. */
static int creator_monitor_hello(void *arg)
{
	const char *root = arg;
	char name[64], ep[64];
	int ctl, fd, fd2;

	kdbus_make_name(name, sizeof(name), geteuid(), "p");
	ctl = kdbus_open_control(root);
	KDBUS_CHILD_CHECK(ctl >= 0);
	KDBUS_CHILD_CHECK(kdbus_bus_make(ctl, 0, name, 64, 1) == 0);
	fd = kdbus_open_bus(root, name);
	KDBUS_CHILD_CHECK(fd >= 0);
	KDBUS_CHILD_CHECK(kdbus_hello(fd, KDBUS_HELLO_MONITOR, 0, 0,
				      KDBUS_TEST_POOL_SIZE, NULL) == 0);
	/* And it may create custom endpoints. */
	fd2 = kdbus_open_bus(root, name);
	KDBUS_CHILD_CHECK(fd2 >= 0);
	kdbus_make_name(ep, sizeof(ep), geteuid(), "ep");
	KDBUS_CHILD_CHECK(kdbus_ep_make(fd2, 0, ep) == 0);
	return 0;
}

TEST_F(priv, bus_creator_euid_is_privileged)
{
	/* UID 65534 has no capability: only "same euid as the creator". */
	EXPECT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY,
				  creator_monitor_hello, self->d.root));
}

struct ep_arg {
	const char *root;
	const char *bus;
};

static int unprivileged_hellos(void *arg)
{
	struct ep_arg *a = arg;
	int fd = kdbus_open_bus(a->root, a->bus);

	KDBUS_CHILD_CHECK(fd >= 0);
	KDBUS_CHILD_CHECK(kdbus_hello_name(fd, KDBUS_HELLO_ACTIVATOR, ACTIVATOR_NAME,
					   KDBUS_TEST_POOL_SIZE, NULL) == -EPERM);
	KDBUS_CHILD_CHECK(kdbus_hello_name(fd, KDBUS_HELLO_POLICY_HOLDER, ACTIVATOR_NAME,
					   KDBUS_TEST_POOL_SIZE, NULL) == -EPERM);
	KDBUS_CHILD_CHECK(kdbus_hello(fd, KDBUS_HELLO_MONITOR, 0, 0,
				      KDBUS_TEST_POOL_SIZE, NULL) == -EPERM);
	/* Failed HELLOs leave the handle untyped. */
	KDBUS_CHILD_CHECK(kdbus_hello(fd, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL) == 0);
	return 0;
}

TEST_F(priv, unprivileged_special_hello_eperm_ordinary_hello_ok)
{
	struct ep_arg a = { .root = self->d.root };
	char bus[64];
	int owner;

	owner = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "p", bus);
	ASSERT_LE(0, owner);
	a.bus = bus;
	EXPECT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY,
				  unprivileged_hellos, &a));
	close(owner);
}

static int unprivileged_ep_make(void *arg)
{
	struct ep_arg *a = arg;
	char ep[64];
	int fd = kdbus_open_bus(a->root, a->bus);

	KDBUS_CHILD_CHECK(fd >= 0);
	kdbus_make_name(ep, sizeof(ep), geteuid(), "ep");
	KDBUS_CHILD_CHECK(kdbus_ep_make(fd, 0, ep) == -EPERM);
	return 0;
}

TEST_F(priv, unprivileged_endpoint_make_eperm)
{
	struct ep_arg a = { .root = self->d.root };
	char bus[64];
	int owner;

	owner = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "p", bus);
	ASSERT_LE(0, owner);
	a.bus = bus;
	EXPECT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY,
				  unprivileged_ep_make, &a));
	close(owner);
}

struct inherited {
	int fd;
	char ep[64];
};

static int ep_make_on_inherited_fd(void *arg)
{
	struct inherited *in = arg;

	KDBUS_CHILD_CHECK(kdbus_ep_make(in->fd, 0, in->ep) == 0);
	return 0;
}

TEST_F(priv, privilege_stays_with_handle_after_uid_change)
{
	struct inherited in;
	char bus[64], path[256];
	struct stat st;
	int owner;

	owner = kdbus_create_bus(self->d.root, 0, "p", bus);
	ASSERT_LE(0, owner);
	/* Opened by root... */
	in.fd = kdbus_open_bus(self->d.root, bus);
	ASSERT_LE(0, in.fd);
	/* ...used by UID 65534, which names the endpoint after itself. */
	kdbus_make_name(in.ep, sizeof(in.ep), KDBUS_TEST_NOBODY, "ep");
	ASSERT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY,
				  ep_make_on_inherited_fd, &in));
	/* The endpoint-owner handle is still open here: the endpoint lives. */
	ASSERT_EQ(0, stat(kdbus_path(path, sizeof(path), self->d.root, "%s/%s", bus, in.ep),
			  &st));
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(KDBUS_TEST_NOBODY, st.st_uid);
	EXPECT_EQ(KDBUS_TEST_NOBODY, st.st_gid);
	close(in.fd);
	close(owner);
}

TEST_F(priv, handle_opened_by_unprivileged_user_stays_unprivileged)
{
	char bus[64], ep[64], path[256];
	int owner, fd;

	owner = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "p", bus);
	ASSERT_LE(0, owner);
	fd = kdbus_open_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY,
			   kdbus_path(path, sizeof(path), self->d.root, "%s/bus", bus), O_RDWR);
	ASSERT_LE(0, fd);
	/* Used by root (creator's euid, CAP_IPC_OWNER): still unprivileged. */
	kdbus_domain_name(&self->d, ep, sizeof(ep), "ep");
	EXPECT_EQ(-EPERM, kdbus_ep_make(fd, 0, ep));
	EXPECT_EQ(-EPERM, kdbus_hello(fd, KDBUS_HELLO_MONITOR, 0, 0,
				      KDBUS_TEST_POOL_SIZE, NULL));
	close(fd);
	close(owner);
}

struct bus_make_arg {
	int control;
	char name[64];
};

static int bus_make_on_inherited_control(void *arg)
{
	struct bus_make_arg *a = arg;

	KDBUS_CHILD_CHECK(kdbus_bus_make(a->control, KDBUS_MAKE_ACCESS_WORLD, a->name,
					 64, 1) == 0);
	return 0;
}

TEST_F(priv, cap_ipc_owner_is_privileged_on_foreign_bus)
{
	struct bus_make_arg a;
	int fd;

	/* A bus created by UID 65534 (control opened here, inherited). */
	a.control = kdbus_open_control(self->d.root);
	ASSERT_LE(0, a.control);
	kdbus_make_name(a.name, sizeof(a.name), KDBUS_TEST_NOBODY, "p");
	ASSERT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY,
				  bus_make_on_inherited_control, &a));
	/* Root is not the creator but holds CAP_IPC_OWNER. */
	fd = kdbus_open_bus(self->d.root, a.name);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, kdbus_hello(fd, KDBUS_HELLO_MONITOR, 0, 0, KDBUS_TEST_POOL_SIZE, NULL));
	close(fd);
	close(a.control);
}

/* Set or clear CAP_IPC_OWNER in the calling process's effective set (the
 * permitted set keeps it, so it can be raised again). 0 or -errno. */
static int ipc_owner_effective(bool on)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	const uint32_t bit = 1U << (CAP_IPC_OWNER % 32);

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	if (on)
		d[CAP_IPC_OWNER / 32].effective |= bit;
	else
		d[CAP_IPC_OWNER / 32].effective &= ~bit;
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

struct foreign {
	const char *root;
	const char *bus;	/* made by UID 65534 */
};

/* Runs as root (uid 0, every other capability kept) in a child. */
static int uid0_without_ipc_owner(void *arg)
{
	struct foreign *f = arg;
	char ep[64];
	int fd;

	KDBUS_CHILD_CHECK(ipc_owner_effective(false) == 0);
	KDBUS_CHILD_CHECK(geteuid() == 0);
	fd = kdbus_open_bus(f->root, f->bus);
	KDBUS_CHILD_CHECK(fd >= 0);
	/* Neither the creator's euid nor CAP_IPC_OWNER: unprivileged. */
	KDBUS_CHILD_CHECK(kdbus_hello(fd, KDBUS_HELLO_MONITOR, 0, 0,
				      KDBUS_TEST_POOL_SIZE, NULL) == -EPERM);
	KDBUS_CHILD_CHECK(kdbus_hello_name(fd, KDBUS_HELLO_POLICY_HOLDER, ACTIVATOR_NAME,
					   KDBUS_TEST_POOL_SIZE, NULL) == -EPERM);
	kdbus_make_name(ep, sizeof(ep), 0, "ep");
	KDBUS_CHILD_CHECK(kdbus_ep_make(fd, 0, ep) == -EPERM);
	/* As an ordinary connection it is subject to the bus policy. */
	KDBUS_CHILD_CHECK(kdbus_hello(fd, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL) == 0);
	KDBUS_CHILD_CHECK(kdbus_name_acquire(fd, "org.kdbus.test.noipc", 0, NULL) == -EPERM);
	close(fd);
	/* The capability raised again: a new handle is privileged. */
	KDBUS_CHILD_CHECK(ipc_owner_effective(true) == 0);
	fd = kdbus_open_bus(f->root, f->bus);
	KDBUS_CHILD_CHECK(fd >= 0);
	KDBUS_CHILD_CHECK(kdbus_hello(fd, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL) == 0);
	KDBUS_CHILD_CHECK(kdbus_name_acquire(fd, "org.kdbus.test.noipc", 0, NULL) == 0);
	close(fd);
	return 0;
}

TEST_F(priv, uid0_without_cap_ipc_owner_is_unprivileged_on_foreign_bus)
{
	struct bus_make_arg a;
	struct foreign f = { .root = self->d.root };

	a.control = kdbus_open_control(self->d.root);
	ASSERT_LE(0, a.control);
	kdbus_make_name(a.name, sizeof(a.name), KDBUS_TEST_NOBODY, "p");
	ASSERT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY,
				  bus_make_on_inherited_control, &a));
	f.bus = a.name;
	EXPECT_EQ(0, kdbus_run(uid0_without_ipc_owner, &f));
	close(a.control);
}

TEST_HARNESS_MAIN
