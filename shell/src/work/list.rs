//! `work list`, `wait work ...` (the `wait` command hands it over) and `timers`.

use crate::util::json::{self, Obj};
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use rtos::sched;
use rtos::time::Instant;

use super::registry::{Entry, WORKS, delete_work, lookup_work};
use crate::args::{Args, CmdError};
use crate::ctx::{Command, Ctx};
use crate::util::{self, DEFAULT_TIMEOUT};
use core::time::Duration;

/// How often `wait work` looks at the run count.
const POLL: Duration = Duration::from_millis(2);

/// `work` (`work list`).
pub(crate) const COMMANDS: &[Command] = &[Command {
    name: "work",
    usage: "work list [--json] | work delete <work>",
    help: "list the named deferred works, or forget one",
    long_help: "One row per named work (created by irqwork, taskwork, wq or kworker with\n\
                --fn): NAME, KIND (irq_work, task_work, work), FN, STATE (idle, pending,\n\
                delayed, running, canceling), QUEUE (where it was last queued), CPU (where\n\
                it last ran), RUNS, LATENCY (queue to start of the last run).\n\
                --json: one object per line with name, kind, fn, state, queue, cpu, runs,\n\
                latency_ns (null where unknown).\n\
                Functions (--fn, fixed when the work is created on first use):\n\
                \x20 log          print `<work> ran on cpu<C> (<context>)`; hard-IRQ lines\n\
                \x20              go through a ring printed by the klogd thread\n\
                \x20 count        only count runs\n\
                \x20 busy:<ms>    spin for <ms>\n\
                \x20 sleep:<ms>   sleep for <ms> (not for irq_works)\n\
                \x20 requeue:<n>  queue itself again, n times per queue command\n\
                A queue command that finds the work pending prints `already pending`\n\
                and returns 1.\n\
                work delete <work>: forget an idle work (its name is free again; an\n\
                irq_work's slot is reused); EBUSY while it is pending or running.",
    run: cmd_work,
}];

fn cmd_work(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let sub = args.word("<subcommand>")?;
    match sub {
        "list" => list(ctx, args),
        "delete" => {
            let name = args.word("<work>")?;
            args.finish()?;
            delete_work(name)?;
            Ok(0)
        }
        _ => Err(CmdError::usage(format!(
            "unknown subcommand '{sub}' (expected list or delete)"
        ))),
    }
}

/// `work list [--json]`.
fn list(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let json = args.flag("--json")?;
    args.finish()?;
    util::scheduler()?;
    let works: Vec<Arc<Entry>> = WORKS.lock().values().cloned().collect();
    if !json {
        writeln!(
            ctx,
            "{:<16} {:<9} {:<11} {:<9} {:<16} {:>3} {:>8} {:>9}",
            "NAME", "KIND", "FN", "STATE", "QUEUE", "CPU", "RUNS", "LATENCY"
        );
    }
    for e in works {
        let queue = e.queue.lock().clone();
        let runs = e.runs.load(Ordering::Acquire);
        if json {
            let opt = |v: Option<u64>| v.map_or(String::from("null"), |v| format!("{v}"));
            writeln!(
                ctx,
                "{{\"name\":{},\"kind\":\"{}\",\"fn\":\"{}\",\"state\":\"{}\",\"queue\":{},\
                 \"cpu\":{},\"runs\":{runs},\"latency_ns\":{}}}",
                util::json_str(&e.name),
                e.kind.name(),
                e.func,
                e.state(),
                util::json_str(&queue),
                opt(e.cpu().map(u64::from)),
                opt(e.latency().map(util::nanos)),
            );
        } else {
            writeln!(
                ctx,
                "{} {:<9} {:<11} {:<9} {} {:>3} {:>8} {:>9}",
                util::fit(&e.name, 16),
                e.kind.name(),
                format!("{}", e.func),
                e.state(),
                util::fit(&queue, 16),
                e.cpu().map_or(String::from("-"), |c| format!("{c}")),
                runs,
                e.latency().map_or(String::from("-"), util::show_span),
            );
        }
    }
    Ok(0)
}

/// The states `work list` shows, which `wait work <work> state <s>` accepts.
const WORK_STATES: [&str; 5] = ["idle", "pending", "delayed", "running", "canceling"];

/// Whether the arguments of `wait` ask for a work: `wait work <work> runs ...` or `... state ...`.
pub(crate) fn is_wait_work(words: &[String]) -> bool {
    words.len() >= 4
        && words.iter().any(|w| w == "runs" || w == "state")
        && words.iter().any(|w| w == "work")
}

/// `wait work <work> runs >= <n> [--timeout D]` or `wait work <work> state <s> [--timeout D]`,
/// given the arguments of `wait` (see [`is_wait_work`]).
/// `interrupted` says whether a Ctrl-C came (then the wait ends with status 130).
pub(crate) fn wait_work(
    words: &[String],
    interrupted: &mut dyn FnMut() -> bool,
) -> Result<u8, CmdError> {
    let pos = words.iter().position(|w| w == "work").unwrap_or(0);
    let rest: Vec<String> = words
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != pos)
        .map(|(_, w)| w.clone())
        .collect();
    let mut a = Args::new(
        "wait work <work> (runs >= <n> | state <state>) [--timeout D]",
        &rest,
    );
    let timeout: Duration = a.option("--timeout")?.unwrap_or(DEFAULT_TIMEOUT);
    let name = a.word("<work>")?;
    let what = a.word("runs or state")?;
    // Either a run count to reach or a state to be in.
    let (n, state) = match what {
        "runs" => {
            let op = a.word(">=")?;
            let n: u64 = a.next("<n>")?;
            if op != ">=" {
                return Err(CmdError::usage("expected `runs >= <n>`"));
            }
            (n, None)
        }
        "state" => {
            let st = a.word("<state>")?;
            match WORK_STATES.iter().find(|s| **s == st) {
                Some(s) => (0, Some(*s)),
                None => {
                    return Err(CmdError::usage(format!(
                        "unknown work state '{st}' (expected one of {})",
                        WORK_STATES.join(", ")
                    )));
                }
            }
        }
        _ => return Err(CmdError::usage("expected `runs >= <n>` or `state <state>`")),
    };
    a.finish()?;
    let e = lookup_work(name)?;
    util::scheduler()?;
    let deadline = Instant::after(timeout);
    loop {
        let runs = e.runs.load(Ordering::Acquire);
        let now_state = e.state();
        let done = match state {
            Some(s) => now_state == s,
            None => runs >= n,
        };
        if done {
            return Ok(0);
        }
        if deadline.has_passed() {
            let why = match state {
                Some(s) => format!("{name} is {now_state}, not {s}"),
                None => format!("{name} ran {runs} times, not {n}"),
            };
            return Err(CmdError::runtime(format!(
                "timeout: {why}, after {}",
                util::show_duration(timeout)
            )));
        }
        if interrupted() {
            return Ok(crate::ctx::INTERRUPTED);
        }
        sched::sleep(POLL);
    }
}

/// `timers` (after `bench` in `help`).
pub(crate) const TIMERS: &[Command] = &[Command {
    name: "timers",
    usage: "timers [--json]",
    help: "pending timers per CPU",
    long_help: "One row per pending timer: CPU, KIND (wake, slice, call), DUE IN.\n\
                --json: {\"timers\":[{\"cpu\",\"kind\",\"due_in_ns\"}]}, by CPU then deadline.",
    run: cmd_timers,
}];

fn cmd_timers(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let json = args.flag("--json")?;
    args.finish()?;
    util::scheduler()?;
    let now = Instant::now();
    let online = sched::online_mask();
    let cpus = (0..rtos::config::MAX_CPUS).filter(|c| online & (1 << c) != 0);
    if json {
        let rows = cpus.flat_map(|cpu| {
            rtos::timer::pending(cpu)
                .into_iter()
                .map(move |(deadline, kind)| {
                    Obj::new()
                        .num("cpu", cpu)
                        .str("kind", kind)
                        .num(
                            "due_in_ns",
                            util::nanos(deadline.saturating_duration_since(now)),
                        )
                        .done()
                })
        });
        let doc = Obj::new().raw("timers", &json::array(rows)).done();
        writeln!(ctx, "{doc}");
        return Ok(0);
    }
    writeln!(ctx, "{:>3}  {:<6} {:>10}", "CPU", "KIND", "DUE IN");
    for cpu in cpus {
        for (deadline, kind) in rtos::timer::pending(cpu) {
            let due = deadline.saturating_duration_since(now);
            writeln!(ctx, "{:>3}  {:<6} {:>10}", cpu, kind, util::show_span(due));
        }
    }
    Ok(0)
}
