// SPDX-License-Identifier: GPL-2.0

//! The pool: per-connection memory the receiver maps read-only.
//!
//! Design (`Documentation/kdbus/pool.rst` has the reasoning): pages
//! populated on demand in a sparse [`XArray`] (as Rust Binder keeps pages,
//! not a shmem file). A page is allocated (zeroed, `GFP_KERNEL_ACCOUNT`:
//! charged to the memory cgroup of the task whose action needed it) the
//! first time the kernel writes into it or the owner's mapping touches it,
//! and lives until the pool dies; an unused pool of any size costs a few
//! hundred bytes.
//!
//! The kernel writes through its own page pointers, never through a user
//! mapping: data from a sender's memory is copied once, straight into the
//! receiver's pages ([`Pool::write_user`]). Userspace maps the pool
//! read-only; a fault handler inserts the pages.
//!
//! The [`SliceAlloc`] tiles `[0, size)` with slices (`connection-pool.md`
//! §10.2-§10.3): best fit, lower part of a split, eager coalescing, a kernel
//! and a user reference per slice.
//!
//! # Never-written pages
//!
//! Only the kernel's writes allocate pages. A fault on a page nobody wrote
//! yet maps the shared zero page (what the reference's shmem file showed,
//! without allocating), so reading a whole pool costs no memory. When the
//! kernel later stores the real page, it first removes the zero-page entries
//! from the user mappings of that page ([`Pool::install`]); the next access
//! faults the real page in. A page stored at an index is never replaced.
//!
//! # Locking
//!
//! `inner` (one mutex per pool) protects the slices; the XArray's own
//! spinlock protects the page slots, and is never held while copying.
//! `populate` serialises storing a new page with a fault's look-up and
//! insert, and holds what the zap needs; lock order: mmap lock (fault,
//! munmap, fork) -> `populate` -> the mapping's `i_mmap_rwsem` and page
//! table locks (taken by the zap and by `vm_insert_page`). Page contents are
//! written, without any lock, by the holder of the slice: nobody else writes
//! or reads that range (userspace does not know the offset yet).

use kernel::{
    alloc::KBox,
    bindings,
    mm::virt::{VmaMixedMap, VmaNew},
    new_mutex,
    page::{Page, PAGE_SIZE},
    prelude::*,
    sync::{
        atomic::{ordering, Atomic},
        Arc, ArcBorrow, Mutex,
    },
    types::ForeignOwnable,
    uaccess::UserSliceReader,
    xarray::{AllocKind, XArray},
};

use crate::{domain::UserRef, kext::FileMapping, queue::Quota};

mod slices;

use slices::SliceAlloc;

struct PoolInner {
    slices: SliceAlloc,
    /// What senders have charged here (`connection-pool.md` §10.6).
    quota: Quota,
}

/// What [`Pool::populate`] protects.
///
/// # Invariants
///
/// `mapping` is the file mapping of the pool's user mappings while `vmas`,
/// the number of them, is non-zero (each holds the file, so the mapping
/// lives); it is `None` when there are none. `zero_mapped` is only set
/// while `mapping` is.
struct Populate {
    vmas: usize,
    mapping: Option<FileMapping>,
    /// A user mapping may show the zero page for some page not stored yet.
    zero_mapped: bool,
}

/// A queued message's hold on a pool: its slice and its charge, as
/// [`Pool::reserve`] made them.
#[derive(Clone, Copy)]
pub(crate) struct Held {
    pub(crate) off: usize,
    pub(crate) user: u32,
    pub(crate) size: usize,
    pub(crate) nfds: usize,
}

/// A connection's pool.
///
/// # Invariants
///
/// `pages` only grows: a page stored at an index stays there, at the same
/// address, until the pool is dropped.
#[pin_data]
pub(crate) struct Pool {
    size: usize,
    #[pin]
    inner: Mutex<PoolInner>,
    /// The pages in use, by page index.
    #[pin]
    pages: XArray<KBox<Page>>,
    /// Storing a page against faults (see "Never-written pages").
    #[pin]
    populate: Mutex<Populate>,
    /// `inner.quota.roomy()`, updated under `inner` at every charge and
    /// uncharge, for [`Pool::admits`] to answer the usual case without the
    /// lock.
    roomy: Atomic<bool>,
}

impl Pool {
    /// A pool of `size` bytes: non-zero and a multiple of the page size
    /// (else `EINVAL`). Costs one pointer per page until used.
    pub(crate) fn new(size: u64) -> Result<Arc<Pool>> {
        let size = usize::try_from(size).map_err(|_| EINVAL)?;
        if size == 0 || size % PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        // A pool larger than RAM could never be filled: refuse it as the
        // reference's accounted shmem file did (`connection-pool.md` §3.4).
        if size / PAGE_SIZE > crate::kext::totalram_pages() {
            return Err(ENOMEM);
        }
        let slices = SliceAlloc::new(size)?;
        Arc::pin_init(
            try_pin_init!(Pool {
                size,
                inner <- new_mutex!(PoolInner {
                    slices,
                    quota: Quota::new(),
                }),
                pages <- XArray::new(AllocKind::Alloc),
                populate <- new_mutex!(Populate {
                    vmas: 0,
                    mapping: None,
                    zero_mapped: false,
                }),
                roomy: Atomic::new(true),
            }),
            GFP_KERNEL,
        )
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Allocates a slice of `n` bytes held by the kernel.
    pub(crate) fn alloc(&self, n: usize) -> Result<usize> {
        self.inner.lock().slices.alloc(n)
    }

    /// Reserves a slice of `size` bytes for a message from sending user
    /// `user` with `nfds` descriptors: the quota check, the slice and the
    /// charge under one lock (`message.md` §5.7). `pin` is the user's
    /// reference, cloned for its first charge here.
    pub(crate) fn reserve(
        &self,
        user: u32,
        size: usize,
        nfds: usize,
        pin: Option<&UserRef>,
    ) -> Result<usize> {
        let mut inner = self.inner.lock();
        inner.quota.admit(self.size, user, size, nfds)?;
        let off = inner.slices.alloc(size)?;
        if let Err(e) = inner.quota.charge(user, size, nfds, pin) {
            inner.slices.release_kernel(off);
            return Err(e);
        }
        self.note_quota(&inner);
        Ok(off)
    }

    /// Updates [`Pool::roomy`] after a change of `inner.quota`.
    fn note_quota(&self, inner: &PoolInner) {
        self.roomy
            .store(inner.quota.roomy(self.size), ordering::Relaxed);
    }

    /// Whether user `user` may queue anything here at all (the smallest
    /// message, `connection-pool.md` §10.6): `ENOBUFS` if not. A pool with
    /// room for anyone answers without its lock; the answer only spares
    /// a sender reading a message that [`Pool::reserve`] would refuse, and
    /// `reserve` decides.
    pub(crate) fn admits(&self, user: u32) -> Result {
        if self.roomy.load(ordering::Relaxed) {
            return Ok(());
        }
        self.inner.lock().quota.admit(self.size, user, 8, 0)
    }

    /// A reference to sending user `user`, if something of it is charged
    /// here (to charge a message moved from this pool to another one).
    pub(crate) fn user_ref(&self, user: u32) -> Option<UserRef> {
        self.inner.lock().quota.user_ref(user)
    }

    /// Gives a reserved slice back: its charge and the kernel's hold.
    pub(crate) fn unreserve(&self, held: Held) {
        let mut inner = self.inner.lock();
        inner.quota.uncharge(held.user, held.size, held.nfds);
        inner.slices.release_kernel(held.off);
        self.note_quota(&inner);
    }

    /// Hands a received message's slice to userspace, under one lock: the
    /// slice is published, its charge ends and the kernel's hold goes.
    pub(crate) fn deliver(&self, held: Held) {
        let mut inner = self.inner.lock();
        inner.slices.hand_over(held.off);
        inner.quota.uncharge(held.user, held.size, held.nfds);
        self.note_quota(&inner);
    }

    /// Publishes the slice at `off` to userspace; the kernel keeps its
    /// hold (a PEEK: the message stays queued).
    pub(crate) fn publish(&self, off: usize) {
        self.inner.lock().slices.publish(off);
    }

    /// Publishes the slice at `off` to userspace and drops the kernel's
    /// hold: the usual end of a command that answers in the pool.
    pub(crate) fn publish_and_release(&self, off: usize) {
        self.inner.lock().slices.hand_over(off);
    }

    /// Writes `data`, the answer of a command, into a new slice and
    /// publishes it; returns its offset.
    pub(crate) fn answer(&self, data: &[u8]) -> Result<usize> {
        let off = self.alloc(data.len())?;
        if let Err(e) = self.write(off, data) {
            self.release_kernel(off);
            return Err(e);
        }
        self.publish_and_release(off);
        Ok(off)
    }

    /// Drops the kernel's hold on the slice at `off` (an answer that could
    /// not be delivered).
    pub(crate) fn release_kernel(&self, off: usize) {
        self.inner.lock().slices.release_kernel(off);
    }

    /// KDBUS_CMD_FREE. The empty-slice sentinel (`off == size`) is a no-op.
    pub(crate) fn free(&self, off: u64) -> Result {
        if off == self.size as u64 {
            return Ok(());
        }
        let off = usize::try_from(off).map_err(|_| ENXIO)?;
        self.inner.lock().slices.free_user(off)
    }

    /// The page stored at index `idx`, if any.
    fn stored(&self, idx: usize) -> Option<&Page> {
        let ptr = self
            .pages
            .lock()
            .get(idx)
            .map(core::ptr::from_ref::<Page>)?;
        // SAFETY: Pages are never removed from `pages` before the pool is
        // dropped (type invariant), and `KBox` keeps each at a fixed
        // address, so the page outlives the borrow of `self`.
        Some(unsafe { &*ptr })
    }

    /// The page at index `idx`, allocated (zeroed) on first use: the
    /// kernel is about to write into it.
    fn page(&self, idx: usize) -> Result<&Page> {
        if idx >= self.size / PAGE_SIZE {
            return Err(EFAULT);
        }
        if let Some(page) = self.stored(idx) {
            return Ok(page);
        }
        let new = KBox::new(
            Page::alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO)?,
            GFP_KERNEL,
        )?;
        self.install(idx, new)
    }

    /// Stores `new` at index `idx` unless a page is there already (a racing
    /// writer stored it since our look-up: then `new` is freed and the
    /// stored page is used), after taking any zero page shown for `idx` out
    /// of the user mappings. Returns the page that stays at `idx`.
    ///
    /// The zap comes first: once stored, the page is found by other
    /// writers without `populate` ([`Pool::page`]), who write a message
    /// into it and queue it at once; a zero page still mapped then would
    /// show its receiver zeros where the message is. No fault can map the
    /// zero page again between the zap and the store: faults look and map
    /// under `populate`, which we hold.
    fn install(&self, idx: usize, new: KBox<Page>) -> Result<&Page> {
        let populate = self.populate.lock();
        if let Some(page) = self.stored(idx) {
            return Ok(page);
        }
        if populate.zero_mapped {
            if let Some(mapping) = &populate.mapping {
                mapping.unmap_page(idx);
            }
        }
        // Only `install` stores, under `populate`: the slot stays empty even
        // though `store` may drop the XArray lock to allocate.
        let old = self.pages.lock().store(idx, new, GFP_KERNEL)?;
        debug_assert!(old.is_none());
        self.stored(idx).ok_or(ENOMEM)
    }

    /// Writes kernel data at `off` (inside a slice the caller allocated).
    pub(crate) fn write(&self, off: usize, data: &[u8]) -> Result {
        self.pages().write(off, data)
    }

    /// Reads pool bytes (moves between pools, tests).
    pub(crate) fn read(&self, off: usize, out: &mut [u8]) -> Result {
        self.pages().read(off, out)
    }

    /// A cursor over this pool's pages, for several reads or writes that
    /// look each page up once (the parts of a small message share a page).
    pub(crate) fn pages(&self) -> PoolPages<'_> {
        PoolPages {
            pool: self,
            last: None,
        }
    }

    /// `mmap()` of the connection fd (`connection-pool.md` §10.1):
    /// read-only, at most the pool's size.
    pub(crate) fn mmap(self: &Arc<Self>, vma: &VmaNew) -> Result {
        if vma.writable() {
            return Err(EPERM);
        }
        vma.try_clear_maywrite()?;
        let len = vma.end() - vma.start();
        if len > self.size {
            return Err(EFAULT);
        }
        vma.set_mixedmap();
        vma.set_dontexpand();
        // SAFETY: The VMA is being set up by this mmap call of our file.
        let mapping = unsafe { FileMapping::of_vma(vma.as_ptr()) }.ok_or(EINVAL)?;
        self.vma_opened(Some(mapping));
        let ptr = self.clone().into_foreign();
        // SAFETY: The VMA is being set up by this mmap call; we own its
        // `vm_ops` and `vm_private_data`. The private data holds one count
        // on the pool and one in `Populate::vmas`, given back in
        // `pool_vm_close`.
        unsafe {
            (*vma.as_ptr()).vm_private_data = ptr;
            (*vma.as_ptr()).vm_ops = &POOL_VM_OPS.0;
        }
        Ok(())
    }

    /// A user mapping of the pool was made, in `mapping`.
    fn vma_opened(&self, mapping: Option<FileMapping>) {
        let mut populate = self.populate.lock();
        populate.vmas += 1;
        if populate.mapping.is_none() {
            populate.mapping = mapping;
        }
    }

    /// A user mapping of the pool is gone.
    fn vma_closed(&self) {
        let mut populate = self.populate.lock();
        populate.vmas = populate.vmas.saturating_sub(1);
        if populate.vmas == 0 {
            // INVARIANT: No mapping is left to show a zero page.
            populate.mapping = None;
            populate.zero_mapped = false;
        }
    }

    /// Maps the page at index `idx` at `address` of a faulting VMA: the
    /// stored page, or the zero page if nobody wrote it yet.
    fn page_for_fault(&self, idx: usize, vma: &VmaMixedMap, address: usize) -> Result {
        let mut populate = self.populate.lock();
        let r = match self.stored(idx) {
            Some(page) => vma.vm_insert_page(address, page),
            None => {
                // Before the insert: `install` of this page, which waits for
                // `populate`, will see it and zap the entry.
                populate.zero_mapped = true;
                crate::kext::vm_insert_zero_page(vma, address)
            }
        };
        drop(populate);
        match r {
            // Another thread mapped it first.
            Err(e) if e == EBUSY => Ok(()),
            r => r,
        }
    }
}

/// Reads and writes slices of a pool, remembering the last page it looked
/// up ([`Pool::pages`]).
pub(crate) struct PoolPages<'a> {
    pool: &'a Pool,
    /// The last page used, by index.
    last: Option<(usize, &'a Page)>,
}

impl<'a> PoolPages<'a> {
    fn page(&mut self, idx: usize) -> Result<&'a Page> {
        match self.last {
            Some((i, page)) if i == idx => Ok(page),
            _ => {
                let page = self.pool.page(idx)?;
                self.last = Some((idx, page));
                Ok(page)
            }
        }
    }

    /// Runs `f` on each page piece of `[off, off + len)`: (page, offset in
    /// the page, offset in the range, length), allocating missing pages.
    fn for_each_page(
        &mut self,
        off: usize,
        len: usize,
        mut f: impl FnMut(&Page, usize, usize, usize) -> Result,
    ) -> Result {
        let end = off.checked_add(len).ok_or(EFAULT)?;
        if end > self.pool.size {
            return Err(EFAULT);
        }
        let mut pos = off;
        while pos < end {
            let in_page = pos % PAGE_SIZE;
            let n = (PAGE_SIZE - in_page).min(end - pos);
            f(self.page(pos / PAGE_SIZE)?, in_page, pos - off, n)?;
            pos += n;
        }
        Ok(())
    }

    /// Writes kernel data at `off` (inside a slice the caller allocated).
    pub(crate) fn write(&mut self, off: usize, data: &[u8]) -> Result {
        self.for_each_page(off, data.len(), |page, in_page, at, n| {
            // SAFETY: `at + n <= data.len()`; the range lies in a slice the
            // caller allocated and still holds, which nobody else writes and
            // userspace does not read (it was not published yet).
            unsafe { page.write_raw(data[at..].as_ptr(), in_page, n) }
        })
    }

    /// Copies `len` bytes from the sender's memory straight into the pool at
    /// `off`: the single copy of a message payload.
    pub(crate) fn write_user(
        &mut self,
        off: usize,
        reader: &mut UserSliceReader,
        len: usize,
    ) -> Result {
        self.for_each_page(off, len, |page, in_page, _, n| {
            // SAFETY: As in `write`: the range is ours alone until published.
            unsafe { page.copy_from_user_slice_raw(reader, in_page, n) }
        })
    }

    /// Reads pool bytes at `off` (inside a slice the caller holds).
    pub(crate) fn read(&mut self, off: usize, out: &mut [u8]) -> Result {
        self.for_each_page(off, out.len(), |page, in_page, at, n| {
            // SAFETY: `at + n <= out.len()`; the range is in a slice the
            // caller holds.
            unsafe { page.read_raw(out[at..].as_mut_ptr(), in_page, n) }
        })
    }
}

#[repr(transparent)]
struct VmOps(bindings::vm_operations_struct);

// SAFETY: The table is immutable and only read by the mm core.
unsafe impl Sync for VmOps {}

static POOL_VM_OPS: VmOps = VmOps(bindings::vm_operations_struct {
    open: Some(pool_vm_open),
    close: Some(pool_vm_close),
    fault: Some(pool_vm_fault),
    ..pin_init::zeroed()
});

/// A copy of a pool VMA (fork, split) takes its own count on the pool.
///
/// # Safety
///
/// Called by the mm core on a VMA whose `vm_private_data` was set by
/// [`Pool::mmap`] (copied along with `vm_ops`).
unsafe extern "C" fn pool_vm_open(vma: *mut bindings::vm_area_struct) {
    // SAFETY: `vm_private_data` holds a counted pool pointer (caller).
    let pool = unsafe { Arc::<Pool>::borrow((*vma).vm_private_data) };
    pool.vma_opened(None);
    let _ = Arc::<Pool>::from(pool).into_foreign();
}

/// # Safety
///
/// Called by the mm core once per VMA that `pool_vm_open` or `Pool::mmap`
/// gave a count to.
unsafe extern "C" fn pool_vm_close(vma: *mut bindings::vm_area_struct) {
    // SAFETY: We take back the count this VMA held.
    let pool = unsafe { Arc::<Pool>::from_foreign((*vma).vm_private_data) };
    pool.vma_closed();
}

/// # Safety
///
/// Called by the mm core for a fault in a pool VMA, with the VMA locked.
unsafe extern "C" fn pool_vm_fault(vmf: *mut bindings::vm_fault) -> bindings::vm_fault_t {
    // SAFETY: `vmf` and its VMA are valid for the duration of the fault.
    let (vma_ptr, pgoff, address) = unsafe {
        (
            (*vmf).__bindgen_anon_1.vma,
            (*vmf).__bindgen_anon_1.pgoff,
            (*vmf).__bindgen_anon_1.address,
        )
    };
    // SAFETY: The VMA is locked for the fault and has VM_MIXEDMAP, set by
    // `Pool::mmap`.
    let vma = unsafe { VmaMixedMap::from_raw(vma_ptr) };
    // SAFETY: `vm_private_data` holds a counted pool pointer while the VMA
    // exists.
    let pool: ArcBorrow<'_, Pool> = unsafe { Arc::<Pool>::borrow((*vma_ptr).vm_private_data) };
    let idx = pgoff;
    if idx >= pool.size / PAGE_SIZE {
        return bindings::vm_fault_reason_VM_FAULT_SIGBUS as bindings::vm_fault_t;
    }
    match pool.page_for_fault(idx, vma, address & !(PAGE_SIZE - 1)) {
        Ok(()) => bindings::vm_fault_reason_VM_FAULT_NOPAGE as bindings::vm_fault_t,
        Err(e) if e == ENOMEM => bindings::vm_fault_reason_VM_FAULT_OOM as bindings::vm_fault_t,
        Err(_) => bindings::vm_fault_reason_VM_FAULT_SIGBUS as bindings::vm_fault_t,
    }
}

#[kunit_tests(kdbus_pool)]
mod tests {
    use super::*;

    /// The race of two writers touching a fresh page, forced: the second
    /// store finds the slot taken, keeps the page that is there (with what
    /// was written into it) and frees its own.
    #[test]
    fn a_stored_page_is_never_replaced() {
        let Ok(pool) = Pool::new(4 * PAGE_SIZE as u64) else {
            return;
        };
        assert!(pool.stored(1).is_none());
        assert_eq!(pool.write(PAGE_SIZE + 8, b"kdbus"), Ok(()));
        let first = pool.stored(1).map(core::ptr::from_ref);
        assert!(first.is_some());
        let Ok(Ok(late)) =
            Page::alloc_page(GFP_KERNEL | __GFP_ZERO).map(|p| KBox::new(p, GFP_KERNEL))
        else {
            return;
        };
        let kept = pool.install(1, late).map(core::ptr::from_ref);
        assert_eq!(kept.ok(), first);
        assert_eq!(pool.stored(1).map(core::ptr::from_ref), first);
        let mut out = [0u8; 5];
        assert_eq!(pool.read(PAGE_SIZE + 8, &mut out), Ok(()));
        assert_eq!(&out, b"kdbus");
        // Never-written pages stay unallocated; out of range is refused.
        assert!(pool.stored(0).is_none() && pool.stored(2).is_none());
        assert_eq!(pool.page(4).map(|_| ()), Err(EFAULT));
    }
}
