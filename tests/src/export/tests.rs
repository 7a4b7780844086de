//! The exporters on a fixed, hand-made trace: the JSON's tracks, slices and flows, and
//! babeltrace2's reading of the CTF, line by line.

use std::process::Command;

use rtos::trace::dump::Dump;
use rtos::trace::{CpuTrace, Event, Kind, tag};
use serde_json::Value;

use super::perfetto::{CPU_PID, THREAD_PID};
use super::{Trace, ctf, perfetto};

fn ev(ticks: u64, kind: Kind, cpu: u8, tid: u32, a: u64, b: u64) -> Event {
    Event {
        ticks,
        kind,
        cpu,
        tid,
        a,
        b,
    }
}

/// shell (1) on CPU 0 queues an irq_work on CPU 1 (`iw`, slot 3: an SGI), a work on `q`'s CPU 1
/// worker `q/1` (5), and a task_work (`tw`) on `target` (6), which runs it on CPU 2. Times in
/// nanoseconds (hz 1e9).
fn known() -> Trace {
    let iw = tag(1, 3);
    let ww = tag(2, 0x1000);
    let q1 = tag(3, 1);
    let tw = tag(4, 0x2000);
    let cpu0 = vec![
        ev(1000, Kind::Mark, 0, 1, 7, 42),
        ev(2000, Kind::IrqWorkQueue, 0, 1, iw, 1),
        ev(2100, Kind::SgiSend, 0, 1, 2, 0b10),
        ev(3000, Kind::WorkQueue, 0, 1, ww, q1),
        ev(4000, Kind::TaskWorkAdd, 0, 1, tw, 6 | (2 << 32)),
    ];
    let cpu1 = vec![
        ev(2500, Kind::IrqEnter, 1, 0, 2, 0),
        ev(2600, Kind::IrqWorkStart, 1, 0, iw, 0),
        ev(2800, Kind::IrqWorkEnd, 1, 0, iw, 0),
        ev(2900, Kind::IrqExit, 1, 0, 2, 0),
        ev(3100, Kind::Switch, 1, 0, 5, 2),
        ev(3200, Kind::WorkStart, 1, 5, ww, q1),
        ev(3500, Kind::WorkEnd, 1, 5, ww, q1),
        ev(3600, Kind::Switch, 1, 5, 0, 3),
    ];
    let cpu2 = vec![
        ev(4100, Kind::Switch, 2, 0, 6, 2),
        ev(4200, Kind::TaskWorkRun, 2, 6, tw, 0),
        ev(4400, Kind::Switch, 2, 6, 0, 3),
    ];
    let names = [(1, "iw"), (2, "ww"), (3, "q"), (4, "tw"), (7, "begin")];
    let threads = [(1, "shell"), (5, "q/1"), (6, "target")];
    trace(&names, &threads, [cpu0, cpu1, cpu2], 0)
}

/// A trace at 1 GHz of these names, threads and CPUs' events, each CPU having lost `lost`.
fn trace(
    names: &[(u16, &str)],
    threads: &[(u32, &str)],
    cpus: [Vec<Event>; 3],
    lost: u64,
) -> Trace {
    Trace::new(Dump {
        hz: 1_000_000_000,
        size: 64,
        names: names.iter().map(|(i, n)| (*i, n.to_string())).collect(),
        threads: threads.iter().map(|(t, n)| (*t, n.to_string())).collect(),
        cpus: cpus
            .into_iter()
            .map(|events| CpuTrace { events, lost })
            .collect(),
    })
}

/// Where a flow end is: (pid, tid, ts).
type At = (u64, u64, f64);

fn events(doc: &Value) -> &Vec<Value> {
    doc["traceEvents"].as_array().unwrap()
}

/// The slices (X) named `name` on (pid, tid), as (ts, dur).
fn slices(doc: &Value, pid: u32, tid: u32, name: &str) -> Vec<(f64, f64)> {
    events(doc)
        .iter()
        .filter(|e| e["ph"] == "X" && e["pid"] == pid && e["tid"] == tid && e["name"] == name)
        .map(|e| (e["ts"].as_f64().unwrap(), e["dur"].as_f64().unwrap()))
        .collect()
}

#[test]
fn the_json_has_a_track_per_cpu_and_thread_slices_and_flows() {
    let doc = perfetto::convert(&known());
    // Tracks: the two processes, a track per CPU, one per thread seen.
    let meta: Vec<(u64, Option<u64>, String)> = events(&doc)
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"].as_str().unwrap().ends_with("_name"))
        .map(|e| {
            let name = e["args"]["name"].as_str().unwrap().to_string();
            (e["pid"].as_u64().unwrap(), e["tid"].as_u64(), name)
        })
        .collect();
    let want = [
        (1, None, "CPUs"),
        (2, None, "threads"),
        (1, Some(1), "cpu0"),
        (1, Some(2), "cpu1"),
        (1, Some(3), "cpu2"),
        (2, Some(1), "shell (1)"),
        (2, Some(5), "q/1 (5)"),
        (2, Some(6), "target (6)"),
    ];
    let want: Vec<(u64, Option<u64>, String)> = want
        .iter()
        .map(|(p, t, n)| (*p, *t, n.to_string()))
        .collect();
    assert_eq!(meta, want);
    // Slices: the interrupt and the irq_work in it on CPU 1; the worker's run and its work;
    // the task_work in its target thread.
    let one = |pid, tid, name: &str, ts: f64, dur: f64| {
        let got = slices(&doc, pid, tid, name);
        assert!(
            got.len() == 1 && (got[0].0 - ts).abs() < 1e-9 && (got[0].1 - dur).abs() < 1e-9,
            "{name} on {pid}/{tid}: {got:?}, expected ({ts}, {dur})"
        );
    };
    one(CPU_PID, 2, "irq 2 (sgi irq_work)", 2.5, 0.4);
    one(CPU_PID, 2, "irq_work iw", 2.6, 0.2);
    one(CPU_PID, 2, "q/1", 3.1, 0.5);
    one(THREAD_PID, 5, "on cpu1", 3.1, 0.5);
    one(THREAD_PID, 5, "work ww", 3.2, 0.3);
    one(THREAD_PID, 6, "on cpu2", 4.1, 0.3);
    // (A task_work's end is not traced: up to the next event on its CPU.)
    one(THREAD_PID, 6, "task_work tw", 4.2, 0.2);
    // Flows: each start (s) has its end (f, bound to the slice it enters) with the same id.
    let flows: Vec<(String, At, At)> = events(&doc)
        .iter()
        .filter(|e| e["ph"] == "s")
        .map(|s| {
            let f = events(&doc)
                .iter()
                .find(|f| f["ph"] == "f" && f["id"] == s["id"])
                .unwrap_or_else(|| panic!("no end for {s}"));
            assert_eq!(f["bp"], "e");
            let at = |e: &Value| {
                (
                    e["pid"].as_u64().unwrap(),
                    e["tid"].as_u64().unwrap(),
                    e["ts"].as_f64().unwrap(),
                )
            };
            (s["name"].as_str().unwrap().to_string(), at(s), at(f))
        })
        .collect();
    let want = [
        ("irq_work queue -> run", (1, 1, 2.0), (1, 2, 2.6)),
        ("sgi irq_work -> irq", (1, 1, 2.1), (1, 2, 2.5)),
        ("work queue -> run", (1, 1, 3.0), (2, 5, 3.2)),
        ("task_work add -> run", (1, 1, 4.0), (2, 6, 4.2)),
    ];
    assert_eq!(flows.len(), want.len(), "{flows:?}");
    let checked = perfetto::check(&doc).unwrap_or_else(|e| panic!("{e}\n{doc:#}"));
    assert_eq!((checked.tracks, checked.flows), (8, 4));
    for (name, from, to) in want {
        let got = flows
            .iter()
            .find(|f| f.0 == name)
            .unwrap_or_else(|| panic!("no flow {name}: {flows:?}"));
        assert_eq!((got.1.0, got.1.1), (from.0, from.1), "{name}");
        assert_eq!((got.2.0, got.2.1), (to.0, to.1), "{name}");
        assert!(
            (got.1.2 - from.2).abs() < 1e-9 && (got.2.2 - to.2).abs() < 1e-9,
            "{got:?}"
        );
    }
}

/// A work that sleeps: queued by shell (1) on CPU 0, started by its worker `q/1` (5) on
/// CPU 1, asleep in its callback while an interrupt comes, woken, ended. Shell runs a task_work
/// through an interrupt. CPU 2's ring lost the start of everything: it begins in an interrupt
/// and a work of thread 7, then 7 sleeps.
fn sleeping() -> Trace {
    let ws = tag(1, 0x1000);
    let q1 = tag(2, 1);
    let tw = tag(3, 0x2000);
    let lost = tag(4, 0x3000);
    let cpu0 = vec![
        ev(500, Kind::Mark, 0, 1, 5, 0),
        ev(900, Kind::WorkQueue, 0, 1, ws, q1),
        ev(3000, Kind::TaskWorkRun, 0, 1, tw, 0),
        ev(3100, Kind::IrqEnter, 0, 1, 30, 0),
        ev(3200, Kind::IrqExit, 0, 1, 30, 0),
        ev(3400, Kind::Switch, 0, 1, 0, 3),
    ];
    let cpu1 = vec![
        ev(1000, Kind::Switch, 1, 0, 5, 2),
        ev(1100, Kind::WorkStart, 1, 5, ws, q1),
        ev(1300, Kind::Switch, 1, 5, 0, 3),
        ev(2000, Kind::IrqEnter, 1, 0, 30, 0),
        ev(2100, Kind::IrqExit, 1, 0, 30, 0),
        ev(2200, Kind::Switch, 1, 0, 5, 2),
        ev(2400, Kind::WorkEnd, 1, 5, ws, q1),
        ev(2500, Kind::Switch, 1, 5, 0, 3),
    ];
    let cpu2 = vec![
        ev(50, Kind::IrqExit, 2, 7, 30, 0),
        ev(60, Kind::WorkEnd, 2, 7, lost, q1),
        ev(70, Kind::Switch, 2, 7, 0, 3),
    ];
    let names = [(1, "ws"), (2, "q"), (3, "tw"), (4, "lost"), (5, "go")];
    trace(&names, &[(1, "shell"), (5, "q/1")], [cpu0, cpu1, cpu2], 1)
}

#[test]
fn slices_nest_on_every_track_when_a_work_sleeps_and_the_trace_starts_midway() {
    let doc = perfetto::convert(&sleeping());
    perfetto::check(&doc).unwrap_or_else(|e| panic!("{e}\n{doc:#}"));
    // The work: one slice per stretch its worker was on CPU 1, each inside it.
    assert_eq!(
        slices(&doc, THREAD_PID, 5, "on cpu1"),
        [(1.0, 0.3), (2.2, 0.3)]
    );
    assert_eq!(
        slices(&doc, THREAD_PID, 5, "work ws"),
        [(1.1, 0.2), (2.2, 0.2)]
    );
    let parts: Vec<&Value> = events(&doc)
        .iter()
        .filter(|e| e["name"] == "work ws")
        .map(|e| &e["args"])
        .collect();
    assert_eq!(
        (
            parts[0]["part"].as_u64(),
            parts[1]["part"].as_u64(),
            parts[1]["parts"].as_u64()
        ),
        (Some(1), Some(2), Some(2))
    );
    // Its arrow goes into the first part.
    let f = events(&doc)
        .iter()
        .find(|e| e["ph"] == "f" && e["name"] == "work queue -> run")
        .expect("the work's arrow");
    assert_eq!(
        (f["pid"].as_u64(), f["tid"].as_u64(), f["ts"].as_f64()),
        (Some(2), Some(5), Some(1.1))
    );
    // CPU 1 is idle between the stretches (the interrupt in it); shell's task_work runs on
    // through the interrupt, up to the switch.
    assert_eq!(slices(&doc, CPU_PID, 2, "idle"), [(1.3, 0.9), (2.5, 0.9)]);
    assert_eq!(slices(&doc, CPU_PID, 2, "irq 30"), [(2.0, 0.1)]);
    assert_eq!(slices(&doc, THREAD_PID, 1, "task_work tw"), [(3.0, 0.4)]);
    // CPU 2: thread 7 ran from the first event kept; the interrupt and the work that began
    // before it are not made up.
    assert_eq!(slices(&doc, CPU_PID, 3, "tid7"), [(0.05, 0.02)]);
    assert!(
        events(&doc)
            .iter()
            .all(|e| e["name"] != "irq 30" || e["tid"] != 3)
    );
    assert!(events(&doc).iter().all(|e| e["name"] != "work lost"));
}

/// A minimal document: one named track with `slices` (ts, dur) and flows (s ts, f ts).
fn doc(slices: &[(f64, f64)], flows: &[(f64, f64)]) -> Value {
    let mut ev = vec![
        serde_json::json!({"ph": "M", "pid": 1, "tid": 1, "name": "thread_name", "args": {"name": "t"}}),
    ];
    for &(ts, dur) in slices {
        ev.push(
            serde_json::json!({"ph": "X", "pid": 1, "tid": 1, "name": "x", "ts": ts, "dur": dur}),
        );
    }
    for (id, &(s, f)) in flows.iter().enumerate() {
        ev.push(serde_json::json!({"ph": "s", "id": id, "pid": 1, "tid": 1, "name": "a", "cat": "c", "ts": s}));
        ev.push(serde_json::json!({"ph": "f", "bp": "e", "id": id, "pid": 1, "tid": 1, "name": "a", "cat": "c", "ts": f}));
    }
    serde_json::json!({ "traceEvents": ev })
}

#[test]
fn check_finds_what_viewers_would_drop() {
    // Nested, touching, and equal starts are fine.
    let ok = perfetto::check(&doc(
        &[(1.0, 4.0), (1.0, 1.0), (2.0, 1.0), (5.0, 1.0)],
        &[(1.5, 5.0)],
    ));
    assert_eq!(
        ok,
        Ok(perfetto::Checked {
            tracks: 1,
            slices: 4,
            flows: 1
        })
    );
    let err = |d: Value| perfetto::check(&d).unwrap_err();
    assert!(err(doc(&[(1.0, 2.0), (2.0, 2.0)], &[])).contains("without nesting"));
    // Not even by a nanosecond (ts and dur are taken to whole nanoseconds each).
    assert!(err(doc(&[(1.0, 1.0), (1.9994, 0.002)], &[])).contains("without nesting"));
    assert!(err(doc(&[(1.0, 1.0)], &[(1.5, 2.5)])).contains("in no slice"));
    assert!(err(doc(&[(1.0, 1.0)], &[(1.5, 1.2)])).contains("ends before it starts"));
    let mut unnamed = doc(&[(1.0, 1.0)], &[]);
    unnamed["traceEvents"][1]["tid"] = 2.into();
    assert!(err(unnamed).contains("no metadata names"));
    let mut unbound = doc(&[(1.0, 1.0)], &[(1.2, 1.5)]);
    unbound["traceEvents"][3]["bp"] = "s".into();
    assert!(err(unbound).contains("bp e"));
}

/// What babeltrace2 prints for the known trace, one line per event, in time order (its
/// timestamp is the counter in ns since 0).
const BABELTRACE: &[&str] = &[
    "[00:00:00.000001000] mark: { cpu_id = 0 }, { tid = 1, text = \"begin\", value = 42 }",
    "[00:00:00.000002000] irq_work_queue: { cpu_id = 0 }, { tid = 1, work = \"iw\", slot = 3, target_cpu = 1 }",
    "[00:00:00.000002100] sgi_send: { cpu_id = 0 }, { tid = 1, sgi = \"irq_work\", cpus = 2 }",
    "[00:00:00.000002500] irq_enter: { cpu_id = 1 }, { tid = 0, irq = 2 }",
    "[00:00:00.000002600] irq_work_start: { cpu_id = 1 }, { tid = 0, work = \"iw\", slot = 3 }",
    "[00:00:00.000002800] irq_work_end: { cpu_id = 1 }, { tid = 0, work = \"iw\", slot = 3 }",
    "[00:00:00.000002900] irq_exit: { cpu_id = 1 }, { tid = 0, irq = 2 }",
    "[00:00:00.000003000] work_queue: { cpu_id = 0 }, { tid = 1, work = \"ww\", queue = \"q\", queue_cpu = \"1\" }",
    "[00:00:00.000003100] sched_switch: { cpu_id = 1 }, { prev_tid = 0, next_tid = 5, prev_state = \"running\" }",
    "[00:00:00.000003200] work_start: { cpu_id = 1 }, { tid = 5, work = \"ww\", queue = \"q\", queue_cpu = \"1\" }",
    "[00:00:00.000003500] work_end: { cpu_id = 1 }, { tid = 5, work = \"ww\", queue = \"q\", queue_cpu = \"1\" }",
    "[00:00:00.000003600] sched_switch: { cpu_id = 1 }, { prev_tid = 5, next_tid = 0, prev_state = \"sleeping\" }",
    "[00:00:00.000004000] task_work_add: { cpu_id = 0 }, { tid = 1, work = \"tw\", target_tid = 6, notify = \"signal\" }",
    "[00:00:00.000004100] sched_switch: { cpu_id = 2 }, { prev_tid = 0, next_tid = 6, prev_state = \"running\" }",
    "[00:00:00.000004200] task_work_run: { cpu_id = 2 }, { tid = 6, work = \"tw\" }",
    "[00:00:00.000004400] sched_switch: { cpu_id = 2 }, { prev_tid = 6, next_tid = 0, prev_state = \"sleeping\" }",
];

/// babeltrace2's reading of `t` written as CTF: its event lines without the delta
/// `(+x.xxxxxxxxx) ` and the host name (babeltrace2's own), and its warnings; `None` (the test
/// skips) if babeltrace2 is not installed, unless under CI (`just setup` installs it there).
fn babeltrace2(t: &Trace, what: &str) -> Option<(Vec<String>, String)> {
    let dir = std::env::temp_dir().join(format!("rtos-ctf-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    ctf::write(t, &dir).unwrap();
    let out = match Command::new("babeltrace2").arg(&dir).output() {
        Ok(o) => o,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "SKIPPED: babeltrace2 is not installed ({e}); `just setup` installs it \
                 (Debian: apt-get install babeltrace2)"
            );
            return None;
        }
        Err(e) => panic!("babeltrace2 is needed under CI (`just setup` installs it): {e}"),
    };
    let _ = std::fs::remove_dir_all(&dir);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (ts, rest) = l.split_once(' ').unwrap();
            let rest = rest.split_once(") ").map_or(rest, |(_, r)| r);
            let rest = rest.strip_prefix("rtos ").unwrap_or(rest);
            format!("{ts} {rest}")
        })
        .collect();
    Some((lines, err))
}

#[test]
fn babeltrace2_reads_the_ctf_event_by_event() {
    let Some((lines, err)) = babeltrace2(&known(), "known") else {
        return;
    };
    assert_eq!(lines, BABELTRACE);
    assert!(!err.contains("discarded"), "{err}");
}

#[test]
fn babeltrace2_places_lost_events_before_the_first_kept() {
    let mut t = known();
    t.dump.cpus[1].lost = 3;
    let Some((lines, err)) = babeltrace2(&t, "lost") else {
        return;
    };
    assert_eq!(lines, BABELTRACE, "the same events");
    // CPU 1's ring overwrote its oldest events: before its first kept one (2500 ns).
    let warning = err.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        warning.contains(
            "discarded events between [00:00:00.000000000] and [00:00:00.000002500] in trace \
             \"rtos\" (no UUID) within stream"
        ) && warning.contains("stream_1\""),
        "{err}"
    );
    assert_eq!(err.matches("discarded").count(), 1, "{err}");
}

#[test]
fn metadata_declares_every_event_kind_once() {
    let m = ctf::metadata(62_500_000);
    assert!(m.starts_with("/* CTF 1.8 */\n"));
    assert!(m.contains("freq = 62500000;"));
    for k in Kind::ALL {
        let decl = format!("name = \"{}\";\n  id = {};", k.name(), k as u16);
        assert_eq!(m.matches(&decl).count(), 1, "{decl}");
    }
}
