//! GICv2 (GIC-400 on the Pi 4), through `arm_gic::gicv2`.
//!
//! One [`GicV2`] instance lives behind an IRQ-safe spinlock. Distributor state is global; the CPU
//! interface and the SGI/PPI enable bits are banked per CPU, so every CPU calls
//! [`Gic::init_cpu`] for itself. `arm_gic` has no call for the SPI target registers
//! (`GICD_ITARGETSR`), so [`Gic::new`] routes the device interrupts before the driver takes
//! ownership of the register block.
//!
//! Acknowledge and end-of-interrupt go straight to the banked CPU-interface registers
//! (`GICC_IAR`, `GICC_EOIR`), without the lock: for an SGI, `GICC_IAR` carries the sending CPU in
//! bits [12:10], and `GICC_EOIR` must get that exact value back, or the SGI stays active and
//! blocks every interrupt of its priority on this CPU for good. Sending an SGI is one write of
//! `GICD_SGIR`, also without the lock: it is on every cross-CPU wake-up and every irq_work raise,
//! and one 32-bit register write needs no serialising against the configuration calls.

use arm_gic::gicv2::GicV2;
use arm_gic::{IntId, Trigger};
use rtos::port::Sgi;
use rtos::sync::IrqSpinLock;

/// Offset of GICD_ITARGETSR in the distributor.
const GICD_ITARGETSR: usize = 0x800;
/// Offset of GICD_SGIR (software-generated interrupt) in the distributor.
const GICD_SGIR: usize = 0xf00;
/// Offset of GICD_ICENABLER0 (interrupt clear-enable, one bit per interrupt).
const GICD_ICENABLER: usize = 0x180;
/// Offset of GICD_ICPENDR0 (interrupt clear-pending).
const GICD_ICPENDR: usize = 0x280;
/// Offset of GICD_ICACTIVER0 (interrupt clear-active).
const GICD_ICACTIVER: usize = 0x380;
/// Offset of GICD_CPENDSGIR0 (SGI clear-pending, four registers, banked per CPU).
const GICD_CPENDSGIR: usize = 0xf10;
/// Offset of GICC_IAR (interrupt acknowledge) in the CPU interface.
const GICC_IAR: usize = 0x0c;
/// Offset of GICC_EOIR (end of interrupt) in the CPU interface.
const GICC_EOIR: usize = 0x10;
/// INTID field of GICC_IAR/GICC_EOIR (bits [9:0]); bits [12:10] are an SGI's source CPU.
const INTID_MASK: u32 = 0x3ff;
/// INTID 1023: nothing pending.
const SPURIOUS: u32 = 1023;
/// Default priority for every interrupt we enable (lower is more urgent).
const PRIORITY: u8 = 0x80;

/// The interrupt controller.
pub struct Gic {
    inner: IrqSpinLock<GicV2<'static>>,
    lines: u32,
    /// CPU interface base (for the lock-free acknowledge and end of interrupt).
    gicc: usize,
    /// Distributor base (for the lock-free SGI).
    gicd: usize,
}

/// An acknowledged interrupt: give it back to [`Gic::eoi`] unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acked(u32);

impl Acked {
    /// The interrupt ID (without an SGI's source CPU).
    pub fn intid(self) -> u32 {
        self.0 & INTID_MASK
    }
}

impl Gic {
    /// Initialises the distributor and routes each SPI in `spis` to CPU 0.
    ///
    /// # Safety
    /// `gicd` and `gicc` must be the GICv2 distributor and CPU interface, mapped as Device memory
    /// for the kernel's lifetime, with no other driver for them.
    pub unsafe fn new(gicd: usize, gicc: usize, spis: &[u32]) -> Self {
        for &spi in spis {
            let reg = gicd + GICD_ITARGETSR + (spi as usize & !3);
            let shift = 8 * (spi % 4);
            // SAFETY: an aligned 32-bit register of the distributor (caller's contract), written
            // before `GicV2` takes ownership of the block.
            unsafe {
                let v = core::ptr::read_volatile(reg as *const u32);
                core::ptr::write_volatile(reg as *mut u32, (v & !(0xff << shift)) | (1 << shift));
            }
        }
        // SAFETY: forwarded from our caller.
        let mut gic = unsafe { GicV2::new(gicd as *mut _, gicc as *mut _) };
        let lines = gic.typer().num_irqs();
        for &spi in spis {
            let id = IntId::spi(spi - 32);
            gic.set_interrupt_priority(id, PRIORITY);
            gic.set_trigger(id, Trigger::Level);
            let _ = gic.enable_interrupt(id, true);
        }
        Self {
            inner: IrqSpinLock::new(gic),
            lines,
            gicc,
            gicd,
        }
    }

    /// Per-CPU set-up (call on each CPU, the boot CPU first): distributor groups, CPU interface on,
    /// priority mask open, SGIs and the PPIs in `ppis` enabled.
    pub fn init_cpu(&self, ppis: &[u32]) {
        let mut gic = self.inner.lock();
        // Groups (GICD_IGROUPR0 is banked per CPU), CPU interface enable and priority mask.
        gic.setup();
        // Bit 0 of GICD_CTLR enables Group 0, or Non-secure Group 1 when we run in the Non-secure
        // world of a GIC with the Security Extensions (the Pi 4): set it in both cases.
        gic.enable_group0(true);
        for sgi in 0..16 {
            let id = IntId::sgi(sgi);
            gic.set_interrupt_priority(id, PRIORITY);
            let _ = gic.enable_interrupt(id, true);
        }
        for &ppi in ppis {
            let id = IntId::ppi(ppi - 16);
            gic.set_interrupt_priority(id, PRIORITY);
            let _ = gic.enable_interrupt(id, true);
        }
    }

    /// CPU hotplug: turns this CPU's interface off (GICC_CTLR = 0), so no interrupt is signalled
    /// to it until [`Gic::init_cpu`] runs there again.
    pub fn disable_cpu(&self) {
        // SAFETY: GICC_CTLR (offset 0) of the CPU interface, banked per CPU (`new`'s contract);
        // clearing it only stops interrupts reaching this CPU.
        unsafe { core::ptr::write_volatile(self.gicc as *mut u32, 0) };
    }

    /// Kernel reload, on each CPU before it leaves the kernel: its CPU interface off, and its
    /// banked SGIs and PPIs neither pending nor active, so the next kernel starts with none.
    pub fn quiesce_cpu(&self) {
        self.disable_cpu();
        for i in 0..4 {
            self.dist_write(GICD_CPENDSGIR + 4 * i, u32::MAX);
        }
        self.dist_write(GICD_ICPENDR, u32::MAX);
        self.dist_write(GICD_ICACTIVER, u32::MAX);
    }

    /// Kernel reload, last, on the boot CPU: every shared interrupt (SPI) disabled, not pending,
    /// not active, and the distributor off, as after a reset; the next kernel sets it up again.
    pub fn quiesce_distributor(&self) {
        for reg in 1..self.lines.div_ceil(32) as usize {
            self.dist_write(GICD_ICENABLER + 4 * reg, u32::MAX);
            self.dist_write(GICD_ICPENDR + 4 * reg, u32::MAX);
            self.dist_write(GICD_ICACTIVER + 4 * reg, u32::MAX);
        }
        self.dist_write(0, 0); // GICD_CTLR
    }

    /// Writes the distributor register at `offset`.
    fn dist_write(&self, offset: usize, value: u32) {
        // SAFETY: callers pass offsets of 32-bit distributor registers inside the block
        // (`new`'s contract: mapped Device memory); these writes only clear enable, pending and
        // active bits or the control register, which the reload sequence wants.
        unsafe { core::ptr::write_volatile((self.gicd + offset) as *mut u32, value) };
    }

    /// What the first-boot self-check prints about the GIC, read back from the hardware:
    /// `(GICD_CTLR, GICD_TYPER, GICD_IGROUPR0 of this CPU, GICC_CTLR)`.
    pub fn readback(&self) -> (u32, u32, u32, u32) {
        let r = |addr: usize| {
            // SAFETY: an aligned 32-bit register of the distributor or this CPU's interface
            // (`new`'s contract); reading these has no side effects.
            unsafe { core::ptr::read_volatile(addr as *const u32) }
        };
        (
            r(self.gicd),
            r(self.gicd + 0x4),
            r(self.gicd + 0x80),
            r(self.gicc),
        )
    }

    /// Interrupt lines the distributor implements (GICD_TYPER.ITLinesNumber).
    pub fn lines(&self) -> u32 {
        self.lines
    }

    /// Acknowledges the highest-priority pending interrupt on this CPU; `None` if nothing is
    /// pending (spurious). Call with IRQs masked, and end it with [`Gic::eoi`] on the same CPU.
    pub fn ack(&self) -> Option<Acked> {
        // SAFETY: GICC_IAR of the CPU interface (mapped Device memory, `new`'s contract); the
        // register is banked per CPU, so no lock is needed. Reading it activates the interrupt.
        let iar = unsafe { core::ptr::read_volatile((self.gicc + GICC_IAR) as *const u32) };
        (iar & INTID_MASK < SPURIOUS).then_some(Acked(iar))
    }

    /// Ends (priority drop and deactivation) an interrupt returned by [`Gic::ack`] on this CPU.
    pub fn eoi(&self, acked: Acked) {
        // SAFETY: GICC_EOIR of the CPU interface, banked per CPU; the value is what GICC_IAR
        // returned (with an SGI's source CPU), as the architecture requires.
        unsafe { core::ptr::write_volatile((self.gicc + GICC_EOIR) as *mut u32, acked.0) };
    }

    /// Sends SGI `sgi` to the CPUs in bit set `cpus` (CPU target list filter).
    pub fn send_sgi(&self, sgi: Sgi, cpus: u32) {
        if cpus & 0xff == 0 {
            return;
        }
        let sgi = sgi.id();
        // GICD_SGIR: target list filter 0b00 (the list) in [25:24], CPU list in [23:16], INTID
        // in [3:0]; what `GicV2::send_sgi` writes for `SgiTargetListFilter::CPUTargetList`.
        let value = ((cpus & 0xff) << 16) | u32::from(sgi);
        // Stores to normal memory (the work the SGI announces) must be visible to the target
        // CPUs before they can take it (as Linux's GICv2 driver does).
        crate::arch::barrier_before_ipi();
        // SAFETY: GICD_SGIR of the distributor (mapped Device memory, `new`'s contract); a
        // write-only register whose one write is the whole operation.
        unsafe { core::ptr::write_volatile((self.gicd + GICD_SGIR) as *mut u32, value) };
    }
}
