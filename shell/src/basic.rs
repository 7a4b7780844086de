//! The basic commands: `echo`, `sleep`, `uptime`, `cpus`, `cpu` (hotplug) and `uart`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::args::{Args, CmdError};
use crate::ctx::{Command, Ctx};
use crate::system::CpuInfo;
use crate::util::json::{self, Obj};
use core::time::Duration;

/// The basic commands, in `help` order.
pub(crate) const COMMANDS: &[Command] = &[
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
                    unit of ns, us, ms or s (no unit means seconds), e.g. 500us, 20ms, 2s, 1.5s,\n\
                    at most 86400s (one day, like every duration a command takes).\n\
                    Ctrl-C ends it early: it prints ^C and the status is 130.",
        run: cmd_sleep,
    },
    Command {
        name: "uptime",
        usage: "uptime [--json]",
        help: "time since boot",
        long_help: "Prints the time since boot as hours:minutes:seconds.milliseconds.\n\
                    --json: {\"uptime_ns\":N,\"uptime_ms\":N}.",
        run: cmd_uptime,
    },
    Command {
        name: "cpus",
        usage: "cpus [--json]",
        help: "per-CPU state and interrupt counts",
        long_help: "One row per CPU: whether it is online, interrupts taken (all kinds), timer\n\
                    interrupts, software-generated interrupts (SGIs/IPIs), irq_work SGIs (SGI 2,\n\
                    also counted in SGIS) and irq_work callbacks run.\n\
                    --json: {\"cpus\":[{\"cpu\",\"online\",\"irqs\",\"timer_irqs\",\"sgis\",\n\
                    \"irq_work_sgis\",\"irq_work_runs\",\"irq_work_deferred\" (passes put off by\n\
                    the re-queue storm bound),\"switches\",\"idle_ms\"}]}, counts since boot.",
        run: cmd_cpus,
    },
    Command {
        name: "cpu",
        usage: "cpu <offline|online> <n>",
        help: "take a CPU offline or bring it back (hotplug)",
        long_help: "cpu offline <n>: parks the per-CPU kthreads bound to CPU n (EBUSY, naming it,\n\
                    if one does not park within 2s; nothing changes then), unbinds its per-CPU\n\
                    workers (their works run on an online CPU meanwhile), moves its threads and\n\
                    timers to online CPUs, runs its pending irq_works, and powers it off.\n\
                    cpu online <n>: starts it again; its workers are re-bound and its per-CPU\n\
                    kthreads unparked. CPU 0 stays online (EPERM). `cpus` shows which are.",
        run: cmd_cpu,
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
];

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
    let d: Duration = args.next("<duration>")?;
    args.finish()?;
    // Ctrl-C ends it (the system's sleep wakes early when one arrives). Prints nothing
    // meanwhile: hard-IRQ log lines may appear as they come.
    let end = ctx.sys.uptime() + d;
    loop {
        if ctx.interrupted() {
            return Ok(crate::ctx::INTERRUPTED);
        }
        let now = ctx.sys.uptime();
        if now >= end {
            return Ok(0);
        }
        crate::work::klogd::while_waiting(|| ctx.sys.sleep(end - now));
    }
}

fn cmd_uptime(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let json = args.flag("--json")?;
    args.finish()?;
    let d = ctx.sys.uptime();
    if json {
        let ns = crate::util::nanos(d);
        let o = Obj::new()
            .num("uptime_ns", ns)
            .num("uptime_ms", ns / 1_000_000);
        writeln!(ctx, "{}", o.done());
        return Ok(0);
    }
    let up = crate::util::show_uptime(d);
    writeln!(ctx, "up {up}");
    Ok(0)
}

/// One CPU as `cpus --json` writes it.
fn cpu_json(c: &CpuInfo) -> String {
    Obj::new()
        .num("cpu", c.id)
        .bool("online", c.online)
        .num("irqs", c.irqs)
        .num("timer_irqs", c.timer_irqs)
        .num("sgis", c.sgis)
        .num("irq_work_sgis", c.irq_work_sgis)
        .num("irq_work_runs", c.irq_work_runs)
        .num("irq_work_deferred", c.irq_work_deferred)
        .num("switches", c.switches)
        .num("idle_ms", crate::util::nanos(c.idle) / 1_000_000)
        .done()
}

fn cmd_cpus(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let json = args.flag("--json")?;
    args.finish()?;
    if json {
        let mut rows = Vec::new();
        ctx.sys.cpus(&mut |c: &CpuInfo| rows.push(cpu_json(c)));
        let doc = Obj::new().raw("cpus", &json::array(rows)).done();
        writeln!(ctx, "{doc}");
        return Ok(0);
    }
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

fn cmd_cpu(_ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let what = args.word("offline or online")?;
    let cpu: usize = args.next("<n>")?;
    args.finish()?;
    let op = match what {
        "offline" => rtos::hotplug::offline,
        "online" => rtos::hotplug::online,
        other => {
            return Err(CmdError::usage(format!(
                "unknown subcommand '{other}' (expected offline or online)"
            )));
        }
    };
    crate::util::scheduler()?;
    op(cpu)
        .map(|()| 0)
        .map_err(|e| hotplug_error(what, cpu, &e))
}

/// The shell's words for a refused or failed `cpu offline|online`.
pub(crate) fn hotplug_error(what: &str, cpu: usize, e: &rtos::hotplug::HotplugError) -> CmdError {
    use rtos::hotplug::{CPU_TIMEOUT, HotplugError as H, PARK_TIMEOUT};
    let errno = e.error().name();
    CmdError::runtime(match e {
        H::BootCpu => format!("cpu0 always stays online ({errno})"),
        H::NoSuchCpu => format!("there is no cpu{cpu} ({errno})"),
        H::Already => format!("cpu{cpu} is already {what} ({errno})"),
        H::Busy(t) => format!(
            "{} (tid {}) is bound to cpu{cpu} and did not park within {}s ({errno}); \
             stop it first",
            t.name(),
            t.tid(),
            PARK_TIMEOUT.as_secs()
        ),
        H::TimedOut => format!(
            "cpu{cpu} did not go {what} within {}s ({errno})",
            CPU_TIMEOUT.as_secs()
        ),
        H::Port(_) => format!("this board cannot start cpu{cpu} again ({errno})"),
    })
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
