//! [`Shell::run_dyn`]: the shell over trait objects, for the kernel.
//!
//! [`Shell::run`] is generic over the IO and the [`System`], so every crate that calls it
//! compiles its own copy of the whole shell loop (line reader, terminal wrapper, noline editor),
//! with that crate's optimization settings. `run_dyn` is not generic: it runs `run` once, here,
//! over a [`Console`] and a `dyn System`, so the kernel gets the copy built with the shell's
//! (size-optimized) settings. The cost is one indirect call per IO operation, on a serial line.

use core::time::Duration;
use embedded_io::{Error as _, ErrorKind, ErrorType, Read, ReadReady, Write};

use crate::session::Shell;
use crate::system::{CpuInfo, CrashKind, Exit, MemInfo, ReloadTarget, System, UartInfo};
use alloc::string::String;

/// The byte stream a shell runs on, as a trait object. Every `Read + Write + ReadReady` is one;
/// errors are reduced to their [`ErrorKind`] (the shell only tells "failed" from "worked").
pub trait Console {
    /// [`Read::read`].
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind>;
    /// [`Write::write`].
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind>;
    /// [`Write::flush`].
    fn flush(&mut self) -> Result<(), ErrorKind>;
    /// [`ReadReady::read_ready`].
    fn read_ready(&mut self) -> Result<bool, ErrorKind>;
}

impl<T: Read + Write + ReadReady> Console for T {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        Read::read(self, buf).map_err(|e| e.kind())
    }

    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        Write::write(self, buf).map_err(|e| e.kind())
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Write::flush(self).map_err(|e| e.kind())
    }

    fn read_ready(&mut self) -> Result<bool, ErrorKind> {
        ReadReady::read_ready(self).map_err(|e| e.kind())
    }
}

/// A `dyn Console` as the `Read + Write + ReadReady` that [`Shell::run`] takes.
struct DynIo<'a>(&'a mut dyn Console);

impl ErrorType for DynIo<'_> {
    type Error = ErrorKind;
}

impl Read for DynIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.0.read(buf)
    }
}

impl Write for DynIo<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        self.0.flush()
    }
}

impl ReadReady for DynIo<'_> {
    fn read_ready(&mut self) -> Result<bool, ErrorKind> {
        self.0.read_ready()
    }
}

/// A `dyn System` as the sized `System` that [`Shell::run`] takes.
struct DynSys<'a>(&'a mut dyn System);

impl System for DynSys<'_> {
    fn uptime(&self) -> Duration {
        self.0.uptime()
    }

    fn sleep(&mut self, d: Duration) {
        self.0.sleep(d);
    }

    fn idle(&mut self) {
        self.0.idle();
    }

    fn cpus(&self, f: &mut dyn FnMut(&CpuInfo)) {
        self.0.cpus(f);
    }

    fn crash(&mut self, kind: CrashKind) {
        self.0.crash(kind);
    }

    fn uart(&self) -> Option<UartInfo> {
        self.0.uart()
    }

    fn memory(&self) -> Option<MemInfo> {
        self.0.memory()
    }

    fn console_up(&mut self) {
        self.0.console_up();
    }

    fn reload_target(&self) -> Option<ReloadTarget> {
        self.0.reload_target()
    }

    fn reload(&mut self, image: &[u8]) -> String {
        self.0.reload(image)
    }
}

impl Shell {
    /// [`Shell::run`] over trait objects: the same shell, compiled once in this crate.
    pub fn run_dyn(&mut self, io: &mut dyn Console, sys: &mut dyn System) -> Exit {
        self.run(&mut DynIo(io), &mut DynSys(sys))
    }
}
