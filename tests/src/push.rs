//! `runner push`: sends a kernel image to the shell's `reload` command over a serial line, a
//! QEMU guest's ([`push_qemu`]) or a real Raspberry Pi 4's ([`push_tty`]), and watches the new
//! kernel come up.
//!
//! # The protocol (version 1)
//! Written from its description in the shell (`shell/src/reload/proto.rs`), sharing no code
//! with the receiver. All integers are little-endian; CRC-32 is the IEEE/zlib one.
//! 1. Send `reload\r`; the shell answers with a line starting `reload: ready`.
//! 2. Send the 48-byte [`header`]: magic `RTOSLOAD`, version 1, header length 48, image size,
//!    image CRC-32, load address (8 bytes), board name (16 bytes, NUL-padded), CRC-32 of the 44
//!    bytes before it. The kernel answers ACK (0x06), or refuses with a line
//!    `error: reload: <why>`.
//! 3. Send the image in [`CHUNK`]-byte chunks, waiting for an ACK after each but the last.
//! 4. The kernel checks the CRC-32 and prints `reload: received <n> bytes, CRC-32 0x<crc> ok`
//!    and `reload: starting the new kernel`, or its refusal. The new kernel's banner follows.
//!
//! Nothing is retried: every failure stops the push with a message saying what was awaited and
//! what the line showed last.
//!
//! # Images
//! The image is the board's flat binary (`kernel8.img`, `qemu-virt.bin`), by default freshly
//! built. [`set_tag`] writes a build tag into a copy (the kernel's banner shows it as
//! `  build: <tag>`), so that the pushed kernel can be told from the one it replaced.

use std::ffi::OsString;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::script::{RawEnd, exit_code, kill_and_reap, spawn_piped};
use crate::transcript::Scanner;
use crate::{Board, STATUS_PANIC, STATUS_START_FAILED, STATUS_TIMEOUT, StartError, build};

/// First bytes of a header.
pub const MAGIC: &[u8; 8] = b"RTOSLOAD";
/// The protocol version spoken here.
pub const VERSION: u16 = 1;
/// Bytes in a header.
pub const HEADER_LEN: usize = 48;
/// Image bytes between two ACKs.
pub const CHUNK: usize = 4096;
/// The receiver's acknowledgement.
pub const ACK: u8 = 0x06;
/// The start of `reload`'s first line.
pub const READY: &[u8] = b"reload: ready";
/// The start of the line that accepts the image.
pub const RECEIVED: &[u8] = b"reload: received ";
/// The line before the jump.
pub const STARTING: &[u8] = b"reload: starting the new kernel";
/// The line `reload --check` ends with.
pub const CHECKED: &[u8] = b"reload: --check: not starting it";
/// The start of a refusal.
pub const REFUSED: &[u8] = b"error: reload: ";
/// What starts the build-tag slot in a kernel image (`bsp::boot::BUILD_TAG_MARKER`).
pub const TAG_MARKER: &[u8; 16] = b"RTOS-BUILD-TAG:\0";
/// Bytes of the build-tag slot, marker included.
pub const TAG_SLOT: usize = 64;
/// The largest image a kernel accepts (`bsp::reload::MAX_IMAGE`).
pub const MAX_IMAGE: usize = 4 << 20;
/// The shell's prompt.
const PROMPT: &[u8] = b"rtos> ";

/// How long each answer of the kernel may take (the ready line, an ACK, the verdict).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// The CRC-32 of the protocol.
pub fn crc32(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// The header for `image`, built for `board`.
pub fn header(image: &[u8], board: Board) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..8].copy_from_slice(MAGIC);
    h[8..10].copy_from_slice(&VERSION.to_le_bytes());
    h[10..12].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
    h[12..16].copy_from_slice(&u32::try_from(image.len()).unwrap_or(u32::MAX).to_le_bytes());
    h[16..20].copy_from_slice(&crc32(image).to_le_bytes());
    h[20..28].copy_from_slice(&board.load_address().to_le_bytes());
    let name = board.kernel_name().as_bytes();
    h[28..28 + name.len()].copy_from_slice(name);
    let c = crc32(&h[..44]);
    h[44..48].copy_from_slice(&c.to_le_bytes());
    h
}

/// Refuses what cannot be `board`'s flat kernel image, before anything is sent: it must start
/// with an arm64 Image header (magic `ARM\x64` at 0x38) whose `text_offset` is the board's.
pub fn check_image(image: &[u8], board: Board) -> Result<(), String> {
    if image.is_empty() {
        return Err("the image is empty".into());
    }
    if image.starts_with(b"\x7fELF") {
        return Err(
            "the image is an ELF file; push the flat binary (`kernel8.img`, \
                    `qemu-virt.bin`: `runner push` builds it when --image is not given)"
                .into(),
        );
    }
    if image.len() > MAX_IMAGE {
        return Err(format!(
            "the image has {} bytes; a kernel takes at most {MAX_IMAGE}",
            image.len()
        ));
    }
    if image.get(0x38..0x3c) != Some(b"ARM\x64".as_slice()) {
        return Err(
            "the image has no arm64 Image header (magic `ARM\\x64` at 0x38): is it \
                    this project's kernel?"
                .into(),
        );
    }
    let offset = u64::from_le_bytes(image[8..16].try_into().unwrap_or_default());
    if offset != board.text_offset() {
        let other = crate::Board::ALL
            .into_iter()
            .find(|b| b.text_offset() == offset)
            .map_or(String::new(), |b| format!(", {b}'s"));
        return Err(format!(
            "the image is linked for text_offset {offset:#x}{other}, not {board}'s {:#x}",
            board.text_offset()
        ));
    }
    Ok(())
}

/// Writes `tag` into the image's build-tag slot (see the module docs).
pub fn set_tag(image: &mut [u8], tag: &str) -> Result<(), String> {
    let room = TAG_SLOT - TAG_MARKER.len() - 1;
    if tag.len() > room {
        return Err(format!(
            "the tag has {} bytes; at most {room} fit",
            tag.len()
        ));
    }
    if tag.chars().any(char::is_control) {
        return Err("the tag may not hold control characters".into());
    }
    let hits: Vec<usize> = image
        .windows(TAG_MARKER.len())
        .enumerate()
        .filter(|(_, w)| w == TAG_MARKER)
        .map(|(i, _)| i)
        .collect();
    let at = match hits[..] {
        [at] if at + TAG_SLOT <= image.len() => at + TAG_MARKER.len(),
        [] | [_] => {
            return Err("the image has no build-tag slot: is it this project's kernel?".into());
        }
        _ => return Err("the image has several build-tag slots".into()),
    };
    let slot = &mut image[at..at + TAG_SLOT - TAG_MARKER.len()];
    slot.fill(0);
    slot[..tag.len()].copy_from_slice(tag.as_bytes());
    Ok(())
}

/// Why a push failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushError {
    /// The kernel refused: its `error: reload: ...` line.
    Refused(String),
    /// No answer in time: what was awaited, and the last output.
    Timeout(String),
    /// The line ended (the guest exited, the device went away): what was awaited.
    Closed(String),
    /// Writing to the line failed.
    Io(String),
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Refused(line) => write!(f, "the kernel refused the image: {line}"),
            PushError::Timeout(what) => write!(f, "timeout: {what}"),
            PushError::Closed(what) => write!(f, "the serial line ended {what}"),
            PushError::Io(e) => write!(f, "writing to the serial line failed: {e}"),
        }
    }
}

/// The serial line as the sender sees it: bytes to the kernel, its output as it arrives.
pub struct Line {
    tx: Box<dyn Write + Send>,
    rx: Receiver<Vec<u8>>,
    /// Everything received so far.
    pub out: Vec<u8>,
    /// Where the next wait starts looking.
    pos: usize,
    closed: bool,
    /// With echo: the output shown so far, without the cursor probes.
    echo: Option<Scanner>,
}

/// Finds `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A whole line of `hay` starting with `prefix` (at a line start or not): its text and the end
/// of its `\n`.
fn line_with(hay: &[u8], prefix: &[u8]) -> Option<(String, usize)> {
    let at = find(hay, prefix)?;
    let nl = at + hay[at..].iter().position(|&b| b == b'\n')?;
    let text = String::from_utf8_lossy(&hay[at..nl]).trim_end().to_string();
    Some((text, nl + 1))
}

/// `hay`'s last bytes, printable, for a message.
fn tail(hay: &[u8]) -> String {
    let from = hay.len().saturating_sub(160);
    let s: String = String::from_utf8_lossy(&hay[from..])
        .chars()
        .filter(|&c| c != char::from(ACK))
        .collect();
    format!("{:?}", s.trim())
}

impl Line {
    /// A line writing to `tx` and reading what `rx` delivers (a reader thread's chunks; the line
    /// ends when the sender hangs up). With `echo`, output is copied to stdout as it arrives
    /// (without the ACK bytes).
    pub fn new(tx: Box<dyn Write + Send>, rx: Receiver<Vec<u8>>, echo: bool) -> Self {
        Self {
            tx,
            rx,
            out: Vec::new(),
            pos: 0,
            closed: false,
            echo: echo.then(Scanner::new),
        }
    }

    /// Sends `bytes`.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), PushError> {
        self.tx
            .write_all(bytes)
            .and_then(|()| self.tx.flush())
            .map_err(|e| PushError::Io(e.to_string()))
    }

    /// Takes what arrives until `until` (at least one chunk if one comes); false once the line
    /// has ended.
    fn pull(&mut self, until: Instant) -> bool {
        let left = until.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(chunk) => {
                self.take(chunk);
                while let Ok(more) = self.rx.try_recv() {
                    self.take(more);
                }
                true
            }
            Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => {
                self.closed = true;
                false
            }
        }
    }

    fn take(&mut self, chunk: Vec<u8>) {
        if let Some(scanner) = &mut self.echo {
            // As `runner script` shows it: a cursor probe on our terminal would make it type
            // its answer into whatever runs next.
            let (_, new) = scanner.feed(&chunk);
            let shown: Vec<u8> = scanner.text()[new]
                .iter()
                .copied()
                .filter(|&b| b != ACK)
                .collect();
            let mut o = std::io::stdout();
            let _ = o.write_all(&shown).and_then(|()| o.flush());
        }
        self.out.extend_from_slice(&chunk);
    }

    /// Waits up to `timeout` for `found` to match the output after the last match; moves past
    /// what it matched. A refusal line before the match is the result instead. `what` says
    /// what was awaited, for the error.
    pub fn wait<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut found: impl FnMut(&[u8]) -> Option<(T, usize)>,
    ) -> Result<T, PushError> {
        let until = Instant::now() + timeout;
        loop {
            let rest = &self.out[self.pos..];
            let refusal = line_with(rest, REFUSED);
            match found(rest) {
                Some((v, end)) if refusal.as_ref().is_none_or(|r| end < r.1) => {
                    self.pos += end;
                    return Ok(v);
                }
                _ => {}
            }
            if let Some((line, end)) = refusal {
                self.pos += end;
                return Err(PushError::Refused(line));
            }
            if self.closed {
                return Err(PushError::Closed(format!(
                    "while waiting for {what} (last output: {})",
                    tail(&self.out)
                )));
            }
            if Instant::now() >= until {
                return Err(PushError::Timeout(format!(
                    "no {what} within {} s (last output: {})",
                    timeout.as_secs_f64(),
                    tail(&self.out)
                )));
            }
            self.pull(until);
        }
    }

    /// Waits for `text`; moves past it.
    pub fn wait_text(
        &mut self,
        text: &[u8],
        what: &str,
        timeout: Duration,
    ) -> Result<(), PushError> {
        self.wait(what, timeout, |rest| {
            find(rest, text).map(|i| ((), i + text.len()))
        })
    }

    /// Waits for a whole line starting with `prefix`; its text.
    pub fn wait_line(
        &mut self,
        prefix: &[u8],
        what: &str,
        timeout: Duration,
    ) -> Result<String, PushError> {
        self.wait(what, timeout, |rest| line_with(rest, prefix))
    }

    /// Waits for an ACK.
    fn wait_ack(&mut self, what: &str) -> Result<(), PushError> {
        self.wait(what, ANSWER_TIMEOUT, |rest| {
            rest.iter().position(|&b| b == ACK).map(|i| ((), i + 1))
        })
    }

    /// Everything received, as text.
    pub fn transcript(&self) -> String {
        String::from_utf8_lossy(&self.out)
            .chars()
            .filter(|&c| c != char::from(ACK))
            .collect()
    }
}

/// Runs the protocol on `line`, the shell at its prompt on the other end: `reload` (with
/// `--check`: `reload --check`), the `header` and `data` (normally `header(data, board)`),
/// `progress(sent, total)` once the header is accepted (`sent` 0) and after each chunk.
/// Returns the kernel's acceptance line; with `check` the kernel then goes on, otherwise it has
/// started the image.
pub fn send_image(
    line: &mut Line,
    header: &[u8; HEADER_LEN],
    data: &[u8],
    check: bool,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<String, PushError> {
    line.send(if check {
        b"reload --check\r"
    } else {
        b"reload\r"
    })?;
    line.wait_line(READY, "`reload: ready` line from the shell", ANSWER_TIMEOUT)?;
    line.send(header)?;
    line.wait_ack("acknowledgement of the header")?;
    progress(0, data.len());
    let mut sent = 0;
    let chunks = data.len().div_ceil(CHUNK);
    for (i, chunk) in data.chunks(CHUNK).enumerate() {
        line.send(chunk)?;
        sent += chunk.len();
        progress(sent, data.len());
        if i + 1 < chunks {
            line.wait_ack(&format!("acknowledgement of the image up to byte {sent}"))?;
        }
    }
    let ok = line.wait_line(RECEIVED, "verdict on the image", ANSWER_TIMEOUT)?;
    let last = if check { CHECKED } else { STARTING };
    line.wait_text(last, &String::from_utf8_lossy(last), ANSWER_TIMEOUT)?;
    Ok(ok)
}

/// What `runner push` does besides the protocol.
#[derive(Clone, Debug)]
pub struct PushOpts {
    /// The image to push (default: the board's freshly built flat binary).
    pub image: Option<PathBuf>,
    /// With QEMU: the kernel booted first (default: the freshly built one).
    pub kernel: Option<PathBuf>,
    /// Write this build tag into (a copy of) the image first; the new banner must show it.
    pub tag: Option<String>,
    /// `reload --check`: the kernel verifies the image and goes on.
    pub check: bool,
    /// Limit for the whole run.
    pub timeout: Duration,
    /// Copy the serial output to stdout and progress to stderr.
    pub echo: bool,
    /// With QEMU: input for the shell before the push (sent at its first prompt).
    pub before: Vec<u8>,
    /// With QEMU: push this many times in a row, each new kernel receiving the next push
    /// (default 1).
    pub times: u32,
    /// With QEMU: input for the shell once the push is over (on the new kernel, or on the old
    /// one after a refusal), before the final `exit`.
    pub then: Vec<u8>,
    /// With QEMU: flip the bits of this image byte after the header is made (to see a corrupt
    /// image refused).
    pub corrupt_at: Option<usize>,
    /// Skip [`check_image`] (tests: the kernel must refuse a wrong image by itself).
    pub unchecked: bool,
    /// With QEMU: `-smp` on virt.
    pub smp: Option<u32>,
    /// With QEMU: extra arguments.
    pub extra_args: Vec<OsString>,
    /// The workspace to build in (default [`build::workspace_root`]).
    pub root: Option<PathBuf>,
    /// Build quietly.
    pub quiet_build: bool,
}

impl Default for PushOpts {
    fn default() -> Self {
        Self {
            image: None,
            kernel: None,
            tag: None,
            check: false,
            timeout: Duration::from_secs(120),
            echo: false,
            before: Vec::new(),
            times: 1,
            then: Vec::new(),
            corrupt_at: None,
            unchecked: false,
            smp: None,
            extra_args: Vec::new(),
            root: None,
            quiet_build: true,
        }
    }
}

/// The image to push, as `opts` ask: read or built, checked, tagged.
pub fn load_image(board: Board, opts: &PushOpts) -> Result<Vec<u8>, StartError> {
    let path = match &opts.image {
        Some(p) => p.clone(),
        None => {
            let root = opts.root.clone().unwrap_or_else(build::workspace_root);
            build::build_flat(&root, board, opts.quiet_build)?
        }
    };
    let mut image = std::fs::read(&path)
        .map_err(|e| StartError(format!("cannot read the image {}: {e}", path.display())))?;
    if !opts.unchecked {
        check_image(&image, board).map_err(|e| StartError(format!("{}: {e}", path.display())))?;
    }
    if let Some(tag) = &opts.tag {
        set_tag(&mut image, tag).map_err(|e| StartError(format!("{}: {e}", path.display())))?;
    }
    Ok(image)
}

/// The result of a push.
#[derive(Debug)]
pub struct PushOutcome {
    /// What `runner push` exits with: 0 when the new kernel came up (with `check`: when the
    /// image was accepted), 1 when the kernel refused it, 101 after a kernel panic, 124 on a
    /// timeout, 125 when the build or QEMU failed to start.
    pub status: i32,
    /// The kernel's acceptance line, or why the push failed.
    pub result: Result<String, PushError>,
    /// The serial transcript (ACK bytes removed).
    pub transcript: String,
    /// A line for stderr.
    pub message: Option<String>,
    /// With QEMU: the guest's exit status, if it exited by itself.
    pub guest_status: Option<i32>,
    /// From start to end.
    pub elapsed: Duration,
}

impl PushOutcome {
    fn failed(status: i32, message: String) -> Self {
        PushOutcome {
            status,
            result: Err(PushError::Io(message.clone())),
            transcript: String::new(),
            message: Some(message),
            guest_status: None,
            elapsed: Duration::ZERO,
        }
    }

    /// The transcript's lines, without `\r`.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.transcript.lines().map(|l| l.trim_end_matches('\r'))
    }
}

/// Copies what `from` yields to a channel, chunk by chunk, until it ends.
pub(crate) fn reader(mut from: impl Read + Send + 'static) -> Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    });
    rx
}

/// Progress on stderr, in tenths, and the rate at the end.
fn progress_printer(echo: bool) -> impl FnMut(usize, usize) {
    let mut last = usize::MAX;
    let mut start = Instant::now();
    move |sent, total| {
        if sent == 0 {
            start = Instant::now();
            return;
        }
        let tenth = sent * 10 / total.max(1);
        if echo && tenth != last {
            last = tenth;
            if sent < total {
                eprintln!("runner: push: {sent} of {total} bytes ({}%)", tenth * 10);
            } else {
                let secs = start.elapsed().as_secs_f64();
                eprintln!(
                    "runner: push: {total} bytes in {secs:.2} s ({:.0} KB/s)",
                    total as f64 / secs.max(1e-9) / 1000.0
                );
            }
        }
    }
}

/// After the jump: the new kernel's banner (with its tag, if one was written) and prompt.
fn await_new_kernel(
    line: &mut Line,
    tag: Option<&str>,
    timeout: Duration,
) -> Result<(), PushError> {
    line.wait_text(b"\nrtos ", "banner of the new kernel", timeout)?;
    if let Some(tag) = tag {
        let want = format!("  build: {tag}\r\n");
        line.wait_text(
            want.as_bytes(),
            &format!("`build: {tag}` in the new banner"),
            timeout,
        )?;
    }
    line.wait_text(PROMPT, "prompt of the new kernel", timeout)
}

/// `runner push [board]` with QEMU: boots the board with `opts.kernel`, pushes the image once
/// the shell's prompt appears, waits for the new kernel's banner and prompt (with `check`: for
/// the verdict), sends `opts.then` and `exit`, and waits for QEMU to end.
pub fn push_qemu(board: Board, opts: &PushOpts) -> PushOutcome {
    let start = Instant::now();
    let script_opts = crate::ScriptOpts {
        kernel: opts.kernel.clone(),
        smp: opts.smp,
        root: opts.root.clone(),
        quiet_build: opts.quiet_build,
        extra_args: opts.extra_args.clone(),
        ..crate::ScriptOpts::default()
    };
    let (kernel, image) = match crate::script::resolve_kernel(board, &script_opts)
        .and_then(|k| Ok((k, load_image(board, opts)?)))
    {
        Ok(v) => v,
        Err(e) => return PushOutcome::failed(STATUS_START_FAILED, format!("runner: {e}")),
    };
    let head = header(&image, board);
    let mut data = image;
    if let Some(at) = opts.corrupt_at
        && let Some(b) = data.get_mut(at)
    {
        *b ^= 0xff;
    }
    let mut cmd = crate::script::script_command(board, &kernel, &script_opts);
    let mut child = match spawn_piped(&mut cmd) {
        Ok(c) => c,
        Err(e) => return PushOutcome::failed(STATUS_START_FAILED, e),
    };
    let (Some(stdin), Some(stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        kill_and_reap(&mut child);
        return PushOutcome::failed(STATUS_START_FAILED, "runner: QEMU without pipes".into());
    };
    let errors = Arc::new(Mutex::new(Vec::new()));
    let errors2 = Arc::clone(&errors);
    thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stderr.read_to_end(&mut v);
        *errors2.lock().unwrap_or_else(|p| p.into_inner()) = v;
    });
    let mut line = Line::new(Box::new(stdin), reader(stdout), opts.echo);
    let deadline = start + opts.timeout;
    let left = || deadline.saturating_duration_since(Instant::now());
    let mut progress = progress_printer(opts.echo);
    let mut result = line
        .wait_text(PROMPT, "first prompt", left())
        .and_then(|()| line.send(&opts.before))
        .map(|()| String::new());
    for _ in 0..opts.times {
        result = result.and_then(|_| {
            let ok = send_image(&mut line, &head, &data, opts.check, &mut progress)?;
            if !opts.check {
                await_new_kernel(&mut line, opts.tag.as_deref(), left())?;
            }
            Ok(ok)
        });
    }
    // The shell is at a prompt unless the line broke or timed out: run `then`, then end.
    if matches!(result, Ok(_) | Err(PushError::Refused(_))) {
        let mut input = opts.then.clone();
        if !input.is_empty() && !input.ends_with(b"\n") {
            input.push(b'\n');
        }
        input.extend_from_slice(b"exit\n");
        let _ = line.send(&input);
    }
    let end = loop {
        match child.try_wait() {
            Ok(Some(st)) => break exit_code(st),
            Ok(None) if Instant::now() < deadline => {
                line.pull(Instant::now() + Duration::from_millis(20));
            }
            _ => {
                kill_and_reap(&mut child);
                break RawEnd::TimedOut;
            }
        }
    };
    // The rest of the output (QEMU is gone: the reader ends soon).
    let drain = Instant::now() + Duration::from_secs(2);
    while !line.closed && Instant::now() < drain {
        line.pull(drain);
    }
    let transcript = line.transcript();
    let panicked = transcript.contains("KERNEL PANIC");
    let guest_status = match end {
        RawEnd::Exited(c) => Some(c),
        _ => None,
    };
    let (status, message) = match (&result, end) {
        _ if panicked => (STATUS_PANIC, Some("runner: push: KERNEL PANIC".to_string())),
        (Ok(_), RawEnd::Exited(c)) => (c, None),
        (Err(PushError::Refused(l)), _) => (1, Some(format!("runner: push: {l}"))),
        (Err(e @ PushError::Timeout(_)), _) => (STATUS_TIMEOUT, Some(format!("runner: push: {e}"))),
        (Err(e), _) => (1, Some(format!("runner: push: {e}"))),
        (Ok(_), _) => (
            STATUS_TIMEOUT,
            Some(format!(
                "runner: push: the guest did not end within {} s; killed QEMU",
                opts.timeout.as_secs_f64()
            )),
        ),
    };
    let stderr =
        String::from_utf8_lossy(&errors.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    let message = match message {
        Some(m) if !stderr.trim().is_empty() => Some(format!("{m}\nqemu: {}", stderr.trim())),
        m => m,
    };
    PushOutcome {
        status,
        result,
        transcript,
        message,
        guest_status,
        elapsed: start.elapsed(),
    }
}

/// Sets the serial device `dev` to 115200 baud, 8N1, raw, no flow control (with `stty`).
pub fn configure_tty(dev: &Path) -> Result<(), StartError> {
    let flag = if cfg!(target_os = "linux") {
        "-F"
    } else {
        "-f"
    };
    let st = Command::new("stty")
        .arg(flag)
        .arg(dev)
        .args([
            "115200", "cs8", "-cstopb", "-parenb", "raw", "-echo", "-ixon", "-ixoff", "-crtscts",
            "clocal",
        ])
        .stdin(Stdio::null())
        .status()
        .map_err(|e| StartError(format!("could not run stty: {e}")))?;
    if !st.success() {
        return Err(StartError(format!(
            "stty could not set {} to 115200 8N1 raw ({st})",
            dev.display()
        )));
    }
    Ok(())
}

/// The size of this terminal, `(rows, cols)`, if stdin or `/dev/tty` is one.
fn terminal_size() -> Option<(u16, u16)> {
    let tty = std::fs::File::open("/dev/tty").ok()?;
    let out = Command::new("stty").arg("size").stdin(tty).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text.split_whitespace().map(str::parse::<u16>);
    match (it.next(), it.next()) {
        (Some(Ok(r)), Some(Ok(c))) if r > 0 && c > 0 => Some((r, c)),
        _ => None,
    }
}

/// `runner push [board] --tty DEV`: a real board on a serial device, its shell at a prompt.
/// Sends Ctrl-C first (ending whatever runs there), pushes, waits for the new banner and prompt.
/// The new shell asks what terminal it is on: the runner answers with this terminal's size, so
/// that the terminal program opened next gets the line editor.
pub fn push_tty(board: Board, dev: &Path, opts: &PushOpts) -> PushOutcome {
    let start = Instant::now();
    let image = match load_image(board, opts) {
        Ok(i) => i,
        Err(e) => return PushOutcome::failed(STATUS_START_FAILED, format!("runner: {e}")),
    };
    let file = match configure_tty(dev).and_then(|()| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(dev)
            .map_err(|e| StartError(format!("cannot open {}: {e}", dev.display())))
    }) {
        Ok(f) => f,
        Err(e) => return PushOutcome::failed(STATUS_START_FAILED, format!("runner: {e}")),
    };
    let rx = match file.try_clone() {
        Ok(r) => reader(r),
        Err(e) => {
            return PushOutcome::failed(
                STATUS_START_FAILED,
                format!("runner: cannot read {}: {e}", dev.display()),
            );
        }
    };
    let mut line = Line::new(Box::new(file), rx, opts.echo);
    if opts.echo {
        eprintln!(
            "runner: push: {} bytes to {} ({})",
            image.len(),
            dev.display(),
            board.kernel_name()
        );
    }
    let head = header(&image, board);
    let deadline = start + opts.timeout;
    let left = || deadline.saturating_duration_since(Instant::now());
    let mut progress = progress_printer(opts.echo);
    // Ctrl-C ends a running command or a half-typed line; the prompt it brings back is not
    // required (a plain-mode shell at an empty line prints `^C` and a prompt; a busy one may
    // take a moment).
    let result = line
        .send(b"\x03")
        .and_then(|()| {
            let _ = line.wait_text(PROMPT, "prompt", Duration::from_millis(500));
            send_image(&mut line, &head, &image, opts.check, &mut progress)
        })
        .and_then(|ok| {
            if !opts.check {
                await_new_kernel(&mut line, opts.tag.as_deref(), left())?;
            }
            Ok(ok)
        });
    if result.is_ok()
        && !opts.check
        && find(&line.out[line.pos.saturating_sub(64)..], b"\x1b[6n").is_some()
    {
        let (rows, cols) = terminal_size().unwrap_or((24, 80));
        let _ = line.send(format!("\x1b[{rows};{cols}R").as_bytes());
    }
    let (status, message) = match &result {
        Ok(_) if opts.check => (0, None),
        Ok(_) => (
            0,
            Some(format!(
                "runner: the new kernel is up on {dev}; connect with e.g. `picocom -b 115200 {dev}`",
                dev = dev.display()
            )),
        ),
        Err(PushError::Refused(l)) => (1, Some(format!("runner: push: {l}"))),
        Err(e @ PushError::Timeout(_)) => (STATUS_TIMEOUT, Some(format!("runner: push: {e}"))),
        Err(e) => (1, Some(format!("runner: push: {e}"))),
    };
    PushOutcome {
        status,
        result,
        transcript: line.transcript(),
        message,
        guest_status: None,
        elapsed: start.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_the_common_one() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn header_layout_matches_the_spec() {
        let img = b"hello kernel";
        let h = header(img, Board::Rpi4);
        assert_eq!(&h[..8], b"RTOSLOAD");
        assert_eq!(u16::from_le_bytes([h[8], h[9]]), 1);
        assert_eq!(u16::from_le_bytes([h[10], h[11]]), 48);
        assert_eq!(u32::from_le_bytes(h[12..16].try_into().unwrap()), 12);
        assert_eq!(
            u32::from_le_bytes(h[16..20].try_into().unwrap()),
            crc32(img)
        );
        assert_eq!(u64::from_le_bytes(h[20..28].try_into().unwrap()), 0x8_0000);
        assert_eq!(&h[28..44], b"rpi4\0\0\0\0\0\0\0\0\0\0\0\0");
        assert_eq!(
            u32::from_le_bytes(h[44..48].try_into().unwrap()),
            crc32(&h[..44])
        );
        let h = header(img, Board::Virt);
        assert_eq!(&h[28..38], b"qemu-virt\0");
        assert_eq!(
            u64::from_le_bytes(h[20..28].try_into().unwrap()),
            0x4020_0000
        );
    }

    fn with_slot(tag: &[u8]) -> Vec<u8> {
        let mut v = vec![0xaa; 100];
        v.extend_from_slice(TAG_MARKER);
        let mut slot = tag.to_vec();
        slot.resize(TAG_SLOT - TAG_MARKER.len(), 0);
        v.extend_from_slice(&slot);
        v.extend_from_slice(&[0xbb; 10]);
        v
    }

    #[test]
    fn set_tag_writes_into_the_one_slot() {
        let mut img = with_slot(b"old-and-longer-tag");
        set_tag(&mut img, "new").unwrap();
        assert_eq!(img, with_slot(b"new"));
        let longest = "x".repeat(47);
        set_tag(&mut img, &longest).unwrap();
        assert_eq!(img[116 + 47], 0, "the slot keeps a NUL at its end");
        assert!(
            set_tag(&mut img, &"x".repeat(48))
                .unwrap_err()
                .contains("at most 47")
        );
        assert!(set_tag(&mut img, "a\nb").unwrap_err().contains("control"));
        let mut none = vec![0u8; 200];
        assert!(
            set_tag(&mut none, "t")
                .unwrap_err()
                .contains("no build-tag slot")
        );
        let mut two = with_slot(b"");
        two.extend(with_slot(b""));
        assert!(set_tag(&mut two, "t").unwrap_err().contains("several"));
        // A marker too close to the end is no slot.
        let mut cut = with_slot(b"");
        cut.truncate(120);
        assert!(set_tag(&mut cut, "t").is_err());
    }

    /// A flat image as the kernel's header starts it, linked for `board`.
    fn flat(board: Board) -> Vec<u8> {
        let mut v = vec![0u8; 0x100];
        v[8..16].copy_from_slice(&board.text_offset().to_le_bytes());
        v[0x38..0x3c].copy_from_slice(b"ARM\x64");
        v
    }

    #[test]
    fn check_image_refuses_what_is_no_flat_kernel_for_the_board() {
        let b = Board::Rpi4;
        assert!(check_image(b"", b).unwrap_err().contains("empty"));
        assert!(
            check_image(b"\x7fELF\x02\x01", b)
                .unwrap_err()
                .contains("ELF")
        );
        assert!(
            check_image(&vec![0; MAX_IMAGE + 1], b)
                .unwrap_err()
                .contains("at most")
        );
        assert!(
            check_image(&[0; 0x100], b)
                .unwrap_err()
                .contains("no arm64 Image header")
        );
        assert_eq!(check_image(&flat(Board::Rpi4), Board::Rpi4), Ok(()));
        assert_eq!(check_image(&flat(Board::Virt), Board::Virt), Ok(()));
        assert_eq!(
            check_image(&flat(Board::Virt), Board::Rpi4).unwrap_err(),
            "the image is linked for text_offset 0x200000, virt's, not rpi4's 0x80000"
        );
    }

    /// A line whose far end is a scripted kernel: `answer` gets each write and returns what the
    /// kernel prints back.
    fn scripted(mut answer: impl FnMut(&[u8]) -> Vec<u8> + Send + 'static) -> Line {
        struct W<F>(F, mpsc::Sender<Vec<u8>>);
        impl<F: FnMut(&[u8]) -> Vec<u8>> Write for W<F> {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                let out = (self.0)(buf);
                if !out.is_empty() {
                    let _ = self.1.send(out);
                }
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let (tx, rx) = mpsc::channel();
        Line::new(Box::new(W(move |b: &[u8]| answer(b), tx)), rx, false)
    }

    /// A well-behaved kernel: counts what it gets and answers as the spec says.
    fn kernel(refuse_header: Option<&'static str>) -> impl FnMut(&[u8]) -> Vec<u8> + Send {
        let mut got = 0usize;
        let mut size = None;
        move |b: &[u8]| {
            if b.starts_with(b"reload") {
                return b"reload\r\nreload: ready for a rpi4 image\r\n".to_vec();
            }
            got += b.len();
            let Some(size) = size else {
                assert_eq!(b.len(), HEADER_LEN, "the header goes out in one write");
                if let Some(why) = refuse_header {
                    return format!("error: reload: {why}\r\nrtos> ").into_bytes();
                }
                size = Some(u32::from_le_bytes(b[12..16].try_into().unwrap()) as usize);
                return vec![ACK];
            };
            let data = got - HEADER_LEN;
            assert!(b.len() <= CHUNK);
            if data == size {
                b"reload: received 10000 bytes, CRC-32 0x12345678 ok\r\n\
                  reload: starting the new kernel\r\n"
                    .to_vec()
            } else {
                assert_eq!(data % CHUNK, 0, "one chunk per ACK");
                vec![ACK]
            }
        }
    }

    #[test]
    fn send_image_follows_the_protocol() {
        let img = vec![7u8; 10_000];
        let mut line = scripted(kernel(None));
        let mut seen = Vec::new();
        let ok = send_image(
            &mut line,
            &header(&img, Board::Rpi4),
            &img,
            false,
            &mut |s, t| seen.push((s, t)),
        )
        .unwrap();
        assert_eq!(ok, "reload: received 10000 bytes, CRC-32 0x12345678 ok");
        assert_eq!(
            seen,
            [
                (0, 10_000),
                (4096, 10_000),
                (8192, 10_000),
                (10_000, 10_000)
            ]
        );
    }

    #[test]
    fn a_refusal_stops_the_push() {
        let img = vec![7u8; 10_000];
        let mut line = scripted(kernel(Some("wrong board: the image is for 'qemu-virt'")));
        let e = send_image(
            &mut line,
            &header(&img, Board::Virt),
            &img,
            false,
            &mut |_, _| {},
        )
        .unwrap_err();
        assert_eq!(
            e,
            PushError::Refused("error: reload: wrong board: the image is for 'qemu-virt'".into())
        );
    }

    #[test]
    fn silence_is_a_timeout_naming_what_was_awaited() {
        let mut line = scripted(|_| b"error: unknown command 'reload'\r\n".to_vec());
        let e = line
            .wait_line(READY, "`reload: ready` line", Duration::from_millis(50))
            .unwrap_err();
        let PushError::Timeout(m) = e else {
            panic!("{e:?}")
        };
        assert!(m.contains("no `reload: ready` line within"), "{m}");
        line.send(b"reload\r").unwrap();
        let e = line
            .wait_line(READY, "`reload: ready` line", Duration::from_millis(50))
            .unwrap_err();
        assert!(format!("{e}").contains("unknown command 'reload'"), "{e}");
    }

    #[test]
    fn a_line_that_ends_is_reported() {
        let (tx, rx) = mpsc::channel::<Vec<u8>>();
        drop(tx);
        let mut line = Line::new(Box::new(std::io::sink()), rx, false);
        let e = line
            .wait_text(b"x", "x", Duration::from_secs(5))
            .unwrap_err();
        assert!(matches!(e, PushError::Closed(_)), "{e:?}");
    }
}
