//! Naming the addresses of a `KERNEL PANIC` report: the ELR (where the fault happened), the LR
//! (x30) and the kernel's `return addresses on the stack:` line (a stack scan) are looked up in the
//! kernel's ELF with `addr2line` (DWARF line tables and inline information), so a fault report
//! says which function, file and line, inlined callers included.

use std::fmt::Write as _;
use std::path::Path;

/// The addresses a report holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// `ELR 0x...`: the faulting instruction (absent for a Rust panic).
    pub elr: Option<u64>,
    /// `x30 0x...`: the return address of the faulting function.
    pub lr: Option<u64>,
    /// `return addresses on the stack: 0x... 0x...`: innermost first.
    pub backtrace: Vec<u64>,
}

impl Report {
    /// Whether there is anything to look up.
    pub fn is_empty(&self) -> bool {
        self.elr.is_none() && self.lr.is_none() && self.backtrace.is_empty()
    }
}

/// How the kernel's report line of return addresses starts (bsp/src/panic.rs).
const STACK_LINE: &str = "return addresses on the stack:";

fn hex(word: &str) -> Option<u64> {
    u64::from_str_radix(word.strip_prefix("0x")?, 16).ok()
}

/// The first report in `transcript` (from its `KERNEL PANIC` line on), if there is one.
pub fn parse_report(transcript: &str) -> Option<Report> {
    // The marker starts a line (an echoed script line may mention it too).
    let mut lines = transcript
        .lines()
        .skip_while(|l| !l.starts_with(crate::transcript::PANIC_MARK_STR));
    lines.next()?;
    let mut r = Report::default();
    for line in lines {
        let line = line.trim_end_matches('\r');
        if !line.starts_with("  ") {
            break; // the report's details are indented
        }
        if let Some(rest) = line.trim_start().strip_prefix(STACK_LINE) {
            r.backtrace = rest.split_whitespace().filter_map(hex).collect();
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        for pair in words.windows(2) {
            match pair[0] {
                "ELR" => r.elr = hex(pair[1]),
                "x30" => r.lr = hex(pair[1]),
                _ => {}
            }
        }
    }
    Some(r)
}

/// A function name without its hash suffix (`::h0123456789abcdef`).
pub(crate) fn tidy_name(name: &str) -> &str {
    match name.rsplit_once("::h") {
        Some((head, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            head
        }
        _ => name,
    }
}

/// A source path relative to the workspace, or to the Rust library (`library/...`).
fn tidy_path<'a>(path: &'a str, root: &str) -> &'a str {
    if let Some(rel) = path.strip_prefix(root) {
        return rel.trim_start_matches('/');
    }
    if let Some(i) = path.find("/library/") {
        return &path[i + 1..];
    }
    path
}

/// The lines naming `r`'s addresses in `elf` (each: label, address, function at file:line, then
/// `inlined into` lines), or why they cannot be named.
pub fn symbolize(elf: &Path, r: &Report) -> Result<String, String> {
    let loader = addr2line::Loader::new(elf)
        .map_err(|e| format!("cannot read {} for symbols: {e}", elf.display()))?;
    let root = crate::build::workspace_root().display().to_string();
    let mut out = String::new();
    let mut entries: Vec<(String, u64, u64)> = Vec::new();
    if let Some(a) = r.elr {
        entries.push(("ELR".into(), a, a));
    }
    if let Some(a) = r.lr {
        // A return address: the call is the instruction before it.
        entries.push(("LR".into(), a, a.saturating_sub(4)));
    }
    for (i, &a) in r.backtrace.iter().enumerate() {
        entries.push((format!("#{i}"), a, a.saturating_sub(4)));
    }
    for (label, shown, probe) in entries {
        let _ = write!(out, "  {label:<4} {shown:#012x}  ");
        let mut names: Vec<String> = Vec::new();
        if let Ok(mut frames) = loader.find_frames(probe) {
            while let Ok(Some(f)) = frames.next() {
                let func = f
                    .function
                    .as_ref()
                    .and_then(|n| n.demangle().ok())
                    .map(|n| tidy_name(&n).to_string())
                    .unwrap_or_else(|| "??".into());
                let at = f.location.as_ref().map_or(String::new(), |l| {
                    format!(
                        " at {}:{}",
                        tidy_path(l.file.unwrap_or("??"), &root),
                        l.line.unwrap_or(0)
                    )
                });
                names.push(format!("{func}{at}"));
            }
        }
        if names.is_empty()
            && let Some(sym) = loader.find_symbol(probe)
        {
            names.push(tidy_name(&addr2line::demangle_auto(sym.into(), None)).to_string());
        }
        if names.is_empty() {
            names.push("?? (not in the image's symbols)".into());
        }
        // Innermost first, as addr2line gives them; the outer ones are the inlining callers.
        let _ = writeln!(out, "{}", names[0]);
        for outer in &names[1..] {
            let _ = writeln!(out, "{:20}inlined into {outer}", "");
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "rtos> # prints a `KERNEL PANIC` line\r\ncrash: deliberate fault\r\n\r\nKERNEL PANIC on cpu0: unhandled \
        synchronous exception: data abort (EC 0x25)\r\n  in thread shell (tid 1) on cpu0\r\n  \
        ESR 0x0000000096000005 (translation fault (unmapped address), read)\r\n  FAR \
        0x0000007f00000000  ELR 0x00000000402085e8  SPSR 0x0000000060000345\r\n  x27 \
        0x0000000000000001 x28 0x0000000040404a68 x29 0x0000000040404770\r\n  x30 \
        0x000000004020391c\r\n  return addresses on the stack: 0x4020391c 0x40247c34 0x40200224\r\nrunner: x\r\n";

    #[test]
    fn a_fault_report_gives_its_addresses() {
        let r = parse_report(REPORT).expect("a report");
        assert_eq!(r.elr, Some(0x4020_85e8));
        assert_eq!(r.lr, Some(0x4020_391c));
        assert_eq!(r.backtrace, [0x4020_391c, 0x4024_7c34, 0x4020_0224]);
        assert!(!r.is_empty());
    }

    #[test]
    fn a_panic_has_no_elr_and_no_report_means_none() {
        let r = parse_report(
            "KERNEL PANIC on cpu1: boom (at rtos/src/x.rs:3)\r\n  in thread a (tid 4) on cpu1\r\n  \
             return addresses on the stack: 0x40001000\r\n",
        )
        .expect("a report");
        assert_eq!((r.elr, r.lr), (None, None));
        assert_eq!(r.backtrace, [0x4000_1000]);
        assert_eq!(parse_report("rtos> echo hi\r\nhi\r\n"), None);
        let r = parse_report(
            "KERNEL PANIC x\r\n  return addresses on the stack: (none: not on a thread stack)\r\n",
        )
        .unwrap();
        assert!(r.is_empty());
    }

    #[test]
    fn names_and_paths_are_tidied() {
        assert_eq!(
            tidy_name("shell::machine::cmd_crash::h837209061dbec500"),
            "shell::machine::cmd_crash"
        );
        assert_eq!(tidy_name("bsp_thread_start"), "bsp_thread_start");
        assert_eq!(tidy_name("a::hx"), "a::hx");
        assert_eq!(
            tidy_path("/w/shell/src/machine.rs", "/w"),
            "shell/src/machine.rs"
        );
        assert_eq!(
            tidy_path("/rustc/5980/library/core/src/sync/atomic.rs", "/w"),
            "library/core/src/sync/atomic.rs"
        );
    }

    #[test]
    fn a_missing_elf_is_an_error_not_a_panic() {
        let e = symbolize(Path::new("/nonexistent/elf"), &Report::default()).unwrap_err();
        assert!(e.contains("/nonexistent/elf"), "{e}");
    }
}
