// SPDX-License-Identifier: GPL-2.0

//! Well-known names (`names-match-policy-metadata.md` §1).
//!
//! The name syntax, and the per-bus registry of names. For now names enter
//! the registry only through activators (HELLO with `KDBUS_HELLO_ACTIVATOR`,
//! `connection-pool.md` §3.10 step 3); NAME_ACQUIRE/RELEASE, queues and
//! hand-over arrive with the names issue.

use kernel::{alloc::KVec, prelude::*, sync::Arc};

use crate::{connection::Connection, uapi::*};

/// One registered name.
pub(crate) struct NameEntry {
    pub(crate) name: KVec<u8>,
    /// The current owner (the activator while no implementer holds it).
    pub(crate) owner: Arc<Connection>,
    /// The flags the owner holds the name with.
    pub(crate) flags: u64,
    /// The name's activator, if any.
    pub(crate) activator: Option<Arc<Connection>>,
}

/// The names of one bus.
pub(crate) struct Registry {
    entries: KVec<NameEntry>,
}

impl Registry {
    pub(crate) const fn new() -> Self {
        Self {
            entries: KVec::new(),
        }
    }

    /// Registers `conn` as the activator of `name` (`EEXIST` if the name
    /// has one already).
    pub(crate) fn add_activator(&mut self, name: &[u8], conn: &Arc<Connection>) -> Result {
        if let Some(e) = self.entries.iter_mut().find(|e| e.name.as_slice() == name) {
            if e.activator.is_some() {
                return Err(EEXIST);
            }
            e.activator = Some(conn.clone());
            return Ok(());
        }
        let mut owned = KVec::with_capacity(name.len(), GFP_KERNEL)?;
        owned.extend_from_slice(name, GFP_KERNEL)?;
        self.entries.push(
            NameEntry {
                name: owned,
                owner: conn.clone(),
                flags: KDBUS_NAME_ACTIVATOR,
                activator: Some(conn.clone()),
            },
            GFP_KERNEL,
        )?;
        Ok(())
    }

    /// Removes `conn` from the registry (its teardown): it stops being an
    /// activator, and names it owns disappear.
    pub(crate) fn remove_conn(&mut self, conn: &Connection) {
        for e in self.entries.iter_mut() {
            if e.activator
                .as_deref()
                .is_some_and(|a| core::ptr::eq(a, conn))
            {
                e.activator = None;
            }
        }
        self.entries.retain(|e| !core::ptr::eq(&*e.owner, conn));
    }

    /// The entries `owner` owns.
    pub(crate) fn owned_by<'a>(
        &'a self,
        owner: &'a Connection,
    ) -> impl Iterator<Item = &'a NameEntry> + 'a {
        self.entries
            .iter()
            .filter(move |e| core::ptr::eq(&*e.owner, owner))
    }

    /// The entry of `name`.
    pub(crate) fn find(&self, name: &[u8]) -> Option<&NameEntry> {
        self.entries.iter().find(|e| e.name.as_slice() == name)
    }

    /// Every entry, in registration order.
    pub(crate) fn entries(&self) -> &[NameEntry] {
        &self.entries
    }
}

/// Whether `c` is a letter by the kernel's ctype (Latin-1 letters
/// `0xc0..=0xff` except `0xd7` and `0xf7` count).
fn is_alpha(c: u8) -> bool {
    c.is_ascii_alphabetic() || (c >= 0xc0 && c != 0xd7 && c != 0xf7)
}

/// Whether `name` (without NUL) is a valid well-known name; with `wildcard`,
/// a last element `*` is tolerated (`names-match-policy-metadata.md` §1.1).
pub(crate) fn is_valid(name: &[u8], wildcard: bool) -> bool {
    if name.is_empty() || name.len() > KDBUS_NAME_MAX_LEN {
        return false;
    }
    let mut elements = 0;
    let mut parts = name.split(|&c| c == b'.').peekable();
    while let Some(el) = parts.next() {
        elements += 1;
        let last = parts.peek().is_none();
        if el.is_empty() {
            return false;
        }
        if wildcard && last && el == b"*" && elements > 1 {
            continue;
        }
        if el[0].is_ascii_digit() {
            return false;
        }
        if !el
            .iter()
            .all(|&c| is_alpha(c) || c.is_ascii_digit() || c == b'_' || c == b'-')
        {
            return false;
        }
    }
    elements >= 2
}

/// Whether a valid policy name is a wildcard entry (`org.foo.*`).
pub(crate) fn is_wildcard(name: &[u8]) -> bool {
    name.ends_with(b".*")
}

#[kunit_tests(kdbus_names)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        for n in [
            &b"a.b"[..],
            b"org.freedesktop.DBus",
            b"_a.-b",
            b"a.b1",
            b"x-1.y_2.z",
            b"\xc0.b",
        ] {
            assert!(is_valid(n, false));
        }
    }

    #[test]
    fn invalid_names() {
        for n in [
            &b""[..],
            b"a",
            b".a.b",
            b"a.b.",
            b"a..b",
            b"1a.b",
            b"a.1b",
            b":1.42",
            b"a.b c",
            b"a.b@",
            b"a.\xd7",
        ] {
            assert!(!is_valid(n, false));
        }
        let mut long = [b'a'; 256];
        long[1] = b'.';
        assert!(is_valid(&long[..255], false));
        assert!(!is_valid(&long[..256], false));
    }

    #[test]
    fn wildcards() {
        assert!(is_valid(b"org.foo.*", true));
        assert!(!is_valid(b"org.foo.*", false));
        for n in [&b"org.foo*"[..], b"*.foo", b"org.*.foo", b"*", b"a.**"] {
            assert!(!is_valid(n, true));
        }
        assert!(is_wildcard(b"org.foo.*"));
        assert!(!is_wildcard(b"org.foo"));
    }
}
