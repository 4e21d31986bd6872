// SPDX-License-Identifier: GPL-2.0

//! Well-known names (`names-match-policy-metadata.md` §1): the name
//! syntax and the per-bus registry with its ownership state machine
//! (§1.2-§1.6).
//!
//! # Costs
//!
//! Every look-up is O(log n) in the number of names of the bus, and no
//! operation scans the registry or copies it:
//!
//! - entries live in an `RBTree` keyed by their sequence number, and a
//!   second `RBTree` maps a keyed hash of the name to the entries with that
//!   hash (a name look-up, e.g. a SEND by name, hashes the name, finds its
//!   short chain and compares);
//! - two `RBTree` indexes keyed by (connection ID, order) give each
//!   connection's owned names in the order it became owner, and its queue
//!   entries in queueing order (metadata, LIST, teardown, the 256-name
//!   limit), in O(log n + k) for its k names.
//!
//! Ownership changes reuse the tree node of the previous owner, and a
//! waiter's queue entry owns its index node: releasing a name, promoting a
//! waiter and tearing a connection down cannot fail (only the record of a
//! change for its notification needs memory, and is lost without it, as
//! the notification would be).
//!
//! The name commands are NAME_ACQUIRE and NAME_RELEASE ([`acquire`],
//! [`release`]) and the name view of LIST ([`Registry::list`]). Every
//! ownership change is recorded as a [`NameEvent`] that the bus hands to
//! its notifier (§1.7). The hand-over of an activator's queued messages is
//! not there yet (`Documentation/kdbus/status.rst`).

use crate::kext::prelude::*;
use kernel::{
    alloc::KVec,
    rbtree::{RBTree, RBTreeNode},
    sync::Arc,
};

use crate::{
    connection::{Connection, Kind},
    item::{Args, CmdSpec, ItemRule, Parsed},
    uapi::*,
};

/// Index of a connection's names: (connection ID, order) → entry.
type ConnIndex = RBTree<(u64, u64), u64>;

/// A connection waiting for a name (§1.3 row 11).
struct Waiter {
    conn: Arc<Connection>,
    /// The flags it asked for, the owner's flags once promoted.
    flags: u64,
    /// Its key in [`Registry::queued`].
    order: u64,
}

/// One registered name: it exists exactly while it has an owner (§1.2).
struct NameEntry {
    name: KVec<u8>,
    owner: Arc<Connection>,
    /// The flags the owner acquired with (`KDBUS_NAME_ACTIVATOR` for an
    /// activator); never `IN_QUEUE`.
    flags: u64,
    /// When the owner became owner: its key in [`Registry::owned`].
    order: u64,
    activator: Option<Arc<Connection>>,
    /// Waiters, oldest first.
    queue: KVec<Waiter>,
}

/// A name as a LIST record or metadata item shows it.
pub(crate) struct OwnedName {
    pub(crate) name: KVec<u8>,
    pub(crate) flags: u64,
}

/// A change of ownership, for its NAME_* notification (§1.7).
pub(crate) struct NameEvent {
    pub(crate) ty: u64,
    /// The previous owner and its flags, `(0, 0)` for NAME_ADD.
    pub(crate) old: (u64, u64),
    /// The new owner and its flags, `(0, 0)` for NAME_REMOVE.
    pub(crate) new: (u64, u64),
    pub(crate) name: KVec<u8>,
}

/// Queued messages to move between an activator and the implementer of
/// its name (§1.5), once the registry is unlocked.
pub(crate) struct Move {
    pub(crate) from: Arc<Connection>,
    pub(crate) to: Arc<Connection>,
    /// Hand-back: only the messages sent to the name of this entry;
    /// take-over (`None`): all of them.
    pub(crate) only: Option<u64>,
}

/// One LIST record (`names-match-policy-metadata.md` §1.8): a connection,
/// with the name it is listed for, if any.
pub(crate) struct ListRecord {
    pub(crate) id: u64,
    pub(crate) hello_flags: u64,
    pub(crate) name: Option<OwnedName>,
}

/// The names of one bus (§1.2).
pub(crate) struct Registry {
    /// Entries by sequence number (§1.2 `seq`, from 1).
    entries: RBTree<u64, NameEntry>,
    /// Keyed name hash → the sequence numbers of the entries with it.
    by_hash: RBTree<u64, KVec<u64>>,
    /// Owner's (ID, order) → entry: each connection's names, in the order
    /// it became owner.
    owned: ConnIndex,
    /// Waiter's (ID, order) → entry: each connection's queue entries.
    queued: ConnIndex,
    /// Activator's ID → entry of its name.
    activators: RBTree<u64, u64>,
    next_seq: u64,
    next_order: u64,
    /// Hand-overs of queued messages not yet done; one that finds no memory
    /// to be recorded leaves the messages where they are.
    moves: KVec<Move>,
    /// Ownership changes not yet handed to the bus's notifier; an event
    /// that finds no memory is lost, as a notification would be.
    events: KVec<NameEvent>,
    /// The key of the name hash, random per bus, so that names colliding
    /// into one chain cannot be computed in advance.
    hash_key: u64,
}

/// The (order, entry) pairs of connection `id` in a [`ConnIndex`], in
/// order: O(log n) each (a lower-bound search from the previous key; the
/// kernel's immutable `RBTree` cursor does not move).
fn keys_of(index: &ConnIndex, id: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
    let mut from = Some(0u64);
    core::iter::from_fn(move || {
        let c = index.cursor_lower_bound(&(id, from?))?;
        let (&(owner, order), &seq) = c.current();
        if owner != id {
            from = None;
            return None;
        }
        from = order.checked_add(1);
        Some((order, seq))
    })
}

/// Records an ownership change of `name` (copied) in `events`; without
/// memory the record, like the notification it stands for, is lost.
fn record_event(
    events: &mut KVec<NameEvent>,
    ty: u64,
    old: (u64, u64),
    new: (u64, u64),
    name: &[u8],
) {
    if let Ok(name) = crate::copy_bytes(name) {
        let _ = events.push(NameEvent { ty, old, new, name }, GFP_KERNEL);
    }
}

impl Registry {
    pub(crate) fn new() -> Self {
        let mut key = [0u8; 8];
        crate::kext::random_bytes(&mut key);
        Self {
            entries: RBTree::new(),
            by_hash: RBTree::new(),
            owned: RBTree::new(),
            queued: RBTree::new(),
            activators: RBTree::new(),
            next_seq: 1,
            next_order: 0,
            events: KVec::new(),
            moves: KVec::new(),
            hash_key: u64::from_ne_bytes(key),
        }
    }

    /// FNV-1a over the name, started from the bus's key.
    fn hash(&self, name: &[u8]) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325 ^ self.hash_key;
        for &b in name {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h
    }

    /// The hand-overs of queued messages since the last call, in order.
    pub(crate) fn take_moves(&mut self) -> KVec<Move> {
        core::mem::take(&mut self.moves)
    }

    /// The ownership changes since the last call, in order.
    pub(crate) fn take_events(&mut self) -> KVec<NameEvent> {
        core::mem::take(&mut self.events)
    }

    /// The sequence number of the entry of `name`: O(log n).
    fn lookup(&self, name: &[u8]) -> Option<u64> {
        let chain = self.by_hash.get(&self.hash(name))?;
        chain
            .iter()
            .copied()
            .find(|seq| self.entries.get(seq).is_some_and(|e| e.name == name))
    }

    fn order(&mut self) -> u64 {
        self.next_order += 1;
        self.next_order
    }

    /// Creates the entry of `name`, owned by `owner` with `flags`.
    fn insert(
        &mut self,
        name: &[u8],
        owner: &Arc<Connection>,
        flags: u64,
        activator: Option<&Arc<Connection>>,
    ) -> Result<u64> {
        let seq = self.next_seq;
        let order = self.next_order + 1;
        let h = self.hash(name);
        let copy = crate::copy_bytes(name)?;
        // Every allocation first; the trees change only once all succeeded.
        let owned = RBTreeNode::new((owner.id(), order), seq, GFP_KERNEL)?;
        let chain = match self.by_hash.get_mut(&h) {
            Some(chain) => {
                chain.reserve(1, GFP_KERNEL)?;
                None
            }
            None => {
                let mut v = KVec::with_capacity(1, GFP_KERNEL)?;
                v.push(seq, GFP_KERNEL)?;
                Some(RBTreeNode::new(h, v, GFP_KERNEL)?)
            }
        };
        let entry = RBTreeNode::new(
            seq,
            NameEntry {
                name: copy,
                owner: owner.clone(),
                flags,
                order,
                activator: activator.cloned(),
                queue: KVec::new(),
            },
            GFP_KERNEL,
        )?;
        match chain {
            Some(node) => {
                self.by_hash.insert(node);
            }
            None => {
                if let Some(chain) = self.by_hash.get_mut(&h) {
                    // Cannot fail: reserved above.
                    let _ = chain.push_within_capacity(seq);
                }
            }
        }
        self.entries.insert(entry);
        self.owned.insert(owned);
        self.next_seq += 1;
        self.next_order = order;
        record_event(
            &mut self.events,
            KDBUS_ITEM_NAME_ADD,
            (0, 0),
            (owner.id(), flags),
            name,
        );
        Ok(seq)
    }

    /// Removes the entry `seq` (its owner has left it, nobody takes it).
    fn remove(&mut self, seq: u64) {
        let Some(e) = self.entries.remove(&seq) else {
            return;
        };
        self.owned.remove(&(e.owner.id(), e.order));
        let old = (e.owner.id(), e.flags);
        let h = self.hash(&e.name);
        let empty = match self.by_hash.get_mut(&h) {
            Some(chain) => {
                chain.retain(|s| *s != seq);
                chain.is_empty()
            }
            None => false,
        };
        if empty {
            self.by_hash.remove(&h);
        }
        let _ = self.events.push(
            NameEvent {
                ty: KDBUS_ITEM_NAME_REMOVE,
                old,
                new: (0, 0),
                name: e.name,
            },
            GFP_KERNEL,
        );
    }

    /// Makes `conn` the owner of entry `seq` with `flags`, reusing the
    /// previous owner's index node; drops every queue entry `conn` had for
    /// the name (`names-match-policy-metadata.md` §6).
    fn set_owner(&mut self, seq: u64, conn: Arc<Connection>, flags: u64) {
        let order = self.order();
        let Some(e) = self.entries.get_mut(&seq) else {
            return;
        };
        let id = conn.id();
        let old_key = (e.owner.id(), e.order);
        let old = (e.owner.id(), e.flags);
        // An implementer takes over from the activator: everything queued
        // there moves; the name returns to its activator: what was sent to
        // the name moves back (§1.5).
        let only = if old.1 & KDBUS_NAME_ACTIVATOR != 0 {
            Some(None)
        } else if flags & KDBUS_NAME_ACTIVATOR != 0 {
            Some(Some(seq))
        } else {
            None
        };
        if let Some(only) = only {
            let m = Move {
                from: e.owner.clone(),
                to: conn.clone(),
                only,
            };
            let _ = self.moves.push(m, GFP_KERNEL);
        }
        e.owner = conn;
        e.flags = flags;
        e.order = order;
        let queued = &mut self.queued;
        e.queue.retain(|w| {
            let stale = w.conn.id() == id;
            if stale {
                queued.remove(&(id, w.order));
            }
            !stale
        });
        if let Some(node) = self.owned.remove_node(&old_key) {
            self.owned
                .insert(node.into_reservation().into_node((id, order), seq));
        }
        if let Some(e) = self.entries.get(&seq) {
            record_event(
                &mut self.events,
                KDBUS_ITEM_NAME_CHANGE,
                old,
                (id, flags),
                &e.name,
            );
        }
    }

    /// The owner of entry `seq` leaves it (§1.6): the oldest waiter, else
    /// the activator, takes it; else it disappears.
    fn pass_on(&mut self, seq: u64) {
        let Some(e) = self.entries.get_mut(&seq) else {
            return;
        };
        let owner = e.owner.id();
        let activator = e.activator.clone().filter(|a| a.id() != owner);
        let next = if e.queue.is_empty() {
            None
        } else {
            e.queue.remove(0).ok()
        };
        if let Some(w) = next {
            self.queued.remove(&(w.conn.id(), w.order));
            self.set_owner(seq, w.conn, w.flags);
            return;
        }
        match activator {
            Some(a) => self.set_owner(seq, a, KDBUS_NAME_ACTIVATOR),
            None => self.remove(seq),
        }
    }

    /// Appends `conn` with `flags` to the queue of entry `seq`.
    fn enqueue(&mut self, seq: u64, conn: &Arc<Connection>, flags: u64) -> Result {
        let order = self.next_order + 1;
        let node = RBTreeNode::new((conn.id(), order), seq, GFP_KERNEL)?;
        let e = self.entries.get_mut(&seq).ok_or(ESRCH)?;
        e.queue.push(
            Waiter {
                conn: conn.clone(),
                flags,
                order,
            },
            GFP_KERNEL,
        )?;
        self.queued.insert(node);
        self.next_order = order;
        Ok(())
    }

    /// How many names `id` owns.
    pub(crate) fn count_owned(&self, id: u64) -> usize {
        keys_of(&self.owned, id).count()
    }

    /// NAME_ACQUIRE's decision (§1.3 rows 7-12) for `conn`, which may own
    /// `name`: `Ok(true)` if it was queued (`IN_QUEUE`).
    pub(crate) fn acquire(
        &mut self,
        conn: &Arc<Connection>,
        name: &[u8],
        flags: u64,
    ) -> Result<bool> {
        let Some(seq) = self.lookup(name) else {
            self.insert(name, conn, flags, None)?;
            return Ok(false);
        };
        let (owner, owner_flags) = match self.entries.get(&seq) {
            Some(e) => (e.owner.clone(), e.flags),
            None => return Err(ESRCH),
        };
        if owner.id() == conn.id() {
            return Err(EALREADY);
        }
        if owner_flags & KDBUS_NAME_ACTIVATOR != 0 {
            // Take-over (§1.5).
            self.set_owner(seq, conn.clone(), flags);
            return Ok(false);
        }
        if flags & KDBUS_NAME_REPLACE_EXISTING != 0
            && owner_flags & KDBUS_NAME_ALLOW_REPLACEMENT != 0
        {
            if owner_flags & KDBUS_NAME_QUEUE != 0 {
                self.enqueue(seq, &owner, owner_flags)?;
            }
            self.set_owner(seq, conn.clone(), flags);
            return Ok(false);
        }
        if flags & KDBUS_NAME_QUEUE != 0 {
            self.enqueue(seq, conn, flags)?;
            return Ok(true);
        }
        Err(EEXIST)
    }

    /// NAME_RELEASE (§1.4 rows 4-7).
    pub(crate) fn release(&mut self, conn: &Connection, name: &[u8]) -> Result {
        let seq = self.lookup(name).ok_or(ESRCH)?;
        let id = conn.id();
        if self.entries.get(&seq).is_some_and(|e| e.owner.id() == id) {
            self.pass_on(seq);
            return Ok(());
        }
        let e = self.entries.get_mut(&seq).ok_or(ESRCH)?;
        let i = e.queue.iter().position(|w| w.conn.id() == id);
        let w = i.and_then(|i| e.queue.remove(i).ok()).ok_or(EADDRINUSE)?;
        self.queued.remove(&(id, w.order));
        Ok(())
    }

    /// Registers `conn` as the activator of `name` (HELLO, §1.5): it owns
    /// a free name, is recorded silently beside an owner, and `EEXIST` if
    /// the name has an activator already.
    pub(crate) fn add_activator(&mut self, name: &[u8], conn: &Arc<Connection>) -> Result {
        let node = RBTreeNode::new(conn.id(), 0, GFP_KERNEL)?;
        let seq = match self.lookup(name) {
            Some(seq) => {
                let e = self.entries.get_mut(&seq).ok_or(ESRCH)?;
                if e.activator.is_some() {
                    return Err(EEXIST);
                }
                e.activator = Some(conn.clone());
                seq
            }
            None => self.insert(name, conn, KDBUS_NAME_ACTIVATOR, Some(conn))?,
        };
        self.activators
            .insert(node.into_reservation().into_node(conn.id(), seq));
        Ok(())
    }

    /// Removes `conn` from the registry (its teardown, §1.6): its activator
    /// link, its queue entries, then its names in the order it became
    /// owner. Allocates nothing.
    pub(crate) fn remove_conn(&mut self, conn: &Connection) {
        let id = conn.id();
        if let Some(seq) = self.activators.remove(&id) {
            if let Some(e) = self.entries.get_mut(&seq) {
                e.activator = None;
            }
        }
        loop {
            let Some((order, seq)) = keys_of(&self.queued, id).next() else {
                break;
            };
            self.queued.remove(&(id, order));
            if let Some(e) = self.entries.get_mut(&seq) {
                e.queue.retain(|w| w.order != order);
            }
        }
        loop {
            let Some((_, seq)) = keys_of(&self.owned, id).next() else {
                break;
            };
            self.pass_on(seq);
        }
    }

    /// The owner of `name`.
    /// The owner of `name` and the sequence number of its entry.
    pub(crate) fn owner(&self, name: &[u8]) -> Option<(&Arc<Connection>, u64)> {
        let seq = self.lookup(name)?;
        self.entries.get(&seq).map(|e| (&e.owner, seq))
    }

    /// The names `id` owns, with their flags, in the order it became owner.
    pub(crate) fn owned_by(&self, id: u64) -> impl Iterator<Item = (&[u8], u64)> + '_ {
        keys_of(&self.owned, id)
            .filter_map(|(_, seq)| self.entries.get(&seq))
            .map(|e| (e.name.as_slice(), e.flags))
    }

    /// LIST's records for connection `c` (§1.8 steps 2-4), appended to
    /// `out`.
    pub(crate) fn list(&self, c: &Connection, flags: u64, out: &mut KVec<ListRecord>) -> Result {
        let id = c.id();
        let mut added = false;
        let record =
            |id: u64, hello_flags: u64, name: &[u8], name_flags: u64| -> Result<ListRecord> {
                let copy = crate::copy_bytes(name)?;
                Ok(ListRecord {
                    id,
                    hello_flags,
                    name: Some(OwnedName {
                        name: copy,
                        flags: name_flags,
                    }),
                })
            };
        if flags & (KDBUS_LIST_NAMES | KDBUS_LIST_ACTIVATORS) != 0 {
            for (_, seq) in keys_of(&self.owned, id) {
                let Some(e) = self.entries.get(&seq) else {
                    continue;
                };
                if flags & KDBUS_LIST_ACTIVATORS != 0 {
                    if let Some(a) = e.activator.as_ref().filter(|a| a.id() != id) {
                        out.push(
                            record(a.id(), a.hello_flags(), &e.name, e.flags)?,
                            GFP_KERNEL,
                        )?;
                        added = true;
                    }
                }
                if flags & KDBUS_LIST_NAMES != 0 || c.kind() == Kind::Activator {
                    out.push(record(id, c.hello_flags(), &e.name, e.flags)?, GFP_KERNEL)?;
                    added = true;
                }
            }
        }
        if flags & KDBUS_LIST_QUEUED != 0 {
            for (_, seq) in keys_of(&self.queued, id) {
                let Some(e) = self.entries.get(&seq) else {
                    continue;
                };
                out.push(record(id, c.hello_flags(), &e.name, e.flags)?, GFP_KERNEL)?;
                added = true;
            }
        }
        if !added && flags & KDBUS_LIST_UNIQUE != 0 {
            out.push(
                ListRecord {
                    id,
                    hello_flags: c.hello_flags(),
                    name: None,
                },
                GFP_KERNEL,
            )?;
        }
        Ok(())
    }
}

/// NAME_ACQUIRE's arguments (§1.3).
static ACQUIRE_SPEC: CmdSpec<KdbusCmd> = CmdSpec::new(
    KDBUS_NAME_REPLACE_EXISTING | KDBUS_NAME_ALLOW_REPLACEMENT | KDBUS_NAME_QUEUE,
    &[ItemRule::mandatory(KDBUS_ITEM_NAME)],
);

/// NAME_RELEASE's arguments (§1.4).
static RELEASE_SPEC: CmdSpec<KdbusCmd> = CmdSpec::new(0, &[ItemRule::mandatory(KDBUS_ITEM_NAME)]);

/// NAME_ACQUIRE by `conn` (§1.3 rows 2-12).
pub(crate) fn acquire(conn: &Arc<Connection>, arg: usize) -> Result {
    let mut args = match Args::parse(arg, &ACQUIRE_SPEC)? {
        Parsed::Run(args) => args,
        Parsed::Negotiated => return Ok(()),
    };
    let name = args.item(KDBUS_ITEM_NAME).ok_or(EINVAL)?.str();
    if !is_valid(name, false) {
        return Err(EINVAL);
    }
    let queued = conn.bus().acquire_name(conn, name, args.flags());
    // The NAME_* notifications are delivered before the ioctl returns
    // (§1.7).
    conn.bus().flush_notifications();
    if queued? {
        args.set_return_flags(KDBUS_NAME_IN_QUEUE)?;
    }
    Ok(())
}

/// NAME_RELEASE by `conn` (§1.4 rows 2-7).
pub(crate) fn release(conn: &Arc<Connection>, arg: usize) -> Result {
    let args = match Args::parse(arg, &RELEASE_SPEC)? {
        Parsed::Run(args) => args,
        Parsed::Negotiated => return Ok(()),
    };
    let name = args.item(KDBUS_ITEM_NAME).ok_or(EINVAL)?.str();
    let res = conn.bus().release_name(conn, name);
    conn.bus().flush_notifications();
    res
}

/// Whether `c` is a letter by the kernel's ctype (Latin-1 letters
/// `0xc0..=0xff` except `0xd7` and `0xf7` count).
fn is_alpha(c: u8) -> bool {
    c.is_ascii_alphabetic() || (c >= 0xc0 && c != 0xd7 && c != 0xf7)
}

/// Whether `name` (without NUL) is a valid well-known name; with `wildcard`,
/// a last element `*` is tolerated (`names-match-policy-metadata.md` §1.1).
pub(crate) fn is_valid(name: &[u8], wildcard: bool) -> bool {
    if name.is_empty() || name.len() > KDBUS_NAME_MAX_LEN {
        return false;
    }
    let mut elements = 0;
    let mut parts = name.split(|&c| c == b'.').peekable();
    while let Some(el) = parts.next() {
        elements += 1;
        let last = parts.peek().is_none();
        if el.is_empty() {
            return false;
        }
        if wildcard && last && el == b"*" && elements > 1 {
            continue;
        }
        if el[0].is_ascii_digit() {
            return false;
        }
        if !el
            .iter()
            .all(|&c| is_alpha(c) || c.is_ascii_digit() || c == b'_' || c == b'-')
        {
            return false;
        }
    }
    elements >= 2
}

/// Whether a valid policy name is a wildcard entry (`org.foo.*`).
pub(crate) fn is_wildcard(name: &[u8]) -> bool {
    name.ends_with(b".*")
}

#[kunit_tests(kdbus_names)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        for n in [
            &b"a.b"[..],
            b"org.freedesktop.DBus",
            b"_a.-b",
            b"a.b1",
            b"x-1.y_2.z",
            b"\xc0.b",
        ] {
            assert!(is_valid(n, false));
        }
    }

    #[test]
    fn invalid_names() {
        for n in [
            &b""[..],
            b"a",
            b".a.b",
            b"a.b.",
            b"a..b",
            b"1a.b",
            b"a.1b",
            b":1.42",
            b"a.b c",
            b"a.b@",
            b"a.\xd7",
        ] {
            assert!(!is_valid(n, false));
        }
        let mut long = [b'a'; 256];
        long[1] = b'.';
        assert!(is_valid(&long[..255], false));
        assert!(!is_valid(&long[..256], false));
    }

    #[test]
    fn wildcards() {
        assert!(is_valid(b"org.foo.*", true));
        assert!(!is_valid(b"org.foo.*", false));
        for n in [&b"org.foo*"[..], b"*.foo", b"org.*.foo", b"*", b"a.**"] {
            assert!(!is_valid(n, true));
        }
        assert!(is_wildcard(b"org.foo.*"));
        assert!(!is_wildcard(b"org.foo"));
    }
}
