//! `app`: the application the kernel images run: the serial shell on the console UART.
//!
//! The bsp boots the machine, then starts [`APP`]'s main thread (boot step 5 in `bsp`'s crate
//! docs). That thread runs the shell ([`shell::Shell`]) on the bsp's serial console and acts on
//! how it ends: `poweroff N` / `exit N` power the system off with status N, `reboot` resets it.
//! [`System`] is the shell's view of the system, built from the kernel (`rtos`) and the bsp's
//! public API; it includes the `crash` commands.
//!
//! Dependencies: `boards -> app -> {bsp, shell} -> rtos`. The board binaries name their
//! [`bsp::Board`] and [`APP`] with `bsp::entry!`. This crate has no `unsafe`: the one deliberate
//! fault it needs is [`bsp::deliberate_fault`].
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use rtos::time::Duration;
use shell::{CrashKind, Exit};

/// The main thread: the shell, named `shell`, at the system priority (above every priority its
/// `spawn` and `prio` give, so nothing a user starts takes the console away), bound to CPU 0.
pub static APP: bsp::App = bsp::App {
    name: "shell",
    priority: rtos::config::SYSTEM_PRIORITY,
    cpu: Some(0),
    main: shell_main,
};

/// Runs the shell on the serial console. `poweroff N` returns N, which the bsp turns into a power
/// off with that status ([`bsp::App::main`]); `reboot` resets the board.
fn shell_main() -> i32 {
    match shell::Shell::new().run_dyn(&mut bsp::console::SerialIo, &mut System) {
        Exit::Poweroff(code) => i32::from(code),
        Exit::Reboot => bsp::reboot(),
    }
}

/// How long the shell's idle wait sleeps at most when no input arrives.
const IDLE: Duration = Duration::from_millis(10);

/// The shell's view of the system.
pub struct System;

impl shell::System for System {
    fn uptime(&self) -> Duration {
        bsp::uptime()
    }

    fn sleep(&mut self, d: Duration) {
        // Ctrl-C ends the shell's sleeps early; the shell sees it in its input.
        bsp::console::sleep_unless_ctrl_c(d);
    }

    fn console_up(&mut self) {
        // The kernel's watchdog, on by default; if it cannot start (no memory), say so.
        if let Err(e) = rtos::watchdog::start() {
            rtos::kprintln!("watchdog: not started: {e}");
        }
    }

    fn idle(&mut self) {
        // Bounded: wake for input (UART interrupt) or after 10 ms, whichever comes first.
        bsp::console::wait_input(Some(IDLE));
    }

    fn reload_target(&self) -> Option<shell::ReloadTarget> {
        bsp::reload::target().map(|t| shell::ReloadTarget {
            board: t.board,
            load_addr: t.load_addr as u64,
            max_size: t.max_size,
        })
    }

    fn reload(&mut self, image: &[u8]) -> alloc::string::String {
        bsp::reload::boot(image)
    }

    fn memory(&self) -> Option<shell::MemInfo> {
        let (heap_used, heap_free) = bsp::heap_usage();
        Some(shell::MemInfo {
            heap_used,
            heap_free,
            stacks_used: bsp::stacks::in_use(),
            stacks_total: bsp::stacks::SLOTS,
            stack_size: bsp::stacks::STACK_SIZE,
        })
    }

    fn uart(&self) -> Option<shell::UartInfo> {
        let s = bsp::console::uart_stats();
        Some(shell::UartInfo {
            driver: s.driver,
            baud: s.baud,
            rx_errors: s.rx_errors,
            rx_buffered: s.rx_buffered,
            rx_capacity: s.rx_capacity,
        })
    }

    fn cpus(&self, f: &mut dyn FnMut(&shell::CpuInfo)) {
        for id in 0..bsp::cpus() {
            if let Some(s) = rtos::cpu::snapshot(id) {
                f(&s);
            }
        }
    }

    fn crash(&mut self, kind: CrashKind) {
        match kind {
            CrashKind::Panic => panic!("deliberate crash requested from the shell"),
            // An address the identity map leaves unmapped: a translation fault, reported.
            CrashKind::Fault => bsp::deliberate_fault(),
            CrashKind::IrqFault => irq_fault(),
            CrashKind::Overflow => overflow(),
        }
    }
}

/// `crash irq-fault`: an irq_work on this CPU whose callback faults, so the report is made in
/// hard-IRQ context and names the thread it interrupted (the shell).
fn irq_fault() {
    let func: rtos::work::irq_work::Func = alloc::sync::Arc::new(|_| bsp::deliberate_fault());
    if let Ok(w) = rtos::work::irq_work::IrqWork::new("crash", false, func) {
        rtos::work::irq_work::queue(w);
        // The SGI is taken at once; the fault report stops the system.
        rtos::sched::sleep(Duration::from_secs(2));
    }
}

/// `crash overflow`: a kthread that recurses into its stack's guard page, on another CPU if there
/// is one, so the report names a thread the shell did not run on. The report stops the system.
fn overflow() {
    let opts = rtos::kthread::Options {
        prio: None,
        cpu: Some(usize::from(bsp::cpus() > 1)),
    };
    if let Ok(t) = rtos::kthread::create_with("overflow", opts, || recurse(0) as i32) {
        rtos::kthread::wake_up_process(&t);
        // The fault report stops the system; give it time to get there.
        rtos::sched::sleep(Duration::from_secs(2));
    }
}

/// Recurses until the stack runs into its guard page (for `crash overflow`). Each frame keeps a
/// 256-byte array alive across the call so the recursion can't become a loop.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let frame = core::hint::black_box([depth; 32]);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(frame[(depth % 32) as usize])
}
