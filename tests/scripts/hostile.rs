// Shared by the shell's host tests (shell/src/tests/hostile.rs) and the QEMU tests
// (tests/tests/qemu.rs), so both feed the same bytes. Included with `include!`.

/// Random bytes (fixed seed), escape-sequence garbage aimed at the line editor's known weak spots,
/// a 64 KiB line, then `echo alive`.
pub fn hostile_script() -> Vec<u8> {
    let mut s = Vec::new();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push((x >> 24) as u8);
    }
    s.extend_from_slice(b"\n");
    for garbage in [
        &b"\x1b[24;0R"[..],                                 // zero-column cursor report
        b"\x1b[0;0R\x1b[R\x1b[;R",                          // zero / missing parameters
        b"\x1b[99999999999999999999;99999999999999999999R", // overflowing numbers
        b"\x1b7\x1b[999;999H\x1b[6n\x1b8",                  // the probe itself, echoed back
        b"\x1b]0;unterminated OSC",                         // string sequence with no ST
        b"\x1bPunterminated DCS",
        b"\x1b[",
        b"\x1b",
        b"\x1b[A\x1b[B\x1b[C\x1b[D\x1bOA\x1b[3~\x1b[200~",
        b"\xff\xfe\xc3\x28\xe2\x82\xf0\x9f\x92", // invalid UTF-8
        b"\0\0\0\x07\x08\x7f\x03\x04\x1a\x1c",   // NUL, BEL, BS, DEL, ^C ^D ^Z ^\
    ] {
        s.extend_from_slice(garbage);
        s.push(b'\n');
    }
    s.extend_from_slice(b"\x1b[");
    s.extend(std::iter::repeat_n(b'9', 10_000));
    s.push(b'\n');
    s.extend_from_slice(b"echo ");
    s.extend(std::iter::repeat_n(b'A', 64 * 1024));
    s.push(b'\n');
    s.extend_from_slice(b"echo alive\n");
    s
}
