//! The events of `assets/demo.fwrec` (a real `make -j2`) repeated into a session as long
//! as a benchmark wants, and the CPU time a benchmark or a process it runs takes: for the
//! benchmarks.

use std::{path::Path, time::Duration};

use forkwatch::{
    event::{Event, KindName},
    proc::snapshot::ProcessInfo,
    recording::{Info, Reader},
};

/// The demo recording's start and events, and what it weighs.
pub fn demo() -> (Info, Vec<ProcessInfo>, Vec<Event>) {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo.fwrec");
    let mut reader = Reader::open(&demo).expect("assets/demo.fwrec");
    let (info, snapshot) = (reader.info().clone(), reader.snapshot().to_vec());
    let mut sample = Vec::new();
    while reader.next_batch(&mut sample).expect("the demo is intact") {}
    let demo_bytes = std::fs::metadata(&demo).unwrap().len();
    println!(
        "demo recording: {} events, {} processes in the snapshot, {demo_bytes} bytes, \
         {:.1} bytes per event with the snapshot",
        sample.len(),
        snapshot.len(),
        demo_bytes as f64 / sample.len() as f64
    );
    (info, snapshot, sample)
}

/// The events of the processes that start and end in `sample`: repeated, the others would
/// be new processes that never end in every round (their parents unknown to a model, too),
/// which no real session has.
pub fn whole_processes(sample: &[Event]) -> Vec<Event> {
    let whole = |pid| {
        let has = |kind: KindName| sample.iter().any(|e| e.pid == pid && e.kind_name() == kind);
        has(KindName::Fork) && has(KindName::Exit)
    };
    sample.iter().filter(|e| whole(e.pid)).cloned().collect()
}

/// `n` events: the `sample` again and again, each round later and with new pids.
pub fn repeated(sample: &[Event], n: usize) -> Vec<Event> {
    (0..n).map(|i| nth_repeated(sample, i)).collect()
}

/// The `i`th of them.
pub fn nth_repeated(sample: &[Event], i: usize) -> Event {
    let span = sample.last().unwrap().ts_ns - sample[0].ts_ns + 1;
    let mut e = sample[i % sample.len()].clone();
    let round = (i / sample.len()) as u64;
    let shift = span * round;
    e.ts_ns += shift;
    e.start_ns += shift;
    // New pids each round, as a long session has, keeping parents and children.
    let pid_shift = (round * 211 % 30_000) as u32;
    for pid in [&mut e.pid, &mut e.tid, &mut e.ppid] {
        if *pid > 1 {
            *pid = (*pid + pid_shift) % 32_768;
        }
    }
    e
}

/// CPU time this process has used: on a shared machine, wall time also counts the time
/// others had the CPU.
pub fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU seconds the threads of process `pid` have run so far, from
/// /proc/PID/task/*/schedstat (nanoseconds): the clock ticks of /proc/PID/stat (10 ms) are
/// too coarse for the tenth of a second a storm costs a monitor.
pub fn cpu_of(pid: u32) -> f64 {
    let ns: u64 = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split(' ').next()?.parse::<u64>().ok())
        .sum();
    ns as f64 / 1e9
}

/// The number in the environment variable `name` (BENCH_EVENTS, say), else `default`.
pub fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
