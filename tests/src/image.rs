//! The SD-card folder for a real Raspberry Pi 4: `kernel8.img` and `config.txt`.

use std::path::{Path, PathBuf};

use crate::StartError;

/// The `config.txt` the Pi 4 firmware reads.
pub const CONFIG_TXT: &str = "\
# config.txt for the rtos kernel on a Raspberry Pi 4, read by the GPU firmware (start4.elf).
# Every key is described in https://www.raspberrypi.com/documentation/computers/config_txt.html
# (\"Boot options\", \"Memory options\", \"Onboard analog audio\"... sections).
#
# The FAT boot partition of the SD card needs, next to this file and kernel8.img: start4.elf and
# fixup4.dat (the GPU firmware and its memory-split companion) and bcm2711-rpi-4-b.dtb (the
# device tree the firmware fills in with the RAM size and passes to the kernel).
# `just image rpi4 --firmware` puts them all there.
#
# arm_64bit=1              start the ARM cores in AArch64 state; the kernel is entered at EL2
# kernel=kernel8.img       the image to load
# kernel_address=0x80000   where to load it: where it is linked (not position-independent). The
#                          firmware's default for a 64-bit kernel is 0x200000; the image's arm64
#                          header (text_offset) says 0x80000 too, and a kernel loaded higher
#                          copies itself down to 0x80000 before anything else
# enable_gic=1             interrupts through the GIC-400, the kernel's interrupt controller,
#                          instead of the legacy BCM2835-style one
# enable_uart=1            enable the primary UART, so that the firmware sets up its clocks
# init_uart_clock=48000000 the PL011 reference clock, in Hz, that the kernel's baud divisor
#                          assumes (the firmware's default; pinned so that a reused config.txt
#                          cannot break the console)
#
# No dtoverlay=disable-bt: the kernel itself routes the PL011 (UART0) to GPIO 14/15 (function
# ALT0) and takes GPIO 32/33, where the firmware puts it for Bluetooth, off it (BCM2711 ARM
# Peripherals, section 5.3 \"Alternative Function Assignments\"), so the console works without the
# overlay, which Debian does not package. A card that has overlays/disable-bt.dtbo may add the
# line: it changes nothing for this kernel. With `uart_2ndstage=1` (see README) the firmware's
# own log goes to the mini UART on the same pins at 115200 baud.
arm_64bit=1
kernel=kernel8.img
kernel_address=0x80000
enable_gic=1
enable_uart=1
init_uart_clock=48000000
";

/// The default output folder: `<workspace>/target/rpi4-sd`.
pub fn default_out(root: &Path) -> PathBuf {
    crate::build::target_dir(root).join("rpi4-sd")
}

/// Copies `kernel8` to `out/kernel8.img`, writes `out/config.txt`, and copies each of `extra`
/// (the firmware files) in by its file name. Returns the paths written, in that order.
pub fn write_sd_folder(
    kernel8: &Path,
    out: &Path,
    extra: &[PathBuf],
) -> Result<Vec<PathBuf>, StartError> {
    let err = |what: &str, p: &Path, e: std::io::Error| {
        StartError(format!("could not {what} {}: {e}", p.display()))
    };
    std::fs::create_dir_all(out).map_err(|e| err("create", out, e))?;
    let img = out.join("kernel8.img");
    std::fs::copy(kernel8, &img).map_err(|e| err("write", &img, e))?;
    let cfg = out.join("config.txt");
    std::fs::write(&cfg, CONFIG_TXT).map_err(|e| err("write", &cfg, e))?;
    let mut written = vec![img, cfg];
    for f in extra {
        let dst = out.join(f.file_name().unwrap_or_default());
        std::fs::copy(f, &dst).map_err(|e| err("write", &dst, e))?;
        written.push(dst);
    }
    Ok(written)
}

/// One file of the folder: name, size in bytes, SHA-256 in hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// The file name.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
}

/// Lists `files` with sizes and checksums, and writes them as `out/SHA256SUMS` (the format
/// `sha256sum -c SHA256SUMS` checks, run on the card after copying).
pub fn list(files: &[PathBuf], out: &Path) -> Result<Vec<Listed>, StartError> {
    use sha2::{Digest, Sha256};
    let mut listed = Vec::new();
    let mut sums = String::new();
    for f in files {
        let bytes = std::fs::read(f)
            .map_err(|e| StartError(format!("could not read {}: {e}", f.display())))?;
        let sha256: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let name = f
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        sums.push_str(&format!("{sha256}  {name}\n"));
        listed.push(Listed {
            name,
            size: bytes.len() as u64,
            sha256,
        });
    }
    let path = out.join("SHA256SUMS");
    std::fs::write(&path, sums)
        .map_err(|e| StartError(format!("could not write {}: {e}", path.display())))?;
    Ok(listed)
}

/// What to tell the user after [`write_sd_folder`]: the folder's files (with `--firmware`, from
/// [`list`]) and what to do with them.
pub fn instructions(out: &Path, listed: &[Listed], firmware: Option<&str>) -> String {
    let mut s = format!("Raspberry Pi 4 boot files in {}:\n", out.display());
    for l in listed {
        s.push_str(&format!(
            "  {:<20} {:>9} bytes  sha256 {}\n",
            l.name, l.size, l.sha256
        ));
    }
    match firmware {
        Some(versions) => {
            s.push_str(
                "  SHA256SUMS           (`sha256sum -c SHA256SUMS` on the card checks the copy)\n",
            );
            s.push_str("Firmware and device tree from Debian bookworm:\n");
            for v in versions.lines() {
                s.push_str(&format!("  {v}\n"));
            }
            s.push_str(
                "Copy every file to the FAT32 boot partition of a micro-SD card, insert it, power \
                 the Pi.\n",
            );
        }
        None => s.push_str(
            "Copy both to the FAT32 boot partition of a micro-SD card, together with start4.elf,\n\
             fixup4.dat and bcm2711-rpi-4-b.dtb (`just image rpi4 --firmware` adds them).\n",
        ),
    }
    s.push_str(
        "Console: a 3.3 V USB-serial adapter on GPIO 14 (TXD, pin 8) / GPIO 15 (RXD, pin 10) / GND\n\
         (pin 6), 115200 8N1 (e.g. `picocom -b 115200 /dev/ttyUSB0`; README: Raspberry Pi 4).",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_sets_exactly_the_needed_keys() {
        let keys: Vec<&str> = CONFIG_TXT
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .collect();
        assert_eq!(
            keys,
            [
                "arm_64bit=1",
                "kernel=kernel8.img",
                "kernel_address=0x80000",
                "enable_gic=1",
                "enable_uart=1",
                "init_uart_clock=48000000",
            ]
        );
        for f in [
            "start4.elf",
            "fixup4.dat",
            "bcm2711-rpi-4-b.dtb",
            "disable-bt",
        ] {
            assert!(CONFIG_TXT.contains(f), "{f}");
        }
    }

    #[test]
    fn writes_the_files_and_lists_them_with_checksums() {
        let dir = std::env::temp_dir().join(format!("runner-image-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let k = dir.join("in.img");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&k, b"\x00kernel").unwrap();
        let fw = dir.join("start4.elf");
        std::fs::write(&fw, b"abc").unwrap();
        let out = dir.join("sd");
        let files = write_sd_folder(&k, &out, &[fw]).unwrap();
        assert_eq!(files.len(), 3);
        assert_eq!(std::fs::read(&files[0]).unwrap(), b"\x00kernel");
        assert_eq!(std::fs::read_to_string(&files[1]).unwrap(), CONFIG_TXT);
        assert_eq!(std::fs::read(out.join("start4.elf")).unwrap(), b"abc");
        let listed = list(&files, &out).unwrap();
        // SHA-256 of "abc" (FIPS 180-2, appendix B.1).
        assert_eq!(
            listed[2],
            Listed {
                name: "start4.elf".into(),
                size: 3,
                sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into()
            }
        );
        let sums = std::fs::read_to_string(out.join("SHA256SUMS")).unwrap();
        assert_eq!(sums.lines().count(), 3);
        assert!(sums.contains(
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  start4.elf\n"
        ));
        let text = instructions(&out, &listed, Some("raspi-firmware 1.2\n"));
        assert!(text.contains("start4.elf") && text.contains("raspi-firmware 1.2"));
        assert!(instructions(&out, &listed[..2], None).contains("--firmware"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
