// SPDX-License-Identifier: GPL-2.0

//! What the current task tells about itself beyond its credentials and
//! pids: its executable and filesystem root, the start of its argument
//! area, its cgroup and its audit identity (the EXE, CMDLINE, CGROUP and
//! AUDIT metadata of `names-match-policy-metadata.md` §4.1).

use kernel::{alloc::KVec, bindings, prelude::*, task::Kuid};

use super::{
    kdbus_current_argv0, kdbus_current_audit, kdbus_current_cgroup, kdbus_current_exe,
    kdbus_is_current_root,
};

/// The size of the buffer a path is rendered into (`PATH_MAX`).
const PATH_BUF: usize = bindings::PATH_MAX as usize;

/// A counted filesystem root (a `struct path`), kept to compare it with
/// the root of a later task.
///
/// # Invariants
///
/// `path` holds one count on its mount and dentry (`path_get`).
pub(crate) struct FsRoot {
    path: bindings::path,
}

// SAFETY: A counted `struct path` may be released from any task.
unsafe impl Send for FsRoot {}
// SAFETY: Shared access only compares the two pointers.
unsafe impl Sync for FsRoot {}

impl FsRoot {
    /// Whether this is the caller's root.
    pub(crate) fn is_current(&self) -> bool {
        // SAFETY: `path` is counted (type invariant), so valid for the call.
        unsafe { kdbus_is_current_root(&self.path) }
    }
}

impl Drop for FsRoot {
    fn drop(&mut self) {
        // SAFETY: We own one count (type invariant). `path_put` may sleep;
        // snapshots are dropped in task context under mutexes at most.
        unsafe { bindings::path_put(&self.path) };
    }
}

/// The caller's executable path, as its root shows it, and that root;
/// `None` for a task without an executable mapping.
pub(crate) fn current_exe() -> Result<Option<(KVec<u8>, FsRoot)>> {
    let mut buf = KVec::<u8>::with_capacity(PATH_BUF, GFP_KERNEL)?;
    buf.resize(PATH_BUF, 0, GFP_KERNEL)?;
    // SAFETY: All-zero is a valid (empty) `struct path`.
    let mut root: bindings::path = unsafe { core::mem::zeroed() };
    let len = i32::try_from(PATH_BUF).map_err(|_| EINVAL)?;
    // SAFETY: `buf` is valid for writes of `len` bytes; on success the
    // helper writes a counted path into `root`, which `FsRoot` takes over.
    let off = unsafe { kdbus_current_exe(buf.as_mut_ptr(), len, &mut root) };
    if off == -(bindings::ENOENT as kernel::ffi::c_long) {
        return Ok(None);
    }
    let off = usize::try_from(off).map_err(|_| Error::from_errno(off as i32))?;
    // INVARIANT: the helper succeeded, so `root` holds a count.
    let root = FsRoot { path: root };
    let path = buf.get(off..).ok_or(EINVAL)?;
    let path = crate::copy_bytes(path)?;
    Ok(Some((path, root)))
}

/// The caller's argv[0]: its argument area up to the first NUL, without
/// it; `None` for a task without one. `EINVAL` if the area holds no NUL,
/// `EFAULT` if it cannot be read.
pub(crate) fn current_argv0() -> Result<Option<KVec<u8>>> {
    let mut s: *mut u8 = core::ptr::null_mut();
    // SAFETY: The helper writes a string allocated with `kmalloc` (or
    // NULL) into `s`.
    kernel::error::to_result(unsafe { kdbus_current_argv0(&mut s) })?;
    if s.is_null() {
        return Ok(None);
    }
    // SAFETY: `s` is a NUL-terminated string we own, freed just below.
    let copy = crate::copy_bytes(unsafe { CStr::from_char_ptr(s.cast_const()) }.to_bytes());
    // SAFETY: `s` came from `kmalloc` and is no longer used.
    unsafe { bindings::kfree(s.cast()) };
    copy.map(Some)
}

/// The caller's cgroup path in the default hierarchy (untranslated);
/// `None` without cgroups.
pub(crate) fn current_cgroup() -> Result<Option<KVec<u8>>> {
    let mut buf = KVec::<u8>::with_capacity(PATH_BUF, GFP_KERNEL)?;
    buf.resize(PATH_BUF, 0, GFP_KERNEL)?;
    // SAFETY: `buf` is valid for writes of its length.
    let len = unsafe { kdbus_current_cgroup(buf.as_mut_ptr(), buf.len()) };
    if len == -(bindings::ENOENT as i32) {
        return Ok(None);
    }
    let len = usize::try_from(len).map_err(|_| Error::from_errno(len))?;
    buf.truncate(len);
    crate::copy_bytes(&buf).map(Some)
}

/// The caller's audit session id and login UID; `None` without syscall
/// auditing.
pub(crate) fn current_audit() -> Option<(u32, Kuid)> {
    let mut sessionid = 0;
    let mut loginuid = bindings::kuid_t { val: 0 };
    // SAFETY: Both pointers are valid for writes.
    unsafe { kdbus_current_audit(&mut sessionid, &mut loginuid) }
        .then(|| (sessionid, Kuid::from_raw(loginuid)))
}
