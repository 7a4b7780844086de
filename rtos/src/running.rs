//! What callback a thread is running right now, a work or a task_work, for the watchdog's
//! hung-work check ([`crate::watchdog`]). (A CPU's irq_work has a cheaper record of its own:
//! [`crate::work::irq_work::running_on`].)
//!
//! One word per runner, written only by the runner itself (a load and two stores per callback,
//! no read-modify-write, no clock read): the kind, a 16-bit name (a trace name id, or an
//! irq_work's slot) and a sequence number that changes with every callback. A watchdog that sees
//! the same word in two looks some time apart knows the same callback ran all along.

// (Plain atomics even under loom: a record for the watchdog's eyes, not a modelled protocol.)
use core::sync::atomic::{AtomicU64, Ordering};

/// The kind of a running callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallbackKind {
    /// A work item, run by a workqueue's or a kthread worker's thread.
    Work,
    /// A task_work, run by the thread it was added to.
    TaskWork,
    /// An irq_work, run by a CPU's interrupt handler (hard-IRQ context; recorded per CPU by
    /// [`crate::work::irq_work::running_on`], not in a [`Running`]).
    IrqWork,
}

impl CallbackKind {
    /// The name reports use (`work`, `task_work`, `irq_work`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Work => "work",
            Self::TaskWork => "task_work",
            Self::IrqWork => "irq_work",
        }
    }

    fn code(self) -> u64 {
        match self {
            Self::Work => 1,
            Self::TaskWork => 2,
            Self::IrqWork => 3,
        }
    }

    fn from_code(c: u64) -> Option<Self> {
        match c {
            1 => Some(Self::Work),
            2 => Some(Self::TaskWork),
            3 => Some(Self::IrqWork),
            _ => None,
        }
    }
}

const KIND_SHIFT: u32 = 62;
const NAME_SHIFT: u32 = 40;
const SEQ_MASK: u64 = (1 << NAME_SHIFT) - 1;

/// A callback seen running: its kind, its name (see [`Cursor::begin`]) and the sequence number
/// of this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Callback {
    /// What it is.
    pub kind: CallbackKind,
    /// A trace name id ([`crate::trace::intern`]) for works and task_works, the slot for
    /// irq_works.
    pub name: u16,
    /// Changes with every callback the runner starts.
    pub seq: u64,
}

/// One runner's record (a thread's, or a CPU interrupt handler's).
pub struct Running(AtomicU64);

impl Running {
    /// Nothing running.
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// The runner's cursor for a batch of callbacks (one load; then a store per begin and end).
    /// Only the runner uses it (single writer).
    #[inline(always)]
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor {
            rec: self,
            seq: self.0.load(Ordering::Relaxed) & SEQ_MASK,
        }
    }

    /// The callback running now, if any.
    pub fn get(&self) -> Option<Callback> {
        let w = self.0.load(Ordering::Relaxed);
        Some(Callback {
            kind: CallbackKind::from_code(w >> KIND_SHIFT)?,
            name: (w >> NAME_SHIFT) as u16,
            seq: w & SEQ_MASK,
        })
    }
}

/// A runner's way of marking its callbacks ([`Running::cursor`]).
pub struct Cursor<'a> {
    rec: &'a Running,
    seq: u64,
}

impl Cursor<'_> {
    /// The runner starts a callback.
    #[inline(always)]
    pub fn begin(&mut self, kind: CallbackKind, name: u16) {
        self.seq = (self.seq + 1) & SEQ_MASK;
        self.rec.0.store(
            kind.code() << KIND_SHIFT | u64::from(name) << NAME_SHIFT | self.seq,
            Ordering::Relaxed,
        );
    }

    /// The runner's callback returned (its sequence number stays).
    #[inline(always)]
    pub fn end(&self) {
        self.rec.0.store(self.seq, Ordering::Relaxed);
    }
}

impl Default for Running {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begin_end_and_a_new_sequence_per_callback() {
        let r = Running::new();
        assert_eq!(r.get(), None);
        let mut c = r.cursor();
        c.begin(CallbackKind::Work, 7);
        let a = r.get().unwrap();
        assert_eq!((a.kind, a.name), (CallbackKind::Work, 7));
        c.end();
        assert_eq!(r.get(), None);
        c.begin(CallbackKind::TaskWork, 0xffff);
        let b = r.get().unwrap();
        assert_eq!((b.kind, b.name), (CallbackKind::TaskWork, 0xffff));
        assert_ne!(a.seq, b.seq, "each callback is told apart");
        c.end();
        // A later batch goes on from where this one stopped.
        r.cursor().begin(CallbackKind::TaskWork, 1);
        assert_ne!(r.get().unwrap().seq, b.seq);
        assert_eq!(r.get().unwrap().kind, CallbackKind::TaskWork);
    }
}
