// SPDX-License-Identifier: GPL-2.0
/*
 * kdbus-demo: what kdbus-rs can do, step by step, with nothing but the uapi
 * header. Run by `make demo` in the guest, on a kdbusfs mounted at
 * /sys/fs/kdbus.
 *
 *   make a bus, connect twice (HELLO), LIST the bus, CONN_INFO a peer,
 *   BUS_CREATOR_INFO, messages with an fd and a memfd, a synchronous method
 *   call with a deadline, calls that time out (synchronous: ETIMEDOUT;
 *   asynchronous: a REPLY_TIMEOUT notification), a service started through
 *   its activator (messages queued for its name handed over to it, the
 *   NAME_CHANGE a subscriber sees), a signal broadcast to the subscribers
 *   whose bloom masks accept it; then trust: an unprivileged user denied
 *   by policy and allowed by a policy holder, a custom endpoint that hides a
 *   service, a monitor watching a call, a sender's credentials as a
 *   receiver in another user namespace sees them; BYEBYE, close the bus.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/kdbus.h>

#define ALIGN8(x) (((x) + 7) & ~7ULL)
#define POOL_SIZE (16 * 1024 * 1024)

static void die(const char *what)
{
	fprintf(stderr, "kdbus-demo: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Appends an item to a command buffer at *pos; returns the new position. */
static size_t add_item(uint8_t *buf, size_t pos, uint64_t type, const void *data, size_t len)
{
	struct kdbus_item *item = (struct kdbus_item *)(buf + pos);

	item->size = 16 + len;
	item->type = type;
	memcpy(item->data, data, len);
	return pos + ALIGN8(item->size);
}

static int make_bus(const char *name)
{
	uint64_t buf[64] = { 0 };
	struct kdbus_cmd *cmd = (struct kdbus_cmd *)buf;
	struct kdbus_bloom_parameter bloom = { .size = 64, .n_hash = 1 };
	size_t pos = sizeof(*cmd);
	int fd = open("/sys/fs/kdbus/control", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("open control");
	pos = add_item((uint8_t *)buf, pos, KDBUS_ITEM_MAKE_NAME, name, strlen(name) + 1);
	pos = add_item((uint8_t *)buf, pos, KDBUS_ITEM_BLOOM_PARAMETER, &bloom, sizeof(bloom));
	cmd->size = pos;
	cmd->flags = KDBUS_MAKE_ACCESS_WORLD;
	if (ioctl(fd, KDBUS_CMD_BUS_MAKE, cmd) < 0)
		die("BUS_MAKE");
	printf("BUS_MAKE %s: ok, /sys/fs/kdbus/%s/ now exists\n", name, name);
	return fd;
}

struct conn {
	int fd;
	uint64_t id;
	uint8_t *pool;
};

/* Opens the endpoint @node ("bus" or a custom endpoint) of @bus, issues
 * @hello (its size, flags, masks and items set by the caller) and maps the
 * pool; the HELLO slice stays for the caller to read and FREE. */
static void connect_node(struct conn *c, const char *bus, const char *node,
			 struct kdbus_cmd_hello *hello)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/fs/kdbus/%s/%s", bus, node);
	c->fd = open(path, O_RDWR | O_CLOEXEC);
	if (c->fd < 0)
		die("open bus");
	hello->pool_size = POOL_SIZE;
	if (ioctl(c->fd, KDBUS_CMD_HELLO, hello) < 0)
		die("HELLO");
	c->id = hello->id;
	c->pool = mmap(NULL, POOL_SIZE, PROT_READ, MAP_SHARED, c->fd, 0);
	if (c->pool == MAP_FAILED)
		die("mmap pool");
}

static void hello(struct conn *c, const char *bus, const char *description)
{
	uint64_t buf[32] = { 0 };
	struct kdbus_cmd_hello *hello = (struct kdbus_cmd_hello *)buf;
	struct kdbus_cmd_free cmd_free = { .size = sizeof(cmd_free) };
	struct kdbus_item *item;

	hello->size = add_item((uint8_t *)buf, sizeof(*hello), KDBUS_ITEM_CONN_DESCRIPTION,
			       description, strlen(description) + 1);
	hello->flags = KDBUS_HELLO_ACCEPT_FD;
	hello->attach_flags_send = _KDBUS_ATTACH_ALL;
	hello->attach_flags_recv = _KDBUS_ATTACH_ALL;
	connect_node(c, bus, "bus", hello);
	item = (struct kdbus_item *)(c->pool + hello->offset);
	printf("HELLO '%s': id %llu, bus flags %llu, pool %d MiB mapped read-only,\n"
	       "  HELLO slice at offset %llu: bloom size %llu, n_hash %llu\n",
	       description, (unsigned long long)c->id, (unsigned long long)hello->bus_flags,
	       POOL_SIZE >> 20, (unsigned long long)hello->offset,
	       (unsigned long long)item->bloom_parameter.size,
	       (unsigned long long)item->bloom_parameter.n_hash);
	cmd_free.offset = hello->offset;
	if (ioctl(c->fd, KDBUS_CMD_FREE, &cmd_free) < 0)
		die("FREE");
	/* The pool is read-only: */
	if (mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0) != MAP_FAILED ||
	    errno != EPERM)
		die("writable mapping was not refused");
}

static void list(struct conn *c)
{
	struct kdbus_cmd_list cmd = { .size = sizeof(cmd), .flags = KDBUS_LIST_UNIQUE };
	struct kdbus_cmd_free cmd_free = { .size = sizeof(cmd_free) };
	uint64_t pos;

	if (ioctl(c->fd, KDBUS_CMD_LIST, &cmd) < 0)
		die("LIST");
	printf("LIST (as %llu):", (unsigned long long)c->id);
	for (pos = 0; pos < cmd.list_size;) {
		struct kdbus_info *info = (struct kdbus_info *)(c->pool + cmd.offset + pos);

		printf(" %llu", (unsigned long long)info->id);
		pos += info->size;
	}
	printf("\n");
	cmd_free.offset = cmd.offset;
	ioctl(c->fd, KDBUS_CMD_FREE, &cmd_free);
}

static void print_info(struct conn *c, uint64_t offset, const char *what)
{
	struct kdbus_info *info = (struct kdbus_info *)(c->pool + offset);
	struct kdbus_cmd_free cmd_free = { .size = sizeof(cmd_free), .offset = offset };
	struct kdbus_item *item;

	printf("%s: id %llu, flags %llu\n", what, (unsigned long long)info->id,
	       (unsigned long long)info->flags);
	for (item = info->items; (uint8_t *)item < (uint8_t *)info + info->size;
	     item = (struct kdbus_item *)((uint8_t *)item + ALIGN8(item->size))) {
		switch (item->type) {
		case KDBUS_ITEM_MAKE_NAME:
			printf("  MAKE_NAME        %s\n", item->str);
			break;
		case KDBUS_ITEM_CREDS:
			printf("  CREDS            uid %llu euid %llu gid %llu\n",
			       (unsigned long long)item->creds.uid,
			       (unsigned long long)item->creds.euid,
			       (unsigned long long)item->creds.gid);
			break;
		case KDBUS_ITEM_PIDS:
			printf("  PIDS             pid %llu tid %llu ppid %llu\n",
			       (unsigned long long)item->pids.pid,
			       (unsigned long long)item->pids.tid,
			       (unsigned long long)item->pids.ppid);
			break;
		case KDBUS_ITEM_AUXGROUPS:
			printf("  AUXGROUPS        %llu groups\n",
			       (unsigned long long)(item->size - 16) / 8);
			break;
		case KDBUS_ITEM_CONN_DESCRIPTION:
			printf("  CONN_DESCRIPTION %s\n", item->str);
			break;
		default:
			printf("  item type 0x%llx\n", (unsigned long long)item->type);
		}
	}
	ioctl(c->fd, KDBUS_CMD_FREE, &cmd_free);
}

/* SEND a message with two vectors (and a padding vector between them). */
static void send_msg(struct conn *from, uint64_t to, const char *a, const char *b)
{
	uint64_t buf[64] = { 0 };
	struct kdbus_msg *msg = (struct kdbus_msg *)buf;
	struct kdbus_cmd_send cmd = { .size = sizeof(cmd) };
	struct kdbus_vec vecs[3] = {
		{ .size = strlen(a), .address = (uintptr_t)a },
		{ .size = 8 - strlen(a) % 8, .address = 0 },	/* padding */
		{ .size = strlen(b) + 1, .address = (uintptr_t)b },
	};
	size_t pos = sizeof(*msg);
	int i;

	for (i = 0; i < 3; i++)
		pos = add_item((uint8_t *)buf, pos, KDBUS_ITEM_PAYLOAD_VEC, &vecs[i], sizeof(vecs[i]));
	msg->size = pos;
	msg->dst_id = to;
	msg->payload_type = KDBUS_PAYLOAD_DBUS;
	msg->cookie = 42;
	cmd.msg_address = (uintptr_t)msg;
	if (ioctl(from->fd, KDBUS_CMD_SEND, &cmd) < 0)
		die("SEND");
	printf("SEND %llu -> %llu: \"%s\" + padding + \"%s\", copied once into the receiver's pool\n",
	       (unsigned long long)from->id, (unsigned long long)to, a, b);
}

static void recv_msg(struct conn *c)
{
	struct kdbus_cmd_recv cmd = { .size = sizeof(cmd) };
	struct kdbus_cmd_free cmd_free = { .size = sizeof(cmd_free) };
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	struct kdbus_msg *msg;
	struct kdbus_item *item;

	if (poll(&pfd, 1, 1000) != 1 || !(pfd.revents & POLLIN))
		die("poll");
	if (ioctl(c->fd, KDBUS_CMD_RECV, &cmd) < 0)
		die("RECV");
	msg = (struct kdbus_msg *)(c->pool + cmd.msg.offset);
	printf("RECV (as %llu): from %llu, cookie %llu, slice at %llu (%llu bytes), msg.size %llu\n",
	       (unsigned long long)c->id, (unsigned long long)msg->src_id,
	       (unsigned long long)msg->cookie, (unsigned long long)cmd.msg.offset,
	       (unsigned long long)cmd.msg.msg_size, (unsigned long long)msg->size);
	for (item = msg->items; (uint8_t *)item < (uint8_t *)msg + msg->size;
	     item = (struct kdbus_item *)((uint8_t *)item + ALIGN8(item->size))) {
		if (item->type == KDBUS_ITEM_PAYLOAD_OFF && item->vec.offset != ~0ULL)
			printf("  PAYLOAD_OFF %llu bytes at +%llu: \"%.*s\"\n",
			       (unsigned long long)item->vec.size,
			       (unsigned long long)item->vec.offset, (int)item->vec.size,
			       (char *)msg + item->vec.offset);
		else if (item->type == KDBUS_ITEM_PAYLOAD_OFF)
			printf("  PAYLOAD_OFF %llu bytes of padding\n",
			       (unsigned long long)item->vec.size);
		else if (item->type == KDBUS_ITEM_TIMESTAMP)
			printf("  TIMESTAMP seqnum %llu\n",
			       (unsigned long long)item->timestamp.seqnum);
		else if (item->type == KDBUS_ITEM_CONN_DESCRIPTION)
			printf("  CONN_DESCRIPTION %s\n", item->str);
		else if (item->type == KDBUS_ITEM_CREDS)
			printf("  CREDS uid %llu\n", (unsigned long long)item->creds.uid);
		else if (item->type == KDBUS_ITEM_PIDS)
			printf("  PIDS pid %llu\n", (unsigned long long)item->pids.pid);
	}
	cmd_free.offset = cmd.msg.offset;
	if (ioctl(c->fd, KDBUS_CMD_FREE, &cmd_free) < 0)
		die("FREE");
}

/* Pass the write end of a pipe from @from to @to; @to writes into it. */
static void pass_fd(struct conn *from, struct conn *to)
{
	uint64_t buf[32] = { 0 };
	struct kdbus_msg *msg = (struct kdbus_msg *)buf;
	struct kdbus_cmd_send cmd = { .size = sizeof(cmd) };
	struct kdbus_cmd_recv recv = { .size = sizeof(recv) };
	struct kdbus_cmd_free cmd_free = { .size = sizeof(cmd_free) };
	struct kdbus_item *item;
	char text[16] = { 0 };
	int p[2];

	if (pipe(p))
		die("pipe");
	msg->size = add_item((uint8_t *)buf, sizeof(*msg), KDBUS_ITEM_FDS, &p[1], sizeof(int));
	msg->dst_id = to->id;
	msg->payload_type = KDBUS_PAYLOAD_DBUS;
	cmd.msg_address = (uintptr_t)msg;
	if (ioctl(from->fd, KDBUS_CMD_SEND, &cmd) < 0)
		die("SEND with FDS");
	close(p[1]);
	if (ioctl(to->fd, KDBUS_CMD_RECV, &recv) < 0)
		die("RECV with FDS");
	msg = (struct kdbus_msg *)(to->pool + recv.msg.offset);
	for (item = msg->items; (uint8_t *)item < (uint8_t *)msg + msg->size;
	     item = (struct kdbus_item *)((uint8_t *)item + ALIGN8(item->size)))
		if (item->type == KDBUS_ITEM_FDS) {
			printf("FDS: %llu passed a pipe to %llu, installed there as fd %d\n",
			       (unsigned long long)from->id, (unsigned long long)to->id,
			       item->fds[0]);
			if (write(item->fds[0], "through kdbus", 13) != 13)
				die("write");
			close(item->fds[0]);
		}
	cmd_free.offset = recv.msg.offset;
	ioctl(to->fd, KDBUS_CMD_FREE, &cmd_free);
	if (read(p[0], text, sizeof(text) - 1) < 0)
		die("read");
	printf("  %llu read back from its pipe: \"%s\"\n", (unsigned long long)from->id, text);
	close(p[0]);
}

/* Pass a sealed memfd from @from to @to: the data is never copied. */
static void pass_memfd(struct conn *from, struct conn *to)
{
	uint64_t buf[32] = { 0 };
	struct kdbus_msg *msg = (struct kdbus_msg *)buf;
	struct kdbus_cmd_send cmd = { .size = sizeof(cmd) };
	struct kdbus_cmd_recv recv = { .size = sizeof(recv) };
	struct kdbus_cmd_free cmd_free = { .size = sizeof(cmd_free) };
	static const char text[] = "a sealed memfd, shared, not copied";
	struct kdbus_memfd m = { .size = sizeof(text) };
	struct kdbus_item *item;
	char got[64] = { 0 };

	m.fd = memfd_create("kdbus-demo", MFD_ALLOW_SEALING);
	if (m.fd < 0 || write(m.fd, text, sizeof(text)) != sizeof(text) ||
	    fcntl(m.fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL))
		die("memfd");
	msg->size = add_item((uint8_t *)buf, sizeof(*msg), KDBUS_ITEM_PAYLOAD_MEMFD, &m, sizeof(m));
	msg->dst_id = to->id;
	msg->payload_type = KDBUS_PAYLOAD_DBUS;
	cmd.msg_address = (uintptr_t)msg;
	if (ioctl(from->fd, KDBUS_CMD_SEND, &cmd) < 0)
		die("SEND with PAYLOAD_MEMFD");
	close(m.fd);
	if (ioctl(to->fd, KDBUS_CMD_RECV, &recv) < 0)
		die("RECV with PAYLOAD_MEMFD");
	msg = (struct kdbus_msg *)(to->pool + recv.msg.offset);
	for (item = msg->items; (uint8_t *)item < (uint8_t *)msg + msg->size;
	     item = (struct kdbus_item *)((uint8_t *)item + ALIGN8(item->size)))
		if (item->type == KDBUS_ITEM_PAYLOAD_MEMFD) {
			if (pread(item->memfd.fd, got, item->memfd.size, item->memfd.start) < 0)
				die("pread");
			printf("PAYLOAD_MEMFD: %llu received fd %d, %llu bytes: \"%s\"\n",
			       (unsigned long long)to->id, item->memfd.fd,
			       (unsigned long long)item->memfd.size, got);
			close(item->memfd.fd);
		}
	cmd_free.offset = recv.msg.offset;
	ioctl(to->fd, KDBUS_CMD_FREE, &cmd_free);
}

static void conn_info(struct conn *c, uint64_t id)
{
	struct kdbus_cmd_info cmd = {
		.size = sizeof(cmd), .id = id, .attach_flags = _KDBUS_ATTACH_ALL,
	};
	char what[64];

	if (ioctl(c->fd, KDBUS_CMD_CONN_INFO, &cmd) < 0)
		die("CONN_INFO");
	snprintf(what, sizeof(what), "CONN_INFO %llu (asked by %llu)",
		 (unsigned long long)id, (unsigned long long)c->id);
	print_info(c, cmd.offset, what);
}

static void bus_creator_info(struct conn *c)
{
	struct kdbus_cmd_info cmd = { .size = sizeof(cmd), .attach_flags = _KDBUS_ATTACH_ALL };

	if (ioctl(c->fd, KDBUS_CMD_BUS_CREATOR_INFO, &cmd) < 0)
		die("BUS_CREATOR_INFO");
	print_info(c, cmd.offset, "BUS_CREATOR_INFO");
}

/* ---- Method calls (message.md §4) ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* A message in @buf with one vector @text; returns the header. */
static struct kdbus_msg *build_msg(uint64_t *buf, uint64_t to, uint64_t flags, uint64_t cookie,
				   uint64_t timeout_or_reply, struct kdbus_vec *vec, const char *text)
{
	struct kdbus_msg *msg = (struct kdbus_msg *)buf;

	vec->size = strlen(text) + 1;
	vec->address = (uintptr_t)text;
	msg->size = add_item((uint8_t *)buf, sizeof(*msg), KDBUS_ITEM_PAYLOAD_VEC, vec,
			     sizeof(*vec));
	msg->flags = flags;
	msg->dst_id = to;
	msg->payload_type = KDBUS_PAYLOAD_DBUS;
	msg->cookie = cookie;
	msg->timeout_ns = timeout_or_reply;	/* union with cookie_reply */
	return msg;
}

/* The first PAYLOAD_OFF string of a message. */
static const char *payload(struct kdbus_msg *msg)
{
	struct kdbus_item *item;

	for (item = msg->items; (uint8_t *)item < (uint8_t *)msg + msg->size;
	     item = (struct kdbus_item *)((uint8_t *)item + ALIGN8(item->size)))
		if (item->type == KDBUS_ITEM_PAYLOAD_OFF && item->vec.offset != ~0ULL)
			return (const char *)msg + item->vec.offset;
	return "";
}

/* The callee (a child process): RECV one call and answer it. */
static void answer_one(struct conn *c)
{
	struct kdbus_cmd_recv recv = { .size = sizeof(recv) };
	struct kdbus_cmd_send send = { .size = sizeof(send) };
	struct kdbus_cmd_free cmd_free = { .size = sizeof(cmd_free) };
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	uint64_t buf[32] = { 0 };
	struct kdbus_vec vec;
	struct kdbus_msg *call;

	if (poll(&pfd, 1, 5000) != 1 || ioctl(c->fd, KDBUS_CMD_RECV, &recv) < 0)
		die("callee RECV");
	call = (struct kdbus_msg *)(c->pool + recv.msg.offset);
	printf("  callee %llu got call cookie %llu, \"%s\", deadline %llu ns (absolute)\n",
	       (unsigned long long)c->id, (unsigned long long)call->cookie, payload(call),
	       (unsigned long long)call->timeout_ns);
	send.msg_address = (uintptr_t)build_msg(buf, call->src_id, 0, 7, call->cookie, &vec,
						"pong");
	if (ioctl(c->fd, KDBUS_CMD_SEND, &send) < 0)
		die("callee SEND reply");
	cmd_free.offset = recv.msg.offset;
	ioctl(c->fd, KDBUS_CMD_FREE, &cmd_free);
}

/* A synchronous call with a deadline 2 s ahead, answered by @callee. */
static void sync_call(struct conn *caller, struct conn *callee)
{
	struct kdbus_cmd_send send = { .size = sizeof(send), .flags = KDBUS_SEND_SYNC_REPLY };
	struct kdbus_cmd_free cmd_free = { .size = sizeof(cmd_free) };
	uint64_t buf[32] = { 0 };
	struct kdbus_vec vec;
	struct kdbus_msg *reply;
	uint64_t t0 = now_ns();
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		answer_one(callee);
		_exit(0);
	}
	send.msg_address = (uintptr_t)build_msg(buf, callee->id, KDBUS_MSG_EXPECT_REPLY, 100,
						t0 + 2000000000ULL, &vec, "ping");
	if (ioctl(caller->fd, KDBUS_CMD_SEND, &send) < 0)
		die("synchronous SEND");
	reply = (struct kdbus_msg *)(caller->pool + send.reply.offset);
	printf("synchronous call %llu -> %llu (deadline: now + 2 s): reply after %llu ms,\n"
	       "  cookie_reply %llu, \"%s\", in the caller's pool at %llu (never queued)\n",
	       (unsigned long long)caller->id, (unsigned long long)callee->id,
	       (unsigned long long)(now_ns() - t0) / 1000000,
	       (unsigned long long)reply->cookie_reply, payload(reply),
	       (unsigned long long)send.reply.offset);
	cmd_free.offset = send.reply.offset;
	if (ioctl(caller->fd, KDBUS_CMD_FREE, &cmd_free) < 0)
		die("FREE");
	waitpid(pid, NULL, 0);
}

/* Calls nobody answers: a synchronous one fails ETIMEDOUT at its deadline,
 * an asynchronous one earns a REPLY_TIMEOUT notification. */
static void timed_out_calls(struct conn *caller, struct conn *callee)
{
	struct kdbus_cmd_send send = { .size = sizeof(send), .flags = KDBUS_SEND_SYNC_REPLY };
	struct kdbus_cmd_recv recv = { .size = sizeof(recv) };
	struct kdbus_cmd_free cmd_free = { .size = sizeof(cmd_free) };
	struct pollfd pfd = { .fd = caller->fd, .events = POLLIN };
	uint64_t buf[32] = { 0 };
	struct kdbus_vec vec;
	struct kdbus_msg *note;
	uint64_t t0 = now_ns();
	int i;

	send.msg_address = (uintptr_t)build_msg(buf, callee->id, KDBUS_MSG_EXPECT_REPLY, 101,
						t0 + 300000000ULL, &vec, "anyone?");
	if (ioctl(caller->fd, KDBUS_CMD_SEND, &send) == 0 || errno != ETIMEDOUT)
		die("synchronous call without an answer did not time out");
	printf("synchronous call nobody answers (deadline: now + 300 ms): %s after %llu ms\n",
	       strerror(errno), (unsigned long long)(now_ns() - t0) / 1000000);

	t0 = now_ns();
	send.flags = 0;
	send.msg_address = (uintptr_t)build_msg(buf, callee->id, KDBUS_MSG_EXPECT_REPLY, 102,
						t0 + 200000000ULL, &vec, "anyone there?");
	if (ioctl(caller->fd, KDBUS_CMD_SEND, &send) < 0)
		die("asynchronous SEND");
	if (poll(&pfd, 1, 5000) != 1 || ioctl(caller->fd, KDBUS_CMD_RECV, &recv) < 0)
		die("RECV notification");
	note = (struct kdbus_msg *)(caller->pool + recv.msg.offset);
	printf("asynchronous call (deadline: now + 200 ms): after %llu ms the kernel (src_id %llu)\n"
	       "  sends %s for cookie %llu\n",
	       (unsigned long long)(now_ns() - t0) / 1000000, (unsigned long long)note->src_id,
	       note->items[0].type == KDBUS_ITEM_REPLY_TIMEOUT ? "REPLY_TIMEOUT" : "something else",
	       (unsigned long long)note->cookie_reply);
	cmd_free.offset = recv.msg.offset;
	ioctl(caller->fd, KDBUS_CMD_FREE, &cmd_free);

	/* The callee drops both unanswered calls (BYEBYE needs an empty queue). */
	for (i = 0; i < 2; i++) {
		struct kdbus_cmd_recv drop = { .size = sizeof(drop), .flags = KDBUS_RECV_DROP };

		if (ioctl(callee->fd, KDBUS_CMD_RECV, &drop) < 0)
			die("RECV DROP");
	}
	printf("callee drops the two unanswered calls (RECV DROP)\n");
}

/* RECV one message without waiting; NULL (and EAGAIN) if there is none. */
static struct kdbus_msg *recv_now(struct conn *c, uint64_t *offset)
{
	struct kdbus_cmd_recv cmd = { .size = sizeof(cmd) };

	if (ioctl(c->fd, KDBUS_CMD_RECV, &cmd) < 0)
		return NULL;
	*offset = cmd.msg.offset;
	return (struct kdbus_msg *)(c->pool + cmd.msg.offset);
}

static void free_slice(struct conn *c, uint64_t offset)
{
	struct kdbus_cmd_free cmd_free = { .size = sizeof(cmd_free), .offset = offset };

	ioctl(c->fd, KDBUS_CMD_FREE, &cmd_free);
}

/* HELLO on @node of @bus with @flags and the attach masks @send and @recv,
 * quietly; an activator or policy holder gets the NAME @name with the @n
 * policy records @pa. */
static void hello_ex(struct conn *c, const char *bus, const char *node, uint64_t flags,
		     uint64_t send, uint64_t recv, const char *name,
		     const struct kdbus_policy_access *pa, size_t n)
{
	uint64_t buf[64] = { 0 };
	struct kdbus_cmd_hello *hello = (struct kdbus_cmd_hello *)buf;
	size_t pos = sizeof(*hello), i;

	if (name)
		pos = add_item((uint8_t *)buf, pos, KDBUS_ITEM_NAME, name, strlen(name) + 1);
	for (i = 0; i < n; i++)
		pos = add_item((uint8_t *)buf, pos, KDBUS_ITEM_POLICY_ACCESS, &pa[i],
			       sizeof(pa[i]));
	hello->size = pos;
	hello->flags = flags;
	hello->attach_flags_send = send;
	hello->attach_flags_recv = recv;
	connect_node(c, bus, node, hello);
	free_slice(c, hello->offset);
}

/* HELLO with @flags (KDBUS_HELLO_ACTIVATOR: @name is its name, which
 * everyone may own), quietly. */
static void hello_as(struct conn *c, const char *bus, uint64_t flags, const char *name)
{
	static const struct kdbus_policy_access world = {
		.type = KDBUS_POLICY_ACCESS_WORLD, .access = KDBUS_POLICY_OWN,
	};

	hello_ex(c, bus, "bus", flags, 0, 0, name, &world, name ? 1 : 0);
}

/* MATCH_ADD of one rule item (@type, @data), or of none when @len is 0. */
static void match_add(struct conn *c, uint64_t type, const void *data, size_t len)
{
	uint64_t buf[64] = { 0 };
	struct kdbus_cmd_match *cmd = (struct kdbus_cmd_match *)buf;

	cmd->size = len ? add_item((uint8_t *)buf, sizeof(*cmd), type, data, len) : sizeof(*cmd);
	cmd->cookie = 1;
	if (ioctl(c->fd, KDBUS_CMD_MATCH_ADD, cmd) < 0)
		die("MATCH_ADD");
}

/* A message to the well-known @name (dst_id 0 and a DST_NAME item). */
static void send_to_name(struct conn *from, const char *name, const char *text)
{
	uint64_t buf[64] = { 0 };
	struct kdbus_cmd_send cmd = { .size = sizeof(cmd) };
	struct kdbus_vec vec;
	struct kdbus_msg *msg = build_msg(buf, 0, 0, 200, 0, &vec, text);

	msg->size = add_item((uint8_t *)buf, msg->size, KDBUS_ITEM_DST_NAME, name,
			     strlen(name) + 1);
	cmd.msg_address = (uintptr_t)msg;
	if (ioctl(from->fd, KDBUS_CMD_SEND, &cmd) < 0)
		die("SEND by name");
	printf("SEND %llu -> %s: \"%s\"\n", (unsigned long long)from->id, name, text);
}

/* NAME_ACQUIRE of @name: 0 or -errno. */
static int name_acquire(struct conn *c, const char *name)
{
	uint64_t buf[64] = { 0 };
	struct kdbus_cmd *cmd = (struct kdbus_cmd *)buf;

	cmd->size = add_item((uint8_t *)buf, sizeof(*cmd), KDBUS_ITEM_NAME, name, strlen(name) + 1);
	return ioctl(c->fd, KDBUS_CMD_NAME_ACQUIRE, cmd) < 0 ? -errno : 0;
}

/* A service started through its activator, then a broadcast. */
static void routing(const char *bus, struct conn *alice)
{
	static const char name[] = "org.demo.Echo";
	struct kdbus_notify_name_change rule = {
		.old_id = { .id = KDBUS_MATCH_ID_ANY }, .new_id = { .id = KDBUS_MATCH_ID_ANY },
	};
	uint64_t sig[64] = { 0 }, mask_yes[8] = { 0 }, mask_no[8] = { 0 }, off;
	struct kdbus_cmd_send cmd = { .size = sizeof(cmd) };
	struct conn act, echo, carol, dave;
	struct kdbus_msg *msg;
	struct kdbus_vec vec;
	struct {
		uint64_t generation;
		uint64_t bits[8];
	} filter = { 0, { 0x5 } };

	/* The activator stands in for org.demo.Echo, which is not running. */
	hello_as(&act, bus, KDBUS_HELLO_ACTIVATOR, name);
	printf("activator %llu for %s (HELLO with KDBUS_HELLO_ACTIVATOR)\n",
	       (unsigned long long)act.id, name);
	match_add(alice, KDBUS_ITEM_NAME_CHANGE, &rule, sizeof(rule));
	printf("alice subscribes to NAME_CHANGE (MATCH_ADD)\n");
	send_to_name(alice, name, "first");
	send_to_name(alice, name, "second");
	printf("  both wait in the activator's queue; the service is started now\n");

	/* The service starts and takes its name over. */
	hello_as(&echo, bus, KDBUS_HELLO_ACCEPT_FD, NULL);
	if (name_acquire(&echo, name) < 0)
		die("NAME_ACQUIRE");
	printf("echo %llu: NAME_ACQUIRE %s: ok\n", (unsigned long long)echo.id, name);
	while ((msg = recv_now(&echo, &off))) {
		printf("  echo RECV: \"%s\" from %llu (handed over from the activator)\n",
		       payload(msg), (unsigned long long)msg->src_id);
		free_slice(&echo, off);
	}
	msg = recv_now(alice, &off);
	if (!msg || msg->items[0].type != KDBUS_ITEM_NAME_CHANGE)
		die("no NAME_CHANGE");
	printf("  alice RECV from the kernel: NAME_CHANGE %s: %llu (flags 0x%llx) -> %llu\n",
	       msg->items[0].name_change.name,
	       (unsigned long long)msg->items[0].name_change.old_id.id,
	       (unsigned long long)msg->items[0].name_change.old_id.flags,
	       (unsigned long long)msg->items[0].name_change.new_id.id);
	free_slice(alice, off);

	/* A signal broadcast: carol's bloom mask is covered by the filter,
	 * dave's is not. */
	hello_as(&carol, bus, 0, NULL);
	hello_as(&dave, bus, 0, NULL);
	mask_yes[0] = 0x1;
	mask_no[0] = 0x2;
	match_add(&carol, KDBUS_ITEM_BLOOM_MASK, mask_yes, sizeof(mask_yes));
	match_add(&dave, KDBUS_ITEM_BLOOM_MASK, mask_no, sizeof(mask_no));
	msg = build_msg(sig, KDBUS_DST_ID_BROADCAST, KDBUS_MSG_SIGNAL, 300, 0, &vec, "tick");
	msg->size = add_item((uint8_t *)sig, msg->size, KDBUS_ITEM_BLOOM_FILTER, &filter,
			     sizeof(filter));
	cmd.msg_address = (uintptr_t)msg;
	if (ioctl(echo.fd, KDBUS_CMD_SEND, &cmd) < 0)
		die("broadcast SEND");
	printf("echo broadcasts \"tick\" with bloom filter 0x5; carol's mask 0x1, dave's 0x2\n");
	msg = recv_now(&carol, &off);
	printf("  carol RECV: %s\n", msg ? payload(msg) : strerror(errno));
	if (msg)
		free_slice(&carol, off);
	msg = recv_now(&dave, &off);
	printf("  dave RECV: %s\n", msg ? payload(msg) : strerror(errno));
	close(dave.fd);
	close(carol.fd);
	close(echo.fd);
	close(act.fd);
	/* alice's NAME_CHANGE rule saw the name go back to the activator. */
	while ((msg = recv_now(alice, &off)))
		free_slice(alice, off);
}

/* ---- Trust: policy, custom endpoints, monitors, metadata (names-match-
 * policy-metadata.md §3, §4) ---- */

static const char *result(int ret)
{
	return ret ? strerror(-ret) : "ok";
}

/* A plain message @text from @from to @to: 0 or -errno. */
static int send_text(struct conn *from, uint64_t to, const char *text)
{
	uint64_t buf[32] = { 0 };
	struct kdbus_cmd_send cmd = { .size = sizeof(cmd) };
	struct kdbus_vec vec;

	cmd.msg_address = (uintptr_t)build_msg(buf, to, 0, 500, 0, &vec, text);
	return ioctl(from->fd, KDBUS_CMD_SEND, &cmd) < 0 ? -errno : 0;
}

/* The same to the well-known @name. */
static int send_text_name(struct conn *from, const char *name)
{
	uint64_t buf[64] = { 0 };
	struct kdbus_cmd_send cmd = { .size = sizeof(cmd) };
	struct kdbus_vec vec;
	struct kdbus_msg *msg = build_msg(buf, KDBUS_DST_ID_NAME, 0, 501, 0, &vec, "hi");

	msg->size = add_item((uint8_t *)buf, msg->size, KDBUS_ITEM_DST_NAME, name,
			     strlen(name) + 1);
	cmd.msg_address = (uintptr_t)msg;
	return ioctl(from->fd, KDBUS_CMD_SEND, &cmd) < 0 ? -errno : 0;
}

/* RECV and FREE one message, if there is one. */
static bool recv_msg_quiet(struct conn *c)
{
	uint64_t off;

	if (!recv_now(c, &off))
		return false;
	free_slice(c, off);
	return true;
}

/* Become @uid for good (a child process), keeping /proc/self writable
 * for itself (a uid change makes the process non-dumpable). */
static void become(uid_t uid)
{
	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
	    setresuid(uid, uid, uid) < 0 || prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		die("setresuid");
}

/* uid 1000 on root's bus: denied without policy, allowed by a policy
 * holder's entry. */
static void policy_demo(const char *bus, struct conn *alice)
{
	static const struct kdbus_policy_access own = {
		.type = KDBUS_POLICY_ACCESS_USER, .access = KDBUS_POLICY_OWN, .id = 1000,
	};
	struct conn ph, u;
	pid_t pid;

	hello_ex(&ph, bus, "bus", KDBUS_HELLO_POLICY_HOLDER, 0, 0, "org.demo.Public", &own, 1);
	printf("policy holder %llu: uid 1000 may OWN org.demo.Public, nothing else\n",
	       (unsigned long long)ph.id);
	pid = fork();
	if (pid == 0) {
		become(1000);
		hello_as(&u, bus, 0, NULL);
		printf("uid 1000 connects as %llu (unprivileged: the bus is root's)\n",
		       (unsigned long long)u.id);
		printf("  NAME_ACQUIRE org.demo.Secret: %s\n",
		       result(name_acquire(&u, "org.demo.Secret")));
		printf("  SEND to alice (uid 0, owns no name): %s\n",
		       result(send_text(&u, alice->id, "hi")));
		printf("  NAME_ACQUIRE org.demo.Public: %s\n",
		       result(name_acquire(&u, "org.demo.Public")));
		exit(0);
	}
	if (pid < 0 || waitpid(pid, NULL, 0) != pid)
		die("fork");
	close(ph.fd);
}

/* CONN_INFO by @name: the owner's ID, or -errno. */
static long long owner_of(struct conn *c, const char *name)
{
	uint64_t buf[64] = { 0 };
	struct kdbus_cmd_info *cmd = (struct kdbus_cmd_info *)buf;
	long long id;

	cmd->size = add_item((uint8_t *)buf, sizeof(*cmd), KDBUS_ITEM_NAME, name, strlen(name) + 1);
	if (ioctl(c->fd, KDBUS_CMD_CONN_INFO, cmd) < 0)
		return -errno;
	id = ((struct kdbus_info *)(c->pool + cmd->offset))->id;
	free_slice(c, cmd->offset);
	return id;
}

/* LIST of the names @c may see. */
static void list_names(struct conn *c)
{
	struct kdbus_cmd_list cmd = { .size = sizeof(cmd), .flags = KDBUS_LIST_NAMES };
	struct kdbus_item *item;
	uint64_t pos;

	if (ioctl(c->fd, KDBUS_CMD_LIST, &cmd) < 0)
		die("LIST");
	printf("  LIST NAMES:");
	for (pos = 0; pos < cmd.list_size;) {
		struct kdbus_info *info = (struct kdbus_info *)(c->pool + cmd.offset + pos);

		for (item = info->items; (uint8_t *)item < (uint8_t *)info + info->size;
		     item = (struct kdbus_item *)((uint8_t *)item + ALIGN8(item->size)))
			if (item->type == KDBUS_ITEM_OWNED_NAME)
				printf(" %s", item->name.name);
		pos += info->size;
	}
	printf("\n");
	free_slice(c, cmd.offset);
}

/* A custom endpoint that shows bob's org.demo.Public and hides alice's
 * org.demo.Hidden. */
static void endpoint_demo(const char *bus, struct conn *alice, struct conn *bob)
{
	static const struct kdbus_policy_access talk = {
		.type = KDBUS_POLICY_ACCESS_WORLD, .access = KDBUS_POLICY_TALK,
	};
	uint64_t buf[64] = { 0 };
	struct kdbus_cmd *cmd = (struct kdbus_cmd *)buf;
	char path[128], ep[64];
	struct conn e;
	int fd;

	snprintf(path, sizeof(path), "/sys/fs/kdbus/%s/bus", bus);
	snprintf(ep, sizeof(ep), "%u-public", (unsigned)geteuid());
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("open bus");
	cmd->size = add_item((uint8_t *)buf, sizeof(*cmd), KDBUS_ITEM_MAKE_NAME, ep, strlen(ep) + 1);
	cmd->flags = KDBUS_MAKE_ACCESS_WORLD;
	if (ioctl(fd, KDBUS_CMD_ENDPOINT_MAKE, cmd) < 0)
		die("ENDPOINT_MAKE");
	memset(buf, 0, sizeof(buf));
	cmd->size = add_item((uint8_t *)buf, sizeof(*cmd), KDBUS_ITEM_NAME, "org.demo.Public",
			     sizeof("org.demo.Public"));
	cmd->size = add_item((uint8_t *)buf, cmd->size, KDBUS_ITEM_POLICY_ACCESS, &talk,
			     sizeof(talk));
	if (ioctl(fd, KDBUS_CMD_ENDPOINT_UPDATE, cmd) < 0)
		die("ENDPOINT_UPDATE");
	printf("ENDPOINT_MAKE %s, ENDPOINT_UPDATE: everyone may TALK to org.demo.Public\n", ep);
	if (name_acquire(bob, "org.demo.Public") < 0 || name_acquire(alice, "org.demo.Hidden") < 0)
		die("NAME_ACQUIRE");
	printf("bob %llu owns org.demo.Public, alice %llu org.demo.Hidden\n",
	       (unsigned long long)bob->id, (unsigned long long)alice->id);
	hello_ex(&e, bus, ep, 0, 0, 0, NULL, NULL, 0);
	printf("connection %llu through %s:\n", (unsigned long long)e.id, ep);
	list_names(&e);
	printf("  CONN_INFO org.demo.Public: %lld\n", owner_of(&e, "org.demo.Public"));
	printf("  CONN_INFO org.demo.Hidden: %s\n", result((int)owner_of(&e, "org.demo.Hidden")));
	printf("  SEND to org.demo.Hidden: %s; SEND to org.demo.Public: %s\n",
	       result(send_text_name(&e, "org.demo.Hidden")),
	       result(send_text_name(&e, "org.demo.Public")));
	close(e.fd);
	close(fd);
	while (recv_msg_quiet(bob))
		;
}

/* A monitor sees alice's call to bob and bob's reply. */
static void monitor_demo(const char *bus, struct conn *alice, struct conn *bob)
{
	uint64_t buf[32] = { 0 }, off;
	struct kdbus_cmd_send cmd = { .size = sizeof(cmd) };
	struct kdbus_msg *msg;
	struct kdbus_vec vec;
	struct conn mon;

	hello_ex(&mon, bus, "bus", KDBUS_HELLO_MONITOR, 0, 0, NULL, NULL, 0);
	printf("monitor %llu (HELLO with KDBUS_HELLO_MONITOR, no match rules)\n",
	       (unsigned long long)mon.id);
	cmd.msg_address = (uintptr_t)build_msg(buf, bob->id, KDBUS_MSG_EXPECT_REPLY, 600,
					       now_ns() + 5000000000ULL, &vec, "ping");
	if (ioctl(alice->fd, KDBUS_CMD_SEND, &cmd) < 0)
		die("SEND call");
	printf("alice calls bob: \"ping\"\n");
	answer_one(bob);
	msg = recv_now(alice, &off);
	printf("  alice RECV: \"%s\"\n", msg ? payload(msg) : strerror(errno));
	if (msg)
		free_slice(alice, off);
	while ((msg = recv_now(&mon, &off))) {
		printf("  monitor RECV: %llu -> %llu, cookie %llu, reply to %llu: \"%s\"\n",
		       (unsigned long long)msg->src_id, (unsigned long long)msg->dst_id,
		       (unsigned long long)msg->cookie,
		       (unsigned long long)(msg->flags & KDBUS_MSG_EXPECT_REPLY ?
					    0 : msg->cookie_reply),
		       payload(msg));
		free_slice(&mon, off);
	}
	close(mon.fd);
}

/* The CREDS uid of @msg, as the reading task sees it (-1: none). */
static long long creds_uid(struct kdbus_msg *msg)
{
	struct kdbus_item *item;

	for (item = msg->items; (uint8_t *)item < (uint8_t *)msg + msg->size;
	     item = (struct kdbus_item *)((uint8_t *)item + ALIGN8(item->size)))
		if (item->type == KDBUS_ITEM_CREDS)
			return item->creds.uid;
	return -1;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/* A receiver in a user namespace of its own (uid 1000 outside, 0 inside)
 * reads the credentials of alice (uid 0 outside) and of its own sender. */
static void userns_demo(const char *bus, struct conn *alice)
{
	struct pollfd pfd;
	int up[2], down[2], i;
	struct conn r, snd;
	struct kdbus_msg *msg;
	uint64_t id, off;
	char c;
	pid_t pid;

	if (pipe(up) < 0 || pipe(down) < 0)
		die("pipe");
	pid = fork();
	if (pid == 0) {
		become(1000);
		hello_ex(&r, bus, "bus", 0, 0, KDBUS_ATTACH_CREDS, NULL, NULL, 0);
		hello_ex(&snd, bus, "bus", 0, KDBUS_ATTACH_CREDS, 0, NULL, NULL, 0);
		if (unshare(CLONE_NEWUSER) < 0 || write_file("/proc/self/uid_map", "0 1000 1") ||
		    write_file("/proc/self/setgroups", "deny") ||
		    write_file("/proc/self/gid_map", "0 1000 1"))
			die("user namespace");
		printf("receiver %llu: uid 1000 outside, uid %u in its own user namespace\n",
		       (unsigned long long)r.id, (unsigned)getuid());
		if (write(up[1], &r.id, sizeof(r.id)) != sizeof(r.id) || read(down[0], &c, 1) != 1)
			die("pipe");
		if (send_text(&snd, r.id, "from a uid-1000 sender") < 0)
			die("SEND");
		for (i = 0; i < 2; i++) {
			pfd = (struct pollfd){ .fd = r.fd, .events = POLLIN };
			if (poll(&pfd, 1, 5000) != 1 || !(msg = recv_now(&r, &off)))
				die("RECV");
			printf("  RECV \"%s\": CREDS uid %lld\n", payload(msg), creds_uid(msg));
			free_slice(&r, off);
		}
		exit(0);
	}
	close(up[1]);
	close(down[0]);
	if (pid < 0 || read(up[0], &id, sizeof(id)) != sizeof(id))
		die("receiver in a user namespace");
	if (send_text(alice, id, "from alice (uid 0)") < 0)
		die("SEND");
	if (write(down[1], "g", 1) != 1 || waitpid(pid, NULL, 0) != pid)
		die("waitpid");
	printf("  (uid 0 has no mapping in that namespace: the overflow uid 65534)\n");
	close(up[0]);
	close(down[1]);
}

int main(void)
{
	struct kdbus_cmd byebye = { .size = sizeof(byebye) };
	struct conn a, b;
	char name[64], path[128];
	int bus;

	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(name, sizeof(name), "%u-demo", (unsigned)geteuid());
	bus = make_bus(name);
	hello(&a, name, "alice");
	hello(&b, name, "bob");
	list(&a);
	conn_info(&a, b.id);
	bus_creator_info(&b);
	send_msg(&a, b.id, "hello", "bob");
	recv_msg(&b);
	pass_fd(&a, &b);
	pass_memfd(&a, &b);
	sync_call(&a, &b);
	timed_out_calls(&a, &b);
	routing(name, &a);
	policy_demo(name, &a);
	endpoint_demo(name, &a, &b);
	monitor_demo(name, &a, &b);
	userns_demo(name, &a);
	if (ioctl(b.fd, KDBUS_CMD_BYEBYE, &byebye) < 0)
		die("BYEBYE");
	printf("BYEBYE (bob): ok\n");
	if (ioctl(b.fd, KDBUS_CMD_LIST, &(struct kdbus_cmd_list){ .size = 40 }) < 0 &&
	    errno == ECONNRESET)
		printf("bob's handle now answers ECONNRESET\n");
	list(&a);
	close(b.fd);
	close(bus);
	snprintf(path, sizeof(path), "/sys/fs/kdbus/%s", name);
	if (ioctl(a.fd, KDBUS_CMD_LIST, &(struct kdbus_cmd_list){ .size = 40 }) < 0 &&
	    errno == ECONNRESET)
		printf("bus closed: alice's handle answers ECONNRESET, %s is %s\n", path,
		       access(path, F_OK) ? "gone" : "still there");
	close(a.fd);
	return 0;
}
