//! What exit accounting costs in the kernel (run as root: `cargo bench --bench probe_exit`).
//!
//! Loads the probe, turns on the kernel's BPF run-time statistics (BPF_ENABLE_STATS: on
//! while its file descriptor is open, so nothing is left changed), then, `--rounds R` times
//! (default 15), forks and reaps `--forks N` children (default 2,000) that exit at once, and
//! prints per round the exit program's average time per run, with the fork program's beside
//! it for scale, then the medians. The exit program reads the whole process's usage at every
//! process exit; to see what that adds, run it once more on a build whose probe skips those
//! reads. Other exits on the machine run the program too and are counted alike.

mod bpf_stats;

use std::collections::HashSet;

use bpf_stats::{fork_and_reap, median, per_run, programs_named, stats};
use forkwatch::source::ebpf::{Probe, ProbeOptions};

fn option(flag: &str) -> Option<u32> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1)?.parse().ok()
}

fn main() {
    let forks = option("--forks").unwrap_or(2_000);
    let rounds = option("--rounds").unwrap_or(15).max(1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let _guard = runtime.enter();
    let (exits_before, forks_before) = (programs_named("exit"), programs_named("fork"));
    let probe = Probe::load(&ProbeOptions::default()).expect("the probe loads (run as root)");
    let ours = |before: &HashSet<u32>, name: &str| {
        let new: Vec<u32> = programs_named(name).difference(before).copied().collect();
        match new[..] {
            [id] => id,
            _ => panic!(
                "{} new `{name}` programs: another probe loaded meanwhile; run again",
                new.len()
            ),
        }
    };
    let (exit_id, fork_id) = (ours(&exits_before, "exit"), ours(&forks_before, "fork"));
    let _stats =
        aya::sys::enable_stats(aya::sys::Stats::RunTime).expect("enable BPF run-time stats");
    println!("{rounds} rounds of {forks} fork+exit; ns per run:");
    let (mut exit_ns, mut fork_ns) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let (exit_start, fork_start) = (stats(exit_id), stats(fork_id));
        fork_and_reap(forks);
        let exit = per_run(exit_start, stats(exit_id));
        let fork = per_run(fork_start, stats(fork_id));
        println!("round {round}: exit {exit:.0}, fork {fork:.0}");
        exit_ns.push(exit);
        fork_ns.push(fork);
    }
    // The least is the run least disturbed by the rest of the machine.
    for (name, values) in [("exit", &mut exit_ns), ("fork", &mut fork_ns)] {
        println!(
            "{name}: median {:.0} ns per run, least {:.0}",
            median(values),
            values[0]
        );
    }
    drop(probe);
}
