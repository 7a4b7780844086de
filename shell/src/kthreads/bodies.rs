//! The built-in thread bodies `spawn` starts: `spin`, `sleeper`, `ticker`, `counter`, `hog` and
//! `exit`.

use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::Ordering;
use core::time::Duration;

use rtos::kthread;
use rtos::sched;
use rtos::time::Instant;

use super::shared::{Kind, Shared};

/// Longest a thread body sleeps before it looks at its stop/park requests again.
const SLICE: Duration = Duration::from_millis(10);
/// How long a `sleeper` sleeps when nothing wakes it (an hour).
const SLEEPER_NAP: Duration = Duration::from_secs(3600);
/// Results are reported as non-negative `i32`s: counts are taken modulo 2^31.
const RESULT_MASK: u64 = 0x7fff_ffff;

/// Test builds only: lets the host tests end a `hog` (which otherwise never returns and would
/// keep a fake CPU forever). The kernel's `hog` has no way out.
#[cfg(test)]
pub(crate) static HOG_RELEASE: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

/// The poll point of every body but `hog`: parks while asked to, then says whether to stop.
fn checkpoint() -> bool {
    if kthread::should_park() {
        kthread::parkme();
    }
    kthread::should_stop()
}

fn spin_body() -> i32 {
    let mut n: u64 = 0;
    loop {
        if kthread::should_stop_or_park() && checkpoint() {
            break;
        }
        n = (n + 1) & RESULT_MASK;
        core::hint::spin_loop();
    }
    n as i32
}

/// Sleeps interruptibly until something wakes it: a stop or park request (both wake the thread)
/// or a signalling task_work. Nothing else does, within [`SLEEPER_NAP`]: that makes a
/// `signal` wake observable (a `resume` add leaves it asleep).
fn sleeper_body() -> i32 {
    while !checkpoint() {
        sched::sleep_interruptible_until(Instant::after(SLEEPER_NAP));
    }
    0
}

/// Calls `tick` every `period` until stopped, sleeping in slices of at most [`SLICE`] so a stop
/// or park request is seen quickly. After a park the period starts afresh. Returns the number
/// of ticks modulo 2^31.
fn periodic(period: Duration, tick: &mut dyn FnMut(u64)) -> i32 {
    let mut ticks: u64 = 0;
    let mut next = Instant::after(period);
    loop {
        if kthread::should_park() {
            kthread::parkme();
            next = Instant::after(period);
        }
        if kthread::should_stop() {
            break;
        }
        let now = Instant::now();
        if now >= next {
            ticks += 1;
            tick(ticks);
            // Missed periods (the thread did not get a CPU in time) are skipped, not caught up
            // in a burst.
            next = next + period;
            if next <= now {
                next = now + period;
            }
        } else {
            sched::sleep_interruptible_until(next.min(now + SLICE));
        }
    }
    (ticks & RESULT_MASK) as i32
}

fn hog_body() -> i32 {
    loop {
        #[cfg(test)]
        if HOG_RELEASE.load(Ordering::Acquire) {
            return 0;
        }
        core::hint::spin_loop();
    }
}

/// The body of a thread of `shared.kind`.
pub(crate) fn body(
    shared: Arc<Shared>,
    name: String,
    period: Duration,
    result: i32,
) -> impl FnOnce() -> i32 + Send + 'static {
    move || {
        shared.started.store(true, Ordering::Release);
        match shared.kind {
            Kind::Spin => spin_body(),
            Kind::Sleeper => sleeper_body(),
            Kind::Ticker => periodic(period, &mut |n| rtos::kprintln!("{name}: tick {n}")),
            Kind::Counter => periodic(period, &mut |n| shared.count.store(n, Ordering::Relaxed)),
            Kind::Hog => hog_body(),
            Kind::Exit => result,
        }
    }
}
