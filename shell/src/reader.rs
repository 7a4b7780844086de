//! Non-terminal mode line reader: prompt-less byte-at-a-time reading with echo.
//!
//! Rules: `\r`, `\n` and `\r\n` each end one line; 0x08/0x7f erase the last character; tab is a
//! space; Ctrl-C discards the line; other control bytes, invalid UTF-8, C1 controls and escape
//! sequences are dropped. A line longer than [`MAX_LINE`] is reported once as
//! [`LineEvent::TooLong`] and the rest of it is discarded. Memory use is fixed.

use crate::out::CTRL_C;
use alloc::string::String;
use embedded_io::{ErrorType, Read, ReadReady, Write};

use crate::detect::Pending;
use crate::out::{Key, write_all};
use crate::system::MAX_LINE;
use crate::util::ctlstr;

/// What [`LineReader::read_line`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineEvent {
    /// A complete line is in the caller's buffer (possibly the unterminated last line).
    Line,
    /// The line was longer than [`MAX_LINE`]; it has been discarded.
    TooLong,
    /// Ctrl-C discarded the line.
    Cancelled,
    /// End of input, nothing pending.
    Eof,
    /// The IO failed.
    IoError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Esc {
    /// Not in an escape sequence.
    None,
    /// After ESC.
    Start,
    /// Inside `ESC [ ...` (parameters and intermediates are skipped, however many).
    Csi,
    /// After `ESC O` (one final byte follows).
    Ss3,
    /// Inside a control string (`ESC ]`, `ESC P`, ...: [`crate::util::ctlstr`]).
    Str { after_esc: bool },
}

/// Plain line reader; keeps its read-ahead between lines so no byte is lost.
pub(crate) struct LineReader {
    pending: Pending,
    pending_pos: usize,
    chunk: [u8; 64],
    pos: usize,
    len: usize,
    eof: bool,
    esc: Esc,
    utf8: [u8; 4],
    utf8_have: usize,
    utf8_need: usize,
    skip_lf: bool,
}

/// Non-terminal mode's [`Console`](crate::out::Console): output to the IO, keys from the line
/// reader (so a running command's polls and the next line share one read-ahead).
pub(crate) struct PlainIo<'a, IO> {
    pub io: &'a mut IO,
    pub reader: &'a mut LineReader,
}

impl<IO: ErrorType> ErrorType for PlainIo<'_, IO> {
    type Error = IO::Error;
}

impl<IO: Write> Write for PlainIo<'_, IO> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, IO::Error> {
        self.io.write(buf)
    }

    fn flush(&mut self) -> Result<(), IO::Error> {
        self.io.flush()
    }
}

impl<IO: Read + Write + ReadReady> crate::out::Console for PlainIo<'_, IO> {
    fn poll_key(&mut self) -> Option<Key> {
        self.reader.poll_key(self.io)
    }

    fn take_interrupt(&mut self) -> bool {
        self.reader.take_interrupt(self.io)
    }

    fn rows(&self) -> Option<u16> {
        None
    }
}

/// Outcome of feeding one byte.
enum Step {
    Continue,
    EndOfLine,
    Cancel,
}

impl LineReader {
    /// A reader whose first input bytes are `pending`; `eof` if the input already ended.
    pub(crate) fn new(pending: Pending, eof: bool) -> Self {
        Self {
            pending,
            pending_pos: 0,
            chunk: [0; 64],
            pos: 0,
            len: 0,
            eof,
            esc: Esc::None,
            utf8: [0; 4],
            utf8_have: 0,
            utf8_need: 0,
            skip_lf: false,
        }
    }

    fn next_byte<IO: Read>(&mut self, io: &mut IO) -> Result<Option<u8>, ()> {
        if let Some(&b) = self.pending.as_slice().get(self.pending_pos) {
            self.pending_pos += 1;
            return Ok(Some(b));
        }
        if self.pos == self.len {
            if self.eof {
                return Ok(None);
            }
            match io.read(&mut self.chunk) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(None);
                }
                Ok(n) => {
                    self.pos = 0;
                    self.len = n.min(self.chunk.len());
                }
                Err(_) => return Err(()),
            }
        }
        let b = self.chunk[self.pos];
        self.pos += 1;
        Ok(Some(b))
    }

    /// The next input byte if one is there now (read ahead already, or ready on `io`), for a
    /// running command that polls for keys; never blocks.
    pub(crate) fn poll_key<IO: Read + ReadReady>(&mut self, io: &mut IO) -> Option<Key> {
        let buffered = self.pending_pos < self.pending.as_slice().len() || self.pos < self.len;
        if !buffered && !self.eof && !matches!(io.read_ready(), Ok(true)) {
            return None;
        }
        Some(match self.next_byte(io) {
            Ok(Some(b)) => Key::Byte(b),
            Ok(None) | Err(()) => Key::Closed,
        })
    }

    /// Whether a Ctrl-C is in what was read ahead, or in the next chunk the IO has ready (read
    /// ahead now); if so, everything up to and including it is dropped. Never blocks.
    pub(crate) fn take_interrupt<IO: Read + ReadReady>(&mut self, io: &mut IO) -> bool {
        let pending = self.pending.as_slice();
        if let Some(i) = pending[self.pending_pos..]
            .iter()
            .position(|&b| b == CTRL_C)
        {
            self.pending_pos += i + 1;
            self.reset_decoding();
            return true;
        }
        // Read what has arrived behind the read-ahead (lines typed ahead stay in front of it),
        // as far as the chunk has room.
        let ahead = self.len - self.pos;
        if ahead < self.chunk.len() && !self.eof && matches!(io.read_ready(), Ok(true)) {
            self.chunk.copy_within(self.pos..self.len, 0);
            (self.pos, self.len) = (0, ahead);
            match io.read(&mut self.chunk[ahead..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.len = (ahead + n).min(self.chunk.len()),
                Err(_) => return false,
            }
        }
        match self.chunk[self.pos..self.len]
            .iter()
            .position(|&b| b == CTRL_C)
        {
            Some(i) => {
                self.pending_pos = pending.len();
                self.pos += i + 1;
                self.reset_decoding();
                true
            }
            None => false,
        }
    }

    /// Forgets a half-read escape sequence or UTF-8 character (input was dropped under it).
    fn reset_decoding(&mut self) {
        self.esc = Esc::None;
        self.utf8_have = 0;
        self.utf8_need = 0;
    }

    /// Reads one line into `line` (cleared first), echoing what it accepts to `io`.
    pub(crate) fn read_line<IO: Read + Write>(
        &mut self,
        io: &mut IO,
        line: &mut String,
    ) -> LineEvent {
        line.clear();
        let mut too_long = false;
        loop {
            let b = match self.next_byte(io) {
                Ok(Some(b)) => b,
                Ok(None) => {
                    // Unterminated last line: run it, like a shell reading a script does.
                    if line.is_empty() && !too_long {
                        return LineEvent::Eof;
                    }
                    if write_all(io, b"\r\n").is_err() {
                        return LineEvent::IoError;
                    }
                    return if too_long {
                        LineEvent::TooLong
                    } else {
                        LineEvent::Line
                    };
                }
                Err(()) => return LineEvent::IoError,
            };
            let mut echo = Echo::default();
            let step = self.feed(b, line, &mut too_long, &mut echo);
            if write_all(io, echo.as_slice()).is_err() {
                return LineEvent::IoError;
            }
            match step {
                Step::Continue => {}
                Step::EndOfLine => {
                    return if too_long {
                        LineEvent::TooLong
                    } else {
                        LineEvent::Line
                    };
                }
                Step::Cancel => return LineEvent::Cancelled,
            }
        }
    }

    /// Processes one input byte. May re-process it once after aborting an escape or UTF-8
    /// sequence, hence the loop.
    fn feed(&mut self, b: u8, line: &mut String, too_long: &mut bool, echo: &mut Echo) -> Step {
        loop {
            if self.esc != Esc::None {
                match (self.esc, b) {
                    (Esc::Str { after_esc }, _) => match ctlstr::step(after_esc, b) {
                        ctlstr::Step::Inside { after_esc } => self.esc = Esc::Str { after_esc },
                        ctlstr::Step::Ended => self.esc = Esc::None,
                        ctlstr::Step::EndedBefore => {
                            self.esc = Esc::None;
                            continue;
                        }
                    },
                    (Esc::Start, b) if ctlstr::starts(b) => {
                        self.esc = Esc::Str { after_esc: false }
                    }
                    (Esc::Start, b'[') => self.esc = Esc::Csi,
                    (Esc::Start, b'O') => self.esc = Esc::Ss3,
                    (Esc::Start, 0x1b) => {}
                    (Esc::Start, 0x20..=0x7e) => self.esc = Esc::None,
                    (Esc::Csi, 0x20..=0x3f) => {}
                    (Esc::Csi | Esc::Ss3, 0x40..=0x7e) => self.esc = Esc::None,
                    _ => {
                        // Not part of a sequence (a control byte, UTF-8, ...): abort, reprocess.
                        self.esc = Esc::None;
                        continue;
                    }
                }
                return Step::Continue;
            }
            if self.utf8_need > 0 {
                if b & 0xc0 == 0x80 {
                    self.utf8[self.utf8_have] = b;
                    self.utf8_have += 1;
                    if self.utf8_have == self.utf8_need {
                        self.utf8_need = 0;
                        let bytes = &self.utf8[..self.utf8_have];
                        if let Ok(s) = core::str::from_utf8(bytes)
                            && !s.chars().any(char::is_control)
                        {
                            push_str(line, s, too_long, echo);
                        }
                    }
                    return Step::Continue;
                }
                // Truncated sequence: drop it and look at this byte afresh.
                self.utf8_need = 0;
                continue;
            }
            let after_cr = core::mem::replace(&mut self.skip_lf, false);
            return match b {
                b'\r' => {
                    self.skip_lf = true;
                    echo.push(b"\r\n");
                    Step::EndOfLine
                }
                b'\n' if after_cr => Step::Continue,
                b'\n' => {
                    echo.push(b"\r\n");
                    Step::EndOfLine
                }
                0x03 => {
                    echo.push(b"^C\r\n");
                    Step::Cancel
                }
                0x08 | 0x7f => {
                    if !*too_long && line.pop().is_some() {
                        echo.push(b"\x08 \x08");
                    }
                    Step::Continue
                }
                b'\t' => {
                    push_str(line, " ", too_long, echo);
                    Step::Continue
                }
                0x1b => {
                    self.esc = Esc::Start;
                    Step::Continue
                }
                0x20..=0x7e => {
                    let c = [b];
                    // An ASCII byte is always valid UTF-8.
                    if let Ok(s) = core::str::from_utf8(&c) {
                        push_str(line, s, too_long, echo);
                    }
                    Step::Continue
                }
                0xc2..=0xdf => self.start_utf8(b, 2),
                0xe0..=0xef => self.start_utf8(b, 3),
                0xf0..=0xf4 => self.start_utf8(b, 4),
                _ => Step::Continue, // other control bytes, stray continuation bytes, invalid leads
            };
        }
    }

    fn start_utf8(&mut self, b: u8, need: usize) -> Step {
        self.utf8[0] = b;
        self.utf8_have = 1;
        self.utf8_need = need;
        Step::Continue
    }
}

/// Appends accepted text unless the line is already over the limit.
fn push_str(line: &mut String, s: &str, too_long: &mut bool, echo: &mut Echo) {
    if *too_long {
        return;
    }
    if line.len() + s.len() > MAX_LINE {
        *too_long = true;
        line.clear();
        return;
    }
    line.push_str(s);
    echo.push(s.as_bytes());
}

/// Echo bytes produced by one input byte (at most a few).
#[derive(Default)]
struct Echo {
    buf: [u8; 8],
    len: usize,
}

impl Echo {
    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
    }

    fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}
