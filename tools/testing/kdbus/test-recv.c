// SPDX-License-Identifier: GPL-2.0
/*
 * Delivery of unicast messages and KDBUS_CMD_RECV (message.md §2.4, §5,
 * §6; connection-pool.md §5.1, §9, §10.3, §10.6, §11; abi.md §4.10, §8.2):
 * the layout of a received message (header, PAYLOAD_OFF items, inline
 * payload placement, padding vectors, the §5.3 examples), metadata items
 * written at RECV and the masks that select them, RECV flags (PEEK, DROP,
 * USE_PRIORITY, and the kdbus-rs extension FREE) and priorities, FREE of
 * peeked / received slices, receiver quotas (per-user share, 256
 * messages) and EXFULL, poll POLLIN, and
 * BYEBYE with a non-empty queue, and a user's share of a receiver's queue
 * outliving the user (not inherited by the next user). Checklist
 * message.md §12 "Delivery layout", "Quotas and drops", "RECV".
 *
 * Not covered (not part of this step): memfds and FDS items (descriptor
 * installation, INCOMPLETE_FDS, the fd quota), broadcasts and therefore
 * the lost-message counter beyond "a failed unicast does not count"
 * (dropped_msgs is only reachable through broadcasts, monitors,
 * notifications and activator hand-over), replies and REPLY_DEAD after
 * DROP, OWNED_NAME items of ordinary owners, and TALK policy.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

#define POOL	KDBUS_TEST_POOL_SIZE
#define BIG	(1 << 20)
#define ACT	"org.kdbus.t.act"
#define EMPTY_OFF	0x5a5a5a5a5a5a5a5aULL	/* pattern set by kdbus_msg_recv() */
#define PIN		(POLLIN | POLLRDNORM)
#define POUT	(POLLOUT | POLLWRNORM)
/* The default module mask plus TID_COMM and PID_COMM. */
#define PARAM_WITH_COMM	"10367"

FIXTURE(recv) {
	struct kdbus_domain d;
	char bus[64];
	char path[256];		/* <root>/<bus>/bus */
	int owner;
	char param[64];
	struct kdbus_conn a;	/* sender: send mask ALL, recv mask 0 */
};

FIXTURE_SETUP(recv)
{
	self->param[0] = 0;
	self->a.fd = -1;
	ASSERT_EQ(0, kdbus_domain_init(&self->d));
	self->owner = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "r", self->bus);
	ASSERT_LE(0, self->owner);
	kdbus_path(self->path, sizeof(self->path), self->d.root, "%s/bus", self->bus);
	/* Every test starts from the default module mask. */
	ASSERT_EQ(0, kdbus_param_set(KDBUS_PARAM_DEFAULT, self->param, sizeof(self->param)));
	ASSERT_EQ(0, kdbus_conn_open(&self->a, self->path, 0, POOL));
}

FIXTURE_TEARDOWN(recv)
{
	kdbus_conn_close(&self->a);
	if (self->param[0])
		kdbus_write_file(KDBUS_PARAM_PATH, self->param);
	if (self->owner >= 0)
		close(self->owner);
	kdbus_domain_fini(&self->d);
}

/* A receiver with the given recv mask (send mask ALL) and pool size. */
static int open_rx(struct kdbus_conn *c, const char *path, uint64_t recv, size_t pool)
{
	return kdbus_conn_open_b(c, path, NULL, 0, _KDBUS_ATTACH_ALL, recv, pool);
}

/* Send a message with cookie @cookie, priority @prio and no payload. */
static int send_cp(int fd, uint64_t dst, uint64_t cookie, int64_t prio)
{
	return kdbus_msg_send(fd, dst, 0, prio, cookie, NULL, 0);
}

/* Send one vector of @size bytes from @data. */
static int send_vec(int fd, uint64_t dst, uint64_t cookie, const void *data, uint64_t size)
{
	struct kdbus_test_vec v = { data, size };

	return kdbus_msg_send(fd, dst, 0, 0, cookie, &v, 1);
}

/* RECV with @flags/@prio; returns the cookie (freeing the slice unless
 * PEEK), or -errno. */
static int64_t recv_cookie(struct kdbus_conn *c, uint64_t flags, int64_t prio)
{
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	int64_t cookie;
	int ret = kdbus_msg_recv(c, flags, prio, &m, &r);

	if (ret < 0)
		return ret;
	if (!m)
		return -ENOMSG;
	cookie = m->cookie;
	kdbus_free(c->fd, r.msg.offset);
	return cookie;
}

static uint64_t nsec(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ------------------------------------------------------- RECV basics */

TEST_F(recv, empty_queue_eagain_with_empty_slice)
{
	static const uint64_t flags[] = { 0, KDBUS_RECV_PEEK, KDBUS_RECV_DROP,
					  KDBUS_RECV_USE_PRIORITY };
	struct kdbus_cmd_recv r;
	size_t i;

	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		EXPECT_EQ(-EAGAIN, kdbus_msg_recv(&self->a, flags[i], 0, NULL, &r))
			TH_LOG("flags %#llx", (unsigned long long)flags[i]);
		EXPECT_EQ(POOL, r.msg.offset);
		EXPECT_EQ(0, r.msg.msg_size);
		EXPECT_EQ(0, r.msg.return_flags);
		EXPECT_EQ(0, r.dropped_msgs);
		EXPECT_EQ(0, r.return_flags);
	}
}

TEST_F(recv, negotiate_reports_the_flags_and_receives_nothing)
{
	struct kdbus_cmd_recv r = { .size = sizeof(r), .flags = KDBUS_FLAG_NEGOTIATE };

	ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, 1, 0));
	ASSERT_EQ(0, kdbus_ioctl(self->a.fd, KDBUS_CMD_RECV, &r));
	/* The three of abi.md §5.8 and the kdbus-rs extension KDBUS_RECV_FREE. */
	EXPECT_EQ(KDBUS_RECV_PEEK | KDBUS_RECV_DROP | KDBUS_RECV_USE_PRIORITY |
		  KDBUS_RECV_FREE, r.flags);
	EXPECT_EQ(1, recv_cookie(&self->a, 0, 0));
}

/* RECV with KDBUS_RECV_FREE: frees the slice at msg.offset first. */
static int recv_free_flags(struct kdbus_conn *c, uint64_t free_off, uint64_t flags,
			   struct kdbus_cmd_recv *r)
{
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->flags = KDBUS_RECV_FREE | flags;
	r->msg.offset = free_off;
	return kdbus_ioctl(c->fd, KDBUS_CMD_RECV, r);
}

static int recv_free(struct kdbus_conn *c, uint64_t free_off, struct kdbus_cmd_recv *r)
{
	return recv_free_flags(c, free_off, 0, r);
}

TEST_F(recv, recv_free_gives_back_the_previous_slice_and_takes_the_next)
{
	struct kdbus_cmd_recv r1, r2, r3;

	ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, 1, 0));
	ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, 2, 0));
	/* The first one: nothing to free yet (the pool size frees nothing). */
	ASSERT_EQ(0, recv_free(&self->a, POOL, &r1));
	EXPECT_EQ(1, ((struct kdbus_msg *)(self->a.pool + r1.msg.offset))->cookie);
	ASSERT_EQ(0, recv_free(&self->a, r1.msg.offset, &r2));
	EXPECT_EQ(2, ((struct kdbus_msg *)(self->a.pool + r2.msg.offset))->cookie);
	/* The first slice was freed by the second RECV, the second is held. */
	EXPECT_EQ(-ENXIO, kdbus_free(self->a.fd, r1.msg.offset));
	/* On an empty queue the free still happens, then EAGAIN. */
	EXPECT_EQ(-EAGAIN, recv_free(&self->a, r2.msg.offset, &r3));
	EXPECT_EQ(POOL, r3.msg.offset);
	EXPECT_EQ(-ENXIO, kdbus_free(self->a.fd, r2.msg.offset));
}

TEST_F(recv, recv_free_with_peek_and_with_drop)
{
	struct kdbus_cmd_recv r1, r2, r3;

	ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, 1, 0));
	ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, 2, 0));
	ASSERT_EQ(0, recv_free(&self->a, POOL, &r1));
	/* A PEEK frees the previous slice and shows the next one. */
	ASSERT_EQ(0, recv_free_flags(&self->a, r1.msg.offset, KDBUS_RECV_PEEK, &r2));
	EXPECT_EQ(2, ((struct kdbus_msg *)(self->a.pool + r2.msg.offset))->cookie);
	EXPECT_EQ(-ENXIO, kdbus_free(self->a.fd, r1.msg.offset));
	/* A DROP frees the peeked slice's user hold and drops the message:
	 * the slice is gone and the queue empty. */
	ASSERT_EQ(0, recv_free_flags(&self->a, r2.msg.offset, KDBUS_RECV_DROP, &r3));
	EXPECT_EQ(POOL, r3.msg.offset);
	EXPECT_EQ(-ENXIO, kdbus_free(self->a.fd, r2.msg.offset));
	EXPECT_EQ(-EAGAIN, recv_free(&self->a, POOL, &r3));
	/* A bad offset with DROP drops nothing. */
	ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, 3, 0));
	EXPECT_EQ(-ENXIO, recv_free_flags(&self->a, 8, KDBUS_RECV_DROP, &r3));
	EXPECT_EQ(3, recv_cookie(&self->a, 0, 0));
}

TEST_F(recv, recv_free_of_a_bad_offset_enxio_receives_nothing)
{
	struct kdbus_cmd_recv r;

	ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, 5, 0));
	EXPECT_EQ(-ENXIO, recv_free(&self->a, 8, &r));
	EXPECT_EQ(-ENXIO, recv_free(&self->a, 2 * POOL, &r));
	/* The message is still queued. */
	EXPECT_EQ(5, recv_cookie(&self->a, 0, 0));
}

TEST_F(recv, bad_arguments_einval)
{
	struct kdbus_builder b;
	struct kdbus_cmd_recv *cmd;

	ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, 1, 0));
	kdbus_b_init(&b, sizeof(*cmd));
	cmd = kdbus_b_cmd(&b);
	cmd->flags = 1ULL << 4;
	EXPECT_EQ(-EINVAL, kdbus_ioctl(self->a.fd, KDBUS_CMD_RECV, cmd)) TH_LOG("flag");
	kdbus_b_init(&b, sizeof(*cmd));
	kdbus_b_u64(&b, KDBUS_ITEM_ID, 1);
	cmd = kdbus_b_cmd(&b);
	EXPECT_EQ(-EINVAL, kdbus_ioctl(self->a.fd, KDBUS_CMD_RECV, cmd)) TH_LOG("ID item");
	kdbus_b_init(&b, sizeof(*cmd));
	cmd = kdbus_b_cmd(&b);
	cmd->size = sizeof(*cmd) - 8;
	EXPECT_EQ(-EINVAL, kdbus_ioctl(self->a.fd, KDBUS_CMD_RECV, cmd)) TH_LOG("size");
	/* The message is still there. */
	EXPECT_EQ(1, recv_cookie(&self->a, 0, 0));
}

TEST_F(recv, negotiate_item_accepted)
{
	static const uint64_t types[] = { KDBUS_ITEM_NEGOTIATE, KDBUS_ITEM_ID };
	struct kdbus_builder b;
	struct kdbus_cmd_recv *cmd;
	struct kdbus_item *item;

	ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, 7, 0));
	kdbus_b_init(&b, sizeof(*cmd));
	kdbus_b_negotiate(&b, types, 2);
	cmd = kdbus_b_cmd(&b);
	ASSERT_EQ(0, kdbus_ioctl(self->a.fd, KDBUS_CMD_RECV, cmd));
	item = (struct kdbus_item *)((uint8_t *)cmd + sizeof(*cmd));
	EXPECT_EQ(KDBUS_ITEM_NEGOTIATE, item->data64[0]);
	EXPECT_EQ(0, item->data64[1]);
	EXPECT_EQ(7, ((struct kdbus_msg *)(self->a.pool + cmd->msg.offset))->cookie);
	EXPECT_EQ(0, kdbus_free(self->a.fd, cmd->msg.offset));
}

TEST_F(recv, drop_with_use_priority_einval_nothing_written)
{
	struct kdbus_cmd_recv r;

	ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, 3, 0));
	EXPECT_EQ(-EINVAL, kdbus_msg_recv(&self->a, KDBUS_RECV_DROP | KDBUS_RECV_USE_PRIORITY,
					  100, NULL, &r));
	EXPECT_EQ(EMPTY_OFF, r.msg.offset);
	EXPECT_EQ(EMPTY_OFF, r.msg.msg_size);
	EXPECT_EQ(EMPTY_OFF, r.dropped_msgs);
	EXPECT_EQ(3, recv_cookie(&self->a, 0, 0));
}

TEST_F(recv, success_writes_msg_info_and_no_dropped)
{
	struct kdbus_conn rx;
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;

	ASSERT_EQ(0, open_rx(&rx, self->path, 0, BIG));
	ASSERT_EQ(0, send_cp(self->a.fd, rx.id, 1, 0));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, 0, 0, &m, &r));
	EXPECT_EQ(0, r.return_flags);
	EXPECT_EQ(0, r.dropped_msgs);
	EXPECT_EQ(0, r.msg.return_flags);
	EXPECT_EQ(0, r.msg.offset % 8);
	EXPECT_EQ(64, r.msg.msg_size);
	/* priority is never written back. */
	EXPECT_EQ(0, r.priority);
	EXPECT_EQ(0, kdbus_free(rx.fd, r.msg.offset));
	kdbus_conn_close(&rx);
}

/* ----------------------------------------------------------- layout */

TEST_F(recv, header_as_sent_except_src_id_and_size)
{
	struct kdbus_conn rx;
	struct kdbus_builder b;
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m, sent;

	ASSERT_EQ(0, open_rx(&rx, self->path, 0, BIG));
	kdbus_msg_init(&b, rx.id, KDBUS_MSG_NO_AUTO_START, -42, 0x1122334455667788ULL);
	kdbus_msg_hdr(&b)->payload_type = 0x0102030405060708ULL;
	kdbus_b_vec(&b, "abcdefghijk", 11);
	memcpy(&sent, kdbus_b_cmd(&b), sizeof(sent));
	ASSERT_EQ(0, kdbus_msg_send_b(self->a.fd, &b, 0, NULL));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, 0, 0, &m, &r));
	EXPECT_EQ(64 + 32, m->size);
	EXPECT_EQ(sent.flags, m->flags);
	EXPECT_EQ(-42, m->priority);
	EXPECT_EQ(rx.id, m->dst_id);
	EXPECT_EQ(self->a.id, m->src_id);
	EXPECT_EQ(sent.payload_type, m->payload_type);
	EXPECT_EQ(sent.cookie, m->cookie);
	EXPECT_EQ(0, m->cookie_reply);
	EXPECT_EQ(0, kdbus_free(rx.fd, r.msg.offset));
	kdbus_conn_close(&rx);
}

TEST_F(recv, example_5_bytes_without_metadata)
{
	struct kdbus_conn rx;
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	struct kdbus_item *item;

	ASSERT_EQ(0, open_rx(&rx, self->path, 0, BIG));
	ASSERT_EQ(0, send_vec(self->a.fd, rx.id, 1, "hello", 5));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, 0, 0, &m, &r));
	EXPECT_EQ(104, r.msg.msg_size);
	EXPECT_EQ(96, m->size);
	ASSERT_EQ(1, kdbus_msg_count(m));
	item = m->items;
	EXPECT_EQ(32, item->size);
	EXPECT_EQ(KDBUS_ITEM_PAYLOAD_OFF, item->type);
	EXPECT_EQ(5, item->vec.size);
	EXPECT_EQ(96, item->vec.offset);
	EXPECT_EQ(0, memcmp((uint8_t *)m + 96, "hello", 5));
	EXPECT_EQ(0, kdbus_free(rx.fd, r.msg.offset));
	kdbus_conn_close(&rx);
}

TEST_F(recv, example_5_bytes_with_timestamp)
{
	struct kdbus_conn rx;
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	struct kdbus_item *off, *ts;

	ASSERT_EQ(0, open_rx(&rx, self->path, KDBUS_ATTACH_TIMESTAMP, BIG));
	ASSERT_EQ(0, send_vec(self->a.fd, rx.id, 1, "hello", 5));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, 0, 0, &m, &r));
	EXPECT_EQ(144, r.msg.msg_size);
	EXPECT_EQ(136, m->size);
	ASSERT_EQ(2, kdbus_msg_count(m));
	off = m->items;
	EXPECT_EQ(KDBUS_ITEM_PAYLOAD_OFF, off->type);
	EXPECT_EQ(5, off->vec.size);
	EXPECT_EQ(136, off->vec.offset);
	ts = KDBUS_ITEM_NEXT(off);
	EXPECT_EQ(KDBUS_ITEM_TIMESTAMP, ts->type);
	EXPECT_EQ(40, ts->size);
	EXPECT_EQ(0, memcmp((uint8_t *)m + 136, "hello", 5));
	EXPECT_EQ(0, kdbus_free(rx.fd, r.msg.offset));
	kdbus_conn_close(&rx);
}

TEST_F(recv, vectors_back_to_back_first_byte_aligned)
{
	struct kdbus_conn rx;
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	struct kdbus_item *i1, *i2;
	const struct kdbus_test_vec v[] = { { "abc", 3 }, { "defgh", 5 }, { "ij", 2 } };
	char buf[32];

	ASSERT_EQ(0, open_rx(&rx, self->path, 0, BIG));
	ASSERT_EQ(0, kdbus_msg_send(self->a.fd, rx.id, 0, 0, 1, v, 3));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, 0, 0, &m, &r));
	i1 = kdbus_msg_item(m, KDBUS_ITEM_PAYLOAD_OFF, 0);
	i2 = kdbus_msg_item(m, KDBUS_ITEM_PAYLOAD_OFF, 1);
	ASSERT_NE(NULL, i1);
	ASSERT_NE(NULL, i2);
	EXPECT_EQ(3, i1->vec.size);
	EXPECT_EQ(5, i2->vec.size);
	EXPECT_EQ(0, (r.msg.offset + i1->vec.offset) % 8);
	EXPECT_EQ(i1->vec.offset + 3, i2->vec.offset);
	EXPECT_EQ(i2->vec.offset + 5, kdbus_msg_item(m, KDBUS_ITEM_PAYLOAD_OFF, 2)->vec.offset);
	/* header_items = 64 + 3 * 32, no metadata. */
	EXPECT_EQ(160, m->size);
	EXPECT_EQ(160, i1->vec.offset);
	EXPECT_EQ(KDBUS_ALIGN8(160 + 10), r.msg.msg_size);
	EXPECT_LE(m->size, r.msg.msg_size);
	ASSERT_EQ(10, kdbus_msg_payload(m, r.msg.msg_size, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "abcdefghij", 10));
	EXPECT_EQ(0, kdbus_free(rx.fd, r.msg.offset));
	kdbus_conn_close(&rx);
}

TEST_F(recv, padding_vectors_offset_minus_1_and_size_mod_8_zeros)
{
	struct kdbus_conn rx;
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	struct kdbus_item *it[5];
	const struct kdbus_test_vec v[] = {
		{ "abc", 3 }, { NULL, 13 }, { "DEFGHIJK", 8 }, { NULL, 8 }, { "z", 1 },
	};
	uint8_t buf[64], want[33];
	uint8_t *p;
	int i;

	ASSERT_EQ(0, open_rx(&rx, self->path, 0, BIG));
	ASSERT_EQ(0, kdbus_msg_send(self->a.fd, rx.id, 0, 0, 1, v, 5));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, 0, 0, &m, &r));
	ASSERT_EQ(5, kdbus_msg_count(m));
	for (i = 0; i < 5; i++) {
		it[i] = kdbus_msg_item(m, KDBUS_ITEM_PAYLOAD_OFF, i);
		ASSERT_NE(NULL, it[i]);
		EXPECT_EQ(32, it[i]->size);
		EXPECT_EQ(v[i].size, it[i]->vec.size);
	}
	/* header_items = 64 + 5 * 32 = 224; stream: 3 + 5 + 8 + 0 + 1. */
	EXPECT_EQ(224, m->size);
	EXPECT_EQ(224, it[0]->vec.offset);
	EXPECT_EQ(~0ULL, it[1]->vec.offset);
	EXPECT_EQ(224 + 8, it[2]->vec.offset);
	EXPECT_EQ(~0ULL, it[3]->vec.offset);
	EXPECT_EQ(224 + 16, it[4]->vec.offset);
	EXPECT_EQ(KDBUS_ALIGN8(224 + 17), r.msg.msg_size);
	p = (uint8_t *)m + 224;
	EXPECT_EQ(0, memcmp(p, "abc\0\0\0\0\0DEFGHIJKz", 17));

	memset(want, 0, sizeof(want));
	memcpy(want, "abc", 3);
	memcpy(want + 16, "DEFGHIJK", 8);
	want[32] = 'z';
	ASSERT_EQ(33, kdbus_msg_payload(m, r.msg.msg_size, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, want, 33));
	EXPECT_EQ(0, kdbus_free(rx.fd, r.msg.offset));
	kdbus_conn_close(&rx);
}

TEST_F(recv, sender_may_reuse_buffer_after_send)
{
	struct kdbus_conn rx;
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	char data[16] = "original-data";
	char buf[16];

	ASSERT_EQ(0, open_rx(&rx, self->path, 0, BIG));
	ASSERT_EQ(0, send_vec(self->a.fd, rx.id, 1, data, 13));
	memset(data, 'X', sizeof(data));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, 0, 0, &m, &r));
	ASSERT_EQ(13, kdbus_msg_payload(m, r.msg.msg_size, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, "original-data", 13));
	EXPECT_EQ(0, kdbus_free(rx.fd, r.msg.offset));
	kdbus_conn_close(&rx);
}

TEST_F(recv, by_name_to_activator_layout_and_pollin)
{
	struct kdbus_conn act;
	struct kdbus_builder b;
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	struct kdbus_item *name, *off;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->path, KDBUS_HELLO_ACTIVATOR, ACT, BIG));
	EXPECT_EQ(POUT, kdbus_poll(act.fd, PIN | POUT, 0));
	kdbus_msg_init(&b, KDBUS_DST_ID_NAME, 0, 0, 9);
	kdbus_b_str(&b, KDBUS_ITEM_DST_NAME, ACT);	/* 16 + 16 = 32 bytes */
	kdbus_b_vec(&b, "hello", 5);
	ASSERT_EQ(0, kdbus_msg_send_b(self->a.fd, &b, 0, NULL));
	EXPECT_EQ(PIN | POUT, kdbus_poll(act.fd, PIN | POUT, 0));
	ASSERT_EQ(0, kdbus_msg_recv(&act, KDBUS_RECV_PEEK, 0, &m, &r));
	ASSERT_EQ(2, kdbus_msg_count(m));
	name = m->items;
	EXPECT_EQ(KDBUS_ITEM_DST_NAME, name->type);
	EXPECT_EQ(16 + strlen(ACT) + 1, name->size);
	EXPECT_STREQ(ACT, name->str);
	off = KDBUS_ITEM_NEXT(name);
	EXPECT_EQ(KDBUS_ITEM_PAYLOAD_OFF, off->type);
	/* Activators have recv mask 0 here: header_items = 64 + 32 + 32. */
	EXPECT_EQ(128, m->size);
	EXPECT_EQ(128, off->vec.offset);
	EXPECT_EQ(136, r.msg.msg_size);
	EXPECT_EQ(0, memcmp((uint8_t *)m + 128, "hello", 5));
	EXPECT_EQ(0, kdbus_free(act.fd, r.msg.offset));
	EXPECT_EQ(9, recv_cookie(&act, 0, 0));
	EXPECT_EQ(POUT, kdbus_poll(act.fd, PIN | POUT, 0));
	kdbus_conn_close(&act);
}

/* --------------------------------------------------------- metadata */

struct sender_thread {
	int fd;
	uint64_t dst;
	pid_t tid;
	int ret;
	uint64_t mono[2], real[2];
};

static void *sender_fn(void *arg)
{
	struct sender_thread *t = arg;

	prctl(PR_SET_NAME, "kdbus-sndthr", 0, 0, 0);
	t->tid = syscall(SYS_gettid);
	t->mono[0] = nsec(CLOCK_MONOTONIC);
	t->real[0] = nsec(CLOCK_REALTIME);
	t->ret = send_vec(t->fd, t->dst, 1, "hello", 5);
	t->mono[1] = nsec(CLOCK_MONOTONIC);
	t->real[1] = nsec(CLOCK_REALTIME);
	return NULL;
}

TEST_F(recv, metadata_items_in_order_with_sender_values)
{
	static const uint64_t order[] = {
		KDBUS_ITEM_PAYLOAD_OFF, KDBUS_ITEM_CREDS, KDBUS_ITEM_PIDS,
		KDBUS_ITEM_AUXGROUPS, KDBUS_ITEM_TID_COMM, KDBUS_ITEM_PID_COMM,
		KDBUS_ITEM_CONN_DESCRIPTION, KDBUS_ITEM_TIMESTAMP,
	};
	const uint64_t mask = KDBUS_ATTACH_CREDS | KDBUS_ATTACH_PIDS | KDBUS_ATTACH_AUXGROUPS |
			      KDBUS_ATTACH_TID_COMM | KDBUS_ATTACH_PID_COMM |
			      KDBUS_ATTACH_CONN_DESCRIPTION | KDBUS_ATTACH_TIMESTAMP;
	struct kdbus_conn tx, rx;
	struct kdbus_builder b;
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	struct kdbus_item *item, *off = NULL;
	struct sender_thread t = { 0 };
	pthread_t th;
	char comm[32] = "";
	gid_t groups[256];
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	uint64_t expect_size = 64;
	int i = 0, ngroups, g;

	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, PARAM_WITH_COMM));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	kdbus_b_str(&b, KDBUS_ITEM_CONN_DESCRIPTION, "sender-desc");
	ASSERT_EQ(0, kdbus_conn_open_b(&tx, self->path, &b, 0, _KDBUS_ATTACH_ALL, 0, POOL));
	ASSERT_EQ(0, open_rx(&rx, self->path, mask, BIG));

	t.fd = tx.fd;
	t.dst = rx.id;
	ASSERT_EQ(0, pthread_create(&th, NULL, sender_fn, &t));
	pthread_join(th, NULL);
	ASSERT_EQ(0, t.ret);

	ASSERT_EQ(0, kdbus_msg_recv(&rx, 0, 0, &m, &r));
	KDBUS_ITEM_FOREACH(item, m, items) {
		ASSERT_LT(i, 8);
		EXPECT_EQ(order[i], item->type) TH_LOG("item %d", i);
		expect_size += KDBUS_ALIGN8(item->size);
		switch (item->type) {
		case KDBUS_ITEM_PAYLOAD_OFF:
			off = item;
			break;
		case KDBUS_ITEM_CREDS:
			ASSERT_EQ(0, getresuid(&ru, &eu, &su));
			ASSERT_EQ(0, getresgid(&rg, &eg, &sg));
			EXPECT_EQ(16 + sizeof(struct kdbus_creds), item->size);
			EXPECT_EQ(ru, item->creds.uid);
			EXPECT_EQ(eu, item->creds.euid);
			EXPECT_EQ(su, item->creds.suid);
			EXPECT_EQ((uid_t)setfsuid(-1), item->creds.fsuid);
			EXPECT_EQ(rg, item->creds.gid);
			EXPECT_EQ(eg, item->creds.egid);
			EXPECT_EQ(sg, item->creds.sgid);
			EXPECT_EQ((gid_t)setfsgid(-1), item->creds.fsgid);
			break;
		case KDBUS_ITEM_PIDS:
			EXPECT_EQ(16 + sizeof(struct kdbus_pids), item->size);
			EXPECT_EQ(getpid(), item->pids.pid);
			EXPECT_EQ(t.tid, item->pids.tid);
			EXPECT_EQ(getppid(), item->pids.ppid);
			break;
		case KDBUS_ITEM_AUXGROUPS:
			ngroups = getgroups(256, groups);
			ASSERT_LE(0, ngroups);
			EXPECT_EQ(16 + 8 * ngroups, item->size);
			for (g = 0; g < ngroups; g++) {
				int k, found = 0;

				for (k = 0; k < (int)(item->size - 16) / 8; k++)
					found |= item->data64[k] == groups[g];
				EXPECT_TRUE(found) TH_LOG("gid %u", groups[g]);
			}
			break;
		case KDBUS_ITEM_TID_COMM:
			EXPECT_EQ(16 + strlen("kdbus-sndthr") + 1, item->size);
			EXPECT_STREQ("kdbus-sndthr", item->str);
			break;
		case KDBUS_ITEM_PID_COMM:
			ASSERT_EQ(0, prctl(PR_GET_NAME, comm, 0, 0, 0));
			EXPECT_EQ(16 + strlen(comm) + 1, item->size);
			EXPECT_STREQ(comm, item->str);
			break;
		case KDBUS_ITEM_CONN_DESCRIPTION:
			EXPECT_EQ(16 + strlen("sender-desc") + 1, item->size);
			EXPECT_STREQ("sender-desc", item->str);
			break;
		case KDBUS_ITEM_TIMESTAMP:
			EXPECT_EQ(40, item->size);
			EXPECT_LT(0, item->timestamp.seqnum);
			EXPECT_LE(t.mono[0], item->timestamp.monotonic_ns);
			EXPECT_GE(t.mono[1], item->timestamp.monotonic_ns);
			EXPECT_LE(t.real[0], item->timestamp.realtime_ns);
			EXPECT_GE(t.real[1], item->timestamp.realtime_ns);
			break;
		}
		i++;
	}
	EXPECT_EQ(8, i);
	EXPECT_EQ(expect_size, m->size);
	ASSERT_NE(NULL, off);
	EXPECT_EQ(5, off->vec.size);
	EXPECT_LE(m->size, off->vec.offset);
	EXPECT_EQ(0, off->vec.offset % 8);
	EXPECT_EQ(KDBUS_ALIGN8(off->vec.offset + 5), r.msg.msg_size);
	EXPECT_EQ(0, memcmp((uint8_t *)m + off->vec.offset, "hello", 5));
	EXPECT_EQ(0, kdbus_free(rx.fd, r.msg.offset));
	kdbus_conn_close(&tx);
	kdbus_conn_close(&rx);
}

/* Item types of the next message on @c (at most 16), freed. Returns the
 * count or -errno; *@size gets kdbus_msg.size. */
static int recv_types(struct kdbus_conn *c, uint64_t *types, uint64_t *size)
{
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	struct kdbus_item *item;
	int n = 0, ret = kdbus_msg_recv(c, 0, 0, &m, &r);

	if (ret < 0)
		return ret;
	KDBUS_ITEM_FOREACH(item, m, items) {
		if (n < 16)
			types[n] = item->type;
		n++;
	}
	if (size)
		*size = m->size;
	kdbus_free(c->fd, r.msg.offset);
	return n;
}

TEST_F(recv, metadata_needs_send_mask_recv_mask_and_module_mask)
{
	struct kdbus_conn tx, rx;
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	uint64_t types[16], size;

	/* Sender allows only TIMESTAMP; receiver wants everything. */
	ASSERT_EQ(0, kdbus_conn_open_b(&tx, self->path, NULL, 0, KDBUS_ATTACH_TIMESTAMP, 0,
				       POOL));
	ASSERT_EQ(0, open_rx(&rx, self->path, _KDBUS_ATTACH_ALL, BIG));
	ASSERT_EQ(0, kdbus_msg_send(tx.fd, rx.id, 0, 0, 1, NULL, 0));
	ASSERT_EQ(1, recv_types(&rx, types, NULL));
	EXPECT_EQ(KDBUS_ITEM_TIMESTAMP, types[0]);

	/* Sender allows everything; receiver wants CREDS only. */
	ASSERT_EQ(0, kdbus_update_u64(rx.fd, KDBUS_ITEM_ATTACH_FLAGS_RECV, KDBUS_ATTACH_CREDS));
	ASSERT_EQ(0, kdbus_msg_send(self->a.fd, rx.id, 0, 0, 1, NULL, 0));
	ASSERT_EQ(1, recv_types(&rx, types, NULL));
	EXPECT_EQ(KDBUS_ITEM_CREDS, types[0]);

	/* Default module mask: TID_COMM / PID_COMM never exported. */
	ASSERT_EQ(0, kdbus_update_u64(rx.fd, KDBUS_ITEM_ATTACH_FLAGS_RECV,
				      KDBUS_ATTACH_TID_COMM | KDBUS_ATTACH_PID_COMM));
	ASSERT_EQ(0, kdbus_msg_send(self->a.fd, rx.id, 0, 0, 1, NULL, 0));
	EXPECT_EQ(0, recv_types(&rx, types, &size));
	EXPECT_EQ(64, size);

	/* Module mask 0: nothing at all, and nothing reserved. */
	ASSERT_EQ(0, kdbus_update_u64(rx.fd, KDBUS_ITEM_ATTACH_FLAGS_RECV, _KDBUS_ATTACH_ALL));
	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, "0"));
	ASSERT_EQ(0, send_vec(self->a.fd, rx.id, 1, "hello", 5));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, 0, 0, &m, &r));
	EXPECT_EQ(96, m->size);
	EXPECT_EQ(104, r.msg.msg_size);
	EXPECT_EQ(1, kdbus_msg_count(m));
	kdbus_free(rx.fd, r.msg.offset);
	kdbus_conn_close(&tx);
	kdbus_conn_close(&rx);
}

TEST_F(recv, timestamp_seqnums_strictly_increase)
{
	struct kdbus_conn rx;
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	struct kdbus_item *ts;
	uint64_t prev = 0;
	int i;

	ASSERT_EQ(0, open_rx(&rx, self->path, KDBUS_ATTACH_TIMESTAMP, BIG));
	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, send_cp(self->a.fd, rx.id, i + 1, 0));
	for (i = 0; i < 5; i++) {
		ASSERT_EQ(0, kdbus_msg_recv(&rx, 0, 0, &m, &r));
		EXPECT_EQ(i + 1, m->cookie);
		ts = kdbus_msg_item(m, KDBUS_ITEM_TIMESTAMP, 0);
		ASSERT_NE(NULL, ts);
		EXPECT_LT(prev, ts->timestamp.seqnum);
		prev = ts->timestamp.seqnum;
		kdbus_free(rx.fd, r.msg.offset);
	}
	kdbus_conn_close(&rx);
}

TEST_F(recv, recv_mask_change_affects_only_later_messages)
{
	struct kdbus_conn rx;
	uint64_t types[16];

	ASSERT_EQ(0, open_rx(&rx, self->path, KDBUS_ATTACH_TIMESTAMP, BIG));
	ASSERT_EQ(0, send_cp(self->a.fd, rx.id, 1, 0));
	ASSERT_EQ(0, kdbus_update_u64(rx.fd, KDBUS_ITEM_ATTACH_FLAGS_RECV, 0));
	ASSERT_EQ(0, send_cp(self->a.fd, rx.id, 2, 0));
	ASSERT_EQ(0, kdbus_update_u64(rx.fd, KDBUS_ITEM_ATTACH_FLAGS_RECV,
				      KDBUS_ATTACH_TIMESTAMP));
	ASSERT_EQ(1, recv_types(&rx, types, NULL));
	EXPECT_EQ(KDBUS_ITEM_TIMESTAMP, types[0]);
	EXPECT_EQ(0, recv_types(&rx, types, NULL));
	kdbus_conn_close(&rx);
}

TEST_F(recv, faked_credentials_sender_sends_no_process_metadata)
{
	struct kdbus_conn tx, rx;
	struct kdbus_builder b;
	struct kdbus_creds creds = { 0 };
	uint64_t types[16];
	int n;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	kdbus_b_item(&b, KDBUS_ITEM_CREDS, &creds, sizeof(creds));
	kdbus_b_str(&b, KDBUS_ITEM_CONN_DESCRIPTION, "faker");
	ASSERT_EQ(0, kdbus_conn_open_b(&tx, self->path, &b, 0, _KDBUS_ATTACH_ALL, 0, POOL));
	ASSERT_EQ(0, open_rx(&rx, self->path, _KDBUS_ATTACH_ALL, BIG));
	ASSERT_EQ(0, kdbus_msg_send(tx.fd, rx.id, 0, 0, 1, NULL, 0));
	n = recv_types(&rx, types, NULL);
	ASSERT_EQ(2, n);
	EXPECT_EQ(KDBUS_ITEM_CONN_DESCRIPTION, types[0]);
	EXPECT_EQ(KDBUS_ITEM_TIMESTAMP, types[1]);
	kdbus_conn_close(&tx);
	kdbus_conn_close(&rx);
}

/* -------------------------------------------------------- priorities */

TEST_F(recv, fifo_without_use_priority)
{
	static const int64_t prio[] = { 5, -3, 0, 10, INT64_MIN };
	int i;

	for (i = 0; i < 5; i++)
		ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, i + 1, prio[i]));
	for (i = 0; i < 5; i++)
		EXPECT_EQ(i + 1, recv_cookie(&self->a, 0, 0));
	EXPECT_EQ(-EAGAIN, recv_cookie(&self->a, 0, 0));
}

TEST_F(recv, use_priority_lowest_value_first_fifo_among_equal)
{
	static const int64_t prio[] = { 5, -3, 0, -3, 0, -100 };
	static const int64_t want[] = { 6, 2, 4, 3, 5, 1 };
	int i;

	for (i = 0; i < 6; i++)
		ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, i + 1, prio[i]));
	for (i = 0; i < 6; i++)
		EXPECT_EQ(want[i], recv_cookie(&self->a, KDBUS_RECV_USE_PRIORITY, INT64_MAX))
			TH_LOG("position %d", i);
	EXPECT_EQ(-EAGAIN, recv_cookie(&self->a, KDBUS_RECV_USE_PRIORITY, INT64_MAX));
}

TEST_F(recv, use_priority_threshold)
{
	struct kdbus_cmd_recv r;

	ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, 1, 5));
	ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, 2, 3));
	EXPECT_EQ(-EAGAIN, kdbus_msg_recv(&self->a, KDBUS_RECV_USE_PRIORITY, 2, NULL, &r));
	EXPECT_EQ(POOL, r.msg.offset);
	EXPECT_EQ(0, r.msg.msg_size);
	EXPECT_EQ(0, r.dropped_msgs);
	EXPECT_EQ(-EAGAIN, recv_cookie(&self->a, KDBUS_RECV_USE_PRIORITY | KDBUS_RECV_PEEK, 2));
	EXPECT_EQ(2, recv_cookie(&self->a, KDBUS_RECV_USE_PRIORITY, 3));
	EXPECT_EQ(-EAGAIN, recv_cookie(&self->a, KDBUS_RECV_USE_PRIORITY, 4));
	EXPECT_EQ(-EAGAIN, recv_cookie(&self->a, KDBUS_RECV_USE_PRIORITY, -5));
	EXPECT_EQ(1, recv_cookie(&self->a, KDBUS_RECV_USE_PRIORITY, 5));

	/* Negative thresholds and priorities. */
	ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, 3, 0));
	ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, 4, -7));
	EXPECT_EQ(-EAGAIN, recv_cookie(&self->a, KDBUS_RECV_USE_PRIORITY, -8));
	EXPECT_EQ(4, recv_cookie(&self->a, KDBUS_RECV_USE_PRIORITY, -7));
	EXPECT_EQ(-EAGAIN, recv_cookie(&self->a, KDBUS_RECV_USE_PRIORITY, -1));
	/* Without USE_PRIORITY the threshold is ignored. */
	EXPECT_EQ(3, recv_cookie(&self->a, 0, -100));
}

/* ------------------------------------------------ PEEK / DROP / FREE */

TEST_F(recv, peek_keeps_message_and_recv_returns_same_offset)
{
	struct kdbus_conn rx;
	struct kdbus_cmd_recv p1, p2, r;
	struct kdbus_msg *m;

	ASSERT_EQ(0, open_rx(&rx, self->path, 0, BIG));
	ASSERT_EQ(0, send_vec(self->a.fd, rx.id, 11, "hello", 5));
	ASSERT_EQ(0, send_cp(self->a.fd, rx.id, 12, 0));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, KDBUS_RECV_PEEK, 0, &m, &p1));
	EXPECT_EQ(11, m->cookie);
	EXPECT_EQ(104, p1.msg.msg_size);
	EXPECT_EQ(0, kdbus_msg_recv(&rx, KDBUS_RECV_PEEK, 0, &m, &p2));
	EXPECT_EQ(p1.msg.offset, p2.msg.offset);
	ASSERT_EQ(0, kdbus_msg_recv(&rx, 0, 0, &m, &r));
	EXPECT_EQ(p1.msg.offset, r.msg.offset);
	EXPECT_EQ(104, r.msg.msg_size);
	EXPECT_EQ(11, m->cookie);
	EXPECT_EQ(96, m->size);
	/* The user reference is a flag: one FREE for PEEK + PEEK + RECV. */
	EXPECT_EQ(0, kdbus_free(rx.fd, r.msg.offset));
	EXPECT_EQ(-ENXIO, kdbus_free(rx.fd, r.msg.offset));
	EXPECT_EQ(12, recv_cookie(&rx, 0, 0));
	EXPECT_EQ(-EAGAIN, recv_cookie(&rx, 0, 0));
	kdbus_conn_close(&rx);
}

TEST_F(recv, free_after_peek_and_again_after_recv)
{
	struct kdbus_conn rx;
	struct kdbus_cmd_recv p, r;

	ASSERT_EQ(0, open_rx(&rx, self->path, 0, BIG));
	ASSERT_EQ(0, send_cp(self->a.fd, rx.id, 1, 0));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, KDBUS_RECV_PEEK, 0, NULL, &p));
	EXPECT_EQ(0, kdbus_free(rx.fd, p.msg.offset));
	EXPECT_EQ(-ENXIO, kdbus_free(rx.fd, p.msg.offset));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, 0, 0, NULL, &r));
	EXPECT_EQ(p.msg.offset, r.msg.offset);
	EXPECT_EQ(0, kdbus_free(rx.fd, r.msg.offset));
	EXPECT_EQ(-ENXIO, kdbus_free(rx.fd, r.msg.offset));
	kdbus_conn_close(&rx);
}

TEST_F(recv, queued_slice_invisible_until_published)
{
	struct kdbus_conn rx;
	struct kdbus_cmd_recv r;

	ASSERT_EQ(0, open_rx(&rx, self->path, 0, BIG));
	/* Idle pool: the next allocation lands at offset 0. */
	ASSERT_EQ(0, kdbus_free(rx.fd, rx.hello.offset));
	ASSERT_EQ(0, rx.hello.offset);
	ASSERT_EQ(0, send_cp(self->a.fd, rx.id, 1, 0));
	EXPECT_EQ(-ENXIO, kdbus_free(rx.fd, 0));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, 0, 0, NULL, &r));
	EXPECT_EQ(0, r.msg.offset);
	EXPECT_EQ(0, kdbus_free(rx.fd, 0));

	/* A message dropped without being peeked needs no FREE. */
	ASSERT_EQ(0, send_cp(self->a.fd, rx.id, 2, 0));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, KDBUS_RECV_DROP, 0, NULL, &r));
	EXPECT_EQ(-ENXIO, kdbus_free(rx.fd, 0));
	/* ... and its memory is free again. */
	ASSERT_EQ(0, send_cp(self->a.fd, rx.id, 3, 0));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, 0, 0, NULL, &r));
	EXPECT_EQ(0, r.msg.offset);
	EXPECT_EQ(0, kdbus_free(rx.fd, 0));
	kdbus_conn_close(&rx);
}

TEST_F(recv, drop_removes_next_message)
{
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;

	ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, 1, 0));
	ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, 2, 0));
	ASSERT_EQ(0, kdbus_msg_recv(&self->a, KDBUS_RECV_DROP, 0, &m, &r));
	EXPECT_EQ(POOL, r.msg.offset);
	EXPECT_EQ(0, r.msg.msg_size);
	EXPECT_EQ(0, r.msg.return_flags);
	EXPECT_EQ(0, r.dropped_msgs);
	EXPECT_EQ(0, r.return_flags);
	EXPECT_EQ(2, recv_cookie(&self->a, 0, 0));
	EXPECT_EQ(-EAGAIN, recv_cookie(&self->a, 0, 0));
}

TEST_F(recv, peek_drop_behaves_as_drop)
{
	struct kdbus_cmd_recv r;

	ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, 1, 0));
	ASSERT_EQ(0, send_cp(self->a.fd, self->a.id, 2, 0));
	ASSERT_EQ(0, kdbus_msg_recv(&self->a, KDBUS_RECV_PEEK | KDBUS_RECV_DROP, 0, NULL, &r));
	EXPECT_EQ(POOL, r.msg.offset);
	EXPECT_EQ(0, r.msg.msg_size);
	EXPECT_EQ(2, recv_cookie(&self->a, 0, 0));
	EXPECT_EQ(-EAGAIN, recv_cookie(&self->a, 0, 0));
}

TEST_F(recv, drop_of_peeked_message_keeps_slice_until_free)
{
	struct kdbus_conn rx;
	struct kdbus_cmd_recv p, r;
	struct kdbus_msg *m;

	ASSERT_EQ(0, open_rx(&rx, self->path, 0, BIG));
	ASSERT_EQ(0, send_vec(self->a.fd, rx.id, 5, "hello", 5));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, KDBUS_RECV_PEEK, 0, &m, &p));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, KDBUS_RECV_DROP, 0, NULL, &r));
	EXPECT_EQ(BIG, r.msg.offset);
	EXPECT_EQ(-EAGAIN, recv_cookie(&rx, 0, 0));
	/* Still readable: nobody may reuse it before FREE. */
	ASSERT_EQ(0, send_vec(self->a.fd, rx.id, 6, "world", 5));
	EXPECT_EQ(5, m->cookie);
	EXPECT_EQ(0, memcmp((uint8_t *)m + 96, "hello", 5));
	EXPECT_EQ(0, kdbus_free(rx.fd, p.msg.offset));
	EXPECT_EQ(-ENXIO, kdbus_free(rx.fd, p.msg.offset));
	EXPECT_EQ(6, recv_cookie(&rx, 0, 0));
	kdbus_conn_close(&rx);
}

/* ------------------------------------------------------------ quotas */

TEST_F(recv, message_257_enobufs_dequeue_allows_another)
{
	struct kdbus_conn rx;
	struct kdbus_cmd_recv r;
	int i;

	ASSERT_EQ(0, open_rx(&rx, self->path, 0, BIG));
	for (i = 0; i < 256; i++)
		ASSERT_EQ(0, send_cp(self->a.fd, rx.id, i + 1, 0)) TH_LOG("message %d", i + 1);
	EXPECT_EQ(-ENOBUFS, send_cp(self->a.fd, rx.id, 257, 0));
	/* A failed unicast is not a lost message. */
	ASSERT_EQ(0, kdbus_msg_recv(&rx, KDBUS_RECV_PEEK, 0, NULL, &r));
	EXPECT_EQ(0, r.dropped_msgs);
	EXPECT_EQ(0, r.return_flags);
	EXPECT_EQ(-ENOBUFS, send_cp(self->a.fd, rx.id, 257, 0)) TH_LOG("peek dequeues nothing");
	EXPECT_EQ(1, recv_cookie(&rx, 0, 0));
	EXPECT_EQ(0, send_cp(self->a.fd, rx.id, 257, 0));
	EXPECT_EQ(-ENOBUFS, send_cp(self->a.fd, rx.id, 258, 0));
	for (i = 2; i <= 257; i++)
		ASSERT_EQ(i, recv_cookie(&rx, 0, 0));
	EXPECT_EQ(-EAGAIN, recv_cookie(&rx, 0, 0));
	kdbus_conn_close(&rx);
}

TEST_F(recv, message_above_user_share_enobufs)
{
	struct kdbus_conn rx;
	struct kdbus_cmd_recv r;
	/* P = 1 MiB: L = (P/2) / 3 = 174762, so the largest slice is 174760. */
	const uint64_t ok = 174760 - 96, bad = 174760 - 96 + 1;
	char *data = calloc(1, bad);

	ASSERT_NE(NULL, data);
	ASSERT_EQ(0, open_rx(&rx, self->path, 0, BIG));
	EXPECT_EQ(-ENOBUFS, send_vec(self->a.fd, rx.id, 1, data, bad));
	EXPECT_EQ(-EAGAIN, recv_cookie(&rx, 0, 0));
	EXPECT_EQ(0, send_vec(self->a.fd, rx.id, 2, data, ok));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, 0, 0, NULL, &r));
	EXPECT_EQ(174760, r.msg.msg_size);
	EXPECT_EQ(0, kdbus_free(rx.fd, r.msg.offset));
	free(data);
	kdbus_conn_close(&rx);
}

TEST_F(recv, quota_released_at_recv_not_at_free)
{
	struct kdbus_conn rx;
	struct kdbus_cmd_recv r;
	const uint64_t size = 100000 - 96;	/* slice 100000 */
	char *data = calloc(1, size);

	ASSERT_NE(NULL, data);
	ASSERT_EQ(0, open_rx(&rx, self->path, 0, BIG));
	ASSERT_EQ(0, send_vec(self->a.fd, rx.id, 1, data, size));
	/* U = 100000: L = 174762, L - U < 100000. */
	EXPECT_EQ(-ENOBUFS, send_vec(self->a.fd, rx.id, 2, data, size));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, 0, 0, NULL, &r));
	EXPECT_EQ(100000, r.msg.msg_size);
	/* Not freed, but dequeued: the charge is gone. */
	EXPECT_EQ(0, send_vec(self->a.fd, rx.id, 3, data, size));
	EXPECT_EQ(0, kdbus_free(rx.fd, r.msg.offset));
	EXPECT_EQ(3, recv_cookie(&rx, 0, 0));
	free(data);
	kdbus_conn_close(&rx);
}

TEST_F(recv, pool_full_of_unfreed_messages_exfull)
{
	struct kdbus_conn rx;
	struct kdbus_cmd_recv r;
	const uint64_t size = 2048 - 96;	/* slice 2048; 8 fill 16 KiB */
	uint64_t offs[8];
	char *data = calloc(1, size);
	int i;

	ASSERT_NE(NULL, data);
	ASSERT_EQ(0, open_rx(&rx, self->path, 0, 4 * POOL));
	ASSERT_EQ(0, kdbus_free(rx.fd, rx.hello.offset));
	for (i = 0; i < 8; i++) {
		ASSERT_EQ(0, send_vec(self->a.fd, rx.id, i + 1, data, size)) TH_LOG("msg %d", i);
		ASSERT_EQ(0, kdbus_msg_recv(&rx, 0, 0, NULL, &r));
		EXPECT_EQ(2048, r.msg.msg_size);
		offs[i] = r.msg.offset;
	}
	EXPECT_EQ(-EXFULL, send_vec(self->a.fd, rx.id, 9, data, size));
	EXPECT_EQ(-EXFULL, send_cp(self->a.fd, rx.id, 9, 0));
	EXPECT_EQ(-EAGAIN, recv_cookie(&rx, 0, 0));
	ASSERT_EQ(0, kdbus_free(rx.fd, offs[3]));
	EXPECT_EQ(0, send_vec(self->a.fd, rx.id, 10, data, size));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, 0, 0, NULL, &r));
	EXPECT_EQ(offs[3], r.msg.offset);
	free(data);
	kdbus_conn_close(&rx);
}

/*
 * The per-user share of a receiver's queue belongs to the user, not to
 * whatever user gets its quota index next (connection-pool.md §10.6,
 * fs-bus-endpoint.md §4.3). User A fills its share of the root receiver's
 * queue and leaves (its domain user object may go, its messages stay
 * queued); user B comes next and its first message must be judged on B's
 * own (empty) share. The handles are opened by root, so A and B are
 * privileged (they may talk to the root receiver) but charged to their
 * own real uids at HELLO.
 */
#define QUOTA_UID_A	4001
#define QUOTA_UID_B	4002
#define QUOTA_SLICE	16384			/* 10 fit in a 1 MiB pool's share */
#define QUOTA_VEC	(QUOTA_SLICE - 96)	/* header 64 + PAYLOAD_OFF 32 */

struct quota_user {
	int fd;			/* opened by root */
	uint64_t dst;
	uint64_t cookie;	/* of the first message */
	const char *data;
};

/* User A: send until ENOBUFS; exactly 10 messages fit (L = 174762). */
static int quota_fill(void *arg)
{
	struct quota_user *u = arg;
	struct kdbus_conn c;
	int i, ret = 0;

	KDBUS_CHILD_CHECK(getuid() == QUOTA_UID_A);
	KDBUS_CHILD_CHECK(kdbus_conn_open_fd(&c, u->fd, 0, POOL) == 0);
	for (i = 0; i < 100; i++) {
		ret = send_vec(c.fd, u->dst, u->cookie + i, u->data, QUOTA_VEC);
		if (ret < 0)
			break;
	}
	if (ret != -ENOBUFS || i != 10)
		fprintf(stderr, "# user A: %d messages sent, then %d\n", i, ret);
	KDBUS_CHILD_CHECK(ret == -ENOBUFS);
	KDBUS_CHILD_CHECK(i == 10);
	kdbus_conn_close(&c);
	return 0;
}

/* User B: one message; exits with the errno of that SEND (0: sent). */
static int quota_first_send(void *arg)
{
	struct quota_user *u = arg;
	struct kdbus_conn c;
	int ret;

	KDBUS_CHILD_CHECK(getuid() == QUOTA_UID_B);
	KDBUS_CHILD_CHECK(kdbus_conn_open_fd(&c, u->fd, 0, POOL) == 0);
	ret = send_vec(c.fd, u->dst, u->cookie, u->data, QUOTA_VEC);
	kdbus_conn_close(&c);
	return -ret;
}

TEST_F(recv, user_share_not_inherited_by_next_user)
{
	struct kdbus_conn rx;
	struct quota_user a = { .cookie = 1 }, b = { .cookie = 100 };
	char *data = calloc(1, QUOTA_VEC);
	int i, status;

	ASSERT_NE(NULL, data);
	ASSERT_EQ(0, open_rx(&rx, self->path, 0, BIG));
	a.dst = b.dst = rx.id;
	a.data = b.data = data;

	a.fd = open(self->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, a.fd);
	ASSERT_EQ(0, kdbus_run_as(QUOTA_UID_A, QUOTA_UID_A, quota_fill, &a));
	/* Our copy of A's handle was the last: A's connection is gone. */
	close(a.fd);

	b.fd = open(self->path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, b.fd);
	status = kdbus_run_as(QUOTA_UID_B, QUOTA_UID_B, quota_first_send, &b);
	close(b.fd);
	EXPECT_EQ(0, status) TH_LOG("user B's first SEND failed with errno %d", status);

	/* Nothing was received in between; everything is there, in order. */
	for (i = 0; i < 10; i++)
		EXPECT_EQ(a.cookie + i, recv_cookie(&rx, 0, 0));
	if (status == 0)
		EXPECT_EQ(b.cookie, recv_cookie(&rx, 0, 0));
	EXPECT_EQ(-EAGAIN, recv_cookie(&rx, 0, 0));
	kdbus_conn_close(&rx);
	free(data);
}

/* -------------------------------------------------------------- poll */

TEST_F(recv, poll_pollin_while_queue_non_empty)
{
	struct kdbus_conn rx;
	struct kdbus_cmd_recv r;
	const short ev = PIN | POUT;

	ASSERT_EQ(0, open_rx(&rx, self->path, 0, BIG));
	EXPECT_EQ(POUT, kdbus_poll(rx.fd, ev, 0));
	ASSERT_EQ(0, send_cp(self->a.fd, rx.id, 1, 0));
	ASSERT_EQ(0, send_cp(self->a.fd, rx.id, 2, 0));
	EXPECT_EQ(PIN | POUT, kdbus_poll(rx.fd, ev, 0));
	/* A peeked message keeps the queue non-empty. */
	ASSERT_EQ(0, kdbus_msg_recv(&rx, KDBUS_RECV_PEEK, 0, NULL, &r));
	EXPECT_EQ(PIN | POUT, kdbus_poll(rx.fd, ev, 0));
	EXPECT_EQ(1, recv_cookie(&rx, 0, 0));
	EXPECT_EQ(PIN | POUT, kdbus_poll(rx.fd, ev, 0));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, KDBUS_RECV_DROP, 0, NULL, &r));
	EXPECT_EQ(POUT, kdbus_poll(rx.fd, ev, 0));
	kdbus_conn_close(&rx);
}

struct delayed_send {
	int fd;
	uint64_t dst;
	int ret;
};

static void *delayed_send_fn(void *arg)
{
	struct delayed_send *d = arg;

	usleep(200 * 1000);
	d->ret = send_cp(d->fd, d->dst, 77, 0);
	return NULL;
}

TEST_F(recv, poll_woken_by_enqueue)
{
	struct kdbus_conn rx;
	struct delayed_send d;
	pthread_t th;
	int rev;

	ASSERT_EQ(0, open_rx(&rx, self->path, 0, BIG));
	d.fd = self->a.fd;
	d.dst = rx.id;
	d.ret = -1;
	ASSERT_EQ(0, pthread_create(&th, NULL, delayed_send_fn, &d));
	rev = kdbus_poll(rx.fd, POLLIN, 10000);
	pthread_join(th, NULL);
	EXPECT_EQ(0, d.ret);
	EXPECT_EQ(POLLIN, rev);
	EXPECT_EQ(77, recv_cookie(&rx, 0, 0));
	kdbus_conn_close(&rx);
}

/* ------------------------------------------------------------ BYEBYE */

TEST_F(recv, byebye_with_queued_message_ebusy)
{
	struct kdbus_conn rx;
	struct kdbus_cmd_recv r;

	ASSERT_EQ(0, open_rx(&rx, self->path, 0, BIG));
	ASSERT_EQ(0, send_cp(self->a.fd, rx.id, 1, 0));
	EXPECT_EQ(-EBUSY, kdbus_byebye(rx.fd));
	/* No side effect: still connected, still reachable, message intact. */
	EXPECT_EQ(0, send_cp(self->a.fd, rx.id, 2, 0));
	EXPECT_EQ(1, recv_cookie(&rx, 0, 0));
	EXPECT_EQ(-EBUSY, kdbus_byebye(rx.fd));
	/* Received but not freed does not count. */
	ASSERT_EQ(0, kdbus_msg_recv(&rx, 0, 0, NULL, &r));
	EXPECT_EQ(0, kdbus_byebye(rx.fd));
	EXPECT_EQ(-ENXIO, send_cp(self->a.fd, rx.id, 3, 0));
	kdbus_conn_close(&rx);
}

TEST_F(recv, byebye_with_peeked_message_ebusy)
{
	struct kdbus_conn rx;
	struct kdbus_cmd_recv r;

	ASSERT_EQ(0, open_rx(&rx, self->path, 0, BIG));
	ASSERT_EQ(0, send_cp(self->a.fd, rx.id, 1, 0));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, KDBUS_RECV_PEEK, 0, NULL, &r));
	EXPECT_EQ(-EBUSY, kdbus_byebye(rx.fd));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, KDBUS_RECV_DROP, 0, NULL, &r));
	EXPECT_EQ(0, kdbus_byebye(rx.fd));
	kdbus_conn_close(&rx);
}

TEST_HARNESS_MAIN
