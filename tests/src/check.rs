//! `runner check`: runs a folder (or list) of `.rsh` scripts as a test suite, in parallel, one
//! QEMU each, and reports one line per script, a summary line and, on request, JUnit XML.
//!
//! # Front matter
//! Comment lines at the top of a script that start with `# check:` hold `key=value` words:
//!
//! | key | meaning |
//! |---|---|
//! | `boards=virt,rpi4` | the boards it runs on (default: the `--board` given, or virt) |
//! | `status=N` | the exit status that counts as a pass (default 0) |
//! | `timeout=SECS` | the whole QEMU run's limit (default 60) |
//! | `smp=N` | CPUs on virt (default 4) |
//! | `skip=<reason...>` | do not run it; the rest of the line is the reason |
//!
//! An unknown key or a bad value fails that script with the file and line named; a script that
//! asks for a board `--board` did not select is skipped, saying so.
//!
//! A script passes when it exits with the expected status and no `expect` in it failed (an
//! `error: expect: line N: ...` line fails it even when the script went on).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::script::{Outcome, ScriptOpts, run_script};
use crate::{Board, MAX_SMP};

/// What a script's front matter asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Front {
    /// `boards=`: where it may run (`None`: anywhere).
    pub boards: Option<Vec<Board>>,
    /// `status=`.
    pub status: i32,
    /// `timeout=`.
    pub timeout: Option<Duration>,
    /// `smp=`.
    pub smp: Option<u32>,
    /// `skip=`.
    pub skip: Option<String>,
}

/// Reads the `# check:` lines at the top of `text` (up to the first line that is not a comment
/// or blank). The error names the line.
pub fn parse_front(text: &str) -> Result<Front, String> {
    let mut f = Front::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if !line.starts_with('#') {
            break;
        }
        let Some(rest) = line.strip_prefix("# check:") else {
            continue;
        };
        let at = n + 1;
        let rest = rest.trim();
        if let Some(reason) = rest.strip_prefix("skip=") {
            f.skip = Some(reason.trim().to_string());
            continue;
        }
        for word in rest.split_whitespace() {
            let Some((k, v)) = word.split_once('=') else {
                return Err(format!("line {at}: `{word}` is not key=value"));
            };
            let bad = || format!("line {at}: bad value for {k}: `{v}`");
            match k {
                "boards" => {
                    let boards: Option<Vec<Board>> = v.split(',').map(Board::parse).collect();
                    f.boards = Some(boards.filter(|b| !b.is_empty()).ok_or_else(bad)?);
                }
                "status" => {
                    f.status = v
                        .parse()
                        .ok()
                        .filter(|s| (0..=255).contains(s))
                        .ok_or_else(bad)?
                }
                "timeout" => {
                    let secs: u64 = v.parse().ok().filter(|&s| s > 0).ok_or_else(bad)?;
                    f.timeout = Some(Duration::from_secs(secs));
                }
                "smp" => {
                    f.smp = Some(
                        v.parse()
                            .ok()
                            .filter(|&n| (1..=MAX_SMP).contains(&n))
                            .ok_or_else(bad)?,
                    );
                }
                _ => {
                    return Err(format!(
                        "line {at}: unknown key `{k}` (boards, status, timeout, smp, skip)"
                    ));
                }
            }
        }
    }
    Ok(f)
}

/// How one script ran on one board.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The script's file name.
    pub name: String,
    /// Its path as given.
    pub file: PathBuf,
    /// The board.
    pub board: Board,
    /// Wall time of the run.
    pub time: Duration,
    /// `Some(reason)`: not run.
    pub skipped: Option<String>,
    /// `Some(why)`: failed (one line).
    pub failure: Option<String>,
    /// The end of the transcript, for the XML report.
    pub tail: String,
    /// Where the whole transcript went.
    pub log: Option<PathBuf>,
}

/// `runner check` options.
#[derive(Debug, Clone)]
pub struct CheckOpts {
    /// Scripts and folders of scripts (`.rsh`).
    pub paths: Vec<PathBuf>,
    /// The boards to run on.
    pub boards: Vec<Board>,
    /// Write JUnit XML here.
    pub junit: Option<PathBuf>,
    /// Scripts run at once.
    pub jobs: usize,
    /// Base options for each run (kernel, timeout, QEMU args).
    pub script: ScriptOpts,
    /// Folder for the transcripts (default `target/check`).
    pub logs: Option<PathBuf>,
}

/// The `.rsh` files of `paths` (a folder gives its `.rsh` files, sorted by name).
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "rsh"))
                .collect();
            files.sort();
            out.extend(files);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(format!("{}: no such file or folder", p.display()));
        }
    }
    if out.is_empty() {
        return Err("no .rsh scripts to run".into());
    }
    Ok(out)
}

/// The first line of the transcript that says what went wrong.
fn first_error(o: &Outcome) -> Option<String> {
    o.lines()
        .find(|l| {
            l.starts_with("error: ") || l.starts_with("KERNEL PANIC") || l.contains("WATCHDOG: ")
        })
        .map(str::to_string)
}

/// Runs one script on one board; writes its transcript under `logs`.
fn run_case(file: &Path, board: Board, opts: &CheckOpts, logs: &Path) -> CaseResult {
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut r = CaseResult {
        name: name.clone(),
        file: file.to_path_buf(),
        board,
        time: Duration::ZERO,
        skipped: None,
        failure: None,
        tail: String::new(),
        log: None,
    };
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            r.failure = Some(format!("cannot read {}: {e}", file.display()));
            return r;
        }
    };
    let front = match parse_front(&text) {
        Ok(f) => f,
        Err(e) => {
            r.failure = Some(format!("{}: {e}", file.display()));
            return r;
        }
    };
    if let Some(reason) = front.skip {
        r.skipped = Some(reason);
        return r;
    }
    if let Some(b) = &front.boards
        && !b.contains(&board)
    {
        let names: Vec<&str> = b.iter().map(|b| b.name()).collect();
        r.skipped = Some(format!("only for {}", names.join(", ")));
        return r;
    }
    let mut so = opts.script.clone();
    so.echo = false;
    so.quiet_build = true;
    if let Some(t) = front.timeout {
        so.timeout = t;
    }
    if board == Board::Virt {
        so.smp = front.smp.or(so.smp);
    } else {
        so.smp = None;
    }
    let start = Instant::now();
    let o = run_script(board, text.as_bytes(), &so);
    r.time = start.elapsed();
    let log = logs.join(board.name()).join(format!("{name}.log"));
    let mut body = o.transcript.clone();
    if let Some(s) = &o.symbols {
        body.push_str(s);
    }
    if let Some(m) = &o.message {
        let _ = writeln!(body, "{m}");
    }
    if std::fs::create_dir_all(log.parent().unwrap_or(logs)).is_ok()
        && std::fs::write(&log, &body).is_ok()
    {
        r.log = Some(log);
    }
    let lines: Vec<&str> = body.lines().collect();
    r.tail = lines[lines.len().saturating_sub(40)..].join("\n");
    // A failed `expect` fails the script whatever its status (without `set -e` the script
    // goes on after it).
    let expect_failed = o.lines().find(|l| l.starts_with("error: expect: "));
    if let Some(line) = expect_failed {
        r.failure = Some(line.to_string());
    } else if o.status != front.status {
        let why = first_error(&o)
            .or_else(|| o.message.clone())
            .unwrap_or_else(|| "no error line".into());
        r.failure = Some(format!(
            "status {}, expected {}: {why}",
            o.status, front.status
        ));
    }
    r
}

/// One result line: `PASS name [board] (1.23 s)`, `FAIL ...: why (log)`, `SKIP ...: reason`.
pub fn result_line(r: &CaseResult) -> String {
    let head = format!("{} [{}]", r.name, r.board.name());
    match (&r.skipped, &r.failure) {
        (Some(reason), _) => format!("SKIP {head}: {reason}"),
        (None, Some(why)) => {
            let log = r
                .log
                .as_ref()
                .map(|l| format!(" (transcript: {})", l.display()))
                .unwrap_or_default();
            format!("FAIL {head} ({:.2} s): {why}{log}", r.time.as_secs_f64())
        }
        (None, None) => format!("PASS {head} ({:.2} s)", r.time.as_secs_f64()),
    }
}

/// Text for XML: `& < > " '` escaped, control characters other than tab and line end dropped.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The results as JUnit XML: one `<testsuite>` per board, one `<testcase>` per script, with
/// `<failure>` (message: why; text: the transcript's end) or `<skipped>`.
pub fn junit_xml(results: &[CaseResult]) -> String {
    let count = |rs: &[&CaseResult]| {
        (
            rs.len(),
            rs.iter()
                .filter(|r| r.skipped.is_none() && r.failure.is_some())
                .count(),
            rs.iter().filter(|r| r.skipped.is_some()).count(),
            rs.iter().map(|r| r.time.as_secs_f64()).sum::<f64>(),
        )
    };
    let all: Vec<&CaseResult> = results.iter().collect();
    let (n, f, s, t) = count(&all);
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"rtos check\" tests=\"{n}\" failures=\"{f}\" errors=\"0\" skipped=\"{s}\" time=\"{t:.3}\">"
    );
    for board in Board::ALL {
        let rs: Vec<&CaseResult> = results.iter().filter(|r| r.board == board).collect();
        if rs.is_empty() {
            continue;
        }
        let (n, f, s, t) = count(&rs);
        let _ = writeln!(
            x,
            "  <testsuite name=\"{b}\" tests=\"{n}\" failures=\"{f}\" errors=\"0\" skipped=\"{s}\" time=\"{t:.3}\">",
            b = board.name()
        );
        for r in rs {
            let _ = write!(
                x,
                "    <testcase classname=\"scripts.{}\" name=\"{}\" file=\"{}\" time=\"{:.3}\"",
                board.name(),
                xml_escape(&r.name),
                xml_escape(&r.file.display().to_string()),
                r.time.as_secs_f64()
            );
            match (&r.skipped, &r.failure) {
                (Some(reason), _) => {
                    let _ = writeln!(
                        x,
                        ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                        xml_escape(reason)
                    );
                }
                (None, Some(why)) => {
                    let _ = writeln!(
                        x,
                        ">\n      <failure message=\"{}\" type=\"status\">{}</failure>\n    </testcase>",
                        xml_escape(why),
                        xml_escape(&r.tail)
                    );
                }
                (None, None) => {
                    let _ = writeln!(x, "/>");
                }
            }
        }
        let _ = writeln!(x, "  </testsuite>");
    }
    x.push_str("</testsuites>\n");
    x
}

/// `runner check`: returns the exit status (0 if all passed or were skipped, 1 if any failed,
/// 2 for bad arguments).
pub fn run_check(opts: &CheckOpts) -> i32 {
    let files = match collect(&opts.paths) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("runner: check: {e}");
            return crate::STATUS_USAGE;
        }
    };
    let root = opts
        .script
        .root
        .clone()
        .unwrap_or_else(crate::build::workspace_root);
    let logs = opts
        .logs
        .clone()
        .unwrap_or_else(|| crate::build::target_dir(&root).join("check"));
    // Each board's image, built once up front (or the one --kernel names, for one board).
    let mut kernels: Vec<(Board, PathBuf)> = Vec::new();
    for &board in &opts.boards {
        let image = match (&opts.script.kernel, opts.boards.len()) {
            (Some(k), 1) => Ok(k.clone()),
            _ => crate::build::build(&root, board, false),
        };
        match image {
            Ok(k) => kernels.push((board, k)),
            Err(e) => {
                eprintln!("runner: check: {e}");
                return crate::STATUS_START_FAILED;
            }
        }
    }
    let jobs: Vec<(PathBuf, Board)> = files
        .iter()
        .flat_map(|f| opts.boards.iter().map(move |&b| (f.clone(), b)))
        .collect();
    let total = jobs.len();
    // Popped from the end: reversed, so scripts start in order.
    let queue = Mutex::new(jobs.into_iter().enumerate().rev().collect::<Vec<_>>());
    let results: Mutex<Vec<(usize, CaseResult)>> = Mutex::new(Vec::new());
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.clamp(1, 16).min(total) {
            s.spawn(|| {
                loop {
                    let next = queue.lock().expect("queue").pop();
                    let Some((i, (file, board))) = next else {
                        break;
                    };
                    let mut o = opts.clone();
                    o.script.kernel = kernels
                        .iter()
                        .find(|(b, _)| *b == board)
                        .map(|(_, k)| k.clone());
                    let r = run_case(&file, board, &o, &logs);
                    println!("{}", result_line(&r));
                    results.lock().expect("results").push((i, r));
                }
            });
        }
    });
    let mut results = results.into_inner().expect("results");
    results.sort_by_key(|(i, _)| *i);
    let results: Vec<CaseResult> = results.into_iter().map(|(_, r)| r).collect();
    let failed = results
        .iter()
        .filter(|r| r.skipped.is_none() && r.failure.is_some())
        .count();
    let skipped = results.iter().filter(|r| r.skipped.is_some()).count();
    let passed = results.len() - failed - skipped;
    println!(
        "{passed} passed, {failed} failed, {skipped} skipped ({:.1} s)",
        start.elapsed().as_secs_f64()
    );
    if let Some(path) = &opts.junit {
        let xml = junit_xml(&results);
        if let Err(e) = path
            .parent()
            .map_or(Ok(()), |p| {
                if p.as_os_str().is_empty() {
                    Ok(())
                } else {
                    std::fs::create_dir_all(p)
                }
            })
            .and_then(|()| std::fs::write(path, xml))
        {
            eprintln!("runner: check: {}: {e}", path.display());
            return 1;
        }
        println!("JUnit XML: {}", path.display());
    }
    i32::from(failed > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter() {
        let f = parse_front(
            "# A script.\n# check: boards=rpi4 status=101\n#check: nothing\n\n# check: timeout=90 smp=2\necho hi\n# check: status=5\n",
        )
        .unwrap();
        assert_eq!(f.boards, Some(vec![Board::Rpi4]));
        assert_eq!(
            f.status, 101,
            "a later line after a command is not front matter"
        );
        assert_eq!(f.timeout, Some(Duration::from_secs(90)));
        assert_eq!(f.smp, Some(2));
        assert_eq!(f.skip, None);
        assert_eq!(parse_front("echo\n").unwrap(), Front::default());
        let f = parse_front("# check: skip=needs a real Pi (GPIO)\n").unwrap();
        assert_eq!(f.skip.as_deref(), Some("needs a real Pi (GPIO)"));
        for (bad, want) in [
            ("# x\n# check: color=red\n", "line 2: unknown key `color`"),
            (
                "# check: boards=pdp11\n",
                "line 1: bad value for boards: `pdp11`",
            ),
            (
                "# check: status=300\n",
                "line 1: bad value for status: `300`",
            ),
            ("# check: timeout=0\n", "line 1: bad value for timeout: `0`"),
            ("# check: smp=99\n", "line 1: bad value for smp: `99`"),
            ("# check: status\n", "line 1: `status` is not key=value"),
        ] {
            let e = parse_front(bad).unwrap_err();
            assert!(e.starts_with(want), "{bad:?}: {e}");
        }
    }

    fn case(name: &str, board: Board, skipped: Option<&str>, failure: Option<&str>) -> CaseResult {
        CaseResult {
            name: name.into(),
            file: PathBuf::from(format!("tests/scripts/{name}")),
            board,
            time: Duration::from_millis(1234),
            skipped: skipped.map(String::from),
            failure: failure.map(String::from),
            tail: "rtos> echo <&\"'>\u{1b}[6n\u{0}]]>\nbye".into(),
            log: Some(PathBuf::from("target/check/virt/x.log")),
        }
    }

    #[test]
    fn result_lines() {
        assert_eq!(
            result_line(&case("a.rsh", Board::Virt, None, None)),
            "PASS a.rsh [virt] (1.23 s)"
        );
        assert_eq!(
            result_line(&case(
                "b.rsh",
                Board::Rpi4,
                None,
                Some("status 1, expected 0: error: x")
            )),
            "FAIL b.rsh [rpi4] (1.23 s): status 1, expected 0: error: x (transcript: target/check/virt/x.log)"
        );
        assert_eq!(
            result_line(&case("c.rsh", Board::Virt, Some("only for rpi4"), None)),
            "SKIP c.rsh [virt]: only for rpi4"
        );
    }

    #[test]
    fn junit_escapes_and_counts() {
        let x = junit_xml(&[
            case("a.rsh", Board::Virt, None, None),
            case("b<&>.rsh", Board::Virt, None, Some("status 1 \"x\" <y>")),
            case("c.rsh", Board::Rpi4, Some("only for virt"), None),
        ]);
        assert!(x.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"rtos check\" tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""), "{x}");
        assert!(
            x.contains("<testsuite name=\"virt\" tests=\"2\" failures=\"1\""),
            "{x}"
        );
        assert!(x.contains("name=\"b&lt;&amp;&gt;.rsh\""), "{x}");
        assert!(
            x.contains("message=\"status 1 &quot;x&quot; &lt;y&gt;\""),
            "{x}"
        );
        assert!(
            x.contains("rtos&gt; echo &lt;&amp;&quot;&apos;&gt;[6n]]&gt;\nbye</failure>"),
            "{x}"
        );
        assert!(!x.contains('\u{1b}') && !x.contains('\u{0}'));
        assert!(x.contains("<skipped message=\"only for virt\"/>"), "{x}");
        assert!(x.trim_end().ends_with("</testsuites>"));
    }
}
