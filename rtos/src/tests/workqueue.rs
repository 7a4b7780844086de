//! The workqueue contracts (classic per-CPU design), each as a test on the fake port.

use super::util::*;
use crate::error::Error;
use crate::fake::run;
use crate::kthread;
use crate::sched;
use crate::time::Duration;
use crate::work::workqueue::{
    self as wq, Work, WorkState, create, create_singlethread, destroy, flush, queue, queue_delayed,
    queue_delayed_on, queue_on,
};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

#[test]
fn wq_queue_returns_false_while_pending() {
    run(2, || {
        let q = create_singlethread("wq-pend").unwrap();
        let release = Arc::new(AtomicBool::new(false));
        let r = release.clone();
        let blocker = Work::new("blocker", move |_| {
            while !r.load(Ordering::Acquire) {
                sched::sleep(Duration::from_millis(1));
            }
        });
        let w = Work::new("w", |_| {});
        assert!(queue(&q, &blocker).unwrap());
        assert!(wait_for(500, || blocker.state() == WorkState::Running));
        assert!(queue(&q, &w).unwrap(), "idle work queues");
        assert_eq!(w.state(), WorkState::Pending);
        assert!(!queue(&q, &w).unwrap(), "pending work is not queued twice");
        assert!(!queue_on(&q, 1, &w).unwrap(), "nor on another CPU");
        assert!(
            !queue_delayed(&q, &w, Duration::from_millis(10)).unwrap(),
            "nor delayed while pending"
        );
        release.store(true, Ordering::Release);
        flush(&q);
        assert_eq!(w.runs(), 1, "ran exactly once");
        assert_eq!(w.state(), WorkState::Idle);
        assert!(
            w.last_latency() > Duration::ZERO,
            "queue-to-start latency recorded"
        );
        destroy(q).unwrap();
        0
    });
}

#[test]
fn wq_delayed_work_fires_after_delay_on_expected_cpu() {
    run(4, || {
        let q = create("wq-delay").unwrap();
        assert_eq!(q.cpus(), alloc::vec![0, 1, 2, 3]);
        let fired_at = Arc::new(AtomicU64::new(0));
        let cpu = Arc::new(AtomicUsize::new(usize::MAX));
        let (f, c) = (fired_at.clone(), cpu.clone());
        let w = Work::new("late", move |_| {
            f.store(now(), Ordering::Release);
            c.store(crate::port::port().cpu_id(), Ordering::Release);
        });
        let start = now();
        assert!(queue_delayed_on(&q, 2, &w, Duration::from_millis(30)).unwrap());
        assert_eq!(w.state(), WorkState::Delayed);
        assert!(
            !queue_delayed_on(&q, 2, &w, Duration::from_millis(30)).unwrap(),
            "already delayed"
        );
        assert!(!queue(&q, &w).unwrap(), "a delayed work is pending");
        sched::sleep(Duration::from_millis(15));
        assert_eq!(w.runs(), 0, "fired before its delay");
        assert!(wait_for(1000, || w.runs() == 1));
        assert!(
            fired_at.load(Ordering::Acquire) - start >= 30 * MS,
            "ran before the delay passed"
        );
        assert_eq!(cpu.load(Ordering::Acquire), 2, "ran on the requested CPU");
        assert_eq!(w.state(), WorkState::Idle);

        // Without a CPU: queued on the CPU the timer fired on, i.e. where it was armed. Arm
        // it from a thread bound to CPU 3 so "the calling CPU" is known.
        let (q2, w2) = (q.clone(), w.clone());
        let armer = kthread::create_on_cpu("armer", 3, move || {
            queue_delayed(&q2, &w2, Duration::from_millis(5)).unwrap() as i32
        })
        .unwrap();
        kthread::wake_up_process(&armer);
        assert_eq!(join(&armer), 1);
        assert!(wait_for(1000, || w.runs() == 2));
        assert_eq!(cpu.load(Ordering::Acquire), 3, "ran on the arming CPU");
        destroy(q).unwrap();
        0
    });
}

#[test]
fn wq_flush_waits_for_busy_work_not_for_works_queued_meanwhile() {
    run(4, || {
        let q = create("wq-flush").unwrap();
        let busy = Work::new("busy", |_| sched::sleep(Duration::from_millis(50)));
        let slow = Work::new("slow", |_| sched::sleep(Duration::from_millis(300)));
        assert!(queue_on(&q, 1, &busy).unwrap());
        // Queued on the same CPU while the flush below waits.
        let (q2, s2) = (q.clone(), slow.clone());
        let late = kthread::run("late-queuer", move || {
            sched::sleep(Duration::from_millis(10));
            queue_on(&q2, 1, &s2).unwrap() as i32
        })
        .unwrap();
        let start = now();
        flush(&q);
        let took = now() - start;
        assert_eq!(busy.runs(), 1, "flush returned before the busy work ran");
        assert!(took >= 40 * MS, "flush did not wait ({took} ticks)");
        assert_eq!(join(&late), 1, "the late work was queued");
        assert_eq!(slow.runs(), 0, "flush waited for a work queued after it");
        assert!(
            took < 250 * MS,
            "flush delayed by a later work ({took} ticks)"
        );
        flush(&q);
        assert_eq!(slow.runs(), 1);
        destroy(q).unwrap();
        0
    });
}

#[test]
fn wq_flush_from_own_worker_does_not_deadlock() {
    run(2, || {
        let q = create_singlethread("wq-self").unwrap();
        let after = Work::new("after", |_| {});
        let seen = Arc::new(AtomicU64::new(u64::MAX));
        let (q2, a2, s2) = (q.clone(), after.clone(), seen.clone());
        let flusher = Work::new("flusher", move |_| {
            flush(&q2);
            s2.store(a2.runs(), Ordering::Release);
        });
        assert!(queue(&q, &flusher).unwrap());
        assert!(queue(&q, &after).unwrap());
        assert!(
            wait_for(2000, || flusher.runs() == 1),
            "flush from the worker deadlocked"
        );
        assert_eq!(
            seen.load(Ordering::Acquire),
            1,
            "the flush ran the work queued behind it"
        );
        assert_eq!(after.runs(), 1, "and only once");
        destroy(q).unwrap();
        0
    });
}

#[test]
fn wq_thousand_works_on_four_cpus_run_exactly_once() {
    run(4, || {
        let q = wq::events().unwrap();
        assert!(Arc::ptr_eq(&q, &wq::events().unwrap()), "one events queue");
        assert_eq!(q.name(), "events");
        let counts: Arc<Vec<AtomicU64>> = Arc::new((0..1000).map(|_| AtomicU64::new(0)).collect());
        let cpus_seen = Arc::new(AtomicUsize::new(0));
        let works: Vec<Arc<Work>> = (0..1000)
            .map(|i| {
                let (c, s) = (counts.clone(), cpus_seen.clone());
                Work::new("n", move |_| {
                    c[i].fetch_add(1, Ordering::AcqRel);
                    s.fetch_or(1 << crate::port::port().cpu_id(), Ordering::AcqRel);
                })
            })
            .collect();
        let works = Arc::new(works);
        // Four queuers, one bound per CPU, each queueing a quarter on its own CPU.
        let queuers: Vec<_> = (0..4)
            .map(|cpu| {
                let (q, ws) = (q.clone(), works.clone());
                let t = kthread::create_on_cpu(&alloc::format!("queuer{cpu}"), cpu, move || {
                    let mut ok = 0;
                    for w in ws.iter().skip(cpu).step_by(4) {
                        ok += queue(&q, w).unwrap() as i32;
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
        flush(&q);
        for (i, c) in counts.iter().enumerate() {
            assert_eq!(c.load(Ordering::Acquire), 1, "work {i} ran != once");
        }
        assert_eq!(
            cpus_seen.load(Ordering::Acquire),
            0b1111,
            "every CPU's worker ran"
        );
        assert!(works.iter().all(|w| w.state() == WorkState::Idle));
        0
    });
}

#[test]
fn wq_destroy_runs_queued_works_then_refuses_more() {
    run(2, || {
        let q = create("wq-destroy").unwrap();
        let w = Work::new("last", |_| sched::sleep(Duration::from_millis(10)));
        assert!(queue_on(&q, 1, &w).unwrap());
        let threads: Vec<_> = (0..2)
            .map(|c| kthread::find(&alloc::format!("wq-destroy/{c}")).unwrap())
            .collect();
        destroy(q.clone()).unwrap();
        assert_eq!(w.runs(), 1, "destroy flushed");
        for t in &threads {
            assert_eq!(t.state(), sched::State::Exited, "worker stopped");
        }
        assert_eq!(
            queue(&q, &w),
            Err(Error::Shutdown),
            "queueing on a destroyed queue fails"
        );
        assert_eq!(w.state(), WorkState::Idle);
        0
    });
}

#[test]
fn wq_stats_count_runs_and_take_the_worst_latency() {
    run(2, || {
        let q = create_singlethread("wq-stats").unwrap();
        let mine = || {
            let all = crate::work::pool::stats();
            let s: Vec<_> = all.into_iter().filter(|s| s.name == "wq-stats").collect();
            assert_eq!(s.len(), 1, "one worker");
            s.into_iter().next().unwrap()
        };
        let first = mine();
        assert_eq!((first.what, first.cpu, first.runs), ("workqueue", None, 0));
        assert_eq!(first.tid, q.threads().first().map(|t| t.tid()));
        // A blocker holds the worker while the second work waits at least 20 ms on its list.
        let blocker = Work::new("blocker", |_| sched::sleep(Duration::from_millis(20)));
        let w = Work::new("w", |_| {});
        assert!(queue(&q, &blocker).unwrap());
        assert!(wait_for(500, || blocker.state() == WorkState::Running));
        assert!(queue(&q, &w).unwrap());
        let busy = mine();
        assert_eq!((busy.pending, busy.running), (1, 1));
        flush(&q);
        let done = mine();
        assert_eq!((done.pending, done.running, done.runs), (0, 0, 2));
        assert!(done.max_latency >= Duration::from_millis(15), "{done:?}");
        assert_eq!(
            mine().max_latency,
            Duration::ZERO,
            "taken by the previous read"
        );
        destroy(q).unwrap();
        assert!(
            crate::work::pool::stats()
                .iter()
                .all(|s| s.name != "wq-stats"),
            "a destroyed queue is not listed"
        );
        0
    });
}

/// While a workqueue is being destroyed (draining), only its own works may queue on it (a work
/// that queues its follow-up, Linux's chained work); a queueing from anywhere else is refused
/// with `Shutdown`.
#[test]
fn a_draining_queue_takes_chained_works_only() {
    run(2, || {
        let q = create_singlethread("wq-drain").unwrap();
        let release = Arc::new(AtomicBool::new(false));
        let follow = Work::new("wq-follow", |_| {});
        let (r2, q2, f2) = (release.clone(), q.clone(), follow.clone());
        let chained = Arc::new(AtomicBool::new(false));
        let c2 = chained.clone();
        let first = Work::new("wq-first", move |_| {
            while !r2.load(Ordering::Acquire) {
                sched::sleep(Duration::from_millis(1));
            }
            c2.store(queue(&q2, &f2) == Ok(true), Ordering::Release);
        });
        assert_eq!(queue(&q, &first), Ok(true));
        assert!(wait_for(500, || first.state() == WorkState::Running));
        let q3 = q.clone();
        let destroyer =
            kthread::run("wq-destroyer", move || i32::from(destroy(q3).is_ok())).unwrap();
        assert!(wait_for(500, || q.is_dead()), "draining");
        let outsider = Work::new("wq-outsider", |_| {});
        assert_eq!(queue(&q, &outsider), Err(Error::Shutdown));
        release.store(true, Ordering::Release);
        assert_eq!(join(&destroyer), 1, "drained: nothing left over");
        assert!(
            chained.load(Ordering::Acquire),
            "its own work's follow-up was taken"
        );
        assert_eq!(follow.runs(), 1, "and run before the end");
        assert_eq!(outsider.runs(), 0);
        0
    });
}

/// Who owns what: a worker thread names its workqueue or kthread worker (`owner_of`, what the
/// shell's stop/park refusal quotes), any other thread none; a busy work names the queue it is
/// on (a per-CPU workqueue with the CPU), an idle one none.
#[test]
fn worker_threads_and_busy_works_name_their_owner() {
    run(2, || {
        use crate::work::kthread_worker as kw;
        use crate::work::pool::owner_of;
        let q = create("wq-owner").unwrap();
        let k = kw::create_on_cpu("kw-owner", 1).unwrap();
        let wq_thread = q.threads()[1].tid();
        let kw_thread = k.thread().unwrap().tid();
        assert_eq!(owner_of(wq_thread), Some(("workqueue", "wq-owner".into())));
        assert_eq!(
            owner_of(kw_thread),
            Some(("kthread worker", "kw-owner".into()))
        );
        assert_eq!(owner_of(sched::current().unwrap().tid()), None);
        let w = Work::new("wq-owned", |_| {});
        assert_eq!(w.owner(), None, "idle");
        assert_eq!(
            queue_delayed_on(&q, 1, &w, Duration::from_secs(10)),
            Ok(true)
        );
        assert_eq!(w.owner().as_deref(), Some("workqueue wq-owner (cpu1)"));
        assert!(wq::cancel_delayed_work_sync(&w));
        assert_eq!(kw::queue_delayed(&k, &w, Duration::from_secs(10)), Ok(true));
        assert_eq!(w.owner().as_deref(), Some("kthread worker kw-owner"));
        assert!(kw::cancel_delayed_work_sync(&w));
        destroy(q).unwrap();
        kw::destroy(k).unwrap();
        0
    });
}

/// A workqueue's counts: works queued and not started (`queued`) and works waiting for their
/// timer (`delayed`), over its workers, back to zero once they ran or were cancelled; and its
/// debug form names it and its number of workers.
#[test]
fn queued_and_delayed_count_waiting_works_and_debug_names_the_queue() {
    run(2, || {
        let q = create_singlethread("wq-counts").unwrap();
        assert_eq!(
            alloc::format!("{q:?}"),
            "Workqueue { name: \"wq-counts\", workers: 1 }"
        );
        let per_cpu = create("wq-counts-percpu").unwrap();
        assert_eq!(
            alloc::format!("{per_cpu:?}"),
            "Workqueue { name: \"wq-counts-percpu\", workers: 2 }"
        );
        destroy(per_cpu).unwrap();
        let release = Arc::new(AtomicBool::new(false));
        let r = release.clone();
        let blocker = Work::new("blocker", move |_| {
            while !r.load(Ordering::Acquire) {
                sched::sleep(Duration::from_millis(1));
            }
        });
        assert!(queue(&q, &blocker).unwrap());
        assert!(wait_for(500, || blocker.state() == WorkState::Running));
        assert_eq!(
            (q.queued(), q.delayed()),
            (0, 0),
            "the running work is neither"
        );
        let (a, b) = (Work::new("a", |_| {}), Work::new("b", |_| {}));
        assert!(queue(&q, &a).unwrap());
        assert!(queue(&q, &b).unwrap());
        let late = Work::new("late", |_| {});
        assert!(queue_delayed(&q, &late, Duration::from_secs(10)).unwrap());
        assert_eq!((q.queued(), q.delayed()), (2, 1));
        assert!(wq::cancel_delayed_work_sync(&late));
        assert_eq!(q.delayed(), 0, "cancelled");
        release.store(true, Ordering::Release);
        flush(&q);
        assert_eq!((a.runs(), b.runs()), (1, 1));
        assert_eq!((q.queued(), q.delayed()), (0, 0));
        destroy(q).unwrap();
        0
    });
}
