//! Per-CPU software timers on the one-shot hardware deadline.
//!
//! Each CPU keeps its pending timers in a deadline structure (`queue`: a fixed-depth bitmap
//! trie over the deadline bits) whose arm, cancel and expiry cost does not grow with the number
//! of pending timers, and which always knows the exact earliest deadline. The hardware is
//! programmed for that deadline only, exactly (tickless: no rounding to a tick, never early;
//! with nothing pending the timer is disarmed), and re-programmed only when the earliest
//! deadline changes. Timers are armed on the calling CPU and fire there, in interrupt context,
//! in deadline order (equal deadlines in arm order); their action runs after the queue lock is
//! released. Cancelling from another CPU leaves that CPU's hardware armed: the interrupt then
//! finds nothing due and re-programs for the next timer.
//!
//! The scheduler's round-robin slice is not a queued timer but one deadline per CPU
//! (`set_slice`): a context switch re-arms it, and that must cost a few stores, not a queue
//! operation. The hardware is re-programmed only when the wanted deadline moves *earlier* than
//! what is programmed; a deadline that moved later (a slice re-armed, a timer cancelled) leaves
//! the hardware early, and that interrupt finds nothing due and programs the exact next one.
//!
//! # Example
//! ```
//! use rtos::time::{Duration, Instant};
//! use rtos::timer::{self, Action};
//! rtos::fake::run(1, || {
//!     let far = timer::arm(Instant::after(Duration::from_secs(60)), Action::Call(Box::new(|| {})));
//!     assert!(timer::cancel(far), "still pending: its action will not run");
//!     assert!(!timer::cancel(far), "a stale id cancels nothing");
//!     0
//! });
//! ```

pub(crate) mod queue;

use crate::config::MAX_CPUS;
use crate::sync::IrqSpinLock;
use crate::time::Instant;
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use queue::{Handle, TimerQueue};

/// Something a timer can wake: a sleeping thread (the scheduler implements it for its threads,
/// so this layer, below the scheduler, does not need to know what a thread is).
pub trait Wake: Send + Sync {
    /// Wakes it (in interrupt context, interrupts masked: must not sleep).
    fn wake(self: Arc<Self>);
}

/// What a timer does when it fires.
pub enum Action {
    /// Wake a sleeper (a thread's timed sleep or wait).
    Wake(Arc<dyn Wake>),
    /// Run a function (in interrupt context: it must not sleep).
    Call(Box<dyn FnOnce() + Send>),
}

/// Identifies an armed timer, for [`cancel`]. Once the timer fired or was cancelled the id is
/// stale: cancelling it again does nothing, even if its slot was reused by a later timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerId {
    cpu: usize,
    deadline: Instant,
    handle: Handle,
}

impl TimerId {
    /// When it fires.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }
    /// The CPU it fires on.
    pub fn cpu(&self) -> usize {
        self.cpu
    }
}

/// "No deadline" in [`CpuDeadlines`]: later than any real one.
const NONE: u64 = u64::MAX;

/// One CPU's slice and what its hardware is programmed for. Only that CPU writes them, with
/// interrupts masked, so they need no lock (other CPUs only read them for `timers`); atomics
/// because of those reads. [`NONE`] is "no slice" and "disarmed".
struct CpuDeadlines {
    /// The end of the running thread's time slice ([`set_slice`]).
    slice: AtomicU64,
    /// What the hardware is programmed for.
    programmed: AtomicU64,
}

impl CpuDeadlines {
    const fn new() -> Self {
        Self {
            slice: AtomicU64::new(NONE),
            programmed: AtomicU64::new(NONE),
        }
    }

    fn slice(&self) -> Option<u64> {
        some(self.slice.load(Ordering::Relaxed))
    }

    /// Programs this CPU's hardware exactly for `want` (the earliest queued timer or the slice).
    fn program_exact(&self, want: u64) {
        if want != self.programmed.load(Ordering::Relaxed) {
            self.programmed.store(want, Ordering::Relaxed);
            crate::port::port().set_deadline(some(want));
        }
    }

    /// Programs this CPU's hardware for `want` only if it is earlier than what is programmed: a
    /// later or no deadline is left to the early interrupt to fix.
    fn program_if_earlier(&self, want: u64) {
        if want < self.programmed.load(Ordering::Relaxed) {
            self.programmed.store(want, Ordering::Relaxed);
            crate::port::port().set_deadline(Some(want));
        }
    }
}

fn some(d: u64) -> Option<u64> {
    (d != NONE).then_some(d)
}

/// The earliest of `q`'s deadlines and `slice`, whichever comes first ([`NONE`] if neither).
fn wanted(q: &TimerQueue<Action>, slice: u64) -> u64 {
    q.earliest().map_or(slice, |e| e.min(slice))
}

/// Each CPU's queued timers (under a lock: other CPUs cancel them).
static QUEUES: [IrqSpinLock<TimerQueue<Action>>; MAX_CPUS] =
    [const { IrqSpinLock::new(TimerQueue::new()) }; MAX_CPUS];

static DEADLINES: [CpuDeadlines; MAX_CPUS] = [const { CpuDeadlines::new() }; MAX_CPUS];

/// The queues of offline CPUs each CPU serves besides its own (bit n = CPU n's queue): a CPU going
/// offline hands its pending timers to an online one ([`hand_over`]) without moving them, so that
/// their ids stay valid for [`cancel`]; it takes them back when it comes online ([`take_back`]).
/// Zero almost always: the timer interrupt pays one load for it.
static ADOPTED: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];

/// The earliest deadline of the queues `cpu` adopted ([`NONE`] if none).
fn adopted_earliest(cpu: usize) -> u64 {
    let mut mask = ADOPTED[cpu].load(Ordering::Acquire);
    let mut e = NONE;
    while mask != 0 {
        let c = mask.trailing_zeros() as usize;
        mask &= mask - 1;
        if let Some(d) = QUEUES[c].lock_masked().earliest() {
            e = e.min(d);
        }
    }
    e
}

/// Runs one due timer of the queues `cpu` adopted, if any; whether it ran one.
fn fire_adopted(cpu: usize, now: u64) -> bool {
    let mut mask = ADOPTED[cpu].load(Ordering::Acquire);
    while mask != 0 {
        let c = mask.trailing_zeros() as usize;
        mask &= mask - 1;
        let due = QUEUES[c].lock_masked().pop_due(now).map(|(_, a)| a);
        match due {
            Some(Action::Wake(w)) => w.wake(),
            Some(Action::Call(f)) => f(),
            None => continue,
        }
        return true;
    }
    false
}

/// CPU `from` goes offline (called there, interrupts masked): CPU `to` serves its timers (and any
/// it served) from now on. The caller interrupts `to`, which then programs its hardware for them
/// ([`check_adopted`]).
pub fn hand_over(from: usize, to: usize) {
    let mine = ADOPTED[from].swap(0, Ordering::AcqRel);
    ADOPTED[to].fetch_or(mine | (1 << from), Ordering::AcqRel);
    DEADLINES[from].slice.store(NONE, Ordering::Relaxed);
    DEADLINES[from].programmed.store(NONE, Ordering::Relaxed);
}

/// This CPU came (back) online (interrupts masked): it serves its own queue again, and programs
/// its hardware for it.
pub fn take_back(cpu: usize) {
    for a in &ADOPTED {
        a.fetch_and(!(1 << cpu), Ordering::AcqRel);
    }
    let d = &DEADLINES[cpu];
    d.programmed.store(NONE, Ordering::Relaxed);
    let t = QUEUES[cpu].lock_masked();
    d.program_exact(wanted(&t, d.slice.load(Ordering::Relaxed)));
}

/// On an interrupt that may follow a [`hand_over`] to this CPU (interrupts masked): programs the
/// hardware for the adopted timers if they come first. One load when it adopted none.
#[inline]
pub fn check_adopted(cpu: usize) {
    if ADOPTED[cpu].load(Ordering::Relaxed) != 0 {
        DEADLINES[cpu].program_if_earlier(adopted_earliest(cpu));
    }
}

/// Sets (or with `None`, clears) the end of this CPU's current time slice; when it passes,
/// [`handle_irq`] reports it. Called on `cpu` with interrupts masked: a few loads and stores, no
/// lock (a re-armed slice is later than the one programmed, so the hardware is left alone).
pub(crate) fn set_slice(cpu: usize, deadline: Option<Instant>) {
    let d = &DEADLINES[cpu];
    let slice = deadline.map_or(NONE, Instant::ticks);
    d.slice.store(slice, Ordering::Relaxed);
    d.program_if_earlier(slice);
}

/// Makes this CPU take a timer interrupt at `deadline` at the latest, with nothing queued for it
/// (for work the interrupt does anyway, like lazy irq_works). Interrupts masked, on `cpu`.
pub(crate) fn kick(cpu: usize, deadline: Instant) {
    DEADLINES[cpu].program_if_earlier(deadline.ticks());
}

/// Arms a timer on this CPU that fires at `deadline` (a deadline already passed fires at once).
#[doc(alias = "hrtimer_start")]
#[doc(alias = "add_timer")]
pub fn arm(deadline: Instant, action: Action) -> TimerId {
    let port = crate::port::port();
    let saved = port.irq_save();
    let cpu = port.cpu_id();
    let handle = {
        let mut t = QUEUES[cpu].lock_masked();
        let handle = t.arm(deadline.ticks(), action);
        let d = &DEADLINES[cpu];
        d.program_if_earlier(wanted(&t, d.slice.load(Ordering::Relaxed)));
        handle
    };
    port.irq_restore(saved);
    TimerId {
        cpu,
        deadline,
        handle,
    }
}

/// Cancels a timer; returns whether it was still pending (its action will not run).
#[doc(alias = "hrtimer_try_to_cancel")]
#[doc(alias = "del_timer")]
pub fn cancel(id: TimerId) -> bool {
    // The hardware may stay programmed for the cancelled deadline: that interrupt finds nothing
    // due and programs the next one.
    let removed = QUEUES[id.cpu].lock().cancel(id.handle);
    // The action (maybe the last reference to a thread) is dropped outside the lock.
    removed.is_some()
}

/// Whether `cpu` has any timer pending (a timer interrupt will come).
pub fn has_pending(cpu: usize) -> bool {
    QUEUES
        .get(cpu)
        .is_some_and(|t| DEADLINES[cpu].slice().is_some() || !t.lock().is_empty())
}

/// Timers pending on `cpu`, as `(deadline, kind)` with kind `wake`, `slice` or `call`, by
/// deadline (equal deadlines in arm order).
pub fn pending(cpu: usize) -> Vec<(Instant, &'static str)> {
    QUEUES
        .get(cpu)
        .map(|q| {
            let t = q.lock();
            let mut v = Vec::with_capacity(t.len() + 1);
            // `for_each` goes by deadline then arm order already: only the slice timer needs
            // placing (before the queue's timers of its deadline, as it was armed first).
            t.for_each(|deadline, a| {
                let kind = match a {
                    Action::Wake(_) => "wake",
                    Action::Call(_) => "call",
                };
                v.push((Instant::from_ticks(deadline), kind));
            });
            if let Some(d) = DEADLINES[cpu].slice().map(Instant::from_ticks) {
                v.insert(v.partition_point(|&(e, _)| e < d), (d, "slice"));
            }
            v
        })
        .unwrap_or_default()
}

/// The timer interrupt of this CPU: runs every due timer, then programs the next deadline.
/// Returns whether the running thread's time slice ended (the caller, [`crate::entry`], asks the
/// scheduler to reschedule). Called with interrupts masked.
pub fn handle_irq() -> bool {
    let port = crate::port::port();
    let cpu = port.cpu_id();
    let mut slice_ended = false;
    loop {
        let now = port.now();
        let d = &DEADLINES[cpu];
        if d.slice.load(Ordering::Relaxed) <= now {
            d.slice.store(NONE, Ordering::Relaxed);
            slice_ended = true;
        }
        let (due, want) = {
            let mut t = QUEUES[cpu].lock_masked();
            let due = t.pop_due(now).map(|(_, a)| a);
            (due, wanted(&t, d.slice.load(Ordering::Relaxed)))
        };
        match due {
            Some(Action::Wake(w)) => w.wake(),
            Some(Action::Call(f)) => f(),
            None => {
                if ADOPTED[cpu].load(Ordering::Relaxed) == 0 {
                    d.program_exact(want);
                    return slice_ended;
                }
                if !fire_adopted(cpu, now) {
                    d.program_exact(want.min(adopted_earliest(cpu)));
                    return slice_ended;
                }
            }
        }
    }
}

/// Drops every pending timer (the fake port's fresh start).
#[cfg(all(not(target_os = "none"), not(loom)))]
pub(crate) fn reset_for_fake() {
    for q in &QUEUES {
        q.lock().clear();
    }
    for d in &DEADLINES {
        d.slice.store(NONE, Ordering::Relaxed);
        d.programmed.store(NONE, Ordering::Relaxed);
    }
    for a in &ADOPTED {
        a.store(0, Ordering::Relaxed);
    }
}
