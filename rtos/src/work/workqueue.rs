//! Workqueues with the contracts of Linux's classic (per-CPU thread) `kernel/workqueue.c`. The
//! work item they run is [`super::item::Work`], shared with [`super::kthread_worker`].
//!
//! Names are module-qualified and short (`workqueue::queue`); each carries its Linux name as a
//! rustdoc alias (`queue_work`).
//!
//! # Contracts
//! - A workqueue has a worker kthread per online CPU, each bound to its CPU with
//!   `create_on_cpu` semantics ([`create`], `create_workqueue`), or exactly one unbound
//!   worker ([`create_singlethread`]). Each per-CPU queue keeps an insert and a remove
//!   sequence number.
//! - [`queue`] (`queue_work`) "returns false if the work is already pending, else queues it on the
//!   current CPU's worker and wakes that worker"; [`queue_on`] picks the CPU. A CPU without a
//!   worker of this queue (it came online later, or the queue is single-threaded) uses the queue's
//!   first worker.
//! - [`events`] is the global default queue `events`, created on first use.
//! - [`queue_delayed`] / [`queue_delayed_on`] "arm a timer and on expiry queue the
//!   work; return false if it is already pending or delayed". The timer is armed on the calling
//!   CPU (timers are per-CPU); on expiry the work goes to the worker of the CPU the timer fired
//!   on (the calling CPU), or to `cpu`'s worker for the `_on` variant.
//! - [`flush`] (`flush_workqueue`) "for each CPU, waits until everything queued before the call has
//!   run": it remembers each queue's insert sequence at call time and waits until the remove
//!   sequence reaches it, so works queued meanwhile do not delay it. Called from one of the queue's
//!   own workers it runs that CPU's queue itself instead of deadlocking.
//! - [`destroy`] (`destroy_workqueue`) flushes, then stops the workers (each runs what is still
//!   queued before it exits) and frees the queue. Queueing on a destroyed queue returns false; a
//!   delayed work whose timer fires after the destruction is dropped (never runs) and goes back to
//!   idle, so callers cancel their delayed works first, as in Linux.
//!
//! # Locking
//! One [`IrqSpinLock`] per per-CPU queue guards its list; work functions run with no lock held.
//! Workers sleep on a [`WaitQueue`] whose condition reads the list, and flushers on another whose
//! condition reads the (atomic) sequence numbers. Timer callbacks (interrupt context) only
//! queue: they take the list lock and wake the worker, never sleep.
//!
//! # Example
//! ```
//! use rtos::time::Duration;
//! use rtos::work::workqueue::{self, Work, WorkState};
//! rtos::fake::run(2, || {
//!     let wq = workqueue::create("demo").unwrap(); // a worker bound to each CPU
//!     let work = Work::new("hello", |_| {});
//!     assert!(workqueue::queue(&wq, &work));
//!     workqueue::flush(&wq); // everything queued before has run
//!     assert_eq!(work.runs(), 1);
//!     assert!(workqueue::queue_delayed(&wq, &work, Duration::from_millis(5)));
//!     assert_eq!(work.state(), WorkState::Delayed);
//!     assert!(!workqueue::queue(&wq, &work), "already pending");
//!     while work.runs() < 2 {
//!         rtos::sched::sleep(Duration::from_millis(1));
//!     }
//!     workqueue::destroy(wq);
//!     0
//! });
//! ```

use super::item::{DELAYED, IDLE, QUEUED};
pub use super::item::{Work, WorkState};
use crate::config::MAX_CPUS;
use crate::error::Error;
use crate::kthread::{self, KThread};
use crate::port;
use crate::sched;
use crate::sync::IrqSpinLock;
use crate::time::{Duration, Instant};
use crate::timer;
use crate::wait::{Mutex, WaitQueue};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

struct List {
    works: VecDeque<Arc<Work>>,
    /// Destroyed: nothing more is queued, the worker exits once the list is empty.
    dead: bool,
}

/// One worker of a workqueue (Linux's `cpu_workqueue_struct`).
struct CpuQueue {
    list: IrqSpinLock<List>,
    /// Works ever inserted.
    insert_seq: AtomicU64,
    /// Works ever finished.
    remove_seq: AtomicU64,
    more_work: WaitQueue,
    work_done: WaitQueue,
    thread: IrqSpinLock<Option<KThread>>,
}

impl CpuQueue {
    fn new() -> Self {
        Self {
            list: IrqSpinLock::new(List {
                works: VecDeque::new(),
                dead: false,
            }),
            insert_seq: AtomicU64::new(0),
            remove_seq: AtomicU64::new(0),
            more_work: WaitQueue::new(),
            work_done: WaitQueue::new(),
            thread: IrqSpinLock::new(None),
        }
    }

    /// Puts `work` on the list if its pending state is `from` (then it becomes queued).
    fn insert(&self, work: &Arc<Work>, from: u8) -> bool {
        {
            let mut l = self.list.lock();
            if l.dead {
                // A timer firing after the destruction: the delayed work is dropped.
                let _ = work.pending.compare_exchange(
                    DELAYED,
                    IDLE,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
                return false;
            }
            if work
                .pending
                .compare_exchange(from, QUEUED, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                return false;
            }
            work.mark_queued();
            l.works.push_back(work.clone());
            self.insert_seq.fetch_add(1, Ordering::AcqRel);
        }
        self.more_work.wake_all();
        true
    }

    /// Runs the list until it is empty (`run_workqueue`).
    fn run(&self) {
        loop {
            let work = {
                let mut l = self.list.lock();
                let Some(w) = l.works.pop_front() else { break };
                // Running before not pending: the state never reads idle in between, and the
                // function may queue its own work again.
                w.running.fetch_add(1, Ordering::AcqRel);
                w.pending.store(IDLE, Ordering::Release);
                w
            };
            work.execute();
            self.remove_seq.fetch_add(1, Ordering::AcqRel);
            self.work_done.wake_all();
        }
    }

    fn is_current(&self) -> bool {
        self.thread
            .lock()
            .as_ref()
            .is_some_and(|t| sched::is_current(t.thread()))
    }

    fn worker_loop(&self) {
        loop {
            let _ = self.more_work.wait_event(
                || {
                    let l = self.list.lock();
                    l.dead || !l.works.is_empty()
                },
                None,
            );
            self.run();
            let l = self.list.lock();
            if l.dead && l.works.is_empty() {
                break;
            }
        }
    }
}

/// A workqueue: one worker per online CPU, or a single one.
pub struct Workqueue {
    name: String,
    queues: Vec<Arc<CpuQueue>>,
    /// CPU -> index into `queues`.
    by_cpu: [Option<usize>; MAX_CPUS],
}

impl Workqueue {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The CPUs with a bound worker (empty for a single-threaded queue).
    pub fn cpus(&self) -> Vec<usize> {
        (0..MAX_CPUS)
            .filter(|&c| self.by_cpu[c].is_some())
            .collect()
    }

    /// Works queued and not yet started, over all its workers.
    pub fn queued(&self) -> usize {
        self.queues.iter().map(|q| q.list.lock().works.len()).sum()
    }

    fn queue_for(&self, cpu: usize) -> &Arc<CpuQueue> {
        let i = self.by_cpu.get(cpu).copied().flatten().unwrap_or(0);
        &self.queues[i]
    }
}

impl core::fmt::Debug for Workqueue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Workqueue")
            .field("name", &self.name)
            .field("workers", &self.queues.len())
            .finish()
    }
}

fn spawn(name: &str, single: bool) -> Result<Arc<Workqueue>, Error> {
    let cpus: Vec<Option<usize>> = if single {
        alloc::vec![None]
    } else {
        let online = sched::online_mask();
        (0..MAX_CPUS)
            .filter(|c| online & (1 << c) != 0)
            .map(Some)
            .collect()
    };
    let mut by_cpu = [None; MAX_CPUS];
    let mut queues = Vec::with_capacity(cpus.len());
    let mut threads = Vec::with_capacity(cpus.len());
    for (i, cpu) in cpus.iter().enumerate() {
        let q = Arc::new(CpuQueue::new());
        let body = {
            let q = q.clone();
            move || {
                q.worker_loop();
                0
            }
        };
        let made = match cpu {
            Some(c) => kthread::create_on_cpu(&format!("{name}/{c}"), *c, body),
            None => kthread::create(name, body),
        };
        match made {
            Ok(t) => {
                *q.thread.lock() = Some(t.clone());
                threads.push(t);
            }
            Err(e) => {
                // Never woken: stopping them ends them without running the loop.
                for t in &threads {
                    kthread::stop(t);
                }
                return Err(e);
            }
        }
        if let Some(c) = cpu {
            by_cpu[*c] = Some(i);
        }
        queues.push(q);
    }
    for t in &threads {
        kthread::wake_up_process(t);
    }
    Ok(Arc::new(Workqueue {
        name: String::from(name),
        queues,
        by_cpu,
    }))
}

/// Creates a workqueue with a worker bound to each online CPU, named `name/<cpu>`.
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

/// Queues `work` on the calling CPU's worker; false if it is already pending (or delayed), or
/// the queue was destroyed. As in Linux, the CPU is sampled once: a caller migrated right after
/// still queues on the CPU it sampled.
#[doc(alias = "queue_work")]
pub fn queue(wq: &Workqueue, work: &Arc<Work>) -> bool {
    queue_on(wq, this_cpu(), work)
}

/// Queues `work` on `cpu`'s worker (the first worker if `cpu` has none); false if it is already
/// pending (or delayed), or the queue was destroyed.
#[doc(alias = "queue_work_on")]
pub fn queue_on(wq: &Workqueue, cpu: usize, work: &Arc<Work>) -> bool {
    wq.queue_for(cpu).insert(work, IDLE)
}

fn delayed(wq: &Arc<Workqueue>, cpu: Option<usize>, work: &Arc<Work>, delay: Duration) -> bool {
    if delay.is_zero() {
        return queue_on(wq, cpu.unwrap_or_else(this_cpu), work);
    }
    if work
        .pending
        .compare_exchange(IDLE, DELAYED, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return false;
    }
    let deadline = Instant::after(delay);
    let (wq, w) = (wq.clone(), work.clone());
    let fire = move || {
        // Interrupt context: only queue.
        let target = cpu.unwrap_or_else(this_cpu);
        wq.queue_for(target).insert(&w, DELAYED);
    };
    timer::arm(deadline, timer::Action::Call(Box::new(fire)));
    true
}

/// After `delay` queues `work` on the worker of the CPU the timer fires on: the timer is armed
/// on the calling CPU, so that is the calling CPU. False if already pending or delayed.
#[doc(alias = "queue_delayed_work")]
pub fn queue_delayed(wq: &Arc<Workqueue>, work: &Arc<Work>, delay: Duration) -> bool {
    delayed(wq, None, work, delay)
}

/// After `delay` queues `work` on `cpu`'s worker (the timer itself is armed on the calling CPU).
/// False if already pending or delayed.
#[doc(alias = "queue_delayed_work_on")]
pub fn queue_delayed_on(
    wq: &Arc<Workqueue>,
    cpu: usize,
    work: &Arc<Work>,
    delay: Duration,
) -> bool {
    delayed(wq, Some(cpu), work, delay)
}

/// Waits until every work queued on `wq` before the call has run; works queued meanwhile do not
/// delay it. From one of `wq`'s own workers, that worker's queue is run in place instead.
#[doc(alias = "flush_workqueue")]
pub fn flush(wq: &Workqueue) {
    for q in &wq.queues {
        let needed = q.insert_seq.load(Ordering::Acquire);
        if q.remove_seq.load(Ordering::Acquire) >= needed {
            continue; // nothing of this worker's to wait for
        }
        if q.is_current() {
            q.run();
            continue;
        }
        let _ = q
            .work_done
            .wait_event(|| q.remove_seq.load(Ordering::Acquire) >= needed, None);
    }
}

/// Flushes `wq`, then stops its workers (each runs whatever is still queued first) and frees
/// it. Must not be called from one of its own works.
#[doc(alias = "destroy_workqueue")]
pub fn destroy(wq: Arc<Workqueue>) {
    flush(&wq);
    for q in &wq.queues {
        q.list.lock().dead = true;
        q.more_work.wake_all();
        let t = q.thread.lock().take();
        if let Some(t) = t {
            kthread::stop(&t);
        }
    }
}

/// Forgets the `events` queue (the fake port's fresh start).
#[cfg(all(not(target_os = "none"), not(loom)))]
pub(crate) fn reset_for_fake() {
    *EVENTS.lock() = None;
}
