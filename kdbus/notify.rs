// SPDX-License-Identifier: GPL-2.0

//! Kernel notifications (`message.md` §7).
//!
//! Notifications are generated while an operation holds its locks and
//! appended to the bus's pending list, with their sequence number drawn at
//! generation; the operation flushes the list once it holds no lock
//! (§7.4). Flushing is serialised per bus, so every recipient sees the
//! notifications of a bus in the order they were generated.
//!
//! REPLY_TIMEOUT and REPLY_DEAD go to the waiting caller without match or
//! policy checks and are silently lost if it cannot take them (§5.8).
//! ID_ADD, ID_REMOVE and NAME_* are broadcasts: they reach the ordinary
//! connections whose match rules accept them and which may see them
//! (§7.3); one that cannot take its copy loses it and counts it lost.
//! Every monitor of the bus gets a copy of each notification before its
//! other recipients, without match or policy checks (§3.7); a REPLY_* only
//! if its target still exists.

use kernel::{alloc::KVec, new_mutex, prelude::*, sync::Mutex};

use crate::{
    bus::Bus,
    item::{ItemSink, SliceSink},
    matches::Event,
    uapi::*,
    wire::{self, ITEM_HEADER, MSG_HEADER},
};

/// What a pending notification says.
enum What {
    /// REPLY_TIMEOUT or REPLY_DEAD (`ty`) for the caller `target` about
    /// its call `cookie`.
    Reply { target: u64, ty: u64, cookie: u64 },
    /// ID_ADD or ID_REMOVE (`ty`) of connection `id` with HELLO `flags`.
    Id { ty: u64, id: u64, flags: u64 },
    /// NAME_ADD, NAME_REMOVE or NAME_CHANGE (`ty`) of `name`, from owner
    /// and flags `old` to `new` (`(0, 0)` for none).
    Name {
        ty: u64,
        old: (u64, u64),
        new: (u64, u64),
        name: KVec<u8>,
    },
}

/// One pending notification.
struct Notification {
    what: What,
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

/// Bytes of an ID_* notification, 96 (§7.1).
const ID_NOTIFICATION_SIZE: usize = MSG_HEADER + ITEM_HEADER + size_of::<KdbusNotifyIdChange>();

impl Notifier {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Notifier {
            pending <- new_mutex!(KVec::new()),
            flush <- new_mutex!(()),
        })
    }

    /// Queues a notification. Like every delivery failure of these,
    /// running out of memory loses it.
    fn push(&self, what: What, seq: u64) {
        let _ = self
            .pending
            .lock()
            .push(Notification { what, seq }, GFP_KERNEL);
    }

    /// Queues a REPLY_TIMEOUT or REPLY_DEAD (`ty`) for connection `target`
    /// about the call with `cookie`.
    pub(crate) fn reply(&self, target: u64, ty: u64, cookie: u64, seq: u64) {
        self.push(What::Reply { target, ty, cookie }, seq);
    }

    /// Queues an ID_ADD or ID_REMOVE (`ty`) of connection `id`, whose HELLO
    /// flags are `flags`.
    pub(crate) fn id(&self, ty: u64, id: u64, flags: u64, seq: u64) {
        self.push(What::Id { ty, id, flags }, seq);
    }

    /// Queues a NAME_* notification (`ty`) of `name` from `old` to `new`
    /// (owner ID and name flags each).
    pub(crate) fn name(&self, ty: u64, old: (u64, u64), new: (u64, u64), name: KVec<u8>, seq: u64) {
        self.push(What::Name { ty, old, new, name }, seq);
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
                n.deliver(bus);
            }
        }
    }
}

impl Notification {
    /// Delivers one notification to its recipients (§7.3).
    fn deliver(&self, bus: &Bus) {
        match &self.what {
            What::Reply { target, ty, cookie } => {
                // Only if the target still exists; failures are silent and
                // not counted (§5.8).
                if let Some(conn) = bus.find_conn(*target) {
                    let m = reply_message(*target, *ty, *cookie);
                    to_monitors(bus, &m, self.seq);
                    let _ = conn.deliver_kernel(&m, self.seq);
                }
            }
            What::Id { ty, id, flags } => {
                let mut m = [0u8; ID_NOTIFICATION_SIZE];
                let change = KdbusNotifyIdChange {
                    id: *id,
                    flags: *flags,
                };
                if encode(&mut m, *ty, wire::bytes(&change), &[]).is_err() {
                    return;
                }
                let ev = Event::Id { ty: *ty, id: *id };
                // ID_* never reach connections on custom endpoints.
                broadcast(bus, &ev, &m, self.seq, |c| c.on_default_endpoint());
            }
            What::Name { ty, old, new, name } => {
                let change = KdbusNotifyNameChange {
                    old_id: KdbusNotifyIdChange {
                        id: old.0,
                        flags: old.1,
                    },
                    new_id: KdbusNotifyIdChange {
                        id: new.0,
                        flags: new.1,
                    },
                };
                let item = (ITEM_HEADER + size_of::<KdbusNotifyNameChange>() + name.len() + 1)
                    .next_multiple_of(8);
                let mut m = KVec::new();
                if m.resize(MSG_HEADER + item, 0, GFP_KERNEL).is_err()
                    || encode(&mut m, *ty, wire::bytes(&change), name).is_err()
                {
                    return;
                }
                let ev = Event::Name {
                    ty: *ty,
                    old: old.0,
                    new: new.0,
                    name,
                };
                broadcast(bus, &ev, &m, self.seq, |c| c.sees_name(name));
            }
        }
    }
}

/// Copies the notification `msg` to every monitor of the bus (§3.7); a
/// monitor that cannot take it counts it lost (§5.8).
fn to_monitors(bus: &Bus, msg: &[u8], seq: u64) {
    bus.for_each_monitor(|m| {
        if m.deliver_kernel(msg, seq).is_err() {
            m.count_lost();
        }
    });
}

/// Delivers the broadcast notification `msg` (`ev` for the match rules)
/// to every monitor, then to every subscriber it matches that `visible`
/// admits; a recipient that cannot take it counts it lost (§5.8).
fn broadcast(
    bus: &Bus,
    ev: &Event<'_>,
    msg: &[u8],
    seq: u64,
    visible: impl Fn(&crate::connection::Connection) -> bool,
) {
    to_monitors(bus, msg, seq);
    let Ok(targets) = bus.match_targets(ev, KDBUS_SRC_ID_KERNEL) else {
        return;
    };
    for c in targets.iter().filter(|c| visible(c)) {
        if c.deliver_kernel(msg, seq).is_err() {
            c.count_lost();
        }
    }
}

/// Writes a broadcast notification (ID_*, NAME_*) into `m`.
fn encode(m: &mut [u8], ty: u64, payload: &[u8], name: &[u8]) -> Result {
    encode_to(m, KDBUS_DST_ID_BROADCAST, 0, ty, payload, name)
}

/// Writes a kernel notification (§7.1) to `dst_id` into `m` (sized for
/// it): the header with `cookie_reply`, one item of type `ty` with
/// `payload` and `name` plus its NUL (when `name` is not empty), whose size
/// counts its padding.
fn encode_to(
    m: &mut [u8],
    dst_id: u64,
    cookie_reply: u64,
    ty: u64,
    payload: &[u8],
    name: &[u8],
) -> Result {
    let len = m.len();
    let head = KdbusMsg {
        size: len as u64,
        flags: KDBUS_MSG_SIGNAL,
        dst_id,
        src_id: KDBUS_SRC_ID_KERNEL,
        payload_type: KDBUS_PAYLOAD_KERNEL,
        timeout_ns: cookie_reply,
        ..KdbusMsg::default()
    };
    let item = KdbusItemHeader {
        size: (len - MSG_HEADER) as u64,
        r#type: ty,
    };
    let mut out = SliceSink::new(m, 0);
    out.put(wire::bytes(&head))?;
    out.put(wire::bytes(&item))?;
    out.put(payload)?;
    if !name.is_empty() {
        out.put(name)?;
        out.put(&[0])?;
    }
    Ok(())
}

/// The header and item of a REPLY_* notification (§7.1): src_id 0, the
/// target's ID as dst_id, payload type 0, SIGNAL, the call's cookie as
/// cookie_reply, one item of 16 bytes without payload.
pub(crate) fn reply_message(target: u64, ty: u64, cookie: u64) -> [u8; REPLY_NOTIFICATION_SIZE] {
    let mut m = [0u8; REPLY_NOTIFICATION_SIZE];
    // Cannot fail: the buffer has exactly the header and the item.
    let _ = encode_to(&mut m, target, cookie, ty, &[], &[]);
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
