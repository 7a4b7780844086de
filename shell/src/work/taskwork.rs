//! `taskwork`: per-thread callbacks (`rtos::work::task_work`), as named works.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use rtos::Error;
use rtos::work::task_work::{self as tw, Notify};

use super::registry::{Func, Handle, Kind, Target, WORKS, get_or_create, lookup_work, queued_flag};
use crate::args::{Args, CmdError, FromArg};
use crate::ctx::{Command, Ctx};
use crate::util;

/// `task_work` notify modes the shell offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NotifyArg(Notify);

impl FromArg for NotifyArg {
    const WHAT: &'static str = "notify mode";
    const HINT: Option<&'static str> = Some("none, resume, signal or signal-no-ipi");
    fn from_arg(s: &str) -> Option<Self> {
        Some(NotifyArg(match s {
            "none" => Notify::None,
            "resume" => Notify::Resume,
            "signal" => Notify::Signal,
            "signal-no-ipi" => Notify::SignalNoIpi,
            _ => return None,
        }))
    }
}

/// `taskwork`.
pub(crate) const COMMANDS: &[Command] = &[Command {
    name: "taskwork",
    usage: "taskwork <subcommand> ...",
    help: "per-thread callbacks (task_work)",
    long_help: "taskwork add <thread> <work> [--notify M] [--fn F]: queue on <thread>; M is\n\
                none (runs at exit), resume (default: at its next boundary), signal (also\n\
                wakes an interruptible sleeper, SGI if running elsewhere) or signal-no-ipi.\n\
                ESRCH once the thread is exiting.\n\
                taskwork cancel <thread> <work|--fn F>: remove it (or the newest work with\n\
                that function); prints `cancelled <work>`, or `not queued on <t>` (status 1).\n\
                taskwork list <thread>: queued works, newest (first to run) first.",
    run: cmd_taskwork,
}];

fn cmd_taskwork(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let sub = args.word("<subcommand>")?;
    match sub {
        "add" => add(ctx, args),
        "cancel" => cancel(ctx, args),
        "list" => list(ctx, args),
        _ => Err(CmdError::usage(format!(
            "unknown subcommand '{sub}' (expected add, cancel or list)"
        ))),
    }
}

/// `taskwork add <thread> <work> [--notify M] [--fn F]`.
fn add(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let notify: Option<NotifyArg> = args.option("--notify")?;
    let func: Option<Func> = args.option("--fn")?;
    let key = args.word("<thread>")?;
    let name = args.word("<work>")?;
    args.finish()?;
    let t = util::lookup(key)?;
    let e = get_or_create(name, Kind::Task, func, false)?;
    let Handle::Task(w) = e.handle() else {
        unreachable!()
    };
    if w.is_queued() {
        return Ok(queued_flag(ctx, false));
    }
    e.prepare(
        Target::Task(t.thread().clone()),
        format!("task {}", t.name()),
    );
    let notify = notify.map_or(Notify::Resume, |n| n.0);
    match tw::add(t.thread(), w, notify) {
        Ok(()) => Ok(0),
        Err(Error::Busy) => Ok(queued_flag(ctx, false)),
        Err(err @ Error::NoSuchThread) => Err(CmdError::runtime(format!(
            "{} is exiting or has exited ({})",
            t.name(),
            err.name()
        ))),
        Err(err) => Err(CmdError::runtime(format!("{err} ({})", err.name()))),
    }
}

/// `taskwork cancel <thread> <work|--fn F>`.
fn cancel(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let func: Option<Func> = args.option("--fn")?;
    let key = args.word("<thread>")?;
    let name = args.word_opt()?;
    args.finish()?;
    let t = util::lookup(key)?;
    let cancelled = match (name, func) {
        (Some(name), None) => {
            let e = lookup_work(name)?;
            let Some(Handle::Task(w)) = e.handle.lock().clone() else {
                return Err(CmdError::runtime(format!(
                    "work '{name}' is not a task_work"
                )));
            };
            tw::cancel(t.thread(), &w).then(|| String::from(name))
        }
        (None, Some(f)) => {
            let names: Vec<String> = WORKS
                .lock()
                .values()
                .filter(|e| e.kind == Kind::Task && e.func == f)
                .map(|e| e.name.clone())
                .collect();
            tw::cancel_match(t.thread(), |w| names.iter().any(|n| n == w.name()))
                .map(|w| String::from(w.name()))
        }
        _ => {
            return Err(CmdError::usage(
                "give either <work> or --fn F (usage: taskwork cancel <thread> <work|--fn F>)",
            ));
        }
    };
    match cancelled {
        Some(n) => {
            writeln!(ctx, "cancelled {n}");
            Ok(0)
        }
        None => {
            writeln!(ctx, "not queued on {}", t.name());
            Ok(1)
        }
    }
}

/// `taskwork list <thread>`.
fn list(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let key = args.word("<thread>")?;
    args.finish()?;
    let t = util::lookup(key)?;
    for n in tw::list(t.thread()) {
        writeln!(ctx, "{n}");
    }
    Ok(0)
}
