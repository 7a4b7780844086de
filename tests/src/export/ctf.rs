//! A trace as CTF 1.8 (Common Trace Format): a `metadata` file (TSDL text) and one binary
//! stream file per CPU, one packet of events each (after an empty one that counts the events
//! the CPU lost, if any), little-endian and byte-aligned. `babeltrace2 <dir>`
//! prints it; Trace Compass opens it.
//!
//! Each event has the header `{ id: u16, timestamp: u64 }` (the counter, a `monotonic` clock at
//! the dump's frequency) and fields named after what they are (`prev_tid`, `work`, `queue`,
//! ...), names resolved to strings; the packet context carries `cpu_id` and the events the
//! CPU lost (`events_discarded`).

use std::fmt::Write as _;
use std::path::Path;

use rtos::trace::text::{notify_name, sgi_name, state_name};
use rtos::trace::{Event, Kind, untag};

use super::Trace;

/// A field's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `uint32_t`.
    U32,
    /// `int32_t`.
    I32,
    /// `uint64_t`.
    U64,
    /// A null-terminated UTF-8 string.
    Str,
}

/// A field's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Val {
    /// An unsigned number (written as the field's type says).
    U(u64),
    /// A signed 32-bit number.
    I(i32),
    /// Text.
    S(String),
}

/// The fields of each event kind, in order (the first is always the running thread's `tid`).
pub fn schema(kind: Kind) -> &'static [(&'static str, Ty)] {
    use Ty::*;
    match kind {
        Kind::Switch => &[("prev_tid", U32), ("next_tid", U32), ("prev_state", Str)],
        Kind::Wakeup => &[("tid", U32), ("woken_tid", U32), ("target_cpu", U32)],
        Kind::IrqEnter | Kind::IrqExit => &[("tid", U32), ("irq", U32)],
        Kind::SgiSend => &[("tid", U32), ("sgi", Str), ("cpus", U32)],
        Kind::IrqWorkQueue => &[
            ("tid", U32),
            ("work", Str),
            ("slot", U32),
            ("target_cpu", U32),
        ],
        Kind::IrqWorkStart | Kind::IrqWorkEnd => &[("tid", U32), ("work", Str), ("slot", U32)],
        Kind::TaskWorkAdd => &[
            ("tid", U32),
            ("work", Str),
            ("target_tid", U32),
            ("notify", Str),
        ],
        Kind::TaskWorkRun | Kind::TimerFire => &[("tid", U32), ("work", Str)],
        Kind::WorkQueue | Kind::WorkStart | Kind::WorkEnd => &[
            ("tid", U32),
            ("work", Str),
            ("queue", Str),
            ("queue_cpu", Str),
        ],
        Kind::TimerArm => &[("tid", U32), ("work", Str), ("deadline", U64)],
        Kind::KthreadCreate | Kind::KthreadPark | Kind::KthreadUnpark | Kind::KthreadStop => {
            &[("tid", U32), ("target_tid", U32)]
        }
        Kind::KthreadExit => &[("tid", U32), ("target_tid", U32), ("result", I32)],
        Kind::CpuOnline | Kind::CpuOffline => &[("tid", U32), ("cpu", U32)],
        Kind::Mark => &[("tid", U32), ("text", Str), ("value", U64)],
    }
}

/// The values of `e`'s fields, in [`schema`] order.
pub fn values(t: &Trace, e: &Event) -> Vec<Val> {
    let named = |a: u64, what: &str| {
        let (id, n) = untag(a);
        Val::S(
            t.names
                .name(id)
                .map_or_else(|| format!("{what}@{n:#x}"), str::to_string),
        )
    };
    let tid = Val::U(u64::from(e.tid));
    let u = Val::U;
    match e.kind {
        Kind::Switch => vec![tid, u(e.a), Val::S(state_name(e.b).into())],
        Kind::Wakeup => vec![tid, u(e.a), u(e.b)],
        Kind::IrqEnter | Kind::IrqExit => vec![tid, u(e.a)],
        Kind::SgiSend => vec![tid, Val::S(sgi_name(e.a).into()), u(e.b)],
        Kind::IrqWorkQueue => vec![tid, named(e.a, "irq_work"), u(untag(e.a).1), u(e.b)],
        Kind::IrqWorkStart | Kind::IrqWorkEnd => {
            vec![tid, named(e.a, "irq_work"), u(untag(e.a).1)]
        }
        Kind::TaskWorkAdd => vec![
            tid,
            named(e.a, "task_work"),
            u(e.b & 0xffff_ffff),
            Val::S(notify_name(e.b >> 32).into()),
        ],
        Kind::TaskWorkRun => vec![tid, named(e.a, "task_work")],
        Kind::TimerFire => vec![tid, named(e.a, "work")],
        Kind::WorkQueue | Kind::WorkStart | Kind::WorkEnd => {
            let cpu = untag(e.b).1;
            let cpu = if cpu == (1 << 48) - 1 {
                "any".to_string()
            } else {
                cpu.to_string()
            };
            vec![tid, named(e.a, "work"), named(e.b, "queue"), Val::S(cpu)]
        }
        Kind::TimerArm => vec![tid, named(e.a, "work"), u(e.b)],
        Kind::KthreadCreate | Kind::KthreadPark | Kind::KthreadUnpark | Kind::KthreadStop => {
            vec![tid, u(e.a)]
        }
        Kind::KthreadExit => vec![tid, u(e.a), Val::I(untag(e.b).1 as u32 as i32)],
        Kind::CpuOnline | Kind::CpuOffline => vec![tid, u(e.a)],
        Kind::Mark => vec![
            tid,
            Val::S(t.names.name(e.a as u16).unwrap_or("?").into()),
            u(e.b),
        ],
    }
}

fn ty_name(ty: Ty) -> &'static str {
    match ty {
        Ty::U32 => "uint32_t",
        Ty::I32 => "int32_t",
        Ty::U64 => "uint64_t",
        Ty::Str => "string",
    }
}

/// The TSDL metadata for a trace at `hz`.
pub fn metadata(hz: u64) -> String {
    let mut m = String::from(
        "/* CTF 1.8 */\n\
         typealias integer { size = 8; align = 8; signed = false; } := uint8_t;\n\
         typealias integer { size = 16; align = 8; signed = false; } := uint16_t;\n\
         typealias integer { size = 32; align = 8; signed = false; } := uint32_t;\n\
         typealias integer { size = 32; align = 8; signed = true; } := int32_t;\n\
         typealias integer { size = 64; align = 8; signed = false; } := uint64_t;\n\
         trace {\n  major = 1;\n  minor = 8;\n  byte_order = le;\n\
         \x20 packet.header := struct {\n    uint32_t magic;\n    uint32_t stream_id;\n  };\n};\n\
         env {\n  domain = \"kernel\";\n  tracer_name = \"rtos\";\n  hostname = \"rtos\";\n};\n",
    );
    let _ = write!(
        m,
        "clock {{\n  name = monotonic;\n  freq = {hz};\n  precision = 1;\n  offset_s = 0;\n  \
         offset = 0;\n  absolute = false;\n}};\n\
         typealias integer {{ size = 64; align = 8; signed = false; map = clock.monotonic.value; }} \
         := uint64_clock_monotonic_t;\n"
    );
    m.push_str(
        "stream {\n  id = 0;\n  packet.context := struct {\n\
         \x20   uint64_clock_monotonic_t timestamp_begin;\n\
         \x20   uint64_clock_monotonic_t timestamp_end;\n\
         \x20   uint64_t content_size;\n    uint64_t packet_size;\n\
         \x20   uint64_t events_discarded;\n    uint32_t cpu_id;\n  };\n\
         \x20 event.header := struct {\n    uint16_t id;\n    uint64_clock_monotonic_t timestamp;\n  };\n};\n",
    );
    for kind in Kind::ALL {
        let _ = write!(
            m,
            "event {{\n  name = \"{}\";\n  id = {};\n  stream_id = 0;\n  fields := struct {{\n",
            kind.name(),
            kind as u16
        );
        for (name, ty) in schema(kind) {
            let _ = writeln!(m, "    {} {name};", ty_name(*ty));
        }
        m.push_str("  };\n};\n");
    }
    m
}

/// CTF's packet magic number.
const MAGIC: u32 = 0xC1FC_1FC1;

/// One CPU's stream: a packet holding `events`. If the CPU lost `lost` events (its ring
/// overwrote its oldest), an empty packet from time 0 to its first event comes first and
/// counts them, so that readers place the loss before the events kept (babeltrace2: "Tracer
/// may have discarded events between [0] and [first event]").
pub fn stream(t: &Trace, cpu: u32, events: &[&Event], lost: u64) -> Vec<u8> {
    let first = events.first().map_or(0, |e| e.ticks);
    let last = events.last().map_or(0, |e| e.ticks);
    let mut s = Vec::new();
    if lost > 0 {
        s.extend(packet(t, cpu, &[], (0, first), lost));
    }
    s.extend(packet(t, cpu, events, (first, last), lost));
    s
}

/// A packet of `events` from `begin` to `end`, `discarded` events lost so far on the CPU.
fn packet(
    t: &Trace,
    cpu: u32,
    events: &[&Event],
    (begin, end): (u64, u64),
    discarded: u64,
) -> Vec<u8> {
    let mut body = Vec::new();
    for e in events {
        body.extend_from_slice(&(e.kind as u16).to_le_bytes());
        body.extend_from_slice(&e.ticks.to_le_bytes());
        for ((_, ty), v) in schema(e.kind).iter().zip(values(t, e)) {
            match (ty, v) {
                (Ty::U32, Val::U(n)) => body.extend_from_slice(&(n as u32).to_le_bytes()),
                (Ty::U64, Val::U(n)) => body.extend_from_slice(&n.to_le_bytes()),
                (Ty::I32, Val::I(n)) => body.extend_from_slice(&n.to_le_bytes()),
                (Ty::Str, Val::S(s)) => {
                    body.extend(s.bytes().filter(|&b| b != 0));
                    body.push(0);
                }
                (ty, v) => unreachable!("{:?}: {ty:?} field given {v:?}", e.kind),
            }
        }
    }
    // Header (8 bytes) and context (5 x 8 + 4 bytes) come first.
    let head = 8 + 5 * 8 + 4;
    let bits = ((head + body.len()) * 8) as u64;
    let mut p = Vec::with_capacity(head + body.len());
    p.extend_from_slice(&MAGIC.to_le_bytes());
    p.extend_from_slice(&0u32.to_le_bytes());
    for v in [begin, end, bits, bits, discarded] {
        p.extend_from_slice(&v.to_le_bytes());
    }
    p.extend_from_slice(&cpu.to_le_bytes());
    p.extend_from_slice(&body);
    p
}

/// Writes `t` as a CTF trace into folder `dir` (made if missing; its old streams replaced).
pub fn write(t: &Trace, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("stream_"))
        {
            std::fs::remove_file(p)?;
        }
    }
    std::fs::write(dir.join("metadata"), metadata(t.dump.hz))?;
    for (cpu, c) in t.dump.cpus.iter().enumerate() {
        if c.events.is_empty() && c.lost == 0 {
            continue;
        }
        let mut evs: Vec<&Event> = c.events.iter().collect();
        evs.sort_by_key(|e| e.ticks);
        std::fs::write(
            dir.join(format!("stream_{cpu}")),
            stream(t, cpu as u32, &evs, c.lost),
        )?;
    }
    Ok(())
}
