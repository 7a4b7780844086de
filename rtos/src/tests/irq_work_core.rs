//! The lock-free core of irq_work ([`Core`]) on its own, one thread: the flag word's transitions
//! (claim, the run pass, retire and release with the slot's generation) and the per-CPU lists
//! (push, the run passes, the raised flag, what a CPU has pending). The races between CPUs are
//! the loom models' (`work/irq_work/loom.rs`, `just loom`).

use crate::work::irq_work::{BUSY, CLAIMED, Core, FLAG_MASK, LAZY, PENDING};
use alloc::vec::Vec;
use core::cell::RefCell;

type Small = Core<8, 2>;

/// A claim sets PENDING and BUSY; a second one fails while the work is pending; one through a
/// handle of another generation fails and changes nothing. During the run pass the work is
/// BUSY but not PENDING, so it can be claimed again (a callback re-queueing itself), and then
/// it keeps both flags after its callback returns.
#[test]
fn claim_sets_both_flags_and_a_running_work_can_be_claimed_again() {
    let c = Small::new();
    assert!(c.claim(3, 0));
    assert_eq!(c.flags(3) & FLAG_MASK, CLAIMED);
    assert!(!c.claim(3, 0), "already pending");
    assert!(!c.claim(4, 1), "another generation");
    assert_eq!(c.flags(4), 0);
    c.push(0, 3, false);
    let seen = RefCell::new(Vec::new());
    let ran = c.run(0, false, |i| {
        seen.borrow_mut().push((i, c.flags(i) & FLAG_MASK));
        assert!(c.claim(i, 0), "busy, not pending: claimable");
        assert_eq!(
            c.flags(i) & FLAG_MASK,
            CLAIMED,
            "claimed again while running"
        );
    });
    assert_eq!(ran, 1);
    assert_eq!(*seen.borrow(), [(3, BUSY)]);
    assert_eq!(
        c.flags(3) & FLAG_MASK,
        CLAIMED,
        "re-claimed during its run: still claimed after it"
    );
    // Not re-claimed: idle after its run.
    c.push(1, 3, false);
    assert_eq!(c.run(1, false, |_| {}), 1);
    assert_eq!(c.flags(3) & FLAG_MASK, 0);
}

/// Retire claims an idle slot for good (no claim gets it any more), refuses a busy one or one
/// of another generation; release frees it with the next generation, exactly one more.
#[test]
fn retire_and_release_move_the_generation_on_by_one() {
    let c = Small::new();
    c.set_lazy(2, true);
    assert!(c.retire(2, 0));
    assert!(!c.claim(2, 0), "retired: no claim");
    assert_eq!(c.flags(2) & FLAG_MASK, CLAIMED | LAZY);
    c.release(2);
    assert_eq!(c.generation(2), 1);
    assert_eq!(c.flags(2) & FLAG_MASK, 0, "no flags left");
    assert!(!c.retire(2, 0), "the old generation");
    assert!(c.retire(2, 1));
    c.release(2);
    assert_eq!(c.generation(2), 2);
    assert!(c.claim(2, 2));
    assert!(!c.retire(2, 2), "pending");
}

/// The run pass of the (not lazy) list holds the CPU's raised flag while callbacks run, so that
/// one queueing on this CPU raises nothing; the lazy pass does not touch it. Each pass takes the
/// whole list and says how many ran; `run_both` (a CPU's last pass before it goes offline) runs
/// both lists and counts them all.
#[test]
fn run_passes_and_the_raised_flag() {
    let c = Small::new();
    for i in [1, 2] {
        assert!(c.claim(i, 0));
    }
    assert!(c.push(0, 1, false), "the list was empty");
    assert!(!c.push(0, 2, false), "not empty any more");
    let raised_in_pass = RefCell::new(Vec::new());
    assert_eq!(
        c.run(0, false, |_| raised_in_pass.borrow_mut().push(c.raise(0))),
        2
    );
    assert_eq!(
        *raised_in_pass.borrow(),
        [false, false],
        "raised during the pass"
    );
    assert!(!c.end_pass(0), "nothing queued meanwhile");
    assert!(c.raise(0), "clear after the pass");
    assert!(!c.end_pass(0));
    // The lazy pass leaves the raised flag alone.
    assert!(c.claim(3, 0));
    c.push(0, 3, true);
    let raised_in_lazy = RefCell::new(Vec::new());
    assert_eq!(
        c.run(0, true, |_| raised_in_lazy.borrow_mut().push(c.raise(0))),
        1
    );
    assert_eq!(*raised_in_lazy.borrow(), [true]);
    assert!(!c.end_pass(0));
    // Both lists at once: 2 + 1.
    for (i, lazy) in [(4, false), (5, false), (6, true)] {
        assert!(c.claim(i, 0));
        c.push(1, i, lazy);
    }
    assert_eq!(c.run_both(1, |_| {}), 3);
    assert!(!c.has_pending(1));
}

/// What a CPU has queued: the head of its list (the last queued), and whether either list holds
/// anything. A reset empties everything.
#[test]
fn first_queued_has_pending_and_reset() {
    let c = Small::new();
    assert_eq!(c.first_queued(0), None);
    assert!(!c.has_pending(0));
    assert!(c.claim(2, 0));
    c.push(0, 2, false);
    assert_eq!(c.first_queued(0), Some(2));
    assert!(c.claim(5, 0));
    c.push(0, 5, false);
    assert_eq!(c.first_queued(0), Some(5), "the last queued");
    assert!(c.has_pending(0));
    assert!(!c.has_pending(1));
    assert!(c.claim(6, 0));
    c.push(1, 6, true);
    assert!(c.has_pending(1), "the lazy list counts");
    assert_eq!(c.first_queued(1), None, "not the lazy list");
    c.reset();
    for cpu in 0..2 {
        assert!(!c.has_pending(cpu));
        assert_eq!(c.first_queued(cpu), None);
        assert!(c.raise(cpu));
    }
    assert_eq!(c.flags(2) & FLAG_MASK, 0);
    assert_eq!(c.flags(2) & PENDING, 0);
}
