//! The two BCM2711 (Raspberry Pi 4) blocks the kernel touches besides the PL011 and GIC:
//! GPIO pin muxing for UART0 on GPIO14/15, and the power-management watchdog used to reset or
//! halt the board (the Pi firmware offers no PSCI).

use tock_registers::interfaces::{ReadWriteable, Readable, Writeable};
use tock_registers::registers::ReadWrite;
use tock_registers::{register_bitfields, register_structs};

register_bitfields! [u32,
    /// GPIO function select 1 (pins 10-19).
    GPFSEL1 [
        /// Pin 15: UART0 RXD in ALT0.
        FSEL15 OFFSET(15) NUMBITS(3) [ Input = 0, Alt0 = 4 ],
        /// Pin 14: UART0 TXD in ALT0.
        FSEL14 OFFSET(12) NUMBITS(3) [ Input = 0, Alt0 = 4 ]
    ],
    /// Pull-up/down control for pins 0-15 (BCM2711 only), two bits per pin.
    PUP_PDN_CNTRL0 [
        /// Pin 15 pull.
        PIN15 OFFSET(30) NUMBITS(2) [ None = 0, Up = 1, Down = 2 ],
        /// Pin 14 pull.
        PIN14 OFFSET(28) NUMBITS(2) [ None = 0, Up = 1, Down = 2 ]
    ]
];

register_structs! {
    /// GPIO register block (the part we use).
    GpioRegisters {
        (0x00 => _gpfsel0),
        (0x04 => gpfsel1: ReadWrite<u32, GPFSEL1::Register>),
        (0x08 => _others),
        (0xe4 => pup_pdn_cntrl0: ReadWrite<u32, PUP_PDN_CNTRL0::Register>),
        (0xe8 => @END),
    }
}

register_structs! {
    /// Power management: reset control, reset status, watchdog.
    PmRegisters {
        (0x00 => _before),
        (0x1c => rstc: ReadWrite<u32>),
        (0x20 => rsts: ReadWrite<u32>),
        (0x24 => wdog: ReadWrite<u32>),
        (0x28 => @END),
    }
}

/// Every write to the PM block must carry this password in bits 31:24.
const PM_PASSWORD: u32 = 0x5a00_0000;
/// RSTC: full reset on watchdog expiry.
const PM_RSTC_WRCFG_FULL_RESET: u32 = 0x20;
/// RSTS partition value the firmware reads as "halt, do not boot" (bits scattered, as Linux does).
const PM_RSTS_PARTITION_HALT: u32 = 0x555;

/// Routes GPIO14/15 to UART0 (ALT0) without pulls.
///
/// # Safety
/// `base` must be the BCM2711 GPIO block, mapped as Device memory, not used concurrently.
pub unsafe fn uart0_pins(base: usize) {
    // SAFETY: caller's contract; tock-registers performs volatile accesses.
    let gpio = unsafe { &*(base as *const GpioRegisters) };
    gpio.gpfsel1
        .modify(GPFSEL1::FSEL14::Alt0 + GPFSEL1::FSEL15::Alt0);
    gpio.pup_pdn_cntrl0
        .modify(PUP_PDN_CNTRL0::PIN14::None + PUP_PDN_CNTRL0::PIN15::None);
}

/// Resets the board through the watchdog; with `halt`, asks the firmware to stay halted.
///
/// # Safety
/// `base` must be the BCM2711 power-management block, mapped as Device memory.
pub unsafe fn watchdog_reset(base: usize, halt: bool) {
    // SAFETY: caller's contract; tock-registers performs volatile accesses.
    let pm = unsafe { &*(base as *const PmRegisters) };
    if halt {
        pm.rsts
            .set((pm.rsts.get() & 0x00ff_ffff) | PM_PASSWORD | PM_RSTS_PARTITION_HALT);
    }
    pm.wdog.set(PM_PASSWORD | 10);
    pm.rstc.set(PM_PASSWORD | PM_RSTC_WRCFG_FULL_RESET);
}
