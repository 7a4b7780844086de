//! [`rtos::port::Port`] for AArch64 with a GICv2 and the generic timer.

use crate::{arch, drivers::timer};
use rtos::port::{IrqState, Port};

/// The hardware port; installed once at boot.
pub struct HwPort;

/// The single instance.
pub static PORT: HwPort = HwPort;

impl Port for HwPort {
    fn irq_save(&self) -> IrqState {
        IrqState(arch::irq_save())
    }
    fn irq_restore(&self, state: IrqState) {
        arch::irq_restore(state.0);
    }
    fn irqs_masked(&self) -> bool {
        arch::irqs_masked()
    }
    fn now(&self) -> u64 {
        timer::now()
    }
    fn ticks_per_second(&self) -> u64 {
        timer::frequency()
    }
    fn set_deadline(&self, deadline: Option<u64>) {
        timer::set_deadline(deadline);
    }
    fn send_sgi(&self, sgi: u8, cpus: u32) {
        if let Some(k) = crate::try_kernel() {
            k.gic.send_sgi(sgi, cpus);
        }
    }
    fn cpu_id(&self) -> usize {
        arch::cpu_id()
    }
    fn cpus_online(&self) -> usize {
        rtos::cpu::online_count()
    }
    fn idle(&self) {
        arch::wfi();
    }
}
