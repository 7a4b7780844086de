//! The state the bsp initialised at boot ([`Kernel`]: board, UART, GIC, PSCI conduit, RAM, CPU
//! count, entry time), set once before interrupts are enabled and read by everything after.

use crate::arch::{self, psci::Conduit};
use crate::board::Board;
use crate::drivers::{gic::Gic, pl011::Pl011};

/// Everything the bsp initialised at boot.
pub(crate) struct Kernel {
    pub board: &'static Board,
    pub uart: Pl011,
    pub gic: Gic,
    /// PSCI conduit from the device tree, if any.
    pub psci: Option<Conduit>,
    /// RAM `(base, size)` as reported by the device tree, else the board's boot RAM.
    pub ram: (usize, usize),
    /// CPUs the system has (device tree `cpus` count, else the board maximum).
    pub cpus: usize,
    /// Kernel entry (the counter `_start` read on the boot CPU).
    pub boot: rtos::time::Instant,
    /// The device tree blob `(base, size)` the kernel found, if any.
    pub dtb: Option<(usize, usize)>,
}

pub(crate) static KERNEL: spin::Once<Kernel> = spin::Once::new();

/// The initialised kernel state. Interrupts are only enabled after it is set.
pub(crate) fn kernel() -> &'static Kernel {
    match KERNEL.get() {
        Some(k) => k,
        None => arch::halt(),
    }
}

pub(crate) fn try_kernel() -> Option<&'static Kernel> {
    KERNEL.get()
}

/// The number of CPUs the system has, online or not (the device tree's count, else the board's
/// maximum). CPU ids run from 0 to this, exclusive.
pub fn cpus() -> usize {
    kernel().cpus
}

/// The time since kernel entry (the boot CPU's first instruction), from the generic timer.
pub fn uptime() -> rtos::time::Duration {
    rtos::time::Instant::now().saturating_duration_since(kernel().boot)
}

/// The boot CPU's UART base once it is programmed, for a panic before the kernel is set up.
static EARLY_UART: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Lets a panic before the kernel is set up report on the boot UART at `base` (programmed).
pub(crate) fn set_early_uart(base: usize) {
    EARLY_UART.store(base, core::sync::atomic::Ordering::Release);
}

/// The boot UART's base, once [`set_early_uart`] was called.
pub(crate) fn early_uart() -> Option<usize> {
    Some(EARLY_UART.load(core::sync::atomic::Ordering::Acquire)).filter(|&b| b != 0)
}
