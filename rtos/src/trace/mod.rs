//! The trace ring: what the kernel's trace points record, per CPU, for the shell to show and the
//! host to turn into a timeline (issue 12).
//!
//! - [`start`] makes one ring per CPU (the first time; the size is fixed until reboot) and turns
//!   recording on for a set of event [`Class`]es; [`stop`] turns it off. The events of a run are
//!   those recorded since its `start`.
//! - A trace point is [`record`]: when tracing is off it costs one load and one predictable
//!   branch ([`on`]); when on it takes no lock, allocates nothing, works in hard-IRQ context, and
//!   overwrites the oldest events of its CPU when the ring is full (counted as lost, see
//!   `ring`).
//! - [`snapshot`] copies every CPU's events, oldest first, with what was lost.
//!
//! An event is four words: a counter timestamp, the kind, the CPU and the thread id in one, and
//! two arguments whose meaning depends on the kind ([`Kind`]).
//!
//! The kernel's trace points use [`trace_event!`]. The thread an event names is the one the
//! scheduler last reported for its CPU ([`set_current`]): at each switch while tracing is on,
//! and for every CPU when a run starts (through [`set_start_hook`]).
//!
//! # Example
//! ```
//! use rtos::trace::{self, Class, Kind};
//! rtos::fake::run(1, || {
//!     trace::start(&[Class::Mark], 64).unwrap();
//!     trace::record(Kind::Mark, 1, 2);
//!     trace::record(Kind::Wakeup, 3, 4); // its class is not on: not recorded
//!     trace::stop();
//!     let cpu0 = &trace::snapshot()[0];
//!     assert_eq!(cpu0.events.len(), 1);
//!     assert_eq!((cpu0.events[0].kind, cpu0.events[0].a), (Kind::Mark, 1));
//!     0
//! });
//! ```

pub mod dump;
pub(crate) mod ring;
pub mod text;

#[cfg(all(test, loom))]
mod loom;

use crate::config::MAX_CPUS;
use crate::error::Error;
use crate::sync::IrqSpinLock;
// (The switches below are plain atomics even under loom: only the ring itself is modelled.)
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use ring::Ring;
pub(crate) use ring::WORDS;

/// What happened. The arguments `a` and `b` of each kind are given in its documentation.
///
/// Every event also carries the CPU it happened on and the thread running there (for a
/// [`Kind::Switch`], the thread switched away from). A *named* argument is a [`tag`]: a name id
/// from [`intern`] in its top 16 bits and a number (an address, a slot) in the other 48, so the
/// host can name works and threads that are gone by the time the trace is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Kind {
    /// A context switch: `a` the next thread's tid (0: the idle thread), `b` the state the
    /// previous thread is left in ([`crate::sched::State`] as a number: 1 ready, i.e.
    /// preempted or yielded; 3 sleeping; 4 parked; 5 exited).
    Switch = 1,
    /// A wake-up: `a` the woken tid, `b` the CPU whose run queue it was put on.
    Wakeup,
    /// Interrupt entry: `a` the interrupt number (an SGI's number is its id, 0-15).
    IrqEnter,
    /// Interrupt exit: `a` the interrupt number.
    IrqExit,
    /// An SGI sent: `a` its id ([`crate::port::Sgi`]), `b` the target CPUs (bit `n` for CPU `n`).
    SgiSend,
    /// An irq_work queued: `a` its name and slot (named), `b` the CPU whose list it is on.
    IrqWorkQueue,
    /// An irq_work callback starts, in hard-IRQ context (or on a CPU's way down): `a` its name
    /// and slot (named).
    IrqWorkStart,
    /// An irq_work callback ends: `a` as at its start.
    IrqWorkEnd,
    /// A task_work added: `a` its name and address (named), `b` the target tid in the low 32
    /// bits and the notify mode ([`crate::work::task_work::Notify`] as a number, `None` 0) above.
    TaskWorkAdd,
    /// A task_work callback starts, in the target thread: `a` its name and address (named).
    TaskWorkRun,
    /// A work item queued (workqueue or kthread worker): `a` its name and address (named), `b`
    /// its queue's (or worker's) name and the CPU it will run on (named; `0xffff_ffff_ffff`:
    /// any CPU).
    WorkQueue,
    /// A work callback starts, in its worker thread: `a` as when queued, `b` its queue as when
    /// queued.
    WorkStart,
    /// A work callback ends: `a` and `b` as at its start.
    WorkEnd,
    /// A delayed work's timer armed: `a` the work (named), `b` the deadline (counter ticks).
    TimerArm,
    /// A delayed work's timer fired (the work is queued next): `a` the work (named).
    TimerFire,
    /// A kthread created: `a` its tid, `b` its name's id.
    KthreadCreate,
    /// A kthread parked itself: `a` its tid.
    KthreadPark,
    /// A kthread unparked: `a` its tid.
    KthreadUnpark,
    /// A kthread asked to stop: `a` its tid.
    KthreadStop,
    /// A kthread exited: `a` its tid, `b` its name's id and its result (named; the result as
    /// 32 bits, two's complement).
    KthreadExit,
    /// A CPU came online: `a` the CPU.
    CpuOnline,
    /// A CPU went offline: `a` the CPU.
    CpuOffline,
    /// A user's marker: `a` its text's name id ([`intern`]), `b` a number of the user's.
    Mark,
}

impl Kind {
    /// Every kind, in number order.
    pub const ALL: [Kind; 23] = [
        Kind::Switch,
        Kind::Wakeup,
        Kind::IrqEnter,
        Kind::IrqExit,
        Kind::SgiSend,
        Kind::IrqWorkQueue,
        Kind::IrqWorkStart,
        Kind::IrqWorkEnd,
        Kind::TaskWorkAdd,
        Kind::TaskWorkRun,
        Kind::WorkQueue,
        Kind::WorkStart,
        Kind::WorkEnd,
        Kind::TimerArm,
        Kind::TimerFire,
        Kind::KthreadCreate,
        Kind::KthreadPark,
        Kind::KthreadUnpark,
        Kind::KthreadStop,
        Kind::KthreadExit,
        Kind::CpuOnline,
        Kind::CpuOffline,
        Kind::Mark,
    ];

    /// The kind numbered `n`.
    pub fn from_u16(n: u16) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| *k as u16 == n)
    }

    /// Its class, what `start` turns on or off.
    pub fn class(self) -> Class {
        match self {
            Kind::Switch | Kind::Wakeup => Class::Sched,
            Kind::IrqEnter | Kind::IrqExit | Kind::SgiSend => Class::Irq,
            Kind::IrqWorkQueue | Kind::IrqWorkStart | Kind::IrqWorkEnd => Class::IrqWork,
            Kind::TaskWorkAdd | Kind::TaskWorkRun => Class::TaskWork,
            Kind::WorkQueue
            | Kind::WorkStart
            | Kind::WorkEnd
            | Kind::TimerArm
            | Kind::TimerFire => Class::Work,
            Kind::KthreadCreate
            | Kind::KthreadPark
            | Kind::KthreadUnpark
            | Kind::KthreadStop
            | Kind::KthreadExit => Class::Kthread,
            Kind::CpuOnline | Kind::CpuOffline => Class::Cpu,
            Kind::Mark => Class::Mark,
        }
    }
}

/// Groups of kinds that tracing turns on together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Context switches and wake-ups.
    Sched,
    /// Interrupt entry and exit, SGIs sent.
    Irq,
    /// irq_work queue and run.
    IrqWork,
    /// task_work add and run.
    TaskWork,
    /// Work items (workqueues, kthread workers) and their timers.
    Work,
    /// kthread life cycle.
    Kthread,
    /// CPU hotplug.
    Cpu,
    /// User markers.
    Mark,
}

impl Class {
    /// Every class.
    pub const ALL: [Class; 8] = [
        Class::Sched,
        Class::Irq,
        Class::IrqWork,
        Class::TaskWork,
        Class::Work,
        Class::Kthread,
        Class::Cpu,
        Class::Mark,
    ];

    fn bit(self) -> u32 {
        1 << self as u32
    }

    /// Its name, as `trace start` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Class::Sched => "sched",
            Class::Irq => "irq",
            Class::IrqWork => "irqwork",
            Class::TaskWork => "taskwork",
            Class::Work => "work",
            Class::Kthread => "kthread",
            Class::Cpu => "cpu",
            Class::Mark => "mark",
        }
    }

    /// The class called `name`.
    pub fn from_name(name: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.name() == name)
    }
}

/// One recorded event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// Counter value when it was recorded.
    pub ticks: u64,
    /// What happened.
    pub kind: Kind,
    /// The CPU it happened on.
    pub cpu: u8,
    /// The thread running there (0: none, or an idle thread).
    pub tid: u32,
    /// First argument (see [`Kind`]).
    pub a: u64,
    /// Second argument.
    pub b: u64,
}

impl Event {
    /// Its four words, as the ring stores them.
    pub fn encode(&self) -> [u64; WORDS] {
        let w1 =
            u64::from(self.kind as u16) | (u64::from(self.cpu) << 16) | (u64::from(self.tid) << 32);
        [self.ticks, w1, self.a, self.b]
    }

    /// The event four words encode; `None` for an unknown kind.
    pub fn decode(w: [u64; WORDS]) -> Option<Event> {
        Some(Event {
            ticks: w[0],
            kind: Kind::from_u16(w[1] as u16)?,
            cpu: (w[1] >> 16) as u8,
            tid: (w[1] >> 32) as u32,
            a: w[2],
            b: w[3],
        })
    }
}

/// How many distinct names [`intern`] keeps; later ones get id 0 (no name).
pub const MAX_NAMES: usize = 1024;

/// Names kept by [`intern`] are cut to this many bytes (at a character boundary).
pub const MAX_NAME_LEN: usize = 64;

/// The interned names and their ids (from 1, in the order first seen). An interrupt-masking lock:
/// a holder preempted by a more urgent thread that wants it too would never run again.
static NAMES: IrqSpinLock<BTreeMap<String, u16>> = IrqSpinLock::new(BTreeMap::new());

/// The id (1 or more) of `name` for events that refer to a named thing (a kthread, a work, an
/// irq_work) by number: the same name always gets the same id, so [`names`] can name it even
/// after the thing is gone. 0 once [`MAX_NAMES`] names are kept. Takes a lock and may allocate:
/// call where the thing is made, never from a trace point.
pub fn intern(name: &str) -> u16 {
    let mut end = name.len().min(MAX_NAME_LEN);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    let name = &name[..end];
    let mut names = NAMES.lock();
    if let Some(id) = names.get(name) {
        return *id;
    }
    if names.len() >= MAX_NAMES {
        return 0;
    }
    let id = names.len() as u16 + 1;
    names.insert(String::from(name), id);
    id
}

/// Every interned name with its id, by id.
pub fn names() -> Vec<(u16, String)> {
    let mut v: Vec<(u16, String)> = NAMES
        .lock()
        .iter()
        .map(|(n, id)| (*id, n.clone()))
        .collect();
    v.sort_unstable_by_key(|(id, _)| *id);
    v
}

/// An event argument that carries a name's id (16 bits) and a number (48 bits: an address, a
/// slot): see [`untag`].
#[inline(always)]
pub fn tag(name: u16, n: u64) -> u64 {
    (u64::from(name) << 48) | (n & ((1 << 48) - 1))
}

/// The name id and the number of an argument made by [`tag`].
pub fn untag(a: u64) -> (u16, u64) {
    ((a >> 48) as u16, a & ((1 << 48) - 1))
}

/// Whether tracing records at all: [`KEY`] follows it, and [`emit`] checks it again.
static ON: AtomicBool = AtomicBool::new(false);
/// The classes recorded.
static CLASSES: AtomicU32 = AtomicU32::new(0);
/// The CPUs recorded (bit `n`: CPU `n`).
static CPUS: AtomicU32 = AtomicU32::new(u32::MAX);
/// The per-CPU rings, made by the first [`start`].
static RINGS: spin::Once<Vec<Ring>> = spin::Once::new();
/// Per CPU, the ring index at the last [`start`]: older events belong to an earlier run.
static BASE: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// Per CPU, the tid of the thread it runs (0: its idle thread), kept by the scheduler so that a
/// trace point can name it without a lock.
static CURRENT: [AtomicU32; MAX_CPUS] = [const { AtomicU32::new(0) }; MAX_CPUS];

/// A tid no thread has: what an event carries when the thread running was not known yet.
pub const UNKNOWN_TID: u32 = u32::MAX;

/// While tracing is on, the scheduler tells which thread `cpu` switched to (one store).
#[inline(always)]
pub fn set_current(cpu: usize, tid: u32) {
    if let Some(c) = CURRENT.get(cpu) {
        c.store(tid, Ordering::Relaxed);
    }
}

/// What [`start`] calls once recording is on: the scheduler's way to tell every CPU's running
/// thread ([`set_current`]), which it otherwise does only at switches while tracing is on.
static START_HOOK: spin::Once<fn()> = spin::Once::new();

/// Registers [`START_HOOK`] (once; later calls do nothing).
pub fn set_start_hook(f: fn()) {
    START_HOOK.call_once(|| f);
}

/// What [`start`] calls after turning [`KEY`] on where that rewrote code: the scheduler's way
/// to wait until every CPU took an interrupt, so that each runs the new instructions (until
/// then, a CPU may still skip its trace points).
static SYNC_HOOK: spin::Once<fn()> = spin::Once::new();

/// Registers [`SYNC_HOOK`] (once; later calls do nothing).
pub fn set_sync_hook(f: fn()) {
    SYNC_HOOK.call_once(|| f);
}

/// The trace points' static key: on while a run records. On AArch64 bare metal each trace
/// point's test is one instruction the port rewrites when the key changes (a `NOP` while off,
/// the way Linux's trace points use jump labels); on the host it is a flag.
static KEY: jump_label::StaticKey = jump_label::StaticKey::new();

/// Serializes the changes [`start_on`] and [`stop`] make to [`ON`] and [`KEY`]: once either
/// returns, the flag and the trace points agree (a stop racing a start could otherwise leave
/// the flag off and the trace points on, or the reverse: a run that records nothing).
static CONTROL: IrqSpinLock<()> = IrqSpinLock::new(());

/// Host tests: called by [`start_on`] between turning [`ON`] on and [`KEY`] (to race a stop
/// there).
#[cfg(test)]
pub(crate) static BETWEEN_FLAG_AND_KEY: spin::Mutex<Option<fn()>> = spin::Mutex::new(None);

/// Turns [`KEY`] on or off through the port (the flag alone before there is one); returns how
/// many trace points were rewritten.
fn set_key(on: bool) -> usize {
    match crate::port::try_port() {
        Some(p) => p.set_static_key(&KEY, on),
        None => {
            KEY.set(on);
            0
        }
    }
}

/// Whether tracing is on: what every trace point checks first. While it is off this costs one
/// instruction on AArch64 bare metal (see [`KEY`]), one load and one branch on the host. Always
/// false when the `trace-off` feature compiled the trace points out (to measure their cost).
#[inline(always)]
pub fn on() -> bool {
    #[cfg(feature = "trace-off")]
    return false;
    #[cfg(not(feature = "trace-off"))]
    jump_label::static_branch_unlikely!(KEY)
}

/// The largest ring size [`start`] takes, in events per CPU.
pub const MAX_SIZE: usize = 1 << 16;

/// Starts a run recording `classes` in rings of `size` events per CPU (rounded up to a power of
/// two), on every CPU. The first start fixes the size until reboot: a later one with another
/// size is [`Error::Busy`]; `size` 0 or over [`MAX_SIZE`] is [`Error::Invalid`]. A run already
/// going is ended: the new one shows only its own events.
pub fn start(classes: &[Class], size: usize) -> Result<(), Error> {
    start_on(classes, u32::MAX, size)
}

/// [`start`], recording only on the CPUs in `cpus` (bit `n`: CPU `n`).
pub fn start_on(classes: &[Class], cpus: u32, size: usize) -> Result<(), Error> {
    if size == 0 || size > MAX_SIZE {
        return Err(Error::Invalid);
    }
    let size = size.max(2).next_power_of_two();
    let rings = RINGS.call_once(|| (0..MAX_CPUS).map(|_| Ring::new(size)).collect());
    if rings[0].capacity() != size {
        return Err(Error::Busy);
    }
    let control = CONTROL.lock();
    ON.store(false, Ordering::Release);
    for (b, r) in BASE.iter().zip(rings) {
        b.store(r.recorded(), Ordering::Release);
    }
    CLASSES.store(
        classes.iter().fold(0, |m, c| m | c.bit()),
        Ordering::Release,
    );
    CPUS.store(cpus, Ordering::Release);
    // Until the hook (or a switch) says which thread runs where, events say "unknown".
    for c in &CURRENT {
        c.store(UNKNOWN_TID, Ordering::Relaxed);
    }
    ON.store(true, Ordering::Release);
    #[cfg(test)]
    if let Some(f) = *BETWEEN_FLAG_AND_KEY.lock() {
        f();
    }
    let patched = set_key(true);
    drop(control);
    if patched > 0
        && let Some(sync) = SYNC_HOOK.get()
    {
        sync();
    }
    if let Some(hook) = START_HOOK.get() {
        hook();
    }
    Ok(())
}

/// Stops recording (the rings keep what they hold). A CPU that still runs a trace point's old
/// branch for a moment finds [`ON`] false in [`emit`] and records nothing.
pub fn stop() {
    let _control = CONTROL.lock();
    ON.store(false, Ordering::Release);
    set_key(false);
}

/// The classes of the current (or last) run.
pub fn classes() -> Vec<Class> {
    let m = CLASSES.load(Ordering::Acquire);
    Class::ALL
        .into_iter()
        .filter(|c| m & c.bit() != 0)
        .collect()
}

/// The CPUs of the current (or last) run (bit `n`: CPU `n`).
pub fn cpus() -> u32 {
    CPUS.load(Ordering::Acquire)
}

/// The ring size, once a run was started.
pub fn size() -> Option<usize> {
    RINGS.get().map(|r| r[0].capacity())
}

/// A trace point: records `kind` with its arguments on this CPU, if tracing is on for its
/// class. No lock, no allocation; any context. (The kernel's trace points use [`trace_event!`],
/// which computes the arguments only when tracing is on.)
#[inline(always)]
pub fn record(kind: Kind, a: u64, b: u64) {
    if on() {
        emit(kind, a, b);
    }
}

/// A trace point: `trace_event!(kind, a, b)` records like [`record`], but evaluates `a` and `b`
/// only when tracing is on, so that when it is off the point costs one load and one branch.
#[macro_export]
macro_rules! trace_event {
    ($kind:expr, $a:expr, $b:expr) => {
        if $crate::trace::on() {
            $crate::trace::emit($kind, $a, $b);
        }
    };
}

/// What [`record`] does once it knows tracing is on (out of line and cold, so that a trace point
/// adds no register pressure or code to the path around it).
#[cold]
#[inline(never)]
pub fn emit(kind: Kind, a: u64, b: u64) {
    // (Off: a trace point's branch another CPU has not seen rewritten yet.)
    if !ON.load(Ordering::Relaxed) || CLASSES.load(Ordering::Relaxed) & kind.class().bit() == 0 {
        return;
    }
    let Some(p) = crate::port::try_port() else {
        return;
    };
    let Some(rings) = RINGS.get() else { return };
    // Masked, so that on one CPU a write is never cut by another (an interrupt's, or the same
    // thread's after a migration).
    let saved = p.irq_save();
    let cpu = p.cpu_id();
    if CPUS.load(Ordering::Relaxed) & (1 << cpu) == 0 {
        p.irq_restore(saved);
        return;
    }
    let tid = CURRENT.get(cpu).map_or(0, |t| t.load(Ordering::Relaxed));
    let e = Event {
        ticks: p.now(),
        kind,
        cpu: cpu as u8,
        tid,
        a,
        b,
    };
    if let Some(r) = rings.get(cpu) {
        r.record(e.encode());
    }
    p.irq_restore(saved);
}

/// What a run recorded on one CPU.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CpuTrace {
    /// Its events, oldest first.
    pub events: Vec<Event>,
    /// Events of this run that were overwritten (the ring was full) or torn while read.
    pub lost: u64,
}

/// Every CPU's events of the current (or last) run.
pub fn snapshot() -> Vec<CpuTrace> {
    let Some(rings) = RINGS.get() else {
        return Vec::new();
    };
    rings
        .iter()
        .zip(&BASE)
        .map(|(r, base)| {
            let snap = r.snapshot_from(base.load(Ordering::Acquire));
            let mut lost = snap.lost;
            let mut events = Vec::with_capacity(snap.events.len());
            for w in snap.events {
                match Event::decode(w) {
                    Some(e) => events.push(e),
                    None => lost += 1,
                }
            }
            CpuTrace { events, lost }
        })
        .collect()
}
