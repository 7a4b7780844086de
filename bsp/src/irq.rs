//! Interrupt dispatch: acknowledge at the GIC, count, handle, end; then the scheduler's
//! preemption point.
//!
//! SGI numbers used by the kernel: [`SGI_PING`] proves a CPU takes interrupts during bring-up;
//! [`rtos::sched::SGI_RESCHED`] asks a CPU to reschedule (the sender has set its need-resched
//! flag; the preemption point does the rest); `rtos::work::irq_work::SGI_IRQ_WORK` runs the
//! CPU's irq_work list in hard IRQ context; [`SGI_HALT`] stops a CPU when another one panics.

use crate::drivers::timer::TIMER_INTID;
use rtos::cpu::{self, IrqKind};

/// SGI sent to each secondary CPU at boot; it answers by marking itself online.
pub const SGI_PING: u8 = 0;
/// SGI that parks a CPU forever with interrupts masked (panic on another CPU).
pub const SGI_HALT: u8 = 15;

/// Handles every pending interrupt on this CPU, then lets the scheduler preempt the interrupted
/// thread if a wake-up asked for it. Called from the IRQ vector with IRQs masked, on the
/// interrupted thread's stack; returns when that thread is resumed.
pub(crate) fn handle_irq() {
    let k = crate::kernel();
    let cpu_id = crate::arch::cpu_id();
    let stats = cpu::stats(cpu_id);
    while let Some(acked) = k.gic.ack() {
        let intid = acked.intid();
        let kind = match intid {
            0..=15 => IrqKind::Sgi,
            TIMER_INTID => IrqKind::Timer,
            _ => IrqKind::Device,
        };
        if let Some(s) = stats {
            s.count(kind);
        }
        match intid {
            i if i == u32::from(SGI_HALT) => {
                k.gic.eoi(acked);
                crate::arch::halt();
            }
            i if i == u32::from(SGI_PING) => {
                if let Some(s) = stats {
                    s.set_online();
                }
            }
            i if i == u32::from(rtos::work::irq_work::SGI_IRQ_WORK) => {
                if let Some(s) = stats {
                    s.count_irq_work_sgi();
                }
                rtos::work::irq_work::run_pending(false);
            }
            TIMER_INTID => {
                rtos::timer::handle_irq();
                // Lazy irq_works wait for this CPU's timer interrupt.
                rtos::work::irq_work::run_pending(true);
            }
            i if i == k.board.uart_intid => {
                k.uart.handle_irq();
                crate::console::RX_WAIT.wake_all();
            }
            // SGI_RESCHED and anything else: nothing more to do here.
            _ => {}
        }
        k.gic.eoi(acked);
    }
    // Every interrupt has been ended at the GIC: switching threads here leaves nothing active.
    rtos::sched::preempt_irq();
}
