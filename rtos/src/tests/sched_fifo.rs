//! The scheduler's per-priority ready queues against `VecDeque`.

use crate::sched::fifo::Fifo;
use crate::tests::util::Rng;
use alloc::collections::VecDeque;

/// Random pushes, pops and removals against `VecDeque`, across growth and wrap-around.
#[test]
fn behaves_like_a_vecdeque() {
    let mut f = Fifo::new();
    let mut m = VecDeque::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut next = 0u32;
    for _ in 0..20_000 {
        let x = rng.next();
        match x % 7 {
            0..=2 => {
                f.push_back(next);
                m.push_back(next);
                next += 1;
            }
            3 | 4 => assert_eq!(f.pop_front(), m.pop_front()),
            5 => {
                // Remove some present value (or an absent one when empty).
                let want = m
                    .get((x >> 8) as usize % m.len().max(1))
                    .copied()
                    .unwrap_or(u32::MAX);
                let got = f.remove_first(|&v| v == want);
                let pos = m.iter().position(|&v| v == want);
                assert_eq!(got, pos.and_then(|p| m.remove(p)));
            }
            _ => assert_eq!(f.remove_first(|_| false), None),
        }
        assert_eq!(f.len(), m.len());
        assert_eq!(f.is_empty(), m.is_empty());
    }
    while let Some(v) = m.pop_front() {
        assert_eq!(f.pop_front(), Some(v));
    }
    assert_eq!(f.pop_front(), None);
}

#[test]
fn grows_in_powers_of_two_and_keeps_order_across_the_wrap() {
    let mut f = Fifo::new();
    for i in 0..3 {
        f.push_back(i);
    }
    assert_eq!(f.pop_front(), Some(0));
    assert_eq!(f.pop_front(), Some(1));
    // head is now 2 in a ring of 4: these wrap, then force a grow with entries split.
    for i in 3..9 {
        f.push_back(i);
    }
    assert_eq!(f.capacity(), 8);
    assert_eq!(f.remove_first(|&v| v == 5), Some(5));
    let rest: alloc::vec::Vec<_> = core::iter::from_fn(|| f.pop_front()).collect();
    assert_eq!(rest, [2, 3, 4, 6, 7, 8]);
}
