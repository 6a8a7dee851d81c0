//! The process's memory, as the system sees it (glibc's allocator on Linux).
//!
//! glibc gives each thread that allocates concurrently its own arena, up to eight
//! per core, and keeps what is freed there for reuse. A room runs a dozen threads
//! (network, codecs, one decoder per peer), so rooms coming and going spread the
//! heap over ever more arenas: measured over 50 create/join/leave cycles in one
//! process (`room::fifty_create_join_leave_cycles…`), resident memory rose from
//! 72 MB after the first cycle to 80–90 MB after later ones, without any leak (with
//! at most 4 arenas it stays at 72 MB, within 0.2 %). Hence
//! [`cap_allocator_arenas`] at start and [`release_freed_memory`] after a room.

/// Most malloc arenas: enough for the busy threads of a room on a few cores,
/// without the per-thread growth described above.
pub const MAX_ALLOCATOR_ARENAS: i32 = 4;

/// Caps glibc's malloc arenas at [`MAX_ALLOCATOR_ARENAS`] (call first thing in
/// `main`; arenas made before stay). Elsewhere it does nothing.
pub fn cap_allocator_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator setting; M_ARENA_MAX takes any
    // positive count.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, MAX_ALLOCATOR_ARENAS);
    }
}

/// Gives memory that was freed back to the system (glibc otherwise keeps it in its
/// arenas, so the process would stay at its high-water mark after leaving a room).
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's own arenas to
    // the kernel; it touches no memory in use.
    unsafe {
        libc::malloc_trim(0);
    }
}
