//! The kernel for QEMU's `virt` machine (`-M virt,gic-version=2 -cpu cortex-a72`): wiring only.
//!
//! QEMU loads this ELF at 0x4020_0000 and enters it at EL1 (EL2 with `virtualization=on`),
//! with the device tree at the start of RAM. Secondary CPUs start through PSCI.
#![no_std]
#![no_main]

use bsp::{Board, PowerMethod, SmpMethod};

/// QEMU `virt` memory map and interrupt numbers (hw/arm/virt.c).
static BOARD: Board = Board {
    name: "qemu-virt",
    uart_base: 0x0900_0000,
    uart_intid: 32 + 1,
    uart_clock_hz: 24_000_000,
    uart_pinmux_gpio: None,
    gicd_base: 0x0800_0000,
    gicc_base: 0x0801_0000,
    early_ram: (0x4000_0000, 1 << 30),
    devices: &[(0x0800_0000, 0x0200_0000)],
    max_cpus: 8,
    smp: SmpMethod::Psci,
    self_check: false,
    power: PowerMethod::Psci,
};

bsp::entry!(BOARD, app::APP);
