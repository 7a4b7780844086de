//! `timer` on the fake port: exact, never-early expiry in deadline order, past and far-future
//! deadlines, the `pending` listing, stale ids.

use crate::fake::{run, spin_for};
use crate::time::Instant;
use crate::timer::{Action, arm, cancel, has_pending, pending, set_slice};
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::time::Duration;
use std::sync::Mutex;

const MS: u64 = 1_000_000; // the fake counter runs in nanoseconds

fn now() -> u64 {
    crate::port::port().now()
}

/// The instant at counter value `t`.
fn at(t: u64) -> Instant {
    Instant::from_ticks(t)
}

/// An action recording `(tag, time it ran)` into `log`.
fn record(log: &Arc<Mutex<Vec<(u32, u64)>>>, tag: u32) -> Action {
    let log = log.clone();
    Action::Call(Box::new(move || log.lock().unwrap().push((tag, now()))))
}

fn wait_len(log: &Arc<Mutex<Vec<(u32, u64)>>>, n: usize) -> bool {
    let end = now() + 2000 * MS;
    while log.lock().unwrap().len() < n && now() < end {
        spin_for(Duration::from_micros(200));
    }
    log.lock().unwrap().len() >= n
}

#[test]
fn timers_fire_in_deadline_order_never_early_ties_in_arm_order() {
    run(1, || {
        let log = Arc::new(Mutex::new(Vec::new()));
        let cpu = crate::port::port().cpu_id();
        let t0 = now();
        let deadlines = [
            t0 + 40 * MS,
            t0 + 20 * MS,
            t0 + 20 * MS,
            t0 + 60 * MS,
            t0 + 30 * MS,
        ];
        let p = crate::port::port();
        let s = p.irq_save();
        let ids: Vec<_> = (0u32..)
            .zip(deadlines)
            .map(|(tag, d)| arm(at(d), record(&log, tag)))
            .collect();
        let listed: Vec<u64> = pending(cpu).into_iter().map(|(d, _)| d.ticks()).collect();
        p.irq_restore(s);
        let mut sorted = deadlines.to_vec();
        sorted.sort_unstable();
        assert_eq!(listed, sorted);
        assert!(pending(cpu).iter().all(|&(_, kind)| kind == "call"));
        assert!(cancel(ids[4]), "cancel the 30 ms timer");
        assert!(!cancel(ids[4]), "a second cancel finds nothing");
        assert!(wait_len(&log, 4), "all fired");
        let log = log.lock().unwrap().clone();
        let tags: Vec<u32> = log.iter().map(|&(t, _)| t).collect();
        assert_eq!(tags, [1, 2, 0, 3]);
        for &(tag, ran) in &log {
            assert!(ran >= deadlines[tag as usize], "timer {tag} ran early");
        }
        assert!(!cancel(ids[0]), "a fired timer's id is stale");
        assert!(!has_pending(cpu));
        assert!(pending(cpu).is_empty());
        0
    });
}

#[test]
fn past_deadline_fires_at_once_far_future_stays_pending() {
    run(1, || {
        let log = Arc::new(Mutex::new(Vec::new()));
        let cpu = crate::port::port().cpu_id();
        let far = arm(Instant::MAX, record(&log, 9));
        assert_eq!(far.deadline(), Instant::MAX);
        assert_eq!(far.cpu(), cpu);
        // Interrupts masked: the first past deadline cannot fire before the second is armed.
        let p = crate::port::port();
        let s = p.irq_save();
        arm(at(now().saturating_sub(5 * MS).max(1)), record(&log, 1));
        arm(Instant::ZERO, record(&log, 0));
        p.irq_restore(s);
        assert!(wait_len(&log, 2), "past deadlines fire at once");
        let tags: Vec<u32> = log.lock().unwrap().iter().map(|&(t, _)| t).collect();
        assert_eq!(tags, [0, 1]);
        assert_eq!(pending(cpu), [(Instant::MAX, "call")]);
        assert!(has_pending(cpu));
        assert!(cancel(far));
        assert!(!has_pending(cpu));
        spin_for(Duration::from_millis(5));
        assert_eq!(log.lock().unwrap().len(), 2);
        0
    });
}

#[test]
fn thousands_of_timers_fire_exactly_once_each() {
    run(2, || {
        let log = Arc::new(Mutex::new(Vec::new()));
        let t0 = now();
        let n = 3000u32;
        let ids: Vec<_> = (0..n)
            .map(|i| {
                // 200 ms out: a loaded host may take milliseconds to arm 3,000 timers, and the
                // cancels below must find them still pending.
                arm(
                    at(t0 + 200 * MS + u64::from(i * 7919 % 1000) * 20_000),
                    record(&log, i),
                )
            })
            .collect();
        // Cancel every third one.
        for id in ids.iter().step_by(3) {
            assert!(cancel(*id));
        }
        let left = (n - n.div_ceil(3)) as usize;
        assert!(wait_len(&log, left));
        spin_for(Duration::from_millis(5));
        let log = log.lock().unwrap().clone();
        assert_eq!(log.len(), left);
        let mut seen = std::collections::BTreeSet::new();
        let mut last = 0;
        for &(tag, ran) in &log {
            assert!(tag % 3 != 0, "cancelled timer {tag} fired");
            assert!(seen.insert(tag), "timer {tag} fired twice");
            let deadline = ids[tag as usize].deadline().ticks();
            assert!(ran >= deadline, "timer {tag} ran early");
            assert!(deadline >= last, "out of order");
            last = deadline;
        }
        0
    });
}

#[test]
fn pending_places_the_slice_by_deadline_before_equal_timers() {
    run(1, || {
        let log = Arc::new(Mutex::new(Vec::new()));
        let cpu = crate::port::port().cpu_id();
        let p = crate::port::port();
        // Masked: no switch re-arms the slice and nothing fires while we look.
        let s = p.irq_save();
        let t0 = now() + 1000 * MS;
        let ids: Vec<_> = [30, 10, 20]
            .into_iter()
            .zip(0u32..)
            .map(|(ms, tag)| arm(at(t0 + ms * MS), record(&log, tag)))
            .collect();
        let listing = |slice_ms: u64| {
            set_slice(cpu, Some(at(t0 + slice_ms * MS)));
            pending(cpu)
                .into_iter()
                .map(|(d, kind)| ((d.ticks() - t0) / MS, kind))
                .collect::<Vec<_>>()
        };
        let early = listing(5);
        let tie = listing(20);
        let late = listing(40);
        set_slice(cpu, None);
        for id in ids {
            assert!(cancel(id));
        }
        p.irq_restore(s);
        assert_eq!(
            early,
            [(5, "slice"), (10, "call"), (20, "call"), (30, "call")]
        );
        assert_eq!(
            tie,
            [(10, "call"), (20, "slice"), (20, "call"), (30, "call")]
        );
        assert_eq!(
            late,
            [(10, "call"), (20, "call"), (30, "call"), (40, "slice")]
        );
        0
    });
}
