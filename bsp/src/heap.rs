//! The kernel heap: a TLSF allocator (`rlsf`) behind an IRQ-safe spinlock, so an allocation can
//! never deadlock against an interrupt handler on the same CPU.
//!
//! TLSF (two-level segregated fit, as in Zephyr's and many RTOSes' heaps) finds a free block
//! through two bitmaps and frees by merging with its neighbours: allocation and free take a
//! bounded number of steps however many blocks are free or how fragmented the heap is. A
//! first-fit list walks its free blocks, so its cost (and a thread creation's, or a benchmark
//! row's) depended on everything allocated before.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};
use rlsf::Tlsf;
use rtos::sync::IrqSpinLock;

/// First level: size classes up to `GRANULARITY << 28` (8 GiB); second level: 32 per class.
type Pool = Tlsf<'static, u32, u32, 28, 32>;

struct KernelHeap {
    pool: IrqSpinLock<Pool>,
    /// Bytes given to the pool.
    size: AtomicUsize,
    /// Bytes handed out and not yet freed (as requested, without block headers).
    used: AtomicUsize,
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap {
    pool: IrqSpinLock::new(Tlsf::new()),
    size: AtomicUsize::new(0),
    used: AtomicUsize::new(0),
};

// SAFETY: `Tlsf` hands out non-overlapping blocks of the requested layout from memory it owns;
// the lock serialises every access.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.pool.lock().allocate(layout) {
            Some(p) => {
                self.used.fetch_add(layout.size(), Ordering::Relaxed);
                p.as_ptr()
            }
            None => core::ptr::null_mut(),
        }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            // SAFETY: `GlobalAlloc::dealloc`'s contract: `ptr` came from `alloc` (so from this
            // pool) with `layout`, whose alignment is what `deallocate` wants.
            unsafe { self.pool.lock().deallocate(p, layout.align()) };
            self.used.fetch_sub(layout.size(), Ordering::Relaxed);
        }
    }
}

/// Gives the heap the memory `[start, start + size)`.
///
/// # Safety
/// Call once. The range must be mapped normal RAM used by nothing else, for the kernel's lifetime.
pub(crate) unsafe fn init(start: usize, size: usize) {
    let Some(block) = NonNull::new(core::ptr::slice_from_raw_parts_mut(start as *mut u8, size))
    else {
        return;
    };
    // SAFETY: forwarded from the caller: the block is ours for good (it outlives the pool).
    let added = unsafe { HEAP.pool.lock().insert_free_block_ptr(block) };
    HEAP.size
        .store(added.map_or(0, |n| n.get()), Ordering::Relaxed);
}

/// `(used, free)` bytes: handed out (as requested), and the rest of the pool (block headers
/// and rounding count as free, so `free` is an upper bound).
pub(crate) fn usage() -> (usize, usize) {
    let used = HEAP.used.load(Ordering::Relaxed);
    let size = HEAP.size.load(Ordering::Relaxed);
    (used, size.saturating_sub(used))
}
