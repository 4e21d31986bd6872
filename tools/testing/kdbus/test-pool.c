// SPDX-License-Identifier: GPL-2.0
/*
 * The receive pool (connection-pool.md §3.4, §3.8, §9, §10, §11, abi.md §1,
 * §7.5, checklist §15 "Pool", "FREE", "poll"): pool-size rules, the
 * read-only mapping, slice offsets, KDBUS_CMD_FREE, EXFULL and coalescing
 * (driven by the caller's own CONN_INFO / LIST answers), poll states and
 * read()/write(). Also, with SEND/RECV: reading pages nobody wrote
 * allocates nothing and a message later written there shows through the
 * mappings that read them, and a bounded stress of concurrent first writes
 * and first read faults of fresh pages (checksummed messages), and the
 * message path allocating nothing once warm (failslab).
 *
 * Not covered here (they need SEND/RECV): payload placement, receiver
 * quotas (ENOBUFS, 256 messages, 16 fds, per-user share), dropped
 * broadcasts and dropped_msgs, FREE of received / peeked messages, EXFULL
 * for senders, and poll's POLLIN transitions / wake-up on message arrival.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

#define POOL	KDBUS_TEST_POOL_SIZE

FIXTURE(pool) {
	struct kdbus_domain d;
	char bus[64];
	char path[256];		/* <root>/<bus>/bus */
	int owner;
};

FIXTURE_SETUP(pool)
{
	ASSERT_EQ(0, kdbus_domain_init(&self->d));
	self->owner = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "p", self->bus);
	ASSERT_LE(0, self->owner);
	kdbus_path(self->path, sizeof(self->path), self->d.root, "%s/bus", self->bus);
}

FIXTURE_TEARDOWN(pool)
{
	if (self->owner >= 0)
		close(self->owner);
	kdbus_domain_fini(&self->d);
}

static int open_path(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* mmap() returning 0 or -errno; the mapping goes to *@out if non-NULL,
 * else it is unmapped again. */
static int try_map(int fd, size_t len, int prot, int flags, off_t off, void **out)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);

	if (p == MAP_FAILED)
		return -errno;
	if (out)
		*out = p;
	else
		munmap(p, len);
	return 0;
}

/* CONN_INFO about oneself with @attach; returns the answer's offset
 * (>= 0) or -errno; *@size gets the slice size. */
static int64_t own_info(struct kdbus_conn *c, uint64_t attach, uint64_t *size)
{
	struct kdbus_info *info;
	int ret = kdbus_conn_info(c->fd, c->pool, c->id, NULL, attach, &info, size);

	return ret < 0 ? ret : (int64_t)((uint8_t *)info - c->pool);
}

/* Allocate 24-byte answers until EXFULL; offsets to @offs. Returns the
 * count or -errno for any other error. */
static int fill_pool(struct kdbus_conn *c, uint64_t *offs, int max)
{
	int n = 0;

	for (;;) {
		int64_t off = own_info(c, 0, NULL);

		if (off == -EXFULL)
			return n;
		if (off < 0)
			return off;
		if (n == max)
			return -ENOSPC;
		offs[n++] = off;
	}
}

/* ------------------------------------------------------------ pool size */

TEST_F(pool, pool_size_zero_einval)
{
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, kdbus_hello(fd, 0, 0, 0, 0, NULL));
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);
}

TEST_F(pool, pool_size_not_page_multiple_einval)
{
	static const uint64_t bad[] = {
		1, 8, POOL / 2, POOL - 8, POOL + 8, POOL + POOL / 2, 3 * POOL - 1,
		(1ULL << 32) + 8,
	};
	size_t i;
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, kdbus_hello(fd, 0, 0, 0, bad[i], NULL))
			TH_LOG("pool_size %llu", (unsigned long long)bad[i]);
	}
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, 3 * POOL, NULL));
	close(fd);
}

TEST_F(pool, pool_size_any_page_multiple_ok)
{
	static const uint64_t good[] = { POOL, 2 * POOL, 3 * POOL, 1 << 20, 16 << 20 };
	struct kdbus_conn c;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, good[i]))
			TH_LOG("pool_size %llu", (unsigned long long)good[i]);
		EXPECT_EQ(good[i], c.hello.pool_size);
		/* The empty sentinel is the pool size. */
		EXPECT_EQ(0, kdbus_free(c.fd, good[i]));
		kdbus_conn_close(&c);
	}
}

TEST_F(pool, pool_size_absurd_enomem)
{
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	/* 1 PiB cannot be charged against the overcommit policy. */
	EXPECT_EQ(-ENOMEM, kdbus_hello(fd, 0, 0, 0, 1ULL << 50, NULL));
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);
}

/* ------------------------------------------------------------- mapping */

TEST_F(pool, hello_slice_at_offset_zero_and_reused)
{
	struct kdbus_conn c;
	struct kdbus_item *item;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	EXPECT_EQ(0, c.hello.offset);
	EXPECT_EQ(32, c.hello.items_size);
	item = (struct kdbus_item *)c.pool;
	EXPECT_EQ(32, item->size);
	EXPECT_EQ(KDBUS_ITEM_BLOOM_PARAMETER, item->type);
	EXPECT_EQ(64, item->bloom_parameter.size);
	EXPECT_EQ(1, item->bloom_parameter.n_hash);
	/* The next answer lands where the freed slice was. */
	ASSERT_EQ(0, kdbus_free(c.fd, 0));
	EXPECT_EQ(0, own_info(&c, 0, NULL));
	EXPECT_EQ(c.id, ((struct kdbus_info *)c.pool)->id);
	kdbus_conn_close(&c);
}

TEST_F(pool, mmap_shared_read_full_pool_ok)
{
	void *p = NULL;
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kdbus_hello(fd, 0, 0, 0, 4 * POOL, NULL));
	ASSERT_EQ(0, try_map(fd, 4 * POOL, PROT_READ, MAP_SHARED, 0, &p));
	EXPECT_EQ(KDBUS_ITEM_BLOOM_PARAMETER, ((struct kdbus_item *)p)->type);
	/* Smaller mappings are fine too. */
	EXPECT_EQ(0, try_map(fd, POOL, PROT_READ, MAP_SHARED, 0, NULL));
	EXPECT_EQ(0, try_map(fd, 100, PROT_READ, MAP_SHARED, 0, NULL));
	munmap(p, 4 * POOL);
	close(fd);
}

TEST_F(pool, mmap_private_ok_and_shows_later_answers)
{
	struct kdbus_conn c;
	uint8_t *priv = NULL;
	int64_t off;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	ASSERT_EQ(0, try_map(c.fd, POOL, PROT_READ, MAP_PRIVATE, 0, (void **)&priv));
	/* Fault the page in before the kernel writes to it. */
	EXPECT_EQ(KDBUS_ITEM_BLOOM_PARAMETER, ((struct kdbus_item *)priv)->type);
	off = own_info(&c, 0, NULL);
	ASSERT_LE(0, off);
	EXPECT_EQ(c.id, ((struct kdbus_info *)(priv + off))->id);
	EXPECT_EQ(0, memcmp(priv, c.pool, POOL));
	munmap(priv, POOL);
	kdbus_conn_close(&c);
}

TEST_F(pool, mmap_with_write_eperm)
{
	static const struct {
		int prot, flags;
	} cases[] = {
		{ PROT_WRITE, MAP_SHARED },
		{ PROT_READ | PROT_WRITE, MAP_SHARED },
		{ PROT_WRITE, MAP_PRIVATE },
		{ PROT_READ | PROT_WRITE, MAP_PRIVATE },
		{ PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED },
	};
	struct kdbus_conn c;
	size_t i;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EXPECT_EQ(-EPERM, try_map(c.fd, POOL, cases[i].prot, cases[i].flags, 0, NULL))
			TH_LOG("case %zu", i);
	}
	kdbus_conn_close(&c);
}

TEST_F(pool, mprotect_to_write_eacces)
{
	struct kdbus_conn c;
	void *p = NULL;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	EXPECT_EQ(-1, mprotect(c.pool, POOL, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	ASSERT_EQ(0, try_map(c.fd, POOL, PROT_READ, MAP_PRIVATE, 0, &p));
	EXPECT_EQ(-1, mprotect(p, POOL, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	EXPECT_EQ(-1, mprotect(p, POOL, PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	munmap(p, POOL);
	kdbus_conn_close(&c);
}

TEST_F(pool, mmap_longer_than_pool_efault)
{
	struct kdbus_conn c;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, 2 * POOL));
	EXPECT_EQ(-EFAULT, try_map(c.fd, 2 * POOL + 1, PROT_READ, MAP_SHARED, 0, NULL));
	EXPECT_EQ(-EFAULT, try_map(c.fd, 3 * POOL, PROT_READ, MAP_SHARED, 0, NULL));
	EXPECT_EQ(-EFAULT, try_map(c.fd, 64 * POOL, PROT_READ, MAP_PRIVATE, 0, NULL));
	EXPECT_EQ(0, try_map(c.fd, 2 * POOL, PROT_READ, MAP_SHARED, 0, NULL));
	kdbus_conn_close(&c);
}

TEST_F(pool, mmap_without_connection_ebadfd)
{
	char ep[64];
	int fds[4], i;

	fds[0] = open_path(self->path);			/* untyped */
	fds[1] = kdbus_open_control(self->d.root);	/* untyped control */
	fds[2] = self->owner;				/* bus owner */
	fds[3] = kdbus_open_bus(self->d.root, self->bus);	/* endpoint owner */
	for (i = 0; i < 4; i++)
		ASSERT_LE(0, fds[i]);
	kdbus_domain_name(&self->d, ep, sizeof(ep), "ep");
	ASSERT_EQ(0, kdbus_ep_make(fds[3], KDBUS_MAKE_ACCESS_WORLD, ep));
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(-EBADFD, try_map(fds[i], POOL, PROT_READ, MAP_SHARED, 0, NULL))
			TH_LOG("fd %d", i);
	}
	close(fds[0]);
	close(fds[1]);
	close(fds[3]);
}

TEST_F(pool, partial_mapping_shows_same_bytes)
{
	static uint64_t offs[3 * POOL / 8];
	struct kdbus_conn c;
	uint8_t *part = NULL;
	int n;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, 3 * POOL));
	n = fill_pool(&c, offs, sizeof(offs) / sizeof(offs[0]));
	ASSERT_LT(POOL * 2 / 24, n);
	ASSERT_EQ(0, try_map(c.fd, POOL, PROT_READ, MAP_SHARED, POOL, (void **)&part));
	EXPECT_EQ(0, memcmp(part, c.pool + POOL, POOL));
	munmap(part, POOL);
	ASSERT_EQ(0, try_map(c.fd, 2 * POOL, PROT_READ, MAP_PRIVATE, POOL, (void **)&part));
	EXPECT_EQ(0, memcmp(part, c.pool + POOL, 2 * POOL));
	munmap(part, 2 * POOL);
	kdbus_conn_close(&c);
}

TEST_F(pool, mapping_stays_readable_after_close)
{
	struct kdbus_conn c;
	struct kdbus_item *item;
	uint8_t *pool;
	int64_t off;
	uint64_t id;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	off = own_info(&c, 0, NULL);
	ASSERT_LE(0, off);
	pool = c.pool;
	id = c.id;
	close(c.fd);		/* keep the mapping */
	item = (struct kdbus_item *)pool;
	EXPECT_EQ(KDBUS_ITEM_BLOOM_PARAMETER, item->type);
	EXPECT_EQ(id, ((struct kdbus_info *)(pool + off))->id);
	munmap(pool, POOL);
}

/* The mapping's name in /proc/<pid>/maps may differ from the reference's
 * kdbus-conn (spec README, decision 7), so it is not tested. */

/* ------------------------------------------------------------- offsets */

struct slice {
	uint64_t off, size;
};

TEST_F(pool, offsets_aligned_inside_pool_and_disjoint)
{
	struct kdbus_conn c, peer[4];
	struct kdbus_builder b;
	struct kdbus_info *info;
	struct slice s[64];
	static const char *const descs[] = { "a", "abcdefghi", "x.y-z", "p_0123456789abcdef" };
	int n = 0, i, j, k;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, 2 * POOL));
	s[n].off = c.hello.offset;
	s[n++].size = c.hello.items_size;
	for (i = 0; i < 4; i++) {
		kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
		kdbus_b_str(&b, KDBUS_ITEM_CONN_DESCRIPTION, descs[i]);
		ASSERT_EQ(0, kdbus_conn_open_b(&peer[i], self->path, &b, 0, _KDBUS_ATTACH_ALL, 0,
					       POOL));
	}
	for (k = 0; k < 3; k++) {
		for (i = 0; i < 4; i++) {
			uint64_t attach = k == 0 ? 0 : k == 1 ? KDBUS_ATTACH_CONN_DESCRIPTION :
					  _KDBUS_ATTACH_ALL;

			ASSERT_EQ(0, kdbus_conn_info(c.fd, c.pool, peer[i].id, NULL, attach,
						     &info, &s[n].size));
			s[n++].off = (uint8_t *)info - c.pool;
		}
		ASSERT_EQ(0, kdbus_list(c.fd, KDBUS_LIST_UNIQUE, &s[n].off, &s[n].size));
		n++;
		ASSERT_EQ(0, kdbus_bus_creator_info(c.fd, c.pool, _KDBUS_ATTACH_ALL, &info,
						    &s[n].size));
		s[n++].off = (uint8_t *)info - c.pool;
		/* Free a few, so that later answers reuse holes. */
		if (k == 1) {
			EXPECT_EQ(0, kdbus_free(c.fd, s[2].off));
			s[2].size = 0;
			EXPECT_EQ(0, kdbus_free(c.fd, s[4].off));
			s[4].size = 0;
		}
	}
	for (i = 0; i < n; i++) {
		if (!s[i].size)
			continue;
		EXPECT_EQ(0, s[i].off % 8) TH_LOG("slice %d", i);
		EXPECT_EQ(0, s[i].size % 8) TH_LOG("slice %d", i);
		EXPECT_LE(s[i].off + s[i].size, 2 * POOL) TH_LOG("slice %d", i);
		for (j = 0; j < i; j++) {
			if (!s[j].size)
				continue;
			EXPECT_TRUE(s[i].off + s[i].size <= s[j].off ||
				    s[j].off + s[j].size <= s[i].off)
				TH_LOG("slices %d and %d overlap", i, j);
		}
	}
	for (i = 0; i < 4; i++)
		kdbus_conn_close(&peer[i]);
	kdbus_conn_close(&c);
}

/* ------------------------------------------------------------------ FREE */

TEST_F(pool, free_twice_enxio)
{
	struct kdbus_conn c;
	int64_t off;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	off = own_info(&c, 0, NULL);
	ASSERT_LE(0, off);
	EXPECT_EQ(0, kdbus_free(c.fd, off));
	EXPECT_EQ(-ENXIO, kdbus_free(c.fd, off));
	kdbus_conn_close(&c);
}

TEST_F(pool, free_of_offset_never_returned_enxio)
{
	static const uint64_t bad[] = { 8, 16, 3, 1000, 2048, POOL - 8, POOL + 8, 2 * POOL,
					1ULL << 40, ~0ULL };
	struct kdbus_conn c;
	size_t i;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-ENXIO, kdbus_free(c.fd, bad[i]))
			TH_LOG("offset %llu", (unsigned long long)bad[i]);
	}
	/* The free space right after the HELLO slice starts a free slice. */
	EXPECT_EQ(-ENXIO, kdbus_free(c.fd, c.hello.offset + c.hello.items_size));
	/* Nothing was disturbed. */
	EXPECT_EQ(0, kdbus_free(c.fd, c.hello.offset));
	kdbus_conn_close(&c);
}

TEST_F(pool, free_inside_a_slice_enxio)
{
	struct kdbus_conn c;
	uint64_t size;
	int64_t off;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	off = own_info(&c, _KDBUS_ATTACH_ALL, &size);
	ASSERT_LE(0, off);
	ASSERT_LE(24, size);
	EXPECT_EQ(-ENXIO, kdbus_free(c.fd, off + 8));
	EXPECT_EQ(-ENXIO, kdbus_free(c.fd, off + size - 8));
	EXPECT_EQ(-ENXIO, kdbus_free(c.fd, c.hello.offset + 16));
	EXPECT_EQ(0, kdbus_free(c.fd, off));
	kdbus_conn_close(&c);
}

TEST_F(pool, free_of_empty_sentinel_ok)
{
	struct kdbus_conn c;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, 2 * POOL));
	EXPECT_EQ(0, kdbus_free(c.fd, 2 * POOL));
	EXPECT_EQ(0, kdbus_free(c.fd, 2 * POOL));
	/* One page in is not the sentinel of a two-page pool. */
	EXPECT_EQ(-ENXIO, kdbus_free(c.fd, POOL));
	kdbus_conn_close(&c);
}

TEST_F(pool, free_unknown_flag_or_item_einval)
{
	static const uint64_t probe[] = { KDBUS_ITEM_NEGOTIATE, KDBUS_ITEM_NAME };
	struct kdbus_conn c;
	struct kdbus_builder b;
	struct kdbus_cmd_free *cmd;
	__u64 *payload;
	int64_t off;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	off = own_info(&c, 0, NULL);
	ASSERT_LE(0, off);

	kdbus_b_init(&b, sizeof(*cmd));
	cmd = kdbus_b_cmd(&b);
	cmd->offset = off;
	cmd->flags = 1;
	EXPECT_EQ(-EINVAL, kdbus_ioctl(c.fd, KDBUS_CMD_FREE, cmd));
	cmd->flags = KDBUS_FLAG_NEGOTIATE | 2;
	EXPECT_EQ(-EINVAL, kdbus_ioctl(c.fd, KDBUS_CMD_FREE, cmd));
	cmd->flags = 0;
	cmd->size = 24;
	EXPECT_EQ(-EINVAL, kdbus_ioctl(c.fd, KDBUS_CMD_FREE, cmd));

	kdbus_b_init(&b, sizeof(*cmd));
	kdbus_b_str(&b, KDBUS_ITEM_NAME, "org.kdbus.t.x");
	cmd = kdbus_b_cmd(&b);
	cmd->offset = off;
	EXPECT_EQ(-EINVAL, kdbus_ioctl(c.fd, KDBUS_CMD_FREE, cmd));
	kdbus_b_init(&b, sizeof(*cmd));
	kdbus_b_u64(&b, KDBUS_ITEM_ID, c.id);
	cmd = kdbus_b_cmd(&b);
	cmd->offset = off;
	EXPECT_EQ(-EINVAL, kdbus_ioctl(c.fd, KDBUS_CMD_FREE, cmd));

	/* A NEGOTIATE item is accepted and the slice is freed. */
	kdbus_b_init(&b, sizeof(*cmd));
	kdbus_b_negotiate(&b, probe, 2);
	cmd = kdbus_b_cmd(&b);
	cmd->offset = off;
	EXPECT_EQ(0, kdbus_ioctl(c.fd, KDBUS_CMD_FREE, cmd));
	payload = cmd->items[0].data64;
	EXPECT_EQ(0, payload[1]);
	EXPECT_EQ(-ENXIO, kdbus_free(c.fd, off));
	kdbus_conn_close(&c);
}

TEST_F(pool, free_negotiate_frees_nothing)
{
	struct kdbus_conn c;
	struct kdbus_cmd_free cmd;
	int64_t off;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	off = own_info(&c, 0, NULL);
	ASSERT_LE(0, off);
	memset(&cmd, 0, sizeof(cmd));
	cmd.size = sizeof(cmd);
	cmd.flags = KDBUS_FLAG_NEGOTIATE;
	cmd.offset = off;
	EXPECT_EQ(0, kdbus_ioctl(c.fd, KDBUS_CMD_FREE, &cmd));
	EXPECT_EQ(0, cmd.flags);
	EXPECT_EQ(0, kdbus_free(c.fd, off));
	kdbus_conn_close(&c);
}

/* ---------------------------------------------------- exhaustion, reuse */

TEST_F(pool, conn_info_exfull_when_full_then_ok_after_free)
{
	static uint64_t offs[POOL / 8];
	struct kdbus_conn c;
	int64_t off;
	int n;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	n = fill_pool(&c, offs, sizeof(offs) / sizeof(offs[0]));
	/* 32 bytes of HELLO slice + 24-byte answers, no half-pool limit. */
	EXPECT_EQ((POOL - 32) / 24, n);
	ASSERT_LT(POOL / 2 / 24, n);
	EXPECT_EQ(-EXFULL, own_info(&c, 0, NULL));
	EXPECT_EQ(-EXFULL, own_info(&c, _KDBUS_ATTACH_ALL, NULL));
	ASSERT_EQ(0, kdbus_free(c.fd, offs[7]));
	off = own_info(&c, 0, NULL);
	EXPECT_EQ(offs[7], off);
	EXPECT_EQ(-EXFULL, own_info(&c, 0, NULL));
	kdbus_conn_close(&c);
}

TEST_F(pool, bus_creator_info_exfull_when_full)
{
	static uint64_t offs[POOL / 8];
	struct kdbus_conn c;
	struct kdbus_info *info;
	int n;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	n = fill_pool(&c, offs, sizeof(offs) / sizeof(offs[0]));
	ASSERT_LT(0, n);
	EXPECT_EQ(-EXFULL, kdbus_bus_creator_info(c.fd, c.pool, 0, &info, NULL));
	/* Two neighbouring holes merge into one that fits. */
	ASSERT_EQ(0, kdbus_free(c.fd, offs[3]));
	ASSERT_EQ(0, kdbus_free(c.fd, offs[4]));
	ASSERT_EQ(0, kdbus_free(c.fd, offs[5]));
	EXPECT_EQ(0, kdbus_bus_creator_info(c.fd, c.pool, 0, &info, NULL));
	EXPECT_EQ(offs[3], (uint8_t *)info - c.pool);
	kdbus_conn_close(&c);
}

TEST_F(pool, freed_slices_coalesce_in_any_order)
{
	static uint64_t offs[POOL / 8];
	struct kdbus_conn c;
	unsigned int seed = 12345;
	int n1, n2, i, round;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	n1 = fill_pool(&c, offs, sizeof(offs) / sizeof(offs[0]));
	ASSERT_LT(0, n1);
	/* The HELLO slice joins the free-for-all. */
	offs[n1++] = c.hello.offset;
	for (round = 0; round < 4; round++) {
		/* Free everything in a random order. */
		for (i = n1 - 1; i > 0; i--) {
			int j = rand_r(&seed) % (i + 1);
			uint64_t t = offs[i];

			offs[i] = offs[j];
			offs[j] = t;
		}
		for (i = 0; i < n1; i++)
			ASSERT_EQ(0, kdbus_free(c.fd, offs[i])) TH_LOG("round %d slice %d", round, i);
		/* One free slice again: the pool refills from offset 0 with
		 * as many answers as fit into the whole pool. */
		n2 = fill_pool(&c, offs, sizeof(offs) / sizeof(offs[0]));
		EXPECT_EQ(POOL / 24, n2) TH_LOG("round %d", round);
		EXPECT_EQ(0, offs[0]) TH_LOG("round %d", round);
		n1 = n2;
	}
	kdbus_conn_close(&c);
}

/* --------------------------------------------------- untouched pages */

#define EMPTY_POOLS	8
#define EMPTY_POOL_SIZE	(16 << 20)
#define BIG_VEC		(2 << 20)	/* the largest vector sum of a message */

/* Compares the payload stream of message @m (read through whatever
 * mapping @m points into) with @want (@len bytes; @scratch holds as
 * many): 0 when equal, else the first differing offset + 1, -EMSGSIZE for
 * another length, or -errno from kdbus_msg_payload(). */
static long long payload_diff(struct kdbus_msg *m, uint64_t msg_size, const uint8_t *want,
			      size_t len, uint8_t *scratch)
{
	ssize_t n = kdbus_msg_payload(m, msg_size, scratch, len);
	size_t i;

	if (n < 0)
		return n;
	if ((size_t)n != len)
		return -EMSGSIZE;
	for (i = 0; i < len; i++)
		if (scratch[i] != want[i])
			return i + 1;
	return 0;
}

/*
 * Reading a pool that nobody wrote allocates no memory (pool.rst: a
 * read fault on a page the kernel never wrote maps a zero page), it reads
 * zeros, and a message written later into such a page shows up through
 * the very mappings (shared and private) that read the zero page before.
 */
TEST_F_TIMEOUT(pool, reading_untouched_pages_allocates_nothing_and_sees_later_writes, 300)
{
	static struct kdbus_conn c[EMPTY_POOLS];
	const size_t pages = EMPTY_POOL_SIZE / POOL;
	struct kdbus_conn tx;
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	long long before, after, avail_before, avail_after;
	uint64_t nonzero = 0, sizes[3] = { 100, BIG_VEC, BIG_VEC - 4096 - 13 };
	uint8_t *want, *scratch, *priv = NULL;
	size_t i, p;
	int k;

	want = malloc(BIG_VEC + 8);	/* message k starts at want + k */
	scratch = malloc(BIG_VEC);
	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, scratch);
	/* Touch our own buffers now, not during the measurement. */
	memset(scratch, 0, BIG_VEC);
	kdbus_fill_pattern(want, BIG_VEC + 8, 6);
	ASSERT_EQ(0, kdbus_conn_open(&tx, self->path, 0, POOL));
	for (i = 0; i < EMPTY_POOLS; i++)
		ASSERT_EQ(0, kdbus_conn_open(&c[i], self->path, 0, EMPTY_POOL_SIZE)) TH_LOG("conn %zu", i);
	/* A private mapping of the receiver, read before the writes too. */
	ASSERT_EQ(0, try_map(c[3].fd, EMPTY_POOL_SIZE, PROT_READ, MAP_PRIVATE, 0, (void **)&priv));

	before = kdbus_meminfo_kb("MemFree");
	avail_before = kdbus_meminfo_kb("MemAvailable");
	ASSERT_LT(0, before);
	ASSERT_LT(0, avail_before);
	/* One byte of every page; page 0 holds the 32-byte HELLO slice. */
	for (i = 0; i < EMPTY_POOLS; i++)
		for (p = 0; p < pages; p++)
			nonzero += ((volatile uint8_t *)c[i].pool)[p * POOL + POOL / 2] != 0;
	for (p = 0; p < pages; p++)
		nonzero += ((volatile uint8_t *)priv)[p * POOL + POOL / 2] != 0;
	after = kdbus_meminfo_kb("MemFree");
	avail_after = kdbus_meminfo_kb("MemAvailable");
	EXPECT_EQ(0, nonzero);
	/* The old module allocated all 8 * 16 MiB here. */
	EXPECT_LT(before - after, 16 << 10)
		TH_LOG("MemFree dropped by %lld kB reading %d empty 16 MiB pools",
		       before - after, EMPTY_POOLS);
	EXPECT_LT(avail_before - avail_after, 16 << 10)
		TH_LOG("MemAvailable dropped by %lld kB", avail_before - avail_after);

	/*
	 * Messages into pages that were read as zeros: a small one right
	 * behind the HELLO slice, then two of 2 MiB (received, not freed, so
	 * the third lands some 2 MiB into the pool), all checked through the
	 * mapping that read those pages before they were written.
	 */
	for (k = 0; k < 3; k++) {
		struct kdbus_test_vec v = { want + k, sizes[k] };
		uint64_t off;

		ASSERT_EQ(0, kdbus_msg_send(tx.fd, c[3].id, 0, 0, k + 1, &v, 1)) TH_LOG("msg %d", k);
		ASSERT_EQ(0, kdbus_msg_recv(&c[3], 0, 0, &m, &r)) TH_LOG("msg %d", k);
		ASSERT_NE(NULL, m);
		off = r.msg.offset;
		EXPECT_EQ(k + 1, m->cookie);
		EXPECT_EQ(tx.id, m->src_id);
		EXPECT_EQ(0, payload_diff(m, r.msg.msg_size, want + k, sizes[k], scratch))
			TH_LOG("msg %d at pool offset %llu, size %llu", k,
			       (unsigned long long)off, (unsigned long long)r.msg.msg_size);
		m = (struct kdbus_msg *)(priv + off);
		EXPECT_EQ(0, payload_diff(m, r.msg.msg_size, want + k, sizes[k], scratch))
			TH_LOG("msg %d through the private mapping", k);
		if (k == 2)
			EXPECT_LT(BIG_VEC, off) TH_LOG("msg 2 at %llu", (unsigned long long)off);
	}
	/* The other pools still read zeros. */
	nonzero = 0;
	for (i = 0; i < EMPTY_POOLS; i++) {
		if (i == 3)
			continue;
		for (p = 0; p < pages; p++)
			nonzero += ((volatile uint8_t *)c[i].pool)[p * POOL + POOL / 2] != 0;
	}
	EXPECT_EQ(0, nonzero);
	munmap(priv, EMPTY_POOL_SIZE);
	for (i = 0; i < EMPTY_POOLS; i++)
		kdbus_conn_close(&c[i]);
	kdbus_conn_close(&tx);
	free(want);
	free(scratch);
}

/* ------------------------------------------------ fresh pages, concurrently */

/*
 * Stress (bounded: RACE_SECS or RACE_ROUNDS rounds): two senders write
 * messages of varied sizes into a fresh 16 MiB pool while the receiver
 * reads them and a fourth thread reads pages just ahead of the last
 * received slice, so that first writes and first read faults of the same
 * page happen at the same time. Each round uses a new receiver whose
 * slices are received but not freed, so every write goes to pages never
 * written before. Every message carries its length, sequence number and
 * a checksum, verified at RECV. A lost page shows as a bad checksum, a
 * freed one as a KASAN report in the kernel log (which fails the VM run),
 * a page stored before the zero page was taken out of the receiver's
 * mapping as a message that reads as zeros at RECV and right a moment
 * later ("length 0 ... length now N"). A failure report says whether a
 * fresh mapping shows other bytes (a stale mapping) or the same.
 */
#define RACE_POOL	(16 << 20)
#define RACE_MAX	(40 << 10)	/* largest payload after the header */
#define RACE_SECS	6
#define RACE_ROUNDS	8
#define RACE_MAGIC	0x6b646275

struct race_hdr {
	uint32_t magic;
	uint32_t sender;
	uint64_t seq;
	uint64_t len;		/* payload bytes after the header */
	uint64_t sum;		/* kdbus_csum() of them */
};

struct race {
	const char *path;
	uint64_t deadline;
	pthread_barrier_t start, end;
	bool stop;			/* set before the start barrier */
	struct kdbus_conn rx;		/* this round's receiver */
	int senders_done;		/* atomic */
	int reader_done;		/* atomic */
	uint64_t front;			/* atomic: end of the last received slice */
	uint64_t written;		/* atomic: about where the senders write */
	pthread_mutex_t lock;
	int err;			/* first error, under lock */
	char why[400];
	uint64_t msgs, bytes, touches;
};

struct race_sender {
	struct race *r;
	uint32_t id;
	struct kdbus_conn c;
	uint8_t *buf;
};

static void race_fail(struct race *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void race_fail(struct race *r, int err, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&r->lock);
	if (!r->err) {
		r->err = err ? err : -EIO;
		va_start(ap, fmt);
		vsnprintf(r->why, sizeof(r->why), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&r->lock);
}

static bool race_failed(struct race *r)
{
	bool failed;

	pthread_mutex_lock(&r->lock);
	failed = r->err != 0;
	pthread_mutex_unlock(&r->lock);
	return failed;
}

static void *race_send(void *arg)
{
	struct race_sender *s = arg;
	struct race *r = s->r;
	unsigned int seed = 1 + s->id;

	for (;;) {
		uint64_t seq = 0;

		pthread_barrier_wait(&r->start);
		if (r->stop)
			break;
		while (kdbus_now_ns() < r->deadline && !race_failed(r)) {
			struct race_hdr *h = (struct race_hdr *)s->buf;
			struct kdbus_test_vec v;
			uint64_t slice;
			int ret;

			/* Mostly sizes that span pages, some small ones. */
			h->len = rand_r(&seed) % 4 ? 1 + rand_r(&seed) % RACE_MAX :
						     1 + rand_r(&seed) % 200;
			h->magic = RACE_MAGIC;
			h->sender = s->id;
			h->seq = seq;
			kdbus_fill_pattern(h + 1, h->len, (uint64_t)s->id << 48 | seq);
			h->sum = kdbus_csum(h + 1, h->len);
			v.data = s->buf;
			v.size = sizeof(*h) + h->len;
			/* Slices are allocated back to back (none is freed):
			 * header 64 + one PAYLOAD_OFF item 32 + the payload. */
			slice = 96 + KDBUS_ALIGN8(v.size);
			__atomic_add_fetch(&r->written, slice, __ATOMIC_SEQ_CST);
			ret = kdbus_msg_send(s->c.fd, r->rx.id, 0, 0, seq + 1, &v, 1);
			if (ret < 0)
				__atomic_sub_fetch(&r->written, slice, __ATOMIC_SEQ_CST);
			if (ret == 0) {
				seq++;
			} else if (ret == -ENOBUFS) {
				/* Our share of the queue is full: let the reader catch up. */
				usleep(200);
			} else if (ret == -EXFULL) {
				break;	/* the pool is used up: the round is over */
			} else {
				race_fail(r, ret, "sender %u: SEND of seq %llu", s->id,
					  (unsigned long long)seq);
				break;
			}
		}
		__atomic_add_fetch(&r->senders_done, 1, __ATOMIC_SEQ_CST);
		pthread_barrier_wait(&r->end);
	}
	return NULL;
}

/* For a failure report: whether a fresh mapping of the pool shows other
 * bytes at [off, off + len) than the receiver's mapping (a stale page
 * table entry) or the same (the kernel wrote wrong bytes). */
static const char *race_which(struct race *r, uint64_t off, uint64_t len)
{
	uint8_t *fresh = mmap(NULL, RACE_POOL, PROT_READ, MAP_SHARED, r->rx.fd, 0);
	const char *what;

	if (fresh == MAP_FAILED)
		return "fresh mapping failed";
	if (off > RACE_POOL || len > RACE_POOL - off)
		what = "out of the pool";
	else if (memcmp(fresh + off, (uint8_t *)r->rx.pool + off, len))
		what = "a fresh mapping shows other bytes: stale mapping";
	else
		what = "a fresh mapping shows the same bytes";
	munmap(fresh, RACE_POOL);
	return what;
}

/* Receive and check one message: 1 if one was received, 0 if the queue
 * was empty, -1 on a failure (recorded). */
static int race_recv_one(struct race *r, uint64_t *next, uint8_t *buf)
{
	struct kdbus_cmd_recv cr;
	struct kdbus_msg *m;
	struct race_hdr *h = (struct race_hdr *)buf;
	ssize_t n;
	int ret = kdbus_msg_recv(&r->rx, 0, 0, &m, &cr);

	if (ret == -EAGAIN)
		return 0;
	if (ret < 0 || !m) {
		race_fail(r, ret, "RECV");
		return -1;
	}
	__atomic_store_n(&r->front, cr.msg.offset + cr.msg.msg_size, __ATOMIC_SEQ_CST);
	n = kdbus_msg_payload(m, cr.msg.msg_size, buf, sizeof(*h) + RACE_MAX);
	if (n < (ssize_t)sizeof(*h) || h->magic != RACE_MAGIC || h->sender > 1 ||
	    h->len > RACE_MAX || (size_t)n != sizeof(*h) + h->len) {
		race_fail(r, -EBADMSG,
			  "message at %llu (size %llu, slice %llu, first item type %llu size %llu: %llu at %llu): length %zd, bad header, length now %zd; %s",
			  (unsigned long long)cr.msg.offset, (unsigned long long)m->size,
			  (unsigned long long)cr.msg.msg_size,
			  (unsigned long long)m->items[0].type, (unsigned long long)m->items[0].size,
			  (unsigned long long)m->items[0].vec.size, (unsigned long long)m->items[0].vec.offset,
			  n, kdbus_msg_payload(m, cr.msg.msg_size, NULL, 0),
			  race_which(r, cr.msg.offset, cr.msg.msg_size));
		return -1;
	}
	if (h->seq != next[h->sender] || m->cookie != h->seq + 1) {
		race_fail(r, -EBADMSG, "sender %u: seq %llu, expected %llu",
			  h->sender, (unsigned long long)h->seq,
			  (unsigned long long)next[h->sender]);
		return -1;
	}
	if (kdbus_csum(h + 1, h->len) != h->sum) {
		race_fail(r, -EBADMSG,
			  "sender %u seq %llu: bad checksum (%llu bytes at pool offset %llu); %s",
			  h->sender, (unsigned long long)h->seq, (unsigned long long)h->len,
			  (unsigned long long)cr.msg.offset,
			  race_which(r, cr.msg.offset, cr.msg.msg_size));
		return -1;
	}
	next[h->sender]++;
	r->msgs++;
	r->bytes += h->len;
	/* Not freed: the next slices go to fresh pages. */
	return 1;
}

static void *race_read(void *arg)
{
	struct race *r = arg;
	uint8_t *buf = malloc(sizeof(struct race_hdr) + RACE_MAX);

	for (;;) {
		uint64_t next[2] = { 0, 0 };

		pthread_barrier_wait(&r->start);
		if (r->stop)
			break;
		while (buf) {
			int got = race_recv_one(r, next, buf);

			if (got < 0)
				break;
			if (got)
				continue;
			/* Empty: done once both senders are and the queue
			 * stays empty after that. */
			if (__atomic_load_n(&r->senders_done, __ATOMIC_SEQ_CST) == 2) {
				if (race_recv_one(r, next, buf) == 0)
					break;
				continue;
			}
			kdbus_poll(r->rx.fd, POLLIN, 10);
		}
		if (!buf)
			race_fail(r, -ENOMEM, "reader buffer");
		__atomic_store_n(&r->reader_done, 1, __ATOMIC_SEQ_CST);
		pthread_barrier_wait(&r->end);
	}
	free(buf);
	return NULL;
}

/*
 * Read faults racing the senders' first writes, two ways:
 * - each page once, as soon as it is among the RACE_AHEAD pages behind
 *   the last received slice (pages the senders are writing or about to);
 * - the first page of each RACE_CHUNK-page chunk (whose first store also
 *   allocates page-table nodes of the pool's page array), a random 0-3 ms
 *   after a sender started the SEND that reaches into it (a SEND takes
 *   milliseconds in the test VM), to hit the moment that SEND writes it.
 * A page is faulted again only if a write replaced what the first fault
 * mapped, so once per page is what matters; in between, yield.
 */
#define RACE_AHEAD	32
#define RACE_CHUNK	64

static void *race_touch(void *arg)
{
	struct race *r = arg;
	const uint64_t pages = RACE_POOL / POOL;
	unsigned int seed = 77;

	for (;;) {
		uint64_t next = 0, chunk = RACE_CHUNK;

		pthread_barrier_wait(&r->start);
		if (r->stop)
			break;
		while (!__atomic_load_n(&r->reader_done, __ATOMIC_SEQ_CST)) {
			uint64_t end = __atomic_load_n(&r->front, __ATOMIC_SEQ_CST) / POOL + RACE_AHEAD;
			uint64_t written = __atomic_load_n(&r->written, __ATOMIC_SEQ_CST);
			volatile uint8_t *pool = r->rx.pool;
			bool idle = true;

			if (chunk < pages && written > chunk * POOL) {
				struct timespec ts = { 0, (rand_r(&seed) % 3000) * 1000L };

				nanosleep(&ts, NULL);
				(void)pool[chunk * POOL];
				r->touches++;
				chunk += RACE_CHUNK;
				idle = false;
			}
			if (end > pages)
				end = pages;
			for (; next < end; next++) {
				(void)pool[next * POOL + (next * 64) % POOL];
				r->touches++;
				idle = false;
			}
			if (idle)
				sched_yield();
		}
		pthread_barrier_wait(&r->end);
	}
	return NULL;
}

TEST_F_TIMEOUT(pool, stress_fresh_pages_written_and_faulted_concurrently, 180)
{
	struct race_sender s[2];
	struct race *r = calloc(1, sizeof(*r));
	pthread_t t[4];
	int round, i;

	ASSERT_NE(NULL, r);
	r->path = self->path;
	pthread_mutex_init(&r->lock, NULL);
	ASSERT_EQ(0, pthread_barrier_init(&r->start, NULL, 5));
	ASSERT_EQ(0, pthread_barrier_init(&r->end, NULL, 5));
	for (i = 0; i < 2; i++) {
		s[i].r = r;
		s[i].id = i;
		s[i].buf = malloc(sizeof(struct race_hdr) + RACE_MAX);
		ASSERT_NE(NULL, s[i].buf);
		ASSERT_EQ(0, kdbus_conn_open(&s[i].c, self->path, 0, POOL));
	}
	r->deadline = kdbus_now_ns() + RACE_SECS * 1000000000ULL;
	ASSERT_EQ(0, pthread_create(&t[0], NULL, race_send, &s[0]));
	ASSERT_EQ(0, pthread_create(&t[1], NULL, race_send, &s[1]));
	ASSERT_EQ(0, pthread_create(&t[2], NULL, race_read, r));
	ASSERT_EQ(0, pthread_create(&t[3], NULL, race_touch, r));
	for (round = 0; round < RACE_ROUNDS; round++) {
		if (kdbus_now_ns() >= r->deadline || race_failed(r))
			break;
		/* A fresh receiver: every page of its pool is new. */
		if (kdbus_conn_open(&r->rx, self->path, 0, RACE_POOL) < 0) {
			race_fail(r, -EIO, "receiver of round %d", round);
			break;
		}
		r->senders_done = 0;
		r->reader_done = 0;
		r->front = 0;
		r->written = r->rx.hello.items_size;	/* the HELLO slice at 0 */
		pthread_barrier_wait(&r->start);
		pthread_barrier_wait(&r->end);
		kdbus_conn_close(&r->rx);
	}
	r->stop = true;
	pthread_barrier_wait(&r->start);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	TH_LOG("%d rounds, %llu messages, %llu payload bytes, %llu page touches", round,
	       (unsigned long long)r->msgs, (unsigned long long)r->bytes,
	       (unsigned long long)r->touches);
	EXPECT_EQ(0, r->err) TH_LOG("%s", r->why);
	EXPECT_LT(0, round);
	EXPECT_LT(0, r->msgs);
	for (i = 0; i < 2; i++) {
		kdbus_conn_close(&s[i].c);
		free(s[i].buf);
	}
	pthread_barrier_destroy(&r->start);
	pthread_barrier_destroy(&r->end);
	free(r);
}

/* ------------------------------------------------------------------ poll */

TEST_F(pool, poll_fresh_connection_pollout_only)
{
	struct kdbus_conn c;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	EXPECT_EQ(POLLOUT | POLLWRNORM,
		  kdbus_poll(c.fd, POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM, 0));
	/* Waiting for input only times out. */
	EXPECT_EQ(0, kdbus_poll(c.fd, POLLIN, 200));
	kdbus_conn_close(&c);
}

TEST_F(pool, poll_without_hello_err_hup)
{
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	EXPECT_EQ(POLLERR | POLLHUP, kdbus_poll(fd, POLLIN | POLLOUT, 0));
	EXPECT_EQ(POLLERR | POLLHUP, kdbus_poll(fd, POLLIN, 1000));
	close(fd);
}

struct poller {
	int fd;
	int revents;
	int done;
};

static void *poll_thread(void *arg)
{
	struct poller *p = arg;

	p->revents = kdbus_poll(p->fd, POLLIN, 20000);
	__atomic_store_n(&p->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

TEST_F(pool, poll_blocked_thread_wakes_on_bus_teardown)
{
	struct kdbus_conn c;
	struct poller p = { .revents = -1 };
	pthread_t t;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	p.fd = c.fd;
	ASSERT_EQ(0, pthread_create(&t, NULL, poll_thread, &p));
	usleep(300 * 1000);
	EXPECT_EQ(0, __atomic_load_n(&p.done, __ATOMIC_SEQ_CST));
	close(self->owner);
	self->owner = -1;
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(POLLERR | POLLHUP, p.revents);
	kdbus_conn_close(&c);
}

TEST_F(pool, poll_blocked_thread_wakes_on_byebye)
{
	struct kdbus_conn c;
	struct poller p = { .revents = -1 };
	pthread_t t;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	p.fd = c.fd;
	ASSERT_EQ(0, pthread_create(&t, NULL, poll_thread, &p));
	usleep(300 * 1000);
	EXPECT_EQ(0, __atomic_load_n(&p.done, __ATOMIC_SEQ_CST));
	EXPECT_EQ(0, kdbus_byebye(c.fd));
	ASSERT_EQ(0, pthread_join(t, NULL));
	EXPECT_EQ(POLLERR | POLLHUP, p.revents);
	kdbus_conn_close(&c);
}

TEST_F(pool, read_write_einval_lseek_noop)
{
	struct kdbus_conn c;
	char buf[16] = { 0 };

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	EXPECT_EQ(-1, read(c.fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, write(c.fd, buf, sizeof(buf)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, lseek(c.fd, 100, SEEK_SET));
	EXPECT_EQ(0, lseek(c.fd, 0, SEEK_END));
	kdbus_conn_close(&c);
}

/* ---------------------------------------------- no allocation when warm */

#define FAILSLAB	"/sys/kernel/debug/failslab"

static int failslab_set(const char *file, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), FAILSLAB "/%s", file);
	return kdbus_write_file(path, val);
}

/* Makes every slab allocation with kdbus.ko's code on the stack fail for
 * the calling task (@on), or none. 0 or -errno. */
static int failslab_arm(bool on)
{
	unsigned long size = 0, base = 0;
	char line[256], num[32];
	FILE *f;
	int err = 0;

	if (!on) {
		err |= kdbus_write_file("/proc/self/make-it-fail", "0");
		err |= failslab_set("probability", "0");
		err |= failslab_set("task-filter", "N");
		return err ? -EIO : 0;
	}
	f = fopen("/proc/modules", "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "kdbus %lu %*s %*s %*s %lx", &size, &base) == 2)
			break;
	fclose(f);
	if (!base)
		return -ENOENT;
	snprintf(num, sizeof(num), "0x%lx", base);
	err |= failslab_set("require-start", num);
	snprintf(num, sizeof(num), "0x%lx", base + size);
	err |= failslab_set("require-end", num);
	err |= failslab_set("stacktrace-depth", "32");
	err |= failslab_set("task-filter", "Y");
	err |= failslab_set("interval", "1");
	err |= failslab_set("times", "-1");
	err |= failslab_set("space", "0");
	err |= failslab_set("verbose", "0");
	err |= failslab_set("ignore-gfp-wait", "N");
	err |= failslab_set("probability", "100");
	err |= kdbus_write_file("/proc/self/make-it-fail", "1");
	return err ? -EIO : 0;
}

/* Eight messages of 1 to 4 vectors (at most 512 bytes of message, up to
 * 512 of payload, no descriptors) from @a to @b, then each received and
 * freed. Returns the number of steps that failed. */
static int message_batch(struct kdbus_conn *a, struct kdbus_conn *b, uint64_t cookie)
{
	static const char payload[128] = "kdbus";
	struct kdbus_test_vec v[4];
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	int i, j, bad = 0;

	for (i = 0; i < 8; i++) {
		for (j = 0; j <= i % 4; j++)
			v[j] = (struct kdbus_test_vec){ payload, 8 + 40 * ((i + j) % 4) };
		bad += kdbus_msg_send(a->fd, b->id, 0, 0, cookie + i, v, i % 4 + 1) != 0;
	}
	for (i = 0; i < 8; i++) {
		if (kdbus_msg_recv(b, 0, 0, &m, &r) != 0 || !m) {
			bad++;
			continue;
		}
		bad += m->cookie != cookie + i;
		bad += kdbus_free(b->fd, r.msg.offset) != 0;
	}
	return bad;
}

/* Issue 11: no allocation on the SEND/RECV/FREE path of a small message
 * once the pools, queues and slice trees are warm. With failslab failing
 * every allocation kdbus makes for this task, the batches still go
 * through; opening a handle, which allocates, fails ENOMEM (so the
 * injection is armed and the test can fail). */
TEST_F(pool, small_messages_allocate_nothing_once_warm)
{
	struct kdbus_conn a, b;
	int i, bad = 0, fd, open_errno;

	if (access(FAILSLAB, F_OK) < 0)
		SKIP(return, "no failslab in this kernel");
	if (kdbus_builtin())
		SKIP(return, "kdbus is built in: no module text range for failslab");
	ASSERT_EQ(0, kdbus_conn_open(&a, self->path, 0, 16 * POOL));
	ASSERT_EQ(0, kdbus_conn_open(&b, self->path, 0, 16 * POOL));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, message_batch(&a, &b, 1000 * (i + 1)));
	ASSERT_EQ(0, failslab_arm(true));
	fd = open(self->path, O_RDWR | O_CLOEXEC);
	open_errno = errno;
	for (i = 0; i < 20; i++)
		bad += message_batch(&a, &b, 100000 + 1000 * i);
	ASSERT_EQ(0, failslab_arm(false));
	if (fd >= 0)
		close(fd);
	EXPECT_EQ(-1, fd);
	EXPECT_EQ(ENOMEM, open_errno);
	EXPECT_EQ(0, bad);
	/* And all is well afterwards. */
	EXPECT_EQ(0, message_batch(&a, &b, 900000));
	kdbus_conn_close(&a);
	kdbus_conn_close(&b);
}

TEST_HARNESS_MAIN
