//! The command table: [`COMMANDS`], every command module's own table in `help` order, and what
//! runs it: [`execute`] (one input line) and the `help` command, which reads the table.

use alloc::format;
use core::fmt;

use crate::args::{Args, CmdError};
use crate::ctx::{Command, Ctx};
use crate::out::{Out, Sink};
use crate::script::State;
use crate::script::exec::{Run, Stop};
use crate::script::{Feed, MAX_BLOCK};
use crate::system::{Exit, System};

/// `help`, the registry's own command.
const HELP: &[Command] = &[Command {
    name: "help",
    usage: "help [command]",
    help: "list commands, or show details of one",
    long_help: "Without an argument, lists every command. With one, shows its usage and details.",
    run: cmd_help,
}];

/// `time`, which runs another command of the table (so it lives here, with the dispatcher).
pub(crate) const TIME: &[Command] = &[Command {
    name: "time",
    usage: "time <command> [args...]",
    help: "run a command and print its wall time and status",
    long_help: "Runs <command> with its arguments, then prints `time: <wall time>, status <n>`;\n\
                its status is the command's (130 if Ctrl-C ended it).",
    run: cmd_time,
}];

/// Width of the usage column in `help`.
const HELP_USAGE_WIDTH: usize = 30;

/// The tables, in `help` order.
const TABLES: &[&[Command]] = &[
    HELP,
    crate::basic::COMMANDS,
    TIME,
    crate::script::builtins::COMMANDS,
    crate::kthreads::spawn::COMMANDS,
    crate::kthreads::ps::COMMANDS,
    crate::top::COMMANDS,
    crate::kthreads::control::COMMANDS,
    crate::work::list::COMMANDS,
    crate::work::irqwork::COMMANDS,
    crate::work::taskwork::COMMANDS,
    crate::work::wq::COMMANDS,
    crate::work::kworker::COMMANDS,
    #[cfg(feature = "bench")]
    crate::bench::COMMANDS,
    crate::work::list::TIMERS,
    crate::trace::COMMANDS,
    crate::watchdog::COMMANDS,
    crate::mem::COMMANDS,
    crate::inject::COMMANDS,
    crate::stress::COMMANDS,
    crate::expect::COMMANDS,
    crate::reload::COMMANDS,
    crate::machine::COMMANDS,
];

/// Every command the shell knows, in `help` order.
pub(crate) static COMMANDS: &[Command] = &concat::<{ count(TABLES) }>(TABLES);

/// How many entries `tables` hold together.
const fn count(tables: &[&[Command]]) -> usize {
    let (mut n, mut i) = (0, 0);
    while i < tables.len() {
        n += tables[i].len();
        i += 1;
    }
    n
}

/// `tables` as one array (at compile time: [`COMMANDS`] is one table in the image).
const fn concat<const N: usize>(tables: &[&[Command]]) -> [Command; N] {
    let mut all = [HELP[0]; N];
    let (mut i, mut k) = (0, 0);
    while i < tables.len() {
        let mut j = 0;
        while j < tables[i].len() {
            all[k] = tables[i][j];
            (j, k) = (j + 1, k + 1);
        }
        i += 1;
    }
    all
}

/// The table entry for `name`.
pub(crate) fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// Takes one input line: runs it, or the construct it completes; returns the exit the shell
/// should take, if any. A line that leaves a construct open is kept (the session shows the
/// continuation prompt, see [`State::lang`]).
pub(crate) fn execute(
    line: &str,
    state: &mut State,
    sink: &mut dyn Sink,
    sys: &mut dyn System,
    interactive: bool,
) -> Option<Exit> {
    // Hard-IRQ log lines wait until this command's output is complete (printed before the
    // next prompt, when this guard drops).
    let _quiet = crate::work::klogd::quiet();
    let (list, base) = match state.lang.feed(line) {
        Feed::More => return None,
        Feed::Run(list, base) => (list, base),
        Feed::TooLong => {
            error(
                sink,
                format_args!("construct too long (max {MAX_BLOCK} bytes); dropped"),
            );
            return state.complete(2, interactive);
        }
        Feed::Syntax(at, msg, one_line) => {
            if one_line {
                error(sink, format_args!("{msg}"));
            } else {
                error(sink, format_args!("line {at}: {msg}"));
            }
            return state.complete(2, interactive);
        }
    };
    if list.is_empty() {
        return None; // blank or comment line: $? unchanged
    }
    let result = Run {
        state: &mut *state,
        sink,
        sys,
        interactive,
        base,
        find,
    }
    .list(&list, true);
    match result {
        Ok(_) | Err(Stop::Break(_) | Stop::Continue(_) | Stop::Return) => None,
        Err(Stop::Interrupt) => state.complete(crate::ctx::INTERRUPTED, interactive),
        Err(Stop::Exit(exit)) => Some(exit),
    }
}

/// The input ended: an unfinished construct is an error (status 2).
pub(crate) fn end_of_input(state: &mut State, sink: &mut dyn Sink) {
    if state.lang.continuing() {
        state.lang.cancel();
        error(
            sink,
            format_args!("end of input inside an unfinished construct"),
        );
        state.last_status = 2;
    }
}

/// Prints `error: <msg>`.
fn error(sink: &mut dyn Sink, msg: fmt::Arguments<'_>) {
    let mut out = Out { sink };
    let _ = fmt::Write::write_fmt(&mut out, format_args!("error: {msg}\n"));
}

fn cmd_help(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let topic: Option<alloc::string::String> = args.next_opt()?;
    args.finish()?;
    match topic {
        None => {
            writeln!(ctx, "commands:");
            // One column for the usages; a longer one puts its text on the next line, in the
            // same column, so the texts stay aligned.
            for c in COMMANDS {
                if c.usage.chars().count() <= HELP_USAGE_WIDTH {
                    writeln!(ctx, "  {:<HELP_USAGE_WIDTH$} {}", c.usage, c.help);
                } else {
                    writeln!(ctx, "  {}", c.usage);
                    writeln!(ctx, "  {:<HELP_USAGE_WIDTH$} {}", "", c.help);
                }
            }
            writeln!(
                ctx,
                "Quote with '...' or \"...\", escape with \\, # starts a comment, $? is the last\n\
                 exit status. 'help <command>' shows details."
            );
        }
        Some(topic) => {
            let c = find(&topic)
                .ok_or_else(|| CmdError::usage(format!("unknown command '{topic}'")))?;
            writeln!(ctx, "usage: {}", c.usage);
            writeln!(ctx, "{}", c.help);
            if !c.long_help.is_empty() {
                writeln!(ctx, "{}", c.long_help);
            }
        }
    }
    Ok(0)
}

/// `time <command> [args...]`: runs it as the dispatcher would (errors as `error: <name>: ...`).
fn cmd_time(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let words = args.raw();
    let Some(name) = words.first() else {
        return Err(CmdError::usage("missing <command>"));
    };
    let Some(cmd) = find(name) else {
        return Err(CmdError::usage(format!(
            "unknown command '{name}' (try 'help')"
        )));
    };
    let start = ctx.sys.uptime();
    let mut inner = Args::new(cmd.usage, &words[1..]);
    let status = match (cmd.run)(ctx, &mut inner) {
        Ok(status) => status,
        Err(e) => {
            writeln!(ctx, "error: {}: {}", cmd.name, e.msg);
            e.status()
        }
    };
    let wall = ctx.sys.uptime().saturating_sub(start);
    writeln!(
        ctx,
        "time: {}, status {status}",
        crate::util::show_duration(wall)
    );
    Ok(status)
}
