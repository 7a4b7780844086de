//! The serial console: formatted kernel output (banner, reports) and the byte stream the shell
//! reads and writes, as `embedded_io` 0.6 `Read + Write + ReadReady` (what `noline` uses).

use crate::{arch, kernel};
use core::convert::Infallible;

/// Serialises whole writes from different CPUs so lines do not interleave mid-way.
///
/// Deliberately *not* an IRQ-masking lock: transmission is polled, and masking interrupts for a
/// whole line (about 7 ms for 80 bytes at 115200 baud on hardware) would let the receive FIFO
/// overrun during a paste. The price: interrupt handlers must not print (the panic path bypasses
/// the lock).
pub(crate) static LOCK: spin::mutex::TicketMutex<()> = spin::mutex::TicketMutex::new(());

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
    /// Blocks (in WFI) until at least one byte has arrived, then returns what is buffered.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        let uart = &kernel().uart;
        arch::wait_until(|| uart.has_input());
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
