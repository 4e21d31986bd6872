// SPDX-License-Identifier: GPL-2.0

//! Waiting on several wait queues with an absolute deadline, the way
//! `select()` does, and the clocks and signals that go with it; and the
//! connection's poll wait queue, [`PollCondVarBox`].

use kernel::{bindings, prelude::*};

// ----------------------------------------------------------------------
// The connection's wait queue. Kernel 7.3 has `PollCondVarBox`, a boxed
// `PollCondVar` freed with `kfree_rcu()`, so that dropping it never waits
// for an RCU grace period. 7.2 lacks it (and `CondVar`'s wait queue head is
// private to the `kernel` crate there): the same API over a pinned box,
// whose drop waits in `synchronize_rcu()` as `PollCondVar`'s own drop does.
// Correct on both; close() is about 10 ms slower on 7.2. This is the only
// difference between the supported kernels (Documentation/kdbus/kernels.rst).

#[cfg(not(kdbus_kernel_7_2))]
pub(crate) use kernel::sync::poll::PollCondVarBox;

/// A boxed [`PollCondVar`], as `kernel::sync::poll::PollCondVarBox` of
/// kernel 7.3 but freed after `synchronize_rcu()`.
///
/// [`PollCondVar`]: kernel::sync::poll::PollCondVar
#[cfg(kdbus_kernel_7_2)]
pub(crate) struct PollCondVarBox(Pin<KBox<kernel::sync::poll::PollCondVar>>);

#[cfg(kdbus_kernel_7_2)]
impl PollCondVarBox {
    /// Constructs a new boxed `PollCondVar`.
    pub(crate) fn new(
        name: &'static CStr,
        key: Pin<&'static kernel::sync::LockClassKey>,
    ) -> Result<Self, kernel::alloc::AllocError> {
        KBox::pin_init(kernel::sync::poll::PollCondVar::new(name, key), GFP_KERNEL)
            .map(Self)
            .map_err(|_| kernel::alloc::AllocError)
    }
}

#[cfg(kdbus_kernel_7_2)]
impl core::ops::Deref for PollCondVarBox {
    type Target = kernel::sync::poll::PollCondVar;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

// ----------------------------------------------------------------------
// Waiting on several wait queues with an absolute deadline, the way
// select() does (`poll_wqueues`): a synchronous SEND waits for its reply,
// its CANCEL_FD, a signal and its deadline at once.

#[allow(improper_ctypes)]
extern "C" {
    fn kdbus_poll_sleep(
        pwq: *mut bindings::poll_wqueues,
        expires: bindings::ktime_t,
    ) -> kernel::ffi::c_int;
}

/// A `struct poll_wqueues` of the current task.
///
/// # Invariants
///
/// `pwq` was initialised by `poll_initwait` in the task that owns this
/// value and is released by `poll_freewait` on drop; it is boxed, so the
/// wait queue entries pointing at it stay valid while it lives.
pub(crate) struct PollWait {
    pwq: KBox<kernel::types::Opaque<bindings::poll_wqueues>>,
}

impl PollWait {
    pub(crate) fn new() -> Result<Self> {
        let pwq = KBox::new(kernel::types::Opaque::uninit(), GFP_KERNEL)?;
        // SAFETY: `pwq` points at memory for a `poll_wqueues`, which
        // `poll_initwait` initialises completely.
        unsafe { bindings::poll_initwait(pwq.get()) };
        Ok(Self { pwq })
    }

    /// The poll table: registers the wait queues passed to it until
    /// [`PollWait::stop_registering`].
    pub(crate) fn table(&self) -> kernel::sync::poll::PollTable<'_> {
        // SAFETY: `pt` is a valid `poll_table` while `self` lives.
        unsafe { kernel::sync::poll::PollTable::from_raw(&raw mut (*self.pwq.get()).pt) }
    }

    /// Polls `file` through the table. `file` must implement `poll`
    /// ([`file_can_poll`]); otherwise this returns 0.
    pub(crate) fn poll_file(&self, file: &kernel::fs::file::LocalFile) -> u32 {
        // SAFETY: `file` is live, so are its operations.
        let poll = unsafe { (*(*file.as_ptr()).f_op).poll };
        match poll {
            // SAFETY: `poll` is the file's own method, called with the file
            // and a valid poll table as `vfs_poll()` does.
            Some(f) => unsafe { f(file.as_ptr(), &raw mut (*self.pwq.get()).pt) },
            None => 0,
        }
    }

    /// Keeps the wait queues registered so far, adds no more (as select()
    /// does after its first pass).
    pub(crate) fn stop_registering(&self) {
        // SAFETY: `pt` is valid; only the owning task uses it.
        unsafe { (*self.pwq.get()).pt._qproc = None };
    }

    /// Sleeps until a registered wait queue fires, a signal is pending or
    /// the absolute `CLOCK_MONOTONIC` time `deadline` (ns) has passed;
    /// returns `false` on the deadline.
    pub(crate) fn sleep_until(&self, deadline: i64) -> bool {
        // SAFETY: `pwq` is initialised and owned by this task.
        unsafe { kdbus_poll_sleep(self.pwq.get(), deadline) != 0 }
    }
}

impl Drop for PollWait {
    fn drop(&mut self) {
        // SAFETY: By the invariants, `pwq` was initialised by `poll_initwait`.
        unsafe { bindings::poll_freewait(self.pwq.get()) };
    }
}

/// Whether `file` implements `poll` (`file_can_poll()`).
pub(crate) fn file_can_poll(file: &kernel::fs::file::LocalFile) -> bool {
    // SAFETY: `file` is live, so are its operations.
    unsafe { (*(*file.as_ptr()).f_op).poll.is_some() }
}

/// Whether a signal is pending for the current task.
pub(crate) fn signal_pending() -> bool {
    kernel::current!().signal_pending()
}

/// The current `CLOCK_MONOTONIC` time in ns.
pub(crate) fn monotonic_now() -> i64 {
    <kernel::time::Monotonic as kernel::time::ClockSource>::ktime_get()
}

/// `poll()` event masks as the connection reports them.
pub(crate) mod events {
    use kernel::bindings;

    /// A message or a lost-message count is waiting.
    pub(crate) const READABLE: u32 = bindings::POLLIN | bindings::POLLRDNORM;
    /// Always: a SEND never blocks on the sender's side.
    pub(crate) const WRITABLE: u32 = bindings::POLLOUT | bindings::POLLWRNORM;
    /// The connection is gone (or the handle is not one).
    pub(crate) const HANGUP: u32 = bindings::POLLERR | bindings::POLLHUP;
    /// The readable bit a file's own `poll()` reports.
    pub(crate) const POLLIN: u32 = bindings::POLLIN;
}
