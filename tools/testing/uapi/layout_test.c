// SPDX-License-Identifier: GPL-2.0
/*
 * layout_test - check uapi/linux/kdbus.h against the kdbus ABI spec
 *
 * Every expected number below is copied from shared/spec/abi.md (section
 * given in the comments), never from the header, so that a mistake in the
 * header is caught. The checks are one table; the program prints TAP and
 * exits non-zero if any check fails.
 *
 * Built with -DLAYOUT_STATIC the same table becomes a list of
 * _Static_assert()s and nothing else (no libc), which lets the layout be
 * verified at compile time for targets that cannot be linked or run here,
 * e.g. "-m32 -fsyntax-only" (abi.md section 0: the layouts are identical
 * for 32-bit and 64-bit processes).
 */

#include <stddef.h>
#include <linux/types.h>
#include <linux/ioctl.h>
#include <linux/kdbus.h>

#ifndef LAYOUT_STATIC
#include <stdio.h>
#endif

typedef unsigned long long u64v;

/* 1 if the (integer) expression's type is signed, 0 if unsigned. */
#define SGN(e)		(((__typeof__(e))-1 >> (sizeof(e) * 8 - 1)) != 1)
#define M(T, f)		(((struct T *)0)->f)

#ifdef LAYOUT_STATIC
#define C(desc, got, want) \
	_Static_assert((u64v)(got) == (u64v)(want), desc);
#else
struct check {
	const char *desc;
	u64v got;
	u64v want;
};
#define C(desc, got, want) { desc, (u64v)(got), (u64v)(want) },
static const struct check checks[] = {
#endif

/* sizeof and alignment of a structure */
#define SIZE(T, n) \
	C("sizeof(struct " #T ") == " #n, sizeof(struct T), n) \
	C("_Alignof(struct " #T ") == 8", _Alignof(struct T), 8)

/* scalar member: offset, size, signedness (s = 1 for signed types) */
#define F(T, f, off, sz, s) \
	C("offsetof(" #T ", " #f ") == " #off, offsetof(struct T, f), off) \
	C("sizeof(" #T "." #f ") == " #sz, sizeof(M(T, f)), sz) \
	C(#T "." #f " is " #s "signed", SGN(M(T, f)), sizeof(#s) == 1)

/* embedded structure member: offset and size */
#define FS(T, f, off, sz) \
	C("offsetof(" #T ", " #f ") == " #off, offsetof(struct T, f), off) \
	C("sizeof(" #T "." #f ") == " #sz, sizeof(M(T, f)), sz)

/* fixed array member: offset, total size, element size, signedness */
#define FA(T, f, off, sz, esz, s) \
	FS(T, f, off, sz) \
	C("sizeof(" #T "." #f "[0]) == " #esz, sizeof(M(T, f)[0]), esz) \
	C(#T "." #f "[] is " #s "signed", SGN(M(T, f)[0]), sizeof(#s) == 1)

/* flexible (trailing [0]) array: offset and element size */
#define FLEX(T, f, off, esz) \
	C("offsetof(" #T ", " #f ") == " #off, offsetof(struct T, f), off) \
	C("sizeof(" #T "." #f "[0]) == " #esz, sizeof(M(T, f)[0]), esz)

/* constant value */
#define V(name, want)	C(#name " == " #want, name, want)

/*
 * ioctl request: nr, direction (_IOC_WRITE = 1, _IOC_READ = 2, both = 3 in
 * the generic encoding), argument struct, its spec size, and the spec's
 * x86_64 request number (abi.md 3.1).
 */
#define IOCTL_COMMON(name, dir, nr, T, sz) \
	C(#name " == _IOC(" #dir ", 0x95, " #nr ", " #sz ")", \
	  name, (unsigned int)_IOC(dir##U, 0x95, nr, sz)) \
	C("_IOC_NR(" #name ") == " #nr, _IOC_NR(name), nr) \
	C("_IOC_TYPE(" #name ") == 0x95", _IOC_TYPE(name), 0x95) \
	C("_IOC_SIZE(" #name ") == " #sz, _IOC_SIZE(name), sz) \
	C("_IOC_SIZE(" #name ") == sizeof(struct " #T ")", \
	  _IOC_SIZE(name), sizeof(struct T)) \
	C("_IOC_DIR(" #name ") == " #dir, _IOC_DIR(name), dir)

#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) || \
	defined(__arm__) || defined(__riscv)
/* generic _IOC encoding: the spec's literal numbers apply */
#define IOCTL(name, dir, nr, T, sz, hex) \
	C(#name " == " #hex, name, hex) \
	C(#name " == (" #dir "<<30)|(" #sz "<<16)|(0x95<<8)|" #nr, \
	  name, ((u64v)(dir) << 30) | ((u64v)(sz) << 16) | (0x95 << 8) | (nr)) \
	IOCTL_COMMON(name, dir, nr, T, sz)
#else
#define IOCTL(name, dir, nr, T, sz, hex) IOCTL_COMMON(name, dir, nr, T, sz)
#endif

/* ---- abi.md 2: fundamental constants ---- */
V(KDBUS_IOCTL_MAGIC, 0x95)
V(KDBUS_SRC_ID_KERNEL, 0)
V(KDBUS_DST_ID_NAME, 0)
V(KDBUS_DST_ID_BROADCAST, 0xffffffffffffffffULL)
V(KDBUS_MATCH_ID_ANY, 0xffffffffffffffffULL)
V(KDBUS_FLAG_NEGOTIATE, 0x8000000000000000ULL)
C("sizeof(KDBUS_DST_ID_BROADCAST) == 8", sizeof(KDBUS_DST_ID_BROADCAST), 8)
C("sizeof(KDBUS_MATCH_ID_ANY) == 8", sizeof(KDBUS_MATCH_ID_ANY), 8)
C("sizeof(KDBUS_FLAG_NEGOTIATE) == 8", sizeof(KDBUS_FLAG_NEGOTIATE), 8)

/* ---- abi.md 3.1: ioctl request numbers ---- */
IOCTL(KDBUS_CMD_BUS_MAKE,         1, 0x00, kdbus_cmd,       24, 0x40189500)
IOCTL(KDBUS_CMD_ENDPOINT_MAKE,    1, 0x10, kdbus_cmd,       24, 0x40189510)
IOCTL(KDBUS_CMD_ENDPOINT_UPDATE,  1, 0x11, kdbus_cmd,       24, 0x40189511)
IOCTL(KDBUS_CMD_HELLO,            3, 0x80, kdbus_cmd_hello, 96, 0xc0609580)
IOCTL(KDBUS_CMD_UPDATE,           1, 0x81, kdbus_cmd,       24, 0x40189581)
IOCTL(KDBUS_CMD_BYEBYE,           1, 0x82, kdbus_cmd,       24, 0x40189582)
IOCTL(KDBUS_CMD_FREE,             1, 0x83, kdbus_cmd_free,  32, 0x40209583)
IOCTL(KDBUS_CMD_CONN_INFO,        2, 0x84, kdbus_cmd_info,  56, 0x80389584)
IOCTL(KDBUS_CMD_BUS_CREATOR_INFO, 2, 0x85, kdbus_cmd_info,  56, 0x80389585)
IOCTL(KDBUS_CMD_LIST,             2, 0x86, kdbus_cmd_list,  40, 0x80289586)
IOCTL(KDBUS_CMD_SEND,             1, 0x90, kdbus_cmd_send,  56, 0x40389590)
IOCTL(KDBUS_CMD_RECV,             2, 0x91, kdbus_cmd_recv,  64, 0x80409591)
IOCTL(KDBUS_CMD_NAME_ACQUIRE,     1, 0xa0, kdbus_cmd,       24, 0x401895a0)
IOCTL(KDBUS_CMD_NAME_RELEASE,     1, 0xa1, kdbus_cmd,       24, 0x401895a1)
IOCTL(KDBUS_CMD_MATCH_ADD,        1, 0xb0, kdbus_cmd_match, 32, 0x402095b0)
IOCTL(KDBUS_CMD_MATCH_REMOVE,     1, 0xb1, kdbus_cmd_match, 32, 0x402095b1)
/* "several exceed INT_MAX, so GCC gives that enum an unsigned 32-bit type" */
C("sizeof(enum kdbus_ioctl_type) == 4", sizeof(enum kdbus_ioctl_type), 4)
C("enum kdbus_ioctl_type is unsigned", SGN((enum kdbus_ioctl_type)0), 0)

/* ---- abi.md 4.2: struct kdbus_cmd ---- */
SIZE(kdbus_cmd, 24)
F(kdbus_cmd, size, 0, 8, un)
F(kdbus_cmd, flags, 8, 8, un)
F(kdbus_cmd, return_flags, 16, 8, un)
FLEX(kdbus_cmd, items, 24, 80)

/* ---- abi.md 4.3: struct kdbus_cmd_hello ---- */
SIZE(kdbus_cmd_hello, 96)
F(kdbus_cmd_hello, size, 0, 8, un)
F(kdbus_cmd_hello, flags, 8, 8, un)
F(kdbus_cmd_hello, return_flags, 16, 8, un)
F(kdbus_cmd_hello, attach_flags_send, 24, 8, un)
F(kdbus_cmd_hello, attach_flags_recv, 32, 8, un)
F(kdbus_cmd_hello, bus_flags, 40, 8, un)
F(kdbus_cmd_hello, id, 48, 8, un)
F(kdbus_cmd_hello, pool_size, 56, 8, un)
F(kdbus_cmd_hello, offset, 64, 8, un)
F(kdbus_cmd_hello, items_size, 72, 8, un)
FA(kdbus_cmd_hello, id128, 80, 16, 1, un)
FLEX(kdbus_cmd_hello, items, 96, 80)

/* ---- abi.md 4.4: struct kdbus_cmd_info ---- */
SIZE(kdbus_cmd_info, 56)
F(kdbus_cmd_info, size, 0, 8, un)
F(kdbus_cmd_info, flags, 8, 8, un)
F(kdbus_cmd_info, return_flags, 16, 8, un)
F(kdbus_cmd_info, id, 24, 8, un)
F(kdbus_cmd_info, attach_flags, 32, 8, un)
F(kdbus_cmd_info, offset, 40, 8, un)
F(kdbus_cmd_info, info_size, 48, 8, un)
FLEX(kdbus_cmd_info, items, 56, 80)

/* ---- abi.md 4.5: struct kdbus_cmd_list ---- */
SIZE(kdbus_cmd_list, 40)
F(kdbus_cmd_list, size, 0, 8, un)
F(kdbus_cmd_list, flags, 8, 8, un)
F(kdbus_cmd_list, return_flags, 16, 8, un)
F(kdbus_cmd_list, offset, 24, 8, un)
F(kdbus_cmd_list, list_size, 32, 8, un)
FLEX(kdbus_cmd_list, items, 40, 80)

/* ---- abi.md 4.6: struct kdbus_cmd_free ---- */
SIZE(kdbus_cmd_free, 32)
F(kdbus_cmd_free, size, 0, 8, un)
F(kdbus_cmd_free, flags, 8, 8, un)
F(kdbus_cmd_free, return_flags, 16, 8, un)
F(kdbus_cmd_free, offset, 24, 8, un)
FLEX(kdbus_cmd_free, items, 32, 80)

/* ---- abi.md 4.7: struct kdbus_cmd_match ---- */
SIZE(kdbus_cmd_match, 32)
F(kdbus_cmd_match, size, 0, 8, un)
F(kdbus_cmd_match, flags, 8, 8, un)
F(kdbus_cmd_match, return_flags, 16, 8, un)
F(kdbus_cmd_match, cookie, 24, 8, un)
FLEX(kdbus_cmd_match, items, 32, 80)

/* ---- abi.md 4.8: struct kdbus_msg_info ---- */
SIZE(kdbus_msg_info, 24)
F(kdbus_msg_info, offset, 0, 8, un)
F(kdbus_msg_info, msg_size, 8, 8, un)
F(kdbus_msg_info, return_flags, 16, 8, un)

/* ---- abi.md 4.9: struct kdbus_cmd_send ---- */
SIZE(kdbus_cmd_send, 56)
F(kdbus_cmd_send, size, 0, 8, un)
F(kdbus_cmd_send, flags, 8, 8, un)
F(kdbus_cmd_send, return_flags, 16, 8, un)
F(kdbus_cmd_send, msg_address, 24, 8, un)
FS(kdbus_cmd_send, reply, 32, 24)
F(kdbus_cmd_send, reply.offset, 32, 8, un)
F(kdbus_cmd_send, reply.msg_size, 40, 8, un)
F(kdbus_cmd_send, reply.return_flags, 48, 8, un)
FLEX(kdbus_cmd_send, items, 56, 80)

/* ---- abi.md 4.10: struct kdbus_cmd_recv ---- */
SIZE(kdbus_cmd_recv, 64)
F(kdbus_cmd_recv, size, 0, 8, un)
F(kdbus_cmd_recv, flags, 8, 8, un)
F(kdbus_cmd_recv, return_flags, 16, 8, un)
F(kdbus_cmd_recv, priority, 24, 8, )
F(kdbus_cmd_recv, dropped_msgs, 32, 8, un)
FS(kdbus_cmd_recv, msg, 40, 24)
F(kdbus_cmd_recv, msg.offset, 40, 8, un)
F(kdbus_cmd_recv, msg.msg_size, 48, 8, un)
F(kdbus_cmd_recv, msg.return_flags, 56, 8, un)
FLEX(kdbus_cmd_recv, items, 64, 80)

/* ---- abi.md 4.11: struct kdbus_msg ---- */
SIZE(kdbus_msg, 64)
F(kdbus_msg, size, 0, 8, un)
F(kdbus_msg, flags, 8, 8, un)
F(kdbus_msg, priority, 16, 8, )
F(kdbus_msg, dst_id, 24, 8, un)
F(kdbus_msg, src_id, 32, 8, un)
F(kdbus_msg, payload_type, 40, 8, un)
F(kdbus_msg, cookie, 48, 8, un)
F(kdbus_msg, timeout_ns, 56, 8, un)
F(kdbus_msg, cookie_reply, 56, 8, un)
FLEX(kdbus_msg, items, 64, 80)

/* ---- abi.md 4.12: struct kdbus_info ---- */
SIZE(kdbus_info, 24)
F(kdbus_info, size, 0, 8, un)
F(kdbus_info, id, 8, 8, un)
F(kdbus_info, flags, 16, 8, un)
FLEX(kdbus_info, items, 24, 80)

/* ---- abi.md 4.13: struct kdbus_item (sizeof 80, header 16) ---- */
SIZE(kdbus_item, 80)
F(kdbus_item, size, 0, 8, un)
F(kdbus_item, type, 8, 8, un)
FLEX(kdbus_item, data, 16, 1)
C("kdbus_item.data[] is unsigned", SGN(M(kdbus_item, data)[0]), 0)
FLEX(kdbus_item, data32, 16, 4)
C("kdbus_item.data32[] is unsigned", SGN(M(kdbus_item, data32)[0]), 0)
FLEX(kdbus_item, data64, 16, 8)
C("kdbus_item.data64[] is unsigned", SGN(M(kdbus_item, data64)[0]), 0)
FLEX(kdbus_item, str, 16, 1)
F(kdbus_item, id, 16, 8, un)
FS(kdbus_item, vec, 16, 16)
FS(kdbus_item, creds, 16, 64)
FS(kdbus_item, pids, 16, 24)
FS(kdbus_item, audit, 16, 8)
FS(kdbus_item, caps, 16, 8)
FS(kdbus_item, timestamp, 16, 24)
FS(kdbus_item, name, 16, 8)
FS(kdbus_item, bloom_parameter, 16, 16)
FS(kdbus_item, bloom_filter, 16, 8)
FS(kdbus_item, memfd, 16, 24)
FLEX(kdbus_item, fds, 16, 4)
C("kdbus_item.fds[] is signed (int)", SGN(M(kdbus_item, fds)[0]), 1)
FS(kdbus_item, name_change, 16, 32)
FS(kdbus_item, id_change, 16, 16)
FS(kdbus_item, policy_access, 16, 24)
/* 4.14 "kdbus_caps.caps starts at offset 4": payload at 16 + 4 */
C("offsetof(kdbus_item, caps.caps) == 20",
  offsetof(struct kdbus_item, caps.caps), 20)
C("offsetof(kdbus_item, name.name) == 24",
  offsetof(struct kdbus_item, name.name), 24)
C("offsetof(kdbus_item, bloom_filter.data) == 24",
  offsetof(struct kdbus_item, bloom_filter.data), 24)
C("offsetof(kdbus_item, name_change.name) == 48",
  offsetof(struct kdbus_item, name_change.name), 48)

/* ---- abi.md 4.14: item payload structures ---- */
SIZE(kdbus_vec, 16)
F(kdbus_vec, size, 0, 8, un)
F(kdbus_vec, address, 8, 8, un)
F(kdbus_vec, offset, 8, 8, un)

SIZE(kdbus_memfd, 24)
F(kdbus_memfd, start, 0, 8, un)
F(kdbus_memfd, size, 8, 8, un)
F(kdbus_memfd, fd, 16, 4, )
F(kdbus_memfd, __pad, 20, 4, un)

SIZE(kdbus_bloom_parameter, 16)
F(kdbus_bloom_parameter, size, 0, 8, un)
F(kdbus_bloom_parameter, n_hash, 8, 8, un)

SIZE(kdbus_bloom_filter, 8)
F(kdbus_bloom_filter, generation, 0, 8, un)
FLEX(kdbus_bloom_filter, data, 8, 8)
C("kdbus_bloom_filter.data[] is unsigned",
  SGN(M(kdbus_bloom_filter, data)[0]), 0)

SIZE(kdbus_name, 8)
F(kdbus_name, flags, 0, 8, un)
FLEX(kdbus_name, name, 8, 1)

SIZE(kdbus_creds, 64)
F(kdbus_creds, uid, 0, 8, un)
F(kdbus_creds, euid, 8, 8, un)
F(kdbus_creds, suid, 16, 8, un)
F(kdbus_creds, fsuid, 24, 8, un)
F(kdbus_creds, gid, 32, 8, un)
F(kdbus_creds, egid, 40, 8, un)
F(kdbus_creds, sgid, 48, 8, un)
F(kdbus_creds, fsgid, 56, 8, un)

SIZE(kdbus_pids, 24)
F(kdbus_pids, pid, 0, 8, un)
F(kdbus_pids, tid, 8, 8, un)
F(kdbus_pids, ppid, 16, 8, un)

SIZE(kdbus_caps, 8)
F(kdbus_caps, last_cap, 0, 4, un)
FLEX(kdbus_caps, caps, 4, 4)
C("kdbus_caps.caps[] is unsigned", SGN(M(kdbus_caps, caps)[0]), 0)

SIZE(kdbus_audit, 8)
F(kdbus_audit, sessionid, 0, 4, un)
F(kdbus_audit, loginuid, 4, 4, un)

SIZE(kdbus_timestamp, 24)
F(kdbus_timestamp, seqnum, 0, 8, un)
F(kdbus_timestamp, monotonic_ns, 8, 8, un)
F(kdbus_timestamp, realtime_ns, 16, 8, un)

SIZE(kdbus_notify_id_change, 16)
F(kdbus_notify_id_change, id, 0, 8, un)
F(kdbus_notify_id_change, flags, 8, 8, un)

SIZE(kdbus_notify_name_change, 32)
FS(kdbus_notify_name_change, old_id, 0, 16)
F(kdbus_notify_name_change, old_id.id, 0, 8, un)
F(kdbus_notify_name_change, old_id.flags, 8, 8, un)
FS(kdbus_notify_name_change, new_id, 16, 16)
F(kdbus_notify_name_change, new_id.id, 16, 8, un)
F(kdbus_notify_name_change, new_id.flags, 24, 8, un)
FLEX(kdbus_notify_name_change, name, 32, 1)

SIZE(kdbus_policy_access, 24)
F(kdbus_policy_access, type, 0, 8, un)
F(kdbus_policy_access, access, 8, 8, un)
F(kdbus_policy_access, id, 16, 8, un)

/* ---- abi.md 5.1: item types ---- */
V(_KDBUS_ITEM_NULL, 0)
V(_KDBUS_ITEM_USER_BASE, 1)
V(KDBUS_ITEM_NEGOTIATE, 1)
V(KDBUS_ITEM_PAYLOAD_VEC, 2)
V(KDBUS_ITEM_PAYLOAD_OFF, 3)
V(KDBUS_ITEM_PAYLOAD_MEMFD, 4)
V(KDBUS_ITEM_FDS, 5)
V(KDBUS_ITEM_CANCEL_FD, 6)
V(KDBUS_ITEM_BLOOM_PARAMETER, 7)
V(KDBUS_ITEM_BLOOM_FILTER, 8)
V(KDBUS_ITEM_BLOOM_MASK, 9)
V(KDBUS_ITEM_DST_NAME, 10)
V(KDBUS_ITEM_MAKE_NAME, 11)
V(KDBUS_ITEM_ATTACH_FLAGS_SEND, 12)
V(KDBUS_ITEM_ATTACH_FLAGS_RECV, 13)
V(KDBUS_ITEM_ID, 14)
V(KDBUS_ITEM_NAME, 15)
V(_KDBUS_ITEM_ATTACH_BASE, 0x1000)
V(KDBUS_ITEM_TIMESTAMP, 0x1000)
V(KDBUS_ITEM_CREDS, 0x1001)
V(KDBUS_ITEM_PIDS, 0x1002)
V(KDBUS_ITEM_AUXGROUPS, 0x1003)
V(KDBUS_ITEM_OWNED_NAME, 0x1004)
V(KDBUS_ITEM_TID_COMM, 0x1005)
V(KDBUS_ITEM_PID_COMM, 0x1006)
V(KDBUS_ITEM_EXE, 0x1007)
V(KDBUS_ITEM_CMDLINE, 0x1008)
V(KDBUS_ITEM_CGROUP, 0x1009)
V(KDBUS_ITEM_CAPS, 0x100a)
V(KDBUS_ITEM_SECLABEL, 0x100b)
V(KDBUS_ITEM_AUDIT, 0x100c)
V(KDBUS_ITEM_CONN_DESCRIPTION, 0x100d)
V(_KDBUS_ITEM_POLICY_BASE, 0x2000)
V(KDBUS_ITEM_POLICY_ACCESS, 0x2000)
V(_KDBUS_ITEM_KERNEL_BASE, 0x8000)
V(KDBUS_ITEM_NAME_ADD, 0x8000)
V(KDBUS_ITEM_NAME_REMOVE, 0x8001)
V(KDBUS_ITEM_NAME_CHANGE, 0x8002)
V(KDBUS_ITEM_ID_ADD, 0x8003)
V(KDBUS_ITEM_ID_REMOVE, 0x8004)
V(KDBUS_ITEM_REPLY_TIMEOUT, 0x8005)
V(KDBUS_ITEM_REPLY_DEAD, 0x8006)

/* 5.1: metadata item type == 0x1000 + n where 1 << n is the attach bit */
#define META(item, attach) \
	C(#item " == 0x1000 + ctz(" #attach ")", \
	  item, 0x1000 + __builtin_ctzll(attach))
META(KDBUS_ITEM_TIMESTAMP, KDBUS_ATTACH_TIMESTAMP)
META(KDBUS_ITEM_CREDS, KDBUS_ATTACH_CREDS)
META(KDBUS_ITEM_PIDS, KDBUS_ATTACH_PIDS)
META(KDBUS_ITEM_AUXGROUPS, KDBUS_ATTACH_AUXGROUPS)
META(KDBUS_ITEM_OWNED_NAME, KDBUS_ATTACH_NAMES)
META(KDBUS_ITEM_TID_COMM, KDBUS_ATTACH_TID_COMM)
META(KDBUS_ITEM_PID_COMM, KDBUS_ATTACH_PID_COMM)
META(KDBUS_ITEM_EXE, KDBUS_ATTACH_EXE)
META(KDBUS_ITEM_CMDLINE, KDBUS_ATTACH_CMDLINE)
META(KDBUS_ITEM_CGROUP, KDBUS_ATTACH_CGROUP)
META(KDBUS_ITEM_CAPS, KDBUS_ATTACH_CAPS)
META(KDBUS_ITEM_SECLABEL, KDBUS_ATTACH_SECLABEL)
META(KDBUS_ITEM_AUDIT, KDBUS_ATTACH_AUDIT)
META(KDBUS_ITEM_CONN_DESCRIPTION, KDBUS_ATTACH_CONN_DESCRIPTION)

/* ---- abi.md 5.2: attach flags ---- */
V(KDBUS_ATTACH_TIMESTAMP, 0x1)
V(KDBUS_ATTACH_CREDS, 0x2)
V(KDBUS_ATTACH_PIDS, 0x4)
V(KDBUS_ATTACH_AUXGROUPS, 0x8)
V(KDBUS_ATTACH_NAMES, 0x10)
V(KDBUS_ATTACH_TID_COMM, 0x20)
V(KDBUS_ATTACH_PID_COMM, 0x40)
V(KDBUS_ATTACH_EXE, 0x80)
V(KDBUS_ATTACH_CMDLINE, 0x100)
V(KDBUS_ATTACH_CGROUP, 0x200)
V(KDBUS_ATTACH_CAPS, 0x400)
V(KDBUS_ATTACH_SECLABEL, 0x800)
V(KDBUS_ATTACH_AUDIT, 0x1000)
V(KDBUS_ATTACH_CONN_DESCRIPTION, 0x2000)
V(_KDBUS_ATTACH_ALL, 0x3fff)
V(_KDBUS_ATTACH_ANY, 0xffffffffffffffffULL)
C("OR of the 14 KDBUS_ATTACH_* bits == 0x3fff",
  (u64v)KDBUS_ATTACH_TIMESTAMP | KDBUS_ATTACH_CREDS | KDBUS_ATTACH_PIDS |
  KDBUS_ATTACH_AUXGROUPS | KDBUS_ATTACH_NAMES | KDBUS_ATTACH_TID_COMM |
  KDBUS_ATTACH_PID_COMM | KDBUS_ATTACH_EXE | KDBUS_ATTACH_CMDLINE |
  KDBUS_ATTACH_CGROUP | KDBUS_ATTACH_CAPS | KDBUS_ATTACH_SECLABEL |
  KDBUS_ATTACH_AUDIT | KDBUS_ATTACH_CONN_DESCRIPTION, 0x3fff)
C("default attach_flags_mask 0x281f == TIMESTAMP|CREDS|PIDS|AUXGROUPS|"
  "NAMES|SECLABEL|CONN_DESCRIPTION",
  (u64v)KDBUS_ATTACH_TIMESTAMP | KDBUS_ATTACH_CREDS | KDBUS_ATTACH_PIDS |
  KDBUS_ATTACH_AUXGROUPS | KDBUS_ATTACH_NAMES | KDBUS_ATTACH_SECLABEL |
  KDBUS_ATTACH_CONN_DESCRIPTION, 0x281f)

/* ---- abi.md 5.3: HELLO flags ---- */
V(KDBUS_HELLO_ACCEPT_FD, 0x1)
V(KDBUS_HELLO_ACTIVATOR, 0x2)
V(KDBUS_HELLO_POLICY_HOLDER, 0x4)
V(KDBUS_HELLO_MONITOR, 0x8)

/* ---- abi.md 5.4: MAKE flags ---- */
V(KDBUS_MAKE_ACCESS_GROUP, 0x1)
V(KDBUS_MAKE_ACCESS_WORLD, 0x2)

/* ---- abi.md 5.5: name flags ---- */
V(KDBUS_NAME_REPLACE_EXISTING, 0x1)
V(KDBUS_NAME_ALLOW_REPLACEMENT, 0x2)
V(KDBUS_NAME_QUEUE, 0x4)
V(KDBUS_NAME_IN_QUEUE, 0x8)
V(KDBUS_NAME_ACTIVATOR, 0x10)

/* ---- abi.md 5.6: LIST flags ---- */
V(KDBUS_LIST_UNIQUE, 0x1)
V(KDBUS_LIST_NAMES, 0x2)
V(KDBUS_LIST_ACTIVATORS, 0x4)
V(KDBUS_LIST_QUEUED, 0x8)

/* ---- abi.md 5.7: SEND flags ---- */
V(KDBUS_SEND_SYNC_REPLY, 0x1)

/* ---- abi.md 5.8: RECV flags and return flags ---- */
V(KDBUS_RECV_PEEK, 0x1)
V(KDBUS_RECV_DROP, 0x2)
V(KDBUS_RECV_USE_PRIORITY, 0x4)
V(KDBUS_RECV_RETURN_INCOMPLETE_FDS, 0x1)
V(KDBUS_RECV_RETURN_DROPPED_MSGS, 0x2)

/* ---- abi.md 5.9: message flags ---- */
V(KDBUS_MSG_EXPECT_REPLY, 0x1)
V(KDBUS_MSG_NO_AUTO_START, 0x2)
V(KDBUS_MSG_SIGNAL, 0x4)

/* ---- abi.md 5.10: match flags ---- */
V(KDBUS_MATCH_REPLACE, 0x1)

/* ---- abi.md 5.11: policy ---- */
V(_KDBUS_POLICY_ACCESS_NULL, 0)
V(KDBUS_POLICY_ACCESS_USER, 1)
V(KDBUS_POLICY_ACCESS_GROUP, 2)
V(KDBUS_POLICY_ACCESS_WORLD, 3)
V(KDBUS_POLICY_SEE, 0)
V(KDBUS_POLICY_TALK, 1)
V(KDBUS_POLICY_OWN, 2)

/* ---- abi.md 5.12: payload types ---- */
V(KDBUS_PAYLOAD_KERNEL, 0)
V(KDBUS_PAYLOAD_DBUS, 0x4442757344427573ULL)
C("KDBUS_PAYLOAD_DBUS == \"DBusDBus\" read big-endian", KDBUS_PAYLOAD_DBUS,
  ((u64v)'D' << 56) | ((u64v)'B' << 48) | ((u64v)'u' << 40) |
  ((u64v)'s' << 32) | ((u64v)'D' << 24) | ((u64v)'B' << 16) |
  ((u64v)'u' << 8) | (u64v)'s')

/* ---- abi.md 5.13: accepted flag sets (NEGOTIATE write-back values) ---- */
C("BUS_MAKE/ENDPOINT_MAKE flags: MAKE_ACCESS_GROUP|MAKE_ACCESS_WORLD == 0x3",
  (u64v)KDBUS_MAKE_ACCESS_GROUP | KDBUS_MAKE_ACCESS_WORLD, 0x3)
C("HELLO flags: ACCEPT_FD|ACTIVATOR|POLICY_HOLDER|MONITOR == 0xf",
  (u64v)KDBUS_HELLO_ACCEPT_FD | KDBUS_HELLO_ACTIVATOR |
  KDBUS_HELLO_POLICY_HOLDER | KDBUS_HELLO_MONITOR, 0xf)
C("LIST flags: UNIQUE|NAMES|ACTIVATORS|QUEUED == 0xf",
  (u64v)KDBUS_LIST_UNIQUE | KDBUS_LIST_NAMES | KDBUS_LIST_ACTIVATORS |
  KDBUS_LIST_QUEUED, 0xf)
C("SEND flags: SEND_SYNC_REPLY == 0x1", (u64v)KDBUS_SEND_SYNC_REPLY, 0x1)
C("RECV flags: PEEK|DROP|USE_PRIORITY == 0x7",
  (u64v)KDBUS_RECV_PEEK | KDBUS_RECV_DROP | KDBUS_RECV_USE_PRIORITY, 0x7)
C("RECV extension: FREE == 0x8 (kdbus-rs)", (u64v)KDBUS_RECV_FREE, 0x8)
C("NAME_ACQUIRE flags: REPLACE_EXISTING|ALLOW_REPLACEMENT|QUEUE == 0x7",
  (u64v)KDBUS_NAME_REPLACE_EXISTING | KDBUS_NAME_ALLOW_REPLACEMENT |
  KDBUS_NAME_QUEUE, 0x7)
C("MATCH_ADD flags: MATCH_REPLACE == 0x1", (u64v)KDBUS_MATCH_REPLACE, 0x1)

/* ---- abi.md 5.14 and 8: item sizes derived from the layouts ---- */
C("item header size (offsetof(kdbus_item, data)) == 16",
  offsetof(struct kdbus_item, data), 16)
C("HELLO slice BLOOM_PARAMETER item size == 32 (8.1)",
  offsetof(struct kdbus_item, data) + sizeof(struct kdbus_bloom_parameter),
  32)
C("PAYLOAD_OFF item size == 32 (8.2)",
  offsetof(struct kdbus_item, vec) + sizeof(struct kdbus_vec), 32)
C("PAYLOAD_MEMFD item size == 40 (8.2)",
  offsetof(struct kdbus_item, memfd) + sizeof(struct kdbus_memfd), 40)
C("CAPS item size with 4x2 words == 52 (4.14)",
  offsetof(struct kdbus_item, caps.caps) + 8 * sizeof(__u32), 52)
C("ID_ADD/ID_REMOVE notification item size == 32 (8.3)",
  offsetof(struct kdbus_item, id_change) +
  sizeof(struct kdbus_notify_id_change), 32)
C("REPLY_TIMEOUT/REPLY_DEAD notification item size == 16 (8.3)",
  offsetof(struct kdbus_item, data), 16)
C("CREDS item size == 80 (6.2: payload exactly 64)",
  offsetof(struct kdbus_item, creds) + sizeof(struct kdbus_creds), 80)
C("PIDS item size == 40 (6.2: payload exactly 24)",
  offsetof(struct kdbus_item, pids) + sizeof(struct kdbus_pids), 40)
C("TIMESTAMP item size == 40 (6.2: payload exactly 24)",
  offsetof(struct kdbus_item, timestamp) + sizeof(struct kdbus_timestamp),
  40)
C("AUDIT item size == 24 (6.2: payload exactly 8)",
  offsetof(struct kdbus_item, audit) + sizeof(struct kdbus_audit), 24)
C("POLICY_ACCESS item size == 40 (6.2: payload exactly 24)",
  offsetof(struct kdbus_item, policy_access) +
  sizeof(struct kdbus_policy_access), 40)
C("ID/ATTACH_FLAGS item size == 24 (6.2: payload exactly 8)",
  offsetof(struct kdbus_item, id) + sizeof(M(kdbus_item, id)), 24)
C("CANCEL_FD item size == 20 (6.2: payload exactly 4)",
  offsetof(struct kdbus_item, fds) + sizeof(M(kdbus_item, fds)[0]), 20)
C("LIST unique-ID record size == 24 (8.5)", sizeof(struct kdbus_info), 24)

#ifndef LAYOUT_STATIC
};

int main(void)
{
	size_t n = sizeof(checks) / sizeof(checks[0]);
	size_t i, failed = 0;

	printf("TAP version 13\n");
	printf("1..%zu\n", n);
	for (i = 0; i < n; i++) {
		const struct check *c = &checks[i];

		if (c->got == c->want) {
			printf("ok %zu - %s\n", i + 1, c->desc);
		} else {
			failed++;
			printf("not ok %zu - %s # got 0x%llx want 0x%llx\n",
			       i + 1, c->desc, c->got, c->want);
		}
	}
	if (failed)
		printf("# %zu of %zu checks failed\n", failed, n);
	return failed ? 1 : 0;
}
#endif
