//! The `runner` command line.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use crate::script::{DEFAULT_TIMEOUT, ScriptOpts};
use crate::{Board, MAX_SMP};

/// `runner --help`.
pub const USAGE: &str = "\
runner: build the RTOS kernel and run it in QEMU

usage:
  runner run [virt|rpi4] [--smp N] [--kernel PATH] [-- QEMU-ARGS...]
      build, then run QEMU on this terminal (Ctrl-] X quits, Ctrl-] C: QEMU monitor; Ctrl-A is
      the line editor's); exits with QEMU's status
  runner script <FILE|-> [virt|rpi4] [--timeout SECS] [--smp N] [--kernel PATH]
                [--fail-on-watchdog] [--raw] [--allow-missing-cpus] [-- QEMU-ARGS...]
      build, boot, feed FILE (or stdin) to the shell once its first prompt appears, then `exit`;
      prints the serial transcript (LF line ends, without the shell's terminal probe; --raw:
      every byte as it came) and exits with the guest's status, or
        101  a line starting with `KERNEL PANIC` appeared
        122  fewer CPUs came online than the machine has (banner `cpus: N/M online`); the
             message says how many; --allow-missing-cpus keeps the guest's status instead
        123  with --fail-on-watchdog: the guest ended by itself, but the kernel's watchdog
             reported something (a line with `WATCHDOG: `); the count goes to stderr anyway
        124  no `rtos> ` prompt, or the guest did not end, within SECS (default 60; QEMU killed)
        125  the build or QEMU failed to start
  runner trace <FILE> [virt|rpi4] [--out DIR] [script options]
      `runner script FILE`, then export the `trace dump` in its transcript: writes DIR/NAME.log
      (the transcript), DIR/NAME.json (Chrome/Perfetto trace events: open it in
      ui.perfetto.dev or chrome://tracing) and DIR/NAME.ctf/ (CTF: `babeltrace2 DIR/NAME.ctf`);
      DIR defaults to target/trace, NAME is FILE's stem. Exits with the script's status, or 1
      if the transcript holds no valid dump or the JSON breaks what viewers need (slices that
      overlap without nesting, arrows that end outside a slice; it is written all the same)
  runner trace-export <FILE> [--out DIR]
      the same export from a saved transcript (or dump) FILE, beside it unless --out
  runner image [rpi4] [--out DIR] [--kernel PATH] [--firmware]
      write kernel8.img and config.txt for a Raspberry Pi 4 SD card (default DIR target/rpi4-sd);
      --firmware adds start4.elf and fixup4.dat (Debian raspi-firmware) and bcm2711-rpi-4-b.dtb
      (Debian's arm64 kernel package), fetched once into target/firmware through a private apt
      state (no root, the system unchanged), lists every file with its size and SHA-256 and
      writes DIR/SHA256SUMS
  runner push [rpi4|virt] [--tty DEV] [--image PATH] [--tag TEXT] [--check] [--timeout SECS]
              [--kernel PATH] [--smp N] [-- QEMU-ARGS...]
      send a kernel image to the shell's `reload` and watch the new kernel come up. With --tty,
      to a real board on serial device DEV (set to 115200 8N1 with stty); else to QEMU, which
      first boots --kernel (default: the fresh build), then `exit`s once the new kernel's prompt
      appears. The image is --image (a flat binary) or the board's fresh build (kernel8.img,
      qemu-virt.bin); --tag TEXT writes a build tag into a copy of it, which the new banner
      shows (`  build: TEXT`); --check only has the kernel verify it. Exits 0 when the new
      kernel came up (with --check: the image was accepted), 1 when the kernel refused the
      image, 101 on a kernel panic, 124 on a timeout (default 120 s), 125 when a build or QEMU
      failed to start
  runner soak [virt|rpi4] [--minutes N] [--seed S] [--smp N] [--kernel PATH] [--log FILE]
              [--echo] [-- QEMU-ARGS...]
      boot, then drive a reproducible random workload (seed S, default 1) through the shell for
      N minutes (default 1, fractions allowed): every deferred-work mechanism, thread controls,
      stress rounds, CPUs 1-3 offline and online; then tear it all down and check from the
      kernel's counters that every work submitted was executed or cancelled exactly once, every
      thread was in its expected state, nothing panicked, hung or made the watchdog report, and
      heap and pools are back at their level after a warm-up round. Prints one summary line;
      writes the transcript to FILE (default target/soak/BOARD-S.log). Exits 0 if all held, 1
      on a mismatch, 101 on a panic, 124 on a hang, 125 if QEMU failed to start
  runner build [virt|rpi4|all]
      build the kernel image(s) and print their paths
  runner bench [virt|rpi4] [--kernel PATH] [--out FILE] [--timeout SECS] [--allow-missing-cpus]
               [-- QEMU-ARGS...]
      build, boot under `-icount shift=4,align=off,sleep=off`, run the shell's `bench --json`;
      print the table and the image's section sizes, write FILE (default target/bench/BOARD.json)
  runner check [PATHS...] [--board virt|rpi4|all] [--junit FILE] [--jobs N] [--timeout SECS]
               [--kernel PATH] [--allow-missing-cpus]
      run each .rsh script of PATHS (files, or folders; default tests/scripts) in QEMU as a
      suite, --jobs at once (default 2), on --board (default virt): one PASS/FAIL/SKIP line per
      script and board, then `N passed, N failed, N skipped`; transcripts in target/check/BOARD/;
      --junit writes JUnit XML. A script's `# check:` front matter sets boards=, status=,
      timeout=, smp= or skip=<reason> (README: Test suites). Exits 1 if any failed
  runner profile BENCH [virt|rpi4] [--iters A,B] [--top N] [--inlined] [--annotate FN] [--smp N] [--kernel PATH]
                 [--timeout SECS] [-- QEMU-ARGS...]
      where one iteration of the shell's `bench BENCH` spends its instructions: two runs under
      the bench's -icount with every instruction logged (one-insn-per-tb), --iters A and B
      (default 200,400); the difference per iteration, by function (ELF symbol; --inlined: the
      innermost inlined source function), the --top (default 25) largest; --annotate FN also
      lists FN's instructions (functions whose name contains FN) with their counts per iteration
  runner bench-check [--baseline FILE]... [--current FILE]... [--tolerance PCT] [--ignore PREFIX]...
      fail (status 1) if a row's MEDIAN in FILE (default target/bench/virt.json) is more than 5%
      (--tolerance) above the baseline's (default bench/baseline.json), or a baseline row is
      missing; rows whose name starts with an --ignore PREFIX are not compared. Several files on
      a side: each row's lowest median among them (the best of several runs)

The board defaults to virt (image and push: rpi4). --smp (virt only, 1..=8) defaults to 4.
--kernel skips the build and boots the given image (an ELF for virt, kernel8.img for rpi4).
Environment: RUNNER_QEMU replaces qemu-system-aarch64.
";

/// Where a script comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `-`: read stdin to the end first.
    Stdin,
    /// A file.
    File(PathBuf),
}

/// A parsed command line.
#[derive(Clone, Debug)]
pub enum Cmd {
    /// `runner run`.
    Run {
        /// Board.
        board: Board,
        /// Options (only `smp`, `kernel`, `extra_args` matter).
        opts: ScriptOpts,
    },
    /// `runner script`.
    Script {
        /// Script source.
        source: Source,
        /// Board.
        board: Board,
        /// Options.
        opts: ScriptOpts,
    },
    /// `runner image`.
    Image {
        /// Output folder (`None`: `target/rpi4-sd`).
        out: Option<PathBuf>,
        /// A prebuilt `kernel8.img` to copy instead of building.
        kernel: Option<PathBuf>,
        /// Add the firmware files and the device tree from Debian's packages.
        firmware: bool,
    },
    /// `runner build`.
    Build {
        /// Boards to build.
        boards: Vec<Board>,
    },
    /// `runner bench`.
    Bench {
        /// Board.
        board: Board,
        /// Options (`kernel`, `timeout`, `extra_args`).
        opts: ScriptOpts,
        /// Result file (`None`: `target/bench/<board>.json`).
        out: Option<PathBuf>,
    },
    /// `runner check`: a folder of scripts as a suite.
    Check {
        /// Options.
        opts: crate::check::CheckOpts,
    },
    /// `runner bench-check`.
    BenchCheck {
        /// What to compare, and how.
        check: crate::bench::CheckOpts,
    },
    /// `runner trace`: a script run whose transcript's trace dump is exported.
    Trace {
        /// Script file.
        source: Source,
        /// Board.
        board: Board,
        /// Options.
        opts: ScriptOpts,
        /// Output folder (`None`: `target/trace`).
        out: Option<PathBuf>,
    },
    /// `runner trace-export`: export the dump in a file (a transcript, or a dump alone).
    TraceExport {
        /// The file.
        file: PathBuf,
        /// Output folder (`None`: beside the file).
        out: Option<PathBuf>,
    },
    /// `runner profile`.
    Profile {
        /// Board.
        board: Board,
        /// Options (`kernel`, `smp`, `timeout`, `extra_args`).
        opts: ScriptOpts,
        /// What to profile.
        profile: crate::profile::ProfileOpts,
    },
    /// `runner soak`.
    Soak {
        /// Board.
        board: Board,
        /// Options.
        opts: crate::soak::SoakOpts,
    },
    /// `runner push`.
    Push {
        /// Board.
        board: Board,
        /// A serial device instead of QEMU.
        tty: Option<PathBuf>,
        /// Options.
        opts: crate::push::PushOpts,
    },
    /// `runner help`, `--help`, `-h`.
    Help,
}

/// An option `s` of `sub` that takes a value (`--name value` or `--name=value`): its name and
/// value, or why not (not in `allowed`, no value).
fn option_value(
    sub: &str,
    s: &str,
    allowed: &[&str],
    it: &mut std::slice::Iter<'_, OsString>,
) -> Result<(String, OsString), String> {
    let (name, inline) = match s.split_once('=') {
        Some((n, v)) => (n.to_string(), Some(OsString::from(v))),
        None => (s.to_string(), None),
    };
    if !allowed.contains(&name.as_str()) {
        return Err(format!("`{sub}` does not take option `{name}`"));
    }
    let v = inline
        .or_else(|| it.next().cloned())
        .ok_or_else(|| format!("{name} needs a value"))?;
    Ok((name, v))
}

/// `--smp` is for `virt` only: the Pi 4 always has 4 CPUs.
fn smp_on_virt_only(board: Board, smp: Option<u32>) -> Result<(), String> {
    if board == Board::Rpi4 && smp.is_some() {
        return Err("--smp is only for virt (the Pi 4 always has 4 CPUs)".into());
    }
    Ok(())
}

/// A board named as a positional argument (at most one).
fn board_positional(board: &mut Option<Board>, s: &str) -> Result<(), String> {
    if board.is_some() {
        return Err(format!("unexpected argument `{s}`"));
    }
    *board = Some(Board::parse(s).ok_or_else(|| format!("unknown board `{s}` (virt or rpi4)"))?);
    Ok(())
}

/// Walks the arguments of a command that takes a board, flags, options with a value and
/// `--` QEMU arguments (`push`, `soak`): the board goes to `board`, what follows `--` to
/// `extra`, each flag to `on(flag, None)` and each option to `on(name, Some(value))`.
/// `Ok(true)` for `-h`/`--help`.
fn walk_args(
    sub: &str,
    args: &[OsString],
    (flags, options): (&[&str], &[&str]),
    board: &mut Option<Board>,
    extra: &mut Vec<OsString>,
    mut on: impl FnMut(&str, Option<String>) -> Result<(), String>,
) -> Result<bool, String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let s = a.to_string_lossy().into_owned();
        if s == "--" {
            extra.extend(it.by_ref().cloned());
            break;
        }
        if s == "-h" || s == "--help" {
            return Ok(true);
        }
        if flags.contains(&s.as_str()) {
            on(&s, None)?;
        } else if !s.starts_with('-') {
            board_positional(board, &s)?;
        } else {
            let (name, v) = option_value(sub, &s, options, &mut it)?;
            on(&name, Some(v.to_string_lossy().into_owned()))?;
        }
    }
    Ok(false)
}

/// `runner push ...` (after the command word).
fn parse_push(args: &[OsString]) -> Result<Cmd, String> {
    let mut board = None;
    let mut tty = None;
    let mut extra = Vec::new();
    let mut opts = crate::push::PushOpts {
        echo: true,
        quiet_build: false,
        ..crate::push::PushOpts::default()
    };
    let options = [
        "--tty",
        "--image",
        "--kernel",
        "--tag",
        "--timeout",
        "--smp",
    ];
    let help = walk_args(
        "push",
        args,
        (&["--check"], &options),
        &mut board,
        &mut extra,
        |name, v| {
            let v = v.unwrap_or_default();
            match name {
                "--check" => opts.check = true,
                "--tty" => tty = Some(PathBuf::from(v)),
                "--image" => opts.image = Some(PathBuf::from(v)),
                "--kernel" => opts.kernel = Some(PathBuf::from(v)),
                "--tag" => opts.tag = Some(v),
                "--timeout" => opts.timeout = parse_timeout(&v)?,
                _ => opts.smp = Some(parse_smp(&v)?),
            }
            Ok(())
        },
    )?;
    if help {
        return Ok(Cmd::Help);
    }
    opts.extra_args = extra;
    let board = board.unwrap_or(Board::Rpi4);
    if tty.is_some() && (opts.kernel.is_some() || opts.smp.is_some() || !opts.extra_args.is_empty())
    {
        return Err("--kernel, --smp and QEMU arguments are for QEMU, not with --tty".into());
    }
    smp_on_virt_only(board, opts.smp)?;
    Ok(Cmd::Push { board, tty, opts })
}

/// `runner profile BENCH ...` (after the command word).
fn parse_profile(args: &[OsString]) -> Result<Cmd, String> {
    let (first, rest) = args
        .split_first()
        .ok_or("profile needs a benchmark row's name (e.g. `runner profile yield`)")?;
    let bench = first.to_string_lossy().into_owned();
    if bench == "-h" || bench == "--help" {
        return Ok(Cmd::Help);
    }
    if bench.starts_with('-') || bench.contains(char::is_whitespace) {
        return Err(format!(
            "profile needs a benchmark row's name first (e.g. `runner profile yield`), not `{bench}`"
        ));
    }
    let mut board = None;
    let mut extra = Vec::new();
    let mut profile = crate::profile::ProfileOpts {
        bench,
        ..Default::default()
    };
    let mut opts = ScriptOpts {
        timeout: crate::bench::BENCH_TIMEOUT,
        echo: false,
        ..ScriptOpts::default()
    };
    let options = [
        "--iters",
        "--top",
        "--annotate",
        "--smp",
        "--kernel",
        "--timeout",
    ];
    let help = walk_args(
        "profile",
        rest,
        (&["--inlined"], &options),
        &mut board,
        &mut extra,
        |name, v| {
            let v = v.unwrap_or_default();
            match name {
                "--inlined" => profile.inlined = true,
                "--annotate" => {
                    if v.trim().is_empty() {
                        return Err("--annotate wants (part of) a function's name".into());
                    }
                    profile.annotate = Some(v.trim().to_string());
                }
                "--iters" => {
                    let pair = v.split_once(',').and_then(|(a, b)| {
                        Some((a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?))
                    });
                    profile.iters = match pair {
                        Some((a, b)) if a >= 1 && a < b && b <= 100_000 => (a, b),
                        _ => {
                            return Err(format!(
                                "--iters wants two counts A,B with 1 <= A < B <= 100000, not `{v}`"
                            ));
                        }
                    }
                }
                "--top" => {
                    profile.top = v
                        .parse()
                        .ok()
                        .filter(|&n| n >= 1)
                        .ok_or_else(|| format!("--top wants a count of 1 or more, not `{v}`"))?
                }
                "--smp" => opts.smp = Some(parse_smp(&v)?),
                "--kernel" => opts.kernel = Some(PathBuf::from(v)),
                _ => opts.timeout = parse_timeout(&v)?,
            }
            Ok(())
        },
    )?;
    if help {
        return Ok(Cmd::Help);
    }
    opts.extra_args = extra;
    let board = board.unwrap_or(Board::Virt);
    smp_on_virt_only(board, opts.smp)?;
    Ok(Cmd::Profile {
        board,
        opts,
        profile,
    })
}

/// `runner soak ...` (after the command word).
fn parse_soak(args: &[OsString]) -> Result<Cmd, String> {
    let mut board = None;
    let mut extra = Vec::new();
    let mut opts = crate::soak::SoakOpts::default();
    let options = ["--minutes", "--seed", "--smp", "--kernel", "--log"];
    let help = walk_args(
        "soak",
        args,
        (&["--echo"], &options),
        &mut board,
        &mut extra,
        |name, v| {
            let v = v.unwrap_or_default();
            match name {
                "--echo" => opts.echo = true,
                "--minutes" => match v.parse::<f64>() {
                    Ok(m) if m.is_finite() && m > 0.0 && m <= 7.0 * 24.0 * 60.0 => {
                        opts.duration = Duration::from_secs_f64(m * 60.0);
                    }
                    _ => {
                        return Err(format!(
                            "--minutes wants a number of minutes above 0 (at most a week), not `{v}`"
                        ));
                    }
                },
                "--seed" => {
                    let parsed = match v.strip_prefix("0x") {
                        Some(hex) => u64::from_str_radix(hex, 16).ok(),
                        None => v.parse::<u64>().ok(),
                    };
                    opts.seed =
                        parsed.ok_or_else(|| format!("--seed wants a number, not `{v}`"))?;
                }
                "--smp" => opts.smp = Some(parse_smp(&v)?),
                "--kernel" => opts.kernel = Some(PathBuf::from(v)),
                _ => opts.log = Some(PathBuf::from(v)),
            }
            Ok(())
        },
    )?;
    if help {
        return Ok(Cmd::Help);
    }
    opts.extra_args = extra;
    let board = board.unwrap_or(Board::Virt);
    smp_on_virt_only(board, opts.smp)?;
    Ok(Cmd::Soak { board, opts })
}

/// `runner trace-export FILE [--out DIR]` (after the command word).
fn parse_trace_export(args: &[OsString]) -> Result<Cmd, String> {
    let mut file = None;
    let mut out = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--out" {
            out = Some(PathBuf::from(it.next().ok_or("--out needs a value")?));
        } else if let Some(v) = s.strip_prefix("--out=") {
            out = Some(PathBuf::from(v));
        } else if s.starts_with('-') {
            return Err(format!("`trace-export` does not take option `{s}`"));
        } else if file.replace(PathBuf::from(a)).is_some() {
            return Err(format!("unexpected argument `{s}`"));
        }
    }
    let file = file.ok_or("trace-export needs a file (a transcript holding a `trace dump`)")?;
    Ok(Cmd::TraceExport { file, out })
}

/// Parses `--timeout`: seconds, optionally fractional, optionally suffixed with `s`.
pub fn parse_timeout(s: &str) -> Result<Duration, String> {
    let n = s.strip_suffix('s').unwrap_or(s);
    match n.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v < 1e9 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!(
            "--timeout wants a positive number of seconds, not `{s}`"
        )),
    }
}

/// Parses `--smp`: 1..=8.
pub fn parse_smp(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if (1..=MAX_SMP).contains(&n) => Ok(n),
        _ => Err(format!(
            "--smp wants a CPU count from 1 to {MAX_SMP}, not `{s}`"
        )),
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: &[OsString]) -> Result<Cmd, String> {
    let mut it = args.iter();
    let sub = match it.next() {
        None => return Err("missing command (run, script, image, build)".into()),
        Some(s) => s.to_string_lossy().into_owned(),
    };
    if matches!(sub.as_str(), "help" | "--help" | "-h") {
        return Ok(Cmd::Help);
    }
    if sub == "check" {
        return parse_check(it.as_slice());
    }
    if sub == "bench" || sub == "bench-check" {
        return parse_bench(&sub, it.as_slice());
    }
    if sub == "trace-export" {
        return parse_trace_export(it.as_slice());
    }
    if sub == "push" {
        return parse_push(it.as_slice());
    }
    if sub == "profile" {
        return parse_profile(it.as_slice());
    }
    if sub == "soak" {
        return parse_soak(it.as_slice());
    }
    if !matches!(sub.as_str(), "run" | "script" | "trace" | "image" | "build") {
        return Err(format!("unknown command `{sub}`"));
    }

    let mut positional: Vec<OsString> = Vec::new();
    let mut timeout: Option<Duration> = None;
    let mut smp: Option<u32> = None;
    let mut kernel: Option<PathBuf> = None;
    let mut fail_on_watchdog = false;
    let mut raw = false;
    let mut firmware = false;
    let mut allow_missing_cpus = false;
    let mut out: Option<PathBuf> = None;
    let mut extra: Vec<OsString> = Vec::new();

    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--" {
            extra.extend(it.by_ref().cloned());
            break;
        }
        if s == "-" || !s.starts_with('-') {
            positional.push(a.clone());
            continue;
        }
        if s == "-h" || s == "--help" {
            return Ok(Cmd::Help);
        }
        if s == "--fail-on-watchdog" {
            if !matches!(sub.as_str(), "script" | "trace") {
                return Err(format!("`{sub}` does not take option `{s}`"));
            }
            fail_on_watchdog = true;
            continue;
        }
        if s == "--allow-missing-cpus" {
            if !matches!(sub.as_str(), "script" | "trace") {
                return Err(format!("`{sub}` does not take option `{s}`"));
            }
            allow_missing_cpus = true;
            continue;
        }
        if s == "--raw" {
            if sub != "script" {
                return Err(format!("`{sub}` does not take option `{s}`"));
            }
            raw = true;
            continue;
        }
        if s == "--firmware" {
            if sub != "image" {
                return Err(format!("`{sub}` does not take option `{s}`"));
            }
            firmware = true;
            continue;
        }
        let (name, inline) = match s.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(OsString::from(v))),
            None => (s.to_string(), None),
        };
        let mut value = || -> Result<OsString, String> {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let allowed: &[&str] = match sub.as_str() {
            "run" => &["--smp", "--kernel"],
            "script" => &["--timeout", "--smp", "--kernel"],
            "trace" => &["--timeout", "--smp", "--kernel", "--out"],
            "image" => &["--out", "--kernel"],
            _ => &[],
        };
        if !allowed.contains(&name.as_str()) {
            return Err(format!("`{sub}` does not take option `{name}`"));
        }
        match name.as_str() {
            "--timeout" => timeout = Some(parse_timeout(&value()?.to_string_lossy())?),
            "--smp" => smp = Some(parse_smp(&value()?.to_string_lossy())?),
            "--kernel" => kernel = Some(PathBuf::from(value()?)),
            "--out" => out = Some(PathBuf::from(value()?)),
            _ => unreachable!("checked against `allowed`"),
        }
    }
    if !extra.is_empty() && !matches!(sub.as_str(), "run" | "script" | "trace") {
        return Err(format!("`{sub}` does not take QEMU arguments"));
    }

    let mut pos = positional.into_iter();
    let source = if sub == "trace" {
        let f = pos.next().ok_or("trace needs a script file")?;
        Some(Source::File(PathBuf::from(f)))
    } else if sub == "script" {
        let f = pos.next().ok_or("script needs a file (or `-` for stdin)")?;
        Some(if f == "-" {
            Source::Stdin
        } else {
            Source::File(PathBuf::from(f))
        })
    } else {
        None
    };
    let board_arg = pos.next().map(|b| b.to_string_lossy().into_owned());
    if let Some(x) = pos.next() {
        return Err(format!("unexpected argument `{}`", x.to_string_lossy()));
    }
    let board_of =
        |b: &str| Board::parse(b).ok_or_else(|| format!("unknown board `{b}` (virt or rpi4)"));

    if sub == "build" {
        let boards = match board_arg.as_deref() {
            None | Some("all") => Board::ALL.to_vec(),
            Some(b) => vec![board_of(b)?],
        };
        return Ok(Cmd::Build { boards });
    }
    if sub == "image" {
        if let Some(b) = board_arg.as_deref()
            && board_of(b)? != Board::Rpi4
        {
            return Err(
                "only rpi4 has an SD-card image; the virt kernel is the ELF \
                 target/aarch64-unknown-none-softfloat/release/qemu-virt"
                    .into(),
            );
        }
        return Ok(Cmd::Image {
            out,
            kernel,
            firmware,
        });
    }
    let board = match board_arg.as_deref() {
        None => Board::Virt,
        Some(b) => board_of(b)?,
    };
    smp_on_virt_only(board, smp)?;
    let opts = ScriptOpts {
        timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
        smp,
        kernel,
        echo: true,
        extra_args: extra,
        quiet_build: false,
        fail_on_watchdog,
        raw,
        allow_missing_cpus,
        ..ScriptOpts::default()
    };
    if sub == "trace" {
        let Some(source) = source else {
            unreachable!("trace always has a source")
        };
        return Ok(Cmd::Trace {
            source,
            board,
            opts,
            out,
        });
    }
    Ok(match source {
        Some(source) => Cmd::Script {
            source,
            board,
            opts,
        },
        None => Cmd::Run { board, opts },
    })
}

/// `runner bench ...` and `runner bench-check ...` (after the command word).
/// `runner check [PATHS...] [--board virt|rpi4|all] [--junit FILE] [--jobs N] [--timeout SECS]
/// [--kernel PATH] [--allow-missing-cpus]`.
fn parse_check(args: &[OsString]) -> Result<Cmd, String> {
    let mut it = args.iter();
    let mut paths = Vec::new();
    let mut boards = vec![Board::Virt];
    let mut junit = None;
    let mut jobs = 2;
    let mut script = ScriptOpts {
        echo: false,
        ..ScriptOpts::default()
    };
    while let Some(a) = it.next() {
        let s = a.to_string_lossy().into_owned();
        if s == "-h" || s == "--help" {
            return Ok(Cmd::Help);
        }
        if !s.starts_with('-') {
            paths.push(PathBuf::from(a));
            continue;
        }
        if s == "--allow-missing-cpus" {
            script.allow_missing_cpus = true;
            continue;
        }
        let (name, inline) = match s.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(OsString::from(v))),
            None => (s.clone(), None),
        };
        let v = || -> Result<String, String> {
            Ok(inline
                .clone()
                .or_else(|| it.clone().next().cloned())
                .ok_or_else(|| format!("{name} needs a value"))?
                .to_string_lossy()
                .into_owned())
        };
        let value = v()?;
        if inline.is_none() {
            it.next();
        }
        match name.as_str() {
            "--board" => {
                boards = match value.as_str() {
                    "all" => Board::ALL.to_vec(),
                    b => vec![
                        Board::parse(b)
                            .ok_or_else(|| format!("unknown board `{b}` (virt, rpi4 or all)"))?,
                    ],
                }
            }
            "--junit" => junit = Some(PathBuf::from(value)),
            "--jobs" => {
                jobs = value
                    .parse()
                    .ok()
                    .filter(|&n| (1..=16).contains(&n))
                    .ok_or_else(|| format!("--jobs wants 1 to 16, not `{value}`"))?
            }
            "--timeout" => script.timeout = parse_timeout(&value)?,
            "--kernel" => script.kernel = Some(PathBuf::from(value)),
            _ => return Err(format!("`check` does not take option `{name}`")),
        }
    }
    if paths.is_empty() {
        paths.push(PathBuf::from("tests/scripts"));
    }
    Ok(Cmd::Check {
        opts: crate::check::CheckOpts {
            paths,
            boards,
            junit,
            jobs,
            script,
            logs: None,
        },
    })
}

fn parse_bench(sub: &str, args: &[OsString]) -> Result<Cmd, String> {
    let mut it = args.iter();
    let mut board = None;
    let mut kernel = None;
    let mut out = None;
    let mut timeout = None;
    let mut check = crate::bench::CheckOpts::default();
    // (The first --baseline or --current replaces its default; more add runs.)
    let (mut baselines, mut currents) = (Vec::new(), Vec::new());
    let mut extra = Vec::new();
    let mut allow_missing_cpus = false;
    while let Some(a) = it.next() {
        let s = a.to_string_lossy().into_owned();
        if s == "--allow-missing-cpus" && sub == "bench" {
            allow_missing_cpus = true;
            continue;
        }
        if s == "--" && sub == "bench" {
            extra.extend(it.by_ref().cloned());
            break;
        }
        if s == "-h" || s == "--help" {
            return Ok(Cmd::Help);
        }
        if !s.starts_with('-') {
            if sub == "bench" && board.is_none() {
                board = Some(
                    Board::parse(&s)
                        .ok_or_else(|| format!("unknown board `{s}` (virt or rpi4)"))?,
                );
                continue;
            }
            return Err(format!("unexpected argument `{s}`"));
        }
        let allowed: &[&str] = if sub == "bench" {
            &["--kernel", "--out", "--timeout"]
        } else {
            &["--baseline", "--current", "--tolerance", "--ignore"]
        };
        let (name, v) = option_value(sub, &s, allowed, &mut it)?;
        match name.as_str() {
            "--kernel" => kernel = Some(PathBuf::from(v)),
            "--out" => out = Some(PathBuf::from(v)),
            "--timeout" => timeout = Some(parse_timeout(&v.to_string_lossy())?),
            "--baseline" => baselines.push(PathBuf::from(v)),
            "--tolerance" => {
                let v = v.to_string_lossy();
                check.tolerance_pct =
                    v.parse().ok().filter(|&n| n <= 100).ok_or_else(|| {
                        format!("--tolerance wants a percentage 0..=100, not `{v}`")
                    })?
            }
            "--ignore" => check.ignore.push(v.to_string_lossy().into_owned()),
            _ => currents.push(PathBuf::from(v)),
        }
    }
    if sub == "bench-check" {
        if !baselines.is_empty() {
            check.baseline = baselines;
        }
        if !currents.is_empty() {
            check.current = currents;
        }
        return Ok(Cmd::BenchCheck { check });
    }
    let opts = ScriptOpts {
        timeout: timeout.unwrap_or(crate::bench::BENCH_TIMEOUT),
        kernel,
        echo: false,
        extra_args: extra,
        quiet_build: false,
        allow_missing_cpus,
        ..ScriptOpts::default()
    };
    Ok(Cmd::Bench {
        board: board.unwrap_or(Board::Virt),
        opts,
        out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Cmd, String> {
        let v: Vec<OsString> = s.split_whitespace().map(OsString::from).collect();
        parse(&v)
    }

    #[test]
    fn script_defaults() {
        let Ok(Cmd::Script {
            source,
            board,
            opts,
        }) = p("script tests/scripts/hello.rsh")
        else {
            panic!()
        };
        assert_eq!(source, Source::File("tests/scripts/hello.rsh".into()));
        assert_eq!(board, Board::Virt);
        assert_eq!(opts.timeout, Duration::from_secs(60));
        assert_eq!(opts.smp, None);
        assert_eq!(opts.kernel, None);
        assert!(opts.echo);
        assert!(!opts.fail_on_watchdog);
    }

    #[test]
    fn check_options() {
        let Ok(Cmd::Check { opts }) = p("check") else {
            panic!("parsed")
        };
        assert_eq!(opts.paths, [PathBuf::from("tests/scripts")]);
        assert_eq!((opts.boards.as_slice(), opts.jobs), (&[Board::Virt][..], 2));
        let Ok(Cmd::Check { opts }) = p(
            "check a.rsh dir --board all --junit out.xml --jobs=3 --timeout 90 --allow-missing-cpus",
        ) else {
            panic!("parsed")
        };
        assert_eq!(opts.paths, [PathBuf::from("a.rsh"), PathBuf::from("dir")]);
        assert_eq!(opts.boards, Board::ALL);
        assert_eq!(opts.junit, Some(PathBuf::from("out.xml")));
        assert_eq!(opts.jobs, 3);
        assert_eq!(opts.script.timeout, Duration::from_secs(90));
        assert!(opts.script.allow_missing_cpus);
        for bad in [
            "check --board pdp11",
            "check --jobs 0",
            "check --junit",
            "check --raw",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allow_missing_cpus_for_script_trace_and_bench() {
        for line in [
            "script x.rsh --allow-missing-cpus",
            "trace x.rsh --allow-missing-cpus",
        ] {
            match p(line) {
                Ok(Cmd::Script { opts, .. } | Cmd::Trace { opts, .. }) => {
                    assert!(opts.allow_missing_cpus, "{line}")
                }
                other => panic!("{line}: {other:?}"),
            }
        }
        let Ok(Cmd::Bench { opts, .. }) = p("bench --allow-missing-cpus") else {
            panic!("bench parsed");
        };
        assert!(opts.allow_missing_cpus);
        let Ok(Cmd::Script { opts, .. }) = p("script x.rsh") else {
            panic!("parsed");
        };
        assert!(!opts.allow_missing_cpus);
        assert!(p("run --allow-missing-cpus").is_err());
    }

    #[test]
    fn raw_is_a_script_flag() {
        let Ok(Cmd::Script { opts, .. }) = p("script x.rsh --raw") else {
            panic!("parsed");
        };
        assert!(opts.raw);
        let Ok(Cmd::Script { opts, .. }) = p("script x.rsh") else {
            panic!("parsed");
        };
        assert!(!opts.raw);
        assert!(p("bench --raw").is_err());
    }

    #[test]
    fn fail_on_watchdog_is_a_script_flag() {
        let Ok(Cmd::Script { opts, board, .. }) = p("script x.rsh --fail-on-watchdog rpi4") else {
            panic!()
        };
        assert!(opts.fail_on_watchdog);
        assert_eq!(board, Board::Rpi4);
        assert!(p("run --fail-on-watchdog").is_err());
        assert!(p("build --fail-on-watchdog").is_err());
    }

    #[test]
    fn script_with_everything() {
        let Ok(Cmd::Script {
            source,
            board,
            opts,
        }) = p("script - virt --timeout 3 --smp=8 --kernel /k -- -icount shift=0")
        else {
            panic!()
        };
        assert_eq!(source, Source::Stdin);
        assert_eq!(board, Board::Virt);
        assert_eq!(opts.timeout, Duration::from_secs(3));
        assert_eq!(opts.smp, Some(8));
        assert_eq!(opts.kernel, Some(PathBuf::from("/k")));
        assert_eq!(opts.extra_args, ["-icount", "shift=0"]);
        // Options may come before the positionals too.
        let Ok(Cmd::Script { board, opts, .. }) = p("script --timeout 2.5s f rpi4") else {
            panic!()
        };
        assert_eq!(board, Board::Rpi4);
        assert_eq!(opts.timeout, Duration::from_millis(2500));
    }

    #[test]
    fn run_image_build() {
        assert!(matches!(
            p("run"),
            Ok(Cmd::Run {
                board: Board::Virt,
                ..
            })
        ));
        assert!(matches!(
            p("run rpi4"),
            Ok(Cmd::Run {
                board: Board::Rpi4,
                ..
            })
        ));
        assert!(matches!(
            p("image"),
            Ok(Cmd::Image {
                out: None,
                kernel: None,
                firmware: false
            })
        ));
        assert!(matches!(
            p("image rpi4 --firmware"),
            Ok(Cmd::Image { firmware: true, .. })
        ));
        assert!(p("script x --firmware").is_err());
        let Ok(Cmd::Image { out, .. }) = p("image rpi4 --out /tmp/sd") else {
            panic!()
        };
        assert_eq!(out, Some(PathBuf::from("/tmp/sd")));
        let Ok(Cmd::Build { boards }) = p("build") else {
            panic!()
        };
        assert_eq!(boards, Board::ALL);
        let Ok(Cmd::Build { boards }) = p("build rpi4") else {
            panic!()
        };
        assert_eq!(boards, [Board::Rpi4]);
        assert!(matches!(p("--help"), Ok(Cmd::Help)));
        assert!(matches!(p("script -h"), Ok(Cmd::Help)));
    }

    #[test]
    fn bad_command_lines() {
        for (line, why) in [
            ("", "missing command"),
            ("fly", "unknown command"),
            ("script", "needs a file"),
            ("script f pi5", "unknown board"),
            ("script f virt extra", "unexpected argument"),
            ("script f --timeout", "needs a value"),
            ("script f --timeout 0", "positive number"),
            ("script f --timeout -1", "positive number"),
            ("script f --timeout abc", "positive number"),
            ("script f --smp 0", "from 1 to 8"),
            ("script f --smp 9", "from 1 to 8"),
            ("script f rpi4 --smp 2", "only for virt"),
            ("script f --out d", "does not take option"),
            ("run --timeout 3", "does not take option"),
            ("image virt", "only rpi4"),
            ("image -- -x", "does not take QEMU arguments"),
        ] {
            let e = p(line).expect_err(line);
            assert!(e.contains(why), "{line}: {e}");
        }
    }

    #[test]
    fn profile_command_lines() {
        let Ok(Cmd::Profile {
            board,
            opts,
            profile,
        }) = p("profile park rpi4 --iters 10,30 --top 5 --inlined --annotate park_me --timeout 60")
        else {
            panic!("profile parsed");
        };
        assert_eq!(board, Board::Rpi4);
        assert_eq!(opts.timeout, Duration::from_secs(60));
        assert_eq!(
            profile,
            crate::profile::ProfileOpts {
                bench: "park".into(),
                iters: (10, 30),
                top: 5,
                inlined: true,
                annotate: Some("park_me".into()),
            }
        );
        let Ok(Cmd::Profile { board, profile, .. }) = p("profile yield") else {
            panic!("profile parsed");
        };
        assert_eq!(
            (board, profile.iters, profile.top),
            (Board::Virt, (200, 400), 25)
        );
        for bad in [
            "profile",
            "profile --top 3",
            "profile yield --iters 30,10",
            "profile yield --iters 0,10",
            "profile yield --annotate",
            "profile yield --iters 10",
            "profile yield --top 0",
            "profile yield rpi4 --smp 2",
            "profile yield --bogus 1",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bench_command_lines() {
        let Ok(Cmd::Bench { board, opts, out }) = p("bench") else {
            panic!()
        };
        assert_eq!((board, out), (Board::Virt, None));
        assert_eq!(opts.timeout, crate::bench::BENCH_TIMEOUT);
        let Ok(Cmd::Bench { board, opts, out }) =
            p("bench rpi4 --kernel /k --out o.json --timeout 9 -- -d int")
        else {
            panic!()
        };
        assert_eq!(board, Board::Rpi4);
        assert_eq!(opts.kernel, Some(PathBuf::from("/k")));
        assert_eq!(out, Some(PathBuf::from("o.json")));
        assert_eq!(opts.timeout, Duration::from_secs(9));
        assert_eq!(opts.extra_args, ["-d", "int"]);
        let Ok(Cmd::BenchCheck { check }) = p("bench-check") else {
            panic!()
        };
        assert_eq!(check, crate::bench::CheckOpts::default());
        assert_eq!(check.baseline, [PathBuf::from("bench/baseline.json")]);
        assert_eq!(check.current, [PathBuf::from("target/bench/virt.json")]);
        assert_eq!(check.tolerance_pct, 5);
        let Ok(Cmd::BenchCheck { check }) = p(
            "bench-check --baseline=b.json --current c.json --tolerance 2 --ignore trace/ --ignore boot",
        ) else {
            panic!()
        };
        assert_eq!(
            check,
            crate::bench::CheckOpts {
                baseline: vec!["b.json".into()],
                current: vec!["c.json".into()],
                tolerance_pct: 2,
                ignore: vec!["trace/".into(), "boot".into()],
            }
        );
        let Ok(Cmd::BenchCheck { check }) = p(
            "bench-check --current c1.json --baseline b1.json --current c2.json --baseline b2.json",
        ) else {
            panic!()
        };
        assert_eq!(check.baseline, [PathBuf::from("b1.json"), "b2.json".into()]);
        assert_eq!(check.current, [PathBuf::from("c1.json"), "c2.json".into()]);
        for (line, why) in [
            ("bench pi5", "unknown board"),
            ("bench virt extra", "unexpected argument"),
            ("bench --smp 2", "does not take option"),
            ("bench-check virt", "unexpected argument"),
            ("bench-check --out x", "does not take option"),
            ("bench-check --tolerance x", "percentage"),
            ("bench-check --tolerance 101", "percentage"),
            ("bench --out", "needs a value"),
        ] {
            let e = p(line).expect_err(line);
            assert!(e.contains(why), "{line}: {e}");
        }
    }

    #[test]
    fn push_command_lines() {
        let Ok(Cmd::Push { board, tty, opts }) = p("push") else {
            panic!()
        };
        assert_eq!((board, tty), (Board::Rpi4, None));
        assert!(opts.echo && !opts.check);
        assert_eq!(opts.timeout, Duration::from_secs(120));
        let Ok(Cmd::Push { board, tty, opts }) =
            p("push rpi4 --tty /dev/ttyUSB0 --image k.img --tag try1 --check --timeout 300")
        else {
            panic!()
        };
        assert_eq!(board, Board::Rpi4);
        assert_eq!(tty, Some(PathBuf::from("/dev/ttyUSB0")));
        assert_eq!(opts.image, Some(PathBuf::from("k.img")));
        assert_eq!(opts.tag.as_deref(), Some("try1"));
        assert!(opts.check);
        assert_eq!(opts.timeout, Duration::from_secs(300));
        let Ok(Cmd::Push { board, opts, .. }) = p("push virt --smp 2 --kernel /k -- -d int") else {
            panic!()
        };
        assert_eq!(board, Board::Virt);
        assert_eq!(
            (opts.smp, opts.kernel),
            (Some(2), Some(PathBuf::from("/k")))
        );
        assert_eq!(opts.extra_args, ["-d", "int"]);
        for (line, why) in [
            ("push pi5", "unknown board"),
            ("push rpi4 virt", "unexpected argument"),
            ("push --tty", "needs a value"),
            ("push --out x", "does not take option"),
            ("push --tty /dev/x --kernel k", "not with --tty"),
            ("push --tty /dev/x -- -d int", "not with --tty"),
            ("push rpi4 --smp 2", "only for virt"),
            ("push --timeout 0", "positive number"),
        ] {
            let e = p(line).expect_err(line);
            assert!(e.contains(why), "{line}: {e}");
        }
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("60").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_timeout("3s").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_timeout("0.25").unwrap(), Duration::from_millis(250));
        for bad in ["", "s", "0", "-3", "nan", "inf", "1e99"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn soak_takes_board_minutes_seed_and_refuses_nonsense() {
        let Ok(Cmd::Soak { board, opts }) = p("soak rpi4 --minutes 0.5 --seed 0x10 --echo") else {
            panic!("soak did not parse")
        };
        assert_eq!(board, Board::Rpi4);
        assert_eq!(opts.duration, Duration::from_secs(30));
        assert_eq!((opts.seed, opts.echo), (16, true));
        let Ok(Cmd::Soak { board, opts }) = p("soak") else {
            panic!("bare soak did not parse")
        };
        assert_eq!(
            (board, opts.duration, opts.seed),
            (Board::Virt, Duration::from_secs(60), 1)
        );
        for bad in [
            "soak --minutes 0",
            "soak --minutes -1",
            "soak --minutes nan",
            "soak --minutes 20000",
            "soak --seed x",
            "soak rpi4 --smp 2",
            "soak virt rpi4",
            "soak --bogus 1",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }
}
