//! Synchronisation primitives.
//!
//! - [`IrqSpinLock`]: a spinlock that masks interrupts on the local CPU while held, so it can be
//!   shared between thread context and interrupt handlers without deadlocking a CPU against itself.
//! - [`Mutex`]: a sleeping mutex for thread context (holders may sleep).
//! - [`OnceRef`]: a write-once `&'static` slot (used for the installed port and drivers).
//! - [`atomic`]: the atomics every lock-free structure uses; under `cfg(loom)` they are loom's, so
//!   the same code is model-checked on the host.
//! - [`Lock`]: the lock a kernel state machine is written against ([`IrqSpinLock`] in the kernel,
//!   loom's mutex under `cfg(loom)`), so that the same code is model-checked on the host.

pub mod atomic;

use crate::port::{IrqState, try_port};
use core::ops::{Deref, DerefMut};

/// A write-once slot holding a `&'static T` (also for unsized `T` such as `dyn Port`).
pub struct OnceRef<T: ?Sized + 'static>(spin::Once<&'static T>);

impl<T: ?Sized + 'static> OnceRef<T> {
    /// An empty slot.
    pub const fn new() -> Self {
        Self(spin::Once::new())
    }
    /// Stores `value` if the slot is empty; returns whether it did.
    pub fn set(&self, value: &'static T) -> bool {
        let mut stored = false;
        self.0.call_once(|| {
            stored = true;
            value
        });
        stored
    }
    /// The stored reference, if set.
    pub fn get(&self) -> Option<&'static T> {
        self.0.get().copied()
    }
}

impl<T: ?Sized + 'static> Default for OnceRef<T> {
    fn default() -> Self {
        Self::new()
    }
}

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

/// A sleeping mutex: a thread that finds it taken sleeps on a wait queue until it is released,
/// so a holder may sleep (or be preempted) without other threads burning their CPUs. Where
/// sleeping is impossible (interrupts masked, an idle thread, or before the scheduler runs) it
/// spins instead. Unlocking wakes the longest waiter, which then retries; not strictly FIFO.
pub struct Mutex<T> {
    inner: spin::mutex::SpinMutex<T>,
    waiters: crate::sched::WaitQueue,
}

/// Holds a [`Mutex`]; releases it, then wakes one waiter, when dropped.
pub struct MutexGuard<'a, T> {
    guard: Option<spin::mutex::SpinMutexGuard<'a, T>>,
    waiters: &'a crate::sched::WaitQueue,
}

impl<T> Mutex<T> {
    /// A new unlocked mutex around `value`.
    pub const fn new(value: T) -> Self {
        Self {
            inner: spin::mutex::SpinMutex::new(value),
            waiters: crate::sched::WaitQueue::new(),
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

#[cfg(all(test, not(loom)))]
pub(crate) mod tests {
    use super::*;
    use crate::fake;

    #[test]
    fn lock_masks_and_restores_irqs_nested() {
        let p = fake::install();
        let a = IrqSpinLock::new(1u32);
        let b = IrqSpinLock::new(2u32);
        assert!(!p.irqs_masked());
        {
            let ga = a.lock();
            assert!(p.irqs_masked());
            {
                let gb = b.lock();
                assert_eq!(*ga + *gb, 3);
            }
            // Inner guard restored the *masked* state it found, not "unmasked".
            assert!(p.irqs_masked());
        }
        assert!(!p.irqs_masked());
    }

    #[test]
    fn try_lock_fails_while_held_and_restores_state() {
        let p = fake::install();
        let a = IrqSpinLock::new(());
        let g = a.lock();
        assert!(a.is_locked());
        assert!(a.try_lock().is_none());
        assert!(p.irqs_masked(), "failed try_lock must not unmask");
        drop(g);
        assert!(!p.irqs_masked());
        assert!(a.try_lock().is_some());
    }

    #[test]
    fn lock_excludes_across_threads() {
        fake::install();
        let counter = std::sync::Arc::new(IrqSpinLock::new(0u64));
        // Yield between rounds: a ticket lock whose next holder the host OS has descheduled stalls
        // everyone (a convoy), which on a loaded 2-core machine turns seconds into minutes.
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let c = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..3_000 {
                        {
                            let mut g = c.lock();
                            let v = *g;
                            std::hint::black_box(&v);
                            *g = v + 1;
                        }
                        std::thread::yield_now();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*counter.lock(), 9_000);
    }

    #[test]
    fn once_ref_first_set_wins() {
        static SLOT: OnceRef<str> = OnceRef::new();
        assert!(SLOT.get().is_none());
        assert!(SLOT.set("first"));
        assert!(!SLOT.set("second"));
        assert_eq!(SLOT.get(), Some("first"));
    }
}
