//! Interrupt dispatch: acknowledge at the GIC, count, hand the interrupt to the kernel
//! ([`rtos::entry`]) or to its driver, end it; then the kernel's way back into the thread.
//!
//! The SGIs are [`rtos::port::Sgi`]'s: the kernel's own go to [`rtos::entry::sgi`];
//! [`Sgi::Halt`] (another CPU panicked, or a kernel reload parks the CPUs) stops this CPU here.

use crate::drivers::timer::TIMER_INTID;
use rtos::cpu::{self, IrqKind};
use rtos::port::Sgi;
use rtos::trace::Kind;

/// Handles every pending interrupt on this CPU, then lets the kernel preempt the interrupted
/// thread if a wake-up asked for it. Called from the IRQ vector with IRQs masked, on the
/// interrupted thread's stack; returns when that thread is resumed.
pub(crate) fn handle_irq() {
    // Two copies: the one without trace points is the path the benchmarks time; tracing costs
    // this one check when off.
    if rtos::trace::on() {
        handle_traced();
    } else {
        handle::<false>();
    }
}

/// [`handle`] with its trace points, out of line (the untraced copy is the hot one).
#[cold]
#[inline(never)]
fn handle_traced() {
    handle::<true>();
}

/// [`handle_irq`], with its trace points if `TRACE`.
#[inline(always)]
fn handle<const TRACE: bool>() {
    let k = crate::kernel::kernel();
    let stats = cpu::stats(crate::arch::cpu_id());
    // In hard-IRQ context until every interrupt has ended (a fault report says so).
    if let Some(s) = stats {
        s.irq_enter();
    }
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
        if TRACE {
            rtos::trace::emit(Kind::IrqEnter, u64::from(intid), 0);
        }
        match intid {
            0..=15 => match Sgi::from_id(intid) {
                Some(Sgi::Halt) => {
                    k.gic.eoi(acked);
                    // A kernel reload parks the CPU outside the kernel instead.
                    crate::reload::park_if_reloading();
                    crate::arch::halt();
                }
                Some(sgi) => rtos::entry::sgi(sgi),
                None => {}
            },
            TIMER_INTID => rtos::entry::timer_irq(),
            i if i == k.board.uart_intid => {
                k.uart.handle_irq();
                crate::console::RX_WAIT.wake_all();
            }
            _ => {}
        }
        k.gic.eoi(acked);
        if TRACE {
            rtos::trace::emit(Kind::IrqExit, u64::from(intid), 0);
        }
    }
    if let Some(s) = stats {
        s.irq_leave();
    }
    // Every interrupt has been ended at the GIC: switching threads here leaves nothing active.
    rtos::entry::irq_exit();
}
