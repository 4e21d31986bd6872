// SPDX-License-Identifier: GPL-2.0

//! Domains: one per kdbusfs mount.
//!
//! A domain is the object behind one superblock: the root directory node,
//! the `control` node, the mounter's user namespace, one 64-bit ID counter
//! (bus IDs, connection IDs and message sequence numbers) and the table of
//! domain users that limits are charged to (`fs-bus-endpoint.md` §4).
//!
//! A domain is owned by its root [`Node`]; every node below keeps the root
//! alive through its parent chain. The superblock holds one reference to the
//! root from `fill_super` to `kill_sb`.

use crate::kext::prelude::*;
use kernel::{
    alloc::KVec,
    new_mutex,
    sync::{
        atomic::{ordering, Atomic},
        Arc, Mutex,
    },
    task::Kuid,
};

use crate::{
    kext::{self, SuperBlock, UserNs},
    node::{Node, NodeObject},
};

/// An accounting user of a domain (`fs-bus-endpoint.md` §4.3): named (by
/// kuid) or anonymous (one per custom endpoint).
pub(crate) struct DomainUser {
    uid: Option<Kuid>,
    /// Index for receiver-side quota tables; 0 is the kernel's.
    index: u32,
    buses: Atomic<u32>,
    conns: Atomic<u32>,
    /// The number of [`UserRef`]s to this user. The domain's table lists
    /// the user while it is non-zero: it reaches zero only under the
    /// table's lock, together with the user's removal, so the table's users
    /// all have a count of at least one for a holder of the lock. Any other
    /// change needs no lock (a message's quota pins its sender's user, so
    /// this is on the SEND and RECV paths).
    refs: Atomic<usize>,
}

/// What a [`Charge`] counts.
#[derive(Clone, Copy)]
enum ChargeKind {
    Bus,
    Conn,
}

/// One bus or connection charged to a domain user (`fs-bus-endpoint.md`
/// §4.4); returned when dropped.
pub(crate) struct Charge {
    user: UserRef,
    kind: ChargeKind,
}

impl Charge {
    /// The charged user's quota index.
    pub(crate) fn user_index(&self) -> u32 {
        self.user.index
    }

    /// The charged user.
    pub(crate) fn user(&self) -> &UserRef {
        &self.user
    }

    fn counter(&self) -> &Atomic<u32> {
        match self.kind {
            ChargeKind::Bus => &self.user.buses,
            ChargeKind::Conn => &self.user.conns,
        }
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.counter().fetch_sub(1, ordering::Relaxed);
    }
}

impl UserRef {
    /// Charges one bus; `EMFILE` if the user already has `limit`.
    pub(crate) fn charge_bus(self, limit: u32) -> Result<Charge> {
        charge(&self.user.buses, limit, EMFILE)?;
        Ok(Charge {
            user: self,
            kind: ChargeKind::Bus,
        })
    }

    /// Charges one connection; `EMFILE` if the user already has `limit`.
    pub(crate) fn charge_conn(self, limit: u32) -> Result<Charge> {
        charge(&self.user.conns, limit, EMFILE)?;
        Ok(Charge {
            user: self,
            kind: ChargeKind::Conn,
        })
    }

    /// Another reference to the same user: a count, without the table's
    /// lock (ours keeps the count above zero).
    pub(crate) fn clone_ref(&self) -> UserRef {
        self.user.refs.fetch_add(1, ordering::Relaxed);
        UserRef {
            root: self.root.clone(),
            user: self.user.clone(),
        }
    }
}

/// Increments `counter` unless it has reached `limit` (then `err`).
pub(crate) fn charge(counter: &Atomic<u32>, limit: u32, err: Error) -> Result {
    let mut v = counter.load(ordering::Relaxed);
    loop {
        if v >= limit {
            return Err(err);
        }
        match counter.cmpxchg(v, v + 1, ordering::Relaxed) {
            Ok(_) => return Ok(()),
            Err(cur) => v = cur,
        }
    }
}

struct Users {
    /// Every user with a [`UserRef`] (`DomainUser::refs`), looked up only
    /// by HELLO and BUS_MAKE and by the drop of a last reference.
    entries: KVec<Arc<DomainUser>>,
}

/// The state of one mount.
#[pin_data]
pub(crate) struct Domain {
    user_ns: UserNs,
    last_id: Atomic<u64>,
    #[pin]
    users: Mutex<Users>,
    #[pin]
    /// The superblock, for dentry invalidation; `None` once `kill_sb` began.
    sb: Mutex<Option<SuperBlock>>,
}

impl Domain {
    /// Creates a domain for a new superblock: its root node (returned,
    /// LINKED and ACTIVE) and the `control` node below it.
    pub(crate) fn create(sb: SuperBlock, user_ns: UserNs) -> Result<Arc<Node>> {
        let domain = Arc::pin_init(
            try_pin_init!(Domain {
                user_ns,
                last_id: Atomic::new(0),
                users <- new_mutex!(Users { entries: KVec::new() }),
                sb <- new_mutex!(Some(sb)),
            }),
            GFP_KERNEL,
        )?;
        let root_kuid = kext::global_root_uid();
        let root_kgid = kext::global_root_gid();
        let root = Node::new(
            b"",
            kext::S_IFDIR | 0o555,
            root_kuid,
            root_kgid,
            None,
            NodeObject::Domain(domain),
        )?;
        root.link_root();
        root.activate()?;
        let control = Node::new(
            b"control",
            kext::S_IFREG | 0o666,
            root_kuid,
            root_kgid,
            Some(root.clone()),
            NodeObject::Control,
        )?;
        let linked = root.link_child(&control).and_then(|()| control.activate());
        if let Err(e) = linked {
            root.deactivate();
            return Err(e);
        }
        Ok(root)
    }

    /// Tears a domain down when its superblock dies (no handle is open).
    pub(crate) fn destroy(root: &Arc<Node>) {
        if let Some(domain) = root.domain() {
            // INVARIANT (of `SuperBlock`): forgotten before the VFS frees it.
            *domain.sb.lock() = None;
        }
        root.deactivate();
    }

    /// The user namespace of the mounter.
    pub(crate) fn user_ns(&self) -> &UserNs {
        &self.user_ns
    }

    /// Draws the next value of the domain's ID counter (the first is 1).
    pub(crate) fn next_id(&self) -> u64 {
        self.last_id.fetch_add(1, ordering::Relaxed) + 1
    }

    /// Drops cached dentries of a torn-down node.
    pub(crate) fn flush(&self, ino: u32) {
        // Under the lock: `destroy` cannot forget the superblock meanwhile.
        if let Some(sb) = self.sb.lock().as_ref() {
            sb.invalidate_inode(ino.into());
        }
    }

    /// Looks up (or creates) the named user of `uid` and takes a reference.
    pub(crate) fn user(root: &Arc<Node>, uid: Kuid) -> Result<UserRef> {
        Self::get_user(root, Some(uid))
    }

    /// Creates a new anonymous user (one per custom endpoint).
    pub(crate) fn anon_user(root: &Arc<Node>) -> Result<UserRef> {
        Self::get_user(root, None)
    }

    fn get_user(root: &Arc<Node>, uid: Option<Kuid>) -> Result<UserRef> {
        let domain = root.domain().ok_or(ESHUTDOWN)?;
        let mut users = domain.users.lock();
        if let Some(uid) = uid {
            if let Some(user) = users
                .entries
                .iter()
                .find(|u| u.uid.is_some_and(|u| u == uid))
            {
                // Listed, so its count is at least one (`DomainUser::refs`).
                user.refs.fetch_add(1, ordering::Relaxed);
                return Ok(UserRef {
                    root: root.clone(),
                    user: user.clone(),
                });
            }
        }
        // The smallest free index >= 1.
        let mut index = 1u32;
        while users.entries.iter().any(|u| u.index == index) {
            index += 1;
        }
        let user = Arc::new(
            DomainUser {
                uid,
                index,
                buses: Atomic::new(0),
                conns: Atomic::new(0),
                refs: Atomic::new(1),
            },
            GFP_KERNEL,
        )?;
        users.entries.push(user.clone(), GFP_KERNEL)?;
        Ok(UserRef {
            root: root.clone(),
            user,
        })
    }
}

/// A counted reference to a domain user; the user leaves the domain's table
/// when its last reference goes.
pub(crate) struct UserRef {
    root: Arc<Node>,
    user: Arc<DomainUser>,
}

impl core::ops::Deref for UserRef {
    type Target = DomainUser;

    fn deref(&self) -> &DomainUser {
        &self.user
    }
}

impl Drop for UserRef {
    fn drop(&mut self) {
        // Not the last reference: the count cannot reach zero here.
        let refs = &self.user.refs;
        let mut n = refs.load(ordering::Relaxed);
        while n > 1 {
            match refs.cmpxchg(n, n - 1, ordering::Relaxed) {
                Ok(_) => return,
                Err(now) => n = now,
            }
        }
        // Perhaps the last: decided under the table's lock, where a HELLO
        // may have taken a new reference meanwhile.
        let Some(domain) = self.root.domain() else {
            return;
        };
        let mut users = domain.users.lock();
        if refs.fetch_sub(1, ordering::Relaxed) == 1 {
            if let Some(pos) = users
                .entries
                .iter()
                .position(|u| Arc::ptr_eq(u, &self.user))
            {
                let _ = users.entries.remove(pos);
            }
        }
    }
}
