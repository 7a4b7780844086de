//! The two BCM2711 (Raspberry Pi 4) blocks the kernel touches besides the PL011 and GIC:
//! GPIO pin muxing for UART0 on GPIO14/15, and the power-management watchdog used to reset or
//! halt the board (the Pi firmware offers no PSCI).
//!
//! Pin functions and pulls follow the "BCM2711 ARM Peripherals" datasheet, chapter 5 (General
//! Purpose I/O): GPFSELn (5.2, 3 bits a pin), GPIO_PUP_PDN_CNTRL_REGn (5.2, 2 bits a pin, new in
//! the BCM2711), and the alternate-function table (5.3): UART0 TXD0/RXD0 are GPIO 14/15 in ALT0
//! and GPIO 32/33 in ALT3 (where the firmware routes them to the Bluetooth module by default).

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
    /// GPIO function select 3 (pins 30-39).
    GPFSEL3 [
        /// Pin 33: UART0 RXD in ALT3 (Bluetooth).
        FSEL33 OFFSET(9) NUMBITS(3) [ Input = 0, Alt3 = 7 ],
        /// Pin 32: UART0 TXD in ALT3 (Bluetooth).
        FSEL32 OFFSET(6) NUMBITS(3) [ Input = 0, Alt3 = 7 ]
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
        (0x08 => _gpfsel2),
        (0x0c => gpfsel3: ReadWrite<u32, GPFSEL3::Register>),
        (0x10 => _others),
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

/// Routes UART0 to GPIO 14/15 only: 14 (TXD) and 15 (RXD) in ALT0, 32/33 (the Bluetooth
/// route, ALT3) back to inputs so that UART0's receive line is not fed from two pins. RX gets a
/// pull-up, as Linux's bcm2711 pin configuration has it: an idle UART line is high, and an
/// unplugged adapter then reads as idle instead of noise. TX is driven, no pull.
///
/// # Safety
/// `base` must be the BCM2711 GPIO block, mapped as Device memory, not used concurrently.
pub unsafe fn uart0_pins(base: usize) {
    // SAFETY: caller's contract; tock-registers performs volatile accesses.
    let gpio = unsafe { &*(base as *const GpioRegisters) };
    // Take 32/33 off UART0 before 14/15 join it, so no moment has both routes.
    gpio.gpfsel3
        .modify(GPFSEL3::FSEL32::Input + GPFSEL3::FSEL33::Input);
    gpio.pup_pdn_cntrl0
        .modify(PUP_PDN_CNTRL0::PIN14::None + PUP_PDN_CNTRL0::PIN15::Up);
    gpio.gpfsel1
        .modify(GPFSEL1::FSEL14::Alt0 + GPFSEL1::FSEL15::Alt0);
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
