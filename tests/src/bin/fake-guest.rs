//! `fake-guest`: a stand-in for `qemu-system-aarch64` + kernel, used by the runner's own tests
//! (`RUNNER_QEMU=target/debug/fake-guest runner script ...`). It takes QEMU's command line, prints
//! a banner in the contract's shape and runs a tiny shell on stdin/stdout.
//!
//! Shell: `echo ARGS`, `true`, `false`, `sleep N[s|ms]` (bad argument: status 2), `set -e`,
//! `poweroff [N]`, `exit [N]`, `reboot`, `crash panic|fault`; anything else is status 127.
//! End of input ends the shell with the last status.
//!
//! Environment knobs:
//! - `FAKE_GUEST_MODE`: `normal` (default), `no-prompt` (banner, then hang), `silent-fail`
//!   (exit 1 printing only to stderr, like QEMU refusing a machine), `early-exit` (banner, exit 7).
//! - `FAKE_GUEST_NO_ECHO=1`: do not echo input lines (by default each line is echoed after the
//!   prompt, as a line editor does, so command output starts on a line of its own).
//! - `FAKE_GUEST_ONLINE=N`: the banner says only N CPUs came online.
//! - `FAKE_GUEST_PROBE=1`: send `ESC[999;999H ESC[6n` before every prompt.
//! - `FAKE_GUEST_PANIC_HANG=1`: after `KERNEL PANIC`, hang instead of exiting 101.
//! - `FAKE_GUEST_READ_DELAY_US=N`: sleep N microseconds before reading each byte (a slow UART).
//! - `FAKE_GUEST_ARGV=FILE`: write the command line there, one argument per line.
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::time::Duration;

fn out(s: &str) {
    let mut o = std::io::stdout().lock();
    let _ = o.write_all(s.as_bytes());
    let _ = o.flush();
}

fn hang() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn parse_duration(s: &str) -> Option<Duration> {
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    s.strip_suffix('s')
        .unwrap_or(s)
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(Duration::from_secs_f64)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(f) = env("FAKE_GUEST_ARGV") {
        let _ = std::fs::write(f, args.join("\n"));
    }
    let arg_after = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let machine = arg_after("-M").unwrap_or_default();
    let cpus: u32 = if machine.starts_with("raspi4b") {
        4
    } else {
        arg_after("-smp").and_then(|s| s.parse().ok()).unwrap_or(1)
    };
    let no_reboot = args.iter().any(|a| a == "-no-reboot");
    let mode = env("FAKE_GUEST_MODE").unwrap_or_else(|| "normal".into());
    let probe = env("FAKE_GUEST_PROBE").is_some();
    let echo = env("FAKE_GUEST_NO_ECHO").is_none();
    let panic_hang = env("FAKE_GUEST_PANIC_HANG").is_some();
    let delay = env("FAKE_GUEST_READ_DELAY_US")
        .and_then(|v| v.parse().ok())
        .map(Duration::from_micros);

    if mode == "silent-fail" {
        eprintln!("fake-guest: unsupported machine type");
        std::process::exit(1);
    }
    let online: u32 = env("FAKE_GUEST_ONLINE")
        .and_then(|v| v.parse().ok())
        .unwrap_or(cpus);
    out(&format!(
        "rtos 0.1.0 on fake-guest\r\n  entry: EL1 (running at EL1)\r\n  cpus: {online}/{cpus} online\r\n"
    ));
    match mode.as_str() {
        "no-prompt" => hang(),
        "early-exit" => std::process::exit(7),
        _ => {}
    }

    let mut stdin = std::io::stdin().lock();
    let mut status: i32 = 0;
    let mut errexit = false;
    loop {
        if probe {
            out("\x1b[999;999H\x1b[6n");
        }
        out("rtos> ");
        let mut line = Vec::new();
        loop {
            if let Some(d) = delay {
                std::thread::sleep(d);
            }
            let mut b = [0u8];
            match stdin.read(&mut b) {
                Ok(0) | Err(_) => std::process::exit(status),
                Ok(_) => {}
            }
            if b[0] == b'\n' || b[0] == b'\r' {
                break;
            }
            line.push(b[0]);
        }
        if echo {
            let mut o = std::io::stdout().lock();
            let _ = o.write_all(&line);
            let _ = o.write_all(b"\r\n");
            let _ = o.flush();
        }
        let line = String::from_utf8_lossy(&line).into_owned();
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&cmd, rest)) = words.split_first() else {
            continue;
        };
        let num = |d: i32| {
            rest.first()
                .and_then(|s| s.parse::<i32>().ok())
                .unwrap_or(d)
        };
        status = match cmd {
            "echo" => {
                out(&format!("{}\r\n", rest.join(" ")));
                0
            }
            "true" => 0,
            "false" => 1,
            "sleep" => match rest.first().and_then(|s| parse_duration(s)) {
                Some(d) if rest.len() == 1 => {
                    std::thread::sleep(d);
                    0
                }
                _ => {
                    out("sleep: invalid duration\r\n");
                    2
                }
            },
            "set" if rest == ["-e"] => {
                errexit = true;
                0
            }
            "poweroff" => std::process::exit(num(0)),
            "exit" => std::process::exit(num(status)),
            "reboot" => {
                if no_reboot {
                    std::process::exit(0)
                }
                out("rebooting is not faked\r\n");
                1
            }
            "crash" => {
                out(&format!(
                    "KERNEL PANIC: deliberate {} (fake)\r\n  at fake-guest\r\n",
                    rest.first().unwrap_or(&"panic")
                ));
                if panic_hang {
                    hang()
                }
                std::process::exit(101)
            }
            _ => {
                out(&format!("{cmd}: command not found\r\n"));
                127
            }
        };
        if errexit && status != 0 {
            std::process::exit(status);
        }
    }
}
