// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers for kernel APIs that the `kernel` crate does not offer (yet).
//!
//! Each wrapper states its invariants and is written so that it could be
//! proposed for `rust/kernel/` as it is.

use kernel::{bindings, error::to_result, prelude::*, sync::atomic::Atomic};

/// A `u64` module parameter that is readable and writable through sysfs.
///
/// The `module!` macro of this kernel registers its parameters with
/// permission 0 (never in sysfs) and stores them in a set-once cell. kdbus's
/// `attach_flags_mask` must be readable and writable by root at
/// `/sys/module/kdbus/parameters/` at any time, so it is declared with
/// [`module_param_rw_u64!`] instead, which registers the kernel's own
/// `param_ops_ullong` on this value.
///
/// # Invariants
///
/// The value is only written by `param_ops_ullong.set` (under
/// `kernel_param_lock`, as a single aligned 64-bit store) and read here with
/// an atomic load, the Rust form of `READ_ONCE()`.
#[repr(transparent)]
pub(crate) struct ParamU64(Atomic<u64>);

impl ParamU64 {
    /// Creates the parameter storage with its default value.
    pub(crate) const fn new(default: u64) -> Self {
        Self(Atomic::new(default))
    }

    /// Returns the current value.
    pub(crate) fn get(&self) -> u64 {
        self.0.load(kernel::sync::atomic::Relaxed)
    }

    /// The pointer `param_ops_ullong` stores through.
    pub(crate) const fn as_arg(&self) -> *mut kernel::ffi::c_void {
        self.0.as_ptr().cast()
    }
}

/// Wrapper that makes a `kernel_param` usable in a `static`.
#[repr(transparent)]
pub(crate) struct KernelParamRw(pub(crate) bindings::kernel_param);

// SAFETY: The kernel serialises all accesses to a `kernel_param` through
// `kernel_param_lock`; Rust never touches it after it is built.
unsafe impl Sync for KernelParamRw {}

/// Declares a sysfs-visible (mode 0644) `u64` module parameter.
///
/// `module_param_rw_u64!(STATIC, "name", default, "description")` defines
/// `STATIC: ParamU64` and registers it as `<module>.name`, exactly as C's
/// `module_param(name, ullong, 0644)` with `MODULE_PARM_DESC` would.
macro_rules! module_param_rw_u64 {
    ($var:ident, $name:literal, $default:expr, $desc:literal) => {
        pub(crate) static $var: $crate::kext::ParamU64 = $crate::kext::ParamU64::new($default);

        const _: () = {
            #[link_section = "__param"]
            #[used(compiler)]
            static PARAM: $crate::kext::KernelParamRw =
                $crate::kext::KernelParamRw(::kernel::bindings::kernel_param {
                    name: ::kernel::str::as_char_ptr_in_const_context(::kernel::c_str!($name)),
                    // `__this_module` is constructed by the kernel at load
                    // time and outlives every parameter access.
                    mod_: &raw mut ::kernel::bindings::__this_module,
                    // Taking the address of an extern static is safe;
                    // `param_ops_ullong` is the kernel's own, immutable ops.
                    ops: ::core::ptr::addr_of!(::kernel::bindings::param_ops_ullong),
                    perm: 0o644,
                    level: -1,
                    flags: 0,
                    __bindgen_anon_1: ::kernel::bindings::kernel_param__bindgen_ty_1 {
                        arg: $var.as_arg(),
                    },
                });

            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARMTYPE: [u8; concat!("parmtype=", $name, ":ullong\0").len()] =
                $crate::kext::modinfo(concat!("parmtype=", $name, ":ullong\0"));
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARM: [u8; concat!("parm=", $name, ":", $desc, "\0").len()] =
                $crate::kext::modinfo(concat!("parm=", $name, ":", $desc, "\0"));
        };
    };
}
pub(crate) use module_param_rw_u64;

/// Copies a `.modinfo` string into a byte array of its exact length.
pub(crate) const fn modinfo<const N: usize>(s: &str) -> [u8; N] {
    let bytes = s.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N && i < bytes.len() {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

// ----------------------------------------------------------------------
// Credentials, user namespaces and PIDs. `helpers.c` wraps the inline
// kernel functions used here.

// Pointers to C structs only; bindgen marks some of them not FFI-safe
// because of trailing arrays, which never cross by value.
#[allow(improper_ctypes)]
extern "C" {
    fn kdbus_get_user_ns(ns: *mut bindings::user_namespace) -> *mut bindings::user_namespace;
    fn kdbus_put_user_ns(ns: *mut bindings::user_namespace);
    fn kdbus_get_current_cred() -> *const bindings::cred;
    fn kdbus_current_pids(
        pid: *mut *mut bindings::pid,
        tgid: *mut *mut bindings::pid,
        ppid: *mut *mut bindings::pid,
    );
    fn kdbus_get_pid(pid: *mut bindings::pid) -> *mut bindings::pid;
    fn kdbus_current_comm(tid_comm: *mut u8, pid_comm: *mut u8);
    fn kdbus_totalram_pages() -> kernel::ffi::c_ulong;
    fn kdbus_access_ok(addr: u64, size: u64) -> bool;
    fn kdbus_file_is_unix_socket(file: *mut bindings::file) -> bool;
    fn kdbus_file_is_io_uring(file: *mut bindings::file) -> bool;
    fn kdbus_zero_page() -> *mut bindings::page;
    fn kdbus_memfd_info(
        file: *mut bindings::file,
        size: *mut bindings::loff_t,
    ) -> kernel::ffi::c_int;
}

/// Whether `file` is an `AF_UNIX` socket (not an `O_PATH` reference to one).
pub(crate) fn is_unix_socket(file: &kernel::fs::File) -> bool {
    // SAFETY: `file` is a live file for the duration of the call.
    unsafe { kdbus_file_is_unix_socket(file.as_ptr()) }
}

/// Whether `file` is an io_uring instance (not an `O_PATH` reference to
/// one).
pub(crate) fn is_io_uring(file: &kernel::fs::File) -> bool {
    // SAFETY: `file` is a live file for the duration of the call.
    unsafe { kdbus_file_is_io_uring(file.as_ptr()) }
}

/// `LOOKUP_RCU` of `<linux/namei.h>` (a `BIT()` macro bindgen does not
/// translate; `helpers.c` asserts the value).
pub(crate) const LOOKUP_RCU: u32 = 1 << 8;

/// Maps the shared zero page at `address` of `vma` (read-only mappings
/// only: `vm_insert_page` refuses it where a PTE could become writable).
pub(crate) fn vm_insert_zero_page(vma: &kernel::mm::virt::VmaMixedMap, address: usize) -> Result {
    // SAFETY: `vma` is a live VMA whose caller holds the locks
    // `vm_insert_page` needs (a `VmaMixedMap` exists only in that state);
    // the zero page lives for ever.
    to_result(unsafe { bindings::vm_insert_page(vma.as_ptr(), address, kdbus_zero_page()) })
}

/// The page-cache mapping (`struct address_space`) that the user mappings
/// of a file are linked in, to remove page table entries from all of them.
///
/// # Invariants
///
/// `mapping` is a live `address_space`; the owner of this value keeps it
/// alive (by keeping a VMA of the file, which holds the file).
pub(crate) struct FileMapping {
    mapping: core::ptr::NonNull<bindings::address_space>,
}

// SAFETY: An `address_space` may be used from any task; `unmap_mapping_range`
// takes its own locks.
unsafe impl Send for FileMapping {}

impl FileMapping {
    /// The mapping of the file of `vma`; `None` for an anonymous VMA.
    ///
    /// # Safety
    ///
    /// `vma` is a live VMA; the caller keeps it (and so its file) alive for
    /// as long as it uses the returned value.
    pub(crate) unsafe fn of_vma(vma: *mut bindings::vm_area_struct) -> Option<Self> {
        // SAFETY: `vma` is live (caller); `vm_file` of a file VMA is a
        // counted file, whose `f_mapping` is set for its whole life.
        let mapping = unsafe {
            let file = (*vma).vm_file;
            if file.is_null() {
                return None;
            }
            (*file).f_mapping
        };
        core::ptr::NonNull::new(mapping).map(|mapping| Self { mapping })
    }

    /// Removes the page table entries of page `idx` (file offset
    /// `idx * PAGE_SIZE`) from every user mapping of the file.
    pub(crate) fn unmap_page(&self, idx: usize) {
        let page = kernel::page::PAGE_SIZE as bindings::loff_t;
        let start = (idx as bindings::loff_t).saturating_mul(page);
        // SAFETY: `mapping` is live by the type invariant.
        unsafe { bindings::unmap_mapping_range(self.mapping.as_ptr(), start, page, 0) };
    }
}

/// The seals and size of a memfd (`EMEDIUMTYPE` if not a shmem file).
pub(crate) fn memfd_info(file: &kernel::fs::File) -> Result<(u32, u64)> {
    let mut size: bindings::loff_t = 0;
    // SAFETY: `file` is live for the call; `size` is valid for a write.
    let seals = unsafe { kdbus_memfd_info(file.as_ptr(), &mut size) };
    if seals < 0 {
        return Err(Error::from_errno(seals));
    }
    Ok((seals as u32, u64::try_from(size).unwrap_or(0)))
}

/// Whether `[addr, addr + size)` is a valid userspace range (`access_ok`).
pub(crate) fn access_ok(addr: u64, size: u64) -> bool {
    // SAFETY: Only compares numbers.
    unsafe { kdbus_access_ok(addr, size) }
}

/// The number of pages of RAM the kernel manages.
pub(crate) fn totalram_pages() -> usize {
    // SAFETY: Reads a counter; always safe.
    unsafe { kdbus_totalram_pages() as usize }
}

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
    /// Takes a count on `ns`.
    ///
    /// # Safety
    ///
    /// `ns` must be a valid user namespace for the duration of the call.
    pub(crate) unsafe fn get(ns: *mut bindings::user_namespace) -> Self {
        // SAFETY: `ns` is valid (caller); `get_user_ns` returns it counted.
        let ns = unsafe { kdbus_get_user_ns(ns) };
        // INVARIANT: `get_user_ns` returns its (non-null) argument.
        Self {
            ns: core::ptr::NonNull::new(ns).unwrap_or(core::ptr::NonNull::dangling()),
        }
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

/// Fills `buf` with random bytes.
pub(crate) fn random_bytes(buf: &mut [u8]) {
    // SAFETY: `buf` is valid for writes of its length.
    unsafe { bindings::get_random_bytes(buf.as_mut_ptr().cast(), buf.len()) };
}

/// This module, for `file_operations.owner`.
pub(crate) const fn this_module() -> *mut bindings::module {
    // Taking the address of the module's `__this_module` is safe; it lives
    // as long as the module.
    &raw mut bindings::__this_module
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
