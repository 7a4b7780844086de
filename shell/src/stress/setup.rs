//! The first phases of a `stress` run: the arguments, the CPUs, the memory, the works and the
//! queuer threads.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use rtos::kthread::{self, KThread, Options};
use rtos::sched;
use rtos::time::Instant;
use rtos::wait::WaitQueue;
use rtos::work::irq_work::{self, IrqWork};
use rtos::work::kthread_worker::{self as kw};
use rtos::work::workqueue::{self as wqm, Work};

use crate::args::{Args, CmdError};
use core::time::Duration;

use super::shared::{
    DEFAULT_TIMEOUT, Dest, IRQ_RESERVED, Kind, MAX_N, Tally, WORK_EXTRA_BYTES, counters, enomem,
    queue_irq, queue_works,
};

/// The arguments of one run.
pub(super) struct Opts {
    pub(super) kind: Kind,
    /// How many works.
    pub(super) n: usize,
    /// `--cpus`: how many of the online CPUs (default all).
    pub(super) cpus: Option<usize>,
    /// `--timeout`, nanoseconds.
    pub(super) timeout: Duration,
    /// `--fresh` (wq): a new workqueue.
    pub(super) fresh: bool,
    /// `--slots` (irqwork): most irq_work slots per queuer.
    pub(super) slots: Option<usize>,
    /// `--offline C`: take CPU C offline (and back online) while the works are queued and run.
    pub(super) offline: Option<usize>,
}

impl Opts {
    /// The arguments, checked: usage errors only, nothing is touched yet.
    pub(super) fn parse(args: &mut Args<'_>) -> Result<Self, CmdError> {
        let cpus: Option<usize> = args.option("--cpus")?;
        let timeout: Duration = args.option("--timeout")?.unwrap_or(DEFAULT_TIMEOUT);
        let fresh = args.flag("--fresh")?;
        let slots: Option<usize> = args.option("--slots")?;
        let offline: Option<usize> = args.option("--offline")?;
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
            offline,
        })
    }
}

/// The first `k` online CPUs, none with a queuer thread left from an earlier run.
pub(super) fn pick_cpus(k: Option<usize>) -> Result<Vec<usize>, CmdError> {
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
pub(super) type Works = Vec<Arc<Work>>;

/// Memory first, so that a failure changes nothing: the run counters, `per` irq_work slots per
/// queuer (irqwork), room for the work items (wq, kworker). Then the tally, whose deadline
/// counts the setting up against the timeout too. Returns the tally, `per` and the (empty) work
/// items.
pub(super) fn setup(o: &Opts, cpus: Vec<usize>) -> Result<(Arc<Tally>, usize, Works), CmdError> {
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
    // (An allocation site for `inject alloc-fail`, as the kernel's are: the tables below.)
    rtos::fault::check_alloc().map_err(|_| enomem(n))?;
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
        offline: o.offline,
        moved: AtomicU64::new(0),
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
pub(super) struct Run {
    pub(super) pool: Vec<IrqWork>,
    pub(super) works: Vec<Arc<Work>>,
    pub(super) dest: Option<Dest>,
    /// `--fresh`: the workqueue is ours to destroy.
    pub(super) own_wq: bool,
}

impl Run {
    /// The works and where they go: up to `per` irq_work slots per queuer, or the `works` and a
    /// workqueue or a worker per CPU.
    pub(super) fn new(
        o: &Opts,
        tally: &Arc<Tally>,
        per: usize,
        mut works: Works,
    ) -> Result<Self, CmdError> {
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
                            "cannot create stresskw/{c}: {e}"
                        )));
                    }
                }
            }
            Dest::Workers(ws)
        } else if o.fresh {
            let q = wqm::create("stresswq")
                .map_err(|e| CmdError::runtime(format!("cannot create stresswq: {e}")))?;
            run.own_wq = true;
            Dest::Wq(q)
        } else {
            Dest::Wq(
                wqm::events()
                    .map_err(|e| CmdError::runtime(format!("cannot create events: {e}")))?,
            )
        });
        Ok(run)
    }

    /// Frees what can be freed without waiting forever: irq_work slots (waiting for a callback
    /// still returning only if every work ran), and our queue or workers if every work is idle (their destruction flushes, with no time limit). Returns a
    /// note on what had to be left behind.
    pub(super) fn teardown(self, all_idle: bool) -> Option<String> {
        let mut stuck = 0;
        for w in self.pool {
            // When every work ran, a slot still BUSY is a callback that counted its run and has
            // not returned yet: wait for it rather than leave the slot taken for good. Otherwise
            // a work may never run: leave it, and say so.
            let freed =
                w.free().is_ok() || (all_idle && irq_work::sync(w).is_ok() && w.free().is_ok());
            if !freed {
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
                    // (Every work is idle: nothing to cancel.)
                    let _ = wqm::destroy(q);
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
pub(super) fn irq_pool(tally: &Arc<Tally>, per: usize, n: usize) -> Result<Vec<IrqWork>, CmdError> {
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
pub(super) struct Queuers {
    pub(super) threads: Vec<KThread>,
    /// The threads' view of the slots and the works; the shell drops its reference once they are
    /// stopped.
    pub(super) shared: Arc<(Vec<IrqWork>, Vec<Arc<Work>>)>,
}

impl Queuers {
    /// Creates the queuer `stress/<cpu>` bound to each CPU, not woken (so that they start
    /// together). If one cannot be created, the ones made are stopped: never woken, they never
    /// run their body.
    pub(super) fn create(tally: &Arc<Tally>, run: &Run, per: usize) -> Result<Self, CmdError> {
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
                    return Err(CmdError::runtime(format!("cannot create stress/{c}: {e}")));
                }
            }
        }
        Ok(Self { threads, shared })
    }
}
