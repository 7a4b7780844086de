//! One grammar for every name a user gives: threads (`spawn`), kthread workers (`kworker
//! create`), workqueues (`wq create`) and works (the first `--fn` that makes one).
//! - 1 to [`rtos::config::MAX_NAME`] bytes of printable characters (any script; spaces and
//!   quotes too, quoted on the line): no control characters (they would act on the terminal
//!   wherever the name is shown) and no `/` (the kernel names a workqueue's per-CPU threads
//!   `<wq>/<cpu>`);
//! - not all digits (it would read as a thread id where threads are looked up);
//! - not one of the system's own names ([`RESERVED`]): a user's `klogd` thread or `events`
//!   queue would shadow, or be mistaken for, the kernel's.

use crate::args::CmdError;
use alloc::format;

/// The system's own names, which no user object may take.
pub(crate) const RESERVED: [&str; 6] = ["shell", "kthreadd", "klogd", "watchdog", "idle", "events"];

/// Checks `name` for a new `what` (`thread`, `kworker`, `workqueue`, `work`).
pub(crate) fn check_new(what: &str, name: &str) -> Result<(), CmdError> {
    if name.is_empty() {
        return Err(CmdError::usage(format!("empty {what} name")));
    }
    if name.len() > rtos::config::MAX_NAME {
        return Err(CmdError::usage(format!(
            "{what} name too long (max {} bytes)",
            rtos::config::MAX_NAME
        )));
    }
    if let Some(c) = name.chars().find(|&c| c.is_control() || c == '/') {
        return Err(CmdError::usage(format!(
            "{what} name '{}' has {:?}: a name is printable characters other than '/'",
            name.escape_default(),
            c
        )));
    }
    if name.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CmdError::usage(format!(
            "{what} name '{name}' is a number (it would read as a tid)"
        )));
    }
    if RESERVED.contains(&name) {
        return Err(CmdError::runtime(format!(
            "{what} name '{name}' is reserved for the system ({}) (EPERM)",
            RESERVED.join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(what: &str, name: &str) -> String {
        check_new(what, name).unwrap_err().msg.clone()
    }

    #[test]
    fn one_grammar_for_every_name() {
        for ok in [
            "a",
            "spin-1",
            "q_2",
            "v1.0",
            "1st",
            "my thread",
            "a\"b",
            "睡眠",
            &"n".repeat(63),
        ] {
            assert!(check_new("thread", ok).is_ok(), "{ok}");
        }
        assert_eq!(why("workqueue", ""), "empty workqueue name");
        assert_eq!(
            why("thread", &"n".repeat(64)),
            "thread name too long (max 63 bytes)"
        );
        assert_eq!(
            why("kworker", "77"),
            "kworker name '77' is a number (it would read as a tid)"
        );
        assert_eq!(
            why("workqueue", "a/b"),
            "workqueue name 'a/b' has '/': a name is printable characters other than '/'"
        );
        assert_eq!(
            why("work", "x\u{1b}y"),
            "work name 'x\\u{1b}y' has '\\u{1b}': a name is printable characters other than '/'"
        );
        for r in RESERVED {
            assert!(
                why("thread", r).contains("is reserved for the system"),
                "{r}"
            );
        }
    }
}
