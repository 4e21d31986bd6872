// SPDX-License-Identifier: GPL-2.0

//! Error codes that the `kernel` crate of 7.3 declares (and its prelude
//! exports) but 7.2's does not: on 7.2 they are declared here, as
//! `kernel::error::code` declares its own, so that `crate::kext::prelude`
//! offers the same names on both kernels (Documentation/kdbus/kernels.rst).
//! Only the codes kdbus uses; add one when the 7.2 build says it is missing.

use core::num::NonZeroI32;
use kernel::{bindings, error::code::EINVAL, prelude::*};

// `Error` of 7.2 (`rust/kernel/error.rs`) is a struct whose only field is a
// `NonZeroI32` holding the negative errno, and `Error::try_from_errno`, the
// `const fn` behind `declare_err!`, is private. `transmute` below checks at
// build time that `Error` and `NonZeroI32` have the same size, so the one
// field fills the struct and both share one layout; this assertion checks,
// also at build time, that the field holds the negative errno as assumed.
const _: () = assert!(
    // SAFETY: `Error` and `i32` have the same size (checked by `transmute`)
    // and every bit pattern is a valid `i32`.
    unsafe { core::mem::transmute::<Error, i32>(EINVAL) } == -(bindings::EINVAL as i32)
);

/// `Error` for the positive errno `errno` at build time (`EINVAL` if out
/// of range, which no `bindings::E*` is).
const fn declare(errno: u32) -> Error {
    if errno == 0 || errno > bindings::MAX_ERRNO {
        return EINVAL;
    }
    match NonZeroI32::new(-(errno as i32)) {
        // SAFETY: `Error` is a single `NonZeroI32` field holding the
        // negative errno (asserted above), and the value is within
        // `-MAX_ERRNO..0`, which is `Error`'s invariant.
        Some(v) => unsafe { core::mem::transmute::<NonZeroI32, Error>(v) },
        None => EINVAL,
    }
}

macro_rules! declare_err {
    ($($err:ident),* $(,)?) => {
        $(
            #[doc = concat!("`-", stringify!($err), "`.")]
            pub(crate) const $err: Error = declare(bindings::$err);
        )*
    };
}

declare_err!(
    EADDRINUSE,
    EADDRNOTAVAIL,
    EALREADY,
    EBADFD,
    EBADMSG,
    EBADSLT,
    ECANCELED,
    ECOMM,
    ECONNREFUSED,
    ECONNRESET,
    EDESTADDRREQ,
    ENAMETOOLONG,
    ENOBUFS,
    ENOTUNIQ,
    EOPNOTSUPP,
    EREMCHG,
    EREMOTEIO,
    ESHUTDOWN,
    EXFULL,
);
