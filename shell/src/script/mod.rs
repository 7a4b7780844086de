//! The shell's language: variables, arithmetic, conditions, loops and functions, the same at the
//! prompt and in scripts.
//!
//! An input line goes to [`Lang::feed`]. A line that leaves a construct open (`while ...` without
//! its `done`, a line ending in `&&` or `\`) is kept and the session reads the next one with the
//! continuation prompt [`CONT_PROMPT`]; once the text parses, it runs ([`exec`]). Parsing is
//! in [`syntax`], `$((...))` in [`arith`], the interpreter in [`exec`] and the language's own
//! commands (`test`/`[`, `true`, `false`, `break`, `continue`, `return`, `unset`, `vars`) in
//! [`builtins`].
//!
//! Everything is bounded, so a script cannot exhaust the kernel's memory through the shell:
//! a block of lines ([`MAX_BLOCK`]), nesting ([`limits::MAX_DEPTH`]), variables ([`MAX_VARS`], each
//! value at most [`MAX_VALUE`] bytes, as is every expanded word and every `$(...)` output),
//! functions ([`MAX_FUNCS`]) and calls (the same bound). Going past a bound is an error naming it.
//! A loop checks for Ctrl-C before each round, so a runaway loop ends with `^C` and status 130.

pub(crate) mod arith;
pub(crate) mod builtins;
pub(crate) mod exec;
mod limits;
pub(crate) mod syntax;
#[cfg(test)]
mod tests;

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::system::Exit;
pub(crate) use limits::MAX_BLOCK;
use limits::{MAX_FUNCS, MAX_VALUE, MAX_VARS};
use syntax::List;

/// Shell state that survives from line to line.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Status of the last command (`$?`).
    pub last_status: u8,
    /// `set -e` is on.
    pub errexit: bool,
    /// Variables, functions, an unfinished construct.
    pub lang: Lang,
}

impl State {
    /// Records a finished line's status; returns the exit a `set -e` failure causes, if any.
    pub(crate) fn complete(&mut self, status: u8, interactive: bool) -> Option<Exit> {
        self.last_status = status;
        if status != 0 && self.errexit && !interactive {
            Some(Exit::Poweroff(status))
        } else {
            None
        }
    }
}

/// The prompt for the next line of an unfinished construct.
pub const CONT_PROMPT: &str = "> ";

/// A `break`, `continue` or `return` asked for by a command, acted on by the interpreter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    Break(u32),
    Continue(u32),
    Return,
}

/// The language's state: variables, functions, the unfinished construct, where we are.
#[derive(Debug)]
pub(crate) struct Lang {
    vars: Vec<(String, String)>,
    funcs: Vec<(String, Arc<List>)>,
    /// `$1`, `$2`, ... of the running function.
    pub(crate) args: Vec<String>,
    /// Loops around the running command (in the running function).
    pub(crate) loops: u32,
    /// Function calls around the running command.
    pub(crate) calls: u32,
    /// Set by `break`/`continue`/`return`.
    pub(crate) flow: Option<Flow>,
    /// `$RANDOM`'s generator (xorshift64; `RANDOM=<n>` seeds it).
    rng: u64,
    /// Lines of an unfinished construct.
    pending: String,
    /// Input line number where `pending` starts.
    pending_line: u32,
    /// Input lines fed so far.
    lines: u32,
    /// Input line number of the command running now (1-based; `$LINENO`).
    pub(crate) line: u32,
    /// The end of the last command's output (not `expect`'s), `\r` removed, for `expect`.
    pub(crate) output: Vec<u8>,
    /// The kernel log's sequence number when that command started (`expect --timeout`).
    pub(crate) expect_from: u64,
    /// Lines typed at the terminal, oldest first (`history`), at most [`HISTORY`].
    pub(crate) history: alloc::collections::VecDeque<String>,
}

/// Lines `history` keeps.
pub(crate) const HISTORY: usize = 100;

impl Lang {
    /// Records a line typed at the terminal (not blank, not the same as the last one).
    pub(crate) fn remember(&mut self, line: &str) {
        if line.trim().is_empty() || self.history.back().is_some_and(|l| l == line) {
            return;
        }
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(line.into());
    }
}

impl Default for Lang {
    fn default() -> Self {
        Self {
            vars: Vec::new(),
            funcs: Vec::new(),
            args: Vec::new(),
            loops: 0,
            calls: 0,
            flow: None,
            rng: 0x2545_f491_4f6c_dd1d,
            pending: String::new(),
            pending_line: 0,
            lines: 0,
            line: 0,
            output: Vec::new(),
            expect_from: 0,
            history: alloc::collections::VecDeque::new(),
        }
    }
}

/// What [`Lang::feed`] made of a line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Feed {
    /// The construct is unfinished: read another line (with [`CONT_PROMPT`]).
    More,
    /// A complete construct to run; the number of the input line before its first.
    Run(List, u32),
    /// The text does not parse: the input line number, the message, and whether the text was
    /// one line.
    Syntax(u32, String, bool),
    /// The construct grew past [`MAX_BLOCK`]; it was dropped.
    TooLong,
}

impl Lang {
    /// Takes one input line: returns the text to run once a construct is complete.
    pub(crate) fn feed(&mut self, line: &str) -> Feed {
        self.lines = self.lines.saturating_add(1);
        if self.pending.is_empty() {
            self.pending_line = self.lines;
        } else {
            self.pending.push('\n');
        }
        if self.pending.len() + line.len() > MAX_BLOCK {
            self.cancel();
            return Feed::TooLong;
        }
        self.pending.push_str(line);
        let base = self.pending_line - 1;
        match syntax::parse(&self.pending) {
            Err(syntax::ParseError::Incomplete) => Feed::More,
            Ok(list) => {
                self.cancel();
                Feed::Run(list, base)
            }
            Err(syntax::ParseError::Syntax { line, msg }) => {
                let one_line = !self.pending.contains('\n');
                self.cancel();
                Feed::Syntax(base + line, msg, one_line)
            }
        }
    }

    /// Whether an unfinished construct waits for more lines.
    pub(crate) fn continuing(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Drops the unfinished construct (Ctrl-C at the continuation prompt).
    pub(crate) fn cancel(&mut self) {
        self.pending = String::new();
    }

    /// A variable's value.
    pub(crate) fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets a variable (`RANDOM` seeds `$RANDOM` instead).
    pub(crate) fn set_var(&mut self, name: &str, value: String) -> Result<(), String> {
        if !syntax::is_name(name) {
            return Err(format!("'{name}' is not a variable name"));
        }
        if value.len() > MAX_VALUE {
            return Err(format!(
                "value of '{name}' too long (max {MAX_VALUE} bytes)"
            ));
        }
        if name == "RANDOM" {
            let seed = arith::parse_int(&value)
                .ok_or_else(|| format!("RANDOM: '{value}' is not a number"))?;
            self.rng = (seed as u64) ^ 0x2545_f491_4f6c_dd1d;
            if self.rng == 0 {
                self.rng = 1;
            }
            return Ok(());
        }
        if let Some(slot) = self.vars.iter_mut().find(|(n, _)| n == name) {
            slot.1 = value;
            return Ok(());
        }
        if self.vars.len() >= MAX_VARS {
            return Err(format!("too many variables (max {MAX_VARS}); unset some"));
        }
        self.vars.push((name.into(), value));
        Ok(())
    }

    /// Removes a variable or a function; false if there was none.
    pub(crate) fn unset(&mut self, name: &str) -> bool {
        let before = self.vars.len() + self.funcs.len();
        self.vars.retain(|(n, _)| n != name);
        self.funcs.retain(|(n, _)| n != name);
        before != self.vars.len() + self.funcs.len()
    }

    /// Every variable, in the order they were first set.
    pub(crate) fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Every function's name.
    pub(crate) fn functions(&self) -> impl Iterator<Item = &str> {
        self.funcs.iter().map(|(n, _)| n.as_str())
    }

    /// The function `name`.
    pub(crate) fn func(&self, name: &str) -> Option<Arc<List>> {
        self.funcs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.clone())
    }

    /// Defines (or redefines) a function.
    pub(crate) fn define(&mut self, name: &str, body: Arc<List>) -> Result<(), String> {
        if let Some(slot) = self.funcs.iter_mut().find(|(n, _)| n == name) {
            slot.1 = body;
            return Ok(());
        }
        if self.funcs.len() >= MAX_FUNCS {
            return Err(format!("too many functions (max {MAX_FUNCS}); unset some"));
        }
        self.funcs.push((name.into(), body));
        Ok(())
    }

    /// `$RANDOM`: 0..=32767.
    pub(crate) fn random(&mut self) -> u16 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        ((x >> 33) & 0x7fff) as u16
    }
}

/// `value` as a word that reads back as itself: bare if it is plain, else in single quotes.
pub(crate) fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-+.,:/@%^".contains(&b));
    if plain {
        return value.into();
    }
    let mut q = String::from("'");
    q.push_str(&value.replace('\'', "'\\''"));
    q.push('\'');
    q
}
