//! The process's memory allocator: mimalloc. Measured with `examples/discovery_scale.rs`
//! (100,000 pods, figures in the README's performance section), it gives the memory of an
//! initial list back to the system once the list is stored, where glibc's malloc keeps it in its
//! per-thread arenas (a whole-list sync settles at 221 MB instead of 518 MB).
//! `--features system-allocator` builds with the system's malloc instead, for comparison.

#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
