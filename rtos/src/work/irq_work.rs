//! `irq_work`: callbacks run in hard interrupt context on a chosen CPU, queued lock-free from any
//! context (Linux kernel/irq_work.c).
//!
//! Contracts (each tested; the claim and the list are also model-checked with loom):
//! - A work's flags are PENDING and BUSY in one atomic word. [`queue`] *claims* the work with
//!   compare-and-swap, setting both: it fails (returns false) while PENDING is set, so a work
//!   queued twice before it runs runs once. A work may be re-queued while its callback runs
//!   (BUSY without PENDING).
//! - Each CPU has a lock-free list. The first queue on a CPU raises the irq_work interrupt once (a
//!   per-CPU "raised" flag): an SGI ([`Sgi::IrqWork`]) to self. [`queue_on`] pushes to that CPU's
//!   list and sends the SGI there. Lazy works do not raise; they run at that CPU's next timer
//!   interrupt (or are raised like any other if the CPU has no timer pending, as Linux does with
//!   the tick stopped).
//! - The run pass ([`run_pending`], called by [`crate::entry`] in hard IRQ context with interrupts
//!   masked): clear "raised", take the whole list, and for each work clear PENDING, call it, then
//!   clear BUSY unless someone re-claimed it meanwhile.
//! - [`sync`] waits until the work is not BUSY; it is an error ([`Error::Busy`](crate::error::Error::Busy)) to call it with
//!   interrupts masked (the callback could never finish on this CPU).
//!
//! Works live in a fixed pool of [`IRQ_WORK_SLOTS`](crate::config::IRQ_WORK_SLOTS) slots and are
//! named by index, so the lists are plain atomics: push is a CAS on the head, the run pass takes
//! the whole list with one swap. Nothing ever pops a single node, so there is no ABA problem and
//! no `unsafe`. The claim and the lists ([`Core`]) are model-checked with loom (module `loom`).
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
use crate::port::Sgi;
use crate::sync::atomic::{AtomicBool, AtomicU32, Ordering};

#[cfg(all(test, loom))]
mod loom;

/// The work is queued and its callback has not started.
pub const PENDING: u32 = 1;
/// The work is claimed: queued, or its callback is running.
pub const BUSY: u32 = 2;
/// PENDING and BUSY: what a successful claim sets.
pub const CLAIMED: u32 = PENDING | BUSY;
/// Run at the next timer interrupt instead of raising the irq_work interrupt.
pub const LAZY: u32 = 4;

/// End-of-list marker (indices are stored +1 so 0 means empty).
const NIL: u32 = 0;

/// One work slot: its flags and its link in a per-CPU list.
pub struct Slot {
    flags: AtomicU32,
    next: AtomicU32,
}

impl Slot {
    #[cfg(not(loom))]
    const fn new() -> Self {
        Self {
            flags: AtomicU32::new(0),
            next: AtomicU32::new(NIL),
        }
    }
    #[cfg(loom)]
    fn new() -> Self {
        Self {
            flags: AtomicU32::new(0),
            next: AtomicU32::new(NIL),
        }
    }
}

/// The lock-free core: slots, per-CPU lists and "raised" flags. Generic over sizes so loom can
/// model a small instance; the kernel uses one static instance.
pub struct Core<const N: usize, const CPUS: usize> {
    slots: [Slot; N],
    heads: [AtomicU32; CPUS],
    lazy_heads: [AtomicU32; CPUS],
    raised: [AtomicBool; CPUS],
}

impl<const N: usize, const CPUS: usize> Core<N, CPUS> {
    /// Empty lists, idle slots.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            slots: [const { Slot::new() }; N],
            heads: [const { AtomicU32::new(NIL) }; CPUS],
            lazy_heads: [const { AtomicU32::new(NIL) }; CPUS],
            raised: [const { AtomicBool::new(false) }; CPUS],
        }
    }

    /// Empty lists, idle slots.
    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            slots: core::array::from_fn(|_| Slot::new()),
            heads: core::array::from_fn(|_| AtomicU32::new(NIL)),
            lazy_heads: core::array::from_fn(|_| AtomicU32::new(NIL)),
            raised: core::array::from_fn(|_| AtomicBool::new(false)),
        }
    }

    /// The flags of slot `i`.
    pub fn flags(&self, i: usize) -> u32 {
        self.slots[i].flags.load(Ordering::Acquire)
    }

    /// Sets or clears the LAZY bit of an idle slot (at creation).
    pub fn set_lazy(&self, i: usize, lazy: bool) {
        if lazy {
            self.slots[i].flags.fetch_or(LAZY, Ordering::AcqRel);
        } else {
            self.slots[i].flags.fetch_and(!LAZY, Ordering::AcqRel);
        }
    }

    /// Claims slot `i` for queueing: false while it is PENDING (already queued).
    #[inline]
    pub fn claim(&self, i: usize) -> bool {
        let f = &self.slots[i].flags;
        let mut flags = f.load(Ordering::Relaxed) & !PENDING;
        loop {
            match f.compare_exchange(flags, flags | CLAIMED, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(now) if now & PENDING != 0 => return false,
                Err(now) => flags = now,
            }
        }
    }

    #[inline]
    fn head(&self, cpu: usize, lazy: bool) -> &AtomicU32 {
        if lazy {
            &self.lazy_heads[cpu]
        } else {
            &self.heads[cpu]
        }
    }

    /// Pushes claimed slot `i` on `cpu`'s list; returns whether the list was empty.
    #[inline]
    pub fn push(&self, cpu: usize, i: usize, lazy: bool) -> bool {
        let head = self.head(cpu, lazy);
        let me = i as u32 + 1;
        let mut h = head.load(Ordering::Relaxed);
        loop {
            self.slots[i].next.store(h, Ordering::Relaxed);
            match head.compare_exchange_weak(h, me, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return h == NIL,
                Err(now) => h = now,
            }
        }
    }

    /// Sets `cpu`'s raised flag; returns true if it was clear (the caller must raise the IRQ).
    pub fn raise(&self, cpu: usize) -> bool {
        !self.raised[cpu].swap(true, Ordering::AcqRel)
    }

    /// The run pass for `cpu`'s list (or lazy list): clear raised, take everything, and for each
    /// work clear PENDING, call `f(slot)`, then clear BUSY unless it was re-claimed meanwhile.
    /// Returns how many ran.
    pub fn run(&self, cpu: usize, lazy: bool, mut f: impl FnMut(usize)) -> usize {
        if !lazy {
            self.raised[cpu].store(false, Ordering::Release);
        }
        let mut next = self.head(cpu, lazy).swap(NIL, Ordering::Acquire);
        let mut ran = 0;
        while next != NIL {
            let i = (next - 1) as usize;
            // Read the link before the work can be re-queued (and relinked) by its callback.
            next = self.slots[i].next.load(Ordering::Relaxed);
            let flags = self.slots[i].flags.fetch_and(!PENDING, Ordering::AcqRel) & !PENDING;
            f(i);
            let _ = self.slots[i].flags.compare_exchange(
                flags,
                flags & !BUSY,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
            ran += 1;
        }
        ran
    }

    /// Whether `cpu` has works waiting (either list).
    pub fn has_pending(&self, cpu: usize) -> bool {
        self.heads[cpu].load(Ordering::Acquire) != NIL
            || self.lazy_heads[cpu].load(Ordering::Acquire) != NIL
    }
}

#[cfg(not(loom))]
impl<const N: usize, const CPUS: usize> Default for Core<N, CPUS> {
    fn default() -> Self {
        Self::new()
    }
}

// ---- the kernel's instance ----

#[cfg(not(loom))]
pub use kernel::*;

#[cfg(not(loom))]
mod kernel {
    use super::*;
    use crate::config::{IRQ_WORK_SLOTS as POOL, MAX_CPUS};
    use crate::error::Error;
    use crate::sync::IrqSpinLock;
    use crate::sync::atomic::AtomicU64;
    use alloc::boxed::Box;
    use alloc::string::String;
    use alloc::sync::Arc;

    /// The callback type: runs in hard IRQ context, must not sleep.
    pub type Func = Arc<dyn Fn(&IrqWork) + Send + Sync>;

    static CORE: Core<POOL, MAX_CPUS> = Core::new();
    /// Boxed so an empty slot is all zeroes (`.bss`, not `.data`).
    #[allow(clippy::type_complexity)]
    static FUNCS: [IrqSpinLock<Option<Box<(String, Func)>>>; POOL] =
        [const { IrqSpinLock::new(None) }; POOL];
    static RUNS: [AtomicU64; POOL] = [const { AtomicU64::new(0) }; POOL];
    /// The CPU a work last ran on, plus one (0: never ran).
    static LAST_CPU: [AtomicU32; POOL] = [const { AtomicU32::new(0) }; POOL];
    /// Where [`IrqWork::new`] starts looking for a free slot (a hint).
    static NEXT_FREE: crate::sync::atomic::AtomicUsize = crate::sync::atomic::AtomicUsize::new(0);

    /// A handle to an irq_work (a pool slot). Dropping the last handle does not free the slot:
    /// call [`IrqWork::free`] once it is idle.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct IrqWork(usize);

    impl IrqWork {
        /// Creates a work named `name` running `func` (in hard IRQ context). `lazy` works wait for
        /// the next timer interrupt. Fails with [`Error::NoMemory`] when the pool is full.
        #[doc(alias = "init_irq_work")]
        pub fn new(name: &str, lazy: bool, func: Func) -> Result<Self, Error> {
            // Scan from where the last creation stopped, so that creating many is not quadratic.
            let from = NEXT_FREE.load(Ordering::Relaxed);
            for k in 0..POOL {
                let i = (from + k) % POOL;
                let mut g = FUNCS[i].lock();
                if g.is_none() {
                    *g = Some(Box::new((String::from(name), func)));
                    RUNS[i].store(0, Ordering::Relaxed);
                    LAST_CPU[i].store(0, Ordering::Relaxed);
                    CORE.set_lazy(i, lazy);
                    NEXT_FREE.store((i + 1) % POOL, Ordering::Relaxed);
                    return Ok(IrqWork(i));
                }
            }
            Err(Error::NoMemory)
        }

        /// Releases the slot; [`Error::Busy`] while the work is queued or running.
        pub fn free(self) -> Result<(), Error> {
            if CORE.flags(self.0) & CLAIMED != 0 {
                return Err(Error::Busy);
            }
            *FUNCS[self.0].lock() = None;
            Ok(())
        }

        /// The name it was created with.
        pub fn name(&self) -> String {
            FUNCS[self.0]
                .lock()
                .as_ref()
                .map(|b| b.0.clone())
                .unwrap_or_default()
        }

        /// Raw PENDING/BUSY/LAZY flags.
        pub fn flags(&self) -> u32 {
            CORE.flags(self.0)
        }

        /// Times its callback has run.
        pub fn runs(&self) -> u64 {
            RUNS[self.0].load(Ordering::Relaxed)
        }

        /// The CPU it last ran on.
        pub fn last_cpu(&self) -> Option<usize> {
            let c = LAST_CPU[self.0].load(Ordering::Relaxed);
            (c != 0).then(|| c as usize - 1)
        }
    }

    fn lazy(w: IrqWork) -> bool {
        CORE.flags(w.0) & LAZY != 0
    }

    /// Queues `w` on this CPU. False if it was already pending (it will run once).
    #[doc(alias = "irq_work_queue")]
    pub fn queue(w: IrqWork) -> bool {
        let p = crate::port::port();
        if !CORE.claim(w.0) {
            return false;
        }
        let saved = p.irq_save();
        let cpu = p.cpu_id();
        let lazy = lazy(w) && crate::timer::has_pending(cpu);
        CORE.push(cpu, w.0, lazy);
        if !lazy && CORE.raise(cpu) {
            p.send_sgi(Sgi::IrqWork, 1 << cpu);
        }
        p.irq_restore(saved);
        true
    }

    /// Queues `w` on `cpu` and interrupts that CPU. False if already pending;
    /// [`Error::Invalid`] if `cpu` is not online.
    #[doc(alias = "irq_work_queue_on")]
    pub fn queue_on(w: IrqWork, cpu: usize) -> Result<bool, Error> {
        let p = crate::port::port();
        if cpu >= MAX_CPUS || crate::sched::online_mask() & (1 << cpu) == 0 {
            return Err(Error::Invalid);
        }
        if !CORE.claim(w.0) {
            return Ok(false);
        }
        if CORE.push(cpu, w.0, false) {
            p.send_sgi(Sgi::IrqWork, 1 << cpu);
        }
        Ok(true)
    }

    /// Runs this CPU's pending irq_works (the SGI handler; `lazy` also runs the lazy list, from
    /// the timer interrupt). Called by [`crate::entry`] in hard IRQ context, interrupts masked.
    #[doc(alias = "irq_work_run")]
    pub fn run_pending(lazy: bool) -> usize {
        let cpu = crate::port::port().cpu_id();
        let call = |i: usize| {
            let f = FUNCS[i].lock_masked().as_ref().map(|b| b.1.clone());
            if let Some(f) = f {
                f(&IrqWork(i));
            }
            RUNS[i].fetch_add(1, Ordering::Relaxed);
            LAST_CPU[i].store(cpu as u32 + 1, Ordering::Relaxed);
        };
        let mut n = CORE.run(cpu, false, call);
        if lazy {
            n += CORE.run(cpu, true, call);
        }
        if let Some(stats) = crate::cpu::stats(cpu) {
            stats.count_irq_work_runs(n as u64);
        }
        n
    }

    /// Waits until `w` is not BUSY (its callback finished). [`Error::Busy`] if called with
    /// interrupts masked, where it could wait forever.
    #[doc(alias = "irq_work_sync")]
    pub fn sync(w: IrqWork) -> Result<(), Error> {
        let p = crate::port::port();
        if p.irqs_masked() {
            return Err(Error::Busy);
        }
        while CORE.flags(w.0) & BUSY != 0 {
            let s = p.irq_save();
            p.irq_restore(s);
            p.relax();
        }
        Ok(())
    }

    /// Every live work: `(work, name)`.
    pub fn list() -> alloc::vec::Vec<(IrqWork, String)> {
        FUNCS
            .iter()
            .enumerate()
            .filter_map(|(i, f)| f.lock().as_ref().map(|b| (IrqWork(i), b.0.clone())))
            .collect()
    }

    /// Drops every work (the fake port's fresh start).
    #[cfg(not(target_os = "none"))]
    pub(crate) fn reset_for_fake() {
        NEXT_FREE.store(0, Ordering::Relaxed);
        for (i, f) in FUNCS.iter().enumerate() {
            *f.lock() = None;
            CORE.slots[i].flags.store(0, Ordering::Release);
        }
        for c in 0..MAX_CPUS {
            CORE.heads[c].store(NIL, Ordering::Release);
            CORE.lazy_heads[c].store(NIL, Ordering::Release);
            CORE.raised[c].store(false, Ordering::Release);
        }
    }
}
