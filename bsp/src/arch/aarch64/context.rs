//! Thread context switching: callee-saved registers on the thread's own stack, SP in the
//! [`Context`] word.
//!
//! A switched-out thread's stack holds, at its saved SP, a [`SwitchFrame`]: x29/x30 (frame
//! pointer and return address) and x19..x28, the registers the AAPCS64 makes callee-saved (the
//! target is softfloat: no FP/SIMD state). Everything else is caller-saved, so the compiler has
//! already spilled what it needs around the call. A thread preempted by an interrupt has its full
//! trap frame further up its stack, below the Rust frames of the interrupt path; it is restored
//! when the switch returns into that path and the vector code returns with `eret`.
//!
//! `bsp_context_switch` is 19 instructions: 6 pair stores, store SP, load SP, clear `from`'s
//! on-CPU flag (a release store, [`Context::ON_CPU_OFFSET`]), 6 pair loads, `ret`.

use core::arch::global_asm;
use rtos::port::{Context, Stack, ThreadEntry};

/// What `bsp_context_switch` leaves at a switched-out thread's SP (and `init_context` builds).
#[repr(C)]
struct SwitchFrame {
    /// Frame pointer and link register (where the switch returns to).
    x29: u64,
    x30: u64,
    /// x19..x28.
    x19_28: [u64; 10],
}

const SWITCH_FRAME: usize = size_of::<SwitchFrame>();
const _: () = assert!(SWITCH_FRAME == 96 && SWITCH_FRAME.is_multiple_of(16));

global_asm!(
    r#"
.section .text.bsp_context_switch, "ax"
// x0 = the `Context` to save into (from), x1 = the `Context` to resume (to). IRQs masked.
.global bsp_context_switch
.balign 16
bsp_context_switch:
    stp     x29, x30, [sp, #-{frame}]!
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    mov     x9, sp
    str     x9, [x0, #{word}]
    ldr     x9, [x1, #{word}]
    mov     sp, x9
    // Off `from`'s stack, its state saved: it may now be resumed elsewhere (release store).
    add     x10, x0, #{on_cpu}
    stlrb   wzr, [x10]
    ldp     x19, x20, [sp, #16]
    ldp     x21, x22, [sp, #32]
    ldp     x23, x24, [sp, #48]
    ldp     x25, x26, [sp, #64]
    ldp     x27, x28, [sp, #80]
    ldp     x29, x30, [sp], #{frame}
    ret

// A new thread's first instructions: the initial frame made by `init_context` returns here with
// x19 = entry, x20 = arg, SP at the top of the stack and IRQs still masked.
.global bsp_thread_start
bsp_thread_start:
    mov     x0, x20
    blr     x19
    brk     #0x1                    // the entry never returns
"#,
    frame = const SWITCH_FRAME,
    on_cpu = const Context::ON_CPU_OFFSET,
    word = const Context::WORD_OFFSET,
);

unsafe extern "C" {
    fn bsp_context_switch(from: *const Context, to: *const Context);
    fn bsp_thread_start();
}

/// Builds the initial context of a thread that runs `entry(arg)` on `stack`.
///
/// # Panics
/// If `stack` is not a stack currently handed out by [`crate::stacks::alloc`].
pub(crate) fn init_context(stack: &Stack, entry: ThreadEntry, arg: usize) -> Context {
    assert!(
        crate::stacks::is_allocated(stack),
        "init_context: {stack:x?} is not an allocated stack"
    );
    let sp = stack.top() - SWITCH_FRAME;
    let mut x19_28 = [0u64; 10];
    x19_28[0] = entry as usize as u64;
    x19_28[1] = arg as u64;
    let frame = SwitchFrame {
        x29: 0, // ends frame-pointer chains
        x30: bsp_thread_start as *const () as usize as u64,
        x19_28,
    };
    // SAFETY: `stack` is an allocated arena slot (checked above), so `[top - 96, top)` is mapped
    // RAM owned by the thread being created, which no CPU runs yet; `sp` is 16-byte aligned.
    unsafe { core::ptr::write(sp as *mut SwitchFrame, frame) };
    Context::new(sp)
}

/// Saves the calling thread into `from` and resumes `to`.
///
/// # Safety
/// As [`rtos::port::Port::switch`]: IRQs masked, `from` is the caller's own context, `to` holds
/// an SP saved by this function or made by [`init_context`], on a stack that stays valid, and no
/// CPU runs it.
pub(crate) unsafe fn switch(from: &Context, to: &Context) {
    // SAFETY: forwarded from the caller; the asm saves exactly the callee-saved registers, so to
    // the compiler this is an ordinary `extern "C"` call that returns when `from` is resumed.
    unsafe { bsp_context_switch(from, to) }
}
