//! The task_work contracts from kernel/task_work.c, each as a test on the fake port.

use super::util::*;
use crate::Error;
use crate::fake::{run, spin_for};
use crate::kthread::{self, KThread};
use crate::sched::{self, State, Thread, Tid};
use crate::work::task_work::{Notify, TaskWork, add, cancel, cancel_func, list, pending};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// What the works of a test saw: the order they ran in and the thread they ran on.
#[derive(Default)]
struct Log(Mutex<Vec<(String, Tid)>>);

impl Log {
    fn work(self: &Arc<Self>, name: &str) -> Arc<TaskWork> {
        let log = self.clone();
        TaskWork::new(name, move |w| log.push(w.name()))
    }
    fn push(&self, name: &str) {
        let tid = sched::current().map_or(u32::MAX, |t| t.tid());
        self.0.lock().unwrap().push((String::from(name), tid));
    }
    fn names(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(n, _)| n.clone())
            .collect()
    }
    fn tids(&self) -> Vec<Tid> {
        self.0.lock().unwrap().iter().map(|(_, t)| *t).collect()
    }
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// A kthread that sleeps (uninterruptibly) in 1 ms steps until stopped, parking on request.
fn sleeper(name: &str) -> KThread {
    kthread::run(name, || {
        while !kthread::should_stop() {
            if kthread::should_park() {
                kthread::parkme();
                continue;
            }
            sched::sleep(Duration::from_millis(1));
        }
        0
    })
    .unwrap()
}

/// A kthread that sleeps interruptibly for 10 s at a time until stopped; counts its wake-ups.
fn interruptible(name: &str, wakes: Arc<AtomicUsize>) -> KThread {
    kthread::run(name, move || {
        while !kthread::should_stop() {
            let timed_out = sched::sleep_interruptible_until(crate::time::Instant::from_ticks(
                now() + 10_000 * MS,
            ));
            if !timed_out {
                wakes.fetch_add(1, Ordering::SeqCst);
            }
        }
        0
    })
    .unwrap()
}

#[test]
fn notify_none_runs_only_at_exit_in_the_thread() {
    run(2, || {
        let log = Arc::new(Log::default());
        let t = sleeper("tw-none");
        add(t.thread(), log.work("a"), Notify::None).unwrap();
        assert_eq!(pending(t.thread()), 1);
        sched::sleep(Duration::from_millis(30));
        assert_eq!(log.len(), 0, "a None work ran before exit");
        kthread::stop(&t);
        assert_eq!(log.names(), ["a"]);
        assert_eq!(log.tids(), [t.tid()], "ran in the target thread's context");
        assert_eq!(pending(t.thread()), 0);
        0
    });
}

#[test]
fn notify_none_waits_for_a_later_notifying_add() {
    run(2, || {
        let log = Arc::new(Log::default());
        let t = sleeper("tw-none-later");
        add(t.thread(), log.work("quiet"), Notify::None).unwrap();
        sched::sleep(Duration::from_millis(20));
        assert_eq!(log.len(), 0);
        add(t.thread(), log.work("loud"), Notify::Resume).unwrap();
        assert!(
            wait_for(500, || log.len() == 2),
            "both ran at the next boundary"
        );
        assert_eq!(log.names(), ["loud", "quiet"], "LIFO");
        assert_eq!(log.tids(), [t.tid(), t.tid()]);
        kthread::stop(&t);
        0
    });
}

#[test]
fn notify_resume_runs_after_unpark_not_while_parked() {
    run(2, || {
        let log = Arc::new(Log::default());
        let t = sleeper("tw-resume");
        kthread::park(&t).unwrap();
        assert_eq!(t.state(), State::Parked);
        add(t.thread(), log.work("r"), Notify::Resume).unwrap();
        sched::sleep(Duration::from_millis(30));
        assert_eq!(log.len(), 0, "a parked thread ran its work");
        assert_eq!(t.state(), State::Parked, "Resume woke the parked thread");
        kthread::unpark(&t);
        assert!(wait_for(500, || log.len() == 1), "ran after unpark");
        assert_eq!(log.tids(), [t.tid()]);
        kthread::stop(&t);
        assert_eq!(log.len(), 1, "ran once");
        0
    });
}

#[test]
fn notify_resume_does_not_wake_an_interruptible_sleeper() {
    run(2, || {
        let log = Arc::new(Log::default());
        let wakes = Arc::new(AtomicUsize::new(0));
        let t = interruptible("tw-resume-int", wakes.clone());
        assert!(wait_for(500, || t.state() == State::Sleeping));
        add(t.thread(), log.work("r"), Notify::Resume).unwrap();
        sched::sleep(Duration::from_millis(30));
        assert_eq!(log.len(), 0, "Resume woke an interruptible sleeper");
        assert_eq!(wakes.load(Ordering::SeqCst), 0);
        // The stop's wake-up is its next boundary.
        kthread::stop(&t);
        assert_eq!(log.names(), ["r"]);
        assert_eq!(log.tids(), [t.tid()]);
        0
    });
}

#[test]
fn notify_signal_wakes_an_interruptible_sleeper_promptly() {
    run(2, || {
        for (i, mode) in [Notify::Signal, Notify::SignalNoIpi]
            .into_iter()
            .enumerate()
        {
            let log = Arc::new(Log::default());
            let wakes = Arc::new(AtomicUsize::new(0));
            let t = interruptible(&alloc::format!("tw-signal-{i}"), wakes.clone());
            assert!(wait_for(500, || t.state() == State::Sleeping));
            let start = now();
            add(t.thread(), log.work("s"), mode).unwrap();
            assert!(wait_for(200, || log.len() == 1), "{mode:?} did not wake it");
            assert!(now() - start < 1_000 * MS);
            assert_eq!(log.tids(), [t.tid()]);
            assert!(wait_for(200, || wakes.load(Ordering::SeqCst) == 1));
            kthread::stop(&t);
            assert_eq!(log.len(), 1, "ran once");
        }
        0
    });
}

#[test]
fn notify_signal_does_not_wake_an_uninterruptible_sleep() {
    run(2, || {
        // When the 150 ms sleep began and when the work ran (counter ticks; 0: not yet), so
        // that a slow host, which may let the sleep end before this thread looks, cannot make
        // a cut-short sleep and a full one look alike.
        let began = Arc::new(AtomicU64::new(0));
        let ran_at = Arc::new(AtomicU64::new(0));
        let b2 = began.clone();
        let t = kthread::run("tw-signal-unint", move || {
            b2.store(now(), Ordering::SeqCst);
            sched::sleep(Duration::from_millis(150));
            while !kthread::should_stop() {
                sched::sleep(Duration::from_millis(1));
            }
            0
        })
        .unwrap();
        assert!(wait_for(1_000, || t.state() == State::Sleeping));
        let r2 = ran_at.clone();
        let w = TaskWork::new("s", move |_| r2.store(now(), Ordering::SeqCst));
        add(t.thread(), w, Notify::Signal).unwrap();
        assert!(
            wait_for(5_000, || ran_at.load(Ordering::SeqCst) != 0),
            "ran when the sleep ended"
        );
        let slept = ran_at.load(Ordering::SeqCst) - began.load(Ordering::SeqCst);
        assert!(
            slept >= 150 * MS,
            "Signal cut an uninterruptible sleep short: ran {} ms into it",
            slept / MS
        );
        kthread::stop(&t);
        0
    });
}

#[test]
fn notify_signal_interrupts_a_thread_running_on_another_cpu() {
    run(2, || {
        let log = Arc::new(Log::default());
        let go = Arc::new(AtomicBool::new(true));
        let g2 = go.clone();
        let spinning = Arc::new(AtomicBool::new(false));
        let s2 = spinning.clone();
        let seen_while_spinning = Arc::new(AtomicBool::new(false));
        let log2 = log.clone();
        let seen2 = seen_while_spinning.clone();
        // A busy thread that never sleeps, yields or parks while `go` is set.
        let t = kthread::run("tw-spin", move || {
            s2.store(true, Ordering::SeqCst);
            while g2.load(Ordering::SeqCst) {
                spin_for(Duration::from_micros(200));
                if log2.len() == 1 {
                    seen2.store(true, Ordering::SeqCst);
                }
            }
            while !kthread::should_stop() {
                sched::sleep(Duration::from_millis(1));
            }
            0
        })
        .unwrap();
        assert!(wait_for(500, || spinning.load(Ordering::SeqCst)));
        assert!(wait_for(500, || t.state() == State::Running));
        add(t.thread(), log.work("ipi"), Notify::Signal).unwrap();
        let ran = wait_for(500, || log.len() == 1);
        assert!(ran, "the SGI made the busy thread run its work");
        assert!(wait_for(100, || seen_while_spinning.load(Ordering::SeqCst)));
        assert_eq!(log.tids(), [t.tid()]);
        go.store(false, Ordering::SeqCst);
        kthread::stop(&t);
        0
    });
}

#[test]
fn nmi_current_is_for_the_calling_thread_only() {
    run(2, || {
        let log = Arc::new(Log::default());
        let t = sleeper("tw-nmi");
        let w = log.work("n");
        assert_eq!(
            add(t.thread(), w.clone(), Notify::NmiCurrent),
            Err(Error::Invalid)
        );
        assert!(!w.is_queued(), "a refused work stays unqueued");
        assert_eq!(pending(t.thread()), 0);
        // On itself: accepted, flagged from hard-IRQ context by this CPU's irq_work, and run on
        // the way out of that interrupt, i.e. as soon as interrupts are enabled again.
        let me = sched::current().unwrap();
        let p = crate::port::port();
        let cpu = p.cpu_id();
        let irq_runs = irq_work_runs(cpu);
        let saved = p.irq_save();
        add(&me, w, Notify::NmiCurrent).unwrap();
        assert_eq!(log.len(), 0, "not run while interrupts are masked");
        assert!(
            !me.notify_resume.load(Ordering::Acquire),
            "the flag comes from the irq_work"
        );
        p.irq_restore(saved);
        assert_eq!(
            log.names(),
            ["n"],
            "ran on the return from the irq_work interrupt"
        );
        assert_eq!(log.tids(), [me.tid()]);
        assert_eq!(irq_work_runs(cpu), irq_runs + 1, "through an irq_work");
        kthread::stop(&t);
        0
    });
}

#[test]
fn add_after_exit_is_esrch_and_not_queued() {
    run(2, || {
        let log = Arc::new(Log::default());
        let t = sleeper("tw-exited");
        kthread::stop(&t);
        let w = log.work("late");
        assert_eq!(
            add(t.thread(), w.clone(), Notify::Signal),
            Err(Error::NoSuchThread)
        );
        assert_eq!(Error::NoSuchThread.name(), "ESRCH");
        assert!(!w.is_queued());
        assert_eq!(pending(t.thread()), 0);
        sched::sleep(Duration::from_millis(10));
        assert_eq!(log.len(), 0);
        0
    });
}

#[test]
fn works_run_lifo_and_list_shows_lifo() {
    run(2, || {
        let log = Arc::new(Log::default());
        let t = sleeper("tw-lifo");
        kthread::park(&t).unwrap();
        for n in ["1", "2", "3"] {
            add(t.thread(), log.work(n), Notify::Resume).unwrap();
        }
        assert_eq!(list(t.thread()), ["3", "2", "1"]);
        assert_eq!(pending(t.thread()), 3);
        kthread::unpark(&t);
        assert!(wait_for(500, || log.len() == 3));
        assert_eq!(log.names(), ["3", "2", "1"]);
        kthread::stop(&t);
        0
    });
}

#[test]
fn a_work_adding_a_work_runs_it_in_the_same_pass() {
    run(2, || {
        let log = Arc::new(Log::default());
        let t = sleeper("tw-chain");
        kthread::park(&t).unwrap();
        let child = log.work("child");
        let (l2, c2) = (log.clone(), child.clone());
        let parent = TaskWork::new("parent", move |w| {
            l2.push(w.name());
            let me = sched::current().unwrap();
            // None: only the running pass can pick it up before exit.
            add(&me, c2.clone(), Notify::None).unwrap();
        });
        add(t.thread(), parent, Notify::Resume).unwrap();
        kthread::unpark(&t);
        assert!(
            wait_for(500, || log.len() == 2),
            "the child ran in the pass"
        );
        assert_eq!(log.names(), ["parent", "child"]);
        assert_eq!(log.tids(), [t.tid(), t.tid()]);
        kthread::stop(&t);
        assert_eq!(log.len(), 2);
        0
    });
}

#[test]
fn a_work_can_requeue_itself_and_runs_once_per_add() {
    run(2, || {
        let count = Arc::new(AtomicU32::new(0));
        let c2 = count.clone();
        let t = sleeper("tw-requeue");
        let w = TaskWork::new("requeue:3", move |w| {
            if c2.fetch_add(1, Ordering::SeqCst) + 1 < 3 {
                let me = sched::current().unwrap();
                add(&me, w.clone(), Notify::Resume).unwrap();
            }
        });
        add(t.thread(), w.clone(), Notify::Resume).unwrap();
        assert_eq!(
            add(t.thread(), w.clone(), Notify::Resume),
            Err(Error::Busy),
            "queued twice"
        );
        assert!(wait_for(500, || count.load(Ordering::SeqCst) == 3));
        sched::sleep(Duration::from_millis(10));
        assert_eq!(count.load(Ordering::SeqCst), 3);
        assert!(!w.is_queued());
        kthread::stop(&t);
        0
    });
}

#[test]
fn works_added_during_the_exit_pass_still_run() {
    run(2, || {
        let log = Arc::new(Log::default());
        let t = sleeper("tw-exit-chain");
        let child = log.work("child");
        let (l2, c2) = (log.clone(), child.clone());
        let parent = TaskWork::new("parent", move |w| {
            l2.push(w.name());
            let me: Arc<Thread> = sched::current().unwrap();
            assert!(me.is_exiting(), "runs in the exit pass");
            add(&me, c2.clone(), Notify::None).unwrap();
        });
        add(t.thread(), parent, Notify::None).unwrap();
        kthread::stop(&t);
        assert_eq!(log.names(), ["parent", "child"]);
        assert!(!child.is_queued());
        0
    });
}

#[test]
fn cancel_removes_the_work_and_it_never_runs() {
    run(2, || {
        let log = Arc::new(Log::default());
        let t = sleeper("tw-cancel");
        kthread::park(&t).unwrap();
        let keep = log.work("keep");
        let gone = log.work("gone");
        add(t.thread(), keep.clone(), Notify::Resume).unwrap();
        add(t.thread(), gone.clone(), Notify::Resume).unwrap();
        assert!(cancel(t.thread(), &gone));
        assert!(!gone.is_queued());
        assert!(!cancel(t.thread(), &gone), "cancelled twice");
        assert_eq!(list(t.thread()), ["keep"]);
        kthread::unpark(&t);
        assert!(wait_for(500, || log.len() == 1));
        kthread::stop(&t);
        assert_eq!(log.names(), ["keep"], "the cancelled work ran");
        assert!(!cancel(t.thread(), &keep), "cancel after it ran");
        0
    });
}

#[test]
fn cancel_func_removes_the_most_recent_with_that_function() {
    run(2, || {
        let log = Arc::new(Log::default());
        let t = sleeper("tw-cancel-func");
        kthread::park(&t).unwrap();
        let first = log.work("count");
        let other = log.work("log");
        let second = log.work("count");
        for w in [&first, &other, &second] {
            add(t.thread(), (*w).clone(), Notify::None).unwrap();
        }
        let got = cancel_func(t.thread(), "count").unwrap();
        assert!(Arc::ptr_eq(&got, &second), "not the most recent");
        assert!(cancel_func(t.thread(), "nothing").is_none());
        assert_eq!(list(t.thread()), ["log", "count"]);
        kthread::stop(&t);
        assert_eq!(log.names(), ["log", "count"]);
        0
    });
}

#[test]
fn cancel_racing_run_never_both_take_a_work() {
    run(4, || {
        let ran = Arc::new(AtomicUsize::new(0));
        let wakes = Arc::new(AtomicUsize::new(0));
        let t = interruptible("tw-race", wakes);
        let mut cancelled = 0;
        for i in 0..200 {
            let r2 = ran.clone();
            let w = TaskWork::new("race", move |_| {
                r2.fetch_add(1, Ordering::SeqCst);
            });
            add(t.thread(), w.clone(), Notify::Signal).unwrap();
            if i % 3 != 0 {
                spin_for(Duration::from_micros(20 * (i % 7)));
            }
            cancelled += cancel(t.thread(), &w) as usize;
        }
        kthread::stop(&t);
        assert_eq!(ran.load(Ordering::SeqCst) + cancelled, 200);
        0
    });
}

/// irq_work callbacks run on `cpu` so far.
fn irq_work_runs(cpu: usize) -> u64 {
    crate::cpu::snapshot(cpu).map_or(0, |s| s.irq_work_runs)
}

/// A boundary crossed inside a callback does not start a nested run: a work that queues another
/// (notifying) on its own thread and then sleeps finishes before the new work starts, which the
/// run loop picks up after it.
#[test]
fn a_sleep_inside_a_callback_starts_no_nested_run() {
    run(2, || {
        let log = Arc::new(Log::default());
        let t = sleeper("tw-nested");
        kthread::park(&t).unwrap();
        let child = log.work("child");
        let (l2, c2) = (log.clone(), child.clone());
        let parent = TaskWork::new("parent", move |_| {
            l2.push("parent-start");
            let me = sched::current().unwrap();
            add(&me, c2.clone(), Notify::Resume).unwrap();
            // A kernel boundary, with the notify flag set.
            sched::sleep(Duration::from_millis(2));
            l2.push("parent-end");
        });
        add(t.thread(), parent, Notify::Resume).unwrap();
        kthread::unpark(&t);
        assert!(wait_for(500, || log.len() == 3));
        assert_eq!(log.names(), ["parent-start", "parent-end", "child"]);
        assert_eq!(log.tids(), [t.tid(); 3]);
        kthread::stop(&t);
        0
    });
}

/// Only `Signal` interrupts the target with a reschedule SGI, and only when the target is
/// running on another CPU: `SignalNoIpi` to a running thread and `Signal` to a parked one send
/// none (the SGIs the adding thread sends, read from the trace, outside interrupt handlers).
#[test]
fn only_signal_to_a_thread_running_elsewhere_sends_an_sgi() {
    use crate::trace::{self, Class, Kind};
    run(2, || {
        let log = Arc::new(Log::default());
        let go = Arc::new(AtomicBool::new(true));
        let g2 = go.clone();
        // Spins on CPU 1 without crossing a boundary while `go` is set, then sleeps or parks.
        let t = kthread::create_on_cpu("tw-sgi-target", 1, move || {
            while g2.load(Ordering::SeqCst) {
                spin_for(Duration::from_micros(100));
            }
            while !kthread::should_stop() {
                if kthread::should_park() {
                    kthread::parkme();
                    continue;
                }
                sched::sleep(Duration::from_millis(1));
            }
            0
        })
        .unwrap();
        kthread::wake_up_process(&t);
        assert!(wait_for(500, || t.state() == State::Running));
        trace::start(&[Class::Irq, Class::Mark], 4096).unwrap();
        // The adds, from a thread on CPU 0; the test's thread waits without a timer meanwhile.
        let done = Arc::new(crate::wait::Completion::new());
        let (d2, l2, g3, target) = (done.clone(), log.clone(), go.clone(), t.clone());
        let adder = kthread::create_on_cpu("tw-sgi-adder", 0, move || {
            let mut bad = 0;
            trace::record(Kind::Mark, 1, 0);
            bad += i32::from(add(target.thread(), l2.work("signal"), Notify::Signal).is_err());
            trace::record(Kind::Mark, 2, 0);
            bad += i32::from(add(target.thread(), l2.work("no-ipi"), Notify::SignalNoIpi).is_err());
            trace::record(Kind::Mark, 3, 0);
            g3.store(false, Ordering::SeqCst);
            bad += i32::from(kthread::park(&target).is_err());
            trace::record(Kind::Mark, 4, 0);
            bad += i32::from(add(target.thread(), l2.work("parked"), Notify::Signal).is_err());
            trace::record(Kind::Mark, 5, 0);
            d2.complete();
            bad
        })
        .unwrap();
        kthread::wake_up_process(&adder);
        done.wait();
        assert_eq!(join(&adder), 0, "every add accepted");
        trace::stop();
        // The adder's events, outside interrupts: SGIs sent between each pair of marks.
        let mut sent: Vec<(u64, u64)> = Vec::new();
        for cpu in trace::snapshot() {
            let (mut depth, mut window) = (0u32, 0);
            for e in cpu.events {
                match e.kind {
                    Kind::IrqEnter => depth += 1,
                    Kind::IrqExit => depth = depth.saturating_sub(1),
                    Kind::Mark if e.tid == adder.tid() => window = e.a,
                    Kind::SgiSend
                        if e.tid == adder.tid()
                            && depth == 0
                            && e.a == u64::from(crate::port::Sgi::Resched.id()) =>
                    {
                        sent.push((window, e.b));
                    }
                    _ => {}
                }
            }
        }
        assert!(
            sent.contains(&(1, 1 << 1)),
            "Signal interrupted CPU 1: {sent:?}"
        );
        assert!(
            sent.iter().all(|&(w, _)| w != 2),
            "SignalNoIpi sent an SGI: {sent:?}"
        );
        assert!(
            sent.iter().all(|&(w, _)| w != 4),
            "Signal to a parked thread sent an SGI: {sent:?}"
        );
        kthread::unpark(&t);
        assert!(wait_for(500, || log.len() == 3));
        kthread::stop(&t);
        0
    });
}

#[test]
fn a_set_notify_flag_is_always_counted_and_the_count_balances() {
    // The way out of an interrupt only looks at the interrupted thread's flag while some flag
    // is counted: a flag set but not counted would be missed at every interrupt exit.
    run(2, || {
        let log = Arc::new(Log::default());
        let t = sleeper("tw-count");
        kthread::park(&t).unwrap();
        add(t.thread(), log.work("c"), Notify::Resume).unwrap();
        assert!(t.thread().notify_resume.load(Ordering::Acquire));
        assert!(sched::thread::any_notified(), "a set flag is counted");
        // Setting it again counts nothing more: two clears would otherwise leave the count
        // short of a third thread's flag.
        t.thread().set_notify();
        t.thread().clear_notify();
        assert!(!t.thread().notify_resume.load(Ordering::Acquire));
        t.thread().clear_notify();
        t.thread().set_notify();
        assert!(sched::thread::any_notified(), "set again: counted again");
        kthread::unpark(&t);
        assert!(wait_for(500, || log.len() == 1), "ran after unpark");
        assert!(!t.thread().notify_resume.load(Ordering::Acquire));
        kthread::stop(&t);
        0
    });
}
