//! `ps`: one row (or JSON object) per kthread.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use rtos::kthread;
use rtos::sched::{ThreadInfo, Tid};

use super::shared::{Kind, SPAWNED, STOP_PENDING, Shared, state_name};
use crate::args::{Args, CmdError};
use crate::ctx::{Command, Ctx};
use crate::util::{VecMap, json_str};

/// Bytes for `ps`: `512B`, `16K`, `1.5K`, `2M`.
fn show_size(n: usize) -> String {
    const K: usize = 1024;
    if n < K {
        format!("{n}B")
    } else if n < K * K {
        if n.is_multiple_of(K) {
            format!("{}K", n / K)
        } else {
            format!("{}.{}K", n / K, n % K * 10 / K)
        }
    } else if n.is_multiple_of(K * K) {
        format!("{}M", n / (K * K))
    } else {
        format!("{}.{}M", n / (K * K), n % (K * K) * 10 / (K * K))
    }
}

/// `ps`.
pub(crate) const COMMANDS: &[Command] = &[Command {
    name: "ps",
    usage: "ps [<t>] [--json] [-o field]",
    help: "list kernel threads",
    long_help: "One row per kthread: TID, NAME, STATE (created, ready, running, sleeping,\n\
                    parked, stopping = stop requested but not exited yet, exited), CPU (running\n\
                    on or last ran on), PRIO, RUNTIME (time on a CPU), SWITCHES (times switched\n\
                    in), STACK (most bytes used / size), COUNT (counter threads, else -).\n\
                    --json: one JSON object per line and thread, with the fields tid, ppid (the\n\
                    creator: kthreadd for threads created after boot, 0 for the boot path),\n\
                    name, state, cpu, prio, runtime_ms, runtime_us, switches, stack_used,\n\
                    stack_size (bytes), count, bound and result (null where they do not apply).\n\
                    <t>: only that thread (a name or tid; status 1 if there is none).\n\
                    -o field: only that field's value, one line per thread (- for null), e.g.\n\
                    `tid=$(ps c1 -o tid)`, `if [ $(ps c1 -o state) = parked ]; then ...`.",
    run: cmd_ps,
}];

/// One thread's row in `ps`, gathered once.
struct Row {
    info: ThreadInfo,
    /// Run time in microseconds.
    runtime_us: u64,
    /// A counter's count.
    count: Option<u64>,
}

fn cmd_ps(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let json = args.flag("--json")?;
    let field: Option<String> = args.option("-o")?;
    let only: Option<String> = args.next_opt()?;
    args.finish()?;
    if json && field.is_some() {
        return Err(CmdError::usage("--json and -o together"));
    }
    if let Some(f) = &field
        && !FIELDS.contains(&f.as_str())
    {
        return Err(CmdError::usage(format!(
            "unknown field '{f}' (expected one of {})",
            FIELDS.join(", ")
        )));
    }
    let mut threads = kthread::list();
    if let Some(key) = &only {
        let tid = crate::util::lookup(key)?.tid();
        threads.retain(|t| t.tid() == tid);
    }
    let spawned: VecMap<Tid, Arc<Shared>> = {
        let mut spawned = SPAWNED.lock();
        spawned.retain(|tid, _| threads.iter().any(|t| t.tid() == *tid));
        STOP_PENDING
            .lock()
            .retain(|tid, _| threads.iter().any(|t| t.tid() == *tid));
        spawned.clone()
    };
    let rows = threads.iter().map(|t| {
        let info = t.info();
        Row {
            runtime_us: crate::util::nanos(info.runtime) / 1_000,
            count: spawned
                .get(&t.tid())
                .filter(|s| s.kind == Kind::Counter)
                .map(|s| s.count.load(Ordering::Relaxed)),
            info,
        }
    });
    if let Some(f) = field {
        for row in rows {
            let value = fields(&row)
                .into_iter()
                .find(|(k, _)| *k == f)
                .map(|(_, v)| v)
                .unwrap_or_default();
            let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(_) if f == "name" => row.info.name.clone(),
                Some(v) => v.into(),
                None if value == "null" => "-".into(),
                None => value,
            };
            writeln!(ctx, "{value}");
        }
        return Ok(0);
    }
    if !json {
        writeln!(
            ctx,
            "{:>5}  {:<16} {:<8}  {:>3}  {:>4}  {:>9}  {:>8}  {:>11}  {:>8}",
            "TID", "NAME", "STATE", "CPU", "PRIO", "RUNTIME", "SWITCHES", "STACK", "COUNT"
        );
    }
    for row in rows {
        if json {
            writeln!(ctx, "{}", json_row(&row));
        } else {
            let i = &row.info;
            writeln!(
                ctx,
                "{:>5}  {} {:<8}  {:>3}  {:>4}  {:>9}  {:>8}  {:>11}  {:>8}",
                i.tid,
                crate::util::fit(&i.name, 16),
                state_name(i),
                i.cpu,
                i.prio,
                crate::util::show_span(core::time::Duration::from_micros(row.runtime_us)),
                i.switches,
                format!("{}/{}", show_size(i.stack_used), show_size(i.stack_size)),
                row.count.map_or(String::from("-"), |c| format!("{c}")),
            );
        }
    }
    Ok(0)
}

/// What `-o` can print: the `--json` field names.
const FIELDS: &[&str] = &[
    "tid",
    "ppid",
    "name",
    "state",
    "cpu",
    "prio",
    "runtime_ms",
    "runtime_us",
    "switches",
    "stack_used",
    "stack_size",
    "count",
    "bound",
    "result",
];

/// A row's fields as JSON values, in [`FIELDS`] order.
fn fields(row: &Row) -> [(&'static str, String); 14] {
    let i = &row.info;
    let opt = |v: Option<i64>| v.map_or(String::from("null"), |v| format!("{v}"));
    [
        ("tid", format!("{}", i.tid)),
        ("ppid", format!("{}", i.parent)),
        ("name", json_str(&i.name)),
        ("state", format!("\"{}\"", state_name(i))),
        ("cpu", format!("{}", i.cpu)),
        ("prio", format!("{}", i.prio)),
        ("runtime_ms", format!("{}", row.runtime_us / 1_000)),
        ("runtime_us", format!("{}", row.runtime_us)),
        ("switches", format!("{}", i.switches)),
        ("stack_used", format!("{}", i.stack_used)),
        ("stack_size", format!("{}", i.stack_size)),
        ("count", opt(row.count.map(|c| c as i64))),
        ("bound", opt(i.bound.map(|b| b as i64))),
        ("result", opt(i.result.map(i64::from))),
    ]
}

/// One `ps --json` line.
fn json_row(row: &Row) -> String {
    let mut o = String::from("{");
    for (n, (k, v)) in fields(row).iter().enumerate() {
        if n > 0 {
            o.push(',');
        }
        o.push_str(&format!("\"{k}\":{v}"));
    }
    o.push('}');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_for_ps() {
        assert_eq!(show_size(0), "0B");
        assert_eq!(show_size(1023), "1023B");
        assert_eq!(show_size(16384), "16K");
        assert_eq!(show_size(1536), "1.5K");
        assert_eq!(show_size(2 << 20), "2M");
    }
}
