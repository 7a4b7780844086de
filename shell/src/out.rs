//! Output plumbing: an error-swallowing byte sink over the real IO, and a `fmt::Write` adapter
//! that turns `\n` into `\r\n` for serial terminals.

use core::fmt;

use embedded_io::Write;

use crate::system::MAX_LINE;

/// `write_all` that treats `Ok(0)` as an error instead of panicking like embedded-io's does.
pub(crate) fn write_all<W: Write + ?Sized>(w: &mut W, mut buf: &[u8]) -> Result<(), ()> {
    while !buf.is_empty() {
        match w.write(buf) {
            Ok(n) if n > 0 => buf = buf.get(n..).unwrap_or(&[]),
            _ => return Err(()),
        }
    }
    Ok(())
}

/// Where command output goes. Write errors are remembered, not returned: a command cannot do
/// anything useful about a broken UART, and the shell loop checks [`Sink::failed`] afterwards.
pub(crate) trait Sink {
    /// Writes raw bytes (no line-ending translation).
    fn put(&mut self, bytes: &[u8]);
    /// Flushes buffered output.
    fn flush(&mut self);
    /// Whether any write or flush failed.
    fn failed(&self) -> bool;
    /// An input byte typed while the command runs, if one is there now: never blocks. Bytes
    /// read here are the command's (the next line does not see them).
    fn key(&mut self) -> Option<Key>;
    /// Whether a Ctrl-C is in the input received so far (read ahead, or ready): if so, the
    /// input up to and including it is taken (the command was interrupted; what was typed
    /// before the Ctrl-C is dropped, as a terminal does), else nothing is. Never blocks.
    fn take_interrupt(&mut self) -> bool;
    /// The terminal's rows, in terminal mode.
    fn rows(&self) -> Option<u16>;
}

/// What a running command's look at the input found ([`Sink::key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    /// A byte.
    Byte(u8),
    /// The input ended or failed: no key will ever come.
    Closed,
}

/// The IO under an [`IoSink`]: the session's output, and its input as keys for a running
/// command (the line reader's read-ahead first, then bytes the IO has ready).
pub(crate) trait Console: Write {
    /// The next input byte if one is there now; never blocks.
    fn poll_key(&mut self) -> Option<Key>;
    /// See [`Sink::take_interrupt`].
    fn take_interrupt(&mut self) -> bool;
    /// The terminal's rows, in terminal mode.
    fn rows(&self) -> Option<u16>;
}

/// [`Sink`] over a [`Console`].
pub(crate) struct IoSink<'a, W: Console> {
    w: &'a mut W,
    failed: bool,
}

impl<'a, W: Console> IoSink<'a, W> {
    pub(crate) fn new(w: &'a mut W) -> Self {
        Self { w, failed: false }
    }
}

impl<W: Console> Sink for IoSink<'_, W> {
    fn put(&mut self, bytes: &[u8]) {
        if !self.failed && write_all(self.w, bytes).is_err() {
            self.failed = true;
        }
    }

    fn flush(&mut self) {
        if !self.failed && self.w.flush().is_err() {
            self.failed = true;
        }
    }

    fn failed(&self) -> bool {
        self.failed
    }

    fn key(&mut self) -> Option<Key> {
        if self.failed {
            Some(Key::Closed)
        } else {
            self.w.poll_key()
        }
    }

    fn take_interrupt(&mut self) -> bool {
        !self.failed && self.w.take_interrupt()
    }

    fn rows(&self) -> Option<u16> {
        self.w.rows()
    }
}

/// Ctrl-C: interrupts the running command ([`Sink::take_interrupt`]).
pub(crate) const CTRL_C: u8 = 0x03;

/// `fmt::Write` over a [`Sink`] that writes every `\n` as `\r\n`.
pub(crate) struct Out<'a> {
    pub(crate) sink: &'a mut dyn Sink,
}

impl fmt::Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut parts = s.split('\n');
        if let Some(first) = parts.next() {
            self.sink.put(first.as_bytes());
        }
        for part in parts {
            self.sink.put(b"\r\n");
            self.sink.put(part.as_bytes());
        }
        Ok(())
    }
}

/// Prints the one-line error for an over-long input line.
pub(crate) fn line_too_long(sink: &mut dyn Sink) {
    let mut out = Out { sink };
    let _ = fmt::Write::write_fmt(
        &mut out,
        format_args!("error: line too long (max {MAX_LINE} bytes)\n"),
    );
}
