//! Host tests of the scheduler and the kthread contracts, on the fake port (real threads).
mod kthread;
