//! Boot milestones, in counter ticks from kernel entry: when the board entered the kernel, when
//! the application (the shell) started, and when it printed its first prompt. The board and the
//! shell record them; the `boot` benchmark and the uptime read them.

use crate::time::Instant;
use core::sync::atomic::{AtomicU64, Ordering};

const UNSET: u64 = u64::MAX;
static ENTRY: AtomicU64 = AtomicU64::new(UNSET);
static PROMPT: AtomicU64 = AtomicU64::new(UNSET);
static SHELL: AtomicU64 = AtomicU64::new(UNSET);

/// Records kernel entry (the board, once, as early as it can read the counter).
pub fn set_entry(entry: Instant) {
    ENTRY.store(entry.ticks(), Ordering::Release);
}

/// Kernel entry, once the board recorded it.
pub fn entry() -> Option<Instant> {
    let e = ENTRY.load(Ordering::Acquire);
    (e != UNSET).then_some(Instant::from_ticks(e))
}

/// Records the counter now in `slot`, the first time only.
fn mark(slot: &AtomicU64) {
    if let Some(p) = crate::port::try_port() {
        let _ = slot.compare_exchange(UNSET, p.now(), Ordering::AcqRel, Ordering::Acquire);
    }
}

/// Counter ticks from kernel entry to the time in `slot`, once both are recorded.
fn since_entry(slot: &AtomicU64) -> Option<u64> {
    let (e, t) = (ENTRY.load(Ordering::Acquire), slot.load(Ordering::Acquire));
    (e != UNSET && t != UNSET).then(|| t.saturating_sub(e))
}

/// Records now as the shell's start, before its terminal probe (which waits up to 200 ms for an
/// answer that a script feeder never sends); later calls change nothing.
pub fn mark_shell_start() {
    mark(&SHELL);
}

/// Records now as the first prompt's time; later calls change nothing.
pub fn mark_prompt() {
    mark(&PROMPT);
}

/// Counter ticks from kernel entry to the shell's start (before its terminal probe).
pub fn to_shell_ticks() -> Option<u64> {
    since_entry(&SHELL)
}

/// Counter ticks from kernel entry to the first prompt, once both are recorded.
pub fn to_prompt_ticks() -> Option<u64> {
    since_entry(&PROMPT)
}
