//! The runner's own logic, exercised against `fake-guest` (a stand-in for QEMU + kernel) through
//! both the library ([`run_script`]) and the `runner` binary. No QEMU needed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use runner::{Board, Ending, Outcome, ScriptOpts, run_script};

const FAKE: &str = env!("CARGO_BIN_EXE_fake-guest");
const RUNNER: &str = env!("CARGO_BIN_EXE_runner");

/// Any existing file does as the "kernel": the fake ignores it, and `--kernel` skips the build.
fn kernel() -> PathBuf {
    PathBuf::from(FAKE)
}

fn opts(env: &[(&str, &str)]) -> ScriptOpts {
    ScriptOpts {
        kernel: Some(kernel()),
        qemu: Some(FAKE.into()),
        timeout: Duration::from_secs(20),
        env: env
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect(),
        ..ScriptOpts::default()
    }
}

fn run(script: &str) -> Outcome {
    run_script(Board::Virt, script, &opts(&[]))
}

fn show(o: &Outcome) -> String {
    format!(
        "status {} ({:?}), message {:?}\n--- transcript ---\n{}\n--- stderr ---\n{}",
        o.status, o.ending, o.message, o.transcript, o.stderr
    )
}

/// Whether a process with this pid exists (zombies included).
fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("runner-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the `runner` binary against the fake guest.
fn cli(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    use std::io::Write;
    let mut c = Command::new(RUNNER)
        .args(args)
        .env("RUNNER_QEMU", FAKE)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut i = c.stdin.take().unwrap();
    let data = stdin.to_vec();
    let w = std::thread::spawn(move || {
        let _ = i.write_all(&data);
    });
    let o = c.wait_with_output().unwrap();
    w.join().unwrap();
    o
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn hello_prints_and_exits_with_poweroff_status() {
    let o = run("echo hi\npoweroff 3\necho never\n");
    assert_eq!(o.status, 3, "{}", show(&o));
    assert_eq!(o.ending, Ending::Exited(3));
    assert!(o.has_line("hi"), "{}", show(&o));
    assert!(!o.has_line("never"), "{}", show(&o));
    assert!(o.message.is_none());
    assert!(o.has_line("cpus: 4/4 online"), "{}", show(&o));
}

#[test]
fn end_of_script_gives_last_status() {
    assert_eq!(run("echo a\nfalse").status, 1);
    assert_eq!(run("false\ntrue\n").status, 0);
    assert_eq!(run("").status, 0);
    assert_eq!(run("nosuchcommand").status, 127);
}

#[test]
fn set_e_stops_at_the_failing_command() {
    let o = run("set -e\necho before\nsleep bogus\necho MARKER\npoweroff 9\n");
    assert_eq!(o.status, 2, "{}", show(&o));
    assert!(o.has_line("before"));
    assert!(!o.has_line("MARKER"), "{}", show(&o));
}

#[test]
fn many_lines_arrive_intact_through_a_slow_uart() {
    // 2000 lines (~70 KiB, more than a pipe holds) into a guest that reads slowly: the writer
    // must block rather than drop anything.
    let n = 2000;
    let script: String = (0..n).map(|i| format!("echo line-{i}\n")).collect();
    let o = run_script(
        Board::Virt,
        &script,
        &opts(&[("FAKE_GUEST_READ_DELAY_US", "5")]),
    );
    assert_eq!(o.status, 0, "{}", show(&o));
    let got: Vec<&str> = o.lines().filter(|l| l.starts_with("line-")).collect();
    let want: Vec<String> = (0..n).map(|i| format!("line-{i}")).collect();
    assert_eq!(got, want);
}

#[test]
fn a_panic_gives_101() {
    let o = run("echo hi\ncrash panic\necho never\n");
    assert_eq!(o.status, 101, "{}", show(&o));
    assert_eq!(o.ending, Ending::Panic);
    assert!(o.lines().any(|l| l.starts_with("KERNEL PANIC")));
    assert!(!o.has_line("never"));
}

#[test]
fn a_panic_that_hangs_is_killed_after_the_grace_period() {
    let t = Instant::now();
    let mut op = opts(&[("FAKE_GUEST_PANIC_HANG", "1")]);
    op.timeout = Duration::from_secs(30);
    let o = run_script(Board::Virt, "crash fault\n", &op);
    assert_eq!(o.status, 101, "{}", show(&o));
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(o.message.as_deref().unwrap().contains("killed QEMU"));
    assert!(!alive(o.pid.unwrap()));
}

#[test]
fn a_guest_that_does_not_end_times_out_and_is_killed() {
    let mut op = opts(&[]);
    op.timeout = Duration::from_secs(1);
    let t = Instant::now();
    let o = run_script(Board::Virt, "echo started\nsleep 10s\necho never\n", &op);
    let took = t.elapsed();
    assert_eq!(o.status, 124, "{}", show(&o));
    assert_eq!(o.ending, Ending::NoEnd);
    assert!(o.has_line("started"));
    assert!(!o.has_line("never"));
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert!(!alive(o.pid.unwrap()), "QEMU (pid {:?}) still there", o.pid);
}

#[test]
fn no_prompt_times_out() {
    let mut op = opts(&[("FAKE_GUEST_MODE", "no-prompt")]);
    op.timeout = Duration::from_millis(500);
    let o = run_script(Board::Virt, "echo hi\n", &op);
    assert_eq!(o.status, 124, "{}", show(&o));
    assert_eq!(o.ending, Ending::NoPrompt);
    assert!(o.message.as_deref().unwrap().contains("no `rtos> ` prompt"));
    assert!(o.has_line("cpus: 4/4 online"));
    assert!(!alive(o.pid.unwrap()));
}

#[test]
fn start_failures_give_125() {
    // No such emulator.
    let mut op = opts(&[]);
    op.qemu = Some("/nonexistent/qemu-system-aarch64".into());
    let o = run_script(Board::Virt, "echo hi\n", &op);
    assert_eq!(
        (o.status, &o.ending),
        (125, &Ending::StartFailed),
        "{}",
        show(&o)
    );
    assert!(o.message.unwrap().contains("could not start"));
    // The emulator refuses (exit 1, nothing on the serial line).
    let o = run_script(
        Board::Virt,
        "",
        &opts(&[("FAKE_GUEST_MODE", "silent-fail")]),
    );
    assert_eq!(o.status, 125, "{}", show(&o));
    assert!(o.stderr.contains("unsupported machine"));
    // No such kernel.
    let mut op = opts(&[]);
    op.kernel = Some("/nonexistent/kernel".into());
    assert_eq!(run_script(Board::Virt, "", &op).status, 125);
    // The build fails (a directory that is no cargo workspace).
    let root = temp_dir("nobuild");
    let mut op = opts(&[]);
    op.kernel = None;
    op.root = Some(root.clone());
    let o = run_script(Board::Virt, "", &op);
    assert_eq!(o.status, 125, "{}", show(&o));
    assert!(
        o.message
            .unwrap()
            .contains("building the virt kernel failed")
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn an_early_exit_keeps_its_status_with_a_warning() {
    let o = run_script(Board::Virt, "", &opts(&[("FAKE_GUEST_MODE", "early-exit")]));
    assert_eq!(o.status, 7, "{}", show(&o));
    assert!(o.message.unwrap().contains("before the first"));
}

/// Issue 14 item 4: a CPU missing from the banner fails the run with its own status, never 0,
/// unless the caller accepts it.
#[test]
fn a_missing_cpu_gives_122_unless_allowed() {
    let mut o = opts(&[("FAKE_GUEST_ONLINE", "3")]);
    let r = run_script(Board::Rpi4, "echo hi\n", &o);
    assert_eq!(r.status, runner::STATUS_MISSING_CPUS, "{}", show(&r));
    assert!(
        r.message
            .as_deref()
            .unwrap_or("")
            .contains("only 3 of 4 CPUs"),
        "{:?}",
        r.message
    );
    o.allow_missing_cpus = true;
    assert_eq!(run_script(Board::Rpi4, "echo hi\n", &o).status, 0);
    assert_eq!(run_script(Board::Rpi4, "echo hi\n", &opts(&[])).status, 0);
}

#[test]
fn the_transcript_is_clean_and_raw_keeps_the_bytes() {
    let o = run_script(
        Board::Virt,
        "echo hi\n",
        &opts(&[("FAKE_GUEST_PROBE", "1")]),
    );
    assert_eq!(o.status, 0);
    for seq in ["\x1b[6n", "\x1b[999;999H", "\x1b7", "\x1b8", "\r\n"] {
        assert!(!o.transcript.contains(seq), "{seq:?} in {:?}", o.transcript);
    }
    assert!(
        o.transcript.contains("\nrtos> echo hi\nhi\n"),
        "{:?}",
        o.transcript
    );
    assert_eq!(o.prompts, 2, "{:?}", o.transcript); // before `echo hi` and `exit`
    let mut raw = opts(&[("FAKE_GUEST_PROBE", "1")]);
    raw.raw = true;
    let o = run_script(Board::Virt, "echo hi\n", &raw);
    assert!(o.transcript.contains("\x1b[6n"), "{:?}", o.transcript);
    assert!(o.transcript.contains("\r\nhi\r\n"), "{:?}", o.transcript);
}

#[test]
fn hostile_bytes_are_passed_through_untouched() {
    // Every byte value except line ends, a long line, then a normal command.
    let mut s: Vec<u8> = (0u8..=255).filter(|b| *b != b'\n' && *b != b'\r').collect();
    s.push(b'\n');
    s.extend(std::iter::repeat_n(b'A', 64 * 1024));
    s.extend_from_slice(b"\necho alive\n");
    let o = run_script(Board::Virt, &s, &opts(&[]));
    assert_eq!(o.status, 0, "{}", show(&o));
    assert!(o.has_line("alive"));
    // The fake echoes input, so the transcript holds the bytes exactly.
    let nonl: Vec<u8> = (0u8..=255).filter(|b| *b != b'\n' && *b != b'\r').collect();
    assert!(o.bytes.windows(nonl.len()).any(|w| w == nonl.as_slice()));
}

#[test]
fn the_qemu_command_line_reaches_the_emulator() {
    let dir = temp_dir("argv");
    let f = dir.join("argv");
    let fs = f.to_str().unwrap();
    let mut op = opts(&[("FAKE_GUEST_ARGV", fs)]);
    op.smp = Some(8);
    let o = run_script(Board::Virt, "", &op);
    assert!(o.has_line("cpus: 8/8 online"), "{}", show(&o));
    let argv = std::fs::read_to_string(&f).unwrap().replace('\n', " ");
    assert_eq!(
        argv,
        format!(
            "-M virt,gic-version=2 -cpu cortex-a72 -smp 8 -m 1G -display none -monitor none \
             -serial stdio -semihosting-config enable=on,target=native -no-reboot -kernel {}",
            kernel().display()
        )
    );
    let o = run_script(Board::Rpi4, "", &opts(&[("FAKE_GUEST_ARGV", fs)]));
    assert_eq!(o.status, 0);
    let argv = std::fs::read_to_string(&f).unwrap().replace('\n', " ");
    assert!(
        argv.starts_with("-M raspi4b -display none -monitor none -serial stdio "),
        "{argv}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

// ---- the `runner` binary ----

#[test]
fn cli_script_from_stdin_copies_the_transcript_and_exits_with_the_status() {
    let k = kernel();
    let o = cli(
        &["script", "-", "virt", "--kernel", k.to_str().unwrap()],
        b"echo hi\npoweroff 3",
        &[],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("cpus: 4/4 online"), "{out}");
    assert!(out.contains("\nhi\n") && !out.contains('\r'), "{out}");
    assert!(o.stderr.is_empty(), "{}", text(&o.stderr));
}

#[test]
fn cli_script_file_on_rpi4() {
    let dir = temp_dir("clifile");
    let f = dir.join("s.rsh");
    std::fs::write(&f, "echo from-file\nexit 5\n").unwrap();
    let k = kernel();
    let o = cli(
        &[
            "script",
            f.to_str().unwrap(),
            "rpi4",
            "--kernel",
            k.to_str().unwrap(),
        ],
        b"",
        &[],
    );
    assert_eq!(o.status.code(), Some(5));
    assert!(text(&o.stdout).contains("from-file"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cli_timeout_is_124_with_a_message_and_no_leftover_process() {
    let k = kernel();
    let t = Instant::now();
    let o = cli(
        &[
            "script",
            "-",
            "--timeout",
            "1",
            "--kernel",
            k.to_str().unwrap(),
        ],
        b"sleep 10s\n",
        &[],
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(o.status.code(), Some(124));
    let err = text(&o.stderr);
    assert!(err.contains("did not end within 1s"), "{err}");
    let pid: u32 = err
        .split("pid ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {err}"));
    assert!(!alive(pid), "pid {pid} still there");
}

#[test]
fn cli_panic_is_101() {
    let k = kernel();
    let o = cli(
        &["script", "-", "--kernel", k.to_str().unwrap()],
        b"crash panic\n",
        &[],
    );
    assert_eq!(o.status.code(), Some(101));
    assert!(text(&o.stdout).contains("\nKERNEL PANIC"));
    assert!(text(&o.stderr).contains("KERNEL PANIC"));
}

#[test]
fn cli_start_failure_is_125() {
    let k = kernel();
    let o = cli(
        &["script", "-", "--kernel", k.to_str().unwrap()],
        b"",
        &[("RUNNER_QEMU", "/nonexistent/qemu")],
    );
    assert_eq!(o.status.code(), Some(125));
    assert!(text(&o.stderr).contains("could not start /nonexistent/qemu"));
}

#[test]
fn cli_usage_errors_are_2() {
    for args in [
        &["script"][..],
        &["script", "f", "rpi4", "--smp", "2"],
        &["script", "f", "--timeout", "x"],
        &["launch"],
        &[],
    ] {
        let o = cli(args, b"", &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(text(&o.stderr).contains("usage:"), "{args:?}");
    }
    let o = cli(&["script", "/nonexistent.rsh", "--kernel", FAKE], b"", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("cannot read script"));
    let o = cli(&["--help"], b"", &[]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).contains("runner script"));
}

#[test]
fn cli_image_writes_the_sd_folder() {
    let dir = temp_dir("image");
    let k = dir.join("k.img");
    std::fs::write(&k, b"KERNEL").unwrap();
    let out = dir.join("sd");
    let o = cli(
        &[
            "image",
            "rpi4",
            "--kernel",
            k.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        b"",
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(std::fs::read(out.join("kernel8.img")).unwrap(), b"KERNEL");
    let cfg = std::fs::read_to_string(out.join("config.txt")).unwrap();
    for l in [
        "arm_64bit=1",
        "enable_gic=1",
        "enable_uart=1",
        "kernel_address=0x80000",
        "init_uart_clock=48000000",
        "kernel=kernel8.img",
    ] {
        assert!(cfg.lines().any(|x| x == l), "{l}");
    }
    // The kernel routes the UART itself; Debian packages no overlay to put on the card.
    assert!(!cfg.lines().any(|x| x.starts_with("dtoverlay")), "{cfg}");
    let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
    assert!(
        sums.lines().any(|l| l.ends_with("  kernel8.img")) && sums.lines().count() == 2,
        "{sums}"
    );
    let msg = text(&o.stdout);
    assert!(
        msg.contains("start4.elf") && msg.contains(out.to_str().unwrap()),
        "{msg}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cli_run_hands_the_terminal_to_qemu_with_the_monitor_mux() {
    // `run` replaces itself with the emulator: stdin goes straight to the fake's shell.
    let dir = temp_dir("run");
    let f = dir.join("argv");
    let k = kernel();
    let o = cli(
        &["run", "virt", "--smp", "2", "--kernel", k.to_str().unwrap()],
        b"echo interactive\npoweroff 4\n",
        &[("FAKE_GUEST_ARGV", f.to_str().unwrap())],
    );
    assert_eq!(o.status.code(), Some(4));
    assert!(text(&o.stdout).contains("cpus: 2/2 online"));
    let argv = std::fs::read_to_string(&f).unwrap().replace('\n', " ");
    assert!(argv.contains("-serial mon:stdio "), "{argv}");
    assert!(!argv.contains("-no-reboot"), "{argv}");
    std::fs::remove_dir_all(dir).unwrap();
}
