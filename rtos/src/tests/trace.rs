//! The trace ring: wrap-around and lost counts, the event encoding, and recording from threads
//! and hard-IRQ context on the fake port.

use crate::fake::run;
use crate::sched;
use crate::trace::ring::Ring;
use crate::trace::{self, Class, Event, Kind};
use crate::work::irq_work::{self, IrqWork};
use alloc::sync::Arc;

#[test]
fn a_full_ring_keeps_the_newest_and_counts_the_rest_lost() {
    let r = Ring::new(5); // rounded up to 8
    assert_eq!(r.capacity(), 8);
    for i in 0..20u64 {
        r.record([i, i, i, i]);
    }
    let s = r.snapshot_from(0);
    assert_eq!(s.lost, 12);
    let firsts: alloc::vec::Vec<u64> = s.events.iter().map(|e| e[0]).collect();
    assert_eq!(firsts, (12..20).collect::<alloc::vec::Vec<_>>());
    // From a later index: only what was recorded since, none lost.
    let s = r.snapshot_from(17);
    assert_eq!((s.events.len(), s.lost), (3, 0));
    // From an index already overwritten: the overwritten ones are lost.
    let s = r.snapshot_from(10);
    assert_eq!((s.events.len(), s.lost), (8, 2));
}

#[test]
fn every_kind_round_trips_through_the_encoding() {
    for (i, k) in Kind::ALL.iter().enumerate() {
        let e = Event {
            ticks: 1_000 + i as u64,
            kind: *k,
            cpu: (i % 8) as u8,
            tid: 0xdead_0000 + i as u32,
            a: u64::MAX - i as u64,
            b: i as u64,
        };
        assert_eq!(Event::decode(e.encode()), Some(e));
    }
    assert_eq!(Event::decode([0, 0, 0, 0]), None, "kind 0 is no event");
    assert_eq!(Kind::ALL.len(), Kind::Mark as usize);
}

#[test]
fn records_from_threads_and_hard_irq_by_class_and_run() {
    run(2, || {
        let on_before = trace::on();
        assert!(!on_before);
        trace::record(Kind::Mark, 1, 0); // off: nothing
        trace::start(&[Class::Mark, Class::IrqWork], 64).unwrap();
        assert_eq!(trace::start(&[Class::Mark], 128), Err(crate::Error::Busy));
        let me = sched::current().unwrap();
        trace::record(Kind::Mark, 7, 8);
        trace::record(Kind::Wakeup, 1, 2); // class Sched is off
        let w = IrqWork::new(
            "traced",
            false,
            Arc::new(|_| trace::record(Kind::IrqWorkStart, 42, 0)),
        )
        .unwrap();
        assert!(irq_work::queue(w));
        assert!(super::util::wait_for(1000, || w.runs() == 1));
        trace::stop();
        trace::record(Kind::Mark, 9, 9); // stopped: nothing
        let all: alloc::vec::Vec<Event> = trace::snapshot()
            .into_iter()
            .flat_map(|c| c.events)
            .collect();
        let kinds: alloc::vec::Vec<(Kind, u64)> = all.iter().map(|e| (e.kind, e.a)).collect();
        assert_eq!(
            kinds,
            [(Kind::Mark, 7), (Kind::IrqWorkStart, 42)],
            "{all:?}"
        );
        let mark = all[0];
        assert_eq!((mark.tid, mark.b), (me.tid, 8));
        assert!(all[1].ticks >= mark.ticks);
        // A new run shows only its own events.
        trace::start(&[Class::Mark], 64).unwrap();
        trace::record(Kind::Mark, 3, 0);
        trace::stop();
        let again: alloc::vec::Vec<Event> = trace::snapshot()
            .into_iter()
            .flat_map(|c| c.events)
            .collect();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].a, 3);
        assert!(trace::snapshot().iter().all(|c| c.lost == 0));
        0
    });
}
