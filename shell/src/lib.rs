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
//!    ([`DETECT_TIMEOUT`]) for a reply, polling `ReadReady::read_ready` and sleeping 1 ms
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
//! Every command module holds its own table entries (one `Command` per command, with its help
//! texts, next to its handler; `ctx.rs` has what a command module needs); `registry.rs` joins them
//! into the one command table, in `help` order, and runs input lines. The basics are in `basic.rs`
//! and `machine.rs`, helpers several modules share in `util.rs`. Handlers get an argument helper
//! with positional args, `--flag value` options, typed parsing and unknown-option errors. Every
//! command returns an exit status: 0 for success, 1 for a runtime error, 2 for a usage error (also:
//! unknown command, unterminated quote, line too long). An error is exactly one line starting with
//! `error: `. `$?` expands to the last status in any unquoted or double-quoted word. Blank and
//! comment lines leave `$?` alone.
//!
//! # The language
//!
//! Lines are parsed and run by `script/`: variables, `$((...))`, `$(...)`, `if`, `while`,
//! `until`, `for`, `repeat`, functions, `&&`/`||`/`!`, `test`/`[`. A line that leaves a
//! construct open is kept and the next is read with the continuation prompt `> `. Every
//! buffer and count the language keeps is bounded (see `script/limits.rs`).
//!
//! # Live views
//!
//! `top` (in `top/`) samples the kernel's counters (per-CPU interrupts, switches and idle time,
//! kthread run times, workqueue and kthread-worker statistics) every interval and prints the
//! rates between two samples; the arithmetic and the output are plain functions of two samples,
//! host-tested without a kernel. While it waits it polls the console for keys (`Ctx::key`: the
//! line reader's read-ahead first, then input the IO has ready, never blocking): `q`, Ctrl-C or
//! the end of input end it, other keys are dropped. With `-n N` in non-terminal mode it reads no
//! input, so the script's next lines stay for the shell.
//!
//! # Kernel threads
//!
//! `spawn`, `ps`, `park`, `unpark`, `stop`, `wait`, `bind`, `wake` and `prio` (in `kthreads/`)
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
//! `work list`, `irqwork`, `taskwork`, `wq`, `kworker`, `timers` and `wait work` (in `work/`, a
//! file per mechanism) drive `rtos::work` (irq_work, task_work, workqueues, kthread workers) with
//! named work items created on first use with `--fn` (`log`, `count`, `busy:<ms>`, `sleep:<ms>`,
//! `requeue:<n>`). A `log` irq_work never takes the console lock (a sleeping mutex) in hard IRQ
//! context: it writes into a fixed ring under an `IrqSpinLock` (drops are counted), printed by a
//! `klogd` kthread the shell starts on first use.
//!
//! # Kernel reload
//!
//! `reload` (in `reload/`) receives a new kernel image over the console line from `runner push`
//! and hands it to [`System::reload`], which starts it in place of the running kernel. The
//! protocol (a checksummed header, 4 KiB chunks each acknowledged, a CRC-32 over the image, a
//! size limit and timeouts on the kernel clock) is a pure state machine fed byte by byte
//! (`reload::proto`); the bytes are read raw, past the line reader and the terminal filter. A
//! refused image is one `error: reload: ...` line and changes nothing.
//!
//! All output uses `\r\n` line endings. No input can make the shell panic, and nothing it
//! allocates grows with the input beyond [`MAX_LINE`]-sized buffers.
//!
//! [noline]: https://docs.rs/noline/0.5.1

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod args;
mod basic;
#[cfg(feature = "bench")]
mod bench;
mod complete;
mod ctx;
mod detect;
mod erased;
mod expect;
mod inject;
mod kthreads;
mod machine;
mod mem;
mod out;
mod parse;
mod reader;
mod registry;
mod reload;
mod script;
mod session;
mod stress;
mod system;
mod term;
#[cfg(test)]
mod tests;
mod top;
mod trace;
mod util;
mod watchdog;
mod work;

pub use detect::DETECT_TIMEOUT;
pub use erased::Console;
pub use script::CONT_PROMPT;
pub use session::Shell;
pub use system::{
    CpuInfo, CrashKind, Exit, MAX_LINE, MemInfo, PROMPT, ReloadTarget, System, UartInfo,
};
