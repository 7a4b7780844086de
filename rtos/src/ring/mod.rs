//! [`ByteRing`]: a lock-free single-producer single-consumer byte queue.
//!
//! The UART receive interrupt is the producer and the shell the consumer: the interrupt handler
//! never blocks and never takes a lock the consumer could hold. When the ring is full the producer
//! is told so ([`ByteRing::push`] returns `false`) and the driver stops draining its hardware
//! FIFO, so the line applies back-pressure instead of losing bytes.
//!
//! Slots are atomics, so the structure needs no `unsafe`. Publication: the producer writes the
//! slot (relaxed), then advances `head` with release; the consumer reads `head` with acquire,
//! reads the slot, then advances `tail` with release, which the producer reads with acquire before
//! reusing the slot.

use crate::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

#[cfg(all(test, loom))]
mod loom;

/// A lock-free SPSC byte queue holding up to `N` bytes (`N` a power of two).
pub struct ByteRing<const N: usize> {
    slots: [AtomicU8; N],
    /// Total bytes ever pushed (wrapping); written only by the producer.
    head: AtomicUsize,
    /// Total bytes ever popped (wrapping); written only by the consumer.
    tail: AtomicUsize,
}

impl<const N: usize> ByteRing<N> {
    const CHECK: () = assert!(
        N.is_power_of_two() && N >= 2,
        "ByteRing size must be a power of two"
    );

    /// An empty ring.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        let () = Self::CHECK;
        Self {
            slots: [const { AtomicU8::new(0) }; N],
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
        }
    }

    /// An empty ring.
    #[cfg(loom)]
    pub fn new() -> Self {
        let () = Self::CHECK;
        Self {
            slots: core::array::from_fn(|_| AtomicU8::new(0)),
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
        }
    }

    /// Capacity in bytes.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Producer side: appends `byte`; returns `false` (and stores nothing) when full.
    pub fn push(&self, byte: u8) -> bool {
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Acquire);
        if head.wrapping_sub(tail) >= N {
            return false;
        }
        self.slots[head % N].store(byte, Ordering::Relaxed);
        self.head.store(head.wrapping_add(1), Ordering::Release);
        true
    }

    /// Consumer side: removes the oldest byte.
    pub fn pop(&self) -> Option<u8> {
        let tail = self.tail.load(Ordering::Relaxed);
        let head = self.head.load(Ordering::Acquire);
        if head == tail {
            return None;
        }
        let byte = self.slots[tail % N].load(Ordering::Relaxed);
        self.tail.store(tail.wrapping_add(1), Ordering::Release);
        Some(byte)
    }

    /// Bytes currently queued (a snapshot).
    pub fn len(&self) -> usize {
        self.head
            .load(Ordering::Acquire)
            .wrapping_sub(self.tail.load(Ordering::Acquire))
    }

    /// Whether nothing is queued (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(not(loom))]
impl<const N: usize> Default for ByteRing<N> {
    fn default() -> Self {
        Self::new()
    }
}
