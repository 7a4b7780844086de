//! Workqueues with the contracts of Linux's per-CPU `kernel/workqueue.c`. Each CPU's worker is a
//! pool ([`super::pool`], the engine shared with kthread workers); the work item they run is
//! [`super::item::Work`].
//!
//! Names are module-qualified and short (`workqueue::queue`); each carries its Linux name as a
//! rustdoc alias (`queue_work`).
//!
//! # Contracts
//! - A workqueue has a worker kthread per CPU (every CPU that has been online, including those
//!   offline now), each bound to its CPU with `create_on_cpu` semantics ([`create`],
//!   `create_workqueue`), or exactly one unbound worker ([`create_singlethread`]). While a CPU is
//!   offline ([`crate::hotplug`]) its worker is unbound and runs what is queued on it on an online
//!   CPU (Linux's disassociated pools); it is bound again when the CPU comes back.
//! - [`queue`] (`queue_work`) "returns false if the work is already pending, else queues it on the
//!   current CPU's worker and wakes that worker"; [`queue_on`] picks the CPU. A CPU without a
//!   worker of this queue (it came online later, or the queue is single-threaded) uses the queue's
//!   first worker. A work that is still running on one CPU's worker is queued there, whatever CPU
//!   was asked for, so it never runs on two CPUs at once (Linux's non-reentrancy).
//! - One owner per work: queueing, delaying or modifying a work that is busy on another workqueue
//!   or a kthread worker is refused with [`Error::Busy`] and changes nothing ([`Work::owner`]
//!   names where it is). Queueing on a destroyed queue is [`Error::Shutdown`].
//! - [`events`] is the global default queue `events`, created on first use.
//! - [`queue_delayed`] / [`queue_delayed_on`] "arm a timer and on expiry queue the work; return
//!   false if it is already pending or delayed". The timer is armed on the calling CPU (timers are
//!   per-CPU); on expiry the work goes to the worker of the CPU it was queued for: the calling CPU,
//!   or `cpu` for the `_on` variant.
//! - [`mod_delayed`] / [`mod_delayed_on`] (`mod_delayed_work(_on)`): "returns false if the work
//!   was idle and is now queued, true if it was pending and its timer was modified"; a work
//!   pending on another CPU is moved. A cancel in progress wins (true, nothing done).
//! - [`cancel_work_sync`] / [`cancel_delayed_work_sync`]: take the work off its timer or list,
//!   wait for a run in progress, block queueing meanwhile (a work queueing itself is stopped);
//!   return whether it was pending. [`cancel_delayed_work`]: the same without waiting (the
//!   callback may still be running when it returns).
//! - [`flush_work`]: waits for the work's last queueing to finish running; returns whether it
//!   waited. [`flush_delayed_work`]: a work waiting for its timer is queued at once, then flushed.
//! - [`flush`] (`flush_workqueue`) "for each CPU, waits until everything queued before the call
//!   has run"; works queued meanwhile do not delay it. Called from one of the queue's own workers
//!   it runs that CPU's queue itself instead of deadlocking.
//! - [`destroy`] (`destroy_workqueue`) closes the queue to new work (but a work queueing itself
//!   again, as `drain_workqueue` allows), runs whatever is queued on each CPU, then stops the
//!   workers. Works still waiting for their timer are cancelled (never stranded) and returned in
//!   `Err`, as are works still queueing themselves once the
//!   queue's works made [`DRAIN_LIMIT`](super::pool::DRAIN_LIMIT) queueings during the drain
//!   (cancelled).
//! - `kthread::stop` on one CPU's worker thread drains that worker the same way (printing what it
//!   cancelled); queueing on that CPU is then [`Error::Shutdown`] until the queue is destroyed.
//!
//! # Example
//! ```
//! use rtos::time::Duration;
//! use rtos::work::workqueue::{self, Work, WorkState};
//! rtos::fake::run(2, || {
//!     let wq = workqueue::create("demo").unwrap(); // a worker bound to each CPU
//!     let work = Work::new("hello", |_| {});
//!     assert_eq!(workqueue::queue(&wq, &work), Ok(true));
//!     workqueue::flush(&wq); // everything queued before has run
//!     assert_eq!(work.runs(), 1);
//!     assert_eq!(workqueue::queue_delayed(&wq, &work, Duration::from_secs(10)), Ok(true));
//!     assert_eq!(work.state(), WorkState::Delayed);
//!     assert_eq!(workqueue::queue(&wq, &work), Ok(false), "already pending");
//!     assert!(workqueue::flush_delayed_work(&work), "queued at once, then waited for");
//!     assert_eq!(work.runs(), 2);
//!     workqueue::destroy(wq).unwrap();
//!     0
//! });
//! ```

use super::account::WorkKind;
pub use super::item::{Work, WorkState};
pub use super::pool::Leftovers;
use super::pool::{self, Owner, Pool};
use crate::config::MAX_CPUS;
use crate::error::Error;
use crate::port;
use crate::sched;
use crate::sync::IrqSpinLock;
use crate::time::Duration;
use crate::wait::Mutex;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// A workqueue: one worker per CPU (see [`crate::hotplug`] for offline ones), or a single one.
pub struct Workqueue {
    owner: Arc<Owner>,
    pools: Vec<Arc<Pool>>,
    /// CPU -> index into `pools`.
    by_cpu: [Option<usize>; MAX_CPUS],
}

impl Workqueue {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.owner.name
    }

    /// The CPUs with a bound worker (empty for a single-threaded queue).
    pub fn cpus(&self) -> Vec<usize> {
        (0..MAX_CPUS)
            .filter(|&c| self.by_cpu[c].is_some())
            .collect()
    }

    /// Its workers' threads (one per CPU, or the single one), until it is destroyed.
    pub fn threads(&self) -> Vec<crate::kthread::KThread> {
        self.pools.iter().filter_map(|p| p.thread()).collect()
    }

    /// Works queued and not yet started, over all its workers.
    pub fn queued(&self) -> usize {
        self.pools.iter().map(|p| p.counts().0).sum()
    }

    /// Works waiting for their timer, over all its workers.
    pub fn delayed(&self) -> usize {
        self.pools.iter().map(|p| p.counts().1).sum()
    }

    /// Whether it is destroyed (or being destroyed), or one of its workers' threads was stopped.
    pub fn is_dead(&self) -> bool {
        self.pools.iter().any(|p| p.is_closed())
    }

    fn pool_for(&self, cpu: usize) -> &Arc<Pool> {
        let i = self.by_cpu.get(cpu).copied().flatten().unwrap_or(0);
        &self.pools[i]
    }
}

impl core::fmt::Debug for Workqueue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Workqueue")
            .field("name", &self.name())
            .field("workers", &self.pools.len())
            .finish()
    }
}

fn spawn(name: &str, single: bool) -> Result<Arc<Workqueue>, Error> {
    let cpus: Vec<Option<usize>> = if single {
        alloc::vec![None]
    } else {
        // A worker for every CPU that has been online: one that is offline now gets its worker
        // bound when it comes back (until then, that worker runs anywhere).
        let possible = sched::possible_mask();
        (0..MAX_CPUS)
            .filter(|c| possible & (1 << c) != 0)
            .map(Some)
            .collect()
    };
    let owner = Owner::new(WorkKind::Workqueue, name);
    let mut by_cpu = [None; MAX_CPUS];
    let mut pools = Vec::with_capacity(cpus.len());
    for (i, cpu) in cpus.iter().enumerate() {
        let thread = match cpu {
            Some(c) => format!("{name}/{c}"),
            None => String::from(name),
        };
        match Pool::spawn(&owner, &thread, *cpu) {
            Ok(p) => pools.push(p),
            Err(e) => {
                // Never woken: destroying them ends their threads without running the loop.
                for p in &pools {
                    p.destroy();
                }
                return Err(e);
            }
        }
        if let Some(c) = cpu {
            by_cpu[*c] = Some(i);
        }
    }
    for p in &pools {
        p.start();
    }
    Ok(Arc::new(Workqueue {
        owner,
        pools,
        by_cpu,
    }))
}

/// Creates a workqueue with a worker bound to each CPU, named `name/<cpu>`.
#[doc(alias = "create_workqueue")]
#[doc(alias = "alloc_workqueue")]
pub fn create(name: &str) -> Result<Arc<Workqueue>, Error> {
    spawn(name, false)
}

/// Creates a workqueue with a single (unbound) worker named `name`.
#[doc(alias = "create_singlethread_workqueue")]
pub fn create_singlethread(name: &str) -> Result<Arc<Workqueue>, Error> {
    spawn(name, true)
}

static EVENTS: IrqSpinLock<Option<Arc<Workqueue>>> = IrqSpinLock::new(None);
/// Held while `events` is created (which sleeps), so that it is created once. A `Mutex<()>` like
/// the console's: one copy of the sleeping lock's code for both.
static EVENTS_CREATE: Mutex<()> = Mutex::new(());

/// The global default workqueue `events`, created (per-CPU) on first use.
#[doc(alias = "system_wq")]
#[doc(alias = "schedule_work")]
pub fn events() -> Result<Arc<Workqueue>, Error> {
    if let Some(wq) = EVENTS.lock().clone() {
        return Ok(wq);
    }
    let _creating = EVENTS_CREATE.lock();
    if let Some(wq) = EVENTS.lock().clone() {
        return Ok(wq);
    }
    let wq = create("events")?;
    *EVENTS.lock() = Some(wq.clone());
    Ok(wq)
}

fn this_cpu() -> usize {
    port::port().cpu_id()
}

/// Queues `work` on the calling CPU's worker: `Ok(false)` if it is already pending (or delayed);
/// errors in the module documentation. As in Linux, the CPU is sampled once: a caller migrated
/// right after still queues on the CPU it sampled.
#[doc(alias = "queue_work")]
pub fn queue(wq: &Workqueue, work: &Arc<Work>) -> Result<bool, Error> {
    queue_on(wq, this_cpu(), work)
}

/// Queues `work` on `cpu`'s worker (the first worker if `cpu` has none); as [`queue`].
#[doc(alias = "queue_work_on")]
pub fn queue_on(wq: &Workqueue, cpu: usize, work: &Arc<Work>) -> Result<bool, Error> {
    wq.pool_for(cpu).queue(work, Duration::ZERO)
}

/// After `delay` queues `work` on the calling CPU's worker (the timer is armed on the calling
/// CPU). `Ok(false)` if already pending or delayed.
#[doc(alias = "queue_delayed_work")]
pub fn queue_delayed(wq: &Workqueue, work: &Arc<Work>, delay: Duration) -> Result<bool, Error> {
    queue_delayed_on(wq, this_cpu(), work, delay)
}

/// After `delay` queues `work` on `cpu`'s worker (the timer itself is armed on the calling CPU).
/// `Ok(false)` if already pending or delayed.
#[doc(alias = "queue_delayed_work_on")]
pub fn queue_delayed_on(
    wq: &Workqueue,
    cpu: usize,
    work: &Arc<Work>,
    delay: Duration,
) -> Result<bool, Error> {
    wq.pool_for(cpu).queue(work, delay)
}

/// [`mod_delayed_on`] the calling CPU.
#[doc(alias = "mod_delayed_work")]
pub fn mod_delayed(wq: &Workqueue, work: &Arc<Work>, delay: Duration) -> Result<bool, Error> {
    mod_delayed_on(wq, this_cpu(), work, delay)
}

/// Queues `work` on `cpu`'s worker after `delay` if it was idle (`Ok(false)`), else moves it
/// there with the new delay (`Ok(true)`); a cancel in progress wins (`Ok(true)`, nothing done).
#[doc(alias = "mod_delayed_work_on")]
pub fn mod_delayed_on(
    wq: &Workqueue,
    cpu: usize,
    work: &Arc<Work>,
    delay: Duration,
) -> Result<bool, Error> {
    wq.pool_for(cpu).mod_delayed(work, delay)
}

/// Takes `work` off its timer or list, waits for a run in progress with queueing blocked
/// meanwhile; returns whether it was pending.
pub fn cancel_work_sync(work: &Arc<Work>) -> bool {
    pool::cancel(work, true)
}

/// [`cancel_work_sync`] for a delayed work.
pub fn cancel_delayed_work_sync(work: &Arc<Work>) -> bool {
    pool::cancel(work, true)
}

/// Takes `work` off its timer or list without waiting: its callback may still be running when
/// this returns. Returns whether it was pending.
pub fn cancel_delayed_work(work: &Arc<Work>) -> bool {
    pool::cancel(work, false)
}

/// Waits until `work` has run if it is queued or running now; returns whether it waited.
pub fn flush_work(work: &Arc<Work>) -> bool {
    pool::flush_work(work)
}

/// Queues a work waiting for its timer at once, then [`flush_work`]; returns whether it waited.
pub fn flush_delayed_work(work: &Arc<Work>) -> bool {
    pool::flush_delayed_work(work)
}

/// Waits until every work queued on `wq` before the call has run; works queued meanwhile do not
/// delay it. From one of `wq`'s own workers, that worker's queue is run in place instead.
#[doc(alias = "flush_workqueue")]
pub fn flush(wq: &Workqueue) {
    for p in &wq.pools {
        p.flush();
    }
}

/// Destroys `wq`: see the module documentation. Must not be called from one of its own works.
/// `Err` lists the works it cancelled instead of running (each idle afterwards).
#[doc(alias = "destroy_workqueue")]
pub fn destroy(wq: Arc<Workqueue>) -> Result<(), Leftovers> {
    let mut left = Leftovers::default();
    // Every CPU's worker is closed before any is drained, so that a work may still chain onto
    // another CPU of this queue while the others drain.
    for p in &wq.pools {
        left.delayed.extend(p.close_begin());
    }
    loop {
        // Every pool drains each round (no short cut), until all were empty at once.
        let mut empty = true;
        for p in &wq.pools {
            empty &= p.drain_round();
        }
        let queued: u64 = wq.pools.iter().map(|p| p.queued_while_draining()).sum();
        if empty || queued >= pool::DRAIN_LIMIT {
            break;
        }
    }
    // Then no pool takes more works, and once none runs, none can queue more: what is left
    // (works still queueing themselves) is cancelled.
    for p in &wq.pools {
        p.freeze();
    }
    for p in &wq.pools {
        p.wait_idle();
    }
    for p in &wq.pools {
        let (chained, delayed) = p.close_end();
        left.chained.extend(chained);
        left.delayed.extend(delayed);
    }
    for p in &wq.pools {
        p.stop_thread();
    }
    if left.is_empty() { Ok(()) } else { Err(left) }
}

/// Forgets the `events` queue (the fake port's fresh start).
#[cfg(all(not(target_os = "none"), not(loom)))]
pub(crate) fn reset_for_fake() {
    *EVENTS.lock() = None;
    pool::reset_for_fake();
}
