//! Kernel reload: start a new kernel image in place of the running one (the shell's `reload`,
//! once the image has arrived whole and its CRC matched).
//!
//! # Where things go
//! The image is a flat binary linked for the running kernel's load address (`__kernel_start`:
//! 0x8_0000 on the Pi 4, 0x4020_0000 on `virt`), whose first instruction is `_start`. It waits
//! in a heap buffer (above the running kernel, so copying it down to the load address is a
//! forward copy that never overwrites bytes still to be read). The code that does the copy is
//! a small stub (`arch::reload`) copied to the page just below the load address: inside RAM,
//! outside both the old and the new kernel (neither uses memory below its image), clear of the
//! spin table (page 0 on the Pi) and of the device tree, which [`target`] checks. The stub page
//! also holds one word per CPU that a parked CPU sets.
//!
//! # The sequence ([`boot`])
//! 1. Checks: the image fits the size limit; its arm64 Image header (magic `ARM\x64`) has the
//!    running kernel's `text_offset` (it is linked for this board's load address), and its
//!    `image_size` (bss and stacks included) fits below the device tree and the end of RAM; we
//!    run on CPU 0 (the new kernel's `_start` boots only there); the buffer is 8-byte aligned
//!    and a multiple of 8 bytes (else it is copied into one that is).
//! 2. The stub is copied to its page, cleaned to the point of coherency, and the instruction
//!    caches invalidated. On the spin-table board every release slot is cleared, so the parked
//!    CPUs wait for the new kernel to write its entry there, as the firmware's spin loop does.
//! 3. Interrupts are masked on CPU 0 for good (no thread runs there again, no lock is taken:
//!    another CPU may hold one when it stops). Every other CPU running the kernel gets the
//!    `Halt` SGI, every CPU parked by hotplug an SEV; each turns its timer and GIC CPU
//!    interface off and clears its pending SGIs and PPIs, then leaves the kernel:
//!    - PSCI (`virt`): `CPU_OFF`, the new kernel starts it again with `CPU_ON` as at boot
//!      (CPU 0 waits until `AFFINITY_INFO` says it is off);
//!    - spin table (Pi 4): the stub's `park`: MMU and caches off, its own caches cleaned by
//!      set/way, then its ack word set and the wait on its release slot.
//!
//!    A CPU that has not stopped within [`STOP_TIMEOUT`] is a kernel panic: overwriting code
//!    another CPU may still run cannot be done safely, and the old kernel cannot be resumed
//!    either (its other CPUs are gone).
//! 4. CPU 0 turns its timer off, quiesces its GIC CPU interface and the distributor (all SPIs
//!    disabled, nothing pending or active, distributor off), stops the UART's receive
//!    interrupts and drains its transmitter, cleans the image buffer to memory, and jumps to the
//!    stub's `boot`: MMU and caches off, every cache level cleaned and invalidated by set/way,
//!    the image copied, I-cache and TLB invalidated, and the new kernel entered with `x0` = the
//!    device tree (as the loader gave it) and `x1..x3` = 0.
//!
//! # Exception level
//! The new kernel is entered at EL1, the level the old one ran at: its `_start` accepts EL1 (it
//! drops from EL2 only when entered there), and the EL2 set-up the first kernel made on the way
//! down (EL1 may use the timer, counter and PMU; no traps) stays in force. Its banner says
//! `entry: EL1`. Going back to EL2 (a hypervisor stub called by HVC, as Linux's kexec does) is
//! not done: nothing in this kernel needs EL2.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};
use rtos::config::MAX_CPUS;
use rtos::time::{Duration, Instant};

use crate::arch::{self, cache};
use crate::board::SmpMethod;
use crate::drivers::timer;
use crate::kernel::kernel;

/// The largest image accepted: 4 MiB (the kernel is about 400 KiB; 4 MiB take six minutes at
/// 115200 baud).
pub const MAX_IMAGE: usize = 4 << 20;
/// How long CPU 0 waits for the other CPUs to stop.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(1);

const PAGE: usize = 4096;
/// Where in the stub page the CPUs' ack words start (one cache line each, after the code).
const ACK_OFFSET: usize = 0x800;
/// Bytes between two ack words.
const ACK_STRIDE: usize = 64;

/// The stub page while a reload parks the CPUs; 0 otherwise.
static STUB: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" {
    static __kernel_start: u8;
}

/// Where a new image goes and how big it may be, from [`target`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// The board's name (an image names the board it was built for).
    pub board: &'static str,
    /// The load address: the running kernel's, which an image must be linked for.
    pub load_addr: usize,
    /// The largest image.
    pub max_size: usize,
}

/// The running kernel's load address.
fn load_addr() -> usize {
    core::ptr::addr_of!(__kernel_start) as usize
}

/// Whether `[a, a + alen)` and `[b, b + blen)` overlap.
fn overlaps(a: usize, alen: usize, b: usize, blen: usize) -> bool {
    a < b.saturating_add(blen) && b < a.saturating_add(alen)
}

/// Where a reload can put an image on this board, or `None` if it cannot (no free page below
/// the kernel for the stub).
pub fn target() -> Option<Target> {
    let k = kernel();
    let load = load_addr();
    let stub = load.checked_sub(PAGE)?;
    let (ram, _) = k.board.early_ram;
    let dtb = k.dtb.unwrap_or((0, 0));
    if stub < ram.max(PAGE) || overlaps(stub, PAGE, dtb.0, dtb.1) {
        return None;
    }
    Some(Target {
        board: k.board.name,
        load_addr: load,
        max_size: MAX_IMAGE.min(end_of_room(load).saturating_sub(load)),
    })
}

/// Starts `image` (a flat binary linked for [`Target::load_addr`]) in place of the running
/// kernel; see the module documentation. Returns only if it refuses, before anything changed,
/// with why.
pub fn boot(image: &[u8]) -> String {
    let Some(t) = target() else {
        return String::from("no free page below the kernel for the reload code");
    };
    if image.is_empty() || image.len() > t.max_size {
        return format!(
            "a {}-byte image does not fit (at most {} bytes)",
            image.len(),
            t.max_size
        );
    }
    if let Err(why) = check_image_header(image, &t) {
        return why;
    }
    // The staging buffer: 8-byte words (the copy runs with the MMU off, where every access must
    // be aligned), above the load address.
    let words: Vec<u64>;
    let (src, len) = if (image.as_ptr() as usize).is_multiple_of(8) && image.len().is_multiple_of(8)
    {
        (image.as_ptr() as usize, image.len())
    } else {
        let mut w = Vec::new();
        if w.try_reserve_exact(image.len().div_ceil(8)).is_err() {
            return String::from("not enough memory to align the image");
        }
        w.extend(image.chunks(8).map(|c| {
            let mut b = [0; 8];
            b[..c.len()].copy_from_slice(c);
            u64::from_ne_bytes(b)
        }));
        words = w;
        (words.as_ptr() as usize, words.len() * 8)
    };
    if src < t.load_addr + len {
        return String::from("the image buffer lies below its load address");
    }
    let saved = arch::irq_save();
    if arch::cpu_id() != 0 {
        arch::irq_restore(saved);
        return String::from("must run on cpu0 (the new kernel starts there)");
    }
    let stub = t.load_addr - PAGE;
    install_stub(stub);
    stop_others(stub);
    // Only this CPU runs now, interrupts masked, never to be unmasked by this kernel.
    let k = kernel();
    timer::set_deadline(None);
    k.gic.quiesce_cpu();
    k.gic.quiesce_distributor();
    k.uart.quiesce();
    cache::clean_to_poc(src, len);
    let dtb = k.dtb.map_or(0, |(base, _)| base);
    // SAFETY: the stub was copied to `stub` and cleaned (`install_stub`), in RAM below the load
    // address that neither kernel uses; every other CPU is off or parked in it; interrupts are
    // masked and the GIC, timer and UART quiesced; `src` and `len` are 8-byte aligned (checked
    // or copied above), the load address is page-aligned, and `load + len <= src`; the image
    // fits below the device tree and in RAM (`target`).
    unsafe {
        arch::reload::boot(
            stub + arch::reload::boot_offset(),
            src,
            t.load_addr,
            len,
            dtb,
        )
    }
}

/// Offset of the arm64 Image header's magic (`ARM\x64`) in a kernel image.
const ARM64_MAGIC_AT: usize = 0x38;

/// A little-endian `u64` of `bytes` at `at`, if it has one there.
fn le64(bytes: &[u8], at: usize) -> Option<u64> {
    let b: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(b))
}

/// Checks the image's arm64 Image header (`boot.rs`'s `_start`) against the running kernel's:
/// the same `text_offset` (so it is linked for this board's load address), and an
/// `image_size` (bss and stacks included) that fits below the device tree and the end of RAM.
fn check_image_header(image: &[u8], t: &Target) -> Result<(), String> {
    if image.get(ARM64_MAGIC_AT..ARM64_MAGIC_AT + 4) != Some(b"ARM\x64".as_slice()) {
        return Err(String::from(
            "not an arm64 kernel image (no `ARM\\x64` header magic at 0x38)",
        ));
    }
    // SAFETY: the running kernel's own first 64 bytes (its header), mapped and never written.
    let own = unsafe { core::slice::from_raw_parts(t.load_addr as *const u8, 64) };
    let (theirs, ours) = (le64(image, 8), le64(own, 8));
    if theirs != ours {
        return Err(format!(
            "the image is linked for text_offset {:#x}, this board's kernel for {:#x} (an image \
             for another board?)",
            theirs.unwrap_or(0),
            ours.unwrap_or(0)
        ));
    }
    let size = le64(image, 16)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    let end = end_of_room(t.load_addr);
    if size < image.len() || t.load_addr.saturating_add(size) > end {
        return Err(format!(
            "the image needs {size:#x} bytes at {:#x} (bss and stacks included), which do not \
             fit below {end:#x} (the device tree or the end of RAM)",
            t.load_addr
        ));
    }
    Ok(())
}

/// Where the memory a kernel loaded at `load` may use ends: at the device tree if that lies
/// above it, else at the end of boot-mapped RAM.
fn end_of_room(load: usize) -> usize {
    let k = kernel();
    let (ram, ram_size) = k.board.early_ram;
    match k.dtb {
        Some((dtb, _)) if dtb >= load => (ram + ram_size).min(dtb),
        _ => ram + ram_size,
    }
}

/// Copies the stub to `stub` with its ack words cleared, makes it visible to CPUs with their
/// MMU off, and, on a spin-table board, clears the release slots the parked CPUs will watch.
fn install_stub(stub: usize) {
    let code = arch::reload::code();
    assert!(code.len() <= ACK_OFFSET, "reload stub too big");
    // SAFETY: `stub` is the page below the kernel image: RAM mapped normal, used by nothing
    // (`target` checked it is clear of the device tree and of page 0); the code slice is
    // in the kernel's text and does not overlap it.
    unsafe {
        core::ptr::copy_nonoverlapping(code.as_ptr(), stub as *mut u8, code.len());
        core::ptr::write_bytes((stub + ACK_OFFSET) as *mut u8, 0, MAX_CPUS * ACK_STRIDE);
    }
    cache::clean_to_poc(stub, PAGE);
    cache::invalidate_icache_all();
    let k = kernel();
    if let SmpMethod::SpinTable { release_base } = k.board.smp {
        for cpu in 1..k.cpus {
            let slot = release_base + 8 * cpu;
            // SAFETY: the spin-table release slot of `cpu`, in boot-mapped RAM below the kernel
            // (the boot code wrote our entry there); CPUs that left the firmware's loop no
            // longer read it, parked ones read it with their MMU off.
            unsafe { core::ptr::write_volatile(slot as *mut u64, 0) };
            cache::clean_to_poc(slot, 8);
        }
    }
}

/// Stops every other CPU (step 3 of the module documentation); panics if one does not stop.
fn stop_others(stub: usize) {
    let k = kernel();
    STUB.store(stub, Ordering::Release);
    // Online CPUs take the SGI; those offline by hotplug are in a WFE loop (or powered off)
    // with their GIC interface off, and SEV wakes them. Only online CPUs get the SGI: one left
    // pending on an offline CPU would halt it in the new kernel.
    let others = (1..k.cpus.min(MAX_CPUS)).fold(0u32, |m, c| m | 1 << c);
    k.gic
        .send_sgi(rtos::port::Sgi::Halt, rtos::sched::online_mask() & others);
    arch::sev();
    let deadline = Instant::after(STOP_TIMEOUT);
    // Every CPU that came up at boot; those that did not are still in the firmware's hands.
    for cpu in (1..MAX_CPUS).filter(|&c| others & (1 << c) != 0 && rtos::hotplug::exists(c)) {
        while !stopped(stub, cpu) {
            if deadline.has_passed() {
                panic!(
                    "reload: cpu{cpu} did not stop within {} ms; the new kernel cannot be started safely",
                    STOP_TIMEOUT.as_millis()
                );
            }
            arch::cpu_relax();
        }
    }
}

/// Whether `cpu` has left the kernel: parked in the stub, or powered off by PSCI (now, or
/// earlier by hotplug).
fn stopped(stub: usize, cpu: usize) -> bool {
    let ack = stub + ACK_OFFSET + cpu * ACK_STRIDE;
    // The parked CPU wrote its word with its MMU off, straight to memory: drop our copy.
    cache::clean_invalidate_to_poc(ack, 8);
    // SAFETY: an aligned word of the stub page (`install_stub`), written only by the stub.
    if unsafe { core::ptr::read_volatile(ack as *const u64) } != 0 {
        return true;
    }
    let k = kernel();
    match (k.board.smp, k.psci) {
        (SmpMethod::Psci, Some(conduit)) => arch::psci::is_off(conduit, cpu),
        _ => false,
    }
}

/// Called where a secondary CPU may learn of a reload (the `Halt` SGI, the hotplug WFE loop):
/// if one is under way, leaves the kernel for good (step 3 of the module documentation);
/// otherwise returns at once. Interrupts must be masked.
pub(crate) fn park_if_reloading() {
    let stub = STUB.load(Ordering::Acquire);
    if stub == 0 {
        return;
    }
    let k = kernel();
    let cpu = arch::cpu_id();
    timer::set_deadline(None);
    k.gic.quiesce_cpu();
    let slot = match (k.board.smp, k.psci) {
        (SmpMethod::Psci, Some(conduit)) => {
            // Returns only if refused: then park in the stub, never to be started again.
            let _ = arch::psci::cpu_off(conduit);
            0
        }
        (SmpMethod::SpinTable { release_base }, _) => release_base + 8 * cpu,
        (SmpMethod::Psci, None) => 0,
    };
    // SAFETY: the stub was installed and cleaned before `STUB` was published (Release/Acquire);
    // its page and ack words stay untouched until the new kernel releases this CPU; `slot` is
    // 0 or this CPU's spin-table slot, cleared by `install_stub`; this CPU's timer and GIC
    // interface are off and its interrupts masked (the caller's contract).
    unsafe {
        arch::reload::park(
            stub + arch::reload::park_offset(),
            slot,
            stub + ACK_OFFSET + cpu * ACK_STRIDE,
        )
    }
}
