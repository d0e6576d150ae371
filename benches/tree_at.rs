//! The tree at a moment of a large recording (`replay FILE --tree-at TIME`): how long it
//! takes from the nearest keyframe, and from the start for comparison. The recording is
//! the events of the processes that start and end in `assets/demo.fwrec` (a real
//! `make -j2`) repeated with later times and new pids, written as `record` writes
//! (keyframes included), until it holds `BENCH_BYTES` (default 1 GiB).
//!
//! `cargo bench --bench tree_at`
//!
//! Target (issue 14): at most 2 s on a 1 GB recording.

// Some of it serves the recording benchmark only.
#[allow(dead_code)]
#[path = "../tests/common/demo_events.rs"]
mod demo_events;

use std::{path::Path, time::Instant};

use demo_events::{demo, nth_repeated, whole_processes};
use forkwatch::{
    cmd, private_file,
    recording::{Recorder, Replay},
    tracker::model::Model,
};

fn main() {
    let bytes: u64 = std::env::var("BENCH_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1 << 30);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.fwrec");
    let (start_ns, end_ns) = write(&path, bytes);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let span = end_ns - start_ns;
    for (what, at_ns) in [
        ("a third in", start_ns + span / 3),
        ("two thirds in", start_ns + span / 3 * 2),
        ("at the end", end_ns),
    ] {
        runtime.block_on(tree_at(&path, what, at_ns, true));
    }
    runtime.block_on(tree_at(&path, "a third in", start_ns + span / 3, false));
}

/// Writes a recording of at least `bytes`; returns its start and end times.
fn write(path: &Path, bytes: u64) -> (u64, u64) {
    let (info, snapshot, sample) = demo();
    let sample = whole_processes(&sample);
    let t0 = Instant::now();
    let file = private_file::create(path).unwrap();
    let keyframes = Model::for_keyframes(&snapshot);
    let recorder = Recorder::with_keyframes(file, path, &info, &snapshot, keyframes).unwrap();
    let (mut i, mut last_ns) = (0, 0);
    // The file size is checked now and then: it grows by whole frames.
    while i % 1_000_000 != 0 || std::fs::metadata(path).unwrap().len() < bytes {
        while recorder.backlog() > 100_000 {
            std::thread::sleep(std::time::Duration::from_micros(100));
        }
        let batch: Vec<_> = (i..i + 256).map(|n| nth_repeated(&sample, n)).collect();
        last_ns = batch.last().unwrap().ts_ns;
        recorder.record(batch);
        i += 256;
    }
    let summary = recorder.finish(last_ns).unwrap();
    println!(
        "wrote {} events, {:.2} GiB, in {:.1} s",
        i,
        summary.bytes as f64 / f64::from(1 << 30),
        t0.elapsed().as_secs_f64()
    );
    (info.start_ns, last_ns)
}

/// The live processes at `at_ns`: as `replay --tree-at` builds them (from the nearest
/// keyframe), or from the start for comparison.
async fn tree_at(path: &Path, what: &str, at_ns: u64, from_keyframe: bool) {
    let t0 = Instant::now();
    let mut replay = Replay::open(path).unwrap();
    let opened = t0.elapsed();
    let model = if from_keyframe {
        cmd::tree::model_at(&mut replay, at_ns).await.unwrap()
    } else {
        let mut model = Model::default();
        model.seed(replay.snapshot());
        replay.seek(at_ns).unwrap();
        let mut batch = Vec::new();
        while replay.is_seeking() {
            replay.next_batch(&mut batch).await;
            batch.drain(..).for_each(|e| {
                model.apply(&e);
            });
        }
        model
    };
    let alive = model.live_processes().len();
    println!(
        "tree {what}, {}: {:.3} s ({:.3} s opening), at event {} of {}, {alive} processes \
         alive",
        if from_keyframe {
            "from the nearest keyframe"
        } else {
            "from the start"
        },
        t0.elapsed().as_secs_f64(),
        opened.as_secs_f64(),
        replay.position().events,
        replay.position().total_events,
    );
}
