//! The kernel's BPF run-time statistics, for the benchmarks of the probe's programs: run
//! counts and run times per program, and a steady source of forks and exits to measure.

use std::{collections::HashSet, time::Duration};

/// Ids of the loaded BPF programs called `name`.
pub fn programs_named(name: &str) -> HashSet<u32> {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .filter(|p| p.name_as_str() == Some(name))
        .map(|p| p.id())
        .collect()
}

/// Run count and total run time of program `id`.
pub fn stats(id: u32) -> (u64, Duration) {
    let info = aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .find(|p| p.id() == id)
        .expect("the probe's program is loaded");
    (info.run_count(), info.run_time())
}

/// Forks `forks` children that exit at once, one at a time.
pub fn fork_and_reap(forks: u32) {
    for _ in 0..forks {
        // SAFETY: the child only calls _exit; the parent reaps it.
        match unsafe { libc::fork() } {
            -1 => panic!("fork: {}", std::io::Error::last_os_error()),
            0 => unsafe { libc::_exit(0) },
            pid => unsafe {
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            },
        }
    }
}

/// Average run time in nanoseconds between two readings of (run count, run time).
pub fn per_run((count0, time0): (u64, Duration), (count, time): (u64, Duration)) -> f64 {
    (time - time0).as_nanos() as f64 / (count - count0).max(1) as f64
}

/// Sorts `values` and returns their median.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
