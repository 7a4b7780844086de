//! The last phases of a `stress` run: waiting for the works, stopping the queuers, settling,
//! tearing down, and the report.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write as _;
use core::sync::atomic::Ordering;

use rtos::kthread::{self};
use rtos::port::Port;
use rtos::sched;
use rtos::time::Instant;
use rtos::work::irq_work::{self};
use rtos::work::workqueue::{Work, WorkState};

use crate::args::CmdError;
use crate::ctx::Ctx;
use crate::util;

use super::setup::{Opts, Queuers, Run};
use super::shared::{Kind, POLL, SETTLE, STOP, Tally, relax};

/// How a run ended, for [`report`].
pub(super) struct Outcome {
    /// From waking the queuers until the last work ran (or the deadline).
    pub(super) ms: u64,
    /// Queuer threads that did not stop.
    pub(super) unstopped: usize,
    /// What [`Run::teardown`] had to leave behind.
    pub(super) note: Option<String>,
    /// Ctrl-C ended the queueing early.
    pub(super) interrupted: bool,
}

/// Waits until every queuer is done and every queued work has run (or the deadline), then stops
/// the queuers and frees what can be freed. `start`: when the queuers were woken. `interrupted`
/// is asked every poll: if it says yes (Ctrl-C), the queuers stop queueing and what they queued
/// still runs (up to the deadline) before the teardown, as at the deadline.
pub(super) fn finish(
    p: &dyn Port,
    tally: &Tally,
    run: Run,
    queuers: Queuers,
    start: Instant,
    interrupted: &mut dyn FnMut() -> bool,
) -> Outcome {
    let (k, deadline) = (tally.cpus.len(), tally.deadline);
    let finished = |t: &Tally| {
        t.done.load(Ordering::Acquire) == k
            && t.total.load(Ordering::Acquire) >= t.queued.load(Ordering::Acquire)
    };
    let mut stopped = false;
    while !finished(tally) {
        if deadline.has_passed() {
            tally.abort.store(true, Ordering::Release);
            break;
        }
        if interrupted() {
            tally.abort.store(true, Ordering::Release);
            stopped = true;
            break;
        }
        sched::sleep(POLL);
    }
    let end = Instant::now();
    // Work items: until their functions have returned (the count comes first).
    let idle = |w: &Arc<Work>| w.state() == WorkState::Idle;
    while !run.works.iter().all(idle) && !deadline.has_passed() {
        sched::sleep(POLL);
    }
    tally.abort.store(true, Ordering::Release);
    let Queuers { threads, shared } = queuers;
    let mut unstopped = 0;
    for t in &threads {
        let d = Instant::after(STOP);
        if kthread::stop_until(t, Some(d)).is_err() {
            unstopped += 1;
        }
    }
    drop(shared);
    // A callback marks its slot free just before it returns; the kernel clears BUSY just after.
    let settle = Instant::after(SETTLE);
    while run.pool.iter().any(|w| w.flags() & irq_work::CLAIMED != 0) && !settle.has_passed() {
        relax(p);
    }
    let pool_idle = run.pool.iter().all(|w| w.flags() & irq_work::CLAIMED == 0);
    let all_idle = run.works.iter().all(idle) && pool_idle;
    let note = run.teardown(all_idle);
    Outcome {
        ms: util::nanos(end.saturating_duration_since(start)) / 1_000_000,
        unstopped,
        note,
        interrupted: stopped,
    }
}

// ---- the verdict ----

/// How often the works ran.
pub(super) struct Counts {
    pub(super) once: usize,
    pub(super) more: usize,
    pub(super) never: usize,
    /// The first work that did not run exactly once, and how often it ran.
    pub(super) first_bad: Option<(usize, u32)>,
}

impl Counts {
    pub(super) fn of(tally: &Tally) -> Self {
        let (mut once, mut more, mut never) = (0usize, 0usize, 0usize);
        let mut first_bad: Option<(usize, u32)> = None;
        for (i, r) in tally.runs.iter().enumerate() {
            match r.load(Ordering::Acquire) {
                1 => once += 1,
                0 => {
                    never += 1;
                    first_bad.get_or_insert((i, 0));
                }
                c => {
                    more += 1;
                    first_bad.get_or_insert((i, c));
                }
            }
        }
        Self {
            once,
            more,
            never,
            first_bad,
        }
    }
}

/// Prints the summary line (`slots`: the irq_work slots used); status 0 if every work was queued
/// and ran exactly once on its CPU, else an error saying what went wrong.
pub(super) fn report(
    ctx: &mut Ctx<'_>,
    o: &Opts,
    tally: &Tally,
    slots: usize,
    outcome: Outcome,
) -> Result<u8, CmdError> {
    let Counts {
        once,
        more,
        never,
        first_bad,
    } = Counts::of(tally);
    let queued = tally.queued.load(Ordering::Acquire);
    let refused = tally.refused.load(Ordering::Acquire);
    let wrong = tally.wrong_cpu.load(Ordering::Acquire);
    let mut line = format!(
        "stress {}: {queued} queued, {once} ran once, {more} twice or more, {never} never (",
        o.kind.name()
    );
    for (x, &c) in tally.cpus.iter().enumerate() {
        let _ = write!(
            line,
            "{}cpu{c} {}",
            if x > 0 { " " } else { "" },
            tally.per_cpu[c].load(Ordering::Acquire)
        );
    }
    let _ = write!(line, ") in {} ms", outcome.ms);
    if let Some(c) = tally.offline {
        let _ = write!(
            line,
            " (cpu{c} offline and back: {} moved)",
            tally.moved.load(Ordering::Acquire)
        );
    }
    if o.kind == Kind::IrqWork {
        let _ = write!(line, " ({slots} irq_work slots)");
    }
    writeln!(ctx, "{line}");

    let n = o.n;
    let mut why: Vec<String> = Vec::new();
    if outcome.interrupted {
        // Ctrl-C: fewer were queued, on purpose; each queued one must still have run once.
        let ran = (once + more) as u64;
        if more > 0 || wrong > 0 || ran < queued {
            writeln!(
                ctx,
                "error: stress: after Ctrl-C: {queued} queued, {ran} ran, {more} twice or more, \
                 {wrong} on another CPU"
            );
        }
        return Ok(crate::ctx::INTERRUPTED);
    }
    if queued < n as u64 {
        why.push(format!(
            "only {queued} of {n} queued ({refused} refused as already pending)"
        ));
    }
    if let Some((i, c)) = first_bad {
        why.push(format!(
            "{more} ran twice or more and {never} never (first: work {i} ran {c} times, \
             aimed at cpu{})",
            tally.target(i)
        ));
    }
    if wrong > 0 {
        why.push(format!(
            "{wrong} runs on another CPU than the one queued on"
        ));
    }
    if tally.deadline.has_passed() && !why.is_empty() {
        why.push(format!(
            "timeout after {} ms",
            util::nanos(o.timeout) / 1_000_000
        ));
    }
    if outcome.unstopped > 0 {
        why.push(format!("{} queuer threads did not stop", outcome.unstopped));
    }
    if why.is_empty() {
        if let Some(note) = outcome.note {
            writeln!(ctx, "note: {note}");
        }
        return Ok(0);
    }
    if let Some(note) = outcome.note {
        why.push(note);
    }
    Err(CmdError::runtime(why.join("; ")))
}
