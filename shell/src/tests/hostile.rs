//! Hostile and odd input: no reply, broken replies, huge sequences and lines, random bytes.

use std::string::String;
use std::vec::Vec;

use super::fakes::{FakeIo, FakeSystem, MS, Rng, run, script, terminal};
use super::vt::Screen;
use crate::{DETECT_TIMEOUT, Exit};

fn digits(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'1' + (i % 9) as u8).collect()
}

#[test]
fn no_reply_means_plain_mode_after_timeout() {
    let sys = FakeSystem::new();
    let mut io = FakeIo::new(&sys.clock);
    io.schedule(500 * MS, b"echo late\n");
    let s = run(io, sys);
    assert_eq!(s.transcript(), "rtos> echo late\r\nlate\r\nrtos> \r\n");
    assert_eq!(s.exit, Exit::Poweroff(0));
    // It waited about 200 ms in 1 ms steps, no longer.
    let waited: u64 = s.sys.sleeps.iter().sum();
    assert!(
        (detect_ns()..detect_ns() + 2 * MS).contains(&waited),
        "{waited}"
    );
    assert!(s.sys.sleeps.iter().all(|&ns| ns == MS));
}

#[test]
fn silence_then_end_of_input() {
    let sys = FakeSystem::new();
    let io = FakeIo::new(&sys.clock);
    let s = run(io, sys);
    assert_eq!(s.exit, Exit::Poweroff(0));
    assert_eq!(s.transcript(), "rtos> \r\n");
}

#[test]
fn script_bytes_first_are_not_lost() {
    // The first byte decides "not a terminal" and is still part of the first line.
    let s = script(b"e\x1bcho x\n");
    assert_eq!(
        s.output_lines(),
        ["error: unknown command 'eho' (try 'help')", ""]
    );
    let s = script(b"\x1b[12;Xecho y\n");
    assert_eq!(s.output_lines(), ["y", ""]);
    // A CPR-looking prefix that turns out not to be one.
    let s = script(b"\x1b[12;34echo z\n");
    assert_eq!(
        s.output_lines(),
        ["error: unknown command 'cho' (try 'help')", ""]
    );
}

/// Terminal mode is in effect: noline's line clear went out and only size probes did.
fn assert_terminal_mode(s: &super::fakes::Session) {
    assert!(
        s.io.text().contains("\r\x1b[Jrtos> "),
        "not in terminal mode"
    );
    super::terminal::assert_only_size_probes(s);
}

#[test]
fn zero_sized_cpr_replies() {
    for reply in [
        &b"\x1b[24;0R"[..],
        b"\x1b[0;0R",
        b"\x1b[0;80R",
        b"\x1b[;R",
        b"\x1b[1;1R",
    ] {
        let s = terminal(reply, b"echo ok\r");
        assert_terminal_mode(&s);
        assert!(s.io.text().contains("\n\rok\r\n"), "{reply:?}");
        assert_eq!(s.exit, Exit::Poweroff(0));
    }
    // 0 columns means the 80-column default: a 75-character command line does not wrap.
    let long = "y".repeat(64);
    let s = terminal(b"\x1b[24;0R", std::format!("echo {long}\r").as_bytes());
    let mut scr = Screen::new(24, 80);
    scr.feed(&s.io.output);
    assert_eq!(
        scr.lines(),
        [std::format!("rtos> echo {long}"), long, "rtos>".into()]
    );
}

#[test]
fn huge_numbers_in_cpr_reply() {
    let s = terminal(b"\x1b[99999;99999R", b"echo ok\r");
    assert_terminal_mode(&s);
    assert!(s.io.text().contains("\n\rok\r\n"));
}

#[test]
fn ten_thousand_digit_reply() {
    let mut reply = b"\x1b[".to_vec();
    reply.extend(digits(10_000));
    reply.extend(b";80R");
    let s = terminal(&reply, b"\necho ok\n");
    // Not a terminal; the whole sequence is swallowed and the shell carries on.
    assert!(!s.io.text().contains("\x1b[J"));
    assert_eq!(s.output_lines(), ["ok", ""]);
    assert_eq!(s.exit, Exit::Poweroff(0));
}

#[test]
fn ten_thousand_digit_sequence_typed_at_a_terminal() {
    let mut typed = b"ec".to_vec();
    typed.extend(b"\x1b[");
    typed.extend(digits(10_000));
    typed.extend(b";");
    typed.extend(digits(10_000));
    typed.extend(b"Rho ok\r");
    let s = terminal(b"\x1b[24;80R", &typed);
    assert!(s.io.text().contains("\n\rok\r\n"));
}

#[test]
fn huge_line_plain() {
    let mut input = b"echo ".to_vec();
    input.extend(std::iter::repeat_n(b'a', 64 * 1024));
    input.extend(b"\necho $?\necho after\n");
    let s = script(&input);
    assert_eq!(
        s.output_lines(),
        ["error: line too long (max 512 bytes)", "2", "after", ""]
    );
    // The echo stops at the limit: the transcript stays small.
    assert!(s.transcript().len() < 1024, "{}", s.transcript().len());
    assert_eq!(s.exit, Exit::Poweroff(0));
    // Exactly MAX_LINE bytes is fine; one more is not.
    let ok = std::format!("echo {}\n", "b".repeat(507));
    assert_eq!(script(ok.as_bytes()).output_lines()[0], "b".repeat(507));
    let bad = std::format!("echo {}\n", "b".repeat(508));
    assert_eq!(
        script(bad.as_bytes()).output_lines()[0],
        "error: line too long (max 512 bytes)"
    );
    // Multi-byte characters count in bytes and are never split.
    let bad = std::format!("echo {}\n", "é".repeat(254));
    assert_eq!(
        script(bad.as_bytes()).output_lines()[0],
        "error: line too long (max 512 bytes)"
    );
}

#[test]
fn huge_line_terminal() {
    let mut typed = std::vec![b'c'; 64 * 1024];
    typed.extend(b"\recho after\r");
    let s = terminal(b"\x1b[24;80R", &typed);
    let text = s.io.text();
    assert_eq!(
        text.matches("error: line too long (max 512 bytes)").count(),
        1
    );
    assert!(text.contains("\n\rafter\r\n"));
}

#[test]
fn two_hundred_lines_in_order() {
    let mut input = String::new();
    for i in 0..200 {
        input.push_str(&std::format!("echo line-{i}\n"));
    }
    let s = script(input.as_bytes());
    let mut expected: Vec<String> = (0..200).map(|i| std::format!("line-{i}")).collect();
    expected.push(String::new());
    assert_eq!(s.output_lines(), expected);
    // And the echo of every command line is intact too.
    assert_eq!(s.transcript().matches("rtos> echo line-").count(), 200);
}

const PROBE_LINE: &[u8] = b"echo ok-probe";

#[test]
fn random_bytes_plain() {
    for seed in 0..200 {
        let mut input = Rng::new(seed).bytes(4096);
        // Ctrl-C drops whatever construct the noise left open (a trailing `\`, `&&`, ...).
        input.extend(b"\n\x03");
        input.extend(PROBE_LINE);
        input.push(b'\n');
        let s = script(&input);
        let lines = s.output_lines();
        assert_eq!(lines[lines.len() - 2], "ok-probe", "seed {seed}");
        assert_eq!(s.exit, Exit::Poweroff(0), "seed {seed}");
    }
}

fn random_terminal(seed: u64, typed: Vec<u8>) {
    const SIZES: [&[u8]; 6] = [
        b"\x1b[24;80R",
        b"\x1b[1;1R",
        b"\x1b[2;16R",
        b"\x1b[5;20R",
        b"\x1b[999;999R",
        b"\x1b[50;132R",
    ];
    let mut typed = typed;
    typed.extend(b"\n\x03");
    typed.extend(PROBE_LINE);
    typed.push(b'\r');
    let s = terminal(SIZES[seed as usize % SIZES.len()], &typed);
    assert!(s.io.text().contains("\n\rok-probe\r\n"), "seed {seed}");
    assert_eq!(s.exit, Exit::Poweroff(0), "seed {seed}");
    super::terminal::assert_only_size_probes(&s);
}

#[test]
fn random_bytes_terminal() {
    for seed in 0..200 {
        random_terminal(seed, Rng::new(seed).bytes(4096));
    }
}

/// Random editing-key soup: exercises noline's cursor, history and redraw logic far more
/// than uniformly random bytes do.
#[test]
fn random_keys_terminal() {
    const KEYS: &[&[u8]] = &[
        b"\x1b[A",
        b"\x1b[B",
        b"\x1b[C",
        b"\x1b[D",
        b"\x1b[H",
        b"\x1b[F",
        b"\x1b[3~",
        b"\x1bOA",
        b"\x1b[1;5D",
        b"\x7f",
        b"\x08",
        b"\x03",
        b"\x04",
        b"\x0c",
        b"\x17",
        b"\x14",
        b"\x0b",
        b"\x15",
        b"\x01",
        b"\x05",
        b"\x02",
        b"\x06",
        b"\x0e",
        b"\x10",
        b"\r",
        b"\n",
        b"\r\n",
        "é".as_bytes(),
        "😀".as_bytes(),
        b"\x1b[5;5R",
        b"\x1b[6n",
        b"\t",
        b"\x1b",
        b"\x1b[",
        b"\xe2\x82",
    ];
    for seed in 0..200 {
        let mut rng = Rng::new(seed + 1000);
        let mut typed = Vec::new();
        while typed.len() < 4096 {
            let r = rng.next();
            if r.is_multiple_of(3) {
                typed.extend(KEYS[(r >> 8) as usize % KEYS.len()]);
            } else {
                typed.push(b' ' + ((r >> 8) % 95) as u8);
            }
        }
        random_terminal(seed, typed);
    }
}

/// The runner's QEMU hostile script, byte for byte (one source for both suites).
mod shared {
    include!("../../../tests/scripts/hostile.rs");
}
use shared::hostile_script as runner_hostile_script;

#[test]
fn runner_hostile_script_plain() {
    // As the runner does it: the script arrives after the prompt (detection timed out).
    let sys = FakeSystem::new();
    let mut io = FakeIo::new(&sys.clock);
    io.schedule(detect_ns() + 50 * MS, &runner_hostile_script());
    let s = run(io, sys);
    assert_eq!(s.exit, Exit::Poweroff(0));
    let lines = s.output_lines();
    assert!(lines.iter().any(|l| l == "alive"));
    assert!(
        lines
            .iter()
            .any(|l| l == "error: line too long (max 512 bytes)")
    );
}

#[test]
fn runner_hostile_script_terminal() {
    let s = terminal(b"\x1b[24;80R", &runner_hostile_script());
    assert_eq!(s.exit, Exit::Poweroff(0));
    let text = s.io.text();
    assert!(text.contains("\n\ralive\r\n"));
    assert!(text.contains("error: line too long (max 512 bytes)"));
    super::terminal::assert_only_size_probes(&s);
}

#[test]
fn late_cpr_in_plain_mode_is_swallowed() {
    let sys = FakeSystem::new();
    let mut io = FakeIo::new(&sys.clock);
    io.schedule(300 * MS, b"\x1b[24;80R");
    io.schedule(310 * MS, b"echo x\n");
    let s = run(io, sys);
    assert_eq!(s.transcript(), "rtos> echo x\r\nx\r\nrtos> \r\n");
}

#[test]
fn slow_reply_within_the_timeout_is_a_terminal() {
    let sys = FakeSystem::new();
    let mut io = FakeIo::new(&sys.clock);
    io.schedule(5 * MS, b"\x1b[");
    io.schedule(50 * MS, b"24;");
    io.schedule(150 * MS, b"80R");
    io.schedule(400 * MS, b"echo hi\r");
    let s = run(io, sys);
    assert_terminal_mode(&s);
    assert!(s.io.text().contains("\n\rhi\r\n"));
    // A reply cut off by the timeout is not.
    let sys = FakeSystem::new();
    let mut io = FakeIo::new(&sys.clock);
    io.schedule(5 * MS, b"\x1b[24");
    io.schedule(400 * MS, b";80Recho hi\n");
    let s = run(io, sys);
    assert_eq!(s.output_lines(), ["hi", ""]);
}

/// The terminal-detection timeout in nanoseconds (the fakes' clock unit).
fn detect_ns() -> u64 {
    DETECT_TIMEOUT.as_nanos() as u64
}

/// Bug (issue 15): in terminal mode a line typed past the buffer and edited back ran cut off
/// (308 of 600 `x`); plain mode rejected it. Both reject it now: noline drops what does not fit
/// and rings the bell, and that line is not run, however much is deleted before Enter.
#[test]
fn a_line_typed_too_long_and_edited_back_is_not_run() {
    let mut typed = b"echo ".to_vec();
    typed.extend(std::iter::repeat_n(b'x', 600));
    typed.extend(std::iter::repeat_n(0x7f, 205)); // Backspace
    typed.extend(b"\recho status=$?\r");
    let s = terminal(b"\x1b[24;80R", &typed);
    let text = s.io.text();
    assert_eq!(
        text.matches("error: line too long (max 512 bytes)").count(),
        1,
        "{text}"
    );
    assert!(text.contains("\n\rstatus=2\r\n"), "{text}");
    // A line that filled the buffer exactly (no bell) still runs.
    let mut typed = b"echo ".to_vec();
    typed.extend(std::iter::repeat_n(b'y', 507));
    typed.extend(b"\r");
    let text = terminal(b"\x1b[24;80R", &typed).io.text();
    assert!(
        text.contains(&std::format!("\n\r{}\r\n", "y".repeat(507))),
        "{text}"
    );
}

/// Bug (issue 15): terminal control strings were run as commands: `ESC ] poweroff 3 ESC \`
/// powered the machine off with 3 in both modes, and an unterminated one became command text.
/// A control string (OSC, DCS, SOS, PM, APC) is consumed whole, in both modes.
#[test]
fn control_strings_never_become_command_text() {
    let strings: [&[u8]; 5] = [
        b"\x1b]poweroff 3\x1b\\",
        b"\x1bPpoweroff 3\x1b\\",
        b"\x1b]0;poweroff 3\x07",
        b"\x1b_poweroff 3\x18",
        b"\x1b]poweroff 3", // never terminated: the line end ends it
    ];
    for s in strings {
        let mut input = b"echo a".to_vec();
        input.extend_from_slice(s);
        input.extend(b"b\necho after\n");
        let p = script(&input);
        let out = p.output_lines();
        assert_eq!(p.exit, Exit::Poweroff(0), "{s:?}: {out:?}");
        assert!(out.iter().any(|l| l == "after"), "{s:?}: {out:?}");
        assert!(
            !out.iter().any(|l| l.contains("poweroff")),
            "{s:?}: {out:?}"
        );
        let mut typed = b"echo a".to_vec();
        typed.extend_from_slice(s);
        typed.extend(b"b\recho after\r");
        let t = terminal(b"\x1b[24;80R", &typed);
        let text = t.io.text();
        assert_eq!(t.exit, Exit::Poweroff(0), "{s:?}: {text}");
        assert!(text.contains("\n\rafter\r\n"), "{s:?}: {text}");
        assert!(!text.contains("poweroff 3"), "{s:?}: {text}");
    }
}
