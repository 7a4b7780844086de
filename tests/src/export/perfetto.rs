//! A trace as Chrome trace-event JSON, which ui.perfetto.dev and chrome://tracing open.
//!
//! Layout: process 1 "CPUs" has one track per CPU (thread id = CPU + 1) with a slice per stretch
//! a thread ran there, the interrupts (`irq N`) and the irq_work callbacks (hard-IRQ context)
//! nested in them; process 2 "threads" has one track per kernel thread (thread id = tid) with
//! its stretches on a CPU (`on cpuN`), its work callbacks and its task_work runs. Flow arrows
//! go from each queueing (irq_work, work, task_work) to the run it caused, and from each SGI
//! sent to the interrupt it raised on each target CPU. Times are microseconds.

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
        let dur = self.t.us(to.saturating_sub(from));
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
    // Per CPU: who runs since when, the open interrupts and irq_works.
    for cpu in 0..ncpus {
        let c = cpu as u8;
        let evs: Vec<&Event> = t.events.iter().filter(|e| e.cpu == c).collect();
        let Some(first) = evs.first() else { continue };
        let mut running = (first.tid, first.ticks);
        let mut irqs: Vec<(u64, u64)> = Vec::new();
        let mut works: HashMap<u64, u64> = HashMap::new();
        let run_slice = |o: &mut Out, tid: u32, from: u64, to: u64| {
            if tid == 0 || tid == rtos::trace::UNKNOWN_TID || to <= from {
                return;
            }
            let name = t.names.thread(tid);
            o.slice(
                (CPU_PID, cpu_track(c)),
                name.clone(),
                "sched",
                (from, to),
                json!({"tid": tid}),
            );
            o.slice(
                (THREAD_PID, tid),
                format!("on cpu{cpu}"),
                "sched",
                (from, to),
                json!({"cpu": cpu}),
            );
        };
        for (k, e) in evs.iter().enumerate() {
            match e.kind {
                Kind::Switch => {
                    run_slice(&mut o, running.0, running.1, e.ticks);
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
                    // Its end is not traced: up to the thread's next event on this CPU.
                    let to = evs.get(k + 1).map_or(e.ticks, |n| n.ticks);
                    let name = format!("task_work {}", named(t, e.a, "task_work"));
                    o.slice(
                        (THREAD_PID, e.tid),
                        name,
                        "task_work",
                        (e.ticks, to),
                        json!({"end": "not traced: at most up to the next event on this CPU"}),
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
        run_slice(&mut o, running.0, running.1, end);
    }
    // Work callbacks, on their worker thread's track.
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
                    o.slice(
                        (THREAD_PID, e.tid),
                        name,
                        "work",
                        (from, e.ticks),
                        json!({"queue": queue, "cpu": e.cpu}),
                    );
                }
            }
            _ => {}
        }
    }
    flows(&mut o);
    json!({
        "traceEvents": o.ev,
        "displayTimeUnit": "ns",
        "otherData": {"hz": t.dump.hz, "events": t.events.len(), "source": "rtos trace dump"},
    })
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
