//! Kthread workers with the contracts of Linux's `kthread_worker` API (`kernel/kthread.c`): one
//! kthread running the [`Work`] items queued on it, in order. A worker is one pool
//! ([`super::pool`], the engine it shares with workqueues).
//!
//! Names are module-qualified and short (`kthread_worker::queue`); each carries its Linux name
//! as a rustdoc alias (`kthread_queue_work`).
//!
//! # Contracts
//! - [`create`] / [`create_on_cpu`]: a worker kthread named `name`, unbound or bound to `cpu`
//!   (`kthread::create_on_cpu` semantics).
//! - [`queue`] (`kthread_queue_work`) "returns false if the work is pending or being cancelled",
//!   else queues it and wakes the worker.
//! - [`queue_delayed`] (`kthread_queue_delayed_work`) arms a timer (on the calling CPU, in
//!   interrupt context the callback only queues); "delay 0 queues at once". False under the same
//!   conditions.
//! - [`mod_delayed`] (`kthread_mod_delayed_work`) "queues if idle; otherwise re-arms with the new
//!   delay and returns true; a cancel in progress wins": it returns false when the work was idle
//!   (and is now queued), true when it was pending or delayed (and is now re-armed), and true
//!   without touching anything while a cancel is in progress.
//! - One worker per work (Linux's `kthread_insert_work_sanity_check` treats a work used with two
//!   workers as a bug): queueing, delaying or modifying a work that is busy on another worker or
//!   a workqueue is refused with [`Error::Busy`] and changes nothing; [`Work::owner`] names where
//!   it is. Queueing on a destroyed worker (or one whose thread was stopped) is
//!   [`Error::Shutdown`].
//! - [`flush_work`] (`kthread_flush_work`) "waits for that work if queued or running" (a work only
//!   waiting for its timer is neither: no wait); returns whether it waited.
//! - [`cancel_work_sync`] / [`cancel_delayed_work_sync`] "cancel the timer, remove from the list,
//!   wait if running, block re-queue meanwhile; return whether it was pending" (queued or
//!   delayed). A work queueing itself again is stopped by it.
//! - [`flush`] (`kthread_flush_worker`) waits until everything queued before the call has run.
//! - [`destroy`] (`kthread_destroy_worker`) closes the worker to new work (but a work queueing
//!   itself again), runs whatever is queued, then stops the thread. "Pending delayed works are an
//!   error the caller sees": their timers are cancelled, they go back to idle, and they are
//!   returned in `Err`, as are works still queueing themselves once the
//!   queue's works made [`DRAIN_LIMIT`](super::pool::DRAIN_LIMIT) queueings during the drain
//!   (cancelled).
//! - Stopping the worker's thread directly (`kthread::stop`) does the same from the thread
//!   (printing what it cancelled); the worker is dead afterwards.
//!
//! Waiting for oneself is impossible: the flush and cancel functions must not be called from a
//! work running on the same worker (as in Linux, they would wait for themselves).
//!
//! # Example
//! ```
//! use rtos::time::Duration;
//! use rtos::work::{kthread_worker, workqueue::Work};
//! rtos::fake::run(2, || {
//!     let w = kthread_worker::create("demo").unwrap();
//!     let work = Work::new("hello", |_| {});
//!     assert_eq!(kthread_worker::queue_delayed(&w, &work, Duration::from_secs(60)), Ok(true));
//!     assert!(kthread_worker::cancel_delayed_work_sync(&work), "it was pending");
//!     assert_eq!(kthread_worker::queue(&w, &work), Ok(true));
//!     // Waits until it ran (returns false if it had run already: nothing to wait for).
//!     kthread_worker::flush_work(&work);
//!     assert_eq!(work.runs(), 1);
//!     kthread_worker::destroy(w).unwrap(); // no delayed work left behind
//!     0
//! });
//! ```

use super::account::WorkKind;
use super::item::Work;
pub use super::pool::Leftovers;
use super::pool::{self, Owner, Pool};
use crate::error::Error;
use crate::kthread::KThread;
use crate::time::Duration;
use alloc::sync::Arc;

/// A kthread worker.
pub struct Worker {
    pool: Arc<Pool>,
}

impl core::fmt::Debug for Worker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Worker")
            .field("name", &self.name())
            .finish()
    }
}

impl Worker {
    /// Its name (also its thread's).
    pub fn name(&self) -> &str {
        &self.pool.owner.name
    }

    /// Its thread (none once destroyed).
    pub fn thread(&self) -> Option<KThread> {
        self.pool.thread()
    }

    /// Works queued and not yet started, and works waiting for their timer.
    pub fn counts(&self) -> (usize, usize) {
        self.pool.counts()
    }

    /// Whether it is destroyed (or being destroyed), or its thread was stopped.
    pub fn is_dead(&self) -> bool {
        self.pool.is_closed()
    }
}

fn spawn(name: &str, cpu: Option<usize>) -> Result<Arc<Worker>, Error> {
    if cpu.is_some_and(|c| {
        c >= crate::config::MAX_CPUS || crate::sched::online_mask() & (1 << c) == 0
    }) {
        return Err(Error::Invalid);
    }
    let pool = Pool::spawn(&Owner::new(WorkKind::KthreadWorker, name), name, cpu)?;
    pool.start();
    Ok(Arc::new(Worker { pool }))
}

/// Creates a worker kthread named `name`.
#[doc(alias = "kthread_create_worker")]
pub fn create(name: &str) -> Result<Arc<Worker>, Error> {
    spawn(name, None)
}

/// Creates a worker kthread named `name` bound to `cpu`.
#[doc(alias = "kthread_create_worker_on_cpu")]
pub fn create_on_cpu(name: &str, cpu: usize) -> Result<Arc<Worker>, Error> {
    spawn(name, Some(cpu))
}

/// Queues `work` on `w`: `Ok(false)` if it is pending (queued or delayed) or being cancelled;
/// [`Error::Busy`] if it belongs to another worker or a workqueue, [`Error::Shutdown`] if `w` is
/// destroyed.
#[doc(alias = "kthread_queue_work")]
pub fn queue(w: &Worker, work: &Arc<Work>) -> Result<bool, Error> {
    w.pool.queue(work, Duration::ZERO)
}

/// Queues `work` on `w` after `delay` (at once for zero); results as [`queue`].
#[doc(alias = "kthread_queue_delayed_work")]
pub fn queue_delayed(w: &Worker, work: &Arc<Work>, delay: Duration) -> Result<bool, Error> {
    w.pool.queue(work, delay)
}

/// Queues `work` after `delay` if idle (`Ok(false)`), else moves its deadline to `delay` from now
/// (`Ok(true)`; a queued work goes back to waiting for the timer, or is queued at once for
/// zero). While a cancel is in progress it does nothing and returns `Ok(true)`. Errors as
/// [`queue`].
#[doc(alias = "kthread_mod_delayed_work")]
pub fn mod_delayed(w: &Worker, work: &Arc<Work>, delay: Duration) -> Result<bool, Error> {
    w.pool.mod_delayed(work, delay)
}

/// Waits until `work` has run if it is queued or running now; returns whether it waited.
#[doc(alias = "kthread_flush_work")]
pub fn flush_work(work: &Arc<Work>) -> bool {
    pool::flush_work(work)
}

/// Cancels `work`: takes it off its list, waits if it is running, and blocks queueing it
/// meanwhile. Returns whether it was pending.
#[doc(alias = "kthread_cancel_work_sync")]
pub fn cancel_work_sync(work: &Arc<Work>) -> bool {
    pool::cancel(work, true)
}

/// Cancels a delayed `work`: cancels its timer, takes it off the list, waits if it is running,
/// and blocks queueing it meanwhile. Returns whether it was pending (delayed or queued).
#[doc(alias = "kthread_cancel_delayed_work_sync")]
pub fn cancel_delayed_work_sync(work: &Arc<Work>) -> bool {
    pool::cancel(work, true)
}

/// Waits until everything queued on `w` before the call has run (not works queued meanwhile,
/// nor delayed works still waiting for their timer).
#[doc(alias = "kthread_flush_worker")]
pub fn flush(w: &Worker) {
    w.pool.flush();
}

/// Destroys `w`: see the module documentation. `Err` lists the works it cancelled instead of
/// running (each idle afterwards).
#[doc(alias = "kthread_destroy_worker")]
pub fn destroy(w: Arc<Worker>) -> Result<(), Leftovers> {
    let left = w.pool.destroy();
    if left.is_empty() { Ok(()) } else { Err(left) }
}
