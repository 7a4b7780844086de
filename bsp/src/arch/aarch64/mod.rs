//! AArch64 specifics: boot, MMU, exception vectors, semihosting, PSCI and small CPU helpers.

pub(crate) mod boot;
pub(crate) mod cache;
pub(crate) mod context;
pub mod exceptions;
pub(crate) mod mmu;
pub mod pmu;
pub mod psci;
pub(crate) mod reload;
pub mod semihosting;
pub mod trap;

/// Whether the eight words at `at`, `at + 64`, ..., `at + 448` (bytes) all equal `pattern`:
/// eight loads and a chain of conditional compares with one result (left to itself, the
/// compiler branched after every compare). The stack high-water scan's step ([`crate::stacks`]).
///
/// # Safety
/// The eight words must be mapped memory.
#[inline(always)]
pub(crate) unsafe fn eight_equal_64_apart(at: *const u64, pattern: u64) -> bool {
    let all: u64;
    // SAFETY: the caller's promise: the eight words at `at + k * 64`, k < 8, are mapped. Loads
    // into scratch registers only; the flags are clobbered (not preserved).
    unsafe {
        core::arch::asm!(
            "ldr {a}, [{p}]",
            "ldr {b}, [{p}, #64]",
            "cmp {a}, {pat}",
            "ccmp {b}, {pat}, #0, eq",
            "ldr {a}, [{p}, #128]",
            "ldr {b}, [{p}, #192]",
            "ccmp {a}, {pat}, #0, eq",
            "ccmp {b}, {pat}, #0, eq",
            "ldr {a}, [{p}, #256]",
            "ldr {b}, [{p}, #320]",
            "ccmp {a}, {pat}, #0, eq",
            "ccmp {b}, {pat}, #0, eq",
            "ldr {a}, [{p}, #384]",
            "ldr {b}, [{p}, #448]",
            "ccmp {a}, {pat}, #0, eq",
            "ccmp {b}, {pat}, #0, eq",
            "cset {r}, eq",
            p = in(reg) at,
            pat = in(reg) pattern,
            a = out(reg) _,
            b = out(reg) _,
            r = lateout(reg) all,
            options(nostack, readonly),
        );
    }
    all != 0
}

/// The current stack pointer.
#[inline(always)]
pub fn stack_pointer() -> usize {
    let sp: usize;
    // SAFETY: copying SP into another register has no side effects.
    unsafe {
        core::arch::asm!("mov {}, sp", out(reg) sp, options(nomem, nostack, preserves_flags))
    };
    sp
}

/// Whether the instruction word `insn` is a call: `BL <imm26>` or `BLR <Xn>`.
pub fn is_call(insn: u32) -> bool {
    insn & 0xfc00_0000 == 0x9400_0000 || insn & 0xffff_fc1f == 0xd63f_0000
}

/// The calling CPU's index (`MPIDR_EL1.Aff0`, dense from 0 on every supported board).
pub fn cpu_id() -> usize {
    let mpidr: u64;
    // SAFETY: reading MPIDR_EL1 has no side effects.
    unsafe {
        core::arch::asm!("mrs {}, mpidr_el1", out(reg) mpidr, options(nomem, nostack, preserves_flags))
    };
    (mpidr & 0xff) as usize
}

/// Masks IRQs, returning the previous `DAIF`. A compiler barrier too (no `nomem`): memory
/// accesses of the critical section must not move above the masking, nor below the unmasking in
/// [`irq_restore`] / [`irq_enable`], when they are called directly rather than through the port.
pub fn irq_save() -> u64 {
    let daif: u64;
    // SAFETY: masking interrupts on this CPU is always sound.
    unsafe {
        core::arch::asm!("mrs {}, daif", "msr daifset, #2", out(reg) daif, options(nostack, preserves_flags));
    }
    daif
}

/// Restores a `DAIF` value returned by [`irq_save`].
pub fn irq_restore(daif: u64) {
    // SAFETY: restores a mask state this CPU had before; handlers are installed before IRQs are
    // ever unmasked.
    unsafe { core::arch::asm!("msr daif, {}", in(reg) daif, options(nostack, preserves_flags)) };
}

/// Whether IRQs are masked on this CPU.
pub fn irqs_masked() -> bool {
    let daif: u64;
    // SAFETY: reading DAIF has no side effects.
    unsafe {
        core::arch::asm!("mrs {}, daif", out(reg) daif, options(nomem, nostack, preserves_flags))
    };
    daif & (1 << 7) != 0
}

/// Unmasks IRQs on this CPU.
pub(crate) fn irq_enable() {
    // SAFETY: the vector table and GIC are initialised before any caller enables interrupts.
    unsafe { core::arch::asm!("msr daifclr, #2", options(nostack, preserves_flags)) };
}

/// Orders this CPU's earlier stores to normal memory before a following device write that
/// raises an interrupt on other CPUs (`dmb ishst`).
#[inline(always)]
pub fn barrier_before_ipi() {
    // SAFETY: a barrier; touches no memory and no registers.
    unsafe { core::arch::asm!("dmb ishst", options(nostack, preserves_flags)) };
}

/// Waits for an interrupt. With IRQs masked, a pending interrupt still ends the wait (and is
/// taken once the caller unmasks), which is how [`wait_until`] avoids lost wake-ups.
pub fn wfi() {
    // SAFETY: WFI only pauses the CPU.
    unsafe { core::arch::asm!("wfi", options(nomem, nostack, preserves_flags)) };
}

/// Waits for an event (SEV from another CPU, or an interrupt becoming pending).
pub fn wfe() {
    // SAFETY: WFE only pauses the CPU.
    unsafe { core::arch::asm!("wfe", options(nomem, nostack, preserves_flags)) };
}

/// Signals an event to every CPU (ends their WFE), after the stores before it.
pub fn sev() {
    // SAFETY: a barrier and SEV: they order and signal, touching no memory of ours.
    unsafe { core::arch::asm!("dsb ish", "sev", options(nostack, preserves_flags)) };
}

/// One step of a busy-wait for another CPU: a YIELD hint. On hardware it only hints; under
/// QEMU's round-robin TCG (`-icount`, `-accel tcg,thread=single`) it hands the host thread to
/// the next vCPU at once, instead of spinning to the end of this vCPU's time slice while the CPU
/// being waited for cannot run.
pub fn cpu_relax() {
    // SAFETY: YIELD is a hint with no architectural effect.
    unsafe { core::arch::asm!("yield", options(nomem, nostack, preserves_flags)) };
}

/// Sleeps in WFI until `done()` holds. `done` is evaluated with IRQs masked, so an interrupt that
/// makes it true cannot slip in between the check and the WFI.
pub fn wait_until(mut done: impl FnMut() -> bool) {
    loop {
        let saved = irq_save();
        if done() {
            irq_restore(saved);
            return;
        }
        wfi();
        irq_restore(saved);
    }
}

/// Stops this CPU for good: IRQs masked, WFE forever.
pub fn halt() -> ! {
    irq_save();
    loop {
        // SAFETY: WFE only pauses the CPU.
        unsafe { core::arch::asm!("wfe", options(nomem, nostack, preserves_flags)) };
    }
}
