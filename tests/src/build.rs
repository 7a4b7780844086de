//! Building the kernel images.
//!
//! `cargo build --release --target aarch64-unknown-none-softfloat -p <qemu-virt|rpi4>` in the
//! workspace root, always into `<workspace>/target` (so that the images end up where the README
//! says, even when this runner itself was built elsewhere through `CARGO_TARGET_DIR`). For the Pi
//! the ELF is then turned into a raw `kernel8.img` with rustup's `llvm-objcopy -O binary`.
//!
//! Running this from inside `cargo test` or `cargo run` is fine: cargo drops its lock on the
//! target directory before it runs test binaries or the program.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{Board, KERNEL_TARGET, StartError};

/// The workspace root: `$RUNNER_WORKSPACE` if set, else the parent of this crate's directory.
pub fn workspace_root() -> PathBuf {
    if let Some(p) = std::env::var_os("RUNNER_WORKSPACE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

/// The directory the kernel images are built into: `<workspace>/target`.
pub fn target_dir(root: &Path) -> PathBuf {
    root.join("target")
}

/// Where `board`'s bootable image is after [`build`].
pub fn image_path(root: &Path, board: Board) -> PathBuf {
    target_dir(root).join(board.image_rel_path())
}

/// The cargo to call: the one running us (`$CARGO`) if any, else `cargo` from `PATH`.
fn cargo() -> OsString {
    std::env::var_os("CARGO")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| OsString::from("cargo"))
}

/// The `cargo build` arguments for `board`'s kernel.
pub fn cargo_args(board: Board) -> Vec<&'static str> {
    vec![
        "build",
        "--release",
        "--target",
        KERNEL_TARGET,
        "-p",
        board.package(),
    ]
}

/// Builds `board`'s kernel and returns the path of the image QEMU (or the SD card) takes.
/// Cargo's messages go to stderr; with `quiet`, cargo runs with `-q` and its messages are kept
/// and only shown (the last lines) in the error if the build fails.
pub fn build(root: &Path, board: Board, quiet: bool) -> Result<PathBuf, StartError> {
    let mut cmd = Command::new(cargo());
    cmd.args(cargo_args(board))
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target_dir(root))
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(if quiet {
            Stdio::piped()
        } else {
            Stdio::inherit()
        });
    if quiet {
        cmd.arg("-q");
    }
    let out = cmd.output().map_err(|e| {
        StartError(format!(
            "could not start cargo to build the {board} kernel: {e}"
        ))
    })?;
    if !out.status.success() {
        let msgs = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = msgs.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        return Err(StartError(format!(
            "building the {board} kernel failed (cargo {}: {}){}{tail}",
            cargo_args(board).join(" "),
            out.status,
            if tail.is_empty() { "" } else { ":\n" },
        )));
    }
    let elf = target_dir(root)
        .join(KERNEL_TARGET)
        .join("release")
        .join(board.package());
    match board {
        Board::Virt => Ok(elf),
        Board::Rpi4 => {
            let img = image_path(root, board);
            objcopy_binary(root, &elf, &img)?;
            Ok(img)
        }
    }
}

/// Builds `board`'s kernel and returns its flat binary ([`Board::flat_rel_path`]): what
/// `runner push` sends.
pub fn build_flat(root: &Path, board: Board, quiet: bool) -> Result<PathBuf, StartError> {
    let built = build(root, board, quiet)?;
    match board {
        Board::Rpi4 => Ok(built),
        Board::Virt => {
            let flat = target_dir(root).join(board.flat_rel_path());
            objcopy_binary(root, &built, &flat)?;
            Ok(flat)
        }
    }
}

/// `llvm-objcopy -O binary elf out`.
pub fn objcopy_binary(root: &Path, elf: &Path, out: &Path) -> Result<(), StartError> {
    let tool = find_objcopy(root)?;
    let status = Command::new(&tool)
        .arg("-O")
        .arg("binary")
        .arg(elf)
        .arg(out)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| StartError(format!("could not run {}: {e}", tool.display())))?;
    if !status.success() {
        return Err(StartError(format!(
            "{} -O binary {} {} failed: {status}",
            tool.display(),
            elf.display(),
            out.display()
        )));
    }
    Ok(())
}

/// Output of `rustc <args>` run in `root` (so the pinned toolchain answers).
fn rustc(root: &Path, args: &[&str]) -> Option<String> {
    let rustc = std::env::var_os("RUSTC")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| OsString::from("rustc"));
    let out = Command::new(rustc)
        .args(args)
        .current_dir(root)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Finds rustup's `llvm-objcopy` (component `llvm-tools`): `<sysroot>/lib/rustlib/<host>/bin`.
/// Falls back to `rust-objcopy` / `llvm-objcopy` on `PATH`.
pub fn find_objcopy(root: &Path) -> Result<PathBuf, StartError> {
    let exe = format!("llvm-objcopy{}", std::env::consts::EXE_SUFFIX);
    if let (Some(sysroot), Some(vv)) = (rustc(root, &["--print", "sysroot"]), rustc(root, &["-vV"]))
        && let Some(host) = vv.lines().find_map(|l| l.strip_prefix("host: "))
    {
        let p = Path::new(sysroot.trim())
            .join("lib/rustlib")
            .join(host.trim())
            .join("bin")
            .join(&exe);
        if p.is_file() {
            return Ok(p);
        }
    }
    for name in ["rust-objcopy", "llvm-objcopy"] {
        if let Some(p) = which(name) {
            return Ok(p);
        }
    }
    Err(StartError(
        "llvm-objcopy not found: run `rustup component add llvm-tools` (or `just setup`)".into(),
    ))
}

/// A program on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_args_name_the_board_package_and_target() {
        assert_eq!(
            cargo_args(Board::Virt).join(" "),
            "build --release --target aarch64-unknown-none-softfloat -p qemu-virt"
        );
        assert_eq!(
            cargo_args(Board::Rpi4).join(" "),
            "build --release --target aarch64-unknown-none-softfloat -p rpi4"
        );
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let root = workspace_root();
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[workspace]"), "{}", root.display());
    }

    #[test]
    fn objcopy_is_found() {
        // rust-toolchain.toml lists llvm-tools, so the pinned toolchain has it.
        let p = find_objcopy(&workspace_root()).unwrap();
        assert!(p.is_file());
    }
}
