//! Events as text, one line each in the manner of ftrace's `trace` file: what the shell's
//! `trace show` prints and the host's tools can print too.
//!
//! ```text
//!            shell-1     [000]     5.123456: work_queue: work=w1 queue=events cpu=0
//!      kworker/0-5       [000]     5.123470: work_start: work=w1 queue=events cpu=0
//! ```
//!
//! [`Names`] resolves what events refer to by number: threads (from the threads alive when the
//! trace is read and from the kthread create and exit events in it) and interned names.

use super::{Event, Kind, untag};
use crate::port::Sgi;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;

impl Kind {
    /// Its name in text output and in exported traces (ftrace style).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Switch => "sched_switch",
            Kind::Wakeup => "sched_wakeup",
            Kind::IrqEnter => "irq_enter",
            Kind::IrqExit => "irq_exit",
            Kind::SgiSend => "sgi_send",
            Kind::IrqWorkQueue => "irq_work_queue",
            Kind::IrqWorkStart => "irq_work_start",
            Kind::IrqWorkEnd => "irq_work_end",
            Kind::TaskWorkAdd => "task_work_add",
            Kind::TaskWorkRun => "task_work_run",
            Kind::WorkQueue => "work_queue",
            Kind::WorkStart => "work_start",
            Kind::WorkEnd => "work_end",
            Kind::TimerArm => "timer_arm",
            Kind::TimerFire => "timer_fire",
            Kind::KthreadCreate => "kthread_create",
            Kind::KthreadPark => "kthread_park",
            Kind::KthreadUnpark => "kthread_unpark",
            Kind::KthreadStop => "kthread_stop",
            Kind::KthreadExit => "kthread_exit",
            Kind::CpuOnline => "cpu_online",
            Kind::CpuOffline => "cpu_offline",
            Kind::Mark => "mark",
        }
    }
}

/// The name of a thread state as [`Kind::Switch`] records it.
pub fn state_name(n: u64) -> &'static str {
    match n {
        0 => "created",
        1 => "ready",
        2 => "running",
        3 => "sleeping",
        4 => "parked",
        5 => "exited",
        _ => "?",
    }
}

/// The name of a task_work notify mode as [`Kind::TaskWorkAdd`] records it.
pub fn notify_name(n: u64) -> &'static str {
    match n {
        0 => "none",
        1 => "resume",
        2 => "signal",
        3 => "signal-no-ipi",
        4 => "nmi-current",
        _ => "?",
    }
}

/// The name of an SGI by id.
pub fn sgi_name(id: u64) -> &'static str {
    match Sgi::ALL.iter().find(|s| u64::from(s.id()) == id) {
        Some(Sgi::Ping) => "ping",
        Some(Sgi::Resched) => "resched",
        Some(Sgi::IrqWork) => "irq_work",
        Some(Sgi::Halt) => "halt",
        None => "?",
    }
}

/// What a trace's numbers stand for.
#[derive(Debug, Default)]
pub struct Names {
    names: BTreeMap<u16, String>,
    threads: BTreeMap<u32, String>,
}

impl Names {
    /// From the interned names (`(id, name)`, as [`super::names`] gives them), the threads
    /// alive (`(tid, name)`) and the events themselves (kthreads created or exited meanwhile).
    pub fn new<'a>(
        names: impl IntoIterator<Item = (u16, String)>,
        threads: impl IntoIterator<Item = (u32, String)>,
        events: impl IntoIterator<Item = &'a Event>,
    ) -> Names {
        let mut n = Names {
            names: names.into_iter().collect(),
            threads: threads.into_iter().collect(),
        };
        for e in events {
            let id = match e.kind {
                Kind::KthreadCreate => e.b as u16,
                Kind::KthreadExit => untag(e.b).0,
                _ => continue,
            };
            if let Some(name) = n.names.get(&id) {
                let name = name.clone();
                n.threads.entry(e.a as u32).or_insert(name);
            }
        }
        n
    }

    /// The name of thread `tid`: `idle` for 0, `?` for [`super::UNKNOWN_TID`], `tid<n>` when
    /// not known.
    pub fn thread(&self, tid: u32) -> String {
        match (tid, self.threads.get(&tid)) {
            (0, _) => String::from("idle"),
            (super::UNKNOWN_TID, _) => String::from("?"),
            (_, Some(n)) => n.clone(),
            _ => format!("tid{tid}"),
        }
    }

    /// The name with id `id`, if known.
    pub fn name(&self, id: u16) -> Option<&str> {
        self.names.get(&id).map(String::as_str)
    }

    /// A named argument ([`super::tag`]) as text: its name, or `<what>@<hex number>`.
    fn named(&self, a: u64, what: &str) -> String {
        let (id, n) = untag(a);
        match self.name(id) {
            Some(s) => String::from(s),
            None => format!("{what}@{n:#x}"),
        }
    }

    /// A work's queue argument: the queue's name and its CPU (or `any`).
    fn queue(&self, b: u64) -> String {
        let (_, cpu) = untag(b);
        let q = self.named(b, "queue");
        if cpu == (1 << 48) - 1 {
            format!("queue={q} cpu=any")
        } else {
            format!("queue={q} cpu={cpu}")
        }
    }

    /// An event's fields as `key=value` words.
    pub fn fields(&self, e: &Event) -> String {
        let t = |tid: u64| format!("{}/{tid}", self.thread(tid as u32));
        match e.kind {
            Kind::Switch => format!(
                "prev={} prev_state={} next={}",
                t(u64::from(e.tid)),
                state_name(e.b),
                t(e.a)
            ),
            Kind::Wakeup => format!("tid={} target_cpu={}", t(e.a), e.b),
            Kind::IrqEnter | Kind::IrqExit => format!("irq={}", e.a),
            Kind::SgiSend => format!("sgi={} ({}) cpus={:#x}", e.a, sgi_name(e.a), e.b),
            Kind::IrqWorkQueue => format!(
                "work={} slot={} cpu={}",
                self.named(e.a, "irq_work"),
                untag(e.a).1,
                e.b
            ),
            Kind::IrqWorkStart | Kind::IrqWorkEnd => {
                format!("work={} slot={}", self.named(e.a, "irq_work"), untag(e.a).1)
            }
            Kind::TaskWorkAdd => format!(
                "work={} target={} notify={}",
                self.named(e.a, "task_work"),
                t(e.b & 0xffff_ffff),
                notify_name(e.b >> 32)
            ),
            Kind::TaskWorkRun => format!("work={}", self.named(e.a, "task_work")),
            Kind::WorkQueue | Kind::WorkStart | Kind::WorkEnd => {
                format!("work={} {}", self.named(e.a, "work"), self.queue(e.b))
            }
            Kind::TimerArm => format!("work={} deadline={}", self.named(e.a, "work"), e.b),
            Kind::TimerFire => format!("work={}", self.named(e.a, "work")),
            Kind::KthreadCreate => format!("tid={}", t(e.a)),
            Kind::KthreadPark | Kind::KthreadUnpark | Kind::KthreadStop => {
                format!("tid={}", t(e.a))
            }
            Kind::KthreadExit => format!("tid={} result={}", t(e.a), untag(e.b).1 as u32 as i32),
            Kind::CpuOnline | Kind::CpuOffline => format!("cpu={}", e.a),
            Kind::Mark => format!("text=\"{}\"", self.name(e.a as u16).unwrap_or("?")),
        }
    }

    /// One line for `e` (no newline): thread, CPU, time in seconds from `hz` counter ticks, the
    /// event's name and its fields.
    pub fn line(&self, e: &Event, hz: u64) -> String {
        let hz = hz.max(1);
        let secs = e.ticks / hz;
        let micros = (e.ticks % hz) * 1_000_000 / hz;
        let who = format!("{}-{}", self.thread(e.tid), e.tid);
        format!(
            "{who:>16} [{:03}] {secs:>5}.{micros:06}: {}: {}",
            e.cpu,
            e.kind.name(),
            self.fields(e)
        )
    }
}
