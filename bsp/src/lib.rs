//! `bsp`: board support for the ARM64 RTOS: the only crate with assembly and MMIO.
//!
//! The bsp boots the machine and then runs the application's main thread, an [`App`] that the
//! board binary names with [`entry!`] next to its [`Board`]. It does not know what the
//! application is (the kernel images run the `app` crate's shell); what an application may use
//! besides the kernel (`rtos`) is this crate's small public API:
//! - [`console`]: the serial line as a byte stream ([`console::SerialIo`]), waiting for input,
//!   and the UART's receive statistics;
//! - [`power_off`] and [`reboot`];
//! - [`cpus`] and [`uptime`];
//! - [`deliberate_fault`], to test the fault report;
//! - [`reload`]: starting a new kernel image in place of the running one.
//!
//! # Layout
//! - [`arch`]: AArch64 boot code (EL2 to EL1, BSS, boot stacks), the identity map and MMU enable,
//!   exception vectors and fault decoding (with stack-overflow detection), the context switch,
//!   semihosting, PSCI, IRQ masking and WFI.
//! - [`drivers`]: PL011 UART (`tock-registers`, `embedded-io`), GICv2 (`arm-gic`), the generic
//!   timer (`aarch64-cpu`), and the BCM2711 GPIO/watchdog bits the Pi 4 needs.
//! - [`port`]: the `rtos::port::Port` implementation on top of those.
//! - [`stacks`]: the thread-stack arena: 256 slots of a 16 KiB stack above an unmapped guard page.
//! - [`console`], `heap`, `panic`, `boot`, `kernel`, `irq`: the serial console given to the
//!   application (reads block on a wait queue woken by the UART interrupt; threads print through
//!   a sleeping console lock), the kernel heap, fatal-error reporting, the boot sequence with
//!   power off and reset, the state initialised at boot, and interrupt dispatch into
//!   `rtos::entry`.
//!
//! No module imports one that imports it back (`just lint`): the crate root only declares the
//! modules and re-exports the public API, and the boot-time state lives in its own module.
//!
//! # Threads
//! Threads (and each CPU's idle thread, which is its boot context on its boot stack) run at EL1h
//! on their own stacks. Interrupts push their trap frame on the current thread's stack; at the end
//! of every IRQ, after all EOIs, the scheduler's preemption point may switch threads, leaving the
//! interrupted thread's frame on its stack until it is switched back to. A switch saves x19-x30 on
//! the outgoing stack and swaps stack pointers (`arch::context`).
//!
//! # Boot
//! 1. `_start` (asm): CPU 0 only; drop to EL1, zero BSS, boot stack, call `boot::primary_main`.
//! 2. MMU on with an identity map built from the [`board::Board`] description (no atomics before
//!    this point; 4 KiB pages with invalid guard pages over the stack arena), vectors installed,
//!    UART, heap, GIC and timer initialised, the port and console sink installed, and the boot
//!    context made CPU 0's idle thread (`rtos::entry::init_cpu`).
//! 3. The device tree (if the loader passed one) gives RAM size, CPU count and the PSCI conduit.
//! 4. Secondary CPUs are started (PSCI `CPU_ON` or spin table); each installs its vectors, sets
//!    up its GIC CPU interface, becomes its idle thread (`init_cpu`) and enters the scheduler's
//!    idle loop; a CPU counts as online once it has taken an SGI from CPU 0.
//! 5. The banner is printed, CPU 0 creates and wakes the application's main thread, a kthread
//!    with the [`App`]'s name, priority and CPU (the shell: `shell`, priority 20, bound to CPU 0),
//!    and enters its idle loop. If the thread's `main` returns, the system powers off with the
//!    returned value as its exit status.
//!
//! A board crate describes its hardware in a [`board::Board`] and names it and the application
//! with [`entry!`].
#![no_std]

extern crate alloc;

pub mod arch;
pub mod board;
mod boot;
pub mod console;
pub mod drivers;
mod heap;
mod irq;
mod kernel;
mod panic;
pub mod port;
pub mod reload;
pub mod stacks;

pub use board::{Board, PowerMethod, SmpMethod};
pub use boot::{App, VERSION, power_off, reboot};
pub use kernel::{cpus, uptime};

/// The kernel heap: `(bytes handed out, bytes left)` (block headers count as left).
pub fn heap_usage() -> (usize, usize) {
    heap::usage()
}
pub use panic::{PANIC_EXIT_CODE, deliberate_fault};

/// Names the board description the kernel boots with and the application it runs. Use once, in
/// the board binary: `bsp::entry!(BOARD, app::APP);` where `BOARD` is a `static bsp::Board` and
/// `app::APP` a `static bsp::App`.
#[macro_export]
macro_rules! entry {
    ($board:path, $app:path) => {
        /// The board description the bsp boots with (looked up by `bsp` at boot).
        #[unsafe(no_mangle)]
        static BSP_BOARD: &$crate::Board = &$board;
        /// The application whose main thread the bsp starts after boot.
        #[unsafe(no_mangle)]
        static BSP_APP: &$crate::App = &$app;
    };
}
