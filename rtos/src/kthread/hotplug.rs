//! What CPU hotplug does to kthreads (seed 002): the per-CPU kthreads of a CPU going offline are
//! parked, and re-bound and unparked when it comes back; per-CPU workers are unbound instead, so
//! that the works queued on them go on running on an online CPU (Linux's disassociated worker
//! pools), and re-bound on online.
//!
//! A per-CPU thread parked by hotplug is marked [`flags::HOTPLUG_PARKED`]; one the user parked
//! stays parked across an offline and online. Unparking a per-CPU thread while its CPU is offline
//! leaves it parked (marked, so that its CPU's online unparks it), unless it is being stopped: then
//! it runs on an online CPU to exit.

use super::{KThread, list, park_until, unpark};
use crate::error::Error;
use crate::sched::{self, thread::flags};
use crate::time::Instant;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

/// The live per-CPU kthreads bound to `cpu`.
fn per_cpu(cpu: usize) -> impl Iterator<Item = KThread> {
    list().into_iter().filter(move |t| {
        let k = &t.0;
        k.has_flag(flags::IS_PER_CPU)
            && k.bound_cpu.load(Ordering::Acquire) == cpu
            && !k.is_exiting()
    })
}

/// Before `cpu` goes offline: parks its per-CPU kthreads (each by `deadline`) and unbinds its
/// per-CPU workers. If one does not park in time (it never polls should-park), everything done
/// so far is undone and that thread is returned with [`Error::Busy`].
pub(crate) fn prepare_offline(cpu: usize, deadline: Instant) -> Result<(), (Error, KThread)> {
    let mut parked: Vec<KThread> = Vec::new();
    let mut unbound: Vec<KThread> = Vec::new();
    for t in per_cpu(cpu) {
        let k = &t.0;
        if k.has_flag(flags::HOTPLUG_UNBIND) {
            sched::set_allowed(k, sched::ALL_CPUS);
            unbound.push(t);
            continue;
        }
        if k.has_flag(flags::SHOULD_PARK) {
            continue; // parked (or being parked) by its user: it stays so
        }
        if k.state() == sched::State::Created {
            // Never woken: not woken now either. Should it be woken while its CPU is offline,
            // it parks before its function (`start_gate`); the online unparks it.
            k.set_flag(flags::SHOULD_PARK | flags::HOTPLUG_PARKED);
            parked.push(t);
            continue;
        }
        match park_until(&t, Some(deadline)) {
            Ok(()) => {
                k.set_flag(flags::HOTPLUG_PARKED);
                parked.push(t);
            }
            Err(Error::Exited) => {}
            Err(_) => {
                // Never parked in time: take the request back, and undo the rest.
                unpark(&t);
                for p in &parked {
                    p.0.clear_flag(flags::HOTPLUG_PARKED);
                    unpark(p);
                }
                for u in &unbound {
                    sched::set_allowed(&u.0, 1 << cpu);
                }
                return Err((Error::Busy, t));
            }
        }
    }
    Ok(())
}

/// After `cpu` came back online: re-binds its per-CPU workers and unparks the per-CPU kthreads
/// its offline parked (unpark re-binds them, seed 002).
pub(crate) fn finish_online(cpu: usize) {
    for t in per_cpu(cpu) {
        let k = &t.0;
        if k.has_flag(flags::HOTPLUG_UNBIND) {
            sched::set_allowed(k, 1 << cpu);
        } else if k.has_flag(flags::HOTPLUG_PARKED) {
            k.clear_flag(flags::HOTPLUG_PARKED);
            unpark(&t);
        }
    }
}

/// Makes `t` (created, not yet woken) the per-CPU worker of `cpu` (a workqueue's pool): bound
/// there, re-bound by unpark, and unbound instead of parked when `cpu` goes offline. For a CPU
/// that is offline now it starts unbound (bound once the CPU comes online).
pub(crate) fn make_worker(t: &KThread, cpu: usize) {
    let k = &t.0;
    k.bound_cpu.store(cpu, Ordering::Release);
    k.set_flag(flags::IS_PER_CPU | flags::HOTPLUG_UNBIND);
    let online = sched::online_mask() & (1 << cpu) != 0;
    sched::set_allowed(k, if online { 1 << cpu } else { sched::ALL_CPUS });
}
