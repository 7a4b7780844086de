//! `top`: its argument errors, frames and JSON on a fake 4-CPU kernel with a known load, and how
//! a live view ends (q, Ctrl-C, end of input) in both input modes.

use std::string::String;
use std::vec::Vec;

use serde_json::Value;

use super::fakes::{FakeIo, FakeSystem, MS, run};
use super::kthread::{in_kernel, sh};

#[test]
fn bad_arguments_are_usage_errors() {
    let s = sh(&[
        "top -n 0",
        "top -n x",
        "top -n -1",
        "top --json",
        "top -d 1ms",
        "top -d 3601s",
        "top -d soon",
        "top extra",
    ]);
    s[0].fails(2, "error: top: -n needs at least 1 frame");
    s[1].fails(
        2,
        "error: top: invalid number 'x' (expected 0..=4294967295)",
    );
    assert_eq!(s[2].status, 2, "{:?}", s[2]);
    s[3].fails(
        2,
        "error: top: --json needs -n N (one JSON object per frame)",
    );
    s[4].fails(2, "error: top: -d must be between 10ms and 1h");
    s[5].fails(2, "error: top: -d must be between 10ms and 1h");
    s[6].fails(2, "error: top: invalid duration 'soon'");
    s[7].fails(2, "error: top: unexpected argument 'extra'");
}

/// The frames' first lines in `out`.
fn headers(out: &[String]) -> Vec<&String> {
    out.iter().filter(|l| l.starts_with("top - up ")).collect()
}

#[test]
fn frames_and_json_show_a_spinning_thread() {
    let s = in_kernel(|| {
        crate::work::registry::reset();
        sh(&[
            "spawn spin hot --cpu 2",
            "kworker create tkw",
            "kworker queue tkw a --fn busy:200",
            "kworker queue tkw b --fn busy:20",
            "top -n 2 -d 150ms",
            "top -n 1 --json -d 300ms",
            "stop hot",
        ])
    });
    for step in &s {
        step.ok();
    }
    // Two frames, each with its tables.
    let frames = &s[4].out;
    assert_eq!(headers(frames).len(), 2, "{frames:?}");
    assert_eq!(
        frames
            .iter()
            .filter(|l| l.starts_with("CPU  BUSY%"))
            .count(),
        2
    );
    assert!(frames[0].contains(", cpus 4, "), "{frames:?}");
    // The spinning thread tops the second frame's thread table.
    let second = frames.iter().rposition(|l| l.starts_with("  TID")).unwrap();
    let hot: Vec<&str> = frames[second + 1].split_whitespace().collect();
    assert_eq!(&hot[1..4], ["hot", "running", "2"], "{frames:?}");
    let pct: f64 = hot[5].parse().unwrap();
    assert!(pct >= 80.0, "{frames:?}");

    let json = s[5].line();
    let v: Value = serde_json::from_str(json).expect(json);
    let ms = v["interval_ms"].as_u64().unwrap();
    assert!((300..1000).contains(&ms), "{json}");
    assert!(v["uptime_ms"].as_u64().unwrap() >= ms);
    let cpus = v["cpus"].as_array().unwrap();
    assert_eq!(cpus.len(), 4, "{json}");
    let busy = |c: usize| cpus[c]["busy_pct"].as_f64().unwrap();
    assert!(busy(2) >= 80.0, "the spinning thread's CPU: {json}");
    assert!((0..4).any(|c| busy(c) < 50.0), "some CPU idles: {json}");
    assert!(
        cpus.iter()
            .all(|c| c["online"] == true && c["irqs_per_s"].is_u64())
    );
    let threads = v["threads"].as_array().unwrap();
    let hot = threads.iter().find(|t| t["name"] == "hot").expect(json);
    assert!(hot["cpu_pct"].as_f64().unwrap() >= 80.0, "{json}");
    assert_eq!(
        (hot["cpu"].as_u64(), hot["state"].as_str()),
        (Some(2), Some("running"))
    );
    assert!(hot["prio"].is_u64() && hot["tid"].is_u64());
    // The busiest thread first.
    assert_eq!(threads[0]["name"], "hot", "{json}");
    let kw = v["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "tkw")
        .expect(json);
    assert_eq!(kw["kind"], "kworker");
    assert!(kw["cpu"].is_null());
    assert_eq!(
        (kw["pending"].as_u64(), kw["running"].as_u64()),
        (Some(0), Some(0))
    );
    // `b` ran during the first `top`, after waiting for `a`.
    assert!(kw["runs_per_s"].is_u64() && kw["max_latency_us"].is_u64());
}

#[test]
fn worst_latency_of_the_interval() {
    let s = in_kernel(|| {
        crate::work::registry::reset();
        sh(&[
            "kworker create lat",
            "kworker queue lat a --fn busy:150",
            "kworker queue lat b --fn count",
            "top -n 2 -d 400ms --json",
        ])
    });
    let frames: Vec<Value> = s[3]
        .ok()
        .out
        .iter()
        .map(|l| serde_json::from_str(l).expect(l))
        .collect();
    assert_eq!(frames.len(), 2, "one object per frame: {s:?}");
    let lat = |f: &Value| {
        let q = f["queues"].as_array().unwrap();
        let q = q.iter().find(|q| q["name"] == "lat").expect("listed");
        (
            q["max_latency_us"].as_u64().unwrap(),
            q["runs_per_s"].as_u64().unwrap(),
        )
    };
    // `b` waited for `a` (150 ms) and started in the first interval; nothing in the second.
    let (first, runs) = lat(&frames[0]);
    assert!(first >= 100_000, "{frames:?}");
    assert!(runs >= 1, "{frames:?}");
    assert_eq!(lat(&frames[1]), (0, 0), "reset by the read: {frames:?}");
}

/// Runs a plain (non-terminal) or terminal session in a fresh fake kernel: `line` at once,
/// `later` at its virtual times (ns). Returns everything written.
fn live(terminal: bool, line: &'static [u8], later: &'static [(u64, &'static [u8])]) -> String {
    in_kernel(move || {
        let mut sys = FakeSystem::new();
        sys.real_sleep = true;
        let mut io = FakeIo::new(&sys.clock);
        if terminal {
            io.reply = Some(b"\x1b[40;100R".to_vec());
            io.schedule(MS, line);
        } else {
            io.feed(line);
        }
        for (at, bytes) in later {
            io.schedule(*at, bytes);
        }
        run(io, sys).io.text()
    })
}

#[test]
fn live_view_ends_on_q_and_ignores_other_keys() {
    let out = live(
        false,
        b"top -d 50ms\n",
        &[
            (120 * MS, b"x"),
            (260 * MS, b"q"),
            (300 * MS, b"echo after $?\n"),
        ],
    );
    let lines: Vec<String> = out.split("\r\n").map(String::from).collect();
    let n = headers(&lines).len();
    assert!(
        (3..=6).contains(&n),
        "about 260 ms of 50 ms frames: {n}\n{out}"
    );
    assert!(
        !out.contains("\x1b[2J"),
        "not a terminal: frames follow each other"
    );
    // The next line runs normally: `x` and `q` were top's.
    assert!(out.contains("rtos> echo after $?\r\nafter 0\r\n"), "{out}");
}

#[test]
fn live_view_ends_on_ctrl_c_and_at_end_of_input() {
    let out = live(false, b"top -d 30ms\n", &[(100 * MS, b"\x03")]);
    let lines: Vec<String> = out.split("\r\n").map(String::from).collect();
    assert!((2..=4).contains(&headers(&lines).len()), "{out}");
    // Typed ahead with the command line (in the reader's read-ahead): `q` is top's, the line
    // after it the shell's.
    let out = live(false, b"top -d 50ms\nqecho next\n", &[]);
    assert!(!out.contains("top - up"), "{out}");
    assert!(out.contains("rtos> echo next\r\nnext\r\n"), "{out:?}");
    // Nothing more will come: top leaves at once, the shell ends.
    let out = live(false, b"top\n", &[]);
    assert!(!out.contains("top - up"), "{out}");
    assert!(out.ends_with("rtos> \r\n"), "{out:?}");
}

#[test]
fn terminal_frames_replace_each_other() {
    let out = live(
        true,
        b"top -d 50ms\r",
        &[(200 * MS, b"q"), (220 * MS, b"echo done\r")],
    );
    let clears = out.matches("\x1b[H\x1b[2J").count();
    assert!((2..=5).contains(&clears), "{clears}\n{out}");
    // Every frame fits the 40-row screen.
    let last = out.rsplit("\x1b[H\x1b[2J").next().unwrap();
    let frame = &last[..last.find("rtos> ").unwrap_or(last.len())];
    assert!(frame.split("\r\n").count() < 40, "{frame}");
    assert!(out.contains("done"), "the shell goes on: {out:?}");
}
