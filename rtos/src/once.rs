//! [`OnceRef`]: a write-once `&'static` slot, for what is installed once at boot (the port on the
//! host, the console sink). A leaf: it needs nothing else of the kernel.

/// A write-once slot holding a `&'static T` (also for unsized `T` such as `dyn Port`).
pub struct OnceRef<T: ?Sized + 'static>(spin::Once<&'static T>);

impl<T: ?Sized + 'static> OnceRef<T> {
    /// An empty slot.
    pub const fn new() -> Self {
        Self(spin::Once::new())
    }
    /// Stores `value` if the slot is empty; returns whether it did.
    pub fn set(&self, value: &'static T) -> bool {
        let mut stored = false;
        self.0.call_once(|| {
            stored = true;
            value
        });
        stored
    }
    /// The stored reference, if set.
    pub fn get(&self) -> Option<&'static T> {
        self.0.get().copied()
    }
}

impl<T: ?Sized + 'static> Default for OnceRef<T> {
    fn default() -> Self {
        Self::new()
    }
}
