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
