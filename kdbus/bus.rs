// SPDX-License-Identifier: GPL-2.0

//! Buses: BUS_MAKE and what a bus holds (`fs-bus-endpoint.md` §6).
//!
//! A bus is a directory node of the domain root, created by BUS_MAKE on a
//! `control` handle, which owns it: closing that handle tears the bus down
//! (node deactivation: endpoints, then their connections). The bus object
//! keeps what is fixed at creation (ID, UUID, bloom parameters, attach
//! masks, the creator's identity and metadata) plus its connections.

use kernel::{
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    task::Kuid,
    xarray::{AllocKind, XArray},
};

use crate::{
    connection::Connection,
    domain::{Charge, Domain},
    endpoint,
    item::{sanitize_attach, Args, CmdSpec, ItemRule, Parsed},
    kext, limits,
    metadata::Snapshot,
    names::Registry,
    node::{Node, NodeObject},
    notify::Notifier,
    policy::{BusPolicy, PolicyDb},
    uapi::*,
};

/// BUS_MAKE's arguments (`abi.md` §5.13, §6.3).
static SPEC: CmdSpec = CmdSpec {
    size: 24,
    flags: KDBUS_MAKE_ACCESS_GROUP | KDBUS_MAKE_ACCESS_WORLD,
    items: &[
        ItemRule::mandatory(KDBUS_ITEM_MAKE_NAME),
        ItemRule::mandatory(KDBUS_ITEM_BLOOM_PARAMETER),
        ItemRule::once(KDBUS_ITEM_ATTACH_FLAGS_SEND),
        ItemRule::once(KDBUS_ITEM_ATTACH_FLAGS_RECV),
    ],
};

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
}

/// A name of the registry, copied out of the bus lock.
pub(crate) struct NameSnap {
    pub(crate) name: KVec<u8>,
    pub(crate) owner: Arc<Connection>,
    pub(crate) flags: u64,
    pub(crate) activator: Option<Arc<Connection>>,
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
    #[pin]
    notify: Notifier,
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

    let bloom = args.item(KDBUS_ITEM_BLOOM_PARAMETER).ok_or(EINVAL)?;
    let bloom_size = crate::item::get_u64(bloom.payload, 0);
    let bloom_n_hash = crate::item::get_u64(bloom.payload, 8);
    if !(8..=limits::BUS_BLOOM_MAX_SIZE).contains(&bloom_size)
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

    let flags = args.flags() & SPEC.flags;
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
            }),
            ids <- XArray::new(AllocKind::Alloc),
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
    bus.inner.lock().charged = Some(user.charge_bus(limits::USER_MAX_BUSES as u32)?);
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

    /// Adds a connection (HELLO).
    pub(crate) fn add_conn(&self, conn: &Arc<Connection>) -> Result {
        let id = usize::try_from(conn.id()).map_err(|_| EOVERFLOW)?;
        let mut inner = self.inner.lock();
        inner.conns.reserve(1, GFP_KERNEL)?;
        // IDs are unique in the domain: the slot is empty.
        self.ids.lock().store(id, conn.clone(), GFP_KERNEL)?;
        // Cannot fail: capacity was reserved above.
        let _ = inner.conns.push_within_capacity(conn.clone());
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
        inner.conns.retain(|c| !core::ptr::eq(&**c, conn));
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
        self.inner.lock().names.add_activator(name, conn)
    }

    /// Removes a connection from the name registry (teardown).
    pub(crate) fn remove_names(&self, conn: &Connection) {
        self.inner.lock().names.remove_conn(conn);
    }

    /// A snapshot of the name registry: (name, owner, owner's flags,
    /// activator), in registration order.
    pub(crate) fn names(&self) -> Result<KVec<NameSnap>> {
        let inner = self.inner.lock();
        let mut v = KVec::with_capacity(inner.names.entries().len(), GFP_KERNEL)?;
        for e in inner.names.entries() {
            let mut name = KVec::with_capacity(e.name.len(), GFP_KERNEL)?;
            name.extend_from_slice(&e.name, GFP_KERNEL)?;
            v.push(
                NameSnap {
                    name,
                    owner: e.owner.clone(),
                    flags: e.flags,
                    activator: e.activator.clone(),
                },
                GFP_KERNEL,
            )?;
        }
        Ok(v)
    }

    /// The names `owner` owns, with the flags it holds them with: a copy
    /// of just these (nothing is allocated for a connection without names).
    pub(crate) fn names_of(&self, owner: &Connection) -> Result<KVec<(KVec<u8>, u64)>> {
        let inner = self.inner.lock();
        let mut v = KVec::new();
        for e in inner.names.owned_by(owner) {
            let mut name = KVec::with_capacity(e.name.len(), GFP_KERNEL)?;
            name.extend_from_slice(&e.name, GFP_KERNEL)?;
            v.push((name, e.flags), GFP_KERNEL)?;
        }
        Ok(v)
    }

    /// Whether the bus policy grants `level` on some name `owner` owns,
    /// read in place under one lock.
    pub(crate) fn policy_grants_any_name_of(&self, owner: &Connection, level: u64) -> bool {
        let inner = self.inner.lock();
        let granted = inner
            .names
            .owned_by(owner)
            .any(|e| inner.policy.grants(&e.name, level));
        granted
    }

    /// The owner of `name`.
    pub(crate) fn name_owner(&self, name: &[u8]) -> Option<Arc<Connection>> {
        self.inner.lock().names.find(name).map(|e| e.owner.clone())
    }

    /// Finds a connection by ID (the XArray: no bus mutex, no scan).
    pub(crate) fn find_conn(&self, id: u64) -> Option<Arc<Connection>> {
        let id = usize::try_from(id).ok()?;
        self.ids.lock().get(id).map(Arc::from)
    }

    /// A snapshot of the connections, for LIST.
    pub(crate) fn conns(&self) -> Result<KVec<Arc<Connection>>> {
        let inner = self.inner.lock();
        let mut v = KVec::with_capacity(inner.conns.len(), GFP_KERNEL)?;
        for c in inner.conns.iter() {
            v.push(c.clone(), GFP_KERNEL)?;
        }
        Ok(v)
    }
}
