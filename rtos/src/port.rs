//! The hardware port: everything the kernel core needs from the CPU and its interrupt hardware.
//!
//! The board support crate implements [`Port`] once for real hardware and installs it at boot
//! with [`install`]. Host tests install a fake (see `tests` in [`crate::sync`]).

use crate::sync::OnceRef;

/// Saved interrupt-mask state, returned by [`Port::irq_save`] and given back to
/// [`Port::irq_restore`]. Opaque to the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqState(pub u64);

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
/// - [`send_sgi`](Port::send_sgi) raises software interrupt `sgi` (0..16) on every CPU in the
///   bit set `cpus` (bit n = CPU n), including the caller if its bit is set.
/// - [`cpu_id`](Port::cpu_id) is stable while interrupts are masked (threads may migrate otherwise).
/// - [`idle`](Port::idle) waits for an interrupt (WFI) and may return spuriously.
pub trait Port: Sync {
    /// Masks interrupts on this CPU, returning the previous state.
    fn irq_save(&self) -> IrqState;
    /// Restores a state returned by [`Port::irq_save`].
    fn irq_restore(&self, state: IrqState);
    /// Whether interrupts are currently masked on this CPU.
    fn irqs_masked(&self) -> bool;
    /// The monotonic counter, in ticks.
    fn now(&self) -> u64;
    /// Counter frequency (ticks per second). Read from the hardware, never assumed.
    fn ticks_per_second(&self) -> u64;
    /// Programs (or with `None`, disarms) this CPU's one-shot deadline timer.
    fn set_deadline(&self, deadline: Option<u64>);
    /// Sends software-generated interrupt `sgi` to the CPUs in `cpus` (bit n = CPU n).
    fn send_sgi(&self, sgi: u8, cpus: u32);
    /// The calling CPU's index, 0-based and dense.
    fn cpu_id(&self) -> usize;
    /// How many CPUs the system has brought online.
    fn cpus_online(&self) -> usize;
    /// Waits for an interrupt; may return spuriously.
    fn idle(&self);
}

static PORT: OnceRef<dyn Port> = OnceRef::new();

/// Installs the port. The first call wins; later calls return `false` and change nothing.
pub fn install(port: &'static dyn Port) -> bool {
    PORT.set(port)
}

/// The installed port.
///
/// # Panics
/// If no port has been installed: a boot-order bug, never an input-dependent condition.
pub fn port() -> &'static dyn Port {
    PORT.get().expect("rtos: no port installed")
}

/// The installed port, if any.
pub fn try_port() -> Option<&'static dyn Port> {
    PORT.get()
}
