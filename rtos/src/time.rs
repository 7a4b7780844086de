//! Time, typed: an [`Instant`] is a value of the monotonic counter (a point in time, counted in
//! the counter's ticks since it started), and a span is a [`Duration`] (`core::time::Duration`).
//! No kernel API takes a bare `u64` that could be ticks or nanoseconds.
//!
//! The counter frequency comes from the hardware ([`crate::port::Port::ticks_per_second`]:
//! 62.5 MHz under QEMU, 54 MHz on a real Raspberry Pi 4) and is never assumed. Conversions
//! cannot overflow for any input: they saturate. A duration becomes ticks rounded *up*
//! ([`duration_to_ticks`]), so a deadline `now + d` is never early and a sleep never shorter
//! than asked; ticks become a duration rounded *down* ([`ticks_to_duration`]).

use crate::port;
use core::ops::{Add, Sub};
pub use core::time::Duration;

/// Nanoseconds per second.
pub const NS_PER_SEC: u64 = 1_000_000_000;

/// A value of the monotonic counter: a point in time. Only comparable with instants of the same
/// boot; the counter never goes backwards on any CPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The counter's start (boot, or earlier: the counter may run before the kernel does).
    pub const ZERO: Instant = Instant(0);
    /// Later than any real instant ("never").
    pub const MAX: Instant = Instant(u64::MAX);

    /// The instant at counter value `ticks`.
    pub const fn from_ticks(ticks: u64) -> Instant {
        Instant(ticks)
    }

    /// Its counter value.
    pub const fn ticks(self) -> u64 {
        self.0
    }

    /// Now, on the port's counter.
    #[inline]
    pub fn now() -> Instant {
        Instant(port::port().now())
    }

    /// `d` from now (saturating: a huge `d` is [`Instant::MAX`], never a wrap into the past).
    pub fn after(d: Duration) -> Instant {
        Instant::now() + d
    }

    /// Whether the counter has reached this instant.
    pub fn has_passed(self) -> bool {
        Instant::now() >= self
    }

    /// Counter ticks from `earlier` to `self` (0 if `earlier` is later).
    pub const fn ticks_since(self, earlier: Instant) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// The time from `earlier` to `self` ([`Duration::ZERO`] if `earlier` is later).
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        ticks_to_duration(self.ticks_since(earlier), ticks_per_second())
    }

    /// The time since this instant (zero if it is in the future).
    pub fn elapsed(self) -> Duration {
        Instant::now().saturating_duration_since(self)
    }

    /// `ticks` counter ticks later (saturating).
    pub const fn add_ticks(self, ticks: u64) -> Instant {
        Instant(self.0.saturating_add(ticks))
    }
}

/// `instant + duration`: the duration rounded up to whole ticks, saturating at [`Instant::MAX`].
impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        self.add_ticks(duration_to_ticks(d, ticks_per_second()))
    }
}

/// `later - earlier`: [`Instant::saturating_duration_since`].
impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

/// The port's counter frequency (ticks per second).
#[inline]
pub fn ticks_per_second() -> u64 {
    port::port().ticks_per_second()
}

/// `d` in ticks of a counter at `hz`, rounded up, saturating at `u64::MAX`.
pub fn duration_to_ticks(d: Duration, hz: u64) -> u64 {
    let whole = d.as_secs().saturating_mul(hz);
    let nanos = u64::from(d.subsec_nanos());
    // nanos < 2^30: the product fits in 64 bits for any counter below 2^34 Hz (16 GHz).
    let part = match nanos.checked_mul(hz) {
        Some(p) => p.div_ceil(NS_PER_SEC),
        None => (u128::from(nanos) * u128::from(hz)).div_ceil(u128::from(NS_PER_SEC)) as u64,
    };
    whole.saturating_add(part)
}

/// `ticks` of a counter at `hz` as a duration, rounded down to whole nanoseconds
/// ([`Duration::ZERO`] for a zero frequency).
pub fn ticks_to_duration(ticks: u64, hz: u64) -> Duration {
    if hz == 0 {
        return Duration::ZERO;
    }
    let secs = ticks / hz;
    let rem = ticks % hz;
    // rem < hz: the product fits in 64 bits for any counter below 2^34 Hz.
    let nanos = match rem.checked_mul(NS_PER_SEC) {
        Some(p) => p / hz,
        None => (u128::from(rem) * u128::from(NS_PER_SEC) / u128::from(hz)) as u64,
    };
    Duration::new(secs, nanos as u32)
}

/// `ticks` of the port's counter as a duration (rounded down).
pub fn ticks(ticks: u64) -> Duration {
    ticks_to_duration(ticks, ticks_per_second())
}
