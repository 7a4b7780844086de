//! `rtos`: the kernel core of the ARM64 RTOS, free of hardware crates: a preemptive SMP scheduler,
//! kthreads with the contracts of Linux's `kernel/kthread.c`, and Linux's deferred-work
//! mechanisms (task_work, irq_work, workqueues, kthread workers) on per-CPU software timers.
//!
//! # Layers
//! Each module imports only the layers below it (`just lint` checks that no import circle exists):
//!
//! ```text
//! entry                   what the port calls: init_cpu, idle_loop, timer_irq, sgi, irq_exit
//! hotplug                 CPU offline/online: parks, unbinds, hands over, and back
//! work::{workqueue, kthread_worker}   on work::item (the work both run)
//! kthread                 create/run/bind/park/unpark/stop/exit
//! work::task_work         task_work_add with its notify modes, the run loop
//! work::irq_work          lock-free claim, per-CPU lists, raised by an SGI
//! wait                    WaitQueue, Completion, Mutex, wait_var_event
//! sched                   threads, run queues, the switch, sleeps (and each thread's task_work list)
//! timer                   per-CPU deadline trie on the one-shot hardware timer
//! cpu, console, ring, boot  per-CPU counters, console lines, the UART's byte ring, boot times
//! trace                   per-CPU lock-free event rings (trace points not wired in yet)
//! time                    Instant (counter value) and Duration
//! sync                    IrqSpinLock, the Lock trait, the loom atomics shim
//! port                    the hardware trait, Sgi, link_port!
//! config, error, once     limits, errno-style errors, a write-once slot
//! ```
//!
//! Where a lower layer must reach up, it does not import: the scheduler calls a hook registered
//! at init ([`sched::set_resume_hook`], wired by [`entry`]) to run a notified thread's task works,
//! and another ([`sched::set_dying_hook`]) to tear a CPU going offline down;
//! the timer reports a finished time slice to its caller; a timer wakes a thread through the
//! [`timer::Wake`] trait; a work item reaches its worker through `work::item::Owner`.
//!
//! # Hardware
//! Everything the kernel needs from the hardware goes through one trait, [`port::Port`]: interrupt
//! masking, the monotonic counter, the one-shot deadline timer, software-generated interrupts, the
//! CPU id, idling, stacks and the context switch. The board support crate (`bsp`) implements it for
//! AArch64 (GICv2, ARMv8 generic timer) and links it in with [`link_port!`]; on the host (any
//! target but bare metal) the same kernel runs on host threads with the fake port (`fake`), for
//! tests and doctests. This crate never names a board or a device and has no `unsafe` of its own.
//!
//! # Boot
//! The port's boot code calls [`entry::init_cpu`] on each CPU (the boot CPU first), then creates
//! the first kthreads ([`kthread::create_with`]) and enters [`entry::idle_loop`].
//!
//! See `doc/ARCHITECTURE.md` in the repository for the whole system (boards, bsp, app, shell).
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(not(target_os = "none"))]
extern crate std;

#[cfg(all(feature = "bench", not(loom)))]
pub mod bench;
pub mod boot;
pub mod config;
pub mod console;
pub mod cpu;
#[cfg(not(loom))]
pub mod entry;
pub mod error;
#[cfg(all(not(target_os = "none"), not(loom)))]
pub mod fake;
pub mod fault;
pub mod fdt;
#[cfg(not(loom))]
pub mod hotplug;
pub mod kthread;
pub mod once;
pub mod port;
pub mod ring;
pub mod running;
pub mod sched;
pub mod sync;
pub mod time;
pub mod timer;
pub mod trace;
pub mod wait;
#[cfg(not(loom))]
pub mod watchdog;
pub mod work;

#[cfg(all(test, not(loom)))]
mod tests;

pub use error::Error;
