//! What the kthread commands share: the built-in thread kinds ([`Kind`]), the threads `spawn` made
//! ([`SPAWNED`]) and the stops that timed out ([`STOP_PENDING`]), priorities, and the state as `ps`
//! shows it.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64};
use core::time::Duration;

use rtos::sched::{ThreadInfo, Tid};
use rtos::sync::IrqSpinLock;

use crate::args::FromArg;
use crate::parse::parse_u64;
use crate::util::VecMap;

/// Default `--period` of a `ticker`.
const TICKER_PERIOD: Duration = Duration::from_secs(1);
/// Default `--period` of a `counter`.
const COUNTER_PERIOD: Duration = Duration::from_millis(100);

/// What the shell shares with a thread it spawned.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) kind: Kind,
    /// The body runs (it is past the kthread wrapper's first stop and park checks).
    pub(crate) started: AtomicBool,
    /// A counter's count.
    pub(crate) count: AtomicU64,
}

/// The threads `spawn` made, by tid, until they are collected.
pub(crate) static SPAWNED: IrqSpinLock<VecMap<Tid, Arc<Shared>>> = IrqSpinLock::new(VecMap::new());

/// Threads whose `stop` timed out: when one of them has exited since, `stop` reports its result
/// as a stop that completed, not as a thread that exited by itself.
pub(crate) static STOP_PENDING: IrqSpinLock<VecMap<Tid, ()>> = IrqSpinLock::new(VecMap::new());

/// The built-in thread bodies `spawn` can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Busy loop; result: iterations modulo 2^31.
    Spin,
    /// Sleeps (10 ms at a time) until stopped; result 0.
    Sleeper,
    /// Prints `<name>: tick N` every period; result: ticks.
    Ticker,
    /// Counts every period, visible in `ps`; result: the count.
    Counter,
    /// Spins without ever polling: cannot be parked or stopped.
    Hog,
    /// Returns `--result` at once.
    Exit,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Spin => "spin",
            Kind::Sleeper => "sleeper",
            Kind::Ticker => "ticker",
            Kind::Counter => "counter",
            Kind::Hog => "hog",
            Kind::Exit => "exit",
        }
    }

    pub(crate) fn default_period(self) -> Option<Duration> {
        match self {
            Kind::Ticker => Some(TICKER_PERIOD),
            Kind::Counter => Some(COUNTER_PERIOD),
            _ => None,
        }
    }
}

impl FromArg for Kind {
    const WHAT: &'static str = "thread kind";
    const HINT: Option<&'static str> = Some("spin, sleeper, ticker, counter, hog or exit");
    fn from_arg(s: &str) -> Option<Self> {
        [
            Kind::Spin,
            Kind::Sleeper,
            Kind::Ticker,
            Kind::Counter,
            Kind::Hog,
            Kind::Exit,
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }
}

/// A priority a user may give, `0..=rtos::config::MAX_USER_PRIORITY` (the system priority above
/// it is the shell's, `kthreadd`'s and `klogd`'s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prio(pub u8);

const _: () = assert!(rtos::config::MAX_USER_PRIORITY == 30, "update Prio's hint");

impl FromArg for Prio {
    const WHAT: &'static str = "priority";
    const HINT: Option<&'static str> =
        Some("0..=30, higher is more urgent; 31 is the system threads'");
    fn from_arg(s: &str) -> Option<Self> {
        parse_u64(s)
            .filter(|&p| p <= u64::from(rtos::config::MAX_USER_PRIORITY))
            .map(|p| Prio(p as u8))
    }
}

/// The state as `ps` shows it: `stopping` while a stop request is pending.
pub(crate) fn state_name(i: &ThreadInfo) -> &'static str {
    if i.stopping {
        "stopping"
    } else {
        i.state.name()
    }
}

/// Forgets a thread that is gone: its counter and pending stop, if any.
pub(crate) fn forget(tid: Tid) {
    SPAWNED.lock().remove(&tid);
    STOP_PENDING.lock().remove(&tid);
}

/// Whether the body of `tid` (spawned by the shell) has started.
#[cfg(test)]
pub(crate) fn started(tid: Tid) -> bool {
    SPAWNED
        .lock()
        .get(&tid)
        .is_some_and(|s| s.started.load(core::sync::atomic::Ordering::Acquire))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_types() {
        assert_eq!(Prio::from_arg("30"), Some(Prio(30)));
        assert_eq!(Prio::from_arg("31"), None, "the system threads' priority");
        assert_eq!(Prio::from_arg("32"), None);
        assert_eq!(Kind::from_arg("counter"), Some(Kind::Counter));
        assert_eq!(Kind::from_arg("Counter"), None);
    }
}
