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
