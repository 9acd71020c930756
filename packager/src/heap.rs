//! Memory handed out by `malloc` starts zeroed in this process, as it does in a new one.
//!
//! x264 reads memory it has allocated but not written when a rung's width is not a
//! multiple of 16 (426x240 and 854x480 of a 16:9 ladder): its output depends on what that
//! memory held. A new process gets zeroed pages from the kernel, so one title made in a
//! fresh `vodpipe transcode` is the same every time; but a worker that has run jobs
//! before gets memory its earlier pipelines used, and then made a chunk's 240p segment
//! with different bytes (seen once in six runs of the queue's kill test; reproduced at
//! will with `MALLOC_PERTURB_=1`). glibc's perturb option fills every block `malloc`
//! returns with `value ^ 0xff`: with 0xff, zeros. The price is a `memset` of each block
//! as it is handed out and again as it is freed. Blocks of up to 1 KiB that glibc serves
//! from its per-thread cache are not reached by the option; the blocks that mattered are
//! larger (`MALLOC_PERTURB_`, which has the same reach, changed the rungs).

/// glibc's `M_PERTURB` parameter of `mallopt`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const M_PERTURB: std::ffi::c_int = -6;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
unsafe extern "C" {
    fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
}

/// From now on every block `malloc` hands out is zeroed. Returns false where the C
/// library has no such option.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn zero_new_allocations() -> bool {
    // SAFETY: mallopt only sets an option of the allocator; M_PERTURB takes any byte.
    unsafe { mallopt(M_PERTURB, 0xff) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn zero_new_allocations() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" {
        fn malloc(size: usize) -> *mut u8;
        fn free(block: *mut u8);
    }

    #[test]
    fn blocks_come_back_zeroed_after_being_dirtied() {
        assert!(zero_new_allocations(), "glibc takes M_PERTURB");
        // A block dirtied and freed, then the same size asked for again: glibc hands the
        // same block back, zeroed. Blocks of up to 1 KiB come from glibc's per-thread cache,
        // which the option does not reach (see the module's note); x264's frames and tables
        // are larger. Read with volatile loads: the compiler
        // knows malloc's memory as uninitialised and would fold plain reads of it.
        for size in [4000, 200_000] {
            // SAFETY: each block is written and read within its size, then freed once.
            unsafe {
                let dirty = malloc(size);
                std::ptr::write_bytes(dirty, 0xa5, size);
                free(dirty);
                let fresh = std::hint::black_box(malloc(size));
                let zeroed = (0..size).all(|i| std::ptr::read_volatile(fresh.add(i)) == 0);
                free(fresh);
                assert!(zeroed, "a block of {size} bytes kept its old bytes");
            }
        }
    }

    #[test]
    fn a_panic_still_unwinds_with_the_option_set() {
        assert!(zero_new_allocations());
        let caught = std::panic::catch_unwind(|| panic!("on purpose"));
        assert!(caught.is_err());
    }
}
