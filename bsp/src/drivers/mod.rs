//! Device drivers.
pub mod bcm2711;
pub mod gic;
pub mod pl011;
pub mod timer;
