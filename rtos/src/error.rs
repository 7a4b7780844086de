//! Kernel error codes: a small enum with the Linux errno each one stands for.

/// Why a kernel call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Out of memory or thread stacks (`ENOMEM`).
    NoMemory,
    /// The thread has exited (`ENOSYS` from kthread_park, as in Linux).
    Exited,
    /// The thread is in the wrong state for this (`EBUSY`), e.g. binding a running thread.
    Busy,
    /// A bad argument (`EINVAL`), e.g. a CPU that does not exist.
    Invalid,
    /// No such thread, or it is exiting (`ESRCH`).
    NoSuchThread,
    /// The wait timed out (`ETIMEDOUT`).
    TimedOut,
    /// The name is taken (`EEXIST`).
    Exists,
    /// Interrupted before it started (`EINTR`).
    Interrupted,
    /// The queue or worker is destroyed, or its thread was stopped (`ESHUTDOWN`).
    Shutdown,
    /// Not allowed on this thread (`EPERM`): parking or stopping `kthreadd`.
    NotPermitted,
}

impl Error {
    /// The negative Linux errno value.
    pub fn errno(self) -> i32 {
        -match self {
            Error::NoMemory => 12,
            Error::Exited => 38,
            Error::Busy => 16,
            Error::Invalid => 22,
            Error::NoSuchThread => 3,
            Error::TimedOut => 110,
            Error::Exists => 17,
            Error::Interrupted => 4,
            Error::Shutdown => 108,
            Error::NotPermitted => 1,
        }
    }

    /// The errno's symbolic name.
    pub fn name(self) -> &'static str {
        match self {
            Error::NoMemory => "ENOMEM",
            Error::Exited => "ENOSYS",
            Error::Busy => "EBUSY",
            Error::Invalid => "EINVAL",
            Error::NoSuchThread => "ESRCH",
            Error::TimedOut => "ETIMEDOUT",
            Error::Exists => "EEXIST",
            Error::Interrupted => "EINTR",
            Error::Shutdown => "ESHUTDOWN",
            Error::NotPermitted => "EPERM",
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let what = match self {
            Error::NoMemory => "out of memory",
            Error::Exited => "thread has exited",
            Error::Busy => "thread is busy",
            Error::Invalid => "invalid argument",
            Error::NoSuchThread => "no such thread",
            Error::TimedOut => "timeout",
            Error::Exists => "already exists",
            Error::Interrupted => "interrupted",
            Error::Shutdown => "shut down",
            Error::NotPermitted => "operation not permitted",
        };
        write!(f, "{what} ({})", self.name())
    }
}
