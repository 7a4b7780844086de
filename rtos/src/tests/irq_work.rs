//! irq_work contracts on the fake port.

use super::util::MS;
use crate::fake::run;
use crate::sched;
use crate::time::Duration;
use crate::work::irq_work::{self, BUSY, IrqWork, PENDING};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

fn counter_work(name: &str, lazy: bool) -> (IrqWork, Arc<AtomicU64>) {
    let n = Arc::new(AtomicU64::new(0));
    let c = n.clone();
    let w = IrqWork::new(
        name,
        lazy,
        Arc::new(move |_| {
            c.fetch_add(1, Ordering::Relaxed);
        }),
    )
    .unwrap();
    (w, n)
}

fn wait_runs(w: IrqWork, n: u64) -> bool {
    let end = crate::port::port().now() + 500 * MS;
    while w.runs() < n && crate::port::port().now() < end {
        sched::sleep(Duration::from_micros(500));
    }
    w.runs() >= n
}

#[test]
fn queued_twice_before_it_runs_runs_once() {
    run(2, || {
        let (w, n) = counter_work("twice", false);
        let p = crate::port::port();
        // Interrupts masked: the SGI cannot be taken between the two queues.
        let s = p.irq_save();
        assert!(irq_work::queue(w));
        assert!(!irq_work::queue(w), "second queue while PENDING fails");
        assert_eq!(w.flags() & (PENDING | BUSY), PENDING | BUSY);
        p.irq_restore(s);
        assert!(wait_runs(w, 1));
        sched::sleep(Duration::from_millis(5));
        assert_eq!(n.load(Ordering::Relaxed), 1, "ran once");
        assert_eq!(w.flags() & (PENDING | BUSY), 0, "idle after running");
        0
    });
}

#[test]
fn queue_on_runs_on_that_cpu_in_irq_context() {
    run(4, || {
        let seen = Arc::new(AtomicUsize::new(usize::MAX));
        let masked = Arc::new(AtomicUsize::new(0));
        let (s2, m2) = (seen.clone(), masked.clone());
        let w = IrqWork::new(
            "remote",
            false,
            Arc::new(move |_| {
                let p = crate::port::port();
                s2.store(p.cpu_id(), Ordering::SeqCst);
                m2.store(p.irqs_masked() as usize, Ordering::SeqCst);
            }),
        )
        .unwrap();
        assert_eq!(irq_work::queue_on(w, 3), Ok(true));
        assert!(wait_runs(w, 1));
        assert_eq!(seen.load(Ordering::SeqCst), 3);
        assert_eq!(w.last_cpu(), Some(3));
        assert_eq!(
            masked.load(Ordering::SeqCst),
            1,
            "callback runs with interrupts masked"
        );
        assert_eq!(irq_work::queue_on(w, 9), Err(crate::Error::Invalid));
        0
    });
}

#[test]
fn requeue_from_its_own_callback_runs_again() {
    run(2, || {
        let left = Arc::new(AtomicU64::new(3));
        let l = left.clone();
        let w = IrqWork::new(
            "requeue",
            false,
            Arc::new(move |me| {
                // BUSY without PENDING: re-queueing from the callback must succeed.
                if l.fetch_sub(1, Ordering::SeqCst) > 1 {
                    assert!(irq_work::queue(*me));
                }
            }),
        )
        .unwrap();
        assert!(irq_work::queue(w));
        assert!(wait_runs(w, 3));
        sched::sleep(Duration::from_millis(5));
        assert_eq!(w.runs(), 3);
        0
    });
}

#[test]
fn sync_waits_for_the_callback_and_refuses_masked_callers() {
    run(2, || {
        let w = IrqWork::new(
            "slow",
            false,
            Arc::new(|_| {
                crate::fake::spin_for(std::time::Duration::from_millis(20));
            }),
        )
        .unwrap();
        assert_eq!(irq_work::queue_on(w, 1), Ok(true));
        // Give CPU 1 a moment to start it, then wait for it to finish.
        sched::sleep(Duration::from_millis(2));
        assert_eq!(irq_work::sync(w), Ok(()));
        assert_eq!(w.flags() & BUSY, 0);
        assert_eq!(w.runs(), 1);
        let p = crate::port::port();
        let s = p.irq_save();
        assert_eq!(irq_work::sync(w), Err(crate::Error::Busy));
        p.irq_restore(s);
        0
    });
}

#[test]
fn lazy_work_waits_for_the_timer_interrupt() {
    run(1, || {
        let (w, n) = counter_work("lazy", true);
        let p = crate::port::port();
        // Keep a timer pending on this CPU so lazy works wait for it.
        let id = crate::timer::arm(
            crate::time::Instant::from_ticks(p.now() + 30 * MS),
            crate::timer::Action::Call(alloc::boxed::Box::new(|| {})),
        );
        assert!(irq_work::queue(w));
        crate::fake::spin_for(std::time::Duration::from_millis(5));
        assert_eq!(
            n.load(Ordering::Relaxed),
            0,
            "lazy work raised no interrupt"
        );
        assert!(wait_runs(w, 1), "ran at the timer interrupt");
        crate::timer::cancel(id);
        0
    });
}

#[test]
fn ten_thousand_queues_over_four_cpus_each_run_once() {
    run(4, || {
        let works: Vec<(IrqWork, Arc<AtomicU64>)> = (0..8)
            .map(|i| counter_work(&alloc::format!("w{i}"), false))
            .collect();
        let mut accepted = [0u64; 8];
        for k in 0..10_000usize {
            let i = k % 8;
            let cpu = k % 4;
            if irq_work::queue_on(works[i].0, cpu) == Ok(true) {
                accepted[i] += 1;
            }
            if k % 64 == 0 {
                sched::yield_now();
            }
        }
        for (i, (w, n)) in works.iter().enumerate() {
            assert!(wait_runs(*w, accepted[i]));
            sched::sleep(Duration::from_millis(2));
            assert_eq!(
                n.load(Ordering::Relaxed),
                accepted[i],
                "work {i}: every accepted queue ran once"
            );
        }
        assert!(accepted.iter().sum::<u64>() > 100);
        0
    });
}

#[test]
fn lazy_work_queued_on_another_cpu_runs_at_once_and_on_this_cpu_waits() {
    run(2, || {
        let (w, _) = counter_work("lazy-local", true);
        let (r, _) = counter_work("lazy-remote", true);
        // From a thread bound to CPU 0, with a far timer pending there (timers are armed on the
        // calling CPU) and no other: meanwhile this thread waits without a timeout, since any
        // timer interrupt on CPU 0 would run the lazy work.
        let done = Arc::new(crate::wait::Completion::new());
        let d = done.clone();
        // Above every other thread: no time slice (a timer interrupt) while it spins, even if
        // kthreadd, which made it, has not gone back to sleep yet on a slow host.
        let opts = crate::kthread::Options {
            prio: Some(30),
            cpu: Some(0),
        };
        let t = crate::kthread::create_with("lazy-q", opts, move || {
            let p = crate::port::port();
            let far = crate::time::Instant::from_ticks(p.now() + 10_000 * MS);
            let id = crate::timer::arm(
                far,
                crate::timer::Action::Call(alloc::boxed::Box::new(|| {})),
            );
            assert_eq!(irq_work::queue_on(w, 0), Ok(true));
            crate::fake::spin_for(std::time::Duration::from_millis(5));
            let waited = w.runs() == 0 && w.flags() & PENDING != 0;
            // Remote: the SGI goes at once (Linux's irq_work_queue_on).
            assert_eq!(irq_work::queue_on(r, 1), Ok(true));
            let remote_ran = wait_runs(r, 1);
            crate::timer::cancel(id);
            d.complete();
            i32::from(waited) + 2 * i32::from(remote_ran)
        })
        .unwrap();
        crate::kthread::wake_up_process(&t);
        done.wait();
        assert_eq!(
            super::util::join(&t),
            3,
            "the local lazy work waited for the timer interrupt and the remote one ran at once"
        );
        assert_eq!(r.last_cpu(), Some(1));
        0
    });
}

#[test]
fn free_refuses_a_busy_work_and_a_stale_handle_queues_nothing() {
    run(2, || {
        let (w, n) = counter_work("freed", false);
        let p = crate::port::port();
        let s = p.irq_save();
        assert!(irq_work::queue(w));
        assert_eq!(w.free(), Err(crate::Error::Busy), "pending: not freed");
        p.irq_restore(s);
        assert!(wait_runs(w, 1));
        irq_work::sync(w).unwrap();
        assert_eq!(w.free(), Ok(()));
        assert_eq!(w.free(), Err(crate::Error::Invalid), "freed twice");
        // The slot is reused; the old handle stays stale whatever the slot holds now.
        let (next, m) = counter_work("next", false);
        assert!(!irq_work::queue(w), "a freed work queues nothing");
        assert_eq!(irq_work::queue_on(w, 1), Ok(false));
        assert_eq!((w.runs(), w.name().as_str(), w.flags()), (0, "", 0));
        assert!(irq_work::queue(next));
        assert!(wait_runs(next, 1));
        assert_eq!(
            (n.load(Ordering::Relaxed), m.load(Ordering::Relaxed)),
            (1, 1)
        );
        next.free().unwrap();
        0
    });
}

#[test]
fn a_full_pool_is_enomem_until_a_work_is_freed() {
    run(1, || {
        let f: irq_work::Func = Arc::new(|_| {});
        let mut all = Vec::new();
        loop {
            match IrqWork::new("fill", false, f.clone()) {
                Ok(w) => all.push(w),
                Err(e) => {
                    assert_eq!(e, crate::Error::NoMemory);
                    break;
                }
            }
        }
        assert_eq!(all.len(), crate::config::IRQ_WORK_SLOTS);
        let freed = all.swap_remove(1234);
        freed.free().unwrap();
        let again = IrqWork::new("again", false, f.clone()).expect("a freed slot is reused");
        assert!(irq_work::queue(again));
        assert!(wait_runs(again, 1));
        assert!(
            !irq_work::queue(freed),
            "the old handle of the reused slot is stale"
        );
        for w in all.into_iter().chain([again]) {
            w.free().unwrap();
        }
        // Not exhausted for good: every slot can be taken again, and the next is refused again.
        assert_eq!(irq_work::slots_in_use(), 0);
        let refill: Vec<IrqWork> = (0..crate::config::IRQ_WORK_SLOTS)
            .map(|_| IrqWork::new("refill", false, f.clone()).expect("a free slot"))
            .collect();
        assert_eq!(irq_work::slots_in_use(), crate::config::IRQ_WORK_SLOTS);
        assert_eq!(
            IrqWork::new("one more", false, f.clone()).err(),
            Some(crate::Error::NoMemory)
        );
        for w in refill {
            w.free().unwrap();
        }
        assert_eq!(irq_work::slots_in_use(), 0);
        0
    });
}

/// A callback runs in hard-IRQ context (`in_hardirq`, which a fault report prints), and
/// `peek_current` there names the thread the interrupt interrupted; a thread is not in hard IRQ.
#[test]
fn callbacks_know_they_are_in_hardirq_and_whom_they_interrupted() {
    run(2, || {
        let in_irq = Arc::new(AtomicUsize::new(0));
        let tid = Arc::new(AtomicUsize::new(0));
        let (i2, t2) = (in_irq.clone(), tid.clone());
        let w = IrqWork::new(
            "ctx",
            false,
            Arc::new(move |_| {
                let cpu = crate::port::port().cpu_id();
                let hard = crate::cpu::stats(cpu).is_some_and(crate::cpu::CpuStats::in_hardirq);
                i2.store(1 + usize::from(hard), Ordering::SeqCst);
                sched::peek_current(|t, _, _| t2.store(t as usize, Ordering::SeqCst));
            }),
        )
        .unwrap();
        let me = sched::current().unwrap();
        let mut named = None;
        assert!(sched::peek_current(|t, name, idle| {
            named = Some((t, alloc::string::String::from(name), idle));
        }));
        assert_eq!(named, Some((me.tid, me.name.clone(), false)));
        let cpu = crate::port::port().cpu_id();
        assert!(!crate::cpu::stats(cpu).unwrap().in_hardirq(), "a thread");
        // Queued on this CPU: the callback interrupts this thread.
        assert!(irq_work::queue(w));
        assert!(wait_runs(w, 1));
        assert_eq!(in_irq.load(Ordering::SeqCst), 2, "in hard-IRQ context");
        assert_eq!(
            tid.load(Ordering::SeqCst),
            me.tid as usize,
            "names the interrupted thread"
        );
        let cpu = crate::port::port().cpu_id();
        assert!(
            !crate::cpu::stats(cpu).unwrap().in_hardirq(),
            "left on irq_exit"
        );
        0
    });
}

/// A work that re-queues itself forever on a CPU must not keep that CPU in interrupt context:
/// after a chain of passes, the rest wait for the timer interrupt, the CPU's threads run in
/// between, and no queueing is lost (without the bound the fake CPU loops in its interrupt
/// delivery and the counting thread never runs).
#[test]
fn a_work_requeueing_itself_forever_leaves_its_cpu_to_its_threads() {
    use core::sync::atomic::AtomicBool;
    run(2, || {
        let stop = Arc::new(AtomicBool::new(false));
        let queued = Arc::new(AtomicU64::new(1));
        let (s, q) = (stop.clone(), queued.clone());
        let w = IrqWork::new(
            "storm",
            false,
            Arc::new(move |me| {
                if !s.load(Ordering::Relaxed) && irq_work::queue(*me) {
                    q.fetch_add(1, Ordering::Relaxed);
                }
            }),
        )
        .unwrap();
        let count = Arc::new(AtomicU64::new(0));
        let c = count.clone();
        let counter = crate::kthread::create_on_cpu("counter", 1, move || {
            while !crate::kthread::should_stop() {
                c.fetch_add(1, Ordering::Relaxed);
                crate::fake::spin_for(std::time::Duration::from_micros(50));
            }
            0
        })
        .unwrap();
        crate::kthread::wake_up_process(&counter);
        let deferred = || crate::cpu::snapshot(1).unwrap().irq_work_deferred;
        let before = deferred();
        assert_eq!(irq_work::queue_on(w, 1), Ok(true));
        let chain = u64::from(crate::config::IRQ_WORK_CHAIN);
        assert!(
            super::util::wait_for(5000, || w.runs() > 2 * chain),
            "the storm runs: {}",
            w.runs()
        );
        assert!(
            super::util::wait_for(5000, || deferred() > before + 3),
            "passes put off to the timer: {}",
            deferred() - before
        );
        let c0 = count.load(Ordering::Relaxed);
        assert!(
            super::util::wait_for(5000, || count.load(Ordering::Relaxed) > c0 + 10),
            "CPU 1's thread runs during the storm"
        );
        let r0 = w.runs();
        assert!(
            super::util::wait_for(5000, || w.runs() > r0 + 3),
            "and the storm goes on"
        );
        stop.store(true, Ordering::Relaxed);
        assert!(super::util::wait_for(5000, || w.flags() & (PENDING | BUSY) == 0));
        assert_eq!(
            w.runs(),
            queued.load(Ordering::Relaxed),
            "every queueing ran once"
        );
        assert_eq!(crate::kthread::stop(&counter), 0);
        w.free().unwrap();
        0
    });
}

/// A work reads back the name it was created with (through its handle, through its slot for
/// reports that only know the slot, and in the list of live works), and has no last CPU until
/// it ran. Once freed, every copy of its handle reads as a work with no name, no runs and no
/// last CPU, even after the slot was taken by another work (which the slot's name then shows),
/// and the freed work is not listed.
#[test]
fn names_and_last_cpu_read_back_until_the_free_and_never_through_a_stale_handle() {
    run(2, || {
        let (w, _) = counter_work("named", false);
        assert_eq!(w.name(), "named");
        assert_eq!(irq_work::slot_name(w.slot()), "named");
        assert!(
            irq_work::list().contains(&(w, alloc::string::String::from("named"))),
            "listed"
        );
        assert_eq!(w.last_cpu(), None, "never ran");
        assert_eq!(irq_work::queue_on(w, 1), Ok(true));
        assert!(wait_runs(w, 1));
        irq_work::sync(w).unwrap();
        assert_eq!(w.last_cpu(), Some(1));
        w.free().unwrap();
        assert_eq!((w.name().as_str(), w.runs(), w.last_cpu()), ("", 0, None));
        assert_eq!(irq_work::slot_name(w.slot()), "", "a free slot has no name");
        assert!(irq_work::list().iter().all(|(x, _)| x.slot() != w.slot()));
        // Take slots until the freed one is reused.
        let f: irq_work::Func = Arc::new(|_| {});
        let mut taken = Vec::new();
        let reuser = loop {
            let x = IrqWork::new("reuser", false, f.clone()).expect("a free slot");
            taken.push(x);
            if x.slot() == w.slot() {
                break x;
            }
        };
        assert_eq!(reuser.name(), "reuser");
        assert_eq!(
            (w.name().as_str(), w.runs(), w.last_cpu()),
            ("", 0, None),
            "the stale handle does not read the slot's new work"
        );
        assert_eq!(irq_work::slot_name(w.slot()), "reuser");
        assert_eq!(irq_work::slot_name(crate::config::IRQ_WORK_SLOTS), "");
        for x in taken {
            x.free().unwrap();
        }
        0
    });
}

/// What the watchdog sees (`running_on`): while a callback runs, its CPU reports an irq_work
/// running with the work's slot as the name and the work's run count so far as the sequence
/// (each work's own count, not another's); a CPU running none, or no such CPU, reports nothing.
#[test]
fn running_on_names_the_running_work_and_its_own_run_count() {
    use crate::running::{Callback, CallbackKind};
    use std::sync::Mutex;
    run(2, || {
        // Another work with more runs, created first.
        let (other, _) = counter_work("other", false);
        for k in 1..=3 {
            assert_eq!(irq_work::queue_on(other, 1), Ok(true));
            assert!(wait_runs(other, k));
        }
        let seen: Arc<Mutex<Vec<Option<Callback>>>> = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let w = IrqWork::new(
            "watched",
            false,
            Arc::new(move |_| {
                let cpu = crate::port::port().cpu_id();
                s2.lock().unwrap().push(irq_work::running_on(cpu));
            }),
        )
        .unwrap();
        for k in 1..=2 {
            assert_eq!(irq_work::queue_on(w, 1), Ok(true));
            assert!(wait_runs(w, k));
        }
        irq_work::sync(w).unwrap();
        let me = |seq| {
            Some(Callback {
                kind: CallbackKind::IrqWork,
                name: w.slot() as u16,
                seq,
            })
        };
        assert_eq!(*seen.lock().unwrap(), [me(0), me(1)]);
        assert_eq!(irq_work::running_on(1), None, "nothing running now");
        assert_eq!(irq_work::running_on(crate::config::MAX_CPUS), None);
        0
    });
}

/// Only lazy works wait for the timer interrupt: a work created not lazy raises its interrupt
/// at once even while a timer is pending on its CPU. And a lazy work run by the timer
/// interrupt's pass counts as one irq_work run of that CPU, like one run by the interrupt.
#[test]
fn a_work_not_lazy_runs_at_once_with_a_timer_pending_and_lazy_runs_are_counted() {
    run(1, || {
        use crate::time::Instant;
        use crate::timer::{self, Action};
        let p = crate::port::port();
        let far = timer::arm(
            Instant::from_ticks(p.now() + 10_000 * MS),
            Action::Call(alloc::boxed::Box::new(|| {})),
        );
        let runs = || crate::cpu::snapshot(0).unwrap().irq_work_runs;
        let r0 = runs();
        let (eager, n) = counter_work("eager", false);
        assert!(irq_work::queue(eager));
        crate::fake::spin_for(std::time::Duration::from_millis(5));
        assert_eq!(n.load(Ordering::Relaxed), 1, "ran without the timer");
        assert_eq!(runs(), r0 + 1);
        let (lazy, m) = counter_work("lazy-counted", true);
        assert!(irq_work::queue(lazy));
        let near = timer::arm(
            Instant::from_ticks(p.now() + 2 * MS),
            Action::Call(alloc::boxed::Box::new(|| {})),
        );
        let end = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while m.load(Ordering::Relaxed) == 0 && std::time::Instant::now() < end {
            crate::fake::spin_for(std::time::Duration::from_millis(1));
        }
        assert_eq!(m.load(Ordering::Relaxed), 1, "ran at the timer interrupt");
        assert_eq!(runs(), r0 + 2, "the timer's pass counted its lazy run");
        timer::cancel(near);
        timer::cancel(far);
        0
    });
}

/// The storm bound counts passes *in a row*: a work that re-queues itself a few times (fewer
/// than `IRQ_WORK_CHAIN`) in bursts well apart never has a pass put off, however many bursts
/// there are, and its CPU reports no storm; a work that re-queues itself forever has passes put
/// off, and its CPU names it as the storm's culprit (`storm_on`, for the watchdog).
#[test]
fn short_requeue_bursts_are_never_put_off_and_a_storm_names_its_work() {
    run(2, || {
        let chain = u64::from(crate::config::IRQ_WORK_CHAIN);
        let left = Arc::new(AtomicU64::new(0));
        let l = left.clone();
        let burst = IrqWork::new(
            "burst",
            false,
            Arc::new(move |me| {
                if l.load(Ordering::Relaxed) > 0 {
                    l.fetch_sub(1, Ordering::Relaxed);
                    assert!(irq_work::queue(*me));
                }
            }),
        )
        .unwrap();
        let deferred = || crate::cpu::snapshot(1).unwrap().irq_work_deferred;
        let before = deferred();
        assert_eq!(irq_work::storm_on(1), None, "no storm yet");
        let per_burst = chain * 2 / 3;
        for k in 1..=4 {
            left.store(per_burst, Ordering::Relaxed);
            assert_eq!(irq_work::queue_on(burst, 1), Ok(true));
            assert!(wait_runs(burst, k * (per_burst + 1)));
            irq_work::sync(burst).unwrap();
            // Well past twice the storm delay: the next burst is a new chain.
            sched::sleep(Duration::from_micros(
                5 * crate::config::IRQ_WORK_STORM_DELAY_US,
            ));
        }
        assert_eq!(burst.runs(), 4 * (per_burst + 1));
        assert_eq!(deferred(), before, "no pass put off");
        assert_eq!(irq_work::storm_on(1), None, "no storm");

        use core::sync::atomic::AtomicBool;
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let storm = IrqWork::new(
            "storm",
            false,
            Arc::new(move |me| {
                if !s.load(Ordering::Relaxed) {
                    irq_work::queue(*me);
                }
            }),
        )
        .unwrap();
        assert_eq!(irq_work::queue_on(storm, 1), Ok(true));
        let found = super::util::wait_for(5000, || irq_work::storm_on(1).is_some());
        stop.store(true, Ordering::Relaxed);
        assert!(found, "a storm was reported");
        assert!(deferred() > before);
        assert_eq!(irq_work::storm_on(1), Some(storm.slot()));
        assert_eq!(irq_work::slot_name(storm.slot()), "storm");
        let idle = || storm.flags() & (PENDING | BUSY) == 0;
        assert!(super::util::wait_for(5000, idle), "the storm ended");
        0
    });
}

/// With tracing on, `queue_on` behaves as without (queued on the CPU named, refused for a CPU
/// that does not exist) and records the queueing and the irq_work SGI it sends, with the target
/// CPU's bit as the SGI's target mask.
#[test]
fn a_traced_queue_on_queues_and_records_its_sgi_to_the_target_cpu() {
    use crate::trace::{self, Class, Kind};
    run(2, || {
        let (w, n) = counter_work("traced-on", false);
        trace::start(&[Class::IrqWork, Class::Irq], 4096).unwrap();
        assert_eq!(irq_work::queue_on(w, 1), Ok(true));
        assert_eq!(irq_work::queue_on(w, 9), Err(crate::Error::Invalid));
        assert!(wait_runs(w, 1));
        trace::stop();
        irq_work::sync(w).unwrap();
        assert_eq!(n.load(Ordering::Relaxed), 1);
        assert_eq!(w.last_cpu(), Some(1));
        let all: Vec<trace::Event> = trace::snapshot()
            .into_iter()
            .flat_map(|c| c.events)
            .collect();
        let named = trace::tag(trace::intern("traced-on"), w.slot() as u64);
        assert!(
            all.iter()
                .any(|e| e.kind == Kind::IrqWorkQueue && e.a == named && e.b == 1),
            "{all:?}"
        );
        let sgi = u64::from(crate::port::Sgi::IrqWork.id());
        let sent: Vec<u64> = all
            .iter()
            .filter(|e| e.kind == Kind::SgiSend && e.a == sgi)
            .map(|e| e.b)
            .collect();
        assert_eq!(sent, [1 << 1], "one irq_work SGI, to CPU 1: {all:?}");
        0
    });
}

/// CPU hotplug (seed 003's `CPU_DYING`): a work left pending on a CPU going offline runs there,
/// in the CPU's last run; one queued there again by that run (after it, so the CPU never runs
/// it) is run by the CPU that took it offline, once the CPU is gone. Neither run records trace
/// events while tracing is stopped.
#[test]
fn works_left_on_a_dying_cpu_run_there_and_its_last_leftovers_run_on_the_offliner() {
    use crate::trace::{self, Class, Kind};
    use std::sync::Mutex;
    run(2, || {
        // Recording stopped, the irq_work class still selected.
        trace::start(&[Class::IrqWork], 4096).unwrap();
        trace::stop();
        let cpus: Arc<Mutex<Vec<usize>>> = Arc::new(Mutex::new(Vec::new()));
        let c2 = cpus.clone();
        let w = IrqWork::new(
            "dying",
            true,
            Arc::new(move |me| {
                let mut c = c2.lock().unwrap();
                c.push(crate::port::port().cpu_id());
                if c.len() == 1 {
                    assert!(irq_work::queue(*me));
                }
            }),
        )
        .unwrap();
        // Lazy, with a far timer pending on CPU 1: it waits there.
        let timer = Arc::new(Mutex::new(None));
        let t2 = timer.clone();
        let q = crate::kthread::create_on_cpu("dying-q", 1, move || {
            let p = crate::port::port();
            let id = crate::timer::arm(
                crate::time::Instant::from_ticks(p.now() + 10_000 * MS),
                crate::timer::Action::Call(alloc::boxed::Box::new(|| {})),
            );
            *t2.lock().unwrap() = Some(id);
            i32::from(irq_work::queue(w))
        })
        .unwrap();
        crate::kthread::wake_up_process(&q);
        assert_eq!(super::util::join(&q), 1);
        assert_eq!(w.runs(), 0, "waits for CPU 1's timer");
        crate::hotplug::offline(1).unwrap();
        assert!(super::util::wait_for(1000, || w.runs() == 2));
        irq_work::sync(w).unwrap();
        assert_eq!(
            *cpus.lock().unwrap(),
            [1, 0],
            "the dying CPU ran it, then the offlining one ran what that run queued"
        );
        assert_eq!(w.flags() & (PENDING | BUSY), 0);
        let traced: Vec<trace::Event> = trace::snapshot()
            .into_iter()
            .flat_map(|c| c.events)
            .filter(|e| matches!(e.kind, Kind::IrqWorkStart | Kind::IrqWorkEnd))
            .collect();
        assert_eq!(traced, [], "recorded while tracing was stopped");
        // (The timer moved to CPU 0 with its id.)
        assert!(crate::timer::cancel(timer.lock().unwrap().take().unwrap()));
        crate::hotplug::online(1).unwrap();
        0
    });
}
