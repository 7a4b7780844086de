//! Waiting on a variable, as Linux's `wait_var_event` / `wake_up_var`: a thread sleeps until a
//! condition on some object holds, on one of a fixed table of wait queues chosen by the object's
//! address. The object needs no wait queue of its own (a thread control block does not carry
//! one for every way to wait for it); whoever changes what the condition reads calls
//! [`wake_up_var`] with the same object afterwards. Unrelated objects may share a queue: their
//! waiters wake, find their own condition false and sleep again.

use super::queue::{WaitError, WaitQueue};
use crate::time::Instant;

/// Queues in the table (a power of two).
const QUEUES: usize = 64;

static TABLE: [WaitQueue; QUEUES] = [const { WaitQueue::new() }; QUEUES];

/// The queue `var` waits on: a multiplicative hash of its address.
fn queue_of<T: ?Sized>(var: &T) -> &'static WaitQueue {
    let addr = core::ptr::from_ref(var).cast::<u8>() as usize as u64;
    let h = (addr >> 4).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - QUEUES.trailing_zeros());
    &TABLE[h as usize]
}

/// Sleeps until `cond()` holds (checked under the queue's lock, so a [`wake_up_var`] after the
/// change it reads cannot be missed), or until `deadline` passes. Generic like
/// [`WaitQueue::wait_event`]: a cold caller passes a `&mut dyn FnMut() -> bool` to share one copy
/// of the waiting code.
pub fn wait_var_event<T: ?Sized>(
    var: &T,
    cond: impl FnMut() -> bool,
    deadline: Option<Instant>,
) -> Result<(), WaitError> {
    queue_of(var).wait_event(cond, deadline)
}

/// Wakes the threads waiting on `var` (and any others sharing its queue, which check again).
pub fn wake_up_var<T: ?Sized>(var: &T) {
    queue_of(var).wake_all();
}
