//! The atomics shim: `core`'s atomics normally, loom's under `cfg(loom)` so lock-free code can be
//! model-checked unchanged (`RUSTFLAGS="--cfg loom" cargo test -p rtos --release`).

#[cfg(loom)]
pub use loom::sync::atomic::{
    AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};

#[cfg(not(loom))]
pub use core::sync::atomic::{
    AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};
