//! Fault injection (`fault`): which allocations fail, on which CPU, and that the kernel's sites
//! fail cleanly.

use crate::Error;
use crate::fake::run;
use crate::fault::{self, AllocFail, Site};
use crate::kthread;
use crate::time::Duration;
use crate::work::irq_work::{self, IrqWork};
use alloc::sync::Arc;
use alloc::vec::Vec;

#[test]
fn every_and_next_fail_the_allocations_they_say_and_nothing_else() {
    run(2, || {
        assert!(!fault::fail_alloc(), "off by default");
        fault::set_alloc_fail(AllocFail::Every(3), None).unwrap();
        let seen: Vec<bool> = (0..9).map(|_| fault::fail_alloc()).collect();
        assert_eq!(
            seen,
            [false, false, true, false, false, true, false, false, true]
        );
        fault::set_alloc_fail(AllocFail::Next(2), None).unwrap();
        let seen: Vec<bool> = (0..5).map(|_| fault::fail_alloc()).collect();
        assert_eq!(seen, [true, true, false, false, false]);
        assert_eq!(
            fault::alloc_fail(),
            (AllocFail::Off, None, 5),
            "next ends by itself"
        );
        // Refusals change nothing.
        fault::set_alloc_fail(AllocFail::Every(1), Some(1)).unwrap();
        assert_eq!(
            fault::set_alloc_fail(AllocFail::Every(0), None),
            Err(Error::Invalid)
        );
        assert_eq!(
            fault::set_alloc_fail(AllocFail::Next(0), None),
            Err(Error::Invalid)
        );
        assert_eq!(
            fault::set_alloc_fail(AllocFail::Next(1), Some(crate::config::MAX_CPUS)),
            Err(Error::Invalid)
        );
        assert_eq!(fault::alloc_fail().0, AllocFail::Every(1));
        // Only on CPU 1: this thread runs on CPU 0 (or 1): fails exactly when on CPU 1.
        let here = crate::port::port().cpu_id();
        assert_eq!(fault::fail_alloc(), here == 1);
        fault::off();
        assert!(!fault::fail_alloc());
        0
    });
}

#[test]
fn a_failed_site_is_enomem_and_leaves_nothing_behind() {
    run(2, || {
        let before = kthread::list().len();
        fault::set_alloc_fail(AllocFail::Next(1), None).unwrap();
        assert_eq!(kthread::create("inj", || 0).err(), Some(Error::NoMemory));
        assert_eq!(kthread::list().len(), before);
        fault::set_alloc_fail(AllocFail::Next(1), None).unwrap();
        let f: irq_work::Func = Arc::new(|_| {});
        assert_eq!(
            IrqWork::new("inj", false, f.clone()).err(),
            Some(Error::NoMemory)
        );
        assert_eq!(irq_work::slots_in_use(), 0);
        // A workqueue whose second worker fails: the first is gone again.
        fault::set_alloc_fail(AllocFail::Every(2), None).unwrap();
        assert_eq!(
            crate::work::workqueue::create("inj").err(),
            Some(Error::NoMemory)
        );
        fault::off();
        crate::sched::sleep(Duration::from_millis(20));
        assert_eq!(kthread::list().len(), before, "no worker left behind");
        // And it all works once off.
        let q = crate::work::workqueue::create("inj").unwrap();
        crate::work::workqueue::destroy(q).unwrap();
        IrqWork::new("inj", false, f).unwrap().free().unwrap();
        0
    });
}

#[test]
fn a_delay_applies_at_its_site_and_is_bounded() {
    run(2, || {
        assert_eq!(
            fault::set_delay(Site::Sgi, fault::MAX_DELAY + Duration::from_nanos(1)),
            Err(Error::Invalid)
        );
        fault::set_delay(Site::Sgi, Duration::from_micros(200)).unwrap();
        let (_, before) = fault::delay_of(Site::Sgi);
        let w = IrqWork::new("late", false, Arc::new(|_| {})).unwrap();
        let t = crate::time::Instant::now();
        assert_eq!(irq_work::queue_on(w, 1), Ok(true));
        assert!(crate::time::Instant::now() - t >= Duration::from_micros(200));
        assert!(fault::delay_of(Site::Sgi).1 > before);
        fault::off();
        assert_eq!(fault::delay_of(Site::Sgi).0, Duration::ZERO);
        super::util::wait_for(500, || w.runs() == 1);
        w.free().unwrap();
        0
    });
}
