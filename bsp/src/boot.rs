//! The boot sequence (see the crate docs), the application's main thread, power off and reset.

use crate::arch::{self, psci::Conduit};
use crate::board::{Board, PowerMethod, SmpMethod};
use crate::console::kprintln;
use crate::drivers::{bcm2711, gic::Gic, pl011::Pl011, timer};
use crate::kernel::{KERNEL, Kernel, kernel};
use core::sync::atomic::{AtomicBool, Ordering};
use rtos::config::MAX_CPUS;
use rtos::port::Sgi;
use rtos::time::{Duration, Instant};

/// Kernel version shown in the banner.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What starts the build-tag slot in the image ([`BUILD_TAG`]).
pub const BUILD_TAG_MARKER: &[u8; 16] = b"RTOS-BUILD-TAG:\0";
/// Bytes of the build-tag slot, marker included.
pub const BUILD_TAG_SLOT: usize = 64;

/// The build tag: [`BUILD_TAG_MARKER`], then up to 47 bytes of UTF-8, NUL-padded; the banner
/// shows a nonempty tag as `  build: <tag>`. Set at build time from `RTOS_BUILD_TAG`, or in a
/// built image by `runner push --tag` (which finds the marker and writes the tag after it), so
/// that a reloaded kernel can be told from the one before.
#[used]
static BUILD_TAG: [u8; BUILD_TAG_SLOT] = {
    let mut slot = [0; BUILD_TAG_SLOT];
    let mut i = 0;
    while i < BUILD_TAG_MARKER.len() {
        slot[i] = BUILD_TAG_MARKER[i];
        i += 1;
    }
    if let Some(tag) = option_env!("RTOS_BUILD_TAG") {
        let tag = tag.as_bytes();
        let mut j = 0;
        while j < tag.len() && BUILD_TAG_MARKER.len() + j < BUILD_TAG_SLOT - 1 {
            slot[BUILD_TAG_MARKER.len() + j] = tag[j];
            j += 1;
        }
    }
    slot
};

/// The build tag, if one was set (read from memory: a tool may have written it after the
/// build).
fn build_tag() -> Option<&'static str> {
    let slot: &'static [u8; BUILD_TAG_SLOT] = core::hint::black_box(&BUILD_TAG);
    let tag = &slot[BUILD_TAG_MARKER.len()..];
    let tag = &tag[..tag.iter().position(|&b| b == 0).unwrap_or(tag.len())];
    core::str::from_utf8(tag).ok().filter(|t| !t.is_empty())
}

/// The application: the main thread the bsp starts once the machine is up (boot step 5).
#[derive(Debug)]
pub struct App {
    /// Thread name (what `ps` and stack-overflow reports show).
    pub name: &'static str,
    /// Scheduling priority (higher is more urgent; see `rtos::sched`).
    pub priority: u8,
    /// The CPU the thread is bound to, or `None` to let it run on any online CPU.
    pub cpu: Option<usize>,
    /// The thread body. If it returns, the system powers off ([`power_off`]) with the returned
    /// value, clamped to `0..=255`, as the exit status.
    pub main: fn() -> i32,
}

unsafe extern "Rust" {
    /// Defined by the board binary through [`crate::entry!`].
    static BSP_BOARD: &'static Board;
    /// Defined by the board binary through [`crate::entry!`].
    static BSP_APP: &'static App;
}

unsafe extern "C" {
    static __kernel_start: u8;
    static __text_end: u8;
    static __kernel_end: u8;
}

/// The kernel's text (its code), as the linker script placed it.
pub(crate) fn kernel_text() -> core::ops::Range<usize> {
    core::ptr::addr_of!(__kernel_start) as usize..core::ptr::addr_of!(__text_end) as usize
}

/// Set by each secondary CPU once it runs Rust code with its GIC interface up.
static STARTED: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

/// How long CPU 0 waits for a secondary CPU to come up, on the generic timer. Seconds, not
/// milliseconds: under QEMU on a loaded host a vCPU thread can wait that long to be scheduled
/// (500 ms was seen to lose CPUs on a busy 2-core machine), and a real CPU takes microseconds.
const CPU_START_TIMEOUT: Duration = Duration::from_secs(5);

/// How one secondary CPU's start went, for the banner.
#[derive(Clone, Copy)]
enum Start {
    /// Online after this long (from the request to its answer to the ping).
    Online(Duration),
    /// The firmware refused to start it (PSCI `CPU_ON` error).
    Refused(smccc::psci::error::Error),
    /// It did not answer within [`CPU_START_TIMEOUT`]: it never ran our code, or ran it but did
    /// not answer the ping.
    NoAnswer { ran: bool },
    /// Not tried (no PSCI conduit in the device tree).
    NotTried,
}

/// What the device tree told us, if the loader passed one.
#[derive(Default)]
struct DtbInfo {
    ram: Option<(usize, usize)>,
    /// How many RAM regions it lists, and their total size.
    ram_regions: (usize, u64),
    cpus: Option<usize>,
    psci: Option<Conduit>,
    /// Where the blob itself lives, `(base, size)`, so the heap keeps clear of it.
    span: Option<(usize, usize)>,
}

fn parse_dtb(board: &Board, ptr: usize) -> DtbInfo {
    let (ram_base, ram_size) = board.early_ram;
    // Loaders that do not pass the pointer (QEMU for bare ELF images) put it at the start of RAM.
    let candidates = [ptr, ram_base];
    let (arena, arena_size) = crate::stacks::arena();
    for &addr in candidates.iter().filter(|&&a| a != 0) {
        // In boot-mapped RAM and clear of the stack arena (whose guard pages are unmapped).
        let inside = |a: usize, len: usize| {
            a >= ram_base
                && a.saturating_add(len) <= ram_base + ram_size
                && (a + len <= arena || a >= arena + arena_size)
        };
        if addr % 8 != 0 || !inside(addr, 8) {
            continue;
        }
        // SAFETY: `addr..addr+8` lies in mapped RAM (checked above) that nothing writes yet.
        let header = unsafe { core::slice::from_raw_parts(addr as *const u8, 8) };
        let Ok(total) = rtos::fdt::total_size(header) else {
            continue;
        };
        if !inside(addr, total) {
            continue;
        }
        // SAFETY: the whole extent the header claims lies in mapped RAM, and the heap is set
        // up to stop short of it.
        let blob = unsafe { core::slice::from_raw_parts(addr as *const u8, total) };
        let Ok(m) = rtos::fdt::read(blob) else {
            continue;
        };
        let psci = match m.psci_method {
            Some("hvc") => Some(Conduit::Hvc),
            Some("smc") => Some(Conduit::Smc),
            _ => None,
        };
        let ram = m
            .ram
            .and_then(|(b, s)| Some((usize::try_from(b).ok()?, usize::try_from(s).ok()?)));
        return DtbInfo {
            ram,
            ram_regions: (m.ram_regions, m.ram_total),
            cpus: Some(m.cpus).filter(|&n| n > 0),
            psci,
            span: Some((addr, total)),
        };
    }
    DtbInfo::default()
}

/// The boot CPU's first Rust code, called by `_start` on the boot stack with the MMU off.
pub(crate) extern "C" fn primary_main(dtb: usize, entry_el: u64, entry_ticks: u64) -> ! {
    // Uptime and `bench boot` count from the first instruction (`_start` read the counter).
    let boot = Instant::from_ticks(entry_ticks);
    // SAFETY: the symbol is defined by the board binary (`bsp::entry!`) as a `&'static Board`.
    let board: &'static Board = unsafe { BSP_BOARD };
    // SAFETY: first thing on the boot CPU, MMU off; the board describes its own RAM and MMIO.
    unsafe { arch::mmu::enable_boot_cpu(board) };
    arch::exceptions::install();

    // The console first, so that anything that goes wrong from here on (a device tree the
    // kernel does not expect, the heap) is reported on it.
    if let Some(gpio) = board.uart_pinmux_gpio {
        // SAFETY: the board names its GPIO block; nothing else uses it.
        unsafe { bcm2711::uart0_pins(gpio) };
    }
    // SAFETY: the board's UART and GIC addresses, mapped as Device memory by the early map;
    // these are the only driver instances.
    let (uart, gic) = unsafe {
        (
            Pl011::new(board.uart_base),
            Gic::new(board.gicd_base, board.gicc_base, &[board.uart_intid]),
        )
    };
    uart.init(board.uart_clock_hz);
    crate::kernel::set_early_uart(board.uart_base);
    let info = parse_dtb(board, dtb);
    let cpus = info
        .cpus
        .unwrap_or(board.max_cpus)
        .clamp(1, board.max_cpus.min(MAX_CPUS));
    KERNEL.call_once(|| Kernel {
        board,
        uart,
        gic,
        psci: info.psci,
        ram: info.ram.unwrap_or(board.early_ram),
        cpus,
        boot,
        dtb: info.span,
    });
    let k = kernel();

    // Heap: from the end of the image to the end of boot-mapped RAM (or of real RAM if the device
    // tree reports less). A device tree blob in between stays (a reloaded kernel gets it): the
    // heap takes the larger side of it.
    let mut heap_start = core::ptr::addr_of!(__kernel_end) as usize;
    let mut heap_end = (board.early_ram.0 + board.early_ram.1).min(k.ram.0 + k.ram.1);
    if let Some((dtb_base, dtb_size)) = info.span.filter(|&(b, _)| b > heap_start && b < heap_end) {
        let after = (dtb_base + dtb_size).next_multiple_of(4096);
        if heap_end.saturating_sub(after) > dtb_base - heap_start {
            heap_start = after;
        } else {
            heap_end = dtb_base;
        }
    }
    // SAFETY: RAM past the image and clear of the device tree, mapped normal by the early map,
    // owned by nothing else.
    unsafe { crate::heap::init(heap_start, heap_end.saturating_sub(heap_start)) };

    rtos::boot::set_entry(boot);
    arch::pmu::enable();
    rtos::console::install(&crate::console::SINK);
    k.gic.init_cpu(&[timer::TIMER_INTID]);
    timer::set_deadline(None);
    if let Some(s) = rtos::cpu::stats(0) {
        s.set_online();
    }
    rtos::entry::init_cpu();
    arch::irq_enable();

    let starts = start_secondaries(k);

    kprintln!("rtos {} on {}", VERSION, board.name);
    if let Some(tag) = build_tag() {
        kprintln!("  build: {tag}");
    }
    kprintln!("  entry: EL{} (running at EL1)", entry_el);
    report_cpus(k.cpus, &starts);
    kprintln!("  gic: GICv2, {} interrupt lines", k.gic.lines());
    kprintln!("  timer: {} Hz", timer::frequency());
    kprintln!("  ram: {} MiB at {:#x}", k.ram.1 >> 20, k.ram.0);
    if board.self_check {
        self_check(k, &info);
    }
    kprintln!(
        "  heap: {} KiB, boot took {} ms",
        crate::heap::usage().1 >> 10,
        u64::try_from(boot.elapsed().as_millis()).unwrap_or(u64::MAX)
    );

    // SAFETY: the symbol is defined by the board binary (`bsp::entry!`) as a `&'static App`.
    start_app(unsafe { BSP_APP });
    // The boot context is CPU 0's idle thread from here on.
    rtos::entry::idle_loop()
}

/// The first-boot self-check (real hardware; `Board::self_check`): what a hobbyist's first
/// transcript should tell us about how the board differs from QEMU. The entry level and each
/// CPU's start time are on the banner's lines already.
fn self_check(k: &Kernel, dt: &DtbInfo) {
    let (ctlr, typer, group0, cctlr) = k.gic.readback();
    kprintln!(
        "  self-check: GICD_CTLR {ctlr:#x}, GICD_TYPER {typer:#x} (security extensions {}), \
         GICD_IGROUPR0 {group0:#010x} ({}), GICC_CTLR {cctlr:#x}",
        if typer & (1 << 10) != 0 { "yes" } else { "no" },
        match group0 {
            0 => "SGIs/PPIs in group 0",
            u32::MAX => "SGIs/PPIs in group 1: the firmware's Non-secure set-up",
            _ => "mixed groups",
        }
    );
    kprintln!(
        "  self-check: UART clock {} Hz assumed (config.txt init_uart_clock), 115200 baud",
        k.board.uart_clock_hz,
    );
    match (dt.span, dt.ram) {
        (None, _) => kprintln!(
            "  self-check: no device tree found (none passed, or not one the kernel could \
             read); RAM from the board's default"
        ),
        (Some((at, size)), None) => kprintln!(
            "  self-check: device tree at {at:#x} ({size} bytes), {} CPUs, no RAM size in it; \
             RAM from the board's default",
            dt.cpus.unwrap_or(0)
        ),
        (Some((at, size)), Some(_)) => kprintln!(
            "  self-check: device tree at {at:#x} ({size} bytes), {} CPUs, RAM {} MiB in {} \
             region(s) (the kernel uses the first)",
            dt.cpus.unwrap_or(0),
            dt.ram_regions.1 >> 20,
            dt.ram_regions.0
        ),
    }
}

/// Creates the application's main thread, starts `kthreadd`, then wakes the main thread (tid 1,
/// as Linux's init; `kthreadd` is tid 2, as in Linux). If its `main` returns, the thread powers
/// the system off with the returned value, clamped to `0..=255`, as the exit status.
fn start_app(app: &'static App) {
    let opts = rtos::kthread::Options {
        prio: Some(app.priority),
        cpu: app.cpu,
    };
    let main = app.main;
    let t = match rtos::kthread::create_with(app.name, opts, move || {
        power_off(main().clamp(0, 255) as u8)
    }) {
        Ok(t) => t,
        Err(e) => panic!("cannot create the {} thread: {}", app.name, e.name()),
    };
    // The thread that creates kthreads (Linux's kthreadd): the app's threads go through it.
    if let Err(e) = rtos::kthread::kthreadd::start() {
        panic!("cannot start kthreadd: {}", e.name());
    }
    rtos::kthread::wake_up_process(&t);
}

/// Starts every secondary CPU, then pings each with an SGI; a CPU is online once it answered.
/// Returns how each start went (index: CPU; CPU 0 is the boot CPU).
fn start_secondaries(k: &Kernel) -> [Option<Start>; MAX_CPUS] {
    let mut starts = [None; MAX_CPUS];
    let entry = arch::boot::_secondary_start as *const () as usize as u64;
    for (cpu, started) in STARTED.iter().enumerate().take(k.cpus).skip(1) {
        let begin = Instant::now();
        match k.board.smp {
            SmpMethod::Psci => {
                let Some(conduit) = k.psci else {
                    starts[cpu] = Some(Start::NotTried);
                    continue;
                };
                if let Err(e) = arch::psci::cpu_on(conduit, cpu as u64, entry, cpu as u64) {
                    starts[cpu] = Some(Start::Refused(e));
                    continue;
                }
            }
            SmpMethod::SpinTable { release_base } => {
                let slot = release_base + 8 * cpu;
                // SAFETY: the spin-table release slot of `cpu`, in boot-mapped RAM below the
                // kernel, read by that CPU's firmware stub.
                unsafe { core::ptr::write_volatile(slot as *mut u64, entry) };
                arch::cache::clean_to_poc(slot, 8);
                // SAFETY: SEV only signals an event to other CPUs.
                unsafe { core::arch::asm!("sev", options(nomem, nostack, preserves_flags)) };
            }
        }
        let deadline = Instant::after(CPU_START_TIMEOUT);
        while !started.load(Ordering::Acquire) && !deadline.has_passed() {
            arch::cpu_relax();
        }
        let ran = started.load(Ordering::Acquire);
        let online = rtos::cpu::stats(cpu).expect("cpu < MAX_CPUS");
        if ran {
            k.gic.send_sgi(Sgi::Ping, 1 << cpu);
            while !online.is_online() && !deadline.has_passed() {
                arch::cpu_relax();
            }
        }
        starts[cpu] = Some(if online.is_online() {
            Start::Online(Instant::now().saturating_duration_since(begin))
        } else {
            Start::NoAnswer { ran }
        });
    }
    starts
}

/// The banner's CPU lines: `  cpus: N/M online (cpu1 120us, ...)`, then one line per CPU that
/// did not come up, naming it and why.
fn report_cpus(total: usize, starts: &[Option<Start>]) {
    let mut times = alloc::string::String::new();
    for (cpu, s) in starts.iter().enumerate() {
        if let Some(Start::Online(d)) = s {
            let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
            let sep = if times.is_empty() { "" } else { ", " };
            let _ = core::fmt::Write::write_fmt(&mut times, format_args!("{sep}cpu{cpu} {us}us"));
        }
    }
    let started = if times.is_empty() {
        alloc::string::String::new()
    } else {
        alloc::format!(" (started in: {times})")
    };
    kprintln!(
        "  cpus: {}/{} online{}",
        rtos::cpu::online_count(),
        total,
        started
    );
    let secs = CPU_START_TIMEOUT.as_secs();
    for (cpu, s) in starts.iter().enumerate() {
        match s {
            Some(Start::Refused(e)) => {
                kprintln!("  cpu{cpu}: NOT STARTED: the firmware refused CPU_ON ({e:?})");
            }
            Some(Start::NoAnswer { ran: false }) => {
                kprintln!("  cpu{cpu}: NOT STARTED: it did not run the kernel within {secs} s");
            }
            Some(Start::NoAnswer { ran: true }) => {
                kprintln!("  cpu{cpu}: NOT STARTED: it ran but did not answer within {secs} s");
            }
            Some(Start::NotTried) => {
                kprintln!("  cpu{cpu}: NOT STARTED: no PSCI method in the device tree");
            }
            Some(Start::Online(_)) | None => {}
        }
    }
}

/// A secondary CPU's first Rust code, with its MMU on, on its boot stack, which becomes the
/// CPU's idle thread.
pub(crate) extern "C" fn secondary_main(cpu: usize) -> ! {
    arch::exceptions::install();
    arch::pmu::enable();
    let k = kernel();
    k.gic.init_cpu(&[timer::TIMER_INTID]);
    timer::set_deadline(None);
    rtos::entry::init_cpu();
    if let Some(started) = STARTED.get(cpu) {
        started.store(true, Ordering::Release);
    }
    arch::irq_enable();
    rtos::entry::idle_loop()
}

/// CPU hotplug: the CPU is off (powered off by PSCI, or parked in [`cpu_off`]'s WFE loop) and
/// may be started again.
static OFF: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
/// CPU hotplug: it is parked in the WFE loop (not powered off), waiting for [`RELEASE`].
static PARKED: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];
/// CPU hotplug: [`cpu_on`]'s word to a parked CPU.
static RELEASE: [AtomicBool; MAX_CPUS] = [const { AtomicBool::new(false) }; MAX_CPUS];

/// The port's `cpu_off` (interrupts masked; the kernel handed everything over): timer and GIC
/// CPU interface off, then PSCI `CPU_OFF` where the board has PSCI; otherwise (the Pi 4's spin
/// table, or a refused `CPU_OFF`) a WFE loop until [`cpu_on`] releases it, which starts it again
/// on a fresh boot stack.
pub(crate) fn cpu_off() -> ! {
    let k = kernel();
    let cpu = arch::cpu_id();
    timer::set_deadline(None);
    k.gic.disable_cpu();
    if let Some(started) = STARTED.get(cpu) {
        started.store(false, Ordering::Release);
    }
    if let (SmpMethod::Psci, Some(conduit)) = (k.board.smp, k.psci) {
        OFF[cpu].store(true, Ordering::Release);
        // Returns only if refused: then the CPU parks instead.
        let _ = arch::psci::cpu_off(conduit);
        OFF[cpu].store(false, Ordering::Release);
    }
    PARKED[cpu].store(true, Ordering::Release);
    OFF[cpu].store(true, Ordering::Release);
    while !RELEASE[cpu].swap(false, Ordering::AcqRel) {
        // A kernel reload parks every CPU outside the kernel's memory (it wakes us with SEV).
        crate::reload::park_if_reloading();
        arch::wfe();
    }
    PARKED[cpu].store(false, Ordering::Release);
    OFF[cpu].store(false, Ordering::Release);
    // SAFETY: this CPU was started by `start_secondaries` (its MMU, vectors and EL1 state are as
    // `_secondary_start` left them) and nothing lives on its boot stack any more: the frames
    // below here belong to the idle thread that left, which nothing will resume.
    unsafe { arch::boot::_secondary_rejoin(cpu) }
}

/// The port's `cpu_on`: starts `cpu` again after [`cpu_off`]: PSCI `CPU_ON` at the secondary
/// entry if it was powered off, else a release of its WFE loop. `Busy` while it is still on its
/// way off; `Invalid` for a CPU the board does not have.
pub(crate) fn cpu_on(cpu: usize) -> Result<(), rtos::Error> {
    let k = kernel();
    if cpu >= k.cpus || cpu >= MAX_CPUS {
        return Err(rtos::Error::Invalid);
    }
    if !OFF[cpu].load(Ordering::Acquire) {
        return Err(rtos::Error::Busy);
    }
    if PARKED[cpu].load(Ordering::Acquire) {
        RELEASE[cpu].store(true, Ordering::Release);
        arch::sev();
        return Ok(());
    }
    let Some(conduit) = k.psci else {
        return Err(rtos::Error::Invalid);
    };
    let entry = arch::boot::_secondary_start as *const () as usize as u64;
    match arch::psci::cpu_on(conduit, cpu as u64, entry, cpu as u64) {
        Ok(()) => {
            OFF[cpu].store(false, Ordering::Release);
            Ok(())
        }
        Err(smccc::psci::error::Error::AlreadyOn | smccc::psci::error::Error::OnPending) => {
            Err(rtos::Error::Busy)
        }
        Err(_) => Err(rtos::Error::Invalid),
    }
}

/// Ends the system with exit status `code`: QEMU exits with it (semihosting); on hardware the
/// board is powered off (PSCI) or halted by the watchdog. Pending console output is sent first.
pub fn power_off(code: u8) -> ! {
    let k = kernel();
    k.uart.flush();
    arch::semihosting::exit(u32::from(code));
    match (k.board.power, k.psci) {
        (PowerMethod::Psci, Some(c)) => arch::psci::system_off(c),
        // SAFETY: the board names its watchdog block, mapped as Device memory.
        (PowerMethod::Bcm2711Watchdog(base), _) => unsafe { bcm2711::watchdog_reset(base, true) },
        _ => {}
    }
    arch::halt()
}

/// Resets the board (PSCI `SYSTEM_RESET`, or the watchdog on the Pi 4), after sending pending
/// console output. Under QEMU with `-no-reboot` the emulator exits with status 0.
pub fn reboot() -> ! {
    let k = kernel();
    k.uart.flush();
    match (k.board.power, k.psci) {
        (PowerMethod::Psci, Some(c)) => arch::psci::system_reset(c),
        // SAFETY: as in `power_off`.
        (PowerMethod::Bcm2711Watchdog(base), _) => unsafe { bcm2711::watchdog_reset(base, false) },
        _ => {}
    }
    arch::halt()
}
