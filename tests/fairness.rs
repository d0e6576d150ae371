//! Reading is fair: a backend with more waiting than one batch hands over a bounded batch
//! and yields before the next, and under a fork storm that keeps every backend busy,
//! `events` still stops on SIGTERM, writes what it had and prints its summary.

#[path = "common/lines.rs"]
mod lines;
// Its reading until an event came serves other tests only.
#[allow(dead_code)]
#[path = "common/live.rs"]
mod live;

use std::{
    future::Future,
    os::unix::process::CommandExt,
    pin::pin,
    process::{Child, Command, Stdio},
    sync::mpsc::RecvTimeoutError,
    task::Poll,
    time::Duration,
};

use forkwatch::{
    event::{Event, Kind},
    source::{BackendChoice, Feed, Source, ebpf, netlink},
};
use lines::{lines, next_line};
use live::exited;

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
const WORKLOAD: &str = env!("CARGO_BIN_EXE_forkwatch-workload");

/// One storm at a time: two at once could overflow the buffers that the tests count on
/// to hold one.
static ONE_STORM: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The fork storm on every CPU, in a process group of its own; killed with its workers
/// when dropped.
struct Storm(Child);

impl Storm {
    fn start() -> Self {
        let cpus = std::thread::available_parallelism().unwrap().to_string();
        let child = Command::new(WORKLOAD)
            .args(["storm", "--workers", &cpus, "--seconds", "600"])
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        Self(child)
    }
}

impl Drop for Storm {
    fn drop(&mut self) {
        // SAFETY: signalling the process group this test made.
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

fn stops_on_sigterm_under_a_storm(backend: &str) {
    let _alone = ONE_STORM.blocking_lock();
    let mut events = Command::new(BIN)
        .args([
            "--log",
            "/dev/null",
            "events",
            "--json",
            "--backend",
            backend,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = lines(events.stderr.take().unwrap());
    let stdout = lines(events.stdout.take().unwrap());
    let started = next_line(&stderr, "start-up line");
    assert!(started.contains("watching with "), "{started}");
    let storm = Storm::start();
    let storm_pid = storm.0.id();
    // Events of the storm flow: its workers' forks are being written.
    let mut written = Vec::new();
    loop {
        let line = next_line(&stdout, "event of the storm");
        let fork = line.contains("\"kind\":\"fork\"");
        let of_storm = line.contains(&format!("\"ppid\":{storm_pid},"));
        written.push(line);
        if fork && of_storm {
            break;
        }
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(events.id() as i32, libc::SIGTERM) };
    // Its stdout is read to the end on a thread meanwhile, so the pipe never fills.
    let mut rest = Vec::new();
    loop {
        match stderr.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => rest.push(line),
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                let _ = events.kill();
                panic!("{backend}: still running 30 s after SIGTERM: {rest:?}");
            }
        }
    }
    let status = events.wait().unwrap();
    drop(storm);
    assert!(status.success(), "{backend}: {status:?} {rest:?}");
    let summary = rest.last().expect("a summary line");
    assert!(
        summary.starts_with("forkwatch-tui: ") && summary.contains(" events (fork "),
        "{backend}: {summary}"
    );
    // Everything it counted was written: the summary's events are the lines on stdout
    // (loss reports are lines too, but not events).
    written.extend(stdout.iter());
    let events = written
        .iter()
        .filter(|l| !l.contains("\"kind\":\"lost\""))
        .count();
    assert!(
        summary.starts_with(&format!("forkwatch-tui: {events} events (")),
        "{backend}: {events} lines written, {summary}"
    );
}

#[test]
fn ebpf_events_stop_on_sigterm_under_a_storm() {
    stops_on_sigterm_under_a_storm("ebpf");
}

#[test]
fn netlink_events_stop_on_sigterm_under_a_storm() {
    stops_on_sigterm_under_a_storm("netlink");
}

#[test]
fn procfs_events_stop_on_sigterm_under_a_storm() {
    stops_on_sigterm_under_a_storm("procfs");
}

/// Runs the fork storm (one worker) until it has made at least `forks` children; returns
/// the workers' pids and how many children they made. Short storms, so that what waits
/// is little more than asked for.
fn storm_at_least(forks: u64) -> (Vec<u32>, u64) {
    let (mut workers, mut made) = (Vec::new(), 0);
    while made < forks {
        let out = Command::new(WORKLOAD)
            .args(["storm", "--workers", "1", "--seconds", "0.05"])
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let counts = report["forks"].as_array().unwrap();
        for (pid, count) in report["workers"].as_array().unwrap().iter().zip(counts) {
            workers.push(pid.as_u64().unwrap() as u32);
            made += count.as_u64().unwrap();
        }
    }
    (workers, made)
}

fn lost(events: &[Event]) -> bool {
    events.iter().any(|e| e.lost_count() > 0)
}

/// With more waiting than a batch takes (`batch` records or messages, each giving at
/// most `per_record` events), a batch is bounded, the next call yields before it reads
/// on, and the batches after bring the rest, none missing.
///
/// The source sees every process of the machine, so other tests' and users' events can
/// overflow its buffer too: an attempt that lost events still proves the bounds, but
/// cannot count the storm's forks, and is made again.
async fn reads_in_bounded_batches(backend: BackendChoice, batch: usize, per_record: usize) {
    let _alone = ONE_STORM.lock().await;
    let mut source = live::open(backend);
    for _ in 0..3 {
        if storm_in_bounded_batches(&mut source, backend, batch, batch * per_record).await {
            return;
        }
    }
    panic!("{backend:?}: events were lost in each of 3 attempts");
}

/// Reads one batch; asserts it holds at most `bound` events but loss reports, and returns
/// how many it holds.
async fn bounded_batch(
    source: &mut Source,
    events: &mut Vec<Event>,
    backend: BackendChoice,
    bound: usize,
) -> usize {
    let before = events.len();
    tokio::time::timeout(Duration::from_secs(30), source.next_batch(events))
        .await
        .expect("events arrive")
        .unwrap();
    let got = events[before..]
        .iter()
        .filter(|e| e.lost_count() == 0)
        .count();
    assert!(got <= bound, "{backend:?}: {got} events in one batch");
    got
}

/// One attempt of [`reads_in_bounded_batches`]; false if events were lost.
async fn storm_in_bounded_batches(
    source: &mut Source,
    backend: BackendChoice,
    batch: usize,
    bound: usize,
) -> bool {
    let mut events = Vec::new();
    // First what waits from before, up to a marker's exit (or a loss: then what waits is
    // unknown, and this attempt will not count).
    let mut marker = Command::new("/bin/true").spawn().unwrap();
    marker.wait().unwrap();
    while !exited(&events, marker.id()) && !lost(&events) {
        bounded_batch(source, &mut events, backend, bound).await;
    }
    events.clear();
    // A fork and an exit per child: more than two batches wait before anything is read.
    let (workers, made) = storm_at_least(batch as u64);
    // Reports of what the buffer lost meanwhile may come alone.
    while bounded_batch(source, &mut events, backend, bound).await == 0 {}
    // The next call gives the runtime a turn before it reads on.
    {
        let mut next = pin!(source.next_batch(&mut events));
        let first_poll = std::future::poll_fn(|cx| Poll::Ready(next.as_mut().poll(cx))).await;
        assert!(
            first_poll.is_pending(),
            "{backend:?}: read on without yielding"
        );
        next.await.unwrap();
    }
    let last = *workers.last().unwrap();
    while !exited(&events, last) && !lost(&events) {
        bounded_batch(source, &mut events, backend, bound).await;
    }
    if lost(&events) {
        return false;
    }
    let forks = events
        .iter()
        .filter(|e| e.kind == Kind::Fork && workers.contains(&e.ppid))
        .count() as u64;
    assert_eq!(forks, made, "{backend:?}");
    true
}

#[tokio::test]
async fn ebpf_reads_in_bounded_batches() {
    reads_in_bounded_batches(BackendChoice::Ebpf, ebpf::BATCH_RECORDS, 1).await;
}

/// A message may give two events: a fork whose pid was reused also ends the old process.
#[tokio::test]
async fn netlink_reads_in_bounded_batches() {
    reads_in_bounded_batches(BackendChoice::Netlink, netlink::MAX_BATCH, 2).await;
}
