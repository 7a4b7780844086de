//! The lifetime contracts shared by workqueues and kthread workers, each as a test on the fake
//! port: one owner per work (queue, delay, mod and cancel, for both kinds), a workqueue's cancel,
//! flush and mod with Linux's return values, a destroy that loses nothing (delayed works,
//! chained works), and `kthread::stop` on a worker's thread.

use super::util::*;
use crate::error::Error;
use crate::fake::run;
use crate::kthread;
use crate::port;
use crate::sched;
use crate::time::Duration;
use crate::work::kthread_worker as kw;
use crate::work::pool::DRAIN_LIMIT;
use crate::work::workqueue::{self as wq, Work, WorkState};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// A work that runs until `release` is set, and records the most runs seen at once and the CPU
/// of its last run.
struct Gated {
    work: Arc<Work>,
    release: Arc<AtomicBool>,
    max_at_once: Arc<AtomicUsize>,
    cpu: Arc<AtomicUsize>,
}

impl Gated {
    fn new(name: &str) -> Gated {
        let release = Arc::new(AtomicBool::new(false));
        let max_at_once = Arc::new(AtomicUsize::new(0));
        let cpu = Arc::new(AtomicUsize::new(usize::MAX));
        let now_running = Arc::new(AtomicUsize::new(0));
        let (r, m, c) = (release.clone(), max_at_once.clone(), cpu.clone());
        let work = Work::new(name, move |_| {
            let n = now_running.fetch_add(1, Ordering::AcqRel) + 1;
            m.fetch_max(n, Ordering::AcqRel);
            c.store(port::port().cpu_id(), Ordering::Release);
            while !r.load(Ordering::Acquire) {
                sched::sleep(Duration::from_millis(1));
            }
            now_running.fetch_sub(1, Ordering::AcqRel);
        });
        Gated {
            work,
            release,
            max_at_once,
            cpu,
        }
    }

    fn open(&self) {
        self.release.store(true, Ordering::Release);
    }
}

/// A work that does nothing.
fn noop(name: &str) -> Arc<Work> {
    Work::new(name, |_| {})
}

const LONG: Duration = Duration::from_secs(10);

// ---- One owner per work ------------------------------------------------------------------------

#[test]
fn owner_a_pending_work_is_refused_by_every_other_owner_and_nothing_changes() {
    run(2, || {
        let a = wq::create_singlethread("owner-a").unwrap();
        let b = wq::create("owner-b").unwrap();
        let k = kw::create("owner-k").unwrap();
        let blocker = Gated::new("blocker");
        let w = noop("w");
        assert!(wq::queue(&a, &blocker.work).unwrap());
        assert!(wait_for(500, || blocker.work.state() == WorkState::Running));
        assert!(wq::queue(&a, &w).unwrap());
        assert_eq!(w.owner().as_deref(), Some("workqueue owner-a"));

        // Every path of another owner is refused, naming nothing new.
        assert_eq!(kw::queue(&k, &w), Err(Error::Busy), "queue on a worker");
        assert_eq!(kw::queue_delayed(&k, &w, LONG), Err(Error::Busy), "delay");
        assert_eq!(kw::mod_delayed(&k, &w, LONG), Err(Error::Busy), "mod");
        assert_eq!(wq::queue(&b, &w), Err(Error::Busy), "another workqueue");
        assert_eq!(wq::queue_delayed_on(&b, 1, &w, LONG), Err(Error::Busy));
        assert_eq!(wq::mod_delayed_on(&b, 0, &w, LONG), Err(Error::Busy));
        assert_eq!(w.state(), WorkState::Pending, "still pending where it was");
        assert_eq!(w.owner().as_deref(), Some("workqueue owner-a"));
        assert_eq!((k.counts(), b.queued(), b.delayed()), ((0, 0), 0, 0));

        blocker.open();
        wq::flush(&a);
        assert_eq!(w.runs(), 1, "ran once, on its owner");
        assert_eq!(w.owner(), None, "idle: released");

        // Idle, it may go to another owner; then the first one is refused in turn.
        assert!(kw::queue_delayed(&k, &w, LONG).unwrap());
        assert_eq!(w.owner().as_deref(), Some("kthread worker owner-k"));
        assert_eq!(wq::queue(&a, &w), Err(Error::Busy));
        assert_eq!(wq::mod_delayed(&a, &w, Duration::ZERO), Err(Error::Busy));
        assert_eq!(
            w.state(),
            WorkState::Delayed,
            "the worker's timer is untouched"
        );
        assert!(kw::cancel_delayed_work_sync(&w));
        for q in [a, b] {
            wq::destroy(q).unwrap();
        }
        kw::destroy(k).unwrap();
        0
    });
}

/// The defect of `kworker mod` aimed at a second worker: it moved the work silently, and the
/// first worker's destroy then cancelled the work's new timer (the work was lost).
#[test]
fn owner_mod_on_a_second_worker_is_refused_and_the_first_still_runs_it() {
    run(2, || {
        let k1 = kw::create("owner-k1").unwrap();
        let k2 = kw::create("owner-k2").unwrap();
        let w = noop("w");
        assert!(kw::queue_delayed(&k1, &w, LONG).unwrap());
        assert_eq!(
            kw::mod_delayed(&k2, &w, Duration::from_millis(1)),
            Err(Error::Busy)
        );
        assert_eq!(kw::queue(&k2, &w), Err(Error::Busy));
        sched::sleep(Duration::from_millis(20));
        assert_eq!(w.runs(), 0, "the refused mod did not move its deadline");
        assert_eq!(w.state(), WorkState::Delayed);
        kw::destroy(k2).unwrap();
        assert_eq!(w.state(), WorkState::Delayed, "k2's destroy left it alone");
        assert!(kw::mod_delayed(&k1, &w, Duration::from_millis(1)).unwrap());
        assert!(wait_for(1000, || w.runs() == 1), "k1 ran it");
        assert_eq!(w.state(), WorkState::Idle);
        kw::destroy(k1).unwrap();
        0
    });
}

#[test]
fn owner_a_running_work_belongs_to_its_owner_until_it_returns() {
    run(2, || {
        let k = kw::create("owner-run-k").unwrap();
        let q = wq::create("owner-run-q").unwrap();
        let g = Gated::new("g");
        assert!(kw::queue(&k, &g.work).unwrap());
        assert!(wait_for(500, || g.work.state() == WorkState::Running));
        assert_eq!(wq::queue(&q, &g.work), Err(Error::Busy), "running on k");
        assert_eq!(wq::queue_delayed(&q, &g.work, LONG), Err(Error::Busy));
        // Its own owner may queue it again while it runs (it runs again afterwards).
        assert!(kw::queue(&k, &g.work).unwrap());
        g.open();
        kw::flush(&k);
        assert_eq!(g.work.runs(), 2);
        assert!(wq::queue(&q, &g.work).unwrap(), "idle: free to move");
        wq::flush(&q);
        assert_eq!(g.work.runs(), 3);
        wq::destroy(q).unwrap();
        kw::destroy(k).unwrap();
        0
    });
}

#[test]
fn owner_cancel_releases_the_work_wherever_it_is() {
    run(2, || {
        let k = kw::create("owner-cancel-k").unwrap();
        let q = wq::create("owner-cancel-q").unwrap();
        let w = noop("w");
        assert!(!wq::cancel_work_sync(&w), "never queued: not pending");
        assert!(kw::queue_delayed(&k, &w, LONG).unwrap());
        // A cancel goes to the work's owner, whichever API it comes through.
        assert!(wq::cancel_delayed_work_sync(&w), "it was pending");
        assert_eq!((w.state(), w.owner()), (WorkState::Idle, None));
        assert_eq!(k.counts(), (0, 0), "off the worker's timer");
        assert!(wq::queue_delayed_on(&q, 1, &w, LONG).unwrap());
        assert!(kw::cancel_delayed_work_sync(&w));
        assert_eq!(q.delayed(), 0);
        assert!(kw::queue(&k, &w).unwrap(), "released again");
        kw::flush(&k);
        assert_eq!(w.runs(), 1);
        wq::destroy(q).unwrap();
        kw::destroy(k).unwrap();
        0
    });
}

/// Linux's non-reentrancy: a work queued on another CPU of the same workqueue while it runs
/// runs again after, on the CPU it is running on, never twice at once.
#[test]
fn owner_a_work_never_runs_on_two_cpus_of_a_workqueue_at_once() {
    run(2, || {
        let q = wq::create("owner-reent").unwrap();
        let g = Gated::new("g");
        assert!(wq::queue_on(&q, 0, &g.work).unwrap());
        assert!(wait_for(500, || g.work.state() == WorkState::Running));
        assert!(wq::queue_on(&q, 1, &g.work).unwrap(), "queued again");
        sched::sleep(Duration::from_millis(20));
        assert_eq!(
            g.max_at_once.load(Ordering::Acquire),
            1,
            "not started on cpu 1"
        );
        g.open();
        assert!(wait_for(1000, || g.work.runs() == 2));
        assert_eq!(g.max_at_once.load(Ordering::Acquire), 1);
        assert_eq!(g.cpu.load(Ordering::Acquire), 0, "ran again where it ran");
        // Idle, it goes where it is asked.
        assert!(wq::queue_on(&q, 1, &g.work).unwrap());
        assert!(wait_for(1000, || g.work.runs() == 3));
        assert_eq!(g.cpu.load(Ordering::Acquire), 1);
        wq::destroy(q).unwrap();
        0
    });
}

// ---- Workqueue cancel, flush and mod -----------------------------------------------------------

#[test]
fn wq_cancel_work_sync_returns_whether_it_was_pending() {
    run(2, || {
        let q = wq::create_singlethread("wq-cancel").unwrap();
        let blocker = Gated::new("blocker");
        let w = noop("w");
        assert!(wq::queue(&q, &blocker.work).unwrap());
        assert!(wait_for(500, || blocker.work.state() == WorkState::Running));
        assert!(wq::queue(&q, &w).unwrap());
        assert!(wq::cancel_work_sync(&w), "it was queued");
        assert!(!wq::cancel_work_sync(&w), "now idle");
        blocker.open();
        wq::flush(&q);
        assert_eq!(w.runs(), 0, "a cancelled work never runs");
        assert_eq!(w.state(), WorkState::Idle);
        wq::destroy(q).unwrap();
        0
    });
}

#[test]
fn wq_cancel_work_sync_waits_for_a_running_work_and_leaves_it_idle() {
    run(2, || {
        let q = wq::create("wq-cancel-run").unwrap();
        let g = Gated::new("g");
        assert!(wq::queue_on(&q, 1, &g.work).unwrap());
        assert!(wait_for(500, || g.work.state() == WorkState::Running));
        let opened_at = Arc::new(AtomicU64::new(0));
        let (rel, at) = (g.release.clone(), opened_at.clone());
        let opener = kthread::run("opener", move || {
            sched::sleep(Duration::from_millis(20));
            at.store(now(), Ordering::Release);
            rel.store(true, Ordering::Release);
            0
        })
        .unwrap();
        assert!(!wq::cancel_work_sync(&g.work), "running, not pending");
        let opened = opened_at.load(Ordering::Acquire);
        assert!(opened != 0, "returned before the running callback ended");
        assert_eq!((g.work.runs(), g.work.state()), (1, WorkState::Idle));
        join(&opener);
        wq::destroy(q).unwrap();
        0
    });
}

/// Linux's canceling state: a work that queues itself again from its callback is stopped by
/// `cancel_work_sync` (the requeue during the cancel is refused).
#[test]
fn wq_cancel_work_sync_stops_a_work_that_requeues_itself() {
    run(2, || {
        let q = wq::create("wq-chain").unwrap();
        let slot: Arc<spin::Once<Arc<Work>>> = Arc::new(spin::Once::new());
        let (q2, s2) = (q.clone(), slot.clone());
        let w = Work::new("chain", move |_| {
            sched::sleep(Duration::from_millis(1));
            let _ = wq::queue(&q2, s2.get().unwrap());
        });
        slot.call_once(|| w.clone());
        assert!(wq::queue(&q, &w).unwrap());
        assert!(wait_for(1000, || w.runs() >= 5));
        wq::cancel_work_sync(&w);
        let runs = w.runs();
        assert_eq!(w.state(), WorkState::Idle);
        sched::sleep(Duration::from_millis(20));
        assert_eq!(w.runs(), runs, "it ran again after the cancel");
        wq::destroy(q).unwrap();
        0
    });
}

#[test]
fn wq_cancel_delayed_work_takes_it_off_its_timer_without_waiting_for_a_run() {
    run(2, || {
        let q = wq::create("wq-cdw").unwrap();
        let w = noop("w");
        assert!(!wq::cancel_delayed_work(&w), "idle");
        assert!(wq::queue_delayed_on(&q, 1, &w, LONG).unwrap());
        assert!(wq::cancel_delayed_work(&w), "it was delayed");
        assert_eq!((w.state(), q.delayed()), (WorkState::Idle, 0));
        assert!(crate::timer::pending(0).is_empty() && crate::timer::pending(1).is_empty());

        let g = Gated::new("g");
        assert!(wq::queue_on(&q, 1, &g.work).unwrap());
        assert!(wait_for(500, || g.work.state() == WorkState::Running));
        assert!(!wq::cancel_delayed_work(&g.work), "running: not pending");
        assert_eq!(
            g.work.state(),
            WorkState::Running,
            "returned without waiting"
        );
        g.open();
        wq::flush(&q);

        assert!(wq::queue_delayed(&q, &w, LONG).unwrap());
        assert!(wq::cancel_delayed_work_sync(&w));
        assert_eq!(w.state(), WorkState::Idle);
        wq::destroy(q).unwrap();
        0
    });
}

#[test]
fn wq_flush_work_and_flush_delayed_work_return_whether_they_waited() {
    run(2, || {
        let q = wq::create_singlethread("wq-flush-work").unwrap();
        let w = noop("w");
        assert!(!wq::flush_work(&w), "idle: nothing to wait for");
        let blocker = Gated::new("blocker");
        assert!(wq::queue(&q, &blocker.work).unwrap());
        assert!(wait_for(500, || blocker.work.state() == WorkState::Running));
        assert!(wq::queue(&q, &w).unwrap());
        let rel = blocker.release.clone();
        let opener = kthread::run("opener", move || {
            sched::sleep(Duration::from_millis(10));
            rel.store(true, Ordering::Release);
            0
        })
        .unwrap();
        assert!(wq::flush_work(&w), "waited for it to run");
        assert_eq!(w.runs(), 1);
        join(&opener);

        assert!(wq::queue_delayed(&q, &w, LONG).unwrap());
        assert!(
            !wq::flush_work(&w),
            "only waiting for its timer: not flushed"
        );
        assert_eq!(w.state(), WorkState::Delayed);
        let start = now();
        assert!(wq::flush_delayed_work(&w), "queued at once and waited");
        assert_eq!((w.runs(), w.state()), (2, WorkState::Idle));
        assert!(now() - start < 1000 * MS, "did not wait for the timer");
        assert_eq!(q.delayed(), 0, "its timer is gone");
        wq::destroy(q).unwrap();
        0
    });
}

#[test]
fn wq_mod_delayed_work_on_returns_whether_it_was_pending() {
    run(4, || {
        let q = wq::create("wq-mod").unwrap();
        let ran_on = Arc::new(AtomicUsize::new(usize::MAX));
        let r = ran_on.clone();
        let w = Work::new("w", move |_| {
            r.store(port::port().cpu_id(), Ordering::Release)
        });
        assert!(
            !wq::mod_delayed_on(&q, 2, &w, LONG).unwrap(),
            "idle: queued, false"
        );
        assert_eq!(w.state(), WorkState::Delayed);
        let start = now();
        assert!(
            wq::mod_delayed_on(&q, 3, &w, Duration::from_millis(5)).unwrap(),
            "delayed: moved, true"
        );
        assert!(wait_for(1000, || w.runs() == 1));
        assert!(
            now() - start < 1000 * MS,
            "ran at the new deadline, not the old one"
        );
        assert_eq!(ran_on.load(Ordering::Acquire), 3, "on the CPU of the mod");
        assert_eq!(q.delayed(), 0, "the first timer is gone");

        // A zero delay queues at once.
        assert!(!wq::mod_delayed_on(&q, 1, &w, Duration::ZERO).unwrap());
        assert!(wait_for(1000, || w.runs() == 2));
        assert_eq!(ran_on.load(Ordering::Acquire), 1);
        sched::sleep(Duration::from_millis(20));
        assert_eq!(w.runs(), 2, "ran once per queueing");
        wq::destroy(q).unwrap();
        0
    });
}

// ---- Destroy -----------------------------------------------------------------------------------

#[test]
fn wq_destroy_cancels_and_reports_delayed_works_which_stay_usable() {
    run(2, || {
        let q = wq::create("wq-destroy-delayed").unwrap();
        let other = wq::create_singlethread("wq-other").unwrap();
        let late = noop("late");
        let soon = noop("soon");
        assert!(wq::queue_delayed_on(&q, 1, &late, LONG).unwrap());
        assert!(wq::queue_on(&q, 0, &soon).unwrap());
        let left = wq::destroy(q.clone()).unwrap_err();
        assert_eq!((left.delayed.len(), left.chained.len()), (1, 0));
        assert!(Arc::ptr_eq(&left.delayed[0], &late));
        assert_eq!(soon.runs(), 1, "queued works ran");
        assert_eq!((late.state(), late.owner()), (WorkState::Idle, None));
        assert!(q.is_dead());
        assert_eq!(wq::queue(&q, &late), Err(Error::Shutdown));
        // Not stranded: it may be cancelled (nothing to do) and queued elsewhere.
        assert!(!wq::cancel_delayed_work_sync(&late));
        assert!(wq::queue(&other, &late).unwrap());
        wq::flush(&other);
        assert_eq!(late.runs(), 1);
        wq::destroy(other).unwrap();
        0
    });
}

/// A work that queues itself `n` more times on `q` (on the other CPU each time, if `hop`).
fn chain(q: &Arc<wq::Workqueue>, n: u64, hop: bool) -> Arc<Work> {
    let slot: Arc<spin::Once<Arc<Work>>> = Arc::new(spin::Once::new());
    let (q2, s2) = (q.clone(), slot.clone());
    let w = Work::new("chain", move |me| {
        if me.runs() < n {
            let cpu = if hop {
                1 - port::port().cpu_id()
            } else {
                port::port().cpu_id()
            };
            let _ = wq::queue_on(&q2, cpu, s2.get().unwrap());
        }
    });
    slot.call_once(|| w.clone());
    w
}

#[test]
fn wq_destroy_drains_works_that_queue_themselves_again() {
    run(2, || {
        for hop in [false, true] {
            let q = wq::create("wq-drain").unwrap();
            let w = chain(&q, 20, hop);
            assert!(wq::queue_on(&q, 0, &w).unwrap());
            wq::destroy(q).unwrap();
            assert_eq!(
                w.runs(),
                21,
                "every chained run ran (hop across CPUs: {hop})"
            );
            assert_eq!(w.state(), WorkState::Idle);
        }
        0
    });
}

#[test]
fn wq_destroy_gives_up_on_an_endless_chain_and_reports_it() {
    run(2, || {
        let q = wq::create("wq-endless").unwrap();
        let w = chain(&q, u64::MAX, false);
        assert!(wq::queue_on(&q, 1, &w).unwrap());
        let left = wq::destroy(q.clone()).unwrap_err();
        assert_eq!((left.delayed.len(), left.chained.len()), (0, 1));
        assert!(Arc::ptr_eq(&left.chained[0], &w), "names the work");
        assert!(w.runs() >= DRAIN_LIMIT, "drained {} runs", w.runs());
        let runs = w.runs();
        assert_eq!((w.state(), w.owner()), (WorkState::Idle, None));
        sched::sleep(Duration::from_millis(10));
        assert_eq!(w.runs(), runs, "nothing left running");
        assert_eq!(wq::queue(&q, &w), Err(Error::Shutdown));
        0
    });
}

#[test]
fn kw_destroy_drains_a_chain_and_gives_up_on_an_endless_one() {
    run(2, || {
        for (n, endless) in [(20, false), (u64::MAX, true)] {
            let k = kw::create("kw-drain").unwrap();
            let slot: Arc<spin::Once<Arc<Work>>> = Arc::new(spin::Once::new());
            let (k2, s2) = (k.clone(), slot.clone());
            let w = Work::new("chain", move |me| {
                if me.runs() < n {
                    let _ = kw::queue(&k2, s2.get().unwrap());
                }
            });
            slot.call_once(|| w.clone());
            assert!(kw::queue(&k, &w).unwrap());
            let r = kw::destroy(k);
            if endless {
                let left = r.unwrap_err();
                assert!(Arc::ptr_eq(&left.chained[0], &w));
            } else {
                r.unwrap();
                assert_eq!(w.runs(), 21);
            }
            assert_eq!(w.state(), WorkState::Idle);
        }
        0
    });
}

/// A workqueue whose two per-CPU pools have each made `n` queueings (a noop queued and flushed
/// on CPU 0, then CPU 1).
fn used_queue(name: &str, n: usize) -> Arc<wq::Workqueue> {
    let q = wq::create(name).unwrap();
    let w = noop("warm");
    for i in 0..2 * n {
        assert!(wq::queue_on(&q, i % 2, &w).unwrap());
        wq::flush_work(&w);
    }
    q
}

/// A work that queues itself on `q`'s CPU 1 in each of its first `n` runs and sleeps `slow` in
/// each run from its `slow_from`th run on, counted from the first run that sees `q` being
/// destroyed if `from_destroy` (else from its first run), so that the destroyer, on CPU 0, sees
/// those runs end one by one.
fn slow_chain(
    q: &Arc<wq::Workqueue>,
    n: u64,
    from_destroy: bool,
    slow_from: u64,
    slow: Duration,
) -> Arc<Work> {
    let slot: Arc<spin::Once<Arc<Work>>> = Arc::new(spin::Once::new());
    let (q2, s2) = (q.clone(), slot.clone());
    let base = AtomicU64::new(if from_destroy { u64::MAX } else { 0 });
    let w = Work::new("slow-chain", move |me| {
        if base.load(Ordering::Relaxed) == u64::MAX && q2.is_dead() {
            base.store(me.runs(), Ordering::Relaxed);
        }
        if me.runs() >= base.load(Ordering::Relaxed).saturating_add(slow_from) {
            sched::sleep(slow);
        }
        if me.runs() < n {
            let _ = wq::queue_on(&q2, 1, s2.get().unwrap());
        }
    });
    slot.call_once(|| w.clone());
    w
}

/// The drain's limit counts the queueings made since the destroy began, not the pools'
/// sequence numbers: a queue whose pools made 3,000 queueings each before still drains a chain
/// of 21 slow runs round by round (each round waits for the run queued before it), and still
/// stops an endless chain about `DRAIN_LIMIT` runs into the destroy. The destroy returns only
/// once the run in progress when it gave up has ended: the work is idle and ownerless at once,
/// and never runs again. (Mutants of the count, and of the wait for the last run, fail here.)
#[test]
fn a_drain_counts_from_the_destroy_and_waits_for_the_last_run() {
    run(2, || {
        let q = used_queue("wq-used", 3_000);
        let w = slow_chain(&q, 20, false, 0, Duration::from_millis(2));
        assert!(wq::queue_on(&q, 1, &w).unwrap());
        wq::destroy(q).unwrap();
        assert_eq!(w.runs(), 21, "the whole chain ran");
        assert_eq!((w.state(), w.owner()), (WorkState::Idle, None));

        let q = used_queue("wq-used-endless", 3_000);
        let w = slow_chain(
            &q,
            u64::MAX,
            true,
            DRAIN_LIMIT - 10,
            Duration::from_millis(5),
        );
        assert!(wq::queue_on(&q, 1, &w).unwrap());
        let left = wq::destroy(q).unwrap_err();
        assert!(Arc::ptr_eq(&left.chained[0], &w), "the chain was given up");
        assert_eq!(
            (w.state(), w.owner()),
            (WorkState::Idle, None),
            "its last run had ended"
        );
        let runs = w.runs();
        assert!(runs >= DRAIN_LIMIT, "drained {runs} runs");
        sched::sleep(Duration::from_millis(20));
        assert_eq!(w.runs(), runs, "nothing ran after the destroy");
        0
    });
}

/// After a destroy, no work shows an owner that no longer exists (`work list`).
#[test]
fn destroy_leaves_no_work_attached_to_a_dead_queue() {
    run(2, || {
        let q = wq::create("wq-gone").unwrap();
        let k = kw::create("kw-gone").unwrap();
        let works: Vec<Arc<Work>> = (0..6).map(|_| noop("w")).collect();
        for (i, w) in works.iter().enumerate() {
            match i % 3 {
                0 => assert!(wq::queue_on(&q, i % 2, w).unwrap()),
                1 => assert!(wq::queue_delayed_on(&q, i % 2, w, LONG).unwrap()),
                _ => assert!(kw::queue_delayed(&k, w, LONG).unwrap()),
            }
        }
        let _ = wq::destroy(q);
        let _ = kw::destroy(k);
        for w in &works {
            assert_eq!(
                (w.state(), w.owner()),
                (WorkState::Idle, None),
                "{}",
                w.name()
            );
        }
        0
    });
}

// ---- Stopping a worker's thread ----------------------------------------------------------------

#[test]
fn kw_stop_on_the_workers_thread_drains_it_and_leaves_it_dead() {
    run(2, || {
        let k = kw::create("kw-stop").unwrap();
        let g = Gated::new("g");
        let queued = noop("queued");
        let late = noop("late");
        assert!(kw::queue(&k, &g.work).unwrap());
        assert!(wait_for(500, || g.work.state() == WorkState::Running));
        assert!(kw::queue(&k, &queued).unwrap());
        assert!(kw::queue_delayed(&k, &late, LONG).unwrap());
        let t = k.thread().unwrap();
        g.open();
        assert_eq!(kthread::stop(&t), 0, "stopped, not timed out");
        assert_eq!(t.state(), sched::State::Exited);
        assert!(k.is_dead());
        assert_eq!(queued.runs(), 1, "what was queued ran first");
        assert_eq!(
            (late.state(), late.owner()),
            (WorkState::Idle, None),
            "cancelled"
        );
        assert_eq!(kw::queue(&k, &late), Err(Error::Shutdown));
        assert_eq!(kw::queue_delayed(&k, &late, LONG), Err(Error::Shutdown));
        assert_eq!(kw::mod_delayed(&k, &late, LONG), Err(Error::Shutdown));
        kw::destroy(k).unwrap();
        0
    });
}

#[test]
fn wq_stop_on_one_cpus_thread_leaves_that_cpu_dead_and_the_rest_working() {
    run(2, || {
        let q = wq::create("wq-stop").unwrap();
        let t1 = kthread::find("wq-stop/1").unwrap();
        // Right after the create its thread may not have started yet: stopped before its
        // function runs (-EINTR), the pool is closed all the same.
        let r = kthread::stop(&t1);
        assert!(
            r == 0 || r == Error::Interrupted.errno(),
            "stop returned {r}"
        );
        assert_eq!(t1.state(), sched::State::Exited);
        assert!(q.is_dead(), "a stopped worker shows");
        let w = noop("w");
        assert_eq!(wq::queue_on(&q, 1, &w), Err(Error::Shutdown));
        assert_eq!(w.state(), WorkState::Idle);
        assert!(wq::queue_on(&q, 0, &w).unwrap(), "cpu 0 still works");
        wq::flush(&q);
        assert_eq!(w.runs(), 1);
        wq::destroy(q).unwrap();
        0
    });
}
