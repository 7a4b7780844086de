//! Whole-shell tests over fake IO and a fake system.

mod fakes;
mod hostile;
mod kthread;
mod session;
mod terminal;
mod vt;
mod work;
