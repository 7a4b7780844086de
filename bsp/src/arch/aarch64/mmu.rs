//! The boot-time identity map and MMU enable.
//!
//! The MMU must be on before any atomic read-modify-write: exclusive loads and stores on Device
//! memory (which is what all memory is with the MMU off) are not guaranteed to work on real
//! hardware. So this module runs first, uses no atomics, and builds a small identity map from the
//! board's description with plain stores: 1 GiB blocks where a whole gigabyte has one kind
//! (RAM, device or nothing), 2 MiB blocks where it is mixed, and 4 KiB pages for the 2 MiB blocks
//! that hold the thread-stack arena ([`crate::stacks`]), whose guard pages stay invalid.
//!
//! Attributes: RAM is Normal write-back cacheable, inner shareable, never executable from EL0;
//! device ranges are Device-nGnRE and never executable. Everything else is unmapped, so a stray
//! pointer faults (and is reported) instead of reading garbage.

use crate::board::Board;
use crate::stacks;

const ENTRIES: usize = 512;
const GIB: usize = 1 << 30;
const MIB2: usize = 2 << 20;
const PAGE: usize = 4096;
/// Identity-mapped address space: 39-bit VA, translation starting at level 1.
const VA_BITS: u64 = 39;
/// How many level-2 tables the map may use (each covers one mixed gigabyte).
const L2_TABLES: usize = 4;
/// Level-3 tables for the 2 MiB blocks the stack arena touches (one spare in case it is not
/// 2 MiB-aligned).
const L3_TABLES: usize = stacks::ARENA_SIZE.div_ceil(MIB2) + 1;

const ATTR_DEVICE: u64 = 0; // MAIR index 0: Device-nGnRE
const ATTR_NORMAL: u64 = 1; // MAIR index 1: Normal, inner/outer write-back RW-allocate
const MAIR: u64 = 0x04 | (0xff << 8);

const DESC_BLOCK: u64 = 0b01;
const DESC_TABLE: u64 = 0b11;
const DESC_PAGE: u64 = 0b11; // at level 3
const AF: u64 = 1 << 10;
const SH_INNER: u64 = 3 << 8;
const PXN: u64 = 1 << 53;
const UXN: u64 = 1 << 54;

#[repr(C, align(4096))]
struct Table([u64; ENTRIES]);

static mut L1: Table = Table([0; ENTRIES]);
static mut L2: [Table; L2_TABLES] = [const { Table([0; ENTRIES]) }; L2_TABLES];
static mut L3: [Table; L3_TABLES] = [const { Table([0; ENTRIES]) }; L3_TABLES];

/// The values a secondary CPU loads to turn its MMU on: MAIR_EL1, TCR_EL1, TTBR0_EL1, SCTLR_EL1.
#[repr(C)]
pub(crate) struct MmuRegs(pub(crate) [u64; 4]);

/// Published by [`enable_boot_cpu`] and cleaned to memory, read by `_secondary_start`.
pub(crate) static mut MMU_REGS: MmuRegs = MmuRegs([0; 4]);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unmapped,
    Normal,
    Device,
}

fn kind_of(board: &Board, addr: usize) -> Kind {
    let in_range = |(base, size): (usize, usize)| addr >= base && addr - base < size;
    if in_range(board.early_ram) {
        Kind::Normal
    } else if board.devices.iter().any(|&r| in_range(r)) {
        Kind::Device
    } else {
        Kind::Unmapped
    }
}

/// The kind of the 4 KiB page at `addr`: guard pages of the stack arena are unmapped.
fn page_kind(board: &Board, addr: usize) -> Kind {
    if stacks::in_guard(addr) {
        Kind::Unmapped
    } else {
        kind_of(board, addr)
    }
}

/// Whether `[addr, addr + len)` is all one kind and clear of the stack arena: no boundary of the
/// RAM, a device region or the arena lies strictly inside it.
fn uniform(board: &Board, addr: usize, len: usize) -> bool {
    let inside = |b: usize| addr < b && b < addr + len;
    let (arena, arena_size) = stacks::arena();
    let clear_of_arena = arena + arena_size <= addr || addr + len <= arena;
    clear_of_arena
        && core::iter::once(board.early_ram)
            .chain(board.devices.iter().copied())
            .all(|(base, size)| !inside(base) && !inside(base + size))
}

/// Whether the 2 MiB block at `addr` must be mapped with pages (it overlaps the stack arena).
fn needs_pages(addr: usize) -> bool {
    let (base, size) = stacks::arena();
    addr < base + size && base < addr + MIB2
}

/// A block (levels 1-2, `desc` = [`DESC_BLOCK`]) or page (level 3, [`DESC_PAGE`]) descriptor.
fn leaf(addr: usize, kind: Kind, desc: u64) -> u64 {
    match kind {
        Kind::Unmapped => 0,
        Kind::Normal => addr as u64 | desc | AF | SH_INNER | (ATTR_NORMAL << 2) | UXN,
        Kind::Device => addr as u64 | desc | AF | (ATTR_DEVICE << 2) | PXN | UXN,
    }
}

fn block(addr: usize, kind: Kind) -> u64 {
    leaf(addr, kind, DESC_BLOCK)
}

/// Builds the identity map for `board`, turns the MMU and caches on for the calling CPU and
/// publishes the register values for the secondary CPUs.
///
/// # Safety
/// Call once, on the boot CPU, with the MMU off, before anything else uses memory mapped here
/// with other attributes. The board's ranges must describe real RAM and MMIO; the kernel image
/// and boot stacks must lie inside `board.early_ram`.
pub(crate) unsafe fn enable_boot_cpu(board: &Board) {
    // SAFETY: single CPU, MMU off, nothing else refers to the tables yet (caller's contract).
    let (l1, l2, l3) = unsafe {
        (
            &mut *core::ptr::addr_of_mut!(L1),
            &mut *core::ptr::addr_of_mut!(L2),
            &mut *core::ptr::addr_of_mut!(L3),
        )
    };
    let (mut next_l2, mut next_l3) = (0, 0);
    for (gib, entry) in l1.0.iter_mut().enumerate().take(1 << (VA_BITS - 30)) {
        let base = gib * GIB;
        let kinds = |i: usize| kind_of(board, base + i * MIB2);
        let first = kinds(0);
        let split = |i: usize| needs_pages(base + i * MIB2);
        // Most gigabytes hold no region boundary: settle those without sampling 512 blocks (the
        // MMU is off here, so every load is uncached; that loop once cost 6 million instructions).
        if uniform(board, base, GIB) || (0..ENTRIES).all(|i| kinds(i) == first && !split(i)) {
            *entry = block(base, first);
        } else if next_l2 < L2_TABLES {
            let table = &mut l2[next_l2];
            next_l2 += 1;
            for (i, e) in table.0.iter_mut().enumerate() {
                let addr = base + i * MIB2;
                if split(i) && next_l3 < L3_TABLES {
                    let pages = &mut l3[next_l3];
                    next_l3 += 1;
                    for (j, p) in pages.0.iter_mut().enumerate() {
                        let at = addr + j * PAGE;
                        *p = leaf(at, page_kind(board, at), DESC_PAGE);
                    }
                    *e = pages as *const Table as u64 | DESC_TABLE;
                } else {
                    *e = block(addr, kinds(i));
                }
            }
            *entry = table as *const Table as u64 | DESC_TABLE;
        }
    }

    let tcr: u64 = (64 - VA_BITS)          // T0SZ
        | (0b01 << 8)                      // IRGN0: write-back, write-allocate
        | (0b01 << 10)                     // ORGN0: write-back, write-allocate
        | (0b11 << 12)                     // SH0: inner shareable
        // TG0 (bits 15:14) = 0: 4 KiB granule
        | (1 << 23)                        // EPD1: no TTBR1 walks
        | (0b010 << 32); // IPS: 40-bit physical addresses
    let sctlr: u64 = 0x30d0_0800           // RES1 bits
        | (1 << 0)                         // M: MMU on
        | (1 << 2)                         // C: data cache
        | (1 << 12); // I: instruction cache
    let ttbr0 = core::ptr::addr_of!(L1) as u64;

    // SAFETY: the tables above identity-map the running code, its stack and data with the
    // attributes they already have, so execution continues seamlessly once SCTLR.M is set.
    unsafe {
        core::arch::asm!(
            "msr mair_el1, {mair}",
            "msr tcr_el1, {tcr}",
            "msr ttbr0_el1, {ttbr0}",
            "isb",
            "tlbi vmalle1",
            "dsb nsh",
            "isb",
            "msr sctlr_el1, {sctlr}",
            "isb",
            "ic iallu",
            "dsb nsh",
            "isb",
            mair = in(reg) MAIR,
            tcr = in(reg) tcr,
            ttbr0 = in(reg) ttbr0,
            sctlr = in(reg) sctlr,
            options(nostack),
        );
    }

    // SAFETY: written once here, before any secondary CPU is released; no reference escapes.
    unsafe {
        let regs = &mut *core::ptr::addr_of_mut!(MMU_REGS);
        regs.0 = [MAIR, tcr, ttbr0, sctlr];
    }
    // Secondaries read it with their MMU (and so caches) off.
    super::cache::clean_to_poc(core::ptr::addr_of!(MMU_REGS) as usize, size_of::<MmuRegs>());
}
