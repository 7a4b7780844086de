//! What a board tells the bsp: addresses, interrupt numbers, how to start CPUs and power off.
//! Board crates (`boards/*`) fill in one [`Board`] and name it with [`crate::entry!`].

/// How secondary CPUs are started.
#[derive(Clone, Copy, Debug)]
pub enum SmpMethod {
    /// PSCI `CPU_ON`, conduit (`hvc`/`smc`) from the device tree's `/psci` node (QEMU `virt`).
    Psci,
    /// Spin table: write the entry point to `release_base + 8 * cpu`, clean it to memory, `sev`
    /// (Raspberry Pi 4 firmware stub and QEMU `raspi4b`).
    SpinTable {
        /// Address of CPU 0's release slot (0xd8 on the Pi 4).
        release_base: usize,
    },
}

/// How the board is powered off or reset when semihosting is not available.
#[derive(Clone, Copy, Debug)]
pub enum PowerMethod {
    /// PSCI `SYSTEM_OFF` / `SYSTEM_RESET` (same conduit as CPU_ON).
    Psci,
    /// The BCM2711 power-management watchdog at this address.
    Bcm2711Watchdog(usize),
}

/// A board description.
#[derive(Debug)]
pub struct Board {
    /// Short name shown in the banner (`qemu-virt`, `rpi4`).
    pub name: &'static str,
    /// PL011 base address.
    pub uart_base: usize,
    /// PL011 interrupt (GIC INTID, an SPI).
    pub uart_intid: u32,
    /// PL011 reference clock in Hz (for the baud-rate divisor).
    pub uart_clock_hz: u32,
    /// BCM2711 GPIO block to route UART0 to GPIO14/15, if the board needs pin muxing.
    pub uart_pinmux_gpio: Option<usize>,
    /// GICv2 distributor base.
    pub gicd_base: usize,
    /// GICv2 CPU interface base.
    pub gicc_base: usize,
    /// RAM mapped at boot, `(base, size)`: must hold the kernel, its stacks and heap. A device
    /// tree may report more RAM; the banner shows what it reports.
    pub early_ram: (usize, usize),
    /// MMIO ranges `(base, size)` to map as Device memory (2 MiB granularity at boot).
    pub devices: &'static [(usize, usize)],
    /// How many CPUs the board has at most (the DTB may say fewer).
    pub max_cpus: usize,
    /// How secondary CPUs are started.
    pub smp: SmpMethod,
    /// How to power off and reset.
    pub power: PowerMethod,
    /// Print the first-boot self-check in the banner (real hardware: what differs from QEMU).
    pub self_check: bool,
}
