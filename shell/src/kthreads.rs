//! The kernel-thread commands: `spawn`, `ps`, `park`, `unpark`, `stop`, `wait`, `bind`, `wake`
//! and `prio`.
//!
//! They call the kernel directly (`rtos::kthread`, `rtos::sched`), not through [`crate::system::System`]:
//! the threads are the kernel's own, and on the host the tests boot a fake SMP kernel
//! (`rtos::fake::run`) under the shell. Without a scheduler (no port installed, or no CPU
//! schedulable yet) the commands that need one fail with a runtime error instead of panicking.
//!
//! `spawn` starts one of a few built-in thread bodies ([`Kind`]). Each is a real kthread function
//! with Linux's contract: it polls `should_stop`/`should_park`, calls `parkme` when asked and
//! returns its result when stopped, except `hog`, which never polls anything, so that `park` and
//! `stop` can be seen to time out. What the shell shares with a thread it spawned (a counter's
//! count, whether the body has started) lives in [`SPAWNED`], by tid, so that `ps` can show it.
//!
//! A thread argument `<t>` is a tid (decimal) or a name, looked up with `kthread::find` (a tid
//! wins; `spawn` refuses all-digit names so that the two cannot be confused).

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rtos::Error;
use rtos::kthread::{self, KThread, Options};
use rtos::sched::{self, State, ThreadInfo, Tid};
use rtos::sync::IrqSpinLock;
use rtos::time::{deadline_after, ns_to_ticks_ceil, ticks_to_ns};

use crate::args::{Args, CmdError, Duration, FromArg};
use crate::ctx::{Command, Ctx};
use crate::parse::parse_u64;
use crate::util::{
    DEFAULT_TIMEOUT_NS, VecMap, bad_cpu, deadline_in, json_str, lookup, scheduler, show_duration,
};
use crate::work::list::{is_wait_work, wait_work};

/// Default `--period` of a `ticker`.
const TICKER_PERIOD_NS: u64 = 1_000_000_000;
/// Default `--period` of a `counter`.
const COUNTER_PERIOD_NS: u64 = 100_000_000;
/// Longest a thread body sleeps before it looks at its stop/park requests again.
const SLICE_NS: u64 = 10_000_000;
/// How long a `sleeper` sleeps when nothing wakes it (an hour).
const SLEEPER_NAP_NS: u64 = 3_600_000_000_000;
/// How often `wait` looks at the thread's state.
const POLL_NS: u64 = 2_000_000;
/// Results are reported as non-negative `i32`s: counts are taken modulo 2^31.
const RESULT_MASK: u64 = 0x7fff_ffff;

/// What the shell shares with a thread it spawned.
#[derive(Debug)]
struct Shared {
    kind: Kind,
    /// The body runs (it is past the kthread wrapper's first stop and park checks).
    started: AtomicBool,
    /// A counter's count.
    count: AtomicU64,
}

/// The threads `spawn` made, by tid, until they are collected.
static SPAWNED: IrqSpinLock<VecMap<Tid, Arc<Shared>>> = IrqSpinLock::new(VecMap::new());

/// Threads whose `stop` timed out: when one of them has exited since, `stop` reports its result
/// as a stop that completed, not as a thread that exited by itself.
static STOP_PENDING: IrqSpinLock<VecMap<Tid, ()>> = IrqSpinLock::new(VecMap::new());

/// Test builds only: lets the host tests end a `hog` (which otherwise never returns and would
/// keep a fake CPU forever). The kernel's `hog` has no way out.
#[cfg(test)]
pub(crate) static HOG_RELEASE: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

/// The built-in thread bodies `spawn` can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Busy loop; result: iterations modulo 2^31.
    Spin,
    /// Sleeps (10 ms at a time) until stopped; result 0.
    Sleeper,
    /// Prints `<name>: tick N` every period; result: ticks.
    Ticker,
    /// Counts every period, visible in `ps`; result: the count.
    Counter,
    /// Spins without ever polling: cannot be parked or stopped.
    Hog,
    /// Returns `--result` at once.
    Exit,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Spin => "spin",
            Kind::Sleeper => "sleeper",
            Kind::Ticker => "ticker",
            Kind::Counter => "counter",
            Kind::Hog => "hog",
            Kind::Exit => "exit",
        }
    }

    fn default_period(self) -> Option<u64> {
        match self {
            Kind::Ticker => Some(TICKER_PERIOD_NS),
            Kind::Counter => Some(COUNTER_PERIOD_NS),
            _ => None,
        }
    }
}

impl FromArg for Kind {
    const WHAT: &'static str = "thread kind";
    const HINT: Option<&'static str> = Some("spin, sleeper, ticker, counter, hog or exit");
    fn from_arg(s: &str) -> Option<Self> {
        [
            Kind::Spin,
            Kind::Sleeper,
            Kind::Ticker,
            Kind::Counter,
            Kind::Hog,
            Kind::Exit,
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }
}

/// A priority, `0..sched::PRIORITIES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prio(pub u8);

const _: () = assert!(sched::PRIORITIES == 32, "update Prio's hint");

impl FromArg for Prio {
    const WHAT: &'static str = "priority";
    const HINT: Option<&'static str> = Some("0..=31, higher is more urgent");
    fn from_arg(s: &str) -> Option<Self> {
        parse_u64(s)
            .filter(|&p| p < sched::PRIORITIES as u64)
            .map(|p| Prio(p as u8))
    }
}

impl FromArg for i32 {
    const WHAT: &'static str = "number";
    const HINT: Option<&'static str> = Some("-2147483648..=2147483647");
    fn from_arg(s: &str) -> Option<Self> {
        match s.strip_prefix('-') {
            Some(n) => parse_u64(n)
                .and_then(|n| i64::try_from(n).ok())
                .and_then(|n| i32::try_from(-n).ok()),
            None => parse_u64(s).and_then(|n| i32::try_from(n).ok()),
        }
    }
}

/// The states `wait` accepts, as `ps` shows them.
const STATES: [&str; 7] = [
    "created", "ready", "running", "sleeping", "parked", "stopping", "exited",
];

/// A state name for `wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaitState(pub &'static str);

impl FromArg for WaitState {
    const WHAT: &'static str = "state";
    const HINT: Option<&'static str> =
        Some("created, ready, running, sleeping, parked, stopping or exited");
    fn from_arg(s: &str) -> Option<Self> {
        STATES.into_iter().find(|&n| n == s).map(WaitState)
    }
}

/// The state as `ps` shows it: `stopping` while a stop request is pending.
fn state_name(i: &ThreadInfo) -> &'static str {
    if i.stopping {
        "stopping"
    } else {
        i.state.name()
    }
}

/// The `[--timeout D] <t>` arguments of `park` and `stop`: the thread, and the counter value at
/// which to give up (default timeout [`DEFAULT_TIMEOUT_NS`]).
fn target_and_deadline(args: &mut Args<'_>) -> Result<(KThread, u64), CmdError> {
    let Duration(timeout) = args
        .option("--timeout")?
        .unwrap_or(Duration(DEFAULT_TIMEOUT_NS));
    let key = args.word("<t>")?;
    args.finish()?;
    let t = lookup(key)?;
    let p = scheduler()?;
    Ok((t, deadline_in(p, timeout)))
}

/// Bytes for `ps`: `512B`, `16K`, `1.5K`, `2M`.
fn show_size(n: usize) -> String {
    const K: usize = 1024;
    if n < K {
        format!("{n}B")
    } else if n < K * K {
        if n.is_multiple_of(K) {
            format!("{}K", n / K)
        } else {
            format!("{}.{}K", n / K, n % K * 10 / K)
        }
    } else if n.is_multiple_of(K * K) {
        format!("{}M", n / (K * K))
    } else {
        format!("{}.{}M", n / (K * K), n % (K * K) * 10 / (K * K))
    }
}

/// Forgets a thread that is gone: its counter and pending stop, if any.
fn forget(tid: Tid) {
    SPAWNED.lock().remove(&tid);
    STOP_PENDING.lock().remove(&tid);
}

/// A thread name `spawn` can use: `<kind><n>`, the smallest `n >= 1` not taken.
fn default_name(kind: Kind) -> String {
    let threads = kthread::list();
    (1u32..)
        .map(|n| format!("{}{n}", kind.name()))
        .find(|n| !threads.iter().any(|t| t.name() == n))
        .unwrap_or_default()
}

// ---- thread bodies ----

/// The poll point of every body but `hog`: parks while asked to, then says whether to stop.
fn checkpoint() -> bool {
    if kthread::should_park() {
        kthread::parkme();
    }
    kthread::should_stop()
}

fn spin_body() -> i32 {
    let mut n: u64 = 0;
    loop {
        if kthread::should_stop_or_park() && checkpoint() {
            break;
        }
        n = (n + 1) & RESULT_MASK;
        core::hint::spin_loop();
    }
    n as i32
}

/// Sleeps interruptibly until something wakes it: a stop or park request (both wake the thread)
/// or a signalling task_work. Nothing else does, within [`SLEEPER_NAP_NS`]: that makes a
/// `signal` wake observable (a `resume` add leaves it asleep).
fn sleeper_body() -> i32 {
    let p = rtos::port::port();
    while !checkpoint() {
        sched::sleep_interruptible_until(deadline_in(p, SLEEPER_NAP_NS));
    }
    0
}

/// Calls `tick` every `period_ns` until stopped, sleeping in slices of at most [`SLICE_NS`] so a
/// stop or park request is seen quickly. After a park the period starts afresh. Returns the
/// number of ticks modulo 2^31.
fn periodic(period_ns: u64, tick: &mut dyn FnMut(u64)) -> i32 {
    let p = rtos::port::port();
    let hz = p.ticks_per_second();
    let period = ns_to_ticks_ceil(period_ns, hz).max(1);
    let mut ticks: u64 = 0;
    let mut next = p.now().saturating_add(period);
    loop {
        if kthread::should_park() {
            kthread::parkme();
            next = p.now().saturating_add(period);
        }
        if kthread::should_stop() {
            break;
        }
        let now = p.now();
        if now >= next {
            ticks += 1;
            tick(ticks);
            // Missed periods (the thread did not get a CPU in time) are skipped, not caught up
            // in a burst.
            next = next.saturating_add(period);
            if next <= now {
                next = now.saturating_add(period);
            }
        } else {
            sched::sleep_interruptible_until(next.min(deadline_after(now, SLICE_NS, hz)));
        }
    }
    (ticks & RESULT_MASK) as i32
}

fn hog_body() -> i32 {
    loop {
        #[cfg(test)]
        if HOG_RELEASE.load(Ordering::Acquire) {
            return 0;
        }
        core::hint::spin_loop();
    }
}

/// The body of a thread of `shared.kind`.
fn body(
    shared: Arc<Shared>,
    name: String,
    period_ns: u64,
    result: i32,
) -> impl FnOnce() -> i32 + Send + 'static {
    move || {
        shared.started.store(true, Ordering::Release);
        match shared.kind {
            Kind::Spin => spin_body(),
            Kind::Sleeper => sleeper_body(),
            Kind::Ticker => periodic(period_ns, &mut |n| rtos::kprintln!("{name}: tick {n}")),
            Kind::Counter => periodic(period_ns, &mut |n| shared.count.store(n, Ordering::Relaxed)),
            Kind::Hog => hog_body(),
            Kind::Exit => result,
        }
    }
}

/// Whether the body of `tid` (spawned by the shell) has started.
#[cfg(test)]
pub(crate) fn started(tid: Tid) -> bool {
    SPAWNED
        .lock()
        .get(&tid)
        .is_some_and(|s| s.started.load(Ordering::Acquire))
}

/// The kthread commands, in `help` order.
pub(crate) const COMMANDS: &[Command] = &[
    Command {
        name: "spawn",
        usage: "spawn <kind> [name] [opts]",
        help: "start a kernel thread of a built-in kind",
        long_help: "Creates a kthread running one of the built-in bodies and wakes it; prints\n\
                    `spawned <name> (tid <tid>) on cpu<n>`. Kinds (each polls its stop and park\n\
                    requests, except hog):\n\
                    \x20 spin     busy loop; result: iterations modulo 2^31\n\
                    \x20 sleeper  sleeps until woken (stop, park, a signal task_work); result 0\n\
                    \x20 ticker   prints `<name>: tick N` every period (default 1s); result: ticks\n\
                    \x20 counter  counts every period (default 100ms), shown by ps; result: count\n\
                    \x20 hog      spins and never polls: park and stop on it time out\n\
                    \x20 exit     returns --result (default 0) at once\n\
                    [name] defaults to <kind><n>, the first one free; it must be unique, at most\n\
                    63 bytes and not all digits (it would read as a tid). Options:\n\
                    \x20 --cpu N      a per-CPU thread bound to CPU N (EINVAL if N is not online)\n\
                    \x20 --prio P     priority 0..=31, higher is more urgent (default 10)\n\
                    \x20 --period D   ticker/counter period, a duration as for sleep\n\
                    \x20 --result R   what an exit thread returns\n\
                    \x20 --created    create only; `wake <t>` starts it (`stop` gives -4, EINTR)\n\
                    Errors: a taken name (EEXIST), no memory or thread slot left (ENOMEM).",
        run: cmd_spawn,
    },
    Command {
        name: "ps",
        usage: "ps [--json]",
        help: "list kernel threads",
        long_help: "One row per kthread: TID, NAME, STATE (created, ready, running, sleeping,\n\
                    parked, stopping = stop requested but not exited yet, exited), CPU (running\n\
                    on or last ran on), PRIO, RUNTIME (ms on a CPU), SWITCHES (times switched\n\
                    in), STACK (most bytes used / size), COUNT (counter threads, else -).\n\
                    --json: one JSON object per line and thread, with the fields tid, name,\n\
                    state, cpu, prio, runtime_ms, runtime_us, switches, stack_used, stack_size\n\
                    (bytes), count, bound and result (null where they do not apply).",
        run: cmd_ps,
    },
    Command {
        name: "park",
        usage: "park <t> [--timeout D]",
        help: "park a kernel thread (waits until parked)",
        long_help: "Asks thread <t> (a name or a tid) to park and waits until it is parked and\n\
                    off its CPU, at most --timeout (default 5s): then `error: park: timeout`\n\
                    and the request stays set. A thread that has exited gives ENOSYS, one that\n\
                    is already parked (or being parked) EBUSY.",
        run: cmd_park,
    },
    Command {
        name: "unpark",
        usage: "unpark <t>",
        help: "let a parked kernel thread run again",
        long_help: "Clears the park request of <t> and wakes it if it is parked (a per-CPU\n\
                    thread goes back to its CPU). Does nothing if it is not parked.",
        run: cmd_unpark,
    },
    Command {
        name: "stop",
        usage: "stop <t> [--timeout D]",
        help: "stop a kernel thread and print its result",
        long_help: "Asks <t> to stop (unparking it if needed), waits for it to return, prints\n\
                    `<name>: result <R>` and forgets it. A thread created but never woken does\n\
                    not run and gives -4 (EINTR). After --timeout (default 5s) it fails with\n\
                    `error: stop: timeout`; the stop request stays (ps shows `stopping`).\n\
                    A thread that already exited by itself is an error that shows its result\n\
                    (unless an earlier stop of it timed out); it is forgotten too.",
        run: cmd_stop,
    },
    Command {
        name: "wait",
        usage: "wait <t> <state> [--timeout D]",
        help: "wait until a kernel thread is in a state (or a work has run)",
        long_help: "Polls <t> every 2 ms until its state (as ps shows it) is <state>: created,\n\
                    ready, running, sleeping, parked, stopping or exited. Fails after --timeout\n\
                    (default 5s), or at once if the thread exited and <state> is not exited.\n\
                    `wait work <work> runs >= <n> [--timeout D]` waits until the named work\n\
                    has run at least <n> times; `wait work <work> state <s>` until it is in\n\
                    state <s> (idle, pending, delayed, running, canceling), as `work list`\n\
                    shows it. Both poll every 2 ms, default timeout 5s.",
        run: cmd_wait,
    },
    Command {
        name: "bind",
        usage: "bind <t> <cpu>",
        help: "bind a created or parked thread to a CPU",
        long_help: "Restricts <t> to CPU <cpu>. Only while it is created (never woken) or parked\n\
                    and off its CPU; otherwise EBUSY. A CPU that is not online is EINVAL.",
        run: cmd_bind,
    },
    Command {
        name: "wake",
        usage: "wake <t>",
        help: "wake a created or sleeping kernel thread",
        long_help: "Starts a thread created with `spawn --created`, or wakes a sleeping one\n\
                    early. Anything else is left alone (with a note).",
        run: cmd_wake,
    },
    Command {
        name: "prio",
        usage: "prio <t> <prio>",
        help: "change a kernel thread's priority",
        long_help: "Sets the priority of <t> to <prio>, 0..=31 (higher is more urgent).",
        run: cmd_prio,
    },
];

// ---- commands ----

fn cmd_spawn(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let cpu: Option<usize> = args.option("--cpu")?;
    let prio: Option<Prio> = args.option("--prio")?;
    let period: Option<Duration> = args.option("--period")?;
    let result: Option<i32> = args.option("--result")?;
    let created = args.flag("--created")?;
    let kind: Kind = args.next("<kind>")?;
    let name = args.word_opt()?;
    args.finish()?;

    let period_ns = match (kind.default_period(), period) {
        (Some(_), Some(Duration(0))) => return Err(CmdError::usage("--period must be above 0")),
        (Some(_), Some(Duration(ns))) | (Some(ns), None) => ns,
        (None, Some(_)) => {
            return Err(CmdError::usage(
                "--period is for ticker and counter threads only",
            ));
        }
        (None, None) => 0,
    };
    if result.is_some() && kind != Kind::Exit {
        return Err(CmdError::usage("--result is for exit threads only"));
    }
    if let Some(name) = &name {
        if name.is_empty() {
            return Err(CmdError::usage("empty thread name"));
        }
        if name.len() > kthread::MAX_NAME {
            return Err(CmdError::usage(format!(
                "thread name too long (max {} bytes)",
                kthread::MAX_NAME
            )));
        }
        if name.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CmdError::usage(format!(
                "thread name '{name}' is a number (it would read as a tid)"
            )));
        }
    }
    scheduler()?;

    let name = name.map_or_else(|| default_name(kind), String::from);
    let shared = Arc::new(Shared {
        kind,
        started: AtomicBool::new(false),
        count: AtomicU64::new(0),
    });
    let f = body(shared.clone(), name.clone(), period_ns, result.unwrap_or(0));
    let opts = Options {
        prio: prio.map(|p| p.0),
        cpu,
    };
    let t = kthread::create_with(&name, opts, f).map_err(|e| match e {
        Error::Exists => CmdError::runtime(format!(
            "a thread named '{name}' already exists ({})",
            e.name()
        )),
        Error::NoMemory => CmdError::runtime(format!(
            "no memory or thread slot left for '{name}' ({})",
            e.name()
        )),
        Error::Invalid => match cpu {
            Some(cpu) => bad_cpu(cpu, e),
            None => CmdError::usage(format!("{e}")),
        },
        e => CmdError::runtime(format!("{e}")),
    })?;
    SPAWNED.lock().insert(t.tid(), shared);
    if !created {
        kthread::wake_up_process(&t);
    }
    writeln!(
        ctx,
        "spawned {} (tid {}) on cpu{}{}",
        t.name(),
        t.tid(),
        t.info().cpu,
        if created { " (created, not woken)" } else { "" }
    );
    Ok(0)
}

/// One thread's row in `ps`, gathered once.
struct Row {
    info: ThreadInfo,
    /// Run time in microseconds.
    runtime_us: u64,
    /// A counter's count.
    count: Option<u64>,
}

fn cmd_ps(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let json = args.flag("--json")?;
    args.finish()?;
    let hz = rtos::port::try_port().map_or(0, |p| p.ticks_per_second());
    let threads = kthread::list();
    let spawned: VecMap<Tid, Arc<Shared>> = {
        let mut spawned = SPAWNED.lock();
        spawned.retain(|tid, _| threads.iter().any(|t| t.tid() == *tid));
        STOP_PENDING
            .lock()
            .retain(|tid, _| threads.iter().any(|t| t.tid() == *tid));
        spawned.clone()
    };
    let rows = threads.iter().map(|t| {
        let info = t.info();
        Row {
            runtime_us: ticks_to_ns(info.runtime_ticks, hz) / 1_000,
            count: spawned
                .get(&t.tid())
                .filter(|s| s.kind == Kind::Counter)
                .map(|s| s.count.load(Ordering::Relaxed)),
            info,
        }
    });
    if !json {
        writeln!(
            ctx,
            "{:>5}  {:<16} {:<8}  {:>3}  {:>4}  {:>9}  {:>8}  {:>11}  {:>8}",
            "TID", "NAME", "STATE", "CPU", "PRIO", "RUNTIME", "SWITCHES", "STACK", "COUNT"
        );
    }
    for row in rows {
        if json {
            writeln!(ctx, "{}", json_row(&row));
        } else {
            let i = &row.info;
            writeln!(
                ctx,
                "{:>5}  {:<16} {:<8}  {:>3}  {:>4}  {:>9}  {:>8}  {:>11}  {:>8}",
                i.tid,
                i.name,
                state_name(i),
                i.cpu,
                i.prio,
                format!("{}ms", row.runtime_us / 1_000),
                i.switches,
                format!("{}/{}", show_size(i.stack_used), show_size(i.stack_size)),
                row.count.map_or(String::from("-"), |c| format!("{c}")),
            );
        }
    }
    Ok(0)
}

/// One `ps --json` line.
fn json_row(row: &Row) -> String {
    let i = &row.info;
    let opt = |v: Option<i64>| v.map_or(String::from("null"), |v| format!("{v}"));
    format!(
        "{{\"tid\":{},\"name\":{},\"state\":\"{}\",\"cpu\":{},\"prio\":{},\"runtime_ms\":{},\
         \"runtime_us\":{},\
         \"switches\":{},\"stack_used\":{},\"stack_size\":{},\"count\":{},\"bound\":{},\
         \"result\":{}}}",
        i.tid,
        json_str(&i.name),
        state_name(i),
        i.cpu,
        i.prio,
        row.runtime_us / 1_000,
        row.runtime_us,
        i.switches,
        i.stack_used,
        i.stack_size,
        opt(row.count.map(|c| c as i64)),
        opt(i.bound.map(|b| b as i64)),
        opt(i.result.map(i64::from)),
    )
}

fn cmd_park(_ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let (t, deadline) = target_and_deadline(args)?;
    match kthread::park_until(&t, Some(deadline)) {
        Ok(()) => Ok(0),
        Err(Error::TimedOut) => Err(CmdError::runtime("timeout")),
        Err(e @ Error::Exited) => Err(CmdError::runtime(format!(
            "{} has exited ({})",
            t.name(),
            e.name()
        ))),
        Err(e @ Error::Busy) => Err(CmdError::runtime(format!(
            "{} is already parked or being parked ({})",
            t.name(),
            e.name()
        ))),
        Err(e) => Err(CmdError::runtime(format!("{e}"))),
    }
}

fn cmd_unpark(_ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let key = args.word("<t>")?;
    args.finish()?;
    let t = lookup(key)?;
    scheduler()?;
    kthread::unpark(&t);
    Ok(0)
}

fn cmd_stop(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let (t, deadline) = target_and_deadline(args)?;
    let info = t.info();
    if info.state == State::Exited {
        // Collect it. If an earlier `stop` timed out, this one completes that stop; otherwise
        // it ended by itself and stopping it is an error (that shows the result).
        let requested = STOP_PENDING.lock().contains_key(&t.tid());
        kthread::reap(&t);
        forget(t.tid());
        let result = info.result.unwrap_or(0);
        if requested {
            writeln!(ctx, "{}: result {result}", t.name());
            return Ok(0);
        }
        return Err(CmdError::runtime(format!(
            "{} has already exited (result {result})",
            t.name()
        )));
    }
    match kthread::stop_until(&t, Some(deadline)) {
        Ok(result) => {
            forget(t.tid());
            writeln!(ctx, "{}: result {result}", t.name());
            Ok(0)
        }
        Err(Error::TimedOut) => {
            STOP_PENDING.lock().insert(t.tid(), ());
            Err(CmdError::runtime("timeout"))
        }
        Err(e) => Err(CmdError::runtime(format!("{e}"))),
    }
}

/// `wait`: `wait work ...` is [`wait_work`], anything else [`wait_thread`].
fn cmd_wait(_ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let words = args.raw();
    if is_wait_work(words) {
        return wait_work(words);
    }
    let mut a = Args::new("wait <t> <state> [--timeout D]", words);
    wait_thread(&mut a)
}

/// `wait <t> <state> [--timeout D]`.
fn wait_thread(args: &mut Args<'_>) -> Result<u8, CmdError> {
    let Duration(timeout) = args
        .option("--timeout")?
        .unwrap_or(Duration(DEFAULT_TIMEOUT_NS));
    let key = args.word("<t>")?;
    let WaitState(want) = args.next("<state>")?;
    args.finish()?;
    let t = lookup(key)?;
    let p = scheduler()?;
    let deadline = deadline_in(p, timeout);
    loop {
        let info = t.info();
        let now = state_name(&info);
        if now == want {
            return Ok(0);
        }
        if info.state == State::Exited {
            return Err(CmdError::runtime(format!(
                "{} has exited (result {}), it will never be {want}",
                t.name(),
                info.result.unwrap_or(0)
            )));
        }
        if p.now() >= deadline {
            return Err(CmdError::runtime(format!(
                "timeout: {} is {now}, not {want}, after {}",
                t.name(),
                show_duration(timeout)
            )));
        }
        sched::sleep_ns(POLL_NS);
    }
}

fn cmd_bind(_ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let key = args.word("<t>")?;
    let cpu: usize = args.next("<cpu>")?;
    args.finish()?;
    let t = lookup(key)?;
    scheduler()?;
    kthread::bind(&t, cpu).map_err(|e| match e {
        Error::Invalid => bad_cpu(cpu, e),
        Error::Exited => CmdError::runtime(format!("{} has exited ({})", t.name(), e.name())),
        e => CmdError::runtime(format!("{e}")),
    })?;
    Ok(0)
}

fn cmd_wake(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let key = args.word("<t>")?;
    args.finish()?;
    let t = lookup(key)?;
    scheduler()?;
    if !kthread::wake_up_process(&t) {
        let info = t.info();
        writeln!(
            ctx,
            "{} is {}: nothing to wake",
            t.name(),
            state_name(&info)
        );
    }
    Ok(0)
}

fn cmd_prio(_ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let key = args.word("<t>")?;
    let Prio(prio) = args.next("<prio>")?;
    args.finish()?;
    let t = lookup(key)?;
    scheduler()?;
    kthread::set_priority(&t, prio).map_err(|e| match e {
        Error::Exited => CmdError::runtime(format!("{} has exited ({})", t.name(), e.name())),
        e => CmdError::runtime(format!("{e}")),
    })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_for_ps() {
        assert_eq!(show_size(0), "0B");
        assert_eq!(show_size(1023), "1023B");
        assert_eq!(show_size(16384), "16K");
        assert_eq!(show_size(1536), "1.5K");
        assert_eq!(show_size(2 << 20), "2M");
    }

    #[test]
    fn argument_types() {
        assert_eq!(i32::from_arg("-4"), Some(-4));
        assert_eq!(i32::from_arg("2147483647"), Some(i32::MAX));
        assert_eq!(i32::from_arg("-2147483648"), Some(i32::MIN));
        assert_eq!(i32::from_arg("2147483648"), None);
        assert_eq!(i32::from_arg("-2147483649"), None);
        assert_eq!(i32::from_arg("--1"), None);
        assert_eq!(i32::from_arg("-"), None);
        assert_eq!(Prio::from_arg("31"), Some(Prio(31)));
        assert_eq!(Prio::from_arg("32"), None);
        assert_eq!(Kind::from_arg("counter"), Some(Kind::Counter));
        assert_eq!(Kind::from_arg("Counter"), None);
        for s in STATES {
            assert_eq!(WaitState::from_arg(s), Some(WaitState(s)));
        }
        assert_eq!(WaitState::from_arg("zombie"), None);
    }
}
