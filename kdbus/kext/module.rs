// SPDX-License-Identifier: GPL-2.0

//! Module parameters readable and writable through sysfs, `modinfo`
//! entries and the module pointer.

use kernel::{bindings, sync::atomic::Atomic};

/// A `u64` module parameter that is readable and writable through sysfs.
///
/// The `module!` macro of this kernel registers its parameters with
/// permission 0 (never in sysfs) and stores them in a set-once cell. kdbus's
/// `attach_flags_mask` must be readable and writable by root at
/// `/sys/module/kdbus/parameters/` at any time, so it is declared with
/// [`module_param_rw_u64!`] instead, which registers the kernel's own
/// `param_ops_ullong` on this value.
///
/// # Invariants
///
/// The value is only written by `param_ops_ullong.set` (under
/// `kernel_param_lock`, as a single aligned 64-bit store) and read here with
/// an atomic load, the Rust form of `READ_ONCE()`.
#[repr(transparent)]
pub(crate) struct ParamU64(Atomic<u64>);

impl ParamU64 {
    /// Creates the parameter storage with its default value.
    pub(crate) const fn new(default: u64) -> Self {
        Self(Atomic::new(default))
    }

    /// Returns the current value.
    pub(crate) fn get(&self) -> u64 {
        self.0.load(kernel::sync::atomic::Relaxed)
    }

    /// The pointer `param_ops_ullong` stores through.
    pub(crate) const fn as_arg(&self) -> *mut kernel::ffi::c_void {
        self.0.as_ptr().cast()
    }
}

/// Wrapper that makes a `kernel_param` usable in a `static`.
#[repr(transparent)]
pub(crate) struct KernelParamRw(pub(crate) bindings::kernel_param);

// SAFETY: The kernel serialises all accesses to a `kernel_param` through
// `kernel_param_lock`; Rust never touches it after it is built.
unsafe impl Sync for KernelParamRw {}

/// Declares a sysfs-visible (mode 0644) `u64` module parameter.
///
/// `module_param_rw_u64!(STATIC, "module", "name", default, "description")`
/// defines `STATIC: ParamU64` and registers it as `module.name`, exactly as
/// C's `module_param(name, ullong, 0644)` with `MODULE_PARM_DESC` would, in
/// a loadable module (`cfg(MODULE)`) and built into the kernel: there the
/// parameter's and the `.modinfo` names carry the module's name, and there
/// is no module to point to.
macro_rules! module_param_rw_u64 {
    ($var:ident, $module:literal, $name:literal, $default:expr, $desc:literal) => {
        pub(crate) static $var: $crate::kext::ParamU64 = $crate::kext::ParamU64::new($default);

        const _: () = {
            #[link_section = "__param"]
            #[used(compiler)]
            static PARAM: $crate::kext::KernelParamRw =
                $crate::kext::KernelParamRw(::kernel::bindings::kernel_param {
                    name: ::kernel::str::as_char_ptr_in_const_context(if cfg!(MODULE) {
                        ::kernel::c_str!($name)
                    } else {
                        ::kernel::c_str!(concat!($module, ".", $name))
                    }),
                    // `__this_module` is constructed by the kernel at load
                    // time and outlives every parameter access.
                    #[cfg(MODULE)]
                    mod_: &raw mut ::kernel::bindings::__this_module,
                    #[cfg(not(MODULE))]
                    mod_: ::core::ptr::null_mut(),
                    // Taking the address of an extern static is safe;
                    // `param_ops_ullong` is the kernel's own, immutable ops.
                    ops: ::core::ptr::addr_of!(::kernel::bindings::param_ops_ullong),
                    perm: 0o644,
                    level: -1,
                    flags: 0,
                    __bindgen_anon_1: ::kernel::bindings::kernel_param__bindgen_ty_1 {
                        arg: $var.as_arg(),
                    },
                });

            #[cfg(MODULE)]
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARMTYPE: [u8; concat!("parmtype=", $name, ":ullong\0").len()] =
                $crate::kext::modinfo(concat!("parmtype=", $name, ":ullong\0"));
            #[cfg(MODULE)]
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARM: [u8; concat!("parm=", $name, ":", $desc, "\0").len()] =
                $crate::kext::modinfo(concat!("parm=", $name, ":", $desc, "\0"));
            // Built in, `.modinfo` names carry the module's name (C's
            // `__MODULE_INFO_PREFIX`).
            #[cfg(not(MODULE))]
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARMTYPE: [u8; concat!($module, ".parmtype=", $name, ":ullong\0").len()] =
                $crate::kext::modinfo(concat!($module, ".parmtype=", $name, ":ullong\0"));
            #[cfg(not(MODULE))]
            #[link_section = ".modinfo"]
            #[used(compiler)]
            static PARM: [u8; concat!($module, ".parm=", $name, ":", $desc, "\0").len()] =
                $crate::kext::modinfo(concat!($module, ".parm=", $name, ":", $desc, "\0"));
        };
    };
}
pub(crate) use module_param_rw_u64;

/// Copies a `.modinfo` string into a byte array of its exact length.
pub(crate) const fn modinfo<const N: usize>(s: &str) -> [u8; N] {
    let bytes = s.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N && i < bytes.len() {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

/// This module, for `file_operations.owner`: null when kdbus is built
/// into the kernel (C's `THIS_MODULE`).
pub(crate) const fn this_module() -> *mut bindings::module {
    #[cfg(MODULE)]
    {
        // Taking the address of the module's `__this_module` is safe; it
        // lives as long as the module.
        &raw mut bindings::__this_module
    }
    #[cfg(not(MODULE))]
    {
        core::ptr::null_mut()
    }
}
