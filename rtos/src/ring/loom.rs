//! The UART receive ring under loom: an interrupt handler (producer) racing the shell (consumer).

use super::*;
use ::loom::sync::Arc;
use alloc::vec::Vec;

/// An interrupt handler (producer) racing the shell (consumer) through a ring smaller than
/// the data: every byte arrives once, in order, and a refused push stores nothing.
#[test]
fn loom_spsc_in_order_no_loss() {
    ::loom::model(|| {
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
        let mut got = Vec::new();
        for _ in 0..3 {
            if let Some(b) = ring.pop() {
                got.push(b);
            }
        }
        let sent = producer.join().unwrap();
        while let Some(b) = ring.pop() {
            got.push(b);
        }
        let expected: Vec<u8> = (1..=sent).collect();
        assert_eq!(got, expected);
    });
}
