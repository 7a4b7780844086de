//! The kernel's entry points: everything the port calls into the kernel from its boot code,
//! its interrupt handler and its idle CPUs. The top of the kernel's layers: the one module that
//! may name any mechanism, so that no lower layer has to call up.
//!
//! | the port, when... | calls |
//! | --- | --- |
//! | a CPU (the boot CPU first) is ready for threads, interrupts still masked | [`init_cpu`] |
//! | a CPU has nothing else to do, for good | [`idle_loop`] |
//! | the CPU's timer interrupt fires | [`timer_irq`] |
//! | one of the kernel's SGIs ([`Sgi`]) arrives (but [`Sgi::Halt`], the port's own) | [`sgi`] |
//! | it is about to resume the thread it interrupted (all interrupts ended) | [`irq_exit`] |
//!
//! The first [`init_cpu`] also wires the two upward calls the layers need: the scheduler's
//! resume hook ([`sched::set_resume_hook`]), through which a notified thread runs its task works
//! at a kernel boundary, and its dying hook ([`sched::set_dying_hook`]), the rest of a CPU's
//! teardown when it goes offline ([`crate::hotplug`]).

use crate::port::{self, Sgi};
use crate::work::{irq_work, task_work};
use crate::{cpu, sched, timer};

/// Wires the layers together, once.
static WIRED: spin::Once = spin::Once::new();

/// Makes the calling CPU's boot context its idle thread and the CPU schedulable. Call once per
/// CPU, with the port installed, before enabling interrupts there; the first call (the boot
/// CPU's) also registers the hooks the layers need.
pub fn init_cpu() {
    WIRED.call_once(|| {
        sched::set_resume_hook(task_work::run_notified);
        sched::set_dying_hook(cpu_dying);
        sched::set_exit_hook(crate::kthread::exit_hook);
        crate::trace::set_start_hook(sched::note_current_for_trace);
        crate::trace::set_sync_hook(|| {
            if crate::hotplug::grace_period().is_err() {
                crate::kprintln!(
                    "trace: a CPU took no interrupt for seconds; it records from its next one"
                );
            }
        });
    });
    sched::init_cpu();
    let cpu = port::port().cpu_id();
    // (After an offline: its timers come back from the CPU that served them, and irq_works left
    // on its lists by an offline that timed out run now.)
    timer::take_back(cpu);
    irq_work::run_pending(true);
    // (Online again: `hotplug::online` may be waiting for it.)
    crate::hotplug::notify();
}

/// CPU hotplug, on the CPU going offline once the scheduler moved its threads away (interrupts
/// masked): an online CPU serves its timers, its pending irq_works run here one last time (seed
/// 003), and the port turns it off. See [`crate::hotplug`].
fn cpu_dying(cpu: usize) -> ! {
    let p = port::port();
    let online = sched::online_mask();
    let to = if online == 0 {
        0
    } else {
        online.trailing_zeros() as usize
    };
    // irq_works first: one of them may arm a timer, which the hand-over then covers.
    irq_work::run_dying();
    timer::hand_over(cpu, to);
    // (The SGI makes `to` program its timer for what it adopted.)
    sched::send_sgi(Sgi::Resched, 1 << to);
    if let Some(s) = cpu::stats(cpu) {
        s.set_offline();
    }
    sched::cpu_dead(cpu);
    // (Dead: `hotplug::offline` may be waiting for it; the wake-up takes only other CPUs' locks.)
    crate::hotplug::notify();
    p.cpu_off()
}

/// The CPU's idle loop: waits for interrupts and runs whatever becomes ready. Never returns.
pub fn idle_loop() -> ! {
    sched::idle_loop()
}

/// This CPU's timer interrupt (interrupts masked): the due timers fire, a time slice that ended
/// asks for a reschedule, and lazy irq_works run. Inlined into the port's interrupt handler
/// (its one caller there), with or without the trace points compiled in.
#[inline(always)]
pub fn timer_irq() {
    crate::fault::delay(crate::fault::Site::Timer);
    if timer::handle_irq() {
        sched::set_need_resched(port::port().cpu_id());
    }
    // Lazy irq_works wait for this CPU's timer interrupt.
    irq_work::run_pending(true);
}

/// One of the kernel's SGIs arrived on this CPU (interrupts masked). For [`Sgi::Resched`] the
/// sender set this CPU's need-resched flag and [`irq_exit`] switches; here it only counts for
/// CPU hotplug's grace period and programs the timer for timers adopted from an offline CPU.
#[inline(always)]
pub fn sgi(sgi: Sgi) {
    let cpu = port::port().cpu_id();
    let stats = cpu::stats(cpu);
    match sgi {
        Sgi::Ping => {
            if let Some(s) = stats {
                s.set_online();
            }
        }
        Sgi::IrqWork => {
            if let Some(s) = stats {
                s.count_irq_work_sgi();
            }
            irq_work::run_pending(false);
        }
        // (A CPU going offline sends this after handing its timers here; CPU hotplug's grace
        // period waits for every CPU to have taken one.)
        Sgi::Resched => {
            timer::check_adopted(cpu);
            if let Some(s) = stats {
                s.quiesce();
            }
            crate::hotplug::notify_quiesced();
        }
        Sgi::Halt => {}
    }
}

/// On the way back into the interrupted thread, after every interrupt has been ended (interrupts
/// masked, on that thread's stack): the preemption point, and the kernel boundary at which a
/// notified thread runs its task works.
#[inline(always)]
pub fn irq_exit() {
    sched::preempt_irq();
}
