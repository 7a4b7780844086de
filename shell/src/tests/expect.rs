//! `expect` and `dmesg`: assertions on the previous command's output and on the kernel log.

use std::string::String;
use std::vec::Vec;

use super::fakes::script;
use super::kthread::in_kernel;
use crate::Exit;

fn run(input: &str) -> (Exit, Vec<String>) {
    let s = script(input.as_bytes());
    let mut l: Vec<String> = s
        .output_lines()
        .into_iter()
        .filter(|l| !l.starts_with(crate::CONT_PROMPT))
        .collect();
    l.pop();
    (s.exit, l)
}

#[test]
fn expect_matches_the_previous_commands_output() {
    let (_, l) = run("echo hello world\nexpect 'wor.d$'\necho $?\n");
    assert_eq!(l, ["hello world", "0"]);
    // Two in a row check the same command; a miss names the script line.
    let (_, l) = run("# a comment\necho abc\nexpect ^abc\nexpect xyz\necho $?\n");
    assert_eq!(
        l,
        [
            "abc",
            "error: expect: line 4: no match for 'xyz' in the previous command's output",
            "1"
        ]
    );
    // Multi-line output: ^ and $ at line ends; the whole output, not only its last line.
    let (_, l) = run("help sleep\nexpect '^usage: sleep <duration>$'\necho $?\n");
    assert_eq!(l.last().unwrap(), "0");
    // An error line is output too.
    let (_, l) = run("sleep x\nexpect 'invalid duration'\necho $?\n");
    assert_eq!(l.last().unwrap(), "0");
}

#[test]
fn expect_under_set_e_ends_the_script_at_the_failing_line() {
    let (exit, l) = run("set -e\necho 7 apples\nexpect '[0-9]+ pears'\necho never\n");
    assert_eq!(
        l,
        [
            "7 apples",
            "error: expect: line 3: no match for '[0-9]+ pears' in the previous command's output"
        ]
    );
    assert_eq!(exit, Exit::Poweroff(1));
}

#[test]
fn a_bad_regex_is_a_usage_error() {
    let (_, l) = run("echo x\nexpect '('\necho $?\nexpect\necho $?\n");
    assert!(l[1].starts_with("error: expect: bad regex '(': "), "{l:?}");
    assert_eq!(l[2], "2");
    assert!(l[3].starts_with("error: expect: missing <regex>"), "{l:?}");
    assert_eq!(l[4], "2");
}

#[test]
fn expect_inside_a_loop_names_the_line_of_the_expect() {
    let (_, l) = run("for i in 1..2; do\n  echo n$i\n  expect n1\ndone\n");
    assert_eq!(
        l,
        [
            "n1",
            "n2",
            "error: expect: line 3: no match for 'n1' in the previous command's output"
        ]
    );
}

/// `--timeout` also waits for kernel console lines (a ticker's) logged since the previous
/// command started; `dmesg` shows them.
#[test]
fn expect_timeout_watches_the_kernel_log_and_dmesg_shows_it() {
    let l = in_kernel(|| {
        rtos::console::log_clear();
        super::kthread::sh(&[
            "spawn ticker tk --period 20ms",
            "expect 'tk: tick 3' --timeout 5s",
            "expect 'no such line' --timeout 50ms",
            "stop tk",
            "dmesg",
            "dmesg -c --json",
            "dmesg",
        ])
    });
    assert_eq!(l[1].status, 0, "{:?}", l[1]);
    l[2].fails(
        1,
        "error: expect: line 5: no match for 'no such line' in the previous command's output \
         or in the kernel log within 50ms",
    );
    assert!(
        l[4].out
            .iter()
            .any(|x| x.starts_with('[') && x.ends_with("] tk: tick 1")),
        "{:?}",
        l[4]
    );
    assert!(
        l[5].line()
            .starts_with("{\"dropped\":0,\"lines\":[{\"seq\":"),
        "{:?}",
        l[5]
    );
    assert!(l[6].out.is_empty(), "-c emptied it: {:?}", l[6]);
}
