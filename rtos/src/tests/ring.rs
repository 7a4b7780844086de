//! The lock-free SPSC byte ring: order, full and empty, wrap-around, two real threads.

use crate::ring::ByteRing;
use alloc::vec::Vec;

#[test]
fn fifo_order_and_full_empty() {
    let r = ByteRing::<4>::new();
    assert!(r.is_empty());
    assert_eq!(r.pop(), None);
    for b in 1..=4 {
        assert!(r.push(b));
    }
    assert!(!r.push(5), "a full ring refuses the byte");
    assert_eq!(r.len(), 4);
    assert_eq!(r.pop(), Some(1));
    assert!(r.push(5));
    assert_eq!(
        (2..=5).map(|_| r.pop().unwrap()).collect::<Vec<_>>(),
        [2, 3, 4, 5]
    );
    assert_eq!(r.pop(), None);
}

#[test]
fn wraps_many_times() {
    let r = ByteRing::<8>::new();
    for i in 0..10_000u32 {
        assert!(r.push(i as u8));
        assert_eq!(r.pop(), Some(i as u8));
    }
}

#[test]
fn spsc_threads_lose_nothing() {
    let r = std::sync::Arc::new(ByteRing::<64>::new());
    let p = r.clone();
    const COUNT: usize = 200_000;
    let producer = std::thread::spawn(move || {
        for i in 0..COUNT {
            while !p.push((i % 251) as u8) {
                std::hint::spin_loop();
            }
        }
    });
    let mut got = 0;
    while got < COUNT {
        if let Some(b) = r.pop() {
            assert_eq!(b as usize, got % 251, "byte {got} out of order");
            got += 1;
        }
    }
    producer.join().unwrap();
    assert!(r.is_empty());
}
