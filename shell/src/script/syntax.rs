//! The language's syntax: a lexer from text to tokens and a recursive-descent parser from tokens
//! to the tree the interpreter walks ([`List`]).
//!
//! Grammar (a small, POSIX-shell-shaped subset):
//!
//! ```text
//! list      := (and_or (';' | NEWLINE)*)*
//! and_or    := pipeline (('&&' | '||') NEWLINE* pipeline)*
//! pipeline  := ['!'] command
//! command   := 'if' list 'then' list ('elif' list 'then' list)* ['else' list] 'fi'
//!            | ('while' | 'until') list 'do' list 'done'
//!            | 'for' NAME 'in' word* (';' | NEWLINE) 'do' list 'done'
//!            | 'repeat' word [';' | NEWLINE] 'do' list 'done'
//!            | '{' list '}'
//!            | NAME '(' ')' NEWLINE* '{' list '}'             (a function)
//!            | (NAME=word)* word*                             (a simple command)
//! ```
//!
//! Reserved words count only where a command starts and unquoted. The parser tells an
//! *incomplete* input (a construct still open at the end, a line ending in `&&`, `||` or `\`)
//! from a wrong one, so the session can read continuation lines.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::limits::MAX_DEPTH;

/// One piece of a word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    /// Literal text (quotes and escapes already removed).
    Lit(String),
    /// `$name`, `${name}`, `$1`, `$#`, `$@`, `$?`.
    Param(String),
    /// `$((...))`: the inside, itself expanded before it is evaluated.
    Arith(Vec<Part>),
    /// `$(...)`: a command list whose output becomes text.
    Subst(Arc<List>),
}

/// A word: its pieces, and whether any of it was quoted or escaped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Word {
    pub parts: Vec<Part>,
    pub quoted: bool,
    /// `NAME=...` with an unquoted `=`: the length of NAME.
    pub assign: Option<usize>,
}

impl Word {
    /// The word's text if it is one unquoted literal (keywords, names).
    pub(crate) fn bare(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Lit(s)] if !self.quoted => Some(s),
            _ => None,
        }
    }
}

/// A command with its source line (1-based within the parsed text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// Assignments and/or a command with its arguments.
    Simple {
        line: u32,
        assigns: Vec<(String, Word)>,
        words: Vec<Word>,
    },
    If {
        arms: Vec<(List, List)>,
        otherwise: Option<List>,
    },
    While {
        until: bool,
        cond: List,
        body: List,
    },
    For {
        line: u32,
        var: String,
        items: Vec<Word>,
        body: List,
    },
    Repeat {
        line: u32,
        count: Word,
        body: List,
    },
    Group(List),
    Function {
        line: u32,
        name: String,
        body: Arc<List>,
    },
}

/// `cmd`, or `! cmd` (status inverted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pipeline {
    pub negate: bool,
    pub cmd: Command,
}

/// How an and-or list joins its next part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Join {
    And,
    Or,
}

/// `a && b || c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AndOr {
    pub first: Pipeline,
    pub rest: Vec<(Join, Pipeline)>,
}

/// Commands run one after the other.
pub(crate) type List = Vec<AndOr>;

/// Why text did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// The text ends inside a construct: more lines may complete it.
    Incomplete,
    /// The text is wrong; `line` is 1-based within it.
    Syntax { line: u32, msg: String },
}

fn syntax<T>(line: u32, msg: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError::Syntax {
        line,
        msg: msg.into(),
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(Word),
    Newline,
    Semi,
    And,
    Or,
    LParen,
    RParen,
}

/// A token and the line it starts on.
type Spanned = (Tok, u32);

/// Splits `text` into tokens. `depth` counts `$(...)` nesting (bounded by [`MAX_DEPTH`]).
fn lex(text: &str, first_line: u32, depth: u32) -> Result<Vec<Spanned>, ParseError> {
    let mut lx = Lexer {
        s: text.as_bytes(),
        text,
        i: 0,
        line: first_line,
        depth,
    };
    let mut toks = Vec::new();
    while let Some(tok) = lx.token()? {
        toks.push(tok);
    }
    Ok(toks)
}

struct Lexer<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    line: u32,
    depth: u32,
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Whether `s` is a variable or function name.
pub(crate) fn is_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && is_name_start(b[0]) && b.iter().all(|&c| is_name_char(c))
}

/// Characters that end an unquoted word.
fn ends_word(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'(' | b')')
}

impl<'a> Lexer<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn peek_at(&self, k: usize) -> Option<u8> {
        self.s.get(self.i + k).copied()
    }

    fn token(&mut self) -> Result<Option<Spanned>, ParseError> {
        loop {
            match self.peek() {
                None => return Ok(None),
                Some(b' ' | b'\t' | b'\r') => self.i += 1,
                Some(b'\\') if self.peek_at(1) == Some(b'\n') => {
                    self.i += 2;
                    self.line += 1;
                }
                Some(b'\\') if self.peek_at(1).is_none() => return Err(ParseError::Incomplete),
                Some(b'#') => {
                    while !matches!(self.peek(), None | Some(b'\n')) {
                        self.i += 1;
                    }
                }
                Some(_) => break,
            }
        }
        let line = self.line;
        let b = self.s[self.i];
        let two = self.peek_at(1);
        let tok = match b {
            b'\n' => {
                self.i += 1;
                self.line += 1;
                Tok::Newline
            }
            b';' if two == Some(b';') => return syntax(line, "unexpected ';;'"),
            b';' => {
                self.i += 1;
                Tok::Semi
            }
            b'&' if two == Some(b'&') => {
                self.i += 2;
                Tok::And
            }
            b'|' if two == Some(b'|') => {
                self.i += 2;
                Tok::Or
            }
            b'&' => return syntax(line, "background jobs ('&') are not supported"),
            b'|' => return syntax(line, "pipes ('|') are not supported; quote a literal '|'"),
            b'(' => {
                self.i += 1;
                Tok::LParen
            }
            b')' => {
                self.i += 1;
                Tok::RParen
            }
            _ => Tok::Word(self.word()?),
        };
        Ok(Some((tok, line)))
    }

    /// One word, up to an unquoted separator.
    fn word(&mut self) -> Result<Word, ParseError> {
        let mut w = WordBuilder::default();
        while let Some(b) = self.peek() {
            if ends_word(b) {
                break;
            }
            match b {
                b'\'' => {
                    w.quoted = true;
                    self.i += 1;
                    let start = self.i;
                    while self.peek() != Some(b'\'') {
                        match self.peek() {
                            None => return syntax(self.line, "unterminated quote"),
                            Some(b'\n') => self.line += 1,
                            _ => {}
                        }
                        self.i += 1;
                    }
                    w.lit.push_str(&self.text[start..self.i]);
                    self.i += 1;
                }
                b'"' => {
                    w.quoted = true;
                    self.i += 1;
                    self.double_quoted(&mut w)?;
                }
                b'\\' => {
                    w.quoted = true;
                    self.i += 1;
                    match self.peek() {
                        None => return Err(ParseError::Incomplete),
                        Some(b'\n') => {
                            self.i += 1;
                            self.line += 1;
                        }
                        Some(_) => self.push_char(&mut w),
                    }
                }
                b'$' => self.dollar(&mut w)?,
                b'=' if w.assign.is_none()
                    && !w.quoted
                    && w.parts.is_empty()
                    && is_name(&w.lit) =>
                {
                    w.assign = Some(w.lit.len());
                    w.lit.push('=');
                    self.i += 1;
                }
                _ => self.push_char(&mut w),
            }
        }
        Ok(w.finish())
    }

    /// Copies one (UTF-8) character into the word.
    fn push_char(&mut self, w: &mut WordBuilder) {
        let c = self.text[self.i..].chars().next().unwrap_or('\u{fffd}');
        w.lit.push(c);
        self.i += c.len_utf8();
    }

    /// After an opening `"`: up to the closing one.
    fn double_quoted(&mut self, w: &mut WordBuilder) -> Result<(), ParseError> {
        loop {
            match self.peek() {
                None => return syntax(self.line, "unterminated quote"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => match self.peek_at(1) {
                    Some(n @ (b'"' | b'\\' | b'$')) => {
                        w.lit.push(n as char);
                        self.i += 2;
                    }
                    Some(b'\n') => {
                        self.i += 2;
                        self.line += 1;
                    }
                    Some(_) => {
                        w.lit.push('\\');
                        self.i += 1;
                    }
                    None => return syntax(self.line, "unterminated quote"),
                },
                Some(b'$') => self.dollar(w)?,
                Some(b'\n') => {
                    self.line += 1;
                    self.push_char(w);
                }
                Some(_) => self.push_char(w),
            }
        }
    }

    /// At a `$`: an expansion, or a literal `$`.
    fn dollar(&mut self, w: &mut WordBuilder) -> Result<(), ParseError> {
        let line = self.line;
        match (self.peek_at(1), self.peek_at(2)) {
            (Some(b'('), Some(b'(')) => {
                let inner = self.balanced(self.i + 3, "$((")?;
                let parts = arith_parts(inner, line, self.depth + 1)?;
                if self.peek() != Some(b')') {
                    return syntax(line, "unterminated '$(('");
                }
                self.i += 1;
                w.part(Part::Arith(parts));
            }
            (Some(b'('), _) => {
                let start = self.i + 2;
                let inner = self.balanced(start, "$(")?;
                if self.depth + 1 >= MAX_DEPTH {
                    return syntax(line, format!("'$(' nested too deep (max {MAX_DEPTH})"));
                }
                let list = parse_nested(inner, line, self.depth + 1)?;
                w.part(Part::Subst(Arc::new(list)));
            }
            (Some(b'{'), _) => {
                let start = self.i + 2;
                let Some(len) = self.s[start..].iter().position(|&b| b == b'}') else {
                    return syntax(line, "unterminated '${'");
                };
                let name = &self.text[start..start + len];
                if !is_param(name) {
                    return syntax(line, format!("bad substitution '${{{name}}}'"));
                }
                w.part(Part::Param(name.to_string()));
                self.i = start + len + 1;
            }
            (Some(b'?' | b'#' | b'@' | b'0'..=b'9'), _) => {
                w.part(Part::Param((self.s[self.i + 1] as char).to_string()));
                self.i += 2;
            }
            (Some(b), _) if is_name_start(b) => {
                let start = self.i + 1;
                let mut end = start;
                while self.s.get(end).is_some_and(|&b| is_name_char(b)) {
                    end += 1;
                }
                w.part(Part::Param(self.text[start..end].to_string()));
                self.i = end;
            }
            _ => {
                w.lit.push('$');
                self.i += 1;
            }
        }
        Ok(())
    }

    /// From `start` (just inside an opening parenthesis) to the matching `)`, skipping
    /// quoted text; returns the inside and moves past the closing `)`.
    fn balanced(&mut self, start: usize, what: &str) -> Result<&'a str, ParseError> {
        let (mut depth, mut j, line) = (1u32, start, self.line);
        while depth > 0 {
            match self.s.get(j) {
                None => return syntax(line, format!("unterminated '{what}'")),
                Some(b'(') => depth += 1,
                Some(b')') => depth -= 1,
                Some(b'\n') => self.line += 1,
                Some(b'\\') => j += 1,
                Some(&q @ (b'\'' | b'"')) => {
                    j += 1;
                    while self.s.get(j).is_some_and(|&b| b != q) {
                        if self.s[j] == b'\\' && q == b'"' {
                            j += 1;
                        }
                        j += 1;
                    }
                    if j >= self.s.len() {
                        return syntax(line, "unterminated quote");
                    }
                }
                _ => {}
            }
            j += 1;
        }
        let inner = &self.text[start..j - 1];
        self.i = j;
        Ok(inner)
    }
}

/// `name`, or a special parameter (`?`, `#`, `@`, a digit).
fn is_param(s: &str) -> bool {
    is_name(s) || matches!(s, "?" | "#" | "@") || (s.len() == 1 && s.as_bytes()[0].is_ascii_digit())
}

/// The inside of `$((...))`: literal text with `$` expansions.
fn arith_parts(inner: &str, line: u32, depth: u32) -> Result<Vec<Part>, ParseError> {
    if depth >= MAX_DEPTH {
        return syntax(line, format!("'$((' nested too deep (max {MAX_DEPTH})"));
    }
    let mut lx = Lexer {
        s: inner.as_bytes(),
        text: inner,
        i: 0,
        line,
        depth,
    };
    let mut w = WordBuilder::default();
    while let Some(b) = lx.peek() {
        match b {
            b'$' => lx.dollar(&mut w)?,
            b'\n' => {
                lx.line += 1;
                w.lit.push(' ');
                lx.i += 1;
            }
            _ => lx.push_char(&mut w),
        }
    }
    Ok(w.finish().parts)
}

#[derive(Default)]
struct WordBuilder {
    parts: Vec<Part>,
    lit: String,
    quoted: bool,
    assign: Option<usize>,
}

impl WordBuilder {
    fn part(&mut self, p: Part) {
        if !self.lit.is_empty() {
            self.parts.push(Part::Lit(core::mem::take(&mut self.lit)));
        }
        self.parts.push(p);
    }

    fn finish(mut self) -> Word {
        if !self.lit.is_empty() || self.parts.is_empty() {
            self.parts.push(Part::Lit(self.lit));
        }
        Word {
            parts: self.parts,
            quoted: self.quoted,
            assign: self.assign,
        }
    }
}

/// Parses a complete text (a line or a block of lines) into a list.
pub(crate) fn parse(text: &str) -> Result<List, ParseError> {
    parse_nested(text, 1, 0)
}

fn parse_nested(text: &str, first_line: u32, depth: u32) -> Result<List, ParseError> {
    let toks = lex(text, first_line, depth)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth,
        end_line: first_line,
    };
    let list = p.list(&[])?;
    match p.toks.get(p.pos) {
        None => Ok(list),
        Some((tok, line)) => syntax(*line, format!("unexpected {}", describe(tok))),
    }
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Word(w) => match w.bare() {
            Some(s) => format!("'{s}'"),
            None => "word".to_string(),
        },
        Tok::Newline => "end of line".to_string(),
        Tok::Semi => "';'".to_string(),
        Tok::And => "'&&'".to_string(),
        Tok::Or => "'||'".to_string(),
        Tok::LParen => "'('".to_string(),
        Tok::RParen => "')'".to_string(),
    }
}

/// Words that end a list inside a construct.
const TERMINATORS: &[&str] = &["then", "elif", "else", "fi", "do", "done", "}"];

struct Parser {
    toks: Vec<Spanned>,
    pos: usize,
    depth: u32,
    end_line: u32,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn line(&self) -> u32 {
        self.toks.get(self.pos).map_or(self.end_line, |(_, l)| *l)
    }

    /// The reserved word at the current position, if any.
    fn keyword(&self) -> Option<&str> {
        match self.peek() {
            Some(Tok::Word(w)) => w.bare(),
            _ => None,
        }
    }

    fn skip_separators(&mut self) {
        while matches!(self.peek(), Some(Tok::Newline | Tok::Semi)) {
            self.pos += 1;
        }
    }

    fn skip_newlines(&mut self) {
        while matches!(self.peek(), Some(Tok::Newline)) {
            self.pos += 1;
        }
    }

    /// Commands up to the end, or up to one of `stop` (a reserved word, not consumed).
    fn list(&mut self, stop: &[&str]) -> Result<List, ParseError> {
        let mut list = Vec::new();
        loop {
            self.skip_separators();
            match self.peek() {
                None => return Ok(list),
                Some(Tok::RParen) => return Ok(list),
                _ => {}
            }
            if let Some(k) = self.keyword()
                && TERMINATORS.contains(&k)
            {
                if stop.contains(&k) {
                    return Ok(list);
                }
                return syntax(self.line(), format!("unexpected '{k}'"));
            }
            list.push(self.and_or()?);
            match self.peek() {
                None | Some(Tok::Newline | Tok::Semi) => {}
                Some(_) if self.keyword().is_some_and(|k| stop.contains(&k)) => {}
                Some(tok) => return syntax(self.line(), format!("unexpected {}", describe(tok))),
            }
        }
    }

    /// A list that must end at one of `stop` and hold at least one command.
    fn body(&mut self, stop: &[&str], what: &str) -> Result<List, ParseError> {
        let list = self.list(stop)?;
        if self.peek().is_none() {
            return Err(ParseError::Incomplete);
        }
        if list.is_empty() {
            return syntax(self.line(), format!("empty {what}"));
        }
        Ok(list)
    }

    fn expect_keyword(&mut self, k: &str) -> Result<(), ParseError> {
        match self.keyword() {
            Some(w) if w == k => {
                self.pos += 1;
                Ok(())
            }
            _ => match self.peek() {
                None => Err(ParseError::Incomplete),
                Some(tok) => syntax(
                    self.line(),
                    format!("expected '{k}', found {}", describe(tok)),
                ),
            },
        }
    }

    fn and_or(&mut self) -> Result<AndOr, ParseError> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        loop {
            let join = match self.peek() {
                Some(Tok::And) => Join::And,
                Some(Tok::Or) => Join::Or,
                _ => return Ok(AndOr { first, rest }),
            };
            self.pos += 1;
            self.skip_newlines();
            if self.peek().is_none() {
                return Err(ParseError::Incomplete);
            }
            rest.push((join, self.pipeline()?));
        }
    }

    fn pipeline(&mut self) -> Result<Pipeline, ParseError> {
        let negate = self.keyword() == Some("!");
        if negate {
            self.pos += 1;
            if self.peek().is_none() {
                return Err(ParseError::Incomplete);
            }
        }
        let cmd = self.command()?;
        Ok(Pipeline { negate, cmd })
    }

    fn nest(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return syntax(self.line(), format!("nested too deep (max {MAX_DEPTH})"));
        }
        Ok(())
    }

    fn command(&mut self) -> Result<Command, ParseError> {
        let line = self.line();
        let kw = self.keyword().map(ToString::to_string);
        let cmd = match kw.as_deref() {
            Some("if") => {
                self.nest()?;
                self.pos += 1;
                let mut arms = Vec::new();
                let mut otherwise = None;
                loop {
                    let cond = self.body(&["then"], "condition")?;
                    self.expect_keyword("then")?;
                    let then = self.body(&["elif", "else", "fi"], "'then' part")?;
                    arms.push((cond, then));
                    match self.keyword() {
                        Some("elif") => self.pos += 1,
                        Some("else") => {
                            self.pos += 1;
                            otherwise = Some(self.body(&["fi"], "'else' part")?);
                            self.expect_keyword("fi")?;
                            break;
                        }
                        _ => {
                            self.expect_keyword("fi")?;
                            break;
                        }
                    }
                }
                Command::If { arms, otherwise }
            }
            Some(k @ ("while" | "until")) => {
                let until = k == "until";
                self.nest()?;
                self.pos += 1;
                let cond = self.body(&["do"], "condition")?;
                let body = self.do_done()?;
                Command::While { until, cond, body }
            }
            Some("for") => {
                self.nest()?;
                self.pos += 1;
                let var = match self.peek() {
                    None => return Err(ParseError::Incomplete),
                    Some(Tok::Word(w)) => match w.bare() {
                        Some(n) if is_name(n) => n.to_string(),
                        _ => return syntax(line, "'for' needs a variable name"),
                    },
                    Some(tok) => return syntax(line, format!("unexpected {}", describe(tok))),
                };
                self.pos += 1;
                self.expect_keyword("in")?;
                let mut items = Vec::new();
                while let Some(Tok::Word(w)) = self.peek() {
                    items.push(w.clone());
                    self.pos += 1;
                }
                self.end_of_header()?;
                let body = self.do_done()?;
                Command::For {
                    line,
                    var,
                    items,
                    body,
                }
            }
            Some("repeat") => {
                self.nest()?;
                self.pos += 1;
                let count = match self.peek() {
                    None => return Err(ParseError::Incomplete),
                    Some(Tok::Word(w)) if w.bare() != Some("do") => w.clone(),
                    Some(_) => return syntax(line, "'repeat' needs a count"),
                };
                self.pos += 1;
                if self.keyword() != Some("do") {
                    self.end_of_header()?;
                }
                let body = self.do_done()?;
                Command::Repeat { line, count, body }
            }
            Some("{") => {
                self.nest()?;
                self.pos += 1;
                let list = self.body(&["}"], "group")?;
                self.expect_keyword("}")?;
                Command::Group(list)
            }
            Some(k @ ("then" | "elif" | "else" | "fi" | "do" | "done" | "}" | "in")) => {
                return syntax(line, format!("unexpected '{k}'"));
            }
            _ => self.simple(line)?,
        };
        self.depth -= u32::from(!matches!(
            cmd,
            Command::Simple { .. } | Command::Function { .. }
        ));
        Ok(cmd)
    }

    /// `;` or newline(s) before `do`.
    fn end_of_header(&mut self) -> Result<(), ParseError> {
        match self.peek() {
            None => Err(ParseError::Incomplete),
            Some(Tok::Semi | Tok::Newline) => {
                self.skip_separators();
                Ok(())
            }
            Some(tok) => syntax(self.line(), format!("unexpected {}", describe(tok))),
        }
    }

    fn do_done(&mut self) -> Result<List, ParseError> {
        self.skip_separators();
        self.expect_keyword("do")?;
        let body = self.body(&["done"], "loop body")?;
        self.expect_keyword("done")?;
        Ok(body)
    }

    fn simple(&mut self, line: u32) -> Result<Command, ParseError> {
        let mut assigns = Vec::new();
        let mut words: Vec<Word> = Vec::new();
        while let Some(tok) = self.peek() {
            match tok {
                Tok::Word(w) => {
                    if words.is_empty()
                        && let Some(n) = w.assign
                    {
                        let (name, value) = split_assign(w, n);
                        assigns.push((name, value));
                    } else {
                        words.push(w.clone());
                    }
                    self.pos += 1;
                }
                Tok::LParen if words.len() == 1 && assigns.is_empty() => {
                    return self.function(line, words.remove(0));
                }
                Tok::LParen | Tok::RParen => {
                    return syntax(self.line(), format!("unexpected {}", describe(tok)));
                }
                _ => break,
            }
        }
        Ok(Command::Simple {
            line,
            assigns,
            words,
        })
    }

    /// `name ( ) { list }` after `name`.
    fn function(&mut self, line: u32, name: Word) -> Result<Command, ParseError> {
        let name = match name.bare() {
            Some(n) if is_name(n) => n.to_string(),
            _ => return syntax(line, "a function name is letters, digits and '_'"),
        };
        self.pos += 1;
        match self.peek() {
            None => return Err(ParseError::Incomplete),
            Some(Tok::RParen) => self.pos += 1,
            Some(_) => return syntax(line, "expected ')' after '('"),
        }
        self.skip_newlines();
        if self.peek().is_none() {
            return Err(ParseError::Incomplete);
        }
        if self.keyword() != Some("{") {
            return syntax(self.line(), "a function body is a '{ ... }' group");
        }
        self.nest()?;
        self.pos += 1;
        let body = self.body(&["}"], "function body")?;
        self.expect_keyword("}")?;
        self.depth -= 1;
        Ok(Command::Function {
            line,
            name,
            body: Arc::new(body),
        })
    }
}

/// `NAME=value` into the name and the value's word.
fn split_assign(w: &Word, n: usize) -> (String, Word) {
    let mut parts = w.parts.clone();
    let name = match parts.first_mut() {
        Some(Part::Lit(s)) => {
            let rest = s.split_off(n + 1);
            let mut name = core::mem::replace(s, rest);
            name.truncate(n);
            name
        }
        _ => String::new(),
    };
    if matches!(parts.first(), Some(Part::Lit(s)) if s.is_empty()) && parts.len() > 1 {
        parts.remove(0);
    }
    (
        name,
        Word {
            parts,
            quoted: w.quoted,
            assign: None,
        },
    )
}
