//! The deferred-work accounting (`work::account`): each path counts where the state changes, and
//! on a quiet system every submission was executed or cancelled exactly once.

use super::util::*;
use crate::Error;
use crate::fake::run;
use crate::kthread;
use crate::sched;
use crate::time::Duration;
use crate::work::account::{WorkCounts, WorkKind};
use crate::work::irq_work::{self, IrqWork};
use crate::work::tally as account;
use crate::work::task_work::{self, Notify, TaskWork};
use crate::work::{kthread_worker as kw, workqueue as wq};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};

/// The counters of `kind` since `before`.
fn since(kind: WorkKind, before: WorkCounts) -> WorkCounts {
    let now = account::counts(kind);
    WorkCounts {
        submitted: now.submitted - before.submitted,
        merged: now.merged - before.merged,
        executed: now.executed - before.executed,
        cancelled: now.cancelled - before.cancelled,
    }
}

fn counts(submitted: u64, merged: u64, executed: u64, cancelled: u64) -> WorkCounts {
    WorkCounts {
        submitted,
        merged,
        executed,
        cancelled,
    }
}

/// A work that sleeps until `release` is set (it holds its worker).
fn blocker(release: &Arc<AtomicBool>) -> Arc<wq::Work> {
    let r = release.clone();
    wq::Work::new("blocker", move |_| {
        while !r.load(Ordering::Acquire) {
            sched::sleep(Duration::from_millis(1));
        }
    })
}

#[test]
fn a_workqueue_counts_submissions_merges_runs_and_every_kind_of_cancel() {
    run(2, || {
        let before = account::counts(WorkKind::Workqueue);
        let other = account::counts(WorkKind::KthreadWorker);
        let q = wq::create_singlethread("acct").unwrap();
        let release = Arc::new(AtomicBool::new(false));
        let b = blocker(&release);
        let w = wq::Work::new("w", |_| {});
        let d = wq::Work::new("d", |_| {});
        let m = wq::Work::new("m", |_| {});
        let left = wq::Work::new("left", |_| {});
        let long = Duration::from_secs(10);

        assert!(wq::queue(&q, &b).unwrap());
        assert!(wait_for(500, || b.state() == wq::WorkState::Running));
        assert!(wq::queue(&q, &w).unwrap());
        assert!(!wq::queue(&q, &w).unwrap(), "merged into the pending one");
        assert_eq!(since(WorkKind::Workqueue, before), counts(2, 1, 1, 0));

        assert!(wq::queue_delayed(&q, &d, long).unwrap());
        assert!(wq::cancel_delayed_work(&d), "was pending");
        assert!(
            !wq::cancel_delayed_work(&d),
            "a second cancel finds nothing"
        );
        assert_eq!(since(WorkKind::Workqueue, before), counts(3, 1, 1, 1));

        assert!(
            !wq::mod_delayed(&q, &m, long).unwrap(),
            "idle: a submission"
        );
        assert!(wq::mod_delayed(&q, &m, long * 2).unwrap(), "pending: moved");
        assert!(wq::mod_delayed(&q, &m, long).unwrap(), "moved again");
        assert!(wq::queue_delayed(&q, &left, long).unwrap());
        assert_eq!(since(WorkKind::Workqueue, before), counts(5, 1, 1, 1));

        // A flush of a delayed work queues it at once: moved, not submitted again.
        release.store(true, Ordering::Release);
        assert!(wq::flush_delayed_work(&m));
        assert_eq!(since(WorkKind::Workqueue, before).submitted, 5);
        wq::flush(&q);
        assert_eq!(since(WorkKind::Workqueue, before), counts(5, 1, 3, 1));
        // The destroy cancels the delayed work it finds, and says so.
        let leftovers = wq::destroy(q).expect_err("a delayed work is cancelled");
        assert_eq!(leftovers.delayed.len(), 1);
        let c = since(WorkKind::Workqueue, before);
        assert_eq!(c, counts(5, 1, 3, 2));
        assert_eq!(c.in_flight(), 0);
        assert_eq!(
            since(WorkKind::KthreadWorker, other),
            WorkCounts::default(),
            "a workqueue's works count as the workqueue's"
        );
        0
    });
}

#[test]
fn a_kthread_workers_counts_balance_after_cancels_and_runs() {
    run(2, || {
        let before = account::counts(WorkKind::KthreadWorker);
        let w = kw::create("acct-kw").unwrap();
        let a = wq::Work::new("a", |_| {});
        let late = wq::Work::new("late", |_| {});
        assert!(kw::queue(&w, &a).unwrap());
        kw::flush(&w);
        assert!(kw::queue_delayed(&w, &late, Duration::from_secs(10)).unwrap());
        assert!(kw::cancel_delayed_work_sync(&late));
        assert!(!kw::mod_delayed(&w, &late, Duration::ZERO).unwrap());
        kw::flush(&w);
        let c = since(WorkKind::KthreadWorker, before);
        assert_eq!(c, counts(3, 0, 2, 1));
        assert_eq!(c.in_flight(), 0);
        kw::destroy(w).unwrap();
        // The worker is gone once its last work lets go of it: its counts stay.
        drop((a, late));
        assert_eq!(
            since(WorkKind::KthreadWorker, before),
            c,
            "nothing left to cancel, and the counts of the gone worker kept"
        );
        0
    });
}

#[test]
fn an_irq_work_counts_its_claim_its_merge_and_its_run_but_not_a_stale_handle() {
    run(2, || {
        let before = account::counts(WorkKind::IrqWork);
        let w = IrqWork::new("acct-irq", false, Arc::new(|_: &IrqWork| {})).unwrap();
        let p = crate::port::port();
        let s = p.irq_save();
        assert!(irq_work::queue(w));
        assert!(!irq_work::queue(w));
        p.irq_restore(s);
        assert!(wait_for(500, || w.runs() == 1));
        assert_eq!(since(WorkKind::IrqWork, before), counts(1, 1, 1, 0));
        assert_eq!(irq_work::queue_on(w, 1), Ok(true));
        assert!(wait_for(500, || w.runs() == 2));
        w.free().unwrap();
        assert!(!irq_work::queue(w), "a freed handle queues nothing");
        assert_eq!(since(WorkKind::IrqWork, before), counts(2, 1, 2, 0));
        0
    });
}

#[test]
fn task_works_count_adds_cancels_and_runs_and_not_a_refused_add() {
    run(2, || {
        let before = account::counts(WorkKind::TaskWork);
        let t = kthread::run("acct-tw", || {
            while !kthread::should_stop() {
                sched::sleep(Duration::from_millis(1));
            }
            0
        })
        .unwrap();
        let works: alloc::vec::Vec<_> = (0..3)
            .map(|i| TaskWork::new(&alloc::format!("tw{i}"), |_| {}))
            .collect();
        for w in &works {
            task_work::add(t.thread(), w.clone(), Notify::None).unwrap();
        }
        assert_eq!(
            task_work::add(t.thread(), works[0].clone(), Notify::None),
            Err(Error::Busy),
            "already queued: refused"
        );
        assert!(task_work::cancel(t.thread(), &works[1]));
        assert_eq!(since(WorkKind::TaskWork, before), counts(3, 0, 0, 1));
        let thread = t.thread().clone();
        kthread::stop(&t);
        // The exit ran what was left; the list is closed now.
        assert_eq!(
            task_work::add(&thread, works[1].clone(), Notify::None),
            Err(Error::NoSuchThread)
        );
        let c = since(WorkKind::TaskWork, before);
        assert_eq!(c, counts(3, 0, 2, 1));
        assert_eq!(c.in_flight(), 0);
        0
    });
}

/// The kinds' names as reports print them; a pending work is in flight until it runs.
#[test]
fn kinds_are_named_and_a_pending_work_is_in_flight() {
    let names: alloc::vec::Vec<&str> = WorkKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(
        names,
        ["irq_work", "task_work", "workqueue", "kthread_worker"]
    );
    assert_eq!(counts(3, 1, 1, 1).in_flight(), 1);
    assert_eq!(
        counts(1, 0, 2, 0).in_flight(),
        -1,
        "a double run shows as negative"
    );
    run(2, || {
        for k in [
            WorkKind::TaskWork,
            WorkKind::Workqueue,
            WorkKind::KthreadWorker,
        ] {
            assert_eq!(
                account::counts(k),
                WorkCounts::default(),
                "{}: a fresh system",
                k.name()
            );
        }
        let q = wq::create("acct-pending").unwrap();
        let release = Arc::new(AtomicBool::new(false));
        let b = blocker(&release);
        let w = wq::Work::new("queued", |_| {});
        assert_eq!(w.name(), "queued");
        let before = account::counts(WorkKind::Workqueue);
        assert!(wq::queue_on(&q, 1, &b).unwrap());
        assert!(wait_for(500, || b.state() == wq::WorkState::Running));
        assert_eq!(b.state().as_str(), "running");
        assert!(wq::queue_on(&q, 1, &w).unwrap());
        assert_eq!(w.state().as_str(), "pending");
        assert_eq!(since(WorkKind::Workqueue, before).in_flight(), 1, "w waits");
        release.store(true, Ordering::Release);
        wq::flush(&q);
        assert_eq!(w.state().as_str(), "idle");
        assert_eq!(since(WorkKind::Workqueue, before).in_flight(), 0);
        wq::destroy(q).unwrap();
        0
    });
}
