//! What an exception leaves behind and how to name it: the saved context ([`TrapFrame`]), the
//! vector taken ([`Vector`]) and the decoding of the syndrome for fault reports. Plain data, used
//! by the vectors ([`super::exceptions`]), the semihosting probe and the panic report.

/// The interrupted context, as saved by the vector code.
#[repr(C)]
pub struct TrapFrame {
    /// General registers x0..x30.
    pub x: [u64; 31],
    /// Exception link register: where execution resumes.
    pub elr: u64,
    /// Saved program status.
    pub spsr: u64,
    _pad: u64,
}

/// Which vector was taken (the order of the architectural table).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Vector {
    CurrentSp0Sync = 0,
    CurrentSp0Irq,
    CurrentSp0Fiq,
    CurrentSp0SError,
    CurrentSpxSync,
    CurrentSpxIrq,
    CurrentSpxFiq,
    CurrentSpxSError,
    LowerA64Sync,
    LowerA64Irq,
    LowerA64Fiq,
    LowerA64SError,
    LowerA32Sync,
    LowerA32Irq,
    LowerA32Fiq,
    LowerA32SError,
}

impl Vector {
    pub(crate) fn from_raw(raw: u64) -> Self {
        const ALL: [Vector; 16] = [
            Vector::CurrentSp0Sync,
            Vector::CurrentSp0Irq,
            Vector::CurrentSp0Fiq,
            Vector::CurrentSp0SError,
            Vector::CurrentSpxSync,
            Vector::CurrentSpxIrq,
            Vector::CurrentSpxFiq,
            Vector::CurrentSpxSError,
            Vector::LowerA64Sync,
            Vector::LowerA64Irq,
            Vector::LowerA64Fiq,
            Vector::LowerA64SError,
            Vector::LowerA32Sync,
            Vector::LowerA32Irq,
            Vector::LowerA32Fiq,
            Vector::LowerA32SError,
        ];
        ALL[(raw & 15) as usize]
    }

    /// A short human name.
    pub fn name(self) -> &'static str {
        match self as u64 & 3 {
            0 => "synchronous",
            1 => "IRQ",
            2 => "FIQ",
            _ => "SError",
        }
    }
}

/// A name for an ESR exception class, for fault reports.
pub fn exception_class_name(ec: u64) -> &'static str {
    match ec {
        0x00 => "unknown reason (undefined instruction)",
        0x01 => "trapped WFI/WFE",
        0x07 => "FP/SIMD access trapped",
        0x0e => "illegal execution state",
        0x15 => "SVC instruction",
        0x16 => "HVC instruction",
        0x17 => "SMC instruction",
        0x18 => "trapped system register access",
        0x20 => "instruction abort from a lower EL",
        0x21 => "instruction abort",
        0x22 => "PC alignment fault",
        0x24 => "data abort from a lower EL",
        0x25 => "data abort",
        0x26 => "SP alignment fault",
        0x2f => "SError interrupt",
        0x30 | 0x31 => "breakpoint",
        0x32 | 0x33 => "software step",
        0x34 | 0x35 => "watchpoint",
        0x3c => "BRK instruction",
        _ => "reserved or unhandled class",
    }
}

/// Decodes the fault status code of an abort (ESR ISS bits 5..0).
pub fn abort_status_name(iss: u64) -> &'static str {
    match iss & 0x3f {
        0x00..=0x03 => "address size fault",
        0x04..=0x07 => "translation fault (unmapped address)",
        0x09..=0x0b => "access flag fault",
        0x0d..=0x0f => "permission fault",
        0x10 => "synchronous external abort",
        0x21 => "alignment fault",
        0x30 => "TLB conflict abort",
        _ => "other fault status",
    }
}
