// SPDX-License-Identifier: GPL-2.0

//! The numeric limits of the kdbus ABI (`abi.md` §9), in one place.
//!
//! Userspace was written against these numbers; they are part of the ABI and
//! never tuned.

#![allow(dead_code)] // Each limit is used by the command that enforces it.

use kernel::prelude::*;

/// Largest `size` of any command struct including its items.
pub(crate) const CMD_MAX_SIZE: u64 = 32 * 1024;
/// Largest `kdbus_msg.size` (header and items; payload data not counted).
pub(crate) const MSG_MAX_SIZE: u64 = 8 * 1024;
/// Most items in one message.
pub(crate) const MSG_MAX_ITEMS: usize = 128;
/// Most PAYLOAD_MEMFD items in one message.
pub(crate) const MSG_MAX_MEMFD_ITEMS: usize = 16;
/// Largest sum of PAYLOAD_VEC sizes in one message.
pub(crate) const MSG_MAX_PAYLOAD_VEC_SIZE: u64 = 2 * 1024 * 1024;
/// Most fds in one FDS item, and in flight from one user to one receiver.
pub(crate) const CONN_MAX_FDS_PER_USER: usize = 16;
/// Largest bloom filter size at BUS_MAKE.
pub(crate) const BUS_BLOOM_MAX_SIZE: u64 = 4096;
/// Longest well-known name, without the NUL.
pub(crate) const NAME_MAX_LEN: usize = 255;
/// Longest bus name, endpoint name or connection description, without NUL.
pub(crate) const SYSNAME_MAX_LEN: usize = 63;
/// Most match entries per connection.
pub(crate) const MATCH_MAX: usize = 256;
/// Most messages queued on one receiver by one sending user.
pub(crate) const CONN_MAX_MSGS: usize = 256;
/// Most well-known names owned by one connection.
pub(crate) const CONN_MAX_NAMES: usize = 256;
/// Most outstanding method calls a connection waits on.
pub(crate) const CONN_MAX_REQUESTS_PENDING: usize = 128;
/// Most connections per user per domain.
pub(crate) const USER_MAX_CONN: usize = 1024;
/// Most buses per user per domain.
pub(crate) const USER_MAX_BUSES: usize = 16;

/// Default of the `attach_flags_mask` module parameter: TIMESTAMP | CREDS |
/// PIDS | AUXGROUPS | NAMES | SECLABEL | CONN_DESCRIPTION.
pub(crate) const ATTACH_FLAGS_MASK_DEFAULT: u64 = 0x281f;

/// Rounds `x` up to a multiple of 8, or `None` if that overflows.
pub(crate) const fn align8(x: u64) -> Option<u64> {
    match x.checked_add(7) {
        Some(v) => Some(v & !7),
        None => None,
    }
}

#[kunit_tests(kdbus_limits)]
mod tests {
    use super::*;

    #[test]
    fn align8_rounds_up() {
        assert_eq!(align8(0), Some(0));
        assert_eq!(align8(1), Some(8));
        assert_eq!(align8(7), Some(8));
        assert_eq!(align8(8), Some(8));
        assert_eq!(align8(9), Some(16));
        assert_eq!(align8(u64::MAX - 7), Some(u64::MAX - 7));
    }

    #[test]
    fn align8_overflow_is_none() {
        assert_eq!(align8(u64::MAX - 6), None);
        assert_eq!(align8(u64::MAX), None);
    }

    #[test]
    fn default_attach_mask_is_the_references() {
        // TIMESTAMP 1<<0, CREDS 1<<1, PIDS 1<<2, AUXGROUPS 1<<3, NAMES 1<<4,
        // SECLABEL 1<<11, CONN_DESCRIPTION 1<<13.
        let want = 1 | 1 << 1 | 1 << 2 | 1 << 3 | 1 << 4 | 1 << 11 | 1 << 13;
        assert_eq!(ATTACH_FLAGS_MASK_DEFAULT, want);
        assert_eq!(ATTACH_FLAGS_MASK_DEFAULT, 10271);
    }
}
