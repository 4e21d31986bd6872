// SPDX-License-Identifier: GPL-2.0
/*
 * KDBUS_CMD_HELLO (connection-pool.md §1, §2, §3, checklist §15 "HELLO"):
 * what HELLO returns, argument parsing and negotiation, the description,
 * attach-flag sanitising and the bus-required mask, the handle states, the
 * privilege rules for special connections and faked metadata, the
 * activator / policy-holder NAME rules and the per-user connection limit.
 *
 * The pool-size rules and the HELLO slice's offset are in test-pool.c.
 * Not covered here (they need SEND/RECV, NAME_ACQUIRE, matches or
 * notifications): every ID_ADD / ID_REMOVE / NAME_ADD / NAME_CHANGE item of
 * the HELLO checklist and "an activator's HELLO for a name owned by an
 * ordinary connection".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

#define POOL	KDBUS_TEST_POOL_SIZE

FIXTURE(hello) {
	struct kdbus_domain d;
	char bus[64];
	char path[256];		/* <root>/<bus>/bus */
	int owner;
	char param[64];		/* attach_flags_mask to restore, if saved */
};

FIXTURE_SETUP(hello)
{
	self->param[0] = 0;
	ASSERT_EQ(0, kdbus_domain_init(&self->d));
	self->owner = kdbus_create_bus(self->d.root, KDBUS_MAKE_ACCESS_WORLD, "h", self->bus);
	ASSERT_LE(0, self->owner);
	kdbus_path(self->path, sizeof(self->path), self->d.root, "%s/bus", self->bus);
}

FIXTURE_TEARDOWN(hello)
{
	if (self->param[0])
		kdbus_write_file(KDBUS_PARAM_PATH, self->param);
	if (self->owner >= 0)
		close(self->owner);
	kdbus_domain_fini(&self->d);
}

static int open_path(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* BUS_MAKE (WORLD) of a second bus with the given bloom parameters and
 * bus-required send mask (0: no ATTACH_FLAGS_RECV item). Returns the
 * owner fd; the default endpoint's path goes to @path. */
static int make_bus(struct kdbus_domain *d, uint64_t flags, uint64_t bloom_size,
		    uint64_t n_hash, uint64_t required, char *path, size_t len)
{
	char name[64];
	int fd, ret;

	fd = kdbus_open_control(d->root);
	if (fd < 0)
		return fd;
	kdbus_domain_name(d, name, sizeof(name), "hb");
	if (required)
		ret = kdbus_bus_make(fd, flags, name, bloom_size, n_hash,
				     KDBUS_OPT_ATTACH_RECV(required));
	else
		ret = kdbus_bus_make(fd, flags, name, bloom_size, n_hash);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	kdbus_path(path, len, d->root, "%s/bus", name);
	return fd;
}

/* A custom endpoint (WORLD) of the fixture's bus; returns the endpoint
 * owner fd and its path in @path. */
static int make_endpoint(struct kdbus_domain *d, const char *bus, char *path, size_t len)
{
	char ep[64];
	int fd = kdbus_open_bus(d->root, bus);
	int ret;

	if (fd < 0)
		return fd;
	kdbus_domain_name(d, ep, sizeof(ep), "ep");
	ret = kdbus_ep_make(fd, KDBUS_MAKE_ACCESS_WORLD, ep);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	kdbus_path(path, len, d->root, "%s/%s", bus, ep);
	return fd;
}

/* HELLO with one string item of @type. */
static int hello_str(int fd, uint64_t flags, uint64_t type, const char *s)
{
	struct kdbus_builder b;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	kdbus_b_str(&b, type, s);
	return kdbus_hello_b(fd, &b, flags, 0, 0, POOL, NULL);
}

/* HELLO with one item of @type carrying @len bytes. */
static int hello_item(int fd, uint64_t flags, uint64_t type, const void *data, size_t len)
{
	struct kdbus_builder b;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	kdbus_b_item(&b, type, data, len);
	return kdbus_hello_b(fd, &b, flags, _KDBUS_ATTACH_ALL, 0, POOL, NULL);
}

/* ------------------------------------------------------------ the answer */

TEST_F(hello, default_endpoint_returns_id_bus_flags_id128)
{
	static const uint8_t zero[16];
	struct kdbus_builder b;
	struct kdbus_cmd_hello *h;
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	kdbus_b_init(&b, sizeof(*h));
	h = kdbus_b_cmd(&b);
	h->pool_size = POOL;
	h->return_flags = 0x5a5a;
	ASSERT_EQ(0, kdbus_ioctl(fd, KDBUS_CMD_HELLO, h));
	EXPECT_NE(0, h->id);
	EXPECT_EQ(KDBUS_MAKE_ACCESS_WORLD, h->bus_flags);
	EXPECT_EQ(0, h->return_flags);
	EXPECT_NE(0, memcmp(h->id128, zero, sizeof(zero)));
	/* A random (version 4, DCE variant) UUID. */
	EXPECT_EQ(0x40, h->id128[6] & 0xf0);
	EXPECT_EQ(0x80, h->id128[8] & 0xc0);
	close(fd);
}

TEST_F(hello, id128_is_the_bus_uuid_and_bus_flags_the_make_flags)
{
	struct kdbus_cmd_hello h1, h2, h3;
	char path2[256];
	int fd1, fd2, fd3, owner2;

	fd1 = open_path(self->path);
	fd2 = open_path(self->path);
	ASSERT_LE(0, fd1);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, kdbus_hello(fd1, 0, 0, 0, POOL, &h1));
	ASSERT_EQ(0, kdbus_hello(fd2, 0, 0, 0, POOL, &h2));
	EXPECT_EQ(0, memcmp(h1.id128, h2.id128, sizeof(h1.id128)));

	owner2 = make_bus(&self->d, KDBUS_MAKE_ACCESS_GROUP | KDBUS_MAKE_ACCESS_WORLD,
			  64, 1, 0, path2, sizeof(path2));
	ASSERT_LE(0, owner2);
	fd3 = open_path(path2);
	ASSERT_LE(0, fd3);
	ASSERT_EQ(0, kdbus_hello(fd3, 0, 0, 0, POOL, &h3));
	EXPECT_NE(0, memcmp(h1.id128, h3.id128, sizeof(h1.id128)));
	EXPECT_EQ(KDBUS_MAKE_ACCESS_GROUP | KDBUS_MAKE_ACCESS_WORLD, h3.bus_flags);
	close(fd1);
	close(fd2);
	close(fd3);
	close(owner2);
}

TEST_F(hello, echoes_attach_flags_and_pool_size)
{
	static const struct {
		uint64_t send, recv, pool;
	} cases[] = {
		{ _KDBUS_ATTACH_ANY, _KDBUS_ATTACH_ANY, 2 * POOL },
		{ KDBUS_ATTACH_CREDS | KDBUS_ATTACH_PIDS, KDBUS_ATTACH_TIMESTAMP, 3 * POOL },
		{ 0, _KDBUS_ATTACH_ALL, POOL },
		{ _KDBUS_ATTACH_ALL, 0, 16 * POOL },
	};
	struct kdbus_cmd_hello h;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = open_path(self->path);

		ASSERT_LE(0, fd);
		ASSERT_EQ(0, kdbus_hello(fd, 0, cases[i].send, cases[i].recv, cases[i].pool, &h))
			TH_LOG("case %zu", i);
		EXPECT_EQ(cases[i].send, h.attach_flags_send) TH_LOG("case %zu", i);
		EXPECT_EQ(cases[i].recv, h.attach_flags_recv) TH_LOG("case %zu", i);
		EXPECT_EQ(cases[i].pool, h.pool_size) TH_LOG("case %zu", i);
		EXPECT_EQ(0, h.flags) TH_LOG("case %zu", i);
		close(fd);
	}
}

TEST_F(hello, info_slice_holds_one_bloom_parameter_item)
{
	struct kdbus_conn c;
	struct kdbus_item *item;
	char path2[256];
	int owner2;

	owner2 = make_bus(&self->d, KDBUS_MAKE_ACCESS_WORLD, 128, 3, 0, path2, sizeof(path2));
	ASSERT_LE(0, owner2);
	ASSERT_EQ(0, kdbus_conn_open(&c, path2, 0, POOL));
	EXPECT_EQ(32, c.hello.items_size);
	EXPECT_EQ(0, c.hello.offset % 8);
	ASSERT_LE(c.hello.offset + 32, POOL);
	item = (struct kdbus_item *)(c.pool + c.hello.offset);
	EXPECT_EQ(32, item->size);
	EXPECT_EQ(KDBUS_ITEM_BLOOM_PARAMETER, item->type);
	EXPECT_EQ(128, item->bloom_parameter.size);
	EXPECT_EQ(3, item->bloom_parameter.n_hash);
	kdbus_conn_close(&c);
	close(owner2);
}

TEST_F(hello, info_slice_freed_once_then_enxio)
{
	struct kdbus_conn c;

	ASSERT_EQ(0, kdbus_conn_open(&c, self->path, 0, POOL));
	EXPECT_EQ(0, kdbus_free(c.fd, c.hello.offset));
	EXPECT_EQ(-ENXIO, kdbus_free(c.fd, c.hello.offset));
	kdbus_conn_close(&c);
}

TEST_F(hello, ids_strictly_increasing_and_distinct)
{
	struct kdbus_conn c[4];
	int i;

	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, kdbus_conn_open(&c[i], self->path, 0, POOL));
	for (i = 0; i < 4; i++) {
		EXPECT_NE(0, c[i].id);
		EXPECT_NE(~0ULL, c[i].id);
		if (i)
			EXPECT_LT(c[i - 1].id, c[i].id);
	}
	for (i = 0; i < 4; i++)
		kdbus_conn_close(&c[i]);
}

/* ------------------------------------------------------ argument parsing */

TEST_F(hello, size_below_96_einval)
{
	static const uint64_t sizes[] = { 0, 8, 88, 95 };
	uint64_t buf[16];
	size_t i;
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(buf, 0, sizeof(buf));
		buf[0] = sizes[i];
		buf[7] = POOL;	/* pool_size */
		EXPECT_EQ(-EINVAL, kdbus_ioctl(fd, KDBUS_CMD_HELLO, buf))
			TH_LOG("size %llu", (unsigned long long)sizes[i]);
	}
	/* The handle stays untyped. */
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);
}

TEST_F(hello, size_above_32k_emsgsize)
{
	static const uint64_t sizes[] = { KDBUS_TEST_CMD_MAX + 8, KDBUS_TEST_CMD_MAX + 1,
					  1ULL << 40, ~0ULL };
	struct kdbus_builder b;
	struct kdbus_cmd_hello *h;
	size_t i;
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		kdbus_b_init(&b, sizeof(*h));
		h = kdbus_b_cmd(&b);
		h->pool_size = POOL;
		h->size = sizes[i];
		EXPECT_EQ(-EMSGSIZE, kdbus_ioctl(fd, KDBUS_CMD_HELLO, h))
			TH_LOG("size %llu", (unsigned long long)sizes[i]);
	}
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);
}

TEST_F(hello, size_exactly_32k_accepted)
{
	static uint64_t zero[(KDBUS_TEST_CMD_MAX - 96 - 16) / 8];
	struct kdbus_builder b;
	struct kdbus_cmd_hello *h;
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	kdbus_b_init(&b, sizeof(*h));
	kdbus_b_negotiate(&b, zero, sizeof(zero) / sizeof(zero[0]));
	h = kdbus_b_cmd(&b);
	ASSERT_EQ(KDBUS_TEST_CMD_MAX, h->size);
	h->pool_size = POOL;
	EXPECT_EQ(0, kdbus_ioctl(fd, KDBUS_CMD_HELLO, h));
	EXPECT_NE(0, h->id);
	close(fd);
}

TEST_F(hello, misaligned_or_null_pointer_efault)
{
	uint64_t raw[16];
	struct kdbus_cmd_hello h = { .size = sizeof(h), .pool_size = POOL };
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	memset(raw, 0, sizeof(raw));
	memcpy((uint8_t *)raw + 4, &h, sizeof(h));
	EXPECT_EQ(-EFAULT, kdbus_ioctl(fd, KDBUS_CMD_HELLO, (uint8_t *)raw + 4));
	EXPECT_EQ(-EFAULT, kdbus_ioctl(fd, KDBUS_CMD_HELLO, NULL));
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);
}

TEST_F(hello, unknown_flag_einval)
{
	static const uint64_t flags[] = {
		1ULL << 4, 1ULL << 32, 1ULL << 62,
		KDBUS_FLAG_NEGOTIATE | (1ULL << 4),
	};
	size_t i;
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		EXPECT_EQ(-EINVAL, kdbus_hello(fd, flags[i], 0, 0, POOL, NULL))
			TH_LOG("flags %#llx", (unsigned long long)flags[i]);
	}
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);
}

TEST_F(hello, negotiate_flag_reports_0xf_and_connects_nothing)
{
	struct kdbus_builder b;
	struct kdbus_cmd_hello *h;
	void *p;
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	kdbus_b_init(&b, sizeof(*h));
	h = kdbus_b_cmd(&b);
	h->flags = KDBUS_FLAG_NEGOTIATE;
	h->pool_size = POOL;
	h->id = 0x1234;
	h->offset = 0x5678;
	EXPECT_EQ(0, kdbus_ioctl(fd, KDBUS_CMD_HELLO, h));
	EXPECT_EQ(KDBUS_HELLO_ACCEPT_FD | KDBUS_HELLO_ACTIVATOR | KDBUS_HELLO_POLICY_HOLDER |
		  KDBUS_HELLO_MONITOR, h->flags);
	EXPECT_EQ(0xf, h->flags);
	/* Nothing else is written back. */
	EXPECT_EQ(0x1234, h->id);
	EXPECT_EQ(0x5678, h->offset);
	/* Still untyped: no connection command, no mapping. */
	EXPECT_EQ(-EBADFD, kdbus_cmd_simple(fd, KDBUS_CMD_LIST));
	p = mmap(NULL, POOL, PROT_READ, MAP_SHARED, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EBADFD, errno);
	/* And a real HELLO works. */
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	EXPECT_EQ(0, kdbus_cmd_simple(fd, KDBUS_CMD_LIST));
	close(fd);
}

static const uint64_t negotiate_in[] = {
	KDBUS_ITEM_NAME, KDBUS_ITEM_PAYLOAD_VEC, KDBUS_ITEM_CREDS, KDBUS_ITEM_MAKE_NAME,
	KDBUS_ITEM_CONN_DESCRIPTION, 0x4242, KDBUS_ITEM_POLICY_ACCESS,
	KDBUS_ITEM_BLOOM_PARAMETER, KDBUS_ITEM_NEGOTIATE, KDBUS_ITEM_PIDS,
	KDBUS_ITEM_SECLABEL, KDBUS_ITEM_ATTACH_FLAGS_SEND, KDBUS_ITEM_OWNED_NAME,
	KDBUS_ITEM_ID_ADD, KDBUS_ITEM_TIMESTAMP,
};

static const uint64_t negotiate_out[] = {
	KDBUS_ITEM_NAME, 0, KDBUS_ITEM_CREDS, 0,
	KDBUS_ITEM_CONN_DESCRIPTION, 0, KDBUS_ITEM_POLICY_ACCESS,
	0, KDBUS_ITEM_NEGOTIATE, KDBUS_ITEM_PIDS,
	KDBUS_ITEM_SECLABEL, 0, 0,
	0, 0,
};

#define N_NEG	(sizeof(negotiate_in) / sizeof(negotiate_in[0]))

static void check_negotiated(struct __test_metadata *_metadata, struct kdbus_builder *b)
{
	struct kdbus_item *item = (struct kdbus_item *)((uint8_t *)b->buf +
							 sizeof(struct kdbus_cmd_hello));
	size_t i;

	ASSERT_EQ(KDBUS_ITEM_NEGOTIATE, item->type);
	for (i = 0; i < N_NEG; i++) {
		EXPECT_EQ(negotiate_out[i], item->data64[i])
			TH_LOG("element %zu (type %#llx)", i, (unsigned long long)negotiate_in[i]);
	}
}

TEST_F(hello, negotiate_item_zeroes_unsupported_types)
{
	struct kdbus_builder b;
	struct kdbus_cmd_hello *h;
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	kdbus_b_init(&b, sizeof(*h));
	kdbus_b_negotiate(&b, negotiate_in, N_NEG);
	h = kdbus_b_cmd(&b);
	h->flags = KDBUS_FLAG_NEGOTIATE;
	h->pool_size = POOL;
	ASSERT_EQ(0, kdbus_ioctl(fd, KDBUS_CMD_HELLO, h));
	EXPECT_EQ(0xf, h->flags);
	check_negotiated(_metadata, &b);
	EXPECT_EQ(-EBADFD, kdbus_cmd_simple(fd, KDBUS_CMD_LIST));
	close(fd);
}

TEST_F(hello, negotiate_item_without_flag_also_connects)
{
	struct kdbus_builder b;
	struct kdbus_cmd_hello *h;
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	kdbus_b_init(&b, sizeof(*h));
	kdbus_b_negotiate(&b, negotiate_in, N_NEG);
	h = kdbus_b_cmd(&b);
	h->pool_size = POOL;
	ASSERT_EQ(0, kdbus_ioctl(fd, KDBUS_CMD_HELLO, h));
	EXPECT_NE(0, h->id);
	EXPECT_EQ(0, h->flags);
	check_negotiated(_metadata, &b);
	EXPECT_EQ(0, kdbus_cmd_simple(fd, KDBUS_CMD_LIST));
	close(fd);
}

TEST_F(hello, unknown_or_foreign_item_type_einval)
{
	static const uint64_t types[] = {
		0x4242, KDBUS_ITEM_MAKE_NAME, KDBUS_ITEM_BLOOM_PARAMETER,
		KDBUS_ITEM_ATTACH_FLAGS_SEND, KDBUS_ITEM_PAYLOAD_VEC, KDBUS_ITEM_ID,
		KDBUS_ITEM_OWNED_NAME, KDBUS_ITEM_TIMESTAMP, KDBUS_ITEM_ID_ADD,
	};
	uint64_t payload[2] = { 64, 1 };
	size_t i;
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		EXPECT_EQ(-EINVAL, hello_item(fd, 0, types[i], payload, sizeof(payload)))
			TH_LOG("type %#llx", (unsigned long long)types[i]);
	}
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);
}

TEST_F(hello, two_descriptions_einval)
{
	struct kdbus_builder b;
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	kdbus_b_str(&b, KDBUS_ITEM_CONN_DESCRIPTION, "one");
	kdbus_b_str(&b, KDBUS_ITEM_CONN_DESCRIPTION, "two");
	EXPECT_EQ(-EINVAL, kdbus_hello_b(fd, &b, 0, 0, 0, POOL, NULL));
	EXPECT_EQ(0, hello_str(fd, 0, KDBUS_ITEM_CONN_DESCRIPTION, "one"));
	close(fd);
}

TEST_F(hello, description_63_ok_64_enametoolong)
{
	char desc[80];
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	memset(desc, 'a', 64);
	desc[64] = 0;
	EXPECT_EQ(-ENAMETOOLONG, hello_str(fd, 0, KDBUS_ITEM_CONN_DESCRIPTION, desc));
	memset(desc, 'b', 70);
	desc[70] = 0;
	EXPECT_EQ(-ENAMETOOLONG, hello_str(fd, 0, KDBUS_ITEM_CONN_DESCRIPTION, desc));
	desc[63] = 0;
	EXPECT_EQ(0, hello_str(fd, 0, KDBUS_ITEM_CONN_DESCRIPTION, desc));
	close(fd);
}

TEST_F(hello, description_bad_characters_einval)
{
	static const char *const bad[] = {
		"", "-abc", "abc-", ".abc", "abc.", "a b", " ab", "a/b", "a:b", "a*b",
		"a\tb", "ab\n",
	};
	size_t i;
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, hello_str(fd, 0, KDBUS_ITEM_CONN_DESCRIPTION, bad[i]))
			TH_LOG("description \"%s\"", bad[i]);
	}
	close(fd);
}

TEST_F(hello, description_good_characters_ok)
{
	static const char *const good[] = {
		"a", "Z", "9", "_", "a-b.c_D9", "x.-.y", "1.2",
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int fd = open_path(self->path);

		ASSERT_LE(0, fd);
		EXPECT_EQ(0, hello_str(fd, 0, KDBUS_ITEM_CONN_DESCRIPTION, good[i]))
			TH_LOG("description \"%s\"", good[i]);
		close(fd);
	}
}

/* ---------------------------------------------------------- attach flags */

TEST_F(hello, unknown_attach_bits_einval)
{
	static const uint64_t bad[] = {
		1ULL << 14, 1ULL << 63, 0xffffffffULL, ~0ULL - 1, _KDBUS_ATTACH_ALL + 1,
	};
	size_t i;
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, kdbus_hello(fd, 0, bad[i], 0, POOL, NULL))
			TH_LOG("send %#llx", (unsigned long long)bad[i]);
		EXPECT_EQ(-EINVAL, kdbus_hello(fd, 0, 0, bad[i], POOL, NULL))
			TH_LOG("recv %#llx", (unsigned long long)bad[i]);
	}
	EXPECT_EQ(0, kdbus_hello(fd, 0, _KDBUS_ATTACH_ALL, _KDBUS_ATTACH_ALL, POOL, NULL));
	close(fd);
}

TEST_F(hello, attach_send_any_behaves_as_all)
{
	struct kdbus_conn c;
	struct kdbus_info *info;
	char path2[256];
	int owner2, fd;

	ASSERT_EQ(0, kdbus_param_set(KDBUS_PARAM_DEFAULT, self->param, sizeof(self->param)));
	/* A bus requiring every metadata kind. */
	owner2 = make_bus(&self->d, KDBUS_MAKE_ACCESS_WORLD, 64, 1, _KDBUS_ATTACH_ALL,
			  path2, sizeof(path2));
	ASSERT_LE(0, owner2);
	fd = open_path(path2);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ECONNREFUSED, kdbus_hello(fd, 0, _KDBUS_ATTACH_ALL & ~KDBUS_ATTACH_AUDIT,
					     0, POOL, NULL));
	close(fd);

	ASSERT_EQ(0, kdbus_conn_open_b(&c, path2, NULL, 0, _KDBUS_ATTACH_ANY, 0, POOL));
	EXPECT_EQ(_KDBUS_ATTACH_ANY, c.hello.attach_flags_send);
	/* What ~0 exports through CONN_INFO is what ALL exports. */
	ASSERT_EQ(0, kdbus_conn_info(c.fd, c.pool, c.id, NULL,
				     KDBUS_ATTACH_CREDS | KDBUS_ATTACH_PIDS, &info, NULL));
	EXPECT_NE(NULL, kdbus_info_item(info, KDBUS_ITEM_CREDS));
	EXPECT_NE(NULL, kdbus_info_item(info, KDBUS_ITEM_PIDS));
	EXPECT_EQ(0, kdbus_info_free(c.fd, c.pool, info));
	kdbus_conn_close(&c);
	close(owner2);
}

TEST_F(hello, bus_required_metadata_missing_econnrefused)
{
	const uint64_t req = KDBUS_ATTACH_CREDS | KDBUS_ATTACH_PIDS;
	char path2[256];
	int owner2, fd;

	owner2 = make_bus(&self->d, KDBUS_MAKE_ACCESS_WORLD, 64, 1, req, path2, sizeof(path2));
	ASSERT_LE(0, owner2);
	fd = open_path(path2);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-ECONNREFUSED, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	EXPECT_EQ(-ECONNREFUSED, kdbus_hello(fd, 0, KDBUS_ATTACH_PIDS, _KDBUS_ATTACH_ALL,
					     POOL, NULL));
	EXPECT_EQ(-ECONNREFUSED, kdbus_hello(fd, 0, _KDBUS_ATTACH_ALL & ~KDBUS_ATTACH_CREDS,
					     0, POOL, NULL));
	/* Unknown bits are checked first. */
	EXPECT_EQ(-EINVAL, kdbus_hello(fd, 0, 1ULL << 20, 0, POOL, NULL));
	EXPECT_EQ(0, kdbus_hello(fd, 0, req, 0, POOL, NULL));
	close(fd);

	fd = open_path(path2);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, kdbus_hello(fd, 0, req | KDBUS_ATTACH_TIMESTAMP, 0, POOL, NULL));
	close(fd);
	close(owner2);
}

/* --------------------------------------------------------- handle states */

TEST_F(hello, second_hello_on_connected_fd_ebadfd)
{
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	EXPECT_EQ(-EBADFD, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	/* Even a malformed one. */
	EXPECT_EQ(-EBADFD, kdbus_hello(fd, 0, 0, 0, 0, NULL));
	close(fd);
}

TEST_F(hello, hello_on_control_ebadfd)
{
	int fd = kdbus_open_control(self->d.root);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBADFD, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);
}

TEST_F(hello, hello_on_bus_owner_ebadfd)
{
	EXPECT_EQ(-EBADFD, kdbus_hello(self->owner, 0, 0, 0, POOL, NULL));
}

TEST_F(hello, hello_after_bus_teardown_eshutdown)
{
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	close(self->owner);
	self->owner = -1;
	EXPECT_EQ(-ESHUTDOWN, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);
}

TEST_F(hello, unknown_ioctl_enotty)
{
	static const unsigned long reqs[] = {
		_IOWR(KDBUS_IOCTL_MAGIC, 0x87, struct kdbus_cmd),
		_IOWR(KDBUS_IOCTL_MAGIC, 0x80, struct kdbus_cmd),	/* HELLO nr, wrong size */
		_IOW(KDBUS_IOCTL_MAGIC, 0x83, struct kdbus_cmd),	/* FREE nr, wrong size */
		_IOR(KDBUS_IOCTL_MAGIC, 0x86, struct kdbus_cmd_info),	/* LIST nr, wrong size */
		_IOW('x', 0x81, struct kdbus_cmd),
		0x5401,							/* TCGETS */
	};
	uint64_t buf[64];
	int fds[3], i;
	size_t j;

	fds[0] = open_path(self->path);			/* untyped */
	fds[1] = open_path(self->path);			/* connected */
	fds[2] = kdbus_open_control(self->d.root);
	for (i = 0; i < 3; i++)
		ASSERT_LE(0, fds[i]);
	ASSERT_EQ(0, kdbus_hello(fds[1], 0, 0, 0, POOL, NULL));
	for (i = 0; i < 3; i++) {
		for (j = 0; j < sizeof(reqs) / sizeof(reqs[0]); j++) {
			memset(buf, 0, sizeof(buf));
			buf[0] = sizeof(struct kdbus_cmd_hello);
			EXPECT_EQ(-ENOTTY, kdbus_ioctl(fds[i], reqs[j], buf))
				TH_LOG("fd %d request %#lx", i, reqs[j]);
		}
		close(fds[i]);
	}
}

TEST_F(hello, connection_ioctls_without_hello_ebadfd)
{
	size_t i;
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	for (i = 0; i < 12; i++) {
		EXPECT_EQ(-EBADFD, kdbus_cmd_simple(fd, kdbus_conn_cmds[i]))
			TH_LOG("%s", kdbus_cmd_name(kdbus_conn_cmds[i]));
	}
	close(fd);
}

TEST_F(hello, connection_ioctls_on_bus_owner_ebadfd)
{
	size_t i;

	for (i = 0; i < 12; i++) {
		EXPECT_EQ(-EBADFD, kdbus_cmd_simple(self->owner, kdbus_conn_cmds[i]))
			TH_LOG("%s", kdbus_cmd_name(kdbus_conn_cmds[i]));
	}
}

TEST_F(hello, connection_ioctls_on_endpoint_owner_ebadfd)
{
	char ep_path[256];
	size_t i;
	int ep = make_endpoint(&self->d, self->bus, ep_path, sizeof(ep_path));

	ASSERT_LE(0, ep);
	for (i = 0; i < 12; i++) {
		EXPECT_EQ(-EBADFD, kdbus_cmd_simple(ep, kdbus_conn_cmds[i]))
			TH_LOG("%s", kdbus_cmd_name(kdbus_conn_cmds[i]));
	}
	EXPECT_EQ(-EBADFD, kdbus_hello(ep, 0, 0, 0, POOL, NULL));
	close(ep);
}

/* ------------------------------------------------------------- privilege */

static int open_unprivileged(const char *path)
{
	return kdbus_open_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY, path, O_RDWR);
}

TEST_F(hello, unprivileged_special_connections_eperm)
{
	int fd = open_unprivileged(self->path);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EPERM, kdbus_hello_name(fd, KDBUS_HELLO_ACTIVATOR, "org.kdbus.t.act",
					   POOL, NULL));
	EXPECT_EQ(-EPERM, kdbus_hello_name(fd, KDBUS_HELLO_POLICY_HOLDER, "org.kdbus.t.ph",
					   POOL, NULL));
	EXPECT_EQ(-EPERM, kdbus_hello(fd, KDBUS_HELLO_MONITOR, 0, 0, POOL, NULL));
	EXPECT_EQ(-EPERM, kdbus_hello(fd, KDBUS_HELLO_MONITOR | KDBUS_HELLO_ACCEPT_FD, 0, 0,
				      POOL, NULL));
	/* The handle stays untyped and may become an ordinary connection. */
	EXPECT_EQ(0, kdbus_hello(fd, KDBUS_HELLO_ACCEPT_FD, 0, 0, POOL, NULL));
	close(fd);
}

struct path_arg {
	const char *path;
};

/* Runs as UID 65534: the whole thing, open and HELLO, unprivileged. */
static int nobody_special_hellos(void *arg)
{
	struct path_arg *a = arg;
	int fd = open(a->path, O_RDWR | O_CLOEXEC);

	KDBUS_CHILD_CHECK(fd >= 0);
	KDBUS_CHILD_CHECK(kdbus_hello_name(fd, KDBUS_HELLO_ACTIVATOR, "org.kdbus.t.act",
					   POOL, NULL) == -EPERM);
	KDBUS_CHILD_CHECK(kdbus_hello_name(fd, KDBUS_HELLO_POLICY_HOLDER, "org.kdbus.t.ph",
					   POOL, NULL) == -EPERM);
	KDBUS_CHILD_CHECK(kdbus_hello(fd, KDBUS_HELLO_MONITOR, 0, 0, POOL, NULL) == -EPERM);
	KDBUS_CHILD_CHECK(kdbus_hello(fd, 0, 0, 0, POOL, NULL) == 0);
	return 0;
}

TEST_F(hello, unprivileged_user_special_connections_eperm)
{
	struct path_arg a = { .path = self->path };

	EXPECT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY,
				  nobody_special_hellos, &a));
}

static struct kdbus_creds some_creds(void)
{
	struct kdbus_creds cr = {
		.uid = 1000, .euid = 1001, .suid = 1002, .fsuid = 1003,
		.gid = 2000, .egid = 2001, .sgid = 2002, .fsgid = 0xffffffff,
	};

	return cr;
}

TEST_F(hello, unprivileged_faked_metadata_eperm)
{
	struct kdbus_creds cr = some_creds();
	struct kdbus_pids pids = { .pid = getpid(), .tid = getpid(), .ppid = getppid() };
	int fd = open_unprivileged(self->path);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EPERM, hello_item(fd, 0, KDBUS_ITEM_CREDS, &cr, sizeof(cr)));
	EXPECT_EQ(-EPERM, hello_item(fd, 0, KDBUS_ITEM_PIDS, &pids, sizeof(pids)));
	EXPECT_EQ(-EPERM, hello_item(fd, 0, KDBUS_ITEM_SECLABEL, "system_u:kdbus_t",
				     sizeof("system_u:kdbus_t")));
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);
}

TEST_F(hello, monitor_on_custom_endpoint_eopnotsupp)
{
	char ep_path[256];
	int ep, fd;

	ep = make_endpoint(&self->d, self->bus, ep_path, sizeof(ep_path));
	ASSERT_LE(0, ep);
	/* Opened by root, who is privileged on the default endpoint. */
	fd = open_path(ep_path);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EOPNOTSUPP, kdbus_hello(fd, KDBUS_HELLO_MONITOR, 0, 0, POOL, NULL));
	/* The other special kinds are simply unprivileged there. */
	EXPECT_EQ(-EPERM, kdbus_hello_name(fd, KDBUS_HELLO_ACTIVATOR, "org.kdbus.t.act",
					   POOL, NULL));
	EXPECT_EQ(-EPERM, kdbus_hello_name(fd, KDBUS_HELLO_POLICY_HOLDER, "org.kdbus.t.ph",
					   POOL, NULL));
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);
	close(ep);
}

/* ------------------------------------------------ special connection kinds */

TEST_F(hello, two_special_kinds_einval)
{
	static const uint64_t combos[] = {
		KDBUS_HELLO_ACTIVATOR | KDBUS_HELLO_POLICY_HOLDER,
		KDBUS_HELLO_ACTIVATOR | KDBUS_HELLO_MONITOR,
		KDBUS_HELLO_POLICY_HOLDER | KDBUS_HELLO_MONITOR,
		KDBUS_HELLO_ACTIVATOR | KDBUS_HELLO_POLICY_HOLDER | KDBUS_HELLO_MONITOR,
		KDBUS_HELLO_ACCEPT_FD | KDBUS_HELLO_ACTIVATOR | KDBUS_HELLO_POLICY_HOLDER,
	};
	size_t i;
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	for (i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
		EXPECT_EQ(-EINVAL, kdbus_hello_name(fd, combos[i], "org.kdbus.t.two", POOL,
						    NULL))
			TH_LOG("flags %#llx with NAME", (unsigned long long)combos[i]);
		EXPECT_EQ(-EINVAL, kdbus_hello(fd, combos[i], 0, 0, POOL, NULL))
			TH_LOG("flags %#llx", (unsigned long long)combos[i]);
	}
	close(fd);
}

TEST_F(hello, activator_or_policy_holder_without_name_einval)
{
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, kdbus_hello(fd, KDBUS_HELLO_ACTIVATOR, 0, 0, POOL, NULL));
	EXPECT_EQ(-EINVAL, kdbus_hello(fd, KDBUS_HELLO_POLICY_HOLDER, 0, 0, POOL, NULL));
	EXPECT_EQ(-EINVAL, kdbus_hello(fd, KDBUS_HELLO_ACTIVATOR | KDBUS_HELLO_ACCEPT_FD,
				       0, 0, POOL, NULL));
	close(fd);
}

TEST_F(hello, ordinary_or_monitor_with_name_einval)
{
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, kdbus_hello_name(fd, 0, "org.kdbus.t.name", POOL, NULL));
	EXPECT_EQ(-EINVAL, kdbus_hello_name(fd, KDBUS_HELLO_ACCEPT_FD, "org.kdbus.t.name",
					    POOL, NULL));
	EXPECT_EQ(-EINVAL, kdbus_hello_name(fd, KDBUS_HELLO_MONITOR, "org.kdbus.t.name",
					    POOL, NULL));
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);
}

TEST_F(hello, activator_invalid_name_einval)
{
	static char long_name[300];
	static const char *const bad[] = {
		"nodot", "org..kdbus", ".org.kdbus", "org.kdbus.", "org.1kdbus", "1org.kdbus",
		"org.kd bus", "org.kd/bus", ":1.42", "org.kdbus*", "*", "org.*.kdbus", "a.",
		long_name,
	};
	size_t i;
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	/* 256 characters: one too many. */
	memset(long_name, 'a', 256);
	long_name[3] = '.';
	long_name[256] = 0;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		EXPECT_EQ(-EINVAL, kdbus_hello_name(fd, KDBUS_HELLO_ACTIVATOR, bad[i], POOL,
						    NULL))
			TH_LOG("name \"%.40s\"", bad[i]);
	}
	/* 255 characters are fine. */
	long_name[255] = 0;
	EXPECT_EQ(0, kdbus_hello_name(fd, KDBUS_HELLO_ACTIVATOR, long_name, POOL, NULL));
	close(fd);
}

TEST_F(hello, activator_valid_name_forms_ok)
{
	static const char *const good[] = {
		"a.b", "org.kdbus.valid-name_1", "_a.-b", "org.x9.y-z",
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int fd = open_path(self->path);

		ASSERT_LE(0, fd);
		EXPECT_EQ(0, kdbus_hello_name(fd, KDBUS_HELLO_ACTIVATOR, good[i], POOL, NULL))
			TH_LOG("name \"%s\"", good[i]);
		close(fd);
	}
}

TEST_F(hello, wildcard_name_activator_einval_policy_holder_ok)
{
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, kdbus_hello_name(fd, KDBUS_HELLO_ACTIVATOR, "org.kdbus.t.*",
					    POOL, NULL));
	/* Malformed wildcards are bad for policy holders too. */
	EXPECT_EQ(-EINVAL, kdbus_hello_name(fd, KDBUS_HELLO_POLICY_HOLDER, "org.kdbus*",
					    POOL, NULL));
	EXPECT_EQ(-EINVAL, kdbus_hello_name(fd, KDBUS_HELLO_POLICY_HOLDER, "*.kdbus",
					    POOL, NULL));
	EXPECT_EQ(-EINVAL, kdbus_hello_name(fd, KDBUS_HELLO_POLICY_HOLDER, "org.*.kdbus",
					    POOL, NULL));
	EXPECT_EQ(0, kdbus_hello_name(fd, KDBUS_HELLO_POLICY_HOLDER, "org.kdbus.t.*",
				      POOL, NULL));
	close(fd);
}

TEST_F(hello, second_activator_for_name_eexist_system_keeps_working)
{
	struct kdbus_conn act, obs;
	struct kdbus_info *info;
	int fd;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->path, KDBUS_HELLO_ACTIVATOR,
					  "org.kdbus.t.dup", POOL));
	fd = open_path(self->path);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EEXIST, kdbus_hello_name(fd, KDBUS_HELLO_ACTIVATOR, "org.kdbus.t.dup",
					    POOL, NULL));
	/* The failed handle is still untyped. */
	EXPECT_EQ(-EBADFD, kdbus_cmd_simple(fd, KDBUS_CMD_LIST));
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);

	/* The first activator still holds the name. */
	ASSERT_EQ(0, kdbus_conn_open(&obs, self->path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, 0, "org.kdbus.t.dup", 0, &info, NULL));
	EXPECT_EQ(act.id, info->id);
	EXPECT_EQ(KDBUS_HELLO_ACTIVATOR, info->flags);
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));

	/* Once it is gone, the name can get a new activator. */
	kdbus_conn_close(&act);
	fd = open_path(self->path);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, kdbus_hello_name(fd, KDBUS_HELLO_ACTIVATOR, "org.kdbus.t.dup", POOL,
				      NULL));
	close(fd);
	kdbus_conn_close(&obs);
}

TEST_F(hello, second_policy_holder_for_name_eexist)
{
	struct kdbus_conn ph, phw;
	int fd;

	ASSERT_EQ(0, kdbus_conn_open_name(&ph, self->path, KDBUS_HELLO_POLICY_HOLDER,
					  "org.kdbus.t.ph", POOL));
	fd = open_path(self->path);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EEXIST, kdbus_hello_name(fd, KDBUS_HELLO_POLICY_HOLDER, "org.kdbus.t.ph",
					    POOL, NULL));
	/* The handle may retry with another name. */
	EXPECT_EQ(0, kdbus_hello_name(fd, KDBUS_HELLO_POLICY_HOLDER, "org.kdbus.t.ph2",
				      POOL, NULL));
	close(fd);

	/* An exact and a wildcard entry are different keys... */
	ASSERT_EQ(0, kdbus_conn_open_name(&phw, self->path, KDBUS_HELLO_POLICY_HOLDER,
					  "org.kdbus.t.ph.*", POOL));
	/* ...but a second wildcard for the same prefix is a duplicate. */
	fd = open_path(self->path);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EEXIST, kdbus_hello_name(fd, KDBUS_HELLO_POLICY_HOLDER, "org.kdbus.t.ph.*",
					    POOL, NULL));
	close(fd);

	/* The entry goes away with its holder. */
	kdbus_conn_close(&ph);
	fd = open_path(self->path);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, kdbus_hello_name(fd, KDBUS_HELLO_POLICY_HOLDER, "org.kdbus.t.ph",
				      POOL, NULL));
	close(fd);
	kdbus_conn_close(&phw);
}

TEST_F(hello, activator_and_policy_holder_for_same_name_eexist)
{
	struct kdbus_conn act;
	int fd;

	ASSERT_EQ(0, kdbus_conn_open_name(&act, self->path, KDBUS_HELLO_ACTIVATOR,
					  "org.kdbus.t.both", POOL));
	fd = open_path(self->path);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EEXIST, kdbus_hello_name(fd, KDBUS_HELLO_POLICY_HOLDER, "org.kdbus.t.both",
					    POOL, NULL));
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);
	kdbus_conn_close(&act);
}

/* HELLO with @flags, a NAME item @name (none when NULL) and one
 * POLICY_ACCESS {@type, @access, @id}, placed before the NAME when
 * @access_first; the answer goes to @out (may be NULL). */
static int hello_policy_out(int fd, uint64_t flags, const char *name, uint64_t type,
			    uint64_t access, uint64_t id, bool access_first,
			    struct kdbus_cmd_hello *out)
{
	struct kdbus_builder b;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	if (access_first)
		kdbus_b_policy(&b, type, access, id);
	if (name)
		kdbus_b_str(&b, KDBUS_ITEM_NAME, name);
	if (!access_first)
		kdbus_b_policy(&b, type, access, id);
	return kdbus_hello_b(fd, &b, flags, 0, 0, POOL, out);
}

static int hello_policy(int fd, uint64_t flags, const char *name, uint64_t type,
			uint64_t access, uint64_t id, bool access_first)
{
	return hello_policy_out(fd, flags, name, type, access, id, access_first, NULL);
}

TEST_F(hello, policy_holder_or_activator_bad_policy_access_einval)
{
	static const uint64_t kinds[] = { KDBUS_HELLO_POLICY_HOLDER, KDBUS_HELLO_ACTIVATOR };
	const char *name = "org.kdbus.t.badpol";
	size_t i;
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		/* access beyond OWN */
		EXPECT_EQ(-EINVAL, hello_policy(fd, kinds[i], name, KDBUS_POLICY_ACCESS_WORLD,
						3, 0, false)) TH_LOG("kind %zu", i);
		/* type NULL (0) and one beyond WORLD */
		EXPECT_EQ(-EINVAL, hello_policy(fd, kinds[i], name, 0, KDBUS_POLICY_OWN, 0,
						false)) TH_LOG("kind %zu", i);
		EXPECT_EQ(-EINVAL, hello_policy(fd, kinds[i], name, 4, KDBUS_POLICY_OWN, 0,
						false)) TH_LOG("kind %zu", i);
		/* a POLICY_ACCESS before the NAME */
		EXPECT_EQ(-EINVAL, hello_policy(fd, kinds[i], name, KDBUS_POLICY_ACCESS_WORLD,
						KDBUS_POLICY_OWN, 0, true)) TH_LOG("kind %zu", i);
	}
	/* Nothing was installed: the handle is untyped and the same name
	 * takes a valid entry. */
	EXPECT_EQ(-EBADFD, kdbus_cmd_simple(fd, KDBUS_CMD_LIST));
	EXPECT_EQ(0, hello_policy(fd, KDBUS_HELLO_POLICY_HOLDER, name, KDBUS_POLICY_ACCESS_WORLD,
				  KDBUS_POLICY_OWN, 0, false));
	close(fd);
}

TEST_F(hello, ordinary_hello_ignores_policy_access)
{
	struct kdbus_conn obs;
	struct kdbus_info *info;
	struct kdbus_cmd_hello out;
	int fd;

	ASSERT_EQ(0, kdbus_conn_open(&obs, self->path, 0, POOL));
	/* A valid record without a NAME is accepted... */
	fd = open_path(self->path);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, hello_policy(fd, 0, NULL, KDBUS_POLICY_ACCESS_WORLD, KDBUS_POLICY_OWN, 0,
				  false));
	close(fd);
	/* ...and so is one a policy holder could not install: it is not
	 * interpreted at all. */
	fd = open_path(self->path);
	ASSERT_LE(0, fd);
	memset(&out, 0, sizeof(out));
	EXPECT_EQ(0, hello_policy_out(fd, 0, NULL, 4, 3, 0xffffffffu, false, &out));
	/* An ordinary connection, as CONN_INFO reports it. */
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, out.id, NULL, 0, &info, NULL));
	EXPECT_EQ(out.id, info->id);
	EXPECT_EQ(0, info->flags);
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));
	/* It may acquire names (policy holders and activators may not). */
	EXPECT_EQ(0, kdbus_name_acquire(fd, "org.kdbus.t.ordinary", 0, NULL));
	close(fd);
	kdbus_conn_close(&obs);
}

/* ------------------------------------------------------- faked metadata */

TEST_F(hello, faked_creds_reported_exactly_by_conn_info)
{
	struct kdbus_creds cr = some_creds();
	struct kdbus_builder b;
	struct kdbus_conn fake, obs;
	struct kdbus_info *info;
	struct kdbus_item *item;

	ASSERT_EQ(0, kdbus_param_set(KDBUS_PARAM_DEFAULT, self->param, sizeof(self->param)));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	kdbus_b_item(&b, KDBUS_ITEM_CREDS, &cr, sizeof(cr));
	ASSERT_EQ(0, kdbus_conn_open_b(&fake, self->path, &b, 0, _KDBUS_ATTACH_ALL, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&obs, self->path, 0, POOL));

	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, fake.id, NULL, _KDBUS_ATTACH_ALL,
				     &info, NULL));
	EXPECT_EQ(fake.id, info->id);
	/* Only the supplied item exists. */
	EXPECT_EQ(1, kdbus_info_count(info));
	item = kdbus_info_item(info, KDBUS_ITEM_CREDS);
	ASSERT_NE(NULL, item);
	EXPECT_EQ(KDBUS_ITEM_HEADER_SIZE + sizeof(cr), item->size);
	EXPECT_EQ(1000, item->creds.uid);
	EXPECT_EQ(1001, item->creds.euid);
	EXPECT_EQ(1002, item->creds.suid);
	EXPECT_EQ(1003, item->creds.fsuid);
	EXPECT_EQ(2000, item->creds.gid);
	EXPECT_EQ(2001, item->creds.egid);
	EXPECT_EQ(2002, item->creds.sgid);
	EXPECT_EQ(0xffffffffULL, item->creds.fsgid);
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));

	/* Not requested: not reported. */
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, fake.id, NULL, KDBUS_ATTACH_PIDS,
				     &info, NULL));
	EXPECT_EQ(0, kdbus_info_count(info));
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));
	kdbus_conn_close(&fake);
	kdbus_conn_close(&obs);
}

TEST_F(hello, faked_creds_bad_payload_einval)
{
	struct kdbus_creds cr = some_creds();
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	/* A 64-bit ~0 is not "unset" and maps to nothing. */
	cr.uid = ~0ULL;
	EXPECT_EQ(-EINVAL, hello_item(fd, 0, KDBUS_ITEM_CREDS, &cr, sizeof(cr)));
	cr = some_creds();
	EXPECT_EQ(-EINVAL, hello_item(fd, 0, KDBUS_ITEM_CREDS, &cr, sizeof(cr) - 8));
	EXPECT_EQ(0, hello_item(fd, 0, KDBUS_ITEM_CREDS, &cr, sizeof(cr)));
	close(fd);
}

TEST_F(hello, faked_pids_nonexistent_pid_einval)
{
	struct kdbus_pids pids = { .pid = 0x3ffffff0, .tid = 0, .ppid = 0 };
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, hello_item(fd, 0, KDBUS_ITEM_PIDS, &pids, sizeof(pids)));
	pids.pid = getpid();
	pids.tid = 0x3ffffff0;
	EXPECT_EQ(-EINVAL, hello_item(fd, 0, KDBUS_ITEM_PIDS, &pids, sizeof(pids)));
	pids.tid = getpid();
	pids.ppid = 0x3ffffff0;
	EXPECT_EQ(-EINVAL, hello_item(fd, 0, KDBUS_ITEM_PIDS, &pids, sizeof(pids)));
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);
}

TEST_F(hello, faked_pids_wrong_size_einval)
{
	struct kdbus_pids pids = { .pid = getpid(), .tid = getpid(), .ppid = getppid() };
	uint64_t longer[4] = { getpid(), getpid(), getppid(), 0 };
	int fd = open_path(self->path);

	ASSERT_LE(0, fd);
	EXPECT_EQ(-EINVAL, hello_item(fd, 0, KDBUS_ITEM_PIDS, &pids, 16));
	EXPECT_EQ(-EINVAL, hello_item(fd, 0, KDBUS_ITEM_PIDS, longer, sizeof(longer)));
	EXPECT_EQ(0, hello_item(fd, 0, KDBUS_ITEM_PIDS, &pids, sizeof(pids)));
	close(fd);
}

TEST_F(hello, faked_pids_reported_by_conn_info)
{
	struct kdbus_pids pids = { .pid = getpid(), .tid = getpid(), .ppid = getppid() };
	struct kdbus_builder b;
	struct kdbus_conn fake;
	struct kdbus_info *info;
	struct kdbus_item *item;

	ASSERT_EQ(0, kdbus_param_set(KDBUS_PARAM_DEFAULT, self->param, sizeof(self->param)));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	kdbus_b_item(&b, KDBUS_ITEM_PIDS, &pids, sizeof(pids));
	ASSERT_EQ(0, kdbus_conn_open_b(&fake, self->path, &b, 0, _KDBUS_ATTACH_ALL, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_info(fake.fd, fake.pool, fake.id, NULL, _KDBUS_ATTACH_ALL,
				     &info, NULL));
	EXPECT_EQ(1, kdbus_info_count(info));
	item = kdbus_info_item(info, KDBUS_ITEM_PIDS);
	ASSERT_NE(NULL, item);
	EXPECT_EQ((uint64_t)getpid(), item->pids.pid);
	EXPECT_EQ((uint64_t)getpid(), item->pids.tid);
	EXPECT_EQ((uint64_t)getppid(), item->pids.ppid);
	EXPECT_EQ(0, kdbus_info_free(fake.fd, fake.pool, info));
	kdbus_conn_close(&fake);
}

/* -------------------------------------------------- per-user connections */

/* Fill @n connections on @path into @fds (all ordinary, one-page pools). */
static int fill(const char *path, int *fds, int n)
{
	int i, ret;

	for (i = 0; i < n; i++) {
		fds[i] = open_path(path);
		if (fds[i] < 0)
			return fds[i];
		ret = kdbus_hello(fds[i], 0, 0, 0, POOL, NULL);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int fds[KDBUS_TEST_MAX_CONN];

TEST_F_TIMEOUT(hello, connection_1025_of_one_user_emfile, 600)
{
	int fd;

	ASSERT_EQ(0, kdbus_raise_nofile(KDBUS_TEST_MAX_CONN + 256));
	ASSERT_EQ(0, fill(self->path, fds, KDBUS_TEST_MAX_CONN));
	fd = open_path(self->path);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EMFILE, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	/* Closing one connection gives the slot back. */
	close(fds[0]);
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);
}

TEST_F_TIMEOUT(hello, byebye_keeps_the_slot_close_returns_it, 600)
{
	int fd;

	ASSERT_EQ(0, kdbus_raise_nofile(KDBUS_TEST_MAX_CONN + 256));
	ASSERT_EQ(0, fill(self->path, fds, KDBUS_TEST_MAX_CONN));
	ASSERT_EQ(0, kdbus_byebye(fds[0]));
	fd = open_path(self->path);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EMFILE, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fds[0]);
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);
}

static int nobody_hello(void *arg)
{
	struct path_arg *a = arg;
	int fd = open(a->path, O_RDWR | O_CLOEXEC);

	KDBUS_CHILD_CHECK(fd >= 0);
	KDBUS_CHILD_CHECK(kdbus_hello(fd, 0, 0, 0, POOL, NULL) == 0);
	return 0;
}

TEST_F_TIMEOUT(hello, connection_limit_is_per_user_and_per_custom_endpoint, 600)
{
	struct path_arg a = { .path = self->path };
	char ep_path[256];
	int ep, fd;

	ASSERT_EQ(0, kdbus_raise_nofile(KDBUS_TEST_MAX_CONN + 256));
	ep = make_endpoint(&self->d, self->bus, ep_path, sizeof(ep_path));
	ASSERT_LE(0, ep);
	ASSERT_EQ(0, fill(self->path, fds, KDBUS_TEST_MAX_CONN));
	fd = open_path(self->path);
	ASSERT_LE(0, fd);
	ASSERT_EQ(-EMFILE, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);
	/* Another real UID has its own budget. */
	EXPECT_EQ(0, kdbus_run_as(KDBUS_TEST_NOBODY, KDBUS_TEST_NOBODY, nobody_hello, &a));
	/* A custom endpoint charges its own anonymous user. */
	fd = open_path(ep_path);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, kdbus_hello(fd, 0, 0, 0, POOL, NULL));
	close(fd);
	close(ep);
}

TEST_HARNESS_MAIN
