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
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use core::time::Duration;
use rtos::sched::{self, Thread};
use rtos::sync::IrqSpinLock;
use rtos::time::Instant;
use rtos::work::irq_work::{self, IrqWork};
use rtos::work::kthread_worker::{self as kw, Worker};
use rtos::work::task_work::{self as tw, Notify, TaskWork};
use rtos::work::workqueue::{self as wqm, Work, Workqueue};

use super::klogd::log_from_irq;
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

    /// Before a queue command: where it goes, the time, and the requeue budget.
    pub(crate) fn prepare(&self, target: Target, queue: String) {
        *self.target.lock() = target;
        *self.queue.lock() = queue;
        self.queued_at.store(now_ticks(), Ordering::Release);
        if let Func::Requeue(n) = self.func {
            self.requeue_left.store(n, Ordering::Release);
        }
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
                let me = sched::current();
                let ctx = me.as_ref().map_or("?", |t| t.name());
                rtos::kprintln!("{} ran on cpu{cpu} ({ctx})", self.name);
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
            (Handle::Work(w), Target::Wq(q, cpu)) => {
                wqm::queue_on(&q, cpu.unwrap_or_else(|| rtos::port::port().cpu_id()), &w);
            }
            (Handle::Work(w), Target::Worker(k)) => {
                kw::queue(&k, &w);
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
    if name.is_empty() {
        return Err(CmdError::usage("empty work name"));
    }
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
                CmdError::runtime(format!("no irq_work slot left ({})", err.name()))
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

pub(crate) fn lookup_work(name: &str) -> Result<Arc<Entry>, CmdError> {
    WORKS
        .lock()
        .get(name)
        .cloned()
        .ok_or_else(|| CmdError::runtime(format!("no such work '{name}'")))
}

/// What a queue command prints when the work was already pending.
pub(crate) fn queued(ctx: &mut Ctx<'_>, ok: bool) -> u8 {
    if ok {
        0
    } else {
        writeln!(ctx, "already pending");
        1
    }
}
