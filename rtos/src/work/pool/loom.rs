//! The pool state machine (kthread workers and workqueues) under loom: the functions the kernel calls (`state`'s `queue`,
//! `mod_delayed`, `fire`, `take_next`, `finish`, the cancel steps) under loom's
//! mutex, with loom threads as the timer interrupt, the worker thread and the canceller or
//! modder. The work function itself (it needs the port's clock) is not called: the worker
//! counts a run where the kernel calls `Work::execute`.

use super::state::{
    Env, Inner, Queued, cancel_begin, cancel_done, cancel_end, finish, fire, mod_delayed, queue,
    take_next,
};
use crate::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use crate::timer::TimerId;
use crate::work::account::Event;
use crate::work::item::{DELAYED, IDLE, QUEUED, Work};
use ::loom::sync::Mutex;
use alloc::sync::Arc;

/// Records the timer sequence number armed last instead of arming a timer.
struct ModelEnv {
    armed: AtomicU64,
}

impl Env for ModelEnv {
    fn own(&self, _: &Arc<Work>) -> bool {
        true
    }
    fn here(&self, _: &Arc<Work>) -> bool {
        true
    }
    fn arm_timer(&self, _: &Arc<Work>, seq: u64) {
        self.armed.store(seq, Ordering::Release);
    }
    fn cancel_timer(&self, _: TimerId) {
        unreachable!("the model arms no real timers");
    }
    fn inserted(&self, _: &Arc<Work>, _: u64) {}
    fn settled(&self, _: u64) {}
}

struct Model {
    lock: Mutex<Inner>,
    env: ModelEnv,
    work: Arc<Work>,
    runs: AtomicUsize,
}

impl Model {
    fn new() -> Arc<Self> {
        Arc::new(Model {
            lock: Mutex::new(Inner::new()),
            env: ModelEnv {
                armed: AtomicU64::new(0),
            },
            work: Work::new("w", |_| {}),
            runs: AtomicUsize::new(0),
        })
    }

    /// The worker thread's inner loop (`Pool::run_loop`) until the list is empty.
    fn worker_pass(&self) {
        while let Some(w) = take_next(&self.lock) {
            // Work::execute, without the clock: the function "runs", then stops running.
            self.runs.fetch_add(1, Ordering::AcqRel);
            w.running.fetch_sub(1, Ordering::AcqRel);
            finish(&self.lock, &self.env);
            self.check();
        }
    }

    /// The timer interrupt of the arm numbered `seq`.
    fn fire(&self, seq: u64) -> bool {
        let fired = fire(&self.lock, &self.env, &self.work, seq).is_some();
        self.check();
        fired
    }

    /// `Pool::cancel` (sync) after the owner lookup, with `begun` set once the first half is done
    /// and the wait on `done` as a yielding loop. Then checks "after cancel returns the work
    /// is not queued, not armed and not running".
    fn cancel(&self, begun: &AtomicBool) -> bool {
        let (was, running) = cancel_begin(&self.lock, &self.env, &self.work).expect("attached");
        begun.store(true, Ordering::Release);
        self.check();
        if let Some(seq) = running {
            while !cancel_done(&self.lock, seq) {
                ::loom::thread::yield_now();
            }
        }
        {
            let g = self.lock.lock().unwrap();
            assert_eq!(self.work.pending.load(Ordering::Acquire), IDLE);
            assert!(
                g.running(&self.work).is_none(),
                "still running after cancel"
            );
            assert!(g.list.is_empty() && g.delayed.is_empty());
        }
        cancel_end(&self.work);
        was
    }

    /// "A work is never on the list twice", and its pending state matches where it is.
    fn check(&self) {
        let g = self.lock.lock().unwrap();
        let w = &self.work;
        let listed = g.list.iter().filter(|(_, d)| Arc::ptr_eq(d, w)).count();
        let delayed = g.delayed.iter().filter(|d| Arc::ptr_eq(d, w)).count();
        let expect = match w.pending.load(Ordering::Acquire) {
            IDLE => (0, 0),
            QUEUED => (1, 0),
            DELAYED => (0, 1),
            p => panic!("bad pending state {p}"),
        };
        assert_eq!(
            (listed, delayed),
            expect,
            "list/delayed membership vs pending"
        );
    }

    /// Nothing pending, running or cancelling any more, and the accounting balances: every
    /// submission executed or cancelled exactly once, and the executions are the runs.
    fn check_settled(&self) {
        self.check();
        assert_eq!(self.work.pending.load(Ordering::Acquire), IDLE);
        assert_eq!(self.work.running.load(Ordering::Acquire), 0);
        assert_eq!(self.work.canceling.load(Ordering::Acquire), 0);
        let counts = self.lock.lock().unwrap().counts;
        let n = |ev: Event| counts[ev as usize];
        assert_eq!(
            n(Event::Submitted),
            n(Event::Executed) + n(Event::Cancelled),
            "submitted != executed + cancelled"
        );
        assert_eq!(n(Event::Executed), self.runs.load(Ordering::Acquire) as u64);
    }
}

/// A delayed work's timer fires while the worker runs its list and another thread cancels
/// it. Checks: "cancel returns true iff the work was pending, and that pending instance
/// never runs" (here: true iff it never runs, false iff it ran once); "a timer superseded by
/// the cancel never queues the work"; "after cancel returns, the work is not queued and
/// does not run again"; "a work is never on the list twice". (3 threads.)
#[test]
fn loom_kworker_cancel_vs_timer_vs_run() {
    ::loom::model(|| {
        let m = Model::new();
        assert_eq!(
            queue(&m.lock, &m.env, &m.work, true, || false),
            Queued::Armed
        );
        let seq = m.env.armed.load(Ordering::Acquire);
        let begun = Arc::new(AtomicBool::new(false));

        let timer = {
            let (m, begun) = (m.clone(), begun.clone());
            ::loom::thread::spawn(move || {
                let stale = begun.load(Ordering::Acquire);
                let fired = m.fire(seq);
                assert!(!(stale && fired), "a cancelled timer queued the work");
            })
        };
        let worker = {
            let m = m.clone();
            ::loom::thread::spawn(move || m.worker_pass())
        };

        let was = m.cancel(&begun);
        let runs_at_cancel = m.runs.load(Ordering::Acquire);

        timer.join().unwrap();
        worker.join().unwrap();
        m.worker_pass();
        let runs = m.runs.load(Ordering::Acquire);
        assert_eq!(runs, runs_at_cancel, "ran after cancel returned");
        assert_eq!(runs, usize::from(!was), "cancel's result vs runs");
        m.check_settled();
    });
}

/// A delayed work's first timer fires while the worker runs its list and another thread
/// re-arms it with `kthread_mod_delayed_work`; then the second timer fires. Checks: "a timer
/// superseded by mod never queues the work"; the re-armed timer does; mod returns whether
/// the work was pending, and the work runs once per instance (twice iff mod found it idle,
/// i.e. it had already been taken by the worker); never on the list twice. (3 threads.)
#[test]
fn loom_kworker_mod_vs_timer_vs_run() {
    ::loom::model(|| {
        let m = Model::new();
        assert_eq!(
            queue(&m.lock, &m.env, &m.work, true, || false),
            Queued::Armed
        );
        let seq1 = m.env.armed.load(Ordering::Acquire);
        let modded = Arc::new(AtomicBool::new(false));

        let timer = {
            let (m, modded) = (m.clone(), modded.clone());
            ::loom::thread::spawn(move || {
                let stale = modded.load(Ordering::Acquire);
                let fired = m.fire(seq1);
                assert!(!(stale && fired), "a superseded timer queued the work");
            })
        };
        let worker = {
            let m = m.clone();
            ::loom::thread::spawn(move || m.worker_pass())
        };

        let (was, what) = mod_delayed(&m.lock, &m.env, &m.work, true, || false);
        modded.store(true, Ordering::Release);
        assert_eq!(what, Queued::Armed);
        m.check();
        let seq2 = m.env.armed.load(Ordering::Acquire);
        assert_ne!(seq1, seq2);

        timer.join().unwrap();
        worker.join().unwrap();
        // The re-armed timer expires; nothing superseded it.
        assert!(m.fire(seq2), "the live timer did not queue the work");
        assert!(!m.fire(seq1), "a stale timer queued the work");
        m.worker_pass();
        assert_eq!(m.runs.load(Ordering::Acquire), 1 + usize::from(!was));
        m.check_settled();
    });
}

/// A queued work is re-queued at once by `kthread_mod_delayed_work` (delay 0) while the
/// worker runs its list and another thread cancels it. Checks: "cancel returns true iff the
/// work was pending and that instance never runs", "a cancel in progress wins" (mod does
/// nothing meanwhile), "after cancel returns the work is not queued or running", and runs ==
/// queued instances not cancelled; never on the list twice. (3 threads.)
#[test]
fn loom_kworker_cancel_vs_mod_vs_run() {
    ::loom::model(|| {
        let m = Model::new();
        assert_eq!(
            queue(&m.lock, &m.env, &m.work, false, || false),
            Queued::Listed
        );
        let begun = Arc::new(AtomicBool::new(false));

        let modder = {
            let m = m.clone();
            ::loom::thread::spawn(move || {
                let r = mod_delayed(&m.lock, &m.env, &m.work, false, || false);
                m.check();
                r
            })
        };
        let worker = {
            let m = m.clone();
            ::loom::thread::spawn(move || m.worker_pass())
        };

        let was = m.cancel(&begun);

        let (mod_was, what) = modder.join().unwrap();
        worker.join().unwrap();
        m.worker_pass();
        // Instances: the first queue, plus one if mod found the work idle and listed it.
        let instances = 1 + usize::from(!mod_was && what == Queued::Listed);
        assert!(what != Queued::No || mod_was, "a blocked mod returns true");
        assert_eq!(
            m.runs.load(Ordering::Acquire),
            instances - usize::from(was),
            "runs vs queued instances not cancelled"
        );
        m.check_settled();
    });
}
