//! The kernel for the Raspberry Pi 4 (and QEMU `raspi4b`): wiring only.
//!
//! The firmware loads `kernel8.img` at 0x8_0000 (config.txt pins `kernel_address=0x80000`, which
//! the image's arm64 header also names; the firmware's own default for a 64-bit kernel is
//! 0x20_0000) and enters it at EL2 on CPU 0; CPUs 1-3 wait in
//! the firmware's spin table (release slots at 0xd8 + 8 * cpu). Peripherals are in the default
//! "low peripheral" mode: PL011 UART0 at 0xFE20_1000 on GPIO14/15, GIC-400 at 0xFF84_1000.
#![no_std]
#![no_main]

use bsp::{Board, PowerMethod, SmpMethod};

/// BCM2711 memory map and interrupt numbers.
static BOARD: Board = Board {
    name: "rpi4",
    uart_base: 0xfe20_1000,
    // VideoCore interrupt 57 (UART) is GIC SPI 121.
    uart_intid: 32 + 121,
    // The UART reference clock: 48 MHz, the firmware's default, pinned by config.txt
    // (`init_uart_clock=48000000`).
    uart_clock_hz: 48_000_000,
    uart_pinmux_gpio: Some(0xfe20_0000),
    gicd_base: 0xff84_1000,
    gicc_base: 0xff84_2000,
    // Below the VideoCore's share of the first GiB with the default gpu_mem (every Pi 4 has it).
    early_ram: (0, 0x3b40_0000),
    // Main peripherals (0xFC00_0000..) and the ARM local block with the GIC (0xFF80_0000..).
    devices: &[(0xfc00_0000, 0x0400_0000)],
    max_cpus: 4,
    smp: SmpMethod::SpinTable { release_base: 0xd8 },
    self_check: true,
    power: PowerMethod::Bcm2711Watchdog(0xfe10_0000),
};

bsp::entry!(BOARD, app::APP);
