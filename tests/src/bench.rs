//! `runner bench` and `runner bench-check`: the kernel benchmark suite under a deterministic QEMU.
//!
//! `runner bench [virt|rpi4]` builds the image (unless `--kernel`), boots it with
//! [`ICOUNT_ARGS`] (`-icount shift=4,align=off,sleep=off`: the virtual clock advances 16 ns per
//! instruction, i.e. one tick of the 62.5 MHz counter, and idle time is skipped), runs the
//! script `bench --json`, takes the guest's JSON line (see the shell's `bench` command), and
//! writes it with the board and the ELF's section sizes to `target/bench/<board>.json` (or
//! `--out`). It prints the table and the sizes. Two runs give the same numbers.
//!
//! `runner bench-check` compares a result with a baseline (`bench/baseline.json`, written on
//! purpose by `just bench-baseline`): it fails (status 1) if any baseline row is missing or has a
//! **median** more than [`TOLERANCE_PCT`]% (or `--tolerance PCT`) above the baseline's. Rows
//! whose name starts with an `--ignore PREFIX` are left out (`just bench-trace-cost` compares
//! the suite with the trace points compiled in against a build without them, 2%, leaving out
//! the `trace/` rows, which measure tracing itself). Given several files on a side, it compares
//! each row's lowest median among them ([`best_of`]: the rows that are not exact vary by a few
//! percent with the moment the suite's command arrives).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::script::{ScriptOpts, resolve_kernel, run_script};
use crate::{Board, build};

/// The QEMU arguments that make the counter an instruction counter.
pub const ICOUNT_ARGS: [&str; 2] = ["-icount", "shift=4,align=off,sleep=off"];
/// How much worse (in percent of the baseline median) a row may get before `bench-check` fails.
pub const TOLERANCE_PCT: u64 = 5;
/// Default limit for the whole benchmark run.
pub const BENCH_TIMEOUT: Duration = Duration::from_secs(300);

// ---- a minimal JSON value (what the guest prints and what we write) ----

/// A JSON value. Numbers are kept as unsigned integers (the suite only has counts and ticks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A non-negative integer.
    Num(u64),
    /// A string (escapes `\"`, `\\`, `\n`, `\t`, `\/` understood).
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object, keys in order.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// Parses one JSON document (surrounding whitespace allowed).
    pub fn parse(s: &str) -> Result<Json, String> {
        let mut p = Parser {
            b: s.as_bytes(),
            i: 0,
        };
        let v = p.value()?;
        p.ws();
        if p.i != p.b.len() {
            return Err(format!("trailing characters at byte {}", p.i));
        }
        Ok(v)
    }
    /// Field `k` of an object.
    pub fn get(&self, k: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.iter().find(|(n, _)| n == k).map(|(_, v)| v),
            _ => None,
        }
    }
    /// The number, if this is one.
    pub fn num(&self) -> Option<u64> {
        match self {
            Json::Num(n) => Some(*n),
            _ => None,
        }
    }
    /// Serialises on one line.
    pub fn to_line(&self) -> String {
        let mut s = String::new();
        self.write(&mut s);
        s
    }
    fn write(&self, s: &mut String) {
        match self {
            Json::Null => s.push_str("null"),
            Json::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) => {
                let _ = write!(s, "{n}");
            }
            Json::Str(t) => write_str(s, t),
            Json::Arr(a) => {
                s.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    v.write(s);
                }
                s.push(']');
            }
            Json::Obj(m) => {
                s.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        s.push(',');
                    }
                    write_str(s, k);
                    s.push(':');
                    v.write(s);
                }
                s.push('}');
            }
        }
    }
}

fn write_str(s: &mut String, t: &str) {
    s.push('"');
    for c in t.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("bad JSON at byte {}: {what}", self.i))
    }
    fn lit(&mut self, word: &str, v: Json) -> Result<Json, String> {
        if self.b[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            self.err("unknown literal")
        }
    }
    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.b.get(self.i) {
            None => self.err("unexpected end"),
            Some(b'n') => self.lit("null", Json::Null),
            Some(b't') => self.lit("true", Json::Bool(true)),
            Some(b'f') => self.lit("false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::Str),
            Some(b'0'..=b'9') => {
                let start = self.i;
                while self.i < self.b.len() && self.b[self.i].is_ascii_digit() {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.b[start..self.i]).unwrap_or("");
                t.parse().map(Json::Num).or_else(|_| self.err("number"))
            }
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(a));
                }
                loop {
                    a.push(self.value()?);
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(a));
                        }
                        _ => return self.err("expected , or ]"),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut m = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(m));
                }
                loop {
                    self.ws();
                    if self.b.get(self.i) != Some(&b'"') {
                        return self.err("expected a key");
                    }
                    let k = self.string()?;
                    self.ws();
                    if self.b.get(self.i) != Some(&b':') {
                        return self.err("expected :");
                    }
                    self.i += 1;
                    m.push((k, self.value()?));
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(m));
                        }
                        _ => return self.err("expected , or }"),
                    }
                }
            }
            Some(_) => self.err("unexpected character"),
        }
    }
    fn string(&mut self) -> Result<String, String> {
        self.i += 1; // opening quote
        let mut out = Vec::new();
        loop {
            match self.b.get(self.i) {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.i += 1;
                    return String::from_utf8(out).or_else(|_| self.err("invalid UTF-8"));
                }
                Some(b'\\') => {
                    let e = self.b.get(self.i + 1).copied();
                    out.push(match e {
                        Some(b'n') => b'\n',
                        Some(b't') => b'\t',
                        Some(c @ (b'"' | b'\\' | b'/')) => c,
                        _ => return self.err("unsupported escape"),
                    });
                    self.i += 2;
                }
                Some(&c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }
}

// ---- results ----

/// A row and its statistics: the kernel's own types (`rtos::bench`), so the runner and the
/// shell print the same table.
pub use rtos::bench::{Row, Stats};

fn stats(v: &Json) -> Option<Stats> {
    Some(Stats {
        min: v.get("min")?.num()?,
        median: v.get("median")?.num()?,
        p99: v.get("p99")?.num()?,
        max: v.get("max")?.num()?,
    })
}

/// The rows of a result: the guest's line, or a file written by `runner bench` (which has them
/// under `"result"`).
pub fn rows(doc: &Json) -> Result<Vec<Row>, String> {
    let doc = doc.get("result").unwrap_or(doc);
    let Some(Json::Arr(rows)) = doc.get("rows") else {
        return Err("no \"rows\" array".into());
    };
    rows.iter()
        .map(|r| {
            let name = match r.get("name") {
                Some(Json::Str(s)) => s.clone(),
                _ => return Err("a row without a name".to_string()),
            };
            let bad = || format!("row {name}: missing or bad fields");
            Ok(Row {
                n: r.get("n").and_then(Json::num).ok_or_else(bad)? as usize,
                ticks: r.get("ticks").and_then(stats).ok_or_else(bad)?,
                cycles: r.get("cycles").and_then(stats),
                name,
            })
        })
        .collect()
}

/// The guest's `bench --json` line in a transcript (the last one, if several).
pub fn find_json_line(transcript: &str) -> Option<&str> {
    transcript
        .lines()
        .map(|l| l.trim())
        .rfind(|l| l.starts_with("{\"bench\":"))
}

/// The result table.
pub fn table(rows: &[Row]) -> String {
    let mut s = rtos::bench::table_header();
    s.push('\n');
    for r in rows {
        s.push_str(&r.table_line());
        s.push('\n');
    }
    s
}

// ---- comparison ----

/// One row that got worse (or disappeared).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Regression {
    /// Row name.
    pub name: String,
    /// Baseline median.
    pub base: u64,
    /// Current median (`None`: the row is missing).
    pub now: Option<u64>,
}

impl std::fmt::Display for Regression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.now {
            None => write!(f, "{}: missing (baseline median {})", self.name, self.base),
            Some(now) => {
                let pct = (now as f64 - self.base as f64) * 100.0 / (self.base.max(1) as f64);
                write!(
                    f,
                    "{}: median {} -> {} (+{pct:.1}%)",
                    self.name, self.base, now
                )
            }
        }
    }
}

/// What `runner bench-check` compares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOpts {
    /// The baseline result; with several, each row's lowest median ([`best_of`]).
    pub baseline: Vec<PathBuf>,
    /// The result to check; with several, each row's lowest median.
    pub current: Vec<PathBuf>,
    /// How much worse a median may be, in percent of the baseline's.
    pub tolerance_pct: u64,
    /// Rows whose name starts with one of these are not compared.
    pub ignore: Vec<String>,
}

impl Default for CheckOpts {
    fn default() -> Self {
        Self {
            baseline: vec![PathBuf::from("bench/baseline.json")],
            current: vec![PathBuf::from("target/bench/virt.json")],
            tolerance_pct: TOLERANCE_PCT,
            ignore: Vec::new(),
        }
    }
}

/// Baseline rows whose median got more than [`TOLERANCE_PCT`]% worse in `current`, or that
/// `current` lacks. Rows only in `current` are fine (new benchmarks).
pub fn compare(baseline: &[Row], current: &[Row]) -> Vec<Regression> {
    compare_within(baseline, current, TOLERANCE_PCT)
}

/// [`compare`] with a tolerance of `pct` percent.
pub fn compare_within(baseline: &[Row], current: &[Row], pct: u64) -> Vec<Regression> {
    let now: BTreeMap<&str, &Row> = current.iter().map(|r| (r.name.as_str(), r)).collect();
    baseline
        .iter()
        .filter_map(|b| {
            let base = b.ticks.median;
            match now.get(b.name.as_str()) {
                None => Some(Regression {
                    name: b.name.clone(),
                    base,
                    now: None,
                }),
                // now > base * (1 + pct%), in integers.
                Some(c)
                    if u128::from(c.ticks.median) * 100
                        > u128::from(base) * u128::from(100 + pct) =>
                {
                    Some(Regression {
                        name: b.name.clone(),
                        base,
                        now: Some(c.ticks.median),
                    })
                }
                Some(_) => None,
            }
        })
        .collect()
}

// ---- ELF sizes ----

/// Sizes of an ELF's allocated sections, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sizes {
    /// Executable sections.
    pub text: u64,
    /// Read-only data (allocated, neither writable nor executable).
    pub rodata: u64,
    /// Writable data with contents.
    pub data: u64,
    /// Zero-initialised (NOBITS) sections.
    pub bss: u64,
}

/// Sums the section sizes of a 64-bit little-endian ELF.
pub fn elf_sizes(elf: &[u8]) -> Result<Sizes, String> {
    let u16_at = |o: usize| -> Option<u64> {
        Some(u64::from(u16::from_le_bytes(
            elf.get(o..o + 2)?.try_into().ok()?,
        )))
    };
    let u32_at = |o: usize| -> Option<u64> {
        Some(u64::from(u32::from_le_bytes(
            elf.get(o..o + 4)?.try_into().ok()?,
        )))
    };
    let u64_at =
        |o: usize| -> Option<u64> { Some(u64::from_le_bytes(elf.get(o..o + 8)?.try_into().ok()?)) };
    if elf.get(..6) != Some(b"\x7fELF\x02\x01".as_slice()) {
        return Err("not a 64-bit little-endian ELF".into());
    }
    let bad = || "truncated ELF".to_string();
    let shoff = u64_at(0x28).ok_or_else(bad)? as usize;
    let shentsize = u16_at(0x3a).ok_or_else(bad)? as usize;
    let shnum = u16_at(0x3c).ok_or_else(bad)? as usize;
    const SHT_NOBITS: u64 = 8;
    const SHF_WRITE: u64 = 1;
    const SHF_ALLOC: u64 = 2;
    const SHF_EXEC: u64 = 4;
    let mut s = Sizes::default();
    for i in 0..shnum {
        let h = shoff + i * shentsize;
        let ty = u32_at(h + 4).ok_or_else(bad)?;
        let flags = u64_at(h + 8).ok_or_else(bad)?;
        let size = u64_at(h + 32).ok_or_else(bad)?;
        if flags & SHF_ALLOC == 0 {
            continue;
        }
        if ty == SHT_NOBITS {
            s.bss += size;
        } else if flags & SHF_EXEC != 0 {
            s.text += size;
        } else if flags & SHF_WRITE != 0 {
            s.data += size;
        } else {
            s.rodata += size;
        }
    }
    Ok(s)
}

/// The ELF behind `board`'s image: the image itself for virt, the `rpi4` ELF next to
/// `kernel8.img` for the Pi.
pub fn elf_of(board: Board, image: &Path) -> PathBuf {
    match board {
        Board::Virt => image.to_path_buf(),
        Board::Rpi4 => image.with_file_name("rpi4"),
    }
}

// ---- the commands ----

/// `runner bench`: returns the exit status (0, or 1 when the guest failed or printed no result,
/// 125 when it could not start).
pub fn run_bench(board: Board, opts: &ScriptOpts, out: Option<PathBuf>) -> i32 {
    let root = opts.root.clone().unwrap_or_else(build::workspace_root);
    let image = match resolve_kernel(board, opts) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("runner: {e}");
            return crate::STATUS_START_FAILED;
        }
    };
    let mut o = opts.clone();
    o.kernel = Some(image.clone());
    o.extra_args = ICOUNT_ARGS.iter().map(OsString::from).collect();
    o.extra_args.extend(opts.extra_args.iter().cloned());
    let outcome = run_script(board, "bench --json\n", &o);
    let Some(line) = find_json_line(&outcome.transcript) else {
        eprint!("{}", outcome.transcript);
        eprintln!(
            "runner: bench: no JSON result in the transcript (guest status {}{})",
            outcome.status,
            outcome
                .message
                .as_deref()
                .map(|m| format!("; {m}"))
                .unwrap_or_default()
        );
        return 1;
    };
    let doc = match Json::parse(line) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("runner: bench: {e}\n{line}");
            return 1;
        }
    };
    let rows = match rows(&doc) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("runner: bench: {e}");
            return 1;
        }
    };
    let elf = elf_of(board, &image);
    let sizes = std::fs::read(&elf)
        .map_err(|e| e.to_string())
        .and_then(|b| elf_sizes(&b));
    // Errors the guest printed (a benchmark that could not run) go to stderr.
    for l in outcome
        .transcript
        .lines()
        .filter(|l| l.starts_with("error: "))
    {
        eprintln!("guest: {l}");
    }
    print!("{}", table(&rows));
    let mut file = vec![
        ("board".to_string(), Json::Str(board.name().to_string())),
        ("qemu_args".to_string(), Json::Str(ICOUNT_ARGS.join(" "))),
    ];
    match &sizes {
        Ok(s) => {
            println!(
                "image {}: text {} rodata {} data {} bss {} (bytes)",
                elf.display(),
                s.text,
                s.rodata,
                s.data,
                s.bss
            );
            file.push((
                "size".to_string(),
                Json::Obj(vec![
                    ("text".into(), Json::Num(s.text)),
                    ("rodata".into(), Json::Num(s.rodata)),
                    ("data".into(), Json::Num(s.data)),
                    ("bss".into(), Json::Num(s.bss)),
                ]),
            ));
        }
        Err(e) => eprintln!("runner: bench: sizes of {}: {e}", elf.display()),
    }
    file.push(("result".to_string(), doc));
    let out = out.unwrap_or_else(|| {
        build::target_dir(&root)
            .join("bench")
            .join(format!("{}.json", board.name()))
    });
    if let Some(dir) = out.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(&out, Json::Obj(file).to_line() + "\n") {
        eprintln!("runner: bench: cannot write {}: {e}", out.display());
        return 1;
    }
    println!("wrote {}", out.display());
    i32::from(outcome.status != 0)
}

fn load_rows(p: &Path) -> Result<Vec<Row>, String> {
    let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
    rows(&Json::parse(&text).map_err(|e| format!("{}: {e}", p.display()))?)
        .map_err(|e| format!("{}: {e}", p.display()))
}

/// Several runs' rows merged, row by row, into the run with the lowest median: the rows that
/// are not exact (README) depend on where the heap and the timers stand when the suite starts,
/// which the moment its command arrives decides; their best run is the one to compare. Exact rows
/// are equal in every run. Rows keep the first run's order; a row missing from a run is taken
/// from the others.
pub fn best_of(runs: Vec<Vec<Row>>) -> Vec<Row> {
    let mut best: Vec<Row> = Vec::new();
    for run in runs {
        for r in run {
            match best.iter_mut().find(|b| b.name == r.name) {
                Some(b) if r.ticks.median < b.ticks.median => *b = r,
                Some(_) => {}
                None => best.push(r),
            }
        }
    }
    best
}

/// The rows of `paths` ([`best_of`] when there are several), with the files' names for messages.
fn load_best(paths: &[PathBuf]) -> Result<(Vec<Row>, String), String> {
    let runs = paths
        .iter()
        .map(|p| load_rows(p))
        .collect::<Result<Vec<_>, _>>()?;
    let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let what = match names.len() {
        1 => names[0].clone(),
        n => format!("the best of {n} runs ({})", names.join(", ")),
    };
    Ok((best_of(runs), what))
}

/// `runner bench-check`: 0 when no baseline row regressed, 1 otherwise, 2 when a file cannot be
/// read.
pub fn run_check(c: &CheckOpts) -> i32 {
    let (base, now) = match (load_best(&c.baseline), load_best(&c.current)) {
        (Ok(b), Ok(c)) => (b, c),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("runner: bench-check: {e}");
            return crate::STATUS_USAGE;
        }
    };
    let ((mut base, base_name), (now, _)) = (base, now);
    base.retain(|r| !c.ignore.iter().any(|p| r.name.starts_with(p.as_str())));
    let pct = c.tolerance_pct;
    let bad = compare_within(&base, &now, pct);
    if bad.is_empty() {
        println!(
            "bench-check: {} rows within {pct}% of {base_name} (median ticks)",
            base.len(),
        );
        return 0;
    }
    eprintln!(
        "bench-check: {} of {} rows more than {pct}% worse than {base_name} (median ticks):",
        bad.len(),
        base.len(),
    );
    for r in &bad {
        eprintln!("  {r}");
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = "{\"bench\":1,\"hz\":62500000,\"rows\":[\
        {\"name\":\"yield\",\"n\":10,\"ticks\":{\"min\":1,\"median\":100,\"p99\":30,\"max\":400},\"cycles\":null},\
        {\"name\":\"timers/16\",\"n\":10,\"ticks\":{\"min\":1,\"median\":200,\"p99\":30,\"max\":400},\
        \"cycles\":{\"min\":16,\"median\":32,\"p99\":480,\"max\":6400}}]}";

    #[test]
    fn parses_the_guest_line() {
        let t = format!("rtos> bench --json\r\n{LINE}\r\nrtos> exit\r\n");
        let line = find_json_line(&t).unwrap();
        assert_eq!(line, LINE);
        let doc = Json::parse(line).unwrap();
        assert_eq!(doc.get("hz").and_then(Json::num), Some(62_500_000));
        let r = rows(&doc).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].name, "yield");
        assert_eq!(r[0].ticks.median, 100);
        assert_eq!(r[0].cycles, None);
        assert_eq!(r[1].cycles.unwrap().max, 6400);
        // Round trip, and the file format (rows under "result").
        assert_eq!(Json::parse(&doc.to_line()).unwrap(), doc);
        let file = Json::Obj(vec![
            ("board".into(), Json::Str("virt".into())),
            ("result".into(), doc.clone()),
        ]);
        assert_eq!(rows(&Json::parse(&file.to_line()).unwrap()).unwrap(), r);
        assert!(table(&r).contains("timers/16"));
    }

    #[test]
    fn rejects_bad_json() {
        for bad in [
            "",
            "{",
            "{\"a\":}",
            "[1,]",
            "{\"a\":1} x",
            "\"abc",
            "-1",
            "nul",
        ] {
            assert!(Json::parse(bad).is_err(), "{bad}");
        }
        assert!(rows(&Json::parse("{\"rows\":[{\"name\":\"x\"}]}").unwrap()).is_err());
        assert!(rows(&Json::parse("{}").unwrap()).is_err());
        assert_eq!(
            Json::parse(" [ true , false , null , \"a\\\"b\" ] ").unwrap(),
            Json::Arr(vec![
                Json::Bool(true),
                Json::Bool(false),
                Json::Null,
                Json::Str("a\"b".into())
            ])
        );
        assert_eq!(find_json_line("rtos> bench --json\r\nerror: x\r\n"), None);
    }

    fn row(name: &str, median: u64) -> Row {
        Row {
            name: name.into(),
            n: 1,
            ticks: Stats {
                min: 0,
                median,
                p99: median,
                max: median,
            },
            cycles: None,
        }
    }

    #[test]
    fn comparison_uses_the_median_with_five_percent() {
        let base = [row("a", 100), row("b", 1000), row("c", 0), row("gone", 5)];
        let now = [
            row("a", 105),  // exactly +5%: fine
            row("b", 1051), // +5.1%: worse
            row("c", 0),
            row("new", 1),
        ];
        let bad = compare(&base, &now);
        assert_eq!(
            bad,
            [
                Regression {
                    name: "b".into(),
                    base: 1000,
                    now: Some(1051)
                },
                Regression {
                    name: "gone".into(),
                    base: 5,
                    now: None
                }
            ]
        );
        assert!(bad[0].to_string().contains("+5.1%"));
        assert!(compare(&[base[0].clone(), base[2].clone()], &now).is_empty());
        // Faster is never a failure.
        assert!(compare(&[row("a", 100)], &[row("a", 1)]).is_empty());
        // Another tolerance: +2% passes 2, +3% does not.
        assert!(compare_within(&[row("a", 100)], &[row("a", 102)], 2).is_empty());
        assert_eq!(
            compare_within(&[row("a", 100)], &[row("a", 103)], 2)[0].now,
            Some(103)
        );
    }

    #[test]
    fn best_of_takes_each_rows_lowest_median_in_the_first_runs_order() {
        let runs = vec![
            vec![row("a", 100), row("b", 50)],
            vec![row("b", 40), row("a", 101), row("c", 7)],
            vec![row("a", 99), row("b", 45)],
        ];
        let best = best_of(runs);
        let got: Vec<(&str, u64)> = best
            .iter()
            .map(|r| (r.name.as_str(), r.ticks.median))
            .collect();
        assert_eq!(got, [("a", 99), ("b", 40), ("c", 7)]);
        // One run is itself.
        assert_eq!(best_of(vec![vec![row("x", 3)]]), vec![row("x", 3)]);
    }

    #[test]
    fn elf_sizes_of_a_synthetic_elf() {
        // Header + 4 section headers (null, text, rodata, bss).
        let mut e = vec![0u8; 64];
        e[..6].copy_from_slice(b"\x7fELF\x02\x01");
        e[0x28..0x30].copy_from_slice(&64u64.to_le_bytes());
        e[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        e[0x3c..0x3e].copy_from_slice(&5u16.to_le_bytes());
        let sh = |ty: u32, flags: u64, size: u64| {
            let mut h = vec![0u8; 64];
            h[4..8].copy_from_slice(&ty.to_le_bytes());
            h[8..16].copy_from_slice(&flags.to_le_bytes());
            h[32..40].copy_from_slice(&size.to_le_bytes());
            h
        };
        e.extend(sh(0, 0, 0));
        e.extend(sh(1, 2 | 4, 1000)); // .text
        e.extend(sh(1, 2, 300)); // .rodata
        e.extend(sh(1, 2 | 1, 20)); // .data
        e.extend(sh(8, 2 | 1, 4096)); // .bss
        assert_eq!(
            elf_sizes(&e).unwrap(),
            Sizes {
                text: 1000,
                rodata: 300,
                data: 20,
                bss: 4096
            }
        );
        assert!(elf_sizes(b"nope").is_err());
        assert!(elf_sizes(&e[..70]).is_err());
    }
}
