//! Tests of the pure deadline structure: a randomized model check against a `BTreeMap`, a bound
//! on the work per operation independent of N, far-future and past deadlines, and a host
//! micro-benchmark (ignored by default).

use crate::tests::util::Rng;
use crate::timer::queue::{Handle, LEVELS, TimerQueue};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

fn sorted<T: Copy>(q: &TimerQueue<T>) -> Vec<(u64, T)> {
    let mut v = Vec::new();
    q.for_each(|d, t| v.push((d, *t)));
    v
}

/// Random arm / cancel / stale-cancel / advance-time steps, checked after every step against a
/// `BTreeMap` keyed by `(deadline, arm order)`: same fired set in the same order, same earliest
/// deadline, same length; stale handles are rejected.
#[test]
fn model_check_against_btreemap() {
    for seed in 1..=6u64 {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ seed.wrapping_mul(0x1234_5678_9abc_def1));
        let mut q: TimerQueue<u64> = TimerQueue::new();
        let mut model: BTreeMap<(u64, u64), Handle> = BTreeMap::new();
        let mut live: Vec<(u64, u64, Handle)> = Vec::new(); // (deadline, value, handle)
        let mut stale: Vec<Handle> = Vec::new();
        let mut now: u64 = rng.next() >> 4;
        let mut order = 0u64;
        for step in 0..6000 {
            match rng.below(100) {
                // Arm: near, exact ties, past, far, extreme.
                0..=44 => {
                    let deadline = match rng.below(10) {
                        0..=3 => now.saturating_add(rng.below(1 << 20)),
                        4 | 5 => now.saturating_add(rng.below(8) * 1000), // many ties
                        6 => now.saturating_sub(rng.below(1 << 30)),      // already past
                        7 => now.saturating_add(rng.next() >> rng.below(64)),
                        8 => u64::MAX - rng.below(3),
                        _ => rng.below(3),
                    };
                    let h = q.arm(deadline, order);
                    model.insert((deadline, order), h);
                    live.push((deadline, order, h));
                    order += 1;
                }
                // Cancel a live timer.
                45..=74 => {
                    if !live.is_empty() {
                        let i = rng.below(live.len() as u64) as usize;
                        let (d, v, h) = live.swap_remove(i);
                        assert_eq!(q.cancel(h), Some(v), "step {step}");
                        assert!(model.remove(&(d, v)).is_some());
                        stale.push(h);
                    }
                }
                // Cancel a stale handle (already cancelled or fired, slot maybe reused).
                75..=84 => {
                    if !stale.is_empty() {
                        let h = stale[rng.below(stale.len() as u64) as usize];
                        assert_eq!(q.cancel(h), None, "stale handle accepted at step {step}");
                    }
                }
                // Advance time and expire everything due.
                _ => {
                    now = match rng.below(8) {
                        0 => u64::MAX,
                        1 => now.saturating_add(rng.next() >> 8),
                        _ => now.saturating_add(rng.below(1 << 19)),
                    };
                    let mut fired = Vec::new();
                    while let Some((d, v)) = q.pop_due(now) {
                        assert!(d <= now);
                        fired.push((d, v));
                    }
                    let mut expected = Vec::new();
                    while let Some((&(d, v), _)) = model.first_key_value() {
                        if d > now {
                            break;
                        }
                        let h = model.remove(&(d, v)).unwrap();
                        stale.push(h);
                        expected.push((d, v));
                    }
                    assert_eq!(fired, expected, "step {step}");
                    live.retain(|&(d, _, _)| d > now);
                    if now == u64::MAX {
                        now = rng.next() >> 4; // start over at a random time
                    }
                }
            }
            assert_eq!(
                q.earliest(),
                model.keys().next().map(|k| k.0),
                "earliest at step {step}"
            );
            assert_eq!(q.len(), model.len());
            assert_eq!(q.is_empty(), model.is_empty());
            if step % 97 == 0 {
                let want: Vec<(u64, u64)> = model.keys().copied().collect();
                assert_eq!(sorted(&q), want, "listing at step {step}");
            }
        }
        // Drain: everything fires in (deadline, arm order).
        let mut all = Vec::new();
        while let Some(x) = q.pop_due(u64::MAX) {
            all.push(x);
        }
        let want: Vec<(u64, u64)> = model.keys().copied().collect();
        assert_eq!(all, want);
        assert_eq!(q.earliest(), None);
        // Only the root is left allocated: every other node went back to the free list.
        assert_eq!(q.root_bits(), 0);
    }
}

/// Arms `n` timers spread over ~1 s of a 62.5 MHz counter, then measures the trie node visits
/// of 2000 arm+cancel pairs: both random deadlines in the same range and deadlines earlier than
/// everything (so each cancel must find the new earliest). Returns (max, mean) visits per pair.
fn visits_per_arm_cancel(n: usize) -> (u64, f64) {
    let mut rng = Rng(42);
    let base = 1u64 << 40;
    let span = 62_500_000;
    let mut q: TimerQueue<u32> = TimerQueue::new();
    for _ in 0..n {
        q.arm(base + 1_000_000 + rng.below(span), 0);
    }
    let mut max = 0;
    let mut total = 0;
    let pairs = 2000;
    for i in 0..pairs {
        let d = if i % 2 == 0 {
            base + 1_000_000 + rng.below(span)
        } else {
            base + rng.below(1_000_000)
        };
        let before = q.visits;
        let h = q.arm(d, 1);
        assert_eq!(q.cancel(h), Some(1));
        let v = q.visits - before;
        assert!(v >= 2, "an arm and a cancel each visit a node at least");
        max = max.max(v);
        total += v;
    }
    assert_eq!(q.len(), n);
    (max, total as f64 / f64::from(pairs))
}

/// The work of arm+cancel does not grow with N: at most a fixed number of trie node visits (a
/// walk down to arm, a walk up to prune, a walk down to find the new earliest), and the mean at
/// N = 4096 no more than at N = 16. A `BTreeMap` (log N) or a scan (N) could not meet the
/// bound at N = 4096.
#[test]
fn work_per_arm_cancel_is_bounded_independent_of_n() {
    let bound = 3 * LEVELS as u64 + 1;
    let (max16, mean16) = visits_per_arm_cancel(16);
    let (max256, mean256) = visits_per_arm_cancel(256);
    let (max4k, mean4k) = visits_per_arm_cancel(4096);
    std::println!(
        "visits per arm+cancel: N=16 max {max16} mean {mean16:.1}; N=256 max {max256} mean {mean256:.1}; N=4096 max {max4k} mean {mean4k:.1}"
    );
    for m in [max16, max256, max4k] {
        assert!(m <= bound, "{m} visits > {bound}");
    }
    assert!(mean4k <= mean16 * 1.2, "{mean4k} vs {mean16}");
    assert!(mean256 <= mean16 * 1.2, "{mean256} vs {mean16}");
}

/// Expiring N timers costs O(1) visits each.
#[test]
fn expiry_work_is_bounded_per_timer() {
    for n in [16u64, 4096] {
        let mut rng = Rng(7);
        let mut q: TimerQueue<u64> = TimerQueue::new();
        for i in 0..n {
            q.arm(1_000_000 + rng.below(62_500_000), i);
        }
        let before = q.visits;
        let mut count = 0;
        while q.pop_due(u64::MAX).is_some() {
            count += 1;
        }
        assert_eq!(count, n);
        let per = (q.visits - before) / n;
        assert!(per <= 2 * LEVELS as u64 + 1, "{per} visits per expiry");
    }
}

#[test]
fn far_future_and_past_deadlines() {
    let mut q: TimerQueue<&str> = TimerQueue::new();
    let now = 1_000_000u64;
    let max = q.arm(u64::MAX, "max");
    q.arm(u64::MAX - 1, "max-1");
    q.arm(u64::MAX, "max again");
    assert_eq!(q.earliest(), Some(u64::MAX - 1));
    assert_eq!(q.pop_due(now), None, "nothing due yet");
    q.arm(now - 5, "past");
    q.arm(0, "zero");
    assert_eq!(q.earliest(), Some(0));
    assert_eq!(q.pop_due(now), Some((0, "zero")));
    assert_eq!(q.pop_due(now), Some((now - 5, "past")));
    assert_eq!(q.pop_due(now), None);
    assert_eq!(q.earliest(), Some(u64::MAX - 1));
    assert_eq!(q.cancel(max), Some("max"));
    assert_eq!(q.cancel(max), None, "cancelled twice");
    assert_eq!(q.pop_due(u64::MAX - 1), Some((u64::MAX - 1, "max-1")));
    assert_eq!(q.earliest(), Some(u64::MAX));
    assert_eq!(q.pop_due(u64::MAX), Some((u64::MAX, "max again")));
    assert!(q.is_empty());
    assert_eq!(q.earliest(), None);
}

#[test]
fn stale_handle_never_cancels_a_reused_slot() {
    let mut q: TimerQueue<u32> = TimerQueue::new();
    let a = q.arm(100, 1);
    assert_eq!(q.pop_due(100), Some((100, 1)));
    let b = q.arm(100, 2); // reuses a's entry slot
    assert_eq!(q.cancel(a), None);
    assert_eq!(q.len(), 1);
    assert_eq!(q.cancel(b), Some(2));
    q.clear();
    let c = q.arm(5, 3);
    assert_eq!(q.cancel(b), None, "handle from before clear");
    assert_eq!(q.cancel(c), Some(3));
}

/// Best of 7 rounds of `ops` calls of `f(i)`, in ns per call (the host is shared and noisy).
fn best_ns(ops: u64, mut f: impl FnMut(u64)) -> f64 {
    (0..7)
        .map(|_| {
            let t = std::time::Instant::now();
            for i in 0..ops {
                f(i);
            }
            t.elapsed().as_nanos() as f64 / ops as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// Host micro-benchmark: ns per arm+cancel with N pending, this trie vs the old `BTreeMap`
/// (which also looked up its first key after each change, to program the hardware).
/// `cargo test -p rtos --release --lib -- --ignored --nocapture bench_arm_cancel`
#[test]
#[ignore = "benchmark"]
fn bench_arm_cancel() {
    use std::hint::black_box;
    const OPS: u64 = 300_000;
    let span = 62_500_000u64;
    let far = 3600 * 62_500_000u64;
    for pattern in ["random", "kernel-bench"] {
        for n in [16u64, 256, 4096] {
            let mut rng = Rng(3);
            // "random": pending and measured deadlines random over 1 s (plus an earliest one);
            // "kernel-bench" (rtos/src/bench): N timers 2 ticks apart far in the future, the
            // measured one in their middle.
            let (pend, meas): (Vec<u64>, Vec<u64>) = if pattern == "random" {
                let p = (0..n).map(|_| 1_000_000 + rng.below(span)).collect();
                let mut m: Vec<u64> = (0..1023).map(|_| 1_000_000 + rng.below(span)).collect();
                m.push(500);
                (p, m)
            } else {
                (
                    (0..n).map(|i| far + 2 * i).collect(),
                    [far + n + 1].repeat(1024),
                )
            };
            let mut q: TimerQueue<u64> = TimerQueue::new();
            for (i, &d) in pend.iter().enumerate() {
                q.arm(d, i as u64);
            }
            let trie = best_ns(OPS, |i| {
                let h = q.arm(meas[(i % 1024) as usize], i);
                black_box(q.cancel(h));
            });
            let mut m: BTreeMap<(u64, u64), u64> = BTreeMap::new();
            for (i, &d) in pend.iter().enumerate() {
                m.insert((d, i as u64), i as u64);
            }
            let mut seq = n;
            let btree = best_ns(OPS, |i| {
                let key = (meas[(i % 1024) as usize], seq);
                seq += 1;
                m.insert(key, i);
                black_box(m.first_key_value());
                black_box(m.remove(&key));
                black_box(m.first_key_value());
            });
            std::println!(
                "{pattern:12} N={n:5}: trie {trie:6.1} ns/arm+cancel, BTreeMap {btree:6.1} ns"
            );
        }
    }
}

/// Arming a deadline equal to (or sharing all but the last digit with) the one armed before
/// starts from the leaf the last arm reached: one node visited, not a walk from the root.
#[test]
fn an_equal_or_nearby_deadline_arms_from_the_last_leaf() {
    let mut q: TimerQueue<u32> = TimerQueue::new();
    let d = (1u64 << 40) + 12_345_678;
    q.arm(d, 0);
    for (i, next) in [d, d, d + 1, d - 1].into_iter().enumerate() {
        let before = q.visits;
        q.arm(next, i as u32 + 1);
        assert_eq!(q.visits - before, 1, "arm {i}: from the last leaf");
    }
    // A deadline far away walks from high up, but never more than the trie's depth.
    let before = q.visits;
    q.arm(d << 8, 9);
    assert!(q.visits - before > 1 && q.visits - before <= LEVELS as u64 + 1);
    assert_eq!(q.len(), 6);
}

/// Cancelling the only timer frees its whole path below the root, one visit per level, and the
/// next arm, however far away, takes its nodes from the free list: the slab does not grow.
#[test]
fn cancelling_the_only_timer_frees_its_path_for_the_next_arm() {
    let mut q: TimerQueue<u32> = TimerQueue::new();
    let h = q.arm(1 << 40, 0);
    let slots = q.node_slots();
    assert_eq!(slots, LEVELS, "the root and one node per level below it");
    let before = q.visits;
    assert_eq!(q.cancel(h), Some(0));
    assert_eq!(
        q.visits - before,
        LEVELS as u64,
        "the leaf's bit, then each of the 10 nodes below the root"
    );
    assert_eq!(q.earliest(), None);
    // Different in every digit below the root's.
    let h = q.arm((1 << 60) - 1, 1);
    assert_eq!(q.node_slots(), slots, "the freed nodes are reused");
    assert_eq!(q.cancel(h), Some(1));
}

/// Freeing another deadline's path keeps the finger: after a far timer is cancelled, a deadline
/// next to the last armed one still arms from its leaf.
#[test]
fn a_cancel_elsewhere_keeps_the_finger() {
    let mut q: TimerQueue<u32> = TimerQueue::new();
    let far = q.arm(1 << 50, 0);
    let d = (1u64 << 40) + 12_345_678;
    q.arm(d, 1);
    assert_eq!(q.cancel(far), Some(0));
    let before = q.visits;
    q.arm(d + 1, 2);
    assert_eq!(q.visits - before, 1, "from the last leaf");
    assert_eq!(q.len(), 2);
}
