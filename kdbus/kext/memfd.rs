// SPDX-License-Identifier: GPL-2.0

//! memfds: the seals and size of a shmem file.

use kernel::{bindings, prelude::*};

use super::kdbus_memfd_info;

/// The seals that make a memfd's contents immutable (what a PAYLOAD_MEMFD
/// needs, `message.md` §2.5).
pub(crate) const SEALS_IMMUTABLE: u32 = bindings::F_SEAL_SHRINK
    | bindings::F_SEAL_GROW
    | bindings::F_SEAL_WRITE
    | bindings::F_SEAL_SEAL;

/// The seals and size of a memfd (`EMEDIUMTYPE` if not a shmem file).
pub(crate) fn memfd_info(file: &kernel::fs::File) -> Result<(u32, u64)> {
    let mut size: bindings::loff_t = 0;
    // SAFETY: `file` is live for the call; `size` is valid for a write.
    let seals = unsafe { kdbus_memfd_info(file.as_ptr(), &mut size) };
    if seals < 0 {
        return Err(Error::from_errno(seals));
    }
    Ok((seals as u32, u64::try_from(size).unwrap_or(0)))
}
