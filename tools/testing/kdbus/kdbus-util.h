/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the kdbus kselftests, so that a test is a few lines.
 *
 * Conventions: every helper that can fail returns 0 (or a descriptor, a
 * count, ...) on success and -errno on failure; none of them exits or
 * prints. Functions that run something in a child process return the
 * child's exit status (0..255), or -errno when the child could not be run
 * or did not exit normally (-ECHILD).
 */
#ifndef KDBUS_UTIL_H
#define KDBUS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <linux/kdbus.h>

#define KDBUS_MODULE		"kdbus"
#define KDBUS_FSTYPE		"kdbusfs"
#define KDBUS_SYSFS_DIR		"/sys/fs/kdbus"
#define KDBUS_PARAM_PATH	"/sys/module/kdbus/parameters/attach_flags_mask"
#define KDBUS_SUPER_MAGIC	0x44427573
/* Default module path inside the test VM; overridden by $KDBUS_MODULE_KO. */
#define KDBUS_MODULE_KO		"/kdbus/kdbus.ko"
#define KDBUS_PARAM_DEFAULT	"10271"

/* Module-internal limits of the reference (abi.md §9); not in the uapi. */
#define KDBUS_TEST_MAX_BUSES	16	/* KDBUS_USER_MAX_BUSES */
#define KDBUS_TEST_MAX_CONN	1024	/* KDBUS_USER_MAX_CONN */
#define KDBUS_TEST_SYSNAME_MAX	63	/* KDBUS_SYSNAME_MAX_LEN */
#define KDBUS_TEST_CMD_MAX	32768	/* KDBUS_CMD_MAX_SIZE */
#define KDBUS_TEST_BLOOM_MAX	4096	/* KDBUS_BUS_BLOOM_MAX_SIZE */
#define KDBUS_TEST_POOL_SIZE	4096	/* smallest valid pool: one page */
#define KDBUS_TEST_OVERFLOW_ID	65534	/* default overflowuid/overflowgid */
#define KDBUS_TEST_NOBODY	65534	/* the unprivileged test user */

/* ---------------------------------------------------------------------
 * Item arithmetic (abi.md §5.14). The uapi header defines none of these.
 */
#define KDBUS_ALIGN8(x)		(((uint64_t)(x) + 7) & ~(uint64_t)7)
#define KDBUS_ITEM_HEADER_SIZE	16
#define KDBUS_ITEM_SIZE(n)	KDBUS_ALIGN8(KDBUS_ITEM_HEADER_SIZE + (n))
#define KDBUS_ITEM_NEXT(item) \
	((struct kdbus_item *)((uint8_t *)(item) + KDBUS_ALIGN8((item)->size)))

/*
 * Walk the items in the @len bytes starting at @first. Stops at the end,
 * at a truncated header, at an item whose size is below 16 or which runs
 * past the end (so a corrupt list cannot loop forever).
 */
#define KDBUS_ITEMS_FOREACH(item, first, len)					\
	for ((item) = (first);							\
	     (uint8_t *)(item) + KDBUS_ITEM_HEADER_SIZE <=			\
			(uint8_t *)(first) + (len) &&				\
	     (item)->size >= KDBUS_ITEM_HEADER_SIZE &&				\
	     (uint8_t *)(item) + (item)->size <= (uint8_t *)(first) + (len);	\
	     (item) = KDBUS_ITEM_NEXT(item))

/* Walk the items of a container (kdbus_info, kdbus_cmd, ...) whose size
 * field covers the fixed part and the member @first. */
#define KDBUS_ITEM_FOREACH(item, head, first)					\
	KDBUS_ITEMS_FOREACH(item, (head)->first,				\
			    (head)->size - offsetof(__typeof__(*(head)), first))

/* ---------------------------------------------------------------------
 * Building command structures with items in an aligned buffer.
 *
 *	struct kdbus_builder b;
 *	kdbus_b_init(&b, sizeof(struct kdbus_cmd));
 *	kdbus_b_str(&b, KDBUS_ITEM_MAKE_NAME, name);
 *	kdbus_b_bloom(&b, 64, 1);
 *	struct kdbus_cmd *cmd = kdbus_b_cmd(&b);	// size set, 8-aligned
 *	cmd->flags = KDBUS_MAKE_ACCESS_WORLD;
 *	ret = kdbus_ioctl(fd, KDBUS_CMD_BUS_MAKE, cmd);
 *
 * Items are appended at 8-byte aligned positions with exact size fields
 * and zero padding. The buffer is larger than KDBUS_CMD_MAX_SIZE so that
 * oversized commands can be built. Item adders return 0 or -ENOSPC (also
 * remembered in ->err).
 */
#define KDBUS_BUILDER_CAP	(40 * 1024)

struct kdbus_builder {
	size_t len;		/* bytes used, always a multiple of 8 */
	int err;
	uint64_t buf[KDBUS_BUILDER_CAP / 8];
};

/* Start a command whose fixed part is @fixed bytes (zeroed). */
void kdbus_b_init(struct kdbus_builder *b, size_t fixed);
/* Append an item: header {size_field, type}, then @len payload bytes,
 * then zero padding up to ALIGN8(16 + len). */
int kdbus_b_raw(struct kdbus_builder *b, uint64_t type, const void *data,
		size_t len, uint64_t size_field);
/* Append an item of exact size 16 + @len. */
int kdbus_b_item(struct kdbus_builder *b, uint64_t type, const void *data, size_t len);
/* String item: payload = @s with its NUL. */
int kdbus_b_str(struct kdbus_builder *b, uint64_t type, const char *s);
/* Item carrying one u64 (ATTACH_FLAGS_*, ID). */
int kdbus_b_u64(struct kdbus_builder *b, uint64_t type, uint64_t v);
/* KDBUS_ITEM_BLOOM_PARAMETER {size, n_hash}. */
int kdbus_b_bloom(struct kdbus_builder *b, uint64_t size, uint64_t n_hash);
/* KDBUS_ITEM_POLICY_ACCESS {type, access, id}. */
int kdbus_b_policy(struct kdbus_builder *b, uint64_t type, uint64_t access, uint64_t id);
/* KDBUS_ITEM_NEGOTIATE with @n item types. */
int kdbus_b_negotiate(struct kdbus_builder *b, const uint64_t *types, size_t n);
/* Finish: write the total size into the first u64 and return the buffer. */
void *kdbus_b_cmd(struct kdbus_builder *b);

/* ioctl() returning 0 or -errno. */
int kdbus_ioctl(int fd, unsigned long request, void *arg);

/*
 * Issue one of the 13 non-make commands (UPDATE, BYEBYE, FREE, CONN_INFO,
 * BUS_CREATOR_INFO, LIST, SEND, RECV, NAME_ACQUIRE, NAME_RELEASE,
 * MATCH_ADD, MATCH_REMOVE, ENDPOINT_UPDATE) with a small well-formed
 * argument. Meant for handle-state checks; returns 0 or -errno (-EINVAL
 * for another request number, without calling ioctl()).
 */
int kdbus_cmd_simple(int fd, unsigned long request);

/* The 12 connection commands (all but ENDPOINT_UPDATE), for loops. */
extern const unsigned long kdbus_conn_cmds[12];
const char *kdbus_cmd_name(unsigned long request);

/* ---------------------------------------------------------------------
 * Names and domains
 */

/* Write "<uid>-<tag>-<n>" to @buf, n from a counter shared by every
 * process of the test binary (unique within a run). Returns @buf. */
char *kdbus_make_name(char *buf, size_t len, uid_t uid, const char *tag);

/* A kdbusfs mount (a fresh domain) on a fresh directory under /tmp. */
struct kdbus_domain {
	char root[64];
};

/* Mount; returns 0 or -errno. */
int kdbus_domain_init(struct kdbus_domain *d);
/* Lazily unmount (works with files still open) and remove the directory.
 * Safe to call when already unmounted. */
void kdbus_domain_fini(struct kdbus_domain *d);
/* "<geteuid()>-<tag>-<n>" (the caller's current effective UID as seen
 * from its own user namespace). */
char *kdbus_domain_name(struct kdbus_domain *d, char *buf, size_t len, const char *tag);
/* snprintf "<root>/" fmt into @buf; returns @buf. */
char *kdbus_path(char *buf, size_t len, const char *root, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Mount a new kdbusfs (a new domain) on a fresh temporary directory, whose
 * path is written to @dir (at least 64 bytes). Returns 0 or -errno. */
int kdbus_mount_tmp(char *dir, size_t len);
/* Whether kdbus is built into the kernel (a module has an initstate). */
bool kdbus_builtin(void);
/* Unmount and remove a directory made by kdbus_mount_tmp(). */
void kdbus_umount_tmp(const char *dir);

/* ---------------------------------------------------------------------
 * Opening nodes. All return a descriptor (O_CLOEXEC added) or -errno.
 */
int kdbus_open(const char *root, const char *rel, int flags);
int kdbus_open_control(const char *root);			/* O_RDWR */
int kdbus_open_bus(const char *root, const char *bus);		/* <bus>/bus, O_RDWR */
int kdbus_open_ep(const char *root, const char *bus, const char *ep); /* O_RDWR */

/* ---------------------------------------------------------------------
 * BUS_MAKE / ENDPOINT_MAKE
 *
 *	kdbus_bus_make(fd, flags, name, bloom_size, n_hash [, options])
 *
 * issues BUS_MAKE with a MAKE_NAME item (omitted when @name is NULL) and a
 * BLOOM_PARAMETER item, followed by the options, in order:
 *	KDBUS_OPT_ATTACH_SEND(v), KDBUS_OPT_ATTACH_RECV(v)	item with u64 v
 *	KDBUS_OPT_NAME(str)					KDBUS_ITEM_NAME
 *	KDBUS_OPT_NO_BLOOM					omit BLOOM_PARAMETER
 * Returns 0 or -errno.
 */
#define KDBUS_OPT_END			((uint64_t)0)
#define KDBUS_OPT_NO_BLOOM		((uint64_t)1 << 40)
#define KDBUS_OPT_ATTACH_SEND(v)	(uint64_t)KDBUS_ITEM_ATTACH_FLAGS_SEND, (uint64_t)(v)
#define KDBUS_OPT_ATTACH_RECV(v)	(uint64_t)KDBUS_ITEM_ATTACH_FLAGS_RECV, (uint64_t)(v)
#define KDBUS_OPT_NAME(s)		(uint64_t)KDBUS_ITEM_NAME, (uint64_t)(uintptr_t)(s)

int kdbus_bus_make_opts(int control_fd, uint64_t flags, const char *name,
			uint64_t bloom_size, uint64_t n_hash, ...);
#define kdbus_bus_make(fd, flags, name, bloom_size, n_hash, ...)		\
	kdbus_bus_make_opts(fd, flags, name, bloom_size, n_hash,		\
			    ##__VA_ARGS__, KDBUS_OPT_END)

/* Open <root>/control, BUS_MAKE "<euid>-<tag>-<n>" (bloom 64/1) with
 * @flags; the name goes to @name (64 bytes). Returns the bus-owner
 * descriptor or -errno. */
int kdbus_create_bus(const char *root, uint64_t flags, const char *tag, char *name);

/* ENDPOINT_MAKE with one MAKE_NAME item; 0 or -errno. */
int kdbus_ep_make(int ep_fd, uint64_t flags, const char *name);

/* ---------------------------------------------------------------------
 * Connections and the pool
 */

/* HELLO with no items; @out (may be NULL) receives the 96-byte result. */
int kdbus_hello(int fd, uint64_t flags, uint64_t attach_send, uint64_t attach_recv,
		uint64_t pool_size, struct kdbus_cmd_hello *out);
/* HELLO with one KDBUS_ITEM_NAME (activator / policy holder), masks 0. */
int kdbus_hello_name(int fd, uint64_t flags, const char *name, uint64_t pool_size,
		     struct kdbus_cmd_hello *out);

/* Map @size bytes of a connected handle's pool read-only; 0 or -errno. */
int kdbus_pool_map(int fd, size_t size, void **pool);
/* KDBUS_CMD_FREE of @offset; 0 or -errno. */
int kdbus_free(int fd, uint64_t offset);

/* An open, connected, mapped connection. */
struct kdbus_conn {
	int fd;
	uint64_t id;
	uint8_t *pool;
	size_t pool_size;
	struct kdbus_cmd_hello hello;
};

/* open(@path) + HELLO(@flags, send mask ALL, recv mask 0, @pool_size)
 * + mmap. On failure nothing is left open. 0 or -errno. */
int kdbus_conn_open(struct kdbus_conn *c, const char *path, uint64_t flags,
		    size_t pool_size);
void kdbus_conn_close(struct kdbus_conn *c);

/*
 * CONN_INFO (by @id, or by @name when not NULL) and BUS_CREATOR_INFO.
 * On success *@info points into @pool (which must map the whole pool) and
 * *@info_size (may be NULL) receives the slice size; release it with
 * kdbus_info_free(). 0 or -errno.
 */
int kdbus_conn_info(int fd, void *pool, uint64_t id, const char *name,
		    uint64_t attach_flags, struct kdbus_info **info, uint64_t *info_size);
int kdbus_bus_creator_info(int fd, void *pool, uint64_t attach_flags,
			   struct kdbus_info **info, uint64_t *info_size);
int kdbus_info_free(int fd, void *pool, struct kdbus_info *info);

/* First item of @type in @info, or NULL. */
struct kdbus_item *kdbus_info_item(struct kdbus_info *info, uint64_t type);
/* Number of items in @info. */
int kdbus_info_count(struct kdbus_info *info);

/* ---------------------------------------------------------------------
 * Files and directories
 */

/* Read a whole small file into @buf (NUL terminated); returns bytes or -errno. */
ssize_t kdbus_read_file(const char *path, char *buf, size_t len);
/* Write @s to @path; returns 0 or -errno. */
int kdbus_write_file(const char *path, const char *s);

struct kdbus_dirent {
	char name[256];
	unsigned char type;
	uint64_t ino;
};

/* List a directory (all entries, "." and ".." included) from the start;
 * returns the number of entries (at most @max are stored) or -errno. */
int kdbus_read_dir(const char *path, struct kdbus_dirent *ents, int max);
int kdbus_read_dirfd(int dirfd, struct kdbus_dirent *ents, int max);
/* Index of @name in @ents, or -1. */
int kdbus_dirent_find(const struct kdbus_dirent *ents, int n, const char *name);

/* poll() one descriptor; returns revents (0 on timeout) or -errno. */
int kdbus_poll(int fd, short events, int timeout_ms);

/* Raise RLIMIT_NOFILE (soft and hard) to at least @n; 0 or -errno. */
int kdbus_raise_nofile(rlim_t n);

/* ---------------------------------------------------------------------
 * Processes, credentials, namespaces
 */

/* Run @fn(arg) in a forked child and return its exit status. */
int kdbus_run(int (*fn)(void *), void *arg);
/* Fork a child running @fn(arg); returns its pid or -errno. */
pid_t kdbus_spawn(int (*fn)(void *), void *arg);
/* Wait for a child; its exit status, or -ECHILD if killed, or -errno. */
int kdbus_wait(pid_t pid);

/* Run @fn(arg) in a child process with the given uid/gid (all of real,
 * effective and saved, no supplementary groups; capabilities are dropped
 * by the uid change). Exit status 126 means the switch failed. */
int kdbus_run_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg);

/*
 * Switch the calling process's identity (a test body runs in a child of
 * the harness, so it may): real and effective IDs become @uid/@gid with
 * the @n supplementary groups @groups, while the saved UID stays 0 so that
 * kdbus_become_root() can switch back. Handles opened and connections made
 * in between belong to @uid and are unprivileged (no effective
 * capabilities). 0 or -errno.
 */
int kdbus_become(uid_t uid, gid_t gid, const gid_t *groups, size_t n);
int kdbus_become_root(void);
pid_t kdbus_spawn_as(uid_t uid, gid_t gid, int (*fn)(void *), void *arg);

/* Open @path in a child running as @uid/@gid and hand the descriptor
 * back (SCM_RIGHTS): the returned file carries that child's credentials.
 * Returns the descriptor or -errno (the child's open() error included). */
int kdbus_open_as(uid_t uid, gid_t gid, const char *path, int flags);

/* Pass a descriptor over a UNIX socket. kdbus_send_fd() with a negative
 * @fd sends the error -@fd instead; kdbus_recv_fd() returns the
 * descriptor, or -errno (sent or local). */
int kdbus_send_fd(int sock, int fd);
int kdbus_recv_fd(int sock);

/*
 * A child in a new user namespace.
 *
 * The child switches to creator_uid/gid (if different from the current
 * ones; supplementary groups are dropped), unshares CLONE_NEWUSER |
 * @unshare_flags and waits. The caller then writes "deny" to
 * /proc/<pid>/setgroups and the maps to /proc/<pid>/uid_map and gid_map
 * (a map that is NULL is not written). The child then switches to
 * @uid/@gid inside the namespace (skipped for a NULL map) and runs @fn.
 * A root caller can write any map; an unprivileged caller only
 * "<inside> <its own uid> 1".
 */
struct kdbus_userns {
	uid_t creator_uid;
	gid_t creator_gid;
	int unshare_flags;	/* e.g. CLONE_NEWNS */
	const char *uid_map;	/* e.g. "0 1000 1" */
	const char *gid_map;
	uid_t uid;		/* inside the namespace, after the maps */
	gid_t gid;
};

pid_t kdbus_spawn_userns(const struct kdbus_userns *ns, int (*fn)(void *), void *arg);
int kdbus_run_userns(const struct kdbus_userns *ns, int (*fn)(void *), void *arg);

/* Run @fn(arg) as pid 1 of a new pid namespace (a grandchild; needs
 * CAP_SYS_ADMIN) and return its exit status; 125 if the namespace or the
 * process could not be made. */
int kdbus_run_pidns(int (*fn)(void *), void *arg);

/*
 * For functions run in children: on failure log the condition to stderr
 * and return 1 from the enclosing function (an int (*)(void *)).
 */
#define KDBUS_CHILD_CHECK(cond) do {						\
	if (!(cond)) {								\
		fprintf(stderr, "# %s:%d: child check failed: %s\n",		\
			__FILE__, __LINE__, #cond);				\
		return 1;							\
	}									\
} while (0)

/* ---------------------------------------------------------------------
 * Connection commands (connection-pool.md). Same conventions as above.
 */

/* HELLO with the items already in @b, which was started with
 * kdbus_b_init(b, sizeof(struct kdbus_cmd_hello)); @out may be NULL. */
int kdbus_hello_b(int fd, struct kdbus_builder *b, uint64_t flags, uint64_t attach_send,
		  uint64_t attach_recv, uint64_t pool_size, struct kdbus_cmd_hello *out);

/* open(@path) + HELLO(@flags, masks, @pool_size, the items of @b or none
 * when @b is NULL) + mmap of the whole pool. On failure nothing is left
 * open. 0 or -errno. */
int kdbus_conn_open_b(struct kdbus_conn *c, const char *path, struct kdbus_builder *b,
		      uint64_t flags, uint64_t attach_send, uint64_t attach_recv,
		      size_t pool_size);
/* HELLO(@flags, send mask ALL, recv mask 0, @pool_size) + mmap on an
 * already open handle @fd (e.g. one a root parent opened, privileged,
 * before switching to another uid). On success @c owns @fd
 * (kdbus_conn_close() closes it); on failure @fd is left open and
 * untouched. 0 or -errno. */
int kdbus_conn_open_fd(struct kdbus_conn *c, int fd, uint64_t flags, size_t pool_size);
/* As kdbus_conn_open() with one KDBUS_ITEM_NAME (activator, policy
 * holder; send mask ALL, recv mask 0). */
int kdbus_conn_open_name(struct kdbus_conn *c, const char *path, uint64_t flags,
			 const char *name, size_t pool_size);

/* A monitor: kdbus_conn_open_b() with KDBUS_HELLO_MONITOR | @flags (e.g.
 * ACCEPT_FD), send mask ALL and receive mask @attach_recv, no items. */
int kdbus_conn_open_monitor(struct kdbus_conn *c, const char *path, uint64_t flags,
			    uint64_t attach_recv, size_t pool_size);

/* KDBUS_CMD_BYEBYE without items; 0 or -errno. */
int kdbus_byebye(int fd);
/* KDBUS_CMD_LIST; *@offset and *@list_size (either may be NULL) receive
 * the answer. 0 or -errno. */
int kdbus_list(int fd, uint64_t flags, uint64_t *offset, uint64_t *list_size);
/* KDBUS_CMD_UPDATE with one item carrying a u64 (ATTACH_FLAGS_*). */
int kdbus_update_u64(int fd, uint64_t type, uint64_t v);

/* Set the attach_flags_mask module parameter to @value (a string),
 * saving the previous value (without the newline) in @saved. 0 or -errno. */
int kdbus_param_set(const char *value, char *saved, size_t len);

/* Number of kdbus_info records in a LIST answer of @size bytes at @list;
 * -EINVAL if a record size is not a multiple of 8, below 24, or the
 * records do not add up to @size exactly. */
int kdbus_list_count(const void *list, uint64_t size);
/* The record with @id in a LIST answer (the first one), or NULL. */
struct kdbus_info *kdbus_list_find(const void *list, uint64_t size, uint64_t id);

/* ---------------------------------------------------------------------
 * Well-known names (names-match-policy-metadata.md §1). Same conventions.
 */

/* NAME_ACQUIRE of @name (one NAME item) with @flags. *@return_flags (may
 * be NULL) receives the command's return_flags after the ioctl, also on
 * failure; before the ioctl the field is set to 0x5a5a... so that callers
 * can see whether it was written. 0 or -errno. */
int kdbus_name_acquire(int fd, const char *name, uint64_t flags, uint64_t *return_flags);
/* NAME_RELEASE of @name (one NAME item, flags 0). 0 or -errno. */
int kdbus_name_release(int fd, const char *name);
/* The id of the current owner of @name, by CONN_INFO (by name, id 0) on
 * @c; the answer is freed again. 0 or -errno (-ESRCH: no owner). */
int kdbus_name_owner(struct kdbus_conn *c, const char *name, uint64_t *id);
/* The name flags with which @name is held, from the OWNED_NAME items of
 * CONN_INFO (ATTACH_NAMES) of connection @id issued on @c. 0 or -errno
 * (-ENOENT: @id owns no such name). */
int kdbus_name_flags(struct kdbus_conn *c, uint64_t id, const char *name, uint64_t *flags);

/* One LIST record, copied out of the pool. */
struct kdbus_list_rec {
	uint64_t id;		/* kdbus_info.id */
	uint64_t flags;		/* kdbus_info.flags (hello flags) */
	bool has_name;		/* an OWNED_NAME item was present */
	uint64_t name_flags;	/* its flags */
	char name[256];		/* its name */
};

/*
 * KDBUS_CMD_LIST with @flags on @c: the records are checked (a record is
 * either a bare 24-byte one or carries exactly one OWNED_NAME item with
 * item.size = 16 + 8 + strlen + 1 and info.size = 24 + ALIGN8(item.size);
 * records add up to list_size exactly; -EBADMSG otherwise), copied to
 * @recs (at most @max; -ENOSPC if there are more) and the slice is freed.
 * Returns the number of records or -errno.
 */
int kdbus_list_records(struct kdbus_conn *c, uint64_t flags, struct kdbus_list_rec *recs,
		       int max);
/* Number of records of @recs matching @id (0: any id) and @name (NULL:
 * bare records only; otherwise name records with that name). */
int kdbus_list_rec_count(const struct kdbus_list_rec *recs, int n, uint64_t id,
			 const char *name);
/* The first record matching as above, or NULL. */
const struct kdbus_list_rec *kdbus_list_rec_find(const struct kdbus_list_rec *recs, int n,
						 uint64_t id, const char *name);

/* ---------------------------------------------------------------------
 * Messages (message.md). Same conventions as above.
 *
 * A message is built in a kdbus_builder:
 *
 *	kdbus_msg_init(&b, dst_id, flags, priority, cookie);
 *	kdbus_b_vec(&b, "hello", 5);
 *	kdbus_b_str(&b, KDBUS_ITEM_DST_NAME, "org.example.x");
 *	ret = kdbus_msg_send_b(fd, &b, 0, NULL);
 *
 * kdbus_msg_init() sets payload_type to KDBUS_PAYLOAD_DBUS; adjust other
 * header fields through kdbus_msg_hdr(&b) before sending.
 */

/* Start a message: 64-byte header with the given fields. */
void kdbus_msg_init(struct kdbus_builder *b, uint64_t dst_id, uint64_t flags,
		    int64_t priority, uint64_t cookie);
/* The header being built (its size field is only final after
 * kdbus_b_cmd() / kdbus_msg_send_b()). */
struct kdbus_msg *kdbus_msg_hdr(struct kdbus_builder *b);
/* PAYLOAD_VEC {size, address}; @data NULL gives a padding vector. */
int kdbus_b_vec(struct kdbus_builder *b, const void *data, uint64_t size);
/* BLOOM_FILTER {generation, @len bytes of zeros}. */
int kdbus_b_bloom_filter(struct kdbus_builder *b, uint64_t generation, size_t len);

/* KDBUS_CMD_SEND of the message at @msg with cmd flags @send_flags and no
 * command items. The whole kdbus_cmd_send after the ioctl is copied to
 * @out (may be NULL); before the ioctl its reply fields are set to
 * 0x5a5a... so that callers can see whether they were written. */
int kdbus_send(int fd, const void *msg, uint64_t send_flags, struct kdbus_cmd_send *out);
/* Finish the message in @b (size := bytes used) and send it. */
int kdbus_msg_send_b(int fd, struct kdbus_builder *b, uint64_t send_flags,
		     struct kdbus_cmd_send *out);

/* One inline vector: @size bytes at @data (NULL: padding vector). */
struct kdbus_test_vec {
	const void *data;
	uint64_t size;
};

/* Send a plain message to @dst_id with the given header fields and
 * @n_vecs PAYLOAD_VEC items. 0 or -errno. */
int kdbus_msg_send(int fd, uint64_t dst_id, uint64_t flags, int64_t priority,
		   uint64_t cookie, const struct kdbus_test_vec *vecs, size_t n_vecs);

/* KDBUS_CMD_RECV with @flags and @priority. On success *@msg (may be NULL)
 * points at the message in @c's pool (NULL after DROP). The kdbus_cmd_recv
 * after the ioctl is copied to @out (may be NULL) on success and failure;
 * before the ioctl return_flags, dropped_msgs and msg are set to
 * 0x5a5a... so that callers can see what was written. 0 or -errno. */
int kdbus_msg_recv(struct kdbus_conn *c, uint64_t flags, int64_t priority,
		   struct kdbus_msg **msg, struct kdbus_cmd_recv *out);

/* Pool offset of a message obtained by kdbus_msg_recv(). */
uint64_t kdbus_msg_offset(struct kdbus_conn *c, const struct kdbus_msg *msg);

/* The @n-th (0-based) item of @type in a received message (walked with
 * msg->size), or NULL. */
struct kdbus_item *kdbus_msg_item(struct kdbus_msg *msg, uint64_t type, int n);
/* RECV without waiting: 1 if @c's queue is empty (EAGAIN), 0 if a message
 * was dequeued (and freed), or -errno. */
int kdbus_queue_empty(struct kdbus_conn *c);

/* CLOCK_MONOTONIC now, in ns: the clock of kdbus deadlines (message.md §4.4). */
uint64_t kdbus_now_ns(void);

/* Number of items in a received message. */
int kdbus_msg_count(struct kdbus_msg *msg);

/*
 * Reassemble the payload stream of a received message (message.md §2.4)
 * into @buf (at most @len bytes are stored): for each PAYLOAD_OFF item,
 * in order, @size bytes at msg + offset, or @size zero bytes for offset
 * ~0; for each PAYLOAD_MEMFD item its [start, start+size) range (pread).
 * @msg_size is the slice size; an inline range beyond it gives -ERANGE,
 * a memfd with fd -1 -EBADF. Returns the stream length or -errno.
 */
ssize_t kdbus_msg_payload(struct kdbus_msg *msg, uint64_t msg_size, void *buf, size_t len);

/* ---------------------------------------------------------------------
 * Payload patterns and memory accounting (stress and pool tests).
 */

/* Fill @len bytes with a pseudo-random stream determined by @seed. */
void kdbus_fill_pattern(void *buf, size_t len, uint64_t seed);
/* A 64-bit checksum of @len bytes (any alignment). */
uint64_t kdbus_csum(const void *buf, size_t len);
/* The value (in kB) of field @name ("MemFree", "MemAvailable", ...) of
 * /proc/meminfo, or -errno (-ENOENT if there is no such field). */
long long kdbus_meminfo_kb(const char *name);

/* ---------------------------------------------------------------------
 * Match rules, notifications and signals (names-match-policy-metadata.md
 * §1.7, §2; message.md §3.4, §3.5, §7). Same conventions as above.
 *
 * A MATCH_ADD is built in a kdbus_builder:
 *
 *	kdbus_match_init(&b, cookie);
 *	kdbus_b_name_change(&b, KDBUS_ITEM_NAME_ADD, 0, KDBUS_MATCH_ID_ANY, NULL);
 *	ret = kdbus_match_add_b(fd, &b, 0);
 *
 * or in one call, with a list of rules ended by the macro:
 *
 *	ret = kdbus_match_add(fd, cookie, 0, KDBUS_RULE_ID_ADD(KDBUS_MATCH_ID_ANY),
 *			      KDBUS_RULE_NAME("org.foo.bar"));
 *
 * kdbus_match_add(fd, cookie, flags) without rules installs an entry that
 * matches everything.
 */
void kdbus_match_init(struct kdbus_builder *b, uint64_t cookie);
/* NAME_ADD / NAME_REMOVE / NAME_CHANGE rule {old_id {@old_id, 0}, new_id
 * {@new_id, 0}} followed by @name with its NUL (no name: 32-byte payload). */
int kdbus_b_name_change(struct kdbus_builder *b, uint64_t type, uint64_t old_id,
			uint64_t new_id, const char *name);
/* ID_ADD / ID_REMOVE rule {@id, flags 0} (16-byte payload). */
int kdbus_b_id_change(struct kdbus_builder *b, uint64_t type, uint64_t id);
/* BLOOM_MASK rule with @len bytes of @mask (NULL: zeros). */
int kdbus_b_bloom_mask(struct kdbus_builder *b, const void *mask, size_t len);
/* MATCH_ADD / MATCH_REMOVE of the command in @b with @flags; the command's
 * flags after the ioctl go to *@flags_out (may be NULL). 0 or -errno. */
int kdbus_match_add_b(int fd, struct kdbus_builder *b, uint64_t flags, uint64_t *flags_out);
int kdbus_match_remove_b(int fd, struct kdbus_builder *b, uint64_t flags);
/* MATCH_REMOVE of @cookie (no items, flags 0). */
int kdbus_match_remove(int fd, uint64_t cookie);

#define KDBUS_RULE_ID(id)		(uint64_t)KDBUS_ITEM_ID, (uint64_t)(id)
#define KDBUS_RULE_NAME(s)		(uint64_t)KDBUS_ITEM_NAME, (uint64_t)(uintptr_t)(s)
/* @mask: @len bytes (NULL: zeros). */
#define KDBUS_RULE_BLOOM(mask, len)	(uint64_t)KDBUS_ITEM_BLOOM_MASK,		\
					(uint64_t)(uintptr_t)(mask), (uint64_t)(len)
/* @name may be NULL. */
#define KDBUS_RULE_NAME_ADD(old, new, name)					\
	(uint64_t)KDBUS_ITEM_NAME_ADD, (uint64_t)(old), (uint64_t)(new),	\
	(uint64_t)(uintptr_t)(name)
#define KDBUS_RULE_NAME_REMOVE(old, new, name)					\
	(uint64_t)KDBUS_ITEM_NAME_REMOVE, (uint64_t)(old), (uint64_t)(new),	\
	(uint64_t)(uintptr_t)(name)
#define KDBUS_RULE_NAME_CHANGE(old, new, name)					\
	(uint64_t)KDBUS_ITEM_NAME_CHANGE, (uint64_t)(old), (uint64_t)(new),	\
	(uint64_t)(uintptr_t)(name)
#define KDBUS_RULE_ID_ADD(id)		(uint64_t)KDBUS_ITEM_ID_ADD, (uint64_t)(id)
#define KDBUS_RULE_ID_REMOVE(id)	(uint64_t)KDBUS_ITEM_ID_REMOVE, (uint64_t)(id)

int kdbus_match_add_opts(int fd, uint64_t cookie, uint64_t flags, ...);
#define kdbus_match_add(fd, cookie, flags, ...)					\
	kdbus_match_add_opts(fd, cookie, flags, ##__VA_ARGS__, KDBUS_OPT_END)

/* The bus bloom size from the BLOOM_PARAMETER item of @c's HELLO answer
 * (still in its pool), or 0 if there is none. */
uint64_t kdbus_conn_bloom_size(struct kdbus_conn *c);
/* BLOOM_FILTER {generation, @len bytes of @data (NULL: zeros)}. */
int kdbus_b_bloom_filter_data(struct kdbus_builder *b, uint64_t generation,
			      const void *data, size_t len);
/* Send a signal (KDBUS_MSG_SIGNAL) to @dst_id (KDBUS_DST_ID_BROADCAST: a
 * broadcast) with @cookie, a BLOOM_FILTER {@generation, @bloom_size bytes
 * of @bloom (NULL: zeros)} and, when @len > 0, one PAYLOAD_VEC of @data.
 * 0 or -errno. */
int kdbus_signal_send(int fd, uint64_t dst_id, uint64_t cookie, uint64_t generation,
		      const void *bloom, size_t bloom_size, const void *data, size_t len);
/* Broadcast from @c with @cookie, generation 0 and a filter of the bus's
 * bloom size (kdbus_conn_bloom_size()) holding @bloom (NULL: zeros). */
int kdbus_broadcast(struct kdbus_conn *c, uint64_t cookie, const void *bloom);

/* A received message, copied out of the pool. */
struct kdbus_msg_summary {
	uint64_t recv_return_flags;	/* kdbus_cmd_recv.return_flags */
	uint64_t dropped_msgs;		/* kdbus_cmd_recv.dropped_msgs */
	uint64_t msg_size;		/* slice size */
	/* Header. */
	uint64_t size, flags, src_id, dst_id, payload_type, cookie, cookie_reply;
	int64_t priority;
	int n_items;
	/* First item. */
	uint64_t type;
	uint64_t item_size;
	/* ID_ADD / ID_REMOVE payload. */
	uint64_t id, id_flags;
	/* NAME_ADD / NAME_REMOVE / NAME_CHANGE payload; name_nul: the name is
	 * NUL-terminated inside the item and zero-padded to its end. */
	uint64_t old_id, old_flags, new_id, new_flags;
	char name[256];
	bool name_nul;
	/* Other items. */
	bool has_timestamp;
	struct kdbus_timestamp ts;
	bool has_bloom;			/* a BLOOM_FILTER item was delivered */
	bool has_payload;		/* a PAYLOAD_OFF item */
	/* The payload stream (kdbus_msg_payload()): its length (or -errno),
	 * its first bytes and the kdbus_csum() of all of it. */
	ssize_t payload_len;
	uint8_t payload[64];
	uint64_t payload_csum;
	/* Descriptors in the FDS items (installed ones are closed again). */
	int n_fds;
	/* The DST_NAME item, if any ("" otherwise). */
	char dst_name[256];
};

/*
 * RECV (flags 0) on @c, waiting with poll() up to @timeout_ms for a
 * message when the queue is empty (0: no waiting); the message is summed
 * up in @s and freed. On -EAGAIN (nothing arrived) s->dropped_msgs and
 * s->recv_return_flags are still filled in. 0 or -errno.
 */
int kdbus_recv_summary(struct kdbus_conn *c, int timeout_ms, struct kdbus_msg_summary *s);
/* The same with RECV flags @recv_flags (PEEK: the message stays queued;
 * its slice is freed all the same). */
int kdbus_recv_summary_flags(struct kdbus_conn *c, uint64_t recv_flags, int timeout_ms,
			     struct kdbus_msg_summary *s);
/*
 * NULL if @s is a well-formed broadcast kernel notification (message.md
 * §7.1: src_id 0, dst_id ~0, payload_type 0, flags SIGNAL, cookie,
 * cookie_reply and priority 0, item sizes 32 / ALIGN8(48 + strlen + 1),
 * message size 96 / 64 + item size, +40 and a second item exactly when
 * @timestamp) with a NUL-terminated, zero-padded name; otherwise a short
 * description of the first defect.
 */
const char *kdbus_notify_defect(const struct kdbus_msg_summary *s, bool timestamp);
/* @s is a kernel notification of @type (NAME_*) with these owner ids
 * (flags not compared) and @name. */
bool kdbus_is_name_notify(const struct kdbus_msg_summary *s, uint64_t type,
			  uint64_t old_id, uint64_t new_id, const char *name);
/* @s is a kernel notification of @type (ID_*) about @id. */
bool kdbus_is_id_notify(const struct kdbus_msg_summary *s, uint64_t type, uint64_t id);
/* Human-readable name of a notification item type ("NAME_ADD", ...). */
const char *kdbus_item_type_name(uint64_t type);
/* Receive messages on @c (no waiting) until the queue is empty; returns
 * how many there were, or -errno. */
int kdbus_drain(struct kdbus_conn *c);

/* ---------------------------------------------------------------------
 * Activators, messages by name and replies (names-match-policy-metadata.md
 * §1.5; message.md §3.2, §3.3, §4). Same conventions as above.
 */

/* open(@path) + HELLO(KDBUS_HELLO_ACTIVATOR | @flags, send mask ALL, recv
 * mask 0, @pool_size) with one NAME item @name followed by the @n
 * POLICY_ACCESS items @policy (may be NULL when @n is 0) + mmap. */
int kdbus_conn_open_activator(struct kdbus_conn *c, const char *path, uint64_t flags,
			      const char *name, const struct kdbus_policy_access *policy,
			      size_t n, size_t pool_size);

/* Start a message to the well-known @name: kdbus_msg_init() with dst_id
 * KDBUS_DST_ID_NAME, then a DST_NAME item. */
void kdbus_msg_init_name(struct kdbus_builder *b, const char *name, uint64_t flags,
			 int64_t priority, uint64_t cookie);

/*
 * Send a message by @name with @cookie: a method call (EXPECT_REPLY,
 * timeout_ns = the absolute CLOCK_MONOTONIC deadline @deadline_ns) when
 * @deadline_ns is not 0, a plain message otherwise; with an FDS item of
 * the @n_fds descriptors @fds when @n_fds > 0, and one PAYLOAD_VEC of
 * @len bytes at @data when @len > 0. 0 or -errno.
 */
int kdbus_send_name(int fd, const char *name, uint64_t cookie, uint64_t deadline_ns,
		    const int *fds, size_t n_fds, const void *data, size_t len);
/* The same addressed to the unique id @dst_id. */
int kdbus_send_id(int fd, uint64_t dst_id, uint64_t cookie, uint64_t deadline_ns,
		  const int *fds, size_t n_fds, const void *data, size_t len);

/* Send a reply to @dst_id: flags 0, @cookie, cookie_reply @cookie_reply,
 * one PAYLOAD_VEC of @data when @len > 0. 0 or -errno. */
int kdbus_reply_send(int fd, uint64_t dst_id, uint64_t cookie, uint64_t cookie_reply,
		     const void *data, size_t len);

/* ---------------------------------------------------------------------
 * The common test fixture: a fresh domain with one world-accessible bus.
 *
 *	FIXTURE(x) { struct kdbus_test_bus tb; ... };
 *	FIXTURE_SETUP(x) { ASSERT_EQ(0, kdbus_test_bus_setup(&self->tb, "x", false)); }
 *	FIXTURE_TEARDOWN(x) { kdbus_test_bus_teardown(&self->tb); }
 */
struct kdbus_test_bus {
	struct kdbus_domain d;
	char bus[64];		/* the bus name, "<euid>-<tag>-<n>" */
	char path[256];		/* <root>/<bus>/bus */
	int owner;		/* the bus-owner descriptor, or -1 */
	char param[64];		/* saved attach_flags_mask, "" if not changed */
};

/*
 * kdbus_domain_init(), kdbus_create_bus(KDBUS_MAKE_ACCESS_WORLD, @tag)
 * into ->bus / ->owner, and ->path; with @set_param the attach_flags_mask
 * module parameter is then set to KDBUS_PARAM_DEFAULT (the old value is
 * saved in ->param). 0 or -errno; on failure nothing is left behind.
 */
int kdbus_test_bus_setup(struct kdbus_test_bus *tb, const char *tag, bool set_param);
/* Restore the module parameter (if it was changed), close the owner and
 * unmount the domain, in that order. Safe to call more than once. */
void kdbus_test_bus_teardown(struct kdbus_test_bus *tb);

#endif
