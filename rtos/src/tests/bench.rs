//! Host tests: the statistics, and a smoke run of every benchmark on the fake port.

use crate::bench::*;
use crate::error::Error;
use crate::fake::run as fake_run;
use alloc::vec;
use alloc::vec::Vec;

#[test]
fn stats_of_known_samples() {
    assert_eq!(Stats::of(&mut []), None);
    let one = Stats::of(&mut [7]).unwrap();
    assert_eq!((one.min, one.median, one.p99, one.max), (7, 7, 7, 7));
    let mut v: Vec<u64> = (1..=100).rev().collect();
    let s = Stats::of(&mut v).unwrap();
    assert_eq!((s.min, s.median, s.p99, s.max), (1, 50, 99, 100));
    let mut v: Vec<u64> = (1..=1000).collect();
    let s = Stats::of(&mut v).unwrap();
    assert_eq!((s.median, s.p99), (500, 990));
    // Even count: the lower median; a single outlier shows in max only.
    let s = Stats::of(&mut [5, 1, 3, 1000]).unwrap();
    assert_eq!((s.min, s.median, s.p99, s.max), (1, 3, 1000, 1000));
    let mut v = vec![10; 200];
    v[0] = 1_000_000;
    let s = Stats::of(&mut v).unwrap();
    assert_eq!((s.median, s.p99, s.max), (10, 10, 1_000_000));
}

#[test]
fn heapsort_sorts() {
    let mut rng = crate::tests::util::Rng(0x9E37_79B9_7F4A_7C15);
    for n in (0..40).chain([255, 256, 1000, 10_000]) {
        let mut v: Vec<u64> = (0..n).map(|_| rng.below(50)).collect(); // duplicates too
        let mut want = v.clone();
        want.sort_unstable();
        crate::bench::heapsort(&mut v);
        assert_eq!(v, want, "n = {n}");
    }
    let mut desc: Vec<u64> = (0..1000).rev().collect();
    crate::bench::heapsort(&mut desc);
    assert!(desc.iter().copied().eq(0..1000));
}

#[test]
fn recorder_skips_warmup_and_stops_when_full() {
    let ctx = Ctx {
        iters: 3,
        warm: 2,
        cpu: 0,
        remote: None,
    };
    let mut r = Recorder::new("x", &ctx);
    let at = |t| Stamp { t, c: Some(t * 2) };
    for i in 0..10u64 {
        r.add(at(0), at(100 + i));
    }
    assert!(r.done());
    let row = r.row();
    assert_eq!(row.n, 3);
    assert_eq!((row.ticks.min, row.ticks.max), (102, 104));
    assert_eq!(row.cycles.unwrap().min, 204);
    let mut r = Recorder::new("y", &ctx).without_cycles();
    r.add(at(0), at(1));
    assert_eq!(r.row().cycles, None);
}

#[test]
fn every_benchmark_has_a_unique_name() {
    for (i, b) in BENCHES.iter().enumerate() {
        assert!(BENCHES[..i].iter().all(|o| o.name != b.name), "{}", b.name);
        assert!(b.iters >= 1);
        assert!(find(b.name).is_some());
    }
    assert!(find("nope").is_none());
}

fn check_rows(name: &str, rows: &[Row], iters: usize) {
    assert!(!rows.is_empty(), "{name}: no rows");
    for r in rows {
        assert!(
            r.name == name || r.name.starts_with(&format!("{name}/")),
            "{name}: row {}",
            r.name
        );
        assert_eq!(r.n, iters, "{}", r.name);
        let t = r.ticks;
        assert!(
            t.min <= t.median && t.median <= t.p99 && t.p99 <= t.max,
            "{}: {t:?}",
            r.name
        );
        assert!(t.max > 0, "{}: all zero", r.name);
    }
}

/// Runs every benchmark (except `boot`) with a few iterations on a 3-CPU fake system (`hotplug`
/// needs a CPU that is neither CPU 0 nor the measuring one).
#[test]
fn every_benchmark_runs_on_the_fake_port() {
    let r = fake_run(3, || {
        for b in BENCHES.iter().filter(|b| b.name != "boot") {
            let iters = if b.name == "delayed" { 3 } else { 20 };
            let rows = run(b.name, Some(iters)).unwrap_or_else(|e| panic!("{}: {e:?}", b.name));
            check_rows(b.name, &rows, iters);
            let expect = match b.name {
                "irqwork-remote" | "queue-work" | "delayed" | "trace" | "cancel-work" => 2,
                "timers" | "sched-scale" => 3,
                _ => 1,
            };
            assert_eq!(rows.len(), expect, "{}", b.name);
        }
        // Nothing left behind: no bench thread is still registered.
        assert!(
            crate::kthread::list()
                .iter()
                .all(|t| !t.name().starts_with("bench")),
            "leftover bench threads"
        );
        0
    });
    assert_eq!(r, 0);
}

#[test]
fn cross_cpu_benchmark_needs_two_cpus() {
    let r = fake_run(1, || {
        assert_eq!(run("irqwork-remote", Some(5)), Err(Error::Invalid));
        assert_eq!(run("hotplug", Some(5)), Err(Error::Invalid));
        assert_eq!(run("nope", Some(5)), Err(Error::Invalid));
        0
    });
    assert_eq!(r, 0);
}

#[test]
fn boot_row_once_recorded() {
    let r = fake_run(1, || {
        crate::boot::set_entry(crate::time::Instant::ZERO);
        crate::boot::mark_prompt();
        let first = crate::boot::to_prompt_ticks().unwrap();
        crate::boot::mark_prompt(); // later prompts change nothing
        assert_eq!(crate::boot::to_prompt_ticks(), Some(first));
        let rows = run("boot", None).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].n, rows[0].ticks.min), (1, first));
        0
    });
    assert_eq!(r, 0);
}
