//! The kernel heap: `linked_list_allocator` behind an IRQ-safe spinlock, so an allocation can
//! never deadlock against an interrupt handler on the same CPU.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use linked_list_allocator::Heap;
use rtos::sync::IrqSpinLock;

struct KernelHeap(IrqSpinLock<Heap>);

#[global_allocator]
static HEAP: KernelHeap = KernelHeap(IrqSpinLock::new(Heap::empty()));

// SAFETY: `Heap` hands out non-overlapping blocks of the requested layout from memory it owns;
// the lock serialises every access.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.0
            .lock()
            .allocate_first_fit(layout)
            .map_or(core::ptr::null_mut(), |p| p.as_ptr())
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            // SAFETY: `GlobalAlloc::dealloc`'s contract: `ptr` came from `alloc` with `layout`.
            unsafe { self.0.lock().deallocate(p, layout) };
        }
    }
}

/// Gives the heap the memory `[start, start + size)`.
///
/// # Safety
/// Call once. The range must be mapped normal RAM used by nothing else, for the kernel's lifetime.
pub(crate) unsafe fn init(start: usize, size: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { HEAP.0.lock().init(start as *mut u8, size) };
}

/// `(used, free)` bytes.
pub(crate) fn usage() -> (usize, usize) {
    let h = HEAP.0.lock();
    (h.used(), h.free())
}
