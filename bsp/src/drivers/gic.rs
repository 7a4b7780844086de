//! GICv2 (GIC-400 on the Pi 4), through `arm_gic::gicv2`.
//!
//! One [`GicV2`] instance lives behind an IRQ-safe spinlock. Distributor state is global; the CPU
//! interface and the SGI/PPI enable bits are banked per CPU, so every CPU calls
//! [`Gic::init_cpu`] for itself. `arm_gic` has no call for the SPI target registers
//! (`GICD_ITARGETSR`), so [`Gic::new`] routes the device interrupts before the driver takes
//! ownership of the register block.

use arm_gic::gicv2::{GicV2, SgiTarget, SgiTargetListFilter};
use arm_gic::{IntId, InterruptGroup, Trigger};
use rtos::sync::IrqSpinLock;

/// Offset of GICD_ITARGETSR in the distributor.
const GICD_ITARGETSR: usize = 0x800;
/// Default priority for every interrupt we enable (lower is more urgent).
const PRIORITY: u8 = 0x80;

/// The interrupt controller.
pub struct Gic {
    inner: IrqSpinLock<GicV2<'static>>,
    lines: u32,
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
        }
    }

    /// Per-CPU set-up (call on each CPU, the boot CPU first): distributor groups, CPU interface on, priority mask open, SGIs and the PPIs in `ppis` enabled.
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

    /// Interrupt lines the distributor implements (GICD_TYPER.ITLinesNumber).
    pub fn lines(&self) -> u32 {
        self.lines
    }

    /// Acknowledges the highest-priority pending interrupt, returning its INTID.
    pub fn ack(&self) -> Option<u32> {
        self.inner
            .lock()
            .get_and_acknowledge_interrupt(InterruptGroup::Group0)
            .map(u32::from)
    }

    /// Signals end of handling for `intid`.
    pub fn eoi(&self, intid: u32) {
        if let Ok(id) = IntId::try_from(intid) {
            self.inner.lock().end_interrupt(id, InterruptGroup::Group0);
        }
    }

    /// Sends SGI `sgi` to the CPUs in bit set `cpus`.
    pub fn send_sgi(&self, sgi: u8, cpus: u32) {
        if cpus & 0xff == 0 || sgi >= 16 {
            return;
        }
        self.inner.lock().send_sgi(
            IntId::sgi(u32::from(sgi)),
            SgiTarget::List {
                target_list_filter: SgiTargetListFilter::CPUTargetList,
                target_list: (cpus & 0xff) as u16,
            },
        );
    }
}
