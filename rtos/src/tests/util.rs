//! Helpers shared by the host tests that run on the fake port.

use crate::kthread::KThread;
use crate::sched;
use crate::time::Duration;

/// One millisecond in counter ticks (the fake counter runs in nanoseconds).
pub const MS: u64 = 1_000_000;

/// The counter now.
pub fn now() -> u64 {
    crate::port::port().now()
}

/// Sleeps in 1 ms steps until `cond()` holds or `ms` milliseconds passed; returns `cond()`.
pub fn wait_for(ms: u64, cond: impl Fn() -> bool) -> bool {
    let end = now() + ms * MS;
    while !cond() && now() < end {
        sched::sleep(Duration::from_millis(1));
    }
    cond()
}

/// Waits for a woken kthread to finish on its own, then collects its result (a stop that lands
/// before its first run would end it with -EINTR without calling its function).
pub fn join(t: &KThread) -> i32 {
    assert!(
        wait_for(5000, || t.state() == sched::State::Exited),
        "thread did not finish"
    );
    crate::kthread::stop(t)
}

/// xorshift64*: a deterministic pseudo-random sequence for randomized model checks.
pub(crate) struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// In `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
