//! The watchdog's detection logic, apart from the kernel: rounds of samples in, reports out.
//! Pure (no clock, no threads), so the host tests feed it any history they like.

use crate::running::Callback;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

/// A thread that has used at least this share of the time since the last round, in percent,
/// counts as not having given its CPU up in that round.
pub const BUSY_PCT: u64 = 90;

/// The thresholds, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    /// Soft lockup: a thread on a CPU without a break, and hard lockup: a CPU taking no
    /// interrupt, for longer than this.
    pub soft_ns: u64,
    /// Hung work: one callback running for longer than this.
    pub hung_ns: u64,
}

/// One thread, as seen in a round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadSample {
    /// Thread id.
    pub tid: u32,
    /// Name.
    pub name: String,
    /// The CPU it runs or last ran on.
    pub cpu: usize,
    /// Priority.
    pub prio: u8,
    /// Running or ready to run (not sleeping, parked or exited).
    pub runnable: bool,
    /// Total run time so far, in nanoseconds.
    pub runtime_ns: u64,
    /// The work or task_work callback it runs now.
    pub callback: Option<Callback>,
}

/// One CPU, as seen in a round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuSample {
    /// CPU number.
    pub cpu: usize,
    /// Online (an offline CPU takes no interrupts, rightly).
    pub online: bool,
    /// Interrupts taken so far (the heartbeat: the watchdog interrupts every other CPU each
    /// round).
    pub irqs: u64,
    /// The irq_work callback its interrupt handler runs now.
    pub irq_callback: Option<Callback>,
    /// irq_work passes it put off so far (a re-queue storm, bounded).
    pub irq_work_deferred: u64,
    /// The irq_work slot it last put off.
    pub storm_slot: Option<u16>,
}

/// What the watchdog found; each is reported once per episode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// A thread kept its CPU for `for_ns` without a break (used ≥ [`BUSY_PCT`] % of every
    /// round).
    SoftLockup {
        /// The CPU.
        cpu: usize,
        /// Thread id.
        tid: u32,
        /// Its name.
        name: String,
        /// Its priority.
        prio: u8,
        /// How long it has kept the CPU.
        for_ns: u64,
        /// Its total run time.
        runtime_ns: u64,
    },
    /// One callback has been running for `for_ns`.
    HungWork {
        /// What it is and its name id / slot.
        callback: Callback,
        /// The CPU.
        cpu: usize,
        /// The thread running it (`None`: the CPU's interrupt handler, an irq_work).
        thread: Option<(u32, String)>,
        /// How long it has been running, at least.
        for_ns: u64,
    },
    /// A CPU took no interrupt for `for_ns`.
    HardLockup {
        /// The CPU.
        cpu: usize,
        /// How long.
        for_ns: u64,
    },
    /// A CPU has been putting irq_work passes off (works re-queueing themselves on it) in every
    /// round for `for_ns`.
    IrqWorkStorm {
        /// The CPU.
        cpu: usize,
        /// The irq_work it last put off (the storm's likely source), as a slot.
        slot: Option<u16>,
        /// Passes put off over the episode.
        deferred: u64,
        /// How long.
        for_ns: u64,
    },
}

impl Report {
    /// The report's kind, as counted: `soft`, `hung` or `hard`.
    pub fn kind(&self) -> &'static str {
        match self {
            Report::SoftLockup { .. } => "soft",
            Report::HungWork { .. } => "hung",
            Report::HardLockup { .. } => "hard",
            Report::IrqWorkStorm { .. } => "storm",
        }
    }

    /// The CPU it is about.
    pub fn cpu(&self) -> usize {
        match self {
            Report::SoftLockup { cpu, .. }
            | Report::HungWork { cpu, .. }
            | Report::HardLockup { cpu, .. }
            | Report::IrqWorkStorm { cpu, .. } => *cpu,
        }
    }
}

/// A streak of something seen since `since`, reported or not yet.
#[derive(Clone, Copy, Debug)]
struct Streak {
    since: u64,
    reported: bool,
}

impl Streak {
    fn new(since: u64) -> Self {
        Self {
            since,
            reported: false,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct ThreadWatch {
    runtime_ns: u64,
    busy: Option<Streak>,
    callback: Option<(Callback, Streak)>,
}

#[derive(Clone, Copy, Debug)]
struct CpuWatch {
    irqs: u64,
    quiet: Streak,
    callback: Option<(Callback, Streak)>,
    deferred: u64,
    /// Rounds in a row with passes put off, and the count when they began.
    storm: Option<(Streak, u64)>,
}

/// The watchdog's memory between rounds.
#[derive(Debug, Default)]
pub struct Detector {
    last: Option<u64>,
    threads: BTreeMap<u32, ThreadWatch>,
    cpus: BTreeMap<usize, CpuWatch>,
}

/// Whether an episode of `s` has lasted past `limit` at `now` and is not reported yet; marks it
/// reported if so.
fn due(s: &mut Streak, now: u64, limit: u64) -> Option<u64> {
    let d = now.saturating_sub(s.since);
    (d > limit && !s.reported).then(|| {
        s.reported = true;
        d
    })
}

/// The same callback as last round keeps its streak; another one (or none) starts over.
fn follow(
    prev: Option<(Callback, Streak)>,
    now: Option<Callback>,
    at: u64,
) -> Option<(Callback, Streak)> {
    let c = now?;
    match prev {
        Some((p, s)) if p == c => Some((p, s)),
        _ => Some((c, Streak::new(at))),
    }
}

impl Detector {
    /// A detector with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the history (the watchdog was off or paused: what happened meanwhile is not
    /// judged).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// One round at `now` (nanoseconds): compares the samples with the last round's and returns
    /// what is newly past a threshold. The first round only takes note.
    pub fn round(
        &mut self,
        now: u64,
        th: Thresholds,
        threads: &[ThreadSample],
        cpus: &[CpuSample],
    ) -> Vec<Report> {
        let mut out = Vec::new();
        let Some(last) = self.last.replace(now) else {
            self.note(now, threads, cpus);
            return out;
        };
        let dt = now.saturating_sub(last);
        // A thread whose CPU runs an irq_work is not using that time itself (its run time goes
        // on counting while the interrupt holds its CPU): the hung-work report is the culprit's.
        let in_irq_work = |cpu: usize| {
            cpus.iter()
                .any(|c| c.cpu == cpu && c.irq_callback.is_some())
        };
        let mut seen = BTreeMap::new();
        for t in threads {
            let prev = self.threads.get(&t.tid).copied();
            let ran = prev.map_or(0, |p| t.runtime_ns.saturating_sub(p.runtime_ns));
            // A callback seen first now has run for "at least 0": its streak starts now.
            let callback = follow(prev.and_then(|p| p.callback), t.callback, now);
            let busy = (prev.is_some()
                && t.runnable
                && dt > 0
                && ran * 100 >= dt * BUSY_PCT
                && !in_irq_work(t.cpu))
            .then(|| prev.and_then(|p| p.busy).unwrap_or(Streak::new(last)));
            let mut w = ThreadWatch {
                runtime_ns: t.runtime_ns,
                busy,
                callback,
            };
            if let Some((c, s)) = w.callback.as_mut()
                && let Some(for_ns) = due(s, now, th.hung_ns)
            {
                out.push(Report::HungWork {
                    callback: *c,
                    cpu: t.cpu,
                    thread: Some((t.tid, t.name.clone())),
                    for_ns,
                });
            }
            // A thread inside a callback is the hung-work report's (it names the culprit).
            if let Some(s) = w.busy.as_mut()
                && w.callback.is_none()
                && let Some(for_ns) = due(s, now, th.soft_ns)
            {
                out.push(Report::SoftLockup {
                    cpu: t.cpu,
                    tid: t.tid,
                    name: t.name.clone(),
                    prio: t.prio,
                    for_ns,
                    runtime_ns: t.runtime_ns,
                });
            }
            seen.insert(t.tid, w);
        }
        self.threads = seen;
        for c in cpus {
            let prev = self.cpus.get(&c.cpu).copied();
            let quiet = match prev {
                Some(p) if c.online && p.irqs == c.irqs => p.quiet,
                _ => Streak::new(now),
            };
            let storm = match prev {
                Some(p) if c.irq_work_deferred > p.deferred => {
                    Some(p.storm.unwrap_or((Streak::new(last), p.deferred)))
                }
                _ => None,
            };
            let mut w = CpuWatch {
                irqs: c.irqs,
                quiet,
                callback: follow(prev.and_then(|p| p.callback), c.irq_callback, now),
                deferred: c.irq_work_deferred,
                storm,
            };
            if let Some((s, from)) = w.storm.as_mut()
                && let Some(for_ns) = due(s, now, th.soft_ns)
            {
                out.push(Report::IrqWorkStorm {
                    cpu: c.cpu,
                    slot: c.storm_slot,
                    deferred: c.irq_work_deferred - *from,
                    for_ns,
                });
            }
            if let Some((cb, s)) = w.callback.as_mut()
                && let Some(for_ns) = due(s, now, th.hung_ns)
            {
                out.push(Report::HungWork {
                    callback: *cb,
                    cpu: c.cpu,
                    thread: None,
                    for_ns,
                });
            }
            if c.online
                && let Some(for_ns) = due(&mut w.quiet, now, th.soft_ns)
            {
                out.push(Report::HardLockup { cpu: c.cpu, for_ns });
            }
            self.cpus.insert(c.cpu, w);
        }
        out
    }

    fn note(&mut self, now: u64, threads: &[ThreadSample], cpus: &[CpuSample]) {
        let fresh = Streak::new(now);
        let watch = |t: &ThreadSample| ThreadWatch {
            runtime_ns: t.runtime_ns,
            busy: None,
            callback: t.callback.map(|c| (c, fresh)),
        };
        self.threads = threads.iter().map(|t| (t.tid, watch(t))).collect();
        let watch = |c: &CpuSample| CpuWatch {
            irqs: c.irqs,
            quiet: fresh,
            callback: c.irq_callback.map(|cb| (cb, fresh)),
            deferred: c.irq_work_deferred,
            storm: None,
        };
        self.cpus = cpus.iter().map(|c| (c.cpu, watch(c))).collect();
    }
}
