//! `inject`: fault injection (Linux's failslab and fail_function), over [`rtos::fault`]: make
//! the kernel's allocation sites fail, or delay SGIs, the timer interrupt or workers' wake-ups,
//! to see each allocating command refuse cleanly and the system ride out late events.

use alloc::format;
use alloc::string::String;

use crate::args::{Args, CmdError};
use crate::ctx::{Command, Ctx};
use rtos::fault::{self, AllocFail, Site};
use rtos::time::Duration;

pub(crate) static COMMANDS: &[Command] = &[Command {
    name: "inject",
    usage: "inject [alloc-fail (--every N | --next N) [--cpu C] | delay <site> <D> | off]",
    help: "fault injection: failing allocations, delayed SGIs, timer interrupts, wake-ups",
    long_help: "inject: what is injected now, and how often it was.\n\
                inject alloc-fail --every N [--cpu C]: every N-th allocation at a kernel site\n\
                fails (a thread's stack and slot, so workqueues and workers too; an irq_work\n\
                slot; a named work; a stress work table), only on CPU C if given.\n\
                inject alloc-fail --next N [--cpu C]: the next N fail, then none.\n\
                Each failure is ENOMEM for the command that allocated, which leaves nothing\n\
                half-built (`mem` reads as before).\n\
                inject delay <sgi|timer|wake> <D>: busy-wait D (at most 5ms; 0 turns it off)\n\
                before every SGI is sent, every timer interrupt is handled, or every\n\
                workqueue or kthread worker is woken for a work.\n\
                inject off: everything off.",
    run: cmd_inject,
}];

fn cmd_inject(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    // (The settings are the kernel's, for every CPU: only a shell running on it changes them;
    // `kernel()` comes after the arguments, so that a usage error stays one.)
    let kernel = || crate::util::scheduler().map(|_| ());
    match args.word_opt()? {
        None => {
            args.finish()?;
            report(ctx);
            Ok(0)
        }
        Some("off") => {
            args.finish()?;
            kernel()?;
            fault::off();
            report(ctx);
            Ok(0)
        }
        Some("alloc-fail") => {
            let every = args.option::<u32>("--every")?;
            let next = args.option::<u32>("--next")?;
            let cpu = args.option::<usize>("--cpu")?;
            args.finish()?;
            let mode = match (every, next) {
                (Some(n), None) if n >= 1 => AllocFail::Every(n),
                (None, Some(n)) if n >= 1 => AllocFail::Next(n),
                (Some(_), Some(_)) => {
                    return Err(CmdError::usage("give --every or --next, not both"));
                }
                (None, None) => return Err(CmdError::usage("give --every N or --next N")),
                _ => return Err(CmdError::usage("N must be at least 1")),
            };
            kernel()?;
            if let Some(c) = cpu
                && (c >= rtos::config::MAX_CPUS || rtos::sched::online_mask() & (1 << c) == 0)
            {
                return Err(CmdError::usage(format!("CPU {c} is not online (EINVAL)")));
            }
            fault::set_alloc_fail(mode, cpu).map_err(|e| CmdError::usage(format!("{e}")))?;
            report(ctx);
            Ok(0)
        }
        Some("delay") => {
            let site = args.word("<site>")?;
            let Some(site) = Site::from_name(site) else {
                return Err(CmdError::usage(format!(
                    "unknown site '{site}' (sgi, timer or wake)"
                )));
            };
            let d: Duration = args.next("<D>")?;
            args.finish()?;
            kernel()?;
            fault::set_delay(site, d).map_err(|_| {
                CmdError::usage(format!(
                    "a delay is at most {} (not {})",
                    crate::util::show_duration(fault::MAX_DELAY),
                    crate::util::show_duration(d)
                ))
            })?;
            report(ctx);
            Ok(0)
        }
        Some(other) => Err(CmdError::usage(format!(
            "unknown subcommand '{other}' (alloc-fail, delay or off)"
        ))),
    }
}

/// One line per kind of injection: what is set and how often it struck.
fn report(ctx: &mut Ctx<'_>) {
    let (mode, cpu, injected) = fault::alloc_fail();
    let what = match mode {
        AllocFail::Off => String::from("off"),
        AllocFail::Every(n) => format!("every {n}"),
        AllocFail::Next(n) => format!("next {n}"),
    };
    let on = cpu.map_or_else(|| String::from("all CPUs"), |c| format!("cpu{c}"));
    writeln!(
        ctx,
        "alloc-fail: {what} ({on}), {injected} injected since boot"
    );
    for site in Site::ALL {
        let (d, n) = fault::delay_of(site);
        let set = if d.is_zero() {
            String::from("off")
        } else {
            crate::util::show_duration(d)
        };
        writeln!(ctx, "delay {}: {set}, applied {n} times", site.name());
    }
}
