//! Kthread workers with the contracts of Linux's `kthread_worker` API (`kernel/kthread.c`): one
//! kthread running the [`Work`] items queued on it, in order.
//!
//! # Contracts
//! - [`create_worker`] / [`create_worker_on_cpu`]: a worker kthread named `name`, unbound or
//!   bound to `cpu` (`create_on_cpu` semantics).
//! - [`kthread_queue_work`] "returns false if the work is pending or being cancelled", else
//!   queues it and wakes the worker.
//! - [`kthread_queue_delayed_work`] arms a timer (on the calling CPU, in interrupt context the
//!   callback only queues); "delay 0 queues at once". False under the same conditions.
//! - [`kthread_mod_delayed_work`] "queues if idle; otherwise re-arms with the new delay and
//!   returns true; a cancel in progress wins": it returns false when the work was idle (and is
//!   now queued), true when it was pending or delayed (and is now re-armed), and true without
//!   touching anything while a cancel is in progress.
//! - [`kthread_flush_work`] "waits for that work if queued or running" (a work only waiting for
//!   its timer is neither: no wait).
//! - [`kthread_cancel_work_sync`] / [`kthread_cancel_delayed_work_sync`] "cancel the timer,
//!   remove from the list, wait if running, block re-queue meanwhile; return whether it was
//!   pending" (queued or delayed).
//! - [`kthread_flush_worker`] waits until everything queued before the call has run.
//! - [`kthread_destroy_worker`] flushes, then stops the worker (it runs whatever is still
//!   queued first). "Pending delayed works are an error the caller sees": their timers are
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
//! The state machine (queue, arm, the timer's fire, mod, the worker's take and finish, cancel)
//! is a set of functions over the worker's `Inner`, written against [`Lock`] and an `Env` for
//! what needs hardware (arming and cancelling timers, the clock, the owner link). The kernel
//! runs them under the worker's [`IrqSpinLock`] with `KernelEnv`; the loom models in the module
//! `loom` next to this file (`just loom`) run the same functions under loom's mutex, with loom
//! threads playing the timer interrupt (calling the same `fire` the timer action calls), the
//! worker thread, and the canceller or modder. They check: "after cancel returns, the work is
//! not queued and does not run again unless re-queued; cancel returns true iff the work was
//! pending, and that pending instance never runs; a stale timer (superseded by mod or cancel)
//! never queues the work; a work is never on the list twice; every queued instance that is not
//! cancelled runs exactly once".

use super::item::{DELAYED, IDLE, Owner, QUEUED, Work};
use crate::error::Error;
use crate::kthread::{self, KThread};
use crate::sync::{IrqSpinLock, Lock};
use crate::time::{Duration, Instant};
use crate::timer::{self, TimerId};
use crate::wait::WaitQueue;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

#[cfg(all(test, loom))]
mod loom;

/// A worker's state, under its lock: the queued works in order (each with its flush sequence
/// number), the works waiting for their timer, the running work, and whether it is destroyed.
pub(crate) struct Inner {
    list: VecDeque<(u64, Arc<Work>)>,
    delayed: Vec<Arc<Work>>,
    current: Option<(u64, Arc<Work>)>,
    next_seq: u64,
    dead: bool,
}

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

impl Inner {
    const fn new() -> Self {
        Inner {
            list: VecDeque::new(),
            delayed: Vec::new(),
            current: None,
            next_seq: 1,
            dead: false,
        }
    }
}

fn create(name: &str, cpu: Option<usize>) -> Result<Arc<Worker>, Error> {
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

/// Creates a worker kthread named `name` (`kthread_create_worker`).
pub fn create_worker(name: &str) -> Result<Arc<Worker>, Error> {
    create(name, None)
}

/// Creates a worker kthread named `name` bound to `cpu` (`kthread_create_worker_on_cpu`).
pub fn create_worker_on_cpu(cpu: usize, name: &str) -> Result<Arc<Worker>, Error> {
    create(name, Some(cpu))
}

/// What the worker state machine needs from the kernel; each method is called under the worker
/// lock. The kernel's is [`KernelEnv`]; the loom models record what is armed instead.
pub(crate) trait Env {
    /// `work` is being queued or armed on this worker (it becomes its owner, for flush/cancel).
    fn own(&self, work: &Arc<Work>);
    /// Arm `work`'s timer; when it expires, call [`fire`] with `seq`.
    fn arm_timer(&self, work: &Arc<Work>, seq: u64);
    /// Cancel the armed timer `id` (its sequence number is already stale).
    fn cancel_timer(&self, id: TimerId);
    /// `work` was just put on the list (its queueing time, for the latency statistic).
    fn inserted(&self, work: &Arc<Work>);
}

/// The kernel's [`Env`]: real timers with `delay_ns`, the port's clock, the owner link.
pub(crate) struct KernelEnv<'a> {
    worker: &'a Arc<Worker>,
    delay_ns: u64,
}

impl Env for KernelEnv<'_> {
    fn own(&self, work: &Arc<Work>) {
        let owner: alloc::sync::Weak<Worker> = Arc::downgrade(self.worker);
        *work.owner.lock() = Some(owner);
    }
    fn arm_timer(&self, work: &Arc<Work>, seq: u64) {
        let deadline = Instant::after(Duration::from_nanos(self.delay_ns));
        let (w, wk) = (self.worker.clone(), work.clone());
        let action = move || {
            // Interrupt context: only queue. A cancel or re-arm since then bumped the sequence.
            let env = KernelEnv {
                worker: &w,
                delay_ns: 0,
            };
            if fire(&w.inner, &env, &wk, seq) {
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

impl Inner {
    fn blocked(&self, work: &Work) -> bool {
        self.dead
            || work.pending.load(Ordering::Acquire) != IDLE
            || work.canceling.load(Ordering::Acquire) > 0
    }

    /// Appends `work` to the list.
    fn insert(&mut self, env: &impl Env, work: &Arc<Work>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        work.pending.store(QUEUED, Ordering::Release);
        env.inserted(work);
        self.list.push_back((seq, work.clone()));
    }

    /// Arms `work`'s timer under a new timer sequence number.
    fn arm(&mut self, env: &impl Env, work: &Arc<Work>) {
        work.pending.store(DELAYED, Ordering::Release);
        self.delayed.push(work.clone());
        let seq = work.timer_seq.fetch_add(1, Ordering::AcqRel) + 1;
        env.arm_timer(work, seq);
    }

    /// Makes `work`'s armed timer stale and cancels it; takes it off the delayed list.
    fn disarm(&mut self, env: &impl Env, work: &Arc<Work>) {
        work.timer_seq.fetch_add(1, Ordering::AcqRel);
        if let Some(id) = work.timer.lock().take() {
            env.cancel_timer(id);
        }
        self.delayed.retain(|d| !Arc::ptr_eq(d, work));
    }

    /// Takes `work` off its timer or list; returns whether it was pending.
    fn unqueue(&mut self, env: &impl Env, work: &Arc<Work>) -> bool {
        match work.pending.load(Ordering::Acquire) {
            DELAYED => self.disarm(env, work),
            QUEUED => self.list.retain(|(_, d)| !Arc::ptr_eq(d, work)),
            _ => return false,
        }
        work.pending.store(IDLE, Ordering::Release);
        true
    }

    /// The running work's flush sequence number, if it is `work`.
    fn running(&self, work: &Arc<Work>) -> Option<u64> {
        self.current
            .as_ref()
            .filter(|(_, d)| Arc::ptr_eq(d, work))
            .map(|(s, _)| *s)
    }
}

/// What [`queue`] and [`mod_delayed`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Queued {
    /// Nothing (pending, being cancelled, or the worker is destroyed).
    No,
    /// Armed its timer.
    Armed,
    /// Put it on the list: wake the worker.
    Listed,
}

/// The core of [`kthread_queue_delayed_work`]: unless the work is pending, being cancelled or
/// the worker destroyed, arms its timer (`delayed`) or puts it on the list.
pub(crate) fn queue(
    lock: &impl Lock<Inner>,
    env: &impl Env,
    work: &Arc<Work>,
    delayed: bool,
) -> Queued {
    let mut g = lock.lock();
    if g.blocked(work) {
        return Queued::No;
    }
    env.own(work);
    if delayed {
        g.arm(env, work);
        Queued::Armed
    } else {
        g.insert(env, work);
        Queued::Listed
    }
}

/// The core of [`kthread_mod_delayed_work`]: returns whether the work was pending (true without
/// touching anything while a cancel is in progress) and what it did: takes it off its timer or
/// list, then arms it again (`delayed`) or lists it.
pub(crate) fn mod_delayed(
    lock: &impl Lock<Inner>,
    env: &impl Env,
    work: &Arc<Work>,
    delayed: bool,
) -> (bool, Queued) {
    let mut g = lock.lock();
    if work.canceling.load(Ordering::Acquire) > 0 {
        return (true, Queued::No);
    }
    if g.dead {
        return (false, Queued::No);
    }
    let was = g.unqueue(env, work);
    env.own(work);
    if delayed {
        g.arm(env, work);
        (was, Queued::Armed)
    } else {
        g.insert(env, work);
        (was, Queued::Listed)
    }
}

/// The timer action of a work armed under timer sequence `seq` (interrupt context: only
/// queues): lists it if it is still delayed under that same sequence, i.e. no cancel, mod or
/// destruction came in between. Returns whether it listed it (then wake the worker).
pub(crate) fn fire(lock: &impl Lock<Inner>, env: &impl Env, work: &Arc<Work>, seq: u64) -> bool {
    let mut g = lock.lock();
    if g.dead
        || work.timer_seq.load(Ordering::Acquire) != seq
        || work.pending.load(Ordering::Acquire) != DELAYED
    {
        return false;
    }
    work.timer.lock().take();
    g.delayed.retain(|d| !Arc::ptr_eq(d, work));
    g.insert(env, work);
    true
}

/// The worker thread takes the first listed work: it counts as running (before it stops being
/// pending, so its state never reads idle in between, and its function may queue it again) and
/// becomes the current work. Call [`finish`] once its function has returned.
pub(crate) fn take_next(lock: &impl Lock<Inner>) -> Option<Arc<Work>> {
    let mut g = lock.lock();
    let (seq, w) = g.list.pop_front()?;
    w.running.fetch_add(1, Ordering::AcqRel);
    w.pending.store(IDLE, Ordering::Release);
    g.current = Some((seq, w.clone()));
    Some(w)
}

/// The worker thread is done with its current work (then it wakes flushers and cancellers).
pub(crate) fn finish(lock: &impl Lock<Inner>) {
    lock.lock().current = None;
}

/// The first half of a cancel: blocks queueing, takes the work off its timer or list, and
/// returns whether it was pending and, if it is running now, the sequence number to wait for
/// with [`cancel_done`]. Then call [`cancel_end`].
pub(crate) fn cancel_begin(
    lock: &impl Lock<Inner>,
    env: &impl Env,
    work: &Arc<Work>,
) -> (bool, Option<u64>) {
    let mut g = lock.lock();
    work.canceling.fetch_add(1, Ordering::AcqRel);
    let was = g.unqueue(env, work);
    (was, g.running(work))
}

/// The cancel's wait condition: the run numbered `seq` is over.
pub(crate) fn cancel_done(lock: &impl Lock<Inner>, seq: u64) -> bool {
    lock.lock().current.as_ref().is_none_or(|(s, _)| *s != seq)
}

/// The end of a cancel: queueing the work is allowed again.
pub(crate) fn cancel_end(work: &Work) {
    work.canceling.fetch_sub(1, Ordering::AcqRel);
}

/// Queues `work` on `w`; false if it is pending (queued or delayed) or being cancelled.
pub fn kthread_queue_work(w: &Arc<Worker>, work: &Arc<Work>) -> bool {
    kthread_queue_delayed_work(w, work, 0)
}

/// Queues `work` on `w` after `delay_ns` (at once for 0); false if it is pending or being
/// cancelled.
pub fn kthread_queue_delayed_work(w: &Arc<Worker>, work: &Arc<Work>, delay_ns: u64) -> bool {
    let env = KernelEnv {
        worker: w,
        delay_ns,
    };
    match queue(&w.inner, &env, work, delay_ns > 0) {
        Queued::No => false,
        Queued::Armed => true,
        Queued::Listed => {
            w.more.wake_all();
            true
        }
    }
}

/// Queues `work` after `delay_ns` if idle (returns false), else moves its deadline to `delay_ns`
/// from now (returns true; a queued work goes back to waiting for the timer, or is queued at
/// once for 0). While a cancel is in progress it does nothing and returns true.
pub fn kthread_mod_delayed_work(w: &Arc<Worker>, work: &Arc<Work>, delay_ns: u64) -> bool {
    let env = KernelEnv {
        worker: w,
        delay_ns,
    };
    let (was, what) = mod_delayed(&w.inner, &env, work, delay_ns > 0);
    if what == Queued::Listed {
        w.more.wake_all();
    }
    was
}

/// Waits until `work` has run if it is queued or running now; returns at once otherwise.
pub fn kthread_flush_work(work: &Arc<Work>) {
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
        let env = KernelEnv {
            worker: &self,
            delay_ns: 0,
        };
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

fn cancel_sync(work: &Arc<Work>) -> bool {
    work.owner().is_some_and(|w| w.cancel_work_sync(work))
}

/// Cancels `work`: takes it off its list, waits if it is running, and blocks queueing it
/// meanwhile. Returns whether it was pending.
pub fn kthread_cancel_work_sync(work: &Arc<Work>) -> bool {
    cancel_sync(work)
}

/// Cancels a delayed `work`: cancels its timer, takes it off the list, waits if it is running,
/// and blocks queueing it meanwhile. Returns whether it was pending (delayed or queued).
pub fn kthread_cancel_delayed_work_sync(work: &Arc<Work>) -> bool {
    cancel_sync(work)
}

/// Waits until everything queued on `w` before the call has run (not works queued meanwhile,
/// nor delayed works still waiting for their timer).
pub fn kthread_flush_worker(w: &Worker) {
    let target = w.inner.lock().next_seq - 1;
    w.wait_done_through(target);
}

/// Flushes `w` and stops its thread. Delayed works still armed are an error: they are disarmed
/// (they will not run), and returned in `Err`.
pub fn kthread_destroy_worker(w: Arc<Worker>) -> Result<(), Vec<Arc<Work>>> {
    kthread_flush_worker(&w);
    let leftover = {
        let env = KernelEnv {
            worker: &w,
            delay_ns: 0,
        };
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
