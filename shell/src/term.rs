//! The IO wrapper noline runs over in terminal mode.
//!
//! Output side (noline -> terminal), a small VT tracker in noline's coordinate frame:
//! * `ESC 7` / `ESC 8` (save/restore) are handled virtually, not forwarded. At `ESC 7` — the
//!   start of every noline line — the cursor row is assumed to be the bottom row.
//! * `ESC[999;999H` (noline's "move to the corner") is virtual too.
//! * `ESC[6n` is never forwarded; a CPR is queued for noline instead: the size after the corner
//!   move, the tracked cursor otherwise. The column reported is never past the last column.
//! * Any other `ESC[<r>;<c>H` becomes relative moves (`ESC[nA`/`ESC[nB`, `\r`, `ESC[nC`), which
//!   land on the right cell wherever the prompt really is.
//! * Everything else is forwarded; printable characters and `\r`/`\n` update the tracker.
//!
//! Input side (terminal -> noline): UTF-8 is validated (C1 controls dropped), `\r\n` counts as
//! one Enter, CPRs and all escape sequences noline cannot handle safely are dropped, and the
//! editing keys are forwarded in one canonical form (`ESC[A`..`ESC[D`, `ESC[1~` Home, `ESC[4~`
//! End, `ESC[3~` Delete). That keeps noline's parser away from its panics (`ESC[R`, huge numbers,
//! private sequences that never end).

use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write};

use alloc::string::String;
use alloc::vec::Vec;

use crate::complete::Completion;
use crate::out::{Key, write_all};
use rtos::sync::IrqSpinLock;

/// Narrowest width told to noline: the prompt plus room to type must fit on one row, otherwise
/// noline's column arithmetic underflows.
pub(crate) const MIN_COLS: u16 = 16;

/// Bytes a [`Queue`] holds (a completion, a word move or a line found by Ctrl-R is queued as
/// typed input: room for a whole line and the keys around it).
const QUEUE: usize = 1024;

/// What Tab asks: `f(line, cursor, second_tab)`.
pub(crate) type Completer = dyn Fn(&str, usize, bool) -> Completion;

/// The line being edited, for kernel console lines that arrive meanwhile ([`Redraw`]).
pub(crate) struct View {
    /// noline is waiting for a key (the line is on the screen).
    active: bool,
    prompt: &'static str,
    text: String,
    cursor: usize,
    cols: u16,
}

static VIEW: IrqSpinLock<View> = IrqSpinLock::new(View {
    active: false,
    prompt: "",
    text: String::new(),
    cursor: 0,
    cols: 80,
});

/// The line is no longer being edited (noline returned it; a command runs).
pub(crate) fn view_off() {
    VIEW.lock().active = false;
}

/// Prints a kernel console line above the line being edited: moves to the prompt's first
/// cell, erases to the end of the screen, prints the line, then the prompt and the partial line
/// again with the cursor where it was (as readline and Zephyr's shell do). Installed into
/// `rtos::console` by the terminal session.
pub(crate) struct Redraw;

/// The one [`Redraw`].
pub(crate) static REDRAW: Redraw = Redraw;

impl rtos::console::Around for Redraw {
    fn around(&self, line: &str, out: &mut String) -> bool {
        wrap(&VIEW.lock(), line, out)
    }
}

/// [`Redraw`]'s work for a given view (host-tested).
fn wrap(v: &View, line: &str, out: &mut String) -> bool {
    {
        if !v.active {
            return false;
        }
        let cols = usize::from(v.cols.max(1));
        let plen = v.prompt.chars().count();
        let (len, cur) = (plen + v.text.chars().count(), plen + v.cursor);
        let up = cur / cols;
        let _ = core::fmt::Write::write_fmt(out, format_args!("\r"));
        if up > 0 {
            let _ = core::fmt::Write::write_fmt(out, format_args!("\x1b[{up}A"));
        }
        out.push_str("\x1b[J");
        out.push_str(line);
        out.push_str("\r\n");
        out.push_str(v.prompt);
        out.push_str(&v.text);
        // From the end of the line back to the cursor. A line that ends on a row's last column
        // leaves the terminal's cursor there (a pending wrap), on the same row.
        let end_row = if len > 0 && len % cols == 0 {
            len / cols - 1
        } else {
            len / cols
        };
        let (row, col) = (cur / cols, cur % cols);
        if end_row > row {
            let _ = core::fmt::Write::write_fmt(out, format_args!("\x1b[{}A", end_row - row));
        }
        out.push('\r');
        if col > 0 {
            let _ = core::fmt::Write::write_fmt(out, format_args!("\x1b[{col}C"));
        }
        true
    }
}

/// Fixed-size byte FIFO.
#[derive(Debug)]
struct Queue {
    buf: [u8; QUEUE],
    head: usize,
    len: usize,
}

impl Queue {
    const fn new() -> Self {
        Self {
            buf: [0; QUEUE],
            head: 0,
            len: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if self.len < self.buf.len() {
                self.buf[(self.head + self.len) % self.buf.len()] = b;
                self.len += 1;
            }
        }
    }

    fn pop(&mut self) -> Option<u8> {
        if self.len == 0 {
            return None;
        }
        let b = self.buf[self.head];
        self.head = (self.head + 1) % self.buf.len();
        self.len -= 1;
        Some(b)
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InState {
    Ground,
    Esc,
    /// `ESC [`: two saturating parameters, how many `;` seen, whether anything odd
    /// (private markers, intermediates) appeared.
    Csi {
        p: [u16; 2],
        n: u8,
        odd: bool,
    },
    Ss3,
    /// Inside a control string (`ESC ]`, `ESC P`, ...: [`crate::util::ctlstr`]).
    Str {
        after_esc: bool,
    },
    Utf8 {
        buf: [u8; 4],
        have: u8,
        need: u8,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutState {
    Ground,
    Esc,
    Csi,
}

/// Small output buffer so forwarding does not write byte by byte.
const OBUF: usize = 64;

/// noline's IO: answers its probes, sanitizes input, makes cursor moves relative.
pub(crate) struct TermIo<'a, IO> {
    /// The real IO; the shell writes command output straight to it between lines.
    pub io: &'a mut IO,
    rows: u16,
    cols: u16,
    raw: [u8; 32],
    raw_pos: usize,
    raw_len: usize,
    replies: Queue,
    input: Queue,
    in_state: InState,
    last_cr: bool,
    /// The real input ended.
    pub eof: bool,
    /// The real IO failed.
    pub failed: bool,
    out_state: OutState,
    seq: [u8; 16],
    seq_len: usize,
    seq_overflow: bool,
    row: u16,
    col: u16,
    saved: (u16, u16),
    obuf: [u8; OBUF],
    olen: usize,
    /// The line as noline drew it, from the prompt's first cell (a shadow of the screen, kept
    /// from noline's output: what Tab, Ctrl-L, word moves and async output redraw use).
    cells: Vec<char>,
    /// The row (in noline's frame) where the prompt starts; negative once scrolled off.
    top: i32,
    /// A UTF-8 character being drawn: its cell, bytes so far, bytes needed.
    drawing: Option<(usize, [u8; 4], u8, u8)>,
    /// The prompt's length in characters.
    prompt_len: usize,
    /// The prompt.
    prompt: &'static str,
    /// Computes what Tab does.
    completer: Option<&'a Completer>,
    /// The last key was a Tab that completed nothing.
    last_tab: bool,
    /// noline's last cursor move went to the far corner (its size probe follows).
    at_corner: bool,
    /// A size the terminal reported, for the next line (a line keeps the width it began with).
    new_size: Option<(u16, u16)>,
    /// The lines typed before, oldest first (Ctrl-R searches them).
    history: Vec<String>,
    /// A Ctrl-R search going on.
    search: Option<Search>,
    /// The last byte handed to noline would insert a character.
    fed_char: bool,
    /// noline refused a character this line (its buffer was full, it rang the bell): the line
    /// is too long, whatever is edited back; the session refuses to run it.
    pub overflowed: bool,
}

/// A Ctrl-R reverse search: what was typed, the entry found, the line it started from.
struct Search {
    query: String,
    hit: Option<usize>,
    line: String,
    cursor: usize,
}

/// How a Ctrl-R search ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SearchEnd {
    /// Ctrl-G or Esc: the line as it was.
    Cancel,
    /// An editing key: the entry found becomes the line, to edit.
    Edit,
    /// Enter: the entry found runs.
    Run,
}

impl<'a, IO: Read + Write> TermIo<'a, IO> {
    /// Wraps `io` for a terminal of `rows` x `cols` (each already in `1..=999`).
    pub(crate) fn new(io: &'a mut IO, rows: u16, cols: u16) -> Self {
        let rows = rows.max(1);
        let cols = cols.max(MIN_COLS);
        Self {
            io,
            rows,
            cols,
            raw: [0; 32],
            raw_pos: 0,
            raw_len: 0,
            replies: Queue::new(),
            input: Queue::new(),
            in_state: InState::Ground,
            last_cr: false,
            eof: false,
            failed: false,
            out_state: OutState::Ground,
            seq: [0; 16],
            seq_len: 0,
            seq_overflow: false,
            row: rows - 1,
            col: 0,
            saved: (rows - 1, 0),
            obuf: [0; OBUF],
            olen: 0,
            cells: Vec::new(),
            top: i32::from(rows) - 1,
            drawing: None,
            prompt_len: 0,
            prompt: "",
            completer: None,
            last_tab: false,
            fed_char: false,
            overflowed: false,
            at_corner: false,
            new_size: None,
            history: Vec::new(),
            search: None,
        }
    }

    /// The lines typed before, oldest first, for Ctrl-R.
    pub(crate) fn set_history(&mut self, lines: Vec<String>) {
        self.history = lines;
    }

    /// The prompt of the line noline is about to read (for Tab and redraws).
    pub(crate) fn set_prompt(&mut self, prompt: &'static str) {
        self.prompt = prompt;
        self.prompt_len = prompt.chars().count();
    }

    /// Tab completion: `f(line, cursor, second_tab)`.
    pub(crate) fn set_completer(&mut self, f: &'a Completer) {
        self.completer = Some(f);
    }

    /// The line being edited and the cursor in it (a char index), from the shadow.
    pub(crate) fn line_state(&self) -> (String, usize) {
        let text: String = self.cells.iter().skip(self.prompt_len).collect();
        let cursor = self
            .index()
            .map_or(0, |i| i.saturating_sub(self.prompt_len))
            .min(text.chars().count());
        (text, cursor)
    }

    /// The cursor's cell in the line (from the prompt's first cell), if it is on the line.
    fn index(&self) -> Option<usize> {
        let rows_down = i32::from(self.row) - self.top;
        usize::try_from(rows_down)
            .ok()
            .map(|r| r * usize::from(self.cols) + usize::from(self.col))
    }

    /// The screen scrolled up one row (a line end or wrap on the bottom row).
    fn scrolled(&mut self) {
        self.top -= 1;
    }

    /// Publishes the line for async output ([`Redraw`]): active while noline waits for a key.
    fn publish(&self) {
        let (text, cursor) = self.line_state();
        let mut v = VIEW.lock();
        v.active = true;
        v.prompt = self.prompt;
        v.text = text;
        v.cursor = cursor;
        v.cols = self.cols;
    }

    // ---- input side ----

    /// Feeds one real input byte through the filter into `self.input`.
    fn filter_in(&mut self, b: u8) {
        // At most two passes: a byte that aborts a sequence is looked at again from Ground.
        for _ in 0..2 {
            match self.in_state {
                InState::Ground => {
                    self.ground_in(b);
                    return;
                }
                InState::Str { after_esc } => {
                    match crate::util::ctlstr::step(after_esc, b) {
                        crate::util::ctlstr::Step::Inside { after_esc } => {
                            self.in_state = InState::Str { after_esc };
                        }
                        crate::util::ctlstr::Step::Ended => self.in_state = InState::Ground,
                        crate::util::ctlstr::Step::EndedBefore => {
                            self.in_state = InState::Ground;
                            continue;
                        }
                    }
                    return;
                }
                InState::Esc => match b {
                    b if crate::util::ctlstr::starts(b) => {
                        self.in_state = InState::Str { after_esc: false };
                        return;
                    }
                    b'[' => {
                        self.in_state = InState::Csi {
                            p: [0; 2],
                            n: 0,
                            odd: false,
                        };
                        return;
                    }
                    b'O' => {
                        self.in_state = InState::Ss3;
                        return;
                    }
                    0x1b => return,
                    _ if self.search.is_some() && b != b'[' && b != b'O' => {
                        // Esc (then anything but a key sequence) ends a search as it was.
                        self.in_state = InState::Ground;
                        self.search_end(SearchEnd::Cancel);
                        continue;
                    }
                    b'b' | b'f' => {
                        // Alt-b / Alt-f: a word back or forward, as arrow keys for noline.
                        self.in_state = InState::Ground;
                        self.word_move(b == b'f');
                        return;
                    }
                    0x20..=0x7e => {
                        // Alt+key and other two-byte escapes: not for noline.
                        self.in_state = InState::Ground;
                        return;
                    }
                    _ => self.in_state = InState::Ground,
                },
                InState::Csi {
                    mut p,
                    mut n,
                    mut odd,
                } => {
                    match b {
                        b'0'..=b'9' => {
                            if let Some(v) = p.get_mut(usize::from(n)) {
                                *v = v.saturating_mul(10).saturating_add(u16::from(b - b'0'));
                            }
                        }
                        b';' => n = n.saturating_add(1),
                        0x20..=0x2f | 0x3a | 0x3c..=0x3f => odd = true,
                        0x40..=0x7e => {
                            self.in_state = InState::Ground;
                            if !odd && b == b'R' && n == 1 {
                                self.resized(p[0], p[1]);
                            } else if !odd {
                                self.csi_in(b, p[0]);
                            }
                            return;
                        }
                        _ => {
                            // Control byte or non-ASCII inside a sequence: abort it.
                            self.in_state = InState::Ground;
                            continue;
                        }
                    }
                    self.in_state = InState::Csi { p, n, odd };
                    return;
                }
                InState::Ss3 => {
                    self.in_state = InState::Ground;
                    if (0x40..=0x7e).contains(&b) {
                        self.csi_in(b, 0);
                        return;
                    }
                }
                InState::Utf8 {
                    mut buf,
                    mut have,
                    need,
                } => {
                    if b & 0xc0 != 0x80 {
                        self.in_state = InState::Ground; // truncated: drop, reprocess b
                        continue;
                    }
                    buf[usize::from(have)] = b;
                    have += 1;
                    if have < need {
                        self.in_state = InState::Utf8 { buf, have, need };
                        return;
                    }
                    self.in_state = InState::Ground;
                    let bytes = &buf[..usize::from(have)];
                    if let Ok(s) = core::str::from_utf8(bytes)
                        && !s.chars().any(char::is_control)
                    {
                        self.last_cr = false;
                        self.input.push(bytes);
                    }
                    return;
                }
            }
        }
    }

    fn ground_in(&mut self, b: u8) {
        let after_cr = core::mem::replace(&mut self.last_cr, false);
        let tab_before = core::mem::replace(&mut self.last_tab, false);
        if self.search.is_some() && b != 0x1b && self.search_key(b) {
            return;
        }
        match b {
            0x12 => self.search_start(),
            b'\t' => self.tab(tab_before),
            0x0c => self.redraw(true),
            0x1b => self.in_state = InState::Esc,
            b'\n' if after_cr => {}
            b'\r' => {
                self.last_cr = true;
                self.input.push(&[b]);
            }
            0x00..=0x7f => self.input.push(&[b]),
            0xc2..=0xdf => {
                self.in_state = InState::Utf8 {
                    buf: [b, 0, 0, 0],
                    have: 1,
                    need: 2,
                }
            }
            0xe0..=0xef => {
                self.in_state = InState::Utf8 {
                    buf: [b, 0, 0, 0],
                    have: 1,
                    need: 3,
                }
            }
            0xf0..=0xf4 => {
                self.in_state = InState::Utf8 {
                    buf: [b, 0, 0, 0],
                    have: 1,
                    need: 4,
                }
            }
            _ => {} // stray continuation byte or invalid lead byte
        }
    }

    /// A cursor position report: the answer to the size probe [`Self::probe_size`] sent, so the
    /// terminal's size now (the next line is drawn for it). Zero or absurd values are ignored.
    fn resized(&mut self, rows: u16, cols: u16) {
        if (1..=999).contains(&rows) && (1..=999).contains(&cols) {
            self.new_size = Some((rows, cols.max(MIN_COLS)));
        }
    }

    /// Asks the real terminal for its size (the answer comes in as input; see [`Self::resized`]).
    fn probe_size(&mut self) -> Result<(), ErrorKind> {
        self.emit(b"\x1b7\x1b[999;999H\x1b[6n\x1b8")
    }

    /// Tab: completes at the cursor (typed in for noline), or on a second Tab lists the
    /// candidates below the line and draws the line again.
    fn tab(&mut self, second: bool) {
        let Some(f) = self.completer else { return };
        let (text, cursor) = self.line_state();
        match f(&text, cursor, second) {
            Completion::Insert(s) => self.input.push(s.as_bytes()),
            Completion::List(c) => {
                let width = c.iter().map(|x| x.chars().count()).max().unwrap_or(0) + 2;
                let per_row = (usize::from(self.cols) / width.max(1)).max(1);
                let mut list = String::new();
                for (i, name) in c.iter().take(200).enumerate() {
                    list.push_str(name);
                    if (i + 1) % per_row == 0 {
                        list.push_str("\r\n");
                    } else {
                        for _ in name.chars().count()..width {
                            list.push(' ');
                        }
                    }
                }
                if c.len() > 200 {
                    list.push_str(&alloc::format!("\r\n... and {} more", c.len() - 200));
                }
                if !list.ends_with('\n') {
                    list.push_str("\r\n");
                }
                let _ = self.show_above(list.as_bytes());
            }
            Completion::Nothing => {
                self.last_tab = true;
                let _ = self.emit(b"\x07");
            }
        }
    }

    /// Prints `text` (whole lines) below the line being edited, then the prompt and the line
    /// again under it, the cursor where it was.
    fn show_above(&mut self, text: &[u8]) -> Result<(), ErrorKind> {
        let (line, cursor) = self.line_state();
        let end = self.prompt_len + line.chars().count();
        self.move_to(end)?;
        self.emit(b"\r\n")?;
        self.emit(text)?;
        // The screen scrolled: the prompt goes on the bottom row, where noline's frame has it.
        self.row = self.rows - 1;
        self.col = 0;
        self.top = i32::from(self.row);
        self.cells.clear();
        self.draw_line(&line, cursor)
    }

    /// Ctrl-L: clears the screen (`clear`) and draws the prompt and the line again, at the top;
    /// also asks the terminal for its size.
    fn redraw(&mut self, clear: bool) {
        let (line, cursor) = self.line_state();
        let _ = self.probe_size();
        if clear {
            let _ = self.emit(b"\x1b[H\x1b[2J");
        }
        // Physically at the top-left now; noline's frame keeps the prompt where it was.
        self.row = u16::try_from(self.top.max(0)).unwrap_or(0);
        self.col = 0;
        self.cells.clear();
        let _ = self.draw_line(&line, cursor);
    }

    /// Draws the prompt and `line` from the cursor (at the prompt's first cell), then puts the
    /// cursor at `cursor`.
    fn draw_line(&mut self, line: &str, cursor: usize) -> Result<(), ErrorKind> {
        let prompt = self.prompt;
        for b in prompt.bytes().chain(line.bytes()) {
            self.out_byte(b)?;
        }
        self.move_to(self.prompt_len + cursor)
    }

    /// Moves the cursor to cell `index` of the line (relative moves, tracked).
    fn move_to(&mut self, index: usize) -> Result<(), ErrorKind> {
        let cols = usize::from(self.cols);
        let row = self.top + i32::try_from(index / cols).unwrap_or(0);
        let row = u16::try_from(row.clamp(0, i32::from(self.rows) - 1)).unwrap_or(0);
        self.go(row, (index % cols) as u16)
    }

    /// Moves the cursor to `row`, `col` (noline's frame) with relative moves, which land on the
    /// right cell wherever the prompt really is; tracked.
    fn go(&mut self, row: u16, col: u16) -> Result<(), ErrorKind> {
        if row < self.row {
            self.emit_num_seq(self.row - row, b'A')?;
        } else if row > self.row {
            self.emit_num_seq(row - self.row, b'B')?;
        }
        self.emit(b"\r")?;
        if col > 0 {
            self.emit_num_seq(col, b'C')?;
        }
        self.row = row;
        self.col = col;
        Ok(())
    }

    /// Alt-f / Alt-b: queues the arrow keys that move the cursor to the end of this or the next
    /// word, or to the start of this or the previous one.
    fn word_move(&mut self, forward: bool) {
        let (line, cursor) = self.line_state();
        let chars: Vec<char> = line.chars().collect();
        let mut to = cursor;
        if forward {
            while to < chars.len() && chars[to].is_whitespace() {
                to += 1;
            }
            while to < chars.len() && !chars[to].is_whitespace() {
                to += 1;
            }
        } else {
            while to > 0 && chars[to - 1].is_whitespace() {
                to -= 1;
            }
            while to > 0 && !chars[to - 1].is_whitespace() {
                to -= 1;
            }
        }
        let key: &[u8] = if forward { b"\x1b[C" } else { b"\x1b[D" };
        for _ in 0..to.abs_diff(cursor) {
            self.input.push(key);
        }
    }

    /// Ctrl-R: starts a reverse search through the lines typed before (shown in place of the
    /// line: `(reverse-i-search)'query': match`); a second Ctrl-R finds an older match.
    fn search_start(&mut self) {
        if let Some(s) = &self.search {
            let older = s.hit;
            self.search_find(older);
        } else {
            let (line, cursor) = self.line_state();
            self.search = Some(Search {
                query: String::new(),
                hit: None,
                line,
                cursor,
            });
        }
        self.search_draw();
    }

    /// A key while searching: printable text narrows the search, Backspace widens it, Ctrl-R
    /// finds an older match, Ctrl-G cancels, Enter runs the match; another control key takes the
    /// match into the line and is then handled as usual (returns false).
    fn search_key(&mut self, b: u8) -> bool {
        match b {
            0x12 => self.search_start(),
            0x07 => self.search_end(SearchEnd::Cancel),
            b'\r' | b'\n' => self.search_end(SearchEnd::Run),
            0x08 | 0x7f => {
                if let Some(s) = &mut self.search {
                    s.query.pop();
                }
                self.search_find(None);
                self.search_draw();
            }
            0x20..=0x7e => {
                if let Some(s) = &mut self.search
                    && s.query.len() < 64
                {
                    s.query.push(char::from(b));
                }
                let from = self.search.as_ref().and_then(|s| s.hit.map(|h| h + 1));
                self.search_find(from);
                self.search_draw();
            }
            0x80.. => {} // not searched for: ASCII only
            _ => {
                self.search_end(SearchEnd::Edit);
                return false;
            }
        }
        true
    }

    /// The newest entry before `before` (default: all) that contains the query.
    fn search_find(&mut self, before: Option<usize>) {
        let Some(s) = &mut self.search else { return };
        let end = before.unwrap_or(self.history.len()).min(self.history.len());
        let found = (0..end)
            .rev()
            .find(|&i| self.history[i].contains(s.query.as_str()));
        if found.is_some() || s.query.is_empty() {
            s.hit = found;
        }
    }

    fn search_draw(&mut self) {
        let Some(s) = &self.search else { return };
        let hit = s.hit.map_or("", |i| self.history[i].as_str());
        let text = alloc::format!("(reverse-i-search)'{}': {hit}", s.query);
        let _ = self.move_to(0);
        let _ = self.emit(b"\x1b[J");
        self.cells.clear();
        for b in text.bytes() {
            let _ = self.out_byte(b);
        }
    }

    /// Ends the search: draws the prompt and the line noline has again, then types the match
    /// in for noline (Home, Ctrl-U, the text; and Enter to run it).
    fn search_end(&mut self, how: SearchEnd) {
        let Some(s) = self.search.take() else { return };
        let _ = self.move_to(0);
        let _ = self.emit(b"\x1b[J");
        self.cells.clear();
        let _ = self.draw_line(&s.line, s.cursor);
        if how == SearchEnd::Cancel {
            return;
        }
        if let Some(i) = s.hit {
            self.input.push(b"\x1b[1~\x15");
            let entry = self.history[i].clone();
            self.input.push(entry.as_bytes());
        }
        if how == SearchEnd::Run {
            self.input.push(b"\r");
        }
    }

    /// A complete key sequence from the terminal; forwards the ones noline handles.
    fn csi_in(&mut self, fin: u8, p0: u16) {
        if self.search.is_some() {
            self.search_end(SearchEnd::Edit);
        }
        let key: &[u8] = match (fin, p0) {
            (b'A', _) => b"\x1b[A",
            (b'B', _) => b"\x1b[B",
            (b'C', _) => b"\x1b[C",
            (b'D', _) => b"\x1b[D",
            (b'H', _) | (b'~', 1 | 7) => b"\x1b[1~",
            (b'F', _) | (b'~', 4 | 8) => b"\x1b[4~",
            (b'~', 3) => b"\x1b[3~",
            _ => return, // CPRs (R), function keys, paste brackets, ...
        };
        self.input.push(key);
    }

    // ---- output side ----

    fn emit(&mut self, bytes: &[u8]) -> Result<(), ErrorKind> {
        for &b in bytes {
            if self.olen == OBUF {
                self.drain()?;
            }
            self.obuf[self.olen] = b;
            self.olen += 1;
        }
        Ok(())
    }

    fn drain(&mut self) -> Result<(), ErrorKind> {
        let n = core::mem::take(&mut self.olen);
        if write_all(self.io, &self.obuf[..n]).is_err() {
            self.failed = true;
            return Err(ErrorKind::Other);
        }
        Ok(())
    }

    fn emit_num_seq(&mut self, n: u16, fin: u8) -> Result<(), ErrorKind> {
        let mut buf = [0u8; 8];
        let len = fmt_seq(&mut buf, &[n], fin);
        self.emit(&buf[..len])
    }

    fn out_byte(&mut self, b: u8) -> Result<(), ErrorKind> {
        match self.out_state {
            OutState::Ground => match b {
                0x07 => {
                    // The bell right after a character: noline's buffer was full.
                    if core::mem::take(&mut self.fed_char) {
                        self.overflowed = true;
                    }
                    self.emit(&[b])?;
                }
                0x1b => self.out_state = OutState::Esc,
                b'\r' => {
                    self.col = 0;
                    self.emit(&[b])?;
                }
                b'\n' => {
                    if self.row + 1 >= self.rows {
                        self.scrolled();
                    }
                    self.row = (self.row + 1).min(self.rows - 1);
                    self.emit(&[b])?;
                }
                0x08 => {
                    self.col = self.col.saturating_sub(1);
                    self.emit(&[b])?;
                }
                0x80..=0xbf => {
                    self.draw_continuation(b);
                    self.emit(&[b])?;
                }
                0x00..=0x1f | 0x7f => self.emit(&[b])?,
                _ => {
                    // A character cell (ASCII or UTF-8 lead byte). col == cols: pending wrap.
                    if self.col >= self.cols {
                        self.col = 0;
                        if self.row + 1 >= self.rows {
                            self.scrolled();
                        }
                        self.row = (self.row + 1).min(self.rows - 1);
                    }
                    self.draw_cell(b);
                    self.col += 1;
                    self.emit(&[b])?;
                }
            },
            OutState::Esc => {
                self.out_state = OutState::Ground;
                match b {
                    b'7' => {
                        // The start of a line: noline's frame has it on the bottom row; a size
                        // the terminal reported meanwhile applies from here.
                        if let Some((r, c)) = self.new_size.take() {
                            (self.rows, self.cols) = (r, c);
                        }
                        self.row = self.rows - 1;
                        self.saved = (self.row, self.col);
                        self.top = i32::from(self.row);
                        self.cells.clear();
                    }
                    b'8' => {
                        (self.row, self.col) = self.saved;
                        self.at_corner = false;
                    }
                    b'[' => {
                        self.out_state = OutState::Csi;
                        self.seq_len = 0;
                        self.seq_overflow = false;
                    }
                    _ => self.emit(&[0x1b, b])?,
                }
            }
            OutState::Csi => {
                if (0x20..=0x3f).contains(&b) {
                    match self.seq.get_mut(self.seq_len) {
                        Some(slot) => {
                            *slot = b;
                            self.seq_len += 1;
                        }
                        None => self.seq_overflow = true,
                    }
                    return Ok(());
                }
                self.out_state = OutState::Ground;
                if self.seq_overflow {
                    return Ok(()); // noline never writes these; drop rather than mangle
                }
                self.csi_out(b)?;
            }
        }
        Ok(())
    }

    /// A character's first byte is drawn at the cursor: record it in the shadow line.
    fn draw_cell(&mut self, lead: u8) {
        let Some(i) = self.index() else { return };
        let need = match lead {
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => 1,
        };
        if need == 1 {
            self.set_cell(i, char::from(lead));
        } else {
            self.drawing = Some((i, [lead, 0, 0, 0], 1, need));
        }
    }

    /// A continuation byte of the character being drawn.
    fn draw_continuation(&mut self, b: u8) {
        let Some((i, mut buf, have, need)) = self.drawing.take() else {
            return;
        };
        buf[usize::from(have)] = b;
        if have + 1 < need {
            self.drawing = Some((i, buf, have + 1, need));
        } else if let Some(c) = core::str::from_utf8(&buf[..usize::from(need)])
            .ok()
            .and_then(|s| s.chars().next())
        {
            self.set_cell(i, c);
        }
    }

    fn set_cell(&mut self, i: usize, c: char) {
        // A line is at most a few rows of a terminal at most 999 wide.
        if i > 8 * 1024 {
            return;
        }
        if self.cells.len() <= i {
            self.cells.resize(i + 1, ' ');
        }
        self.cells[i] = c;
    }

    fn csi_out(&mut self, fin: u8) -> Result<(), ErrorKind> {
        let params = &self.seq[..self.seq_len];
        let mut p = [0u16; 2];
        let mut idx = 0;
        let mut plain = true;
        for &c in params {
            match c {
                b'0'..=b'9' => {
                    if let Some(v) = p.get_mut(idx) {
                        *v = v.saturating_mul(10).saturating_add(u16::from(c - b'0'));
                    }
                }
                b';' => idx += 1,
                _ => plain = false,
            }
        }
        match fin {
            b'J' if plain && p[0] == 0 => {
                if let Some(i) = self.index() {
                    self.cells.truncate(i);
                }
                self.emit(b"\x1b[J")?;
            }
            b'n' if plain && p[0] == 6 && self.at_corner => {
                // noline's size probe: answer with what we know, and ask the terminal, whose
                // answer (after a resize: a new size) serves the next line.
                let mut buf = [0u8; 16];
                let len = fmt_seq(&mut buf, &[self.rows, self.cols], b'R');
                self.replies.clear();
                self.replies.push(&buf[..len]);
                self.probe_size()?;
            }
            b'n' if plain && p[0] == 6 => {
                let (r, c) = (self.row + 1, (self.col + 1).min(self.cols));
                let mut buf = [0u8; 16];
                let len = fmt_seq(&mut buf, &[r, c], b'R');
                self.replies.clear();
                self.replies.push(&buf[..len]);
            }
            b'H' | b'f' if plain && (p[0] >= 999 || p[1] >= 999) => {
                self.row = self.rows - 1;
                self.col = self.cols - 1;
                self.at_corner = true;
            }
            b'H' | b'f' if plain => {
                self.go(p[0].clamp(1, self.rows) - 1, p[1].clamp(1, self.cols) - 1)?;
            }
            _ => {
                let mut buf = [0u8; 19];
                buf[0] = 0x1b;
                buf[1] = b'[';
                let n = self.seq_len;
                buf[2..2 + n].copy_from_slice(&self.seq[..n]);
                buf[2 + n] = fin;
                self.emit(&buf[..3 + n])?;
            }
        }
        Ok(())
    }
}

/// Formats `ESC [ n1 ; n2 ... fin` into `buf` (numbers up to 5 digits); returns the length.
fn fmt_seq(buf: &mut [u8], nums: &[u16], fin: u8) -> usize {
    let mut len = 0;
    let mut put = |b: u8| {
        if let Some(slot) = buf.get_mut(len) {
            *slot = b;
            len += 1;
        }
    };
    put(0x1b);
    put(b'[');
    for (i, &n) in nums.iter().enumerate() {
        if i > 0 {
            put(b';');
        }
        let mut digits = [0u8; 5];
        let mut k = 0;
        let mut v = n;
        loop {
            digits[k] = b'0' + (v % 10) as u8;
            k += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for &d in digits[..k].iter().rev() {
            put(d);
        }
    }
    put(fin);
    len
}

impl<IO: Read + Write + ReadReady> TermIo<'_, IO> {
    /// Whether a Ctrl-C is in the input read ahead or ready now (see
    /// [`Sink::take_interrupt`](crate::out::Sink::take_interrupt)); if so, the input up to and
    /// including it is dropped. Never blocks.
    fn take_interrupt(&mut self) -> bool {
        let queued = (0..self.input.len).any(|k| {
            self.input.buf[(self.input.head + k) % self.input.buf.len()] == crate::out::CTRL_C
        });
        if queued {
            while self.input.pop().is_some_and(|b| b != crate::out::CTRL_C) {}
            return true;
        }
        if self.raw_pos >= self.raw_len && !self.eof && !self.failed {
            if !matches!(self.io.read_ready(), Ok(true)) {
                return false;
            }
            match self.io.read(&mut self.raw) {
                Ok(n) if n > 0 => (self.raw_pos, self.raw_len) = (0, n.min(self.raw.len())),
                Ok(_) => self.eof = true,
                Err(_) => self.failed = true,
            }
        }
        let raw = &self.raw[self.raw_pos..self.raw_len.max(self.raw_pos)];
        match raw.iter().position(|&b| b == crate::out::CTRL_C) {
            Some(i) => {
                while self.input.pop().is_some() {}
                self.raw_pos += i + 1;
                true
            }
            None => false,
        }
    }

    /// The next input byte for a running command that polls for keys (raw: not filtered for
    /// noline), if one is there now; never blocks.
    fn poll_key(&mut self) -> Option<Key> {
        if let Some(b) = self.input.pop() {
            return Some(Key::Byte(b));
        }
        if self.raw_pos >= self.raw_len {
            if self.eof || self.failed {
                return Some(Key::Closed);
            }
            if !matches!(self.io.read_ready(), Ok(true)) {
                return None;
            }
            match self.io.read(&mut self.raw) {
                Ok(n) if n > 0 => (self.raw_pos, self.raw_len) = (0, n.min(self.raw.len())),
                Ok(_) => {
                    self.eof = true;
                    return Some(Key::Closed);
                }
                Err(_) => {
                    self.failed = true;
                    return Some(Key::Closed);
                }
            }
        }
        let b = self.raw[self.raw_pos];
        self.raw_pos += 1;
        Some(Key::Byte(b))
    }
}

/// Terminal mode's [`Console`](crate::out::Console) for command output: writes go straight to
/// the real IO (not through noline's cursor tracking), keys come from the wrapper's input.
pub(crate) struct Raw<'t, 'a, IO>(pub &'t mut TermIo<'a, IO>);

impl<IO: ErrorType> ErrorType for Raw<'_, '_, IO> {
    type Error = IO::Error;
}

impl<IO: Write> Write for Raw<'_, '_, IO> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, IO::Error> {
        self.0.io.write(buf)
    }

    fn flush(&mut self) -> Result<(), IO::Error> {
        self.0.io.flush()
    }
}

impl<IO: Read + Write + ReadReady> crate::out::Console for Raw<'_, '_, IO> {
    fn poll_key(&mut self) -> Option<Key> {
        self.0.poll_key()
    }

    fn take_interrupt(&mut self) -> bool {
        self.0.take_interrupt()
    }

    fn rows(&self) -> Option<u16> {
        Some(self.0.rows)
    }
}

impl<IO: ErrorType> ErrorType for TermIo<'_, IO> {
    type Error = ErrorKind;
}

impl<IO: Read + Write> Read for TermIo<'_, IO> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let Some(first) = buf.first_mut() else {
            return Ok(0);
        };
        loop {
            if let Some(b) = self.replies.pop().or_else(|| self.input.pop()) {
                *first = b;
                self.fed_char = b >= 0x20 && b != 0x7f;
                return Ok(1);
            }
            if self.eof || self.failed {
                return Ok(0);
            }
            if self.raw_pos >= self.raw_len {
                self.drain()?;
                self.publish();
                match self.io.read(&mut self.raw) {
                    Ok(0) => {
                        self.eof = true;
                        return Ok(0);
                    }
                    Ok(n) => {
                        self.raw_pos = 0;
                        self.raw_len = n.min(self.raw.len());
                    }
                    Err(e) => {
                        self.failed = true;
                        return Err(embedded_io::Error::kind(&e));
                    }
                }
            }
            let b = self.raw[self.raw_pos];
            self.raw_pos += 1;
            self.filter_in(b);
        }
    }
}

impl<IO: Read + Write> Write for TermIo<'_, IO> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        for &b in buf {
            self.out_byte(b)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        self.drain()?;
        if self.io.flush().is_err() {
            self.failed = true;
            return Err(ErrorKind::Other);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn fmt_seq_formats() {
        let mut buf = [0u8; 16];
        let n = fmt_seq(&mut buf, &[24, 80], b'R');
        assert_eq!(&buf[..n], b"\x1b[24;80R");
        let n = fmt_seq(&mut buf, &[0], b'A');
        assert_eq!(&buf[..n], b"\x1b[0A");
        let n = fmt_seq(&mut buf, &[65535, 999], b'H');
        assert_eq!(&buf[..n], b"\x1b[65535;999H");
    }

    #[test]
    fn queue_is_fifo_and_bounded() {
        let mut q = Queue::new();
        q.push(b"abc");
        assert_eq!(q.pop(), Some(b'a'));
        q.push(&[7; 2 * QUEUE]);
        assert_eq!(q.len, QUEUE);
        assert_eq!(q.pop(), Some(b'b'));
        assert_eq!(q.pop(), Some(b'c'));
        assert_eq!(q.pop(), Some(7));
    }

    /// Minimal in-memory IO for the filter tests.
    struct Mem {
        input: Vec<u8>,
        pos: usize,
        output: Vec<u8>,
    }

    impl ErrorType for Mem {
        type Error = ErrorKind;
    }
    impl Read for Mem {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
            let n = buf.len().min(self.input.len() - self.pos);
            buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }
    impl Write for Mem {
        fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
            self.output.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> Result<(), ErrorKind> {
            Ok(())
        }
    }

    fn filtered(input: &[u8]) -> Vec<u8> {
        let mut mem = Mem {
            input: input.to_vec(),
            pos: 0,
            output: Vec::new(),
        };
        let mut t = TermIo::new(&mut mem, 24, 80);
        let mut out = Vec::new();
        let mut b = [0u8; 1];
        while t.read(&mut b) == Ok(1) {
            out.push(b[0]);
        }
        assert!(t.eof);
        out
    }

    #[test]
    fn input_filter() {
        assert_eq!(filtered(b"ab\r\ncd\n"), b"ab\rcd\n");
        assert_eq!(filtered(b"\x1b[24;80R\x1b[R\x1b[0;0Rx"), b"x");
        assert_eq!(
            filtered(b"\x1b[A\x1b[1;5C\x1bOB\x1b[H\x1b[4~\x1b[3~"),
            b"\x1b[A\x1b[C\x1b[B\x1b[1~\x1b[4~\x1b[3~"
        );
        assert_eq!(filtered(b"\x1b[200~paste\x1b[201~"), b"paste");
        assert_eq!(filtered(b"\x1b[?1;2c\x1bxq"), b"q");
        assert_eq!(filtered("é€😀".as_bytes()), "é€😀".as_bytes());
        assert_eq!(filtered(b"\xff\xc3a\xe2\x82\r\x80"), b"a\r");
        assert_eq!(filtered("\u{85}z".as_bytes()), b"z"); // C1 control
        assert_eq!(filtered(b"\x1b[12\x03"), b"\x03"); // Ctrl-C aborts a sequence
        let mut long = b"\x1b[".to_vec();
        long.extend(core::iter::repeat_n(b'7', 10_000));
        long.extend(b";5Rok");
        assert_eq!(filtered(&long), b"ok");
    }

    fn written(rows: u16, cols: u16, out: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut mem = Mem {
            input: Vec::new(),
            pos: 0,
            output: Vec::new(),
        };
        let mut t = TermIo::new(&mut mem, rows, cols);
        t.write(out).unwrap();
        t.flush().unwrap();
        let mut replies = Vec::new();
        while let Some(b) = t.replies.pop() {
            replies.push(b);
        }
        (mem.output, replies)
    }

    #[test]
    fn probes_are_answered_not_forwarded() {
        // noline's size probe is answered inside; the terminal gets a size probe of ours.
        let (wire, reply) = written(30, 100, b"\x1b7\x1b[999;999H\x1b[6n\x1b8");
        assert_eq!(wire, b"\x1b7\x1b[999;999H\x1b[6n\x1b8");
        assert_eq!(reply, b"\x1b[30;100R");
        let (wire, reply) = written(30, 100, b"\x1b7\x1b8\r\x1b[Jrtos> \x1b[6n");
        assert_eq!(wire, b"\r\x1b[Jrtos> ");
        assert_eq!(reply, b"\x1b[30;7R");
        // Tiny terminals are widened so the prompt fits.
        let (_, reply) = written(1, 1, b"\x1b7\x1b[999;999H\x1b[6n\x1b8");
        assert_eq!(reply, b"\x1b[1;16R");
    }

    /// A kernel console line that arrives while a line is being edited (wrapped over two rows,
    /// the cursor in its first row) goes above it; the prompt, the line and the cursor come
    /// back as they were (checked on the VT model).
    #[test]
    fn a_console_line_goes_above_the_line_being_edited() {
        let mut mem = Mem {
            input: Vec::new(),
            pos: 0,
            output: Vec::new(),
        };
        let mut t = TermIo::new(&mut mem, 24, 20);
        t.set_prompt("rtos> ");
        // noline draws the prompt and 17 characters (two rows at 20 columns), then moves the
        // cursor back to the 'x' (cell 11: row 0, column 11).
        t.write(b"\x1b7\x1b8\r\x1b[Jrtos> echo x234567890123\x1b[23;12H")
            .unwrap();
        t.flush().unwrap();
        let (text, cursor) = t.line_state();
        assert_eq!((text.as_str(), cursor), ("echo x234567890123", 5));
        let view = View {
            active: true,
            prompt: "rtos> ",
            text,
            cursor,
            cols: 20,
        };
        let mut out = String::new();
        assert!(wrap(&view, "tk: tick 1", &mut out));
        let mut scr = crate::tests::vt::Screen::new(24, 20);
        // The terminal starts with the prompt on its bottom row, as noline assumes.
        for _ in 0..23 {
            scr.feed(b"\r\n");
        }
        scr.feed(&mem.output);
        let before = scr.cursor();
        scr.feed(out.as_bytes());
        let lines = scr.lines();
        let n = lines.len();
        assert_eq!(
            lines[n - 3..],
            ["tk: tick 1", "rtos> echo x23456789", "0123"]
        );
        assert_eq!(scr.cursor().1, before.1, "same column");
        assert_eq!(
            scr.cursor().0,
            22,
            "first row of the line, which moved up one"
        );
        assert!(!wrap(
            &View {
                active: false,
                ..view
            },
            "x",
            &mut String::new()
        ));
    }

    #[test]
    fn absolute_moves_become_relative() {
        // Prompt on the (assumed) bottom row 24, then a two-row line and moves around it.
        let (wire, _) = written(
            24,
            20,
            b"\x1b7\x1b8\r\x1b[Jrtos> \x1b[24;3H\x1b[23;1H\x1b[24;10H\x1b[J",
        );
        assert_eq!(
            wire,
            b"\r\x1b[Jrtos> \r\x1b[2C\x1b[1A\r\x1b[1B\r\x1b[9C\x1b[J"
        );
    }
}
