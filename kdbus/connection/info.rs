// SPDX-License-Identifier: GPL-2.0

//! CONN_INFO, BUS_CREATOR_INFO and LIST (`connection-pool.md` §6-§8):
//! what a connection may learn about the bus and its peers.

use kernel::{
    alloc::KVec,
    prelude::*,
    sync::{atomic::ordering, Arc},
};

use crate::{
    item::{push_name_item, push_str_item, sanitize_attach, Args, CmdSpec, ItemRule, Parsed},
    uapi::*,
};

use super::{Connection, Kind};

static CONN_INFO_SPEC: CmdSpec = CmdSpec {
    size: 56,
    flags: 0,
    items: &[ItemRule::once(KDBUS_ITEM_NAME)],
};

static BUS_CREATOR_INFO_SPEC: CmdSpec = CmdSpec {
    size: 56,
    flags: 0,
    items: &[],
};

static LIST_SPEC: CmdSpec = CmdSpec {
    size: 40,
    flags: KDBUS_LIST_UNIQUE | KDBUS_LIST_NAMES | KDBUS_LIST_ACTIVATORS | KDBUS_LIST_QUEUED,
    items: &[],
};

/// Appends a LIST name record: a `kdbus_info` with one OWNED_NAME item.
pub(super) fn push_name_record(
    out: &mut KVec<u8>,
    id: u64,
    flags: u64,
    name_flags: u64,
    name: &[u8],
) -> Result {
    let item = (16 + 8 + name.len() as u64 + 1).next_multiple_of(8);
    out.extend_from_slice(&(24 + item).to_ne_bytes(), GFP_KERNEL)?;
    out.extend_from_slice(&id.to_ne_bytes(), GFP_KERNEL)?;
    out.extend_from_slice(&flags.to_ne_bytes(), GFP_KERNEL)?;
    push_name_item(out, name_flags, name)
}

impl Connection {
    /// Whether this connection may see `name`.
    pub(super) fn can_see_name(&self, name: &[u8]) -> bool {
        self.ep.endpoint().is_some_and(|e| e.can_see_name(name))
    }

    /// Whether this connection may see `peer`: always on the default
    /// endpoint; on a custom one only a peer owning a name it may see.
    pub(super) fn can_see(&self, peer: &Connection) -> Result<bool> {
        let Some(ep) = self.ep.endpoint() else {
            return Ok(false);
        };
        if ep.is_default() {
            return Ok(true);
        }
        Ok(self
            .bus
            .names()?
            .iter()
            .any(|n| core::ptr::eq(&*n.owner, peer) && ep.can_see_name(&n.name)))
    }

    pub(super) fn conn_info(&self, arg: usize) -> Result {
        let args = match Args::parse(arg, &CONN_INFO_SPEC)? {
            Parsed::Run(args) => args,
            Parsed::Negotiated => return Ok(()),
        };
        let mask = sanitize_attach(args.get(32))?;
        let id = args.get(24);
        let peer = if let Some(name) = args.item(KDBUS_ITEM_NAME) {
            let name = name.str();
            let owner = self.bus.name_owner(name).ok_or(ESRCH)?;
            if !self.can_see_name(name) || (id != 0 && id != owner.id) {
                return Err(ESRCH);
            }
            owner
        } else if id != 0 {
            let peer = self.bus.find_conn(id).ok_or(ENXIO)?;
            if !self.can_see(&peer)? {
                return Err(ENXIO);
            }
            peer
        } else {
            return Err(EINVAL);
        };
        let mut out = KVec::new();
        out.extend_from_slice(&[0u8; 24], GFP_KERNEL)?;
        crate::item::put_u64(&mut out, 8, peer.id);
        crate::item::put_u64(&mut out, 16, peer.hello_flags);
        let send = peer.attach_send.load(ordering::Relaxed);
        let mask = mask & send & crate::attach_flags_mask();
        peer.meta.write_items(mask, &mut out)?;
        if mask & KDBUS_ATTACH_NAMES != 0 {
            for n in self.bus.names()?.iter() {
                if core::ptr::eq(&*n.owner, &*peer) {
                    push_name_item(&mut out, n.flags, &n.name)?;
                }
            }
        }
        if mask & KDBUS_ATTACH_CONN_DESCRIPTION != 0 {
            if let Some(d) = &peer.description {
                push_str_item(&mut out, KDBUS_ITEM_CONN_DESCRIPTION, d)?;
            }
        }
        let size = out.len() as u64;
        crate::item::put_u64(&mut out, 0, size);
        let off = self.answer(&out)?;
        args.write_user_u64(40, off as u64)?;
        args.write_user_u64(48, size)
    }

    pub(super) fn bus_creator_info(&self, arg: usize) -> Result {
        let args = match Args::parse(arg, &BUS_CREATOR_INFO_SPEC)? {
            Parsed::Run(args) => args,
            Parsed::Negotiated => return Ok(()),
        };
        let mask = sanitize_attach(args.get(32))?;
        let mut out = KVec::new();
        out.extend_from_slice(&[0u8; 24], GFP_KERNEL)?;
        crate::item::put_u64(&mut out, 8, self.bus.id());
        crate::item::put_u64(&mut out, 16, self.bus.flags());
        let bus_node = self.ep.parent().ok_or(ESHUTDOWN)?;
        push_str_item(&mut out, KDBUS_ITEM_MAKE_NAME, bus_node.name())?;
        let mask = mask & self.bus.attach_owner() & crate::attach_flags_mask();
        // Never for the bus creator: it is not a connection.
        let mask =
            mask & !(KDBUS_ATTACH_NAMES | KDBUS_ATTACH_CONN_DESCRIPTION | KDBUS_ATTACH_TIMESTAMP);
        self.bus.creator().write_items(mask, &mut out)?;
        let size = out.len() as u64;
        crate::item::put_u64(&mut out, 0, size);
        let off = self.answer(&out)?;
        args.write_user_u64(40, off as u64)?;
        args.write_user_u64(48, size)
    }

    pub(super) fn list(&self, arg: usize) -> Result {
        let args = match Args::parse(arg, &LIST_SPEC)? {
            Parsed::Run(args) => args,
            Parsed::Negotiated => return Ok(()),
        };
        let flags = args.flags();
        let names = self.bus.names()?;
        let mut out = KVec::new();
        // `connection-pool.md` §8.3, for every connection of the bus.
        for c in self.bus.conns()?.iter() {
            match c.kind {
                Kind::Monitor => continue,
                Kind::Activator if flags & KDBUS_LIST_ACTIVATORS == 0 => continue,
                _ => {}
            }
            let mut added = false;
            if flags & (KDBUS_LIST_NAMES | KDBUS_LIST_ACTIVATORS) != 0 {
                for n in names.iter().filter(|n| Arc::ptr_eq(&n.owner, c)) {
                    let visible = self.can_see_name(&n.name);
                    if flags & KDBUS_LIST_ACTIVATORS != 0 {
                        if let Some(a) = n.activator.as_ref().filter(|a| !Arc::ptr_eq(a, c)) {
                            if visible {
                                push_name_record(&mut out, a.id, a.hello_flags, n.flags, &n.name)?;
                            }
                            added = true;
                        }
                    }
                    if flags & KDBUS_LIST_NAMES != 0 || c.kind == Kind::Activator {
                        if visible {
                            push_name_record(&mut out, c.id, c.hello_flags, n.flags, &n.name)?;
                        }
                        added = true;
                    }
                }
            }
            if !added && flags & KDBUS_LIST_UNIQUE != 0 {
                out.extend_from_slice(&24u64.to_ne_bytes(), GFP_KERNEL)?;
                out.extend_from_slice(&c.id.to_ne_bytes(), GFP_KERNEL)?;
                out.extend_from_slice(&c.hello_flags.to_ne_bytes(), GFP_KERNEL)?;
            }
        }
        let (off, size) = if out.is_empty() {
            (self.pool.size(), 0)
        } else {
            (self.answer(&out)?, out.len())
        };
        args.write_user_u64(24, off as u64)?;
        args.write_user_u64(32, size as u64)
    }
}
