//! The scheduler proper: per-CPU run queues, wake-ups, the switch, preemption, sleeps (the model
//! is in the [module documentation](super)).

use super::fifo::Fifo;
use super::task_works::TaskWorks;
use super::thread::{self, State, Thread, flags};
use crate::config::{MAX_CPUS, PRIORITIES, SLICE_NS};
use crate::port::{self, Context, Sgi, ThreadEntry};
use crate::sync::IrqSpinLock;
use crate::time::Instant;
use crate::timer;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{
    AtomicBool, AtomicI32, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};

const _: () = assert!(PRIORITIES.is_power_of_two());

struct RunQueue {
    queues: [Fifo<Arc<Thread>>; PRIORITIES],
    bitmap: u32,
    nr_ready: usize,
    current: Option<Arc<Thread>>,
    idle: Option<Arc<Thread>>,
    /// An exited thread this CPU switched away from, until [`finish_switch`] frees its stack.
    prev: Option<Arc<Thread>>,
    /// The running thread has a time slice ([`timer::set_slice`]).
    slice: bool,
    /// The CPU went offline: nothing may be queued here until it comes back ([`init_cpu`]).
    dead: bool,
}

impl RunQueue {
    const fn new() -> Self {
        Self {
            queues: [const { Fifo::new() }; PRIORITIES],
            bitmap: 0,
            nr_ready: 0,
            current: None,
            idle: None,
            prev: None,
            slice: false,
            dead: false,
        }
    }

    #[inline(always)]
    fn enqueue(&mut self, t: Arc<Thread>) {
        // A thread is in one run queue at most, once: a copy left behind (a move between
        // levels or CPUs that did not take it out first) would run it twice.
        debug_assert!(
            !t.on_rq.load(Ordering::Relaxed),
            "thread {} ({}) queued twice",
            t.tid,
            t.name()
        );
        self.enqueue_moved(t);
    }

    /// [`RunQueue::enqueue`] of a thread already marked queued: one a dying CPU took off its
    /// queue and marked so that wakers leave it alone while it moves ([`die`]).
    #[inline(always)]
    fn enqueue_moved(&mut self, t: Arc<Thread>) {
        // (Priorities are stored below PRIORITIES, a power of two: the mask is no clamp, and the
        // index needs no bounds check.)
        let p = t.prio() as usize % PRIORITIES;
        t.on_rq.store(true, Ordering::Release);
        self.queues[p].push_back(t);
        self.bitmap |= 1 << p;
        self.nr_ready += 1;
    }

    #[inline(always)]
    fn pick(&mut self) -> Option<Arc<Thread>> {
        if self.bitmap == 0 {
            return None;
        }
        let p = 31 - self.bitmap.leading_zeros() as usize;
        let t = self.queues[p].pop_front()?;
        if self.queues[p].is_empty() {
            self.bitmap &= !(1 << p);
        }
        self.nr_ready -= 1;
        t.on_rq.store(false, Ordering::Release);
        Some(t)
    }

    /// [`RunQueue::pick`], or nothing when `skip` (a CPU going offline).
    #[inline(always)]
    fn pick_unless(&mut self, skip: bool) -> Option<Arc<Thread>> {
        if skip { None } else { self.pick() }
    }

    fn remove(&mut self, t: &Arc<Thread>) -> bool {
        for (p, q) in self.queues.iter_mut().enumerate() {
            if q.remove_first(|x| Arc::ptr_eq(x, t)).is_some() {
                if q.is_empty() {
                    self.bitmap &= !(1 << p);
                }
                self.nr_ready -= 1;
                t.on_rq.store(false, Ordering::Release);
                return true;
            }
        }
        false
    }

    fn highest_ready(&self) -> Option<u8> {
        (self.bitmap != 0).then(|| (31 - self.bitmap.leading_zeros()) as u8)
    }
}

struct PerCpu {
    rq: IrqSpinLock<RunQueue>,
    need_resched: AtomicBool,
    /// `rq.prev` holds an exited thread to reap. Only this CPU touches it, masked: the thread
    /// switched to reads one flag instead of taking the run-queue lock again.
    reap: AtomicBool,
    /// The scheduler runs here ([`init_cpu`] ran, and the CPU has not gone offline since).
    up: AtomicBool,
    /// Asked to go offline ([`take_down`]): it switches to its idle thread, which hands every
    /// other thread to online CPUs and leaves ([`set_dying_hook`]).
    dying: AtomicBool,
    /// Context switches made here (to another thread); written by this CPU only, under its
    /// run-queue lock: a load and a store.
    switches: AtomicU64,
}

static CPUS: [PerCpu; MAX_CPUS] = [const {
    PerCpu {
        rq: IrqSpinLock::new(RunQueue::new()),
        need_resched: AtomicBool::new(false),
        reap: AtomicBool::new(false),
        up: AtomicBool::new(false),
        dying: AtomicBool::new(false),
        switches: AtomicU64::new(0),
    }
}; MAX_CPUS];

/// Every CPU: the allowed mask of a thread that may run anywhere (placement intersects it with
/// the online CPUs, so a CPU that comes back online is used again).
pub const ALL_CPUS: u32 = if MAX_CPUS >= 32 {
    u32::MAX
} else {
    (1 << MAX_CPUS) - 1
};

static NEXT_TID: AtomicU32 = AtomicU32::new(1);

/// The CPUs the scheduler runs on ([`init_cpu`] ran there), bit n = CPU n: one load for every
/// wake-up.
static ONLINE: AtomicU32 = AtomicU32::new(0);
/// See [`possible_mask`].
static POSSIBLE: AtomicU32 = AtomicU32::new(0);
/// A time slice ([`SLICE_NS`]) in counter ticks, set by [`init_cpu`]: the switch path reads it
/// instead of the counter frequency and a division.
static SLICE_TICKS: AtomicU64 = AtomicU64::new(0);

fn new_thread(name: String, prio: u8, cpu: usize, allowed: u32, is_idle: bool) -> Thread {
    Thread {
        tid: if is_idle {
            0
        } else {
            NEXT_TID.fetch_add(1, Ordering::Relaxed)
        },
        name,
        prio: AtomicU8::new(prio.min(PRIORITIES as u8 - 1)),
        state: AtomicU8::new(if is_idle {
            State::Running
        } else {
            State::Created
        } as u8),
        cpu: AtomicUsize::new(cpu),
        allowed: AtomicU32::new(allowed),
        on_rq: AtomicBool::new(false),
        is_idle,
        context: {
            // Its registers are live on a CPU while it runs and until the switch away completes.
            let c = Context::default();
            c.set_on_cpu(is_idle);
            c
        },
        stack: IrqSpinLock::new(None),
        stack_size: 0,
        parent: 0,
        entry: IrqSpinLock::new(None),
        flags: AtomicU32::new(0),
        bound_cpu: AtomicUsize::new(cpu),
        result: AtomicI32::new(0),
        runtime: AtomicU64::new(0),
        switches: AtomicU64::new(0),
        ran_since: AtomicU64::new(0),
        stack_peak: AtomicUsize::new(0),
        task_works: IrqSpinLock::new(TaskWorks::new()),
        notify_resume: AtomicBool::new(false),
        task_work_running: AtomicBool::new(false),
        callback: crate::running::Running::new(),
    }
}

/// Turns the calling CPU's boot context into its idle thread and marks the CPU schedulable.
/// Call once per CPU, with the port installed, before enabling interrupts there.
pub fn init_cpu() {
    let p = port::port();
    let cpu = p.cpu_id();
    // (A whole number of slices per second: one division, no 128-bit arithmetic.)
    SLICE_TICKS.store(
        p.ticks_per_second() / (crate::time::NS_PER_SEC / SLICE_NS),
        Ordering::Relaxed,
    );
    let idle = Arc::new(new_thread(format!("idle/{cpu}"), 0, cpu, 1 << cpu, true));
    idle.ran_since.store(p.now(), Ordering::Relaxed);
    {
        // (Again after the CPU was offline: a fresh idle thread on the fresh boot context. It
        // takes over the old one's idle time, so that the CPU's idle time never goes back.)
        let mut rq = CPUS[cpu].rq.lock();
        if let Some(old) = rq.idle.as_ref() {
            idle.runtime
                .store(old.runtime.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        rq.current = Some(idle.clone());
        rq.idle = Some(idle);
        rq.dead = false;
        rq.slice = false;
    }
    CPUS[cpu].dying.store(false, Ordering::Release);
    CPUS[cpu].up.store(true, Ordering::Release);
    POSSIBLE.fetch_or(1 << cpu, Ordering::AcqRel);
    ONLINE.fetch_or(1 << cpu, Ordering::AcqRel);
}

/// What the scheduler counts per CPU, for `top`: see [`cpu_times`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// Context switches made on the CPU (from one thread to another) since boot.
    pub switches: u64,
    /// Time its idle thread ran since boot (counter ticks), up to now if it runs now: the rest
    /// of the CPU's online time it was busy (threads and the interrupts they took).
    pub idle_ticks: u64,
}

/// CPU `cpu`'s switch count and idle time; `None` before the scheduler ran there (or past
/// [`MAX_CPUS`]). Takes that CPU's run-queue lock for a moment.
pub fn cpu_times(cpu: usize) -> Option<CpuTimes> {
    let p = port::try_port()?;
    let pc = CPUS.get(cpu)?;
    let rq = pc.rq.lock();
    let idle = rq.idle.as_ref()?;
    let mut idle_ticks = idle.runtime.load(Ordering::Relaxed);
    if rq.current.as_ref().is_some_and(|c| Arc::ptr_eq(c, idle)) {
        idle_ticks = idle_ticks.wrapping_add(
            p.now()
                .saturating_sub(idle.ran_since.load(Ordering::Relaxed)),
        );
    }
    Some(CpuTimes {
        switches: pc.switches.load(Ordering::Relaxed),
        idle_ticks,
    })
}

/// CPUs the scheduler may place threads on (bit n = CPU n).
pub fn online_mask() -> u32 {
    ONLINE.load(Ordering::Acquire)
}

/// CPUs that have run the scheduler at least once (online now or offline by hotplug): those a
/// workqueue has a worker for.
pub fn possible_mask() -> u32 {
    POSSIBLE.load(Ordering::Acquire)
}

/// The thread running on this CPU, once the scheduler runs here.
#[doc(alias = "get_current")]
pub fn current() -> Option<Arc<Thread>> {
    let p = port::try_port()?;
    let saved = p.irq_save();
    let cur = CPUS
        .get(p.cpu_id())
        .and_then(|c| c.rq.lock_masked().current.clone());
    p.irq_restore(saved);
    cur
}

/// Calls `f` with the thread running on this CPU, under the run-queue lock (so `f` must be
/// short and take no scheduler lock): a look at the current thread without the two atomic
/// reference-count updates of [`current`].
pub(crate) fn with_current<R>(f: impl FnOnce(&Arc<Thread>) -> R) -> Option<R> {
    let p = port::try_port()?;
    let saved = p.irq_save();
    let r = CPUS
        .get(p.cpu_id())
        .and_then(|c| c.rq.lock_masked().current.as_ref().map(f));
    p.irq_restore(saved);
    r
}

/// For a fault or panic report: calls `f` with the tid and name of the thread this CPU runs and
/// whether it is the CPU's idle thread. Only try-locks the run queue, a bounded number of times,
/// and never allocates: the CPU may have faulted while holding it (then `f` is not called and
/// this returns `false`).
pub fn peek_current(f: impl FnOnce(crate::sched::thread::Tid, &str, bool)) -> bool {
    let Some(p) = port::try_port() else {
        return false;
    };
    let Some(c) = CPUS.get(p.cpu_id()) else {
        return false;
    };
    for _ in 0..10_000 {
        if let Some(rq) = c.rq.try_lock() {
            return match rq.current.as_ref() {
                Some(t) => {
                    f(t.tid, &t.name, t.is_idle);
                    true
                }
                None => false,
            };
        }
        core::hint::spin_loop();
    }
    false
}

/// Whether `t` is the calling thread, without the run-queue lock: with interrupts masked, the
/// one thread that is on this CPU (its registers live, until a switch away saves them) and has
/// it as its CPU is the caller, since no switch can be under way on the CPU running this.
pub fn is_current(t: &Arc<Thread>) -> bool {
    let Some(p) = port::try_port() else {
        return false;
    };
    let saved = p.irq_save();
    let me = t.on_cpu() && t.cpu() == p.cpu_id();
    p.irq_restore(saved);
    me
}

/// Sets the calling thread's state (sleeping or parked) before it calls [`schedule`].
pub(crate) fn set_current_state(s: State) {
    let p = port::port();
    let saved = p.irq_save();
    let cpu = p.cpu_id();
    if let Some(cur) = CPUS[cpu].rq.lock_masked().current.as_ref() {
        cur.set_state(s);
    }
    p.irq_restore(saved);
}

/// Marks the calling thread sleeping (before it calls [`schedule`]) and returns it, in one
/// run-queue critical section; `None` (and no change) for an idle thread or before the scheduler
/// runs here, which cannot sleep.
pub(crate) fn prepare_to_sleep() -> Option<Arc<Thread>> {
    let p = port::try_port()?;
    let saved = p.irq_save();
    let me = CPUS.get(p.cpu_id()).and_then(|c| {
        let rq = c.rq.lock_masked();
        let cur = rq.current.as_ref().filter(|t| !t.is_idle)?;
        cur.set_state(State::Sleeping);
        Some(cur.clone())
    });
    p.irq_restore(saved);
    me
}

/// Asks `cpu` to reschedule at its next preemption point.
pub fn set_need_resched(cpu: usize) {
    if let Some(c) = CPUS.get(cpu) {
        c.need_resched.store(true, Ordering::Release);
    }
}

/// Allocates a thread with its own stack, in the `Created` state (not runnable until woken).
pub(crate) fn create_thread(
    name: String,
    prio: u8,
    allowed: u32,
    entry: thread::Entry,
) -> Option<Arc<Thread>> {
    let p = port::port();
    let stack = p.stack_alloc()?;
    let cpu = allowed.trailing_zeros() as usize;
    let mut t = new_thread(name, prio, cpu.min(MAX_CPUS - 1), allowed, false);
    t.stack_size = stack.size;
    t.parent = with_current(|me| me.tid).unwrap_or(0);
    t.context = p.init_context(&stack, thread_start as ThreadEntry, 0);
    *t.stack.get_mut() = Some(stack);
    *t.entry.get_mut() = Some(entry);
    Some(Arc::new(t))
}

/// First code of every thread: complete the switch that brought us here, then run the entry.
/// An entry that returns ends the thread with its value ([`exit_current`]); a kthread's entry
/// ends through [`crate::kthread::exit`] instead, which does the kthread part of an exit first.
extern "C" fn thread_start(_arg: usize) -> ! {
    finish_switch();
    let me = current().expect("a new thread runs under the scheduler");
    let entry = me.entry.lock().take();
    port::port().irq_enable();
    // The entry owns `me` and returns: what it held, its own box included, is freed before the
    // exit, which never returns (an exit called inside the entry would leave them all behind:
    // about 300 bytes a thread, before this was fixed).
    let result = match entry {
        Some(f) => f(me),
        None => {
            drop(me);
            0
        }
    };
    let me = current().expect("a thread runs under the scheduler");
    if let Some(exit) = EXIT_HOOK.get() {
        exit(me, result)
    }
    me.result.store(result, Ordering::Release);
    drop(me);
    exit_current()
}

/// What a thread whose entry returned does to end (kthread's exit: task_work's last pass, the
/// waiters woken); registered once by [`crate::entry`].
static EXIT_HOOK: spin::Once<fn(Arc<Thread>, i32) -> !> = spin::Once::new();

/// Registers the exit hook ([`EXIT_HOOK`]). The first call wins.
pub fn set_exit_hook(hook: fn(Arc<Thread>, i32) -> !) {
    EXIT_HOOK.call_once(|| hook);
}

/// Ends the calling thread: marks it exited and switches away for good; the CPU that runs next
/// frees its stack. Everything an exit owes others (the result, task_work's exit pass, waking
/// whoever waits for the exit) is done before, by the caller ([`crate::kthread::exit`]); a
/// thread that already marked itself exited ([`set_current_state`]) may call this to leave.
pub(crate) fn exit_current() -> ! {
    set_current_state(State::Exited);
    loop {
        schedule();
    }
}

/// Makes `t` runnable if its state is in `from`. Returns whether it did.
pub(crate) fn try_wake(t: &Arc<Thread>, from: &[State]) -> bool {
    try_wake_if(Waking::Borrowed(t), states(from), |_| true)
}

/// Wakes `t` only from [`sleep_interruptible_until`] (not from [`sleep_until`], a completion or
/// parked): what a signalling task_work add does. Returns whether it woke it.
pub(crate) fn wake_interruptible(t: &Arc<Thread>) -> bool {
    try_wake_if(Waking::Borrowed(t), states(&[State::Sleeping]), |t| {
        t.has_flag(flags::INTERRUPTIBLE)
    })
}

/// A set of states, bit `s as u8` for each: one test where a slice would be a loop.
fn states(from: &[State]) -> u8 {
    from.iter().fold(0, |m, &s| m | 1 << s as u8)
}

/// The thread a wake-up is for: a reference (the run queue takes a clone if it queues it) or
/// the caller's own reference (a wait queue's entry), which the run queue takes as it is: two
/// atomic reference-count updates fewer on every completion and wait-queue wake-up.
enum Waking<'a> {
    Borrowed(&'a Arc<Thread>),
    Owned(Arc<Thread>),
}

impl Waking<'_> {
    #[inline(always)]
    fn get(&self) -> &Arc<Thread> {
        match self {
            Waking::Borrowed(t) => t,
            Waking::Owned(t) => t,
        }
    }
    #[inline(always)]
    fn into_arc(self) -> Arc<Thread> {
        match self {
            Waking::Borrowed(t) => t.clone(),
            Waking::Owned(t) => t,
        }
    }
}

/// [`try_wake`], when `cond` also holds (checked under `t`'s run-queue lock); `from` is a set
/// of states ([`states`]).
fn try_wake_if(w: Waking<'_>, from: u8, cond: impl Fn(&Thread) -> bool) -> bool {
    let p = port::port();
    let saved = p.irq_save();
    let woke = loop {
        let t = w.get();
        let c = t.cpu();
        let mut rq = CPUS[c].rq.lock_masked();
        if t.cpu() != c {
            continue;
        }
        let s = t.state();
        if from & (1 << s as u8) == 0 || !cond(t) {
            break false;
        }
        t.set_state(State::Ready);
        if rq.current.as_ref().is_some_and(|cur| Arc::ptr_eq(cur, t))
            || t.on_rq.load(Ordering::Acquire)
        {
            // Still current on its CPU (about to call schedule): it keeps running.
            crate::trace_event!(crate::trace::Kind::Wakeup, u64::from(t.tid), c as u64);
            break true;
        }
        let on_cpu = t.on_cpu();
        let target = if on_cpu {
            c
        } else {
            // (Bound to its CPU, the common case for per-CPU threads: no call.)
            let allowed = t.allowed.load(Ordering::Acquire) & online_mask();
            if allowed == 1 << c {
                c
            } else {
                select_cpu_unlocked(&rq, c, allowed)
            }
        };
        // (`c` cannot be a dead CPU's queue here: its last drain and `dead` happened under this
        // lock, after the online mask changed, so `select_cpu_unlocked` did not pick it.)
        crate::trace_event!(crate::trace::Kind::Wakeup, u64::from(t.tid), target as u64);
        if target != c {
            t.cpu.store(target, Ordering::Release);
            drop(rq);
            enqueue_remote(w.into_arc(), target, p.cpu_id(), false);
        } else {
            let prio = t.prio();
            rq.enqueue(w.into_arc());
            kick(&rq, target, prio, p.cpu_id());
        }
        break true;
    };
    p.irq_restore(saved);
    preempt_point();
    woke
}

/// Queues `t` (ready, on no queue, its `cpu` already `target`) on `target`, or on an online CPU if
/// `target` went offline meanwhile (a wake-up that read the online mask just before it changed).
/// `moving`: it comes from a dying CPU, already marked queued ([`die`]).
fn enqueue_remote(t: Arc<Thread>, mut target: usize, this_cpu: usize, moving: bool) {
    loop {
        let mut trq = CPUS[target].rq.lock_masked();
        if trq.dead {
            drop(trq);
            target = fallback_cpu(target);
            t.cpu.store(target, Ordering::Release);
            continue;
        }
        let prio = t.prio();
        if moving {
            trq.enqueue_moved(t);
        } else {
            trq.enqueue(t);
        }
        kick(&trq, target, prio, this_cpu);
        return;
    }
}

/// An online CPU for a thread that cannot stay on `c`: the lowest online one (CPU 0 never goes
/// offline), or `c` itself before any CPU is online.
fn fallback_cpu(c: usize) -> usize {
    let online = online_mask();
    if online == 0 {
        c
    } else {
        online.trailing_zeros() as usize
    }
}

/// In preemptible thread context (interrupts enabled), switches now if this CPU was asked to:
/// a wake-up of a more urgent thread takes effect at once, not at the next interrupt.
fn preempt_point() {
    let p = port::port();
    if !p.irqs_masked() && CPUS[p.cpu_id()].need_resched.load(Ordering::Acquire) {
        let saved = p.irq_save();
        let _ = schedule_inner(true);
        p.irq_restore(saved);
    }
}

/// Chooses a CPU for a thread that may run on the online CPUs in `allowed`, while holding `rq`
/// (the lock of CPU `c`, its last one): the other queues are sampled without holding two locks
/// at once.
#[inline(never)]
fn select_cpu_unlocked(rq: &RunQueue, c: usize, allowed: u32) -> usize {
    if allowed == 0 {
        // Every CPU it may use is offline (hotplug parks per-CPU kthreads first, so only a race
        // gets here): it runs on an online CPU rather than never (Linux's select_fallback_rq).
        return fallback_cpu(c);
    }
    if allowed == 1 << c {
        return c;
    }
    let here = rq.nr_ready + rq.current.as_ref().is_some_and(|cur| !cur.is_idle) as usize;
    if allowed & (1 << c) != 0 && here == 0 {
        return c;
    }
    // Sampling other CPUs needs their locks: only ever try_lock them to avoid lock-order cycles.
    let mut best = if allowed & (1 << c) != 0 {
        c
    } else {
        allowed.trailing_zeros() as usize
    };
    let mut best_load = if best == c { here } else { usize::MAX };
    for (o, other) in CPUS.iter().enumerate() {
        if allowed & (1 << o) == 0 || o == c {
            continue;
        }
        if let Some(orq) = other.rq.try_lock() {
            let l = orq.nr_ready + orq.current.as_ref().is_some_and(|cur| !cur.is_idle) as usize;
            if l < best_load {
                best = o;
                best_load = l;
            }
        }
    }
    best
}

/// After queueing `t` on `cpu`: preempt what runs there if `t` is more urgent, or if it is as
/// urgent and the running thread has no time slice yet (it started alone): rescheduling there
/// puts the running thread at the back of its queue and arms the slice, so equal priorities
/// share the CPU instead of the newcomer starving.
fn kick(rq: &RunQueue, cpu: usize, prio: u8, this_cpu: usize) {
    let preempt = rq
        .current
        .as_ref()
        .is_none_or(|cur| cur.is_idle || prio > cur.prio() || (prio == cur.prio() && !rq.slice));
    if preempt {
        CPUS[cpu].need_resched.store(true, Ordering::Release);
        if cpu != this_cpu {
            send_sgi(Sgi::Resched, 1 << cpu);
        }
    }
}

/// Sends `sgi` to `cpus` (bit `n`: CPU `n`), traced ([`crate::trace::Kind::SgiSend`]). (The
/// irq_work raise sends its own and says so in its queue event.)
pub fn send_sgi(sgi: Sgi, cpus: u32) {
    crate::trace_event!(
        crate::trace::Kind::SgiSend,
        u64::from(sgi.id()),
        u64::from(cpus)
    );
    crate::fault::delay(crate::fault::Site::Sgi);
    port::port().send_sgi(sgi, cpus);
}

/// The trace point of a switch on `cpu` to `next` from a thread left in `prev_state` (no event
/// when it is the `same` thread), which also tells the trace which thread runs there now. Only
/// while tracing is on: when a run starts, [`note_current_for_trace`] tells it for every CPU.
#[cold]
#[inline(never)]
fn trace_switch(cpu: usize, prev_state: State, next: &Thread, same: bool) {
    if !same {
        // (Before the CPU's running tid changes: the event names the thread leaving.)
        crate::trace::emit(
            crate::trace::Kind::Switch,
            u64::from(next.tid),
            prev_state as u64,
        );
    }
    crate::trace::set_current(cpu, next.tid);
}

/// Tells the trace which thread each CPU runs (the hook of `trace::start`). Under each run
/// queue's lock, as the switches that update it later are, so a later switch wins.
pub(crate) fn note_current_for_trace() {
    for (c, pc) in CPUS.iter().enumerate() {
        let rq = pc.rq.lock();
        if let Some(cur) = rq.current.as_ref() {
            crate::trace::set_current(c, cur.tid);
        }
    }
}

/// Wakes a created (first start) or sleeping thread. Returns whether it changed its state.
pub fn wake_up_process(t: &Arc<Thread>) -> bool {
    try_wake_if(Waking::Borrowed(t), WAKEABLE, |_| true)
}

/// [`wake_up_process`] of a reference the caller gives up (a wait queue's entry): the run
/// queue keeps it instead of a clone.
pub(crate) fn wake_up_owned(t: Arc<Thread>) -> bool {
    try_wake_if(Waking::Owned(t), WAKEABLE, |_| true)
}

/// What [`wake_up_process`] wakes from.
const WAKEABLE: u8 = 1 << State::Created as u8 | 1 << State::Sleeping as u8;

/// Picks the next thread for this CPU and switches to it. Returns when the caller runs again.
///
/// Called by a thread that set itself sleeping, parked or exited, this takes it off the CPU
/// until woken; called by a running thread it is a yield.
pub fn schedule() {
    let _ = schedule_inner(false);
}

/// `preempt`: an involuntary switch (from an interrupt). As in Linux, preemption ignores the
/// thread's state: a thread caught between "I am going to sleep" and its own `schedule()` stays
/// queued with that state, runs again later and finishes blocking itself. Taking it off the queue
/// here would lose it (e.g. parked before it signalled its parker).
///
/// Returns whether the calling thread, running again, has task works to run (its notify flag,
/// read under the run-queue lock this path holds anyway), so a boundary hook need not look.
fn schedule_inner(preempt: bool) -> bool {
    let p = port::port();
    let saved = p.irq_save();
    let cpu = p.cpu_id();
    let pc = &CPUS[cpu];
    let now = p.now();
    // Reference counts are atomic read-modify-writes: this path moves the `Arc`s it has
    // instead of cloning them (none per switch).
    let mut rq = pc.rq.lock_masked();
    pc.need_resched.store(false, Ordering::Release);
    let Some(prev) = rq.current.take() else {
        drop(rq);
        p.irq_restore(saved);
        return false;
    };
    // Only this CPU, under its run-queue lock, updates a running thread's counters.
    let ran = now.saturating_sub(prev.ran_since.load(Ordering::Relaxed));
    prev.runtime.store(
        prev.runtime.load(Ordering::Relaxed).wrapping_add(ran),
        Ordering::Relaxed,
    );
    // Where `prev` goes: back on the run queue, which keeps it alive while it is switched out
    // (it is only ever taken off to run, to move to another queue, or by an exit, its own);
    // kept on its own stack (it blocked: it holds itself until it runs again); or to `rq.prev`
    // (it exited). What the switch needs of it afterwards is taken first.
    let (requeue, prev_state) = if prev.is_idle {
        (false, prev.state())
    } else {
        match prev.state() {
            State::Running | State::Ready => {
                prev.set_state(State::Ready);
                (true, State::Ready)
            }
            s => (preempt, s),
        }
    };
    let exited = !requeue && prev_state == State::Exited;
    let prev_at = Arc::as_ptr(&prev);
    let from: *const Context = &prev.context;
    let held = if requeue {
        rq.enqueue(prev);
        None
    } else {
        Some(prev)
    };
    // A CPU going offline runs only its idle thread, which hands the others to online CPUs.
    let next = match rq.pick_unless(pc.dying.load(Ordering::Acquire)) {
        Some(t) => t,
        None => rq.idle.clone().expect("init_cpu ran"),
    };
    if matches!(next.state(), State::Ready | State::Running) {
        // (A thread preempted while blocking keeps its state until it blocks for real.)
        next.set_state(State::Running);
    }
    next.ran_since.store(now, Ordering::Relaxed);
    let same = core::ptr::eq(Arc::as_ptr(&next), prev_at);
    if crate::trace::on() {
        trace_switch(cpu, prev_state, &next, same);
    }
    let slice = !next.is_idle && rq.highest_ready() == Some(next.prio());
    if slice || rq.slice {
        rq.slice = slice;
        timer::set_slice(
            cpu,
            slice.then(|| Instant::from_ticks(now).add_ticks(SLICE_TICKS.load(Ordering::Relaxed))),
        );
    }
    if same {
        rq.current = Some(next);
        let notified = resume_pending(rq.current.as_ref());
        drop(rq);
        drop(held);
        p.irq_restore(saved);
        return notified;
    }
    next.switches
        .store(next.switches.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    pc.switches.store(
        pc.switches.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
    next.cpu.store(cpu, Ordering::Release);
    // A thread that just left another CPU may still be finishing its switch there (it
    // migrated): wait until its registers are saved. That CPU needs no lock of ours.
    if next.on_cpu() {
        wait_off_cpu(&next);
    }
    next.context.set_on_cpu(true);
    let to: *const Context = &next.context;
    // `rq.current` keeps `next` alive while it runs. `prev` stays alive across the switch in the
    // run queue or on its own stack (`held`, dropped when it runs again); an exited thread
    // never runs again, so its reference goes to `rq.prev` for the thread switched to, which
    // frees its stack ([`finish_switch`]). (`current` was taken above: nothing to drop.)
    debug_assert!(rq.current.is_none());
    core::mem::forget(rq.current.replace(next));
    let me = if exited {
        rq.prev = held;
        pc.reap.store(true, Ordering::Relaxed);
        None
    } else {
        held
    };
    drop(rq);
    do_switch(from, to);
    // Running again (maybe on another CPU).
    finish_switch();
    let notified = match me.as_ref() {
        Some(me) => resume_pending(Some(me)),
        // Requeued: the run queue held it, and now this CPU's `current` does (a look under the
        // lock only while some thread is notified at all).
        None => {
            thread::any_notified() && with_current(|t| resume_pending(Some(t))).unwrap_or(false)
        }
    };
    drop(me);
    p.irq_restore(saved);
    notified
}

/// Waits until `t`'s switch away on another CPU has completed. Out of line and cold: it is
/// rare (a thread that just migrated), and the loop's call would cost the switch path.
#[cold]
#[inline(never)]
fn wait_off_cpu(t: &Thread) {
    while t.on_cpu() {
        port::relax();
    }
}

#[allow(unsafe_code)]
fn do_switch(from: *const Context, to: *const Context) {
    // SAFETY: interrupts are masked (schedule); `from` is the calling thread's context and is kept
    // alive by the caller's reference (on its own stack) or `rq.prev`; `to` is the context of the
    // thread just made current (kept alive by `rq.current`), made by `init_context` or saved by
    // an earlier switch, and no CPU runs it (its on-CPU flag was clear before we claimed it).
    unsafe { port::port().switch(&*from, &*to) }
}

/// Completes a switch on this CPU, run by the thread switched to, first thing, with interrupts
/// still masked (the port's switch already marked the previous thread off-CPU): if that thread
/// exited, its stack is released. One flag load when it did not.
#[inline]
pub(crate) fn finish_switch() {
    let cpu = port::port().cpu_id();
    if CPUS[cpu].reap.load(Ordering::Relaxed) {
        reap(cpu);
    }
}

/// Frees the stack of the exited thread this CPU switched away from ([`finish_switch`]).
#[cold]
#[inline(never)]
fn reap(cpu: usize) {
    CPUS[cpu].reap.store(false, Ordering::Relaxed);
    let prev = CPUS[cpu].rq.lock_masked().prev.take();
    if let Some(prev) = prev {
        let stack = prev.stack.lock().take();
        if let Some(stack) = stack {
            prev.stack_peak
                .store(port::port().stack_high_water(&stack), Ordering::Relaxed);
            free_stack(stack);
        }
    }
}

#[allow(unsafe_code)]
fn free_stack(stack: port::Stack) {
    // SAFETY: the stack came from `stack_alloc` (create_thread), was taken out of its thread so it
    // cannot be freed twice, and its thread has exited and been switched away from for good.
    unsafe { port::port().stack_free(stack) }
}

/// Gives up the CPU to another ready thread of the same or higher priority, if any.
#[doc(alias = "yield")]
#[doc(alias = "sched_yield")]
pub fn yield_now() {
    if schedule_inner(false) {
        run_resume_hook();
    }
}

/// The function the scheduler calls at a thread's kernel boundaries when the thread was
/// notified (see [`set_resume_hook`]).
static RESUME_HOOK: spin::Once<fn()> = spin::Once::new();

/// Registers `hook`, what a notified thread runs at its kernel boundaries: on the way back from an
/// interrupt ([`preempt_irq`]), a sleep ([`sleep_until`](super::sleep_until),
/// [`sleep_interruptible_until`](super::sleep_interruptible_until)) or a yield ([`yield_now`]).
/// [`crate::entry`] registers task_work's run loop, once, at the first [`crate::entry::init_cpu`]:
/// the scheduler itself knows nothing of task_work. The first call wins; returns whether it was
/// this one.
pub fn set_resume_hook(hook: fn()) -> bool {
    let mut set = false;
    RESUME_HOOK.call_once(|| {
        set = true;
        hook
    });
    set
}

/// Whether `t` (about to be resumed) should call the resume hook: notified, not idle, and not
/// already inside its task_work run loop further up its stack.
pub(crate) fn resume_pending(t: Option<&Arc<Thread>>) -> bool {
    t.is_some_and(|t| {
        !t.is_idle()
            && t.notify_resume.load(Ordering::Acquire)
            && !t.task_work_running.load(Ordering::Acquire)
    })
}

/// Calls the resume hook (the caller found [`resume_pending`]).
#[cold]
fn run_resume_hook() {
    if let Some(hook) = RESUME_HOOK.get() {
        hook();
    }
}

/// A kernel boundary of the calling thread: if it was notified, the resume hook runs now.
pub fn resume_boundary() {
    if thread::any_notified() && with_current(|t| resume_pending(Some(t))).unwrap_or(false) {
        run_resume_hook();
    }
}

/// The preemption point on the way out of an interrupt ([`crate::entry::irq_exit`], interrupts
/// masked). Inlined into the interrupt path ([`crate::entry::irq_exit`], its one caller).
#[inline(always)]
pub fn preempt_irq() {
    let p = port::port();
    let cpu = p.cpu_id();
    // Back on the way into the interrupted thread: it runs the task works it was notified of,
    // with interrupts enabled (as on Linux's return to user mode), still on its own stack.
    // (`schedule_inner` may switch away and back, maybe onto another CPU: it reports the flag
    // as it finds it on return.)
    let pc = &CPUS[cpu];
    let notified = if pc.need_resched.load(Ordering::Acquire) && pc.up.load(Ordering::Relaxed) {
        schedule_inner(true)
    } else {
        // (No thread notified at all, the common case: no look at this one.)
        thread::any_notified() && with_current(|t| resume_pending(Some(t))).unwrap_or(false)
    };
    if notified {
        p.irq_enable();
        run_resume_hook();
        let _masked = p.irq_save();
    }
}

/// A CPU's idle loop: wait for interrupts, run whatever becomes ready. Never returns.
pub fn idle_loop() -> ! {
    let p = port::port();
    loop {
        let saved = p.irq_save();
        let cpu = p.cpu_id();
        if !CPUS[cpu].need_resched.load(Ordering::Acquire) {
            p.idle();
        }
        p.irq_restore(saved);
        if CPUS[cpu].need_resched.load(Ordering::Acquire) {
            schedule();
        }
        // A CPU going offline (`take_down`) ends up here, on its idle thread, with no other
        // thread left to run (the reschedule it was sent switched away from the others).
        if CPUS[cpu].dying.load(Ordering::Relaxed) {
            let _masked = p.irq_save();
            die(cpu);
        }
    }
}

// ---- CPU hotplug: the scheduler's part ----

/// Called on a CPU going offline, by its idle thread, once every other thread has left it
/// (interrupts masked): the rest of the kernel's teardown (timers, irq_works), ending in the
/// port's `cpu_off`. Registered by [`crate::entry`] (this layer names nothing above it).
static DYING_HOOK: spin::Once<fn(usize) -> !> = spin::Once::new();

/// Registers the dying hook: what a CPU going offline calls on itself, interrupts masked, once
/// every other thread has left it (the rest of the teardown, ending in the port's `cpu_off`). The
/// first call wins.
pub fn set_dying_hook(hook: fn(usize) -> !) {
    DYING_HOOK.call_once(|| hook);
}

/// Starts taking `cpu` offline: no thread is placed there any more, and the CPU is told to
/// switch to its idle thread, which hands its threads to online CPUs and calls the dying hook.
/// The caller (`crate::hotplug`) has parked or unbound the threads bound to it, and waits for
/// [`is_dead`].
pub fn take_down(cpu: usize) {
    ONLINE.fetch_and(!(1 << cpu), Ordering::SeqCst);
    let pc = &CPUS[cpu];
    pc.dying.store(true, Ordering::SeqCst);
    pc.need_resched.store(true, Ordering::Release);
    send_sgi(Sgi::Resched, 1 << cpu);
}

/// Per CPU: how many threads bound only to it lost their binding when it went offline, and the
/// first one's tid ([`take_broken`]).
static BROKEN: [(AtomicU32, AtomicU32); MAX_CPUS] =
    [const { (AtomicU32::new(0), AtomicU32::new(0)) }; MAX_CPUS];

/// After `cpu` went offline: how many threads bound only to it (not per-CPU kthreads, which are
/// parked) now run anywhere, and the first one's tid; resets the count.
pub fn take_broken(cpu: usize) -> Option<(u32, thread::Tid)> {
    let b = BROKEN.get(cpu)?;
    let n = b.0.swap(0, Ordering::AcqRel);
    (n > 0).then(|| (n, b.1.load(Ordering::Acquire)))
}

/// The dying hook's last word before the port powers `cpu` off: from now on [`is_dead`].
pub fn cpu_dead(cpu: usize) {
    if let Some(c) = CPUS.get(cpu) {
        c.up.store(false, Ordering::Release);
    }
}

/// Whether `cpu` has left for good after [`take_down`] (its threads are elsewhere and it runs
/// nothing of the kernel's any more).
pub fn is_dead(cpu: usize) -> bool {
    CPUS.get(cpu)
        .is_some_and(|c| c.dying.load(Ordering::Acquire) && !c.up.load(Ordering::Acquire))
}

/// The dying CPU's idle thread (interrupts masked): moves every ready thread to an online CPU,
/// closes the run queue, and calls the dying hook. Never returns.
#[cold]
fn die(cpu: usize) -> ! {
    loop {
        // Chosen, re-homed and marked queued under this CPU's lock, so that a waker that comes
        // in before it is queued at its target finds it "queued" and does not queue it too (a
        // thread preempted on its way to sleep is on this queue still marked sleeping).
        let moved = {
            let mut rq = CPUS[cpu].rq.lock_masked();
            match rq.pick() {
                None => {
                    rq.dead = true;
                    rq.slice = false;
                    None
                }
                Some(t) => {
                    let online = online_mask();
                    let mut allowed = t.allowed.load(Ordering::Acquire) & online;
                    if allowed == 0 {
                        // Bound to this CPU only and not parked (hotplug parks per-CPU kthreads
                        // first): its binding is broken rather than the thread lost, as Linux
                        // does. (Counted, not printed: printing may need a lock its holder has.)
                        t.allowed.store(ALL_CPUS, Ordering::Release);
                        allowed = online;
                        let b = &BROKEN[cpu];
                        if b.0.fetch_add(1, Ordering::AcqRel) == 0 {
                            b.1.store(t.tid, Ordering::Release);
                        }
                    }
                    let target = if allowed == 0 {
                        0
                    } else {
                        allowed.trailing_zeros() as usize
                    };
                    t.cpu.store(target, Ordering::Release);
                    t.on_rq.store(true, Ordering::Release);
                    Some((t, target))
                }
            }
        };
        let Some((t, target)) = moved else { break };
        enqueue_remote(t, target, cpu, true);
    }
    timer::set_slice(cpu, None);
    match DYING_HOOK.get() {
        Some(hook) => hook(cpu),
        None => loop {
            port::port().idle();
        },
    }
}

/// Changes a thread's priority, requeueing it if it is waiting for a CPU.
#[doc(alias = "sched_set_fifo")]
pub fn set_priority(t: &Arc<Thread>, prio: u8) {
    let p = port::port();
    let saved = p.irq_save();
    loop {
        let c = t.cpu();
        let mut rq = CPUS[c].rq.lock();
        if t.cpu() != c {
            continue;
        }
        t.prio
            .store(prio.min(PRIORITIES as u8 - 1), Ordering::Relaxed);
        if t.on_rq.load(Ordering::Acquire) && rq.remove(t) {
            rq.enqueue(t.clone());
            kick(&rq, c, t.prio(), p.cpu_id());
        } else if rq.current.as_ref().is_some_and(|cur| Arc::ptr_eq(cur, t)) {
            // Lowered below a ready thread: let it go.
            if rq.highest_ready().is_some_and(|h| h > t.prio()) {
                CPUS[c].need_resched.store(true, Ordering::Release);
                if c != p.cpu_id() {
                    send_sgi(Sgi::Resched, 1 << c);
                }
            }
        }
        break;
    }
    p.irq_restore(saved);
    // A thread that lowered itself below a ready one (or raised one above itself) on this CPU
    // gives way now, not at the next interrupt.
    preempt_point();
}

/// Restricts `t` to the CPUs in `mask`. Only legal while `t` is not running or runnable (the
/// caller checks the kthread rules); moves its home CPU into the mask.
pub(crate) fn set_allowed(t: &Arc<Thread>, mask: u32) {
    // Already so, its CPU inside (an unpark re-binding a per-CPU thread to its CPU): the locked
    // section below would change nothing.
    if t.allowed.load(Ordering::Acquire) == mask && mask & (1 << t.cpu()) != 0 {
        return;
    }
    let p = port::port();
    let saved = p.irq_save();
    loop {
        let c = t.cpu();
        let rq = CPUS[c].rq.lock();
        if t.cpu() != c {
            continue;
        }
        t.allowed.store(mask, Ordering::Release);
        if mask & (1 << c) == 0 && !t.on_rq.load(Ordering::Acquire) && !t.on_cpu() {
            t.cpu
                .store(mask.trailing_zeros() as usize, Ordering::Release);
        }
        drop(rq);
        break;
    }
    p.irq_restore(saved);
}

/// Benchmark support (`bench sched-scale`): queues `n` placeholder threads, ready at `prio` on
/// `cpu`, to load its run queue. They have no stack and no context, so they must never be picked:
/// the caller keeps a more urgent thread runnable on `cpu` (it must not block) until
/// [`bench_remove_placeholders`] takes them off again.
#[cfg(all(feature = "bench", not(loom)))]
pub(crate) fn bench_add_placeholders(
    cpu: usize,
    prio: u8,
    n: usize,
) -> alloc::vec::Vec<Arc<Thread>> {
    let v: alloc::vec::Vec<Arc<Thread>> = (0..n)
        .map(|_| {
            let t = new_thread(String::from("bench-ready"), prio, cpu, 1 << cpu, false);
            t.set_state(State::Ready);
            Arc::new(t)
        })
        .collect();
    let p = port::port();
    let saved = p.irq_save();
    {
        let mut rq = CPUS[cpu].rq.lock();
        for t in &v {
            rq.enqueue(t.clone());
        }
    }
    p.irq_restore(saved);
    v
}

/// Takes placeholders from [`bench_add_placeholders`] off `cpu`'s run queue again.
#[cfg(all(feature = "bench", not(loom)))]
pub(crate) fn bench_remove_placeholders(cpu: usize, ts: &[Arc<Thread>]) {
    let p = port::port();
    let saved = p.irq_save();
    {
        let mut rq = CPUS[cpu].rq.lock();
        for t in ts {
            rq.remove(t);
            t.set_state(State::Exited);
        }
    }
    p.irq_restore(saved);
}

/// Forgets every thread and queue (the fake port's fresh start).
#[cfg(all(not(target_os = "none"), not(loom)))]
pub(crate) fn reset_for_fake() {
    for c in &CPUS {
        *c.rq.lock() = RunQueue::new();
        c.need_resched.store(false, Ordering::Release);
    }
    ONLINE.store(0, Ordering::Release);
    POSSIBLE.store(0, Ordering::Release);
    for c in &CPUS {
        c.up.store(false, Ordering::Release);
        c.dying.store(false, Ordering::Release);
    }
}
