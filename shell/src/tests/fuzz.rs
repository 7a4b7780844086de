//! Property tests of the shell's input path with proptest (stable Rust, shrinking, failures kept
//! in `shell/proptest-regressions/` and replayed first): bytes as they could come from a serial
//! line, in plain and in terminal mode, built from random bytes and the pieces the line reader,
//! the terminal filter, the tokenizer and the language react to (escape and control strings,
//! quotes, `$(`, `$((`, braces, operators, editing keys, Ctrl-C, a stray cursor report that
//! turns a piped session into a terminal one). The property is libFuzzer's: the session ends,
//! never hanging nor panicking, and prints its prompt.
//! A third target mutates a seed corpus kept in the repository: the test scripts of
//! `tests/scripts/` ([`CORPUS`]).
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

/// The seed corpus: the repository's own test scripts (`tests/scripts/`), the shell's language
/// as people write it. Loops are left out (a loop with no way out is the contract, see above),
/// and so are lines that end the session or the machine (`crash`, `reload`, `poweroff`,
/// `reboot`, `exit`) and the commands that change the kernel's global state without a kernel
/// (`dmesg -c`, `trace`, `watchdog`: the sessions run beside other tests' fake kernels).
const CORPUS: &[&str] = &[
    include_str!("../../../tests/scripts/plain.rsh"),
    include_str!("../../../tests/scripts/hello.rsh"),
    include_str!("../../../tests/scripts/set-e.rsh"),
    include_str!("../../../tests/scripts/last-status.rsh"),
    include_str!("../../../tests/scripts/kthread-errors.rsh"),
    include_str!("../../../tests/scripts/kthread-16.rsh"),
    include_str!("../../../tests/scripts/work-task.rsh"),
    include_str!("../../../tests/scripts/work-lifetime.rsh"),
    include_str!("../../../tests/scripts/mem-cycles.rsh"),
    include_str!("../../../tests/scripts/inject.rsh"),
    include_str!("../../../tests/scripts/trace-demo.rsh"),
    include_str!("../../../tests/scripts/hotplug.rsh"),
];

/// Corpus file `i` without the lines the corpus leaves out.
fn corpus(i: usize) -> Vec<u8> {
    const OUT: [&str; 12] = [
        "while", "until", "repeat", "for ", "crash", "reload", "poweroff", "reboot", "exit",
        "dmesg", "trace", "watchdog",
    ];
    CORPUS[i % CORPUS.len()]
        .lines()
        .filter(|l| !OUT.iter().any(|w| l.contains(w)))
        .flat_map(|l| l.bytes().chain([b'\n']))
        .collect()
}

/// Input: a corpus file with up to 16 mutations (libFuzzer's kind: a byte replaced, a byte
/// inserted, a piece inserted, the rest cut off).
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<usize>(),
        prop::collection::vec((any::<u16>(), any::<u8>(), 0u8..4), 0..16),
    )
        .prop_map(|(i, muts)| {
            let mut b = corpus(i);
            for (pos, byte, op) in muts {
                let at = usize::from(pos) % (b.len() + 1);
                match op {
                    0 if at < b.len() => b[at] = byte,
                    1 => b.insert(at, byte),
                    2 => {
                        let piece = PIECES[usize::from(byte) % PIECES.len()];
                        b.splice(at..at, piece.iter().copied());
                    }
                    _ => b.truncate(at),
                }
            }
            b
        })
}

proptest! {
    #[test]
    fn the_corpus_mutated_is_taken_in_plain_mode(mut bytes in mutated()) {
        bytes.extend_from_slice(b"\necho fuzz-end\n");
        let s = script(&bytes);
        prop_assert!(s.transcript().contains("rtos> "));
    }

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
