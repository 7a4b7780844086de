//! `expect` (assertions on output, for scripts and CI) and `dmesg` (the kernel log).
//!
//! The shell keeps the last [`OUTPUT_KEEP`] bytes of each command's output (not `expect`'s own,
//! so that several `expect`s check the same command); `expect <regex>` passes if the regex
//! matches there. With `--timeout D` it also watches the kernel log (`rtos::console`: lines from
//! threads, klogd and the watchdog) for lines printed after it started, up to D. A failure names
//! the script line, so a CI log says which assertion broke.

use alloc::format;
use alloc::string::String;
use core::time::Duration;

use crate::args::{Args, CmdError};
use crate::ctx::{Command, Ctx, INTERRUPTED};
use crate::util::json::{self, Obj};
use crate::util::regex::Regex;

/// Bytes of a command's output that `expect` can see (its end).
pub(crate) const OUTPUT_KEEP: usize = 4096;

/// The commands, in `help` order.
pub(crate) const COMMANDS: &[Command] = &[
    Command {
        name: "expect",
        usage: "expect <regex> [--timeout D]",
        help: "fail unless the previous command's output matches (for scripts and CI)",
        long_help: "Status 0 if <regex> matches somewhere in the last 4 KiB of the previous\n\
                    command's output (\\r removed; `.` does not match a line end; ^ and $ match at\n\
                    line starts and ends). Otherwise status 1 and\n\
                    `error: expect: line N: no match for '<regex>' ...`, N being the script line\n\
                    (under set -e the script ends there). --timeout D: also wait up to D for a\n\
                    kernel console line (threads, klogd, the watchdog) that matches; Ctrl-C ends\n\
                    the wait with 130. `expect` itself is not a command's output: two in a row\n\
                    check the same command. Syntax: . [a-z] [^...] \\d \\w \\s ^ $ * + ? {m,n} | ( )\n\
                    and a leading (?i), on bytes (ASCII classes), e.g. 'result [0-9]+$',\n\
                    'cpus: 4/4', '(?i)done'. A bad regex is a usage error.",
        run: cmd_expect,
    },
    Command {
        name: "dmesg",
        usage: "dmesg [-c] [--json]",
        help: "the kernel log: console lines from threads, klogd and the watchdog",
        long_help: "Prints the kernel log ring (the last 8 KiB of lines) as `[seconds] text`,\n\
                    after a line saying how many older lines fell out, if any. -c empties it\n\
                    after printing. --json: {\"dropped\":N,\"lines\":[{\"seq\",\"ns\",\"text\"}]}.",
        run: cmd_dmesg,
    },
];

/// Compiles an `expect` pattern (syntax: `util::regex`); a bad one is a usage error.
fn compile(pattern: &str) -> Result<Regex, CmdError> {
    Regex::new(pattern).map_err(|e| CmdError::usage(format!("bad regex '{pattern}': {e}")))
}

fn cmd_expect(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let timeout: Option<Duration> = args.option("--timeout")?;
    let pattern = args.word("<regex>")?;
    args.finish()?;
    let re = compile(pattern)?;
    if re.is_match(ctx.lang.output.as_slice()) {
        return Ok(0);
    }
    if let Some(t) = timeout {
        let start = ctx.lang.expect_from;
        let end = ctx.sys.uptime() + t;
        let mut from = start;
        loop {
            let mut hit = false;
            let (next, _) =
                rtos::console::log_since(from, |l| hit |= re.is_match(l.text.as_bytes()));
            if hit {
                return Ok(0);
            }
            from = next;
            if ctx.interrupted() {
                return Ok(INTERRUPTED);
            }
            let now = ctx.sys.uptime();
            if now >= end {
                break;
            }
            ctx.sys.sleep((end - now).min(Duration::from_millis(10)));
        }
    }
    let line = ctx.lang.line;
    let within = match timeout {
        Some(t) => format!(
            " or in the kernel log within {}",
            crate::util::show_duration(t)
        ),
        None => String::new(),
    };
    Err(CmdError::runtime(format!(
        "line {line}: no match for '{pattern}' in the previous command's output{within}"
    )))
}

fn cmd_dmesg(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let clear = args.flag("-c")?;
    let as_json = args.flag("--json")?;
    args.finish()?;
    let mut lines = alloc::vec::Vec::new();
    let (_, dropped) = rtos::console::log_since(0, |l| lines.push(l.clone()));
    if as_json {
        let items: alloc::vec::Vec<String> = lines
            .iter()
            .map(|l| {
                Obj::new()
                    .num("seq", l.seq)
                    .num("ns", l.ns)
                    .str("text", &l.text)
                    .done()
            })
            .collect();
        let doc = Obj::new()
            .num("dropped", dropped)
            .raw("lines", &json::array(items))
            .done();
        writeln!(ctx, "{doc}");
    } else {
        if dropped > 0 {
            writeln!(ctx, "({dropped} older lines fell out of the log)");
        }
        for l in &lines {
            let (s, us) = (l.ns / 1_000_000_000, l.ns / 1_000 % 1_000_000);
            writeln!(ctx, "[{s:5}.{us:06}] {}", l.text);
        }
    }
    if clear {
        rtos::console::log_clear();
    }
    Ok(0)
}
