//! `bench` in a fake kernel: the command line, the table and the JSON line.

use super::kthread::{in_kernel, sh};

#[test]
fn bench_runs_in_the_fake_kernel() {
    let steps = in_kernel(|| {
        sh(&[
            "bench yield timers --iters 5 --json",
            "bench irqwork --iters 3",
            "bench nope",
            "bench --iters 0",
            "bench boot extra --iters 2000000",
        ])
    });
    let json = steps[0].ok().line();
    assert!(
        json.starts_with("{\"bench\":1,\"hz\":1000000000,\"rows\":[{\"name\":\"yield\",\"n\":5,"),
        "{json}"
    );
    for row in ["\"timers/16\"", "\"timers/256\"", "\"timers/4096\""] {
        assert!(json.contains(row), "{json}");
    }
    let table = &steps[1].ok().out;
    assert_eq!(table.len(), 3, "{table:?}");
    assert!(table[0].starts_with("BENCH"));
    assert!(table[1].starts_with("irqwork "), "{table:?}");
    assert!(table[2].contains("1000000000 Hz"));
    assert_eq!(steps[2].status, 2);
    assert!(
        steps[2]
            .line()
            .starts_with("error: bench: unknown benchmark 'nope' (one of: yield,")
    );
    steps[3].fails(2, "error: bench: --iters must be from 1 to 1000000");
    steps[4].fails(2, "error: bench: --iters must be from 1 to 1000000");
}

#[test]
fn bench_needs_the_scheduler() {
    let steps = sh(&["bench yield"]);
    steps[0].fails(1, "error: bench: the scheduler is not running");
}
