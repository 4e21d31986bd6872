// SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note

//! The kdbus userspace ABI for Rust.
//!
//! This crate mirrors the C uapi header `<linux/kdbus.h>` of the final
//! gregkh/kdbus tree as specified byte for byte in `shared/spec/abi.md`:
//! ioctl request numbers, every `#[repr(C)]` structure, item types, flag
//! values, the item alignment helpers and the numeric limits.
//!
//! # Conventions
//!
//! * Constants keep the exact C names (`KDBUS_ITEM_NAME`, `KDBUS_HELLO_MONITOR`,
//!   `_KDBUS_ATTACH_ALL`, ...), so C and Rust code share one vocabulary.
//! * Structures are named in CamelCase after their C tag (`struct kdbus_cmd_hello`
//!   is [`KdbusCmdHello`]); fields keep the C names (`type` is spelled `r#type`).
//! * All structures are `#[repr(C, align(8))]`; their layout is identical for
//!   32-bit and 64-bit processes.
//! * C flexible array members (`items[]`, `name[]`, `data[]`, `caps[]`) are not
//!   fields; each structure that has one exposes its offset as an associated
//!   constant (`ITEMS_OFFSET`, `NAME_OFFSET`, `DATA_OFFSET`, `CAPS_OFFSET`).
//! * The `u64` unions `kdbus_vec.address/offset` and
//!   `kdbus_msg.timeout_ns/cookie_reply` are a single field named after the
//!   first union member, with accessors for the second one.
//! * ioctl request numbers are `u32`; item types, flag sets, IDs and payload
//!   types are `u64`; size limits that are compared with `u64` wire fields are
//!   `u64`, counts and string lengths are `usize`.
//!
//! Items are always sized by their `size` field: never read a whole
//! [`KdbusItem`] (80 bytes) from foreign memory, read the 16-byte
//! [`KdbusItemHeader`] and then exactly `size - 16` payload bytes.

#![no_std]
#![warn(missing_docs)]

mod abi;
pub use abi::*;
