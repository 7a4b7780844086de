//! The kthread_worker contracts, each as a test on the fake port.

use super::util::*;
use crate::error::Error;
use crate::fake::run;
use crate::kthread;
use crate::sched;
use crate::time::Duration;
use crate::work::kthread_worker::{
    cancel_delayed_work_sync, cancel_work_sync, create, create_on_cpu, destroy, flush, flush_work,
    mod_delayed, queue, queue_delayed,
};
use crate::work::workqueue::{Work, WorkState};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// A work recording when it last started.
fn stamped(name: &str) -> (Arc<Work>, Arc<AtomicU64>) {
    let at = Arc::new(AtomicU64::new(0));
    let a = at.clone();
    let w = Work::new(name, move |_| a.store(now(), Ordering::Release));
    (w, at)
}

#[test]
fn kw_queue_returns_false_when_pending_or_being_cancelled() {
    run(2, || {
        let w = create("kw-pend").unwrap();
        let release = Arc::new(AtomicBool::new(false));
        let r = release.clone();
        let long = Work::new("long", move |_| {
            while !r.load(Ordering::Acquire) {
                sched::sleep(Duration::from_millis(1));
            }
        });
        let other = Work::new("other", |_| {});
        assert!(queue(&w, &long).unwrap());
        assert!(wait_for(500, || long.state() == WorkState::Running));
        assert!(queue(&w, &other).unwrap());
        assert!(!queue(&w, &other).unwrap(), "pending: not queued twice");
        assert!(!queue_delayed(&w, &other, Duration::from_millis(5)).unwrap());

        // Cancel `long` while it runs: the cancel waits, and queueing is blocked meanwhile.
        let l2 = long.clone();
        let canceller = kthread::run("canceller", move || cancel_work_sync(&l2) as i32).unwrap();
        assert!(wait_for(500, || long.state() == WorkState::Canceling));
        assert!(!queue(&w, &long).unwrap(), "queued while being cancelled");
        assert!(
            mod_delayed(&w, &long, Duration::from_millis(5)).unwrap(),
            "mod during a cancel: the cancel wins (true, nothing queued)"
        );
        release.store(true, Ordering::Release);
        assert_eq!(join(&canceller), 0, "it was running, not pending");
        assert_eq!(long.runs(), 1);
        assert_eq!(
            long.state(),
            WorkState::Idle,
            "the cancel's mod did not queue it"
        );
        flush(&w);
        assert_eq!(other.runs(), 1);
        assert!(
            queue(&w, &long).unwrap(),
            "queueable again after the cancel"
        );
        flush(&w);
        assert_eq!(long.runs(), 2);
        assert!(destroy(w).is_ok());
        0
    });
}

#[test]
fn kw_delayed_work_fires_after_delay_on_the_workers_cpu() {
    run(4, || {
        let w = create_on_cpu("kw-cpu3", 3).unwrap();
        let cpu = Arc::new(AtomicUsize::new(usize::MAX));
        let at = Arc::new(AtomicU64::new(0));
        let (c, a) = (cpu.clone(), at.clone());
        let work = Work::new("d", move |_| {
            a.store(now(), Ordering::Release);
            c.store(crate::port::port().cpu_id(), Ordering::Release);
        });
        let start = now();
        assert!(queue_delayed(&w, &work, Duration::from_millis(30)).unwrap());
        assert_eq!(work.state(), WorkState::Delayed);
        assert!(!queue(&w, &work).unwrap(), "delayed counts as pending");
        sched::sleep(Duration::from_millis(15));
        assert_eq!(work.runs(), 0, "ran before its delay");
        assert!(wait_for(1000, || work.runs() == 1));
        assert!(at.load(Ordering::Acquire) - start >= 30 * MS);
        assert_eq!(cpu.load(Ordering::Acquire), 3, "ran on the worker's CPU");

        // Delay 0 queues at once.
        assert!(queue_delayed(&w, &work, Duration::ZERO).unwrap());
        assert_ne!(work.state(), WorkState::Delayed);
        flush_work(&work);
        assert_eq!(work.runs(), 2);
        assert!(destroy(w).is_ok());
        0
    });
}

#[test]
fn kw_mod_delayed_work_moves_the_deadline() {
    run(2, || {
        let w = create("kw-mod").unwrap();
        // Earlier.
        let (a, a_at) = stamped("a");
        let start = now();
        assert!(queue_delayed(&w, &a, Duration::from_millis(500)).unwrap());
        assert!(
            mod_delayed(&w, &a, Duration::from_millis(20)).unwrap(),
            "was delayed: true"
        );
        assert!(wait_for(1000, || a.runs() == 1));
        let ran = a_at.load(Ordering::Acquire) - start;
        assert!(
            (20 * MS..400 * MS).contains(&ran),
            "not moved earlier ({ran})"
        );
        // Later.
        let (b, b_at) = stamped("b");
        let start = now();
        assert!(queue_delayed(&w, &b, Duration::from_millis(20)).unwrap());
        assert!(mod_delayed(&w, &b, Duration::from_millis(120)).unwrap());
        sched::sleep(Duration::from_millis(70));
        assert_eq!(b.runs(), 0, "ran at the old deadline");
        assert_eq!(b.state(), WorkState::Delayed);
        assert!(wait_for(1000, || b.runs() == 1));
        assert!(b_at.load(Ordering::Acquire) - start >= 120 * MS);
        sched::sleep(Duration::from_millis(40));
        assert_eq!(b.runs(), 1, "the old timer did not fire too");
        // Idle: queues it and returns false.
        let (c, _) = stamped("c");
        assert!(!mod_delayed(&w, &c, Duration::ZERO).unwrap(), "idle: false");
        flush_work(&c);
        assert_eq!(c.runs(), 1);
        assert!(destroy(w).is_ok());
        0
    });
}

#[test]
fn kw_cancel_pending_delayed_work_returns_true_and_it_never_runs() {
    run(2, || {
        let w = create("kw-cancel").unwrap();
        let (d, _) = stamped("d");
        assert!(queue_delayed(&w, &d, Duration::from_millis(30)).unwrap());
        assert!(cancel_delayed_work_sync(&d), "was pending");
        assert_eq!(d.state(), WorkState::Idle);
        sched::sleep(Duration::from_millis(80));
        assert_eq!(d.runs(), 0, "cancelled work ran");
        assert!(!cancel_delayed_work_sync(&d), "nothing left to cancel");

        // A queued (not delayed) work behind a busy one is taken off the list.
        let busy = Work::new("busy", |_| sched::sleep(Duration::from_millis(30)));
        let (q, _) = stamped("q");
        assert!(queue(&w, &busy).unwrap());
        assert!(queue(&w, &q).unwrap());
        assert!(cancel_work_sync(&q));
        flush(&w);
        assert_eq!(q.runs(), 0);
        assert_eq!(busy.runs(), 1);
        assert!(destroy(w).is_ok());
        0
    });
}

#[test]
fn kw_flush_work_waits_for_a_running_work_and_flush_worker_for_all() {
    run(2, || {
        let w = create("kw-flush").unwrap();
        let busy = Work::new("busy", |_| sched::sleep(Duration::from_millis(50)));
        assert!(queue(&w, &busy).unwrap());
        assert!(wait_for(500, || busy.state() == WorkState::Running));
        let start = now();
        flush_work(&busy);
        assert_eq!(busy.runs(), 1, "flush_work returned while it ran");
        assert!(now() - start >= 30 * MS);
        // Idle: returns at once.
        let start = now();
        flush_work(&busy);
        assert!(now() - start < 20 * MS);

        let works: Vec<Arc<Work>> = (0..20)
            .map(|_| Work::new("n", |_| sched::sleep(Duration::from_millis(1))))
            .collect();
        for x in &works {
            assert!(queue(&w, x).unwrap());
        }
        flush(&w);
        assert!(
            works.iter().all(|x| x.runs() == 1),
            "flush_worker waited for all"
        );
        assert!(destroy(w).is_ok());
        0
    });
}

#[test]
fn kw_destroy_with_a_pending_delayed_work_reports_it() {
    run(2, || {
        let w = create("kw-destroy").unwrap();
        let (late, _) = stamped("late");
        let (now_w, _) = stamped("now");
        assert!(queue_delayed(&w, &late, Duration::from_secs(10)).unwrap());
        assert!(queue(&w, &now_w).unwrap());
        let t = w.thread().unwrap();
        let w2 = w.clone();
        let err = destroy(w).unwrap_err();
        assert_eq!((err.delayed.len(), err.chained.len()), (1, 0));
        assert!(
            Arc::ptr_eq(&err.delayed[0], &late),
            "reported the delayed work"
        );
        assert_eq!(late.state(), WorkState::Idle, "disarmed");
        assert_eq!(now_w.runs(), 1, "destroy flushed the queued work");
        assert_eq!(t.state(), sched::State::Exited, "worker stopped");
        assert_eq!(
            queue(&w2, &now_w),
            Err(Error::Shutdown),
            "destroyed: refuses work"
        );
        assert!(w2.thread().is_none());
        0
    });
}

#[test]
fn kw_thousand_works_from_four_cpus_run_exactly_once() {
    run(4, || {
        let w = create("kw-many").unwrap();
        let count = Arc::new(AtomicU64::new(0));
        let works: Arc<Vec<Arc<Work>>> = Arc::new(
            (0..1000)
                .map(|_| {
                    let c = count.clone();
                    Work::new("n", move |_| {
                        c.fetch_add(1, Ordering::AcqRel);
                    })
                })
                .collect(),
        );
        let queuers: Vec<_> = (0..4)
            .map(|cpu| {
                let (w, ws) = (w.clone(), works.clone());
                let t = kthread::create_on_cpu(&alloc::format!("kq{cpu}"), cpu, move || {
                    let mut ok = 0;
                    for x in ws.iter().skip(cpu).step_by(4) {
                        ok += queue(&w, x).unwrap() as i32;
                    }
                    ok
                })
                .unwrap();
                kthread::wake_up_process(&t);
                t
            })
            .collect();
        for t in &queuers {
            assert_eq!(join(t), 250);
        }
        flush(&w);
        assert_eq!(count.load(Ordering::Acquire), 1000);
        assert!(works.iter().all(|x| x.runs() == 1));
        assert!(destroy(w).is_ok());
        0
    });
}

/// What a worker says about itself: its name, what it holds, whether it is gone; it is made only
/// on a CPU that exists and is online.
#[test]
fn a_worker_reports_its_name_counts_and_end_and_needs_an_online_cpu() {
    run(2, || {
        for cpu in [3, crate::config::MAX_CPUS] {
            assert_eq!(
                create_on_cpu("kw-nowhere", cpu).err(),
                Some(Error::Invalid),
                "cpu {cpu}"
            );
        }
        let w = create_on_cpu("kw-acc", 1).unwrap();
        assert_eq!(w.name(), "kw-acc");
        assert!(alloc::format!("{w:?}").contains("kw-acc"));
        assert!(!w.is_dead());
        let release = Arc::new(AtomicBool::new(false));
        let r2 = release.clone();
        let b = Work::new("kw-block", move |_| {
            while !r2.load(Ordering::Acquire) {
                sched::sleep(Duration::from_millis(1));
            }
        });
        let (later, _) = stamped("kw-later");
        let (timed, _) = stamped("kw-timed");
        assert_eq!(queue(&w, &b), Ok(true));
        assert!(wait_for(500, || b.state() == WorkState::Running));
        let queued_at = crate::time::Instant::now();
        assert_eq!(queue(&w, &later), Ok(true));
        assert_eq!(queue_delayed(&w, &timed, Duration::from_secs(10)), Ok(true));
        assert_eq!(w.counts(), (1, 1), "one queued, one waiting for its timer");
        let shown = alloc::format!("{later:?}");
        assert!(
            shown.contains("kw-later") && shown.contains("Pending"),
            "{shown}"
        );
        assert_eq!(later.name_id(), crate::trace::intern("kw-later"));
        release.store(true, Ordering::Release);
        flush(&w);
        assert!(
            later.last_latency() <= queued_at.elapsed(),
            "queued to started: measured from its queueing"
        );
        assert!(cancel_delayed_work_sync(&timed));
        let again = w.clone();
        destroy(w).unwrap();
        assert!(again.is_dead());
        0
    });
}

/// A work that flushes its own worker runs the queued works in place, nested in itself: the
/// pool's statistics count both as running meanwhile, and the flush returns once they ran.
#[test]
fn a_flush_from_the_workers_own_work_runs_the_queue_in_place() {
    run(2, || {
        let w = create("kw-nest").unwrap();
        let seen = Arc::new(AtomicUsize::new(0));
        let s2 = seen.clone();
        let inner = Work::new("kw-inner", move |_| {
            let running = crate::work::pool::stats()
                .into_iter()
                .find(|p| p.name == "kw-nest")
                .map_or(0, |p| p.running);
            s2.store(running, Ordering::SeqCst);
        });
        let (w2, i2) = (w.clone(), inner.clone());
        let outer = Work::new("kw-outer", move |_| {
            assert_eq!(queue(&w2, &i2), Ok(true));
            flush(&w2);
        });
        assert_eq!(queue(&w, &outer), Ok(true));
        flush(&w);
        assert_eq!(inner.runs(), 1);
        assert_eq!(
            seen.load(Ordering::SeqCst),
            2,
            "the outer and the inner work"
        );
        destroy(w).unwrap();
        0
    });
}
