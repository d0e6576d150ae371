//! The CPU time a round of samples costs (`cargo bench --bench sampling`): starts 2,000
//! sleeping processes, then times rounds through the probe's task iterator, through /proc
//! with the stat files kept open between rounds (what the sampler does), and through /proc
//! opening each file every round. Prints µs of CPU per process per round for each, and the
//! share of one core that sampling 10,000 processes every second would take.
//! `-- --processes N --rounds N` change the numbers.

use std::process::{Child, Command};

use forkwatch::{
    clock,
    proc::sample::ProcSampler,
    source::ebpf::{Probe, ProbeOptions},
};

/// CPU time of this thread, in nanoseconds: the iterator runs in the thread that reads it.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is ours to write.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn option(flag: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(default)
}

fn sleepers(n: usize) -> Vec<Child> {
    (0..n)
        .map(|_| {
            Command::new("sleep")
                .arg("600")
                .spawn()
                .expect("start sleep")
        })
        .collect()
}

/// Times `rounds` calls of `round`, each of which returns how many processes it sampled;
/// the median CPU time per process per round, in µs.
fn per_process_us(rounds: usize, mut round: impl FnMut() -> usize) -> (f64, usize) {
    let mut each = Vec::new();
    let mut sampled = 0;
    for _ in 0..rounds {
        let start = thread_cpu_ns();
        sampled = round();
        each.push((thread_cpu_ns() - start) as f64 / 1e3 / sampled as f64);
    }
    each.sort_by(f64::total_cmp);
    (each[each.len() / 2], sampled)
}

fn report(name: &str, (us, sampled): (f64, usize)) {
    // µs per process per round × 10,000 processes, once a second, as a share of 1 s.
    let core = us * 10_000.0 / 1e6 * 100.0;
    println!(
        "  {name}: {us:.2} µs of CPU per process per round ({sampled} processes); \
         10,000 processes every 1 s: {core:.2}% of one core"
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let processes = option("--processes", 2000);
    let rounds = option("--rounds", 20);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _context = runtime.enter();

    let mut children = sleepers(processes);
    let mut probe = Probe::load(&ProbeOptions {
        samples: true,
        ..ProbeOptions::default()
    })
    .unwrap();
    let iterator = probe.take_task_iterator().expect("asked for");
    let mut events = Vec::new();
    println!("sampling, {processes} sleeping processes of ours, median of {rounds} rounds:");
    match iterator {
        Ok(mut iterator) => report(
            "eBPF task iterator",
            per_process_us(rounds, || {
                events.clear();
                iterator.round(clock::boottime_ns(), &mut events).unwrap();
                events.len()
            }),
        ),
        Err(why) => println!("  eBPF task iterator: cannot run: {why}"),
    }
    let mut samples = Vec::new();
    let mut kept = ProcSampler::new(usize::MAX);
    kept.round(&mut samples).unwrap();
    report(
        "/proc, stat files kept open",
        per_process_us(rounds, || {
            kept.round(&mut samples).unwrap();
            samples.len()
        }),
    );
    let mut reopened = ProcSampler::new(0);
    report(
        "/proc, stat files opened each round",
        per_process_us(rounds, || {
            reopened.round(&mut samples).unwrap();
            samples.len()
        }),
    );

    children.iter_mut().for_each(|c| c.kill().unwrap());
    children.iter_mut().for_each(|c| drop(c.wait()));
}
