// SPDX-License-Identifier: GPL-2.0

//! Reply trackers (`message.md` §4.1): one per outstanding method call, and
//! the list of one caller's trackers with its timeout scanner (§7.5).
//!
//! A tracker is created by the SEND of a call and sits in its caller's
//! [`Trackers`] until it is *closed*: by the reply, the deadline, the
//! callee's death or DROP, or the end of a synchronous wait. The queued call
//! message holds a second reference, so a tracker counts toward the
//! caller's limit ([`KDBUS_CONN_MAX_REQUESTS_PENDING`]) until both are
//! gone (§4.1: a timed-out call still unread in the callee's queue keeps
//! counting).
//!
//! The state of a tracker is private to this file and changes only through
//! the named transitions of [`Reply`], each taking the tracker's lock once.
//! Every outcome is decided exactly once: the transitions that close an open
//! tracker ([`Reply::callee_gone`], [`Trackers::accept_reply`], the scan,
//! [`Reply::end_wait`], [`Reply::caller_gone`]) tell their caller whether it
//! closed it, and only that caller acts (queues the reply, sends
//! REPLY_TIMEOUT or REPLY_DEAD, or records the outcome for a synchronous
//! waiter). This is what makes the reference's duplicate REPLY_DEADs
//! (`message.md` §11 #6) impossible here.
//!
//! A synchronous caller interrupted by a signal keeps its tracker, flagged
//! interrupted; outcomes that arrive meanwhile are recorded in it and handed
//! to the resumed SEND (§4.6, §11 #3, #4).
//!
//! A tracker does not keep its caller alive: it holds the caller's ID (the
//! callee looks the caller up on the bus when it must tell it something)
//! and the caller's [`Pending`] count. A caller that closes frees its pool
//! and its user's connection slot at once, even while its calls sit unread
//! in a callee's queue; those trackers are closed by the caller's teardown,
//! so their calls are later answered as after any caller death.
//!
//! The connection drives all of this (`connection/calls.rs`): it holds its
//! [`Trackers`] under its `inner` lock, owns the scanner's delayed work item
//! and delivers what the transitions decide.
//!
//! # Locking
//!
//! [`Trackers`] lives under the caller's `Connection.inner`. A tracker's
//! state lock is a leaf: the transitions take nothing else and never sleep,
//! so they may run under any kdbus lock (the callee's `inner` when the call
//! is queued, the caller's when its list is walked).

use kernel::{
    alloc::KVec,
    ffi::c_ulong,
    new_spinlock,
    prelude::*,
    sync::{
        atomic::{ordering, Atomic},
        Arc, SpinLock,
    },
};

use crate::{kext, queue::Entry, uapi::*};

/// The number of trackers of one caller that exist, shared by the caller
/// and its trackers (`message.md` §4.1: the limit of pending calls).
pub(crate) type Pending = Atomic<u32>;

/// Where a call stands.
#[expect(
    clippy::large_enum_variant,
    reason = "the tracker holds its one outcome in place; boxing it would allocate on the reply path"
)]
enum Phase {
    /// Created by SEND, not yet queued at the callee: nothing but the
    /// sender's own failure ends it, and no reply is accepted.
    Sending,
    /// Queued at (or received by) the replier, no outcome decided: a reply
    /// is accepted exactly in this phase.
    Open,
    /// Synchronous: closed by a reply that its replier is still writing;
    /// [`Reply::record`] decides it.
    Answering,
    /// Synchronous: closed with this outcome, a reply written into the
    /// caller's pool (charged there) or an error, for the waiter to take.
    Decided(Result<Entry>),
    /// Closed and nothing pending: the outcome was delivered or handed
    /// over, or nobody will take it.
    Done,
}

/// The mutable part of a tracker.
///
/// # Invariants
///
/// - An asynchronous tracker is only ever [`Phase::Sending`],
///   [`Phase::Open`] or [`Phase::Done`], and never `interrupted`.
/// - A synchronous tracker has a waiter, or an interrupted one that may
///   resume, exactly while it is not [`Phase::Done`].
/// - [`Phase::Answering`] is entered only from [`Phase::Open`],
///   [`Phase::Decided`] only from [`Phase::Open`] or [`Phase::Answering`],
///   each by the path that closed the tracker; so an outcome is recorded
///   at most once.
struct State {
    /// ID of the connection expected to reply.
    replier: u64,
    /// The absolute `CLOCK_MONOTONIC` deadline in ns.
    deadline: u64,
    phase: Phase,
    /// Synchronous calls: the waiter was interrupted by a signal and no
    /// SEND has resumed it yet (§4.6).
    interrupted: bool,
}

/// What [`Reply::callee_gone`] decided.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Abandoned {
    /// The tracker was closed already (or not yet open): nothing to do.
    Nothing,
    /// An asynchronous call: its caller gets a REPLY_DEAD.
    ReplyDead,
    /// A synchronous call: `EPIPE` is recorded; its caller must be woken.
    Epipe,
}

/// What the scanner did with one tracker ([`Reply::expire`]).
#[expect(
    clippy::large_enum_variant,
    reason = "returned and consumed at once, never stored"
)]
enum Expiry {
    /// Not the scanner's: closed, or a synchronous call whose waiter watches
    /// the deadline itself.
    Unwatched,
    /// Watched, with this deadline still ahead.
    Later(u64),
    /// Closed now by its deadline.
    Expired(Option<Expired>),
}

/// A tracker the scanner closed, and what its caller must do about it
/// (`message.md` §7.5, §4.6).
#[expect(
    clippy::large_enum_variant,
    reason = "handed over and consumed at once, never stored"
)]
pub(crate) enum Expired {
    /// The asynchronous call with this cookie timed out: its caller gets a
    /// REPLY_TIMEOUT.
    TimedOut(u64),
    /// An interrupted synchronous call nobody resumed had this reply
    /// recorded: it is released (slice and quota).
    Reaped(Entry),
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
    /// `pending`, to `replier` (`message.md` §4.2, §4.5 step 3), in
    /// [`Phase::Sending`]; `EMLINK` when the caller already has the maximum
    /// of pending calls.
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
                    deadline,
                    phase: Phase::Sending,
                    interrupted: false,
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

    /// The current deadline (ns, `CLOCK_MONOTONIC`).
    pub(crate) fn deadline(&self) -> u64 {
        self.state.lock().deadline
    }

    /// Synchronous calls: whether an outcome waits for the waiter
    /// (`message.md` §4.5 step 4, row b).
    pub(crate) fn has_outcome(&self) -> bool {
        matches!(self.state.lock().phase, Phase::Decided(_))
    }

    /// Whether the tracker is open and expects a reply from `replier`.
    fn is_open_to(&self, replier: u64) -> bool {
        let s = self.state.lock();
        matches!(s.phase, Phase::Open) && s.replier == replier
    }

    // ------------------------------------------------------------------
    // Transitions.

    /// The call moved between an activator and the implementer of its
    /// name (`names-match-policy-metadata.md` §1.5): the reply is now
    /// expected from `replier`.
    pub(crate) fn retarget(&self, replier: u64) {
        self.state.lock().replier = replier;
    }

    /// The call message was queued at the callee (`message.md` §4.2: the
    /// tracker is linked when the call is queued): `Sending` → `Open`. Runs
    /// under the callee's lock, in the critical section that queues the
    /// call, so a call that fails to be queued is never answered, timed out
    /// or declared dead.
    pub(crate) fn open(&self) {
        let mut s = self.state.lock();
        if matches!(s.phase, Phase::Sending) {
            s.phase = Phase::Open;
        }
    }

    /// A reply from `replier` consumes the tracker (`message.md` §4.3: "as
    /// soon as it is found, before delivery"): `Open` → `Done` for an
    /// asynchronous call (the reply is queued like any message),
    /// `Open` → `Answering` for a synchronous one (the replier then calls
    /// [`Reply::record`]). Returns whether it was consumed; `false` for the
    /// wrong replier, a second reply, or a call already closed.
    fn accept_reply(&self, replier: u64) -> bool {
        let mut s = self.state.lock();
        if !matches!(s.phase, Phase::Open) || s.replier != replier {
            return false;
        }
        s.phase = if self.sync {
            Phase::Answering
        } else {
            Phase::Done
        };
        true
    }

    /// The replier of a synchronous call, after [`Trackers::accept_reply`],
    /// records its outcome for the waiter (`message.md` §4.3: the reply
    /// attached, or the replier's error): `Answering` → `Decided`. Gives
    /// `outcome` back if the waiter left meanwhile (the replier gets
    /// `ECONNRESET` and releases a reply); `None` if recorded, and the
    /// caller must be woken.
    pub(crate) fn record(&self, outcome: Result<Entry>) -> Option<Result<Entry>> {
        let mut s = self.state.lock();
        if matches!(s.phase, Phase::Answering) {
            s.phase = Phase::Decided(outcome);
            None
        } else {
            Some(outcome)
        }
    }

    /// The call will not be answered: its callee dropped it or disconnected
    /// (`message.md` §4.2, §4.5 row b, §6.1; `connection-pool.md` §5.3
    /// steps 6, 8). Closes an open tracker: `Open` → `Done` for an
    /// asynchronous call, which gets a REPLY_DEAD, `Open` → `Decided(EPIPE)`
    /// for a synchronous one. Returns what the caller must be told.
    pub(crate) fn callee_gone(&self) -> Abandoned {
        let mut s = self.state.lock();
        if !matches!(s.phase, Phase::Open) {
            return Abandoned::Nothing;
        }
        if self.sync {
            s.phase = Phase::Decided(Err(EPIPE));
            Abandoned::Epipe
        } else {
            s.phase = Phase::Done;
            Abandoned::ReplyDead
        }
    }

    /// A signal interrupted the synchronous waiter (`message.md` §4.6): the
    /// tracker stays, flagged, and outcomes keep being recorded in it.
    /// Returns the deadline, at which the scanner reaps it if nobody
    /// resumes.
    pub(crate) fn interrupt(&self) -> u64 {
        let mut s = self.state.lock();
        s.interrupted = true;
        s.deadline
    }

    /// A SEND resumes the interrupted synchronous call (`message.md` §4.5
    /// step 1, §4.6) with the `deadline` it read: clears the flag. Returns
    /// whether the call was interrupted.
    fn resume(&self, deadline: u64) -> bool {
        let mut s = self.state.lock();
        if !s.interrupted {
            return false;
        }
        s.interrupted = false;
        s.deadline = deadline;
        true
    }

    /// The synchronous waiter leaves for any reason but a signal
    /// (`message.md` §4.5 step 5): any phase → `Done`. Returns the outcome
    /// recorded meanwhile, which wins over the reason it left.
    pub(crate) fn end_wait(&self) -> Option<Result<Entry>> {
        let mut s = self.state.lock();
        s.interrupted = false;
        match core::mem::replace(&mut s.phase, Phase::Done) {
            Phase::Decided(outcome) => Some(outcome),
            _ => None,
        }
    }

    /// The scanner looks at the tracker at `now` (`message.md` §7.5): an
    /// open asynchronous call or an interrupted synchronous one whose
    /// deadline has passed is closed (→ `Done`).
    fn expire(&self, now: i64) -> Expiry {
        let mut s = self.state.lock();
        let watched = if self.sync {
            s.interrupted
        } else {
            matches!(s.phase, Phase::Open)
        };
        if !watched {
            return Expiry::Unwatched;
        }
        if !expired(s.deadline, now) {
            return Expiry::Later(s.deadline);
        }
        s.interrupted = false;
        match core::mem::replace(&mut s.phase, Phase::Done) {
            _ if !self.sync => Expiry::Expired(Some(Expired::TimedOut(self.cookie))),
            Phase::Decided(Ok(e)) => Expiry::Expired(Some(Expired::Reaped(e))),
            _ => Expiry::Expired(None),
        }
    }

    /// The caller disconnected (`connection-pool.md` §5.3 step 7): its
    /// trackers are forgotten silently, any phase → `Done`. Returns a reply
    /// recorded for an interrupted call, to be released.
    pub(crate) fn caller_gone(&self) -> Option<Entry> {
        let mut s = self.state.lock();
        s.interrupted = false;
        match core::mem::replace(&mut s.phase, Phase::Done) {
            Phase::Decided(Ok(e)) => Some(e),
            _ => None,
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Reply {
    fn drop(self: Pin<&mut Self>) {
        self.pending.fetch_sub(1, ordering::Relaxed);
    }
}

/// The longest the reply-timeout scanner sleeps (jiffies) before it looks
/// again; far deadlines are reached in several steps.
const MAX_SCAN_DELAY: c_ulong = 1 << 30;

/// The trackers of the calls one connection made, oldest first
/// (`message.md` §4.1), and the schedule of its timeout scanner (§7.5).
///
/// Kept under the caller's `Connection.inner`; the connection owns the
/// scanner's delayed work item, queues it when [`Trackers::arm`] says so
/// and runs [`Trackers::scan`] from it.
pub(crate) struct Trackers {
    list: KVec<Arc<Reply>>,
    /// The deadline the scanner is armed for.
    scan_at: Option<u64>,
}

impl Trackers {
    pub(crate) const fn new() -> Self {
        Trackers {
            list: KVec::new(),
            scan_at: None,
        }
    }

    /// Adds the tracker of a call being sent.
    pub(crate) fn track(&mut self, r: Arc<Reply>) -> Result {
        self.list.push(r, GFP_KERNEL)?;
        Ok(())
    }

    /// Removes `r` from the list.
    pub(crate) fn forget(&mut self, r: &Arc<Reply>) {
        self.list.retain(|x| !Arc::ptr_eq(x, r));
    }

    /// A reply from `replier` with `cookie` consumes the most recent open
    /// tracker that expects it (`message.md` §4.3, [`Reply::accept_reply`]);
    /// `None` if there is none. An asynchronous tracker leaves the list now;
    /// a synchronous one when its waiter takes the outcome.
    pub(crate) fn accept_reply(&mut self, replier: u64, cookie: u64) -> Option<Arc<Reply>> {
        let idx = self
            .list
            .iter()
            .rposition(|r| r.cookie == cookie && r.accept_reply(replier))?;
        if self.list.get(idx)?.sync {
            self.list.get(idx).cloned()
        } else {
            self.list.remove(idx).ok()
        }
    }

    /// The most recent interrupted synchronous call with `cookie`, resumed
    /// with `deadline` (`message.md` §4.6, [`Reply::resume`]).
    pub(crate) fn resume(&self, cookie: u64, deadline: u64) -> Option<Arc<Reply>> {
        self.list
            .iter()
            .rev()
            .find(|r| r.sync && r.cookie == cookie && r.resume(deadline))
            .cloned()
    }

    /// The open trackers that expect a reply from `replier` (its teardown,
    /// `connection-pool.md` §5.3 step 8).
    pub(crate) fn open_to(&self, replier: u64) -> Result<KVec<Arc<Reply>>> {
        let mut out = KVec::new();
        for r in self.list.iter().filter(|r| r.is_open_to(replier)) {
            out.push(r.clone(), GFP_KERNEL)?;
        }
        Ok(out)
    }

    /// Empties the list (the caller's teardown, which then closes each
    /// tracker with [`Reply::caller_gone`]).
    pub(crate) fn take_all(&mut self) -> KVec<Arc<Reply>> {
        core::mem::take(&mut self.list)
    }

    /// Schedules a scan for `deadline` unless one runs earlier
    /// (`message.md` §7.5, §11 #5); returns the delay in jiffies to
    /// (re)queue the scanner's work with, `None` if it need not move.
    pub(crate) fn arm(&mut self, deadline: u64) -> Option<c_ulong> {
        if self.scan_at.is_some_and(|at| at <= deadline) {
            return None;
        }
        self.scan_at = Some(deadline);
        let now = u64::try_from(kext::monotonic_now()).unwrap_or(0);
        let delay = kext::nsecs_to_jiffies(deadline.saturating_sub(now));
        // One more jiffy: the conversion truncates, the scan must not run
        // before the deadline.
        Some(delay.min(MAX_SCAN_DELAY) + 1)
    }

    /// The scan at `now` (`message.md` §7.5): closes and removes the
    /// expired asynchronous calls and the interrupted synchronous calls
    /// whose deadline passed ([`Reply::expire`]), handing each outcome to
    /// `expired`; returns the earliest remaining deadline, to
    /// [`Trackers::arm`] the next scan for.
    pub(crate) fn scan(&mut self, now: i64, mut expired: impl FnMut(Expired)) -> Option<u64> {
        self.scan_at = None;
        let mut next: Option<u64> = None;
        let mut i = 0;
        while let Some(r) = self.list.get(i) {
            match r.expire(now) {
                Expiry::Unwatched => i += 1,
                Expiry::Later(d) => {
                    next = Some(next.map_or(d, |n| n.min(d)));
                    i += 1;
                }
                Expiry::Expired(outcome) => {
                    let _ = self.list.remove(i);
                    if let Some(outcome) = outcome {
                        expired(outcome);
                    }
                }
            }
        }
        next
    }
}

/// Whether the deadline `deadline` (ns, `CLOCK_MONOTONIC`) has passed at
/// `now`, for an asynchronous call: compared as unsigned, so `~0` never
/// expires (`message.md` §4.4).
fn expired(deadline: u64, now: i64) -> bool {
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
    use crate::message::MsgMeta;

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

    /// A staged reply of `size` bytes.
    fn staged(size: usize) -> Entry {
        Entry {
            seq: 0,
            priority: 0,
            off: 0,
            size,
            header_items: 64,
            meta: MsgMeta::empty(),
            user: 0,
            files: kext::LeanVec::new(),
            fds_off: None,
            memfds: kext::LeanVec::new(),
            reply: None,
            name_seq: 0,
        }
    }

    /// A tracker of caller 1 for a call to 2 with `cookie`, tracked in `t`.
    fn call(
        t: &mut Trackers,
        p: &Arc<Pending>,
        cookie: u64,
        deadline: u64,
        sync: bool,
    ) -> Result<Arc<Reply>> {
        let r = Reply::new(1, p, 2, cookie, deadline, sync)?;
        t.track(r.clone())?;
        Ok(r)
    }

    /// The cookies the scan at `now` timed out, and the sizes it reaped.
    fn scan(t: &mut Trackers, now: i64) -> Result<(Option<u64>, KVec<u64>, KVec<usize>)> {
        let (mut cookies, mut sizes) = (KVec::new(), KVec::new());
        let mut res = Ok(());
        let next = t.scan(now, |e| {
            res = res.and(match e {
                Expired::TimedOut(c) => cookies.push(c, GFP_KERNEL),
                Expired::Reaped(e) => sizes.push(e.size, GFP_KERNEL),
            });
        });
        res?;
        Ok((next, cookies, sizes))
    }

    #[test]
    fn an_async_call_is_answered_once() -> Result {
        let p = Arc::new(Pending::new(0), GFP_KERNEL)?;
        let mut t = Trackers::new();
        let r = call(&mut t, &p, 7, 100, false)?;
        // Not queued yet: no reply, no death, no timeout.
        assert!(t.accept_reply(2, 7).is_none());
        assert_eq!(r.callee_gone(), Abandoned::Nothing);
        assert_eq!(scan(&mut t, 1_000)?.1.len(), 0);
        r.open();
        // Wrong replier, wrong cookie.
        assert!(t.accept_reply(3, 7).is_none());
        assert!(t.accept_reply(2, 8).is_none());
        let got = t.accept_reply(2, 7).ok_or(EINVAL)?;
        assert!(Arc::ptr_eq(&got, &r));
        // Consumed: a second reply, the callee's death and the deadline
        // find nothing.
        assert!(t.accept_reply(2, 7).is_none());
        assert_eq!(r.callee_gone(), Abandoned::Nothing);
        assert_eq!(scan(&mut t, 1_000)?.1.len(), 0);
        assert_eq!(p.load(ordering::Relaxed), 1);
        drop((got, r));
        assert_eq!(p.load(ordering::Relaxed), 0);
        Ok(())
    }

    #[test]
    fn async_calls_time_out_or_die_once() -> Result {
        let p = Arc::new(Pending::new(0), GFP_KERNEL)?;
        let mut t = Trackers::new();
        let a = call(&mut t, &p, 10, 100, false)?;
        let b = call(&mut t, &p, 11, 200, false)?;
        let c = call(&mut t, &p, 12, u64::MAX, false)?;
        for r in [&a, &b, &c] {
            r.open();
        }
        // An earlier deadline moves the scan, a later one does not.
        assert!(t.arm(200).is_some());
        assert!(t.arm(300).is_none());
        assert!(t.arm(100).is_some());
        let (next, cookies, _) = scan(&mut t, 150)?;
        assert_eq!((next, &cookies[..]), (Some(200), &[10u64][..]));
        assert!(t.accept_reply(2, 10).is_none());
        assert_eq!(a.callee_gone(), Abandoned::Nothing);
        // The callee dies before the deadline: REPLY_DEAD, no timeout.
        assert_eq!(b.callee_gone(), Abandoned::ReplyDead);
        assert_eq!(b.callee_gone(), Abandoned::Nothing);
        let (next, cookies, _) = scan(&mut t, i64::MAX)?;
        // `~0` never expires.
        assert_eq!((next, cookies.len()), (Some(u64::MAX), 0));
        assert_eq!(t.open_to(2)?.len(), 1);
        assert_eq!(t.open_to(3)?.len(), 0);
        Ok(())
    }

    #[test]
    fn a_sync_reply_is_recorded_for_the_waiter() -> Result {
        let p = Arc::new(Pending::new(0), GFP_KERNEL)?;
        let mut t = Trackers::new();
        let r = call(&mut t, &p, 7, 100, true)?;
        r.open();
        assert!(t.accept_reply(2, 7).is_some());
        assert!(t.accept_reply(2, 7).is_none());
        // Between consumption and recording, the callee's death is moot.
        assert_eq!(r.callee_gone(), Abandoned::Nothing);
        assert!(!r.has_outcome());
        assert!(r.record(Ok(staged(8))).is_none());
        assert!(r.has_outcome());
        assert!(matches!(r.end_wait(), Some(Ok(e)) if e.size == 8));
        assert!(r.end_wait().is_none());
        // Still listed until the waiter forgets it.
        t.forget(&r);
        assert!(t.resume(7, 100).is_none());
        Ok(())
    }

    #[test]
    fn a_waiter_that_left_gets_nothing() -> Result {
        let p = Arc::new(Pending::new(0), GFP_KERNEL)?;
        let mut t = Trackers::new();
        let r = call(&mut t, &p, 7, 100, true)?;
        r.open();
        assert!(t.accept_reply(2, 7).is_some());
        assert!(r.end_wait().is_none());
        assert!(matches!(r.record(Ok(staged(16))), Some(Ok(e)) if e.size == 16));
        let s = call(&mut t, &p, 8, 100, true)?;
        s.open();
        assert!(s.end_wait().is_none());
        assert!(t.accept_reply(2, 8).is_none());
        assert_eq!(s.callee_gone(), Abandoned::Nothing);
        Ok(())
    }

    #[test]
    fn an_interrupted_call_keeps_its_outcome() -> Result {
        let p = Arc::new(Pending::new(0), GFP_KERNEL)?;
        let mut t = Trackers::new();
        let r = call(&mut t, &p, 7, 100, true)?;
        r.open();
        // An active waiter watches its own deadline.
        assert_eq!(scan(&mut t, 1_000)?.0, None);
        assert_eq!(r.interrupt(), 100);
        assert!(t.resume(8, 500).is_none());
        assert!(t.resume(7, 500).is_some());
        assert_eq!(r.deadline(), 500);
        assert!(t.resume(7, 500).is_none());
        assert_eq!(r.interrupt(), 500);
        assert_eq!(r.callee_gone(), Abandoned::Epipe);
        assert!(r.has_outcome());
        assert_eq!(scan(&mut t, 400)?.0, Some(500));
        assert!(t.resume(7, 500).is_some());
        assert!(matches!(r.end_wait(), Some(Err(e)) if e == EPIPE));
        Ok(())
    }

    #[test]
    fn an_unresumed_call_is_reaped_silently() -> Result {
        let p = Arc::new(Pending::new(0), GFP_KERNEL)?;
        let mut t = Trackers::new();
        let r = call(&mut t, &p, 7, 100, true)?;
        let s = call(&mut t, &p, 8, 100, true)?;
        for x in [&r, &s] {
            x.open();
            x.interrupt();
        }
        assert!(t.accept_reply(2, 7).is_some());
        assert!(r.record(Ok(staged(24))).is_none());
        let (next, cookies, sizes) = scan(&mut t, 100)?;
        assert_eq!((next, cookies.len(), &sizes[..]), (None, 0, &[24usize][..]));
        assert!(t.resume(7, 200).is_none());
        assert!(t.resume(8, 200).is_none());
        assert!(r.end_wait().is_none());
        Ok(())
    }

    #[test]
    fn the_callers_teardown_closes_everything() -> Result {
        let p = Arc::new(Pending::new(0), GFP_KERNEL)?;
        let mut t = Trackers::new();
        let a = call(&mut t, &p, 7, 100, false)?;
        let r = call(&mut t, &p, 8, 100, true)?;
        a.open();
        r.open();
        r.interrupt();
        assert!(t.accept_reply(2, 8).is_some());
        assert!(r.record(Ok(staged(32))).is_none());
        let all = t.take_all();
        assert_eq!(all.len(), 2);
        assert!(a.caller_gone().is_none());
        assert!(r.caller_gone().is_some_and(|e| e.size == 32));
        assert_eq!(a.callee_gone(), Abandoned::Nothing);
        assert_eq!(scan(&mut t, i64::MAX)?.0, None);
        Ok(())
    }

    #[test]
    fn pending_calls_are_limited() -> Result {
        let p = Arc::new(Pending::new(0), GFP_KERNEL)?;
        let mut t = Trackers::new();
        for i in 0..KDBUS_CONN_MAX_REQUESTS_PENDING as u64 {
            call(&mut t, &p, i, 100, false)?;
        }
        assert!(matches!(Reply::new(1, &p, 2, 0, 100, false), Err(e) if e == EMLINK));
        drop(t.take_all());
        assert_eq!(p.load(ordering::Relaxed), 0);
        Ok(())
    }
}
