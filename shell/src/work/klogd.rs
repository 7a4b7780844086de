//! The log ring of the `log` works and `klogd`, the kthread that prints it.
//!
//! The console lock is the kernel's sleeping mutex; an irq_work runs with interrupts masked, so it
//! must not take it. A `log` irq_work formats its line (no allocation) into a fixed ring of
//! [`LOG_SLOTS`] lines under an [`IrqSpinLock`]; when the ring is full the line is dropped and
//! counted. A kernel thread `klogd` prints the ring: the shell starts it when the first `log` work
//! is made (one per kernel, found by name), and it sleeps on a wait queue that the work wakes
//! (with a 100 ms poll as a backstop). It reports drops as `klogd: <n> lines dropped`. A printer
//! thread rather than the shell's prompt loop, so that lines appear while the shell sleeps or
//! waits, as on an interactive console. `log` works that run in a thread (workqueues, kthread
//! workers, task_work) go through the ring too, so that the rule below holds for every `log`.
//!
//! # Never inside a command's output
//! While a command runs, the shell holds the log back ([`quiet`]): `klogd` leaves its lines in the
//! ring, and when the command ends the shell prints them itself, after the command's output and
//! before the next prompt. A command that blocks without printing (`sleep`, `wait`) lets them
//! through meanwhile ([`while_waiting`]). In plain mode (scripts, CI, a plain terminal) the shell
//! holds them at its prompt too, so that no line is torn; in terminal mode they appear at the
//! prompt as they come. The gate is a flag under a sleeping mutex that `klogd`
//! holds while it prints, so taking the gate also waits for a line being printed to end.

use alloc::format;
use core::fmt::Write as _;
use core::time::Duration;

use core::sync::atomic::{AtomicBool, Ordering};
use rtos::kthread::{self, Options};
use rtos::sync::IrqSpinLock;
use rtos::time::Instant;
use rtos::wait::{Mutex, WaitQueue};

use crate::args::CmdError;

/// Lines the hard-IRQ log ring holds.
pub(crate) const LOG_SLOTS: usize = 32;
/// Bytes per ring line (longer lines are cut).
const LOG_LINE: usize = 96;
/// `klogd`'s backstop poll.
const KLOGD_POLL: Duration = Duration::from_millis(100);

/// The ring: [`LOG_SLOTS`] lines; a line that finds it full is dropped and counted (`dropped`
/// until klogd reports it, `dropped_total` for `mem`).
struct LogRing {
    lines: [[u8; LOG_LINE]; LOG_SLOTS],
    lens: [u8; LOG_SLOTS],
    head: usize,
    len: usize,
    dropped: u64,
    dropped_total: u64,
}

impl LogRing {
    const fn new() -> Self {
        LogRing {
            lines: [[0; LOG_LINE]; LOG_SLOTS],
            lens: [0; LOG_SLOTS],
            head: 0,
            len: 0,
            dropped: 0,
            dropped_total: 0,
        }
    }

    /// Appends `line`; false (and counted) if the ring is full.
    fn push(&mut self, line: &LineBuf) -> bool {
        if self.len == LOG_SLOTS {
            self.dropped += 1;
            self.dropped_total += 1;
            return false;
        }
        let i = (self.head + self.len) % LOG_SLOTS;
        self.lines[i] = line.b;
        self.lens[i] = line.n as u8;
        self.len += 1;
        true
    }

    /// The oldest line (its bytes and length), and the drops not reported yet.
    fn pop(&mut self) -> (Option<([u8; LOG_LINE], usize)>, u64) {
        let dropped = core::mem::take(&mut self.dropped);
        if self.len == 0 {
            return (None, dropped);
        }
        let i = self.head;
        self.head = (self.head + 1) % LOG_SLOTS;
        self.len -= 1;
        (Some((self.lines[i], self.lens[i] as usize)), dropped)
    }
}

static LOG: IrqSpinLock<LogRing> = IrqSpinLock::new(LogRing::new());

static LOG_WAIT: WaitQueue = WaitQueue::new();

/// The ring's use: `(lines queued, lines dropped since boot)`; it holds [`LOG_SLOTS`].
pub(crate) fn ring_use() -> (usize, u64) {
    let g = LOG.lock();
    (g.len, g.dropped_total)
}

/// Whether a command's output is in progress (`klogd` then keeps its lines in the ring). `klogd`
/// holds the mutex while it prints.
static GATE: Mutex<bool> = Mutex::new(false);
/// The flag of [`GATE`], readable without the mutex (in a wait condition).
static HELD: AtomicBool = AtomicBool::new(false);
/// `klogd` waits here while the log is held back.
static RELEASED: WaitQueue = WaitQueue::new();

/// Sets the gate; returns what it was. Setting it waits for a line `klogd` is printing; opening
/// it first prints what the ring holds (from the calling thread), then lets `klogd` go on.
fn set_held(held: bool) -> bool {
    let mut g = GATE.lock();
    let was = core::mem::replace(&mut *g, held);
    HELD.store(held, Ordering::Release);
    if !held {
        drain_log();
        drop(g);
        RELEASED.wake_all();
    }
    was
}

/// Holds the hard-IRQ log back until the returned guard is dropped (a command's output is being
/// written); the drop prints what came meanwhile, unless an outer guard still holds it.
#[must_use]
pub(crate) fn quiet() -> Quiet {
    Quiet {
        was: set_held(true),
    }
}

/// See [`quiet`].
pub(crate) struct Quiet {
    was: bool,
}

impl Drop for Quiet {
    fn drop(&mut self) {
        if !self.was {
            set_held(false);
        }
    }
}

/// Prints what the ring holds now, from the calling thread, and leaves the gate as it is (the
/// plain-mode shell, between a command's output and its next prompt).
pub(crate) fn print_held() {
    let _g = GATE.lock();
    drain_log();
}

/// Runs `f`, a wait that prints nothing itself, with the log free to print meanwhile.
pub(crate) fn while_waiting<R>(f: impl FnOnce() -> R) -> R {
    let was = set_held(false);
    let r = f();
    if was {
        set_held(true);
    }
    r
}

/// A line being formatted without allocating; cut at [`LOG_LINE`] bytes.
struct LineBuf {
    b: [u8; LOG_LINE],
    n: usize,
}

impl core::fmt::Write for LineBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &c in s.as_bytes() {
            if self.n < LOG_LINE {
                self.b[self.n] = c;
                self.n += 1;
            }
        }
        Ok(())
    }
}

/// Hard IRQ context: a `log` work's line, through the ring.
pub(crate) fn log_from_irq(name: &str, cpu: usize) {
    log_line(format_args!("{name} ran on cpu{cpu} (hardirq)"));
}

/// Any context, hard IRQ included: formats the line into the ring (or counts it dropped) and
/// wakes klogd.
pub(crate) fn log_line(text: core::fmt::Arguments<'_>) {
    let mut line = LineBuf {
        b: [0; LOG_LINE],
        n: 0,
    };
    let _ = line.write_fmt(text);
    LOG.lock().push(&line);
    LOG_WAIT.wake_all();
}

/// Prints what the ring holds (thread context).
fn drain_log() {
    loop {
        let (line, dropped) = LOG.lock().pop();
        if dropped > 0 {
            rtos::kprintln!("klogd: {dropped} lines dropped");
        }
        let Some((b, n)) = line else { return };
        let text = match core::str::from_utf8(&b[..n]) {
            Ok(s) => s,
            Err(e) => core::str::from_utf8(&b[..e.valid_up_to()]).unwrap_or(""),
        };
        rtos::kprintln!("{text}");
    }
}

fn klogd_body() -> i32 {
    loop {
        if kthread::should_park() {
            kthread::parkme();
        }
        if kthread::should_stop() {
            drain_log();
            return 0;
        }
        let deadline = Instant::after(KLOGD_POLL);
        let _ = rtos::wait::wait_event_dyn(
            &LOG_WAIT,
            &mut || LOG.lock().len > 0 || kthread::should_stop_or_park(),
            Some(deadline),
        );
        print_unless_held();
    }
}

/// Prints the ring unless a command's output is in progress; then it waits (the shell prints
/// the lines when the command ends, or `klogd` once the gate opens for a wait).
fn print_unless_held() {
    loop {
        let g = GATE.lock();
        if !*g {
            drain_log();
            return;
        }
        drop(g);
        let _ = rtos::wait::wait_event_dyn(
            &RELEASED,
            &mut || !HELD.load(Ordering::Acquire) || kthread::should_stop_or_park(),
            None,
        );
        if kthread::should_stop_or_park() {
            return;
        }
    }
}

/// Starts `klogd` unless it runs.
pub(crate) fn ensure_klogd() -> Result<(), CmdError> {
    if kthread::find("klogd").is_some() {
        return Ok(());
    }
    // At the system priority: log lines print whatever the user's threads do.
    let opts = Options {
        prio: Some(rtos::config::SYSTEM_PRIORITY),
        ..Options::default()
    };
    let t = kthread::create_with("klogd", opts, klogd_body)
        .map_err(|e| CmdError::runtime(format!("cannot start klogd ({})", e.name())))?;
    kthread::wake_up_process(&t);
    Ok(())
}

/// Test builds: empties the ring (each host test boots a fresh fake kernel).
#[cfg(test)]
pub(crate) fn reset() {
    {
        let mut r = LOG.lock();
        r.len = 0;
        r.dropped = 0;
    }
    // (The last fake system's klogd may still be listed as a waiter.)
    LOG_WAIT.reset_for_fake();
    RELEASED.reset_for_fake();
    *GATE.lock() = false;
    HELD.store(false, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize) -> LineBuf {
        let mut l = LineBuf {
            b: [0; LOG_LINE],
            n: 0,
        };
        let _ = write!(l, "line {n}");
        l
    }

    /// The ring is a fixed pool: full, it drops and counts; emptied, it takes as many again.
    #[test]
    fn a_full_ring_drops_and_counts_and_takes_as_many_once_emptied() {
        let mut r = LogRing::new();
        for round in 0..2 {
            for i in 0..LOG_SLOTS + 5 {
                assert_eq!(r.push(&line(i)), i < LOG_SLOTS, "round {round}, line {i}");
            }
            assert_eq!(
                (r.len, r.dropped_total),
                (LOG_SLOTS, 5 * (round + 1) as u64)
            );
            let (first, dropped) = r.pop();
            assert_eq!(dropped, 5, "the drops since the last report");
            let (b, n) = first.expect("a line");
            assert_eq!(&b[..n], b"line 0");
            let mut left = 0;
            while let (Some(_), d) = r.pop() {
                assert_eq!(d, 0);
                left += 1;
            }
            assert_eq!(left, LOG_SLOTS - 1, "in order, none lost");
        }
    }
}
