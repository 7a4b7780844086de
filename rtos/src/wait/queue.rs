//! [`WaitQueue`]: threads sleeping until a condition holds.
//!
//! [`WaitQueue::wait_event`] evaluates the caller's condition under the queue's lock and queues the
//! thread (marked sleeping) in the same critical section, so a waker that makes the condition true
//! and then calls [`WaitQueue::wake_all`] can never be missed.

use crate::sched::{self, Thread};
use crate::sync::IrqSpinLock;
use crate::time::Instant;
use crate::timer;
use alloc::collections::VecDeque;
use alloc::sync::Arc;

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

    /// Sleeps until `cond()` returns true (evaluated under the queue lock), or until `deadline`
    /// passes. Before the scheduler runs (early boot), and on an idle thread, it polls.
    #[doc(alias = "wait_event_timeout")]
    pub fn wait_event(
        &self,
        mut cond: impl FnMut() -> bool,
        deadline: Option<Instant>,
    ) -> Result<(), WaitError> {
        loop {
            // The alarm's reference to this thread (a wait with a deadline); the queue keeps the
            // one `prepare_to_sleep` returned.
            let me = {
                let mut q = self.waiters.lock();
                let done = if cond() {
                    Some(Ok(()))
                } else if deadline.is_some_and(Instant::has_passed) {
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
                let alarm = deadline.map(|d| (d, me.clone()));
                if !q.iter().any(|t| Arc::ptr_eq(t, &me)) {
                    q.push_back(me);
                }
                alarm
            };
            let alarm = me.map(|(d, me)| timer::arm(d, timer::Action::Wake(me)));
            sched::schedule();
            if let Some(id) = alarm {
                timer::cancel(id);
            }
        }
    }

    fn spin_wait(
        &self,
        mut cond: impl FnMut() -> bool,
        deadline: Option<Instant>,
    ) -> Result<(), WaitError> {
        loop {
            if cond() {
                return Ok(());
            }
            if deadline.is_some_and(Instant::has_passed) {
                return Err(WaitError::TimedOut);
            }
            crate::port::relax();
        }
    }

    /// Wakes the longest waiter; returns whether there was one.
    #[doc(alias = "wake_up")]
    pub fn wake_one(&self) -> bool {
        let t = self.waiters.lock().pop_front();
        match t {
            Some(t) => {
                sched::wake_up_owned(t);
                true
            }
            None => false,
        }
    }

    /// Wakes every waiter present at the call; returns how many. They are taken off one at a
    /// time and woken outside the lock, so the queue keeps its buffer (a wait queue woken again
    /// and again does not allocate again and again) and an empty queue costs one lock.
    #[doc(alias = "wake_up_all")]
    pub fn wake_all(&self) -> usize {
        let mut left = None;
        let mut woke = 0;
        loop {
            // (The last one taken: no lock again only to find that.)
            if left == Some(0) {
                return woke;
            }
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
            sched::wake_up_owned(t);
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

    /// Forgets every waiter without waking it: for a `static` queue outside the kernel (the
    /// shell's) when a fresh fake system boots, whose waiters are threads of the last one. Waking
    /// them would put dead threads on the new system's run queues.
    #[cfg(all(not(target_os = "none"), not(loom)))]
    pub fn reset_for_fake(&self) {
        self.waiters.lock().clear();
    }
}
