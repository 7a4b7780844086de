//! `top`: a live view of the CPUs, threads and work queues, refreshed in place. The kernel is
//! read here ([`sample`]); the arithmetic and the output are in `frame` (host-tested without a
//! kernel).

mod frame;

use alloc::vec::Vec;
use core::time::Duration;

use rtos::kthread;
use rtos::work::pool::{self, PoolStats};

use frame::{CpuSample, Frame, QueueKind, QueueSample, Snapshot, ThreadSample};

use crate::args::{Args, CmdError};
use crate::ctx::{Command, Ctx};
use crate::kthreads::shared::state_name;
use crate::out::Key;
use crate::system::CpuInfo;

/// `top`.
pub(crate) const COMMANDS: &[Command] = &[Command {
    name: "top",
    usage: "top [-n N] [-d duration] [--json]",
    help: "live view of CPU load, threads and work queues",
    long_help: "Every interval (-d, default 1s, 10ms..=1h) one frame of what happened since the\n\
                last: per CPU BUSY% (the interval minus idle time; off = offline), IRQS/s,\n\
                SGIS/s, IRQWORK/s (irq_work callbacks run) and CSW/s (context switches); per\n\
                thread STATE, CPU, PRIO and CPU% (of one CPU), busiest first; per workqueue\n\
                worker (<wq>/<cpu>) and kthread worker PENDING, DELAYED, RUNNING, RUNS/s and\n\
                MAXWAIT, the worst queue-to-start latency of a work started in the interval.\n\
                The first frame comes after one interval, so its rates are real.\n\
                Without -n it runs until q or Ctrl-C (or the end of input): at a terminal each\n\
                frame replaces the last (threads are cut to fit the screen), elsewhere frames\n\
                follow each other. Other keys are read and ignored (they do not reach the\n\
                next prompt).\n\
                -n N: print N frames (N >= 1) and return, for scripts; in non-terminal mode\n\
                it reads no input (the script's next lines stay for the shell), at a terminal\n\
                q or Ctrl-C still stop it early.\n\
                --json (needs -n): each frame as one JSON object on one line: uptime_ms,\n\
                interval_ms, cpus [{cpu, online, busy_pct (null if offline), irqs_per_s,\n\
                sgis_per_s, irq_work_per_s, switches_per_s}], threads [{tid, name, state,\n\
                cpu, prio, cpu_pct}], queues [{name, kind (workqueue or kworker), cpu (null\n\
                if unbound), pending, delayed, running, runs_per_s, max_latency_us}].",
    run: cmd_top,
}];

/// The refresh interval without `-d`.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
/// The shortest and longest `-d`.
const MIN_INTERVAL: Duration = Duration::from_millis(10);
const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// How often a live `top` looks for a key while it waits.
const KEY_POLL: Duration = Duration::from_millis(20);
/// Ctrl-C.
const CTRL_C: u8 = 0x03;
/// Home the cursor and clear the screen.
const CLEAR: &str = "\x1b[H\x1b[2J";

fn cmd_top(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let count: Option<u32> = args.option("-n")?;
    let interval: Duration = args.option("-d")?.unwrap_or(DEFAULT_INTERVAL);
    let json = args.flag("--json")?;
    args.finish()?;
    if count == Some(0) {
        return Err(CmdError::usage("-n needs at least 1 frame"));
    }
    if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&interval) {
        return Err(CmdError::usage("-d must be between 10ms and 1h"));
    }
    if json && count.is_none() {
        return Err(CmdError::usage(
            "--json needs -n N (one JSON object per frame)",
        ));
    }
    crate::util::scheduler()?;
    // Keys: in a live view, and at a terminal; a script's input is the script.
    let keys = count.is_none() || ctx.interactive;
    let in_place = count.is_none() && ctx.interactive && !json;
    let mut prev = sample(ctx);
    let mut shown = 0u32;
    while !wait(ctx, interval, keys) {
        let next = sample(ctx);
        let frame = Frame::between(&prev, &next);
        if json {
            writeln!(ctx, "{}", frame.json());
        } else if in_place {
            // (The last row stays free: a newline there would scroll the frame's top away.)
            let lines = ctx.rows().map(|r| usize::from(r).saturating_sub(1));
            write!(ctx, "{CLEAR}{}", frame.text(lines));
        } else {
            if shown > 0 {
                writeln!(ctx);
            }
            write!(ctx, "{}", frame.text(None));
        }
        ctx.flush();
        prev = next;
        shown += 1;
        if count == Some(shown) {
            break;
        }
    }
    Ok(0)
}

/// Waits `interval`; with `keys`, looks for a key every [`KEY_POLL`] meanwhile. Returns whether
/// `q` or Ctrl-C was pressed, or the input ended (other keys are dropped).
fn wait(ctx: &mut Ctx<'_>, interval: Duration, keys: bool) -> bool {
    if !keys {
        ctx.sys.sleep(interval);
        return false;
    }
    let mut left = interval;
    loop {
        while let Some(k) = ctx.key() {
            if matches!(k, Key::Byte(b'q' | b'Q' | CTRL_C) | Key::Closed) {
                return true;
            }
        }
        if left.is_zero() {
            return false;
        }
        let step = left.min(KEY_POLL);
        ctx.sys.sleep(step);
        left -= step;
    }
}

/// The counters now: the CPUs the system reports, every kthread, every work queue's worker
/// (reading the workers' worst latencies resets them).
fn sample(ctx: &mut Ctx<'_>) -> Snapshot {
    let at = rtos::time::ticks(rtos::time::Instant::now().ticks());
    let mut cpus = Vec::new();
    ctx.sys.cpus(&mut |c: &CpuInfo| {
        cpus.push(CpuSample {
            id: c.id,
            online: c.online,
            irqs: c.irqs,
            sgis: c.sgis,
            irq_work_runs: c.irq_work_runs,
            switches: c.switches,
            idle: c.idle,
        });
    });
    let threads = kthread::list()
        .iter()
        .map(|t| {
            let i = t.info();
            ThreadSample {
                tid: i.tid,
                state: state_name(&i),
                cpu: i.cpu,
                prio: i.prio,
                runtime: i.runtime,
                name: i.name,
            }
        })
        .collect();
    let queues = pool::stats().into_iter().map(queue_sample).collect();
    Snapshot {
        at,
        cpus,
        threads,
        queues,
    }
}

/// One worker as `top` keeps it.
fn queue_sample(p: PoolStats) -> QueueSample {
    QueueSample {
        kind: if p.what == "workqueue" {
            QueueKind::Workqueue
        } else {
            QueueKind::Kworker
        },
        name: p.name,
        cpu: p.cpu,
        pending: p.pending,
        delayed: p.delayed,
        running: p.running,
        runs: p.runs,
        max_latency: p.max_latency,
    }
}
