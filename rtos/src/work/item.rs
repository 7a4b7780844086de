//! The work item ([`Work`]) that workqueues ([`super::workqueue`]) and kthread workers
//! ([`super::kthread_worker`]) run: a named function, its pending state (idle, queued, waiting
//! for its timer), how often it ran, and the queue or worker it was last queued on (`Owner`).

use crate::port;
use crate::sync::IrqSpinLock;
use crate::time::Duration;
use crate::timer::TimerId;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use core::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

/// What a work's owner (the kthread worker it was queued on) does for the calls that only name
/// the work (`kthread_flush_work`, `kthread_cancel_work_sync`): the work item knows its owner
/// through this trait, so it needs nothing of the modules above it.
pub(crate) trait Owner: Send + Sync {
    /// Waits until `work` has run if it is queued or running here; returns at once otherwise.
    fn flush_work(self: Arc<Self>, work: &Arc<Work>);
    /// Takes `work` off its timer or list, waits if it is running, and blocks queueing it
    /// meanwhile; returns whether it was pending.
    fn cancel_work_sync(self: Arc<Self>, work: &Arc<Work>) -> bool;
}

/// What a work item is doing, for a `work list` command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkState {
    /// Neither queued, armed nor running.
    Idle,
    /// Queued on a worker, waiting to run.
    Pending,
    /// Waiting for its timer, then it is queued.
    Delayed,
    /// Its function is running (it may also be queued again).
    Running,
    /// A `kthread_cancel_*_sync` is in progress; queueing is blocked meanwhile.
    Canceling,
}

impl WorkState {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkState::Idle => "idle",
            WorkState::Pending => "pending",
            WorkState::Delayed => "delayed",
            WorkState::Running => "running",
            WorkState::Canceling => "canceling",
        }
    }
}

/// `Work::pending` values.
pub(crate) const IDLE: u8 = 0;
pub(crate) const QUEUED: u8 = 1;
pub(crate) const DELAYED: u8 = 2;

/// A work item: a named function run by a worker thread, shared through an `Arc`. The same item
/// serves workqueues and kthread workers (and `Delayed` use), but must not be used with two
/// queues or workers at once.
pub struct Work {
    name: String,
    func: Box<dyn Fn(&Work) + Send + Sync>,
    /// [`IDLE`], [`QUEUED`] or [`DELAYED`].
    pub(crate) pending: AtomicU8,
    pub(crate) running: AtomicU32,
    pub(crate) canceling: AtomicU32,
    runs: AtomicU64,
    /// In counter ticks.
    last_latency: AtomicU64,
    queued_at: AtomicU64,
    /// Bumped on every arm and disarm: a timer callback whose number is stale does nothing.
    pub(crate) timer_seq: AtomicU64,
    pub(crate) timer: IrqSpinLock<Option<TimerId>>,
    /// The kthread worker this work was last queued on (for flush and cancel).
    pub(crate) owner: IrqSpinLock<Option<Weak<dyn Owner>>>,
}

impl Work {
    /// A new idle work item running `func`.
    pub fn new(name: &str, func: impl Fn(&Work) + Send + Sync + 'static) -> Arc<Work> {
        Arc::new(Work {
            name: String::from(name),
            func: Box::new(func),
            pending: AtomicU8::new(IDLE),
            running: AtomicU32::new(0),
            canceling: AtomicU32::new(0),
            runs: AtomicU64::new(0),
            last_latency: AtomicU64::new(0),
            queued_at: AtomicU64::new(0),
            timer_seq: AtomicU64::new(0),
            timer: IrqSpinLock::new(None),
            owner: IrqSpinLock::new(None),
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The worker it was last queued on, if that still exists.
    pub(crate) fn owner(&self) -> Option<Arc<dyn Owner>> {
        self.owner.lock().as_ref().and_then(Weak::upgrade)
    }

    /// Its state now (a snapshot). When several apply, the first of canceling, running,
    /// delayed, pending wins.
    pub fn state(&self) -> WorkState {
        if self.canceling.load(Ordering::Acquire) > 0 {
            WorkState::Canceling
        } else if self.running.load(Ordering::Acquire) > 0 {
            WorkState::Running
        } else {
            match self.pending.load(Ordering::Acquire) {
                QUEUED => WorkState::Pending,
                DELAYED => WorkState::Delayed,
                _ => WorkState::Idle,
            }
        }
    }

    /// How many times its function has returned.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Acquire)
    }

    /// The time from its last insertion into a worker's list (for a delayed work: when its timer
    /// queued it) to the start of its function.
    pub fn last_latency(&self) -> Duration {
        crate::time::ticks(self.last_latency.load(Ordering::Acquire))
    }

    /// Records the insertion time (call when putting it on a worker's list).
    pub(crate) fn mark_queued(&self) {
        self.queued_at.store(port::port().now(), Ordering::Release);
    }

    /// Runs the function; the caller already counted it running (`running`) and took it off
    /// its list. Called with no lock held.
    pub(crate) fn execute(&self) {
        let now = port::port().now();
        let latency = now.saturating_sub(self.queued_at.load(Ordering::Acquire));
        self.last_latency.store(latency, Ordering::Release);
        (self.func)(self);
        self.runs.fetch_add(1, Ordering::AcqRel);
        self.running.fetch_sub(1, Ordering::AcqRel);
    }
}

impl core::fmt::Debug for Work {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Work")
            .field("name", &self.name)
            .field("state", &self.state())
            .field("runs", &self.runs())
            .finish()
    }
}
