//! Gives the heap's free pages back to the system.
//!
//! glibc's malloc returns memory to the system only from the top of each heap; after a burst
//! (1,000 concurrent battles) the freed middle stays resident: measured, the server kept 134 MiB
//! of RSS for good after such a burst, and `malloc_trim(0)` brought it to 27 MiB (idle: 17 MiB).
//! The server calls [`release_free_memory`] periodically (see `server/src/lib.rs`).

/// Releases free heap pages to the system; true if some memory was released. A no-op off glibc.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_free_memory() -> bool {
    // SAFETY: malloc_trim(0) takes no pointers and only walks glibc's own heap under its
    // locks; it is safe to call from any thread at any time.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Releases free heap pages to the system; true if some memory was released. A no-op off glibc.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() -> bool {
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn releasing_after_a_burst_is_safe_and_idempotent() {
        let burst: Vec<Vec<u8>> = (0..2_000).map(|i| vec![i as u8; 3_000]).collect();
        drop(burst);
        super::release_free_memory();
        // A second call finds nothing more to release, and must not misbehave.
        super::release_free_memory();
    }
}
