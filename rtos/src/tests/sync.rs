//! The IRQ-masking spinlock and the write-once slot.

use crate::fake;
use crate::once::OnceRef;
use crate::sync::IrqSpinLock;

#[test]
fn lock_masks_and_restores_irqs_nested() {
    let p = fake::install();
    let a = IrqSpinLock::new(1u32);
    let b = IrqSpinLock::new(2u32);
    assert!(!p.irqs_masked());
    {
        let ga = a.lock();
        assert!(p.irqs_masked());
        {
            let gb = b.lock();
            assert_eq!(*ga + *gb, 3);
        }
        // Inner guard restored the *masked* state it found, not "unmasked".
        assert!(p.irqs_masked());
    }
    assert!(!p.irqs_masked());
}

#[test]
fn try_lock_fails_while_held_and_restores_state() {
    let p = fake::install();
    let a = IrqSpinLock::new(());
    let g = a.lock();
    assert!(a.is_locked());
    assert!(a.try_lock().is_none());
    assert!(p.irqs_masked(), "failed try_lock must not unmask");
    drop(g);
    assert!(!p.irqs_masked());
    assert!(a.try_lock().is_some());
}

#[test]
fn lock_excludes_across_threads() {
    fake::install();
    let counter = std::sync::Arc::new(IrqSpinLock::new(0u64));
    // Yield between rounds: a holder the host OS has descheduled makes the others spin through
    // their time slices, which on a loaded 2-core machine turns seconds into minutes.
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let c = counter.clone();
            std::thread::spawn(move || {
                for _ in 0..3_000 {
                    {
                        let mut g = c.lock();
                        let v = *g;
                        std::hint::black_box(&v);
                        *g = v + 1;
                    }
                    std::thread::yield_now();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*counter.lock(), 9_000);
}

#[test]
fn once_ref_first_set_wins() {
    static SLOT: OnceRef<str> = OnceRef::new();
    assert!(SLOT.get().is_none());
    assert!(SLOT.set("first"));
    assert!(!SLOT.set("second"));
    assert_eq!(SLOT.get(), Some("first"));
}
