//! Whole-shell tests over fake IO and a fake system.

mod bench;
pub(crate) mod fakes;
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
mod vt;
mod watchdog;
mod work;
