//! Fatal errors: Rust panics and unexpected exceptions.
//!
//! Both print one marker line starting with `KERNEL PANIC`, then details, stop the other CPUs,
//! and end the system: under QEMU with semihosting the emulator exits with
//! [`PANIC_EXIT_CODE`](crate::PANIC_EXIT_CODE); on hardware the CPUs stay halted so the report
//! remains readable on the serial line.
//!
//! The report bypasses the console lock after a bounded wait (the panicking CPU may hold it) and
//! writes straight to the UART.

use crate::arch::{
    self,
    exceptions::{TrapFrame, Vector, abort_status_name, exception_class_name},
};
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, Ordering};

static PANICKING: AtomicBool = AtomicBool::new(false);

struct RawWriter;

impl Write for RawWriter {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        if let Some(k) = crate::try_kernel() {
            for b in s.bytes() {
                if b == b'\n' {
                    k.uart.put(b'\r');
                }
                k.uart.put(b);
            }
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
    if let Some(k) = crate::try_kernel() {
        let others = ((1u32 << k.cpus) - 1) & !(1 << arch::cpu_id());
        k.gic.send_sgi(crate::irq::SGI_HALT, others);
        k.uart.flush();
    }
    arch::semihosting::exit(crate::PANIC_EXIT_CODE);
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
    end()
}

/// Reports an unexpected exception and stops the system.
pub(crate) fn fault(vector: Vector, frame: &TrapFrame, esr: u64, far: u64) -> ! {
    let mut w = begin();
    let ec = esr >> 26;
    let iss = esr & 0x1ff_ffff;
    let _ = writeln!(
        w,
        "KERNEL PANIC on cpu{}: unhandled {} exception: {} (EC {:#04x})",
        arch::cpu_id(),
        vector.name(),
        exception_class_name(ec),
        ec
    );
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
    end()
}
