//! Data-cache maintenance for memory that non-coherent observers read (CPUs with their MMU off,
//! boot firmware).

/// Cache line size assumed for maintenance: the smallest of the supported cores (Cortex-A72: 64).
const LINE: usize = 64;

/// Cleans `[addr, addr + len)` from the data caches to the point of coherency and waits for it.
pub(crate) fn clean_to_poc(addr: usize, len: usize) {
    let mut line = addr & !(LINE - 1);
    while line < addr + len {
        // SAFETY: `dc cvac` only writes dirty lines back to memory; it changes no data.
        unsafe { core::arch::asm!("dc cvac, {}", in(reg) line, options(nostack, preserves_flags)) };
        line += LINE;
    }
    // SAFETY: a barrier has no effect on program state.
    unsafe { core::arch::asm!("dsb sy", options(nostack, preserves_flags)) };
}

/// Cleans and invalidates `[addr, addr + len)` in the data caches to the point of coherency
/// (`dc civac`, which reaches every CPU's caches): the next load reads memory, e.g. a word
/// another CPU wrote with its MMU off.
pub(crate) fn clean_invalidate_to_poc(addr: usize, len: usize) {
    let mut line = addr & !(LINE - 1);
    while line < addr + len {
        // SAFETY: `dc civac` writes a dirty line back before dropping it; no data changes.
        unsafe {
            core::arch::asm!("dc civac, {}", in(reg) line, options(nostack, preserves_flags))
        };
        line += LINE;
    }
    // SAFETY: a barrier has no effect on program state.
    unsafe { core::arch::asm!("dsb sy", options(nostack, preserves_flags)) };
}

/// Invalidates the instruction caches of every CPU (after code was written and cleaned).
pub(crate) fn invalidate_icache_all() {
    // SAFETY: dropping instruction-cache lines only makes later fetches read memory again.
    unsafe {
        core::arch::asm!(
            "ic ialluis",
            "dsb ish",
            "isb",
            options(nostack, preserves_flags)
        )
    };
}

/// Writes instruction `insn` at `addr` and makes it what the CPUs fetch there: the data cache
/// line is cleaned to the point of unification and the instruction cache line invalidated on
/// every CPU (both broadcast, inner shareable), then this CPU's pipeline is flushed. Another CPU
/// may still execute the old instruction until its next context synchronization (an exception
/// entry or return at the latest).
///
/// # Safety
/// `addr` is a 4-byte-aligned instruction of the kernel image, mapped writable, and `insn` may
/// replace it while other CPUs execute it: the ARM ARM allows that for `B`, `BL`, `NOP`, `BRK`,
/// `SVC`, `HVC`, `SMC` and `ISB` (each CPU then executes the old or the new one); the program
/// must be correct with either.
pub(crate) unsafe fn patch_insn(addr: usize, insn: u32) {
    // SAFETY: by the caller, `addr` is an aligned, writable instruction word; one aligned
    // 32-bit store is single-copy atomic, so a CPU fetching it sees the old or the new word.
    unsafe { core::ptr::write_volatile(addr as *mut u32, insn) };
    // SAFETY: cache maintenance by address and barriers change no program state; they only make
    // the new word visible to instruction fetches.
    unsafe {
        core::arch::asm!(
            "dc cvau, {a}",
            "dsb ish",
            "ic ivau, {a}",
            "dsb ish",
            "isb",
            a = in(reg) addr,
            options(nostack, preserves_flags)
        )
    };
}
