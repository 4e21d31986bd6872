// SPDX-License-Identifier: GPL-2.0

//! CONN_INFO, BUS_CREATOR_INFO and LIST (`connection-pool.md` §6-§8):
//! what a connection may learn about the bus and its peers.

use crate::kext::prelude::*;
use kernel::{alloc::KVec, sync::atomic::ordering};

use crate::{
    item::{
        name_item_size, push_name_item, push_str_item, sanitize_attach, Args, CmdSpec, ItemRule,
        Parsed,
    },
    metadata::View,
    uapi::*,
    wire::INFO_HEADER,
};

use super::Connection;

static CONN_INFO_SPEC: CmdSpec<KdbusCmdInfo> = CmdSpec::new(0, &[ItemRule::once(KDBUS_ITEM_NAME)]);

static BUS_CREATOR_INFO_SPEC: CmdSpec<KdbusCmdInfo> = CmdSpec::new(0, &[]);

static LIST_SPEC: CmdSpec<KdbusCmdList> = CmdSpec::new(
    KDBUS_LIST_UNIQUE | KDBUS_LIST_NAMES | KDBUS_LIST_ACTIVATORS | KDBUS_LIST_QUEUED,
    &[],
);

/// Appends the header of a `kdbus_info` record of `size` bytes.
fn push_info(out: &mut KVec<u8>, size: usize, id: u64, flags: u64) -> Result {
    let info = KdbusInfo {
        size: size as u64,
        id,
        flags,
    };
    Ok(out.extend_from_slice(crate::wire::bytes(&info), GFP_KERNEL)?)
}

/// Appends a LIST name record: a `kdbus_info` with one OWNED_NAME item.
pub(super) fn push_name_record(
    out: &mut KVec<u8>,
    id: u64,
    flags: u64,
    name_flags: u64,
    name: &[u8],
) -> Result {
    push_info(out, INFO_HEADER + name_item_size(name.len()), id, flags)?;
    push_name_item(out, name_flags, name)
}

/// Finishes a `kdbus_info` answer built in `out` from its start: its size.
fn finish_info(out: &mut [u8]) -> Result<u64> {
    let size = out.len() as u64;
    out.get_mut(..size_of::<u64>())
        .ok_or(EINVAL)?
        .copy_from_slice(crate::wire::bytes(&size));
    Ok(size)
}

impl Connection {
    /// Whether this connection may see `name`.
    pub(crate) fn can_see_name(&self, name: &[u8]) -> bool {
        self.ep.endpoint().is_some_and(|e| e.can_see_name(name))
    }

    /// Whether we, with our HELLO credentials, may see `name`: the SEE
    /// check of a NAME_* notification's recipient (`names-match-policy-
    /// metadata.md` §3.6). Faked credentials exist on the default endpoint
    /// only, which lets everyone see everything.
    pub(crate) fn sees_name(&self, name: &[u8]) -> bool {
        match (self.ep.endpoint(), self.meta.cred()) {
            (Some(ep), Some(cred)) => ep.grants(cred, name, KDBUS_POLICY_SEE),
            (Some(ep), None) => ep.is_default(),
            (None, _) => false,
        }
    }

    /// Whether we are on the bus's default endpoint (ID_* notifications
    /// reach only those, `message.md` §7.3).
    pub(crate) fn on_default_endpoint(&self) -> bool {
        self.ep.endpoint().is_some_and(|e| e.is_default())
    }

    /// Whether this connection may see `peer`: always on the default
    /// endpoint; on a custom one only a peer owning a name it may see.
    pub(super) fn can_see(&self, peer: &Connection) -> bool {
        let Some(ep) = self.ep.endpoint() else {
            return false;
        };
        let Some(db) = ep.policy() else {
            return true;
        };
        let cred = crate::kext::current_cred();
        self.bus
            .any_name_of(peer, |_, n| db.grants(&cred, n, KDBUS_POLICY_SEE))
    }

    pub(super) fn conn_info(&self, arg: usize) -> Result {
        let mut args = match Args::parse(arg, &CONN_INFO_SPEC)? {
            Parsed::Run(args) => args,
            Parsed::Negotiated => return Ok(()),
        };
        let mask = sanitize_attach(args.cmd().attach_flags)?;
        let id = args.cmd().id;
        let peer = if let Some(name) = args.item(KDBUS_ITEM_NAME) {
            let name = name.str();
            let (owner, _) = self.bus.name_owner(name).ok_or(ESRCH)?;
            if !self.can_see_name(name) || (id != 0 && id != owner.id) {
                return Err(ESRCH);
            }
            owner
        } else if id != 0 {
            let peer = self.bus.find_conn(id).ok_or(ENXIO)?;
            if !self.can_see(&peer) {
                return Err(ENXIO);
            }
            peer
        } else {
            return Err(EINVAL);
        };
        let mut out = KVec::new();
        push_info(&mut out, 0, peer.id, peer.hello_flags)?;
        let send = peer.attach_send.load(ordering::Relaxed);
        let mask = mask & send & crate::attach_flags_mask();
        peer.meta.write_items(mask, &mut out, View::Reader)?;
        if mask & KDBUS_ATTACH_NAMES != 0 {
            for (name, flags) in self.bus.names_of(&peer)?.iter() {
                push_name_item(&mut out, *flags, name)?;
            }
        }
        if mask & KDBUS_ATTACH_CONN_DESCRIPTION != 0 {
            if let Some(d) = &peer.description {
                push_str_item(&mut out, KDBUS_ITEM_CONN_DESCRIPTION, d)?;
            }
        }
        self.write_info(&mut args, &mut out)
    }

    pub(super) fn bus_creator_info(&self, arg: usize) -> Result {
        let mut args = match Args::parse(arg, &BUS_CREATOR_INFO_SPEC)? {
            Parsed::Run(args) => args,
            Parsed::Negotiated => return Ok(()),
        };
        let mask = sanitize_attach(args.cmd().attach_flags)?;
        let mut out = KVec::new();
        push_info(&mut out, 0, self.bus.id(), self.bus.flags())?;
        let bus_node = self.ep.parent().ok_or(ESHUTDOWN)?;
        push_str_item(&mut out, KDBUS_ITEM_MAKE_NAME, bus_node.name())?;
        let mask = mask & self.bus.attach_owner() & crate::attach_flags_mask();
        // Never for the bus creator: it is not a connection.
        let mask =
            mask & !(KDBUS_ATTACH_NAMES | KDBUS_ATTACH_CONN_DESCRIPTION | KDBUS_ATTACH_TIMESTAMP);
        self.bus
            .creator()
            .write_items(mask, &mut out, View::Reader)?;
        self.write_info(&mut args, &mut out)
    }

    pub(super) fn list(&self, arg: usize) -> Result {
        let mut args = match Args::parse(arg, &LIST_SPEC)? {
            Parsed::Run(args) => args,
            Parsed::Negotiated => return Ok(()),
        };
        let flags = args.flags();
        let mut out = KVec::new();
        // `connection-pool.md` §8.3; a name record only if we may see the
        // name (it counted as produced for the connection all the same).
        for r in self.bus.list(flags)?.iter() {
            match &r.name {
                Some(n) if self.can_see_name(&n.name) => {
                    push_name_record(&mut out, r.id, r.hello_flags, n.flags, &n.name)?
                }
                Some(_) => {}
                None => push_info(&mut out, INFO_HEADER, r.id, r.hello_flags)?,
            }
        }
        let (off, size) = if out.is_empty() {
            (self.pool.size(), 0)
        } else {
            (self.pool.answer(&out)?, out.len())
        };
        let answer = args.out();
        answer.offset = off as u64;
        answer.list_size = size as u64;
        args.write_back(|c| &c.offset, |c| &c.list_size)
    }

    /// Publishes the `kdbus_info` answer `out` of CONN_INFO or
    /// BUS_CREATOR_INFO in our pool and tells the caller where it is.
    fn write_info(&self, args: &mut Args<KdbusCmdInfo>, out: &mut [u8]) -> Result {
        let size = finish_info(out)?;
        let off = self.pool.answer(out)?;
        let answer = args.out();
        answer.offset = off as u64;
        answer.info_size = size;
        args.write_back(|c| &c.offset, |c| &c.info_size)
    }
}
