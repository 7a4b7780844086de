//! `runner`: the host side of the RTOS. It builds the kernel images, boots them in QEMU and drives
//! the shell over the emulated serial line.
//!
//! # Pieces
//! - [`Board`] names the two targets (`virt`, `rpi4`) and where their images live.
//! - [`build`] runs `cargo build --release --target aarch64-unknown-none-softfloat -p <board>`
//!   in the workspace root and, for the Pi, `llvm-objcopy -O binary` to make `kernel8.img`.
//! - [`qemu`] produces the exact QEMU command lines fixed by the serial contract.
//! - [`script`] runs a shell script non-interactively: QEMU with piped stdio and `-no-reboot`,
//!   the script fed from a writer thread once the first `rtos> ` prompt appeared, the serial
//!   output copied live and scanned for `KERNEL PANIC`, a deadline for the whole run. The result
//!   is an [`Outcome`] whose `status` is what `runner script` exits with.
//! - [`image`] writes the SD-card folder for a real Raspberry Pi 4.
//! - [`push`] sends a kernel image to the shell's `reload` over a serial line (a QEMU guest's
//!   or a real Pi's) and watches the new kernel come up.
//! - [`cli`] parses the `runner` command line.
//!
//! # Exit statuses of `runner script`
//! | status | meaning |
//! | --- | --- |
//! | guest's | the guest's semihosting exit status (QEMU's exit code): `poweroff N`, `exit N`, the last command's status at end of script, or a failing command under `set -e` |
//! | 101 | a line starting with `KERNEL PANIC` appeared (the guest also exits 101) |
//! | 122 | fewer CPUs came online than the machine has (the banner's `cpus: N/M online`), unless `--allow-missing-cpus` |
//! | 123 | with `--fail-on-watchdog`: the kernel's watchdog reported something |
//! | 124 | no `rtos> ` prompt within the timeout, or the guest did not end within it (QEMU is killed) |
//! | 125 | the build failed, or QEMU could not be started or refused to start the machine |
//! | 2 | bad command line |
#![forbid(unsafe_code)]

pub mod bench;
pub mod build;
pub mod check;
pub mod cli;
pub mod export;
pub mod firmware;
pub mod image;
pub mod profile;
pub mod push;
pub mod qemu;
pub mod script;
pub mod soak;
pub mod symbolize;
pub mod transcript;

use std::fmt;
use std::path::PathBuf;

pub use script::{Ending, Outcome, ScriptOpts, run_script};

/// Exit status when a `KERNEL PANIC` line appeared.
pub const STATUS_PANIC: i32 = 101;
/// Exit status when the run timed out (same as coreutils `timeout`).
pub const STATUS_TIMEOUT: i32 = 124;
/// Exit status when the build or QEMU failed to start.
pub const STATUS_START_FAILED: i32 = 125;
/// Exit status with `--fail-on-watchdog` when the guest ended by itself but printed a
/// [`WATCHDOG_MARKER`] line.
pub const STATUS_WATCHDOG: i32 = 123;
/// Exit status when fewer CPUs came online than the machine has (the banner's `cpus: N/M
/// online` with N < M) and the guest ended by itself, unless `--allow-missing-cpus`.
pub const STATUS_MISSING_CPUS: i32 = 122;
/// What every kernel watchdog report's first line starts with.
pub const WATCHDOG_MARKER: &str = "WATCHDOG: ";
/// Exit status for a bad command line.
pub const STATUS_USAGE: i32 = 2;

/// The Rust target every kernel image is built for.
pub const KERNEL_TARGET: &str = "aarch64-unknown-none-softfloat";

/// The largest `-smp` the `virt` board accepts here (GICv2 targets at most 8 CPUs).
pub const MAX_SMP: u32 = 8;
/// The CPU count used on `virt` when none is given.
pub const DEFAULT_SMP: u32 = 4;

/// A board the kernel runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Board {
    /// QEMU `virt` (GICv2, Cortex-A72); the kernel is the ELF file.
    Virt,
    /// Raspberry Pi 4 (QEMU `raspi4b` or hardware); the kernel is the raw `kernel8.img`.
    Rpi4,
}

impl Board {
    /// Both boards, in the order tests and builds visit them.
    pub const ALL: [Board; 2] = [Board::Virt, Board::Rpi4];

    /// Parses a board name as written on the command line (`virt`, `qemu-virt`, `rpi4`, `raspi4b`).
    pub fn parse(name: &str) -> Option<Board> {
        match name {
            "virt" | "qemu-virt" => Some(Board::Virt),
            "rpi4" | "raspi4b" | "pi4" => Some(Board::Rpi4),
            _ => None,
        }
    }

    /// The short name (`virt`, `rpi4`).
    pub fn name(self) -> &'static str {
        match self {
            Board::Virt => "virt",
            Board::Rpi4 => "rpi4",
        }
    }

    /// The cargo package that builds this board's kernel.
    pub fn package(self) -> &'static str {
        match self {
            Board::Virt => "qemu-virt",
            Board::Rpi4 => "rpi4",
        }
    }

    /// The board's name as its kernel knows it (the banner's `on <name>`, the reload header's
    /// board field).
    pub fn kernel_name(self) -> &'static str {
        match self {
            Board::Virt => "qemu-virt",
            Board::Rpi4 => "rpi4",
        }
    }

    /// The address the board's kernel is linked for and loaded at (`KERNEL_BASE` in
    /// `boards/<board>/build.rs`).
    pub fn load_address(self) -> u64 {
        match self {
            Board::Virt => 0x4020_0000,
            Board::Rpi4 => 0x8_0000,
        }
    }

    /// The arm64 Image header's `text_offset` in the board's kernel: its load address minus the
    /// start of RAM (`TEXT_OFFSET` in `boards/<board>/build.rs`).
    pub fn text_offset(self) -> u64 {
        match self {
            Board::Virt => 0x20_0000,
            Board::Rpi4 => 0x8_0000,
        }
    }

    /// The board's kernel as a flat binary (what `runner push` sends), relative to the target
    /// dir: `kernel8.img` for the Pi, `qemu-virt.bin` (from the ELF) for `virt`.
    pub fn flat_rel_path(self) -> PathBuf {
        let dir = PathBuf::from(KERNEL_TARGET).join("release");
        match self {
            Board::Virt => dir.join("qemu-virt.bin"),
            Board::Rpi4 => dir.join("kernel8.img"),
        }
    }

    /// Where `runner` finds this board's bootable image after a build, relative to the target dir.
    pub fn image_rel_path(self) -> PathBuf {
        let dir = PathBuf::from(KERNEL_TARGET).join("release");
        match self {
            Board::Virt => dir.join("qemu-virt"),
            Board::Rpi4 => dir.join("kernel8.img"),
        }
    }
}

impl fmt::Display for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Something went wrong before the guest could run; `runner` reports it and exits 125.
#[derive(Debug)]
pub struct StartError(pub String);

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn board_names_round_trip() {
        for b in Board::ALL {
            assert_eq!(Board::parse(b.name()), Some(b));
        }
        assert_eq!(Board::parse("qemu-virt"), Some(Board::Virt));
        assert_eq!(Board::parse("raspi4b"), Some(Board::Rpi4));
        assert_eq!(Board::parse("rpi3"), None);
        assert_eq!(Board::parse(""), None);
    }

    #[test]
    fn image_paths_match_the_contract() {
        assert_eq!(
            Board::Virt.image_rel_path(),
            PathBuf::from("aarch64-unknown-none-softfloat/release/qemu-virt")
        );
        assert_eq!(
            Board::Rpi4.image_rel_path(),
            PathBuf::from("aarch64-unknown-none-softfloat/release/kernel8.img")
        );
    }
}
