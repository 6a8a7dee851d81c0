//! The process's memory, as the system sees it (glibc's allocator on Linux).
//!
//! glibc gives each thread that allocates concurrently its own arena, up to eight
//! per core, and keeps what is freed there for reuse. A room runs a dozen threads
//! (network, codecs, one decoder per peer), so rooms coming and going spread the
//! heap over ever more arenas: measured over 50 create/join/leave cycles in one
//! process (`room::fifty_create_join_leave_cycles…`), resident memory rose from
//! 72 MB after the first cycle to 80–90 MB after later ones, without any leak (the
//! allocator's bytes in use stayed at 3.4 MB). Capping the arenas at 4 was not
//! enough on its own (74 → 86 MB in one run): video frames, codec buffers and
//! masks (0.3–4 MB each, freed every frame) are served from the arenas once glibc
//! has raised its mmap threshold to their size, and the pages they leave behind lie
//! between small chunks that stay. A fixed [`MMAP_THRESHOLD_BYTES`] keeps such
//! buffers out of the arenas (each is mapped and unmapped): the 50 cycles then
//! end within 1 % of the first (73.6 → 74.1 MB), and a 3-person demo room peaks at
//! 640 MB instead of 810–870 MB for the same CPU time (user + system 19.6 s against
//! 19.6–20.0 s over 10 s; `/usr/bin/time samespace demo --headless --seconds 10
//! --participants 3`). Hence [`tune_allocator`] at start and
//! [`release_freed_memory`] after a room.

/// Most malloc arenas: enough for the busy threads of a room on a few cores,
/// without the per-thread growth described above.
pub const MAX_ALLOCATOR_ARENAS: i32 = 4;

/// Allocations from this size up get their own mapping, given back when freed.
pub const MMAP_THRESHOLD_BYTES: i32 = 256 * 1024;

/// Caps glibc's malloc arenas at [`MAX_ALLOCATOR_ARENAS`] and fixes its mmap
/// threshold at [`MMAP_THRESHOLD_BYTES`] (call first thing in `main`; arenas made
/// before stay). Elsewhere it does nothing. The same settings from the
/// environment, for a process whose `main` is not this app's:
/// [`allocator_environment`].
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator settings; M_ARENA_MAX takes any
    // positive count and M_MMAP_THRESHOLD any size up to 32 MiB.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, MAX_ALLOCATOR_ARENAS);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
    }
}

/// [`tune_allocator`]'s settings as glibc's environment variables.
pub fn allocator_environment() -> [(&'static str, String); 2] {
    [
        ("MALLOC_ARENA_MAX", MAX_ALLOCATOR_ARENAS.to_string()),
        ("MALLOC_MMAP_THRESHOLD_", MMAP_THRESHOLD_BYTES.to_string()),
    ]
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

/// What the allocator holds, in bytes: in use by the program (heap and mmapped
/// chunks together) and kept free in its arenas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocatorFigures {
    pub in_use: u64,
    pub free_kept: u64,
}

/// The allocator's own figures (glibc's `mallinfo2`); `None` on other allocators.
/// Unlike resident memory, bytes in use do not move with how the freed pages
/// happen to lie, so a leak shows in them alone.
pub fn allocator_figures() -> Option<AllocatorFigures> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads the allocator's counters into a returned
        // struct.
        let info = unsafe { libc::mallinfo2() };
        Some(AllocatorFigures {
            in_use: (info.uordblks + info.hblkhd) as u64,
            free_kept: info.fordblks as u64,
        })
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    None
}
