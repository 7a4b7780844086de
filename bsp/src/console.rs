//! The serial console: formatted kernel output (banner, reports), the byte stream the application
//! (the shell) reads and writes, [`SerialIo`], as `embedded_io` 0.6 `Read + Write + ReadReady`
//! (what `noline` uses), and the [`rtos::console::Sink`] through which threads on any CPU print.
//!
//! Reading blocks the calling thread on a wait queue, which the UART receive interrupt wakes.

use crate::drivers::pl011;
use crate::kernel::kernel;
use core::convert::Infallible;
use rtos::time::{Duration, Instant};
use rtos::wait::WaitQueue;

/// Serialises whole writes from different threads and CPUs so lines do not interleave mid-way.
///
/// Deliberately *not* an IRQ-masking lock: transmission is polled, and masking interrupts for a
/// whole line (about 7 ms for 80 bytes at 115200 baud on hardware) would let the receive FIFO
/// overrun during a paste. The price: interrupt handlers must not print (the panic path bypasses
/// the lock). Since threads are preemptible, a spinning lock could be held by a preempted thread
/// while a more urgent one spins for it on the same CPU forever, so it is the kernel's sleeping
/// mutex: contended threads sleep (boot code, idle threads and masked-IRQ code spin).
pub(crate) static LOCK: rtos::wait::Mutex<()> = rtos::wait::Mutex::new(());

/// Threads waiting for received bytes; woken by the UART interrupt.
pub(crate) static RX_WAIT: WaitQueue = WaitQueue::new();

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

/// The application's end of the serial line (the console UART, 115200 8N1).
///
/// Every value is the same line: reads take what the receive interrupt has buffered, and each
/// write goes out whole under the console lock, so it does not interleave with `kprintln!` lines
/// from other threads. Only threads may use it (not interrupt handlers).
pub struct SerialIo;

impl embedded_io::ErrorType for SerialIo {
    type Error = Infallible;
}

/// Blocks the calling thread until the console UART has input, or, with `timeout`, until that
/// much time has passed, whichever comes first (the receive interrupt wakes it). Returns at
/// once if input is already buffered. One out-of-line copy for [`SerialIo`]'s reads and the
/// application's idle wait.
#[inline(never)]
pub fn wait_input(timeout: Option<Duration>) {
    let deadline = timeout.map(Instant::after);
    let uart = &kernel().uart;
    let _ = rtos::wait::wait_event_dyn(&RX_WAIT, &mut || uart.has_input(), deadline);
}

/// Blocks the calling thread for `d`, or until a Ctrl-C byte arrives on the console UART,
/// whichever comes first (the shell's `sleep`: Ctrl-C ends it).
pub fn sleep_unless_ctrl_c(d: Duration) {
    let uart = &kernel().uart;
    let seen = uart.ctrl_c_count();
    let _ = rtos::wait::wait_event_dyn(
        &RX_WAIT,
        &mut || uart.ctrl_c_count() != seen,
        Some(Instant::after(d)),
    );
}

/// Receive statistics of the console UART, from [`uart_stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UartStats {
    /// Driver name (`pl011`).
    pub driver: &'static str,
    /// Line speed in baud (8N1).
    pub baud: u32,
    /// Received bytes the hardware reported lost (overrun) or damaged (framing, parity, break).
    pub rx_errors: u32,
    /// Bytes waiting in the receive buffer now.
    pub rx_buffered: usize,
    /// Receive buffer size in bytes.
    pub rx_capacity: usize,
}

/// The console UART's receive statistics, now.
pub fn uart_stats() -> UartStats {
    let uart = &kernel().uart;
    UartStats {
        driver: "pl011",
        baud: 115_200,
        rx_errors: uart.rx_errors(),
        rx_buffered: uart.rx_buffered(),
        rx_capacity: pl011::RX_BUFFER,
    }
}

impl embedded_io::Read for SerialIo {
    /// Blocks the calling thread (see [`wait_input`]) until at least one byte has arrived, then
    /// returns what is buffered.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        wait_input(None);
        let uart = &kernel().uart;
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
