fn main() {
    // QEMU places the device tree at the start of RAM (0x4000_0000) when the ELF sits above it,
    // limited to below the ELF's lowest address: leave it 2 MiB.
    println!("cargo:rustc-link-arg-bins=--defsym=KERNEL_BASE=0x40200000");
    // The arm64 Image header's text_offset: KERNEL_BASE minus the start of RAM.
    println!("cargo:rustc-link-arg-bins=--defsym=TEXT_OFFSET=0x200000");
    println!("cargo:rustc-link-arg-bins=-Tkernel.ld");
}
