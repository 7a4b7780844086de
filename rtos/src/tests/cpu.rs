//! Per-CPU counters and the online flag.

use crate::config::MAX_CPUS;
use crate::cpu::{IrqKind, online_count, snapshot, stats};

#[test]
fn counts_by_kind() {
    // CPU 7 is used by no other test.
    let c = stats(7).unwrap();
    let before = snapshot(7).unwrap();
    c.count(IrqKind::Timer);
    c.count(IrqKind::Sgi);
    c.count(IrqKind::Sgi);
    c.count(IrqKind::Device);
    let after = snapshot(7).unwrap();
    assert_eq!(after.irqs - before.irqs, 4);
    assert_eq!(after.timer_irqs - before.timer_irqs, 1);
    assert_eq!(after.sgis - before.sgis, 2);
    assert!(stats(MAX_CPUS).is_none());
}

#[test]
fn online_flag() {
    let before = online_count();
    assert!(!stats(6).unwrap().is_online());
    stats(6).unwrap().set_online();
    assert!(snapshot(6).unwrap().online);
    assert_eq!(online_count(), before + 1);
}

#[test]
fn switches_and_idle_time_per_cpu() {
    crate::fake::run(2, || {
        let before = crate::sched::cpu_times(1).expect("cpu1 runs the scheduler");
        let t0 = crate::time::Instant::now();
        // A thread that sleeps often on CPU 1: every sleep and wake-up is a switch there, and
        // cpu1 idles in between.
        let opts = crate::kthread::Options {
            prio: None,
            cpu: Some(1),
        };
        let t = crate::kthread::create_with("napper", opts, || {
            for _ in 0..20 {
                crate::sched::sleep(crate::time::Duration::from_millis(2));
            }
            0
        })
        .unwrap();
        crate::kthread::wake_up_process(&t);
        let exited = || t.info().state == crate::sched::State::Exited;
        assert!(super::util::wait_for(2_000, exited));
        let after = crate::sched::cpu_times(1).unwrap();
        let elapsed = t0.elapsed();
        assert!(
            after.switches >= before.switches + 40,
            "{before:?} -> {after:?}"
        );
        let idle = crate::time::ticks(after.idle_ticks - before.idle_ticks);
        assert!(
            idle > crate::time::Duration::from_millis(20),
            "idle {idle:?}"
        );
        assert!(
            idle <= elapsed + crate::time::Duration::from_millis(5),
            "idle {idle:?}"
        );
        let snap = snapshot(1).unwrap();
        assert!(snap.switches >= after.switches);
        assert!(snap.idle >= crate::time::ticks(after.idle_ticks));
        assert!(crate::sched::cpu_times(MAX_CPUS).is_none());
        0
    });
}
