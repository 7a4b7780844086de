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

use super::workqueue::{DELAYED, IDLE, QUEUED, Work};
use crate::error::Error;
use crate::kthread::{self, KThread};
use crate::sched::WaitQueue;
use crate::sync::IrqSpinLock;
use crate::{port, timer};
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

struct Inner {
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

    fn run_loop(&self) {
        loop {
            let _ = self.more.wait_event(
                || {
                    let g = self.inner.lock();
                    g.dead || !g.list.is_empty()
                },
                None,
            );
            loop {
                let work = {
                    let mut g = self.inner.lock();
                    let Some((seq, w)) = g.list.pop_front() else {
                        break;
                    };
                    w.running.fetch_add(1, Ordering::AcqRel);
                    w.pending.store(IDLE, Ordering::Release);
                    g.current = Some((seq, w.clone()));
                    w
                };
                work.execute();
                self.inner.lock().current = None;
                self.done.wake_all();
            }
            let g = self.inner.lock();
            if g.dead && g.list.is_empty() {
                break;
            }
        }
    }
}

fn create(name: &str, cpu: Option<usize>) -> Result<Arc<Worker>, Error> {
    let w = Arc::new(Worker {
        name: String::from(name),
        inner: IrqSpinLock::new(Inner {
            list: VecDeque::new(),
            delayed: Vec::new(),
            current: None,
            next_seq: 1,
            dead: false,
        }),
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

fn blocked(g: &Inner, work: &Work) -> bool {
    g.dead
        || work.pending.load(Ordering::Acquire) != IDLE
        || work.canceling.load(Ordering::Acquire) > 0
}

fn set_owner(w: &Arc<Worker>, work: &Work) {
    *work.owner.lock() = Some(Arc::downgrade(w));
}

fn owner(work: &Work) -> Option<Arc<Worker>> {
    work.owner.lock().as_ref().and_then(|w| w.upgrade())
}

/// Appends `work` to the list (under the worker lock).
fn insert(g: &mut Inner, work: &Arc<Work>) {
    let seq = g.next_seq;
    g.next_seq += 1;
    work.pending.store(QUEUED, Ordering::Release);
    work.mark_queued();
    g.list.push_back((seq, work.clone()));
}

/// Arms `work`'s timer (under the worker lock).
fn arm(w: &Arc<Worker>, g: &mut Inner, work: &Arc<Work>, delay_ns: u64) {
    work.pending.store(DELAYED, Ordering::Release);
    g.delayed.push(work.clone());
    let seq = work.timer_seq.fetch_add(1, Ordering::AcqRel) + 1;
    let p = port::port();
    let deadline = crate::time::deadline_after(p.now(), delay_ns, p.ticks_per_second());
    let (w, wk) = (w.clone(), work.clone());
    let fire = move || {
        // Interrupt context: only queue. A cancel or re-arm since then bumped the sequence.
        let mut g = w.inner.lock();
        if g.dead
            || wk.timer_seq.load(Ordering::Acquire) != seq
            || wk.pending.load(Ordering::Acquire) != DELAYED
        {
            return;
        }
        wk.timer.lock().take();
        g.delayed.retain(|d| !Arc::ptr_eq(d, &wk));
        insert(&mut g, &wk);
        drop(g);
        w.more.wake_all();
    };
    let id = timer::arm(deadline, timer::Action::Call(Box::new(fire)));
    *work.timer.lock() = Some(id);
}

/// Takes `work` off its timer or list (under the worker lock); returns whether it was pending.
fn unqueue(g: &mut Inner, work: &Arc<Work>) -> bool {
    match work.pending.load(Ordering::Acquire) {
        DELAYED => {
            work.timer_seq.fetch_add(1, Ordering::AcqRel);
            if let Some(id) = work.timer.lock().take() {
                timer::cancel(id);
            }
            g.delayed.retain(|d| !Arc::ptr_eq(d, work));
        }
        QUEUED => g.list.retain(|(_, d)| !Arc::ptr_eq(d, work)),
        _ => return false,
    }
    work.pending.store(IDLE, Ordering::Release);
    true
}

/// Queues `work` on `w`; false if it is pending (queued or delayed) or being cancelled.
pub fn kthread_queue_work(w: &Arc<Worker>, work: &Arc<Work>) -> bool {
    kthread_queue_delayed_work(w, work, 0)
}

/// Queues `work` on `w` after `delay_ns` (at once for 0); false if it is pending or being
/// cancelled.
pub fn kthread_queue_delayed_work(w: &Arc<Worker>, work: &Arc<Work>, delay_ns: u64) -> bool {
    {
        let mut g = w.inner.lock();
        if blocked(&g, work) {
            return false;
        }
        set_owner(w, work);
        if delay_ns > 0 {
            arm(w, &mut g, work, delay_ns);
            return true;
        }
        insert(&mut g, work);
    }
    w.more.wake_all();
    true
}

/// Queues `work` after `delay_ns` if idle (returns false), else moves its deadline to `delay_ns`
/// from now (returns true; a queued work goes back to waiting for the timer, or is queued at
/// once for 0). While a cancel is in progress it does nothing and returns true.
pub fn kthread_mod_delayed_work(w: &Arc<Worker>, work: &Arc<Work>, delay_ns: u64) -> bool {
    let was = {
        let mut g = w.inner.lock();
        if work.canceling.load(Ordering::Acquire) > 0 {
            return true;
        }
        if g.dead {
            return false;
        }
        let was = unqueue(&mut g, work);
        set_owner(w, work);
        if delay_ns > 0 {
            arm(w, &mut g, work, delay_ns);
            return was;
        }
        insert(&mut g, work);
        was
    };
    w.more.wake_all();
    was
}

/// Waits until `work` has run if it is queued or running now; returns at once otherwise.
pub fn kthread_flush_work(work: &Arc<Work>) {
    let Some(w) = owner(work) else { return };
    let target = {
        let g = w.inner.lock();
        let queued = g
            .list
            .iter()
            .find(|(_, d)| Arc::ptr_eq(d, work))
            .map(|(s, _)| *s);
        let running = g
            .current
            .as_ref()
            .filter(|(_, d)| Arc::ptr_eq(d, work))
            .map(|(s, _)| *s);
        match queued.or(running) {
            Some(s) => s,
            None => return,
        }
    };
    let _ = w.done.wait_event(|| w.done_through(target), None);
}

fn cancel_sync(work: &Arc<Work>) -> bool {
    let Some(w) = owner(work) else { return false };
    let (was, running) = {
        let mut g = w.inner.lock();
        work.canceling.fetch_add(1, Ordering::AcqRel);
        let was = unqueue(&mut g, work);
        let running = g
            .current
            .as_ref()
            .filter(|(_, d)| Arc::ptr_eq(d, work))
            .map(|(s, _)| *s);
        (was, running)
    };
    if let Some(seq) = running {
        let _ = w.done.wait_event(
            || {
                w.inner
                    .lock()
                    .current
                    .as_ref()
                    .is_none_or(|(s, _)| *s != seq)
            },
            None,
        );
    }
    work.canceling.fetch_sub(1, Ordering::AcqRel);
    was
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
    let _ = w.done.wait_event(|| w.done_through(target), None);
}

/// Flushes `w` and stops its thread. Delayed works still armed are an error: they are disarmed
/// (they will not run), and returned in `Err`.
pub fn kthread_destroy_worker(w: Arc<Worker>) -> Result<(), Vec<Arc<Work>>> {
    kthread_flush_worker(&w);
    let leftover = {
        let mut g = w.inner.lock();
        g.dead = true;
        let delayed = core::mem::take(&mut g.delayed);
        for d in &delayed {
            d.timer_seq.fetch_add(1, Ordering::AcqRel);
            if let Some(id) = d.timer.lock().take() {
                timer::cancel(id);
            }
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
