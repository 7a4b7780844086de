//! `watchdog`: settings shown and changed, bad arguments change nothing, and on the fake kernel a
//! spinning thread is reported.

use std::string::String;
use std::vec::Vec;

use super::kthread::{Step, in_kernel, sh};

fn run(cmds: &'static [&'static str]) -> Vec<Step> {
    in_kernel(move || sh(cmds))
}

#[test]
fn settings_are_shown_and_bad_arguments_change_nothing() {
    let s = run(&[
        "watchdog",
        "watchdog --soft 100ms",
        "watchdog --hung 7200s",
        "watchdog --soft 1s --hung 0",
        "watchdog maybe",
        "watchdog on off",
        "watchdog",
        "watchdog off --soft 3s --hung 1500ms",
        "watchdog",
    ]);
    assert_eq!(
        s[0].ok().out,
        [
            "watchdog: on, but its thread is not started (watchdog on starts it); looks every 250ms",
            "  soft lockup: a thread keeping its CPU, or a CPU taking no interrupt, for > 2s",
            "  hung work: a work, task_work or irq_work callback running for > 2s",
            "  reports: 0 soft lockup, 0 hung work, 0 hard lockup, 0 irq_work storm",
        ]
    );
    s[1].fails(
        2,
        "error: watchdog: --soft 100ms is out of range (expected 500ms..=3600s)",
    );
    s[2].fails(
        2,
        "error: watchdog: --hung 7200s is out of range (expected 500ms..=3600s)",
    );
    // One bad value: the good one is not applied either.
    s[3].fails(
        2,
        "error: watchdog: --hung 0ns is out of range (expected 500ms..=3600s)",
    );
    s[4].fails(
        2,
        "error: watchdog: unknown argument 'maybe' (expected on or off)",
    );
    s[5].fails(2, "error: watchdog: unexpected argument 'off'");
    assert_eq!(s[6].ok().out, s[0].out, "nothing changed");
    assert!(s[7].ok().out.is_empty(), "{:?}", s[7]);
    assert_eq!(
        s[8].ok().out[..3],
        [
            "watchdog: off; looks every 250ms",
            "  soft lockup: a thread keeping its CPU, or a CPU taking no interrupt, for > 3s",
            "  hung work: a work, task_work or irq_work callback running for > 1.5s",
        ]
    );
}

#[test]
fn a_spinner_is_reported_as_a_soft_lockup() {
    let s = run(&[
        "watchdog on --soft 500ms",
        "spawn spin s --cpu 1",
        "sleep 1500ms",
        "stop s",
        "watchdog",
    ]);
    s[0].ok();
    s[1].ok();
    let last = &s[4].ok().out;
    assert_eq!(last[0], "watchdog: on; looks every 250ms", "{last:?}");
    let reports: String = last[3].clone();
    let soft: u64 = reports
        .trim()
        .strip_prefix("reports: ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{reports}"));
    assert!(soft >= 1, "{last:?}");
}
