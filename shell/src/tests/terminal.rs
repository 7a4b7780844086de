//! Terminal mode: noline behind the probe-answering wrapper, checked on a fake screen.

use std::string::String;
use std::vec::Vec;

use super::fakes::{PROBE, Session, terminal};
use super::vt::Screen;
use crate::Exit;

const REPLY: &[u8] = b"\x1b[24;80R";

/// Every `ESC[6n` on the wire is a size probe (`ESC 7 ESC[999;999H ESC[6n ESC 8`, one per
/// line, so the editor follows a resize): noline's position probes never reach the terminal.
pub(super) fn assert_only_size_probes(s: &Session) {
    let out = String::from_utf8_lossy(&s.io.output);
    let size = out.matches("\x1b7\x1b[999;999H\x1b[6n\x1b8").count();
    assert!(size >= 1);
    assert_eq!(
        out.matches("\x1b[6n").count(),
        size,
        "a position probe leaked"
    );
}

/// What a `rows` x `cols` terminal shows after the session, cursor starting at the top.
fn screen(s: &Session, rows: usize, cols: usize) -> Vec<String> {
    let mut scr = Screen::new(rows, cols);
    scr.feed(&s.io.output);
    scr.lines()
}

/// Absolute cursor moves (`ESC[<r>;<c>H`) on the wire after the start-up probe, other than the
/// size probe's move to the far corner (inside `ESC 7` ... `ESC 8`).
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
            if rest.get(end) == Some(&b'H') && &rest[..end] != b"999;999" {
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
    // noline's probes are answered inside; only size probes reach the terminal.
    assert_only_size_probes(&s);
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

// ---- Tab completion, async output, resize, Ctrl-L, word moves (issue 13 items 3, 4, 6) ----

#[test]
fn tab_completes_a_command_and_a_second_tab_lists() {
    let s = terminal(REPLY, b"sp\t\r");
    let scr = screen(&s, 24, 80);
    assert_eq!(scr[0], "rtos> spawn", "{scr:?}");
    assert!(
        scr[1].starts_with("error: spawn: missing <kind>"),
        "{scr:?}"
    );
    // `st` is stop or stress: the first Tab rings, the second lists them under the line and
    // draws the prompt and the line again; typing goes on there.
    let s = terminal(REPLY, b"st\t\tress --help\r");
    let scr = screen(&s, 24, 80);
    assert_eq!(scr[0], "rtos> st", "{scr:?}");
    assert_eq!(
        scr[1].split_whitespace().collect::<Vec<_>>(),
        ["stop", "stress"]
    );
    assert_eq!(scr[2], "rtos> stress --help", "{scr:?}");
    assert!(s.io.text().contains('\x07'), "the first Tab rang");
    assert_eq!(absolute_moves(&s), 0);
}

#[test]
fn tab_completes_live_thread_names_after_park() {
    let scr = super::kthread::in_kernel(|| {
        let s = terminal(
            REPLY,
            b"spawn sleeper mysleeper\rpark mys\t\runpark mysleeper\rstop mysleeper\r",
        );
        screen(&s, 24, 80)
    });
    assert!(scr.iter().any(|l| l == "rtos> park mysleeper"), "{scr:?}");
    assert!(scr.iter().any(|l| l == "mysleeper: result 0"), "{scr:?}");
}

/// Alt-b / Alt-f move by words; Ctrl-L clears the screen and keeps the line being typed.
#[test]
fn word_moves_and_ctrl_l_keep_the_line() {
    // "echo two" then Alt-b to the start of "two", type "one ", Alt-f to the end.
    let s = terminal(REPLY, b"echo two\x1bbone \x1bf!\r");
    assert_eq!(screen(&s, 24, 80)[..2], ["rtos> echo one two!", "one two!"]);
    let s = terminal(REPLY, b"echo kept\x0c here\r");
    let scr = screen(&s, 24, 80);
    assert!(
        s.io.text().contains("\x1b[H\x1b[2J"),
        "the screen was cleared"
    );
    assert!(scr.iter().any(|l| l == "kept here"), "{scr:?}");
}

/// After the terminal reports a new size, the next line is drawn for it.
#[test]
fn a_resized_terminal_gets_lines_of_its_new_width() {
    let sys = super::fakes::FakeSystem::new();
    let mut io = super::fakes::FakeIo::new(&sys.clock);
    io.reply = Some(REPLY.to_vec());
    // From the third probe on (the second line's), the terminal is 30 columns wide.
    io.later_reply = Some((2, b"\x1b[24;30R".to_vec()));
    io.schedule(super::fakes::MS, b"echo a\r");
    io.schedule(5 * super::fakes::MS, b"\r");
    io.schedule(
        9 * super::fakes::MS,
        b"echo 0123456789012345678901234567\x1b[Hxx\x1b[F\r",
    );
    let s = super::fakes::run(io, sys);
    let scr = screen(&s, 24, 30);
    assert!(
        scr.windows(2)
            .any(|w| w[0] == "rtos> xxecho 01234567890123456" && w[1] == "78901234567"),
        "{scr:?}"
    );
}

#[test]
fn history_lists_typed_lines_and_ctrl_d_is_ignored() {
    let s = terminal(
        REPLY,
        b"echo one\recho two\r\recho two\r\x04history\rhistory 1\r",
    );
    let scr = screen(&s, 24, 80);
    let at = scr
        .iter()
        .position(|l| l == "rtos> history")
        .expect("history ran");
    assert_eq!(
        scr[at + 1..at + 4],
        ["    1  echo one", "    2  echo two", "    3  history"]
    );
    assert_eq!(scr[at + 5], "    4  history 1");
    assert_eq!(
        s.exit,
        Exit::Poweroff(0),
        "Ctrl-D at an empty prompt did not end the shell"
    );
}
