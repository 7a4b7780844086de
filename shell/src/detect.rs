//! Start-up terminal detection: one size probe, a bounded wait, a bounded CPR parser.
//!
//! `Shell::run` writes [`SIZE_PROBE`] and the first prompt together, then calls
//! [`await_reply`]: the prompt is on the line at once, whether or not anything ever answers.

use core::time::Duration;
use embedded_io::{Read, ReadReady};

use crate::system::System;

/// The size probe: save cursor, move to the far corner, ask for the position, restore.
pub(crate) const SIZE_PROBE: &[u8] = b"\x1b7\x1b[999;999H\x1b[6n\x1b8";

/// Erases the early prompt once a terminal answered: the probe's `ESC 8` put the cursor back where
/// the prompt starts, so carriage return and erase-to-end-of-line remove exactly that prompt
/// before noline draws its own.
pub(crate) const ERASE_PROMPT: &[u8] = b"\r\x1b[K";

/// How long `Shell::run` waits for the terminal to answer the probe.
pub const DETECT_TIMEOUT: Duration = Duration::from_millis(200);

/// Poll interval while waiting for the reply. `sleep` (not `idle`) so the wait is bounded
/// even if no interrupt is due.
const POLL: Duration = Duration::from_millis(1);

/// Most digits accepted per CPR number; more means "not a CPR".
const MAX_CPR_DIGITS: u8 = 6;

/// Longest byte sequence the parser can consume before deciding: `ESC [ 6d ; 6d R`, plus slack.
const PENDING_CAP: usize = 2 + 6 + 1 + 6 + 1;

/// Terminal size used when the CPR reports 0 for a dimension.
pub(crate) const DEFAULT_ROWS: u16 = 24;
/// Terminal size used when the CPR reports 0 for a dimension.
pub(crate) const DEFAULT_COLS: u16 = 80;
/// Largest accepted size in either dimension (noline formats coordinates in at most 4 digits).
pub(crate) const MAX_DIM: u16 = 999;

/// Bytes read during detection that turned out not to be a CPR; they are input.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Pending {
    buf: [u8; PENDING_CAP],
    len: usize,
}

impl Pending {
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Result of [`detect`].
#[derive(Debug)]
pub(crate) enum Detected {
    /// A terminal answered; its size (rows, columns), each in `1..=999`.
    Terminal { rows: u16, cols: u16 },
    /// Not a terminal. `pending` must be treated as the first input bytes; `eof` if the input
    /// already ended.
    Plain { pending: Pending, eof: bool },
    /// The IO failed.
    IoError,
}

/// One step of [`CprParser::advance`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CprStep {
    /// Need more bytes.
    More,
    /// A complete `ESC[<row>;<col>R`, raw numbers (may be 0).
    Done(u32, u32),
    /// Not a CPR.
    Invalid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CprState {
    Start,
    Esc,
    Row,
    Col,
}

/// Parser for exactly one cursor position report, bounded in time and space.
#[derive(Debug)]
pub(crate) struct CprParser {
    state: CprState,
    row: u32,
    col: u32,
    digits: u8,
}

impl CprParser {
    pub(crate) fn new() -> Self {
        Self {
            state: CprState::Start,
            row: 0,
            col: 0,
            digits: 0,
        }
    }

    pub(crate) fn advance(&mut self, b: u8) -> CprStep {
        match (self.state, b) {
            (CprState::Start, 0x1b) => self.state = CprState::Esc,
            (CprState::Esc, b'[') => self.state = CprState::Row,
            (CprState::Row | CprState::Col, b'0'..=b'9') => {
                self.digits += 1;
                if self.digits > MAX_CPR_DIGITS {
                    return CprStep::Invalid;
                }
                let n = if self.state == CprState::Row {
                    &mut self.row
                } else {
                    &mut self.col
                };
                // At most 6 digits, so this cannot overflow a u32.
                *n = *n * 10 + u32::from(b - b'0');
            }
            (CprState::Row, b';') => {
                self.state = CprState::Col;
                self.digits = 0;
            }
            (CprState::Col, b'R') => return CprStep::Done(self.row, self.col),
            _ => return CprStep::Invalid,
        }
        CprStep::More
    }
}

/// Turns a raw CPR number into a usable dimension: 0 means unknown, the rest is clamped.
pub(crate) fn dimension(raw: u32, default: u16) -> u16 {
    if raw == 0 {
        default
    } else {
        u16::try_from(raw).unwrap_or(MAX_DIM).clamp(1, MAX_DIM)
    }
}

/// Waits for the answer to [`SIZE_PROBE`] (already written) and decides between terminal and
/// non-terminal mode.
pub(crate) fn await_reply<IO, S>(io: &mut IO, sys: &mut S) -> Detected
where
    IO: Read + ReadReady,
    S: System + ?Sized,
{
    let start = sys.uptime();
    let mut pending = Pending::default();
    let mut parser = CprParser::new();
    loop {
        match io.read_ready() {
            Err(_) => return Detected::IoError,
            Ok(false) => {
                if sys.uptime().saturating_sub(start) >= DETECT_TIMEOUT {
                    return Detected::Plain {
                        pending,
                        eof: false,
                    };
                }
                sys.sleep(POLL);
                continue;
            }
            Ok(true) => {}
        }
        let mut byte = [0u8; 1];
        match io.read(&mut byte) {
            Err(_) => return Detected::IoError,
            Ok(0) => return Detected::Plain { pending, eof: true },
            Ok(_) => {}
        }
        pending.push(byte[0]);
        match parser.advance(byte[0]) {
            CprStep::More => {}
            CprStep::Invalid => {
                return Detected::Plain {
                    pending,
                    eof: false,
                };
            }
            CprStep::Done(row, col) => {
                return Detected::Terminal {
                    rows: dimension(row, DEFAULT_ROWS),
                    cols: dimension(col, DEFAULT_COLS),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> (CprStep, usize) {
        let mut p = CprParser::new();
        for (i, &b) in bytes.iter().enumerate() {
            match p.advance(b) {
                CprStep::More => {}
                step => return (step, i + 1),
            }
        }
        (CprStep::More, bytes.len())
    }

    #[test]
    fn cpr_valid() {
        assert_eq!(parse(b"\x1b[24;80R"), (CprStep::Done(24, 80), 8));
        assert_eq!(parse(b"\x1b[1;1R"), (CprStep::Done(1, 1), 6));
        assert_eq!(parse(b"\x1b[24;0R"), (CprStep::Done(24, 0), 7));
        assert_eq!(parse(b"\x1b[;R"), (CprStep::Done(0, 0), 4));
        assert_eq!(
            parse(b"\x1b[999999;999999R").0,
            CprStep::Done(999_999, 999_999)
        );
    }

    #[test]
    fn cpr_invalid_stops_early() {
        assert_eq!(parse(b"echo hi\n"), (CprStep::Invalid, 1));
        assert_eq!(parse(b"\x1bOA"), (CprStep::Invalid, 2));
        assert_eq!(parse(b"\x1b[24R"), (CprStep::Invalid, 5));
        assert_eq!(parse(b"\x1b[2;4;5R"), (CprStep::Invalid, 6));
        // Seven digits: rejected at the seventh, long before a 10,000-digit run ends.
        let mut long = b"\x1b[".to_vec();
        long.extend(core::iter::repeat_n(b'9', 10_000));
        long.extend(b";1R");
        assert_eq!(parse(&long), (CprStep::Invalid, 9));
        let mut long_col = b"\x1b[1;".to_vec();
        long_col.extend(core::iter::repeat_n(b'1', 10_000));
        assert_eq!(parse(&long_col), (CprStep::Invalid, 11));
        assert!(long_col.len() > PENDING_CAP);
    }

    #[test]
    fn dimensions() {
        assert_eq!(dimension(0, DEFAULT_COLS), 80);
        assert_eq!(dimension(0, DEFAULT_ROWS), 24);
        assert_eq!(dimension(1, DEFAULT_COLS), 1);
        assert_eq!(dimension(132, DEFAULT_COLS), 132);
        assert_eq!(dimension(1000, DEFAULT_COLS), 999);
        assert_eq!(dimension(999_999, DEFAULT_COLS), 999);
    }
}
