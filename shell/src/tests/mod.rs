//! Whole-shell tests over fake IO and a fake system.

mod bench;
mod expect;
pub(crate) mod fakes;
mod fuzz;
mod hostile;
mod interrupt;
mod json;
mod kthread;
mod reload;
mod session;
mod startup;
mod stress;
mod terminal;
mod top;
mod trace;
pub(crate) mod vt;
mod watchdog;
mod work;
