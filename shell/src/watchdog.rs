//! `watchdog`: the kernel's lockup and hung-work watchdog (`rtos::watchdog`): show its
//! settings and reports, turn it on or off, set its thresholds.

use alloc::format;

use rtos::time::Duration;
use rtos::watchdog;

use crate::args::{Args, CmdError};
use crate::ctx::{Command, Ctx};
use crate::util::{self, show_duration};

/// `watchdog`.
pub(crate) const COMMANDS: &[Command] = &[Command {
    name: "watchdog",
    usage: "watchdog [on|off] [--soft D] [--hung D]",
    help: "the lockup and hung-work watchdog: settings, reports, thresholds",
    long_help: "With no argument: whether it is on, its thresholds, and how many reports it\n\
                printed. It looks every 250ms and reports, once per episode, with a line\n\
                starting 'WATCHDOG: ' followed by indented details:\n\
                - soft lockup: a thread that kept its CPU (no sleep, no yield) for longer than\n\
                the soft threshold (default 2s);\n\
                - hard lockup: a CPU that took no interrupt for longer than the soft threshold;\n\
                - irq_work storm: a CPU putting irq_work passes off (a work re-queueing itself\n\
                there) for longer than the soft threshold;\n\
                - hung work: a work, task_work or irq_work callback running for longer than\n\
                the hung threshold (default 2s), with its name, kind, CPU and thread.\n\
                on | off: start or stop checking (on by default). --soft D, --hung D: set a\n\
                threshold (500ms..=1h, e.g. 3s). A bad value changes nothing.",
    run: cmd_watchdog,
}];

fn cmd_watchdog(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let soft: Option<Duration> = args.option("--soft")?;
    let hung: Option<Duration> = args.option("--hung")?;
    let on = match args.word_opt()? {
        None => None,
        Some("on") => Some(true),
        Some("off") => Some(false),
        Some(w) => {
            return Err(CmdError::usage(format!(
                "unknown argument '{w}' (expected on or off)"
            )));
        }
    };
    args.finish()?;
    util::scheduler()?;
    // Check every value before changing anything.
    for (what, d) in [("--soft", soft), ("--hung", hung)] {
        if let Some(d) = d
            && !(watchdog::MIN_THRESHOLD..=watchdog::MAX_THRESHOLD).contains(&d)
        {
            return Err(CmdError::usage(format!(
                "{what} {} is out of range (expected {}..={})",
                show_duration(d),
                show_duration(watchdog::MIN_THRESHOLD),
                show_duration(watchdog::MAX_THRESHOLD)
            )));
        }
    }
    if on == Some(true) {
        watchdog::start().map_err(|e| CmdError::runtime(format!("cannot start it: {e}")))?;
    }
    let ok = soft
        .map_or(Ok(()), watchdog::set_soft)
        .and(hung.map_or(Ok(()), watchdog::set_hung));
    ok.map_err(|e| CmdError::runtime(format!("{e}")))?;
    if let Some(on) = on {
        watchdog::set_on(on);
    }
    if on.is_none() && soft.is_none() && hung.is_none() {
        show(ctx);
    }
    Ok(0)
}

fn show(ctx: &mut Ctx<'_>) {
    let s = watchdog::settings();
    let state = match (s.on, s.started, s.paused) {
        (false, _, _) => "off",
        (true, false, _) => "on, but its thread is not started (watchdog on starts it)",
        (true, true, true) => "on, paused (a benchmark runs)",
        (true, true, false) => "on",
    };
    writeln!(
        ctx,
        "watchdog: {state}; looks every {}",
        show_duration(watchdog::PERIOD)
    );
    writeln!(
        ctx,
        "  soft lockup: a thread keeping its CPU, or a CPU taking no interrupt, for > {}",
        show_duration(s.soft)
    );
    writeln!(
        ctx,
        "  hung work: a work, task_work or irq_work callback running for > {}",
        show_duration(s.hung)
    );
    writeln!(
        ctx,
        "  reports: {} soft lockup, {} hung work, {} hard lockup, {} irq_work storm",
        s.soft_reports, s.hung_reports, s.hard_reports, s.storm_reports
    );
}
