// SPDX-License-Identifier: GPL-2.0

//! The slice allocator of a pool (`connection-pool.md` §10.2-§10.3).

use crate::kext::prelude::*;
use kernel::{
    alloc::KVec,
    rbtree::{RBTree, RBTreeNode, RBTreeNodeReservation},
};

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

    /// Userspace is told about the slice at `off` and the kernel is done
    /// with it: [`SliceAlloc::publish`] then [`SliceAlloc::release_kernel`]
    /// in one look-up (the slice stays busy, so nothing is freed).
    pub(crate) fn hand_over(&mut self, off: usize) {
        if let Some(s) = self.busy(off) {
            s.uref = true;
            s.kref = false;
        }
    }

    /// The kernel is done with the slice at `off`.
    pub(crate) fn release_kernel(&mut self, off: usize) {
        self.drop_ref(off, |s| core::mem::replace(&mut s.kref, false));
    }

    /// KDBUS_CMD_FREE: userspace gives up the slice starting at `off`.
    /// `ENXIO` unless a busy slice starts there and userspace holds it.
    pub(crate) fn free_user(&mut self, off: usize) -> Result {
        if self.drop_ref(off, |s| core::mem::replace(&mut s.uref, false)) {
            Ok(())
        } else {
            Err(ENXIO)
        }
    }

    /// Drops one reference of the busy slice starting at `off`: `take`
    /// clears it and says whether it was held. False, with nothing changed,
    /// if no busy slice starts at `off` or it did not hold the reference.
    /// The last reference frees the slice, merged with free neighbours.
    ///
    /// One walk of `slices` finds the slice and both neighbours (a cursor),
    /// so a free costs that search plus at most three of `holes`; it
    /// allocates nothing (the type invariant keeps a hole node ready).
    fn drop_ref(&mut self, off: usize, take: impl FnOnce(&mut Slice) -> bool) -> bool {
        // The slice nodes a merge removes, with the holes that go with them.
        let mut merged: [Option<((usize, usize), SliceNode)>; 2] = [None, None];
        let (start, size) = {
            let Some(mut cur) = self.slices.cursor_lower_bound_mut(&off) else {
                return false;
            };
            let (&at, s) = cur.current_mut();
            if at != off || s.free || !take(s) {
                return false;
            }
            if s.kref || s.uref {
                return true;
            }
            let mut size = s.size;
            // A free successor merges into this slice.
            let next = cur
                .peek_next()
                .filter(|(_, n)| n.free)
                .map(|(&k, n)| (n.size, k));
            if let Some(hole) = next {
                merged[0] = cur.remove_next().map(|n| (hole, n.into_reservation()));
                size += hole.0;
            }
            // This slice merges into a free predecessor.
            let prev = cur
                .peek_prev()
                .filter(|(_, p)| p.free)
                .map(|(&k, p)| (p.size, k));
            match prev {
                Some(hole) => {
                    if let Some((_, p)) = cur.peek_prev_mut() {
                        p.size += size;
                    }
                    let (_, node) = cur.remove_current();
                    merged[1] = Some((hole, node.into_reservation()));
                    (hole.1, hole.0 + size)
                }
                None => {
                    *cur.current_mut().1 = Slice::free(size);
                    (off, size)
                }
            }
        };
        for ((hole_size, hole_off), node) in merged.into_iter().flatten() {
            self.remove_hole(hole_off, hole_size);
            self.n_slices -= 1;
            self.keep_slice_node(node);
        }
        self.add_hole(start, size);
        true
    }
}

#[kunit_tests(kdbus_slices)]
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
    fn a_handed_over_slice_is_the_users_alone() {
        let Ok(mut a) = SliceAlloc::new(4096) else {
            return;
        };
        let off = a.alloc(64).unwrap_or(1);
        a.hand_over(off);
        assert_eq!(a.slice_size(off), Some(64));
        assert!(check_invariants(&a));
        // The kernel's hold is gone: userspace's FREE frees it.
        assert_eq!(a.free_user(off), Ok(()));
        assert_eq!(a.slice_size(off), None);
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
