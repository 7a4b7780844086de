//! `kworker`: kthread workers (`rtos::work::kthread_worker`), by name, and named works queued on
//! them.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use core::fmt::Write as _;

use rtos::Error;
use rtos::work::kthread_worker::{self as kw, Worker};
use rtos::work::workqueue::{self as wqm, Work};

use super::registry::{Func, Handle, Kind, Target, WORKERS, get_or_create, lookup_work, queued};
use crate::args::{Args, CmdError};
use crate::ctx::{Command, Ctx};
use crate::util::{self, check_cpu};
use core::time::Duration;

/// `kworker`.
pub(crate) const COMMANDS: &[Command] = &[Command {
    name: "kworker",
    usage: "kworker <subcommand> ...",
    help: "kthread workers",
    long_help: "kworker create <w> [--cpu N]: a worker thread <w> (bound to N).\n\
                kworker queue <w> <work> [--fn F]; kworker delay <w> <work> <D> [--fn F].\n\
                kworker mod <w> <work> <D> [--fn F]: queue if idle, else move its deadline;\n\
                prints pending=<was it pending>.\n\
                kworker cancel <work>: cancel (sync); prints pending=<was it pending>.\n\
                kworker flush-work <work>: wait for it if queued or running.\n\
                kworker flush <w>: wait for everything queued before.\n\
                kworker destroy <w>: flush and stop; pending delayed works are an error.",
    run: cmd_kworker,
}];

fn lookup_worker(name: &str) -> Result<Arc<Worker>, CmdError> {
    WORKERS
        .lock()
        .get(name)
        .cloned()
        .ok_or_else(|| CmdError::runtime(format!("no such kworker '{name}'")))
}

/// A work item for the kworker commands that only look at an existing work.
fn existing_work(name: &str) -> Result<Arc<Work>, CmdError> {
    let e = lookup_work(name)?;
    match e.handle() {
        Handle::Work(w) => Ok(w),
        _ => Err(CmdError::runtime(format!(
            "work '{name}' is {}, not a work",
            e.kind.a()
        ))),
    }
}

fn cmd_kworker(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let sub = args.word("<subcommand>")?;
    match sub {
        "create" => create(args),
        "queue" | "delay" | "mod" => queue(ctx, args, sub),
        "cancel" => cancel(ctx, args),
        "flush-work" => flush_work(args),
        "flush" => flush(args),
        "destroy" => destroy(args),
        _ => Err(CmdError::usage(format!(
            "unknown subcommand '{sub}' (expected create, queue, delay, mod, cancel, flush-work, \
             flush or destroy)"
        ))),
    }
}

/// `kworker create <w> [--cpu N]`.
fn create(args: &mut Args<'_>) -> Result<u8, CmdError> {
    let cpu: Option<usize> = args.option("--cpu")?;
    let name = args.word("<w>")?;
    args.finish()?;
    util::scheduler()?;
    check_cpu(cpu)?;
    if WORKERS.lock().contains_key(name) {
        return Err(CmdError::runtime(format!(
            "a kworker named '{name}' already exists (EEXIST)"
        )));
    }
    let made = match cpu {
        Some(c) => kw::create_on_cpu(name, c),
        None => kw::create(name),
    };
    let w = made.map_err(|e| match e {
        Error::Exists => CmdError::runtime(format!(
            "a thread named '{name}' already exists ({})",
            e.name()
        )),
        e => CmdError::runtime(format!("cannot create '{name}': {e} ({})", e.name())),
    })?;
    WORKERS.lock().insert(String::from(name), w);
    Ok(0)
}

/// `kworker queue <w> <work>`, `kworker delay <w> <work> <D>` and
/// `kworker mod <w> <work> <D>`, each `[--fn F]`.
fn queue(ctx: &mut Ctx<'_>, args: &mut Args<'_>, sub: &str) -> Result<u8, CmdError> {
    let func: Option<Func> = args.option("--fn")?;
    let wname = args.word("<w>")?;
    let name = args.word("<work>")?;
    let delay = if sub == "queue" {
        Duration::ZERO
    } else {
        args.next::<Duration>("<D>")?
    };
    args.finish()?;
    let k = lookup_worker(wname)?;
    let e = get_or_create(name, Kind::Work, func, false)?;
    let w = e.work();
    if sub != "mod" && matches!(w.state(), wqm::WorkState::Pending | wqm::WorkState::Delayed) {
        return Ok(queued(ctx, false));
    }
    e.prepare(Target::Worker(k.clone()), format!("kworker {wname}"));
    if sub == "mod" {
        let was = kw::mod_delayed(&k, &w, delay);
        writeln!(ctx, "pending={was}");
        return Ok(0);
    }
    Ok(queued(ctx, kw::queue_delayed(&k, &w, delay)))
}

/// `kworker cancel <work>`.
fn cancel(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let name = args.word("<work>")?;
    args.finish()?;
    let w = existing_work(name)?;
    let was = kw::cancel_delayed_work_sync(&w);
    writeln!(ctx, "pending={was}");
    Ok(0)
}

/// `kworker flush-work <work>`.
fn flush_work(args: &mut Args<'_>) -> Result<u8, CmdError> {
    let name = args.word("<work>")?;
    args.finish()?;
    let w = existing_work(name)?;
    kw::flush_work(&w);
    Ok(0)
}

/// `kworker flush <w>`.
fn flush(args: &mut Args<'_>) -> Result<u8, CmdError> {
    let wname = args.word("<w>")?;
    args.finish()?;
    let k = lookup_worker(wname)?;
    kw::flush(&k);
    Ok(0)
}

/// `kworker destroy <w>`.
fn destroy(args: &mut Args<'_>) -> Result<u8, CmdError> {
    let wname = args.word("<w>")?;
    args.finish()?;
    let k = WORKERS
        .lock()
        .remove(wname)
        .ok_or_else(|| CmdError::runtime(format!("no such kworker '{wname}'")))?;
    match kw::destroy(k) {
        Ok(()) => Ok(0),
        Err(left) => {
            let mut names = String::new();
            for (i, w) in left.iter().enumerate() {
                let _ = write!(names, "{}{}", if i > 0 { ", " } else { "" }, w.name());
            }
            Err(CmdError::runtime(format!(
                "delayed works were still pending (disarmed, they will not run): {names}"
            )))
        }
    }
}
