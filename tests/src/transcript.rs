//! Scanning the serial output as it streams in.
//!
//! The transcript is the guest's serial output made plain: the shell's terminal probe at start
//! (`ESC 7 ESC[999;999H ESC[6n ESC 8`, see [`PROBE_PARTS`]) is dropped, and `\r\n` line ends
//! become `\n`, so that a transcript can be diffed and grepped as it is (also when a sequence
//! arrives split over several reads). Dropping `ESC[6n` matters on a real terminal too: copied
//! there it would make the terminal type its answer (`ESC[24;80R`) into whatever runs after us.
//! [`Scanner::raw`] keeps every byte as it came (`runner script --raw`).
//!
//! While streaming, [`Scanner`] notices the shell prompt `rtos> ` and a line starting with
//! `KERNEL PANIC` (at the very start of the output or right after `\n` or `\r`).

/// The shell prompt, exactly.
pub const PROMPT: &[u8] = b"rtos> ";
/// The start of the kernel's fatal-error line.
pub const PANIC_MARK: &[u8] = PANIC_MARK_STR.as_bytes();
/// [`PANIC_MARK`] as text.
pub const PANIC_MARK_STR: &str = "KERNEL PANIC";
/// The cursor position request the line editor sends before each line.
pub const CURSOR_PROBE: &[u8] = b"\x1b[6n";
/// What a clean transcript drops: the pieces of the shell's terminal probe (save cursor, move
/// far, ask, restore cursor).
pub const PROBE_PARTS: [&[u8]; 4] = [b"\x1b7", b"\x1b[999;999H", CURSOR_PROBE, b"\x1b8"];

/// Rewrites of a clean transcript: `(from, to)`.
const REWRITES: [(&[u8], &[u8]); 5] = [
    (PROBE_PARTS[0], b""),
    (PROBE_PARTS[1], b""),
    (PROBE_PARTS[2], b""),
    (PROBE_PARTS[3], b""),
    (b"\r\n", b"\n"),
];

/// What one [`Scanner::feed`] call found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Found {
    /// Number of new `rtos> ` prompts.
    pub prompts: usize,
    /// A new line starting with `KERNEL PANIC`.
    pub panic: bool,
}

/// Accumulates the transcript and reports prompts and panics.
#[derive(Debug, Default)]
pub struct Scanner {
    text: Vec<u8>,
    /// A tail that may be the start of a rewritten sequence, held back until the next read.
    held: Vec<u8>,
    /// Keep every byte as it came.
    raw: bool,
    prompt_from: usize,
    panic_from: usize,
    prompts: usize,
    panics: usize,
}

fn find_all(hay: &[u8], needle: &[u8], from: usize) -> impl Iterator<Item = usize> {
    let from = from.min(hay.len());
    hay[from..]
        .windows(needle.len())
        .enumerate()
        .filter(move |(_, w)| *w == needle)
        .map(move |(i, _)| from + i)
}

impl Scanner {
    /// An empty, clean transcript.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty transcript that keeps every byte as it came.
    pub fn raw() -> Self {
        Self {
            raw: true,
            ..Self::default()
        }
    }

    /// Adds bytes read from the serial line. Returns what was found, and the range of
    /// [`Self::text`] that is new (to be echoed).
    pub fn feed(&mut self, chunk: &[u8]) -> (Found, std::ops::Range<usize>) {
        let start = self.text.len();
        if self.raw {
            self.text.extend_from_slice(chunk);
            return (self.scan(), start..self.text.len());
        }
        let mut data = std::mem::take(&mut self.held);
        data.extend_from_slice(chunk);
        // Keep back a tail that is a proper prefix of a rewritten sequence.
        let is_prefix = |tail: &[u8]| {
            REWRITES
                .iter()
                .any(|(from, _)| from.len() > tail.len() && from.starts_with(tail))
        };
        let keep = (1..=data.len().min(15))
            .rev()
            .find(|&n| is_prefix(&data[data.len() - n..]))
            .unwrap_or(0);
        let cut = data.len() - keep;
        self.held = data[cut..].to_vec();
        let mut i = 0;
        'bytes: while i < cut {
            for (from, to) in REWRITES {
                if data[i..cut].starts_with(from) {
                    self.text.extend_from_slice(to);
                    i += from.len();
                    continue 'bytes;
                }
            }
            self.text.push(data[i]);
            i += 1;
        }
        (self.scan(), start..self.text.len())
    }

    /// End of output: releases a held-back partial probe.
    pub fn finish(&mut self) -> (Found, std::ops::Range<usize>) {
        let start = self.text.len();
        let held = std::mem::take(&mut self.held);
        self.text.extend_from_slice(&held);
        (self.scan(), start..self.text.len())
    }

    fn scan(&mut self) -> Found {
        let mut found = Found::default();
        let mut last_end = None;
        for p in find_all(&self.text, PROMPT, self.prompt_from) {
            found.prompts += 1;
            last_end = Some(p + PROMPT.len());
        }
        let tail = self.text.len().saturating_sub(PROMPT.len() - 1);
        self.prompt_from = last_end.map_or(tail, |e| e.max(tail));

        let mut last_end = None;
        for p in find_all(&self.text, PANIC_MARK, self.panic_from) {
            last_end = Some(p + PANIC_MARK.len());
            if p == 0 || matches!(self.text[p - 1], b'\n' | b'\r') {
                found.panic = true;
                self.panics += 1;
            }
        }
        let tail = self.text.len().saturating_sub(PANIC_MARK.len() - 1);
        self.panic_from = last_end.map_or(tail, |e| e.max(tail));
        self.prompts += found.prompts;
        found
    }

    /// The transcript so far.
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// Prompts seen so far.
    pub fn prompts(&self) -> usize {
        self.prompts
    }

    /// Whether a `KERNEL PANIC` line was seen.
    pub fn panicked(&self) -> bool {
        self.panics > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(chunks: &[&[u8]]) -> (Scanner, Vec<u8>, usize, bool) {
        let mut s = Scanner::new();
        let mut echoed = Vec::new();
        let (mut prompts, mut panic) = (0, false);
        for c in chunks {
            let (f, r) = s.feed(c);
            echoed.extend_from_slice(&s.text()[r]);
            prompts += f.prompts;
            panic |= f.panic;
        }
        let (f, r) = s.finish();
        echoed.extend_from_slice(&s.text()[r]);
        prompts += f.prompts;
        panic |= f.panic;
        (s, echoed, prompts, panic)
    }

    #[test]
    fn probe_and_crlf_are_cleaned_even_when_split() {
        let whole: &[u8] = b"a\r\n\x1b7\x1b[999;999H\x1b[6n\x1b8rtos> b\r\nc\rd\n";
        for split in 0..whole.len() {
            for split2 in split..whole.len() {
                let (s, echoed, prompts, _) =
                    feed_all(&[&whole[..split], &whole[split..split2], &whole[split2..]]);
                assert_eq!(s.text(), b"a\nrtos> b\nc\rd\n", "split at {split},{split2}");
                assert_eq!(echoed, s.text());
                assert_eq!(prompts, 1);
            }
        }
    }

    #[test]
    fn other_escapes_and_partial_sequences_are_kept() {
        let (s, ..) = feed_all(&[b"\x1b[6", b"m x \x1b[", b"6"]);
        assert_eq!(s.text(), b"\x1b[6m x \x1b[6");
        let (s, ..) = feed_all(&[b"\x1b[999;9", b"9H \x1b", b"9 \r"]);
        assert_eq!(s.text(), b"\x1b[999;99H \x1b9 \r");
    }

    #[test]
    fn raw_keeps_every_byte() {
        let whole: &[u8] = b"\x1b7\x1b[999;999H\x1b[6n\x1b8rtos> b\r\n";
        let mut s = Scanner::raw();
        let (f, r) = s.feed(whole);
        assert_eq!(&s.text()[r], whole);
        assert_eq!(f.prompts, 1);
    }

    #[test]
    fn prompts_are_counted_once_across_reads() {
        let (s, _, prompts, _) = feed_all(&[b"rtos", b"> echo\r\nrto", b"s> ", b"rtos> rtos> "]);
        assert_eq!(prompts, 4);
        assert_eq!(s.prompts(), 4);
    }

    #[test]
    fn panic_only_at_line_start() {
        let (_, _, _, p) = feed_all(&[b"echo KERNEL PANIC\r\n"]);
        assert!(!p);
        let (_, _, _, p) = feed_all(&[b"KERNEL PANIC at boot"]);
        assert!(p);
        let (s, _, _, p) = feed_all(&[b"rtos> crash panic\r\nKERNEL ", b"PANIC: boom\r\n"]);
        assert!(p);
        assert!(s.panicked());
        let (_, _, _, p) = feed_all(&[b"x\rKERNEL PANIC"]);
        assert!(p);
    }
}
