//! `reload`: receive a new kernel image over the console line and start it in place of the
//! running kernel (the sender is `runner push`, `just push` on the host).
//!
//! The protocol (framing, CRC-32, acknowledgements, limits, timeouts) is in [`proto`]. The
//! command reads the image's bytes raw, as a running command reads keys ([`Ctx::key`]): past the
//! line reader and the terminal wrapper, whichever mode the shell runs in, so no filter touches
//! them. While no byte is there it waits for input ([`System::idle`], at most 10 ms on the
//! kernel) and checks the timeouts against the kernel clock. A refusal is one
//! `error: reload: ...` line and status 1 (130 for Ctrl-C before the header); nothing changes.
//! Once the image is complete and its CRC matches, [`System::reload`] stops the other CPUs and
//! jumps to it; if even that refuses (nothing has changed then either), its reason is the error.
//!
//! [`System::idle`]: crate::System::idle
//! [`System::reload`]: crate::System::reload

pub(crate) mod proto;

use alloc::format;
use alloc::string::String;

use crate::args::{Args, CmdError};
use crate::ctx::{Command, Ctx, INTERRUPTED};
use crate::out::Key;
use proto::{ACK, Limits, Receiver, Refusal, Step};

/// `reload`.
pub(crate) const COMMANDS: &[Command] = &[Command {
    name: "reload",
    usage: "reload [--check]",
    help: "receive a new kernel over the serial line and start it",
    long_help: "Prints `reload: ready ...`, then receives a kernel image from `runner push`\n\
                (`just push <board>` on the host): a 48-byte header (magic, version, size,\n\
                CRC-32, load address, board), then the image in 4 KiB chunks, each\n\
                acknowledged. A bad header, an image for another board or over the size\n\
                limit, a pause of 2s (truncated), a CRC mismatch or no header within 60s is\n\
                refused with one error line (status 1) and the running kernel goes on;\n\
                Ctrl-C before the header aborts (status 130). A good image is started at once:\n\
                the other CPUs are parked, then it is copied to its load address and entered.\n\
                --check: receive and verify, but do not start it (status 0 if it is good).",
    run: cmd_reload,
}];

fn cmd_reload(ctx: &mut Ctx<'_>, args: &mut Args<'_>) -> Result<u8, CmdError> {
    let check = args.flag("--check")?;
    args.finish()?;
    let Some(target) = ctx.sys.reload_target() else {
        return Err(CmdError::runtime("this system cannot start another kernel"));
    };
    writeln!(
        ctx,
        "reload: ready for a {} image of at most {} bytes, linked for {:#x}; send it with \
         `just push` (Ctrl-C aborts)",
        target.board, target.max_size, target.load_addr
    );
    ctx.flush();
    let errors_before = uart_errors(ctx);
    // The UART's error count when the header was accepted: any error after it fails the
    // transfer at once (a lost byte would otherwise show only as a pause or a CRC mismatch).
    let mut errors_at_header = None;
    let limits = Limits {
        board: target.board,
        load_addr: target.load_addr,
        max_size: target.max_size,
    };
    let mut rx = Receiver::new(limits, ctx.sys.uptime());
    let done = loop {
        match ctx.key() {
            Some(Key::Byte(b)) => match rx.feed(b, ctx.sys.uptime()) {
                Ok(Step::More) => {}
                Ok(Step::Ack) => {
                    if let Err(why) = line_errors(ctx, &mut errors_at_header, &rx) {
                        break Err(why);
                    }
                    ctx.out.sink.put(&[ACK]);
                    ctx.flush();
                }
                Ok(Step::Done) => break Ok(()),
                Err(why) => break Err(why),
            },
            Some(Key::Closed) => {
                break Err(Refusal::Closed {
                    received: rx.received(),
                });
            }
            None => {
                if let Err(why) = rx
                    .poll(ctx.sys.uptime())
                    .and_then(|()| line_errors(ctx, &mut errors_at_header, &rx))
                {
                    break Err(why);
                }
                ctx.sys.idle();
            }
        }
    };
    if let Err(why) = done {
        if why == Refusal::Interrupted {
            ctx.out.sink.put(b"^C\r\n");
            return Ok(INTERRUPTED);
        }
        let lost = uart_errors(ctx).wrapping_sub(errors_before);
        let note = if lost > 0 {
            format!(" ({lost} UART receive errors meanwhile: overrun, or a wrong line speed)")
        } else {
            String::new()
        };
        return Err(CmdError::runtime(format!("{why}{note}")));
    }
    let (image, crc) = rx.take_image();
    writeln!(
        ctx,
        "reload: received {} bytes, CRC-32 {crc:#010x} ok",
        image.len()
    );
    if check {
        writeln!(ctx, "reload: --check: not starting it");
        return Ok(0);
    }
    writeln!(ctx, "reload: starting the new kernel");
    ctx.flush();
    let why = ctx.sys.reload(&image);
    Err(CmdError::runtime(why))
}

/// Records the UART's error count at the first ACK (the header's), and refuses once it grew.
fn line_errors(ctx: &Ctx<'_>, at_header: &mut Option<u32>, rx: &Receiver) -> Result<(), Refusal> {
    let now = uart_errors(ctx);
    match *at_header {
        None if rx.received() >= proto::HEADER_LEN => *at_header = Some(now),
        Some(before) if now != before => {
            return Err(Refusal::LineErrors {
                errors: now.wrapping_sub(before),
                received: rx.received(),
            });
        }
        _ => {}
    }
    Ok(())
}

/// The console UART's receive errors so far (0 if the system reports none).
fn uart_errors(ctx: &Ctx<'_>) -> u32 {
    ctx.sys.uart().map_or(0, |u| u.rx_errors)
}
