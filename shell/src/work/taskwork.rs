//! `taskwork`: per-thread callbacks (`rtos::work::task_work`), as named works.

use crate::util::json::{self, Obj};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use alloc::sync::Arc;
use rtos::Error;
use rtos::config::MAX_CPUS;
use rtos::sched;
use rtos::sync::IrqSpinLock;
use rtos::work::irq_work::{self, IrqWork};
use rtos::work::task_work::{self as tw, Notify};

use super::klogd::{ensure_klogd, log_line};
use super::registry::{
    Entry, Func, Handle, Kind, Target, WORKS, get_or_create, lookup_work, queued_flag,
};
use crate::args::{Args, CmdError, FromArg};
use crate::ctx::{Command, Ctx};
use crate::util;

/// `task_work` notify modes the shell offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NotifyArg(Notify);

impl FromArg for NotifyArg {
    const WHAT: &'static str = "notify mode";
    const HINT: Option<&'static str> = Some("none, resume, signal, signal-no-ipi or nmi-current");
    fn from_arg(s: &str) -> Option<Self> {
        Some(NotifyArg(match s {
            "none" => Notify::None,
            "resume" => Notify::Resume,
            "signal" => Notify::Signal,
            "signal-no-ipi" => Notify::SignalNoIpi,
            "nmi-current" => Notify::NmiCurrent,
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
                wakes an interruptible sleeper, SGI if running elsewhere), signal-no-ipi, or\n\
                nmi-current (only the running thread, i.e. the shell itself: EINVAL for\n\
                another). ESRCH once the thread is exiting.\n\
                taskwork nmi <cpu> <work> [--fn F]: a hard IRQ on <cpu> adds <work> with\n\
                nmi-current to whatever thread it interrupted; the work runs in that thread\n\
                on the way out of the interrupt (`log` shows which thread). If <cpu> was\n\
                idle, nothing is added and a line says so.\n\
                taskwork cancel <thread> <work|--fn F>: remove it (or the newest work with\n\
                that function); prints `cancelled <work>`, or `not queued on <t>` (status 1).\n\
                taskwork list <thread> [--json]: queued works, newest (first to run) first.\n\
                --json: {\"thread\",\"tid\",\"works\":[names, first to run first]}.",
    run: cmd_taskwork,
}];

fn cmd_taskwork(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let sub = args.word("<subcommand>")?;
    match sub {
        "add" => add(ctx, args),
        "nmi" => nmi(ctx, args),
        "cancel" => cancel(ctx, args),
        "list" => list(ctx, args),
        _ => Err(CmdError::usage(format!(
            "unknown subcommand '{sub}' (expected add, nmi, cancel or list)"
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
    let saved = e.prepare(
        Target::Task(t.thread().clone()),
        format!("task {}", t.name()),
    );
    let notify = notify.map_or(Notify::Resume, |n| n.0);
    let r = tw::add(t.thread(), w, notify);
    if r.is_err() {
        e.restore(saved);
    }
    match r {
        Ok(()) => Ok(0),
        Err(Error::Busy) => Ok(queued_flag(ctx, false)),
        Err(err @ Error::NoSuchThread) => Err(CmdError::runtime(format!(
            "{} is exiting or has exited ({})",
            t.name(),
            err.name()
        ))),
        Err(err @ Error::Invalid) if notify == Notify::NmiCurrent => {
            Err(CmdError::runtime(format!(
                "nmi-current adds only to the running thread, not {} ({}); \
                 `taskwork nmi <cpu> <work>` adds from a hard IRQ on that CPU",
                t.name(),
                err.name()
            )))
        }
        Err(err) => Err(CmdError::runtime(format!("{err} ({})", err.name()))),
    }
}

/// The work each CPU's `taskwork nmi` interrupt adds, while one is in flight there.
static NMI_TO_ADD: [IrqSpinLock<Option<Arc<Entry>>>; MAX_CPUS] =
    [const { IrqSpinLock::new(None) }; MAX_CPUS];
/// Each CPU's irq_work for `taskwork nmi`, created on first use.
static NMI_IRQ: [IrqSpinLock<Option<IrqWork>>; MAX_CPUS] =
    [const { IrqSpinLock::new(None) }; MAX_CPUS];

/// Test builds: forgets the irq_works of the last fake system (their slots are gone with it).
#[cfg(test)]
pub(crate) fn reset() {
    for (a, b) in NMI_TO_ADD.iter().zip(&NMI_IRQ) {
        a.lock().take();
        b.lock().take();
    }
}

/// `taskwork nmi <cpu> <work> [--fn F]`.
fn nmi(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let func: Option<Func> = args.option("--fn")?;
    let cpu: usize = args.next("<cpu>")?;
    let name = args.word("<work>")?;
    args.finish()?;
    util::check_cpu(Some(cpu))?;
    let e = get_or_create(name, Kind::Task, func, false)?;
    let Handle::Task(w) = e.handle() else {
        unreachable!()
    };
    if w.is_queued() {
        return Ok(queued_flag(ctx, false));
    }
    // (A refusal from hard-IRQ context is printed through klogd.)
    ensure_klogd()?;
    let irq = nmi_irq_work(cpu)?;
    {
        let mut slot = NMI_TO_ADD[cpu].lock();
        if slot.is_some() {
            return Err(CmdError::runtime(format!(
                "a taskwork nmi is already in flight on cpu{cpu} (EBUSY)"
            )));
        }
        *slot = Some(e.clone());
    }
    if irq_work::queue_on(irq, cpu) != Ok(true) {
        NMI_TO_ADD[cpu].lock().take();
        return Err(CmdError::runtime(format!(
            "cpu{cpu}'s taskwork nmi interrupt is still pending (EBUSY)"
        )));
    }
    Ok(0)
}

/// `cpu`'s irq_work for `taskwork nmi`. The first call makes every CPU's (a cache of one slot
/// per CPU: the slots in use do not creep up as CPUs first need theirs).
fn nmi_irq_work(cpu: usize) -> Result<IrqWork, CmdError> {
    if let Some(w) = *NMI_IRQ[cpu].lock() {
        return Ok(w);
    }
    for (c, slot) in NMI_IRQ.iter().enumerate() {
        let mut slot = slot.lock();
        if slot.is_none() {
            let f: irq_work::Func = Arc::new(move |_: &IrqWork| nmi_add(c));
            let w = IrqWork::new(&format!("taskwork-nmi/{c}"), false, f).map_err(|err| {
                CmdError::runtime(format!(
                    "no irq_work slot left ({}); `work delete` frees one",
                    err.name()
                ))
            })?;
            *slot = Some(w);
        }
    }
    NMI_IRQ[cpu]
        .lock()
        .ok_or_else(|| CmdError::runtime("no irq_work slot left"))
}

/// Hard IRQ on `cpu`: adds the work in flight to the interrupted thread with nmi-current.
fn nmi_add(cpu: usize) {
    let Some(e) = NMI_TO_ADD[cpu].lock().take() else {
        return;
    };
    let Handle::Task(w) = e.handle() else { return };
    let Some(t) = sched::current() else { return };
    let result = if t.is_idle() {
        Err(Error::Invalid)
    } else {
        let saved = e.prepare(Target::Task(t.clone()), format!("task {}", t.name()));
        tw::add(&t, w, Notify::NmiCurrent).inspect_err(|_| e.restore(saved))
    };
    if let Err(err) = result {
        log_line(format_args!(
            "taskwork nmi: cpu{cpu} interrupted {}: {} not added ({})",
            t.name(),
            e.name,
            err.name()
        ));
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
    let json = args.flag("--json")?;
    let key = args.word("<thread>")?;
    args.finish()?;
    let t = util::lookup(key)?;
    if json {
        let works = tw::list(t.thread()).into_iter().map(|n| util::json_str(&n));
        let doc = Obj::new()
            .str("thread", t.name())
            .num("tid", t.tid())
            .raw("works", &json::array(works))
            .done();
        writeln!(ctx, "{doc}");
        return Ok(0);
    }
    for n in tw::list(t.thread()) {
        writeln!(ctx, "{n}");
    }
    Ok(0)
}
