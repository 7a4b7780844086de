//! `trace`: the kernel's trace ring (`rtos::trace`): start and stop a run, mark it, show its
//! events as text, count them, and dump them for the host (`just trace`).

use crate::util::json::{self, Obj};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rtos::trace::{self, Class, Event, dump, text::Names};

use crate::args::{Args, CmdError};
use crate::ctx::{Command, Ctx};
use crate::util;

/// Events per CPU when `trace start` gives no `--size` (the first run fixes the size).
pub(crate) const DEFAULT_SIZE: usize = 4096;

/// How many events `trace show` prints without `--last` or `--all`.
const SHOW_DEFAULT: usize = 200;

/// `trace`.
pub(crate) const COMMANDS: &[Command] = &[Command {
    name: "trace",
    usage: "trace <start|stop|mark|show|stats|dump> ...",
    help: "record what the kernel does, per CPU, and show or dump it",
    long_help: "trace start [classes...] [--cpu N] [--size N]: start a run recording the event\n\
                classes given (default all): sched (switches, wake-ups), irq (interrupt entry\n\
                and exit, SGIs sent), irqwork, taskwork, work (work items and their timers),\n\
                kthread (create, park, unpark, stop, exit), cpu (online, offline), mark.\n\
                --cpu N records on CPU N only. --size N: events kept per CPU (a power of two,\n\
                default 4096, at most 65536); the first start fixes it until reboot. When a\n\
                CPU's ring is full its oldest events are overwritten and counted as lost.\n\
                A start while a run goes on begins a new run (the old one's events are dropped).\n\
                trace stop: stop recording; the events stay until the next start.\n\
                trace mark <text...>: record a marker (tracing must be on).\n\
                trace show [--last N | --all]: the run's events, oldest first, one line each:\n\
                thread-tid, [cpu], seconds since boot, event, fields (default: the last 200).\n\
                trace stats [--json]: on or off, classes, and per CPU the events kept and lost.\n\
                --json: {\"on\",\"size\" (null: never started),\"classes\":[...],\"cpus\":\n\
                [{\"cpu\",\"events\",\"lost\"}],\"by_class\":{\"<class>\":events}}.\n\
                trace dump: the run as framed, checksummed text lines for the host (each line\n\
                starts with '=' and ends with a CRC-32); `just trace` reads it.",
    run: cmd_trace,
}];

fn cmd_trace(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let sub = args.word("<subcommand>")?;
    match sub {
        "start" => start(ctx, args),
        "stop" => stop(ctx, args),
        "mark" => mark(args),
        "show" => show(ctx, args),
        "stats" => stats(ctx, args),
        "dump" => dump_cmd(ctx, args),
        _ => Err(CmdError::usage(format!(
            "unknown subcommand '{sub}' (expected start, stop, mark, show, stats or dump)"
        ))),
    }
}

/// `trace start [classes...] [--cpu N] [--size N]`.
fn start(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let cpu: Option<usize> = args.option("--cpu")?;
    let size: Option<usize> = args.option("--size")?;
    let mut classes = Vec::new();
    for w in args.rest()? {
        let c = Class::from_name(w).ok_or_else(|| {
            let all: Vec<&str> = Class::ALL.iter().map(|c| c.name()).collect();
            CmdError::usage(format!(
                "unknown event class '{w}' (expected {})",
                all.join(", ")
            ))
        })?;
        if !classes.contains(&c) {
            classes.push(c);
        }
    }
    if classes.is_empty() {
        classes = Class::ALL.to_vec();
    }
    util::scheduler()?;
    util::check_cpu(cpu)?;
    let size = size.unwrap_or(trace::size().unwrap_or(DEFAULT_SIZE));
    if size == 0 || size > trace::MAX_SIZE {
        return Err(CmdError::usage(format!(
            "--size must be 1 to {} events per CPU",
            trace::MAX_SIZE
        )));
    }
    let was_on = trace::on();
    let cpus = cpu.map_or(u32::MAX, |c| 1 << c);
    trace::start_on(&classes, cpus, size).map_err(|_| {
        CmdError::runtime(format!(
            "the ring size is fixed at {} events per CPU until reboot (EBUSY)",
            trace::size().unwrap_or(0)
        ))
    })?;
    if was_on {
        writeln!(
            ctx,
            "trace: a new run started (the previous run's events are dropped)"
        );
    }
    Ok(0)
}

/// `trace stop`.
fn stop(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    args.finish()?;
    if !trace::on() {
        writeln!(ctx, "trace: not running");
        return Ok(1);
    }
    trace::stop();
    let snap = trace::snapshot();
    let (kept, lost) = totals(&snap);
    writeln!(ctx, "trace: stopped: {kept} events, {lost} lost");
    Ok(0)
}

/// `trace mark <text...>`.
fn mark(args: &mut Args<'_>) -> Result<u8, CmdError> {
    // Verbatim, after the subcommand (no option processing: a marker may start with `-`).
    let words = args.raw().get(1..).unwrap_or(&[]);
    if words.is_empty() {
        return Err(CmdError::usage("missing <text>"));
    }
    let text = words.join(" ");
    if !trace::on() || !trace::classes().contains(&Class::Mark) {
        return Err(CmdError::runtime(
            "tracing of marks is off (trace start, or trace start mark ...)",
        ));
    }
    let id = trace::intern(&text);
    if id == 0 {
        return Err(CmdError::runtime(format!(
            "no room for another name ({} kept; ENOSPC): reuse a marker text",
            trace::MAX_NAMES
        )));
    }
    trace::record(trace::Kind::Mark, u64::from(id), 0);
    Ok(0)
}

/// Events kept and lost over all CPUs.
fn totals(snap: &[trace::CpuTrace]) -> (usize, u64) {
    (
        snap.iter().map(|c| c.events.len()).sum(),
        snap.iter().map(|c| c.lost).sum(),
    )
}

/// The threads alive now, for names.
fn threads() -> Vec<(u32, String)> {
    rtos::kthread::list()
        .iter()
        .map(|t| (t.tid(), String::from(t.name())))
        .collect()
}

/// `trace show [--last N | --all]`.
fn show(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let last: Option<usize> = args.option("--last")?;
    let all = args.flag("--all")?;
    args.finish()?;
    if all && last.is_some() {
        return Err(CmdError::usage("--last and --all exclude each other"));
    }
    let snap = trace::snapshot();
    let (kept, lost) = totals(&snap);
    let mut events: Vec<Event> = snap.into_iter().flat_map(|c| c.events).collect();
    events.sort_by_key(|e| e.ticks);
    let names = Names::new(trace::names(), threads(), &events);
    let n = if all {
        events.len()
    } else {
        last.unwrap_or(SHOW_DEFAULT).min(events.len())
    };
    let state = if trace::on() { "running" } else { "stopped" };
    writeln!(
        ctx,
        "# trace {state}: {kept} events, {lost} lost; showing the last {n}"
    );
    let hz = rtos::time::ticks_per_second();
    for e in &events[events.len() - n..] {
        writeln!(ctx, "{}", names.line(e, hz));
    }
    Ok(0)
}

/// `trace stats`.
fn stats(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let json = args.flag("--json")?;
    args.finish()?;
    let snap = trace::snapshot();
    if json {
        writeln!(ctx, "{}", stats_json(&snap));
        return Ok(0);
    }
    let Some(size) = trace::size() else {
        writeln!(ctx, "trace: never started");
        return Ok(0);
    };
    let classes: Vec<&str> = trace::classes().iter().map(|c| c.name()).collect();
    writeln!(
        ctx,
        "tracing {}, {size} events per CPU, classes: {}",
        if trace::on() { "on" } else { "off" },
        classes.join(" ")
    );
    writeln!(ctx, "CPU   EVENTS      LOST");
    let online = rtos::sched::online_mask() | trace_cpus_seen(&snap);
    for (cpu, c) in snap.iter().enumerate() {
        if online & (1 << cpu) == 0 {
            continue;
        }
        writeln!(ctx, "{cpu:>3} {:>8} {:>9}", c.events.len(), c.lost);
    }
    let mut by_class = [0usize; Class::ALL.len()];
    for e in snap.iter().flat_map(|c| &c.events) {
        by_class[e.kind.class() as usize] += 1;
    }
    let per: Vec<String> = Class::ALL
        .iter()
        .zip(by_class)
        .map(|(c, n)| format!("{}={n}", c.name()))
        .collect();
    writeln!(ctx, "by class: {}", per.join(" "));
    Ok(0)
}

/// `trace stats --json`.
fn stats_json(snap: &[trace::CpuTrace]) -> String {
    let classes = trace::classes()
        .into_iter()
        .map(|c| util::json_str(c.name()));
    let online = rtos::sched::online_mask() | trace_cpus_seen(snap);
    let cpus = snap
        .iter()
        .enumerate()
        .filter(|(cpu, _)| online & (1 << cpu) != 0)
        .map(|(cpu, c)| {
            Obj::new()
                .num("cpu", cpu)
                .num("events", c.events.len())
                .num("lost", c.lost)
                .done()
        });
    let by_class = Class::ALL.iter().fold(Obj::new(), |o, class| {
        let n = snap
            .iter()
            .flat_map(|c| &c.events)
            .filter(|e| e.kind.class() == *class)
            .count();
        o.num(class.name(), n)
    });
    Obj::new()
        .bool("on", trace::on())
        .opt("size", trace::size())
        .raw("classes", &json::array(classes))
        .raw("cpus", &json::array(cpus))
        .raw("by_class", &by_class.done())
        .done()
}

/// CPUs with events (one that went offline since still shows).
fn trace_cpus_seen(snap: &[trace::CpuTrace]) -> u32 {
    snap.iter()
        .enumerate()
        .filter(|(_, c)| !c.events.is_empty() || c.lost != 0)
        .fold(0, |m, (i, _)| m | (1 << i))
}

/// `trace dump`.
fn dump_cmd(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    args.finish()?;
    if trace::size().is_none() {
        return Err(CmdError::runtime("no trace to dump (trace start first)"));
    }
    let snap = trace::snapshot();
    // The CPUs that can have events: the possible ones (the rings beyond are always empty).
    let n = 32 - rtos::sched::possible_mask().leading_zeros() as usize;
    let d = dump::Dump {
        hz: rtos::time::ticks_per_second(),
        size: trace::size().unwrap_or(0),
        names: trace::names(),
        threads: threads(),
        cpus: snap.into_iter().take(n.max(1)).collect(),
    };
    dump::write(&d, |line| writeln!(ctx, "{line}"));
    Ok(0)
}
