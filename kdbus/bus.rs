// SPDX-License-Identifier: GPL-2.0

//! Buses: BUS_MAKE and what a bus holds (`fs-bus-endpoint.md` §6).
//!
//! A bus is a directory node of the domain root, created by BUS_MAKE on a
//! `control` handle, which owns it: closing that handle tears the bus down
//! (node deactivation: endpoints, then their connections). The bus object
//! keeps what is fixed at creation (ID, UUID, bloom parameters, attach
//! masks, the creator's identity and metadata) plus its connections.

use crate::kext::prelude::*;
use kernel::{
    new_mutex,
    rbtree::{RBTree, RBTreeNode},
    sync::{
        atomic::{ordering, Atomic},
        Arc, Mutex,
    },
    task::Kuid,
    xarray::{AllocKind, XArray},
};

use crate::{
    connection::{Connection, Kind},
    domain::{Charge, Domain},
    endpoint,
    item::{sanitize_attach, Args, CmdSpec, ItemRule, Parsed},
    kext,
    matches::{self, Event, MatchDb},
    metadata::Snapshot,
    names::{ListRecord, Move, Registry},
    node::{Node, NodeObject},
    notify::Notifier,
    policy::{BusPolicy, PolicyDb},
    uapi::*,
};

/// BUS_MAKE's arguments (`abi.md` §5.13, §6.3).
static SPEC: CmdSpec<KdbusCmd> = CmdSpec::new(
    KDBUS_MAKE_ACCESS_GROUP | KDBUS_MAKE_ACCESS_WORLD,
    &[
        ItemRule::mandatory(KDBUS_ITEM_MAKE_NAME),
        ItemRule::mandatory(KDBUS_ITEM_BLOOM_PARAMETER),
        ItemRule::once(KDBUS_ITEM_ATTACH_FLAGS_SEND),
        ItemRule::once(KDBUS_ITEM_ATTACH_FLAGS_RECV),
    ],
);

/// Mutable state of a bus.
struct BusInner {
    /// The bus charged to the creator's domain user; returned at release.
    charged: Option<Charge>,
    /// Every connection of the bus, in ID order (for LIST and teardown;
    /// look-ups by ID use [`Bus::ids`]).
    conns: KVec<Arc<Connection>>,
    /// The bus policy database.
    policy: BusPolicy,
    /// The well-known names.
    names: Registry,
    /// The match databases of the connections that have entries, by ID:
    /// broadcasts and notifications visit only these (`matches.rs`).
    matches: RBTree<u64, Subscriber>,
}

/// A connection with match entries.
struct Subscriber {
    conn: Arc<Connection>,
    db: MatchDb,
}

/// A bus.
#[pin_data]
pub(crate) struct Bus {
    id: u64,
    id128: [u8; 16],
    flags: u64,
    bloom_size: u64,
    bloom_n_hash: u64,
    /// ATTACH_FLAGS_RECV of BUS_MAKE: what every connection must send.
    attach_required: u64,
    /// ATTACH_FLAGS_SEND of BUS_MAKE: what BUS_CREATOR_INFO may reveal.
    attach_owner: u64,
    creator_euid: Kuid,
    creator: Snapshot,
    #[pin]
    inner: Mutex<BusInner>,
    /// The connections of the bus by ID: the SEND path finds its receiver
    /// here in O(log n) of the ID range under the XArray's spinlock, not
    /// the bus mutex. Holds the same connections as `BusInner::conns`.
    #[pin]
    ids: XArray<Arc<Connection>>,
    /// The monitors of the bus by ID (`message.md` §3.7): a subset of the
    /// connections, linked and unlinked with them under `inner`. Held only
    /// to look one up, never while a copy is made.
    #[pin]
    monitors: Mutex<RBTree<u64, Arc<Connection>>>,
    /// Whether `monitors` is not empty, written under its lock: a SEND on
    /// a bus without monitors takes no lock to find that out.
    has_monitors: Atomic<bool>,
    #[pin]
    notify: Notifier,
}

/// Moves queued messages between activators and implementers
/// (`names-match-policy-metadata.md` §1.5), with no bus lock held.
fn run_moves(moves: KVec<Move>) {
    for m in moves {
        m.from.move_queue_to(&m.to, m.only);
    }
}

/// The subscribers of `inner` but `skip` whose databases match `ev`.
fn targets(inner: &BusInner, ev: &Event<'_>, skip: u64) -> Result<KVec<Arc<Connection>>> {
    let mut out = KVec::new();
    for (id, s) in inner.matches.iter() {
        if *id != skip && s.db.matches(ev) {
            out.push(s.conn.clone(), GFP_KERNEL)?;
        }
    }
    Ok(out)
}

/// Checks the `<uid>-` prefix of a bus or endpoint name against the
/// caller's effective UID rendered in the domain's user namespace.
pub(crate) fn check_name_prefix(domain: &Domain, name: &[u8]) -> Result {
    let uid = domain
        .user_ns()
        .uid_of(Kuid::current_euid())
        .ok_or(EINVAL)?;
    let mut digits = [0u8; 10];
    let mut n = uid;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut prefix = [0u8; 11];
    for i in 0..len {
        prefix[i] = digits[len - 1 - i];
    }
    prefix[len] = b'-';
    if name.len() > len + 1 && name.starts_with(&prefix[..=len]) {
        Ok(())
    } else {
        Err(EINVAL)
    }
}

/// Directory and endpoint modes for MAKE flags (`fs-bus-endpoint.md` §0).
pub(crate) fn modes(flags: u64) -> (u16, u16) {
    let mut dir = 0o500;
    let mut file = 0o600;
    if flags & (KDBUS_MAKE_ACCESS_GROUP | KDBUS_MAKE_ACCESS_WORLD) != 0 {
        dir |= 0o050;
        file |= 0o060;
    }
    if flags & KDBUS_MAKE_ACCESS_WORLD != 0 {
        dir |= 0o005;
        file |= 0o006;
    }
    (dir, file)
}

/// BUS_MAKE on a `control` handle. Returns the bus node (the handle becomes
/// its owner), or `None` after a negotiation probe.
pub(crate) fn make(control: &Arc<Node>, arg: usize) -> Result<Option<Arc<Node>>> {
    let args = match Args::parse(arg, &SPEC)? {
        Parsed::Run(args) => args,
        Parsed::Negotiated => return Ok(None),
    };
    let root = control.parent().ok_or(ESHUTDOWN)?;
    let domain = root.domain().ok_or(ESHUTDOWN)?;

    let KdbusBloomParameter {
        size: bloom_size,
        n_hash: bloom_n_hash,
    } = args
        .item(KDBUS_ITEM_BLOOM_PARAMETER)
        .ok_or(EINVAL)?
        .view()?;
    if !(8..=KDBUS_BUS_BLOOM_MAX_SIZE).contains(&bloom_size)
        || bloom_size % 8 != 0
        || bloom_n_hash == 0
    {
        return Err(EINVAL);
    }
    let attach_required = match args.item(KDBUS_ITEM_ATTACH_FLAGS_RECV) {
        Some(i) => sanitize_attach(i.u64())?,
        None => 0,
    };
    let attach_owner = match args.item(KDBUS_ITEM_ATTACH_FLAGS_SEND) {
        Some(i) => sanitize_attach(i.u64())?,
        None => 0,
    };
    let name = args.item(KDBUS_ITEM_MAKE_NAME).ok_or(EINVAL)?.str();
    check_name_prefix(domain, name)?;

    let flags = args.flags() & SPEC.flags();
    let (dir_mode, ep_mode) = modes(flags);
    let euid = Kuid::current_euid();
    let egid = kext::current_egid();
    let id = domain.next_id();
    let mut id128 = [0u8; 16];
    kext::random_bytes(&mut id128);
    // A version 4, DCE variant UUID.
    id128[6] = (id128[6] & 0x0f) | 0x40;
    id128[8] = (id128[8] & 0x3f) | 0x80;

    let creator = Snapshot::current()?;
    let bus = Arc::pin_init(
        try_pin_init!(Bus {
            id,
            id128,
            flags,
            bloom_size,
            bloom_n_hash,
            attach_required,
            attach_owner,
            creator_euid: euid,
            creator,
            inner <- new_mutex!(BusInner {
                charged: None,
                conns: KVec::new(),
                policy: BusPolicy::new(),
                names: Registry::new(),
                matches: RBTree::new(),
            }),
            ids <- XArray::new(AllocKind::Alloc),
            monitors <- new_mutex!(RBTree::new()),
            has_monitors: Atomic::new(false),
            notify <- Notifier::new(),
        }),
        GFP_KERNEL,
    )?;
    let node = Node::new(
        name,
        kext::S_IFDIR | dir_mode,
        euid,
        egid,
        Some(root.clone()),
        NodeObject::Bus(bus.clone()),
    )?;
    root.link_child(&node)?;
    if let Err(e) = activate(root, &node, &bus, ep_mode) {
        node.deactivate();
        return Err(e);
    }
    Ok(Some(node))
}

/// Charges the creator's user, activates the bus and its default endpoint.
fn activate(root: &Arc<Node>, node: &Arc<Node>, bus: &Bus, ep_mode: u16) -> Result {
    let user = Domain::user(root, kext::current_uid())?;
    bus.inner.lock().charged = Some(user.charge_bus(KDBUS_USER_MAX_BUSES as u32)?);
    node.activate()?;
    endpoint::make_default(node, ep_mode)?;
    Ok(())
}

impl Bus {
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn id128(&self) -> &[u8; 16] {
        &self.id128
    }

    pub(crate) fn flags(&self) -> u64 {
        self.flags
    }

    pub(crate) fn bloom(&self) -> (u64, u64) {
        (self.bloom_size, self.bloom_n_hash)
    }

    pub(crate) fn attach_required(&self) -> u64 {
        self.attach_required
    }

    pub(crate) fn attach_owner(&self) -> u64 {
        self.attach_owner
    }

    pub(crate) fn creator_euid(&self) -> Kuid {
        self.creator_euid
    }

    pub(crate) fn creator(&self) -> &Snapshot {
        &self.creator
    }

    /// The bus's notification queue.
    pub(crate) fn notifier(&self) -> &Notifier {
        &self.notify
    }

    /// Delivers the pending notifications (called with no lock held).
    pub(crate) fn flush_notifications(&self) {
        self.notify.flush(self);
    }

    /// The node's release action: return the creator's bus slot.
    pub(crate) fn release(&self, _was_active: bool) {
        // Dropping the charge returns the slot.
        drop(self.inner.lock().charged.take());
    }

    /// Adds a connection (HELLO); a monitor also to the monitors.
    pub(crate) fn add_conn(&self, conn: &Arc<Connection>) -> Result {
        let id = usize::try_from(conn.id()).map_err(|_| EOVERFLOW)?;
        let monitor = match conn.kind() {
            Kind::Monitor => Some(RBTreeNode::new(conn.id(), conn.clone(), GFP_KERNEL)?),
            _ => None,
        };
        let mut inner = self.inner.lock();
        inner.conns.reserve(1, GFP_KERNEL)?;
        // IDs are unique in the domain: the slot is empty.
        self.ids.lock().store(id, conn.clone(), GFP_KERNEL)?;
        // Cannot fail: capacity was reserved above.
        let _ = inner.conns.push_within_capacity(conn.clone());
        if let Some(node) = monitor {
            let mut monitors = self.monitors.lock();
            // IDs are unique: nothing is replaced.
            monitors.insert(node);
            self.has_monitors.store(true, ordering::Release);
        }
        Ok(())
    }

    /// Removes a connection (teardown).
    pub(crate) fn remove_conn(&self, conn: &Connection) {
        let mut inner = self.inner.lock();
        if let Ok(id) = usize::try_from(conn.id()) {
            // Dropped after the XArray lock (never the last count: the
            // caller and `conns` hold others).
            let removed = self.ids.lock().remove(id);
            drop(removed);
        }
        if conn.kind() == Kind::Monitor {
            let mut monitors = self.monitors.lock();
            let removed = monitors.remove(&conn.id());
            self.has_monitors
                .store(!monitors.is_empty(), ordering::Release);
            drop(monitors);
            drop(removed);
        }
        inner.conns.retain(|c| !core::ptr::eq(&**c, conn));
    }

    /// Whether the bus has monitors (an atomic read, no lock).
    pub(crate) fn has_monitors(&self) -> bool {
        self.has_monitors.load(ordering::Acquire)
    }

    /// Runs `f` on every monitor of the bus, in ID order, holding no lock
    /// while it runs (`message.md` §3.7): the monitors lock is taken once
    /// per monitor, to find the next one by ID. A monitor that connects
    /// meanwhile may be missed; one that is leaving may still be passed
    /// (its queue refuses the copy). Nothing is allocated, and a bus
    /// without monitors costs one atomic read.
    pub(crate) fn for_each_monitor(&self, mut f: impl FnMut(&Arc<Connection>)) {
        if !self.has_monitors() {
            return;
        }
        let mut from = 0;
        loop {
            let next = self
                .monitors
                .lock()
                .cursor_lower_bound(&from)
                .map(|c| c.current().1.clone());
            let Some(m) = next else {
                return;
            };
            f(&m);
            match m.id().checked_add(1) {
                Some(id) => from = id,
                None => return,
            }
        }
    }

    /// Replaces the bus policy entries owned by connection `owner`.
    pub(crate) fn set_policy(&self, owner: u64, db: PolicyDb) -> Result {
        self.inner.lock().policy.replace(owner, db)
    }

    /// Removes the bus policy entries owned by connection `owner`.
    pub(crate) fn remove_policy(&self, owner: u64) {
        self.inner.lock().policy.remove_owner(owner);
    }

    /// Registers an activator for `name` (HELLO).
    pub(crate) fn add_activator(&self, name: &[u8], conn: &Arc<Connection>) -> Result {
        let mut inner = self.inner.lock();
        let res = inner.names.add_activator(name, conn);
        let moves = self.queue_name_events(&mut inner, &|| conn.next_seq());
        drop(inner);
        run_moves(moves);
        res
    }

    /// Removes a connection from the name registry (teardown).
    pub(crate) fn remove_names(&self, conn: &Connection) {
        let mut inner = self.inner.lock();
        inner.names.remove_conn(conn);
        let gone = inner.matches.remove(&conn.id());
        let moves = self.queue_name_events(&mut inner, &|| conn.next_seq());
        drop(inner);
        drop(gone);
        run_moves(moves);
    }

    /// Hands the registry's ownership changes to the notifier, each with a
    /// sequence number from `seq`; returns the hand-overs of queued
    /// messages, for the caller to run once it has unlocked the bus.
    fn queue_name_events(&self, inner: &mut BusInner, seq: &dyn Fn() -> u64) -> KVec<Move> {
        for e in inner.names.take_events() {
            self.notify.name(e.ty, e.old, e.new, e.name, seq());
        }
        inner.names.take_moves()
    }

    /// MATCH_ADD: appends `entry` to `conn`'s database (`names-match-
    /// policy-metadata.md` §2.2 steps 5-7).
    pub(crate) fn add_match(
        &self,
        conn: &Arc<Connection>,
        entry: matches::Entry,
        replace: bool,
    ) -> Result {
        let mut inner = self.inner.lock();
        if let Some(s) = inner.matches.get_mut(&conn.id()) {
            return s.db.add(entry, replace);
        }
        let mut db = MatchDb::new();
        db.add(entry, replace)?;
        let sub = Subscriber {
            conn: conn.clone(),
            db,
        };
        inner
            .matches
            .insert(RBTreeNode::new(conn.id(), sub, GFP_KERNEL)?);
        Ok(())
    }

    /// MATCH_REMOVE (§2.3): `EBADSLT` if no entry of `conn` has `cookie`.
    pub(crate) fn remove_match(&self, conn: &Connection, cookie: u64) -> Result {
        let mut inner = self.inner.lock();
        let s = inner.matches.get_mut(&conn.id()).ok_or(EBADSLT)?;
        s.db.remove(cookie)?;
        if s.db.is_empty() {
            inner.matches.remove(&conn.id());
        }
        Ok(())
    }

    /// The subscribers but `skip` whose databases match the notification
    /// `ev` (§2.4). O(subscribers and their rules), never every connection.
    pub(crate) fn match_targets(&self, ev: &Event<'_>, skip: u64) -> Result<KVec<Arc<Connection>>> {
        targets(&self.inner.lock(), ev, skip)
    }

    /// Runs `f` under the bus lock with the signal `sender` sends with bloom
    /// filter `filter` of `generation`; its NAME rules are checked against
    /// the registry under the same lock (§2.4).
    fn with_signal<R>(
        &self,
        sender: u64,
        generation: u64,
        filter: &[u8],
        f: impl FnOnce(&BusInner, &Event<'_>) -> R,
    ) -> R {
        let inner = self.inner.lock();
        let owns = |n: &[u8]| inner.names.owner(n).is_some_and(|(o, _)| o.id() == sender);
        let ev = Event::Signal {
            sender,
            generation,
            filter,
            owns: &owns,
        };
        f(&inner, &ev)
    }

    /// Whether `conn`'s database matches the signal `sender` sends with
    /// bloom filter `filter` of `generation` (a unicast signal, §2.6).
    pub(crate) fn signal_matches(
        &self,
        conn: &Connection,
        sender: u64,
        generation: u64,
        filter: &[u8],
    ) -> bool {
        self.with_signal(sender, generation, filter, |inner, ev| {
            inner
                .matches
                .get(&conn.id())
                .is_some_and(|s| s.db.matches(ev))
        })
    }

    /// The subscribers but `sender` that a broadcast of `sender` with bloom
    /// filter `filter` of `generation` matches (§2.4, §2.6).
    pub(crate) fn broadcast_targets(
        &self,
        sender: u64,
        generation: u64,
        filter: &[u8],
    ) -> Result<KVec<Arc<Connection>>> {
        self.with_signal(sender, generation, filter, |inner, ev| {
            targets(inner, ev, sender)
        })
    }

    /// NAME_ACQUIRE of a valid `name` by `conn` (`names-match-policy-
    /// metadata.md` §1.3 rows 5-12): `Ok(true)` if it was queued.
    pub(crate) fn acquire_name(
        &self,
        conn: &Arc<Connection>,
        name: &[u8],
        flags: u64,
    ) -> Result<bool> {
        // Row 5, then row 6 in the order of §3.5: the endpoint's policy
        // (its own lock, never taken under the bus lock), then the bus's.
        if self.inner.lock().names.count_owned(conn.id()) >= KDBUS_CONN_MAX_NAMES {
            return Err(E2BIG);
        }
        if !conn.endpoint_grants(name, KDBUS_POLICY_OWN) {
            return Err(EPERM);
        }
        let mut inner = self.inner.lock();
        if inner.names.count_owned(conn.id()) >= KDBUS_CONN_MAX_NAMES {
            return Err(E2BIG);
        }
        let cred = kext::current_cred();
        if !conn.is_privileged() && !inner.policy.grants(&cred, name, KDBUS_POLICY_OWN) {
            return Err(EPERM);
        }
        let queued = inner.names.acquire(conn, name, flags);
        let moves = self.queue_name_events(&mut inner, &|| conn.next_seq());
        drop(inner);
        run_moves(moves);
        queued
    }

    /// NAME_RELEASE of `name` by `conn` (§1.4 rows 4-7).
    pub(crate) fn release_name(&self, conn: &Connection, name: &[u8]) -> Result {
        let mut inner = self.inner.lock();
        let res = inner.names.release(conn, name);
        let moves = self.queue_name_events(&mut inner, &|| conn.next_seq());
        drop(inner);
        run_moves(moves);
        res
    }

    /// LIST's records (`connection-pool.md` §8.3): for every connection
    /// but monitors (and activators without `KDBUS_LIST_ACTIVATORS`), in
    /// ID order; O(connections + records).
    pub(crate) fn list(&self, flags: u64) -> Result<KVec<ListRecord>> {
        let inner = self.inner.lock();
        let mut out = KVec::new();
        for c in inner.conns.iter() {
            match c.kind() {
                Kind::Monitor => continue,
                Kind::Activator if flags & KDBUS_LIST_ACTIVATORS == 0 => continue,
                _ => {}
            }
            inner.names.list(c, flags, &mut out)?;
        }
        Ok(out)
    }

    /// The names `owner` owns, with the flags it holds them with: a copy
    /// of just these (nothing is allocated for a connection without names).
    pub(crate) fn names_of(&self, owner: &Connection) -> Result<KVec<(KVec<u8>, u64)>> {
        let inner = self.inner.lock();
        let mut v = KVec::new();
        for (name, flags) in inner.names.owned_by(owner.id()) {
            let copy = crate::copy_bytes(name)?;
            v.push((copy, flags), GFP_KERNEL)?;
        }
        Ok(v)
    }

    /// Whether `check` holds for some name `owner` owns, given the bus
    /// policy: names and policy are read in place under one lock, nothing
    /// is copied (O(names of `owner` × log entries) for a policy check).
    pub(crate) fn any_name_of(
        &self,
        owner: &Connection,
        check: impl Fn(&BusPolicy, &[u8]) -> bool,
    ) -> bool {
        let inner = self.inner.lock();
        let found = inner
            .names
            .owned_by(owner.id())
            .any(|(name, _)| check(&inner.policy, name));
        found
    }

    /// The owner of `name`: O(log n) in the names of the bus.
    /// With the sequence number of the name's entry.
    pub(crate) fn name_owner(&self, name: &[u8]) -> Option<(Arc<Connection>, u64)> {
        let inner = self.inner.lock();
        let (owner, seq) = inner.names.owner(name)?;
        Some((owner.clone(), seq))
    }

    /// Finds a connection by ID (the XArray: no bus mutex, no scan).
    pub(crate) fn find_conn(&self, id: u64) -> Option<Arc<Connection>> {
        let id = usize::try_from(id).ok()?;
        self.ids.lock().get(id).map(Arc::from)
    }

    /// The connections with reply trackers, for a teardown to find the
    /// calls made to the leaving connection: one atomic read per
    /// connection under the bus lock, and a copy of just the callers (an
    /// idle connection costs no lock and no reference).
    pub(crate) fn callers(&self) -> Result<KVec<Arc<Connection>>> {
        let inner = self.inner.lock();
        let mut v = KVec::new();
        for c in inner.conns.iter().filter(|c| c.has_trackers()) {
            v.push(c.clone(), GFP_KERNEL)?;
        }
        Ok(v)
    }
}
