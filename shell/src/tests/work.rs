//! The deferred-work commands (`work`, `irqwork`, `taskwork`, `wq`, `kworker`, `timers`,
//! `wait work`) on a fake 4-CPU kernel.

use std::format;
use std::vec::Vec;

use super::kthread::{CONSOLE, Step, in_kernel, install_console, sh};

/// Runs `cmds` in a fresh fake kernel with an empty work registry.
fn run(cmds: &'static [&'static str]) -> Vec<Step> {
    in_kernel(move || {
        crate::work::registry::reset();
        sh(cmds)
    })
}

/// The `work list --json` object of `name` in `step`.
fn obj<'a>(step: &'a Step, name: &str) -> &'a str {
    let key = format!("{{\"name\":\"{name}\",");
    step.out
        .iter()
        .find(|l| l.starts_with(&key))
        .unwrap_or_else(|| panic!("{name} not listed: {step:?}"))
}

/// A field of a JSON object, as written (numbers, null, quoted strings).
fn field<'a>(obj: &'a str, key: &str) -> &'a str {
    let at = obj.find(&format!("\"{key}\":")).expect(key) + key.len() + 3;
    let rest = &obj[at..];
    if let Some(s) = rest.strip_prefix('"') {
        &s[..s.find('"').unwrap()]
    } else {
        &rest[..rest.find([',', '}']).unwrap()]
    }
}

/// Each of `steps` succeeded.
fn all_ok(steps: &[Step]) {
    for s in steps {
        s.ok();
    }
}

#[test]
fn usage_and_lookup_errors() {
    let s = run(&[
        "irqwork queue a --fn bogus",
        "irqwork queue a --fn sleep:5",
        "irqwork queue a",
        "irqwork frob",
        "work frob",
        "irqwork queue a --fn count --cpu 9",
        "irqwork queue a --fn count",
        "taskwork list a",
        "wq queue q a",
        "wq create q",
        "wq queue q a",
        "wq create q",
        "kworker queue nope w --fn count",
        "taskwork add nobody w --fn count",
        "irqwork queue a --fn log",
        "wait work a runs >= 9 --timeout 20ms",
        "wait work nope runs >= 1",
        "wq destroy q",
        "wq destroy q",
        "wait work a state busy",
        "wait work a state pending --timeout 20ms",
        "wait work a state idle",
    ]);
    s[0].fails(
        2,
        "error: irqwork: invalid work function 'bogus' (expected log, count, busy:<ms>, sleep:<ms> or requeue:<n>)",
    );
    s[1].fails(
        2,
        "error: irqwork: sleep is not allowed in hard IRQ context (irq_work)",
    );
    s[2].fails(1, "error: irqwork: no such work 'a' (create it with --fn)");
    s[3].fails(
        2,
        "error: irqwork: unknown subcommand 'frob' (expected queue, sync or list)",
    );
    s[4].fails(
        2,
        "error: work: unknown subcommand 'frob' (expected list or delete)",
    );
    s[5].fails(2, "error: irqwork: CPU 9 is not online (EINVAL)");
    s[6].ok();
    s[7].fails(1, "error: taskwork: no such thread 'a' (ESRCH)");
    s[8].fails(1, "error: wq: no such workqueue 'q'");
    s[9].ok();
    s[10].fails(1, "error: wq: work 'a' is an irq_work, not a work");
    s[11].fails(
        1,
        "error: wq: a workqueue named 'q' already exists (EEXIST)",
    );
    s[12].fails(1, "error: kworker: no such kworker 'nope'");
    s[13].fails(1, "error: taskwork: no such thread 'nobody' (ESRCH)");
    s[14].fails(1, "error: irqwork: work 'a' already exists with --fn count");
    assert_eq!(s[15].status, 1);
    assert!(
        s[15]
            .line()
            .starts_with("error: wait: timeout: a ran 1 times, not 9"),
        "{:?}",
        s[15]
    );
    s[16].fails(1, "error: wait: no such work 'nope'");
    s[17].ok();
    s[18].fails(1, "error: wq: no such workqueue 'q'");
    s[19].fails(
        2,
        "error: wait: unknown work state 'busy' (expected one of idle, pending, delayed, running, canceling)",
    );
    assert_eq!(s[20].status, 1);
    assert!(
        s[20]
            .line()
            .starts_with("error: wait: timeout: a is idle, not pending"),
        "{:?}",
        s[20]
    );
    s[21].ok();
}

#[test]
fn irq_work_runs_on_the_chosen_cpu_and_once_while_pending() {
    let s = run(&[
        "irqwork queue hog --fn busy:200 --cpu 1",
        // Until hog's callback really runs, `c` could join its run pass and run at once.
        "wait work hog state running",
        "irqwork queue c --fn count --cpu 1",
        "irqwork queue c --cpu 1",
        "wait work c runs >= 1",
        "sleep 30ms",
        "irqwork queue t --fn count --cpu 3",
        "wait work t runs >= 1",
        "irqwork sync hog",
        "work list --json",
        "irqwork list",
        "cpus",
    ]);
    s[0].ok();
    s[1].ok();
    s[2].ok();
    assert_eq!((s[3].status, s[3].line()), (1, "already pending"));
    s[4].ok();
    s[8].ok();
    let l = &s[9];
    assert_eq!(field(obj(l, "c"), "runs"), "1", "queued twice, ran once");
    assert_eq!(field(obj(l, "c"), "cpu"), "1");
    assert_eq!(field(obj(l, "t"), "cpu"), "3");
    assert_eq!(field(obj(l, "t"), "queue"), "irq/3");
    assert_eq!(field(obj(l, "t"), "kind"), "irq_work");
    assert_eq!(field(obj(l, "hog"), "state"), "idle");
    assert_ne!(field(obj(l, "c"), "latency_ns"), "null");
    assert!(s[10].out.iter().any(|r| r.starts_with("c ")), "{:?}", s[10]);
    assert!(s[11].out[0].contains("IRQWORK_RUNS"), "{:?}", s[11]);
}

#[test]
fn irq_work_log_goes_through_klogd_and_requeue_repeats() {
    install_console();
    let s = run(&[
        "irqwork queue lg --fn log --cpu 2",
        "wait work lg runs >= 1",
        "irqwork queue rq --fn requeue:3",
        "wait work rq runs >= 4",
        "sleep 300ms",
        "wait klogd sleeping",
        "work list --json",
    ]);
    all_ok(&s[..4]);
    s[5].ok();
    assert_eq!(field(obj(&s[6], "rq"), "runs"), "4");
    let console = CONSOLE.lock().unwrap();
    assert!(
        console.iter().any(|l| l == "lg ran on cpu2 (hardirq)\r\n"),
        "{console:?}"
    );
}

/// Hard-IRQ log lines never land inside a command's output: while a command runs (`quiet`),
/// klogd keeps them, and the command's end prints them (before the next prompt); a wait that
/// prints nothing (`while_waiting`) lets klogd print them as they come.
#[test]
fn irq_log_lines_wait_for_the_end_of_a_command() {
    use crate::work::klogd::{ensure_klogd, log_line, quiet, while_waiting};
    use rtos::time::Duration;
    install_console();
    let has = |text: &str| {
        let line = format!("{text}\r\n");
        CONSOLE.lock().unwrap().contains(&line)
    };
    let (held_back, printed_at_end, live_in_wait) = in_kernel(move || {
        crate::work::registry::reset();
        ensure_klogd().unwrap();
        let q = quiet();
        log_line(format_args!("gate: during a command"));
        // Time for klogd to wake and print, had it not been held back.
        rtos::sched::sleep(Duration::from_millis(50));
        let held_back = !has("gate: during a command");
        drop(q);
        let printed_at_end = has("gate: during a command");
        let q = quiet();
        let live_in_wait = while_waiting(|| {
            log_line(format_args!("gate: during a wait"));
            (0..200).any(|_| {
                rtos::sched::sleep(Duration::from_millis(1));
                has("gate: during a wait")
            })
        });
        drop(q);
        (held_back, printed_at_end, live_in_wait)
    });
    assert!(held_back, "klogd printed inside a command's output");
    assert!(
        printed_at_end,
        "the command's end did not print the held line"
    );
    assert!(live_in_wait, "klogd did not print during a wait");
}

#[test]
fn task_work_notify_modes_and_cancel() {
    let s = run(&[
        "spawn sleeper s",
        "taskwork add s n --notify none --fn count",
        "sleep 60ms",
        "work list --json",
        "stop s",
        "work list --json",
        "spawn sleeper p",
        "wait p sleeping",
        "park p",
        "taskwork add p r --notify resume --fn count",
        "sleep 50ms",
        "work list --json",
        "unpark p",
        "wait work r runs >= 1",
        "taskwork add p g --notify signal --fn log",
        "wait work g runs >= 1",
        "park p",
        "taskwork add p c1 --fn count",
        "taskwork add p c2 --fn busy:1",
        "taskwork add p c1",
        "taskwork list p",
        "taskwork cancel p c1",
        "taskwork cancel p --fn busy:1",
        "taskwork cancel p c1",
        "stop p",
        "spawn exit e",
        "wait e exited",
        "taskwork add e x --fn count",
        "work list --json",
    ]);
    s[1].ok();
    assert_eq!(field(obj(&s[3], "n"), "runs"), "0", "none: not before stop");
    assert_eq!(field(obj(&s[3], "n"), "state"), "pending");
    assert_eq!(s[4].ok().line(), "s: result 0");
    assert_eq!(field(obj(&s[5], "n"), "runs"), "1", "none: at stop");
    assert_eq!(
        field(obj(&s[11], "r"), "runs"),
        "0",
        "resume: not while parked"
    );
    s[13].ok();
    s[15].ok();
    assert_eq!((s[19].status, s[19].line()), (1, "already pending"));
    assert_eq!(s[20].out, ["c2", "c1"]);
    assert_eq!(s[21].ok().line(), "cancelled c1");
    assert_eq!(s[22].ok().line(), "cancelled c2");
    assert_eq!((s[23].status, s[23].line()), (1, "not queued on p"));
    s[24].ok();
    s[27].fails(1, "error: taskwork: e is exiting or has exited (ESRCH)");
    assert_eq!(field(obj(&s[28], "c1"), "runs"), "0");
    assert_eq!(field(obj(&s[28], "c2"), "runs"), "0");
}

#[test]
fn workqueues() {
    let s = run(&[
        "wq create q",
        "wq create one --single",
        "wq queue q w --fn count --cpu 2",
        "wait work w runs >= 1",
        "wq delay q d 150ms --fn count",
        "wq delay q d 10ms",
        "timers",
        "sleep 60ms",
        "work list --json",
        "wait work d runs >= 1",
        "wq queue one b --fn busy:200",
        "wq flush one",
        "work list --json",
        "wq list",
        "wq destroy q",
        "wq destroy one",
        "wq list",
    ]);
    s[0].ok();
    s[1].ok();
    s[2].ok();
    s[3].ok();
    s[4].ok();
    assert_eq!((s[5].status, s[5].line()), (1, "already pending"));
    assert!(s[6].out.iter().any(|l| l.contains("call")), "{:?}", s[6]);
    assert_eq!(field(obj(&s[8], "d"), "state"), "delayed");
    assert_eq!(field(obj(&s[8], "d"), "runs"), "0", "not before its delay");
    assert_eq!(field(obj(&s[8], "w"), "cpu"), "2");
    assert_eq!(field(obj(&s[8], "w"), "queue"), "wq q");
    s[9].ok();
    s[11].ok();
    assert_eq!(
        field(obj(&s[12], "b"), "runs"),
        "1",
        "flush waited for busy:200"
    );
    assert_eq!(s[13].out.len(), 3, "{:?}", s[13]);
    assert!(s[13].out[1].starts_with("one"), "{:?}", s[13]);
    assert!(s[13].out[1].contains("single"), "{:?}", s[13]);
    s[14].ok();
    s[15].ok();
    assert_eq!(s[16].out.len(), 1);
}

#[test]
fn kthread_workers() {
    let s = run(&[
        "kworker create k --cpu 1",
        "kworker create k",
        "kworker delay k d 5s --fn count",
        "kworker delay k d 5s",
        "kworker cancel d",
        "kworker cancel d",
        "kworker queue k b --fn busy:200",
        "kworker flush-work b",
        "work list --json",
        "kworker delay k m 5s --fn count",
        "kworker mod k m 30ms",
        "wait work m runs >= 1 --timeout 2s",
        "kworker mod k m2 10ms --fn count",
        "wait work m2 runs >= 1",
        "kworker queue k b",
        "kworker flush k",
        "kworker delay k late 5s --fn count",
        "kworker destroy k",
        "kworker destroy k",
        "work list --json",
    ]);
    s[0].ok();
    s[1].fails(
        1,
        "error: kworker: a kworker named 'k' already exists (EEXIST)",
    );
    s[2].ok();
    assert_eq!((s[3].status, s[3].line()), (1, "already pending"));
    assert_eq!(s[4].ok().line(), "pending=true");
    assert_eq!(s[5].ok().line(), "pending=false");
    s[7].ok();
    assert_eq!(field(obj(&s[8], "b"), "runs"), "1", "flush-work waited");
    assert_eq!(field(obj(&s[8], "b"), "cpu"), "1");
    assert_eq!(field(obj(&s[8], "d"), "runs"), "0");
    assert_eq!(s[10].ok().line(), "pending=true");
    s[11].ok();
    assert_eq!(s[12].ok().line(), "pending=false");
    s[13].ok();
    s[15].ok();
    s[17].fails(
        1,
        "error: kworker: delayed works were still pending (cancelled, they will not run): late",
    );
    s[18].fails(1, "error: kworker: no such kworker 'k'");
    assert_eq!(field(obj(&s[19], "b"), "runs"), "2");
    assert_eq!(field(obj(&s[19], "late"), "state"), "idle");
}

#[test]
fn workqueue_cancel_flush_mod_and_one_owner() {
    let s = run(&[
        "wq create q",
        "kworker create k",
        "wq delay q d 5s --fn count --cpu 1",
        "wq mod q d 20ms --cpu 2",
        "wait work d runs >= 1 --timeout 2s",
        "work list --json",
        "wq mod q e 5s --fn count --cpu 1",
        "wq cancel e",
        "wq cancel e --sync",
        "wq delay q f 5s --fn count --cpu 3",
        "kworker queue k f",
        "kworker mod k f 10ms",
        "wq flush-work f",
        "work list --json",
        "kworker queue k f",
        "kworker flush k",
        "wq queue q b --fn busy:100 --cpu 1",
        "wq flush-work b",
        "wq flush-work b",
        "wq cancel nope",
        "wq mod q d 1s --cpu 9",
        "wq frob",
    ]);
    s[2].ok();
    assert_eq!(s[3].ok().line(), "pending=true", "mod of a delayed work");
    s[4].ok();
    assert_eq!(
        field(obj(&s[5], "d"), "cpu"),
        "2",
        "ran where the mod put it"
    );
    assert_eq!(field(obj(&s[5], "d"), "runs"), "1");
    assert_eq!(
        s[6].ok().line(),
        "pending=false",
        "mod of an idle work queues it"
    );
    assert_eq!(s[7].ok().line(), "pending=true");
    assert_eq!(s[8].ok().line(), "pending=false");
    s[9].ok();
    let busy = "work 'f' belongs to workqueue q (cpu3) (EBUSY); cancel it there first";
    s[10].fails(1, &format!("error: kworker: {busy}"));
    s[11].fails(1, &format!("error: kworker: {busy}"));
    assert_eq!(
        s[12].ok().line(),
        "pending=true",
        "flush-work queued it at once"
    );
    assert_eq!(field(obj(&s[13], "f"), "runs"), "1");
    assert_eq!(
        field(obj(&s[13], "f"), "queue"),
        "wq q",
        "the refusals changed nothing"
    );
    s[14].ok();
    s[15].ok();
    assert_eq!(s[17].ok().line(), "pending=true");
    assert_eq!(
        s[18].ok().line(),
        "pending=false",
        "nothing left to wait for"
    );
    s[19].fails(1, "error: wq: no such work 'nope'");
    assert_eq!(s[20].status, 2, "{:?}", s[20]);
    assert!(
        s[21].line().contains("unknown subcommand 'frob'"),
        "{:?}",
        s[21]
    );
}

#[test]
fn destroy_drains_chains_and_reports_what_it_cancelled() {
    let s = run(&[
        "wq create q",
        "wq queue q r --fn requeue:50 --cpu 1",
        "wq destroy q",
        "work list --json",
        "wq create q",
        "wq queue q forever --fn requeue:4000000000 --cpu 2",
        "wq delay q late 5s --fn count",
        "wq destroy q",
        "work list --json",
        "wq queue q late",
        "kworker create k",
        "kworker queue k late",
        "kworker flush k",
        "work list --json",
    ]);
    s[2].ok();
    assert_eq!(
        field(obj(&s[3], "r"), "runs"),
        "51",
        "every chained run ran"
    );
    assert_eq!(field(obj(&s[3], "r"), "state"), "idle");
    s[6].ok();
    s[7].fails(
        1,
        "error: wq: delayed works were still pending (cancelled, they will not run): late; \
         works still queueing themselves after 10000 queueings (cancelled): forever",
    );
    for name in ["forever", "late"] {
        let o = obj(&s[8], name);
        assert_eq!(field(o, "state"), "idle", "{name}: not stranded");
        assert_eq!(field(o, "queue"), "-", "{name}: names no dead queue");
    }
    s[9].fails(1, "error: wq: no such workqueue 'q'");
    s[11].ok();
    assert_eq!(field(obj(&s[13], "late"), "runs"), "1", "usable elsewhere");
}

/// Bug (issue 15): a `stop` or `park` that reached a worker's thread before its loop first ran
/// was honoured; `kworker queue` then still returned 0 and `kworker flush` never returned. A
/// worker's thread is its owner's: stop, park, unpark and bind are refused, naming the command
/// that does stop it, and the worker goes on working.
#[test]
fn a_workers_thread_cannot_be_stopped_or_parked_behind_its_owners_back() {
    let s = run(&[
        "kworker create k --cpu 1",
        "stop k --timeout 2s",
        "park k",
        "unpark k",
        "bind k 2",
        "kworker queue k x --fn count",
        "kworker flush k",
        "wait work x runs >= 1",
        "wq create q",
        "stop q/2",
        "park q/1",
        "wq queue q y --fn count --cpu 2",
        "wait work y runs >= 1",
        "kworker destroy k",
        "wq destroy q",
        "watchdog on",
        "stop watchdog",
        "park watchdog",
    ]);
    all_ok(&s[..1]);
    for (i, verb) in [(1, "stopped"), (2, "parked"), (3, "unparked"), (4, "bound")] {
        let cmd = ["stop", "park", "unpark", "bind"][i - 1];
        s[i].fails(
            1,
            &format!(
                "error: {cmd}: k is the thread of kthread worker 'k' and cannot be {verb} on its \
                 own (EPERM): `kworker destroy k` stops it"
            ),
        );
    }
    all_ok(&s[5..9]);
    s[9].fails(
        1,
        "error: stop: q/2 is the thread of workqueue 'q' and cannot be stopped on its own \
         (EPERM): `wq destroy q` stops it",
    );
    s[10].fails(
        1,
        "error: park: q/1 is the thread of workqueue 'q' and cannot be parked on its own \
         (EPERM): `wq destroy q` stops it",
    );
    all_ok(&s[11..16]);
    s[16].fails(
        1,
        "error: stop: watchdog is a system thread and cannot be stopped (EPERM)",
    );
    s[17].fails(
        1,
        "error: park: watchdog is a system thread and cannot be parked (EPERM)",
    );
}

#[test]
fn work_delete_forgets_idle_works_and_refuses_busy_ones() {
    let s = run(&[
        "irqwork queue a --fn count --cpu 1",
        "wait work a runs >= 1",
        "work delete a",
        "work list --json",
        "irqwork queue a --fn busy:1",
        "wq create q",
        "wq delay q d 5s --fn count --cpu 1",
        "work delete d",
        "wq cancel d",
        "work delete d",
        "spawn sleeper s",
        "taskwork add s t --notify none --fn count",
        "work delete t",
        "taskwork cancel s t",
        "work delete t",
        "work delete nope",
        "work frob",
        "work list",
    ]);
    s[2].ok();
    assert!(!s[3].out.iter().any(|l| l.contains("\"a\"")), "{:?}", s[3]);
    s[4].ok();
    s[7].fails(
        1,
        "error: work: work 'd' is delayed on workqueue q (cpu1) (EBUSY); wait for it or cancel it first",
    );
    s[9].ok();
    s[12].fails(
        1,
        "error: work: work 't' is pending on task s (EBUSY); wait for it or cancel it first",
    );
    s[14].ok();
    s[15].fails(1, "error: work: no such work 'nope'");
    assert_eq!(s[16].status, 2, "{:?}", s[16]);
    let names: Vec<&str> = s[17].out[1..]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(names, ["a"], "only the re-created irq_work is left");
    assert!(
        s[17].out[1].contains("busy:1"),
        "a new function: {:?}",
        s[17]
    );
}

/// A full irq_work pool is ENOMEM for the next name, and `work delete` makes room again.
#[test]
fn a_full_irq_work_pool_recovers_after_work_delete() {
    use rtos::work::irq_work::IrqWork;
    let got = in_kernel(|| {
        crate::work::registry::reset();
        let mut taken = Vec::new();
        while let Ok(w) = IrqWork::new("filler", false, std::sync::Arc::new(|_: &IrqWork| {})) {
            taken.push(w);
        }
        // One slot for a named work.
        taken.pop().unwrap().free().unwrap();
        let s = sh(&[
            "irqwork queue a --fn count",
            "irqwork queue b --fn count",
            "wait work a runs >= 1",
            "work delete a",
            "irqwork queue b --fn count",
            "wait work b runs >= 1",
        ]);
        for w in taken {
            w.free().unwrap();
        }
        s
    });
    got[0].ok();
    got[1].fails(
        1,
        "error: irqwork: no irq_work slot left (ENOMEM); `work delete` frees one",
    );
    all_ok(&got[3..6]);
}

#[test]
fn nmi_current_from_a_hard_irq_and_lazy_on_another_cpu() {
    install_console();
    let s = run(&[
        "spawn spin s --cpu 2",
        "wait s running",
        "taskwork nmi 2 tn --fn log",
        "wait work tn runs >= 1",
        "work list --json",
        "taskwork nmi 3 ti --fn count",
        "sleep 50ms",
        "taskwork add s x --notify nmi-current --fn count",
        "irqwork queue lz --lazy --cpu 1 --fn count",
        "wait work lz runs >= 1",
        "taskwork nmi 9 tn",
        "sleep 300ms",
        "wait klogd sleeping",
        "work list --json",
    ]);
    all_ok(&s[..4]);
    assert_eq!(
        field(obj(&s[4], "tn"), "queue"),
        "task s",
        "added to the interrupted thread"
    );
    assert_eq!(field(obj(&s[4], "tn"), "cpu"), "2");
    s[5].ok();
    s[7].fails(
        1,
        "error: taskwork: nmi-current adds only to the running thread, not s (EINVAL); \
         `taskwork nmi <cpu> <work>` adds from a hard IRQ on that CPU",
    );
    s[8].ok();
    s[9].ok();
    assert_eq!(s[10].status, 2, "{:?}", s[10]);
    assert_eq!(
        field(obj(&s[13], "ti"), "runs"),
        "0",
        "an idle CPU: not added"
    );
    assert_eq!(
        field(obj(&s[13], "x"), "queue"),
        "-",
        "a refused add changes nothing"
    );
    let console = CONSOLE.lock().unwrap();
    assert!(
        console.iter().any(|l| l == "tn ran on cpu2 (s)\r\n"),
        "{console:?}"
    );
    assert!(
        console
            .iter()
            .any(|l| l.starts_with("taskwork nmi: cpu3 interrupted ")
                && l.contains(": ti not added (EINVAL)")),
        "{console:?}"
    );
}

/// Bug (issue 15): the system's names were the user's too: a user thread `klogd` swallowed the
/// hard-IRQ log lines, `wq create events` shadowed the kernel's queue name, `kworker create 77`
/// took a name `spawn` refuses and `stop 77` then meant tid 77. One grammar now, for every
/// command that names something new; what it refuses changes nothing.
#[test]
fn every_new_name_follows_one_grammar_and_system_names_are_reserved() {
    let s = run(&[
        "spawn sleeper klogd",
        "wq create events",
        "kworker create 77",
        "kworker create kthreadd",
        "wq create a/b",
        "irqwork queue watchdog --fn count",
        "wq create q",
        "wq queue q 12 --fn count",
        "kworker create k",
        "wq list --json",
        "wq destroy q",
        "kworker destroy k",
    ]);
    s[0].fails(
        1,
        "error: spawn: thread name 'klogd' is reserved for the system (shell, kthreadd, klogd, \
         watchdog, idle, events) (EPERM)",
    );
    s[1].fails(
        1,
        "error: wq: workqueue name 'events' is reserved for the system (shell, kthreadd, klogd, \
         watchdog, idle, events) (EPERM)",
    );
    s[2].fails(
        2,
        "error: kworker: kworker name '77' is a number (it would read as a tid)",
    );
    assert!(s[3].out[0].contains("'kthreadd' is reserved"), "{:?}", s[3]);
    s[4].fails(
        2,
        "error: wq: workqueue name 'a/b' has '/': a name is printable characters other than '/'",
    );
    assert!(s[5].out[0].contains("'watchdog' is reserved"), "{:?}", s[5]);
    all_ok(&s[6..7]);
    s[7].fails(
        2,
        "error: wq: work name '12' is a number (it would read as a tid)",
    );
    all_ok(&s[8..12]);
    // The refused ones made nothing: one workqueue, q.
    assert!(s[9].ok().line().contains("\"q\""), "{:?}", s[9]);
    assert!(!s[9].ok().line().contains("events"), "{:?}", s[9]);
}

/// `mem`: every resource with its use and limit; `--json` one object; a work made shows up and
/// goes when deleted. (The fake system has no heap or stacks to report: `-`, null.)
#[test]
fn mem_shows_each_resource_and_its_limit() {
    let s = run(&[
        "mem",
        "irqwork queue m1 --fn count",
        "wait work m1 runs >= 1",
        "mem --json",
        "work delete m1",
        "mem --json",
        "mem --bogus",
    ]);
    let rows = &s[0].ok().out;
    assert_eq!(
        rows[0].split_whitespace().collect::<Vec<_>>(),
        ["RESOURCE", "USED", "LIMIT", "NOTE"]
    );
    let row = |name: &str| {
        rows.iter()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} row: {rows:?}"))
            .clone()
    };
    assert!(row("heap").contains(" - "), "{rows:?}");
    assert!(row("irq_work slots").contains("16384"), "{rows:?}");
    assert!(row("threads").contains(" 256"), "{rows:?}");
    assert!(row("klogd ring").ends_with("0 dropped"), "{rows:?}");
    let with = s[3].ok().line();
    assert!(
        with.contains("\"irq_work_slots\":{\"used\":1,\"limit\":16384}"),
        "{with}"
    );
    assert!(with.contains("\"named_works\":{\"used\":1,"), "{with}");
    assert!(
        with.contains("\"heap\":{\"used\":null,\"limit\":null}"),
        "{with}"
    );
    let without = s[5].ok().line();
    assert!(
        without.contains("\"irq_work_slots\":{\"used\":0,"),
        "{without}"
    );
    assert!(
        without.contains("\"named_works\":{\"used\":0,"),
        "{without}"
    );
    assert!(s[6].status == 2, "{:?}", s[6]);
    // The kernel's counters: the queueing of m1 and its run, balanced.
    let works = rows
        .iter()
        .skip_while(|l| !l.starts_with("WORKS"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .collect::<Vec<_>>();
    assert_eq!(works[0][..3], ["WORKS", "SUBMITTED", "MERGED"], "{rows:?}");
    assert_eq!(
        works[1..].iter().map(|w| w[0]).collect::<Vec<_>>(),
        ["irq_work", "task_work", "workqueue", "kthread_worker"]
    );
    assert!(
        with.contains("\"works\":{\"irq_work\":{\"submitted\":1,\"merged\":0,\"executed\":1,\"cancelled\":0,\"in_flight\":0}"),
        "{with}"
    );
}

/// `inject`: each setting reports itself; wrong arguments are usage errors that change nothing;
/// a named work made while allocations fail is refused with ENOMEM and not made; `inject off`.
#[test]
fn inject_sets_reports_refuses_and_turns_off() {
    let s = run(&[
        "inject",
        "inject alloc-fail --next 1",
        "irqwork queue f1 --fn count",
        "work list",
        "inject alloc-fail",
        "inject alloc-fail --every 0",
        "inject alloc-fail --every 2 --next 1",
        "inject alloc-fail --every 2 --cpu 9",
        "inject delay sgi 6ms",
        "inject delay nmi 1ms",
        "inject bogus",
        "inject",
        "inject delay timer 100us",
        "inject off",
    ]);
    assert!(
        s[0].ok().out[0].starts_with("alloc-fail: off (all CPUs)"),
        "{:?}",
        s[0]
    );
    assert_eq!(s[0].ok().out.len(), 4, "{:?}", s[0]);
    assert!(
        s[1].ok().out[0].starts_with("alloc-fail: next 1 (all CPUs)"),
        "{:?}",
        s[1]
    );
    s[2].fails(
        1,
        "error: irqwork: cannot make work 'f1': out of memory (ENOMEM)",
    );
    assert!(
        !s[3].ok().out.iter().any(|l| l.contains("f1")),
        "{:?}",
        s[3]
    );
    for step in &s[4..11] {
        assert_eq!(step.status, 2, "{step:?}");
    }
    assert!(s[8].out[0].contains("at most 5ms"), "{:?}", s[8]);
    assert!(s[9].out[0].contains("unknown site 'nmi'"), "{:?}", s[9]);
    // The refusals changed nothing: the --next 1 was used by f1, nothing else was set.
    let now = &s[11].ok().out;
    assert!(
        now[0].starts_with("alloc-fail: off (all CPUs), 1 injected"),
        "{now:?}"
    );
    assert!(
        now.iter().any(|l| l == "delay sgi: off, applied 0 times"),
        "{now:?}"
    );
    assert!(
        s[12]
            .ok()
            .out
            .iter()
            .any(|l| l.starts_with("delay timer: 100us")),
        "{:?}",
        s[12]
    );
    assert!(
        s[13]
            .ok()
            .out
            .iter()
            .any(|l| l.starts_with("delay timer: off")),
        "{:?}",
        s[13]
    );
}
