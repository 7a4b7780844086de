//! The lockup and hung-work watchdog: a kthread at the system priority that looks at every
//! thread and CPU each [`PERIOD`] and reports, once per episode:
//! - a **soft lockup**: a thread that has kept its CPU without a break (≥ 90 % of every round)
//!   for longer than the soft threshold, with its CPU, priority and run time;
//! - a **hung work**: a work, task_work or irq_work callback that has run for longer than the
//!   hung threshold, with its name, kind, CPU and thread (Linux's workqueue lockup report);
//! - an **irq_work storm**: a CPU that has been putting irq_work passes off (works re-queueing
//!   themselves there, bounded by [`crate::work::irq_work`]) for longer than the soft threshold,
//!   naming the work it last put off;
//! - a **hard lockup**: a CPU that took no interrupt for longer than the soft threshold. Each
//!   round the watchdog interrupts every other online CPU (a reschedule SGI, the per-CPU
//!   heartbeat), so a CPU whose count of interrupts taken stands still has them masked: stuck
//!   in an interrupt handler (a long irq_work) or in code that masked them. Its last PC is not
//!   reported: that needs an NMI-like interrupt (GICv2 FIQ), which these boards do not route.
//!
//! Each report is one marker line starting `WATCHDOG: ` followed by indented detail lines,
//! printed by the watchdog thread on the console (from a CPU that is running, since the thread
//! is). A report is printed when the episode passes its threshold, so within one [`PERIOD`]
//! after. The detection itself ([`detect`]) is pure and host-tested.
//!
//! How the records are kept cheap: the scheduler already keeps each thread's run time; each
//! work and task_work callback marks its thread's record ([`crate::running`]) with a load and
//! two stores, each irq_work its CPU's with two stores ([`crate::work::irq_work::running_on`]);
//! the heartbeat is the interrupt count every CPU keeps anyway ([`crate::cpu`]).

pub mod detect;

use crate::config::SYSTEM_PRIORITY;
use crate::error::Error;
use crate::kthread::{self, KThread, Options};
use crate::port::Sgi;
use crate::running::CallbackKind;
use crate::sched::{self, State};
use crate::time::Duration;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use detect::{CpuSample, Detector, Report, ThreadSample, Thresholds};

/// How often the watchdog looks.
pub const PERIOD: Duration = Duration::from_millis(250);
/// The soft-lockup (and hard-lockup) threshold unless set otherwise.
pub const DEFAULT_SOFT: Duration = Duration::from_secs(2);
/// The hung-work threshold unless set otherwise.
pub const DEFAULT_HUNG: Duration = Duration::from_secs(2);
/// The shortest threshold accepted (two rounds: anything shorter could not be told apart).
pub const MIN_THRESHOLD: Duration = Duration::from_millis(500);
/// The longest threshold accepted.
pub const MAX_THRESHOLD: Duration = Duration::from_secs(3600);

static ON: AtomicBool = AtomicBool::new(true);
static SOFT_MS: AtomicU64 = AtomicU64::new(DEFAULT_SOFT.as_millis() as u64);
static HUNG_MS: AtomicU64 = AtomicU64::new(DEFAULT_HUNG.as_millis() as u64);
/// How many [`Paused`] guards are alive.
static PAUSED: AtomicU32 = AtomicU32::new(0);
/// Reports printed: soft lockups, hung works, hard lockups, irq_work storms.
static COUNTS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];
/// The watchdog thread waits here between rounds, and while off or paused.
static CHANGED: crate::wait::WaitQueue = crate::wait::WaitQueue::new();
/// The watchdog thread, once started.
static THREAD: crate::sync::IrqSpinLock<Option<KThread>> = crate::sync::IrqSpinLock::new(None);

/// The watchdog's settings and what it reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Checking (on by default).
    pub on: bool,
    /// Its thread runs ([`start`] was called).
    pub started: bool,
    /// Paused by a [`Paused`] guard (the benchmarks).
    pub paused: bool,
    /// The soft- and hard-lockup threshold.
    pub soft: Duration,
    /// The hung-work threshold.
    pub hung: Duration,
    /// Soft-lockup reports printed.
    pub soft_reports: u64,
    /// Hung-work reports printed.
    pub hung_reports: u64,
    /// Hard-lockup reports printed.
    pub hard_reports: u64,
    /// irq_work storm reports printed.
    pub storm_reports: u64,
}

/// The settings now.
pub fn settings() -> Settings {
    Settings {
        on: ON.load(Ordering::Relaxed),
        started: THREAD.lock().is_some(),
        paused: PAUSED.load(Ordering::Relaxed) > 0,
        soft: Duration::from_millis(SOFT_MS.load(Ordering::Relaxed)),
        hung: Duration::from_millis(HUNG_MS.load(Ordering::Relaxed)),
        soft_reports: COUNTS[0].load(Ordering::Relaxed),
        hung_reports: COUNTS[1].load(Ordering::Relaxed),
        hard_reports: COUNTS[2].load(Ordering::Relaxed),
        storm_reports: COUNTS[3].load(Ordering::Relaxed),
    }
}

/// Turns checking on or off (off forgets what was being watched).
pub fn set_on(on: bool) {
    ON.store(on, Ordering::Relaxed);
    CHANGED.wake_all();
}

fn check_threshold(d: Duration) -> Result<u64, Error> {
    if d < MIN_THRESHOLD || d > MAX_THRESHOLD {
        return Err(Error::Invalid);
    }
    Ok(d.as_millis() as u64)
}

/// Sets the soft- and hard-lockup threshold ([`Error::Invalid`] outside
/// [`MIN_THRESHOLD`]`..=`[`MAX_THRESHOLD`], nothing changed).
pub fn set_soft(d: Duration) -> Result<(), Error> {
    SOFT_MS.store(check_threshold(d)?, Ordering::Relaxed);
    Ok(())
}

/// Sets the hung-work threshold ([`Error::Invalid`] outside
/// [`MIN_THRESHOLD`]`..=`[`MAX_THRESHOLD`], nothing changed).
pub fn set_hung(d: Duration) -> Result<(), Error> {
    HUNG_MS.store(check_threshold(d)?, Ordering::Relaxed);
    Ok(())
}

/// While alive, the watchdog neither checks nor interrupts CPUs (the benchmarks time paths that
/// its heartbeat SGIs would disturb); what happened meanwhile is not judged.
pub struct Paused(());

/// Pauses the watchdog until the guard is dropped.
pub fn pause() -> Paused {
    PAUSED.fetch_add(1, Ordering::AcqRel);
    CHANGED.wake_all();
    Paused(())
}

impl Drop for Paused {
    fn drop(&mut self) {
        PAUSED.fetch_sub(1, Ordering::AcqRel);
        CHANGED.wake_all();
    }
}

/// Starts the watchdog thread (`watchdog`, at [`SYSTEM_PRIORITY`], so that nothing a user
/// starts keeps it from running, bound to the last online CPU). Once; later calls do nothing.
///
/// A CPU whose interrupts stay masked runs no thread: if that is the watchdog's own CPU, what
/// happened there is not reported while it lasts (the other CPUs' are).
pub fn start() -> Result<(), Error> {
    static STARTING: crate::wait::Mutex<()> = crate::wait::Mutex::new(());
    let _one = STARTING.lock();
    if THREAD.lock().is_some() {
        return Ok(());
    }
    let opts = Options {
        prio: Some(SYSTEM_PRIORITY),
        ..Options::default()
    };
    let t = kthread::create_with("watchdog", opts, || {
        watch();
        0
    })?;
    // On the last CPU, away from the shell's CPU 0, so that it reports live what masks CPU 0
    // (a plain bind: it moves elsewhere while that CPU is offline).
    let online = sched::online_mask();
    if online != 0 {
        let last = 31 - online.leading_zeros() as usize;
        kthread::bind(&t, last)?;
    }
    kthread::wake_up_process(&t);
    *THREAD.lock() = Some(t);
    Ok(())
}

/// Forgets the thread, the settings and the counts (the fake port's fresh start).
#[cfg(all(not(target_os = "none"), not(loom)))]
pub(crate) fn reset_for_fake() {
    *THREAD.lock() = None;
    ON.store(true, Ordering::Relaxed);
    SOFT_MS.store(DEFAULT_SOFT.as_millis() as u64, Ordering::Relaxed);
    HUNG_MS.store(DEFAULT_HUNG.as_millis() as u64, Ordering::Relaxed);
    PAUSED.store(0, Ordering::Relaxed);
    for c in &COUNTS {
        c.store(0, Ordering::Relaxed);
    }
}

fn thresholds() -> Thresholds {
    let ms = 1_000_000;
    Thresholds {
        soft_ns: SOFT_MS.load(Ordering::Relaxed) * ms,
        hung_ns: HUNG_MS.load(Ordering::Relaxed) * ms,
    }
}

/// The watchdog thread's loop.
fn watch() {
    let mut det = Detector::new();
    let active = || ON.load(Ordering::Relaxed) && PAUSED.load(Ordering::Acquire) == 0;
    let stop = || kthread::should_stop();
    while !stop() {
        // A round every PERIOD; off or paused, no round and no timer at all (the benchmarks
        // it pauses see no wake-up), until turned on or resumed.
        let next = crate::time::Instant::after(PERIOD);
        let _ = CHANGED.wait_event(|| !active() || stop(), Some(next));
        if !active() {
            det.reset();
            let _ = CHANGED.wait_event(|| active() || stop(), None);
            continue;
        }
        let p = crate::port::port();
        // The heartbeat: every other online CPU takes an interrupt before the next round.
        let others = sched::online_mask() & !(1 << p.cpu_id());
        if others != 0 {
            sched::send_sgi(Sgi::Resched, others);
        }
        // One instant for the round and every thread's run time: a sampling CPU held up
        // between the two (a host descheduling a virtual CPU, a long interrupt) would
        // otherwise stretch the round past what the threads were seen to run, and every
        // thread's streak would break at once.
        let now = crate::time::Instant::from_ticks(p.now());
        let (threads, cpus) = sample(now);
        for r in det.round(ns(now.ticks()), thresholds(), &threads, &cpus) {
            let i = match r {
                Report::SoftLockup { .. } => 0,
                Report::HungWork { .. } => 1,
                Report::HardLockup { .. } => 2,
                Report::IrqWorkStorm { .. } => 3,
            };
            COUNTS[i].fetch_add(1, Ordering::Relaxed);
            for line in describe(&r) {
                crate::console::line(format_args!("{line}"));
            }
        }
    }
}

fn ns(ticks: u64) -> u64 {
    let hz = crate::port::port().ticks_per_second();
    crate::time::ticks_to_duration(ticks, hz).as_nanos() as u64
}

/// Every thread (but the CPUs' idle threads, which are not kthreads) and every CPU, with run
/// times as of `now`.
pub(crate) fn sample(now: crate::time::Instant) -> (Vec<ThreadSample>, Vec<CpuSample>) {
    let threads = kthread::list()
        .iter()
        .map(|k| {
            let t = k.thread();
            let state = t.state();
            ThreadSample {
                tid: t.tid(),
                name: String::from(t.name()),
                cpu: t.cpu(),
                prio: t.prio(),
                runnable: matches!(state, State::Running | State::Ready),
                runtime_ns: ns(t.runtime_ticks_at(state, now)),
                callback: t.callback().get(),
            }
        })
        .collect();
    let online = sched::online_mask();
    let cpus = (0..crate::config::MAX_CPUS)
        .filter_map(|c| {
            let s = crate::cpu::snapshot(c)?;
            let online = online & (1 << c) != 0;
            (online || s.irqs > 0).then(|| CpuSample {
                cpu: c,
                online,
                irqs: s.irqs,
                irq_callback: crate::work::irq_work::running_on(c),
                irq_work_deferred: s.irq_work_deferred,
                storm_slot: crate::work::irq_work::storm_on(c).map(|s| s as u16),
            })
        })
        .collect();
    (threads, cpus)
}

/// Seconds with two decimals.
fn secs(ns: u64) -> String {
    let cs = ns / 10_000_000;
    format!("{}.{:02} s", cs / 100, cs % 100)
}

/// The name of a callback's work.
fn callback_name(kind: CallbackKind, name: u16) -> String {
    let n = match kind {
        CallbackKind::IrqWork => crate::work::irq_work::slot_name(usize::from(name)),
        _ if name == 0 => String::new(),
        _ => crate::trace::names()
            .into_iter()
            .find(|(id, _)| *id == name)
            .map(|(_, n)| n)
            .unwrap_or_default(),
    };
    if n.is_empty() {
        String::from("(unnamed)")
    } else {
        n
    }
}

/// The lines of a report: the `WATCHDOG: ` marker line, then details.
pub fn describe(r: &Report) -> Vec<String> {
    match r {
        Report::SoftLockup {
            cpu,
            tid,
            name,
            prio,
            for_ns,
            runtime_ns,
        } => alloc::vec![
            format!(
                "WATCHDOG: soft lockup on cpu{cpu}: {name} (tid {tid}) has kept it for {}",
                secs(*for_ns)
            ),
            format!(
                "  thread {name} tid {tid} prio {prio} cpu {cpu} runtime {}: it never sleeps or yields",
                secs(*runtime_ns)
            ),
        ],
        Report::HungWork {
            callback,
            cpu,
            thread,
            for_ns,
        } => {
            let kind = callback.kind.name();
            let name = callback_name(callback.kind, callback.name);
            let ctx = match thread {
                Some((tid, t)) => format!("in thread {t} (tid {tid})"),
                None => String::from("in hard-IRQ context (interrupts masked)"),
            };
            alloc::vec![
                format!(
                    "WATCHDOG: hung {kind} '{name}' on cpu{cpu}: running for {}",
                    secs(*for_ns)
                ),
                format!("  {kind} {name} cpu {cpu} {ctx}"),
            ]
        }
        Report::IrqWorkStorm {
            cpu,
            slot,
            deferred,
            for_ns,
        } => {
            let name = slot.map_or_else(
                || String::from("(unknown)"),
                |s| callback_name(CallbackKind::IrqWork, s),
            );
            alloc::vec![
                format!(
                    "WATCHDOG: irq_work storm on cpu{cpu}: '{name}' keeps re-queueing itself, for {}",
                    secs(*for_ns)
                ),
                format!(
                    "  irq_work {name} cpu {cpu}: {deferred} passes put off to the timer interrupt (at most one per ms); its threads still run"
                ),
            ]
        }
        Report::HardLockup { cpu, for_ns } => alloc::vec![
            format!(
                "WATCHDOG: hard lockup on cpu{cpu}: no interrupt taken for {}",
                secs(*for_ns)
            ),
            String::from(
                "  its interrupts are masked (a long irq_work or interrupt handler); last PC not available"
            ),
        ],
    }
}
