//! `reload` in whole sessions: the image's bytes reach the receiver raw in plain and terminal
//! mode (every byte value, Ctrl-C and escape sequences included), a good image is handed to the
//! system, a bad one is refused with one error line and the shell goes on.

use std::string::String;
use std::vec::Vec;

use super::fakes::{FakeIo, FakeSystem, MS, run, script, terminal};
use crate::reload::proto::{ACK, crc32};

/// A frame as `runner push` sends it: header, then the image.
fn frame(image: &[u8], board: &str) -> Vec<u8> {
    let mut h = b"RTOSLOAD".to_vec();
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&48u16.to_le_bytes());
    h.extend_from_slice(&(image.len() as u32).to_le_bytes());
    h.extend_from_slice(&crc32(image).to_le_bytes());
    h.extend_from_slice(&0x8_0000u64.to_le_bytes());
    let mut name = [0u8; 16];
    name[..board.len()].copy_from_slice(board.as_bytes());
    h.extend_from_slice(&name);
    let c = crc32(&h);
    h.extend_from_slice(&c.to_le_bytes());
    h.extend_from_slice(image);
    h
}

/// 10,000 bytes holding every value, Ctrl-C, ESC sequences and line ends among them.
fn image() -> Vec<u8> {
    let mut v: Vec<u8> = (0..10_000u32).map(|i| (i * 13 + i / 256) as u8).collect();
    v[100..110].copy_from_slice(b"\x1b[6n\r\n\x03\x04\x7f\x08");
    v
}

/// `command`, then `bytes`, then `after` (the lines after the transfer), as one input.
fn input(command: &[u8], bytes: &[u8], after: &[u8]) -> Vec<u8> {
    [command, bytes, after].concat()
}

/// A plain session: `reload`, `bytes`, then `after`.
fn plain(bytes: &[u8], after: &[u8]) -> super::fakes::Session {
    script(&input(b"reload\n", bytes, after))
}

fn lines(t: &str) -> Vec<String> {
    t.split("\r\n").map(String::from).collect()
}

#[test]
fn a_good_image_arrives_whole_and_goes_to_the_system() {
    let img = image();
    let s = plain(&frame(&img, "rpi4"), b"echo status=$?\n");
    assert_eq!(s.sys.reloaded, std::slice::from_ref(&img));
    let t = s.transcript();
    // One ACK for the header and one per full 4 KiB chunk; none echoed as text.
    assert_eq!(t.bytes().filter(|&b| b == ACK).count(), 1 + 2, "{t:?}");
    let l = lines(&t.replace(char::from(ACK), ""));
    assert!(
        l.iter()
            .any(|l| l.starts_with("reload: ready for a rpi4 image of at most 65536 bytes")),
        "{l:?}"
    );
    let ok = std::format!(
        "reload: received 10000 bytes, CRC-32 {:#010x} ok",
        crc32(&img)
    );
    let at = l.iter().position(|x| *x == ok).expect("the ok line");
    assert_eq!(l[at + 1], "reload: starting the new kernel");
    // The fake system returns instead of jumping: that is an error, and the shell goes on.
    assert_eq!(
        l[at + 2],
        "error: reload: fake system: recorded the image, did not start it"
    );
    assert!(l.contains(&"status=1".into()), "{l:?}");
}

#[test]
fn check_verifies_without_starting() {
    let img = image();
    let s = script(&input(
        b"reload --check\n",
        &frame(&img, "rpi4"),
        b"echo status=$?\n",
    ));
    assert!(s.sys.reloaded.is_empty());
    let t = s.transcript();
    assert!(t.contains("reload: --check: not starting it\r\n"), "{t:?}");
    assert!(t.contains("status=0\r\n"), "{t:?}");
}

#[test]
fn a_corrupt_image_is_refused_and_the_shell_goes_on() {
    let img = image();
    let mut f = frame(&img, "rpi4");
    let n = f.len();
    f[n - 1] ^= 0xff;
    let s = plain(&f, b"echo status=$?\necho alive\n");
    assert!(s.sys.reloaded.is_empty());
    let l = lines(&s.transcript().replace(char::from(ACK), ""));
    let err: Vec<&String> = l.iter().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(err.len(), 1, "{l:?}");
    assert!(
        err[0].starts_with("error: reload: CRC mismatch: the image's CRC-32 is 0x"),
        "{err:?}"
    );
    assert!(
        l.contains(&"status=1".into()) && l.contains(&"alive".into()),
        "{l:?}"
    );
}

#[test]
fn an_image_for_another_board_is_refused_at_its_header() {
    let img = image();
    // The sender stops at a refused header: only the header goes out.
    let s = plain(&frame(&img, "qemu-virt")[..48], b"echo status=$?\n");
    assert!(s.sys.reloaded.is_empty());
    let t = s.transcript();
    assert!(
        t.contains("error: reload: wrong board: the image is for 'qemu-virt', this is 'rpi4'\r\n"),
        "{t:?}"
    );
    assert!(
        !t.contains(char::from(ACK)),
        "no ACK for a refused header: {t:?}"
    );
    assert!(t.contains("status=1\r\n"), "{t:?}");
}

#[test]
fn a_truncated_image_times_out_and_the_next_line_runs() {
    let sys = FakeSystem::new();
    let mut io = FakeIo::new(&sys.clock);
    let img = image();
    let f = frame(&img, "rpi4");
    io.feed(b"reload\n");
    io.feed(&f[..f.len() - 1000]);
    // The rest never comes; the next line does, 10 s later.
    io.schedule(10_000 * MS, b"echo status=$?\n");
    let s = run(io, sys);
    let t = s.transcript();
    assert!(
        t.contains(
            "error: reload: timeout: nothing for 2 s after 9048 of 10048 bytes (truncated?)\r\n"
        ),
        "{t:?}"
    );
    assert!(t.contains("status=1\r\n"), "{t:?}");
    assert!(s.sys.reloaded.is_empty());
    // It noticed within the timeout and a few idle steps, not at the next line.
    assert!(
        s.sys.idles >= 2000 && s.sys.idles < 2100,
        "{} idles",
        s.sys.idles
    );
}

#[test]
fn a_uart_receive_error_after_the_header_fails_the_transfer_at_once() {
    let mut sys = FakeSystem::new();
    // An error counted before the header (a noisy plug-in) does not matter; one after it does.
    sys.uart_error_at = Some(20 * MS);
    let mut io = FakeIo::new(&sys.clock);
    let img = image();
    let f = frame(&img, "rpi4");
    io.feed(b"reload\n");
    io.feed(&f[..48 + 4096]);
    // The sender waits for the next ACK, gets the refusal instead, and stops.
    io.schedule(3000 * MS, b"echo status=$?\n");
    let s = run(io, sys);
    let t = s.transcript();
    assert!(
        t.contains(
            "error: reload: the UART lost or damaged 1 byte(s) after 4144 bytes (receive \
             overrun, or noise on the line)"
        ),
        "{t:?}"
    );
    assert!(t.contains("status=1\r\n"), "{t:?}");
    assert!(s.sys.reloaded.is_empty());
    // Noticed while waiting for the next chunk, long before the 2 s pause limit.
    assert!(s.sys.idles < 50, "{} idles", s.sys.idles);

    // The same errors before the header leave a transfer alone.
    let mut sys = FakeSystem::new();
    sys.uart_error_at = Some(20 * MS);
    let mut io = FakeIo::new(&sys.clock);
    io.feed(b"reload\n");
    io.schedule(50 * MS, &f);
    let s = run(io, sys);
    assert_eq!(s.sys.reloaded, [img]);
}

#[test]
fn ctrl_c_while_waiting_for_the_header_gives_130() {
    let s = plain(b"\x03", b"echo status=$?\n");
    let t = s.transcript();
    assert!(t.contains("^C\r\nrtos> "), "{t:?}");
    assert!(t.contains("status=130\r\n"), "{t:?}");
    assert!(!t.contains("error:"), "{t:?}");
}

#[test]
fn end_of_input_during_the_transfer_is_refused() {
    let img = image();
    let f = frame(&img, "rpi4");
    let s = plain(&f[..500], b"");
    let t = s.transcript();
    assert!(
        t.contains("error: reload: the input ended after 500 bytes\r\n"),
        "{t:?}"
    );
}

#[test]
fn a_system_that_cannot_reload_says_so() {
    let mut sys = FakeSystem::new();
    sys.reload_target = None;
    let mut io = FakeIo::new(&sys.clock);
    io.feed(b"reload\necho status=$?\n");
    let s = run(io, sys);
    let t = s.transcript();
    assert!(
        t.contains("error: reload: this system cannot start another kernel\r\n"),
        "{t:?}"
    );
    assert!(t.contains("status=1\r\n"), "{t:?}");
}

#[test]
fn in_terminal_mode_the_bytes_bypass_the_line_editor() {
    let img = image();
    let typed = input(b"reload\r", &frame(&img, "rpi4"), b"echo status=$?\r");
    let s = terminal(b"\x1b[24;80R", &typed);
    assert_eq!(s.sys.reloaded, [img]);
    let t = String::from_utf8_lossy(&s.io.output).into_owned();
    assert!(t.contains("reload: starting the new kernel\r\n"), "{t:?}");
    assert!(t.contains("status=1\r\n"), "{t:?}");
}

#[test]
fn help_describes_reload() {
    let s = script(b"help reload\n");
    let t = s.transcript();
    assert!(t.contains("usage: reload [--check]\r\n"), "{t:?}");
    assert!(t.contains("just push"), "{t:?}");
}
