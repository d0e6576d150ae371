//! The CPU time one /proc poll costs (`cargo bench --bench procfs_poll`): starts 1,000
//! sleeping processes, then times polls in which nothing changes (the usual case) and polls
//! that find 100 new processes. `-- --processes N --polls N` change the numbers.

use std::{
    process::{Child, Command},
    time::Duration,
};

use forkwatch::source::procfs::{DEFAULT_INTERVAL, Procfs};

/// CPU time of this thread, in nanoseconds.
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

/// Median and mean, in milliseconds.
fn summary(mut ns: Vec<u64>) -> String {
    ns.sort_unstable();
    let mean = ns.iter().sum::<u64>() as f64 / ns.len() as f64;
    format!(
        "median {:.2} ms, mean {:.2} ms",
        ns[ns.len() / 2] as f64 / 1e6,
        mean / 1e6
    )
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let processes = option("--processes", 1000);
    let polls = option("--polls", 50);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _context = runtime.enter();

    let mut children = sleepers(processes);
    let mut poller = Procfs::open(DEFAULT_INTERVAL).unwrap();
    let total = std::fs::read_dir("/proc")
        .unwrap()
        .filter(|e| {
            e.as_ref().is_ok_and(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| n.parse::<u32>().is_ok())
            })
        })
        .count();

    let mut events = Vec::new();
    let mut quiet = Vec::new();
    for _ in 0..polls {
        let start = thread_cpu_ns();
        poller.poll(&mut events).unwrap();
        quiet.push(thread_cpu_ns() - start);
        events.clear();
        std::thread::sleep(Duration::from_millis(10));
    }

    let mut busy = Vec::new();
    for _ in 0..polls.min(10) {
        let mut new = sleepers(100);
        let start = thread_cpu_ns();
        poller.poll(&mut events).unwrap();
        busy.push(thread_cpu_ns() - start);
        events.clear();
        new.iter_mut().for_each(|c| c.kill().unwrap());
        new.iter_mut().for_each(|c| drop(c.wait()));
        poller.poll(&mut events).unwrap();
        events.clear();
    }

    children.iter_mut().for_each(|c| c.kill().unwrap());
    children.iter_mut().for_each(|c| drop(c.wait()));
    println!("procfs poll, {total} processes in /proc ({processes} of them ours), {polls} polls:");
    println!("  nothing changed: {} CPU per poll", summary(quiet));
    println!("  100 new processes: {} CPU per poll", summary(busy));
}
