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

use kernel::{
    alloc::KVec,
    fs::File,
    prelude::*,
    sync::{aref::ARef, Arc},
    time::{ClockSource, Monotonic, RealTime},
    uaccess::{UserPtr, UserSlice},
};

use crate::{
    item::{
        check_payload, get_u64, push_item, push_name_item, push_str_item, put_u64, SliceSink,
        UserBytes,
    },
    limits,
    metadata::Snapshot,
    names,
    pool::Pool,
    uapi::*,
};

/// Offsets in `struct kdbus_msg`.
pub(crate) mod off {
    pub(crate) const SIZE: usize = 0;
    pub(crate) const FLAGS: usize = 8;
    pub(crate) const PRIORITY: usize = 16;
    pub(crate) const DST_ID: usize = 24;
    pub(crate) const SRC_ID: usize = 32;
    pub(crate) const PAYLOAD_TYPE: usize = 40;
    pub(crate) const COOKIE: usize = 48;
    pub(crate) const TIMEOUT: usize = 56;
}

const HEADER: usize = 64;
const ITEM_HEADER: usize = 16;

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
    spill: KVec<Vector>,
}

impl Vectors {
    const fn new() -> Self {
        Self {
            inline: [const { None }; VECS_INLINE],
            spill: KVec::new(),
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
    buf: UserBytes<MSG_INLINE>,
    vecs: Vectors,
    /// Byte range of the DST_NAME string (without NUL) in `buf`.
    dst_name: Option<(usize, usize)>,
    /// Length of the inline area (§2.4).
    inline_size: usize,
    /// The files of the FDS item (pinned at SEND).
    files: KVec<ARef<File>>,
    /// Whether the message had an FDS item with at least one descriptor.
    has_fds: bool,
    /// The message's sequence number.
    pub(crate) seq: u64,
}

impl Msg {
    /// Reads and validates the message at `addr` (`message.md` §2.5).
    /// `next_seq` draws the sequence number (after rows 1-2).
    pub(crate) fn read(
        addr: u64,
        bloom_size: u64,
        sender_id: u64,
        sync: bool,
        next_seq: impl FnOnce() -> u64,
    ) -> Result<Msg> {
        // 1-4: alignment, size range, one copy, size re-check.
        if addr % 8 != 0 {
            return Err(EFAULT);
        }
        let addr = usize::try_from(addr).map_err(|_| EFAULT)?;
        let user = UserPtr::from_addr(addr);
        let size = UserSlice::new(user, 8).reader().read::<u64>()?;
        if !(HEADER as u64..=limits::MSG_MAX_SIZE).contains(&size) {
            return Err(EINVAL);
        }
        let seq = next_seq();
        let len = size as usize;
        let buf = UserBytes::read(user, len)?;
        if get_u64(&buf, off::SIZE) != size {
            return Err(EINVAL);
        }
        let flags = get_u64(&buf, off::FLAGS);
        // 5.
        if flags & !(KDBUS_MSG_EXPECT_REPLY | KDBUS_MSG_NO_AUTO_START | KDBUS_MSG_SIGNAL) != 0 {
            return Err(EINVAL);
        }
        // 6, 7: the item walk with the per-type checks.
        let mut pos = HEADER;
        while pos < len {
            if len - pos < ITEM_HEADER {
                return Err(EINVAL);
            }
            let isize = usize::try_from(get_u64(&buf, pos)).map_err(|_| EINVAL)?;
            if isize < ITEM_HEADER || isize > len - pos {
                return Err(EINVAL);
            }
            check_payload(get_u64(&buf, pos + 8), &buf[pos + ITEM_HEADER..pos + isize])?;
            pos += isize.next_multiple_of(8);
        }
        if pos != HEADER + (len - HEADER).next_multiple_of(8) {
            return Err(EINVAL);
        }
        // 8-13: the header.
        let expect_reply = flags & KDBUS_MSG_EXPECT_REPLY != 0;
        let signal = flags & KDBUS_MSG_SIGNAL != 0;
        let dst_id = get_u64(&buf, off::DST_ID);
        let timeout = get_u64(&buf, off::TIMEOUT);
        if get_u64(&buf, off::PAYLOAD_TYPE) == 0 {
            return Err(EINVAL);
        }
        if expect_reply {
            if timeout == 0 || get_u64(&buf, off::COOKIE) == 0 {
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
        let mut vecs = Vectors::new();
        let mut dst_name = None;
        let mut bloom = false;
        let mut fds_seen = false;
        let mut memfds = 0;
        let mut files = KVec::new();
        let mut count = 0;
        let mut total: u64 = 0;
        let mut inline: u64 = 0;
        for item in crate::item::Items::new(&buf, HEADER) {
            count += 1;
            if count > limits::MSG_MAX_ITEMS {
                return Err(E2BIG);
            }
            match item.ty {
                KDBUS_ITEM_PAYLOAD_VEC => {
                    let vsize = get_u64(item.payload, 0);
                    let address = get_u64(item.payload, 8);
                    total = total.checked_add(vsize).ok_or(EMSGSIZE)?;
                    if total > limits::MSG_MAX_PAYLOAD_VEC_SIZE {
                        return Err(EMSGSIZE);
                    }
                    if address != 0 && !crate::kext::access_ok(address, vsize) {
                        return Err(EFAULT);
                    }
                    let pos = if address == 0 { u64::MAX } else { inline };
                    inline += inline_advance(vsize, address != 0);
                    vecs.push(Vector {
                        address,
                        size: vsize,
                        pos,
                        memfd: None,
                    })?;
                }
                KDBUS_ITEM_PAYLOAD_MEMFD => {
                    // 17-22.
                    let start = get_u64(item.payload, 0);
                    let msize = get_u64(item.payload, 8);
                    let fd = i32::from_ne_bytes([
                        item.payload[16],
                        item.payload[17],
                        item.payload[18],
                        item.payload[19],
                    ]);
                    let end = start.checked_add(msize).ok_or(EMSGSIZE)?;
                    memfds += 1;
                    if memfds > limits::MSG_MAX_MEMFD_ITEMS {
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
                    vecs.push(Vector {
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
                    let n = item.payload.len() / 4;
                    if n > limits::CONN_MAX_FDS_PER_USER {
                        return Err(EMFILE);
                    }
                    files.reserve(n, GFP_KERNEL)?;
                    for c in item.payload.chunks_exact(4) {
                        let fd = i32::from_ne_bytes([c[0], c[1], c[2], c[3]]);
                        let file = pin_file(fd)?;
                        // Cannot fail: reserved above.
                        let _ = files.push_within_capacity(file);
                    }
                }
                KDBUS_ITEM_BLOOM_FILTER => {
                    if bloom {
                        return Err(EEXIST);
                    }
                    bloom = true;
                    let bits = item.payload.len() - 8;
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
        if signal != bloom {
            return Err(EBADMSG);
        }
        let src_id = get_u64(&buf, off::SRC_ID);
        if src_id != 0 && src_id != sender_id {
            return Err(EINVAL);
        }
        let has_fds = !files.is_empty();
        Ok(Msg {
            buf,
            vecs,
            files,
            has_fds,
            dst_name,
            inline_size: usize::try_from(inline).map_err(|_| EMSGSIZE)?,
            seq,
        })
    }

    /// The `dst_id` of the message at `addr`, read alone (for the quota
    /// check before the message is read); any error leaves the verdict to
    /// [`Msg::read`].
    pub(crate) fn peek_dst_id(addr: u64) -> Result<u64> {
        if addr % 8 != 0 {
            return Err(EFAULT);
        }
        let addr = usize::try_from(addr)
            .ok()
            .and_then(|a| a.checked_add(off::DST_ID))
            .ok_or(EFAULT)?;
        UserSlice::new(UserPtr::from_addr(addr), 8)
            .reader()
            .read::<u64>()
    }

    pub(crate) fn get(&self, off: usize) -> u64 {
        get_u64(&self.buf, off)
    }

    pub(crate) fn flags(&self) -> u64 {
        self.get(off::FLAGS)
    }

    pub(crate) fn dst_id(&self) -> u64 {
        self.get(off::DST_ID)
    }

    pub(crate) fn cookie(&self) -> u64 {
        self.get(off::COOKIE)
    }

    pub(crate) fn priority(&self) -> i64 {
        self.get(off::PRIORITY) as i64
    }

    /// The DST_NAME string, if any.
    pub(crate) fn dst_name(&self) -> Option<&[u8]> {
        self.dst_name.map(|(a, b)| &self.buf[a..b])
    }

    /// The layout of this message in a receiver's slice with `meta_len`
    /// bytes of metadata.
    fn layout(&self, meta_len: usize) -> Layout {
        let memfds = self.vecs.iter().filter(|v| v.memfd.is_some()).count();
        Layout::new(
            self.dst_name.map(|(a, b)| b - a),
            self.vecs.len() - memfds,
            memfds,
            self.has_fds.then_some(self.files.len()),
            meta_len,
            self.inline_size,
        )
    }

    /// Size of the header and kernel-built items in a receiver's slice.
    pub(crate) fn header_items(&self) -> usize {
        self.layout(0).header_items
    }

    /// Space of the FDS item in a receiver's slice (0 without descriptors).
    fn fds_item_size(&self) -> usize {
        if self.has_fds {
            (ITEM_HEADER + 4 * self.files.len()).next_multiple_of(8)
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
    pub(crate) fn memfds(&self) -> Result<KVec<(ARef<File>, usize)>> {
        let mut out = KVec::new();
        let mut at = HEADER
            + self
                .dst_name
                .map_or(0, |(a, b)| (ITEM_HEADER + b - a + 1).next_multiple_of(8));
        for v in self.vecs.iter() {
            match &v.memfd {
                Some((file, _)) => {
                    out.push((file.clone(), at + ITEM_HEADER + 16), GFP_KERNEL)?;
                    at += 40;
                }
                None => at += 32,
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
        self.layout(meta_len).slice_size
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
        head.get_mut(..HEADER)
            .ok_or(EINVAL)?
            .copy_from_slice(&self.buf[..HEADER]);
        put_u64(head, off::SRC_ID, src_id);
        put_u64(head, off::SIZE, header_items as u64);
        let mut out = SliceSink::new(head, HEADER);
        if let Some(name) = self.dst_name() {
            push_str_item(&mut out, KDBUS_ITEM_DST_NAME, name)?;
        }
        for v in self.vecs.iter() {
            if let Some((_, start)) = &v.memfd {
                // `fd` is filled in at RECV; until then it reads -1.
                let mut p = [0u8; 24];
                p[..8].copy_from_slice(&start.to_ne_bytes());
                p[8..16].copy_from_slice(&v.size.to_ne_bytes());
                p[16..20].copy_from_slice(&(-1i32).to_ne_bytes());
                push_item(&mut out, KDBUS_ITEM_PAYLOAD_MEMFD, &p)?;
                continue;
            }
            let voff = if v.pos == u64::MAX {
                u64::MAX
            } else {
                payload_off as u64 + v.pos
            };
            let mut p = [0u8; 16];
            p[..8].copy_from_slice(&v.size.to_ne_bytes());
            p[8..].copy_from_slice(&voff.to_ne_bytes());
            push_item(&mut out, KDBUS_ITEM_PAYLOAD_OFF, &p)?;
        }
        if self.has_fds {
            // Numbers are filled in at RECV; until then they read -1.
            let none = [0xffu8; 4 * limits::CONN_MAX_FDS_PER_USER];
            let fds = none.get(..4 * self.files.len()).ok_or(EMFILE)?;
            push_item(&mut out, KDBUS_ITEM_FDS, fds)?;
        }
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
        let name = name_len.map_or(0, |n| (ITEM_HEADER + n + 1).next_multiple_of(8));
        let fds = fds.map_or(0, |n| (ITEM_HEADER + 4 * n).next_multiple_of(8));
        let header_items = HEADER + name + 32 * vecs + 40 * memfds + fds;
        let payload_off = header_items + meta_len;
        Self {
            header_items,
            payload_off,
            slice_size: (payload_off + inline).next_multiple_of(8),
        }
    }
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
    mask: u64,
    names: KVec<(KVec<u8>, u64)>,
    description: Option<KVec<u8>>,
    /// seqnum, CLOCK_MONOTONIC and CLOCK_REALTIME in ns.
    timestamp: Option<[u64; 3]>,
}

impl MsgMeta {
    /// No metadata.
    pub(crate) const fn empty() -> Self {
        Self {
            snapshot: None,
            mask: 0,
            names: KVec::new(),
            description: None,
            timestamp: None,
        }
    }

    /// The metadata `mask` selects, of a sender with `snapshot` (taken at
    /// SEND; `None` for a sender with faked metadata), `names` (with the
    /// flags it holds them with) and `description`, for message `seq`.
    pub(crate) fn new(
        mask: u64,
        snapshot: Option<Arc<Snapshot>>,
        names: KVec<(KVec<u8>, u64)>,
        description: Option<&[u8]>,
        seq: u64,
    ) -> Result<Self> {
        let own = if mask & KDBUS_ATTACH_NAMES != 0 {
            names
        } else {
            KVec::new()
        };
        let description = match description {
            Some(d) if mask & KDBUS_ATTACH_CONN_DESCRIPTION != 0 => {
                let mut v = KVec::with_capacity(d.len(), GFP_KERNEL)?;
                v.extend_from_slice(d, GFP_KERNEL)?;
                Some(v)
            }
            _ => None,
        };
        let timestamp = (mask & KDBUS_ATTACH_TIMESTAMP != 0).then(|| {
            [
                seq,
                <Monotonic as ClockSource>::ktime_get() as u64,
                <RealTime as ClockSource>::ktime_get() as u64,
            ]
        });
        Ok(Self {
            snapshot,
            mask,
            names: own,
            description,
            timestamp,
        })
    }

    /// Appends the items, translated for the calling task.
    pub(crate) fn write(&self, out: &mut KVec<u8>) -> Result {
        if let Some(s) = &self.snapshot {
            s.write_items(self.mask, out)?;
        }
        for (n, f) in self.names.iter() {
            push_name_item(out, *f, n)?;
        }
        if let Some(d) = &self.description {
            push_str_item(out, KDBUS_ITEM_CONN_DESCRIPTION, d)?;
        }
        if let Some(t) = &self.timestamp {
            let mut p = [0u8; 24];
            for (i, v) in t.iter().enumerate() {
                p[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
            }
            push_item(out, KDBUS_ITEM_TIMESTAMP, &p)?;
        }
        Ok(())
    }

    /// The bytes [`MsgMeta::write`] produces (the same in every context).
    pub(crate) fn len(&self) -> Result<usize> {
        let mut v = KVec::new();
        self.write(&mut v)?;
        Ok(v.len())
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
