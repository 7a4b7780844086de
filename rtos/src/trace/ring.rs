//! One CPU's trace ring: fixed-size events in a power-of-two array, overwritten oldest first.
//!
//! Writers never lock and never allocate: a writer takes the next index, marks the slot odd
//! (being written), stores the event's words, marks it even with its index (written) and only
//! then moves the head on. One write at a time per ring: the kernel's rings are per CPU and
//! [`super::record`] writes with interrupts masked (two writers in one slot at once could leave
//! a torn event that the marks do not catch). A reader takes a snapshot of the last `capacity`
//! indices and keeps only the
//! slots whose mark says "written, this index" before and after it copied the words, like a
//! sequence lock; the others were overwritten meanwhile or are still being written, and count as
//! lost, as do the events that fell off the end before the snapshot.

use crate::sync::atomic::{AtomicU64, Ordering, fence};
use alloc::boxed::Box;
use alloc::vec::Vec;

/// Words per event after the mark: see [`super::Event`].
pub(crate) const WORDS: usize = 4;

struct Slot {
    /// `2 * index + 1` while being written, `2 * index + 2` once written; 0 never written.
    mark: AtomicU64,
    words: [AtomicU64; WORDS],
}

/// A ring of `capacity` (a power of two) event slots.
pub(crate) struct Ring {
    slots: Box<[Slot]>,
    /// The next index to reserve: how many events were ever recorded here.
    head: AtomicU64,
}

/// A copy of a ring's readable events, oldest first, and how many were lost.
pub(crate) struct Snapshot {
    pub(crate) events: Vec<[u64; WORDS]>,
    pub(crate) lost: u64,
}

impl Ring {
    /// A ring of `capacity` slots, rounded up to a power of two. Allocates: call
    /// when tracing is set up, never from a trace point.
    pub(crate) fn new(capacity: usize) -> Ring {
        let n = capacity.max(1).next_power_of_two();
        let slots = (0..n)
            .map(|_| Slot {
                mark: AtomicU64::new(0),
                words: core::array::from_fn(|_| AtomicU64::new(0)),
            })
            .collect();
        Ring {
            slots,
            head: AtomicU64::new(0),
        }
    }

    /// How many events it holds at most.
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// How many events were ever recorded (read or not, lost or not).
    pub(crate) fn recorded(&self) -> u64 {
        self.head.load(Ordering::Acquire)
    }

    /// Records one event: no lock, no allocation, any context. One writer at a time (see the
    /// module documentation): a load and a store of the head reserve the index, and the head
    /// moves on only once the slot is written, so a reader never takes an index not yet written.
    #[inline]
    pub(crate) fn record(&self, words: [u64; WORDS]) {
        let i = self.head.load(Ordering::Relaxed);
        let slot = &self.slots[(i as usize) & (self.slots.len() - 1)];
        // A sequence lock's write: odd mark, (fence) words, even mark.
        slot.mark.store(2 * i + 1, Ordering::Relaxed);
        fence(Ordering::Release);
        let [w0, w1, w2, w3] = words;
        slot.words[0].store(w0, Ordering::Relaxed);
        slot.words[1].store(w1, Ordering::Relaxed);
        slot.words[2].store(w2, Ordering::Relaxed);
        slot.words[3].store(w3, Ordering::Relaxed);
        slot.mark.store(2 * i + 2, Ordering::Release);
        self.head.store(i + 1, Ordering::Release);
    }

    /// The events recorded at index `from` or later that can still be read, oldest first;
    /// `lost` counts the others (overwritten before this read, or torn by a writer during it).
    pub(crate) fn snapshot_from(&self, from: u64) -> Snapshot {
        let head = self.head.load(Ordering::Acquire);
        let n = self.slots.len() as u64;
        let first = head.saturating_sub(n).max(from);
        let mut events = Vec::with_capacity(head.saturating_sub(first) as usize);
        let mut lost = first.saturating_sub(from);
        for i in first..head {
            let slot = &self.slots[(i as usize) & (self.slots.len() - 1)];
            let want = 2 * i + 2;
            if slot.mark.load(Ordering::Acquire) != want {
                lost += 1;
                continue;
            }
            let mut words = [0u64; WORDS];
            for (d, w) in words.iter_mut().zip(&slot.words) {
                *d = w.load(Ordering::Acquire);
            }
            if slot.mark.load(Ordering::Acquire) != want {
                lost += 1;
                continue;
            }
            events.push(words);
        }
        Snapshot { events, lost }
    }
}
