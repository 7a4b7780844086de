//! Ctrl-C: it ends the running command (`sleep`, `wait`) with `^C` and status 130, in plain
//! and terminal mode, whether typed ahead or while the command waits; the input after it is
//! kept; at the prompt and in a command that does not wait, nothing changes.

use std::string::String;
use std::vec::Vec;

use super::fakes::{FakeIo, FakeSystem, MS, run, script, terminal};
use super::kthread::in_kernel;

/// Output lines of a plain session.
fn out(input: &[u8]) -> Vec<String> {
    let mut l = script(input).output_lines();
    l.pop();
    l
}

#[test]
fn ctrl_c_typed_ahead_ends_the_sleep_with_130_and_the_next_line_runs() {
    let s = script(b"sleep 10s\n\x03echo $?\necho after\n");
    let mut l = s.output_lines();
    l.pop();
    assert_eq!(l, ["^C", "130", "after"]);
    // It slept at most one step before noticing.
    let slept: u64 = s.sys.sleeps.iter().sum();
    assert!(slept < 10_000 * MS, "slept {slept} ns");
}

#[test]
fn ctrl_c_arriving_during_a_sleep_ends_it() {
    let sys = FakeSystem::new();
    let mut io = FakeIo::new(&sys.clock);
    io.feed(b"sleep 3s\n");
    io.schedule(1500 * MS, b"\x03echo $?\n");
    let s = run(io, sys);
    let mut l = s.output_lines();
    l.pop();
    assert_eq!(l, ["^C", "130"]);
}

/// A Ctrl-C that arrives behind lines typed ahead (they sit in the line reader's read-ahead)
/// still ends the command; the lines before it are dropped, as a terminal drops them.
#[test]
fn ctrl_c_behind_typed_ahead_lines_ends_the_sleep() {
    let sys = FakeSystem::new();
    let mut io = FakeIo::new(&sys.clock);
    io.feed(b"sleep 3s\necho typed-ahead\n");
    io.schedule(1000 * MS, b"\x03echo $?\n");
    let s = run(io, sys);
    let mut l = s.output_lines();
    l.pop();
    assert_eq!(l, ["^C", "130"]);
}

#[test]
fn without_ctrl_c_nothing_changes_and_no_input_is_lost() {
    assert_eq!(out(b"sleep 20ms\necho $?\necho next\n"), ["0", "next"]);
    // A Ctrl-C with no command waiting is just a byte the line reader drops.
    assert_eq!(out(b"echo a\n\x03echo $?\n"), ["a", "0"]);
}

#[test]
fn ctrl_c_ends_a_sleep_in_terminal_mode() {
    let s = terminal(b"\x1b[24;80R", b"sleep 10s\r\x03echo $?\r");
    let t = String::from_utf8_lossy(&s.io.output).into_owned();
    assert!(t.contains("^C\r\n"), "{t:?}");
    assert!(t.contains("130\r\n"), "{t:?}");
    let slept: u64 = s.sys.sleeps.iter().sum();
    assert!(slept < 10_000 * MS, "slept {slept} ns");
}

/// Output lines of a plain session on the fake kernel (real sleeps).
fn in_kernel_out(input: &'static [u8]) -> Vec<String> {
    in_kernel(move || {
        crate::work::registry::reset();
        let mut sys = FakeSystem::new();
        sys.real_sleep = true;
        let mut io = FakeIo::new(&sys.clock);
        io.feed(input);
        let mut l = run(io, sys).output_lines();
        l.pop();
        l
    })
}

#[test]
fn ctrl_c_ends_a_wait_for_a_thread_and_a_work() {
    let l = in_kernel_out(
        b"spawn sleeper zz\n\
          wait zz exited --timeout 30s\n\x03echo $?\n\
          wq create iq\n\
          wq delay iq later 60s --fn count\n\
          wait work later runs >= 1 --timeout 30s\n\x03echo $?\n\
          wq cancel later\n\
          stop zz\n",
    );
    assert_eq!(l.len(), 7, "{l:?}");
    assert!(l[0].starts_with("spawned zz"), "{l:?}");
    assert_eq!(l[1..3], ["^C", "130"]);
    assert_eq!(l[3..5], ["^C", "130"]);
    assert_eq!(l[5], "pending=true", "the work is left as it was: {l:?}");
    // The thread too: still there for `stop` (0, or -4 had it not run yet).
    assert!(l[6] == "zz: result 0" || l[6] == "zz: result -4", "{l:?}");
}

#[cfg(feature = "bench")]
#[test]
fn ctrl_c_stops_bench_between_benchmarks() {
    let l = in_kernel_out(b"bench yield irqwork --iters 3\n\x03echo $?\nbench yield --iters 3\n");
    assert!(l[0].starts_with("BENCH"), "{l:?}");
    assert_eq!(l[1], "^C", "{l:?}");
    assert!(l[2].starts_with("(counter ticks"), "{l:?}");
    assert_eq!(l[3], "130");
    // The next bench runs whole.
    assert!(
        l[4].starts_with("BENCH") && l[5].starts_with("yield "),
        "{l:?}"
    );
}

/// Ctrl-C typed ahead of `stress`: the queueing stops at once, what was queued ran once each,
/// the queuers are gone, the status is 130, and the next line runs.
#[test]
fn ctrl_c_stops_a_stress_run_cleanly() {
    let l = in_kernel_out(b"stress wq 100000\n\x03echo $?\nps\n");
    assert_eq!(l[0], "^C", "{l:?}");
    let summary = &l[1];
    let queued: u64 = summary
        .strip_prefix("stress wq: ")
        .and_then(|r| r.split(' ').next())
        .and_then(|q| q.parse().ok())
        .unwrap_or_else(|| panic!("{l:?}"));
    assert!(queued < 100_000, "{summary}");
    assert!(
        summary.contains(&std::format!(
            "{queued} queued, {queued} ran once, 0 twice or more"
        )),
        "{summary}"
    );
    assert_eq!(l[2], "130", "{l:?}");
    assert!(
        !l.iter().any(|x| x.contains("stress/")),
        "queuers left: {l:?}"
    );
}
