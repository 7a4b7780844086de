//! The kernel-thread commands: `spawn`, `ps`, `park`, `unpark`, `stop`, `wait`, `bind`, `wake`
//! and `prio`.
//!
//! They call the kernel directly (`rtos::kthread`, `rtos::sched`), not through `System`: the
//! threads are the kernel's own, and on the host the tests boot a fake SMP kernel
//! (`rtos::fake::run`) under the shell. Without a scheduler (no port installed, or no CPU
//! schedulable yet) the commands that need one fail with a runtime error instead of panicking.
//!
//! `spawn` starts one of a few built-in thread bodies (`Kind`, in `shared.rs`; the bodies are in
//! `bodies.rs`). Each is a real kthread function with Linux's contract: it polls
//! `should_stop`/`should_park`, calls `parkme` when asked and returns its result when stopped,
//! except `hog`, which never polls anything, so that `park` and `stop` can be seen to time out.
//! What the shell shares with a thread it spawned (a counter's count, whether the body has
//! started) lives in `SPAWNED` (`shared.rs`), by tid, so that `ps` can show it.
//!
//! A thread argument `<t>` is a tid (decimal) or a name, looked up with `kthread::find` (a tid
//! wins; `spawn` refuses all-digit names so that the two cannot be confused).
//!
//! The commands: `spawn` in `spawn.rs`, `ps` in `ps.rs`, the others (which act on one thread) in
//! `control.rs`.

pub(crate) mod bodies;
pub(crate) mod control;
pub(crate) mod ps;
pub(crate) mod shared;
pub(crate) mod spawn;
