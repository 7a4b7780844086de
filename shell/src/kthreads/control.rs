//! The commands that act on one thread: `park`, `unpark`, `stop`, `wait` (which hands
//! `wait work ...` to the work commands), `bind`, `wake` and `prio`.

use alloc::format;

use rtos::Error;
use rtos::kthread::{self, KThread};
use rtos::sched::{self, State};
use rtos::time::Instant;

use super::shared::{Prio, STOP_PENDING, forget, state_name};
use crate::args::{Args, CmdError, FromArg};
use crate::ctx::{Command, Ctx};
use crate::util::{DEFAULT_TIMEOUT, bad_cpu, lookup, scheduler, show_duration};
use crate::work::list::{is_wait_work, wait_work};
use core::time::Duration;

/// How often `wait` looks at the thread's state.
const POLL: Duration = Duration::from_millis(2);

/// The states `wait` accepts, as `ps` shows them.
const STATES: [&str; 7] = [
    "created", "ready", "running", "sleeping", "parked", "stopping", "exited",
];

/// A state name for `wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WaitState(pub &'static str);

impl FromArg for WaitState {
    const WHAT: &'static str = "state";
    const HINT: Option<&'static str> =
        Some("created, ready, running, sleeping, parked, stopping or exited");
    fn from_arg(s: &str) -> Option<Self> {
        STATES.into_iter().find(|&n| n == s).map(WaitState)
    }
}

/// The `[--timeout D] <t>` arguments of `park` and `stop`: the thread, and when to give up (default
/// timeout [`DEFAULT_TIMEOUT`]).
fn target_and_deadline(args: &mut Args<'_>, verb: &str) -> Result<(KThread, Instant), CmdError> {
    let timeout: Duration = args.option("--timeout")?.unwrap_or(DEFAULT_TIMEOUT);
    let key = args.word("<t>")?;
    args.finish()?;
    let t = controlled(key, verb)?;
    Ok((t, Instant::after(timeout)))
}

/// The thread `key` names, if a user may `verb` it: not a workqueue's or kthread worker's
/// thread (its owner stops, parks and binds it; behind the owner's back its queue would take
/// works nobody runs), nor a system thread at the system priority (the shell, klogd, the
/// watchdog; kthreadd refuses by itself).
fn controlled(key: &str, verb: &str) -> Result<KThread, CmdError> {
    let t = lookup(key)?;
    scheduler()?;
    if let Some((what, name)) = rtos::work::pool::owner_of(t.tid()) {
        let how = match what {
            "workqueue" => format!("`wq destroy {name}`"),
            _ => format!("`kworker destroy {name}`"),
        };
        return Err(CmdError::runtime(format!(
            "{} is the thread of {what} '{name}' and cannot be {verb} on its own (EPERM): {how} \
             stops it",
            t.name()
        )));
    }
    if t.info().prio == rtos::config::SYSTEM_PRIORITY && !kthread::refuses_park_stop(&t) {
        return Err(CmdError::runtime(format!(
            "{} is a system thread and cannot be {verb} (EPERM)",
            t.name()
        )));
    }
    Ok(t)
}

/// The commands on one thread, in `help` order.
pub(crate) const COMMANDS: &[Command] = &[
    Command {
        name: "park",
        usage: "park <t> [--timeout D]",
        help: "park a kernel thread (waits until parked)",
        long_help: "Asks thread <t> (a name or a tid) to park and waits until it is parked and\n\
                    off its CPU, at most --timeout (default 5s): then `error: park: timeout`\n\
                    and the request stays set. A thread that has exited gives ENOSYS, one that\n\
                    is already parked (or being parked) EBUSY.",
        run: cmd_park,
    },
    Command {
        name: "unpark",
        usage: "unpark <t>",
        help: "let a parked kernel thread run again",
        long_help: "Clears the park request of <t> and wakes it if it is parked (a per-CPU\n\
                    thread goes back to its CPU). Does nothing if it is not parked.",
        run: cmd_unpark,
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
                    (unless an earlier stop of it timed out); it is forgotten too.\n\
                    Refused (EPERM), like park, unpark and bind: a workqueue's or kthread\n\
                    worker's thread (`wq destroy`, `kworker destroy` stop it) and the system\n\
                    threads (shell, kthreadd, klogd, watchdog).",
        run: cmd_stop,
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
        run: cmd_wait,
    },
    Command {
        name: "bind",
        usage: "bind <t> <cpu>",
        help: "bind a created or parked thread to a CPU",
        long_help: "Restricts <t> to CPU <cpu>. Only while it is created (never woken) or parked\n\
                    and off its CPU; otherwise EBUSY. A CPU that is not online is EINVAL.",
        run: cmd_bind,
    },
    Command {
        name: "wake",
        usage: "wake <t>",
        help: "wake a created or sleeping kernel thread",
        long_help: "Starts a thread created with `spawn --created`, or wakes a sleeping one\n\
                    early. Anything else is left alone (with a note).",
        run: cmd_wake,
    },
    Command {
        name: "prio",
        usage: "prio <t> <prio>",
        help: "change a kernel thread's priority",
        long_help: "Sets the priority of <t> to <prio>, 0..=30 (higher is more urgent). The\n\
                    system threads (the shell, kthreadd, klogd) run at 31, above every thread\n\
                    spawn and prio make, and cannot be changed (EPERM).",
        run: cmd_prio,
    },
];

fn cmd_park(_ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let (t, deadline) = target_and_deadline(args, "parked")?;
    match kthread::park_until(&t, Some(deadline)) {
        Ok(()) => Ok(0),
        Err(Error::TimedOut) => Err(CmdError::runtime("timeout")),
        Err(e @ Error::Exited) => Err(CmdError::runtime(format!(
            "{} has exited ({})",
            t.name(),
            e.name()
        ))),
        Err(e @ Error::Busy) => Err(CmdError::runtime(format!(
            "{} is already parked or being parked ({})",
            t.name(),
            e.name()
        ))),
        Err(e @ Error::NotPermitted) => Err(not_permitted(&t, "parked", e)),
        Err(e) => Err(CmdError::runtime(format!("{e}"))),
    }
}

/// `kthreadd` refuses park and stop: every thread creation depends on it.
fn not_permitted(t: &KThread, what: &str, e: Error) -> CmdError {
    CmdError::runtime(format!(
        "{} cannot be {what} ({}): it creates every kthread",
        t.name(),
        e.name()
    ))
}

fn cmd_unpark(_ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let key = args.word("<t>")?;
    args.finish()?;
    let t = controlled(key, "unparked")?;
    kthread::unpark(&t);
    Ok(0)
}

fn cmd_stop(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let (t, deadline) = target_and_deadline(args, "stopped")?;
    let info = t.info();
    if info.state == State::Exited {
        // Collect it. If an earlier `stop` timed out, this one completes that stop; otherwise
        // it ended by itself and stopping it is an error (that shows the result).
        let requested = STOP_PENDING.lock().contains_key(&t.tid());
        kthread::reap(&t);
        forget(t.tid());
        let result = info.result.unwrap_or(0);
        if requested {
            writeln!(ctx, "{}: result {result}", t.name());
            return Ok(0);
        }
        return Err(CmdError::runtime(format!(
            "{} has already exited (result {result})",
            t.name()
        )));
    }
    match kthread::stop_until(&t, Some(deadline)) {
        Ok(result) => {
            forget(t.tid());
            writeln!(ctx, "{}: result {result}", t.name());
            Ok(0)
        }
        Err(Error::TimedOut) => {
            STOP_PENDING.lock().insert(t.tid(), ());
            Err(CmdError::runtime("timeout"))
        }
        Err(e @ Error::NotPermitted) => Err(not_permitted(&t, "stopped", e)),
        Err(e) => Err(CmdError::runtime(format!("{e}"))),
    }
}

/// `wait`: `wait work ...` is [`wait_work`], anything else [`wait_thread`].
fn cmd_wait(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let words = args.raw();
    // Ctrl-C ends it (status 130). Prints nothing until it ends: hard-IRQ log lines may appear
    // as they come.
    let mut interrupted = || ctx.interrupted();
    crate::work::klogd::while_waiting(|| {
        if is_wait_work(words) {
            return wait_work(words, &mut interrupted);
        }
        let mut a = Args::new("wait <t> <state> [--timeout D]", words);
        wait_thread(&mut a, &mut interrupted)
    })
}

/// `wait <t> <state> [--timeout D]`.
/// `interrupted` says whether a Ctrl-C came (then the wait ends with status 130).
fn wait_thread(args: &mut Args<'_>, interrupted: &mut dyn FnMut() -> bool) -> Result<u8, CmdError> {
    let timeout: Duration = args.option("--timeout")?.unwrap_or(DEFAULT_TIMEOUT);
    let key = args.word("<t>")?;
    let WaitState(want) = args.next("<state>")?;
    args.finish()?;
    let t = lookup(key)?;
    scheduler()?;
    let deadline = Instant::after(timeout);
    loop {
        let info = t.info();
        let now = state_name(&info);
        if now == want {
            return Ok(0);
        }
        if info.state == State::Exited {
            return Err(CmdError::runtime(format!(
                "{} has exited (result {}), it will never be {want}",
                t.name(),
                info.result.unwrap_or(0)
            )));
        }
        if deadline.has_passed() {
            return Err(CmdError::runtime(format!(
                "timeout: {} is {now}, not {want}, after {}",
                t.name(),
                show_duration(timeout)
            )));
        }
        if interrupted() {
            return Ok(crate::ctx::INTERRUPTED);
        }
        sched::sleep(POLL);
    }
}

fn cmd_bind(_ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let key = args.word("<t>")?;
    let cpu: usize = args.next("<cpu>")?;
    args.finish()?;
    let t = controlled(key, "bound")?;
    kthread::bind(&t, cpu).map_err(|e| match e {
        Error::Invalid => bad_cpu(cpu, e),
        Error::Exited => CmdError::runtime(format!("{} has exited ({})", t.name(), e.name())),
        e => CmdError::runtime(format!("{e}")),
    })?;
    Ok(0)
}

fn cmd_wake(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let key = args.word("<t>")?;
    args.finish()?;
    let t = lookup(key)?;
    scheduler()?;
    if !kthread::wake_up_process(&t) {
        let info = t.info();
        writeln!(
            ctx,
            "{} is {}: nothing to wake",
            t.name(),
            state_name(&info)
        );
    }
    Ok(0)
}

fn cmd_prio(_ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let key = args.word("<t>")?;
    let Prio(prio) = args.next("<prio>")?;
    args.finish()?;
    let t = lookup(key)?;
    scheduler()?;
    if t.info().prio == rtos::config::SYSTEM_PRIORITY {
        return Err(CmdError::runtime(format!(
            "{} runs at the system priority {} so that no thread can starve it (EPERM)",
            t.name(),
            rtos::config::SYSTEM_PRIORITY
        )));
    }
    kthread::set_priority(&t, prio).map_err(|e| match e {
        Error::Exited => CmdError::runtime(format!("{} has exited ({})", t.name(), e.name())),
        e => CmdError::runtime(format!("{e}")),
    })?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_states() {
        for s in STATES {
            assert_eq!(WaitState::from_arg(s), Some(WaitState(s)));
        }
        assert_eq!(WaitState::from_arg("zombie"), None);
    }
}
