//! `rtos`: the kernel core of the ARM64 RTOS, free of hardware crates.
//!
//! # Architecture
//! - **Generic kernel logic lives here** (`rtos`): synchronisation primitives, per-CPU
//!   statistics, time conversion, byte rings used by drivers. It builds and tests on the host
//!   (`cargo test -p rtos`), with lock-free parts modelled under loom (`RUSTFLAGS="--cfg loom"`).
//! - **Everything the kernel needs from the hardware** goes through one trait, [`port::Port`]:
//!   interrupt masking, the monotonic counter, the one-shot deadline timer, software-generated
//!   interrupts, the CPU id and idling. The board support crate (`bsp`) implements it for
//!   AArch64 (GICv2, ARMv8 generic timer); tests implement it with fakes.
//! - **Boards** (`boards/*`) only describe addresses and interrupt numbers and hand them to `bsp`.
//!
//! # Boot
//! `bsp` owns the entry point: it drops from EL2 to EL1 if needed, zeroes BSS, turns the MMU on,
//! installs the exception vectors, initialises the GIC, timer and UART, registers its [`port::Port`]
//! with [`port::install`], brings the secondary CPUs online and finally runs the shell on CPU 0.
//!
//! The dependency arrow points one way: `boards -> bsp -> {shell, rtos}` and `shell -> rtos`.
//! This crate never names a board or a device.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(any(test, feature = "fake"))]
extern crate std;

#[cfg(not(loom))]
pub mod bench;
pub mod console;
pub mod cpu;
pub mod error;
#[cfg(all(any(test, feature = "fake"), not(loom)))]
pub mod fake;
pub mod kthread;
pub mod port;
pub mod ring;
pub mod sched;
pub mod sync;
pub mod time;
pub mod timer;
pub mod wait;
pub mod work;

#[cfg(all(test, not(loom)))]
mod tests;

pub use error::Error;

/// The largest number of CPUs the kernel supports (GICv2 can target at most 8).
pub const MAX_CPUS: usize = 8;
