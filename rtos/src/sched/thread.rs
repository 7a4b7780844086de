//! The thread control block ([`Thread`]), its [`State`]s and flags, and [`ThreadInfo`], the
//! snapshot `ps` shows. Plain data: the scheduler (`sched::scheduler`) changes it.

use super::task_works::TaskWorks;
use crate::port::{Context, Stack};
use crate::sync::IrqSpinLock;
use crate::time::{Duration, Instant};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{
    AtomicBool, AtomicI32, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};

/// How many threads have their `notify_resume` flag set, at least: incremented before a flag is
/// set and decremented after it is cleared, so it is never below the true count. The way out of
/// an interrupt looks at the interrupted thread's flag (under its run-queue lock) only when this
/// is not zero: one load on every interrupt instead.
static NOTIFIED: AtomicUsize = AtomicUsize::new(0);

/// Whether some thread may have its `notify_resume` flag set (false: none has).
#[inline(always)]
pub(crate) fn any_notified() -> bool {
    NOTIFIED.load(Ordering::Acquire) != 0
}

/// Thread id: unique for the life of the system, never reused.
pub type Tid = u32;

/// Where a thread is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum State {
    /// Created, never woken: it has not run and does not run until woken.
    Created = 0,
    /// Runnable, waiting for a CPU.
    Ready = 1,
    /// On a CPU now.
    Running = 2,
    /// Blocked: sleeping, or waiting on a completion or wait queue.
    Sleeping = 3,
    /// Parked (kthread_parkme), until unparked.
    Parked = 4,
    /// Finished; its result is kept until collected.
    Exited = 5,
}

impl State {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => State::Created,
            1 => State::Ready,
            2 => State::Running,
            3 => State::Sleeping,
            4 => State::Parked,
            _ => State::Exited,
        }
    }

    /// Lower-case name, as `ps` shows it.
    pub fn name(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Ready => "ready",
            State::Running => "running",
            State::Sleeping => "sleeping",
            State::Parked => "parked",
            State::Exited => "exited",
        }
    }
}

/// Thread flag bits (`Thread::flags`). The scheduler defines them (as Linux's `task_struct`
/// carries `PF_*` and `TIF_*` bits) so that a sleep can see a stop or park request without
/// knowing what a kthread is; [`crate::kthread`] and [`crate::work::task_work`] set them.
pub(crate) mod flags {
    /// kthread_stop() was called: the thread should return.
    pub const SHOULD_STOP: u32 = 1 << 0;
    /// kthread_park() was called: the thread should call parkme().
    pub const SHOULD_PARK: u32 = 1 << 1;
    /// Bound to one CPU by create_on_cpu: re-bound there on unpark.
    pub const IS_PER_CPU: u32 = 1 << 2;
    /// The thread is exiting or has exited (task_work adds fail, park returns ENOSYS).
    pub const EXITING: u32 = 1 << 3;
    // (1 << 4 is free.)
    /// In `sleep_interruptible_until`: a signalling task_work add may wake it.
    pub const INTERRUPTIBLE: u32 = 1 << 5;
    /// `kthreadd`: park and stop are refused (every thread creation depends on it).
    pub const NO_PARK_STOP: u32 = 1 << 6;
    /// A per-CPU worker (a workqueue's or kthread worker's thread): when its CPU goes offline it
    /// is not parked but unbound, and goes on running its works elsewhere (re-bound on online).
    pub const HOTPLUG_UNBIND: u32 = 1 << 7;
    /// Parked because its CPU went offline (or unparked while it was): unparked on online.
    pub const HOTPLUG_PARKED: u32 = 1 << 8;
    /// A stop or park request: an interruptible sleep ends early for these.
    pub const STOP_OR_PARK: u32 = SHOULD_STOP | SHOULD_PARK;
}

/// A thread's function: called once with the thread itself, returns the thread's result. It
/// gets the reference to the thread by value: an entry that ends in an exit that never returns
/// (a kthread's) drops it there, so nothing is left holding an exited thread.
pub(crate) type Entry = Box<dyn FnOnce(Arc<Thread>) -> i32 + Send>;

/// A thread. Shared through `Arc`; the scheduler, the registry and handles hold references.
pub struct Thread {
    pub(crate) tid: Tid,
    pub(crate) name: String,
    pub(crate) prio: AtomicU8,
    /// [`State`], changed only under the run-queue lock of `cpu`.
    pub(crate) state: AtomicU8,
    /// The CPU whose run queue owns the thread.
    pub(crate) cpu: AtomicUsize,
    /// CPUs the thread may run on (bit n = CPU n).
    pub(crate) allowed: AtomicU32,
    /// Queued in a run queue.
    pub(crate) on_rq: AtomicBool,
    pub(crate) is_idle: bool,
    pub(crate) context: Context,
    pub(crate) stack: IrqSpinLock<Option<Stack>>,
    /// Size of the stack it was created with (kept after the stack is freed).
    pub(crate) stack_size: usize,
    /// The thread that created it (`kthreadd` for threads created through it; 0: the boot path
    /// or a context without a thread).
    pub(crate) parent: Tid,
    /// The function to run, taken on first start; it gets the thread itself.
    pub(crate) entry: IrqSpinLock<Option<Entry>>,
    pub(crate) flags: AtomicU32,
    /// The CPU a per-CPU kthread belongs to.
    pub(crate) bound_cpu: AtomicUsize,
    /// What the thread's function returned (or it passed to its exit), once exited.
    pub(crate) result: AtomicI32,
    /// Accounting: counter ticks spent running, switches in, and when it last started running.
    pub(crate) runtime: AtomicU64,
    pub(crate) switches: AtomicU64,
    pub(crate) ran_since: AtomicU64,
    /// Stack high-water mark, sampled when the stack is freed.
    pub(crate) stack_peak: AtomicUsize,
    /// Queued task works (see [`crate::work::task_work`]).
    pub(crate) task_works: IrqSpinLock<TaskWorks>,
    /// A notifying task_work add asked the thread to run its works at its next kernel boundary
    /// (Linux's `TIF_NOTIFY_RESUME`): the scheduler calls its resume hook there. Set and cleared
    /// through [`Thread::set_notify`] and [`Thread::clear_notify`], which keep [`any_notified`]
    /// true while it is set.
    pub(crate) notify_resume: AtomicBool,
    /// The thread is inside its task_work run loop (boundaries crossed by a callback skip it).
    pub(crate) task_work_running: AtomicBool,
    /// The work or task_work callback it runs now (for the watchdog).
    pub(crate) callback: crate::running::Running,
}

/// A snapshot of one thread for `ps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadInfo {
    /// Thread id.
    pub tid: Tid,
    /// Full name.
    pub name: String,
    /// State, with "stopping" reported separately.
    pub state: State,
    /// A stop was requested and the thread has not exited yet.
    pub stopping: bool,
    /// The CPU it runs or last ran on.
    pub cpu: usize,
    /// Priority (higher is more urgent).
    pub prio: u8,
    /// Time spent running on a CPU.
    pub runtime: Duration,
    /// Times it was switched in.
    pub switches: u64,
    /// Most stack bytes ever used.
    pub stack_used: usize,
    /// Stack size.
    pub stack_size: usize,
    /// Exit result, once exited.
    pub result: Option<i32>,
    /// Bound to one CPU (bind or create_on_cpu).
    pub bound: Option<usize>,
    /// The thread that created it (Linux's PPID: `kthreadd` for kthreads; 0 for the boot path).
    pub parent: Tid,
}

impl Thread {
    /// The record of the work or task_work callback it runs now (for the watchdog).
    pub fn callback(&self) -> &crate::running::Running {
        &self.callback
    }

    /// Its registers are live on a CPU: running, or still switching away.
    pub(crate) fn on_cpu(&self) -> bool {
        self.context.on_cpu()
    }
    /// Thread id.
    pub fn tid(&self) -> Tid {
        self.tid
    }
    /// Full name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Current state.
    pub fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }
    pub(crate) fn set_state(&self, s: State) {
        self.state.store(s as u8, Ordering::Release);
    }
    /// Priority.
    pub fn prio(&self) -> u8 {
        self.prio.load(Ordering::Relaxed)
    }
    /// The CPU it runs or last ran on.
    pub fn cpu(&self) -> usize {
        self.cpu.load(Ordering::Acquire)
    }
    pub(crate) fn has_flag(&self, f: u32) -> bool {
        self.flags.load(Ordering::Acquire) & f != 0
    }
    pub(crate) fn set_flag(&self, f: u32) {
        self.flags.fetch_or(f, Ordering::AcqRel);
    }
    pub(crate) fn clear_flag(&self, f: u32) {
        self.flags.fetch_and(!f, Ordering::AcqRel);
    }
    /// Sets the notify-resume flag ([`any_notified`] counts it first).
    pub(crate) fn set_notify(&self) {
        NOTIFIED.fetch_add(1, Ordering::AcqRel);
        if self.notify_resume.swap(true, Ordering::AcqRel) {
            // Already set (and counted).
            NOTIFIED.fetch_sub(1, Ordering::AcqRel);
        }
    }
    /// Clears the notify-resume flag (and then its count).
    pub(crate) fn clear_notify(&self) {
        if self.notify_resume.swap(false, Ordering::AcqRel) {
            NOTIFIED.fetch_sub(1, Ordering::AcqRel);
        }
    }
    /// Whether this is a CPU's idle thread (its boot context; it never sleeps).
    pub fn is_idle(&self) -> bool {
        self.is_idle
    }
    /// Whether the thread is exiting or has exited.
    pub fn is_exiting(&self) -> bool {
        self.has_flag(flags::EXITING)
    }
    /// Its run time in ticks up to `now`, given the state just read: what it has banked, plus
    /// the current stint if it is running. Several threads sampled against one `now` compare
    /// exactly (the watchdog), however long the sampling itself took.
    pub fn runtime_ticks_at(&self, state: State, now: Instant) -> u64 {
        let banked = self.runtime.load(Ordering::Relaxed);
        if state != State::Running {
            return banked;
        }
        let since = Instant::from_ticks(self.ran_since.load(Ordering::Relaxed));
        banked + now.ticks_since(since)
    }

    /// A snapshot for `ps`.
    pub fn info(&self) -> ThreadInfo {
        let state = self.state();
        let port = crate::port::try_port();
        let stack_used = match (*self.stack.lock(), port) {
            (Some(stack), Some(p)) => p.stack_high_water(&stack),
            _ => self.stack_peak.load(Ordering::Relaxed),
        };
        let allowed = self.allowed.load(Ordering::Relaxed);
        let runtime = match port {
            Some(p) => self.runtime_ticks_at(state, Instant::from_ticks(p.now())),
            None => self.runtime.load(Ordering::Relaxed),
        };
        let hz = port.map_or(0, |p| p.ticks_per_second());
        ThreadInfo {
            tid: self.tid,
            name: self.name.clone(),
            state,
            stopping: self.has_flag(flags::SHOULD_STOP) && state != State::Exited,
            cpu: self.cpu(),
            prio: self.prio(),
            runtime: crate::time::ticks_to_duration(runtime, hz),
            switches: self.switches.load(Ordering::Relaxed),
            stack_used,
            stack_size: self.stack_size,
            parent: self.parent,
            result: (state == State::Exited).then(|| self.result.load(Ordering::Acquire)),
            bound: (allowed.count_ones() == 1).then(|| allowed.trailing_zeros() as usize),
        }
    }
}

impl core::fmt::Debug for Thread {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Thread({} {:?} {:?})", self.tid, self.name, self.state())
    }
}

impl Drop for Thread {
    fn drop(&mut self) {
        // A thread that ended with its flag set no longer counts.
        if *self.notify_resume.get_mut() {
            NOTIFIED.fetch_sub(1, Ordering::AcqRel);
        }
    }
}
