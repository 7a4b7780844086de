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
