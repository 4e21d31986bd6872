// SPDX-License-Identifier: GPL-2.0

//! Memory: the shared zero page in a mixed map, removing page table
//! entries from the mappings of a file, user address checks, RAM size.

use kernel::{bindings, error::to_result, prelude::*};

use super::{kdbus_access_ok, kdbus_totalram_pages, kdbus_zero_page};

/// Maps the shared zero page at `address` of `vma` (read-only mappings
/// only: `vm_insert_page` refuses it where a PTE could become writable).
pub(crate) fn vm_insert_zero_page(vma: &kernel::mm::virt::VmaMixedMap, address: usize) -> Result {
    // SAFETY: `vma` is a live VMA whose caller holds the locks
    // `vm_insert_page` needs (a `VmaMixedMap` exists only in that state);
    // the zero page lives for ever.
    to_result(unsafe { bindings::vm_insert_page(vma.as_ptr(), address, kdbus_zero_page()) })
}

/// The page-cache mapping (`struct address_space`) that the user mappings
/// of a file are linked in, to remove page table entries from all of them.
///
/// # Invariants
///
/// `mapping` is a live `address_space`; the owner of this value keeps it
/// alive (by keeping a VMA of the file, which holds the file).
pub(crate) struct FileMapping {
    mapping: core::ptr::NonNull<bindings::address_space>,
}

// SAFETY: An `address_space` may be used from any task; `unmap_mapping_range`
// takes its own locks.
unsafe impl Send for FileMapping {}

impl FileMapping {
    /// The mapping of the file of `vma`; `None` for an anonymous VMA.
    ///
    /// # Safety
    ///
    /// `vma` is a live VMA; the caller keeps it (and so its file) alive for
    /// as long as it uses the returned value.
    pub(crate) unsafe fn of_vma(vma: *mut bindings::vm_area_struct) -> Option<Self> {
        // SAFETY: `vma` is live (caller); `vm_file` of a file VMA is a
        // counted file, whose `f_mapping` is set for its whole life.
        let mapping = unsafe {
            let file = (*vma).vm_file;
            if file.is_null() {
                return None;
            }
            (*file).f_mapping
        };
        core::ptr::NonNull::new(mapping).map(|mapping| Self { mapping })
    }

    /// Removes the page table entries of page `idx` (file offset
    /// `idx * PAGE_SIZE`) from every user mapping of the file.
    pub(crate) fn unmap_page(&self, idx: usize) {
        let page = kernel::page::PAGE_SIZE as bindings::loff_t;
        let start = (idx as bindings::loff_t).saturating_mul(page);
        // SAFETY: `mapping` is live by the type invariant.
        unsafe { bindings::unmap_mapping_range(self.mapping.as_ptr(), start, page, 0) };
    }
}

/// Whether `[addr, addr + size)` is a valid userspace range (`access_ok`).
pub(crate) fn access_ok(addr: u64, size: u64) -> bool {
    // SAFETY: Only compares numbers.
    unsafe { kdbus_access_ok(addr, size) }
}

/// The number of pages of RAM the kernel manages.
pub(crate) fn totalram_pages() -> usize {
    // SAFETY: Reads a counter; always safe.
    unsafe { kdbus_totalram_pages() as usize }
}
