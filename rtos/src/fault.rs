//! Fault injection, after Linux's failslab and fail_function: make chosen allocations fail, and
//! delay chosen events, to exercise the paths that handle them.
//!
//! # Allocation failures
//! The kernel's allocation sites that may fail by design consult [`fail_alloc`]: a kthread's
//! stack and thread slot ([`crate::kthread::create`], so every workqueue and kthread worker
//! too), an irq_work slot ([`crate::work::irq_work::IrqWork::new`]), and the objects a caller
//! makes through [`check_alloc`] (the shell's named works, `stress`'s work items). Each such
//! failure is [`Error::NoMemory`], and the caller must leave nothing half-built behind: that is
//! what injecting them tests. (Allocations that Rust's `alloc` makes infallibly, such as an
//! `Arc::new`, are not sites: on stable Rust they cannot report a failure.)
//!
//! [`set_alloc_fail`] chooses which: [`AllocFail::Every`] `n` fails every n-th allocation at a
//! site (counted from the setting), [`AllocFail::Next`] `n` fails the next n and then stops;
//! optionally only on one CPU.
//!
//! # Delays
//! [`set_delay`] makes a [`Site`] busy-wait before it proceeds: an SGI before it is sent, the
//! timer interrupt before it is handled, a worker's wake-up before the worker is woken. Bounded
//! by [`MAX_DELAY`], so a delay cannot stop a CPU for good. The hooks cost one relaxed load and a
//! branch while off.

use crate::error::Error;
use crate::time::{Duration, Instant};
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// The longest delay [`set_delay`] accepts.
pub const MAX_DELAY: Duration = Duration::from_millis(5);

/// Which allocations fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllocFail {
    /// None.
    Off,
    /// Every n-th (n >= 1).
    Every(u32),
    /// The next n, then none.
    Next(u32),
}

/// Where a delay is injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Site {
    /// Before an SGI is sent (reschedule, irq_work, task_work's kick).
    Sgi = 0,
    /// Before the timer interrupt is handled.
    Timer = 1,
    /// Before a workqueue's or kthread worker's thread is woken for a queued work.
    Wake = 2,
}

impl Site {
    /// Every site.
    pub const ALL: [Site; 3] = [Site::Sgi, Site::Timer, Site::Wake];

    /// Its name (`sgi`, `timer`, `wake`).
    pub const fn name(self) -> &'static str {
        match self {
            Site::Sgi => "sgi",
            Site::Timer => "timer",
            Site::Wake => "wake",
        }
    }

    /// The site called `s`.
    pub fn from_name(s: &str) -> Option<Site> {
        Site::ALL.into_iter().find(|x| x.name() == s)
    }
}

/// 0 off, 1 every, 2 next.
static MODE: AtomicU32 = AtomicU32::new(0);
static N: AtomicU32 = AtomicU32::new(0);
/// Allocations seen at sites since the setting (for `Every`), or failures left (for `Next`).
static COUNT: AtomicU32 = AtomicU32::new(0);
/// The CPU it applies to, or `usize::MAX` for all.
static CPU: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Failures injected since boot.
static INJECTED: AtomicU64 = AtomicU64::new(0);
/// Each site's delay in nanoseconds (0: off), and how often it was applied.
static DELAY: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];
static DELAYED: [AtomicU64; 3] = [const { AtomicU64::new(0) }; 3];

/// Sets which allocations fail (and on which CPU, `None` for all); restarts the count.
/// [`Error::Invalid`] for `Every(0)` or `Next(0)`, or a CPU past the last (nothing changes).
pub fn set_alloc_fail(mode: AllocFail, cpu: Option<usize>) -> Result<(), Error> {
    if matches!(mode, AllocFail::Every(0) | AllocFail::Next(0))
        || cpu.is_some_and(|c| c >= crate::config::MAX_CPUS)
    {
        return Err(Error::Invalid);
    }
    MODE.store(0, Ordering::SeqCst);
    let (m, n) = match mode {
        AllocFail::Off => (0, 0),
        AllocFail::Every(n) => (1, n),
        AllocFail::Next(n) => (2, n),
    };
    N.store(n, Ordering::Relaxed);
    COUNT.store(if m == 2 { n } else { 0 }, Ordering::Relaxed);
    CPU.store(cpu.unwrap_or(usize::MAX), Ordering::Relaxed);
    MODE.store(m, Ordering::SeqCst);
    Ok(())
}

/// What fails now, on which CPU (`None`: all), and how many failures were injected since boot.
/// (`Next` reports the failures still to come.)
pub fn alloc_fail() -> (AllocFail, Option<usize>, u64) {
    let n = N.load(Ordering::Relaxed);
    let mode = match MODE.load(Ordering::SeqCst) {
        1 => AllocFail::Every(n),
        2 => AllocFail::Next(COUNT.load(Ordering::Relaxed)),
        _ => AllocFail::Off,
    };
    let cpu = Some(CPU.load(Ordering::Relaxed)).filter(|&c| c != usize::MAX);
    (mode, cpu, INJECTED.load(Ordering::Relaxed))
}

/// An allocation site: whether this allocation must fail (then the caller fails it with
/// [`Error::NoMemory`], leaving nothing behind).
#[inline(always)]
pub fn fail_alloc() -> bool {
    MODE.load(Ordering::Relaxed) != 0 && decide()
}

/// [`fail_alloc`] as a `Result`, for a caller about to make an object.
#[inline(always)]
pub fn check_alloc() -> Result<(), Error> {
    if fail_alloc() {
        Err(Error::NoMemory)
    } else {
        Ok(())
    }
}

#[cold]
#[inline(never)]
fn decide() -> bool {
    let cpu = CPU.load(Ordering::Relaxed);
    if cpu != usize::MAX && crate::port::try_port().is_some_and(|p| p.cpu_id() != cpu) {
        return false;
    }
    let fail = match MODE.load(Ordering::Acquire) {
        1 => {
            let seen = COUNT.fetch_add(1, Ordering::Relaxed) + 1;
            seen.is_multiple_of(N.load(Ordering::Relaxed).max(1))
        }
        2 => {
            let left =
                COUNT.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_sub(1));
            if left == Ok(1) {
                MODE.store(0, Ordering::Release);
            }
            left.is_ok()
        }
        _ => false,
    };
    if fail {
        INJECTED.fetch_add(1, Ordering::Relaxed);
    }
    fail
}

/// Sets `site`'s delay (zero: off). [`Error::Invalid`] above [`MAX_DELAY`] (nothing changes).
pub fn set_delay(site: Site, d: Duration) -> Result<(), Error> {
    if d > MAX_DELAY {
        return Err(Error::Invalid);
    }
    DELAY[site as usize].store(d.as_nanos() as u64, Ordering::Relaxed);
    Ok(())
}

/// `site`'s delay and how many times it was applied since boot.
pub fn delay_of(site: Site) -> (Duration, u64) {
    (
        Duration::from_nanos(DELAY[site as usize].load(Ordering::Relaxed)),
        DELAYED[site as usize].load(Ordering::Relaxed),
    )
}

/// Everything off (allocation failures and delays).
pub fn off() {
    let _ = set_alloc_fail(AllocFail::Off, None);
    for s in Site::ALL {
        DELAY[s as usize].store(0, Ordering::Relaxed);
    }
}

/// The hook at `site`: busy-waits for its delay, if one is set.
#[inline(always)]
pub(crate) fn delay(site: Site) {
    if DELAY[site as usize].load(Ordering::Relaxed) != 0 {
        delay_slow(site);
    }
}

#[cold]
#[inline(never)]
fn delay_slow(site: Site) {
    let ns = DELAY[site as usize].load(Ordering::Relaxed);
    let Some(p) = crate::port::try_port() else {
        return;
    };
    DELAYED[site as usize].fetch_add(1, Ordering::Relaxed);
    let end = Instant::after(Duration::from_nanos(ns));
    while Instant::now() < end {
        p.relax();
    }
}

/// Forgets every setting and count (the fake port's fresh start).
#[cfg(all(not(target_os = "none"), not(loom)))]
pub(crate) fn reset_for_fake() {
    off();
    INJECTED.store(0, Ordering::Relaxed);
    for d in &DELAYED {
        d.store(0, Ordering::Relaxed);
    }
}
