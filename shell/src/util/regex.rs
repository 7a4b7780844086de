//! A small regular-expression engine for `expect`: patterns are compiled to a Thompson NFA and
//! run as a Pike VM (every alternative in step, so time is linear in the text and the pattern:
//! no backtracking, no pattern can make it blow up).
//!
//! Why not the `regex-automata` crate: built into the kernel (PikeVM only, no Unicode tables) it
//! added 145 KB of text and 21 KB of rodata, for a command that looks at a few KiB once; this
//! engine, `expect`, `dmesg` and the kernel log together added 11 KB of text and 2.4 KB of rodata. The syntax is the common subset, on bytes (ASCII classes; UTF-8 text matches as
//! its bytes):
//!
//! | syntax | meaning |
//! |---|---|
//! | `a`, `\.`, `\\`, `\n`, `\t` | that byte (any punctuation can be escaped) |
//! | `.` | any byte but a line end |
//! | `[abc]`, `[a-z0-9_]`, `[^...]` | a class, negated with `^` (`]` first is literal) |
//! | `\d \w \s \D \W \S` | digit, word byte, space (and their negations) |
//! | `^`, `$` | start, end of a line (or of the text) |
//! | `x*`, `x+`, `x?`, `x{m}`, `x{m,}`, `x{m,n}` | repetition (greedy; bounds at most 100) |
//! | `a\|b`, `(...)` | alternation, grouping |
//! | `(?i)` at the start | case-insensitive (ASCII) |

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// The most instructions a compiled pattern may have (a pattern is at most a line; `{m,n}`
/// copies its operand, which this bounds).
const MAX_PROGRAM: usize = 4096;
/// The largest bound in `{m,n}`.
const MAX_REPEAT: u32 = 100;

/// A compiled pattern.
#[derive(Debug, Clone)]
pub(crate) struct Regex {
    prog: Vec<Inst>,
    classes: Vec<[bool; 256]>,
    nocase: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inst {
    Byte(u8),
    /// Any byte but `\n`.
    Any,
    Class(usize),
    /// Continue at both (the first is preferred; it does not matter without captures).
    Split(usize, usize),
    Jmp(usize),
    LineStart,
    LineEnd,
    Match,
}

/// The parsed pattern.
#[derive(Debug, Clone)]
enum Node {
    Byte(u8),
    Any,
    Class(Box<[bool; 256]>),
    LineStart,
    LineEnd,
    /// Alternatives of sequences.
    Alt(Vec<Vec<Node>>),
    Repeat(Box<Node>, u32, Option<u32>),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: u32,
}

impl Regex {
    /// Compiles `pattern`; the error says what is wrong and where.
    pub(crate) fn new(pattern: &str) -> Result<Self, String> {
        let (nocase, body) = match pattern.strip_prefix("(?i)") {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        let mut p = Parser {
            s: body.as_bytes(),
            i: 0,
            depth: 0,
        };
        let node = p.alt()?;
        if p.i < p.s.len() {
            return Err(format!("unmatched ')' at {}", p.i + 1));
        }
        let mut re = Regex {
            prog: Vec::new(),
            classes: Vec::new(),
            nocase,
        };
        re.emit(&node)?;
        re.push(Inst::Match)?;
        Ok(re)
    }

    fn push(&mut self, inst: Inst) -> Result<usize, String> {
        if self.prog.len() >= MAX_PROGRAM {
            return Err("pattern too large".into());
        }
        self.prog.push(inst);
        Ok(self.prog.len() - 1)
    }

    fn emit(&mut self, node: &Node) -> Result<(), String> {
        match node {
            Node::Byte(b) => {
                self.push(Inst::Byte(*b))?;
            }
            Node::Any => {
                self.push(Inst::Any)?;
            }
            Node::Class(set) => {
                self.classes.push(**set);
                self.push(Inst::Class(self.classes.len() - 1))?;
            }
            Node::LineStart => {
                self.push(Inst::LineStart)?;
            }
            Node::LineEnd => {
                self.push(Inst::LineEnd)?;
            }
            Node::Alt(alts) => {
                // split L1, next; L1: alt0; jmp end; next: split L2, ... ; last alt; end:
                let mut jumps = Vec::new();
                for (k, seq) in alts.iter().enumerate() {
                    let split = (k + 1 < alts.len())
                        .then(|| self.push(Inst::Split(0, 0)))
                        .transpose()?;
                    let start = self.prog.len();
                    for n in seq {
                        self.emit(n)?;
                    }
                    if let Some(split) = split {
                        jumps.push(self.push(Inst::Jmp(0))?);
                        self.prog[split] = Inst::Split(start, self.prog.len());
                    }
                }
                let end = self.prog.len();
                for j in jumps {
                    self.prog[j] = Inst::Jmp(end);
                }
            }
            Node::Repeat(n, min, max) => {
                for _ in 0..*min {
                    self.emit(n)?;
                }
                match max {
                    None => {
                        // L: split body, out; body; jmp L
                        let split = self.push(Inst::Split(0, 0))?;
                        self.emit(n)?;
                        self.push(Inst::Jmp(split))?;
                        self.prog[split] = Inst::Split(split + 1, self.prog.len());
                    }
                    Some(max) => {
                        let mut splits = Vec::new();
                        for _ in *min..*max {
                            splits.push(self.push(Inst::Split(0, 0))?);
                            self.emit(n)?;
                        }
                        let end = self.prog.len();
                        for s in splits {
                            self.prog[s] = Inst::Split(s + 1, end);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether the pattern matches somewhere in `hay`.
    pub(crate) fn is_match(&self, hay: &[u8]) -> bool {
        let n = self.prog.len();
        let mut cur: Vec<usize> = Vec::with_capacity(n);
        let mut next: Vec<usize> = Vec::with_capacity(n);
        let mut on = vec![usize::MAX; n];
        for pos in 0..=hay.len() {
            // A match may start at every position: add the start state.
            self.add(&mut cur, &mut on, 0, pos, hay);
            if cur.iter().any(|&pc| self.prog[pc] == Inst::Match) {
                return true;
            }
            let Some(&b) = hay.get(pos) else { break };
            let b = self.fold(b);
            next.clear();
            for &pc in &cur {
                let ok = match self.prog[pc] {
                    Inst::Byte(x) => self.fold(x) == b,
                    Inst::Any => b != b'\n',
                    Inst::Class(k) => self.classes[k][usize::from(b)],
                    _ => false,
                };
                if ok {
                    self.add(&mut next, &mut on, pc + 1, pos + 1, hay);
                }
            }
            core::mem::swap(&mut cur, &mut next);
        }
        false
    }

    fn fold(&self, b: u8) -> u8 {
        if self.nocase {
            b.to_ascii_lowercase()
        } else {
            b
        }
    }

    /// Adds `pc` and what it reaches without consuming a byte, at `pos` (marked in `on`).
    fn add(&self, list: &mut Vec<usize>, on: &mut [usize], pc: usize, pos: usize, hay: &[u8]) {
        let mut stack = vec![pc];
        while let Some(pc) = stack.pop() {
            if on[pc] == pos {
                continue;
            }
            on[pc] = pos;
            match self.prog[pc] {
                Inst::Jmp(t) => stack.push(t),
                Inst::Split(a, b) => {
                    stack.push(b);
                    stack.push(a);
                }
                Inst::LineStart => {
                    if pos == 0 || hay[pos - 1] == b'\n' {
                        stack.push(pc + 1);
                    }
                }
                Inst::LineEnd => {
                    if pos == hay.len() || hay[pos] == b'\n' {
                        stack.push(pc + 1);
                    }
                }
                _ => list.push(pc),
            }
        }
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn alt(&mut self) -> Result<Node, String> {
        self.depth += 1;
        if self.depth > 32 {
            return Err("groups nested too deep".into());
        }
        let mut alts = vec![Vec::new()];
        while let Some(b) = self.peek() {
            match b {
                b'|' => {
                    self.i += 1;
                    alts.push(Vec::new());
                }
                b')' => break,
                _ => {
                    let atom = self.atom()?;
                    let atom = self.quantified(atom)?;
                    alts.last_mut().expect("one").push(atom);
                }
            }
        }
        self.depth -= 1;
        Ok(Node::Alt(alts))
    }

    fn atom(&mut self) -> Result<Node, String> {
        let at = self.i + 1;
        let b = self.peek().expect("called with input");
        self.i += 1;
        Ok(match b {
            b'.' => Node::Any,
            b'^' => Node::LineStart,
            b'$' => Node::LineEnd,
            b'(' => {
                let inner = self.alt()?;
                if self.peek() != Some(b')') {
                    return Err(format!("unclosed '(' at {at}"));
                }
                self.i += 1;
                inner
            }
            b'[' => self.class(at)?,
            b'\\' => self.escape(at)?,
            b'*' | b'+' | b'?' | b'{' => return Err(format!("nothing to repeat at {at}")),
            b => Node::Byte(b),
        })
    }

    fn escape(&mut self, at: usize) -> Result<Node, String> {
        let Some(e) = self.peek() else {
            return Err(format!("trailing '\\' at {at}"));
        };
        self.i += 1;
        Ok(match e {
            b'n' => Node::Byte(b'\n'),
            b't' => Node::Byte(b'\t'),
            b'r' => Node::Byte(b'\r'),
            b'd' | b'w' | b's' | b'D' | b'W' | b'S' => {
                let mut set = [false; 256];
                for (x, slot) in set.iter_mut().enumerate() {
                    let x = x as u8;
                    *slot = match e.to_ascii_lowercase() {
                        b'd' => x.is_ascii_digit(),
                        b'w' => x.is_ascii_alphanumeric() || x == b'_',
                        _ => x.is_ascii_whitespace(),
                    } != e.is_ascii_uppercase();
                }
                Node::Class(Box::new(set))
            }
            e if e.is_ascii_punctuation() => Node::Byte(e),
            e => return Err(format!("unknown escape '\\{}' at {at}", e as char)),
        })
    }

    fn class(&mut self, at: usize) -> Result<Node, String> {
        let mut set = [false; 256];
        let negate = self.peek() == Some(b'^');
        if negate {
            self.i += 1;
        }
        let mut first = true;
        loop {
            let Some(mut lo) = self.peek() else {
                return Err(format!("unclosed '[' at {at}"));
            };
            self.i += 1;
            if lo == b']' && !first {
                break;
            }
            first = false;
            if lo == b'\\' {
                match self.escape(at)? {
                    Node::Byte(b) => lo = b,
                    Node::Class(c) => {
                        for (s, &c) in set.iter_mut().zip(c.iter()) {
                            *s |= c;
                        }
                        continue;
                    }
                    _ => unreachable!("escapes are bytes or classes"),
                }
            }
            let mut hi = lo;
            if self.peek() == Some(b'-') && self.s.get(self.i + 1).is_some_and(|&c| c != b']') {
                hi = self.s[self.i + 1];
                self.i += 2;
                if hi < lo {
                    return Err(format!("bad range in '[' at {at}"));
                }
            }
            for x in lo..=hi {
                set[usize::from(x)] = true;
            }
        }
        if negate {
            set.iter_mut().for_each(|s| *s = !*s);
        }
        Ok(Node::Class(Box::new(set)))
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, String> {
        let at = self.i + 1;
        let (min, max) = match self.peek() {
            Some(b'*') => (0, None),
            Some(b'+') => (1, None),
            Some(b'?') => (0, Some(1)),
            Some(b'{') => {
                self.i += 1;
                let min = self.number().ok_or_else(|| format!("bad '{{' at {at}"))?;
                let max = match self.peek() {
                    Some(b',') => {
                        self.i += 1;
                        if self.peek() == Some(b'}') {
                            None
                        } else {
                            self.number()
                        }
                    }
                    _ => Some(min),
                };
                if self.peek() != Some(b'}') || max.is_some_and(|m| m < min) {
                    return Err(format!("bad '{{' at {at}"));
                }
                if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT) {
                    return Err(format!("repeat bound over {MAX_REPEAT} at {at}"));
                }
                (min, max)
            }
            _ => return Ok(atom),
        };
        self.i += 1;
        if matches!(atom, Node::LineStart | Node::LineEnd) {
            return Err(format!("nothing to repeat at {at}"));
        }
        if matches!(self.peek(), Some(b'*' | b'+' | b'?' | b'{')) {
            return Err(format!("double repetition at {}", self.i + 1));
        }
        Ok(Node::Repeat(Box::new(atom), min, max))
    }

    fn number(&mut self) -> Option<u32> {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) && self.i - start < 4 {
            self.i += 1;
        }
        core::str::from_utf8(&self.s[start..self.i])
            .ok()?
            .parse()
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, h: &str) -> bool {
        Regex::new(p)
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .is_match(h.as_bytes())
    }

    #[test]
    fn literals_classes_and_anchors() {
        assert!(m("abc", "xxabcxx"));
        assert!(!m("abd", "xxabcxx"));
        assert!(m("", "anything"));
        assert!(m("a.c", "abc") && !m("a.c", "a\nc"));
        assert!(m("^abc", "abc") && !m("^abc", "xabc"));
        assert!(m("^two$", "one\ntwo\nthree"), "multi-line anchors");
        assert!(m("c$", "abc") && !m("b$", "abc"));
        assert!(m("[0-9]+ ms", "took 12 ms") && !m("^[0-9]+ ms", "took 12 ms"));
        assert!(m("[^a-z]", "abc1") && !m("[^a-z]", "abc"));
        assert!(m("[]x]", "]") && m("[a-]", "-"));
        assert!(m(r"\d\d:\d\d", "at 12:34") && !m(r"\d\d:\d\d", "at 1:34"));
        assert!(m(r"\w+\s\W", "ab !") && m(r"[\d_]", "_"));
        assert!(m(r"a\.b\|c\\", r"a.b|c\"));
        assert!(m("(?i)DONE", "all done") && !m("DONE", "all done"));
        assert!(m("tick 3$", "t: tick 3") && !m("tick 3$", "t: tick 33"));
        assert!(m("grüße", "viele grüße"), "UTF-8 as bytes");
    }

    #[test]
    fn repetition_alternation_groups() {
        assert!(m("ab*c", "ac") && m("ab*c", "abbbc") && !m("ab+c", "ac"));
        assert!(m("colou?r", "color") && m("colou?r", "colour"));
        assert!(m("^a{3}$", "aaa") && !m("^a{3}$", "aa") && !m("^a{3}$", "aaaa"));
        assert!(m("^a{2,}$", "aaaaa") && !m("^a{2,}$", "a"));
        assert!(m("^a{1,2}b$", "aab") && !m("^a{1,2}b$", "aaab"));
        assert!(m("^(ab|cd)+$", "abcdab") && !m("^(ab|cd)+$", "abc"));
        assert!(m("cat|dog", "hotdog") && !m("^(cat|dog)$", "cow"));
        assert!(m("a(b(c|d))*e", "abcbde"));
        assert!(m("^$", "") && m("^$", "a\n\nb"));
        assert!(m("x*", "") && m("(a|)b", "b"));
    }

    #[test]
    fn pathological_patterns_stay_linear() {
        // (a*)*b on a long run of a's is exponential for a backtracker.
        let hay = "a".repeat(5000);
        assert!(!m("(a*)*b", &hay));
        assert!(!m("(a|a)*b", &hay));
        assert!(!m("^(a+)+$", &(hay.clone() + "!")));
    }

    #[test]
    fn bad_patterns_say_why() {
        for (p, want) in [
            ("(", "unclosed '(' at 1"),
            ("a)", "unmatched ')' at 2"),
            ("[a", "unclosed '[' at 1"),
            ("*a", "nothing to repeat at 1"),
            ("a**", "double repetition at 3"),
            ("^*", "nothing to repeat at 2"),
            ("a\\", "trailing '\\' at 2"),
            ("\\q", "unknown escape '\\q' at 1"),
            ("[z-a]", "bad range in '[' at 1"),
            ("a{2,1}", "bad '{' at 2"),
            ("a{x}", "bad '{' at 2"),
            ("a{101}", "repeat bound over 100 at 2"),
        ] {
            assert_eq!(Regex::new(p).unwrap_err(), want, "{p}");
        }
        assert_eq!(
            Regex::new(&"(".repeat(40)).unwrap_err(),
            "groups nested too deep"
        );
        assert_eq!(
            Regex::new("(((a{100}){100}){100})").unwrap_err(),
            "pattern too large"
        );
    }
}
