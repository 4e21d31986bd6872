//! Layout and value tests for `kdbus-uapi`.
//!
//! Every expected number below is typed in literally from
//! `shared/spec/abi.md` (section given in each test), never computed from the
//! crate, so that a mistake in either place shows up as a failure.

use core::mem::{align_of, offset_of, size_of};
use kdbus_uapi::*;

/// View a plain-old-data value as its bytes.
fn bytes_of<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: `T: Copy` structures of this crate contain only integers and
    // have no padding bytes (every field is followed directly by the next).
    unsafe { core::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }
}

/// Read the native-endian `u64` at byte offset `off`.
fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_ne_bytes(b[off..off + 8].try_into().unwrap())
}

/// Read the native-endian `u32` at byte offset `off`.
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(b[off..off + 4].try_into().unwrap())
}

// ---------------------------------------------------------------------------
// §4.15 size summary, §0 alignment
// ---------------------------------------------------------------------------

#[test]
fn struct_sizes_4_15() {
    assert_eq!(size_of::<KdbusCmd>(), 24);
    assert_eq!(size_of::<KdbusCmdHello>(), 96);
    assert_eq!(size_of::<KdbusCmdInfo>(), 56);
    assert_eq!(size_of::<KdbusCmdList>(), 40);
    assert_eq!(size_of::<KdbusCmdFree>(), 32);
    assert_eq!(size_of::<KdbusCmdMatch>(), 32);
    assert_eq!(size_of::<KdbusCmdSend>(), 56);
    assert_eq!(size_of::<KdbusCmdRecv>(), 64);
    assert_eq!(size_of::<KdbusMsgInfo>(), 24);
    assert_eq!(size_of::<KdbusMsg>(), 64);
    assert_eq!(size_of::<KdbusInfo>(), 24);
    assert_eq!(size_of::<KdbusItem>(), 80);
    assert_eq!(size_of::<KdbusVec>(), 16);
    assert_eq!(size_of::<KdbusMemfd>(), 24);
    assert_eq!(size_of::<KdbusBloomParameter>(), 16);
    assert_eq!(size_of::<KdbusBloomFilter>(), 8);
    assert_eq!(size_of::<KdbusName>(), 8);
    assert_eq!(size_of::<KdbusCreds>(), 64);
    assert_eq!(size_of::<KdbusPids>(), 24);
    assert_eq!(size_of::<KdbusCaps>(), 8);
    assert_eq!(size_of::<KdbusAudit>(), 8);
    assert_eq!(size_of::<KdbusTimestamp>(), 24);
    assert_eq!(size_of::<KdbusNotifyIdChange>(), 16);
    assert_eq!(size_of::<KdbusNotifyNameChange>(), 32);
    assert_eq!(size_of::<KdbusPolicyAccess>(), 24);
    // Not in the C header: the bare item header and the payload union.
    assert_eq!(size_of::<KdbusItemHeader>(), 16);
    assert_eq!(size_of::<KdbusItemPayload>(), 64);
}

#[test]
fn struct_alignment_is_8() {
    assert_eq!(align_of::<KdbusCmd>(), 8);
    assert_eq!(align_of::<KdbusCmdHello>(), 8);
    assert_eq!(align_of::<KdbusCmdInfo>(), 8);
    assert_eq!(align_of::<KdbusCmdList>(), 8);
    assert_eq!(align_of::<KdbusCmdFree>(), 8);
    assert_eq!(align_of::<KdbusCmdMatch>(), 8);
    assert_eq!(align_of::<KdbusCmdSend>(), 8);
    assert_eq!(align_of::<KdbusCmdRecv>(), 8);
    assert_eq!(align_of::<KdbusMsgInfo>(), 8);
    assert_eq!(align_of::<KdbusMsg>(), 8);
    assert_eq!(align_of::<KdbusInfo>(), 8);
    assert_eq!(align_of::<KdbusItem>(), 8);
    assert_eq!(align_of::<KdbusItemHeader>(), 8);
    assert_eq!(align_of::<KdbusItemPayload>(), 8);
    assert_eq!(align_of::<KdbusVec>(), 8);
    assert_eq!(align_of::<KdbusMemfd>(), 8);
    assert_eq!(align_of::<KdbusBloomParameter>(), 8);
    assert_eq!(align_of::<KdbusBloomFilter>(), 8);
    assert_eq!(align_of::<KdbusName>(), 8);
    assert_eq!(align_of::<KdbusCreds>(), 8);
    assert_eq!(align_of::<KdbusPids>(), 8);
    assert_eq!(align_of::<KdbusCaps>(), 8);
    assert_eq!(align_of::<KdbusAudit>(), 8);
    assert_eq!(align_of::<KdbusTimestamp>(), 8);
    assert_eq!(align_of::<KdbusNotifyIdChange>(), 8);
    assert_eq!(align_of::<KdbusNotifyNameChange>(), 8);
    assert_eq!(align_of::<KdbusPolicyAccess>(), 8);
}

#[test]
fn flexible_member_offsets_4_15() {
    assert_eq!(KdbusCmd::ITEMS_OFFSET, 24);
    assert_eq!(KdbusCmdHello::ITEMS_OFFSET, 96);
    assert_eq!(KdbusCmdInfo::ITEMS_OFFSET, 56);
    assert_eq!(KdbusCmdList::ITEMS_OFFSET, 40);
    assert_eq!(KdbusCmdFree::ITEMS_OFFSET, 32);
    assert_eq!(KdbusCmdMatch::ITEMS_OFFSET, 32);
    assert_eq!(KdbusCmdSend::ITEMS_OFFSET, 56);
    assert_eq!(KdbusCmdRecv::ITEMS_OFFSET, 64);
    assert_eq!(KdbusMsg::ITEMS_OFFSET, 64);
    assert_eq!(KdbusInfo::ITEMS_OFFSET, 24);
    assert_eq!(KdbusItem::DATA_OFFSET, 16);
    assert_eq!(KdbusBloomFilter::DATA_OFFSET, 8);
    assert_eq!(KdbusName::NAME_OFFSET, 8);
    assert_eq!(KdbusCaps::CAPS_OFFSET, 4);
    assert_eq!(KdbusNotifyNameChange::NAME_OFFSET, 32);
}

// ---------------------------------------------------------------------------
// §4.1 - §4.12 command structures, field by field
// ---------------------------------------------------------------------------

#[test]
fn common_header_4_1() {
    // All 16 commands share size/flags/return_flags at 0/8/16.
    macro_rules! hdr {
        ($t:ty) => {
            assert_eq!(offset_of!($t, size), 0);
            assert_eq!(offset_of!($t, flags), 8);
            assert_eq!(offset_of!($t, return_flags), 16);
        };
    }
    hdr!(KdbusCmd);
    hdr!(KdbusCmdHello);
    hdr!(KdbusCmdInfo);
    hdr!(KdbusCmdList);
    hdr!(KdbusCmdFree);
    hdr!(KdbusCmdMatch);
    hdr!(KdbusCmdSend);
    hdr!(KdbusCmdRecv);
}

#[test]
fn kdbus_cmd_4_2() {
    assert_eq!(offset_of!(KdbusCmd, size), 0);
    assert_eq!(offset_of!(KdbusCmd, flags), 8);
    assert_eq!(offset_of!(KdbusCmd, return_flags), 16);
}

#[test]
fn kdbus_cmd_hello_4_3() {
    assert_eq!(offset_of!(KdbusCmdHello, size), 0);
    assert_eq!(offset_of!(KdbusCmdHello, flags), 8);
    assert_eq!(offset_of!(KdbusCmdHello, return_flags), 16);
    assert_eq!(offset_of!(KdbusCmdHello, attach_flags_send), 24);
    assert_eq!(offset_of!(KdbusCmdHello, attach_flags_recv), 32);
    assert_eq!(offset_of!(KdbusCmdHello, bus_flags), 40);
    assert_eq!(offset_of!(KdbusCmdHello, id), 48);
    assert_eq!(offset_of!(KdbusCmdHello, pool_size), 56);
    assert_eq!(offset_of!(KdbusCmdHello, offset), 64);
    assert_eq!(offset_of!(KdbusCmdHello, items_size), 72);
    assert_eq!(offset_of!(KdbusCmdHello, id128), 80);
    let h = KdbusCmdHello::default();
    let id128: [u8; 16] = h.id128;
    assert_eq!(id128.len(), 16);
}

#[test]
fn kdbus_cmd_info_4_4() {
    assert_eq!(offset_of!(KdbusCmdInfo, size), 0);
    assert_eq!(offset_of!(KdbusCmdInfo, flags), 8);
    assert_eq!(offset_of!(KdbusCmdInfo, return_flags), 16);
    assert_eq!(offset_of!(KdbusCmdInfo, id), 24);
    assert_eq!(offset_of!(KdbusCmdInfo, attach_flags), 32);
    assert_eq!(offset_of!(KdbusCmdInfo, offset), 40);
    assert_eq!(offset_of!(KdbusCmdInfo, info_size), 48);
}

#[test]
fn kdbus_cmd_list_4_5() {
    assert_eq!(offset_of!(KdbusCmdList, size), 0);
    assert_eq!(offset_of!(KdbusCmdList, flags), 8);
    assert_eq!(offset_of!(KdbusCmdList, return_flags), 16);
    assert_eq!(offset_of!(KdbusCmdList, offset), 24);
    assert_eq!(offset_of!(KdbusCmdList, list_size), 32);
}

#[test]
fn kdbus_cmd_free_4_6() {
    assert_eq!(offset_of!(KdbusCmdFree, size), 0);
    assert_eq!(offset_of!(KdbusCmdFree, flags), 8);
    assert_eq!(offset_of!(KdbusCmdFree, return_flags), 16);
    assert_eq!(offset_of!(KdbusCmdFree, offset), 24);
}

#[test]
fn kdbus_cmd_match_4_7() {
    assert_eq!(offset_of!(KdbusCmdMatch, size), 0);
    assert_eq!(offset_of!(KdbusCmdMatch, flags), 8);
    assert_eq!(offset_of!(KdbusCmdMatch, return_flags), 16);
    assert_eq!(offset_of!(KdbusCmdMatch, cookie), 24);
}

#[test]
fn kdbus_msg_info_4_8() {
    assert_eq!(offset_of!(KdbusMsgInfo, offset), 0);
    assert_eq!(offset_of!(KdbusMsgInfo, msg_size), 8);
    assert_eq!(offset_of!(KdbusMsgInfo, return_flags), 16);
}

#[test]
fn kdbus_cmd_send_4_9() {
    assert_eq!(offset_of!(KdbusCmdSend, size), 0);
    assert_eq!(offset_of!(KdbusCmdSend, flags), 8);
    assert_eq!(offset_of!(KdbusCmdSend, return_flags), 16);
    assert_eq!(offset_of!(KdbusCmdSend, msg_address), 24);
    assert_eq!(offset_of!(KdbusCmdSend, reply), 32);
    // The embedded kdbus_msg_info occupies bytes 32..56.
    assert_eq!(offset_of!(KdbusCmdSend, reply.offset), 32);
    assert_eq!(offset_of!(KdbusCmdSend, reply.msg_size), 40);
    assert_eq!(offset_of!(KdbusCmdSend, reply.return_flags), 48);
}

#[test]
fn kdbus_cmd_recv_4_10() {
    assert_eq!(offset_of!(KdbusCmdRecv, size), 0);
    assert_eq!(offset_of!(KdbusCmdRecv, flags), 8);
    assert_eq!(offset_of!(KdbusCmdRecv, return_flags), 16);
    assert_eq!(offset_of!(KdbusCmdRecv, priority), 24);
    assert_eq!(offset_of!(KdbusCmdRecv, dropped_msgs), 32);
    assert_eq!(offset_of!(KdbusCmdRecv, msg), 40);
    // The embedded kdbus_msg_info occupies bytes 40..64.
    assert_eq!(offset_of!(KdbusCmdRecv, msg.offset), 40);
    assert_eq!(offset_of!(KdbusCmdRecv, msg.msg_size), 48);
    assert_eq!(offset_of!(KdbusCmdRecv, msg.return_flags), 56);
    // priority is s64.
    let r = KdbusCmdRecv {
        priority: -1,
        ..Default::default()
    };
    let p: i64 = r.priority;
    assert_eq!(p, -1);
}

#[test]
fn kdbus_msg_4_11() {
    assert_eq!(offset_of!(KdbusMsg, size), 0);
    assert_eq!(offset_of!(KdbusMsg, flags), 8);
    assert_eq!(offset_of!(KdbusMsg, priority), 16);
    assert_eq!(offset_of!(KdbusMsg, dst_id), 24);
    assert_eq!(offset_of!(KdbusMsg, src_id), 32);
    assert_eq!(offset_of!(KdbusMsg, payload_type), 40);
    assert_eq!(offset_of!(KdbusMsg, cookie), 48);
    // timeout_ns and cookie_reply are one union at offset 56.
    assert_eq!(offset_of!(KdbusMsg, timeout_ns), 56);
    let mut m = KdbusMsg {
        priority: -5,
        ..Default::default()
    };
    let p: i64 = m.priority;
    assert_eq!(p, -5);
    m.set_cookie_reply(0x1234);
    assert_eq!(m.timeout_ns, 0x1234);
    assert_eq!(m.cookie_reply(), 0x1234);
    assert_eq!(u64_at(bytes_of(&m), 56), 0x1234);
}

#[test]
fn kdbus_info_4_12() {
    assert_eq!(offset_of!(KdbusInfo, size), 0);
    assert_eq!(offset_of!(KdbusInfo, id), 8);
    assert_eq!(offset_of!(KdbusInfo, flags), 16);
}

// ---------------------------------------------------------------------------
// §4.13 kdbus_item and its payload union
// ---------------------------------------------------------------------------

#[test]
fn kdbus_item_header_4_13() {
    assert_eq!(offset_of!(KdbusItem, size), 0);
    assert_eq!(offset_of!(KdbusItem, r#type), 8);
    assert_eq!(offset_of!(KdbusItem, payload), 16);
    assert_eq!(offset_of!(KdbusItemHeader, size), 0);
    assert_eq!(offset_of!(KdbusItemHeader, r#type), 8);
    assert_eq!(KDBUS_ITEM_HEADER_SIZE, 16);
}

#[test]
fn kdbus_item_union_members_at_16() {
    assert_eq!(offset_of!(KdbusItem, payload.data), 16);
    assert_eq!(offset_of!(KdbusItem, payload.data32), 16);
    assert_eq!(offset_of!(KdbusItem, payload.data64), 16);
    assert_eq!(offset_of!(KdbusItem, payload.str), 16);
    assert_eq!(offset_of!(KdbusItem, payload.id), 16);
    assert_eq!(offset_of!(KdbusItem, payload.vec), 16);
    assert_eq!(offset_of!(KdbusItem, payload.creds), 16);
    assert_eq!(offset_of!(KdbusItem, payload.pids), 16);
    assert_eq!(offset_of!(KdbusItem, payload.audit), 16);
    assert_eq!(offset_of!(KdbusItem, payload.caps), 16);
    assert_eq!(offset_of!(KdbusItem, payload.timestamp), 16);
    assert_eq!(offset_of!(KdbusItem, payload.name), 16);
    assert_eq!(offset_of!(KdbusItem, payload.bloom_parameter), 16);
    assert_eq!(offset_of!(KdbusItem, payload.bloom_filter), 16);
    assert_eq!(offset_of!(KdbusItem, payload.memfd), 16);
    assert_eq!(offset_of!(KdbusItem, payload.fds), 16);
    assert_eq!(offset_of!(KdbusItem, payload.name_change), 16);
    assert_eq!(offset_of!(KdbusItem, payload.id_change), 16);
    assert_eq!(offset_of!(KdbusItem, payload.policy_access), 16);
    // kdbus_caps.caps starts at 4 inside the payload, i.e. 20 in the item.
    assert_eq!(
        offset_of!(KdbusItem, payload.caps) + KdbusCaps::CAPS_OFFSET,
        20
    );
}

fn member_size<T>(_f: fn(&KdbusItemPayload) -> &T) -> usize {
    size_of::<T>()
}

fn elem_size<T, const N: usize>(_f: fn(&KdbusItemPayload) -> &[T; N]) -> (usize, usize) {
    (size_of::<T>(), N)
}

#[test]
fn kdbus_item_union_member_sizes_4_13() {
    // SAFETY (all closures): only the type of the member is inspected; the
    // closures are never called.
    assert_eq!(member_size(|p| unsafe { &p.id }), 8);
    assert_eq!(member_size(|p| unsafe { &p.vec }), 16);
    assert_eq!(member_size(|p| unsafe { &p.creds }), 64);
    assert_eq!(member_size(|p| unsafe { &p.pids }), 24);
    assert_eq!(member_size(|p| unsafe { &p.audit }), 8);
    assert_eq!(member_size(|p| unsafe { &p.caps }), 8);
    assert_eq!(member_size(|p| unsafe { &p.timestamp }), 24);
    assert_eq!(member_size(|p| unsafe { &p.name }), 8);
    assert_eq!(member_size(|p| unsafe { &p.bloom_parameter }), 16);
    assert_eq!(member_size(|p| unsafe { &p.bloom_filter }), 8);
    assert_eq!(member_size(|p| unsafe { &p.memfd }), 24);
    assert_eq!(member_size(|p| unsafe { &p.name_change }), 32);
    assert_eq!(member_size(|p| unsafe { &p.id_change }), 16);
    assert_eq!(member_size(|p| unsafe { &p.policy_access }), 24);
    // Flexible members: element size, zero length.
    assert_eq!(elem_size(|p| unsafe { &p.data }), (1, 0));
    assert_eq!(elem_size(|p| unsafe { &p.data32 }), (4, 0));
    assert_eq!(elem_size(|p| unsafe { &p.data64 }), (8, 0));
    assert_eq!(elem_size(|p| unsafe { &p.str }), (1, 0));
    assert_eq!(elem_size(|p| unsafe { &p.fds }), (4, 0));
    // fds are int (i32), §12.
    let fds: fn(&KdbusItemPayload) -> &[i32; 0] = |p| unsafe { &p.fds };
    let _ = fds;
}

#[test]
fn kdbus_item_default_and_debug() {
    let item = KdbusItem::default();
    assert_eq!(item.size, 0);
    assert_eq!(item.r#type, 0);
    // SAFETY: the default payload is 64 zero bytes, valid for every member.
    let creds = unsafe { item.payload.creds };
    assert_eq!(creds, KdbusCreds::default());
    let s = format!("{item:?}");
    assert!(s.contains("size: 0"), "{s}");
    assert!(s.contains("type: 0"), "{s}");
}

// ---------------------------------------------------------------------------
// §4.14 item payload structures
// ---------------------------------------------------------------------------

#[test]
fn kdbus_vec_4_14() {
    assert_eq!(offset_of!(KdbusVec, size), 0);
    // address and offset are one union at offset 8.
    assert_eq!(offset_of!(KdbusVec, address), 8);
    let mut v = KdbusVec {
        size: 3,
        address: 0,
    };
    v.set_offset(!0);
    assert_eq!(v.offset(), 0xffff_ffff_ffff_ffff);
    assert_eq!(v.address, 0xffff_ffff_ffff_ffff);
    assert_eq!(u64_at(bytes_of(&v), 8), 0xffff_ffff_ffff_ffff);
}

#[test]
fn kdbus_memfd_4_14() {
    assert_eq!(offset_of!(KdbusMemfd, start), 0);
    assert_eq!(offset_of!(KdbusMemfd, size), 8);
    assert_eq!(offset_of!(KdbusMemfd, fd), 16);
    assert_eq!(offset_of!(KdbusMemfd, __pad), 20);
    let m = KdbusMemfd {
        fd: -1,
        ..Default::default()
    };
    let fd: i32 = m.fd;
    let pad: u32 = m.__pad;
    assert_eq!((fd, pad), (-1, 0));
    assert_eq!(u32_at(bytes_of(&m), 16), 0xffff_ffff);
}

#[test]
fn kdbus_bloom_parameter_4_14() {
    assert_eq!(offset_of!(KdbusBloomParameter, size), 0);
    assert_eq!(offset_of!(KdbusBloomParameter, n_hash), 8);
}

#[test]
fn kdbus_bloom_filter_4_14() {
    assert_eq!(offset_of!(KdbusBloomFilter, generation), 0);
    assert_eq!(KdbusBloomFilter::DATA_OFFSET, 8);
}

#[test]
fn kdbus_name_4_14() {
    assert_eq!(offset_of!(KdbusName, flags), 0);
    assert_eq!(KdbusName::NAME_OFFSET, 8);
}

#[test]
fn kdbus_creds_4_14() {
    assert_eq!(offset_of!(KdbusCreds, uid), 0);
    assert_eq!(offset_of!(KdbusCreds, euid), 8);
    assert_eq!(offset_of!(KdbusCreds, suid), 16);
    assert_eq!(offset_of!(KdbusCreds, fsuid), 24);
    assert_eq!(offset_of!(KdbusCreds, gid), 32);
    assert_eq!(offset_of!(KdbusCreds, egid), 40);
    assert_eq!(offset_of!(KdbusCreds, sgid), 48);
    assert_eq!(offset_of!(KdbusCreds, fsgid), 56);
}

#[test]
fn kdbus_pids_4_14() {
    assert_eq!(offset_of!(KdbusPids, pid), 0);
    assert_eq!(offset_of!(KdbusPids, tid), 8);
    assert_eq!(offset_of!(KdbusPids, ppid), 16);
}

#[test]
fn kdbus_caps_4_14() {
    assert_eq!(offset_of!(KdbusCaps, last_cap), 0);
    assert_eq!(KdbusCaps::CAPS_OFFSET, 4);
    let c = KdbusCaps { last_cap: 40 };
    let last: u32 = c.last_cap;
    assert_eq!(last, 40);
}

#[test]
fn kdbus_audit_4_14() {
    assert_eq!(offset_of!(KdbusAudit, sessionid), 0);
    assert_eq!(offset_of!(KdbusAudit, loginuid), 4);
    let a = KdbusAudit {
        sessionid: 1,
        loginuid: 0xffff_ffff,
    };
    let (s, l): (u32, u32) = (a.sessionid, a.loginuid);
    assert_eq!((s, l), (1, 0xffff_ffff));
}

#[test]
fn kdbus_timestamp_4_14() {
    assert_eq!(offset_of!(KdbusTimestamp, seqnum), 0);
    assert_eq!(offset_of!(KdbusTimestamp, monotonic_ns), 8);
    assert_eq!(offset_of!(KdbusTimestamp, realtime_ns), 16);
}

#[test]
fn kdbus_notify_id_change_4_14() {
    assert_eq!(offset_of!(KdbusNotifyIdChange, id), 0);
    assert_eq!(offset_of!(KdbusNotifyIdChange, flags), 8);
}

#[test]
fn kdbus_notify_name_change_4_14() {
    assert_eq!(offset_of!(KdbusNotifyNameChange, old_id), 0);
    assert_eq!(offset_of!(KdbusNotifyNameChange, new_id), 16);
    assert_eq!(offset_of!(KdbusNotifyNameChange, old_id.id), 0);
    assert_eq!(offset_of!(KdbusNotifyNameChange, old_id.flags), 8);
    assert_eq!(offset_of!(KdbusNotifyNameChange, new_id.id), 16);
    assert_eq!(offset_of!(KdbusNotifyNameChange, new_id.flags), 24);
    assert_eq!(KdbusNotifyNameChange::NAME_OFFSET, 32);
}

#[test]
fn kdbus_policy_access_4_14() {
    assert_eq!(offset_of!(KdbusPolicyAccess, r#type), 0);
    assert_eq!(offset_of!(KdbusPolicyAccess, access), 8);
    assert_eq!(offset_of!(KdbusPolicyAccess, id), 16);
}

// ---------------------------------------------------------------------------
// Byte-level round trips (independent of offset_of!)
// ---------------------------------------------------------------------------

#[test]
fn hello_bytes_match_table_4_3() {
    let mut id128 = [0u8; 16];
    for (i, b) in id128.iter_mut().enumerate() {
        *b = 0xa0 + i as u8;
    }
    let h = KdbusCmdHello {
        size: 0x11,
        flags: 0x22,
        return_flags: 0x33,
        attach_flags_send: 0x44,
        attach_flags_recv: 0x55,
        bus_flags: 0x66,
        id: 0x77,
        pool_size: 0x88,
        offset: 0x99,
        items_size: 0xaa,
        id128,
    };
    let b = bytes_of(&h);
    assert_eq!(b.len(), 96);
    assert_eq!(u64_at(b, 0), 0x11);
    assert_eq!(u64_at(b, 8), 0x22);
    assert_eq!(u64_at(b, 16), 0x33);
    assert_eq!(u64_at(b, 24), 0x44);
    assert_eq!(u64_at(b, 32), 0x55);
    assert_eq!(u64_at(b, 40), 0x66);
    assert_eq!(u64_at(b, 48), 0x77);
    assert_eq!(u64_at(b, 56), 0x88);
    assert_eq!(u64_at(b, 64), 0x99);
    assert_eq!(u64_at(b, 72), 0xaa);
    assert_eq!(&b[80..96], &id128);
}

#[test]
fn recv_bytes_match_table_4_10() {
    let r = KdbusCmdRecv {
        size: 64,
        flags: KDBUS_RECV_PEEK,
        return_flags: KDBUS_RECV_RETURN_DROPPED_MSGS,
        priority: -2,
        dropped_msgs: 7,
        msg: KdbusMsgInfo {
            offset: 0x1000,
            msg_size: 0x48,
            return_flags: KDBUS_RECV_RETURN_INCOMPLETE_FDS,
        },
    };
    let b = bytes_of(&r);
    assert_eq!(u64_at(b, 0), 64);
    assert_eq!(u64_at(b, 8), 1);
    assert_eq!(u64_at(b, 16), 2);
    assert_eq!(u64_at(b, 24), (-2i64) as u64);
    assert_eq!(u64_at(b, 32), 7);
    assert_eq!(u64_at(b, 40), 0x1000);
    assert_eq!(u64_at(b, 48), 0x48);
    assert_eq!(u64_at(b, 56), 1);
}

#[test]
fn hello_slice_8_1() {
    // The 32-byte HELLO reply slice: one BLOOM_PARAMETER item.
    #[repr(C, align(8))]
    struct Buf([u8; 32]);
    let mut buf = Buf([0; 32]);
    buf.0[0..8].copy_from_slice(&32u64.to_ne_bytes());
    buf.0[8..16].copy_from_slice(&7u64.to_ne_bytes());
    buf.0[16..24].copy_from_slice(&64u64.to_ne_bytes());
    buf.0[24..32].copy_from_slice(&3u64.to_ne_bytes());
    let p = buf.0.as_ptr();
    // SAFETY: the buffer is 8-aligned, 32 bytes long and fully initialised.
    let hdr = unsafe { p.cast::<KdbusItemHeader>().read() };
    assert_eq!(hdr.size, 32);
    assert_eq!(hdr.r#type, KDBUS_ITEM_BLOOM_PARAMETER);
    // SAFETY: as above; the payload starts at the item header size.
    let bloom = unsafe {
        p.add(KdbusItem::DATA_OFFSET)
            .cast::<KdbusBloomParameter>()
            .read()
    };
    assert_eq!(bloom.size, 64);
    assert_eq!(bloom.n_hash, 3);
    assert_eq!(item_size(size_of::<KdbusBloomParameter>() as u64), 32);
}

#[test]
fn item_list_walk_6_1() {
    // NAME "a.b" (size 16 + 4 = 20, padded to 24) followed by ID (size 24).
    #[repr(C, align(8))]
    struct Buf([u8; 48]);
    let mut buf = Buf([0; 48]);
    buf.0[0..8].copy_from_slice(&20u64.to_ne_bytes());
    buf.0[8..16].copy_from_slice(&KDBUS_ITEM_NAME.to_ne_bytes());
    buf.0[16..20].copy_from_slice(b"a.b\0");
    buf.0[24..32].copy_from_slice(&24u64.to_ne_bytes());
    buf.0[32..40].copy_from_slice(&KDBUS_ITEM_ID.to_ne_bytes());
    buf.0[40..48].copy_from_slice(&42u64.to_ne_bytes());
    let mut off = 0usize;
    let mut seen = [(0u64, 0u64); 2];
    let mut n = 0;
    while off < buf.0.len() {
        let size = u64_at(&buf.0, off);
        let ty = u64_at(&buf.0, off + 8);
        seen[n] = (ty, item_payload_size(size).unwrap());
        n += 1;
        off += align8(size) as usize;
    }
    assert_eq!(off, 48);
    assert_eq!(seen, [(15, 4), (14, 8)]);
}

// ---------------------------------------------------------------------------
// §3.1 ioctl request numbers
// ---------------------------------------------------------------------------

/// (request, nr, direction `_IOW`=1/`_IOR`=2/`_IOWR`=3, argument size) per §3.1.
const COMMANDS: [(u32, u8, u32, usize); 16] = [
    (KDBUS_CMD_BUS_MAKE, 0x00, 1, 24),
    (KDBUS_CMD_ENDPOINT_MAKE, 0x10, 1, 24),
    (KDBUS_CMD_ENDPOINT_UPDATE, 0x11, 1, 24),
    (KDBUS_CMD_HELLO, 0x80, 3, 96),
    (KDBUS_CMD_UPDATE, 0x81, 1, 24),
    (KDBUS_CMD_BYEBYE, 0x82, 1, 24),
    (KDBUS_CMD_FREE, 0x83, 1, 32),
    (KDBUS_CMD_CONN_INFO, 0x84, 2, 56),
    (KDBUS_CMD_BUS_CREATOR_INFO, 0x85, 2, 56),
    (KDBUS_CMD_LIST, 0x86, 2, 40),
    (KDBUS_CMD_SEND, 0x90, 1, 56),
    (KDBUS_CMD_RECV, 0x91, 2, 64),
    (KDBUS_CMD_NAME_ACQUIRE, 0xa0, 1, 24),
    (KDBUS_CMD_NAME_RELEASE, 0xa1, 1, 24),
    (KDBUS_CMD_MATCH_ADD, 0xb0, 1, 32),
    (KDBUS_CMD_MATCH_REMOVE, 0xb1, 1, 32),
];

#[test]
fn ioctl_fields_3_1() {
    for (req, nr, dir, size) in COMMANDS {
        assert_eq!(ioc_type(req), 0x95, "{req:#x}");
        assert_eq!(ioc_nr(req), nr, "{req:#x}");
        assert_eq!(ioc_size(req), size, "{req:#x}");
        let expected_dir = match dir {
            1 => IOC_WRITE,
            2 => IOC_READ,
            3 => IOC_READ | IOC_WRITE,
            _ => unreachable!(),
        };
        assert_eq!(ioc_dir(req), expected_dir, "{req:#x}");
    }
}

#[test]
fn ioctl_numbers_distinct_and_ranged_3_1() {
    for (i, a) in COMMANDS.iter().enumerate() {
        for b in &COMMANDS[i + 1..] {
            assert_ne!(a.0, b.0);
        }
    }
    // 0x00-0x0f bus owner, 0x10-0x1f endpoint owner, 0x80-0xff connection.
    assert!(ioc_nr(KDBUS_CMD_BUS_MAKE) <= 0x0f);
    for req in [KDBUS_CMD_ENDPOINT_MAKE, KDBUS_CMD_ENDPOINT_UPDATE] {
        assert!((0x10..=0x1f).contains(&ioc_nr(req)));
    }
    for (req, ..) in &COMMANDS[3..] {
        assert!(ioc_nr(*req) >= 0x80);
    }
}

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
mod generic_ioc {
    use kdbus_uapi::*;

    #[test]
    fn ioctl_numbers_x86_64_3_1() {
        assert_eq!(KDBUS_CMD_BUS_MAKE, 0x40189500);
        assert_eq!(KDBUS_CMD_ENDPOINT_MAKE, 0x40189510);
        assert_eq!(KDBUS_CMD_ENDPOINT_UPDATE, 0x40189511);
        assert_eq!(KDBUS_CMD_HELLO, 0xc0609580);
        assert_eq!(KDBUS_CMD_UPDATE, 0x40189581);
        assert_eq!(KDBUS_CMD_BYEBYE, 0x40189582);
        assert_eq!(KDBUS_CMD_FREE, 0x40209583);
        assert_eq!(KDBUS_CMD_CONN_INFO, 0x80389584);
        assert_eq!(KDBUS_CMD_BUS_CREATOR_INFO, 0x80389585);
        assert_eq!(KDBUS_CMD_LIST, 0x80289586);
        assert_eq!(KDBUS_CMD_SEND, 0x40389590);
        assert_eq!(KDBUS_CMD_RECV, 0x80409591);
        assert_eq!(KDBUS_CMD_NAME_ACQUIRE, 0x401895a0);
        assert_eq!(KDBUS_CMD_NAME_RELEASE, 0x401895a1);
        assert_eq!(KDBUS_CMD_MATCH_ADD, 0x402095b0);
        assert_eq!(KDBUS_CMD_MATCH_REMOVE, 0x402095b1);
    }

    #[test]
    fn man_page_numbers_are_wrong_14() {
        // §14: kdbus.xml lists these; the code computes different values.
        assert_ne!(KDBUS_CMD_UPDATE, 0x40209551);
        assert_ne!(KDBUS_CMD_CONN_INFO, 0x80309584);
        assert_ne!(KDBUS_CMD_BUS_CREATOR_INFO, 0x80309585);
    }

    #[test]
    fn ioc_encoding_generic() {
        // request = dir << 30 | size << 16 | type << 8 | nr
        assert_eq!(IOC_NONE, 0);
        assert_eq!(IOC_WRITE, 1);
        assert_eq!(IOC_READ, 2);
        assert_eq!(IOC_NRSHIFT, 0);
        assert_eq!(IOC_TYPESHIFT, 8);
        assert_eq!(IOC_SIZESHIFT, 16);
        assert_eq!(IOC_DIRSHIFT, 30);
        assert_eq!(ioc(1, 0x95, 0x00, 24), 0x40189500);
        assert_eq!(iow(0x95, 0x00, 24), 0x40189500);
        assert_eq!(ior(0x95, 0x84, 56), 0x80389584);
        assert_eq!(iowr(0x95, 0x80, 96), 0xc0609580);
        assert_eq!(io(0x95, 0x01), 0x00009501);
        assert_eq!(ioc(3, 0xff, 0xff, 0x3fff), 0xffff_ffff);
    }
}

// ---------------------------------------------------------------------------
// §2 fundamental constants, §1 filesystem identifiers
// ---------------------------------------------------------------------------

#[test]
fn fundamental_constants_2() {
    assert_eq!(KDBUS_IOCTL_MAGIC, 0x95);
    assert_eq!(KDBUS_SRC_ID_KERNEL, 0);
    assert_eq!(KDBUS_DST_ID_NAME, 0);
    assert_eq!(KDBUS_DST_ID_BROADCAST, 0xffffffffffffffff);
    assert_eq!(KDBUS_MATCH_ID_ANY, 0xffffffffffffffff);
    assert_eq!(KDBUS_FLAG_NEGOTIATE, 0x8000000000000000);
    assert_eq!(KDBUS_FLAG_NEGOTIATE, 1u64 << 63);
}

#[test]
fn filesystem_identifiers_1() {
    assert_eq!(KDBUS_SUPER_MAGIC, 0x44427573);
    assert_eq!(&KDBUS_SUPER_MAGIC.to_be_bytes(), b"DBus");
    assert_eq!(KDBUS_FS_TYPE, "kdbusfs");
    assert_eq!(KDBUS_DEFAULT_MOUNT_POINT, "/sys/fs/kdbus");
    assert_eq!(KDBUS_CONTROL_NODE, "control");
    assert_eq!(KDBUS_BUS_ENDPOINT_NODE, "bus");
    assert_eq!(KDBUS_ATTACH_FLAGS_MASK_DEFAULT, 0x281f);
}

// ---------------------------------------------------------------------------
// §5.1 item types
// ---------------------------------------------------------------------------

#[test]
fn item_types_5_1() {
    assert_eq!(_KDBUS_ITEM_NULL, 0);
    assert_eq!(_KDBUS_ITEM_USER_BASE, 1);
    assert_eq!(KDBUS_ITEM_NEGOTIATE, 1);
    assert_eq!(KDBUS_ITEM_PAYLOAD_VEC, 2);
    assert_eq!(KDBUS_ITEM_PAYLOAD_OFF, 3);
    assert_eq!(KDBUS_ITEM_PAYLOAD_MEMFD, 4);
    assert_eq!(KDBUS_ITEM_FDS, 5);
    assert_eq!(KDBUS_ITEM_CANCEL_FD, 6);
    assert_eq!(KDBUS_ITEM_BLOOM_PARAMETER, 7);
    assert_eq!(KDBUS_ITEM_BLOOM_FILTER, 8);
    assert_eq!(KDBUS_ITEM_BLOOM_MASK, 9);
    assert_eq!(KDBUS_ITEM_DST_NAME, 10);
    assert_eq!(KDBUS_ITEM_MAKE_NAME, 11);
    assert_eq!(KDBUS_ITEM_ATTACH_FLAGS_SEND, 12);
    assert_eq!(KDBUS_ITEM_ATTACH_FLAGS_RECV, 13);
    assert_eq!(KDBUS_ITEM_ID, 14);
    assert_eq!(KDBUS_ITEM_NAME, 15);

    assert_eq!(_KDBUS_ITEM_ATTACH_BASE, 0x1000);
    assert_eq!(KDBUS_ITEM_TIMESTAMP, 0x1000);
    assert_eq!(KDBUS_ITEM_CREDS, 0x1001);
    assert_eq!(KDBUS_ITEM_PIDS, 0x1002);
    assert_eq!(KDBUS_ITEM_AUXGROUPS, 0x1003);
    assert_eq!(KDBUS_ITEM_OWNED_NAME, 0x1004);
    assert_eq!(KDBUS_ITEM_TID_COMM, 0x1005);
    assert_eq!(KDBUS_ITEM_PID_COMM, 0x1006);
    assert_eq!(KDBUS_ITEM_EXE, 0x1007);
    assert_eq!(KDBUS_ITEM_CMDLINE, 0x1008);
    assert_eq!(KDBUS_ITEM_CGROUP, 0x1009);
    assert_eq!(KDBUS_ITEM_CAPS, 0x100a);
    assert_eq!(KDBUS_ITEM_SECLABEL, 0x100b);
    assert_eq!(KDBUS_ITEM_AUDIT, 0x100c);
    assert_eq!(KDBUS_ITEM_CONN_DESCRIPTION, 0x100d);

    assert_eq!(_KDBUS_ITEM_POLICY_BASE, 0x2000);
    assert_eq!(KDBUS_ITEM_POLICY_ACCESS, 0x2000);

    assert_eq!(_KDBUS_ITEM_KERNEL_BASE, 0x8000);
    assert_eq!(KDBUS_ITEM_NAME_ADD, 0x8000);
    assert_eq!(KDBUS_ITEM_NAME_REMOVE, 0x8001);
    assert_eq!(KDBUS_ITEM_NAME_CHANGE, 0x8002);
    assert_eq!(KDBUS_ITEM_ID_ADD, 0x8003);
    assert_eq!(KDBUS_ITEM_ID_REMOVE, 0x8004);
    assert_eq!(KDBUS_ITEM_REPLY_TIMEOUT, 0x8005);
    assert_eq!(KDBUS_ITEM_REPLY_DEAD, 0x8006);
}

#[test]
fn metadata_item_matches_attach_bit_5_1() {
    // The metadata item type is 0x1000 + n where 1 << n is the attach bit.
    let pairs = [
        (KDBUS_ITEM_TIMESTAMP, KDBUS_ATTACH_TIMESTAMP),
        (KDBUS_ITEM_CREDS, KDBUS_ATTACH_CREDS),
        (KDBUS_ITEM_PIDS, KDBUS_ATTACH_PIDS),
        (KDBUS_ITEM_AUXGROUPS, KDBUS_ATTACH_AUXGROUPS),
        (KDBUS_ITEM_OWNED_NAME, KDBUS_ATTACH_NAMES),
        (KDBUS_ITEM_TID_COMM, KDBUS_ATTACH_TID_COMM),
        (KDBUS_ITEM_PID_COMM, KDBUS_ATTACH_PID_COMM),
        (KDBUS_ITEM_EXE, KDBUS_ATTACH_EXE),
        (KDBUS_ITEM_CMDLINE, KDBUS_ATTACH_CMDLINE),
        (KDBUS_ITEM_CGROUP, KDBUS_ATTACH_CGROUP),
        (KDBUS_ITEM_CAPS, KDBUS_ATTACH_CAPS),
        (KDBUS_ITEM_SECLABEL, KDBUS_ATTACH_SECLABEL),
        (KDBUS_ITEM_AUDIT, KDBUS_ATTACH_AUDIT),
        (KDBUS_ITEM_CONN_DESCRIPTION, KDBUS_ATTACH_CONN_DESCRIPTION),
    ];
    let mut all = 0;
    for (item, bit) in pairs {
        assert_eq!(bit, 1 << (item - 0x1000), "{item:#x}");
        all |= bit;
    }
    assert_eq!(all, _KDBUS_ATTACH_ALL);
}

// ---------------------------------------------------------------------------
// §5.2 - §5.12 flags and enumerations
// ---------------------------------------------------------------------------

#[test]
fn attach_flags_5_2() {
    assert_eq!(KDBUS_ATTACH_TIMESTAMP, 0x1);
    assert_eq!(KDBUS_ATTACH_CREDS, 0x2);
    assert_eq!(KDBUS_ATTACH_PIDS, 0x4);
    assert_eq!(KDBUS_ATTACH_AUXGROUPS, 0x8);
    assert_eq!(KDBUS_ATTACH_NAMES, 0x10);
    assert_eq!(KDBUS_ATTACH_TID_COMM, 0x20);
    assert_eq!(KDBUS_ATTACH_PID_COMM, 0x40);
    assert_eq!(KDBUS_ATTACH_EXE, 0x80);
    assert_eq!(KDBUS_ATTACH_CMDLINE, 0x100);
    assert_eq!(KDBUS_ATTACH_CGROUP, 0x200);
    assert_eq!(KDBUS_ATTACH_CAPS, 0x400);
    assert_eq!(KDBUS_ATTACH_SECLABEL, 0x800);
    assert_eq!(KDBUS_ATTACH_AUDIT, 0x1000);
    assert_eq!(KDBUS_ATTACH_CONN_DESCRIPTION, 0x2000);
    assert_eq!(_KDBUS_ATTACH_ALL, 0x3fff);
    assert_eq!(_KDBUS_ATTACH_ANY, 0xffffffffffffffff);
}

#[test]
fn attach_flags_mask_default_5_2() {
    // 0x281f = TIMESTAMP | CREDS | PIDS | AUXGROUPS | NAMES | SECLABEL | CONN_DESCRIPTION
    assert_eq!(
        KDBUS_ATTACH_TIMESTAMP
            | KDBUS_ATTACH_CREDS
            | KDBUS_ATTACH_PIDS
            | KDBUS_ATTACH_AUXGROUPS
            | KDBUS_ATTACH_NAMES
            | KDBUS_ATTACH_SECLABEL
            | KDBUS_ATTACH_CONN_DESCRIPTION,
        0x281f
    );
    assert_eq!(KDBUS_ATTACH_FLAGS_MASK_DEFAULT, 0x281f);
    let never = KDBUS_ATTACH_TID_COMM
        | KDBUS_ATTACH_PID_COMM
        | KDBUS_ATTACH_EXE
        | KDBUS_ATTACH_CMDLINE
        | KDBUS_ATTACH_CGROUP
        | KDBUS_ATTACH_CAPS
        | KDBUS_ATTACH_AUDIT;
    assert_eq!(KDBUS_ATTACH_FLAGS_MASK_DEFAULT & never, 0);
    assert_eq!(KDBUS_ATTACH_FLAGS_MASK_DEFAULT | never, 0x3fff);
}

#[test]
fn hello_flags_5_3() {
    assert_eq!(KDBUS_HELLO_ACCEPT_FD, 1);
    assert_eq!(KDBUS_HELLO_ACTIVATOR, 2);
    assert_eq!(KDBUS_HELLO_POLICY_HOLDER, 4);
    assert_eq!(KDBUS_HELLO_MONITOR, 8);
}

#[test]
fn make_flags_5_4() {
    assert_eq!(KDBUS_MAKE_ACCESS_GROUP, 1);
    assert_eq!(KDBUS_MAKE_ACCESS_WORLD, 2);
}

#[test]
fn name_flags_5_5() {
    assert_eq!(KDBUS_NAME_REPLACE_EXISTING, 1);
    assert_eq!(KDBUS_NAME_ALLOW_REPLACEMENT, 2);
    assert_eq!(KDBUS_NAME_QUEUE, 4);
    assert_eq!(KDBUS_NAME_IN_QUEUE, 8);
    assert_eq!(KDBUS_NAME_ACTIVATOR, 0x10);
}

#[test]
fn list_flags_5_6() {
    assert_eq!(KDBUS_LIST_UNIQUE, 1);
    assert_eq!(KDBUS_LIST_NAMES, 2);
    assert_eq!(KDBUS_LIST_ACTIVATORS, 4);
    assert_eq!(KDBUS_LIST_QUEUED, 8);
}

#[test]
fn send_flags_5_7() {
    assert_eq!(KDBUS_SEND_SYNC_REPLY, 1);
}

#[test]
fn recv_flags_5_8() {
    assert_eq!(KDBUS_RECV_PEEK, 1);
    assert_eq!(KDBUS_RECV_DROP, 2);
    assert_eq!(KDBUS_RECV_USE_PRIORITY, 4);
    assert_eq!(KDBUS_RECV_RETURN_INCOMPLETE_FDS, 1);
    assert_eq!(KDBUS_RECV_RETURN_DROPPED_MSGS, 2);
}

#[test]
fn msg_flags_5_9() {
    assert_eq!(KDBUS_MSG_EXPECT_REPLY, 1);
    assert_eq!(KDBUS_MSG_NO_AUTO_START, 2);
    assert_eq!(KDBUS_MSG_SIGNAL, 4);
}

#[test]
fn match_flags_5_10() {
    assert_eq!(KDBUS_MATCH_REPLACE, 1);
}

#[test]
fn policy_5_11() {
    assert_eq!(_KDBUS_POLICY_ACCESS_NULL, 0);
    assert_eq!(KDBUS_POLICY_ACCESS_USER, 1);
    assert_eq!(KDBUS_POLICY_ACCESS_GROUP, 2);
    assert_eq!(KDBUS_POLICY_ACCESS_WORLD, 3);
    assert_eq!(KDBUS_POLICY_SEE, 0);
    assert_eq!(KDBUS_POLICY_TALK, 1);
    assert_eq!(KDBUS_POLICY_OWN, 2);
}

#[test]
fn payload_types_5_12() {
    assert_eq!(KDBUS_PAYLOAD_KERNEL, 0);
    assert_eq!(KDBUS_PAYLOAD_DBUS, 0x4442757344427573);
    assert_eq!(&KDBUS_PAYLOAD_DBUS.to_be_bytes(), b"DBusDBus");
}

#[test]
fn negotiate_write_back_values_5_13() {
    assert_eq!(KDBUS_MAKE_ACCESS_GROUP | KDBUS_MAKE_ACCESS_WORLD, 0x3);
    assert_eq!(
        KDBUS_HELLO_ACCEPT_FD
            | KDBUS_HELLO_ACTIVATOR
            | KDBUS_HELLO_POLICY_HOLDER
            | KDBUS_HELLO_MONITOR,
        0xf
    );
    assert_eq!(
        KDBUS_LIST_UNIQUE | KDBUS_LIST_NAMES | KDBUS_LIST_ACTIVATORS | KDBUS_LIST_QUEUED,
        0xf
    );
    assert_eq!(KDBUS_SEND_SYNC_REPLY, 0x1);
    assert_eq!(
        KDBUS_RECV_PEEK | KDBUS_RECV_DROP | KDBUS_RECV_USE_PRIORITY,
        0x7
    );
    // The extension takes the next bit (`Documentation/kdbus/deviations.rst`).
    assert_eq!(KDBUS_RECV_FREE, 0x8);
    assert_eq!(
        KDBUS_NAME_REPLACE_EXISTING | KDBUS_NAME_ALLOW_REPLACEMENT | KDBUS_NAME_QUEUE,
        0x7
    );
    assert_eq!(KDBUS_MATCH_REPLACE, 0x1);
    // No accepted flag set overlaps the negotiate bit.
    for set in [0x3u64, 0xf, 0x1, 0x7] {
        assert_eq!(set & KDBUS_FLAG_NEGOTIATE, 0);
    }
}

#[test]
fn constants_quick_table_13() {
    // Spot the §13 "1 << n" spellings once more, as the table gives them.
    assert_eq!(KDBUS_ATTACH_CONN_DESCRIPTION, 1 << 13);
    assert_eq!(KDBUS_NAME_ACTIVATOR, 1 << 4);
    assert_eq!(KDBUS_LIST_QUEUED, 1 << 3);
    assert_eq!(KDBUS_HELLO_MONITOR, 1 << 3);
    assert_eq!(KDBUS_MSG_SIGNAL, 1 << 2);
    assert_eq!(KDBUS_RECV_USE_PRIORITY, 1 << 2);
    assert_eq!(KDBUS_RECV_RETURN_DROPPED_MSGS, 1 << 1);
    assert_eq!(KDBUS_MAKE_ACCESS_WORLD, 1 << 1);
}

// ---------------------------------------------------------------------------
// §9 limits
// ---------------------------------------------------------------------------

#[test]
fn limits_9() {
    assert_eq!(KDBUS_CMD_MAX_SIZE, 32768);
    assert_eq!(KDBUS_MSG_MAX_SIZE, 8192);
    assert_eq!(KDBUS_MSG_MAX_ITEMS, 128);
    assert_eq!(KDBUS_MSG_MAX_MEMFD_ITEMS, 16);
    assert_eq!(KDBUS_MSG_MAX_PAYLOAD_VEC_SIZE, 2097152);
    assert_eq!(KDBUS_MSG_MAX_PAYLOAD_VEC_SIZE, 2 * 1024 * 1024);
    assert_eq!(KDBUS_CONN_MAX_FDS_PER_USER, 16);
    assert_eq!(KDBUS_BUS_BLOOM_MAX_SIZE, 4096);
    assert_eq!(KDBUS_NAME_MAX_LEN, 255);
    assert_eq!(KDBUS_SYSNAME_MAX_LEN, 63);
    assert_eq!(KDBUS_MATCH_MAX, 256);
    assert_eq!(KDBUS_CONN_MAX_MSGS, 256);
    assert_eq!(KDBUS_CONN_MAX_NAMES, 256);
    assert_eq!(KDBUS_CONN_MAX_REQUESTS_PENDING, 128);
    assert_eq!(KDBUS_USER_MAX_CONN, 1024);
    assert_eq!(KDBUS_USER_MAX_BUSES, 16);
}

#[test]
fn limits_consistent_with_structs() {
    // Every command struct fits the command limit; the message header fits
    // the message limit (§7.1 step 2/3, §9).
    let largest = [24u64, 32, 40, 56, 64, 96];
    for s in largest {
        assert!(s <= KDBUS_CMD_MAX_SIZE);
    }
    assert!(size_of::<KdbusMsg>() as u64 <= KDBUS_MSG_MAX_SIZE);
}

// ---------------------------------------------------------------------------
// §5.14 helper arithmetic, §6 / §8 worked sizes
// ---------------------------------------------------------------------------

#[test]
fn align8_5_14() {
    assert_eq!(align8(0), 0);
    assert_eq!(align8(1), 8);
    assert_eq!(align8(7), 8);
    assert_eq!(align8(8), 8);
    assert_eq!(align8(9), 16);
    assert_eq!(align8(52), 56);
    assert_eq!(checked_align8(0), Some(0));
    assert_eq!(checked_align8(13), Some(16));
    assert_eq!(checked_align8(u64::MAX - 7), Some(u64::MAX - 7));
    assert_eq!(checked_align8(u64::MAX - 6), None);
    assert_eq!(checked_align8(u64::MAX), None);
}

#[test]
fn item_size_5_14() {
    assert_eq!(KDBUS_ITEM_HEADER_SIZE, 16);
    assert_eq!(item_size(0), 16);
    assert_eq!(item_size(1), 24);
    assert_eq!(item_size(8), 24);
    assert_eq!(item_size(9), 32);
    assert_eq!(item_payload_size(16), Some(0));
    assert_eq!(item_payload_size(52), Some(36));
    assert_eq!(item_payload_size(15), None);
    assert_eq!(item_payload_size(0), None);
}

#[test]
fn worked_item_sizes_from_spec() {
    // §8.1 HELLO slice: one BLOOM_PARAMETER item, 32 bytes.
    assert_eq!(16 + size_of::<KdbusBloomParameter>() as u64, 32);
    assert_eq!(item_size(16), 32);
    // §4.14 CAPS: payload 4 + 32 = 36, item size 52, padded 56.
    assert_eq!(KdbusCaps::CAPS_OFFSET as u64 + 4 * 2 * 4, 36);
    assert_eq!(KDBUS_ITEM_HEADER_SIZE + 36, 52);
    assert_eq!(item_size(36), 56);
    // §6.2 sysname rule: 18 <= item.size <= 16 + 63 + 1 = 80.
    assert_eq!(KDBUS_ITEM_HEADER_SIZE + 1 + 1, 18);
    assert_eq!(
        KDBUS_ITEM_HEADER_SIZE + KDBUS_SYSNAME_MAX_LEN as u64 + 1,
        80
    );
    // §8.3 notifications: ID_* item 32, REPLY_* item 16, NAME_* padded.
    assert_eq!(item_size(size_of::<KdbusNotifyIdChange>() as u64), 32);
    assert_eq!(item_size(0), 16);
    let name = "org.example.Foo"; // 15 characters
    assert_eq!(
        item_size(KdbusNotifyNameChange::NAME_OFFSET as u64 + name.len() as u64 + 1),
        align8(16 + 32 + 15 + 1)
    );
    assert_eq!(align8(16 + 32 + 15 + 1), 64);
    // §8.5 LIST name record: 24 + ALIGN8(24 + strlen + 1).
    let owned_name_item = KDBUS_ITEM_HEADER_SIZE + KdbusName::NAME_OFFSET as u64 + 15 + 1;
    assert_eq!(owned_name_item, 24 + 15 + 1);
    assert_eq!(
        KdbusInfo::ITEMS_OFFSET as u64 + align8(owned_name_item),
        24 + 40
    );
    // §8.2 PAYLOAD_OFF item size 32, PAYLOAD_MEMFD item size 40.
    assert_eq!(16 + size_of::<KdbusVec>() as u64, 32);
    assert_eq!(16 + size_of::<KdbusMemfd>() as u64, 40);
    // §8.6 metadata item sizes: CREDS 80, PIDS 40, TIMESTAMP 40, AUDIT 24.
    assert_eq!(16 + size_of::<KdbusCreds>() as u64, 80);
    assert_eq!(16 + size_of::<KdbusPids>() as u64, 40);
    assert_eq!(16 + size_of::<KdbusTimestamp>() as u64, 40);
    assert_eq!(16 + size_of::<KdbusAudit>() as u64, 24);
    // §6.2 exact payload sizes of fixed-size items.
    assert_eq!(size_of::<KdbusPolicyAccess>(), 24);
    assert_eq!(size_of::<u64>(), 8); // ATTACH_FLAGS_*, ID
    assert_eq!(size_of::<i32>(), 4); // CANCEL_FD
}

#[test]
fn derives_are_usable() {
    // Clone/Copy/Debug/Default/PartialEq on the plain structures.
    let a = KdbusCmdList::default();
    let b = a;
    assert_eq!(a, b);
    assert!(format!("{a:?}").contains("list_size"));
    let p = KdbusPolicyAccess {
        r#type: KDBUS_POLICY_ACCESS_WORLD,
        access: KDBUS_POLICY_TALK,
        id: 0,
    };
    assert!(format!("{p:?}").contains("type: 3"));
    let payload = KdbusItemPayload::default();
    assert!(format!("{payload:?}").starts_with("KdbusItemPayload"));
}
