//! The lock-free core of irq_work: each work's PENDING/BUSY flags in one atomic word, the claim,
//! the per-CPU lists of slot indices and their "raised" flags ([`Core`]). Generic over its sizes
//! so the loom models (`super::loom`) run a small instance of the very same code.
//!
//! The same word holds the slot's *generation* (its upper bits), bumped each time the slot is
//! freed: a claim through a handle of an earlier generation fails, so a handle kept after its work
//! was freed can never queue the slot's next work.

use crate::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// The work is queued and its callback has not started.
pub const PENDING: u32 = 1;
/// The work is claimed: queued, or its callback is running.
pub const BUSY: u32 = 2;
/// PENDING and BUSY: what a successful claim sets.
pub const CLAIMED: u32 = PENDING | BUSY;
/// Run at the next timer interrupt instead of raising the irq_work interrupt.
pub const LAZY: u32 = 4;
/// The flag bits; the bits above [`GEN_SHIFT`] are the slot's generation.
pub const FLAG_MASK: u32 = (1 << GEN_SHIFT) - 1;
/// Where the generation starts in the flags word (24 bits of it: it wraps after 16 million frees
/// of one slot).
pub const GEN_SHIFT: u32 = 8;

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

    /// The flags of slot `i` (with its generation: see [`FLAG_MASK`]).
    pub fn flags(&self, i: usize) -> u32 {
        self.slots[i].flags.load(Ordering::Acquire)
    }

    /// Slot `i`'s generation.
    pub fn generation(&self, i: usize) -> u32 {
        self.flags(i) >> GEN_SHIFT
    }

    /// Sets or clears the LAZY bit of an idle slot (at creation).
    pub fn set_lazy(&self, i: usize, lazy: bool) {
        if lazy {
            self.slots[i].flags.fetch_or(LAZY, Ordering::AcqRel);
        } else {
            self.slots[i].flags.fetch_and(!LAZY, Ordering::AcqRel);
        }
    }

    /// Claims slot `i` of generation `generation` for queueing: false while it is PENDING
    /// (already queued), or if the slot is of another generation (the work was freed).
    #[inline]
    pub fn claim(&self, i: usize, generation: u32) -> bool {
        let f = &self.slots[i].flags;
        let mut flags = f.load(Ordering::Relaxed) & !PENDING;
        loop {
            if flags >> GEN_SHIFT != generation {
                return false;
            }
            match f.compare_exchange(flags, flags | CLAIMED, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(now) if now & PENDING != 0 => return false,
                Err(now) => flags = now,
            }
        }
    }

    /// The first half of freeing slot `i` of generation `generation`: claims it for good if it is
    /// idle (neither PENDING nor BUSY), so no queue can take it; false otherwise (nothing done).
    /// Then [`Core::release`].
    pub fn retire(&self, i: usize, generation: u32) -> bool {
        let f = &self.slots[i].flags;
        let mut flags = f.load(Ordering::Acquire);
        loop {
            if flags & CLAIMED != 0 || flags >> GEN_SHIFT != generation {
                return false;
            }
            match f.compare_exchange(flags, flags | CLAIMED, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(now) => flags = now,
            }
        }
    }

    /// The second half: slot `i` is free, of the next generation, with no flags.
    pub fn release(&self, i: usize) {
        let next = (self.generation(i) + 1) & (u32::MAX >> GEN_SHIFT);
        self.slots[i]
            .flags
            .store(next << GEN_SHIFT, Ordering::Release);
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

    /// The run pass for `cpu`'s list (or lazy list): take everything, and for each work clear
    /// PENDING, call `f(slot)`, then clear BUSY unless it was re-claimed meanwhile. Returns how
    /// many ran. The pass of the (not lazy) list sets the raised flag, set while the callbacks
    /// run (whether an SGI or the timer started the pass), so that one queueing a work on this
    /// CPU raises nothing: [`Core::end_pass`] clears it and says whether to raise again.
    #[inline(always)]
    pub fn run(&self, cpu: usize, lazy: bool, mut f: impl FnMut(usize)) -> usize {
        if !lazy {
            self.raised[cpu].store(true, Ordering::Relaxed);
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

    /// Every slot idle and every list empty (the fake port's fresh start).
    #[cfg(all(not(target_os = "none"), not(loom)))]
    pub(crate) fn reset(&self) {
        for s in &self.slots {
            s.flags.store(0, Ordering::Release);
        }
        for c in 0..CPUS {
            self.heads[c].store(NIL, Ordering::Release);
            self.lazy_heads[c].store(NIL, Ordering::Release);
            self.raised[c].store(false, Ordering::Release);
        }
    }

    /// Both lists of `cpu` (a CPU going offline, its last run; or what a queuer pushed there
    /// while it left): runs them like [`Core::run`].
    pub fn run_both(&self, cpu: usize, f: impl FnMut(usize)) -> usize {
        self.raised[cpu].store(false, Ordering::Release);
        let mut f = f;
        self.run(cpu, false, &mut f) + self.run(cpu, true, &mut f)
    }

    /// Ends `cpu`'s run pass: clears its raised flag; returns whether works were queued on its
    /// list meanwhile (by the callbacks, or by other CPUs, which raised the interrupt
    /// themselves): the caller raises it again, or puts the next pass off.
    #[inline]
    pub fn end_pass(&self, cpu: usize) -> bool {
        self.raised[cpu].store(false, Ordering::Release);
        self.heads[cpu].load(Ordering::Acquire) != NIL
    }

    /// The slot at the head of `cpu`'s (not lazy) list, if any: the last one queued there.
    pub fn first_queued(&self, cpu: usize) -> Option<usize> {
        (self.heads[cpu].load(Ordering::Acquire) as usize).checked_sub(1)
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
