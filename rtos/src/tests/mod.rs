//! Host tests of the kernel's contracts, one file per mechanism, on the fake port (real host
//! threads, the real scheduler). The loom models are next to the code they model (`loom`
//! modules), run by `just loom`.
mod account;
#[cfg(feature = "bench")]
mod bench;
mod cpu;
mod fault;
mod fdt;
mod hotplug;
mod irq_work;
mod irq_work_core;
mod kthread;
mod kthread_worker;
mod port;
mod ring;
mod sched_fifo;
mod sync;
mod task_work;
mod time;
mod timer;
mod timer_queue;
mod trace;
pub(crate) mod util;
mod watchdog;
mod work_lifetime;
mod workqueue;
