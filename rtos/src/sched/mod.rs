//! The scheduler: per-CPU run queues, priority-based preemptive picking, round-robin slices.
//!
//! # Model
//! - Every CPU has a run queue: one FIFO per priority (0..32, higher is more urgent) and a bitmap
//!   of the non-empty ones, so picking the next thread is one `leading_zeros`: O(1) whatever the
//!   number of threads. Each CPU also has an idle thread (its boot context) that runs when its
//!   queue is empty and waits for interrupts.
//! - A thread's `state`, `cpu` and `on_rq` change only under the run-queue lock of its CPU.
//!   `on_cpu` is set while its registers are live on a CPU, and cleared by the next thread on that
//!   CPU once the switch away has completed (`finish_switch`); a CPU never switches to a thread
//!   whose `on_cpu` is still set.
//! - Blocking: a thread sets its own state (sleeping, parked) under its run-queue lock, then calls
//!   [`schedule`]; a waker that comes in between finds the thread still current, sets it ready,
//!   and `schedule` keeps it running. Nothing is lost, nothing is queued twice.
//! - Wake-ups pick a CPU for a thread that is not running: the least loaded CPU it may run on
//!   (its current one on ties). If the woken thread is more urgent than what that CPU runs, the
//!   CPU is told to reschedule (an SGI when it is another CPU), and it does so on the way out of
//!   that interrupt ([`preempt_irq`]).
//! - Time slices: when a thread starts running and another thread of the same priority is ready on
//!   that CPU, a timer ends its slice after [`SLICE_NS`](crate::config::SLICE_NS); with nobody to
//!   share with, no tick.
//! - Accounting: run time (counter ticks) and switches per thread; switches and idle time per
//!   CPU ([`cpu_times`]).
//!
//! # Files
//! - `thread.rs`: the thread control block, its states and flags, and the `ps` snapshot.
//! - `scheduler.rs`: the run queues, wake-ups, the switch and its preemption points.
//! - `sleep.rs`: sleeping until a deadline (on a timer), uninterruptibly or until woken.
//! - `fifo.rs`: the per-priority ready queues (power-of-two rings).
//! - `task_works.rs`: the task_work list each thread carries (its protocol is model-checked
//!   there); the task_work API itself is [`crate::work::task_work`].
//!
//! This layer sits on `port`, `sync`, `time` and `timer`, and names nothing above it: where it
//! must reach up (a notified thread runs its task works at a kernel boundary) it calls a hook
//! registered at init ([`set_resume_hook`]); so it does for a CPU going offline, whose idle
//! thread hands its threads to online CPUs and then calls the dying hook ([`set_dying_hook`],
//! CPU hotplug: see `crate::hotplug`).

pub(crate) mod fifo;
mod scheduler;
mod sleep;
pub(crate) mod task_works;
pub mod thread;

#[cfg(not(loom))]
pub(crate) use scheduler::note_current_for_trace;
#[cfg(all(not(target_os = "none"), not(loom)))]
pub(crate) use scheduler::reset_for_fake;
pub use scheduler::{
    ALL_CPUS, CpuTimes, cpu_dead, cpu_times, current, idle_loop, init_cpu, is_current, is_dead,
    online_mask, peek_current, possible_mask, preempt_irq, resume_boundary, schedule, send_sgi,
    set_dying_hook, set_exit_hook, set_need_resched, set_priority, set_resume_hook, take_broken,
    take_down, wake_up_process, yield_now,
};
#[cfg(all(feature = "bench", not(loom)))]
pub(crate) use scheduler::{bench_add_placeholders, bench_remove_placeholders};
pub(crate) use scheduler::{
    create_thread, exit_current, prepare_to_sleep, resume_pending, set_allowed, set_current_state,
    try_wake, wake_interruptible, wake_up_owned, with_current,
};
pub use sleep::{sleep, sleep_interruptible_until, sleep_until};
pub use task_works::{TaskWork, TaskWorkFn};
pub use thread::{State, Thread, ThreadInfo, Tid};
