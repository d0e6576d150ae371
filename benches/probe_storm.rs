//! The probe under a fork storm (run as root: `cargo bench --bench probe_storm`).
//! `-- --backend netlink` runs the same storm against the proc connector instead, and
//! `--rounds N` sets the rounds per configuration (default 3).
//!
//! Two workers fork and reap children as fast as they can for 5 s, alternately without
//! forkwatch and with `forkwatch-tui events --json` writing to a file. Prints:
//! - completeness: every fork and exit of the workers' children found in the output, and
//!   the loss reported (default ring buffer);
//! - overhead: the workers' fork rate with forkwatch running divided by the rate without;
//! - the monitor's own CPU time per 10,000 events (a storm child makes two: fork and exit).
//!
//! Workers are pinned to one CPU each (`--pin 1`): on a VM an idle CPU wakes slowly, and an
//! unpinned fork+wait loop measures those wake-ups more than fork itself. A run with
//! `--kinds lost` (everything read, nothing written) separates the cost of the probe and
//! reading from the cost of writing JSON, and the kernel's own BPF run-time statistics give
//! the probe's cost per event directly.

use std::{
    collections::HashSet,
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

// Only its `cpu_of` serves here.
#[allow(dead_code)]
#[path = "../tests/common/demo_events.rs"]
mod demo_events;

use demo_events::cpu_of;

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
const WORKLOAD: &str = env!("CARGO_BIN_EXE_forkwatch-workload");
const SECONDS: &str = "5";

struct Storm {
    workers: Vec<u32>,
    forks: u64,
    seconds: f64,
    /// CPU time of the workers and their children.
    cpu_secs: f64,
}

fn storm() -> Storm {
    let before = children_cpu();
    let out = Command::new(WORKLOAD)
        .args([
            "storm",
            "--workers",
            "2",
            "--seconds",
            SECONDS,
            "--pin",
            "1",
        ])
        .output()
        .expect("run the workload");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("workload summary");
    Storm {
        workers: v["workers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_u64().unwrap() as u32)
            .collect(),
        forks: v["forks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .sum(),
        seconds: v["seconds"].as_f64().unwrap(),
        cpu_secs: children_cpu() - before,
    }
}

/// CPU time of this process's reaped descendants: the workload has reaped its workers, and
/// they their children, by the time it is reaped.
fn children_cpu() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

struct Watched {
    storm: Storm,
    /// (program, runs, total run time) of the probe's programs during the storm.
    programs: Vec<(String, u64, std::time::Duration)>,
    forks_seen: u64,
    exits_seen: u64,
    lost: u64,
    lines: u64,
    cpu_secs: f64,
}

fn watched(backend: &str, kinds: Option<&str>) -> Watched {
    // A name no one could know beforehand: a fixed one under /tmp could be anyone's.
    let output = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["events", "--json", "--backend", backend]);
    if let Some(kinds) = kinds {
        cmd.args(["--kinds", kinds]);
    }
    #[expect(clippy::zombie_processes, reason = "reaped below with waitpid")]
    let mut monitor = cmd
        .stdout(output.reopen().unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(monitor.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.contains("watching"), "{line}");

    // The monitor's CPU during the storm only: not its start (BTF, loading and verifying
    // the probe) nor its end.
    let cpu_before = cpu_of(monitor.id());
    let started = std::time::SystemTime::now();
    let storm = storm();
    let programs = probe_programs(started);
    // What the storm left in the ring buffer is read within two wakeup gaps.
    std::thread::sleep(std::time::Duration::from_millis(50));
    let cpu_secs = cpu_of(monitor.id()) - cpu_before;

    // SAFETY: signalling and reaping our own child.
    unsafe {
        libc::kill(monitor.id() as i32, libc::SIGINT);
        libc::waitpid(monitor.id() as i32, std::ptr::null_mut(), 0);
    }

    let workers: HashSet<u32> = storm.workers.iter().copied().collect();
    let (mut forks_seen, mut exits_seen, mut lost, mut lines) = (0, 0, 0, 0);
    for line in BufReader::new(output.reopen().unwrap()).lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        lines += 1;
        let ppid = v["ppid"].as_u64().unwrap_or(0) as u32;
        match v["kind"].as_str().unwrap() {
            "fork" if workers.contains(&ppid) => forks_seen += 1,
            "exit" if workers.contains(&ppid) => exits_seen += 1,
            "lost" => lost += v["count"].as_u64().unwrap(),
            _ => {}
        }
    }
    Watched {
        storm,
        programs,
        forks_seen,
        exits_seen,
        lost,
        lines,
        cpu_secs,
    }
}

/// Run counts and times of the probe programs loaded since `since`.
fn probe_programs(since: std::time::SystemTime) -> Vec<(String, u64, std::time::Duration)> {
    const NAMES: [&str; 5] = ["fork", "exec", "exit", "uid_change", "gid_change"];
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .filter(|p| {
            p.loaded_at()
                .is_some_and(|t| t >= since - std::time::Duration::from_secs(5))
        })
        .filter_map(|p| {
            let name = p.name_as_str()?.to_owned();
            NAMES
                .contains(&name.as_str())
                .then(|| (name, p.run_count(), p.run_time()))
        })
        .collect()
}

fn tv(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

fn rate(s: &Storm) -> f64 {
    s.forks as f64 / s.seconds
}

/// The value after `flag` on the command line.
fn option(flag: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1).cloned())
}

/// One round's figures, and what each probe program cost. `lines_off` when `--kinds`
/// leaves forks and exits out of the output, so that it cannot be complete.
fn print_round(round: usize, base: &Storm, w: &Watched, lines_off: bool) {
    let complete = w.forks_seen == w.storm.forks && w.exits_seen == w.storm.forks;
    println!(
        "round {round}: unwatched {:.0} forks/s; watched {:.0} forks/s; \
         children {} forks seen {} exits seen {} ({}); lost {}; \
         monitor {:.3} s CPU, {} lines written, {:.2} ms per 10k storm events",
        rate(base),
        rate(&w.storm),
        w.storm.forks,
        w.forks_seen,
        w.exits_seen,
        if lines_off {
            "not written"
        } else if complete {
            "complete"
        } else {
            "INCOMPLETE"
        },
        w.lost,
        w.cpu_secs,
        w.lines,
        w.cpu_secs / (2 * w.storm.forks).max(1) as f64 * 10_000.0 * 1e3
    );
    for (name, runs, time) in &w.programs {
        if *runs > 0 {
            println!(
                "    probe program {name}: {runs} runs, {:.0} ns per run",
                time.as_nanos() as f64 / *runs as f64
            );
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let backend = option("--backend").unwrap_or_else(|| "ebpf".to_owned());
    let rounds: usize = option("--rounds").map_or(3, |r| r.parse().expect("--rounds N"));
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("probe_storm: run as root (it loads the probe)");
        std::process::exit(1);
    }
    // Statistics are kept while this fd is open.
    let _stats =
        aya::sys::enable_stats(aya::sys::Stats::RunTime).expect("enable BPF run-time stats");
    for (label, kinds) in [
        ("events --json", None),
        ("events --json --kinds lost", Some("lost")),
    ] {
        let mut base_rates = Vec::new();
        let mut watched_rates = Vec::new();
        let (mut base_cpu, mut base_forks, mut added_cpu, mut watched_forks) = (0.0, 0, 0.0, 0);
        let mut monitor_cpu = 0.0;
        println!("== {label} --backend {backend}, {rounds} rounds of {SECONDS} s, 2 workers");
        for round in 1..=rounds {
            let base = storm();
            base_rates.push(rate(&base));
            base_cpu += base.cpu_secs;
            base_forks += base.forks;
            let w = watched(&backend, kinds);
            watched_rates.push(rate(&w.storm));
            let probe_secs: f64 = w.programs.iter().map(|p| p.2.as_secs_f64()).sum();
            added_cpu += probe_secs + w.cpu_secs;
            monitor_cpu += w.cpu_secs;
            watched_forks += w.storm.forks;
            print_round(round, &base, &w, kinds.is_some());
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        println!(
            "monitor CPU per 10k storm events, all rounds: {:.2} ms",
            monitor_cpu / (2 * watched_forks).max(1) as f64 * 10_000.0 * 1e3
        );
        println!(
            "overhead ratio (watched / unwatched fork rate): {:.3}",
            mean(&watched_rates) / mean(&base_rates)
        );
        // The rates swing by 10-20% between rounds on a shared VM; CPU time per fork does
        // not. With both CPUs saturated, every CPU-second forkwatch takes is one the
        // workers lose, so this is the ratio the rates would show without the noise.
        let storm_per_fork = base_cpu / base_forks.max(1) as f64;
        let added_per_fork = added_cpu / watched_forks.max(1) as f64;
        println!(
            "CPU per fork: storm {:.1} us, probe and monitor {:.1} us; \
             CPU-accounted ratio {:.3}",
            storm_per_fork * 1e6,
            added_per_fork * 1e6,
            storm_per_fork / (storm_per_fork + added_per_fork)
        );
    }
}
