//! The run queue's per-priority FIFO: a ring of slots whose size is a power of two, grown by
//! doubling.
//!
//! `VecDeque` does the same job, but its `push_back` is an out-of-line call with a general grow
//! check and wrap arithmetic; a context switch does one push and one pop, so here both are a
//! mask, a load or store and a count, inline. Removing from the middle (a priority change, a
//! benchmark's placeholders) shifts the later entries forward, keeping FIFO order.

use alloc::vec::Vec;

/// A FIFO queue of `T` (the scheduler's `Arc<Thread>`s).
pub(crate) struct Fifo<T> {
    /// `slots.len()` is zero or a power of two; entries are `slots[(head + k) & mask]`, k < len.
    slots: Vec<Option<T>>,
    head: usize,
    len: usize,
}

impl<T> Fifo<T> {
    /// Empty, with no allocation.
    pub(crate) const fn new() -> Self {
        Self {
            slots: Vec::new(),
            head: 0,
            len: 0,
        }
    }

    /// Entries queued.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Slots allocated (zero or a power of two).
    #[cfg(all(test, not(loom)))]
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Whether nothing is queued.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// Appends `t` at the back.
    #[inline]
    pub(crate) fn push_back(&mut self, t: T) {
        if self.len == self.slots.len() {
            self.grow();
        }
        let i = (self.head + self.len) & self.mask();
        if let Some(slot) = self.slots.get_mut(i) {
            // The slot is empty (entries are `head..head + len`, and `len` < capacity here):
            // what `replace` returns is `None`, so nothing needs dropping (an assignment would
            // test the old value for a drop on every push).
            let old = slot.replace(t);
            debug_assert!(old.is_none(), "fifo slot {i} in use");
            core::mem::forget(old);
            self.len += 1;
        }
    }

    /// Takes the entry at the front.
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let t = self.slots.get_mut(self.head)?.take();
        self.head = (self.head + 1) & self.mask();
        self.len -= 1;
        t
    }

    /// Removes the first entry for which `is` holds, keeping the others in order.
    pub(crate) fn remove_first(&mut self, is: impl Fn(&T) -> bool) -> Option<T> {
        let mask = self.mask();
        let k =
            (0..self.len).find(|k| self.slots[(self.head + k) & mask].as_ref().is_some_and(&is))?;
        let t = self.slots[(self.head + k) & mask].take();
        for j in k..self.len - 1 {
            let next = self.slots[(self.head + j + 1) & mask].take();
            self.slots[(self.head + j) & mask] = next;
        }
        self.len -= 1;
        t
    }

    /// Doubles the ring (at least 4 slots), moving the entries to its start in order. Cold: a
    /// queue grows to the most threads it ever held and stays there.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let cap = (self.slots.len() * 2).max(4);
        let mut slots: Vec<Option<T>> = Vec::with_capacity(cap);
        while let Some(t) = self.pop_front() {
            slots.push(Some(t));
        }
        self.len = slots.len();
        slots.resize_with(cap, || None);
        self.slots = slots;
        self.head = 0;
    }
}
