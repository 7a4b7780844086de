//! The work item ([`Work`]) that workqueues ([`super::workqueue`]) and kthread workers
//! ([`super::kthread_worker`]) run: a named function, its pending state (idle, queued, waiting
//! for its timer), how often it ran, and the pool it belongs to while it is busy.
//!
//! # One owner per work
//! From the moment a work is queued (or armed) until it is idle again, it belongs to the one pool
//! that holds it: a kthread worker, or one CPU's worker of a workqueue. Queueing, delaying or
//! modifying it through another workqueue or worker is refused (`EBUSY`), and its owner can be
//! named ([`Work::owner`]). The work keeps its *attachment* to that pool after it went idle (so
//! queueing it there again costs no lock), until it is queued through another owner, which first
//! detaches it from the old pool under that pool's lock (`super::pool`). This module only keeps
//! the attachment, behind the [`Attached`] trait, so it needs nothing of the modules above it.

use crate::port;
use crate::sync::IrqSpinLock;
use crate::time::Duration;
use crate::timer::TimerId;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use core::any::Any;
use core::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// What a busy work is attached to (a pool of `super::pool`): something that can say whose it is.
pub(crate) trait Attached: Any + Send + Sync {
    /// Whose pool it is, for messages: `workqueue events (cpu2)`, `kthread worker kw1`.
    fn owner_name(&self) -> String;
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
    /// Its name's id for trace events.
    name_id: u16,
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
    /// The id of the timer armed last (it may have fired since), under its pool's lock.
    pub(crate) timer: IrqSpinLock<Option<TimerId>>,
    /// The pool it is attached to while busy (see the module documentation).
    attach: IrqSpinLock<Option<Arc<dyn Attached>>>,
    /// The attached pool's address (0: none), to check "attached here" without a lock.
    attach_id: AtomicUsize,
}

impl Work {
    /// A new idle work item running `func`.
    pub fn new(name: &str, func: impl Fn(&Work) + Send + Sync + 'static) -> Arc<Work> {
        Arc::new(Work {
            name: String::from(name),
            name_id: crate::trace::intern(name),
            func: Box::new(func),
            pending: AtomicU8::new(IDLE),
            running: AtomicU32::new(0),
            canceling: AtomicU32::new(0),
            runs: AtomicU64::new(0),
            last_latency: AtomicU64::new(0),
            queued_at: AtomicU64::new(0),
            timer_seq: AtomicU64::new(0),
            timer: IrqSpinLock::new(None),
            attach: IrqSpinLock::new(None),
            attach_id: AtomicUsize::new(0),
        })
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whose it is while it is busy (queued, delayed, running or being cancelled): the workqueue
    /// or kthread worker it is attached to, e.g. `workqueue events (cpu2)`; `None` when idle.
    pub fn owner(&self) -> Option<String> {
        if self.is_idle() {
            return None;
        }
        self.attached().map(|a| a.owner_name())
    }

    /// The pool it is attached to.
    pub(crate) fn attached(&self) -> Option<Arc<dyn Attached>> {
        self.attach.lock().clone()
    }

    /// Whether it is attached to the pool at address `id`.
    #[inline]
    pub(crate) fn attached_to(&self, id: usize) -> bool {
        self.attach_id.load(Ordering::Acquire) == id
    }

    /// Attaches it to `pool` (at address `id`) if it is attached to nothing; returns whether it
    /// is attached to `pool` now. Call under `pool`'s lock.
    #[inline]
    pub(crate) fn attach(&self, pool: impl FnOnce() -> Arc<dyn Attached>, id: usize) -> bool {
        self.attached_to(id) || self.attach_slow(pool(), id)
    }

    /// [`Work::attach`] when it is not attached to `id` yet.
    #[cold]
    #[inline(never)]
    fn attach_slow(&self, pool: Arc<dyn Attached>, id: usize) -> bool {
        let mut a = self.attach.lock();
        if a.is_some() {
            return false;
        }
        *a = Some(pool);
        self.attach_id.store(id, Ordering::Release);
        true
    }

    /// Detaches it from the pool it is attached to. Call under that pool's lock, once it is idle.
    pub(crate) fn detach(&self) {
        let old = {
            let mut a = self.attach.lock();
            self.attach_id.store(0, Ordering::Release);
            a.take()
        };
        drop(old);
    }

    /// Idle as far as its pool is concerned: not queued, not armed, not running, not being
    /// cancelled. Under its pool's lock this is stable.
    pub(crate) fn is_idle(&self) -> bool {
        self.pending.load(Ordering::Acquire) == IDLE
            && self.running.load(Ordering::Acquire) == 0
            && self.canceling.load(Ordering::Acquire) == 0
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

    /// It as a trace event argument: its name and address.
    /// Its name's trace id ([`crate::trace::intern`]; 0 if the table was full).
    pub(crate) fn name_id(&self) -> u16 {
        self.name_id
    }

    pub(crate) fn traced(&self) -> u64 {
        crate::trace::tag(self.name_id, core::ptr::from_ref(self) as usize as u64)
    }

    /// Records the insertion time (call when putting it on a worker's list).
    pub(crate) fn mark_queued(&self) {
        self.queued_at.store(port::port().now(), Ordering::Release);
    }

    /// Runs the function; the caller already counted it running (`running`) and took it off
    /// its list. Called with no lock held. Returns its queue-to-start latency in counter ticks.
    pub(crate) fn execute(&self) -> u64 {
        let now = port::port().now();
        let latency = now.saturating_sub(self.queued_at.load(Ordering::Acquire));
        self.last_latency.store(latency, Ordering::Release);
        (self.func)(self);
        self.runs.fetch_add(1, Ordering::AcqRel);
        self.running.fetch_sub(1, Ordering::AcqRel);
        latency
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
