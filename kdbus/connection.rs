// SPDX-License-Identifier: GPL-2.0

//! Connections (`connection-pool.md`): the object, HELLO, the command
//! dispatch, BYEBYE, teardown, `mmap()` and `poll()`.
//!
//! A connection is made by HELLO on an endpoint handle and owned by that
//! handle: it stays "connected but dead" after BYEBYE or the teardown of its
//! endpoint or bus, until the handle is closed. Its bus and endpoint keep
//! lists of it while it is alive; it keeps its endpoint node (and through
//! it the bus and the domain) alive as long as it exists.
//!
//! The operation families live in child modules that add to
//! `impl Connection`:
//!
//! - [`send`]: SEND, from the sender into the receiver's queue, and kernel
//!   notifications into a queue (`message.md` §2-§5, §7);
//! - [`recv`]: RECV (`message.md` §6) and FREE;
//! - [`calls`]: method calls from the connection's side: replies,
//!   REPLY_DEAD and REPLY_TIMEOUT, synchronous waits and the scanner's work
//!   item (`message.md` §4; the tracker state machine, the tracker list and
//!   the scan are `reply.rs`);
//! - [`info`]: CONN_INFO, BUS_CREATOR_INFO and LIST;
//! - [`update`]: UPDATE (`connection-pool.md` §6);
//! - [`handover`]: queued messages moving between an activator and the
//!   implementer of its name.
//!
//! # Locking
//!
//! Connection ioctls run inside the connection's [`Gate`] (its active
//! reference): teardown closes the gate and waits for them, which is why a
//! dead connection answers `ECONNRESET`.
//!
//! `inner` protects everything that changes after HELLO. No path holds two
//! connections' `inner` at once: a sender locks the receiver only after
//! unlocking itself, and teardown collects what it needs from one
//! connection before it locks another; a SEND takes the receiver's `inner`
//! once, to queue (quota and slice are reserved under the pool's lock).
//! Under `inner` a path may take a reply tracker's state lock (a leaf) and
//! the pool's lock; never a bus, endpoint or node lock. The whole order is
//! in `Documentation/kdbus/lifetimes.rst`.

use crate::kext::prelude::*;
use kernel::{
    alloc::KVec,
    fs::File,
    new_delayed_work, new_mutex,
    sync::{
        atomic::{ordering, Atomic},
        poll::PollTable,
        Arc, Mutex,
    },
    workqueue::DelayedWork,
};

use crate::{
    bus::Bus,
    domain::{Charge, Domain},
    item::push_struct_item,
    item::{sanitize_attach, Args, CmdSpec, ItemRule, Parsed},
    kext::PollCondVarBox,
    metadata::Snapshot,
    names,
    node::{ActiveRef, Gate, Node},
    policy::PolicyDb,
    pool::Pool,
    queue::Queue,
    reply::{self, Trackers},
    uapi::*,
};

mod calls;
mod handover;
mod info;
mod recv;
mod send;
mod update;

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
    /// Messages lost since the last RECV.
    dropped: u64,
    /// Received messages, not yet dequeued.
    queue: Queue,
    /// Trackers of the calls this connection made and the schedule of the
    /// reply-timeout scanner (`message.md` §4.1, §7.5).
    replies: Trackers,
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
    /// The real UID of the HELLO caller, for TALK checks.
    uid: kernel::task::Kuid,
    /// The attach masks (UPDATE changes them; read without a lock).
    attach_send: Atomic<u64>,
    attach_recv: Atomic<u64>,
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
    /// Pollers and synchronous callers wait here. Boxed and freed after an
    /// RCU grace period (`kfree_rcu`), so that dropping a connection never
    /// waits for one (`PollCondVar`'s own drop calls `synchronize_rcu()`,
    /// which cost every close() about 10 ms). On kernel 7.2 it is freed
    /// after `synchronize_rcu()` instead (`kext::PollCondVarBox`).
    wait: PollCondVarBox,
}

/// HELLO's arguments.
static HELLO_SPEC: CmdSpec<KdbusCmdHello> = CmdSpec::new(
    KDBUS_HELLO_ACCEPT_FD | KDBUS_HELLO_ACTIVATOR | KDBUS_HELLO_POLICY_HOLDER | KDBUS_HELLO_MONITOR,
    &[
        ItemRule::once(KDBUS_ITEM_NAME),
        ItemRule::once(KDBUS_ITEM_CREDS),
        ItemRule::once(KDBUS_ITEM_PIDS),
        ItemRule::once(KDBUS_ITEM_SECLABEL),
        ItemRule::once(KDBUS_ITEM_CONN_DESCRIPTION),
        ItemRule::many(KDBUS_ITEM_POLICY_ACCESS),
    ],
);

static BYEBYE_SPEC: CmdSpec<KdbusCmd> = CmdSpec::new(0, &[]);

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
    let mut args = match Args::parse(arg, &HELLO_SPEC)? {
        Parsed::Run(args) => args,
        Parsed::Negotiated => return Ok(None),
    };
    let cmd = *args.cmd();
    let flags = cmd.flags;

    // 5. Pool size.
    let pool_size = cmd.pool_size;
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
    let attach_send = sanitize_attach(cmd.attach_flags_send)?;
    let attach_recv = sanitize_attach(cmd.attach_flags_recv)?;
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
            creds.map(|i| i.view()).transpose()?,
            pids.map(|i| i.view()).transpose()?,
            seclabel.map(|i| i.str()),
        )?
    } else {
        Snapshot::current()?
    };
    let description = match args.item(KDBUS_ITEM_CONN_DESCRIPTION) {
        Some(d) => {
            let v = crate::copy_bytes(d.str())?;
            Some(v)
        }
        None => None,
    };
    // 18. The per-user connection limit.
    let user = match ep.anon_user() {
        Some(anon) => anon.clone_ref(),
        None => Domain::user(root, crate::kext::current_uid())?,
    };
    let charge = user.charge_conn(KDBUS_USER_MAX_CONN as u32)?;

    let (bloom_size, n_hash) = bus.bloom();
    let replies_alive = Arc::new(Atomic::new(0), GFP_KERNEL)?;
    let wait = PollCondVarBox::new(kernel::optional_name!(), kernel::static_lock_class!())
        .map_err(|_| ENOMEM)?;
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
            uid: crate::kext::current_uid(),
            attach_send: Atomic::new(attach_send),
            attach_recv: Atomic::new(attach_recv),
            charge,
            replies_alive,
            scan <- new_delayed_work!("kdbus_reply_scan"),
            active <- Gate::new(),
            inner <- new_mutex!(ConnInner {
                disconnected: false,
                dropped: 0,
                queue: Queue::new(),
                replies: Trackers::new(),
            }),
            wait,
        }),
        GFP_KERNEL,
    )?;

    // The bloom parameters, as the HELLO slice (`abi.md` §8.1).
    let mut item = KVec::new();
    let bloom = KdbusBloomParameter {
        size: bloom_size,
        n_hash,
    };
    push_struct_item(&mut item, KDBUS_ITEM_BLOOM_PARAMETER, &bloom)?;
    let offset = conn.pool.alloc(item.len())?;
    conn.pool.write(offset, &item)?;

    // 19. Link: the connection becomes reachable.
    if let Err(e) = conn.link() {
        conn.pool.release_kernel(offset);
        return Err(e);
    }
    // ID_ADD, also for a HELLO that fails from here on (`message.md` §7.2).
    conn.notify_id(KDBUS_ITEM_ID_ADD);

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

    // 23. The answers.
    let out = args.out();
    out.bus_flags = conn.bus.flags();
    out.id = id;
    out.offset = offset as u64;
    out.items_size = item.len() as u64;
    out.id128 = *conn.bus.id128();
    conn.pool.publish_and_release(offset);
    if let Err(e) = args.write_back(|c| &c.bus_flags, |c| &c.id128) {
        conn.disconnect();
        return Err(e);
    }
    conn.bus.flush_notifications();
    Ok(Some(conn))
}

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
        KDBUS_CMD_NAME_ACQUIRE => names::acquire(conn, arg),
        KDBUS_CMD_NAME_RELEASE => names::release(conn, arg),
        KDBUS_CMD_MATCH_ADD => crate::matches::add(conn, arg),
        KDBUS_CMD_MATCH_REMOVE => crate::matches::remove(conn, arg),
        // The make-commands and HELLO on a connected handle.
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

    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    /// Whether some reply tracker of our calls exists (an atomic read).
    pub(crate) fn has_trackers(&self) -> bool {
        self.replies_alive.load(ordering::Relaxed) != 0
    }

    pub(crate) fn hello_flags(&self) -> u64 {
        self.hello_flags
    }

    pub(crate) fn is_privileged(&self) -> bool {
        self.privileged
    }

    pub(crate) fn bus(&self) -> &Arc<Bus> {
        &self.bus
    }

    /// Whether our endpoint's policy grants `level` on `name` to the
    /// caller.
    pub(crate) fn endpoint_grants(&self, name: &[u8], level: u64) -> bool {
        let cred = crate::kext::current_cred();
        self.ep
            .endpoint()
            .is_some_and(|e| e.grants(&cred, name, level))
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
    pub(crate) fn disconnect(self: &Arc<Self>) -> bool {
        self.disconnect_if(false) == Ok(true)
    }

    /// Teardown; with `only_if_empty`, fails `EBUSY` unless the queue is
    /// empty, atomically with respect to enqueueing (BYEBYE).
    fn disconnect_if(self: &Arc<Self>, only_if_empty: bool) -> Result<bool> {
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
            (queued, inner.replies.take_all())
        };
        for e in queued {
            self.pool.unreserve(e.held());
            if let Some(r) = &e.reply {
                self.abandon(r);
            }
        }
        // 7. Our own calls are forgotten silently; a reply waiting in an
        // interrupted call's tracker goes with it.
        for r in own.iter() {
            if let Some(e) = r.caller_gone() {
                self.unstage(e);
            }
        }
        // 8. Calls others made to us: `EPIPE` or REPLY_DEAD. Only callers
        // with trackers are visited. A caller whose first tracker appears
        // after the look-up sends to us after `disconnected` was set, so
        // that call fails; one that existed before is seen (its count was
        // raised before it queued the call under our lock).
        if let Ok(conns) = self.bus.callers() {
            for c in conns.iter() {
                // On allocation failure those callers time out instead.
                let _ = c.abandon_calls_to(self.id);
            }
        }
        // 9. ID_REMOVE after the names' notifications and the REPLY_DEADs;
        // the notifications, in the order they were generated.
        self.notify_id(KDBUS_ITEM_ID_REMOVE);
        self.bus.flush_notifications();
        // Pollers see POLLERR | POLLHUP from now on.
        self.wait.notify_all();
        Ok(true)
    }

    /// The handle is closed.
    pub(crate) fn release(self: &Arc<Self>) {
        self.disconnect();
    }

    fn byebye(self: &Arc<Self>, arg: usize) -> Result {
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

    /// `mmap()` of the connection fd: the pool, read-only. Works on a
    /// disconnected connection too.
    pub(crate) fn mmap(&self, vma: &kernel::mm::virt::VmaNew) -> Result {
        self.pool.mmap(vma)
    }

    /// `poll()` (`connection-pool.md` §11).
    pub(crate) fn poll(&self, file: &File, table: &PollTable<'_>) -> u32 {
        table.register_wait(file, &self.wait);
        let inner = self.inner.lock();
        if inner.disconnected {
            return crate::kext::events::HANGUP;
        }
        let mut mask = crate::kext::events::WRITABLE;
        if inner.dropped != 0 || !inner.queue.is_empty() {
            mask |= crate::kext::events::READABLE;
        }
        mask
    }
}
