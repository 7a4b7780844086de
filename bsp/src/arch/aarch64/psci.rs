//! PSCI calls through the conduit named by the device tree (`/psci` `method` = `hvc` or `smc`),
//! via the `smccc` crate.

use smccc::{Hvc, Smc, psci};

/// How PSCI is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conduit {
    /// `HVC #0` (QEMU `virt` entered at EL1: the hypervisor is QEMU's firmware emulation).
    Hvc,
    /// `SMC #0` (with EL2 owned by us, PSCI sits at EL3).
    Smc,
}

/// Starts CPU `mpidr` at physical address `entry` with `context` in `x0`.
pub fn cpu_on(
    conduit: Conduit,
    mpidr: u64,
    entry: u64,
    context: u64,
) -> Result<(), psci::error::Error> {
    match conduit {
        Conduit::Hvc => psci::cpu_on::<Hvc>(mpidr, entry, context),
        Conduit::Smc => psci::cpu_on::<Smc>(mpidr, entry, context),
    }
}

/// Powers the calling CPU off (CPU hotplug). Returns only on failure.
pub fn cpu_off(conduit: Conduit) -> psci::error::Error {
    let r = match conduit {
        Conduit::Hvc => psci::cpu_off::<Hvc>(),
        Conduit::Smc => psci::cpu_off::<Smc>(),
    };
    r.err().unwrap_or(psci::error::Error::Denied)
}

/// Powers the system off. Returns only on failure.
pub fn system_off(conduit: Conduit) {
    let _ = match conduit {
        Conduit::Hvc => psci::system_off::<Hvc>(),
        Conduit::Smc => psci::system_off::<Smc>(),
    };
}

/// Resets the system. Returns only on failure.
pub fn system_reset(conduit: Conduit) {
    let _ = match conduit {
        Conduit::Hvc => psci::system_reset::<Hvc>(),
        Conduit::Smc => psci::system_reset::<Smc>(),
    };
}

/// Whether CPU `mpidr` is off (`AFFINITY_INFO`); `false` if PSCI cannot tell.
pub fn is_off(conduit: Conduit, mpidr: usize) -> bool {
    use psci::{AffinityState, LowestAffinityLevel};
    let state = match conduit {
        Conduit::Hvc => psci::affinity_info::<Hvc>(mpidr as u64, LowestAffinityLevel::All),
        Conduit::Smc => psci::affinity_info::<Smc>(mpidr as u64, LowestAffinityLevel::All),
    };
    matches!(state, Ok(AffinityState::Off))
}
