// SPDX-License-Identifier: GPL-2.0

//! The Rust half of kdbusfs.
//!
//! `kdbusfs.c` does the VFS plumbing the bindings cannot reach; it asks this
//! file about nodes (`kdbus_node_*`), creates and destroys domains
//! (`kdbus_domain_*`), and installs [`kdbus_handle_fops`] on every regular
//! file. Each function here is a thin, `unsafe extern "C"` entry point that
//! borrows its arguments and calls one safe method.
//!
//! Reference counting across the boundary: a `struct kdbus_node *` held by
//! C is an `Arc<Node>` turned into a raw pointer ([`Arc::into_raw`]); C owns
//! one count per pointer it stores (`inode->i_private`, `sb->s_fs_info`,
//! results of lookup and next) and gives it back with `kdbus_node_put`.

use kernel::{
    bindings,
    ffi::{c_char, c_int},
    sync::{Arc, ArcBorrow},
};

use crate::{domain::Domain, kext::UserNs, node::Node};

// Pointers to C structs only; bindgen marks some of them not FFI-safe
// because of trailing arrays, which never cross by value.
#[allow(improper_ctypes)]
extern "C" {
    /// Creates `/sys/fs/kdbus` and registers the `kdbusfs` type.
    pub(crate) fn kdbusfs_init() -> c_int;
    /// Unregisters the `kdbusfs` type and removes `/sys/fs/kdbus`.
    pub(crate) fn kdbusfs_exit();
}

/// `struct kdbus_node_attr` of `kdbusfs.h`.
#[repr(C)]
pub(crate) struct NodeAttr {
    name: *const c_char,
    name_len: usize,
    id: u32,
    mode: bindings::umode_t,
    uid: bindings::kuid_t,
    gid: bindings::kgid_t,
}

fn fill_attr(node: &Node, attr: &mut NodeAttr) {
    attr.name = node.name().as_ptr().cast();
    attr.name_len = node.name().len();
    attr.id = node.id();
    attr.mode = node.mode();
    attr.uid = node.uid();
    attr.gid = node.gid();
}

/// Borrows a node pointer held by C.
///
/// # Safety
///
/// `node` must come from [`Arc::into_raw`] on an `Arc<Node>` whose count C
/// still holds for the duration of `'a`.
unsafe fn borrow<'a>(node: *const Node) -> ArcBorrow<'a, Node> {
    // SAFETY: As the caller promises.
    unsafe { ArcBorrow::from_raw(node) }
}

/// Creates the domain of a new superblock; `*root` gets its root node.
///
/// # Safety
///
/// `sb` is the superblock being filled, `user_ns` a valid user namespace for
/// the duration of the call, `root` valid for a write.
#[no_mangle]
unsafe extern "C" fn kdbus_domain_new(
    sb: *mut bindings::super_block,
    user_ns: *mut bindings::user_namespace,
    root: *mut *const Node,
) -> c_int {
    // SAFETY: `user_ns` is valid for this call; `get` takes its own count.
    let ns = unsafe { UserNs::get(user_ns) };
    match Domain::create(sb, ns) {
        Ok(node) => {
            // SAFETY: `root` is valid for a write (caller).
            unsafe { *root = Arc::into_raw(node) };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// Tears down a domain when its superblock is killed; consumes `root`.
///
/// # Safety
///
/// `root` is the pointer `kdbus_domain_new` returned, given back once.
#[no_mangle]
unsafe extern "C" fn kdbus_domain_destroy(root: *const Node) {
    // SAFETY: We take back the count `kdbus_domain_new` gave to C.
    let root = unsafe { Arc::from_raw(root) };
    Domain::destroy(&root);
}

/// Takes one more count on a node C holds.
///
/// # Safety
///
/// `node` is a node pointer C holds a count on.
#[no_mangle]
unsafe extern "C" fn kdbus_node_get(node: *const Node) {
    // SAFETY: C holds a count for the duration of the call.
    let node: Arc<Node> = unsafe { borrow(node) }.into();
    let _ = Arc::into_raw(node);
}

/// Gives back one count on a node.
///
/// # Safety
///
/// `node` is a node pointer C holds a count on; C gives that count up.
#[no_mangle]
unsafe extern "C" fn kdbus_node_put(node: *const Node) {
    if !node.is_null() {
        // SAFETY: We take back the count C gives up.
        drop(unsafe { Arc::from_raw(node) });
    }
}

/// # Safety
///
/// `node` is a node pointer C holds a count on; `attr` is valid for writes.
#[no_mangle]
unsafe extern "C" fn kdbus_node_attr(node: *const Node, attr: *mut NodeAttr) {
    // SAFETY: C holds a count; `attr` is valid for writes (caller).
    unsafe { fill_attr(&borrow(node), &mut *attr) };
}

/// # Safety
///
/// `node` is a node pointer C holds a count on.
#[no_mangle]
unsafe extern "C" fn kdbus_node_is_active(node: *const Node) -> bool {
    // SAFETY: C holds a count.
    unsafe { borrow(node) }.is_active()
}

/// The active child `name` of `dir`, with a count for the caller, or NULL.
///
/// # Safety
///
/// `dir` is a node pointer C holds a count on; `name` is valid for `len`
/// bytes.
#[no_mangle]
unsafe extern "C" fn kdbus_node_lookup(
    dir: *const Node,
    name: *const c_char,
    len: usize,
) -> *const Node {
    // SAFETY: `name` is valid for `len` bytes (caller).
    let name = unsafe { core::slice::from_raw_parts(name.cast::<u8>(), len) };
    // SAFETY: C holds a count on `dir`.
    let dir: Arc<Node> = unsafe { borrow(dir) }.into();
    let Some(active) = dir.acquire_active() else {
        return core::ptr::null();
    };
    let found = active.node().find_active_child(name);
    drop(active);
    found.map_or(core::ptr::null(), Arc::into_raw)
}

/// The active child of `dir` after position `after` (a node ID), with a
/// count for the caller and its attributes, or NULL at the end.
///
/// # Safety
///
/// `dir` is a node pointer C holds a count on; `attr` is valid for writes.
#[no_mangle]
unsafe extern "C" fn kdbus_node_next(
    dir: *const Node,
    after: bindings::loff_t,
    attr: *mut NodeAttr,
) -> *const Node {
    let after = u32::try_from(after.max(0)).unwrap_or(u32::MAX);
    // SAFETY: C holds a count on `dir`.
    let dir = unsafe { borrow(dir) };
    match dir.next_active_child(after) {
        Some(child) => {
            // SAFETY: `attr` is valid for writes (caller).
            unsafe { fill_attr(&child, &mut *attr) };
            Arc::into_raw(child)
        }
        None => core::ptr::null(),
    }
}
