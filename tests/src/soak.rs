//! `runner soak`: a reproducible random workload over every deferred-work mechanism, the thread
//! controls and CPU hotplug, run through the shell for a given time, then checked from the
//! kernel's own counters (scftorture/rcutorture in spirit, driven from outside like syzkaller).
//!
//! # What runs
//! One QEMU guest. The runner sends one command at a time and waits for the next prompt (a
//! command that does not return within [`COMMAND_TIMEOUT`] is a hang). Commands come from a
//! [`Generator`] seeded with `--seed`: queueings, delays, mods, cancels and flushes of named works
//! on two workqueues (one per-CPU, one single-threaded) and two kthread workers (one bound to
//! CPU 1), irq_works on chosen CPUs, task_works on six sleeper threads (every notify mode, and
//! from a hard IRQ), `stress` rounds, park/unpark/bind/prio/stop/spawn of the threads, CPUs 1-3
//! taken offline and brought back (at most two at once), short sleeps. Each command is chosen
//! from the state the previous outputs left ([`Model`]), so a seed gives the same commands as
//! long as the kernel answers the same way.
//!
//! # What is checked
//! - After every command: no `KERNEL PANIC`, no watchdog report, the command returned; a
//!   `stress` round ran every work at most once (`0 twice or more`).
//! - After every [`CHUNK`] commands: each soak thread is in the state the model expects
//!   (parked exactly when it was parked, gone exactly when it was stopped).
//! - At the end, after a teardown that brings every CPU back, cancels and flushes every work,
//!   destroys the queues and workers and stops the threads: for each kind,
//!   `submitted == executed + cancelled` (`mem --json`'s `in_flight` is 0), every kind did work,
//!   and every resource (threads, stacks, irq_work slots, timers that call something, named
//!   works, klogd ring, heap) is back where it was after a warm-up round of the same setup and
//!   teardown.
//!
//! One summary line says what ran and what was checked; the status is 0 only if everything
//! held ([`STATUS_MISMATCH`] for a check, [`crate::STATUS_PANIC`], [`crate::STATUS_TIMEOUT`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::push::{Line, reader};
use crate::script::{kill_and_reap, script_command, spawn_piped};
use crate::{Board, STATUS_PANIC, STATUS_START_FAILED, STATUS_TIMEOUT, WATCHDOG_MARKER};

/// A check failed (accounting, a thread's state, a double run, a resource not back).
pub const STATUS_MISMATCH: i32 = 1;
/// The longest a single command may take before the soak calls it a hang.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(90);
/// Commands between two checks of the threads' states.
pub const CHUNK: usize = 100;
/// The soak's threads (`st0`..).
pub const THREADS: usize = 6;
/// The prompt that ends every command's output.
const PROMPT: &[u8] = b"rtos> ";

/// Options of [`run_soak`].
#[derive(Clone, Debug)]
pub struct SoakOpts {
    /// How long the random phase runs.
    pub duration: Duration,
    /// The generator's seed.
    pub seed: u64,
    /// A prebuilt image instead of a fresh build.
    pub kernel: Option<PathBuf>,
    /// CPUs on virt (default 4).
    pub smp: Option<u32>,
    /// Copy the serial output to stdout as it arrives.
    pub echo: bool,
    /// Where to write the transcript (default `target/soak/<board>-<seed>.log`).
    pub log: Option<PathBuf>,
    /// Extra QEMU arguments.
    pub extra_args: Vec<std::ffi::OsString>,
}

impl Default for SoakOpts {
    fn default() -> Self {
        SoakOpts {
            duration: Duration::from_secs(60),
            seed: 1,
            kernel: None,
            smp: None,
            echo: false,
            log: None,
            extra_args: Vec::new(),
        }
    }
}

/// xorshift64*: the generator's random numbers (its own, so a seed means the same forever).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded with `seed` (0 is taken as 1).
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// In `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A soak thread as the model sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadState {
    /// Spawned, not parked.
    Live,
    /// Parked by the soak.
    Parked,
    /// Stopped (or never spawned).
    Gone,
}

/// What the soak believes the guest holds, updated from each command's output.
#[derive(Clone, Debug)]
pub struct Model {
    /// `st<i>`'s state.
    pub threads: [ThreadState; THREADS],
    /// CPUs 1..=3 offline (index = CPU).
    pub offline: [bool; 4],
    /// CPUs the guest has.
    pub cpus: usize,
}

impl Model {
    /// Before the setup: no threads, every CPU online.
    pub fn new(cpus: usize) -> Self {
        Model {
            threads: [ThreadState::Gone; THREADS],
            offline: [false; 4],
            cpus: cpus.min(4),
        }
    }

    fn online(&self) -> Vec<usize> {
        (0..self.cpus).filter(|&c| !self.offline[c]).collect()
    }

    /// Takes in what `cmd` printed (`failed`: it printed an error).
    pub fn update(&mut self, cmd: &str, failed: bool) {
        if failed {
            return;
        }
        let w: Vec<&str> = cmd.split_whitespace().collect();
        let thread = |name: &str| {
            name.strip_prefix("st")
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&i| i < THREADS)
        };
        match w.as_slice() {
            ["spawn", "sleeper", t, ..] => {
                if let Some(i) = thread(t) {
                    self.threads[i] = ThreadState::Live;
                }
            }
            ["park", t, ..] | ["unpark", t] | ["stop", t, ..] => {
                if let Some(i) = thread(t) {
                    self.threads[i] = match w[0] {
                        "park" => ThreadState::Parked,
                        "unpark" => ThreadState::Live,
                        _ => ThreadState::Gone,
                    };
                }
            }
            ["cpu", what, c] => {
                if let Ok(c) = c.parse::<usize>()
                    && c < 4
                {
                    self.offline[c] = *what == "offline";
                }
            }
            _ => {}
        }
    }
}

/// The named objects: workqueues, kthread workers, and the works of each kind with their
/// functions.
const WQS: [&str; 2] = ["sq0", "sq1"];
const KWORKERS: [&str; 2] = ["sk0", "sk1"];
const WQ_WORKS: usize = 8;
const KW_WORKS: usize = 6;
const IRQ_WORKS: usize = 4;
const TASK_WORKS: usize = 8;

/// The function of the `i`-th wq or kworker work: mostly counters, one that sleeps (it holds
/// its worker, so flushes and cancels meet it running) and one that queues itself again.
fn work_fn(i: usize) -> &'static str {
    match i {
        3 => "sleep:1",
        5 => "requeue:3",
        _ => "count",
    }
}

/// The commands that make the soak's objects.
pub fn setup() -> Vec<String> {
    let mut v = vec![
        "wq create sq0".to_string(),
        "wq create sq1 --single".to_string(),
        "kworker create sk0".to_string(),
        "kworker create sk1 --cpu 1".to_string(),
    ];
    v.extend((0..THREADS).map(|i| format!("spawn sleeper st{i}")));
    v
}

/// The commands that undo everything, whatever state the random phase left: every CPU back,
/// every thread unparked, every work cancelled (waiting for a run in progress) and flushed, the
/// queues and workers destroyed, the threads stopped (running their task_works at exit), the
/// named works deleted.
pub fn teardown(model: &Model) -> Vec<String> {
    let mut v = Vec::new();
    for c in 1..model.cpus {
        if model.offline[c] {
            v.push(format!("cpu online {c}"));
        }
    }
    for (i, t) in model.threads.iter().enumerate() {
        if *t == ThreadState::Parked {
            v.push(format!("unpark st{i}"));
        }
    }
    for i in 0..WQ_WORKS {
        v.push(format!("wq cancel sw{i} --sync"));
    }
    for i in 0..KW_WORKS {
        v.push(format!("kworker cancel skw{i}"));
    }
    for q in WQS {
        v.push(format!("wq destroy {q}"));
    }
    for k in KWORKERS {
        v.push(format!("kworker destroy {k}"));
    }
    for i in 0..IRQ_WORKS {
        v.push(format!("irqwork sync si{i}"));
    }
    for (i, t) in model.threads.iter().enumerate() {
        if *t != ThreadState::Gone {
            v.push(format!("stop st{i}"));
        }
    }
    v.extend((0..WQ_WORKS).map(|i| format!("work delete sw{i}")));
    v.extend((0..KW_WORKS).map(|i| format!("work delete skw{i}")));
    v.extend((0..IRQ_WORKS).map(|i| format!("work delete si{i}")));
    v.extend((0..TASK_WORKS).map(|i| format!("work delete stw{i}")));
    v.push("work delete stn".to_string());
    v.push("work delete stwn".to_string());
    v
}

/// The random command generator (see the module documentation).
#[derive(Clone, Debug)]
pub struct Generator {
    rng: Rng,
}

/// Each kind of command and its weight.
const WEIGHTS: &[(Op, u64)] = &[
    (Op::WqQueue, 10),
    (Op::WqDelay, 5),
    (Op::WqMod, 3),
    (Op::WqCancel, 4),
    (Op::WqFlushWork, 2),
    (Op::WqFlush, 2),
    (Op::KwQueue, 8),
    (Op::KwDelay, 4),
    (Op::KwMod, 2),
    (Op::KwCancel, 3),
    (Op::KwFlushWork, 1),
    (Op::KwFlush, 1),
    (Op::IrqQueue, 10),
    (Op::IrqSync, 1),
    (Op::TaskAdd, 6),
    (Op::TaskCancel, 2),
    (Op::TaskNmi, 1),
    (Op::Park, 2),
    (Op::Unpark, 2),
    (Op::Bind, 1),
    (Op::Prio, 1),
    (Op::StopOrSpawn, 2),
    (Op::Stress, 1),
    (Op::Hotplug, 1),
    (Op::Sleep, 1),
];

/// A kind of command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    WqQueue,
    WqDelay,
    WqMod,
    WqCancel,
    WqFlushWork,
    WqFlush,
    KwQueue,
    KwDelay,
    KwMod,
    KwCancel,
    KwFlushWork,
    KwFlush,
    IrqQueue,
    IrqSync,
    TaskAdd,
    TaskCancel,
    TaskNmi,
    Park,
    Unpark,
    Bind,
    Prio,
    StopOrSpawn,
    Stress,
    Hotplug,
    Sleep,
}

impl Generator {
    /// Seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Generator {
            rng: Rng::new(seed),
        }
    }

    fn op(&mut self) -> Op {
        let total: u64 = WEIGHTS.iter().map(|(_, w)| w).sum();
        let mut x = self.rng.below(total);
        for (op, w) in WEIGHTS {
            if x < *w {
                return *op;
            }
            x -= w;
        }
        unreachable!("the weights add up to total")
    }

    /// The next command for the guest as `model` describes it.
    pub fn next(&mut self, model: &Model) -> String {
        let op = self.op();
        self.command(op, model)
    }

    /// One command of kind `op`.
    pub fn command(&mut self, op: Op, model: &Model) -> String {
        let r = &mut self.rng;
        let online = model.online();
        let cpu = |r: &mut Rng| *r.pick(&online);
        let ms = |r: &mut Rng| 1 + r.below(20);
        let sw = |r: &mut Rng| {
            let i = r.below(WQ_WORKS as u64) as usize;
            (format!("sw{i}"), work_fn(i))
        };
        let skw = |r: &mut Rng| {
            let i = r.below(KW_WORKS as u64) as usize;
            (format!("skw{i}"), work_fn(i))
        };
        let thread = |r: &mut Rng, want: &[ThreadState]| {
            let cands: Vec<usize> = (0..THREADS)
                .filter(|&i| want.contains(&model.threads[i]))
                .collect();
            (!cands.is_empty()).then(|| *r.pick(&cands))
        };
        match op {
            Op::WqQueue => {
                let (w, f) = sw(r);
                let q = r.pick(&WQS);
                if *q == "sq0" && r.below(2) == 0 {
                    format!("wq queue {q} {w} --cpu {} --fn {f}", cpu(r))
                } else {
                    format!("wq queue {q} {w} --fn {f}")
                }
            }
            Op::WqDelay => {
                let (w, f) = sw(r);
                format!("wq delay {} {w} {}ms --fn {f}", r.pick(&WQS), ms(r))
            }
            Op::WqMod => {
                let (w, f) = sw(r);
                format!("wq mod {} {w} {}ms --fn {f}", r.pick(&WQS), ms(r))
            }
            Op::WqCancel => {
                let (w, _) = sw(r);
                if r.below(2) == 0 {
                    format!("wq cancel {w} --sync")
                } else {
                    format!("wq cancel {w}")
                }
            }
            Op::WqFlushWork => format!("wq flush-work {}", sw(r).0),
            Op::WqFlush => format!("wq flush {}", r.pick(&WQS)),
            Op::KwQueue => {
                let (w, f) = skw(r);
                format!("kworker queue {} {w} --fn {f}", r.pick(&KWORKERS))
            }
            Op::KwDelay => {
                let (w, f) = skw(r);
                format!(
                    "kworker delay {} {w} {}ms --fn {f}",
                    r.pick(&KWORKERS),
                    ms(r)
                )
            }
            Op::KwMod => {
                let (w, f) = skw(r);
                format!("kworker mod {} {w} {}ms --fn {f}", r.pick(&KWORKERS), ms(r))
            }
            Op::KwCancel => format!("kworker cancel {}", skw(r).0),
            Op::KwFlushWork => format!("kworker flush-work {}", skw(r).0),
            Op::KwFlush => format!("kworker flush {}", r.pick(&KWORKERS)),
            Op::IrqQueue => {
                let i = r.below(IRQ_WORKS as u64);
                if r.below(2) == 0 {
                    format!("irqwork queue si{i} --cpu {} --fn count", cpu(r))
                } else {
                    format!("irqwork queue si{i} --fn count")
                }
            }
            Op::IrqSync => format!("irqwork sync si{}", r.below(IRQ_WORKS as u64)),
            Op::TaskAdd => {
                let live = [ThreadState::Live, ThreadState::Parked];
                let Some(t) = thread(r, &live) else {
                    return self.spawn(model);
                };
                let notify = r.pick(&["none", "resume", "signal", "signal-no-ipi"]);
                let w = r.below(TASK_WORKS as u64);
                format!("taskwork add st{t} stw{w} --notify {notify} --fn count")
            }
            Op::TaskCancel => {
                let t = r.below(THREADS as u64);
                format!("taskwork cancel st{t} stw{}", r.below(TASK_WORKS as u64))
            }
            Op::TaskNmi => format!("taskwork nmi {} stn --fn count", cpu(r)),
            Op::Park => match thread(r, &[ThreadState::Live]) {
                Some(t) => format!("park st{t}"),
                None => self.spawn(model),
            },
            Op::Unpark => match thread(r, &[ThreadState::Parked]) {
                Some(t) => format!("unpark st{t}"),
                None => format!("sleep {}ms", ms(r)),
            },
            Op::Bind => match thread(r, &[ThreadState::Parked]) {
                Some(t) => format!("bind st{t} {}", cpu(r)),
                None => format!("sleep {}ms", ms(r)),
            },
            Op::Prio => match thread(r, &[ThreadState::Live, ThreadState::Parked]) {
                Some(t) => format!("prio st{t} {}", 1 + r.below(20)),
                None => self.spawn(model),
            },
            Op::StopOrSpawn => {
                let live = [ThreadState::Live, ThreadState::Parked];
                if thread(r, &[ThreadState::Gone]).is_some() && r.below(2) == 0 {
                    return self.spawn(model);
                }
                match thread(r, &live) {
                    Some(t) => format!("stop st{t}"),
                    None => self.spawn(model),
                }
            }
            Op::Stress => {
                let (kind, n) = *r.pick(&[("irqwork", 200), ("wq", 200), ("kworker", 100)]);
                format!("stress {kind} {n}")
            }
            Op::Hotplug => {
                let offline: Vec<usize> = (1..model.cpus).filter(|&c| model.offline[c]).collect();
                let online: Vec<usize> = (1..model.cpus).filter(|&c| !model.offline[c]).collect();
                if !offline.is_empty()
                    && (offline.len() >= 2 || online.is_empty() || r.below(2) == 0)
                {
                    format!("cpu online {}", r.pick(&offline))
                } else if let Some(c) = (!online.is_empty()).then(|| *r.pick(&online)) {
                    format!("cpu offline {c}")
                } else {
                    format!("sleep {}ms", ms(r))
                }
            }
            Op::Sleep => format!("sleep {}ms", ms(r)),
        }
    }

    /// Spawns a stopped thread again (or sleeps if none is stopped).
    fn spawn(&mut self, model: &Model) -> String {
        let gone: Vec<usize> = (0..THREADS)
            .filter(|&i| model.threads[i] == ThreadState::Gone)
            .collect();
        if gone.is_empty() {
            return format!("sleep {}ms", 1 + self.rng.below(5));
        }
        format!("spawn sleeper st{}", self.rng.pick(&gone))
    }
}

/// One command of every kind, in an order that makes each valid: the warm-up round, so that
/// whatever the kernel or the shell keeps for good after first use (trace names, tables grown to
/// size) exists before the baseline is taken.
pub fn warm_up(model: &Model) -> Vec<String> {
    let mut v = Vec::new();
    // Every named work made at least once (the random phase makes them as it goes).
    for i in 0..WQ_WORKS {
        v.push(format!("wq queue sq1 sw{i} --fn {}", work_fn(i)));
    }
    for i in 0..KW_WORKS {
        v.push(format!("kworker queue sk0 skw{i} --fn {}", work_fn(i)));
    }
    for i in 0..IRQ_WORKS {
        v.push(format!("irqwork queue si{i} --fn count"));
    }
    for i in 0..TASK_WORKS {
        v.push(format!("taskwork add st0 stw{i} --notify none --fn count"));
    }
    // The per-CPU irq_works made on first use (all CPUs' at once): the shell's behind
    // `taskwork nmi`, the kernel's behind notify nmi-current.
    v.push("taskwork nmi 0 stn --fn count".to_string());
    v.push("taskwork add shell stwn --notify nmi-current --fn count".to_string());
    let mut g = Generator::new(1);
    let mut m = model.clone();
    for (op, _) in WEIGHTS {
        for _ in 0..2 {
            let c = g.command(*op, &m);
            m.update(&c, false);
            v.push(c);
        }
    }
    v
}

/// What one command did.
#[derive(Debug, Default)]
struct Answer {
    /// Its output lines (without the echoed command).
    lines: Vec<String>,
    /// It printed an error.
    failed: bool,
}

/// Why the soak stopped early.
#[derive(Debug)]
enum Stop {
    Panic(String),
    Hang(String),
    Mismatch(String),
    Closed(String),
}

/// The session with the guest: the line, the transcript, what it found.
struct Session {
    line: Line,
    commands: u64,
    refused: BTreeMap<String, u64>,
    stress_rounds: u64,
    /// `commands` when the soak proper began, and how many it ran.
    soak_from: u64,
    soak_commands: u64,
}

impl Session {
    /// Sends `cmd` and waits for the next prompt.
    fn run(&mut self, cmd: &str) -> Result<Answer, Stop> {
        let mut bytes = cmd.as_bytes().to_vec();
        bytes.push(b'\n');
        self.line
            .send(&bytes)
            .map_err(|e| Stop::Closed(format!("sending `{cmd}`: {e}")))?;
        let text = self
            .line
            .wait(
                &format!("the prompt after `{cmd}`"),
                COMMAND_TIMEOUT,
                |rest| {
                    let at = rest.windows(PROMPT.len()).position(|w| w == PROMPT)?;
                    Some((
                        String::from_utf8_lossy(&rest[..at]).into_owned(),
                        at + PROMPT.len(),
                    ))
                },
            )
            .map_err(|e| match e {
                crate::push::PushError::Timeout(m) => Stop::Hang(m),
                e => Stop::Closed(e.to_string()),
            })?;
        self.commands += 1;
        let lines: Vec<String> = text
            .lines()
            .skip(1)
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect();
        for l in &lines {
            if l.starts_with("KERNEL PANIC") {
                return Err(Stop::Panic(format!("after `{cmd}`: {l}")));
            }
            if l.contains(WATCHDOG_MARKER) {
                return Err(Stop::Mismatch(format!(
                    "watchdog report after `{cmd}`: {l}"
                )));
            }
            if let Some(bad) = double_runs(l) {
                return Err(Stop::Mismatch(format!("`{cmd}`: {bad}")));
            }
        }
        if cmd.starts_with("stress ") {
            self.stress_rounds += 1;
        }
        let failed = lines.iter().any(|l| l.starts_with("error:"));
        if failed {
            let word = cmd.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
            *self.refused.entry(word).or_default() += 1;
        }
        Ok(Answer { lines, failed })
    }

    /// Runs each of `cmds`, keeping `model` up to date.
    fn run_all(&mut self, cmds: &[String], model: &mut Model) -> Result<(), Stop> {
        for c in cmds {
            let a = self.run(c)?;
            model.update(c, a.failed);
        }
        Ok(())
    }

    /// Checks every soak thread's state against `model`.
    fn check_threads(&mut self, model: &Model) -> Result<(), Stop> {
        for (i, want) in model.threads.iter().enumerate() {
            let a = self.run(&format!("ps st{i} -o state"))?;
            let got = a.lines.first().map(String::as_str).unwrap_or("");
            let ok = match want {
                ThreadState::Gone => got.contains("no such thread"),
                ThreadState::Parked => got == "parked",
                ThreadState::Live => !a.failed && got != "parked",
            };
            if !ok {
                return Err(Stop::Mismatch(format!(
                    "thread st{i}: expected {want:?}, `ps` says {got:?}"
                )));
            }
        }
        Ok(())
    }

    /// `mem --json`, parsed, after emptying the kernel log (whose lines are heap too), with
    /// `call_timers`: the armed timers that call something (delayed works' and the like), from
    /// `timers --json`. (`mem`'s `timers` also counts the wake-ups of the system threads that
    /// poll, klogd's and the watchdog's, armed or not depending on the instant.)
    fn mem(&mut self) -> Result<serde_json::Value, Stop> {
        self.run("dmesg -c")?;
        let json = |s: &mut Session, cmd: &str| -> Result<serde_json::Value, Stop> {
            let a = s.run(cmd)?;
            let text = a.lines.iter().find(|l| l.starts_with('{')).cloned();
            text.and_then(|t| serde_json::from_str(&t).ok())
                .ok_or_else(|| Stop::Mismatch(format!("{cmd} gave no object: {:?}", a.lines)))
        };
        let mut m = json(self, "mem --json")?;
        let t = json(self, "timers --json")?;
        let calls = t["timers"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|x| x["kind"] == "call").count());
        m["call_timers"] = serde_json::json!({ "used": calls });
        Ok(m)
    }
}

/// A `stress` result line with runs twice or more: what it says.
fn double_runs(line: &str) -> Option<String> {
    let rest = line.strip_prefix("stress ")?;
    let (_, counts) = rest.split_once(": ")?;
    let twice = counts.split(", ").find(|p| p.ends_with("twice or more"))?;
    let n: u64 = twice.split_whitespace().next()?.parse().ok()?;
    (n > 0).then(|| format!("double runs: {line}"))
}

/// How much more heap may be in use after the soak than after the warm-up round: tables that
/// keep the capacity they grew to (run and timer queues, registries, vectors that grew to the
/// largest load seen), never freed but bounded; one-minute soaks on both boards ended between
/// +0.7 and +17 KiB. A leak of two bytes per command exceeds it within a minute (about 40,000
/// commands), one of a byte per hundred commands in an hour's soak.
pub const HEAP_SLACK: i64 = 64 * 1024;

/// The resources compared before and after (keys of `mem --json`).
const RESOURCES: [&str; 7] = [
    "heap",
    "stacks",
    "threads",
    "irq_work_slots",
    "call_timers",
    "named_works",
    "klogd",
];

/// The kinds in `mem --json`'s `works`.
pub const KINDS: [&str; 4] = ["irq_work", "task_work", "workqueue", "kthread_worker"];

/// What the end state says against the baseline: the per-kind counts for the summary, and
/// each check that failed.
pub fn judge(before: &serde_json::Value, after: &serde_json::Value) -> (String, Vec<String>) {
    let mut bad = Vec::new();
    let mut counts = String::new();
    for k in KINDS {
        let w = &after["works"][k];
        let b = &before["works"][k];
        let n = |v: &serde_json::Value, f: &str| v[f].as_i64().unwrap_or(-1);
        let (s, e, c, m) = (
            n(w, "submitted") - n(b, "submitted"),
            n(w, "executed") - n(b, "executed"),
            n(w, "cancelled") - n(b, "cancelled"),
            n(w, "merged") - n(b, "merged"),
        );
        let _ = write!(
            counts,
            "{}{k} {s} submitted = {e} executed + {c} cancelled ({m} merged)",
            if counts.is_empty() { "" } else { "; " }
        );
        if n(w, "in_flight") != 0 || s != e + c {
            bad.push(format!(
                "{k}: submitted {s} != executed {e} + cancelled {c} (in flight {})",
                n(w, "in_flight")
            ));
        }
        if s <= 0 {
            bad.push(format!("{k}: nothing was submitted"));
        }
    }
    for r in RESOURCES {
        let (b, a) = (&before[r]["used"], &after[r]["used"]);
        if r == "heap"
            && let (Some(b), Some(a)) = (b.as_i64(), a.as_i64())
        {
            let _ = write!(counts, "; heap {:+} bytes", a - b);
            if a - b > HEAP_SLACK {
                bad.push(format!(
                    "heap: {b} bytes in use before, {a} after (more than {HEAP_SLACK} bytes more)"
                ));
            }
            continue;
        }
        if b != a {
            bad.push(format!("{r}: {b} in use before, {a} after"));
        }
    }
    (counts, bad)
}

/// What [`run_soak`] found.
#[derive(Debug)]
pub struct SoakOutcome {
    /// 0, or why not.
    pub status: i32,
    /// The summary line.
    pub summary: String,
    /// The serial transcript.
    pub transcript: String,
}

/// Runs the soak (see the module documentation).
pub fn run_soak(board: Board, opts: &SoakOpts) -> SoakOutcome {
    let script_opts = crate::ScriptOpts {
        kernel: opts.kernel.clone(),
        smp: opts.smp,
        extra_args: opts.extra_args.clone(),
        ..crate::ScriptOpts::default()
    };
    let failed = |status, summary: String| SoakOutcome {
        status,
        summary,
        transcript: String::new(),
    };
    let kernel = match crate::script::resolve_kernel(board, &script_opts) {
        Ok(k) => k,
        Err(e) => return failed(STATUS_START_FAILED, format!("soak: {e}")),
    };
    let mut cmd = script_command(board, &kernel, &script_opts);
    let mut child = match spawn_piped(&mut cmd) {
        Ok(c) => c,
        Err(e) => return failed(STATUS_START_FAILED, e),
    };
    let (Some(stdin), Some(stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        kill_and_reap(&mut child);
        return failed(STATUS_START_FAILED, "soak: QEMU without pipes".into());
    };
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = stderr.read_to_end(&mut sink);
    });
    let cpus = match board {
        Board::Virt => opts.smp.unwrap_or(4) as usize,
        Board::Rpi4 => 4,
    };
    let mut s = Session {
        line: Line::new(Box::new(stdin), reader(stdout), opts.echo),
        commands: 0,
        refused: BTreeMap::new(),
        stress_rounds: 0,
        soak_from: 0,
        soak_commands: 0,
    };
    let start = Instant::now();
    let result = soak(&mut s, cpus, opts);
    let _ = s.line.send(b"exit\n");
    let end = Instant::now() + Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    kill_and_reap(&mut child);
    let transcript = s.line.transcript();
    let minutes = start.elapsed().as_secs_f64() / 60.0;
    let refused: u64 = s.refused.values().sum();
    let head = format!(
        "soak: {board} seed {} {minutes:.1} min: {} commands ({} in the soak proper, {refused} \
         refused), {} stress rounds",
        opts.seed, s.commands, s.soak_commands, s.stress_rounds
    );
    let (status, summary) = match result {
        Ok((counts, bad)) if bad.is_empty() => (
            0,
            format!("{head}; {counts}; resources back to the baseline; PASS"),
        ),
        Ok((counts, bad)) => (
            STATUS_MISMATCH,
            format!("{head}; {counts}; FAIL: {}", bad.join("; ")),
        ),
        Err(Stop::Panic(m)) => (STATUS_PANIC, format!("{head}; FAIL: kernel panic {m}")),
        Err(Stop::Hang(m)) => (STATUS_TIMEOUT, format!("{head}; FAIL: hang: {m}")),
        Err(Stop::Mismatch(m)) => (STATUS_MISMATCH, format!("{head}; FAIL: {m}")),
        Err(Stop::Closed(m)) => (
            STATUS_MISMATCH,
            format!("{head}; FAIL: the guest went away: {m}"),
        ),
    };
    SoakOutcome {
        status,
        summary,
        transcript,
    }
}

/// The seed of the warm-up's random phase is the soak's, with these bits flipped.
const WARM_UP_SEED: u64 = 0x005E_ED0F_5EED;

/// How long the warm-up's random phase runs before the soak proper: a fifth of it, at least
/// 10 s, so that what the kernel keeps at its high-water mark (the capacity its tables grew to)
/// is mostly reached before the baseline is taken.
pub fn warm_up_time(soak: Duration) -> Duration {
    (soak / 5).max(Duration::from_secs(10))
}

/// Random commands from a generator seeded with `seed` for `time`, checking the threads'
/// states after every [`CHUNK`].
fn random_phase(s: &mut Session, model: &mut Model, seed: u64, time: Duration) -> Result<(), Stop> {
    let mut g = Generator::new(seed);
    let deadline = Instant::now() + time;
    while Instant::now() < deadline {
        for _ in 0..CHUNK {
            let c = g.next(model);
            let a = s.run(&c)?;
            model.update(&c, a.failed);
        }
        s.check_threads(model)?;
    }
    Ok(())
}

/// The soak's phases: a warm-up round (one command of every kind, then a random phase with
/// another seed) and its teardown, the baseline, the random phase, its teardown, the end state.
fn soak(s: &mut Session, cpus: usize, opts: &SoakOpts) -> Result<(String, Vec<String>), Stop> {
    s.line
        .wait_text(PROMPT, "the first prompt", COMMAND_TIMEOUT)
        .map_err(|e| Stop::Closed(e.to_string()))?;
    let mut model = Model::new(cpus);
    s.run_all(&setup(), &mut model)?;
    let warm = warm_up(&model);
    s.run_all(&warm, &mut model)?;
    random_phase(
        s,
        &mut model,
        opts.seed ^ WARM_UP_SEED,
        warm_up_time(opts.duration),
    )?;
    let down = teardown(&model);
    s.run_all(&down, &mut model)?;
    let before = s.mem()?;

    s.run_all(&setup(), &mut model)?;
    s.soak_from = s.commands;
    random_phase(s, &mut model, opts.seed, opts.duration)?;
    s.soak_commands = s.commands - s.soak_from;
    let down = teardown(&model);
    s.run_all(&down, &mut model)?;
    // Settle: a timer or an irq_work of the teardown's last moments, read again a few times.
    let mut after = s.mem()?;
    for _ in 0..5 {
        if judge(&before, &after).1.is_empty() {
            break;
        }
        s.run("sleep 200ms")?;
        after = s.mem()?;
    }
    Ok(judge(&before, &after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn a_seed_gives_the_same_commands() {
        let m = Model::new(4);
        let run = |seed| {
            let mut g = Generator::new(seed);
            (0..500).map(|_| g.next(&m)).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn the_commands_cover_every_mechanism_and_follow_the_model() {
        let mut m = Model::new(4);
        for c in setup() {
            m.update(&c, false);
        }
        assert!(m.threads.iter().all(|t| *t == ThreadState::Live));
        let mut g = Generator::new(3);
        let mut seen = HashSet::new();
        for _ in 0..5000 {
            let c = g.next(&m);
            let w: Vec<&str> = c.split_whitespace().collect();
            seen.insert(w[0].to_string());
            // Only parked threads are bound or unparked; only live ones parked.
            if let ["park", t] | ["unpark", t] | ["bind", t, _] = w.as_slice() {
                let i: usize = t[2..].parse().unwrap();
                let want = if w[0] == "park" {
                    ThreadState::Live
                } else {
                    ThreadState::Parked
                };
                assert_eq!(m.threads[i], want, "{c}");
            }
            // Never CPU 0 offline, never all three others at once.
            if let ["cpu", "offline", n] = w.as_slice() {
                assert_ne!(*n, "0");
                assert!(m.offline.iter().filter(|o| **o).count() < 2, "{c}");
            }
            // Work queued on a CPU is queued on an online one.
            if let Some(i) = w.iter().position(|x| *x == "--cpu") {
                let cpu: usize = w[i + 1].parse().unwrap();
                assert!(!m.offline[cpu], "{c}");
            }
            m.update(&c, false);
        }
        for word in [
            "wq", "kworker", "irqwork", "taskwork", "park", "unpark", "bind", "prio", "stop",
            "spawn", "stress", "cpu", "sleep",
        ] {
            assert!(seen.contains(word), "no `{word}` in 5000 commands");
        }
    }

    #[test]
    fn teardown_undoes_what_the_model_holds() {
        let mut m = Model::new(4);
        for c in [
            "spawn sleeper st0",
            "spawn sleeper st1",
            "park st1",
            "cpu offline 2",
        ] {
            m.update(c, false);
        }
        m.update("park st0", true); // refused: st0 stays live
        let t = teardown(&m);
        assert!(t.contains(&"cpu online 2".to_string()));
        assert!(t.contains(&"unpark st1".to_string()));
        assert!(t.contains(&"stop st0".to_string()) && t.contains(&"stop st1".to_string()));
        assert!(!t.iter().any(|c| c == "stop st2" || c == "unpark st0"));
        for c in &t {
            m.update(c, false);
        }
        assert!(m.threads.iter().all(|t| *t == ThreadState::Gone));
        assert!(!m.offline.iter().any(|o| *o));
    }

    #[test]
    fn double_runs_are_found_in_a_stress_line() {
        let ok = "stress wq: 100 queued, 100 ran once, 0 twice or more, 0 never (cpu0 25) in 13 ms";
        assert_eq!(double_runs(ok), None);
        let bad = ok.replace("0 twice", "2 twice");
        assert!(double_runs(&bad).is_some());
        assert_eq!(double_runs("stressed out"), None);
    }

    /// A `mem --json` whose kinds each submitted `submitted` works, a tenth of them cancelled,
    /// `in_flight` not done.
    fn mem(in_flight: i64, submitted: i64, heap: u64) -> serde_json::Value {
        let mut works = serde_json::Map::new();
        let cancelled = submitted / 10;
        for k in KINDS {
            works.insert(
                k.into(),
                serde_json::json!({"submitted": submitted, "merged": submitted / 25,
                    "executed": submitted - in_flight - cancelled, "cancelled": cancelled,
                    "in_flight": in_flight}),
            );
        }
        let mut v = serde_json::json!({"works": works});
        for r in RESOURCES {
            v[r] = serde_json::json!({"used": if r == "heap" { heap } else { 3 }, "limit": 10});
        }
        v
    }

    #[test]
    fn judge_balances_each_kind_and_compares_every_resource() {
        let before = mem(0, 0, 100);
        let (counts, bad) = judge(&before, &mem(0, 50, 100));
        assert!(bad.is_empty(), "{bad:?}");
        assert!(
            counts.contains("workqueue 50 submitted = 45 executed + 5 cancelled (2 merged)"),
            "{counts}"
        );
        let (_, bad) = judge(&before, &mem(2, 50, 100));
        assert_eq!(bad.len(), 4, "{bad:?}");
        let (counts, bad) = judge(&before, &mem(0, 50, 100 + HEAP_SLACK as u64));
        assert!(
            bad.is_empty() && counts.ends_with("heap +65536 bytes"),
            "{bad:?} {counts}"
        );
        let (_, bad) = judge(&before, &mem(0, 50, 101 + HEAP_SLACK as u64));
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(
            bad[0].starts_with("heap: 100 bytes in use before, 65637 after"),
            "{bad:?}"
        );
        let (_, bad) = judge(&before, &mem(0, 0, 100));
        assert!(bad.iter().all(|b| b.ends_with("nothing was submitted")) && bad.len() == 4);
    }
}
