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
    fs::{
        file::{FileDescriptorReservation, LocalFile},
        File,
    },
    impl_has_delayed_work, new_delayed_work, new_mutex, new_poll_condvar,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::Atomic,
        poll::{PollCondVar, PollTable},
        Arc, Mutex,
    },
    workqueue::{DelayedWork, RawWorkItem, WorkItem},
};

use crate::{
    bus::{Bus, NameSnap},
    domain::{Charge, Domain},
    item::{sanitize_attach, Args, CmdSpec, ItemRule, Parsed},
    kext, limits,
    message::{Msg, MsgMeta},
    metadata::{push_item, push_str_item, Snapshot},
    names,
    node::{ActiveRef, Gate, Node},
    policy::PolicyDb,
    pool::Pool,
    queue::{Entry, Queue},
    reply::{self, Reply},
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
    /// Trackers of the calls this connection made, oldest first
    /// (`message.md` §4.1).
    replies: KVec<Arc<Reply>>,
    /// The deadline the reply-timeout scanner is armed for.
    scan_at: Option<u64>,
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
    /// Reply trackers of our calls that exist (`reply.rs`); shared with
    /// them, as they do not keep us alive.
    replies_alive: Arc<reply::Pending>,
    /// The reply-timeout scanner (`message.md` §7.5).
    #[pin]
    scan: DelayedWork<Connection>,
    #[pin]
    active: Gate,
    #[pin]
    inner: Mutex<ConnInner>,
    #[pin]
    wait: PollCondVar,
}

impl_has_delayed_work! {
    impl HasDelayedWork<Self> for Connection { self.scan }
}

impl WorkItem for Connection {
    type Pointer = Arc<Connection>;

    fn run(this: Arc<Connection>) {
        this.scan_replies();
    }
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
    let replies_alive = Arc::new(Atomic::new(0), GFP_KERNEL)?;
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
            replies_alive,
            scan <- new_delayed_work!("kdbus_reply_scan"),
            active <- Gate::new(),
            inner <- new_mutex!(ConnInner {
                disconnected: false,
                attach_send,
                attach_recv,
                dropped: 0,
                queue: Queue::new(),
                replies: KVec::new(),
                scan_at: None,
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

/// Descriptor numbers reserved for a received message, installed once it
/// is certain to be delivered.
struct Installer {
    fds: KVec<Option<FileDescriptorReservation>>,
    memfds: KVec<Option<FileDescriptorReservation>>,
    /// A descriptor could not be reserved (`INCOMPLETE_FDS`).
    incomplete: bool,
}

impl Installer {
    fn install(self, files: KVec<ARef<File>>, memfds: KVec<(ARef<File>, usize)>) {
        for (r, f) in self.fds.into_iter().zip(files) {
            if let Some(r) = r {
                r.fd_install(f);
            }
        }
        for (r, (f, _)) in self.memfds.into_iter().zip(memfds) {
            if let Some(r) = r {
                r.fd_install(f);
            }
        }
    }
}

/// The file of a CANCEL_FD item (`message.md` §4.7): `EBADF` if the
/// descriptor is not open, `EINVAL` if its file cannot be polled.
fn cancel_file(payload: &[u8]) -> Result<ARef<LocalFile>> {
    let fd = payload
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map(i32::from_ne_bytes)
        .ok_or(EINVAL)?;
    let fd = u32::try_from(fd).map_err(|_| EBADF)?;
    let file = LocalFile::fget(fd).map_err(|_| EBADF)?;
    if !kext::file_can_poll(&file) {
        return Err(EINVAL);
    }
    Ok(file)
}

/// Writes the empty `cmd_send.reply` of everything but a synchronous call.
fn write_empty_reply(args: &Args, pool_size: usize) -> Result {
    let mut reply = [0u8; 24];
    reply[..8].copy_from_slice(&(pool_size as u64).to_ne_bytes());
    args.write_user(32, &reply)
}

/// The quota index of the kernel's notifications.
const KERNEL_USER: u32 = 0;

/// The longest the reply-timeout scanner sleeps (jiffies) before it looks
/// again; far deadlines are reached in several steps.
const MAX_SCAN_DELAY: kernel::ffi::c_ulong = 1 << 30;

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
pub(crate) fn command(
    conn: &Arc<Connection>,
    active: ConnActive,
    file: &File,
    cmd: u32,
    arg: usize,
) -> Result {
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
        KDBUS_CMD_SEND => conn.send(file, arg),
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
        // 1. Our blocked synchronous SENDs wake up (`ECONNRESET`); no new
        // ioctls; wait for the ones in flight.
        self.wait.notify_all();
        self.active.close_and_wait();
        // 2. The reply-timeout scanner.
        self.cancel_scan();
        // 3. Its bus policy entries.
        self.bus.remove_policy(self.id);
        // 4. Out of the ID table and the endpoint.
        self.bus.remove_conn(self);
        if let Some(ep) = self.ep.endpoint() {
            ep.remove_conn(self);
        }
        // 5. Its names (activator registrations, owned names).
        self.bus.remove_names(self);
        // 6. Discard the queue; the calls in it will not be answered.
        let (queued, own) = {
            let mut inner = self.inner.lock();
            let queued = inner.queue.drain();
            (queued, core::mem::take(&mut inner.replies))
        };
        for e in queued.into_iter() {
            self.pool.release_kernel(e.off);
            if let Some(r) = &e.reply {
                self.abandon(r);
            }
        }
        // 7. Our own calls are forgotten silently; a reply waiting in an
        // interrupted call's tracker goes with it.
        for r in own.iter() {
            let outcome = r.with(|s| {
                s.open = false;
                s.waiting = false;
                s.interrupted = false;
                s.outcome.take()
            });
            if let Some(Ok(e)) = outcome {
                self.unstage(e);
            }
        }
        // 8. Calls others made to us: `EPIPE` or REPLY_DEAD.
        if let Ok(conns) = self.bus.conns() {
            for c in conns.iter() {
                // On allocation failure those callers time out instead.
                let _ = c.abandon_calls_to(self.id);
            }
        }
        // 9. Notifications, in the order they were generated.
        self.bus.flush_notifications();
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

    /// SEND (`message.md` §2): unicast messages, method calls and replies;
    /// broadcasts arrive with the matches issue.
    fn send(self: &Arc<Self>, file: &File, arg: usize) -> Result {
        let args = match Args::parse(arg, &SEND_SPEC)? {
            Parsed::Run(args) => args,
            Parsed::Negotiated => return Ok(()),
        };
        let sync = args.flags() & KDBUS_SEND_SYNC_REPLY != 0;
        // §2.2 step 6: validated for every SEND, used by synchronous calls.
        let cancel = match args.item(KDBUS_ITEM_CANCEL_FD) {
            Some(item) => Some(cancel_file(item.payload)?),
            None => None,
        };
        let domain = self.ep.domain().ok_or(ESHUTDOWN)?;
        let (bloom_size, _) = self.bus.bloom();
        let msg = Msg::read(args.get(24), bloom_size, self.id, sync, || domain.next_id())?;
        let flags = msg.flags();
        if msg.dst_id() == KDBUS_DST_ID_BROADCAST {
            // Broadcasts need matches: not yet.
            return Err(EOPNOTSUPP);
        }
        let timeout = msg.get(crate::message::off::TIMEOUT);
        if flags & KDBUS_MSG_EXPECT_REPLY != 0 {
            if sync {
                // §4.5 step 1: an interrupted call with this cookie resumes.
                if let Some(r) = self.resume(msg.cookie(), timeout) {
                    return self.wait_reply(file, &args, r, cancel.as_deref());
                }
                // Step 2.
                if reply::sync_deadline(timeout) <= kext::monotonic_now() {
                    return Err(ETIMEDOUT);
                }
            }
            let dst = self.pin(&msg)?;
            let names = self.bus.names()?;
            if !self.can_talk(&dst, &names) {
                return Err(EPERM);
            }
            let r = Reply::new(
                self.id,
                &self.replies_alive,
                dst.id,
                msg.cookie(),
                timeout,
                sync,
            )?;
            {
                let mut inner = self.inner.lock();
                if inner.disconnected {
                    return Err(ECONNRESET);
                }
                inner.replies.push(r.clone(), GFP_KERNEL)?;
            }
            let queued = self
                .stage(&dst, &msg, &names)
                .and_then(|e| dst.enqueue(e, Some(&r)));
            if let Err(e) = queued {
                self.forget_reply(&r);
                return Err(e);
            }
            if sync {
                return self.wait_reply(file, &args, r, cancel.as_deref());
            }
            let mut inner = self.inner.lock();
            self.arm_scan(&mut inner, timeout);
        } else if flags & KDBUS_MSG_SIGNAL != 0 {
            // A unicast signal is delivered only through a match of the
            // receiver, and matches do not exist yet: not delivered.
            self.pin(&msg)?;
        } else if timeout != 0 {
            // A reply (§4.3): the caller's tracker is the permission.
            let dst = self.pin(&msg)?;
            let names = self.bus.names()?;
            let r = dst.take_reply(self.id, timeout)?;
            let staged = self.stage(&dst, &msg, &names);
            if r.is_sync() {
                return match staged {
                    Ok(e) => dst.attach(e, &r),
                    Err(e) => {
                        // The waiting caller fails too (`ECOMM` becomes
                        // `EREMOTEIO` for it).
                        let theirs = if e == ECOMM { EREMOTEIO } else { e };
                        if r.record(Err(theirs)).is_none() {
                            dst.wait.notify_all();
                        }
                        Err(e)
                    }
                }
                .and_then(|()| write_empty_reply(&args, self.pool.size()));
            }
            dst.enqueue(staged?, None)?;
        } else {
            let dst = self.pin(&msg)?;
            // One snapshot of the names serves the TALK check and metadata.
            let names = self.bus.names()?;
            if !self.can_talk(&dst, &names) {
                return Err(EPERM);
            }
            let e = self.stage(&dst, &msg, &names)?;
            dst.enqueue(e, None)?;
        }
        write_empty_reply(&args, self.pool.size())
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

    /// Writes `msg` from this connection into a new slice of `dst`'s pool
    /// (`message.md` §5.1): metadata, quota, slice, one copy of the payload.
    /// The result is charged to our user at `dst` until it is queued
    /// ([`Connection::enqueue`]), attached ([`Connection::attach`]) or
    /// given back ([`Connection::unstage`]).
    fn stage(&self, dst: &Arc<Connection>, msg: &Msg, names: &[NameSnap]) -> Result<Entry> {
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
        let memfds = msg.memfds()?;
        let off = dst.reserve(Some(&self.charge), size, nfds)?;
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
            memfds,
            reply: None,
        };
        // The copy runs without the receiver's lock.
        if let Err(e) = msg.write_into(&dst.pool, off, self.id, meta_len) {
            dst.unstage(entry);
            return Err(e);
        }
        Ok(entry)
    }

    /// Reserves a slice of `size` bytes charged to the user of `sender`
    /// (`None`: the kernel), for a message with `nfds` descriptors
    /// (`message.md` §2.6, §5.7): `ECONNRESET`, `ECOMM`, the quota, the pool.
    fn reserve(&self, sender: Option<&Charge>, size: usize, nfds: usize) -> Result<usize> {
        let user = sender.map_or(KERNEL_USER, Charge::user_index);
        let mut inner = self.inner.lock();
        if inner.disconnected {
            return Err(ECONNRESET);
        }
        if nfds > 0 && self.kind != Kind::Monitor && self.hello_flags & KDBUS_HELLO_ACCEPT_FD == 0 {
            return Err(ECOMM);
        }
        inner.queue.admit(self.pool.size(), user, size, nfds)?;
        let off = self.pool.alloc(size)?;
        let pin = || sender.map(|c| c.user().clone_ref()).transpose();
        if let Err(e) = inner.queue.charge(user, size, nfds, pin) {
            self.pool.release_kernel(off);
            return Err(e);
        }
        Ok(off)
    }

    /// Gives back a staged entry that will not be queued: its charge and
    /// its slice.
    fn unstage(&self, e: Entry) {
        self.inner
            .lock()
            .queue
            .uncharge(e.user, e.size, e.files.len());
        self.pool.release_kernel(e.off);
    }

    /// Queues a staged entry (for a method call, `reply` is its tracker,
    /// which opens now), and wakes the receiver.
    fn enqueue(&self, mut e: Entry, reply: Option<&Arc<Reply>>) -> Result {
        e.reply = reply.cloned();
        let mut inner = self.inner.lock();
        if inner.disconnected {
            drop(inner);
            self.unstage(e);
            return Err(ECONNRESET);
        }
        if let Some(e) = inner.queue.push(e) {
            drop(inner);
            self.unstage(e);
            return Err(ENOMEM);
        }
        if let Some(r) = reply {
            r.with(|s| s.open = true);
        }
        drop(inner);
        self.wait.notify_all();
        Ok(())
    }

    /// Hands a staged reply to the synchronous caller waiting on `r`
    /// (`message.md` §4.3); `ECONNRESET` if it stopped waiting.
    fn attach(&self, e: Entry, r: &Reply) -> Result {
        let inner = self.inner.lock();
        let back = if inner.disconnected {
            Some(Ok(e))
        } else {
            r.record(Ok(e))
        };
        drop(inner);
        match back {
            None => {
                self.wait.notify_all();
                Ok(())
            }
            Some(back) => {
                if let Ok(e) = back {
                    self.unstage(e);
                }
                Err(ECONNRESET)
            }
        }
    }

    /// Queues a kernel notification (`message.md` §7.1): `msg` is its
    /// header and item, `seq` its sequence number; the only metadata it
    /// can carry is a TIMESTAMP, taken now. Charged to the kernel.
    pub(crate) fn deliver_kernel(&self, msg: &[u8], seq: u64) -> Result {
        let recv = self.inner.lock().attach_recv;
        let mask = crate::attach_flags_mask() & recv & KDBUS_ATTACH_TIMESTAMP;
        let meta = MsgMeta::new(mask, None, &[], None, seq)?;
        let meta_len = meta.len()?;
        let size = (msg.len() + meta_len).next_multiple_of(8);
        let off = self.reserve(None, size, 0)?;
        let entry = Entry {
            seq,
            priority: 0,
            off,
            size,
            header_items: msg.len(),
            meta,
            user: KERNEL_USER,
            files: KVec::new(),
            fds_off: None,
            memfds: KVec::new(),
            reply: None,
        };
        let mut buf = KVec::with_capacity(size, GFP_KERNEL)?;
        buf.extend_from_slice(msg, GFP_KERNEL)?;
        buf.resize(size, 0, GFP_KERNEL)?;
        if let Err(e) = self.pool.write(off, &buf) {
            self.unstage(entry);
            return Err(e);
        }
        self.enqueue(entry, None)
    }

    // ------------------------------------------------------------------
    // Method calls (`message.md` §4).

    /// Removes `r` from our tracker list.
    fn forget_reply(&self, r: &Arc<Reply>) {
        self.inner.lock().replies.retain(|x| !Arc::ptr_eq(x, r));
    }

    /// Consumes our open tracker for a reply from `replier` with `cookie`,
    /// the most recent one (`message.md` §4.3); `EPERM` if there is none.
    /// An asynchronous tracker leaves the list now; a synchronous one when
    /// its waiter takes the outcome.
    fn take_reply(&self, replier: u64, cookie: u64) -> Result<Arc<Reply>> {
        let mut inner = self.inner.lock();
        let idx = inner
            .replies
            .iter()
            .rposition(|r| {
                r.cookie() == cookie
                    && r.with(|s| {
                        let hit = s.open && s.replier == replier;
                        if hit {
                            s.open = false;
                        }
                        hit
                    })
            })
            .ok_or(EPERM)?;
        let r = inner.replies[idx].clone();
        if !r.is_sync() {
            let _ = inner.replies.remove(idx);
        }
        Ok(r)
    }

    /// The call of `r` will not be answered: its callee dropped it or
    /// disconnected. A synchronous caller gets `EPIPE`, an asynchronous one
    /// a REPLY_DEAD (`message.md` §4.2, §4.5; `connection-pool.md` §5.3
    /// steps 6, 8). Nothing happens if the tracker was closed already, or
    /// if its caller has left the bus (its teardown closes its trackers).
    /// `self` is any connection of the caller's bus; the caller of this
    /// function flushes the bus's notifications.
    fn abandon(&self, r: &Arc<Reply>) {
        if !r.close() {
            return;
        }
        let Some(caller) = self.bus.find_conn(r.caller()) else {
            return;
        };
        if r.is_sync() {
            if r.record(Err(EPIPE)).is_none() {
                caller.wait.notify_all();
            }
        } else {
            caller.forget_reply(r);
            caller.notify_reply(KDBUS_ITEM_REPLY_DEAD, r.cookie());
        }
    }

    /// Queues a REPLY_* notification for ourselves about `cookie`.
    fn notify_reply(&self, ty: u64, cookie: u64) {
        let seq = self.ep.domain().map_or(0, |d| d.next_id());
        self.bus.notifier().reply(self.id, ty, cookie, seq);
    }

    /// Teardown step 8: our open trackers of calls to `replier`.
    fn abandon_calls_to(&self, replier: u64) -> Result {
        let mut dead = KVec::new();
        for r in self.inner.lock().replies.iter() {
            if r.with(|s| s.open && s.replier == replier) {
                dead.push(r.clone(), GFP_KERNEL)?;
            }
        }
        for r in dead.iter() {
            self.abandon(r);
        }
        Ok(())
    }

    /// The interrupted synchronous call with `cookie`, which resumes with
    /// `deadline` (`message.md` §4.6).
    fn resume(&self, cookie: u64, deadline: u64) -> Option<Arc<Reply>> {
        let inner = self.inner.lock();
        inner
            .replies
            .iter()
            .rev()
            .find(|r| {
                r.is_sync()
                    && r.cookie() == cookie
                    && r.with(|s| {
                        let hit = s.interrupted;
                        if hit {
                            s.interrupted = false;
                            s.deadline = deadline;
                        }
                        hit
                    })
            })
            .cloned()
    }

    /// Waits for the outcome of our synchronous call `r` (`message.md`
    /// §4.5 step 4), its CANCEL_FD `cancel`, a signal or the deadline.
    fn wait_reply(
        self: &Arc<Self>,
        file: &File,
        args: &Args,
        r: Arc<Reply>,
        cancel: Option<&LocalFile>,
    ) -> Result {
        let deadline = reply::sync_deadline(r.with(|s| s.deadline));
        let result = (|| -> Result {
            let pw = kext::PollWait::new()?;
            pw.table().register_wait(file, &self.wait);
            loop {
                if self.inner.lock().disconnected {
                    return Err(ECONNRESET);
                }
                if r.with(|s| s.outcome.is_some()) {
                    return Ok(());
                }
                if let Some(c) = cancel {
                    if pw.poll_file(c) & bindings::POLLIN != 0 {
                        return Err(ECANCELED);
                    }
                }
                if kext::signal_pending() {
                    return Err(ERESTARTSYS);
                }
                if !pw.sleep_until(deadline) {
                    return Err(ETIMEDOUT);
                }
                pw.stop_registering();
            }
        })();
        if result == Err(ERESTARTSYS) {
            // §4.6: the tracker stays, flagged; a restarted (or re-issued)
            // SEND resumes it, or the scanner removes it at its deadline.
            let mut inner = self.inner.lock();
            let deadline = r.with(|s| {
                s.interrupted = true;
                s.deadline
            });
            self.arm_scan(&mut inner, deadline);
            return Err(ERESTARTSYS);
        }
        // Step 5: close the tracker; an outcome that raced in wins.
        self.forget_reply(&r);
        let outcome = r.with(|s| {
            s.open = false;
            s.waiting = false;
            s.outcome.take()
        });
        match outcome {
            Some(Ok(e)) => self.hand_over(args, e),
            Some(Err(e)) => Err(e),
            None => result.and(Err(ECONNRESET)),
        }
    }

    /// Gives a synchronous caller its reply (`message.md` §4.5): metadata,
    /// descriptors (memfds even without ACCEPT_FD), the slice published in
    /// `cmd_send.reply`; the quota charge ends here.
    fn hand_over(&self, args: &Args, e: Entry) -> Result {
        let exported = self.export(&e, true, true);
        self.inner
            .lock()
            .queue
            .uncharge(e.user, e.size, e.files.len());
        let installer = match exported {
            Ok(i) => i,
            Err(err) => {
                // Not published, so released (§11 #7).
                self.pool.release_kernel(e.off);
                return Err(err);
            }
        };
        self.pool.publish(e.off);
        let incomplete = installer.incomplete;
        installer.install(e.files, e.memfds);
        self.pool.release_kernel(e.off);
        let mut reply = [0u8; 24];
        reply[..8].copy_from_slice(&(e.off as u64).to_ne_bytes());
        reply[8..16].copy_from_slice(&(e.size as u64).to_ne_bytes());
        if incomplete {
            reply[16..].copy_from_slice(&KDBUS_RECV_RETURN_INCOMPLETE_FDS.to_ne_bytes());
        }
        args.write_user(32, &reply)
    }

    /// Arms the reply-timeout scanner for `deadline` unless it runs earlier
    /// (`message.md` §7.5, §11 #5); `inner` is our locked state.
    fn arm_scan(self: &Arc<Self>, inner: &mut ConnInner, deadline: u64) {
        if inner.disconnected || inner.scan_at.is_some_and(|at| at <= deadline) {
            return;
        }
        inner.scan_at = Some(deadline);
        let now = u64::try_from(kext::monotonic_now()).unwrap_or(0);
        // SAFETY: Converts a number.
        let delay = unsafe { bindings::nsecs_to_jiffies(deadline.saturating_sub(now)) };
        // One more jiffy: the conversion truncates, the scan must not run
        // before the deadline.
        let delay = delay.min(MAX_SCAN_DELAY) + 1;
        // `mod_delayed_work_on` returns `false` when the work was idle and
        // is now queued (it owns the reference `__enqueue` passes), `true`
        // when it was pending and only its timer changed (the pending
        // instance owns one already). The work is never disabled while we
        // can arm it: teardown cancels it only after setting
        // `disconnected`, which we checked under the lock.
        //
        // SAFETY: The closure gets the `work` of our `scan` `delayed_work`
        // and returns whether the queue took the reference, as above.
        let extra = unsafe {
            RawWorkItem::<0>::__enqueue(self.clone(), |work| {
                !bindings::mod_delayed_work_on(
                    bindings::wq_misc_consts_WORK_CPU_UNBOUND as i32,
                    bindings::system_wq,
                    kernel::container_of!(work, bindings::delayed_work, work),
                    delay,
                )
            })
        };
        // A pending work already holds a reference: drop ours.
        drop(extra);
    }

    /// Teardown step 2: stops the scanner.
    fn cancel_scan(&self) {
        let dwork = core::ptr::from_ref(&self.scan)
            .cast::<bindings::delayed_work>()
            .cast_mut();
        // SAFETY: `DelayedWork` is a transparent wrapper of `delayed_work`,
        // initialised with the connection.
        if unsafe { bindings::cancel_delayed_work_sync(dwork) } {
            // SAFETY: A pending work owned one reference of the `Arc` that
            // contains us (every connection lives in an `Arc`), taken by
            // `arm_scan`; cancelling gave it back to us.
            drop(unsafe { Arc::from_raw(core::ptr::from_ref(self)) });
        }
    }

    /// The scanner (`message.md` §7.5): REPLY_TIMEOUT for expired
    /// asynchronous calls, silent removal of interrupted synchronous calls
    /// whose deadline passed; re-armed for the earliest remaining deadline.
    fn scan_replies(self: &Arc<Self>) {
        let now = kext::monotonic_now();
        {
            let mut inner = self.inner.lock();
            inner.scan_at = None;
            if inner.disconnected {
                return;
            }
            let mut next: Option<u64> = None;
            let mut i = 0;
            while i < inner.replies.len() {
                let r = inner.replies[i].clone();
                let sync = r.is_sync();
                // `Some(outcome)`: the tracker is done and leaves the list.
                let done = r.with(|s| {
                    let live = if sync { s.interrupted } else { s.open };
                    if !live {
                        return None;
                    }
                    if !reply::expired(s.deadline, now) {
                        next = Some(next.map_or(s.deadline, |n| n.min(s.deadline)));
                        return None;
                    }
                    s.open = false;
                    s.waiting = false;
                    s.interrupted = false;
                    Some(s.outcome.take())
                });
                match done {
                    None => i += 1,
                    Some(outcome) => {
                        let _ = inner.replies.remove(i);
                        if !sync {
                            self.notify_reply(KDBUS_ITEM_REPLY_TIMEOUT, r.cookie());
                        }
                        if let Some(Ok(e)) = outcome {
                            // Nobody resumed: the reply goes (§4.6).
                            inner.queue.uncharge(e.user, e.size, e.files.len());
                            self.pool.release_kernel(e.off);
                        }
                    }
                }
            }
            if let Some(next) = next {
                self.arm_scan(&mut inner, next);
            }
        }
        self.bus.flush_notifications();
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
        let mut dropped_call = None;
        let mut received_call = None;
        let mut inner = self.inner.lock();
        let result = match inner.queue.select(threshold) {
            None => Err(EAGAIN),
            Some(idx) if flags & KDBUS_RECV_DROP != 0 => {
                if let Some(e) = inner.queue.remove(idx) {
                    self.pool.release_kernel(e.off);
                    dropped_call = e.reply;
                }
                Ok(())
            }
            Some(idx) => {
                let Some(e) = inner.queue.get(idx) else {
                    return Err(EAGAIN);
                };
                // Descriptors: installed (O_CLOEXEC) by a RECV that is not a
                // PEEK, for a receiver with ACCEPT_FD; -1 otherwise.
                let install =
                    flags & KDBUS_RECV_PEEK == 0 && self.hello_flags & KDBUS_HELLO_ACCEPT_FD != 0;
                let installer = self.export(e, install, install)?;
                incomplete = installer.incomplete;
                self.pool.publish(e.off);
                msg = (e.off as u64, e.size as u64);
                if flags & KDBUS_RECV_PEEK == 0 {
                    if let Some(e) = inner.queue.remove(idx) {
                        installer.install(e.files, e.memfds);
                        self.pool.release_kernel(e.off);
                        // The call's tracker stays open at the caller; our
                        // reference goes once we hold no lock (it may be the
                        // last one keeping a closed caller alive).
                        received_call = e.reply;
                    }
                }
                Ok(())
            }
        };
        let dropped = core::mem::replace(&mut inner.dropped, 0);
        drop(inner);
        drop(received_call);
        // A dropped method call will not be answered (§6.1).
        if let Some(r) = dropped_call {
            self.abandon(&r);
            self.bus.flush_notifications();
        }
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

    /// Writes what a received entry shows only to its receiver, in the
    /// receiver's context (`message.md` §5.4, §5.6): the metadata, the
    /// final `kdbus_msg.size`, and descriptor numbers, reserved when
    /// `install_fds` (FDS) and `install_memfds` (PAYLOAD_MEMFD) hold, -1
    /// otherwise.
    fn export(&self, e: &Entry, install_fds: bool, install_memfds: bool) -> Result<Installer> {
        let mut meta = KVec::new();
        e.meta.write(&mut meta)?;
        self.pool.write(e.off + e.header_items, &meta)?;
        let size = (e.header_items + meta.len()) as u64;
        self.pool.write(e.off, &size.to_ne_bytes())?;
        let mut out = Installer {
            fds: KVec::new(),
            memfds: KVec::new(),
            incomplete: false,
        };
        if let Some(fds_off) = e.fds_off {
            let mut nums = KVec::with_capacity(4 * e.files.len(), GFP_KERNEL)?;
            for _ in e.files.iter() {
                let fd = reserve_fd(install_fds, &mut out.fds, &mut out.incomplete)?;
                nums.extend_from_slice(&fd.to_ne_bytes(), GFP_KERNEL)?;
            }
            self.pool.write(e.off + fds_off, &nums)?;
        }
        // One `fd` field per PAYLOAD_MEMFD item.
        for (_, fd_off) in e.memfds.iter() {
            let fd = reserve_fd(install_memfds, &mut out.memfds, &mut out.incomplete)?;
            self.pool.write(e.off + fd_off, &fd.to_ne_bytes())?;
        }
        Ok(out)
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
