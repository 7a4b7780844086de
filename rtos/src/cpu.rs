//! Per-CPU state the whole kernel can read: online flags and interrupt statistics.
//!
//! Counters are relaxed atomics: each is written by its own CPU's interrupt handlers and read by
//! anyone (the `cpus` and `top` shell commands) as a snapshot, which adds the scheduler's
//! per-CPU switch count and idle time.

#[cfg(not(loom))]
use crate::config::MAX_CPUS;
use crate::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// Statistics and state of one CPU.
pub struct CpuStats {
    online: AtomicBool,
    irqs: AtomicU64,
    timer_irqs: AtomicU64,
    sgis: AtomicU64,
    irq_work_sgis: AtomicU64,
    irq_work_runs: AtomicU64,
    /// irq_works queued by this CPU (on its list or another's).
    irq_work_queued: AtomicU64,
    irq_work_deferred: AtomicU64,
    /// Hard-IRQ nesting depth: above 0 while the CPU handles an interrupt.
    hardirq: AtomicU32,
    /// Reschedule SGIs taken: CPU hotplug's grace period waits for every CPU's to move.
    quiesced: AtomicU64,
}

/// What kind of interrupt a CPU took, for [`CpuStats::count`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqKind {
    /// The per-CPU generic timer.
    Timer,
    /// A software-generated (inter-processor) interrupt.
    Sgi,
    /// A device (shared peripheral) interrupt.
    Device,
}

/// A consistent-enough copy of one CPU's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuSnapshot {
    /// CPU index.
    pub id: usize,
    /// Whether the CPU has come online.
    pub online: bool,
    /// All interrupts taken.
    pub irqs: u64,
    /// Timer interrupts taken.
    pub timer_irqs: u64,
    /// SGIs taken.
    pub sgis: u64,
    /// irq_work SGIs ([`Sgi::IrqWork`](crate::port::Sgi::IrqWork)) taken, counted in `sgis` too.
    pub irq_work_sgis: u64,
    /// irq_work callbacks run on this CPU.
    pub irq_work_runs: u64,
    /// irq_work passes put off to the timer interrupt because works kept re-queueing
    /// themselves on this CPU (a storm, [`IRQ_WORK_CHAIN`](crate::config::IRQ_WORK_CHAIN)).
    pub irq_work_deferred: u64,
    /// Context switches made on this CPU ([`crate::sched::cpu_times`]).
    pub switches: u64,
    /// Time its idle thread ran: online time minus this is busy time
    /// ([`crate::sched::cpu_times`]).
    pub idle: crate::time::Duration,
}

/// Adds `n` to a counter that has a single writer (its CPU, masked): a load and a store, not
/// an atomic read-modify-write; readers on other CPUs see either value.
fn add(c: &AtomicU64, n: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

/// Adds one ([`add`]).
fn bump(c: &AtomicU64) {
    add(c, 1);
}

impl CpuStats {
    #[cfg(not(loom))]
    const fn new() -> Self {
        Self {
            online: AtomicBool::new(false),
            irqs: AtomicU64::new(0),
            timer_irqs: AtomicU64::new(0),
            sgis: AtomicU64::new(0),
            irq_work_sgis: AtomicU64::new(0),
            irq_work_runs: AtomicU64::new(0),
            irq_work_queued: AtomicU64::new(0),
            irq_work_deferred: AtomicU64::new(0),
            hardirq: AtomicU32::new(0),
            quiesced: AtomicU64::new(0),
        }
    }

    /// Marks the CPU online.
    pub fn set_online(&self) {
        self.online.store(true, Ordering::Release);
    }

    /// The CPU took a reschedule SGI: it was not inside an interrupt-masked window (single
    /// writer; the release pairs with [`CpuStats::quiesced`]).
    pub fn quiesce(&self) {
        let n = self.quiesced.load(Ordering::Relaxed);
        self.quiesced.store(n.wrapping_add(1), Ordering::Release);
    }

    /// How many reschedule SGIs it took ([`CpuStats::quiesce`]).
    pub fn quiesced(&self) -> u64 {
        self.quiesced.load(Ordering::Acquire)
    }

    /// Marks the CPU offline (CPU hotplug).
    pub fn set_offline(&self) {
        self.online.store(false, Ordering::Release);
    }

    /// Whether the CPU is online.
    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Acquire)
    }

    /// Counts one interrupt of `kind`. Only this CPU's interrupt handler counts (interrupts
    /// masked), so each counter has one writer.
    pub fn count(&self, kind: IrqKind) {
        bump(&self.irqs);
        match kind {
            IrqKind::Timer => bump(&self.timer_irqs),
            IrqKind::Sgi => bump(&self.sgis),
            IrqKind::Device => {}
        }
    }

    /// Counts one irq_work SGI (on top of [`CpuStats::count`]).
    pub fn count_irq_work_sgi(&self) {
        bump(&self.irq_work_sgis);
    }

    /// Counts `n` irq_work callbacks run on this CPU (by its interrupt handler, masked).
    pub fn count_irq_work_runs(&self, n: u64) {
        add(&self.irq_work_runs, n);
    }

    /// Counts one irq_work queued by this CPU (called by it, interrupts masked).
    #[inline(always)]
    pub fn count_irq_work_queued(&self) {
        bump(&self.irq_work_queued);
    }

    /// irq_work callbacks run on this CPU.
    pub fn irq_work_runs(&self) -> u64 {
        self.irq_work_runs.load(Ordering::Relaxed)
    }

    /// irq_works this CPU queued.
    pub fn irq_work_queued(&self) -> u64 {
        self.irq_work_queued.load(Ordering::Relaxed)
    }

    /// Counts one irq_work pass put off to the timer interrupt (a re-queue storm).
    pub fn count_irq_work_deferred(&self) {
        bump(&self.irq_work_deferred);
    }

    /// The CPU enters its interrupt handler (single writer: this CPU, masked).
    pub fn irq_enter(&self) {
        let d = self.hardirq.load(Ordering::Relaxed);
        self.hardirq.store(d.wrapping_add(1), Ordering::Relaxed);
    }

    /// The CPU leaves its interrupt handler, before [`crate::entry::irq_exit`] (never below 0).
    pub fn irq_leave(&self) {
        let d = self.hardirq.load(Ordering::Relaxed);
        self.hardirq.store(d.saturating_sub(1), Ordering::Relaxed);
    }

    /// Whether the CPU is handling an interrupt (Linux's `in_hardirq`).
    pub fn in_hardirq(&self) -> bool {
        self.hardirq.load(Ordering::Relaxed) != 0
    }

    #[cfg(not(loom))]
    fn snapshot(&self, id: usize) -> CpuSnapshot {
        let sched = crate::sched::cpu_times(id).unwrap_or_default();
        CpuSnapshot {
            id,
            online: self.is_online(),
            irqs: self.irqs.load(Ordering::Relaxed),
            timer_irqs: self.timer_irqs.load(Ordering::Relaxed),
            sgis: self.sgis.load(Ordering::Relaxed),
            irq_work_sgis: self.irq_work_sgis.load(Ordering::Relaxed),
            irq_work_runs: self.irq_work_runs.load(Ordering::Relaxed),
            irq_work_deferred: self.irq_work_deferred.load(Ordering::Relaxed),
            switches: sched.switches,
            idle: crate::port::try_port().map_or(crate::time::Duration::ZERO, |_| {
                crate::time::ticks(sched.idle_ticks)
            }),
        }
    }
}

#[cfg(not(loom))]
static CPUS: [CpuStats; MAX_CPUS] = [const { CpuStats::new() }; MAX_CPUS];

/// The statistics of `id`, a CPU index the caller got from the port (so below [`MAX_CPUS`]; the
/// mask, one instruction, spares hot paths a bounds check and its branch).
#[cfg(not(loom))]
#[inline(always)]
pub fn stats_of(id: usize) -> &'static CpuStats {
    const _: () = assert!(MAX_CPUS.is_power_of_two(), "stats_of masks with MAX_CPUS");
    &CPUS[id & (MAX_CPUS - 1)]
}

/// Zeroes the irq_work counts (the fake port's fresh start: the accounting reads them).
#[cfg(all(not(target_os = "none"), not(loom)))]
pub(crate) fn reset_for_fake() {
    for c in &CPUS {
        c.irq_work_queued.store(0, Ordering::Relaxed);
        c.irq_work_runs.store(0, Ordering::Relaxed);
    }
}

/// The statistics of CPU `id`, or `None` past [`MAX_CPUS`].
#[cfg(not(loom))]
pub fn stats(id: usize) -> Option<&'static CpuStats> {
    CPUS.get(id)
}

/// Snapshot of CPU `id`.
#[cfg(not(loom))]
pub fn snapshot(id: usize) -> Option<CpuSnapshot> {
    CPUS.get(id).map(|c| c.snapshot(id))
}

/// How many CPUs are marked online.
#[cfg(not(loom))]
pub fn online_count() -> usize {
    CPUS.iter().filter(|c| c.is_online()).count()
}
