fn main() {
    // The Raspberry Pi 4 firmware (and QEMU raspi4b) load kernel8.img at 0x80000.
    println!("cargo:rustc-link-arg-bins=--defsym=KERNEL_BASE=0x80000");
    // The arm64 Image header's text_offset: KERNEL_BASE minus the start of RAM.
    println!("cargo:rustc-link-arg-bins=--defsym=TEXT_OFFSET=0x80000");
    println!("cargo:rustc-link-arg-bins=-Tkernel.ld");
}
