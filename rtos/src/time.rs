//! Conversions between counter ticks and wall-clock units.
//!
//! The counter frequency comes from the hardware (CNTFRQ: 62.5 MHz under QEMU, 54 MHz on a real
//! Raspberry Pi 4) and is never assumed. Conversions go through `u128` so they cannot overflow for
//! any `u64` input, and round towards zero except [`ns_to_ticks_ceil`], used for deadlines, which
//! rounds up so that a sleep is never shorter than asked.

/// Nanoseconds per second.
pub const NS_PER_SEC: u64 = 1_000_000_000;

/// `ticks` of a counter at `hz` in nanoseconds (rounded down, saturating at `u64::MAX`).
pub fn ticks_to_ns(ticks: u64, hz: u64) -> u64 {
    if hz == 0 {
        return 0;
    }
    let ns = ticks as u128 * NS_PER_SEC as u128 / hz as u128;
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// `ns` nanoseconds in ticks of a counter at `hz`, rounded up (saturating at `u64::MAX`).
pub fn ns_to_ticks_ceil(ns: u64, hz: u64) -> u64 {
    let ticks = (ns as u128 * hz as u128).div_ceil(NS_PER_SEC as u128);
    u64::try_from(ticks).unwrap_or(u64::MAX)
}

/// The absolute deadline `ns` nanoseconds after `now` (saturating: a huge delay never wraps
/// into the past).
pub fn deadline_after(now: u64, ns: u64, hz: u64) -> u64 {
    now.saturating_add(ns_to_ticks_ceil(ns, hz))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_and_pi_frequencies() {
        assert_eq!(ticks_to_ns(62_500_000, 62_500_000), NS_PER_SEC);
        assert_eq!(ticks_to_ns(1, 62_500_000), 16);
        assert_eq!(ns_to_ticks_ceil(16, 62_500_000), 1);
        assert_eq!(ns_to_ticks_ceil(17, 62_500_000), 2, "rounds up");
        assert_eq!(ns_to_ticks_ceil(1_000, 54_000_000), 54);
        assert_eq!(ticks_to_ns(54, 54_000_000), 1_000);
    }

    #[test]
    fn no_overflow_and_saturation() {
        assert_eq!(ticks_to_ns(u64::MAX, 1), u64::MAX);
        assert_eq!(
            ns_to_ticks_ceil(u64::MAX, 62_500_000),
            1_152_921_504_606_846_976
        );
        assert_eq!(ns_to_ticks_ceil(u64::MAX, u64::MAX), u64::MAX);
        assert_eq!(
            deadline_after(u64::MAX - 5, 1_000_000, 62_500_000),
            u64::MAX
        );
        assert_eq!(ticks_to_ns(5, 0), 0);
    }
}
