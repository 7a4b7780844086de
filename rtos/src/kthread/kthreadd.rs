//! `kthreadd`: the thread that creates kthreads (Linux's `kthreadd`, `kernel/kthread.c`).
//!
//! A thread that calls [`super::create_with`] (or any `create*`) does not build the new thread
//! itself: it queues a request, wakes `kthreadd` and waits. `kthreadd` creates the thread, which
//! therefore starts from `kthreadd`'s clean state (the priority and CPUs its options give, the
//! defaults otherwise) whatever its creator's were, and hands it back. As in Linux:
//! - the creator's wait ends early when the creator is asked to stop (Linux: a fatal signal): the
//!   call returns [`Error::Interrupted`] (`-EINTR`) and `kthreadd` disposes of the thread it
//!   then creates (it never runs; what its function held is dropped);
//! - `kthreadd` itself cannot be parked or stopped ([`Error::NotPermitted`]);
//! - before `kthreadd` runs (early boot, the board's first threads), from an interrupt or an idle
//!   thread (which cannot wait), and from `kthreadd` itself, a thread is created directly.
//!
//! A request is settled exactly once, by a compare-and-swap on its state: `kthreadd` marks it
//! done, or the interrupted creator marks it abandoned; whoever loses does the other's part.

use super::{KThread, Options, create_boxed};
use crate::error::Error;
use crate::sched::{self, Thread, thread::Entry, thread::flags};
use crate::sync::IrqSpinLock;
use crate::sync::atomic::{AtomicU8, Ordering};
use crate::wait::WaitQueue;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::Arc;

/// Its name, in `ps`.
pub const NAME: &str = "kthreadd";

/// `kthreadd`'s priority: the highest, so that creating a thread is never held up by the threads
/// that are running (its work is short and bounded).
const PRIORITY: u8 = crate::config::SYSTEM_PRIORITY;

const WAITING: u8 = 0;
const DONE: u8 = 1;
const ABANDONED: u8 = 2;

/// One `create` call waiting for `kthreadd`.
struct Request {
    name: String,
    opts: Options,
    body: IrqSpinLock<Option<Entry>>,
    result: IrqSpinLock<Option<Result<KThread, Error>>>,
    state: AtomicU8,
}

/// The requests, oldest first.
static QUEUE: IrqSpinLock<VecDeque<Arc<Request>>> = IrqSpinLock::new(VecDeque::new());
/// `kthreadd` waits here for requests.
static MORE: WaitQueue = WaitQueue::new();
/// Creators wait here for their request to be settled.
static SETTLED: WaitQueue = WaitQueue::new();
/// The running `kthreadd`.
static KTHREADD: IrqSpinLock<Option<Arc<Thread>>> = IrqSpinLock::new(None);

/// Starts `kthreadd` (once; the board does it before its first thread, the fake port per run).
pub fn start() -> Result<(), Error> {
    let mut slot = KTHREADD.lock();
    if slot.is_some() {
        return Ok(());
    }
    let opts = Options {
        prio: Some(PRIORITY),
        cpu: None,
    };
    let t = create_boxed(NAME, opts, super::boxed_body(run))?;
    t.0.set_flag(flags::NO_PARK_STOP);
    *slot = Some(t.0.clone());
    drop(slot);
    super::set_creator(Some(create));
    sched::wake_up_process(&t.0);
    Ok(())
}

/// Creates the thread through `kthreadd` when the caller is a thread that may wait for it, else
/// directly (no `kthreadd` yet, interrupts masked, an idle thread, or `kthreadd` itself).
fn create(name: &str, opts: Options, body: Entry) -> Result<KThread, Error> {
    let direct = {
        let k = KTHREADD.lock();
        match (k.as_ref(), sched::current()) {
            (Some(k), Some(me)) => me.is_idle() || Arc::ptr_eq(k, &me),
            _ => true,
        }
    } || crate::port::try_port().is_none_or(|p| p.irqs_masked());
    if direct {
        return create_boxed(name, opts, body);
    }
    let req = Arc::new(Request {
        name: String::from(name),
        opts,
        body: IrqSpinLock::new(Some(body)),
        result: IrqSpinLock::new(None),
        state: AtomicU8::new(WAITING),
    });
    QUEUE.lock().push_back(req.clone());
    MORE.wake_all();
    // Woken by kthreadd, or by a stop request (kthread::stop wakes any sleeper).
    let stopping = || sched::with_current(|t| t.has_flag(flags::SHOULD_STOP)).unwrap_or(false);
    let _ = SETTLED.wait_event(
        || req.state.load(Ordering::Acquire) != WAITING || stopping(),
        None,
    );
    if req
        .state
        .compare_exchange(WAITING, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        // Interrupted: kthreadd disposes of the request (and of the thread, if it makes one).
        return Err(Error::Interrupted);
    }
    req.result.lock().take().unwrap_or(Err(Error::Interrupted))
}

/// Host tests: while set, `kthreadd` leaves its requests waiting (to interrupt a creator).
#[cfg(test)]
pub(crate) static HOLD: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// `kthreadd`'s body: creates the queued threads, for ever.
fn run() -> i32 {
    loop {
        let _ = MORE.wait_event(|| !QUEUE.lock().is_empty(), None);
        #[cfg(test)]
        while HOLD.load(Ordering::Acquire) {
            sched::sleep(crate::time::Duration::from_millis(1));
        }
        loop {
            let Some(req) = QUEUE.lock().pop_front() else {
                break;
            };
            settle(&req);
        }
    }
}

/// Creates the thread `req` asks for and hands it over, unless its creator gave up meanwhile.
fn settle(req: &Request) {
    if req.state.load(Ordering::Acquire) == ABANDONED {
        return; // (its body is dropped with the request)
    }
    let Some(body) = req.body.lock().take() else {
        return;
    };
    let made = create_boxed(&req.name, req.opts, body);
    *req.result.lock() = Some(made);
    if req
        .state
        .compare_exchange(WAITING, DONE, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        // Abandoned after all: the thread never runs; stopping it drops what its function held.
        if let Some(Ok(t)) = req.result.lock().take() {
            super::stop(&t);
        }
        return;
    }
    SETTLED.wake_all();
}

/// Requests waiting for `kthreadd` now.
pub fn pending() -> usize {
    QUEUE.lock().len()
}

/// Forgets `kthreadd` and its requests (the fake port's fresh start).
#[cfg(all(not(target_os = "none"), not(loom)))]
pub(crate) fn reset_for_fake() {
    #[cfg(test)]
    HOLD.store(false, Ordering::Release);
    *KTHREADD.lock() = None;
    QUEUE.lock().clear();
    MORE.reset_for_fake();
    SETTLED.reset_for_fake();
}
