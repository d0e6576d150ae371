//! What the in-kernel relay costs the kernel per event (run as root:
//! `cargo bench --bench relay_probe -- [--forks N] [--rounds R]`).
//!
//! Loads the probe with its relay programs and turns on the kernel's BPF run-time
//! statistics, then forks and reaps `--forks` children (default 2,000) per round, `--rounds`
//! times (default 7), in three settings: no rule; one rule that matches none of these forks
//! (the rules are looked at); one rule that signals every fork to a process that holds the
//! signals (the kfunc calls and the send). It prints the relay's fork program's median time
//! per run in each, with the event program's beside it for scale. Forks elsewhere on the
//! machine run the programs too and are counted alike.

mod bpf_stats;
#[allow(dead_code)]
#[path = "../tests/common/holder.rs"]
mod holder;
#[allow(dead_code)]
#[path = "../tests/common/receiver.rs"]
mod receiver;
#[path = "../tests/common/relay_entries.rs"]
mod relay_entries;

use bpf_stats::{fork_and_reap, median, per_run, programs_named, stats};
use forkwatch::source::ebpf::{KernelRelay, Probe, ProbeOptions};
use forkwatch_abi::relay::{RelayEntry, matching};
use holder::Holder;
use relay_entries::{every_fork_to, key_of};

const SIGNAL: i32 = 40;

fn option(flag: &str) -> Option<u32> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1)?.parse().ok()
}

/// The one program called `name` that is new since `before` was read.
fn new_program(before: &std::collections::HashSet<u32>, name: &str) -> u32 {
    let new: Vec<u32> = programs_named(name).difference(before).copied().collect();
    match new[..] {
        [id] => id,
        _ => panic!(
            "{} new `{name}` programs: another probe loaded meanwhile",
            new.len()
        ),
    }
}

/// Median ns per run of programs `relay` and `fork` over `rounds` rounds of `forks`.
fn measure(relay: u32, fork: u32, rounds: u32, forks: u32) -> (f64, f64) {
    let (mut relay_ns, mut fork_ns) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (relay_start, fork_start) = (stats(relay), stats(fork));
        fork_and_reap(forks);
        relay_ns.push(per_run(relay_start, stats(relay)));
        fork_ns.push(per_run(fork_start, stats(fork)));
    }
    (median(&mut relay_ns), median(&mut fork_ns))
}

fn main() {
    let forks = option("--forks").unwrap_or(2_000);
    let rounds = option("--rounds").unwrap_or(7).max(1);
    // Forked before the runtime: a holder forks from a process of one thread.
    let holder = Holder::hold(SIGNAL);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let _guard = runtime.enter();
    let (relays_before, forks_before) = (programs_named("relay_fork"), programs_named("fork"));
    let mut probe = Probe::load(&ProbeOptions {
        kernel_relay: true,
        ..ProbeOptions::default()
    })
    .expect("the probe loads (run as root)");
    let mut relay: KernelRelay = probe
        .take_kernel_relay()
        .expect("asked for")
        .expect("this kernel runs the in-kernel relay");
    let relay_id = new_program(&relays_before, "relay_fork");
    let fork_id = new_program(&forks_before, "fork");
    let _stats =
        aya::sys::enable_stats(aya::sys::Stats::RunTime).expect("enable BPF run-time stats");

    let every_fork = every_fork_to(key_of(holder.pid()), SIGNAL);
    // A process that does not fork: pid 1 with a start time it does not have.
    let no_fork = RelayEntry {
        matching: matching::PROCESS,
        match_pid: 1,
        match_start_ticks: u64::MAX,
        ..every_fork
    };

    println!(
        "{rounds} rounds of {forks} fork+exit; median ns per run of the relay's fork program:"
    );
    let (none, fork) = measure(relay_id, fork_id, rounds, forks);
    println!("no rule: {none:.0} (event program: {fork:.0})");
    let slot = relay.add(&no_fork).expect("room for a rule");
    let (looked, fork) = measure(relay_id, fork_id, rounds, forks);
    println!("one rule, no match: {looked:.0} (event program: {fork:.0})");
    relay.remove(slot).expect("emptied");
    let slot = relay.add(&every_fork).expect("room for a rule");
    let (sent, fork) = measure(relay_id, fork_id, rounds, forks);
    let counts = relay.counts(slot).expect("counted");
    println!(
        "one rule signalling every fork: {sent:.0} (event program: {fork:.0}); \
         {} sent, {} undelivered",
        counts.sent, counts.undelivered
    );
    relay.remove(slot).expect("emptied");
    drop(probe);
}
