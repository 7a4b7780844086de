//! A tiny VT100-ish screen for checking what a real terminal would show.

use std::string::String;
use std::vec::Vec;

pub(crate) struct Screen {
    rows: usize,
    cols: usize,
    cells: Vec<Vec<char>>,
    r: usize,
    c: usize,
    pending_wrap: bool,
    saved: (usize, usize),
}

impl Screen {
    /// A blank screen with the cursor at the top-left corner.
    pub(crate) fn new(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            cells: vec![vec![' '; cols]; rows],
            r: 0,
            c: 0,
            pending_wrap: false,
            saved: (0, 0),
        }
    }

    fn line_feed(&mut self) {
        if self.r + 1 == self.rows {
            self.cells.remove(0);
            self.cells.push(vec![' '; self.cols]);
        } else {
            self.r += 1;
        }
    }

    fn put(&mut self, ch: char) {
        if self.pending_wrap {
            self.pending_wrap = false;
            self.c = 0;
            self.line_feed();
        }
        self.cells[self.r][self.c] = ch;
        if self.c + 1 == self.cols {
            self.pending_wrap = true;
        } else {
            self.c += 1;
        }
    }

    /// Interprets `bytes` (all of it must be valid UTF-8 apart from escape sequences).
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let mut it = text.chars().peekable();
        while let Some(ch) = it.next() {
            match ch {
                '\r' => {
                    self.c = 0;
                    self.pending_wrap = false;
                }
                '\n' => {
                    self.pending_wrap = false;
                    self.line_feed();
                }
                '\x07' => {}
                '\x08' => self.c = self.c.saturating_sub(1),
                '\x1b' => match it.next() {
                    Some('7') => self.saved = (self.r, self.c),
                    Some('8') => (self.r, self.c) = self.saved,
                    Some('[') => {
                        let mut params = String::new();
                        let mut fin = ' ';
                        for x in it.by_ref() {
                            if ('\x40'..='\x7e').contains(&x) {
                                fin = x;
                                break;
                            }
                            params.push(x);
                        }
                        let nums: Vec<usize> =
                            params.split(';').map(|p| p.parse().unwrap_or(0)).collect();
                        let n = |i: usize| nums.get(i).copied().filter(|&v| v > 0).unwrap_or(1);
                        self.pending_wrap = false;
                        match fin {
                            'A' => self.r = self.r.saturating_sub(n(0)),
                            'B' => self.r = (self.r + n(0)).min(self.rows - 1),
                            'C' => self.c = (self.c + n(0)).min(self.cols - 1),
                            'D' => self.c = self.c.saturating_sub(n(0)),
                            'H' => {
                                self.r = (n(0) - 1).min(self.rows - 1);
                                self.c = (n(1) - 1).min(self.cols - 1);
                            }
                            'J' => {
                                for c in self.c..self.cols {
                                    self.cells[self.r][c] = ' ';
                                }
                                for r in self.r + 1..self.rows {
                                    self.cells[r] = vec![' '; self.cols];
                                }
                            }
                            'K' => {
                                for c in self.c..self.cols {
                                    self.cells[self.r][c] = ' ';
                                }
                            }
                            'S' => {
                                for _ in 0..n(0) {
                                    self.cells.remove(0);
                                    self.cells.push(vec![' '; self.cols]);
                                }
                            }
                            'T' => {
                                for _ in 0..n(0) {
                                    self.cells.pop();
                                    self.cells.insert(0, vec![' '; self.cols]);
                                }
                            }
                            _ => {} // 'n' (device status) and anything else: no effect
                        }
                    }
                    _ => {}
                },
                ch if ch.is_control() => {}
                ch => self.put(ch),
            }
        }
    }

    /// Screen rows with trailing blanks trimmed; trailing empty rows dropped.
    pub(crate) fn lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .cells
            .iter()
            .map(|row| row.iter().collect::<String>().trim_end().into())
            .collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        lines
    }

    pub(crate) fn cursor(&self) -> (usize, usize) {
        (self.r, self.c)
    }
}

#[test]
fn screen_basics() {
    let mut s = Screen::new(3, 5);
    s.feed(b"abcdefg\r\nx\x1b[1;2Hy\x1b[J");
    assert_eq!(s.lines(), vec!["ay"]);
    let mut s = Screen::new(2, 4);
    s.feed(b"ab\r\ncd\r\nef");
    assert_eq!(s.lines(), vec!["cd", "ef"]);
    assert_eq!(s.cursor(), (1, 2));
}
