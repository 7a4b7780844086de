//! Per-CPU software timers on the one-shot hardware deadline.
//!
//! Each CPU keeps its pending timers in a deadline structure ([`queue`]: a fixed-depth bitmap
//! trie over the deadline bits) whose arm, cancel and expiry cost does not grow with the number
//! of pending timers, and which always knows the exact earliest deadline. The hardware is
//! programmed for that deadline only, exactly (tickless: no rounding to a tick, never early;
//! with nothing pending the timer is disarmed), and re-programmed only when the earliest
//! deadline changes. Timers are armed on the calling CPU and fire there, in interrupt context,
//! in deadline order (equal deadlines in arm order); their action runs after the queue lock is
//! released. Cancelling from another CPU leaves that CPU's hardware armed: the interrupt then
//! finds nothing due and re-programs for the next timer.

mod queue;
#[cfg(all(test, not(loom)))]
mod tests;

use crate::MAX_CPUS;
use crate::sched::{self, Thread};
use crate::sync::IrqSpinLock;
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use queue::{Handle, TimerQueue};

/// What a timer does when it fires.
pub enum Action {
    /// Wake a sleeping thread.
    Wake(Arc<Thread>),
    /// End the running thread's time slice on this CPU.
    Resched,
    /// Run a function (in interrupt context: it must not sleep).
    Call(Box<dyn FnOnce() + Send>),
}

/// Identifies an armed timer, for [`cancel`]. Once the timer fired or was cancelled the id is
/// stale: cancelling it again does nothing, even if its slot was reused by a later timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerId {
    cpu: usize,
    deadline: u64,
    handle: Handle,
}

impl TimerId {
    /// The absolute deadline (counter ticks).
    pub fn deadline(&self) -> u64 {
        self.deadline
    }
    /// The CPU it fires on.
    pub fn cpu(&self) -> usize {
        self.cpu
    }
}

static QUEUES: [IrqSpinLock<TimerQueue<Action>>; MAX_CPUS] =
    [const { IrqSpinLock::new(TimerQueue::new()) }; MAX_CPUS];

/// Programs `cpu`'s hardware for its earliest deadline, if `cpu` is the calling CPU.
fn program(cpu: usize, q: &TimerQueue<Action>) {
    let port = crate::port::port();
    if port.cpu_id() == cpu {
        port.set_deadline(q.earliest());
    }
}

/// Arms a timer on this CPU for the absolute counter value `deadline` (a deadline already
/// passed fires at once).
pub fn arm(deadline: u64, action: Action) -> TimerId {
    let port = crate::port::port();
    let saved = port.irq_save();
    let cpu = port.cpu_id();
    let handle = {
        let mut q = QUEUES[cpu].lock();
        let before = q.earliest();
        let handle = q.arm(deadline, action);
        if q.earliest() != before {
            port.set_deadline(q.earliest());
        }
        handle
    };
    port.irq_restore(saved);
    TimerId {
        cpu,
        deadline,
        handle,
    }
}

/// Cancels a timer; returns whether it was still pending (its action will not run).
pub fn cancel(id: TimerId) -> bool {
    let removed = {
        let mut q = QUEUES[id.cpu].lock();
        let before = q.earliest();
        let removed = q.cancel(id.handle);
        if q.earliest() != before {
            program(id.cpu, &q);
        }
        removed
    };
    // The action (maybe the last reference to a thread) is dropped outside the lock.
    removed.is_some()
}

/// Whether `cpu` has any timer pending (a timer interrupt will come).
pub fn has_pending(cpu: usize) -> bool {
    QUEUES.get(cpu).is_some_and(|q| !q.lock().is_empty())
}

/// Timers pending on `cpu`, as `(deadline, kind)` with kind `wake`, `slice` or `call`, by
/// deadline (equal deadlines in arm order).
pub fn pending(cpu: usize) -> Vec<(u64, &'static str)> {
    QUEUES
        .get(cpu)
        .map(|q| {
            let q = q.lock();
            let mut v = Vec::with_capacity(q.len());
            q.for_each(|deadline, a| {
                let kind = match a {
                    Action::Wake(_) => "wake",
                    Action::Resched => "slice",
                    Action::Call(_) => "call",
                };
                v.push((deadline, kind));
            });
            v
        })
        .unwrap_or_default()
}

/// The timer interrupt of this CPU: runs every due timer, then programs the next deadline.
/// Called by the port with interrupts masked.
pub fn handle_irq() {
    let port = crate::port::port();
    let cpu = port.cpu_id();
    loop {
        let now = port.now();
        let due = {
            let mut q = QUEUES[cpu].lock();
            let due = q.pop_due(now).map(|(_, a)| a);
            if due.is_none() {
                program(cpu, &q);
            }
            due
        };
        match due {
            Some(Action::Wake(t)) => {
                sched::wake_up_process(&t);
            }
            Some(Action::Resched) => sched::set_need_resched(cpu),
            Some(Action::Call(f)) => f(),
            None => break,
        }
    }
}

/// Drops every pending timer (the fake port's fresh start).
#[cfg(all(any(test, feature = "fake"), not(loom)))]
pub(crate) fn reset_for_fake() {
    for q in &QUEUES {
        q.lock().clear();
    }
}
