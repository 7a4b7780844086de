//! `top`'s arithmetic and output, free of the kernel: two [`Snapshot`]s of the counters make a
//! [`Frame`] of rates and percentages ([`Frame::between`]), shown as a text table
//! ([`Frame::text`]) or one JSON object ([`Frame::json`]).
//!
//! Rules:
//! - The interval is the time between the two snapshots. Over a zero interval every rate and
//!   percentage is 0.
//! - A rate is the counter's growth over the interval, per second, rounded to a whole number. A
//!   counter that went *back* was restarted (a queue destroyed and made again under the same
//!   name, a CPU's counters after a fake kernel restart): it counts from zero. (The kernel's 64-bit
//!   counters do not wrap in practice: 584 years at a billion events a second.)
//! - A percentage is in tenths, clamped to `0..=100.0`: 100% is one CPU's whole interval (a thread
//!   runs on one CPU at a time). A CPU's busy time is the interval minus its idle thread's run
//!   time; a CPU offline at either snapshot has no busy figure.
//! - A thread found only in the second snapshot started during the interval: all its run time is
//!   from it. A thread gone from the second snapshot is not shown. Threads are listed by CPU%,
//!   highest first, then by tid.
//! - A queue (workqueue worker or kthread worker) is matched by kind, name and CPU; its worst
//!   queue-to-start latency is the kernel's maximum since the previous snapshot (the kernel
//!   resets it on every read).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;
use core::time::Duration;

use crate::util::{json_str, nanos, show_duration};

/// One CPU's counters at a moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CpuSample {
    pub id: usize,
    pub online: bool,
    /// Interrupts of every kind.
    pub irqs: u64,
    /// Software-generated interrupts (IPIs).
    pub sgis: u64,
    /// irq_work callbacks run.
    pub irq_work_runs: u64,
    /// Context switches.
    pub switches: u64,
    /// Time its idle thread ran since boot.
    pub idle: Duration,
}

/// One thread at a moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ThreadSample {
    pub tid: u32,
    pub name: String,
    pub state: &'static str,
    pub cpu: usize,
    pub prio: u8,
    /// Time it ran since it was made.
    pub runtime: Duration,
}

/// What runs a queue's works.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QueueKind {
    /// One worker of a workqueue.
    Workqueue,
    /// A kthread worker.
    Kworker,
}

impl QueueKind {
    /// The short name in the text table.
    fn short(self) -> &'static str {
        match self {
            QueueKind::Workqueue => "wq",
            QueueKind::Kworker => "kworker",
        }
    }

    /// The name in JSON.
    fn json(self) -> &'static str {
        match self {
            QueueKind::Workqueue => "workqueue",
            QueueKind::Kworker => "kworker",
        }
    }
}

/// One worker (of a workqueue, or a kthread worker) at a moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct QueueSample {
    pub kind: QueueKind,
    /// The workqueue's or worker's name.
    pub name: String,
    /// The CPU its thread is bound to, if any.
    pub cpu: Option<usize>,
    /// Works queued, not started.
    pub pending: usize,
    /// Works waiting for their timer.
    pub delayed: usize,
    /// Works running.
    pub running: usize,
    /// Works run since it was made.
    pub runs: u64,
    /// Worst queue-to-start latency since the previous snapshot.
    pub max_latency: Duration,
}

impl QueueSample {
    /// How `top` names it: a workqueue's per-CPU worker as its thread is named, `<wq>/<cpu>`.
    fn label(&self) -> String {
        match (self.kind, self.cpu) {
            (QueueKind::Workqueue, Some(c)) => format!("{}/{c}", self.name),
            _ => self.name.clone(),
        }
    }
}

/// Everything `top` reads at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// When (time since boot).
    pub at: Duration,
    pub cpus: Vec<CpuSample>,
    pub threads: Vec<ThreadSample>,
    pub queues: Vec<QueueSample>,
}

/// A CPU's line of a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CpuRow {
    pub id: usize,
    /// Online at the second snapshot.
    pub online: bool,
    /// Busy share of the interval in tenths of a percent; `None` for a CPU that was offline.
    pub busy: Option<u32>,
    pub irqs_per_s: u64,
    pub sgis_per_s: u64,
    pub irq_work_per_s: u64,
    pub switches_per_s: u64,
}

/// A thread's line of a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ThreadRow {
    pub tid: u32,
    pub name: String,
    pub state: &'static str,
    pub cpu: usize,
    pub prio: u8,
    /// Share of one CPU over the interval, in tenths of a percent.
    pub cpu_pct: u32,
}

/// A queue's line of a frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct QueueRow {
    pub kind: QueueKind,
    pub label: String,
    pub cpu: Option<usize>,
    pub pending: usize,
    pub delayed: usize,
    pub running: usize,
    pub runs_per_s: u64,
    pub max_latency: Duration,
}

/// What happened between two snapshots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Frame {
    /// The second snapshot's time since boot.
    pub at: Duration,
    /// The time between the snapshots.
    pub interval: Duration,
    pub cpus: Vec<CpuRow>,
    pub threads: Vec<ThreadRow>,
    pub queues: Vec<QueueRow>,
}

/// How much a counter grew from `prev` to `next`; one that went back restarted from zero.
pub(crate) fn grew(prev: u64, next: u64) -> u64 {
    next.checked_sub(prev).unwrap_or(next)
}

/// `n` events over `dt_us` microseconds, per second, rounded; 0 over a zero interval.
pub(crate) fn per_sec(n: u64, dt_us: u64) -> u64 {
    if dt_us == 0 {
        return 0;
    }
    n.saturating_mul(1_000_000).saturating_add(dt_us / 2) / dt_us
}

/// `part` of `whole` in tenths of a percent, rounded, at most 100.0%; 0 for a zero `whole`.
pub(crate) fn tenths(part: Duration, whole: Duration) -> u32 {
    let (part, whole) = (nanos(part), nanos(whole));
    if whole == 0 {
        return 0;
    }
    let t = part.saturating_mul(1000).saturating_add(whole / 2) / whole;
    u32::try_from(t.min(1000)).unwrap_or(1000)
}

/// Tenths of a percent as `12.5`.
fn pct(t: u32) -> String {
    format!("{}.{}", t / 10, t % 10)
}

impl Frame {
    /// The rates and shares from `prev` to `next` (see the module documentation).
    pub(crate) fn between(prev: &Snapshot, next: &Snapshot) -> Frame {
        let interval = next.at.saturating_sub(prev.at);
        let dt_us = nanos(interval) / 1_000;
        let rate = |p: u64, n: u64| per_sec(grew(p, n), dt_us);
        let cpus = next
            .cpus
            .iter()
            .map(|n| {
                let p = prev.cpus.iter().find(|p| p.id == n.id);
                let p0 = CpuSample::default();
                let pc = p.unwrap_or(&p0);
                let idle = if n.idle >= pc.idle {
                    n.idle - pc.idle
                } else {
                    n.idle
                };
                let online = n.online && p.is_some_and(|p| p.online);
                CpuRow {
                    id: n.id,
                    online: n.online,
                    busy: online.then(|| tenths(interval.saturating_sub(idle), interval)),
                    irqs_per_s: rate(pc.irqs, n.irqs),
                    sgis_per_s: rate(pc.sgis, n.sgis),
                    irq_work_per_s: rate(pc.irq_work_runs, n.irq_work_runs),
                    switches_per_s: rate(pc.switches, n.switches),
                }
            })
            .collect();
        let mut threads: Vec<ThreadRow> = next
            .threads
            .iter()
            .map(|n| {
                let before = prev
                    .threads
                    .iter()
                    .find(|p| p.tid == n.tid)
                    .map_or(Duration::ZERO, |p| p.runtime);
                ThreadRow {
                    tid: n.tid,
                    name: n.name.clone(),
                    state: n.state,
                    cpu: n.cpu,
                    prio: n.prio,
                    cpu_pct: tenths(n.runtime.saturating_sub(before), interval),
                }
            })
            .collect();
        threads.sort_by(|a, b| b.cpu_pct.cmp(&a.cpu_pct).then(a.tid.cmp(&b.tid)));
        let queues = next
            .queues
            .iter()
            .map(|n| {
                let runs_before = prev
                    .queues
                    .iter()
                    .find(|p| p.kind == n.kind && p.name == n.name && p.cpu == n.cpu)
                    .map_or(0, |p| p.runs);
                QueueRow {
                    kind: n.kind,
                    label: n.label(),
                    cpu: n.cpu,
                    pending: n.pending,
                    delayed: n.delayed,
                    running: n.running,
                    runs_per_s: rate(runs_before, n.runs),
                    max_latency: n.max_latency,
                }
            })
            .collect();
        Frame {
            at: next.at,
            interval,
            cpus,
            threads,
            queues,
        }
    }

    /// The interval in whole milliseconds, rounded.
    fn interval_ms(&self) -> u64 {
        nanos(self.interval).saturating_add(500_000) / 1_000_000
    }

    /// The frame as text lines (each ending in `\n`). With `max_lines`, the thread table is cut
    /// so that the whole frame fits (at least one thread is shown; a last line says how many
    /// were left out).
    pub(crate) fn text(&self, max_lines: Option<usize>) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "top - up {}, interval {}, cpus {}, threads {}, queues {}",
            crate::util::show_uptime(self.at),
            show_duration(Duration::from_millis(self.interval_ms())),
            self.cpus.len(),
            self.threads.len(),
            self.queues.len()
        );
        let _ = writeln!(
            s,
            "{:>3}  {:>5}  {:>8}  {:>8}  {:>9}  {:>8}",
            "CPU", "BUSY%", "IRQS/s", "SGIS/s", "IRQWORK/s", "CSW/s"
        );
        for c in &self.cpus {
            let _ = writeln!(
                s,
                "{:>3}  {:>5}  {:>8}  {:>8}  {:>9}  {:>8}",
                c.id,
                c.busy.map_or(String::from("off"), pct),
                c.irqs_per_s,
                c.sgis_per_s,
                c.irq_work_per_s,
                c.switches_per_s
            );
        }
        // Header, the CPU table's and the two other tables' headings, the CPUs and the queues.
        let fixed = 4 + self.cpus.len() + self.queues.len();
        let shown = match max_lines.map(|m| m.saturating_sub(fixed)) {
            // (One line of the room says what was left out.)
            Some(room) if self.threads.len() > room => room.saturating_sub(1).max(1),
            _ => self.threads.len(),
        };
        let hidden = self.threads.len() - shown;
        let _ = writeln!(
            s,
            "{:>5}  {:<16} {:<8}  {:>3}  {:>4}  {:>5}",
            "TID", "NAME", "STATE", "CPU", "PRIO", "CPU%"
        );
        for t in &self.threads[..shown] {
            let _ = writeln!(
                s,
                "{:>5}  {} {:<8}  {:>3}  {:>4}  {:>5}",
                t.tid,
                crate::util::fit(&t.name, 16),
                t.state,
                t.cpu,
                t.prio,
                pct(t.cpu_pct)
            );
        }
        if hidden > 0 {
            let _ = writeln!(s, "  ... {hidden} more threads");
        }
        let _ = writeln!(
            s,
            "{:<16} {:<7}  {:>3}  {:>7}  {:>7}  {:>7}  {:>6}  {:>8}",
            "QUEUE", "KIND", "CPU", "PENDING", "DELAYED", "RUNNING", "RUNS/s", "MAXWAIT"
        );
        for q in &self.queues {
            let _ = writeln!(
                s,
                "{} {:<7}  {:>3}  {:>7}  {:>7}  {:>7}  {:>6}  {:>8}",
                crate::util::fit(&q.label, 16),
                q.kind.short(),
                q.cpu.map_or(String::from("-"), |c| format!("{c}")),
                q.pending,
                q.delayed,
                q.running,
                q.runs_per_s,
                crate::util::show_span(q.max_latency)
            );
        }
        s
    }

    /// The frame as one JSON object on one line (field names in `help top`).
    pub(crate) fn json(&self) -> String {
        let mut s = format!(
            "{{\"uptime_ms\":{},\"interval_ms\":{},\"cpus\":[",
            nanos(self.at) / 1_000_000,
            self.interval_ms()
        );
        for (i, c) in self.cpus.iter().enumerate() {
            let _ = write!(
                s,
                "{}{{\"cpu\":{},\"online\":{},\"busy_pct\":{},\"irqs_per_s\":{},\
                 \"sgis_per_s\":{},\"irq_work_per_s\":{},\"switches_per_s\":{}}}",
                if i > 0 { "," } else { "" },
                c.id,
                c.online,
                c.busy.map_or(String::from("null"), pct),
                c.irqs_per_s,
                c.sgis_per_s,
                c.irq_work_per_s,
                c.switches_per_s
            );
        }
        s.push_str("],\"threads\":[");
        for (i, t) in self.threads.iter().enumerate() {
            let _ = write!(
                s,
                "{}{{\"tid\":{},\"name\":{},\"state\":\"{}\",\"cpu\":{},\"prio\":{},\
                 \"cpu_pct\":{}}}",
                if i > 0 { "," } else { "" },
                t.tid,
                json_str(&t.name),
                t.state,
                t.cpu,
                t.prio,
                pct(t.cpu_pct)
            );
        }
        s.push_str("],\"queues\":[");
        for (i, q) in self.queues.iter().enumerate() {
            let _ = write!(
                s,
                "{}{{\"name\":{},\"kind\":\"{}\",\"cpu\":{},\"pending\":{},\"delayed\":{},\
                 \"running\":{},\"runs_per_s\":{},\"max_latency_us\":{}}}",
                if i > 0 { "," } else { "" },
                json_str(&q.label),
                q.kind.json(),
                q.cpu.map_or(String::from("null"), |c| format!("{c}")),
                q.pending,
                q.delayed,
                q.running,
                q.runs_per_s,
                nanos(q.max_latency) / 1_000
            );
        }
        s.push_str("]}");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const MS: Duration = Duration::from_millis(1);

    fn cpu(id: usize, online: bool, n: u64, idle: Duration) -> CpuSample {
        CpuSample {
            id,
            online,
            irqs: n,
            sgis: n / 2,
            irq_work_runs: n / 4,
            switches: n / 8,
            idle,
        }
    }

    fn thread(tid: u32, name: &str, runtime: Duration) -> ThreadSample {
        ThreadSample {
            tid,
            name: String::from(name),
            state: "running",
            cpu: 1,
            prio: 10,
            runtime,
        }
    }

    fn queue(kind: QueueKind, name: &str, cpu: Option<usize>, runs: u64) -> QueueSample {
        QueueSample {
            kind,
            name: String::from(name),
            cpu,
            pending: 2,
            delayed: 1,
            running: 1,
            runs,
            max_latency: 250 * MS,
        }
    }

    /// Two snapshots 2 s apart.
    fn pair() -> (Snapshot, Snapshot) {
        let prev = Snapshot {
            at: Duration::from_secs(10),
            cpus: vec![
                cpu(0, true, 800, Duration::from_secs(9)),
                cpu(1, true, 0, Duration::from_secs(5)),
                cpu(2, true, 0, Duration::from_secs(3)),
            ],
            threads: vec![
                thread(5, "spin", Duration::from_secs(4)),
                thread(6, "gone", Duration::from_secs(1)),
                thread(7, "nap", Duration::from_secs(1)),
            ],
            queues: vec![
                queue(QueueKind::Workqueue, "events", Some(1), 10),
                queue(QueueKind::Kworker, "kw", None, 50),
            ],
        };
        let next = Snapshot {
            at: Duration::from_secs(12),
            cpus: vec![
                // 0.5 s idle in 2 s: 75% busy; 1600 interrupts in 2 s.
                cpu(0, true, 4000, Duration::from_millis(9_500)),
                // Idle all the time (and a bit more: sampling skew): 0%.
                cpu(1, true, 16, Duration::from_millis(7_010)),
                cpu(2, false, 0, Duration::from_secs(3)),
            ],
            threads: vec![
                thread(5, "spin", Duration::from_secs(6)),
                thread(7, "nap", Duration::from_millis(1_001)),
                // Started during the interval.
                thread(9, "new", Duration::from_millis(300)),
            ],
            queues: vec![
                queue(QueueKind::Workqueue, "events", Some(1), 30),
                // Destroyed and made again: counts from zero.
                queue(QueueKind::Kworker, "kw", None, 4),
                queue(QueueKind::Workqueue, "fresh", None, 6),
            ],
        };
        (prev, next)
    }

    #[test]
    fn rates_round_and_survive_a_restart() {
        assert_eq!(per_sec(1000, 1_000_000), 1000);
        assert_eq!(per_sec(5, 500_000), 10);
        assert_eq!(per_sec(1, 3_000_000), 0, "a third per second rounds down");
        assert_eq!(per_sec(2, 3_000_000), 1, "two thirds round up");
        assert_eq!(per_sec(7, 0), 0, "zero interval");
        assert_eq!(per_sec(u64::MAX, 1), u64::MAX, "saturates");
        assert_eq!(grew(10, 25), 15);
        assert_eq!(grew(10, 4), 4, "went back: restarted from zero");
        assert_eq!(grew(u64::MAX, u64::MAX), 0);
    }

    #[test]
    fn percentages_in_tenths() {
        assert_eq!(tenths(MS, 8 * MS), 125);
        assert_eq!(tenths(2 * MS, 3 * MS), 667, "rounded");
        assert_eq!(tenths(5 * MS, 4 * MS), 1000, "at most 100%");
        assert_eq!(tenths(MS, Duration::ZERO), 0, "zero interval");
        assert_eq!(pct(1000), "100.0");
        assert_eq!(pct(5), "0.5");
    }

    #[test]
    fn frame_between_two_snapshots() {
        let (prev, next) = pair();
        let f = Frame::between(&prev, &next);
        assert_eq!(f.interval, Duration::from_secs(2));
        assert_eq!(f.at, Duration::from_secs(12));
        let c0 = &f.cpus[0];
        assert_eq!(c0.busy, Some(750));
        assert_eq!(
            (
                c0.irqs_per_s,
                c0.sgis_per_s,
                c0.irq_work_per_s,
                c0.switches_per_s
            ),
            (1600, 800, 400, 200)
        );
        assert_eq!(f.cpus[1].busy, Some(0), "idle more than the interval: 0%");
        assert_eq!(f.cpus[1].irqs_per_s, 8);
        assert_eq!(f.cpus[2].busy, None, "offline");
        assert!(!f.cpus[2].online);
        let threads: Vec<(u32, u32)> = f.threads.iter().map(|t| (t.tid, t.cpu_pct)).collect();
        // Busiest first: spin 2 s of 2 s, new 0.3 s, nap 1 ms (0.05%, rounded to 0.1%).
        assert_eq!(
            threads,
            vec![(5, 1000), (9, 150), (7, 1)],
            "gone is not shown"
        );
        let queues: Vec<(&str, u64)> = f
            .queues
            .iter()
            .map(|q| (q.label.as_str(), q.runs_per_s))
            .collect();
        assert_eq!(queues, vec![("events/1", 10), ("kw", 2), ("fresh", 3)]);
        assert_eq!(f.queues[0].max_latency, 250 * MS);
    }

    #[test]
    fn zero_interval_gives_zeros() {
        let (prev, mut next) = pair();
        next.at = prev.at;
        let f = Frame::between(&prev, &next);
        assert_eq!(f.interval, Duration::ZERO);
        assert!(
            f.cpus
                .iter()
                .all(|c| c.busy.unwrap_or(0) == 0 && c.irqs_per_s == 0)
        );
        assert!(f.threads.iter().all(|t| t.cpu_pct == 0));
        assert!(f.queues.iter().all(|q| q.runs_per_s == 0));
        // A clock that went back (it does not) is a zero interval too.
        next.at = prev.at - MS;
        assert_eq!(Frame::between(&prev, &next).interval, Duration::ZERO);
    }

    #[test]
    fn text_table() {
        let (prev, next) = pair();
        let text = Frame::between(&prev, &next).text(None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "top - up 0:00:12.000, interval 2s, cpus 3, threads 3, queues 3"
        );
        assert_eq!(
            lines[1],
            "CPU  BUSY%    IRQS/s    SGIS/s  IRQWORK/s     CSW/s"
        );
        assert_eq!(
            lines[2],
            "  0   75.0      1600       800        400       200"
        );
        assert_eq!(
            lines[4],
            "  2    off         0         0          0         0"
        );
        assert_eq!(
            lines[5],
            "  TID  NAME             STATE     CPU  PRIO   CPU%"
        );
        assert_eq!(
            lines[6],
            "    5  spin             running     1    10  100.0"
        );
        assert_eq!(
            lines[9],
            "QUEUE            KIND     CPU  PENDING  DELAYED  RUNNING  RUNS/s   MAXWAIT"
        );
        assert_eq!(
            lines[10],
            "events/1         wq         1        2        1        1      10     250ms"
        );
        assert_eq!(lines[11].split_whitespace().nth(2), Some("-"), "unbound");
        assert_eq!(lines.len(), 13);
    }

    #[test]
    fn text_cut_to_the_screen() {
        let (prev, next) = pair();
        let f = Frame::between(&prev, &next);
        // 4 headings + 3 CPUs + 3 queues = 10 fixed lines; 12 leave room for 2 thread lines.
        let text = f.text(Some(12));
        assert_eq!(text.lines().count(), 12);
        assert!(text.contains("    5  spin "));
        assert!(text.contains("  ... 2 more threads\n"));
        // Too small a screen still shows one thread.
        let tiny = f.text(Some(3));
        assert!(tiny.contains("    5  spin ") && tiny.contains("... 2 more threads"));
        assert_eq!(f.text(Some(13)), f.text(None), "all fits");
    }

    #[test]
    fn json_object() {
        let (prev, next) = pair();
        let json = Frame::between(&prev, &next).json();
        assert!(!json.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(v["interval_ms"], 2000);
        assert_eq!(v["uptime_ms"], 12000);
        let c0 = &v["cpus"][0];
        assert_eq!(c0["cpu"], 0);
        assert_eq!(c0["online"], true);
        assert_eq!(c0["busy_pct"].as_f64(), Some(75.0));
        assert_eq!(c0["irqs_per_s"], 1600);
        assert_eq!(c0["sgis_per_s"], 800);
        assert_eq!(c0["irq_work_per_s"], 400);
        assert_eq!(c0["switches_per_s"], 200);
        assert!(v["cpus"][2]["busy_pct"].is_null());
        assert_eq!(v["cpus"][2]["online"], false);
        let t = &v["threads"][0];
        assert_eq!(t["tid"], 5);
        assert_eq!(t["name"], "spin");
        assert_eq!(t["state"], "running");
        assert_eq!((t["cpu"].clone(), t["prio"].clone()), (1.into(), 10.into()));
        assert_eq!(t["cpu_pct"].as_f64(), Some(100.0));
        let q = &v["queues"][0];
        assert_eq!(q["name"], "events/1");
        assert_eq!(q["kind"], "workqueue");
        assert_eq!(q["cpu"], 1);
        assert_eq!(
            (q["pending"].clone(), q["delayed"].clone()),
            (2.into(), 1.into())
        );
        assert_eq!(q["running"], 1);
        assert_eq!(q["runs_per_s"], 10);
        assert_eq!(q["max_latency_us"], 250_000);
        assert_eq!(v["queues"][1]["kind"], "kworker");
        assert!(v["queues"][1]["cpu"].is_null());
    }
}
