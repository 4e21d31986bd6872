// SPDX-License-Identifier: GPL-2.0

//! Method calls from the connection's side (`message.md` §4): the call
//! flow around its trackers: replies, REPLY_DEAD and REPLY_TIMEOUT,
//! synchronous waits, and the work item of its reply-timeout scanner. The
//! tracker state machine, the tracker list and the scan are `reply.rs`;
//! this file runs their transitions and delivers what they decide.

use crate::kext::prelude::*;
use kernel::{
    fs::{file::LocalFile, File},
    impl_has_delayed_work,
    sync::Arc,
    workqueue::WorkItem,
};

use crate::{
    item::Args,
    kext,
    queue::Entry,
    reply::{self, Abandoned, Expired, Reply},
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

impl Connection {
    // ------------------------------------------------------------------
    // Method calls (`message.md` §4).

    /// Removes `r` from our tracker list.
    pub(super) fn forget_reply(&self, r: &Arc<Reply>) {
        self.inner.lock().replies.forget(r);
    }

    /// Consumes our open tracker for a reply from `replier` with `cookie`,
    /// the most recent one (`message.md` §4.3); `EPERM` if there is none.
    /// An asynchronous tracker leaves the list now; a synchronous one when
    /// its waiter takes the outcome.
    pub(super) fn take_reply(&self, replier: u64, cookie: u64) -> Result<Arc<Reply>> {
        self.inner
            .lock()
            .replies
            .accept_reply(replier, cookie)
            .ok_or(EPERM)
    }

    /// The call of `r` will not be answered: its callee dropped it or
    /// disconnected. A synchronous caller gets `EPIPE`, an asynchronous one
    /// a REPLY_DEAD (`message.md` §4.2, §4.5; `connection-pool.md` §5.3
    /// steps 6, 8). Nothing happens if the tracker was closed already, or
    /// if its caller has left the bus (its teardown closes its trackers).
    /// `self` is any connection of the caller's bus; the caller of this
    /// function flushes the bus's notifications.
    pub(super) fn abandon(&self, r: &Arc<Reply>) {
        let decided = r.callee_gone();
        if decided == Abandoned::Nothing {
            return;
        }
        let Some(caller) = self.bus.find_conn(r.caller()) else {
            return;
        };
        if decided == Abandoned::Epipe {
            caller.wait.notify_all();
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
        let dead = self.inner.lock().replies.open_to(replier)?;
        for r in dead.iter() {
            self.abandon(r);
        }
        Ok(())
    }

    /// The interrupted synchronous call with `cookie`, which resumes with
    /// `deadline` (`message.md` §4.6).
    pub(super) fn resume(&self, cookie: u64, deadline: u64) -> Option<Arc<Reply>> {
        self.inner.lock().replies.resume(cookie, deadline)
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
        let deadline = reply::sync_deadline(r.deadline());
        let result = (|| -> Result {
            let pw = kext::PollWait::new()?;
            pw.table().register_wait(file, &self.wait);
            loop {
                if self.inner.lock().disconnected {
                    return Err(ECONNRESET);
                }
                if r.has_outcome() {
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
            let deadline = r.interrupt();
            self.arm_scan(&mut inner, deadline);
            return Err(ERESTARTSYS);
        }
        // Step 5: close the tracker; an outcome that raced in wins.
        self.forget_reply(&r);
        match r.end_wait() {
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
                self.pool.unreserve(e.held());
                return Err(err);
            }
        };
        let incomplete = installer.incomplete;
        let held = e.held();
        installer.install(e.files, e.memfds);
        self.pool.deliver(held);
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
        if inner.disconnected {
            return;
        }
        if let Some(delay) = inner.replies.arm(deadline) {
            // The work is never disabled while we can arm it: teardown
            // cancels it only after setting `disconnected`, which we checked
            // under the lock.
            kext::mod_delayed_work(self.clone(), delay);
        }
    }

    /// Teardown step 2: stops the scanner.
    pub(super) fn cancel_scan(self: &Arc<Self>) {
        kext::cancel_delayed_work_sync(self.as_arc_borrow());
    }

    /// The scanner's work (`message.md` §7.5): runs the scan of our
    /// trackers ([`reply::Trackers::scan`]), sends REPLY_TIMEOUT for
    /// expired asynchronous calls, releases the replies recorded in reaped
    /// synchronous ones, and re-arms for the earliest remaining deadline.
    pub(super) fn scan_replies(self: &Arc<Self>) {
        let now = kext::monotonic_now();
        {
            let mut inner = self.inner.lock();
            if inner.disconnected {
                return;
            }
            let next = inner.replies.scan(now, |expired| match expired {
                Expired::TimedOut(cookie) => self.notify_reply(KDBUS_ITEM_REPLY_TIMEOUT, cookie),
                // Nobody resumed: the reply goes (§4.6).
                Expired::Reaped(e) => self.unstage(e),
            });
            if let Some(next) = next {
                self.arm_scan(&mut inner, next);
            }
        }
        self.bus.flush_notifications();
    }
}
