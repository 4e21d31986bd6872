// SPDX-License-Identifier: GPL-2.0

//! Credentials, user namespaces and the IDs of the current task.

use kernel::bindings;

use super::{kdbus_get_current_cred, kdbus_get_user_ns, kdbus_put_user_ns};

/// The kernel's `GLOBAL_ROOT_UID`.
pub(crate) const GLOBAL_ROOT_UID: bindings::kuid_t = bindings::kuid_t { val: 0 };
/// The kernel's `GLOBAL_ROOT_GID`.
pub(crate) const GLOBAL_ROOT_GID: bindings::kgid_t = bindings::kgid_t { val: 0 };

/// A counted reference to a user namespace.
///
/// # Invariants
///
/// `ns` is valid and this object owns one count on it.
pub(crate) struct UserNs {
    ns: core::ptr::NonNull<bindings::user_namespace>,
}

// SAFETY: User namespaces are reference counted and immutable where we read
// them; the count may be dropped from any task.
unsafe impl Send for UserNs {}
// SAFETY: See `Send`; shared access only reads.
unsafe impl Sync for UserNs {}

impl UserNs {
    /// Takes a count on `ns`; `None` if it is null.
    ///
    /// # Safety
    ///
    /// `ns` must be null or a valid user namespace for the duration of the
    /// call.
    pub(crate) unsafe fn get(ns: *mut bindings::user_namespace) -> Option<Self> {
        let ns = core::ptr::NonNull::new(ns)?;
        // SAFETY: `ns` is valid (caller); `get_user_ns` takes a count on
        // it and returns its argument, which we already have.
        unsafe { kdbus_get_user_ns(ns.as_ptr()) };
        // INVARIANT: We took one count on `ns` just above.
        Some(Self { ns })
    }

    pub(crate) fn as_ptr(&self) -> *mut bindings::user_namespace {
        self.ns.as_ptr()
    }

    /// `kuid` as seen in this namespace, or `None` if unmapped.
    pub(crate) fn uid_of(&self, kuid: bindings::kuid_t) -> Option<u32> {
        // SAFETY: `ns` is valid by the type invariant.
        let uid = unsafe { bindings::from_kuid(self.ns.as_ptr(), kuid) };
        (uid != u32::MAX).then_some(uid)
    }
}

impl Drop for UserNs {
    fn drop(&mut self) {
        // SAFETY: We own one count (type invariant).
        unsafe { kdbus_put_user_ns(self.ns.as_ptr()) };
    }
}

/// A counted reference to a `struct cred`.
///
/// # Invariants
///
/// `cred` is valid and this object owns one count on it.
pub(crate) struct CredRef {
    cred: core::ptr::NonNull<bindings::cred>,
}

// SAFETY: Credentials are immutable once published and reference counted.
unsafe impl Send for CredRef {}
// SAFETY: See `Send`.
unsafe impl Sync for CredRef {}

impl CredRef {
    fn get(&self) -> &bindings::cred {
        // SAFETY: Valid while we hold our count (type invariant).
        unsafe { self.cred.as_ref() }
    }

    /// uid, euid, suid, fsuid, gid, egid, sgid, fsgid (kernel-global).
    pub(crate) fn ids(&self) -> [u32; 8] {
        let c = self.get();
        [
            c.uid.val,
            c.euid.val,
            c.suid.val,
            c.fsuid.val,
            c.gid.val,
            c.egid.val,
            c.sgid.val,
            c.fsgid.val,
        ]
    }

    /// The supplementary groups.
    pub(crate) fn groups(&self) -> &[bindings::kgid_t] {
        let gi = self.get().group_info;
        if gi.is_null() {
            return &[];
        }
        // SAFETY: `group_info` of a live cred is valid and immutable, with
        // `ngroups` entries in its trailing array.
        unsafe {
            let n = usize::try_from((*gi).ngroups).unwrap_or(0);
            core::slice::from_raw_parts((*gi).gid.as_ptr(), n)
        }
    }
}

impl Drop for CredRef {
    fn drop(&mut self) {
        // SAFETY: We own one count (type invariant).
        unsafe { bindings::put_cred(self.cred.as_ptr()) };
    }
}

/// The caller's credentials, counted.
pub(crate) fn current_cred() -> CredRef {
    // SAFETY: `get_current_cred` returns the caller's cred with a count.
    let cred = unsafe { kdbus_get_current_cred() }.cast_mut();
    // INVARIANT: A task always has credentials.
    CredRef {
        cred: core::ptr::NonNull::new(cred).unwrap_or(core::ptr::NonNull::dangling()),
    }
}

/// The caller's effective UID.
pub(crate) fn current_euid() -> bindings::kuid_t {
    kernel::task::Kuid::current_euid().into_raw()
}

/// The caller's real UID.
pub(crate) fn current_uid() -> bindings::kuid_t {
    let c = current_cred();
    bindings::kuid_t { val: c.ids()[0] }
}

/// The caller's effective GID.
pub(crate) fn current_egid() -> bindings::kgid_t {
    let c = current_cred();
    bindings::kgid_t { val: c.ids()[5] }
}

/// Maps a uid of the caller's user namespace to a kuid value (`EINVAL` if
/// unmapped).
pub(crate) fn map_uid(id: u32) -> kernel::error::Result<u32> {
    // SAFETY: `current_user_ns()` is the caller's, valid for this call.
    let kuid = unsafe { bindings::make_kuid(bindings::current_user_ns(), id) };
    if kuid.val == u32::MAX {
        return Err(kernel::error::code::EINVAL);
    }
    Ok(kuid.val)
}

/// Maps a gid of the caller's user namespace to a kgid value (`EINVAL` if
/// unmapped).
pub(crate) fn map_gid(id: u32) -> kernel::error::Result<u32> {
    // SAFETY: `current_user_ns()` is the caller's, valid for this call.
    let kgid = unsafe { bindings::make_kgid(bindings::current_user_ns(), id) };
    if kgid.val == u32::MAX {
        return Err(kernel::error::code::EINVAL);
    }
    Ok(kgid.val)
}

/// A kuid value as seen by the caller (overflow uid when unmapped).
pub(crate) fn uid_for_current(kuid: u32) -> u32 {
    // SAFETY: `current_user_ns()` is valid for this call.
    unsafe {
        bindings::from_kuid_munged(bindings::current_user_ns(), bindings::kuid_t { val: kuid })
    }
}

/// A kgid value as seen by the caller (overflow gid when unmapped).
pub(crate) fn gid_for_current(kgid: u32) -> u32 {
    // SAFETY: `current_user_ns()` is valid for this call.
    unsafe {
        bindings::from_kgid_munged(bindings::current_user_ns(), bindings::kgid_t { val: kgid })
    }
}

/// Whether the opener of `file` had `CAP_IPC_OWNER` in `ns` (checked
/// against the file's credentials, as `file_ns_capable` does).
pub(crate) fn file_may_own_ipc(file: &kernel::fs::File, ns: &UserNs) -> bool {
    // SAFETY: `file` is a live file and `ns` a counted user namespace, both
    // for the duration of the call.
    unsafe {
        bindings::file_ns_capable(
            file.as_ptr(),
            ns.as_ptr(),
            bindings::CAP_IPC_OWNER as kernel::ffi::c_int,
        )
    }
}
