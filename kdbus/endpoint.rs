// SPDX-License-Identifier: GPL-2.0

//! Endpoints: the files of a bus directory that connections are made on.
//!
//! Every bus has its default endpoint `bus`, made with the bus and living as
//! long as it. A privileged handle on `bus` may make custom endpoints
//! (ENDPOINT_MAKE, `fs-bus-endpoint.md` §7) that live while that handle is
//! open; their connections are charged to the endpoint's anonymous user and
//! see the bus through the endpoint's policy, which ENDPOINT_UPDATE replaces
//! as a whole.

use crate::kext::prelude::*;
use kernel::{
    cred::Credential,
    new_mutex,
    sync::{Arc, Mutex},
    task::Kuid,
};

use crate::{
    bus::{check_name_prefix, modes},
    connection::Connection,
    domain::{Domain, UserRef},
    item::{Args, CmdSpec, ItemRule, Parsed},
    kext,
    node::{Node, NodeObject},
    policy::PolicyDb,
    uapi::*,
};

/// ENDPOINT_MAKE's arguments.
static MAKE_SPEC: CmdSpec<KdbusCmd> = CmdSpec::new(
    KDBUS_MAKE_ACCESS_GROUP | KDBUS_MAKE_ACCESS_WORLD,
    &[ItemRule::mandatory(KDBUS_ITEM_MAKE_NAME)],
);

/// ENDPOINT_UPDATE's arguments.
static UPDATE_SPEC: CmdSpec<KdbusCmd> = CmdSpec::new(
    0,
    &[
        ItemRule::many(KDBUS_ITEM_NAME),
        ItemRule::many(KDBUS_ITEM_POLICY_ACCESS),
    ],
);

struct EndpointInner {
    /// Connections made through this endpoint.
    conns: KVec<Arc<Connection>>,
    /// The endpoint's policy (custom endpoints only; empty denies all),
    /// replaced as a whole: a check clones the reference under the lock and
    /// reads the database without it.
    policy: Arc<PolicyDb>,
}

/// An endpoint.
#[pin_data]
pub(crate) struct Endpoint {
    is_default: bool,
    /// The anonymous user every connection of a custom endpoint is charged
    /// to; `None` for the default endpoint.
    anon_user: Option<UserRef>,
    #[pin]
    inner: Mutex<EndpointInner>,
}

impl Endpoint {
    fn new(is_default: bool, anon_user: Option<UserRef>) -> Result<Arc<Endpoint>> {
        let policy = Arc::new(PolicyDb::new(), GFP_KERNEL)?;
        Arc::pin_init(
            try_pin_init!(Endpoint {
                is_default,
                anon_user,
                inner <- new_mutex!(EndpointInner {
                    conns: KVec::new(),
                    policy,
                }),
            }),
            GFP_KERNEL,
        )
    }

    /// Whether this is the bus's `bus` file.
    pub(crate) fn is_default(&self) -> bool {
        self.is_default
    }

    /// The anonymous user of a custom endpoint.
    pub(crate) fn anon_user(&self) -> Option<&UserRef> {
        self.anon_user.as_ref()
    }

    /// Whether a connection on this endpoint, with the caller's credentials,
    /// may see `name` (everything is visible on the default endpoint).
    pub(crate) fn can_see_name(&self, name: &[u8]) -> bool {
        self.grants(&kext::current_cred(), name, KDBUS_POLICY_SEE)
    }

    /// Whether the endpoint's policy grants `level` on `name` to `cred`
    /// (`names-match-policy-metadata.md` §3.5; the default endpoint has
    /// none and grants everything).
    pub(crate) fn grants(&self, cred: &Credential, name: &[u8], level: u64) -> bool {
        self.is_default || self.inner.lock().policy.grants(cred, name, level)
    }

    /// The policy of a custom endpoint; `None` on the default endpoint,
    /// which has none.
    pub(crate) fn policy(&self) -> Option<Arc<PolicyDb>> {
        (!self.is_default).then(|| self.inner.lock().policy.clone())
    }

    /// Adds a connection made through this endpoint.
    pub(crate) fn add_conn(&self, conn: &Arc<Connection>) -> Result {
        self.inner.lock().conns.push(conn.clone(), GFP_KERNEL)?;
        Ok(())
    }

    /// Forgets a connection (its teardown).
    pub(crate) fn remove_conn(&self, conn: &Connection) {
        self.inner
            .lock()
            .conns
            .retain(|c| !core::ptr::eq(&**c, conn));
    }

    /// The node's release action: disconnect every connection made through
    /// this endpoint, one by one, as if its handle had been closed.
    pub(crate) fn release(&self) {
        loop {
            let conn = self.inner.lock().conns.first().cloned();
            match conn {
                Some(conn) => {
                    conn.disconnect();
                    // `disconnect` removes it; make sure we cannot loop.
                    self.remove_conn(&conn);
                }
                None => break,
            }
        }
    }
}

/// Makes the default endpoint `bus` of a new bus node.
pub(crate) fn make_default(bus: &Arc<Node>, mode: u16) -> Result {
    let ep = Endpoint::new(true, None)?;
    let node = Node::new(
        b"bus",
        kext::S_IFREG | mode,
        bus.uid(),
        bus.gid(),
        Some(bus.clone()),
        NodeObject::Endpoint(ep),
    )?;
    bus.link_child(&node)?;
    node.activate()
}

/// ENDPOINT_MAKE on a privileged default-endpoint handle; returns the new
/// endpoint node (the handle becomes its owner), `None` after a probe.
pub(crate) fn make(ep: &Arc<Node>, arg: usize) -> Result<Option<Arc<Node>>> {
    let args = match Args::parse(arg, &MAKE_SPEC)? {
        Parsed::Run(args) => args,
        Parsed::Negotiated => return Ok(None),
    };
    let bus = ep.parent().ok_or(ESHUTDOWN)?;
    let root = bus.parent().ok_or(ESHUTDOWN)?;
    let domain = root.domain().ok_or(ESHUTDOWN)?;
    let name = args.item(KDBUS_ITEM_MAKE_NAME).ok_or(EINVAL)?.str();
    check_name_prefix(domain, name)?;
    let (_, mode) = modes(args.flags() & MAKE_SPEC.flags());

    let anon = Domain::anon_user(root)?;
    let endpoint = Endpoint::new(false, Some(anon))?;
    let node = Node::new(
        name,
        kext::S_IFREG | mode,
        Kuid::current_euid(),
        kext::current_egid(),
        Some(bus.clone()),
        NodeObject::Endpoint(endpoint),
    )?;
    bus.link_child(&node)?;
    if let Err(e) = node.activate() {
        node.deactivate();
        return Err(e);
    }
    Ok(Some(node))
}

/// ENDPOINT_UPDATE on an endpoint-owner handle: replaces the policy.
pub(crate) fn update(node: &Arc<Node>, arg: usize) -> Result {
    let args = match Args::parse(arg, &UPDATE_SPEC)? {
        Parsed::Run(args) => args,
        Parsed::Negotiated => return Ok(()),
    };
    let ep = node.endpoint().ok_or(EBADFD)?;
    let db = Arc::new(PolicyDb::from_items(args.items(), true)?, GFP_KERNEL)?;
    // The old database is freed after the lock is dropped.
    let old = core::mem::replace(&mut ep.inner.lock().policy, db);
    drop(old);
    Ok(())
}
