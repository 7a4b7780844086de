//! Sleeping until something happens: wait queues, completions, the sleeping mutex and helpers.
//!
//! - [`WaitQueue`]: threads sleeping until a condition holds; the condition is checked under the
//!   queue's lock, so a wake-up after the change cannot be missed.
//! - [`Completion`]: a counting event, as Linux's `struct completion`.
//! - [`Mutex`]: a sleeping lock for thread context (holders may sleep).
//! - [`wait_var_event`] / [`wake_up_var`]: waiting for a condition on an object that has no wait
//!   queue of its own (a thread's exit or park), on a hashed table of queues.
//!
//! This layer sits on the scheduler ([`crate::sched`]): a waiter marks itself sleeping and calls
//! [`schedule`](crate::sched::schedule); a waker calls
//! [`wake_up_process`](crate::sched::wake_up_process).
//!
//! # Example
//! ```
//! use rtos::{kthread, wait::Completion};
//! use std::sync::Arc;
//! rtos::fake::run(2, || {
//!     let done = Arc::new(Completion::new());
//!     let d = done.clone();
//!     kthread::run("signaller", move || {
//!         d.complete();
//!         0
//!     })
//!     .unwrap();
//!     done.wait(); // sleeps until the other thread completes it
//!     0
//! });
//! ```

mod completion;
mod mutex;
mod queue;
mod var;

pub use completion::Completion;
pub use mutex::{Mutex, MutexGuard};
pub use queue::{WaitError, WaitQueue};
pub use var::{wait_var_event, wake_up_var};

use crate::time::Instant;

/// [`WaitQueue::wait_event`] with the condition behind a `dyn`: one copy of the waiting code for
/// the cold waits (kthread_worker cancel, the console's input wait, the shell's stress and
/// klogd) instead of one inlined per condition (~1 KB each). Not for the flushes: the benchmarks
/// measure them, and the `dyn` call cost them 4-5%.
#[inline(never)]
pub fn wait_event_dyn(
    q: &WaitQueue,
    cond: &mut dyn FnMut() -> bool,
    deadline: Option<Instant>,
) -> Result<(), WaitError> {
    q.wait_event(cond, deadline)
}
