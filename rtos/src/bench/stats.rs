//! The statistics of one row ([`Stats`]: min, median, p99, max) and the result table both the
//! shell's `bench` and the host runner print.

use alloc::string::String;

/// Summary of one row's samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Smallest sample.
    pub min: u64,
    /// Lower median: the sample at index `(n - 1) / 2` of the sorted samples.
    pub median: u64,
    /// 99th percentile, nearest rank: the sample at index `ceil(0.99 n) - 1`.
    pub p99: u64,
    /// Largest sample.
    pub max: u64,
}

impl Stats {
    /// Sorts `samples` and summarises them; `None` if there are none.
    pub fn of(samples: &mut [u64]) -> Option<Stats> {
        if samples.is_empty() {
            return None;
        }
        heapsort(samples);
        let n = samples.len();
        let p99 = (n * 99).div_ceil(100).max(1) - 1;
        Some(Stats {
            min: samples[0],
            median: samples[(n - 1) / 2],
            p99: samples[p99],
            max: samples[n - 1],
        })
    }
}

/// Sorts `v` ascending. `sort_unstable` is a few KiB of code for the one sort in the kernel; a
/// heapsort is a few hundred bytes and sorts 10,000 samples in well under a millisecond.
pub(crate) fn heapsort(v: &mut [u64]) {
    // Build a max-heap, then move its root to the end, one element at a time.
    let n = v.len();
    for i in (0..n + n / 2).rev() {
        let end = if i >= n {
            n
        } else {
            v.swap(0, i);
            i
        };
        let mut node = i.saturating_sub(n);
        let heap = &mut v[..end];
        loop {
            let mut child = 2 * node + 1;
            if child >= heap.len() {
                break;
            }
            if child + 1 < heap.len() && heap[child] < heap[child + 1] {
                child += 1;
            }
            if heap[node] >= heap[child] {
                break;
            }
            heap.swap(node, child);
            node = child;
        }
    }
}

/// One result row, e.g. `timers/4096`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// Benchmark name, with `/<case>` for sub-cases.
    pub name: String,
    /// Number of samples.
    pub n: usize,
    /// In counter ticks.
    pub ticks: Stats,
    /// In CPU cycles, when the port has a cycle counter and the row allows it.
    pub cycles: Option<Stats>,
}

impl Row {
    /// Its line in the result table (cycles `-` when not measured), aligned with
    /// [`table_header`]. The shell's `bench` and the host runner print the same table.
    pub fn table_line(&self) -> String {
        let t = self.ticks;
        let cycles = match self.cycles {
            Some(c) => alloc::format!("{:>9} {:>9} {:>9} {:>9}", c.min, c.median, c.p99, c.max),
            None => alloc::format!("{:>9} {:>9} {:>9} {:>9}", "-", "-", "-", "-"),
        };
        alloc::format!(
            "{:<24} {:>6} {:>9} {:>9} {:>9} {:>9}  {}",
            self.name,
            self.n,
            t.min,
            t.median,
            t.p99,
            t.max,
            cycles
        )
    }
}

/// The result table's header line.
pub fn table_header() -> String {
    alloc::format!(
        "{:<24} {:>6} {:>9} {:>9} {:>9} {:>9}  {:>9} {:>9} {:>9} {:>9}",
        "BENCH",
        "N",
        "MIN",
        "MEDIAN",
        "P99",
        "MAX",
        "CYC_MIN",
        "CYC_MED",
        "CYC_P99",
        "CYC_MAX"
    )
}
