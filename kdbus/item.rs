// SPDX-License-Identifier: GPL-2.0

//! Items and the generic command protocol (`abi.md` §6, §7); the command
//! argument itself is the child module [`args`].
//!
//! Every one of the 16 commands goes through [`Args::parse`]: alignment and
//! size checks, one copy of the whole argument into the kernel, flag checks,
//! the item walk with per-type validation, mandatory items, negotiation.
//! Each command only declares a [`CmdSpec`] (its fixed size, flags and item
//! rules) and then reads its validated fields and items from the [`Args`].

use core::mem::MaybeUninit;

use crate::kext::prelude::*;
use kernel::{
    alloc::KVec,
    transmute::AsBytes,
    uaccess::{UserPtr, UserSlice},
};

use crate::kext::LeanVec;
use crate::uapi::*;
use crate::wire::{self, ITEM_HEADER};

mod args;

pub(crate) use args::{Args, CmdSpec, Parsed};

/// Bytes copied from userspace: inline up to `N`, so the usual command or
/// small message costs no allocation (and no zeroing: the inline buffer is
/// only read as far as it was written); in a `KVec` beyond.
///
/// A sized ABI struct (a command or a message, whose first `u64` is its
/// size) is read in two steps: its fixed head, which holds the size, in one
/// copy ([`UserBytes::read_head`]), then what follows the head
/// ([`UserBytes::read_rest`]), so a struct without items costs one copy.
///
/// # Invariants
///
/// The first `len` bytes of `inline` are initialised when `len <= N`;
/// otherwise `heap` holds all `len` bytes.
pub(crate) struct UserBytes<const N: usize> {
    inline: [MaybeUninit<u8>; N],
    heap: LeanVec<u8>,
    len: usize,
}

impl<const N: usize> UserBytes<N> {
    /// Nothing read yet.
    pub(crate) const fn new() -> Self {
        Self {
            inline: [MaybeUninit::uninit(); N],
            heap: LeanVec::new(),
            len: 0,
        }
    }

    /// Reads the first `head` bytes (at most `N`) of the sized struct at
    /// `user` and returns its size, which `check` accepted (`check` gives
    /// the errno of a size out of range; a size below `head` is `EINVAL`).
    /// If the head cannot be read, the size alone decides between `check`'s
    /// errno and `EFAULT`, as when the size was read first.
    pub(crate) fn read_head(
        &mut self,
        user: UserPtr,
        head: usize,
        check: impl Fn(u64) -> Result,
    ) -> Result<usize> {
        let size = match self.read_more(user, head) {
            Ok(()) => wire::read::<u64>(self).ok_or(EFAULT)?,
            Err(_) => {
                let size = UserSlice::new(user, size_of::<u64>())
                    .reader()
                    .read::<u64>()?;
                check(size)?;
                return Err(EFAULT);
            }
        };
        check(size)?;
        let size = usize::try_from(size).map_err(|_| EINVAL)?;
        if size < head {
            return Err(EINVAL);
        }
        Ok(size)
    }

    /// Reads the rest of the struct at `user` whose head was read, up to
    /// `size` bytes in all.
    pub(crate) fn read_rest(&mut self, user: UserPtr, size: usize) -> Result {
        let more = size.checked_sub(self.len).ok_or(EINVAL)?;
        self.read_more(user, more)
    }

    /// Appends the next `n` bytes from `user` (whose first `self.len` bytes
    /// were read already).
    fn read_more(&mut self, user: UserPtr, n: usize) -> Result {
        // A command without items has nothing after its fixed part: no
        // copy, which would cost a user access for nothing.
        if n == 0 {
            return Ok(());
        }
        let at = self.len;
        let end = at.checked_add(n).ok_or(EFAULT)?;
        let mut reader = UserSlice::new(user.wrapping_byte_add(at), n).reader();
        if end <= N {
            // INVARIANT: `read_raw` initialises `inline[at..end]` or fails,
            // and `len` only grows once it succeeded.
            reader.read_raw(&mut self.inline[at..end])?;
        } else {
            if at <= N && self.heap.is_empty() {
                self.heap.reserve(end, GFP_KERNEL)?;
                // SAFETY: `at <= N`: the first `at` bytes of `inline` are
                // initialised (type invariant).
                let done = unsafe { core::slice::from_raw_parts(self.inline.as_ptr().cast(), at) };
                self.heap.extend_from_slice(done, GFP_KERNEL)?;
            }
            reader.read_all(&mut self.heap, GFP_KERNEL)?;
        }
        self.len = end;
        Ok(())
    }
}

impl<const N: usize> core::ops::Deref for UserBytes<N> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        if self.len <= N {
            // SAFETY: The first `len` bytes of `inline` are initialised
            // (type invariant), and `u8` has no invalid values.
            unsafe { core::slice::from_raw_parts(self.inline.as_ptr().cast(), self.len) }
        } else {
            &self.heap
        }
    }
}

impl<const N: usize> core::ops::DerefMut for UserBytes<N> {
    fn deref_mut(&mut self) -> &mut [u8] {
        if self.len <= N {
            // SAFETY: As in `deref`; the borrow of `self` is unique.
            unsafe { core::slice::from_raw_parts_mut(self.inline.as_mut_ptr().cast(), self.len) }
        } else {
            &mut self.heap
        }
    }
}

/// Where the item encoder writes: a growing `KVec` (answers of any size)
/// or a fixed buffer sized beforehand ([`SliceSink`]).
pub(crate) trait ItemSink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]) -> Result;
    /// Bytes written so far.
    fn written(&self) -> usize;
}

impl ItemSink for KVec<u8> {
    fn put(&mut self, bytes: &[u8]) -> Result {
        Ok(self.extend_from_slice(bytes, GFP_KERNEL)?)
    }

    fn written(&self) -> usize {
        self.len()
    }
}

/// A fixed buffer filled from `pos` on; `EMSGSIZE` past its end (a sizing
/// bug, never user input: callers size it with the layout they encode).
pub(crate) struct SliceSink<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> SliceSink<'a> {
    /// Encodes into `buf` from offset `pos`.
    pub(crate) fn new(buf: &'a mut [u8], pos: usize) -> Self {
        Self { buf, pos }
    }
}

impl ItemSink for SliceSink<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result {
        let end = self.pos.checked_add(bytes.len()).ok_or(EMSGSIZE)?;
        self.buf
            .get_mut(self.pos..end)
            .ok_or(EMSGSIZE)?
            .copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    fn written(&self) -> usize {
        self.pos
    }
}

/// Pads `out` with zeroes to a multiple of 8.
fn pad8(out: &mut impl ItemSink) -> Result {
    let pad = out.written().next_multiple_of(8) - out.written();
    out.put(&[0u8; 8][..pad])
}

/// Appends an item header for a payload of `len` bytes.
fn push_header(out: &mut impl ItemSink, ty: u64, len: usize) -> Result {
    let h = KdbusItemHeader {
        size: (ITEM_HEADER + len) as u64,
        r#type: ty,
    };
    out.put(h.as_bytes())
}

/// The item encoder: appends an item of type `ty` with `payload`
/// (`abi.md` §6.1), padded to 8 bytes.
pub(crate) fn push_item(out: &mut impl ItemSink, ty: u64, payload: &[u8]) -> Result {
    push_header(out, ty, payload.len())?;
    out.put(payload)?;
    pad8(out)
}

/// Appends an item whose payload is the ABI struct `payload`.
pub(crate) fn push_struct_item<T: AsBytes>(
    out: &mut impl ItemSink,
    ty: u64,
    payload: &T,
) -> Result {
    push_item(out, ty, payload.as_bytes())
}

/// Appends a string item: `s` up to its first NUL, plus one NUL.
pub(crate) fn push_str_item(out: &mut impl ItemSink, ty: u64, s: &[u8]) -> Result {
    let len = s.iter().position(|&c| c == 0).unwrap_or(s.len());
    push_header(out, ty, len + 1)?;
    out.put(&s[..len])?;
    out.put(&[0])?;
    pad8(out)
}

/// Bytes of a `KDBUS_ITEM_OWNED_NAME` item for `name`, padding included.
pub(crate) const fn name_item_size(name_len: usize) -> usize {
    (ITEM_HEADER + KdbusName::NAME_OFFSET + name_len + 1).next_multiple_of(8)
}

/// Appends a `KDBUS_ITEM_OWNED_NAME` item (`struct kdbus_name`: the flags
/// the name is held with, then the name).
pub(crate) fn push_name_item(out: &mut impl ItemSink, name_flags: u64, name: &[u8]) -> Result {
    push_header(
        out,
        KDBUS_ITEM_OWNED_NAME,
        KdbusName::NAME_OFFSET + name.len() + 1,
    )?;
    out.put(KdbusName { flags: name_flags }.as_bytes())?;
    out.put(name)?;
    out.put(&[0])?;
    pad8(out)
}

/// How one item type may appear in a command.
#[derive(Clone, Copy)]
pub(crate) struct ItemRule {
    pub(crate) ty: u64,
    pub(crate) mandatory: bool,
    pub(crate) multiple: bool,
}

impl ItemRule {
    /// At most once, optional.
    pub(crate) const fn once(ty: u64) -> Self {
        Self {
            ty,
            mandatory: false,
            multiple: false,
        }
    }

    /// Exactly once.
    pub(crate) const fn mandatory(ty: u64) -> Self {
        Self {
            ty,
            mandatory: true,
            multiple: false,
        }
    }

    /// Any number of times.
    pub(crate) const fn many(ty: u64) -> Self {
        Self {
            ty,
            mandatory: false,
            multiple: true,
        }
    }
}

/// The payload `p` as a `T`, if it has exactly that size.
fn sized<T: kernel::transmute::FromBytes>(p: &[u8]) -> Option<T> {
    (p.len() == size_of::<T>()).then(|| wire::read(p)).flatten()
}

/// One validated item of a command or message: its type and payload.
#[derive(Clone, Copy)]
pub(crate) struct Item<'a> {
    pub(crate) ty: u64,
    /// Offset of the item header in the container buffer.
    pub(crate) offset: usize,
    pub(crate) payload: &'a [u8],
}

impl<'a> Item<'a> {
    /// The payload as a `u64` (for 8-byte items).
    pub(crate) fn u64(&self) -> u64 {
        self.view().unwrap_or(0)
    }

    /// The payload (or its fixed start) as the ABI struct `T`; `EINVAL` if
    /// it is shorter (never after validation, which checked the size).
    pub(crate) fn view<T: kernel::transmute::FromBytes>(&self) -> Result<T> {
        wire::read(self.payload).ok_or(EINVAL)
    }

    /// A string payload without its NUL (validated by [`check_payload`]).
    pub(crate) fn str(&self) -> &'a [u8] {
        match self.payload.split_last() {
            Some((_, s)) => s,
            None => self.payload,
        }
    }
}

/// The item at `pos` of `buf` and where the next one starts (`abi.md`
/// §6.1: a header, a size of at least the header within `buf`, padding
/// to 8); `EINVAL` otherwise. The one place items are decoded.
fn item_at(buf: &[u8], pos: usize) -> Result<(Item<'_>, usize)> {
    let h: KdbusItemHeader = wire::read_at(buf, pos).ok_or(EINVAL)?;
    let size = usize::try_from(h.size).map_err(|_| EINVAL)?;
    if size < ITEM_HEADER {
        return Err(EINVAL);
    }
    let end = pos.checked_add(size).ok_or(EINVAL)?;
    let payload = buf.get(pos + ITEM_HEADER..end).ok_or(EINVAL)?;
    let item = Item {
        ty: h.r#type,
        offset: pos,
        payload,
    };
    Ok((item, end.checked_next_multiple_of(8).ok_or(EINVAL)?))
}

/// Iterates over an item list that has already been validated.
pub(crate) struct Items<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Items<'a> {
    /// Items of `buf` from `start` to the end of `buf`.
    pub(crate) fn new(buf: &'a [u8], start: usize) -> Self {
        Self { buf, pos: start }
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        let (item, next) = item_at(self.buf, self.pos).ok()?;
        self.pos = next;
        Some(item)
    }
}

/// Whether `c` is a letter or digit by the kernel's ctype (Latin-1 letters
/// `0xc0..=0xff` except `0xd7` and `0xf7` count as letters).
fn is_alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric() || (c >= 0xc0 && c != 0xd7 && c != 0xf7)
}

/// A NUL-terminated string payload with exactly one NUL, at the end.
pub(crate) fn is_valid_string(p: &[u8]) -> bool {
    match p.split_last() {
        Some((0, s)) => !s.contains(&0),
        _ => false,
    }
}

/// The "sysname" rule for bus names, endpoint names and connection
/// descriptions (`abi.md` §6.2), on a whole item payload.
pub(crate) fn check_sysname(p: &[u8]) -> Result {
    if p.len() < 2 {
        return Err(EINVAL);
    }
    if p.len() > KDBUS_SYSNAME_MAX_LEN + 1 {
        return Err(ENAMETOOLONG);
    }
    if !is_valid_string(p) {
        return Err(EINVAL);
    }
    let s = &p[..p.len() - 1];
    let last = s.len() - 1;
    for (i, &c) in s.iter().enumerate() {
        let ok = is_alnum(c) || c == b'_' || ((c == b'-' || c == b'.') && i != 0 && i != last);
        if !ok {
            return Err(EINVAL);
        }
    }
    Ok(())
}

/// Per-type payload validation (`abi.md` §6.2).
pub(crate) fn check_payload(ty: u64, p: &[u8]) -> Result {
    let n = p.len();
    let ok = match ty {
        KDBUS_ITEM_NEGOTIATE => n % 8 == 0,
        KDBUS_ITEM_PAYLOAD_VEC | KDBUS_ITEM_PAYLOAD_OFF => {
            sized::<KdbusVec>(p).is_some_and(|v| v.size != 0)
        }
        KDBUS_ITEM_PAYLOAD_MEMFD => match sized::<KdbusMemfd>(p) {
            Some(m) if m.size != 0 => {
                if m.fd < 0 {
                    return Err(EBADF);
                }
                true
            }
            _ => false,
        },
        KDBUS_ITEM_FDS => n % 4 == 0,
        KDBUS_ITEM_CANCEL_FD => n == 4,
        KDBUS_ITEM_BLOOM_PARAMETER => n == size_of::<KdbusBloomParameter>(),
        KDBUS_ITEM_BLOOM_FILTER => n >= KdbusBloomFilter::DATA_OFFSET,
        KDBUS_ITEM_BLOOM_MASK => true,
        KDBUS_ITEM_MAKE_NAME | KDBUS_ITEM_CONN_DESCRIPTION => return check_sysname(p),
        KDBUS_ITEM_ATTACH_FLAGS_SEND | KDBUS_ITEM_ATTACH_FLAGS_RECV | KDBUS_ITEM_ID => n == 8,
        KDBUS_ITEM_NAME | KDBUS_ITEM_DST_NAME | KDBUS_ITEM_TID_COMM | KDBUS_ITEM_PID_COMM
        | KDBUS_ITEM_EXE | KDBUS_ITEM_CMDLINE | KDBUS_ITEM_CGROUP | KDBUS_ITEM_SECLABEL => {
            is_valid_string(p)
        }
        KDBUS_ITEM_TIMESTAMP => n == size_of::<KdbusTimestamp>(),
        KDBUS_ITEM_CREDS => n == size_of::<KdbusCreds>(),
        KDBUS_ITEM_PIDS => n == size_of::<KdbusPids>(),
        KDBUS_ITEM_AUXGROUPS => n % 4 == 0,
        KDBUS_ITEM_CAPS => match wire::read::<u32>(p) {
            // `last_cap`, then the capability sets (`abi.md` §6.2).
            Some(last_cap) => n >= KdbusCaps::CAPS_OFFSET + 16 * (last_cap as usize >> 5),
            None => false,
        },
        KDBUS_ITEM_AUDIT => n == size_of::<KdbusAudit>(),
        KDBUS_ITEM_POLICY_ACCESS => n == size_of::<KdbusPolicyAccess>(),
        KDBUS_ITEM_NAME_ADD | KDBUS_ITEM_NAME_REMOVE | KDBUS_ITEM_NAME_CHANGE => {
            match p.get(KdbusNotifyNameChange::NAME_OFFSET..) {
                Some([]) => true,
                Some(name) => is_valid_string(name),
                None => false,
            }
        }
        KDBUS_ITEM_ID_ADD | KDBUS_ITEM_ID_REMOVE => n == size_of::<KdbusNotifyIdChange>(),
        KDBUS_ITEM_REPLY_TIMEOUT | KDBUS_ITEM_REPLY_DEAD => n == 0,
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(EINVAL)
    }
}

/// The item walker: checks the encoding of the items of `buf[start..]`
/// (`abi.md` §6.1: sizes, padding, the exact end) and calls `f` with each
/// item in order, then checks its payload (§6.2).
pub(crate) fn walk_items(
    buf: &[u8],
    start: usize,
    mut f: impl FnMut(Item<'_>) -> Result,
) -> Result {
    let end = buf.len();
    let list_end = end
        .checked_sub(start)
        .and_then(|n| n.checked_next_multiple_of(8))
        .and_then(|n| n.checked_add(start))
        .ok_or(EINVAL)?;
    let mut pos = start;
    while pos < end {
        let (item, next) = item_at(buf, pos)?;
        f(item)?;
        check_payload(item.ty, item.payload)?;
        pos = next;
    }
    if pos != list_end {
        return Err(EINVAL);
    }
    Ok(())
}

/// Walks and validates the items of `buf[start..]` against `rules` (plus
/// NEGOTIATE once): accepted types, duplicates and mandatory items besides
/// what [`walk_items`] checks. Returns the NEGOTIATE item, if any.
pub(crate) fn validate_items<'a>(
    buf: &'a [u8],
    start: usize,
    rules: &[ItemRule],
) -> Result<Option<Item<'a>>> {
    // Up to 16 distinct types per command; count occurrences per rule.
    let mut seen = [0u32; 16];
    let mut negotiate = None;
    walk_items(buf, start, |item| {
        if item.ty == KDBUS_ITEM_NEGOTIATE {
            if negotiate.is_some() {
                return Err(EINVAL);
            }
            negotiate = Some(item.offset);
        } else {
            let idx = rules.iter().position(|r| r.ty == item.ty).ok_or(EINVAL)?;
            let n = seen.get_mut(idx).ok_or(EINVAL)?;
            if *n > 0 && !rules[idx].multiple {
                return Err(EINVAL);
            }
            *n = n.saturating_add(1);
        }
        Ok(())
    })?;
    for (i, r) in rules.iter().enumerate() {
        if r.mandatory && seen.get(i).copied().unwrap_or(0) == 0 {
            return Err(EINVAL);
        }
    }
    Ok(negotiate.and_then(|pos| Items::new(buf, pos).next()))
}

/// `~0` means "all" for attach masks; any other value must fit
/// `_KDBUS_ATTACH_ALL` (`abi.md` §5.2).
pub(crate) fn sanitize_attach(v: u64) -> Result<u64> {
    if v == _KDBUS_ATTACH_ANY {
        Ok(_KDBUS_ATTACH_ALL)
    } else if v & !_KDBUS_ATTACH_ALL != 0 {
        Err(EINVAL)
    } else {
        Ok(v)
    }
}

#[kunit_tests(kdbus_item)]
mod tests {
    use super::*;

    /// Builds an item list from (type, payload) pairs, padded like userspace.
    fn list(items: &[(u64, &[u8])]) -> KVec<u8> {
        let mut v = KVec::new();
        for (ty, p) in items {
            let size = (16 + p.len()) as u64;
            let _ = v.extend_from_slice(&size.to_ne_bytes(), GFP_KERNEL);
            let _ = v.extend_from_slice(&ty.to_ne_bytes(), GFP_KERNEL);
            let _ = v.extend_from_slice(p, GFP_KERNEL);
            while v.len() % 8 != 0 {
                let _ = v.push(0, GFP_KERNEL);
            }
        }
        v
    }

    /// Validates `l` against [`RULES`]; the offset of its NEGOTIATE item.
    fn validate(l: &[u8]) -> Result<Option<usize>> {
        validate_items(l, 0, RULES).map(|n| n.map(|i| i.offset))
    }

    /// Overwrites the size of the first item of `l`.
    fn set_size(l: &mut [u8], size: u64) {
        l[..8].copy_from_slice(&size.to_ne_bytes());
    }

    const RULES: &[ItemRule] = &[
        ItemRule::mandatory(KDBUS_ITEM_MAKE_NAME),
        ItemRule::once(KDBUS_ITEM_ATTACH_FLAGS_SEND),
        ItemRule::many(KDBUS_ITEM_NAME),
    ];

    #[test]
    fn sysname_rules() {
        assert!(check_sysname(b"1000-foo\0").is_ok());
        assert!(check_sysname(b"1000-a.b-c_d\0").is_ok());
        assert!(check_sysname(b"x\0").is_ok());
        assert_eq!(check_sysname(b"\0"), Err(EINVAL));
        assert_eq!(check_sysname(b"1000-blah@123\0"), Err(EINVAL));
        assert_eq!(check_sysname(b"1000-blah-\0"), Err(EINVAL));
        assert_eq!(check_sysname(b"1000-foo.\0"), Err(EINVAL));
        assert_eq!(check_sysname(b"-foo\0"), Err(EINVAL));
        assert_eq!(check_sysname(b"foo\0\0\0\0\0"), Err(EINVAL));
        assert_eq!(check_sysname(b"foo"), Err(EINVAL));
        assert_eq!(check_sysname(b"f\0o\0"), Err(EINVAL));
        // Latin-1 letters count, the two symbols in their range do not.
        assert!(check_sysname(b"a\xc0\xff\0").is_ok());
        assert_eq!(check_sysname(b"a\xd7\0"), Err(EINVAL));
        // 63 characters fit, 64 do not (size checked before the content).
        let mut name = [b'a'; 65];
        name[63] = 0;
        assert!(check_sysname(&name[..64]).is_ok());
        name[63] = b'a';
        name[64] = 0;
        assert_eq!(check_sysname(&name[..65]), Err(ENAMETOOLONG));
    }

    #[test]
    fn payload_sizes() {
        assert!(check_payload(KDBUS_ITEM_BLOOM_PARAMETER, &[0; 16]).is_ok());
        assert_eq!(
            check_payload(KDBUS_ITEM_BLOOM_PARAMETER, &[0; 8]),
            Err(EINVAL)
        );
        assert!(check_payload(KDBUS_ITEM_ATTACH_FLAGS_SEND, &[0; 8]).is_ok());
        assert_eq!(
            check_payload(KDBUS_ITEM_ATTACH_FLAGS_RECV, &[0; 16]),
            Err(EINVAL)
        );
        assert!(check_payload(KDBUS_ITEM_NEGOTIATE, &[]).is_ok());
        assert_eq!(check_payload(KDBUS_ITEM_NEGOTIATE, &[0; 4]), Err(EINVAL));
        assert!(check_payload(KDBUS_ITEM_POLICY_ACCESS, &[0; 24]).is_ok());
        assert_eq!(check_payload(KDBUS_ITEM_PIDS, &[0; 16]), Err(EINVAL));
        let mut memfd = [0u8; 24];
        memfd[8] = 1;
        memfd[16..20].copy_from_slice(&(-1i32).to_ne_bytes());
        assert_eq!(check_payload(KDBUS_ITEM_PAYLOAD_MEMFD, &memfd), Err(EBADF));
        assert_eq!(check_payload(KDBUS_ITEM_PAYLOAD_VEC, &[0; 16]), Err(EINVAL));
        assert!(check_payload(KDBUS_ITEM_REPLY_DEAD, &[]).is_ok());
    }

    #[test]
    fn walk_accepts_valid_lists() {
        let l = list(&[
            (KDBUS_ITEM_MAKE_NAME, b"0-x\0"),
            (KDBUS_ITEM_NAME, b"a.b\0"),
        ]);
        assert_eq!(validate(&l), Ok(None));
        // The size may omit the padding after the last item.
        assert_eq!(validate(&l[..l.len() - 4]), Ok(None));
        let l = list(&[
            (KDBUS_ITEM_NEGOTIATE, &[0; 8]),
            (KDBUS_ITEM_MAKE_NAME, b"0-x\0"),
            (KDBUS_ITEM_NAME, b"a.b\0"),
            (KDBUS_ITEM_NAME, b"c.d\0"),
        ]);
        assert_eq!(validate(&l), Ok(Some(0)));
    }

    #[test]
    fn walk_rejects_bad_lists() {
        // Missing mandatory item.
        let l = list(&[(KDBUS_ITEM_NAME, b"a.b\0")]);
        assert_eq!(validate(&l), Err(EINVAL));
        // Duplicate once-item, duplicate NEGOTIATE, unknown type.
        let l = list(&[
            (KDBUS_ITEM_MAKE_NAME, b"0-x\0"),
            (KDBUS_ITEM_ATTACH_FLAGS_SEND, &[0; 8]),
            (KDBUS_ITEM_ATTACH_FLAGS_SEND, &[0; 8]),
        ]);
        assert_eq!(validate(&l), Err(EINVAL));
        let l = list(&[
            (KDBUS_ITEM_NEGOTIATE, &[]),
            (KDBUS_ITEM_NEGOTIATE, &[]),
            (KDBUS_ITEM_MAKE_NAME, b"0-x\0"),
        ]);
        assert_eq!(validate(&l), Err(EINVAL));
        let l = list(&[
            (KDBUS_ITEM_MAKE_NAME, b"0-x\0"),
            (KDBUS_ITEM_CREDS, &[0; 64]),
        ]);
        assert_eq!(validate(&l), Err(EINVAL));
        // Trailing garbage after the last item.
        let mut l = list(&[(KDBUS_ITEM_MAKE_NAME, b"0-x\0")]);
        let _ = l.extend_from_slice(&[0; 8], GFP_KERNEL);
        assert_eq!(validate(&l), Err(EINVAL));
        // An item running past the end, one smaller than its header.
        let mut l = list(&[(KDBUS_ITEM_MAKE_NAME, b"0-x\0")]);
        set_size(&mut l, 200);
        assert_eq!(validate(&l), Err(EINVAL));
        set_size(&mut l, 8);
        assert_eq!(validate(&l), Err(EINVAL));
        set_size(&mut l, u64::MAX);
        assert_eq!(validate(&l), Err(EINVAL));
        // A header cut short.
        let l = list(&[(KDBUS_ITEM_MAKE_NAME, b"0-x\0")]);
        assert_eq!(validate(&l[..12]), Err(EINVAL));
    }

    #[test]
    fn iterator_walks_what_was_validated() {
        let l = list(&[
            (KDBUS_ITEM_MAKE_NAME, b"0-x\0"),
            (KDBUS_ITEM_NAME, b"a.b\0"),
        ]);
        let mut it = Items::new(&l, 0);
        let a = it.next();
        assert!(a.is_some_and(|i| i.ty == KDBUS_ITEM_MAKE_NAME && i.str() == b"0-x"));
        let b = it.next();
        assert!(b.is_some_and(|i| i.ty == KDBUS_ITEM_NAME && i.offset == 24));
        assert!(it.next().is_none());
    }

    #[test]
    fn attach_masks() {
        assert_eq!(sanitize_attach(u64::MAX), Ok(_KDBUS_ATTACH_ALL));
        assert_eq!(sanitize_attach(0x3fff), Ok(0x3fff));
        assert_eq!(sanitize_attach(0x4000), Err(EINVAL));
        assert_eq!(sanitize_attach(0), Ok(0));
    }
}
