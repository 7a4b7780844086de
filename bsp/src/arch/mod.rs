//! Architecture layer. Only AArch64 is supported.
mod aarch64;
pub use aarch64::*;
