// SPDX-License-Identifier: GPL-2.0

//! Match rules (`names-match-policy-metadata.md` §2): a connection's match
//! database, MATCH_ADD's parsing of rules, MATCH_REMOVE, and the evaluation
//! of a signal or a kernel notification against a database (§2.4), bloom
//! masks included (§2.5).
//!
//! The databases of a bus live in the bus, keyed by connection ID, and only
//! connections with at least one entry have one: a broadcast or a
//! notification visits the subscribed connections only, so its cost does
//! not grow with the connections that subscribe to nothing.

use crate::kext::prelude::*;
use kernel::{alloc::KVec, sync::Arc};

use crate::{
    connection::Connection,
    item::{Args, CmdSpec, Item, ItemRule, Items, Parsed},
    names,
    uapi::*,
};

/// One rule: the condition one item of MATCH_ADD sets (§2.2).
enum Rule {
    /// BLOOM_MASK: `k` masks of the bus's bloom size, oldest generation
    /// first.
    Bloom(KVec<u8>),
    /// NAME: the sender owns this name when it sends.
    Name(KVec<u8>),
    /// ID: the sender's ID, or any sender for `KDBUS_MATCH_ID_ANY`.
    Id(u64),
    /// NAME_ADD, NAME_REMOVE or NAME_CHANGE (`ty`) with these owners and,
    /// if given, this name.
    NameChange {
        ty: u64,
        old: u64,
        new: u64,
        name: Option<KVec<u8>>,
    },
    /// ID_ADD or ID_REMOVE (`ty`) of this connection.
    IdChange { ty: u64, id: u64 },
}

/// What is matched: a signal (broadcast or unicast) or a kernel
/// notification (§2.4).
pub(crate) enum Event<'a> {
    /// A signal from `sender`, with its BLOOM_FILTER (`generation`, and
    /// `filter`, the bit field of the bus's bloom size). `owns` tells
    /// whether the sender owns a name now.
    Signal {
        sender: u64,
        generation: u64,
        filter: &'a [u8],
        owns: &'a dyn Fn(&[u8]) -> bool,
    },
    /// ID_ADD or ID_REMOVE (`ty`) of connection `id`.
    Id { ty: u64, id: u64 },
    /// NAME_ADD, NAME_REMOVE or NAME_CHANGE (`ty`) of `name` from owner
    /// `old` to `new` (0 for none).
    Name {
        ty: u64,
        old: u64,
        new: u64,
        name: &'a [u8],
    },
}

/// `rule` against `value`: equal, or the rule takes any value.
fn id_matches(rule: u64, value: u64) -> bool {
    rule == KDBUS_MATCH_ID_ANY || rule == value
}

/// §2.5: the mask of generation `min(generation, k - 1)` is covered by
/// `filter` (every bit set in the mask is set in the filter). Bytewise is
/// the same as by native-endian words.
fn bloom_matches(masks: &[u8], generation: u64, filter: &[u8]) -> bool {
    let size = filter.len();
    if size == 0 {
        return false;
    }
    let k = masks.len() / size;
    let g = usize::try_from(generation)
        .unwrap_or(usize::MAX)
        .min(k.saturating_sub(1));
    let Some(mask) = masks.get(g * size..(g + 1) * size) else {
        return false;
    };
    mask.iter().zip(filter).all(|(&m, &f)| f & m == m)
}

impl Rule {
    /// Whether this rule is satisfied by `ev` (§2.4).
    fn matches(&self, ev: &Event<'_>) -> bool {
        match (self, ev) {
            (
                Rule::Bloom(masks),
                Event::Signal {
                    generation, filter, ..
                },
            ) => bloom_matches(masks, *generation, filter),
            (Rule::Name(name), Event::Signal { owns, .. }) => owns(name),
            (Rule::Id(id), Event::Signal { sender, .. }) => id_matches(*id, *sender),
            (Rule::IdChange { ty, id }, Event::Id { ty: t, id: i }) => {
                ty == t && id_matches(*id, *i)
            }
            (
                Rule::NameChange { ty, old, new, name },
                Event::Name {
                    ty: t,
                    old: o,
                    new: n,
                    name: nm,
                },
            ) => {
                ty == t
                    && id_matches(*old, *o)
                    && id_matches(*new, *n)
                    && match name {
                        Some(r) => r.as_slice() == *nm,
                        None => true,
                    }
            }
            _ => false,
        }
    }

    /// The rule of one MATCH_ADD item (§2.2), on a bus whose bloom filters
    /// have `bloom_size` bytes.
    fn parse(item: &Item<'_>, bloom_size: usize) -> Result<Rule> {
        let copy = crate::copy_bytes;
        Ok(match item.ty {
            KDBUS_ITEM_BLOOM_MASK => {
                let n = item.payload.len();
                if n == 0 || bloom_size == 0 || n % bloom_size != 0 {
                    return Err(EDOM);
                }
                Rule::Bloom(copy(item.payload)?)
            }
            KDBUS_ITEM_NAME => {
                if !names::is_valid(item.str(), false) {
                    return Err(EINVAL);
                }
                Rule::Name(copy(item.str())?)
            }
            KDBUS_ITEM_ID => Rule::Id(item.u64()),
            KDBUS_ITEM_NAME_ADD | KDBUS_ITEM_NAME_REMOVE | KDBUS_ITEM_NAME_CHANGE => {
                let change: KdbusNotifyNameChange = item.view()?;
                let name = match item.payload.get(KdbusNotifyNameChange::NAME_OFFSET..) {
                    Some([]) | None => None,
                    // Validated: a string with its NUL last.
                    Some(s) => Some(copy(s.split_last().map_or(s, |(_, s)| s))?),
                };
                Rule::NameChange {
                    ty: item.ty,
                    old: change.old_id.id,
                    new: change.new_id.id,
                    name,
                }
            }
            KDBUS_ITEM_ID_ADD | KDBUS_ITEM_ID_REMOVE => {
                let change: KdbusNotifyIdChange = item.view()?;
                Rule::IdChange {
                    ty: item.ty,
                    id: change.id,
                }
            }
            _ => return Err(EINVAL),
        })
    }
}

/// MATCH_ADD's arguments (§2.2): any number of rule items.
static ADD_SPEC: CmdSpec<KdbusCmdMatch> = CmdSpec::new(
    KDBUS_MATCH_REPLACE,
    &[
        ItemRule::many(KDBUS_ITEM_BLOOM_MASK),
        ItemRule::many(KDBUS_ITEM_NAME),
        ItemRule::many(KDBUS_ITEM_ID),
        ItemRule::many(KDBUS_ITEM_NAME_ADD),
        ItemRule::many(KDBUS_ITEM_NAME_REMOVE),
        ItemRule::many(KDBUS_ITEM_NAME_CHANGE),
        ItemRule::many(KDBUS_ITEM_ID_ADD),
        ItemRule::many(KDBUS_ITEM_ID_REMOVE),
    ],
);

/// MATCH_REMOVE's arguments (§2.3).
static REMOVE_SPEC: CmdSpec<KdbusCmdMatch> = CmdSpec::new(0, &[]);

/// MATCH_ADD by `conn` (§2.2 steps 2-7).
pub(crate) fn add(conn: &Arc<Connection>, arg: usize) -> Result {
    let args = match Args::parse(arg, &ADD_SPEC)? {
        Parsed::Run(args) => args,
        Parsed::Negotiated => return Ok(()),
    };
    let (bloom_size, _) = conn.bus().bloom();
    let bloom_size = usize::try_from(bloom_size).map_err(|_| EDOM)?;
    let entry = Entry::parse(args.cmd().cookie, args.items(), bloom_size)?;
    let replace = args.flags() & KDBUS_MATCH_REPLACE != 0;
    conn.bus().add_match(conn, entry, replace)
}

/// MATCH_REMOVE by `conn` (§2.3).
pub(crate) fn remove(conn: &Arc<Connection>, arg: usize) -> Result {
    let args = match Args::parse(arg, &REMOVE_SPEC)? {
        Parsed::Run(args) => args,
        Parsed::Negotiated => return Ok(()),
    };
    conn.bus().remove_match(conn, args.cmd().cookie)
}

/// One entry: a cookie and the rules that must all hold.
pub(crate) struct Entry {
    cookie: u64,
    rules: KVec<Rule>,
}

impl Entry {
    /// The entry of a MATCH_ADD with `cookie` and the validated `items`
    /// (NEGOTIATE is not a rule, §2.2); the first bad item fails it all.
    pub(crate) fn parse(cookie: u64, items: Items<'_>, bloom_size: usize) -> Result<Entry> {
        let mut rules = KVec::new();
        for item in items.filter(|i| i.ty != KDBUS_ITEM_NEGOTIATE) {
            rules.push(Rule::parse(&item, bloom_size)?, GFP_KERNEL)?;
        }
        Ok(Entry { cookie, rules })
    }

    /// All rules hold (an entry without rules matches everything).
    fn matches(&self, ev: &Event<'_>) -> bool {
        self.rules.iter().all(|r| r.matches(ev))
    }
}

/// A connection's match database (§2.1): at most
/// `KDBUS_MATCH_MAX` entries, in the order they were added.
pub(crate) struct MatchDb {
    entries: KVec<Entry>,
}

impl MatchDb {
    pub(crate) const fn new() -> Self {
        Self {
            entries: KVec::new(),
        }
    }

    /// MATCH_ADD steps 5-7: with `replace`, the entries with the new
    /// entry's cookie go first; `EMFILE` when the database is full.
    pub(crate) fn add(&mut self, entry: Entry, replace: bool) -> Result {
        if replace {
            self.entries.retain(|e| e.cookie != entry.cookie);
        }
        if self.entries.len() >= KDBUS_MATCH_MAX {
            return Err(EMFILE);
        }
        self.entries.push(entry, GFP_KERNEL)?;
        Ok(())
    }

    /// MATCH_REMOVE: every entry with `cookie` goes; `EBADSLT` if none had it.
    pub(crate) fn remove(&mut self, cookie: u64) -> Result {
        let before = self.entries.len();
        self.entries.retain(|e| e.cookie != cookie);
        if self.entries.len() == before {
            return Err(EBADSLT);
        }
        Ok(())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether some entry matches `ev` (§2.4).
    pub(crate) fn matches(&self, ev: &Event<'_>) -> bool {
        self.entries.iter().any(|e| e.matches(ev))
    }
}

#[kunit_tests(kdbus_matches)]
mod tests {
    use super::*;

    fn db(rules: KVec<Rule>) -> MatchDb {
        let mut db = MatchDb::new();
        assert!(db.add(Entry { cookie: 1, rules }, false).is_ok());
        db
    }

    fn one(rule: Rule) -> MatchDb {
        let mut rules = KVec::new();
        assert!(rules.push(rule, GFP_KERNEL).is_ok());
        db(rules)
    }

    fn signal<'a>(
        sender: u64,
        generation: u64,
        filter: &'a [u8],
        owns: &'a dyn Fn(&[u8]) -> bool,
    ) -> Event<'a> {
        Event::Signal {
            sender,
            generation,
            filter,
            owns,
        }
    }

    fn bytes(b: &[u8]) -> KVec<u8> {
        let mut v = KVec::new();
        assert!(v.extend_from_slice(b, GFP_KERNEL).is_ok());
        v
    }

    #[test]
    fn empty_entry_matches_everything_empty_db_nothing() {
        let none = |_: &[u8]| false;
        let all = db(KVec::new());
        assert!(all.matches(&signal(5, 0, &[0; 8], &none)));
        assert!(all.matches(&Event::Id {
            ty: KDBUS_ITEM_ID_ADD,
            id: 3
        }));
        assert!(!MatchDb::new().matches(&Event::Id {
            ty: KDBUS_ITEM_ID_ADD,
            id: 3
        }));
    }

    #[test]
    fn bloom_generations() {
        let none = |_: &[u8]| false;
        // Two generations of 8 bytes: bit 0 of byte 0, then bit 1.
        let mut m = [0u8; 16];
        m[0] = 1;
        m[8] = 2;
        let d = one(Rule::Bloom(bytes(&m)));
        assert!(d.matches(&signal(1, 0, &[1, 0, 0, 0, 0, 0, 0, 0], &none)));
        assert!(!d.matches(&signal(1, 0, &[2, 0, 0, 0, 0, 0, 0, 0], &none)));
        assert!(d.matches(&signal(1, 1, &[2, 0, 0, 0, 0, 0, 0, 0], &none)));
        // Beyond the stored generations: the newest mask.
        assert!(d.matches(&signal(1, 99, &[3, 0, 0, 0, 0, 0, 0, 0], &none)));
        assert!(!d.matches(&signal(1, 99, &[1, 0, 0, 0, 0, 0, 0, 0], &none)));
        // An all-zero mask matches every filter.
        let z = one(Rule::Bloom(bytes(&[0; 8])));
        assert!(z.matches(&signal(1, 0, &[0; 8], &none)));
    }

    #[test]
    fn id_name_and_kinds() {
        let owns_a = |n: &[u8]| n == b"a.b";
        let d = one(Rule::Id(7));
        assert!(d.matches(&signal(7, 0, &[0; 8], &owns_a)));
        assert!(!d.matches(&signal(8, 0, &[0; 8], &owns_a)));
        assert!(one(Rule::Id(KDBUS_MATCH_ID_ANY)).matches(&signal(8, 0, &[0; 8], &owns_a)));
        assert!(one(Rule::Name(bytes(b"a.b"))).matches(&signal(8, 0, &[0; 8], &owns_a)));
        assert!(!one(Rule::Name(bytes(b"a.c"))).matches(&signal(8, 0, &[0; 8], &owns_a)));
        // User-message rules never match notifications.
        assert!(!d.matches(&Event::Id {
            ty: KDBUS_ITEM_ID_ADD,
            id: 7
        }));
    }

    #[test]
    fn notification_rules() {
        let add = |old, new, name: Option<&[u8]>| Rule::NameChange {
            ty: KDBUS_ITEM_NAME_ADD,
            old,
            new,
            name: name.map(bytes),
        };
        let ev = Event::Name {
            ty: KDBUS_ITEM_NAME_ADD,
            old: 0,
            new: 9,
            name: b"x.y",
        };
        assert!(one(add(0, KDBUS_MATCH_ID_ANY, None)).matches(&ev));
        assert!(one(add(KDBUS_MATCH_ID_ANY, KDBUS_MATCH_ID_ANY, None)).matches(&ev));
        assert!(one(add(0, 9, Some(b"x.y"))).matches(&ev));
        assert!(!one(add(0, 9, Some(b"x.z"))).matches(&ev));
        // Zero is not a wildcard.
        assert!(!one(add(0, 0, None)).matches(&ev));
        // Another type does not match.
        let change = Event::Name {
            ty: KDBUS_ITEM_NAME_CHANGE,
            old: 0,
            new: 9,
            name: b"x.y",
        };
        assert!(!one(add(0, KDBUS_MATCH_ID_ANY, None)).matches(&change));
        let id = one(Rule::IdChange {
            ty: KDBUS_ITEM_ID_REMOVE,
            id: KDBUS_MATCH_ID_ANY,
        });
        assert!(id.matches(&Event::Id {
            ty: KDBUS_ITEM_ID_REMOVE,
            id: 4
        }));
        assert!(!id.matches(&Event::Id {
            ty: KDBUS_ITEM_ID_ADD,
            id: 4
        }));
    }

    #[test]
    fn add_replace_remove_and_limit() {
        let mut d = MatchDb::new();
        for _ in 0..KDBUS_MATCH_MAX {
            assert!(d
                .add(
                    Entry {
                        cookie: 1,
                        rules: KVec::new()
                    },
                    false
                )
                .is_ok());
        }
        assert_eq!(
            d.add(
                Entry {
                    cookie: 2,
                    rules: KVec::new()
                },
                false
            ),
            Err(EMFILE)
        );
        // REPLACE frees the slots of the cookie first.
        assert!(d
            .add(
                Entry {
                    cookie: 1,
                    rules: KVec::new()
                },
                true
            )
            .is_ok());
        assert_eq!(d.remove(3), Err(EBADSLT));
        assert!(d.remove(1).is_ok());
        assert!(d.is_empty());
    }
}
