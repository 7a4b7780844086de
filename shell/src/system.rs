//! What the shell and the kernel share: the [`System`] trait the shell reaches the kernel
//! through, what it reports ([`CpuInfo`], [`UartInfo`]), how the shell ends ([`Exit`]), the
//! prompt and the line limit, and the state that survives from line to line.

/// The prompt, exactly as it appears on the wire.
pub const PROMPT: &str = "rtos> ";

/// Longest accepted command line, in bytes. Longer lines are rejected, never truncated.
pub const MAX_LINE: usize = 512;

/// One CPU as reported by [`System::cpus`]: the kernel's per-CPU counters.
pub use rtos::cpu::CpuSnapshot as CpuInfo;

/// The console UART's receive statistics, as reported by [`System::uart`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UartInfo {
    /// Driver name, e.g. `pl011`.
    pub driver: &'static str,
    /// Line speed in baud (8N1).
    pub baud: u32,
    /// Received bytes the hardware reported lost (overrun) or damaged (framing, parity, break):
    /// a wrong baud rate or a noisy cable shows up here.
    pub rx_errors: u32,
    /// Bytes waiting in the receive buffer now.
    pub rx_buffered: usize,
    /// Receive buffer size.
    pub rx_capacity: usize,
}

use alloc::string::String;
use core::time::Duration;

/// Where `reload` may put a new kernel image, from [`System::reload_target`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReloadTarget {
    /// The board name an image must be built for (`rpi4`, `qemu-virt`).
    pub board: &'static str,
    /// The address the running kernel was loaded at, which an image must be linked for.
    pub load_addr: u64,
    /// The largest image accepted, in bytes.
    pub max_size: usize,
}

/// What the shell needs from the kernel.
pub trait System {
    /// Monotonic time since boot.
    fn uptime(&self) -> Duration;
    /// Block the calling shell for `d` (kernel: timer + WFI).
    fn sleep(&mut self, d: Duration);
    /// Nothing to do right now: wait for an interrupt (kernel: WFI; fakes: advance time).
    fn idle(&mut self);
    /// Calls `f` once per CPU the board has (online or not), in id order.
    fn cpus(&self, f: &mut dyn FnMut(&CpuInfo));
    /// Deliberate crash for the `crash` command (kernel: panic!/data abort). Returns only in fakes.
    fn crash(&mut self, kind: CrashKind);
    /// The console UART's statistics, if the system has any to report.
    fn uart(&self) -> Option<UartInfo> {
        None
    }
    /// The memory the board manages (heap and thread stacks), if it can tell.
    fn memory(&self) -> Option<MemInfo> {
        None
    }
    /// The shell printed its first prompt: the console is up. The system starts here what can
    /// wait until then (the kernel's watchdog), so that boot, measured to the first prompt,
    /// does not include it. Called once.
    fn console_up(&mut self) {}
    /// Whether and where `reload` can start a new kernel image; `None`: it cannot.
    fn reload_target(&self) -> Option<ReloadTarget> {
        None
    }
    /// Replaces the running kernel with `image` (`reload`, once the whole image arrived and its
    /// CRC matched): stops the other CPUs and starts it. Returns only if it could not, with why
    /// (then nothing has changed).
    fn reload(&mut self, image: &[u8]) -> String {
        let _ = image;
        String::from("this system cannot start another kernel")
    }
}

/// The board's memory, for `mem`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemInfo {
    /// Heap bytes handed out.
    pub heap_used: usize,
    /// Heap bytes left (an upper bound: block headers count as left).
    pub heap_free: usize,
    /// Thread stacks handed out.
    pub stacks_used: usize,
    /// Thread stacks there are.
    pub stacks_total: usize,
    /// Bytes per thread stack.
    pub stack_size: usize,
}

/// Which deliberate crash `crash` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashKind {
    /// A Rust panic (the kernel's panic handler prints `KERNEL PANIC`).
    Panic,
    /// A CPU fault (e.g. a data abort from touching unmapped memory).
    Fault,
    /// The same fault from a hard-IRQ callback (an irq_work), interrupting the shell.
    IrqFault,
    /// A kernel thread that recurses until it overflows its stack into the guard page.
    Overflow,
}

/// How the shell ended; the kernel acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Power off (QEMU: semihosting exit) with this status.
    Poweroff(u8),
    /// Reset the machine.
    Reboot,
}
