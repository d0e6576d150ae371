//! `watch` of a quiet subtree during a fork storm, following in the kernel against filtering
//! in user space (run as root: `cargo bench --bench follow_storm`; `--rounds N`, default 3).
//!
//! Each round runs the 2-worker storm of benches/probe_storm.rs (5 s, workers pinned) twice:
//! once under `watch PID --json` (the probe follows the subtree and sends only its events)
//! and once under `watch PID --json --filter-in-user-space` (every event of the machine
//! crosses into user space and the pin picks). The subtree is one `sleep`: quiet. Prints
//! per round and mode the monitor's CPU per 10,000 machine events (a storm child makes two:
//! fork and exit) and, from the kernel's BPF run-time statistics, the probe's time per run
//! of its fork and exit programs; then the ratio of the monitor CPU of the two modes and
//! the probe's time per event each mode adds.
//!
//! Then what following costs the probe where it does not filter: a probe loaded here and
//! read to the end, under the same storm, without a followed subtree and with one (the
//! quiet `sleep`) but every event sent: the difference per event is the map's upkeep.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, SystemTime},
};

// Only its `cpu_of` serves here.
#[allow(dead_code)]
#[path = "../tests/common/demo_events.rs"]
mod demo_events;

use demo_events::cpu_of;
use forkwatch::source::ebpf::{Probe, ProbeOptions};

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
const WORKLOAD: &str = env!("CARGO_BIN_EXE_forkwatch-workload");

/// The storm's forks (each child also exits: two events per fork).
fn storm() -> u64 {
    let out = Command::new(WORKLOAD)
        .args(["storm", "--workers", "2", "--seconds", "5", "--pin", "1"])
        .output()
        .expect("run the workload");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("workload summary");
    v["forks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum()
}

/// What one watched storm cost.
struct Run {
    machine_events: u64,
    monitor_cpu_secs: f64,
    /// Runs and run time of the probe's programs, by name, during the storm.
    programs: Vec<(String, u64, Duration)>,
    start_line: String,
}

fn watched(root: u32, in_kernel: bool) -> Run {
    let root = root.to_string();
    let mut args = vec!["watch", &root, "--json"];
    if !in_kernel {
        args.push("--filter-in-user-space");
    }
    let started = SystemTime::now();
    #[expect(clippy::zombie_processes, reason = "reaped below with waitpid")]
    let mut monitor = Command::new(BIN)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(monitor.stderr.take().unwrap());
    let mut start_line = String::new();
    stderr.read_line(&mut start_line).unwrap();
    assert!(start_line.contains("watching"), "{start_line}");

    let cpu_before = cpu_of(monitor.id());
    let before = probe_programs(started);
    let forks = storm();
    let after = probe_programs(started);
    // What the storm left in the ring buffer is read within two wakeup gaps.
    std::thread::sleep(Duration::from_millis(50));
    let monitor_cpu_secs = cpu_of(monitor.id()) - cpu_before;
    // SAFETY: signalling and reaping our own child.
    unsafe {
        libc::kill(monitor.id() as i32, libc::SIGINT);
        libc::waitpid(monitor.id() as i32, std::ptr::null_mut(), 0);
    }
    let programs = after
        .into_iter()
        .map(|(name, runs, time)| {
            let (_, runs0, time0) = before
                .iter()
                .find(|p| p.0 == name)
                .cloned()
                .unwrap_or_default();
            (name, runs - runs0, time - time0)
        })
        .collect();
    Run {
        machine_events: 2 * forks,
        monitor_cpu_secs,
        programs,
        start_line: start_line.trim().to_owned(),
    }
}

/// Run counts and times of the fork and exit programs loaded since `since` (the monitor's
/// probe: the one loaded then).
fn probe_programs(since: SystemTime) -> Vec<(String, u64, Duration)> {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .filter(|p| p.loaded_at().is_some_and(|t| t >= since))
        .filter_map(|p| {
            let name = p.name_as_str()?.to_owned();
            ["fork", "exit"]
                .contains(&name.as_str())
                .then(|| (name, p.run_count(), p.run_time()))
        })
        .collect()
}

fn per_10k(run: &Run) -> f64 {
    run.monitor_cpu_secs / run.machine_events.max(1) as f64 * 10_000.0 * 1e3
}

/// Nanoseconds per event of the fork and exit programs together (each storm event runs one).
fn probe_ns(run: &Run) -> f64 {
    let (runs, time) = run
        .programs
        .iter()
        .fold((0, Duration::ZERO), |(r, t), p| (r + p.1, t + p.2));
    time.as_nanos() as f64 / runs.max(1) as f64
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(3);
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("follow_storm: run as root (it loads the probe)");
        std::process::exit(1);
    }
    // Statistics are kept while this fd is open.
    let _stats =
        aya::sys::enable_stats(aya::sys::Stats::RunTime).expect("enable BPF run-time stats");
    let mut quiet = Command::new("sleep").arg("3600").spawn().unwrap();
    println!("== watch of a quiet subtree, {rounds} rounds of a 5 s 2-worker storm per mode");
    let (mut kernel, mut user) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        for (in_kernel, runs) in [(true, &mut kernel), (false, &mut user)] {
            let run = watched(quiet.id(), in_kernel);
            println!(
                "round {round}: {}\n    {} machine events; monitor {:.3} s CPU, {:.3} ms per 10k \
                 machine events; probe fork+exit {:.0} ns per run",
                run.start_line,
                run.machine_events,
                run.monitor_cpu_secs,
                per_10k(&run),
                probe_ns(&run)
            );
            runs.push(run);
        }
    }
    let total =
        |runs: &[Run], f: fn(&Run) -> f64| runs.iter().map(f).sum::<f64>() / runs.len() as f64;
    let (k, u) = (total(&kernel, per_10k), total(&user, per_10k));
    println!(
        "monitor CPU per 10k machine events: in the kernel {k:.3} ms, in user space {u:.3} ms; \
         ratio {:.3}",
        k / u
    );
    let (kp, up) = (total(&kernel, probe_ns), total(&user, probe_ns));
    println!(
        "probe per event: in the kernel {kp:.0} ns, in user space {up:.0} ns; \
         added by following {:.0} ns",
        kp - up
    );
    let upkeep: Vec<(f64, f64)> = (0..rounds).map(|_| upkeep(quiet.id())).collect();
    for (round, (off, on)) in upkeep.iter().enumerate() {
        println!(
            "upkeep round {}: probe fork+exit {off:.0} ns per run without a followed subtree, \
             {on:.0} ns following one (every event sent)",
            round + 1
        );
    }
    let mean = |f: fn(&(f64, f64)) -> f64| upkeep.iter().map(f).sum::<f64>() / rounds as f64;
    println!(
        "following's upkeep per event: {:.0} ns",
        mean(|u| u.1) - mean(|u| u.0)
    );
    let _ = quiet.kill();
    let _ = quiet.wait();
}

/// The probe's time per run of fork and exit under the storm, without and with `root`'s
/// subtree followed (every event sent either way), each with a probe of its own read to
/// the end as a monitor would.
fn upkeep(root: u32) -> (f64, f64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stat = forkwatch::proc::stat::read(root).expect("the quiet process lives");
    let key = forkwatch::event::ProcessKey {
        pid: root,
        start_ticks: stat.start_ticks,
    };
    let mut per_run = [0.0; 2];
    for (following, ns) in per_run.iter_mut().enumerate() {
        let started = SystemTime::now();
        let _guard = runtime.enter();
        let mut probe = Probe::load(&ProbeOptions::default()).expect("the probe loads");
        if following == 1 {
            probe.follow().add_root(key, []).unwrap();
        }
        let before = probe_programs(started);
        let storm = std::thread::spawn(storm);
        let mut events = Vec::new();
        while !storm.is_finished() {
            runtime.block_on(async {
                let read = probe.next_batch(&mut events);
                let _ = tokio::time::timeout(Duration::from_millis(50), read).await;
            });
            events.clear();
        }
        storm.join().unwrap();
        let after = probe_programs(started);
        let (runs, time) = after.iter().fold((0, Duration::ZERO), |(r, t), p| {
            let (_, r0, t0) = before
                .iter()
                .find(|b| b.0 == p.0)
                .cloned()
                .unwrap_or_default();
            (r + p.1 - r0, t + (p.2 - t0))
        });
        *ns = time.as_nanos() as f64 / runs.max(1) as f64;
    }
    (per_run[0], per_run[1])
}
