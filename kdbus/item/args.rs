// SPDX-License-Identifier: GPL-2.0

//! The generic command protocol (`abi.md` §7): what a command accepts
//! ([`CmdSpec`]) and its argument, copied in, validated and answered
//! ([`Args`]).

use core::marker::PhantomData;

use kernel::{
    prelude::*,
    transmute::AsBytes,
    uaccess::{UserPtr, UserSlice},
};

use super::{validate_items, Item, ItemRule, Items, UserBytes};
use crate::uapi::*;
use crate::wire::{self, Command, ITEM_HEADER};

/// What the command whose struct is `T` accepts (`abi.md` §5.13, §6.3);
/// its items start at `size_of::<T>()`.
pub(crate) struct CmdSpec<T: Command> {
    /// Accepted flags besides `KDBUS_FLAG_NEGOTIATE`.
    flags: u64,
    /// `return_flags` and the answer are written once, at the end
    /// ([`Args::run`]): the message commands.
    at_end: bool,
    /// Accepted items besides NEGOTIATE (always accepted, at most once).
    items: &'static [ItemRule],
    _cmd: PhantomData<fn() -> T>,
}

impl<T: Command> CmdSpec<T> {
    /// A command taking `flags` and the items of `items`.
    pub(crate) const fn new(flags: u64, items: &'static [ItemRule]) -> Self {
        Self {
            flags,
            at_end: false,
            items,
            _cmd: PhantomData,
        }
    }

    /// A command run by [`Args::run`], which writes `return_flags` and the
    /// answer back in one copy at the end: SEND, RECV and FREE, which run
    /// once per message and create nothing that a faulting write would
    /// have to undo.
    pub(crate) const fn at_end(flags: u64, items: &'static [ItemRule]) -> Self {
        Self {
            flags,
            at_end: true,
            items,
            _cmd: PhantomData,
        }
    }

    /// The flags the command accepts besides `KDBUS_FLAG_NEGOTIATE`.
    pub(crate) const fn flags(&self) -> u64 {
        self.flags
    }

    /// The size of the command struct, where its items start.
    const SIZE: usize = size_of::<T>();
}

/// Offsets common to every command struct (see [`Command`]).
const OFF_FLAGS: usize = core::mem::offset_of!(KdbusCmd, flags);
const OFF_RETURN_FLAGS: usize = core::mem::offset_of!(KdbusCmd, return_flags);

/// The outcome of parsing that is not an error: go on, or stop because the
/// caller only negotiated.
pub(crate) enum Parsed<T: Command> {
    /// Execute the command with these arguments.
    Run(Args<T>),
    /// `KDBUS_FLAG_NEGOTIATE` was set: everything has been written back,
    /// nothing else may happen; the ioctl returns 0.
    Negotiated,
}

/// Bytes of a command kept inline: SEND (with a CANCEL_FD item), RECV and
/// FREE fit, so the message path copies its commands without allocating.
const ARGS_INLINE: usize = 128;

/// A command's argument of type `T`, copied into the kernel and validated.
///
/// The fixed part is read as a `T`; answers are set on that copy
/// ([`Args::out`]) and written back field by field ([`Args::write_back`]),
/// as the C wrote single members with `kdbus_member_set_user()`.
pub(crate) struct Args<T: Command> {
    buf: UserBytes<ARGS_INLINE>,
    cmd: T,
    /// `flags` of the command, as copied in.
    flags: u64,
    user: UserPtr,
    spec: &'static CmdSpec<T>,
    return_flags: u64,
    /// With [`CmdSpec::at_end`]: the end of the answer [`Args::answer`]
    /// set, written back with `return_flags` (0: no answer).
    answer_end: usize,
}

impl<T: Command> Args<T> {
    /// Parses the ioctl argument at `arg` per `spec` (`abi.md` §7.1, §7.2).
    pub(crate) fn parse(arg: usize, spec: &'static CmdSpec<T>) -> Result<Parsed<T>> {
        // 1. 8-aligned.
        if arg % 8 != 0 {
            return Err(EFAULT);
        }
        let user = UserPtr::from_addr(arg);
        let mut args = Args {
            buf: UserBytes::new(),
            cmd: T::default(),
            flags: 0,
            user,
            spec,
            return_flags: 0,
            answer_end: 0,
        };
        // 1-4. The fixed part in one copy, which holds the size (2, 3), then
        // the items after it, if any: one copy of `size` bytes in all, so
        // the size cannot change under us (5). `size` is at most 32 KiB.
        let size = args.buf.read_head(user, CmdSpec::<T>::SIZE, |size| {
            if size < CmdSpec::<T>::SIZE as u64 {
                Err(EINVAL)
            } else if size > KDBUS_CMD_MAX_SIZE {
                Err(EMSGSIZE)
            } else {
                Ok(())
            }
        })?;
        args.buf.read_rest(user, size)?;
        args.cmd = wire::read(&args.buf).ok_or(EINVAL)?;
        let head: KdbusCmd = wire::read(&args.buf).ok_or(EINVAL)?;
        args.flags = head.flags;
        // From here on, failures write `return_flags` (0) back too; a
        // command run to its end writes it then, the others at once
        // (`Documentation/kdbus/deviations.rst`).
        match args.validate() {
            Ok(true) => {
                if !spec.at_end {
                    args.finish(Ok(()))?;
                }
                Ok(Parsed::Run(args))
            }
            Ok(false) => Ok(Parsed::Negotiated),
            Err(e) => Err(args.finish(Err(e)).err().unwrap_or(e)),
        }
    }

    /// Steps 6-12; `Ok(false)` when only negotiating.
    fn validate(&self) -> Result<bool> {
        let flags = self.flags();
        let negotiate_flag = flags & KDBUS_FLAG_NEGOTIATE != 0;
        if flags & !(self.spec.flags | KDBUS_FLAG_NEGOTIATE) != 0 {
            return Err(EINVAL);
        }
        let negotiate = validate_items(&self.buf, CmdSpec::<T>::SIZE, self.spec.items)?;
        if negotiate_flag {
            self.write_user(OFF_FLAGS, &self.spec.flags)?;
        }
        if let Some(item) = negotiate {
            // Clear the types this command does not accept, in place.
            let types = item.offset + ITEM_HEADER;
            for (i, ty) in item.payload.chunks_exact(size_of::<u64>()).enumerate() {
                let ty = wire::read::<u64>(ty).unwrap_or(0);
                if ty != KDBUS_ITEM_NEGOTIATE && !self.spec.items.iter().any(|r| r.ty == ty) {
                    self.write_user(types + i * size_of::<u64>(), &0u64)?;
                }
            }
        }
        Ok(!negotiate_flag)
    }

    /// Parses the argument at `arg` per `spec` (a [`CmdSpec::at_end`]
    /// command) and runs `f` on it; then writes `return_flags` back, with
    /// the answer `f` set ([`Args::answer`]) in the same copy, whatever
    /// `f` returned (`abi.md` §7.3, §7.4). A fault there makes the command
    /// fail `EFAULT`.
    pub(crate) fn run(
        arg: usize,
        spec: &'static CmdSpec<T>,
        f: impl FnOnce(&mut Self) -> Result,
    ) -> Result {
        let mut args = match Self::parse(arg, spec)? {
            Parsed::Run(args) => args,
            Parsed::Negotiated => return Ok(()),
        };
        let res = f(&mut args);
        args.finish(res)
    }

    /// Writes the final `return_flags` back, even on failure, and for a
    /// [`CmdSpec::at_end`] command the answer with it; a fault there makes
    /// the command fail `EFAULT` (`abi.md` §7.3).
    fn finish(&mut self, res: Result) -> Result {
        let end = OFF_RETURN_FLAGS + size_of::<u64>();
        if self.answer_end <= end {
            let wb = self.write_user(OFF_RETURN_FLAGS, &self.return_flags);
            return res.and(wb);
        }
        // One copy from `return_flags` to the end of the answer: the input
        // fields between them (SEND's `msg_address`, RECV's `priority`)
        // go back as they were read.
        let flags = self.return_flags.to_ne_bytes();
        let bytes = self.cmd.as_bytes_mut();
        let wb = match bytes.get_mut(OFF_RETURN_FLAGS..self.answer_end) {
            Some(span) => {
                span[..flags.len()].copy_from_slice(&flags);
                UserSlice::new(self.user.wrapping_byte_add(OFF_RETURN_FLAGS), span.len())
                    .writer()
                    .write_slice(span)
            }
            None => Err(EFAULT),
        };
        res.and(wb)
    }

    /// Reports a non-zero `return_flags` at the end of the command.
    pub(crate) fn set_return_flags(&mut self, v: u64) -> Result {
        self.return_flags = v;
        if self.spec.at_end {
            return Ok(());
        }
        self.write_user(OFF_RETURN_FLAGS, &v)
    }

    /// Of a [`CmdSpec::at_end`] command: the fields of the fixed part up
    /// to the end of the one `last` selects are its answer, written back
    /// at the end with `return_flags`.
    pub(crate) fn answer<G>(&mut self, last: impl FnOnce(&T) -> &G) -> Result {
        let (at, n) = wire::field_span(&self.cmd, last).ok_or(EFAULT)?;
        self.answer_end = at + n;
        Ok(())
    }

    /// The command's fixed part, as copied in.
    pub(crate) fn cmd(&self) -> &T {
        &self.cmd
    }

    /// The fixed part, to set the answers [`Args::write_back`] writes.
    pub(crate) fn out(&mut self) -> &mut T {
        &mut self.cmd
    }

    pub(crate) fn flags(&self) -> u64 {
        self.flags
    }

    /// The validated items.
    pub(crate) fn items(&self) -> Items<'_> {
        Items::new(&self.buf, CmdSpec::<T>::SIZE)
    }

    /// The first item of type `ty`.
    pub(crate) fn item(&self, ty: u64) -> Option<Item<'_>> {
        self.items().find(|i| i.ty == ty)
    }

    /// Writes the fields of the fixed part from the one `first` selects to
    /// the end of the one `last` selects (inclusive) back to the caller.
    pub(crate) fn write_back<F, G>(
        &self,
        first: impl FnOnce(&T) -> &F,
        last: impl FnOnce(&T) -> &G,
    ) -> Result {
        let (from, _) = wire::field_span(&self.cmd, first).ok_or(EFAULT)?;
        let (at, n) = wire::field_span(&self.cmd, last).ok_or(EFAULT)?;
        let bytes = self.cmd.as_bytes().get(from..at + n).ok_or(EFAULT)?;
        let addr = self.user.wrapping_byte_add(from);
        UserSlice::new(addr, bytes.len())
            .writer()
            .write_slice(bytes)
    }

    /// Writes `v` into the caller's argument at `off` (only for places the
    /// command struct does not name: `flags` of every command and the
    /// NEGOTIATE item).
    fn write_user<V: AsBytes>(&self, off: usize, v: &V) -> Result {
        let addr = self.user.wrapping_byte_add(off);
        UserSlice::new(addr, size_of::<V>()).writer().write(v)
    }
}
