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
mod harness;
mod stats;

pub use harness::{HELPER_PRIO, MEASURE_PRIO};
#[cfg(test)]
pub(crate) use harness::{Recorder, Stamp};
#[cfg(test)]
pub(crate) use stats::heapsort;
pub use stats::{Row, Stats, table_header};

use crate::error::Error;
use crate::kthread;
use crate::sync::IrqSpinLock;
use crate::wait::Completion;
use alloc::sync::Arc;
use alloc::vec::Vec;
pub(crate) use harness::Ctx;
use harness::opts;

/// What a benchmark body returns.
type Outcome = Result<Vec<Row>, Error>;

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
        help: "two threads on one CPU waking each other through completions: complete() -> the other resumes (mean of a round trip's two switches)",
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
        name: "cancel-work",
        iters: 10_000,
        help: "cancel_work_sync of a work of this CPU's worker: idle (it ran before) and pending (queued, not started)",
        run: cases::cancel_work,
    },
    Bench {
        name: "hotplug",
        iters: 20,
        help: "cpu offline + cpu online round trip of another online CPU (not CPU 0, not this one)",
        run: cases::hotplug,
    },
    Bench {
        name: "trace",
        iters: 10_000,
        help: "tracing on (every class): trace/record = one event recorded (trace::record); trace/irqwork = the irqwork row traced (6 events: queue, SGI sent, IRQ entry, callback start and end, IRQ exit)",
        run: cases::trace,
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
