// SPDX-License-Identifier: GPL-2.0

//! Reply trackers (`message.md` §4.1): one per outstanding method call.
//!
//! A tracker is created by the SEND of a call and sits in its caller's
//! tracker list until it is *closed*: by the reply, the deadline, the
//! callee's death or DROP, or the end of a synchronous wait. The queued call
//! message holds a second reference, so a tracker counts toward the
//! caller's limit ([`KDBUS_CONN_MAX_REQUESTS_PENDING`]) until both are
//! gone (§4.1: a timed-out call still unread in the callee's queue keeps
//! counting).
//!
//! Every outcome is decided exactly once, under [`Reply::state`], by
//! clearing [`State::open`]: whoever clears it owns the outcome (queues the
//! reply, sends REPLY_TIMEOUT or REPLY_DEAD, or records it for a
//! synchronous waiter). This is what makes the reference's duplicate
//! REPLY_DEADs (`message.md` §11 #6) impossible here.
//!
//! A synchronous caller interrupted by a signal keeps its tracker (flagged
//! [`State::interrupted`]); outcomes that arrive meanwhile are recorded in
//! [`State::outcome`] and handed to the resumed SEND (§4.6, §11 #3, #4).
//!
//! A tracker does not keep its caller alive: it holds the caller's ID (the
//! callee looks the caller up on the bus when it must tell it something)
//! and the caller's [`Pending`] count. A caller that closes frees its pool
//! and its user's connection slot at once, even while its calls sit unread
//! in a callee's queue; those trackers are closed by the caller's teardown,
//! so their calls are later answered as after any caller death.

use kernel::{
    new_spinlock,
    prelude::*,
    sync::{
        atomic::{ordering, Atomic},
        Arc, SpinLock,
    },
};

use crate::{queue::Entry, uapi::*};

/// The number of trackers of one caller that exist, shared by the caller
/// and its trackers (`message.md` §4.1: the limit of pending calls).
pub(crate) type Pending = Atomic<u32>;

/// The mutable part of a tracker.
pub(crate) struct State {
    /// ID of the connection expected to reply.
    pub(crate) replier: u64,
    /// The call is queued at (or was received by) the replier and no
    /// outcome has been decided: a reply is accepted exactly while this
    /// holds. Trackers of calls still being sent are not open.
    pub(crate) open: bool,
    /// Synchronous calls: a waiter exists, or an interrupted one may resume.
    pub(crate) waiting: bool,
    /// Synchronous calls: the waiter was interrupted by a signal.
    pub(crate) interrupted: bool,
    /// The absolute `CLOCK_MONOTONIC` deadline in ns.
    pub(crate) deadline: u64,
    /// Synchronous calls: the outcome recorded for the waiter, a reply
    /// written into the caller's pool (charged there) or an error.
    pub(crate) outcome: Option<Result<Entry>>,
}

/// A reply tracker.
///
/// # Invariants
///
/// `pending` counts this tracker from [`Reply::new`] until it is dropped.
#[pin_data(PinnedDrop)]
pub(crate) struct Reply {
    /// ID of the connection that made the call.
    caller: u64,
    /// The caller's count of existing trackers.
    pending: Arc<Pending>,
    cookie: u64,
    sync: bool,
    /// A leaf lock: nothing else is taken while it is held.
    #[pin]
    state: SpinLock<State>,
}

impl Reply {
    /// A tracker for a call of connection `caller`, whose tracker count is
    /// `pending`, to `replier`; `EMLINK` when the caller already has the
    /// maximum of pending calls.
    pub(crate) fn new(
        caller: u64,
        pending: &Arc<Pending>,
        replier: u64,
        cookie: u64,
        deadline: u64,
        is_sync: bool,
    ) -> Result<Arc<Reply>> {
        let count = &**pending;
        crate::domain::charge(count, KDBUS_CONN_MAX_REQUESTS_PENDING as u32, EMLINK)?;
        let reply = Arc::pin_init(
            pin_init!(Reply {
                caller,
                pending: pending.clone(),
                cookie,
                sync: is_sync,
                state <- new_spinlock!(State {
                    replier,
                    open: false,
                    waiting: is_sync,
                    interrupted: false,
                    deadline,
                    outcome: None,
                }),
            }),
            GFP_KERNEL,
        );
        match reply {
            Ok(r) => Ok(r),
            Err(e) => {
                count.fetch_sub(1, ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// The ID of the connection that made the call.
    pub(crate) fn caller(&self) -> u64 {
        self.caller
    }

    pub(crate) fn cookie(&self) -> u64 {
        self.cookie
    }

    pub(crate) fn is_sync(&self) -> bool {
        self.sync
    }

    /// Runs `f` on the state, under its lock.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock())
    }

    /// Closes the tracker if it is still open; returns whether this call
    /// closed it (and so owns its outcome).
    pub(crate) fn close(&self) -> bool {
        core::mem::replace(&mut self.state.lock().open, false)
    }

    /// Records the outcome for a synchronous waiter; gives `outcome` back if
    /// nobody waits any more.
    pub(crate) fn record(&self, outcome: Result<Entry>) -> Option<Result<Entry>> {
        let mut s = self.state.lock();
        if s.waiting && s.outcome.is_none() {
            s.outcome = Some(outcome);
            None
        } else {
            Some(outcome)
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Reply {
    fn drop(self: Pin<&mut Self>) {
        self.pending.fetch_sub(1, ordering::Relaxed);
    }
}

/// Whether the deadline `deadline` (ns, `CLOCK_MONOTONIC`) has passed at
/// `now`, for an asynchronous call: compared as unsigned, so `~0` never
/// expires (`message.md` §4.4).
pub(crate) fn expired(deadline: u64, now: i64) -> bool {
    now >= 0 && deadline <= now as u64
}

/// The deadline of a synchronous call as kernel time: a value of 2^63 or
/// more is negative, so it has always passed (`message.md` §4.4, §11 #10).
pub(crate) fn sync_deadline(deadline: u64) -> i64 {
    deadline as i64
}

#[kunit_tests(kdbus_reply)]
mod tests {
    use super::*;

    #[test]
    fn async_deadlines_compare_unsigned() {
        assert!(expired(5, 5));
        assert!(expired(5, 6));
        assert!(!expired(6, 5));
        assert!(!expired(u64::MAX, i64::MAX));
    }

    #[test]
    fn sync_deadlines_from_two_to_the_63_have_passed() {
        assert!(sync_deadline(1 << 63) < 0);
        assert!(sync_deadline(u64::MAX) < 0);
        assert_eq!(sync_deadline(1_000), 1_000);
    }
}
