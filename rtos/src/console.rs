//! Kernel console output for threads (e.g. a `ticker` kthread's lines). The bsp installs the
//! sink at boot; before that, and on the host without a sink, output is dropped.
//!
//! Every line also goes into the kernel log, a ring of the last [`LOG_BYTES`] bytes of lines
//! (at most [`LOG_LINES`] lines) with their time and a sequence number (`dmesg` prints it;
//! `expect --timeout` watches it). Older lines fall out first and are counted.

use alloc::collections::VecDeque;
use alloc::string::String;

use crate::once::OnceRef;
use crate::sync::IrqSpinLock;

/// Bytes of line text the kernel log keeps.
pub const LOG_BYTES: usize = 8192;
/// Lines the kernel log keeps at most, however short (empty lines cost no text bytes: without
/// this bound a flood of them grew the ring without limit).
pub const LOG_LINES: usize = 512;

/// One line of the kernel log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Its place in the order of all lines ever logged (from 0).
    pub seq: u64,
    /// When it was logged, in nanoseconds since boot (0 before the clock runs).
    pub ns: u64,
    /// The text, without its line end.
    pub text: String,
}

struct Log {
    lines: VecDeque<LogLine>,
    bytes: usize,
    next: u64,
    /// Lines that fell out of the ring since the last [`log_clear`].
    dropped: u64,
}

static LOG: IrqSpinLock<Log> = IrqSpinLock::new(Log {
    lines: VecDeque::new(),
    bytes: 0,
    next: 0,
    dropped: 0,
});

/// Adds a line to the kernel log (a longer one is cut to [`LOG_BYTES`] / 4 bytes).
pub fn record(text: &str) {
    let mut end = text.len().min(LOG_BYTES / 4);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let ns = crate::port::try_port().map_or(0, |p| {
        crate::time::Instant::from_ticks(p.now())
            .saturating_duration_since(crate::time::Instant::from_ticks(0))
            .as_nanos() as u64
    });
    let text = String::from(&text[..end]);
    let mut evicted = VecDeque::new();
    {
        let mut log = LOG.lock();
        while log.bytes + text.len() > LOG_BYTES || log.lines.len() >= LOG_LINES {
            let Some(old) = log.lines.pop_front() else {
                break;
            };
            log.bytes -= old.text.len();
            log.dropped += 1;
            evicted.push_back(old);
        }
        log.bytes += text.len();
        let seq = log.next;
        log.next += 1;
        log.lines.push_back(LogLine { seq, ns, text });
    }
    drop(evicted); // freed outside the lock
}

/// Calls `f` for each line in the log from sequence number `from` on, oldest first; returns the
/// next sequence number (where a later call can go on) and how many lines fell out unseen.
pub fn log_since(from: u64, mut f: impl FnMut(&LogLine)) -> (u64, u64) {
    let lines: alloc::vec::Vec<LogLine> = {
        let log = LOG.lock();
        log.lines
            .iter()
            .filter(|l| l.seq >= from)
            .cloned()
            .collect()
    };
    let (next, dropped) = {
        let log = LOG.lock();
        (log.next, log.dropped)
    };
    for l in &lines {
        f(l);
    }
    (next, dropped)
}

/// The sequence number the next line will get.
pub fn log_next() -> u64 {
    LOG.lock().next
}

/// Empties the log (`dmesg -c`); sequence numbers go on.
pub fn log_clear() {
    let old = {
        let mut log = LOG.lock();
        log.bytes = 0;
        log.dropped = 0;
        core::mem::take(&mut log.lines)
    };
    drop(old);
}

/// Where console text goes. Implementations serialise whole calls (one call = one line).
pub trait Sink: Sync {
    /// Writes `s` (already containing its `\r\n`).
    fn write_str(&self, s: &str);
}

static SINK: OnceRef<dyn Sink> = OnceRef::new();

/// Something that owns the terminal's last line (a line editor) and wraps a console line so it
/// does not tear what is being typed: it writes into `out` the whole text to send (e.g. erase
/// the edited line, the console line, the edited line again) and returns true, or returns false
/// to let the line go out as it is.
pub trait Around: Sync {
    /// Wraps `line` (no line end) into `out`.
    fn around(&self, line: &str, out: &mut String) -> bool;
}

static AROUND: OnceRef<dyn Around> = OnceRef::new();

/// Installs the line editor's [`Around`] (first call wins).
pub fn set_around(a: &'static dyn Around) -> bool {
    AROUND.set(a)
}

/// Installs the console sink (first call wins).
pub fn install(sink: &'static dyn Sink) -> bool {
    SINK.set(sink)
}

/// Writes one line (adds `\r\n`) to the console, if a sink is installed.
pub fn line(args: core::fmt::Arguments<'_>) {
    let mut s = String::new();
    let _ = core::fmt::write(&mut s, args);
    record(&s);
    if let Some(sink) = SINK.get() {
        let mut wrapped = String::new();
        if AROUND.get().is_some_and(|a| a.around(&s, &mut wrapped)) {
            sink.write_str(&wrapped);
            return;
        }
        s.push_str("\r\n");
        sink.write_str(&s);
    }
}

/// `println!` for kernel threads: `rtos::kprintln!("{name}: tick {n}")`.
#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => { $crate::console::line(format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The log is global: the tests in this module run one at a time.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// The log is bounded in lines as in bytes: 10,000 empty lines keep at most [`LOG_LINES`],
    /// the rest counted as dropped, the newest kept. (Without the line bound they all stayed.)
    #[test]
    fn empty_lines_cannot_grow_the_log_without_bound() {
        let _g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        log_clear();
        let first = log_next();
        for _ in 0..10_000 {
            record("");
        }
        record("last");
        let (kept, next, dropped) = all_from(first);
        assert_eq!(next - first, 10_001);
        assert_eq!(kept.len(), LOG_LINES);
        assert_eq!(dropped as usize, 10_001 - LOG_LINES);
        assert_eq!(kept.last().map(|l| l.text.as_str()), Some("last"));
        log_clear();
    }

    fn all_from(seq: u64) -> (alloc::vec::Vec<LogLine>, u64, u64) {
        let mut v = alloc::vec::Vec::new();
        let (next, dropped) = log_since(seq, |l| v.push(l.clone()));
        (v, next, dropped)
    }

    #[test]
    fn lines_keep_their_order_and_the_oldest_fall_out_counted() {
        let _g = SERIAL.lock().unwrap();
        log_clear();
        let start = log_next();
        line(format_args!("first {}", 1));
        record("second");
        let (v, next, dropped) = all_from(start);
        assert_eq!(
            v.iter()
                .map(|l| l.text.as_str())
                .collect::<alloc::vec::Vec<_>>(),
            ["first 1", "second"]
        );
        assert_eq!(
            (v[0].seq, v[1].seq, next, dropped),
            (start, start + 1, start + 2, 0)
        );
        // 100-byte lines: the ring keeps what fits in LOG_BYTES, drops (and counts) the rest.
        let long = "x".repeat(100);
        for _ in 0..200 {
            record(&long);
        }
        let (v, next, dropped) = all_from(0);
        assert_eq!(v.len(), LOG_BYTES / 100);
        assert_eq!(next, start + 202);
        assert_eq!(dropped, 202 - (LOG_BYTES / 100) as u64);
        assert_eq!(v.last().unwrap().seq, start + 201);
        // A huge line is cut at a character boundary, not dropped whole.
        record(&"é".repeat(LOG_BYTES));
        let (v, ..) = all_from(next);
        assert!(v[0].text.len() <= LOG_BYTES / 4 && v[0].text.starts_with('é'));
        log_clear();
        assert!(all_from(0).0.is_empty());
        assert_eq!(all_from(0).2, 0, "clear resets the drop count");
    }
}
