//! The QEMU command lines, exactly as the serial contract fixes them.
//!
//! ```text
//! virt:  qemu-system-aarch64 -M virt,gic-version=2 -cpu cortex-a72 -smp 4 -m 1G -display none
//!        -monitor none -serial stdio -semihosting-config enable=on,target=native -kernel <ELF>
//! rpi4:  qemu-system-aarch64 -M raspi4b -display none -monitor none -serial stdio
//!        -semihosting-config enable=on,target=native -kernel <kernel8.img>
//! ```
//! Script mode appends `-no-reboot` (so `reboot` ends the run with status 0); interactive mode
//! uses `-serial mon:stdio` instead of `-serial stdio`, with the multiplexer's escape moved from
//! Ctrl-A to Ctrl-] (`-echr 0x1d`, as telnet's): Ctrl-] X quits, Ctrl-] C reaches the QEMU
//! monitor, and Ctrl-A reaches the shell's line editor (start of line).

use std::ffi::OsString;
use std::path::Path;

use crate::{Board, DEFAULT_SMP};

/// The QEMU binary: `$RUNNER_QEMU` if set (tests point it at `fake-guest`), else
/// `qemu-system-aarch64` from `PATH`.
pub fn program() -> OsString {
    std::env::var_os("RUNNER_QEMU")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| OsString::from("qemu-system-aarch64"))
}

/// How QEMU's serial port is connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Serial on this terminal, multiplexed with the monitor (`-serial mon:stdio`).
    Interactive,
    /// Serial on piped stdin/stdout, no reboot (`-serial stdio -no-reboot`).
    Script,
}

/// The arguments after the program name. `smp` is only meaningful on `virt` (the Pi always has
/// 4 CPUs); `None` means [`DEFAULT_SMP`]. `extra` is appended verbatim (e.g. `-icount shift=0`).
pub fn args(
    board: Board,
    smp: Option<u32>,
    kernel: &Path,
    mode: Mode,
    extra: &[OsString],
) -> Vec<OsString> {
    let mut a: Vec<OsString> = Vec::new();
    let mut push = |s: &str| a.push(OsString::from(s));
    match board {
        Board::Virt => {
            for s in ["-M", "virt,gic-version=2", "-cpu", "cortex-a72", "-smp"] {
                push(s);
            }
            push(&smp.unwrap_or(DEFAULT_SMP).to_string());
            push("-m");
            push("1G");
        }
        Board::Rpi4 => {
            push("-M");
            push("raspi4b");
        }
    }
    for s in ["-display", "none", "-monitor", "none", "-serial"] {
        push(s);
    }
    push(match mode {
        Mode::Interactive => "mon:stdio",
        Mode::Script => "stdio",
    });
    push("-semihosting-config");
    push("enable=on,target=native");
    match mode {
        Mode::Script => push("-no-reboot"),
        // The mux escape key: Ctrl-] (0x1d), so that Ctrl-A goes to the line editor.
        Mode::Interactive => {
            push("-echr");
            push("0x1d");
        }
    }
    a.push(OsString::from("-kernel"));
    a.push(kernel.as_os_str().to_owned());
    a.extend(extra.iter().cloned());
    a
}

/// The command line as one printable string (for messages).
pub fn display(program: &OsString, args: &[OsString]) -> String {
    std::iter::once(program)
        .chain(args)
        .map(|s| s.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(board: Board, smp: Option<u32>, mode: Mode) -> String {
        display(
            &OsString::from("qemu-system-aarch64"),
            &args(board, smp, Path::new("K"), mode, &[]),
        )
    }

    #[test]
    fn virt_script_line_is_the_contract_plus_no_reboot() {
        assert_eq!(
            line(Board::Virt, None, Mode::Script),
            "qemu-system-aarch64 -M virt,gic-version=2 -cpu cortex-a72 -smp 4 -m 1G -display none \
             -monitor none -serial stdio -semihosting-config enable=on,target=native -no-reboot -kernel K"
        );
    }

    #[test]
    fn rpi4_script_line_is_the_contract_plus_no_reboot() {
        assert_eq!(
            line(Board::Rpi4, None, Mode::Script),
            "qemu-system-aarch64 -M raspi4b -display none -monitor none -serial stdio \
             -semihosting-config enable=on,target=native -no-reboot -kernel K"
        );
    }

    #[test]
    fn interactive_uses_the_monitor_mux_and_allows_reboot() {
        let l = line(Board::Virt, Some(2), Mode::Interactive);
        assert!(l.contains("-smp 2 "), "{l}");
        assert!(l.contains("-serial mon:stdio "), "{l}");
        assert!(
            l.contains(" -echr 0x1d "),
            "Ctrl-] is the escape, Ctrl-A is the editor's: {l}"
        );
        assert!(!l.contains("-no-reboot"), "{l}");
        let l = line(Board::Rpi4, None, Mode::Interactive);
        assert!(l.contains("-serial mon:stdio "), "{l}");
        assert!(!l.contains("-smp"), "{l}");
    }

    #[test]
    fn extra_args_come_last() {
        let a = args(
            Board::Virt,
            Some(8),
            Path::new("/k"),
            Mode::Script,
            &["-icount".into(), "shift=0".into()],
        );
        let n = a.len();
        assert_eq!(a[n - 2], "-icount");
        assert_eq!(a[n - 1], "shift=0");
        assert_eq!(a[n - 3], "/k");
    }
}
