//! Argument helper for command handlers.
//!
//! A handler first takes its options ([`Args::flag`], [`Args::option`]), then its positional
//! arguments ([`Args::next`], [`Args::next_opt`], [`Args::rest`]), then calls [`Args::finish`]
//! *before* doing anything, so a stray or unknown argument is a usage error and nothing runs.
//!
//! Conventions: a word that starts with `-` (but is not a negative number and not a lone `-`)
//! is option-like; anything after a `--` word is positional. Options may be written
//! `--name value` or `--name=value`.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use crate::parse::{parse_duration, parse_u64};
use crate::system::CrashKind;

/// Kind of a command failure; decides the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// The command ran and failed: status 1.
    Runtime,
    /// The command was called wrongly: status 2.
    Usage,
}

/// A command failure; printed as `error: <command>: <msg>`. Boxed: one pointer keeps every
/// `Result<_, CmdError>` small, so each `?` moves one word (less code at every call site).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CmdError(Box<CmdErrorInner>);

/// What a [`CmdError`] holds (reached through `Deref`: `e.kind`, `e.msg`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CmdErrorInner {
    pub kind: ErrorKind,
    pub msg: String,
}

impl core::ops::Deref for CmdError {
    type Target = CmdErrorInner;
    fn deref(&self) -> &CmdErrorInner {
        &self.0
    }
}

impl CmdError {
    #[inline(never)]
    fn new(kind: ErrorKind, msg: String) -> Self {
        Self(Box::new(CmdErrorInner { kind, msg }))
    }

    /// A usage error (status 2).
    pub(crate) fn usage(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, msg.into())
    }

    /// A runtime error (status 1).
    pub(crate) fn runtime(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Runtime, msg.into())
    }

    /// The exit status this error sets.
    pub(crate) fn status(&self) -> u8 {
        match self.kind {
            ErrorKind::Runtime => 1,
            ErrorKind::Usage => 2,
        }
    }
}

/// A type an argument can be parsed into.
pub(crate) trait FromArg: Sized {
    /// What it is, for `invalid <WHAT> '<arg>'`.
    const WHAT: &'static str;
    /// What would have been valid, appended as ` (expected <HINT>)`.
    const HINT: Option<&'static str> = None;
    /// Parses `s`, `None` if invalid.
    fn from_arg(s: &str) -> Option<Self>;
    /// Why `s` is invalid when [`FromArg::HINT`] would not say (appended the same way).
    fn why_invalid(_s: &str) -> Option<&'static str> {
        None
    }
}

impl FromArg for String {
    const WHAT: &'static str = "argument";
    fn from_arg(s: &str) -> Option<Self> {
        Some(s.to_string())
    }
}

macro_rules! from_arg_uint {
    ($($t:ty => $hint:expr),*) => {$(
        impl FromArg for $t {
            const WHAT: &'static str = "number";
            const HINT: Option<&'static str> = $hint;
            fn from_arg(s: &str) -> Option<Self> {
                parse_u64(s).and_then(|n| <$t>::try_from(n).ok())
            }
        }
    )*};
}
from_arg_uint!(
    u16 => Some("0..=65535"),
    u32 => Some("0..=4294967295"),
    u64 => None,
    usize => None
);

/// An exit status argument, `0..=255`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExitCode(pub u8);

impl FromArg for ExitCode {
    const WHAT: &'static str = "exit code";
    const HINT: Option<&'static str> = Some("0..=255");
    fn from_arg(s: &str) -> Option<Self> {
        parse_u64(s)
            .and_then(|n| u8::try_from(n).ok())
            .map(ExitCode)
    }
}

/// A duration argument (see [`parse_duration`]).
/// The longest duration any command takes (a sleep, a delay, a period, a timeout): one day.
/// Longer would be a typo or a hang nobody could wait out (a `sleep` of 584 years was taken).
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(86_400);

impl FromArg for Duration {
    const WHAT: &'static str = "duration";
    fn from_arg(s: &str) -> Option<Self> {
        parse_duration(s)
            .map(Duration::from_nanos)
            .filter(|&d| d <= MAX_DURATION)
    }
    fn why_invalid(s: &str) -> Option<&'static str> {
        parse_duration(s)
            .is_some()
            .then_some("at most 86400s, one day")
    }
}

impl FromArg for CrashKind {
    const WHAT: &'static str = "crash kind";
    const HINT: Option<&'static str> = Some("panic, fault, irq-fault or overflow");
    fn from_arg(s: &str) -> Option<Self> {
        match s {
            "panic" => Some(CrashKind::Panic),
            "fault" => Some(CrashKind::Fault),
            "irq-fault" => Some(CrashKind::IrqFault),
            "overflow" => Some(CrashKind::Overflow),
            _ => None,
        }
    }
}

fn parse_as<T: FromArg>(s: &str) -> Result<T, CmdError> {
    T::from_arg(s).ok_or_else(|| invalid(T::WHAT, T::why_invalid(s).or(T::HINT), s))
}

/// The error for an argument `s` that is not a valid `what` (one copy for every [`FromArg`]).
#[cold]
#[inline(never)]
fn invalid(what: &str, hint: Option<&str>, s: &str) -> CmdError {
    CmdError::usage(match hint {
        Some(hint) => format!("invalid {what} '{s}' (expected {hint})"),
        None => format!("invalid {what} '{s}'"),
    })
}

fn is_option_like(w: &str) -> bool {
    let mut chars = w.chars();
    chars.next() == Some('-')
        && chars
            .next()
            .is_some_and(|c| !c.is_ascii_digit() && c != '.')
}

/// A command's arguments (the words after the command name).
#[derive(Debug)]
pub(crate) struct Args<'a> {
    usage: &'static str,
    words: &'a [String],
    used: Vec<bool>,
    /// Index of the `--` word, or `words.len()`.
    opts_end: usize,
}

impl<'a> Args<'a> {
    /// `usage` is the command's usage line, quoted in "missing argument" errors.
    pub(crate) fn new(usage: &'static str, words: &'a [String]) -> Self {
        let opts_end = words.iter().position(|w| w == "--").unwrap_or(words.len());
        let mut used = vec![false; words.len()];
        if let Some(u) = used.get_mut(opts_end) {
            *u = true;
        }
        Self {
            usage,
            words,
            used,
            opts_end,
        }
    }

    /// Every word, verbatim, with no option processing (for `echo`-like commands).
    pub(crate) fn raw(&mut self) -> &'a [String] {
        self.used.iter_mut().for_each(|u| *u = true);
        self.words
    }

    /// Finds the unused option word `name` (or `name=value`) before `--`.
    fn find_option(&self, name: &str) -> Option<(usize, Option<&'a str>)> {
        let words: &'a [String] = self.words;
        words
            .iter()
            .take(self.opts_end)
            .enumerate()
            .find_map(|(i, w)| {
                if self.used[i] {
                    return None;
                }
                if w == name {
                    Some((i, None))
                } else {
                    w.strip_prefix(name)
                        .and_then(|r| r.strip_prefix('='))
                        .map(|v| (i, Some(v)))
                }
            })
    }

    /// Whether the value-less option `name` (e.g. `--all`, `-e`) is present; consumes it.
    pub(crate) fn flag(&mut self, name: &str) -> Result<bool, CmdError> {
        let Some((i, inline)) = self.find_option(name) else {
            return Ok(false);
        };
        if inline.is_some() {
            return Err(CmdError::usage(format!("option '{name}' takes no value")));
        }
        self.used[i] = true;
        self.once(name)?;
        Ok(true)
    }

    /// The value of option `name` (`--name value` or `--name=value`), parsed; consumes both.
    pub(crate) fn option<T: FromArg>(&mut self, name: &str) -> Result<Option<T>, CmdError> {
        let Some(value) = self.option_word(name)? else {
            return Ok(None);
        };
        let parsed = parse_as(value)?;
        self.once(name)?;
        Ok(Some(parsed))
    }

    /// The value word of option `name`, consumed with it (the non-generic part of
    /// [`Self::option`]).
    fn option_word(&mut self, name: &str) -> Result<Option<&'a str>, CmdError> {
        let Some((i, inline)) = self.find_option(name) else {
            return Ok(None);
        };
        self.used[i] = true;
        let value = match inline {
            Some(v) => v,
            None => {
                let words: &'a [String] = self.words;
                match words.get(i + 1) {
                    Some(v) if i + 1 < self.opts_end && !self.used[i + 1] => {
                        self.used[i + 1] = true;
                        v.as_str()
                    }
                    _ => return Err(CmdError::usage(format!("option '{name}' needs a value"))),
                }
            }
        };
        Ok(Some(value))
    }

    /// Fails if option `name` is still there (given twice).
    fn once(&self, name: &str) -> Result<(), CmdError> {
        match self.find_option(name) {
            Some(_) => Err(CmdError::usage(format!("option '{name}' given twice"))),
            None => Ok(()),
        }
    }

    /// The next positional word, if any. An option-like word here is an unknown option.
    fn next_word(&mut self) -> Result<Option<&'a str>, CmdError> {
        let words: &'a [String] = self.words;
        let Some(i) = self.used.iter().position(|u| !u) else {
            return Ok(None);
        };
        let w = words[i].as_str();
        if i < self.opts_end && is_option_like(w) {
            return Err(CmdError::usage(format!("unknown option '{w}'")));
        }
        self.used[i] = true;
        Ok(Some(w))
    }

    /// The next positional argument, parsed; `what` names it in the error if it is missing.
    pub(crate) fn next<T: FromArg>(&mut self, what: &str) -> Result<T, CmdError> {
        parse_as(self.word(what)?)
    }

    /// The next positional word, as is (no allocation); `what` names it in the error if it is
    /// missing.
    pub(crate) fn word(&mut self, what: &str) -> Result<&'a str, CmdError> {
        match self.next_word()? {
            Some(w) => Ok(w),
            None => Err(CmdError::usage(format!(
                "missing {what} (usage: {})",
                self.usage
            ))),
        }
    }

    /// The next positional word, as is, if there is one.
    pub(crate) fn word_opt(&mut self) -> Result<Option<&'a str>, CmdError> {
        self.next_word()
    }

    /// The next positional argument, parsed, if there is one.
    pub(crate) fn next_opt<T: FromArg>(&mut self) -> Result<Option<T>, CmdError> {
        self.next_word()?.map(parse_as).transpose()
    }

    /// All remaining positional arguments.
    #[cfg_attr(not(test), allow(dead_code))] // helper API for upcoming commands
    pub(crate) fn rest(&mut self) -> Result<Vec<&'a str>, CmdError> {
        let mut out = Vec::new();
        while let Some(w) = self.next_word()? {
            out.push(w);
        }
        Ok(out)
    }

    /// Fails on the first argument nobody took: an unknown option or an unexpected argument.
    pub(crate) fn finish(&mut self) -> Result<(), CmdError> {
        match self.next_word()? {
            Some(w) => Err(CmdError::usage(format!("unexpected argument '{w}'"))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn positional_and_finish() {
        let w = words("5 x");
        let mut a = Args::new("t <n> <s>", &w);
        assert_eq!(a.next::<u32>("<n>"), Ok(5));
        assert_eq!(a.next::<String>("<s>"), Ok("x".into()));
        assert_eq!(a.finish(), Ok(()));
        let mut a = Args::new("t <n>", &w);
        assert_eq!(a.next::<u32>("<n>"), Ok(5));
        assert_eq!(a.finish(), Err(CmdError::usage("unexpected argument 'x'")));
    }

    #[test]
    fn missing_and_invalid() {
        let w = words("");
        let mut a = Args::new("sleep <duration>", &w);
        let e = a.next::<Duration>("<duration>").unwrap_err();
        assert_eq!(e.msg, "missing <duration> (usage: sleep <duration>)");
        assert_eq!(e.status(), 2);
        let w = words("5xs 256 boom 70000");
        let mut a = Args::new("t", &w);
        assert_eq!(
            a.next::<Duration>("d").unwrap_err().msg,
            "invalid duration '5xs'"
        );
        assert_eq!(
            a.next::<ExitCode>("c").unwrap_err().msg,
            "invalid exit code '256' (expected 0..=255)"
        );
        assert_eq!(
            a.next::<CrashKind>("k").unwrap_err().msg,
            "invalid crash kind 'boom' (expected panic, fault, irq-fault or overflow)"
        );
        assert_eq!(
            a.next::<u16>("n").unwrap_err().msg,
            "invalid number '70000' (expected 0..=65535)"
        );
    }

    #[test]
    fn options_anywhere() {
        let w = words("a --count 3 b --name=x --all");
        let mut a = Args::new("t", &w);
        assert_eq!(a.flag("--all"), Ok(true));
        assert_eq!(a.flag("--none"), Ok(false));
        assert_eq!(a.option::<u32>("--count"), Ok(Some(3)));
        assert_eq!(a.option::<String>("--name"), Ok(Some("x".into())));
        assert_eq!(a.option::<u32>("--absent"), Ok(None));
        assert_eq!(a.rest(), Ok(vec!["a", "b"]));
        assert_eq!(a.finish(), Ok(()));
    }

    #[test]
    fn option_errors() {
        let w = words("--count");
        let mut a = Args::new("t", &w);
        assert_eq!(
            a.option::<u32>("--count").unwrap_err().msg,
            "option '--count' needs a value"
        );
        let w = words("--count x");
        let mut a = Args::new("t", &w);
        assert_eq!(
            a.option::<u32>("--count").unwrap_err().msg,
            "invalid number 'x' (expected 0..=4294967295)"
        );
        let w = words("--count 1 --count 2");
        let mut a = Args::new("t", &w);
        assert_eq!(
            a.option::<u32>("--count").unwrap_err().msg,
            "option '--count' given twice"
        );
        let w = words("--all=1");
        let mut a = Args::new("t", &w);
        assert_eq!(
            a.flag("--all").unwrap_err().msg,
            "option '--all' takes no value"
        );
        let w = words("--count -- 1");
        let mut a = Args::new("t", &w);
        assert_eq!(
            a.option::<u32>("--count").unwrap_err().msg,
            "option '--count' needs a value"
        );
    }

    #[test]
    fn unknown_options() {
        let w = words("--bogus");
        let mut a = Args::new("t", &w);
        assert_eq!(a.finish(), Err(CmdError::usage("unknown option '--bogus'")));
        let w = words("-x 1");
        let mut a = Args::new("t", &w);
        assert_eq!(a.next_opt::<u32>().unwrap_err().msg, "unknown option '-x'");
        // Negative numbers, a lone '-', and anything after '--' are positional.
        let w = words("-5 - -.5 -- --bogus");
        let mut a = Args::new("t", &w);
        assert_eq!(a.rest(), Ok(vec!["-5", "-", "-.5", "--bogus"]));
        assert_eq!(a.finish(), Ok(()));
    }

    #[test]
    fn raw_takes_everything() {
        let w = words("--x -- y");
        let mut a = Args::new("t", &w);
        assert_eq!(a.raw().len(), 3);
        assert_eq!(a.finish(), Ok(()));
    }
}
