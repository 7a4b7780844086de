//! Commands, statuses and the non-terminal transcript.

use std::string::String;
use std::vec::Vec;

use super::fakes::{FakeIo, FakeSystem, MS, run, script};
use crate::registry::COMMANDS;
use crate::{CrashKind, Exit};

fn lines(input: &str) -> (Exit, Vec<String>) {
    let s = script(input.as_bytes());
    (s.exit, s.output_lines())
}

/// Output lines of `input`, with the trailing empty element (after the final prompt) removed.
fn out(input: &str) -> Vec<String> {
    let (_, mut l) = lines(input);
    assert_eq!(
        l.pop().as_deref(),
        Some(""),
        "transcript must end with a line break"
    );
    l
}

#[test]
fn exact_transcript() {
    let s = script(b"echo hi\n");
    assert_eq!(s.transcript(), "rtos> echo hi\r\nhi\r\nrtos> \r\n");
    assert_eq!(s.exit, Exit::Poweroff(0));
    // Every line feed on the wire is preceded by a carriage return.
    let raw = s.io.output;
    for (i, &b) in raw.iter().enumerate() {
        if b == b'\n' {
            assert_eq!(raw[i - 1], b'\r', "bare LF at {i}");
        }
    }
}

#[test]
fn echo_words_and_quotes() {
    assert_eq!(out("echo hello   world\n"), ["hello world"]);
    assert_eq!(out("echo 'a  b' \"c  d\" e\\ f\n"), ["a  b c  d e f"]);
    assert_eq!(out("echo\n"), [""]);
    assert_eq!(out("echo --not-an-option -n\n"), ["--not-an-option -n"]);
    assert_eq!(out("echo grüße 😀\n"), ["grüße 😀"]);
}

#[test]
fn status_expansion() {
    assert_eq!(
        out("echo $?\nbogus\necho $?\necho \"s=$?\" 's=$?'\n"),
        [
            "0",
            "error: unknown command 'bogus' (try 'help')",
            "2",
            "s=0 s=$?"
        ]
    );
    // Blank and comment lines leave $? alone.
    assert_eq!(
        out("bogus\n\n   \n# comment\necho $?\n"),
        ["error: unknown command 'bogus' (try 'help')", "2"]
    );
    // A runtime error is 1.
    assert_eq!(out("crash panic\necho $?\n")[2], "1");
}

#[test]
fn unknown_command() {
    let (exit, l) = lines("frobnicate now\n");
    assert_eq!(l[0], "error: unknown command 'frobnicate' (try 'help')");
    assert_eq!(exit, Exit::Poweroff(2));
}

#[test]
fn syntax_errors_are_usage_errors() {
    assert_eq!(
        out("echo 'open\necho $?\n"),
        ["error: unterminated quote", "2"]
    );
    assert_eq!(
        out("echo \"open\necho $?\n"),
        ["error: unterminated quote", "2"]
    );
    // A trailing backslash continues the line; at the end of input it is unfinished.
    assert_eq!(out("echo x\\\necho $?\n"), ["> echo $?", "xecho 0"]);
    assert_eq!(
        out("echo x\\\n"),
        ["> ", "error: end of input inside an unfinished construct"]
    );
}

#[test]
fn help() {
    let l = out("help\n");
    assert_eq!(l[0], "commands:");
    // Every command is listed, its text in the one column (a long usage on a line of its own).
    for c in COMMANDS {
        let at = l
            .iter()
            .position(|x| x.starts_with(&std::format!("  {}", c.usage)))
            .unwrap_or_else(|| panic!("help must list {}", c.name));
        let text = if l[at].ends_with(c.help) {
            &l[at]
        } else {
            &l[at + 1]
        };
        assert_eq!(text.find(c.help), Some(33), "{}: {text:?}", c.name);
    }
    let crash = l
        .iter()
        .position(|x| x == "  crash <panic|fault|irq-fault|overflow>");
    assert!(l[crash.expect("crash listed") + 1].ends_with("(tests the fault path)"));
    let l = out("help sleep\necho $?\n");
    assert_eq!(l[0], "usage: sleep <duration>");
    assert!(l.iter().any(|x| x.contains("500us")));
    assert_eq!(l.last().unwrap(), "0");
    let l = out("help set\n");
    assert!(
        l.iter().any(|x| x.contains("does not end")),
        "set help must explain terminal mode"
    );
    assert_eq!(
        out("help nope\necho $?\n"),
        ["error: help: unknown command 'nope'", "2"]
    );
    assert_eq!(
        out("help a b\necho $?\n"),
        ["error: help: unexpected argument 'b'", "2"]
    );
}

#[test]
fn sleep() {
    let s = script(b"sleep 20ms\nsleep 500us\nsleep 1.5s\nsleep 2s\nsleep 3ns\necho $?\n");
    assert_eq!(
        s.sys.sleeps,
        [20 * MS, 500_000, 1_500_000_000, 2_000_000_000, 3]
    );
    assert_eq!(s.output_lines(), ["0", ""]);
    assert!(s.sys.clock.get() >= 3_520_500_003);
}

#[test]
fn sleep_errors() {
    assert_eq!(
        out("sleep 5xs\necho $?\n"),
        ["error: sleep: invalid duration '5xs'", "2"]
    );
    assert_eq!(
        out("sleep 99999999999999999999s\n"),
        ["error: sleep: invalid duration '99999999999999999999s'"]
    );
    // Bug (issue 15): a sleep of 584 years was taken, with no way out but Ctrl-C. Durations
    // have a bound, one day, said in the error; the day itself is fine.
    assert_eq!(
        out("sleep 18446744073s\necho $?\n"),
        [
            "error: sleep: invalid duration '18446744073s' (expected at most 86400s, one day)",
            "2"
        ]
    );
    assert_eq!(
        out("wq delay q w 86400.001s --fn count\n"),
        ["error: wq: invalid duration '86400.001s' (expected at most 86400s, one day)"]
    );
    let day: Option<rtos::time::Duration> = crate::args::FromArg::from_arg("86400s");
    assert_eq!(day, Some(crate::args::MAX_DURATION));
    assert_eq!(
        out("sleep\n"),
        ["error: sleep: missing <duration> (usage: sleep <duration>)"]
    );
    assert_eq!(
        out("sleep 1s 2s\n"),
        ["error: sleep: unexpected argument '2s'"]
    );
    assert_eq!(
        out("sleep --fast 1s\n"),
        ["error: sleep: unknown option '--fast'"]
    );
    let s = script(b"sleep -1s\nsleep 1.5ns\nsleep ''\n");
    assert_eq!(s.sys.sleeps, Vec::<u64>::new());
    assert_eq!(s.output_lines().len(), 4);
}

#[test]
fn uptime() {
    let sys = FakeSystem::new();
    sys.clock.set(3_723_456_789_012);
    let mut io = FakeIo::new(&sys.clock);
    io.feed(b"uptime\nuptime now\n");
    let s = run(io, sys);
    assert_eq!(
        s.output_lines(),
        [
            "up 1:02:03.456",
            "error: uptime: unexpected argument 'now'",
            ""
        ]
    );
}

#[test]
fn uart_statistics() {
    assert_eq!(
        out("uart\n"),
        ["pl011: 115200 baud 8N1, rx errors 3, rx buffer 7/16384"]
    );
    let l = out("uart now\n");
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(l[0].starts_with("error: uart: "), "{l:?}");
}

#[test]
fn cpus_table() {
    let l = out("cpus\n");
    assert_eq!(l.len(), 4);
    let cols = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
    assert_eq!(
        cols(&l[0]),
        [
            "CPU",
            "ONLINE",
            "IRQS",
            "TIMER",
            "SGIS",
            "IRQWORK_SGIS",
            "IRQWORK_RUNS"
        ]
    );
    assert_eq!(cols(&l[1]), ["0", "yes", "1234", "1000", "17", "8", "9"]);
    assert_eq!(cols(&l[2]), ["1", "yes", "99", "90", "3", "1", "2"]);
    assert_eq!(cols(&l[3]), ["2", "no", "0", "0", "0", "0", "1"]);
    // Columns line up.
    assert_eq!(l[0].len(), l[1].len());
    assert_eq!(out("cpus -v\n"), ["error: cpus: unknown option '-v'"]);
}

#[test]
fn poweroff_codes() {
    assert_eq!(script(b"poweroff\necho never\n").exit, Exit::Poweroff(0));
    assert_eq!(script(b"poweroff 7\n").exit, Exit::Poweroff(7));
    assert_eq!(script(b"poweroff 255\n").exit, Exit::Poweroff(255));
    assert_eq!(script(b"poweroff 0x10\n").exit, Exit::Poweroff(16));
    let s = script(b"poweroff 256\necho still here $?\n");
    assert_eq!(
        s.output_lines(),
        [
            "error: poweroff: invalid exit code '256' (expected 0..=255)",
            "still here 2",
            ""
        ]
    );
    assert_eq!(s.exit, Exit::Poweroff(0));
    assert_eq!(script(b"poweroff -1\n").exit, Exit::Poweroff(2));
    assert_eq!(script(b"poweroff 1 2\n").exit, Exit::Poweroff(2));
    // Nothing after poweroff runs, not even its prompt.
    let s = script(b"poweroff 3\necho never\n");
    assert!(!s.transcript().contains("never"));
    assert!(s.transcript().ends_with("poweroff 3\r\n"));
}

#[test]
fn reboot() {
    assert_eq!(script(b"reboot\necho never\n").exit, Exit::Reboot);
    let s = script(b"reboot now\n");
    assert_eq!(s.exit, Exit::Poweroff(2));
    assert_eq!(
        s.output_lines()[0],
        "error: reboot: unexpected argument 'now'"
    );
}

#[test]
fn exit_codes() {
    assert_eq!(script(b"exit\n").exit, Exit::Poweroff(0));
    assert_eq!(script(b"bogus\nexit\n").exit, Exit::Poweroff(2));
    assert_eq!(script(b"crash fault\nexit\n").exit, Exit::Poweroff(1));
    assert_eq!(script(b"bogus\nexit 0\n").exit, Exit::Poweroff(0));
    assert_eq!(script(b"exit 42\necho never\n").exit, Exit::Poweroff(42));
    assert_eq!(script(b"exit 300\n").exit, Exit::Poweroff(2));
}

#[test]
fn end_of_input_returns_last_status() {
    assert_eq!(script(b"").exit, Exit::Poweroff(0));
    assert_eq!(script(b"bogus\n").exit, Exit::Poweroff(2));
    assert_eq!(script(b"bogus\necho ok\n").exit, Exit::Poweroff(0));
    assert_eq!(script(b"crash panic\n").exit, Exit::Poweroff(1));
    // An unterminated last line still runs.
    let s = script(b"echo tail");
    assert_eq!(s.transcript(), "rtos> echo tail\r\ntail\r\nrtos> \r\n");
}

#[test]
fn set_e_stops_at_first_failure() {
    let s = script(b"set -e\necho one\nsleep 5xs\necho never\npoweroff 9\n");
    assert_eq!(s.exit, Exit::Poweroff(2));
    assert_eq!(
        s.output_lines(),
        ["one", "error: sleep: invalid duration '5xs'", ""]
    );
    assert!(!s.transcript().contains("never"));
    // The failing line is the last thing in the transcript: no further prompt.
    assert!(
        s.transcript()
            .ends_with("error: sleep: invalid duration '5xs'\r\n")
    );

    let s = script(b"set -e\ncrash panic\necho never\n");
    assert_eq!(s.exit, Exit::Poweroff(1));
    assert_eq!(s.sys.crashes, [CrashKind::Panic]);

    assert_eq!(
        script(b"set -e\nbogus\necho never\n").exit,
        Exit::Poweroff(2)
    );
    assert_eq!(
        script(b"set -e\necho 'open\necho never\n").exit,
        Exit::Poweroff(2)
    );
    // Successful commands and blank lines do not stop it.
    let s = script(b"set -e\n\necho a\n# c\necho b\n");
    assert_eq!(s.exit, Exit::Poweroff(0));
    assert_eq!(s.output_lines(), ["a", "b", ""]);
}

#[test]
fn set_plus_e_and_query() {
    let s = script(b"set\nset -e\nset\nset +e\nset\nbogus\necho after\n");
    assert_eq!(
        s.output_lines(),
        [
            "set +e",
            "set -e",
            "set +e",
            "error: unknown command 'bogus' (try 'help')",
            "after",
            ""
        ]
    );
    assert_eq!(s.exit, Exit::Poweroff(0));
    assert_eq!(out("set -x\n"), ["error: set: unknown option '-x'"]);
    assert_eq!(
        out("set +x\n"),
        ["error: set: expected name=value, got '+x'"]
    );
    assert_eq!(out("set -e +e\n"), ["error: set: -e and +e together"]);
    // A failing `set` itself ends a `set -e` script.
    assert_eq!(
        script(b"set -e\nset -q\necho never\n").exit,
        Exit::Poweroff(2)
    );
}

#[test]
fn crash() {
    let s = script(
        b"crash panic\ncrash fault\ncrash irq-fault\ncrash overflow\ncrash\ncrash boom\necho $?\n",
    );
    assert_eq!(
        s.sys.crashes,
        [
            CrashKind::Panic,
            CrashKind::Fault,
            CrashKind::IrqFault,
            CrashKind::Overflow
        ]
    );
    assert_eq!(
        s.output_lines(),
        [
            "crash: deliberate panic",
            "error: crash: the system survived the crash",
            "crash: deliberate fault",
            "error: crash: the system survived the crash",
            "crash: deliberate fault in hard-IRQ context",
            "error: crash: the system survived the crash",
            "crash: deliberate stack overflow",
            "error: crash: the system survived the crash",
            "error: crash: missing panic, fault, irq-fault or overflow \
             (usage: crash <panic|fault|irq-fault|overflow>)",
            "error: crash: invalid crash kind 'boom' (expected panic, fault, irq-fault or overflow)",
            "2",
            ""
        ]
    );
}

/// Every command (present and future) rejects an unknown option before doing anything.
#[test]
fn every_command_rejects_unknown_options() {
    // echo prints its words; true, :, false, test and [ take any words, as in POSIX shells.
    let free = ["echo", "true", ":", "false", "test", "["];
    for c in COMMANDS.iter().filter(|c| !free.contains(&c.name)) {
        for extra in ["--bogus-option", "-Z"] {
            let line = std::format!("{} {extra} panic 1\necho alive $?\n", c.name);
            let s = script(line.as_bytes());
            let l = s.output_lines();
            assert!(
                l[0].starts_with(&std::format!("error: {}: ", c.name)),
                "{line:?}: {l:?}"
            );
            assert_eq!(l[1], "alive 2", "{line:?}");
            assert!(
                s.sys.crashes.is_empty() && s.sys.sleeps.is_empty(),
                "{line:?} acted"
            );
            assert_eq!(s.exit, Exit::Poweroff(0));
        }
    }
}

#[test]
fn error_is_exactly_one_line() {
    for bad in [
        "bogus",
        "sleep x",
        "sleep",
        "poweroff 999",
        "help zz",
        "echo 'x",
        "crash z",
    ] {
        let s = script(std::format!("{bad}\n").as_bytes());
        let l = s.output_lines();
        assert_eq!(l.len(), 2, "{bad}: {l:?}");
        assert!(l[0].starts_with("error: "), "{bad}: {l:?}");
    }
}

#[test]
fn line_endings_and_editing() {
    // CR, LF and CRLF each end exactly one line.
    assert_eq!(
        out("echo a\r\necho b\recho c\necho $?\r\n"),
        ["a", "b", "c", "0"]
    );
    // Empty lines from LF LF are fine, CR LF is not two lines.
    let s = script(b"echo a\r\n\r\n\n");
    assert_eq!(s.transcript().matches("rtos> ").count(), 4);
    // Backspace (both codes) edits; tab is a space; other controls vanish.
    assert_eq!(out("echoo\x7f hx\x08i\x01\x02\n"), ["hi"]);
    assert_eq!(out("echo\ta\x00b\n"), ["ab"]);
    // Backspace on an empty line does nothing.
    assert_eq!(out("\x7f\x7fecho ok\n"), ["ok"]);
    // Backspace removes a whole multi-byte character.
    assert_eq!(out("echo é\x7fe\n"), ["e"]);
    // Ctrl-C discards the line.
    let s = script(b"echo no\x03echo yes\n");
    assert_eq!(s.output_lines(), ["yes", ""]);
    assert!(
        s.transcript()
            .contains("rtos> echo no^C\r\nrtos> echo yes\r\n")
    );
}

#[test]
fn echo_of_input_is_sanitized() {
    let s = script(b"echo \x1b[31mred\x1b[0m \xff\xfe ok\n");
    assert_eq!(s.transcript(), "rtos> echo red  ok\r\nred ok\r\nrtos> \r\n");
}

#[test]
fn io_errors_end_the_shell() {
    let sys = FakeSystem::new();
    let mut io = FakeIo::new(&sys.clock);
    io.feed(b"bogus\necho 1\necho 2\necho 3\n");
    io.fail_after = Some(60);
    let s = run(io, sys);
    assert_eq!(s.exit, Exit::Poweroff(2));
    // Failing before the probe is even written.
    let sys = FakeSystem::new();
    let mut io = FakeIo::new(&sys.clock);
    io.fail_after = Some(0);
    assert_eq!(run(io, sys).exit, Exit::Poweroff(0));
}

#[test]
fn partial_reads() {
    let sys = FakeSystem::new();
    let mut io = FakeIo::new(&sys.clock);
    io.max_read = 1;
    io.feed(b"echo one\necho two\n");
    let s = run(io, sys);
    assert_eq!(s.output_lines(), ["one", "two", ""]);
}

/// `run_dyn` (what the kernel calls) is `run` over trait objects: same bytes out, same exit, in
/// both modes, including errors and IO failures.
#[test]
fn run_dyn_matches_run() {
    let session = |dynamic: bool, reply: Option<&[u8]>, input: &[u8], fail_after| {
        let mut sys = FakeSystem::new();
        let mut io = FakeIo::new(&sys.clock);
        io.fail_after = fail_after;
        match reply {
            Some(r) => {
                io.reply = Some(r.to_vec());
                io.schedule(MS, input);
            }
            None => io.feed(input),
        }
        let exit = if dynamic {
            crate::Shell::new().run_dyn(&mut io, &mut sys)
        } else {
            crate::Shell::new().run(&mut io, &mut sys)
        };
        (exit, io.output, sys.sleeps, sys.console_up)
    };
    let input: &[u8] = b"echo hi\nbogus\nuptime\nsleep 5ms\necho $?\ncpus\nuart\nexit 7\n";
    for reply in [None, Some(&b"\x1b[24;80R"[..])] {
        for fail_after in [None, Some(40)] {
            let generic = session(false, reply, input, fail_after);
            let erased = session(true, reply, input, fail_after);
            assert_eq!(
                erased, generic,
                "reply {reply:?}, fail_after {fail_after:?}"
            );
        }
    }
    let (exit, out, _, up) = session(true, None, input, None);
    assert_eq!(exit, Exit::Poweroff(7));
    assert_eq!(up, 1, "the system hears once that the console is up");
    assert!(String::from_utf8_lossy(&out).contains("rtos> echo hi\r\nhi\r\n"));
}

#[test]
fn time_runs_a_command_and_reports_its_wall_time_and_status() {
    assert_eq!(
        out("time sleep 20ms\necho $?\n"),
        ["time: 20ms, status 0", "0"]
    );
    assert_eq!(
        out("time echo hi there\n"),
        ["hi there", "time: 0ns, status 0"]
    );
    // The inner command's error is reported as it would be, and its status kept.
    assert_eq!(
        out("time sleep\necho $?\n"),
        [
            "error: sleep: missing <duration> (usage: sleep <duration>)",
            "time: 0ns, status 2",
            "2"
        ]
    );
    assert_eq!(
        out("time\necho $?\ntime bogus\necho $?\n"),
        [
            "error: time: missing <command>",
            "2",
            "error: time: unknown command 'bogus' (try 'help')",
            "2"
        ]
    );
    // Ctrl-C ends the timed command: 130.
    assert_eq!(
        out("time sleep 10s\n\x03echo $?\n"),
        ["^C", "time: 0ns, status 130", "130"]
    );
}
