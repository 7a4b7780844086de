//! Synchronisation primitives that never sleep (the sleeping [`Mutex`](crate::wait::Mutex) is in
//! [`crate::wait`], above the scheduler).
//!
//! - [`IrqSpinLock`]: a spinlock that masks interrupts on the local CPU while held, so it can be
//!   shared between thread context and interrupt handlers without deadlocking a CPU against itself.
//! - [`atomic`]: the atomics every lock-free structure uses; under `cfg(loom)` they are loom's, so
//!   the same code is model-checked on the host.
//! - [`Lock`]: the lock a kernel state machine is written against ([`IrqSpinLock`] in the kernel,
//!   loom's mutex under `cfg(loom)`), so that the same code is model-checked on the host.

pub mod atomic;

use crate::port::{IrqState, try_port};
use core::ops::{Deref, DerefMut};

/// A spinlock that masks interrupts on the local CPU while it is held.
///
/// Taking it from an interrupt handler while the same CPU holds it in thread context cannot
/// happen: the holder runs with interrupts masked. Waiters spin with interrupts masked too,
/// which keeps critical sections short by construction. Ticket-based, so waiters are served in
/// FIFO order across CPUs. Before a port is installed (early boot, single CPU) it only locks.
pub struct IrqSpinLock<T> {
    inner: spin::mutex::TicketMutex<T>,
}

impl<T> IrqSpinLock<T> {
    /// A new unlocked lock around `value`.
    pub const fn new(value: T) -> Self {
        Self {
            inner: spin::mutex::TicketMutex::new(value),
        }
    }

    /// Masks local interrupts, then takes the lock.
    #[inline]
    pub fn lock(&self) -> IrqSpinGuard<'_, T> {
        let saved = try_port().map(|p| p.irq_save());
        if self.inner.is_locked() {
            Self::wait_while_locked(&self.inner);
        }
        IrqSpinGuard {
            // Free a moment ago: a ticket, and at most a short spin if another CPU came first.
            guard: Some(self.inner.lock()),
            saved,
        }
    }

    /// Takes the lock in code that already runs with interrupts masked on this CPU (the
    /// scheduler's and the timer's hot paths): the same lock, without saving and restoring the
    /// mask again. Taking it with interrupts enabled could deadlock against an interrupt
    /// handler on this CPU that takes the same lock.
    #[inline]
    pub(crate) fn lock_masked(&self) -> IrqSpinGuard<'_, T> {
        if self.inner.is_locked() {
            Self::wait_while_locked(&self.inner);
        }
        IrqSpinGuard {
            guard: Some(self.inner.lock()),
            saved: None,
        }
    }

    /// While another CPU holds the lock, wait through [`crate::port::relax`]. Out of line and
    /// cold: the uncontended path pays two loads for it, not a call in its loop.
    #[cold]
    #[inline(never)]
    fn wait_while_locked(inner: &spin::mutex::TicketMutex<T>) {
        while inner.is_locked() {
            crate::port::relax();
        }
    }

    /// Takes the lock only if it is free right now (interrupts restored on failure).
    pub fn try_lock(&self) -> Option<IrqSpinGuard<'_, T>> {
        let saved = try_port().map(|p| p.irq_save());
        match self.inner.try_lock() {
            Some(guard) => Some(IrqSpinGuard {
                guard: Some(guard),
                saved,
            }),
            None => {
                restore(saved);
                None
            }
        }
    }

    /// The value, through exclusive access (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    /// Whether some CPU holds the lock (a snapshot, for diagnostics only).
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }
}

impl<T: Default> Default for IrqSpinLock<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

/// A lock as a kernel state machine sees it: exclusive access to a `T` until the guard drops.
///
/// The deferred-work cores (`work::task_work`, `work::kthread_worker`) take their locks through
/// this trait, so the kernel runs them under an [`IrqSpinLock`] while their loom models
/// (`cfg(loom)`) run the very same code under loom's mutex, whose interleavings loom explores.
pub trait Lock<T> {
    /// Holds the lock; releases it when dropped.
    type Guard<'a>: DerefMut<Target = T>
    where
        Self: 'a;
    /// Takes the lock, waiting while another holder has it.
    fn lock(&self) -> Self::Guard<'_>;
}

impl<T> Lock<T> for IrqSpinLock<T> {
    type Guard<'a>
        = IrqSpinGuard<'a, T>
    where
        Self: 'a;
    #[inline]
    fn lock(&self) -> IrqSpinGuard<'_, T> {
        IrqSpinLock::lock(self)
    }
}

/// Under loom the state machines' locks are loom's mutex (a spinlock would spin outside loom's
/// view, and masking interrupts means nothing on the host).
#[cfg(loom)]
impl<T> Lock<T> for loom::sync::Mutex<T> {
    type Guard<'a>
        = loom::sync::MutexGuard<'a, T>
    where
        Self: 'a;
    fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
        loom::sync::Mutex::lock(self).expect("a loom model panicked while holding a lock")
    }
}

fn restore(saved: Option<IrqState>) {
    if let Some(state) = saved
        && let Some(port) = try_port()
    {
        port.irq_restore(state);
    }
}

/// Holds an [`IrqSpinLock`]; unlocks, then restores the interrupt state, when dropped.
pub struct IrqSpinGuard<'a, T> {
    guard: Option<spin::mutex::TicketMutexGuard<'a, T>>,
    saved: Option<IrqState>,
}

impl<T> Deref for IrqSpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().expect("guard present until drop")
    }
}

impl<T> DerefMut for IrqSpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().expect("guard present until drop")
    }
}

impl<T> Drop for IrqSpinGuard<'_, T> {
    fn drop(&mut self) {
        // Unlock first, then unmask: an interrupt taken right after must find the lock free.
        drop(self.guard.take());
        restore(self.saved);
    }
}
