//! `stress`: many deferred works queued concurrently from every CPU, each checked to run exactly
//! once.
//!
//! `stress irqwork <n>`, `stress wq <n>` and `stress kworker <n>` start one kthread per CPU used
//! (`stress/<cpu>`, bound with [`Options::cpu`]). The n works are split into contiguous shares,
//! one per thread, and work `i` is aimed at CPU `cpus[i % N]`, so every thread queues to every
//! CPU and every CPU runs `n / N` of them:
//!
//! - `irqwork`: to the queuer's own CPU alternately with `irq_work::queue` (the local path: SGI to
//!   self) and `irq_work::queue_on(self)`; to another CPU with `irq_work::queue_on`.
//! - `wq`: on the default `events` workqueue (or, with `--fresh`, on a new per-CPU workqueue
//!   `stresswq`, destroyed afterwards); to the own CPU alternately with plain `queue` and
//!   `queue_on(self)`, to another with `queue_on`.
//! - `kworker`: one kthread worker per CPU used (`stresskw/<cpu>`, bound), destroyed afterwards.
//!
//! Every work counts its own runs, and each run is counted per CPU; a run on another CPU than the
//! one aimed at is a failure too (queue_on, queue_on and bound workers all promise the CPU).
//! The shell waits until every work has run, polling the counters (never `flush` or
//! `irq_work::sync`, which have no time limit), up to `--timeout` (default 10 s), then prints
//!
//! `stress irqwork: 10000 queued, 10000 ran once, 0 twice or more, 0 never (cpu0 2500 cpu1 2500
//! cpu2 2500 cpu3 2500) in 123 ms`
//!
//! and returns 0 only if all n were queued (no queue call refused) and each ran exactly once on
//! its CPU; otherwise the line is followed by one `error: stress: ...` line and status 1.
//!
//! # irq_works: one slot per work, or a pool of slots reused
//!
//! `rtos::work::irq_work` has a fixed table of [`rtos::config::IRQ_WORK_SLOTS`] slots (16,384,
//! raised from 256 for this command: ~70 bytes of static tables each, ~1.1 MiB), shared with the
//! named works of `irqwork`. `stress irqwork` leaves [`IRQ_RESERVED`] of them to the others and
//! takes one slot per work when it can, so that 10,000 irq_works really are 10,000 distinct works
//! queued without any queuer waiting for another CPU. When n is larger than that (or `--slots S`
//! caps the slots per queuer thread, or the table is fuller), each thread reuses its own slots: the
//! n logical works are then n *queue events*. Before each queue the thread takes a free slot
//! (sleeping on a wait queue that every callback wakes, until `--timeout`), writes the logical
//! work's number into the slot's `current` cell and queues it; the callback counts a run for that
//! number, then marks the slot free. A slot is only requeued once its callback has run, so a queue
//! call that returns "already pending" is a kernel bug, counted as refused. Not even one slot per
//! thread free is ENOMEM. The slots are freed at the end (one still busy after the timeout stays
//! allocated).
//!
//! Why not always reuse a small pool: each reuse waits for a round trip to another CPU, and
//! under QEMU on a busy host a vCPU thread can wait tens of milliseconds to be scheduled, so
//! 10,000 events through 128 slots took 5 s to over 10 s, against ~0.3 s without reuse.
//!
//! # Memory
//!
//! n is capped at [`MAX_N`]. The shell's own arrays are allocated with `try_reserve`, and before
//! creating n work items (`Work::new` allocates infallibly) the heap is probed for room for them
//! with a fallible reservation, so a heap too small gives `error: ... (ENOMEM)` instead of a
//! kernel panic. The works are not registered in `work list`'s registry.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write as _;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use rtos::kthread::{self, KThread, Options};
use rtos::port::Port;
use rtos::sched;
use rtos::time::Instant;
use rtos::wait::WaitQueue;
use rtos::wait::wait_event_dyn;
use rtos::work::irq_work::{self, IrqWork};
use rtos::work::kthread_worker::{self as kw, Worker};
use rtos::work::workqueue::{self as wqm, Work, WorkState, Workqueue};

use crate::args::{Args, CmdError, FromArg};
use crate::ctx::{Command, Ctx};
use crate::util;
use core::time::Duration;

/// Most works one `stress` run takes.
pub(crate) const MAX_N: usize = 100_000;
/// irq_work slots `stress irqwork` leaves to everything else.
pub(crate) const IRQ_RESERVED: usize = 256;
/// Default `--timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_nanos(10_000_000_000);
/// How often the shell looks at the counters.
const POLL: Duration = Duration::from_nanos(1_000_000);
/// How long the shell waits for a queuer thread to exit once it is told to.
const STOP: Duration = Duration::from_nanos(2_000_000_000);
/// How long the shell waits for the irq_work slots to read idle once every callback ran.
const SETTLE: Duration = Duration::from_nanos(100_000_000);
/// Heap bytes per work item, beyond `size_of::<Work>()`, for the allocation probe: the `Arc`
/// header, the boxed closure, the name, the shell's handle, and slack.
const WORK_EXTRA_BYTES: usize = 128;

/// What to stress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    IrqWork,
    Wq,
    Kworker,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::IrqWork => "irqwork",
            Kind::Wq => "wq",
            Kind::Kworker => "kworker",
        }
    }
}

impl FromArg for Kind {
    const WHAT: &'static str = "stress kind";
    const HINT: Option<&'static str> = Some("irqwork, wq or kworker");
    fn from_arg(s: &str) -> Option<Self> {
        [Kind::IrqWork, Kind::Wq, Kind::Kworker]
            .into_iter()
            .find(|k| k.name() == s)
    }
}

/// What the queuers, the works and the shell share.
struct Tally {
    /// The CPUs used, in order; work `i` is aimed at `cpus[i % cpus.len()]`.
    cpus: Vec<usize>,
    /// Runs of each logical work.
    runs: Vec<AtomicU32>,
    /// Runs per CPU (indexed by CPU number).
    per_cpu: [AtomicU64; rtos::config::MAX_CPUS],
    /// Runs on another CPU than the one aimed at.
    wrong_cpu: AtomicU64,
    /// Runs in all.
    total: AtomicU64,
    /// Queue calls that succeeded.
    queued: AtomicU64,
    /// Queue calls that returned "already pending" (or an error).
    refused: AtomicU64,
    /// Queuer threads that finished their share.
    done: AtomicUsize,
    /// Give up (timeout): the queuers stop queueing.
    abort: AtomicBool,
    /// Counter value at which everything gives up.
    deadline: Instant,
    /// irqwork: the logical work each pool slot runs for next.
    current: Vec<AtomicU32>,
    /// irqwork: the slot's callback has taken its logical work (it may be reused).
    free: Vec<AtomicBool>,
    /// irqwork: where queuers wait for a free slot; a callback wakes it when someone waits.
    slot_freed: WaitQueue,
    /// irqwork: queuers waiting (or about to) on `slot_freed`.
    waiting: AtomicUsize,
}

impl Tally {
    fn target(&self, i: usize) -> usize {
        self.cpus[i % self.cpus.len()]
    }

    /// A run of logical work `i`, on the calling CPU.
    fn hit(&self, i: usize) {
        let cpu = rtos::port::port().cpu_id();
        if let Some(r) = self.runs.get(i) {
            r.fetch_add(1, Ordering::AcqRel);
        }
        if let Some(c) = self.per_cpu.get(cpu) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        if cpu != self.target(i) {
            self.wrong_cpu.fetch_add(1, Ordering::Relaxed);
        }
        self.total.fetch_add(1, Ordering::AcqRel);
    }

    /// Counts one queue call's result.
    fn queued(&self, ok: bool) {
        if ok {
            self.queued.fetch_add(1, Ordering::AcqRel);
        } else {
            self.refused.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Whether to stop now (timeout or told to); sets `abort` at the deadline.
    fn give_up(&self) -> bool {
        if self.abort.load(Ordering::Acquire) {
            return true;
        }
        if self.deadline.has_passed() {
            self.abort.store(true, Ordering::Release);
            return true;
        }
        false
    }

    /// The `[lo, hi)` share of queuer `j`.
    fn share(&self, j: usize) -> (usize, usize) {
        let (n, k) = (self.runs.len(), self.cpus.len());
        (n * j / k, n * (j + 1) / k)
    }
}

/// A vector of `n` zeroed counters, or ENOMEM.
fn counters(n: usize) -> Result<Vec<AtomicU32>, CmdError> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| enomem(n))?;
    v.extend((0..n).map(|_| AtomicU32::new(0)));
    Ok(v)
}

fn enomem(n: usize) -> CmdError {
    CmdError::runtime(format!("not enough memory for {n} works (ENOMEM)"))
}

/// Preemption point while spinning: lets pending interrupts in (the fake port needs it).
fn relax(p: &dyn Port) {
    let s = p.irq_save();
    p.irq_restore(s);
    core::hint::spin_loop();
}

// ---- the queuers ----

/// Queuer `j` for irq_works: its share, through its own slots `pool[j * per .. (j + 1) * per]`.
fn queue_irq(t: &Tally, pool: &[IrqWork], j: usize, per: usize) {
    let me = t.cpus[j];
    let mine = j * per..(j + 1) * per;
    let (lo, hi) = t.share(j);
    let mut next = 0;
    for i in lo..hi {
        // The first free slot from `next` on, else sleep until a callback frees one. Lock-free
        // while there is one: the wait queue's lock is only taken when waiting.
        let scan = || {
            (0..per)
                .map(|d| mine.start + (next + d) % per)
                .find(|&s| t.free[s].load(Ordering::SeqCst))
        };
        let mut found = scan();
        let mut ok = Ok(());
        if found.is_none() {
            t.waiting.fetch_add(1, Ordering::SeqCst);
            ok = wait_event_dyn(
                &t.slot_freed,
                &mut || {
                    found = scan();
                    found.is_some() || t.abort.load(Ordering::Acquire)
                },
                Some(t.deadline),
            );
            t.waiting.fetch_sub(1, Ordering::SeqCst);
        }
        let Some(s) = found.filter(|_| ok.is_ok() && !t.abort.load(Ordering::Acquire)) else {
            t.abort.store(true, Ordering::Release);
            break;
        };
        next = s - mine.start + 1;
        t.free[s].store(false, Ordering::SeqCst);
        t.current[s].store(i as u32, Ordering::Release);
        let w = pool[s];
        let target = t.target(i);
        let ok = if target != me {
            irq_work::queue_on(w, target).unwrap_or(false)
        } else if (i / t.cpus.len()).is_multiple_of(2) {
            irq_work::queue(w)
        } else {
            irq_work::queue_on(w, me).unwrap_or(false)
        };
        if !ok {
            // Refused: the callback will not free the slot, and the work will never run.
            t.free[s].store(true, Ordering::SeqCst);
        }
        t.queued(ok);
    }
    // Until the last callbacks have run.
    t.waiting.fetch_add(1, Ordering::SeqCst);
    let _ = wait_event_dyn(
        &t.slot_freed,
        &mut || mine.clone().all(|s| t.free[s].load(Ordering::SeqCst)),
        Some(t.deadline),
    );
    t.waiting.fetch_sub(1, Ordering::SeqCst);
}

/// Where the work items go.
enum Dest {
    Wq(Arc<Workqueue>),
    Workers(Vec<Arc<Worker>>),
}

/// Queuer `j` for work items.
fn queue_works(t: &Tally, works: &[Arc<Work>], dest: &Dest, j: usize) {
    let me = t.cpus[j];
    let (lo, hi) = t.share(j);
    for i in lo..hi {
        if t.give_up() {
            break;
        }
        let target = t.target(i);
        let w = &works[i];
        let ok = match dest {
            Dest::Wq(q) if target == me && (i / t.cpus.len()).is_multiple_of(2) => wqm::queue(q, w),
            Dest::Wq(q) => wqm::queue_on(q, target, w),
            Dest::Workers(ws) => kw::queue(&ws[i % t.cpus.len()], w),
        };
        t.queued(ok);
    }
}

// ---- the command ----

/// `stress`.
pub(crate) const COMMANDS: &[Command] = &[Command {
    name: "stress",
    usage: "stress <kind> <n> [opts]",
    help: "queue n works from every CPU at once, check each ran once",
    long_help: "stress irqwork|wq|kworker <n> [--cpus N] [--timeout D] [--fresh] [--slots S]:\n\
                creates n works (1..=100000, not in `work list`), starts a kthread\n\
                stress/<cpu> bound to each of the first N online CPUs (default all) that\n\
                queues its share, work i aimed at the i-th CPU round robin, and waits (at\n\
                most --timeout, default 10s) until all ran. Prints `stress <kind>: Q queued, A ran once,\n\
                B twice or more, C never (cpu0 R0 ...) in T ms`; status 0 only if all n\n\
                were queued and each ran exactly once, on its CPU.\n\
                \x20 irqwork  irq_work::queue (own CPU) and queue_on (others), one irq_work\n\
                \x20          per work while the slot table allows (--slots S: at most S per\n\
                \x20          CPU), else each CPU's slots are reused, one queue per work\n\
                \x20 wq       queue / queue_on on `events` (--fresh: on a new\n\
                \x20          workqueue stresswq, destroyed afterwards)\n\
                \x20 kworker  a kthread worker stresskw/<cpu> per CPU, destroyed afterwards",
    run: cmd_stress,
}];

fn cmd_stress(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let o = Opts::parse(args)?;
    let p = util::scheduler()?;
    let cpus = pick_cpus(o.cpus)?;
    let (tally, per, works) = setup(&o, cpus)?;
    let run = Run::new(&o, &tally, per, works)?;
    let per = run.pool.len() / tally.cpus.len();
    let queuers = match Queuers::create(&tally, &run, per) {
        Ok(q) => q,
        Err(e) => {
            run.teardown(true);
            return Err(e);
        }
    };
    let start = Instant::now();
    for t in &queuers.threads {
        kthread::wake_up_process(t);
    }
    let outcome = finish(p, &tally, run, queuers, start);
    report(ctx, &o, &tally, per * tally.cpus.len(), outcome)
}

// ---- parse and set up ----

/// The arguments of one run.
struct Opts {
    kind: Kind,
    /// How many works.
    n: usize,
    /// `--cpus`: how many of the online CPUs (default all).
    cpus: Option<usize>,
    /// `--timeout`, nanoseconds.
    timeout: Duration,
    /// `--fresh` (wq): a new workqueue.
    fresh: bool,
    /// `--slots` (irqwork): most irq_work slots per queuer.
    slots: Option<usize>,
}

impl Opts {
    /// The arguments, checked: usage errors only, nothing is touched yet.
    fn parse(args: &mut Args<'_>) -> Result<Self, CmdError> {
        let cpus: Option<usize> = args.option("--cpus")?;
        let timeout: Duration = args.option("--timeout")?.unwrap_or(DEFAULT_TIMEOUT);
        let fresh = args.flag("--fresh")?;
        let slots: Option<usize> = args.option("--slots")?;
        let kind: Kind = args.next("<kind>")?;
        let n: usize = args.next("<n>")?;
        args.finish()?;
        if n == 0 || n > MAX_N {
            return Err(CmdError::usage(format!("<n> must be 1..={MAX_N}, not {n}")));
        }
        if fresh && kind != Kind::Wq {
            return Err(CmdError::usage("--fresh is only for wq"));
        }
        if slots.is_some() && kind != Kind::IrqWork {
            return Err(CmdError::usage("--slots is only for irqwork"));
        }
        if slots == Some(0) {
            return Err(CmdError::usage("--slots must be at least 1"));
        }
        Ok(Self {
            kind,
            n,
            cpus,
            timeout,
            fresh,
            slots,
        })
    }
}

/// The first `k` online CPUs, none with a queuer thread left from an earlier run.
fn pick_cpus(k: Option<usize>) -> Result<Vec<usize>, CmdError> {
    let online = sched::online_mask();
    let all: Vec<usize> = (0..rtos::config::MAX_CPUS)
        .filter(|c| online & (1 << c) != 0)
        .collect();
    let cpus = match k {
        None => all,
        Some(0) => return Err(CmdError::usage("--cpus must be at least 1")),
        Some(k) if k > all.len() => {
            return Err(CmdError::usage(format!(
                "--cpus {k}: only {} CPUs are online",
                all.len()
            )));
        }
        Some(k) => all[..k].to_vec(),
    };
    for c in &cpus {
        if kthread::find(&format!("stress/{c}")).is_some() {
            return Err(CmdError::runtime(format!(
                "stress/{c} is still there from an earlier run (EEXIST)"
            )));
        }
    }
    Ok(cpus)
}

/// Work items (wq, kworker): [`setup`] reserves the room, [`Run::new`] makes them.
type Works = Vec<Arc<Work>>;

/// Memory first, so that a failure changes nothing: the run counters, `per` irq_work slots per
/// queuer (irqwork), room for the work items (wq, kworker). Then the tally, whose deadline
/// counts the setting up against the timeout too. Returns the tally, `per` and the (empty) work
/// items.
fn setup(o: &Opts, cpus: Vec<usize>) -> Result<(Arc<Tally>, usize, Works), CmdError> {
    let (n, k) = (o.n, cpus.len());
    let runs = counters(n)?;
    let per = if o.kind == Kind::IrqWork {
        let most = (rtos::config::IRQ_WORK_SLOTS - IRQ_RESERVED) / k;
        n.div_ceil(k)
            .min(most)
            .min(o.slots.unwrap_or(usize::MAX))
            .max(1)
    } else {
        0
    };
    let current = counters(per * k)?;
    let mut free = Vec::new();
    free.try_reserve_exact(per * k).map_err(|_| enomem(n))?;
    free.extend((0..per * k).map(|_| AtomicBool::new(true)));
    let mut works: Works = Vec::new();
    if o.kind != Kind::IrqWork {
        works.try_reserve_exact(n).map_err(|_| enomem(n))?;
        let mut probe: Vec<u8> = Vec::new();
        probe
            .try_reserve_exact(n * (core::mem::size_of::<Work>() + WORK_EXTRA_BYTES))
            .map_err(|_| enomem(n))?;
    }
    let tally = Arc::new(Tally {
        cpus,
        runs,
        per_cpu: [const { AtomicU64::new(0) }; rtos::config::MAX_CPUS],
        wrong_cpu: AtomicU64::new(0),
        total: AtomicU64::new(0),
        queued: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        done: AtomicUsize::new(0),
        abort: AtomicBool::new(false),
        deadline: Instant::after(o.timeout),
        current,
        free,
        slot_freed: WaitQueue::new(),
        waiting: AtomicUsize::new(0),
    });
    Ok((tally, per, works))
}

/// Everything one run set up, released by [`Run::teardown`].
struct Run {
    pool: Vec<IrqWork>,
    works: Vec<Arc<Work>>,
    dest: Option<Dest>,
    /// `--fresh`: the workqueue is ours to destroy.
    own_wq: bool,
}

impl Run {
    /// The works and where they go: up to `per` irq_work slots per queuer, or the `works` and a
    /// workqueue or a worker per CPU.
    fn new(o: &Opts, tally: &Arc<Tally>, per: usize, mut works: Works) -> Result<Self, CmdError> {
        let mut run = Run {
            pool: Vec::new(),
            works: Vec::new(),
            dest: None,
            own_wq: false,
        };
        if o.kind == Kind::IrqWork {
            run.pool = irq_pool(tally, per, o.n)?;
            return Ok(run);
        }
        for i in 0..o.n {
            let t = tally.clone();
            works.push(Work::new("stress", move |_| t.hit(i)));
        }
        run.works = works;
        run.dest = Some(if o.kind == Kind::Kworker {
            let mut ws = Vec::new();
            for &c in &tally.cpus {
                match kw::create_on_cpu(&format!("stresskw/{c}"), c) {
                    Ok(w) => ws.push(w),
                    Err(e) => {
                        run.dest = Some(Dest::Workers(ws));
                        run.teardown(true);
                        return Err(CmdError::runtime(format!(
                            "cannot create stresskw/{c}: {e} ({})",
                            e.name()
                        )));
                    }
                }
            }
            Dest::Workers(ws)
        } else if o.fresh {
            let q = wqm::create("stresswq").map_err(|e| {
                CmdError::runtime(format!("cannot create stresswq: {e} ({})", e.name()))
            })?;
            run.own_wq = true;
            Dest::Wq(q)
        } else {
            Dest::Wq(wqm::events().map_err(|e| {
                CmdError::runtime(format!("cannot create events: {e} ({})", e.name()))
            })?)
        });
        Ok(run)
    }

    /// Frees what can be freed without waiting forever: idle irq_work slots, and our queue or
    /// workers if every work is idle (their destruction flushes, with no time limit). Returns a
    /// note on what had to be left behind.
    fn teardown(self, all_idle: bool) -> Option<String> {
        let mut stuck = 0;
        for w in self.pool {
            if w.free().is_err() {
                stuck += 1;
            }
        }
        let mut note = None;
        if stuck > 0 {
            note = Some(format!("{stuck} irq_work slots still busy, left allocated"));
        }
        match self.dest {
            Some(Dest::Wq(q)) if self.own_wq => {
                if all_idle {
                    wqm::destroy(q);
                } else {
                    note = Some(format!("works still queued: {} left running", q.name()));
                }
            }
            Some(Dest::Workers(ws)) => {
                if all_idle {
                    for w in ws {
                        let _ = kw::destroy(w);
                    }
                } else {
                    note = Some(String::from(
                        "works still queued: the stresskw workers left running",
                    ));
                }
            }
            _ => {}
        }
        drop(self.works);
        note
    }
}

/// Up to `per` irq_work slots per queuer, as many as the table gives in even shares (what does
/// not divide goes back); ENOMEM if not even one each.
fn irq_pool(tally: &Arc<Tally>, per: usize, n: usize) -> Result<Vec<IrqWork>, CmdError> {
    let k = tally.cpus.len();
    let mut pool = Vec::new();
    pool.try_reserve_exact(per * k).map_err(|_| enomem(n))?;
    for s in 0..per * k {
        let t = tally.clone();
        let f: irq_work::Func = Arc::new(move |_: &IrqWork| {
            t.hit(t.current[s].load(Ordering::Acquire) as usize);
            // SeqCst pairs with the queuer's `waiting` increment before it looks at
            // `free`: either it sees this slot free or this sees it waiting.
            t.free[s].store(true, Ordering::SeqCst);
            if t.waiting.load(Ordering::SeqCst) > 0 {
                t.slot_freed.wake_all();
            }
        });
        match IrqWork::new("stress", false, f) {
            Ok(w) => pool.push(w),
            Err(_) => break,
        }
    }
    let per_now = pool.len() / k;
    for w in pool.drain(per_now * k..) {
        let _ = w.free();
    }
    if per_now == 0 {
        return Err(CmdError::runtime(format!(
            "no irq_work slot left for {k} queuers (ENOMEM)"
        )));
    }
    Ok(pool)
}

// ---- run ----

/// The queuer threads, one per CPU used.
struct Queuers {
    threads: Vec<KThread>,
    /// The threads' view of the slots and the works; the shell drops its reference once they are
    /// stopped.
    shared: Arc<(Vec<IrqWork>, Vec<Arc<Work>>)>,
}

impl Queuers {
    /// Creates the queuer `stress/<cpu>` bound to each CPU, not woken (so that they start
    /// together). If one cannot be created, the ones made are stopped: never woken, they never
    /// run their body.
    fn create(tally: &Arc<Tally>, run: &Run, per: usize) -> Result<Self, CmdError> {
        let shared = Arc::new((run.pool.clone(), run.works.clone()));
        let mut threads: Vec<KThread> = Vec::new();
        for (j, &c) in tally.cpus.iter().enumerate() {
            let (t, sh) = (tally.clone(), shared.clone());
            let dest = match &run.dest {
                Some(Dest::Wq(q)) => Some(Dest::Wq(q.clone())),
                Some(Dest::Workers(ws)) => Some(Dest::Workers(ws.clone())),
                None => None,
            };
            let body = move || {
                match &dest {
                    None => queue_irq(&t, &sh.0, j, per),
                    Some(d) => queue_works(&t, &sh.1, d, j),
                }
                t.done.fetch_add(1, Ordering::AcqRel);
                0
            };
            let opts = Options {
                prio: None,
                cpu: Some(c),
            };
            match kthread::create_with(&format!("stress/{c}"), opts, body) {
                Ok(t) => threads.push(t),
                Err(e) => {
                    for t in &threads {
                        kthread::stop(t);
                    }
                    return Err(CmdError::runtime(format!(
                        "cannot create stress/{c}: {e} ({})",
                        e.name()
                    )));
                }
            }
        }
        Ok(Self { threads, shared })
    }
}

/// How a run ended, for [`report`].
struct Outcome {
    /// From waking the queuers until the last work ran (or the deadline).
    ms: u64,
    /// Queuer threads that did not stop.
    unstopped: usize,
    /// What [`Run::teardown`] had to leave behind.
    note: Option<String>,
}

/// Waits until every queuer is done and every queued work has run (or the deadline), then stops
/// the queuers and frees what can be freed. `start`: when the queuers were woken.
fn finish(p: &dyn Port, tally: &Tally, run: Run, queuers: Queuers, start: Instant) -> Outcome {
    let (k, deadline) = (tally.cpus.len(), tally.deadline);
    let finished = |t: &Tally| {
        t.done.load(Ordering::Acquire) == k
            && t.total.load(Ordering::Acquire) >= t.queued.load(Ordering::Acquire)
    };
    while !finished(tally) {
        if deadline.has_passed() {
            tally.abort.store(true, Ordering::Release);
            break;
        }
        sched::sleep(POLL);
    }
    let end = Instant::now();
    // Work items: until their functions have returned (the count comes first).
    let idle = |w: &Arc<Work>| w.state() == WorkState::Idle;
    while !run.works.iter().all(idle) && !deadline.has_passed() {
        sched::sleep(POLL);
    }
    tally.abort.store(true, Ordering::Release);
    let Queuers { threads, shared } = queuers;
    let mut unstopped = 0;
    for t in &threads {
        let d = Instant::after(STOP);
        if kthread::stop_until(t, Some(d)).is_err() {
            unstopped += 1;
        }
    }
    drop(shared);
    // A callback marks its slot free just before it returns; the kernel clears BUSY just after.
    let settle = Instant::after(SETTLE);
    while run.pool.iter().any(|w| w.flags() & irq_work::CLAIMED != 0) && !settle.has_passed() {
        relax(p);
    }
    let pool_idle = run.pool.iter().all(|w| w.flags() & irq_work::CLAIMED == 0);
    let all_idle = run.works.iter().all(idle) && pool_idle;
    let note = run.teardown(all_idle);
    Outcome {
        ms: util::nanos(end.saturating_duration_since(start)) / 1_000_000,
        unstopped,
        note,
    }
}

// ---- the verdict ----

/// How often the works ran.
struct Counts {
    once: usize,
    more: usize,
    never: usize,
    /// The first work that did not run exactly once, and how often it ran.
    first_bad: Option<(usize, u32)>,
}

impl Counts {
    fn of(tally: &Tally) -> Self {
        let (mut once, mut more, mut never) = (0usize, 0usize, 0usize);
        let mut first_bad: Option<(usize, u32)> = None;
        for (i, r) in tally.runs.iter().enumerate() {
            match r.load(Ordering::Acquire) {
                1 => once += 1,
                0 => {
                    never += 1;
                    first_bad.get_or_insert((i, 0));
                }
                c => {
                    more += 1;
                    first_bad.get_or_insert((i, c));
                }
            }
        }
        Self {
            once,
            more,
            never,
            first_bad,
        }
    }
}

/// Prints the summary line (`slots`: the irq_work slots used); status 0 if every work was queued
/// and ran exactly once on its CPU, else an error saying what went wrong.
fn report(
    ctx: &mut Ctx<'_>,
    o: &Opts,
    tally: &Tally,
    slots: usize,
    outcome: Outcome,
) -> Result<u8, CmdError> {
    let Counts {
        once,
        more,
        never,
        first_bad,
    } = Counts::of(tally);
    let queued = tally.queued.load(Ordering::Acquire);
    let refused = tally.refused.load(Ordering::Acquire);
    let wrong = tally.wrong_cpu.load(Ordering::Acquire);
    let mut line = format!(
        "stress {}: {queued} queued, {once} ran once, {more} twice or more, {never} never (",
        o.kind.name()
    );
    for (x, &c) in tally.cpus.iter().enumerate() {
        let _ = write!(
            line,
            "{}cpu{c} {}",
            if x > 0 { " " } else { "" },
            tally.per_cpu[c].load(Ordering::Acquire)
        );
    }
    let _ = write!(line, ") in {} ms", outcome.ms);
    if o.kind == Kind::IrqWork {
        let _ = write!(line, " ({slots} irq_work slots)");
    }
    writeln!(ctx, "{line}");

    let n = o.n;
    let mut why: Vec<String> = Vec::new();
    if queued < n as u64 {
        why.push(format!(
            "only {queued} of {n} queued ({refused} refused as already pending)"
        ));
    }
    if let Some((i, c)) = first_bad {
        why.push(format!(
            "{more} ran twice or more and {never} never (first: work {i} ran {c} times, \
             aimed at cpu{})",
            tally.target(i)
        ));
    }
    if wrong > 0 {
        why.push(format!(
            "{wrong} runs on another CPU than the one queued on"
        ));
    }
    if tally.deadline.has_passed() && !why.is_empty() {
        why.push(format!(
            "timeout after {} ms",
            util::nanos(o.timeout) / 1_000_000
        ));
    }
    if outcome.unstopped > 0 {
        why.push(format!("{} queuer threads did not stop", outcome.unstopped));
    }
    if why.is_empty() {
        if let Some(note) = outcome.note {
            writeln!(ctx, "note: {note}");
        }
        return Ok(0);
    }
    if let Some(note) = outcome.note {
        why.push(note);
    }
    Err(CmdError::runtime(why.join("; ")))
}
