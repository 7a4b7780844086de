//! Waiting helpers on top of [`WaitQueue`].

use crate::sched::{WaitError, WaitQueue};

/// [`WaitQueue::wait_event`] with the condition behind a `dyn`: one copy of the waiting code for
/// the cold waits (kthread_worker cancel, the console's input wait, the shell's stress and
/// klogd) instead of one inlined per condition (~1 KB each). Not for the flushes: the benchmarks
/// measure them, and the `dyn` call cost them 4-5%.
#[inline(never)]
pub fn wait_event_dyn(
    q: &WaitQueue,
    cond: &mut dyn FnMut() -> bool,
    deadline: Option<u64>,
) -> Result<(), WaitError> {
    q.wait_event(cond, deadline)
}
