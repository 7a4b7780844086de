//! What the boot loader's flattened device tree says about the machine: RAM, CPUs, the PSCI
//! conduit. Read from untrusted bytes without allocating: any malformed blob is an [`FdtError`],
//! never a panic or an out-of-bounds read.
//!
//! The layout is the Devicetree Specification's (v0.4, chapter 5 "Flattened Devicetree (DTB)
//! Format"): a header of big-endian words, then a structure block of tokens (`BEGIN_NODE` name,
//! `PROP` len nameoff value, `END_NODE`, `NOP`, `END`) whose property names are offsets into a
//! strings block. Loaders that edit a tree in place with libfdt (QEMU's `raspi4b`, the Pi
//! firmware) overwrite removed nodes and properties with `NOP` tokens, anywhere between other
//! tokens: the walker skips them wherever they are. (The `fdt` 0.1 crate this replaced panicked
//! on such a tree; `flat_device_tree` 3.1 lost every node after one.)

/// Why a blob was not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdtError {
    /// Not a device tree (the magic word is not `0xd00dfeed`).
    BadMagic,
    /// A header field, token or property runs past the blob or its block.
    Truncated,
    /// A version older than 16 (no inline node names).
    BadVersion,
    /// A token that is not one of the five, or one out of place.
    BadToken,
    /// Nodes nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

/// The deepest node nesting read.
pub const MAX_DEPTH: usize = 16;

const MAGIC: u32 = 0xd00d_feed;
const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;

/// What the tree says, as far as the kernel uses it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Machine<'a> {
    /// The first RAM region of the first memory node with a non-empty one: `(base, size)`.
    pub ram: Option<(u64, u64)>,
    /// All RAM regions listed: how many, and their total size.
    pub ram_regions: usize,
    /// Their total size in bytes.
    pub ram_total: u64,
    /// `cpu` nodes under `/cpus`.
    pub cpus: usize,
    /// `/psci`'s `method` (`hvc` or `smc`), if any.
    pub psci_method: Option<&'a str>,
    /// The blob's size in bytes (its header's `totalsize`).
    pub size: usize,
}

/// The blob's size from its header (the first 8 bytes), to know how much to map or read.
pub fn total_size(header: &[u8]) -> Result<usize, FdtError> {
    if be32(header, 0)? != MAGIC {
        return Err(FdtError::BadMagic);
    }
    Ok(be32(header, 4)? as usize)
}

fn be32(b: &[u8], at: usize) -> Result<u32, FdtError> {
    let w = b.get(at..at.checked_add(4).ok_or(FdtError::Truncated)?);
    let w: [u8; 4] = w
        .and_then(|w| w.try_into().ok())
        .ok_or(FdtError::Truncated)?;
    Ok(u32::from_be_bytes(w))
}

/// The NUL-terminated string at the start of `b`.
fn cstr(b: &[u8]) -> Result<&[u8], FdtError> {
    let n = b.iter().position(|&c| c == 0).ok_or(FdtError::Truncated)?;
    Ok(&b[..n])
}

fn align4(n: usize) -> Result<usize, FdtError> {
    n.checked_add(3).map(|n| n & !3).ok_or(FdtError::Truncated)
}

/// A number of `cells` big-endian 32-bit cells (1 or 2; more are refused as `None`).
fn cells(b: &[u8], cells: u32) -> Option<u64> {
    match cells {
        1 => be32(b, 0).ok().map(u64::from),
        2 => Some(u64::from(be32(b, 0).ok()?) << 32 | u64::from(be32(b, 4).ok()?)),
        _ => None,
    }
}

/// Reads `blob` (at least `totalsize` bytes; more are ignored).
pub fn read(blob: &[u8]) -> Result<Machine<'_>, FdtError> {
    let size = total_size(blob)?;
    let blob = blob.get(..size).ok_or(FdtError::Truncated)?;
    if be32(blob, 20)? < 16 {
        return Err(FdtError::BadVersion);
    }
    let off_struct = be32(blob, 8)? as usize;
    let off_strings = be32(blob, 12)? as usize;
    // Version 17 headers give the blocks' sizes; otherwise they run to the end of the blob.
    let (size_strings, size_struct) = match (be32(blob, 32), be32(blob, 36)) {
        (Ok(a), Ok(b)) => (a as usize, b as usize),
        _ => (
            size.saturating_sub(off_strings),
            size.saturating_sub(off_struct),
        ),
    };
    let block = |off: usize, len: usize| {
        off.checked_add(len)
            .and_then(|end| blob.get(off..end))
            .ok_or(FdtError::Truncated)
    };
    let structs = block(off_struct, size_struct)?;
    let strings = block(off_strings, size_strings)?;

    let mut m = Machine {
        size,
        ..Machine::default()
    };
    // The root's cell sizes for `reg` (the specification's defaults until it says).
    let (mut addr_cells, mut size_cells) = (2u32, 1u32);
    // The names of the nodes open, root first (the root's name is empty).
    let mut path: [&[u8]; MAX_DEPTH] = [&[]; MAX_DEPTH];
    let mut depth = 0usize;
    let mut at = 0usize;
    loop {
        let token = be32(structs, at)?;
        at += 4;
        match token {
            NOP => {}
            BEGIN_NODE => {
                let name = cstr(structs.get(at..).ok_or(FdtError::Truncated)?)?;
                at = align4(at + name.len() + 1)?;
                if depth == MAX_DEPTH {
                    return Err(FdtError::TooDeep);
                }
                path[depth] = name;
                depth += 1;
                if depth == 3 && path[1] == b"cpus" && base_name(name) == b"cpu" {
                    m.cpus += 1;
                }
            }
            END_NODE => {
                depth = depth.checked_sub(1).ok_or(FdtError::BadToken)?;
            }
            PROP => {
                let len = be32(structs, at)? as usize;
                let name_off = be32(structs, at + 4)? as usize;
                at += 8;
                let value = at
                    .checked_add(len)
                    .and_then(|end| structs.get(at..end))
                    .ok_or(FdtError::Truncated)?;
                at = align4(at + len)?;
                let name = cstr(strings.get(name_off..).ok_or(FdtError::Truncated)?)?;
                if depth == 0 {
                    return Err(FdtError::BadToken);
                }
                let node = &path[1..depth];
                match (node, name) {
                    ([], b"#address-cells") => addr_cells = cells(value, 1).unwrap_or(2) as u32,
                    ([], b"#size-cells") => size_cells = cells(value, 1).unwrap_or(1) as u32,
                    ([n], b"reg") if base_name(n) == b"memory" => {
                        memory_regions(&mut m, value, addr_cells, size_cells)
                    }
                    ([b"psci"], b"method") => {
                        m.psci_method = cstr(value).ok().and_then(|s| core::str::from_utf8(s).ok());
                    }
                    _ => {}
                }
            }
            END if depth == 0 => return Ok(m),
            _ => return Err(FdtError::BadToken),
        }
    }
}

/// A node's name without its unit address (`memory@0` -> `memory`).
fn base_name(name: &[u8]) -> &[u8] {
    name.split(|&c| c == b'@').next().unwrap_or(name)
}

/// Adds a memory node's `reg` entries: the first non-empty one is the RAM the kernel uses.
fn memory_regions(m: &mut Machine<'_>, reg: &[u8], addr_cells: u32, size_cells: u32) {
    let entry = (addr_cells + size_cells) as usize * 4;
    if entry == 0 {
        return;
    }
    for e in reg.chunks_exact(entry) {
        let (a, s) = e.split_at(addr_cells as usize * 4);
        let (Some(base), Some(len)) = (cells(a, addr_cells), cells(s, size_cells)) else {
            return;
        };
        if len == 0 {
            continue;
        }
        m.ram_regions += 1;
        m.ram_total = m.ram_total.saturating_add(len);
        if m.ram.is_none() {
            m.ram = Some((base, len));
        }
    }
}
