//! The trace ring under loom: its CPU writes (one write at a time: the kernel records with
//! interrupts masked) while another CPU reads it.
use super::ring::Ring;
use ::loom::sync::Arc;

/// On a ring of one slot, the writer records two events, the second reusing the first one's
/// slot, while a reader reads: every event it returns is one that was written whole (never words
/// of two events), and read and lost events add up to what was recorded.
#[test]
fn loom_writer_vs_reader() {
    ::loom::model(|| {
        let ring = Arc::new(Ring::new(1));
        let writer = {
            let r = ring.clone();
            ::loom::thread::spawn(move || {
                for v in [10u64, 20] {
                    r.record([v, v, v, v]);
                }
            })
        };
        let snap = ring.snapshot_from(0);
        assert!(snap.events.len() <= 1);
        for e in &snap.events {
            assert!(e.iter().all(|w| *w == e[0]), "a torn event: {e:?}");
        }
        writer.join().unwrap();
        let after = ring.snapshot_from(0);
        assert_eq!(after.events, [[20; 4]], "the newest is kept");
        assert_eq!(after.lost, 1);
    });
}
