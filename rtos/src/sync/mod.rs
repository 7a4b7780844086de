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
/// which keeps critical sections short by construction. Before a port is installed (early boot,
/// single CPU) it only locks.
///
/// A test-and-set lock (`spin`'s `SpinMutex`), as Zephyr's `k_spinlock` and NuttX's spinlocks
/// are by default: taking it free is one exclusive load and store, giving it back one release
/// store. Waiters are not served in arrival order, which the kernel's short critical sections
/// do not need (a ticket lock's order cost 10 more instructions per lock and unlock, on every
/// switch, wake-up and wait).
pub struct IrqSpinLock<T> {
    inner: spin::mutex::SpinMutex<T>,
}

impl<T> IrqSpinLock<T> {
    /// A new unlocked lock around `value`.
    pub const fn new(value: T) -> Self {
        Self {
            inner: spin::mutex::SpinMutex::new(value),
        }
    }

    /// Masks local interrupts, then takes the lock.
    #[inline]
    pub fn lock(&self) -> IrqSpinGuard<'_, T> {
        let saved = try_port().map(|p| p.irq_save());
        IrqSpinGuard {
            guard: self.take(),
            _saved: Restore(saved),
        }
    }

    /// Takes the lock in code that already runs with interrupts masked on this CPU (the
    /// scheduler's and the timer's hot paths): the same lock, without saving and restoring the
    /// mask again. Taking it with interrupts enabled could deadlock against an interrupt
    /// handler on this CPU that takes the same lock.
    #[inline]
    pub(crate) fn lock_masked(&self) -> IrqSpinGuard<'_, T> {
        IrqSpinGuard {
            guard: self.take(),
            _saved: Restore(None),
        }
    }

    /// One attempt inline (free: an exclusive load and store); a held lock is waited for out
    /// of line.
    #[inline(always)]
    fn take(&self) -> spin::mutex::SpinMutexGuard<'_, T> {
        match self.inner.try_lock_weak() {
            Some(g) => g,
            None => Self::wait_and_take(&self.inner),
        }
    }

    /// While another CPU holds the lock, wait through [`crate::port::relax`], then try again.
    /// Out of line and cold: the uncontended path pays nothing for it.
    #[cold]
    #[inline(never)]
    fn wait_and_take(inner: &spin::mutex::SpinMutex<T>) -> spin::mutex::SpinMutexGuard<'_, T> {
        loop {
            while inner.is_locked() {
                crate::port::relax();
            }
            if let Some(g) = inner.try_lock_weak() {
                return g;
            }
        }
    }

    /// Takes the lock only if it is free right now (interrupts restored on failure).
    pub fn try_lock(&self) -> Option<IrqSpinGuard<'_, T>> {
        let saved = try_port().map(|p| p.irq_save());
        match self.inner.try_lock() {
            Some(guard) => Some(IrqSpinGuard {
                guard,
                _saved: Restore(saved),
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

/// Holds an [`IrqSpinLock`]; unlocks, then restores the interrupt state, when dropped (fields
/// drop in order: the lock's guard first, so an interrupt taken right after the unmask finds the
/// lock free).
pub struct IrqSpinGuard<'a, T> {
    guard: spin::mutex::SpinMutexGuard<'a, T>,
    _saved: Restore,
}

/// The interrupt state an [`IrqSpinGuard`] restores when it drops (none for
/// [`IrqSpinLock::lock_masked`]).
struct Restore(Option<IrqState>);

impl Drop for Restore {
    #[inline]
    fn drop(&mut self) {
        restore(self.0);
    }
}

impl<T> Deref for IrqSpinGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for IrqSpinGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}
