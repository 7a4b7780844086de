//! Per-thread deferred callbacks, with the contracts of Linux's `kernel/task_work.c`.
//!
//! A [`TaskWork`] is a named callback queued on one thread with [`task_work_add`] and run later
//! *by that thread, in its own context*, when it crosses a kernel boundary.
//!
//! # Contracts
//! - "[`task_work_add`] pushes the work onto the thread's own list (LIFO: the most recently
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
//! # Model checking
//! The list protocol (the `queued` flag, add, cancel, the run pass and the exit pass that closes
//! the list) is `TaskWorks`' associated functions, written against [`Lock`]: the kernel runs
//! them under the thread's [`crate::sync::IrqSpinLock`], and the loom models at the bottom of
//! this file (`just loom`) run the same functions under loom's mutex, with loom threads playing
//! the adder, the canceller and the target thread (its run pass, then its exit). The
//! thread-dependent parts (notification, wake-ups, the `exiting` flag) stay outside the core.

use crate::error::Error;
use crate::port;
use crate::sched::{self, State, Thread};
use crate::sync::Lock;
use crate::sync::atomic::{AtomicBool, Ordering};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// The callback type: called with the work itself, so it can queue it again.
pub type TaskWorkFn = dyn Fn(&Arc<TaskWork>) + Send + Sync;

/// A named deferred callback.
pub struct TaskWork {
    name: String,
    func: Box<TaskWorkFn>,
    /// Queued on some thread's list.
    queued: AtomicBool,
}

impl TaskWork {
    /// A new, unqueued work called `name` running `func`.
    pub fn new(name: &str, func: impl Fn(&Arc<TaskWork>) + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            name: String::from(name),
            func: Box::new(func),
            queued: AtomicBool::new(false),
        })
    }

    /// Its name (what [`task_work_cancel_func`] and [`task_work_list`] go by).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it is queued on a thread now.
    pub fn is_queued(&self) -> bool {
        self.queued.load(Ordering::Acquire)
    }
}

impl core::fmt::Debug for TaskWork {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "TaskWork({:?})", self.name)
    }
}

/// How [`task_work_add`] tells the thread (see the module documentation).
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

/// A thread's queued works (in [`Thread`]).
pub(crate) struct TaskWorks {
    /// Oldest first; runs and listings go newest first (LIFO).
    list: Vec<Arc<TaskWork>>,
    /// The final pass at exit found the list empty: nothing is accepted any more.
    closed: bool,
}

impl TaskWorks {
    pub(crate) const fn new() -> Self {
        Self {
            list: Vec::new(),
            closed: false,
        }
    }

    /// The core of [`task_work_add`]: claims `work`'s queued flag ([`Error::Busy`] if it was
    /// set), then under `lock` pushes it onto the list unless the list is closed or `refuse`
    /// (evaluated under the lock: "the thread is exiting and the caller is another thread") says
    /// no, in which case the flag goes back to false and the add fails with
    /// [`Error::NoSuchThread`] (ESRCH). Model-checked: "an added work runs once or is cancelled,
    /// never lost; an add after the close fails with ESRCH and leaves the work unqueued".
    pub(crate) fn add(
        lock: &impl Lock<TaskWorks>,
        work: Arc<TaskWork>,
        refuse: impl FnOnce() -> bool,
    ) -> Result<(), Error> {
        if work.queued.swap(true, Ordering::AcqRel) {
            return Err(Error::Busy);
        }
        let mut tw = lock.lock();
        if tw.closed || refuse() {
            drop(tw);
            work.queued.store(false, Ordering::Release);
            return Err(Error::NoSuchThread);
        }
        tw.list.push(work);
        Ok(())
    }

    /// The core of [`task_work_cancel_match`]: removes the most recently queued work for which
    /// `pred` holds, under `lock`, and clears its queued flag. Model-checked: "cancel and run
    /// never both take the same work; a cancelled work never runs".
    pub(crate) fn cancel_match(
        lock: &impl Lock<TaskWorks>,
        mut pred: impl FnMut(&TaskWork) -> bool,
    ) -> Option<Arc<TaskWork>> {
        let mut tw = lock.lock();
        let i = tw.list.iter().rposition(|w| pred(w))?;
        let work = tw.list.remove(i);
        drop(tw);
        work.queued.store(false, Ordering::Release);
        Some(work)
    }

    /// One pass of the run loop, by the list's own thread: takes the whole list under `lock`
    /// (with `close`, the exit pass, a list found empty is closed by that same lock hold), then
    /// runs the batch newest first (LIFO), clearing each work's queued flag just before its
    /// callback. Returns how many works ran; the caller repeats until a pass runs none.
    pub(crate) fn run_pass(lock: &impl Lock<TaskWorks>, close: bool) -> usize {
        let works = {
            let mut tw = lock.lock();
            if tw.list.is_empty() && close {
                tw.closed = true;
            }
            core::mem::take(&mut tw.list)
        };
        let n = works.len();
        for w in works.into_iter().rev() {
            w.queued.store(false, Ordering::Release);
            (w.func)(&w);
        }
        n
    }
}

/// Queues `work` on `t` and notifies `t` as `notify` says.
///
/// Errors: [`Error::NoSuchThread`] (ESRCH) if `t` is exiting or has exited (the work is not
/// queued); [`Error::Busy`] if `work` is already queued; [`Error::Invalid`] (EINVAL) for
/// [`Notify::NmiCurrent`] on a thread other than the caller, or for an idle thread.
pub fn task_work_add(t: &Arc<Thread>, work: Arc<TaskWork>, notify: Notify) -> Result<(), Error> {
    if t.is_idle() {
        return Err(Error::Invalid);
    }
    let own = sched::is_current(t);
    if notify == Notify::NmiCurrent && !own {
        return Err(Error::Invalid);
    }
    // Once exiting, only the thread's own final pass may still queue (works adding works).
    TaskWorks::add(&t.task_works, work, || t.is_exiting() && !own)?;
    match notify {
        Notify::None => {}
        Notify::Resume => t.task_work_notify.store(true, Ordering::Release),
        Notify::NmiCurrent => raise_nmi_notify(t)?,
        Notify::Signal | Notify::SignalNoIpi => {
            // The flag before the wake: a thread about to sleep interruptibly either is seen
            // asleep by the wake (under its run-queue lock) or sees the flag and does not sleep.
            t.task_work_notify.store(true, Ordering::Release);
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
    crate::MAX_CPUS] = [const { crate::sync::IrqSpinLock::new(None) }; crate::MAX_CPUS];

/// Queues this CPU's irq_work that sets the current thread's task_work flag from hard-IRQ
/// context (the interrupt is taken as soon as the caller has interrupts enabled).
#[cfg(not(loom))]
fn raise_nmi_notify(_current: &Thread) -> Result<(), Error> {
    use crate::work::irq_work::{self, IrqWork};
    let p = port::port();
    let saved = p.irq_save();
    let cpu = p.cpu_id();
    let work = {
        let mut slot = NMI_WORKS[cpu].lock();
        match *slot {
            Some(w) => Ok(w),
            None => IrqWork::new(
                "task_work-nmi",
                false,
                alloc::sync::Arc::new(|_: &IrqWork| {
                    if let Some(t) = sched::current() {
                        t.task_work_notify.store(true, Ordering::Release);
                    }
                }),
            )
            .inspect(|w| *slot = Some(*w)),
        }
    };
    let result = work.map(|w| {
        irq_work::queue(w);
    });
    p.irq_restore(saved);
    result
}

/// Under loom (which models only the lock-free cores, never this path) the flag is set directly.
#[cfg(loom)]
fn raise_nmi_notify(current: &Thread) -> Result<(), Error> {
    current.task_work_notify.store(true, Ordering::Release);
    Ok(())
}

/// Forgets the per-CPU irq_works (the fake port's fresh start; their slots are reset too).
#[cfg(all(any(test, feature = "fake"), not(loom)))]
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
        p.send_sgi(sched::SGI_RESCHED, 1 << cpu);
    }
    p.irq_restore(saved);
}

/// Removes and returns the most recently queued work of `t` for which `pred` holds, if any. The
/// returned work will not run (unless queued again).
pub fn task_work_cancel_match(
    t: &Thread,
    pred: impl FnMut(&TaskWork) -> bool,
) -> Option<Arc<TaskWork>> {
    TaskWorks::cancel_match(&t.task_works, pred)
}

/// Removes and returns the most recently queued work of `t` called `name` (the name stands for
/// the work's function, as the shell creates them).
pub fn task_work_cancel_func(t: &Thread, name: &str) -> Option<Arc<TaskWork>> {
    task_work_cancel_match(t, |w| w.name == name)
}

/// Removes `work` from `t`'s list: true if it was queued there and is now removed (it will not
/// run), false if it was not queued on `t` (not queued, already running or run, or elsewhere).
pub fn task_work_cancel(t: &Thread, work: &Arc<TaskWork>) -> bool {
    task_work_cancel_match(t, |w| core::ptr::eq(w, &**work)).is_some()
}

/// How many works are queued on `t`.
pub fn task_work_pending(t: &Thread) -> usize {
    t.task_works.lock().list.len()
}

/// The names of the works queued on `t`, in the order they would run (newest first).
pub fn task_work_list(t: &Thread) -> Vec<String> {
    t.task_works
        .lock()
        .list
        .iter()
        .rev()
        .map(|w| w.name.clone())
        .collect()
}

/// Whether `t` (the thread about to be resumed) should run its works now: notified, not idle, and
/// not already inside its run loop.
pub(crate) fn notified(t: Option<&Arc<Thread>>) -> bool {
    t.is_some_and(|t| {
        !t.is_idle()
            && t.task_work_notify.load(Ordering::Acquire)
            && !t.task_work_running.load(Ordering::Acquire)
    })
}

/// The boundary hook: the calling thread runs its works if it was notified (and is not already
/// running them further up its stack).
pub(crate) fn notify_resume() {
    // The common case (nothing to run) without touching the thread's reference count.
    if !sched::with_current(|t| notified(Some(t))).unwrap_or(false) {
        return;
    }
    let Some(me) = sched::current() else { return };
    if !notified(Some(&me)) || me.task_work_running.swap(true, Ordering::AcqRel) {
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
        me.task_work_notify.store(false, Ordering::Release);
        if TaskWorks::run_pass(&me.task_works, close) == 0 {
            return;
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! The list protocol under loom: [`TaskWorks`]' own functions under loom's mutex, with loom
    //! threads as the adder, the canceller and the target thread. The target's `exiting` flag
    //! (in the kernel, `Thread::flags`) is a loom atomic here, read by the same `refuse` test
    //! [`task_work_add`] passes.
    use super::*;
    use crate::sync::atomic::AtomicUsize;
    use loom::sync::Mutex;

    type List = Arc<Mutex<TaskWorks>>;

    /// The exit path of [`crate::sched::exit_current`] and [`run_at_exit`]: exiting first, then
    /// passes that close the list by the lock hold that finds it empty.
    fn exit(list: &Mutex<TaskWorks>, exiting: &AtomicBool) {
        exiting.store(true, Ordering::Release);
        while TaskWorks::run_pass(list, true) > 0 {}
    }

    fn counting(name: &str, runs: &Arc<AtomicUsize>) -> Arc<TaskWork> {
        let runs = runs.clone();
        TaskWork::new(name, move |_| {
            runs.fetch_add(1, Ordering::Relaxed);
        })
    }

    /// Another thread adds a work while a third cancels it and the target runs a boundary pass
    /// and exits. Checks: "each added work runs at most once; a work whose cancel returned true
    /// never runs; a work added successfully runs before the exit completes or was cancelled,
    /// never lost; an add after the list is closed fails with ESRCH and leaves the work's queued
    /// flag false". (3 threads.)
    #[test]
    fn loom_task_work_add_cancel_vs_run_and_exit() {
        loom::model(|| {
            let list: List = Arc::new(Mutex::new(TaskWorks::new()));
            let exiting = Arc::new(AtomicBool::new(false));
            let closed = Arc::new(AtomicBool::new(false));
            let runs = Arc::new(AtomicUsize::new(0));
            let a = counting("a", &runs);

            let adder = {
                let (list, exiting, closed, a) =
                    (list.clone(), exiting.clone(), closed.clone(), a.clone());
                loom::thread::spawn(move || {
                    let was_closed = closed.load(Ordering::Acquire);
                    // Another thread: refused once the target is exiting.
                    let r = TaskWorks::add(&*list, a.clone(), || exiting.load(Ordering::Acquire));
                    match r {
                        Ok(()) => assert!(!was_closed, "an add after the close succeeded"),
                        Err(e) => {
                            assert_eq!(e, Error::NoSuchThread);
                            assert!(!a.is_queued(), "a refused add left the work queued");
                        }
                    }
                    r.is_ok()
                })
            };
            let canceller = {
                let (list, a) = (list.clone(), a.clone());
                loom::thread::spawn(move || {
                    TaskWorks::cancel_match(&*list, |w| core::ptr::eq(w, &*a)).is_some()
                })
            };

            // The target thread: a boundary pass (the run loop), then its exit.
            while TaskWorks::run_pass(&*list, false) > 0 {}
            exit(&list, &exiting);
            closed.store(true, Ordering::Release);
            let ran = runs.load(Ordering::Relaxed);

            let added = adder.join().unwrap();
            let cancelled = canceller.join().unwrap();
            assert!(ran <= 1, "ran twice");
            assert!(!cancelled || added, "cancelled a work never added");
            if cancelled {
                assert_eq!(ran, 0, "a cancelled work ran");
            } else {
                assert_eq!(
                    ran,
                    usize::from(added),
                    "an added work was lost, or a refused one ran"
                );
            }
            assert_eq!(runs.load(Ordering::Relaxed), ran, "ran after the exit");
            assert!(!a.is_queued());
            let tw = list.lock().unwrap();
            assert!(tw.closed && tw.list.is_empty(), "left on a closed list");
        });
    }

    /// Another thread adds `a` then `b` while the target runs a boundary pass and exits; `a`'s
    /// callback adds `d` from the target itself. Checks: "LIFO within one taken batch" (if `a`
    /// and `b` ran in the same pass, `b` ran first), "a callback may add more works; they run
    /// in a later pass of the same loop, also in the final pass at exit", and every added work
    /// runs exactly once. (2 threads.)
    #[test]
    fn loom_task_work_lifo_and_adds_from_callbacks_at_exit() {
        loom::model(|| {
            let list: List = Arc::new(Mutex::new(TaskWorks::new()));
            let exiting = Arc::new(AtomicBool::new(false));
            // (pass, work) in run order; only the target thread touches these two.
            let log = Arc::new(std::sync::Mutex::new(Vec::<(usize, char)>::new()));
            let pass = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let record = |id: char| {
                let (log, pass) = (log.clone(), pass.clone());
                move || {
                    let p = pass.load(Ordering::Relaxed);
                    log.lock().unwrap().push((p, id));
                }
            };
            let d = {
                let rec = record('d');
                TaskWork::new("d", move |_| rec())
            };
            let a = {
                let rec = record('a');
                let (list, d) = (list.clone(), d.clone());
                TaskWork::new("a", move |_| {
                    rec();
                    // From the target itself: accepted even while exiting.
                    TaskWorks::add(&*list, d.clone(), || false).expect("self-add in a pass");
                })
            };
            let b = {
                let rec = record('b');
                TaskWork::new("b", move |_| rec())
            };

            let adder = {
                let (list, exiting, a, b) = (list.clone(), exiting.clone(), a.clone(), b.clone());
                loom::thread::spawn(move || {
                    let refuse = || exiting.load(Ordering::Acquire);
                    let ra = TaskWorks::add(&*list, a, refuse).is_ok();
                    let rb = TaskWorks::add(&*list, b, refuse).is_ok();
                    (ra, rb)
                })
            };

            let pass_loop = |close: bool| loop {
                pass.fetch_add(1, Ordering::Relaxed);
                if TaskWorks::run_pass(&*list, close) == 0 {
                    break;
                }
            };
            pass_loop(false);
            exiting.store(true, Ordering::Release);
            pass_loop(true);
            // "After which every add fails", the thread's own included.
            let e = TaskWork::new("e", |_| {});
            let late = TaskWorks::add(&*list, e.clone(), || false);
            assert_eq!(late, Err(Error::NoSuchThread), "an own add after the close");
            assert!(!e.is_queued());

            let (ra, rb) = adder.join().unwrap();
            assert!(ra || !rb, "b accepted after a was refused");
            let log = log.lock().unwrap().clone();
            let at = |id: char| log.iter().position(|&(_, w)| w == id);
            let count = |id: char| log.iter().filter(|&&(_, w)| w == id).count();
            assert_eq!(count('a'), usize::from(ra));
            assert_eq!(count('b'), usize::from(rb));
            assert_eq!(count('d'), usize::from(ra), "d runs once iff a ran");
            if let (Some(ia), Some(ib)) = (at('a'), at('b'))
                && log[ia].0 == log[ib].0
            {
                assert!(ib < ia, "not LIFO within a pass: {log:?}");
            }
            if let (Some(ia), Some(id)) = (at('a'), at('d')) {
                assert!(log[id].0 > log[ia].0, "d ran in a's pass: {log:?}");
            }
            let tw = list.lock().unwrap();
            assert!(tw.closed && tw.list.is_empty());
            drop(tw);
            assert!(!a.is_queued() && !b.is_queued() && !d.is_queued());
        });
    }
}
