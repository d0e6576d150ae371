//! Reading is fair: a backend with more waiting than one batch hands over a bounded batch
//! and yields before the next, and under a fork storm that keeps every backend busy,
//! `events` still stops on SIGTERM, writes what it had and prints its summary.

#[path = "common/lines.rs"]
mod lines;

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
    backend::netlink,
    cli::LiveArgs,
    event::{Event, Kind},
    probe::{self, ProbeOptions},
    source::{BackendChoice, Source},
};
use lines::{lines, next_line};

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
    loop {
        let line = next_line(&stdout, "event of the storm");
        if line.contains("\"kind\":\"fork\"") && line.contains(&format!("\"ppid\":{storm_pid},")) {
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
    drop(stdout);
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
/// the workers' pids and how many children they made.
fn storm_at_least(forks: u64) -> (Vec<u32>, u64) {
    let (mut workers, mut made) = (Vec::new(), 0);
    while made < forks {
        let out = Command::new(WORKLOAD)
            .args(["storm", "--workers", "1", "--seconds", "0.3"])
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

fn exited(events: &[Event], pid: u32) -> bool {
    events
        .iter()
        .any(|e| e.pid == pid && matches!(e.kind, Kind::Exit(_)))
}

/// With more waiting than a batch takes (`batch` records or messages, each giving at
/// most `per_record` events), a batch is bounded, the next call yields before it reads
/// on, and the batches after bring the rest, none missing.
async fn reads_in_bounded_batches(backend: BackendChoice, batch: usize, per_record: usize) {
    let _alone = ONE_STORM.lock().await;
    let args = LiveArgs {
        backend,
        ..LiveArgs::default()
    };
    let (mut source, _) = Source::open_live(&args, &ProbeOptions::default()).unwrap();
    // A fork and an exit per child: more than two batches wait before anything is read.
    let (workers, made) = storm_at_least(batch as u64);
    let mut events = Vec::new();
    source.next_batch(&mut events).await.unwrap();
    let first = events.iter().filter(|e| e.lost_count() == 0).count();
    assert!(
        first > 0 && first <= batch * per_record,
        "{backend:?}: {first} events in one batch"
    );
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
    while !exited(&events, last) {
        tokio::time::timeout(Duration::from_secs(30), source.next_batch(&mut events))
            .await
            .expect("the storm's events arrive")
            .unwrap();
    }
    let lost: u64 = events.iter().map(Event::lost_count).sum();
    assert_eq!(lost, 0, "{backend:?}: the buffer holds the storm");
    let forks = events
        .iter()
        .filter(|e| e.kind == Kind::Fork && workers.contains(&e.ppid))
        .count() as u64;
    assert_eq!(forks, made, "{backend:?}");
}

#[tokio::test]
async fn ebpf_reads_in_bounded_batches() {
    reads_in_bounded_batches(BackendChoice::Ebpf, probe::BATCH_RECORDS, 1).await;
}

/// A message may give two events: a fork whose pid was reused also ends the old process.
#[tokio::test]
async fn netlink_reads_in_bounded_batches() {
    reads_in_bounded_batches(BackendChoice::Netlink, netlink::MAX_BATCH, 2).await;
}
