//! Loading recordings into ClickHouse (docs/clickhouse.md): `BENCH_EVENTS` events (default
//! 1,000,000) in two recordings of two host names, made of the events of
//! `assets/demo.fwrec` (a real `make -j2`) repeated with later times and new pids; each
//! printed with the release binary's `replay FILE --json --schema otel` and posted to a
//! ClickHouse server started as tests/clickhouse.rs starts it (`FORMAT JSONEachRow`).
//! Prints events per second overall, and split into forkwatch's JSON time and ClickHouse's
//! insert time (one after the other, so each is measured alone); then the same load piped,
//! the two overlapping, as `replay ... | curl -T -` runs.
//!
//! `cargo bench --bench clickhouse` (Debian's clickhouse-server; scripts/setup.sh installs
//! it).
//!
//! Target (issue 15): the load runs at 200,000 events/s or more.

#[path = "../tests/common/clickhouse.rs"]
mod clickhouse;
// Only its repeated demo serves here.
#[allow(dead_code)]
#[path = "../tests/common/demo_events.rs"]
mod demo_events;

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use clickhouse::ClickHouse;
use demo_events::{demo, repeated, setting};
use forkwatch::{
    event::Event,
    private_file,
    proc::snapshot::ProcessInfo,
    recording::{Info, Recorder},
};

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");

/// The INSERT every load sends its lines with.
const INSERT: &str = "INSERT INTO forkwatch_events FORMAT JSONEachRow";

fn main() {
    let (info, snapshot, sample) = demo();
    let n = setting("BENCH_EVENTS", 1_000_000) as usize;
    let dir = tempfile::tempdir().unwrap();
    let events = repeated(&sample, n);
    let files: Vec<PathBuf> = ["fleet-a", "fleet-b"]
        .into_iter()
        .zip(events.chunks(n.div_ceil(2)))
        .map(|(host, events)| {
            let path = dir.path().join(format!("{host}.fwrec"));
            let info = Info {
                host: host.to_owned(),
                ..info.clone()
            };
            record(&path, &info, &snapshot, events);
            path
        })
        .collect();

    let server = ClickHouse::start();
    server.run_script(clickhouse::SCHEMA);
    let (json, insert, bytes) = one_after_the_other(&server, &files);
    assert_eq!(rows(&server), n, "every event is a row");
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!(
        "{n} events, {:.0} bytes of JSON each: {:.0} events/s loaded \
         (target 200,000) in {:.2} s, one step after the other",
        bytes as f64 / n as f64,
        rate(json + insert),
        (json + insert).as_secs_f64()
    );
    println!(
        "  forkwatch's JSON (replay --json --schema otel into a file): {:.2} s, {:.0} events/s",
        json.as_secs_f64(),
        rate(json)
    );
    println!(
        "  ClickHouse's insert (the file, FORMAT JSONEachRow over HTTP): {:.2} s, {:.0} events/s",
        insert.as_secs_f64(),
        rate(insert)
    );

    server.query(b"DROP TABLE forkwatch_events");
    server.run_script(clickhouse::SCHEMA);
    let piped = piped(&server, &files);
    assert_eq!(rows(&server), n, "every event is a row");
    println!(
        "  piped (replay | the insert, as `| curl -T -`): {:.2} s, {:.0} events/s",
        piped.as_secs_f64(),
        rate(piped)
    );
}

/// `events` recorded to `path` as a recording made on `info`'s host.
fn record(path: &Path, info: &Info, snapshot: &[ProcessInfo], events: &[Event]) {
    let file = private_file::create(path).unwrap();
    let recorder = Recorder::new(file, path, info, snapshot).unwrap();
    for batch in events.chunks(4096) {
        // What the writer sustains, not what its queue holds (as the recording benchmark
        // waits): no event becomes a loss.
        while recorder.backlog() > 100_000 {
            std::thread::sleep(Duration::from_micros(100));
        }
        recorder.record(batch.to_vec());
    }
    assert_eq!(recorder.unqueued(), 0, "events recorded as lost");
    recorder.finish(events.last().unwrap().ts_ns).unwrap();
}

/// Each recording's JSON into a file, then the file into ClickHouse: the time of each
/// step, and the bytes of JSON.
fn one_after_the_other(server: &ClickHouse, files: &[PathBuf]) -> (Duration, Duration, u64) {
    let (mut json, mut insert, mut bytes) = (Duration::ZERO, Duration::ZERO, 0);
    for file in files {
        let lines = file.with_extension("jsonl");
        let t = Instant::now();
        otel_json(file, &lines);
        json += t.elapsed();
        bytes += std::fs::metadata(&lines).unwrap().len();
        let t = Instant::now();
        server.insert(INSERT, File::open(&lines).unwrap());
        insert += t.elapsed();
        std::fs::remove_file(&lines).unwrap();
    }
    (json, insert, bytes)
}

/// Each recording's JSON sent to ClickHouse while it is written.
fn piped(server: &ClickHouse, files: &[PathBuf]) -> Duration {
    let t = Instant::now();
    for file in files {
        server.load_replay(BIN, file);
    }
    t.elapsed()
}

fn rows(server: &ClickHouse) -> usize {
    let count = server.query(b"SELECT count() FROM forkwatch_events");
    count.trim().parse().unwrap()
}

/// `replay FILE --json --schema otel`'s lines, written to `lines`.
fn otel_json(file: &Path, lines: &Path) {
    let out = File::create(lines).unwrap();
    let status = Command::new(BIN)
        .arg("replay")
        .arg(file)
        .args(["--json", "--schema", "otel"])
        .stdout(out)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}
