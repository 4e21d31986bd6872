// SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note

//! The kdbus ABI definitions, shared by this crate and by the kernel module
//! (`kdbus/kdbus.rs` includes this very file as its `uapi` module), so the
//! kernel and Rust userspace cannot disagree on a layout or a number.

use core::fmt;
use core::mem::size_of;

// ---------------------------------------------------------------------------
// Linux _IOC encoding
// ---------------------------------------------------------------------------

/// Number of bits of the ioctl `nr` field.
pub const IOC_NRBITS: u32 = 8;
/// Number of bits of the ioctl `type` field.
pub const IOC_TYPEBITS: u32 = 8;

// powerpc, mips and sparc use a 3-bit direction field and a 13-bit size field;
// alpha and parisc differ too but are not Rust targets.
#[cfg(not(any(
    target_arch = "powerpc",
    target_arch = "powerpc64",
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "mips32r6",
    target_arch = "mips64r6",
    target_arch = "sparc",
    target_arch = "sparc64"
)))]
mod ioc_arch {
    /// Number of bits of the ioctl `size` field (generic encoding).
    pub const IOC_SIZEBITS: u32 = 14;
    /// Number of bits of the ioctl `dir` field (generic encoding).
    pub const IOC_DIRBITS: u32 = 2;
    /// ioctl direction "no data" (generic `_IOC_NONE`).
    pub const IOC_NONE: u32 = 0;
    /// ioctl direction "user writes" (generic `_IOC_WRITE`).
    pub const IOC_WRITE: u32 = 1;
    /// ioctl direction "user reads" (generic `_IOC_READ`).
    pub const IOC_READ: u32 = 2;
}

#[cfg(any(
    target_arch = "powerpc",
    target_arch = "powerpc64",
    target_arch = "mips",
    target_arch = "mips64",
    target_arch = "mips32r6",
    target_arch = "mips64r6",
    target_arch = "sparc",
    target_arch = "sparc64"
))]
mod ioc_arch {
    /// Number of bits of the ioctl `size` field (powerpc/mips/sparc encoding).
    pub const IOC_SIZEBITS: u32 = 13;
    /// Number of bits of the ioctl `dir` field (powerpc/mips/sparc encoding).
    pub const IOC_DIRBITS: u32 = 3;
    /// ioctl direction "no data" (powerpc/mips/sparc `_IOC_NONE`).
    pub const IOC_NONE: u32 = 1;
    /// ioctl direction "user writes" (powerpc/mips/sparc `_IOC_WRITE`).
    pub const IOC_WRITE: u32 = 4;
    /// ioctl direction "user reads" (powerpc/mips/sparc `_IOC_READ`).
    pub const IOC_READ: u32 = 2;
}

pub use ioc_arch::{IOC_DIRBITS, IOC_NONE, IOC_READ, IOC_SIZEBITS, IOC_WRITE};

/// Bit position of the ioctl `nr` field.
pub const IOC_NRSHIFT: u32 = 0;
/// Bit position of the ioctl `type` field.
pub const IOC_TYPESHIFT: u32 = IOC_NRSHIFT + IOC_NRBITS;
/// Bit position of the ioctl `size` field.
pub const IOC_SIZESHIFT: u32 = IOC_TYPESHIFT + IOC_TYPEBITS;
/// Bit position of the ioctl `dir` field.
pub const IOC_DIRSHIFT: u32 = IOC_SIZESHIFT + IOC_SIZEBITS;

/// Linux `_IOC(dir, type, nr, size)`; panics (at compile time in const context) if `size` does not fit.
pub const fn ioc(dir: u32, ty: u8, nr: u8, size: usize) -> u32 {
    assert!(size < (1usize << IOC_SIZEBITS), "ioctl argument too large");
    assert!(dir < (1u32 << IOC_DIRBITS), "invalid ioctl direction");
    (dir << IOC_DIRSHIFT)
        | ((size as u32) << IOC_SIZESHIFT)
        | ((ty as u32) << IOC_TYPESHIFT)
        | ((nr as u32) << IOC_NRSHIFT)
}

/// Linux `_IO(type, nr)`: no argument.
pub const fn io(ty: u8, nr: u8) -> u32 {
    ioc(IOC_NONE, ty, nr, 0)
}

/// Linux `_IOW(type, nr, T)` with `size = sizeof(T)`.
pub const fn iow(ty: u8, nr: u8, size: usize) -> u32 {
    ioc(IOC_WRITE, ty, nr, size)
}

/// Linux `_IOR(type, nr, T)` with `size = sizeof(T)`.
pub const fn ior(ty: u8, nr: u8, size: usize) -> u32 {
    ioc(IOC_READ, ty, nr, size)
}

/// Linux `_IOWR(type, nr, T)` with `size = sizeof(T)`.
pub const fn iowr(ty: u8, nr: u8, size: usize) -> u32 {
    ioc(IOC_READ | IOC_WRITE, ty, nr, size)
}

/// Linux `_IOC_DIR(request)`: the direction bits of a request number.
pub const fn ioc_dir(request: u32) -> u32 {
    (request >> IOC_DIRSHIFT) & ((1 << IOC_DIRBITS) - 1)
}

/// Linux `_IOC_TYPE(request)`: the type byte of a request number.
pub const fn ioc_type(request: u32) -> u8 {
    ((request >> IOC_TYPESHIFT) & ((1 << IOC_TYPEBITS) - 1)) as u8
}

/// Linux `_IOC_NR(request)`: the command number of a request number.
pub const fn ioc_nr(request: u32) -> u8 {
    ((request >> IOC_NRSHIFT) & ((1 << IOC_NRBITS) - 1)) as u8
}

/// Linux `_IOC_SIZE(request)`: the argument size encoded in a request number.
pub const fn ioc_size(request: u32) -> usize {
    ((request >> IOC_SIZESHIFT) & ((1 << IOC_SIZEBITS) - 1)) as usize
}

// ---------------------------------------------------------------------------
// Fundamental constants (§2)
// ---------------------------------------------------------------------------

/// The ioctl type byte of every kdbus command.
pub const KDBUS_IOCTL_MAGIC: u8 = 0x95;
/// `src_id` of every kernel-generated message.
pub const KDBUS_SRC_ID_KERNEL: u64 = 0;
/// `dst_id` meaning "resolve the destination from the `KDBUS_ITEM_DST_NAME` item".
pub const KDBUS_DST_ID_NAME: u64 = 0;
/// Wildcard connection ID in match rules.
pub const KDBUS_MATCH_ID_ANY: u64 = !0;
/// `dst_id` of broadcast signals.
pub const KDBUS_DST_ID_BROADCAST: u64 = !0;
/// Command flag requesting flag negotiation; accepted by every command.
pub const KDBUS_FLAG_NEGOTIATE: u64 = 1 << 63;

// ---------------------------------------------------------------------------
// Filesystem-level identifiers (§1) -- not part of kdbus.h
// ---------------------------------------------------------------------------

/// kdbusfs superblock magic (`statfs().f_type`), `KDBUS_SUPER_MAGIC` of `<linux/magic.h>`.
pub const KDBUS_SUPER_MAGIC: u32 = 0x4442_7573;
/// Filesystem type name to pass to `mount(2)` (not in kdbus.h).
pub const KDBUS_FS_TYPE: &str = "kdbusfs";
/// Conventional kdbusfs mount point (not in kdbus.h).
pub const KDBUS_DEFAULT_MOUNT_POINT: &str = "/sys/fs/kdbus";
/// Name of the control file in the root of a kdbusfs mount (not in kdbus.h).
pub const KDBUS_CONTROL_NODE: &str = "control";
/// Name of the default endpoint file inside a bus directory (not in kdbus.h).
pub const KDBUS_BUS_ENDPOINT_NODE: &str = "bus";
/// Default of the `attach_flags_mask` module parameter (not in kdbus.h).
pub const KDBUS_ATTACH_FLAGS_MASK_DEFAULT: u64 = 0x281f;

// ---------------------------------------------------------------------------
// Item payload structures (§4.14)
// ---------------------------------------------------------------------------

/// `struct kdbus_vec`: payload of `KDBUS_ITEM_PAYLOAD_VEC` / `KDBUS_ITEM_PAYLOAD_OFF` (16 bytes).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusVec {
    /// Number of bytes; must be non-zero.
    pub size: u64,
    /// Union `address`/`offset`: user address (PAYLOAD_VEC) or message-relative offset, `~0` = padding (PAYLOAD_OFF).
    pub address: u64,
}

impl KdbusVec {
    /// Read the union as `offset` (PAYLOAD_OFF items).
    pub const fn offset(&self) -> u64 {
        self.address
    }

    /// Write the union as `offset` (PAYLOAD_OFF items).
    pub fn set_offset(&mut self, offset: u64) {
        self.address = offset;
    }
}

/// `struct kdbus_bloom_parameter`: bus bloom filter geometry (16 bytes).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusBloomParameter {
    /// Bloom bit-field size in bytes: 8..=4096, multiple of 8.
    pub size: u64,
    /// Number of hash functions, at least 1.
    pub n_hash: u64,
}

/// `struct kdbus_bloom_filter`: 8-byte header followed by `data[]` (`u64` words of bit field).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusBloomFilter {
    /// Filter generation, selects the mask generation at match time.
    pub generation: u64,
}

impl KdbusBloomFilter {
    /// Offset of the flexible `data[]` (`u64[]`) member.
    pub const DATA_OFFSET: usize = size_of::<Self>();
}

/// `struct kdbus_memfd`: payload of `KDBUS_ITEM_PAYLOAD_MEMFD` (24 bytes).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusMemfd {
    /// Offset of the payload inside the memfd.
    pub start: u64,
    /// Payload length; must be non-zero.
    pub size: u64,
    /// Memfd descriptor (sender) or installed descriptor / -1 (receiver).
    pub fd: i32,
    /// Padding; must be 0.
    pub __pad: u32,
}

/// `struct kdbus_name`: 8-byte header of `KDBUS_ITEM_OWNED_NAME`, followed by the NUL-terminated `name[]`.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusName {
    /// `KDBUS_NAME_*` flags of this ownership.
    pub flags: u64,
}

impl KdbusName {
    /// Offset of the flexible `name[]` (`char[]`) member.
    pub const NAME_OFFSET: usize = size_of::<Self>();
}

/// `struct kdbus_creds`: payload of `KDBUS_ITEM_CREDS`, 32-bit IDs zero-extended, `0xffffffff` = unset (64 bytes).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusCreds {
    /// Real user ID.
    pub uid: u64,
    /// Effective user ID.
    pub euid: u64,
    /// Saved user ID.
    pub suid: u64,
    /// Filesystem user ID.
    pub fsuid: u64,
    /// Real group ID.
    pub gid: u64,
    /// Effective group ID.
    pub egid: u64,
    /// Saved group ID.
    pub sgid: u64,
    /// Filesystem group ID.
    pub fsgid: u64,
}

/// `struct kdbus_pids`: payload of `KDBUS_ITEM_PIDS`, 0 = not visible / unset (24 bytes).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusPids {
    /// Process (thread-group) ID.
    pub pid: u64,
    /// Thread ID.
    pub tid: u64,
    /// Parent process ID.
    pub ppid: u64,
}

/// `struct kdbus_caps`: `last_cap` followed by `caps[]` (`u32` words) at offset **4** (sizeof 8).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusCaps {
    /// Highest capability number known to the kernel.
    pub last_cap: u32,
}

impl KdbusCaps {
    /// Offset of the flexible `caps[]` (`u32[]`) member: 4, not `sizeof` (8).
    pub const CAPS_OFFSET: usize = 4;
}

/// `struct kdbus_audit`: payload of `KDBUS_ITEM_AUDIT` (8 bytes).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusAudit {
    /// Audit session ID.
    pub sessionid: u32,
    /// Audit login UID, `0xffffffff` if unset or unmapped.
    pub loginuid: u32,
}

/// `struct kdbus_timestamp`: payload of `KDBUS_ITEM_TIMESTAMP` (24 bytes).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusTimestamp {
    /// Per-domain sequence number of the message.
    pub seqnum: u64,
    /// `CLOCK_MONOTONIC` at send time, ns.
    pub monotonic_ns: u64,
    /// `CLOCK_REALTIME` at send time, ns.
    pub realtime_ns: u64,
}

/// `struct kdbus_notify_id_change`: payload of `KDBUS_ITEM_ID_ADD` / `KDBUS_ITEM_ID_REMOVE` (16 bytes).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusNotifyIdChange {
    /// Connection ID (or `KDBUS_MATCH_ID_ANY` in a match rule).
    pub id: u64,
    /// That connection's HELLO flags, or the ownership's `KDBUS_NAME_*` flags inside a name change.
    pub flags: u64,
}

/// `struct kdbus_notify_name_change`: payload of `KDBUS_ITEM_NAME_{ADD,REMOVE,CHANGE}`, followed by `name[]` (32 bytes).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusNotifyNameChange {
    /// Previous owner, `{0, 0}` for NAME_ADD.
    pub old_id: KdbusNotifyIdChange,
    /// New owner, `{0, 0}` for NAME_REMOVE.
    pub new_id: KdbusNotifyIdChange,
}

impl KdbusNotifyNameChange {
    /// Offset of the flexible NUL-terminated `name[]` member.
    pub const NAME_OFFSET: usize = size_of::<Self>();
}

/// `struct kdbus_policy_access`: payload of `KDBUS_ITEM_POLICY_ACCESS` (24 bytes).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusPolicyAccess {
    /// `KDBUS_POLICY_ACCESS_USER` / `_GROUP` / `_WORLD`.
    pub r#type: u64,
    /// `KDBUS_POLICY_SEE` / `_TALK` / `_OWN`.
    pub access: u64,
    /// uid (USER) or gid (GROUP); ignored for WORLD.
    pub id: u64,
}

// ---------------------------------------------------------------------------
// Items (§4.13)
// ---------------------------------------------------------------------------

/// The anonymous payload union of `struct kdbus_item` (64 bytes, the size of `kdbus_creds`).
#[repr(C, align(8))]
#[derive(Clone, Copy)]
pub union KdbusItemPayload {
    /// Generic bytes (`__u8 data[0]`); `KDBUS_ITEM_BLOOM_MASK`.
    pub data: [u8; 0],
    /// Generic 32-bit words (`__u32 data32[0]`).
    pub data32: [u32; 0],
    /// Generic 64-bit words (`__u64 data64[0]`): NEGOTIATE, ATTACH_FLAGS_*, AUXGROUPS.
    pub data64: [u64; 0],
    /// NUL-terminated string (`char str[0]`) of all string items.
    pub str: [u8; 0],
    /// `KDBUS_ITEM_ID`.
    pub id: u64,
    /// `KDBUS_ITEM_PAYLOAD_VEC`, `KDBUS_ITEM_PAYLOAD_OFF`.
    pub vec: KdbusVec,
    /// `KDBUS_ITEM_CREDS`.
    pub creds: KdbusCreds,
    /// `KDBUS_ITEM_PIDS`.
    pub pids: KdbusPids,
    /// `KDBUS_ITEM_AUDIT`.
    pub audit: KdbusAudit,
    /// `KDBUS_ITEM_CAPS`.
    pub caps: KdbusCaps,
    /// `KDBUS_ITEM_TIMESTAMP`.
    pub timestamp: KdbusTimestamp,
    /// `KDBUS_ITEM_OWNED_NAME`.
    pub name: KdbusName,
    /// `KDBUS_ITEM_BLOOM_PARAMETER`.
    pub bloom_parameter: KdbusBloomParameter,
    /// `KDBUS_ITEM_BLOOM_FILTER`.
    pub bloom_filter: KdbusBloomFilter,
    /// `KDBUS_ITEM_PAYLOAD_MEMFD`.
    pub memfd: KdbusMemfd,
    /// File descriptors (`int fds[0]`): `KDBUS_ITEM_FDS`, `KDBUS_ITEM_CANCEL_FD`.
    pub fds: [i32; 0],
    /// `KDBUS_ITEM_NAME_ADD`, `KDBUS_ITEM_NAME_REMOVE`, `KDBUS_ITEM_NAME_CHANGE`.
    pub name_change: KdbusNotifyNameChange,
    /// `KDBUS_ITEM_ID_ADD`, `KDBUS_ITEM_ID_REMOVE`.
    pub id_change: KdbusNotifyIdChange,
    /// `KDBUS_ITEM_POLICY_ACCESS`.
    pub policy_access: KdbusPolicyAccess,
}

impl Default for KdbusItemPayload {
    /// All 64 bytes zero.
    fn default() -> Self {
        Self {
            creds: KdbusCreds::default(),
        }
    }
}

impl fmt::Debug for KdbusItemPayload {
    /// Opaque: the active member depends on the item type.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KdbusItemPayload").finish_non_exhaustive()
    }
}

/// `struct kdbus_item`: 16-byte header plus payload union; `sizeof` is 80 but items are sized by `size`.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default)]
pub struct KdbusItem {
    /// Header + payload size, without trailing padding.
    pub size: u64,
    /// One of `KDBUS_ITEM_*`.
    pub r#type: u64,
    /// The anonymous payload union of the C struct, at offset 16.
    pub payload: KdbusItemPayload,
}

impl KdbusItem {
    /// Offset of the payload union (`data`, `str`, `vec`, ...): the item header size.
    pub const DATA_OFFSET: usize = 16;
}

impl fmt::Debug for KdbusItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KdbusItem")
            .field("size", &self.size)
            .field("type", &self.r#type)
            .finish_non_exhaustive()
    }
}

/// The 16-byte header of `struct kdbus_item` alone (not in kdbus.h); safe to read from any item.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusItemHeader {
    /// Header + payload size, without trailing padding.
    pub size: u64,
    /// One of `KDBUS_ITEM_*`.
    pub r#type: u64,
}

// ---------------------------------------------------------------------------
// Command structures (§4.1 - §4.12)
// ---------------------------------------------------------------------------

/// `struct kdbus_cmd`: generic command (BUS_MAKE, ENDPOINT_*, UPDATE, BYEBYE, NAME_*), 24 bytes + `items[]`.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusCmd {
    /// Total size including items.
    pub size: u64,
    /// `KDBUS_MAKE_*` or `KDBUS_NAME_*` request flags, or none.
    pub flags: u64,
    /// Result flags (NAME_ACQUIRE: `KDBUS_NAME_IN_QUEUE`).
    pub return_flags: u64,
}

impl KdbusCmd {
    /// Offset of the flexible `items[]` member.
    pub const ITEMS_OFFSET: usize = size_of::<Self>();
}

/// `struct kdbus_cmd_hello`: argument of `KDBUS_CMD_HELLO`, 96 bytes + `items[]`.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusCmdHello {
    /// Total size including items.
    pub size: u64,
    /// `KDBUS_HELLO_*`.
    pub flags: u64,
    /// Result flags (always 0).
    pub return_flags: u64,
    /// Metadata this connection allows to be attached to what it sends (`KDBUS_ATTACH_*`).
    pub attach_flags_send: u64,
    /// Metadata this connection wants attached to what it receives (`KDBUS_ATTACH_*`).
    pub attach_flags_recv: u64,
    /// Out: the bus's `KDBUS_MAKE_*` flags.
    pub bus_flags: u64,
    /// Out: the new connection ID.
    pub id: u64,
    /// Size of the receive pool; non-zero multiple of the page size.
    pub pool_size: u64,
    /// Out: pool offset of the HELLO reply slice (must be released with FREE).
    pub offset: u64,
    /// Out: size of the HELLO reply slice.
    pub items_size: u64,
    /// Out: the bus's 128-bit UUID in RFC 4122 byte order.
    pub id128: [u8; 16],
}

impl KdbusCmdHello {
    /// Offset of the flexible `items[]` member.
    pub const ITEMS_OFFSET: usize = size_of::<Self>();
}

/// `struct kdbus_cmd_info`: argument of CONN_INFO / BUS_CREATOR_INFO, 56 bytes + `items[]`.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusCmdInfo {
    /// Total size including items.
    pub size: u64,
    /// Command flags (none defined).
    pub flags: u64,
    /// Result flags (always 0).
    pub return_flags: u64,
    /// Connection to query, 0 = use the NAME item (ignored by BUS_CREATOR_INFO).
    pub id: u64,
    /// `KDBUS_ATTACH_*` metadata wanted in the answer.
    pub attach_flags: u64,
    /// Out: pool offset of the `kdbus_info` answer.
    pub offset: u64,
    /// Out: size of the answer's pool slice.
    pub info_size: u64,
}

impl KdbusCmdInfo {
    /// Offset of the flexible `items[]` member.
    pub const ITEMS_OFFSET: usize = size_of::<Self>();
}

/// `struct kdbus_cmd_list`: argument of `KDBUS_CMD_LIST`, 40 bytes + `items[]`.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusCmdList {
    /// Total size including items.
    pub size: u64,
    /// `KDBUS_LIST_*`.
    pub flags: u64,
    /// Result flags (always 0).
    pub return_flags: u64,
    /// Out: pool offset of the `kdbus_info` record array (pool size when empty).
    pub offset: u64,
    /// Out: size in bytes of the record array.
    pub list_size: u64,
}

impl KdbusCmdList {
    /// Offset of the flexible `items[]` member.
    pub const ITEMS_OFFSET: usize = size_of::<Self>();
}

/// `struct kdbus_cmd_free`: argument of `KDBUS_CMD_FREE`, 32 bytes + `items[]`.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusCmdFree {
    /// Total size including items.
    pub size: u64,
    /// Command flags (none defined).
    pub flags: u64,
    /// Result flags (always 0).
    pub return_flags: u64,
    /// Pool offset of the slice to release.
    pub offset: u64,
}

impl KdbusCmdFree {
    /// Offset of the flexible `items[]` member.
    pub const ITEMS_OFFSET: usize = size_of::<Self>();
}

/// `struct kdbus_cmd_match`: argument of MATCH_ADD / MATCH_REMOVE, 32 bytes + `items[]`.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusCmdMatch {
    /// Total size including items.
    pub size: u64,
    /// `KDBUS_MATCH_*`.
    pub flags: u64,
    /// Result flags (always 0).
    pub return_flags: u64,
    /// User-chosen identifier of the match.
    pub cookie: u64,
}

impl KdbusCmdMatch {
    /// Offset of the flexible `items[]` member.
    pub const ITEMS_OFFSET: usize = size_of::<Self>();
}

/// `struct kdbus_msg_info`: location of a message in the pool (24 bytes).
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusMsgInfo {
    /// Pool offset of the message (pool size for the empty slice).
    pub offset: u64,
    /// Size of the whole pool slice, rounded to 8 (not `kdbus_msg.size`).
    pub msg_size: u64,
    /// `KDBUS_RECV_RETURN_INCOMPLETE_FDS` or 0.
    pub return_flags: u64,
}

/// `struct kdbus_cmd_send`: argument of `KDBUS_CMD_SEND`, 56 bytes + `items[]`.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusCmdSend {
    /// Total size including items.
    pub size: u64,
    /// `KDBUS_SEND_*`.
    pub flags: u64,
    /// Result flags (always 0).
    pub return_flags: u64,
    /// User address of the `kdbus_msg` to send; must be 8-aligned.
    pub msg_address: u64,
    /// Out: location of the synchronous reply (SYNC_REPLY).
    pub reply: KdbusMsgInfo,
}

impl KdbusCmdSend {
    /// Offset of the flexible `items[]` member.
    pub const ITEMS_OFFSET: usize = size_of::<Self>();
}

/// `struct kdbus_cmd_recv`: argument of `KDBUS_CMD_RECV`, 64 bytes + `items[]`.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusCmdRecv {
    /// Total size including items.
    pub size: u64,
    /// `KDBUS_RECV_*`.
    pub flags: u64,
    /// Result flags (`KDBUS_RECV_RETURN_DROPPED_MSGS`).
    pub return_flags: u64,
    /// With `KDBUS_RECV_USE_PRIORITY`: dequeue only if the best priority value is <= this.
    pub priority: i64,
    /// Out: messages lost since the previous RECV.
    pub dropped_msgs: u64,
    /// Out: location of the received message.
    pub msg: KdbusMsgInfo,
}

impl KdbusCmdRecv {
    /// Offset of the flexible `items[]` member.
    pub const ITEMS_OFFSET: usize = size_of::<Self>();
}

/// `struct kdbus_msg`: message header, 64 bytes + `items[]`.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusMsg {
    /// Header + items size (in the pool: + metadata items, excluding payload).
    pub size: u64,
    /// `KDBUS_MSG_*`.
    pub flags: u64,
    /// Queue priority; lower value = more urgent.
    pub priority: i64,
    /// Destination ID, `KDBUS_DST_ID_NAME` or `KDBUS_DST_ID_BROADCAST`.
    pub dst_id: u64,
    /// Sender ID (0 or own ID on send).
    pub src_id: u64,
    /// `KDBUS_PAYLOAD_*`; must be non-zero on send.
    pub payload_type: u64,
    /// Sender-chosen message identifier.
    pub cookie: u64,
    /// Union `timeout_ns`/`cookie_reply`: absolute deadline with EXPECT_REPLY, else the replied-to cookie.
    pub timeout_ns: u64,
}

impl KdbusMsg {
    /// Offset of the flexible `items[]` member.
    pub const ITEMS_OFFSET: usize = size_of::<Self>();

    /// Read the union as `cookie_reply`.
    pub const fn cookie_reply(&self) -> u64 {
        self.timeout_ns
    }

    /// Write the union as `cookie_reply`.
    pub fn set_cookie_reply(&mut self, cookie_reply: u64) {
        self.timeout_ns = cookie_reply;
    }
}

/// `struct kdbus_info`: CONN_INFO / BUS_CREATOR_INFO answer and LIST record, 24 bytes + `items[]`.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KdbusInfo {
    /// Size of this record including its items.
    pub size: u64,
    /// Connection ID, or bus ID for BUS_CREATOR_INFO.
    pub id: u64,
    /// The connection's HELLO flags, or the bus's MAKE flags.
    pub flags: u64,
}

impl KdbusInfo {
    /// Offset of the flexible `items[]` member.
    pub const ITEMS_OFFSET: usize = size_of::<Self>();
}

// ---------------------------------------------------------------------------
// ioctl request numbers (§3.1)
// ---------------------------------------------------------------------------

/// Create a bus (on `control`): `_IOW(0x95, 0x00, struct kdbus_cmd)`.
pub const KDBUS_CMD_BUS_MAKE: u32 = iow(KDBUS_IOCTL_MAGIC, 0x00, size_of::<KdbusCmd>());
/// Create a custom endpoint: `_IOW(0x95, 0x10, struct kdbus_cmd)`.
pub const KDBUS_CMD_ENDPOINT_MAKE: u32 = iow(KDBUS_IOCTL_MAGIC, 0x10, size_of::<KdbusCmd>());
/// Update a custom endpoint's policy: `_IOW(0x95, 0x11, struct kdbus_cmd)`.
pub const KDBUS_CMD_ENDPOINT_UPDATE: u32 = iow(KDBUS_IOCTL_MAGIC, 0x11, size_of::<KdbusCmd>());
/// Connect to a bus: `_IOWR(0x95, 0x80, struct kdbus_cmd_hello)`.
pub const KDBUS_CMD_HELLO: u32 = iowr(KDBUS_IOCTL_MAGIC, 0x80, size_of::<KdbusCmdHello>());
/// Update connection properties: `_IOW(0x95, 0x81, struct kdbus_cmd)`.
pub const KDBUS_CMD_UPDATE: u32 = iow(KDBUS_IOCTL_MAGIC, 0x81, size_of::<KdbusCmd>());
/// Disconnect: `_IOW(0x95, 0x82, struct kdbus_cmd)`.
pub const KDBUS_CMD_BYEBYE: u32 = iow(KDBUS_IOCTL_MAGIC, 0x82, size_of::<KdbusCmd>());
/// Release a pool slice: `_IOW(0x95, 0x83, struct kdbus_cmd_free)`.
pub const KDBUS_CMD_FREE: u32 = iow(KDBUS_IOCTL_MAGIC, 0x83, size_of::<KdbusCmdFree>());
/// Query a connection: `_IOR(0x95, 0x84, struct kdbus_cmd_info)`.
pub const KDBUS_CMD_CONN_INFO: u32 = ior(KDBUS_IOCTL_MAGIC, 0x84, size_of::<KdbusCmdInfo>());
/// Query the bus creator: `_IOR(0x95, 0x85, struct kdbus_cmd_info)`.
pub const KDBUS_CMD_BUS_CREATOR_INFO: u32 = ior(KDBUS_IOCTL_MAGIC, 0x85, size_of::<KdbusCmdInfo>());
/// List connections and names: `_IOR(0x95, 0x86, struct kdbus_cmd_list)`.
pub const KDBUS_CMD_LIST: u32 = ior(KDBUS_IOCTL_MAGIC, 0x86, size_of::<KdbusCmdList>());
/// Send a message: `_IOW(0x95, 0x90, struct kdbus_cmd_send)`.
pub const KDBUS_CMD_SEND: u32 = iow(KDBUS_IOCTL_MAGIC, 0x90, size_of::<KdbusCmdSend>());
/// Receive a message: `_IOR(0x95, 0x91, struct kdbus_cmd_recv)`.
pub const KDBUS_CMD_RECV: u32 = ior(KDBUS_IOCTL_MAGIC, 0x91, size_of::<KdbusCmdRecv>());
/// Acquire a well-known name: `_IOW(0x95, 0xa0, struct kdbus_cmd)`.
pub const KDBUS_CMD_NAME_ACQUIRE: u32 = iow(KDBUS_IOCTL_MAGIC, 0xa0, size_of::<KdbusCmd>());
/// Release a well-known name: `_IOW(0x95, 0xa1, struct kdbus_cmd)`.
pub const KDBUS_CMD_NAME_RELEASE: u32 = iow(KDBUS_IOCTL_MAGIC, 0xa1, size_of::<KdbusCmd>());
/// Add a match: `_IOW(0x95, 0xb0, struct kdbus_cmd_match)`.
pub const KDBUS_CMD_MATCH_ADD: u32 = iow(KDBUS_IOCTL_MAGIC, 0xb0, size_of::<KdbusCmdMatch>());
/// Remove matches by cookie: `_IOW(0x95, 0xb1, struct kdbus_cmd_match)`.
pub const KDBUS_CMD_MATCH_REMOVE: u32 = iow(KDBUS_IOCTL_MAGIC, 0xb1, size_of::<KdbusCmdMatch>());

// ---------------------------------------------------------------------------
// Item types (§5.1, enum kdbus_item_type)
// ---------------------------------------------------------------------------

/// Invalid item type (placeholder).
pub const _KDBUS_ITEM_NULL: u64 = 0;
/// First user/command item type (placeholder).
pub const _KDBUS_ITEM_USER_BASE: u64 = 1;
/// Item negotiation: `u64[]` of item types.
pub const KDBUS_ITEM_NEGOTIATE: u64 = 1;
/// Payload by user address: `kdbus_vec`.
pub const KDBUS_ITEM_PAYLOAD_VEC: u64 = 2;
/// Payload by pool offset (received messages): `kdbus_vec`.
pub const KDBUS_ITEM_PAYLOAD_OFF: u64 = 3;
/// Payload in a sealed memfd: `kdbus_memfd`.
pub const KDBUS_ITEM_PAYLOAD_MEMFD: u64 = 4;
/// File descriptors: `int[]`.
pub const KDBUS_ITEM_FDS: u64 = 5;
/// Cancellation descriptor for SYNC_REPLY sends: `int[1]`.
pub const KDBUS_ITEM_CANCEL_FD: u64 = 6;
/// Bus bloom geometry: `kdbus_bloom_parameter`.
pub const KDBUS_ITEM_BLOOM_PARAMETER: u64 = 7;
/// Signal bloom filter: `kdbus_bloom_filter`.
pub const KDBUS_ITEM_BLOOM_FILTER: u64 = 8;
/// Match bloom mask: `u8[]`.
pub const KDBUS_ITEM_BLOOM_MASK: u64 = 9;
/// Destination well-known name: string.
pub const KDBUS_ITEM_DST_NAME: u64 = 10;
/// Bus / endpoint name: string.
pub const KDBUS_ITEM_MAKE_NAME: u64 = 11;
/// Send attach mask: `u64`.
pub const KDBUS_ITEM_ATTACH_FLAGS_SEND: u64 = 12;
/// Receive attach mask: `u64`.
pub const KDBUS_ITEM_ATTACH_FLAGS_RECV: u64 = 13;
/// Connection ID: `u64`.
pub const KDBUS_ITEM_ID: u64 = 14;
/// Well-known name: string.
pub const KDBUS_ITEM_NAME: u64 = 15;

/// First metadata item type (placeholder).
pub const _KDBUS_ITEM_ATTACH_BASE: u64 = 0x1000;
/// Metadata: `kdbus_timestamp`.
pub const KDBUS_ITEM_TIMESTAMP: u64 = 0x1000;
/// Metadata: `kdbus_creds`.
pub const KDBUS_ITEM_CREDS: u64 = 0x1001;
/// Metadata: `kdbus_pids`.
pub const KDBUS_ITEM_PIDS: u64 = 0x1002;
/// Metadata: supplementary groups, `u64[]`.
pub const KDBUS_ITEM_AUXGROUPS: u64 = 0x1003;
/// Metadata / LIST: owned name, `kdbus_name`.
pub const KDBUS_ITEM_OWNED_NAME: u64 = 0x1004;
/// Metadata: thread name, string.
pub const KDBUS_ITEM_TID_COMM: u64 = 0x1005;
/// Metadata: process name, string.
pub const KDBUS_ITEM_PID_COMM: u64 = 0x1006;
/// Metadata: executable path, string.
pub const KDBUS_ITEM_EXE: u64 = 0x1007;
/// Metadata: command line, string.
pub const KDBUS_ITEM_CMDLINE: u64 = 0x1008;
/// Metadata: cgroup path, string.
pub const KDBUS_ITEM_CGROUP: u64 = 0x1009;
/// Metadata: capabilities, `kdbus_caps`.
pub const KDBUS_ITEM_CAPS: u64 = 0x100a;
/// Metadata: LSM security label, string.
pub const KDBUS_ITEM_SECLABEL: u64 = 0x100b;
/// Metadata: audit IDs, `kdbus_audit`.
pub const KDBUS_ITEM_AUDIT: u64 = 0x100c;
/// Metadata: connection description, string.
pub const KDBUS_ITEM_CONN_DESCRIPTION: u64 = 0x100d;

/// First policy item type (placeholder).
pub const _KDBUS_ITEM_POLICY_BASE: u64 = 0x2000;
/// Policy access record: `kdbus_policy_access`.
pub const KDBUS_ITEM_POLICY_ACCESS: u64 = 0x2000;

/// First kernel notification item type (placeholder).
pub const _KDBUS_ITEM_KERNEL_BASE: u64 = 0x8000;
/// Notification: name appeared, `kdbus_notify_name_change`.
pub const KDBUS_ITEM_NAME_ADD: u64 = 0x8000;
/// Notification: name released, `kdbus_notify_name_change`.
pub const KDBUS_ITEM_NAME_REMOVE: u64 = 0x8001;
/// Notification: name changed owner, `kdbus_notify_name_change`.
pub const KDBUS_ITEM_NAME_CHANGE: u64 = 0x8002;
/// Notification: connection appeared, `kdbus_notify_id_change`.
pub const KDBUS_ITEM_ID_ADD: u64 = 0x8003;
/// Notification: connection gone, `kdbus_notify_id_change`.
pub const KDBUS_ITEM_ID_REMOVE: u64 = 0x8004;
/// Notification: reply timed out, no payload.
pub const KDBUS_ITEM_REPLY_TIMEOUT: u64 = 0x8005;
/// Notification: peer died before replying, no payload.
pub const KDBUS_ITEM_REPLY_DEAD: u64 = 0x8006;

// ---------------------------------------------------------------------------
// Attach flags (§5.2, enum kdbus_attach_flags)
// ---------------------------------------------------------------------------

/// Attach `KDBUS_ITEM_TIMESTAMP`.
pub const KDBUS_ATTACH_TIMESTAMP: u64 = 1 << 0;
/// Attach `KDBUS_ITEM_CREDS`.
pub const KDBUS_ATTACH_CREDS: u64 = 1 << 1;
/// Attach `KDBUS_ITEM_PIDS`.
pub const KDBUS_ATTACH_PIDS: u64 = 1 << 2;
/// Attach `KDBUS_ITEM_AUXGROUPS`.
pub const KDBUS_ATTACH_AUXGROUPS: u64 = 1 << 3;
/// Attach one `KDBUS_ITEM_OWNED_NAME` per owned name.
pub const KDBUS_ATTACH_NAMES: u64 = 1 << 4;
/// Attach `KDBUS_ITEM_TID_COMM`.
pub const KDBUS_ATTACH_TID_COMM: u64 = 1 << 5;
/// Attach `KDBUS_ITEM_PID_COMM`.
pub const KDBUS_ATTACH_PID_COMM: u64 = 1 << 6;
/// Attach `KDBUS_ITEM_EXE`.
pub const KDBUS_ATTACH_EXE: u64 = 1 << 7;
/// Attach `KDBUS_ITEM_CMDLINE`.
pub const KDBUS_ATTACH_CMDLINE: u64 = 1 << 8;
/// Attach `KDBUS_ITEM_CGROUP`.
pub const KDBUS_ATTACH_CGROUP: u64 = 1 << 9;
/// Attach `KDBUS_ITEM_CAPS`.
pub const KDBUS_ATTACH_CAPS: u64 = 1 << 10;
/// Attach `KDBUS_ITEM_SECLABEL`.
pub const KDBUS_ATTACH_SECLABEL: u64 = 1 << 11;
/// Attach `KDBUS_ITEM_AUDIT`.
pub const KDBUS_ATTACH_AUDIT: u64 = 1 << 12;
/// Attach `KDBUS_ITEM_CONN_DESCRIPTION`.
pub const KDBUS_ATTACH_CONN_DESCRIPTION: u64 = 1 << 13;
/// All defined attach flags.
pub const _KDBUS_ATTACH_ALL: u64 = (1 << 14) - 1;
/// Any attach flag; accepted as input and treated like `_KDBUS_ATTACH_ALL`.
pub const _KDBUS_ATTACH_ANY: u64 = !0;

// ---------------------------------------------------------------------------
// Command flags (§5.3 - §5.10)
// ---------------------------------------------------------------------------

/// HELLO: the connection accepts file descriptors.
pub const KDBUS_HELLO_ACCEPT_FD: u64 = 1 << 0;
/// HELLO: activator connection (privileged, needs a NAME item).
pub const KDBUS_HELLO_ACTIVATOR: u64 = 1 << 1;
/// HELLO: policy-holder connection (privileged, needs a NAME item).
pub const KDBUS_HELLO_POLICY_HOLDER: u64 = 1 << 2;
/// HELLO: monitor connection (privileged).
pub const KDBUS_HELLO_MONITOR: u64 = 1 << 3;

/// BUS_MAKE / ENDPOINT_MAKE: node accessible to the creator's group.
pub const KDBUS_MAKE_ACCESS_GROUP: u64 = 1 << 0;
/// BUS_MAKE / ENDPOINT_MAKE: node accessible to everyone.
pub const KDBUS_MAKE_ACCESS_WORLD: u64 = 1 << 1;

/// NAME_ACQUIRE: take the name over if the owner allowed replacement.
pub const KDBUS_NAME_REPLACE_EXISTING: u64 = 1 << 0;
/// NAME_ACQUIRE: allow others to take the name over.
pub const KDBUS_NAME_ALLOW_REPLACEMENT: u64 = 1 << 1;
/// NAME_ACQUIRE: queue up if the name is taken.
pub const KDBUS_NAME_QUEUE: u64 = 1 << 2;
/// NAME_ACQUIRE return flag: the caller was queued.
pub const KDBUS_NAME_IN_QUEUE: u64 = 1 << 3;
/// Output only: the ownership is held by an activator.
pub const KDBUS_NAME_ACTIVATOR: u64 = 1 << 4;

/// LIST: one record per connection that got no other record.
pub const KDBUS_LIST_UNIQUE: u64 = 1 << 0;
/// LIST: one record per owned well-known name.
pub const KDBUS_LIST_NAMES: u64 = 1 << 1;
/// LIST: include activators and activator-held names.
pub const KDBUS_LIST_ACTIVATORS: u64 = 1 << 2;
/// LIST: one record per queued name request.
pub const KDBUS_LIST_QUEUED: u64 = 1 << 3;

/// SEND: block until the reply arrives (requires `KDBUS_MSG_EXPECT_REPLY`).
pub const KDBUS_SEND_SYNC_REPLY: u64 = 1 << 0;

/// RECV: publish the next message without dequeuing it.
pub const KDBUS_RECV_PEEK: u64 = 1 << 0;
/// RECV: discard the next message.
pub const KDBUS_RECV_DROP: u64 = 1 << 1;
/// RECV: dequeue by priority, filtered by `kdbus_cmd_recv.priority`.
pub const KDBUS_RECV_USE_PRIORITY: u64 = 1 << 2;
/// RECV: first free the slice at `kdbus_cmd_recv.msg.offset`, as
/// `KDBUS_CMD_FREE` would (a kdbus-rs extension; flag negotiation reports
/// it).
pub const KDBUS_RECV_FREE: u64 = 1 << 3;
/// `kdbus_msg_info.return_flags`: some descriptors could not be installed.
pub const KDBUS_RECV_RETURN_INCOMPLETE_FDS: u64 = 1 << 0;
/// `kdbus_cmd_recv.return_flags`: `dropped_msgs` is non-zero.
pub const KDBUS_RECV_RETURN_DROPPED_MSGS: u64 = 1 << 1;

/// Message: method call expecting a reply.
pub const KDBUS_MSG_EXPECT_REPLY: u64 = 1 << 0;
/// Message: do not queue on an activator.
pub const KDBUS_MSG_NO_AUTO_START: u64 = 1 << 1;
/// Message: signal (requires a BLOOM_FILTER item).
pub const KDBUS_MSG_SIGNAL: u64 = 1 << 2;

/// MATCH_ADD: first remove all matches with the same cookie.
pub const KDBUS_MATCH_REPLACE: u64 = 1 << 0;

// ---------------------------------------------------------------------------
// Policy (§5.11) and payload types (§5.12)
// ---------------------------------------------------------------------------

/// Invalid policy access type (placeholder).
pub const _KDBUS_POLICY_ACCESS_NULL: u64 = 0;
/// Policy access record for a uid.
pub const KDBUS_POLICY_ACCESS_USER: u64 = 1;
/// Policy access record for a gid.
pub const KDBUS_POLICY_ACCESS_GROUP: u64 = 2;
/// Policy access record for everyone.
pub const KDBUS_POLICY_ACCESS_WORLD: u64 = 3;
/// Access level: may see the name.
pub const KDBUS_POLICY_SEE: u64 = 0;
/// Access level: may talk to the name (implies SEE).
pub const KDBUS_POLICY_TALK: u64 = 1;
/// Access level: may own the name (implies TALK).
pub const KDBUS_POLICY_OWN: u64 = 2;

/// Payload type of kernel-generated notifications.
pub const KDBUS_PAYLOAD_KERNEL: u64 = 0;
/// Payload type of D-Bus marshalled messages ("DBusDBus" read big-endian).
pub const KDBUS_PAYLOAD_DBUS: u64 = 0x4442_7573_4442_7573;

// ---------------------------------------------------------------------------
// Limits (§9)
// ---------------------------------------------------------------------------

/// Maximum `size` of any command struct including items (32 KiB).
pub const KDBUS_CMD_MAX_SIZE: u64 = 32768;
/// Maximum `kdbus_msg.size` on send, payload data not counted (8 KiB).
pub const KDBUS_MSG_MAX_SIZE: u64 = 8192;
/// Maximum number of items in one message.
pub const KDBUS_MSG_MAX_ITEMS: usize = 128;
/// Maximum number of PAYLOAD_MEMFD items in one message.
pub const KDBUS_MSG_MAX_MEMFD_ITEMS: usize = 16;
/// Maximum sum of PAYLOAD_VEC sizes in one message (2 MiB).
pub const KDBUS_MSG_MAX_PAYLOAD_VEC_SIZE: u64 = 2097152;
/// Maximum descriptors in one FDS item and in flight from one user to one receiver.
pub const KDBUS_CONN_MAX_FDS_PER_USER: usize = 16;
/// Maximum bloom filter size in bytes.
pub const KDBUS_BUS_BLOOM_MAX_SIZE: u64 = 4096;
/// Maximum length of a well-known name, without NUL.
pub const KDBUS_NAME_MAX_LEN: usize = 255;
/// Maximum length of a bus/endpoint name or connection description, without NUL.
pub const KDBUS_SYSNAME_MAX_LEN: usize = 63;
/// Maximum match entries per connection.
pub const KDBUS_MATCH_MAX: usize = 256;
/// Maximum messages queued on one receiver by one sending user.
pub const KDBUS_CONN_MAX_MSGS: usize = 256;
/// Maximum well-known names owned by one connection.
pub const KDBUS_CONN_MAX_NAMES: usize = 256;
/// Maximum outstanding method calls a connection waits on.
pub const KDBUS_CONN_MAX_REQUESTS_PENDING: usize = 128;
/// Maximum connections per user per domain.
pub const KDBUS_USER_MAX_CONN: usize = 1024;
/// Maximum buses per user per domain.
pub const KDBUS_USER_MAX_BUSES: usize = 16;

// ---------------------------------------------------------------------------
// Helper arithmetic (§5.14) -- not part of kdbus.h
// ---------------------------------------------------------------------------

/// Size of the item header (`offsetof(struct kdbus_item, data)`).
pub const KDBUS_ITEM_HEADER_SIZE: u64 = 16;

/// `KDBUS_ALIGN8(x)`: round up to a multiple of 8 (overflows near `u64::MAX`; see [`checked_align8`]).
pub const fn align8(x: u64) -> u64 {
    (x + 7) & !7
}

/// `KDBUS_ALIGN8(x)`, or `None` if the result does not fit in a `u64`.
pub const fn checked_align8(x: u64) -> Option<u64> {
    match x.checked_add(7) {
        Some(v) => Some(v & !7),
        None => None,
    }
}

/// `KDBUS_ITEM_SIZE(n)`: space an item with an `n`-byte payload occupies in a list, `ALIGN8(16 + n)`.
pub const fn item_size(payload_len: u64) -> u64 {
    align8(KDBUS_ITEM_HEADER_SIZE + payload_len)
}

/// Payload length of an item, `item.size - 16`, or `None` if `item.size < 16`.
pub const fn item_payload_size(item_size: u64) -> Option<u64> {
    item_size.checked_sub(KDBUS_ITEM_HEADER_SIZE)
}

// ---------------------------------------------------------------------------
// Compile-time layout checks (§4.15)
// ---------------------------------------------------------------------------

const _: () = {
    assert!(size_of::<KdbusCmd>() == 24);
    assert!(size_of::<KdbusCmdHello>() == 96);
    assert!(size_of::<KdbusCmdInfo>() == 56);
    assert!(size_of::<KdbusCmdList>() == 40);
    assert!(size_of::<KdbusCmdFree>() == 32);
    assert!(size_of::<KdbusCmdMatch>() == 32);
    assert!(size_of::<KdbusCmdSend>() == 56);
    assert!(size_of::<KdbusCmdRecv>() == 64);
    assert!(size_of::<KdbusMsgInfo>() == 24);
    assert!(size_of::<KdbusMsg>() == 64);
    assert!(size_of::<KdbusInfo>() == 24);
    assert!(size_of::<KdbusItem>() == 80);
    assert!(size_of::<KdbusItemHeader>() == 16);
    assert!(size_of::<KdbusItemPayload>() == 64);
    assert!(size_of::<KdbusVec>() == 16);
    assert!(size_of::<KdbusMemfd>() == 24);
    assert!(size_of::<KdbusBloomParameter>() == 16);
    assert!(size_of::<KdbusBloomFilter>() == 8);
    assert!(size_of::<KdbusName>() == 8);
    assert!(size_of::<KdbusCreds>() == 64);
    assert!(size_of::<KdbusPids>() == 24);
    assert!(size_of::<KdbusCaps>() == 8);
    assert!(size_of::<KdbusAudit>() == 8);
    assert!(size_of::<KdbusTimestamp>() == 24);
    assert!(size_of::<KdbusNotifyIdChange>() == 16);
    assert!(size_of::<KdbusNotifyNameChange>() == 32);
    assert!(size_of::<KdbusPolicyAccess>() == 24);
    assert!(core::mem::offset_of!(KdbusItem, payload) == KDBUS_ITEM_HEADER_SIZE as usize);
};
