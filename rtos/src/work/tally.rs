//! The deferred-work counts of [`crate::work::account`], added up from where each kind keeps
//! them: the shared counters, every live pool, every CPU. (Apart from the account itself so
//! that the mechanisms, which count, need not import what reads them.)

use crate::work::account::{Event, WorkCounts, WorkKind, stored};

/// The counters of `kind` since boot.
pub fn counts(kind: WorkKind) -> WorkCounts {
    let mut c = stored(kind);
    match kind {
        WorkKind::Workqueue | WorkKind::KthreadWorker => {
            for (s, n) in c.iter_mut().zip(crate::work::pool::live_counts(kind)) {
                *s += n;
            }
        }
        WorkKind::IrqWork => {
            for cpu in 0..crate::config::MAX_CPUS {
                if let Some(st) = crate::cpu::stats(cpu) {
                    c[Event::Submitted as usize] += st.irq_work_queued();
                    c[Event::Executed as usize] += st.irq_work_runs();
                }
            }
        }
        WorkKind::TaskWork => {}
    }
    WorkCounts {
        submitted: c[Event::Submitted as usize],
        merged: c[Event::Merged as usize],
        executed: c[Event::Executed as usize],
        cancelled: c[Event::Cancelled as usize],
    }
}
