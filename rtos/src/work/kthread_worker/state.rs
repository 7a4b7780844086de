//! The kthread worker's state machine: the worker's lists under its lock ([`Inner`]) and the
//! steps that change them (queue, arm, the timer's fire, mod, the worker's take and finish,
//! cancel), written against [`Lock`] and an [`Env`] for what needs hardware (arming and
//! cancelling timers, the clock, the owner link). The kernel runs them under the worker's
//! `IrqSpinLock` with its `KernelEnv` ([`super`]); the loom models (`super::loom`) run the very
//! same functions under loom's mutex.

use crate::sync::Lock;
use crate::timer::TimerId;
use crate::work::item::{DELAYED, IDLE, QUEUED, Work};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

/// A worker's state, under its lock: the queued works in order (each with its flush sequence
/// number), the works waiting for their timer, the running work, and whether it is destroyed.
pub(crate) struct Inner {
    pub(crate) list: VecDeque<(u64, Arc<Work>)>,
    pub(crate) delayed: Vec<Arc<Work>>,
    pub(crate) current: Option<(u64, Arc<Work>)>,
    pub(crate) next_seq: u64,
    pub(crate) dead: bool,
}

impl Inner {
    pub(crate) const fn new() -> Self {
        Inner {
            list: VecDeque::new(),
            delayed: Vec::new(),
            current: None,
            next_seq: 1,
            dead: false,
        }
    }
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
    pub(crate) fn disarm(&mut self, env: &impl Env, work: &Arc<Work>) {
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
    pub(crate) fn running(&self, work: &Arc<Work>) -> Option<u64> {
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

/// The core of [`queue_delayed`](super::queue_delayed): unless the work is pending, being cancelled
/// or the worker destroyed, arms its timer (`delayed`) or puts it on the list.
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

/// The core of [`mod_delayed`](super::mod_delayed): returns whether the work was pending (true
/// without touching anything while a cancel is in progress) and what it did: takes it off its timer
/// or list, then arms it again (`delayed`) or lists it.
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
