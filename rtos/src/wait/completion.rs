//! [`Completion`]: a counter plus a wait queue, as in Linux: `complete` releases one waiter (or
//! banks one wake-up), `complete_all` releases every present and future waiter until
//! re-initialised.

use super::queue::{WaitError, WaitQueue};
use crate::time::Instant;
use core::sync::atomic::{AtomicU32, Ordering};

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
    #[doc(alias = "wait_for_completion")]
    pub fn wait(&self) {
        let _ = self.wait_inner(None);
    }

    /// Like [`Completion::wait`], giving up when `deadline` passes.
    #[doc(alias = "wait_for_completion_timeout")]
    pub fn wait_until(&self, deadline: Instant) -> Result<(), WaitError> {
        self.wait_inner(Some(deadline))
    }

    /// Already done: no queue lock and no look at the current thread (as Linux's
    /// `try_wait_for_completion` before it sleeps). Otherwise the queue's checked wait.
    fn wait_inner(&self, deadline: Option<Instant>) -> Result<(), WaitError> {
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
    #[doc(alias = "completion_done")]
    pub fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire) != 0
    }

    /// Back to "not done".
    #[doc(alias = "reinit_completion")]
    pub fn reinit(&self) {
        self.done.store(0, Ordering::Release);
    }
}
