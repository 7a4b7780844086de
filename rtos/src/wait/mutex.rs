//! [`Mutex`]: a sleeping lock for thread context, whose holder may sleep.

use super::queue::WaitQueue;
use crate::port::try_port;
use core::ops::{Deref, DerefMut};

/// A sleeping mutex: a thread that finds it taken sleeps on a wait queue until it is released,
/// so a holder may sleep (or be preempted) without other threads burning their CPUs. Where
/// sleeping is impossible (interrupts masked, an idle thread, or before the scheduler runs) it
/// spins instead. Unlocking wakes the longest waiter, which then retries; not strictly FIFO.
pub struct Mutex<T> {
    inner: spin::mutex::SpinMutex<T>,
    waiters: WaitQueue,
}

/// Holds a [`Mutex`]; releases it, then wakes one waiter, when dropped.
pub struct MutexGuard<'a, T> {
    guard: Option<spin::mutex::SpinMutexGuard<'a, T>>,
    waiters: &'a WaitQueue,
}

impl<T> Mutex<T> {
    /// A new unlocked mutex around `value`.
    pub const fn new(value: T) -> Self {
        Self {
            inner: spin::mutex::SpinMutex::new(value),
            waiters: WaitQueue::new(),
        }
    }

    /// Takes the mutex, sleeping while another thread holds it.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if let Some(g) = self.try_lock() {
            return g;
        }
        let can_sleep = try_port().is_some_and(|p| !p.irqs_masked())
            && crate::sched::current().is_some_and(|t| !t.is_idle());
        let mut got = None;
        if can_sleep {
            let _ = self.waiters.wait_event(
                || {
                    got = self.inner.try_lock();
                    got.is_some()
                },
                None,
            );
        }
        let guard = loop {
            if let Some(g) = got.take().or_else(|| self.inner.try_lock()) {
                break g;
            }
            crate::port::relax();
        };
        MutexGuard {
            guard: Some(guard),
            waiters: &self.waiters,
        }
    }

    /// Takes the mutex only if it is free now.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.inner.try_lock().map(|g| MutexGuard {
            guard: Some(g),
            waiters: &self.waiters,
        })
    }

    /// Whether someone holds it (a snapshot, for diagnostics only).
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().expect("guard present until drop")
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().expect("guard present until drop")
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        drop(self.guard.take());
        // A waiter that checked and queued itself before the unlock above did so under the
        // queue's lock, which `wake_one` takes: it is found here. A later one finds it free.
        self.waiters.wake_one();
    }
}
