//! The kthread contracts from kernel/kthread.c, each as a test that fails if the contract breaks.

use super::util::{MS, join, wait_for};
use crate::Error;
use crate::fake::{run, spin_for};
use crate::kthread::{self, KThread, Options};
use crate::sched::{self, State};
use crate::time::{Duration, Instant};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

fn deadline_in(ms: u64) -> Instant {
    Instant::after(Duration::from_millis(ms))
}

/// Waits (sleeping in the kernel) until `t` is in `state`, at most `ms`.
fn wait_state(t: &KThread, state: State, ms: u64) -> bool {
    let end = deadline_in(ms);
    while Instant::now() < end {
        if t.state() == state {
            return true;
        }
        sched::sleep(Duration::from_millis(1));
    }
    t.state() == state
}

/// A kthread body that polls should_stop/should_park as the shell's kinds do, counting loops.
fn poller(count: Arc<AtomicU64>, result: i32) -> impl FnOnce() -> i32 + Send + 'static {
    move || {
        while !kthread::should_stop() {
            if kthread::should_park() {
                kthread::parkme();
                continue;
            }
            count.fetch_add(1, Ordering::Relaxed);
            sched::sleep(Duration::from_micros(500));
        }
        result
    }
}

#[test]
fn fake_system_runs_main() {
    assert_eq!(run(2, || 7), 7);
}

#[test]
fn created_thread_does_not_run_until_woken() {
    let r = run(2, || {
        let ran = Arc::new(AtomicBool::new(false));
        let r2 = ran.clone();
        let t = kthread::create("lazy", move || {
            r2.store(true, Ordering::SeqCst);
            5
        })
        .unwrap();
        sched::sleep(Duration::from_millis(20));
        assert_eq!(t.state(), State::Created);
        assert!(!ran.load(Ordering::SeqCst), "ran before wake_up_process");
        assert!(kthread::wake_up_process(&t));
        // Let it actually run: a stop that lands before its first run would (as in Linux) end it
        // with -EINTR without calling the function.
        let end = deadline_in(500);
        while !ran.load(Ordering::SeqCst) && Instant::now() < end {
            sched::sleep(Duration::from_millis(1));
        }
        assert!(ran.load(Ordering::SeqCst), "woken thread ran");
        assert_eq!(kthread::stop(&t), 5);
        0
    });
    assert_eq!(r, 0);
}

#[test]
fn stop_returns_the_thread_result() {
    let r = run(4, || {
        let count = Arc::new(AtomicU64::new(0));
        let t = kthread::run("worker", poller(count.clone(), 42)).unwrap();
        assert!(wait_state(&t, State::Sleeping, 200) || count.load(Ordering::Relaxed) > 0);
        let result = kthread::stop(&t);
        assert!(count.load(Ordering::Relaxed) > 0, "thread ran");
        assert!(
            kthread::find("worker").is_none(),
            "stopped thread left the registry"
        );
        result
    });
    assert_eq!(r, 42);
}

#[test]
fn stop_before_first_run_is_eintr_and_fn_never_runs() {
    let r = run(2, || {
        let ran = Arc::new(AtomicBool::new(false));
        let r2 = ran.clone();
        let t = kthread::create("never", move || {
            r2.store(true, Ordering::SeqCst);
            1
        })
        .unwrap();
        let res = kthread::stop(&t);
        assert!(
            !ran.load(Ordering::SeqCst),
            "function ran despite stop before wake"
        );
        assert_eq!(
            Arc::strong_count(&ran),
            1,
            "what the function held is released (a pool's thread closes its pool this way)"
        );
        res
    });
    assert_eq!(r, -4);
}

#[test]
fn park_before_first_run_parks_without_calling_fn() {
    run(2, || {
        let ran = Arc::new(AtomicBool::new(false));
        let r2 = ran.clone();
        let t = kthread::create("parked-early", move || {
            r2.store(true, Ordering::SeqCst);
            while !kthread::should_stop() {
                sched::sleep(Duration::from_millis(1));
            }
            9
        })
        .unwrap();
        kthread::park(&t).unwrap();
        assert_eq!(t.state(), State::Parked);
        sched::sleep(Duration::from_millis(10));
        assert!(
            !ran.load(Ordering::SeqCst),
            "parked thread ran its function"
        );
        kthread::unpark(&t);
        let end = deadline_in(500);
        while !ran.load(Ordering::SeqCst) && Instant::now() < end {
            sched::sleep(Duration::from_millis(1));
        }
        assert!(ran.load(Ordering::SeqCst), "unpark let it run");
        assert_eq!(kthread::stop(&t), 9);
        0
    });
}

#[test]
fn park_waits_until_really_parked_and_counter_stops() {
    run(4, || {
        let count = Arc::new(AtomicU64::new(0));
        let t = kthread::run("c", poller(count.clone(), 0)).unwrap();
        sched::sleep(Duration::from_millis(10));
        kthread::park(&t).unwrap();
        assert_eq!(
            t.state(),
            State::Parked,
            "park returned before the thread parked"
        );
        assert!(!t.thread().on_cpu(), "parked but still on a CPU");
        let before = count.load(Ordering::Relaxed);
        sched::sleep(Duration::from_millis(20));
        assert_eq!(
            count.load(Ordering::Relaxed),
            before,
            "counter grew while parked"
        );
        kthread::unpark(&t);
        sched::sleep(Duration::from_millis(20));
        assert!(
            count.load(Ordering::Relaxed) > before,
            "counter did not grow after unpark"
        );
        kthread::stop(&t);
        0
    });
}

#[test]
fn park_errors_exited_busy_and_self_park_only_flags() {
    run(2, || {
        let t = kthread::run("quick", || 3).unwrap();
        assert!(wait_state(&t, State::Exited, 500));
        assert_eq!(
            kthread::park(&t),
            Err(Error::Exited),
            "park of an exited thread is ENOSYS"
        );
        assert_eq!(Error::Exited.errno(), -38);

        let count = Arc::new(AtomicU64::new(0));
        let p = kthread::run("p", poller(count, 0)).unwrap();
        kthread::park(&p).unwrap();
        assert_eq!(
            kthread::park(&p),
            Err(Error::Busy),
            "parking a parked thread is an error"
        );
        kthread::unpark(&p);
        kthread::unpark(&p); // no-op when not parked
        assert!(
            wait_state(&p, State::Sleeping, 200)
                || p.state() == State::Running
                || p.state() == State::Ready
        );
        kthread::stop(&p);

        // Called by the thread on itself, park only sets the flag.
        let verdict = Arc::new(AtomicU64::new(0));
        let v = verdict.clone();
        let selfpark = kthread::run("selfpark", move || {
            let me = kthread::find("selfpark").unwrap();
            let r = kthread::park(&me);
            let flagged = kthread::should_park();
            v.store(if r.is_ok() && flagged { 1 } else { 2 }, Ordering::SeqCst);
            while !kthread::should_stop() {
                sched::sleep(Duration::from_millis(1));
            }
            0
        })
        .unwrap();
        let end = deadline_in(500);
        while verdict.load(Ordering::SeqCst) == 0 && Instant::now() < end {
            sched::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            verdict.load(Ordering::SeqCst),
            1,
            "self-park returned Ok and only set the flag"
        );
        assert_ne!(selfpark.state(), State::Parked, "self-park must not park");
        kthread::unpark(&selfpark);
        kthread::stop(&selfpark);
        0
    });
}

#[test]
fn bind_rules_and_per_cpu_rebind_on_unpark() {
    run(4, || {
        let count = Arc::new(AtomicU64::new(0));
        let t = kthread::create("b", poller(count.clone(), 0)).unwrap();
        assert_eq!(kthread::bind(&t, 9), Err(Error::Invalid), "no CPU 9");
        kthread::bind(&t, 2).unwrap();
        kthread::wake_up_process(&t);
        sched::sleep(Duration::from_millis(10));
        assert_eq!(t.info().cpu, 2);
        assert_eq!(kthread::bind(&t, 1), Err(Error::Busy), "bind while running");
        kthread::park(&t).unwrap();
        kthread::bind(&t, 1).unwrap();
        kthread::unpark(&t);
        sched::sleep(Duration::from_millis(10));
        assert_eq!(t.info().cpu, 1, "bound while parked: runs on the new CPU");
        kthread::stop(&t);

        // create_on_cpu makes a per-CPU thread: unpark re-binds it to its CPU.
        let pc =
            kthread::create_on_cpu("percpu", 3, poller(Arc::new(AtomicU64::new(0)), 0)).unwrap();
        kthread::wake_up_process(&pc);
        sched::sleep(Duration::from_millis(5));
        assert_eq!(pc.info().cpu, 3);
        kthread::park(&pc).unwrap();
        kthread::bind(&pc, 0).unwrap();
        kthread::unpark(&pc);
        sched::sleep(Duration::from_millis(10));
        assert_eq!(
            pc.info().cpu,
            3,
            "per-CPU thread re-bound to its CPU on unpark"
        );
        kthread::stop(&pc);
        0
    });
}

#[test]
fn stop_timeout_keeps_the_request() {
    run(2, || {
        // Sleeps uninterruptibly for a long time and never polls: stop must time out.
        let t = kthread::run("deaf", || {
            sched::sleep(Duration::from_millis(30_000));
            0
        })
        .unwrap();
        // Asleep in its function (a stop before its first run would end it with -EINTR).
        assert!(wait_for(5000, || t.state() == State::Sleeping));
        let start = crate::port::port().now();
        assert_eq!(
            kthread::stop_until(&t, Some(deadline_in(50))),
            Err(Error::TimedOut)
        );
        assert!(crate::port::port().now() - start >= 50 * MS);
        assert!(t.info().stopping, "stop request kept after timeout");
        assert!(kthread::find("deaf").is_some());
        0
    });
}

#[test]
fn names_errors_and_out_of_stacks() {
    run(2, || {
        let a = kthread::create("dup", || 0).unwrap();
        assert_eq!(kthread::create("dup", || 0).err(), Some(Error::Exists));
        assert_eq!(kthread::create("", || 0).err(), Some(Error::Invalid));
        let long = "x".repeat(kthread::MAX_NAME + 1);
        assert_eq!(kthread::create(&long, || 0).err(), Some(Error::Invalid));
        let full = "y".repeat(kthread::MAX_NAME);
        let f = kthread::create(&full, || 0).unwrap();
        assert_eq!(f.name(), full, "full name kept");
        crate::fake::set_stack_limit(0);
        assert_eq!(kthread::create("nomem", || 0).err(), Some(Error::NoMemory));
        crate::fake::set_stack_limit(usize::MAX);
        kthread::stop(&a);
        kthread::stop(&f);
        0
    });
}

#[test]
fn new_threads_spread_over_idle_cpus() {
    run(4, || {
        let stop = Arc::new(AtomicBool::new(false));
        let mut ts = Vec::new();
        for i in 0..3 {
            let s = stop.clone();
            let name = alloc::format!("spread{i}");
            ts.push(
                kthread::run(&name, move || {
                    while !s.load(Ordering::Relaxed) && !kthread::should_stop() {
                        spin_for(Duration::from_micros(200));
                    }
                    0
                })
                .unwrap(),
            );
            sched::sleep(Duration::from_millis(2));
        }
        sched::sleep(Duration::from_millis(10));
        let mut cpus: Vec<usize> = ts.iter().map(|t| t.info().cpu).collect();
        cpus.sort();
        cpus.dedup();
        assert_eq!(cpus.len(), 3, "three busy threads on three different CPUs");
        stop.store(true, Ordering::Relaxed);
        for t in &ts {
            kthread::stop(t);
        }
        0
    });
}

#[test]
fn higher_priority_preempts_and_equal_priority_round_robins() {
    run(1, || {
        // Two equal-priority spinners below main share the single CPU while main sleeps.
        let a = Arc::new(AtomicU64::new(0));
        let b = Arc::new(AtomicU64::new(0));
        let mk = |c: Arc<AtomicU64>| {
            move || {
                while !kthread::should_stop() {
                    c.fetch_add(1, Ordering::Relaxed);
                    spin_for(Duration::from_micros(100));
                }
                0
            }
        };
        let opts = Options {
            prio: Some(5),
            cpu: None,
        };
        let ta = kthread::create_with("rr-a", opts, mk(a.clone())).unwrap();
        let tb = kthread::create_with("rr-b", opts, mk(b.clone())).unwrap();
        kthread::wake_up_process(&ta);
        kthread::wake_up_process(&tb);
        let t0 = std::time::Instant::now();
        sched::sleep(Duration::from_millis(100));
        // Main (priority 10) got the CPU back from two busy lower-priority threads on time.
        assert!(
            t0.elapsed() < Duration::from_millis(400),
            "high priority was not preempting"
        );
        assert!(
            a.load(Ordering::Relaxed) > 0 && b.load(Ordering::Relaxed) > 0,
            "round robin"
        );
        assert!(
            ta.info().switches > 1 && tb.info().switches > 1,
            "slices rotated"
        );
        kthread::stop(&ta);
        kthread::stop(&tb);
        0
    });
}

#[test]
fn park_unpark_storm_loses_nothing() {
    run(4, || {
        let n = 8;
        let counts: Vec<Arc<AtomicU64>> = (0..n).map(|_| Arc::new(AtomicU64::new(0))).collect();
        let ts: Vec<KThread> = (0..n)
            .map(|i| {
                kthread::run(
                    &alloc::format!("storm{i}"),
                    poller(counts[i].clone(), i as i32),
                )
                .unwrap()
            })
            .collect();
        for round in 0..60 {
            let t = &ts[round % n];
            kthread::park_until(t, Some(deadline_in(1000))).unwrap();
            assert_eq!(t.state(), State::Parked);
            kthread::unpark(t);
        }
        for (i, t) in ts.iter().enumerate() {
            let before = counts[i].load(Ordering::Relaxed);
            let end = deadline_in(500);
            while counts[i].load(Ordering::Relaxed) == before && Instant::now() < end {
                sched::sleep(Duration::from_millis(1));
            }
            assert!(
                counts[i].load(Ordering::Relaxed) > before,
                "thread {i} unresponsive"
            );
            assert_eq!(
                kthread::stop_until(t, Some(deadline_in(1000))),
                Ok(i as i32)
            );
        }
        0
    });
}

#[test]
fn equal_priority_newcomer_is_not_starved_by_a_lone_spinner() {
    run(2, || {
        // A spins alone on CPU 1 (nobody to share with: no time slice). B, same priority, is then
        // woken onto CPU 1 from CPU 0: it must get the CPU soon, not wait for A to block.
        let a_count = Arc::new(AtomicU64::new(0));
        let b_count = Arc::new(AtomicU64::new(0));
        let spinner = |c: Arc<AtomicU64>| {
            move || {
                while !kthread::should_stop() {
                    c.fetch_add(1, Ordering::Relaxed);
                    spin_for(Duration::from_micros(100));
                }
                0
            }
        };
        let a = kthread::create_on_cpu("lone", 1, spinner(a_count.clone())).unwrap();
        kthread::wake_up_process(&a);
        sched::sleep(Duration::from_millis(20));
        assert!(a_count.load(Ordering::Relaxed) > 0);
        let b = kthread::create_on_cpu("newcomer", 1, spinner(b_count.clone())).unwrap();
        kthread::wake_up_process(&b);
        let end = deadline_in(300);
        while b_count.load(Ordering::Relaxed) == 0 && Instant::now() < end {
            sched::sleep(Duration::from_millis(1));
        }
        assert!(
            b_count.load(Ordering::Relaxed) > 0,
            "equal-priority newcomer starved"
        );
        let a_before = a_count.load(Ordering::Relaxed);
        sched::sleep(Duration::from_millis(50));
        assert!(
            a_count.load(Ordering::Relaxed) > a_before,
            "and the first one still gets its share"
        );
        kthread::stop(&a);
        kthread::stop(&b);
        0
    });
}

/// The lost-wake-up race: the thread checks `should_stop`/`should_park` (false), the request
/// comes and its wake-up finds the thread running, then the thread goes to sleep. The sleep
/// must see the request instead of sleeping through it (found as a `stop: timeout` in the
/// QEMU task_work script).
#[test]
fn interruptible_sleep_sees_a_stop_or_park_requested_after_the_check() {
    run(2, || {
        let go = Arc::new(AtomicBool::new(false));
        let g = go.clone();
        let t = kthread::run("late-check", move || {
            let mut naps = 0;
            loop {
                // "Checked: nothing requested" ...
                let stop = kthread::should_stop();
                let park = kthread::should_park();
                g.store(true, Ordering::Release);
                // ... and the request lands now, before the sleep: wait until it has (yielding:
                // on the fake port a thread queued behind a spinner on its CPU never runs, and
                // the requester may have been placed here).
                while !kthread::should_stop() && !kthread::should_park() {
                    sched::yield_now();
                }
                if stop {
                    return naps;
                }
                if park {
                    kthread::parkme();
                    continue;
                }
                let start = std::time::Instant::now();
                sched::sleep_interruptible_until(deadline_in(10_000));
                assert!(start.elapsed() < Duration::from_secs(2), "slept through it");
                naps += 1;
            }
        })
        .unwrap();
        // (Yielding: the thread may be queued on this CPU, when the wake-up's placement could
        // not sample the other one: its run-queue lock was busy.)
        while !go.load(Ordering::Acquire) {
            sched::yield_now();
        }
        kthread::park_until(&t, Some(deadline_in(3_000))).expect("park seen by the sleep");
        go.store(false, Ordering::Release);
        kthread::unpark(&t);
        while !go.load(Ordering::Acquire) {
            sched::yield_now();
        }
        let r = kthread::stop_until(&t, Some(deadline_in(3_000)));
        assert_eq!(r, Ok(2), "stop seen by the sleep");
        0
    });
}

#[test]
fn interruptible_sleep_ends_early_when_parked_or_stopped() {
    run(2, || {
        // Naps started: after the unpark, it is its second nap that the stop must cut short,
        // not the park it is still leaving (also "sleeping") on a slow host.
        let naps = Arc::new(AtomicUsize::new(0));
        let n2 = naps.clone();
        let t = kthread::run("napper", move || {
            let mut early = 0;
            while !kthread::should_stop() {
                if kthread::should_park() {
                    kthread::parkme();
                }
                n2.fetch_add(1, Ordering::SeqCst);
                if !sched::sleep_interruptible_until(deadline_in(10_000)) {
                    early += 1;
                }
            }
            early
        })
        .unwrap();
        // Each time, once it is asleep in its 10 s sleep (not before it started).
        let asleep = |nap: usize| {
            wait_for(5000, || {
                naps.load(Ordering::SeqCst) >= nap && t.state() == State::Sleeping
            })
        };
        assert!(asleep(1));
        let start = std::time::Instant::now();
        kthread::park(&t).unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "park waited out a 10 s sleep"
        );
        kthread::unpark(&t);
        assert!(asleep(2));
        let start = std::time::Instant::now();
        let early = kthread::stop(&t);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "stop waited out a 10 s sleep"
        );
        assert!(early >= 2, "both park and stop cut a sleep short ({early})");
        0
    });
}

#[test]
fn sleeping_mutex_excludes_and_waiters_sleep() {
    run(4, || {
        static M: crate::wait::Mutex<u64> = crate::wait::Mutex::new(0);
        *M.lock() = 0;
        let ts: Vec<KThread> = (0..4)
            .map(|i| {
                kthread::run(&alloc::format!("m{i}"), || {
                    for _ in 0..25 {
                        let mut g = M.lock();
                        let v = *g;
                        // Sleep while holding it: the others must sleep too, not spin.
                        sched::sleep(Duration::from_micros(250));
                        *g = v + 1;
                    }
                    0
                })
                .unwrap()
            })
            .collect();
        // Let each finish its 25 rounds: a stop landing before a thread's first run would end it
        // with -EINTR without running it (the contract), which is not what this test is about.
        for t in &ts {
            assert!(wait_state(t, State::Exited, 5_000), "{} finished", t.name());
            assert_eq!(kthread::stop(t), 0);
        }
        assert_eq!(*M.lock(), 100, "lost updates: the mutex did not exclude");
        let sleeps: u64 = ts.iter().map(|t| t.info().switches).sum();
        assert!(
            sleeps >= 100,
            "holders and waiters slept ({sleeps} switches)"
        );
        0
    });
}

#[test]
fn kthreadd_is_listed_and_cannot_be_parked_or_stopped() {
    run(2, || {
        let k = kthread::find(kthread::kthreadd::NAME).expect("kthreadd runs");
        assert!(kthread::refuses_park_stop(&k));
        let other = kthread::create("other", || 0).unwrap();
        assert!(!kthread::refuses_park_stop(&other), "only kthreadd refuses");
        kthread::stop(&other);
        assert!(
            wait_for(5000, || k.state() == State::Sleeping),
            "waiting for requests"
        );
        assert_eq!(kthread::park(&k), Err(Error::NotPermitted));
        assert_eq!(
            kthread::stop_until(&k, Some(deadline_in(10))),
            Err(Error::NotPermitted)
        );
        assert!(!k.info().stopping, "nothing was requested");
        0
    });
}

/// Seed 002: threads are created by kthreadd, so a new thread starts from kthreadd's clean state
/// (default priority, every CPU allowed) whatever its creator's priority and CPU were.
#[test]
fn threads_are_created_by_kthreadd_from_a_clean_state() {
    run(2, || {
        let kthreadd = kthread::find(kthread::kthreadd::NAME).unwrap().tid();
        let opts = Options {
            prio: Some(25),
            cpu: Some(1),
        };
        let creator = kthread::create_with("creator", opts, || {
            let child = kthread::create("child", || 0).unwrap();
            let info = child.info();
            kthread::stop(&child);
            // Parent, priority, and whether it was left unbound (it could run on CPU 0).
            ((info.parent as i32) << 16)
                | (i32::from(info.prio) << 8)
                | i32::from(info.bound.is_none())
        })
        .unwrap();
        kthread::wake_up_process(&creator);
        let r = join(&creator);
        assert_eq!(r >> 16, kthreadd as i32, "created by kthreadd");
        assert_eq!(
            (r >> 8) & 0xff,
            i32::from(crate::config::DEFAULT_PRIORITY),
            "the default priority, not the creator's 25"
        );
        assert_eq!(r & 0xff, 1, "not bound to the creator's CPU");
        0
    });
}

/// Seed 002: a creator interrupted while it waits for kthreadd gets -EINTR, and the thread it
/// asked for never appears (what its function held is released).
#[test]
fn a_creator_stopped_while_waiting_for_kthreadd_gets_eintr() {
    run(2, || {
        let held = Arc::new(AtomicBool::new(false));
        let h = held.clone();
        let creator = kthread::create("creator", move || {
            match kthread::create("orphan", move || i32::from(h.load(Ordering::Relaxed))) {
                Ok(_) => 1,
                Err(e) => e.errno(),
            }
        })
        .unwrap();
        // (Held only now: this thread's own creations go through kthreadd too.)
        let hold = &kthread::kthreadd::HOLD;
        hold.store(true, Ordering::Release);
        kthread::wake_up_process(&creator);
        assert!(wait_for(5000, || kthread::kthreadd::pending() == 1
            && creator.state() == State::Sleeping));
        assert_eq!(kthread::stop(&creator), Error::Interrupted.errno());
        hold.store(false, Ordering::Release);
        assert!(wait_for(5000, || kthread::kthreadd::pending() == 0));
        sched::sleep(Duration::from_millis(5));
        assert!(kthread::find("orphan").is_none(), "the thread was not made");
        assert_eq!(Arc::strong_count(&held), 1, "its function was dropped");
        // kthreadd goes on creating.
        assert_eq!(join(&kthread::run("after", || 5).unwrap()), 5);
        0
    });
}

/// Bug (issue 15): a running thread that lowered its own priority below a ready thread on its
/// CPU kept running until the next interrupt. It gives way at once now: the thread it lowered
/// itself under has run before `set_priority` returns.
#[test]
fn lowering_its_own_priority_gives_way_at_once() {
    use crate::kthread::Options;
    let r = run(1, || {
        let lowerer = kthread::create_with(
            "lowerer",
            Options {
                prio: Some(20),
                cpu: Some(0),
            },
            || {
                let ran = Arc::new(AtomicBool::new(false));
                let r2 = ran.clone();
                let low = kthread::create_with(
                    "low",
                    Options {
                        prio: Some(5),
                        cpu: Some(0),
                    },
                    move || {
                        r2.store(true, Ordering::SeqCst);
                        0
                    },
                )
                .unwrap();
                kthread::wake_up_process(&low);
                crate::fake::spin_for(std::time::Duration::from_millis(5));
                let before = ran.load(Ordering::SeqCst);
                let me = kthread::find("lowerer").unwrap();
                kthread::set_priority(&me, 1).unwrap();
                let after = ran.load(Ordering::SeqCst);
                kthread::stop(&low);
                i32::from(!before) * 2 + i32::from(after)
            },
        )
        .unwrap();
        kthread::wake_up_process(&lowerer);
        kthread::stop(&lowerer)
    });
    // 2: `low` had not run while `lowerer` outranked it; 1: it ran as soon as it did not.
    assert_eq!(r, 3);
}

#[test]
fn a_stopped_thread_is_freed() {
    run(2, || {
        let t = kthread::create("freed", || {
            while !kthread::should_stop() {
                sched::sleep(Duration::from_millis(1));
            }
            0
        })
        .unwrap();
        kthread::wake_up_process(&t);
        sched::sleep(Duration::from_millis(10));
        assert_eq!(kthread::stop(&t), 0);
        let w = alloc::sync::Arc::downgrade(t.thread());
        drop(t);
        // (Waited for, not slept on: a loaded host may take a while to reach the reaping switch.)
        let after_stop = wait_for(5_000, || w.strong_count() == 0);
        for i in 0..4 {
            let o = kthread::create_on_cpu("other", i % 2, || 0).unwrap();
            kthread::wake_up_process(&o);
            sched::sleep(Duration::from_millis(5));
            kthread::reap(&o);
        }
        sched::sleep(Duration::from_millis(20));
        assert_eq!(
            (after_stop, w.strong_count()),
            (true, 0),
            "still referenced"
        );
        0
    });
}

/// A per-CPU thread is created only on a CPU that exists and is online; nothing is created
/// otherwise.
#[test]
fn create_on_cpu_refuses_an_offline_or_absent_cpu() {
    run(2, || {
        let before = kthread::list().len();
        for cpu in [2, 3, crate::config::MAX_CPUS, crate::config::MAX_CPUS + 7] {
            assert_eq!(
                kthread::create_on_cpu("nowhere", cpu, || 0).err(),
                Some(Error::Invalid),
                "cpu {cpu}"
            );
        }
        assert_eq!(kthread::list().len(), before, "nothing half-built");
        let t = kthread::create_on_cpu("here", 1, || 0).unwrap();
        assert_eq!(t.info().bound, Some(1));
        // Stopped before it ever ran: -EINTR, as in Linux.
        assert_eq!(kthread::stop(&t), Error::Interrupted.errno());
        0
    });
}

/// kthread_should_stop_or_park: false until either request, true after each.
#[test]
fn should_stop_or_park_sees_either_request() {
    run(2, || {
        let seen = Arc::new(AtomicU64::new(0));
        let s2 = seen.clone();
        let t = kthread::create("either", move || {
            // 1: nothing requested yet; 2: a park was requested; 3: a stop was requested.
            let mut phase = 1;
            s2.store(
                u64::from(kthread::should_stop_or_park()) * 100 + phase,
                Ordering::SeqCst,
            );
            loop {
                if kthread::should_stop_or_park() {
                    if kthread::should_stop() {
                        s2.store(3, Ordering::SeqCst);
                        return 0;
                    }
                    phase = 2;
                    s2.store(phase, Ordering::SeqCst);
                    kthread::parkme();
                }
                sched::sleep(Duration::from_micros(200));
            }
        })
        .unwrap();
        kthread::wake_up_process(&t);
        assert!(wait_for(1000, || seen.load(Ordering::SeqCst) != 0));
        assert_eq!(seen.load(Ordering::SeqCst), 1, "nothing requested yet");
        assert_eq!(kthread::park(&t), Ok(()));
        assert_eq!(seen.load(Ordering::SeqCst), 2, "the park was seen");
        assert_eq!(kthread::stop(&t), 0);
        assert_eq!(seen.load(Ordering::SeqCst), 3, "the stop was seen");
        0
    });
}

/// The fake harness fails a kernel that hangs (here: main waits for ever) instead of hanging
/// the test binary; the next run starts clean.
#[test]
fn a_hung_fake_kernel_fails_its_test_and_the_next_run_is_clean() {
    let hung = std::panic::catch_unwind(|| {
        crate::fake::run_within(2, std::time::Duration::from_millis(300), || {
            loop {
                sched::sleep(Duration::from_millis(5));
            }
        })
    });
    let msg = hung
        .expect_err("a hang fails")
        .downcast::<String>()
        .unwrap();
    assert!(msg.contains("a hang"), "{msg}");
    assert_eq!(run(2, || 7), 7);
}

/// Linux's wait_task_inactive: park returns only once the thread is off its CPU and off the run
/// queue, not merely marked parked (it may still be switching away on its CPU).
#[test]
fn park_returns_once_the_thread_is_off_its_cpu_and_run_queue() {
    run(2, || {
        let t =
            kthread::create_on_cpu("inactive", 1, poller(Arc::new(AtomicU64::new(0)), 0)).unwrap();
        kthread::wake_up_process(&t);
        // Each switch away lingers, so the parker, woken first, sees it still on its CPU.
        crate::fake::set_switch_delay(std::time::Duration::from_micros(300));
        for round in 0..100 {
            kthread::park(&t).unwrap();
            let k = t.thread();
            assert!(
                !k.on_cpu() && !k.on_rq.load(Ordering::Acquire),
                "round {round}: parked but still on CPU {} / queued {}",
                k.on_cpu(),
                k.on_rq.load(Ordering::Acquire)
            );
            kthread::unpark(&t);
        }
        kthread::stop(&t);
        0
    });
}

/// A creation with interrupts masked (an interrupt handler, an irq_work) cannot wait for
/// kthreadd: it is made directly, by the caller.
#[test]
fn a_creation_with_interrupts_masked_is_made_directly() {
    run(2, || {
        let me = sched::current().unwrap().tid();
        let p = crate::port::port();
        let saved = p.irq_save();
        let t = kthread::create("masked-child", || 3);
        p.irq_restore(saved);
        let t = t.unwrap();
        assert_eq!(t.info().parent, me, "made by its caller, not kthreadd");
        kthread::wake_up_process(&t);
        assert_eq!(join(&t), 3);
        0
    });
}

/// A woken thread goes to an idle CPU rather than queueing behind its waker; the run queue's
/// load counts only what is queued now (threads that ran and left do not weigh).
#[test]
fn a_woken_thread_goes_to_an_idle_cpu() {
    run(2, || {
        // Threads come and go on cpu1, and go round its queue (each yield queues it again).
        for i in 0..4 {
            let t = kthread::create_on_cpu(&alloc::format!("passing{i}"), 1, || {
                for _ in 0..50 {
                    sched::yield_now();
                }
                0
            })
            .unwrap();
            kthread::wake_up_process(&t);
            join(&t);
        }
        // A thread waits behind a busier one on cpu1 and is reprioritised there (moved within
        // the queue), then both leave.
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let busy = kthread::create_with(
            "busy1",
            Options {
                prio: Some(20),
                cpu: Some(1),
            },
            move || {
                while !s2.load(Ordering::Relaxed) {
                    spin_for(std::time::Duration::from_micros(50));
                }
                0
            },
        )
        .unwrap();
        kthread::wake_up_process(&busy);
        let waiting = kthread::create_on_cpu("waiting1", 1, || 0).unwrap();
        kthread::wake_up_process(&waiting);
        for prio in [5, 6, 7] {
            kthread::set_priority(&waiting, prio).unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        join(&busy);
        join(&waiting);
        let at = Arc::new(AtomicU64::new(u64::MAX));
        let a2 = at.clone();
        let t = kthread::create("placed", move || {
            a2.store(crate::port::port().cpu_id() as u64, Ordering::SeqCst);
            0
        })
        .unwrap();
        // The waker keeps cpu0 busy until the woken thread has run.
        kthread::wake_up_process(&t);
        let end = deadline_in(1000);
        while at.load(Ordering::SeqCst) == u64::MAX && Instant::now() < end {
            core::hint::spin_loop();
        }
        assert_eq!(at.load(Ordering::SeqCst), 1, "placed on the idle cpu1");
        join(&t);
        0
    });
}

/// Changing the priority of a thread waiting for the CPU moves it in the run queue: raised, it
/// runs before those it now outranks; the queue it left (emptied) no longer counts as ready,
/// and keeps no copy of it (the run queue's debug assertion: a thread is queued once at most).
#[test]
fn reprioritising_a_ready_thread_moves_it_in_the_run_queue() {
    run(1, || {
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mk = |name: &'static str, prio: u8| {
            let o = order.clone();
            let opts = Options {
                prio: Some(prio),
                cpu: None,
            };
            kthread::create_with(name, opts, move || {
                o.lock().unwrap().push(name);
                0
            })
            .unwrap()
        };
        // Below main (10), all waiting on the one CPU: a alone at 2, b then c at 3.
        let (a, b, c) = (mk("a", 2), mk("b", 3), mk("c", 3));
        for t in [&a, &b, &c] {
            kthread::wake_up_process(t);
        }
        kthread::set_priority(&a, 4).unwrap(); // level 2 emptied
        kthread::set_priority(&c, 5).unwrap(); // ahead of b, past a
        for t in [&a, &b, &c] {
            join(t);
        }
        assert_eq!(*order.lock().unwrap(), ["c", "a", "b"]);
        // The emptied level does not hide a lower one.
        let d = mk("d", 1);
        kthread::wake_up_process(&d);
        join(&d);
        assert_eq!(order.lock().unwrap().last(), Some(&"d"));
        0
    });
}

/// A wake-up that reaches a thread still running on its CPU, between marking itself asleep and
/// calling schedule, only makes it runnable again: it is not queued a second time (it goes on
/// running, and its CPU goes on running others after it has left).
#[test]
fn a_wake_up_of_a_thread_about_to_sleep_does_not_queue_it_twice() {
    run(2, || {
        let armed = Arc::new(AtomicBool::new(false));
        let a2 = armed.clone();
        let t = kthread::create_on_cpu("about-to-sleep", 1, move || {
            let mut rounds = 0;
            for _ in 0..20 {
                sched::set_current_state(State::Sleeping);
                a2.store(true, Ordering::SeqCst);
                // Still on the CPU while the waker acts.
                while a2.load(Ordering::SeqCst) {
                    core::hint::spin_loop();
                }
                sched::schedule();
                rounds += 1;
            }
            rounds
        })
        .unwrap();
        kthread::wake_up_process(&t);
        for _ in 0..20 {
            assert!(wait_for(1000, || armed.load(Ordering::SeqCst)));
            assert!(kthread::wake_up_process(&t), "woken from asleep");
            assert!(
                !t.thread().on_rq.load(Ordering::SeqCst),
                "running: in no run queue"
            );
            armed.store(false, Ordering::SeqCst);
        }
        assert_eq!(join(&t), 20);
        // Its CPU runs the next thread normally.
        let next = kthread::create_on_cpu("next1", 1, || 9).unwrap();
        kthread::wake_up_process(&next);
        assert_eq!(join(&next), 9);
        0
    });
}

/// A woken thread stays on its last CPU when no other is less loaded (its cache is there), and
/// moves only to a strictly less loaded one.
#[test]
fn a_woken_thread_stays_on_its_last_cpu_unless_another_is_less_loaded() {
    run(2, || {
        let at = Arc::new(AtomicU64::new(u64::MAX));
        let a2 = at.clone();
        let opts = Options {
            prio: Some(12),
            cpu: None,
        };
        let t = kthread::create_with("returning", opts, move || {
            while !kthread::should_stop() {
                a2.store(crate::port::port().cpu_id() as u64, Ordering::SeqCst);
                sched::set_current_state(State::Sleeping);
                if !kthread::should_stop() {
                    sched::schedule();
                }
                sched::set_current_state(State::Running);
            }
            0
        })
        .unwrap();
        // First run on cpu1, then free to go anywhere.
        sched::set_allowed(t.thread(), 1 << 1);
        kthread::wake_up_process(&t);
        assert!(wait_for(1000, || at.load(Ordering::SeqCst) == 1
            && t.state() == State::Sleeping));
        sched::set_allowed(t.thread(), sched::ALL_CPUS);
        // cpu1 runs a spinner, cpu0 runs this thread: equally loaded.
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let spinner = kthread::create_on_cpu("spin1", 1, move || {
            while !s2.load(Ordering::Relaxed) {
                spin_for(std::time::Duration::from_micros(50));
            }
            0
        })
        .unwrap();
        kthread::wake_up_process(&spinner);
        assert!(wait_for(1000, || spinner.state() == State::Running));
        at.store(u64::MAX, Ordering::SeqCst);
        assert!(kthread::wake_up_process(&t));
        let end = std::time::Instant::now() + std::time::Duration::from_millis(500);
        while at.load(Ordering::SeqCst) == u64::MAX && std::time::Instant::now() < end {
            core::hint::spin_loop(); // (no preemption point: this CPU stays busy)
        }
        assert!(wait_for(1000, || at.load(Ordering::SeqCst) != u64::MAX));
        assert_eq!(
            at.load(Ordering::SeqCst),
            1,
            "a tie keeps it on its last CPU"
        );
        stop.store(true, Ordering::Relaxed);
        join(&spinner);
        kthread::stop(&t);
        0
    });
}

/// Round robin: a thread woken at the priority of the running one, while that one's time slice
/// runs, waits for the slice to end (it is queued behind the others) instead of preempting.
#[test]
fn an_equal_priority_wake_up_waits_for_the_running_slice() {
    run(2, || {
        let opts = Options {
            prio: Some(5),
            cpu: Some(1),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let spinners: Vec<KThread> = (0..2)
            .map(|i| {
                let s = stop.clone();
                let t = kthread::create_with(&alloc::format!("rr{i}"), opts, move || {
                    while !s.load(Ordering::Relaxed) {
                        spin_for(std::time::Duration::from_micros(50));
                    }
                    0
                })
                .unwrap();
                kthread::wake_up_process(&t);
                t
            })
            .collect();
        let runs = Arc::new(AtomicU64::new(0));
        let r2 = runs.clone();
        let waker = kthread::create_with("rr-woken", opts, move || {
            while !kthread::should_stop() {
                r2.fetch_add(1, Ordering::SeqCst);
                sched::set_current_state(State::Sleeping);
                if !kthread::should_stop() {
                    sched::schedule();
                }
                sched::set_current_state(State::Running);
            }
            0
        })
        .unwrap();
        kthread::wake_up_process(&waker);
        let t0 = std::time::Instant::now();
        let before = runs.load(Ordering::SeqCst);
        let switches = || sched::cpu_times(1).unwrap().switches;
        let s0 = switches();
        let wakes = 60;
        for _ in 0..wakes {
            kthread::wake_up_process(&waker);
            sched::sleep(Duration::from_millis(1));
        }
        let ran = runs.load(Ordering::SeqCst) - before;
        // Once per round of the three threads at most: about one slice in two.
        let slices = t0.elapsed().as_nanos() as u64 / crate::config::SLICE_NS;
        assert!(
            ran <= slices + 2,
            "{ran} runs in {slices} slices: the wake-ups preempted"
        );
        // The spinners switch at slice ends (and around the woken thread's runs), not at each
        // wake-up.
        let switched = switches() - s0;
        assert!(
            switched <= 2 * (slices + ran) + 4,
            "{switched} switches in {slices} slices: the wake-ups preempted"
        );
        stop.store(true, Ordering::Relaxed);
        for t in &spinners {
            join(t);
        }
        kthread::stop(&waker);
        0
    });
}

/// A thread preempted after marking itself asleep, before it blocked, stays queued: it resumes
/// after the preemption and can still see its condition and not block at all (the lost-wake-up
/// rule of every wait loop).
#[test]
fn a_thread_preempted_while_going_to_sleep_resumes() {
    run(2, || {
        let go = Arc::new(AtomicBool::new(false));
        let g2 = go.clone();
        let marked = Arc::new(AtomicBool::new(false));
        let m2 = marked.clone();
        let t = kthread::create_on_cpu("going-to-sleep", 1, move || {
            sched::set_current_state(State::Sleeping);
            m2.store(true, Ordering::SeqCst);
            // Not blocked yet: preemption points only, until the condition holds.
            while !g2.load(Ordering::SeqCst) {
                spin_for(std::time::Duration::from_micros(20));
            }
            sched::set_current_state(State::Running);
            7
        })
        .unwrap();
        kthread::wake_up_process(&t);
        assert!(wait_for(1000, || marked.load(Ordering::SeqCst)));
        // A more urgent thread on the same CPU preempts it and makes its condition true.
        let g3 = go.clone();
        let opts = Options {
            prio: Some(20),
            cpu: Some(1),
        };
        let urgent = kthread::create_with("urgent1", opts, move || {
            g3.store(true, Ordering::SeqCst);
            0
        })
        .unwrap();
        kthread::wake_up_process(&urgent);
        join(&urgent);
        assert_eq!(join(&t), 7, "resumed after the preemption");
        0
    });
}

/// A fault address is traced to the thread whose stack, or the guard below it, holds it (how a
/// stack overflow is reported by name); an address just past the top, or below the guard, is
/// nobody's.
#[test]
fn a_stack_address_names_its_thread() {
    run(2, || {
        let t = kthread::create("stack-owner", || 0).unwrap();
        let s = (*t.thread().stack.lock()).expect("a stack");
        let guard = 4096;
        let owner_of = |addr: usize| {
            let mut found = None;
            let named = kthread::with_owner_of_stack(addr, guard, |tid, name| {
                found = Some((tid, alloc::string::String::from(name)));
            });
            assert_eq!(named, found.is_some());
            found.map(|(tid, _)| tid)
        };
        let me = Some(t.tid());
        assert_eq!(owner_of(s.base), me, "lowest usable byte");
        assert_eq!(owner_of(s.top() - 1), me, "highest usable byte");
        assert_eq!(owner_of(s.base - guard), me, "in the guard: an overflow");
        assert_ne!(owner_of(s.top()), me, "one past the top");
        assert_ne!(owner_of(s.base - guard - 1), me, "below the guard");
        assert_eq!(kthread::stop(&t), Error::Interrupted.errno());
        0
    });
}

#[test]
fn is_current_names_only_the_calling_thread() {
    // Without the run-queue lock: the thread on this CPU, with this CPU as its own, is the
    // caller; one running on another CPU, one asleep and one never woken are not.
    run(2, || {
        let me = sched::current().expect("the test runs in a thread");
        assert!(sched::is_current(&me));
        let go = Arc::new(AtomicBool::new(true));
        let g2 = go.clone();
        let saw_itself = Arc::new(AtomicBool::new(false));
        let s2 = saw_itself.clone();
        let busy = kthread::run("is-current-busy", move || {
            let me = sched::current().expect("a thread");
            s2.store(sched::is_current(&me), Ordering::SeqCst);
            while g2.load(Ordering::SeqCst) {
                spin_for(Duration::from_micros(100));
            }
            0
        })
        .unwrap();
        assert!(wait_for(500, || busy.state() == State::Running));
        assert!(wait_for(500, || saw_itself.load(Ordering::SeqCst)));
        assert!(
            !sched::is_current(busy.thread()),
            "running on the other CPU"
        );
        let sleeper = kthread::run("is-current-sleeper", || {
            while !kthread::should_stop() {
                sched::sleep(Duration::from_millis(1));
            }
            0
        })
        .unwrap();
        let never = kthread::create("is-current-never", || 0).unwrap();
        assert!(!sched::is_current(sleeper.thread()));
        assert!(!sched::is_current(never.thread()));
        assert!(sched::is_current(&me), "still itself");
        go.store(false, Ordering::SeqCst);
        kthread::stop(&busy);
        kthread::stop(&sleeper);
        kthread::stop(&never);
        0
    });
}
