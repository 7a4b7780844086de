//! `trace dump`'s text encoding of a trace, for the host to read back from a serial transcript.
//!
//! A dump is a block of lines, each starting with `=` and ending with ` ~` and the CRC-32
//! (ISO-HDLC, as zlib's) of what precedes it, in eight hex digits:
//!
//! ```text
//! =TRACE v1 hz=<counter Hz> size=<ring size> cpus=<n> ~crc
//! =NAME <id> <name> ~crc          one per interned name (see super::intern)
//! =THREAD <tid> <name> ~crc       one per thread alive when dumped
//! =CPU <cpu> <events> <lost> ~crc one per CPU, before its events
//! =EV <cpu> <base64> ~crc         up to EVENTS_PER_LINE events of 32 bytes, little-endian words
//! =END <lines> <events> ~crc      lines: how many lines the block has, this one included
//! ```
//!
//! Names are escaped: a byte that is not printable ASCII, a space or a backslash is written
//! `\xHH`. Nothing in a dump line can be read as the shell's prompt (`rtos> `): every line starts
//! with `=`, and base64 has no `>` or space.
//!
//! [`parse`] finds the block among any other lines (a transcript's), checks every line's CRC and
//! every count, and gives the [`Dump`] back, or an error that names the line.

use super::{CpuTrace, Event, WORDS};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use core::fmt;

/// Events per `=EV` line: 8 × 32 bytes is 344 base64 characters.
pub const EVENTS_PER_LINE: usize = 8;

const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// A whole trace as dumped: its events and what names them.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Dump {
    /// Counter ticks per second (the events' `ticks`).
    pub hz: u64,
    /// Events per CPU ring.
    pub size: usize,
    /// Interned names by id (see [`super::intern`]): what a kthread's, a work's or an
    /// irq_work's id in an event stands for.
    pub names: Vec<(u16, String)>,
    /// The threads alive when dumped, by tid.
    pub threads: Vec<(u32, String)>,
    /// Each CPU's events, oldest first, and how many it lost.
    pub cpus: Vec<CpuTrace>,
}

/// Why a dump could not be read.
#[derive(Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The line (1-based, in the text given to [`parse`]) where it went wrong; 0: at the end.
    pub line: usize,
    /// What was wrong.
    pub what: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "trace dump: {}", self.what)
        } else {
            write!(f, "trace dump, line {}: {}", self.line, self.what)
        }
    }
}

fn escape(name: &str) -> String {
    let mut s = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_graphic() && b != b'\\' {
            s.push(b as char);
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    s
}

fn unescape(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let hex = s.get(i + 2..i + 4)?;
            if b.get(i + 1) != Some(&b'x') {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Writes `dump`, a line at a time (each without its newline), to `line`.
pub fn write(dump: &Dump, mut line: impl FnMut(&str)) {
    // Streamed a line at a time (a dump can be larger than the heap has room for twice).
    let mut emit = |body: String| {
        let crc = CRC.checksum(body.as_bytes());
        line(&format!("{body} ~{crc:08x}"));
    };
    let lines = 2
        + dump.names.len()
        + dump.threads.len()
        + dump
            .cpus
            .iter()
            .map(|t| 1 + t.events.len().div_ceil(EVENTS_PER_LINE))
            .sum::<usize>();
    emit(format!(
        "=TRACE v1 hz={} size={} cpus={}",
        dump.hz,
        dump.size,
        dump.cpus.len()
    ));
    for (id, name) in &dump.names {
        emit(format!("=NAME {id} {}", escape(name)));
    }
    for (tid, name) in &dump.threads {
        emit(format!("=THREAD {tid} {}", escape(name)));
    }
    let mut total = 0;
    for (cpu, t) in dump.cpus.iter().enumerate() {
        emit(format!("=CPU {cpu} {} {}", t.events.len(), t.lost));
        for chunk in t.events.chunks(EVENTS_PER_LINE) {
            let mut bytes = Vec::with_capacity(chunk.len() * WORDS * 8);
            for e in chunk {
                for w in e.encode() {
                    bytes.extend_from_slice(&w.to_le_bytes());
                }
            }
            emit(format!("=EV {cpu} {}", B64.encode(&bytes)));
        }
        total += t.events.len();
    }
    emit(format!("=END {lines} {total}"));
}

fn field<'a>(it: &mut impl Iterator<Item = &'a str>, what: &str) -> Result<&'a str, String> {
    it.next().ok_or_else(|| format!("{what} is missing"))
}

fn num<T: core::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("{what} `{s}` is not a number"))
}

fn keyed<T: core::str::FromStr>(s: &str, key: &str) -> Result<T, String> {
    let v = s
        .strip_prefix(key)
        .and_then(|r| r.strip_prefix('='))
        .ok_or_else(|| format!("expected {key}=..., found `{s}`"))?;
    num(v, key)
}

/// Reads the (first) dump in `text`; lines before and after it, and lines that do not start with
/// `=` inside it (a log line printed meanwhile), are skipped.
pub fn parse(text: &str) -> Result<Dump, ParseError> {
    let mut dump = Dump::default();
    let mut started = false;
    let mut lines = 0usize;
    // Per CPU: the events its =CPU line announced.
    let mut announced: Vec<usize> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let raw = raw.trim_end_matches('\r');
        let at = |what: String| ParseError { line: n + 1, what };
        // The block starts at its first line, wherever that is in the line (after an echo).
        let raw = match (started, raw.find("=TRACE ")) {
            (true, _) => raw,
            (false, Some(i)) => &raw[i..],
            (false, None) => continue,
        };
        if !raw.starts_with('=') {
            continue;
        }
        let (body, crc) = raw
            .rsplit_once(" ~")
            .ok_or_else(|| at(String::from("no checksum")))?;
        let crc = u32::from_str_radix(crc, 16).map_err(|_| at(format!("bad checksum `{crc}`")))?;
        if CRC.checksum(body.as_bytes()) != crc {
            return Err(at(String::from("checksum mismatch (damaged line)")));
        }
        lines += 1;
        let mut it = body.split(' ');
        let tag = it.next().unwrap_or("");
        let r: Result<bool, String> = (|| {
            match (tag, started) {
                ("=TRACE", false) => {
                    if field(&mut it, "version")? != "v1" {
                        return Err(String::from("unknown version (this reader knows v1)"));
                    }
                    dump.hz = keyed(field(&mut it, "hz")?, "hz")?;
                    dump.size = keyed(field(&mut it, "size")?, "size")?;
                    let cpus: usize = keyed(field(&mut it, "cpus")?, "cpus")?;
                    if cpus > 256 {
                        return Err(format!("{cpus} CPUs is too many"));
                    }
                    dump.cpus = (0..cpus).map(|_| CpuTrace::default()).collect();
                    announced = alloc::vec![usize::MAX; cpus];
                    started = true;
                }
                ("=TRACE", true) => return Err(String::from("a second =TRACE before =END")),
                (_, false) => return Err(String::from("a dump starts with =TRACE")),
                ("=NAME", _) => {
                    let id = num(field(&mut it, "id")?, "id")?;
                    let name = unescape(field(&mut it, "name")?)
                        .ok_or_else(|| String::from("badly escaped name"))?;
                    dump.names.push((id, name));
                }
                ("=THREAD", _) => {
                    let tid = num(field(&mut it, "tid")?, "tid")?;
                    let name = unescape(field(&mut it, "name")?)
                        .ok_or_else(|| String::from("badly escaped name"))?;
                    dump.threads.push((tid, name));
                }
                ("=CPU", _) => {
                    let cpu: usize = num(field(&mut it, "cpu")?, "cpu")?;
                    let events = num(field(&mut it, "events")?, "events")?;
                    let lost = num(field(&mut it, "lost")?, "lost")?;
                    let slot = announced
                        .get_mut(cpu)
                        .ok_or_else(|| format!("CPU {cpu} is not in the trace"))?;
                    *slot = events;
                    dump.cpus[cpu].lost = lost;
                }
                ("=EV", _) => {
                    let cpu: usize = num(field(&mut it, "cpu")?, "cpu")?;
                    let t = dump
                        .cpus
                        .get_mut(cpu)
                        .ok_or_else(|| format!("CPU {cpu} is not in the trace"))?;
                    let bytes = B64
                        .decode(field(&mut it, "events")?)
                        .map_err(|e| format!("bad base64: {e}"))?;
                    if bytes.len() % (WORDS * 8) != 0 {
                        return Err(format!("{} bytes is not whole events", bytes.len()));
                    }
                    for ev in bytes.chunks(WORDS * 8) {
                        let mut w = [0u64; WORDS];
                        for (d, b) in w.iter_mut().zip(ev.chunks(8)) {
                            let mut le = [0u8; 8];
                            le.copy_from_slice(b);
                            *d = u64::from_le_bytes(le);
                        }
                        let e = Event::decode(w)
                            .ok_or_else(|| format!("unknown event kind {}", w[1] as u16))?;
                        t.events.push(e);
                    }
                }
                ("=END", _) => {
                    let want_lines: usize = num(field(&mut it, "lines")?, "lines")?;
                    let want_events: usize = num(field(&mut it, "events")?, "events")?;
                    if want_lines != lines {
                        return Err(format!(
                            "{lines} lines read but the dump has {want_lines} (lines missing)"
                        ));
                    }
                    for (cpu, (t, want)) in dump.cpus.iter().zip(&announced).enumerate() {
                        if *want != t.events.len() {
                            return Err(format!(
                                "CPU {cpu}: {} events read, {want} announced",
                                t.events.len()
                            ));
                        }
                    }
                    let got: usize = dump.cpus.iter().map(|t| t.events.len()).sum();
                    if got != want_events {
                        return Err(format!("{got} events read, {want_events} announced"));
                    }
                    return Ok(true);
                }
                (other, _) => return Err(format!("unknown line `{other}`")),
            }
            Ok(false)
        })();
        match r {
            Ok(true) => return Ok(dump),
            Ok(false) => {}
            Err(what) => return Err(at(what)),
        }
    }
    Err(ParseError {
        line: 0,
        what: String::from(if started {
            "no =END line (the dump was cut short)"
        } else {
            "no =TRACE line (no dump in the text)"
        }),
    })
}
