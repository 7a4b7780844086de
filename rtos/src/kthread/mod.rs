//! Kernel threads with the contracts of Linux's `kernel/kthread.c`.
//!
//! - [`create`]: the thread exists but does not run until woken ([`wake_up_process`]); [`run`] is
//!   create + wake. Creation fails with [`Error::NoMemory`] when no stack (or thread slot) is left,
//!   never panics. The full name (up to [`MAX_NAME`] bytes) is kept; at most [`MAX_THREADS`]
//!   kthreads exist (not yet collected) at once.
//! - [`create_on_cpu`] / [`bind`]: binding is only legal while the thread is not running (created,
//!   or parked and off its CPU). A per-CPU thread (from `create_on_cpu`) is re-bound to its CPU
//!   when unparked.
//! - The thread polls [`should_stop`], [`should_park`] or [`should_stop_or_park`] and calls
//!   [`parkme`], which parks it (state `parked`, and signals the parker) until unparked.
//! - [`park`]: sets should-park, wakes the thread and waits until it is really parked (parked
//!   state *and* switched off its CPU), not just flagged. [`Error::Exited`] (ENOSYS) if the thread
//!   has exited; parking an already parked (or being-parked) thread is [`Error::Busy`]; called by
//!   the thread on itself it only sets the flag. A thread parked before it ever ran parks without
//!   calling its function.
//! - [`unpark`]: clears should-park, re-binds a per-CPU thread, wakes it from parked; a no-op if
//!   it is not parked. A per-CPU thread whose CPU is offline stays parked until the CPU comes back
//!   (unless it is being stopped); CPU hotplug parks and unparks per-CPU threads itself
//!   ([`crate::hotplug`]).
//! - [`stop`]: sets should-stop, unparks, wakes, waits for the exit and returns the thread
//!   function's result. A thread that was never woken never runs its function, and `stop` returns
//!   `-EINTR` (-4).
//! - [`exit`] ends the calling thread with a result; returning from the thread function is the
//!   same as `exit` with its value. The exit runs the thread's task works (their final pass),
//!   then wakes whoever waits in [`stop`].
//! - `park` and `stop` sleep until the thread is parked or exited ([`wait_var_event`] on the
//!   thread, woken by [`parkme`] and [`exit`]), never by spinning on a flag. The `_until` variants
//!   take a deadline; on timeout the request stays set (a later `stop` or `park` still sees it),
//!   as a user at the shell expects.
//!
//! # Example
//! A kthread that polls its stop and park requests, parked, unparked and stopped:
//!
//! ```
//! use rtos::{kthread, sched, time::Duration};
//! rtos::fake::run(2, || {
//!     let t = kthread::run("poller", || {
//!         while !kthread::should_stop() {
//!             if kthread::should_park() {
//!                 kthread::parkme();
//!             }
//!             sched::sleep(Duration::from_millis(1));
//!         }
//!         7
//!     })
//!     .unwrap();
//!     kthread::park(&t).unwrap(); // returns once it is parked and off its CPU
//!     assert_eq!(t.state(), sched::State::Parked);
//!     kthread::unpark(&t);
//!     assert_eq!(kthread::stop(&t), 7); // what its function returned
//!     0
//! });
//! ```

pub(crate) mod hotplug;
pub mod kthreadd;

use crate::config::{DEFAULT_PRIORITY, MAX_CPUS, PRIORITIES};
pub use crate::config::{MAX_NAME, MAX_THREADS};
use crate::error::Error;
use crate::sched::{self, State, Thread, ThreadInfo, Tid, thread::Entry, thread::flags};
use crate::sync::IrqSpinLock;
use crate::time::Instant;
use crate::trace::{self, Kind};
use crate::trace_event;
use crate::wait::{wait_var_event, wake_up_var};
use crate::work::task_work;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

/// Every kthread not yet collected, sorted by tid (a sorted `Vec`: for at most [`MAX_THREADS`]
/// entries it is as quick as a `BTreeMap` and a few KiB less code).
static REGISTRY: IrqSpinLock<Vec<Arc<Thread>>> = IrqSpinLock::new(Vec::new());

/// Where `tid` is in the registry (`Ok`), or where it would go (`Err`).
fn slot(reg: &[Arc<Thread>], tid: Tid) -> Result<usize, usize> {
    reg.binary_search_by_key(&tid, |t| t.tid())
}

/// Takes `tid` out of the registry; whether it was there.
fn unregister(tid: Tid) -> bool {
    let mut reg = REGISTRY.lock();
    match slot(&reg, tid) {
        Ok(i) => {
            reg.remove(i);
            true
        }
        Err(_) => false,
    }
}

/// A handle to a kthread.
#[derive(Clone, Debug)]
pub struct KThread(Arc<Thread>);

impl KThread {
    /// The thread.
    pub fn thread(&self) -> &Arc<Thread> {
        &self.0
    }
    /// Thread id.
    pub fn tid(&self) -> Tid {
        self.0.tid()
    }
    /// Full name.
    pub fn name(&self) -> &str {
        self.0.name()
    }
    /// Current state.
    pub fn state(&self) -> State {
        self.0.state()
    }
    /// A snapshot for `ps`.
    pub fn info(&self) -> ThreadInfo {
        self.0.info()
    }
}

/// How to create a kthread.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Priority (default [`DEFAULT_PRIORITY`]).
    pub prio: Option<u8>,
    /// Create bound to this CPU as a per-CPU thread (`create_on_cpu`).
    pub cpu: Option<usize>,
}

fn check_cpu(cpu: usize) -> Result<u32, Error> {
    let online = sched::online_mask();
    if cpu >= MAX_CPUS || online & (1 << cpu) == 0 {
        return Err(Error::Invalid);
    }
    Ok(1 << cpu)
}

/// Creates a kthread running `f`, not yet woken.
pub fn create_with(
    name: &str,
    opts: Options,
    f: impl FnOnce() -> i32 + Send + 'static,
) -> Result<KThread, Error> {
    let body = boxed_body(f);
    let creator = *CREATOR.lock();
    match creator {
        Some(through) => through(name, opts, body),
        None => create_boxed(name, opts, body),
    }
}

/// How [`create_with`] makes a thread once `kthreadd` runs: [`kthreadd::start`] installs its
/// request path here (so this module, below `kthreadd`, never calls it). `None`: directly.
type Creator = fn(&str, Options, Entry) -> Result<KThread, Error>;
static CREATOR: IrqSpinLock<Option<Creator>> = IrqSpinLock::new(None);

/// Installs (or with `None` removes) the path [`create_with`] takes.
fn set_creator(c: Option<Creator>) {
    *CREATOR.lock() = c;
}

/// A thread's entry running `f`: the start gate, then `f`, then the exit. The only generic part
/// of a creation; the rest is one copy for every caller.
fn boxed_body(f: impl FnOnce() -> i32 + Send + 'static) -> Entry {
    Box::new(move |me: Arc<Thread>| -> i32 {
        // Stopped before it started: its function never runs (what it holds is dropped when
        // this closure returns).
        let result = match start_gate(&me) {
            Some(r) => r,
            None => f(),
        };
        // Returns, so that what this closure's box holds is freed; the scheduler then ends
        // the thread through `exit_hook`.
        drop(me);
        result
    })
}

/// What a new kthread does before its function: `Some(result)` if it must not run it (stopped
/// before it started). Parks first if asked to.
#[inline(never)]
fn start_gate(me: &Arc<Thread>) -> Option<i32> {
    if me.has_flag(flags::SHOULD_STOP) {
        return Some(Error::Interrupted.errno());
    }
    if me.has_flag(flags::SHOULD_PARK) {
        parkme();
    } else {
        // The boundary `parkme` ends with: works queued before the first start run now.
        sched::resume_boundary();
    }
    None
}

#[inline(never)]
fn create_boxed(name: &str, opts: Options, body: Entry) -> Result<KThread, Error> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(Error::Invalid);
    }
    let allowed = match opts.cpu {
        Some(cpu) => check_cpu(cpu)?,
        // Any CPU, now or once it comes online (placement looks at the online ones).
        None => sched::ALL_CPUS,
    };
    let mut reg = REGISTRY.lock();
    if reg.iter().any(|t| t.name() == name) {
        return Err(Error::Exists);
    }
    if reg.len() >= MAX_THREADS || crate::fault::fail_alloc() {
        return Err(Error::NoMemory);
    }
    let prio = opts.prio.unwrap_or(DEFAULT_PRIORITY);
    let t = sched::create_thread(String::from(name), prio, allowed, body).ok_or(Error::NoMemory)?;
    if let Some(cpu) = opts.cpu {
        t.bound_cpu.store(cpu, Ordering::Release);
        t.set_flag(flags::IS_PER_CPU);
    }
    if let Err(i) = slot(&reg, t.tid()) {
        reg.insert(i, t.clone());
    }
    drop(reg);
    trace_event!(
        Kind::KthreadCreate,
        u64::from(t.tid()),
        u64::from(trace::intern(name))
    );
    Ok(KThread(t))
}

/// Creates a kthread, not yet woken (`kthread_create`).
#[doc(alias = "kthread_create")]
pub fn create(name: &str, f: impl FnOnce() -> i32 + Send + 'static) -> Result<KThread, Error> {
    create_with(name, Options::default(), f)
}

/// Creates a per-CPU kthread bound to `cpu`, not yet woken (`kthread_create_on_cpu`).
#[doc(alias = "kthread_create_on_cpu")]
pub fn create_on_cpu(
    name: &str,
    cpu: usize,
    f: impl FnOnce() -> i32 + Send + 'static,
) -> Result<KThread, Error> {
    create_with(
        name,
        Options {
            cpu: Some(cpu),
            ..Options::default()
        },
        f,
    )
}

/// Creates and wakes a kthread (`kthread_run`).
#[doc(alias = "kthread_run")]
pub fn run(name: &str, f: impl FnOnce() -> i32 + Send + 'static) -> Result<KThread, Error> {
    let t = create(name, f)?;
    wake_up_process(&t);
    Ok(t)
}

/// Wakes a created or sleeping thread; returns whether it changed its state.
pub fn wake_up_process(t: &KThread) -> bool {
    sched::wake_up_process(&t.0)
}

/// Binds `t` to `cpu`. Only while `t` is created, or parked and off its CPU.
#[doc(alias = "kthread_bind")]
pub fn bind(t: &KThread, cpu: usize) -> Result<(), Error> {
    let mask = check_cpu(cpu)?;
    if t.0.is_exiting() {
        return Err(Error::Exited);
    }
    let idle = match t.0.state() {
        State::Created => true,
        State::Parked => !t.0.on_cpu(),
        _ => false,
    };
    if !idle {
        return Err(Error::Busy);
    }
    // The home CPU of a per-CPU thread (create_on_cpu) stays: unpark re-binds it there.
    sched::set_allowed(&t.0, mask);
    Ok(())
}

/// Whether `t` refuses [`park`] and [`stop`] by itself (`kthreadd`, which every thread
/// creation depends on).
pub fn refuses_park_stop(t: &KThread) -> bool {
    t.0.has_flag(flags::NO_PARK_STOP)
}

/// Changes `t`'s priority.
pub fn set_priority(t: &KThread, prio: u8) -> Result<(), Error> {
    if prio as usize >= PRIORITIES {
        return Err(Error::Invalid);
    }
    if t.0.is_exiting() {
        return Err(Error::Exited);
    }
    sched::set_priority(&t.0, prio);
    Ok(())
}

fn current_has(f: u32) -> bool {
    sched::with_current(|t| t.has_flag(f)).unwrap_or(false)
}

/// Whether [`stop`] was called on the calling thread.
#[doc(alias = "kthread_should_stop")]
pub fn should_stop() -> bool {
    current_has(flags::SHOULD_STOP)
}

/// Whether [`park`] was called on the calling thread.
#[doc(alias = "kthread_should_park")]
pub fn should_park() -> bool {
    current_has(flags::SHOULD_PARK)
}

/// Whether the calling thread should stop or park.
#[doc(alias = "kthread_should_stop_or_park")]
pub fn should_stop_or_park() -> bool {
    current_has(flags::SHOULD_STOP | flags::SHOULD_PARK)
}

/// Parks the calling thread while should-park is set: state `parked`, the parker is signalled,
/// and the thread stays off the CPU until [`unpark`].
#[doc(alias = "kthread_parkme")]
pub fn parkme() {
    let Some(me) = sched::current() else { return };
    let p = crate::port::port();
    loop {
        sched::set_current_state(State::Parked);
        if !me.has_flag(flags::SHOULD_PARK) {
            sched::set_current_state(State::Running);
            break;
        }
        trace_event!(Kind::KthreadPark, u64::from(me.tid()), 0);
        // As Linux: no preemption between telling the parker and blocking, or the parker (woken
        // here, maybe more urgent) would run while this thread is still queued and only wait
        // for it again. With interrupts masked the wake-up cannot switch away.
        let saved = p.irq_save();
        wake_up_var(&*me);
        sched::schedule();
        p.irq_restore(saved);
    }
    drop(me);
    sched::resume_boundary();
}

/// Ends the calling thread with `result` (what [`stop`] returns).
#[doc(alias = "kthread_exit")]
pub fn exit(result: i32) -> ! {
    exit_hook(sched::current().expect("exit from a thread"), result)
}

/// The exit of kthread `me` (the calling thread), as Linux's `do_exit` for a kthread: the result
/// is kept for [`stop`]; the thread is marked exiting, so task_work adds from other threads fail
/// from here on, and runs its task works' final pass; then it is marked exited, whoever waits
/// for that is woken, and it leaves the CPU for good. The end of every thread whose entry
/// returned ([`sched::set_exit_hook`], wired by [`crate::entry`]) and of [`exit`] (which, not
/// returning, leaves what its caller's frames hold behind: prefer returning from the function).
pub(crate) fn exit_hook(me: Arc<Thread>, result: i32) -> ! {
    me.result.store(result, Ordering::Release);
    trace_event!(
        Kind::KthreadExit,
        u64::from(me.tid()),
        trace::tag(trace::intern(me.name()), u64::from(result as u32))
    );
    me.set_flag(flags::EXITING);
    task_work::run_at_exit(&me);
    sched::set_current_state(State::Exited);
    wake_up_var(&*me);
    drop(me);
    sched::exit_current()
}

/// Parks `t` and waits, without a time limit, until it is parked.
#[doc(alias = "kthread_park")]
pub fn park(t: &KThread) -> Result<(), Error> {
    park_until(t, None)
}

/// Parks `t`, waiting until it is parked or `deadline` passes ([`Error::TimedOut`]; should-park
/// stays set). A thread that exits instead of parking gives [`Error::Exited`].
pub fn park_until(t: &KThread, deadline: Option<Instant>) -> Result<(), Error> {
    let k = &t.0;
    if k.has_flag(flags::NO_PARK_STOP) {
        return Err(Error::NotPermitted);
    }
    if k.is_exiting() {
        return Err(Error::Exited);
    }
    if k.has_flag(flags::SHOULD_PARK) {
        return Err(Error::Busy);
    }
    k.set_flag(flags::SHOULD_PARK);
    if sched::is_current(k) {
        return Ok(());
    }
    sched::wake_up_process(k);
    let waited = wait_var_event(
        &**k,
        || matches!(k.state(), State::Parked | State::Exited),
        deadline,
    );
    if k.is_exiting() {
        return Err(Error::Exited);
    }
    if waited.is_err() {
        return Err(Error::TimedOut);
    }
    // Really parked: in the parked state, switched off its CPU and off the run queue (a
    // thread preempted before it blocked is still queued): Linux's wait_task_inactive.
    while (k.on_cpu() || k.on_rq.load(Ordering::Acquire)) && k.state() == State::Parked {
        sched::yield_now();
    }
    Ok(())
}

/// Unparks `t`: clears should-park, re-binds a per-CPU thread, wakes it. No-op if not parked.
#[doc(alias = "kthread_unpark")]
pub fn unpark(t: &KThread) {
    let k = &t.0;
    if !k.has_flag(flags::SHOULD_PARK) {
        return;
    }
    if stays_parked(k) {
        return; // its CPU is offline: unparked when it comes back
    }
    if k.has_flag(flags::IS_PER_CPU) {
        let cpu = k.bound_cpu.load(Ordering::Acquire);
        if let Ok(mask) = check_cpu(cpu) {
            sched::set_allowed(k, mask);
        }
    }
    k.clear_flag(flags::SHOULD_PARK | flags::HOTPLUG_PARKED);
    trace_event!(Kind::KthreadUnpark, u64::from(k.tid()), 0);
    sched::try_wake(k, &[State::Parked]);
}

/// [`unpark`]'s hotplug rule: whether a per-CPU thread must stay parked because its CPU is
/// offline (then it is marked for that CPU's online). A thread being stopped never stays.
fn stays_parked(k: &sched::Thread) -> bool {
    if !k.has_flag(flags::IS_PER_CPU) || k.has_flag(flags::SHOULD_STOP) {
        return false;
    }
    let cpu = k.bound_cpu.load(Ordering::Acquire);
    // Parked, or never woken (woken later, it parks before its function: `start_gate`).
    let parked = matches!(k.state(), State::Parked | State::Created);
    if sched::online_mask() & (1 << cpu) != 0 || !parked {
        return false;
    }
    k.set_flag(flags::HOTPLUG_PARKED);
    // The CPU may have come back since the check, its online already past this thread: then it
    // is unparked now after all (a second unpark by the online finds nothing to do).
    core::sync::atomic::fence(Ordering::SeqCst);
    if sched::online_mask() & (1 << cpu) != 0 {
        k.clear_flag(flags::HOTPLUG_PARKED);
        return false;
    }
    true
}

/// Stops `t` and returns its result, waiting as long as it takes.
#[doc(alias = "kthread_stop")]
pub fn stop(t: &KThread) -> i32 {
    match stop_until(t, None) {
        Ok(r) => r,
        Err(e) => e.errno(),
    }
}

/// Stops `t`: sets should-stop, unparks and wakes it, waits for its exit until `deadline`, and
/// returns the thread function's result (`-EINTR` if it was never woken). On timeout the stop
/// request stays set. Once stopped, the thread leaves the registry.
pub fn stop_until(t: &KThread, deadline: Option<Instant>) -> Result<i32, Error> {
    let k = &t.0;
    if k.has_flag(flags::NO_PARK_STOP) {
        return Err(Error::NotPermitted);
    }
    k.set_flag(flags::SHOULD_STOP);
    trace_event!(Kind::KthreadStop, u64::from(k.tid()), 0);
    unpark(t);
    sched::wake_up_process(k);
    // A cold wait: the condition behind a `dyn` (one copy of the waiting code).
    let exited: &mut dyn FnMut() -> bool = &mut || k.state() == State::Exited;
    wait_var_event(&**k, exited, deadline).map_err(|_| Error::TimedOut)?;
    unregister(k.tid());
    Ok(k.result.load(Ordering::Acquire))
}

/// Forgets an exited thread (its result is lost); returns whether it was exited and known.
pub fn reap(t: &KThread) -> bool {
    if t.0.state() != State::Exited {
        return false;
    }
    unregister(t.tid())
}

/// Finds a kthread by tid (decimal) or by name.
pub fn find(key: &str) -> Option<KThread> {
    let reg = REGISTRY.lock();
    if let Some(i) = key.parse::<Tid>().ok().and_then(|tid| slot(&reg, tid).ok()) {
        return Some(KThread(reg[i].clone()));
    }
    reg.iter()
        .find(|t| t.name() == key)
        .map(|t| KThread(t.clone()))
}

/// Every kthread still known (running, parked, or exited but not collected), by tid.
pub fn list() -> Vec<KThread> {
    REGISTRY.lock().iter().map(|t| KThread(t.clone())).collect()
}

/// Calls `f` with the tid and name of the kthread whose stack (or the `guard` bytes below it)
/// contains `addr`, for reporting a stack overflow by name. Runs in the fault path: it only
/// try-locks and never allocates; returns false if it found nobody (or a lock was busy).
pub fn with_owner_of_stack(addr: usize, guard: usize, f: impl FnOnce(Tid, &str)) -> bool {
    let Some(reg) = REGISTRY.try_lock() else {
        return false;
    };
    let owner = reg.iter().find(|t| {
        t.stack
            .try_lock()
            .and_then(|s| *s)
            .is_some_and(|s| addr >= s.base.saturating_sub(guard) && addr < s.top())
    });
    match owner {
        Some(t) => {
            f(t.tid(), t.name());
            true
        }
        None => false,
    }
}

/// Forgets every kthread (the fake port's fresh start).
#[cfg(all(not(target_os = "none"), not(loom)))]
pub(crate) fn reset_for_fake() {
    REGISTRY.lock().clear();
    set_creator(None);
}
