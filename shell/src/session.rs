//! [`Shell`]: the session loop. Writes the probe and the first prompt, detects the terminal, then
//! reads lines in terminal mode (noline over `term::TermIo`) or plain mode (`reader`) and runs
//! each one.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use embedded_io::{Read, ReadReady, Write};

use crate::detect::{self, Detected};
use crate::out::{self, IoSink, Sink};
use crate::reader::{LineEvent, LineReader, PlainIo};
use crate::registry;
use crate::script::CONT_PROMPT;
use crate::script::State;
use crate::system::{Exit, MAX_LINE, PROMPT, System};
use crate::term;

/// Bytes of line-editor history (a ring; old entries fall out).
const HISTORY_BYTES: usize = 4096;

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
        rtos::boot::mark_shell_start(); // `bench boot`: boot/to-shell
        // The first prompt goes out right behind the probe, before the wait for an answer, so a
        // serial line shows it at once (and that is the boot time `bench boot` reports).
        let probed = out::write_all(io, detect::SIZE_PROBE).is_ok();
        rtos::boot::mark_prompt();
        if !probed || !self.prompt(io) {
            return Exit::Poweroff(self.state.last_status);
        }
        sys.console_up();
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

    /// Writes the prompt ([`PROMPT`], or [`CONT_PROMPT`] inside an unfinished construct) and
    /// flushes; false if the IO failed.
    fn prompt<IO: Write>(&self, io: &mut IO) -> bool {
        out::write_all(io, self.prompt_text().as_bytes()).is_ok() && io.flush().is_ok()
    }

    /// The prompt for the next line.
    fn prompt_text(&self) -> &'static str {
        if self.state.lang.continuing() {
            CONT_PROMPT
        } else {
            PROMPT
        }
    }

    /// Non-terminal mode: plain line reader with echo. The first line's prompt is already out.
    fn run_plain<IO, S>(&mut self, io: &mut IO, sys: &mut S, mut reader: LineReader) -> Exit
    where
        IO: Read + Write + ReadReady,
        S: System,
    {
        let mut line = String::with_capacity(MAX_LINE);
        // Hard-IRQ log lines never tear a line here (scripts, CI, a plain terminal): they wait
        // while the shell reads a line and runs it, and go out after the command's output, before
        // the next prompt. `sleep` and `wait` let them through as they come.
        let _quiet = crate::work::klogd::quiet();
        loop {
            let event = reader.read_line(io, &mut line);
            let mut console = PlainIo {
                io,
                reader: &mut reader,
            };
            let mut sink = IoSink::new(&mut console);
            let exit = match event {
                LineEvent::Line => registry::execute(&line, &mut self.state, &mut sink, sys, false),
                LineEvent::TooLong => {
                    out::line_too_long(&mut sink);
                    self.state.complete(2, false)
                }
                LineEvent::Cancelled => {
                    self.state.lang.cancel();
                    None
                }
                LineEvent::Eof => {
                    sink.put(b"\r\n");
                    registry::end_of_input(&mut self.state, &mut sink);
                    sink.flush();
                    return Exit::Poweroff(self.state.last_status);
                }
                LineEvent::IoError => return Exit::Poweroff(self.state.last_status),
            };
            sink.flush();
            crate::work::klogd::print_held();
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
        IO: Read + Write + ReadReady,
        S: System,
    {
        use noline::builder::EditorBuilder;
        use noline::error::NolineError;

        let names = crate::complete::live_names;
        let completer = move |line: &str, cursor: usize, second: bool| {
            crate::complete::complete(crate::registry::COMMANDS, line, cursor, second, &names)
        };
        rtos::console::set_around(&term::REDRAW);
        let mut term = term::TermIo::new(io, rows, cols);
        term.set_completer(&completer);
        let Ok(mut editor) = EditorBuilder::from_slice(&mut self.line_buf)
            .with_slice_history(&mut self.hist_buf)
            .build_sync(&mut term)
        else {
            return Exit::Poweroff(self.state.last_status);
        };
        let mut line = String::with_capacity(MAX_LINE + 1);
        loop {
            line.clear();
            let prompt = if self.state.lang.continuing() {
                CONT_PROMPT
            } else {
                PROMPT
            };
            term.set_prompt(prompt);
            term.set_history(self.state.lang.history.iter().cloned().collect());
            term.overflowed = false;
            let read = editor.readline(prompt, &mut term);
            term::view_off();
            match read {
                Ok(text) => {
                    self.state.lang.remember(text);
                    line.push_str(text);
                }
                Err(NolineError::Aborted) if !term.eof && !term.failed => {
                    self.state.lang.cancel(); // Ctrl-C / Ctrl-D
                    continue;
                }
                Err(NolineError::ParserError) => continue,
                Err(_) => return Exit::Poweroff(self.state.last_status),
            }
            // Typed past the buffer (noline dropped what did not fit), however much was
            // edited back since: too long, as in plain mode, not run cut off.
            let too_long = line.len() > MAX_LINE || term.overflowed;
            let mut raw = term::Raw(&mut term);
            let mut sink = IoSink::new(&mut raw);
            let exit = if too_long {
                out::line_too_long(&mut sink);
                self.state.complete(2, true)
            } else {
                registry::execute(&line, &mut self.state, &mut sink, sys, true)
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
