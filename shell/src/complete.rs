//! Tab completion: what to insert, or which candidates to list, for a line and a cursor.
//!
//! The candidates come from the command table itself, so a new command completes without
//! anything added here: command names; subcommands (the words that follow `<cmd>` at the start
//! of its long-help lines, or the `<a|b|c>` choice in its usage); options (the `--x`/`-x` words of
//! the usage or of the subcommand's help line); and, where the usage names an argument `<t>`
//! (`<thread>`), `<work>`, `<wq>` or `<w>`, the live names of threads, works, workqueues or
//! kthread workers, which the caller supplies. Pure: host-tested without a terminal.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::ctx::Command;

/// Kinds of live names an argument can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameKind {
    Thread,
    Work,
    Workqueue,
    Worker,
}

/// What Tab does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Completion {
    /// Insert this at the cursor.
    Insert(String),
    /// Several candidates share nothing more: show them (on a second Tab).
    List(Vec<String>),
    /// Nothing to complete.
    Nothing,
}

/// Language keywords, completed where a command starts.
const KEYWORDS: &[&str] = &[
    "if", "then", "elif", "else", "fi", "while", "until", "for", "repeat", "do", "done",
];

/// The completion at `cursor` (a char index) in `line`; `second` is a Tab right after a Tab
/// that completed nothing. `names` lists live names of a kind.
pub(crate) fn complete(
    table: &[Command],
    line: &str,
    cursor: usize,
    second: bool,
    names: &dyn Fn(NameKind) -> Vec<String>,
) -> Completion {
    let before: String = line.chars().take(cursor).collect();
    // The current command: after the last `;`, `&&`, `||` or `do`/`then`-style keyword start.
    let segment = before.rsplit([';', '&', '|']).next().unwrap_or(&before);
    let mut words: Vec<&str> = segment.split_whitespace().collect();
    let current = if segment.ends_with(char::is_whitespace) || segment.is_empty() {
        ""
    } else {
        words.pop().unwrap_or("")
    };
    // Keywords that start a command: what follows them is a command again.
    while words.first().is_some_and(|w| {
        matches!(*w, "then" | "else" | "do" | "!" | "{") || KEYWORDS.contains(w) && *w == "if"
    }) {
        words.remove(0);
    }
    let candidates: Vec<String> = match words.first() {
        None => table
            .iter()
            .map(|c| c.name)
            .chain(KEYWORDS.iter().copied())
            .map(ToString::to_string)
            .collect(),
        Some(&name) => match table.iter().find(|c| c.name == name) {
            Some(cmd) => arguments(cmd, &words[1..], current, names),
            None => Vec::new(),
        },
    };
    choose(candidates, current, second)
}

/// The subcommands of `cmd`: `<a|b|c>` first in its usage, else the words after its name at
/// the start of its long-help lines.
fn subcommands(cmd: &Command) -> Vec<String> {
    let mut usage = cmd.usage.split_whitespace().skip(1);
    if let Some(first) = usage.next()
        && let Some(alts) = first.strip_prefix('<').and_then(|f| f.strip_suffix('>'))
        && alts.contains('|')
    {
        return alts.split('|').map(ToString::to_string).collect();
    }
    let prefix = alloc::format!("{} ", cmd.name);
    let mut subs: Vec<String> = Vec::new();
    for line in cmd.long_help.lines() {
        for part in line.split("; ") {
            if let Some(rest) = part.trim_start().strip_prefix(&prefix)
                && let Some(word) = rest.split([' ', ':', '.']).next()
                && !word.is_empty()
                && word.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                && !subs.iter().any(|s| s == word)
            {
                subs.push(word.to_string());
            }
        }
    }
    subs
}

/// The signature text for `cmd` (and its subcommand `sub`): the usage, or the help lines of
/// that subcommand.
fn signature(cmd: &Command, sub: Option<&str>) -> String {
    let Some(sub) = sub else {
        return cmd.usage.to_string();
    };
    let head = alloc::format!("{} {sub}", cmd.name);
    let mut out = String::new();
    for line in cmd.long_help.lines() {
        for part in line.split("; ") {
            let p = part.trim_start();
            if p.starts_with(&head) && p[head.len()..].starts_with([' ', ':', '.']) || p == head {
                out.push_str(p.split(':').next().unwrap_or(p));
                out.push(' ');
            }
        }
    }
    out
}

fn arguments(
    cmd: &Command,
    args: &[&str],
    current: &str,
    names: &dyn Fn(NameKind) -> Vec<String>,
) -> Vec<String> {
    let subs = subcommands(cmd);
    if !subs.is_empty() && args.is_empty() && !current.starts_with('-') {
        return subs;
    }
    let sub = (!subs.is_empty()).then(|| args.first().copied()).flatten();
    let sig = signature(cmd, sub);
    let tokens: Vec<&str> = sig.split_whitespace().collect();
    if current.starts_with('-') {
        // The usage's options, and for a command without subcommands its help's too.
        let help = if sub.is_none() { cmd.long_help } else { "" };
        let mut opts: Vec<String> = Vec::new();
        for t in tokens
            .iter()
            .chain(help.split_whitespace().collect::<Vec<_>>().iter())
        {
            let t = t.trim_matches(['[', ']', '|', ',', '(', ')', ':', '.', ';']);
            for o in t.split('|') {
                let o = o.split('=').next().unwrap_or(o);
                let valid = o.len() > 1
                    && o.starts_with('-')
                    && o[1..]
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-');
                if valid && !opts.iter().any(|x| x == o) {
                    opts.push(o.to_string());
                }
            }
        }
        return opts;
    }
    // Positional placeholders, after the command (and subcommand) name.
    let skip = if sub.is_some() { 2 } else { 1 };
    let positional: Vec<&str> = tokens
        .iter()
        .skip(skip)
        .filter(|t| t.starts_with('<'))
        .copied()
        .collect();
    let given = args
        .iter()
        .skip(usize::from(sub.is_some()))
        .filter(|a| !a.starts_with('-'))
        .count();
    let Some(slot) = positional.get(given) else {
        return Vec::new();
    };
    let inner = slot.trim_matches(['<', '>', '.', '[', ']']);
    let kind = match inner {
        "t" | "thread" => Some(NameKind::Thread),
        "work" => Some(NameKind::Work),
        "wq" => Some(NameKind::Workqueue),
        "w" | "worker" | "kw" => Some(NameKind::Worker),
        _ => None,
    };
    match kind {
        Some(k) => names(k),
        None if inner.contains('|') => inner.split('|').map(ToString::to_string).collect(),
        None => Vec::new(),
    }
}

/// Narrows `candidates` to those starting with `current` and decides.
fn choose(mut candidates: Vec<String>, current: &str, second: bool) -> Completion {
    candidates.retain(|c| c.starts_with(current));
    candidates.sort();
    candidates.dedup();
    match candidates.as_slice() {
        [] => Completion::Nothing,
        [one] => Completion::Insert(alloc::format!("{} ", &one[current.len()..])),
        many => {
            let first = &many[0];
            let common = many.iter().fold(first.len(), |n, c| {
                first
                    .char_indices()
                    .zip(c.chars())
                    .take_while(|((_, a), b)| a == b)
                    .last()
                    .map_or(0, |((i, a), _)| (i + a.len_utf8()).min(n))
            });
            if common > current.len() {
                Completion::Insert(first[current.len()..common].to_string())
            } else if second {
                Completion::List(candidates)
            } else {
                Completion::Nothing
            }
        }
    }
}

/// The live names of a kind, from the kernel and the shell's registries.
pub(crate) fn live_names(kind: NameKind) -> Vec<String> {
    use crate::work::registry::{WORKERS, WORKS, WQS};
    match kind {
        NameKind::Thread => rtos::kthread::list()
            .iter()
            .map(|t| t.name().to_string())
            .collect(),
        NameKind::Work => WORKS.lock().values().map(|e| e.name.clone()).collect(),
        NameKind::Workqueue => WQS.lock().values().map(|w| w.name().to_string()).collect(),
        NameKind::Worker => WORKERS
            .lock()
            .values()
            .map(|w| w.name().to_string())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::COMMANDS;

    fn names(kind: NameKind) -> Vec<String> {
        match kind {
            NameKind::Thread => ["shell", "spinner", "sleeper1", "kthreadd"],
            NameKind::Work => ["w1", "w2", "other", "x"],
            NameKind::Workqueue => ["events", "ev2", "q", "z"],
            NameKind::Worker => ["kw", "kx", "ky", "kz"],
        }
        .map(String::from)
        .to_vec()
    }

    fn tab(line: &str) -> Completion {
        complete(COMMANDS, line, line.chars().count(), false, &names)
    }

    fn tab2(line: &str) -> Completion {
        complete(COMMANDS, line, line.chars().count(), true, &names)
    }

    fn ins(s: &str) -> Completion {
        Completion::Insert(s.into())
    }

    #[test]
    fn commands() {
        assert_eq!(tab("sp"), ins("awn "));
        assert_eq!(tab("  unp"), ins("ark "));
        assert_eq!(
            tab("s"),
            Completion::Nothing,
            "set, sleep, spawn, stop, stress"
        );
        let Completion::List(l) = tab2("st") else {
            panic!("a list")
        };
        assert_eq!(l, ["stop", "stress"]);
        assert_eq!(tab("bogus"), Completion::Nothing);
        assert_eq!(tab("whi"), ins("le "));
        assert_eq!(tab("echo a; pa"), ins("rk "));
        assert_eq!(tab("if tru"), ins("e "));
    }

    #[test]
    fn thread_names_where_a_thread_goes() {
        assert_eq!(tab("park sp"), ins("inner "));
        assert_eq!(tab("park s"), Completion::Nothing);
        let Completion::List(l) = tab2("park s") else {
            panic!("a list")
        };
        assert_eq!(l, ["shell", "sleeper1", "spinner"]);
        assert_eq!(tab("stop k"), ins("threadd "));
        assert_eq!(tab("bind sp"), ins("inner "));
        // The second argument of bind is a CPU: nothing to offer.
        assert_eq!(tab("bind spinner "), Completion::Nothing);
        assert_eq!(tab("wait sp"), ins("inner "));
    }

    #[test]
    fn subcommands_options_and_their_names() {
        assert_eq!(tab("wq cr"), ins("eate "));
        assert_eq!(tab("wq flush-"), ins("work "));
        assert_eq!(tab("kworker qu"), ins("eue "));
        assert_eq!(tab("trace st"), Completion::Nothing, "start, stats, stop");
        assert_eq!(tab("cpu off"), ins("line "));
        assert_eq!(tab("wq queue e"), ins("v"), "events and ev2 share 'ev'");
        assert_eq!(tab("wq queue events o"), ins("ther "));
        assert_eq!(
            tab("kworker queue kz "),
            Completion::Nothing,
            "a work name: 4 of them"
        );
        assert_eq!(tab("kworker queue kz o"), ins("ther "));
        assert_eq!(tab("spawn counter c --pr"), ins("io "));
        assert_eq!(tab("wq create q --si"), ins("ngle "));
        assert_eq!(tab("park spinner --t"), ins("imeout "));
        assert_eq!(tab("ps --js"), ins("on "));
    }

    #[test]
    fn common_prefix_and_unicode() {
        let names = |_: NameKind| ["日本語a", "日本語b"].map(String::from).to_vec();
        assert_eq!(
            complete(COMMANDS, "park 日", 6, false, &names),
            Completion::Insert("本語".into())
        );
        // The cursor in the middle: only the text before it counts.
        assert_eq!(
            complete(COMMANDS, "sp xyz", 2, false, &super::tests::names),
            ins("awn ")
        );
    }
}
