// SPDX-License-Identifier: GPL-2.0

//! Credentials, user namespaces and the IDs of the current task.
//!
//! Credentials are the `kernel` crate's [`Credential`], held counted as
//! `ARef<Credential>`, and user IDs its [`Kuid`]. What that crate does not
//! offer yet is here: [`Kgid`], the group ID mirroring `Kuid`; the other
//! IDs and the supplementary groups of a credential ([`CredentialExt`]);
//! the translation of IDs from and to user namespaces ([`KernelId`],
//! [`UserNs`]); the caller's credentials; and the `CAP_IPC_OWNER` check.
//! Raw `u32` IDs exist only at the ABI boundary, on their way in or out
//! through [`KernelId`].

use core::ptr::NonNull;

use kernel::{bindings, cred::Credential, prelude::*, sync::aref::ARef, task::Kuid};

use super::{kdbus_get_current_cred, kdbus_get_user_ns, kdbus_put_user_ns};

/// The raw value of `INVALID_UID` and `INVALID_GID`, `(uid_t)-1`.
const INVALID_ID: u32 = u32::MAX;

/// A kernel group ID (`kgid_t`), the group counterpart of the `kernel`
/// crate's [`Kuid`].
#[repr(transparent)]
#[derive(Clone, Copy)]
pub(crate) struct Kgid {
    kgid: bindings::kgid_t,
}

impl Kgid {
    /// Creates a `Kgid` from the raw C type.
    pub(crate) const fn from_raw(kgid: bindings::kgid_t) -> Self {
        Self { kgid }
    }

    /// Turns this kgid into the raw C type.
    pub(crate) const fn into_raw(self) -> bindings::kgid_t {
        self.kgid
    }
}

impl PartialEq for Kgid {
    fn eq(&self, other: &Self) -> bool {
        // `gid_eq()`: kgids are equal when their values are.
        self.kgid.val == other.kgid.val
    }
}

impl Eq for Kgid {}

/// The kernel's `GLOBAL_ROOT_UID`.
pub(crate) fn global_root_uid() -> Kuid {
    Kuid::from_raw(bindings::kuid_t { val: 0 })
}

/// The kernel's `GLOBAL_ROOT_GID`.
pub(crate) fn global_root_gid() -> Kgid {
    Kgid::from_raw(bindings::kgid_t { val: 0 })
}

/// Translation of kernel IDs ([`Kuid`], [`Kgid`]) from and to the `u32`
/// IDs userspace reads and writes, in the caller's user namespace.
pub(crate) trait KernelId: Copy + Eq {
    /// The invalid ID (`INVALID_UID`, `INVALID_GID`).
    fn invalid() -> Self;

    /// Whether this is a valid ID (`uid_valid()`, `gid_valid()`).
    fn is_valid(self) -> bool;

    /// The kernel ID of `id` of the caller's user namespace (`make_kuid`,
    /// `make_kgid`); `EINVAL` if it is not mapped there.
    fn from_current_ns(id: u32) -> Result<Self>;

    /// This ID as the caller's user namespace sees it, the overflow ID if
    /// it is not mapped there (`from_kuid_munged`, `from_kgid_munged`).
    fn munged_for_current(self) -> u32;

    /// This ID as the caller's user namespace sees it, `None` if it is
    /// invalid or not mapped there (`from_kuid`, `from_kgid`).
    fn for_current(self) -> Option<u32>;
}

impl KernelId for Kuid {
    fn invalid() -> Self {
        Kuid::from_raw(bindings::kuid_t { val: INVALID_ID })
    }

    fn is_valid(self) -> bool {
        self.into_raw().val != INVALID_ID
    }

    fn from_current_ns(id: u32) -> Result<Self> {
        // SAFETY: `current_user_ns()` is the caller's, valid for this call.
        let kuid = Kuid::from_raw(unsafe { bindings::make_kuid(bindings::current_user_ns(), id) });
        if !kuid.is_valid() {
            return Err(EINVAL);
        }
        Ok(kuid)
    }

    fn munged_for_current(self) -> u32 {
        // SAFETY: `current_user_ns()` is valid for this call.
        unsafe { bindings::from_kuid_munged(bindings::current_user_ns(), self.into_raw()) }
    }

    fn for_current(self) -> Option<u32> {
        // SAFETY: `current_user_ns()` is valid for this call.
        let id = unsafe { bindings::from_kuid(bindings::current_user_ns(), self.into_raw()) };
        (id != INVALID_ID).then_some(id)
    }
}

impl KernelId for Kgid {
    fn invalid() -> Self {
        Kgid::from_raw(bindings::kgid_t { val: INVALID_ID })
    }

    fn is_valid(self) -> bool {
        self.kgid.val != INVALID_ID
    }

    fn from_current_ns(id: u32) -> Result<Self> {
        // SAFETY: `current_user_ns()` is the caller's, valid for this call.
        let kgid = Kgid::from_raw(unsafe { bindings::make_kgid(bindings::current_user_ns(), id) });
        if !kgid.is_valid() {
            return Err(EINVAL);
        }
        Ok(kgid)
    }

    fn munged_for_current(self) -> u32 {
        // SAFETY: `current_user_ns()` is valid for this call.
        unsafe { bindings::from_kgid_munged(bindings::current_user_ns(), self.kgid) }
    }

    fn for_current(self) -> Option<u32> {
        // SAFETY: `current_user_ns()` is valid for this call.
        let id = unsafe { bindings::from_kgid(bindings::current_user_ns(), self.kgid) };
        (id != INVALID_ID).then_some(id)
    }
}

/// A counted reference to a user namespace.
///
/// # Invariants
///
/// `ns` is valid and this object owns one count on it.
pub(crate) struct UserNs {
    ns: NonNull<bindings::user_namespace>,
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
        let ns = NonNull::new(ns)?;
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
    pub(crate) fn uid_of(&self, kuid: Kuid) -> Option<u32> {
        // SAFETY: `ns` is valid by the type invariant.
        let uid = unsafe { bindings::from_kuid(self.ns.as_ptr(), kuid.into_raw()) };
        (uid != INVALID_ID).then_some(uid)
    }
}

impl Drop for UserNs {
    fn drop(&mut self) {
        // SAFETY: We own one count (type invariant).
        unsafe { kdbus_put_user_ns(self.ns.as_ptr()) };
    }
}

/// The user and group IDs of a credential, in the order of a CREDS item.
#[derive(Clone, Copy)]
pub(crate) struct CredIds {
    /// uid, euid, suid, fsuid.
    pub(crate) uids: [Kuid; 4],
    /// gid, egid, sgid, fsgid.
    pub(crate) gids: [Kgid; 4],
}

impl CredIds {
    /// All eight IDs invalid.
    pub(crate) fn invalid() -> Self {
        Self {
            uids: [Kuid::invalid(); 4],
            gids: [Kgid::invalid(); 4],
        }
    }
}

/// What kdbus reads from a [`Credential`] beyond its `euid` and security
/// ID, which the `kernel` crate reads.
pub(crate) trait CredentialExt {
    /// The real UID.
    fn uid(&self) -> Kuid;
    /// The effective GID.
    fn egid(&self) -> Kgid;
    /// All eight user and group IDs.
    fn ids(&self) -> CredIds;
    /// The supplementary groups.
    fn groups(&self) -> &[Kgid];
    /// The inheritable, permitted, effective and bounding capability
    /// sets, in this order (one bit per capability).
    fn caps(&self) -> [u64; 4];
    /// Whether the credential's user namespace is the caller's.
    fn in_current_user_ns(&self) -> bool;
}

/// The highest capability number of the running kernel (`CAP_LAST_CAP`).
pub(crate) const CAP_LAST_CAP: u32 = bindings::CAP_LAST_CAP;

/// Reads a field of the `struct cred` behind `$c` (a `&Credential`).
macro_rules! cred_field {
    ($c:expr, $field:ident) => {
        // SAFETY: `$c` is a live credential (it is borrowed), and the IDs
        // of a credential never change after it is published, so there is
        // no data race.
        unsafe { (*$c.as_ptr()).$field }
    };
}

impl CredentialExt for Credential {
    fn uid(&self) -> Kuid {
        Kuid::from_raw(cred_field!(self, uid))
    }

    fn egid(&self) -> Kgid {
        Kgid::from_raw(cred_field!(self, egid))
    }

    fn ids(&self) -> CredIds {
        CredIds {
            uids: [
                Kuid::from_raw(cred_field!(self, uid)),
                Kuid::from_raw(cred_field!(self, euid)),
                Kuid::from_raw(cred_field!(self, suid)),
                Kuid::from_raw(cred_field!(self, fsuid)),
            ],
            gids: [
                Kgid::from_raw(cred_field!(self, gid)),
                Kgid::from_raw(cred_field!(self, egid)),
                Kgid::from_raw(cred_field!(self, sgid)),
                Kgid::from_raw(cred_field!(self, fsgid)),
            ],
        }
    }

    fn groups(&self) -> &[Kgid] {
        let gi = cred_field!(self, group_info);
        if gi.is_null() {
            return &[];
        }
        // SAFETY: The `group_info` of a live credential is counted by it
        // and immutable, with `ngroups` entries in its trailing array, so
        // it lives as long as the borrow of `self`; `Kgid` wraps `kgid_t`
        // transparently.
        unsafe {
            let n = usize::try_from((*gi).ngroups).unwrap_or(0);
            core::slice::from_raw_parts(core::ptr::addr_of!((*gi).gid).cast::<Kgid>(), n)
        }
    }

    fn caps(&self) -> [u64; 4] {
        [
            cred_field!(self, cap_inheritable).val,
            cred_field!(self, cap_permitted).val,
            cred_field!(self, cap_effective).val,
            cred_field!(self, cap_bset).val,
        ]
    }

    fn in_current_user_ns(&self) -> bool {
        // SAFETY: `current_user_ns()` is valid for this call; only the
        // pointers are compared.
        cred_field!(self, user_ns) == unsafe { bindings::current_user_ns() }
    }
}

/// The caller's (subjective) credentials, counted (`get_current_cred()`).
pub(crate) fn current_cred() -> ARef<Credential> {
    // SAFETY: `get_current_cred` returns the caller's credentials with a
    // count taken, which the `ARef` owns from now on. A task has
    // credentials from fork to exit, so the pointer is not null.
    // `Credential` wraps `struct cred` transparently.
    unsafe {
        ARef::from_raw(NonNull::new_unchecked(
            kdbus_get_current_cred().cast_mut().cast::<Credential>(),
        ))
    }
}

/// The caller's real UID (`current_uid()`).
pub(crate) fn current_uid() -> Kuid {
    current_cred().uid()
}

/// The caller's effective GID (`current_egid()`).
pub(crate) fn current_egid() -> Kgid {
    current_cred().egid()
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
