// SPDX-License-Identifier: GPL-2.0

//! The ABI's structs as the module reads and writes them.
//!
//! The `#[repr(C)]` types of `abi.rs` (the `kdbus-uapi` crate, compiled into
//! the module as `uapi`) are the one source of every layout: commands,
//! messages and item payloads are copied out of and into byte buffers as
//! those types ([`FromBytes`], [`AsBytes`]), fields are reached by name and
//! offsets come from `offset_of!`. No offset or size is typed by hand.

use kernel::{
    prelude::*,
    transmute::{AsBytes, FromBytes},
};

use crate::uapi::*;

/// Bytes of an item header (`size`, `type`).
pub(crate) const ITEM_HEADER: usize = size_of::<KdbusItemHeader>();

/// Bytes of a message header (`kdbus_msg` without its items).
pub(crate) const MSG_HEADER: usize = size_of::<KdbusMsg>();

/// Bytes of an info record (`kdbus_info` without its items).
pub(crate) const INFO_HEADER: usize = size_of::<KdbusInfo>();

/// The size of the field `_f` selects: the padding proofs below add these.
const fn field_size<T, F>(_f: for<'a> fn(&'a T) -> &'a F) -> usize {
    size_of::<F>()
}

/// Declares ABI structs plain data, each with the list of its fields.
///
/// The list is checked against the type: the fields' sizes must add up to
/// the struct's, so the struct has no padding and every byte of a value is
/// initialised; a field missed in the list fails the build.
macro_rules! plain {
    ($($t:ident { $($f:ident),* $(,)? })*) => {$(
        const _: () = assert!(size_of::<$t>() == 0 $(+ field_size(|s: &$t| &s.$f))*);
        // SAFETY: `$t` is `#[repr(C)]` and made of integers, integer arrays
        // and other plain ABI structs only (`abi.rs`): every bit pattern is a
        // valid value, and nothing in it is interiorly mutable.
        unsafe impl FromBytes for $t {}
        // SAFETY: As above, and the assertion above proves the fields fill
        // the struct, so it has no padding: every byte is initialised.
        unsafe impl AsBytes for $t {}
    )*};
}

plain! {
    KdbusVec { size, address }
    KdbusBloomParameter { size, n_hash }
    KdbusBloomFilter { generation }
    KdbusMemfd { start, size, fd, __pad }
    KdbusName { flags }
    KdbusCreds { uid, euid, suid, fsuid, gid, egid, sgid, fsgid }
    KdbusPids { pid, tid, ppid }
    KdbusAudit { sessionid, loginuid }
    KdbusTimestamp { seqnum, monotonic_ns, realtime_ns }
    KdbusNotifyIdChange { id, flags }
    KdbusNotifyNameChange { old_id, new_id }
    KdbusPolicyAccess { r#type, access, id }
    KdbusItemHeader { size, r#type }
    KdbusCmd { size, flags, return_flags }
    KdbusCmdHello {
        size, flags, return_flags, attach_flags_send, attach_flags_recv, bus_flags, id,
        pool_size, offset, items_size, id128,
    }
    KdbusCmdInfo { size, flags, return_flags, id, attach_flags, offset, info_size }
    KdbusCmdList { size, flags, return_flags, offset, list_size }
    KdbusCmdFree { size, flags, return_flags, offset }
    KdbusCmdMatch { size, flags, return_flags, cookie }
    KdbusMsgInfo { offset, msg_size, return_flags }
    KdbusCmdSend { size, flags, return_flags, msg_address, reply }
    KdbusCmdRecv { size, flags, return_flags, priority, dropped_msgs, msg }
    KdbusMsg { size, flags, priority, dst_id, src_id, payload_type, cookie, timeout_ns }
    KdbusInfo { size, id, flags }
}

/// A command struct (`abi.md` §4): it starts with the `size`, `flags` and
/// `return_flags` of `struct kdbus_cmd`, and its items follow it.
pub(crate) trait Command: FromBytes + AsBytes + Copy + Default + 'static {}

/// Declares command structs, checking that each starts with the header of
/// `struct kdbus_cmd`.
macro_rules! commands {
    ($($t:ident),* $(,)?) => {$(
        const _: () = {
            assert!(core::mem::offset_of!($t, size) == core::mem::offset_of!(KdbusCmd, size));
            assert!(core::mem::offset_of!($t, flags) == core::mem::offset_of!(KdbusCmd, flags));
            assert!(
                core::mem::offset_of!($t, return_flags)
                    == core::mem::offset_of!(KdbusCmd, return_flags)
            );
        };
        impl Command for $t {}
    )*};
}

commands!(
    KdbusCmd,
    KdbusCmdHello,
    KdbusCmdInfo,
    KdbusCmdList,
    KdbusCmdFree,
    KdbusCmdMatch,
    KdbusCmdSend,
    KdbusCmdRecv,
);

/// The bytes of `v`, in the ABI's native-endian layout.
pub(crate) fn bytes<T: AsBytes + ?Sized>(v: &T) -> &[u8] {
    v.as_bytes()
}

/// The `T` at the start of `bytes`, copied (no alignment needed); `None`
/// if `bytes` is too short.
pub(crate) fn read<T: FromBytes>(bytes: &[u8]) -> Option<T> {
    T::from_bytes_copy_prefix(bytes).map(|(v, _)| v)
}

/// The `T` at `off` of `bytes`, copied; `None` past the end.
pub(crate) fn read_at<T: FromBytes>(bytes: &[u8], off: usize) -> Option<T> {
    read(bytes.get(off..)?)
}

/// Offset and size of the field of `base` that `field` selects, or `None`
/// if `field` returns something outside `base`.
pub(crate) fn field_span<T, F>(base: &T, field: impl FnOnce(&T) -> &F) -> Option<(usize, usize)> {
    let start = core::ptr::from_ref(base) as usize;
    let at = core::ptr::from_ref(field(base)) as usize;
    let off = at.checked_sub(start)?;
    (off.checked_add(size_of::<F>())? <= size_of::<T>()).then_some((off, size_of::<F>()))
}

#[kunit_tests(kdbus_wire)]
mod tests {
    use super::*;

    #[test]
    fn field_spans_are_the_abi_offsets() {
        let h = KdbusCmdHello::default();
        assert_eq!(field_span(&h, |c| &c.pool_size), Some((56, 8)));
        assert_eq!(field_span(&h, |c| &c.id128), Some((80, 16)));
        let r = KdbusCmdRecv::default();
        assert_eq!(field_span(&r, |c| &c.msg), Some((40, 24)));
        assert_eq!(field_span(&r, |c| &c.msg.return_flags), Some((56, 8)));
    }

    #[test]
    fn a_field_outside_the_struct_has_no_span() {
        static OTHER: u64 = 0;
        let h = KdbusCmd::default();
        assert_eq!(field_span(&h, |_| &OTHER), None);
    }

    #[test]
    fn reads_copy_unaligned_and_refuse_short_input() {
        let mut b = [0u8; 17];
        b[1..9].copy_from_slice(&24u64.to_ne_bytes());
        b[9..17].copy_from_slice(&7u64.to_ne_bytes());
        let h: Option<KdbusItemHeader> = read_at(&b, 1);
        assert_eq!(h.map(|h| (h.size, h.r#type)), Some((24, 7)));
        assert!(read_at::<KdbusItemHeader>(&b, 2).is_none());
        assert!(read_at::<KdbusItemHeader>(&b, 99).is_none());
    }
}
