//! The deferred-work commands: `work`, `irqwork`, `taskwork`, `wq`, `kworker`, `timers`, and
//! `wait work ...`.
//!
//! They drive `rtos::work` directly, like the kthread commands drive `rtos::kthread`.
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
//! # `log` in hard IRQ context: the ring and `klogd`
//!
//! The console lock is the kernel's sleeping mutex; an irq_work runs with interrupts masked, so it
//! must not take it. A `log` irq_work formats its line (no allocation) into a fixed ring of
//! [`LOG_SLOTS`] lines under an [`IrqSpinLock`]; when the ring is full the line is dropped and
//! counted. A kernel thread `klogd` prints the ring: the shell starts it the first time a `log`
//! irq_work is queued (one per kernel, found by name), and it sleeps on a wait queue that the
//! irq_work wakes (with a 100 ms poll as a backstop). It reports drops as
//! `klogd: <n> lines dropped`. A printer thread rather than the shell's prompt loop, so that
//! lines appear while the shell sleeps or waits, as on an interactive console. Works that run in a
//! thread print directly.
//!
//! # Already pending
//!
//! Every queue command that finds its work already pending prints `already pending` and returns
//! status 1, without an `error:` line.

use alloc::format;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::fmt::Write as _;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use rtos::Error;
use rtos::kthread::{self, Options};
use rtos::port::Port;
use rtos::sched::{self, Thread, WaitQueue};
use rtos::sync::IrqSpinLock;
use rtos::time::{deadline_after, ticks_to_ns};
use rtos::work::irq_work::{self, IrqWork};
use rtos::work::kthread_worker::{self as kw, Worker};
use rtos::work::task_work::{self as tw, Notify, TaskWork};
use rtos::work::workqueue::{self as wqm, Work, Workqueue};

use crate::args::{Args, CmdError, Duration, FromArg};
use crate::ctx::{Command, Ctx};
use crate::parse::parse_u64;
use crate::util::{self, DEFAULT_TIMEOUT_NS, VecMap, check_cpu};

/// How often `wait work` looks at the run count.
const POLL_NS: u64 = 2_000_000;
/// Lines the hard-IRQ log ring holds.
pub(crate) const LOG_SLOTS: usize = 32;
/// Bytes per ring line (longer lines are cut).
const LOG_LINE: usize = 96;
/// `klogd`'s backstop poll.
const KLOGD_POLL_NS: u64 = 100_000_000;

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

// ---- the registry ----

/// Which rtos mechanism a named work belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Irq,
    Task,
    Work,
}

impl Kind {
    /// With its article, for messages.
    fn a(self) -> &'static str {
        match self {
            Kind::Irq => "an irq_work",
            Kind::Task => "a task_work",
            Kind::Work => "a work",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Irq => "irq_work",
            Kind::Task => "task_work",
            Kind::Work => "work",
        }
    }
}

/// The rtos object behind a named work.
#[derive(Clone)]
enum Handle {
    Irq(IrqWork),
    Task(Arc<TaskWork>),
    Work(Arc<Work>),
}

/// Where a work was last queued: also where `requeue` queues it again.
#[derive(Clone)]
enum Target {
    None,
    Irq(Option<usize>),
    Wq(Arc<Workqueue>, Option<usize>),
    Worker(Arc<Worker>),
    Task(Arc<Thread>),
}

/// A named work.
struct Entry {
    name: String,
    func: Func,
    kind: Kind,
    lazy: bool,
    handle: IrqSpinLock<Option<Handle>>,
    target: IrqSpinLock<Target>,
    /// `irq/<cpu>`, `wq <name>`, `kworker <name>`, `task <thread>`, or `-`.
    queue: IrqSpinLock<String>,
    runs: AtomicU64,
    /// Running right now (irq and task works; work items have their own state).
    running: AtomicU32,
    last_cpu: AtomicU32,
    queued_at: AtomicU64,
    /// Ticks from queue to start of the last run; `u64::MAX` before the first run.
    latency: AtomicU64,
    requeue_left: AtomicU32,
}

static WORKS: IrqSpinLock<VecMap<String, Arc<Entry>>> = IrqSpinLock::new(VecMap::new());
static WQS: IrqSpinLock<VecMap<String, Arc<Workqueue>>> = IrqSpinLock::new(VecMap::new());
static WORKERS: IrqSpinLock<VecMap<String, Arc<Worker>>> = IrqSpinLock::new(VecMap::new());

/// Test builds: forget every work, queue and worker (each host test boots a fresh fake kernel).
#[cfg(test)]
pub(crate) fn reset() {
    WORKS.lock().clear();
    WQS.lock().clear();
    WORKERS.lock().clear();
    let mut r = LOG.lock();
    r.len = 0;
    r.dropped = 0;
}

fn now() -> u64 {
    rtos::port::port().now()
}

impl Entry {
    fn handle(&self) -> Handle {
        self.handle
            .lock()
            .clone()
            .expect("a registered work has a handle")
    }

    fn work(&self) -> Arc<Work> {
        match self.handle() {
            Handle::Work(w) => w,
            _ => unreachable!("kind checked"),
        }
    }

    /// Before a queue command: where it goes, the time, and the requeue budget.
    fn prepare(&self, target: Target, queue: String) {
        *self.target.lock() = target;
        *self.queue.lock() = queue;
        self.queued_at.store(now(), Ordering::Release);
        if let Func::Requeue(n) = self.func {
            self.requeue_left.store(n, Ordering::Release);
        }
    }

    /// The work's body, in whatever context its mechanism runs it.
    fn run(&self, hardirq: bool) {
        let p = rtos::port::port();
        let start = p.now();
        let cpu = p.cpu_id();
        self.running.fetch_add(1, Ordering::AcqRel);
        if self.kind != Kind::Work {
            let at = self.queued_at.load(Ordering::Acquire);
            self.latency
                .store(start.saturating_sub(at), Ordering::Release);
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
                let end = deadline_after(start, ms * 1_000_000, p.ticks_per_second());
                while p.now() < end {
                    // A preemption point, as kernel code has (and the fake port needs).
                    let s = p.irq_save();
                    p.irq_restore(s);
                    core::hint::spin_loop();
                }
            }
            Func::Sleep(ms) => sched::sleep_ns(ms * 1_000_000),
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
        self.queued_at.store(now(), Ordering::Release);
        match (h, target) {
            (Handle::Irq(w), Target::Irq(Some(cpu))) => {
                let _ = irq_work::queue_on(w, cpu);
            }
            (Handle::Irq(w), _) => {
                irq_work::queue(w);
            }
            (Handle::Work(w), Target::Wq(q, cpu)) => {
                wqm::queue_work_on(&q, cpu.unwrap_or_else(|| rtos::port::port().cpu_id()), &w);
            }
            (Handle::Work(w), Target::Worker(k)) => {
                kw::kthread_queue_work(&k, &w);
            }
            (Handle::Task(w), Target::Task(t)) => {
                let _ = tw::task_work_add(&t, w, Notify::Resume);
            }
            _ => {}
        }
    }

    fn state(&self) -> &'static str {
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

    fn latency_ns(&self) -> Option<u64> {
        let hz = rtos::port::port().ticks_per_second();
        match self.kind {
            Kind::Work if self.runs.load(Ordering::Acquire) > 0 => {
                Some(ticks_to_ns(self.work().last_latency(), hz))
            }
            Kind::Work => None,
            _ => match self.latency.load(Ordering::Acquire) {
                u64::MAX => None,
                t => Some(ticks_to_ns(t, hz)),
            },
        }
    }

    fn cpu(&self) -> Option<u32> {
        Some(self.last_cpu.load(Ordering::Acquire)).filter(|&c| c != u32::MAX)
    }
}

/// The work `name` of kind `kind`: the existing one (checking `func` if given), or a new one
/// running `func`.
fn get_or_create(
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

fn lookup_work(name: &str) -> Result<Arc<Entry>, CmdError> {
    WORKS
        .lock()
        .get(name)
        .cloned()
        .ok_or_else(|| CmdError::runtime(format!("no such work '{name}'")))
}

/// What a queue command prints when the work was already pending.
fn queued(ctx: &mut Ctx<'_>, ok: bool) -> u8 {
    if ok {
        0
    } else {
        writeln!(ctx, "already pending");
        1
    }
}

// ---- the hard-IRQ log ring and klogd ----

struct LogRing {
    lines: [[u8; LOG_LINE]; LOG_SLOTS],
    lens: [u8; LOG_SLOTS],
    head: usize,
    len: usize,
    dropped: u64,
}

static LOG: IrqSpinLock<LogRing> = IrqSpinLock::new(LogRing {
    lines: [[0; LOG_LINE]; LOG_SLOTS],
    lens: [0; LOG_SLOTS],
    head: 0,
    len: 0,
    dropped: 0,
});
static LOG_WAIT: WaitQueue = WaitQueue::new();

/// A line being formatted without allocating; cut at [`LOG_LINE`] bytes.
struct LineBuf {
    b: [u8; LOG_LINE],
    n: usize,
}

impl core::fmt::Write for LineBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &c in s.as_bytes() {
            if self.n < LOG_LINE {
                self.b[self.n] = c;
                self.n += 1;
            }
        }
        Ok(())
    }
}

/// Hard IRQ context: formats the line into the ring (or counts it dropped) and wakes klogd.
fn log_from_irq(name: &str, cpu: usize) {
    let mut line = LineBuf {
        b: [0; LOG_LINE],
        n: 0,
    };
    let _ = write!(line, "{name} ran on cpu{cpu} (hardirq)");
    {
        let mut r = LOG.lock();
        if r.len == LOG_SLOTS {
            r.dropped += 1;
        } else {
            let i = (r.head + r.len) % LOG_SLOTS;
            r.lines[i] = line.b;
            r.lens[i] = line.n as u8;
            r.len += 1;
        }
    }
    LOG_WAIT.wake_all();
}

/// Prints what the ring holds (thread context).
fn drain_log() {
    loop {
        let (line, dropped) = {
            let mut r = LOG.lock();
            let dropped = core::mem::take(&mut r.dropped);
            if r.len == 0 {
                (None, dropped)
            } else {
                let i = r.head;
                r.head = (r.head + 1) % LOG_SLOTS;
                r.len -= 1;
                (Some((r.lines[i], r.lens[i] as usize)), dropped)
            }
        };
        if dropped > 0 {
            rtos::kprintln!("klogd: {dropped} lines dropped");
        }
        let Some((b, n)) = line else { return };
        let text = match core::str::from_utf8(&b[..n]) {
            Ok(s) => s,
            Err(e) => core::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or(""),
        };
        rtos::kprintln!("{text}");
    }
}

fn klogd_body() -> i32 {
    let p = rtos::port::port();
    loop {
        if kthread::should_park() {
            kthread::parkme();
        }
        if kthread::should_stop() {
            drain_log();
            return 0;
        }
        let deadline = util::deadline_in(p, KLOGD_POLL_NS);
        let _ = rtos::wait::wait_event_dyn(
            &LOG_WAIT,
            &mut || LOG.lock().len > 0 || kthread::should_stop_or_park(),
            Some(deadline),
        );
        drain_log();
    }
}

/// Starts `klogd` unless it runs.
fn ensure_klogd() -> Result<(), CmdError> {
    if kthread::find("klogd").is_some() {
        return Ok(());
    }
    let t = kthread::create_with("klogd", Options::default(), klogd_body)
        .map_err(|e| CmdError::runtime(format!("cannot start klogd ({})", e.name())))?;
    kthread::wake_up_process(&t);
    Ok(())
}

/// The deferred-work commands, in `help` order (`timers` is in [`TIMERS`]).
pub(crate) const COMMANDS: &[Command] = &[
    Command {
        name: "work",
        usage: "work list [--json]",
        help: "list the named deferred works",
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
                    and returns 1.",
        run: cmd_work,
    },
    Command {
        name: "irqwork",
        usage: "irqwork <subcommand> ...",
        help: "hard-IRQ callbacks (irq_work)",
        long_help: "irqwork queue <work> [--cpu N] [--lazy] [--fn F]: queue on this CPU, or on\n\
                    CPU N (an SGI to it); --lazy (at creation) waits for the next timer tick.\n\
                    irqwork sync <work>: wait until its callback is not running.\n\
                    irqwork list: every irq_work: NAME, FLAGS (P pending, B busy), LAZY, RUNS,\n\
                    CPU (last ran on).",
        run: cmd_irqwork,
    },
    Command {
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
    },
    Command {
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
    },
    Command {
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
    },
];

// ---- work list / wait work ----

fn cmd_work(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let sub = args.word("<subcommand>")?;
    if sub != "list" {
        return Err(CmdError::usage(format!(
            "unknown subcommand '{sub}' (expected list)"
        )));
    }
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
                opt(e.latency_ns()),
            );
        } else {
            writeln!(
                ctx,
                "{:<16} {:<9} {:<11} {:<9} {:<16} {:>3} {:>8} {:>9}",
                e.name,
                e.kind.name(),
                format!("{}", e.func),
                e.state(),
                queue,
                e.cpu().map_or(String::from("-"), |c| format!("{c}")),
                runs,
                e.latency_ns()
                    .map_or(String::from("-"), util::show_duration),
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
pub(crate) fn wait_work(words: &[String]) -> Result<u8, CmdError> {
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
    let Duration(timeout) = a
        .option("--timeout")?
        .unwrap_or(Duration(DEFAULT_TIMEOUT_NS));
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
    let p = util::scheduler()?;
    let deadline = util::deadline_in(p, timeout);
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
        if p.now() >= deadline {
            let why = match state {
                Some(s) => format!("{name} is {now_state}, not {s}"),
                None => format!("{name} ran {runs} times, not {n}"),
            };
            return Err(CmdError::runtime(format!(
                "timeout: {why}, after {}",
                util::show_duration(timeout)
            )));
        }
        sched::sleep_ns(POLL_NS);
    }
}

// ---- irqwork ----

fn cmd_irqwork(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let sub = args.word("<subcommand>")?;
    match sub {
        "queue" => {
            let cpu: Option<usize> = args.option("--cpu")?;
            let lazy = args.flag("--lazy")?;
            let func: Option<Func> = args.option("--fn")?;
            let name = args.word("<work>")?;
            args.finish()?;
            if cpu.is_some() && lazy {
                return Err(CmdError::usage("--lazy and --cpu together"));
            }
            let existing = WORKS.lock().get(name).map(|e| e.func);
            if let Some(Func::Sleep(_)) = func.or(existing) {
                return Err(CmdError::usage(
                    "sleep is not allowed in hard IRQ context (irq_work)",
                ));
            }
            util::scheduler()?;
            check_cpu(cpu)?;
            let e = get_or_create(name, Kind::Irq, func, lazy)?;
            if e.func == Func::Log {
                ensure_klogd()?;
            }
            let Handle::Irq(w) = e.handle() else {
                unreachable!()
            };
            if w.flags() & irq_work::PENDING != 0 {
                return Ok(queued(ctx, false));
            }
            let here = rtos::port::port().cpu_id();
            e.prepare(Target::Irq(cpu), format!("irq/{}", cpu.unwrap_or(here)));
            let ok = match cpu {
                Some(c) => irq_work::queue_on(w, c).map_err(|err| util::bad_cpu(c, err))?,
                None => irq_work::queue(w),
            };
            Ok(queued(ctx, ok))
        }
        "sync" => {
            let name = args.word("<work>")?;
            args.finish()?;
            let e = lookup_work(name)?;
            let Some(Handle::Irq(w)) = e.handle.lock().clone() else {
                return Err(CmdError::runtime(format!(
                    "work '{name}' is not an irq_work"
                )));
            };
            irq_work::sync(w)
                .map_err(|err| CmdError::runtime(format!("{err} ({})", err.name())))?;
            Ok(0)
        }
        "list" => {
            args.finish()?;
            util::scheduler()?;
            writeln!(
                ctx,
                "{:<16} {:<8} {:>4} {:>8} {:>4}",
                "NAME", "FLAGS", "LAZY", "RUNS", "CPU"
            );
            for (w, name) in irq_work::list() {
                let f = w.flags();
                let mut flags = String::new();
                if f & irq_work::PENDING != 0 {
                    flags.push('P');
                }
                if f & irq_work::BUSY != 0 {
                    flags.push('B');
                }
                if flags.is_empty() {
                    flags.push('-');
                }
                writeln!(
                    ctx,
                    "{:<16} {:<8} {:>4} {:>8} {:>4}",
                    name,
                    flags,
                    if f & irq_work::LAZY != 0 { "yes" } else { "no" },
                    w.runs(),
                    w.last_cpu().map_or(String::from("-"), |c| format!("{c}")),
                );
            }
            Ok(0)
        }
        _ => Err(CmdError::usage(format!(
            "unknown subcommand '{sub}' (expected queue, sync or list)"
        ))),
    }
}

// ---- taskwork ----

fn cmd_taskwork(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let sub = args.word("<subcommand>")?;
    match sub {
        "add" => {
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
                return Ok(queued(ctx, false));
            }
            e.prepare(
                Target::Task(t.thread().clone()),
                format!("task {}", t.name()),
            );
            let notify = notify.map_or(Notify::Resume, |n| n.0);
            match tw::task_work_add(t.thread(), w, notify) {
                Ok(()) => Ok(0),
                Err(Error::Busy) => Ok(queued(ctx, false)),
                Err(err @ Error::NoSuchThread) => Err(CmdError::runtime(format!(
                    "{} is exiting or has exited ({})",
                    t.name(),
                    err.name()
                ))),
                Err(err) => Err(CmdError::runtime(format!("{err} ({})", err.name()))),
            }
        }
        "cancel" => {
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
                    tw::task_work_cancel(t.thread(), &w).then(|| String::from(name))
                }
                (None, Some(f)) => {
                    let names: Vec<String> = WORKS
                        .lock()
                        .values()
                        .filter(|e| e.kind == Kind::Task && e.func == f)
                        .map(|e| e.name.clone())
                        .collect();
                    tw::task_work_cancel_match(t.thread(), |w| names.iter().any(|n| n == w.name()))
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
        "list" => {
            let key = args.word("<thread>")?;
            args.finish()?;
            let t = util::lookup(key)?;
            for n in tw::task_work_list(t.thread()) {
                writeln!(ctx, "{n}");
            }
            Ok(0)
        }
        _ => Err(CmdError::usage(format!(
            "unknown subcommand '{sub}' (expected add, cancel or list)"
        ))),
    }
}

// ---- wq ----

fn lookup_wq(name: &str) -> Result<Arc<Workqueue>, CmdError> {
    WQS.lock()
        .get(name)
        .cloned()
        .ok_or_else(|| CmdError::runtime(format!("no such workqueue '{name}'")))
}

fn cmd_wq(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let sub = args.word("<subcommand>")?;
    match sub {
        "create" => {
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
                wqm::create_singlethread_workqueue(name)
            } else {
                wqm::create_workqueue(name)
            };
            let q = made.map_err(|e| {
                CmdError::runtime(format!("cannot create '{name}': {e} ({})", e.name()))
            })?;
            WQS.lock().insert(String::from(name), q);
            Ok(0)
        }
        "queue" | "delay" => {
            let cpu: Option<usize> = args.option("--cpu")?;
            let func: Option<Func> = args.option("--fn")?;
            let qname = args.word("<wq>")?;
            let name = args.word("<work>")?;
            let delay = if sub == "delay" {
                Some(args.next::<Duration>("<D>")?.0)
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
                (None, Some(c)) => wqm::queue_work_on(&q, c, &w),
                (None, None) => wqm::queue_work(&q, &w),
                (Some(d), Some(c)) => wqm::queue_delayed_work_on(&q, c, &w, d),
                (Some(d), None) => wqm::queue_delayed_work(&q, &w, d),
            };
            Ok(queued(ctx, ok))
        }
        "flush" => {
            let qname = args.word("<wq>")?;
            args.finish()?;
            let q = lookup_wq(qname)?;
            wqm::flush_workqueue(&q);
            Ok(0)
        }
        "destroy" => {
            let qname = args.word("<wq>")?;
            args.finish()?;
            let q = WQS
                .lock()
                .remove(qname)
                .ok_or_else(|| CmdError::runtime(format!("no such workqueue '{qname}'")))?;
            wqm::destroy_workqueue(q);
            Ok(0)
        }
        "list" => {
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
        _ => Err(CmdError::usage(format!(
            "unknown subcommand '{sub}' (expected create, queue, delay, flush, destroy or list)"
        ))),
    }
}

// ---- kworker ----

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
        "create" => {
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
                Some(c) => kw::create_worker_on_cpu(c, name),
                None => kw::create_worker(name),
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
        "queue" | "delay" | "mod" => {
            let func: Option<Func> = args.option("--fn")?;
            let wname = args.word("<w>")?;
            let name = args.word("<work>")?;
            let delay = if sub == "queue" {
                0
            } else {
                args.next::<Duration>("<D>")?.0
            };
            args.finish()?;
            let k = lookup_worker(wname)?;
            let e = get_or_create(name, Kind::Work, func, false)?;
            let w = e.work();
            if sub != "mod"
                && matches!(w.state(), wqm::WorkState::Pending | wqm::WorkState::Delayed)
            {
                return Ok(queued(ctx, false));
            }
            e.prepare(Target::Worker(k.clone()), format!("kworker {wname}"));
            if sub == "mod" {
                let was = kw::kthread_mod_delayed_work(&k, &w, delay);
                writeln!(ctx, "pending={was}");
                return Ok(0);
            }
            Ok(queued(ctx, kw::kthread_queue_delayed_work(&k, &w, delay)))
        }
        "cancel" => {
            let name = args.word("<work>")?;
            args.finish()?;
            let w = existing_work(name)?;
            let was = kw::kthread_cancel_delayed_work_sync(&w);
            writeln!(ctx, "pending={was}");
            Ok(0)
        }
        "flush-work" => {
            let name = args.word("<work>")?;
            args.finish()?;
            let w = existing_work(name)?;
            kw::kthread_flush_work(&w);
            Ok(0)
        }
        "flush" => {
            let wname = args.word("<w>")?;
            args.finish()?;
            let k = lookup_worker(wname)?;
            kw::kthread_flush_worker(&k);
            Ok(0)
        }
        "destroy" => {
            let wname = args.word("<w>")?;
            args.finish()?;
            let k = WORKERS
                .lock()
                .remove(wname)
                .ok_or_else(|| CmdError::runtime(format!("no such kworker '{wname}'")))?;
            match kw::kthread_destroy_worker(k) {
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
        _ => Err(CmdError::usage(format!(
            "unknown subcommand '{sub}' (expected create, queue, delay, mod, cancel, flush-work, \
             flush or destroy)"
        ))),
    }
}

/// `timers` (after `bench` in `help`).
pub(crate) const TIMERS: &[Command] = &[Command {
    name: "timers",
    usage: "timers",
    help: "pending timers per CPU",
    long_help: "One row per pending timer: CPU, KIND (wake, slice, call), DUE IN.",
    run: cmd_timers,
}];

// ---- timers ----

fn cmd_timers(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    args.finish()?;
    let p: &dyn Port = util::scheduler()?;
    let (now, hz) = (p.now(), p.ticks_per_second());
    writeln!(ctx, "{:>3}  {:<6} {:>10}", "CPU", "KIND", "DUE IN");
    let online = sched::online_mask();
    for cpu in (0..rtos::MAX_CPUS).filter(|c| online & (1 << c) != 0) {
        for (deadline, kind) in rtos::timer::pending(cpu) {
            let due = ticks_to_ns(deadline.saturating_sub(now), hz);
            writeln!(
                ctx,
                "{:>3}  {:<6} {:>10}",
                cpu,
                kind,
                util::show_duration(due)
            );
        }
    }
    Ok(0)
}
