//! Process-wide allocator settings.
//!
//! A training step allocates and frees the same large buffers every time (the logits of a
//! 65,001-word vocabulary are 42 MB for 8 x 20 tokens). glibc serves blocks over its mmap
//! threshold (at most 32 MB by default) with fresh pages from the kernel and hands freed heap
//! memory back, so every step pays page faults to zero memory it just gave away: about a
//! fifth of a Marian fine-tuning step. Keeping freed memory in the process removes that cost;
//! the price is that the resident size stays at its peak instead of shrinking between steps.

/// Serve every allocation from the heap and never return freed memory to the kernel.
/// Call once, first thing in `main`, before other threads start.
pub fn keep_freed_memory_for_reuse() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's allocation thresholds; called before other threads
    // allocate, as glibc's manual asks.
    unsafe {
        // i32::MAX is the largest value mallopt takes; blocks above 2 GB still use mmap.
        libc::mallopt(libc::M_MMAP_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
