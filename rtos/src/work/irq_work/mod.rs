//! `irq_work`: callbacks run in hard interrupt context on a chosen CPU, queued lock-free from any
//! context (Linux kernel/irq_work.c).
//!
//! Contracts (each tested; the claim and the list are also model-checked with loom):
//! - A work's flags are PENDING and BUSY in one atomic word. [`queue`] *claims* the work with
//!   compare-and-swap, setting both: it fails (returns false) while PENDING is set, so a work
//!   queued twice before it runs runs once. A work may be re-queued while its callback runs
//!   (BUSY without PENDING).
//! - Each CPU has a lock-free list. The first queue on a CPU raises the irq_work interrupt once (a
//!   per-CPU "raised" flag): an SGI ([`Sgi::IrqWork`](crate::port::Sgi::IrqWork)) to self.
//!   [`queue_on`] pushes to that CPU's list and sends the SGI there. Lazy works do not raise; they
//!   run at that CPU's next timer interrupt (or are raised like any other if the CPU has no timer
//!   pending, as Linux does with the tick stopped).
//! - The run pass ([`run_pending`], called by [`crate::entry`] in hard IRQ context with interrupts
//!   masked): take the whole list, and for each work clear PENDING, call it, then clear BUSY
//!   unless someone re-claimed it meanwhile; then clear "raised" (set all along, so that a
//!   callback queueing on this CPU raises nothing) and raise again if the list filled meanwhile.
//! - A storm is bounded: a work queued on a CPU by a callback during that CPU's run pass is
//!   raised when the pass ends, at once for [`IRQ_WORK_CHAIN`](crate::config::IRQ_WORK_CHAIN)
//!   passes in a row, then from the timer interrupt every
//!   [`IRQ_WORK_STORM_DELAY_US`](crate::config::IRQ_WORK_STORM_DELAY_US): a work that re-queues
//!   itself forever runs forever, but the CPU's threads (the shell among them) still run.
//! - [`sync`] waits until the work is not BUSY; it is an error
//!   ([`Error::Busy`](crate::error::Error::Busy)) to call it with interrupts masked (the callback
//!   could never finish on this CPU).
//!
//! Works live in a fixed pool of [`IRQ_WORK_SLOTS`](crate::config::IRQ_WORK_SLOTS) slots and are
//! named by index, so the lists are plain atomics: push is a CAS on the head, the run pass takes
//! the whole list with one swap. Nothing ever pops a single node, so there is no ABA problem and
//! no `unsafe`. The claim and the lists ([`Core`]) are model-checked with loom (module `loom`).
//! [`IrqWork::free`] releases a slot for reuse (refused while the work is pending or running); a
//! handle carries its slot's generation, so a copy kept after the free queues nothing.
//!
//! # Example
//! ```
//! use rtos::work::irq_work::{self, IrqWork};
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! rtos::fake::run(2, || {
//!     let hits = Arc::new(AtomicUsize::new(0));
//!     let h = hits.clone();
//!     let cb = Arc::new(move |_: &IrqWork| {
//!         h.fetch_add(1, Ordering::Relaxed); // hard-IRQ context: must not sleep
//!     });
//!     let w = IrqWork::new("tick", false, cb).unwrap();
//!     assert!(irq_work::queue_on(w, 1).unwrap()); // an SGI to CPU 1 runs it there
//!     while w.runs() == 0 {
//!         rtos::sched::yield_now();
//!     }
//!     irq_work::sync(w).unwrap(); // its callback has returned
//!     assert_eq!((hits.load(Ordering::Relaxed), w.last_cpu()), (1, Some(1)));
//!     w.free().unwrap();
//!     0
//! });
//! ```

#[cfg(not(loom))]
mod api;
mod lockfree;
#[cfg(all(test, loom))]
mod loom;

#[cfg(not(loom))]
pub use api::*;
pub use lockfree::{BUSY, CLAIMED, Core, FLAG_MASK, GEN_SHIFT, LAZY, PENDING, Slot};
