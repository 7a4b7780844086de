//! [`rtos::port::Port`] for AArch64 with a GICv2 and the generic timer.
//!
//! Stacks come from the guarded arena in [`crate::stacks`]; contexts are saved stack pointers
//! ([`crate::arch::context`]).

use crate::{arch, drivers::timer, stacks};
use rtos::port::{Context, IrqState, Port, Sgi, Stack, ThreadEntry};

/// The hardware port; installed once at boot.
pub struct HwPort;

/// The single instance.
pub static PORT: HwPort = HwPort;

rtos::link_port!(PORT);

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
    fn irq_enable(&self) {
        arch::irq_enable();
    }
    fn now(&self) -> u64 {
        timer::now()
    }
    fn ticks_per_second(&self) -> u64 {
        timer::frequency()
    }
    fn cycles(&self) -> Option<u64> {
        Some(arch::pmu::cycles())
    }
    fn relax(&self) {
        arch::cpu_relax();
    }
    fn set_deadline(&self, deadline: Option<u64>) {
        timer::set_deadline(deadline);
    }
    fn send_sgi(&self, sgi: Sgi, cpus: u32) {
        if let Some(k) = crate::kernel::try_kernel() {
            k.gic.send_sgi(sgi, cpus);
        }
    }
    fn cpu_id(&self) -> usize {
        arch::cpu_id()
    }
    fn idle(&self) {
        // Called with IRQs masked: a pending interrupt still ends the WFI, and is taken once the
        // scheduler unmasks.
        arch::wfi();
    }

    fn cpu_off(&self) -> ! {
        crate::boot::cpu_off()
    }
    fn cpu_on(&self, cpu: usize) -> Result<(), rtos::Error> {
        crate::boot::cpu_on(cpu)
    }

    fn stack_alloc(&self) -> Option<Stack> {
        stacks::alloc()
    }
    unsafe fn stack_free(&self, stack: Stack) {
        stacks::free(stack);
    }
    fn stack_high_water(&self, stack: &Stack) -> usize {
        stacks::high_water(stack)
    }
    fn init_context(&self, stack: &Stack, entry: ThreadEntry, arg: usize) -> Context {
        arch::context::init_context(stack, entry, arg)
    }
    unsafe fn switch(&self, from: &Context, to: &Context) {
        // SAFETY: the trait's contract is `context::switch`'s.
        unsafe { arch::context::switch(from, to) }
    }
    fn set_static_key(&self, key: &'static jump_label::StaticKey, on: bool) -> usize {
        let write = |addr, insn| {
            // SAFETY: `patch` calls this with its sites' addresses: instructions of this image,
            // which the early map (`mmu`) maps writable at EL1, rewritten only by `patch` (which
            // serializes itself); each becomes a `NOP` or a `B` inside the site's own function,
            // which may replace each other while other CPUs run them.
            unsafe { arch::cache::patch_insn(addr, insn) }
        };
        // SAFETY: `write` keeps `patch`'s contract (above); the kernel turns keys on and off
        // from threads only (trace start and stop), never from an interrupt handler.
        unsafe { jump_label::patch(key, on, write) }
    }
}
