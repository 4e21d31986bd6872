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

use crate::{bus::Bus, item::put_u64, message::off, uapi::*};

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
pub(crate) const REPLY_NOTIFICATION_SIZE: usize = 80;

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
    let mut m = [0u8; REPLY_NOTIFICATION_SIZE];
    put_u64(&mut m, off::SIZE, REPLY_NOTIFICATION_SIZE as u64);
    put_u64(&mut m, off::FLAGS, KDBUS_MSG_SIGNAL);
    put_u64(&mut m, off::DST_ID, target);
    put_u64(&mut m, off::SRC_ID, KDBUS_SRC_ID_KERNEL);
    put_u64(&mut m, off::PAYLOAD_TYPE, KDBUS_PAYLOAD_KERNEL);
    put_u64(&mut m, off::TIMEOUT, cookie);
    put_u64(&mut m, 64, 16);
    put_u64(&mut m, 72, ty);
    m
}

#[kunit_tests(kdbus_notify)]
mod tests {
    use super::*;
    use crate::item::get_u64;

    #[test]
    fn reply_notification_layout() {
        let m = reply_message(7, KDBUS_ITEM_REPLY_DEAD, 0x1234);
        assert_eq!(get_u64(&m, off::SIZE), 80);
        assert_eq!(get_u64(&m, off::FLAGS), KDBUS_MSG_SIGNAL);
        assert_eq!(get_u64(&m, off::PRIORITY), 0);
        assert_eq!(get_u64(&m, off::DST_ID), 7);
        assert_eq!(get_u64(&m, off::SRC_ID), 0);
        assert_eq!(get_u64(&m, off::PAYLOAD_TYPE), 0);
        assert_eq!(get_u64(&m, off::COOKIE), 0);
        assert_eq!(get_u64(&m, off::TIMEOUT), 0x1234);
        assert_eq!(get_u64(&m, 64), 16);
        assert_eq!(get_u64(&m, 72), KDBUS_ITEM_REPLY_DEAD);
    }
}
