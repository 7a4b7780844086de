//! Tick/duration conversions: exact at the QEMU and Pi frequencies, rounding up towards ticks
//! and down towards durations, saturating instead of overflowing, and equal to a 128-bit
//! reference for random inputs.

use crate::tests::util::Rng;
use crate::time::{Duration, Instant, NS_PER_SEC, duration_to_ticks, ticks_to_duration};

const QEMU: u64 = 62_500_000;
const PI: u64 = 54_000_000;

#[test]
fn qemu_and_pi_frequencies() {
    assert_eq!(ticks_to_duration(QEMU, QEMU), Duration::from_secs(1));
    assert_eq!(ticks_to_duration(1, QEMU), Duration::from_nanos(16));
    assert_eq!(duration_to_ticks(Duration::from_nanos(16), QEMU), 1);
    assert_eq!(
        duration_to_ticks(Duration::from_nanos(17), QEMU),
        2,
        "rounds up"
    );
    assert_eq!(duration_to_ticks(Duration::from_micros(1), PI), 54);
    assert_eq!(ticks_to_duration(54, PI), Duration::from_micros(1));
    assert_eq!(
        ticks_to_duration(1, PI),
        Duration::from_nanos(18),
        "rounds down"
    );
}

#[test]
fn no_overflow_and_saturation() {
    assert_eq!(
        ticks_to_duration(u64::MAX, 1),
        Duration::from_secs(u64::MAX)
    );
    assert_eq!(
        duration_to_ticks(Duration::from_nanos(u64::MAX), QEMU),
        1_152_921_504_606_846_976
    );
    assert_eq!(duration_to_ticks(Duration::MAX, QEMU), u64::MAX);
    assert_eq!(
        duration_to_ticks(Duration::from_nanos(u64::MAX), u64::MAX),
        u64::MAX
    );
    assert_eq!(ticks_to_duration(5, 0), Duration::ZERO);
    assert_eq!(Instant::MAX.add_ticks(1), Instant::MAX);
    assert_eq!(
        Instant::from_ticks(3).ticks_since(Instant::from_ticks(5)),
        0
    );
}

/// The conversions against 128-bit arithmetic, for frequencies up to far beyond any counter.
#[test]
fn conversions_match_a_128_bit_reference() {
    let mut rng = Rng(0x7153);
    for _ in 0..20_000 {
        let hz = match rng.below(4) {
            0 => QEMU,
            1 => PI,
            2 => 1 + rng.next() % (1 << 40),
            _ => 1 + rng.next(),
        };
        let d = Duration::new(rng.next() % (1 << 30), (rng.next() % NS_PER_SEC) as u32);
        let want = (d.as_nanos() * u128::from(hz)).div_ceil(u128::from(NS_PER_SEC));
        assert_eq!(
            u128::from(duration_to_ticks(d, hz)),
            want.min(u128::from(u64::MAX)),
            "{d:?} at {hz} Hz"
        );
        let t = rng.next() >> rng.below(64);
        let ns = u128::from(t) * u128::from(NS_PER_SEC) / u128::from(hz);
        assert_eq!(
            ticks_to_duration(t, hz).as_nanos(),
            ns,
            "{t} ticks at {hz} Hz"
        );
    }
}
