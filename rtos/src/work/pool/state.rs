//! A pool's state machine: its lists under its lock ([`Inner`]) and the steps that change them
//! (queue, arm, the timer's fire, mod, the worker's take and finish, cancel), written against
//! [`Lock`] and an [`Env`] for what needs the rest of the kernel (arming and cancelling timers,
//! the clock, the work's attachment to this pool). The kernel runs them under the pool's
//! `IrqSpinLock` with its `KernelEnv` ([`super`]); the loom models (`super::loom`) run the very
//! same functions under loom's mutex.

use crate::sync::Lock;
use crate::timer::TimerId;
use crate::work::account::Event;
use crate::work::item::{DELAYED, IDLE, QUEUED, Work};
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

/// A pool's state, under its lock: the queued works in order (each with its flush sequence
/// number), the works waiting for their timer, the running work (and, while a flush from the
/// pool's own thread runs the list in place, the works it interrupted), whether it is being
/// destroyed (`draining`: only its own works may queue more; `frozen`: its thread takes no more
/// works off the list, at the end of the drain) and whether it is destroyed.
///
/// A running work is recorded by its sequence number and address ([`Running`]): the worker
/// holds the work alive while it runs, so the record needs no reference count of its own.
pub(crate) struct Inner {
    pub(crate) list: VecDeque<(u64, Arc<Work>)>,
    pub(crate) delayed: Vec<Arc<Work>>,
    pub(crate) current: Option<Running>,
    pub(crate) nested: Vec<Running>,
    pub(crate) next_seq: u64,
    /// `next_seq` when the drain began (queueings since then count against the drain's bound).
    pub(crate) drain_from: u64,
    pub(crate) draining: bool,
    pub(crate) frozen: bool,
    pub(crate) dead: bool,
    /// What happened to its works, by [`Event`] ([`crate::work::account`]): plain counts, since
    /// every step that counts holds the lock (a global atomic would cost every queueing a
    /// read-modify-write).
    pub(crate) counts: [u64; 4],
}

/// A running work: its flush sequence number and its address (only compared, never followed).
pub(crate) type Running = (u64, usize);

/// `work`'s address, as [`Running`] records it.
pub(crate) fn addr(work: &Work) -> usize {
    core::ptr::from_ref(work) as usize
}

impl Inner {
    pub(crate) const fn new() -> Self {
        Inner {
            list: VecDeque::new(),
            delayed: Vec::new(),
            current: None,
            nested: Vec::new(),
            next_seq: 1,
            drain_from: 1,
            draining: false,
            frozen: false,
            dead: false,
            counts: [0; 4],
        }
    }

    /// Counts one `ev` of its works.
    #[inline(always)]
    pub(crate) fn count(&mut self, ev: Event) {
        self.counts[ev as usize] += 1;
    }

    /// The lowest sequence number queued or running, `next_seq` if none.
    #[inline]
    pub(crate) fn min_outstanding(&self) -> u64 {
        let mut min = self.list.front().map_or(self.next_seq, |(s, _)| *s);
        for (s, _) in self.current.iter().chain(&self.nested) {
            min = min.min(*s);
        }
        min
    }

    /// Whether the run numbered `seq` is in progress (the current run, or one a flush in place
    /// interrupted).
    pub(crate) fn is_running(&self, seq: u64) -> bool {
        self.current.as_ref().is_some_and(|(s, _)| *s == seq)
            || self.nested.iter().any(|(s, _)| *s == seq)
    }
}

/// What the state machine needs from the kernel; each method is called under the pool's lock.
/// The kernel's is `KernelEnv`; the loom models record what is armed instead.
pub(crate) trait Env {
    /// `work` is about to be queued or armed here: attaches it to this pool if it is attached to
    /// none; false if it belongs to another pool (then nothing is done).
    fn own(&self, work: &Arc<Work>) -> bool;
    /// Whether `work` is attached to this pool.
    fn here(&self, work: &Arc<Work>) -> bool;
    /// Arm `work`'s timer (and record its id in the work); when it expires, call [`fire`] with
    /// `seq`.
    fn arm_timer(&self, work: &Arc<Work>, seq: u64);
    /// Cancel the armed timer `id` (its sequence number is already stale).
    fn cancel_timer(&self, id: TimerId);
    /// `work` was just put on the list with flush sequence number `seq` (its queueing time, for
    /// the latency statistic).
    fn inserted(&self, work: &Arc<Work>, seq: u64);
    /// Entries left the pool (a run finished, or an entry was taken off the list unrun): `min`
    /// is the lowest sequence number still queued or running (`next_seq` if none). It never
    /// decreases, so a flush waits for it to pass its target without the lock.
    fn settled(&self, min: u64);
}

impl Inner {
    fn blocked(&self, work: &Work) -> bool {
        work.pending.load(Ordering::Acquire) != IDLE || work.canceling.load(Ordering::Acquire) > 0
    }

    /// Appends `work` to the list; returns its flush sequence number.
    fn insert(&mut self, env: &impl Env, work: &Arc<Work>) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        work.pending.store(QUEUED, Ordering::Release);
        env.inserted(work, seq);
        self.list.push_back((seq, work.clone()));
        seq
    }

    /// Arms `work`'s timer under a new timer sequence number.
    fn arm(&mut self, env: &impl Env, work: &Arc<Work>) {
        work.pending.store(DELAYED, Ordering::Release);
        let seq = work.timer_seq.fetch_add(1, Ordering::AcqRel) + 1;
        env.arm_timer(work, seq);
        self.delayed.push(work.clone());
    }

    /// Takes `work` off the delayed list (order does not matter there).
    fn undelay(&mut self, work: &Arc<Work>) {
        if let Some(i) = self.delayed.iter().position(|d| Arc::ptr_eq(d, work)) {
            self.delayed.swap_remove(i);
        }
    }

    /// Makes `work`'s armed timer stale and cancels it; takes it off the delayed list. (The id
    /// recorded in the work may be of a timer that fired already: cancelling it does nothing.)
    pub(crate) fn disarm(&mut self, env: &impl Env, work: &Arc<Work>) {
        work.timer_seq.fetch_add(1, Ordering::AcqRel);
        if let Some(id) = work.timer.lock().take() {
            env.cancel_timer(id);
        }
        self.undelay(work);
    }

    /// Takes `work` off its timer or list; returns whether it was pending.
    fn unqueue(&mut self, env: &impl Env, work: &Arc<Work>) -> bool {
        match work.pending.load(Ordering::Acquire) {
            DELAYED => self.disarm(env, work),
            QUEUED => {
                self.list.retain(|(_, d)| !Arc::ptr_eq(d, work));
                env.settled(self.min_outstanding());
            }
            _ => return false,
        }
        work.pending.store(IDLE, Ordering::Release);
        true
    }

    /// The running work's flush sequence number, if it is `work` (the innermost run, if it runs
    /// nested).
    pub(crate) fn running(&self, work: &Work) -> Option<u64> {
        let a = addr(work);
        self.current
            .iter()
            .chain(self.nested.iter().rev())
            .find(|(_, d)| *d == a)
            .map(|(s, _)| *s)
    }
}

/// What [`queue`] and [`mod_delayed`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Queued {
    /// Nothing: it is pending here or being cancelled.
    No,
    /// Nothing: the pool is destroyed, or being destroyed and the caller is not its own work.
    Dead,
    /// Nothing: the work belongs to another pool.
    Elsewhere,
    /// Armed its timer.
    Armed,
    /// Put it on the list: wake the worker.
    Listed,
}

/// The core of a queue: unless the pool is destroyed (or being destroyed and `closed()` says the
/// caller is not one of its works), the work belongs elsewhere, is pending or is being
/// cancelled, arms its timer (`delayed`) or puts it on the list.
pub(crate) fn queue(
    lock: &impl Lock<Inner>,
    env: &impl Env,
    work: &Arc<Work>,
    delayed: bool,
    closed: impl FnOnce() -> bool,
) -> Queued {
    let mut g = lock.lock();
    if g.dead || (g.draining && closed()) {
        return Queued::Dead;
    }
    if !env.own(work) {
        return Queued::Elsewhere;
    }
    if g.blocked(work) {
        // Pending: it runs once for both. (Being cancelled: refused, counted nowhere.)
        if work.pending.load(Ordering::Acquire) != IDLE {
            g.count(Event::Merged);
        }
        return Queued::No;
    }
    g.count(Event::Submitted);
    if delayed {
        g.arm(env, work);
        Queued::Armed
    } else {
        g.insert(env, work);
        Queued::Listed
    }
}

/// The core of a mod: returns whether the work was pending (true without touching anything while
/// a cancel is in progress) and what it did: takes it off its timer or list, then arms it again
/// (`delayed`) or lists it. `closed` as for [`queue`].
pub(crate) fn mod_delayed(
    lock: &impl Lock<Inner>,
    env: &impl Env,
    work: &Arc<Work>,
    delayed: bool,
    closed: impl FnOnce() -> bool,
) -> (bool, Queued) {
    let mut g = lock.lock();
    if g.dead || (g.draining && closed()) {
        return (false, Queued::Dead);
    }
    if !env.own(work) {
        return (false, Queued::Elsewhere);
    }
    if work.canceling.load(Ordering::Acquire) > 0 {
        return (true, Queued::No);
    }
    let was = g.unqueue(env, work);
    if !was {
        g.count(Event::Submitted);
    }
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
/// destruction came in between. Returns its flush sequence number if it listed it (then wake the
/// worker).
pub(crate) fn fire(
    lock: &impl Lock<Inner>,
    env: &impl Env,
    work: &Arc<Work>,
    seq: u64,
) -> Option<u64> {
    let mut g = lock.lock();
    if work.timer_seq.load(Ordering::Acquire) != seq
        || work.pending.load(Ordering::Acquire) != DELAYED
    {
        return None;
    }
    g.undelay(work);
    if g.dead {
        // (Armed by one of its own works while the pool was destroyed, after the destroy's last
        // look: it cannot run here any more, and is left idle rather than stranded.)
        work.pending.store(IDLE, Ordering::Release);
        g.count(Event::Cancelled);
        return None;
    }
    Some(g.insert(env, work))
}

/// The worker thread takes the first listed work: it counts as running (before it stops being
/// pending, so its state never reads idle in between, and its function may queue it again) and
/// becomes the current work. Call [`finish`] once its function has returned.
pub(crate) fn take_next(lock: &impl Lock<Inner>) -> Option<Arc<Work>> {
    let mut g = lock.lock();
    if g.frozen {
        return None;
    }
    let (seq, w) = g.list.pop_front()?;
    g.count(Event::Executed);
    w.running.fetch_add(1, Ordering::AcqRel);
    w.pending.store(IDLE, Ordering::Release);
    g.current = Some((seq, addr(&w)));
    Some(w)
}

/// The worker thread is done with its current work (then it wakes flushers and cancellers,
/// before it takes the next work: a flusher that preempts it may queue more in the meantime,
/// which the worker then finds without going to sleep).
pub(crate) fn finish(lock: &impl Lock<Inner>, env: &impl Env) {
    let mut g = lock.lock();
    g.current = None;
    env.settled(g.min_outstanding());
}

/// The first half of a cancel, if `work` is attached here (else `None`: look again where it is):
/// blocks queueing, takes the work off its timer or list, and returns whether it was pending
/// and, if it is running now, the sequence number to wait for with [`cancel_done`]. Then call
/// [`cancel_end`].
pub(crate) fn cancel_begin(
    lock: &impl Lock<Inner>,
    env: &impl Env,
    work: &Arc<Work>,
) -> Option<(bool, Option<u64>)> {
    let mut g = lock.lock();
    if !env.here(work) {
        return None;
    }
    work.canceling.fetch_add(1, Ordering::AcqRel);
    let was = g.unqueue(env, work);
    if was {
        g.count(Event::Cancelled);
    }
    Some((was, g.running(work)))
}

/// The cancel's wait condition: the run numbered `seq` is over.
pub(crate) fn cancel_done(lock: &impl Lock<Inner>, seq: u64) -> bool {
    !lock.lock().is_running(seq)
}

/// The end of a cancel: queueing the work is allowed again.
pub(crate) fn cancel_end(work: &Work) {
    work.canceling.fetch_sub(1, Ordering::AcqRel);
}
