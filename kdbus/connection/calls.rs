// SPDX-License-Identifier: GPL-2.0

//! Method calls from the connection's side (`message.md` §4): its list
//! of trackers, replies, REPLY_DEAD, synchronous waits and the
//! reply-timeout scanner. The tracker itself is `reply.rs`.

use kernel::{
    alloc::KVec,
    fs::{file::LocalFile, File},
    impl_has_delayed_work,
    prelude::*,
    sync::Arc,
    workqueue::WorkItem,
};

use crate::{
    item::Args,
    kext,
    queue::Entry,
    reply::{self, Reply},
    uapi::*,
};

use super::{ConnInner, Connection};

impl_has_delayed_work! {
    impl HasDelayedWork<Self> for Connection { self.scan }
}

impl WorkItem for Connection {
    type Pointer = Arc<Connection>;

    fn run(this: Arc<Connection>) {
        this.scan_replies();
    }
}

/// The longest the reply-timeout scanner sleeps (jiffies) before it looks
/// again; far deadlines are reached in several steps.
pub(super) const MAX_SCAN_DELAY: kernel::ffi::c_ulong = 1 << 30;

impl Connection {
    // ------------------------------------------------------------------
    // Method calls (`message.md` §4).

    /// Removes `r` from our tracker list.
    pub(super) fn forget_reply(&self, r: &Arc<Reply>) {
        self.inner.lock().replies.retain(|x| !Arc::ptr_eq(x, r));
    }

    /// Consumes our open tracker for a reply from `replier` with `cookie`,
    /// the most recent one (`message.md` §4.3); `EPERM` if there is none.
    /// An asynchronous tracker leaves the list now; a synchronous one when
    /// its waiter takes the outcome.
    pub(super) fn take_reply(&self, replier: u64, cookie: u64) -> Result<Arc<Reply>> {
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
    pub(super) fn abandon(&self, r: &Arc<Reply>) {
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
    pub(super) fn notify_reply(&self, ty: u64, cookie: u64) {
        let seq = self.ep.domain().map_or(0, |d| d.next_id());
        self.bus.notifier().reply(self.id, ty, cookie, seq);
    }

    /// Teardown step 8: our open trackers of calls to `replier`.
    pub(super) fn abandon_calls_to(&self, replier: u64) -> Result {
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
    pub(super) fn resume(&self, cookie: u64, deadline: u64) -> Option<Arc<Reply>> {
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
    pub(super) fn wait_reply(
        self: &Arc<Self>,
        file: &File,
        args: &mut Args<KdbusCmdSend>,
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
                    if pw.poll_file(c) & kext::events::POLLIN != 0 {
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
    pub(super) fn hand_over(&self, args: &mut Args<KdbusCmdSend>, e: Entry) -> Result {
        let installer = match self.export(&e, true, true) {
            Ok(i) => i,
            Err(err) => {
                // Not published, so released (§11 #7).
                self.pool.unreserve(e.off, e.user, e.size, e.files.len());
                return Err(err);
            }
        };
        let incomplete = installer.incomplete;
        let nfds = e.files.len();
        installer.install(e.files, e.memfds);
        self.pool.deliver(e.off, e.user, e.size, nfds);
        let reply = KdbusMsgInfo {
            offset: e.off as u64,
            msg_size: e.size as u64,
            return_flags: if incomplete {
                KDBUS_RECV_RETURN_INCOMPLETE_FDS
            } else {
                0
            },
        };
        super::send::write_reply(args, reply)
    }

    /// Arms the reply-timeout scanner for `deadline` unless it runs earlier
    /// (`message.md` §7.5, §11 #5); `inner` is our locked state.
    pub(super) fn arm_scan(self: &Arc<Self>, inner: &mut ConnInner, deadline: u64) {
        if inner.disconnected || inner.scan_at.is_some_and(|at| at <= deadline) {
            return;
        }
        inner.scan_at = Some(deadline);
        let now = u64::try_from(kext::monotonic_now()).unwrap_or(0);
        let delay = kext::nsecs_to_jiffies(deadline.saturating_sub(now));
        // One more jiffy: the conversion truncates, the scan must not run
        // before the deadline.
        let delay = delay.min(MAX_SCAN_DELAY) + 1;
        // The work is never disabled while we can arm it: teardown cancels
        // it only after setting `disconnected`, which we checked under the
        // lock.
        kext::mod_delayed_work(self.clone(), delay);
    }

    /// Teardown step 2: stops the scanner.
    pub(super) fn cancel_scan(self: &Arc<Self>) {
        kext::cancel_delayed_work_sync(self.as_arc_borrow());
    }

    /// The scanner (`message.md` §7.5): REPLY_TIMEOUT for expired
    /// asynchronous calls, silent removal of interrupted synchronous calls
    /// whose deadline passed; re-armed for the earliest remaining deadline.
    pub(super) fn scan_replies(self: &Arc<Self>) {
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
                            self.pool.unreserve(e.off, e.user, e.size, e.files.len());
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
}
