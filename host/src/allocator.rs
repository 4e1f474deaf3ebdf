//! The process's memory allocator: mimalloc. Measured with `examples/discovery_scale.rs`
//! (100,000 pods, figures in the README's performance section), it gives the memory of an
//! initial list back to the system once the list is stored, where glibc's malloc keeps it in its
//! per-thread arenas (a whole-list sync settles at 221 MB instead of 518 MB).
//! `--features system-allocator` builds with the system's malloc instead, for comparison.

#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_arena_eager_commit` and `mi_option_purge_delay` (the same numbers in
/// mimalloc 3, which the `mimalloc` crate builds by default, and 2), and the delay's default.
#[cfg(not(feature = "system-allocator"))]
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
#[cfg(not(feature = "system-allocator"))]
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
#[cfg(not(feature = "system-allocator"))]
const DEFAULT_PURGE_DELAY_MS: std::ffi::c_long = 10;

/// Makes arenas commit only the memory they use. Set before mimalloc starts (its first arena
/// is made at the process's first allocation, before `main`): see [`SET_OPTIONS_FIRST`].
pub fn commit_lazily() {
    #[cfg(not(feature = "system-allocator"))]
    // SAFETY: sets one of mimalloc's options (a plain store into its option table).
    unsafe {
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
    }
}

/// Runs [`commit_lazily`] among the first of the process's initializers (priority 101 of
/// `.init_array`, before the default ones, mimalloc's and the Rust runtime's allocations
/// included), so the option holds for mimalloc's first arena too.
#[cfg(all(target_os = "linux", not(feature = "system-allocator")))]
#[used]
#[unsafe(link_section = ".init_array.00101")]
static SET_OPTIONS_FIRST: extern "C" fn() = {
    extern "C" fn set_options() {
        commit_lazily();
    }
    set_options
};

/// While one exists (a large compile), freed memory goes back to the system at once; when the
/// last ends, what is still free goes back too and mimalloc keeps freed pages for its default
/// 10 ms again. Measured compiling the Python runtime (`kube-shields check web.py`, cold
/// cache): peak resident 542 MB with mimalloc's defaults, 421 MB purging at once; with
/// compiling one function at a time, 363 and then 324 MB with lazily committed arenas. Purging
/// at once all the time cost the badge path an `madvise` and fresh page faults on most
/// requests: 3–4 % of a health badge's CPU in `perf`.
pub(crate) struct PromptReturn(());

/// How many [`PromptReturn`]s exist.
static PROMPT_RETURNS: std::sync::Mutex<usize> = std::sync::Mutex::new(0);

impl PromptReturn {
    pub(crate) fn start() -> Self {
        let mut holders = PROMPT_RETURNS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *holders == 0 {
            #[cfg(not(feature = "system-allocator"))]
            // SAFETY: sets one of mimalloc's options (a plain store into its option table).
            unsafe {
                libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
            }
        }
        *holders += 1;
        PromptReturn(())
    }
}

impl Drop for PromptReturn {
    fn drop(&mut self) {
        let mut holders = PROMPT_RETURNS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *holders -= 1;
        #[cfg(not(feature = "system-allocator"))]
        // SAFETY: mimalloc's collection entry point, safe from any thread, and an option store.
        unsafe {
            libmimalloc_sys::mi_collect(true);
            if *holders == 0 {
                libmimalloc_sys::mi_option_set(PURGE_DELAY, DEFAULT_PURGE_DELAY_MS);
            }
        }
    }
}
