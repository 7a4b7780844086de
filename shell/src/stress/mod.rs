//! `stress`: many deferred works queued concurrently from every CPU, each checked to run exactly
//! once.
//!
//! `stress irqwork <n>`, `stress wq <n>` and `stress kworker <n>` start one kthread per CPU used
//! (`stress/<cpu>`, bound with [`Options::cpu`]). The n works are split into contiguous shares,
//! one per thread, and work `i` is aimed at CPU `cpus[i % N]`, so every thread queues to every
//! CPU and every CPU runs `n / N` of them:
//!
//! - `irqwork`: to the queuer's own CPU alternately with `irq_work::queue` (the local path: SGI to
//!   self) and `irq_work::queue_on(self)`; to another CPU with `irq_work::queue_on`.
//! - `wq`: on the default `events` workqueue (or, with `--fresh`, on a new per-CPU workqueue
//!   `stresswq`, destroyed afterwards); to the own CPU alternately with plain `queue` and
//!   `queue_on(self)`, to another with `queue_on`.
//! - `kworker`: one kthread worker per CPU used (`stresskw/<cpu>`, bound), destroyed afterwards.
//!
//! Every work counts its own runs, and each run is counted per CPU; a run on another CPU than the
//! one aimed at is a failure too (queue_on, queue_on and bound workers all promise the CPU).
//! The shell waits until every work has run, polling the counters (never `flush` or
//! `irq_work::sync`, which have no time limit), up to `--timeout` (default 10 s), then prints
//!
//! `stress irqwork: 10000 queued, 10000 ran once, 0 twice or more, 0 never (cpu0 2500 cpu1 2500
//! cpu2 2500 cpu3 2500) in 123 ms`
//!
//! and returns 0 only if all n were queued (no queue call refused) and each ran exactly once on
//! its CPU; otherwise the line is followed by one `error: stress: ...` line and status 1.
//!
//! # irq_works: one slot per work, or a pool of slots reused
//!
//! `rtos::work::irq_work` has a fixed table of [`rtos::config::IRQ_WORK_SLOTS`] slots (16,384,
//! raised from 256 for this command: ~70 bytes of static tables each, ~1.1 MiB), shared with the
//! named works of `irqwork`. `stress irqwork` leaves `IRQ_RESERVED` (256) of them to the others and
//! takes one slot per work when it can, so that 10,000 irq_works really are 10,000 distinct works
//! queued without any queuer waiting for another CPU. When n is larger than that (or `--slots S`
//! caps the slots per queuer thread, or the table is fuller), each thread reuses its own slots: the
//! n logical works are then n *queue events*. Before each queue the thread takes a free slot
//! (sleeping on a wait queue that every callback wakes, until `--timeout`), writes the logical
//! work's number into the slot's `current` cell and queues it; the callback counts a run for that
//! number, then marks the slot free. A slot is only requeued once its callback has run, so a queue
//! call that returns "already pending" is a kernel bug, counted as refused. Not even one slot per
//! thread free is ENOMEM. The slots are freed at the end (one still busy after the timeout stays
//! allocated).
//!
//! Why not always reuse a small pool: each reuse waits for a round trip to another CPU, and
//! under QEMU on a busy host a vCPU thread can wait tens of milliseconds to be scheduled, so
//! 10,000 events through 128 slots took 5 s to over 10 s, against ~0.3 s without reuse.
//!
//! # Memory
//!
//! n is capped at `MAX_N` (100,000). The shell's own arrays are allocated with `try_reserve`, and
//! before creating n work items (`Work::new` allocates infallibly) the heap is probed for room for
//! them with a fallible reservation, so a heap too small gives `error: ... (ENOMEM)` instead of a
//! kernel panic. The works are not registered in `work list`'s registry.

mod finish;
mod setup;
mod shared;

use alloc::format;
use rtos::kthread::{self};
use rtos::time::Instant;

use crate::args::{Args, CmdError};
use crate::ctx::{Command, Ctx};
use crate::util;

use finish::{finish, report};
use setup::{Opts, Queuers, Run, pick_cpus, setup};

/// `stress`.
pub(crate) const COMMANDS: &[Command] = &[Command {
    name: "stress",
    usage: "stress <kind> <n> [opts]",
    help: "queue n works from every CPU at once, check each ran once",
    long_help: "stress irqwork|wq|kworker <n> [--cpus N] [--timeout D] [--fresh] [--slots S]\n\
                [--offline C]:\n\
                creates n works (1..=100000, not in `work list`), starts a kthread\n\
                stress/<cpu> bound to each of the first N online CPUs (default all) that\n\
                queues its share, work i aimed at the i-th CPU round robin, and waits (at\n\
                most --timeout, default 10s) until all ran. Prints `stress <kind>: Q queued, A ran once,\n\
                B twice or more, C never (cpu0 R0 ...) in T ms`; status 0 only if all n\n\
                were queued and each ran exactly once, on its CPU.\n\
                \x20 irqwork  irq_work::queue (own CPU) and queue_on (others), one irq_work\n\
                \x20          per work while the slot table allows (--slots S: at most S per\n\
                \x20          CPU), else each CPU's slots are reused, one queue per work\n\
                \x20 wq       queue / queue_on on `events` (--fresh: on a new\n\
                \x20          workqueue stresswq, destroyed afterwards)\n\
                \x20 kworker  a kthread worker stresskw/<cpu> per CPU, destroyed afterwards\n\
                --offline C: takes CPU C offline while the works are queued and run, then\n\
                online again (CPU hotplug); works aimed at C that ran elsewhere meanwhile are\n\
                counted as moved, not wrong.\n\
                Ctrl-C stops the queueing: the works queued so far still run, the queuer\n\
                threads are stopped and everything is freed as after a run; the summary\n\
                line shows what was queued and ran, and the status is 130.",
    run: cmd_stress,
}];

fn cmd_stress(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let o = Opts::parse(args)?;
    let p = util::scheduler()?;
    let cpus = pick_cpus(o.cpus)?;
    if let Some(c) = o.offline
        && (c == 0 || !cpus.contains(&c))
    {
        return Err(CmdError::usage(format!(
            "--offline {c}: must be one of the CPUs used other than cpu0"
        )));
    }
    let (tally, per, works) = setup(&o, cpus)?;
    let run = Run::new(&o, &tally, per, works)?;
    let per = run.pool.len() / tally.cpus.len();
    let queuers = match Queuers::create(&tally, &run, per) {
        Ok(q) => q,
        Err(e) => {
            run.teardown(true);
            return Err(e);
        }
    };
    let start = Instant::now();
    for t in &queuers.threads {
        kthread::wake_up_process(t);
    }
    // `--offline C`: CPU C leaves while the works are queued and run, then comes back.
    let hotplug = o.offline.map(|c| {
        use crate::basic::hotplug_error;
        rtos::hotplug::offline(c)
            .map_err(|e| hotplug_error("offline", c, &e))
            .and_then(|()| rtos::hotplug::online(c).map_err(|e| hotplug_error("online", c, &e)))
    });
    let outcome = finish(p, &tally, run, queuers, start, &mut || ctx.interrupted());
    let verdict = report(ctx, &o, &tally, per * tally.cpus.len(), outcome);
    match hotplug {
        Some(Err(e)) => Err(e),
        _ => verdict,
    }
}
