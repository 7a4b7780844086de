//! QEMU integration tests: boot the real kernel on both boards (`virt` with `-smp 4` unless said
//! otherwise, and `raspi4b`) and drive the shell through the runner.
//!
//! Needs QEMU >= 9.0 (`just setup`); enabled by the `qemu` feature:
//! `cargo test -p tests --features qemu --test qemu` (part of `just test`). The images are built
//! once per board through the runner (a no-op when `just test` already built them). Each test
//! boots its own QEMU; the harness runs them in parallel.
//!
//! Most scripts are the files in `tests/scripts/`, so a failure can be replayed with e.g.
//! `just script tests/scripts/set-e.rsh rpi4`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use runner::{Board, Ending, Outcome, ScriptOpts, build, run_script};

/// Generous per-run limit: a hang fails the test instead of wedging the suite.
const TIMEOUT: Duration = Duration::from_secs(30);

fn image(board: Board) -> PathBuf {
    static IMAGES: [OnceLock<Result<PathBuf, String>>; 2] = [OnceLock::new(), OnceLock::new()];
    IMAGES[board as usize]
        .get_or_init(|| build::build(&build::workspace_root(), board, true).map_err(|e| e.0))
        .clone()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn run_with(
    board: Board,
    smp: Option<u32>,
    script: impl AsRef<[u8]>,
    timeout: Duration,
) -> Outcome {
    let opts = ScriptOpts {
        kernel: Some(image(board)),
        smp,
        timeout,
        ..ScriptOpts::default()
    };
    run_script(board, script, &opts)
}

fn run(board: Board, script: impl AsRef<[u8]>) -> Outcome {
    run_with(board, None, script, TIMEOUT)
}

/// A failure report: status, why, QEMU's stderr and (the end of) the transcript.
fn show(o: &Outcome) -> String {
    let t = &o.transcript;
    let mut cut = t.len().saturating_sub(6000);
    while !t.is_char_boundary(cut) {
        cut += 1;
    }
    format!(
        "status {} ({:?}) after {:?}; {}\n$ {}\n--- qemu stderr ---\n{}--- transcript{} ---\n{}",
        o.status,
        o.ending,
        o.elapsed,
        o.message.as_deref().unwrap_or("no runner message"),
        o.command,
        o.stderr,
        if cut > 0 { " (end)" } else { "" },
        &t[cut..],
    )
}

fn panic_lines(o: &Outcome) -> usize {
    o.lines().filter(|l| l.starts_with("KERNEL PANIC")).count()
}

/// Defines `<name>_virt` and `<name>_rpi4` tests calling `name(board)`.
macro_rules! both_boards {
    ($($name:ident),* $(,)?) => {
        mod virt {
            $(#[test] fn $name() { super::$name(runner::Board::Virt) })*
        }
        mod rpi4 {
            $(#[test] fn $name() { super::$name(runner::Board::Rpi4) })*
        }
    };
}

both_boards!(
    hello,
    set_e_stops_at_the_failing_command,
    end_of_script_gives_the_last_status,
    many_lines_arrive_intact_and_in_order,
    a_script_larger_than_the_receive_buffer_arrives_whole,
    crash_panic,
    crash_fault,
    timeout_kills_qemu,
    hostile_bytes_then_alive,
    reboot_ends_the_run_with_0,
);

fn hello(board: Board) {
    let o = run(board, include_str!("../scripts/hello.rsh"));
    assert_eq!(o.status, 3, "{}", show(&o));
    assert_eq!(o.ending, Ending::Exited(3), "{}", show(&o));
    assert!(o.has_line("cpus: 4/4 online"), "{}", show(&o));
    assert!(o.has_line("hi"), "{}", show(&o));
    assert_eq!(panic_lines(&o), 0, "{}", show(&o));
}

fn smp(n: u32) {
    let o = run_with(
        Board::Virt,
        Some(n),
        include_str!("../scripts/cpus.rsh"),
        TIMEOUT,
    );
    assert_eq!(o.status, 0, "{}", show(&o));
    assert!(o.has_line(&format!("cpus: {n}/{n} online")), "{}", show(&o));
}

#[test]
fn virt_smp_8() {
    smp(8);
}

#[test]
fn virt_smp_1() {
    smp(1);
}

/// `virtualization=on` enters the kernel at EL2 (as the Pi 4 firmware does) and moves PSCI to the
/// SMC conduit: the kernel must drop to EL1 and still start every CPU.
#[test]
fn virt_el2_entry_with_smc_psci() {
    let opts = ScriptOpts {
        kernel: Some(image(Board::Virt)),
        timeout: TIMEOUT,
        extra_args: vec!["-M".into(), "virt,gic-version=2,virtualization=on".into()],
        ..ScriptOpts::default()
    };
    let o = run_script(Board::Virt, "echo up\npoweroff 7\n", &opts);
    assert_eq!(o.status, 7, "{}", show(&o));
    assert!(o.has_line("entry: EL2 (running at EL1)"), "{}", show(&o));
    assert!(o.has_line("cpus: 4/4 online"), "{}", show(&o));
    assert!(o.has_line("up"), "{}", show(&o));
}

fn set_e_stops_at_the_failing_command(board: Board) {
    let o = run(board, include_str!("../scripts/set-e.rsh"));
    assert_eq!(o.status, 2, "{}", show(&o));
    assert!(o.has_line("before"), "{}", show(&o));
    assert!(!o.has_line("MARKER"), "{}", show(&o));
    assert!(!o.transcript.contains("echo MARKER"), "{}", show(&o));
}

fn end_of_script_gives_the_last_status(board: Board) {
    let o = run(board, include_str!("../scripts/last-status.rsh"));
    assert_eq!(o.status, 2, "{}", show(&o));
    assert!(o.has_line("ok"), "{}", show(&o));
    let o = run(board, "sleep bogus\necho fine");
    assert_eq!(o.status, 0, "{}", show(&o));
    assert!(o.has_line("fine"), "{}", show(&o));
}

/// The transcript's lines (trimmed) that start with `prefix`, in order.
fn lines_starting<'a>(o: &'a Outcome, prefix: &str) -> Vec<&'a str> {
    o.lines()
        .map(str::trim)
        .filter(|l| l.starts_with(prefix))
        .collect()
}

fn many_lines_arrive_intact_and_in_order(board: Board) {
    let o = run(board, include_str!("../scripts/lines.rsh"));
    assert_eq!(o.status, 0, "{}", show(&o));
    let got = lines_starting(&o, "line-");
    let want: Vec<String> = (0..200).map(|i| format!("line-{i}")).collect();
    assert_eq!(got, want, "{}", show(&o));
}

/// 2000 lines, about 30 KiB: more than the kernel's 16 KiB receive ring, so reception must
/// pause and resume (back-pressure through QEMU) without losing or wedging anything.
fn a_script_larger_than_the_receive_buffer_arrives_whole(board: Board) {
    let n = 2000;
    let script: String = (0..n).map(|i| format!("echo line-{i:05}\n")).collect();
    assert!(script.len() > 16 * 1024);
    let o = run(board, &script);
    assert_eq!(o.status, 0, "{}", show(&o));
    let got = lines_starting(&o, "line-");
    let want: Vec<String> = (0..n).map(|i| format!("line-{i:05}")).collect();
    assert!(
        got == want,
        "{} of {n} lines came back\n{}",
        got.len(),
        show(&o)
    );
}

fn crash(board: Board, script: &str) {
    let o = run(board, script);
    assert_eq!(o.status, 101, "{}", show(&o));
    assert_eq!(o.ending, Ending::Panic, "{}", show(&o));
    assert!(panic_lines(&o) >= 1, "{}", show(&o));
    assert!(o.has_line("crashing"), "{}", show(&o));
    assert!(!o.has_line("never"), "{}", show(&o));
    // The guest ends by itself (semihosting exit 101), not by the runner's kill.
    assert!(
        o.message
            .as_deref()
            .unwrap_or("")
            .contains("exited with status 101"),
        "{}",
        show(&o)
    );
}

fn crash_panic(board: Board) {
    crash(board, include_str!("../scripts/crash-panic.rsh"));
}

fn crash_fault(board: Board) {
    crash(board, include_str!("../scripts/crash-fault.rsh"));
}

fn timeout_kills_qemu(board: Board) {
    let o = run_with(
        board,
        None,
        include_str!("../scripts/sleep.rsh"),
        Duration::from_secs(3),
    );
    assert_eq!(o.status, 124, "{}", show(&o));
    assert_eq!(o.ending, Ending::NoEnd, "{}", show(&o));
    assert!(o.has_line("sleeping"), "{}", show(&o));
    assert!(!o.has_line("woke"), "{}", show(&o));
    assert!(o.elapsed < Duration::from_secs(5), "{}", show(&o));
    let pid = o.pid.expect("QEMU ran");
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "QEMU (pid {pid}) still exists after the timeout"
    );
}

/// Script mode passes `-no-reboot`, so a reset ends QEMU with status 0.
fn reboot_ends_the_run_with_0(board: Board) {
    let o = run(board, "echo before\nreboot\necho after\npoweroff 7\n");
    assert_eq!(o.status, 0, "{}", show(&o));
    assert!(o.has_line("before"), "{}", show(&o));
    assert!(!o.has_line("after"), "{}", show(&o));
}

include!("../scripts/hostile.rs");

fn hostile_bytes_then_alive(board: Board) {
    let script = hostile_script();
    // Keep a copy to replay by hand: `just script target/qemu-tests/hostile.rsh`.
    let dir = build::workspace_root().join("target/qemu-tests");
    let _ = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join("hostile.rsh"), &script));
    let o = run(board, &script);
    assert_eq!(o.status, 0, "{}", show(&o));
    assert!(o.has_line("alive"), "{}", show(&o));
    assert_eq!(panic_lines(&o), 0, "{}", show(&o));
    assert!(
        o.transcript.contains("too long"),
        "the 64 KiB line was not rejected\n{}",
        show(&o)
    );
}
