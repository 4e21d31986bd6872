// SPDX-License-Identifier: GPL-2.0

//! The receive queue of a connection and its quotas (`message.md` §5.7,
//! §5.9, `connection-pool.md` §10.6).
//!
//! An entry is a message that sits, fully written, in a slice of the
//! receiver's pool; the entry holds the slice's kernel reference until it
//! leaves the queue. Every queued slice is accounted to its sending user
//! (by domain user index; 0 is the kernel) until it leaves the queue. A
//! user with anything charged here is pinned in its domain's user table
//! ([`Use::_pin`]), so its index cannot pass to a new user while its charges
//! remain (`connection-pool.md` §10.6: the quota follows the user).

use kernel::{
    alloc::KVec,
    fs::File,
    prelude::*,
    sync::{aref::ARef, Arc},
};

use crate::{domain::UserRef, limits, message::MsgMeta, reply::Reply};

/// A queued message.
pub(crate) struct Entry {
    /// The message's sequence number.
    pub(crate) seq: u64,
    pub(crate) priority: i64,
    /// Offset and size of its slice in the receiver's pool.
    pub(crate) off: usize,
    pub(crate) size: usize,
    /// Bytes of header and kernel-built items (`kdbus_msg.size` without
    /// metadata); the metadata area starts here.
    pub(crate) header_items: usize,
    /// Metadata to write at RECV, in the receiver's context.
    pub(crate) meta: MsgMeta,
    /// The sending user's index, for the quota.
    pub(crate) user: u32,
    /// Files of the FDS item, installed at RECV.
    pub(crate) files: KVec<ARef<File>>,
    /// Offset of the `fds` array in the slice, if the message has an FDS item.
    pub(crate) fds_off: Option<usize>,
    /// Memfds, with the offset of each `fd` field in the slice.
    pub(crate) memfds: KVec<(ARef<File>, usize)>,
    /// A method call: its reply tracker (`message.md` §4.1).
    pub(crate) reply: Option<Arc<Reply>>,
}

/// Per sending user use of one receiver's queue.
struct Use {
    user: u32,
    /// Keeps `user` in its domain's table while this record exists (`None`
    /// for the kernel, whose index 0 is never reused).
    _pin: Option<UserRef>,
    bytes: usize,
    msgs: usize,
    /// Descriptors in FDS items (memfds do not count).
    fds: usize,
}

/// A connection's queue.
pub(crate) struct Queue {
    entries: KVec<Entry>,
    /// Bytes of all accounted (queued) slices.
    accounted: usize,
    users: KVec<Use>,
}

impl Queue {
    pub(crate) const fn new() -> Self {
        Self {
            entries: KVec::new(),
            accounted: 0,
            users: KVec::new(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `user` may queue a slice of `m` bytes on a pool of
    /// `pool_size` bytes (`connection-pool.md` §10.6 steps 1-3).
    pub(crate) fn admit(&self, pool_size: usize, user: u32, m: usize, f: usize) -> Result {
        let (u, n, fds) = self
            .users
            .iter()
            .find(|x| x.user == user)
            .map_or((0, 0, 0), |x| (x.bytes, x.msgs, x.fds));
        admit(pool_size, self.accounted, u, n, m)?;
        // Step 4: descriptors in flight from one user.
        if fds + f > limits::CONN_MAX_FDS_PER_USER {
            return Err(EMFILE);
        }
        Ok(())
    }

    /// Charges `user` for a slice of `size` bytes (after [`Queue::admit`]),
    /// before the message is written; [`Queue::push`] then queues it, or
    /// [`Queue::uncharge`] takes the charge back. A user's first charge here
    /// pins it with what `pin` returns, until its last charge goes.
    pub(crate) fn charge(
        &mut self,
        user: u32,
        size: usize,
        fds: usize,
        pin: impl FnOnce() -> Result<Option<UserRef>>,
    ) -> Result {
        match self.users.iter_mut().find(|x| x.user == user) {
            Some(x) => {
                x.bytes += size;
                x.msgs += 1;
                x.fds += fds;
            }
            None => {
                self.users.reserve(1, GFP_KERNEL)?;
                let pin = pin()?;
                // Cannot fail: capacity was reserved above.
                let _ = self.users.push_within_capacity(Use {
                    user,
                    _pin: pin,
                    bytes: size,
                    msgs: 1,
                    fds,
                });
            }
        }
        self.accounted += size;
        Ok(())
    }

    /// Takes back a charge made by [`Queue::charge`].
    pub(crate) fn uncharge(&mut self, user: u32, size: usize, fds: usize) {
        self.accounted -= size;
        if let Some(pos) = self.users.iter().position(|x| x.user == user) {
            self.users[pos].bytes -= size;
            self.users[pos].msgs -= 1;
            self.users[pos].fds -= fds;
            if self.users[pos].msgs == 0 {
                let _ = self.users.remove(pos);
            }
        }
    }

    /// Queues a charged entry; gives it back if memory runs out.
    pub(crate) fn push(&mut self, entry: Entry) -> Option<Entry> {
        if self.entries.reserve(1, GFP_KERNEL).is_err() {
            return Some(entry);
        }
        self.entries.push_within_capacity(entry).err().map(|e| e.0)
    }

    /// Takes every entry out of the queue (teardown), releasing their quota
    /// charges; charges of slices being written or attached stay.
    pub(crate) fn drain(&mut self) -> KVec<Entry> {
        let entries = core::mem::take(&mut self.entries);
        for e in entries.iter() {
            self.uncharge(e.user, e.size, e.files.len());
        }
        entries
    }

    /// The index of the entry RECV takes (`message.md` §5.9): the oldest,
    /// or with `threshold` the most urgent (lowest priority, FIFO among
    /// equals) if its priority is at most `threshold`.
    pub(crate) fn select(&self, threshold: Option<i64>) -> Option<usize> {
        match threshold {
            None => (!self.entries.is_empty()).then_some(0),
            Some(t) => {
                let mut best: Option<usize> = None;
                for (i, e) in self.entries.iter().enumerate() {
                    if best.is_none_or(|b| e.priority < self.entries[b].priority) {
                        best = Some(i);
                    }
                }
                best.filter(|&b| self.entries[b].priority <= t)
            }
        }
    }

    pub(crate) fn get(&self, idx: usize) -> Option<&Entry> {
        self.entries.get(idx)
    }

    /// Takes entry `idx` out of the queue and releases its quota charge.
    pub(crate) fn remove(&mut self, idx: usize) -> Option<Entry> {
        let entry = self.entries.remove(idx).ok()?;
        self.uncharge(entry.user, entry.size, entry.files.len());
        Some(entry)
    }
}

/// The admission rule of `connection-pool.md` §10.6 steps 1-3 for a pool of
/// `p` bytes with `a` accounted bytes, of which the sending user has `u`
/// bytes in `n` messages, and a new slice of `m` bytes.
pub(crate) fn admit(p: usize, a: usize, u: usize, n: usize, m: usize) -> Result {
    let h = p / 2;
    if a > h {
        return Err(ENOBUFS);
    }
    let l = (h - a + u) / 3;
    if l < u || l - u < m || u.saturating_add(m) > u32::MAX as usize {
        return Err(ENOBUFS);
    }
    if n >= limits::CONN_MAX_MSGS {
        return Err(ENOBUFS);
    }
    Ok(())
}

#[kunit_tests(kdbus_queue)]
mod tests {
    use super::*;

    #[test]
    fn one_user_may_take_a_third_of_half() {
        let p = 1 << 20;
        // `connection-pool.md` §10.6: 524288 / 3 = 174762.
        assert_eq!(admit(p, 0, 0, 0, 174760), Ok(()));
        assert_eq!(admit(p, 0, 0, 0, 174768), Err(ENOBUFS));
    }

    #[test]
    fn own_usage_counts_as_free() {
        let p = 1 << 20;
        // 100000 used by this user: L = (524288 - 100000 + 100000) / 3.
        assert_eq!(admit(p, 100_000, 100_000, 1, 74_760), Ok(()));
        assert_eq!(admit(p, 100_000, 100_000, 1, 74_768), Err(ENOBUFS));
        // The same 100000 used by someone else leaves less.
        assert_eq!(admit(p, 100_000, 0, 0, 141_429), Ok(()));
        assert_eq!(admit(p, 100_000, 0, 0, 141_432), Err(ENOBUFS));
    }

    #[test]
    fn half_the_pool_is_reserved_and_messages_counted() {
        let p = 1 << 20;
        assert_eq!(admit(p, p / 2 + 8, 0, 0, 8), Err(ENOBUFS));
        assert_eq!(admit(p, 0, 0, 255, 8), Ok(()));
        assert_eq!(admit(p, 0, 0, 256, 8), Err(ENOBUFS));
    }

    fn entry(seq: u64, priority: i64, user: u32) -> Entry {
        Entry {
            seq,
            priority,
            off: 0,
            size: 8,
            header_items: 64,
            meta: MsgMeta::empty(),
            user,
            files: KVec::new(),
            fds_off: None,
            memfds: KVec::new(),
            reply: None,
        }
    }

    #[test]
    fn drain_keeps_charges_of_staged_slices() {
        let mut q = Queue::new();
        // One queued entry, one charged but still being written.
        assert!(q.charge(1, 8, 0, || Ok(None)).is_ok());
        assert!(q.push(entry(1, 0, 1)).is_none());
        assert!(q.charge(2, 8, 0, || Ok(None)).is_ok());
        assert_eq!(q.drain().len(), 1);
        assert_eq!(q.accounted, 8);
        // The writer gives its charge back after teardown drained the queue.
        q.uncharge(2, 8, 0);
        assert_eq!(q.accounted, 0);
        assert!(q.users.is_empty());
    }

    #[test]
    fn priority_selection() {
        let mut q = Queue::new();
        for (seq, prio) in [(1u64, 5i64), (2, -3), (3, -3), (4, 0)] {
            let e = entry(seq, prio, 1);
            assert!(q.charge(e.user, e.size, 0, || Ok(None)).is_ok());
            assert!(q.push(e).is_none());
        }
        // FIFO without priorities.
        assert_eq!(q.select(None), Some(0));
        // Most urgent first, FIFO among equals.
        assert_eq!(q.select(Some(0)), Some(1));
        assert_eq!(q.select(Some(-4)), None);
        let first = q.remove(1);
        assert!(first.is_some_and(|e| e.seq == 2));
        assert_eq!(
            q.select(Some(i64::MAX))
                .and_then(|i| q.get(i))
                .map(|e| e.seq),
            Some(3)
        );
        while q.remove(0).is_some() {}
        assert!(q.is_empty());
        assert_eq!(q.accounted, 0);
        assert!(q.users.is_empty());
    }
}
