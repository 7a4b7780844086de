//! The benchmark bodies (see `bench::BENCHES` for what each measures). Each runs in the
//! measuring thread, bound to `ctx.cpu` at [`MEASURE_PRIO`].

use super::harness::{
    AtomicStamp, Ctx, HELPER_PRIO, MEASURE_PRIO, Recorder, Stamp, align, opts, span, stamp,
};
use super::stats::{Row, Stats};
use crate::error::Error;
use crate::kthread::{self, KThread};
use crate::sched::{self, State};
use crate::sync::IrqSpinLock;
use crate::time::{Duration, Instant};
use crate::timer;
use crate::wait::Completion;
use crate::work::irq_work::{self, IrqWork};
use crate::work::kthread_worker;
use crate::work::task_work::{self, Notify, TaskWork};
use crate::work::workqueue::{self, Work};
use alloc::boxed::Box;
use alloc::format;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Counter ticks in `d` (rounded up).
fn ticks(d: Duration) -> u64 {
    crate::time::duration_to_ticks(d, crate::time::ticks_per_second())
}

/// Yields until `t` is in `state` (the measuring thread stays runnable meanwhile).
fn until_state(t: &KThread, state: State) {
    while t.state() != state {
        sched::yield_now();
    }
}

struct Pair {
    rec: IrqSpinLock<Recorder>,
    /// With `Pair::averaged`, the first switch of a round trip, until the second one comes: the
    /// sample is their mean.
    half: IrqSpinLock<Option<(u64, Option<u64>)>>,
    averaged: bool,
    /// The stamp the side that switches away leaves; three stores after the counter read, so
    /// the measurement adds little to the switch it measures.
    last: AtomicStamp,
    started: AtomicUsize,
    quit: AtomicBool,
    ping: Completion,
    pong: Completion,
}

impl Pair {
    fn new(name: &str, ctx: &Ctx) -> Arc<Self> {
        Arc::new(Pair {
            rec: IrqSpinLock::new(Recorder::new(name, ctx)),
            half: IrqSpinLock::new(None),
            averaged: false,
            last: AtomicStamp::default(),
            started: AtomicUsize::new(0),
            quit: AtomicBool::new(false),
            ping: Completion::new(),
            pong: Completion::new(),
        })
    }
    /// A pair whose samples are the mean of the two switches of a round trip: for sides whose
    /// switches differ (one side is woken while it is still runnable, the other from its wait),
    /// each direction on its own would put half the samples in each of two modes and the
    /// median on their boundary, where a few outliers move it from one mode to the other.
    fn averaged(name: &str, ctx: &Ctx) -> Arc<Self> {
        let mut p = Arc::into_inner(Self::new(name, ctx)).expect("just made");
        p.averaged = true;
        Arc::new(p)
    }
    /// Records `last -> now` if the other side left a stamp; true once the row is full.
    fn record(&self, now: Stamp) -> bool {
        let last = self.last.take();
        let mut rec = self.rec.lock();
        if let Some(last) = last {
            let (t, c) = span(last, now);
            if !self.averaged {
                rec.add_span((t, c));
            } else if let Some((t0, c0)) = self.half.lock().take() {
                let c = c0.zip(c).map(|(a, b)| (a + b) / 2);
                rec.add_span(((t0 + t) / 2, c));
            } else {
                *self.half.lock() = Some((t, c));
            }
        }
        rec.done()
    }
    fn mark(&self) {
        align();
        self.last.set(stamp());
    }
    fn row(&self, name: &str, ctx: &Ctx) -> Row {
        core::mem::replace(&mut *self.rec.lock(), Recorder::new(name, ctx)).row()
    }
}

/// One side of `yield`: stamp, yield; on resuming, the other side's stamp -> now is a sample.
fn yield_side(s: &Pair) {
    s.started.fetch_add(1, Ordering::AcqRel);
    while s.started.load(Ordering::Acquire) < 2 {
        sched::yield_now();
    }
    while !s.quit.load(Ordering::Acquire) {
        s.mark();
        sched::yield_now();
        if s.record(stamp()) {
            s.quit.store(true, Ordering::Release);
        }
    }
}

pub(super) fn yield_(ctx: &Ctx) -> Result<Vec<Row>, Error> {
    let s = Pair::new("yield", ctx);
    let s2 = s.clone();
    let t = kthread::create_with("bench-yield", opts(ctx.cpu, MEASURE_PRIO), move || {
        yield_side(&s2);
        0
    })?;
    kthread::wake_up_process(&t);
    yield_side(&s);
    kthread::stop(&t);
    Ok(vec![s.row("yield", ctx)])
}

pub(super) fn pingpong(ctx: &Ctx) -> Result<Vec<Row>, Error> {
    let s = Pair::averaged("pingpong", ctx);
    let s2 = s.clone();
    let t = kthread::create_with("bench-pong", opts(ctx.cpu, MEASURE_PRIO), move || {
        loop {
            s2.ping.wait();
            let now = stamp();
            if s2.quit.load(Ordering::Acquire) {
                break;
            }
            s2.record(now);
            s2.mark();
            s2.pong.complete();
        }
        0
    })?;
    kthread::wake_up_process(&t);
    loop {
        s.mark();
        s.ping.complete();
        s.pong.wait();
        if s.record(stamp()) {
            break;
        }
    }
    s.quit.store(true, Ordering::Release);
    s.ping.complete();
    kthread::stop(&t);
    Ok(vec![s.row("pingpong", ctx)])
}

pub(super) fn park(ctx: &Ctx) -> Result<Vec<Row>, Error> {
    let t = kthread::create_with("bench-park", opts(ctx.cpu, MEASURE_PRIO - 20), || {
        while !kthread::should_stop() {
            if kthread::should_park() {
                kthread::parkme();
                continue;
            }
            core::hint::spin_loop();
        }
        0
    })?;
    kthread::wake_up_process(&t);
    let mut rec = Recorder::new("park", ctx);
    let mut result = Ok(());
    for _ in 0..ctx.total() {
        align();
        let t0 = stamp();
        if let Err(e) = kthread::park(&t) {
            result = Err(e);
            break;
        }
        kthread::unpark(&t);
        rec.add(t0, stamp());
    }
    kthread::stop(&t);
    result.map(|()| vec![rec.row()])
}

/// A hard-IRQ work that records when its callback starts.
fn stamping_irq_work(name: &str) -> Result<(IrqWork, Arc<AtomicStamp>), Error> {
    let st = Arc::new(AtomicStamp::default());
    let s2 = st.clone();
    let w = IrqWork::new(name, false, Arc::new(move |_: &IrqWork| s2.set(stamp())))?;
    Ok((w, st))
}

/// Waits until `w` is neither pending nor running.
fn irq_work_idle(w: IrqWork) {
    while w.flags() & irq_work::CLAIMED != 0 {
        core::hint::spin_loop();
    }
}

pub(super) fn irqwork(ctx: &Ctx) -> Result<Vec<Row>, Error> {
    let (w, st) = stamping_irq_work("bench-irqwork")?;
    let mut rec = Recorder::new("irqwork", ctx);
    for _ in 0..ctx.total() {
        irq_work_idle(w);
        align();
        let t0 = stamp();
        irq_work::queue(w);
        rec.add(t0, st.wait());
    }
    irq_work_idle(w);
    let _ = w.free();
    Ok(vec![rec.row()])
}

/// Tracing on: one event's cost, and the irqwork row's. [`Error::Busy`] if a trace run is going
/// on (the benchmark would end it).
pub(super) fn trace(ctx: &Ctx) -> Result<Vec<Row>, Error> {
    use crate::trace::{self, Class, Kind};
    if trace::on() {
        return Err(Error::Busy);
    }
    trace::start(&Class::ALL, trace::size().unwrap_or(4096))?;
    let mut record = Recorder::new("trace/record", ctx);
    for _ in 0..ctx.total() {
        align();
        let t0 = stamp();
        trace::record(Kind::Mark, 0, 0);
        record.add(t0, stamp());
    }
    let traced = stamping_irq_work("bench-trace-irqwork").map(|(w, st)| {
        let mut rec = Recorder::new("trace/irqwork", ctx);
        for _ in 0..ctx.total() {
            irq_work_idle(w);
            align();
            let t0 = stamp();
            irq_work::queue(w);
            rec.add(t0, st.wait());
        }
        irq_work_idle(w);
        let _ = w.free();
        rec
    });
    trace::stop();
    Ok(vec![record.row(), traced?.row()])
}

pub(super) fn irqwork_remote(ctx: &Ctx) -> Result<Vec<Row>, Error> {
    let remote = ctx.remote.ok_or(Error::Invalid)?;
    let (w, st) = stamping_irq_work("bench-irqwork-remote")?;
    let mut sender = Recorder::new("irqwork-remote/sender", ctx);
    let mut latency = Recorder::new("irqwork-remote/latency", ctx).without_cycles();
    let mut result = Ok(());
    for _ in 0..ctx.total() {
        irq_work_idle(w);
        align();
        let t0 = stamp();
        if let Err(e) = irq_work::queue_on(w, remote) {
            result = Err(e);
            break;
        }
        let t1 = stamp();
        // Sleep (not spin) until the remote callback ran, in steps long enough for the remote
        // CPU to get there: under QEMU -icount the vCPUs take turns and each turn lasts until
        // the next timer deadline, so a sender polling every microsecond would give the remote
        // CPU ~60 instructions per turn. The latency is stamped remotely: this wait is not in it.
        let t2 = loop {
            if let Some(s) = st.take() {
                break s;
            }
            sched::sleep(Duration::from_micros(100));
        };
        sender.add(t0, t1);
        latency.add(t0, t2);
    }
    irq_work_idle(w);
    let _ = w.free();
    result.map(|()| vec![sender.row(), latency.row()])
}

/// A work that records when its callback starts (and completes `done`, if given).
fn stamping_work(name: &str, done: Option<Arc<Completion>>) -> (Arc<Work>, Arc<AtomicStamp>) {
    let st = Arc::new(AtomicStamp::default());
    let s2 = st.clone();
    let w = Work::new(name, move |_: &Work| {
        s2.set(stamp());
        if let Some(d) = &done {
            d.complete();
        }
    });
    (w, st)
}

pub(super) fn queue_work(ctx: &Ctx) -> Result<Vec<Row>, Error> {
    let wq = workqueue::create("bench-wq")?;
    let (work, st) = stamping_work("bench-queue-work", None);
    let mut cb = Recorder::new("queue-work/callback", ctx);
    let mut waiter = Recorder::new("queue-work/waiter", ctx);
    for _ in 0..ctx.total() {
        align();
        let t0 = stamp();
        workqueue::queue_on(&wq, ctx.cpu, &work)?;
        workqueue::flush(&wq);
        let t2 = stamp();
        cb.add(t0, st.wait());
        waiter.add(t0, t2);
    }
    workqueue::destroy(wq).map_err(|_| Error::Busy)?;
    Ok(vec![cb.row(), waiter.row()])
}

pub(super) fn kworker(ctx: &Ctx) -> Result<Vec<Row>, Error> {
    let w = kthread_worker::create_on_cpu("bench-kworker", ctx.cpu)?;
    let (work, st) = stamping_work("bench-kworker", None);
    let mut rec = Recorder::new("kworker", ctx);
    for _ in 0..ctx.total() {
        align();
        let t0 = stamp();
        kthread_worker::queue(&w, &work)?;
        kthread_worker::flush_work(&work);
        rec.add(t0, st.wait());
    }
    kthread_worker::destroy(w).map_err(|_| Error::Busy)?;
    Ok(vec![rec.row()])
}

pub(super) fn taskwork(ctx: &Ctx) -> Result<Vec<Row>, Error> {
    let t = kthread::create_with("bench-taskwork", opts(ctx.cpu, HELPER_PRIO), || {
        while !kthread::should_stop() {
            sched::sleep_interruptible_until(Instant::after(Duration::from_secs(1000)));
        }
        0
    })?;
    kthread::wake_up_process(&t);
    let st = Arc::new(AtomicStamp::default());
    let s2 = st.clone();
    let work = TaskWork::new("bench-taskwork", move |_: &Arc<TaskWork>| s2.set(stamp()));
    let mut rec = Recorder::new("taskwork", ctx);
    let mut result = Ok(());
    for _ in 0..ctx.total() {
        until_state(&t, State::Sleeping);
        while work.is_queued() {
            sched::yield_now();
        }
        align();
        let t0 = stamp();
        if let Err(e) = task_work::add(t.thread(), work.clone(), Notify::Signal) {
            result = Err(e);
            break;
        }
        rec.add(t0, st.wait());
    }
    kthread::stop(&t);
    result.map(|()| vec![rec.row()])
}

pub(super) fn delayed(ctx: &Ctx) -> Result<Vec<Row>, Error> {
    let wq = workqueue::create("bench-delayed")?;
    let done = Arc::new(Completion::new());
    let (work, st) = stamping_work("bench-delayed", Some(done.clone()));
    let mut rows = Vec::new();
    for (ms, name) in [(1, "delayed/1ms"), (10, "delayed/10ms")] {
        let delay = Duration::from_millis(ms);
        let mut rec = Recorder::new(name, ctx).without_cycles();
        for _ in 0..ctx.total() {
            align();
            let t0 = stamp();
            workqueue::queue_delayed_on(&wq, ctx.cpu, &work, delay)?;
            done.wait();
            let deadline = Stamp {
                t: t0.t + ticks(delay),
                c: None,
            };
            rec.add(deadline, st.wait());
        }
        rows.push(rec.row());
    }
    workqueue::destroy(wq).map_err(|_| Error::Busy)?;
    Ok(rows)
}

pub(super) fn timers(ctx: &Ctx) -> Result<Vec<Row>, Error> {
    let p = crate::port::port();
    let mut rows = Vec::new();
    for k in [16u64, 256, 4096] {
        // Far in the future, 2 ticks apart; the measured timer goes in the middle.
        let far = Instant::now().add_ticks(3600 * p.ticks_per_second());
        let ids: Vec<_> = (0..k)
            .map(|i| timer::arm(far.add_ticks(2 * i), timer::Action::Call(Box::new(|| {}))))
            .collect();
        let mut rec = Recorder::new(&format!("timers/{k}"), ctx);
        for _ in 0..ctx.total() {
            align();
            let t0 = stamp();
            let id = timer::arm(far.add_ticks(k + 1), timer::Action::Call(Box::new(|| {})));
            timer::cancel(id);
            rec.add(t0, stamp());
        }
        for id in ids {
            timer::cancel(id);
        }
        rows.push(rec.row());
    }
    Ok(rows)
}

struct Waker {
    go: Completion,
    st: AtomicStamp,
    quit: AtomicBool,
}

pub(super) fn sched_scale(ctx: &Ctx) -> Result<Vec<Row>, Error> {
    let s = Arc::new(Waker {
        go: Completion::new(),
        st: AtomicStamp::default(),
        quit: AtomicBool::new(false),
    });
    let s2 = s.clone();
    let t = kthread::create_with("bench-sched", opts(ctx.cpu, HELPER_PRIO), move || {
        loop {
            s2.go.wait();
            s2.st.set(stamp());
            if s2.quit.load(Ordering::Acquire) {
                return 0;
            }
        }
    })?;
    kthread::wake_up_process(&t);
    let mut rows = Vec::new();
    for n in [1usize, 64, 1024] {
        until_state(&t, State::Sleeping);
        // From here until they are removed this thread must not block: they cannot run.
        let ready = sched::bench_add_placeholders(ctx.cpu, 1, n);
        let mut rec = Recorder::new(&format!("sched-scale/{n}"), ctx);
        for _ in 0..ctx.total() {
            align();
            let t0 = stamp();
            s.go.complete();
            rec.add(t0, s.st.wait());
        }
        sched::bench_remove_placeholders(ctx.cpu, &ready);
        rows.push(rec.row());
    }
    s.quit.store(true, Ordering::Release);
    s.go.complete();
    kthread::stop(&t);
    Ok(rows)
}

pub(super) fn create(ctx: &Ctx) -> Result<Vec<Row>, Error> {
    let mut rec = Recorder::new("create", ctx);
    for _ in 0..ctx.total() {
        align();
        let t0 = stamp();
        let t = kthread::create_with("bench-create", opts(ctx.cpu, HELPER_PRIO), || 0)?;
        kthread::wake_up_process(&t);
        kthread::stop(&t);
        rec.add(t0, stamp());
    }
    Ok(vec![rec.row()])
}

/// `cancel_work_sync` of a work of this CPU's worker: idle (it ran before and is still known to
/// the pool), and pending (queued, not started: the measuring thread outranks the worker).
pub(super) fn cancel_work(ctx: &Ctx) -> Result<Vec<Row>, Error> {
    let wq = workqueue::create("bench-cancel")?;
    let (work, st) = stamping_work("bench-cancel", None);
    let mut idle = Recorder::new("cancel-work/idle", ctx);
    let mut pending = Recorder::new("cancel-work/pending", ctx);
    // (In a closure so that the queue is destroyed whatever happens.)
    let result = (|| -> Result<(), Error> {
        workqueue::queue_on(&wq, ctx.cpu, &work)?;
        workqueue::flush(&wq);
        let _ = st.wait();
        for _ in 0..ctx.total() {
            align();
            let t0 = stamp();
            let was = workqueue::cancel_work_sync(&work);
            idle.add(t0, stamp());
            workqueue::queue_on(&wq, ctx.cpu, &work)?;
            align();
            let t0 = stamp();
            let was_pending = workqueue::cancel_work_sync(&work);
            pending.add(t0, stamp());
            if was || !was_pending {
                // (The worker ran it before the cancel: the measuring thread did not outrank it.)
                return Err(Error::Busy);
            }
        }
        Ok(())
    })();
    workqueue::destroy(wq).map_err(|_| Error::Busy)?;
    result.map(|()| vec![idle.row(), pending.row()])
}

/// `cpu offline` + `cpu online` of another online CPU than CPU 0 and this one, a round trip.
pub(super) fn hotplug(ctx: &Ctx) -> Result<Vec<Row>, Error> {
    // (CPU 0 never goes offline, nor does the measuring thread's.)
    let online = sched::online_mask();
    let remote = (1..crate::config::MAX_CPUS)
        .find(|&c| c != ctx.cpu && online & (1 << c) != 0)
        .ok_or(Error::Invalid)?;
    let mut rec = Recorder::new("hotplug", ctx);
    for _ in 0..ctx.total() {
        align();
        let t0 = stamp();
        crate::hotplug::offline(remote).map_err(|_| Error::Busy)?;
        crate::hotplug::online(remote).map_err(|_| Error::Busy)?;
        rec.add(t0, stamp());
    }
    Ok(vec![rec.row()])
}

pub(super) fn boot(_ctx: &Ctx) -> Result<Vec<Row>, Error> {
    let row = |name: &str, ticks: u64| Row {
        name: name.into(),
        n: 1,
        ticks: Stats {
            min: ticks,
            median: ticks,
            p99: ticks,
            max: ticks,
        },
        cycles: None,
    };
    let mut rows = vec![row(
        "boot",
        crate::boot::to_prompt_ticks().ok_or(Error::Invalid)?,
    )];
    if let Some(t) = crate::boot::to_shell_ticks() {
        rows.push(row("boot/to-shell", t));
    }
    Ok(rows)
}
