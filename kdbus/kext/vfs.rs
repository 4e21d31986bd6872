// SPDX-License-Identifier: GPL-2.0

//! Files and path walk: what kind of file a descriptor is, and the
//! `LOOKUP_RCU` flag.

use kernel::{bindings, fs::File, prelude::*, sync::aref::ARef};

use super::{kdbus_file_is_io_uring, kdbus_file_is_unix_socket};

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

/// The file type of a directory in `i_mode` (node modes include it).
pub(crate) const S_IFDIR: u16 = bindings::S_IFDIR as u16;
/// The file type of a regular file in `i_mode`.
pub(crate) const S_IFREG: u16 = bindings::S_IFREG as u16;

/// `LOOKUP_RCU` of `<linux/namei.h>` (a `BIT()` macro bindgen does not
/// translate; `helpers.c` asserts the value).
pub(crate) const LOOKUP_RCU: u32 = 1 << 8;

/// The file of descriptor `fd` of the current task, counted (`fget`:
/// `O_PATH` files are not returned); `EBADF` if there is none.
pub(crate) fn fget(fd: u32) -> Result<ARef<File>> {
    // SAFETY: `fget` looks the descriptor up in the caller's table and
    // returns a counted file or NULL, whose count `counted` takes over.
    unsafe { counted(bindings::fget(fd)) }
}

/// As [`fget`], `O_PATH` files included (`fget_raw`).
pub(crate) fn fget_raw(fd: u32) -> Result<ARef<File>> {
    // SAFETY: As in `fget`.
    unsafe { counted(bindings::fget_raw(fd)) }
}

/// Takes over the count of a file from `fget` or `fget_raw`; `EBADF` for
/// NULL.
///
/// # Safety
///
/// `ptr` is NULL or a file with a count the caller gives up.
unsafe fn counted(ptr: *mut bindings::file) -> Result<ARef<File>> {
    let ptr = core::ptr::NonNull::new(ptr).ok_or(EBADF)?;
    // SAFETY: `ptr` carries a count the `ARef` owns from now on (caller);
    // `File` wraps `struct file` transparently, and a counted file is not
    // subject to `fdget_pos` of this task.
    Ok(unsafe { ARef::from_raw(ptr.cast()) })
}

/// A superblock the owner of this value keeps using until it knows the
/// superblock is going (a file system's own reference from `fill_super`
/// to `kill_sb`).
///
/// # Invariants
///
/// `sb` is a live superblock for as long as this value exists.
pub(crate) struct SuperBlock {
    sb: core::ptr::NonNull<bindings::super_block>,
}

// SAFETY: The dentry and inode functions used here may be called from any
// task.
unsafe impl Send for SuperBlock {}

impl SuperBlock {
    /// Wraps `sb`; `None` if it is null.
    ///
    /// # Safety
    ///
    /// `sb` stays a live superblock until the returned value is dropped.
    pub(crate) unsafe fn from_raw(sb: *mut bindings::super_block) -> Option<Self> {
        // INVARIANT: the caller keeps `sb` live while we exist.
        core::ptr::NonNull::new(sb).map(|sb| Self { sb })
    }

    /// Drops the cached dentries of inode `ino`, if it is in the cache.
    pub(crate) fn invalidate_inode(&self, ino: u64) {
        // SAFETY: `sb` is live by the type invariant. `ilookup` returns a
        // counted inode or NULL, `d_find_alias` a counted dentry or NULL;
        // both counts are dropped here.
        unsafe {
            let inode = bindings::ilookup(self.sb.as_ptr(), ino);
            if inode.is_null() {
                return;
            }
            let dentry = bindings::d_find_alias(inode);
            if !dentry.is_null() {
                bindings::d_invalidate(dentry);
                bindings::dput(dentry);
            }
            bindings::iput(inode);
        }
    }
}

/// `O_CLOEXEC`, for descriptors installed in a receiver's table.
pub(crate) const O_CLOEXEC: u32 = bindings::O_CLOEXEC;
