// SPDX-License-Identifier: GPL-2.0

//! Delayed work that is re-armed and cancelled: `mod_delayed_work` and
//! `cancel_delayed_work_sync` for a work item embedded in an `Arc` (the
//! `kernel` crate only enqueues), and the jiffies conversion they use.

use kernel::{
    bindings,
    ffi::c_ulong,
    sync::{Arc, ArcBorrow},
    workqueue::{HasDelayedWork, HasWork, RawWorkItem, WorkItem},
};

/// `ns` nanoseconds in jiffies, rounded down.
pub(crate) fn nsecs_to_jiffies(ns: u64) -> c_ulong {
    // SAFETY: Converts a number.
    unsafe { bindings::nsecs_to_jiffies(ns) }
}

/// Queues the delayed work of `this` on the system workqueue to run in
/// `delay` jiffies, or moves the timer of an instance already pending
/// (`mod_delayed_work`). A queued instance holds one reference to `this`.
pub(crate) fn mod_delayed_work<T>(this: Arc<T>, delay: c_ulong)
where
    T: HasDelayedWork<T> + WorkItem<Pointer = Arc<T>> + Send + Sync + 'static,
{
    // `mod_delayed_work_on` returns `false` when the work was idle and is
    // now queued (it owns the reference `__enqueue` passes), `true` when it
    // was pending and only its timer changed (the pending instance owns one
    // already), so the closure says whether the queue took the reference.
    //
    // SAFETY: The closure gets the `work` of `T`'s `delayed_work`
    // (`HasDelayedWork` guarantees the `Work` sits in a `DelayedWork`) and
    // returns whether the queue took the reference, as above.
    let extra = unsafe {
        RawWorkItem::<0>::__enqueue(this, |work| {
            !bindings::mod_delayed_work_on(
                bindings::wq_misc_consts_WORK_CPU_UNBOUND as i32,
                bindings::system_wq,
                kernel::container_of!(work, bindings::delayed_work, work),
                delay,
            )
        })
    };
    // A pending instance already holds a reference: drop ours.
    drop(extra);
}

/// Cancels the delayed work of `this` and waits for a running instance
/// (`cancel_delayed_work_sync`); the reference a cancelled pending instance
/// held (given by [`mod_delayed_work`]) is dropped.
pub(crate) fn cancel_delayed_work_sync<T>(this: ArcBorrow<'_, T>)
where
    T: HasDelayedWork<T> + WorkItem<Pointer = Arc<T>> + Send + Sync + 'static,
{
    let ptr = core::ptr::from_ref::<T>(&this).cast_mut();
    // SAFETY: `ptr` points at a live `T` (borrowed for the call).
    let work = unsafe { <T as HasWork<T>>::raw_get_work(ptr) };
    // SAFETY: `Work` wraps a `work_struct` transparently, and
    // `HasDelayedWork` guarantees it is the `work` of a `delayed_work`.
    let dwork = unsafe {
        kernel::container_of!(
            work.cast::<bindings::work_struct>(),
            bindings::delayed_work,
            work
        )
    };
    // SAFETY: `dwork` is the initialised `delayed_work` of `this`.
    if unsafe { bindings::cancel_delayed_work_sync(dwork) } {
        // SAFETY: A pending instance owned one reference of the `Arc` that
        // holds `this`, taken by `mod_delayed_work`; cancelling gave it back
        // to us.
        drop(unsafe { Arc::from_raw(ptr.cast_const()) });
    }
}
