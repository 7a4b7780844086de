//! Arm semihosting, used to report an exit status to QEMU.
//!
//! On QEMU started with `-semihosting-config enable=on,target=native`, `SYS_EXIT` ends the
//! emulator with our status. Elsewhere (real hardware, QEMU without semihosting) the `HLT #0xF000`
//! is an undefined instruction: the synchronous exception handler recognises that exact
//! instruction (`skip_if_probe`), steps over it and records that semihosting is unavailable, so
//! callers fall back to PSCI or the watchdog.

use super::trap::TrapFrame;
use core::sync::atomic::{AtomicBool, Ordering};

static UNAVAILABLE: AtomicBool = AtomicBool::new(false);

const SYS_EXIT: u64 = 0x18;
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x20026;

core::arch::global_asm!(
    r#"
.section .text.semihosting, "ax"
.global bsp_semihost_call
bsp_semihost_call:
    hlt     #0xf000
    ret
"#
);

unsafe extern "C" {
    /// `x0` = operation, `x1` = parameter block; returns `x0`.
    fn bsp_semihost_call(op: u64, param: *const u64) -> u64;
}

/// Whether a semihosting call may work (false once one has trapped).
pub fn available() -> bool {
    !UNAVAILABLE.load(Ordering::Relaxed)
}

/// Asks the host to exit with `code`. Returns only if semihosting is unavailable.
pub fn exit(code: u32) {
    if !available() {
        return;
    }
    let block = [ADP_STOPPED_APPLICATION_EXIT, code as u64];
    // SAFETY: SYS_EXIT reads the two-word block and either ends the emulator or, without
    // semihosting, traps to `skip_if_probe`, which resumes after the HLT.
    unsafe { bsp_semihost_call(SYS_EXIT, block.as_ptr()) };
}

/// Called for synchronous exceptions: if it is our semihosting `HLT` trapping because there is
/// no semihosting host, skip the instruction and return `true`.
pub(crate) fn skip_if_probe(frame: &mut TrapFrame, esr: u64) -> bool {
    let ec = esr >> 26;
    if ec == 0 && frame.elr == bsp_semihost_call as *const () as usize as u64 {
        UNAVAILABLE.store(true, Ordering::Relaxed);
        frame.elr += 4;
        frame.x[0] = u64::MAX;
        return true;
    }
    false
}
