//! The irq_work claim and per-CPU lists under loom: [`Core`]'s own functions, with loom threads
//! as the queueing CPUs and the target CPU's interrupt.
use super::lockfree::{CLAIMED, Core};
use crate::sync::atomic::Ordering;
use ::loom::sync::Arc;

/// Two CPUs queue the same work while the target CPU's interrupt runs the list: the work is
/// claimed at most once per run, its callback never runs twice for one claim, and once
/// everything settles it is neither PENDING nor BUSY.
#[test]
fn loom_claim_vs_run() {
    ::loom::model(|| {
        let core = Arc::new(Core::<1, 1>::new());
        let runs = Arc::new(::loom::sync::atomic::AtomicUsize::new(0));
        let queuers: alloc::vec::Vec<_> = (0..2)
            .map(|_| {
                let c = core.clone();
                ::loom::thread::spawn(move || {
                    if c.claim(0, 0) {
                        c.push(0, 0, false);
                        1
                    } else {
                        0
                    }
                })
            })
            .collect();
        // The interrupt: run whatever is queued now.
        let r = runs.clone();
        let c = core.clone();
        let irq = ::loom::thread::spawn(move || {
            c.run(0, false, |_| {
                r.fetch_add(1, Ordering::Relaxed);
            })
        });
        let claims: usize = queuers.into_iter().map(|t| t.join().unwrap()).sum();
        let ran_in_irq = irq.join().unwrap();
        // Drain what is left, as the next interrupt would.
        let ran_after = core.run(0, false, |_| {
            runs.fetch_add(1, Ordering::Relaxed);
        });
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
