//! The language's own commands: `test`/`[`, `true`, `false`, `break`, `continue`, `return`,
//! `unset` and `vars`. (`set name=value` is in `machine.rs` with `set -e`.)

use alloc::format;
use alloc::string::String;

use super::Flow;
use super::arith::parse_int;
use crate::args::{Args, CmdError, ExitCode};
use crate::ctx::{Command, Ctx};

/// The table entries, in `help` order.
pub(crate) const COMMANDS: &[Command] = &[
    Command {
        name: "test",
        usage: "test <expression>",
        help: "compare numbers or strings: status 0 if true, 1 if false",
        long_help: TEST_HELP,
        run: cmd_test,
    },
    Command {
        name: "[",
        usage: "[ <expression> ]",
        help: "the same as test, closed by ]",
        long_help: TEST_HELP,
        run: cmd_bracket,
    },
    Command {
        name: "true",
        usage: "true",
        help: "do nothing, successfully (status 0)",
        long_help: "",
        run: cmd_true,
    },
    Command {
        name: ":",
        usage: ": [words...]",
        help: "the same as true",
        long_help: "",
        run: cmd_true,
    },
    Command {
        name: "false",
        usage: "false",
        help: "do nothing, unsuccessfully (status 1)",
        long_help: "",
        run: cmd_false,
    },
    Command {
        name: "break",
        usage: "break [n]",
        help: "leave the innermost loop (or n loops)",
        long_help: "Only inside while, until, for and repeat loops (not across a function call).",
        run: cmd_break,
    },
    Command {
        name: "continue",
        usage: "continue [n]",
        help: "start the next round of the innermost loop (or of the n-th)",
        long_help: "Only inside while, until, for and repeat loops (not across a function call).",
        run: cmd_continue,
    },
    Command {
        name: "return",
        usage: "return [status]",
        help: "leave the running function",
        long_help: "The function's status is <status>, or that of the last command run.",
        run: cmd_return,
    },
    Command {
        name: "unset",
        usage: "unset <name>...",
        help: "remove variables or functions",
        long_help: "Status 1 if one of the names was neither a variable nor a function.",
        run: cmd_unset,
    },
    Command {
        name: "history",
        usage: "history [n]",
        help: "the lines typed at the terminal, numbered (the last n)",
        long_help: "Keeps the last 100 lines typed at the terminal (not a script's). Up and down\n\
                    (or Ctrl-P / Ctrl-N) bring them back into the line being edited.",
        run: cmd_history,
    },
    Command {
        name: "vars",
        usage: "vars",
        help: "list variables and functions",
        long_help: "Prints `name=value` per variable (in the order they were first set), then\n\
                    `name()` per function.",
        run: cmd_vars,
    },
];

const TEST_HELP: &str = "Numbers (decimal or 0x, optional sign): A -eq B, -ne, -lt, -le, -gt, -ge.\n\
     Strings: A = B, A != B, -z A (empty), -n A (not empty), A alone (not empty).\n\
     Combine with ! (not), -a (and), -o (or; -a binds tighter). Status 0 if true,\n\
     1 if false, 2 for a malformed expression or a word that is not a number.\n\
     Example: if [ $i -lt 10 ]; then echo small; fi";

fn cmd_test(_ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let words = args.raw();
    Ok(u8::from(!eval(words)?))
}

fn cmd_bracket(_ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let words = args.raw();
    let Some((_, inner)) = words.split_last().filter(|(l, _)| *l == "]") else {
        return Err(CmdError::usage("missing ']'"));
    };
    Ok(u8::from(!eval(inner)?))
}

/// A `test` expression: `expr := and ('-o' and)*`, `and := not ('-a' not)*`,
/// `not := '!' not | primary`.
fn eval(words: &[String]) -> Result<bool, CmdError> {
    if words.is_empty() {
        return Ok(false);
    }
    let mut pos = 0;
    let v = or(words, &mut pos)?;
    match words.get(pos) {
        None => Ok(v),
        Some(w) => Err(CmdError::usage(format!("unexpected '{w}'"))),
    }
}

fn or(w: &[String], pos: &mut usize) -> Result<bool, CmdError> {
    let mut v = and(w, pos)?;
    while w.get(*pos).is_some_and(|s| s == "-o") {
        *pos += 1;
        v |= and(w, pos)?;
    }
    Ok(v)
}

fn and(w: &[String], pos: &mut usize) -> Result<bool, CmdError> {
    let mut v = not(w, pos, 0)?;
    while w.get(*pos).is_some_and(|s| s == "-a") {
        *pos += 1;
        v &= not(w, pos, 0)?;
    }
    Ok(v)
}

fn not(w: &[String], pos: &mut usize, depth: usize) -> Result<bool, CmdError> {
    // A '!' followed by a binary operator is the string "!" being compared.
    if w.get(*pos).is_some_and(|s| s == "!") && !w.get(*pos + 1).is_some_and(|s| is_binary(s)) {
        if depth > 64 {
            return Err(CmdError::usage("too many '!'"));
        }
        *pos += 1;
        return Ok(!not(w, pos, depth + 1)?);
    }
    primary(w, pos)
}

fn is_binary(op: &str) -> bool {
    matches!(
        op,
        "=" | "==" | "!=" | "-eq" | "-ne" | "-lt" | "-le" | "-gt" | "-ge"
    )
}

fn number(s: &str) -> Result<i64, CmdError> {
    parse_int(s).ok_or_else(|| CmdError::usage(format!("'{s}' is not a number")))
}

fn primary(w: &[String], pos: &mut usize) -> Result<bool, CmdError> {
    let Some(first) = w.get(*pos) else {
        return Err(CmdError::usage("expression ends too early"));
    };
    if let Some(op) = w.get(*pos + 1).filter(|op| is_binary(op)) {
        let Some(rhs) = w.get(*pos + 2) else {
            return Err(CmdError::usage(format!("'{op}' needs a right-hand side")));
        };
        *pos += 3;
        return Ok(match op.as_str() {
            "=" | "==" => first == rhs,
            "!=" => first != rhs,
            _ => {
                let (a, b) = (number(first)?, number(rhs)?);
                match op.as_str() {
                    "-eq" => a == b,
                    "-ne" => a != b,
                    "-lt" => a < b,
                    "-le" => a <= b,
                    "-gt" => a > b,
                    _ => a >= b,
                }
            }
        });
    }
    if let Some(op @ ("<" | ">" | "<=" | ">=")) = w.get(*pos + 1).map(String::as_str) {
        return Err(CmdError::usage(format!(
            "unknown operator '{op}' (numbers: -lt -le -gt -ge)"
        )));
    }
    match first.as_str() {
        "-z" | "-n" if *pos + 1 < w.len() => {
            let empty = w[*pos + 1].is_empty();
            *pos += 2;
            Ok(if first == "-z" { empty } else { !empty })
        }
        _ => {
            *pos += 1;
            Ok(!first.is_empty())
        }
    }
}

fn cmd_true(_ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    args.raw();
    Ok(0)
}

fn cmd_false(_ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    args.raw();
    Ok(1)
}

/// `break`/`continue`'s level: 1 by default, at most the loops there are.
fn levels(ctx: &Ctx<'_>, args: &mut Args<'_>, what: &str) -> Result<u32, CmdError> {
    let n: Option<u32> = args.next_opt()?;
    args.finish()?;
    if n == Some(0) {
        return Err(CmdError::usage("the loop count must be 1 or more"));
    }
    if ctx.lang.loops == 0 {
        return Err(CmdError::runtime(format!("{what} outside a loop")));
    }
    Ok(n.unwrap_or(1).min(ctx.lang.loops))
}

fn cmd_break(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let n = levels(ctx, args, "break")?;
    ctx.lang.flow = Some(Flow::Break(n));
    Ok(0)
}

fn cmd_continue(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let n = levels(ctx, args, "continue")?;
    ctx.lang.flow = Some(Flow::Continue(n));
    Ok(0)
}

fn cmd_return(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let status = args
        .next_opt::<ExitCode>()?
        .map_or(ctx.last_status, |c| c.0);
    args.finish()?;
    if ctx.lang.calls == 0 {
        return Err(CmdError::runtime("return outside a function"));
    }
    ctx.lang.flow = Some(Flow::Return);
    Ok(status)
}

fn cmd_unset(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let names = args.rest()?;
    args.finish()?;
    if names.is_empty() {
        return Err(CmdError::usage("missing <name>"));
    }
    let mut status = 0;
    for name in names {
        if !ctx.lang.unset(name) {
            writeln!(ctx, "error: unset: no variable or function '{name}'");
            status = 1;
        }
    }
    Ok(status)
}

fn cmd_vars(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    args.finish()?;
    let lang = &*ctx.lang;
    let mut text = String::new();
    for (name, value) in lang.vars() {
        text.push_str(&format!("{name}={}\n", crate::script::quote(value)));
    }
    for name in lang.functions() {
        text.push_str(&format!("{name}()\n"));
    }
    write!(ctx, "{text}");
    Ok(0)
}

fn cmd_history(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let n: Option<usize> = args.next_opt()?;
    args.finish()?;
    let all = ctx.lang.history.len();
    let skip = all.saturating_sub(n.unwrap_or(all));
    let mut text = String::new();
    for (i, line) in ctx.lang.history.iter().enumerate().skip(skip) {
        text.push_str(&format!("{:5}  {line}\n", i + 1));
    }
    write!(ctx, "{text}");
    Ok(0)
}
