// SPDX-License-Identifier: GPL-2.0
/*
 * Metadata (names-match-policy-metadata.md §4, §5.2; connection-pool.md §7;
 * message.md §5.4): the process items EXE, CMDLINE, CGROUP, CAPS, SECLABEL
 * and AUDIT next to CREDS, PIDS, AUXGROUPS and the comms, what SEND
 * collects (only what a receiver needs, failures fatal for unicast only),
 * their order, and their translation into the reading task's user and pid
 * namespaces and filesystem root (§4.4: at RECV, for CONN_INFO and
 * BUS_CREATOR_INFO in the querying task, for a synchronous call's reply in
 * the waiting caller; mapped ids, overflow ids, unmapped loginuid).
 * Checklist §7 "Metadata".
 *
 * Covered elsewhere: notifications carry only a requested TIMESTAMP
 * (test-notify), a receiver's UPDATE does not change queued messages and
 * TIMESTAMP seqnums increase (test-recv), the bus-required mask and
 * unknown attach bits in HELLO, UPDATE, CONN_INFO and BUS_CREATOR_INFO
 * (test-hello, test-conn, test-conn-info, test-creator-info), faked CREDS
 * of 64-bit ~0 (test-hello).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kdbus-util.h"
#include "kselftest_harness.h"

#define POOL		KDBUS_TEST_POOL_SIZE
#define BIG		(1 << 20)
#define PARAM_ALL	"16383"		/* _KDBUS_ATTACH_ALL */

#define PROCESS_ITEMS	(KDBUS_ATTACH_CREDS | KDBUS_ATTACH_PIDS | KDBUS_ATTACH_AUXGROUPS | \
			 KDBUS_ATTACH_TID_COMM | KDBUS_ATTACH_PID_COMM | KDBUS_ATTACH_EXE | \
			 KDBUS_ATTACH_CMDLINE | KDBUS_ATTACH_CGROUP | KDBUS_ATTACH_CAPS | \
			 KDBUS_ATTACH_SECLABEL | KDBUS_ATTACH_AUDIT)

/* Delivery order of metadata items (§4.1). */
static const uint64_t meta_order[] = {
	KDBUS_ITEM_CREDS, KDBUS_ITEM_PIDS, KDBUS_ITEM_AUXGROUPS, KDBUS_ITEM_TID_COMM,
	KDBUS_ITEM_PID_COMM, KDBUS_ITEM_EXE, KDBUS_ITEM_CMDLINE, KDBUS_ITEM_CGROUP,
	KDBUS_ITEM_CAPS, KDBUS_ITEM_SECLABEL, KDBUS_ITEM_AUDIT, KDBUS_ITEM_OWNED_NAME,
	KDBUS_ITEM_CONN_DESCRIPTION, KDBUS_ITEM_TIMESTAMP,
};

FIXTURE(meta) {
	struct kdbus_test_bus tb;
};

FIXTURE_SETUP(meta)
{
	ASSERT_EQ(0, kdbus_test_bus_setup(&self->tb, "meta", true));
}

FIXTURE_TEARDOWN(meta)
{
	kdbus_test_bus_teardown(&self->tb);
}

/* A connection with the given masks and a large pool. */
static int open_conn(struct kdbus_conn *c, const char *path, uint64_t send, uint64_t recv)
{
	return kdbus_conn_open_b(c, path, NULL, 0, send, recv, BIG);
}

/* A received message, copied out of the pool. */
struct got {
	uint64_t buf[2048];
	struct kdbus_msg *m;
};

/* RECV one message on @c into @g (its slice is freed). 0 or -errno. */
static int recv_copy(struct kdbus_conn *c, struct got *g)
{
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	int ret = kdbus_msg_recv(c, 0, 0, &m, &r);

	if (ret < 0)
		return ret;
	if (m->size > sizeof(g->buf)) {
		kdbus_free(c->fd, r.msg.offset);
		return -E2BIG;
	}
	memcpy(g->buf, m, m->size);
	g->m = (struct kdbus_msg *)g->buf;
	return kdbus_free(c->fd, r.msg.offset);
}

/* RECV one message on @c into @g, as recv_copy(); its first item of @type,
 * NULL if the RECV failed or the message has none. */
static struct kdbus_item *recv_item(struct kdbus_conn *c, struct got *g, uint64_t type)
{
	return recv_copy(c, g) ? NULL : kdbus_msg_item(g->m, type, 0);
}

/* Number of items of @type in a message. */
static int count_type(struct kdbus_msg *m, uint64_t type)
{
	struct kdbus_item *item;
	int n = 0;

	KDBUS_ITEM_FOREACH(item, m, items)
		n += item->type == type;
	return n;
}

/* Number of process items (types 0x1001-0x100c but OWNED_NAME). */
static int count_process(struct kdbus_item *first, size_t len)
{
	struct kdbus_item *item;
	int n = 0;

	KDBUS_ITEMS_FOREACH(item, first, len)
		n += item->type >= KDBUS_ITEM_CREDS && item->type <= KDBUS_ITEM_AUDIT &&
		     item->type != KDBUS_ITEM_OWNED_NAME;
	return n;
}

/* Position of @type in meta_order, or -1. */
static int order_of(uint64_t type)
{
	size_t i;

	for (i = 0; i < sizeof(meta_order) / sizeof(meta_order[0]); i++)
		if (meta_order[i] == type)
			return i;
	return -1;
}

/* Whether reading @path succeeds. */
static bool readable(const char *path)
{
	char buf[256];

	return kdbus_read_file(path, buf, sizeof(buf)) >= 0;
}

/* The process items this kernel provides for the test process (§4.1
 * availability rules). */
static uint64_t available_items(void)
{
	uint64_t a = PROCESS_ITEMS;

	if (access("/proc/self/cgroup", F_OK))
		a &= ~KDBUS_ATTACH_CGROUP;
	if (access("/proc/self/loginuid", F_OK))
		a &= ~KDBUS_ATTACH_AUDIT;
	if (!readable("/proc/self/attr/current"))
		a &= ~KDBUS_ATTACH_SECLABEL;
	return a;
}

static int popcount(uint64_t v)
{
	return __builtin_popcountll(v);
}

/* argv[0] of this process, from /proc/self/cmdline. */
static void own_argv0(char *buf, size_t len)
{
	if (kdbus_read_file("/proc/self/cmdline", buf, len) < 0)
		buf[0] = 0;
}

/* The path of the default-hierarchy line ("0::<path>") of
 * /proc/self/cgroup; "/" when the line is missing (cgroup2 is not mounted,
 * so every task is in its root). */
static void own_cgroup(char *buf, size_t len)
{
	char file[4096], *p;

	snprintf(buf, len, "/");
	if (kdbus_read_file("/proc/self/cgroup", file, sizeof(file)) < 0)
		return;
	p = strstr(file, "0::");
	if (p != file && p && p[-1] != '\n')
		p = NULL;
	if (!p)
		return;
	p += 3;
	snprintf(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
}

/* A hexadecimal field ("CapEff:") of /proc/self/status. */
static uint64_t status_hex(const char *field)
{
	char file[4096], *p;

	if (kdbus_read_file("/proc/self/status", file, sizeof(file)) < 0)
		return ~0ULL;
	p = strstr(file, field);
	return p ? strtoull(p + strlen(field), NULL, 16) : ~0ULL;
}

static long read_long(const char *path)
{
	char buf[64];

	if (kdbus_read_file(path, buf, sizeof(buf)) < 0)
		return -1;
	return strtol(buf, NULL, 10);
}

/* ------------------------------------------------------------------ CREDS */

struct sender {
	int fd;
	uint64_t dst;
	int ret;
	pid_t tid;
};

/* In a child: switch to distinct real/effective/saved ids, then send. */
static int send_with_odd_ids(void *arg)
{
	struct sender *s = arg;

	KDBUS_CHILD_CHECK(setresgid(4, 5, 6) == 0);
	KDBUS_CHILD_CHECK(setresuid(1, 2, 3) == 0);
	KDBUS_CHILD_CHECK(kdbus_msg_send(s->fd, s->dst, 0, 0, 1, NULL, 0) == 0);
	return 0;
}

TEST_F(meta, creds_are_the_sender_ids_at_send_time)
{
	struct kdbus_conn tx, rx;
	struct sender s;
	struct got g;
	struct kdbus_item *item;

	ASSERT_EQ(0, kdbus_conn_open(&tx, self->tb.path, 0, POOL));
	ASSERT_EQ(0, open_conn(&rx, self->tb.path, 0, KDBUS_ATTACH_CREDS));
	s.fd = tx.fd;
	s.dst = rx.id;
	ASSERT_EQ(0, kdbus_run(send_with_odd_ids, &s));
	ASSERT_EQ(0, recv_copy(&rx, &g));
	item = kdbus_msg_item(g.m, KDBUS_ITEM_CREDS, 0);
	ASSERT_NE(NULL, item);
	EXPECT_EQ(16 + 64, item->size);
	EXPECT_EQ(1, item->creds.uid);
	EXPECT_EQ(2, item->creds.euid);
	EXPECT_EQ(3, item->creds.suid);
	EXPECT_EQ(2, item->creds.fsuid);
	EXPECT_EQ(4, item->creds.gid);
	EXPECT_EQ(5, item->creds.egid);
	EXPECT_EQ(6, item->creds.sgid);
	EXPECT_EQ(5, item->creds.fsgid);
	EXPECT_EQ(1, count_process(g.m->items, g.m->size - sizeof(*g.m)));
	kdbus_conn_close(&rx);
	kdbus_conn_close(&tx);
}

/* ------------------------------------------------------------ negotiation */

TEST_F(meta, new_items_need_send_and_recv_masks)
{
	struct kdbus_conn tx, rx;
	struct got g;

	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, PARAM_ALL));
	ASSERT_EQ(0, open_conn(&tx, self->tb.path,
			       _KDBUS_ATTACH_ALL & ~(KDBUS_ATTACH_EXE | KDBUS_ATTACH_CAPS), 0));
	ASSERT_EQ(0, open_conn(&rx, self->tb.path, 0,
			       KDBUS_ATTACH_EXE | KDBUS_ATTACH_CMDLINE | KDBUS_ATTACH_CAPS));
	ASSERT_EQ(0, kdbus_msg_send(tx.fd, rx.id, 0, 0, 1, NULL, 0));
	ASSERT_EQ(0, recv_copy(&rx, &g));
	EXPECT_EQ(1, kdbus_msg_count(g.m));
	EXPECT_EQ(1, count_type(g.m, KDBUS_ITEM_CMDLINE));

	/* The sender allows everything, the receiver asks for CAPS only. */
	ASSERT_EQ(0, kdbus_update_u64(tx.fd, KDBUS_ITEM_ATTACH_FLAGS_SEND, _KDBUS_ATTACH_ANY));
	ASSERT_EQ(0, kdbus_update_u64(rx.fd, KDBUS_ITEM_ATTACH_FLAGS_RECV, KDBUS_ATTACH_CAPS));
	ASSERT_EQ(0, kdbus_msg_send(tx.fd, rx.id, 0, 0, 2, NULL, 0));
	ASSERT_EQ(0, recv_copy(&rx, &g));
	EXPECT_EQ(1, kdbus_msg_count(g.m));
	EXPECT_EQ(1, count_type(g.m, KDBUS_ITEM_CAPS));
	kdbus_conn_close(&rx);
	kdbus_conn_close(&tx);
}

TEST_F(meta, default_module_mask_hides_comm_exe_cmdline_cgroup_caps_audit)
{
	const uint64_t hidden = KDBUS_ATTACH_TID_COMM | KDBUS_ATTACH_PID_COMM |
				KDBUS_ATTACH_EXE | KDBUS_ATTACH_CMDLINE | KDBUS_ATTACH_CGROUP |
				KDBUS_ATTACH_CAPS | KDBUS_ATTACH_AUDIT;
	struct kdbus_conn tx, rx;
	struct kdbus_info *info;
	struct got g;

	ASSERT_EQ(0, open_conn(&tx, self->tb.path, _KDBUS_ATTACH_ALL, 0));
	ASSERT_EQ(0, open_conn(&rx, self->tb.path, 0, hidden));
	ASSERT_EQ(0, kdbus_msg_send(tx.fd, rx.id, 0, 0, 1, NULL, 0));
	ASSERT_EQ(0, recv_copy(&rx, &g));
	EXPECT_EQ(0, kdbus_msg_count(g.m));
	EXPECT_EQ(64, g.m->size);
	ASSERT_EQ(0, kdbus_conn_info(rx.fd, rx.pool, tx.id, NULL, hidden, &info, NULL));
	EXPECT_EQ(0, kdbus_info_count(info));
	EXPECT_EQ(0, kdbus_info_free(rx.fd, rx.pool, info));
	kdbus_conn_close(&rx);
	kdbus_conn_close(&tx);
}

TEST_F(meta, bus_make_unknown_attach_bits_einval_any_is_all)
{
	char name[64];
	int ctl;

	ctl = kdbus_open_control(self->tb.d.root);
	ASSERT_LE(0, ctl);
	kdbus_domain_name(&self->tb.d, name, sizeof(name), "mk");
	EXPECT_EQ(-EINVAL, kdbus_bus_make(ctl, 0, name, 64, 1,
					  KDBUS_OPT_ATTACH_SEND(1ULL << 14)));
	EXPECT_EQ(-EINVAL, kdbus_bus_make(ctl, 0, name, 64, 1,
					  KDBUS_OPT_ATTACH_RECV(_KDBUS_ATTACH_ALL + 1)));
	close(ctl);
	ctl = kdbus_open_control(self->tb.d.root);
	ASSERT_LE(0, ctl);
	EXPECT_EQ(0, kdbus_bus_make(ctl, 0, name, 64, 1, KDBUS_OPT_ATTACH_SEND(~0ULL),
				    KDBUS_OPT_ATTACH_RECV(~0ULL)));
	close(ctl);
}

/* ------------------------------------------------------- item contents */

TEST_F(meta, cmdline_is_argv0_and_caps_match_the_kernel)
{
	struct kdbus_conn tx, rx;
	struct kdbus_item *item;
	char argv0[4096];
	uint64_t valid, set;
	long last_cap = read_long("/proc/sys/kernel/cap_last_cap");
	struct got g;
	int i;

	ASSERT_LT(0, last_cap);
	own_argv0(argv0, sizeof(argv0));
	ASSERT_NE(0, argv0[0]);
	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, PARAM_ALL));
	ASSERT_EQ(0, open_conn(&tx, self->tb.path, _KDBUS_ATTACH_ALL, 0));
	ASSERT_EQ(0, open_conn(&rx, self->tb.path, 0, KDBUS_ATTACH_CMDLINE | KDBUS_ATTACH_CAPS));
	ASSERT_EQ(0, kdbus_msg_send(tx.fd, rx.id, 0, 0, 1, NULL, 0));
	ASSERT_EQ(0, recv_copy(&rx, &g));

	item = kdbus_msg_item(g.m, KDBUS_ITEM_CMDLINE, 0);
	ASSERT_NE(NULL, item);
	EXPECT_EQ(16 + strlen(argv0) + 1, item->size);
	EXPECT_STREQ(argv0, item->str);

	item = kdbus_msg_item(g.m, KDBUS_ITEM_CAPS, 0);
	ASSERT_NE(NULL, item);
	EXPECT_EQ(52, item->size);
	EXPECT_EQ(last_cap, item->caps.last_cap);
	valid = last_cap >= 63 ? ~0ULL : (1ULL << (last_cap + 1)) - 1;
	for (i = 0; i < 4; i++) {
		set = item->caps.caps[2 * i] | (uint64_t)item->caps.caps[2 * i + 1] << 32;
		EXPECT_EQ(0, set & ~valid) TH_LOG("set %d", i);
		if (i == 0)
			EXPECT_EQ(status_hex("CapInh:"), set);
		if (i == 1)
			EXPECT_EQ(status_hex("CapPrm:"), set);
		if (i == 2)
			EXPECT_EQ(status_hex("CapEff:"), set);
		if (i == 3)
			EXPECT_EQ(status_hex("CapBnd:"), set);
	}
	kdbus_conn_close(&rx);
	kdbus_conn_close(&tx);
}

static void *send_from_thread(void *arg)
{
	struct sender *s = arg;

	s->tid = syscall(SYS_gettid);
	s->ret = kdbus_msg_send(s->fd, s->dst, 0, 0, 1, NULL, 0);
	return NULL;
}

TEST_F(meta, pids_are_thread_process_and_parent)
{
	struct kdbus_conn tx, rx;
	struct kdbus_item *item;
	struct sender s = { 0 };
	pthread_t th;
	struct got g;

	ASSERT_EQ(0, kdbus_conn_open(&tx, self->tb.path, 0, POOL));
	ASSERT_EQ(0, open_conn(&rx, self->tb.path, 0, KDBUS_ATTACH_PIDS));
	s.fd = tx.fd;
	s.dst = rx.id;
	ASSERT_EQ(0, pthread_create(&th, NULL, send_from_thread, &s));
	pthread_join(th, NULL);
	ASSERT_EQ(0, s.ret);
	ASSERT_EQ(0, recv_copy(&rx, &g));
	item = kdbus_msg_item(g.m, KDBUS_ITEM_PIDS, 0);
	ASSERT_NE(NULL, item);
	EXPECT_EQ(getpid(), item->pids.pid);
	EXPECT_EQ(s.tid, item->pids.tid);
	EXPECT_NE(getpid(), s.tid);
	EXPECT_EQ(getppid(), item->pids.ppid);
	kdbus_conn_close(&rx);
	kdbus_conn_close(&tx);
}

TEST_F(meta, owned_names_at_send_time_not_queued_ones)
{
	struct kdbus_conn tx, rx, other;
	struct kdbus_item *item;
	uint64_t rf;
	struct got g;

	ASSERT_EQ(0, kdbus_conn_open(&tx, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&other, self->tb.path, 0, POOL));
	ASSERT_EQ(0, open_conn(&rx, self->tb.path, 0, KDBUS_ATTACH_NAMES));
	ASSERT_EQ(0, kdbus_name_acquire(tx.fd, "org.meta.a", KDBUS_NAME_ALLOW_REPLACEMENT, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(other.fd, "org.meta.b", 0, NULL));
	ASSERT_EQ(0, kdbus_name_acquire(tx.fd, "org.meta.b", KDBUS_NAME_QUEUE, &rf));
	EXPECT_EQ(KDBUS_NAME_IN_QUEUE, rf);

	ASSERT_EQ(0, kdbus_msg_send(tx.fd, rx.id, 0, 0, 1, NULL, 0));
	/* Released after sending: the queued message keeps its names. */
	ASSERT_EQ(0, kdbus_name_release(tx.fd, "org.meta.a"));
	ASSERT_EQ(0, kdbus_msg_send(tx.fd, rx.id, 0, 0, 2, NULL, 0));

	ASSERT_EQ(0, recv_copy(&rx, &g));
	EXPECT_EQ(1, kdbus_msg_count(g.m));
	item = kdbus_msg_item(g.m, KDBUS_ITEM_OWNED_NAME, 0);
	ASSERT_NE(NULL, item);
	EXPECT_STREQ("org.meta.a", item->name.name);
	EXPECT_EQ(KDBUS_NAME_ALLOW_REPLACEMENT, item->name.flags);
	ASSERT_EQ(0, recv_copy(&rx, &g));
	EXPECT_EQ(0, kdbus_msg_count(g.m));
	kdbus_conn_close(&rx);
	kdbus_conn_close(&other);
	kdbus_conn_close(&tx);
}

TEST_F(meta, every_item_once_in_order_with_the_sender_values)
{
	uint64_t avail = available_items();
	struct kdbus_conn tx, rx;
	struct kdbus_builder b;
	struct kdbus_item *item;
	char exe[4096] = "", cgroup[4096], comm[32] = "";
	uint64_t size = 64;
	int last = -1, n = 0;
	struct got g;
	ssize_t len;

	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ASSERT_LT(0, len);
	exe[len] = 0;
	own_cgroup(cgroup, sizeof(cgroup));
	kdbus_read_file("/proc/self/comm", comm, sizeof(comm));
	comm[strcspn(comm, "\n")] = 0;
	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, PARAM_ALL));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	kdbus_b_str(&b, KDBUS_ITEM_CONN_DESCRIPTION, "meta-tx");
	ASSERT_EQ(0, kdbus_conn_open_b(&tx, self->tb.path, &b, 0, _KDBUS_ATTACH_ALL, 0, POOL));
	ASSERT_EQ(0, open_conn(&rx, self->tb.path, 0, _KDBUS_ATTACH_ALL));
	ASSERT_EQ(0, kdbus_name_acquire(tx.fd, "org.meta.all", 0, NULL));
	ASSERT_EQ(0, kdbus_msg_send(tx.fd, rx.id, 0, 0, 1, NULL, 0));
	ASSERT_EQ(0, recv_copy(&rx, &g));

	KDBUS_ITEM_FOREACH(item, g.m, items) {
		int pos = order_of(item->type);

		EXPECT_LT(last, pos) TH_LOG("item %d type %#llx", n,
					     (unsigned long long)item->type);
		last = pos;
		size += KDBUS_ALIGN8(item->size);
		n++;
		switch (item->type) {
		case KDBUS_ITEM_EXE:
			EXPECT_STREQ(exe, item->str);
			break;
		case KDBUS_ITEM_CGROUP:
			EXPECT_STREQ(cgroup, item->str);
			break;
		case KDBUS_ITEM_TID_COMM:
		case KDBUS_ITEM_PID_COMM:
			EXPECT_STREQ(comm, item->str);
			break;
		case KDBUS_ITEM_AUDIT:
			EXPECT_EQ((uint32_t)read_long("/proc/self/sessionid"),
				  item->audit.sessionid);
			EXPECT_EQ((uint32_t)read_long("/proc/self/loginuid"),
				  item->audit.loginuid);
			break;
		}
	}
	EXPECT_EQ(KDBUS_ITEM_TIMESTAMP, meta_order[last]);
	EXPECT_EQ(popcount(avail), count_process(g.m->items, g.m->size - sizeof(*g.m)));
	EXPECT_EQ(!!(avail & KDBUS_ATTACH_CGROUP), count_type(g.m, KDBUS_ITEM_CGROUP));
	EXPECT_EQ(!!(avail & KDBUS_ATTACH_AUDIT), count_type(g.m, KDBUS_ITEM_AUDIT));
	EXPECT_EQ(!!(avail & KDBUS_ATTACH_SECLABEL), count_type(g.m, KDBUS_ITEM_SECLABEL));
	EXPECT_EQ(1, count_type(g.m, KDBUS_ITEM_OWNED_NAME));
	EXPECT_EQ(1, count_type(g.m, KDBUS_ITEM_CONN_DESCRIPTION));
	EXPECT_EQ(popcount(avail) + 3, n);
	EXPECT_EQ(size, g.m->size);
	kdbus_conn_close(&rx);
	kdbus_conn_close(&tx);
}

/* --------------------------------------------------------- collection */

TEST_F(meta, one_broadcast_gives_each_receiver_its_own_selection)
{
	struct kdbus_conn tx, r1, r2;
	struct got g;

	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, PARAM_ALL));
	ASSERT_EQ(0, open_conn(&tx, self->tb.path, _KDBUS_ATTACH_ALL, 0));
	ASSERT_EQ(0, open_conn(&r1, self->tb.path, 0, KDBUS_ATTACH_CREDS));
	ASSERT_EQ(0, open_conn(&r2, self->tb.path, 0,
			       KDBUS_ATTACH_CMDLINE | KDBUS_ATTACH_PIDS));
	ASSERT_EQ(0, kdbus_match_add(r1.fd, 1, 0));
	ASSERT_EQ(0, kdbus_match_add(r2.fd, 1, 0));
	ASSERT_EQ(0, kdbus_broadcast(&tx, 7, NULL));

	ASSERT_EQ(0, recv_copy(&r1, &g));
	EXPECT_EQ(1, count_process(g.m->items, g.m->size - sizeof(*g.m)));
	EXPECT_EQ(1, count_type(g.m, KDBUS_ITEM_CREDS));
	ASSERT_EQ(0, recv_copy(&r2, &g));
	EXPECT_EQ(2, count_process(g.m->items, g.m->size - sizeof(*g.m)));
	EXPECT_EQ(1, count_type(g.m, KDBUS_ITEM_PIDS));
	EXPECT_EQ(1, count_type(g.m, KDBUS_ITEM_CMDLINE));
	kdbus_conn_close(&r2);
	kdbus_conn_close(&r1);
	kdbus_conn_close(&tx);
}

struct broken_cmdline {
	const char *path;
	struct kdbus_conn *tx;
	uint64_t dst;
};

/* In a child: point the argument area at bytes without a NUL, then try a
 * HELLO, a unicast and a broadcast. */
static int send_without_argv0(void *arg)
{
	struct broken_cmdline *bc = arg;
	char *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	int fd;

	KDBUS_CHILD_CHECK(page != MAP_FAILED);
	memset(page, 'x', 8192);
	KDBUS_CHILD_CHECK(prctl(PR_SET_MM, PR_SET_MM_ARG_START, page, 0, 0) == 0);
	KDBUS_CHILD_CHECK(prctl(PR_SET_MM, PR_SET_MM_ARG_END, page + 4096, 0, 0) == 0);
	/* HELLO collects everything and fails. */
	fd = open(bc->path, O_RDWR | O_CLOEXEC);
	KDBUS_CHILD_CHECK(fd >= 0);
	KDBUS_CHILD_CHECK(kdbus_hello(fd, 0, 0, 0, POOL, NULL) == -EINVAL);
	close(fd);
	/* A unicast fails with the collection error... */
	KDBUS_CHILD_CHECK(kdbus_msg_send(bc->tx->fd, bc->dst, 0, 0, 1, NULL, 0) == -EINVAL);
	/* ...a broadcast goes out with what could be collected. */
	KDBUS_CHILD_CHECK(kdbus_broadcast(bc->tx, 2, NULL) == 0);
	return 0;
}

TEST_F(meta, cmdline_without_nul_fails_unicast_and_hello_not_broadcast)
{
	struct kdbus_conn tx, rx;
	struct broken_cmdline bc;
	struct got g;

	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, PARAM_ALL));
	ASSERT_EQ(0, open_conn(&tx, self->tb.path, _KDBUS_ATTACH_ALL, 0));
	ASSERT_EQ(0, open_conn(&rx, self->tb.path, 0, KDBUS_ATTACH_CMDLINE | KDBUS_ATTACH_CREDS));
	ASSERT_EQ(0, kdbus_match_add(rx.fd, 1, 0));
	bc.path = self->tb.path;
	bc.tx = &tx;
	bc.dst = rx.id;
	ASSERT_EQ(0, kdbus_run(send_without_argv0, &bc));
	ASSERT_EQ(0, recv_copy(&rx, &g));
	EXPECT_EQ(2, g.m->cookie);
	EXPECT_EQ(0, count_type(g.m, KDBUS_ITEM_CMDLINE));
	EXPECT_EQ(1, count_type(g.m, KDBUS_ITEM_CREDS));
	EXPECT_EQ(1, kdbus_queue_empty(&rx));
	kdbus_conn_close(&rx);
	kdbus_conn_close(&tx);
}

/* The same with a monitor that asks for CMDLINE: the failed collection
 * still fails the unicast (message.md §3.7: a monitor's copy comes after
 * the collection succeeded), so the monitor sees neither it nor a lost
 * message, only the broadcast. */
TEST_F(meta, cmdline_without_nul_fails_unicast_with_a_monitor_too)
{
	struct kdbus_conn tx, rx, mon;
	struct broken_cmdline bc;
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;
	struct got g;

	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, PARAM_ALL));
	ASSERT_EQ(0, kdbus_conn_open_monitor(&mon, self->tb.path, 0,
					     KDBUS_ATTACH_CMDLINE | KDBUS_ATTACH_CREDS, BIG));
	ASSERT_EQ(0, open_conn(&tx, self->tb.path, _KDBUS_ATTACH_ALL, 0));
	ASSERT_EQ(0, open_conn(&rx, self->tb.path, 0, KDBUS_ATTACH_CMDLINE | KDBUS_ATTACH_CREDS));
	ASSERT_EQ(0, kdbus_match_add(rx.fd, 1, 0));
	bc.path = self->tb.path;
	bc.tx = &tx;
	bc.dst = rx.id;
	ASSERT_EQ(0, kdbus_run(send_without_argv0, &bc));
	ASSERT_EQ(0, recv_copy(&rx, &g));
	EXPECT_EQ(2, g.m->cookie);
	EXPECT_EQ(1, kdbus_queue_empty(&rx));
	/* The monitor: the ID_ADDs of tx and rx (before the child), then only
	 * the broadcast, and no lost message. */
	for (;;) {
		ASSERT_EQ(0, kdbus_msg_recv(&mon, 0, 0, &m, &r));
		EXPECT_EQ(0, r.dropped_msgs);
		if (m->src_id != KDBUS_SRC_ID_KERNEL)
			break;
		kdbus_free(mon.fd, r.msg.offset);
	}
	EXPECT_EQ(2, m->cookie);
	EXPECT_EQ(0, count_type(m, KDBUS_ITEM_CMDLINE));
	EXPECT_EQ(1, count_type(m, KDBUS_ITEM_CREDS));
	kdbus_free(mon.fd, r.msg.offset);
	while (kdbus_msg_recv(&mon, 0, 0, &m, &r) == 0) {
		EXPECT_EQ(KDBUS_SRC_ID_KERNEL, m->src_id);
		EXPECT_EQ(0, r.dropped_msgs);
		kdbus_free(mon.fd, r.msg.offset);
	}
	kdbus_conn_close(&rx);
	kdbus_conn_close(&tx);
	kdbus_conn_close(&mon);
}

/* ------------------------------------------------------- faked metadata */

/* HELLO with faked CREDS {1000 x 4, 2000 x 4}, send mask ALL. */
static int open_faked(struct kdbus_conn *c, const char *path)
{
	struct kdbus_creds cr = { 1000, 1000, 1000, 1000, 2000, 2000, 2000, 2000 };
	struct kdbus_builder b;

	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	kdbus_b_item(&b, KDBUS_ITEM_CREDS, &cr, sizeof(cr));
	kdbus_b_str(&b, KDBUS_ITEM_CONN_DESCRIPTION, "faked");
	return kdbus_conn_open_b(c, path, &b, 0, _KDBUS_ATTACH_ALL, 0, BIG);
}

TEST_F(meta, faked_sender_sends_no_process_items_with_all_masks)
{
	struct kdbus_conn tx, rx;
	struct got g;

	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, PARAM_ALL));
	ASSERT_EQ(0, open_faked(&tx, self->tb.path));
	ASSERT_EQ(0, open_conn(&rx, self->tb.path, 0, _KDBUS_ATTACH_ALL));
	ASSERT_EQ(0, kdbus_msg_send(tx.fd, rx.id, 0, 0, 1, NULL, 0));
	ASSERT_EQ(0, recv_copy(&rx, &g));
	EXPECT_EQ(0, count_process(g.m->items, g.m->size - sizeof(*g.m)));
	EXPECT_EQ(1, count_type(g.m, KDBUS_ITEM_CONN_DESCRIPTION));
	EXPECT_EQ(1, count_type(g.m, KDBUS_ITEM_TIMESTAMP));
	EXPECT_EQ(2, kdbus_msg_count(g.m));
	kdbus_conn_close(&rx);
	kdbus_conn_close(&tx);
}

TEST_F(meta, conn_info_of_faked_conn_has_only_the_faked_items)
{
	struct kdbus_conn fake, obs;
	struct kdbus_info *info;
	struct kdbus_item *item;

	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, PARAM_ALL));
	ASSERT_EQ(0, open_faked(&fake, self->tb.path));
	ASSERT_EQ(0, kdbus_conn_open(&obs, self->tb.path, 0, BIG));
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, fake.id, NULL, _KDBUS_ATTACH_ALL,
				     &info, NULL));
	EXPECT_EQ(1, count_process(info->items, info->size - sizeof(*info)));
	item = kdbus_info_item(info, KDBUS_ITEM_CREDS);
	ASSERT_NE(NULL, item);
	EXPECT_EQ(1000, item->creds.uid);
	EXPECT_EQ(1000, item->creds.fsuid);
	EXPECT_EQ(2000, item->creds.gid);
	EXPECT_EQ(2000, item->creds.fsgid);
	EXPECT_NE(NULL, kdbus_info_item(info, KDBUS_ITEM_CONN_DESCRIPTION));
	EXPECT_EQ(2, kdbus_info_count(info));
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));
	kdbus_conn_close(&obs);
	kdbus_conn_close(&fake);
}

#define FAKE_LABEL	"system_u:object_r:kdbus_fake_t:s0"

TEST_F(meta, faked_seclabel_reads_back_verbatim_and_is_never_sent)
{
	struct kdbus_conn fake, obs;
	struct kdbus_builder b;
	struct kdbus_info *info;
	struct kdbus_item *item;
	struct got g;

	/* The fixture's module mask (the default) includes SECLABEL. */
	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	kdbus_b_str(&b, KDBUS_ITEM_SECLABEL, FAKE_LABEL);
	ASSERT_EQ(0, kdbus_conn_open_b(&fake, self->tb.path, &b, 0, _KDBUS_ATTACH_ALL, 0, BIG));
	ASSERT_EQ(0, open_conn(&obs, self->tb.path, 0, _KDBUS_ATTACH_ALL));

	/* CONN_INFO: exactly the supplied label, and nothing else collected. */
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, fake.id, NULL, KDBUS_ATTACH_SECLABEL,
				     &info, NULL));
	EXPECT_EQ(1, kdbus_info_count(info));
	item = kdbus_info_item(info, KDBUS_ITEM_SECLABEL);
	ASSERT_NE(NULL, item);
	EXPECT_EQ(KDBUS_ITEM_HEADER_SIZE + sizeof(FAKE_LABEL), item->size);
	EXPECT_STREQ(FAKE_LABEL, item->str);
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, fake.id, NULL, _KDBUS_ATTACH_ALL,
				     &info, NULL));
	EXPECT_EQ(1, kdbus_info_count(info));
	EXPECT_NE(NULL, kdbus_info_item(info, KDBUS_ITEM_SECLABEL));
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));
	/* Not requested: not reported. */
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, fake.id, NULL,
				     KDBUS_ATTACH_CREDS | KDBUS_ATTACH_PIDS, &info, NULL));
	EXPECT_EQ(0, kdbus_info_count(info));
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));

	/* Its messages carry no process items at all: neither the faked
	 * label nor the sending task's real one, CREDS or PIDS (§4.2). */
	ASSERT_EQ(0, kdbus_msg_send(fake.fd, obs.id, 0, 0, 1, NULL, 0));
	ASSERT_EQ(0, recv_copy(&obs, &g));
	EXPECT_EQ(0, count_type(g.m, KDBUS_ITEM_SECLABEL));
	EXPECT_EQ(0, count_process(g.m->items, g.m->size - sizeof(*g.m)));
	EXPECT_EQ(1, count_type(g.m, KDBUS_ITEM_TIMESTAMP));
	EXPECT_EQ(1, kdbus_msg_count(g.m));
	kdbus_conn_close(&obs);
	kdbus_conn_close(&fake);
}

/* ------------------------------------------------------------ namespaces */

/* In the reading child: RECV one message and check it; @arg is the
 * receiver. */
static int recv_in_userns(void *arg)
{
	struct kdbus_conn *rx = arg;
	struct kdbus_item *item;
	struct got g;

	item = recv_item(rx, &g, KDBUS_ITEM_CREDS);
	KDBUS_CHILD_CHECK(item != NULL);
	KDBUS_CHILD_CHECK(item->creds.uid == KDBUS_TEST_OVERFLOW_ID);
	KDBUS_CHILD_CHECK(item->creds.euid == KDBUS_TEST_OVERFLOW_ID);
	KDBUS_CHILD_CHECK(item->creds.fsgid == KDBUS_TEST_OVERFLOW_ID);
	KDBUS_CHILD_CHECK(kdbus_msg_item(g.m, KDBUS_ITEM_CAPS, 0) == NULL);
	/* Items without translation are still there. */
	KDBUS_CHILD_CHECK(kdbus_msg_item(g.m, KDBUS_ITEM_CMDLINE, 0) != NULL);
	/* The size covers exactly the items written. */
	KDBUS_CHILD_CHECK(kdbus_msg_count(g.m) == 2);
	return 0;
}

TEST_F(meta, child_userns_reader_sees_overflow_ids_and_no_caps)
{
	static const struct kdbus_userns ns = {
		.creator_uid = 0,
		.creator_gid = 0,
		.uid_map = "0 100000 1",
		.gid_map = "0 100000 1",
		.uid = 0,
		.gid = 0,
	};
	const uint64_t want = KDBUS_ATTACH_CREDS | KDBUS_ATTACH_CMDLINE | KDBUS_ATTACH_CAPS;
	struct kdbus_conn tx, rx;
	struct kdbus_cmd_recv r;
	struct kdbus_msg *m;

	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, PARAM_ALL));
	ASSERT_EQ(0, open_conn(&tx, self->tb.path, _KDBUS_ATTACH_ALL, 0));
	ASSERT_EQ(0, open_conn(&rx, self->tb.path, 0, want));
	ASSERT_EQ(0, kdbus_msg_send(tx.fd, rx.id, 0, 0, 1, NULL, 0));
	/* A reader in our namespace sees uid 0 and CAPS... */
	ASSERT_EQ(0, kdbus_msg_recv(&rx, KDBUS_RECV_PEEK, 0, &m, &r));
	EXPECT_EQ(3, kdbus_msg_count(m));
	ASSERT_NE(NULL, kdbus_msg_item(m, KDBUS_ITEM_CREDS, 0));
	EXPECT_EQ(0, kdbus_msg_item(m, KDBUS_ITEM_CREDS, 0)->creds.uid);
	EXPECT_NE(NULL, kdbus_msg_item(m, KDBUS_ITEM_CAPS, 0));
	ASSERT_EQ(0, kdbus_free(rx.fd, r.msg.offset));
	/* ...the same message read in a child user namespace does not. */
	EXPECT_EQ(0, kdbus_run_userns(&ns, recv_in_userns, &rx));
	EXPECT_EQ(1, kdbus_queue_empty(&rx));
	kdbus_conn_close(&rx);
	kdbus_conn_close(&tx);
}

/* A user namespace whose uid 0 and gid 0 are U1 (1001) outside. */
#define U1	1001
#define G2	2001	/* a supplementary group not mapped there */

static const struct kdbus_userns u1_ns = {
	.creator_uid = 0, .creator_gid = 0,
	.uid_map = "0 1001 1", .gid_map = "0 1001 1",
	.uid = 0, .gid = 0,
};

/* One that maps neither U1 nor root. */
static const struct kdbus_userns far_ns = {
	.creator_uid = 0, .creator_gid = 0,
	.uid_map = "0 100000 1", .gid_map = "0 100000 1",
	.uid = 0, .gid = 0,
};

/* Send from @tx to @dst as U1/U1 with the supplementary groups U1 and
 * G2; kdbus_become() keeps the saved IDs 0. */
static int send_as_u1(struct kdbus_conn *tx, uint64_t dst, uint64_t cookie)
{
	static const gid_t groups[] = { U1, G2 };
	int ret = kdbus_become(U1, U1, groups, 2);

	if (ret == 0)
		ret = kdbus_msg_send(tx->fd, dst, 0, 0, cookie, NULL, 0);
	kdbus_become_root();
	return ret;
}

/* In a child user namespace mapping 0 to U1: U1's ids read as 0, the
 * saved ids (root) as the overflow id. */
static int recv_creds_in_u1_ns(void *arg)
{
	struct kdbus_conn *rx = arg;
	struct kdbus_item *item;
	struct got g;

	KDBUS_CHILD_CHECK(getuid() == 0);
	item = recv_item(rx, &g, KDBUS_ITEM_CREDS);
	KDBUS_CHILD_CHECK(item != NULL);
	KDBUS_CHILD_CHECK(item->creds.uid == 0);
	KDBUS_CHILD_CHECK(item->creds.euid == 0);
	KDBUS_CHILD_CHECK(item->creds.suid == KDBUS_TEST_OVERFLOW_ID);
	KDBUS_CHILD_CHECK(item->creds.fsuid == 0);
	KDBUS_CHILD_CHECK(item->creds.gid == 0);
	KDBUS_CHILD_CHECK(item->creds.egid == 0);
	KDBUS_CHILD_CHECK(item->creds.sgid == KDBUS_TEST_OVERFLOW_ID);
	KDBUS_CHILD_CHECK(item->creds.fsgid == 0);
	return 0;
}

TEST_F(meta, child_userns_reader_sees_mapped_sender_uid)
{
	struct kdbus_conn tx, rx;
	struct kdbus_cmd_recv r;
	struct kdbus_item *item;
	struct kdbus_msg *m;

	ASSERT_EQ(0, kdbus_conn_open(&tx, self->tb.path, 0, POOL));
	ASSERT_EQ(0, open_conn(&rx, self->tb.path, 0, KDBUS_ATTACH_CREDS));
	ASSERT_EQ(0, send_as_u1(&tx, rx.id, 1));
	/* Read here: the ids as they are. */
	ASSERT_EQ(0, kdbus_msg_recv(&rx, KDBUS_RECV_PEEK, 0, &m, &r));
	item = kdbus_msg_item(m, KDBUS_ITEM_CREDS, 0);
	ASSERT_NE(NULL, item);
	EXPECT_EQ(U1, item->creds.uid);
	EXPECT_EQ(U1, item->creds.euid);
	EXPECT_EQ(0, item->creds.suid);
	EXPECT_EQ(U1, item->creds.gid);
	ASSERT_EQ(0, kdbus_free(rx.fd, r.msg.offset));
	/* Read in a namespace mapping 0 to U1: uid 0, not the overflow id. */
	EXPECT_EQ(0, kdbus_run_userns(&u1_ns, recv_creds_in_u1_ns, &rx));
	EXPECT_EQ(1, kdbus_queue_empty(&rx));
	kdbus_conn_close(&rx);
	kdbus_conn_close(&tx);
}

/* AUXGROUPS {U1, G2} read in the namespace mapping only U1 (as 0). */
static int recv_auxgroups_in_u1_ns(void *arg)
{
	struct kdbus_conn *rx = arg;
	struct kdbus_item *item;
	struct got g;

	item = recv_item(rx, &g, KDBUS_ITEM_AUXGROUPS);
	KDBUS_CHILD_CHECK(item != NULL);
	KDBUS_CHILD_CHECK(item->size == KDBUS_ITEM_HEADER_SIZE + 2 * 8);
	KDBUS_CHILD_CHECK(item->data64[0] == 0);
	KDBUS_CHILD_CHECK(item->data64[1] == KDBUS_TEST_OVERFLOW_ID);
	return 0;
}

TEST_F(meta, child_userns_reader_sees_unmapped_auxgroups_as_overflow_gid)
{
	struct kdbus_conn tx, rx;
	struct kdbus_cmd_recv r;
	struct kdbus_item *item;
	struct kdbus_msg *m;

	ASSERT_EQ(0, kdbus_conn_open(&tx, self->tb.path, 0, POOL));
	ASSERT_EQ(0, open_conn(&rx, self->tb.path, 0, KDBUS_ATTACH_AUXGROUPS));
	ASSERT_EQ(0, send_as_u1(&tx, rx.id, 1));
	ASSERT_EQ(0, kdbus_msg_recv(&rx, KDBUS_RECV_PEEK, 0, &m, &r));
	item = kdbus_msg_item(m, KDBUS_ITEM_AUXGROUPS, 0);
	ASSERT_NE(NULL, item);
	ASSERT_EQ(KDBUS_ITEM_HEADER_SIZE + 2 * 8, item->size);
	EXPECT_EQ(U1, item->data64[0]);
	EXPECT_EQ(G2, item->data64[1]);
	ASSERT_EQ(0, kdbus_free(rx.fd, r.msg.offset));
	EXPECT_EQ(0, kdbus_run_userns(&u1_ns, recv_auxgroups_in_u1_ns, &rx));
	EXPECT_EQ(1, kdbus_queue_empty(&rx));
	kdbus_conn_close(&rx);
	kdbus_conn_close(&tx);
}

struct audit_arg {
	struct kdbus_conn *tx, *rx;
	uint32_t sessionid;	/* the sender's, as read in our namespace */
	uint32_t want;		/* the loginuid the reader must see */
};

/* In a child: become logged in as U1, then send. Exit 2: loginuid not
 * settable here. */
static int send_with_loginuid_u1(void *arg)
{
	struct audit_arg *a = arg;

	if (kdbus_write_file("/proc/self/loginuid", "1001") < 0)
		return 2;
	KDBUS_CHILD_CHECK(read_long("/proc/self/loginuid") == U1);
	KDBUS_CHILD_CHECK(kdbus_msg_send(a->tx->fd, a->rx->id, 0, 0, 1, NULL, 0) == 0);
	KDBUS_CHILD_CHECK(kdbus_msg_send(a->tx->fd, a->rx->id, 0, 0, 2, NULL, 0) == 0);
	return 0;
}

static int recv_audit(void *arg)
{
	struct audit_arg *a = arg;
	struct kdbus_item *item;
	struct got g;

	KDBUS_CHILD_CHECK(recv_copy(a->rx, &g) == 0);
	item = kdbus_msg_item(g.m, KDBUS_ITEM_AUDIT, 0);
	KDBUS_CHILD_CHECK(item != NULL);
	KDBUS_CHILD_CHECK(item->audit.loginuid == a->want);
	/* The session id is never translated. */
	KDBUS_CHILD_CHECK(item->audit.sessionid == a->sessionid);
	return 0;
}

TEST_F(meta, child_userns_reader_sees_unmapped_loginuid_as_ffffffff)
{
	struct kdbus_conn tx, rx;
	struct kdbus_cmd_recv r;
	struct kdbus_item *item;
	struct audit_arg a;
	struct kdbus_msg *m;
	int ret;

	if (access("/proc/self/loginuid", F_OK))
		SKIP(return, "no syscall auditing in this kernel (no /proc/self/loginuid)");
	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, PARAM_ALL));
	ASSERT_EQ(0, open_conn(&tx, self->tb.path, _KDBUS_ATTACH_ALL, 0));
	ASSERT_EQ(0, open_conn(&rx, self->tb.path, 0, KDBUS_ATTACH_AUDIT));
	a.tx = &tx;
	a.rx = &rx;
	ret = kdbus_run(send_with_loginuid_u1, &a);
	if (ret == 2) {
		kdbus_conn_close(&rx);
		kdbus_conn_close(&tx);
		SKIP(return, "loginuid is immutable here");
	}
	ASSERT_EQ(0, ret);
	/* Read here: loginuid U1. */
	ASSERT_EQ(0, kdbus_msg_recv(&rx, KDBUS_RECV_PEEK, 0, &m, &r));
	item = kdbus_msg_item(m, KDBUS_ITEM_AUDIT, 0);
	ASSERT_NE(NULL, item);
	EXPECT_EQ(U1, item->audit.loginuid);
	a.sessionid = item->audit.sessionid;
	/* Setting a loginuid opened a session. */
	EXPECT_NE(0xffffffffu, a.sessionid);
	ASSERT_EQ(0, kdbus_free(rx.fd, r.msg.offset));
	/* Mapped (as 0) in one namespace, unmapped in another. */
	a.want = 0;
	EXPECT_EQ(0, kdbus_run_userns(&u1_ns, recv_audit, &a));
	a.want = 0xffffffffu;
	EXPECT_EQ(0, kdbus_run_userns(&far_ns, recv_audit, &a));
	EXPECT_EQ(1, kdbus_queue_empty(&rx));
	kdbus_conn_close(&rx);
	kdbus_conn_close(&tx);
}

static int recv_in_pidns(void *arg)
{
	struct kdbus_conn *rx = arg;
	struct kdbus_item *item;
	struct got g;

	KDBUS_CHILD_CHECK(getpid() == 1);
	item = recv_item(rx, &g, KDBUS_ITEM_PIDS);
	KDBUS_CHILD_CHECK(item != NULL);
	KDBUS_CHILD_CHECK(item->pids.pid == 0);
	KDBUS_CHILD_CHECK(item->pids.tid == 0);
	KDBUS_CHILD_CHECK(item->pids.ppid == 0);
	return 0;
}

TEST_F(meta, child_pidns_reader_sees_pid_0)
{
	struct kdbus_conn tx, rx;

	ASSERT_EQ(0, kdbus_conn_open(&tx, self->tb.path, 0, POOL));
	ASSERT_EQ(0, open_conn(&rx, self->tb.path, 0, KDBUS_ATTACH_PIDS));
	ASSERT_EQ(0, kdbus_msg_send(tx.fd, rx.id, 0, 0, 1, NULL, 0));
	EXPECT_EQ(0, kdbus_run_pidns(recv_in_pidns, &rx));
	EXPECT_EQ(1, kdbus_queue_empty(&rx));
	kdbus_conn_close(&rx);
	kdbus_conn_close(&tx);
}

static int recv_chrooted(void *arg)
{
	struct kdbus_conn *rx = arg;
	struct got g;

	KDBUS_CHILD_CHECK(chroot("/tmp") == 0 && chdir("/") == 0);
	KDBUS_CHILD_CHECK(recv_copy(rx, &g) == 0);
	KDBUS_CHILD_CHECK(kdbus_msg_item(g.m, KDBUS_ITEM_EXE, 0) == NULL);
	KDBUS_CHILD_CHECK(kdbus_msg_item(g.m, KDBUS_ITEM_CMDLINE, 0) != NULL);
	KDBUS_CHILD_CHECK(kdbus_msg_count(g.m) == 1);
	return 0;
}

TEST_F(meta, reader_with_another_root_gets_no_exe)
{
	struct kdbus_conn tx, rx;
	struct got g;

	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, PARAM_ALL));
	ASSERT_EQ(0, open_conn(&tx, self->tb.path, _KDBUS_ATTACH_ALL, 0));
	ASSERT_EQ(0, open_conn(&rx, self->tb.path, 0, KDBUS_ATTACH_EXE | KDBUS_ATTACH_CMDLINE));
	ASSERT_EQ(0, kdbus_msg_send(tx.fd, rx.id, 0, 0, 1, NULL, 0));
	EXPECT_EQ(0, kdbus_run(recv_chrooted, &rx));
	/* The same root: EXE is there. */
	ASSERT_EQ(0, kdbus_msg_send(tx.fd, rx.id, 0, 0, 2, NULL, 0));
	ASSERT_EQ(0, recv_copy(&rx, &g));
	EXPECT_EQ(1, count_type(g.m, KDBUS_ITEM_EXE));
	kdbus_conn_close(&rx);
	kdbus_conn_close(&tx);
}

/* --------------------------------------------- CONN_INFO, BUS_CREATOR_INFO */

TEST_F(meta, conn_info_process_items_from_hello_names_at_query)
{
	struct kdbus_conn peer, obs;
	struct kdbus_info *info;
	struct kdbus_item *item;
	char saved[32] = "";

	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, PARAM_ALL));
	ASSERT_EQ(0, prctl(PR_GET_NAME, saved));
	ASSERT_EQ(0, prctl(PR_SET_NAME, "at-hello"));
	ASSERT_EQ(0, kdbus_conn_open(&peer, self->tb.path, 0, POOL));
	ASSERT_EQ(0, prctl(PR_SET_NAME, "later"));
	ASSERT_EQ(0, kdbus_conn_open(&obs, self->tb.path, 0, BIG));
	ASSERT_EQ(0, prctl(PR_SET_NAME, saved));
	ASSERT_EQ(0, kdbus_name_acquire(peer.fd, "org.meta.late", 0, NULL));

	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, peer.id, NULL, _KDBUS_ATTACH_ALL,
				     &info, NULL));
	item = kdbus_info_item(info, KDBUS_ITEM_TID_COMM);
	ASSERT_NE(NULL, item);
	EXPECT_STREQ("at-hello", item->str);
	item = kdbus_info_item(info, KDBUS_ITEM_OWNED_NAME);
	ASSERT_NE(NULL, item);
	EXPECT_STREQ("org.meta.late", item->name.name);
	EXPECT_EQ(NULL, kdbus_info_item(info, KDBUS_ITEM_TIMESTAMP));
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));
	kdbus_conn_close(&obs);
	kdbus_conn_close(&peer);
}

TEST_F(meta, conn_info_all_gives_every_process_item_once)
{
	uint64_t avail = available_items();
	struct kdbus_conn peer, obs;
	struct kdbus_builder b;
	struct kdbus_info *info;
	struct kdbus_item *item;
	int last = -1;

	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, "18446744073709551615"));
	kdbus_b_init(&b, sizeof(struct kdbus_cmd_hello));
	kdbus_b_str(&b, KDBUS_ITEM_CONN_DESCRIPTION, "nameless");
	ASSERT_EQ(0, kdbus_conn_open_b(&peer, self->tb.path, &b, 0, _KDBUS_ATTACH_ANY, 0, POOL));
	ASSERT_EQ(0, kdbus_conn_open(&obs, self->tb.path, 0, BIG));
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, peer.id, NULL, _KDBUS_ATTACH_ANY,
				     &info, NULL));
	KDBUS_ITEM_FOREACH(item, info, items) {
		EXPECT_LT(last, order_of(item->type));
		last = order_of(item->type);
	}
	EXPECT_EQ(popcount(avail), count_process(info->items, info->size - sizeof(*info)));
	EXPECT_EQ(popcount(avail) + 1, kdbus_info_count(info));
	EXPECT_NE(NULL, kdbus_info_item(info, KDBUS_ITEM_CONN_DESCRIPTION));
	EXPECT_EQ(NULL, kdbus_info_item(info, KDBUS_ITEM_OWNED_NAME));
	EXPECT_EQ(NULL, kdbus_info_item(info, KDBUS_ITEM_TIMESTAMP));
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));

	/* Module mask 0: nothing. */
	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, "0"));
	ASSERT_EQ(0, kdbus_conn_info(obs.fd, obs.pool, peer.id, NULL, _KDBUS_ATTACH_ANY,
				     &info, NULL));
	EXPECT_EQ(0, kdbus_info_count(info));
	EXPECT_EQ(0, kdbus_info_free(obs.fd, obs.pool, info));
	kdbus_conn_close(&obs);
	kdbus_conn_close(&peer);
}

TEST_F(meta, bus_creator_info_reports_every_creator_item_once)
{
	uint64_t avail = available_items();
	struct kdbus_conn c;
	struct kdbus_info *info;
	char bus[64], path[256];
	int owner, ctl;

	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, PARAM_ALL));
	ctl = kdbus_open_control(self->tb.d.root);
	ASSERT_LE(0, ctl);
	kdbus_domain_name(&self->tb.d, bus, sizeof(bus), "ci");
	ASSERT_EQ(0, kdbus_bus_make(ctl, KDBUS_MAKE_ACCESS_WORLD, bus, 64, 1,
				    KDBUS_OPT_ATTACH_SEND(_KDBUS_ATTACH_ALL)));
	owner = ctl;
	ASSERT_EQ(0, kdbus_conn_open(&c, kdbus_path(path, sizeof(path), self->tb.d.root,
						    "%s/bus", bus), 0, BIG));
	ASSERT_EQ(0, kdbus_bus_creator_info(c.fd, c.pool, _KDBUS_ATTACH_ALL, &info, NULL));
	EXPECT_NE(NULL, kdbus_info_item(info, KDBUS_ITEM_MAKE_NAME));
	EXPECT_EQ(popcount(avail), count_process(info->items, info->size - sizeof(*info)));
	EXPECT_EQ(popcount(avail) + 1, kdbus_info_count(info));
	EXPECT_NE(NULL, kdbus_info_item(info, KDBUS_ITEM_CMDLINE));
	EXPECT_NE(NULL, kdbus_info_item(info, KDBUS_ITEM_CAPS));
	EXPECT_EQ(0, kdbus_info_free(c.fd, c.pool, info));
	kdbus_conn_close(&c);
	close(owner);
}

/* ------------------------------------ translation for the querying task */

struct query {
	struct kdbus_conn *c;	/* the querying connection (root's) */
	uint64_t id;		/* CONN_INFO target; 0: BUS_CREATOR_INFO */
};

/* In the namespace mapping 0 to U1: the target's (or creator's) ids,
 * U1 with saved ids 0, read as 0 and the overflow id; CAPS, collected in
 * the initial namespace, dropped. */
static int query_in_u1_ns(void *arg)
{
	const uint64_t want = KDBUS_ATTACH_CREDS | KDBUS_ATTACH_CAPS;
	struct query *q = arg;
	struct kdbus_info *info;
	struct kdbus_item *item;
	int ret;

	KDBUS_CHILD_CHECK(getuid() == 0);
	if (q->id)
		ret = kdbus_conn_info(q->c->fd, q->c->pool, q->id, NULL, want, &info, NULL);
	else
		ret = kdbus_bus_creator_info(q->c->fd, q->c->pool, want, &info, NULL);
	KDBUS_CHILD_CHECK(ret == 0);
	item = kdbus_info_item(info, KDBUS_ITEM_CREDS);
	KDBUS_CHILD_CHECK(item != NULL);
	KDBUS_CHILD_CHECK(item->creds.uid == 0);
	KDBUS_CHILD_CHECK(item->creds.euid == 0);
	KDBUS_CHILD_CHECK(item->creds.suid == KDBUS_TEST_OVERFLOW_ID);
	KDBUS_CHILD_CHECK(item->creds.gid == 0);
	KDBUS_CHILD_CHECK(item->creds.sgid == KDBUS_TEST_OVERFLOW_ID);
	KDBUS_CHILD_CHECK(kdbus_info_item(info, KDBUS_ITEM_CAPS) == NULL);
	KDBUS_CHILD_CHECK(kdbus_info_free(q->c->fd, q->c->pool, info) == 0);
	return 0;
}

/* The same query in our namespace: U1, saved ids 0, and CAPS. */
static void query_here(struct __test_metadata *_metadata, struct query *q)
{
	const uint64_t want = KDBUS_ATTACH_CREDS | KDBUS_ATTACH_CAPS;
	struct kdbus_info *info;
	struct kdbus_item *item;
	int ret;

	if (q->id)
		ret = kdbus_conn_info(q->c->fd, q->c->pool, q->id, NULL, want, &info, NULL);
	else
		ret = kdbus_bus_creator_info(q->c->fd, q->c->pool, want, &info, NULL);
	ASSERT_EQ(0, ret);
	item = kdbus_info_item(info, KDBUS_ITEM_CREDS);
	ASSERT_NE(NULL, item);
	EXPECT_EQ(U1, item->creds.uid);
	EXPECT_EQ(U1, item->creds.euid);
	EXPECT_EQ(0, item->creds.suid);
	EXPECT_EQ(U1, item->creds.gid);
	EXPECT_EQ(0, item->creds.sgid);
	EXPECT_NE(NULL, kdbus_info_item(info, KDBUS_ITEM_CAPS));
	EXPECT_EQ(0, kdbus_info_free(q->c->fd, q->c->pool, info));
}

TEST_F(meta, conn_info_translated_for_the_querying_task)
{
	struct kdbus_conn peer, obs;
	struct query q;

	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, PARAM_ALL));
	/* The peer's HELLO snapshot is U1's (saved ids 0). */
	ASSERT_EQ(0, kdbus_become(U1, U1, NULL, 0));
	ASSERT_EQ(0, kdbus_conn_open(&peer, self->tb.path, 0, POOL));
	ASSERT_EQ(0, kdbus_become_root());
	ASSERT_EQ(0, kdbus_conn_open(&obs, self->tb.path, 0, BIG));
	q.c = &obs;
	q.id = peer.id;
	query_here(_metadata, &q);
	EXPECT_EQ(0, kdbus_run_userns(&u1_ns, query_in_u1_ns, &q));
	kdbus_conn_close(&obs);
	kdbus_conn_close(&peer);
}

TEST_F(meta, bus_creator_info_translated_for_the_querying_task)
{
	struct kdbus_conn c;
	char bus[64], path[256];
	struct query q;
	int ctl, ret;

	ASSERT_EQ(0, kdbus_write_file(KDBUS_PARAM_PATH, PARAM_ALL));
	/* A bus made by U1 (saved ids 0), which reveals CREDS and CAPS. */
	ASSERT_EQ(0, kdbus_become(U1, U1, NULL, 0));
	ctl = kdbus_open_control(self->tb.d.root);
	kdbus_domain_name(&self->tb.d, bus, sizeof(bus), "ns");
	ret = ctl < 0 ? ctl : kdbus_bus_make(ctl, KDBUS_MAKE_ACCESS_WORLD, bus, 64, 1,
					     KDBUS_OPT_ATTACH_SEND(KDBUS_ATTACH_CREDS |
								   KDBUS_ATTACH_CAPS));
	ASSERT_EQ(0, kdbus_become_root());
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, kdbus_conn_open(&c, kdbus_path(path, sizeof(path), self->tb.d.root,
						    "%s/bus", bus), 0, BIG));
	q.c = &c;
	q.id = 0;
	query_here(_metadata, &q);
	EXPECT_EQ(0, kdbus_run_userns(&u1_ns, query_in_u1_ns, &q));
	kdbus_conn_close(&c);
	close(ctl);
}

/* A synchronous call from @a to @dst, issued in a child user namespace
 * mapping 0 to U1; the reply (from U1, saved ids 0) must be translated
 * for this waiting task. */
struct sync_arg {
	struct kdbus_conn *a;
	uint64_t dst;
};

static int sync_call_in_u1_ns(void *arg)
{
	struct sync_arg *sa = arg;
	struct kdbus_cmd_send out;
	struct kdbus_builder b;
	struct kdbus_item *item;
	struct kdbus_msg *m;

	kdbus_msg_init(&b, sa->dst, KDBUS_MSG_EXPECT_REPLY, 0, 7);
	kdbus_msg_hdr(&b)->timeout_ns = kdbus_now_ns() + 30000000000ULL;
	KDBUS_CHILD_CHECK(kdbus_msg_send_b(sa->a->fd, &b, KDBUS_SEND_SYNC_REPLY, &out) == 0);
	KDBUS_CHILD_CHECK(out.reply.offset < sa->a->pool_size);
	m = (struct kdbus_msg *)(sa->a->pool + out.reply.offset);
	KDBUS_CHILD_CHECK(m->cookie_reply == 7);
	item = kdbus_msg_item(m, KDBUS_ITEM_CREDS, 0);
	KDBUS_CHILD_CHECK(item != NULL);
	KDBUS_CHILD_CHECK(item->creds.uid == 0);
	KDBUS_CHILD_CHECK(item->creds.euid == 0);
	KDBUS_CHILD_CHECK(item->creds.suid == KDBUS_TEST_OVERFLOW_ID);
	KDBUS_CHILD_CHECK(item->creds.gid == 0);
	KDBUS_CHILD_CHECK(kdbus_free(sa->a->fd, out.reply.offset) == 0);
	return 0;
}

TEST_F(meta, sync_reply_translated_for_the_waiting_caller)
{
	struct kdbus_conn a, b;
	struct kdbus_msg_summary s;
	struct sync_arg sa;
	pid_t pid;
	int ret;

	ASSERT_EQ(0, open_conn(&a, self->tb.path, 0, KDBUS_ATTACH_CREDS));
	ASSERT_EQ(0, kdbus_conn_open(&b, self->tb.path, 0, POOL));
	sa.a = &a;
	sa.dst = b.id;
	pid = kdbus_spawn_userns(&u1_ns, sync_call_in_u1_ns, &sa);
	ASSERT_LT(0, pid);
	ret = kdbus_recv_summary(&b, 20000, &s);
	if (ret == 0) {
		EXPECT_EQ(7, s.cookie);
		/* Answer as U1. */
		ASSERT_EQ(0, kdbus_become(U1, U1, NULL, 0));
		ret = kdbus_reply_send(b.fd, a.id, 8, s.cookie, "r", 1);
		ASSERT_EQ(0, kdbus_become_root());
	}
	EXPECT_EQ(0, ret);
	EXPECT_EQ(0, kdbus_wait(pid));
	kdbus_conn_close(&b);
	kdbus_conn_close(&a);
}

TEST_HARNESS_MAIN
