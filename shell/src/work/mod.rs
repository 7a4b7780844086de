//! The deferred-work commands: `work`, `irqwork`, `taskwork`, `wq`, `kworker`, `timers`, and
//! `wait work ...`.
//!
//! They drive `rtos::work` directly, like the kthread commands drive `rtos::kthread`. One file
//! per mechanism, each with its commands' table entries:
//!
//! - `registry.rs`: the named works (created on first use with `--fn`, each with the function it
//!   runs), the workqueues and the kthread workers, by name;
//! - `irqwork.rs`: `irqwork`, hard-IRQ callbacks (`rtos::work::irq_work`);
//! - `taskwork.rs`: `taskwork`, per-thread callbacks (`rtos::work::task_work`);
//! - `wq.rs`: `wq`, workqueues (`rtos::work::workqueue`);
//! - `kworker.rs`: `kworker`, kthread workers (`rtos::work::kthread_worker`);
//! - `klogd.rs`: the ring a `log` irq_work writes in hard IRQ context, and the `klogd` thread
//!   that prints it;
//! - `list.rs`: `work list`, `wait work` and `timers`.
//!
//! # Already pending
//!
//! Every queue command that finds its work already pending prints `already pending` and returns
//! status 1, without an `error:` line.

pub(crate) mod irqwork;
pub(crate) mod klogd;
pub(crate) mod kworker;
pub(crate) mod list;
pub(crate) mod registry;
pub(crate) mod taskwork;
pub(crate) mod wq;
