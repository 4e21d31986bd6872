// SPDX-License-Identifier: GPL-2.0

//! Safe wrappers for kernel APIs that the `kernel` crate does not offer (yet):
//! the module's kernel interface layer, one child module per subsystem
//! (`cred`, `pid`, `task`, `vfs`, `mm`, `memfd`, `poll`, `workqueue`,
//! `module`), and `alloc`, a vector whose drop is free while empty.
//!
//! Object files call the safe functions and types here; besides this
//! folder, only the entry points of the file system and file operations
//! (`fs.rs`, `handle.rs`, the pool's VM operations) touch `bindings`. Each
//! wrapper states its invariants and is written so that it could be
//! proposed for `rust/kernel/` as it is. The inline kernel functions they
//! need are wrapped in C in `helpers.c`, declared once below.

use kernel::bindings;

mod alloc;
mod cred;
#[cfg(kdbus_kernel_7_2)]
mod errno;
mod memfd;
mod mm;
mod module;
mod pid;
mod poll;
mod task;
mod vfs;
mod workqueue;

pub(crate) use alloc::LeanVec;
pub(crate) use cred::*;
pub(crate) use memfd::*;
pub(crate) use mm::*;
pub(crate) use module::*;
pub(crate) use pid::*;
pub(crate) use poll::*;
pub(crate) use task::*;
pub(crate) use vfs::*;
pub(crate) use workqueue::*;

/// `kernel::prelude` plus the error codes that 7.2's prelude lacks
/// (`errno`, on 7.2 only): the object files use this prelude so that they
/// build unchanged on every supported kernel.
pub(crate) mod prelude {
    #[cfg(kdbus_kernel_7_2)]
    pub(crate) use super::errno::*;
    pub(crate) use kernel::prelude::*;
}

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
    fn kdbus_current_exe(
        buf: *mut u8,
        buflen: kernel::ffi::c_int,
        root: *mut bindings::path,
    ) -> kernel::ffi::c_long;
    fn kdbus_is_current_root(root: *const bindings::path) -> bool;
    fn kdbus_current_argv0(out: *mut *mut u8) -> kernel::ffi::c_int;
    fn kdbus_current_cgroup(buf: *mut u8, buflen: usize) -> kernel::ffi::c_int;
    fn kdbus_current_audit(sessionid: *mut u32, loginuid: *mut bindings::kuid_t) -> bool;
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

/// Fills `buf` with random bytes.
pub(crate) fn random_bytes(buf: &mut [u8]) {
    // SAFETY: `buf` is valid for writes of its length.
    unsafe { bindings::get_random_bytes(buf.as_mut_ptr().cast(), buf.len()) };
}
