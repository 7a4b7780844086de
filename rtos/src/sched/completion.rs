//! Wait queues and completions: how threads sleep until something happens.
//!
//! [`WaitQueue::wait_event`] evaluates the caller's condition under the queue's lock and queues the
//! thread (marked sleeping) in the same critical section, so a waker that makes the condition true
//! and then calls [`WaitQueue::wake_all`] can never be missed. A [`Completion`] is a counter plus
//! a wait queue, as in Linux: `complete` releases one waiter (or banks one wake-up),
//! `complete_all` releases every present and future waiter until re-initialised.

use crate::sched::{self, Thread};
use crate::sync::IrqSpinLock;
use crate::timer;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU32, Ordering};

/// Waiting failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitError {
    /// The deadline passed first.
    TimedOut,
}

/// Threads waiting for a condition.
#[derive(Default)]
pub struct WaitQueue {
    waiters: IrqSpinLock<VecDeque<Arc<Thread>>>,
}

impl WaitQueue {
    /// An empty queue.
    pub const fn new() -> Self {
        Self {
            waiters: IrqSpinLock::new(VecDeque::new()),
        }
    }

    /// Sleeps until `cond()` returns true (evaluated under the queue lock), or until the counter
    /// reaches `deadline`. Before the scheduler runs (early boot) it spins with `Port::idle`.
    pub fn wait_event(
        &self,
        mut cond: impl FnMut() -> bool,
        deadline: Option<u64>,
    ) -> Result<(), WaitError> {
        loop {
            let me = {
                let mut q = self.waiters.lock();
                let done = if cond() {
                    Some(Ok(()))
                } else if deadline.is_some_and(|d| crate::port::port().now() >= d) {
                    Some(Err(WaitError::TimedOut))
                } else {
                    None
                };
                if let Some(r) = done {
                    // A timed-out or spuriously woken wait may have left us queued.
                    if !q.is_empty() {
                        sched::with_current(|me| q.retain(|t| !Arc::ptr_eq(t, me)));
                    }
                    return r;
                }
                // Sleeping from here on (a waker needs this queue's lock to find us); early
                // boot and idle threads cannot sleep: they poll.
                let Some(me) = sched::prepare_to_sleep() else {
                    drop(q);
                    return self.spin_wait(cond, deadline);
                };
                if !q.iter().any(|t| Arc::ptr_eq(t, &me)) {
                    q.push_back(me.clone());
                }
                me
            };
            let alarm = deadline.map(|d| timer::arm(d, timer::Action::Wake(me.clone())));
            drop(me);
            sched::schedule();
            if let Some(id) = alarm {
                timer::cancel(id);
            }
        }
    }

    fn spin_wait(
        &self,
        mut cond: impl FnMut() -> bool,
        deadline: Option<u64>,
    ) -> Result<(), WaitError> {
        let port = crate::port::port();
        loop {
            if cond() {
                return Ok(());
            }
            if deadline.is_some_and(|d| port.now() >= d) {
                return Err(WaitError::TimedOut);
            }
            crate::port::relax();
        }
    }

    /// Wakes the longest waiter; returns whether there was one.
    pub fn wake_one(&self) -> bool {
        let t = self.waiters.lock().pop_front();
        match t {
            Some(t) => {
                sched::wake_up_process(&t);
                true
            }
            None => false,
        }
    }

    /// Wakes every waiter present at the call; returns how many. They are taken off one at a
    /// time and woken outside the lock, so the queue keeps its buffer (a wait queue woken again
    /// and again does not allocate again and again) and an empty queue costs one lock.
    pub fn wake_all(&self) -> usize {
        let mut left = None;
        let mut woke = 0;
        loop {
            let t = {
                let mut q = self.waiters.lock();
                let left = left.get_or_insert(q.len());
                if *left == 0 {
                    None
                } else {
                    *left -= 1;
                    // (None if waiters that timed out meanwhile have left the queue.)
                    q.pop_front()
                }
            };
            let Some(t) = t else { return woke };
            sched::wake_up_process(&t);
            woke += 1;
        }
    }

    /// Threads waiting now (a snapshot).
    pub fn len(&self) -> usize {
        self.waiters.lock().len()
    }

    /// Whether nobody waits (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// "Done" count for [`Completion::complete_all`]: every wait succeeds.
const ALL: u32 = u32::MAX;

/// A one-shot or counting event, as Linux's `struct completion`.
#[derive(Default)]
pub struct Completion {
    done: AtomicU32,
    queue: WaitQueue,
}

impl Completion {
    /// Not done.
    pub const fn new() -> Self {
        Self {
            done: AtomicU32::new(0),
            queue: WaitQueue::new(),
        }
    }

    fn try_consume(&self) -> bool {
        self.done
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| match d {
                0 => None,
                ALL => Some(ALL),
                n => Some(n - 1),
            })
            .is_ok()
    }

    /// Waits until completed (consuming one completion unless `complete_all` was used).
    pub fn wait(&self) {
        let _ = self.wait_inner(None);
    }

    /// Like [`Completion::wait`] with a deadline on the counter.
    pub fn wait_until(&self, deadline: u64) -> Result<(), WaitError> {
        self.wait_inner(Some(deadline))
    }

    /// Already done: no queue lock and no look at the current thread (as Linux's
    /// `try_wait_for_completion` before it sleeps). Otherwise the queue's checked wait.
    fn wait_inner(&self, deadline: Option<u64>) -> Result<(), WaitError> {
        if self.try_consume() {
            return Ok(());
        }
        self.queue.wait_event(|| self.try_consume(), deadline)
    }

    /// Releases one waiter, or the next one to wait.
    pub fn complete(&self) {
        let _ = self
            .done
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| {
                (d != ALL).then(|| d.saturating_add(1).min(ALL - 1))
            });
        self.queue.wake_one();
    }

    /// Releases every waiter, present and future, until [`Completion::reinit`].
    pub fn complete_all(&self) {
        self.done.store(ALL, Ordering::Release);
        self.queue.wake_all();
    }

    /// Whether a wait would succeed right now.
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire) != 0
    }

    /// Back to "not done".
    pub fn reinit(&self) {
        self.done.store(0, Ordering::Release);
    }
}
