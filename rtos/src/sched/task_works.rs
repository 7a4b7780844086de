//! The per-thread task_work list: the [`TaskWork`] item and the list every [`Thread`] carries
//! (as Linux's `task_struct` carries its `task_works` head), with the list protocol that
//! [`crate::work::task_work`] drives: the `queued` flag, add, cancel, the run pass and the exit
//! pass that closes the list.
//!
//! The protocol is written against [`Lock`]: the kernel runs it under the thread's
//! [`IrqSpinLock`](crate::sync::IrqSpinLock), and the loom models (module `loom`, `just loom`) run
//! the very same functions under loom's mutex, with loom threads playing the adder, the canceller
//! and the target thread (its run pass, then its exit). Everything that needs the scheduler
//! (notification, wake-ups, the `exiting` flag) is in [`crate::work::task_work`].
//!
//! [`Thread`]: super::thread::Thread

use crate::error::Error;
use crate::running::{CallbackKind, Running};
use crate::sync::Lock;
use crate::sync::atomic::{AtomicBool, Ordering};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

#[cfg(all(test, loom))]
mod loom;

/// The callback type: called with the work itself, so it can queue it again.
pub type TaskWorkFn = dyn Fn(&Arc<TaskWork>) + Send + Sync;

/// A named deferred callback.
pub struct TaskWork {
    name: String,
    func: Box<TaskWorkFn>,
    /// Its name's id for trace events.
    name_id: u16,
    /// Queued on some thread's list.
    queued: AtomicBool,
}

impl TaskWork {
    /// A new, unqueued work called `name` running `func`.
    pub fn new(name: &str, func: impl Fn(&Arc<TaskWork>) + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            name: String::from(name),
            func: Box::new(func),
            name_id: crate::trace::intern(name),
            queued: AtomicBool::new(false),
        })
    }

    /// It as a trace event argument: its name and address.
    pub(crate) fn traced(self: &Arc<Self>) -> u64 {
        crate::trace::tag(self.name_id, Arc::as_ptr(self) as *const u8 as usize as u64)
    }

    /// Its name (what [`task_work::cancel_func`](crate::work::task_work::cancel_func) and
    /// [`task_work::list`](crate::work::task_work::list) go by).
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

/// A thread's queued works (in [`Thread`](super::thread::Thread)).
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

    /// The core of [`task_work::add`](crate::work::task_work::add): claims `work`'s queued flag
    /// ([`Error::Busy`] if it was set), then under `lock` pushes it onto the list unless the list
    /// is closed or `refuse` (evaluated under the lock: "the thread is exiting and the caller is
    /// another thread") says no, in which case the flag goes back to false and the add fails with
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

    /// The core of [`task_work::cancel_match`](crate::work::task_work::cancel_match): removes the
    /// most recently queued work for which `pred` holds, under `lock`, and clears its queued flag.
    /// Model-checked: "cancel and run never both take the same work; a cancelled work never runs".
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
    /// `running` is the thread's record of the callback it runs (for the watchdog).
    pub(crate) fn run_pass(lock: &impl Lock<TaskWorks>, close: bool, running: &Running) -> usize {
        let works = {
            let mut tw = lock.lock();
            if tw.list.is_empty() && close {
                tw.closed = true;
            }
            core::mem::take(&mut tw.list)
        };
        let n = works.len();
        let mut cursor = running.cursor();
        for w in works.into_iter().rev() {
            w.queued.store(false, Ordering::Release);
            crate::trace_event!(crate::trace::Kind::TaskWorkRun, w.traced(), 0);
            cursor.begin(CallbackKind::TaskWork, w.name_id);
            (w.func)(&w);
            cursor.end();
        }
        n
    }

    /// How many works are queued.
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// The names of the queued works, in the order they would run (newest first).
    pub(crate) fn names(&self) -> Vec<String> {
        self.list.iter().rev().map(|w| w.name.clone()).collect()
    }
}
