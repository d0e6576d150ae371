//! `tree --check` and the model the UI keeps, after storms that wrap pids: neither has a
//! phantom or misses a process. Alone in its test binary: other tests loading and
//! unloading probes meanwhile are a load these tests should not also carry.

#[path = "common/running.rs"]
mod running;

use std::{
    process::{Command, Output},
    time::{Duration, Instant},
};

use forkwatch::{
    clock,
    event::{Kind, ProcessKey},
    proc::snapshot,
    source::ebpf::{Probe, ProbeOptions},
    tracker::{fidelity, model::Model},
};
use running::Running;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
const WORKLOAD: &str = env!("CARGO_BIN_EXE_forkwatch-workload");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn pid_max() -> u64 {
    let text = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap();
    text.trim().parse().unwrap()
}

/// One test at a time: a probe loaded while another test's probe reads a storm can make
/// the kernel skip that probe's exit events for a moment (seen here as a millisecond of
/// phantoms, with no loss counted), which is not what these tests are about.
static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn alone() -> std::sync::MutexGuard<'static, ()> {
    ALONE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs storms until they have forked more processes than there are pids, so that pids
/// have wrapped at least once; returns the storms' own pids.
fn storm_until_pids_wrap() -> Vec<u32> {
    let mut forks = 0;
    let mut storms = Vec::new();
    while forks <= pid_max() {
        let child = Command::new(WORKLOAD)
            .args(["storm", "--workers", "2", "--seconds", "3"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        storms.push(child.id());
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        forks += (report["forks"].as_array().unwrap().iter())
            .map(|n| n.as_u64().unwrap())
            .sum::<u64>();
    }
    storms
}

#[test]
fn tree_check_finds_no_difference_after_a_storm_that_wraps_pids() {
    let _alone = alone();
    let mut check = Running::start(&["tree", "--check", "--follow"]);
    check.wait_for("following events");
    storm_until_pids_wrap();
    // Quiet now: every storm has exited and reaped its children.
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(check.pid() as i32, libc::SIGINT) };
    let finished = check.finish();
    assert!(
        finished.status.success(),
        "{}{:?}",
        finished.stdout,
        finished.stderr
    );
    assert!(
        finished.stdout.starts_with("no difference: the model's "),
        "{}",
        finished.stdout
    );

    // And a model made after it, as `tree` makes one.
    let after = run(&["tree", "--check"]);
    let stdout = String::from_utf8_lossy(&after.stdout);
    assert!(after.status.success(), "{stdout}{}", stderr(&after));
    assert!(stdout.starts_with("no difference"), "{stdout}");
}

#[test]
fn the_model_the_ui_keeps_has_no_phantom_and_no_missing_process_after_a_storm() {
    let _alone = alone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // As the UI starts: the probe, then /proc, then the events.
        let mut probe = Probe::load(&ProbeOptions::default()).expect("the probe loads");
        let mut model = Model::default();
        model.seed(&snapshot::take().unwrap());
        let storms = std::thread::spawn(storm_until_pids_wrap);
        let mut batch = Vec::new();
        while !storms.is_finished() {
            let _ = tokio::time::timeout(Duration::from_millis(100), probe.next_batch(&mut batch))
                .await;
            batch.drain(..).for_each(|event| {
                model.apply(&event);
            });
        }
        apply_until_marker(&mut probe, &mut model).await;
        storms.join().unwrap();
        assert_eq!(
            model.counts().lost,
            0,
            "events were lost: the test proves nothing"
        );

        // Quiet: compare with /proc, having applied every event up to the end of the read.
        // Twice, as `tree --check` does: a process born as /proc is read may be in only one.
        let first = compare_with_proc(&mut probe, &mut model).await;
        let second = compare_with_proc(&mut probe, &mut model).await;
        let found = fidelity::in_both(&first, second);
        let clock = clock::WallClock::now();
        let lines: Vec<String> = found.iter().map(|d| d.line(&clock)).collect();
        assert!(lines.is_empty(), "{lines:#?}");
    });
}

/// Reads /proc, applies every event up to the end of the read, and compares.
async fn compare_with_proc(probe: &mut Probe, model: &mut Model) -> Vec<fidelity::Difference> {
    let read_from_ns = clock::boottime_ns();
    let now = snapshot::take().unwrap();
    apply_until_marker(probe, model).await;
    fidelity::compare(model, &now, read_from_ns)
}

/// Runs a marker process and applies events until its exit: every event before it is in.
async fn apply_until_marker(probe: &mut Probe, model: &mut Model) {
    let token = format!(
        "fw-tree-marker-{}-{}",
        std::process::id(),
        clock::boottime_ns()
    );
    let status = Command::new("sh").args(["-c", "exit 0", &token]).status();
    assert!(status.unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut batch = Vec::new();
    let mut marker = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        tokio::time::timeout(left, probe.next_batch(&mut batch))
            .await
            .expect("the marker's exit arrives")
            .unwrap();
        for event in batch.drain(..) {
            model.apply(&event);
            match &event.kind {
                Kind::Exec { argv, .. } if argv.iter().any(|a| a == token.as_bytes()) => {
                    marker = Some(ProcessKey::of(&event));
                }
                Kind::Exit(..) if marker == Some(ProcessKey::of(&event)) => return,
                _ => {}
            }
        }
    }
}
