// SPDX-License-Identifier: GPL-2.0
/*
 * The receive pool (connection-pool.md §3.4, §3.8, §9, §10, §11, abi.md §1,
 * §7.5, checklist §15 "Pool", "FREE", "poll"): pool-size rules, the
 * read-only mapping, slice offsets, KDBUS_CMD_FREE, EXFULL and coalescing
 * (driven by the caller's own CONN_INFO / LIST answers), poll states and
 * read()/write().
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

TEST_HARNESS_MAIN
