//! Kthread workers with the contracts of Linux's `kthread_worker` API (`kernel/kthread.c`): one
//! kthread running the [`Work`] items queued on it, in order.
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
//! - [`flush_work`] (`kthread_flush_work`) "waits for that work if queued or running" (a work only
//!   waiting for its timer is neither: no wait).
//! - [`cancel_work_sync`] / [`cancel_delayed_work_sync`] "cancel the timer,
//!   remove from the list, wait if running, block re-queue meanwhile; return whether it was
//!   pending" (queued or delayed).
//! - [`flush`] (`kthread_flush_worker`) waits until everything queued before the call has run.
//! - [`destroy`] (`kthread_destroy_worker`) flushes, then stops the worker (it runs whatever is
//!   still queued first). "Pending delayed works are an error the caller sees": their timers are
//!   cancelled, they go back to idle, and they are returned in `Err`. Queueing on a destroyed
//!   worker returns false.
//!
//! Waiting for oneself is impossible: the flush and cancel functions must not be called from a
//! work running on the same worker (as in Linux, they would wait for themselves).
//!
//! # Locking
//! One [`IrqSpinLock`] per worker guards its lists, its running work, and the pending state and
//! timer of the works on it; work functions run with no lock held. Each queued entry carries a
//! sequence number; a flush waits until no entry up to its target is queued or running.
//!
//! # Model checking
//! The state machine (queue, arm, the timer's fire, mod, the worker's take and finish, cancel) is a
//! set of functions over the worker's `Inner`, written against `Lock` and an `Env` for what needs
//! hardware (arming and cancelling timers, the clock, the owner link): the module `state`. The
//! kernel runs them under the worker's [`IrqSpinLock`] with `KernelEnv`; the loom models in the
//! module `loom` next to it (`just loom`) run the same functions under loom's mutex, with loom
//! threads playing the timer interrupt (calling the same `fire` the timer action calls), the worker
//! thread, and the canceller or modder. They check: "after cancel returns, the work is not queued
//! and does not run again unless re-queued; cancel returns true iff the work was pending, and that
//! pending instance never runs; a stale timer (superseded by mod or cancel) never queues the work;
//! a work is never on the list twice; every queued instance that is not cancelled runs exactly
//! once".
//!
//! # Example
//! ```
//! use rtos::time::Duration;
//! use rtos::work::{kthread_worker, workqueue::Work};
//! rtos::fake::run(2, || {
//!     let w = kthread_worker::create("demo").unwrap();
//!     let work = Work::new("hello", |_| {});
//!     assert!(kthread_worker::queue_delayed(&w, &work, Duration::from_secs(60)));
//!     assert!(kthread_worker::cancel_delayed_work_sync(&work), "it was pending");
//!     assert!(kthread_worker::queue(&w, &work));
//!     kthread_worker::flush_work(&work);
//!     assert_eq!(work.runs(), 1);
//!     kthread_worker::destroy(w).unwrap(); // no delayed work left behind
//!     0
//! });
//! ```

mod state;

use super::item::{IDLE, Owner, Work};
use crate::error::Error;
use crate::kthread::{self, KThread};
use crate::sync::IrqSpinLock;
use crate::time::{Duration, Instant};
use crate::timer::{self, TimerId};
use crate::wait::WaitQueue;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use state::{Env, Inner, Queued, cancel_begin, cancel_done, cancel_end, finish, fire, take_next};

#[cfg(all(test, loom))]
mod loom;

/// A kthread worker.
pub struct Worker {
    name: String,
    inner: IrqSpinLock<Inner>,
    more: WaitQueue,
    done: WaitQueue,
    thread: IrqSpinLock<Option<KThread>>,
}

impl core::fmt::Debug for Worker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Worker").field("name", &self.name).finish()
    }
}

impl Worker {
    /// Its name (also its thread's).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its thread (none once destroyed).
    pub fn thread(&self) -> Option<KThread> {
        self.thread.lock().clone()
    }

    /// Works queued and not yet started, and works waiting for their timer.
    pub fn counts(&self) -> (usize, usize) {
        let g = self.inner.lock();
        (g.list.len(), g.delayed.len())
    }

    /// Whether nothing numbered up to `target` is queued or running.
    fn done_through(&self, target: u64) -> bool {
        let g = self.inner.lock();
        g.list.front().is_none_or(|(s, _)| *s > target)
            && g.current.as_ref().is_none_or(|(s, _)| *s > target)
    }

    /// Blocks until [`Self::done_through`] `target` (the flushes' wait: one out-of-line copy).
    #[inline(never)]
    fn wait_done_through(&self, target: u64) {
        let _ = self.done.wait_event(|| self.done_through(target), None);
    }

    fn run_loop(&self) {
        loop {
            let _ = self.more.wait_event(
                || {
                    let g = self.inner.lock();
                    g.dead || !g.list.is_empty()
                },
                None,
            );
            while let Some(work) = take_next(&self.inner) {
                work.execute();
                finish(&self.inner);
                self.done.wake_all();
            }
            let g = self.inner.lock();
            if g.dead && g.list.is_empty() {
                break;
            }
        }
    }
}

fn spawn(name: &str, cpu: Option<usize>) -> Result<Arc<Worker>, Error> {
    let w = Arc::new(Worker {
        name: String::from(name),
        inner: IrqSpinLock::new(Inner::new()),
        more: WaitQueue::new(),
        done: WaitQueue::new(),
        thread: IrqSpinLock::new(None),
    });
    let body = {
        let w = w.clone();
        move || {
            w.run_loop();
            0
        }
    };
    let t = match cpu {
        Some(c) => kthread::create_on_cpu(name, c, body)?,
        None => kthread::create(name, body)?,
    };
    *w.thread.lock() = Some(t.clone());
    kthread::wake_up_process(&t);
    Ok(w)
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

/// The kernel's [`Env`]: real timers `delay` from now, the port's clock, the owner link.
struct KernelEnv<'a> {
    worker: &'a Arc<Worker>,
    delay: Duration,
}

impl<'a> KernelEnv<'a> {
    /// For steps that arm nothing (the timer's fire, cancel, destroy).
    fn now(worker: &'a Arc<Worker>) -> Self {
        KernelEnv {
            worker,
            delay: Duration::ZERO,
        }
    }
}

impl Env for KernelEnv<'_> {
    fn own(&self, work: &Arc<Work>) {
        let owner: alloc::sync::Weak<Worker> = Arc::downgrade(self.worker);
        *work.owner.lock() = Some(owner);
    }
    fn arm_timer(&self, work: &Arc<Work>, seq: u64) {
        let deadline = Instant::after(self.delay);
        let (w, wk) = (self.worker.clone(), work.clone());
        let action = move || {
            // Interrupt context: only queue. A cancel or re-arm since then bumped the sequence.
            if fire(&w.inner, &KernelEnv::now(&w), &wk, seq) {
                w.more.wake_all();
            }
        };
        let id = timer::arm(deadline, timer::Action::Call(Box::new(action)));
        *work.timer.lock() = Some(id);
    }
    fn cancel_timer(&self, id: TimerId) {
        timer::cancel(id);
    }
    fn inserted(&self, work: &Arc<Work>) {
        work.mark_queued();
    }
}

/// Queues `work` on `w`; false if it is pending (queued or delayed) or being cancelled.
#[doc(alias = "kthread_queue_work")]
pub fn queue(w: &Arc<Worker>, work: &Arc<Work>) -> bool {
    queue_delayed(w, work, Duration::ZERO)
}

/// Queues `work` on `w` after `delay` (at once for zero); false if it is pending or being
/// cancelled.
#[doc(alias = "kthread_queue_delayed_work")]
pub fn queue_delayed(w: &Arc<Worker>, work: &Arc<Work>, delay: Duration) -> bool {
    let env = KernelEnv { worker: w, delay };
    match state::queue(&w.inner, &env, work, !delay.is_zero()) {
        Queued::No => false,
        Queued::Armed => true,
        Queued::Listed => {
            w.more.wake_all();
            true
        }
    }
}

/// Queues `work` after `delay` if idle (returns false), else moves its deadline to `delay` from
/// now (returns true; a queued work goes back to waiting for the timer, or is queued at once
/// for zero). While a cancel is in progress it does nothing and returns true.
#[doc(alias = "kthread_mod_delayed_work")]
pub fn mod_delayed(w: &Arc<Worker>, work: &Arc<Work>, delay: Duration) -> bool {
    let env = KernelEnv { worker: w, delay };
    let (was, what) = state::mod_delayed(&w.inner, &env, work, !delay.is_zero());
    if what == Queued::Listed {
        w.more.wake_all();
    }
    was
}

/// Waits until `work` has run if it is queued or running now; returns at once otherwise.
#[doc(alias = "kthread_flush_work")]
pub fn flush_work(work: &Arc<Work>) {
    if let Some(w) = work.owner() {
        w.flush_work(work);
    }
}

impl Owner for Worker {
    fn flush_work(self: Arc<Self>, work: &Arc<Work>) {
        let target = {
            let g = self.inner.lock();
            let queued = g
                .list
                .iter()
                .find(|(_, d)| Arc::ptr_eq(d, work))
                .map(|(s, _)| *s);
            match queued.or_else(|| g.running(work)) {
                Some(s) => s,
                None => return,
            }
        };
        self.wait_done_through(target);
    }

    #[inline(never)]
    fn cancel_work_sync(self: Arc<Self>, work: &Arc<Work>) -> bool {
        let env = KernelEnv::now(&self);
        let (was, running) = cancel_begin(&self.inner, &env, work);
        if let Some(seq) = running {
            let _ = crate::wait::wait_event_dyn(
                &self.done,
                &mut || cancel_done(&self.inner, seq),
                None,
            );
        }
        cancel_end(work);
        was
    }
}

/// Cancels `work`: takes it off its list, waits if it is running, and blocks queueing it
/// meanwhile. Returns whether it was pending.
#[doc(alias = "kthread_cancel_work_sync")]
pub fn cancel_work_sync(work: &Arc<Work>) -> bool {
    work.owner().is_some_and(|w| w.cancel_work_sync(work))
}

/// Cancels a delayed `work`: cancels its timer, takes it off the list, waits if it is running,
/// and blocks queueing it meanwhile. Returns whether it was pending (delayed or queued).
#[doc(alias = "kthread_cancel_delayed_work_sync")]
pub fn cancel_delayed_work_sync(work: &Arc<Work>) -> bool {
    cancel_work_sync(work)
}

/// Waits until everything queued on `w` before the call has run (not works queued meanwhile,
/// nor delayed works still waiting for their timer).
#[doc(alias = "kthread_flush_worker")]
pub fn flush(w: &Worker) {
    let target = w.inner.lock().next_seq - 1;
    w.wait_done_through(target);
}

/// Flushes `w` and stops its thread. Delayed works still armed are an error: they are disarmed
/// (they will not run), and returned in `Err`.
#[doc(alias = "kthread_destroy_worker")]
pub fn destroy(w: Arc<Worker>) -> Result<(), Vec<Arc<Work>>> {
    flush(&w);
    let leftover = {
        let env = KernelEnv::now(&w);
        let mut g = w.inner.lock();
        g.dead = true;
        let delayed = g.delayed.clone();
        for d in &delayed {
            g.disarm(&env, d);
            d.pending.store(IDLE, Ordering::Release);
        }
        delayed
    };
    w.more.wake_all();
    let t = w.thread.lock().take();
    if let Some(t) = t {
        kthread::stop(&t);
    }
    if leftover.is_empty() {
        Ok(())
    } else {
        Err(leftover)
    }
}
