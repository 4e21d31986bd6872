// SPDX-License-Identifier: GPL-2.0

//! [`LeanVec`]: a `KVec` that costs nothing to drop while it never
//! allocated.

use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut};

use kernel::{alloc::KVec, prelude::*};

/// A [`KVec`] whose drop skips the allocator while it has no capacity.
///
/// The `kernel` crate's `Vec::drop` always calls the allocator's `free`,
/// which is a `krealloc(NULL, 0)` call for a vector that never allocated.
/// The message path carries several vectors that are almost always empty
/// (descriptors, memfds, spilled vectors, the inline buffers' overflow):
/// as `LeanVec`s they cost nothing when empty.
///
/// # Invariants
///
/// `0` is only dropped by [`Drop`] when its capacity is not zero; a vector
/// with no capacity holds no element and no allocation, so skipping its
/// drop leaks nothing.
pub(crate) struct LeanVec<T>(ManuallyDrop<KVec<T>>);

impl<T> LeanVec<T> {
    /// An empty vector (no allocation).
    pub(crate) const fn new() -> Self {
        Self(ManuallyDrop::new(KVec::new()))
    }

    /// An empty vector with room for `n` elements (no allocation for 0).
    pub(crate) fn with_capacity(n: usize) -> Result<Self> {
        Ok(Self(ManuallyDrop::new(KVec::with_capacity(n, GFP_KERNEL)?)))
    }

    /// The vector itself.
    pub(crate) fn into_inner(self) -> KVec<T> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so the vector is
        // taken out exactly once.
        unsafe { ManuallyDrop::take(&mut this.0) }
    }
}

impl<T> From<KVec<T>> for LeanVec<T> {
    fn from(v: KVec<T>) -> Self {
        Self(ManuallyDrop::new(v))
    }
}

impl<T> Deref for LeanVec<T> {
    type Target = KVec<T>;

    fn deref(&self) -> &KVec<T> {
        &self.0
    }
}

impl<T> DerefMut for LeanVec<T> {
    fn deref_mut(&mut self) -> &mut KVec<T> {
        &mut self.0
    }
}

impl<T> Drop for LeanVec<T> {
    fn drop(&mut self) {
        // Zero-sized types report a capacity of `usize::MAX`, so they are
        // dropped (their elements may have drop glue).
        if self.0.capacity() != 0 {
            // SAFETY: Dropped once, here; `self` is not used afterwards.
            unsafe { ManuallyDrop::drop(&mut self.0) };
        }
    }
}
