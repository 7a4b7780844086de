//! A pool: one kthread running the [`Work`] items queued on it, in order. The engine under both
//! kthread workers (one pool each) and workqueues (one pool per CPU): queueing, delayed queueing
//! on a per-CPU timer, mod, flush, cancel (with and without waiting), and a destroy that loses
//! nothing.
//!
//! # One owner per work
//! A work is attached to one pool ([`super::item`]). While it is busy there, queueing it on a pool
//! of another owner (another workqueue, or a kthread worker) is refused with [`Error::Busy`] and
//! changes nothing; queueing it on another pool of the same workqueue puts it on the pool it is
//! busy on, so that a work never runs on two CPUs at once (Linux's non-reentrancy). An idle work
//! stays attached (queueing it on the same pool again needs no lock) until it is queued through
//! another pool, which first detaches it from the old one under that pool's lock. The state
//! machine (`state`) never touches a work that is attached elsewhere.
//!
//! # Destroy
//! [`Pool::destroy`] closes the pool to new work but its own (a work queueing itself again, as
//! Linux's `drain_workqueue` allows), cancels the works still waiting for their timer (and
//! reports them), then runs the list until it is empty and no work runs; a work that keeps
//! queueing itself after the owner's works made [`DRAIN_LIMIT`] queueings during the drain is
//! cancelled and reported too (a bound in queueings, not in time, so that whether a chain of a
//! given length drains does not depend on how fast the machine runs): the pool
//! is frozen (its thread takes no more works), the running work is waited for, and what is left on
//! the list is taken off. (A workqueue freezes all its pools before it waits, so that a work of
//! one CPU cannot queue onto another CPU's pool after that pool was emptied.) Only then is the pool
//! dead and its thread stopped. A pool whose thread is stopped directly (`kthread::stop`) does the same
//! from that thread, printing what it cancelled, so a work is never stranded in a pool that no
//! longer runs: queueing on a dead pool fails with [`Error::Shutdown`].
//!
//! # Model checking
//! The state machine is a set of functions over the pool's `Inner`, written against `Lock` and an
//! `Env` for what needs the rest of the kernel: the module `state`. The kernel runs them under the
//! pool's [`IrqSpinLock`] with `KernelEnv`; the loom models in the module `loom` run the same
//! functions under loom's mutex, with loom threads playing the timer interrupt, the worker thread
//! and the canceller or modder (`just loom`).

mod state;

#[cfg(all(test, loom))]
mod loom;

use super::item::{Attached, DELAYED, IDLE, Work};
use crate::error::Error;
use crate::kthread::{self, KThread};
use crate::running::{CallbackKind, Running};
use crate::sched::{self, thread::flags as thread_flags};
use crate::sync::IrqSpinLock;
use crate::time::{Duration, Instant};
use crate::timer::{self, TimerId};
use crate::trace::{self, Kind};
use crate::trace_event;
use crate::wait::WaitQueue;
use crate::work::account::{self, Event, WorkKind};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use state::{Env, Inner, Queued, cancel_begin, cancel_done, cancel_end, finish, fire, take_next};

/// How many queueings the works of a queue being destroyed may make (works that queue themselves
/// or each other again) before the destroy cancels what is still queued. Linux's
/// `drain_workqueue` warns after 10 flush rounds and goes on for ever; a round there and here is
/// one or more runs depending on timing, so the bound counts queueings instead.
pub const DRAIN_LIMIT: u64 = 10_000;

/// Who a pool works for: a workqueue (a pool per CPU) or a kthread worker (one pool). Two pools
/// belong to the same owner when they share this `Arc`.
pub(crate) struct Owner {
    /// `workqueue` or `kthread worker`.
    pub(crate) what: &'static str,
    /// The same, for the accounting.
    kind: WorkKind,
    /// The workqueue's or worker's name.
    pub(crate) name: String,
    /// The threads of its pools: while it is destroyed, only they may queue (chained work).
    threads: IrqSpinLock<Vec<KThread>>,
    /// Its name's id for trace events.
    name_id: u16,
}

impl core::fmt::Debug for Owner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} {}", self.what, self.name)
    }
}

impl Owner {
    pub(crate) fn new(kind: WorkKind, name: &str) -> Arc<Owner> {
        Arc::new(Owner {
            what: match kind {
                WorkKind::KthreadWorker => "kthread worker",
                _ => "workqueue",
            },
            kind,
            name: String::from(name),
            threads: IrqSpinLock::new(Vec::new()),
            name_id: trace::intern(name),
        })
    }

    /// Whether the calling thread is one of its pools' threads (a work of this owner running).
    fn is_own_thread(&self) -> bool {
        self.threads
            .lock()
            .iter()
            .any(|t| sched::is_current(t.thread()))
    }
}

/// What a destroy (or a stopped worker thread) cancelled instead of running: the works that were
/// waiting for their timer, and the works that went on queueing themselves after
/// [`DRAIN_LIMIT`] queueings during the drain. Each is idle afterwards and may be queued elsewhere.
#[derive(Debug, Default)]
pub struct Leftovers {
    /// Delayed works whose timer was cancelled.
    pub delayed: Vec<Arc<Work>>,
    /// Works still queueing themselves when the drain gave up.
    pub chained: Vec<Arc<Work>>,
}

impl Leftovers {
    /// Nothing was cancelled.
    pub fn is_empty(&self) -> bool {
        self.delayed.is_empty() && self.chained.is_empty()
    }
}

/// One kthread and the works queued on it.
pub(crate) struct Pool {
    pub(crate) owner: Arc<Owner>,
    /// The CPU its thread is bound to (a workqueue's per-CPU pool), if any.
    pub(crate) cpu: Option<usize>,
    inner: IrqSpinLock<Inner>,
    /// The sequence number of the last work queued here, and the lowest one still queued or
    /// running: a flush waits for the second to pass the first without taking the lock.
    last_seq: AtomicU64,
    settled: AtomicU64,
    more: WaitQueue,
    done: WaitQueue,
    thread: IrqSpinLock<Option<KThread>>,
    /// How many works its thread is running (nested by a flush in place); written by its thread
    /// only. Zero tells any other thread at once that it is not one of this pool's works.
    in_work: AtomicUsize,
    /// Works run to the end here; written by its thread only.
    runs: AtomicU64,
    /// The longest queue-to-start latency (counter ticks) since [`stats`] last read it: raised
    /// by its thread, taken (and zeroed) by [`stats`].
    max_latency: AtomicU64,
}

/// Every pool made, for [`stats`]: weak references (a destroyed queue's pools go away), pruned
/// whenever a pool is added.
static POOLS: IrqSpinLock<Vec<Weak<Pool>>> = IrqSpinLock::new(Vec::new());

/// One pool (a workqueue's worker, or a kthread worker) as [`stats`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// `workqueue` or `kthread worker`.
    pub what: &'static str,
    /// The workqueue's or worker's name.
    pub name: String,
    /// The CPU its thread is bound to (a per-CPU workqueue's worker, or a kthread worker made
    /// for one CPU).
    pub cpu: Option<usize>,
    /// Its thread's id.
    pub tid: Option<sched::Tid>,
    /// Works queued and not started yet.
    pub pending: usize,
    /// Works waiting for their timer.
    pub delayed: usize,
    /// Works running now (more than one only while a work flushes its own queue in place).
    pub running: usize,
    /// Works run to the end since it was made.
    pub runs: u64,
    /// The longest time a work waited from its insertion into the list to its start, among the
    /// works started since the previous call to [`stats`] (zero if none started).
    pub max_latency: Duration,
}

/// Every live pool, oldest first, with its counters. Reads *and resets* each pool's
/// [`PoolStats::max_latency`], so that a periodic reader (`top`) sees the worst latency of each
/// interval.
pub fn stats() -> Vec<PoolStats> {
    let pools: Vec<Arc<Pool>> = POOLS.lock().iter().filter_map(Weak::upgrade).collect();
    pools
        .iter()
        .filter_map(|p| {
            let (pending, delayed, running) = {
                let g = p.inner.lock();
                if g.dead {
                    return None;
                }
                let running = usize::from(g.current.is_some()) + g.nested.len();
                (g.list.len(), g.delayed.len(), running)
            };
            Some(PoolStats {
                what: p.owner.what,
                name: p.owner.name.clone(),
                cpu: p.cpu,
                tid: p.thread().map(|t| t.tid()),
                pending,
                delayed,
                running,
                runs: p.runs.load(Ordering::Relaxed),
                max_latency: crate::time::ticks(p.max_latency.swap(0, Ordering::Relaxed)),
            })
        })
        .collect()
}

/// What owns the thread `tid`, if it is a pool's (a workqueue's worker, or a kthread worker):
/// `("workqueue" | "kthread worker", its name)`. Its owner alone stops, parks or binds it.
pub fn owner_of(tid: sched::Tid) -> Option<(&'static str, String)> {
    let pools: Vec<Arc<Pool>> = POOLS.lock().iter().filter_map(Weak::upgrade).collect();
    pools
        .iter()
        .find(|p| p.thread().is_some_and(|t| t.tid() == tid))
        .map(|p| (p.owner.what, p.owner.name.clone()))
}

/// The counts of the live pools of `kind` ([`crate::work::account`]; a pool that goes away
/// hands its counts to the account first).
#[cfg(not(loom))]
pub(crate) fn live_counts(kind: WorkKind) -> [u64; 4] {
    let pools: Vec<Arc<Pool>> = POOLS.lock().iter().filter_map(Weak::upgrade).collect();
    let mut sum = [0; 4];
    for p in pools.iter().filter(|p| p.owner.kind == kind) {
        let g = p.inner.lock();
        for (s, c) in sum.iter_mut().zip(g.counts) {
            *s += c;
        }
    }
    sum
}

impl Drop for Pool {
    fn drop(&mut self) {
        account::retire(self.owner.kind, self.inner.lock().counts);
    }
}

/// Forgets the pools of an earlier fake system.
#[cfg(all(not(target_os = "none"), not(loom)))]
pub(crate) fn reset_for_fake() {
    POOLS.lock().clear();
}

impl core::fmt::Debug for Pool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Pool")
            .field("owner", &self.owner)
            .field("cpu", &self.cpu)
            .finish()
    }
}

impl Attached for Pool {
    fn owner_name(&self) -> String {
        match self.cpu {
            Some(c) if self.owner.what == "workqueue" => {
                format!("{} {} (cpu{c})", self.owner.what, self.owner.name)
            }
            _ => format!("{} {}", self.owner.what, self.owner.name),
        }
    }
}

/// Owns the pool for its thread's function: if that function never runs (its thread was stopped
/// before it started), dropping it closes the pool, so no work is left in a pool without a
/// thread. After the function ran, the pool is dead already and this does nothing.
struct Closer(Arc<Pool>);

impl Drop for Closer {
    fn drop(&mut self) {
        self.0.close_stopped();
    }
}

/// The pool `work` is attached to, if any.
pub(crate) fn attached(work: &Work) -> Option<Arc<Pool>> {
    let any: Arc<dyn Any + Send + Sync> = work.attached()?;
    any.downcast::<Pool>().ok()
}

impl Pool {
    /// A pool for `owner` whose thread `thread_name` (bound to `cpu`, if given) is created but
    /// not yet woken ([`Pool::start`]).
    pub(crate) fn spawn(
        owner: &Arc<Owner>,
        thread_name: &str,
        cpu: Option<usize>,
    ) -> Result<Arc<Pool>, Error> {
        let pool = Arc::new(Pool {
            owner: owner.clone(),
            cpu,
            inner: IrqSpinLock::new(Inner::new()),
            last_seq: AtomicU64::new(0),
            settled: AtomicU64::new(1),
            more: WaitQueue::new(),
            done: WaitQueue::new(),
            thread: IrqSpinLock::new(None),
            in_work: AtomicUsize::new(0),
            runs: AtomicU64::new(0),
            max_latency: AtomicU64::new(0),
        });
        {
            let mut all = POOLS.lock();
            all.retain(|w| w.strong_count() > 0);
            all.push(Arc::downgrade(&pool));
        }
        let body = {
            let guard = Closer(pool.clone());
            move || {
                guard.0.run_loop();
                0
            }
        };
        let t = kthread::create(thread_name, body)?;
        if let Some(c) = cpu {
            // Bound to `c`; unbound while `c` is offline, running its works elsewhere.
            kthread::hotplug::make_worker(&t, c);
        }
        owner.threads.lock().push(t.clone());
        *pool.thread.lock() = Some(t);
        Ok(pool)
    }

    /// Wakes its thread (once, after [`Pool::spawn`]).
    pub(crate) fn start(&self) {
        if let Some(t) = self.thread.lock().as_ref() {
            kthread::wake_up_process(t);
        }
    }

    /// Its thread, until it is destroyed.
    pub(crate) fn thread(&self) -> Option<KThread> {
        self.thread.lock().clone()
    }

    /// It as a trace event argument: its owner's name and its CPU (all ones: any CPU).
    fn traced(&self) -> u64 {
        trace::tag(self.owner.name_id, self.cpu.map_or(u64::MAX, |c| c as u64))
    }

    /// Its address: what a work attached to it records.
    fn id(&self) -> usize {
        core::ptr::from_ref(self) as usize
    }

    /// Whether the caller is a work running on this pool (so it is the pool's thread). Cheap
    /// when the pool is not running a work (the common case of a flush from elsewhere).
    #[inline]
    fn in_own_work(&self) -> bool {
        self.in_work.load(Ordering::Relaxed) > 0 && self.is_own_thread()
    }

    /// Whether the calling thread is this pool's thread.
    #[inline(never)]
    fn is_own_thread(&self) -> bool {
        self.thread
            .lock()
            .as_ref()
            .is_some_and(|t| sched::is_current(t.thread()))
    }

    /// Works queued and not yet started, and works waiting for their timer.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let g = self.inner.lock();
        (g.list.len(), g.delayed.len())
    }

    /// Whether it is destroyed (or being destroyed).
    pub(crate) fn is_closed(&self) -> bool {
        let g = self.inner.lock();
        g.dead || g.draining
    }

    /// Whether nothing numbered up to `target` is queued or running.
    #[inline]
    fn done_through(&self, target: u64) -> bool {
        self.settled.load(Ordering::Acquire) > target
    }

    /// Blocks until [`Self::done_through`] `target` (the flushes' wait: one out-of-line copy).
    #[inline(never)]
    fn wait_done_through(&self, target: u64) {
        let _ = self.done.wait_event(|| self.done_through(target), None);
    }

    /// Runs the listed works until the list is empty (the thread's loop, and a flush from a
    /// work of this very pool, which runs the list in place instead of waiting for itself).
    /// `running` is the thread's record of the callback it runs, for the watchdog.
    fn run_list(self: &Arc<Self>, running: &Running) {
        let env = KernelEnv::now(self);
        let mut cursor = running.cursor();
        while let Some(work) = take_next(&self.inner) {
            // Only this thread writes it, so a load and a store suffice.
            let depth = self.in_work.load(Ordering::Relaxed);
            self.in_work.store(depth + 1, Ordering::Relaxed);
            trace_event!(Kind::WorkStart, work.traced(), self.traced());
            cursor.begin(CallbackKind::Work, work.name_id());
            let latency = work.execute();
            cursor.end();
            trace_event!(Kind::WorkEnd, work.traced(), self.traced());
            self.in_work.store(depth, Ordering::Relaxed);
            self.runs
                .store(self.runs.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            // Usually not a new maximum: then one load, no read-modify-write.
            if latency > self.max_latency.load(Ordering::Relaxed) {
                self.max_latency.fetch_max(latency, Ordering::Relaxed);
            }
            finish(&self.inner, &env);
            self.done.wake_all();
        }
    }

    /// [`Self::run_list`] from a work of this pool (a flush in place), in its own thread.
    fn run_list_here(self: &Arc<Self>) {
        static NOBODY: Running = Running::new();
        let me = sched::current();
        self.run_list(me.as_ref().map_or(&NOBODY, |t| t.callback()));
    }

    fn run_loop(self: &Arc<Self>) {
        // Its own thread, to see a stop request in the wait condition without the scheduler's
        // lock (`kthread::should_stop` looks the current thread up).
        let me = sched::current().expect("a pool runs in its own kthread");
        let stopping = || me.has_flag(thread_flags::SHOULD_STOP);
        loop {
            let _ = self.more.wait_event(
                || {
                    let g = self.inner.lock();
                    g.dead || (!g.list.is_empty() && !g.frozen) || stopping()
                },
                None,
            );
            self.run_list(me.callback());
            if stopping() {
                self.close_stopped();
            }
            let g = self.inner.lock();
            if g.dead && g.list.is_empty() {
                break;
            }
        }
    }

    /// Where to queue `work` when asked to queue it here: `None` for this pool, or the pool of the
    /// same owner it is busy on; [`Error::Busy`] if it is busy on another owner's pool. An idle
    /// work attached to another pool is detached from it first.
    #[inline]
    fn target_for(self: &Arc<Self>, work: &Arc<Work>) -> Result<Option<Arc<Pool>>, Error> {
        if work.attached_to(self.id()) || work.attached_to(0) {
            return Ok(None);
        }
        self.target_elsewhere(work)
    }

    /// [`Pool::target_for`] when `work` is attached to another pool.
    #[cold]
    #[inline(never)]
    fn target_elsewhere(self: &Arc<Self>, work: &Arc<Work>) -> Result<Option<Arc<Pool>>, Error> {
        loop {
            if work.attached_to(self.id()) || work.attached_to(0) {
                return Ok(None);
            }
            let Some(p) = attached(work) else { continue };
            if p.detach_if_idle(work) {
                continue;
            }
            if Arc::ptr_eq(&p.owner, &self.owner) {
                return Ok(Some(p));
            }
            return Err(Error::Busy);
        }
    }

    /// Detaches `work` from this pool if it is idle here; whether it is not attached here now.
    fn detach_if_idle(&self, work: &Work) -> bool {
        let g = self.inner.lock();
        if !work.attached_to(self.id()) {
            return true;
        }
        let idle = work.is_idle() && g.running(work).is_none();
        if idle {
            work.detach();
        }
        idle
    }

    /// Queues `work` here after `delay` (at once for zero), Linux's `queue_work` /
    /// `queue_delayed_work` / `kthread_queue_(delayed_)work`: `Ok(false)` if it is already
    /// pending (queued or delayed) or being cancelled. [`Error::Busy`] if it belongs to another
    /// owner; [`Error::Shutdown`] if the pool is destroyed (or being destroyed, and the caller is
    /// not one of its works).
    pub(crate) fn queue(
        self: &Arc<Self>,
        work: &Arc<Work>,
        delay: Duration,
    ) -> Result<bool, Error> {
        let deadline = deadline(delay);
        // Where it goes: here, unless the state machine finds it attached elsewhere.
        let mut other: Option<Arc<Pool>> = None;
        loop {
            let target = other.as_ref().unwrap_or(self);
            let env = KernelEnv {
                pool: target,
                deadline,
            };
            let closed = || !target.owner.is_own_thread();
            match state::queue(&target.inner, &env, work, deadline.is_some(), closed) {
                Queued::No => return Ok(false),
                Queued::Armed => return Ok(true),
                Queued::Listed => {
                    crate::fault::delay(crate::fault::Site::Wake);
                    target.more.wake_all();
                    return Ok(true);
                }
                Queued::Dead => return Err(Error::Shutdown),
                Queued::Elsewhere => other = self.target_elsewhere(work)?,
            }
        }
    }

    /// Linux's `mod_delayed_work_on` / `kthread_mod_delayed_work`: queues `work` after `delay` if
    /// idle (`Ok(false)`), else moves its deadline to `delay` from now (`Ok(true)`; a queued work
    /// goes back to waiting, or is queued at once for zero). While a cancel is in progress it does
    /// nothing and returns `Ok(true)`. A work pending on another pool of the same owner is taken
    /// off there first. Errors as [`Pool::queue`].
    pub(crate) fn mod_delayed(
        self: &Arc<Self>,
        work: &Arc<Work>,
        delay: Duration,
    ) -> Result<bool, Error> {
        let deadline = deadline(delay);
        let mut was_elsewhere = false;
        loop {
            let target = match self.target_for(work)? {
                None => self.clone(),
                // Busy on another CPU's pool of this workqueue: take it off there, and move it
                // here once nothing of it is left there (a running work stays where it runs).
                Some(other) => match other.cancel(work, false) {
                    None => continue,
                    Some(was) => {
                        was_elsewhere |= was;
                        if other.detach_if_idle(work) {
                            continue;
                        }
                        other
                    }
                },
            };
            if let Some(was) = target.mod_here(work, deadline)? {
                return Ok(was || was_elsewhere);
            }
        }
    }

    /// [`Pool::mod_delayed`] on this pool; `Ok(None)` if `work` is attached elsewhere.
    fn mod_here(
        self: &Arc<Self>,
        work: &Arc<Work>,
        deadline: Option<Instant>,
    ) -> Result<Option<bool>, Error> {
        let env = KernelEnv {
            pool: self,
            deadline,
        };
        let closed = || !self.owner.is_own_thread();
        let delayed = deadline.is_some();
        let (was, what) = state::mod_delayed(&self.inner, &env, work, delayed, closed);
        match what {
            Queued::Dead => Err(Error::Shutdown),
            Queued::Elsewhere => Ok(None),
            Queued::Listed => {
                self.more.wake_all();
                Ok(Some(was))
            }
            Queued::No | Queued::Armed => Ok(Some(was)),
        }
    }

    /// Cancels `work` here: takes it off its timer or list; with `sync`, also waits for a run in
    /// progress, queueing being blocked meanwhile (so a work queueing itself again is stopped).
    /// `None` if it is not attached here.
    #[inline(never)]
    fn cancel(self: &Arc<Self>, work: &Arc<Work>, sync: bool) -> Option<bool> {
        let env = KernelEnv::now(self);
        let (was, running) = cancel_begin(&self.inner, &env, work)?;
        if let (true, Some(seq)) = (sync, running) {
            let _ = crate::wait::wait_event_dyn(
                &self.done,
                &mut || cancel_done(&self.inner, seq),
                None,
            );
        }
        cancel_end(work);
        Some(was)
    }

    /// Waits until everything queued here before the call has run (not works queued meanwhile,
    /// nor delayed works still waiting for their timer). From this pool's own thread (a work
    /// flushing its own queue), the list is run in place instead.
    #[inline]
    pub(crate) fn flush(self: &Arc<Self>) {
        let target = self.last_seq.load(Ordering::Acquire);
        if !self.done_through(target) {
            self.flush_through(target);
        }
        // (Else nothing queued or running: nothing to wait for.)
    }

    /// [`Pool::flush`] when there is something to wait for.
    #[inline(never)]
    fn flush_through(self: &Arc<Self>, target: u64) {
        if self.in_own_work() {
            self.run_in_place();
            return;
        }
        self.wait_done_through(target);
    }

    /// Runs the list from a work of this pool (its own thread), keeping the interrupted run on
    /// record so that cancels and flushes still wait for it.
    fn run_in_place(self: &Arc<Self>) {
        {
            let mut g = self.inner.lock();
            if let Some(cur) = g.current.take() {
                g.nested.push(cur);
            }
        }
        self.run_list_here();
        let mut g = self.inner.lock();
        g.current = g.nested.pop();
    }

    /// Destroys the pool: see the module documentation. Must not be called from one of its own
    /// works. Returns what it cancelled instead of running.
    pub(crate) fn destroy(self: &Arc<Self>) -> Leftovers {
        let left = self.close();
        self.stop_thread();
        left
    }

    /// Closes, drains and kills the pool ([`Pool::close_begin`], rounds of [`Pool::drain_round`],
    /// [`Pool::close_end`]).
    fn close(self: &Arc<Self>) -> Leftovers {
        let mut left = Leftovers {
            delayed: self.close_begin(),
            chained: Vec::new(),
        };
        while !self.drain_round() && self.queued_while_draining() < DRAIN_LIMIT {}
        self.freeze();
        self.wait_idle();
        let (chained, delayed) = self.close_end();
        left.chained = chained;
        left.delayed.extend(delayed);
        left
    }

    /// The first step of a destroy: from now on only the owner's own works may queue here, and
    /// the works waiting for their timer are cancelled (returned, idle).
    pub(crate) fn close_begin(self: &Arc<Self>) -> Vec<Arc<Work>> {
        let mut g = self.inner.lock();
        g.draining = true;
        g.drain_from = g.next_seq;
        disarm_all(&mut g, &KernelEnv::now(self))
    }

    /// How many queueings were made here since [`Pool::close_begin`].
    pub(crate) fn queued_while_draining(&self) -> u64 {
        let g = self.inner.lock();
        g.next_seq - g.drain_from
    }

    /// Its thread stopped without a destroy (`kthread::stop`, before or after it started): leaves
    /// nothing behind, and says what it cancelled (there is nobody to return it to).
    fn close_stopped(self: &Arc<Self>) {
        if self.inner.lock().dead {
            return;
        }
        let left = self.close();
        for w in left.delayed.iter().chain(&left.chained) {
            log_cancelled(self, w);
        }
    }

    /// One round of a destroy's drain: runs (from the pool's own thread) or waits for what is
    /// queued or running now. Returns whether there was nothing (then a work can no longer
    /// queue more, since none of this pool runs).
    pub(crate) fn drain_round(self: &Arc<Self>) -> bool {
        let (idle, target) = {
            let g = self.inner.lock();
            let idle = g.list.is_empty() && g.current.is_none() && g.nested.is_empty();
            (idle, g.next_seq - 1)
        };
        if idle {
            return true;
        }
        if self.is_own_thread() {
            self.run_list_here();
        } else {
            self.wait_done_through(target);
        }
        false
    }

    /// After the drain rounds: its thread takes no more works off the list (a work still
    /// running may add to it). Then [`Pool::wait_idle`].
    pub(crate) fn freeze(&self) {
        self.inner.lock().frozen = true;
    }

    /// Waits until no work runs here (after [`Pool::freeze`], none starts), so that nothing
    /// queues here any more but from another pool of the owner, itself frozen and idle.
    pub(crate) fn wait_idle(&self) {
        let _ = self.done.wait_event(
            || {
                let g = self.inner.lock();
                g.current.is_none() && g.nested.is_empty()
            },
            None,
        );
    }

    /// The last step of a destroy, once every pool of the owner is frozen and idle: cancels what
    /// is still queued (works that went on queueing themselves) and any timer armed meanwhile,
    /// and marks the pool dead. Returns both, idle.
    pub(crate) fn close_end(self: &Arc<Self>) -> (Vec<Arc<Work>>, Vec<Arc<Work>>) {
        let (chained, delayed) = {
            let mut g = self.inner.lock();
            let mut chained = Vec::new();
            while let Some((_, w)) = g.list.pop_front() {
                w.pending.store(IDLE, Ordering::Release);
                g.count(Event::Cancelled);
                chained.push(w);
            }
            self.settled.store(g.min_outstanding(), Ordering::Release);
            let delayed = disarm_all(&mut g, &KernelEnv::now(self));
            g.dead = true;
            (chained, delayed)
        };
        // Flushers of the works taken off the list wait no longer.
        self.done.wake_all();
        (chained, delayed)
    }

    /// Stops the pool's thread once it is dead (it exits when its list is empty).
    pub(crate) fn stop_thread(&self) {
        self.more.wake_all();
        let t = self.thread.lock().take();
        if let Some(t) = t {
            kthread::stop(&t);
        }
    }
}

/// Cancels the timers of every delayed work of a pool and leaves them idle; returns them.
fn disarm_all(g: &mut Inner, env: &KernelEnv<'_>) -> Vec<Arc<Work>> {
    let delayed = g.delayed.clone();
    for w in &delayed {
        g.disarm(env, w);
        w.pending.store(IDLE, Ordering::Release);
        g.count(Event::Cancelled);
    }
    delayed
}

/// Prints one line about a work a stopped pool cancelled (there is no caller to return it to).
fn log_cancelled(pool: &Pool, w: &Work) {
    crate::kprintln!(
        "{}: its thread was stopped; work {} cancelled",
        pool.owner_name(),
        w.name()
    );
}

/// Linux's `flush_work` / `kthread_flush_work`: waits until `work` has run if it is queued or
/// running now; returns whether it waited (false: it was idle, or only waiting for its timer).
pub(crate) fn flush_work(work: &Arc<Work>) -> bool {
    let Some(p) = attached(work) else {
        return false;
    };
    let target = {
        let g = p.inner.lock();
        if !work.attached_to(p.id()) {
            return false;
        }
        let queued = g
            .list
            .iter()
            .find(|(_, d)| Arc::ptr_eq(d, work))
            .map(|(s, _)| *s);
        match queued.or_else(|| g.running(work)) {
            Some(s) => s,
            None => return false,
        }
    };
    p.wait_done_through(target);
    true
}

/// Linux's `flush_delayed_work`: a work waiting for its timer is queued at once, then
/// [`flush_work`]. Returns whether it waited.
pub(crate) fn flush_delayed_work(work: &Arc<Work>) -> bool {
    if let Some(p) = attached(work) {
        let env = KernelEnv::now(&p);
        let seq = work.timer_seq.load(Ordering::Acquire);
        if work.pending.load(Ordering::Acquire) == DELAYED
            && let Some(target) = fire(&p.inner, &env, work, seq)
        {
            // Wait for this very queueing (it may even have run already when we look).
            p.more.wake_all();
            p.wait_done_through(target);
            return true;
        }
    }
    flush_work(work)
}

/// Cancels `work` wherever it is attached: Linux's `cancel_work_sync` (`sync`: also waits for a
/// run in progress, queueing blocked meanwhile) or `cancel_delayed_work` (takes it off its timer
/// or list, may race a running callback). Returns whether it was pending.
pub(crate) fn cancel(work: &Arc<Work>, sync: bool) -> bool {
    loop {
        let Some(p) = attached(work) else {
            return false;
        };
        if let Some(was) = p.cancel(work, sync) {
            return was;
        }
    }
}

/// When a work queued with `delay` is due: `None` for at once. Taken when the queueing call
/// starts, so that waiting for the pool's lock does not add to the delay.
fn deadline(delay: Duration) -> Option<Instant> {
    (!delay.is_zero()).then(|| Instant::after(delay))
}

/// The kernel's [`Env`]: real timers (due at `deadline`), the attachment to `pool`.
struct KernelEnv<'a> {
    pool: &'a Arc<Pool>,
    deadline: Option<Instant>,
}

impl<'a> KernelEnv<'a> {
    /// For steps that arm nothing (the timer's fire, cancel, destroy, the thread's loop).
    fn now(pool: &'a Arc<Pool>) -> Self {
        KernelEnv {
            pool,
            deadline: None,
        }
    }
}

impl Env for KernelEnv<'_> {
    #[inline]
    fn own(&self, work: &Arc<Work>) -> bool {
        work.attach(|| self.pool.clone(), self.pool.id())
    }
    #[inline]
    fn here(&self, work: &Arc<Work>) -> bool {
        work.attached_to(self.pool.id())
    }
    fn arm_timer(&self, work: &Arc<Work>, seq: u64) {
        let deadline = self.deadline.unwrap_or_else(Instant::now);
        trace_event!(Kind::TimerArm, work.traced(), deadline.ticks());
        let (p, wk) = (self.pool.clone(), work.clone());
        let action = move || {
            trace_event!(Kind::TimerFire, wk.traced(), 0);
            // Interrupt context: only queue. A cancel or re-arm since then bumped the sequence.
            if fire(&p.inner, &KernelEnv::now(&p), &wk, seq).is_some() {
                p.more.wake_all();
            }
        };
        let id = timer::arm(deadline, timer::Action::Call(Box::new(action)));
        *work.timer.lock() = Some(id);
    }
    fn cancel_timer(&self, id: TimerId) {
        timer::cancel(id);
    }
    fn inserted(&self, work: &Arc<Work>, seq: u64) {
        trace_event!(Kind::WorkQueue, work.traced(), self.pool.traced());
        work.mark_queued();
        self.pool.last_seq.store(seq, Ordering::Release);
    }
    fn settled(&self, min: u64) {
        self.pool.settled.store(min, Ordering::Release);
    }
}
