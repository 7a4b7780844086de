//! Fatal errors: Rust panics and unexpected exceptions.
//!
//! Both print one marker line starting with `KERNEL PANIC`, then details, stop the other CPUs,
//! and end the system: under QEMU with semihosting the emulator exits with
//! [`PANIC_EXIT_CODE`]; on hardware the CPUs stay halted so the report
//! remains readable on the serial line.
//!
//! The report bypasses the console lock after a bounded wait (the panicking CPU may hold it) and
//! writes straight to the UART.

use crate::arch::{
    self,
    trap::{TrapFrame, Vector, abort_status_name, exception_class_name},
};
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};

/// Exit status reported to QEMU after a kernel panic or fault.
pub const PANIC_EXIT_CODE: u32 = 101;

static PANICKING: AtomicBool = AtomicBool::new(false);
struct RawWriter;

impl Write for RawWriter {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let early;
        let uart = match crate::kernel::try_kernel() {
            Some(k) => &k.uart,
            None => match crate::kernel::early_uart() {
                None => return Ok(()),
                Some(base) => {
                    // SAFETY: `base` is the board's PL011, mapped and programmed by the boot
                    // CPU before it was stored; the panicking CPU owns the output from here
                    // (`begin` claimed the report).
                    early = unsafe { crate::drivers::pl011::Pl011::new(base) };
                    &early
                }
            },
        };
        for b in s.bytes() {
            if b == b'\n' {
                uart.put(b'\r');
            }
            uart.put(b);
        }
        Ok(())
    }
}

/// Masks interrupts, claims the report (a second panic, on any CPU, just halts), and waits a
/// bounded time for other CPUs to finish their current console line.
fn begin() -> RawWriter {
    arch::irq_save();
    if PANICKING.swap(true, Ordering::AcqRel) {
        arch::halt();
    }
    for _ in 0..100_000 {
        if !crate::console::LOCK.is_locked() {
            break;
        }
        core::hint::spin_loop();
    }
    let mut w = RawWriter;
    let _ = w.write_str("\n");
    w
}

fn end() -> ! {
    if let Some(k) = crate::kernel::try_kernel() {
        let others = ((1u32 << k.cpus) - 1) & !(1 << arch::cpu_id());
        k.gic.send_sgi(rtos::port::Sgi::Halt, others);
        k.uart.flush();
    }
    arch::semihosting::exit(PANIC_EXIT_CODE);
    arch::halt();
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    let mut w = begin();
    let _ = write!(
        w,
        "KERNEL PANIC on cpu{}: {}",
        arch::cpu_id(),
        info.message()
    );
    if let Some(loc) = info.location() {
        let _ = write!(w, " (at {}:{})", loc.file(), loc.line());
    }
    let _ = writeln!(w);
    context_line(&mut w);
    backtrace(&mut w, arch::stack_pointer());
    end()
}

/// `  in thread <name> (tid T)`: who was running when the panic or fault happened, and whether
/// in hard-IRQ context (then the thread is the one the interrupt interrupted) or in a CPU's idle
/// thread. Every report but a stack overflow's (whose first line names the thread) has it.
fn context_line(w: &mut RawWriter) {
    let cpu = arch::cpu_id();
    let irq = rtos::cpu::stats(cpu).is_some_and(rtos::cpu::CpuStats::in_hardirq);
    let named = rtos::sched::peek_current(|tid, name, idle| {
        let _ = match (irq, idle) {
            (true, _) => writeln!(
                w,
                "  in hard-IRQ context on cpu{cpu}, interrupting thread {name} (tid {tid})"
            ),
            (false, true) => writeln!(w, "  in the idle thread of cpu{cpu} ({name})"),
            (false, false) => writeln!(w, "  in thread {name} (tid {tid}) on cpu{cpu}"),
        };
    });
    if !named {
        let _ = writeln!(
            w,
            "  in {} on cpu{cpu}, thread unknown (no scheduler yet, or its run queue is locked)",
            if irq { "hard-IRQ context" } else { "a thread" }
        );
    }
}

/// Loads from an address the identity map leaves unmapped, on purpose, to exercise the fault
/// report (the shell's `crash fault`): the translation fault is reported as a `KERNEL PANIC` and
/// the system stops, so this never returns.
pub fn deliberate_fault() -> ! {
    let bad = 0x7f_0000_0000usize as *const u64;
    // SAFETY: not sound to dereference, on purpose: the load faults before returning a value, and
    // the fault handler reports it and stops the system.
    let v = unsafe { core::ptr::read_volatile(bad) };
    core::hint::black_box(v);
    unreachable!("the load from unmapped {bad:p} did not fault")
}

/// Reports an unexpected exception and stops the system. A data abort on a guard page of the
/// stack arena is reported as a stack overflow of the thread that owns the page.
pub(crate) fn fault(vector: Vector, frame: &TrapFrame, esr: u64, far: u64) -> ! {
    let ec = esr >> 26;
    let on_guard = matches!(ec, 0x24 | 0x25) && crate::stacks::in_guard(far as usize);
    let mut w = begin();
    let (class, cpu) = (exception_class_name(ec), arch::cpu_id());
    if on_guard {
        overflow_line(&mut w, far as usize);
        let _ = writeln!(w, "  {} exception: {class} (EC {ec:#04x})", vector.name());
    } else {
        let _ = writeln!(
            w,
            "KERNEL PANIC on cpu{cpu}: unhandled {} exception: {class} (EC {ec:#04x})",
            vector.name()
        );
        context_line(&mut w);
    }
    details(&mut w, frame, esr, far);
    end()
}

/// Reports a stack overflow caught by the synchronous vector before it pushed a trap frame onto a
/// guard page (`frame` lives on the emergency stack; `sp` is the thread's SP at the exception).
pub(crate) fn stack_overflow(frame: &TrapFrame, sp: usize, esr: u64, far: u64) -> ! {
    let mut w = begin();
    // Name the thread from its stack: the SP, or for a fault on a guard page that the SP has not
    // reached (a big frame), the faulting address.
    let ec = esr >> 26;
    let addr = if matches!(ec, 0x24 | 0x25) && crate::stacks::in_guard(far as usize) {
        far as usize
    } else {
        sp
    };
    overflow_line(&mut w, addr);
    let _ = writeln!(
        w,
        "  synchronous exception: {} (EC {:#04x}), SP {sp:#018x}",
        exception_class_name(ec),
        ec
    );
    details(&mut w, frame, esr, far);
    end()
}

/// The `KERNEL PANIC ...: stack overflow in thread <name> (tid T)` line; `addr` is on the thread's
/// stack or its guard page.
fn overflow_line(w: &mut RawWriter, addr: usize) {
    let cpu = arch::cpu_id();
    // The lookup only try-locks and never allocates, so it is safe even when this CPU faulted
    // while holding the registry or the heap lock (it then reports the address instead).
    let named = rtos::kthread::with_owner_of_stack(addr, crate::stacks::GUARD_SIZE, |tid, name| {
        let _ = writeln!(
            w,
            "KERNEL PANIC on cpu{cpu}: stack overflow in thread {name} (tid {tid})"
        );
    });
    if !named {
        let _ = writeln!(
            w,
            "KERNEL PANIC on cpu{cpu}: stack overflow in thread at {addr:#x} (name unavailable)"
        );
    }
}

/// ESR (decoded for aborts), FAR, ELR, SPSR and the general registers.
fn details(w: &mut RawWriter, frame: &TrapFrame, esr: u64, far: u64) {
    let ec = esr >> 26;
    let iss = esr & 0x1ff_ffff;
    let _ = write!(w, "  ESR {esr:#018x}");
    if matches!(ec, 0x20 | 0x21 | 0x24 | 0x25) {
        let _ = write!(
            w,
            " ({}, {})",
            abort_status_name(iss),
            if iss & (1 << 6) != 0 { "write" } else { "read" }
        );
    }
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "  FAR {far:#018x}  ELR {:#018x}  SPSR {:#018x}",
        frame.elr, frame.spsr
    );
    for row in 0..11 {
        let _ = write!(w, " ");
        for col in 0..3 {
            let r = row * 3 + col;
            if r < 31 {
                let _ = write!(w, " x{r:<2} {:#018x}", frame.x[r]);
            }
        }
        let _ = writeln!(w);
    }
    // The trap frame sits on the stack that faulted, just below the SP the fault had (a stack
    // overflow's on the emergency stack: then the scan finds nothing in the arena there).
    backtrace(
        w,
        core::ptr::from_ref(frame) as usize + core::mem::size_of::<TrapFrame>(),
    );
}

/// Most return addresses [`backtrace`] prints.
const MAX_FRAMES: usize = 24;

/// `  return addresses on the stack: <address>...`: the words from `sp` to the top of the
/// thread's stack that look like return addresses, innermost first: they point into the kernel's
/// text just after a call instruction (`BL`, `BLR`). The kernel is built without frame pointers
/// (they cost ~3 % on the switch paths), so this is a stack scan, like Linux's `?` entries: the
/// live call chain is there, and a stale address of an earlier call may be too. Only words of a
/// thread stack in the arena are read (mapped; not a guard page), and only text is decoded. The
/// runner turns the addresses into function names and lines (`runner script`).
fn backtrace(w: &mut RawWriter, sp: usize) {
    let _ = write!(w, "  return addresses on the stack:");
    let text = crate::boot::kernel_text();
    let mut found = 0;
    if let Some(top) = crate::stacks::stack_top(sp) {
        let mut at = sp.next_multiple_of(8);
        while at + 8 <= top && found < MAX_FRAMES {
            // SAFETY: `at..at + 8` is inside the mapped thread stack that holds `sp` (checked by
            // `stack_top`), 8-byte aligned; the value is only compared and printed.
            let v = unsafe { core::ptr::read_volatile(at as *const usize) };
            if v.is_multiple_of(4) && v >= text.start + 4 && v <= text.end {
                // SAFETY: `v - 4` is a 4-byte-aligned address inside the kernel's text, which is
                // mapped and readable.
                let insn = unsafe { core::ptr::read_volatile((v - 4) as *const u32) };
                if arch::is_call(insn) {
                    let _ = write!(w, " {v:#x}");
                    found += 1;
                }
            }
            at += 8;
        }
    }
    if found == 0 {
        let _ = write!(w, " (none: not on a thread stack)");
    }
    let _ = writeln!(w);
}
