//! A fake port: the kernel core on host threads, for host tests and doctests (built on any target
//! but bare metal).
//!
//! [`run`] boots a fake SMP system: each CPU is a host thread that turns into its idle thread, and
//! every kernel thread is a host thread too. Exactly one host thread per fake CPU runs at a time;
//! `Port::switch` hands a baton from the thread switching out to the one switching in, so the real
//! scheduler code decides who runs where. Time is real (the counter ticks in nanoseconds).
//! Interrupts (timer deadlines, SGIs) are delivered at preemption points: whenever a thread
//! unmasks interrupts (every lock release) or idles, as on hardware where the interrupt is taken
//! the moment it is unmasked. A thread that never calls into the kernel can't be preempted here,
//! unlike on hardware.
//!
//! Only one fake system runs per process at a time ([`run`] serialises). When a run ends, threads
//! left over from it freeze at their next call into the port.

use crate::config::{DEFAULT_PRIORITY, MAX_CPUS};
use crate::entry;
use crate::port::{Context, IrqState, Port, Sgi, Stack, ThreadEntry};
use crate::trace::Kind;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::cell::Cell;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// The interrupt number the fake timer reports in trace events (the generic timer's PPI on the
/// real boards).
const FAKE_TIMER_IRQ: u64 = 30;

std::thread_local! {
    static CPU: Cell<usize> = const { Cell::new(0) };
    static MASKED: Cell<bool> = const { Cell::new(false) };
    /// The run a kernel thread belongs to; 0 for plain host threads (tests calling in directly).
    static GENERATION: Cell<u64> = const { Cell::new(0) };
}

#[derive(Default)]
struct Baton {
    go: Mutex<Option<usize>>,
    cv: Condvar,
}

impl Baton {
    fn give(&self, cpu: usize) {
        *self.go.lock().unwrap() = Some(cpu);
        self.cv.notify_one();
    }
    fn take(&self) -> usize {
        let mut g = self.go.lock().unwrap();
        loop {
            if let Some(cpu) = g.take() {
                return cpu;
            }
            g = self.cv.wait(g).unwrap();
        }
    }
}

struct CpuSignal {
    lock: Mutex<()>,
    cv: Condvar,
}

/// The fake port (install with [`run`]).
pub struct FakePort {
    cpus: AtomicUsize,
    deadlines: [AtomicU64; MAX_CPUS],
    sgis: [AtomicU32; MAX_CPUS],
    signals: [CpuSignal; MAX_CPUS],
    stacks_left: AtomicUsize,
    /// Microseconds a context switch takes before the previous thread is off its CPU.
    switch_delay_us: AtomicU64,
    next_stack: AtomicUsize,
    generation: AtomicU64,
    /// CPU hotplug: the CPU is in `cpu_off`, and whether `cpu_on` released it.
    off: [AtomicBool; MAX_CPUS],
    released: [AtomicBool; MAX_CPUS],
}

const NO_DEADLINE: u64 = u64::MAX;
/// Stack size the fake reports.
pub const STACK_SIZE: usize = 16 * 1024;

static FAKE: FakePort = FakePort {
    cpus: AtomicUsize::new(1),
    deadlines: [const { AtomicU64::new(NO_DEADLINE) }; MAX_CPUS],
    sgis: [const { AtomicU32::new(0) }; MAX_CPUS],
    signals: [const {
        CpuSignal {
            lock: Mutex::new(()),
            cv: Condvar::new(),
        }
    }; MAX_CPUS],
    stacks_left: AtomicUsize::new(usize::MAX),
    switch_delay_us: AtomicU64::new(0),
    next_stack: AtomicUsize::new(0x1000_0000),
    generation: AtomicU64::new(0),
    off: [const { AtomicBool::new(false) }; MAX_CPUS],
    released: [const { AtomicBool::new(false) }; MAX_CPUS],
};

static BATONS: Mutex<Vec<Arc<Baton>>> = Mutex::new(Vec::new());
static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
static RUN: Mutex<()> = Mutex::new(());
/// Threads that stopped in [`FakePort::check_alive`] since the last run ended: the run's end
/// waits until each of its CPUs' running thread has (see [`run_or_hang`]).
static FROZEN: AtomicUsize = AtomicUsize::new(0);

fn baton(word: usize) -> Arc<Baton> {
    BATONS.lock().unwrap()[word - 1].clone()
}

fn new_baton() -> usize {
    let mut b = BATONS.lock().unwrap();
    b.push(Arc::new(Baton::default()));
    b.len()
}

impl FakePort {
    /// Threads of a finished run stop here for good.
    fn check_alive(&self) {
        let mine = GENERATION.with(|g| g.get());
        if mine != 0 && mine != self.generation.load(Ordering::Acquire) {
            FROZEN.fetch_add(1, Ordering::AcqRel);
            loop {
                std::thread::park();
            }
        }
    }

    fn wake_cpu(&self, cpu: usize) {
        let s = &self.signals[cpu];
        let _g = s.lock.lock().unwrap();
        s.cv.notify_all();
    }

    /// Takes pending interrupts of this CPU as hardware would the moment they are unmasked.
    fn deliver(&self) {
        if GENERATION.with(|g| g.get()) == 0 {
            return; // a plain host thread: no CPU, no interrupts
        }
        self.check_alive();
        let cpu = CPU.with(|c| c.get());
        loop {
            let sgis = self.sgis[cpu].swap(0, Ordering::AcqRel);
            let d = self.deadlines[cpu].load(Ordering::Acquire);
            let timer = d != NO_DEADLINE && self.now() >= d;
            if sgis == 0 && !timer {
                return;
            }
            MASKED.with(|m| m.set(true));
            let stats = crate::cpu::stats(cpu);
            if let Some(s) = stats {
                s.irq_enter();
            }
            for sgi in Sgi::ALL {
                if sgis & (1 << sgi.id()) != 0 {
                    if let Some(s) = stats {
                        s.count(crate::cpu::IrqKind::Sgi);
                    }
                    crate::trace_event!(Kind::IrqEnter, u64::from(sgi.id()), 0);
                    entry::sgi(sgi);
                    crate::trace_event!(Kind::IrqExit, u64::from(sgi.id()), 0);
                }
            }
            if timer {
                self.deadlines[cpu].store(NO_DEADLINE, Ordering::Release);
                if let Some(s) = stats {
                    s.count(crate::cpu::IrqKind::Timer);
                }
                crate::trace_event!(Kind::IrqEnter, FAKE_TIMER_IRQ, 0);
                entry::timer_irq();
                crate::trace_event!(Kind::IrqExit, FAKE_TIMER_IRQ, 0);
            }
            if let Some(s) = stats {
                s.irq_leave();
            }
            entry::irq_exit();
            // `preempt_irq` may have switched away and back (possibly to another CPU).
            MASKED.with(|m| m.set(false));
            self.check_alive();
        }
    }
}

impl Port for FakePort {
    fn irq_save(&self) -> IrqState {
        self.check_alive();
        IrqState(MASKED.with(|m| m.replace(true)) as u64)
    }
    fn irq_restore(&self, state: IrqState) {
        MASKED.with(|m| m.set(state.0 != 0));
        if state.0 == 0 {
            self.deliver();
        }
    }
    fn irqs_masked(&self) -> bool {
        MASKED.with(|m| m.get())
    }
    fn irq_enable(&self) {
        MASKED.with(|m| m.set(false));
        self.deliver();
    }
    fn now(&self) -> u64 {
        START.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
    fn ticks_per_second(&self) -> u64 {
        1_000_000_000
    }
    fn set_deadline(&self, deadline: Option<u64>) {
        let cpu = CPU.with(|c| c.get());
        self.deadlines[cpu].store(deadline.unwrap_or(NO_DEADLINE), Ordering::Release);
        self.wake_cpu(cpu);
    }
    fn send_sgi(&self, sgi: Sgi, cpus: u32) {
        for cpu in 0..self.cpus.load(Ordering::Relaxed) {
            if cpus & (1 << cpu) != 0 {
                self.sgis[cpu].fetch_or(1 << sgi.id(), Ordering::AcqRel);
                self.wake_cpu(cpu);
            }
        }
    }
    fn cpu_id(&self) -> usize {
        self.check_alive();
        CPU.with(|c| c.get())
    }
    fn idle(&self) {
        self.check_alive();
        let cpu = CPU.with(|c| c.get());
        let s = &self.signals[cpu];
        let g = s.lock.lock().unwrap();
        if self.sgis[cpu].load(Ordering::Acquire) != 0 {
            return;
        }
        let d = self.deadlines[cpu].load(Ordering::Acquire);
        let wait = if d == NO_DEADLINE {
            Duration::from_millis(5)
        } else {
            Duration::from_nanos(d.saturating_sub(self.now())).min(Duration::from_millis(5))
        };
        let _ = s.cv.wait_timeout(g, wait).unwrap();
    }
    fn cpu_off(&self) -> ! {
        let cpu = CPU.with(|c| c.get());
        self.deadlines[cpu].store(NO_DEADLINE, Ordering::Release);
        self.off[cpu].store(true, Ordering::Release);
        while !self.released[cpu].swap(false, Ordering::AcqRel) {
            self.check_alive();
            let s = &self.signals[cpu];
            let g = s.lock.lock().unwrap();
            if !self.released[cpu].load(Ordering::Acquire) {
                let _ = s.cv.wait_timeout(g, Duration::from_millis(5)).unwrap();
            }
        }
        self.off[cpu].store(false, Ordering::Release);
        // Back as a secondary CPU starts (its old idle thread is gone; this host thread becomes
        // the new one, one level deeper on its stack).
        self.sgis[cpu].store(0, Ordering::Release);
        MASKED.with(|m| m.set(true));
        entry::init_cpu();
        MASKED.with(|m| m.set(false));
        entry::idle_loop()
    }
    fn cpu_on(&self, cpu: usize) -> Result<(), crate::Error> {
        if cpu >= self.cpus.load(Ordering::Relaxed) {
            return Err(crate::Error::Invalid);
        }
        if !self.off[cpu].load(Ordering::Acquire) {
            return Err(crate::Error::Busy);
        }
        self.released[cpu].store(true, Ordering::Release);
        self.wake_cpu(cpu);
        Ok(())
    }
    fn stack_alloc(&self) -> Option<Stack> {
        self.stacks_left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .ok()?;
        let base = self.next_stack.fetch_add(2 * STACK_SIZE, Ordering::Relaxed);
        Some(Stack {
            base,
            size: STACK_SIZE,
        })
    }
    #[allow(unsafe_code)]
    unsafe fn stack_free(&self, _stack: Stack) {
        let _ = self
            .stacks_left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_add(1))
            });
    }
    fn stack_high_water(&self, _stack: &Stack) -> usize {
        0
    }
    fn init_context(&self, _stack: &Stack, entry: ThreadEntry, arg: usize) -> Context {
        let word = new_baton();
        let b = baton(word);
        let generation = self.generation.load(Ordering::Acquire);
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                GENERATION.with(|g| g.set(generation));
                let cpu = b.take();
                CPU.with(|c| c.set(cpu));
                MASKED.with(|m| m.set(true));
                entry(arg)
            })
            .expect("spawn a fake kernel thread");
        Context::new(word)
    }
    #[allow(unsafe_code)]
    unsafe fn switch(&self, from: &Context, to: &Context) {
        self.check_alive();
        if from.get() == 0 {
            from.set(new_baton());
        }
        let mine = baton(from.get());
        let delay = self.switch_delay_us.load(Ordering::Relaxed);
        if delay != 0 {
            std::thread::sleep(Duration::from_micros(delay));
        }
        // This host thread's "registers" are its own: saved as soon as it stops here.
        from.set_on_cpu(false);
        baton(to.get()).give(CPU.with(|c| c.get()));
        let cpu = mine.take();
        CPU.with(|c| c.set(cpu));
        self.check_alive();
    }
}

/// Whether the calling host thread is one of the fake system's CPUs or kthreads (of the run in
/// progress), not a plain host thread such as a test's own.
pub fn on_kernel_cpu() -> bool {
    let mine = GENERATION.with(|g| g.get());
    mine != 0 && FAKE.generation.load(Ordering::Acquire) == mine
}

/// Installs the fake port (if no port is installed yet) and returns the installed one.
pub fn install() -> &'static dyn Port {
    crate::port::install(&FAKE);
    crate::port::port()
}

/// Limits how many more stacks the fake hands out (to test out-of-memory paths).
pub fn set_stack_limit(n: usize) {
    FAKE.stacks_left.store(n, Ordering::Release);
}

/// Makes every context switch take `d` (real time) before the previous thread is off its CPU,
/// to widen the windows where another CPU sees a thread still switching away. Reset by [`run`].
pub fn set_switch_delay(d: Duration) {
    FAKE.switch_delay_us
        .store(d.as_micros() as u64, Ordering::Relaxed);
}

/// Boots a fake system with `cpus` CPUs, runs `main` as a kthread named `main` and returns its
/// result. Serialised: one fake system per process at a time.
///
/// A kernel that hangs fails its test rather than hanging the test binary: `main` must return
/// within 120 s. With `RTOS_FAKE_RUN_LIMIT=S` set (`just mutants`), a hang beyond S seconds
/// ends the whole test process at once (exit status 101), so a mutant that hangs many tests
/// costs one limit, not one per test.
pub fn run(cpus: usize, main: impl FnOnce() -> i32 + Send + 'static) -> i32 {
    let strict = std::env::var("RTOS_FAKE_RUN_LIMIT")
        .ok()
        .and_then(|v| v.parse().ok());
    let limit = std::time::Duration::from_secs(strict.unwrap_or(120));
    match run_or_hang(cpus, limit, main) {
        Ok(r) => r,
        Err(hang) if strict.is_some() => {
            // (Past the test harness's capture, which the exit would swallow.)
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "{hang}; ending the test process");
            std::process::exit(101)
        }
        Err(hang) => panic!("{hang}"),
    }
}

/// [`run`], failing (a panic naming the hang) if `main` has not returned within `limit`.
pub fn run_within(
    cpus: usize,
    limit: std::time::Duration,
    main: impl FnOnce() -> i32 + Send + 'static,
) -> i32 {
    run_or_hang(cpus, limit, main).unwrap_or_else(|hang| panic!("{hang}"))
}

fn run_or_hang(
    cpus: usize,
    limit: std::time::Duration,
    main: impl FnOnce() -> i32 + Send + 'static,
) -> Result<i32, std::string::String> {
    let _one_at_a_time = RUN.lock().unwrap_or_else(|e| e.into_inner());
    let cpus = cpus.clamp(1, MAX_CPUS);
    crate::port::install(&FAKE);
    let generation = FAKE.generation.fetch_add(1, Ordering::AcqRel) + 1;
    FAKE.cpus.store(cpus, Ordering::Release);
    FAKE.stacks_left.store(usize::MAX, Ordering::Release);
    FAKE.switch_delay_us.store(0, Ordering::Relaxed);
    for c in 0..MAX_CPUS {
        FAKE.off[c].store(false, Ordering::Release);
        FAKE.released[c].store(false, Ordering::Release);
    }
    for c in 0..MAX_CPUS {
        FAKE.deadlines[c].store(NO_DEADLINE, Ordering::Release);
        FAKE.sgis[c].store(0, Ordering::Release);
    }
    crate::sched::reset_for_fake();
    crate::trace::stop();
    crate::timer::reset_for_fake();
    crate::kthread::reset_for_fake();
    crate::kthread::kthreadd::reset_for_fake();
    crate::work::workqueue::reset_for_fake();
    crate::work::irq_work::reset_for_fake();
    crate::work::task_work::reset_for_fake();
    crate::work::account::reset_for_fake();
    crate::cpu::reset_for_fake();
    crate::fault::reset_for_fake();
    crate::watchdog::reset_for_fake();

    let (tx, rx) = std::sync::mpsc::channel();
    let ready = Arc::new(AtomicUsize::new(0));
    let main_slot = Arc::new(Mutex::new(Some(main)));
    for cpu in 0..cpus {
        let ready = ready.clone();
        let tx = tx.clone();
        let main_slot = main_slot.clone();
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                GENERATION.with(|g| g.set(generation));
                CPU.with(|c| c.set(cpu));
                MASKED.with(|m| m.set(true));
                entry::init_cpu();
                ready.fetch_add(1, Ordering::AcqRel);
                while ready.load(Ordering::Acquire) < cpus {
                    std::thread::yield_now();
                }
                if cpu == 0 {
                    let main = main_slot.lock().unwrap().take().expect("main");
                    let opts = crate::kthread::Options {
                        prio: Some(DEFAULT_PRIORITY),
                        cpu: None,
                    };
                    let t = crate::kthread::create_with("main", opts, move || {
                        // A failed assertion must fail the test, not abort the process (the
                        // thread entry cannot unwind): carry the panic to the test's thread.
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(main));
                        let code = *r.as_ref().unwrap_or(&-1);
                        let _ = tx.send(r);
                        code
                    })
                    .expect("create main");
                    crate::kthread::wake_up_process(&t);
                    // After `main` (which goes to this CPU, as it always did), before this CPU
                    // runs it: `main` creates its threads through kthreadd.
                    crate::kthread::kthreadd::start().expect("start kthreadd");
                } else {
                    drop(tx);
                }
                // As on hardware, a CPU enters its idle loop with interrupts enabled.
                MASKED.with(|m| m.set(false));
                entry::idle_loop()
            })
            .expect("spawn a fake CPU");
    }
    drop(tx);
    let result = rx.recv_timeout(limit);
    // Freeze everything left from this run, and wait until the thread running on each of its
    // CPUs has stopped (at its next call into the port: an idle CPU within 5 ms): one still in
    // the middle of the scheduler when the next run resets the kernel's state would act on
    // that run's run queues (seen: an idle CPU of a finished run took the next run's kthreadd
    // off its queue, and the next run hung). A thread spinning without calling the port (a hung
    // run) never stops: the wait gives up after a second, as before.
    FROZEN.store(0, Ordering::Release);
    FAKE.generation.fetch_add(1, Ordering::AcqRel);
    for c in 0..MAX_CPUS {
        FAKE.wake_cpu(c);
    }
    let until = Instant::now() + Duration::from_secs(1);
    while FROZEN.load(Ordering::Acquire) < cpus && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(1));
    }
    match result {
        Ok(Ok(r)) => Ok(r),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(std::format!(
            "the kernel's main did not return within {limit:?}: a hang"
        )),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("main never ran"),
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
    }
}

/// Busy-waits for `d` of real time, passing a preemption point on every iteration (as kernel
/// code that calls into the scheduler does), so timer interrupts and SGIs get delivered.
pub fn spin_for(d: Duration) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        // A preemption point per iteration, as kernel code calling into the scheduler has.
        let p = crate::port::port();
        let s = p.irq_save();
        p.irq_restore(s);
        std::hint::spin_loop();
    }
}
