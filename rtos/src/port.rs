//! The hardware port: everything the kernel core needs from the CPU and its interrupt hardware,
//! and the software-generated interrupts ([`Sgi`]) the kernel sends through it.
//!
//! The lowest layer of the kernel: it names nothing above it. The board support crate implements
//! [`Port`] once for real hardware and links it into the image with
//! [`link_port!`](crate::link_port), so the hot paths call it directly. Host tests install a fake
//! at run time with `install` (the `fake` module). What the port calls back into the kernel (the
//! timer and SGI interrupts, the way back into a thread, the idle loop) is in [`crate::entry`].

#[cfg(not(target_os = "none"))]
use crate::once::OnceRef;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Saved interrupt-mask state, returned by [`Port::irq_save`] and given back to
/// [`Port::irq_restore`]. Opaque to the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqState(pub u64);

/// A thread's saved execution state, as far as the kernel is concerned: one word the port
/// interprets (on AArch64 the saved stack pointer; the registers live on the thread's stack), and
/// whether the thread's registers are live on a CPU.
///
/// The on-CPU flag is set by the scheduler when it switches to the thread and cleared by the
/// port's [`Port::switch`] once the thread's state is saved: until then no other CPU may resume
/// it. Clearing it in the switch itself means the thread switched to has nothing to do for it.
#[derive(Debug, Default)]
#[repr(C)]
pub struct Context {
    word: AtomicUsize,
    on_cpu: AtomicBool,
}

impl Context {
    /// Where the saved word lives, for ports that save it from assembly.
    pub const WORD_OFFSET: usize = core::mem::offset_of!(Context, word);
    /// Where the on-CPU flag (one byte, nonzero = on a CPU) lives, for ports that clear it from
    /// assembly (a release store of zero).
    pub const ON_CPU_OFFSET: usize = core::mem::offset_of!(Context, on_cpu);

    /// A context holding `word`, not on a CPU.
    pub const fn new(word: usize) -> Self {
        Self {
            word: AtomicUsize::new(word),
            on_cpu: AtomicBool::new(false),
        }
    }
    /// The saved word.
    pub fn get(&self) -> usize {
        self.word.load(Ordering::Acquire)
    }
    /// Replaces the saved word.
    pub fn set(&self, word: usize) {
        self.word.store(word, Ordering::Release);
    }
    /// Whether the thread's registers are live on a CPU (running, or still switching away).
    #[inline]
    pub fn on_cpu(&self) -> bool {
        self.on_cpu.load(Ordering::Acquire)
    }
    /// Sets the on-CPU flag (release): the scheduler sets it, the port's switch clears it.
    #[inline]
    pub fn set_on_cpu(&self, on: bool) {
        self.on_cpu.store(on, Ordering::Release);
    }
}

/// A thread stack handed out by the port: `[base, base + size)`, growing down from the top, with
/// an inaccessible guard page just below `base` where the hardware allows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stack {
    /// Lowest usable address.
    pub base: usize,
    /// Usable bytes.
    pub size: usize,
}

impl Stack {
    /// One past the highest usable address (the initial stack pointer).
    pub fn top(&self) -> usize {
        self.base + self.size
    }
}

/// The software-generated interrupts (SGIs, GICv2 interrupt ids 0..16) the kernel and its port
/// use: every one of them is named here, so that no two users pick the same number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Sgi {
    /// Sent by the boot CPU to each secondary CPU during bring-up: a CPU counts as online once
    /// it has taken one ([`crate::entry::sgi`] marks it).
    Ping = 0,
    /// "Reschedule": the sender has set the target's need-resched flag; the target's way out of
    /// the interrupt ([`crate::entry::irq_exit`]) does the rest. Also sent to make a thread on
    /// another CPU cross an interrupt boundary (a signalling task_work add).
    Resched = 1,
    /// Run this CPU's irq_work list in hard-IRQ context (`irq_work`'s raise).
    IrqWork = 2,
    /// Stop this CPU for good, interrupts masked (another CPU panicked). The port handles it
    /// itself.
    Halt = 15,
}

impl Sgi {
    /// Every SGI, in interrupt-id order.
    pub const ALL: [Sgi; 4] = [Sgi::Ping, Sgi::Resched, Sgi::IrqWork, Sgi::Halt];

    /// Its interrupt id (0..16).
    pub const fn id(self) -> u8 {
        self as u8
    }

    /// The SGI with interrupt id `id`, if the kernel uses that id.
    #[inline]
    pub const fn from_id(id: u32) -> Option<Sgi> {
        match id {
            0 => Some(Sgi::Ping),
            1 => Some(Sgi::Resched),
            2 => Some(Sgi::IrqWork),
            15 => Some(Sgi::Halt),
            _ => None,
        }
    }
}

/// Entry point of a new thread's context: called with the `arg` given to
/// [`Port::init_context`], with interrupts masked, on the thread's own stack. Never returns.
pub type ThreadEntry = extern "C" fn(arg: usize) -> !;

/// What the kernel core needs from the hardware.
///
/// Implementations MUST follow these rules:
/// - [`irq_save`](Port::irq_save) masks interrupts on the calling CPU and returns the previous
///   state; [`irq_restore`](Port::irq_restore) restores exactly that state. Calls nest.
/// - [`now`](Port::now) is monotonic and never goes backwards on any CPU; its unit is one tick of
///   a counter running at [`ticks_per_second`](Port::ticks_per_second), shared by all CPUs.
/// - [`set_deadline`](Port::set_deadline) programs a one-shot interrupt on the calling CPU at the
///   given absolute tick (firing at once if it has passed); `None` disarms it. A disarmed timer
///   raises nothing (an idle CPU must not be woken by a stale compare value).
/// - [`send_sgi`](Port::send_sgi) raises software interrupt `sgi` on every CPU in the bit set
///   `cpus` (bit n = CPU n), including the caller if its bit is set.
/// - [`cpu_id`](Port::cpu_id) is stable while interrupts are masked (threads may migrate
///   otherwise).
/// - [`idle`](Port::idle) waits for an interrupt (WFI) and may return spuriously.
/// - [`switch`](Port::switch) saves the calling thread's state in `from` and resumes the thread
///   saved in (or initialised into) `to`; it returns when some CPU later switches back to `from`.
///   It is called with interrupts masked and returns with them masked. Once `from`'s state is
///   saved and the CPU no longer uses `from`'s stack, it clears `from`'s on-CPU flag
///   ([`Context::set_on_cpu`]`(false)`, or a release store at [`Context::ON_CPU_OFFSET`]).
/// - The port marks its CPU in hard-IRQ context while it handles interrupts
///   ([`CpuStats::irq_enter`](crate::cpu::CpuStats::irq_enter) when it takes them,
///   [`irq_leave`](crate::cpu::CpuStats::irq_leave) once all are ended), and hands them to
///   [`crate::entry`]: the timer interrupt to
///   [`entry::timer_irq`](crate::entry::timer_irq), the kernel's SGIs to
///   [`entry::sgi`](crate::entry::sgi) (except [`Sgi::Halt`], its own); and after delivering any
///   interrupt to a CPU that was running a thread (not inside another interrupt) it calls
///   [`entry::irq_exit`](crate::entry::irq_exit) before resuming the thread, still with
///   interrupts masked and on the interrupted thread's stack, so a wake-up can preempt.
/// - Each CPU calls [`entry::init_cpu`](crate::entry::init_cpu) once, then
///   [`entry::idle_loop`](crate::entry::idle_loop).
/// - Stacks from [`stack_alloc`](Port::stack_alloc) are distinct and stay valid until given back
///   to [`stack_free`](Port::stack_free).
#[allow(unsafe_code)] // the two unsafe methods are the port's context-switch and stack contracts
pub trait Port: Sync {
    /// Masks interrupts on this CPU, returning the previous state.
    fn irq_save(&self) -> IrqState;
    /// Restores a state returned by [`Port::irq_save`].
    fn irq_restore(&self, state: IrqState);
    /// Whether interrupts are currently masked on this CPU.
    fn irqs_masked(&self) -> bool;
    /// Unmasks interrupts on this CPU (a new thread's first step).
    fn irq_enable(&self);
    /// The monotonic counter, in ticks.
    fn now(&self) -> u64;
    /// Counter frequency (ticks per second). Read from the hardware, never assumed.
    fn ticks_per_second(&self) -> u64;
    /// This CPU's cycle counter (e.g. PMCCNTR_EL0), if the port has one. Not synchronised
    /// between CPUs: only differences on one CPU mean anything. Used by `rtos::bench`.
    fn cycles(&self) -> Option<u64> {
        None
    }
    /// One step of a busy-wait for another CPU (a lock holder, a thread finishing its switch).
    /// The default is the compiler's spin hint; a port whose CPUs may share one host thread
    /// (QEMU's round-robin TCG) should hand that thread over (AArch64: `YIELD`), or a waiter
    /// spins through its whole time slice while the CPU it waits for cannot run.
    fn relax(&self) {
        core::hint::spin_loop();
    }
    /// Programs (or with `None`, disarms) this CPU's one-shot deadline timer.
    fn set_deadline(&self, deadline: Option<u64>);
    /// Sends software-generated interrupt `sgi` to the CPUs in `cpus` (bit n = CPU n).
    fn send_sgi(&self, sgi: Sgi, cpus: u32);
    /// The calling CPU's index, 0-based and dense.
    fn cpu_id(&self) -> usize;
    /// Waits for an interrupt; may return spuriously.
    fn idle(&self);
    /// CPU hotplug: the calling CPU leaves (interrupts masked, its threads, timers and irq_works
    /// handed over by the kernel). The port stops its timer and interrupts and powers it off, or
    /// parks it, until [`Port::cpu_on`]; then the CPU comes back through the port's start path
    /// for secondary CPUs ([`crate::entry::init_cpu`], [`crate::entry::idle_loop`]). Never
    /// returns. The default parks the CPU in its idle wait for good.
    fn cpu_off(&self) -> ! {
        loop {
            self.idle();
        }
    }
    /// CPU hotplug: starts CPU `cpu` again after [`Port::cpu_off`]. [`crate::Error::Invalid`]
    /// if the port cannot (the default), [`crate::Error::Busy`] if the CPU is not off yet.
    fn cpu_on(&self, cpu: usize) -> Result<(), crate::Error> {
        let _ = cpu;
        Err(crate::Error::Invalid)
    }

    /// Allocates a thread stack (with a guard page where possible); `None` when none is left.
    fn stack_alloc(&self) -> Option<Stack>;
    /// Gives a stack back.
    ///
    /// # Safety
    /// `stack` came from [`Port::stack_alloc`], is not freed yet, and no thread runs on it.
    unsafe fn stack_free(&self, stack: Stack);
    /// The most bytes of `stack` ever used (high-water mark), as far as the port can tell.
    fn stack_high_water(&self, stack: &Stack) -> usize;
    /// Prepares a context that, once switched to, runs `entry(arg)` on `stack`.
    fn init_context(&self, stack: &Stack, entry: ThreadEntry, arg: usize) -> Context;
    /// Saves the current thread into `from` and resumes `to` (see the trait rules).
    ///
    /// # Safety
    /// Interrupts masked; `from` is the calling thread's own context; `to` holds a context made by
    /// [`Port::init_context`] or saved by an earlier `switch`, that no CPU is running, and whose
    /// stack stays valid.
    unsafe fn switch(&self, from: &Context, to: &Context);
    /// Turns static key `key` on or off (the kernel's trace points test one): sets its flag and,
    /// where its sites are patched instructions (AArch64 bare metal, [`jump_label::patch`]),
    /// rewrites them. Returns how many sites it rewrote; after a nonzero count other CPUs may run
    /// the old instructions until their next exception. The default sets the flag only, which is
    /// what the sites test on the host.
    fn set_static_key(&self, key: &'static jump_label::StaticKey, on: bool) -> usize {
        key.set(on);
        0
    }
}

// Two ways to find the port.
// - Bare metal (`target_os = "none"`): the board crate defines it at link time as the symbol
//   `RTOS_PORT`, an immutable `&'static dyn Port`. With LTO the compiler sees the one
//   implementation behind it, so `port().irq_save()` compiles to the instructions themselves: no
//   load of a run-time slot, no check, no indirect call on the scheduler's hot paths. Define it
//   with [`link_port!`].
// - Elsewhere (host tests, fakes): a write-once slot filled by [`install`].

// SAFETY: the only definition is the one `link_port!` writes, which declares the same name with
// the same type (`&'static dyn Port`) and never changes it (an immutable static).
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
unsafe extern "Rust" {
    safe static RTOS_PORT: &'static dyn Port;
}

/// Defines the kernel's port on bare metal: `rtos::link_port!(MY_PORT);` with `MY_PORT` a
/// `static` of a type implementing [`Port`]. Exactly one crate in a kernel image invokes it.
#[macro_export]
macro_rules! link_port {
    ($port:path) => {
        /// The kernel's port, found by `rtos::port::port` at link time.
        // SAFETY: `rtos` declares this symbol with this exact type; it is defined once per image.
        #[unsafe(no_mangle)]
        pub static RTOS_PORT: &'static dyn $crate::port::Port = &$port;
    };
}

#[cfg(not(target_os = "none"))]
static PORT: OnceRef<dyn Port> = OnceRef::new();

/// Installs the port. The first call wins; later calls return `false` and change nothing.
#[cfg(not(target_os = "none"))]
pub fn install(port: &'static dyn Port) -> bool {
    PORT.set(port)
}

/// The installed port.
///
/// # Panics
/// If no port has been installed: a boot-order bug, never an input-dependent condition.
#[cfg(not(target_os = "none"))]
pub fn port() -> &'static dyn Port {
    PORT.get().expect("rtos: no port installed")
}

/// The port, linked into the image (see [`link_port!`]).
#[cfg(target_os = "none")]
#[inline(always)]
pub fn port() -> &'static dyn Port {
    RTOS_PORT
}

/// One step of a busy-wait: the port's [`Port::relax`], or the spin hint before there is one.
#[inline]
pub fn relax() {
    match try_port() {
        Some(p) => p.relax(),
        None => core::hint::spin_loop(),
    }
}

/// The installed port, if any (on bare metal, always: it is linked in).
#[inline]
pub fn try_port() -> Option<&'static dyn Port> {
    #[cfg(target_os = "none")]
    return Some(RTOS_PORT);
    #[cfg(not(target_os = "none"))]
    PORT.get()
}
