//! The commands that end the shell or decide how it ends: `poweroff`, `reboot`, `exit`, `set`
//! (`set -e`) and `crash`.

use crate::args::{Args, CmdError, ExitCode};
use crate::ctx::{Command, Ctx};
use crate::system::{CrashKind, Exit};

/// The shell-ending commands, in `help` order.
pub(crate) const COMMANDS: &[Command] = &[
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
        usage: "set [-e|+e] [name=value...]",
        help: "stop scripts at the first failing command; set variables",
        long_help: "set -e: in non-terminal (script) mode, the first command that fails (non-zero\n\
                    status) ends the shell with that status; nothing after it runs.\n\
                    set +e: keep going after failures (the default).\n\
                    At an interactive terminal set -e is recorded but a failure does not end\n\
                    the shell. Without an argument, prints the current setting.\n\
                    set name=value: sets a variable, as `name=value` alone on a line does\n\
                    (`vars` lists them, `$name` or `${name}` reads one).",
        run: cmd_set,
    },
    Command {
        name: "crash",
        usage: "crash <panic|fault|irq-fault|overflow>",
        help: "crash the kernel on purpose (tests the fault path)",
        long_help: "Deliberately crashes the kernel to test the crash path: `panic` calls panic!,\n\
                    `fault` makes the CPU take a data abort, `irq-fault` the same from a\n\
                    hard-IRQ callback (an irq_work), `overflow` starts a kthread that recurses\n\
                    into its stack's guard page. The kernel prints KERNEL PANIC, the thread\n\
                    that was running (and whether in hard-IRQ context), and does not come back.",
        run: cmd_crash,
    },
];

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
    let assigns = args.rest()?;
    let mut pairs = alloc::vec::Vec::new();
    for word in assigns {
        match word.split_once('=') {
            Some((name, value)) if crate::script::syntax::is_name(name) => {
                pairs.push((name, value))
            }
            _ => {
                return Err(CmdError::usage(alloc::format!(
                    "expected name=value, got '{word}'"
                )));
            }
        }
    }
    args.finish()?;
    for (name, value) in &pairs {
        ctx.lang
            .set_var(name, (*value).into())
            .map_err(CmdError::runtime)?;
    }
    if !pairs.is_empty() && !on && !off {
        return Ok(0);
    }
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
    let kind: CrashKind = args.next("panic, fault, irq-fault or overflow")?;
    args.finish()?;
    writeln!(
        ctx,
        "crash: deliberate {}",
        match kind {
            CrashKind::Panic => "panic",
            CrashKind::Fault => "fault",
            CrashKind::IrqFault => "fault in hard-IRQ context",
            CrashKind::Overflow => "stack overflow",
        }
    );
    ctx.sys.crash(kind);
    Err(CmdError::runtime("the system survived the crash"))
}
