// SPDX-License-Identifier: GPL-2.0

//! Kernel notifications (`message.md` §7).
//!
//! Notifications are generated while an operation holds its locks and
//! appended to the bus's pending list, with their sequence number drawn at
//! generation; the operation flushes the list once it holds no lock
//! (§7.4). Flushing is serialised per bus, so every recipient sees the
//! notifications of a bus in the order they were generated.
//!
//! Only the unicast REPLY_TIMEOUT and REPLY_DEAD exist so far; they go to
//! the waiting caller without match or policy checks and are silently lost
//! if it cannot take them (§5.8).

use kernel::{alloc::KVec, new_mutex, prelude::*, sync::Mutex};

use crate::{
    bus::Bus,
    uapi::*,
    wire::{self, ITEM_HEADER, MSG_HEADER},
};

/// One pending notification.
struct Notification {
    /// REPLY_*: the connection waiting for the reply.
    target: u64,
    /// The item type (`KDBUS_ITEM_REPLY_TIMEOUT`, `KDBUS_ITEM_REPLY_DEAD`).
    ty: u64,
    /// REPLY_*: the cookie of the unanswered call.
    cookie: u64,
    seq: u64,
}

/// A bus's notification queue.
#[pin_data]
pub(crate) struct Notifier {
    #[pin]
    pending: Mutex<KVec<Notification>>,
    /// Serialises flushing (taken with no other kdbus lock held).
    #[pin]
    flush: Mutex<()>,
}

/// Size of a REPLY_* notification without metadata (§7.1).
pub(crate) const REPLY_NOTIFICATION_SIZE: usize = MSG_HEADER + ITEM_HEADER;

impl Notifier {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Notifier {
            pending <- new_mutex!(KVec::new()),
            flush <- new_mutex!(()),
        })
    }

    /// Queues a REPLY_TIMEOUT or REPLY_DEAD (`ty`) for connection `target`
    /// about the call with `cookie`. Like every delivery failure of these,
    /// running out of memory loses it silently.
    pub(crate) fn reply(&self, target: u64, ty: u64, cookie: u64, seq: u64) {
        let n = Notification {
            target,
            ty,
            cookie,
            seq,
        };
        let _ = self.pending.lock().push(n, GFP_KERNEL);
    }

    /// Delivers everything pending, in generation order.
    pub(crate) fn flush(&self, bus: &Bus) {
        let _serial = self.flush.lock();
        loop {
            let batch = core::mem::take(&mut *self.pending.lock());
            if batch.is_empty() {
                return;
            }
            for n in batch.into_iter() {
                // Only if the target still exists (§7.3); failures are
                // silent and not counted (§5.8).
                if let Some(conn) = bus.find_conn(n.target) {
                    let _ = conn.deliver_kernel(&reply_message(n.target, n.ty, n.cookie), n.seq);
                }
            }
        }
    }
}

/// The header and item of a REPLY_* notification (§7.1): src_id 0, the
/// target's ID as dst_id, payload type 0, SIGNAL, the call's cookie as
/// cookie_reply, one item of 16 bytes without payload.
pub(crate) fn reply_message(target: u64, ty: u64, cookie: u64) -> [u8; REPLY_NOTIFICATION_SIZE] {
    let head = KdbusMsg {
        size: REPLY_NOTIFICATION_SIZE as u64,
        flags: KDBUS_MSG_SIGNAL,
        dst_id: target,
        src_id: KDBUS_SRC_ID_KERNEL,
        payload_type: KDBUS_PAYLOAD_KERNEL,
        timeout_ns: cookie,
        ..KdbusMsg::default()
    };
    let item = KdbusItemHeader {
        size: ITEM_HEADER as u64,
        r#type: ty,
    };
    let mut m = [0u8; REPLY_NOTIFICATION_SIZE];
    let (h, i) = m.split_at_mut(MSG_HEADER);
    h.copy_from_slice(wire::bytes(&head));
    i.copy_from_slice(wire::bytes(&item));
    m
}

#[kunit_tests(kdbus_notify)]
mod tests {
    use super::*;
    use crate::wire::read_at;

    #[test]
    fn reply_notification_layout() {
        let m = reply_message(7, KDBUS_ITEM_REPLY_DEAD, 0x1234);
        assert_eq!(m.len(), 80);
        let h: Option<KdbusMsg> = read_at(&m, 0);
        let want = KdbusMsg {
            size: 80,
            flags: KDBUS_MSG_SIGNAL,
            dst_id: 7,
            timeout_ns: 0x1234,
            ..KdbusMsg::default()
        };
        assert_eq!(h, Some(want));
        let i: Option<KdbusItemHeader> = read_at(&m, 64);
        assert_eq!(
            i.map(|i| (i.size, i.r#type)),
            Some((16, KDBUS_ITEM_REPLY_DEAD))
        );
    }
}
