// SPDX-License-Identifier: GPL-2.0
/*
 * File descriptors in messages (message.md §2.3 FDS, §2.5 rows 23-27,
 * §2.6 ECOMM, §5.6, §5.7 step 4; connection-pool.md §10.6), and io_uring
 * descriptors, which can close a reference cycle through their registered
 * file table (EOPNOTSUPP, like kdbus handles).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

#define POOL	KDBUS_TEST_POOL_SIZE

FIXTURE(fds) {
	struct kdbus_domain d;
	char bus[64];
	char path[256];
	int owner;
	struct kdbus_conn a, b;	/* b accepts fds */
};

FIXTURE_SETUP(fds)
{
	ASSERT_EQ(0, kdbus_domain_init(&self->d));
	self->owner = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "f", self->bus);
	ASSERT_LE(0, self->owner);
	kdbus_path(self->path, sizeof(self->path), self->d.root, "%s/bus", self->bus);
	ASSERT_EQ(0, kdbus_conn_open(&self->a, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&self->b, self->path, KDBUS_HELLO_ACCEPT_FD, POOL));
}

FIXTURE_TEARDOWN(fds)
{
	kdbus_conn_close(&self->a);
	kdbus_conn_close(&self->b);
	close(self->owner);
	kdbus_domain_fini(&self->d);
}

/* SEND from @fd to @dst with one vector and an FDS item of @n fds. */
static int send_fds(int fd, uint64_t dst, const int *fds, size_t n)
{
	struct kdbus_builder b;

	kdbus_msg_init(&b, dst, 0, 0, 1);
	kdbus_b_vec(&b, "x", 1);
	kdbus_b_item(&b, KDBUS_ITEM_FDS, fds, n * sizeof(int));
	return kdbus_msg_send_b(fd, &b, 0, NULL);
}

static int *fds_of(struct kdbus_msg *msg, int *n)
{
	struct kdbus_item *item = kdbus_msg_item(msg, KDBUS_ITEM_FDS, 0);

	if (!item)
		return NULL;
	*n = (item->size - 16) / sizeof(int);
	return item->fds;
}

TEST_F(fds, fd_is_installed_cloexec_and_works)
{
	struct kdbus_msg *msg;
	int p[2], n, *fds;
	char c = 0;

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, send_fds(self->a.fd, self->b.id, &p[1], 1));
	close(p[1]);	/* the message holds its own reference */
	ASSERT_EQ(0, kdbus_msg_recv(&self->b, 0, 0, &msg, NULL));
	fds = fds_of(msg, &n);
	ASSERT_NE(NULL, fds);
	ASSERT_EQ(1, n);
	ASSERT_LE(0, fds[0]);
	EXPECT_TRUE(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	ASSERT_EQ(1, write(fds[0], "k", 1));
	ASSERT_EQ(1, read(p[0], &c, 1));
	EXPECT_EQ('k', c);
	close(fds[0]);
	close(p[0]);
	EXPECT_EQ(0, kdbus_free(self->b.fd, kdbus_msg_offset(&self->b, msg)));
}

TEST_F(fds, peek_shows_minus_one_recv_installs)
{
	struct kdbus_msg *msg;
	int p[2], n, *fds;

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, send_fds(self->a.fd, self->b.id, p, 2));
	ASSERT_EQ(0, kdbus_msg_recv(&self->b, KDBUS_RECV_PEEK, 0, &msg, NULL));
	fds = fds_of(msg, &n);
	ASSERT_NE(NULL, fds);
	ASSERT_EQ(2, n);
	EXPECT_EQ(-1, fds[0]);
	EXPECT_EQ(-1, fds[1]);
	ASSERT_EQ(0, kdbus_msg_recv(&self->b, 0, 0, &msg, NULL));
	fds = fds_of(msg, &n);
	ASSERT_NE(NULL, fds);
	EXPECT_LE(0, fds[0]);
	EXPECT_LE(0, fds[1]);
	EXPECT_NE(fds[0], fds[1]);
	close(fds[0]);
	close(fds[1]);
	close(p[0]);
	close(p[1]);
}

TEST_F(fds, receiver_without_accept_fd_ecomm)
{
	int p[2];

	ASSERT_EQ(0, pipe(p));
	EXPECT_EQ(-ECOMM, send_fds(self->b.fd, self->a.id, p, 1));
	close(p[0]);
	close(p[1]);
}

TEST_F(fds, empty_fds_item_delivers_no_fds_item)
{
	struct kdbus_msg *msg;
	int n;

	ASSERT_EQ(0, send_fds(self->a.fd, self->a.id, NULL, 0));
	ASSERT_EQ(0, kdbus_msg_recv(&self->a, 0, 0, &msg, NULL));
	EXPECT_EQ(NULL, fds_of(msg, &n));
}

TEST_F(fds, second_fds_item_eexist)
{
	struct kdbus_builder b;
	int p[2];

	ASSERT_EQ(0, pipe(p));
	kdbus_msg_init(&b, self->b.id, 0, 0, 1);
	kdbus_b_item(&b, KDBUS_ITEM_FDS, p, sizeof(int));
	kdbus_b_item(&b, KDBUS_ITEM_FDS, p, sizeof(int));
	EXPECT_EQ(-EEXIST, kdbus_msg_send_b(self->a.fd, &b, 0, NULL));
	close(p[0]);
	close(p[1]);
}

TEST_F(fds, more_than_16_fds_emfile)
{
	int fds[17], p[2], i;

	ASSERT_EQ(0, pipe(p));
	for (i = 0; i < 17; i++)
		fds[i] = p[0];
	EXPECT_EQ(-EMFILE, send_fds(self->a.fd, self->b.id, fds, 17));
	EXPECT_EQ(0, send_fds(self->a.fd, self->b.id, fds, 16));
	close(p[0]);
	close(p[1]);
}

TEST_F(fds, closed_or_negative_fd_ebadf)
{
	int bad = 1000, neg = -1;

	EXPECT_EQ(-EBADF, send_fds(self->a.fd, self->b.id, &bad, 1));
	EXPECT_EQ(-EBADF, send_fds(self->a.fd, self->b.id, &neg, 1));
}

TEST_F(fds, kdbus_handles_and_unix_sockets_eopnotsupp)
{
	int sv[2], path_fd, ctl = kdbus_open_control(self->d.root);

	ASSERT_LE(0, ctl);
	EXPECT_EQ(-EOPNOTSUPP, send_fds(self->a.fd, self->b.id, &ctl, 1));
	EXPECT_EQ(-EOPNOTSUPP, send_fds(self->a.fd, self->b.id, &self->a.fd, 1));
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	EXPECT_EQ(-EOPNOTSUPP, send_fds(self->a.fd, self->b.id, &sv[0], 1));
	/* An O_PATH descriptor is fine, even of a kdbus node. */
	path_fd = open(self->path, O_PATH);
	ASSERT_LE(0, path_fd);
	EXPECT_EQ(0, send_fds(self->a.fd, self->b.id, &path_fd, 1));
	close(path_fd);
	close(sv[0]);
	close(sv[1]);
	close(ctl);
}

TEST_F(fds, fds_in_flight_per_user_limited_to_16)
{
	int fds[16], p[2], i;

	ASSERT_EQ(0, pipe(p));
	for (i = 0; i < 16; i++)
		fds[i] = p[1];
	ASSERT_EQ(0, send_fds(self->a.fd, self->b.id, fds, 16));
	EXPECT_EQ(-EMFILE, send_fds(self->a.fd, self->b.id, fds, 1));
	/* Received: the quota is back. */
	ASSERT_EQ(0, kdbus_msg_recv(&self->b, KDBUS_RECV_DROP, 0, NULL, NULL));
	EXPECT_EQ(0, send_fds(self->a.fd, self->b.id, fds, 1));
	close(p[0]);
	close(p[1]);
}

/* ------------------------------------------------------------ io_uring */

/* io_uring_setup() with @entries; the ring's fd or -errno. */
static int uring_setup(unsigned int entries)
{
	struct io_uring_params p;
	long fd;

	memset(&p, 0, sizeof(p));
	fd = syscall(__NR_io_uring_setup, entries, &p);
	return fd < 0 ? -errno : (int)fd;
}

/* IORING_REGISTER_FILES of @n descriptors into @ring's file table. */
static int uring_register_files(int ring, const int *fds, unsigned int n)
{
	return syscall(__NR_io_uring_register, ring, IORING_REGISTER_FILES, fds, n) < 0 ?
	       -errno : 0;
}

/* After an (unexpectedly) accepted SEND of a ring: receive the message
 * and close what was installed, so that the queue does not keep the
 * ring, and the ring the connection, alive forever. */
static void drain_ring(struct kdbus_conn *c)
{
	struct kdbus_msg *msg;
	int n, i, *fds;

	while (kdbus_msg_recv(c, 0, 0, &msg, NULL) == 0 && msg) {
		fds = fds_of(msg, &n);
		for (i = 0; fds && i < n; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		kdbus_free(c->fd, kdbus_msg_offset(c, msg));
	}
}

/*
 * An io_uring can hold files in its registered file table, so a ring in a
 * message can close a reference cycle that nothing would ever collect:
 * the receiver's queue holds the ring, the ring holds the receiver's
 * connection file. kdbus refuses io_uring descriptors as it refuses its
 * own handles and AF_UNIX sockets.
 */
TEST_F(fds, io_uring_holding_the_receiver_to_peer_eopnotsupp)
{
	int ring = uring_setup(4), ret;

	if (ring == -ENOSYS)
		SKIP(return, "no io_uring in this kernel");
	ASSERT_LE(0, ring);
	ASSERT_EQ(0, uring_register_files(ring, &self->b.fd, 1));
	ret = send_fds(self->a.fd, self->b.id, &ring, 1);
	EXPECT_EQ(-EOPNOTSUPP, ret);
	if (ret == 0)
		drain_ring(&self->b);
	close(ring);
}

/* The exact cycle: a connection sends itself a ring that holds its own
 * connection file. */
TEST_F(fds, io_uring_holding_the_sender_to_itself_eopnotsupp)
{
	int ring = uring_setup(4), ret;

	if (ring == -ENOSYS)
		SKIP(return, "no io_uring in this kernel");
	ASSERT_LE(0, ring);
	ASSERT_EQ(0, uring_register_files(ring, &self->b.fd, 1));
	ret = send_fds(self->b.fd, self->b.id, &ring, 1);
	EXPECT_EQ(-EOPNOTSUPP, ret);
	if (ret == 0)
		drain_ring(&self->b);
	/* Nothing was queued. */
	EXPECT_EQ(1, kdbus_queue_empty(&self->b));
	close(ring);
}

TEST_HARNESS_MAIN
