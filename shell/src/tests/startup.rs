//! Start-up order: the first prompt goes out with the size probe, before any reply is read;
//! a terminal gets it erased before noline draws its own, plain mode uses it for the first line.

use std::string::String;
use std::vec::Vec;

use super::fakes::{FakeIo, FakeSystem, MS, PROBE, Session, run, script, terminal};
use super::vt::Screen;
use crate::{Exit, PROMPT};

const REPLY: &[u8] = b"\x1b[24;80R";
const ERASE: &[u8] = b"\r\x1b[K";

/// The probe immediately followed by the prompt.
fn probe_and_prompt() -> Vec<u8> {
    [PROBE, PROMPT.as_bytes()].concat()
}

/// Prompts written before the first line break of the transcript.
fn prompts_on_first_line(s: &Session) -> usize {
    let t = s.transcript();
    let first = t.split("\r\n").next().unwrap_or_default();
    first.matches(PROMPT).count()
}

/// What a 24 x 80 terminal shows after `parts`, cursor starting at the top.
fn screen(parts: &[&[u8]]) -> Vec<String> {
    let mut scr = Screen::new(24, 80);
    for p in parts {
        scr.feed(p);
    }
    scr.lines()
}

/// Nothing answers the probe; a line arrives long after the detection timeout.
fn silent_then_late_line() -> Session {
    let sys = FakeSystem::new();
    let mut io = FakeIo::new(&sys.clock);
    io.schedule(500 * MS, b"echo late\n");
    run(io, sys)
}

/// The input ends before anything arrives.
fn silent_then_eof() -> Session {
    let sys = FakeSystem::new();
    run(FakeIo::new(&sys.clock), sys)
}

#[test]
fn prompt_is_out_before_any_reply_is_read() {
    // Silence, script bytes, a terminal's reply, immediate end of input: in every case the
    // shell had written exactly the probe and the prompt before it first looked at its input.
    for s in [
        silent_then_late_line(),
        silent_then_eof(),
        script(b"echo hi\n"),
        terminal(REPLY, b"echo hi\r"),
    ] {
        assert_eq!(s.io.before_first_poll(), probe_and_prompt().as_slice());
    }
}

#[test]
fn prompt_is_out_before_a_slow_reply_arrives() {
    // A terminal that answers 50 ms late: the prompt was on the line at time 0.
    let sys = FakeSystem::new();
    let mut io = FakeIo::new(&sys.clock);
    io.schedule(50 * MS, REPLY);
    io.schedule(60 * MS, b"echo slow\r");
    let s = run(io, sys);
    assert_eq!(s.io.before_first_poll(), probe_and_prompt().as_slice());
    assert_eq!(s.exit, Exit::Poweroff(0));
    assert_eq!(
        screen(&[&s.io.output]),
        ["rtos> echo slow", "slow", "rtos>"]
    );
}

#[test]
fn terminal_mode_erases_the_early_prompt() {
    let s = terminal(REPLY, b"echo hi\r");
    let expect = [probe_and_prompt().as_slice(), ERASE].concat();
    assert!(
        s.io.output.starts_with(&expect),
        "{:?}",
        String::from_utf8_lossy(&s.io.output)
    );
    // After the erase the line is empty until noline draws its prompt: the screen shows one.
    let mut scr = Screen::new(24, 80);
    scr.feed(&expect);
    assert!(scr.lines().is_empty(), "{:?}", scr.lines());
    assert_eq!(scr.cursor(), (0, 0));
    assert_eq!(screen(&[&s.io.output]), ["rtos> echo hi", "hi", "rtos>"]);
}

#[test]
fn terminal_mode_erases_where_the_cursor_was() {
    // Boot output already on the screen, cursor at the start of row 3: the erase takes only
    // the early prompt, and the rows above survive.
    let s = terminal(REPLY, b"echo hi\r");
    assert_eq!(
        screen(&[b"banner\r\nheap ok\r\n", &s.io.output]),
        ["banner", "heap ok", "rtos> echo hi", "hi", "rtos>"]
    );
}

#[test]
fn plain_mode_prints_one_prompt_for_the_first_line() {
    // Timeout, script bytes first, a broken reply, end of input at once.
    let broken = {
        let sys = FakeSystem::new();
        let mut io = FakeIo::new(&sys.clock);
        io.reply = Some(b"\x1b[24R".to_vec());
        io.schedule(MS, b"echo b\n");
        run(io, sys)
    };
    for s in [
        silent_then_late_line(),
        silent_then_eof(),
        broken,
        script(b"echo a\n"),
    ] {
        assert_eq!(prompts_on_first_line(&s), 1, "{:?}", s.transcript());
        assert!(
            !s.io.text().contains("\x1b[K"),
            "plain mode erased its prompt"
        );
    }
    let s = script(b"echo a\necho b\n");
    assert_eq!(
        s.transcript(),
        "rtos> echo a\r\na\r\nrtos> echo b\r\nb\r\nrtos> \r\n"
    );
}
