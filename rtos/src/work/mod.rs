//! Deferred work, with the contracts of Linux's task_work, irq_work, workqueues and kthread
//! workers (see each module).

pub mod account;
pub mod irq_work;
pub mod item;
pub mod kthread_worker;
pub mod pool;
#[cfg(not(loom))]
pub mod tally;
pub mod task_work;
pub mod workqueue;
