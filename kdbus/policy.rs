// SPDX-License-Identifier: GPL-2.0

//! Policy databases (`names-match-policy-metadata.md` §3).
//!
//! A database maps well-known names (exact, or one-level wildcards
//! `org.foo.*`) to access records `{type, access, id}`. Custom endpoints own
//! one each, replaced as a whole by ENDPOINT_UPDATE; the bus database (policy
//! holders, activators) arrives with the policy issue.

use kernel::{alloc::KVec, cred::Credential, prelude::*, task::Kuid};

use crate::{
    item::Items,
    kext::{CredentialExt, KernelId, Kgid},
    names,
    uapi::*,
};

/// Whom an access record is for (its `type` and `id`).
#[derive(Clone, Copy)]
pub(crate) enum Who {
    World,
    User(Kuid),
    Group(Kgid),
}

/// One access record.
#[derive(Clone, Copy)]
pub(crate) struct Access {
    pub(crate) who: Who,
    pub(crate) access: u64,
}

/// One entry: a name (or wildcard prefix) and its records.
pub(crate) struct Entry {
    pub(crate) name: KVec<u8>,
    pub(crate) wildcard: bool,
    pub(crate) access: KVec<Access>,
}

/// A policy database.
pub(crate) struct PolicyDb {
    entries: KVec<Entry>,
}

impl PolicyDb {
    /// An empty database (denies everything).
    pub(crate) const fn new() -> Self {
        Self {
            entries: KVec::new(),
        }
    }

    /// Builds a database from NAME/POLICY_ACCESS items (§3.3 steps 1-7):
    /// ids are read in the caller's user namespace.
    pub(crate) fn from_items(items: Items<'_>, wildcards: bool) -> Result<Self> {
        let mut entries: KVec<Entry> = KVec::new();
        for item in items {
            match item.ty {
                KDBUS_ITEM_NAME => {
                    let name = item.str();
                    if !names::is_valid(name, wildcards) {
                        return Err(EINVAL);
                    }
                    let wildcard = names::is_wildcard(name);
                    let key = if wildcard {
                        &name[..name.len() - 2]
                    } else {
                        name
                    };
                    let owned = crate::copy_bytes(key)?;
                    entries.push(
                        Entry {
                            name: owned,
                            wildcard,
                            access: KVec::new(),
                        },
                        GFP_KERNEL,
                    )?;
                }
                KDBUS_ITEM_POLICY_ACCESS => {
                    let KdbusPolicyAccess {
                        r#type: ty,
                        access,
                        id,
                    } = item.view()?;
                    let id = id as u32;
                    let entry = entries.last_mut().ok_or(EINVAL)?;
                    if access > KDBUS_POLICY_OWN {
                        return Err(EINVAL);
                    }
                    let who = match ty {
                        KDBUS_POLICY_ACCESS_USER => Who::User(Kuid::from_current_ns(id)?),
                        KDBUS_POLICY_ACCESS_GROUP => Who::Group(Kgid::from_current_ns(id)?),
                        KDBUS_POLICY_ACCESS_WORLD => Who::World,
                        _ => return Err(EINVAL),
                    };
                    entry.access.push(Access { who, access }, GFP_KERNEL)?;
                }
                _ => {}
            }
        }
        // Duplicates are found after the whole walk (§3.3: EINVAL first).
        for (i, e) in entries.iter().enumerate() {
            if entries[..i]
                .iter()
                .any(|o| o.wildcard == e.wildcard && o.name == e.name)
            {
                return Err(EEXIST);
            }
        }
        Ok(Self { entries })
    }

    /// Whether `cred` gets at least `level` on `name`.
    pub(crate) fn grants(&self, cred: &Credential, name: &[u8], level: u64) -> bool {
        lookup(self.entries.iter(), name).is_some_and(|e| e.grants(cred, level))
    }
}

/// The entry used for `name` (§3.2): exact first, else the wildcard entry
/// of its parent.
fn lookup<'a>(entries: impl Iterator<Item = &'a Entry> + Clone, name: &[u8]) -> Option<&'a Entry> {
    if let Some(e) = entries
        .clone()
        .find(|e| !e.wildcard && e.name.as_slice() == name)
    {
        return Some(e);
    }
    let dot = name.iter().rposition(|&c| c == b'.')?;
    let prefix = &name[..dot];
    entries
        .into_iter()
        .find(|e| e.wildcard && e.name.as_slice() == prefix)
}

impl Entry {
    /// Whether one of the records grants `cred` at least `level`.
    fn grants(&self, cred: &Credential, level: u64) -> bool {
        self.access.iter().any(|a| {
            a.access >= level
                && match a.who {
                    Who::World => true,
                    Who::User(uid) => uid == cred.euid(),
                    Who::Group(gid) => gid == cred.egid() || cred.groups().contains(&gid),
                }
        })
    }
}

/// An entry of the bus database and the connection that installed it.
struct Owned {
    owner: u64,
    entry: Entry,
}

/// The bus policy database: entries installed by policy holders and
/// activators, each owned by its connection (`names-match-policy-
/// metadata.md` §3.1, §3.3).
pub(crate) struct BusPolicy {
    entries: KVec<Owned>,
}

impl BusPolicy {
    pub(crate) const fn new() -> Self {
        Self {
            entries: KVec::new(),
        }
    }

    /// Atomically replaces every entry of `owner` by those of `db` (§3.3
    /// step 7): `EEXIST` if another owner has an entry of the same name and
    /// wildcard-ness, and then nothing changes.
    pub(crate) fn replace(&mut self, owner: u64, db: PolicyDb) -> Result {
        for e in db.entries.iter() {
            if self.entries.iter().any(|o| {
                o.owner != owner && o.entry.wildcard == e.wildcard && o.entry.name == e.name
            }) {
                return Err(EEXIST);
            }
        }
        self.entries.reserve(db.entries.len(), GFP_KERNEL)?;
        self.entries.retain(|o| o.owner != owner);
        for entry in db.entries {
            // Cannot fail: capacity was reserved above (and only shrank).
            let _ = self.entries.push_within_capacity(Owned { owner, entry });
        }
        Ok(())
    }

    /// Whether `cred` gets at least `level` on `name`.
    pub(crate) fn grants(&self, cred: &Credential, name: &[u8], level: u64) -> bool {
        lookup(self.entries.iter().map(|o| &o.entry), name).is_some_and(|e| e.grants(cred, level))
    }

    /// Removes every entry of `owner` (the start of its teardown).
    pub(crate) fn remove_owner(&mut self, owner: u64) {
        self.entries.retain(|o| o.owner != owner);
    }
}
