//! Host export of a kernel trace dump (`trace dump` in the shell, [`rtos::trace::dump`]) to a
//! Chrome/Perfetto trace-event JSON ([`perfetto`]) and a CTF 1.8 trace ([`ctf`]), and `runner
//! trace` / `runner trace-export` behind `just trace`.

pub mod ctf;
pub mod perfetto;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use rtos::trace::dump::{self, Dump};
use rtos::trace::text::Names;
use rtos::trace::{Event, Kind};

/// A parsed dump with its events in time order and what names them.
pub struct Trace {
    /// The dump as read.
    pub dump: Dump,
    /// Every CPU's events merged, by time (equal times: CPU order).
    pub events: Vec<Event>,
    /// Names of threads, works and marks.
    pub names: Names,
}

impl Trace {
    /// From a dump.
    pub fn new(dump: Dump) -> Trace {
        let mut events: Vec<Event> = dump.cpus.iter().flat_map(|c| c.events.clone()).collect();
        events.sort_by_key(|e| (e.ticks, e.cpu));
        let names = Names::new(dump.names.clone(), dump.threads.clone(), &events);
        Trace {
            dump,
            events,
            names,
        }
    }

    /// From text holding a dump (a transcript, or the dump alone).
    pub fn from_text(text: &str) -> Result<Trace, String> {
        dump::parse(text)
            .map(Trace::new)
            .map_err(|e| format!("trace dump, line {}: {}", e.line, e.what))
    }

    /// Counter ticks to whole nanoseconds (rounded down).
    pub fn ns(&self, ticks: u64) -> u64 {
        (u128::from(ticks) * 1_000_000_000 / u128::from(self.dump.hz.max(1))) as u64
    }

    /// Counter ticks to microseconds: a whole number of nanoseconds ([`Trace::ns`]), so that
    /// a reader that takes `ts` and `dur` back to nanoseconds gets exact ends.
    pub fn us(&self, ticks: u64) -> f64 {
        self.ns(ticks) as f64 / 1000.0
    }

    /// The events of `kind`.
    pub fn of(&self, kind: Kind) -> impl Iterator<Item = &Event> {
        self.events.iter().filter(move |e| e.kind == kind)
    }
}

/// What [`export`] wrote.
#[derive(Debug)]
pub struct Written {
    /// The trace-event JSON.
    pub json: PathBuf,
    /// The CTF folder.
    pub ctf: PathBuf,
    /// Events exported.
    pub events: usize,
    /// The JSON's tracks, slices and flows ([`perfetto::check`]).
    pub checked: perfetto::Checked,
}

/// Reads the dump in `text` and writes `<dir>/<stem>.json` and the CTF folder `<dir>/<stem>.ctf`.
/// A JSON that [`perfetto::check`] finds trace viewers would not read whole is an error (it is
/// written all the same).
pub fn export(text: &str, dir: &Path, stem: &str) -> Result<Written, String> {
    let t = Trace::from_text(text)?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let json = dir.join(format!("{stem}.json"));
    let doc = perfetto::convert(&t);
    let checked = perfetto::check(&doc);
    std::fs::write(
        &json,
        serde_json::to_string(&doc).map_err(|e| e.to_string())?,
    )
    .map_err(|e| format!("{}: {e}", json.display()))?;
    let ctf = dir.join(format!("{stem}.ctf"));
    ctf::write(&t, &ctf).map_err(|e| format!("{}: {e}", ctf.display()))?;
    let checked =
        checked.map_err(|e| format!("{}: not as trace viewers read it: {e}", json.display()))?;
    Ok(Written {
        json,
        ctf,
        events: t.events.len(),
        checked,
    })
}
