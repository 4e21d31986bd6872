// SPDX-License-Identifier: GPL-2.0

//! Handles: the state of one open kdbusfs file, and the file operations.
//!
//! A handle starts *untyped* and becomes, once and for good, the owner of a
//! bus (BUS_MAKE on `control`), the owner of a custom endpoint
//! (ENDPOINT_MAKE) or a connection (HELLO) (`fs-bus-endpoint.md` §5). The
//! file operations below are thin entry points: each borrows the handle from
//! `private_data`, calls one safe method and converts its error to an errno
//! in one place.
//!
//! The three make-commands run under the handle's `making` mutex and
//! publish what the handle became in `typed`, once. Every other command,
//! `mmap()` and `poll()` read `typed` without a lock; only a command on a
//! handle that is not typed yet takes `making`, so it waits for a
//! make-command in progress (the reference's shared lock). `mmap()` never
//! waits: it fails `EBADFD` on a handle that is not a connection yet,
//! including one whose HELLO is in progress (the reference's try-lock,
//! `fs-bus-endpoint.md` §12 D6).

use crate::kext::prelude::*;
use kernel::{
    bindings,
    ffi::{c_int, c_long, c_uint, c_ulong},
    fs::File,
    new_mutex,
    sync::{poll::PollTable, Arc, ArcBorrow, Mutex, SetOnce},
    types::ForeignOwnable,
};

use crate::{
    bus,
    connection::{self, Connection},
    endpoint,
    node::{Node, NodeObject},
    uapi::*,
};

/// What a handle has become (`fs-bus-endpoint.md` §5).
pub(crate) enum Typed {
    /// The bus node this handle created.
    BusOwner(Arc<Node>),
    /// The custom endpoint node this handle created.
    EpOwner(Arc<Node>),
    Connected(Arc<Connection>),
}

/// One open kdbusfs regular file (`control`, `bus` or a custom endpoint).
///
/// # Invariants
///
/// `node` is a control or endpoint node. `privileged` is decided at open and
/// never changes; it can only be true on a default endpoint. `typed` is
/// populated at most once, by a make-command holding `making`.
#[pin_data]
pub(crate) struct Handle {
    node: Arc<Node>,
    privileged: bool,
    /// Serialises the make-commands.
    #[pin]
    making: Mutex<()>,
    /// What the handle became; empty while untyped.
    typed: SetOnce<Typed>,
}

impl Handle {
    /// `open()`: an untyped handle on `node` (`fs-bus-endpoint.md` §5.1).
    fn open(node: ArcBorrow<'_, Node>, file: &File) -> Result<Arc<Handle>> {
        let node: Arc<Node> = node.into();
        let active = node.acquire_active().ok_or(ESHUTDOWN)?;
        let privileged = match node.endpoint() {
            Some(ep) if ep.is_default() => {
                // The creator's euid first: no spurious LSM/audit records.
                let same_uid = node
                    .bus()
                    .is_some_and(|b| file.cred().euid() == b.creator_euid());
                same_uid
                    || node
                        .domain()
                        .is_some_and(|d| crate::kext::file_may_own_ipc(file, d.user_ns()))
            }
            _ => false,
        };
        drop(active);
        Arc::pin_init(
            try_pin_init!(Handle {
                node,
                privileged,
                making <- new_mutex!(()),
                typed: SetOnce::new(),
            }),
            GFP_KERNEL,
        )
    }

    /// The last `close()` (`fs-bus-endpoint.md` §5.5).
    fn release(&self) {
        match self.typed.as_ref() {
            None => {}
            Some(Typed::BusOwner(bus)) => bus.deactivate(),
            Some(Typed::EpOwner(ep)) => ep.deactivate(),
            Some(Typed::Connected(conn)) => conn.release(),
        }
    }

    fn ioctl(&self, file: &File, cmd: u32, arg: usize) -> Result<c_long> {
        match cmd {
            KDBUS_CMD_BUS_MAKE | KDBUS_CMD_ENDPOINT_MAKE | KDBUS_CMD_HELLO => {
                self.make(file, cmd, arg)?;
                Ok(0)
            }
            KDBUS_CMD_ENDPOINT_UPDATE
            | KDBUS_CMD_UPDATE
            | KDBUS_CMD_BYEBYE
            | KDBUS_CMD_FREE
            | KDBUS_CMD_CONN_INFO
            | KDBUS_CMD_BUS_CREATOR_INFO
            | KDBUS_CMD_LIST
            | KDBUS_CMD_SEND
            | KDBUS_CMD_RECV
            | KDBUS_CMD_NAME_ACQUIRE
            | KDBUS_CMD_NAME_RELEASE
            | KDBUS_CMD_MATCH_ADD
            | KDBUS_CMD_MATCH_REMOVE => self.command(file, cmd, arg),
            _ => Err(ENOTTY),
        }
    }

    /// BUS_MAKE, ENDPOINT_MAKE, HELLO: exclusive on the handle.
    fn make(&self, file: &File, cmd: u32, arg: usize) -> Result {
        let _making = self.making.lock();
        if self.typed.as_ref().is_some() {
            return Err(EBADFD);
        }
        match self.node.object() {
            NodeObject::Control => {
                let control = self.node.acquire_active().ok_or(ESHUTDOWN)?;
                let root = self.node.parent().ok_or(ESHUTDOWN)?;
                let _domain = root.acquire_active().ok_or(ESHUTDOWN)?;
                if cmd != KDBUS_CMD_BUS_MAKE {
                    return Err(EBADFD);
                }
                if let Some(bus) = bus::make(control.node(), arg)? {
                    self.become_typed(Typed::BusOwner(bus));
                }
            }
            NodeObject::Endpoint(_) => {
                let ep = self.node.acquire_active().ok_or(ESHUTDOWN)?;
                match cmd {
                    KDBUS_CMD_ENDPOINT_MAKE => {
                        if !self.privileged {
                            return Err(EPERM);
                        }
                        if let Some(node) = endpoint::make(ep.node(), arg)? {
                            self.become_typed(Typed::EpOwner(node));
                        }
                    }
                    KDBUS_CMD_HELLO => {
                        if let Some(conn) = connection::hello(&ep, self.privileged, file, arg)? {
                            self.become_typed(Typed::Connected(conn));
                        }
                    }
                    _ => return Err(EBADFD),
                }
            }
            NodeObject::Domain(_) | NodeObject::Bus(_) => return Err(EBADFD),
        }
        Ok(())
    }

    /// Publishes what a make-command made of this handle (`making` held).
    fn become_typed(&self, typed: Typed) {
        // Cannot fail: `make` checked under `making` that `typed` is empty.
        let _ = self.typed.populate(typed);
    }

    /// What the handle became; waits for a make-command in progress.
    fn typed(&self) -> Option<&Typed> {
        self.typed.as_ref().or_else(|| {
            let _making = self.making.lock();
            self.typed.as_ref()
        })
    }

    /// Every other command: needs a typed handle.
    fn command(&self, file: &File, cmd: u32, arg: usize) -> Result<c_long> {
        match self.typed() {
            None | Some(Typed::BusOwner(_)) => Err(EBADFD),
            Some(Typed::EpOwner(ep)) => {
                let active = ep.acquire_active().ok_or(ESHUTDOWN)?;
                if cmd != KDBUS_CMD_ENDPOINT_UPDATE {
                    return Err(EBADFD);
                }
                endpoint::update(active.node(), arg)?;
                Ok(0)
            }
            Some(Typed::Connected(conn)) => {
                let active = conn.acquire_active().ok_or(ECONNRESET)?;
                if cmd == KDBUS_CMD_ENDPOINT_UPDATE {
                    return Err(EBADFD);
                }
                connection::command(conn, active, file, cmd, arg)?;
                Ok(0)
            }
        }
    }

    /// `mmap()`: never waits for a make-command (see the module comment).
    fn mmap(&self, vma: &kernel::mm::virt::VmaNew) -> Result {
        match self.typed.as_ref() {
            Some(Typed::Connected(conn)) => conn.mmap(vma),
            _ => Err(EBADFD),
        }
    }

    fn poll(&self, file: &File, table: &PollTable<'_>) -> u32 {
        match self.typed.as_ref() {
            Some(Typed::Connected(conn)) => conn.poll(file, table),
            _ => crate::kext::events::HANGUP,
        }
    }
}

/// Whether `file` is a kdbus handle (any kdbusfs regular file).
pub(crate) fn is_kdbus_file(file: &File) -> bool {
    // SAFETY: `f_op` of a live file is valid and never changes.
    let fops = unsafe { (*file.as_ptr()).f_op };
    core::ptr::eq(fops, &HANDLE_FOPS.0)
}

// ----------------------------------------------------------------------
// The file operations: thin entry points.

/// Wrapper that makes the C `file_operations` usable in a `static`.
#[repr(transparent)]
pub(crate) struct Fops(pub(crate) bindings::file_operations);

// SAFETY: The table is immutable and only read by the VFS.
unsafe impl Sync for Fops {}

/// The file operations of every kdbusfs regular file (`fs.rs` installs
/// them on `control` and endpoint inodes).
pub(crate) static HANDLE_FOPS: Fops = Fops(bindings::file_operations {
    owner: crate::kext::this_module(),
    open: Some(kdbus_open),
    release: Some(kdbus_release),
    unlocked_ioctl: Some(kdbus_ioctl),
    compat_ioctl: Some(kdbus_ioctl),
    mmap: Some(kdbus_mmap),
    poll: Some(kdbus_poll),
    llseek: Some(bindings::noop_llseek),
    ..pin_init::zeroed()
});

/// # Safety
///
/// Called by the VFS with a live kdbusfs inode and the new file.
unsafe extern "C" fn kdbus_open(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: `fs.rs` stores a counted node pointer in `i_private` of
    // every kdbusfs inode, valid while the inode lives.
    let node = unsafe { ArcBorrow::<Node>::from_raw((*inode).i_private.cast()) };
    // SAFETY: The VFS passes a valid file that lives for this call.
    let f = unsafe { File::from_raw_file(file) };
    match Handle::open(node, f) {
        Ok(handle) => {
            // SAFETY: We own `private_data` of kdbus files.
            unsafe { (*file).private_data = handle.into_foreign() };
            0
        }
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS once, after the last reference to `file` is gone.
unsafe extern "C" fn kdbus_release(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `private_data` was set by `kdbus_open`; this is the last use.
    let handle = unsafe { Arc::<Handle>::from_foreign((*file).private_data) };
    handle.release();
    0
}

/// # Safety
///
/// Called by the VFS with a file opened by `kdbus_open`.
unsafe extern "C" fn kdbus_ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
    // SAFETY: `private_data` holds our handle until release.
    let handle = unsafe { Arc::<Handle>::borrow((*file).private_data) };
    // SAFETY: The file lives for the duration of the call.
    let f = unsafe { File::from_raw_file(file) };
    match handle.ioctl(f, cmd, arg) {
        Ok(_) => 0,
        Err(e) => {
            // Rejected input is the caller's business: debug level only.
            pr_debug!("ioctl {:#x} failed: {:?}\n", cmd, e);
            e.to_errno() as c_long
        }
    }
}

/// # Safety
///
/// Called by the VFS with a file opened by `kdbus_open` and a new VMA.
unsafe extern "C" fn kdbus_mmap(
    file: *mut bindings::file,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: `private_data` holds our handle until release.
    let handle = unsafe { Arc::<Handle>::borrow((*file).private_data) };
    // SAFETY: The VFS passes a VMA that is being set up by this mmap call.
    let vma = unsafe { kernel::mm::virt::VmaNew::from_raw(vma) };
    match handle.mmap(vma) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS with a file opened by `kdbus_open`.
unsafe extern "C" fn kdbus_poll(
    file: *mut bindings::file,
    table: *mut bindings::poll_table_struct,
) -> bindings::__poll_t {
    // SAFETY: `private_data` holds our handle until release.
    let handle = unsafe { Arc::<Handle>::borrow((*file).private_data) };
    // SAFETY: The file lives for the duration of the call.
    let f = unsafe { File::from_raw_file(file) };
    // SAFETY: The VFS passes a poll table (possibly null) valid for this
    // call.
    let table = unsafe { PollTable::from_raw(table) };
    handle.poll(f, &table)
}
