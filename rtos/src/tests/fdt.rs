//! The device tree reader on blobs built here: the shapes QEMU and the Pi firmware pass
//! (libfdt's `NOP`s anywhere, 1- and 2-cell sizes, several memory nodes and regions), and any
//! corruption of them an error, never a panic.

use crate::fdt::{FdtError, Machine, read, total_size};
use alloc::vec::Vec;

/// Writes a version-17 blob token by token.
#[derive(Default)]
struct Blob {
    structs: Vec<u8>,
    strings: Vec<u8>,
}

impl Blob {
    fn word(&mut self, w: u32) -> &mut Self {
        self.structs.extend_from_slice(&w.to_be_bytes());
        self
    }
    fn pad(&mut self) {
        while !self.structs.len().is_multiple_of(4) {
            self.structs.push(0);
        }
    }
    fn begin(&mut self, name: &str) -> &mut Self {
        self.word(1);
        self.structs.extend_from_slice(name.as_bytes());
        self.structs.push(0);
        self.pad();
        self
    }
    fn end(&mut self) -> &mut Self {
        self.word(2)
    }
    fn nop(&mut self) -> &mut Self {
        self.word(4)
    }
    fn prop(&mut self, name: &str, value: &[u8]) -> &mut Self {
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        self.word(3).word(value.len() as u32).word(off);
        self.structs.extend_from_slice(value);
        self.pad();
        self
    }
    fn u32s(&mut self, name: &str, cells: &[u32]) -> &mut Self {
        let v: Vec<u8> = cells.iter().flat_map(|c| c.to_be_bytes()).collect();
        self.prop(name, &v)
    }
    fn finish(&mut self) -> Vec<u8> {
        self.word(9);
        let off_rsv = 40u32;
        let off_struct = off_rsv + 16;
        let off_strings = off_struct + self.structs.len() as u32;
        let total = off_strings + self.strings.len() as u32;
        let mut b = Vec::new();
        for w in [
            0xd00d_feed,
            total,
            off_struct,
            off_strings,
            off_rsv,
            17,
            16,
            0,
            self.strings.len() as u32,
            self.structs.len() as u32,
        ] {
            b.extend_from_slice(&u32::to_be_bytes(w));
        }
        b.extend_from_slice(&[0; 16]);
        b.extend_from_slice(&self.structs);
        b.extend_from_slice(&self.strings);
        b
    }
}

/// A Pi-4-like tree as QEMU `raspi4b` passes it: 2 address cells, 1 size cell, nodes and a
/// property `NOP`ed out before, between and after what the kernel reads.
fn pi4_like() -> Vec<u8> {
    let mut b = Blob::default();
    b.begin("")
        .u32s("#address-cells", &[2])
        .nop()
        .u32s("#size-cells", &[1])
        .prop("model", b"Raspberry Pi 4 Model B\0");
    b.begin("soc")
        .u32s("#address-cells", &[1])
        .u32s("#size-cells", &[1]);
    b.begin("avs-monitor@7d5d2000").nop().nop().end();
    b.nop().nop().nop();
    b.end();
    b.nop().nop();
    b.begin("reserved-memory")
        .begin("linux,cma")
        .u32s("reg", &[0, 0, 0x100])
        .end()
        .end();
    b.begin("cpus")
        .u32s("#address-cells", &[1])
        .nop()
        .u32s("#size-cells", &[0]);
    for i in 0..4 {
        b.begin(&alloc::format!("cpu@{i}"))
            .prop("device_type", b"cpu\0")
            .nop()
            .u32s("reg", &[i]);
        b.end();
    }
    b.begin("l2-cache0").end();
    b.end();
    b.begin("memory@0")
        .prop("device_type", b"memory\0")
        .nop()
        .u32s("reg", &[0, 0, 0x3c00_0000, 0, 0x4000_0000, 0x4000_0000])
        .end();
    b.nop();
    b.end();
    b.finish()
}

/// A `virt`-like tree: 2+2 cells, RAM at 1 GiB, PSCI through HVC.
fn virt_like() -> Vec<u8> {
    let mut b = Blob::default();
    b.begin("")
        .u32s("#size-cells", &[2])
        .u32s("#address-cells", &[2]);
    b.begin("psci")
        .prop("compatible", b"arm,psci-1.0\0")
        .prop("method", b"hvc\0")
        .end();
    b.begin("memory@40000000")
        .prop("device_type", b"memory\0")
        .u32s("reg", &[0, 0x4000_0000, 0, 0x4000_0000])
        .end();
    b.begin("cpus")
        .u32s("#address-cells", &[1])
        .u32s("#size-cells", &[0]);
    b.begin("cpu-map")
        .begin("cluster0")
        .begin("core0")
        .end()
        .end()
        .end();
    for i in 0..2 {
        b.begin(&alloc::format!("cpu@{i}")).u32s("reg", &[i]).end();
    }
    b.end().end();
    b.finish()
}

#[test]
fn a_pi4_tree_with_nops_everywhere_gives_its_ram_and_cpus() {
    let blob = pi4_like();
    let m = read(&blob).unwrap();
    assert_eq!(
        m,
        Machine {
            ram: Some((0, 0x3c00_0000)),
            ram_regions: 2,
            ram_total: 0x7c00_0000,
            cpus: 4,
            psci_method: None,
            size: blob.len(),
        }
    );
    assert_eq!(total_size(&blob), Ok(blob.len()));
}

#[test]
fn a_virt_tree_gives_two_cell_sizes_and_its_psci_method() {
    let blob = virt_like();
    let m = read(&blob).unwrap();
    assert_eq!(m.ram, Some((0x4000_0000, 0x4000_0000)));
    assert_eq!((m.ram_regions, m.ram_total), (1, 0x4000_0000));
    assert_eq!(m.cpus, 2, "cpu-map's nodes are not CPUs");
    assert_eq!(m.psci_method, Some("hvc"));
}

#[test]
fn an_empty_memory_node_says_no_ram() {
    // The tree as Debian ships it, before the firmware fills the size in: reg = <0 0 0>.
    let mut b = Blob::default();
    b.begin("")
        .u32s("#address-cells", &[2])
        .u32s("#size-cells", &[1]);
    b.begin("memory@0").u32s("reg", &[0, 0, 0]).end().end();
    let blob = b.finish();
    let m = read(&blob).unwrap();
    assert_eq!((m.ram, m.ram_regions), (None, 0));
}

#[test]
fn malformed_blobs_are_errors() {
    let good = pi4_like();
    assert_eq!(read(&good[..good.len() - 1]), Err(FdtError::Truncated));
    assert_eq!(read(&[0u8; 64]), Err(FdtError::BadMagic));
    assert_eq!(read(&[]), Err(FdtError::Truncated));
    let mut old = good.clone();
    old[20..24].copy_from_slice(&15u32.to_be_bytes());
    assert_eq!(read(&old), Err(FdtError::BadVersion));
    // An END_NODE with no node open.
    let mut b = Blob::default();
    b.end();
    assert_eq!(read(&b.finish()), Err(FdtError::BadToken));
    // Nesting past the bound.
    let mut b = Blob::default();
    for _ in 0..=crate::fdt::MAX_DEPTH {
        b.begin("n");
    }
    assert_eq!(read(&b.finish()), Err(FdtError::TooDeep));
}

#[test]
fn random_corruption_is_an_error_or_an_answer_never_a_panic() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for base in [pi4_like(), virt_like()] {
        for _ in 0..20_000 {
            let mut m = base.clone();
            for _ in 0..1 + next() % 4 {
                let i = next() as usize % m.len();
                m[i] = next() as u8;
            }
            let cut = m.len() - (next() as usize % 8);
            let _ = read(&m[..cut]);
        }
    }
}
