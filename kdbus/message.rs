// SPDX-License-Identifier: GPL-2.0

//! Messages: the `kdbus_msg` a sender hands to SEND, validated in the order
//! of `message.md` §2.5, and how a message is laid out in a receiver's pool
//! (§2.4, §5.2, §5.3).
//!
//! Only the header and items pass through a kernel copy (at most 8 KiB);
//! the inline payload is copied once, from the sender's memory straight into
//! the receiver's pool, by [`Msg::write_into`].
//!
//! Memfds are not copied: the sealed file itself is passed and installed
//! in the receiver at RECV.

use crate::kext::prelude::*;
use kernel::{
    alloc::KVec,
    fs::File,
    sync::{aref::ARef, Arc, SetOnce},
    time::{ClockSource, Monotonic, RealTime},
    uaccess::{UserPtr, UserSlice},
};

use crate::{
    item::{
        push_item, push_name_item, push_str_item, push_struct_item, ItemSink, SliceSink, UserBytes,
    },
    kext::LeanVec,
    metadata::{Snapshot, View, PROCESS_META},
    names,
    pool::Pool,
    uapi::*,
    wire::{self, ITEM_HEADER, MSG_HEADER as HEADER},
};

/// One PAYLOAD_VEC or PAYLOAD_MEMFD of a message, in item order.
struct Vector {
    /// Sender address; 0 for a padding vector or a memfd.
    address: u64,
    size: u64,
    /// Position of its bytes in the inline area (padding, memfd: `~0`).
    pos: u64,
    /// A memfd: the sealed file and the start of its range.
    memfd: Option<(ARef<File>, u64)>,
}

/// Bytes of a message (header and items) kept inline: a message of up to
/// this size costs no allocation to read.
const MSG_INLINE: usize = 512;

/// The vectors of a message kept inline: a message with up to this many
/// PAYLOAD_VEC and PAYLOAD_MEMFD items allocates nothing for them.
const VECS_INLINE: usize = 4;

/// The vectors of a message, in item order: the first [`VECS_INLINE`]
/// inline, the rest in a `KVec`.
struct Vectors {
    inline: [Option<Vector>; VECS_INLINE],
    spill: LeanVec<Vector>,
}

impl Vectors {
    const fn new() -> Self {
        Self {
            inline: [const { None }; VECS_INLINE],
            spill: LeanVec::new(),
        }
    }

    fn push(&mut self, v: Vector) -> Result {
        match self.inline.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) if self.spill.is_empty() => {
                *slot = Some(v);
                Ok(())
            }
            _ => Ok(self.spill.push(v, GFP_KERNEL)?),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Vector> {
        Iterator::chain(self.inline.iter().flatten(), self.spill.iter())
    }

    fn len(&self) -> usize {
        self.iter().count()
    }
}

/// Bytes of a received message's header, items and metadata area staged on
/// the stack before they are written into the pool.
const HEAD_INLINE: usize = 512;

/// A validated message, as read from the sender.
pub(crate) struct Msg {
    /// The header, as read.
    head: KdbusMsg,
    /// Where the sender's message is, and its size.
    user: UserPtr,
    size: usize,
    /// The header and items, as read.
    buf: UserBytes<MSG_INLINE>,
    vecs: Vectors,
    /// Byte range of the DST_NAME string (without NUL) in `buf`.
    dst_name: Option<(usize, usize)>,
    /// Byte range of the BLOOM_FILTER payload in `buf`.
    bloom: Option<(usize, usize)>,
    /// Length of the inline area (§2.4).
    inline_size: usize,
    /// The files of the FDS item (pinned at SEND).
    files: LeanVec<ARef<File>>,
    /// Whether the message had an FDS item with at least one descriptor.
    has_fds: bool,
    /// The message's sequence number.
    pub(crate) seq: u64,
    /// Its layout in a receiver's slice without metadata, computed once.
    layout: Layout,
    /// The sending task's process metadata, collected as receivers need
    /// it (`names-match-policy-metadata.md` §4.2).
    process: SetOnce<Arc<Snapshot>>,
}

impl Msg {
    /// The sending task's process metadata with the items in `what`
    /// collected (at most once per message, §4.2). A collection failure
    /// fails a non-signal (`EFAULT`, `EINVAL`, `ENOMEM`); a signal goes out
    /// with what could be collected.
    pub(crate) fn process_meta(&self, what: u64) -> Result<Arc<Snapshot>> {
        let snapshot = match self.process.as_ref() {
            Some(s) => s.clone(),
            None => {
                let s = Arc::new(Snapshot::lazy(), GFP_KERNEL)?;
                self.process.populate(s.clone());
                s
            }
        };
        let strict = self.head.flags & KDBUS_MSG_SIGNAL == 0;
        snapshot.collect(what, strict)?;
        Ok(snapshot)
    }

    /// A message not read yet: [`Msg::read_head`], then [`Msg::read`].
    /// The message is read in place (it is large, with its inline buffers),
    /// so it is never moved.
    pub(crate) fn new() -> Msg {
        Msg {
            head: KdbusMsg::default(),
            user: UserPtr::from_addr(0),
            size: 0,
            buf: UserBytes::new(),
            vecs: Vectors::new(),
            files: LeanVec::new(),
            has_fds: false,
            dst_name: None,
            bloom: None,
            inline_size: 0,
            seq: 0,
            layout: Layout::new(None, 0, 0, None, 0, 0),
            process: SetOnce::new(),
        }
    }

    /// Reads the header of the message at `addr` (`message.md` §2.5 rows
    /// 1-4 for the header: alignment, size range, one copy) and returns it,
    /// not validated yet: SEND routes its quota check by it before
    /// [`Msg::read`] reads the items.
    pub(crate) fn read_head(&mut self, addr: u64) -> Result<KdbusMsg> {
        if addr % 8 != 0 {
            return Err(EFAULT);
        }
        let addr = usize::try_from(addr).map_err(|_| EFAULT)?;
        self.user = UserPtr::from_addr(addr);
        self.size = self.buf.read_head(self.user, HEADER, |size| {
            if (HEADER as u64..=KDBUS_MSG_MAX_SIZE).contains(&size) {
                Ok(())
            } else {
                Err(EINVAL)
            }
        })?;
        self.head = wire::read(&self.buf).ok_or(EINVAL)?;
        Ok(self.head)
    }

    /// Reads the rest of the message whose header [`Msg::read_head`] read
    /// and validates it all (`message.md` §2.5). `next_seq` draws the
    /// sequence number (after rows 1-2).
    pub(crate) fn read(
        &mut self,
        bloom_size: u64,
        sender_id: u64,
        sync: bool,
        next_seq: impl FnOnce() -> u64,
    ) -> Result {
        self.seq = next_seq();
        // 3: the items after the header, so the whole message was copied
        // once; 4: the size cannot have changed, it was read in that copy.
        self.buf.read_rest(self.user, self.size)?;
        let buf = &self.buf;
        let head = self.head;
        let flags = head.flags;
        // 5.
        if flags & !(KDBUS_MSG_EXPECT_REPLY | KDBUS_MSG_NO_AUTO_START | KDBUS_MSG_SIGNAL) != 0 {
            return Err(EINVAL);
        }
        // 6, 7: the item walk with the per-type checks.
        crate::item::walk_items(buf, HEADER, |_| Ok(()))?;
        // 8-13: the header.
        let expect_reply = flags & KDBUS_MSG_EXPECT_REPLY != 0;
        let signal = flags & KDBUS_MSG_SIGNAL != 0;
        let dst_id = head.dst_id;
        let timeout = head.timeout_ns;
        if head.payload_type == 0 {
            return Err(EINVAL);
        }
        if expect_reply {
            if timeout == 0 || head.cookie == 0 {
                return Err(EINVAL);
            }
            if dst_id == KDBUS_DST_ID_BROADCAST {
                return Err(ENOTUNIQ);
            }
            if signal {
                return Err(EINVAL);
            }
        } else {
            if sync {
                return Err(EINVAL);
            }
            if timeout != 0 && signal {
                return Err(EINVAL);
            }
        }
        // 14-33: the items, in order.
        let mut dst_name = None;
        let mut bloom = None;
        let mut fds_seen = false;
        let mut memfds = 0;
        let mut count = 0;
        let mut total: u64 = 0;
        let mut inline: u64 = 0;
        for item in crate::item::Items::new(buf, HEADER) {
            count += 1;
            if count > KDBUS_MSG_MAX_ITEMS {
                return Err(E2BIG);
            }
            match item.ty {
                KDBUS_ITEM_PAYLOAD_VEC => {
                    let KdbusVec {
                        size: vsize,
                        address,
                    } = item.view()?;
                    total = total.checked_add(vsize).ok_or(EMSGSIZE)?;
                    if total > KDBUS_MSG_MAX_PAYLOAD_VEC_SIZE {
                        return Err(EMSGSIZE);
                    }
                    if address != 0 && !crate::kext::access_ok(address, vsize) {
                        return Err(EFAULT);
                    }
                    let pos = if address == 0 { u64::MAX } else { inline };
                    inline += inline_advance(vsize, address != 0);
                    self.vecs.push(Vector {
                        address,
                        size: vsize,
                        pos,
                        memfd: None,
                    })?;
                }
                KDBUS_ITEM_PAYLOAD_MEMFD => {
                    // 17-22.
                    let KdbusMemfd {
                        start,
                        size: msize,
                        fd,
                        ..
                    } = item.view()?;
                    let end = start.checked_add(msize).ok_or(EMSGSIZE)?;
                    memfds += 1;
                    if memfds > KDBUS_MSG_MAX_MEMFD_ITEMS {
                        return Err(E2BIG);
                    }
                    let fd = u32::try_from(fd).map_err(|_| EBADF)?;
                    let file = crate::kext::fget(fd)?;
                    let (seals, fsize) = crate::kext::memfd_info(&file)?;
                    let need = crate::kext::SEALS_IMMUTABLE;
                    if seals & need != need {
                        return Err(ETXTBSY);
                    }
                    if end > fsize {
                        return Err(EBADF);
                    }
                    inline += inline_advance(msize, false);
                    self.vecs.push(Vector {
                        address: 0,
                        size: msize,
                        pos: u64::MAX,
                        memfd: Some((file, start)),
                    })?;
                }
                KDBUS_ITEM_FDS => {
                    // 23-27.
                    if fds_seen {
                        return Err(EEXIST);
                    }
                    fds_seen = true;
                    if dst_id == KDBUS_DST_ID_BROADCAST {
                        return Err(ENOTUNIQ);
                    }
                    let n = item.payload.len() / size_of::<i32>();
                    if n > KDBUS_CONN_MAX_FDS_PER_USER {
                        return Err(EMFILE);
                    }
                    self.files.reserve(n, GFP_KERNEL)?;
                    for c in item.payload.chunks_exact(size_of::<i32>()) {
                        let file = pin_file(wire::read(c).ok_or(EINVAL)?)?;
                        // Cannot fail: reserved above.
                        let _ = self.files.push_within_capacity(file);
                    }
                }
                KDBUS_ITEM_BLOOM_FILTER => {
                    if bloom.is_some() {
                        return Err(EEXIST);
                    }
                    let start = item.offset + ITEM_HEADER;
                    bloom = Some((start, start + item.payload.len()));
                    let bits = item.payload.len() - KdbusBloomFilter::DATA_OFFSET;
                    if bits % 8 != 0 {
                        return Err(EFAULT);
                    }
                    if bits as u64 != bloom_size {
                        return Err(EDOM);
                    }
                }
                KDBUS_ITEM_DST_NAME => {
                    if dst_name.is_some() {
                        return Err(EEXIST);
                    }
                    if !names::is_valid(item.str(), false) {
                        return Err(EINVAL);
                    }
                    let start = item.offset + ITEM_HEADER;
                    dst_name = Some((start, start + item.str().len()));
                }
                _ => return Err(EINVAL),
            }
        }
        // 34-39.
        if dst_id == KDBUS_DST_ID_NAME && dst_name.is_none() {
            return Err(EDESTADDRREQ);
        }
        if dst_id == KDBUS_DST_ID_BROADCAST {
            if dst_name.is_some() || !signal {
                return Err(EBADMSG);
            }
            if timeout != 0 {
                return Err(ENOTUNIQ);
            }
        }
        if signal != bloom.is_some() {
            return Err(EBADMSG);
        }
        if head.src_id != 0 && head.src_id != sender_id {
            return Err(EINVAL);
        }
        self.has_fds = !self.files.is_empty();
        self.inline_size = usize::try_from(inline).map_err(|_| EMSGSIZE)?;
        let memfds = self.vecs.iter().filter(|v| v.memfd.is_some()).count();
        self.layout = Layout::new(
            dst_name.map(|(a, b)| b - a),
            self.vecs.len() - memfds,
            memfds,
            self.has_fds.then_some(self.files.len()),
            0,
            self.inline_size,
        );
        self.dst_name = dst_name;
        self.bloom = bloom;
        Ok(())
    }

    /// The header, as read.
    pub(crate) fn head(&self) -> &KdbusMsg {
        &self.head
    }

    /// The BLOOM_FILTER of a signal: its generation and bit field.
    pub(crate) fn bloom(&self) -> Option<(u64, &[u8])> {
        let p = self.buf.get(self.bloom?.0..self.bloom?.1)?;
        let generation = wire::read::<KdbusBloomFilter>(p)?.generation;
        Some((generation, p.get(KdbusBloomFilter::DATA_OFFSET..)?))
    }

    /// The DST_NAME string, if any.
    pub(crate) fn dst_name(&self) -> Option<&[u8]> {
        self.dst_name.map(|(a, b)| &self.buf[a..b])
    }

    /// Size of the header and kernel-built items in a receiver's slice.
    pub(crate) fn header_items(&self) -> usize {
        self.layout.header_items
    }

    /// Space of the FDS item in a receiver's slice (0 without descriptors).
    fn fds_item_size(&self) -> usize {
        if self.has_fds {
            (ITEM_HEADER + size_of::<i32>() * self.files.len()).next_multiple_of(8)
        } else {
            0
        }
    }

    /// Offset of the `fds` array in a receiver's slice, if any.
    pub(crate) fn fds_off(&self) -> Option<usize> {
        self.has_fds
            .then(|| self.header_items() - self.fds_item_size() + ITEM_HEADER)
    }

    /// The memfds, with the offset of each one's `fd` field in a slice.
    pub(crate) fn memfds(&self) -> Result<LeanVec<(ARef<File>, usize)>> {
        let mut out = LeanVec::new();
        let mut at = HEADER + self.dst_name.map_or(0, |(a, b)| string_item_size(b - a));
        for v in self.vecs.iter() {
            match &v.memfd {
                Some((file, _)) => {
                    let fd = ITEM_HEADER + core::mem::offset_of!(KdbusMemfd, fd);
                    out.push((file.clone(), at + fd), GFP_KERNEL)?;
                    at += MEMFD_ITEM;
                }
                None => at += VEC_ITEM,
            }
        }
        Ok(out)
    }

    /// The pinned files of the FDS item.
    pub(crate) fn files(&self) -> &[ARef<File>] {
        &self.files
    }

    /// The slice size for a receiver with `meta_len` bytes of metadata.
    pub(crate) fn slice_size(&self, meta_len: usize) -> usize {
        (self.layout.payload_off + meta_len + self.inline_size).next_multiple_of(8)
    }

    /// Writes the message into the slice at `off` of `pool` (allocated by
    /// the caller, `meta_len` bytes reserved for metadata): header with
    /// `src_id`, DST_NAME, PAYLOAD_OFF items, zeroed metadata area, the
    /// inline payload copied once from the sender's memory, zeroed tail.
    pub(crate) fn write_into(
        &self,
        pool: &Pool,
        off: usize,
        src_id: u64,
        meta_len: usize,
    ) -> Result {
        let header_items = self.header_items();
        let payload_off = header_items + meta_len;
        // The header, items and metadata area are staged in one buffer (on
        // the stack for a small message) and written with one pool write;
        // the metadata area stays zero until RECV fills it.
        let mut stack = [0u8; HEAD_INLINE];
        let mut heap = KVec::new();
        let head: &mut [u8] = if payload_off <= HEAD_INLINE {
            &mut stack[..payload_off]
        } else {
            heap.resize(payload_off, 0, GFP_KERNEL)?;
            &mut heap
        };
        let mut out = SliceSink::new(head, 0);
        let msg = KdbusMsg {
            size: header_items as u64,
            src_id,
            ..self.head
        };
        out.put(wire::bytes(&msg))?;
        if let Some(name) = self.dst_name() {
            push_str_item(&mut out, KDBUS_ITEM_DST_NAME, name)?;
        }
        for v in self.vecs.iter() {
            if let Some((_, start)) = &v.memfd {
                // `fd` is filled in at RECV; until then it reads -1.
                let memfd = KdbusMemfd {
                    start: *start,
                    size: v.size,
                    fd: -1,
                    __pad: 0,
                };
                push_struct_item(&mut out, KDBUS_ITEM_PAYLOAD_MEMFD, &memfd)?;
                continue;
            }
            let offset = if v.pos == u64::MAX {
                u64::MAX
            } else {
                payload_off as u64 + v.pos
            };
            let vec = KdbusVec {
                size: v.size,
                address: offset,
            };
            push_struct_item(&mut out, KDBUS_ITEM_PAYLOAD_OFF, &vec)?;
        }
        if self.has_fds {
            // Numbers are filled in at RECV; until then they read -1.
            let none = [-1i32; KDBUS_CONN_MAX_FDS_PER_USER];
            let fds = none.get(..self.files.len()).ok_or(EMFILE)?;
            push_item(&mut out, KDBUS_ITEM_FDS, wire::bytes(fds))?;
        }
        let mut pool = pool.pages();
        pool.write(off, head)?;
        // The inline payload: one copy per vector, sender to pool.
        let mut at = payload_off;
        for v in self.vecs.iter() {
            let n = usize::try_from(v.size).map_err(|_| EMSGSIZE)?;
            if v.address == 0 {
                pool.write(off + at, &[0u8; 8][..n % 8])?;
                at += n % 8;
            } else {
                let addr = usize::try_from(v.address).map_err(|_| EFAULT)?;
                let mut reader = UserSlice::new(UserPtr::from_addr(addr), n).reader();
                pool.write_user(off + at, &mut reader, n)?;
                at += n;
            }
        }
        let end = self.slice_size(meta_len);
        if end > at {
            pool.write(off + at, &[0u8; 8][..end - at])?;
        }
        Ok(())
    }
}

/// Where things go in a receiver's slice (`message.md` §5.2, §5.3).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Header and kernel-built items: `kdbus_msg.size` without metadata.
    pub(crate) header_items: usize,
    /// The first inline payload byte (after the reserved metadata).
    pub(crate) payload_off: usize,
    /// The slice size, reported as `msg_size`.
    pub(crate) slice_size: usize,
}

impl Layout {
    /// A message with a DST_NAME of `name_len` bytes (if any), `vecs`
    /// PAYLOAD_VECs (padding included), `memfds` PAYLOAD_MEMFDs, an FDS item
    /// of `fds` descriptors (if any and non-empty), `meta_len` bytes of
    /// metadata and an inline stream of `inline` bytes.
    pub(crate) fn new(
        name_len: Option<usize>,
        vecs: usize,
        memfds: usize,
        fds: Option<usize>,
        meta_len: usize,
        inline: usize,
    ) -> Self {
        let name = name_len.map_or(0, string_item_size);
        let fds = fds.map_or(0, |n| {
            (ITEM_HEADER + size_of::<i32>() * n).next_multiple_of(8)
        });
        let header_items = HEADER + name + VEC_ITEM * vecs + MEMFD_ITEM * memfds + fds;
        let payload_off = header_items + meta_len;
        Self {
            header_items,
            payload_off,
            slice_size: (payload_off + inline).next_multiple_of(8),
        }
    }
}

/// Bytes of a PAYLOAD_OFF item in a receiver's slice.
const VEC_ITEM: usize = ITEM_HEADER + size_of::<KdbusVec>();

/// Bytes of a PAYLOAD_MEMFD item in a receiver's slice.
const MEMFD_ITEM: usize = ITEM_HEADER + size_of::<KdbusMemfd>();

/// Bytes of a string item of `len` characters (NUL and padding included).
const fn string_item_size(len: usize) -> usize {
    (ITEM_HEADER + len + 1).next_multiple_of(8)
}

/// How far a payload element advances the inline stream (§2.4): all its
/// bytes for a real vector, `size % 8` filler for a padding vector or a
/// memfd.
pub(crate) const fn inline_advance(size: u64, inline_bytes: bool) -> u64 {
    if inline_bytes {
        size
    } else {
        size % 8
    }
}

/// Takes a reference to the file of `fd` for an FDS item: `EBADF` if it is
/// not open, `EOPNOTSUPP` for kdbus handles, `AF_UNIX` sockets and io_uring
/// instances (each could form a reference cycle through a queue: an io_uring
/// holds the files registered in it, as `SCM_RIGHTS` refuses it too);
/// `O_PATH` files are fine.
fn pin_file(fd: i32) -> Result<ARef<File>> {
    let fd = u32::try_from(fd).map_err(|_| EBADF)?;
    let file = crate::kext::fget_raw(fd)?;
    if crate::handle::is_kdbus_file(&file)
        || crate::kext::is_unix_socket(&file)
        || crate::kext::is_io_uring(&file)
    {
        return Err(EOPNOTSUPP);
    }
    Ok(file)
}

/// Metadata of one message for one receiver, written into the slice at
/// RECV in the receiver's context (`message.md` §5.4).
pub(crate) struct MsgMeta {
    snapshot: Option<Arc<Snapshot>>,
    /// The items selected for the receiver that existed at enqueue.
    mask: u64,
    names: LeanVec<(KVec<u8>, u64)>,
    description: Option<KVec<u8>>,
    /// seqnum, CLOCK_MONOTONIC and CLOCK_REALTIME in ns.
    timestamp: Option<KdbusTimestamp>,
    /// The bytes reserved for the items: what any reader gets at most.
    reserved: usize,
}

impl MsgMeta {
    /// No metadata.
    pub(crate) const fn empty() -> Self {
        Self {
            snapshot: None,
            mask: 0,
            names: LeanVec::new(),
            description: None,
            timestamp: None,
            reserved: 0,
        }
    }

    /// The metadata `mask` selects, of a sender with `snapshot` (its
    /// process items collected at SEND; `None` for a sender with faked
    /// metadata), `names` (with the flags it holds them with) and
    /// `description`, for message `seq`. Process items not collected now
    /// stay absent for this receiver even if a later one collects them.
    pub(crate) fn new(
        mask: u64,
        snapshot: Option<Arc<Snapshot>>,
        names: LeanVec<(KVec<u8>, u64)>,
        description: Option<&[u8]>,
        seq: u64,
    ) -> Result<Self> {
        let collected = snapshot.as_ref().map_or(0, |s| s.available());
        let mask = mask & (collected | !PROCESS_META);
        let own = if mask & KDBUS_ATTACH_NAMES != 0 {
            names
        } else {
            LeanVec::new()
        };
        let description = match description {
            Some(d) if mask & KDBUS_ATTACH_CONN_DESCRIPTION != 0 => {
                let v = crate::copy_bytes(d)?;
                Some(v)
            }
            _ => None,
        };
        let timestamp = (mask & KDBUS_ATTACH_TIMESTAMP != 0).then(|| KdbusTimestamp {
            seqnum: seq,
            monotonic_ns: <Monotonic as ClockSource>::ktime_get() as u64,
            realtime_ns: <RealTime as ClockSource>::ktime_get() as u64,
        });
        let mut meta = Self {
            snapshot,
            mask,
            names: own,
            description,
            timestamp,
            reserved: 0,
        };
        if mask != 0 {
            let mut v = KVec::new();
            meta.write_as(&mut v, View::Estimate)?;
            meta.reserved = v.len();
        }
        Ok(meta)
    }

    /// Appends the items, translated for the calling task (never more than
    /// [`MsgMeta::len`] bytes).
    pub(crate) fn write(&self, out: &mut KVec<u8>) -> Result {
        self.write_as(out, View::Reader)
    }

    fn write_as(&self, out: &mut KVec<u8>, view: View) -> Result {
        if let Some(s) = &self.snapshot {
            s.write_items(self.mask, out, view)?;
        }
        for (n, f) in self.names.iter() {
            push_name_item(out, *f, n)?;
        }
        if let Some(d) = &self.description {
            push_str_item(out, KDBUS_ITEM_CONN_DESCRIPTION, d)?;
        }
        if let Some(t) = &self.timestamp {
            push_struct_item(out, KDBUS_ITEM_TIMESTAMP, t)?;
        }
        Ok(())
    }

    /// The bytes reserved for the items in the slice: what
    /// [`MsgMeta::write`] produces at most, for any reader.
    pub(crate) fn len(&self) -> Result<usize> {
        Ok(self.reserved)
    }

    /// Whether no item can be written.
    pub(crate) fn is_empty(&self) -> bool {
        self.reserved == 0
    }
}

#[kunit_tests(kdbus_message)]
mod tests {
    use super::*;

    #[test]
    fn worked_examples_of_the_spec() {
        // `message.md` §5.3: one 5-byte vector, no metadata.
        let l = Layout::new(None, 1, 0, None, 0, 5);
        assert_eq!(l.header_items, 96);
        assert_eq!(l.payload_off, 96);
        assert_eq!(l.slice_size, 104);
        // The same with a TIMESTAMP item (16 + 24 bytes).
        let l = Layout::new(None, 1, 0, None, 40, 5);
        assert_eq!(l.header_items, 96);
        assert_eq!(l.payload_off, 136);
        assert_eq!(l.slice_size, 144);
    }

    #[test]
    fn items_are_padded_to_eight() {
        // DST_NAME "a.b": 16 + 3 + 1 = 20 -> 24; 3 fds: 16 + 12 -> 32.
        let l = Layout::new(Some(3), 0, 0, Some(3), 0, 0);
        assert_eq!(l.header_items, 64 + 24 + 32);
        // A memfd item is 40 bytes, a vector 32.
        let l = Layout::new(None, 2, 1, None, 0, 0);
        assert_eq!(l.header_items, 64 + 64 + 40);
        assert_eq!(l.slice_size, 168);
        // An empty slice tail is rounded up.
        assert_eq!(Layout::new(None, 1, 0, None, 0, 1).slice_size, 104);
    }

    #[test]
    fn inline_stream_positions() {
        // "ab", padding of 6, "cdefgh": the second vector starts 8-aligned.
        let mut pos = 0;
        pos += inline_advance(2, true);
        pos += inline_advance(6, false);
        assert_eq!(pos, 8);
        // A 13-byte memfd leaves 5 filler bytes, a 16-byte one none.
        assert_eq!(inline_advance(13, false), 5);
        assert_eq!(inline_advance(16, false), 0);
        assert_eq!(inline_advance(13, true), 13);
    }
}
