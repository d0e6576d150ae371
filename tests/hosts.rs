//! Several hosts in one view: `replay A.fwrec B.fwrec` on two real recordings, the second
//! made in a UTS namespace of its own under another host name (`unshare -u`), both while
//! the same known processes ran, so the same pids are on both hosts.

#[path = "common/nobody.rs"]
#[allow(dead_code)]
mod nobody;
#[path = "common/program_copy.rs"]
mod program_copy;
#[allow(dead_code)]
#[path = "common/running.rs"]
mod running;

use std::{
    collections::HashMap,
    path::Path,
    process::{Command, Output},
};

use nobody::Nobody;
use running::Running;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");

/// `record -o file`, on another host name when `host` is given; ready.
fn record(file: &Path, host: Option<&str>) -> Running {
    let file = file.to_str().unwrap();
    let mut running = match host {
        Some(host) => {
            let mut command = Command::new("unshare");
            let script = r#"hostname "$0" && exec "$1" record -o "$2""#;
            command.args(["-u", "sh", "-c", script, host, BIN, file]);
            Running::spawn(command)
        }
        None => Running::start(&["record", "-o", file]),
    };
    running.wait_for("stop with Ctrl-C");
    running
}

/// Ctrl-C to a recorder, and the file given to nobody, who replays it (a replay run by
/// root reads as nobody).
fn stop(recorder: Running, file: &Path) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(recorder.pid() as i32, libc::SIGINT) };
    let done = recorder.finish();
    assert!(done.status.success(), "{:?}", done.stderr);
    std::os::unix::fs::chown(file, Some(nobody::UID), Some(nobody::UID)).unwrap();
}

fn replay(args: &[&Path], more: &[&str]) -> Output {
    let mut command = Command::new(BIN);
    command.arg("replay").args(args).args(more);
    command.output().unwrap()
}

fn json_lines(output: &Output) -> Vec<Value> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    (String::from_utf8_lossy(&output.stdout).lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Two recordings of this machine made at the same time, the second as host `other`,
/// while `sh -c 'sh -c "exit 5"; exit 3'` ran and a `sleep` held on throughout; the
/// sleep's pid.
struct Recorded {
    dir: Nobody,
    other: String,
    holder: u32,
    tree_root: u32,
}

fn two_hosts() -> Recorded {
    let dir = Nobody::with(&[]);
    let mut holder = Command::new("sleep").arg("1000").spawn().unwrap();
    let other = format!("fw-other-{}", std::process::id());
    let a = record(&dir.path("a.fwrec"), None);
    let b = record(&dir.path("b.fwrec"), Some(&other));
    let mut tree = Command::new("sh")
        .args(["-c", r#"sh -c "exit 5"; exit 3"#])
        .spawn()
        .unwrap();
    let tree_root = tree.id();
    assert_eq!(tree.wait().unwrap().code(), Some(3));
    stop(a, &dir.path("a.fwrec"));
    stop(b, &dir.path("b.fwrec"));
    let held = holder.id();
    holder.kill().unwrap();
    holder.wait().unwrap();
    Recorded {
        dir,
        other,
        holder: held,
        tree_root,
    }
}

/// The lines with each time moved back by `shift`.
fn unmoved(lines: &[&Value], shift: u64) -> Vec<Value> {
    let back = |v: &Value| v.as_u64().map(|t| t - shift);
    (lines.iter())
        .map(|line| {
            let mut line = (*line).clone();
            let object = line.as_object_mut().unwrap();
            object["ts_ns"] = back(&object["ts_ns"]).into();
            if object["start_ns"] != 0 {
                object["start_ns"] = back(&object["start_ns"]).into();
            }
            line
        })
        .collect()
}

#[test]
fn two_recordings_replay_as_one_view_each_line_naming_its_host_in_time_order() {
    let rec = two_hosts();
    let (a, b) = (rec.dir.path("a.fwrec"), rec.dir.path("b.fwrec"));
    let alone_a = json_lines(&replay(&[&a], &["--json"]));
    let alone_b = json_lines(&replay(&[&b], &["--json"]));
    let merged = json_lines(&replay(&[&a, &b], &["--json"]));
    let here = alone_a[0]["host"].as_str().unwrap().to_owned();
    assert_ne!(here, rec.other);
    assert!(alone_a.iter().all(|l| l["host"] == here.as_str()));
    assert!(alone_b.iter().all(|l| l["host"] == rec.other.as_str()));

    let hosts = [here.as_str(), rec.other.as_str()];
    let of = |host: &str| -> Vec<&Value> { merged.iter().filter(|l| l["host"] == host).collect() };
    let (on_a, on_b) = (of(hosts[0]), of(hosts[1]));
    assert_eq!(
        on_a.len() + on_b.len(),
        merged.len(),
        "a line without a known host"
    );
    // Each host's lines are its own replay's, its pids its own, its times moved by how
    // much later than the other it booted: nothing here, but the clocks are read apart.
    let shift = |on: &[&Value], alone: &[Value]| {
        on[0]["ts_ns"].as_u64().unwrap() - alone[0]["ts_ns"].as_u64().unwrap()
    };
    let (shift_a, shift_b) = (shift(&on_a, &alone_a), shift(&on_b, &alone_b));
    assert_eq!(shift_a.min(shift_b), 0);
    assert_eq!(unmoved(&on_a, shift_a), alone_a);
    assert_eq!(unmoved(&on_b, shift_b), alone_b);
    // Interleaved as a merge by time: each line is the earliest of the hosts' next lines.
    let mut next = [0, 0];
    let sides = [&on_a, &on_b];
    for line in &merged {
        let h = usize::from(line["host"] == hosts[1]);
        let other = sides[1 - h].get(next[1 - h]);
        let ts = line["ts_ns"].as_u64().unwrap();
        if let Some(other) = other {
            let other_ts = other["ts_ns"].as_u64().unwrap();
            assert!(
                ts < other_ts || ts == other_ts && h == 0,
                "{line} before {other}"
            );
        }
        next[h] += 1;
    }
    // The known tree ran once on the machine, so once on each host, with the same pids.
    let mut exits: Vec<(&str, u64)> = (merged.iter())
        .filter(|l| l["kind"] == "exit" && l["pid"] == rec.tree_root)
        .map(|l| {
            (
                l["host"].as_str().unwrap(),
                l["exit_code"].as_u64().unwrap(),
            )
        })
        .collect();
    exits.sort_by_key(|&(host, _)| host != hosts[0]);
    assert_eq!(exits, [(hosts[0], 3), (hosts[1], 3)]);

    // Text lines name the host when there are several, not when there is one.
    let text = replay(&[&a, &b], &["--text"]);
    let text = String::from_utf8_lossy(&text.stdout);
    let root = format!(" pid={} ", rec.tree_root);
    let of_root: Vec<&str> = text.lines().filter(|l| l.contains(&root)).collect();
    assert!(
        of_root
            .iter()
            .any(|l| l.contains(&format!(" host={here} "))),
        "{text}"
    );
    assert!(
        of_root
            .iter()
            .any(|l| l.contains(&format!(" host={} ", rec.other)))
    );
    let alone = replay(&[&a], &["--text"]);
    assert!(!String::from_utf8_lossy(&alone.stdout).contains(" host="));
}

#[test]
fn two_recordings_make_one_tree_with_a_root_per_host_and_a_pid_on_both_stays_two_processes() {
    let rec = two_hosts();
    let (a, b) = (rec.dir.path("a.fwrec"), rec.dir.path("b.fwrec"));
    let tree = replay(&[&a, &b], &["--tree-at", "+0s", "--json"]);
    let stderr = String::from_utf8_lossy(&tree.stderr);
    assert!(tree.status.success(), "{stderr}");
    let doc: Value = serde_json::from_slice(&tree.stdout).unwrap();
    let processes = doc["processes"].as_array().unwrap();
    // In tree order: each process is under the latest top-level row before it.
    let mut host = None;
    let mut under: HashMap<u64, Vec<String>> = HashMap::new();
    let mut tops = Vec::new();
    for p in processes {
        if p["depth"] == 0 {
            tops.push((
                p["pid"].as_u64().unwrap(),
                p["comm"].as_str().unwrap().to_owned(),
            ));
            host = p["argv"][0].as_str().map(str::to_owned);
            continue;
        }
        let host = host.clone().expect("a process before any host");
        assert_eq!(p["host"], host.as_str(), "{p}");
        under
            .entry(p["pid"].as_u64().unwrap())
            .or_default()
            .push(host);
    }
    let here = tops[0].1.clone();
    assert_eq!(
        tops,
        [(0, here.clone()), (0, rec.other.clone())],
        "{stderr}"
    );
    let both = vec![here.clone(), rec.other.clone()];
    assert_eq!(under[&1], both, "init is on each host, under it");
    assert_eq!(under[&u64::from(rec.holder)], both);
    let inits: Vec<&Value> = (processes.iter()).filter(|p| p["pid"] == 1).collect();
    assert!(
        inits.iter().all(|p| p["ppid"] == 0 && p["depth"] == 1),
        "{inits:?}"
    );

    // One recording alone has no host at the top.
    let alone = replay(&[&a], &["--tree-at", "+0s", "--json"]);
    let alone: Value = serde_json::from_slice(&alone.stdout).unwrap();
    let tops = alone["processes"].as_array().unwrap();
    assert!(tops.iter().all(|p| p["pid"] != 0), "{alone}");
    assert!(tops.iter().all(|p| p.get("host").is_none()), "{alone}");
}

#[test]
fn one_file_of_several_that_is_no_recording_or_damaged_is_one_line_naming_it() {
    let rec = two_hosts();
    let (a, b) = (rec.dir.path("a.fwrec"), rec.dir.path("b.fwrec"));
    let text = rec.dir.path("notes.txt");
    std::fs::write(&text, "not a recording\n").unwrap();
    let damaged = rec.dir.path("damaged.fwrec");
    let mut bytes = std::fs::read(&b).unwrap();
    // Inside the end frame's checksummed payload: damage after every event.
    let at = bytes.len() - 5;
    bytes[at] ^= 0xff;
    std::fs::write(&damaged, &bytes).unwrap();
    for path in [&text, &damaged] {
        std::os::unix::fs::chown(path, Some(nobody::UID), Some(nobody::UID)).unwrap();
    }
    let cases = [
        (&text, "not a forkwatch recording"),
        (&damaged, "damaged at byte"),
    ];
    for (bad, says) in cases {
        let out = replay(&[&a, bad], &["--json"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(lines[0].contains(bad.to_str().unwrap()), "{stderr}");
        assert!(lines[0].contains(says), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // With --skip-damage the damaged one goes on after its damage, and says so in the
    // exit status as one recording would.
    let out = replay(&[&a, &damaged], &["--json", "--skip-damage"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let named = format!("{} is damaged at byte", damaged.to_str().unwrap());
    assert!(stderr.contains(&named), "{stderr}");
    assert!(stderr.contains("going on after it"), "{stderr}");
    let hosts: std::collections::HashSet<String> = (String::from_utf8_lossy(&out.stdout).lines())
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["host"].to_string())
        .collect();
    assert_eq!(hosts.len(), 2, "{hosts:?}");
}

#[test]
fn events_json_lines_name_this_machine() {
    // SAFETY: an all-zero utsname is valid, and uname fills it, NUL-terminated.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::uname(&mut uts) }, 0);
    // SAFETY: uname NUL-terminated the name.
    let name = unsafe { std::ffi::CStr::from_ptr(uts.nodename.as_ptr()) };
    let here = name.to_str().unwrap();
    let mut events = Running::start(&["events", "--json", "--kinds", "exit"]);
    events.wait_for("stop with Ctrl-C");
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(events.pid() as i32, libc::SIGINT) };
    let done = events.finish();
    let exit = (done.stdout.lines())
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["pid"] == pid)
        .unwrap_or_else(|| panic!("no exit of {pid}: {}", done.stdout));
    assert_eq!(exit["host"], here, "{exit}");
}
