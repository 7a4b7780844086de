//! `trace`: a run over the shell's own commands, shown as text and dumped for the host.

use std::string::String;
use std::vec::Vec;

use super::kthread::{Step, in_kernel, sh};
use rtos::trace::{Kind, dump};

fn run(cmds: &'static [&'static str]) -> Vec<Step> {
    in_kernel(move || {
        crate::work::registry::reset();
        sh(cmds)
    })
}

#[test]
fn bad_trace_commands_change_nothing() {
    let s = run(&[
        "trace frob",
        "trace start bogus",
        "trace start --size 0",
        "trace start --size 1000000",
        "trace start --cpu 9",
        "trace show --last 3 --all",
        "trace stop extra",
    ]);
    s[0].fails(
        2,
        "error: trace: unknown subcommand 'frob' (expected start, stop, mark, show, stats or dump)",
    );
    s[1].fails(
        2,
        "error: trace: unknown event class 'bogus' (expected sched, irq, irqwork, taskwork, \
         work, kthread, cpu, mark)",
    );
    s[2].fails(2, "error: trace: --size must be 1 to 65536 events per CPU");
    s[3].fails(2, "error: trace: --size must be 1 to 65536 events per CPU");
    s[4].fails(2, "error: trace: CPU 9 is not online (EINVAL)");
    s[5].fails(2, "error: trace: --last and --all exclude each other");
    assert_eq!(s[6].status, 2, "{:?}", s[6]);
    assert!(!rtos::trace::on(), "no bad command started tracing");
}

#[test]
fn a_traced_run_shows_and_dumps_every_work_kind() {
    let s = run(&[
        "trace mark too-early",
        "trace start",
        "trace start --size 8192",
        "trace mark phase one",
        "irqwork queue iw --fn count",
        "wq create tq",
        "wq queue tq ww --fn count --cpu 1",
        "wait work ww runs >= 1",
        "trace stop",
        "trace show --all",
        "trace stats",
        "trace dump",
        "trace stop",
    ]);
    s[0].fails(
        1,
        "error: trace: tracing of marks is off (trace start, or trace start mark ...)",
    );
    s[1].ok();
    s[2].fails(
        1,
        "error: trace: the ring size is fixed at 4096 events per CPU until reboot (EBUSY)",
    );
    for st in &s[3..8] {
        st.ok();
    }
    assert!(s[8].line().starts_with("trace: stopped: "), "{:?}", s[8]);
    // show: a header, then one line per event, oldest first.
    let show = &s[9].out;
    assert!(show[0].starts_with("# trace stopped: "), "{show:?}");
    let find = |what: &str| {
        show.iter()
            .position(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no `{what}` in {show:#?}"))
    };
    let mark = find(": mark: text=\"phase one\"");
    let iq = find(": irq_work_queue: work=iw ");
    let is = find(": irq_work_start: work=iw ");
    let wq = find(": work_queue: work=ww queue=tq cpu=1");
    let ws = find(": work_start: work=ww queue=tq cpu=1");
    let we = find(": work_end: work=ww queue=tq cpu=1");
    assert!(
        mark < iq && iq < is && is < wq && wq < ws && ws < we,
        "{show:#?}"
    );
    assert!(show[ws].contains(" [001] "), "runs on CPU 1: {}", show[ws]);
    // The shell's own thread marked and queued (the fake kernel's tids go on from test to test).
    let who = |l: &str| String::from(l.split_whitespace().next().unwrap());
    assert_eq!(who(&show[mark]), who(&show[iq]), "{show:#?}");
    let shell_tid: u32 = who(&show[mark])
        .rsplit('-')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(shell_tid, 0, "not the idle thread");
    // stats: on/off, the size, a row per CPU, per class counts.
    let stats = &s[10].out;
    assert!(stats[0].starts_with("tracing off, 4096 events per CPU, classes: sched irq"));
    assert!(
        stats
            .iter()
            .any(|l| l.starts_with("by class: ") && l.ends_with(" mark=1"))
    );
    // The dump reads back to the same events the text showed.
    let text: String = s[11].out.iter().map(|l| format!("{l}\n")).collect();
    let d = dump::parse(&text).expect("a readable dump");
    assert_eq!(d.size, 4096);
    assert_eq!(d.cpus.len(), 4);
    let events: usize = d.cpus.iter().map(|c| c.events.len()).sum();
    assert_eq!(events, show.len() - 1);
    assert!(
        d.threads.iter().any(|(tid, _)| *tid == shell_tid),
        "the shell is listed"
    );
    let work_start = d.cpus[1]
        .events
        .iter()
        .find(|e| e.kind == Kind::WorkStart)
        .expect("the work started on CPU 1");
    let (id, _) = rtos::trace::untag(work_start.a);
    assert!(d.names.iter().any(|(i, n)| *i == id && n == "ww"));
    s[12].fails(1, "trace: not running");
}
