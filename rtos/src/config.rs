//! The kernel's limits, in one place: everything sized at compile time (per-CPU tables, the
//! thread table, the irq_work pool, the stack arena of a port) reads its size from here, so two
//! layers cannot disagree about one limit.

/// The largest number of CPUs the kernel supports (GICv2 can target at most 8).
pub const MAX_CPUS: usize = 8;

/// Most kthreads alive (not yet collected) at once.
pub const MAX_THREADS: usize = 256;

/// Thread stacks a port must be able to hand out: one per kthread (a stack is freed when its
/// thread exits, before the thread is collected). CPUs' idle threads run on their boot stacks.
pub const STACK_SLOTS: usize = MAX_THREADS;

/// Usable bytes of every thread stack (a port may put a guard page below it).
pub const STACK_SIZE: usize = 16 * 1024;

/// Longest thread name accepted, in bytes.
pub const MAX_NAME: usize = 63;

/// Number of priority levels; higher numbers are more urgent.
pub const PRIORITIES: usize = 32;

/// The priority of the threads that must always get a CPU whatever else runs: `kthreadd`, the
/// shell, `klogd`. The shell's `spawn` and `prio` give at most [`MAX_USER_PRIORITY`], so nothing a
/// user starts can starve them.
pub const SYSTEM_PRIORITY: u8 = (PRIORITIES - 1) as u8;

/// The highest priority the shell gives a thread (one below [`SYSTEM_PRIORITY`]).
pub const MAX_USER_PRIORITY: u8 = SYSTEM_PRIORITY - 1;

/// Priority of new threads unless asked otherwise.
pub const DEFAULT_PRIORITY: u8 = 10;

/// Length of a round-robin time slice, in nanoseconds.
pub const SLICE_NS: u64 = 10_000_000;

/// How many irq_works can exist at once: enough for the shell's `stress irqwork 10000` to use
/// 10,000 distinct works. About 64 bytes of zero-initialised tables per slot (1 MiB of `.bss`,
/// nothing in the image); a slot's name and callback live on the heap while it is in use.
pub const IRQ_WORK_SLOTS: usize = 16384;

/// How many irq_work passes in a row a CPU runs at once when each ends with works its callbacks
/// queued on it again (a chain, as a work re-queueing itself makes). Past it, the CPU runs such
/// works at most once per [`IRQ_WORK_STORM_DELAY_US`], from its timer interrupt, so a work that
/// re-queues itself forever cannot keep the CPU in interrupt context and starve its threads.
pub const IRQ_WORK_CHAIN: u32 = 32;

/// Past [`IRQ_WORK_CHAIN`], how long a CPU runs threads before its next irq_work pass, in
/// microseconds.
pub const IRQ_WORK_STORM_DELAY_US: u64 = 1000;

const _: () = assert!(MAX_CPUS <= 8, "GICv2 SGIs target at most 8 CPUs");
const _: () = assert!(PRIORITIES <= 32, "the run queue's ready bitmap is a u32");
const _: () = assert!((DEFAULT_PRIORITY as usize) < PRIORITIES);
const _: () = assert!(
    IRQ_WORK_SLOTS < u32::MAX as usize,
    "irq_work links are u32 indices"
);
