//! Running the guest: non-interactively with a script ([`run_script`]) or on this terminal
//! ([`run_interactive`]).
//!
//! # How a script run works
//! 1. The image is built (unless [`ScriptOpts::kernel`] names one) and QEMU is started with piped
//!    stdin/stdout/stderr and `-no-reboot`; the clock for [`ScriptOpts::timeout`] starts here and
//!    covers the whole run.
//! 2. A reader thread copies the serial output to the transcript (and live to our stdout when
//!    [`ScriptOpts::echo`] is set) and reports prompts and `KERNEL PANIC` lines.
//! 3. After the first `rtos> ` prompt a writer thread sends the script, a final newline if the
//!    script lacks one, and the line `exit`, so that running off the end of the script exits with
//!    the last command's status. Bytes are only sent once the guest's UART is set up (before that,
//!    reprogramming the UART would drop bytes in QEMU's receive FIFO); after that QEMU reads
//!    stdin only as fast as the guest drains its FIFO, and the writer simply blocks meanwhile, so
//!    no byte is lost however long the script is.
//! 4. The run ends when QEMU exits. After a `KERNEL PANIC` line the guest gets
//!    [`PANIC_GRACE`] to finish its report and exit by itself before QEMU is killed.
//!    At the deadline QEMU is killed (SIGKILL) and reaped.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::transcript::{Found, Scanner};
use crate::{Board, STATUS_PANIC, STATUS_START_FAILED, STATUS_TIMEOUT, StartError, build, qemu};

/// How long the guest may keep running after it printed `KERNEL PANIC` before QEMU is killed.
pub const PANIC_GRACE: Duration = Duration::from_secs(3);
/// The default for [`ScriptOpts::timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the child is polled for exit.
const POLL: Duration = Duration::from_millis(10);

/// Options for [`run_script`] and [`run_interactive`].
#[derive(Clone, Debug)]
pub struct ScriptOpts {
    /// Limit for the whole QEMU run (not the build).
    pub timeout: Duration,
    /// CPUs on `virt` (`None`: 4). Must be `None` for `rpi4`.
    pub smp: Option<u32>,
    /// Use this image and skip the build.
    pub kernel: Option<PathBuf>,
    /// Copy the transcript to our stdout and QEMU's stderr to our stderr as they arrive.
    pub echo: bool,
    /// The emulator to run instead of [`qemu::program`].
    pub qemu: Option<OsString>,
    /// Extra QEMU arguments, appended after the contract's.
    pub extra_args: Vec<OsString>,
    /// The workspace to build in (default [`build::workspace_root`]).
    pub root: Option<PathBuf>,
    /// Pass `-q` to the kernel build.
    pub quiet_build: bool,
    /// Extra environment variables for QEMU.
    pub env: Vec<(OsString, OsString)>,
    /// A guest that ended by itself gives [`STATUS_WATCHDOG`](crate::STATUS_WATCHDOG) if the
    /// kernel's watchdog reported anything.
    pub fail_on_watchdog: bool,
    /// Keep the transcript's bytes as they came (no `\r\n` to `\n`, probe kept).
    pub raw: bool,
    /// A run where fewer CPUs came online than the machine has keeps the guest's status
    /// (otherwise it gives [`STATUS_MISSING_CPUS`](crate::STATUS_MISSING_CPUS)).
    pub allow_missing_cpus: bool,
}

impl Default for ScriptOpts {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            smp: None,
            kernel: None,
            echo: false,
            qemu: None,
            extra_args: Vec::new(),
            root: None,
            quiet_build: true,
            env: Vec::new(),
            fail_on_watchdog: false,
            raw: false,
            allow_missing_cpus: false,
        }
    }
}

/// Why a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The guest exited (semihosting) with this status.
    Exited(i32),
    /// A `KERNEL PANIC` line appeared.
    Panic,
    /// No `rtos> ` prompt appeared within the timeout.
    NoPrompt,
    /// The guest did not end within the timeout.
    NoEnd,
    /// QEMU died from this signal.
    Signal(i32),
    /// The build or QEMU failed to start.
    StartFailed,
}

/// The result of [`run_script`].
#[derive(Clone, Debug)]
pub struct Outcome {
    /// What `runner script` exits with (see the crate docs).
    pub status: i32,
    /// The serial transcript (lossy UTF-8; clean: LF line ends, no terminal probe, unless raw).
    pub transcript: String,
    /// The transcript as raw bytes.
    pub bytes: Vec<u8>,
    /// Why the run ended.
    pub ending: Ending,
    /// An explanation for stderr when the status is not simply the guest's.
    pub message: Option<String>,
    /// QEMU's stderr.
    pub stderr: String,
    /// QEMU's process id (gone, and reaped, when `run_script` returns).
    pub pid: Option<u32>,
    /// Prompts seen.
    pub prompts: usize,
    /// From QEMU start to end of run.
    pub elapsed: Duration,
    /// The QEMU command line.
    pub command: String,
    /// Watchdog reports in the transcript (lines with [`crate::WATCHDOG_MARKER`]).
    pub watchdog: usize,
    /// The addresses of a `KERNEL PANIC` report named from the kernel's ELF (see
    /// [`crate::symbolize`]), or why they could not be; `None` without a report.
    pub symbols: Option<String>,
}

impl Outcome {
    fn start_failed(message: String) -> Self {
        Outcome {
            status: STATUS_START_FAILED,
            transcript: String::new(),
            bytes: Vec::new(),
            ending: Ending::StartFailed,
            message: Some(message),
            stderr: String::new(),
            pid: None,
            prompts: 0,
            elapsed: Duration::ZERO,
            command: String::new(),
            watchdog: 0,
            symbols: None,
        }
    }

    /// The transcript's lines, without `\r`.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.transcript.lines().map(|l| l.trim_end_matches('\r'))
    }

    /// Whether some transcript line, stripped of `\r` and surrounding blanks, equals `line`.
    pub fn has_line(&self, line: &str) -> bool {
        self.lines().any(|l| l.trim() == line)
    }
}

/// The bytes sent to the guest for `script`: the script, a newline if it does not end with one,
/// then `exit\n`.
pub fn script_input(script: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(script.len() + 6);
    v.extend_from_slice(script);
    if !script.is_empty() && !matches!(script.last(), Some(b'\n' | b'\r')) {
        v.push(b'\n');
    }
    v.extend_from_slice(b"exit\n");
    v
}

/// How QEMU went away, before interpretation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawEnd {
    /// Exited by itself with this code.
    Exited(i32),
    /// Died from a signal we did not send.
    Signaled(i32),
    /// We killed it at the deadline.
    TimedOut,
    /// We killed it after the panic grace period.
    KilledAfterPanic,
}

/// What the run observed, for [`classify`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    /// A prompt appeared.
    pub prompt: bool,
    /// A `KERNEL PANIC` line appeared.
    pub panic: bool,
    /// Any serial output at all.
    pub output: bool,
}

/// Maps how QEMU ended to the runner's exit status, why, and a message for stderr.
/// `timeout` and `pid` only go into messages.
pub fn classify(
    end: RawEnd,
    seen: Seen,
    timeout: Duration,
    pid: u32,
) -> (i32, Ending, Option<String>) {
    let secs = timeout.as_secs_f64();
    if seen.panic {
        let how = match end {
            RawEnd::Exited(c) => format!("the guest exited with status {c}"),
            RawEnd::Signaled(s) => format!("QEMU died from signal {s}"),
            RawEnd::TimedOut | RawEnd::KilledAfterPanic => {
                format!("the guest did not exit by itself; killed QEMU (pid {pid})")
            }
        };
        return (
            STATUS_PANIC,
            Ending::Panic,
            Some(format!("runner: KERNEL PANIC ({how})")),
        );
    }
    match end {
        RawEnd::TimedOut | RawEnd::KilledAfterPanic if !seen.prompt => (
            STATUS_TIMEOUT,
            Ending::NoPrompt,
            Some(format!(
                "runner: timeout: no `rtos> ` prompt within {secs}s; killed QEMU (pid {pid})"
            )),
        ),
        RawEnd::TimedOut | RawEnd::KilledAfterPanic => (
            STATUS_TIMEOUT,
            Ending::NoEnd,
            Some(format!(
                "runner: timeout: the guest did not end within {secs}s; killed QEMU (pid {pid})"
            )),
        ),
        RawEnd::Signaled(s) => (
            128 + s,
            Ending::Signal(s),
            Some(format!("runner: QEMU died from signal {s}")),
        ),
        RawEnd::Exited(code) if code != 0 && !seen.output => (
            STATUS_START_FAILED,
            Ending::StartFailed,
            Some(format!(
                "runner: QEMU failed (exit status {code}) before the guest printed anything; \
                 see its messages above (raspi4b needs QEMU >= 9.0: `just setup`)"
            )),
        ),
        RawEnd::Exited(code) if !seen.prompt => (
            code,
            Ending::Exited(code),
            Some(format!(
                "runner: the guest exited with status {code} before the first `rtos> ` prompt"
            )),
        ),
        RawEnd::Exited(code) => (code, Ending::Exited(code), None),
    }
}

/// Builds the image unless `opts.kernel` names one, and checks that it exists.
pub fn resolve_kernel(board: Board, opts: &ScriptOpts) -> Result<PathBuf, StartError> {
    if board == Board::Rpi4 && opts.smp.is_some() {
        return Err(StartError(
            "--smp is only for virt (the Pi 4 always has 4 CPUs)".into(),
        ));
    }
    let kernel = match &opts.kernel {
        Some(k) => k.clone(),
        None => {
            let root = opts.root.clone().unwrap_or_else(build::workspace_root);
            build::build(&root, board, opts.quiet_build)?
        }
    };
    if !kernel.is_file() {
        return Err(StartError(format!(
            "kernel image {} does not exist",
            kernel.display()
        )));
    }
    Ok(kernel)
}

pub(crate) fn exit_code(st: ExitStatus) -> RawEnd {
    if let Some(c) = st.code() {
        return RawEnd::Exited(c);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(s) = st.signal() {
            return RawEnd::Signaled(s);
        }
    }
    RawEnd::Exited(STATUS_START_FAILED)
}

pub(crate) fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

enum Event {
    Out(Found),
    Eof,
}

/// The QEMU command that boots `kernel` on `board` in script mode (piped serial, `-no-reboot`),
/// as `opts` say (emulator, `-smp`, extra arguments, environment).
pub(crate) fn script_command(board: Board, kernel: &Path, opts: &ScriptOpts) -> Command {
    let program = opts.qemu.clone().unwrap_or_else(qemu::program);
    let args = qemu::args(
        board,
        opts.smp,
        kernel,
        qemu::Mode::Script,
        &opts.extra_args,
    );
    let mut cmd = Command::new(&program);
    cmd.args(&args).envs(opts.env.iter().map(|(k, v)| (k, v)));
    cmd
}

/// Runs `script` on `board` (see the module docs). Never panics on guest behaviour; failures to
/// start come back as status 125 with a message.
pub fn run_script(board: Board, script: impl AsRef<[u8]>, opts: &ScriptOpts) -> Outcome {
    let kernel = match resolve_kernel(board, opts) {
        Ok(k) => k,
        Err(e) => return Outcome::start_failed(format!("runner: {e}")),
    };
    let cmd = script_command(board, &kernel, opts);
    let scanner = if opts.raw {
        Scanner::raw()
    } else {
        Scanner::new()
    };
    let mut o = run_guest(
        cmd,
        script_input(script.as_ref()),
        opts.timeout,
        opts.echo,
        scanner,
    );
    o.symbols = symbols(board, &kernel, &o.transcript);
    if !opts.allow_missing_cpus
        && matches!(o.ending, Ending::Exited(_))
        && let Some((online, total)) = cpus_online(&o.transcript)
        && online < total
    {
        o.status = crate::STATUS_MISSING_CPUS;
        o.message = Some(format!(
            "runner: only {online} of {total} CPUs came online (the kernel's banner says which \
             and why); --allow-missing-cpus accepts that"
        ));
        return o;
    }
    if opts.fail_on_watchdog && o.watchdog > 0 && matches!(o.ending, Ending::Exited(_)) {
        o.status = crate::STATUS_WATCHDOG;
        o.message = Some(format!(
            "runner: the kernel's watchdog reported {} time(s) (--fail-on-watchdog)",
            o.watchdog
        ));
    }
    o
}

/// The named addresses of the first `KERNEL PANIC` report in `transcript`, from the ELF behind
/// `kernel` (for rpi4 the `rpi4` ELF beside `kernel8.img`).
fn symbols(board: Board, kernel: &std::path::Path, transcript: &str) -> Option<String> {
    let report = crate::symbolize::parse_report(transcript)?;
    if report.is_empty() {
        return None;
    }
    let elf = crate::bench::elf_of(board, kernel);
    Some(match crate::symbolize::symbolize(&elf, &report) {
        Ok(text) => format!(
            "runner: the report's addresses, from {} (the return addresses come from a stack \
             scan: one may be stale):\n{text}",
            elf.display()
        ),
        Err(e) => format!("runner: {e}\n"),
    })
}

/// The kernel banner's `cpus: N/M online`, as `(N, M)`.
pub fn cpus_online(transcript: &str) -> Option<(usize, usize)> {
    let line = transcript
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("cpus: "))?;
    let (n, rest) = line.split_once('/')?;
    let m = rest.split_whitespace().next()?;
    Some((n.parse().ok()?, m.parse().ok()?))
}

/// How many watchdog reports `transcript` holds (marker lines; a report may start mid-line
/// when it interrupted other output).
pub fn count_watchdog(transcript: &str) -> usize {
    transcript.matches(crate::WATCHDOG_MARKER).count()
}

/// Starts `cmd` (QEMU) with piped stdin, stdout and stderr; the error is a message for stderr.
pub(crate) fn spawn_piped(cmd: &mut Command) -> Result<Child, String> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                " (is QEMU installed? `just setup` installs it)"
            } else {
                ""
            };
            format!(
                "runner: could not start {}: {e}{hint}",
                cmd.get_program().to_string_lossy()
            )
        })
}

/// Runs `cmd` as the guest: feeds `input` after the first prompt, scans (into `scanner`) and
/// (with `echo`) copies its output, enforces `timeout`. `cmd`'s stdio is replaced by pipes.
pub fn run_guest(
    mut cmd: Command,
    input: Vec<u8>,
    timeout: Duration,
    echo: bool,
    scanner: Scanner,
) -> Outcome {
    let program = cmd.get_program().to_owned();
    let args: Vec<OsString> = cmd.get_args().map(|a| a.to_owned()).collect();
    let command = qemu::display(&program, &args);
    let start = Instant::now();
    let mut child = match spawn_piped(&mut cmd) {
        Ok(c) => c,
        Err(e) => {
            let mut o = Outcome::start_failed(e);
            o.command = command;
            return o;
        }
    };
    let pid = child.id();
    let (mut stdin, mut stdout, mut stderr) = (
        child.stdin.take().expect("piped stdin"),
        child.stdout.take().expect("piped stdout"),
        child.stderr.take().expect("piped stderr"),
    );

    let scanner = Arc::new(Mutex::new(scanner));
    let (ev_tx, ev_rx) = mpsc::channel::<Event>();
    let reader_scanner = Arc::clone(&scanner);
    thread::spawn(move || {
        let mut buf = [0u8; 8192];
        let mut out = echo.then(std::io::stdout);
        let mut emit = |s: &Scanner, r: std::ops::Range<usize>| {
            if let Some(o) = out.as_mut()
                && (o.write_all(&s.text()[r]).is_err() || o.flush().is_err())
            {
                out = None; // our stdout went away; keep collecting
            }
        };
        loop {
            let n = match stdout.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let mut s = reader_scanner.lock().unwrap_or_else(|p| p.into_inner());
            let (found, range) = s.feed(&buf[..n]);
            emit(&s, range);
            drop(s);
            if found != Found::default() {
                let _ = ev_tx.send(Event::Out(found));
            }
        }
        let mut s = reader_scanner.lock().unwrap_or_else(|p| p.into_inner());
        let (found, range) = s.finish();
        emit(&s, range);
        drop(s);
        let _ = ev_tx.send(Event::Out(found));
        let _ = ev_tx.send(Event::Eof);
    });

    let err_buf = Arc::new(Mutex::new(Vec::<u8>::new()));
    let err_buf2 = Arc::clone(&err_buf);
    let err_thread = thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            if echo {
                let mut e = std::io::stderr();
                let _ = e.write_all(&buf[..n]);
                let _ = e.flush();
            }
            err_buf2
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(&buf[..n]);
        }
    });

    let (go_tx, go_rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        if go_rx.recv().is_ok() {
            // EPIPE here means the guest ended before reading everything, which is fine.
            let _ = stdin.write_all(&input);
            let _ = stdin.flush();
        }
        drop(stdin);
    });

    let deadline = start + timeout;
    let mut go = Some(go_tx);
    let mut panic_at: Option<Instant> = None;
    let mut eof = false;
    let end = loop {
        match child.try_wait() {
            Ok(Some(st)) => break exit_code(st),
            Ok(None) => {}
            Err(_) => {
                kill_and_reap(&mut child);
                break RawEnd::Signaled(9);
            }
        }
        let now = Instant::now();
        if now >= deadline {
            kill_and_reap(&mut child);
            break RawEnd::TimedOut;
        }
        if let Some(t) = panic_at
            && now >= t + PANIC_GRACE
        {
            kill_and_reap(&mut child);
            break RawEnd::KilledAfterPanic;
        }
        if eof {
            thread::sleep(POLL.min(deadline - now));
            continue;
        }
        match ev_rx.recv_timeout(POLL.min(deadline - now)) {
            Ok(Event::Out(f)) => {
                if f.prompts > 0
                    && let Some(tx) = go.take()
                {
                    let _ = tx.send(());
                }
                if f.panic && panic_at.is_none() {
                    panic_at = Some(Instant::now());
                }
            }
            Ok(Event::Eof) | Err(RecvTimeoutError::Disconnected) => eof = true,
            Err(RecvTimeoutError::Timeout) => {}
        }
    };
    drop(go); // a writer still waiting for the first prompt gives up
    // Wait for the reader to drain the pipe (QEMU is gone, so EOF comes right away).
    let drain_until = Instant::now() + Duration::from_secs(2);
    while !eof {
        let left = drain_until.saturating_duration_since(Instant::now());
        match ev_rx.recv_timeout(left) {
            Ok(Event::Eof) | Err(_) => eof = true,
            Ok(Event::Out(_)) => {}
        }
    }
    let _ = err_thread.join();
    let elapsed = start.elapsed();

    let s = scanner.lock().unwrap_or_else(|p| p.into_inner());
    let seen = Seen {
        prompt: s.prompts() > 0,
        panic: s.panicked(),
        output: !s.text().is_empty(),
    };
    let (status, ending, message) = classify(end, seen, timeout, pid);
    let bytes = s.text().to_vec();
    let transcript = String::from_utf8_lossy(&bytes).into_owned();
    Outcome {
        status,
        watchdog: count_watchdog(&transcript),
        symbols: None,
        transcript,
        bytes,
        ending,
        message,
        stderr: String::from_utf8_lossy(&err_buf.lock().unwrap_or_else(|p| p.into_inner()))
            .into_owned(),
        pid: Some(pid),
        prompts: s.prompts(),
        elapsed,
        command,
    }
}

/// Builds the image and runs QEMU on this terminal (`-serial mon:stdio -echr 0x1d`: Ctrl-] X
/// quits, Ctrl-] C toggles the monitor). On Unix the runner replaces itself with QEMU, so signals and
/// the exit status are QEMU's own; returns only on failure.
pub fn run_interactive(board: Board, opts: &ScriptOpts) -> Result<i32, StartError> {
    let kernel = resolve_kernel(board, opts)?;
    let program = opts.qemu.clone().unwrap_or_else(qemu::program);
    let args = qemu::args(
        board,
        opts.smp,
        &kernel,
        qemu::Mode::Interactive,
        &opts.extra_args,
    );
    let mut cmd = Command::new(&program);
    cmd.args(&args).envs(opts.env.iter().map(|(k, v)| (k, v)));
    eprintln!(
        "runner: {} (Ctrl-] X quits, Ctrl-] C: QEMU monitor)",
        qemu::display(&program, &args)
    );
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let e = cmd.exec();
        Err(StartError(format!(
            "could not start {}: {e}",
            program.to_string_lossy()
        )))
    }
    #[cfg(not(unix))]
    {
        let st = cmd.status().map_err(|e| {
            StartError(format!(
                "could not start {}: {e}",
                program.to_string_lossy()
            ))
        })?;
        Ok(st.code().unwrap_or(STATUS_START_FAILED))
    }
}

#[cfg(test)]
mod cpu_tests {
    use super::cpus_online;

    #[test]
    fn the_banner_gives_the_online_cpus() {
        let t = "rtos 0.1.0 on raspi4b\n  entry: EL2\n  cpus: 3/4 online (started in: cpu1 9us)\n  \
                 cpu2: NOT STARTED: it did not run the kernel within 5 s\n";
        assert_eq!(cpus_online(t), Some((3, 4)));
        assert_eq!(cpus_online("  cpus: 1/1 online\r\n"), Some((1, 1)));
        assert_eq!(cpus_online("rtos> echo cpus: x\n"), None);
        assert_eq!(cpus_online(""), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(3);

    fn seen(prompt: bool, panic: bool, output: bool) -> Seen {
        Seen {
            prompt,
            panic,
            output,
        }
    }

    #[test]
    fn script_input_appends_newline_and_exit() {
        assert_eq!(script_input(b""), b"exit\n");
        assert_eq!(script_input(b"echo hi"), b"echo hi\nexit\n");
        assert_eq!(script_input(b"echo hi\n"), b"echo hi\nexit\n");
        assert_eq!(script_input(b"echo hi\r"), b"echo hi\rexit\n");
    }

    #[test]
    fn guest_status_passes_through() {
        for c in [0, 1, 2, 3, 127, 255] {
            let (s, e, m) = classify(RawEnd::Exited(c), seen(true, false, true), T, 1);
            assert_eq!((s, e, m), (c, Ending::Exited(c), None));
        }
    }

    #[test]
    fn panic_wins_over_everything() {
        for end in [
            RawEnd::Exited(101),
            RawEnd::Exited(0),
            RawEnd::TimedOut,
            RawEnd::KilledAfterPanic,
            RawEnd::Signaled(9),
        ] {
            let (s, e, m) = classify(end, seen(true, true, true), T, 1);
            assert_eq!((s, &e), (101, &Ending::Panic), "{end:?}");
            assert!(m.unwrap().contains("KERNEL PANIC"));
        }
    }

    #[test]
    fn timeouts_say_which_kind() {
        let (s, e, m) = classify(RawEnd::TimedOut, seen(false, false, true), T, 42);
        assert_eq!((s, e), (124, Ending::NoPrompt));
        let m = m.unwrap();
        assert!(
            m.contains("no `rtos> ` prompt within 3s") && m.contains("pid 42"),
            "{m}"
        );
        let (s, e, m) = classify(RawEnd::TimedOut, seen(true, false, true), T, 42);
        assert_eq!((s, e), (124, Ending::NoEnd));
        assert!(m.unwrap().contains("did not end within 3s"));
    }

    #[test]
    fn qemu_failing_silently_is_a_start_failure() {
        let (s, e, _) = classify(RawEnd::Exited(1), seen(false, false, false), T, 1);
        assert_eq!((s, e), (125, Ending::StartFailed));
        // A guest that printed something and exited early keeps its status, with a warning.
        let (s, e, m) = classify(RawEnd::Exited(1), seen(false, false, true), T, 1);
        assert_eq!((s, e), (1, Ending::Exited(1)));
        assert!(m.unwrap().contains("before the first"));
    }

    #[test]
    fn signals_map_like_a_shell() {
        let (s, e, _) = classify(RawEnd::Signaled(11), seen(true, false, true), T, 1);
        assert_eq!((s, e), (139, Ending::Signal(11)));
    }

    #[test]
    fn smp_is_refused_on_rpi4() {
        let opts = ScriptOpts {
            smp: Some(2),
            kernel: Some("/nonexistent".into()),
            ..Default::default()
        };
        let e = resolve_kernel(Board::Rpi4, &opts).unwrap_err();
        assert!(e.0.contains("only for virt"));
        let e = resolve_kernel(Board::Virt, &opts).unwrap_err();
        assert!(e.0.contains("does not exist"));
    }

    #[test]
    fn watchdog_reports_are_counted_even_mid_line() {
        let t = "rtos> sleep 3s\r\nWATCHDOG: soft lockup on cpu0: h (tid 4) has kept it for 2.25 s\r\n  thread h\r\nrtos> WATCHDOG: hung work 'b' on cpu1: running for 2.00 s\r\n";
        assert_eq!(count_watchdog(t), 2);
        assert_eq!(count_watchdog("WATCHDOG without the colon\r\n"), 0);
    }
}
