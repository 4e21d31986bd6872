// SPDX-License-Identifier: GPL-2.0

//! PIDs: counted `struct pid` references and the current task's names.

use kernel::{bindings, prelude::*};

use super::{kdbus_current_comm, kdbus_current_pids, kdbus_get_pid};

/// A counted reference to a `struct pid`, possibly empty (a PID that did not
/// exist, reported as 0).
pub(crate) struct PidRef {
    pid: *mut bindings::pid,
}

// SAFETY: `struct pid` is reference counted; numbers are immutable.
unsafe impl Send for PidRef {}
// SAFETY: See `Send`.
unsafe impl Sync for PidRef {}

impl PidRef {
    /// The task with number `nr` in the caller's pid namespace (0 means
    /// none); `EINVAL` if there is none.
    pub(crate) fn find(nr: u64) -> Result<Self> {
        if nr == 0 {
            return Ok(Self {
                pid: core::ptr::null_mut(),
            });
        }
        let nr = i32::try_from(nr).map_err(|_| EINVAL)?;
        // SAFETY: `find_get_pid` looks `nr` up in the caller's namespace
        // and returns a counted pid or NULL.
        let pid = unsafe { bindings::find_get_pid(nr) };
        if pid.is_null() {
            return Err(EINVAL);
        }
        Ok(Self { pid })
    }

    /// The number as seen from the caller's pid namespace (0 if invisible).
    pub(crate) fn nr_for_current(&self) -> u32 {
        if self.pid.is_null() {
            return 0;
        }
        // SAFETY: `pid` is counted; `task_active_pid_ns(current)` is the
        // caller's namespace, valid for this call.
        let nr = unsafe {
            bindings::pid_nr_ns(
                self.pid,
                bindings::task_active_pid_ns(bindings::get_current()),
            )
        };
        u32::try_from(nr).unwrap_or(0)
    }
}

impl Clone for PidRef {
    fn clone(&self) -> Self {
        // SAFETY: `pid` is NULL or counted; `get_pid` takes another count.
        let pid = unsafe { kdbus_get_pid(self.pid) };
        Self { pid }
    }
}

impl Drop for PidRef {
    fn drop(&mut self) {
        // SAFETY: We own one count (or NULL, which `put_pid` ignores).
        unsafe { bindings::put_pid(self.pid) };
    }
}

/// The caller's thread, thread-group and parent pids.
pub(crate) fn current_pids() -> [PidRef; 3] {
    let mut pid = core::ptr::null_mut();
    let mut tgid = core::ptr::null_mut();
    let mut ppid = core::ptr::null_mut();
    // SAFETY: The helper writes three counted pids.
    unsafe { kdbus_current_pids(&mut pid, &mut tgid, &mut ppid) };
    [PidRef { pid }, PidRef { pid: tgid }, PidRef { pid: ppid }]
}

/// The caller's thread comm and its thread group leader's comm.
pub(crate) fn current_comm() -> ([u8; 16], [u8; 16]) {
    let mut tid = [0u8; 16];
    let mut pid = [0u8; 16];
    // SAFETY: Both buffers are `TASK_COMM_LEN` (16) bytes.
    unsafe { kdbus_current_comm(tid.as_mut_ptr(), pid.as_mut_ptr()) };
    (tid, pid)
}
