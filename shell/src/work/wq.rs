//! `wq`: workqueues (`rtos::work::workqueue`), by name, and named works queued on them.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write as _;

use rtos::work::workqueue::{self as wqm, Workqueue};

use super::registry::{Func, Kind, Target, WQS, get_or_create, queued};
use crate::args::{Args, CmdError};
use crate::ctx::{Command, Ctx};
use crate::util::{self, check_cpu};
use core::time::Duration;

/// `wq`.
pub(crate) const COMMANDS: &[Command] = &[Command {
    name: "wq",
    usage: "wq <subcommand> ...",
    help: "workqueues",
    long_help: "wq create <wq> [--single]: a worker per online CPU (<wq>/<cpu>) or one.\n\
                wq queue <wq> <work> [--cpu N] [--fn F]: queue on this CPU's worker (or N's).\n\
                wq delay <wq> <work> <D> [--cpu N] [--fn F]: queue after D.\n\
                wq flush <wq>: wait for everything queued before.\n\
                wq destroy <wq>: flush, stop the workers.\n\
                wq list: NAME, WORKERS, QUEUED.",
    run: cmd_wq,
}];

fn lookup_wq(name: &str) -> Result<Arc<Workqueue>, CmdError> {
    WQS.lock()
        .get(name)
        .cloned()
        .ok_or_else(|| CmdError::runtime(format!("no such workqueue '{name}'")))
}

fn cmd_wq(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let sub = args.word("<subcommand>")?;
    match sub {
        "create" => create(args),
        "queue" | "delay" => queue(ctx, args, sub),
        "flush" => flush(args),
        "destroy" => destroy(args),
        "list" => list(ctx, args),
        _ => Err(CmdError::usage(format!(
            "unknown subcommand '{sub}' (expected create, queue, delay, flush, destroy or list)"
        ))),
    }
}

/// `wq create <wq> [--single]`.
fn create(args: &mut Args<'_>) -> Result<u8, CmdError> {
    let single = args.flag("--single")?;
    let name = args.word("<wq>")?;
    args.finish()?;
    util::scheduler()?;
    if name.is_empty() {
        return Err(CmdError::usage("empty workqueue name"));
    }
    if WQS.lock().contains_key(name) {
        return Err(CmdError::runtime(format!(
            "a workqueue named '{name}' already exists (EEXIST)"
        )));
    }
    let made = if single {
        wqm::create_singlethread(name)
    } else {
        wqm::create(name)
    };
    let q =
        made.map_err(|e| CmdError::runtime(format!("cannot create '{name}': {e} ({})", e.name())))?;
    WQS.lock().insert(String::from(name), q);
    Ok(0)
}

/// `wq queue <wq> <work> [--cpu N] [--fn F]` and `wq delay <wq> <work> <D> [--cpu N] [--fn F]`.
fn queue(ctx: &mut Ctx<'_>, args: &mut Args<'_>, sub: &str) -> Result<u8, CmdError> {
    let cpu: Option<usize> = args.option("--cpu")?;
    let func: Option<Func> = args.option("--fn")?;
    let qname = args.word("<wq>")?;
    let name = args.word("<work>")?;
    let delay = if sub == "delay" {
        Some(args.next::<Duration>("<D>")?)
    } else {
        None
    };
    args.finish()?;
    util::scheduler()?;
    check_cpu(cpu)?;
    let q = lookup_wq(qname)?;
    let e = get_or_create(name, Kind::Work, func, false)?;
    let w = e.work();
    if w.state() == wqm::WorkState::Pending || w.state() == wqm::WorkState::Delayed {
        return Ok(queued(ctx, false));
    }
    e.prepare(Target::Wq(q.clone(), cpu), format!("wq {qname}"));
    let ok = match (delay, cpu) {
        (None, Some(c)) => wqm::queue_on(&q, c, &w),
        (None, None) => wqm::queue(&q, &w),
        (Some(d), Some(c)) => wqm::queue_delayed_on(&q, c, &w, d),
        (Some(d), None) => wqm::queue_delayed(&q, &w, d),
    };
    Ok(queued(ctx, ok))
}

/// `wq flush <wq>`.
fn flush(args: &mut Args<'_>) -> Result<u8, CmdError> {
    let qname = args.word("<wq>")?;
    args.finish()?;
    let q = lookup_wq(qname)?;
    wqm::flush(&q);
    Ok(0)
}

/// `wq destroy <wq>`.
fn destroy(args: &mut Args<'_>) -> Result<u8, CmdError> {
    let qname = args.word("<wq>")?;
    args.finish()?;
    let q = WQS
        .lock()
        .remove(qname)
        .ok_or_else(|| CmdError::runtime(format!("no such workqueue '{qname}'")))?;
    wqm::destroy(q);
    Ok(0)
}

/// `wq list`.
fn list(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    args.finish()?;
    writeln!(ctx, "{:<16} {:<16} {:>6}", "NAME", "WORKERS", "QUEUED");
    let qs: Vec<Arc<Workqueue>> = WQS.lock().values().cloned().collect();
    for q in qs {
        let cpus = q.cpus();
        let workers = if cpus.is_empty() {
            String::from("single")
        } else {
            let mut s = String::from("cpu");
            for (i, c) in cpus.iter().enumerate() {
                let _ = write!(s, "{}{c}", if i > 0 { "," } else { "" });
            }
            s
        };
        writeln!(ctx, "{:<16} {:<16} {:>6}", q.name(), workers, q.queued());
    }
    Ok(0)
}
