// SPDX-License-Identifier: GPL-2.0

//! Metadata: what the kernel tells about a process (`names-match-policy-
//! metadata.md` §4).
//!
//! A [`Snapshot`] is taken from the calling task at BUS_MAKE (the bus
//! creator) and at HELLO (the connection), or built from faked items at a
//! privileged HELLO, and never refreshed. It is translated into the
//! reader's namespaces when exported.
//!
//! Collected now: credentials (CREDS, AUXGROUPS), PIDs, thread and process
//! comm. EXE, CMDLINE, CGROUP, CAPS, SECLABEL and AUDIT arrive with the
//! metadata issue; until then they are never "available", so they are
//! simply absent from answers (as on a kernel without the feature).

use kernel::{alloc::KVec, cred::Credential, prelude::*, sync::aref::ARef, task::Kuid};

use crate::{
    item::{push_item, push_str_item, push_struct_item},
    kext::{self, CredIds, CredentialExt, KernelId, Kgid, PidRef},
    uapi::*,
};

/// Process metadata, fixed at collection time.
pub(crate) struct Snapshot {
    /// The task's credentials (an immutable object, kept by reference).
    cred: Option<ARef<Credential>>,
    /// Faked CREDS of a privileged HELLO (an ID left out is invalid).
    faked_creds: Option<CredIds>,
    /// pid (thread), tgid (process), ppid (parent process).
    pids: Option<[PidRef; 3]>,
    tid_comm: Option<[u8; 16]>,
    pid_comm: Option<[u8; 16]>,
    seclabel: Option<KVec<u8>>,
}

/// Attach flags a snapshot can provide now.
const COLLECTED: u64 = KDBUS_ATTACH_CREDS
    | KDBUS_ATTACH_PIDS
    | KDBUS_ATTACH_AUXGROUPS
    | KDBUS_ATTACH_TID_COMM
    | KDBUS_ATTACH_PID_COMM;

impl Snapshot {
    /// Collects the calling task's metadata.
    pub(crate) fn current() -> Result<Self> {
        let (tid_comm, pid_comm) = kext::current_comm();
        Ok(Self {
            cred: Some(kext::current_cred()),
            faked_creds: None,
            pids: Some(kext::current_pids()),
            tid_comm: Some(tid_comm),
            pid_comm: Some(pid_comm),
            seclabel: None,
        })
    }

    /// Faked metadata of a privileged HELLO: only the given items exist.
    /// CREDS ids are read in the caller's user namespace (`EINVAL` when
    /// unmapped, `0xffffffff` stays invalid); PIDS must name existing tasks.
    pub(crate) fn faked(
        creds: Option<KdbusCreds>,
        pids: Option<KdbusPids>,
        seclabel: Option<&[u8]>,
    ) -> Result<Self> {
        let faked_creds = match creds {
            Some(c) => {
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
                Some(out)
            }
            None => None,
        };
        let pids = match pids {
            Some(p) => Some([
                PidRef::find(p.tid)?,
                PidRef::find(p.pid)?,
                PidRef::find(p.ppid)?,
            ]),
            None => None,
        };
        let seclabel = match seclabel {
            Some(s) => {
                let v = crate::copy_bytes(s)?;
                Some(v)
            }
            None => None,
        };
        Ok(Self {
            cred: None,
            faked_creds,
            pids,
            tid_comm: None,
            pid_comm: None,
            seclabel,
        })
    }

    /// The credentials collected, unless faked.
    pub(crate) fn cred(&self) -> Option<&Credential> {
        self.cred.as_deref()
    }

    /// Whether this is faked metadata of a privileged HELLO.
    pub(crate) fn is_faked(&self) -> bool {
        self.cred.is_none()
    }

    /// Which attach flags this snapshot can provide.
    pub(crate) fn available(&self) -> u64 {
        if self.cred.is_some() {
            return COLLECTED;
        }
        let mut a = 0;
        if self.faked_creds.is_some() {
            a |= KDBUS_ATTACH_CREDS;
        }
        if self.pids.is_some() {
            a |= KDBUS_ATTACH_PIDS;
        }
        if self.seclabel.is_some() {
            a |= KDBUS_ATTACH_SECLABEL;
        }
        a
    }

    /// Appends the metadata items selected by `mask` to `out`, in the
    /// order of `connection-pool.md` §7.3, translated for the calling task.
    pub(crate) fn write_items(&self, mask: u64, out: &mut KVec<u8>) -> Result {
        let mask = mask & self.available();
        if mask & KDBUS_ATTACH_CREDS != 0 {
            let ids = match (&self.cred, &self.faked_creds) {
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
            if let Some([pid, tgid, ppid]) = &self.pids {
                let pids = KdbusPids {
                    pid: u64::from(tgid.nr_for_current()),
                    tid: u64::from(pid.nr_for_current()),
                    ppid: u64::from(ppid.nr_for_current()),
                };
                push_struct_item(out, KDBUS_ITEM_PIDS, &pids)?;
            }
        }
        if mask & KDBUS_ATTACH_AUXGROUPS != 0 {
            if let Some(c) = &self.cred {
                let groups = c.groups();
                let mut p = KVec::with_capacity(groups.len(), GFP_KERNEL)?;
                for g in groups {
                    p.push(u64::from(g.munged_for_current()), GFP_KERNEL)?;
                }
                push_item(out, KDBUS_ITEM_AUXGROUPS, crate::wire::bytes(&p[..]))?;
            }
        }
        if mask & KDBUS_ATTACH_TID_COMM != 0 {
            if let Some(c) = &self.tid_comm {
                push_str_item(out, KDBUS_ITEM_TID_COMM, c)?;
            }
        }
        if mask & KDBUS_ATTACH_PID_COMM != 0 {
            if let Some(c) = &self.pid_comm {
                push_str_item(out, KDBUS_ITEM_PID_COMM, c)?;
            }
        }
        if mask & KDBUS_ATTACH_SECLABEL != 0 {
            if let Some(s) = &self.seclabel {
                push_str_item(out, KDBUS_ITEM_SECLABEL, s)?;
            }
        }
        Ok(())
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
