//! CPU hotplug: taking a CPU offline and bringing it back, with nothing lost.
//!
//! [`offline`] (never CPU 0), from a thread on any CPU:
//! 1. The per-CPU kthreads bound to the CPU are parked (seed 002; re-bound and unparked on
//!    [`online`]). Its per-CPU workers (each workqueue's worker for that CPU, a kthread worker
//!    created on it) are unbound instead and go on running their works on an online CPU, as
//!    Linux's disassociated worker pools do: the works queued on that CPU's pool, chained there or
//!    queued there by a timer later all run, none is handed to a list that nobody serves. A
//!    per-CPU kthread that does not park within [`PARK_TIMEOUT`] makes the offline fail with
//!    [`HotplugError::Busy`] naming it, and everything done so far is undone.
//! 2. The scheduler stops placing threads on the CPU and tells it to leave: it switches to its
//!    idle thread, which moves every other thread to online CPUs. A thread bound only to it that
//!    was not parked (`kthread::bind`) and was queued there loses its binding rather than its CPU,
//!    and a line says so; one that was asleep keeps its binding and runs on CPU 0 when woken
//!    until its CPU comes back.
//! 3. On the dying CPU, interrupts masked: an online CPU takes over its timers (they keep their
//!    ids, so cancelling one still works), its pending irq_works run one last time (seed 003's
//!    `CPU_DYING`), and the port powers it off (PSCI `CPU_OFF`) or parks it in a WFE loop (spin
//!    table).
//! 4. A queuer checks that the CPU is online and pushes in one interrupt-masked window, so after
//!    a grace period (every online CPU took an interrupt) no push that saw the CPU online is still
//!    to come: what was pushed after its last run is run by the CPU that took it offline (Linux
//!    gets the same from `stop_machine`).
//!
//! [`online`] starts the CPU again through the port; it comes back through the secondary-CPU start
//! path with its GIC interface and timer, takes its timers back, and its per-CPU kthreads and
//! workers are re-bound and unparked.
//!
//! The waits for the CPU to leave, for the grace period and for the CPU to come back sleep on
//! one wait queue, woken by the CPU itself at each of those moments ([`crate::entry`] calls
//! [`notify`] and [`notify_quiesced`]), as Linux's `cpuhp` waits on completions; they once
//! looked every millisecond, which made a round trip about 2 ms, almost all of it waiting.
//!
//! One hotplug operation runs at a time. Queueing on an offline CPU is refused by the callers
//! that name CPUs (`irq_work::queue_on` gives [`Error::Invalid`], as do `kthread` binding calls).

use crate::config::MAX_CPUS;
use crate::error::Error;
use crate::kthread::{self, KThread};
use crate::sched;
use crate::time::{Duration, Instant};
use crate::wait::{Mutex, WaitQueue};
use crate::work::irq_work;
use core::sync::atomic::{AtomicUsize, Ordering};

/// How long [`offline`] waits for the per-CPU kthreads to park (one deadline for all of them).
pub const PARK_TIMEOUT: Duration = Duration::from_secs(2);
/// How long [`offline`] waits for the CPU to leave, and [`online`] for it to come back.
pub const CPU_TIMEOUT: Duration = Duration::from_secs(5);
/// How long [`online`] sleeps between attempts to start a CPU the port says is still powering
/// off, after the first [`ON_SPINS`] attempts (which only yield).
const POLL: Duration = Duration::from_millis(1);
/// Attempts to start a CPU still powering off that only yield: it is a few hundred instructions
/// from off when the thread that took it offline is woken.
const ON_SPINS: u32 = 100;

/// Where [`offline`] and [`online`] wait for a CPU to leave, to come back, or for the grace
/// period's interrupts.
static EVENTS: WaitQueue = WaitQueue::new();
/// How many grace periods are being waited for: only then does each CPU's reschedule SGI wake
/// [`EVENTS`].
static IN_GRACE: AtomicUsize = AtomicUsize::new(0);

/// A CPU left (it is dead, [`sched::is_dead`]) or came online: wakes a hotplug operation
/// waiting for it. Called by [`crate::entry`] on that CPU, interrupts masked.
pub(crate) fn notify() {
    EVENTS.wake_all();
}

/// This CPU took a reschedule SGI (its quiescent count moved): wakes a grace period waiting for
/// it. One load when none is. Called by [`crate::entry`], interrupts masked.
#[inline]
pub(crate) fn notify_quiesced() {
    if IN_GRACE.load(Ordering::Acquire) != 0 {
        EVENTS.wake_all();
    }
}

/// One hotplug operation at a time.
static LOCK: Mutex<()> = Mutex::new(());

/// Why [`offline`] or [`online`] refused or failed.
#[derive(Debug)]
pub enum HotplugError {
    /// CPU 0 always stays online (`EPERM`).
    BootCpu,
    /// No such CPU: beyond those that came up at boot (`EINVAL`).
    NoSuchCpu,
    /// [`offline`] of an offline CPU, or [`online`] of an online one (`EINVAL`).
    Already,
    /// A per-CPU kthread did not park in time (it never polls should-park), or the caller itself
    /// is bound to that CPU (`EBUSY`). Nothing changed.
    Busy(KThread),
    /// The CPU did not leave or come back within [`CPU_TIMEOUT`] (`ETIMEDOUT`). Not undone: a
    /// CPU that does not leave stays out of the online mask with its per-CPU kthreads parked;
    /// whatever irq_works it was left with run when it comes back online.
    TimedOut,
    /// The port could not start the CPU.
    Port(Error),
}

impl HotplugError {
    /// The errno-style error.
    pub fn error(&self) -> Error {
        match self {
            HotplugError::BootCpu => Error::NotPermitted,
            HotplugError::NoSuchCpu | HotplugError::Already => Error::Invalid,
            HotplugError::Busy(_) => Error::Busy,
            HotplugError::TimedOut => Error::TimedOut,
            HotplugError::Port(e) => *e,
        }
    }
}

/// Whether `cpu` is online.
pub fn is_online(cpu: usize) -> bool {
    cpu < MAX_CPUS && sched::online_mask() & (1 << cpu) != 0
}

/// Whether `cpu` exists (it came up at boot), online or not.
pub fn exists(cpu: usize) -> bool {
    cpu < MAX_CPUS && sched::possible_mask() & (1 << cpu) != 0
}

/// Takes `cpu` offline (see the module documentation). Returns once the CPU has left.
pub fn offline(cpu: usize) -> Result<(), HotplugError> {
    let _one = LOCK.lock();
    if cpu == 0 {
        return Err(HotplugError::BootCpu);
    }
    if !exists(cpu) {
        return Err(HotplugError::NoSuchCpu);
    }
    if !is_online(cpu) {
        return Err(HotplugError::Already);
    }
    // The caller bound to that CPU would have to park itself.
    if let Some(me) = sched::current()
        && me.allowed.load(core::sync::atomic::Ordering::Acquire) == 1 << cpu
        && let Some(t) = kthread::find(&alloc::format!("{}", me.tid))
    {
        return Err(HotplugError::Busy(t));
    }
    kthread::hotplug::prepare_offline(cpu, Instant::after(PARK_TIMEOUT))
        .map_err(|(_, t)| HotplugError::Busy(t))?;
    sched::take_down(cpu);
    wait_until(|| sched::is_dead(cpu))?;
    crate::trace_event!(crate::trace::Kind::CpuOffline, cpu as u64, 0);
    if let Some((n, tid)) = sched::take_broken(cpu) {
        crate::kprintln!(
            "hotplug: {n} thread(s) bound only to cpu{cpu} (the first: tid {tid}) now run on any CPU"
        );
    }
    // A queuer that saw the CPU online may still have pushed an irq_work after its last run:
    // once every CPU has taken an interrupt (none is inside a masked queueing window any more),
    // whatever was pushed there is run here.
    grace_period()?;
    irq_work::run_leftovers(cpu);
    Ok(())
}

/// Waits until every online CPU has taken a reschedule SGI sent now: none is still inside an
/// interrupt-masked window it entered before, and each went through an exception entry since
/// (which makes it fetch code rewritten before the call: trace start uses it for that, as
/// Linux's `kick_all_cpus_sync`). Several may wait at once. Sleeps: thread context only.
pub(crate) fn grace_period() -> Result<(), HotplugError> {
    let online = sched::online_mask();
    let mut before = [0u64; MAX_CPUS];
    for (c, b) in before.iter_mut().enumerate() {
        if let Some(s) = crate::cpu::stats(c) {
            *b = s.quiesced();
        }
    }
    IN_GRACE.fetch_add(1, Ordering::SeqCst);
    sched::send_sgi(crate::port::Sgi::Resched, online);
    let r = wait_until(|| {
        (0..MAX_CPUS).all(|c| {
            online & (1 << c) == 0
                || !is_online(c)
                || crate::cpu::stats(c).is_some_and(|s| s.quiesced() != before[c])
        })
    });
    IN_GRACE.fetch_sub(1, Ordering::Release);
    r
}

/// Brings `cpu` back online (see the module documentation). Returns once it runs threads again
/// and its per-CPU kthreads are unparked.
pub fn online(cpu: usize) -> Result<(), HotplugError> {
    let _one = LOCK.lock();
    if !exists(cpu) {
        return Err(HotplugError::NoSuchCpu);
    }
    if is_online(cpu) {
        return Err(HotplugError::Already);
    }
    let p = crate::port::port();
    let deadline = Instant::after(CPU_TIMEOUT);
    for attempt in 0.. {
        match p.cpu_on(cpu) {
            Ok(()) => break,
            // (Still finishing its power-off.)
            Err(Error::Busy) if !deadline.has_passed() => {
                if attempt < ON_SPINS {
                    sched::yield_now();
                } else {
                    sched::sleep(POLL);
                }
            }
            Err(e) => return Err(HotplugError::Port(e)),
        }
    }
    wait_until(|| is_online(cpu))?;
    crate::trace_event!(crate::trace::Kind::CpuOnline, cpu as u64, 0);
    if let Some(s) = crate::cpu::stats(cpu) {
        s.set_online();
    }
    kthread::hotplug::finish_online(cpu);
    Ok(())
}

/// Sleeps on [`EVENTS`] until `done` holds or [`CPU_TIMEOUT`] passes.
fn wait_until(done: impl Fn() -> bool) -> Result<(), HotplugError> {
    EVENTS
        .wait_event(done, Some(Instant::after(CPU_TIMEOUT)))
        .map_err(|_| HotplugError::TimedOut)
}
