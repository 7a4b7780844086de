//! `mem`: what the system's resources hold and how much there is of each (Linux's `free` and
//! `/proc/slabinfo` in one table): the heap, thread stacks and slots, irq_work slots, armed
//! timers, named works and the klogd ring. Fixed pools show their limit; a pool that is full
//! refuses with a clear error (ENOMEM for stacks, threads and irq_work slots; klogd drops and
//! counts), and `mem` is how to see it coming. The leak tests compare two `mem --json`.

use alloc::string::String;
use alloc::vec::Vec;

use crate::args::{Args, CmdError};
use crate::ctx::{Command, Ctx};
use crate::util::json::Obj;
use rtos::work::account::WorkKind;

pub(crate) static COMMANDS: &[Command] = &[Command {
    name: "mem",
    usage: "mem [--json]",
    help: "resources in use and their limits (heap, stacks, threads, slots, timers)",
    long_help: "One row per resource: what is in use and the limit (- where there is none).\n\
                \x20 heap            bytes handed out; the limit is all the heap (free = limit - used)\n\
                \x20 thread stacks   stacks handed out (STACK bytes each)\n\
                \x20 threads         kthreads alive (the thread table)\n\
                \x20 irq_work slots  irq_works made and not freed\n\
                \x20 timers          timers armed on every CPU (sleeps, delayed works, slices)\n\
                \x20 named works     works the shell made by name (irqwork, taskwork, wq, kworker)\n\
                \x20 klogd ring      log lines waiting for klogd; when full a line is dropped\n\
                Then one row per kind of deferred work, counted by the kernel since boot:\n\
                \x20 SUBMITTED  queueings that made a work pending (queued, or armed on a timer)\n\
                \x20 MERGED     queueings that found it pending already (it runs once for both)\n\
                \x20 EXECUTED   runs started;  CANCELLED  pending works taken off unrun\n\
                \x20 IN FLIGHT  submitted - executed - cancelled: 0 when nothing is queued,\n\
                \x20            armed or running (negative: something ran twice)\n\
                --json: one object, each resource {\"used\":N,\"limit\":N|null} (heap and stacks\n\
                null where the system cannot tell), klogd with \"dropped\", and \"works\":\n\
                {\"irq_work\"|\"task_work\"|\"workqueue\"|\"kthread_worker\": {\"submitted\",\n\
                \"merged\",\"executed\",\"cancelled\",\"in_flight\"}}.",
    run: cmd_mem,
}];

/// One row: name, in use, limit, a note, and a number more for `--json`.
struct Row {
    key: &'static str,
    name: &'static str,
    used: Option<u64>,
    limit: Option<u64>,
    note: String,
    extra: Option<(&'static str, u64)>,
}

fn rows(ctx: &Ctx<'_>) -> Vec<Row> {
    let mem = ctx.sys.memory();
    let timers: usize = (0..rtos::config::MAX_CPUS)
        .map(|c| rtos::timer::pending(c).len())
        .sum();
    let (klogd, dropped) = crate::work::klogd::ring_use();
    let n = |v: usize| Some(v as u64);
    alloc::vec![
        Row {
            key: "heap",
            name: "heap",
            used: mem.map(|m| m.heap_used as u64),
            limit: mem.map(|m| (m.heap_used + m.heap_free) as u64),
            note: String::from("bytes"),
            extra: None,
        },
        Row {
            key: "stacks",
            name: "thread stacks",
            used: mem.map(|m| m.stacks_used as u64),
            limit: mem.map(|m| m.stacks_total as u64),
            note: mem.map_or_else(String::new, |m| alloc::format!(
                "{} bytes each",
                m.stack_size
            )),
            extra: mem.map(|m| ("size", m.stack_size as u64)),
        },
        Row {
            key: "threads",
            name: "threads",
            used: n(rtos::kthread::list().len()),
            limit: n(rtos::config::MAX_THREADS),
            note: String::new(),
            extra: None,
        },
        Row {
            key: "irq_work_slots",
            name: "irq_work slots",
            used: n(rtos::work::irq_work::slots_in_use()),
            limit: n(rtos::config::IRQ_WORK_SLOTS),
            note: String::new(),
            extra: None,
        },
        Row {
            key: "timers",
            name: "timers",
            used: n(timers),
            limit: None,
            note: String::from("armed, all CPUs"),
            extra: None,
        },
        Row {
            key: "named_works",
            name: "named works",
            used: n(crate::work::registry::WORKS.lock().values().count()),
            limit: None,
            note: String::new(),
            extra: None,
        },
        Row {
            key: "klogd",
            name: "klogd ring",
            used: n(klogd),
            limit: n(crate::work::klogd::LOG_SLOTS),
            note: alloc::format!("{dropped} dropped"),
            extra: Some(("dropped", dropped)),
        },
    ]
}

fn cmd_mem(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let json = args.flag("--json")?;
    args.finish()?;
    crate::util::scheduler()?;
    let rows = rows(ctx);
    if json {
        let mut o = Obj::new();
        for r in &rows {
            let mut v = Obj::new().opt("used", r.used).opt("limit", r.limit);
            if let Some((k, n)) = r.extra {
                v = v.num(k, n);
            }
            o = o.raw(r.key, &v.done());
        }
        let mut works = Obj::new();
        for (kind, c) in work_counts() {
            let v = Obj::new()
                .num("submitted", c.submitted)
                .num("merged", c.merged)
                .num("executed", c.executed)
                .num("cancelled", c.cancelled)
                .num("in_flight", c.in_flight());
            works = works.raw(kind.name(), &v.done());
        }
        let text = o.raw("works", &works.done()).done();
        writeln!(ctx, "{text}");
        return Ok(0);
    }
    let show = |v: Option<u64>| v.map_or_else(|| String::from("-"), |v| alloc::format!("{v}"));
    writeln!(
        ctx,
        "{:<16} {:>12} {:>12}  NOTE",
        "RESOURCE", "USED", "LIMIT"
    );
    for r in &rows {
        writeln!(
            ctx,
            "{:<16} {:>12} {:>12}  {}",
            r.name,
            show(r.used),
            show(r.limit),
            r.note
        );
    }
    writeln!(
        ctx,
        "\n{:<16} {:>12} {:>12} {:>12} {:>12} {:>10}",
        "WORKS", "SUBMITTED", "MERGED", "EXECUTED", "CANCELLED", "IN FLIGHT"
    );
    for (kind, c) in work_counts() {
        writeln!(
            ctx,
            "{:<16} {:>12} {:>12} {:>12} {:>12} {:>10}",
            kind.name(),
            c.submitted,
            c.merged,
            c.executed,
            c.cancelled,
            c.in_flight()
        );
    }
    Ok(0)
}

/// The kernel's deferred-work counters, every kind.
fn work_counts() -> impl Iterator<Item = (WorkKind, rtos::work::account::WorkCounts)> {
    WorkKind::ALL
        .into_iter()
        .map(|k| (k, rtos::work::tally::counts(k)))
}
