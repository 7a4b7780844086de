//! The benchmark suite (issue 5): each benchmark measures one kernel path, in counter ticks and,
//! where the port has a cycle counter ([`Port::cycles`](crate::port::Port::cycles)), in cycles.
//!
//! # How a benchmark runs
//! [`run`] starts a measuring kthread (`bench`) bound to the caller's CPU at priority
//! [`MEASURE_PRIO`] (above the shell's 20, so nothing else of the shell's runs in between) and
//! waits for it. The benchmark body ([`BENCHES`]) spawns whatever helper threads it needs on the
//! same CPU (or on the next online CPU for the cross-CPU rows), runs a warm-up of
//! `max(iters / 10, 1)` (at most 1,000) unrecorded iterations, then records exactly `iters`
//! samples. Before each iteration it spins until the counter changes (`align`), so that every
//! iteration starts on a tick edge and runs are repeatable under a deterministic emulator
//! (QEMU `-icount`). A timestamp taken in a callback (hard IRQ, worker, task_work) goes through
//! an atomic (`AtomicStamp`) that the measuring thread reads afterwards.
//!
//! A sample is the difference of two timestamps taken as each benchmark says (see
//! [`BENCHES`]); [`Stats`] summarises the samples of one row as min, median (lower), p99
//! (nearest rank) and max. Cycles are only kept when both timestamps come from the same CPU
//! (cycle counters of different CPUs are not synchronised); rows whose timestamps span CPUs, or
//! measure against a computed deadline, have no cycles.
//!
//! # Boot time
//! The `boot` benchmark reads the milestones [`crate::boot`] recorded: kernel entry (the board)
//! to the shell's start and to its first prompt, one sample each.
//!
//! The suite is built only with the cargo feature `bench` (the shell's `bench` command asks for
//! it): a kernel that does not ask for it carries none of this code.

mod cases;

use crate::error::Error;
use crate::kthread::{self, Options};
use crate::sync::IrqSpinLock;
use crate::wait::Completion;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Priority of the measuring thread: above the shell (20) and the default (10).
pub const MEASURE_PRIO: u8 = 24;
/// Priority of helper threads that must preempt the measuring thread as soon as they are woken.
pub const HELPER_PRIO: u8 = 26;

/// Summary of one row's samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Smallest sample.
    pub min: u64,
    /// Lower median: the sample at index `(n - 1) / 2` of the sorted samples.
    pub median: u64,
    /// 99th percentile, nearest rank: the sample at index `ceil(0.99 n) - 1`.
    pub p99: u64,
    /// Largest sample.
    pub max: u64,
}

impl Stats {
    /// Sorts `samples` and summarises them; `None` if there are none.
    pub fn of(samples: &mut [u64]) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        heapsort(samples);
        let n = samples.len();
        let p99 = (n * 99).div_ceil(100).max(1) - 1;
        Some(Stats {
            min: samples[0],
            median: samples[(n - 1) / 2],
            p99: samples[p99],
            max: samples[n - 1],
        })
    }
}

/// Sorts `v` ascending. `sort_unstable` is a few KiB of code for the one sort in the kernel; a
/// heapsort is a few hundred bytes and sorts 10,000 samples in well under a millisecond.
pub(crate) fn heapsort(v: &mut [u64]) {
    // Build a max-heap, then move its root to the end, one element at a time.
    let n = v.len();
    for i in (0..n + n / 2).rev() {
        let end = if i >= n {
            n
        } else {
            v.swap(0, i);
            i
        };
        let mut node = i.saturating_sub(n);
        let heap = &mut v[..end];
        loop {
            let mut child = 2 * node + 1;
            if child >= heap.len() {
                break;
            }
            if child + 1 < heap.len() && heap[child] < heap[child + 1] {
                child += 1;
            }
            if heap[node] >= heap[child] {
                break;
            }
            heap.swap(node, child);
            node = child;
        }
    }
}

/// One result row, e.g. `timers/4096`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Benchmark name, with `/<case>` for sub-cases.
    pub name: String,
    /// Number of samples.
    pub n: usize,
    /// In counter ticks.
    pub ticks: Stats,
    /// In CPU cycles, when the port has a cycle counter and the row allows it.
    pub cycles: Option<Stats>,
}

impl Row {
    /// Its line in the result table (cycles `-` when not measured), aligned with
    /// [`table_header`]. The shell's `bench` and the host runner print the same table.
    pub fn table_line(&self) -> String {
        let t = self.ticks;
        let cycles = match self.cycles {
            Some(c) => alloc::format!("{:>9} {:>9} {:>9} {:>9}", c.min, c.median, c.p99, c.max),
            None => alloc::format!("{:>9} {:>9} {:>9} {:>9}", "-", "-", "-", "-"),
        };
        alloc::format!(
            "{:<24} {:>6} {:>9} {:>9} {:>9} {:>9}  {}",
            self.name,
            self.n,
            t.min,
            t.median,
            t.p99,
            t.max,
            cycles
        )
    }
}

/// The result table's header line.
pub fn table_header() -> String {
    alloc::format!(
        "{:<24} {:>6} {:>9} {:>9} {:>9} {:>9}  {:>9} {:>9} {:>9} {:>9}",
        "BENCH",
        "N",
        "MIN",
        "MEDIAN",
        "P99",
        "MAX",
        "CYC_MIN",
        "CYC_MED",
        "CYC_P99",
        "CYC_MAX"
    )
}

/// A benchmark of the suite.
#[derive(Debug)]
pub struct Bench {
    /// What `bench <name>` selects.
    pub name: &'static str,
    /// Iterations when none are given.
    pub iters: usize,
    /// What it measures, one line.
    pub help: &'static str,
    /// Body, run in the measuring thread.
    run: fn(&Ctx) -> Result<Vec<Row>, Error>,
}

/// Every benchmark, in the order `bench` runs them.
pub static BENCHES: &[Bench] = &[
    Bench {
        name: "yield",
        iters: 10_000,
        help: "two threads of equal priority on one CPU yielding: yield_now() -> the other resumes",
        run: cases::yield_,
    },
    Bench {
        name: "pingpong",
        iters: 10_000,
        help: "two threads on one CPU waking each other through completions: complete() -> the other resumes",
        run: cases::pingpong,
    },
    Bench {
        name: "park",
        iters: 10_000,
        help: "kthread_park + kthread_unpark round trip on a (lower-priority) thread polling should_park",
        run: cases::park,
    },
    Bench {
        name: "irqwork",
        iters: 10_000,
        help: "irq_work_queue on this CPU -> SGI -> callback start",
        run: cases::irqwork,
    },
    Bench {
        name: "irqwork-remote",
        iters: 10_000,
        help: "irq_work_queue_on the next CPU: sender = the call's cost; latency = call -> remote callback start",
        run: cases::irqwork_remote,
    },
    Bench {
        name: "queue-work",
        iters: 10_000,
        help: "queue_work_on this CPU's idle worker, then flush_workqueue: -> callback start; -> the flusher resumes",
        run: cases::queue_work,
    },
    Bench {
        name: "kworker",
        iters: 10_000,
        help: "kthread_queue_work (then kthread_flush_work) on a worker of this CPU -> callback start",
        run: cases::kworker,
    },
    Bench {
        name: "taskwork",
        iters: 10_000,
        help: "task_work_add(signal) on an interruptibly sleeping thread of this CPU -> callback runs in it",
        run: cases::taskwork,
    },
    Bench {
        name: "delayed",
        iters: 100,
        help: "queue_delayed_work_on this CPU for 1 ms and 10 ms: lateness, deadline -> callback start",
        run: cases::delayed,
    },
    Bench {
        name: "timers",
        iters: 10_000,
        help: "timer arm + cancel (one pair) with 16, 256 and 4,096 other timers pending on this CPU",
        run: cases::timers,
    },
    Bench {
        name: "sched-scale",
        iters: 10_000,
        help: "wake (complete) a more urgent thread -> it runs, with 1, 64 and 1,024 other threads ready",
        run: cases::sched_scale,
    },
    Bench {
        name: "create",
        iters: 1_000,
        help: "kthread_run (bound to this CPU, more urgent) of a thread that returns at once + kthread_stop",
        run: cases::create,
    },
    Bench {
        name: "boot",
        iters: 1,
        help: "counter ticks from kernel entry to the shell's first prompt; boot/to-shell: to the shell's start, before its terminal probe",
        run: cases::boot,
    },
];

/// The benchmark named `name`.
pub fn find(name: &str) -> Option<&'static Bench> {
    BENCHES.iter().find(|b| b.name == name)
}

/// What a benchmark body gets.
pub(crate) struct Ctx {
    /// Recorded iterations per row.
    pub iters: usize,
    /// Unrecorded warm-up iterations before them.
    pub warm: usize,
    /// The CPU everything runs on.
    pub cpu: usize,
    /// Another online CPU, for the cross-CPU rows.
    pub remote: Option<usize>,
}

impl Ctx {
    /// Warm-up plus recorded iterations.
    pub fn total(&self) -> usize {
        self.warm + self.iters
    }
}

/// What a benchmark body returns.
type Outcome = Result<Vec<Row>, Error>;

/// Runs benchmark `name` with `iters` recorded iterations per row (default: its own) and returns
/// its rows. Must be called from a kthread. Errors: [`Error::Invalid`] for an unknown name or a
/// cross-CPU benchmark with one CPU online; [`Error::NoMemory`] when threads cannot be created.
pub fn run(name: &str, iters: Option<usize>) -> Result<Vec<Row>, Error> {
    let bench = find(name).ok_or(Error::Invalid)?;
    let iters = iters.unwrap_or(bench.iters).max(1);
    let p = crate::port::port();
    let saved = p.irq_save();
    let cpu = p.cpu_id();
    p.irq_restore(saved);
    let online = crate::sched::online_mask();
    let remote = (1..crate::config::MAX_CPUS)
        .map(|d| (cpu + d) % crate::config::MAX_CPUS)
        .find(|&c| online & (1 << c) != 0);
    let ctx = Ctx {
        iters,
        warm: (iters / 10).clamp(1, 1000),
        cpu,
        remote,
    };
    let slot: Arc<IrqSpinLock<Option<Outcome>>> = Arc::new(IrqSpinLock::new(None));
    let done = Arc::new(Completion::new());
    let (s2, d2, f) = (slot.clone(), done.clone(), bench.run);
    let t = kthread::create_with("bench", opts(cpu, MEASURE_PRIO), move || {
        let r = f(&ctx);
        *s2.lock() = Some(r);
        d2.complete();
        0
    })?;
    kthread::wake_up_process(&t);
    done.wait();
    kthread::stop(&t);
    slot.lock().take().unwrap_or(Err(Error::Interrupted))
}

/// Options for a thread bound to `cpu` at `prio`.
pub(crate) fn opts(cpu: usize, prio: u8) -> Options {
    Options {
        prio: Some(prio),
        cpu: Some(cpu),
    }
}

/// A point in time: counter ticks and, if the port has one, this CPU's cycle count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub t: u64,
    pub c: Option<u64>,
}

/// Now.
pub(crate) fn stamp() -> Stamp {
    let p = crate::port::port();
    let c = p.cycles();
    Stamp { t: p.now(), c }
}

/// Spins until the counter changes, so the next iteration starts on a tick edge.
pub(crate) fn align() {
    let p = crate::port::port();
    let t = p.now();
    while p.now() == t {
        core::hint::spin_loop();
    }
}

const NO_CYCLES: u64 = u64::MAX;

/// A [`Stamp`] handed from a callback to the measuring thread.
#[derive(Default)]
pub(crate) struct AtomicStamp {
    t: AtomicU64,
    c: AtomicU64,
    ready: AtomicBool,
}

impl AtomicStamp {
    /// Records `s` (the callback side).
    pub fn set(&self, s: Stamp) {
        self.t.store(s.t, Ordering::Relaxed);
        self.c.store(s.c.unwrap_or(NO_CYCLES), Ordering::Relaxed);
        self.ready.store(true, Ordering::Release);
    }
    /// Takes the recorded stamp, if any.
    pub fn take(&self) -> Option<Stamp> {
        if !self.ready.swap(false, Ordering::AcqRel) {
            return None;
        }
        let c = self.c.load(Ordering::Relaxed);
        Some(Stamp {
            t: self.t.load(Ordering::Relaxed),
            c: (c != NO_CYCLES).then_some(c),
        })
    }
    /// Spins until a stamp is recorded and takes it. Only where the callback runs without the
    /// measuring thread blocking (an interrupt, another CPU, a more urgent thread).
    pub fn wait(&self) -> Stamp {
        loop {
            if let Some(s) = self.take() {
                return s;
            }
            core::hint::spin_loop();
        }
    }
}

/// Collects one row's samples, dropping the warm-up ones.
pub(crate) struct Recorder {
    name: String,
    warm: usize,
    iters: usize,
    seen: usize,
    ticks: Vec<u64>,
    cycles: Vec<u64>,
    use_cycles: bool,
}

impl Recorder {
    /// A row named `name` for `ctx`'s iterations.
    pub fn new(name: &str, ctx: &Ctx) -> Self {
        Self {
            name: String::from(name),
            warm: ctx.warm,
            iters: ctx.iters,
            seen: 0,
            ticks: Vec::with_capacity(ctx.iters),
            cycles: Vec::with_capacity(ctx.iters),
            use_cycles: true,
        }
    }
    /// Never records cycles (timestamps from different CPUs, or a computed start).
    pub fn without_cycles(mut self) -> Self {
        self.use_cycles = false;
        self
    }
    /// Records the interval `from -> to` (ignored during warm-up and once full).
    pub fn add(&mut self, from: Stamp, to: Stamp) {
        self.seen += 1;
        if self.seen <= self.warm || self.done() {
            return;
        }
        self.ticks.push(to.t.saturating_sub(from.t));
        match (from.c, to.c) {
            (Some(a), Some(b)) if self.use_cycles => self.cycles.push(b.wrapping_sub(a)),
            _ => self.use_cycles = false,
        }
    }
    /// Whether every recorded iteration is in.
    pub fn done(&self) -> bool {
        self.ticks.len() >= self.iters
    }
    /// The finished row.
    pub fn row(mut self) -> Row {
        let n = self.ticks.len();
        let ticks = Stats::of(&mut self.ticks).unwrap_or(Stats {
            min: 0,
            median: 0,
            p99: 0,
            max: 0,
        });
        let cycles = if self.use_cycles && self.cycles.len() == n {
            Stats::of(&mut self.cycles)
        } else {
            None
        };
        Row {
            name: self.name,
            n,
            ticks,
            cycles,
        }
    }
}
