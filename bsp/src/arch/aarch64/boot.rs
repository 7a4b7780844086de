//! Entry points: `_start` for the boot CPU, `_secondary_start` for the others.
//!
//! Both accept entry at EL2 (Raspberry Pi 4 firmware, QEMU `virt,virtualization=on`) or EL1 (plain
//! QEMU `virt`) and drop to EL1h with interrupts masked. The boot CPU zeroes BSS, takes the first
//! boot stack and calls [`crate::boot::primary_main`] with the device-tree pointer the loader left
//! in `x0`, the exception level it was entered at and the counter value at entry. Secondary CPUs
//! (released by PSCI `CPU_ON` or the spin table) take their own stack, turn the MMU on with the
//! registers the boot CPU published in [`MMU_REGS`](super::mmu::MMU_REGS) and call
//! [`crate::boot::secondary_main`]. The CPU index is `MPIDR_EL1.Aff0` on every supported board.

use core::arch::global_asm;

/// Bytes of boot stack per CPU: its idle thread's stack (threads get theirs from the stack arena).
pub const BOOT_STACK_SIZE: usize = 64 * 1024;

#[repr(C, align(16))]
pub(crate) struct BootStacks(
    pub(crate) core::mem::MaybeUninit<[[u8; BOOT_STACK_SIZE]; rtos::config::MAX_CPUS]>,
);

/// The per-CPU boot stacks; CPU n uses the n-th, growing down from its end. In their own
/// non-loaded section (see `kernel.ld`): never zeroed, so boot does not spend ~130,000
/// instructions clearing 512 KiB of stack with the caches off.
#[unsafe(link_section = ".boot_stacks")]
pub(crate) static mut BOOT_STACKS: BootStacks = BootStacks(core::mem::MaybeUninit::uninit());

global_asm!(
    r#"
// Drop from EL2 to EL1h if entered at EL2; falls through at EL1. Clobbers x9.
.macro DROP_TO_EL1
    mrs     x9, CurrentEL
    lsr     x9, x9, #2
    cmp     x9, #2
    b.ne    1f
    // What EL1 reads as MIDR_EL1/MPIDR_EL1 comes from these at EL2 (Arm ARM D19.2: "VMPIDR_EL2,
    // Virtualization Multiprocessor ID Register"); their reset values are UNKNOWN, so copy the
    // real ones, as Linux's el2_setup does. QEMU resets them to the real values; hardware need not.
    mrs     x9, midr_el1
    msr     vpidr_el2, x9
    mrs     x9, mpidr_el1
    msr     vmpidr_el2, x9
    mov     x9, #(1 << 31)          // HCR_EL2.RW: EL1 runs AArch64; no traps, IRQs to EL1
    msr     hcr_el2, x9
    mov     x9, #3                  // CNTHCTL_EL2: EL1 may use the physical counter and timer
    msr     cnthctl_el2, x9
    msr     cntvoff_el2, xzr
    mrs     x9, mdcr_el2            // MDCR_EL2: EL1 may use the PMU (TPM, TPMCR clear;
    bic     x9, x9, #(3 << 5)       // HPMN kept), for the benchmarks' cycle counter
    msr     mdcr_el2, x9
    ldr     x9, =0x30d00800         // SCTLR_EL1: RES1 bits, MMU and caches off
    msr     sctlr_el1, x9
    mov     x9, #0x3c5              // SPSR_EL2: EL1h, DAIF masked
    msr     spsr_el2, x9
    adr     x9, 1f
    msr     elr_el2, x9
    eret
1:
    msr     daifset, #0xf
    msr     spsel, #1
.endm

// x0 := top of boot stack for CPU x19. Clobbers x1.
.macro BOOT_STACK_TOP
    adrp    x0, {stacks}
    add     x0, x0, :lo12:{stacks}
    add     x1, x19, #1
    mov     x9, #{stack_size}
    madd    x0, x1, x9, x0
.endm

.section .text.boot, "ax"
// The arm64 Image header (Linux Documentation/arch/arm64/booting.rst, "Call the kernel image"),
// so loaders that read it (QEMU's, the Pi firmware's) know where the image wants to sit: at
// TEXT_OFFSET from the start of RAM (the board's build script defines it), occupying
// __image_size bytes (bss and stacks included), 4 KiB pages, little-endian.
.global _start
_start:
    b       _start_kernel           // code0: jump over the header
    .long   0                       // code1
    .quad   TEXT_OFFSET             // text_offset: image load offset from the start of RAM
    .quad   __image_size            // image_size: effective size, from _start to __kernel_end
    .quad   0x2                     // flags: LE, 4 KiB pages, base close to the start of RAM
    .quad   0                       // res2
    .quad   0                       // res3
    .quad   0                       // res4
    .ascii  "ARM\x64"               // magic
    .long   0                       // res5: no PE/COFF header
_start_kernel:
    mov     x20, x0                 // device tree pointer from the loader (may be 0)
    mrs     x21, CurrentEL
    lsr     x21, x21, #2            // entry exception level, for the banner
    mrs     x19, mpidr_el1
    and     x19, x19, #0xff
    cbnz    x19, 9f                 // only CPU 0 boots through here
    // Loaded higher than linked (the Pi firmware puts a 64-bit kernel at 0x200000 unless
    // config.txt's kernel_address says otherwise): copy the loaded part of the image down to
    // where it is linked and go on there. Nothing before this point depends on where it runs.
    // The copy runs forward from below, so it never overwrites what it has still to read nor
    // (the image being no larger than the distance) this loop. Loaded lower, or too large for
    // that: stop here, since the kernel cannot run anywhere but where it is linked.
    adr     x1, _start              // where the image is
    ldr     x2, =_start             // where it is linked
    cmp     x1, x2
    b.eq    5f
    b.lo    8f
    ldr     x3, =__bss_start        // the end of what the loader loaded
    sub     x3, x3, x2              // its size
    sub     x4, x1, x2              // how far too high
    cmp     x3, x4
    b.hi    8f
    mov     x5, x2
4:  ldp     x6, x7, [x1], #16
    stp     x6, x7, [x5], #16
    subs    x3, x3, #16
    b.gt    4b
    dsb     sy
    ic      iallu                   // the instruction cache may hold the old location's lines
    dsb     sy
    isb
    ldr     x9, =5f                 // on at the linked address
    br      x9
8:  wfe                             // loaded where it cannot run: see above
    b       8b
5:  DROP_TO_EL1
    isb
    mrs     x22, cntpct_el0         // entry time, the counter `timer::now` reads (bench boot)
    adrp    x0, __bss_start
    add     x0, x0, :lo12:__bss_start
    adrp    x1, __bss_end
    add     x1, x1, :lo12:__bss_end
    // 512 bytes a round (kernel.ld aligns both ends to 512): with the caches still off, the
    // loop's own compare and branches were a third of the ~100,000 instructions it took at 64.
2:  cmp     x0, x1
    b.hs    3f
    stp     xzr, xzr, [x0]
    stp     xzr, xzr, [x0, #16]
    stp     xzr, xzr, [x0, #32]
    stp     xzr, xzr, [x0, #48]
    stp     xzr, xzr, [x0, #64]
    stp     xzr, xzr, [x0, #80]
    stp     xzr, xzr, [x0, #96]
    stp     xzr, xzr, [x0, #112]
    stp     xzr, xzr, [x0, #128]
    stp     xzr, xzr, [x0, #144]
    stp     xzr, xzr, [x0, #160]
    stp     xzr, xzr, [x0, #176]
    stp     xzr, xzr, [x0, #192]
    stp     xzr, xzr, [x0, #208]
    stp     xzr, xzr, [x0, #224]
    stp     xzr, xzr, [x0, #240]
    stp     xzr, xzr, [x0, #256]
    stp     xzr, xzr, [x0, #272]
    stp     xzr, xzr, [x0, #288]
    stp     xzr, xzr, [x0, #304]
    stp     xzr, xzr, [x0, #320]
    stp     xzr, xzr, [x0, #336]
    stp     xzr, xzr, [x0, #352]
    stp     xzr, xzr, [x0, #368]
    stp     xzr, xzr, [x0, #384]
    stp     xzr, xzr, [x0, #400]
    stp     xzr, xzr, [x0, #416]
    stp     xzr, xzr, [x0, #432]
    stp     xzr, xzr, [x0, #448]
    stp     xzr, xzr, [x0, #464]
    stp     xzr, xzr, [x0, #480]
    stp     xzr, xzr, [x0, #496]
    add     x0, x0, #512
    b       2b
3:  BOOT_STACK_TOP
    mov     sp, x0
    mov     x0, x20
    mov     x1, x21
    mov     x2, x22
    bl      {primary_main}
9:  wfe
    b       9b

.global _secondary_start
_secondary_start:
    mrs     x19, mpidr_el1
    and     x19, x19, #0xff
    DROP_TO_EL1
    BOOT_STACK_TOP
    mov     sp, x0
    // MMU on with the boot CPU's tables (published and cleaned to memory before our release).
    adrp    x1, {mmu_regs}
    add     x1, x1, :lo12:{mmu_regs}
    ldp     x2, x3, [x1]            // MAIR, TCR
    ldp     x4, x5, [x1, #16]       // TTBR0, SCTLR
    msr     mair_el1, x2
    msr     tcr_el1, x3
    msr     ttbr0_el1, x4
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    msr     sctlr_el1, x5
    isb
    ic      iallu
    dsb     nsh
    isb
    mov     x0, x19
    bl      {secondary_main}
8:  wfe
    b       8b

// A CPU parked by CPU hotplug, released again (x0 = its index; MMU and EL1 as it left them):
// the same start on a fresh boot stack (the parked frames below are abandoned).
.global _secondary_rejoin
_secondary_rejoin:
    msr     daifset, #0xf
    mov     x19, x0
    BOOT_STACK_TOP
    mov     sp, x0
    mov     x0, x19
    bl      {secondary_main}
7:  wfe
    b       7b
"#,
    stacks = sym BOOT_STACKS,
    stack_size = const BOOT_STACK_SIZE,
    mmu_regs = sym super::mmu::MMU_REGS,
    primary_main = sym crate::boot::primary_main,
    secondary_main = sym crate::boot::secondary_main,
);

unsafe extern "C" {
    /// The secondary CPUs' entry point (physical = virtual: the map is an identity map).
    pub(crate) fn _secondary_start();
    /// A parked CPU's way back in ([`crate::boot::cpu_off`]): resets its stack to the top of its
    /// boot stack and calls [`crate::boot::secondary_main`]. Never returns.
    pub(crate) fn _secondary_rejoin(cpu: usize) -> !;
}
