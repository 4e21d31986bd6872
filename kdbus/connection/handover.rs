// SPDX-License-Identifier: GPL-2.0

//! The hand-over of queued messages between an activator and the
//! implementer of its name (`names-match-policy-metadata.md` §1.5): at a
//! take-over everything queued at the activator moves to the implementer;
//! when the name returns to the activator, what was sent to the name moves
//! back.

use kernel::sync::Arc;

use crate::{pool::Held, queue::Entry, uapi::*};

use super::Connection;

/// Bytes copied at a time from one pool to another (on the stack).
const CHUNK: usize = 256;

impl Connection {
    /// Moves our queued messages to `to`, oldest first, after what `to`
    /// has queued: all of them, or with `only` those sent to the name of
    /// that registry entry. A message that cannot move is dropped and
    /// counted lost at `to`; a method call among them is answered with
    /// REPLY_DEAD. Takes one connection lock at a time.
    pub(crate) fn move_queue_to(&self, to: &Arc<Connection>, only: Option<u64>) {
        loop {
            let e = {
                let mut inner = self.inner.lock();
                let wanted = |e: &Entry| match only {
                    Some(seq) => e.name_seq == seq,
                    None => true,
                };
                match inner.queue.oldest_where(wanted) {
                    Some(slot) => inner.queue.remove(slot),
                    None => None,
                }
            };
            let Some(e) = e else {
                break;
            };
            if let Some(e) = self.move_entry(e, to) {
                if let Some(r) = &e.reply {
                    self.abandon(r);
                }
                self.pool.unreserve(e.held());
                to.count_lost();
            }
        }
        self.bus.flush_notifications();
    }

    /// Moves one entry taken off our queue into `to`'s pool and queue;
    /// gives it back, still charged here, if it cannot.
    fn move_entry(&self, mut e: Entry, to: &Arc<Connection>) -> Option<Entry> {
        // Our hold; `to` gets the same charge on its own slice.
        let ours = e.held();
        if ours.nfds > 0 && to.hello_flags & KDBUS_HELLO_ACCEPT_FD == 0 {
            return Some(e);
        }
        let pin = self.pool.user_ref(ours.user);
        let Ok(off) = to
            .pool
            .reserve(ours.user, ours.size, ours.nfds, pin.as_ref())
        else {
            return Some(e);
        };
        // The slice as it is: header, items, the zeroed metadata area
        // (metadata is written at RECV, as selected for the activator) and
        // the payload.
        let mut chunk = [0u8; CHUNK];
        let (mut src, mut dst) = (self.pool.pages(), to.pool.pages());
        let mut at = 0;
        while at < e.size {
            let n = CHUNK.min(e.size - at);
            let copied = src
                .read(e.off + at, &mut chunk[..n])
                .and_then(|()| dst.write(off + at, &chunk[..n]));
            if copied.is_err() {
                to.pool.unreserve(Held { off, ..ours });
                return Some(e);
            }
            at += n;
        }
        e.off = off;
        if let Some(r) = &e.reply {
            r.retarget(to.id);
        }
        // Its tracker (if any) is open already.
        match to.push_entry(e, || {}).map(|(e, _)| e) {
            None => {
                // Charged at `to` now; our slice and charge go.
                self.pool.unreserve(ours);
                None
            }
            Some(mut e) => {
                to.pool.unreserve(Held { off, ..ours });
                if let Some(r) = &e.reply {
                    r.retarget(self.id);
                }
                e.off = ours.off;
                Some(e)
            }
        }
    }
}
