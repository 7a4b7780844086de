//! The command table and the built-in commands.
//!
//! Adding a command = one [`Command`] entry in [`COMMANDS`] plus a [`Handler`]:
//!
//! ```text
//! fn cmd_foo(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
//!     let verbose = args.flag("--verbose")?;
//!     let count: u32 = args.option("--count")?.unwrap_or(1);
//!     let target = args.word("<target>")?; // or args.next::<T>() to parse
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
use crate::system::{CpuInfo, CrashKind, Exit, State, System};
use crate::{bench, kthreads, stress, work};

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
                    interrupts, software-generated interrupts (SGIs/IPIs), irq_work SGIs (SGI 2,\n\
                    also counted in SGIS) and irq_work callbacks run.",
        run: cmd_cpus,
    },
    Command {
        name: "uart",
        usage: "uart",
        help: "console UART statistics (receive errors)",
        long_help: "The console UART: driver, speed, receive errors (bytes the hardware reported\n\
                    overrun, or damaged by framing, parity or break errors: a wrong baud rate or a\n\
                    noisy cable shows up here) and the receive buffer's fill level.",
        run: cmd_uart,
    },
    Command {
        name: "spawn",
        usage: "spawn <kind> [name] [opts]",
        help: "start a kernel thread of a built-in kind",
        long_help: "Creates a kthread running one of the built-in bodies and wakes it; prints\n\
                    `spawned <name> (tid <tid>) on cpu<n>`. Kinds (each polls its stop and park\n\
                    requests, except hog):\n\
                    \x20 spin     busy loop; result: iterations modulo 2^31\n\
                    \x20 sleeper  sleeps until woken (stop, park, a signal task_work); result 0\n\
                    \x20 ticker   prints `<name>: tick N` every period (default 1s); result: ticks\n\
                    \x20 counter  counts every period (default 100ms), shown by ps; result: count\n\
                    \x20 hog      spins and never polls: park and stop on it time out\n\
                    \x20 exit     returns --result (default 0) at once\n\
                    [name] defaults to <kind><n>, the first one free; it must be unique, at most\n\
                    63 bytes and not all digits (it would read as a tid). Options:\n\
                    \x20 --cpu N      a per-CPU thread bound to CPU N (EINVAL if N is not online)\n\
                    \x20 --prio P     priority 0..=31, higher is more urgent (default 10)\n\
                    \x20 --period D   ticker/counter period, a duration as for sleep\n\
                    \x20 --result R   what an exit thread returns\n\
                    \x20 --created    create only; `wake <t>` starts it (`stop` gives -4, EINTR)\n\
                    Errors: a taken name (EEXIST), no memory or thread slot left (ENOMEM).",
        run: kthreads::cmd_spawn,
    },
    Command {
        name: "ps",
        usage: "ps [--json]",
        help: "list kernel threads",
        long_help: "One row per kthread: TID, NAME, STATE (created, ready, running, sleeping,\n\
                    parked, stopping = stop requested but not exited yet, exited), CPU (running\n\
                    on or last ran on), PRIO, RUNTIME (ms on a CPU), SWITCHES (times switched\n\
                    in), STACK (most bytes used / size), COUNT (counter threads, else -).\n\
                    --json: one JSON object per line and thread, with the fields tid, name,\n\
                    state, cpu, prio, runtime_ms, runtime_us, switches, stack_used, stack_size\n\
                    (bytes), count, bound and result (null where they do not apply).",
        run: kthreads::cmd_ps,
    },
    Command {
        name: "park",
        usage: "park <t> [--timeout D]",
        help: "park a kernel thread (waits until parked)",
        long_help: "Asks thread <t> (a name or a tid) to park and waits until it is parked and\n\
                    off its CPU, at most --timeout (default 5s): then `error: park: timeout`\n\
                    and the request stays set. A thread that has exited gives ENOSYS, one that\n\
                    is already parked (or being parked) EBUSY.",
        run: kthreads::cmd_park,
    },
    Command {
        name: "unpark",
        usage: "unpark <t>",
        help: "let a parked kernel thread run again",
        long_help: "Clears the park request of <t> and wakes it if it is parked (a per-CPU\n\
                    thread goes back to its CPU). Does nothing if it is not parked.",
        run: kthreads::cmd_unpark,
    },
    Command {
        name: "stop",
        usage: "stop <t> [--timeout D]",
        help: "stop a kernel thread and print its result",
        long_help: "Asks <t> to stop (unparking it if needed), waits for it to return, prints\n\
                    `<name>: result <R>` and forgets it. A thread created but never woken does\n\
                    not run and gives -4 (EINTR). After --timeout (default 5s) it fails with\n\
                    `error: stop: timeout`; the stop request stays (ps shows `stopping`).\n\
                    A thread that already exited by itself is an error that shows its result\n\
                    (unless an earlier stop of it timed out); it is forgotten too.",
        run: kthreads::cmd_stop,
    },
    Command {
        name: "wait",
        usage: "wait <t> <state> [--timeout D]",
        help: "wait until a kernel thread is in a state (or a work has run)",
        long_help: "Polls <t> every 2 ms until its state (as ps shows it) is <state>: created,\n\
                    ready, running, sleeping, parked, stopping or exited. Fails after --timeout\n\
                    (default 5s), or at once if the thread exited and <state> is not exited.\n\
                    `wait work <work> runs >= <n> [--timeout D]` waits until the named work\n\
                    has run at least <n> times; `wait work <work> state <s>` until it is in\n\
                    state <s> (idle, pending, delayed, running, canceling), as `work list`\n\
                    shows it. Both poll every 2 ms, default timeout 5s.",
        run: work::cmd_wait,
    },
    Command {
        name: "bind",
        usage: "bind <t> <cpu>",
        help: "bind a created or parked thread to a CPU",
        long_help: "Restricts <t> to CPU <cpu>. Only while it is created (never woken) or parked\n\
                    and off its CPU; otherwise EBUSY. A CPU that is not online is EINVAL.",
        run: kthreads::cmd_bind,
    },
    Command {
        name: "wake",
        usage: "wake <t>",
        help: "wake a created or sleeping kernel thread",
        long_help: "Starts a thread created with `spawn --created`, or wakes a sleeping one\n\
                    early. Anything else is left alone (with a note).",
        run: kthreads::cmd_wake,
    },
    Command {
        name: "prio",
        usage: "prio <t> <prio>",
        help: "change a kernel thread's priority",
        long_help: "Sets the priority of <t> to <prio>, 0..=31 (higher is more urgent).",
        run: kthreads::cmd_prio,
    },
    Command {
        name: "work",
        usage: "work list [--json]",
        help: "list the named deferred works",
        long_help: "One row per named work (created by irqwork, taskwork, wq or kworker with\n\
                    --fn): NAME, KIND (irq_work, task_work, work), FN, STATE (idle, pending,\n\
                    delayed, running, canceling), QUEUE (where it was last queued), CPU (where\n\
                    it last ran), RUNS, LATENCY (queue to start of the last run).\n\
                    --json: one object per line with name, kind, fn, state, queue, cpu, runs,\n\
                    latency_ns (null where unknown).\n\
                    Functions (--fn, fixed when the work is created on first use):\n\
                    \x20 log          print `<work> ran on cpu<C> (<context>)`; hard-IRQ lines\n\
                    \x20              go through a ring printed by the klogd thread\n\
                    \x20 count        only count runs\n\
                    \x20 busy:<ms>    spin for <ms>\n\
                    \x20 sleep:<ms>   sleep for <ms> (not for irq_works)\n\
                    \x20 requeue:<n>  queue itself again, n times per queue command\n\
                    A queue command that finds the work pending prints `already pending`\n\
                    and returns 1.",
        run: work::cmd_work,
    },
    Command {
        name: "irqwork",
        usage: "irqwork <subcommand> ...",
        help: "hard-IRQ callbacks (irq_work)",
        long_help: "irqwork queue <work> [--cpu N] [--lazy] [--fn F]: queue on this CPU, or on\n\
                    CPU N (an SGI to it); --lazy (at creation) waits for the next timer tick.\n\
                    irqwork sync <work>: wait until its callback is not running.\n\
                    irqwork list: every irq_work: NAME, FLAGS (P pending, B busy), LAZY, RUNS,\n\
                    CPU (last ran on).",
        run: work::cmd_irqwork,
    },
    Command {
        name: "taskwork",
        usage: "taskwork <subcommand> ...",
        help: "per-thread callbacks (task_work)",
        long_help: "taskwork add <thread> <work> [--notify M] [--fn F]: queue on <thread>; M is\n\
                    none (runs at exit), resume (default: at its next boundary), signal (also\n\
                    wakes an interruptible sleeper, SGI if running elsewhere) or signal-no-ipi.\n\
                    ESRCH once the thread is exiting.\n\
                    taskwork cancel <thread> <work|--fn F>: remove it (or the newest work with\n\
                    that function); prints `cancelled <work>`, or `not queued on <t>` (status 1).\n\
                    taskwork list <thread>: queued works, newest (first to run) first.",
        run: work::cmd_taskwork,
    },
    Command {
        name: "wq",
        usage: "wq <subcommand> ...",
        help: "workqueues",
        long_help: "wq create <wq> [--single]: a worker per online CPU (<wq>/<cpu>) or one.\n\
                    wq queue <wq> <work> [--cpu N] [--fn F]: queue on this CPU's worker (or N's).\n\
                    wq delay <wq> <work> <D> [--cpu N] [--fn F]: queue after D.\n\
                    wq flush <wq>: wait for everything queued before.\n\
                    wq destroy <wq>: flush, stop the workers.\n\
                    wq list: NAME, WORKERS, QUEUED.",
        run: work::cmd_wq,
    },
    Command {
        name: "kworker",
        usage: "kworker <subcommand> ...",
        help: "kthread workers",
        long_help: "kworker create <w> [--cpu N]: a worker thread <w> (bound to N).\n\
                    kworker queue <w> <work> [--fn F]; kworker delay <w> <work> <D> [--fn F].\n\
                    kworker mod <w> <work> <D> [--fn F]: queue if idle, else move its deadline;\n\
                    prints pending=<was it pending>.\n\
                    kworker cancel <work>: cancel (sync); prints pending=<was it pending>.\n\
                    kworker flush-work <work>: wait for it if queued or running.\n\
                    kworker flush <w>: wait for everything queued before.\n\
                    kworker destroy <w>: flush and stop; pending delayed works are an error.",
        run: work::cmd_kworker,
    },
    Command {
        name: "bench",
        usage: "bench [name...] [--iters N] [--json]",
        help: "run the kernel benchmark suite",
        long_help: "Runs the named benchmarks (default: all) on this CPU and prints a row per\n\
                    benchmark and sub-case (`timers/4096`): N, MIN, MEDIAN, P99, MAX in counter\n\
                    ticks, then the same in cycles (- without a cycle counter). Each warms up,\n\
                    then measures N iterations (--iters, default 10,000; delayed 100, create\n\
                    1,000), each starting on a tick edge. --json: one JSON line instead.\n\
                    Benchmarks: yield, pingpong, park, irqwork, irqwork-remote (sender,\n\
                    latency), queue-work (callback, waiter), kworker, taskwork, delayed (1ms,\n\
                    10ms lateness), timers (16, 256, 4096 pending), sched-scale (1, 64, 1024\n\
                    ready), create, boot (kernel entry to first prompt).",
        run: bench::cmd_bench,
    },
    Command {
        name: "timers",
        usage: "timers",
        help: "pending timers per CPU",
        long_help: "One row per pending timer: CPU, KIND (wake, slice, call), DUE IN.",
        run: work::cmd_timers,
    },
    Command {
        name: "stress",
        usage: "stress <kind> <n> [opts]",
        help: "queue n works from every CPU at once, check each ran once",
        long_help: "stress irqwork|wq|kworker <n> [--cpus N] [--timeout D] [--fresh] [--slots S]:\n\
                    creates n works (1..=100000, not in `work list`), starts a kthread\n\
                    stress/<cpu> bound to each of the first N online CPUs (default all) that\n\
                    queues its share, work i aimed at the i-th CPU round robin, and waits (at\n\
                    most --timeout, default 10s) until all ran. Prints `stress <kind>: Q queued, A ran once,\n\
                    B twice or more, C never (cpu0 R0 ...) in T ms`; status 0 only if all n\n\
                    were queued and each ran exactly once, on its CPU.\n\
                    \x20 irqwork  irq_work::queue (own CPU) and queue_on (others), one irq_work\n\
                    \x20          per work while the slot table allows (--slots S: at most S per\n\
                    \x20          CPU), else each CPU's slots are reused, one queue per work\n\
                    \x20 wq       queue_work / queue_work_on on `events` (--fresh: on a new\n\
                    \x20          workqueue stresswq, destroyed afterwards)\n\
                    \x20 kworker  a kthread worker stresskw/<cpu> per CPU, destroyed afterwards",
        run: stress::cmd_stress,
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
        usage: "crash <panic|fault|overflow>",
        help: "crash the kernel on purpose (tests the fault path)",
        long_help: "Deliberately crashes the kernel to test the crash path: `panic` calls panic!,\n\
                    `fault` makes the CPU take a data abort, `overflow` starts a kthread that\n\
                    recurses into its stack's guard page (reported with the thread's name).\n\
                    The kernel prints KERNEL PANIC and does not come back.",
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
                writeln!(ctx, "  {:<30} {}", c.usage, c.help);
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
        "{:>3}  {:<6}  {:>12}  {:>12}  {:>12}  {:>12}  {:>12}",
        "CPU", "ONLINE", "IRQS", "TIMER", "SGIS", "IRQWORK_SGIS", "IRQWORK_RUNS"
    );
    let Ctx { out, sys, .. } = ctx;
    sys.cpus(&mut |c: &CpuInfo| {
        let _ = fmt::Write::write_fmt(
            out,
            format_args!(
                "{:>3}  {:<6}  {:>12}  {:>12}  {:>12}  {:>12}  {:>12}\n",
                c.id,
                if c.online { "yes" } else { "no" },
                c.irqs,
                c.timer_irqs,
                c.sgis,
                c.irq_work_sgis,
                c.irq_work_runs
            ),
        );
    });
    Ok(0)
}

fn cmd_uart(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    args.finish()?;
    let Some(u) = ctx.sys.uart() else {
        return Err(CmdError::runtime("no UART statistics on this system"));
    };
    writeln!(
        ctx,
        "{}: {} baud 8N1, rx errors {}, rx buffer {}/{}",
        u.driver, u.baud, u.rx_errors, u.rx_buffered, u.rx_capacity
    );
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
    let kind: CrashKind = args.next("panic, fault or overflow")?;
    args.finish()?;
    writeln!(
        ctx,
        "crash: deliberate {}",
        match kind {
            CrashKind::Panic => "panic",
            CrashKind::Fault => "fault",
            CrashKind::Overflow => "stack overflow",
        }
    );
    ctx.sys.crash(kind);
    Err(CmdError::runtime("the system survived the crash"))
}
