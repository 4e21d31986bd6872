// SPDX-License-Identifier: GPL-2.0

//! Policy databases (`names-match-policy-metadata.md` §3).
//!
//! A database maps well-known names (exact, or one-level wildcards
//! `org.foo.*`) to access records `{type, access, id}`. Custom endpoints own
//! one each ([`PolicyDb`]), replaced as a whole by ENDPOINT_UPDATE; the bus
//! has one ([`BusPolicy`]) of entries owned by policy holders and
//! activators. Both keep their entries sorted by (wildcard, name), so a
//! check is a binary search and never allocates.

use core::cmp::Ordering;

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

impl Entry {
    /// Orders entries by their key (§3.2: name or prefix, and whether it
    /// is a wildcard); databases keep their entries sorted by it.
    fn cmp_key(&self, wildcard: bool, name: &[u8]) -> Ordering {
        (self.wildcard, self.name.as_slice()).cmp(&(wildcard, name))
    }

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

/// The entry used for `name` (§3.2): the exact entry, else the wildcard
/// entry of its parent. `entries` is sorted by key, so this is two binary
/// searches: O(log n) in the entries, nothing allocated.
fn lookup<'a, T>(entries: &'a [T], entry: impl Fn(&T) -> &Entry, name: &[u8]) -> Option<&'a Entry> {
    let find = |wildcard, key: &[u8]| {
        entries
            .binary_search_by(|t| entry(t).cmp_key(wildcard, key))
            .ok()
            .and_then(|i| entries.get(i))
            .map(&entry)
    };
    find(false, name).or_else(|| {
        let dot = name.iter().rposition(|&c| c == b'.')?;
        find(true, name.get(..dot)?)
    })
}

/// A policy database of a custom endpoint, sorted by key.
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
        let mut db = Self::new();
        // The entry POLICY_ACCESS items go to: the last NAME's, at the
        // position it was inserted at (only a NAME inserts).
        let mut current = None;
        // Duplicates are reported after the whole walk (§3.3: EINVAL
        // first).
        let mut duplicate = false;
        for item in items {
            match item.ty {
                KDBUS_ITEM_NAME => {
                    let name = item.str();
                    if !names::is_valid(name, wildcards) {
                        return Err(EINVAL);
                    }
                    let wildcard = names::is_wildcard(name);
                    let key = if wildcard {
                        name.get(..name.len().saturating_sub(2)).ok_or(EINVAL)?
                    } else {
                        name
                    };
                    let entry = Entry {
                        name: crate::copy_bytes(key)?,
                        wildcard,
                        access: KVec::new(),
                    };
                    current = Some(db.insert(entry, &mut duplicate)?);
                }
                KDBUS_ITEM_POLICY_ACCESS => {
                    let KdbusPolicyAccess {
                        r#type: ty,
                        access,
                        id,
                    } = item.view()?;
                    let id = id as u32;
                    let entry = current.and_then(|i| db.entries.get_mut(i)).ok_or(EINVAL)?;
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
        if duplicate {
            return Err(EEXIST);
        }
        Ok(db)
    }

    /// Inserts `entry` at its sorted position, which it returns; one with
    /// the same key sets `duplicate` (and goes in beside it). O(n) per
    /// insertion: the installers are privileged and bounded by the
    /// command's size.
    fn insert(&mut self, entry: Entry, duplicate: &mut bool) -> Result<usize> {
        let pos = match self
            .entries
            .binary_search_by(|e| e.cmp_key(entry.wildcard, &entry.name))
        {
            Ok(pos) => {
                *duplicate = true;
                pos
            }
            Err(pos) => pos,
        };
        self.entries.reserve(1, GFP_KERNEL)?;
        self.entries
            .insert_within_capacity(pos, entry)
            .map_err(|_| ENOMEM)?;
        Ok(pos)
    }

    /// Whether `cred` gets at least `level` on `name`.
    pub(crate) fn grants(&self, cred: &Credential, name: &[u8], level: u64) -> bool {
        lookup(&self.entries, |e| e, name).is_some_and(|e| e.grants(cred, level))
    }
}

/// An entry of the bus database and the connection that installed it.
struct Owned {
    owner: u64,
    entry: Entry,
}

/// The bus policy database: entries installed by policy holders and
/// activators, each owned by its connection (`names-match-policy-
/// metadata.md` §3.1, §3.3), sorted by key: a check is O(log n) in the
/// entries; installing and removing (privileged connections, rare) are
/// O(n).
pub(crate) struct BusPolicy {
    entries: KVec<Owned>,
}

impl BusPolicy {
    pub(crate) const fn new() -> Self {
        Self {
            entries: KVec::new(),
        }
    }

    /// The position of the entry with the key of `e`: `Ok` if there is one.
    fn position(&self, e: &Entry) -> core::result::Result<usize, usize> {
        self.entries
            .binary_search_by(|o| o.entry.cmp_key(e.wildcard, &e.name))
    }

    /// Atomically replaces every entry of `owner` by those of `db` (§3.3
    /// step 7): `EEXIST` if another owner has an entry of the same name and
    /// wildcard-ness, and then nothing changes.
    pub(crate) fn replace(&mut self, owner: u64, db: PolicyDb) -> Result {
        for e in db.entries.iter() {
            if let Ok(i) = self.position(e) {
                if self.entries.get(i).is_some_and(|o| o.owner != owner) {
                    return Err(EEXIST);
                }
            }
        }
        self.entries.reserve(db.entries.len(), GFP_KERNEL)?;
        self.entries.retain(|o| o.owner != owner);
        for entry in db.entries {
            // Nothing below can fail: no other owner has the key (checked
            // above), ours are gone, `db` has no duplicates, and capacity
            // was reserved (the vector only shrank since).
            let i = self.position(&entry).unwrap_or_else(|i| i);
            let _ = self
                .entries
                .insert_within_capacity(i, Owned { owner, entry });
        }
        Ok(())
    }

    /// Whether `cred` gets at least `level` on `name`.
    pub(crate) fn grants(&self, cred: &Credential, name: &[u8], level: u64) -> bool {
        lookup(&self.entries, |o| &o.entry, name).is_some_and(|e| e.grants(cred, level))
    }

    /// Removes every entry of `owner` (the start of its teardown).
    pub(crate) fn remove_owner(&mut self, owner: u64) {
        self.entries.retain(|o| o.owner != owner);
    }
}

#[kunit_tests(kdbus_policy)]
mod tests {
    use super::*;

    /// An entry for `name` (a trailing `.*` makes it a wildcard) whose one
    /// WORLD record grants `access`.
    fn entry(name: &[u8], access: Option<u64>) -> Entry {
        let key = name.strip_suffix(b".*");
        let wildcard = key.is_some();
        let key = key.unwrap_or(name);
        let mut records = KVec::new();
        if let Some(access) = access {
            assert!(records
                .push(
                    Access {
                        who: Who::World,
                        access
                    },
                    GFP_KERNEL
                )
                .is_ok());
        }
        let copy = crate::copy_bytes(key);
        assert!(copy.is_ok());
        Entry {
            name: copy.unwrap_or_default(),
            wildcard,
            access: records,
        }
    }

    fn db(entries: &[(&[u8], Option<u64>)]) -> PolicyDb {
        let mut db = PolicyDb::new();
        let mut duplicate = false;
        for (name, access) in entries {
            assert!(db.insert(entry(name, *access), &mut duplicate).is_ok());
        }
        assert!(!duplicate);
        db
    }

    /// The access the entry used for `name` grants, if there is one.
    fn used(db: &PolicyDb, name: &[u8]) -> Option<Option<u64>> {
        lookup(&db.entries, |e| e, name).map(|e| e.access.first().map(|a| a.access))
    }

    #[test]
    fn wildcard_covers_one_level_and_exact_shadows() {
        let d = db(&[
            (b"org.foo.*", Some(KDBUS_POLICY_OWN)),
            (b"org.foo.bar", None),
            (b"org.foo", Some(KDBUS_POLICY_SEE)),
            (b"a.b", Some(KDBUS_POLICY_TALK)),
        ]);
        assert_eq!(used(&d, b"org.foo.baz"), Some(Some(KDBUS_POLICY_OWN)));
        assert_eq!(used(&d, b"org.foo.bar"), Some(None));
        assert_eq!(used(&d, b"org.foo"), Some(Some(KDBUS_POLICY_SEE)));
        assert_eq!(used(&d, b"org.foo.bar.baz"), None);
        assert_eq!(used(&d, b"org.foobar.x"), None);
        assert_eq!(used(&d, b"a.b"), Some(Some(KDBUS_POLICY_TALK)));
        assert_eq!(used(&d, b"a.b.c"), None);
        assert_eq!(used(&d, b"z"), None);
    }

    #[test]
    fn insert_keeps_order_and_flags_duplicates() {
        let mut d = PolicyDb::new();
        let mut duplicate = false;
        for name in [b"c.d" as &[u8], b"a.b", b"a.b.*", b"b.c"] {
            assert!(d.insert(entry(name, None), &mut duplicate).is_ok());
        }
        assert!(!duplicate);
        assert!(d
            .entries
            .windows(2)
            .all(|w| w[0].cmp_key(w[1].wildcard, &w[1].name).is_lt()));
        assert!(d.insert(entry(b"a.b.*", None), &mut duplicate).is_ok());
        assert!(duplicate);
    }

    #[test]
    fn bus_replace_is_atomic_and_keeps_order() {
        let mut bus = BusPolicy::new();
        assert!(bus.replace(1, db(&[(b"m.n", None)])).is_ok());
        assert!(bus.replace(2, db(&[(b"m.n.*", None)])).is_ok());
        assert!(bus.replace(3, db(&[(b"b.c", None)])).is_ok());
        // A key of another owner: EEXIST, and owner 3 keeps `b.c`.
        assert_eq!(bus.replace(3, db(&[(b"m.n", None)])), Err(EEXIST));
        assert!(lookup(&bus.entries, |o| &o.entry, b"b.c").is_some());
        // Replacing moves owner 3's entry; the vector stays sorted.
        assert!(bus.replace(3, db(&[(b"z.z", None)])).is_ok());
        assert!(lookup(&bus.entries, |o| &o.entry, b"b.c").is_none());
        assert!(bus.entries.windows(2).all(|w| w[0]
            .entry
            .cmp_key(w[1].entry.wildcard, &w[1].entry.name)
            .is_lt()));
        bus.remove_owner(2);
        assert!(lookup(&bus.entries, |o| &o.entry, b"m.n.x").is_none());
        assert!(lookup(&bus.entries, |o| &o.entry, b"m.n").is_some());
    }
}
