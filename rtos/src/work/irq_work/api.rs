//! The kernel's irq_works: one static [`Core`](super::Core) of
//! [`IRQ_WORK_SLOTS`](crate::config::IRQ_WORK_SLOTS) slots, each with a name and a callback,
//! queued with [`queue`] / [`queue_on`] and run by [`run_pending`] from the interrupt.

use super::lockfree::{BUSY, Core, FLAG_MASK, LAZY};
use crate::config::{IRQ_WORK_SLOTS as POOL, MAX_CPUS};
use crate::error::Error;
use crate::port::Sgi;
use crate::sync::IrqSpinLock;
use crate::sync::atomic::AtomicU64;
use crate::sync::atomic::{AtomicU32, Ordering};
use crate::trace::Kind;
use crate::work::account::{self, Event, WorkKind};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;

/// The callback type: runs in hard IRQ context, must not sleep.
pub type Func = Arc<dyn Fn(&IrqWork) + Send + Sync>;

static CORE: Core<POOL, MAX_CPUS> = Core::new();
const _: () = assert!(
    POOL.is_power_of_two(),
    "IrqWork::slot masks with the pool size"
);
/// Boxed so an empty slot is all zeroes (`.bss`, not `.data`).
#[allow(clippy::type_complexity)]
static FUNCS: [IrqSpinLock<Option<Box<(String, Func)>>>; POOL] =
    [const { IrqSpinLock::new(None) }; POOL];
static RUNS: [AtomicU64; POOL] = [const { AtomicU64::new(0) }; POOL];
/// The CPU a work last ran on, plus one (0: never ran).
static LAST_CPU: [AtomicU32; POOL] = [const { AtomicU32::new(0) }; POOL];
/// Each slot's name id for trace events ([`crate::trace::intern`]).
/// (16 bits: the pool's arrays are zeroed at boot, a cost per byte.)
static NAME_ID: [core::sync::atomic::AtomicU16; POOL] =
    [const { core::sync::atomic::AtomicU16::new(0) }; POOL];
/// Each CPU's count of passes in a row that ended with works queued meanwhile ([`chained`]),
/// and when the last one ended (counter ticks).
static CHAIN: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];
static CHAINED_AT: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];
/// The slot last queued when each CPU put a pass off, plus one (0: never): the storm's likely
/// culprit, for the watchdog ([`storm_on`]).
static STORM_SLOT: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];
/// The slot whose callback each CPU's interrupt handler runs now, plus one (0: none), for the
/// watchdog ([`running_on`]).
static RUNNING: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];
/// Where [`IrqWork::new`] starts looking for a free slot (a hint).
static NEXT_FREE: crate::sync::atomic::AtomicUsize = crate::sync::atomic::AtomicUsize::new(0);
/// Slots holding a work (made by [`IrqWork::new`], not freed yet).
static IN_USE: crate::sync::atomic::AtomicUsize = crate::sync::atomic::AtomicUsize::new(0);

/// How many of the [`IRQ_WORK_SLOTS`](crate::config::IRQ_WORK_SLOTS) hold a work.
pub fn slots_in_use() -> usize {
    IN_USE.load(Ordering::Relaxed)
}

/// A handle to an irq_work: a pool slot and the slot's generation. Dropping the last handle does
/// not free the slot: call [`IrqWork::free`] once it is idle. After the free, every copy of the
/// handle is stale: queueing it does nothing (false), and it reads as a work with no name and no
/// runs, whatever work uses the slot next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqWork {
    slot: usize,
    generation: u32,
}

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
                if crate::fault::fail_alloc() {
                    break;
                }
                *g = Some(Box::new((String::from(name), func)));
                NAME_ID[i].store(crate::trace::intern(name), Ordering::Relaxed);
                RUNS[i].store(0, Ordering::Relaxed);
                LAST_CPU[i].store(0, Ordering::Relaxed);
                CORE.set_lazy(i, lazy);
                NEXT_FREE.store((i + 1) % POOL, Ordering::Relaxed);
                IN_USE.fetch_add(1, Ordering::Relaxed);
                return Ok(IrqWork::of(i));
            }
        }
        Err(Error::NoMemory)
    }

    /// Its pool slot (what its trace events carry). (Always below the pool size by
    /// construction; the mask, one instruction, spares the hot paths a bounds check and its
    /// branch.)
    #[inline(always)]
    pub fn slot(&self) -> usize {
        self.slot % POOL
    }

    /// The handle of slot `i` as it is now.
    fn of(i: usize) -> Self {
        IrqWork {
            slot: i,
            generation: CORE.generation(i),
        }
    }

    /// Whether the slot still holds this work (it was not freed).
    fn is_live(&self) -> bool {
        CORE.generation(self.slot()) == self.generation
    }

    /// Releases the slot for another work; [`Error::Busy`] while the work is queued or running
    /// (nothing done), [`Error::Invalid`] if it was freed already.
    #[doc(alias = "irq_work_free")]
    pub fn free(self) -> Result<(), Error> {
        // Under the slot's lock, so that `new` cannot take the slot half-way.
        let mut f = FUNCS[self.slot()].lock();
        if !self.is_live() {
            return Err(Error::Invalid);
        }
        if !CORE.retire(self.slot(), self.generation) {
            return Err(Error::Busy);
        }
        *f = None;
        CORE.release(self.slot());
        IN_USE.fetch_sub(1, Ordering::Relaxed);
        Ok(())
    }

    /// The name it was created with (empty once freed).
    pub fn name(&self) -> String {
        let f = FUNCS[self.slot()].lock();
        match f.as_ref() {
            Some(b) if self.is_live() => b.0.clone(),
            _ => String::new(),
        }
    }

    /// Its PENDING/BUSY/LAZY flags (none once freed).
    pub fn flags(&self) -> u32 {
        if self.is_live() {
            CORE.flags(self.slot()) & FLAG_MASK
        } else {
            0
        }
    }

    /// Times its callback has run (0 once freed).
    pub fn runs(&self) -> u64 {
        if self.is_live() {
            RUNS[self.slot()].load(Ordering::Relaxed)
        } else {
            0
        }
    }

    /// The CPU it last ran on.
    pub fn last_cpu(&self) -> Option<usize> {
        let c = LAST_CPU[self.slot()].load(Ordering::Relaxed);
        (c != 0 && self.is_live()).then(|| c as usize - 1)
    }
}

/// The irq_work CPU `cpu`'s interrupt handler runs now, as the watchdog follows it: its slot as
/// the name and its run count as the sequence (the count moves when a run ends, so the same
/// slot with the same count in two looks is one run all along).
pub fn running_on(cpu: usize) -> Option<crate::running::Callback> {
    let slot = RUNNING.get(cpu)?.load(Ordering::Relaxed).checked_sub(1)? as usize;
    Some(crate::running::Callback {
        kind: crate::running::CallbackKind::IrqWork,
        name: slot as u16,
        seq: RUNS[slot % POOL].load(Ordering::Relaxed),
    })
}

/// The name of the work in pool slot `slot` (empty if the slot is free), for reports that only
/// know the slot ([`crate::running`]).
pub fn slot_name(slot: usize) -> String {
    FUNCS
        .get(slot)
        .and_then(|f| f.lock().as_ref().map(|b| b.0.clone()))
        .unwrap_or_default()
}

/// Slot `i` as a trace event argument: its name and slot.
fn traced(i: usize) -> u64 {
    crate::trace::tag(NAME_ID[i].load(Ordering::Relaxed), i as u64)
}

fn lazy(w: IrqWork) -> bool {
    CORE.flags(w.slot()) & LAZY != 0
}

/// Queues `w` on this CPU. False if it was already pending (it will run once).
#[doc(alias = "irq_work_queue")]
pub fn queue(w: IrqWork) -> bool {
    let p = crate::port::port();
    if !CORE.claim(w.slot(), w.generation) {
        not_claimed(w);
        return false;
    }
    let saved = p.irq_save();
    let cpu = p.cpu_id();
    count_queued(cpu);
    if crate::trace::on() {
        queue_local_traced(w, cpu);
    } else {
        queue_local_plain(w, cpu);
    }
    p.irq_restore(saved);
    true
}

/// A queueing found `w` pending already (merged: it runs once for both), or freed (a stale
/// handle: refused, counted nowhere).
#[cold]
#[inline(never)]
fn not_claimed(w: IrqWork) {
    if w.is_live() {
        account::count(WorkKind::IrqWork, Event::Merged);
    }
}

/// Counts a work queued by this CPU, `here` (interrupts masked: the CPU is its counter's only
/// writer), for the accounting's submitted count.
#[inline(always)]
fn count_queued(here: usize) {
    crate::cpu::stats_of(here).count_irq_work_queued();
}

/// Pushes claimed `w` on `cpu` (normally this CPU): a lazy work waits for the timer interrupt if
/// one is pending there; otherwise the first work raises the irq_work SGI to `cpu` (unless a run
/// pass is going there, queued by a callback: the pass's end raises it, [`chained`]).
/// With `TRACE`, its trace points: each queueing path has a copy without them, the one the
/// benchmarks time, and checks once which to take.
#[inline(always)]
fn queue_local<const TRACE: bool>(w: IrqWork, cpu: usize) {
    if TRACE {
        trace_queue(w, cpu);
    }
    let lazy = lazy(w) && crate::timer::has_pending(cpu);
    CORE.push(cpu, w.slot(), lazy);
    if !lazy && CORE.raise(cpu) {
        raise::<TRACE>(cpu);
    }
}

/// The trace point of a queueing of `w` on `cpu` (before the push: before any run of it).
#[cold]
fn trace_queue(w: IrqWork, cpu: usize) {
    crate::trace::emit(Kind::IrqWorkQueue, traced(w.slot()), cpu as u64);
}

// The traced copies of the paths, out of line (arguments by value: nothing is spilled on the
// untraced path for them); the untraced copies, inlined, are the hot ones.

/// The untraced [`queue_local`], one out-of-line copy for both queueing paths.
#[inline(never)]
fn queue_local_plain(w: IrqWork, cpu: usize) {
    queue_local::<false>(w, cpu);
}

#[cold]
#[inline(never)]
fn queue_local_traced(w: IrqWork, cpu: usize) {
    queue_local::<true>(w, cpu);
}

/// [`queue_on`] with its trace points, its own masked window included (a separate return
/// path: the untraced one merges no result with it).
#[cold]
#[inline(never)]
fn queue_on_traced(p: &dyn crate::port::Port, w: IrqWork, cpu: usize) -> Result<bool, Error> {
    let saved = p.irq_save();
    let r = queue_on_masked::<true>(p, w, cpu);
    p.irq_restore(saved);
    r
}

#[cold]
#[inline(never)]
fn run_traced(cpu: usize, lazy: bool) -> usize {
    run_lists_of::<true>(cpu, lazy)
}

/// Sends the irq_work SGI to `cpu` (traced with `TRACE`).
#[inline(always)]
fn raise<const TRACE: bool>(cpu: usize) {
    if TRACE {
        crate::trace::emit(Kind::SgiSend, u64::from(Sgi::IrqWork.id()), 1 << cpu);
    }
    crate::fault::delay(crate::fault::Site::Sgi);
    crate::port::port().send_sgi(Sgi::IrqWork, 1 << cpu);
}

/// Queues `w` on `cpu`. On another CPU it is pushed there and that CPU is interrupted at once,
/// lazy or not (as Linux's `irq_work_queue_on` does); on the calling CPU it is [`queue`]. False if
/// already pending (or freed); [`Error::Invalid`] if `cpu` is not online.
#[doc(alias = "irq_work_queue_on")]
pub fn queue_on(w: IrqWork, cpu: usize) -> Result<bool, Error> {
    let p = crate::port::port();
    // The check and the push in one window with interrupts masked: CPU hotplug waits until
    // every CPU has taken an interrupt after it marked a CPU offline (a grace period), so no
    // push that saw the CPU online is still to come when it collects what the CPU left
    // ([`run_leftovers`]); later ones see it offline.
    if crate::trace::on() {
        return queue_on_traced(p, w, cpu);
    }
    let saved = p.irq_save();
    let r = queue_on_masked::<false>(p, w, cpu);
    p.irq_restore(saved);
    r
}

#[inline(always)]
fn queue_on_masked<const TRACE: bool>(
    p: &dyn crate::port::Port,
    w: IrqWork,
    cpu: usize,
) -> Result<bool, Error> {
    if cpu >= MAX_CPUS || crate::sched::online_mask() & (1 << cpu) == 0 {
        return Err(Error::Invalid);
    }
    if !CORE.claim(w.slot(), w.generation) {
        not_claimed(w);
        return Ok(false);
    }
    let here = p.cpu_id();
    count_queued(here);
    if cpu == here {
        if TRACE {
            queue_local::<true>(w, cpu);
        } else {
            queue_local_plain(w, cpu);
        }
        return Ok(true);
    }
    if TRACE {
        trace_queue(w, cpu);
    }
    if CORE.push(cpu, w.slot(), false) {
        raise::<TRACE>(cpu);
    }
    Ok(true)
}

/// This CPU goes offline (interrupts masked, its threads gone elsewhere): runs everything queued
/// on it, lazy or not, before it stops taking interrupts (seed 003's `CPU_DYING` flush).
pub fn run_dying() -> usize {
    let cpu = crate::port::port().cpu_id();
    let n = CORE.run_both(cpu, rare(callback::<true>(cpu)));
    count_runs(cpu, n);
    n
}

/// After CPU `dead` went offline and a grace period passed (every online CPU took an interrupt
/// since it was marked offline): runs here, interrupts masked, what a queuer that saw it online
/// pushed after its last run. Returns how many.
pub fn run_leftovers(dead: usize) -> usize {
    let p = crate::port::port();
    let saved = p.irq_save();
    let cpu = p.cpu_id();
    let n = CORE.run_both(dead, rare(callback::<true>(cpu)));
    count_runs(cpu, n);
    p.irq_restore(saved);
    n
}

/// Runs this CPU's pending irq_works (the SGI handler; `lazy` also runs the lazy list, from
/// the timer interrupt). Called by [`crate::entry`] in hard IRQ context, interrupts masked.
#[doc(alias = "irq_work_run")]
pub fn run_pending(lazy: bool) -> usize {
    let cpu = crate::port::port().cpu_id();
    if crate::trace::on() {
        run_traced(cpu, lazy)
    } else {
        run_lists_of::<false>(cpu, lazy)
    }
}

/// Runs, on this CPU (interrupts masked), what is queued on its list (and its lazy list with
/// `lazy`).
#[inline(always)]
fn run_lists_of<const TRACE: bool>(cpu: usize, lazy: bool) -> usize {
    let call = callback::<TRACE>(cpu);
    let mut n = CORE.run(cpu, false, call);
    if lazy {
        n += CORE.run(cpu, true, call);
    }
    if CORE.end_pass(cpu) {
        chained::<TRACE>(cpu);
    }
    count_runs(cpu, n);
    n
}

/// A run pass on `cpu` ended with works queued there again, by its callbacks (or by another CPU,
/// which raised the interrupt itself): the next pass comes at once, up to
/// [`IRQ_WORK_CHAIN`](crate::config::IRQ_WORK_CHAIN) such passes in a row (each within twice
/// [`IRQ_WORK_STORM_DELAY_US`](crate::config::IRQ_WORK_STORM_DELAY_US) of the last); past it,
/// from the timer interrupt that delay later, so the CPU's threads run in between (counted in
/// [`crate::cpu::CpuSnapshot::irq_work_deferred`]). Nothing is dropped: every work queued runs,
/// later. (Out of line: the pass's hot path pays one load and a branch for it.)
#[cold]
#[inline(never)]
fn chained<const TRACE: bool>(cpu: usize) {
    use crate::time::{Duration, Instant};
    let delay = Duration::from_micros(crate::config::IRQ_WORK_STORM_DELAY_US);
    let now = Instant::now();
    let last = Instant::from_ticks(CHAINED_AT[cpu].load(Ordering::Relaxed));
    CHAINED_AT[cpu].store(now.ticks(), Ordering::Relaxed);
    let chain = if last + delay + delay < now {
        1
    } else {
        CHAIN[cpu].load(Ordering::Relaxed).saturating_add(1)
    };
    CHAIN[cpu].store(chain, Ordering::Relaxed);
    if chain <= crate::config::IRQ_WORK_CHAIN {
        if CORE.raise(cpu) {
            raise::<TRACE>(cpu);
        }
        return;
    }
    if let Some(stats) = crate::cpu::stats(cpu) {
        stats.count_irq_work_deferred();
    }
    if let Some(slot) = CORE.first_queued(cpu) {
        STORM_SLOT[cpu].store(slot as u32 + 1, Ordering::Relaxed);
    }
    crate::timer::kick(cpu, now + delay);
}

/// The irq_work last queued on `cpu` when it last put a pass off (a re-queue storm), if any: its
/// slot (for [`slot_name`]).
pub fn storm_on(cpu: usize) -> Option<usize> {
    (STORM_SLOT.get(cpu)?.load(Ordering::Relaxed) as usize).checked_sub(1)
}

/// What running slot `i` on `cpu` does: its callback, then its counters; with `TRACE`, its
/// trace points. (The rare runs, on a CPU's way down, are always traced when tracing is on.)
#[inline(always)]
fn callback<const TRACE: bool>(cpu: usize) -> impl Fn(usize) + Copy {
    let running = &RUNNING[cpu];
    #[inline(always)]
    move |i: usize| {
        let f = FUNCS[i].lock_masked().as_ref().map(|b| b.1.clone());
        if TRACE && crate::trace::on() {
            crate::trace::emit(Kind::IrqWorkStart, traced(i), 0);
        }
        running.store(i as u32 + 1, Ordering::Relaxed);
        if let Some(f) = f {
            f(&IrqWork::of(i));
        }
        running.store(0, Ordering::Relaxed);
        if TRACE && crate::trace::on() {
            crate::trace::emit(Kind::IrqWorkEnd, traced(i), 0);
        }
        RUNS[i].fetch_add(1, Ordering::Relaxed);
        LAST_CPU[i].store(cpu as u32 + 1, Ordering::Relaxed);
    }
}

/// `f` as a closure of its own type, for the rare (hotplug) runs: the hot path's instance of
/// [`Core::run`] keeps a single caller and stays inlined into [`run_pending`].
fn rare(f: impl Fn(usize)) -> impl FnMut(usize) {
    move |i| f(i)
}

/// Counts `n` callbacks run on `cpu` (also the accounting's executed count).
fn count_runs(cpu: usize, n: usize) {
    if let Some(stats) = crate::cpu::stats(cpu) {
        stats.count_irq_work_runs(n as u64);
    }
}

/// Waits until `w` is not BUSY (its callback finished). [`Error::Busy`] if called with
/// interrupts masked, where it could wait forever.
#[doc(alias = "irq_work_sync")]
pub fn sync(w: IrqWork) -> Result<(), Error> {
    let p = crate::port::port();
    if p.irqs_masked() {
        return Err(Error::Busy);
    }
    while w.flags() & BUSY != 0 {
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
        .filter_map(|(i, f)| f.lock().as_ref().map(|b| (IrqWork::of(i), b.0.clone())))
        .collect()
}

/// Drops every work (the fake port's fresh start).
#[cfg(not(target_os = "none"))]
pub(crate) fn reset_for_fake() {
    NEXT_FREE.store(0, Ordering::Relaxed);
    IN_USE.store(0, Ordering::Relaxed);
    for f in &FUNCS {
        *f.lock() = None;
    }
    CORE.reset();
    for c in 0..MAX_CPUS {
        RUNNING[c].store(0, Ordering::Relaxed);
        STORM_SLOT[c].store(0, Ordering::Relaxed);
        CHAIN[c].store(0, Ordering::Relaxed);
        CHAINED_AT[c].store(0, Ordering::Relaxed);
    }
}
