//! The command table and the built-in commands.
//!
//! Adding a command = one [`Command`] entry in [`COMMANDS`] plus a [`Handler`]:
//!
//! ```text
//! fn cmd_foo(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
//!     let verbose = args.flag("--verbose")?;
//!     let count: u32 = args.option("--count")?.unwrap_or(1);
//!     let target: String = args.next("<target>")?;
//!     args.finish()?; // unknown options / extra arguments -> usage error, before acting
//!     writeln!(ctx, "...");
//!     Ok(0)
//! }
//! ```
//!
//! A handler returns its exit status, or a [`CmdError`] which the dispatcher prints as
//! `error: <name>: <msg>` (status 1 for runtime errors, 2 for usage errors). Output goes through
//! `writeln!(ctx, ...)`, which turns `\n` into `\r\n`.

use alloc::format;
use core::fmt;

use crate::args::{Args, CmdError, Duration, ExitCode};
use crate::out::{Out, Sink};
use crate::parse::tokenize;
use crate::{CpuInfo, CrashKind, Exit, State, System};

/// A command handler: gets the context and the arguments, returns the exit status.
pub(crate) type Handler = fn(&mut Ctx<'_>, &mut Args<'_>) -> Result<u8, CmdError>;

/// One entry of the command table.
pub(crate) struct Command {
    /// What the user types.
    pub name: &'static str,
    /// Synopsis, e.g. `sleep <duration>`.
    pub usage: &'static str,
    /// One line for the `help` overview.
    pub help: &'static str,
    /// Details for `help <name>`; may be empty. Lines separated by `\n`.
    pub long_help: &'static str,
    /// The implementation.
    pub run: Handler,
}

/// What a handler can reach.
pub(crate) struct Ctx<'a> {
    out: Out<'a>,
    /// The kernel.
    pub sys: &'a mut dyn System,
    /// `$?` before this command.
    pub last_status: u8,
    /// Terminal (interactive) mode.
    pub interactive: bool,
    /// `set -e`; written back after the command.
    pub errexit: bool,
    /// Set to end the shell after this command.
    pub exit: Option<Exit>,
}

impl Ctx<'_> {
    /// Target of `write!`/`writeln!`: infallible, `\n` becomes `\r\n`.
    pub(crate) fn write_fmt(&mut self, args: fmt::Arguments<'_>) {
        let _ = fmt::Write::write_fmt(&mut self.out, args);
    }
}

/// Every command the shell knows, in `help` order.
pub(crate) static COMMANDS: &[Command] = &[
    Command {
        name: "help",
        usage: "help [command]",
        help: "list commands, or show details of one",
        long_help: "Without an argument, lists every command. With one, shows its usage and details.",
        run: cmd_help,
    },
    Command {
        name: "echo",
        usage: "echo [words...]",
        help: "print the words, separated by spaces",
        long_help: "Prints its arguments verbatim (no option processing), separated by single\n\
                    spaces, then a newline. `echo $?` prints the last exit status.",
        run: cmd_echo,
    },
    Command {
        name: "sleep",
        usage: "sleep <duration>",
        help: "wait for a while",
        long_help: "Blocks the shell for <duration>: a number with an optional fraction and a\n\
                    unit of ns, us, ms or s (no unit means seconds), e.g. 500us, 20ms, 2s, 1.5s.",
        run: cmd_sleep,
    },
    Command {
        name: "uptime",
        usage: "uptime",
        help: "time since boot",
        long_help: "Prints the time since boot as hours:minutes:seconds.milliseconds.",
        run: cmd_uptime,
    },
    Command {
        name: "cpus",
        usage: "cpus",
        help: "per-CPU state and interrupt counts",
        long_help: "One row per CPU: whether it is online, interrupts taken (all kinds), timer\n\
                    interrupts and software-generated interrupts (SGIs/IPIs).",
        run: cmd_cpus,
    },
    Command {
        name: "poweroff",
        usage: "poweroff [code]",
        help: "power the machine off",
        long_help: "Ends the shell and powers off. Under QEMU the exit status is <code>\n\
                    (0..=255, default 0).",
        run: cmd_poweroff,
    },
    Command {
        name: "reboot",
        usage: "reboot",
        help: "reset the machine",
        long_help: "",
        run: cmd_reboot,
    },
    Command {
        name: "exit",
        usage: "exit [code]",
        help: "end the shell (like poweroff)",
        long_help: "Ends the shell and powers off with <code> (0..=255, default: the last\n\
                    exit status, $?).",
        run: cmd_exit,
    },
    Command {
        name: "set",
        usage: "set [-e|+e]",
        help: "stop scripts at the first failing command",
        long_help: "set -e: in non-terminal (script) mode, the first command that fails (non-zero\n\
                    status) ends the shell with that status; nothing after it runs.\n\
                    set +e: keep going after failures (the default).\n\
                    At an interactive terminal set -e is recorded but a failure does not end\n\
                    the shell. Without an argument, prints the current setting.",
        run: cmd_set,
    },
    Command {
        name: "crash",
        usage: "crash <panic|fault>",
        help: "crash the kernel on purpose (tests the fault path)",
        long_help: "Deliberately crashes the kernel to test the crash path: `panic` calls panic!,\n\
                    `fault` makes the CPU take a data abort. The kernel prints KERNEL PANIC and\n\
                    does not come back.",
        run: cmd_crash,
    },
];

/// The table entry for `name`.
pub(crate) fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// Runs one input line; returns the exit the shell should take, if any.
pub(crate) fn execute(
    line: &str,
    state: &mut State,
    sink: &mut dyn Sink,
    sys: &mut dyn System,
    interactive: bool,
) -> Option<Exit> {
    let mut out = Out { sink };
    let words = match tokenize(line, state.last_status) {
        Ok(words) => words,
        Err(e) => {
            let _ = fmt::Write::write_fmt(&mut out, format_args!("error: {}\n", e.message()));
            return state.complete(2, interactive);
        }
    };
    let Some(name) = words.first() else {
        return None; // blank or comment line: $? unchanged
    };
    let Some(cmd) = find(name) else {
        let _ = fmt::Write::write_fmt(
            &mut out,
            format_args!("error: unknown command '{name}' (try 'help')\n"),
        );
        return state.complete(2, interactive);
    };
    let mut args = Args::new(cmd.usage, &words[1..]);
    let mut ctx = Ctx {
        out,
        sys,
        last_status: state.last_status,
        interactive,
        errexit: state.errexit,
        exit: None,
    };
    let status = match (cmd.run)(&mut ctx, &mut args) {
        Ok(status) => status,
        Err(e) => {
            writeln!(ctx, "error: {}: {}", cmd.name, e.msg);
            e.status()
        }
    };
    state.errexit = ctx.errexit;
    if let Some(exit) = ctx.exit {
        state.last_status = status;
        return Some(exit);
    }
    state.complete(status, interactive)
}

fn cmd_help(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let topic: Option<alloc::string::String> = args.next_opt()?;
    args.finish()?;
    match topic {
        None => {
            writeln!(ctx, "commands:");
            for c in COMMANDS {
                writeln!(ctx, "  {:<22} {}", c.usage, c.help);
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

fn cmd_echo(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    for (i, w) in args.raw().iter().enumerate() {
        if i > 0 {
            write!(ctx, " ");
        }
        write!(ctx, "{w}");
    }
    writeln!(ctx);
    Ok(0)
}

fn cmd_sleep(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let Duration(ns) = args.next("<duration>")?;
    args.finish()?;
    ctx.sys.sleep_ns(ns);
    Ok(0)
}

fn cmd_uptime(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    args.finish()?;
    let ns = ctx.sys.now_ns();
    let ms = ns / 1_000_000;
    let (h, m, s, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    writeln!(ctx, "up {h}:{m:02}:{s:02}.{ms:03}");
    Ok(0)
}

fn cmd_cpus(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    args.finish()?;
    writeln!(
        ctx,
        "{:>3}  {:<6}  {:>12}  {:>12}  {:>12}",
        "CPU", "ONLINE", "IRQS", "TIMER", "SGIS"
    );
    let Ctx { out, sys, .. } = ctx;
    sys.cpus(&mut |c: &CpuInfo| {
        let _ = fmt::Write::write_fmt(
            out,
            format_args!(
                "{:>3}  {:<6}  {:>12}  {:>12}  {:>12}\n",
                c.id,
                if c.online { "yes" } else { "no" },
                c.irqs,
                c.timer_irqs,
                c.sgis
            ),
        );
    });
    Ok(0)
}

fn cmd_poweroff(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let code = args.next_opt::<ExitCode>()?.map_or(0, |c| c.0);
    args.finish()?;
    ctx.exit = Some(Exit::Poweroff(code));
    Ok(code)
}

fn cmd_reboot(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    args.finish()?;
    ctx.exit = Some(Exit::Reboot);
    Ok(0)
}

fn cmd_exit(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let code = args
        .next_opt::<ExitCode>()?
        .map_or(ctx.last_status, |c| c.0);
    args.finish()?;
    ctx.exit = Some(Exit::Poweroff(code));
    Ok(code)
}

fn cmd_set(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let on = args.flag("-e")?;
    let off = args.flag("+e")?;
    args.finish()?;
    match (on, off) {
        (true, true) => return Err(CmdError::usage("-e and +e together")),
        (true, false) => ctx.errexit = true,
        (false, true) => ctx.errexit = false,
        (false, false) if ctx.errexit && ctx.interactive => {
            writeln!(ctx, "set -e (a failure does not end an interactive shell)");
        }
        (false, false) => writeln!(ctx, "set {}e", if ctx.errexit { '-' } else { '+' }),
    }
    Ok(0)
}

fn cmd_crash(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let kind: CrashKind = args.next("panic or fault")?;
    args.finish()?;
    writeln!(
        ctx,
        "crash: deliberate {}",
        match kind {
            CrashKind::Panic => "panic",
            CrashKind::Fault => "fault",
        }
    );
    ctx.sys.crash(kind);
    Err(CmdError::runtime("the system survived the crash"))
}
