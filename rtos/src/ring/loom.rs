//! The UART receive ring under loom: an interrupt handler (producer) racing the shell (consumer).

use super::*;
use ::loom::sync::Arc;
use alloc::vec::Vec;

/// An interrupt handler (producer) racing the shell (consumer) through a ring smaller than
/// the data: every byte arrives once, in order, and a refused push stores nothing. Both sides
/// are spawned threads (with the consumer on the model's main thread, loom explored one
/// schedule only, and weakening the ring's orderings went unnoticed); `explored` counts the
/// schedules, and the test asserts there were many. Weakening `head`'s release to relaxed
/// fails it (the consumer reads a slot before its byte). `tail`'s release (the producer must not
/// reuse a slot the consumer has not read yet) guards against load buffering, which C11 and
/// Armv8 allow but loom does not model: that ordering is argued, not checked.
#[test]
fn loom_spsc_in_order_no_loss() {
    static EXPLORED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    ::loom::model(|| {
        EXPLORED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ring = Arc::new(ByteRing::<2>::new());
        let p = ring.clone();
        let producer = ::loom::thread::spawn(move || {
            let mut sent = 0u8;
            for b in 1..=3u8 {
                if p.push(b) {
                    sent = b;
                } else {
                    break;
                }
            }
            sent
        });
        let c = ring.clone();
        let consumer = ::loom::thread::spawn(move || {
            let mut got = Vec::new();
            for _ in 0..3 {
                if let Some(b) = c.pop() {
                    got.push(b);
                }
            }
            got
        });
        let sent = producer.join().unwrap();
        let mut got = consumer.join().unwrap();
        while let Some(b) = ring.pop() {
            got.push(b);
        }
        let expected: Vec<u8> = (1..=sent).collect();
        assert_eq!(got, expected);
    });
    let explored = EXPLORED.load(std::sync::atomic::Ordering::Relaxed);
    assert!(explored > 50, "loom explored {explored} schedules");
}
