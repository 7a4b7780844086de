//! The serial reload protocol, version 1: the receiving side, a state machine fed one byte at a
//! time with the time it arrived. It does no IO and keeps no clock, so it is tested on the host
//! byte for byte (the sender, `runner push`, is written separately from this description).
//!
//! # On the wire
//!
//! 1. The shell's `reload` prints one line starting with `reload: ready` and waits.
//! 2. The sender sends a 48-byte header (integers little-endian):
//!
//!    | offset | size | field |
//!    | --- | --- | --- |
//!    | 0 | 8 | magic `RTOSLOAD` |
//!    | 8 | 2 | protocol version, 1 |
//!    | 10 | 2 | header length, 48 |
//!    | 12 | 4 | image size in bytes |
//!    | 16 | 4 | CRC-32 of the image |
//!    | 20 | 8 | load address the image was linked for |
//!    | 28 | 16 | board name (`rpi4`, `qemu-virt`), NUL-padded |
//!    | 44 | 4 | CRC-32 of bytes 0..44 |
//!
//!    CRC-32 is the common one (IEEE 802.3, zlib, PNG: reflected polynomial 0xEDB88320, initial
//!    value and final XOR 0xFFFFFFFF; the CRC of `123456789` is 0xCBF43926).
//! 3. The receiver answers a header it accepts with one ACK byte (0x06), and refuses anything
//!    else with one line `error: reload: <why>`, after which the command ends with status 1 and
//!    nothing has changed.
//! 4. The sender sends the image in chunks of [`CHUNK`] bytes (the last one shorter) and waits
//!    for an ACK after each chunk but the last. At most one chunk is in flight, so the UART's
//!    16 KiB receive ring never fills, whatever the line speed.
//! 5. After the last byte the receiver checks the image's CRC-32 and prints either
//!    `reload: received <n> bytes, CRC-32 0x<crc> ok` (then starts the image), or the refusal.
//!
//! # What is refused
//!
//! Bytes before the magic (a terminal's stray bytes, the line end after `reload`) are skipped,
//! but at most [`MAX_GARBAGE`]; at least a header's worth of them followed by [`BYTE_TIMEOUT`]
//! of silence is a bad magic too (someone sent a raw image without our header). Ctrl-C (0x03)
//! before the magic is complete aborts (status 130); after it, 0x03 is data. No header within
//! [`HEADER_TIMEOUT`]; a header whose CRC, version, length, board or load address is wrong; an
//! empty image or one over the size limit; an image the heap cannot hold; a pause of
//! [`BYTE_TIMEOUT`] once the header has started (a truncated image, a lost byte); a transfer
//! slower than [`transfer_limit`]; a CRC mismatch; and, checked by the command (the receiver
//! does not see the UART), any receive error the UART counts once the header is in.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

/// First bytes of every header.
pub(crate) const MAGIC: [u8; 8] = *b"RTOSLOAD";
/// The protocol version this receiver speaks.
pub(crate) const VERSION: u16 = 1;
/// Bytes in a header.
pub(crate) const HEADER_LEN: usize = 48;
/// Bytes of board name in a header.
const BOARD_LEN: usize = 16;
/// Image bytes between two ACKs.
pub(crate) const CHUNK: usize = 4096;
/// What the receiver sends for an accepted header or chunk.
pub(crate) const ACK: u8 = 0x06;
/// Ctrl-C.
const CTRL_C: u8 = 0x03;
/// Bytes skipped before a header, at most.
pub(crate) const MAX_GARBAGE: usize = 4096;
/// How long `reload` waits for a header.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest pause once a header has started.
pub(crate) const BYTE_TIMEOUT: Duration = Duration::from_secs(2);

/// The CRC-32 of the header and the image.
static CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// CRC-32 of `bytes` (see the module docs).
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    CRC.checksum(bytes)
}

/// How long an image of `size` bytes may take from its header to its last byte: twice its time
/// at 115200 baud (8N1: 11520 bytes/s), plus 10 s.
pub(crate) fn transfer_limit(size: usize) -> Duration {
    let ms = (size as u64).saturating_mul(2000) / 11_520;
    Duration::from_secs(10).saturating_add(Duration::from_millis(ms))
}

/// What this kernel accepts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// The board name an image must carry.
    pub board: &'static str,
    /// The load address an image must carry.
    pub load_addr: u64,
    /// The largest image, in bytes.
    pub max_size: usize,
}

/// What a byte did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing to answer yet.
    More,
    /// Send [`ACK`]: a header or a chunk was accepted.
    Ack,
    /// The image is complete and its CRC matches ([`Receiver::take_image`]).
    Done,
}

/// Why a transfer was refused; `Display` gives the text after `error: reload: `.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Ctrl-C before the header.
    Interrupted,
    /// Bytes that are no header: too many, or enough of them followed by silence.
    BadMagic {
        /// Bytes skipped.
        bytes: usize,
    },
    /// No header within [`HEADER_TIMEOUT`].
    NoHeader,
    /// The header's own CRC does not match.
    HeaderCrc {
        /// Computed.
        got: u32,
        /// In the header.
        want: u32,
    },
    /// Another protocol version.
    Version(u16),
    /// Another header length.
    HeaderLen(u16),
    /// An image for another board.
    WrongBoard {
        /// The image's board.
        image: String,
        /// This board.
        here: &'static str,
    },
    /// An image linked for another address.
    WrongLoad {
        /// The image's.
        image: u64,
        /// This kernel's.
        here: u64,
    },
    /// Size 0.
    Empty,
    /// Over the size limit.
    TooBig {
        /// The image's size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The heap cannot hold it.
    NoMemory {
        /// The image's size.
        size: usize,
    },
    /// A pause of [`BYTE_TIMEOUT`] after the header started.
    Stalled {
        /// Bytes received (header included).
        received: usize,
        /// Bytes expected (header included).
        expected: usize,
    },
    /// Slower than [`transfer_limit`].
    TooSlow {
        /// Bytes received (header included).
        received: usize,
        /// Bytes expected (header included).
        expected: usize,
    },
    /// The UART lost or damaged received bytes after the header (an overrun: the receive FIFO
    /// was not emptied in time; a framing error: wrong speed or noise). The caller counts them.
    LineErrors {
        /// Errors since the header.
        errors: u32,
        /// Bytes received (header included).
        received: usize,
    },
    /// The input ended.
    Closed {
        /// Bytes received.
        received: usize,
    },
    /// The image's CRC does not match its header's.
    Crc {
        /// Computed.
        got: u32,
        /// In the header.
        want: u32,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Interrupted => write!(f, "interrupted"),
            Refusal::BadMagic { bytes } => write!(
                f,
                "bad magic: {bytes} bytes arrived without an image header (use `runner push`)"
            ),
            Refusal::NoHeader => write!(
                f,
                "timeout: no image header within {} s",
                HEADER_TIMEOUT.as_secs()
            ),
            Refusal::HeaderCrc { got, want } => write!(
                f,
                "header CRC mismatch (computed {got:#010x}, header says {want:#010x})"
            ),
            Refusal::Version(v) => write!(
                f,
                "protocol version {v} is not supported (this kernel speaks {VERSION})"
            ),
            Refusal::HeaderLen(n) => write!(f, "bad header length {n} (want {HEADER_LEN})"),
            Refusal::WrongBoard { image, here } => {
                write!(
                    f,
                    "wrong board: the image is for '{image}', this is '{here}'"
                )
            }
            Refusal::WrongLoad { image, here } => write!(
                f,
                "wrong load address: the image is linked for {image:#x}, this kernel loads at {here:#x}"
            ),
            Refusal::Empty => write!(f, "empty image"),
            Refusal::TooBig { size, max } => {
                write!(f, "image too big: {size} bytes (at most {max})")
            }
            Refusal::NoMemory { size } => {
                write!(f, "not enough memory for a {size}-byte image")
            }
            Refusal::Stalled { received, expected } => write!(
                f,
                "timeout: nothing for {} s after {received} of {expected} bytes (truncated?)",
                BYTE_TIMEOUT.as_secs()
            ),
            Refusal::TooSlow { received, expected } => write!(
                f,
                "timeout: too slow, {received} of {expected} bytes in the time allowed"
            ),
            Refusal::LineErrors { errors, received } => write!(
                f,
                "the UART lost or damaged {errors} byte(s) after {received} bytes (receive \
                 overrun, or noise on the line)"
            ),
            Refusal::Closed { received } => {
                write!(f, "the input ended after {received} bytes")
            }
            Refusal::Crc { got, want } => write!(
                f,
                "CRC mismatch: the image's CRC-32 is {got:#010x}, its header says {want:#010x}"
            ),
        }
    }
}

/// Where the receiver is.
#[derive(Debug)]
enum Stage {
    /// Looking for the magic: `matched` bytes of it seen, `seen` bytes in all.
    Sync { matched: usize, seen: usize },
    /// Reading the header.
    Header { buf: [u8; HEADER_LEN], have: usize },
    /// Reading the image.
    Data {
        image: Vec<u8>,
        size: usize,
        crc: u32,
        deadline: Duration,
    },
    /// Done or refused: every further byte is an error of the caller.
    Finished,
}

/// The receiving state machine (see the module docs).
#[derive(Debug)]
pub(crate) struct Receiver {
    limits: Limits,
    stage: Stage,
    started: Duration,
    last_byte: Duration,
    image: Vec<u8>,
    /// The verified image's CRC-32.
    crc: u32,
}

/// A little-endian `u16` at `at`.
fn le16(b: &[u8; HEADER_LEN], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// A little-endian `u32` at `at`.
fn le32(b: &[u8; HEADER_LEN], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Receiver {
    /// A receiver waiting for a header since `now`.
    pub(crate) fn new(limits: Limits, now: Duration) -> Self {
        Self {
            limits,
            stage: Stage::Sync {
                matched: 0,
                seen: 0,
            },
            started: now,
            last_byte: now,
            image: Vec::new(),
            crc: 0,
        }
    }

    /// Bytes received since the header started (header included).
    pub(crate) fn received(&self) -> usize {
        match &self.stage {
            Stage::Sync { matched, .. } => *matched,
            Stage::Header { have, .. } => *have,
            Stage::Data { image, .. } => HEADER_LEN + image.len(),
            Stage::Finished => HEADER_LEN + self.image.len(),
        }
    }

    /// Bytes the whole transfer has (header included), once the header is known.
    fn expected(&self) -> usize {
        match &self.stage {
            Stage::Data { size, .. } => HEADER_LEN + size,
            _ => HEADER_LEN,
        }
    }

    /// The verified image and its CRC-32, after [`Step::Done`] (empty before).
    pub(crate) fn take_image(&mut self) -> (Vec<u8>, u32) {
        (core::mem::take(&mut self.image), self.crc)
    }

    /// Refuses: the receiver takes nothing more.
    fn refuse(&mut self, why: Refusal) -> Result<Step, Refusal> {
        self.stage = Stage::Finished;
        Err(why)
    }

    /// One byte, arrived at `now`.
    pub(crate) fn feed(&mut self, b: u8, now: Duration) -> Result<Step, Refusal> {
        self.last_byte = now;
        let (received, expected) = (self.received(), self.expected());
        if let Stage::Data { deadline, .. } = &self.stage
            && now >= *deadline
        {
            return self.refuse(Refusal::TooSlow { received, expected });
        }
        match &mut self.stage {
            Stage::Sync { matched, seen } => {
                *seen += 1;
                if *matched == 0 && b == CTRL_C {
                    return self.refuse(Refusal::Interrupted);
                }
                // `MAGIC` repeats no prefix of itself: a mismatch restarts at its first byte.
                *matched = if b == MAGIC[*matched] {
                    *matched + 1
                } else {
                    usize::from(b == MAGIC[0])
                };
                if *matched == MAGIC.len() {
                    let mut buf = [0; HEADER_LEN];
                    buf[..MAGIC.len()].copy_from_slice(&MAGIC);
                    self.stage = Stage::Header {
                        buf,
                        have: MAGIC.len(),
                    };
                } else if *seen - *matched > MAX_GARBAGE {
                    let bytes = *seen - *matched;
                    return self.refuse(Refusal::BadMagic { bytes });
                }
                Ok(Step::More)
            }
            Stage::Header { buf, have } => {
                buf[*have] = b;
                *have += 1;
                if *have < HEADER_LEN {
                    return Ok(Step::More);
                }
                let buf = *buf;
                match self.accept(&buf, now) {
                    Ok(stage) => {
                        self.stage = stage;
                        Ok(Step::Ack)
                    }
                    Err(why) => self.refuse(why),
                }
            }
            Stage::Data {
                image, size, crc, ..
            } => {
                image.push(b);
                if image.len() < *size {
                    return Ok(if image.len() % CHUNK == 0 {
                        Step::Ack
                    } else {
                        Step::More
                    });
                }
                let (got, want) = (crc32(image), *crc);
                if got != want {
                    return self.refuse(Refusal::Crc { got, want });
                }
                self.image = core::mem::take(image);
                self.crc = got;
                self.stage = Stage::Finished;
                Ok(Step::Done)
            }
            Stage::Finished => Err(Refusal::Closed { received }),
        }
    }

    /// Checks a complete header; the data stage it opens.
    fn accept(&self, h: &[u8; HEADER_LEN], now: Duration) -> Result<Stage, Refusal> {
        let (got, want) = (crc32(&h[..44]), le32(h, 44));
        if got != want {
            return Err(Refusal::HeaderCrc { got, want });
        }
        let version = le16(h, 8);
        if version != VERSION {
            return Err(Refusal::Version(version));
        }
        let len = le16(h, 10);
        if usize::from(len) != HEADER_LEN {
            return Err(Refusal::HeaderLen(len));
        }
        let name = &h[28..28 + BOARD_LEN];
        let name = &name[..name.iter().position(|&c| c == 0).unwrap_or(BOARD_LEN)];
        if name != self.limits.board.as_bytes() {
            return Err(Refusal::WrongBoard {
                image: String::from_utf8_lossy(name).into_owned(),
                here: self.limits.board,
            });
        }
        let mut load = [0; 8];
        load.copy_from_slice(&h[20..28]);
        let load = u64::from_le_bytes(load);
        if load != self.limits.load_addr {
            return Err(Refusal::WrongLoad {
                image: load,
                here: self.limits.load_addr,
            });
        }
        let size = le32(h, 12) as usize;
        if size == 0 {
            return Err(Refusal::Empty);
        }
        if size > self.limits.max_size {
            return Err(Refusal::TooBig {
                size,
                max: self.limits.max_size,
            });
        }
        let mut image = Vec::new();
        if image.try_reserve_exact(size).is_err() {
            return Err(Refusal::NoMemory { size });
        }
        Ok(Stage::Data {
            image,
            size,
            crc: le32(h, 16),
            deadline: now.saturating_add(transfer_limit(size)),
        })
    }

    /// Checks the timeouts at `now` (call it while no byte is there).
    pub(crate) fn poll(&mut self, now: Duration) -> Result<(), Refusal> {
        let quiet = now.saturating_sub(self.last_byte);
        let why = match &self.stage {
            Stage::Sync { matched, seen } => {
                let garbage = seen - matched;
                if garbage >= HEADER_LEN && quiet >= BYTE_TIMEOUT {
                    Some(Refusal::BadMagic { bytes: garbage })
                } else if now.saturating_sub(self.started) >= HEADER_TIMEOUT {
                    Some(Refusal::NoHeader)
                } else {
                    None
                }
            }
            Stage::Header { .. } | Stage::Data { .. } if quiet >= BYTE_TIMEOUT => {
                Some(Refusal::Stalled {
                    received: self.received(),
                    expected: self.expected(),
                })
            }
            Stage::Data { deadline, .. } if now >= *deadline => Some(Refusal::TooSlow {
                received: self.received(),
                expected: self.expected(),
            }),
            _ => None,
        };
        match why {
            Some(why) => self.refuse(why).map(|_| ()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    const BOARD: &str = "rpi4";
    const LOAD: u64 = 0x8_0000;
    const S: Duration = Duration::from_secs(1);
    const MS: Duration = Duration::from_millis(1);

    fn limits() -> Limits {
        Limits {
            board: BOARD,
            load_addr: LOAD,
            max_size: 64 * 1024,
        }
    }

    /// A header as the spec in the module docs lays it out, with its fields given.
    fn header_with(size: u32, crc: u32, version: u16, len: u16, load: u64, board: &str) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(b"RTOSLOAD");
        h.extend_from_slice(&version.to_le_bytes());
        h.extend_from_slice(&len.to_le_bytes());
        h.extend_from_slice(&size.to_le_bytes());
        h.extend_from_slice(&crc.to_le_bytes());
        h.extend_from_slice(&load.to_le_bytes());
        let mut name = [0u8; 16];
        name[..board.len()].copy_from_slice(board.as_bytes());
        h.extend_from_slice(&name);
        let c = crc32(&h);
        h.extend_from_slice(&c.to_le_bytes());
        assert_eq!(h.len(), HEADER_LEN);
        h
    }

    fn header(image: &[u8]) -> Vec<u8> {
        header_with(image.len() as u32, crc32(image), 1, 48, LOAD, BOARD)
    }

    /// A test image: every byte value, several times, and not a multiple of a chunk.
    fn image(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 256) as u8).collect()
    }

    /// Feeds `bytes` 50 us apart from `t` (a bit faster than 115200 baud); the steps that were not `More`, with their offsets.
    fn feed_all(
        rx: &mut Receiver,
        bytes: &[u8],
        t: &mut Duration,
    ) -> (Vec<(usize, Step)>, Option<Refusal>) {
        let mut steps = Vec::new();
        for (i, &b) in bytes.iter().enumerate() {
            *t += Duration::from_micros(50);
            match rx.feed(b, *t) {
                Ok(Step::More) => {}
                Ok(s) => steps.push((i, s)),
                Err(e) => return (steps, Some(e)),
            }
        }
        (steps, None)
    }

    #[test]
    fn crc32_is_the_common_one() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn a_good_image_is_acked_per_chunk_and_delivered_whole() {
        let img = image(3 * CHUNK + 100);
        let mut t = Duration::ZERO;
        let mut rx = Receiver::new(limits(), t);
        let (steps, err) = feed_all(&mut rx, &header(&img), &mut t);
        assert_eq!((steps, err), (vec![(HEADER_LEN - 1, Step::Ack)], None));
        let (steps, err) = feed_all(&mut rx, &img, &mut t);
        assert_eq!(err, None);
        assert_eq!(
            steps,
            [
                (CHUNK - 1, Step::Ack),
                (2 * CHUNK - 1, Step::Ack),
                (3 * CHUNK - 1, Step::Ack),
                (img.len() - 1, Step::Done)
            ]
        );
        assert_eq!(rx.take_image(), (img.clone(), crc32(&img)));
        // A whole number of chunks: the last one is answered by `Done`, not an ACK.
        let img = image(2 * CHUNK);
        let mut rx = Receiver::new(limits(), t);
        let mut all = header(&img);
        all.extend_from_slice(&img);
        let (steps, err) = feed_all(&mut rx, &all, &mut t);
        assert_eq!(err, None);
        let kinds: Vec<Step> = steps.iter().map(|s| s.1).collect();
        assert_eq!(kinds, [Step::Ack, Step::Ack, Step::Done]);
    }

    #[test]
    fn garbage_before_the_header_is_skipped() {
        let img = image(1000);
        // What a terminal may leave: the line end after `reload`, a late cursor report, a
        // partial magic, Ctrl-C-free noise.
        let mut all = b"\n\x1b[24;80RRTOSLOA\x00RTOS".to_vec();
        all.extend_from_slice(&header(&img));
        all.extend_from_slice(&img);
        assert_eq!(deliver(&all), img);
    }

    /// Feeds `all`, which must deliver an image; that image.
    fn deliver(all: &[u8]) -> Vec<u8> {
        let mut t = Duration::ZERO;
        let mut rx = Receiver::new(limits(), t);
        let (steps, err) = feed_all(&mut rx, all, &mut t);
        assert_eq!(err, None);
        assert_eq!(steps.last().map(|s| s.1), Some(Step::Done));
        rx.take_image().0
    }

    #[test]
    fn ctrl_c_aborts_before_the_header_and_is_data_after_it() {
        let mut rx = Receiver::new(limits(), Duration::ZERO);
        assert_eq!(rx.feed(b'\n', MS), Ok(Step::More));
        assert_eq!(rx.feed(0x03, 2 * MS), Err(Refusal::Interrupted));
        // After a refusal nothing more is taken.
        assert!(matches!(rx.feed(b'R', 3 * MS), Err(Refusal::Closed { .. })));
        // Inside the header or the image, 0x03 is a byte like any other.
        let img = vec![0x03; 300];
        let mut all = header_with(300, crc32(&img), 1, 48, LOAD, BOARD);
        all.extend_from_slice(&img);
        assert_eq!(deliver(&all), img);
    }

    #[test]
    fn bad_magic_is_refused() {
        // A raw image without our header: refused after a header's worth and a pause...
        let mut t = Duration::ZERO;
        let mut rx = Receiver::new(limits(), t);
        let (_, err) = feed_all(&mut rx, &[b'x'; HEADER_LEN], &mut t);
        assert_eq!(err, None);
        assert_eq!(rx.poll(t + BYTE_TIMEOUT - MS), Ok(()));
        assert_eq!(
            rx.poll(t + BYTE_TIMEOUT),
            Err(Refusal::BadMagic { bytes: HEADER_LEN })
        );
        // ... or at once past MAX_GARBAGE, without a pause.
        let mut rx = Receiver::new(limits(), t);
        let (_, err) = feed_all(&mut rx, &vec![b'x'; MAX_GARBAGE + 1], &mut t);
        assert_eq!(
            err,
            Some(Refusal::BadMagic {
                bytes: MAX_GARBAGE + 1
            })
        );
        // A few stray bytes and a pause are no reason: the header may still come.
        let mut rx = Receiver::new(limits(), t);
        let (_, err) = feed_all(&mut rx, b"\r\n", &mut t);
        assert_eq!(err, None);
        assert_eq!(rx.poll(t + 10 * S), Ok(()));
    }

    #[test]
    fn no_header_within_the_timeout() {
        let mut rx = Receiver::new(limits(), 5 * S);
        assert_eq!(rx.poll(5 * S + HEADER_TIMEOUT - MS), Ok(()));
        assert_eq!(rx.poll(5 * S + HEADER_TIMEOUT), Err(Refusal::NoHeader));
    }

    /// Feeds a header; the refusal it gets.
    fn refusal(h: &[u8], l: Limits) -> Option<Refusal> {
        let mut t = Duration::ZERO;
        feed_all(&mut Receiver::new(l, t), h, &mut t).1
    }

    #[test]
    fn bad_headers_are_refused() {
        let img = image(100);
        let (n, c) = (100, crc32(&img));
        let mut bad_crc = header(&img);
        bad_crc[12] ^= 1; // the size changes, the header CRC does not
        let want = u32::from_le_bytes([bad_crc[44], bad_crc[45], bad_crc[46], bad_crc[47]]);
        assert_eq!(
            refusal(&bad_crc, limits()),
            Some(Refusal::HeaderCrc {
                got: crc32(&bad_crc[..44]),
                want
            })
        );
        assert_eq!(
            refusal(&header_with(n, c, 2, 48, LOAD, BOARD), limits()),
            Some(Refusal::Version(2))
        );
        assert_eq!(
            refusal(&header_with(n, c, 1, 64, LOAD, BOARD), limits()),
            Some(Refusal::HeaderLen(64))
        );
        assert_eq!(
            refusal(&header_with(n, c, 1, 48, LOAD, "qemu-virt"), limits()),
            Some(Refusal::WrongBoard {
                image: "qemu-virt".into(),
                here: BOARD
            })
        );
        // A board name that is a prefix of ours is another board.
        assert!(matches!(
            refusal(&header_with(n, c, 1, 48, LOAD, "rpi"), limits()),
            Some(Refusal::WrongBoard { .. })
        ));
        assert_eq!(
            refusal(&header_with(n, c, 1, 48, 0x4020_0000, BOARD), limits()),
            Some(Refusal::WrongLoad {
                image: 0x4020_0000,
                here: LOAD
            })
        );
        assert_eq!(
            refusal(&header_with(0, 0, 1, 48, LOAD, BOARD), limits()),
            Some(Refusal::Empty)
        );
        let max = limits().max_size;
        assert_eq!(
            refusal(
                &header_with(max as u32 + 1, c, 1, 48, LOAD, BOARD),
                limits()
            ),
            Some(Refusal::TooBig { size: max + 1, max })
        );
        // The limit itself is fine.
        assert_eq!(
            refusal(&header_with(max as u32, c, 1, 48, LOAD, BOARD), limits()),
            None
        );
    }

    #[test]
    fn a_crc_mismatch_is_refused() {
        let img = image(5000);
        let mut all = header(&img);
        let mut bad = img.clone();
        bad[4321] ^= 0x40;
        all.extend_from_slice(&bad);
        let mut t = Duration::ZERO;
        let mut rx = Receiver::new(limits(), t);
        let (_, err) = feed_all(&mut rx, &all, &mut t);
        assert_eq!(
            err,
            Some(Refusal::Crc {
                got: crc32(&bad),
                want: crc32(&img)
            })
        );
        assert_eq!(rx.take_image().0, Vec::<u8>::new());
    }

    #[test]
    fn a_truncated_image_times_out() {
        let img = image(9000);
        let mut all = header(&img);
        all.extend_from_slice(&img[..5000]);
        let mut t = Duration::ZERO;
        let mut rx = Receiver::new(limits(), t);
        let (_, err) = feed_all(&mut rx, &all, &mut t);
        assert_eq!(err, None);
        assert_eq!(rx.poll(t + BYTE_TIMEOUT - MS), Ok(()));
        let err = rx.poll(t + BYTE_TIMEOUT).unwrap_err();
        assert_eq!(
            err,
            Refusal::Stalled {
                received: HEADER_LEN + 5000,
                expected: HEADER_LEN + 9000
            }
        );
        assert_eq!(
            std::format!("{err}"),
            "timeout: nothing for 2 s after 5048 of 9048 bytes (truncated?)"
        );
        // A header cut short times out the same way.
        let mut rx = Receiver::new(limits(), Duration::ZERO);
        let mut t = Duration::ZERO;
        feed_all(&mut rx, &header(&img)[..20], &mut t);
        assert_eq!(
            rx.poll(t + BYTE_TIMEOUT),
            Err(Refusal::Stalled {
                received: 20,
                expected: HEADER_LEN
            })
        );
    }

    #[test]
    fn a_trickle_is_cut_off_by_the_overall_limit() {
        let img = image(100);
        let limit = transfer_limit(100);
        assert!(limit >= Duration::from_secs(10) && limit < Duration::from_secs(11));
        let mut t = Duration::ZERO;
        let mut rx = Receiver::new(limits(), t);
        feed_all(&mut rx, &header(&img), &mut t);
        let start = t;
        // One byte every 1.5 s: never a 2 s pause, but far too slow.
        let mut err = None;
        for &b in &img {
            t += Duration::from_millis(1500);
            if let Err(e) = rx.poll(t - MS).and_then(|()| rx.feed(b, t).map(|_| ())) {
                err = Some(e);
                break;
            }
        }
        assert!(t - start >= limit, "cut off at {:?}", t - start);
        assert!(
            matches!(err, Some(Refusal::TooSlow { expected: 148, .. })),
            "{err:?}"
        );
    }

    #[test]
    fn transfer_limit_grows_with_the_size() {
        assert_eq!(transfer_limit(0), Duration::from_secs(10));
        // 4 MiB at 115200 baud is about 364 s; twice that, plus 10 s.
        let l = transfer_limit(4 << 20);
        assert!(
            l > Duration::from_secs(735) && l < Duration::from_secs(740),
            "{l:?}"
        );
        assert!(transfer_limit(usize::MAX) > Duration::from_secs(1 << 40));
    }
}
