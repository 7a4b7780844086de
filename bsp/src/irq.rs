//! Interrupt dispatch: acknowledge at the GIC, count, handle, end.
//!
//! SGI numbers used by the kernel: [`SGI_PING`] proves a CPU takes interrupts during bring-up;
//! [`SGI_HALT`] stops a CPU when another one panics.

use crate::drivers::timer::TIMER_INTID;
use rtos::cpu::{self, IrqKind};

/// SGI sent to each secondary CPU at boot; it answers by marking itself online.
pub const SGI_PING: u8 = 0;
/// SGI that parks a CPU forever with interrupts masked (panic on another CPU).
pub const SGI_HALT: u8 = 15;

/// INTID 1023: no interrupt pending (spurious).
const SPURIOUS: u32 = 1023;

/// Handles every pending interrupt on this CPU. Called from the IRQ vector with IRQs masked.
pub(crate) fn handle_irq() {
    let k = crate::kernel();
    let cpu_id = crate::arch::cpu_id();
    let stats = cpu::stats(cpu_id);
    while let Some(intid) = k.gic.ack() {
        if intid >= SPURIOUS {
            break;
        }
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
                k.gic.eoi(intid);
                crate::arch::halt();
            }
            i if i == u32::from(SGI_PING) => {
                if let Some(s) = stats {
                    s.set_online();
                }
            }
            TIMER_INTID => crate::drivers::timer::set_deadline(None),
            i if i == k.board.uart_intid => k.uart.handle_irq(),
            _ => {}
        }
        k.gic.eoi(intid);
    }
}
