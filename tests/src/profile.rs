//! `runner profile <bench>`: where a benchmark row's instructions go, function by function.
//!
//! The method: boot the image twice under the benchmark's deterministic QEMU
//! ([`ICOUNT_ARGS`](crate::bench::ICOUNT_ARGS)) with every instruction its own translation
//! block and the block log on (`-accel tcg,one-insn-per-tb=on -d exec,nochain`), run the
//! shell's `bench <name> --iters A` in one and `--iters B` in the other, and count the
//! instructions executed at each address (all CPUs). Boot, the shell, the row's setup and its
//! warm-up are the same in both runs, so the difference, divided by `B - A`, is what one more
//! iteration costs, attributed to the function each address is in (the ELF's symbols: with LTO
//! that is the outer function after inlining) or, with `--inlined`, to the innermost function
//! of the DWARF inline chain (the source function the instruction came from).
//!
//! The log is read through a named pipe as QEMU writes it (a run of 2,000 iterations of a
//! 1,000-instruction row is a gigabyte of log). What the CPUs do while the shell waits for its
//! next line depends on real time (idle skipped by `sleep=off`), so a few instructions per
//! iteration of timer and idle code can appear; the row's own functions are exact.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::bench::{ICOUNT_ARGS, elf_of};
use crate::script::{ScriptOpts, resolve_kernel, run_script};
use crate::{Board, build};

/// What to profile and how to show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileOpts {
    /// The benchmark row's name, as the shell's `bench` takes it (`yield`, `pingpong`, ...).
    pub bench: String,
    /// The two iteration counts (the first smaller).
    pub iters: (u32, u32),
    /// How many functions to list.
    pub top: usize,
    /// Attribute to the innermost inlined function instead of the ELF symbol.
    pub inlined: bool,
    /// Also list, address by address, the instructions of the functions whose name contains
    /// this (`--annotate schedule_inner`): executions per iteration, source line and, when
    /// `llvm-objdump` is installed, the instruction.
    pub annotate: Option<String>,
}

impl Default for ProfileOpts {
    fn default() -> Self {
        Self {
            bench: String::new(),
            iters: (200, 400),
            top: 25,
            inlined: false,
            annotate: None,
        }
    }
}

/// Instructions executed per address, and per CPU in all.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Executions of each guest address.
    pub at: HashMap<u64, u64>,
    /// Instructions per CPU index.
    pub per_cpu: Vec<u64>,
}

impl Counts {
    /// Adds one `-d exec` line (`Trace <cpu>: <host> [<cs_base>/<pc>/<flags>/<cflags>] ...`);
    /// other lines are ignored.
    pub fn add_line(&mut self, line: &[u8]) {
        let Some(rest) = line.strip_prefix(b"Trace ") else {
            return;
        };
        let Some(colon) = rest.iter().position(|&b| b == b':') else {
            return;
        };
        let Some(cpu) = std::str::from_utf8(&rest[..colon])
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
        else {
            return;
        };
        let Some(open) = rest.iter().position(|&b| b == b'[') else {
            return;
        };
        let mut fields = rest[open + 1..].split(|&b| b == b'/');
        let (Some(_), Some(pc)) = (fields.next(), fields.next()) else {
            return;
        };
        let Some(pc) = std::str::from_utf8(pc)
            .ok()
            .and_then(|s| u64::from_str_radix(s, 16).ok())
        else {
            return;
        };
        *self.at.entry(pc).or_default() += 1;
        if self.per_cpu.len() <= cpu {
            self.per_cpu.resize(cpu + 1, 0);
        }
        self.per_cpu[cpu] += 1;
    }

    /// Counts every line of `r`.
    pub fn read(r: impl BufRead) -> std::io::Result<Self> {
        let mut c = Counts::default();
        let mut r = r;
        let mut line = Vec::with_capacity(128);
        loop {
            line.clear();
            if r.read_until(b'\n', &mut line)? == 0 {
                return Ok(c);
            }
            c.add_line(&line);
        }
    }
}

/// One function's share of an iteration.
#[derive(Clone, Debug, PartialEq)]
pub struct Share {
    /// The function (or `?? <address>` outside the image's symbols).
    pub name: String,
    /// Instructions per iteration.
    pub per_iter: f64,
}

/// `(b - a) / iterations` per function, largest first, and the total per iteration.
/// `name_of` names an address.
pub fn attribute(
    a: &Counts,
    b: &Counts,
    iterations: u32,
    mut name_of: impl FnMut(u64) -> String,
) -> (Vec<Share>, f64) {
    let mut by_name: HashMap<String, i64> = HashMap::new();
    let mut names: HashMap<u64, String> = HashMap::new();
    for (&pc, &n) in &b.at {
        let d = n as i64 - a.at.get(&pc).copied().unwrap_or(0) as i64;
        if d != 0 {
            let name = names.entry(pc).or_insert_with(|| name_of(pc)).clone();
            *by_name.entry(name).or_default() += d;
        }
    }
    for (&pc, &n) in &a.at {
        if !b.at.contains_key(&pc) {
            let name = names.entry(pc).or_insert_with(|| name_of(pc)).clone();
            *by_name.entry(name).or_default() -= n as i64;
        }
    }
    let it = f64::from(iterations.max(1));
    let total: i64 = by_name.values().sum();
    let mut v: Vec<Share> = by_name
        .into_iter()
        .filter(|(_, d)| *d != 0)
        .map(|(name, d)| Share {
            name,
            per_iter: d as f64 / it,
        })
        .collect();
    v.sort_by(|x, y| {
        y.per_iter
            .abs()
            .total_cmp(&x.per_iter.abs())
            .then_with(|| x.name.cmp(&y.name))
    });
    (v, total as f64 / it)
}

/// `(b - a) / iterations` at each address `keep` accepts, by address (addresses whose count
/// did not change left out).
pub fn per_address(
    a: &Counts,
    b: &Counts,
    iterations: u32,
    mut keep: impl FnMut(u64) -> bool,
) -> Vec<(u64, f64)> {
    let it = f64::from(iterations.max(1));
    let mut pcs: Vec<u64> = a.at.keys().chain(b.at.keys()).copied().collect();
    pcs.sort_unstable();
    pcs.dedup();
    pcs.into_iter()
        .filter_map(|pc| {
            let d = b.at.get(&pc).copied().unwrap_or(0) as i64
                - a.at.get(&pc).copied().unwrap_or(0) as i64;
            (d != 0 && keep(pc)).then(|| (pc, d as f64 / it))
        })
        .collect()
}

/// The instructions of `elf` from `start` to `end` (exclusive) as `llvm-objdump` prints them,
/// by address; empty when it is not installed.
fn disassembly(elf: &Path, start: u64, end: u64) -> HashMap<u64, String> {
    let out = std::process::Command::new("llvm-objdump")
        .args(["-d", "--no-show-raw-insn"])
        .arg(format!("--start-address={start:#x}"))
        .arg(format!("--stop-address={end:#x}"))
        .arg(elf)
        .output();
    let Ok(out) = out else {
        return HashMap::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (addr, insn) = l.trim_start().split_once(':')?;
            let a = u64::from_str_radix(addr.trim(), 16).ok()?;
            let insn = insn.trim();
            (!insn.is_empty()).then(|| (a, insn.split_whitespace().collect::<Vec<_>>().join(" ")))
        })
        .collect()
}

/// The table `runner profile` prints.
pub fn table(shares: &[Share], total: f64, top: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{:>10}  {:>6}  function", "instr/iter", "share");
    for sh in shares.iter().take(top) {
        let pct = if total == 0.0 {
            0.0
        } else {
            100.0 * sh.per_iter / total
        };
        let _ = writeln!(s, "{:>10.1}  {:>5.1}%  {}", sh.per_iter, pct, sh.name);
    }
    if shares.len() > top {
        let rest: f64 = shares[top..].iter().map(|s| s.per_iter).sum();
        let _ = writeln!(
            s,
            "{rest:>10.1}  {:>5.1}%  ({} more functions)",
            if total == 0.0 {
                0.0
            } else {
                100.0 * rest / total
            },
            shares.len() - top
        );
    }
    let _ = writeln!(s, "{total:>10.1}  100.0%  in all, per iteration");
    s
}

/// The ELF's text symbols, sized or not, by address (mapping symbols such as `$x` left out).
fn labels(elf: &[u8]) -> Result<Vec<(u64, String)>, String> {
    use object::{Object, ObjectSymbol, SymbolKind};
    let file = object::File::parse(elf).map_err(|e| e.to_string())?;
    let mut v: Vec<(u64, String)> = file
        .symbols()
        .filter(|s| matches!(s.kind(), SymbolKind::Text | SymbolKind::Unknown) && s.address() != 0)
        .filter_map(|s| {
            let n = s.name().ok()?;
            (!n.is_empty() && !n.starts_with('$')).then(|| {
                let n = addr2line::demangle_auto(n.into(), None);
                (s.address(), crate::symbolize::tidy_name(&n).to_string())
            })
        })
        .collect();
    v.sort();
    v.dedup_by_key(|(a, _)| *a);
    Ok(v)
}

/// Runs the image once with `--iters n`, counting through a named pipe in `dir`.
fn one_run(
    board: Board,
    opts: &ScriptOpts,
    p: &ProfileOpts,
    n: u32,
    dir: &Path,
) -> Result<(Counts, String), String> {
    let fifo = dir.join(format!("{}-{n}.fifo", p.bench.replace('/', "_")));
    let _ = std::fs::remove_file(&fifo);
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .map_err(|e| format!("mkfifo: {e}"))?;
    if !made.success() {
        return Err(format!("mkfifo {} failed", fifo.display()));
    }
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || -> std::io::Result<Counts> {
            let f = std::fs::File::open(&fifo)?;
            Counts::read(BufReader::with_capacity(1 << 20, f))
        })
    };
    let mut o = opts.clone();
    o.extra_args = ICOUNT_ARGS.iter().map(OsString::from).collect();
    for a in [
        "-accel",
        "tcg,one-insn-per-tb=on",
        "-d",
        "exec,nochain",
        "-D",
    ] {
        o.extra_args.push(a.into());
    }
    o.extra_args.push(fifo.clone().into_os_string());
    o.extra_args.extend(opts.extra_args.iter().cloned());
    let outcome = run_script(board, format!("bench {} --iters {n}\n", p.bench), &o);
    // If QEMU never opened the pipe, the reader still waits for a writer: be one, then close.
    if !reader.is_finished() {
        let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
    }
    let counts = reader
        .join()
        .map_err(|_| "the log reader panicked".to_string())?
        .map_err(|e| format!("reading {}: {e}", fifo.display()))?;
    let _ = std::fs::remove_file(&fifo);
    if let Some(e) = outcome
        .transcript
        .lines()
        .find(|l| l.starts_with("error: "))
    {
        return Err(format!("guest: {e}"));
    }
    if outcome.status != 0 {
        return Err(format!(
            "the run with --iters {n} ended with status {}{}",
            outcome.status,
            outcome
                .message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ));
    }
    if counts.at.is_empty() {
        return Err("QEMU logged no instructions (does it know one-insn-per-tb?)".into());
    }
    // The row the guest printed (its median, to set beside the profile).
    let row = outcome
        .transcript
        .lines()
        .find(|l| l.trim_start().starts_with(&p.bench))
        .unwrap_or("")
        .trim()
        .to_string();
    Ok((counts, row))
}

/// A profile: what `runner profile` prints.
#[derive(Clone, Debug)]
pub struct Profile {
    /// Per function, largest first.
    pub shares: Vec<Share>,
    /// Instructions per iteration, in all.
    pub total: f64,
    /// Per CPU, instructions per iteration.
    pub per_cpu: Vec<f64>,
    /// The row each run printed (`--iters A`, `--iters B`).
    pub rows: [String; 2],
    /// With [`ProfileOpts::annotate`]: the listing of the functions it names.
    pub annotated: Option<String>,
}

/// Profiles `p.bench` (see the module docs). `Err` says why it could not.
pub fn profile(board: Board, opts: &ScriptOpts, p: &ProfileOpts) -> Result<Profile, String> {
    let root = opts.root.clone().unwrap_or_else(build::workspace_root);
    let image = resolve_kernel(board, opts).map_err(|e| e.to_string())?;
    let mut o = opts.clone();
    o.kernel = Some(image.clone());
    let dir: PathBuf = build::target_dir(&root).join("profile");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    let mut runs = Vec::new();
    for n in [p.iters.0, p.iters.1] {
        eprintln!("runner: profile: bench {} --iters {n} ...", p.bench);
        runs.push(one_run(board, &o, p, n, &dir)?);
    }
    let elf = elf_of(board, &image);
    let loader =
        addr2line::Loader::new(&elf).map_err(|e| format!("cannot read {}: {e}", elf.display()))?;
    let labels = std::fs::read(&elf)
        .map_err(|e| e.to_string())
        .and_then(|b| labels(&b))
        .map_err(|e| format!("symbols of {}: {e}", elf.display()))?;
    let name_of = |pc: u64| -> String {
        if p.inlined
            && let Ok(mut frames) = loader.find_frames(pc)
            && let Ok(Some(f)) = frames.next()
            && let Some(n) = f.function.as_ref().and_then(|n| n.demangle().ok())
        {
            return crate::symbolize::tidy_name(&n).to_string();
        }
        match loader.find_symbol(pc) {
            Some(s) => {
                crate::symbolize::tidy_name(&addr2line::demangle_auto(s.into(), None)).to_string()
            }
            // An assembly routine's symbol has no size: the nearest label at or below.
            None => match labels.partition_point(|(a, _)| *a <= pc) {
                0 => format!("?? {pc:#x}"),
                i => labels[i - 1].1.clone(),
            },
        }
    };
    let [(a, row_a), (b, row_b)] =
        <[(Counts, String); 2]>::try_from(runs).map_err(|_| "two runs expected".to_string())?;
    let iterations = p.iters.1 - p.iters.0;
    let (shares, total) = attribute(&a, &b, iterations, name_of);
    let per_cpu = b
        .per_cpu
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            (n as f64 - a.per_cpu.get(i).copied().unwrap_or(0) as f64) / f64::from(iterations)
        })
        .collect();
    let annotated = p.annotate.as_deref().map(|want| {
        let symbol_of = |pc: u64| match loader.find_symbol(pc) {
            Some(s) => {
                crate::symbolize::tidy_name(&addr2line::demangle_auto(s.into(), None)).to_string()
            }
            None => match labels.partition_point(|(a, _)| *a <= pc) {
                0 => String::new(),
                i => labels[i - 1].1.clone(),
            },
        };
        let rows = per_address(&a, &b, iterations, |pc| symbol_of(pc).contains(want));
        let insns = match (rows.first(), rows.last()) {
            (Some(f), Some(l)) => disassembly(&elf, f.0, l.0 + 4),
            _ => HashMap::new(),
        };
        let mut s = String::new();
        let _ = writeln!(
            s,
            "\ninstructions of functions named `*{want}*`, per iteration:"
        );
        let mut func = String::new();
        for (pc, n) in &rows {
            let f = symbol_of(*pc);
            if f != func {
                let _ = writeln!(s, "  {f}:");
                func = f;
            }
            let line = loader
                .find_location(*pc)
                .ok()
                .flatten()
                .map(|l| {
                    let file = l.file.unwrap_or("?");
                    let file = file.rsplit_once("/src/").map_or(file, |(_, f)| f);
                    format!("{file}:{}", l.line.unwrap_or(0))
                })
                .unwrap_or_default();
            let insn = insns.get(pc).map(String::as_str).unwrap_or("");
            let _ = writeln!(s, "  {pc:#x} {n:>7.1}  {insn:<40} {line}");
        }
        let sum: f64 = rows.iter().map(|r| r.1).sum();
        let _ = writeln!(s, "  {sum:.1} instructions per iteration in all");
        s
    });
    Ok(Profile {
        shares,
        total,
        per_cpu,
        rows: [row_a, row_b],
        annotated,
    })
}

/// `runner profile`: returns the exit status (0, or 1 when it could not profile).
pub fn run_profile(board: Board, opts: &ScriptOpts, p: &ProfileOpts) -> i32 {
    let prof = match profile(board, opts, p) {
        Ok(prof) => prof,
        Err(e) => {
            eprintln!("runner: profile: {e}");
            return 1;
        }
    };
    println!(
        "profile of `bench {}` on {}: {} - {} iterations, {}",
        p.bench,
        board.name(),
        p.iters.1,
        p.iters.0,
        if p.inlined {
            "by innermost inlined function"
        } else {
            "by ELF symbol"
        }
    );
    for (n, row) in [p.iters.0, p.iters.1].iter().zip(&prof.rows) {
        if !row.is_empty() {
            println!("  --iters {n}: {row}");
        }
    }
    let cpus: Vec<String> = prof
        .per_cpu
        .iter()
        .enumerate()
        .map(|(i, d)| format!("cpu{i} {d:.1}"))
        .collect();
    println!("  per CPU, per iteration: {}", cpus.join(", "));
    print!("{}", table(&prof.shares, prof.total, p.top));
    if let Some(a) = &prof.annotated {
        print!("{a}");
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_lines_are_counted_by_address_and_cpu() {
        let log = b"Trace 0: 0x7f1a08000100 [00004000/0000000040200000/00000521/ff022201] \n\
            Trace 1: 0x7f1a08000240 [00004000/0000000040200040/00000521/ff022201] sym\n\
            Stopped execution of TB chain before 0x7f1a08001e80 [0000000040200130] \n\
            Trace 0: 0x7f1a08000100 [00004000/0000000040200000/00000521/ff022201] \n\
            Trace x: garbage\n";
        let c = Counts::read(&log[..]).unwrap();
        assert_eq!(c.at.get(&0x4020_0000), Some(&2));
        assert_eq!(c.at.get(&0x4020_0040), Some(&1));
        assert_eq!(c.at.len(), 2);
        assert_eq!(c.per_cpu, vec![2, 1]);
    }

    #[test]
    fn the_difference_is_shared_out_per_iteration() {
        let mut a = Counts::default();
        let mut b = Counts::default();
        // Boot code (0x10) the same in both; f (0x20, 0x24) 3 more per iteration; g (0x30)
        // only in the longer run, 1 per iteration; h (0x40) only in the shorter one.
        a.at.extend([(0x10, 500), (0x20, 100), (0x24, 100), (0x40, 10)]);
        b.at.extend([(0x10, 500), (0x20, 250), (0x24, 250), (0x30, 100)]);
        let name = |pc: u64| match pc {
            0x20 | 0x24 => "f".to_string(),
            0x30 => "g".to_string(),
            0x40 => "h".to_string(),
            _ => "boot".to_string(),
        };
        let (shares, total) = attribute(&a, &b, 100, name);
        assert_eq!(
            shares,
            vec![
                Share {
                    name: "f".into(),
                    per_iter: 3.0
                },
                Share {
                    name: "g".into(),
                    per_iter: 1.0
                },
                Share {
                    name: "h".into(),
                    per_iter: -0.1
                },
            ]
        );
        assert!((total - 3.9).abs() < 1e-9);
        assert_eq!(
            per_address(&a, &b, 100, |pc| pc != 0x24),
            vec![(0x20, 1.5), (0x30, 1.0), (0x40, -0.1)]
        );
        let t = table(&shares, total, 2);
        assert!(t.contains("       3.0   76.9%  f\n"), "{t}");
        assert!(t.contains("(1 more functions)"), "{t}");
        assert!(
            t.ends_with("       3.9  100.0%  in all, per iteration\n"),
            "{t}"
        );
    }
}
