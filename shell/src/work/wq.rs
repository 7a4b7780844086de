//! `wq`: workqueues (`rtos::work::workqueue`), by name, and named works queued on them.

use crate::util::json::{self, Obj};
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write as _;

use rtos::work::workqueue::{self as wqm, Workqueue};

use super::registry::{
    Func, Kind, Target, WQS, destroyed, forget_queue, get_or_create, on_existing_work, queued,
};
use crate::args::{Args, CmdError};
use crate::ctx::{Command, Ctx};
use crate::util::{self, check_cpu};
use core::time::Duration;

/// `wq`.
pub(crate) const COMMANDS: &[Command] = &[Command {
    name: "wq",
    usage: "wq <subcommand> ...",
    help: "workqueues",
    long_help: "wq create <wq> [--single]: a worker per CPU (<wq>/<cpu>) or one.\n\
                wq queue <wq> <work> [--cpu N] [--fn F]: queue on this CPU's worker (or N's).\n\
                wq delay <wq> <work> <D> [--cpu N] [--fn F]: queue after D.\n\
                wq mod <wq> <work> <D> [--cpu N] [--fn F]: queue after D if idle, else move it\n\
                there with the new delay; prints pending=<was it pending>.\n\
                wq cancel <work> [--sync]: take it off its timer or list (--sync: also wait for\n\
                a run in progress, stopping a work that queues itself); prints pending=<...>.\n\
                wq flush-work <work>: wait for it if queued or running (a delayed work is queued\n\
                at once); prints pending=<was there anything to wait for>.\n\
                wq flush <wq>: wait for everything queued before.\n\
                wq destroy <wq>: run what is queued (works queueing again: at most 10000\n\
                queueings), stop the workers; delayed works are cancelled, and named in an error.\n\
                wq list [--json]: NAME, WORKERS, QUEUED, DELAYED. --json: {\"workqueues\":\n\
                [{\"name\",\"single\",\"cpus\":[worker CPUs; empty if single],\"queued\",\n\
                \"delayed\"}]}.\n\
                A work belongs to one queue or kworker while it is busy: queueing it elsewhere\n\
                is EBUSY, naming where it is.",
    run: cmd_wq,
}];

fn lookup_wq(name: &str) -> Result<Arc<Workqueue>, CmdError> {
    WQS.lock()
        .get(name)
        .cloned()
        .ok_or_else(|| CmdError::runtime(format!("no such workqueue '{name}'")))
}

fn cmd_wq(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let sub = args.word("<subcommand>")?;
    match sub {
        "create" => create(args),
        "queue" | "delay" | "mod" => queue(ctx, args, sub),
        "cancel" => cancel(ctx, args),
        "flush-work" => flush_work(ctx, args),
        "flush" => flush(args),
        "destroy" => destroy(args),
        "list" => list(ctx, args),
        _ => Err(CmdError::usage(format!(
            "unknown subcommand '{sub}' (expected create, queue, delay, mod, cancel, flush-work, \
             flush, destroy or list)"
        ))),
    }
}

/// `wq create <wq> [--single]`.
fn create(args: &mut Args<'_>) -> Result<u8, CmdError> {
    let single = args.flag("--single")?;
    let name = args.word("<wq>")?;
    args.finish()?;
    util::scheduler()?;
    crate::util::names::check_new("workqueue", name)?;
    if WQS.lock().contains_key(name) {
        return Err(CmdError::runtime(format!(
            "a workqueue named '{name}' already exists (EEXIST)"
        )));
    }
    let made = if single {
        wqm::create_singlethread(name)
    } else {
        wqm::create(name)
    };
    let q = made.map_err(|e| CmdError::runtime(format!("cannot create '{name}': {e}")))?;
    WQS.lock().insert(String::from(name), q);
    Ok(0)
}

/// `wq queue <wq> <work> [--cpu N] [--fn F]`, `wq delay <wq> <work> <D> [--cpu N] [--fn F]` and
/// `wq mod <wq> <work> <D> [--cpu N] [--fn F]`.
fn queue(ctx: &mut Ctx<'_>, args: &mut Args<'_>, sub: &str) -> Result<u8, CmdError> {
    let cpu: Option<usize> = args.option("--cpu")?;
    let func: Option<Func> = args.option("--fn")?;
    let qname = args.word("<wq>")?;
    let name = args.word("<work>")?;
    let delay = if sub == "queue" {
        Duration::ZERO
    } else {
        args.next::<Duration>("<D>")?
    };
    args.finish()?;
    util::scheduler()?;
    check_cpu(cpu)?;
    let q = lookup_wq(qname)?;
    let e = get_or_create(name, Kind::Work, func, false)?;
    let w = e.work();
    let saved = e.prepare(Target::Wq(q.clone(), cpu), format!("wq {qname}"));
    let cpu = cpu.unwrap_or_else(|| rtos::port::port().cpu_id());
    if sub == "mod" {
        let r = wqm::mod_delayed_on(&q, cpu, &w, delay);
        return match r {
            Ok(was) => {
                writeln!(ctx, "pending={was}");
                Ok(0)
            }
            Err(err) => queued(ctx, &e, saved, Err(err)),
        };
    }
    let r = wqm::queue_delayed_on(&q, cpu, &w, delay);
    queued(ctx, &e, saved, r)
}

/// `wq cancel <work> [--sync]`.
fn cancel(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let sync = args.flag("--sync")?;
    on_existing_work(ctx, args, |w| {
        if sync {
            wqm::cancel_delayed_work_sync(w)
        } else {
            wqm::cancel_delayed_work(w)
        }
    })
}

/// `wq flush-work <work>`.
fn flush_work(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    on_existing_work(ctx, args, wqm::flush_delayed_work)
}

/// `wq flush <wq>`.
fn flush(args: &mut Args<'_>) -> Result<u8, CmdError> {
    let qname = args.word("<wq>")?;
    args.finish()?;
    let q = lookup_wq(qname)?;
    wqm::flush(&q);
    Ok(0)
}

/// `wq destroy <wq>`.
fn destroy(args: &mut Args<'_>) -> Result<u8, CmdError> {
    let qname = args.word("<wq>")?;
    args.finish()?;
    let q = WQS
        .lock()
        .remove(qname)
        .ok_or_else(|| CmdError::runtime(format!("no such workqueue '{qname}'")))?;
    let gone = q.clone();
    let left = wqm::destroy(q);
    forget_queue(|t| matches!(t, Target::Wq(q, _) if Arc::ptr_eq(q, &gone)));
    destroyed(left)
}

/// `wq list`.
fn list(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let json = args.flag("--json")?;
    args.finish()?;
    if json {
        let qs: Vec<Arc<Workqueue>> = WQS.lock().values().cloned().collect();
        let rows = qs.iter().map(|q| {
            let cpus = q.cpus();
            Obj::new()
                .str("name", q.name())
                .bool("single", cpus.is_empty())
                .raw("cpus", &json::array(cpus.iter().map(|c| format!("{c}"))))
                .num("queued", q.queued())
                .num("delayed", q.delayed())
                .done()
        });
        let doc = Obj::new().raw("workqueues", &json::array(rows)).done();
        writeln!(ctx, "{doc}");
        return Ok(0);
    }
    writeln!(
        ctx,
        "{:<16} {:<16} {:>6} {:>7}",
        "NAME", "WORKERS", "QUEUED", "DELAYED"
    );
    let qs: Vec<Arc<Workqueue>> = WQS.lock().values().cloned().collect();
    for q in qs {
        let cpus = q.cpus();
        let workers = if cpus.is_empty() {
            String::from("single")
        } else {
            let mut s = String::from("cpu");
            for (i, c) in cpus.iter().enumerate() {
                let _ = write!(s, "{}{c}", if i > 0 { "," } else { "" });
            }
            s
        };
        writeln!(
            ctx,
            "{} {:<16} {:>6} {:>7}",
            util::fit(q.name(), 16),
            workers,
            q.queued(),
            q.delayed()
        );
    }
    Ok(0)
}
