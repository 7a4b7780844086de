//! ARMv8 generic timer: the system counter and each CPU's EL1 physical timer (PPI 14, INTID 30).
//!
//! The counter frequency is read from `CNTFRQ_EL0` (62.5 MHz under QEMU, 54 MHz on a Pi 4).
//! The timer is used one-shot: a deadline is programmed in `CNTP_CVAL_EL0`; with no deadline the
//! timer is disabled, so an idle CPU is not woken (and QEMU `-icount sleep=off` does not spin).

use aarch64_cpu::registers::{CNTFRQ_EL0, CNTP_CTL_EL0, CNTP_CVAL_EL0, CNTPCT_EL0};
use tock_registers::interfaces::{Readable, Writeable};

/// INTID of the EL1 physical timer interrupt (PPI 14).
pub const TIMER_INTID: u32 = 30;

/// The system counter, ordered after earlier instructions.
pub fn now() -> u64 {
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
    CNTPCT_EL0.get()
}

/// Counter ticks per second.
pub fn frequency() -> u64 {
    CNTFRQ_EL0.get() & 0xffff_ffff
}

/// Programs this CPU's one-shot deadline (`None` disables the timer).
pub fn set_deadline(deadline: Option<u64>) {
    match deadline {
        Some(at) => {
            CNTP_CVAL_EL0.set(at);
            CNTP_CTL_EL0.write(CNTP_CTL_EL0::ENABLE::SET + CNTP_CTL_EL0::IMASK::CLEAR);
        }
        None => CNTP_CTL_EL0.write(CNTP_CTL_EL0::ENABLE::CLEAR),
    }
}
