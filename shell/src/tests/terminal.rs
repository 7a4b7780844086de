//! Terminal mode: noline behind the probe-answering wrapper, checked on a fake screen.

use std::string::String;
use std::vec::Vec;

use super::fakes::{PROBE, Session, terminal};
use super::vt::Screen;
use crate::Exit;

const REPLY: &[u8] = b"\x1b[24;80R";

/// What a `rows` x `cols` terminal shows after the session, cursor starting at the top.
fn screen(s: &Session, rows: usize, cols: usize) -> Vec<String> {
    let mut scr = Screen::new(rows, cols);
    scr.feed(&s.io.output);
    scr.lines()
}

/// Absolute cursor moves (`ESC[<r>;<c>H`) on the wire after the start-up probe.
fn absolute_moves(s: &Session) -> usize {
    let out = &s.io.output[PROBE.len()..];
    let mut n = 0;
    for (i, w) in out.windows(2).enumerate() {
        if w == b"\x1b[" {
            let rest = &out[i + 2..];
            let end = rest
                .iter()
                .position(|b| (0x40..=0x7e).contains(b))
                .unwrap_or(rest.len());
            if rest.get(end) == Some(&b'H') {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn typed_lines_run() {
    let s = terminal(REPLY, b"echo hello\r");
    assert_eq!(s.exit, Exit::Poweroff(0));
    assert_eq!(screen(&s, 24, 80), ["rtos> echo hello", "hello", "rtos>"]);
    // Only the start-up probe ever reaches the terminal; noline's probes are answered inside.
    assert_eq!(s.io.probes, 1);
    assert!(s.io.output.starts_with(PROBE));
}

#[test]
fn editing_keys_render_where_the_prompt_is() {
    // The prompt is on the top row while noline believes it is on the bottom row: only
    // relative cursor movement can render this correctly.
    let s = terminal(REPLY, b"eho\x1b[D\x1b[Dc\x1b[F moved\r");
    assert_eq!(screen(&s, 24, 80), ["rtos> echo moved", "moved", "rtos>"]);
    assert!(
        absolute_moves(&s) == 0,
        "absolute cursor move leaked to the terminal"
    );
    // SS3 Home, VT220 End, Delete, Ctrl-A / Ctrl-E, backspace.
    let s = terminal(REPLY, b"ho hi\x1bOHec\x1b[4~!\x01\x1b[3~e\x05?\x7f\r");
    assert_eq!(screen(&s, 24, 80), ["rtos> echo hi!", "hi!", "rtos>"]);
}

#[test]
fn history_recall() {
    let s = terminal(REPLY, b"echo first\recho second\r\x1b[A\x1b[A\r\x1bOA\r");
    assert_eq!(
        screen(&s, 24, 80),
        [
            "rtos> echo first",
            "first",
            "rtos> echo second",
            "second",
            "rtos> echo first",
            "first",
            "rtos> echo first",
            "first",
            "rtos>"
        ]
    );
}

#[test]
fn ctrl_c_and_ctrl_d() {
    let s = terminal(REPLY, b"echo partial\x03\x04echo after\r\x04");
    assert_eq!(s.exit, Exit::Poweroff(0));
    assert_eq!(
        screen(&s, 24, 80),
        [
            "rtos> echo partial",
            "rtos>",
            "rtos> echo after",
            "after",
            "rtos>",
            "rtos>"
        ]
    );
}

#[test]
fn wrapped_line_on_narrow_terminal() {
    let s = terminal(b"\x1b[24;20R", b"cho 0123456789abcdefghij\x1b[He\x1b[F\r");
    assert_eq!(
        screen(&s, 24, 20),
        [
            "rtos> echo 012345678",
            "9abcdefghij",
            "0123456789abcdefghij",
            "rtos>"
        ]
    );
    assert_eq!(absolute_moves(&s), 0);
}

#[test]
fn prompt_on_bottom_row_scrolls() {
    // A screen already full of boot messages: the prompt really is on the bottom row.
    let s = terminal(b"\x1b[5;20R", b"cho 0123456789abcdefghij\x1b[He\x1b[F\r");
    let mut scr = Screen::new(5, 20);
    scr.feed(b"boot 1\r\nboot 2\r\nboot 3\r\nboot 4\r\nboot 5\r\n");
    scr.feed(&s.io.output);
    assert_eq!(
        scr.lines(),
        [
            "boot 5",
            "rtos> echo 012345678",
            "9abcdefghij",
            "0123456789abcdefghij",
            "rtos>"
        ]
    );
}

#[test]
fn pasted_lines_and_stray_cprs() {
    // Several lines arrive at once, with a late CPR from the terminal in the middle.
    let s = terminal(REPLY, b"ec\x1b[5;10Rho a\recho b\r\necho c\r");
    assert_eq!(
        screen(&s, 24, 80),
        [
            "rtos> echo a",
            "a",
            "rtos> echo b",
            "b",
            "rtos> echo c",
            "c",
            "rtos>"
        ]
    );
}

#[test]
fn two_hundred_pasted_lines() {
    let mut typed = Vec::new();
    for i in 0..200 {
        typed.extend(std::format!("echo line-{i}\r").bytes());
    }
    let s = terminal(REPLY, &typed);
    let text = s.io.text();
    let mut from = 0;
    for i in 0..200 {
        let needle = std::format!("\n\rline-{i}\r\n");
        let at = text[from..]
            .find(&needle)
            .unwrap_or_else(|| panic!("line-{i} missing or out of order"));
        from += at + needle.len();
    }
}

#[test]
fn line_limit() {
    let mut typed = std::vec![b'a'; 600];
    typed.extend(b"\recho $?\r");
    let x507: String = "x".repeat(507);
    typed.extend(std::format!("echo {x507}\recho $?\r").bytes());
    let s = terminal(REPLY, &typed);
    let text = s.io.text();
    assert_eq!(
        text.matches("error: line too long (max 512 bytes)").count(),
        1
    );
    // A line of exactly 512 bytes runs.
    assert!(text.contains(&std::format!("\n\r{x507}\r\n")));
    let two = text
        .find("\n\r2\r\n")
        .expect("status 2 after the long line");
    let zero = text
        .find("\n\r0\r\n")
        .expect("status 0 after the 512-byte line");
    assert!(two < zero);
}

#[test]
fn set_e_does_not_end_an_interactive_shell() {
    let s = terminal(REPLY, b"set -e\rbogus\recho alive $?\rset\r");
    assert_eq!(s.exit, Exit::Poweroff(0));
    assert!(s.io.text().contains("\n\ralive 2\r\n"));
    assert!(
        s.io.text()
            .contains("\n\rset -e (a failure does not end an interactive shell)\r\n")
    );
}

#[test]
fn exit_and_poweroff_and_reboot() {
    assert_eq!(
        terminal(REPLY, b"exit 5\recho never\r").exit,
        Exit::Poweroff(5)
    );
    assert_eq!(terminal(REPLY, b"bogus\rexit\r").exit, Exit::Poweroff(2));
    assert_eq!(terminal(REPLY, b"poweroff 3\r").exit, Exit::Poweroff(3));
    assert_eq!(terminal(REPLY, b"reboot\r").exit, Exit::Reboot);
}

#[test]
fn clear_screen_keeps_working() {
    // Ctrl-L clears the screen and redraws the prompt at the top; editing still renders right.
    let s = terminal(REPLY, b"echo one\rxx\x0c\x7f\x7fecho t\x1b[Dw\x1b[F\r");
    let lines = screen(&s, 24, 80);
    assert_eq!(lines, ["rtos> echo wt", "wt", "rtos>"]);
}
