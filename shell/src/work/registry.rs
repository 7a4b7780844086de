//! The named works, and the workqueues and kthread workers, by name.
//!
//! # Named works
//!
//! Every work item has a name and lives in a registry ([`WORKS`]) for the rest of the run. It is
//! created on first use, by the command that first names it with `--fn F`, and that command fixes
//! its *kind*: an irq_work (`irqwork`), a task_work (`taskwork`), or a work item (`wq` and
//! `kworker` share `rtos::work::workqueue::Work`). Using it later with a command of another kind is
//! an error; giving `--fn` again is allowed only with the same function. The functions ([`Func`]):
//!
//! - `log`: prints `<work> ran on cpu<C> (<context>)`, the context being `hardirq` or the name of
//!   the thread it runs on;
//! - `count`: only counts (every work counts its runs);
//! - `busy:<ms>`: spins that long;
//! - `sleep:<ms>`: sleeps that long (refused for irq_works at queue time: hard IRQ context cannot
//!   sleep);
//! - `requeue:<n>`: queues itself again, `n` times after each queue command (same queue, CPU,
//!   worker or thread).
//!
//! The workqueues (`wq create`) and the kthread workers (`kworker create`) are registered by name
//! too ([`WQS`], [`WORKERS`]).

use alloc::format;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use core::fmt::Write as _;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use core::time::Duration;
use rtos::Error;
use rtos::sched::{self, Thread};
use rtos::sync::IrqSpinLock;
use rtos::time::Instant;
use rtos::work::irq_work::{self, IrqWork};
use rtos::work::kthread_worker::{self as kw, Worker};
use rtos::work::task_work::{self as tw, Notify, TaskWork};
use rtos::work::workqueue::{self as wqm, Leftovers, Work, Workqueue};

use super::klogd::{log_from_irq, log_line};
use crate::args::{CmdError, FromArg};
use crate::ctx::Ctx;
use crate::parse::parse_u64;
use crate::util::{self, VecMap};

// ---- functions ----

/// What a work does when it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Log,
    Count,
    Busy(u64),
    Sleep(u64),
    Requeue(u32),
}

impl core::fmt::Display for Func {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Func::Log => write!(f, "log"),
            Func::Count => write!(f, "count"),
            Func::Busy(ms) => write!(f, "busy:{ms}"),
            Func::Sleep(ms) => write!(f, "sleep:{ms}"),
            Func::Requeue(n) => write!(f, "requeue:{n}"),
        }
    }
}

impl FromArg for Func {
    const WHAT: &'static str = "work function";
    const HINT: Option<&'static str> = Some("log, count, busy:<ms>, sleep:<ms> or requeue:<n>");
    fn from_arg(s: &str) -> Option<Self> {
        match s {
            "log" => return Some(Func::Log),
            "count" => return Some(Func::Count),
            _ => {}
        }
        let (f, n) = s.split_once(':')?;
        let n = parse_u64(n)?;
        match f {
            "busy" if n <= 60_000 => Some(Func::Busy(n)),
            "sleep" if n <= 60_000 => Some(Func::Sleep(n)),
            "requeue" => u32::try_from(n).ok().map(Func::Requeue),
            _ => None,
        }
    }
}

// ---- the registry ----

/// Which rtos mechanism a named work belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Irq,
    Task,
    Work,
}

impl Kind {
    /// With its article, for messages.
    pub(crate) fn a(self) -> &'static str {
        match self {
            Kind::Irq => "an irq_work",
            Kind::Task => "a task_work",
            Kind::Work => "a work",
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Irq => "irq_work",
            Kind::Task => "task_work",
            Kind::Work => "work",
        }
    }
}

/// The rtos object behind a named work.
#[derive(Clone)]
pub(crate) enum Handle {
    Irq(IrqWork),
    Task(Arc<TaskWork>),
    Work(Arc<Work>),
}

/// Where a work was last queued: also where `requeue` queues it again.
#[derive(Clone)]
pub(crate) enum Target {
    None,
    Irq(Option<usize>),
    Wq(Arc<Workqueue>, Option<usize>),
    Worker(Arc<Worker>),
    Task(Arc<Thread>),
}

/// A named work.
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) func: Func,
    pub(crate) kind: Kind,
    lazy: bool,
    pub(crate) handle: IrqSpinLock<Option<Handle>>,
    target: IrqSpinLock<Target>,
    /// `irq/<cpu>`, `wq <name>`, `kworker <name>`, `task <thread>`, or `-`.
    pub(crate) queue: IrqSpinLock<String>,
    pub(crate) runs: AtomicU64,
    /// Running right now (irq and task works; work items have their own state).
    running: AtomicU32,
    last_cpu: AtomicU32,
    queued_at: AtomicU64,
    /// Ticks from queue to start of the last run; `u64::MAX` before the first run.
    latency: AtomicU64,
    requeue_left: AtomicU32,
}

pub(crate) static WORKS: IrqSpinLock<VecMap<String, Arc<Entry>>> = IrqSpinLock::new(VecMap::new());

pub(crate) static WQS: IrqSpinLock<VecMap<String, Arc<Workqueue>>> =
    IrqSpinLock::new(VecMap::new());

pub(crate) static WORKERS: IrqSpinLock<VecMap<String, Arc<Worker>>> =
    IrqSpinLock::new(VecMap::new());

/// Test builds: forget every work, queue and worker (each host test boots a fresh fake kernel).
#[cfg(test)]
pub(crate) fn reset() {
    WORKS.lock().clear();
    WQS.lock().clear();
    WORKERS.lock().clear();
    super::klogd::reset();
    super::taskwork::reset();
}

/// The counter now, in ticks (what `queued_at` and `latency` hold).
fn now_ticks() -> u64 {
    Instant::now().ticks()
}

impl Entry {
    pub(crate) fn handle(&self) -> Handle {
        self.handle
            .lock()
            .clone()
            .expect("a registered work has a handle")
    }

    pub(crate) fn work(&self) -> Arc<Work> {
        match self.handle() {
            Handle::Work(w) => w,
            _ => unreachable!("kind checked"),
        }
    }

    /// Before a queue command: where it goes, the time, and the requeue budget. Returns where it
    /// was queued before, for [`queued`] to put back if the command does not queue it.
    pub(crate) fn prepare(&self, target: Target, queue: String) -> Saved {
        let saved = Saved(
            core::mem::replace(&mut *self.target.lock(), target),
            core::mem::replace(&mut *self.queue.lock(), queue),
        );
        self.queued_at.store(now_ticks(), Ordering::Release);
        if let Func::Requeue(n) = self.func {
            self.requeue_left.store(n, Ordering::Release);
        }
        saved
    }

    /// After a queue command that did not queue it: where it was queued before ([`Entry::prepare`]).
    pub(crate) fn restore(&self, saved: Saved) {
        *self.target.lock() = saved.0;
        *self.queue.lock() = saved.1;
    }

    /// The work's body, in whatever context its mechanism runs it.
    fn run(&self, hardirq: bool) {
        let p = rtos::port::port();
        let start = Instant::now();
        let cpu = p.cpu_id();
        self.running.fetch_add(1, Ordering::AcqRel);
        if self.kind != Kind::Work {
            let at = self.queued_at.load(Ordering::Acquire);
            self.latency.store(
                start.ticks_since(Instant::from_ticks(at)),
                Ordering::Release,
            );
        }
        self.last_cpu.store(cpu as u32, Ordering::Release);
        match self.func {
            Func::Log if hardirq => log_from_irq(&self.name, cpu),
            Func::Log => {
                // Through the ring too, so that it never lands inside a command's output.
                let me = sched::current();
                let ctx = me.as_ref().map_or("?", |t| t.name());
                log_line(format_args!("{} ran on cpu{cpu} ({ctx})", self.name));
            }
            Func::Count => {}
            Func::Busy(ms) => {
                let end = start + Duration::from_millis(ms);
                while !end.has_passed() {
                    // A preemption point, as kernel code has (and the fake port needs).
                    let s = p.irq_save();
                    p.irq_restore(s);
                    core::hint::spin_loop();
                }
            }
            Func::Sleep(ms) => sched::sleep(Duration::from_millis(ms)),
            Func::Requeue(_) => {
                let left = self.requeue_left.load(Ordering::Acquire);
                if left > 0 {
                    self.requeue_left.store(left - 1, Ordering::Release);
                    self.requeue();
                }
            }
        }
        self.runs.fetch_add(1, Ordering::AcqRel);
        self.running.fetch_sub(1, Ordering::AcqRel);
    }

    /// Queues the work again where it was queued last (from its own body).
    fn requeue(&self) {
        let Some(h) = self.handle.lock().clone() else {
            return;
        };
        let target = self.target.lock().clone();
        self.queued_at.store(now_ticks(), Ordering::Release);
        match (h, target) {
            (Handle::Irq(w), Target::Irq(Some(cpu))) => {
                let _ = irq_work::queue_on(w, cpu);
            }
            (Handle::Irq(w), _) => {
                irq_work::queue(w);
            }
            // (A refused requeue ends the chain: a cancel or a destroy stopped it.)
            (Handle::Work(w), Target::Wq(q, cpu)) => {
                let cpu = cpu.unwrap_or_else(|| rtos::port::port().cpu_id());
                let _ = wqm::queue_on(&q, cpu, &w);
            }
            (Handle::Work(w), Target::Worker(k)) => {
                let _ = kw::queue(&k, &w);
            }
            (Handle::Task(w), Target::Task(t)) => {
                let _ = tw::add(&t, w, Notify::Resume);
            }
            _ => {}
        }
    }

    pub(crate) fn state(&self) -> &'static str {
        match self.handle() {
            Handle::Irq(w) => {
                let f = w.flags();
                if f & irq_work::PENDING != 0 {
                    "pending"
                } else if f & irq_work::BUSY != 0 {
                    "running"
                } else {
                    "idle"
                }
            }
            Handle::Task(w) => {
                if self.running.load(Ordering::Acquire) > 0 {
                    "running"
                } else if w.is_queued() {
                    "pending"
                } else {
                    "idle"
                }
            }
            Handle::Work(w) => w.state().as_str(),
        }
    }

    /// From its last queueing to the start of its last run, once it ran.
    pub(crate) fn latency(&self) -> Option<Duration> {
        match self.kind {
            Kind::Work if self.runs.load(Ordering::Acquire) > 0 => Some(self.work().last_latency()),
            Kind::Work => None,
            _ => match self.latency.load(Ordering::Acquire) {
                u64::MAX => None,
                t => Some(rtos::time::ticks(t)),
            },
        }
    }

    pub(crate) fn cpu(&self) -> Option<u32> {
        Some(self.last_cpu.load(Ordering::Acquire)).filter(|&c| c != u32::MAX)
    }
}

/// The work `name` of kind `kind`: the existing one (checking `func` if given), or a new one
/// running `func`.
pub(crate) fn get_or_create(
    name: &str,
    kind: Kind,
    func: Option<Func>,
    lazy: bool,
) -> Result<Arc<Entry>, CmdError> {
    util::scheduler()?;
    if let Some(e) = WORKS.lock().get(name).cloned() {
        if e.kind != kind {
            return Err(CmdError::runtime(format!(
                "work '{name}' is {}, not {}",
                e.kind.a(),
                kind.a()
            )));
        }
        if let Some(f) = func
            && f != e.func
        {
            return Err(CmdError::runtime(format!(
                "work '{name}' already exists with --fn {}",
                e.func
            )));
        }
        if kind == Kind::Irq && lazy && !e.lazy {
            return Err(CmdError::usage(format!(
                "work '{name}' was created without --lazy (fixed at creation)"
            )));
        }
        return Ok(e);
    }
    let Some(func) = func else {
        return Err(CmdError::runtime(format!(
            "no such work '{name}' (create it with --fn)"
        )));
    };
    crate::util::names::check_new("work", name)?;
    if func == Func::Log {
        // Every `log` line goes through klogd's ring (see `klogd`), whatever runs the work.
        super::klogd::ensure_klogd()?;
    }
    // (An allocation site for `inject alloc-fail`, as the kernel's are.)
    rtos::fault::check_alloc()
        .map_err(|e| CmdError::runtime(format!("cannot make work '{name}': {e}")))?;
    let e = Arc::new(Entry {
        name: String::from(name),
        func,
        kind,
        lazy,
        handle: IrqSpinLock::new(None),
        target: IrqSpinLock::new(Target::None),
        queue: IrqSpinLock::new(String::from("-")),
        runs: AtomicU64::new(0),
        running: AtomicU32::new(0),
        last_cpu: AtomicU32::new(u32::MAX),
        queued_at: AtomicU64::new(0),
        latency: AtomicU64::new(u64::MAX),
        requeue_left: AtomicU32::new(0),
    });
    let weak: Weak<Entry> = Arc::downgrade(&e);
    let handle = match kind {
        Kind::Irq => {
            let f: irq_work::Func = Arc::new(move |_: &IrqWork| {
                if let Some(e) = weak.upgrade() {
                    e.run(true);
                }
            });
            let w = IrqWork::new(name, lazy, f).map_err(|err| {
                CmdError::runtime(format!(
                    "no irq_work slot left ({}); `work delete` frees one",
                    err.name()
                ))
            })?;
            Handle::Irq(w)
        }
        Kind::Task => Handle::Task(TaskWork::new(name, move |_| {
            if let Some(e) = weak.upgrade() {
                e.run(false);
            }
        })),
        Kind::Work => Handle::Work(Work::new(name, move |_| {
            if let Some(e) = weak.upgrade() {
                e.run(false);
            }
        })),
    };
    *e.handle.lock() = Some(handle);
    WORKS.lock().insert(String::from(name), e.clone());
    Ok(e)
}

/// `work delete <name>`: forgets an idle work and frees what it holds (an irq_work's slot), so
/// its name may be used again. Refused, changing nothing, while it is pending or running.
pub(crate) fn delete_work(name: &str) -> Result<(), CmdError> {
    let e = lookup_work(name)?;
    let busy = |what: String| {
        CmdError::runtime(format!(
            "work '{name}' is {what} (EBUSY); wait for it or cancel it first"
        ))
    };
    match e.handle() {
        Handle::Irq(w) => match w.free() {
            Ok(()) => {}
            Err(Error::Busy) => return Err(busy(String::from(e.state()))),
            Err(err) => return Err(CmdError::runtime(format!("{err} ({})", err.name()))),
        },
        Handle::Task(_) | Handle::Work(_) if e.state() != "idle" => {
            let owner = match e.handle() {
                Handle::Work(w) => w.owner(),
                _ => None,
            };
            let queue = e.queue.lock().clone();
            let at = owner.unwrap_or(queue);
            return Err(busy(format!("{} on {at}", e.state())));
        }
        Handle::Task(_) | Handle::Work(_) => {}
    }
    WORKS.lock().remove(name);
    Ok(())
}

pub(crate) fn lookup_work(name: &str) -> Result<Arc<Entry>, CmdError> {
    WORKS
        .lock()
        .get(name)
        .cloned()
        .ok_or_else(|| CmdError::runtime(format!("no such work '{name}'")))
}

/// What a queue command prints when the work was already pending (irq_works and task_works, which
/// belong to no queue).
pub(crate) fn queued_flag(ctx: &mut Ctx<'_>, ok: bool) -> u8 {
    if ok {
        0
    } else {
        writeln!(ctx, "already pending");
        1
    }
}

/// The commands that act on an existing work and print Linux's boolean (cancel, flush-work):
/// reads `<work>`, calls `f` on it and prints `pending=<f's result>`.
pub(crate) fn on_existing_work(
    ctx: &mut Ctx<'_>,
    args: &mut crate::args::Args<'_>,
    f: impl FnOnce(&Arc<Work>) -> bool,
) -> Result<u8, CmdError> {
    let name = args.word("<work>")?;
    args.finish()?;
    let w = existing_work(name)?;
    let was = f(&w);
    writeln!(ctx, "pending={was}");
    Ok(0)
}

/// A work item for the commands that only look at an existing work (cancel, flush-work).
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

/// Where a work was queued last, to put back when a queue command did not queue it.
pub(crate) struct Saved(Target, String);

/// The end of a `wq` or `kworker` queue command: status 0 if `r` queued the work; "already
/// pending" (status 1) if it was pending there; an error naming the owner if it belongs to
/// another queue or worker, or saying the queue is gone. Anything but a queue leaves the named
/// work's record as `saved`, i.e. as it was before the command.
pub(crate) fn queued(
    ctx: &mut Ctx<'_>,
    e: &Entry,
    saved: Saved,
    r: Result<bool, Error>,
) -> Result<u8, CmdError> {
    if r != Ok(true) {
        e.restore(saved);
    }
    match r {
        Ok(ok) => Ok(queued_flag(ctx, ok)),
        Err(err) => Err(work_error(&e.name, &e.work(), err)),
    }
}

/// A kernel refusal about work `name`: EBUSY names the queue or worker it belongs to.
pub(crate) fn work_error(name: &str, w: &Work, err: Error) -> CmdError {
    CmdError::runtime(match (err, w.owner()) {
        (Error::Busy, Some(owner)) => {
            format!("work '{name}' belongs to {owner} (EBUSY); cancel it there first")
        }
        (Error::Shutdown, _) => format!("that queue is shut down, '{name}' not queued (ESHUTDOWN)"),
        (e, _) => format!("{e}"),
    })
}

/// A destroy's report: what it cancelled instead of running, if anything.
pub(crate) fn destroyed(left: Result<(), Leftovers>) -> Result<u8, CmdError> {
    let Err(left) = left else { return Ok(0) };
    let names = |ws: &[Arc<Work>]| {
        let mut s = String::new();
        for (i, w) in ws.iter().enumerate() {
            let _ = write!(s, "{}{}", if i > 0 { ", " } else { "" }, w.name());
        }
        s
    };
    let mut msg = String::new();
    if !left.delayed.is_empty() {
        let _ = write!(
            msg,
            "delayed works were still pending (cancelled, they will not run): {}",
            names(&left.delayed)
        );
    }
    if !left.chained.is_empty() {
        let _ = write!(
            msg,
            "{}works still queueing themselves after {} queueings (cancelled): {}",
            if msg.is_empty() { "" } else { "; " },
            rtos::work::pool::DRAIN_LIMIT,
            names(&left.chained)
        );
    }
    Err(CmdError::runtime(msg))
}

/// After a destroy: works last queued on a queue `gone` says is gone are recorded as queued
/// nowhere (`work list` never names a queue that no longer exists).
pub(crate) fn forget_queue(gone: impl Fn(&Target) -> bool) {
    for e in WORKS.lock().values() {
        let mut t = e.target.lock();
        if gone(&t) {
            *t = Target::None;
            *e.queue.lock() = String::from("-");
        }
    }
}
