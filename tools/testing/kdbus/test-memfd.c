// SPDX-License-Identifier: GPL-2.0
/*
 * PAYLOAD_MEMFD (message.md §2.3, §2.4, §2.5 rows 17-22, §5.2, §5.6).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

#define POOL	KDBUS_TEST_POOL_SIZE
#define SEALS	(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

FIXTURE(memfd) {
	struct kdbus_domain d;
	char bus[64];
	char path[256];
	int owner;
	struct kdbus_conn a, b;	/* b accepts fds */
};

FIXTURE_SETUP(memfd)
{
	ASSERT_EQ(0, kdbus_domain_init(&self->d));
	self->owner = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "m", self->bus);
	ASSERT_LE(0, self->owner);
	kdbus_path(self->path, sizeof(self->path), self->d.root, "%s/bus", self->bus);
	ASSERT_EQ(0, kdbus_conn_open(&self->a, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&self->b, self->path, KDBUS_HELLO_ACCEPT_FD, POOL));
}

FIXTURE_TEARDOWN(memfd)
{
	kdbus_conn_close(&self->a);
	kdbus_conn_close(&self->b);
	close(self->owner);
	kdbus_domain_fini(&self->d);
}

/* A memfd holding @data, with @seals applied. */
static int make_memfd(const char *data, unsigned int seals)
{
	int fd = memfd_create("kdbus-test", MFD_ALLOW_SEALING | MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		return -EIO;
	if (seals && fcntl(fd, F_ADD_SEALS, seals) < 0)
		return -errno;
	return fd;
}

static int send_memfd(int from, uint64_t to, int fd, uint64_t start, uint64_t size)
{
	struct kdbus_builder b;
	struct kdbus_memfd m = { .start = start, .size = size, .fd = fd };

	kdbus_msg_init(&b, to, 0, 0, 1);
	kdbus_b_item(&b, KDBUS_ITEM_PAYLOAD_MEMFD, &m, sizeof(m));
	return kdbus_msg_send_b(from, &b, 0, NULL);
}

TEST_F(memfd, delivered_as_a_new_fd_of_the_same_file)
{
	struct kdbus_msg *msg;
	struct kdbus_item *item;
	char buf[8] = { 0 };
	int fd = make_memfd("payload!", SEALS);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, send_memfd(self->a.fd, self->b.id, fd, 1, 6));
	close(fd);
	ASSERT_EQ(0, kdbus_msg_recv(&self->b, 0, 0, &msg, NULL));
	item = kdbus_msg_item(msg, KDBUS_ITEM_PAYLOAD_MEMFD, 0);
	ASSERT_NE(NULL, item);
	EXPECT_EQ(40, item->size);
	EXPECT_EQ(1, item->memfd.start);
	EXPECT_EQ(6, item->memfd.size);
	ASSERT_LE(0, item->memfd.fd);
	EXPECT_TRUE(fcntl(item->memfd.fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(SEALS, fcntl(item->memfd.fd, F_GET_SEALS));
	ASSERT_EQ(6, pread(item->memfd.fd, buf, 6, 1));
	EXPECT_STREQ("ayload", buf);
	close(item->memfd.fd);
}

TEST_F(memfd, payload_stream_keeps_item_order)
{
	struct kdbus_builder b;
	struct kdbus_memfd m = { .start = 0, .size = 4 };
	struct kdbus_cmd_recv r;
	struct kdbus_msg *msg;
	char buf[16] = { 0 };
	int fd = make_memfd("cdef", SEALS);

	ASSERT_LE(0, fd);
	m.fd = fd;
	kdbus_msg_init(&b, self->b.id, 0, 0, 1);
	kdbus_b_vec(&b, "ab", 2);
	kdbus_b_item(&b, KDBUS_ITEM_PAYLOAD_MEMFD, &m, sizeof(m));
	kdbus_b_vec(&b, "gh", 2);
	ASSERT_EQ(0, kdbus_msg_send_b(self->a.fd, &b, 0, NULL));
	close(fd);
	ASSERT_EQ(0, kdbus_msg_recv(&self->b, 0, 0, &msg, &r));
	ASSERT_EQ(8, kdbus_msg_payload(msg, r.msg.msg_size, buf, sizeof(buf)));
	EXPECT_STREQ("abcdefgh", buf);
	/* The vector after the memfd starts at (2 + 4 % 8) in the stream. */
	EXPECT_EQ(kdbus_msg_item(msg, KDBUS_ITEM_PAYLOAD_OFF, 0)->vec.offset + 6,
		  kdbus_msg_item(msg, KDBUS_ITEM_PAYLOAD_OFF, 1)->vec.offset);
	close(kdbus_msg_item(msg, KDBUS_ITEM_PAYLOAD_MEMFD, 0)->memfd.fd);
}

TEST_F(memfd, receiver_without_accept_fd_sees_minus_one)
{
	struct kdbus_msg *msg;
	struct kdbus_item *item;
	int fd = make_memfd("x", SEALS);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, send_memfd(self->b.fd, self->a.id, fd, 0, 1));
	ASSERT_EQ(0, kdbus_msg_recv(&self->a, 0, 0, &msg, NULL));
	item = kdbus_msg_item(msg, KDBUS_ITEM_PAYLOAD_MEMFD, 0);
	ASSERT_NE(NULL, item);
	EXPECT_EQ(-1, item->memfd.fd);
	close(fd);
}

TEST_F(memfd, peek_shows_minus_one)
{
	struct kdbus_msg *msg;
	int fd = make_memfd("x", SEALS);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, send_memfd(self->a.fd, self->b.id, fd, 0, 1));
	ASSERT_EQ(0, kdbus_msg_recv(&self->b, KDBUS_RECV_PEEK, 0, &msg, NULL));
	EXPECT_EQ(-1, kdbus_msg_item(msg, KDBUS_ITEM_PAYLOAD_MEMFD, 0)->memfd.fd);
	close(fd);
}

TEST_F(memfd, missing_seals_etxtbsy)
{
	int none = make_memfd("x", 0);
	int some = make_memfd("x", F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);

	ASSERT_LE(0, none);
	ASSERT_LE(0, some);
	EXPECT_EQ(-ETXTBSY, send_memfd(self->a.fd, self->b.id, none, 0, 1));
	EXPECT_EQ(-ETXTBSY, send_memfd(self->a.fd, self->b.id, some, 0, 1));
	close(none);
	close(some);
}

TEST_F(memfd, not_a_memfd_emediumtype)
{
	int p[2];

	ASSERT_EQ(0, pipe(p));
	EXPECT_EQ(-EMEDIUMTYPE, send_memfd(self->a.fd, self->b.id, p[0], 0, 1));
	close(p[0]);
	close(p[1]);
}

TEST_F(memfd, range_checks)
{
	int fd = make_memfd("four", SEALS);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBADF, send_memfd(self->a.fd, self->b.id, fd, 1, 4));
	EXPECT_EQ(-EMSGSIZE, send_memfd(self->a.fd, self->b.id, fd, ~0ULL, 2));
	EXPECT_EQ(-EINVAL, send_memfd(self->a.fd, self->b.id, fd, 0, 0));
	EXPECT_EQ(-EBADF, send_memfd(self->a.fd, self->b.id, -1, 0, 1));
	EXPECT_EQ(-EBADF, send_memfd(self->a.fd, self->b.id, 1000, 0, 1));
	EXPECT_EQ(0, send_memfd(self->a.fd, self->b.id, fd, 0, 4));
	close(fd);
}

TEST_F(memfd, seventeen_memfds_e2big)
{
	struct kdbus_builder b;
	struct kdbus_memfd m = { .start = 0, .size = 1 };
	int i, fd = make_memfd("x", SEALS);

	ASSERT_LE(0, fd);
	m.fd = fd;
	kdbus_msg_init(&b, self->b.id, 0, 0, 1);
	for (i = 0; i < 17; i++)
		kdbus_b_item(&b, KDBUS_ITEM_PAYLOAD_MEMFD, &m, sizeof(m));
	EXPECT_EQ(-E2BIG, kdbus_msg_send_b(self->a.fd, &b, 0, NULL));
	close(fd);
}

TEST_HARNESS_MAIN
