//! The trace ring: wrap-around and lost counts, the event encoding, and recording from threads
//! and hard-IRQ context on the fake port.

use crate::fake::run;
use crate::sched;
use crate::trace::ring::Ring;
use crate::trace::{self, Class, Event, Kind};
use crate::work::irq_work::{self, IrqWork};
use alloc::sync::Arc;
use alloc::vec::Vec;

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

/// The ring size of every test here: the first start in a process fixes it.
const RING: usize = 4096;

#[test]
fn records_from_threads_and_hard_irq_by_class_and_run() {
    run(2, || {
        let on_before = trace::on();
        assert!(!on_before);
        trace::record(Kind::Mark, 1, 0); // off: nothing
        trace::start(&[Class::Mark, Class::IrqWork], RING).unwrap();
        assert_eq!(
            trace::start(&[Class::Mark], RING / 2),
            Err(crate::Error::Busy)
        );
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
        // The irq_work's own trace points name it (its slot and interned name) around what its
        // callback recorded.
        let named = trace::tag(trace::intern("traced"), w.slot() as u64);
        let kinds: alloc::vec::Vec<(Kind, u64)> = all.iter().map(|e| (e.kind, e.a)).collect();
        assert_eq!(
            kinds,
            [
                (Kind::Mark, 7),
                (Kind::IrqWorkQueue, named),
                (Kind::IrqWorkStart, named),
                (Kind::IrqWorkStart, 42),
                (Kind::IrqWorkEnd, named)
            ],
            "{all:?}"
        );
        let mark = all[0];
        assert_eq!((mark.tid, mark.b), (me.tid, 8));
        assert_eq!(all[1].b, all[1].cpu as u64, "queued on this CPU");
        assert!(all.windows(2).all(|p| p[1].ticks >= p[0].ticks));
        // A new run shows only its own events.
        trace::start(&[Class::Mark], RING).unwrap();
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

fn sample_dump() -> trace::dump::Dump {
    use alloc::string::String;
    let ev = |ticks, kind, cpu, tid, a, b| Event {
        ticks,
        kind,
        cpu,
        tid,
        a,
        b,
    };
    let cpu0: alloc::vec::Vec<Event> = (0..19)
        .map(|i| {
            ev(
                100 + i,
                Kind::ALL[i as usize % Kind::ALL.len()],
                0,
                1,
                i,
                u64::MAX - i,
            )
        })
        .collect();
    trace::dump::Dump {
        hz: 62_500_000,
        size: 64,
        names: alloc::vec![
            (1, String::from("my work")),
            (2, String::from("back\\slash\u{e9}"))
        ],
        threads: alloc::vec![(1, String::from("shell")), (2, String::from("kthreadd"))],
        cpus: alloc::vec![
            trace::CpuTrace {
                events: cpu0,
                lost: 3
            },
            trace::CpuTrace::default(),
            trace::CpuTrace {
                events: alloc::vec![ev(5, Kind::Mark, 2, 0, 7, 8)],
                lost: 0
            },
        ],
    }
}

#[test]
fn a_dump_round_trips_among_other_lines() {
    use alloc::string::String;
    let d = sample_dump();
    let mut text = String::from("rtos> trace dump\nsome log line\n");
    let mut n = 0;
    trace::dump::write(&d, |l| {
        n += 1;
        assert!(
            l.starts_with('=') && !l.contains("rtos>") && !l.contains('\n'),
            "{l}"
        );
        text.push_str(l);
        text.push('\n');
        if n == 4 {
            text.push_str("[klogd] a line printed meanwhile\n");
        }
    });
    text.push_str("rtos> ");
    // 1 header, 2 names, 2 threads, 3 CPUs (19 events: 3 lines; 0: none; 1: one), the end.
    assert_eq!(n, 1 + 2 + 2 + 3 + 3 + 1 + 1);
    assert_eq!(trace::dump::parse(&text), Ok(d));
}

#[test]
fn a_damaged_or_cut_dump_is_refused_with_its_line() {
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;
    let mut lines: Vec<String> = Vec::new();
    trace::dump::write(&sample_dump(), |l| lines.push(l.to_string()));
    let join = |ls: &[String]| ls.join("\n");
    // One character changed in an event line.
    let mut bad = lines.clone();
    let ev = bad.iter().position(|l| l.starts_with("=EV")).unwrap();
    bad[ev] = bad[ev].replacen('A', "B", 1).replacen('a', "b", 1);
    let e = trace::dump::parse(&join(&bad)).unwrap_err();
    assert_eq!(e.line, ev + 1);
    assert!(e.what.contains("checksum"), "{e}");
    // A whole line lost (the count in =END says so).
    let mut cut = lines.clone();
    cut.remove(ev);
    let e = trace::dump::parse(&join(&cut)).unwrap_err();
    assert!(e.what.contains("lines missing"), "{e}");
    // No end.
    let e = trace::dump::parse(&join(&lines[..lines.len() - 1])).unwrap_err();
    assert_eq!((e.line, e.what.contains("cut short")), (0, true), "{e}");
    assert!(trace::dump::parse("rtos> echo hi\nhi\n").is_err());
}

#[test]
fn names_are_interned_once_and_tags_round_trip() {
    let a = trace::intern("interned-test-a");
    let b = trace::intern("interned-test-b");
    assert!(a > 0 && b > 0 && a != b);
    assert_eq!(trace::intern("interned-test-a"), a);
    let names = trace::names();
    assert!(names.contains(&(a, alloc::string::String::from("interned-test-a"))));
    let t = trace::tag(a, 0xffff_1234_5678_9abc);
    assert_eq!(trace::untag(t), (a, 0x1234_5678_9abc));
}

/// Every event of the current run, all CPUs, in time order.
fn traced() -> Vec<Event> {
    let mut all: Vec<Event> = trace::snapshot()
        .into_iter()
        .flat_map(|c| c.events)
        .collect();
    all.sort_by_key(|e| e.ticks);
    all
}

#[test]
fn each_mechanism_records_where_the_seeds_say_it_runs() {
    use crate::kthread;
    use crate::time::Duration;
    use crate::work::task_work::{self, Notify, TaskWork};
    use crate::work::workqueue::{self as wq, Work};
    run(2, || {
        trace::start(&Class::ALL, RING).unwrap();
        // A kthread's life: create, (wake, switch), park, unpark, stop, exit.
        let t = kthread::run("traced-k", || {
            while !kthread::should_stop() {
                if kthread::should_park() {
                    kthread::parkme();
                }
                sched::sleep_interruptible_until(crate::time::Instant::after(
                    Duration::from_millis(5),
                ));
            }
            7
        })
        .unwrap();
        kthread::park(&t).unwrap();
        kthread::unpark(&t);
        // A task_work on it runs in its context.
        let tw = TaskWork::new("traced-tw", |_| {});
        task_work::add(t.thread(), tw.clone(), Notify::Signal).unwrap();
        assert!(super::util::wait_for(1000, || !tw.is_queued()));
        // A work runs in its worker; a delayed one goes through its timer.
        let q = wq::create_singlethread("traced-wq").unwrap();
        let w = Work::new("traced-w", |_| {});
        let d = Work::new("traced-d", |_| {});
        wq::queue(&q, &w).unwrap();
        wq::queue_delayed(&q, &d, Duration::from_millis(2)).unwrap();
        assert!(super::util::wait_for(1000, || d.runs() == 1 && w.runs() == 1));
        let worker = q.threads()[0].tid();
        assert_eq!(kthread::stop(&t), 7);
        trace::stop();
        let all = traced();
        let ev = |k: Kind, a: u64| {
            all.iter()
                .position(|e| e.kind == k && e.a == a)
                .unwrap_or_else(|| panic!("no {k:?} {a:#x} in {all:#?}"))
        };
        let tid = u64::from(t.tid());
        let k_name = u64::from(trace::intern("traced-k"));
        let create = ev(Kind::KthreadCreate, tid);
        assert_eq!(all[create].b, k_name);
        let first_run = all
            .iter()
            .position(|e| e.kind == Kind::Switch && e.a == tid)
            .expect("switched to");
        let park = ev(Kind::KthreadPark, tid);
        assert_eq!(all[park].tid, t.tid(), "parks itself");
        let unpark = ev(Kind::KthreadUnpark, tid);
        let stop = ev(Kind::KthreadStop, tid);
        let exit = ev(Kind::KthreadExit, tid);
        assert_eq!(trace::untag(all[exit].b), (k_name as u16, 7));
        assert!(
            create < first_run && first_run < park && park < unpark && unpark < stop && stop < exit
        );
        // The task_work: added by the test's thread, run by the target itself.
        let add = all
            .iter()
            .position(|e| e.kind == Kind::TaskWorkAdd)
            .unwrap();
        assert_eq!(all[add].b, tid | (Notify::Signal as u64) << 32);
        let tw_id = trace::untag(all[add].a).0;
        assert_eq!(tw_id, trace::intern("traced-tw"));
        let run_ = ev(Kind::TaskWorkRun, all[add].a);
        assert!(add < run_);
        assert_eq!(
            all[run_].tid,
            t.tid(),
            "a task_work runs in its target thread"
        );
        // The works: queued, then started and ended in the worker thread.
        for (name, work) in [("traced-w", &w), ("traced-d", &d)] {
            let a = trace::tag(
                trace::intern(name),
                Arc::as_ptr(work) as *const u8 as usize as u64,
            );
            let queued = ev(Kind::WorkQueue, a);
            let start = ev(Kind::WorkStart, a);
            let end = ev(Kind::WorkEnd, a);
            assert!(queued < start && start < end, "{name}");
            assert_eq!((all[start].tid, all[end].tid), (worker, worker), "{name}");
            assert_eq!(trace::untag(all[start].b).0, trace::intern("traced-wq"));
            if name == "traced-d" {
                let arm = ev(Kind::TimerArm, a);
                let fire = ev(Kind::TimerFire, a);
                assert!(arm < fire && fire < queued);
                assert!(
                    all[fire].ticks >= all[arm].b,
                    "fires at or after its deadline"
                );
            }
        }
        // Wake-ups name the woken thread; each switch names the thread leaving.
        assert!(all.iter().any(|e| e.kind == Kind::Wakeup && e.a == tid));
        assert!(
            all.iter()
                .any(|e| e.kind == Kind::Switch && e.tid == t.tid())
        );
        wq::destroy(q).unwrap();
        0
    });
}

/// A `stop` racing a `start` (issue 16's static keys): `start` turns the run's flag on, then the
/// trace points; a `stop` that ran between the two used to leave the trace points on with the
/// flag off. Now the two are one step for each other: the stop waits for the start, and the
/// trace points are off once both returned.
#[test]
fn a_stop_racing_a_start_leaves_the_trace_points_off() {
    use core::sync::atomic::{AtomicBool, Ordering};
    static GO: AtomicBool = AtomicBool::new(false);
    static STOPPED: AtomicBool = AtomicBool::new(false);
    GO.store(false, Ordering::SeqCst);
    STOPPED.store(false, Ordering::SeqCst);
    fn stop_now_and_wait() {
        GO.store(true, Ordering::SeqCst);
        // Until the stop returned, or long enough for it to have, had it not waited.
        let until = std::time::Instant::now() + std::time::Duration::from_millis(200);
        while !STOPPED.load(Ordering::SeqCst) && std::time::Instant::now() < until {
            core::hint::spin_loop();
        }
    }
    run(2, || {
        let stopper = crate::kthread::create_on_cpu("trace-stopper", 1, || {
            while !GO.load(Ordering::SeqCst) {
                core::hint::spin_loop();
            }
            trace::stop();
            STOPPED.store(true, Ordering::SeqCst);
            0
        })
        .unwrap();
        crate::kthread::wake_up_process(&stopper);
        *trace::BETWEEN_FLAG_AND_KEY.lock() = Some(stop_now_and_wait);
        let started = trace::start(&[Class::Mark], RING);
        *trace::BETWEEN_FLAG_AND_KEY.lock() = None;
        started.unwrap();
        while !STOPPED.load(Ordering::SeqCst) {
            sched::yield_now();
        }
        assert!(!trace::on(), "the trace points stayed on after the stop");
        trace::record(Kind::Mark, 7, 0);
        assert!(trace::snapshot().iter().all(|c| c.events.is_empty()));
        crate::kthread::stop(&stopper);
        0
    });
}
