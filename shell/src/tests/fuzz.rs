//! Property tests of the shell's input path with proptest (stable Rust, shrinking, failures kept
//! in `shell/proptest-regressions/` and replayed first): bytes as they could come from a serial
//! line, in plain and in terminal mode, built from random bytes and the pieces the line reader,
//! the terminal filter, the tokenizer and the language react to (escape and control strings,
//! quotes, `$(`, `$((`, braces, operators, editing keys, Ctrl-C, a stray cursor report that
//! turns a piped session into a terminal one). The property is libFuzzer's: the session ends,
//! never hanging nor panicking, and prints its prompt.
//! `just test` runs the default 256 cases of each; `just fuzz` runs them for minutes (README).
//! No `while`/`until`/`repeat`: a loop with no way out would wait for a Ctrl-C forever, which is
//! the contract, not a bug.

use proptest::prelude::*;
use std::vec::Vec;

use super::fakes::{script, terminal};

const PIECES: &[&[u8]] = &[
    b"echo ",
    b"x=",
    b"$x",
    b"${x}",
    b"$?",
    b"$((",
    b"))",
    b"$(",
    b")",
    b"'",
    b"\"",
    b"\\",
    b";",
    b"&&",
    b"||",
    b"!",
    b"[ ",
    b" ]",
    b"{",
    b"}",
    b"if ",
    b"then ",
    b"else ",
    b"fi",
    b"for i in 1..3; do ",
    b"done",
    b"f() { ",
    b"f",
    b"return 2",
    b"break",
    b"test ",
    b"-eq",
    b"\x1b[",
    b"\x1b]",
    b"\x1bP",
    b"\x1b\\",
    b"\x1bO",
    b"\x07",
    b"\x18",
    b"\x1b[A",
    b"\x1b[D",
    b"\x1b[3~",
    b"\x1b[24;80R",
    b"\r",
    b"\n",
    b"\r\n",
    b"\t",
    b"\x03",
    b"\x04",
    b"\x7f",
    b"\x08",
    b"\x15",
    b"\x17",
    b"\x12",
    b"\x0c",
    b"\x01",
    b"\xc3\xa9",
    b"\xe2\x82",
    b"\xff",
    b"sleep 1ms",
    b"help",
    b"ps",
    b"wq create q",
    b"irqwork queue w --fn count",
    b"expect x",
    b"vars",
    b"history",
    b"# ",
    b"9999999999999999999999",
    b"-1",
];

/// Input: up to 120 pieces, each a random byte or one of [`PIECES`].
fn input() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        any::<u8>().prop_map(|b| vec![b]),
        proptest::sample::select(PIECES).prop_map(<[u8]>::to_vec),
    ];
    prop::collection::vec(piece, 0..120).prop_map(|p| p.concat())
}

proptest! {
    #[test]
    fn plain_mode_takes_any_bytes(mut bytes in input()) {
        bytes.extend_from_slice(b"\necho fuzz-end\n");
        let s = script(&bytes);
        prop_assert!(s.transcript().contains("rtos> "));
    }

    #[test]
    fn terminal_mode_takes_any_bytes(mut bytes in input()) {
        bytes.extend_from_slice(b"\recho fuzz-end\r");
        let s = terminal(b"\x1b[24;80R", &bytes);
        prop_assert!(s.io.text().contains("rtos> "));
    }
}
