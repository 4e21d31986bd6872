// SPDX-License-Identifier: GPL-2.0

//! The Rust half of kdbusfs.
//!
//! `kdbusfs.c` does the VFS plumbing the bindings cannot reach (the file
//! system type, `fs_context`, the superblock); it creates and destroys
//! domains through `kdbus_domain_*` and gets the root inode from
//! `kdbusfs_iget_root`. Inodes, lookup, readdir and dentry revalidation are
//! here; regular files get [`crate::handle::HANDLE_FOPS`].
//!
//! Reference counting across the boundary: a `struct kdbus_node *` held by
//! C or by an inode is an `Arc<Node>` turned into a raw pointer
//! ([`Arc::into_raw`]); `sb->s_fs_info` owns the root's count until
//! `kdbus_domain_destroy`, `inode->i_private` one count until eviction.

use kernel::{
    bindings,
    ffi::{c_int, c_uint},
    prelude::*,
    sync::{Arc, ArcBorrow},
};

use crate::{
    domain::Domain,
    kext::{SuperBlock, UserNs},
    node::Node,
};

// Pointers to C structs only; bindgen marks some of them not FFI-safe
// because of trailing arrays, which never cross by value.
#[allow(improper_ctypes)]
extern "C" {
    /// Creates `/sys/fs/kdbus` and registers the `kdbusfs` type.
    pub(crate) fn kdbusfs_init() -> c_int;
    /// Unregisters the `kdbusfs` type and removes `/sys/fs/kdbus`.
    pub(crate) fn kdbusfs_exit();
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
    let Some(ns) = (unsafe { UserNs::get(user_ns) }) else {
        return EINVAL.to_errno();
    };
    // SAFETY: `sb` is the superblock being filled (caller); the domain
    // forgets it in `Domain::destroy`, called from `kill_sb` before the VFS
    // frees it.
    let Some(sb) = (unsafe { SuperBlock::from_raw(sb) }) else {
        return EINVAL.to_errno();
    };
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

// ----------------------------------------------------------------------
// Inodes, lookup, readdir: the VFS calls these through the tables below,
// which `kdbusfs_iget` installs.

/// Wrapper that makes a C operations table usable in a `static`.
#[repr(transparent)]
struct Ops<T>(T);

// SAFETY: The tables are immutable and only read by the VFS.
unsafe impl<T> Sync for Ops<T> {}

static DIR_IOPS: Ops<bindings::inode_operations> = Ops(bindings::inode_operations {
    lookup: Some(kdbusfs_lookup),
    setattr: Some(kdbusfs_setattr),
    ..pin_init::zeroed()
});

static FILE_IOPS: Ops<bindings::inode_operations> = Ops(bindings::inode_operations {
    setattr: Some(kdbusfs_setattr),
    ..pin_init::zeroed()
});

static DIR_FOPS: Ops<bindings::file_operations> = Ops(bindings::file_operations {
    read: Some(bindings::generic_read_dir),
    iterate_shared: Some(kdbusfs_readdir),
    llseek: Some(bindings::generic_file_llseek),
    ..pin_init::zeroed()
});

/// `S_DT_MASK` and the `DT_*` types of `readdir`.
const S_DT_MASK: u32 = bindings::S_IFMT >> 12;
const DT_DIR: u32 = 4;
const DT_REG: u32 = 8;

fn is_dir(mode: bindings::umode_t) -> bool {
    u32::from(mode) & bindings::S_IFMT == bindings::S_IFDIR
}

/// The inode of `node` in `sb`: the cached one, or a new one holding a
/// count on the node in `i_private` (given back at eviction). Inode
/// numbers are node IDs.
///
/// # Safety
///
/// `sb` is a live kdbusfs superblock.
unsafe fn iget(sb: *mut bindings::super_block, node: &Arc<Node>) -> Result<*mut bindings::inode> {
    // SAFETY: `sb` is live (caller).
    let inode = unsafe { bindings::iget_locked(sb, node.id().into()) };
    if inode.is_null() {
        return Err(ENOMEM);
    }
    // SAFETY: `iget_locked` returned a referenced inode; `i_state` is read
    // as `inode_state_read_once()` does.
    let state = unsafe { core::ptr::read_volatile(&raw const (*inode).i_state.__state) };
    if state & bindings::inode_state_flags_enum_I_NEW == 0 {
        return Ok(inode);
    }
    let mode = node.mode();
    // SAFETY: `I_NEW` is set: we initialise the inode alone, then unlock it.
    unsafe {
        (*inode).i_private = Arc::into_raw(node.clone()).cast_mut().cast();
        (*inode).i_mode = mode;
        (*inode).i_uid = node.uid().into_raw();
        (*inode).i_gid = node.gid().into_raw();
        bindings::simple_inode_init_ts(inode);
        if is_dir(mode) {
            (*inode).i_op = &DIR_IOPS.0;
            (*inode).__bindgen_anon_3.i_fop = &DIR_FOPS.0;
            bindings::set_nlink(inode, 2);
        } else {
            (*inode).i_op = &FILE_IOPS.0;
            (*inode).__bindgen_anon_3.i_fop = &crate::handle::HANDLE_FOPS.0;
        }
        bindings::unlock_new_inode(inode);
    }
    Ok(inode)
}

/// The node of a kdbusfs inode.
///
/// # Safety
///
/// `inode` is a live kdbusfs inode; the result lives no longer than it.
unsafe fn inode_node<'a>(inode: *const bindings::inode) -> ArcBorrow<'a, Node> {
    // SAFETY: `iget` stored a counted node pointer in `i_private`, held
    // until eviction.
    unsafe { borrow((*inode).i_private.cast()) }
}

/// The root inode of a new superblock (`kdbusfs_fill_super`).
///
/// # Safety
///
/// `sb` is the superblock being filled, `root` the node
/// `kdbus_domain_new` gave it.
#[no_mangle]
unsafe extern "C" fn kdbusfs_iget_root(
    sb: *mut bindings::super_block,
    root: *const Node,
) -> *mut bindings::inode {
    // SAFETY: `s_fs_info` holds a count on `root` (caller).
    let root: Arc<Node> = unsafe { borrow(root) }.into();
    // SAFETY: `sb` is live (caller).
    match unsafe { iget(sb, &root) } {
        Ok(inode) => inode,
        Err(e) => e.to_ptr(),
    }
}

/// `evict_inode`: gives back the inode's count on its node.
///
/// # Safety
///
/// Called by the VFS with a kdbusfs inode being evicted.
#[no_mangle]
unsafe extern "C" fn kdbusfs_evict_inode(inode: *mut bindings::inode) {
    // SAFETY: The inode is being evicted; nothing uses it any more.
    unsafe {
        bindings::clear_inode(inode);
        drop(Arc::from_raw((*inode).i_private.cast::<Node>()));
    }
}

/// `d_revalidate`: cached dentries of nodes that became inactive go.
///
/// Not in RCU-walk mode (`-ECHILD`, the VFS retries in ref-walk): there the
/// dentry's inode may be on its way out, and `evict_inode` drops the node
/// behind `i_private` without waiting for a grace period.
///
/// # Safety
///
/// Called by the VFS with a live dentry; outside RCU-walk mode the dentry
/// holds its inode.
#[no_mangle]
unsafe extern "C" fn kdbusfs_d_revalidate(
    _dir: *mut bindings::inode,
    _name: *const bindings::qstr,
    dentry: *mut bindings::dentry,
    flags: c_uint,
) -> c_int {
    if flags & crate::kext::LOOKUP_RCU != 0 {
        return ECHILD.to_errno();
    }
    // SAFETY: In ref-walk mode the caller holds a reference on `dentry`, so
    // its inode (if any) stays, and so does the node the inode counts.
    let inode = unsafe { (*dentry).d_inode };
    if inode.is_null() {
        return 0;
    }
    // SAFETY: As above.
    c_int::from(unsafe { inode_node(inode) }.is_active())
}

/// `lookup`: the active child `dentry` names, or a negative dentry (never
/// cached: `always_delete_dentry`).
///
/// # Safety
///
/// Called by the VFS with a kdbusfs directory inode and a new dentry.
unsafe extern "C" fn kdbusfs_lookup(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    _flags: c_uint,
) -> *mut bindings::dentry {
    // SAFETY: The VFS holds the directory and the dentry for the call.
    let (node, name) = unsafe {
        let name = &(*dentry).__bindgen_anon_1.d_name;
        let len = name.__bindgen_anon_1.__bindgen_anon_1.len as usize;
        (inode_node(dir), core::slice::from_raw_parts(name.name, len))
    };
    let dir_node: Arc<Node> = node.into();
    let found = dir_node
        .acquire_active()
        .and_then(|active| active.node().find_active_child(name));
    let inode = match found {
        // SAFETY: `dir` belongs to a live kdbusfs superblock.
        Some(child) => match unsafe { iget((*dir).i_sb, &child) } {
            Ok(inode) => inode,
            Err(e) => return e.to_ptr(),
        },
        None => core::ptr::null_mut(),
    };
    // SAFETY: `d_splice_alias` takes over our inode reference (or NULL).
    unsafe { bindings::d_splice_alias(inode, dentry) }
}

/// `setattr`: refused, so nothing can silently revert
/// (`fs-bus-endpoint.md` §12 D2).
///
/// # Safety
///
/// Called by the VFS; the arguments are not used.
unsafe extern "C" fn kdbusfs_setattr(
    _idmap: *mut bindings::mnt_idmap,
    _dentry: *mut bindings::dentry,
    _iattr: *mut bindings::iattr,
) -> c_int {
    EPERM.to_errno()
}

/// Calls the `readdir` actor for one entry, as `dir_emit()` does.
///
/// # Safety
///
/// `ctx` is the live directory context of this `iterate_shared` call.
unsafe fn dir_emit(ctx: *mut bindings::dir_context, name: &[u8], ino: u64, ty: u32) -> bool {
    // SAFETY: `ctx` is live (caller); the actor is the VFS's.
    unsafe {
        let Some(actor) = (*ctx).actor else {
            return false;
        };
        let mask = S_DT_MASK | (*ctx).dt_flags_mask;
        let len = c_int::try_from(name.len()).unwrap_or(c_int::MAX);
        actor(ctx, name.as_ptr().cast(), len, (*ctx).pos, ino, ty & mask)
    }
}

/// `iterate_shared`: ".", "..", then the active children by increasing
/// node ID; the position after a child is its ID + 2, so a saved position
/// resumes without repeating or skipping (`fs-bus-endpoint.md` §12 D3).
///
/// # Safety
///
/// Called by the VFS with an open kdbusfs directory and its context.
unsafe extern "C" fn kdbusfs_readdir(
    file: *mut bindings::file,
    ctx: *mut bindings::dir_context,
) -> c_int {
    // SAFETY: The file and its dentry and inode are live for the call;
    // `ctx` belongs to this call.
    unsafe {
        let dentry = (*file).__bindgen_anon_1.f_path.dentry;
        let dir = (*file).f_inode;
        if (*ctx).pos == 0 {
            if !dir_emit(ctx, b".", (*dir).i_ino, DT_DIR) {
                return 0;
            }
            (*ctx).pos = 1;
        }
        if (*ctx).pos == 1 {
            if !dir_emit(ctx, b"..", bindings::d_parent_ino(dentry) as u64, DT_DIR) {
                return 0;
            }
            (*ctx).pos = 2;
        }
        let node = inode_node(dir);
        loop {
            let after = u32::try_from(((*ctx).pos - 2).max(0)).unwrap_or(u32::MAX);
            let Some(child) = node.next_active_child(after) else {
                return 0;
            };
            let ty = if is_dir(child.mode()) { DT_DIR } else { DT_REG };
            if !dir_emit(ctx, child.name(), child.id().into(), ty) {
                return 0;
            }
            (*ctx).pos = bindings::loff_t::from(child.id()) + 2;
        }
    }
}
