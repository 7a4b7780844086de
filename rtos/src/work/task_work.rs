//! Per-thread deferred callbacks, with the contracts of Linux's `kernel/task_work.c`.
//!
//! A [`TaskWork`] is a named callback queued on one thread with [`add`] and run later
//! *by that thread, in its own context*, when it crosses a kernel boundary.
//!
//! Names are module-qualified and short (`task_work::add`); each carries its Linux name as a
//! rustdoc alias (`task_work_add`).
//!
//! # Contracts
//! - "[`add`] pushes the work onto the thread's own list (LIFO: the most recently
//!   queued runs first; nothing more is promised about order) and fails with
//!   [`Error::NoSuchThread`] (ESRCH) once the thread is exiting or has exited; the work is then
//!   not queued." The caller arranges something else in that case.
//! - "A work is queued on at most one thread at a time": adding a work that is still queued
//!   (here or on another thread) fails with [`Error::Busy`]. It becomes free again the moment it
//!   is cancelled, or just before its callback is called (so a callback may queue itself again).
//! - "Works run in the thread's own context, once each, when the thread crosses a kernel boundary
//!   with its notify flag set": on the return from an interrupt or exception into it
//!   ([`crate::sched::preempt_irq`]), on the return from a sleep ([`crate::sched::sleep_until`],
//!   [`crate::sched::sleep_interruptible_until`]), a park ([`crate::kthread::parkme`]) or a yield
//!   ([`crate::sched::yield_now`]), and always at exit.
//! - "At exit, the thread is marked exiting first (adds from other threads fail from then on),
//!   then runs what is left; works queued by those works (from the exiting thread itself) run in
//!   the same final pass, after which every add fails."
//! - "A callback may add more works; they run in the same pass": the run loop takes the whole
//!   list at once and repeats until it finds it empty. A boundary crossed *inside* a callback
//!   (it sleeps, or is interrupted) does not start a nested run; the outer loop picks the new
//!   works up. (So an interruptible sleep inside a callback returns at once while new notified
//!   works wait for the callback to finish: callbacks that sleep should sleep uninterruptibly.)
//! - "Cancel and run never both take the same work; a cancelled work never runs": both remove the
//!   work from the list under its lock, and whoever removed it owns it.
//!
//! # Notify modes ([`Notify`])
//! - [`Notify::None`]: no flag; the work waits for the thread's exit, or for a later notifying add.
//! - [`Notify::Resume`]: sets the flag without waking; a parked or sleeping thread runs the work
//!   when it resumes.
//! - [`Notify::Signal`]: sets the flag, wakes the thread out of an interruptible sleep
//!   ([`crate::sched::sleep_interruptible_until`]; not out of [`crate::sched::sleep_until`], a
//!   completion wait or a park), and if the thread is running on another CPU sends that CPU a
//!   reschedule SGI so the thread crosses an interrupt boundary now.
//! - [`Notify::SignalNoIpi`]: as `Signal` without the SGI: the work runs at the thread's next
//!   interrupt or boundary.
//! - [`Notify::NmiCurrent`]: only for the calling thread itself ([`Error::Invalid`], EINVAL,
//!   otherwise); raises this CPU's irq_work (a self-SGI), whose hard-IRQ callback sets the flag,
//!   so the works run on the return from that interrupt, as Linux does to stay usable from NMI
//!   context.
//!
//! Idle threads never run task works (they must never sleep): adding to one is
//! [`Error::Invalid`].
//!
//! # Where it lives
//! The list each thread carries and its protocol (the `queued` flag, add, cancel, the run pass and
//! the exit pass that closes the list) are in `sched::task_works`, next to the thread
//! control block, and model-checked there with loom. This module is what needs the scheduler:
//! notification, wake-ups and the run loop. The scheduler calls the run loop (`run_notified`)
//! at a notified thread's kernel boundaries through the hook [`crate::entry`] registers; the
//! kthread exit calls `run_at_exit`.
//!
//! # Example
//! A work queued on a sleeping thread with [`Notify::Signal`] wakes it, and the thread runs the
//! work itself on its way out of the sleep:
//!
//! ```
//! use rtos::work::task_work::{self, Notify, TaskWork};
//! use rtos::{kthread, sched, time::{Duration, Instant}};
//! use std::sync::{Arc, Mutex};
//! rtos::fake::run(2, || {
//!     let t = kthread::run("target", || {
//!         while !kthread::should_stop() {
//!             sched::sleep_interruptible_until(Instant::after(Duration::from_secs(60)));
//!         }
//!         0
//!     })
//!     .unwrap();
//!     let ran_in = Arc::new(Mutex::new(None));
//!     let r = ran_in.clone();
//!     let work = TaskWork::new("hello", move |_| {
//!         *r.lock().unwrap() = sched::current().map(|me| me.tid());
//!     });
//!     task_work::add(t.thread(), work, Notify::Signal).unwrap();
//!     while ran_in.lock().unwrap().is_none() {
//!         sched::sleep(Duration::from_millis(1));
//!     }
//!     assert_eq!(*ran_in.lock().unwrap(), Some(t.tid())); // in the target's own context
//!     kthread::stop(&t);
//!     0
//! });
//! ```

use crate::error::Error;
use crate::port::{self, Sgi};
use crate::sched::task_works::TaskWorks;
use crate::sched::{self, State, Thread};
pub use crate::sched::{TaskWork, TaskWorkFn};
use crate::sync::atomic::Ordering;
use crate::work::account::{self, Event, WorkKind};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// How [`add`] tells the thread (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notify {
    /// No notification: runs at exit or after a later notifying add.
    None,
    /// Flag only: runs at the thread's next boundary (resume from sleep or park, interrupt).
    Resume,
    /// Flag, wake from an interruptible sleep, SGI if running on another CPU.
    Signal,
    /// Flag and wake from an interruptible sleep, no SGI.
    SignalNoIpi,
    /// The calling thread only: flag set directly.
    NmiCurrent,
}

/// Queues `work` on `t` and notifies `t` as `notify` says.
///
/// Errors: [`Error::NoSuchThread`] (ESRCH) if `t` is exiting or has exited (the work is not
/// queued); [`Error::Busy`] if `work` is already queued; [`Error::Invalid`] (EINVAL) for
/// [`Notify::NmiCurrent`] on a thread other than the caller, or for an idle thread.
#[doc(alias = "task_work_add")]
pub fn add(t: &Arc<Thread>, work: Arc<TaskWork>, notify: Notify) -> Result<(), Error> {
    if t.is_idle() {
        return Err(Error::Invalid);
    }
    let own = sched::is_current(t);
    if notify == Notify::NmiCurrent && !own {
        return Err(Error::Invalid);
    }
    // Once exiting, only the thread's own final pass may still queue (works adding works).
    // (Recorded under the list's lock, just before the push: before any run of it.)
    let traced = crate::trace::on().then(|| work.traced());
    TaskWorks::add(&t.task_works, work, || {
        let refuse = t.is_exiting() && !own;
        if let (false, Some(w)) = (refuse, traced) {
            let b = u64::from(t.tid()) | (notify as u64) << 32;
            crate::trace::emit(crate::trace::Kind::TaskWorkAdd, w, b);
        }
        refuse
    })?;
    account::count(WorkKind::TaskWork, Event::Submitted);
    match notify {
        Notify::None => {}
        Notify::Resume => t.set_notify(),
        Notify::NmiCurrent => raise_nmi_notify(t)?,
        Notify::Signal | Notify::SignalNoIpi => {
            // The flag before the wake: a thread about to sleep interruptibly either is seen
            // asleep by the wake (under its run-queue lock) or sees the flag and does not sleep.
            t.set_notify();
            sched::wake_interruptible(t);
            if notify == Notify::Signal && !own {
                kick_if_running_elsewhere(t);
            }
        }
    }
    Ok(())
}

/// Per-CPU irq_works behind [`Notify::NmiCurrent`], created on first use.
#[cfg(not(loom))]
static NMI_WORKS: [crate::sync::IrqSpinLock<Option<crate::work::irq_work::IrqWork>>;
    crate::config::MAX_CPUS] =
    [const { crate::sync::IrqSpinLock::new(None) }; crate::config::MAX_CPUS];

/// Queues this CPU's irq_work that sets the current thread's task_work flag from hard-IRQ
/// context (the interrupt is taken as soon as the caller has interrupts enabled).
#[cfg(not(loom))]
fn raise_nmi_notify(_current: &Thread) -> Result<(), Error> {
    use crate::work::irq_work;
    let p = port::port();
    let saved = p.irq_save();
    let cpu = p.cpu_id();
    let cached = *NMI_WORKS[cpu].lock();
    let work = match cached {
        Some(w) => Ok(w),
        None => make_nmi_works(cpu),
    };
    let result = work.map(|w| {
        irq_work::queue(w);
    });
    p.irq_restore(saved);
    result
}

/// Makes every CPU's [`NMI_WORKS`] entry at once, the first time one is needed (a cache of one
/// slot per CPU, so that the irq_work slots in use do not creep up as CPUs first need theirs);
/// returns `cpu`'s.
#[cfg(not(loom))]
#[cold]
fn make_nmi_works(cpu: usize) -> Result<crate::work::irq_work::IrqWork, Error> {
    use crate::work::irq_work::IrqWork;
    for slot in &NMI_WORKS {
        let mut slot = slot.lock();
        if slot.is_none() {
            *slot = Some(IrqWork::new(
                "task_work-nmi",
                false,
                alloc::sync::Arc::new(|_: &IrqWork| {
                    if let Some(t) = sched::current() {
                        t.set_notify();
                    }
                }),
            )?);
        }
    }
    NMI_WORKS[cpu].lock().ok_or(Error::NoMemory)
}

/// Under loom (which models only the lock-free cores, never this path) the flag is set directly.
#[cfg(loom)]
fn raise_nmi_notify(current: &Thread) -> Result<(), Error> {
    current.set_notify();
    Ok(())
}

/// Forgets the per-CPU irq_works (the fake port's fresh start; their slots are reset too).
#[cfg(all(not(target_os = "none"), not(loom)))]
pub(crate) fn reset_for_fake() {
    for w in &NMI_WORKS {
        *w.lock() = None;
    }
}

/// Sends the reschedule SGI to the CPU `t` is running on, if that is not this CPU: the interrupt's
/// return path runs its works.
fn kick_if_running_elsewhere(t: &Thread) {
    let p = port::port();
    let saved = p.irq_save();
    let here = p.cpu_id();
    let cpu = t.cpu();
    if t.state() == State::Running && cpu != here {
        sched::send_sgi(Sgi::Resched, 1 << cpu);
    }
    p.irq_restore(saved);
}

/// Removes and returns the most recently queued work of `t` for which `pred` holds, if any. The
/// returned work will not run (unless queued again).
#[doc(alias = "task_work_cancel_match")]
pub fn cancel_match(t: &Thread, pred: impl FnMut(&TaskWork) -> bool) -> Option<Arc<TaskWork>> {
    let w = TaskWorks::cancel_match(&t.task_works, pred)?;
    account::count(WorkKind::TaskWork, Event::Cancelled);
    Some(w)
}

/// Removes and returns the most recently queued work of `t` called `name` (the name stands for
/// the work's function, as the shell creates them).
#[doc(alias = "task_work_cancel_func")]
pub fn cancel_func(t: &Thread, name: &str) -> Option<Arc<TaskWork>> {
    cancel_match(t, |w| w.name() == name)
}

/// Removes `work` from `t`'s list: true if it was queued there and is now removed (it will not
/// run), false if it was not queued on `t` (not queued, already running or run, or elsewhere).
#[doc(alias = "task_work_cancel")]
pub fn cancel(t: &Thread, work: &Arc<TaskWork>) -> bool {
    cancel_match(t, |w| core::ptr::eq(w, &**work)).is_some()
}

/// How many works are queued on `t`.
pub fn pending(t: &Thread) -> usize {
    t.task_works.lock().len()
}

/// The names of the works queued on `t`, in the order they would run (newest first).
pub fn list(t: &Thread) -> Vec<String> {
    t.task_works.lock().names()
}

/// The boundary hook (registered with [`sched::set_resume_hook`] by [`crate::entry`]): the
/// calling thread runs its works if it was notified and is not already running them further up
/// its stack.
#[cfg_attr(loom, allow(dead_code))] // (its caller, `entry`, is not built for the loom models)
pub(crate) fn run_notified() {
    let Some(me) = sched::current() else { return };
    if !sched::resume_pending(Some(&me)) || me.task_work_running.swap(true, Ordering::AcqRel) {
        return;
    }
    run(&me, false);
    me.task_work_running.store(false, Ordering::Release);
}

/// The exit pass (called by the exiting thread, after it set itself exiting): runs every work
/// left, including those the works queue, then closes the list.
pub(crate) fn run_at_exit(me: &Thread) {
    me.task_work_running.store(true, Ordering::Release);
    run(me, true);
}

/// Takes the whole list at once, runs it newest first, and again until the list is empty. With
/// `close`, the list is closed by the same lock hold that finds it empty.
fn run(me: &Thread, close: bool) {
    loop {
        me.clear_notify();
        let n = TaskWorks::run_pass(&me.task_works, close, &me.callback);
        if n == 0 {
            return;
        }
        // (Counted once the pass ran: in flight until then.)
        account::add(WorkKind::TaskWork, Event::Executed, n as u64);
    }
}
