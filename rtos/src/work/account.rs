//! Exact accounting of deferred work: for each kind (irq_work, task_work, workqueue, kthread
//! worker), how many works were submitted, merged into one already pending, executed and
//! cancelled, counted where the state changes (the claim, the push onto a list, the worker's
//! take, the removal by a cancel or a destroy), never estimated.
//!
//! # The identity
//! Every submission ends exactly once, by a run or by a cancel, so at any instant
//! `submitted == executed + cancelled + in flight`, and on a quiet system (nothing queued,
//! armed or running) `in flight` is zero. A work run twice for one submission, or one lost
//! (dropped without a cancel), breaks it: `just soak` checks it after hours of mixed load, and
//! the loom models of the pool after every interleaving.
//!
//! - *submitted*: a queueing that made the work pending (queued, or armed on its timer); a mod
//!   that found the work idle. Moving a pending work (a mod, a flush that queues a delayed work
//!   at once, the timer's fire) is not a new submission.
//! - *merged*: a queueing that found the work pending already (Linux's `queue_work` returning
//!   false): it will run once for both. Not part of the identity.
//! - *executed*: the work's function was started for a submission (counted when it is taken off
//!   the list, before it runs).
//! - *cancelled*: a pending work was taken off its list or timer unrun: by a cancel, by a
//!   destroy (delayed works, and works still queueing themselves after the drain's bound), or a
//!   timer that fired after its pool died.
//!
//! Refusals (a dead pool, a work busy elsewhere, an exiting thread, a stale irq_work handle)
//! count nowhere: nothing was submitted.
//!
//! Counting costs a plain increment where the state changes (each kind keeps its counts where
//! its hot path already is; this module holds the types and the shared counters, a leaf the
//! mechanisms import). [`crate::work::tally::counts`](crate::work::tally) adds them up: a reader sees each counter
//! exactly but not all of them at the same instant (read on a quiet system for the identity).

// (Plain atomics, not loom's: statistics only, never part of a model's synchronisation.)
use core::sync::atomic::{AtomicU64, Ordering};

/// A deferred-work mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkKind {
    /// [`crate::work::irq_work`].
    IrqWork,
    /// [`crate::work::task_work`].
    TaskWork,
    /// [`crate::work::workqueue`].
    Workqueue,
    /// [`crate::work::kthread_worker`].
    KthreadWorker,
}

impl WorkKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [WorkKind; 4] = [
        WorkKind::IrqWork,
        WorkKind::TaskWork,
        WorkKind::Workqueue,
        WorkKind::KthreadWorker,
    ];

    /// Its name in reports (`irq_work`, `task_work`, `workqueue`, `kthread_worker`).
    pub const fn name(self) -> &'static str {
        match self {
            WorkKind::IrqWork => "irq_work",
            WorkKind::TaskWork => "task_work",
            WorkKind::Workqueue => "workqueue",
            WorkKind::KthreadWorker => "kthread_worker",
        }
    }
}

/// What happened to a work (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    Submitted = 0,
    Merged = 1,
    Executed = 2,
    Cancelled = 3,
}

/// One kind's counters, as [`counts`] reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkCounts {
    /// Queueings that made a work pending.
    pub submitted: u64,
    /// Queueings that found it pending already (it runs once for both).
    pub merged: u64,
    /// Runs started.
    pub executed: u64,
    /// Pending works taken off unrun.
    pub cancelled: u64,
}

impl WorkCounts {
    /// Submissions neither executed nor cancelled yet: pending or about to start. Negative
    /// only if something ran more often than it was submitted (a double run).
    pub fn in_flight(&self) -> i64 {
        self.submitted as i64 - self.executed as i64 - self.cancelled as i64
    }
}

/// Where each kind keeps its counts, so that counting costs its hot path a plain increment
/// ([`crate::work::tally::counts`] reads them all):
/// - workqueues and kthread workers: in each pool, under the pool's lock (every step that counts
///   holds it); a pool that goes away hands its counts to [`RETIRED`];
/// - irq_work: submissions and runs per CPU, in [`crate::cpu::CpuStats`], counted with interrupts
///   masked by the CPU itself (single writer); merges, a cold path, in [`COUNTS`];
/// - task_work: in [`COUNTS`] (atomics: adds come from any CPU).
///
/// A reader sums them: exact on a quiet system, each counter exact at any time.
#[repr(align(64))]
struct Line([AtomicU64; 4]);

static COUNTS: [Line; 4] = [const { Line([const { AtomicU64::new(0) }; 4]) }; 4];
/// The counts of pools that went away, by kind.
static RETIRED: [Line; 4] = [const { Line([const { AtomicU64::new(0) }; 4]) }; 4];

/// Counts `n` events `ev` of `kind` in [`COUNTS`] (task_work, and irq_work's merges).
#[inline(always)]
pub(crate) fn add(kind: WorkKind, ev: Event, n: u64) {
    COUNTS[kind as usize].0[ev as usize].fetch_add(n, Ordering::Relaxed);
}

/// Counts one event `ev` of `kind` in [`COUNTS`].
#[inline(always)]
pub(crate) fn count(kind: WorkKind, ev: Event) {
    add(kind, ev, 1);
}

/// A pool of `kind` goes away: keeps its counts.
pub(crate) fn retire(kind: WorkKind, counts: [u64; 4]) {
    for (c, n) in RETIRED[kind as usize].0.iter().zip(counts) {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

#[cfg(not(loom))]
/// What [`COUNTS`] and [`RETIRED`] hold for `kind`, by [`Event`] (the rest is where the
/// kind keeps it: [`crate::work::tally`] sums it all).
pub(crate) fn stored(kind: WorkKind) -> [u64; 4] {
    let mut c = [0u64; 4];
    for (i, n) in c.iter_mut().enumerate() {
        *n = COUNTS[kind as usize].0[i].load(Ordering::Relaxed)
            + RETIRED[kind as usize].0[i].load(Ordering::Relaxed);
    }
    c
}

/// Zeroes every counter kept here (the fake port's fresh start; the per-CPU ones are reset
/// with the CPUs' statistics).
#[cfg(all(not(target_os = "none"), not(loom)))]
pub(crate) fn reset_for_fake() {
    for line in COUNTS.iter().chain(&RETIRED) {
        for c in &line.0 {
            c.store(0, Ordering::Relaxed);
        }
    }
}
