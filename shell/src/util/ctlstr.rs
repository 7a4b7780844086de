//! Control strings on the input line (ECMA-48 8.3.27 ff.: OSC `ESC ]`, DCS `ESC P`, SOS `ESC X`,
//! PM `ESC ^`, APC `ESC _`): terminals and pasted text send them (a window title, a hyperlink,
//! a terminal's own reports). Both line readers consume one whole, so that nothing inside ever
//! becomes command text: it ends at ST (`ESC \`), at BEL (xterm's OSC end), or is cancelled by
//! CAN or SUB. A line end inside one also ends it (one never terminated must not swallow the
//! session), and still ends the line, which gets none of the string's bytes.

/// Whether `ESC b` starts a control string.
pub(crate) fn starts(b: u8) -> bool {
    matches!(b, b']' | b'P' | b'X' | b'^' | b'_')
}

/// What a byte inside a control string does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Still inside; `after_esc`: this byte was ESC (an ST may follow).
    Inside { after_esc: bool },
    /// The string ended with this byte, which it consumed.
    Ended,
    /// The string ended before this byte (a line end), which is processed as usual.
    EndedBefore,
}

/// The byte after `after_esc` (the previous byte was ESC) inside a control string.
pub(crate) fn step(after_esc: bool, b: u8) -> Step {
    match b {
        b'\\' if after_esc => Step::Ended,
        0x07 | 0x18 | 0x1a => Step::Ended,
        b'\r' | b'\n' => Step::EndedBefore,
        0x1b => Step::Inside { after_esc: true },
        _ => Step::Inside { after_esc: false },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `bytes` (after the introducer) through [`step`]: how many it consumed and how it
    /// ended.
    fn run(bytes: &[u8]) -> (usize, Option<Step>) {
        let mut after_esc = false;
        for (i, &b) in bytes.iter().enumerate() {
            match step(after_esc, b) {
                Step::Inside { after_esc: e } => after_esc = e,
                end => return (i, Some(end)),
            }
        }
        (bytes.len(), None)
    }

    #[test]
    fn strings_end_at_st_bel_can_sub_or_a_line_end() {
        assert!(starts(b']') && starts(b'P') && starts(b'_') && !starts(b'['));
        assert_eq!(run(b"0;title\x1b\\rest"), (8, Some(Step::Ended)));
        assert_eq!(run(b"poweroff 3\x07"), (10, Some(Step::Ended)));
        assert_eq!(run(b"x\x18"), (1, Some(Step::Ended)));
        assert_eq!(run(b"poweroff 3\r"), (10, Some(Step::EndedBefore)));
        // An ESC inside that is not ST keeps the string going.
        assert_eq!(run(b"a\x1bb\x1b\\"), (4, Some(Step::Ended)));
        assert_eq!(run(b"never ends"), (10, None));
    }
}
