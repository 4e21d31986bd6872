// SPDX-License-Identifier: GPL-2.0

//! kdbus: D-Bus, in the kernel.
//!
//! The module registers the `kdbusfs` filesystem (conventionally mounted at
//! `/sys/fs/kdbus`); each mount is a domain holding buses, each bus a
//! directory with endpoints that connections open to exchange messages,
//! copied once from the sender into the receiver's pool.
//!
//! One file per concept, as the specification's chapters: `fs` (inodes,
//! lookup, readdir; the superblock glue is in `kdbusfs.c`), `node`,
//! `domain`, `bus`, `endpoint`, `handle` (open files and the file
//! operations), `connection`, `pool`, `item` (the generic argument parser),
//! `message`, `queue`, `reply` (method-call trackers), `notify` (kernel
//! notifications), `names`, `matches`, `policy`, `metadata`, `wire` (the ABI's structs
//! as the module reads and writes them) and `kext/` (the kernel interface layer: safe wrappers
//! for kernel APIs the `kernel` crate lacks, by subsystem). The object lifetime
//! diagram and the lock order are in `Documentation/kdbus/lifetimes.rst`.

use kernel::prelude::*;

mod bus;
mod connection;
mod domain;
mod endpoint;
mod fs;
mod handle;
mod item;
mod kext;
mod matches;
mod message;
mod metadata;
mod names;
mod node;
mod notify;
mod policy;
mod pool;
mod queue;
mod reply;
mod wire;

/// The ABI, shared with userspace Rust: the very file the `kdbus-uapi`
/// crate is made of, so the module and Rust userspace cannot disagree on a
/// layout or a number (the crate's tests check it against the spec).
#[allow(dead_code, unreachable_pub, clippy::all)]
#[path = "../tools/kdbus-uapi/src/abi.rs"]
mod uapi;

module! {
    type: Kdbus,
    name: "kdbus",
    authors: ["kdbus-rs developers"],
    description: "D-Bus, powerful, easy to use interprocess communication",
    license: "GPL",
    alias: ["fs-kdbusfs"],
}

kext::module_param_rw_u64!(
    ATTACH_FLAGS_MASK,
    "kdbus",
    "attach_flags_mask",
    uapi::KDBUS_ATTACH_FLAGS_MASK_DEFAULT,
    "Attach flags mask for all metadata exports (default: 0x281f)"
);

/// A copy of `bytes` in a new vector (names, descriptions, labels).
pub(crate) fn copy_bytes(bytes: &[u8]) -> Result<KVec<u8>> {
    let mut v = KVec::with_capacity(bytes.len(), GFP_KERNEL)?;
    v.extend_from_slice(bytes, GFP_KERNEL)?;
    Ok(v)
}

/// The metadata attach mask every export is AND-ed with, read fresh each time
/// (root may change it at runtime through sysfs).
pub(crate) fn attach_flags_mask() -> u64 {
    ATTACH_FLAGS_MASK.get()
}

/// The loaded module. Its existence means the filesystem type is registered.
struct Kdbus;

impl kernel::Module for Kdbus {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: Called once, from module init, before any node exists.
        unsafe { node::init_ids() };
        // SAFETY: Called once, from module init, before anything else of this
        // module can run.
        kernel::error::to_result(unsafe { fs::kdbusfs_init() })?;
        pr_info!("initialized\n");
        Ok(Kdbus)
    }
}

impl Drop for Kdbus {
    fn drop(&mut self) {
        // SAFETY: `kdbusfs_init` succeeded (we exist), and the module is being
        // unloaded: every superblock and every open file pins the module, so
        // none exists any more.
        unsafe { fs::kdbusfs_exit() };
        node::exit_ids();
    }
}
