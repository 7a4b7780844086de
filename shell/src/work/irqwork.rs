//! `irqwork`: hard-IRQ callbacks (`rtos::work::irq_work`), as named works.

use crate::util::json::{self, Obj};
use alloc::format;
use alloc::string::String;

use rtos::work::irq_work;

use super::registry::{Func, Handle, Kind, Target, WORKS, get_or_create, lookup_work, queued_flag};
use crate::args::{Args, CmdError};
use crate::ctx::{Command, Ctx};
use crate::util::{self, check_cpu};

/// `irqwork`.
pub(crate) const COMMANDS: &[Command] = &[Command {
    name: "irqwork",
    usage: "irqwork <subcommand> ...",
    help: "hard-IRQ callbacks (irq_work)",
    long_help: "irqwork queue <work> [--cpu N] [--lazy] [--fn F]: queue on this CPU, or on\n\
                CPU N (an SGI to it); --lazy (at creation) waits for this CPU's next timer\n\
                tick; on another CPU a lazy work is raised at once, as in Linux.\n\
                irqwork sync <work>: wait until its callback is not running.\n\
                irqwork list [--json]: every irq_work: NAME, FLAGS (P pending, B busy), LAZY,\n\
                RUNS, CPU (last ran on). --json: {\"irq_works\":[{\"name\",\"pending\",\"busy\",\n\
                \"lazy\",\"runs\",\"cpu\" (null: never ran)}]}.",
    run: cmd_irqwork,
}];

fn cmd_irqwork(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let sub = args.word("<subcommand>")?;
    match sub {
        "queue" => queue(ctx, args),
        "sync" => sync(args),
        "list" => list(ctx, args),
        _ => Err(CmdError::usage(format!(
            "unknown subcommand '{sub}' (expected queue, sync or list)"
        ))),
    }
}

/// `irqwork queue <work> [--cpu N] [--lazy] [--fn F]`.
fn queue(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let cpu: Option<usize> = args.option("--cpu")?;
    let lazy = args.flag("--lazy")?;
    let func: Option<Func> = args.option("--fn")?;
    let name = args.word("<work>")?;
    args.finish()?;
    let existing = WORKS.lock().get(name).map(|e| e.func);
    if let Some(Func::Sleep(_)) = func.or(existing) {
        return Err(CmdError::usage(
            "sleep is not allowed in hard IRQ context (irq_work)",
        ));
    }
    util::scheduler()?;
    check_cpu(cpu)?;
    let e = get_or_create(name, Kind::Irq, func, lazy)?;
    let Handle::Irq(w) = e.handle() else {
        unreachable!()
    };
    if w.flags() & irq_work::PENDING != 0 {
        return Ok(queued_flag(ctx, false));
    }
    let here = rtos::port::port().cpu_id();
    e.prepare(Target::Irq(cpu), format!("irq/{}", cpu.unwrap_or(here)));
    let ok = match cpu {
        Some(c) => irq_work::queue_on(w, c).map_err(|err| util::bad_cpu(c, err))?,
        None => irq_work::queue(w),
    };
    Ok(queued_flag(ctx, ok))
}

/// `irqwork sync <work>`.
fn sync(args: &mut Args<'_>) -> Result<u8, CmdError> {
    let name = args.word("<work>")?;
    args.finish()?;
    let e = lookup_work(name)?;
    let Some(Handle::Irq(w)) = e.handle.lock().clone() else {
        return Err(CmdError::runtime(format!(
            "work '{name}' is not an irq_work"
        )));
    };
    irq_work::sync(w).map_err(|err| CmdError::runtime(format!("{err} ({})", err.name())))?;
    Ok(0)
}

/// `irqwork list`: every irq_work, named or not.
fn list(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let json = args.flag("--json")?;
    args.finish()?;
    util::scheduler()?;
    if json {
        let rows = irq_work::list().into_iter().map(|(w, name)| {
            let f = w.flags();
            Obj::new()
                .str("name", &name)
                .bool("pending", f & irq_work::PENDING != 0)
                .bool("busy", f & irq_work::BUSY != 0)
                .bool("lazy", f & irq_work::LAZY != 0)
                .num("runs", w.runs())
                .opt("cpu", w.last_cpu())
                .done()
        });
        let doc = Obj::new().raw("irq_works", &json::array(rows)).done();
        writeln!(ctx, "{doc}");
        return Ok(0);
    }
    writeln!(
        ctx,
        "{:<16} {:<8} {:>4} {:>8} {:>4}",
        "NAME", "FLAGS", "LAZY", "RUNS", "CPU"
    );
    for (w, name) in irq_work::list() {
        let f = w.flags();
        let mut flags = String::new();
        if f & irq_work::PENDING != 0 {
            flags.push('P');
        }
        if f & irq_work::BUSY != 0 {
            flags.push('B');
        }
        if flags.is_empty() {
            flags.push('-');
        }
        writeln!(
            ctx,
            "{} {:<8} {:>4} {:>8} {:>4}",
            util::fit(&name, 16),
            flags,
            if f & irq_work::LAZY != 0 { "yes" } else { "no" },
            w.runs(),
            w.last_cpu().map_or(String::from("-"), |c| format!("{c}")),
        );
    }
    Ok(0)
}
