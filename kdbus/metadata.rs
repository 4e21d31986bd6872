// SPDX-License-Identifier: GPL-2.0

//! Metadata: what the kernel tells about a process (`names-match-policy-
//! metadata.md` §4).
//!
//! A [`Snapshot`] holds the process items of one task at one moment: of
//! the bus creator at BUS_MAKE and of a connection at HELLO (all eleven
//! items, [`Snapshot::current`]), built from faked items at a privileged
//! HELLO ([`Snapshot::faked`]), or of a sending task at SEND. A SEND fills
//! its snapshot lazily ([`Snapshot::collect`]): each part is collected the
//! first time a receiver needs it, at most once per message, and every
//! receiver's entry records which parts existed when it was staged.
//!
//! Items are translated into the reader's namespaces when they are written
//! (§4.4): IDs mapped (the overflow ID when unmapped), pids in the reader's
//! pid namespace (0 when invisible), the audit login UID mapped
//! (`0xffffffff` when unmapped), CAPS dropped for a reader in another user
//! namespace and EXE for a reader with another filesystem root. Dropping
//! only ever shortens the block, so the size written in the sender's
//! context with nothing dropped ([`View::Estimate`]) bounds every reader's.

use crate::kext::prelude::*;
use kernel::{
    alloc::KVec,
    cred::Credential,
    security::SecurityCtx,
    sync::{
        aref::ARef,
        atomic::{ordering, Atomic},
        SetOnce,
    },
    task::Kuid,
};

use crate::{
    item::{push_item, push_str_item, push_struct_item},
    kext::{self, CredIds, CredentialExt, FsRoot, KernelId, Kgid, PidRef, CAP_LAST_CAP},
    uapi::*,
};

/// The attach flags of process metadata (collected from a task).
pub(crate) const PROCESS_META: u64 = KDBUS_ATTACH_CREDS
    | KDBUS_ATTACH_PIDS
    | KDBUS_ATTACH_AUXGROUPS
    | KDBUS_ATTACH_TID_COMM
    | KDBUS_ATTACH_PID_COMM
    | KDBUS_ATTACH_EXE
    | KDBUS_ATTACH_CMDLINE
    | KDBUS_ATTACH_CGROUP
    | KDBUS_ATTACH_CAPS
    | KDBUS_ATTACH_SECLABEL
    | KDBUS_ATTACH_AUDIT;

/// The items read from the credentials.
const CRED_ITEMS: u64 = KDBUS_ATTACH_CREDS | KDBUS_ATTACH_AUXGROUPS | KDBUS_ATTACH_CAPS;

/// The items of the comm part.
const COMM_ITEMS: u64 = KDBUS_ATTACH_TID_COMM | KDBUS_ATTACH_PID_COMM;

/// For whom items are written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    /// The calling task, which reads them (§4.4).
    Reader,
    /// The size reserved at enqueue: nothing dropped, the largest block.
    Estimate,
}

/// Process metadata, fixed at collection time; each part is set once.
pub(crate) struct Snapshot {
    /// Built from faked items: no part is ever collected.
    faked: bool,
    /// The task's credentials (an immutable object, kept by reference):
    /// CREDS, AUXGROUPS, CAPS and their user namespace.
    cred: SetOnce<ARef<Credential>>,
    /// Faked CREDS of a privileged HELLO (an ID left out is invalid).
    faked_creds: Option<CredIds>,
    /// pid (thread), tgid (process), ppid (parent process).
    pids: SetOnce<[PidRef; 3]>,
    /// The thread's and the thread group leader's comm.
    comm: SetOnce<[[u8; 16]; 2]>,
    /// The executable's path, as the task's root showed it, and that root.
    exe: SetOnce<(KVec<u8>, FsRoot)>,
    /// argv[0].
    cmdline: SetOnce<KVec<u8>>,
    /// The path in the default cgroup hierarchy.
    cgroup: SetOnce<KVec<u8>>,
    /// The LSM context.
    seclabel: SetOnce<KVec<u8>>,
    /// The audit session ID and login UID.
    audit: SetOnce<(u32, Kuid)>,
    /// The process items whose collection was tried; written only by the
    /// task that collects (one SEND, HELLO or BUS_MAKE).
    tried: Atomic<u64>,
    /// Those of them whose collection failed, and the first error (an
    /// errno); as `tried`.
    failed: Atomic<u64>,
    error: Atomic<i32>,
}

impl Snapshot {
    /// A snapshot with nothing collected yet.
    fn empty(faked: bool) -> Self {
        Self {
            faked,
            cred: SetOnce::new(),
            faked_creds: None,
            pids: SetOnce::new(),
            comm: SetOnce::new(),
            exe: SetOnce::new(),
            cmdline: SetOnce::new(),
            cgroup: SetOnce::new(),
            seclabel: SetOnce::new(),
            audit: SetOnce::new(),
            tried: Atomic::new(0),
            failed: Atomic::new(0),
            error: Atomic::new(0),
        }
    }

    /// A snapshot of a SEND, filled by [`Snapshot::collect`].
    pub(crate) fn lazy() -> Self {
        Self::empty(false)
    }

    /// All process items of the calling task (HELLO, BUS_MAKE, §4.2); any
    /// collection failure fails.
    pub(crate) fn current() -> Result<Self> {
        let s = Self::empty(false);
        s.collect(PROCESS_META, true)?;
        Ok(s)
    }

    /// Collects from the calling task the parts of the process items in
    /// `what` not collected (or tried) yet. A failing part is left absent.
    /// When `strict` (§4.2: HELLO, BUS_MAKE, unicast non-signals), a part
    /// of `what` that failed, now or for an earlier receiver of the same
    /// message, fails the collection with its error; otherwise failures are
    /// ignored. Only one task may collect into a snapshot (its creator,
    /// before or while sharing it).
    pub(crate) fn collect(&self, what: u64, strict: bool) -> Result {
        if self.faked {
            return Ok(());
        }
        let tried = self.tried.load(ordering::Relaxed);
        let new = what & PROCESS_META & !tried;
        if new != 0 {
            self.tried.store(tried | new, ordering::Relaxed);
            self.collect_new(new);
        }
        if strict && what & self.failed.load(ordering::Relaxed) != 0 {
            return Err(Error::from_errno(self.error.load(ordering::Relaxed)));
        }
        Ok(())
    }

    /// Collects the parts of the items in `new`, recording the failures.
    fn collect_new(&self, new: u64) {
        self.part(new, CRED_ITEMS, &self.cred, || {
            Ok(Some(kext::current_cred()))
        });
        self.part(new, KDBUS_ATTACH_PIDS, &self.pids, || {
            Ok(Some(kext::current_pids()))
        });
        self.part(new, COMM_ITEMS, &self.comm, || {
            let (tid, pid) = kext::current_comm();
            Ok(Some([tid, pid]))
        });
        self.part(new, KDBUS_ATTACH_EXE, &self.exe, kext::current_exe);
        self.part(
            new,
            KDBUS_ATTACH_CMDLINE,
            &self.cmdline,
            kext::current_argv0,
        );
        self.part(new, KDBUS_ATTACH_CGROUP, &self.cgroup, kext::current_cgroup);
        self.part(new, KDBUS_ATTACH_SECLABEL, &self.seclabel, current_seclabel);
        self.part(new, KDBUS_ATTACH_AUDIT, &self.audit, || {
            Ok(kext::current_audit())
        });
    }

    /// Collects the part of the items `bits` into `slot` if `new` asks for
    /// one of them and the slot is empty: `get` gives its value, or `None`
    /// for a task that has none (the items are then absent). A failure
    /// leaves the slot empty and is recorded (`failed`, and `error` for the
    /// first one).
    fn part<T>(
        &self,
        new: u64,
        bits: u64,
        slot: &SetOnce<T>,
        get: impl FnOnce() -> Result<Option<T>>,
    ) {
        if new & bits == 0 || slot.as_ref().is_some() {
            return;
        }
        match get() {
            Ok(Some(v)) => {
                slot.populate(v);
            }
            Ok(None) => {}
            Err(e) => {
                let failed = self.failed.load(ordering::Relaxed);
                if failed == 0 {
                    self.error.store(e.to_errno(), ordering::Relaxed);
                }
                self.failed.store(failed | (new & bits), ordering::Relaxed);
            }
        }
    }

    /// Faked metadata of a privileged HELLO: only the given items exist.
    /// CREDS ids are read in the caller's user namespace (`EINVAL` when
    /// unmapped, `0xffffffff` stays invalid); PIDS must name existing tasks.
    pub(crate) fn faked(
        creds: Option<KdbusCreds>,
        pids: Option<KdbusPids>,
        seclabel: Option<&[u8]>,
    ) -> Result<Self> {
        let mut s = Self::empty(true);
        if let Some(c) = creds {
            let ids = [
                c.uid, c.euid, c.suid, c.fsuid, c.gid, c.egid, c.sgid, c.fsgid,
            ];
            // The `i`th ID; `None` for `(u32)-1`, which stays invalid.
            let id = |i: usize| -> Result<Option<u32>> {
                let v = ids.get(i).copied().ok_or(EINVAL)?;
                if v == u64::from(u32::MAX) {
                    return Ok(None);
                }
                u32::try_from(v).map(Some).map_err(|_| EINVAL)
            };
            let mut out = CredIds::invalid();
            for (i, o) in out.uids.iter_mut().enumerate() {
                if let Some(v) = id(i)? {
                    *o = Kuid::from_current_ns(v)?;
                }
            }
            for (i, o) in out.gids.iter_mut().enumerate() {
                if let Some(v) = id(4 + i)? {
                    *o = Kgid::from_current_ns(v)?;
                }
            }
            s.faked_creds = Some(out);
        }
        if let Some(p) = pids {
            s.pids.populate([
                PidRef::find(p.tid)?,
                PidRef::find(p.pid)?,
                PidRef::find(p.ppid)?,
            ]);
        }
        if let Some(l) = seclabel {
            s.seclabel.populate(crate::copy_bytes(l)?);
        }
        Ok(s)
    }

    /// The credentials collected, unless faked.
    pub(crate) fn cred(&self) -> Option<&Credential> {
        self.cred.as_ref().map(|c| &**c)
    }

    /// Whether this is faked metadata of a privileged HELLO.
    pub(crate) fn is_faked(&self) -> bool {
        self.faked
    }

    /// Which attach flags this snapshot can provide now.
    pub(crate) fn available(&self) -> u64 {
        let mut a = 0;
        let mut has = |present: bool, bits: u64| {
            if present {
                a |= bits;
            }
        };
        has(self.cred.as_ref().is_some(), CRED_ITEMS);
        has(self.faked_creds.is_some(), KDBUS_ATTACH_CREDS);
        has(self.pids.as_ref().is_some(), KDBUS_ATTACH_PIDS);
        has(self.comm.as_ref().is_some(), COMM_ITEMS);
        has(self.exe.as_ref().is_some(), KDBUS_ATTACH_EXE);
        has(self.cmdline.as_ref().is_some(), KDBUS_ATTACH_CMDLINE);
        has(self.cgroup.as_ref().is_some(), KDBUS_ATTACH_CGROUP);
        has(self.seclabel.as_ref().is_some(), KDBUS_ATTACH_SECLABEL);
        has(self.audit.as_ref().is_some(), KDBUS_ATTACH_AUDIT);
        a
    }

    /// Appends the process items selected by `mask` to `out`, in the order
    /// of §4.1, translated for the calling task unless `view` is
    /// [`View::Estimate`].
    pub(crate) fn write_items(&self, mask: u64, out: &mut KVec<u8>, view: View) -> Result {
        let mask = mask & self.available();
        if mask & KDBUS_ATTACH_CREDS != 0 {
            let ids = match (self.cred.as_ref(), &self.faked_creds) {
                (Some(c), _) => c.ids(),
                (None, Some(f)) => *f,
                (None, None) => CredIds::invalid(),
            };
            let [uid, euid, suid, fsuid] = ids.uids.map(id_for_current);
            let [gid, egid, sgid, fsgid] = ids.gids.map(id_for_current);
            let creds = KdbusCreds {
                uid,
                euid,
                suid,
                fsuid,
                gid,
                egid,
                sgid,
                fsgid,
            };
            push_struct_item(out, KDBUS_ITEM_CREDS, &creds)?;
        }
        if mask & KDBUS_ATTACH_PIDS != 0 {
            if let Some([pid, tgid, ppid]) = self.pids.as_ref() {
                let pids = KdbusPids {
                    pid: u64::from(tgid.nr_for_current()),
                    tid: u64::from(pid.nr_for_current()),
                    ppid: u64::from(ppid.nr_for_current()),
                };
                push_struct_item(out, KDBUS_ITEM_PIDS, &pids)?;
            }
        }
        if mask & KDBUS_ATTACH_AUXGROUPS != 0 {
            if let Some(c) = self.cred.as_ref() {
                let groups = c.groups();
                let mut p = KVec::with_capacity(groups.len(), GFP_KERNEL)?;
                for g in groups {
                    p.push(u64::from(g.munged_for_current()), GFP_KERNEL)?;
                }
                push_item(out, KDBUS_ITEM_AUXGROUPS, crate::wire::bytes(&p[..]))?;
            }
        }
        if let Some([tid, pid]) = self.comm.as_ref() {
            if mask & KDBUS_ATTACH_TID_COMM != 0 {
                push_str_item(out, KDBUS_ITEM_TID_COMM, tid)?;
            }
            if mask & KDBUS_ATTACH_PID_COMM != 0 {
                push_str_item(out, KDBUS_ITEM_PID_COMM, pid)?;
            }
        }
        if mask & KDBUS_ATTACH_EXE != 0 {
            if let Some((path, root)) = self.exe.as_ref() {
                // Rendered against the collecting task's root: the same
                // text for a reader with that root; no item for others.
                if view == View::Estimate || root.is_current() {
                    push_str_item(out, KDBUS_ITEM_EXE, path)?;
                }
            }
        }
        if mask & KDBUS_ATTACH_CMDLINE != 0 {
            if let Some(c) = self.cmdline.as_ref() {
                push_str_item(out, KDBUS_ITEM_CMDLINE, c)?;
            }
        }
        if mask & KDBUS_ATTACH_CGROUP != 0 {
            if let Some(c) = self.cgroup.as_ref() {
                push_str_item(out, KDBUS_ITEM_CGROUP, c)?;
            }
        }
        if mask & KDBUS_ATTACH_CAPS != 0 {
            if let Some(c) = self.cred.as_ref() {
                if view == View::Estimate || c.in_current_user_ns() {
                    push_item(
                        out,
                        KDBUS_ITEM_CAPS,
                        crate::wire::bytes(&caps_payload(c.caps())),
                    )?;
                }
            }
        }
        if mask & KDBUS_ATTACH_SECLABEL != 0 {
            if let Some(s) = self.seclabel.as_ref() {
                push_str_item(out, KDBUS_ITEM_SECLABEL, s)?;
            }
        }
        if mask & KDBUS_ATTACH_AUDIT != 0 {
            if let Some((sessionid, loginuid)) = self.audit.as_ref() {
                let audit = KdbusAudit {
                    sessionid: *sessionid,
                    loginuid: loginuid.for_current().unwrap_or(u32::MAX),
                };
                push_struct_item(out, KDBUS_ITEM_AUDIT, &audit)?;
            }
        }
        Ok(())
    }
}

/// The payload of a CAPS item for the inheritable, permitted, effective
/// and bounding `sets`: `last_cap`, then each set as two 32-bit words (low
/// first), bits above `CAP_LAST_CAP` cleared.
fn caps_payload(sets: [u64; 4]) -> [u32; 9] {
    let valid = u64::MAX >> (63 - CAP_LAST_CAP.min(63));
    let mut out = [0u32; 9];
    out[0] = CAP_LAST_CAP;
    for (words, set) in out[1..].chunks_exact_mut(2).zip(sets) {
        let set = set & valid;
        words[0] = set as u32;
        words[1] = (set >> 32) as u32;
    }
    out
}

/// The calling task's LSM context; `None` when no LSM provides one
/// (the same condition under which reading `/proc/self/attr/current`
/// fails).
fn current_seclabel() -> Result<Option<KVec<u8>>> {
    let secid = kext::current_cred().get_secid();
    match SecurityCtx::from_secid(secid) {
        Ok(ctx) if !ctx.is_empty() => crate::copy_bytes(ctx.as_bytes()).map(Some),
        Ok(_) => Ok(None),
        Err(e) if e == EOPNOTSUPP || e == EINVAL => Ok(None),
        Err(e) => Err(e),
    }
}

/// A CREDS or AUXGROUPS value: the ID as the reader's user namespace sees
/// it (the overflow ID if unmapped); an invalid ID stays `(u32)-1`.
fn id_for_current(id: impl KernelId) -> u64 {
    if id.is_valid() {
        u64::from(id.munged_for_current())
    } else {
        u64::from(u32::MAX)
    }
}

#[kunit_tests(kdbus_metadata)]
mod tests {
    use super::*;

    #[test]
    fn caps_payload_clears_bits_above_last_cap() {
        let p = caps_payload([u64::MAX, 0, 1 << 3, (1 << 40) | 1]);
        assert_eq!(p[0], CAP_LAST_CAP);
        // Inheritable: every valid bit, nothing above.
        let high = (u64::MAX >> (63 - CAP_LAST_CAP) >> 32) as u32;
        assert_eq!((p[1], p[2]), (u32::MAX, high));
        assert_eq!((p[3], p[4]), (0, 0));
        assert_eq!((p[5], p[6]), (1 << 3, 0));
        let bit40 = if CAP_LAST_CAP >= 40 { 1 << 8 } else { 0 };
        assert_eq!((p[7], p[8]), (1, bit40));
    }
}
