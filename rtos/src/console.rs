//! Kernel console output for threads (e.g. a `ticker` kthread's lines). The bsp installs the
//! sink at boot; before that, and on the host without a sink, output is dropped.

use crate::once::OnceRef;

/// Where console text goes. Implementations serialise whole calls (one call = one line).
pub trait Sink: Sync {
    /// Writes `s` (already containing its `\r\n`).
    fn write_str(&self, s: &str);
}

static SINK: OnceRef<dyn Sink> = OnceRef::new();

/// Installs the console sink (first call wins).
pub fn install(sink: &'static dyn Sink) -> bool {
    SINK.set(sink)
}

/// Writes one line (adds `\r\n`) to the console, if a sink is installed.
pub fn line(args: core::fmt::Arguments<'_>) {
    if let Some(sink) = SINK.get() {
        let mut s = alloc::string::String::new();
        let _ = core::fmt::write(&mut s, args);
        s.push_str("\r\n");
        sink.write_str(&s);
    }
}

/// `println!` for kernel threads: `rtos::kprintln!("{name}: tick {n}")`.
#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => { $crate::console::line(format_args!($($arg)*)) };
}
