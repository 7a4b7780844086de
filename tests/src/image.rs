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
# fixup4.dat (the GPU firmware and its memory-split companion), bcm2711-rpi-4-b.dtb (the device
# tree the firmware fixes up and passes to the kernel: its memory node is where the kernel learns
# the RAM size) and overlays/disable-bt.dtbo. `just image rpi4 --firmware` puts them all there.
#
# arm_64bit=1              start the ARM cores in AArch64 state; the kernel is entered at EL2
# kernel=kernel8.img       the image to load
# kernel_address=0x80000   where to load it: where it is linked (not position-independent). The
#                          firmware's default for a 64-bit kernel is 0x200000; the image's arm64
#                          header (text_offset) says 0x80000 too
# enable_gic=1             interrupts through the GIC-400, the kernel's interrupt controller,
#                          instead of the legacy BCM2835-style one
# enable_uart=1            enable the primary UART (the serial console)
# init_uart_clock=48000000 the PL011 reference clock, in Hz, that the kernel's baud divisor
#                          assumes (the firmware's default; pinned so that a reused config.txt
#                          cannot break the console)
# dtoverlay=disable-bt     give the PL011 (UART0) to GPIO 14/15 rather than to Bluetooth on GPIO
#                          32/33 (needs overlays/disable-bt.dtbo). The kernel also routes UART0
#                          to GPIO 14/15 itself and takes GPIO 32/33 off it, so the console works
#                          without the overlay too
arm_64bit=1
kernel=kernel8.img
kernel_address=0x80000
enable_gic=1
enable_uart=1
init_uart_clock=48000000
dtoverlay=disable-bt
";

/// The default output folder: `<workspace>/target/rpi4-sd`.
pub fn default_out(root: &Path) -> PathBuf {
    crate::build::target_dir(root).join("rpi4-sd")
}

/// Copies `kernel8` to `out/kernel8.img` and writes `out/config.txt`. Returns both paths.
pub fn write_sd_folder(kernel8: &Path, out: &Path) -> Result<[PathBuf; 2], StartError> {
    let err = |what: &str, p: &Path, e: std::io::Error| {
        StartError(format!("could not {what} {}: {e}", p.display()))
    };
    std::fs::create_dir_all(out).map_err(|e| err("create", out, e))?;
    let img = out.join("kernel8.img");
    std::fs::copy(kernel8, &img).map_err(|e| err("write", &img, e))?;
    let cfg = out.join("config.txt");
    std::fs::write(&cfg, CONFIG_TXT).map_err(|e| err("write", &cfg, e))?;
    Ok([img, cfg])
}

/// What to tell the user after [`write_sd_folder`].
pub fn instructions(out: &Path) -> String {
    format!(
        "Raspberry Pi 4 boot files are in {dir}:\n\
         \x20 kernel8.img  the kernel\n\
         \x20 config.txt   firmware settings (64-bit, GIC, PL011 console on GPIO 14/15)\n\
         Copy both to the FAT boot partition of an SD card, together with start4.elf, fixup4.dat\n\
         and bcm2711-rpi-4-b.dtb from https://github.com/raspberrypi/firmware/tree/master/boot.\n\
         Console: a 3.3 V USB serial adapter on GPIO 14 (TXD, pin 8) / GPIO 15 (RXD, pin 10) / GND,\n\
         115200 8N1 (e.g. `picocom -b 115200 /dev/ttyUSB0`).",
        dir = out.display()
    )
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
                "dtoverlay=disable-bt",
            ]
        );
        for f in [
            "start4.elf",
            "fixup4.dat",
            "bcm2711-rpi-4-b.dtb",
            "overlays/disable-bt.dtbo",
        ] {
            assert!(CONFIG_TXT.contains(f), "{f}");
        }
    }

    #[test]
    fn writes_both_files() {
        let dir = std::env::temp_dir().join(format!("runner-image-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let k = dir.join("in.img");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&k, b"\x00kernel").unwrap();
        let out = dir.join("sd");
        let [img, cfg] = write_sd_folder(&k, &out).unwrap();
        assert_eq!(std::fs::read(img).unwrap(), b"\x00kernel");
        assert_eq!(std::fs::read_to_string(cfg).unwrap(), CONFIG_TXT);
        assert!(instructions(&out).contains("start4.elf"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
