//! The interpreter: walks a parsed [`List`], expands words, runs commands from the table and
//! functions, and unwinds for `break`/`continue`/`return`, Ctrl-C and the shell's exit.
//!
//! Statuses follow POSIX shells: a list's status is its last command's, `!` inverts, `if` and
//! loops that run nothing give 0. `set -e` (scripts only) ends the shell at a failing command
//! unless it is a condition (`if`, `while`, `until`), a non-last part of `&&`/`||`, or negated.
//! A command that ends with status 130 (Ctrl-C) ends every construct around it.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write as _;

use super::State;
use super::limits::{MAX_DEPTH, MAX_VALUE};
use super::syntax::{AndOr, Command, Join, List, Part, Pipeline, Word};
use super::{Flow, arith};
use crate::args::Args;
use crate::ctx::Command as TableCommand;
use crate::ctx::{Ctx, INTERRUPTED};
use crate::expect::OUTPUT_KEEP;
use crate::out::{Key, Out, Sink};
use crate::system::{Exit, System};

/// Why the interpreter stops walking a list early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Break(u32),
    Continue(u32),
    Return,
    /// Ctrl-C: everything around ends, status 130.
    Interrupt,
    /// The shell ends (`exit`, `poweroff`, `reboot`, a `set -e` failure).
    Exit(Exit),
}

type Res = Result<u8, Stop>;

/// A failed expansion: a message (the command fails with status 1), or an unwind from a
/// `$(...)`.
enum ExpandErr {
    Msg(String),
    Stop(Stop),
}

impl From<Stop> for ExpandErr {
    fn from(s: Stop) -> Self {
        ExpandErr::Stop(s)
    }
}

/// One run of a parsed construct.
pub(crate) struct Run<'a> {
    pub state: &'a mut State,
    pub sink: &'a mut dyn Sink,
    pub sys: &'a mut dyn System,
    pub interactive: bool,
    /// Input line number before the construct's first line.
    pub base: u32,
    /// Looks a command up in the table (the registry's, passed in: the table holds this
    /// module's commands too).
    pub find: fn(&str) -> Option<&'static TableCommand>,
}

impl Run<'_> {
    fn error(&mut self, args: core::fmt::Arguments<'_>) {
        let mut out = Out {
            sink: &mut *self.sink,
        };
        let _ = out.write_str("error: ");
        let _ = out.write_fmt(args);
        let _ = out.write_str("\n");
    }

    /// Ctrl-C typed: end the loop.
    fn tick(&mut self) -> Result<(), Stop> {
        if self.sink.take_interrupt() {
            self.sink.put(b"^C\r\n");
            self.state.last_status = INTERRUPTED;
            return Err(Stop::Interrupt);
        }
        Ok(())
    }

    /// Runs a list; `checked`: `set -e` applies to its commands.
    pub(crate) fn list(&mut self, list: &List, checked: bool) -> Res {
        let mut status = 0;
        for and_or in list {
            status = self.and_or(and_or, checked)?;
        }
        Ok(status)
    }

    fn and_or(&mut self, a: &AndOr, checked: bool) -> Res {
        let mut status = self.pipeline(&a.first, checked && a.rest.is_empty())?;
        for (i, (join, p)) in a.rest.iter().enumerate() {
            let run = match join {
                Join::And => status == 0,
                Join::Or => status != 0,
            };
            if run {
                status = self.pipeline(p, checked && i + 1 == a.rest.len())?;
            }
        }
        Ok(status)
    }

    fn pipeline(&mut self, p: &Pipeline, checked: bool) -> Res {
        let mut status = self.command(&p.cmd, checked && !p.negate)?;
        if p.negate {
            status = u8::from(status == 0);
        }
        self.state.last_status = status;
        Ok(status)
    }

    fn command(&mut self, cmd: &Command, checked: bool) -> Res {
        match cmd {
            Command::Simple {
                line,
                assigns,
                words,
            } => {
                self.state.lang.line = self.base + line;
                let status = self.simple(assigns, words)?;
                self.state.last_status = status;
                if let Some(flow) = self.state.lang.flow.take() {
                    return Err(match flow {
                        Flow::Break(n) => Stop::Break(n),
                        Flow::Continue(n) => Stop::Continue(n),
                        Flow::Return => Stop::Return,
                    });
                }
                if status == INTERRUPTED {
                    return Err(Stop::Interrupt);
                }
                if checked && status != 0 && self.state.errexit && !self.interactive {
                    return Err(Stop::Exit(Exit::Poweroff(status)));
                }
                Ok(status)
            }
            Command::If { arms, otherwise } => {
                for (cond, then) in arms {
                    if self.list(cond, false)? == 0 {
                        return self.list(then, checked);
                    }
                }
                match otherwise {
                    Some(list) => self.list(list, checked),
                    None => Ok(0),
                }
            }
            Command::While { until, cond, body } => self.looped(
                |run| {
                    let c = run.list(cond, false)?;
                    Ok(if (c == 0) != *until { Some(body) } else { None })
                },
                checked,
            ),
            Command::For {
                line,
                var,
                items,
                body,
            } => {
                self.state.lang.line = self.base + line;
                let items = match self.for_items(items) {
                    Ok(items) => items,
                    Err(ExpandErr::Msg(m)) => {
                        return self.failed(checked, format_args!("for: {m}"));
                    }
                    Err(ExpandErr::Stop(s)) => return Err(s),
                };
                let mut next = ForIter {
                    items: items.into_iter(),
                    range: None,
                };
                self.looped(
                    |run| {
                        let Some(value) = next.next() else {
                            return Ok(None);
                        };
                        if let Err(m) = run.state.lang.set_var(var, value) {
                            run.error(format_args!("for: {m}"));
                            return Err(Stop::Break(1));
                        }
                        Ok(Some(body))
                    },
                    checked,
                )
            }
            Command::Repeat { line, count, body } => {
                self.state.lang.line = self.base + line;
                let n = match self.expand(count) {
                    Ok(text) => match text.as_deref().and_then(arith::parse_int) {
                        Some(n) if n >= 0 => n as u64,
                        _ => {
                            let t = text.unwrap_or_default();
                            return self.failed(
                                checked,
                                format_args!("repeat: '{t}' is not a count (0 or more)"),
                            );
                        }
                    },
                    Err(ExpandErr::Msg(m)) => return self.failed(checked, format_args!("{m}")),
                    Err(ExpandErr::Stop(s)) => return Err(s),
                };
                let mut left = n;
                self.looped(
                    |_| {
                        if left == 0 {
                            return Ok(None);
                        }
                        left -= 1;
                        Ok(Some(body))
                    },
                    checked,
                )
            }
            Command::Group(list) => self.list(list, checked),
            Command::Function { line, name, body } => {
                self.state.lang.line = self.base + line;
                if (self.find)(name).is_some() {
                    return self.failed(
                        checked,
                        format_args!("function '{name}': a command has this name"),
                    );
                }
                match self.state.lang.define(name, body.clone()) {
                    Ok(()) => {
                        self.state.last_status = 0;
                        Ok(0)
                    }
                    Err(m) => self.failed(checked, format_args!("{m}")),
                }
            }
        }
    }

    /// Prints an error for a construct that could not start; status 1 (and `set -e`).
    fn failed(&mut self, checked: bool, msg: core::fmt::Arguments<'_>) -> Res {
        self.error(msg);
        self.state.last_status = 1;
        if checked && self.state.errexit && !self.interactive {
            return Err(Stop::Exit(Exit::Poweroff(1)));
        }
        Ok(1)
    }

    /// A loop: `next` gives the body of each round (checking the condition), `None` ends it.
    fn looped<'l>(
        &mut self,
        mut next: impl FnMut(&mut Self) -> Result<Option<&'l List>, Stop>,
        checked: bool,
    ) -> Res {
        self.state.lang.loops += 1;
        let mut status = 0;
        let result = loop {
            if let Err(e) = self.tick() {
                break Err(e);
            }
            let body = match next(self) {
                Ok(Some(body)) => body,
                Ok(None) => break Ok(status),
                Err(Stop::Break(1)) => break Ok(1),
                Err(e) => break Err(e),
            };
            match self.list(body, checked) {
                Ok(s) => status = s,
                Err(Stop::Break(n)) if n > 1 => break Err(Stop::Break(n - 1)),
                Err(Stop::Break(_)) => break Ok(status),
                Err(Stop::Continue(n)) if n > 1 => break Err(Stop::Continue(n - 1)),
                Err(Stop::Continue(_)) => {}
                Err(e) => break Err(e),
            }
        };
        self.state.lang.loops -= 1;
        result
    }

    /// A simple command: assignments, or a command with its expanded arguments.
    fn simple(&mut self, assigns: &[(String, Word)], words: &[Word]) -> Res {
        let mut argv: Vec<String> = Vec::with_capacity(words.len());
        for w in words {
            match self.expand(w) {
                Ok(Some(s)) => argv.push(s),
                Ok(None) => {}
                Err(ExpandErr::Msg(m)) => {
                    self.error(format_args!("{m}"));
                    return Ok(1);
                }
                Err(ExpandErr::Stop(s)) => return Err(s),
            }
        }
        if !argv.is_empty() && !assigns.is_empty() {
            self.error(format_args!(
                "'{}=...' before a command: put the assignment on a line of its own",
                assigns[0].0
            ));
            return Ok(2);
        }
        if argv.is_empty() {
            // Assignments only; the status is that of the last `$(...)` in them, or 0.
            self.state.last_status = 0;
            for (name, w) in assigns {
                let value = match self.expand(w) {
                    Ok(v) => v.unwrap_or_default(),
                    Err(ExpandErr::Msg(m)) => {
                        self.error(format_args!("{m}"));
                        return Ok(1);
                    }
                    Err(ExpandErr::Stop(s)) => return Err(s),
                };
                if let Err(m) = self.state.lang.set_var(name, value) {
                    self.error(format_args!("{m}"));
                    return Ok(1);
                }
            }
            return Ok(self.state.last_status);
        }
        if let Some(body) = self.state.lang.func(&argv[0]) {
            return self.call(&argv, &body);
        }
        self.run_table(&argv)
    }

    /// Calls a function with `argv[1..]` as `$1`, `$2`, ...
    fn call(&mut self, argv: &[String], body: &Arc<List>) -> Res {
        if self.state.lang.calls >= MAX_DEPTH {
            self.error(format_args!(
                "{}: function calls nested too deep (max {MAX_DEPTH})",
                argv[0]
            ));
            return Ok(1);
        }
        let saved_args = core::mem::replace(&mut self.state.lang.args, argv[1..].to_vec());
        let saved_loops = core::mem::replace(&mut self.state.lang.loops, 0);
        self.state.lang.calls += 1;
        let result = self.list(body, true);
        self.state.lang.calls -= 1;
        self.state.lang.loops = saved_loops;
        self.state.lang.args = saved_args;
        match result {
            Err(Stop::Return) => Ok(self.state.last_status),
            other => other,
        }
    }

    /// Runs a command of the table (or reports an unknown one).
    fn run_table(&mut self, argv: &[String]) -> Res {
        let name = &argv[0];
        let Some(cmd) = (self.find)(name) else {
            self.error(format_args!("unknown command '{name}' (try 'help')"));
            return Ok(2);
        };
        let mut args = Args::new(cmd.usage, &argv[1..]);
        // What `expect` checks: this command's output (not an `expect`'s own).
        let keep = cmd.name != "expect";
        let log_from = rtos::console::log_next();
        let mut tee = Tee {
            inner: &mut *self.sink,
            kept: Vec::new(),
            on: keep,
        };
        let mut ctx = Ctx {
            out: Out { sink: &mut tee },
            sys: &mut *self.sys,
            last_status: self.state.last_status,
            interactive: self.interactive,
            errexit: self.state.errexit,
            exit: None,
            lang: &mut self.state.lang,
        };
        let status = match (cmd.run)(&mut ctx, &mut args) {
            Ok(status) => status,
            Err(e) => {
                writeln!(ctx, "error: {}: {}", cmd.name, e.msg);
                e.status()
            }
        };
        let (errexit, exit) = (ctx.errexit, ctx.exit);
        if keep {
            let mut kept = tee.kept;
            kept.drain(..kept.len().saturating_sub(OUTPUT_KEEP));
            self.state.lang.output = kept;
            self.state.lang.expect_from = log_from;
        }
        self.state.errexit = errexit;
        if let Some(exit) = exit {
            self.state.last_status = status;
            self.state.lang.flow = None;
            return Err(Stop::Exit(exit));
        }
        Ok(status)
    }

    /// Expands a word: parameters, `$((...))`, `$(...)`. `None`: an unquoted word that came
    /// out empty (it is dropped, as in POSIX shells).
    fn expand(&mut self, w: &Word) -> Result<Option<String>, ExpandErr> {
        let mut out = String::new();
        self.expand_parts(&w.parts, &mut out)?;
        Ok(if out.is_empty() && !w.quoted {
            None
        } else {
            Some(out)
        })
    }

    fn expand_parts(&mut self, parts: &[Part], out: &mut String) -> Result<(), ExpandErr> {
        for part in parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Param(name) => {
                    let value = self.param(name)?;
                    out.push_str(&value);
                }
                Part::Arith(inner) => {
                    let mut text = String::new();
                    self.expand_parts(inner, &mut text)?;
                    let lang = &self.state.lang;
                    let v = arith::eval(&text, &|n| lang.var(n).map(ToString::to_string))
                        .map_err(|m| ExpandErr::Msg(format!("$(({})): {m}", text.trim())))?;
                    let _ = write!(out, "{v}");
                }
                Part::Subst(list) => {
                    let text = self.subst(list)?;
                    out.push_str(&text);
                }
            }
            if out.len() > MAX_VALUE {
                return Err(ExpandErr::Msg(format!(
                    "word too long after expansion (max {MAX_VALUE} bytes)"
                )));
            }
        }
        Ok(())
    }

    /// The value of `$name`.
    fn param(&mut self, name: &str) -> Result<String, ExpandErr> {
        let lang = &mut self.state.lang;
        Ok(match name {
            "?" => format!("{}", self.state.last_status),
            "#" => format!("{}", lang.args.len()),
            "@" => lang.args.join(" "),
            "0" => "rtos".to_string(),
            "RANDOM" => format!("{}", lang.random()),
            "LINENO" => format!("{}", lang.line),
            "UPTIME_MS" => format!("{}", self.sys.uptime().as_millis()),
            _ if name.as_bytes()[0].is_ascii_digit() => {
                let n = usize::from(name.as_bytes()[0] - b'0');
                lang.args.get(n - 1).cloned().unwrap_or_default()
            }
            _ => match lang.var(name) {
                Some(v) => v.to_string(),
                None => return Err(ExpandErr::Msg(format!("'{name}' is not set"))),
            },
        })
    }

    /// `$(list)`: runs it with its output captured (error lines still go to the console),
    /// trailing line ends removed. Sets `$?` to its status.
    fn subst(&mut self, list: &List) -> Result<String, ExpandErr> {
        let mut cap = Capture {
            inner: &mut *self.sink,
            text: Vec::new(),
            over: false,
            started: false,
            line: Vec::new(),
        };
        let saved_loops = core::mem::replace(&mut self.state.lang.loops, 0);
        let result = Run {
            state: &mut *self.state,
            sink: &mut cap,
            sys: &mut *self.sys,
            interactive: self.interactive,
            base: self.base,
            find: self.find,
        }
        .list(list, false);
        self.state.lang.loops = saved_loops;
        cap.end_line(true);
        let Capture { text, over, .. } = cap;
        match result {
            Ok(status) => self.state.last_status = status,
            Err(Stop::Interrupt) => return Err(ExpandErr::Stop(Stop::Interrupt)),
            Err(Stop::Exit(e)) => return Err(ExpandErr::Stop(Stop::Exit(e))),
            Err(_) => {}
        }
        if over {
            return Err(ExpandErr::Msg(format!(
                "output of $(...) too long (max {MAX_VALUE} bytes)"
            )));
        }
        let mut text = String::from_utf8_lossy(&text).into_owned();
        while text.ends_with('\n') {
            text.pop();
        }
        Ok(text)
    }

    /// The values a `for` runs over: words (an unquoted one split at white space), and `A..B`
    /// ranges of integers.
    fn for_items(&mut self, items: &[Word]) -> Result<Vec<Item>, ExpandErr> {
        let mut out = Vec::with_capacity(items.len());
        for w in items {
            let Some(text) = self.expand(w)? else {
                continue;
            };
            if w.quoted {
                out.push(Item::Word(text));
                continue;
            }
            // Unquoted: split at white space (`for t in $list`), and `A..B` is a range.
            for piece in text.split_ascii_whitespace() {
                let range = piece
                    .split_once("..")
                    .and_then(|(a, b)| Some((arith::parse_int(a)?, arith::parse_int(b)?)));
                out.push(match range {
                    Some((a, b)) => Item::Range(a, b),
                    None => Item::Word(piece.into()),
                });
            }
        }
        Ok(out)
    }
}

/// A command's sink that also keeps the end of its output for `expect` (without `\r`).
struct Tee<'a> {
    inner: &'a mut dyn Sink,
    kept: Vec<u8>,
    on: bool,
}

impl Sink for Tee<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.inner.put(bytes);
        if self.on {
            self.kept.extend(bytes.iter().filter(|&&b| b != b'\r'));
            if self.kept.len() > 2 * OUTPUT_KEEP {
                self.kept.drain(..self.kept.len() - OUTPUT_KEEP);
            }
        }
    }

    fn flush(&mut self) {
        self.inner.flush();
    }

    fn failed(&self) -> bool {
        self.inner.failed()
    }

    fn key(&mut self) -> Option<Key> {
        self.inner.key()
    }

    fn take_interrupt(&mut self) -> bool {
        self.inner.take_interrupt()
    }

    fn rows(&self) -> Option<u16> {
        self.inner.rows()
    }
}

/// One element of a `for` list.
enum Item {
    Word(String),
    /// Inclusive; counts down when the first is larger.
    Range(i64, i64),
}

/// Walks `for` items one value at a time (a range is never materialised).
struct ForIter {
    items: alloc::vec::IntoIter<Item>,
    range: Option<(i64, i64)>,
}

impl Iterator for ForIter {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        loop {
            if let Some((cur, end)) = self.range {
                self.range = match cur.cmp(&end) {
                    core::cmp::Ordering::Less => Some((cur + 1, end)),
                    core::cmp::Ordering::Greater => Some((cur - 1, end)),
                    core::cmp::Ordering::Equal => None,
                };
                return Some(format!("{cur}"));
            }
            match self.items.next()? {
                Item::Word(w) => return Some(w),
                Item::Range(a, b) => self.range = Some((a, b)),
            }
        }
    }
}

/// The sink of a `$(...)`: keeps the output (up to [`MAX_VALUE`] bytes), lines joined by `\n`;
/// passes `error:` lines and the input side through to the console.
struct Capture<'a> {
    inner: &'a mut dyn Sink,
    text: Vec<u8>,
    over: bool,
    /// Whether a line was kept (the next one is preceded by `\n`).
    started: bool,
    /// The line being written (decided at its end: an error line goes to the console).
    line: Vec<u8>,
}

impl Capture<'_> {
    /// Ends the line being written; `last`: at the end of the output (an empty one is dropped).
    fn end_line(&mut self, last: bool) {
        let line = core::mem::take(&mut self.line);
        if line.starts_with(b"error: ") {
            self.inner.put(&line);
            self.inner.put(b"\r\n");
        } else if !(last && line.is_empty()) {
            if self.text.len() + line.len() + 1 > MAX_VALUE {
                self.over = true;
            } else {
                if self.started {
                    self.text.push(b'\n');
                }
                self.text.extend_from_slice(&line);
                self.started = true;
            }
        }
    }
}

impl Sink for Capture<'_> {
    fn put(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\r' => {}
                b'\n' => self.end_line(false),
                _ if self.line.len() > MAX_VALUE => self.over = true,
                _ => self.line.push(b),
            }
        }
    }

    fn flush(&mut self) {}

    fn failed(&self) -> bool {
        self.inner.failed()
    }

    fn key(&mut self) -> Option<Key> {
        self.inner.key()
    }

    fn take_interrupt(&mut self) -> bool {
        self.inner.take_interrupt()
    }

    fn rows(&self) -> Option<u16> {
        None
    }
}
