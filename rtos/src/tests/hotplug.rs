//! CPU hotplug on the fake port: what an offline does to threads, per-CPU kthreads, workers,
//! timers and irq_works, and that an online brings all of it back.

use super::util::wait_for;
use crate::fake::run;
use crate::hotplug::{self, HotplugError};
use crate::kthread;
use crate::sched::{self, State};
use crate::time::{Duration, Instant};
use crate::timer::{self, Action};
use crate::work::irq_work::{self, IrqWork};
use crate::work::item::Work;
use crate::work::workqueue as wq;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// A thread that counts while it runs, polls stop and park, and records the last CPU it ran on.
fn counter(name: &str, cpu: Option<usize>) -> (kthread::KThread, Arc<AtomicU64>, Arc<AtomicUsize>) {
    let n = Arc::new(AtomicU64::new(0));
    let at = Arc::new(AtomicUsize::new(usize::MAX));
    let (n2, at2) = (n.clone(), at.clone());
    let body = move || {
        while !kthread::should_stop() {
            if kthread::should_park() {
                kthread::parkme();
            }
            n2.fetch_add(1, Ordering::Relaxed);
            at2.store(crate::port::port().cpu_id(), Ordering::Relaxed);
            sched::sleep(Duration::from_millis(1));
        }
        0
    };
    let t = match cpu {
        Some(c) => kthread::create_on_cpu(name, c, body).unwrap(),
        None => kthread::create(name, body).unwrap(),
    };
    kthread::wake_up_process(&t);
    (t, n, at)
}

/// Whether `n` grows within a second.
fn grows(n: &AtomicU64) -> bool {
    let before = n.load(Ordering::Relaxed);
    wait_for(1000, || n.load(Ordering::Relaxed) > before + 2)
}

#[test]
fn refusals_change_nothing() {
    run(4, || {
        assert!(matches!(hotplug::offline(0), Err(HotplugError::BootCpu)));
        assert!(matches!(hotplug::offline(9), Err(HotplugError::NoSuchCpu)));
        assert!(matches!(hotplug::online(2), Err(HotplugError::Already)));
        assert_eq!(sched::online_mask(), 0b1111);
        hotplug::offline(3).unwrap();
        assert!(matches!(hotplug::offline(3), Err(HotplugError::Already)));
        assert_eq!(sched::online_mask(), 0b0111);
        hotplug::online(3).unwrap();
        assert_eq!(sched::online_mask(), 0b1111);
        0
    });
}

/// Unbound threads leave the CPU and keep running; a per-CPU kthread is parked on the offline and
/// unparked (on its CPU again) on the online, seed 002.
#[test]
fn threads_move_off_and_per_cpu_kthreads_park_until_online() {
    run(4, || {
        let free: Vec<_> = (0..4)
            .map(|i| counter(&alloc::format!("free{i}"), None))
            .collect();
        let (pc, pn, pat) = counter("percpu", Some(2));
        assert!(grows(&pn));
        hotplug::offline(2).unwrap();
        assert!(!hotplug::is_online(2));
        assert_eq!(pc.state(), State::Parked, "the per-CPU kthread is parked");
        let parked_at = pn.load(Ordering::Relaxed);
        for (t, n, at) in &free {
            assert!(grows(n), "{} runs on", t.name());
            assert_ne!(at.load(Ordering::Relaxed), 2, "{} left cpu2", t.name());
        }
        sched::sleep(Duration::from_millis(20));
        assert_eq!(
            pn.load(Ordering::Relaxed),
            parked_at,
            "parked: it does not run"
        );
        // A user's unpark while its CPU is offline leaves it parked.
        kthread::unpark(&pc);
        sched::sleep(Duration::from_millis(20));
        assert_eq!(pc.state(), State::Parked);
        hotplug::online(2).unwrap();
        assert!(grows(&pn), "unparked by the online");
        assert_eq!(pat.load(Ordering::Relaxed), 2, "re-bound to its CPU");
        // It can still be stopped, as can the others.
        kthread::stop(&pc);
        for (t, _, _) in &free {
            kthread::stop(t);
        }
        0
    });
}

/// A per-CPU kthread that never parks makes the offline fail with its name, and nothing changes.
#[test]
fn a_per_cpu_thread_that_never_parks_refuses_the_offline() {
    run(4, || {
        let quit = Arc::new(AtomicBool::new(false));
        let started = Arc::new(AtomicBool::new(false));
        let (q2, s2) = (quit.clone(), started.clone());
        let hog = kthread::create_on_cpu("no-park", 1, move || {
            s2.store(true, Ordering::Relaxed);
            while !q2.load(Ordering::Relaxed) {
                sched::sleep(Duration::from_millis(1));
            }
            0
        })
        .unwrap();
        kthread::wake_up_process(&hog);
        // (Parked before its first run, it would park without running its loop.)
        assert!(wait_for(1000, || started.load(Ordering::Relaxed)));
        let (ok, on, _) = counter("parks", Some(1));
        let t0 = Instant::now();
        match hotplug::offline(1) {
            Err(HotplugError::Busy(t)) => assert_eq!(t.name(), "no-park"),
            other => panic!("{other:?}"),
        }
        assert!(t0.elapsed() >= hotplug::PARK_TIMEOUT);
        assert!(hotplug::is_online(1), "nothing changed");
        assert!(grows(&on), "the thread it parked first is unparked again");
        quit.store(true, Ordering::Relaxed);
        kthread::stop(&hog);
        kthread::stop(&ok);
        0
    });
}

/// Timers armed on the CPU going offline fire on another CPU, and can still be cancelled.
#[test]
fn timers_of_an_offline_cpu_fire_elsewhere_and_stay_cancellable() {
    run(4, || {
        let fired_on = Arc::new(AtomicUsize::new(usize::MAX));
        let f2 = fired_on.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let armer = kthread::create_on_cpu("armer", 3, move || {
            let soon = timer::arm(
                Instant::after(Duration::from_millis(100)),
                Action::Call(alloc::boxed::Box::new(move || {
                    f2.store(crate::port::port().cpu_id(), Ordering::SeqCst);
                })),
            );
            let far = timer::arm(
                Instant::after(Duration::from_secs(60)),
                Action::Call(alloc::boxed::Box::new(|| {})),
            );
            tx.send((soon.cpu(), far)).unwrap();
            0
        })
        .unwrap();
        kthread::wake_up_process(&armer);
        let (armed_on, far) = rx.recv().unwrap();
        assert_eq!(armed_on, 3);
        super::util::join(&armer);
        hotplug::offline(3).unwrap();
        assert!(wait_for(2000, || fired_on.load(Ordering::SeqCst) != usize::MAX));
        assert_ne!(fired_on.load(Ordering::SeqCst), 3, "fired on an online CPU");
        assert!(timer::cancel(far), "its id still cancels it");
        hotplug::online(3).unwrap();
        0
    });
}

/// A workqueue's worker for an offline CPU runs the works queued there on an online CPU; after
/// the online it runs them on its CPU again. A workqueue created meanwhile has a worker for it.
#[test]
fn workers_of_an_offline_cpu_go_on_elsewhere() {
    run(4, || {
        let q = wq::create("hp").unwrap();
        let at = Arc::new(AtomicUsize::new(usize::MAX));
        let a2 = at.clone();
        let w = Work::new("w", move |_| {
            a2.store(crate::port::port().cpu_id(), Ordering::SeqCst)
        });
        hotplug::offline(2).unwrap();
        assert_eq!(wq::queue_on(&q, 2, &w), Ok(true));
        assert!(wait_for(2000, || w.runs() == 1));
        assert_ne!(at.load(Ordering::SeqCst), 2);
        let late = wq::create("hp-late").unwrap();
        assert_eq!(
            late.cpus(),
            [0, 1, 2, 3],
            "a worker for the offline CPU too"
        );
        hotplug::online(2).unwrap();
        // (Re-bound at its next wake-up.)
        sched::sleep(Duration::from_millis(20));
        for (n, q) in [(2, &q), (3, &late)] {
            assert_eq!(wq::queue_on(q, 2, &w), Ok(true));
            assert!(wait_for(2000, || w.runs() == n));
            assert_eq!(at.load(Ordering::SeqCst), 2, "on its CPU again");
        }
        wq::destroy(q).unwrap();
        wq::destroy(late).unwrap();
        0
    });
}

/// irq_works: queueing on an offline CPU is refused; works in flight to the CPU as it leaves all
/// run exactly once (there, in its last run, or by their queuer).
#[test]
fn irq_works_are_refused_on_an_offline_cpu_and_never_lost() {
    run(4, || {
        let ran = Arc::new(AtomicU64::new(0));
        let works: Vec<IrqWork> = (0..32)
            .map(|_| {
                let r = ran.clone();
                IrqWork::new(
                    "hp",
                    false,
                    Arc::new(move |_| {
                        r.fetch_add(1, Ordering::SeqCst);
                    }),
                )
                .unwrap()
            })
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let queued = Arc::new(AtomicU64::new(0));
        let (s2, q2, ws) = (stop.clone(), queued.clone(), works.clone());
        let queuer = kthread::run("queuer", move || {
            while !s2.load(Ordering::Relaxed) {
                for w in &ws {
                    if irq_work::queue_on(*w, 1) == Ok(true) {
                        q2.fetch_add(1, Ordering::SeqCst);
                    }
                }
                sched::sleep(Duration::from_millis(1));
            }
            0
        })
        .unwrap();
        assert!(
            wait_for(1000, || queued.load(Ordering::SeqCst) > 0),
            "queueing"
        );
        for _ in 0..5 {
            hotplug::offline(1).unwrap();
            assert_eq!(irq_work::queue_on(works[0], 1), Err(crate::Error::Invalid));
            hotplug::online(1).unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        kthread::stop(&queuer);
        for w in &works {
            irq_work::sync(*w).unwrap();
        }
        assert!(wait_for(2000, || ran.load(Ordering::SeqCst)
            == queued.load(Ordering::SeqCst)));
        assert!(queued.load(Ordering::SeqCst) > 0);
        0
    });
}

/// Many cycles of every secondary CPU with threads running: all CPUs online at the end, every
/// thread still running.
#[test]
fn offline_online_cycles_of_every_secondary_cpu() {
    run(4, || {
        let free: Vec<_> = (0..3)
            .map(|i| counter(&alloc::format!("c{i}"), None))
            .collect();
        for round in 0..10 {
            for cpu in 1..4 {
                hotplug::offline(cpu).unwrap_or_else(|e| panic!("round {round} cpu{cpu}: {e:?}"));
                hotplug::online(cpu).unwrap_or_else(|e| panic!("round {round} cpu{cpu}: {e:?}"));
            }
        }
        assert_eq!(sched::online_mask(), 0b1111);
        for (t, n, _) in &free {
            assert!(grows(n), "{} runs on", t.name());
            kthread::stop(t);
        }
        0
    });
}

/// A per-CPU kthread that was never woken is not started by an offline and online of its CPU:
/// it stays created, and stopping it gives -EINTR without running its function.
#[test]
fn a_created_per_cpu_thread_stays_created_across_hotplug() {
    run(4, || {
        let ran = Arc::new(AtomicBool::new(false));
        let r2 = ran.clone();
        let t = kthread::create_on_cpu("created", 2, move || {
            r2.store(true, Ordering::SeqCst);
            0
        })
        .unwrap();
        hotplug::offline(2).unwrap();
        hotplug::online(2).unwrap();
        sched::sleep(Duration::from_millis(20));
        assert_eq!(t.state(), State::Created);
        assert!(!ran.load(Ordering::SeqCst));
        assert_eq!(kthread::stop(&t), -4);
        assert!(!ran.load(Ordering::SeqCst), "its function never ran");
        0
    });
}

/// A thread bound with `kthread::bind` (not a per-CPU kthread, so not parked) keeps running on
/// an online CPU while its CPU is offline; the offline does not hang on it.
#[test]
fn a_bound_thread_runs_elsewhere_while_its_cpu_is_offline() {
    run(4, || {
        let n = Arc::new(AtomicU64::new(0));
        let at = Arc::new(AtomicUsize::new(usize::MAX));
        let (n2, at2) = (n.clone(), at.clone());
        let t = kthread::create("bound", move || {
            while !kthread::should_stop() {
                n2.fetch_add(1, Ordering::Relaxed);
                at2.store(crate::port::port().cpu_id(), Ordering::Relaxed);
                sched::sleep(Duration::from_millis(1));
            }
            0
        })
        .unwrap();
        kthread::bind(&t, 3).unwrap();
        kthread::wake_up_process(&t);
        assert!(grows(&n));
        hotplug::offline(3).unwrap();
        assert!(grows(&n), "runs on");
        assert_ne!(at.load(Ordering::Relaxed), 3);
        hotplug::online(3).unwrap();
        kthread::stop(&t);
        0
    });
}

/// The same for a per-CPU kthread created but never woken when its CPU went offline: a user's
/// unpark while the CPU is offline leaves it parked, so that, woken, it does not run its
/// function until the CPU is back, and then on that CPU.
#[test]
fn a_never_woken_per_cpu_thread_unparked_while_its_cpu_is_offline_waits_for_it() {
    run(3, || {
        let ran_on = Arc::new(AtomicUsize::new(usize::MAX));
        let r2 = ran_on.clone();
        let t = kthread::create_on_cpu("late", 1, move || {
            r2.store(crate::port::port().cpu_id(), Ordering::SeqCst);
            5
        })
        .unwrap();
        hotplug::offline(1).unwrap();
        kthread::unpark(&t);
        kthread::wake_up_process(&t);
        sched::sleep(Duration::from_millis(20));
        assert_eq!(
            ran_on.load(Ordering::SeqCst),
            usize::MAX,
            "not while cpu1 is offline"
        );
        hotplug::online(1).unwrap();
        assert!(wait_for(1000, || ran_on.load(Ordering::SeqCst) != usize::MAX));
        assert_eq!(ran_on.load(Ordering::SeqCst), 1, "on its own CPU");
        assert_eq!(kthread::stop(&t), 5);
        0
    });
}

/// The worker thread a workqueue has for `cpu` (its threads are named after their CPU).
fn worker_of(q: &wq::Workqueue, cpu: usize) -> kthread::KThread {
    q.threads()
        .into_iter()
        .find(|t| t.name().ends_with(&alloc::format!("/{cpu}")))
        .unwrap_or_else(|| panic!("no worker for cpu{cpu}"))
}

/// An offline parks only its own CPU's per-CPU threads; a workqueue made while a CPU is offline
/// has that CPU's worker unbound until it is back; an offline refused half-way (a per-CPU thread
/// that does not park in time) binds the CPU's workers back to it and unparks what it parked.
#[test]
fn an_offline_touches_only_its_cpu_and_a_refused_one_is_undone() {
    run(4, || {
        let (other, on, at) = counter("on-cpu1", Some(1));
        let q = wq::create("undo").unwrap();
        assert_eq!(worker_of(&q, 3).info().bound, Some(3));
        hotplug::offline(2).unwrap();
        assert!(grows(&on), "cpu1's per-CPU thread runs on");
        assert_ne!(other.state(), State::Parked);
        assert_eq!(at.load(Ordering::Relaxed), 1);
        let late = wq::create("late").unwrap();
        assert_eq!(
            worker_of(&late, 2).info().bound,
            None,
            "unbound while cpu2 is offline"
        );
        assert_eq!(worker_of(&late, 1).info().bound, Some(1));
        hotplug::online(2).unwrap();
        assert_eq!(
            worker_of(&late, 2).info().bound,
            Some(2),
            "bound once it is back"
        );
        // A per-CPU thread on cpu3 that parks, and then one that does not look at should-park.
        let (polite, pn, _) = counter("polite3", Some(3));
        let quit = Arc::new(AtomicBool::new(false));
        let q2 = quit.clone();
        let hog = kthread::create_on_cpu("no-park3", 3, move || {
            while !q2.load(Ordering::Relaxed) {
                sched::sleep(Duration::from_millis(1));
            }
            0
        })
        .unwrap();
        kthread::wake_up_process(&hog);
        assert!(grows(&pn));
        let refused =
            kthread::hotplug::prepare_offline(3, Instant::after(Duration::from_millis(50)));
        assert!(matches!(refused, Err((crate::Error::Busy, ref t)) if t.name() == "no-park3"));
        assert_eq!(
            worker_of(&q, 3).info().bound,
            Some(3),
            "the worker is bound to cpu3 again"
        );
        assert!(grows(&pn), "what it parked runs again");
        assert_ne!(polite.state(), State::Parked);
        quit.store(true, Ordering::Relaxed);
        for t in [hog, polite, other] {
            kthread::stop(&t);
        }
        wq::destroy(q).unwrap();
        wq::destroy(late).unwrap();
        0
    });
}

/// A thread bound to CPUs that are all offline when it is woken runs on an online one (Linux's
/// select_fallback_rq) instead of never.
#[test]
fn a_thread_whose_cpus_are_all_offline_runs_on_an_online_one() {
    run(3, || {
        let at = Arc::new(AtomicUsize::new(usize::MAX));
        let a2 = at.clone();
        let t = kthread::create("stranded", move || {
            a2.store(crate::port::port().cpu_id(), Ordering::SeqCst);
            0
        })
        .unwrap();
        kthread::bind(&t, 2).unwrap();
        hotplug::offline(1).unwrap();
        hotplug::offline(2).unwrap();
        kthread::wake_up_process(&t);
        assert!(wait_for(1000, || at.load(Ordering::SeqCst) != usize::MAX));
        assert_eq!(at.load(Ordering::SeqCst), 0, "the only online CPU");
        assert_eq!(kthread::stop(&t), 0);
        hotplug::online(1).unwrap();
        hotplug::online(2).unwrap();
        0
    });
}
