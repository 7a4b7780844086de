//! The kernel's serial shell.
//!
//! [`Shell::run`] reads command lines from a byte stream (the UART), runs them and returns an
//! [`Exit`] when the shell ends (`poweroff`, `reboot`, `exit`, a `set -e` failure in a script, or
//! end of input). Everything the shell needs from the kernel goes through the [`System`] trait, so
//! the whole crate runs on the host under `cargo test` with fake IO and a fake clock.
//!
//! # Two input modes, and why
//!
//! The line editor is [noline] 0.5.1. Before *every* line it asks the terminal for its size and
//! for the cursor position: it writes `ESC 7 ESC[999;999H ESC[6n ESC 8`, waits for a cursor
//! position report (CPR, `ESC[<row>;<col>R`), then writes `\r ESC[J <prompt> ESC[6n` and waits for
//! a second CPR. That is fine for a human at a real terminal and wrong for everything else:
//!
//! * any other byte that arrives during that phase ends the phase and is swallowed, so piped input
//!   (a test script, a paste that races the probe) loses the first byte of each line;
//! * a CPR with a zero column (`ESC[24;0R`) divides by zero, zero rows or huge numbers underflow or
//!   overflow inside noline, and a CSI `R` without parameters unwraps `None`;
//! * a line longer than the editor's buffer is silently cut (the rest only rings the bell);
//! * noline positions the cursor with absolute `ESC[<row>;<col>H` moves, so it must know the row.
//!
//! So the shell decides once, at start, what is on the other end:
//!
//! 1. **Detection.** [`Shell::run`] writes the size probe `ESC 7 ESC[999;999H ESC[6n ESC 8` itself,
//!    immediately followed by the first prompt `rtos> ` (so a serial line shows a prompt at once,
//!    and that is the boot time `bench boot` reports), then waits up to 200 ms
//!    ([`DETECT_TIMEOUT_NS`]) for a reply, polling `ReadReady::read_ready` and sleeping 1 ms
//!    between polls. In non-terminal mode that early prompt is the first line's prompt; in terminal
//!    mode it is erased with `\r ESC[K` (the probe's `ESC 8` put the cursor back where it starts)
//!    before noline draws its own, so a terminal shows one prompt. The reply goes through a small
//!    bounded parser (at most 6 digits per number, so a 10,000-digit sequence is just "not a CPR").
//!    A valid CPR means a terminal: its row/column are the terminal size, each clamped to
//!    `1..=999`, and a 0 means "unknown" (defaults 24 rows, 80 columns). Anything else — script
//!    bytes arriving first, a malformed reply, or silence — means non-terminal mode, and the bytes
//!    already read are fed to the line reader first, so no input byte is lost.
//! 2. **Terminal mode.** noline runs over a wrapper IO (`term::TermIo`) that never lets a probe
//!    reach the real terminal: it answers `ESC[6n` itself with a synthesized CPR (the remembered
//!    size for the size probe, the tracked cursor column after the prompt for the position probe,
//!    with the prompt assumed on the bottom row). Because noline's row is therefore a guess, the
//!    wrapper rewrites noline's absolute cursor moves into relative ones (`ESC[nA`/`ESC[nB`, `\r`,
//!    `ESC[nC`), which are correct wherever the prompt really is. On the input side it validates
//!    UTF-8, drops CPRs and every escape sequence noline cannot digest safely, and forwards only
//!    a canonical form of the editing keys (arrows, Home, End, Delete). noline gets a buffer of
//!    [`MAX_LINE`]` + 1` bytes; a line that fills it is rejected with
//!    `error: line too long (max 512 bytes)` instead of running a truncated command. History is a
//!    fixed 4 KiB ring. Ctrl-C (and Ctrl-D on an empty line) discard the line and print a new
//!    prompt; end of input ends the shell.
//! 3. **Non-terminal mode** (scripts, the test runner, dumb terminals). A plain line reader prints
//!    the prompt `rtos> `, echoes bytes as it consumes them so a transcript reads like a session,
//!    handles backspace (0x08/0x7f), treats `\r`, `\n` and `\r\n` as one line end, accepts UTF-8,
//!    treats tab as a space, Ctrl-C discards the line, and silently drops other control bytes,
//!    invalid UTF-8 and escape sequences (a late CPR from a slow terminal included). A line over
//!    [`MAX_LINE`] bytes gives one `error: line too long` and the rest of that line is discarded.
//!    `set -e` makes the first failing command end the shell with `Exit::Poweroff(status)`.
//!
//! # Commands and statuses
//!
//! The command table lives in `commands.rs` (one `Command` entry plus a handler per
//! command; handlers get an argument helper with positional args, `--flag value` options, typed
//! parsing and unknown-option errors). Every command returns an exit status: 0 for success, 1 for
//! a runtime error, 2 for a usage error (also: unknown command, unterminated quote, line too
//! long). An error is exactly one line starting with `error: `. `$?` expands to the last status
//! in any unquoted or double-quoted word. Blank and comment lines leave `$?` alone.
//!
//! # Kernel threads
//!
//! `spawn`, `ps`, `park`, `unpark`, `stop`, `wait`, `bind`, `wake` and `prio` (in `kthreads.rs`)
//! drive the kernel's kthreads directly through `rtos::kthread` and `rtos::sched`, not through
//! [`System`]. `spawn` starts built-in bodies (`spin`, `sleeper`, `ticker`, `counter`, `hog`,
//! `exit`) that honour Linux's kthread contract (poll should-stop/should-park, `parkme`), except
//! `hog`, which never polls, so that timeouts can be seen. A thread is named by its name or tid.
//! `park`, `stop` and `wait` take `--timeout` (default 5 s): on timeout the request stays set.
//! Kernel errors are shown with their errno name, e.g. `error: bind: thread is busy (EBUSY)`; a
//! CPU that is not online is a bad argument (status 2), other kernel refusals status 1. Without a
//! running scheduler these commands fail with an error instead of panicking. The host tests run
//! them under `rtos::fake::run`, a fake SMP kernel on host threads.
//!
//! # Deferred work
//!
//! `work list`, `irqwork`, `taskwork`, `wq`, `kworker`, `timers` and `wait work` (in `work.rs`)
//! drive `rtos::work` (irq_work, task_work, workqueues, kthread workers) with named work items
//! created on first use with `--fn` (`log`, `count`, `busy:<ms>`, `sleep:<ms>`, `requeue:<n>`).
//! A `log` irq_work never takes the console lock (a sleeping mutex) in hard IRQ context: it
//! writes into a fixed ring under an `IrqSpinLock` (drops are counted), printed by a `klogd`
//! kthread the shell starts on first use.
//!
//! All output uses `\r\n` line endings. No input can make the shell panic, and nothing it
//! allocates grows with the input beyond [`MAX_LINE`]-sized buffers.
//!
//! [noline]: https://docs.rs/noline/0.5.1

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod args;
mod bench;
mod commands;
mod detect;
mod erased;
mod kthreads;
mod out;
mod parse;
mod reader;
mod stress;
mod term;
#[cfg(test)]
mod tests;
mod work;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use embedded_io::{Read, ReadReady, Write};

use crate::detect::Detected;
use crate::out::{IoSink, Sink};
use crate::reader::{LineEvent, LineReader};

pub use detect::DETECT_TIMEOUT_NS;
pub use erased::Console;

/// The prompt, exactly as it appears on the wire.
pub const PROMPT: &str = "rtos> ";

/// Longest accepted command line, in bytes. Longer lines are rejected, never truncated.
pub const MAX_LINE: usize = 512;

/// Bytes of line-editor history (a ring; old entries fall out).
const HISTORY_BYTES: usize = 4096;

/// One CPU as reported by [`System::cpus`]: the kernel's per-CPU counters.
pub use rtos::cpu::CpuSnapshot as CpuInfo;

/// The console UART's receive statistics, as reported by [`System::uart`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UartInfo {
    /// Driver name, e.g. `pl011`.
    pub driver: &'static str,
    /// Line speed in baud (8N1).
    pub baud: u32,
    /// Received bytes the hardware reported lost (overrun) or damaged (framing, parity, break):
    /// a wrong baud rate or a noisy cable shows up here.
    pub rx_errors: u32,
    /// Bytes waiting in the receive buffer now.
    pub rx_buffered: usize,
    /// Receive buffer size.
    pub rx_capacity: usize,
}

/// What the shell needs from the kernel.
pub trait System {
    /// Monotonic time since boot, nanoseconds.
    fn now_ns(&self) -> u64;
    /// Block the calling shell for `ns` nanoseconds (kernel: timer + WFI).
    fn sleep_ns(&mut self, ns: u64);
    /// Nothing to do right now: wait for an interrupt (kernel: WFI; fakes: advance time).
    fn idle(&mut self);
    /// Calls `f` once per CPU the board has (online or not), in id order.
    fn cpus(&self, f: &mut dyn FnMut(&CpuInfo));
    /// Deliberate crash for the `crash` command (kernel: panic!/data abort). Returns only in fakes.
    fn crash(&mut self, kind: CrashKind);
    /// The console UART's statistics, if the system has any to report.
    fn uart(&self) -> Option<UartInfo> {
        None
    }
}

/// Which deliberate crash `crash` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashKind {
    /// A Rust panic (the kernel's panic handler prints `KERNEL PANIC`).
    Panic,
    /// A CPU fault (e.g. a data abort from touching unmapped memory).
    Fault,
    /// A kernel thread that recurses until it overflows its stack into the guard page.
    Overflow,
}

/// How the shell ended; the kernel acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Power off (QEMU: semihosting exit) with this status.
    Poweroff(u8),
    /// Reset the machine.
    Reboot,
}

/// Shell state that survives from line to line.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Status of the last command (`$?`).
    pub last_status: u8,
    /// `set -e` is on.
    pub errexit: bool,
}

impl State {
    /// Records a finished line's status; returns the exit a `set -e` failure causes, if any.
    pub(crate) fn complete(&mut self, status: u8, interactive: bool) -> Option<Exit> {
        self.last_status = status;
        if status != 0 && self.errexit && !interactive {
            Some(Exit::Poweroff(status))
        } else {
            None
        }
    }
}

/// The shell. Owns the line and history buffers, the last status and the `set -e` flag.
pub struct Shell {
    line_buf: Box<[u8]>,
    hist_buf: Box<[u8]>,
    state: State,
}

impl core::fmt::Debug for Shell {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Shell")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Default for Shell {
    fn default() -> Self {
        Self::new()
    }
}

impl Shell {
    /// A fresh shell: status 0, `set +e`, empty history.
    pub fn new() -> Self {
        Self {
            line_buf: vec![0; MAX_LINE + 1].into_boxed_slice(),
            hist_buf: vec![0; HISTORY_BYTES].into_boxed_slice(),
            state: State::default(),
        }
    }

    /// Runs until poweroff/reboot/exit/set -e failure. Never panics on any input bytes.
    ///
    /// On an IO error or end of input (a read returning 0) the shell ends with
    /// `Exit::Poweroff(last status)`.
    pub fn run<IO, S>(&mut self, io: &mut IO, sys: &mut S) -> Exit
    where
        IO: Read + Write + ReadReady,
        S: System,
    {
        rtos::bench::mark_shell_start(); // `bench boot`: boot/to-shell
        // The first prompt goes out right behind the probe, before the wait for an answer, so a
        // serial line shows it at once (and that is the boot time `bench boot` reports).
        let probed = out::write_all(io, detect::SIZE_PROBE).is_ok();
        rtos::bench::mark_prompt();
        if !probed || !self.prompt(io) {
            return Exit::Poweroff(self.state.last_status);
        }
        match detect::await_reply(io, sys) {
            Detected::Terminal { rows, cols } => {
                // noline draws its own prompt: take the early one off the screen first.
                if out::write_all(io, detect::ERASE_PROMPT).is_err() || io.flush().is_err() {
                    return Exit::Poweroff(self.state.last_status);
                }
                self.run_terminal(io, sys, rows, cols)
            }
            // The early prompt stands for the first line.
            Detected::Plain { pending, eof } => {
                self.run_plain(io, sys, LineReader::new(pending, eof))
            }
            Detected::IoError => Exit::Poweroff(self.state.last_status),
        }
    }

    /// Writes [`PROMPT`] and flushes; false if the IO failed.
    fn prompt<IO: Write>(&self, io: &mut IO) -> bool {
        out::write_all(io, PROMPT.as_bytes()).is_ok() && io.flush().is_ok()
    }

    /// Non-terminal mode: plain line reader with echo. The first line's prompt is already out.
    fn run_plain<IO, S>(&mut self, io: &mut IO, sys: &mut S, mut reader: LineReader) -> Exit
    where
        IO: Read + Write,
        S: System,
    {
        let mut line = String::with_capacity(MAX_LINE);
        loop {
            let event = reader.read_line(io, &mut line);
            let mut sink = IoSink::new(io);
            let exit = match event {
                LineEvent::Line => commands::execute(&line, &mut self.state, &mut sink, sys, false),
                LineEvent::TooLong => {
                    out::line_too_long(&mut sink);
                    self.state.complete(2, false)
                }
                LineEvent::Cancelled => None,
                LineEvent::Eof => {
                    sink.put(b"\r\n");
                    sink.flush();
                    return Exit::Poweroff(self.state.last_status);
                }
                LineEvent::IoError => return Exit::Poweroff(self.state.last_status),
            };
            sink.flush();
            if let Some(exit) = exit {
                return exit;
            }
            if sink.failed() || !self.prompt(io) {
                return Exit::Poweroff(self.state.last_status);
            }
        }
    }

    /// Terminal mode: noline over the probe-answering wrapper.
    fn run_terminal<IO, S>(&mut self, io: &mut IO, sys: &mut S, rows: u16, cols: u16) -> Exit
    where
        IO: Read + Write,
        S: System,
    {
        use noline::builder::EditorBuilder;
        use noline::error::NolineError;

        let mut term = term::TermIo::new(io, rows, cols);
        let Ok(mut editor) = EditorBuilder::from_slice(&mut self.line_buf)
            .with_slice_history(&mut self.hist_buf)
            .build_sync(&mut term)
        else {
            return Exit::Poweroff(self.state.last_status);
        };
        let mut line = String::with_capacity(MAX_LINE + 1);
        loop {
            line.clear();
            match editor.readline(PROMPT, &mut term) {
                Ok(text) => line.push_str(text),
                Err(NolineError::Aborted) if !term.eof && !term.failed => continue, // Ctrl-C / Ctrl-D
                Err(NolineError::ParserError) => continue,
                Err(_) => return Exit::Poweroff(self.state.last_status),
            }
            let mut sink = IoSink::new(&mut *term.io);
            let exit = if line.len() > MAX_LINE {
                out::line_too_long(&mut sink);
                self.state.complete(2, true)
            } else {
                commands::execute(&line, &mut self.state, &mut sink, sys, true)
            };
            sink.flush();
            if let Some(exit) = exit {
                return exit;
            }
            if sink.failed() {
                return Exit::Poweroff(self.state.last_status);
            }
        }
    }
}
