//! The task_work list protocol under loom: [`TaskWorks`]' own functions under loom's mutex, with
//! loom threads as the adder, the canceller and the target thread. The target's `exiting` flag (in
//! the kernel, `Thread::flags`) is a loom atomic here, read by the same `refuse` test
//! [`crate::work::task_work::add`] passes.
use super::*;
use crate::sync::atomic::AtomicUsize;
use ::loom::sync::Mutex;

type List = Arc<Mutex<TaskWorks>>;

/// The exit path of [`crate::kthread::exit`] and [`crate::work::task_work::run_at_exit`]: exiting
/// first, then passes that close the list by the lock hold that finds it empty.
fn exit(list: &Mutex<TaskWorks>, exiting: &AtomicBool) {
    exiting.store(true, Ordering::Release);
    while TaskWorks::run_pass(list, true, &Running::new()) > 0 {}
}

fn counting(name: &str, runs: &Arc<AtomicUsize>) -> Arc<TaskWork> {
    let runs = runs.clone();
    TaskWork::new(name, move |_| {
        runs.fetch_add(1, Ordering::Relaxed);
    })
}

/// Another thread adds a work while a third cancels it and the target runs a boundary pass
/// and exits. Checks: "each added work runs at most once; a work whose cancel returned true
/// never runs; a work added successfully runs before the exit completes or was cancelled,
/// never lost; an add after the list is closed fails with ESRCH and leaves the work's queued
/// flag false". (3 threads.)
#[test]
fn loom_task_work_add_cancel_vs_run_and_exit() {
    ::loom::model(|| {
        let list: List = Arc::new(Mutex::new(TaskWorks::new()));
        let exiting = Arc::new(AtomicBool::new(false));
        let closed = Arc::new(AtomicBool::new(false));
        let runs = Arc::new(AtomicUsize::new(0));
        let a = counting("a", &runs);

        let adder = {
            let (list, exiting, closed, a) =
                (list.clone(), exiting.clone(), closed.clone(), a.clone());
            ::loom::thread::spawn(move || {
                let was_closed = closed.load(Ordering::Acquire);
                // Another thread: refused once the target is exiting.
                let r = TaskWorks::add(&*list, a.clone(), || exiting.load(Ordering::Acquire));
                match r {
                    Ok(()) => assert!(!was_closed, "an add after the close succeeded"),
                    Err(e) => {
                        assert_eq!(e, Error::NoSuchThread);
                        assert!(!a.is_queued(), "a refused add left the work queued");
                    }
                }
                r.is_ok()
            })
        };
        let canceller = {
            let (list, a) = (list.clone(), a.clone());
            ::loom::thread::spawn(move || {
                TaskWorks::cancel_match(&*list, |w| core::ptr::eq(w, &*a)).is_some()
            })
        };

        // The target thread: a boundary pass (the run loop), then its exit.
        while TaskWorks::run_pass(&*list, false, &Running::new()) > 0 {}
        exit(&list, &exiting);
        closed.store(true, Ordering::Release);
        let ran = runs.load(Ordering::Relaxed);

        let added = adder.join().unwrap();
        let cancelled = canceller.join().unwrap();
        assert!(ran <= 1, "ran twice");
        assert!(!cancelled || added, "cancelled a work never added");
        if cancelled {
            assert_eq!(ran, 0, "a cancelled work ran");
        } else {
            assert_eq!(
                ran,
                usize::from(added),
                "an added work was lost, or a refused one ran"
            );
        }
        assert_eq!(runs.load(Ordering::Relaxed), ran, "ran after the exit");
        assert!(!a.is_queued());
        let tw = list.lock().unwrap();
        assert!(tw.closed && tw.list.is_empty(), "left on a closed list");
    });
}

/// Another thread adds `a` then `b` while the target runs a boundary pass and exits; `a`'s
/// callback adds `d` from the target itself. Checks: "LIFO within one taken batch" (if `a`
/// and `b` ran in the same pass, `b` ran first), "a callback may add more works; they run
/// in a later pass of the same loop, also in the final pass at exit", and every added work
/// runs exactly once. (2 threads.)
#[test]
fn loom_task_work_lifo_and_adds_from_callbacks_at_exit() {
    ::loom::model(|| {
        let list: List = Arc::new(Mutex::new(TaskWorks::new()));
        let exiting = Arc::new(AtomicBool::new(false));
        // (pass, work) in run order; only the target thread touches these two.
        let log = Arc::new(std::sync::Mutex::new(Vec::<(usize, char)>::new()));
        let pass = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let record = |id: char| {
            let (log, pass) = (log.clone(), pass.clone());
            move || {
                let p = pass.load(Ordering::Relaxed);
                log.lock().unwrap().push((p, id));
            }
        };
        let d = {
            let rec = record('d');
            TaskWork::new("d", move |_| rec())
        };
        let a = {
            let rec = record('a');
            let (list, d) = (list.clone(), d.clone());
            TaskWork::new("a", move |_| {
                rec();
                // From the target itself: accepted even while exiting.
                TaskWorks::add(&*list, d.clone(), || false).expect("self-add in a pass");
            })
        };
        let b = {
            let rec = record('b');
            TaskWork::new("b", move |_| rec())
        };

        let adder = {
            let (list, exiting, a, b) = (list.clone(), exiting.clone(), a.clone(), b.clone());
            ::loom::thread::spawn(move || {
                let refuse = || exiting.load(Ordering::Acquire);
                let ra = TaskWorks::add(&*list, a, refuse).is_ok();
                let rb = TaskWorks::add(&*list, b, refuse).is_ok();
                (ra, rb)
            })
        };

        let pass_loop = |close: bool| loop {
            pass.fetch_add(1, Ordering::Relaxed);
            if TaskWorks::run_pass(&*list, close, &Running::new()) == 0 {
                break;
            }
        };
        pass_loop(false);
        exiting.store(true, Ordering::Release);
        pass_loop(true);
        // "After which every add fails", the thread's own included.
        let e = TaskWork::new("e", |_| {});
        let late = TaskWorks::add(&*list, e.clone(), || false);
        assert_eq!(late, Err(Error::NoSuchThread), "an own add after the close");
        assert!(!e.is_queued());

        let (ra, rb) = adder.join().unwrap();
        assert!(ra || !rb, "b accepted after a was refused");
        let log = log.lock().unwrap().clone();
        let at = |id: char| log.iter().position(|&(_, w)| w == id);
        let count = |id: char| log.iter().filter(|&&(_, w)| w == id).count();
        assert_eq!(count('a'), usize::from(ra));
        assert_eq!(count('b'), usize::from(rb));
        assert_eq!(count('d'), usize::from(ra), "d runs once iff a ran");
        if let (Some(ia), Some(ib)) = (at('a'), at('b'))
            && log[ia].0 == log[ib].0
        {
            assert!(ib < ia, "not LIFO within a pass: {log:?}");
        }
        if let (Some(ia), Some(id)) = (at('a'), at('d')) {
            assert!(log[id].0 > log[ia].0, "d ran in a's pass: {log:?}");
        }
        let tw = list.lock().unwrap();
        assert!(tw.closed && tw.list.is_empty());
        drop(tw);
        assert!(!a.is_queued() && !b.is_queued() && !d.is_queued());
    });
}
