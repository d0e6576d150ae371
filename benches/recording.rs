//! Recording and replay speed, and bytes per event, on a realistic mix: the events of
//! `assets/demo.fwrec` (a real `make -j2`), repeated with later times and new pids until
//! there are `BENCH_EVENTS` of them (default 1,000,000).
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
};

fn main() {
    let (info, snapshot, sample) = demo();
    let n: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let events = repeated(&sample, n);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.fwrec");
    record(&path, &info, &snapshot, &events);
    read_back(&path, n, &info);
}

/// The demo recording's start and events, and what it weighs.
fn demo() -> (Info, Vec<ProcessInfo>, Vec<Event>) {
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

/// `n` events: the `sample` again and again, each round later and with new pids.
fn repeated(sample: &[Event], n: usize) -> Vec<Event> {
    let span = sample.last().unwrap().ts_ns - sample[0].ts_ns + 1;
    (0..n)
        .map(|i| {
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
        })
        .collect()
}

/// Recording `events` to `path`: its speed and its bytes.
fn record(path: &Path, info: &Info, snapshot: &[ProcessInfo], events: &[Event]) {
    let n = events.len();
    let t0 = (Instant::now(), cpu_time());
    let recorder =
        Recorder::new(private_file::create(path).unwrap(), path, info, snapshot).unwrap();
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
    report("recording (queue, encode, compress, write)", n, t0);
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

/// CPU time this process has used: on a shared machine, wall time also counts the time
/// others had the CPU.
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
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
