//! Deferred work, with the contracts of Linux's task_work, irq_work, workqueues and kthread
//! workers (see each module).

pub mod irq_work;
pub mod kthread_worker;
pub mod task_work;
pub mod workqueue;

use crate::sched::{WaitError, WaitQueue};

/// [`WaitQueue::wait_event`] with the condition behind a `dyn`: one copy of the waiting code for
/// the cold waits (kthread_worker cancel, the shell's stress and klogd) instead of one inlined per
/// condition. Not for the flushes: the benchmarks measure them, and the `dyn` call cost 4-5%.
#[inline(never)]
pub fn wait_event_dyn(
    q: &WaitQueue,
    cond: &mut dyn FnMut() -> bool,
    deadline: Option<u64>,
) -> Result<(), WaitError> {
    q.wait_event(cond, deadline)
}
