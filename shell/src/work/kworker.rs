//! `kworker`: kthread workers (`rtos::work::kthread_worker`), by name, and named works queued on
//! them.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;

use rtos::Error;
use rtos::work::kthread_worker::{self as kw, Worker};

use super::registry::{
    Func, Kind, Target, WORKERS, destroyed, forget_queue, get_or_create, on_existing_work, queued,
};
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
                kworker flush-work <work>: wait for it if queued or running; prints\n\
                pending=<was there anything to wait for>.\n\
                kworker flush <w>: wait for everything queued before.\n\
                kworker destroy <w>: run what is queued (works queueing again: at most 10000\n\
                queueings) and stop; delayed works are cancelled, and named in an error.\n\
                A work belongs to one worker or workqueue while it is busy: queueing it\n\
                elsewhere is EBUSY, naming where it is.",
    run: cmd_kworker,
}];

fn lookup_worker(name: &str) -> Result<Arc<Worker>, CmdError> {
    WORKERS
        .lock()
        .get(name)
        .cloned()
        .ok_or_else(|| CmdError::runtime(format!("no such kworker '{name}'")))
}

fn cmd_kworker(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let sub = args.word("<subcommand>")?;
    match sub {
        "create" => create(args),
        "queue" | "delay" | "mod" => queue(ctx, args, sub),
        "cancel" => cancel(ctx, args),
        "flush-work" => flush_work(ctx, args),
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
    crate::util::names::check_new("kworker", name)?;
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
        e => CmdError::runtime(format!("cannot create '{name}': {e}")),
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
    let saved = e.prepare(Target::Worker(k.clone()), format!("kworker {wname}"));
    if sub == "mod" {
        return match kw::mod_delayed(&k, &w, delay) {
            Ok(was) => {
                writeln!(ctx, "pending={was}");
                Ok(0)
            }
            Err(err) => queued(ctx, &e, saved, Err(err)),
        };
    }
    let r = kw::queue_delayed(&k, &w, delay);
    queued(ctx, &e, saved, r)
}

/// `kworker cancel <work>`.
fn cancel(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    on_existing_work(ctx, args, kw::cancel_delayed_work_sync)
}

/// `kworker flush-work <work>`.
fn flush_work(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    on_existing_work(ctx, args, kw::flush_work)
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
    let gone = k.clone();
    let left = kw::destroy(k);
    forget_queue(|t| matches!(t, Target::Worker(k) if Arc::ptr_eq(k, &gone)));
    destroyed(left)
}
