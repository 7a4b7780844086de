//! What every phase of a `stress` run shares: the limits, the kind of work, the tally the
//! works count into, and the queueing loops the queuer threads run.

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use rtos::kthread;
use rtos::port::Port;
use rtos::time::Instant;
use rtos::wait::WaitQueue;
use rtos::wait::wait_event_dyn;
use rtos::work::irq_work::{self, IrqWork};
use rtos::work::kthread_worker::{self as kw, Worker};
use rtos::work::workqueue::{self as wqm, Work, Workqueue};

use crate::args::{CmdError, FromArg};
use core::time::Duration;

/// Most works one `stress` run takes.
pub(super) const MAX_N: usize = 100_000;
/// irq_work slots `stress irqwork` leaves to everything else.
pub(super) const IRQ_RESERVED: usize = 256;
/// Default `--timeout`.
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the shell looks at the counters.
pub(super) const POLL: Duration = Duration::from_millis(1);
/// How long the shell waits for a queuer thread to exit once it is told to.
pub(super) const STOP: Duration = Duration::from_secs(2);
/// How long the shell waits for the irq_work slots to read idle once every callback ran.
pub(super) const SETTLE: Duration = Duration::from_millis(100);
/// Heap bytes per work item, beyond `size_of::<Work>()`, for the allocation probe: the `Arc`
/// header, the boxed closure, the name, the shell's handle, and slack.
pub(super) const WORK_EXTRA_BYTES: usize = 128;

/// What to stress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    IrqWork,
    Wq,
    Kworker,
}

impl Kind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::IrqWork => "irqwork",
            Kind::Wq => "wq",
            Kind::Kworker => "kworker",
        }
    }
}

impl FromArg for Kind {
    const WHAT: &'static str = "stress kind";
    const HINT: Option<&'static str> = Some("irqwork, wq or kworker");
    fn from_arg(s: &str) -> Option<Self> {
        [Kind::IrqWork, Kind::Wq, Kind::Kworker]
            .into_iter()
            .find(|k| k.name() == s)
    }
}

/// What the queuers, the works and the shell share.
pub(super) struct Tally {
    /// The CPUs used, in order; work `i` is aimed at `cpus[i % cpus.len()]`.
    pub(super) cpus: Vec<usize>,
    /// Runs of each logical work.
    pub(super) runs: Vec<AtomicU32>,
    /// Runs per CPU (indexed by CPU number).
    pub(super) per_cpu: [AtomicU64; rtos::config::MAX_CPUS],
    /// Runs on another CPU than the one aimed at.
    pub(super) wrong_cpu: AtomicU64,
    /// `--offline C`: the CPU taken offline during the run.
    pub(super) offline: Option<usize>,
    /// Runs of works aimed at that CPU that ran elsewhere (while it was offline, or before its
    /// worker was re-bound): expected, not wrong.
    pub(super) moved: AtomicU64,
    /// Runs in all.
    pub(super) total: AtomicU64,
    /// Queue calls that succeeded.
    pub(super) queued: AtomicU64,
    /// Queue calls that returned "already pending" (or an error).
    pub(super) refused: AtomicU64,
    /// Queuer threads that finished their share.
    pub(super) done: AtomicUsize,
    /// Give up (timeout): the queuers stop queueing.
    pub(super) abort: AtomicBool,
    /// Counter value at which everything gives up.
    pub(super) deadline: Instant,
    /// irqwork: the logical work each pool slot runs for next.
    pub(super) current: Vec<AtomicU32>,
    /// irqwork: the slot's callback has taken its logical work (it may be reused).
    pub(super) free: Vec<AtomicBool>,
    /// irqwork: where queuers wait for a free slot; a callback wakes it when someone waits.
    pub(super) slot_freed: WaitQueue,
    /// irqwork: queuers waiting (or about to) on `slot_freed`.
    pub(super) waiting: AtomicUsize,
}

impl Tally {
    pub(super) fn target(&self, i: usize) -> usize {
        self.cpus[i % self.cpus.len()]
    }

    /// A run of logical work `i`, on the calling CPU.
    pub(super) fn hit(&self, i: usize) {
        let cpu = rtos::port::port().cpu_id();
        if let Some(r) = self.runs.get(i) {
            r.fetch_add(1, Ordering::AcqRel);
        }
        if let Some(c) = self.per_cpu.get(cpu) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let target = self.target(i);
        if cpu != target {
            if self.offline == Some(target) {
                self.moved.fetch_add(1, Ordering::Relaxed);
            } else {
                self.wrong_cpu.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.total.fetch_add(1, Ordering::AcqRel);
    }

    /// Counts one queue call's result.
    pub(super) fn queued(&self, ok: bool) {
        if ok {
            self.queued.fetch_add(1, Ordering::AcqRel);
        } else {
            self.refused.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Whether to stop now (timeout or told to); sets `abort` at the deadline.
    pub(super) fn give_up(&self) -> bool {
        if self.abort.load(Ordering::Acquire) {
            return true;
        }
        if self.deadline.has_passed() {
            self.abort.store(true, Ordering::Release);
            return true;
        }
        false
    }

    /// The `[lo, hi)` share of queuer `j`.
    pub(super) fn share(&self, j: usize) -> (usize, usize) {
        let (n, k) = (self.runs.len(), self.cpus.len());
        (n * j / k, n * (j + 1) / k)
    }
}

/// A vector of `n` zeroed counters, or ENOMEM.
pub(super) fn counters(n: usize) -> Result<Vec<AtomicU32>, CmdError> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| enomem(n))?;
    v.extend((0..n).map(|_| AtomicU32::new(0)));
    Ok(v)
}

pub(super) fn enomem(n: usize) -> CmdError {
    CmdError::runtime(format!("not enough memory for {n} works (ENOMEM)"))
}

/// Preemption point while spinning: lets pending interrupts in (the fake port needs it).
pub(super) fn relax(p: &dyn Port) {
    let s = p.irq_save();
    p.irq_restore(s);
    core::hint::spin_loop();
}

// ---- the queuers ----

/// Queuer `j` for irq_works: its share, through its own slots `pool[j * per .. (j + 1) * per]`.
pub(super) fn queue_irq(t: &Tally, pool: &[IrqWork], j: usize, per: usize) {
    let me = t.cpus[j];
    let mine = j * per..(j + 1) * per;
    let (lo, hi) = t.share(j);
    let mut next = 0;
    for i in lo..hi {
        park_if_asked();
        // The first free slot from `next` on, else sleep until a callback frees one. Lock-free
        // while there is one: the wait queue's lock is only taken when waiting.
        let scan = || {
            (0..per)
                .map(|d| mine.start + (next + d) % per)
                .find(|&s| t.free[s].load(Ordering::SeqCst))
        };
        let mut found = scan();
        let mut ok = Ok(());
        if found.is_none() {
            t.waiting.fetch_add(1, Ordering::SeqCst);
            while found.is_none() && ok.is_ok() && !t.abort.load(Ordering::Acquire) {
                ok = wait_event_dyn(
                    &t.slot_freed,
                    &mut || {
                        found = scan();
                        found.is_some() || t.abort.load(Ordering::Acquire) || kthread::should_park()
                    },
                    Some(t.deadline),
                );
                park_if_asked();
            }
            t.waiting.fetch_sub(1, Ordering::SeqCst);
        }
        let Some(s) = found.filter(|_| ok.is_ok() && !t.abort.load(Ordering::Acquire)) else {
            t.abort.store(true, Ordering::Release);
            break;
        };
        next = s - mine.start + 1;
        t.free[s].store(false, Ordering::SeqCst);
        t.current[s].store(i as u32, Ordering::Release);
        let w = pool[s];
        let target = t.target(i);
        let ok = if target != me {
            queue_on_retrying(t, w, target)
        } else if (i / t.cpus.len()).is_multiple_of(2) {
            irq_work::queue(w)
        } else {
            irq_work::queue_on(w, me).unwrap_or(false)
        };
        if !ok {
            // Refused: the callback will not free the slot, and the work will never run.
            t.free[s].store(true, Ordering::SeqCst);
        }
        t.queued(ok);
    }
    // Until the last callbacks have run.
    t.waiting.fetch_add(1, Ordering::SeqCst);
    let all_free = || mine.clone().all(|s| t.free[s].load(Ordering::SeqCst));
    while !all_free() && !t.deadline.has_passed() {
        let _ = wait_event_dyn(
            &t.slot_freed,
            &mut || all_free() || kthread::should_park(),
            Some(t.deadline),
        );
        park_if_asked();
    }
    t.waiting.fetch_sub(1, Ordering::SeqCst);
}

/// A queuer bound to a CPU going offline parks when asked (CPU hotplug), and goes on once it
/// comes back.
fn park_if_asked() {
    if kthread::should_park() {
        kthread::parkme();
    }
}

/// `irq_work::queue_on`; with `--offline`, a refusal because the target CPU is offline is
/// retried until it is back (or the run gives up).
fn queue_on_retrying(t: &Tally, w: IrqWork, target: usize) -> bool {
    loop {
        match irq_work::queue_on(w, target) {
            Err(rtos::Error::Invalid) if t.offline == Some(target) && !t.give_up() => {
                rtos::sched::sleep(Duration::from_millis(1));
            }
            r => return r.unwrap_or(false),
        }
    }
}

/// Where the work items go.
pub(super) enum Dest {
    Wq(Arc<Workqueue>),
    Workers(Vec<Arc<Worker>>),
}

/// Queuer `j` for work items.
pub(super) fn queue_works(t: &Tally, works: &[Arc<Work>], dest: &Dest, j: usize) {
    let me = t.cpus[j];
    let (lo, hi) = t.share(j);
    for i in lo..hi {
        if t.give_up() {
            break;
        }
        park_if_asked();
        let target = t.target(i);
        let w = &works[i];
        let r = match dest {
            Dest::Wq(q) if target == me && (i / t.cpus.len()).is_multiple_of(2) => wqm::queue(q, w),
            Dest::Wq(q) => wqm::queue_on(q, target, w),
            Dest::Workers(ws) => kw::queue(&ws[i % t.cpus.len()], w),
        };
        t.queued(r == Ok(true));
    }
}
