//! Recording and replay speed, and bytes per event, on a realistic mix: the events of
//! `assets/demo.fwrec` (a real `make -j2`), repeated with later times and new pids until
//! there are `BENCH_EVENTS` of them (default 1,000,000); with `--whole`, only the events of
//! the processes that start and end in it (so that a model, which keyframes need, does not
//! gather processes that never end, whose parents it never saw). Recording is measured
//! without keyframes and with them, as `record` writes.
//!
//! `cargo bench --bench recording`
//!
//! Targets (issue 6): recording sustains 200,000 events/s; headless replay reads
//! 2,000,000 events/s.

use std::{
    io,
    path::Path,
    time::{Duration, Instant},
};

use forkwatch::{
    event::{Event, EventWriter, KindSet},
    private_file,
    proc::snapshot::ProcessInfo,
    recording::{Info, Reader, Recorder, Replay, Speed},
    source::Feed,
    tracker::model::Model,
};

// All but `cpu_of`, for benchmarks that run a process, serve here.
#[allow(dead_code)]
#[path = "../tests/common/demo_events.rs"]
mod demo_events;

use demo_events::{cpu_time, demo, repeated, setting, whole_processes};

fn main() {
    let (info, snapshot, sample) = demo();
    let n = setting("BENCH_EVENTS", 1_000_000) as usize;
    let sample = if std::env::args().any(|a| a == "--whole") {
        whole_processes(&sample)
    } else {
        sample
    };
    let events = repeated(&sample, n);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.fwrec");
    record(&path, &info, &snapshot, &events, false);
    record(&path, &info, &snapshot, &events, true);
    read_back(&path, n, &info);
}

/// Recording `events` to `path`, with keyframes as `record` writes them (their model runs
/// on the writing thread) or without: its speed and its bytes.
fn record(path: &Path, info: &Info, snapshot: &[ProcessInfo], events: &[Event], keyframes: bool) {
    let n = events.len();
    let t0 = (Instant::now(), cpu_time());
    let file = private_file::create(path).unwrap();
    let recorder = if keyframes {
        let live = Model::for_keyframes(snapshot);
        Recorder::with_keyframes(file, path, info, snapshot, live)
    } else {
        Recorder::new(file, path, info, snapshot)
    };
    let recorder = recorder.unwrap();
    let mut event_path = Duration::ZERO;
    for batch in events.chunks(256) {
        // What the writer sustains, not what its queue holds: a batch waits while the
        // queue is deep, far below the byte budget that would turn events into losses.
        while recorder.backlog() > 100_000 {
            std::thread::sleep(Duration::from_micros(100));
        }
        // The copy is the caller's: a live source hands over its batch.
        let batch = batch.to_vec();
        let t = Instant::now();
        recorder.record(batch);
        event_path += t.elapsed();
    }
    assert_eq!(recorder.unqueued(), 0, "events recorded as lost");
    let summary = recorder.finish(events.last().unwrap().ts_ns).unwrap();
    let with = if keyframes {
        "with keyframes"
    } else {
        "without keyframes"
    };
    report(
        &format!("recording {with} (queue, encode, compress, write)"),
        n,
        t0,
    );
    println!(
        "  of which on the event path (Recorder::record): {:.0} ns per event",
        event_path.as_nanos() as f64 / n as f64
    );
    println!(
        "  {} bytes: {:.2} bytes per event",
        summary.bytes,
        summary.bytes as f64 / n as f64
    );
}

/// Reading the recording at `path` back, as a reader, a replay and `replay --json`.
fn read_back(path: &Path, n: usize, info: &Info) {
    let t0 = (Instant::now(), cpu_time());
    let mut reader = Reader::open(path).unwrap();
    let mut batch = Vec::new();
    let mut read = 0;
    while reader.next_batch(&mut batch).unwrap() {
        read += batch.len();
        batch.clear();
    }
    assert_eq!(read, n);
    report("reading (Reader::next_batch)", n, t0);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t0 = (Instant::now(), cpu_time());
    let mut replay = Replay::open(path).unwrap();
    replay.set_speed(Speed::Max);
    let mut read = 0;
    runtime.block_on(async {
        while Feed::next_batch(&mut replay, &mut batch).await.unwrap() {
            read += batch.len();
            batch.clear();
        }
    });
    assert_eq!(read, n);
    report("replay source at max speed (Feed::next_batch)", n, t0);

    let t0 = (Instant::now(), cpu_time());
    let mut reader = Reader::open(path).unwrap();
    let mut writer = EventWriter::new(io::sink(), true, KindSet::ALL, info.wall_clock());
    while reader.next_batch(&mut batch).unwrap() {
        batch.drain(..).for_each(|e| writer.write(&e).unwrap());
    }
    writer.flush().unwrap();
    report("replay --json to a sink (read, format)", n, t0);
}

/// Prints events per second of wall time and per second of CPU time since `(wall, cpu)`.
fn report(what: &str, n: usize, (wall, cpu): (Instant, Duration)) {
    let (wall, cpu) = (wall.elapsed(), cpu_time() - cpu);
    println!(
        "{what}: {n} events in {:.3} s = {:.0} events/s ({:.0} per CPU-second)",
        wall.as_secs_f64(),
        n as f64 / wall.as_secs_f64(),
        n as f64 / cpu.as_secs_f64()
    );
}
