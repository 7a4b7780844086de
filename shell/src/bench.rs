//! `bench [name...] [--iters N] [--json]`: runs the kernel's benchmark suite (`rtos::bench`)
//! and prints one row per benchmark (sub-cases as `name/case`): min, median, p99 and max in
//! counter ticks and, where the port has a cycle counter, in cycles.
//!
//! `--json` prints the whole result as one line (what `runner bench` extracts):
//!
//! ```text
//! {"bench":1,"hz":62500000,"rows":[{"name":"yield","n":10000,
//!   "ticks":{"min":1,"median":2,"p99":3,"max":4},"cycles":null},...]}
//! ```
//! (on one line; `cycles` has the same shape as `ticks` when measured). A benchmark that cannot
//! run (e.g. `irqwork-remote` with one CPU online) is left out of the rows and reported as an
//! `error:` line (not part of the JSON line); the status is then 1.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use rtos::bench::{self, BENCHES, Row, Stats};

use crate::args::{Args, CmdError};
use crate::ctx::{Command, Ctx};
use crate::util::{json_str, scheduler};

/// Most `--iters` accepted (the samples are kept in memory: 16 bytes each).
const MAX_ITERS: u32 = 1_000_000;

/// `bench`.
pub(crate) const COMMANDS: &[Command] = &[Command {
    name: "bench",
    usage: "bench [name...] [--iters N] [--json]",
    help: "run the kernel benchmark suite",
    long_help: "Runs the named benchmarks (default: all) on this CPU and prints a row per\n\
                benchmark and sub-case (`timers/4096`): N, MIN, MEDIAN, P99, MAX in counter\n\
                ticks, then the same in cycles (- without a cycle counter). Each warms up,\n\
                then measures N iterations (--iters, default 10,000; delayed 100, create\n\
                1,000, hotplug 20), each starting on a tick edge. --json: one JSON line\n\
                instead. Benchmarks: yield, pingpong, park, irqwork, irqwork-remote\n\
                (sender, latency), queue-work (callback, waiter), kworker, taskwork, delayed\n\
                (1ms, 10ms lateness), timers (16, 256, 4096 pending), sched-scale (1, 64,\n\
                1024 ready), create, cancel-work (idle, pending), hotplug (cpu offline +\n\
                online), trace (record, irqwork), boot (kernel entry to first prompt).\n\
                Ctrl-C stops it after the benchmark running (status 130).",
    run: cmd_bench,
}];

/// The `bench` command.
fn cmd_bench(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let json = args.flag("--json")?;
    let iters: Option<u32> = args.option("--iters")?;
    let names = args.rest()?;
    args.finish()?;
    if iters.is_some_and(|n| n == 0 || n > MAX_ITERS) {
        return Err(CmdError::usage(format!(
            "--iters must be from 1 to {MAX_ITERS}"
        )));
    }
    for n in &names {
        if bench::find(n).is_none() {
            let all: Vec<&str> = BENCHES.iter().map(|b| b.name).collect();
            return Err(CmdError::usage(format!(
                "unknown benchmark '{n}' (one of: {})",
                all.join(", ")
            )));
        }
    }
    let p = scheduler()?;
    let selected: Vec<&str> = if names.is_empty() {
        BENCHES.iter().map(|b| b.name).collect()
    } else {
        names
    };
    let mut rows = Vec::new();
    let mut failed = false;
    // The watchdog's heartbeat interrupts would land in the timed paths, and the benchmarks'
    // busy threads are not lockups.
    let _quiet = rtos::watchdog::pause();
    if !json {
        writeln!(ctx, "{}", bench::table_header());
    }
    let mut stopped = false;
    for name in selected {
        // Ctrl-C stops the suite between benchmarks (the rows so far are printed).
        if ctx.interrupted() {
            stopped = true;
            break;
        }
        match bench::run(name, iters.map(|n| n as usize)) {
            Ok(r) => {
                if !json {
                    for row in &r {
                        writeln!(ctx, "{}", row.table_line());
                    }
                }
                rows.extend(r);
            }
            Err(e) => {
                failed = true;
                writeln!(ctx, "error: bench: {name}: {} ({})", why(name, e), e.name());
            }
        }
    }
    if json {
        writeln!(ctx, "{}", to_json(p.ticks_per_second(), &rows));
    } else {
        writeln!(ctx, "(counter ticks at {} Hz)", p.ticks_per_second());
    }
    if stopped {
        return Ok(crate::ctx::INTERRUPTED);
    }
    Ok(u8::from(failed))
}

fn why(name: &str, e: rtos::Error) -> &'static str {
    match (name, e) {
        ("boot", _) => "boot time not recorded",
        ("irqwork-remote", rtos::Error::Invalid) => "needs a second online CPU",
        (_, rtos::Error::NoMemory) => "out of threads or memory",
        (_, rtos::Error::Exists) => "a thread named bench* exists",
        _ => "failed",
    }
}

fn stats_json(s: &Stats) -> String {
    format!(
        "{{\"min\":{},\"median\":{},\"p99\":{},\"max\":{}}}",
        s.min, s.median, s.p99, s.max
    )
}

/// The `--json` line. Row names are the suite's own (`[a-z0-9/-]`); they are escaped anyway.
pub(crate) fn to_json(hz: u64, rows: &[Row]) -> String {
    let mut s = format!("{{\"bench\":1,\"hz\":{hz},\"rows\":[");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let cycles = r
            .cycles
            .as_ref()
            .map_or_else(|| String::from("null"), stats_json);
        let _ = write!(
            s,
            "{{\"name\":{},\"n\":{},\"ticks\":{},\"cycles\":{}}}",
            json_str(&r.name),
            r.n,
            stats_json(&r.ticks),
            cycles
        );
    }
    s.push_str("]}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, cycles: bool) -> Row {
        let s = Stats {
            min: 1,
            median: 2,
            p99: 30,
            max: 400,
        };
        Row {
            name: name.into(),
            n: 10,
            ticks: s,
            cycles: cycles.then_some(Stats {
                min: 16,
                median: 32,
                p99: 480,
                max: 6400,
            }),
        }
    }

    #[test]
    fn json_line() {
        assert_eq!(to_json(100, &[]), "{\"bench\":1,\"hz\":100,\"rows\":[]}");
        let j = to_json(62_500_000, &[row("yield", false), row("timers/16", true)]);
        assert_eq!(
            j,
            "{\"bench\":1,\"hz\":62500000,\"rows\":[\
             {\"name\":\"yield\",\"n\":10,\"ticks\":{\"min\":1,\"median\":2,\"p99\":30,\"max\":400},\"cycles\":null},\
             {\"name\":\"timers/16\",\"n\":10,\"ticks\":{\"min\":1,\"median\":2,\"p99\":30,\"max\":400},\
             \"cycles\":{\"min\":16,\"median\":32,\"p99\":480,\"max\":6400}}]}"
        );
        assert!(!j.contains('\n'));
    }

    #[test]
    fn table_lines() {
        let h = bench::table_header();
        assert!(h.starts_with("BENCH"));
        let a = row("yield", false).table_line();
        assert!(a.starts_with("yield "), "{a}");
        assert!(a.ends_with('-'), "{a}");
        let b = row("timers/16", true).table_line();
        assert!(b.ends_with("6400"), "{b}");
        // Columns line up with the header.
        assert_eq!(a.len(), h.len());
        assert_eq!(b.len(), h.len());
    }
}
