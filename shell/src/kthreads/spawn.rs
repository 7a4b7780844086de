//! `spawn`: starts a kthread running one of the built-in bodies.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, AtomicU64};

use rtos::Error;
use rtos::kthread::{self, Options};

use super::bodies::body;
use super::shared::{Kind, Prio, SPAWNED, Shared};
use crate::args::{Args, CmdError, FromArg};
use crate::ctx::{Command, Ctx};
use crate::parse::parse_u64;
use crate::util::{bad_cpu, scheduler};
use core::time::Duration;

impl FromArg for i32 {
    const WHAT: &'static str = "number";
    const HINT: Option<&'static str> = Some("-2147483648..=2147483647");
    fn from_arg(s: &str) -> Option<Self> {
        match s.strip_prefix('-') {
            Some(n) => parse_u64(n)
                .and_then(|n| i64::try_from(n).ok())
                .and_then(|n| i32::try_from(-n).ok()),
            None => parse_u64(s).and_then(|n| i32::try_from(n).ok()),
        }
    }
}

/// A thread name `spawn` can use: `<kind><n>`, the smallest `n >= 1` not taken.
fn default_name(kind: Kind) -> String {
    let threads = kthread::list();
    (1u32..)
        .map(|n| format!("{}{n}", kind.name()))
        .find(|n| !threads.iter().any(|t| t.name() == n))
        .unwrap_or_default()
}

/// `spawn`.
pub(crate) const COMMANDS: &[Command] = &[Command {
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
                    63 bytes of printable characters but '/', not all digits (it would read as\n\
                    a tid), and not a system name (shell, kthreadd, klogd, watchdog, idle,\n\
                    events); kworker, wq and work names follow the same rules. Options:\n\
                    \x20 --cpu N      a per-CPU thread bound to CPU N (EINVAL if N is not online)\n\
                    \x20 --prio P     priority 0..=30, higher is more urgent (default 10);\n\
                    \x20              31 is the shell's, kthreadd's and klogd's, so that nothing\n\
                    \x20              spawned can take the console away\n\
                    \x20 --period D   ticker/counter period, a duration as for sleep\n\
                    \x20 --result R   what an exit thread returns\n\
                    \x20 --created    create only; `wake <t>` starts it (`stop` gives -4, EINTR)\n\
                    Errors: a taken name (EEXIST), no memory or thread slot left (ENOMEM).",
    run: cmd_spawn,
}];

fn cmd_spawn(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let cpu: Option<usize> = args.option("--cpu")?;
    let prio: Option<Prio> = args.option("--prio")?;
    let period: Option<Duration> = args.option("--period")?;
    let result: Option<i32> = args.option("--result")?;
    let created = args.flag("--created")?;
    let kind: Kind = args.next("<kind>")?;
    let name = args.word_opt()?;
    args.finish()?;

    let period = match (kind.default_period(), period) {
        (Some(_), Some(Duration::ZERO)) => {
            return Err(CmdError::usage("--period must be above 0"));
        }
        (Some(_), Some(d)) | (Some(d), None) => d,
        (None, Some(_)) => {
            return Err(CmdError::usage(
                "--period is for ticker and counter threads only",
            ));
        }
        (None, None) => Duration::ZERO,
    };
    if result.is_some() && kind != Kind::Exit {
        return Err(CmdError::usage("--result is for exit threads only"));
    }
    if let Some(name) = &name {
        crate::util::names::check_new("thread", name)?;
    }
    scheduler()?;

    let name = name.map_or_else(|| default_name(kind), String::from);
    let shared = Arc::new(Shared {
        kind,
        started: AtomicBool::new(false),
        count: AtomicU64::new(0),
    });
    let f = body(shared.clone(), name.clone(), period, result.unwrap_or(0));
    let opts = Options {
        prio: prio.map(|p| p.0),
        cpu,
    };
    let t = kthread::create_with(&name, opts, f).map_err(|e| match e {
        Error::Exists => CmdError::runtime(format!(
            "a thread named '{name}' already exists ({})",
            e.name()
        )),
        Error::NoMemory => CmdError::runtime(format!(
            "no memory or thread slot left for '{name}' ({})",
            e.name()
        )),
        Error::Invalid => match cpu {
            Some(cpu) => bad_cpu(cpu, e),
            None => CmdError::usage(format!("{e}")),
        },
        e => CmdError::runtime(format!("{e}")),
    })?;
    SPAWNED.lock().insert(t.tid(), shared);
    if !created {
        kthread::wake_up_process(&t);
    }
    writeln!(
        ctx,
        "spawned {} (tid {}) on cpu{}{}",
        t.name(),
        t.tid(),
        t.info().cpu,
        if created { " (created, not woken)" } else { "" }
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_types() {
        assert_eq!(i32::from_arg("-4"), Some(-4));
        assert_eq!(i32::from_arg("2147483647"), Some(i32::MAX));
        assert_eq!(i32::from_arg("-2147483648"), Some(i32::MIN));
        assert_eq!(i32::from_arg("2147483648"), None);
        assert_eq!(i32::from_arg("-2147483649"), None);
        assert_eq!(i32::from_arg("--1"), None);
        assert_eq!(i32::from_arg("-"), None);
    }
}
