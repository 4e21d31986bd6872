// SPDX-License-Identifier: GPL-2.0

//! The receive queue of a connection and its quotas (`message.md` §5.7,
//! §5.9, `connection-pool.md` §10.6).
//!
//! An entry is a message that sits, fully written, in a slice of the
//! receiver's pool; the entry holds the slice's kernel reference until it
//! leaves the queue. Every queued slice is accounted to its sending user
//! (by domain user index; 0 is the kernel) in the pool's [`Quota`] until it
//! leaves the queue. A user with anything charged is pinned in its domain's
//! user table ([`Use::_pin`]), so its index cannot pass to a new user while
//! its charges remain (`connection-pool.md` §10.6: the quota follows the
//! user).

use crate::kext::prelude::*;
use kernel::{
    alloc::KVec,
    fs::File,
    sync::{aref::ARef, Arc},
};

use crate::{domain::UserRef, kext::LeanVec, message::MsgMeta, pool::Held, reply::Reply, uapi::*};

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
    pub(crate) files: LeanVec<ARef<File>>,
    /// Offset of the `fds` array in the slice, if the message has an FDS item.
    pub(crate) fds_off: Option<usize>,
    /// Memfds, with the offset of each `fd` field in the slice.
    pub(crate) memfds: LeanVec<(ARef<File>, usize)>,
    /// A method call: its reply tracker (`message.md` §4.1).
    pub(crate) reply: Option<Arc<Reply>>,
    /// Sent to a well-known name: the registry's sequence number of the
    /// name's entry (`names-match-policy-metadata.md` §1.2), which a
    /// hand-back to the name's activator follows; 0 if sent by ID.
    pub(crate) name_seq: u64,
}

impl Entry {
    /// Its hold on the receiver's pool.
    pub(crate) fn held(&self) -> Held {
        Held {
            off: self.off,
            user: self.user,
            size: self.size,
            nfds: self.files.len(),
        }
    }
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

/// No slot (the end of the FIFO list).
const NIL: u32 = u32::MAX;

/// A place for one queued entry, linked in FIFO order.
struct Slot {
    entry: Option<Entry>,
    prev: u32,
    next: u32,
}

/// A heap key: most urgent first (lowest priority value, then oldest).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    priority: i64,
    seq: u64,
    slot: u32,
}

/// A connection's queue.
///
/// Entries sit in `slots`, reused through `free`, and are linked in
/// arrival order (a doubly linked list of slot indices), so the oldest is
/// taken and any entry unlinked in O(1). `heap` is a binary min-heap of
/// [`Key`]s for RECV with `USE_PRIORITY` (`message.md` §5.9): O(log n) per
/// entry. An entry taken in FIFO order leaves a stale key behind, dropped
/// when it reaches the top or when stale keys outnumber live ones (a
/// rebuild, amortised O(1)). Once the vectors have grown to the queue's
/// depth, queueing and dequeueing allocate nothing.
///
/// # Invariants
///
/// The list from `head` through `next` visits exactly the slots holding an
/// entry, `len` of them, in increasing `seq`; `free` holds the others, and
/// has room for every slot. Every live entry has exactly one key in `heap`
/// whose `seq` matches it.
pub(crate) struct Queue {
    slots: KVec<Slot>,
    free: KVec<u32>,
    head: u32,
    tail: u32,
    len: usize,
    heap: KVec<Key>,
}

/// The receiver-side quota of one pool (`connection-pool.md` §10.6): what
/// each sending user has charged, kept under the pool's lock together with
/// the slices, so a sender reserves quota and slice under one lock and
/// takes the receiving connection's lock only to queue.
pub(crate) struct Quota {
    /// Bytes of all accounted slices (queued, or being written).
    accounted: usize,
    /// Their number.
    msgs: usize,
    users: KVec<Use>,
}

impl Quota {
    pub(crate) const fn new() -> Self {
        Self {
            accounted: 0,
            msgs: 0,
            users: KVec::new(),
        }
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
        if fds + f > KDBUS_CONN_MAX_FDS_PER_USER {
            return Err(EMFILE);
        }
        Ok(())
    }

    /// A new reference to `user`'s pinned record, if it has one.
    pub(crate) fn user_ref(&self, user: u32) -> Option<UserRef> {
        match self.users.iter().find(|x| x.user == user) {
            Some(Use { _pin: Some(r), .. }) => Some(r.clone_ref()),
            _ => None,
        }
    }

    /// Charges `user` for a slice of `size` bytes (after [`Quota::admit`]),
    /// before the message is written; the charge ends when the entry
    /// leaves the queue or is given back ([`Quota::uncharge`]). A user's
    /// first charge here pins it with a reference cloned from `pin` (`None`
    /// for the kernel), until its last charge goes.
    pub(crate) fn charge(
        &mut self,
        user: u32,
        size: usize,
        fds: usize,
        pin: Option<&UserRef>,
    ) -> Result {
        match self.users.iter_mut().find(|x| x.user == user) {
            Some(x) => {
                x.bytes += size;
                x.msgs += 1;
                x.fds += fds;
            }
            None => {
                self.users.reserve(1, GFP_KERNEL)?;
                // Cannot fail: capacity was reserved above.
                let _ = self.users.push_within_capacity(Use {
                    user,
                    _pin: pin.map(UserRef::clone_ref),
                    bytes: size,
                    msgs: 1,
                    fds,
                });
            }
        }
        self.accounted += size;
        self.msgs += 1;
        Ok(())
    }

    /// Whether any user may queue the smallest message on a pool of
    /// `pool_size` bytes, whatever it has charged: at most an eighth of
    /// the pool accounted and fewer than [`KDBUS_CONN_MAX_MSGS`] messages
    /// in all. Then, by [`admit`]'s rule, a user holding `u <= a <= p/8`
    /// bytes may still add `(p/2 - a - 2u)/3 >= p/24` bytes (at least 170
    /// on a one-page pool), and no user can have reached the message limit.
    pub(crate) fn roomy(&self, pool_size: usize) -> bool {
        self.accounted <= pool_size / 8 && self.msgs < KDBUS_CONN_MAX_MSGS
    }

    /// Takes back a charge made by [`Queue::charge`].
    pub(crate) fn uncharge(&mut self, user: u32, size: usize, fds: usize) {
        self.accounted -= size;
        self.msgs -= 1;
        if let Some(pos) = self.users.iter().position(|x| x.user == user) {
            self.users[pos].bytes -= size;
            self.users[pos].msgs -= 1;
            self.users[pos].fds -= fds;
            if self.users[pos].msgs == 0 {
                let _ = self.users.remove(pos);
            }
        }
    }
}

impl Queue {
    pub(crate) const fn new() -> Self {
        Self {
            slots: KVec::new(),
            free: KVec::new(),
            head: NIL,
            tail: NIL,
            len: 0,
            heap: KVec::new(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues a charged entry at the tail; gives it back if memory runs
    /// out (only while the queue grows beyond any depth it had).
    pub(crate) fn push(&mut self, entry: Entry) -> Option<Entry> {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                let Ok(slot) = u32::try_from(self.slots.len()) else {
                    return Some(entry);
                };
                if slot == NIL
                    || self.slots.reserve(1, GFP_KERNEL).is_err()
                    || self.free.reserve(self.slots.len() + 1, GFP_KERNEL).is_err()
                {
                    return Some(entry);
                }
                // Cannot fail: capacity was reserved above.
                let _ = self.slots.push_within_capacity(Slot {
                    entry: None,
                    prev: NIL,
                    next: NIL,
                });
                slot
            }
        };
        if self.heap.reserve(1, GFP_KERNEL).is_err() {
            // Cannot fail: `free` has room for every slot.
            let _ = self.free.push_within_capacity(slot);
            return Some(entry);
        }
        let key = Key {
            priority: entry.priority,
            seq: entry.seq,
            slot,
        };
        let s = &mut self.slots[slot as usize];
        s.entry = Some(entry);
        s.prev = self.tail;
        s.next = NIL;
        match self.tail {
            NIL => self.head = slot,
            t => self.slots[t as usize].next = slot,
        }
        self.tail = slot;
        self.len += 1;
        // Cannot fail: capacity was reserved above.
        let _ = self.heap.push_within_capacity(key);
        let last = self.heap.len() - 1;
        self.sift_up(last);
        None
    }

    /// Takes every entry out of the queue (teardown). The entries come out
    /// oldest first from the returned iterator, which the caller runs after
    /// unlocking (and gives their charges and slices back).
    pub(crate) fn drain(&mut self) -> Drained {
        self.free.clear();
        self.heap.clear();
        self.tail = NIL;
        self.len = 0;
        Drained {
            slots: core::mem::take(&mut self.slots),
            next: core::mem::replace(&mut self.head, NIL),
        }
    }

    /// The slot of the entry RECV takes (`message.md` §5.9): the oldest,
    /// or with `threshold` the most urgent (lowest priority, FIFO among
    /// equals) if its priority is at most `threshold`.
    pub(crate) fn select(&mut self, threshold: Option<i64>) -> Option<usize> {
        match threshold {
            None => (self.head != NIL).then_some(self.head as usize),
            Some(t) => {
                while let Some(top) = self.heap.first().copied() {
                    if self.is_live(top) {
                        return (top.priority <= t).then_some(top.slot as usize);
                    }
                    self.pop_top();
                }
                None
            }
        }
    }

    /// The slot of the oldest entry that `pred` accepts.
    pub(crate) fn oldest_where(&self, pred: impl Fn(&Entry) -> bool) -> Option<usize> {
        let mut slot = self.head;
        while slot != NIL {
            let s = self.slots.get(slot as usize)?;
            if s.entry.as_ref().is_some_and(&pred) {
                return Some(slot as usize);
            }
            slot = s.next;
        }
        None
    }

    pub(crate) fn get(&self, slot: usize) -> Option<&Entry> {
        self.slots.get(slot)?.entry.as_ref()
    }

    /// Takes the entry of `slot` out of the queue (its charge is the
    /// caller's to give back).
    pub(crate) fn remove(&mut self, slot: usize) -> Option<Entry> {
        let s = self.slots.get_mut(slot)?;
        let entry = s.entry.take()?;
        let (prev, next) = (s.prev, s.next);
        match prev {
            NIL => self.head = next,
            p => self.slots[p as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.slots[n as usize].prev = prev,
        }
        self.len -= 1;
        // Cannot fail: `free` has room for every slot (type invariant);
        // `slot` fits in `u32` as it was handed out by `push`.
        let _ = self.free.push_within_capacity(slot as u32);
        // Its key is stale now; too many stale keys are swept.
        if self.heap.len() > 2 * self.len + 16 {
            self.sweep();
        }
        Some(entry)
    }

    fn is_live(&self, k: Key) -> bool {
        live(&self.slots, k)
    }

    /// Drops the heap's top key.
    fn pop_top(&mut self) {
        let Some(last) = self.heap.pop() else {
            return;
        };
        if let Some(top) = self.heap.first_mut() {
            *top = last;
            self.sift_down(0);
        }
    }

    /// Drops every stale key and restores the heap: O(n).
    fn sweep(&mut self) {
        let slots = &self.slots;
        self.heap.retain(|k| live(slots, *k));
        for i in (0..self.heap.len() / 2).rev() {
            self.sift_down(i);
        }
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.heap[i] >= self.heap[parent] {
                break;
            }
            self.heap.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut min = i;
            if l < self.heap.len() && self.heap[l] < self.heap[min] {
                min = l;
            }
            if r < self.heap.len() && self.heap[r] < self.heap[min] {
                min = r;
            }
            if min == i {
                return;
            }
            self.heap.swap(i, min);
            i = min;
        }
    }
}

/// The entries [`Queue::drain`] took, oldest first.
pub(crate) struct Drained {
    slots: KVec<Slot>,
    next: u32,
}

impl Iterator for Drained {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        let s = self.slots.get_mut(self.next as usize)?;
        self.next = s.next;
        s.entry.take()
    }
}

/// Whether `k` is the key of the entry in its slot.
fn live(slots: &KVec<Slot>, k: Key) -> bool {
    slots
        .get(k.slot as usize)
        .and_then(|s| s.entry.as_ref())
        .is_some_and(|e| e.seq == k.seq)
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
    if n >= KDBUS_CONN_MAX_MSGS {
        return Err(ENOBUFS);
    }
    Ok(())
}

#[kunit_tests(kdbus_queue)]
mod tests {
    use super::*;

    /// The lock-free answer of `Pool::admits` is never wrong: in a roomy
    /// pool, every user, whatever it holds, may add the smallest message.
    #[test]
    fn a_roomy_pool_admits_every_user() {
        for p in [4096usize, 8192, 1 << 20, 1 << 26] {
            for a in (0..=p / 8).step_by(p / 64) {
                for u in [0, 8, a / 3, a / 2, a] {
                    for n in [0, 1, KDBUS_CONN_MAX_MSGS - 1] {
                        assert_eq!(admit(p, a, u, n, 8), Ok(()));
                    }
                }
            }
        }
        // And the bound is where `roomy` puts it.
        let mut q = Quota::new();
        assert!(q.roomy(4096));
        q.accounted = 4096 / 8 + 8;
        assert!(!q.roomy(4096));
        q.accounted = 0;
        q.msgs = KDBUS_CONN_MAX_MSGS;
        assert!(!q.roomy(4096));
    }

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
            files: LeanVec::new(),
            fds_off: None,
            memfds: LeanVec::new(),
            reply: None,
            name_seq: 0,
        }
    }

    #[test]
    fn charges_per_user_come_and_go() {
        let mut q = Quota::new();
        assert!(q.charge(1, 8, 0, None).is_ok());
        assert!(q.charge(2, 16, 1, None).is_ok());
        assert!(q.charge(1, 8, 0, None).is_ok());
        assert_eq!((q.accounted, q.users.len()), (32, 2));
        // The user's 16 bytes of 2 messages count as its own share.
        assert_eq!(q.admit(1 << 20, 1, 8, 0), Ok(()));
        q.uncharge(1, 8, 0);
        q.uncharge(2, 16, 1);
        assert_eq!((q.accounted, q.users.len()), (8, 1));
        q.uncharge(1, 8, 0);
        assert_eq!(q.accounted, 0);
        assert!(q.users.is_empty());
    }

    #[test]
    fn drain_takes_every_entry_oldest_first() {
        let mut q = Queue::new();
        for seq in 1..=3u64 {
            assert!(q.push(entry(seq, 3 - seq as i64, 1)).is_none());
        }
        let seqs = q.drain().map(|e| e.seq).fold(0u64, |acc, s| acc * 10 + s);
        assert_eq!(seqs, 123);
        assert!(q.is_empty());
        assert_eq!(q.select(Some(i64::MAX)), None);
    }

    #[test]
    fn fifo_and_priority_mix_and_slots_are_reused() {
        let mut q = Queue::new();
        let mut seq = 0u64;
        // Many rounds: keys of entries taken in FIFO order go stale and are
        // swept; slots are reused, so the vectors stop growing.
        for round in 0..50u64 {
            for i in 0..8i64 {
                seq += 1;
                let e = entry(seq, (i * 7 + round as i64) % 5, 1);
                assert!(q.push(e).is_none());
            }
            // Half FIFO, half by priority.
            let mut last_fifo = 0;
            for _ in 0..4 {
                let i = q.select(None).unwrap_or(usize::MAX);
                let e = q.remove(i);
                assert!(e.as_ref().is_some_and(|e| e.seq > last_fifo));
                last_fifo = e.map_or(0, |e| e.seq);
            }
            let mut last = (i64::MIN, 0u64);
            for _ in 0..4 {
                let i = q.select(Some(i64::MAX)).unwrap_or(usize::MAX);
                let e = q.remove(i).map(|e| (e.priority, e.seq));
                assert!(e.is_some_and(|k| k > last));
                last = e.unwrap_or(last);
            }
            assert!(q.is_empty());
        }
        assert!(q.slots.len() <= 8);
        assert!(q.heap.len() <= 2 * 8 + 16);
    }

    #[test]
    fn priority_selection() {
        let mut q = Queue::new();
        for (seq, prio) in [(1u64, 5i64), (2, -3), (3, -3), (4, 0)] {
            assert!(q.push(entry(seq, prio, 1)).is_none());
        }
        // FIFO without priorities.
        assert_eq!(q.select(None), Some(0));
        // Most urgent first, FIFO among equals.
        assert_eq!(q.select(Some(0)), Some(1));
        assert_eq!(q.select(Some(-4)), None);
        let first = q.remove(1);
        assert!(first.is_some_and(|e| e.seq == 2));
        let next = q.select(Some(i64::MAX));
        assert_eq!(next.and_then(|i| q.get(i)).map(|e| e.seq), Some(3));
        while let Some(i) = q.select(None) {
            assert!(q.remove(i).is_some());
        }
        assert!(q.is_empty());
    }
}
