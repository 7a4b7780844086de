//! The kthread commands. Usage errors need no kernel; everything else runs the shell as the main
//! kthread of a fake 4-CPU kernel (`rtos::fake::run`), with `sleep` really sleeping.

use std::cell::Cell;
use std::format;
use std::string::{String, ToString};
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::vec::Vec;

use super::fakes::{FakeIo, FakeSystem, run, script};
use crate::kthreads::bodies::HOG_RELEASE;

/// One command's output lines and exit status.
#[derive(Debug)]
pub(super) struct Step {
    #[allow(dead_code)] // read by `Debug`, in failure messages
    cmd: String,
    pub(super) out: Vec<String>,
    pub(super) status: u8,
}

impl Step {
    /// The only output line (the step must print exactly one).
    pub(super) fn line(&self) -> &str {
        assert_eq!(self.out.len(), 1, "{self:?}");
        &self.out[0]
    }

    pub(super) fn ok(&self) -> &Self {
        assert_eq!(self.status, 0, "{self:?}");
        self
    }

    /// Fails with exactly `line` and `status`.
    pub(super) fn fails(&self, status: u8, line: &str) {
        assert_eq!((self.status, self.line()), (status, line), "{self:?}");
    }
}

/// Runs `cmds` through a fresh shell (one per call; kernel threads outlive it) and returns each
/// command's output and status. Output and status are told apart by an `echo @@$?` after each.
pub(super) fn sh(cmds: &[&str]) -> Vec<Step> {
    let mut input = String::new();
    for c in cmds {
        input.push_str(c);
        input.push_str("\necho @@$?\n");
    }
    let mut sys = FakeSystem::new();
    sys.real_sleep = IN_KERNEL.with(Cell::get);
    let mut io = FakeIo::new(&sys.clock);
    io.feed(input.as_bytes());
    let session = run(io, sys);
    let mut steps = Vec::new();
    let mut out = Vec::new();
    for line in session.output_lines() {
        match line.strip_prefix("@@") {
            Some(status) => steps.push(Step {
                cmd: cmds[steps.len()].to_string(),
                out: std::mem::take(&mut out),
                status: status.parse().expect("a status"),
            }),
            None => out.push(line),
        }
    }
    assert_eq!(steps.len(), cmds.len(), "{steps:?}");
    steps
}

std::thread_local! {
    /// Set on the host thread that runs the fake kernel's main kthread.
    static IN_KERNEL: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` as the main kthread of a fake kernel with 4 CPUs; a panic in `f` fails the test.
pub(super) fn in_kernel<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    type Slot<T> = Mutex<Option<std::thread::Result<T>>>;
    let slot: std::sync::Arc<Slot<T>> = std::sync::Arc::new(Mutex::new(None));
    let s = slot.clone();
    rtos::fake::run(4, move || {
        IN_KERNEL.with(|k| k.set(true));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        *s.lock().unwrap() = Some(r);
        0
    });
    let r = slot.lock().unwrap().take().expect("main ran");
    r.unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Waits (at most 5 s) until the body of the thread `name` runs: `wait <t> running` only says
/// that the thread is on a CPU, maybe still in the kthread wrapper, where a stop gives -4 and a
/// park parks it before its body ever runs.
fn until_started(name: &str) {
    let t = rtos::kthread::find(name).unwrap_or_else(|| panic!("no thread {name}"));
    let end = rtos::time::Instant::after(rtos::time::Duration::from_secs(5));
    while !crate::kthreads::shared::started(t.tid()) {
        assert!(!end.has_passed(), "{name} did not start");
        rtos::sched::sleep(rtos::time::Duration::from_millis(1));
    }
}

/// `ps --json` lines of the thread named `name`: its object, if listed.
fn json_of(ps: &Step, name: &str) -> Option<String> {
    let key = format!("\"name\":\"{name}\"");
    ps.out.iter().find(|l| l.contains(&key)).cloned()
}

/// A number field of a `ps --json` object.
fn field(obj: &str, key: &str) -> Option<i64> {
    let at = obj.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &obj[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn str_field<'a>(obj: &'a str, key: &str) -> Option<&'a str> {
    let at = obj.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let rest = &obj[at..];
    rest.find('"').map(|end| &rest[..end])
}

/// `(tid, cpu)` from a `spawned <name> (tid T) on cpuC...` line.
fn spawned(step: &Step, name: &str) -> (u32, usize) {
    step.ok();
    let rest = step
        .line()
        .strip_prefix(&format!("spawned {name} (tid "))
        .unwrap_or_else(|| panic!("{step:?}"));
    let (tid, rest) = rest.split_once(") on cpu").expect("tid and cpu");
    let cpu: String = rest.chars().take_while(char::is_ascii_digit).collect();
    (tid.parse().unwrap(), cpu.parse().unwrap())
}

/// The value of a thread's `count` in `ps --json`, run now.
fn count_of(name: &str) -> i64 {
    let ps = sh(&["ps --json"]);
    let obj = json_of(&ps[0], name).unwrap_or_else(|| panic!("{name} not listed: {ps:?}"));
    field(&obj, "count").expect("a counter has a count")
}

#[test]
fn usage_errors_need_no_kernel() {
    let long = "n".repeat(64);
    let cases: &[(&str, &str)] = &[
        (
            "spawn",
            "error: spawn: missing <kind> (usage: spawn <kind> [name] [opts])",
        ),
        (
            "spawn bogus",
            "error: spawn: invalid thread kind 'bogus' (expected spin, sleeper, ticker, counter, hog or exit)",
        ),
        (
            "spawn spin --prio 32",
            "error: spawn: invalid priority '32' (expected 0..=30, higher is more urgent; 31 is the system threads')",
        ),
        (
            "spawn spin --period 1s",
            "error: spawn: --period is for ticker and counter threads only",
        ),
        (
            "spawn counter --period 0",
            "error: spawn: --period must be above 0",
        ),
        (
            "spawn ticker --period 5xs",
            "error: spawn: invalid duration '5xs'",
        ),
        (
            "spawn spin --result 1",
            "error: spawn: --result is for exit threads only",
        ),
        (
            "spawn exit --result 3000000000",
            "error: spawn: invalid number '3000000000' (expected -2147483648..=2147483647)",
        ),
        ("spawn spin --cpu x", "error: spawn: invalid number 'x'"),
        (
            "spawn spin 123",
            "error: spawn: thread name '123' is a number (it would read as a tid)",
        ),
        ("spawn spin ''", "error: spawn: empty thread name"),
        ("spawn spin a b", "error: spawn: unexpected argument 'b'"),
        (
            "spawn spin --created=1",
            "error: spawn: option '--created' takes no value",
        ),
        ("ps a b", "error: ps: unexpected argument 'b'"),
        (
            "park",
            "error: park: missing <t> (usage: park <t> [--timeout D])",
        ),
        (
            "park x --timeout",
            "error: park: option '--timeout' needs a value",
        ),
        ("unpark", "error: unpark: missing <t> (usage: unpark <t>)"),
        ("stop a b", "error: stop: unexpected argument 'b'"),
        (
            "stop x --timeout soon",
            "error: stop: invalid duration 'soon'",
        ),
        (
            "wait x",
            "error: wait: missing <state> (usage: wait <t> <state> [--timeout D])",
        ),
        (
            "wait x zombie",
            "error: wait: invalid state 'zombie' (expected created, ready, running, sleeping, parked, stopping or exited)",
        ),
        (
            "bind x",
            "error: bind: missing <cpu> (usage: bind <t> <cpu>)",
        ),
        ("bind x y", "error: bind: invalid number 'y'"),
        ("wake", "error: wake: missing <t> (usage: wake <t>)"),
        (
            "prio x 99",
            "error: prio: invalid priority '99' (expected 0..=30, higher is more urgent; 31 is the system threads')",
        ),
    ];
    for (cmd, want) in cases {
        let steps = sh(&[cmd]);
        steps[0].fails(2, want);
    }
    let too_long = format!("spawn spin {long}");
    sh(&[&too_long])[0].fails(2, "error: spawn: thread name too long (max 63 bytes)");
}

#[test]
fn unknown_threads_are_runtime_errors() {
    for cmd in ["park", "unpark", "stop", "wake"] {
        let line = format!("{cmd} no-such-thread");
        sh(&[&line])[0].fails(
            1,
            &format!("error: {cmd}: no such thread 'no-such-thread' (ESRCH)"),
        );
    }
    sh(&["wait no-such-thread parked"])[0]
        .fails(1, "error: wait: no such thread 'no-such-thread' (ESRCH)");
    sh(&["bind no-such-thread 1"])[0]
        .fails(1, "error: bind: no such thread 'no-such-thread' (ESRCH)");
    sh(&["prio no-such-thread 1"])[0]
        .fails(1, "error: prio: no such thread 'no-such-thread' (ESRCH)");
    let s = script(b"park x\n");
    assert_eq!(s.exit, crate::Exit::Poweroff(1));
}

#[test]
fn help_describes_every_kthread_command() {
    let s = sh(&[
        "help spawn",
        "help ps",
        "help park",
        "help stop",
        "help wait",
        "help bind",
    ]);
    let all = |i: usize| s[i].ok().out.join("\n");
    for kind in [
        "spin",
        "sleeper",
        "ticker",
        "counter",
        "hog",
        "exit",
        "--created",
    ] {
        assert!(all(0).contains(kind), "help spawn lacks {kind}");
    }
    for col in [
        "TID", "STATE", "RUNTIME", "SWITCHES", "STACK", "COUNT", "--json",
    ] {
        assert!(all(1).contains(col), "help ps lacks {col}");
    }
    assert!(all(2).contains("ENOSYS") && all(2).contains("5s"));
    assert!(all(3).contains("-4") && all(3).contains("stopping"));
    assert!(all(4).contains("stopping") && all(4).contains("exited"));
    assert!(all(5).contains("EBUSY"));
}

/// `ps <t>` and `ps -o field`: one thread, one value (for `x=$(ps t -o tid)` in scripts).
#[test]
fn ps_one_thread_one_field() {
    let s = in_kernel(|| {
        sh(&[
            "spawn sleeper 日本語の長いスレッド名",
            "spawn counter cnt --created",
            "ps cnt -o tid",
            "ps cnt -o state",
            "ps cnt -o count",
            "ps cnt -o bound",
            "ps 日本語の長いスレッド名 -o name",
            "ps cnt",
            "tid=$(ps cnt -o tid)\nps $tid -o name",
            "ps nope",
            "ps -o bogus",
            "ps cnt --json -o tid",
            "stop cnt",
            "stop 日本語の長いスレッド名",
        ])
    });
    let tid = s[1].ok().out[0]
        .split("(tid ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .expect("spawn names the tid")
        .to_string();
    assert_eq!(s[2].ok().line(), tid);
    assert_eq!(s[3].ok().line(), "created");
    assert_eq!(s[4].ok().line(), "0");
    assert_eq!(s[5].ok().line(), "-", "null");
    assert_eq!(s[6].ok().line(), "日本語の長いスレッド名", "whole, not cut");
    assert_eq!(s[7].ok().out.len(), 2, "header and one row: {:?}", s[7]);
    assert_eq!(s[8].ok().line(), "cnt");
    s[9].fails(1, "error: ps: no such thread 'nope' (ESRCH)");
    assert_eq!(s[10].status, 2);
    assert!(
        s[10]
            .line()
            .starts_with("error: ps: unknown field 'bogus' (expected one of tid,")
    );
    s[11].fails(2, "error: ps: --json and -o together");
}

#[test]
fn spawn_ps_stop() {
    let s = in_kernel(|| {
        let mut s = sh(&["spawn spin s"]);
        until_started("s");
        s.extend(sh(&[
            "wait s running",
            "ps",
            "ps --json",
            "stop s",
            "ps --json",
            "stop s",
        ]));
        s
    });
    let (tid, cpu) = spawned(&s[0], "s");
    assert!(cpu < 4);
    s[1].ok();
    // The table: a header, then one row per kthread (the shell's own `main` included).
    let table = &s[2].ok().out;
    assert_eq!(
        table[0].split_whitespace().collect::<Vec<_>>(),
        [
            "TID", "NAME", "STATE", "CPU", "PRIO", "RUNTIME", "SWITCHES", "STACK", "COUNT"
        ]
    );
    let row: Vec<&str> = table
        .iter()
        .find(|l| l.split_whitespace().nth(1) == Some("s"))
        .expect("s listed")
        .split_whitespace()
        .collect();
    assert_eq!(row[0], tid.to_string());
    assert!(["running", "ready"].contains(&row[2]), "{row:?}");
    assert_eq!(row[4], "10", "default priority");
    assert!(
        row[5].ends_with('s') && row[5].starts_with(|c: char| c.is_ascii_digit()),
        "a duration: {row:?}"
    );
    assert_eq!(row[7], "0B/16K", "the fake's stack size");
    assert_eq!(row[8], "-", "not a counter");
    assert!(
        table
            .iter()
            .any(|l| l.split_whitespace().nth(1) == Some("main"))
    );
    // JSON: the same fields.
    let obj = json_of(&s[3], "s").expect("s listed");
    assert!(obj.starts_with('{') && obj.ends_with('}'), "{obj}");
    assert_eq!(field(&obj, "tid"), Some(i64::from(tid)));
    assert!(["running", "ready"].contains(&str_field(&obj, "state").unwrap()));
    assert_eq!(field(&obj, "prio"), Some(10));
    assert_eq!(field(&obj, "stack_size"), Some(16 * 1024));
    assert!(field(&obj, "switches").unwrap() >= 1);
    assert!(
        obj.contains("\"count\":null") && obj.contains("\"result\":null"),
        "{obj}"
    );
    // stop prints the result: the iterations so far (not -4: its body ran).
    let r: i64 = s[4]
        .ok()
        .line()
        .strip_prefix("s: result ")
        .expect("a result")
        .parse()
        .unwrap();
    assert!(r >= 0, "{:?}", s[4]);
    assert_eq!(json_of(&s[5], "s"), None, "a stopped thread is gone");
    s[6].fails(1, "error: stop: no such thread 's' (ESRCH)");
}

#[test]
fn kthreadd_creates_threads_and_refuses_park_and_stop() {
    let s = in_kernel(|| {
        sh(&[
            "spawn spin s --created",
            "ps --json",
            "park kthreadd",
            "stop kthreadd",
            "ps --json",
            "stop s",
        ])
    });
    s[0].ok();
    let kthreadd = json_of(&s[1], "kthreadd").expect("kthreadd listed in ps");
    let ktid = field(&kthreadd, "tid").unwrap();
    let spun = json_of(&s[1], "s").expect("s listed");
    assert_eq!(
        field(&spun, "ppid"),
        Some(ktid),
        "created by kthreadd: {spun}"
    );
    let main = json_of(&s[1], "main").expect("main listed");
    assert_ne!(
        field(&main, "ppid"),
        Some(ktid),
        "main is made at boot: {main}"
    );
    s[2].fails(
        1,
        "error: park: kthreadd cannot be parked (EPERM): it creates every kthread",
    );
    s[3].fails(
        1,
        "error: stop: kthreadd cannot be stopped (EPERM): it creates every kthread",
    );
    let after = json_of(&s[4], "kthreadd").expect("still listed");
    assert_eq!(str_field(&after, "state"), Some("sleeping"), "{after}");
    s[5].ok();
}

#[test]
fn created_thread_stops_with_eintr() {
    let s = in_kernel(|| {
        sh(&[
            "spawn spin s --created",
            "wait s created --timeout 10ms",
            "ps --json",
            "stop s",
        ])
    });
    assert!(s[0].line().ends_with(" (created, not woken)"), "{:?}", s[0]);
    spawned(&s[0], "s");
    s[1].ok();
    let obj = json_of(&s[2], "s").unwrap();
    assert_eq!(str_field(&obj, "state"), Some("created"));
    assert_eq!(field(&obj, "switches"), Some(0));
    assert_eq!(s[3].ok().line(), "s: result -4");
}

#[test]
fn default_names_are_unique() {
    let s = in_kernel(|| {
        sh(&[
            "spawn spin",
            "spawn spin",
            "spawn sleeper",
            "wait sleeper1 sleeping",
            "stop spin1",
            "spawn spin",
            "spawn spin",
            "stop spin1",
            "stop spin2",
            "stop spin3",
            "stop sleeper1",
        ])
    });
    spawned(&s[0], "spin1");
    spawned(&s[1], "spin2");
    spawned(&s[2], "sleeper1");
    s[3].ok();
    spawned(&s[5], "spin1");
    spawned(&s[6], "spin3");
    for step in &s[7..10] {
        assert!(step.ok().line().starts_with("spin"), "{step:?}");
    }
    assert_eq!(s[10].ok().line(), "sleeper1: result 0");
}

#[test]
fn park_unpark_stop_by_name_and_tid() {
    let s = in_kernel(|| {
        let first = sh(&["spawn sleeper z", "spawn spin p"]);
        let (tid, _) = spawned(&first[1], "p");
        let p = format!("park {tid}");
        let w = format!("wait {tid} parked --timeout 0");
        let mut rest = sh(&[
            "park z",
            "wait z parked --timeout 0",
            &p,
            &w,
            "ps --json",
            "park z",
            "unpark z",
            "wait z sleeping",
            "unpark z",
            "unpark p",
            "wait p running",
            "stop z",
            "stop p",
        ]);
        let mut all = first;
        all.append(&mut rest);
        all
    });
    spawned(&s[0], "z");
    for step in &s[2..=5] {
        assert!(step.ok().out.is_empty(), "{step:?}");
    }
    for name in ["z", "p"] {
        let obj = json_of(&s[6], name).unwrap();
        assert_eq!(str_field(&obj, "state"), Some("parked"), "{obj}");
    }
    s[7].fails(
        1,
        "error: park: z is already parked or being parked (EBUSY)",
    );
    s[8].ok();
    s[9].ok();
    s[10].ok(); // unpark of a thread that is not parked: nothing to do
    s[11].ok();
    s[12].ok();
    assert_eq!(s[13].ok().line(), "z: result 0");
    assert!(s[14].ok().line().starts_with("p: result "));
}

#[test]
fn counter_counts_only_while_not_parked() {
    let (spawn, counts, rest) = in_kernel(|| {
        let spawn = sh(&["spawn counter c --cpu 2 --period 2ms", "sleep 100ms"]);
        let c0 = count_of("c");
        let park = sh(&["park c", "wait c parked --timeout 0"]);
        let c1 = count_of("c");
        sh(&["sleep 100ms"]);
        let c2 = count_of("c");
        let unpark = sh(&["unpark c", "sleep 100ms"]);
        let c3 = count_of("c");
        let end = sh(&["ps", "stop c", "ps --json"]);
        let mut rest = park;
        rest.extend(unpark);
        rest.extend(end);
        (spawn, [c0, c1, c2, c3], rest)
    });
    let (_, cpu) = spawned(&spawn[0], "c");
    assert_eq!(cpu, 2);
    let [c0, c1, c2, c3] = counts;
    assert!(c0 > 0, "counts while running: {counts:?}");
    assert!(c1 >= c0);
    assert_eq!(c1, c2, "a parked counter does not count");
    assert!(c3 > c2, "counts again once unparked: {counts:?}");
    for step in &rest[..4] {
        step.ok();
    }
    // ps: on CPU 2 with its count in COUNT.
    let row: Vec<&str> = rest[4]
        .out
        .iter()
        .find(|l| l.split_whitespace().nth(1) == Some("c"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(row[3], "2", "{row:?}");
    assert!(row[8].parse::<i64>().unwrap() >= c3, "{row:?}");
    let result: i64 = rest[5]
        .ok()
        .line()
        .strip_prefix("c: result ")
        .unwrap()
        .parse()
        .unwrap();
    assert!(result >= c3, "the result is the count");
    assert_eq!(json_of(&rest[6], "c"), None);
}

#[test]
fn bind_rules() {
    let s = in_kernel(|| {
        sh(&[
            "spawn spin b --created",
            "bind b 3",
            "wake b",
            "wait b running",
            "ps --json",
            "bind b 2",
            "bind b 9",
            "bind b 7",
            "park b",
            "bind b 1",
            "unpark b",
            "wait b running",
            "ps --json",
            "stop b",
            "spawn spin x --cpu 4",
            "spawn exit e",
            "wait e exited",
            "bind e 1",
            "stop e",
        ])
    });
    spawned(&s[0], "b");
    for step in &s[1..=3] {
        step.ok();
    }
    let obj = json_of(&s[4], "b").unwrap();
    assert_eq!(
        (field(&obj, "cpu"), field(&obj, "bound")),
        (Some(3), Some(3))
    );
    s[5].fails(1, "error: bind: thread is busy (EBUSY)");
    s[6].fails(2, "error: bind: CPU 9 is not online (EINVAL)");
    s[7].fails(2, "error: bind: CPU 7 is not online (EINVAL)");
    for step in &s[8..=11] {
        step.ok();
    }
    let obj = json_of(&s[12], "b").unwrap();
    assert_eq!(
        (field(&obj, "cpu"), field(&obj, "bound")),
        (Some(1), Some(1))
    );
    s[13].ok();
    s[14].fails(2, "error: spawn: CPU 4 is not online (EINVAL)");
    spawned(&s[15], "e");
    s[16].ok();
    s[17].fails(1, "error: bind: e has exited (ENOSYS)");
    s[18].fails(1, "error: stop: e has already exited (result 0)");
}

#[test]
fn exited_threads() {
    let s = in_kernel(|| {
        sh(&[
            "spawn exit e --result 42",
            "wait e exited",
            "ps --json",
            "park e",
            "wait e running",
            "prio e 3",
            "stop e",
            "ps --json",
            "stop e",
            "spawn exit n --result -7",
            "wait n exited",
            "stop n",
        ])
    });
    spawned(&s[0], "e");
    s[1].ok();
    let obj = json_of(&s[2], "e").unwrap();
    assert_eq!(str_field(&obj, "state"), Some("exited"));
    assert_eq!(field(&obj, "result"), Some(42));
    s[3].fails(1, "error: park: e has exited (ENOSYS)");
    s[4].fails(
        1,
        "error: wait: e has exited (result 42), it will never be running",
    );
    s[5].fails(1, "error: prio: e has exited (ENOSYS)");
    s[6].fails(1, "error: stop: e has already exited (result 42)");
    assert_eq!(json_of(&s[7], "e"), None, "collected by the failed stop");
    s[8].fails(1, "error: stop: no such thread 'e' (ESRCH)");
    s[11].fails(1, "error: stop: n has already exited (result -7)");
}

#[test]
fn spawn_errors() {
    let s = in_kernel(|| {
        let mut s = sh(&["spawn sleeper d", "spawn spin d", "wait d sleeping"]);
        rtos::fake::set_stack_limit(0);
        s.extend(sh(&["spawn spin m", "ps --json"]));
        rtos::fake::set_stack_limit(usize::MAX);
        s.extend(sh(&["spawn spin m", "stop m", "stop d"]));
        s
    });
    spawned(&s[0], "d");
    s[1].fails(
        1,
        "error: spawn: a thread named 'd' already exists (EEXIST)",
    );
    s[2].ok();
    s[3].fails(
        1,
        "error: spawn: no memory or thread slot left for 'm' (ENOMEM)",
    );
    assert_eq!(json_of(&s[4], "m"), None);
    spawned(&s[5], "m");
    s[6].ok();
    assert_eq!(s[7].ok().line(), "d: result 0");
}

#[test]
fn too_many_threads_is_enomem() {
    let max = rtos::kthread::MAX_THREADS;
    // `main` and `kthreadd` hold two slots.
    let free = max - 2;
    let (spawns, ps, stops) = in_kernel(move || {
        let spawn: Vec<String> = (0..=free)
            .map(|i| format!("spawn exit t{i} --created"))
            .collect();
        let spawn: Vec<&str> = spawn.iter().map(String::as_str).collect();
        let spawns = sh(&spawn);
        let ps = sh(&["ps --json"]);
        let stop: Vec<String> = (0..free).map(|i| format!("stop t{i}")).collect();
        let stop: Vec<&str> = stop.iter().map(String::as_str).collect();
        (spawns, ps, sh(&stop))
    });
    for s in &spawns[..free] {
        s.ok();
    }
    spawns[free].fails(
        1,
        &format!("error: spawn: no memory or thread slot left for 't{free}' (ENOMEM)"),
    );
    assert_eq!(ps[0].out.len(), max);
    for (i, s) in stops.iter().enumerate() {
        assert_eq!(s.ok().line(), format!("t{i}: result -4"));
    }
}

#[test]
fn a_hog_times_out_and_the_shell_stays_usable() {
    let s = in_kernel(|| {
        HOG_RELEASE.store(false, Ordering::Release);
        let mut s = sh(&["spawn hog h"]);
        until_started("h");
        s.extend(sh(&[
            "wait h running",
            "park h --timeout 100ms",
            "bind h 1",
            "stop h --timeout 100ms",
            "ps --json",
            "wait h stopping --timeout 0",
            "echo alive",
            "park h --timeout 50ms",
        ]));
        HOG_RELEASE.store(true, Ordering::Release);
        s.extend(sh(&["stop h"]));
        s
    });
    spawned(&s[0], "h");
    s[1].ok();
    s[2].fails(1, "error: park: timeout");
    s[3].fails(1, "error: bind: thread is busy (EBUSY)");
    s[4].fails(1, "error: stop: timeout");
    let obj = json_of(&s[5], "h").unwrap();
    assert_eq!(
        str_field(&obj, "state"),
        Some("stopping"),
        "the stop request stays"
    );
    s[6].ok();
    assert_eq!(s[7].ok().line(), "alive");
    // The stop request cleared the park request, so parking is allowed again (and times out).
    assert_eq!(s[8].status, 1, "{:?}", s[8]);
    assert_eq!(s[9].ok().line(), "h: result 0");
}

#[test]
fn wait_timeouts_and_states() {
    let s = in_kernel(|| {
        sh(&[
            "spawn sleeper w",
            "wait w sleeping",
            "wait w parked --timeout 50ms",
            "wait w exited --timeout 1ms",
            "stop w",
        ])
    });
    spawned(&s[0], "w");
    s[1].ok();
    s[2].fails(
        1,
        "error: wait: timeout: w is sleeping, not parked, after 50ms",
    );
    assert_eq!(s[3].status, 1);
    assert!(s[3].line().starts_with("error: wait: timeout: w is "));
    assert_eq!(s[4].ok().line(), "w: result 0");
}

#[test]
fn wake_and_prio() {
    let s = in_kernel(|| {
        sh(&[
            "spawn sleeper k --created --prio 20",
            "ps --json",
            "wake k",
            "wait k sleeping",
            "prio k 5",
            "ps --json",
            "spawn spin s",
            "wait s running",
            "wake s",
            "stop k",
            "stop s",
        ])
    });
    spawned(&s[0], "k");
    let obj = json_of(&s[1], "k").unwrap();
    assert_eq!(
        (str_field(&obj, "state"), field(&obj, "prio")),
        (Some("created"), Some(20))
    );
    assert!(s[2].ok().out.is_empty());
    s[3].ok();
    s[4].ok();
    assert_eq!(field(&json_of(&s[5], "k").unwrap(), "prio"), Some(5));
    let note = s[8].ok().line();
    assert!(
        note == "s is running: nothing to wake" || note == "s is ready: nothing to wake",
        "{note}"
    );
    assert_eq!(s[9].ok().line(), "k: result 0");
}

/// Console lines from kernel threads, for the ticker.
pub(super) static CONSOLE: Mutex<Vec<String>> = Mutex::new(Vec::new());

pub(super) struct TestConsole;

impl rtos::console::Sink for TestConsole {
    fn write_str(&self, s: &str) {
        CONSOLE.lock().unwrap().push(s.to_string());
    }
}

/// Installs [`TestConsole`] as the kernel console (the first install wins).
pub(super) fn install_console() {
    static SINK: TestConsole = TestConsole;
    rtos::console::install(&SINK);
}

#[test]
fn ticker_prints_ticks() {
    install_console();
    let s = in_kernel(|| sh(&["spawn ticker tk --period 20ms", "sleep 150ms", "stop tk"]));
    spawned(&s[0], "tk");
    let n: usize = s[2]
        .ok()
        .line()
        .strip_prefix("tk: result ")
        .unwrap()
        .parse()
        .unwrap();
    assert!(n >= 2, "{n} ticks in 150ms at 20ms");
    let lines: Vec<String> = CONSOLE
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("tk: "))
        .cloned()
        .collect();
    let want: Vec<String> = (1..=n).map(|i| format!("tk: tick {i}\r\n")).collect();
    assert_eq!(lines, want);
}

#[test]
fn names_with_quotes_and_spaces() {
    let s = in_kernel(|| {
        sh(&[
            r#"spawn sleeper 'a"b\c'"#,
            r#"spawn sleeper "my thread""#,
            r#"wait 'a"b\c' sleeping"#,
            r#"wait "my thread" sleeping"#,
            "ps --json",
            "ps",
            r#"stop 'a"b\c'"#,
            r#"stop "my thread""#,
        ])
    });
    spawned(&s[0], r#"a"b\c"#);
    spawned(&s[1], "my thread");
    s[2].ok();
    s[3].ok();
    assert!(
        s[4].out.iter().any(|l| l.contains(r#""name":"a\"b\\c""#)),
        "{:?}",
        s[4]
    );
    assert!(s[4].out.iter().any(|l| l.contains(r#""name":"my thread""#)));
    assert!(s[5].out.iter().any(|l| l.contains(" my thread ")));
    assert_eq!(s[6].ok().line(), r#"a"b\c: result 0"#);
    assert_eq!(s[7].ok().line(), "my thread: result 0");
}

/// `cpu offline|online`: the kernel's hotplug from the shell, its refusals in words, and a
/// per-CPU thread parked while its CPU is offline.
#[test]
fn cpu_offline_and_online() {
    let s = in_kernel(|| {
        sh(&[
            "spawn counter c --cpu 2 --period 1ms",
            "wait c sleeping",
            "cpu offline 2",
            "wait c parked",
            "cpu offline 2",
            "spawn spin s --cpu 2",
            "cpu online 2",
            "wait c sleeping",
            "cpu online 2",
            "cpu offline 0",
            "cpu offline 7",
            "cpu bogus 1",
            "cpu offline",
            "stop c",
        ])
    });
    for i in [0, 1, 2, 3, 6, 7, 13] {
        s[i].ok();
    }
    s[4].fails(1, "error: cpu: cpu2 is already offline (EINVAL)");
    s[5].fails(2, "error: spawn: CPU 2 is not online (EINVAL)");
    s[8].fails(1, "error: cpu: cpu2 is already online (EINVAL)");
    s[9].fails(1, "error: cpu: cpu0 always stays online (EPERM)");
    s[10].fails(1, "error: cpu: there is no cpu7 (EINVAL)");
    s[11].fails(
        2,
        "error: cpu: unknown subcommand 'bogus' (expected offline or online)",
    );
    assert_eq!(s[12].status, 2, "{:?}", s[12]);
}

/// `ps` keeps its columns with a 63-byte name and a name of wide (CJK) characters: the name is
/// cut with `…` to its 16 columns, and STATE starts in the same column on every row.
#[test]
fn ps_columns_line_up_with_long_and_wide_names() {
    use unicode_width::UnicodeWidthStr;
    let s = in_kernel(|| {
        sh(&[
            "spawn sleeper abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0",
            "spawn sleeper 睡眠中のスレッドです",
            "ps",
            "stop abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0",
            "stop 睡眠中のスレッドです",
        ])
    });
    let rows = &s[2].ok().out;
    let state_col = |l: &str| {
        let i = l.find("STATE").or_else(|| {
            [
                "sleeping", "running", "ready", "created", "parked", "stopping", "exited",
            ]
            .iter()
            .filter_map(|w| l.find(&format!(" {w}")).map(|i| i + 1))
            .min()
        });
        l[..i.unwrap_or_else(|| panic!("no state in {l}"))].width()
    };
    let want = state_col(&rows[0]);
    for r in rows {
        assert_eq!(state_col(r), want, "{rows:#?}");
    }
    assert!(
        rows.iter().any(|r| r.contains("abcdefghijklmno…")),
        "{rows:#?}"
    );
    assert!(
        rows.iter().any(|r| r.contains("睡眠中のスレッ… ")),
        "{rows:#?}"
    );
}

/// A session outside the kernel (a test's own thread, on the fake system with no kernel) never
/// calls into a fake kernel that another test runs at the same moment: `cargo test` runs tests
/// in parallel, and a fuzz case typing `wq create q` used to create a workqueue in whatever
/// kernel was running, from a thread that is none of its CPUs, and hang the whole suite.
#[test]
fn a_session_outside_the_kernel_leaves_a_running_kernel_alone() {
    let (tx, rx) = std::sync::mpsc::channel();
    in_kernel(move || {
        std::thread::spawn(move || {
            let s = script(b"wq create q\nirqwork queue w --fn count\nspawn sleeper z\n");
            let _ = tx.send(s.transcript());
        });
        rtos::sched::sleep(rtos::time::Duration::from_millis(50));
        assert!(rtos::kthread::find("z").is_none() && rtos::kthread::find("q/0").is_none());
    });
    let t = rx
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the outside session ended");
    assert_eq!(
        t.matches(": the scheduler is not running").count(),
        3,
        "{t}"
    );
}
