//! The process's memory allocator: mimalloc. Measured with `examples/discovery_scale.rs`
//! (100,000 pods, figures in the README's performance section), it gives the memory of an
//! initial list back to the system once the list is stored, where glibc's malloc keeps it in its
//! per-thread arenas (a whole-list sync settles at 221 MB instead of 518 MB).
//! `--features system-allocator` builds with the system's malloc instead, for comparison.

#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_arena_eager_commit` and `mi_option_purge_delay` (the same numbers in
/// mimalloc 3, which the `mimalloc` crate builds by default, and 2).
#[cfg(not(feature = "system-allocator"))]
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
#[cfg(not(feature = "system-allocator"))]
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes freed memory go back to the system at once, and arenas commit only what they use.
/// Measured compiling the Python runtime (`kube-shields check web.py`, cold cache): peak
/// resident 542 MB with mimalloc's defaults (freed pages kept 10 ms, arenas committed whole),
/// 421 MB with immediate purging; with compiling one function at a time, 363 and then 324 MB
/// with lazily committed arenas. Set before mimalloc starts (its first arena is made at the
/// process's first allocation, before `main`): see [`SET_OPTIONS_FIRST`].
pub fn return_memory_promptly() {
    #[cfg(not(feature = "system-allocator"))]
    // SAFETY: sets two of mimalloc's options (plain stores into its option table).
    unsafe {
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
    }
}

/// Runs [`return_memory_promptly`] among the first of the process's initializers (priority 101
/// of `.init_array`, before the default ones, mimalloc's and the Rust runtime's allocations
/// included), so the options hold for mimalloc's first arena too.
#[cfg(all(target_os = "linux", not(feature = "system-allocator")))]
#[used]
#[unsafe(link_section = ".init_array.00101")]
static SET_OPTIONS_FIRST: extern "C" fn() = {
    extern "C" fn set_options() {
        return_memory_promptly();
    }
    set_options
};

/// Gives the memory freed so far back to the system (after a large compile).
pub(crate) fn release_free_memory() {
    #[cfg(not(feature = "system-allocator"))]
    // SAFETY: mimalloc's collection entry point, safe from any thread.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}
