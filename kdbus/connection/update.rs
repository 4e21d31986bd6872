// SPDX-License-Identifier: GPL-2.0

//! UPDATE (`connection-pool.md` §6): a connection changes its attach masks,
//! and a policy holder its policy.

use crate::kext::prelude::*;
use kernel::sync::atomic::ordering;

use crate::{
    item::{sanitize_attach, Args, CmdSpec, ItemRule, Parsed},
    policy::PolicyDb,
    uapi::*,
};

use super::{Connection, Kind};

static UPDATE_SPEC: CmdSpec<KdbusCmd> = CmdSpec::new(
    0,
    &[
        ItemRule::once(KDBUS_ITEM_ATTACH_FLAGS_SEND),
        ItemRule::once(KDBUS_ITEM_ATTACH_FLAGS_RECV),
        ItemRule::many(KDBUS_ITEM_NAME),
        ItemRule::many(KDBUS_ITEM_POLICY_ACCESS),
    ],
);

impl Connection {
    pub(super) fn update(&self, arg: usize) -> Result {
        let args = match Args::parse(arg, &UPDATE_SPEC)? {
            Parsed::Run(args) => args,
            Parsed::Negotiated => return Ok(()),
        };
        let send = args.item(KDBUS_ITEM_ATTACH_FLAGS_SEND);
        let recv = args.item(KDBUS_ITEM_ATTACH_FLAGS_RECV);
        let send = match send {
            Some(i) => {
                if matches!(self.kind, Kind::Activator | Kind::PolicyHolder) {
                    return Err(EOPNOTSUPP);
                }
                let v = sanitize_attach(i.u64())?;
                if self.bus.attach_required() & !v != 0 {
                    return Err(EINVAL);
                }
                Some(v)
            }
            None => None,
        };
        let recv = match recv {
            Some(i) => {
                if self.kind == Kind::PolicyHolder {
                    return Err(EOPNOTSUPP);
                }
                Some(sanitize_attach(i.u64())?)
            }
            None => None,
        };
        let has_policy = args
            .items()
            .any(|i| i.ty == KDBUS_ITEM_NAME || i.ty == KDBUS_ITEM_POLICY_ACCESS);
        if has_policy {
            if self.kind != Kind::PolicyHolder {
                return Err(EOPNOTSUPP);
            }
            if args.items().filter(|i| i.ty == KDBUS_ITEM_NAME).count() > 1 {
                return Err(E2BIG);
            }
            let db = PolicyDb::from_items(args.items(), true)?;
            self.bus.set_policy(self.id, db)?;
        }
        if let Some(v) = send {
            self.attach_send.store(v, ordering::Relaxed);
        }
        if let Some(v) = recv {
            self.attach_recv.store(v, ordering::Relaxed);
        }
        Ok(())
    }
}
