//! The language's bounds (see the module docs of `script`).

/// Longest text of one construct (all its lines), in bytes.
pub(crate) const MAX_BLOCK: usize = 8192;
/// Deepest nesting of constructs, `$(...)` and function calls.
pub(crate) const MAX_DEPTH: u32 = 16;
/// Most variables at once.
pub(crate) const MAX_VARS: usize = 64;
/// Longest variable value, expanded word or `$(...)` output, in bytes.
pub(crate) const MAX_VALUE: usize = 1024;
/// Most functions at once.
pub(crate) const MAX_FUNCS: usize = 16;
