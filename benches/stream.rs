//! Streams (issue 15): what `record -o -` into a pipe costs the recorder against
//! `record -o FILE` under the same fork storm, and how fast and in how much memory a viewer
//! keeps up with a recorded storm piped into it (`cat FILE | replay - --json`, and the
//! UI's path: the replay of a spooled stream applied to the tracker's model).
//!
//! `cargo bench --bench stream` as root (the recorder loads the probe). `BENCH_SECONDS`:
//! each storm's length (default 5); `BENCH_ROUNDS` (default 3; 0 skips the recorder);
//! `BENCH_EVENTS`: the recorded storm the viewer is fed (default 1,000,000 events; memory
//! is also measured at four times that).
//!
//! Targets: a stream adds at most 10% to the recorder's CPU per 10,000 events; a viewer
//! keeps up with 200,000 events/s; its memory stays bounded however long the stream.

use std::{
    fs::File,
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use forkwatch::{
    private_file,
    recording::{Recorder, Speed, Stream},
    tracker::{Tracker, model::Model},
};

#[allow(dead_code)]
#[path = "../tests/common/demo_events.rs"]
mod demo_events;

use demo_events::{cpu_of, demo, repeated, setting, whole_processes};

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
const WORKLOAD: &str = env!("CARGO_BIN_EXE_forkwatch-workload");

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        recorder_cpu(dir.path());
    } else {
        println!("(not root: the recorder's CPU is not measured, as it loads the probe)");
    }
    let n = setting("BENCH_EVENTS", 1_000_000) as usize;
    for events in [n, 4 * n] {
        let path = dir.path().join(format!("storm-{events}.fwrec"));
        write_recording(&path, events);
        viewer(&path, events);
    }
}

/// `record -o -` into a pipe against `record -o FILE`, round after round of the same storm.
fn recorder_cpu(dir: &Path) {
    let seconds = setting("BENCH_SECONDS", 5);
    let rounds = setting("BENCH_ROUNDS", 3);
    if rounds == 0 {
        return;
    }
    println!("== recorder CPU per 10,000 events, {rounds} rounds of a {seconds} s storm");
    let (mut file_sum, mut stream_sum) = (0.0, 0.0);
    for round in 1..=rounds {
        let file = recorded(Some(&dir.join("storm.fwrec")), seconds);
        let stream = recorded(None, seconds);
        println!(
            "  round {round}: -o FILE {:.1} ms ({} events), -o - {:.1} ms ({} events)",
            file.0 * 1e3,
            file.1,
            stream.0 * 1e3,
            stream.1
        );
        file_sum += file.0;
        stream_sum += stream.0;
    }
    let rounds = rounds as f64;
    println!(
        "  mean: -o FILE {:.1} ms, -o - {:.1} ms per 10,000 events: the stream adds {:+.1}% \
         (target ≤ 10%)",
        file_sum / rounds * 1e3,
        stream_sum / rounds * 1e3,
        (stream_sum / file_sum - 1.0) * 100.0
    );
}

/// The recorder's CPU seconds per 10,000 events while a storm runs, recording to `file`
/// or into a pipe the bench reads; and the events it recorded.
fn recorded(file: Option<&Path>, seconds: u64) -> (f64, u64) {
    let mut command = Command::new(BIN);
    command.args(["record", "-o"]);
    match file {
        Some(file) => command.arg(file).stdout(Stdio::null()),
        None => command.arg("-").stdout(Stdio::piped()),
    };
    #[expect(clippy::zombie_processes, reason = "reaped below with waitpid")]
    let mut recorder = command.stderr(Stdio::piped()).spawn().unwrap();
    let drain = recorder.stdout.take().map(|mut out| {
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()).unwrap())
    });
    let mut said = BufReader::new(recorder.stderr.take().unwrap()).lines();
    let first = said.next().unwrap().unwrap();
    assert!(first.contains("recording with"), "{first}");
    let before = cpu_of(recorder.id());
    let storm = Command::new(WORKLOAD)
        .args(["storm", "--workers", "2", "--seconds", &seconds.to_string()])
        .output()
        .unwrap();
    assert!(storm.status.success());
    // The last events are flushed within the flush interval (1 s to a file).
    std::thread::sleep(Duration::from_millis(1100));
    let cpu = cpu_of(recorder.id()) - before;
    // SAFETY: signalling and reaping our own child.
    unsafe {
        libc::kill(recorder.id() as i32, libc::SIGINT);
        libc::waitpid(recorder.id() as i32, std::ptr::null_mut(), 0);
    }
    drain.map(|d| d.join().unwrap());
    let summary = said
        .map_while(Result::ok)
        .find(|l| l.contains("recorded "))
        .expect("the recorder's summary");
    let events = counted(&summary);
    (cpu / events as f64 * 10_000.0, events)
}

/// The number before `events` in a summary line.
fn counted(line: &str) -> u64 {
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "events").expect(line);
    words[at - 1].parse().expect(line)
}

/// A recording of `n` events of a real build's mix, as `record` writes it (keyframes too).
fn write_recording(path: &Path, n: usize) {
    let (info, snapshot, sample) = demo();
    let events = repeated(&whole_processes(&sample), n);
    let file = private_file::create(path).unwrap();
    let live = Model::for_keyframes(&snapshot);
    let recorder = Recorder::with_keyframes(file, path, &info, &snapshot, live).unwrap();
    for batch in events.chunks(256) {
        while recorder.backlog() > 100_000 {
            std::thread::sleep(Duration::from_micros(100));
        }
        recorder.record(batch.to_vec());
    }
    recorder.finish(events.last().unwrap().ts_ns).unwrap();
}

/// `cat FILE | replay - --json > /dev/null`: events/s and the viewer's peak memory, and
/// the same of `replay FILE --json` to compare; then the UI's path in this process.
fn viewer(path: &Path, n: usize) {
    println!("== a viewer fed a recorded storm of {n} events by cat");
    for piped in [true, false] {
        let (wall, peak_kib) = replayed(path, piped);
        let how = if piped {
            "cat FILE | replay - --json"
        } else {
            "replay FILE --json (no stream)"
        };
        println!(
            "  {how} > /dev/null: {:.0} events/s (target ≥ 200,000); peak RSS {:.1} MiB",
            n as f64 / wall.as_secs_f64(),
            peak_kib as f64 / 1024.0
        );
    }
    let (applied, wall, longest) = ui_path(path);
    assert_eq!(applied, n);
    println!(
        "  the UI's path (spooled replay at max speed, applied to the tracker): {:.0} events/s; \
         the longest batch kept the loop from keys {:.1} ms (target: keys answered within 100 ms)",
        n as f64 / wall.as_secs_f64(),
        longest.as_secs_f64() * 1e3
    );
}

/// `replay - --json` fed by `cat` of `path` when `piped`, else `replay FILE --json`, to
/// /dev/null: how long it took and its peak RSS in KiB.
fn replayed(path: &Path, piped: bool) -> (Duration, i64) {
    let mut command = Command::new(BIN);
    let mut cat = None;
    if piped {
        let mut child = Command::new("cat")
            .arg(path)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        command.stdin(child.stdout.take().unwrap());
        command.args(["replay", "-", "--json"]);
        cat = Some(child);
    } else {
        command.arg("replay").arg(path).arg("--json");
    }
    let started = Instant::now();
    #[expect(clippy::zombie_processes, reason = "reaped below with waitpid")]
    let viewer = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Sampled: the peak the kernel keeps (ru_maxrss, VmHWM) starts from this process's,
    // whose memory a spawned child shares until it executes.
    let mut peak_kib = 0;
    let mut status = 0;
    // SAFETY: polling and reaping our own child.
    while unsafe { libc::waitpid(viewer.id() as i32, &mut status, libc::WNOHANG) } == 0 {
        peak_kib = peak_kib.max(rss_kib(viewer.id()));
        std::thread::sleep(Duration::from_millis(2));
    }
    let wall = started.elapsed();
    if let Some(mut cat) = cat {
        cat.wait().unwrap();
    }
    assert_eq!(status, 0, "the replay failed");
    (wall, peak_kib)
}

/// The resident memory of `pid` now, in KiB (0 once it is gone).
fn rss_kib(pid: u32) -> i64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    (status.lines())
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The stream spooled from `path` and played at max speed into a tracker, as the UI's
/// loop applies batches: the events applied, the time it took, and the longest a batch
/// took to come and be applied (the loop takes keys between batches).
fn ui_path(path: &Path) -> (usize, Duration, Duration) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let started = Instant::now();
        let mut replay = Stream::spool(File::open(path).unwrap()).await.unwrap();
        replay.set_speed(Speed::Max);
        let mut model = Model::default();
        model.seed(replay.snapshot());
        let mut tracker = Tracker::new(model, replay.info().start_ns);
        let (mut batch, mut applied, mut longest) = (Vec::new(), 0, Duration::ZERO);
        let mut last = Instant::now();
        while replay.next_batch(&mut batch).await {
            tracker.apply(&batch);
            applied += batch.len();
            batch.clear();
            longest = longest.max(last.elapsed());
            last = Instant::now();
        }
        (applied, started.elapsed(), longest)
    })
}
