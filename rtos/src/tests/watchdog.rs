//! The watchdog: its detection logic on made-up histories, and on the fake port a spinning
//! thread, a long work and a long irq_work each reported.

use super::util::wait_for;
use crate::fake::run;
use crate::running::{Callback, CallbackKind};
use crate::watchdog::detect::{CpuSample, Detector, Report, ThreadSample, Thresholds};
use crate::watchdog::{self, describe};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

const MS: u64 = 1_000_000;
const TH: Thresholds = Thresholds {
    soft_ns: 2000 * MS,
    hung_ns: 1000 * MS,
};

fn thread(tid: u32, runtime_ms: u64, runnable: bool, callback: Option<Callback>) -> ThreadSample {
    ThreadSample {
        tid,
        name: alloc::format!("t{tid}"),
        cpu: 1,
        prio: 30,
        runnable,
        runtime_ns: runtime_ms * MS,
        callback,
    }
}

fn cpu(cpu: usize, irqs: u64, irq_callback: Option<Callback>) -> CpuSample {
    CpuSample {
        cpu,
        online: true,
        irqs,
        irq_callback,
        irq_work_deferred: 0,
        storm_slot: None,
    }
}

fn work(kind: CallbackKind, name: u16, seq: u64) -> Option<Callback> {
    Some(Callback { kind, name, seq })
}

/// Runs rounds every 250 ms; `at(k)` gives round k's samples. Returns (round, report) pairs.
fn rounds(
    n: u64,
    mut at: impl FnMut(u64) -> (Vec<ThreadSample>, Vec<CpuSample>),
) -> Vec<(u64, Report)> {
    let mut d = Detector::new();
    let mut out = Vec::new();
    for k in 0..n {
        let (t, c) = at(k);
        for r in d.round(k * 250 * MS, TH, &t, &c) {
            out.push((k, r));
        }
    }
    out
}

#[test]
fn a_thread_that_keeps_its_cpu_is_a_soft_lockup_once_per_episode() {
    // Busy all along for 4 s, then sleeps for a round, then busy again.
    let mut rt = 0;
    let got = rounds(40, |k| {
        let asleep = k == 16;
        if k > 0 && !asleep {
            rt += 250;
        }
        (alloc::vec![thread(3, rt, !asleep, None)], alloc::vec![])
    });
    let soft: Vec<u64> = got.iter().map(|(k, _)| *k).collect();
    // Busy since round 0; > 2 s at round 9 (2.25 s). Again from round 16 on: > 2 s at round 25.
    assert_eq!(soft, [9, 25], "{got:?}");
    match &got[0].1 {
        Report::SoftLockup {
            tid, for_ns, cpu, ..
        } => assert_eq!((*tid, *for_ns, *cpu), (3, 2250 * MS, 1)),
        r => panic!("{r:?}"),
    }
}

#[test]
fn a_thread_held_by_a_long_irq_work_is_not_a_soft_lockup() {
    // CPU 1 runs irq_work slot 5 from round 2 on; its thread's run time goes on counting.
    let got = rounds(20, |k| {
        let cb = (k >= 2).then_some(Callback {
            kind: CallbackKind::IrqWork,
            name: 5,
            seq: 1,
        });
        (
            alloc::vec![thread(1, k * 250, true, None)],
            alloc::vec![cpu(1, 2.min(k), cb)],
        )
    });
    let kinds: Vec<&str> = got.iter().map(|(_, r)| r.kind()).collect();
    assert_eq!(kinds, ["hung", "hard"], "{got:?}");
}

#[test]
fn a_cpu_putting_irq_work_off_every_round_is_a_storm() {
    // CPU 0 puts passes off in rounds 1..=12 (4 per round), then no more; again from 20 on.
    let mut deferred = 0;
    let got = rounds(40, |k| {
        if (1..=12).contains(&k) || k >= 20 {
            deferred += 4;
        }
        let mut c = cpu(0, k, None);
        c.irq_work_deferred = deferred;
        c.storm_slot = Some(3);
        (alloc::vec![], alloc::vec![c])
    });
    let at: Vec<u64> = got.iter().map(|(k, _)| *k).collect();
    // Storming since round 0 (first seen at 1): > 2 s at round 9; again since 19: round 28.
    assert_eq!(at, [9, 28], "{got:?}");
    match &got[0].1 {
        Report::IrqWorkStorm {
            cpu,
            slot,
            deferred,
            for_ns,
        } => assert_eq!(
            (*cpu, *slot, *deferred, *for_ns),
            (0, Some(3), 36, 2250 * MS)
        ),
        r => panic!("{r:?}"),
    }
}

#[test]
fn a_thread_using_half_its_cpu_is_not_a_lockup() {
    let got = rounds(40, |k| {
        (alloc::vec![thread(3, k * 125, true, None)], alloc::vec![])
    });
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn a_long_callback_is_hung_work_not_a_soft_lockup() {
    // A work that runs 3 s (seq 1), then a new one each round (seq 2, 3, ...).
    let got = rounds(30, |k| {
        let seq = if k < 12 { 1 } else { k };
        let cb = work(CallbackKind::Work, 7, seq);
        (alloc::vec![thread(4, k * 250, true, cb)], alloc::vec![])
    });
    assert_eq!(got.len(), 1, "{got:?}");
    match &got[0] {
        (
            k,
            Report::HungWork {
                callback,
                thread,
                for_ns,
                ..
            },
        ) => {
            // First seen at round 0: > 1 s at round 5.
            assert_eq!(*k, 5);
            assert_eq!((callback.kind, callback.name), (CallbackKind::Work, 7));
            assert_eq!(thread.as_ref().map(|t| t.0), Some(4));
            assert_eq!(*for_ns, 1250 * MS);
        }
        r => panic!("{r:?}"),
    }
}

#[test]
fn a_cpu_that_takes_no_interrupt_is_a_hard_lockup_and_its_irq_work_hung() {
    // CPU 2 stops taking interrupts from round 4 to round 20, inside irq_work slot 9; CPU 1
    // keeps taking them; CPU 3 is offline all along.
    let got = rounds(40, |k| {
        let stuck = (4..20).contains(&k);
        let irqs2 = if stuck { 4 } else { k };
        let cb = if stuck {
            work(CallbackKind::IrqWork, 9, 100)
        } else {
            None
        };
        let mut off = cpu(3, 0, None);
        off.online = false;
        (
            alloc::vec![],
            alloc::vec![cpu(1, k, None), cpu(2, irqs2, cb), off],
        )
    });
    let kinds: Vec<(u64, &str, usize)> = got
        .iter()
        .map(|(k, r)| {
            let c = r.cpu();
            (*k, r.kind(), c)
        })
        .collect();
    // irqs stand still from round 4 (seen at 5): quiet since round 4, > 2 s at round 13.
    // The irq_work seen from round 4: > 1 s at round 9.
    assert_eq!(kinds, [(9, "hung", 2), (13, "hard", 2)], "{got:?}");
}

#[test]
fn the_first_round_only_takes_note_and_reports_have_a_marker_line() {
    let mut d = Detector::new();
    let t = alloc::vec![thread(3, 0, true, work(CallbackKind::TaskWork, 1, 1))];
    assert!(d.round(0, TH, &t, &[]).is_empty());
    let r = Report::HardLockup {
        cpu: 2,
        for_ns: 2_340 * MS,
    };
    let lines = describe(&r);
    assert_eq!(
        lines[0],
        "WATCHDOG: hard lockup on cpu2: no interrupt taken for 2.34 s"
    );
    assert!(lines[1..].iter().all(|l| l.starts_with("  ")), "{lines:?}");
}

#[test]
fn thresholds_are_checked_and_refusals_change_nothing() {
    use crate::time::Duration;
    let before = watchdog::settings();
    assert_eq!(
        watchdog::set_soft(Duration::from_millis(100)),
        Err(crate::Error::Invalid)
    );
    assert_eq!(
        watchdog::set_hung(Duration::from_secs(100_000)),
        Err(crate::Error::Invalid)
    );
    assert_eq!(watchdog::settings(), before);
}

/// Waits (up to 5 s) until `count()` is above `before`.
fn reported(before: u64, count: impl Fn() -> u64) -> bool {
    wait_for(5000, || count() > before)
}

/// A running thread named `spinner` that never sleeps, bound to CPU 1, until the flag is set.
fn spinner_on_cpu1() -> (crate::kthread::KThread, Arc<AtomicBool>) {
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let spinner = crate::kthread::create_on_cpu("spinner", 1, move || {
        while !st.load(Ordering::Relaxed) {
            crate::fake::spin_for(std::time::Duration::from_millis(1));
        }
        0
    })
    .unwrap();
    crate::kthread::wake_up_process(&spinner);
    (spinner, stop)
}

#[test]
fn on_the_fake_port_a_spinner_a_long_work_and_a_long_irq_work_are_reported() {
    use crate::time::Duration;
    run(3, || {
        watchdog::set_soft(Duration::from_millis(500)).unwrap();
        watchdog::set_hung(Duration::from_millis(500)).unwrap();
        watchdog::start().unwrap();
        watchdog::start().unwrap(); // once
        let s0 = watchdog::settings();
        assert!(s0.started && s0.on);
        // A thread that never sleeps, bound to CPU 1.
        let (spinner, stop) = spinner_on_cpu1();
        assert!(
            reported(s0.soft_reports, || watchdog::settings().soft_reports),
            "the spinner is a soft lockup"
        );
        stop.store(true, Ordering::Relaxed);
        assert_eq!(super::util::join(&spinner), 0);
        // A work item busy for 1.2 s.
        use crate::work::workqueue as wqs;
        let wq = wqs::create("wdq").unwrap();
        let h0 = watchdog::settings().hung_reports;
        let w = crate::work::item::Work::new("slow", |_| {
            crate::fake::spin_for(std::time::Duration::from_millis(1200))
        });
        assert_eq!(wqs::queue(&wq, &w), Ok(true));
        assert!(
            reported(h0, || watchdog::settings().hung_reports),
            "the work is hung"
        );
        wqs::flush(&wq);
        // An irq_work busy for 1.2 s on CPU 1, interrupts masked there: hung, and CPU 1 takes
        // no interrupt (a hard lockup). (The watchdog runs on the last CPU, 2.)
        let (h1, k1) = {
            let s = watchdog::settings();
            (s.hung_reports, s.hard_reports)
        };
        let iw = crate::work::irq_work::IrqWork::new(
            "slow-irq",
            false,
            Arc::new(|_| crate::fake::spin_for(std::time::Duration::from_millis(1200))),
        )
        .unwrap();
        assert_eq!(crate::work::irq_work::queue_on(iw, 1), Ok(true));
        assert!(reported(h1, || watchdog::settings().hung_reports));
        assert!(reported(k1, || watchdog::settings().hard_reports));
        crate::work::irq_work::sync(iw).unwrap();
        0
    });
}

/// Bug (a CI run under host load): the watchdog read the clock for the round after sampling the
/// threads, so a watchdog CPU held up in between (a host descheduling a virtual CPU) made the
/// round look longer than what every thread was seen to run, and every streak broke at once;
/// the spinners of `console-safety.rsh` went unreported. The sample is now taken as of one
/// instant: sampled again later against the same instant, a running thread has not run more.
#[test]
fn a_sample_gives_run_times_as_of_its_instant_however_long_it_takes() {
    run(2, || {
        let (spinner, stop) = spinner_on_cpu1();
        let runtime = |now| {
            let (threads, _) = watchdog::sample(now);
            threads
                .iter()
                .find(|t| t.name == "spinner")
                .map(|t| (t.runnable, t.runtime_ns))
                .unwrap()
        };
        assert!(wait_for(5000, || runtime(crate::time::Instant::now()).1 > 20 * MS));
        let now = crate::time::Instant::now();
        let first = runtime(now);
        crate::fake::spin_for(std::time::Duration::from_millis(50));
        let later = runtime(now);
        assert!(first.0 && later.0, "the spinner is runnable");
        // It may have been switched out and back in between (its banked time then includes
        // up to the switch), but never by the 50 ms that passed.
        assert!(
            later.1 < first.1 + 5 * MS,
            "sampled as of one instant: {} ns, then {} ns",
            first.1,
            later.1
        );
        stop.store(true, Ordering::Relaxed);
        assert_eq!(super::util::join(&spinner), 0);
        0
    });
}
