//! Helpers the command modules share: the scheduler check, thread and CPU arguments, deadlines,
//! the default timeout, durations for messages, JSON strings, and [`VecMap`] (the registries'
//! map).

use alloc::format;
use alloc::string::String;
use core::fmt::Write as _;

use rtos::Error;
use rtos::kthread::{self, KThread};
use rtos::port::Port;
use rtos::sched;
use rtos::time::Duration;

use crate::args::CmdError;

pub(crate) mod ctlstr;
pub(crate) mod json;
pub(crate) mod names;
pub(crate) mod regex;
mod vec_map;
pub(crate) use vec_map::VecMap;

/// Default `--timeout` of `park`, `stop` and `wait`.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The port, once the scheduler runs on at least one CPU.
pub(crate) fn scheduler() -> Result<&'static dyn Port, CmdError> {
    rtos::port::try_port()
        .filter(|_| sched::online_mask() != 0 && on_kernel_cpu())
        .ok_or_else(|| CmdError::runtime("the scheduler is not running"))
}

/// Whether the shell runs on one of the kernel's CPUs: on bare metal always; on the host, a
/// session on a test's own thread (no kernel of its own) must not call into the fake kernel that
/// another test runs at the same moment.
fn on_kernel_cpu() -> bool {
    #[cfg(target_os = "none")]
    return true;
    #[cfg(not(target_os = "none"))]
    rtos::fake::on_kernel_cpu()
}

/// The kthread `key` names (tid or name).
pub(crate) fn lookup(key: &str) -> Result<KThread, CmdError> {
    kthread::find(key).ok_or_else(|| CmdError::runtime(format!("no such thread '{key}' (ESRCH)")))
}

/// `--cpu`/`<cpu>` named a CPU the scheduler does not run on: a bad argument.
pub(crate) fn bad_cpu(cpu: usize, e: Error) -> CmdError {
    CmdError::usage(format!("CPU {cpu} is not online ({})", e.name()))
}

/// `--cpu N` must name an online CPU.
pub(crate) fn check_cpu(cpu: Option<usize>) -> Result<(), CmdError> {
    match cpu {
        Some(c) if c >= rtos::config::MAX_CPUS || sched::online_mask() & (1 << c) == 0 => {
            Err(bad_cpu(c, Error::Invalid))
        }
        _ => Ok(()),
    }
}

/// `d` in whole nanoseconds, saturating (a `u64` holds 584 years; the `u128` that
/// `Duration::as_nanos` returns would pull 128-bit formatting and division into the image).
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A duration for messages: `5s`, `1.5s`, `500ms`, `250us`, `7ns`.
pub(crate) fn show_duration(d: Duration) -> String {
    let ns = nanos(d);
    let units = [(1_000_000_000, "s"), (1_000_000, "ms"), (1_000, "us")];
    for (unit, suffix) in units {
        if ns >= unit {
            let (whole, frac) = (ns / unit, ns % unit);
            if frac == 0 {
                return format!("{whole}{suffix}");
            }
            let mut s = format!("{whole}.{frac:0width$}", width = unit.ilog10() as usize);
            while s.ends_with('0') {
                s.pop();
            }
            s.push_str(suffix);
            return s;
        }
    }
    format!("{ns}ns")
}

/// A duration in a table column, the one convention every table uses: three significant digits
/// in the largest unit that keeps the number under 1000, at most 6 characters, rounded down:
/// `850ns`, `2.27us`, `20.5ms`, `301ms`, `1.50s`, `12.0s`, `3600s`.
pub(crate) fn show_span(d: Duration) -> String {
    let ns = nanos(d);
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    let (unit, suffix) = if ns < 1_000_000 {
        (1_000, "us")
    } else if ns < 1_000_000_000 {
        (1_000_000, "ms")
    } else {
        (1_000_000_000, "s")
    };
    let (whole, hundredths) = (ns / unit, ns % unit * 100 / unit);
    if whole < 10 {
        format!("{whole}.{hundredths:02}{suffix}")
    } else if whole < 100 {
        format!("{whole}.{}{suffix}", hundredths / 10)
    } else {
        format!("{whole}{suffix}")
    }
}

/// Time since boot as `h:mm:ss.mmm`.
pub(crate) fn show_uptime(d: Duration) -> String {
    let ms = nanos(d) / 1_000_000;
    let (h, m, s, ms) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    format!("{h}:{m:02}:{s:02}.{ms:03}")
}

/// `s` in exactly `width` terminal columns: padded with spaces, or cut with `…` when wider
/// (CJK and other wide characters count two columns; control characters none), so that table
/// columns line up whatever the names.
pub(crate) fn fit(s: &str, width: usize) -> String {
    use unicode_width::UnicodeWidthChar;
    let w = |c: char| c.width().unwrap_or(0);
    let total: usize = s.chars().map(w).sum();
    let mut out = String::with_capacity(s.len().min(4 * width) + width);
    let mut used = 0;
    if total <= width {
        out.push_str(s);
        used = total;
    } else {
        for c in s.chars() {
            if used + w(c) > width.saturating_sub(1) {
                break;
            }
            out.push(c);
            used += w(c);
        }
        if width > 0 {
            out.push('…');
            used += 1;
        }
    }
    for _ in used..width {
        out.push(' ');
    }
    out
}

/// `s` as a JSON string literal.
pub(crate) fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_for_messages() {
        assert_eq!(show_duration(Duration::from_nanos(5_000_000_000)), "5s");
        assert_eq!(show_duration(Duration::from_nanos(1_500_000_000)), "1.5s");
        assert_eq!(show_duration(Duration::from_nanos(500_000_000)), "500ms");
        assert_eq!(show_duration(Duration::from_nanos(1_250_000)), "1.25ms");
        assert_eq!(show_duration(Duration::from_nanos(250_000)), "250us");
        assert_eq!(show_duration(Duration::from_nanos(7)), "7ns");
        assert_eq!(show_duration(Duration::from_nanos(0)), "0ns");
    }

    #[test]
    fn spans_have_three_significant_digits() {
        let ns = Duration::from_nanos;
        assert_eq!(show_span(ns(0)), "0ns");
        assert_eq!(show_span(ns(999)), "999ns");
        assert_eq!(show_span(ns(2_279)), "2.27us");
        assert_eq!(show_span(ns(310_416)), "310us");
        assert_eq!(show_span(ns(2_270_544)), "2.27ms");
        assert_eq!(show_span(ns(20_500_000)), "20.5ms");
        assert_eq!(show_span(ns(201_978_448)), "201ms");
        assert_eq!(show_span(ns(1_500_000_000)), "1.50s");
        assert_eq!(show_span(ns(12_000_000_000)), "12.0s");
        assert_eq!(show_span(Duration::from_secs(3600)), "3600s");
    }

    #[test]
    fn names_fit_their_column() {
        use unicode_width::UnicodeWidthStr;
        assert_eq!(fit("shell", 8), "shell   ");
        assert_eq!(fit("exactly8", 8), "exactly8");
        assert_eq!(fit("ninechars", 8), "ninecha…");
        // Wide characters take two columns; a cut never splits one.
        assert_eq!(fit("日本語", 8), "日本語  ");
        assert_eq!(fit("日本語の名前", 8), "日本語… ");
        assert_eq!(fit("日本語の名前", 8).width(), 8);
        let long = "x".repeat(63);
        assert_eq!(fit(&long, 16).width(), 16);
        assert_eq!(fit("", 3), "   ");
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_str("plain"), "\"plain\"");
        assert_eq!(json_str("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(json_str("t\tn\nr\r"), "\"t\\tn\\nr\\r\"");
        assert_eq!(json_str("\u{1}\u{7f}"), "\"\\u0001\\u007f\"");
        assert_eq!(json_str("grüße 😀"), "\"grüße 😀\"");
    }
}
