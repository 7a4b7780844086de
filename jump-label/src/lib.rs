//! Static keys: a condition that is almost never true, tested at a cost of one instruction.
//!
//! A [`StaticKey`] is off until turned on. Each place that tests it ([`static_branch_unlikely!`])
//! is, on AArch64 bare metal, a single `NOP` in the code while the key is off: execution falls
//! through to the likely path without a load or a compare. Turning the key on rewrites every one
//! of its sites into a `B` to the unlikely code ([`patch`]), the way Linux's jump labels do
//! (`arch/arm64/kernel/jump_label.c`); turning it off writes the `NOP`s back.
//!
//! Elsewhere (the host, where the kernel core is tested) a site is a relaxed load of the key's
//! flag, which [`StaticKey::set`] changes; [`patch`] exists only on bare metal.
//!
//! # How the sites are found
//! Each site puts an entry in the `jump_label` section: three 64-bit offsets, each relative to
//! its own field: the site's instruction, the code to branch to, and the key. The linker gathers
//! them between `__start_jump_label` and `__stop_jump_label` (the kernel's linker script keeps
//! the section). The table is read only: [`patch`] walks it and rewrites the sites of one key.
//!
//! # Correctness while other CPUs run the code
//! The ARM ARM lets a `B` and a `NOP` replace each other while other CPUs execute them: each CPU
//! runs the old or the new instruction, and runs the new one after its next context
//! synchronization (an exception entry or return) at the latest. So a caller must be correct
//! with either for a while. The kernel's trace points are: the recording code checks the run's
//! flag again, and starting a run waits until every CPU took an interrupt.
//!
//! # Example (on the host: the flag)
//! ```
//! use jump_label::{static_branch_unlikely, StaticKey};
//! static DEBUG: StaticKey = StaticKey::new();
//! fn check() -> bool {
//!     static_branch_unlikely!(DEBUG)
//! }
//! assert!(!check());
//! DEBUG.set(true);
//! assert!(check());
//! ```

#![no_std]

use core::sync::atomic::{AtomicBool, Ordering};

/// A condition tested by [`static_branch_unlikely!`] sites; off until [`StaticKey::set`] (and
/// on bare metal [`patch`]) turns it on.
#[derive(Debug, Default)]
pub struct StaticKey {
    on: AtomicBool,
}

impl StaticKey {
    /// A key that is off.
    pub const fn new() -> Self {
        Self {
            on: AtomicBool::new(false),
        }
    }
    /// Whether the key is on (the flag: what a site tests on the host).
    #[inline(always)]
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }
    /// Sets the flag. On bare metal the sites do not read it: [`patch`] is what changes them.
    pub fn set(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }
}

/// Whether `$key` (a `static` [`StaticKey`]) is on, as a branch the compiler lays out for
/// "no": on AArch64 bare metal one instruction patched by [`patch`], elsewhere a load of the
/// key's flag.
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
#[macro_export]
macro_rules! static_branch_unlikely {
    ($key:path) => {
        'site: {
            // SAFETY: the instruction is a `NOP` (falls through: false) or, once `patch` turned
            // the key on, a `B` to the label (true); either keeps every register, the stack
            // and the flags. The entry it pushes into `jump_label` is three offsets the linker
            // resolves: this site, the label, and the key (`sym`: a static).
            unsafe {
                ::core::arch::asm!(
                    "2: nop",
                    ".pushsection jump_label, \"aR\"",
                    ".balign 8",
                    ".quad 2b - .",
                    ".quad {0} - .",
                    ".quad {1} - .",
                    ".popsection",
                    label { break 'site true },
                    sym $key,
                    options(nomem, nostack, preserves_flags),
                );
            }
            false
        }
    };
}

/// Whether `$key` (a `static` [`StaticKey`]) is on: off bare metal, a load of its flag.
#[cfg(not(all(target_arch = "aarch64", target_os = "none")))]
#[macro_export]
macro_rules! static_branch_unlikely {
    ($key:path) => {
        $key.is_on()
    };
}

/// AArch64 `NOP`.
pub const NOP: u32 = 0xd503_201f;

/// AArch64 `B` from `site` to `target`, if the distance is within its reach (+/-128 MiB, both
/// 4-byte aligned).
pub fn branch(site: usize, target: usize) -> Option<u32> {
    let delta = (target as i64).wrapping_sub(site as i64);
    if delta % 4 != 0 || !(-(1 << 27)..(1 << 27)).contains(&delta) {
        return None;
    }
    Some(0x1400_0000 | ((delta >> 2) as u32 & 0x03ff_ffff))
}

/// One site of the table: where its instruction is, where it branches to when its key is on,
/// and its key, as addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Site {
    /// The patched instruction.
    pub code: usize,
    /// The unlikely code.
    pub target: usize,
    /// The key's address.
    pub key: usize,
}

impl Site {
    /// Decodes an entry at address `at` holding offsets `raw` (each relative to its own field).
    pub fn decode(at: usize, raw: [i64; 3]) -> Self {
        let field = |i: usize| (at + 8 * i).wrapping_add_signed(raw[i] as isize);
        Self {
            code: field(0),
            target: field(1),
            key: field(2),
        }
    }
    /// The instruction the site holds with its key `on`; `None` if its target is out of a
    /// branch's reach (then the site stays a `NOP`).
    pub fn insn(&self, on: bool) -> Option<u32> {
        if on {
            branch(self.code, self.target)
        } else {
            Some(NOP)
        }
    }
}

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod table {
    use super::Site;

    // The bounds of the `jump_label` section (defined by the linker).
    unsafe extern "C" {
        static __start_jump_label: [i64; 0];
        static __stop_jump_label: [i64; 0];
    }

    /// Every site in the image.
    pub(crate) fn sites() -> impl Iterator<Item = Site> {
        let start = (&raw const __start_jump_label).cast::<[i64; 3]>();
        let stop = (&raw const __stop_jump_label).cast::<[i64; 3]>();
        let n = (stop.addr() - start.addr()) / size_of::<[i64; 3]>();
        (0..n).map(move |i| {
            let at = start.wrapping_add(i);
            // SAFETY: `at` is inside the section the linker gathered from the sites' entries,
            // which are 8-byte aligned triples of offsets, read-only and never changed.
            let raw = unsafe { at.read() };
            Site::decode(at.addr(), raw)
        })
    }
}

/// Serializes [`patch`]: one key change at a time, so the flag and the sites agree.
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
static PATCHING: spin::Mutex<()> = spin::Mutex::new(());

/// Turns `key` on or off: sets its flag and rewrites each of its sites (`B` or `NOP`), each
/// written with `write(address, instruction)`, which must also make the new instruction what the
/// CPUs fetch (cache maintenance). Returns how many sites it rewrote (0 when the key already
/// was so). A site whose target a `B` cannot reach stays a `NOP` (never the case inside one
/// function of a kernel image).
///
/// # Safety
/// `write` stores one 4-byte instruction at the address it is given (an instruction of this
/// image, in memory mapped writable) and makes instruction fetches see it; no one else writes
/// those instructions. Not from an interrupt handler that may interrupt a [`patch`] on its CPU
/// (the two would wait for each other).
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub unsafe fn patch(key: &'static StaticKey, on: bool, write: impl Fn(usize, u32)) -> usize {
    let _one = PATCHING.lock();
    if key.is_on() == on {
        return 0;
    }
    key.set(on);
    let addr = core::ptr::from_ref(key).addr();
    let mut n = 0;
    for s in table::sites().filter(|s| s.key == addr) {
        if let Some(insn) = s.insn(on) {
            write(s.code, insn);
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    static KEY: StaticKey = StaticKey::new();

    #[test]
    fn a_site_follows_its_key_flag_on_the_host() {
        let check = || static_branch_unlikely!(KEY);
        assert!(!check());
        KEY.set(true);
        assert!(check());
        KEY.set(false);
        assert!(!check());
    }

    #[test]
    fn branch_encodes_forward_and_backward_distances() {
        // b .+8 and b .-4, as an assembler encodes them.
        assert_eq!(branch(0x1000, 0x1008), Some(0x1400_0002));
        assert_eq!(branch(0x1000, 0x0ffc), Some(0x17ff_ffff));
        // The ends of the reach, and one step past them.
        assert_eq!(
            branch(0x1000_0000, 0x1000_0000 + (1 << 27) - 4),
            Some(0x15ff_ffff)
        );
        assert_eq!(
            branch(0x1000_0000, 0x1000_0000 - (1 << 27)),
            Some(0x1600_0000)
        );
        assert_eq!(branch(0x1000_0000, 0x1000_0000 + (1 << 27)), None);
        assert_eq!(branch(0x1000_0000, 0x1000_0000 - (1 << 27) - 4), None);
        // Not an instruction boundary.
        assert_eq!(branch(0x1000, 0x1002), None);
    }

    #[test]
    fn an_entry_decodes_each_offset_from_its_own_field() {
        let s = Site::decode(0x8000, [-0x100, -0xf0, 0x40]);
        assert_eq!(
            s,
            Site {
                code: 0x7f00,
                target: 0x8008 - 0xf0,
                key: 0x8010 + 0x40
            }
        );
        assert_eq!(s.insn(false), Some(NOP));
        assert_eq!(s.insn(true), branch(0x7f00, 0x8008 - 0xf0));
    }
}
