// SPDX-License-Identifier: GPL-2.0

//! SEND (`message.md` §2, §3, §5): unicast messages, method calls and
//! replies, from the sender's side into the receiver's queue, with the
//! copies for the bus's monitors (§3.7); and kernel notifications into a
//! queue (§7).

use crate::kext::prelude::*;
use kernel::{
    alloc::KVec,
    cred::Credential,
    fs::{file::LocalFile, File},
    sync::{aref::ARef, atomic::ordering, Arc},
};

use crate::{
    domain::Charge,
    item::{Args, CmdSpec, ItemRule},
    kext::{self, LeanVec},
    message::{Msg, MsgMeta},
    metadata::{Snapshot, PROCESS_META},
    queue::Entry,
    reply::{self, Reply},
    uapi::*,
};

use super::{Connection, Kind};

static SEND_SPEC: CmdSpec<KdbusCmdSend> = CmdSpec::at_end(
    KDBUS_SEND_SYNC_REPLY,
    &[ItemRule::once(KDBUS_ITEM_CANCEL_FD)],
);

/// Answers `reply` in `cmd_send.reply` (written back at the end).
pub(super) fn write_reply(args: &mut Args<KdbusCmdSend>, reply: KdbusMsgInfo) -> Result {
    args.out().reply = reply;
    args.answer(|c| &c.reply)
}

/// Writes the empty `cmd_send.reply` of everything but a synchronous call.
pub(super) fn write_empty_reply(args: &mut Args<KdbusCmdSend>, pool_size: usize) -> Result {
    let empty = KdbusMsgInfo {
        offset: pool_size as u64,
        ..KdbusMsgInfo::default()
    };
    write_reply(args, empty)
}

/// The quota index of the kernel's notifications.
pub(super) const KERNEL_USER: u32 = 0;

/// The file of a CANCEL_FD item (`message.md` §4.7): `EBADF` if the
/// descriptor is not open, `EINVAL` if its file cannot be polled.
pub(super) fn cancel_file(payload: &[u8]) -> Result<ARef<LocalFile>> {
    let fd: i32 = crate::wire::read(payload).ok_or(EINVAL)?;
    let fd = u32::try_from(fd).map_err(|_| EBADF)?;
    let file = LocalFile::fget(fd).map_err(|_| EBADF)?;
    if !kext::file_can_poll(&file) {
        return Err(EINVAL);
    }
    Ok(file)
}

impl Connection {
    /// SEND (`message.md` §2): unicast messages, method calls and replies;
    /// broadcasts arrive with the matches issue.
    pub(super) fn send(self: &Arc<Self>, file: &File, arg: usize) -> Result {
        Args::run(arg, &SEND_SPEC, |args| self.send_args(file, args))
    }

    fn send_args(self: &Arc<Self>, file: &File, args: &mut Args<KdbusCmdSend>) -> Result {
        let sync = args.flags() & KDBUS_SEND_SYNC_REPLY != 0;
        // §2.2 step 6: validated for every SEND, used by synchronous calls.
        let cancel = match args.item(KDBUS_ITEM_CANCEL_FD) {
            Some(item) => Some(cancel_file(item.payload)?),
            None => None,
        };
        let domain = self.ep.domain().ok_or(ESHUTDOWN)?;
        let (bloom_size, _) = self.bus.bloom();
        let addr = args.cmd().msg_address;
        let mut msg = Msg::new();
        let head = msg.read_head(addr)?;
        // The quota first: a receiver that refuses any message of our user
        // costs no read of the rest of the message
        // (`Documentation/kdbus/deviations.rst`). Only for an ordinary
        // receiver we may talk to, so a send it would refuse for another
        // reason (`ENXIO`, `EPERM`) is refused for that reason. Not for
        // synchronous calls, which may be resuming (§4.6), nor for unicast
        // signals, whose failures are silent (§3.5).
        // The receiver found here serves `pin` too: one look-up per SEND.
        let mut found = None;
        let dst_id = head.dst_id;
        if !sync && dst_id != 0 && dst_id != KDBUS_DST_ID_BROADCAST {
            if let Some(dst) = self.bus.find_conn(dst_id) {
                // With monitors on the bus the message is read all the
                // same: they see what the receiver's quota refuses (§3.7).
                if dst.kind == Kind::Ordinary
                    && head.flags & KDBUS_MSG_SIGNAL == 0
                    && !self.bus.has_monitors()
                    && self.can_talk(&dst)
                {
                    dst.pool.admits(self.charge.user_index())?;
                }
                found = Some(dst);
            }
        }
        msg.read(bloom_size, self.id, sync, || domain.next_id())?;
        let head = *msg.head();
        let flags = head.flags;
        if head.dst_id == KDBUS_DST_ID_BROADCAST {
            self.broadcast(&msg)?;
            return write_empty_reply(args, self.pool.size());
        }
        let timeout = head.timeout_ns;
        if flags & KDBUS_MSG_EXPECT_REPLY != 0 {
            if sync {
                // §4.5 step 1: an interrupted call with this cookie resumes.
                if let Some(r) = self.resume(head.cookie, timeout) {
                    return self.wait_reply(file, args, r, cancel.as_deref());
                }
                // Step 2.
                if reply::sync_deadline(timeout) <= kext::monotonic_now() {
                    return Err(ETIMEDOUT);
                }
            }
            let (dst, name_seq) = self.pin(&msg, found)?;
            if !self.can_talk(&dst) {
                return Err(EPERM);
            }
            let r = Reply::new(
                self.id,
                &self.replies_alive,
                dst.id,
                head.cookie,
                timeout,
                sync,
            )?;
            {
                let mut inner = self.inner.lock();
                if inner.disconnected {
                    return Err(ECONNRESET);
                }
                inner.replies.track(r.clone())?;
            }
            if let Err(e) = self.collect_for(&dst, &msg) {
                self.forget_reply(&r);
                return Err(e);
            }
            self.eavesdrop(&msg);
            let queued = self
                .stage(&dst, &msg, name_seq)
                .and_then(|e| dst.enqueue(e, Some(&r)));
            if let Err(e) = queued {
                self.forget_reply(&r);
                return Err(e);
            }
            if sync {
                return self.wait_reply(file, args, r, cancel.as_deref());
            }
            let mut inner = self.inner.lock();
            self.arm_scan(&mut inner, timeout);
        } else if flags & KDBUS_MSG_SIGNAL != 0 {
            // A unicast signal (§3.5): delivered only through a match of a
            // receiver that may talk to us; failures are silent and not
            // counted.
            let (dst, name_seq) = self.pin(&msg, found)?;
            let (generation, filter) = msg.bloom().ok_or(EBADMSG)?;
            // Monitors see it even if the destination filters it out.
            self.eavesdrop(&msg);
            if self.bus.signal_matches(&dst, self.id, generation, filter) && dst.talks_to(self) {
                if let Ok(e) = self.stage(&dst, &msg, name_seq) {
                    let _ = dst.enqueue(e, None);
                }
            }
        } else if timeout != 0 {
            // A reply (§4.3): the caller's tracker is the permission.
            let (dst, name_seq) = self.pin(&msg, found)?;
            let r = dst.take_reply(self.id, timeout)?;
            // Like a failed stage, a failed collection fails a waiting
            // caller too.
            let staged = self.collect_for(&dst, &msg).and_then(|()| {
                self.eavesdrop(&msg);
                self.stage(&dst, &msg, name_seq)
            });
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
                .and_then(|()| write_empty_reply(args, self.pool.size()));
            }
            dst.enqueue(staged?, None)?;
        } else {
            let (dst, name_seq) = self.pin(&msg, found)?;
            if !self.can_talk(&dst) {
                return Err(EPERM);
            }
            self.collect_for(&dst, &msg)?;
            self.eavesdrop(&msg);
            let e = self.stage(&dst, &msg, name_seq)?;
            dst.enqueue(e, None)?;
        }
        write_empty_reply(args, self.pool.size())
    }

    /// A broadcast (`message.md` §3.4): to every monitor first, then to
    /// every ordinary connection but us whose match rules accept it and
    /// which may talk to us; one that cannot take it counts it lost (§5.8).
    /// The subscribers index of the bus keeps the cost to the connections
    /// with match entries.
    fn broadcast(&self, msg: &Msg) -> Result {
        let (generation, filter) = msg.bloom().ok_or(EBADMSG)?;
        self.eavesdrop(msg);
        for dst in self
            .bus
            .broadcast_targets(self.id, generation, filter)?
            .iter()
        {
            if dst.kind != Kind::Ordinary || !dst.talks_to(self) {
                continue;
            }
            let delivered = self.stage(dst, msg, 0).and_then(|e| dst.enqueue(e, None));
            if delivered.is_err() {
                dst.count_lost();
            }
        }
        Ok(())
    }

    /// Copies `msg` to every monitor of the bus (`message.md` §3.7), each
    /// copy with the metadata that monitor asks for; a copy that cannot be
    /// queued is counted lost at the monitor, and we never learn of it.
    fn eavesdrop(&self, msg: &Msg) {
        self.bus.for_each_monitor(|m| {
            let copied = self.stage(m, msg, 0).and_then(|e| m.enqueue(e, None));
            if copied.is_err() {
                m.count_lost();
            }
        });
    }

    /// Finds the destination of a unicast (`message.md` §3.1, §3.2) and,
    /// for one sent by name, the name's sequence number (else 0); `found`
    /// is the connection already looked up by ID, if any.
    pub(super) fn pin(
        &self,
        msg: &Msg,
        found: Option<Arc<Connection>>,
    ) -> Result<(Arc<Connection>, u64)> {
        let dst_id = msg.head().dst_id;
        match msg.dst_name() {
            Some(name) => {
                let (owner, seq) = self.bus.name_owner(name).ok_or(ESRCH)?;
                if dst_id != 0 && dst_id != owner.id {
                    return Err(EREMCHG);
                }
                if msg.head().flags & KDBUS_MSG_NO_AUTO_START != 0 && owner.kind == Kind::Activator
                {
                    return Err(EADDRNOTAVAIL);
                }
                Ok((owner, seq))
            }
            None => found
                .filter(|c| c.id == dst_id)
                .or_else(|| self.bus.find_conn(dst_id))
                .filter(|c| c.kind == Kind::Ordinary)
                .map(|c| (c, 0))
                .ok_or(ENXIO),
        }
    }

    /// TALK from this connection to `peer` with the credentials `cred`
    /// (`names-match-policy-metadata.md` §3.5): a custom endpoint must grant
    /// TALK on a name `peer` owns; then a privileged connection, the same
    /// user (`cred`'s effective UID against `peer`'s HELLO UID), or the bus
    /// policy on a name `peer` owns. The names are read in place, so the
    /// check allocates nothing.
    fn talk_allowed(&self, cred: &Credential, peer: &Connection) -> bool {
        if let Some(db) = self.ep.endpoint().and_then(|e| e.policy()) {
            if !self
                .bus
                .any_name_of(peer, |_, n| db.grants(cred, n, KDBUS_POLICY_TALK))
            {
                return false;
            }
        }
        self.privileged
            || cred.euid() == peer.uid
            || self
                .bus
                .any_name_of(peer, |bus, n| bus.grants(cred, n, KDBUS_POLICY_TALK))
    }

    /// Whether the caller, sending on this connection, may talk to `dst`
    /// (§3.6: the sender's current credentials).
    pub(super) fn can_talk(&self, dst: &Connection) -> bool {
        // The usual case on the SEND path, decided without taking a
        // reference to the credentials: no endpoint policy, and a
        // privileged sender or the same user.
        if self.on_default_endpoint()
            && (self.privileged || kernel::task::Kuid::current_euid() == dst.uid)
        {
            return true;
        }
        self.talk_allowed(&crate::kext::current_cred(), dst)
    }

    /// Whether this connection, as the receiver of a signal from `peer`,
    /// may talk to it (§3.6: the receiver's HELLO credentials). A
    /// connection with faked credentials is privileged (and on the default
    /// endpoint), so it always may.
    pub(super) fn talks_to(&self, peer: &Connection) -> bool {
        match self.meta.cred() {
            Some(cred) => self.talk_allowed(cred, peer),
            None => self.privileged,
        }
    }

    /// The metadata `dst` gets from us (`names-match-policy-metadata.md`
    /// §4.3): the module's mask, our send mask and its receive mask.
    fn meta_mask(&self, dst: &Connection) -> u64 {
        let send_mask = self.attach_send.load(ordering::Relaxed);
        let recv_mask = dst.attach_recv.load(ordering::Relaxed);
        crate::attach_flags_mask() & send_mask & recv_mask
    }

    /// The process items of `msg` in `mask`, collected as far as needed. A
    /// sender with faked metadata contributes none.
    fn process_meta(&self, msg: &Msg, mask: u64) -> Result<Option<Arc<Snapshot>>> {
        if mask & PROCESS_META != 0 && !self.meta.is_faked() {
            Ok(Some(msg.process_meta(mask)?))
        } else {
            Ok(None)
        }
    }

    /// Collects what the destination of a unicast needs before the
    /// monitors get their copies (`message.md` §3.7: after the collection
    /// succeeded): a failure fails the SEND, and no monitor sees it.
    fn collect_for(&self, dst: &Connection, msg: &Msg) -> Result {
        self.process_meta(msg, self.meta_mask(dst)).map(|_| ())
    }

    /// Writes `msg` from this connection into a new slice of `dst`'s pool
    /// (`message.md` §5.1): metadata, quota, slice, one copy of the payload.
    /// The result is charged to our user at `dst` until it is queued
    /// ([`Connection::enqueue`]), attached ([`Connection::attach`]) or
    /// given back ([`Connection::unstage`]).
    pub(super) fn stage(&self, dst: &Arc<Connection>, msg: &Msg, name_seq: u64) -> Result<Entry> {
        let mask = self.meta_mask(dst);
        let snapshot = self.process_meta(msg, mask)?;
        // Our names are copied only for a receiver that asks for them.
        let names = if mask & KDBUS_ATTACH_NAMES != 0 {
            LeanVec::from(self.bus.names_of(self)?)
        } else {
            LeanVec::new()
        };
        let meta = MsgMeta::new(mask, snapshot, names, self.description.as_deref(), msg.seq)?;
        let meta_len = meta.len()?;
        let size = msg.slice_size(meta_len);
        let user = self.charge.user_index();
        let nfds = msg.files().len();
        let mut files = LeanVec::with_capacity(nfds)?;
        for f in msg.files() {
            files.push(f.clone(), GFP_KERNEL)?;
        }
        let memfds = msg.memfds()?;
        let off = dst.reserve(Some(&self.charge), size, nfds)?;
        let entry = Entry {
            seq: msg.seq,
            priority: msg.head().priority,
            off,
            size,
            header_items: msg.header_items(),
            meta,
            user,
            files,
            fds_off: msg.fds_off(),
            memfds,
            reply: None,
            name_seq,
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
    pub(super) fn reserve(
        &self,
        sender: Option<&Charge>,
        size: usize,
        nfds: usize,
    ) -> Result<usize> {
        let user = sender.map_or(KERNEL_USER, Charge::user_index);
        // An early answer for a receiver already gone; `enqueue` decides
        // under the lock.
        if !self.active.is_open() {
            return Err(ECONNRESET);
        }
        if nfds > 0 && self.kind != Kind::Monitor && self.hello_flags & KDBUS_HELLO_ACCEPT_FD == 0 {
            return Err(ECOMM);
        }
        self.pool
            .reserve(user, size, nfds, sender.map(Charge::user))
    }

    /// Gives back a staged entry that will not be queued: its charge and
    /// its slice.
    pub(super) fn unstage(&self, e: Entry) {
        self.pool.unreserve(e.held());
    }

    /// Queues a staged entry (for a method call, `reply` is its tracker,
    /// which opens now), and wakes the receiver.
    pub(super) fn enqueue(&self, mut e: Entry, reply: Option<&Arc<Reply>>) -> Result {
        e.reply = reply.cloned();
        let opened = || {
            if let Some(r) = reply {
                r.open();
            }
        };
        match self.push_entry(e, opened) {
            None => Ok(()),
            Some((e, err)) => {
                self.unstage(e);
                Err(err)
            }
        }
    }

    /// Queues `e` and runs `queued` under our lock once it is in; wakes
    /// us. Gives it back with `ECONNRESET` if we are gone, `ENOMEM` if the
    /// queue cannot grow.
    pub(super) fn push_entry(&self, e: Entry, queued: impl FnOnce()) -> Option<(Entry, Error)> {
        let mut inner = self.inner.lock();
        if inner.disconnected {
            return Some((e, ECONNRESET));
        }
        if let Some(e) = inner.queue.push(e) {
            return Some((e, ENOMEM));
        }
        queued();
        drop(inner);
        self.wait.notify_all();
        None
    }

    /// Hands a staged reply to the synchronous caller waiting on `r`
    /// (`message.md` §4.3); `ECONNRESET` if it stopped waiting.
    pub(super) fn attach(&self, e: Entry, r: &Reply) -> Result {
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

    /// A sequence number for a message or notification: the domain's
    /// counter (`message.md` §5.5).
    pub(crate) fn next_seq(&self) -> u64 {
        self.ep.domain().map_or(0, |d| d.next_id())
    }

    /// Queues ID_ADD or ID_REMOVE (`ty`) of this connection, which monitors
    /// never cause (`message.md` §7.2).
    pub(super) fn notify_id(&self, ty: u64) {
        if self.kind != Kind::Monitor {
            let seq = self.next_seq();
            self.bus.notifier().id(ty, self.id, self.hello_flags, seq);
        }
    }

    /// Counts a message lost for us (`message.md` §5.8); the first one
    /// makes us readable.
    pub(crate) fn count_lost(&self) {
        let mut inner = self.inner.lock();
        inner.dropped = inner.dropped.saturating_add(1);
        let first = inner.dropped == 1;
        drop(inner);
        if first {
            self.wait.notify_all();
        }
    }

    /// Queues a kernel notification (`message.md` §7.1): `msg` is its
    /// header and item, `seq` its sequence number; the only metadata it
    /// can carry is a TIMESTAMP, taken now. Charged to the kernel.
    pub(crate) fn deliver_kernel(&self, msg: &[u8], seq: u64) -> Result {
        let recv = self.attach_recv.load(ordering::Relaxed);
        let mask = crate::attach_flags_mask() & recv & KDBUS_ATTACH_TIMESTAMP;
        let meta = MsgMeta::new(mask, None, LeanVec::new(), None, seq)?;
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
            files: LeanVec::new(),
            fds_off: None,
            memfds: LeanVec::new(),
            reply: None,
            name_seq: 0,
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
}
