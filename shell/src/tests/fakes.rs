//! Test doubles: a byte-queue IO with an optional fake terminal, and a system with a virtual
//! clock. Both share the clock so input can be scheduled "later".

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::string::String;
use std::time::Duration;
use std::vec::Vec;

use embedded_io::{ErrorKind, ErrorType, Read, ReadReady, Write};

use crate::{CpuInfo, CrashKind, Exit, Shell, System};

pub(crate) const PROBE: &[u8] = crate::detect::SIZE_PROBE;
pub(crate) const MS: u64 = 1_000_000;

pub(crate) type Clock = Rc<Cell<u64>>;

/// Input queue + captured output. Optionally a "terminal" that answers `ESC[6n`.
pub(crate) struct FakeIo {
    clock: Clock,
    input: VecDeque<u8>,
    /// (time, bytes): bytes become readable at that virtual time.
    scheduled: VecDeque<(u64, Vec<u8>)>,
    pub output: Vec<u8>,
    /// Reply to every `ESC[6n` written, if this is a terminal.
    pub reply: Option<Vec<u8>>,
    probe_match: usize,
    /// `ESC[6n` sequences seen on the wire.
    pub probes: usize,
    /// From this many probes on, answer with this instead of `reply` (a resized terminal).
    pub later_reply: Option<(usize, Vec<u8>)>,
    /// Max bytes returned per read (exercises partial reads).
    pub max_read: usize,
    /// Fail every operation after this many output bytes.
    pub fail_after: Option<usize>,
    /// Output length when the shell first asked for input (`read_ready` or `read`).
    pub output_at_first_poll: Option<usize>,
}

impl FakeIo {
    pub(crate) fn new(clock: &Clock) -> Self {
        Self {
            clock: clock.clone(),
            input: VecDeque::new(),
            scheduled: VecDeque::new(),
            output: Vec::new(),
            reply: None,
            probe_match: 0,
            probes: 0,
            later_reply: None,
            max_read: usize::MAX,
            fail_after: None,
            output_at_first_poll: None,
        }
    }

    /// Bytes readable right away.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        self.input.extend(bytes);
    }

    /// Bytes that arrive at virtual time `at_ns` (keep calls in time order).
    pub(crate) fn schedule(&mut self, at_ns: u64, bytes: &[u8]) {
        self.scheduled.push_back((at_ns, bytes.to_vec()));
    }

    fn release(&mut self) {
        while let Some((t, _)) = self.scheduled.front() {
            if *t > self.clock.get() {
                break;
            }
            let (_, bytes) = self.scheduled.pop_front().unwrap();
            self.input.extend(bytes);
        }
    }

    fn polled(&mut self) {
        self.output_at_first_poll.get_or_insert(self.output.len());
    }

    /// Output written before the shell first asked for input.
    pub(crate) fn before_first_poll(&self) -> &[u8] {
        let n = self
            .output_at_first_poll
            .expect("the shell never read input");
        &self.output[..n]
    }

    fn broken(&self) -> bool {
        self.fail_after.is_some_and(|n| self.output.len() >= n)
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }

    /// Output with the start-up probe removed (it must be there, first).
    pub(crate) fn transcript(&self) -> String {
        assert!(
            self.output.starts_with(PROBE),
            "output must start with the size probe"
        );
        String::from_utf8_lossy(&self.output[PROBE.len()..]).into_owned()
    }
}

impl ErrorType for FakeIo {
    type Error = ErrorKind;
}

impl Read for FakeIo {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.polled();
        if self.broken() {
            return Err(ErrorKind::Other);
        }
        self.release();
        if self.input.is_empty() {
            // "Block" until the next scheduled chunk, if any.
            if let Some((t, _)) = self.scheduled.front() {
                if *t > self.clock.get() {
                    self.clock.set(*t);
                }
                self.release();
            }
        }
        let n = buf.len().min(self.input.len()).min(self.max_read);
        for slot in &mut buf[..n] {
            *slot = self.input.pop_front().unwrap();
        }
        Ok(n)
    }
}

impl ReadReady for FakeIo {
    fn read_ready(&mut self) -> Result<bool, ErrorKind> {
        self.polled();
        if self.broken() {
            return Err(ErrorKind::Other);
        }
        self.release();
        // Ready = data, or end of input (nothing more will ever come).
        Ok(!self.input.is_empty() || self.scheduled.is_empty())
    }
}

impl Write for FakeIo {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        if self.broken() {
            return Err(ErrorKind::Other);
        }
        const DSR: &[u8] = b"\x1b[6n";
        for &b in buf {
            self.output.push(b);
            if b == DSR[self.probe_match] {
                self.probe_match += 1;
                if self.probe_match == DSR.len() {
                    self.probe_match = 0;
                    self.probes += 1;
                    let later = self
                        .later_reply
                        .as_ref()
                        .filter(|(n, _)| self.probes > *n)
                        .map(|(_, r)| r.clone());
                    if let Some(reply) = later.or_else(|| self.reply.clone()) {
                        self.input.extend(reply);
                    }
                }
            } else {
                self.probe_match = usize::from(b == DSR[0]);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        if self.broken() {
            return Err(ErrorKind::Other);
        }
        Ok(())
    }
}

/// System with a virtual clock.
pub(crate) struct FakeSystem {
    pub clock: Clock,
    pub cpus: Vec<CpuInfo>,
    pub crashes: Vec<CrashKind>,
    pub sleeps: Vec<u64>,
    pub idles: usize,
    /// `sleep` also really sleeps the calling kernel thread (inside `rtos::fake::run`), so that
    /// kernel threads get real time to run; `cpus` reports the fake kernel's CPUs.
    pub real_sleep: bool,
    /// How many times the shell said its console is up ([`System::console_up`]).
    pub console_up: u32,
    /// What [`System::reload_target`] says.
    pub reload_target: Option<crate::ReloadTarget>,
    /// Images given to [`System::reload`] (which "fails" after recording one).
    pub reloaded: Vec<Vec<u8>>,
    /// From this virtual time on, the UART reports one more receive error.
    pub uart_error_at: Option<u64>,
}

impl FakeSystem {
    pub(crate) fn new() -> Self {
        let cpu = |id, online, irqs, timer_irqs, sgis| CpuInfo {
            id,
            online,
            irqs,
            timer_irqs,
            sgis,
            irq_work_sgis: sgis / 2,
            irq_work_runs: sgis / 2 + 1,
            ..CpuInfo::default()
        };
        Self {
            clock: Rc::new(Cell::new(0)),
            cpus: vec![
                cpu(0, true, 1234, 1000, 17),
                cpu(1, true, 99, 90, 3),
                cpu(2, false, 0, 0, 0),
            ],
            crashes: Vec::new(),
            sleeps: Vec::new(),
            idles: 0,
            real_sleep: false,
            console_up: 0,
            reload_target: Some(crate::ReloadTarget {
                board: "rpi4",
                load_addr: 0x8_0000,
                max_size: 64 * 1024,
            }),
            reloaded: Vec::new(),
            uart_error_at: None,
        }
    }
}

impl System for FakeSystem {
    fn uptime(&self) -> Duration {
        Duration::from_nanos(self.clock.get())
    }

    fn console_up(&mut self) {
        self.console_up += 1;
    }

    fn sleep(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sleeps.push(ns);
        if self.real_sleep {
            rtos::sched::sleep(d);
        }
        self.clock.set(self.clock.get().saturating_add(ns));
    }

    fn idle(&mut self) {
        self.idles += 1;
        self.clock.set(self.clock.get() + MS);
    }

    fn cpus(&self, f: &mut dyn FnMut(&CpuInfo)) {
        if self.real_sleep {
            // Inside the fake kernel: its CPUs' real counters (the fake port marks no CPU
            // online in `rtos::cpu`; the scheduler knows).
            let (possible, online) = (rtos::sched::possible_mask(), rtos::sched::online_mask());
            for id in (0..rtos::config::MAX_CPUS).filter(|c| possible & (1 << c) != 0) {
                if let Some(s) = rtos::cpu::snapshot(id) {
                    f(&CpuInfo {
                        online: online & (1 << id) != 0,
                        ..s
                    });
                }
            }
            return;
        }
        for c in &self.cpus {
            f(c);
        }
    }

    fn crash(&mut self, kind: CrashKind) {
        self.crashes.push(kind);
    }

    fn reload_target(&self) -> Option<crate::ReloadTarget> {
        self.reload_target
    }

    fn reload(&mut self, image: &[u8]) -> String {
        self.reloaded.push(image.to_vec());
        String::from("fake system: recorded the image, did not start it")
    }

    fn uart(&self) -> Option<crate::UartInfo> {
        Some(crate::UartInfo {
            driver: "pl011",
            baud: 115_200,
            rx_errors: 3 + u32::from(self.uart_error_at.is_some_and(|t| self.clock.get() >= t)),
            rx_buffered: 7,
            rx_capacity: 16_384,
        })
    }
}

/// A finished session.
pub(crate) struct Session {
    pub exit: Exit,
    pub io: FakeIo,
    pub sys: FakeSystem,
}

impl Session {
    /// Non-terminal transcript (probe stripped).
    pub(crate) fn transcript(&self) -> String {
        self.io.transcript()
    }

    /// Command output only: the transcript lines, minus prompt/echo lines.
    pub(crate) fn output_lines(&self) -> Vec<String> {
        self.transcript()
            .split("\r\n")
            .filter(|l| !l.starts_with(crate::PROMPT))
            .map(String::from)
            .collect()
    }
}

/// Runs a non-terminal session: all of `input` is readable at once, then end of input.
pub(crate) fn script(input: &[u8]) -> Session {
    let sys = FakeSystem::new();
    let mut io = FakeIo::new(&sys.clock);
    io.feed(input);
    run(io, sys)
}

/// Runs a shell to completion over the given fakes.
pub(crate) fn run(mut io: FakeIo, mut sys: FakeSystem) -> Session {
    let exit = Shell::new().run(&mut io, &mut sys);
    Session { exit, io, sys }
}

/// Runs a terminal session: the terminal answers the probe with `reply`; `typed` arrives
/// 1 ms later, after the shell has decided.
pub(crate) fn terminal(reply: &[u8], typed: &[u8]) -> Session {
    let sys = FakeSystem::new();
    let mut io = FakeIo::new(&sys.clock);
    io.reply = Some(reply.to_vec());
    io.schedule(MS, typed);
    run(io, sys)
}

/// xorshift64* PRNG for the fuzz tests.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 56) as u8).collect()
    }
}
