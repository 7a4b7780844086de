//! The code that outlives the kernel during a reload (`crate::reload`): a small block of
//! position-independent assembly that the running kernel copies to a reserved page (outside its
//! image and the image's target range) and runs from there with the MMU off.
//!
//! Two entry points, both at EL1 with interrupts masked, entered with the MMU on from the
//! identity-mapped copy (so turning the MMU off changes no address):
//!
//! * `park(slot, ack)`, on each secondary CPU: MMU, D-cache and I-cache off, this CPU's data
//!   caches cleaned and invalidated by set/way up to the point of unification (its own L1; the
//!   shared L2 is the boot CPU's job), TLB and I-cache invalidated, then `1` stored at `ack`
//!   (straight to memory: the MMU is off), then a spin-table wait: `wfe` until the 64-bit word at
//!   `slot` is nonzero, then a branch there with `x0..x3` zero, the state the firmware's own
//!   spin table leaves a CPU in (the new kernel releases it as the firmware would). `slot` 0:
//!   wait forever.
//! * `boot(src, dst, len, arg)`, on the boot CPU once every other CPU is parked: MMU and caches
//!   off, every data cache level up to the point of coherency cleaned and invalidated by set/way
//!   (so no dirty line of the old kernel can later overwrite the new one, and no stale line can
//!   hit when the new kernel turns its caches on), `len` bytes (a multiple of 8) copied forward
//!   from `src` to `dst` (`dst < src`, so an overlap is harmless), I-cache and TLB invalidated,
//!   then a branch to `dst` with `x0 = arg` (the device tree) and `x1..x3` zero: the Linux-style
//!   boot protocol the kernel's `_start` expects.
//!
//! With the MMU off, data accesses are Device-nGnRnE: every access here is aligned to its size.
//! No stack is used: between turning the caches off and cleaning them, a memory access could
//! read stale data, so everything lives in registers.

use core::arch::global_asm;

global_asm!(
    r#"
.section .text.reload_stub, "ax"
.balign 64
.global __reload_stub_start
__reload_stub_start:

// park(x0 = release slot or 0, x1 = ack word)
.global __reload_park
__reload_park:
    msr     daifset, #0xf
    mov     x19, x0
    mov     x20, x1
    bl      2f                      // MMU and caches off
    mov     x0, #0                  // this CPU's caches (to the point of unification)
    bl      3f
    ic      iallu
    tlbi    vmalle1
    dsb     sy
    isb
    mov     x9, #1
    str     x9, [x20]               // parked: to memory, the MMU is off
    dsb     sy
1:  cbz     x19, 9f
    wfe
    ldr     x9, [x19]
    cbz     x9, 1b
    mov     x0, xzr
    mov     x1, xzr
    mov     x2, xzr
    mov     x3, xzr
    br      x9
9:  wfe
    b       9b

// boot(x0 = src, x1 = dst, x2 = len, x3 = x0 for the new kernel)
.global __reload_boot
__reload_boot:
    msr     daifset, #0xf
    mov     x19, x0                 // next source word
    mov     x20, x1                 // next destination word
    add     x21, x0, x2             // end of the source
    mov     x22, x3
    mov     x23, x1                 // the new kernel's entry
    bl      2f
    mov     x0, #1                  // every level, to the point of coherency
    bl      3f
4:  cmp     x19, x21
    b.hs    5f
    ldr     x9, [x19], #8
    str     x9, [x20], #8
    b       4b
5:  dsb     sy
    ic      iallu
    tlbi    vmalle1
    dsb     sy
    isb
    mov     x0, x22
    mov     x1, xzr
    mov     x2, xzr
    mov     x3, xzr
    br      x23

// MMU, D-cache and I-cache off (SCTLR_EL1.M, C, I). Clobbers x9, x10.
2:  mrs     x9, sctlr_el1
    mov     x10, #0x1005
    bic     x9, x9, x10
    msr     sctlr_el1, x9
    isb
    ret

// Clean and invalidate the data caches by set/way: x0 = 0 up to the point of unification
// (inner shareable), else up to the point of coherency. Clobbers x0-x11.
3:  mrs     x1, clidr_el1
    ubfx    x3, x1, #21, #3         // LoUIS
    cbz     x0, 31f
    ubfx    x3, x1, #24, #3         // LoC
31: lsl     x3, x3, #1              // levels * 2
    mov     x10, #0                 // level * 2 (CSSELR's format)
32: cmp     x10, x3
    b.hs    38f
    add     x2, x10, x10, lsr #1    // level * 3: its Ctype field in CLIDR
    lsr     x4, x1, x2
    and     x4, x4, #7
    cmp     x4, #2                  // 2: data only, 3: separate, 4: unified
    b.lt    37f
    msr     csselr_el1, x10
    isb
    mrs     x4, ccsidr_el1
    and     x2, x4, #7
    add     x2, x2, #4              // log2(line bytes): the set field's shift
    ubfx    x5, x4, #3, #10         // ways - 1
    clz     w6, w5                  // the way field's shift (32 for one way: x8 is 0 then)
    ubfx    x7, x4, #13, #15        // sets - 1
33: mov     x8, x5
34: lsl     x9, x8, x6
    orr     x9, x9, x10
    lsl     x11, x7, x2
    orr     x9, x9, x11
    dc      cisw, x9
    subs    x8, x8, #1
    b.ge    34b
    subs    x7, x7, #1
    b.ge    33b
37: add     x10, x10, #2
    b       32b
38: msr     csselr_el1, xzr
    dsb     sy
    isb
    ret

.global __reload_stub_end
__reload_stub_end:
"#
);

unsafe extern "C" {
    static __reload_stub_start: u8;
    static __reload_stub_end: u8;
    fn __reload_park();
    fn __reload_boot();
}

/// The stub's code, as the kernel image holds it (copy it before use: this copy is overwritten
/// by the new image).
pub(crate) fn code() -> &'static [u8] {
    let start = core::ptr::addr_of!(__reload_stub_start) as usize;
    let end = core::ptr::addr_of!(__reload_stub_end) as usize;
    // SAFETY: both symbols delimit the assembled block above, in the kernel's text, which is
    // mapped and never written.
    unsafe { core::slice::from_raw_parts(start as *const u8, end - start) }
}

/// Offset of `park` in [`code`].
pub(crate) fn park_offset() -> usize {
    __reload_park as *const () as usize - core::ptr::addr_of!(__reload_stub_start) as usize
}

/// Offset of `boot` in [`code`].
pub(crate) fn boot_offset() -> usize {
    __reload_boot as *const () as usize - core::ptr::addr_of!(__reload_stub_start) as usize
}

/// Runs the copied stub's `park` at `entry` on this CPU: never returns.
///
/// # Safety
/// `entry` must be `park` of a copy of [`code`] in identity-mapped, executable memory that is
/// cleaned to the point of coherency and that nothing overwrites while any CPU may run it;
/// `ack` an 8-byte aligned word in memory that stays untouched likewise; `slot` 0 or the 8-byte
/// aligned spin-table word the next kernel writes its secondary entry to. Interrupts of this
/// CPU must be quiesced (its GIC CPU interface and timer off): nothing of the running kernel
/// runs on this CPU again.
pub(crate) unsafe fn park(entry: usize, slot: usize, ack: usize) -> ! {
    // SAFETY: the caller's contract; the stub masks interrupts, uses no stack and never returns.
    unsafe {
        core::arch::asm!(
            "br {entry}",
            entry = in(reg) entry,
            in("x0") slot,
            in("x1") ack,
            options(noreturn, nostack)
        )
    }
}

/// Runs the copied stub's `boot` at `entry` on this CPU: copies `len` bytes from `src` to
/// `dst` with the MMU and caches off and enters `dst` with `x0 = arg`. Never returns.
///
/// # Safety
/// As [`park`] for `entry`; besides, every other CPU must be parked or off, this CPU's
/// interrupts masked and quiesced, `src` and `dst` 8-byte aligned, `len` a multiple of 8,
/// `dst < src`, neither range overlapping the stub, and `dst` the load address the image was
/// linked for: the running kernel is gone once this is called.
pub(crate) unsafe fn boot(entry: usize, src: usize, dst: usize, len: usize, arg: usize) -> ! {
    // SAFETY: the caller's contract; the stub masks interrupts, uses no stack and never returns.
    unsafe {
        core::arch::asm!(
            "br {entry}",
            entry = in(reg) entry,
            in("x0") src,
            in("x1") dst,
            in("x2") len,
            in("x3") arg,
            options(noreturn, nostack)
        )
    }
}
