//! Exception vectors and dispatch to interrupt and fault handling (the trap frame they save is
//! [`super::trap`]'s).
//!
//! Every exception but an IRQ saves all general registers plus `ELR_EL1` and `SPSR_EL1` in a
//! [`TrapFrame`] on the current stack, so a handler can report or alter the interrupted context.
//! Only the "current EL with SP_ELx" synchronous and IRQ vectors are expected; anything else is a
//! fault.
//!
//! The IRQ vector (current EL, SP_ELx) is the hot one and saves less: only the registers a call
//! may clobber (x0..x18, x29, x30) plus `ELR_EL1`/`SPSR_EL1`, an `IrqFrame`. The Rust handler
//! preserves x19..x28 itself (AAPCS64), and a thread switch in the preemption point saves them in
//! the switch frame, so saving them here too would only cost time on every interrupt.
//!
//! An IRQ ends with `irq::handle_irq` calling the kernel's way back into the thread
//! (`rtos::entry::irq_exit`, the scheduler's preemption point), which may
//! switch threads: the interrupted thread's trap frame then stays on its stack until it is
//! switched back to, and the vector code finishes with `eret` from that frame.
//!
//! # Stack overflow
//! A thread that runs off its stack faults on the guard page below it ([`crate::stacks`]). The
//! synchronous vector must not push a trap frame there (that would fault again, recursively), so
//! before it touches memory it checks whether the frame would overlap a guard page of the stack
//! arena: with `x0`/`x1` parked in `TPIDRRO_EL0`/`TPIDR_EL0` (unused: nothing runs at EL0), it
//! computes `(SP - 1 - arena) % SLOT_SIZE < GUARD_SIZE + FRAME_SIZE`. If so it moves to this
//! CPU's emergency stack, saves the frame there and reports the overflow by thread name
//! (`panic::stack_overflow`).

use super::trap::{TrapFrame, Vector};
use core::arch::global_asm;

const FRAME_SIZE: usize = size_of::<TrapFrame>();

/// What the IRQ vector saves: the caller-saved registers and the return state.
#[repr(C)]
struct IrqFrame {
    /// x0..x18.
    x0_18: [u64; 19],
    x29: u64,
    x30: u64,
    elr: u64,
    spsr: u64,
    _pad: u64,
}
const IRQ_FRAME_SIZE: usize = size_of::<IrqFrame>();
const _: () = assert!(IRQ_FRAME_SIZE == 24 * 8 && IRQ_FRAME_SIZE.is_multiple_of(16));
const _: () = assert!(FRAME_SIZE == 34 * 8 && FRAME_SIZE.is_multiple_of(16));

/// Bytes of each CPU's emergency stack (stack-overflow reports run on it).
const EMERGENCY_STACK_SIZE: usize = 16 * 1024;
const _: () =
    assert!(EMERGENCY_STACK_SIZE.is_power_of_two() && rtos::config::MAX_CPUS.is_power_of_two());

#[repr(C, align(16))]
struct EmergencyStacks(
    core::mem::MaybeUninit<[[u8; EMERGENCY_STACK_SIZE]; rtos::config::MAX_CPUS]>,
);

/// Per-CPU stacks for reporting a stack overflow; only ever used by the vector code below. In
/// the boot stacks' non-loaded section (see `kernel.ld`): a stack needs no zeroes, and clearing
/// its 128 KiB with the caches off cost boot about 16,000 instructions.
#[unsafe(link_section = ".boot_stacks")]
static mut EMERGENCY_STACKS: EmergencyStacks = EmergencyStacks(core::mem::MaybeUninit::uninit());

global_asm!(
    r#"
// x0..x17 sit at the same offsets in a `TrapFrame` and an `IrqFrame`.
.macro SAVE_X2_TO_X17
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
.endm

.macro LOAD_X0_TO_X17
    ldp     x16, x17, [sp, #128]
    ldp     x14, x15, [sp, #112]
    ldp     x12, x13, [sp, #96]
    ldp     x10, x11, [sp, #80]
    ldp     x8, x9, [sp, #64]
    ldp     x6, x7, [sp, #48]
    ldp     x4, x5, [sp, #32]
    ldp     x2, x3, [sp, #16]
    ldp     x0, x1, [sp, #0]
.endm

.macro SAVE_X2_TO_X30_ELR_SPSR
    SAVE_X2_TO_X17
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    mrs     x9, elr_el1
    mrs     x10, spsr_el1
    stp     x30, x9, [sp, #240]
    str     x10, [sp, #256]
.endm

.macro VECTOR kind
    .balign 0x80
    sub     sp, sp, #{frame}
    stp     x0, x1, [sp, #0]
    mov     x1, #\kind
    b       bsp_exception_common
.endm

.section .text.vectors, "ax"
.balign 0x800
.global bsp_vectors
bsp_vectors:
    VECTOR 0
    VECTOR 1
    VECTOR 2
    VECTOR 3
    .balign 0x80                    // 4: current EL with SP_ELx, synchronous
    b       bsp_sync_spx
    .balign 0x80                    // 5: current EL with SP_ELx, IRQ
    b       bsp_irq_spx
    VECTOR 6
    VECTOR 7
    VECTOR 8
    VECTOR 9
    VECTOR 10
    VECTOR 11
    VECTOR 12
    VECTOR 13
    VECTOR 14
    VECTOR 15

// Synchronous exception at EL1h: would the trap frame overlap a guard page of the stack arena?
bsp_sync_spx:
    msr     tpidrro_el0, x0
    msr     tpidr_el0, x1
    mov     x0, sp
    sub     x0, x0, #1
    adrp    x1, {arena}
    add     x1, x1, :lo12:{arena}
    sub     x0, x0, x1              // offset of the frame's top byte in the arena (wraps below)
    movz    x1, #({arena_size} >> 16), lsl #16
    movk    x1, #({arena_size} & 0xffff)
    cmp     x0, x1
    b.hs    1f                      // not on a thread stack
    mov     x1, #{slot_size}
    udiv    x1, x0, x1              // slot index
    sub     x0, x0, x1, lsl #{guard_shift}
    sub     x0, x0, x1, lsl #{stack_shift}  // offset inside the slot
    mov     x1, #({guard_size} + {frame})
    cmp     x0, x1
    b.lo    bsp_stack_overflow_entry
1:  mrs     x0, tpidrro_el0
    mrs     x1, tpidr_el0
    sub     sp, sp, #{frame}
    stp     x0, x1, [sp, #0]
    mov     x1, #4
    b       bsp_exception_common

// Stack overflow: x0/x1 are parked in TPIDRRO_EL0/TPIDR_EL0, SP is the thread's. Move to this
// CPU's emergency stack, save the frame there and report; never returns.
bsp_stack_overflow_entry:
    mrs     x0, mpidr_el1
    and     x0, x0, #({max_cpus} - 1)
    add     x0, x0, #1
    adrp    x1, {emergency}
    add     x1, x1, :lo12:{emergency}
    add     x1, x1, x0, lsl #{emergency_shift}    // top of this CPU's emergency stack
    mov     x0, sp                  // the overflowing SP, for the report
    mov     sp, x1
    sub     sp, sp, #{frame}
    SAVE_X2_TO_X30_ELR_SPSR
    mrs     x9, tpidrro_el0
    mrs     x10, tpidr_el0
    stp     x9, x10, [sp, #0]
    mov     x1, x0
    mov     x0, sp
    bl      {overflow}
2:  wfe
    b       2b

// IRQ at EL1h: an `IrqFrame` (caller-saved registers, ELR, SPSR), then the dispatcher.
bsp_irq_spx:
    sub     sp, sp, #{irq_frame}
    stp     x0, x1, [sp, #0]
    SAVE_X2_TO_X17
    stp     x18, x29, [sp, #144]
    mrs     x9, elr_el1
    mrs     x10, spsr_el1
    stp     x30, x9, [sp, #160]
    str     x10, [sp, #176]
    bl      {irq}
    ldr     x10, [sp, #176]
    ldp     x30, x9, [sp, #160]
    msr     elr_el1, x9
    msr     spsr_el1, x10
    ldp     x18, x29, [sp, #144]
    LOAD_X0_TO_X17
    add     sp, sp, #{irq_frame}
    eret

bsp_exception_common:
    SAVE_X2_TO_X30_ELR_SPSR
    mov     x0, sp
    bl      {handler}
    ldr     x10, [sp, #256]
    ldp     x30, x9, [sp, #240]
    msr     elr_el1, x9
    msr     spsr_el1, x10
    ldp     x28, x29, [sp, #224]
    ldp     x26, x27, [sp, #208]
    ldp     x24, x25, [sp, #192]
    ldp     x22, x23, [sp, #176]
    ldp     x20, x21, [sp, #160]
    ldp     x18, x19, [sp, #144]
    LOAD_X0_TO_X17
    add     sp, sp, #{frame}
    eret
"#,
    frame = const FRAME_SIZE,
    irq_frame = const IRQ_FRAME_SIZE,
    irq = sym irq_handler,
    handler = sym exception_handler,
    overflow = sym stack_overflow_handler,
    arena = sym crate::stacks::STACK_ARENA,
    arena_size = const crate::stacks::ARENA_SIZE,
    slot_size = const crate::stacks::SLOT_SIZE,
    guard_size = const crate::stacks::GUARD_SIZE,
    guard_shift = const crate::stacks::GUARD_SHIFT,
    stack_shift = const crate::stacks::STACK_SHIFT,
    emergency = sym EMERGENCY_STACKS,
    emergency_shift = const EMERGENCY_STACK_SIZE.trailing_zeros(),
    max_cpus = const rtos::config::MAX_CPUS,
);

unsafe extern "C" {
    static bsp_vectors: u8;
}

/// Points `VBAR_EL1` at the vector table on the calling CPU.
pub(crate) fn install() {
    // SAFETY: `bsp_vectors` is a correctly aligned, complete vector table that stays mapped.
    unsafe {
        core::arch::asm!(
            "msr vbar_el1, {}",
            "isb",
            in(reg) core::ptr::addr_of!(bsp_vectors),
            options(nostack),
        );
    }
}

/// Reads ESR_EL1 and FAR_EL1.
fn syndrome() -> (u64, u64) {
    let (esr, far): (u64, u64);
    // SAFETY: reading system registers has no side effects.
    unsafe {
        core::arch::asm!("mrs {}, esr_el1", "mrs {}, far_el1", out(reg) esr, out(reg) far,
            options(nomem, nostack, preserves_flags));
    }
    (esr, far)
}

/// The IRQ vector's handler (current EL, SP_ELx).
extern "C" fn irq_handler() {
    crate::irq::handle_irq();
}

extern "C" fn exception_handler(frame: &mut TrapFrame, raw: u64) {
    let vector = Vector::from_raw(raw);
    match vector {
        Vector::CurrentSpxSync => {
            let (esr, far) = syndrome();
            if super::semihosting::skip_if_probe(frame, esr) {
                return;
            }
            crate::panic::fault(vector, frame, esr, far);
        }
        _ => {
            let (esr, far) = syndrome();
            crate::panic::fault(vector, frame, esr, far);
        }
    }
}

/// The synchronous vector found the trap frame would overlap a guard page: `frame` is on the
/// emergency stack, `sp` is the thread's stack pointer at the exception.
extern "C" fn stack_overflow_handler(frame: &TrapFrame, sp: u64) -> ! {
    let (esr, far) = syndrome();
    crate::panic::stack_overflow(frame, sp as usize, esr, far)
}
