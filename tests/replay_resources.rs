//! What processes cost, recorded and replayed: a busy process and one holding 200 MiB are
//! recorded with their samples; an ordinary user replaying the file reads, at a moment and
//! again after seeking back to an earlier one, the CPU share and memory the live samples
//! gave at that moment.

#[path = "common/nobody.rs"]
mod nobody;
#[path = "common/program_copy.rs"]
mod program_copy;

use std::{
    io::{BufRead, BufReader},
    os::unix::fs::PermissionsExt,
    process::{Child, Command, Stdio},
};

use forkwatch::event::{Event, Kind};
use nobody::Nobody;

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");
const WORKLOAD: &str = env!("CARGO_BIN_EXE_forkwatch-workload");

/// `forkwatch-workload ARGS`, running until dropped; waits for `ready` on its stdout.
fn workload(args: &[&str], ready: Option<&str>) -> Child {
    let mut child = Command::new(WORKLOAD)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(ready) = ready {
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        assert!(line.starts_with(ready), "{line}");
    }
    child
}

/// The replay's output as the ordinary user: the copy of the binary on the copy of the
/// recording, with `args` after it.
fn replay(user: &Nobody, args: &[&str]) -> String {
    let out = user
        .command(&[], "forkwatch-tui")
        .arg("replay")
        .arg(user.path("busy.fwrec"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `(cpu_permille, rss_bytes)` of `pid` in `replay --tree-at` JSON.
fn shown(tree: &str, pid: u32) -> (Option<u64>, Option<u64>) {
    let tree: serde_json::Value = serde_json::from_str(tree).unwrap();
    let processes = tree["processes"].as_array().unwrap();
    let p = processes.iter().find(|p| p["pid"] == pid).unwrap();
    (p["cpu_permille"].as_u64(), p["rss_bytes"].as_u64())
}

#[test]
fn a_replay_shows_the_cpu_and_memory_recorded_at_each_moment_also_after_a_seek_back() {
    let mut spin = workload(&["spin"], None);
    let mut touch = workload(&["touch", "200"], Some("touched"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("busy.fwrec");
    let recorded = Command::new(BIN)
        .args([
            "record",
            "--duration",
            "4.5",
            "--sample-interval",
            "1",
            "-o",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(recorded.status.success(), "{recorded:?}");
    drop((spin.stdin.take(), touch.stdin.take()));
    let _ = (spin.kill(), spin.wait(), touch.wait());

    // A recording is root's and private: the user gets a copy of their own to read.
    let user = Nobody::with(&[BIN]);
    std::fs::copy(&file, user.path("busy.fwrec")).unwrap();
    std::fs::set_permissions(user.path("busy.fwrec"), PermissionsExt::from_mode(0o644)).unwrap();

    let samples: Vec<Event> = replay(&user, &["--json", "--kinds", "sample"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|e: &Event| e.pid == spin.id())
        .collect();
    assert!(samples.len() >= 3, "{samples:?}");
    let at = |i: usize| match samples[i].kind {
        Kind::Sample(s) => (samples[i].ts_ns, s.cpu_ns, s.rss_bytes),
        _ => unreachable!(),
    };
    // What the live view computed once sample `i` came: the share since the one before.
    let live = |i: usize| {
        let ((t0, c0, _), (t1, c1, rss)) = (at(i - 1), at(i));
        ((c1 - c0) * 1000 / (t1 - t0), rss)
    };

    let start: serde_json::Value =
        serde_json::from_str(&replay(&user, &["--tree-at", "+0s", "--json"])).unwrap();
    let start_ns = start["at_ns"].as_u64().unwrap();
    // Just after sample `i`, as an offset from the recording's start.
    let after = |i: usize| format!("+{}ms", (at(i).0 - start_ns) / 1_000_000 + 1);

    let last = samples.len() - 1;
    let late = shown(
        &replay(&user, &["--tree-at", &after(last), "--json"]),
        spin.id(),
    );
    let (cpu, rss) = live(last);
    assert_eq!(late, (Some(cpu), Some(rss)));
    assert!(cpu >= 800, "a busy loop uses most of a CPU: {cpu}‰");

    // A seek back lands on that moment's values, not the latest.
    let early = shown(
        &replay(&user, &["--tree-at", &after(1), "--json"]),
        spin.id(),
    );
    assert_eq!(early, (Some(live(1).0), Some(live(1).1)));
    assert_ne!(
        at(1).1,
        at(last).1,
        "the CPU time grew between the two moments"
    );

    // The 200 MiB child is recorded with them resident.
    let touched = shown(
        &replay(&user, &["--tree-at", &after(last), "--json"]),
        touch.id(),
    );
    let rss = touched.1.unwrap();
    assert!((190 << 20..230 << 20).contains(&rss), "{rss} bytes");
}
