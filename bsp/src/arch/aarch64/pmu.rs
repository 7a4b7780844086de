//! The PMU cycle counter (`PMCCNTR_EL0`), for the benchmarks' cycle columns.
//!
//! [`enable`] runs on every CPU at boot: it resets and starts the cycle counter (`PMCR_EL0.E`,
//! `.C`, `.LC` for a 64-bit counter) and enables it in `PMCNTENSET_EL0` (bit 31). Counters of
//! different CPUs are not synchronised. Under QEMU TCG the counter is derived from the virtual
//! clock (1 GHz), so under `-icount` it is as deterministic as the generic counter.

use core::arch::asm;

/// `PMCR_EL0`: E (enable), C (reset the cycle counter), LC (64-bit cycle counter overflow).
const PMCR_E_C_LC: u64 = 1 | 1 << 2 | 1 << 6;
/// `PMCNTENSET_EL0.C`: enable the cycle counter.
const PMCNTENSET_C: u64 = 1 << 31;

/// Starts this CPU's cycle counter from 0.
pub fn enable() {
    // SAFETY: writes to this CPU's PMU control registers at EL1; they only start and reset the
    // cycle counter (no interrupts are enabled, nothing else reads these registers).
    unsafe {
        asm!(
            "msr pmcr_el0, {pmcr}",
            "msr pmcntenset_el0, {en}",
            "isb",
            pmcr = in(reg) PMCR_E_C_LC,
            en = in(reg) PMCNTENSET_C,
            options(nostack, preserves_flags),
        );
    }
}

/// This CPU's cycle count, ordered after earlier instructions.
pub fn cycles() -> u64 {
    let c: u64;
    // SAFETY: reading PMCCNTR_EL0 at EL1 has no side effects.
    unsafe {
        asm!("isb", "mrs {c}, pmccntr_el0", c = out(reg) c, options(nostack, preserves_flags));
    }
    c
}
