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
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
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
            *slot = Some(t);
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Fifo;
    use crate::tests::util::Rng;
    use alloc::collections::VecDeque;

    /// Random pushes, pops and removals against `VecDeque`, across growth and wrap-around.
    #[test]
    fn behaves_like_a_vecdeque() {
        let mut f = Fifo::new();
        let mut m = VecDeque::new();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut next = 0u32;
        for _ in 0..20_000 {
            let x = rng.next();
            match x % 7 {
                0..=2 => {
                    f.push_back(next);
                    m.push_back(next);
                    next += 1;
                }
                3 | 4 => assert_eq!(f.pop_front(), m.pop_front()),
                5 => {
                    // Remove some present value (or an absent one when empty).
                    let want = m
                        .get((x >> 8) as usize % m.len().max(1))
                        .copied()
                        .unwrap_or(u32::MAX);
                    let got = f.remove_first(|&v| v == want);
                    let pos = m.iter().position(|&v| v == want);
                    assert_eq!(got, pos.and_then(|p| m.remove(p)));
                }
                _ => assert_eq!(f.remove_first(|_| false), None),
            }
            assert_eq!(f.len(), m.len());
            assert_eq!(f.is_empty(), m.is_empty());
        }
        while let Some(v) = m.pop_front() {
            assert_eq!(f.pop_front(), Some(v));
        }
        assert_eq!(f.pop_front(), None);
    }

    #[test]
    fn grows_in_powers_of_two_and_keeps_order_across_the_wrap() {
        let mut f = Fifo::new();
        for i in 0..3 {
            f.push_back(i);
        }
        assert_eq!(f.pop_front(), Some(0));
        assert_eq!(f.pop_front(), Some(1));
        // head is now 2 in a ring of 4: these wrap, then force a grow with entries split.
        for i in 3..9 {
            f.push_back(i);
        }
        assert_eq!(f.slots.len(), 8);
        assert_eq!(f.remove_first(|&v| v == 5), Some(5));
        let rest: alloc::vec::Vec<_> = core::iter::from_fn(|| f.pop_front()).collect();
        assert_eq!(rest, [2, 3, 4, 6, 7, 8]);
    }
}
