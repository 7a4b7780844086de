//! Host tests of the scheduler and the kthread contracts, on the fake port (real threads).
mod irq_work;
mod kthread;
mod kthread_worker;
mod task_work;
pub(crate) mod util;
mod workqueue;
