//! A trace as Chrome trace-event JSON, which ui.perfetto.dev and chrome://tracing open.
//!
//! Layout: process 1 "CPUs" has one track per CPU (thread id = CPU + 1) with a slice per stretch
//! a thread (or idle) ran there, the interrupts (`irq N`) and the irq_work callbacks (hard-IRQ
//! context) nested in them; process 2 "threads" has one track per kernel thread (thread id =
//! tid) with its stretches on a CPU (`on cpuN`), its work callbacks (one slice per stretch, if
//! a callback sleeps or is preempted) and its task_work runs. Flow arrows go from each
//! queueing (irq_work, work, task_work) to the run it caused, and from each SGI sent to the
//! interrupt it raised on each target CPU. Times are microseconds.
//!
//! Importers drop a slice that overlaps another on its track without nesting in it, and a flow
//! end that lies in no slice: [`check`] tells whether a document keeps to that.

use std::collections::{BTreeMap, HashMap};

use rtos::trace::text::sgi_name;
use rtos::trace::{Event, Kind, untag};
use serde_json::{Value, json};

use super::Trace;

/// The process of the CPU tracks.
pub const CPU_PID: u32 = 1;
/// The process of the thread tracks.
pub const THREAD_PID: u32 = 2;

/// A CPU's track id.
pub fn cpu_track(cpu: u8) -> u32 {
    u32::from(cpu) + 1
}

struct Out<'a> {
    t: &'a Trace,
    ev: Vec<Value>,
    flows: u64,
}

impl Out<'_> {
    fn slice(
        &mut self,
        (pid, tid): (u32, u32),
        name: String,
        cat: &str,
        (from, to): (u64, u64),
        args: Value,
    ) {
        let ts = self.t.us(from);
        let dur = self.t.ns(to).saturating_sub(self.t.ns(from)) as f64 / 1000.0;
        self.ev.push(json!({
            "ph": "X", "pid": pid, "tid": tid, "name": name, "cat": cat,
            "ts": ts, "dur": dur, "args": args,
        }));
    }

    fn instant(&mut self, pid: u32, tid: u32, name: String, cat: &str, at: u64, args: Value) {
        self.ev.push(json!({
            "ph": "i", "s": "t", "pid": pid, "tid": tid, "name": name, "cat": cat,
            "ts": self.t.us(at), "args": args,
        }));
    }

    /// A flow arrow from (pid, tid) at `from` to the slice starting at `to` on (pid, tid).
    fn flow(&mut self, name: &str, from: (u32, u32, u64), to: (u32, u32, u64)) {
        self.flows += 1;
        let id = self.flows;
        self.ev.push(json!({
            "ph": "s", "id": id, "pid": from.0, "tid": from.1, "name": name, "cat": "flow",
            "ts": self.t.us(from.2),
        }));
        self.ev.push(json!({
            "ph": "f", "bp": "e", "id": id, "pid": to.0, "tid": to.1, "name": name,
            "cat": "flow", "ts": self.t.us(to.2),
        }));
    }

    fn meta(&mut self, what: &str, pid: u32, tid: Option<u32>, name: &str, sort: u32) {
        let mut m = json!({"ph": "M", "pid": pid, "name": what, "args": {"name": name}});
        let mut s = json!({"ph": "M", "pid": pid, "args": {"sort_index": sort}});
        if let Some(tid) = tid {
            m["tid"] = json!(tid);
            s["tid"] = json!(tid);
            s["name"] = json!("thread_sort_index");
        } else {
            s["name"] = json!("process_sort_index");
        }
        self.ev.push(m);
        self.ev.push(s);
    }
}

/// The name an event's tagged argument stands for.
fn named(t: &Trace, a: u64, what: &str) -> String {
    let (id, n) = untag(a);
    t.names
        .name(id)
        .map_or_else(|| format!("{what}@{n:#x}"), str::to_string)
}

/// The interrupt's label: `irq N`, with the SGI's name for 0-15.
fn irq_label(n: u64) -> String {
    if n < 16 {
        format!("irq {n} (sgi {})", sgi_name(n))
    } else {
        format!("irq {n}")
    }
}

/// The trace-event document for `t`.
pub fn convert(t: &Trace) -> Value {
    let mut o = Out {
        t,
        ev: Vec::new(),
        flows: 0,
    };
    let ncpus = t.dump.cpus.len();
    o.meta("process_name", CPU_PID, None, "CPUs", 0);
    o.meta("process_name", THREAD_PID, None, "threads", 1);
    for cpu in 0..ncpus {
        let c = cpu as u8;
        o.meta(
            "thread_name",
            CPU_PID,
            Some(cpu_track(c)),
            &format!("cpu{cpu}"),
            cpu as u32,
        );
    }
    let mut tids: Vec<u32> = t
        .events
        .iter()
        .flat_map(|e| {
            let other = match e.kind {
                Kind::Switch | Kind::Wakeup => Some(e.a as u32),
                _ => None,
            };
            [Some(e.tid), other]
        })
        .flatten()
        .filter(|&tid| tid != 0 && tid != rtos::trace::UNKNOWN_TID)
        .collect();
    tids.sort_unstable();
    tids.dedup();
    for &tid in &tids {
        o.meta(
            "thread_name",
            THREAD_PID,
            Some(tid),
            &format!("{} ({tid})", t.names.thread(tid)),
            tid,
        );
    }
    let end = t.events.last().map_or(0, |e| e.ticks);
    // Each thread's stretches on a CPU: (from, to, cpu), sorted by time once all are in.
    let mut on_cpu: BTreeMap<u32, Vec<(u64, u64, u8)>> = BTreeMap::new();
    for cpu in 0..ncpus {
        let c = cpu as u8;
        let evs: Vec<&Event> = t.events.iter().filter(|e| e.cpu == c).collect();
        let Some(first) = evs.first() else { continue };
        let mut running = (first.tid, first.ticks);
        let mut irqs: Vec<(u64, u64)> = Vec::new();
        let mut works: HashMap<u64, u64> = HashMap::new();
        // What ran from `from` to `to`: on the CPU's track (idle and a thread not yet known
        // too, so that everything that happens on a CPU lies in a slice there), and on the
        // thread's.
        let mut ran = |o: &mut Out, tid: u32, from: u64, to: u64| {
            if to <= from {
                return;
            }
            o.slice(
                (CPU_PID, cpu_track(c)),
                t.names.thread(tid),
                if tid == 0 { "idle" } else { "sched" },
                (from, to),
                json!({"tid": tid}),
            );
            if tid != 0 && tid != rtos::trace::UNKNOWN_TID {
                on_cpu.entry(tid).or_default().push((from, to, c));
                o.slice(
                    (THREAD_PID, tid),
                    format!("on cpu{cpu}"),
                    "sched",
                    (from, to),
                    json!({"cpu": cpu}),
                );
            }
        };
        for (k, e) in evs.iter().enumerate() {
            match e.kind {
                Kind::Switch => {
                    ran(&mut o, running.0, running.1, e.ticks);
                    running = (e.a as u32, e.ticks);
                }
                Kind::IrqEnter => irqs.push((e.a, e.ticks)),
                Kind::IrqExit => {
                    if let Some((n, from)) = irqs.pop() {
                        o.slice(
                            (CPU_PID, cpu_track(c)),
                            irq_label(n),
                            "irq",
                            (from, e.ticks),
                            json!({"irq": n}),
                        );
                    }
                }
                Kind::IrqWorkStart => {
                    works.insert(e.a, e.ticks);
                }
                Kind::IrqWorkEnd => {
                    if let Some(from) = works.remove(&e.a) {
                        let name = format!("irq_work {}", named(t, e.a, "irq_work"));
                        o.slice(
                            (CPU_PID, cpu_track(c)),
                            name,
                            "irq_work",
                            (from, e.ticks),
                            json!({"slot": untag(e.a).1, "context": "hardirq"}),
                        );
                    }
                }
                Kind::TaskWorkRun => {
                    let name = format!("task_work {}", named(t, e.a, "task_work"));
                    o.slice(
                        (THREAD_PID, e.tid),
                        name,
                        "task_work",
                        (e.ticks, task_work_end(&evs[k + 1..]).unwrap_or(e.ticks)),
                        json!({"end": "not traced: up to the thread's next event outside interrupts"}),
                    );
                }
                Kind::Wakeup => o.instant(
                    CPU_PID,
                    cpu_track(c),
                    format!("wakeup {}", t.names.thread(e.a as u32)),
                    "sched",
                    e.ticks,
                    json!({"tid": e.a, "target_cpu": e.b}),
                ),
                Kind::SgiSend => o.instant(
                    CPU_PID,
                    cpu_track(c),
                    format!("sgi {} send", sgi_name(e.a)),
                    "irq",
                    e.ticks,
                    json!({"sgi": e.a, "cpus": e.b}),
                ),
                Kind::Mark => o.instant(
                    CPU_PID,
                    cpu_track(c),
                    format!("mark {}", t.names.name(e.a as u16).unwrap_or("?")),
                    "mark",
                    e.ticks,
                    json!({"value": e.b}),
                ),
                Kind::IrqWorkQueue
                | Kind::WorkQueue
                | Kind::TaskWorkAdd
                | Kind::TimerArm
                | Kind::TimerFire
                | Kind::KthreadCreate
                | Kind::KthreadPark
                | Kind::KthreadUnpark
                | Kind::KthreadStop
                | Kind::KthreadExit
                | Kind::CpuOnline
                | Kind::CpuOffline => {
                    o.instant(
                        CPU_PID,
                        cpu_track(c),
                        e.kind.name().to_string(),
                        "event",
                        e.ticks,
                        json!({"fields": t.names.fields(e)}),
                    );
                }
                Kind::WorkStart | Kind::WorkEnd => {}
            }
        }
        ran(&mut o, running.0, running.1, end);
    }
    for stretches in on_cpu.values_mut() {
        stretches.sort_unstable();
    }
    // Work callbacks, on their worker thread's track: one slice per stretch the worker was on a
    // CPU meanwhile (a callback that sleeps or is preempted has several), so that they nest in
    // the `on cpuN` slices there.
    let mut open: BTreeMap<(u32, u64), u64> = BTreeMap::new();
    for e in &t.events {
        match e.kind {
            Kind::WorkStart => {
                open.insert((e.tid, e.a), e.ticks);
            }
            Kind::WorkEnd => {
                if let Some(from) = open.remove(&(e.tid, e.a)) {
                    let name = format!("work {}", named(t, e.a, "work"));
                    let queue = named(t, e.b, "queue");
                    let stretches = on_cpu.get(&e.tid).map_or(&[][..], Vec::as_slice);
                    let parts = clip((from, e.ticks), stretches, e.cpu);
                    for (i, &(a, b, cpu)) in parts.iter().enumerate() {
                        o.slice(
                            (THREAD_PID, e.tid),
                            name.clone(),
                            "work",
                            (a, b),
                            json!({"queue": queue, "cpu": cpu, "part": i + 1, "parts": parts.len()}),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    flows(&mut o);
    order(&mut o.ev);
    json!({
        "traceEvents": o.ev,
        "otherData": {"hz": t.dump.hz, "events": t.events.len(), "source": "rtos trace dump"},
    })
}

/// Where a task_work callback that starts before `after` ends, at the latest: the thread's next
/// event on that CPU outside an interrupt (its end is not traced).
fn task_work_end(after: &[&Event]) -> Option<u64> {
    let mut depth = 0usize;
    for e in after {
        match e.kind {
            Kind::IrqEnter => depth += 1,
            Kind::IrqExit => depth = depth.saturating_sub(1),
            _ if depth == 0 => return Some(e.ticks),
            _ => {}
        }
    }
    None
}

/// The parts of the span `(from, to)` that lie in the stretches `(from, to, cpu)` (in time
/// order); the whole span on `cpu` if it lies in none.
pub fn clip((from, to): (u64, u64), stretches: &[(u64, u64, u8)], cpu: u8) -> Vec<(u64, u64, u8)> {
    let parts: Vec<(u64, u64, u8)> = if from == to {
        let hit = stretches.iter().find(|&&(a, b, _)| a <= from && from < b);
        hit.map(|&(_, _, c)| (from, to, c)).into_iter().collect()
    } else {
        stretches
            .iter()
            .map(|&(a, b, c)| (a.max(from), b.min(to), c))
            .filter(|&(a, b, _)| a < b)
            .collect()
    };
    if parts.is_empty() {
        vec![(from, to, cpu)]
    } else {
        parts
    }
}

/// Puts the events in the order importers want for equal times: metadata, then slices (the
/// longer, enclosing one first), instants, flows.
fn order(ev: &mut [Value]) {
    let rank = |e: &Value| match e["ph"].as_str() {
        Some("M") => 0,
        Some("X") => 1,
        Some("i") => 2,
        _ => 3,
    };
    let f = |e: &Value, k: &str| e[k].as_f64().unwrap_or(0.0);
    ev.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then(f(a, "ts").total_cmp(&f(b, "ts")))
            .then(f(b, "dur").total_cmp(&f(a, "dur")))
    });
}

/// Arrows from each queueing to its run, and from each SGI to the interrupts it raised.
fn flows(o: &mut Out) {
    let t = o.t;
    let evs = &t.events;
    for (i, e) in evs.iter().enumerate() {
        let from = (CPU_PID, cpu_track(e.cpu), e.ticks);
        let later = || evs[i + 1..].iter();
        match e.kind {
            Kind::IrqWorkQueue => {
                if let Some(r) = later().find(|r| r.kind == Kind::IrqWorkStart && r.a == e.a) {
                    o.flow(
                        "irq_work queue -> run",
                        from,
                        (CPU_PID, cpu_track(r.cpu), r.ticks),
                    );
                }
            }
            Kind::WorkQueue => {
                if let Some(r) = later().find(|r| r.kind == Kind::WorkStart && r.a == e.a) {
                    o.flow("work queue -> run", from, (THREAD_PID, r.tid, r.ticks));
                }
            }
            Kind::TaskWorkAdd => {
                if let Some(r) = later().find(|r| r.kind == Kind::TaskWorkRun && r.a == e.a) {
                    o.flow("task_work add -> run", from, (THREAD_PID, r.tid, r.ticks));
                }
            }
            Kind::SgiSend => {
                for cpu in 0..32u8 {
                    if e.b & (1 << cpu) == 0 {
                        continue;
                    }
                    let hit =
                        later().find(|r| r.kind == Kind::IrqEnter && r.cpu == cpu && r.a == e.a);
                    if let Some(r) = hit {
                        let name = format!("sgi {} -> irq", sgi_name(e.a));
                        o.flow(&name, from, (CPU_PID, cpu_track(cpu), r.ticks));
                    }
                }
            }
            _ => {}
        }
    }
}

/// A track: (pid, tid) as an event gives them.
type Track = (Option<u64>, Option<u64>);

/// What [`check`] found in a well-formed document.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// Tracks named by metadata (processes and threads).
    pub tracks: usize,
    /// Slices (`X`).
    pub slices: usize,
    /// Flow arrows (`s`/`f` pairs).
    pub flows: usize,
}

/// Checks `doc` the way trace viewers read it: every event's track is named (`M`
/// `thread_name`), the slices of each track nest (none overlaps another without lying inside
/// it; an equal start puts the longer one outside), and every flow has one start and one end
/// (`bp: "e"`) with the same id, name and category, not earlier than its start, each inside a
/// slice on its own track.
pub fn check(doc: &Value) -> Result<Checked, String> {
    let evs = doc["traceEvents"]
        .as_array()
        .ok_or("no traceEvents array")?;
    let track = |e: &Value| (e["pid"].as_u64(), e["tid"].as_u64());
    // Microseconds as a reader takes them: to whole nanoseconds, rounded.
    let num = |e: &Value, k: &str| {
        e[k].as_f64()
            .map(|us| (us * 1000.0).round() as i64)
            .ok_or_else(|| format!("`{k}` is not a number in {e}"))
    };
    let mut named = std::collections::BTreeSet::new();
    let mut out = Checked::default();
    for e in evs {
        if e["ph"] == "M" && e["name"].as_str().is_some_and(|n| n.ends_with("_name")) {
            if e["args"]["name"].as_str().is_none_or(str::is_empty) {
                return Err(format!("metadata without a name: {e}"));
            }
            named.insert(track(e));
            out.tracks += 1;
        }
    }
    // Per track, each slice's (start, end) in nanoseconds.
    let mut slices: BTreeMap<Track, Vec<(i64, i64)>> = BTreeMap::new();
    let mut flows: BTreeMap<u64, (Vec<&Value>, Vec<&Value>)> = BTreeMap::new();
    for e in evs {
        let ph = e["ph"].as_str().ok_or_else(|| format!("no phase: {e}"))?;
        if ph == "M" {
            continue;
        }
        if !named.contains(&track(e)) {
            return Err(format!("event on a track no metadata names: {e}"));
        }
        match ph {
            "X" => {
                let (ts, dur) = (num(e, "ts")?, num(e, "dur")?);
                if dur < 0 {
                    return Err(format!("negative duration: {e}"));
                }
                slices.entry(track(e)).or_default().push((ts, ts + dur));
                out.slices += 1;
            }
            "s" | "f" => {
                let id = e["id"]
                    .as_u64()
                    .ok_or_else(|| format!("flow without id: {e}"))?;
                let pair = flows.entry(id).or_default();
                if ph == "s" { &mut pair.0 } else { &mut pair.1 }.push(e);
            }
            "i" => {}
            _ => return Err(format!("unexpected phase {ph}: {e}")),
        }
    }
    for (t, list) in &mut slices {
        list.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut open: Vec<(i64, i64)> = Vec::new();
        for &(from, to) in list.iter() {
            while open.last().is_some_and(|&(_, end)| end <= from) {
                open.pop();
            }
            if let Some(&(pf, pt)) = open.last()
                && to > pt
            {
                return Err(format!(
                    "track {t:?}: slice {from}..{to} overlaps {pf}..{pt} without nesting"
                ));
            }
            open.push((from, to));
        }
    }
    let inside = |e: &Value| {
        num(e, "ts").is_ok_and(|ts| {
            slices
                .get(&track(e))
                .is_some_and(|l| l.iter().any(|&(a, b)| a <= ts && ts <= b))
        })
    };
    for (id, (s, f)) in &flows {
        let ([s], [f]) = (s.as_slice(), f.as_slice()) else {
            return Err(format!(
                "flow {id}: {} starts and {} ends",
                s.len(),
                f.len()
            ));
        };
        if s["name"] != f["name"] || s["cat"] != f["cat"] {
            return Err(format!(
                "flow {id}: its ends differ in name or category: {s} {f}"
            ));
        }
        if f["bp"] != "e" {
            return Err(format!(
                "flow {id}: its end does not bind to its slice (bp e): {f}"
            ));
        }
        if num(f, "ts")? < num(s, "ts")? {
            return Err(format!("flow {id} ends before it starts: {s} {f}"));
        }
        for end in [s, f] {
            if !inside(end) {
                return Err(format!(
                    "flow {id}: this end lies in no slice of its track: {end}"
                ));
            }
        }
        out.flows += 1;
    }
    Ok(out)
}
