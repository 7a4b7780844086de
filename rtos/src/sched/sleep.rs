//! Sleeping for a while: until a deadline, uninterruptibly or until woken (Linux's
//! `schedule_timeout_*`), on a per-CPU timer that wakes the thread through [`timer::Wake`].

use super::scheduler::{current, resume_boundary, schedule, set_current_state, wake_up_process};
use super::thread::{State, Thread, flags};
use crate::port;
use crate::sync::atomic::Ordering;
use crate::time::{Duration, Instant};
use crate::timer;
use alloc::sync::Arc;

/// Sleeps the calling thread until `deadline` (uninterruptible: wake-ups before the deadline go
/// back to sleep).
#[doc(alias = "schedule_timeout_uninterruptible")]
pub fn sleep_until(deadline: Instant) {
    let p = port::port();
    let Some(me) = current() else {
        while !deadline.has_passed() {
            p.idle();
        }
        return;
    };
    while !deadline.has_passed() {
        set_current_state(State::Sleeping);
        let id = timer::arm(deadline, timer::Action::Wake(me.clone()));
        schedule();
        timer::cancel(id);
    }
    drop(me);
    resume_boundary();
}

/// Sleeps until `deadline` or until the thread is woken (`wake_up_process`, as kthread_park and
/// kthread_stop do), whichever comes first, like Linux's `schedule_timeout_interruptible`.
/// Returns true if the deadline was reached.
#[doc(alias = "schedule_timeout_interruptible")]
pub fn sleep_interruptible_until(deadline: Instant) -> bool {
    let Some(me) = current().filter(|t| !t.is_idle()) else {
        sleep_until(deadline);
        return true;
    };
    if deadline.has_passed() {
        return true;
    }
    // Interruptible and asleep before the wake conditions are checked: a signalling task_work
    // add, or a kthread stop or park request (which set their flag, then wake the thread),
    // either sees us asleep (under the run-queue lock) and wakes us, or we see its flag. (A
    // caller that checked `should_stop` before calling would otherwise sleep through a stop
    // that came in between: Linux's set_current_state-before-the-check rule.)
    me.set_flag(flags::INTERRUPTIBLE);
    set_current_state(State::Sleeping);
    if me.notify_resume.load(Ordering::Acquire) || me.has_flag(flags::STOP_OR_PARK) {
        set_current_state(State::Running);
    } else {
        let id = timer::arm(deadline, timer::Action::Wake(me.clone()));
        schedule();
        timer::cancel(id);
    }
    me.clear_flag(flags::INTERRUPTIBLE);
    drop(me);
    resume_boundary();
    deadline.has_passed()
}

/// Sleeps the calling thread for `d` (uninterruptibly).
#[doc(alias = "msleep")]
#[doc(alias = "usleep_range")]
pub fn sleep(d: Duration) {
    sleep_until(Instant::after(d));
}

/// A timer wakes a thread that sleeps with a deadline.
impl timer::Wake for Thread {
    fn wake(self: Arc<Self>) {
        wake_up_process(&self);
    }
}
