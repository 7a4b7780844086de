//! What every benchmark body uses: its context ([`Ctx`]), the priorities of the measuring and
//! helper threads, timestamps on a tick edge ([`stamp`], [`align`]), a timestamp handed over by
//! another thread ([`AtomicStamp`]) and the sample recorder ([`Recorder`]).

use super::stats::{Row, Stats};
use crate::kthread::Options;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Priority of the measuring thread: above the shell (20) and the default (10).
pub const MEASURE_PRIO: u8 = 24;
/// Priority of helper threads that must preempt the measuring thread as soon as they are woken.
pub const HELPER_PRIO: u8 = 26;

/// What a benchmark body gets.
pub(crate) struct Ctx {
    /// Recorded iterations per row.
    pub iters: usize,
    /// Unrecorded warm-up iterations before them.
    pub warm: usize,
    /// The CPU everything runs on.
    pub cpu: usize,
    /// Another online CPU, for the cross-CPU rows.
    pub remote: Option<usize>,
}

impl Ctx {
    /// Warm-up plus recorded iterations.
    pub fn total(&self) -> usize {
        self.warm + self.iters
    }
}

/// Options for a thread bound to `cpu` at `prio`.
pub(crate) fn opts(cpu: usize, prio: u8) -> Options {
    Options {
        prio: Some(prio),
        cpu: Some(cpu),
    }
}

/// A point in time: counter ticks and, if the port has one, this CPU's cycle count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub t: u64,
    pub c: Option<u64>,
}

/// Now.
pub(crate) fn stamp() -> Stamp {
    let p = crate::port::port();
    let c = p.cycles();
    Stamp { t: p.now(), c }
}

/// The interval `from -> to`: ticks, and cycles if both ends have a cycle count.
pub(crate) fn span(from: Stamp, to: Stamp) -> (u64, Option<u64>) {
    let cycles = from.c.zip(to.c).map(|(a, b)| b.wrapping_sub(a));
    (to.t.saturating_sub(from.t), cycles)
}

/// Spins until the counter changes, so the next iteration starts on a tick edge.
pub(crate) fn align() {
    let p = crate::port::port();
    let t = p.now();
    while p.now() == t {
        core::hint::spin_loop();
    }
}

const NO_CYCLES: u64 = u64::MAX;

/// A [`Stamp`] handed from a callback to the measuring thread.
#[derive(Default)]
pub(crate) struct AtomicStamp {
    t: AtomicU64,
    c: AtomicU64,
    ready: AtomicBool,
}

impl AtomicStamp {
    /// Records `s` (the callback side).
    pub fn set(&self, s: Stamp) {
        self.t.store(s.t, Ordering::Relaxed);
        self.c.store(s.c.unwrap_or(NO_CYCLES), Ordering::Relaxed);
        self.ready.store(true, Ordering::Release);
    }
    /// Takes the recorded stamp, if any.
    pub fn take(&self) -> Option<Stamp> {
        if !self.ready.swap(false, Ordering::AcqRel) {
            return None;
        }
        let c = self.c.load(Ordering::Relaxed);
        Some(Stamp {
            t: self.t.load(Ordering::Relaxed),
            c: (c != NO_CYCLES).then_some(c),
        })
    }
    /// Spins until a stamp is recorded and takes it. Only where the callback runs without the
    /// measuring thread blocking (an interrupt, another CPU, a more urgent thread).
    pub fn wait(&self) -> Stamp {
        loop {
            if let Some(s) = self.take() {
                return s;
            }
            core::hint::spin_loop();
        }
    }
}

/// Collects one row's samples, dropping the warm-up ones.
pub(crate) struct Recorder {
    name: String,
    warm: usize,
    iters: usize,
    seen: usize,
    ticks: Vec<u64>,
    cycles: Vec<u64>,
    use_cycles: bool,
}

impl Recorder {
    /// A row named `name` for `ctx`'s iterations.
    pub fn new(name: &str, ctx: &Ctx) -> Self {
        Self {
            name: String::from(name),
            warm: ctx.warm,
            iters: ctx.iters,
            seen: 0,
            ticks: Vec::with_capacity(ctx.iters),
            cycles: Vec::with_capacity(ctx.iters),
            use_cycles: true,
        }
    }
    /// Never records cycles (timestamps from different CPUs, or a computed start).
    pub fn without_cycles(mut self) -> Self {
        self.use_cycles = false;
        self
    }
    /// Records the interval `from -> to` (ignored during warm-up and once full).
    pub fn add(&mut self, from: Stamp, to: Stamp) {
        self.add_span(span(from, to));
    }
    /// Records one sample of `ticks` (and `cycles`, if both ends had a cycle count).
    pub fn add_span(&mut self, (ticks, cycles): (u64, Option<u64>)) {
        self.seen += 1;
        if self.seen <= self.warm || self.done() {
            return;
        }
        self.ticks.push(ticks);
        match cycles {
            Some(c) if self.use_cycles => self.cycles.push(c),
            _ => self.use_cycles = false,
        }
    }
    /// Whether every recorded iteration is in.
    pub fn done(&self) -> bool {
        self.ticks.len() >= self.iters
    }
    /// The finished row.
    pub fn row(mut self) -> Row {
        let n = self.ticks.len();
        let ticks = Stats::of(&mut self.ticks).unwrap_or(Stats {
            min: 0,
            median: 0,
            p99: 0,
            max: 0,
        });
        let cycles = if self.use_cycles && self.cycles.len() == n {
            Stats::of(&mut self.cycles)
        } else {
            None
        };
        Row {
            name: self.name,
            n,
            ticks,
            cycles,
        }
    }
}
