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
    alloc::{KBox, KVec},
    bindings,
    mm::virt::{VmaMixedMap, VmaNew},
    new_mutex,
    page::{Page, PAGE_SIZE},
    prelude::*,
    rbtree::{RBTree, RBTreeNode, RBTreeNodeReservation},
    sync::{Arc, ArcBorrow, Mutex},
    types::ForeignOwnable,
    uaccess::UserSliceReader,
    xarray::{AllocKind, XArray},
};

use crate::{domain::UserRef, kext::FileMapping, queue::Quota};

/// One slice of the pool (its offset is its key in [`SliceAlloc::slices`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slice {
    size: usize,
    free: bool,
    /// The kernel still uses it (answer being written, message queued).
    kref: bool,
    /// Userspace was told the offset and has not freed it.
    uref: bool,
}

impl Slice {
    const fn free(size: usize) -> Self {
        Self {
            size,
            free: true,
            kref: false,
            uref: false,
        }
    }
}

/// A node of [`SliceAlloc::slices`], kept for reuse.
type SliceNode = RBTreeNodeReservation<usize, Slice>;
/// A node of [`SliceAlloc::holes`], kept for reuse.
type HoleNode = RBTreeNodeReservation<(usize, usize), ()>;

/// The slice allocator of one pool (`connection-pool.md` §10.2).
///
/// Slices are kept by offset in `slices`, free ones also by (size, offset)
/// in `holes`: best fit is the first hole of at least the wanted size, a
/// look-up in O(log n) of the number of slices, and so are splitting,
/// freeing and coalescing. Tree nodes are recycled through `spare_slices`
/// and `spare_holes`, so once the pool has held its peak number of slices,
/// allocating and freeing allocate no memory.
///
/// # Invariants
///
/// `slices` tiles `[0, size)` exactly, every offset and size is a multiple
/// of 8, no two free slices are adjacent, and a slice is free exactly when
/// it has neither reference. `holes` holds `(size, off)` of exactly the
/// free slices. `holes.len() + spare_holes.len() >= slices.len()`: every
/// slice that is not a hole has a hole node waiting for it, so freeing
/// never allocates (and so never fails).
pub(crate) struct SliceAlloc {
    size: usize,
    slices: RBTree<usize, Slice>,
    holes: RBTree<(usize, usize), ()>,
    spare_slices: KVec<SliceNode>,
    spare_holes: KVec<HoleNode>,
    /// Number of entries in `slices` and `holes`.
    n_slices: usize,
    n_holes: usize,
}

impl SliceAlloc {
    /// An allocator for a pool of `size` bytes (a multiple of 8, > 0).
    pub(crate) fn new(size: usize) -> Result<Self> {
        let mut slices = RBTree::new();
        let mut holes = RBTree::new();
        slices.insert(RBTreeNode::new(0, Slice::free(size), GFP_KERNEL)?);
        holes.insert(RBTreeNode::new((size, 0), (), GFP_KERNEL)?);
        Ok(Self {
            size,
            slices,
            holes,
            spare_slices: KVec::new(),
            spare_holes: KVec::new(),
            n_slices: 1,
            n_holes: 1,
        })
    }

    /// A slice node, recycled or new.
    fn slice_node(&mut self) -> Result<SliceNode> {
        match self.spare_slices.pop() {
            Some(n) => Ok(n),
            None => RBTreeNodeReservation::new(GFP_KERNEL),
        }
    }

    /// Keeps a node for later (the spare lists have room: see `alloc`).
    fn keep_slice_node(&mut self, n: SliceNode) {
        let _ = self.spare_slices.push_within_capacity(n);
    }

    fn keep_hole_node(&mut self, n: HoleNode) {
        let _ = self.spare_holes.push_within_capacity(n);
    }

    fn add_hole(&mut self, off: usize, size: usize) {
        // INVARIANT: a spare hole node exists for every non-hole slice.
        if let Some(n) = self.spare_holes.pop() {
            self.holes.insert(n.into_node((size, off), ()));
            self.n_holes += 1;
        }
    }

    fn remove_hole(&mut self, off: usize, size: usize) {
        if let Some(n) = self.holes.remove_node(&(size, off)) {
            self.n_holes -= 1;
            self.keep_hole_node(n.into_reservation());
        }
    }

    /// Allocates `n` bytes (rounded up to 8), held by the kernel; returns
    /// the offset. `EXFULL` if no free slice is large enough.
    pub(crate) fn alloc(&mut self, n: usize) -> Result<usize> {
        let size = n.checked_next_multiple_of(8).ok_or(EXFULL)?;
        if size == 0 {
            return Err(EINVAL);
        }
        let (hole_size, off) = match self.holes.cursor_lower_bound(&(size, 0)) {
            Some(c) => *c.current().0,
            None => return Err(EXFULL),
        };
        // Everything a split needs, before anything changes: a node for
        // the rest, a hole node for it, and room in the spare lists for
        // every node that may come back.
        let split = hole_size > size;
        let nodes = if split {
            let slice = self.slice_node()?;
            // The new slice needs a hole node of its own (type invariant):
            // a spare one only if there is one to spare.
            let spare = if self.n_holes + self.spare_holes.len() > self.n_slices {
                self.spare_holes.pop()
            } else {
                None
            };
            let hole = match spare {
                Some(h) => h,
                None => match RBTreeNodeReservation::new(GFP_KERNEL) {
                    Ok(h) => h,
                    Err(e) => {
                        self.keep_slice_node(slice);
                        return Err(e);
                    }
                },
            };
            Some((slice, hole))
        } else {
            None
        };
        let room = self
            .spare_slices
            .reserve(self.n_slices + 1, GFP_KERNEL)
            .and_then(|()| self.spare_holes.reserve(self.n_slices + 2, GFP_KERNEL));
        if let Err(e) = room {
            if let Some((slice, hole)) = nodes {
                // Fits: a spare list never holds more nodes than slices.
                self.keep_slice_node(slice);
                self.keep_hole_node(hole);
            }
            return Err(e.into());
        }
        self.remove_hole(off, hole_size);
        if let Some((slice, hole)) = nodes {
            let rest = Slice::free(hole_size - size);
            self.slices.insert(slice.into_node(off + size, rest));
            self.n_slices += 1;
            // The rest's hole takes the new hole node; the spare count
            // stays one per non-hole slice.
            self.holes
                .insert(hole.into_node((rest.size, off + size), ()));
            self.n_holes += 1;
        }
        if let Some(s) = self.slices.get_mut(&off) {
            *s = Slice {
                size,
                free: false,
                kref: true,
                uref: false,
            };
        }
        Ok(off)
    }

    fn busy(&mut self, off: usize) -> Option<&mut Slice> {
        self.slices.get_mut(&off).filter(|s| !s.free)
    }

    /// The size of the busy slice at `off`.
    pub(crate) fn slice_size(&self, off: usize) -> Option<usize> {
        self.slices.get(&off).filter(|s| !s.free).map(|s| s.size)
    }

    /// Userspace is told about the slice at `off` (idempotent).
    pub(crate) fn publish(&mut self, off: usize) {
        if let Some(s) = self.busy(off) {
            s.uref = true;
        }
    }

    /// The kernel is done with the slice at `off`.
    pub(crate) fn release_kernel(&mut self, off: usize) {
        if let Some(s) = self.busy(off) {
            s.kref = false;
            self.maybe_free(off);
        }
    }

    /// KDBUS_CMD_FREE: userspace gives up the slice starting at `off`.
    /// `ENXIO` unless a busy slice starts there and userspace holds it.
    pub(crate) fn free_user(&mut self, off: usize) -> Result {
        let s = self.busy(off).ok_or(ENXIO)?;
        if !s.uref {
            return Err(ENXIO);
        }
        s.uref = false;
        self.maybe_free(off);
        Ok(())
    }

    /// Frees the slice at `off` if neither reference is left, merging it
    /// with free neighbours; allocates nothing.
    fn maybe_free(&mut self, off: usize) {
        let Some(s) = self.slices.get(&off).copied() else {
            return;
        };
        if s.kref || s.uref || s.free {
            return;
        }
        let (mut start, mut size) = (off, s.size);
        // A free successor merges into this slice.
        let next = off + size;
        if let Some(n) = self.slices.get(&next).copied().filter(|n| n.free) {
            self.remove_hole(next, n.size);
            if let Some(node) = self.slices.remove_node(&next) {
                self.n_slices -= 1;
                self.keep_slice_node(node.into_reservation());
            }
            size += n.size;
        }
        // This slice merges into a free predecessor.
        let prev = self
            .slices
            .cursor_lower_bound(&off)
            .and_then(|c| c.peek_prev().map(|(k, v)| (*k, *v)));
        if let Some((poff, p)) = prev.filter(|(_, p)| p.free) {
            self.remove_hole(poff, p.size);
            if let Some(node) = self.slices.remove_node(&off) {
                self.n_slices -= 1;
                self.keep_slice_node(node.into_reservation());
            }
            start = poff;
            size += p.size;
        }
        if let Some(s) = self.slices.get_mut(&start) {
            *s = Slice::free(size);
        }
        self.add_hole(start, size);
    }
}

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
    /// charge under one lock (`message.md` §5.7). `pin` gives the user's
    /// reference for its first charge here.
    pub(crate) fn reserve(
        &self,
        user: u32,
        size: usize,
        nfds: usize,
        pin: impl FnOnce() -> Result<Option<UserRef>>,
    ) -> Result<usize> {
        let mut inner = self.inner.lock();
        inner.quota.admit(self.size, user, size, nfds)?;
        let off = inner.slices.alloc(size)?;
        if let Err(e) = inner.quota.charge(user, size, nfds, pin) {
            inner.slices.release_kernel(off);
            return Err(e);
        }
        Ok(off)
    }

    /// Whether user `user` may queue anything here at all (the smallest
    /// message, `connection-pool.md` §10.6): `ENOBUFS` if not.
    pub(crate) fn admits(&self, user: u32) -> Result {
        self.inner.lock().quota.admit(self.size, user, 8, 0)
    }

    /// Ends the charge of a reserved slice (it left the queue, or was
    /// handed to a synchronous caller).
    pub(crate) fn uncharge(&self, user: u32, size: usize, nfds: usize) {
        self.inner.lock().quota.uncharge(user, size, nfds);
    }

    /// Gives a reserved slice back: its charge and the kernel's hold.
    pub(crate) fn unreserve(&self, off: usize, user: u32, size: usize, nfds: usize) {
        let mut inner = self.inner.lock();
        inner.quota.uncharge(user, size, nfds);
        inner.slices.release_kernel(off);
    }

    /// Publishes the slice at `off` to userspace (the kernel keeps its
    /// hold).
    pub(crate) fn publish(&self, off: usize) {
        self.inner.lock().slices.publish(off);
    }

    /// Publishes the slice at `off` to userspace and drops the kernel's
    /// hold: the usual end of a command that answers in the pool.
    pub(crate) fn publish_and_release(&self, off: usize) {
        let mut inner = self.inner.lock();
        inner.slices.publish(off);
        inner.slices.release_kernel(off);
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
    /// stored page is used), and takes any zero page shown for `idx` out
    /// of the user mappings. Returns the page that stays at `idx`.
    fn install(&self, idx: usize, new: KBox<Page>) -> Result<&Page> {
        let populate = self.populate.lock();
        if let Some(page) = self.stored(idx) {
            return Ok(page);
        }
        // Only `install` stores, under `populate`: the slot stays empty even
        // though `store` may drop the XArray lock to allocate.
        let old = self.pages.lock().store(idx, new, GFP_KERNEL)?;
        debug_assert!(old.is_none());
        if populate.zero_mapped {
            if let Some(mapping) = &populate.mapping {
                mapping.unmap_page(idx);
            }
        }
        // `populate` is held over the zap, so the mapping stays.
        self.stored(idx).ok_or(ENOMEM)
    }

    /// Runs `f` on each page piece of `[off, off + len)`: (page, offset in
    /// the page, offset in the range, length), allocating missing pages.
    fn for_each_page(
        &self,
        off: usize,
        len: usize,
        mut f: impl FnMut(&Page, usize, usize, usize) -> Result,
    ) -> Result {
        let end = off.checked_add(len).ok_or(EFAULT)?;
        if end > self.size {
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
    pub(crate) fn write(&self, off: usize, data: &[u8]) -> Result {
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
        &self,
        off: usize,
        reader: &mut UserSliceReader,
        len: usize,
    ) -> Result {
        self.for_each_page(off, len, |page, in_page, _, n| {
            // SAFETY: As in `write`: the range is ours alone until published.
            unsafe { page.copy_from_user_slice_raw(reader, in_page, n) }
        })
    }

    /// Reads pool bytes (tests and moves between pools).
    #[allow(dead_code)]
    pub(crate) fn read(&self, off: usize, out: &mut [u8]) -> Result {
        self.for_each_page(off, out.len(), |page, in_page, at, n| {
            // SAFETY: `at + n <= out.len()`; the range is in a slice the
            // caller holds.
            unsafe { page.read_raw(out[at..].as_mut_ptr(), in_page, n) }
        })
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

    fn check_invariants(a: &SliceAlloc) -> bool {
        let mut pos = 0;
        let mut prev_free = false;
        let mut n = 0;
        let mut holes = 0;
        for (&off, s) in a.slices.iter() {
            if off != pos || off % 8 != 0 || s.size % 8 != 0 || s.size == 0 {
                return false;
            }
            if s.free && prev_free {
                return false;
            }
            if s.free != (!s.kref && !s.uref) {
                return false;
            }
            if s.free != a.holes.get(&(s.size, off)).is_some() {
                return false;
            }
            holes += usize::from(s.free);
            prev_free = s.free;
            pos += s.size;
            n += 1;
        }
        pos == a.size
            && n == a.n_slices
            && holes == a.n_holes
            && a.holes.iter().count() == holes
            && a.n_holes + a.spare_holes.len() >= a.n_slices
    }

    #[test]
    fn first_fit_is_at_zero_and_aligned() {
        let Ok(mut a) = SliceAlloc::new(4096) else {
            return;
        };
        assert_eq!(a.alloc(32), Ok(0));
        assert_eq!(a.alloc(1), Ok(32));
        assert_eq!(a.alloc(9), Ok(40));
        assert_eq!(a.slice_size(40), Some(16));
        assert!(check_invariants(&a));
    }

    #[test]
    fn free_needs_a_published_slice_start() {
        let Ok(mut a) = SliceAlloc::new(4096) else {
            return;
        };
        let off = a.alloc(64).unwrap_or(1);
        // Not published yet: userspace cannot free it.
        assert_eq!(a.free_user(off), Err(ENXIO));
        a.publish(off);
        assert_eq!(a.free_user(off + 8), Err(ENXIO));
        assert_eq!(a.free_user(4000), Err(ENXIO));
        a.release_kernel(off);
        assert_eq!(a.free_user(off), Ok(()));
        // Freed twice.
        assert_eq!(a.free_user(off), Err(ENXIO));
        assert!(check_invariants(&a));
        assert_eq!(a.n_slices, 1);
    }

    #[test]
    fn exhaustion_and_reuse() {
        let Ok(mut a) = SliceAlloc::new(4096) else {
            return;
        };
        assert_eq!(a.alloc(4096), Ok(0));
        assert_eq!(a.alloc(8), Err(EXFULL));
        a.publish(0);
        a.release_kernel(0);
        assert_eq!(a.alloc(8), Err(EXFULL));
        assert_eq!(a.free_user(0), Ok(()));
        assert_eq!(a.alloc(4096), Ok(0));
        assert_eq!(a.alloc(4097), Err(EXFULL));
    }

    #[test]
    fn fragmentation_and_coalescing() {
        let Ok(mut a) = SliceAlloc::new(1024) else {
            return;
        };
        let mut offs = [0usize; 8];
        for (i, o) in offs.iter_mut().enumerate() {
            *o = a.alloc(128).unwrap_or(usize::MAX);
            assert_eq!(*o, i * 128);
        }
        // Free every other slice: 512 bytes free, but no 256-byte hole.
        for o in offs.iter().step_by(2) {
            a.release_kernel(*o);
        }
        assert!(check_invariants(&a));
        assert_eq!(a.alloc(256), Err(EXFULL));
        // Best fit takes an exact hole.
        assert_eq!(a.alloc(128), Ok(0));
        a.release_kernel(0);
        // Freeing a neighbour merges three slices into one hole of 384.
        a.release_kernel(128);
        assert!(check_invariants(&a));
        assert_eq!(a.alloc(384), Ok(0));
        assert!(check_invariants(&a));
    }

    #[test]
    fn best_fit_prefers_the_smallest_hole() {
        let Ok(mut a) = SliceAlloc::new(1024) else {
            return;
        };
        let x = a.alloc(256).unwrap_or(1);
        let _y = a.alloc(64);
        let z = a.alloc(64).unwrap_or(1);
        let _w = a.alloc(64);
        a.release_kernel(x);
        a.release_kernel(z);
        // Holes: 256 at 0, 64 at 320, 576 at the end; 48 bytes go at 320.
        assert_eq!(a.alloc(48), Ok(320));
        assert!(check_invariants(&a));
    }

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

    #[test]
    fn peeked_slice_needs_both_releases() {
        let Ok(mut a) = SliceAlloc::new(4096) else {
            return;
        };
        let off = a.alloc(100).unwrap_or(1);
        a.publish(off);
        assert_eq!(a.free_user(off), Ok(()));
        // Still held by the kernel: not free, not freeable again.
        assert_eq!(a.alloc(4096), Err(EXFULL));
        assert_eq!(a.free_user(off), Err(ENXIO));
        a.release_kernel(off);
        assert_eq!(a.alloc(4096), Ok(0));
    }
}
