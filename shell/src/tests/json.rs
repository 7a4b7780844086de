//! `--json` on the listing commands: one JSON document each, whose fields say what the kernel
//! holds.

use std::vec::Vec;

use super::kthread::{Step, in_kernel, sh};

fn run(cmds: &'static [&'static str]) -> Vec<Step> {
    in_kernel(move || {
        crate::work::registry::reset();
        sh(cmds)
    })
}

/// The step's single output line, parsed.
fn doc(s: &Step) -> serde_json::Value {
    serde_json::from_str(s.ok().line()).unwrap_or_else(|e| panic!("{e}: {s:?}"))
}

#[test]
fn every_listing_command_prints_one_json_document() {
    let s = run(&[
        "uptime --json",
        "cpus --json",
        "wq create jq",
        "wq queue jq jw --fn count --cpu 2",
        "wait work jw runs >= 1",
        "wq delay jq later 5s --fn count --cpu 1",
        "wq list --json",
        "timers --json",
        "irqwork queue iw --fn count --cpu 3",
        "wait work iw runs >= 1",
        "irqwork queue never --fn count --lazy --cpu 0",
        "irqwork list --json",
        "spawn sleeper zz",
        "taskwork add zz a --notify none --fn count",
        "taskwork add zz b --notify none --fn count",
        "taskwork list zz --json",
        "trace stats --json",
        "trace start irq",
        "trace stop",
        "trace stats --json",
        "cpus --json extra",
        "wq cancel later",
    ]);
    let up = doc(&s[0]);
    let ns = up["uptime_ns"].as_u64().unwrap();
    assert_eq!(up["uptime_ms"].as_u64().unwrap(), ns / 1_000_000);
    let cpus = doc(&s[1]);
    let cpus = cpus["cpus"].as_array().unwrap();
    assert_eq!(cpus.len(), 4, "{cpus:?}");
    for (i, c) in cpus.iter().enumerate() {
        assert_eq!(c["cpu"], i);
        assert!(c["irqs"].as_u64().unwrap() >= c["sgis"].as_u64().unwrap());
        assert!(c["irq_work_deferred"].is_u64() && c["idle_ms"].is_u64());
    }
    let wq = doc(&s[6]);
    let jq = wq["workqueues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "jq")
        .unwrap_or_else(|| panic!("{wq}"))
        .clone();
    assert_eq!(jq["single"], false);
    assert_eq!(jq["cpus"], serde_json::json!([0, 1, 2, 3]));
    assert_eq!(
        (jq["queued"].as_u64(), jq["delayed"].as_u64()),
        (Some(0), Some(1))
    );
    let timers = doc(&s[7]);
    let calls: Vec<&serde_json::Value> = timers["timers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == "call" && t["cpu"].is_u64())
        .collect();
    assert!(
        calls.iter().any(|t| {
            let d = t["due_in_ns"].as_u64().unwrap();
            d > 4_000_000_000 && d <= 5_000_000_000
        }),
        "the delayed work's timer (armed on the shell's CPU): {timers}"
    );
    let iw = doc(&s[11]);
    let works = iw["irq_works"].as_array().unwrap();
    let find = |n: &str| works.iter().find(|w| w["name"] == n).unwrap().clone();
    let ran = find("iw");
    assert_eq!(
        (ran["runs"].as_u64(), ran["cpu"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(
        (ran["pending"].as_bool(), ran["lazy"].as_bool()),
        (Some(false), Some(false))
    );
    let lazy = find("never");
    assert_eq!(lazy["lazy"], true);
    assert_eq!(lazy["cpu"], serde_json::Value::Null, "never ran: {lazy}");
    let tw = doc(&s[15]);
    assert_eq!(tw["thread"], "zz");
    assert_eq!(tw["works"], serde_json::json!(["b", "a"]), "newest first");
    assert!(tw["tid"].as_u64().unwrap() > 2);
    // (The ring size is fixed by the process's first start, maybe another test's.)
    let before = doc(&s[16]);
    assert!(
        before["size"].is_null() || before["size"] == 4096,
        "{before}"
    );
    let st = doc(&s[19]);
    assert_eq!(
        (st["on"].as_bool(), st["size"].as_u64()),
        (Some(false), Some(4096))
    );
    assert_eq!(st["classes"], serde_json::json!(["irq"]));
    assert!(
        st["by_class"]["irq"].is_u64() && st["by_class"]["sched"] == 0,
        "{st}"
    );
    assert_eq!(st["cpus"].as_array().unwrap().len(), 4);
    s[20].fails(2, "error: cpus: unexpected argument 'extra'");
}
