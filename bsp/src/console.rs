//! The serial console: formatted kernel output (banner, reports), the byte stream the shell
//! reads and writes, as `embedded_io` 0.6 `Read + Write + ReadReady` (what `noline` uses), and the
//! [`rtos::console::Sink`] through which threads on any CPU print.
//!
//! Reading blocks the calling thread on [`RX_WAIT`], which the UART receive interrupt wakes.

use crate::kernel;
use core::convert::Infallible;
use core::sync::atomic::{AtomicBool, Ordering};
use rtos::sched::WaitQueue;

/// Serialises whole writes from different threads and CPUs so lines do not interleave mid-way.
///
/// Deliberately *not* an IRQ-masking lock: transmission is polled, and masking interrupts for a
/// whole line (about 7 ms for 80 bytes at 115200 baud on hardware) would let the receive FIFO
/// overrun during a paste. The price: interrupt handlers must not print (the panic path bypasses
/// the lock). Since threads are preemptible, a spinning lock could be held by a preempted thread
/// while a more urgent one spins for it on the same CPU forever, so contended threads sleep
/// instead (see [`ConsoleLock`]).
pub(crate) static LOCK: ConsoleLock = ConsoleLock::new();

/// Threads waiting for received bytes; woken by the UART interrupt.
pub(crate) static RX_WAIT: WaitQueue = WaitQueue::new();

/// A sleeping lock: a flag plus a wait queue. A thread that finds it taken waits on the queue;
/// code that cannot sleep (boot code and idle threads, or IRQs masked) spins instead.
pub(crate) struct ConsoleLock {
    locked: AtomicBool,
    waiters: WaitQueue,
}

/// Holds the [`ConsoleLock`]; releases it (and wakes one waiter) when dropped.
pub(crate) struct ConsoleGuard<'a>(&'a ConsoleLock);

impl ConsoleLock {
    const fn new() -> Self {
        Self {
            locked: AtomicBool::new(false),
            waiters: WaitQueue::new(),
        }
    }

    fn try_acquire(&self) -> bool {
        self.locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Takes the lock, sleeping (or spinning where sleeping is impossible) while it is held.
    pub(crate) fn lock(&self) -> ConsoleGuard<'_> {
        if !self.try_acquire() {
            // Idle threads have tid 0; they (and boot code, before the scheduler) never sleep.
            let can_sleep =
                !crate::arch::irqs_masked() && rtos::sched::current().is_some_and(|t| t.tid() != 0);
            if can_sleep {
                let _ = self.waiters.wait_event(|| self.try_acquire(), None);
            } else {
                while !self.try_acquire() {
                    core::hint::spin_loop();
                }
            }
        }
        ConsoleGuard(self)
    }

    /// Whether someone holds the lock (a snapshot, for the panic path).
    pub(crate) fn is_locked(&self) -> bool {
        self.locked.load(Ordering::Relaxed)
    }
}

impl Drop for ConsoleGuard<'_> {
    fn drop(&mut self) {
        self.0.locked.store(false, Ordering::Release);
        // A waiter that queued itself before the store above is found here (it checks and queues
        // under the queue's lock, which `wake_one` takes); a later one sees the lock free.
        self.0.waiters.wake_one();
    }
}

/// The console sink for `rtos::kprintln!`: one call is one line, written under [`LOCK`].
pub(crate) struct ConsoleSink;

/// The single instance, installed at boot.
pub(crate) static SINK: ConsoleSink = ConsoleSink;

impl rtos::console::Sink for ConsoleSink {
    fn write_str(&self, s: &str) {
        let _guard = LOCK.lock();
        let uart = &kernel().uart;
        for b in s.bytes() {
            uart.put(b);
        }
    }
}

/// Writes bytes to the UART, turning `\n` into `\r\n` (for `kprintln!`).
pub(crate) struct KernelWriter;

impl core::fmt::Write for KernelWriter {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let uart = &kernel().uart;
        for b in s.bytes() {
            if b == b'\n' {
                uart.put(b'\r');
            }
            uart.put(b);
        }
        Ok(())
    }
}

/// Kernel `println!` to the serial console (holds the console lock for the whole line).
macro_rules! kprintln {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _guard = $crate::console::LOCK.lock();
        let _ = writeln!($crate::console::KernelWriter, $($arg)*);
    }};
}
pub(crate) use kprintln;

/// The shell's end of the serial line.
pub(crate) struct SerialIo;

impl embedded_io::ErrorType for SerialIo {
    type Error = Infallible;
}

impl embedded_io::Read for SerialIo {
    /// Blocks the calling thread (on [`RX_WAIT`]) until at least one byte has arrived, then
    /// returns what is buffered.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        let uart = &kernel().uart;
        let _ = RX_WAIT.wait_event(|| uart.has_input(), None);
        let mut n = 0;
        while n < buf.len() {
            match uart.try_get() {
                Some(b) => {
                    buf[n] = b;
                    n += 1;
                }
                None => break,
            }
        }
        Ok(n)
    }
}

impl embedded_io::ReadReady for SerialIo {
    fn read_ready(&mut self) -> Result<bool, Infallible> {
        Ok(kernel().uart.has_input())
    }
}

impl embedded_io::Write for SerialIo {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        let _guard = LOCK.lock();
        let uart = &kernel().uart;
        for &b in buf {
            uart.put(b);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Infallible> {
        kernel().uart.flush();
        Ok(())
    }
}
