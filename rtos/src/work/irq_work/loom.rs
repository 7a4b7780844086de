//! The irq_work claim and per-CPU lists under loom: [`Core`]'s own functions, with loom threads
//! as the queueing CPUs and the target CPU's interrupt.
use super::lockfree::{BUSY, CLAIMED, Core, PENDING};
use crate::sync::atomic::Ordering;
use ::loom::sync::Arc;

/// Two CPUs queue the same work while the target CPU's interrupt runs the list: the work is
/// claimed at most once per run, its callback never runs twice for one claim, a queueing that
/// fails (the work was pending) is followed by a run that starts after it (nothing is lost when
/// the claim races the end of a run), and once everything settles it is neither PENDING nor BUSY.
#[test]
fn loom_claim_vs_run() {
    ::loom::model(|| {
        let core = Arc::new(Core::<1, 1>::new());
        // Runs started, counted outside loom's view: loom runs one thread at a time, so this
        // reads in execution order without adding states to explore.
        let runs = alloc::sync::Arc::new(core::sync::atomic::AtomicUsize::new(0));
        let queuers: alloc::vec::Vec<_> = (0..2)
            .map(|_| {
                let (c, r) = (core.clone(), runs.clone());
                ::loom::thread::spawn(move || {
                    // Runs started before this queueing: a failed claim means a run is still to
                    // start.
                    let before = r.load(Ordering::SeqCst);
                    if c.claim(0, 0) {
                        c.push(0, 0, false);
                        (1, None)
                    } else {
                        (0, Some(before))
                    }
                })
            })
            .collect();
        // The interrupt: run whatever is queued now.
        let r = runs.clone();
        let c = core.clone();
        let irq = ::loom::thread::spawn(move || {
            c.run(0, false, |_| {
                r.fetch_add(1, Ordering::SeqCst);
            })
        });
        let outcomes: alloc::vec::Vec<(usize, Option<usize>)> =
            queuers.into_iter().map(|t| t.join().unwrap()).collect();
        let claims: usize = outcomes.iter().map(|o| o.0).sum();
        let ran_in_irq = irq.join().unwrap();
        // Drain what is left, as the next interrupt would.
        let ran_after = core.run(0, false, |_| {
            runs.fetch_add(1, Ordering::SeqCst);
        });
        for before in outcomes.iter().filter_map(|o| o.1) {
            assert!(
                runs.load(Ordering::SeqCst) > before,
                "a queueing found the work pending, but no run started after it"
            );
        }
        assert_eq!(
            ran_in_irq + ran_after,
            claims,
            "every successful claim runs exactly once"
        );
        assert!(claims >= 1 && claims <= 2);
        assert_eq!(core.flags(0) & CLAIMED, 0, "idle at the end");
    });
}

/// Pushes from two CPUs race a take-all: no work is lost or seen twice.
#[test]
fn loom_list_push_vs_take_all() {
    ::loom::model(|| {
        let core = Arc::new(Core::<3, 1>::new());
        let pushers: alloc::vec::Vec<_> = (0..2)
            .map(|i| {
                let c = core.clone();
                ::loom::thread::spawn(move || {
                    assert!(c.claim(i, 0));
                    c.push(0, i, false);
                })
            })
            .collect();
        let mut seen = [0u8; 3];
        core.run(0, false, |i| seen[i] += 1);
        for t in pushers {
            t.join().unwrap();
        }
        core.run(0, false, |i| seen[i] += 1);
        assert_eq!(seen, [1, 1, 0]);
    });
}

/// A free (retire, then release) races a queue through the same handle: never both; once freed
/// the slot is of the next generation and idle, and the old handle can no longer claim it.
#[test]
fn loom_free_vs_claim() {
    ::loom::model(|| {
        let core = Arc::new(Core::<1, 1>::new());
        let c = core.clone();
        let queuer = ::loom::thread::spawn(move || {
            let claimed = c.claim(0, 0);
            if claimed {
                c.push(0, 0, false);
            }
            claimed
        });
        let freed = core.retire(0, 0);
        if freed {
            core.release(0);
        }
        let claimed = queuer.join().unwrap();
        assert!(!(claimed && freed), "a work was freed while queued");
        assert!(claimed || freed, "an idle work can be claimed or freed");
        if freed {
            assert_eq!(
                core.flags(0),
                1 << super::lockfree::GEN_SHIFT,
                "idle, next generation"
            );
            assert!(!core.claim(0, 0), "the old handle claimed the freed slot");
        } else {
            assert_eq!(core.run(0, false, |_| {}), 1);
            assert_eq!(core.flags(0) & CLAIMED, 0);
        }
    });
}

/// CPU hotplug: a CPU queues works on CPU 1 while CPU 1 goes offline. The queuer's
/// interrupt-masked window (check online, claim, push) is a mutex here, and the grace period
/// (every CPU took an interrupt, which it only does outside such windows) is taking and releasing
/// it. Every work queued runs exactly once: in CPU 1's last run, or among the leftovers run after
/// the grace period; a queuer that finds CPU 1 offline queues nothing.
#[test]
fn loom_queue_vs_cpu_dying() {
    use ::loom::sync::atomic::{AtomicBool, AtomicUsize};
    ::loom::model(|| {
        let core = Arc::new(Core::<2, 2>::new());
        let online = Arc::new(AtomicBool::new(true));
        let window = Arc::new(::loom::sync::Mutex::new(()));
        let runs = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let queuer = {
            let (c, on, w) = (core.clone(), online.clone(), window.clone());
            ::loom::thread::spawn(move || {
                let mut queued = [false; 2];
                for (slot, q) in queued.iter_mut().enumerate() {
                    let _masked = w.lock().unwrap();
                    if on.load(Ordering::Relaxed) {
                        assert!(c.claim(slot, 0));
                        c.push(1, slot, false);
                        *q = true;
                    }
                }
                queued
            })
        };
        // The controller marks CPU 1 offline; CPU 1 runs its lists one last time.
        online.store(false, Ordering::Relaxed);
        let dying = {
            let (c, r) = (core.clone(), runs.clone());
            ::loom::thread::spawn(move || {
                c.run_both(1, |i| {
                    r[i].fetch_add(1, Ordering::Relaxed);
                });
            })
        };
        dying.join().unwrap();
        // The grace period, then the leftovers.
        drop(window.lock().unwrap());
        core.run_both(1, |i| {
            runs[i].fetch_add(1, Ordering::Relaxed);
        });
        let queued = queuer.join().unwrap();
        for (i, q) in queued.iter().enumerate() {
            assert_eq!(
                runs[i].load(Ordering::Relaxed),
                usize::from(*q),
                "work {i}: queued {q}, runs exactly once if queued"
            );
        }
        assert!(!core.has_pending(1), "nothing left on the offline CPU");
    });
}

/// A callback that queues its own work again while it runs (Linux allows it: BUSY without
/// PENDING is claimable), racing another CPU queueing the same work: each successful claim runs
/// exactly once more, the run that was going on does not clear the new claim's BUSY, and once
/// everything is drained the work is idle.
#[test]
fn loom_requeue_while_running_vs_remote_queue() {
    ::loom::model(|| {
        let core = Arc::new(Core::<1, 1>::new());
        assert!(core.claim(0, 0));
        core.push(0, 0, false);
        let runs = Arc::new(::loom::sync::atomic::AtomicUsize::new(0));
        let requeued = Arc::new(::loom::sync::atomic::AtomicUsize::new(0));
        let (c, r, q) = (core.clone(), runs.clone(), requeued.clone());
        let irq = ::loom::thread::spawn(move || {
            c.run(0, false, |_| {
                // Only the first run re-queues (a bounded storm).
                if r.fetch_add(1, Ordering::Relaxed) == 0 && c.claim(0, 0) {
                    c.push(0, 0, false);
                    q.fetch_add(1, Ordering::Relaxed);
                }
            })
        });
        let c = core.clone();
        let remote = ::loom::thread::spawn(move || {
            if c.claim(0, 0) {
                c.push(0, 0, false);
                1
            } else {
                0
            }
        });
        irq.join().unwrap();
        let remote_claims: usize = remote.join().unwrap();
        // A work queued again is BUSY until that run ends (what irq_work_sync waits on): the
        // run that was going on did not clear the new claim's BUSY.
        let f = core.flags(0);
        assert!(
            f & PENDING == 0 || f & BUSY != 0,
            "queued but not BUSY: {f:#x}"
        );
        // Later interrupts drain what is left (at most the two re-claims).
        for _ in 0..3 {
            core.run(0, false, |_| {
                runs.fetch_add(1, Ordering::Relaxed);
            });
        }
        let claims = 1 + remote_claims + requeued.load(Ordering::Relaxed);
        assert_eq!(
            runs.load(Ordering::Relaxed),
            claims,
            "every successful claim runs exactly once"
        );
        assert_eq!(core.flags(0) & CLAIMED, 0, "idle at the end");
    });
}
