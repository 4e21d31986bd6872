// SPDX-License-Identifier: GPL-2.0

//! RECV (`message.md` §6): taking a message off the queue, writing what
//! only the receiver may see (metadata, descriptor numbers) and installing
//! its files; and FREE, which gives a received slice back, also as a part
//! of RECV with the `KDBUS_RECV_FREE` extension.

use core::mem::offset_of;

use kernel::{
    alloc::KVec,
    fs::{file::FileDescriptorReservation, File},
    prelude::*,
    sync::aref::ARef,
};

use crate::{
    item::{Args, CmdSpec},
    kext::LeanVec,
    queue::Entry,
    uapi::*,
    wire,
};

use super::Connection;

static FREE_SPEC: CmdSpec<KdbusCmdFree> = CmdSpec::at_end(0, &[]);

static RECV_SPEC: CmdSpec<KdbusCmdRecv> = CmdSpec::at_end(
    KDBUS_RECV_PEEK | KDBUS_RECV_DROP | KDBUS_RECV_USE_PRIORITY | KDBUS_RECV_FREE,
    &[],
);

/// Reserves a descriptor for one file of a message being received (when
/// `install`), recording the reservation (or `None` on failure, which sets
/// `incomplete`) in `out`; returns the number to show, -1 if none.
pub(super) fn reserve_fd(
    install: bool,
    out: &mut KVec<Option<FileDescriptorReservation>>,
    incomplete: &mut bool,
) -> Result<i32> {
    if !install {
        return Ok(-1);
    }
    match FileDescriptorReservation::get_unused_fd_flags(crate::kext::O_CLOEXEC) {
        Ok(r) => {
            let fd = i32::try_from(r.reserved_fd()).unwrap_or(-1);
            out.push(Some(r), GFP_KERNEL)?;
            Ok(fd)
        }
        Err(_) => {
            *incomplete = true;
            out.push(None, GFP_KERNEL)?;
            Ok(-1)
        }
    }
}

/// Descriptor numbers reserved for a received message, installed once it
/// is certain to be delivered.
pub(super) struct Installer {
    pub(super) fds: LeanVec<Option<FileDescriptorReservation>>,
    pub(super) memfds: LeanVec<Option<FileDescriptorReservation>>,
    /// A descriptor could not be reserved (`INCOMPLETE_FDS`).
    pub(super) incomplete: bool,
}

impl Installer {
    pub(super) fn install(self, files: LeanVec<ARef<File>>, memfds: LeanVec<(ARef<File>, usize)>) {
        if !files.is_empty() {
            for (r, f) in self.fds.into_inner().into_iter().zip(files.into_inner()) {
                if let Some(r) = r {
                    r.fd_install(f);
                }
            }
        }
        if !memfds.is_empty() {
            for (r, (f, _)) in self
                .memfds
                .into_inner()
                .into_iter()
                .zip(memfds.into_inner())
            {
                if let Some(r) = r {
                    r.fd_install(f);
                }
            }
        }
    }
}

impl Connection {
    /// RECV (`message.md` §6).
    pub(super) fn recv(&self, arg: usize) -> Result {
        Args::run(arg, &RECV_SPEC, |args| self.recv_args(args))
    }

    fn recv_args(&self, args: &mut Args<KdbusCmdRecv>) -> Result {
        let flags = args.flags();
        if flags & KDBUS_RECV_DROP != 0 && flags & KDBUS_RECV_USE_PRIORITY != 0 {
            return Err(EINVAL);
        }
        // The extension (`Documentation/kdbus/deviations.rst`): the slice of
        // the previous message is given back first, as FREE would, which
        // spares a receiver one ioctl per message; if that fails, nothing
        // else happens. Old userspace never sets the flag, so `msg` stays a
        // pure output for it.
        if flags & KDBUS_RECV_FREE != 0 {
            self.pool.free(args.cmd().msg.offset)?;
        }
        let threshold = (flags & KDBUS_RECV_USE_PRIORITY != 0).then(|| args.cmd().priority);
        let mut msg = KdbusMsgInfo {
            offset: self.pool.size() as u64,
            ..KdbusMsgInfo::default()
        };
        let mut incomplete = false;
        // Our lock covers only the queue and what the receiver must see
        // before the entry leaves it; a sender's `push_entry` waits for it,
        // so the pool's work on a taken entry runs after it.
        let mut taken = None;
        let mut received = None;
        let mut inner = self.inner.lock();
        let result = match inner.queue.select(threshold) {
            None => Err(EAGAIN),
            Some(idx) if flags & KDBUS_RECV_DROP != 0 => {
                taken = inner.queue.remove(idx);
                Ok(())
            }
            Some(idx) => {
                let Some(e) = inner.queue.get(idx) else {
                    return Err(EAGAIN);
                };
                // Descriptors: installed (O_CLOEXEC) by a RECV that is not a
                // PEEK, for a receiver with ACCEPT_FD; -1 otherwise.
                let install =
                    flags & KDBUS_RECV_PEEK == 0 && self.hello_flags & KDBUS_HELLO_ACCEPT_FD != 0;
                let installer = self.export(e, install, install)?;
                incomplete = installer.incomplete;
                msg.offset = e.off as u64;
                msg.msg_size = e.size as u64;
                if flags & KDBUS_RECV_PEEK != 0 {
                    // Under our lock: the entry is still queued, so no other
                    // RECV can have handed its slice over.
                    self.pool.publish(e.off);
                } else {
                    received = inner.queue.remove(idx).map(|e| (e, installer));
                }
                Ok(())
            }
        };
        let dropped = core::mem::replace(&mut inner.dropped, 0);
        drop(inner);
        // Off the queue, the entry is ours: its slice is handed over (or,
        // dropped, given back) and its files installed without our lock.
        if let Some((e, installer)) = received {
            self.pool.deliver(e.held());
            installer.install(e.files, e.memfds);
            // The call's tracker stays open at the caller; our reference
            // goes now that we hold no lock (it may be the last one keeping
            // a closed caller alive).
            drop(e.reply);
        }
        if let Some(e) = taken {
            self.pool.unreserve(e.held());
            // A dropped method call will not be answered (§6.1).
            if let Some(r) = e.reply {
                self.abandon(&r);
                self.bus.flush_notifications();
            }
        }
        if incomplete {
            msg.return_flags = KDBUS_RECV_RETURN_INCOMPLETE_FDS;
        }
        let out = args.out();
        out.dropped_msgs = dropped;
        out.msg = msg;
        args.answer(|c| &c.msg)?;
        if dropped != 0 {
            args.set_return_flags(KDBUS_RECV_RETURN_DROPPED_MSGS)?;
        }
        result
    }

    /// FREE (`connection-pool.md` §9): gives a slice back to the pool.
    pub(super) fn free(&self, arg: usize) -> Result {
        Args::run(arg, &FREE_SPEC, |args| self.pool.free(args.cmd().offset))
    }

    /// Writes what a received entry shows only to its receiver, in the
    /// receiver's context (`message.md` §5.4, §5.6): the metadata, the
    /// final `kdbus_msg.size`, and descriptor numbers, reserved when
    /// `install_fds` (FDS) and `install_memfds` (PAYLOAD_MEMFD) hold, -1
    /// otherwise.
    pub(super) fn export(
        &self,
        e: &Entry,
        install_fds: bool,
        install_memfds: bool,
    ) -> Result<Installer> {
        // Without metadata, the `size` written at SEND is already final.
        // Items dropped for this reader (`names-match-policy-metadata.md`
        // §4.4) shorten the block; it never outgrows its reservation.
        let mut pool = self.pool.pages();
        if !e.meta.is_empty() {
            let mut meta = KVec::new();
            e.meta.write(&mut meta)?;
            if meta.len() > e.meta.len()? {
                return Err(EFAULT);
            }
            pool.write(e.off + e.header_items, &meta)?;
            let size = (e.header_items + meta.len()) as u64;
            pool.write(e.off + offset_of!(KdbusMsg, size), wire::bytes(&size))?;
        }
        let mut out = Installer {
            fds: LeanVec::new(),
            memfds: LeanVec::new(),
            incomplete: false,
        };
        if let Some(fds_off) = e.fds_off {
            let mut nums = [-1i32; KDBUS_CONN_MAX_FDS_PER_USER];
            let nums = nums.get_mut(..e.files.len()).ok_or(EMFILE)?;
            for n in nums.iter_mut() {
                *n = reserve_fd(install_fds, &mut out.fds, &mut out.incomplete)?;
            }
            pool.write(e.off + fds_off, wire::bytes(nums))?;
        }
        // One `fd` field per PAYLOAD_MEMFD item.
        for (_, fd_off) in e.memfds.iter() {
            let fd = reserve_fd(install_memfds, &mut out.memfds, &mut out.incomplete)?;
            pool.write(e.off + fd_off, wire::bytes(&fd))?;
        }
        Ok(out)
    }
}
