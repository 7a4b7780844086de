//! Thread stacks: a fixed arena of slots, each an unmapped guard page below a 16 KiB stack.
//!
//! The arena is a 2 MiB-aligned region right after the kernel's BSS (section `.stack_arena` in
//! `kernel.ld`, not zeroed at boot, not part of the image). The boot identity map
//! ([`crate::arch::mmu`]) maps it with 4 KiB pages and leaves the first page of every slot
//! invalid, so a thread that runs off the bottom of its stack faults on its own guard page instead
//! of scribbling over its neighbour. The guards are never mapped, so no break-before-make is ever
//! needed.
//!
//! ```text
//! arena:  | guard 0 | stack 0 (16 KiB) | guard 1 | stack 1 | ... | guard 255 | stack 255 |
//!          4 KiB     top of stack 0 = guard 1
//! ```
//!
//! Slots are handed out from a bitmap under an [`IrqSpinLock`]. A stack handed out holds
//! [`FILL`] (the part its previous owner was seen to write is repainted; see [`DIRTY`]) so
//! [`high_water`] can find the deepest byte written. The exception vectors check
//! the stack pointer against the guard pages before pushing a trap frame ([`in_guard`] is the same
//! test in Rust), so an overflow is reported by thread name instead of faulting recursively.

use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU32, Ordering};
use rtos::port::Stack;
use rtos::sync::IrqSpinLock;

/// Bytes of the unmapped guard page at the bottom of each slot.
pub const GUARD_SIZE: usize = 4096;
/// Usable bytes of each thread stack (the kernel's [`rtos::config::STACK_SIZE`]).
pub const STACK_SIZE: usize = rtos::config::STACK_SIZE;
/// Bytes per slot: guard page plus stack.
pub const SLOT_SIZE: usize = GUARD_SIZE + STACK_SIZE;
/// Number of slots: one per kthread the kernel allows ([`rtos::config::STACK_SLOTS`]).
pub const SLOTS: usize = rtos::config::STACK_SLOTS;
/// Size of the whole arena (5 MiB).
pub const ARENA_SIZE: usize = SLOTS * SLOT_SIZE;
/// The byte a fresh stack is filled with.
pub const FILL: u8 = 0xa5;

// The vector code computes `offset % SLOT_SIZE` with shifts by these (see exceptions.rs).
pub(crate) const GUARD_SHIFT: u32 = GUARD_SIZE.trailing_zeros();
pub(crate) const STACK_SHIFT: u32 = STACK_SIZE.trailing_zeros();
const _: () = assert!(GUARD_SIZE == 1 << GUARD_SHIFT && STACK_SIZE == 1 << STACK_SHIFT);
const _: () = assert!(GUARD_SIZE == 4096 && STACK_SIZE.is_multiple_of(4096));
const _: () = assert!(SLOTS.is_multiple_of(64) && SLOT_SIZE <= 0xffff && ARENA_SIZE < 1 << 32);

/// The arena's memory. Never accessed through a reference: only through raw pointers into
/// slots that [`alloc`] handed out.
#[repr(C, align(4096))]
pub(crate) struct Arena(MaybeUninit<[u8; ARENA_SIZE]>);

/// The stack arena, in its own non-loaded, 2 MiB-aligned section (see `kernel.ld`).
#[unsafe(link_section = ".stack_arena")]
pub(crate) static mut STACK_ARENA: Arena = Arena(MaybeUninit::uninit());

/// Which slots are in use (bit `i % 64` of word `i / 64`).
static USED: IrqSpinLock<[u64; SLOTS / 64]> = IrqSpinLock::new([0; SLOTS / 64]);

/// Per slot: how many bytes below its top [`alloc`] repaints with [`FILL`]. Set by [`free`]
/// from the last thread's high-water mark; arena memory is never zeroed or loaded, so every
/// slot starts fully dirty. The mark is sampled (see [`high_water`]): bytes a thread wrote below
/// a line the scan did not see survive the repaint. They can only make a later owner's mark read
/// deeper than it really went (too high, never too low), and only by what this thread hid.
static DIRTY: [AtomicU32; SLOTS] = [const { AtomicU32::new(STACK_SIZE as u32) }; SLOTS];

/// Per slot: the highest [`high_water`] measured since [`alloc`] (0: none yet), so [`free`]
/// need not scan again right after the scheduler measured the dead thread's stack.
static SEEN: [AtomicU32; SLOTS] = [const { AtomicU32::new(0) }; SLOTS];

/// High-water scans look at one word per line of this many bytes (see [`high_water`]).
const LINE: usize = 64;

/// Start address of the arena.
pub fn arena_base() -> usize {
    core::ptr::addr_of!(STACK_ARENA) as usize
}

/// `(base, size)` of the arena.
pub fn arena() -> (usize, usize) {
    (arena_base(), ARENA_SIZE)
}

/// Whether `addr` lies in a guard page of the arena.
pub fn in_guard(addr: usize) -> bool {
    let off = addr.wrapping_sub(arena_base());
    off < ARENA_SIZE && off % SLOT_SIZE < GUARD_SIZE
}

/// Whether `addr` lies in the arena (a guard page or a stack).
pub fn in_arena(addr: usize) -> bool {
    addr.wrapping_sub(arena_base()) < ARENA_SIZE
}

/// The top (one past the highest byte) of the thread stack of the arena that holds `addr`, or
/// `None` if `addr` is not in a stack of the arena (elsewhere, or in a guard page).
pub fn stack_top(addr: usize) -> Option<usize> {
    if !in_arena(addr) || in_guard(addr) {
        return None;
    }
    let slot = (addr - arena_base()) / SLOT_SIZE;
    Some(arena_base() + (slot + 1) * SLOT_SIZE)
}

/// The slot index of a stack handed out by [`alloc`], or `None` if `stack` is not one.
fn slot_of(stack: &Stack) -> Option<usize> {
    let off = stack.base.wrapping_sub(arena_base() + GUARD_SIZE);
    (off < ARENA_SIZE && off.is_multiple_of(SLOT_SIZE) && stack.size == STACK_SIZE)
        .then_some(off / SLOT_SIZE)
}

/// Whether `stack` is a slot of the arena that is currently handed out.
pub(crate) fn is_allocated(stack: &Stack) -> bool {
    slot_of(stack).is_some_and(|i| USED.lock()[i / 64] & (1 << (i % 64)) != 0)
}

/// Hands out a free stack, filled with [`FILL`]; `None` when every slot is in use.
pub fn alloc() -> Option<Stack> {
    let slot = {
        let mut used = USED.lock();
        let (w, word) = used.iter_mut().enumerate().find(|(_, w)| **w != u64::MAX)?;
        let bit = word.trailing_ones() as usize;
        *word |= 1 << bit;
        w * 64 + bit
    };
    let base = arena_base() + slot * SLOT_SIZE + GUARD_SIZE;
    // Only what the last owner dirtied needs repainting (a 16 KiB fill per thread creation was
    // three quarters of `bench create`). Dirty until measured again at `free`.
    let dirty = (DIRTY[slot].swap(STACK_SIZE as u32, Ordering::AcqRel) as usize).min(STACK_SIZE);
    SEEN[slot].store(0, Ordering::Release);
    // SAFETY: `[base, base + STACK_SIZE)` is the usable part of a slot we just claimed: mapped
    // normal RAM (the early map) that nothing else uses until the slot is freed.
    unsafe { core::ptr::write_bytes((base + STACK_SIZE - dirty) as *mut u8, FILL, dirty) };
    Some(Stack {
        base,
        size: STACK_SIZE,
    })
}

/// Gives a stack back.
///
/// # Panics
/// If `stack` is not a stack handed out by [`alloc`] or was already freed (a kernel bug).
pub fn free(stack: Stack) {
    let Some(i) = slot_of(&stack) else {
        panic!("stack_free: {stack:x?} is not a stack slot");
    };
    // Nothing runs on it any more: what the scan finds is final. Round up to whole lines (the
    // scan samples one word per line).
    let seen = SEEN[i].load(Ordering::Acquire) as usize;
    let hw = if seen > 0 { seen } else { high_water(&stack) };
    let used_bytes = hw.next_multiple_of(LINE).min(STACK_SIZE);
    let mut used = USED.lock();
    let bit = 1u64 << (i % 64);
    assert!(used[i / 64] & bit != 0, "stack_free: slot {i} freed twice");
    DIRTY[i].store(used_bytes as u32, Ordering::Release);
    used[i / 64] &= !bit;
}

/// Slots in use now.
pub fn in_use() -> usize {
    USED.lock().iter().map(|w| w.count_ones() as usize).sum()
}

/// The most bytes of `stack` ever used: from its top down to the lowest byte that no longer holds
/// [`FILL`], as sampled: the scan reads the first word of each [`LINE`] from the bottom up, then
/// every word of the line below the first line it finds written. A write that touched only the
/// middle of some lower line, leaving the first words of it and of the line above unwritten,
/// goes unseen; stack frames are written from their top down and do not leave such holes.
/// (Reading every word cost ~10,000 instructions per thread exit.) 0 for anything that is not
/// an arena stack.
pub fn high_water(stack: &Stack) -> usize {
    let Some(slot) = slot_of(stack) else {
        return 0;
    };
    let hw = scan(stack);
    SEEN[slot].fetch_max(hw as u32, Ordering::AcqRel);
    hw
}

/// [`high_water`]'s scan.
fn scan(stack: &Stack) -> usize {
    let words = stack.base as *const u64;
    let pattern = u64::from_ne_bytes([FILL; 8]);
    // SAFETY: `i` < STACK_SIZE / 8: inside the slot's usable range, mapped normal RAM. The owning
    // thread may be writing its stack concurrently: a volatile word read of plain memory only
    // ever yields some value it held, which is all a high-water estimate needs.
    let word = |i: usize| unsafe { core::ptr::read_volatile(words.add(i)) };
    let per_line = LINE / 8;
    // SAFETY: `words` is the slot's usable stack, STACK_SIZE bytes of mapped RAM.
    let Some(line) = (unsafe { first_written_line(words, pattern) }) else {
        return 0;
    };
    let from = (line * per_line).saturating_sub(per_line - 1);
    (from..=line * per_line)
        .find_map(|i| {
            let w = word(i);
            // Little-endian: the lowest differing byte is the least significant one.
            (w != pattern)
                .then(|| STACK_SIZE - (i * 8 + ((w ^ pattern).trailing_zeros() / 8) as usize))
        })
        .unwrap_or(0)
}

/// Lines of a stack, as [`scan`] samples them.
const LINES: usize = STACK_SIZE / LINE;
/// Lines [`first_written_line`] tests per step.
const GROUP: usize = 8;
const _: () = assert!(LINES.is_multiple_of(GROUP));

/// The lowest line `l` of the stack at `words` whose sample (its first word) is not `pattern`,
/// testing [`GROUP`] lines per step with one branch: a light thread's scan crosses almost all of
/// its stack, and a compare-and-branch per line was almost half of `bench create`. The samples
/// are compared with a chain of conditional compares (a load and a compare each), and the loop
/// carries one index: placing the line in its group is out of line ([`place`]).
///
/// # Safety
/// `words` must point to [`STACK_SIZE`] bytes of mapped memory (a slot's usable stack).
unsafe fn first_written_line(words: *const u64, pattern: u64) -> Option<usize> {
    const _: () = assert!(GROUP == 8 && LINE == 64);
    let mut g = 0;
    while g < LINES {
        // SAFETY: `g + GROUP` <= LINES (both multiples of GROUP), so the GROUP words read, one
        // per line from line `g` on, are inside the `STACK_SIZE` bytes at `words` (the caller's
        // promise); plain loads of mapped normal memory the owning thread may be writing, which
        // only ever yield values it held.
        let all = unsafe { crate::arch::eight_equal_64_apart(words.add(g * (LINE / 8)), pattern) };
        if !all {
            // SAFETY: the caller's promise, passed on; `g + GROUP` <= LINES.
            if let Some(l) = unsafe { place(words, pattern, g) } {
                return Some(l);
            }
        }
        g += GROUP;
    }
    None
}

/// The first line of group `g` whose sample is not `pattern`: the group is read again (keeping
/// the samples costs stores on every step). `None` if the owner wrote the fill value back
/// meanwhile (the scan goes on above).
///
/// # Safety
/// As [`first_written_line`]'s, and `g + GROUP` <= [`LINES`].
#[cold]
#[inline(never)]
unsafe fn place(words: *const u64, pattern: u64, g: usize) -> Option<usize> {
    // SAFETY: `l` < g + GROUP <= LINES: inside the stack (the caller's promise).
    (g..g + GROUP)
        .find(|&l| unsafe { core::ptr::read_volatile(words.add(l * (LINE / 8))) } != pattern)
}
