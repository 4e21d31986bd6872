// SPDX-License-Identifier: GPL-2.0

//! Connections: HELLO, BYEBYE, UPDATE, CONN_INFO, BUS_CREATOR_INFO, LIST,
//! FREE, teardown, `mmap()` and `poll()` (`connection-pool.md`).
//!
//! A connection is made by HELLO on an endpoint handle and owned by that
//! handle: it stays "connected but dead" after BYEBYE or the teardown of its
//! endpoint or bus, until the handle is closed. Its bus and endpoint keep
//! lists of it while it is alive; it keeps its endpoint node (and through
//! it the bus and the domain) alive as long as it exists.
//!
//! Connection ioctls run inside the connection's [`Gate`] (its active
//! reference): teardown closes the gate and waits for them, which is why a
//! dead connection answers `ECONNRESET`.

use kernel::{
    alloc::KVec,
    bindings,
    fs::{file::FileDescriptorReservation, File},
    new_mutex, new_poll_condvar,
    prelude::*,
    sync::{poll::PollCondVar, poll::PollTable, Arc, Mutex},
};

use crate::{
    bus::{Bus, NameSnap},
    domain::{Charge, Domain},
    item::{sanitize_attach, Args, CmdSpec, ItemRule, Parsed},
    limits,
    message::{Msg, MsgMeta},
    metadata::{push_item, push_str_item, Snapshot},
    names,
    node::{ActiveRef, Gate, Node},
    policy::PolicyDb,
    pool::Pool,
    queue::{Entry, Queue},
    uapi::*,
};

/// The connection kinds (`connection-pool.md` §4).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Ordinary,
    Activator,
    PolicyHolder,
    Monitor,
}

struct ConnInner {
    /// Whether teardown has run (or is running).
    disconnected: bool,
    attach_send: u64,
    attach_recv: u64,
    /// Messages lost since the last RECV.
    dropped: u64,
    /// Received messages, not yet dequeued.
    queue: Queue,
}

/// A connection.
///
/// # Invariants
///
/// `ep` is an endpoint node of `bus`; `charge` is this connection's slot in
/// its user's limit, returned when the connection is freed (not at
/// disconnect, `connection-pool.md` §3.9).
#[pin_data]
pub(crate) struct Connection {
    id: u64,
    hello_flags: u64,
    kind: Kind,
    privileged: bool,
    ep: Arc<Node>,
    bus: Arc<Bus>,
    pool: Arc<Pool>,
    description: Option<KVec<u8>>,
    meta: Snapshot,
    /// The real UID (kuid value) of the HELLO caller, for TALK checks.
    uid: u32,
    charge: Charge,
    #[pin]
    active: Gate,
    #[pin]
    inner: Mutex<ConnInner>,
    #[pin]
    wait: PollCondVar,
}

/// HELLO's arguments.
static HELLO_SPEC: CmdSpec = CmdSpec {
    size: 96,
    flags: KDBUS_HELLO_ACCEPT_FD
        | KDBUS_HELLO_ACTIVATOR
        | KDBUS_HELLO_POLICY_HOLDER
        | KDBUS_HELLO_MONITOR,
    items: &[
        ItemRule::once(KDBUS_ITEM_NAME),
        ItemRule::once(KDBUS_ITEM_CREDS),
        ItemRule::once(KDBUS_ITEM_PIDS),
        ItemRule::once(KDBUS_ITEM_SECLABEL),
        ItemRule::once(KDBUS_ITEM_CONN_DESCRIPTION),
        ItemRule::many(KDBUS_ITEM_POLICY_ACCESS),
    ],
};

static BYEBYE_SPEC: CmdSpec = CmdSpec {
    size: 24,
    flags: 0,
    items: &[],
};

static UPDATE_SPEC: CmdSpec = CmdSpec {
    size: 24,
    flags: 0,
    items: &[
        ItemRule::once(KDBUS_ITEM_ATTACH_FLAGS_SEND),
        ItemRule::once(KDBUS_ITEM_ATTACH_FLAGS_RECV),
        ItemRule::many(KDBUS_ITEM_NAME),
        ItemRule::many(KDBUS_ITEM_POLICY_ACCESS),
    ],
};

static FREE_SPEC: CmdSpec = CmdSpec {
    size: 32,
    flags: 0,
    items: &[],
};

static CONN_INFO_SPEC: CmdSpec = CmdSpec {
    size: 56,
    flags: 0,
    items: &[ItemRule::once(KDBUS_ITEM_NAME)],
};

static BUS_CREATOR_INFO_SPEC: CmdSpec = CmdSpec {
    size: 56,
    flags: 0,
    items: &[],
};

static SEND_SPEC: CmdSpec = CmdSpec {
    size: 56,
    flags: KDBUS_SEND_SYNC_REPLY,
    items: &[ItemRule::once(KDBUS_ITEM_CANCEL_FD)],
};

static RECV_SPEC: CmdSpec = CmdSpec {
    size: 64,
    flags: KDBUS_RECV_PEEK | KDBUS_RECV_DROP | KDBUS_RECV_USE_PRIORITY,
    items: &[],
};

static LIST_SPEC: CmdSpec = CmdSpec {
    size: 40,
    flags: KDBUS_LIST_UNIQUE | KDBUS_LIST_NAMES | KDBUS_LIST_ACTIVATORS | KDBUS_LIST_QUEUED,
    items: &[],
};

/// Offsets in `struct kdbus_cmd_hello`.
mod hello_off {
    pub(super) const ATTACH_SEND: usize = 24;
    pub(super) const ATTACH_RECV: usize = 32;
    pub(super) const BUS_FLAGS: usize = 40;
    pub(super) const ID: usize = 48;
    pub(super) const POOL_SIZE: usize = 56;
    pub(super) const OFFSET: usize = 64;
    pub(super) const ITEMS_SIZE: usize = 72;
    pub(super) const ID128: usize = 80;
}

/// HELLO on an untyped endpoint handle (`connection-pool.md` §3); `None`
/// after a negotiation probe.
pub(crate) fn hello(
    ep_active: &ActiveRef,
    privileged: bool,
    _file: &File,
    arg: usize,
) -> Result<Option<Arc<Connection>>> {
    let ep_node = ep_active.node();
    let ep = ep_node.endpoint().ok_or(EBADFD)?;
    let bus = ep_node.bus().ok_or(ESHUTDOWN)?.clone();
    let args = match Args::parse(arg, &HELLO_SPEC)? {
        Parsed::Run(args) => args,
        Parsed::Negotiated => return Ok(None),
    };
    let flags = args.flags();

    // 5. Pool size.
    let pool_size = args.get(hello_off::POOL_SIZE);
    if pool_size == 0 || pool_size % kernel::page::PAGE_SIZE as u64 != 0 {
        return Err(EINVAL);
    }
    // 6-9. Kind and NAME.
    let special = flags & (KDBUS_HELLO_ACTIVATOR | KDBUS_HELLO_POLICY_HOLDER | KDBUS_HELLO_MONITOR);
    if special.count_ones() > 1 {
        return Err(EINVAL);
    }
    let kind = if flags & KDBUS_HELLO_ACTIVATOR != 0 {
        Kind::Activator
    } else if flags & KDBUS_HELLO_POLICY_HOLDER != 0 {
        Kind::PolicyHolder
    } else if flags & KDBUS_HELLO_MONITOR != 0 {
        Kind::Monitor
    } else {
        Kind::Ordinary
    };
    let name = args.item(KDBUS_ITEM_NAME);
    match (kind, name) {
        (Kind::Activator | Kind::PolicyHolder, None) => return Err(EINVAL),
        (Kind::Ordinary | Kind::Monitor, Some(_)) => return Err(EINVAL),
        (Kind::Activator, Some(n)) if !names::is_valid(n.str(), false) => return Err(EINVAL),
        (Kind::PolicyHolder, Some(n)) if !names::is_valid(n.str(), true) => return Err(EINVAL),
        _ => {}
    }
    // 10-12. Privilege.
    if kind == Kind::Monitor && !ep.is_default() {
        return Err(EOPNOTSUPP);
    }
    if kind != Kind::Ordinary && !privileged {
        return Err(EPERM);
    }
    let creds = args.item(KDBUS_ITEM_CREDS);
    let pids = args.item(KDBUS_ITEM_PIDS);
    let seclabel = args.item(KDBUS_ITEM_SECLABEL);
    let faked = creds.is_some() || pids.is_some() || seclabel.is_some();
    if faked && !privileged {
        return Err(EPERM);
    }
    // 13-15. Attach masks.
    let attach_send = sanitize_attach(args.get(hello_off::ATTACH_SEND))?;
    let attach_recv = sanitize_attach(args.get(hello_off::ATTACH_RECV))?;
    if bus.attach_required() & !attach_send != 0 {
        return Err(ECONNREFUSED);
    }
    let domain = ep_node.domain().ok_or(ESHUTDOWN)?;
    let root = bus_root(ep_node)?;
    let id = domain.next_id();

    // 16. The pool.
    let pool = Pool::new(pool_size).map_err(|e| if e == EINVAL { EINVAL } else { ENOMEM })?;
    // 17. Metadata.
    let meta = if faked {
        Snapshot::faked(
            creds.map(|i| i.payload),
            pids.map(|i| i.payload),
            seclabel.map(|i| i.str()),
        )?
    } else {
        Snapshot::current()?
    };
    let description = match args.item(KDBUS_ITEM_CONN_DESCRIPTION) {
        Some(d) => {
            let mut v = KVec::with_capacity(d.str().len(), GFP_KERNEL)?;
            v.extend_from_slice(d.str(), GFP_KERNEL)?;
            Some(v)
        }
        None => None,
    };
    // 18. The per-user connection limit.
    let user = match ep.anon_user() {
        Some(anon) => anon.clone_ref()?,
        None => Domain::user(root, crate::kext::current_uid())?,
    };
    let charge = user.charge_conn(limits::USER_MAX_CONN as u32)?;

    let (bloom_size, n_hash) = bus.bloom();
    let conn = Arc::pin_init(
        try_pin_init!(Connection {
            id,
            hello_flags: flags,
            kind,
            privileged,
            ep: ep_node.clone(),
            bus: bus.clone(),
            pool,
            description,
            meta,
            uid: crate::kext::current_uid().val,
            charge,
            active <- Gate::new(),
            inner <- new_mutex!(ConnInner {
                disconnected: false,
                attach_send,
                attach_recv,
                dropped: 0,
                queue: Queue::new(),
            }),
            wait <- new_poll_condvar!(),
        }),
        GFP_KERNEL,
    )?;

    // The bloom parameters, as the HELLO slice (`abi.md` §8.1).
    let mut item = KVec::new();
    let mut bloom = [0u8; 16];
    bloom[..8].copy_from_slice(&bloom_size.to_ne_bytes());
    bloom[8..].copy_from_slice(&n_hash.to_ne_bytes());
    push_item(&mut item, KDBUS_ITEM_BLOOM_PARAMETER, &bloom)?;
    let offset = conn.pool.alloc(item.len())?;
    conn.pool.write(offset, &item)?;

    // 19. Link: the connection becomes reachable.
    if let Err(e) = conn.link() {
        conn.pool.release_kernel(offset);
        return Err(e);
    }

    // 20. An activator registers as its name's activator (`EEXIST` if the
    // name has one).
    if kind == Kind::Activator {
        let name = args.item(KDBUS_ITEM_NAME).map(|i| i.str()).unwrap_or(b"");
        if let Err(e) = conn.bus.add_activator(name, &conn) {
            conn.pool.release_kernel(offset);
            conn.disconnect();
            return Err(e);
        }
    }

    // Activators and policy holders install their NAME and POLICY_ACCESS
    // items into the bus policy (`connection-pool.md` §3.10 step 5).
    if matches!(kind, Kind::Activator | Kind::PolicyHolder) {
        let installed = PolicyDb::from_items(args.items(), kind == Kind::PolicyHolder)
            .and_then(|db| conn.bus.set_policy(id, db));
        if let Err(e) = installed {
            conn.pool.release_kernel(offset);
            conn.disconnect();
            return Err(e);
        }
    }

    // 23. Copy the fixed part back.
    let mut out = [0u8; 96];
    out.copy_from_slice(&args.buf()[..96]);
    crate::item::put_u64(&mut out, hello_off::BUS_FLAGS, conn.bus.flags());
    crate::item::put_u64(&mut out, hello_off::ID, id);
    crate::item::put_u64(&mut out, hello_off::OFFSET, offset as u64);
    crate::item::put_u64(&mut out, hello_off::ITEMS_SIZE, item.len() as u64);
    out[hello_off::ID128..hello_off::ID128 + 16].copy_from_slice(conn.bus.id128());
    conn.pool.publish_and_release(offset);
    if let Err(e) = args.write_user(0, &out) {
        conn.disconnect();
        return Err(e);
    }
    Ok(Some(conn))
}

/// Appends a `KDBUS_ITEM_OWNED_NAME` item (`struct kdbus_name`).
pub(crate) fn push_name_item(out: &mut KVec<u8>, name_flags: u64, name: &[u8]) -> Result {
    let size = 16 + 8 + name.len() as u64 + 1;
    out.extend_from_slice(&size.to_ne_bytes(), GFP_KERNEL)?;
    out.extend_from_slice(&KDBUS_ITEM_OWNED_NAME.to_ne_bytes(), GFP_KERNEL)?;
    out.extend_from_slice(&name_flags.to_ne_bytes(), GFP_KERNEL)?;
    out.extend_from_slice(name, GFP_KERNEL)?;
    out.push(0, GFP_KERNEL)?;
    while out.len() % 8 != 0 {
        out.push(0, GFP_KERNEL)?;
    }
    Ok(())
}

/// Appends a LIST name record: a `kdbus_info` with one OWNED_NAME item.
fn push_name_record(
    out: &mut KVec<u8>,
    id: u64,
    flags: u64,
    name_flags: u64,
    name: &[u8],
) -> Result {
    let item = (16 + 8 + name.len() as u64 + 1).next_multiple_of(8);
    out.extend_from_slice(&(24 + item).to_ne_bytes(), GFP_KERNEL)?;
    out.extend_from_slice(&id.to_ne_bytes(), GFP_KERNEL)?;
    out.extend_from_slice(&flags.to_ne_bytes(), GFP_KERNEL)?;
    push_name_item(out, name_flags, name)
}

/// Reserves a descriptor for one file of a message being received (when
/// `install`), recording the reservation (or `None` on failure, which sets
/// `incomplete`) in `out`; returns the number to show, -1 if none.
fn reserve_fd(
    install: bool,
    out: &mut KVec<Option<FileDescriptorReservation>>,
    incomplete: &mut bool,
) -> Result<i32> {
    if !install {
        return Ok(-1);
    }
    match FileDescriptorReservation::get_unused_fd_flags(bindings::O_CLOEXEC) {
        Ok(r) => {
            let fd = i32::try_from(r.reserved_fd()).unwrap_or(-1);
            out.push(Some(r), GFP_KERNEL)?;
            Ok(fd)
        }
        Err(_) => {
            *incomplete = true;
            out.push(None, GFP_KERNEL)?;
            Ok(-1)
        }
    }
}

/// Attach flags of process metadata (collected from the sending task).
const PROCESS_META: u64 = KDBUS_ATTACH_CREDS
    | KDBUS_ATTACH_PIDS
    | KDBUS_ATTACH_AUXGROUPS
    | KDBUS_ATTACH_TID_COMM
    | KDBUS_ATTACH_PID_COMM
    | KDBUS_ATTACH_EXE
    | KDBUS_ATTACH_CMDLINE
    | KDBUS_ATTACH_CGROUP
    | KDBUS_ATTACH_CAPS
    | KDBUS_ATTACH_SECLABEL
    | KDBUS_ATTACH_AUDIT;

/// The domain root above an endpoint node.
fn bus_root(ep: &Arc<Node>) -> Result<&Arc<Node>> {
    ep.parent().and_then(|b| b.parent()).ok_or(ESHUTDOWN)
}

/// The commands of a connected handle; `active` is the connection's active
/// reference taken by the dispatcher.
pub(crate) fn command(conn: &Arc<Connection>, active: ConnActive, cmd: u32, arg: usize) -> Result {
    // `abi.md` §3.2 rule 7: the connection type, before the argument is read.
    let allowed = match cmd {
        KDBUS_CMD_UPDATE | KDBUS_CMD_CONN_INFO | KDBUS_CMD_BUS_CREATOR_INFO | KDBUS_CMD_LIST => {
            true
        }
        KDBUS_CMD_FREE | KDBUS_CMD_RECV => conn.kind != Kind::PolicyHolder,
        _ => conn.kind == Kind::Ordinary,
    };
    if !allowed {
        return Err(EOPNOTSUPP);
    }
    match cmd {
        KDBUS_CMD_BYEBYE => {
            // Teardown waits for the active references: give ours back.
            drop(active);
            conn.byebye(arg)
        }
        KDBUS_CMD_UPDATE => conn.update(arg),
        KDBUS_CMD_FREE => conn.free(arg),
        KDBUS_CMD_CONN_INFO => conn.conn_info(arg),
        KDBUS_CMD_BUS_CREATOR_INFO => conn.bus_creator_info(arg),
        KDBUS_CMD_LIST => conn.list(arg),
        KDBUS_CMD_SEND => conn.send(arg),
        KDBUS_CMD_RECV => conn.recv(arg),
        // NAME_*, MATCH_* arrive with the names and match issues
        // (`Documentation/kdbus/status.rst`).
        _ => Err(EOPNOTSUPP),
    }
}

/// A connection's active reference (`connection-pool.md` §5.3 step 1).
pub(crate) struct ConnActive {
    conn: Arc<Connection>,
}

impl Drop for ConnActive {
    fn drop(&mut self) {
        self.conn.active.leave();
    }
}

impl Connection {
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Enters the connection; `None` once it is disconnected.
    pub(crate) fn acquire_active(self: &Arc<Self>) -> Option<ConnActive> {
        if self.active.enter() {
            Some(ConnActive { conn: self.clone() })
        } else {
            None
        }
    }

    /// Adds the connection to its bus and endpoint and opens it.
    fn link(self: &Arc<Self>) -> Result {
        let ep = self.ep.endpoint().ok_or(ESHUTDOWN)?;
        // Hold the endpoint active while linking, so its teardown either
        // sees the connection in its list or has refused us.
        let _ep_active = self.ep.acquire_active().ok_or(ESHUTDOWN)?;
        self.bus.add_conn(self)?;
        if let Err(e) = ep.add_conn(self) {
            self.bus.remove_conn(self);
            return Err(e);
        }
        self.active.open();
        Ok(())
    }

    /// Teardown (`connection-pool.md` §5.3). Returns `false` if the
    /// connection was already disconnected (or being disconnected).
    pub(crate) fn disconnect(&self) -> bool {
        self.disconnect_if(false) == Ok(true)
    }

    /// Teardown; with `only_if_empty`, fails `EBUSY` unless the queue is
    /// empty, atomically with respect to enqueueing (BYEBYE).
    fn disconnect_if(&self, only_if_empty: bool) -> Result<bool> {
        {
            let mut inner = self.inner.lock();
            if inner.disconnected {
                return Ok(false);
            }
            if only_if_empty && !inner.queue.is_empty() {
                return Err(EBUSY);
            }
            inner.disconnected = true;
        }
        // 1. No new ioctls; wait for the ones in flight.
        self.active.close_and_wait();
        // 3. Its bus policy entries go first.
        self.bus.remove_policy(self.id);
        // 5. Its names (activator registrations, owned names).
        self.bus.remove_names(self);
        // 6. Discard the queue.
        let mut inner = self.inner.lock();
        while let Some(e) = inner.queue.remove(0) {
            self.pool.release_kernel(e.off);
        }
        drop(inner);
        // 4. Out of the ID table and the endpoint.
        self.bus.remove_conn(self);
        if let Some(ep) = self.ep.endpoint() {
            ep.remove_conn(self);
        }
        // Pollers see POLLERR | POLLHUP from now on.
        self.wait.notify_all();
        Ok(true)
    }

    /// The handle is closed.
    pub(crate) fn release(&self) {
        self.disconnect();
    }

    fn byebye(&self, arg: usize) -> Result {
        match Args::parse(arg, &BYEBYE_SPEC)? {
            Parsed::Run(_) => {}
            Parsed::Negotiated => return Ok(()),
        }
        if self.disconnect_if(true)? {
            Ok(())
        } else {
            Err(ECONNRESET)
        }
    }

    fn update(&self, arg: usize) -> Result {
        let args = match Args::parse(arg, &UPDATE_SPEC)? {
            Parsed::Run(args) => args,
            Parsed::Negotiated => return Ok(()),
        };
        let send = args.item(KDBUS_ITEM_ATTACH_FLAGS_SEND);
        let recv = args.item(KDBUS_ITEM_ATTACH_FLAGS_RECV);
        let send = match send {
            Some(i) => {
                if matches!(self.kind, Kind::Activator | Kind::PolicyHolder) {
                    return Err(EOPNOTSUPP);
                }
                let v = sanitize_attach(i.u64())?;
                if self.bus.attach_required() & !v != 0 {
                    return Err(EINVAL);
                }
                Some(v)
            }
            None => None,
        };
        let recv = match recv {
            Some(i) => {
                if self.kind == Kind::PolicyHolder {
                    return Err(EOPNOTSUPP);
                }
                Some(sanitize_attach(i.u64())?)
            }
            None => None,
        };
        let has_policy = args
            .items()
            .any(|i| i.ty == KDBUS_ITEM_NAME || i.ty == KDBUS_ITEM_POLICY_ACCESS);
        if has_policy {
            if self.kind != Kind::PolicyHolder {
                return Err(EOPNOTSUPP);
            }
            if args.items().filter(|i| i.ty == KDBUS_ITEM_NAME).count() > 1 {
                return Err(E2BIG);
            }
            let db = PolicyDb::from_items(args.items(), true)?;
            self.bus.set_policy(self.id, db)?;
        }
        let mut inner = self.inner.lock();
        if let Some(v) = send {
            inner.attach_send = v;
        }
        if let Some(v) = recv {
            inner.attach_recv = v;
        }
        Ok(())
    }

    fn free(&self, arg: usize) -> Result {
        let args = match Args::parse(arg, &FREE_SPEC)? {
            Parsed::Run(args) => args,
            Parsed::Negotiated => return Ok(()),
        };
        self.pool.free(args.get(24))
    }

    /// Writes an answer into our own pool and publishes it; returns the
    /// offset.
    fn answer(&self, data: &[u8]) -> Result<usize> {
        let off = self.pool.alloc(data.len())?;
        if let Err(e) = self.pool.write(off, data) {
            self.pool.release_kernel(off);
            return Err(e);
        }
        self.pool.publish_and_release(off);
        Ok(off)
    }

    /// Whether this connection may see `name`.
    fn can_see_name(&self, name: &[u8]) -> bool {
        self.ep.endpoint().is_some_and(|e| e.can_see_name(name))
    }

    /// Whether this connection may see `peer`: always on the default
    /// endpoint; on a custom one only a peer owning a name it may see.
    fn can_see(&self, peer: &Connection) -> Result<bool> {
        let Some(ep) = self.ep.endpoint() else {
            return Ok(false);
        };
        if ep.is_default() {
            return Ok(true);
        }
        Ok(self
            .bus
            .names()?
            .iter()
            .any(|n| core::ptr::eq(&*n.owner, peer) && ep.can_see_name(&n.name)))
    }

    fn conn_info(&self, arg: usize) -> Result {
        let args = match Args::parse(arg, &CONN_INFO_SPEC)? {
            Parsed::Run(args) => args,
            Parsed::Negotiated => return Ok(()),
        };
        let mask = sanitize_attach(args.get(32))?;
        let id = args.get(24);
        let peer = if let Some(name) = args.item(KDBUS_ITEM_NAME) {
            let name = name.str();
            let owner = self.bus.name_owner(name).ok_or(ESRCH)?;
            if !self.can_see_name(name) || (id != 0 && id != owner.id) {
                return Err(ESRCH);
            }
            owner
        } else if id != 0 {
            let peer = self.bus.find_conn(id).ok_or(ENXIO)?;
            if !self.can_see(&peer)? {
                return Err(ENXIO);
            }
            peer
        } else {
            return Err(EINVAL);
        };
        let mut out = KVec::new();
        out.extend_from_slice(&[0u8; 24], GFP_KERNEL)?;
        crate::item::put_u64(&mut out, 8, peer.id);
        crate::item::put_u64(&mut out, 16, peer.hello_flags);
        let send = peer.inner.lock().attach_send;
        let mask = mask & send & crate::attach_flags_mask();
        peer.meta.write_items(mask, &mut out)?;
        if mask & KDBUS_ATTACH_NAMES != 0 {
            for n in self.bus.names()?.iter() {
                if core::ptr::eq(&*n.owner, &*peer) {
                    push_name_item(&mut out, n.flags, &n.name)?;
                }
            }
        }
        if mask & KDBUS_ATTACH_CONN_DESCRIPTION != 0 {
            if let Some(d) = &peer.description {
                push_str_item(&mut out, KDBUS_ITEM_CONN_DESCRIPTION, d)?;
            }
        }
        let size = out.len() as u64;
        crate::item::put_u64(&mut out, 0, size);
        let off = self.answer(&out)?;
        args.write_user_u64(40, off as u64)?;
        args.write_user_u64(48, size)
    }

    fn bus_creator_info(&self, arg: usize) -> Result {
        let args = match Args::parse(arg, &BUS_CREATOR_INFO_SPEC)? {
            Parsed::Run(args) => args,
            Parsed::Negotiated => return Ok(()),
        };
        let mask = sanitize_attach(args.get(32))?;
        let mut out = KVec::new();
        out.extend_from_slice(&[0u8; 24], GFP_KERNEL)?;
        crate::item::put_u64(&mut out, 8, self.bus.id());
        crate::item::put_u64(&mut out, 16, self.bus.flags());
        let bus_node = self.ep.parent().ok_or(ESHUTDOWN)?;
        push_str_item(&mut out, KDBUS_ITEM_MAKE_NAME, bus_node.name())?;
        let mask = mask & self.bus.attach_owner() & crate::attach_flags_mask();
        // Never for the bus creator: it is not a connection.
        let mask =
            mask & !(KDBUS_ATTACH_NAMES | KDBUS_ATTACH_CONN_DESCRIPTION | KDBUS_ATTACH_TIMESTAMP);
        self.bus.creator().write_items(mask, &mut out)?;
        let size = out.len() as u64;
        crate::item::put_u64(&mut out, 0, size);
        let off = self.answer(&out)?;
        args.write_user_u64(40, off as u64)?;
        args.write_user_u64(48, size)
    }

    fn list(&self, arg: usize) -> Result {
        let args = match Args::parse(arg, &LIST_SPEC)? {
            Parsed::Run(args) => args,
            Parsed::Negotiated => return Ok(()),
        };
        let flags = args.flags();
        let names = self.bus.names()?;
        let mut out = KVec::new();
        // `connection-pool.md` §8.3, for every connection of the bus.
        for c in self.bus.conns()?.iter() {
            match c.kind {
                Kind::Monitor => continue,
                Kind::Activator if flags & KDBUS_LIST_ACTIVATORS == 0 => continue,
                _ => {}
            }
            let mut added = false;
            if flags & (KDBUS_LIST_NAMES | KDBUS_LIST_ACTIVATORS) != 0 {
                for n in names.iter().filter(|n| Arc::ptr_eq(&n.owner, c)) {
                    let visible = self.can_see_name(&n.name);
                    if flags & KDBUS_LIST_ACTIVATORS != 0 {
                        if let Some(a) = n.activator.as_ref().filter(|a| !Arc::ptr_eq(a, c)) {
                            if visible {
                                push_name_record(&mut out, a.id, a.hello_flags, n.flags, &n.name)?;
                            }
                            added = true;
                        }
                    }
                    if flags & KDBUS_LIST_NAMES != 0 || c.kind == Kind::Activator {
                        if visible {
                            push_name_record(&mut out, c.id, c.hello_flags, n.flags, &n.name)?;
                        }
                        added = true;
                    }
                }
            }
            if !added && flags & KDBUS_LIST_UNIQUE != 0 {
                out.extend_from_slice(&24u64.to_ne_bytes(), GFP_KERNEL)?;
                out.extend_from_slice(&c.id.to_ne_bytes(), GFP_KERNEL)?;
                out.extend_from_slice(&c.hello_flags.to_ne_bytes(), GFP_KERNEL)?;
            }
        }
        let (off, size) = if out.is_empty() {
            (self.pool.size(), 0)
        } else {
            (self.answer(&out)?, out.len())
        };
        args.write_user_u64(24, off as u64)?;
        args.write_user_u64(32, size as u64)
    }

    /// SEND (`message.md` §2): unicast messages; broadcasts and method calls
    /// arrive with the rest of the messaging and method-call issues.
    fn send(self: &Arc<Self>, arg: usize) -> Result {
        let args = match Args::parse(arg, &SEND_SPEC)? {
            Parsed::Run(args) => args,
            Parsed::Negotiated => return Ok(()),
        };
        let sync = args.flags() & KDBUS_SEND_SYNC_REPLY != 0;
        if let Some(item) = args.item(KDBUS_ITEM_CANCEL_FD) {
            let fd = u32::from_ne_bytes([
                item.payload[0],
                item.payload[1],
                item.payload[2],
                item.payload[3],
            ]);
            kernel::fs::file::LocalFile::fget(fd).map_err(|_| EBADF)?;
        }
        let domain = self.ep.domain().ok_or(ESHUTDOWN)?;
        let (bloom_size, _) = self.bus.bloom();
        let msg = Msg::read(args.get(24), bloom_size, self.id, sync, || domain.next_id())?;
        let flags = msg.flags();
        if msg.dst_id() == KDBUS_DST_ID_BROADCAST || flags & KDBUS_MSG_EXPECT_REPLY != 0 {
            // Broadcasts need matches, calls need reply trackers: not yet.
            return Err(EOPNOTSUPP);
        }
        let dst = self.pin(&msg)?;
        if flags & KDBUS_MSG_SIGNAL != 0 {
            // A unicast signal is delivered only through a match of the
            // receiver, and matches do not exist yet: not delivered.
        } else if msg.get(crate::message::off::TIMEOUT) != 0 {
            // A reply needs a reply tracker at the destination; none exist
            // before method calls do (`message.md` §2.6).
            return Err(EPERM);
        } else {
            // One snapshot of the names serves the TALK check and metadata.
            let names = self.bus.names()?;
            if !self.can_talk(&dst, &names) {
                return Err(EPERM);
            }
            self.deliver(&dst, &msg, &names)?;
        }
        // `reply` is the empty slice for everything but synchronous calls.
        let mut reply = [0u8; 24];
        reply[..8].copy_from_slice(&(self.pool.size() as u64).to_ne_bytes());
        args.write_user(32, &reply)
    }

    /// Finds the destination of a unicast (`message.md` §3.1, §3.2).
    fn pin(&self, msg: &Msg) -> Result<Arc<Connection>> {
        let dst_id = msg.dst_id();
        match msg.dst_name() {
            Some(name) => {
                let owner = self.bus.name_owner(name).ok_or(ESRCH)?;
                if dst_id != 0 && dst_id != owner.id {
                    return Err(EREMCHG);
                }
                if msg.flags() & KDBUS_MSG_NO_AUTO_START != 0 && owner.kind == Kind::Activator {
                    return Err(EADDRNOTAVAIL);
                }
                Ok(owner)
            }
            None => self
                .bus
                .find_conn(dst_id)
                .filter(|c| c.kind == Kind::Ordinary)
                .ok_or(ENXIO),
        }
    }

    /// Whether this connection may talk to `dst` (`message.md` §3.6): a
    /// custom endpoint must grant TALK on a name `dst` owns; then the same
    /// user, a privileged sender, or the bus policy.
    fn can_talk(&self, dst: &Connection, names: &[NameSnap]) -> bool {
        let owned = || names.iter().filter(move |n| core::ptr::eq(&*n.owner, dst));
        if let Some(ep) = self.ep.endpoint().filter(|e| !e.is_default()) {
            if !owned().any(|n| ep.can_talk_name(&n.name)) {
                return false;
            }
        }
        if self.privileged || crate::kext::current_euid().val == dst.uid {
            return true;
        }
        owned().any(|n| self.bus.policy_grants(&n.name, KDBUS_POLICY_TALK))
    }

    /// Queues `msg` on `dst` (`message.md` §5.1): quota, slice, one copy of
    /// the payload, enqueue, wake-up.
    fn deliver(&self, dst: &Arc<Connection>, msg: &Msg, names: &[NameSnap]) -> Result {
        let send_mask = self.inner.lock().attach_send;
        let mask = crate::attach_flags_mask() & send_mask & dst.inner.lock().attach_recv;
        // A sender with faked metadata contributes no process items.
        let snapshot = if mask & PROCESS_META != 0 && !self.meta.is_faked() {
            Some(Arc::new(Snapshot::current()?, GFP_KERNEL)?)
        } else {
            None
        };
        let mut own = KVec::new();
        for n in names.iter().filter(|n| core::ptr::eq(&*n.owner, self)) {
            own.push((n.name.as_slice(), n.flags), GFP_KERNEL)?;
        }
        let meta = MsgMeta::new(mask, snapshot, &own, self.description.as_deref(), msg.seq)?;
        let meta_len = meta.len()?;
        let size = msg.slice_size(meta_len);
        let user = self.charge.user_index();
        let nfds = msg.files().len();
        let mut files = KVec::with_capacity(nfds, GFP_KERNEL)?;
        for f in msg.files() {
            files.push(f.clone(), GFP_KERNEL)?;
        }

        // Charge and allocate under the receiver's lock; copy without it.
        let off = {
            let mut inner = dst.inner.lock();
            if inner.disconnected {
                return Err(ECONNRESET);
            }
            if nfds > 0 && dst.kind != Kind::Monitor && dst.hello_flags & KDBUS_HELLO_ACCEPT_FD == 0
            {
                return Err(ECOMM);
            }
            inner.queue.admit(dst.pool.size(), user, size, nfds)?;
            let off = dst.pool.alloc(size)?;
            if let Err(e) = inner.queue.charge(user, size, nfds) {
                dst.pool.release_kernel(off);
                return Err(e);
            }
            off
        };
        let undo = |dst: &Connection| {
            dst.inner.lock().queue.uncharge(user, size, nfds);
            dst.pool.release_kernel(off);
        };
        if let Err(e) = msg.write_into(&dst.pool, off, self.id, meta_len) {
            undo(dst);
            return Err(e);
        }
        let entry = Entry {
            seq: msg.seq,
            priority: msg.priority(),
            off,
            size,
            header_items: msg.header_items(),
            meta,
            user,
            files,
            fds_off: msg.fds_off(),
            memfds: msg.memfds()?,
        };
        let mut inner = dst.inner.lock();
        if inner.disconnected {
            drop(inner);
            undo(dst);
            return Err(ECONNRESET);
        }
        if let Err(e) = inner.queue.push(entry) {
            drop(inner);
            undo(dst);
            return Err(e);
        }
        drop(inner);
        dst.wait.notify_all();
        Ok(())
    }

    /// RECV (`message.md` §6).
    fn recv(&self, arg: usize) -> Result {
        let mut args = match Args::parse(arg, &RECV_SPEC)? {
            Parsed::Run(args) => args,
            Parsed::Negotiated => return Ok(()),
        };
        let flags = args.flags();
        if flags & KDBUS_RECV_DROP != 0 && flags & KDBUS_RECV_USE_PRIORITY != 0 {
            return Err(EINVAL);
        }
        let threshold = (flags & KDBUS_RECV_USE_PRIORITY != 0).then(|| args.get(24) as i64);
        let mut msg = (self.pool.size() as u64, 0u64);
        let mut incomplete = false;
        let mut inner = self.inner.lock();
        let result = match inner.queue.select(threshold) {
            None => Err(EAGAIN),
            Some(idx) if flags & KDBUS_RECV_DROP != 0 => {
                if let Some(e) = inner.queue.remove(idx) {
                    self.pool.release_kernel(e.off);
                }
                Ok(())
            }
            Some(idx) => {
                let Some(e) = inner.queue.get(idx) else {
                    return Err(EAGAIN);
                };
                // Metadata, translated for us, and the final msg.size.
                let mut meta = KVec::new();
                e.meta.write(&mut meta)?;
                self.pool.write(e.off + e.header_items, &meta)?;
                let size = (e.header_items + meta.len()) as u64;
                self.pool.write(e.off, &size.to_ne_bytes())?;
                // Descriptors: installed (O_CLOEXEC) by a RECV that is not a
                // PEEK, for a receiver with ACCEPT_FD; -1 otherwise.
                let install =
                    flags & KDBUS_RECV_PEEK == 0 && self.hello_flags & KDBUS_HELLO_ACCEPT_FD != 0;
                let mut reserved = KVec::new();
                if let Some(fds_off) = e.fds_off {
                    let mut nums = KVec::with_capacity(4 * e.files.len(), GFP_KERNEL)?;
                    for _ in e.files.iter() {
                        let fd = reserve_fd(install, &mut reserved, &mut incomplete)?;
                        nums.extend_from_slice(&fd.to_ne_bytes(), GFP_KERNEL)?;
                    }
                    self.pool.write(e.off + fds_off, &nums)?;
                }
                // Memfds: the same, one `fd` field per PAYLOAD_MEMFD item.
                let mut memfd_reserved = KVec::new();
                for (_, fd_off) in e.memfds.iter() {
                    let fd = reserve_fd(install, &mut memfd_reserved, &mut incomplete)?;
                    self.pool.write(e.off + fd_off, &fd.to_ne_bytes())?;
                }
                self.pool.publish(e.off);
                msg = (e.off as u64, e.size as u64);
                if flags & KDBUS_RECV_PEEK == 0 {
                    if let Some(e) = inner.queue.remove(idx) {
                        for (r, f) in reserved.into_iter().zip(e.files) {
                            if let Some(r) = r {
                                r.fd_install(f);
                            }
                        }
                        for (r, (f, _)) in memfd_reserved.into_iter().zip(e.memfds) {
                            if let Some(r) = r {
                                r.fd_install(f);
                            }
                        }
                        self.pool.release_kernel(e.off);
                    }
                }
                Ok(())
            }
        };
        let dropped = core::mem::replace(&mut inner.dropped, 0);
        drop(inner);
        let mut out = [0u8; 32];
        out[..8].copy_from_slice(&dropped.to_ne_bytes());
        out[8..16].copy_from_slice(&msg.0.to_ne_bytes());
        out[16..24].copy_from_slice(&msg.1.to_ne_bytes());
        if incomplete {
            out[24..32].copy_from_slice(&KDBUS_RECV_RETURN_INCOMPLETE_FDS.to_ne_bytes());
        }
        args.write_user(32, &out)?;
        if dropped != 0 {
            args.set_return_flags(KDBUS_RECV_RETURN_DROPPED_MSGS)?;
        }
        result
    }

    /// `mmap()` of the connection fd: the pool, read-only. Works on a
    /// disconnected connection too.
    pub(crate) fn mmap(&self, vma: &kernel::mm::virt::VmaNew) -> Result {
        self.pool.mmap(vma)
    }

    /// `poll()` (`connection-pool.md` §11).
    pub(crate) fn poll(&self, file: &File, table: *mut bindings::poll_table_struct) -> u32 {
        if !table.is_null() {
            // SAFETY: The VFS passes a valid poll table for this call.
            let table = unsafe { PollTable::from_raw(table) };
            table.register_wait(file, &self.wait);
        }
        let inner = self.inner.lock();
        if inner.disconnected {
            return bindings::POLLERR | bindings::POLLHUP;
        }
        let mut mask = bindings::POLLOUT | bindings::POLLWRNORM;
        if inner.dropped != 0 || !inner.queue.is_empty() {
            mask |= bindings::POLLIN | bindings::POLLRDNORM;
        }
        mask
    }
}
