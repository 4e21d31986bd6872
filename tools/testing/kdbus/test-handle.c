// SPDX-License-Identifier: GPL-2.0
/*
 * File handles on kdbusfs (fs-bus-endpoint.md §2.9, §5, checklist §13
 * "Handles"): no access-mode checks, read/write/lseek, poll and mmap on
 * handles that are not connections, and the ioctl dispatch matrix of §5.3
 * (ENOTTY for unknown numbers, EBADFD for commands in the wrong state);
 * mmap() of a connection while other threads poll and ioctl the handle.
 *
 * Not covered here: "a kdbus control fd placed in a message's FDS item →
 * SEND fails EOPNOTSUPP" (needs a real SEND, message.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

/* A fresh mount with one WORLD bus. */
FIXTURE(handle) {
	struct kdbus_domain d;
	char bus[64];
	char ep_path[256];	/* <root>/<bus>/bus */
	int owner;
};

FIXTURE_SETUP(handle)
{
	ASSERT_EQ(0, kdbus_domain_init(&self->d));
	self->owner = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "h", self->bus);
	ASSERT_LE(0, self->owner);
	kdbus_path(self->ep_path, sizeof(self->ep_path), self->d.root, "%s/bus", self->bus);
}

FIXTURE_TEARDOWN(handle)
{
	kdbus_domain_fini(&self->d);
}

/* An endpoint-owner handle for a fresh custom endpoint of the bus. */
static int make_endpoint_owner(struct kdbus_domain *d, const char *bus, char *ep)
{
	int fd = kdbus_open_bus(d->root, bus);
	int ret;

	if (fd < 0)
		return fd;
	kdbus_domain_name(d, ep, 64, "ep");
	ret = kdbus_ep_make(fd, 0, ep);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

TEST_F(handle, control_opened_rdonly_can_bus_make)
{
	char name[64], path[256];
	struct stat st;
	int fd = kdbus_open(self->d.root, "control", O_RDONLY);

	ASSERT_LE(0, fd);
	kdbus_domain_name(&self->d, name, sizeof(name), "ro");
	EXPECT_EQ(0, kdbus_bus_make(fd, 0, name, 64, 1));
	EXPECT_EQ(0, stat(kdbus_path(path, sizeof(path), self->d.root, "%s/bus", name), &st));
	close(fd);
}

TEST_F(handle, control_opened_wronly_can_bus_make)
{
	char name[64];
	int fd = kdbus_open(self->d.root, "control", O_WRONLY);

	ASSERT_LE(0, fd);
	kdbus_domain_name(&self->d, name, sizeof(name), "wo");
	EXPECT_EQ(0, kdbus_bus_make(fd, 0, name, 64, 1));
	close(fd);
}

TEST_F(handle, endpoint_opened_rdonly_can_hello)
{
	char rel[128];
	int fd;

	snprintf(rel, sizeof(rel), "%s/bus", self->bus);
	fd = kdbus_open(self->d.root, rel, O_RDONLY);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL));
	close(fd);
}

TEST_F(handle, read_write_on_control_einval)
{
	char buf[16] = { 0 };
	int fd = kdbus_open_control(self->d.root);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, read(fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

TEST_F(handle, lseek_on_control_returns_zero)
{
	int fd = kdbus_open_control(self->d.root);

	ASSERT_LE(0, fd);
	EXPECT_EQ(0, lseek(fd, 0, SEEK_END));
	EXPECT_EQ(0, lseek(fd, 100, SEEK_SET));
	EXPECT_EQ(0, lseek(fd, 10, SEEK_CUR));
	close(fd);
}

TEST_F(handle, poll_on_untyped_control_err_hup)
{
	int fd = kdbus_open_control(self->d.root);

	ASSERT_LE(0, fd);
	EXPECT_EQ(POLLERR | POLLHUP, kdbus_poll(fd, POLLIN | POLLOUT, 5000));
	close(fd);
}

TEST_F(handle, poll_on_bus_owner_err_hup)
{
	EXPECT_EQ(POLLERR | POLLHUP, kdbus_poll(self->owner, POLLIN | POLLOUT, 5000));
}

TEST_F(handle, poll_on_endpoint_owner_err_hup)
{
	char ep[64];
	int fd = make_endpoint_owner(&self->d, self->bus, ep);

	ASSERT_LE(0, fd);
	EXPECT_EQ(POLLERR | POLLHUP, kdbus_poll(fd, POLLIN | POLLOUT, 5000));
	close(fd);
}

TEST_F(handle, poll_on_untyped_endpoint_err_hup)
{
	int fd = kdbus_open_bus(self->d.root, self->bus);

	ASSERT_LE(0, fd);
	EXPECT_EQ(POLLERR | POLLHUP, kdbus_poll(fd, POLLIN | POLLOUT, 5000));
	close(fd);
}

static int try_mmap(int fd)
{
	void *p = mmap(NULL, KDBUS_TEST_POOL_SIZE, PROT_READ, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	munmap(p, KDBUS_TEST_POOL_SIZE);
	return 0;
}

TEST_F(handle, mmap_on_untyped_endpoint_ebadfd)
{
	int fd = kdbus_open_bus(self->d.root, self->bus);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBADFD, try_mmap(fd));
	close(fd);
}

TEST_F(handle, mmap_on_bus_owner_ebadfd)
{
	EXPECT_EQ(-EBADFD, try_mmap(self->owner));
}

TEST_F(handle, mmap_on_endpoint_owner_ebadfd)
{
	char ep[64];
	int fd = make_endpoint_owner(&self->d, self->bus, ep);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBADFD, try_mmap(fd));
	close(fd);
}

TEST_F(handle, mmap_on_untyped_control_ebadfd)
{
	int fd = kdbus_open_control(self->d.root);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBADFD, try_mmap(fd));
	close(fd);
}

TEST_F(handle, unknown_ioctl_number_enotty)
{
	struct kdbus_builder b;
	int fd = kdbus_open_control(self->d.root);
	int ep = kdbus_open_bus(self->d.root, self->bus);

	ASSERT_LE(0, fd);
	ASSERT_LE(0, ep);
	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
	EXPECT_EQ(-ENOTTY, kdbus_ioctl(fd, _IOW(KDBUS_IOCTL_MAGIC, 0x01, struct kdbus_cmd),
				       kdbus_b_cmd(&b)));
	EXPECT_EQ(-ENOTTY, kdbus_ioctl(ep, _IOW(KDBUS_IOCTL_MAGIC, 0x01, struct kdbus_cmd),
				       kdbus_b_cmd(&b)));
	EXPECT_EQ(-ENOTTY, kdbus_ioctl(self->owner,
				       _IOW(KDBUS_IOCTL_MAGIC, 0x01, struct kdbus_cmd),
				       kdbus_b_cmd(&b)));
	close(ep);
	close(fd);
}

TEST_F(handle, known_nr_with_wrong_size_enotty)
{
	struct kdbus_builder b;
	char name[64];
	int fd = kdbus_open_control(self->d.root);

	ASSERT_LE(0, fd);
	kdbus_domain_name(&self->d, name, sizeof(name), "sz");
	kdbus_b_init(&b, sizeof(struct kdbus_cmd_free));
	kdbus_b_str(&b, KDBUS_ITEM_MAKE_NAME, name);
	kdbus_b_bloom(&b, 64, 1);
	/* BUS_MAKE's nr 0x00 with a 32-byte size is not BUS_MAKE. */
	EXPECT_EQ(-ENOTTY, kdbus_ioctl(fd, _IOW(KDBUS_IOCTL_MAGIC, 0x00, struct kdbus_cmd_free),
				       kdbus_b_cmd(&b)));
	/* The handle is still untyped. */
	EXPECT_EQ(0, kdbus_bus_make(fd, 0, name, 64, 1));
	close(fd);
}

TEST_F(handle, hello_on_control_ebadfd)
{
	int fd = kdbus_open_control(self->d.root);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBADFD, kdbus_hello(fd, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL));
	close(fd);
}

TEST_F(handle, endpoint_make_on_control_ebadfd)
{
	char ep[64];
	int fd = kdbus_open_control(self->d.root);

	ASSERT_LE(0, fd);
	kdbus_domain_name(&self->d, ep, sizeof(ep), "ep");
	EXPECT_EQ(-EBADFD, kdbus_ep_make(fd, 0, ep));
	close(fd);
}

TEST_F(handle, list_on_control_ebadfd)
{
	int fd = kdbus_open_control(self->d.root);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBADFD, kdbus_cmd_simple(fd, KDBUS_CMD_LIST));
	close(fd);
}

TEST_F(handle, every_non_make_command_on_control_ebadfd)
{
	int fd = kdbus_open_control(self->d.root);
	char name[64];
	size_t i;

	ASSERT_LE(0, fd);
	for (i = 0; i < ARRAY_SIZE(kdbus_conn_cmds); i++) {
		EXPECT_EQ(-EBADFD, kdbus_cmd_simple(fd, kdbus_conn_cmds[i]))
			TH_LOG("%s", kdbus_cmd_name(kdbus_conn_cmds[i]));
	}
	EXPECT_EQ(-EBADFD, kdbus_cmd_simple(fd, KDBUS_CMD_ENDPOINT_UPDATE));
	/* Still untyped: BUS_MAKE works. */
	kdbus_domain_name(&self->d, name, sizeof(name), "ok");
	EXPECT_EQ(0, kdbus_bus_make(fd, 0, name, 64, 1));
	close(fd);
}

TEST_F(handle, bus_make_on_untyped_endpoint_ebadfd)
{
	char name[64];
	int fd = kdbus_open_bus(self->d.root, self->bus);

	ASSERT_LE(0, fd);
	kdbus_domain_name(&self->d, name, sizeof(name), "x");
	EXPECT_EQ(-EBADFD, kdbus_bus_make(fd, 0, name, 64, 1));
	/* Still untyped: HELLO works. */
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL));
	close(fd);
}

TEST_F(handle, connection_commands_on_untyped_endpoint_ebadfd)
{
	int fd = kdbus_open_bus(self->d.root, self->bus);
	size_t i;

	ASSERT_LE(0, fd);
	for (i = 0; i < ARRAY_SIZE(kdbus_conn_cmds); i++) {
		EXPECT_EQ(-EBADFD, kdbus_cmd_simple(fd, kdbus_conn_cmds[i]))
			TH_LOG("%s", kdbus_cmd_name(kdbus_conn_cmds[i]));
	}
	EXPECT_EQ(-EBADFD, kdbus_cmd_simple(fd, KDBUS_CMD_ENDPOINT_UPDATE));
	close(fd);
}

TEST_F(handle, update_free_send_endpoint_update_on_bus_owner_ebadfd)
{
	EXPECT_EQ(-EBADFD, kdbus_cmd_simple(self->owner, KDBUS_CMD_UPDATE));
	EXPECT_EQ(-EBADFD, kdbus_cmd_simple(self->owner, KDBUS_CMD_FREE));
	EXPECT_EQ(-EBADFD, kdbus_cmd_simple(self->owner, KDBUS_CMD_SEND));
	EXPECT_EQ(-EBADFD, kdbus_cmd_simple(self->owner, KDBUS_CMD_ENDPOINT_UPDATE));
}

TEST_F(handle, every_command_on_bus_owner_ebadfd)
{
	char name[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(kdbus_conn_cmds); i++) {
		EXPECT_EQ(-EBADFD, kdbus_cmd_simple(self->owner, kdbus_conn_cmds[i]))
			TH_LOG("%s", kdbus_cmd_name(kdbus_conn_cmds[i]));
	}
	kdbus_domain_name(&self->d, name, sizeof(name), "again");
	EXPECT_EQ(-EBADFD, kdbus_bus_make(self->owner, 0, name, 64, 1));
	EXPECT_EQ(-EBADFD, kdbus_ep_make(self->owner, 0, name));
	EXPECT_EQ(-EBADFD, kdbus_hello(self->owner, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL));
}

TEST_F(handle, send_on_endpoint_owner_ebadfd)
{
	char ep[64];
	int fd = make_endpoint_owner(&self->d, self->bus, ep);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBADFD, kdbus_cmd_simple(fd, KDBUS_CMD_SEND));
	close(fd);
}

TEST_F(handle, other_commands_on_endpoint_owner_ebadfd)
{
	char ep[64], name[64];
	int fd = make_endpoint_owner(&self->d, self->bus, ep);
	size_t i;

	ASSERT_LE(0, fd);
	for (i = 0; i < ARRAY_SIZE(kdbus_conn_cmds); i++) {
		EXPECT_EQ(-EBADFD, kdbus_cmd_simple(fd, kdbus_conn_cmds[i]))
			TH_LOG("%s", kdbus_cmd_name(kdbus_conn_cmds[i]));
	}
	kdbus_domain_name(&self->d, name, sizeof(name), "again");
	EXPECT_EQ(-EBADFD, kdbus_bus_make(fd, 0, name, 64, 1));
	EXPECT_EQ(-EBADFD, kdbus_ep_make(fd, 0, name));
	EXPECT_EQ(-EBADFD, kdbus_hello(fd, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL));
	/* The one valid command works. */
	EXPECT_EQ(0, kdbus_cmd_simple(fd, KDBUS_CMD_ENDPOINT_UPDATE));
	close(fd);
}

TEST_F(handle, endpoint_update_on_connection_ebadfd)
{
	struct kdbus_conn c;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->ep_path, 0, KDBUS_TEST_POOL_SIZE));
	EXPECT_EQ(-EBADFD, kdbus_cmd_simple(c.fd, KDBUS_CMD_ENDPOINT_UPDATE));
	kdbus_conn_close(&c);
}

TEST_F(handle, make_commands_on_connection_ebadfd)
{
	struct kdbus_conn c;
	char name[64];

	ASSERT_EQ(0, kdbus_conn_open(&c, self->ep_path, 0, KDBUS_TEST_POOL_SIZE));
	kdbus_domain_name(&self->d, name, sizeof(name), "again");
	EXPECT_EQ(-EBADFD, kdbus_bus_make(c.fd, 0, name, 64, 1));
	EXPECT_EQ(-EBADFD, kdbus_ep_make(c.fd, 0, name));
	EXPECT_EQ(-EBADFD, kdbus_hello(c.fd, 0, 0, 0, KDBUS_TEST_POOL_SIZE, NULL));
	kdbus_conn_close(&c);
}

/* ------------------------------------------ mmap next to other commands */

#define MMAP_LOOPS	20000
#define MMAP_SECS	3

struct hammer {
	int fd;
	int stop;		/* atomic */
	unsigned long calls;
	int unexpected;		/* a result other than the expected one */
};

/* poll() without waiting, as an event loop does. */
static void *poll_hammer(void *arg)
{
	struct hammer *h = arg;

	while (!__atomic_load_n(&h->stop, __ATOMIC_SEQ_CST)) {
		/* Nothing queued: no event. */
		if (kdbus_poll(h->fd, POLLIN, 0) != 0)
			h->unexpected++;
		__atomic_add_fetch(&h->calls, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Cheap ioctls: FREE of an offset that was never handed out. */
static void *ioctl_hammer(void *arg)
{
	struct hammer *h = arg;

	while (!__atomic_load_n(&h->stop, __ATOMIC_SEQ_CST)) {
		if (kdbus_free(h->fd, 1ULL << 40) != -ENXIO)
			h->unexpected++;
		__atomic_add_fetch(&h->calls, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

/*
 * mmap() of a connection never fails because another thread is using the
 * same handle at that moment (poll, an ioctl): the handle's state is
 * settled once HELLO succeeded (connection-pool.md §10.1).
 */
TEST_F_TIMEOUT(handle, mmap_never_fails_while_other_threads_poll_and_ioctl, 120)
{
	struct hammer hp = { 0 }, hi = { 0 };
	uint64_t deadline;
	struct kdbus_conn c;
	pthread_t tp, ti;
	int i, fails = 0, first_err = 0;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->ep_path, 0, 4 * KDBUS_TEST_POOL_SIZE));
	hp.fd = hi.fd = c.fd;
	ASSERT_EQ(0, pthread_create(&tp, NULL, poll_hammer, &hp));
	ASSERT_EQ(0, pthread_create(&ti, NULL, ioctl_hammer, &hi));
	/* Let both threads get going. */
	while (!__atomic_load_n(&hp.calls, __ATOMIC_RELAXED) ||
	       !__atomic_load_n(&hi.calls, __ATOMIC_RELAXED))
		sched_yield();
	deadline = kdbus_now_ns() + MMAP_SECS * 1000000000ULL;
	for (i = 0; i < MMAP_LOOPS && kdbus_now_ns() < deadline; i++) {
		void *p = mmap(NULL, 4 * KDBUS_TEST_POOL_SIZE, PROT_READ, MAP_SHARED, c.fd, 0);

		if (p == MAP_FAILED) {
			if (!fails++)
				first_err = errno;
			continue;
		}
		munmap(p, 4 * KDBUS_TEST_POOL_SIZE);
	}
	__atomic_store_n(&hp.stop, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&hi.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(tp, NULL);
	pthread_join(ti, NULL);
	TH_LOG("%d mmaps, %lu polls, %lu FREEs", i, hp.calls, hi.calls);
	EXPECT_EQ(0, fails) TH_LOG("%d of %d mmaps failed, the first with errno %d",
				   fails, i, first_err);
	EXPECT_EQ(0, hp.unexpected);
	EXPECT_EQ(0, hi.unexpected);
	EXPECT_LT(100, i);
	kdbus_conn_close(&c);
}

TEST_HARNESS_MAIN
