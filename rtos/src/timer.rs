//! Per-CPU software timers on the one-shot hardware deadline.
//!
//! Each CPU keeps its pending timers ordered by deadline; the hardware is programmed for the
//! earliest one only (tickless: with nothing pending the timer is disarmed). Timers are armed on
//! the calling CPU and fire there, in interrupt context; their action runs after the queue lock is
//! released. Cancelling from another CPU leaves that CPU's hardware armed: the interrupt then finds
//! nothing due and re-programs for the next timer.

use crate::MAX_CPUS;
use crate::sched::{self, Thread};
use crate::sync::IrqSpinLock;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

/// What a timer does when it fires.
pub enum Action {
    /// Wake a sleeping thread.
    Wake(Arc<Thread>),
    /// End the running thread's time slice on this CPU.
    Resched,
    /// Run a function (in interrupt context: it must not sleep).
    Call(Box<dyn FnOnce() + Send>),
}

/// Identifies an armed timer, for [`cancel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerId {
    cpu: usize,
    key: (u64, u64),
}

impl TimerId {
    /// The absolute deadline (counter ticks).
    pub fn deadline(&self) -> u64 {
        self.key.0
    }
    /// The CPU it fires on.
    pub fn cpu(&self) -> usize {
        self.cpu
    }
}

static QUEUES: [IrqSpinLock<BTreeMap<(u64, u64), Action>>; MAX_CPUS] =
    [const { IrqSpinLock::new(BTreeMap::new()) }; MAX_CPUS];
static SEQ: AtomicU64 = AtomicU64::new(0);

fn program(cpu: usize, q: &BTreeMap<(u64, u64), Action>) {
    let port = crate::port::port();
    if port.cpu_id() == cpu {
        port.set_deadline(q.keys().next().map(|k| k.0));
    }
}

/// Arms a timer on this CPU for the absolute counter value `deadline`.
pub fn arm(deadline: u64, action: Action) -> TimerId {
    let port = crate::port::port();
    let saved = port.irq_save();
    let cpu = port.cpu_id();
    let key = (deadline, SEQ.fetch_add(1, Ordering::Relaxed));
    {
        let mut q = QUEUES[cpu].lock();
        let earliest = q.keys().next().is_none_or(|k| key < *k);
        q.insert(key, action);
        if earliest {
            program(cpu, &q);
        }
    }
    port.irq_restore(saved);
    TimerId { cpu, key }
}

/// Cancels a timer; returns whether it was still pending (its action will not run).
pub fn cancel(id: TimerId) -> bool {
    let mut q = QUEUES[id.cpu].lock();
    let was = q.remove(&id.key).is_some();
    if was {
        program(id.cpu, &q);
    }
    was
}

/// Whether `cpu` has any timer pending (a timer interrupt will come).
pub fn has_pending(cpu: usize) -> bool {
    QUEUES.get(cpu).is_some_and(|q| !q.lock().is_empty())
}

/// Timers pending on `cpu`, as `(deadline, kind)` with kind `wake`, `slice` or `call`.
pub fn pending(cpu: usize) -> Vec<(u64, &'static str)> {
    QUEUES
        .get(cpu)
        .map(|q| {
            q.lock()
                .iter()
                .map(|(k, a)| {
                    let kind = match a {
                        Action::Wake(_) => "wake",
                        Action::Resched => "slice",
                        Action::Call(_) => "call",
                    };
                    (k.0, kind)
                })
                .collect()
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
            match q.first_key_value() {
                Some((k, _)) if k.0 <= now => q.pop_first().map(|(_, a)| a),
                _ => {
                    program(cpu, &q);
                    None
                }
            }
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
