use serde_json::Value;

use super::*;
use crate::event::{Argv, Creds};

const MS: u64 = 1_000_000;
const ORIGIN: u64 = 1_000 * MS;

fn event(pid: u32, ppid: u32, start_ms: u64, ts_ms: u64, kind: Kind) -> Event {
    Event {
        ts_ns: ts_ms * MS,
        pid,
        tid: pid,
        ppid,
        start_ns: start_ms * MS,
        comm: Comm::from("sh"),
        creds: Some(Creds::default()),
        cgroup_id: None,
        pid_ns: None,
        cgroup: None,
        kernel_thread: false,
        kind,
    }
}

fn exec(pid: u32, ppid: u32, start_ms: u64, ts_ms: u64, argv: Argv) -> Event {
    let kind = Kind::Exec {
        filename: "/bin/x".into(),
        argv,
        argv_truncated: false,
        filename_truncated: false,
        argv_unreadable: false,
    };
    event(pid, ppid, start_ms, ts_ms, kind)
}

fn init() -> ProcessInfo {
    ProcessInfo {
        pid: 1,
        ppid: 0,
        start_ns: 10 * MS,
        comm: Comm::from("init"),
        argv: Argv::from_args(["/sbin/init"]),
        argv_truncated: false,
        creds: Creds::default(),
        state: 'S',
        kernel_thread: false,
        threads: 1,
        pid_ns: None,
        cgroup: None,
        sampled: None,
    }
}

/// The trace of `events` after a snapshot of init, ended at 5 s, as JSON.
fn trace_of(events: &[Event]) -> Vec<Value> {
    trace_from(&[init()], events)
}

/// The trace of `events` after `snapshot`, ended at 5 s, as JSON.
fn trace_from(snapshot: &[ProcessInfo], events: &[Event]) -> Vec<Value> {
    let info = Info {
        start_ns: ORIGIN,
        ..Info::default()
    };
    let mut out = Vec::new();
    let mut trace = Trace::start(&mut out, &info, snapshot).unwrap();
    for e in events {
        trace.event(e).unwrap();
    }
    trace.finish(5_000 * MS).unwrap();
    let v: Value = serde_json::from_slice(&out).expect("JSON");
    v["traceEvents"].as_array().unwrap().clone()
}

fn of<'a>(events: &'a [Value], ph: &str, cat: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["ph"] == ph && (cat.is_empty() || e["cat"] == cat))
        .collect()
}

#[test]
fn a_reused_pid_gets_a_track_of_its_own_and_a_lost_exit_is_said() {
    let events = trace_of(&[
        event(50, 1, 1_100, 1_100, Kind::Fork),
        // Its exit was lost: the next process with pid 50 ends it.
        event(50, 1, 1_300, 1_300, Kind::Fork),
        // A late event of the first one changes nothing.
        event(50, 1, 1_100, 1_350, Kind::Uid { inferred: false }),
        event(50, 1, 1_300, 1_400, Kind::Exit(ExitStatus::Code(2), None)),
    ]);
    let begins = of(&events, "B", "lifetime");
    let tids: Vec<u64> = begins.iter().map(|e| e["tid"].as_u64().unwrap()).collect();
    assert_eq!(tids, [1, 50, u64::from(PID_MAX_LIMIT) + 1]);
    let ends: Vec<&Value> = of(&events, "E", "")
        .into_iter()
        .filter(|e| e["args"]["ended"].is_string())
        .collect();
    let endings: Vec<(u64, &str)> = ends
        .iter()
        .map(|e| {
            (
                e["tid"].as_u64().unwrap(),
                e["args"]["ended"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        endings,
        [
            (50, "exit not seen (events lost)"),
            (u64::from(PID_MAX_LIMIT) + 1, "exit 2"),
            (1, "still running when the recording ended"),
        ]
    );
    assert!(
        of(&events, "i", "").is_empty(),
        "the late uid change is dropped"
    );
    let recording = of(&events, "X", "");
    assert_eq!(recording[0]["dur"], 4_000_000.0, "from 1 s to 5 s, in us");
}

#[test]
fn bytes_that_are_not_text_are_kept_exactly_and_losses_are_instants() {
    let events = trace_of(&[
        event(60, 1, 1_100, 1_100, Kind::Fork),
        exec(
            60,
            1,
            1_100,
            1_200,
            Argv::from_args([&b"\xff"[..], b"plain"]),
        ),
        exec(60, 1, 1_100, 1_300, Argv::from_args(["plain"])),
        Event::lost(1_400 * MS, 7),
    ]);
    let execs = of(&events, "B", "exec");
    let sixty: Vec<&&Value> = execs.iter().filter(|e| e["tid"] == 60).collect();
    assert_eq!(sixty[0]["args"]["argv"][0], "\u{fffd}");
    assert_eq!(sixty[0]["args"]["argv_base64"][0], "/w==");
    assert!(sixty[1]["args"].get("argv_base64").is_none());
    let lost = of(&events, "i", "");
    assert_eq!(lost[0]["name"], "7 events lost");
    assert_eq!(lost[0]["s"], "g");
}

#[test]
fn tracks_sort_in_tree_order_and_names_show_the_depth() {
    // init, then 70 (child of init), 71 (of init), 72 (of 70): tree order 1, 70, 72, 71.
    let events = trace_of(&[
        event(70, 1, 1_100, 1_100, Kind::Fork),
        event(71, 1, 1_200, 1_200, Kind::Fork),
        event(72, 70, 1_300, 1_300, Kind::Fork),
    ]);
    let mut sorted: Vec<(u64, u64)> = of(&events, "M", "")
        .into_iter()
        .filter(|e| e["name"] == "thread_sort_index")
        .map(|e| {
            (
                e["args"]["sort_index"].as_u64().unwrap(),
                e["tid"].as_u64().unwrap(),
            )
        })
        .collect();
    sorted.sort();
    let order: Vec<u64> = sorted.into_iter().map(|(_, tid)| tid).collect();
    assert_eq!(order, [1, 70, 72, 71]);
    let name = |tid: u64| {
        let e = events
            .iter()
            .find(|e| e["name"] == "thread_name" && e["tid"] == tid)
            .unwrap();
        (
            e["pid"].as_u64().unwrap(),
            e["args"]["name"].as_str().unwrap().to_owned(),
        )
    };
    // 70 and 71 head subtrees of their own (trace processes); 72 is one level below 70.
    assert_eq!(name(70), (70, "sh 70".to_owned()));
    assert_eq!(name(72), (70, "· sh 72".to_owned()));
    assert_eq!(name(71), (71, "sh 71".to_owned()));
    let arrows: Vec<(&str, u64)> = events
        .iter()
        .filter(|e| e["cat"] == "fork")
        .map(|e| (e["ph"].as_str().unwrap(), e["tid"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        arrows,
        [
            ("s", 1),
            ("f", 70),
            ("s", 1),
            ("f", 71),
            ("s", 70),
            ("f", 72)
        ]
    );
}

/// The lifetimes of the trace (begin, end and how it ended), each begin paired with the
/// next end on its track, checking that each ends no earlier than it began, and that no
/// slice is left open.
fn lifetimes(events: &[Value]) -> Vec<(u64, f64, f64, String)> {
    let mut open: std::collections::HashMap<(u64, u64), Vec<&Value>> = Default::default();
    let mut ended = Vec::new();
    for e in events.iter().filter(|e| e["ph"] == "B" || e["ph"] == "E") {
        let track = (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap());
        let stack = open.entry(track).or_default();
        if e["ph"] == "B" {
            stack.push(e);
            continue;
        }
        let begin = stack.pop().expect("an end after its begin");
        let (from, to) = (begin["ts"].as_f64().unwrap(), e["ts"].as_f64().unwrap());
        assert!(from <= to, "ends before it begins: {begin} {e}");
        if begin["cat"] == "lifetime" {
            let how = e["args"]["ended"].as_str().unwrap().to_owned();
            ended.push((track.1, from, to, how));
        }
    }
    assert!(open.values().all(Vec::is_empty), "left open: {open:?}");
    ended
}

#[test]
fn the_trace_lasts_to_its_last_event_when_that_is_after_the_end() {
    // The recording said it ended at 5 s; its events go on to 6 s.
    let events = trace_of(&[
        event(80, 1, 5_500, 5_500, Kind::Fork),
        event(80, 1, 5_500, 6_000, Kind::Uid { inferred: false }),
    ]);
    let ended = lifetimes(&events);
    let still = "still running when the recording ended";
    assert_eq!(
        ended,
        [
            (1, 0.0, 5_000_000.0, still.to_owned()),
            (80, 4_500_000.0, 5_000_000.0, still.to_owned()),
        ]
    );
    let recording = of(&events, "X", "");
    assert_eq!(recording[0]["dur"], 5_000_000.0, "from 1 s to 6 s, in us");
}

#[test]
fn an_exit_delivered_before_the_exec_or_fork_ends_the_lifetime_once() {
    let events = trace_of(&[
        event(90, 1, 1_100, 1_200, Kind::Exit(ExitStatus::Code(0), None)),
        exec(90, 1, 1_100, 1_150, Argv::from_args(["late"])),
        event(91, 1, 1_100, 1_300, Kind::Exit(ExitStatus::Code(1), None)),
        event(91, 1, 1_100, 1_100, Kind::Fork),
        event(91, 1, 1_100, 1_300, Kind::Exit(ExitStatus::Code(1), None)),
        // A new process with the pid is one of its own.
        event(91, 1, 1_400, 1_400, Kind::Fork),
    ]);
    let endings: Vec<(u64, String)> = lifetimes(&events)
        .into_iter()
        .map(|(tid, _, _, how)| (tid, how))
        .collect();
    let still = "still running when the recording ended".to_owned();
    assert_eq!(
        endings,
        [
            (90, "exit 0".to_owned()),
            (91, "exit 1".to_owned()),
            (1, still.clone()),
            (u64::from(PID_MAX_LIMIT) + 1, still),
        ]
    );
    assert!(of(&events, "B", "exec").iter().all(|e| e["tid"] != 90));
}

#[test]
fn repeated_and_impossible_pids_of_a_crafted_snapshot_are_skipped() {
    let again = ProcessInfo {
        comm: Comm::from("again"),
        start_ns: 20 * MS,
        ..init()
    };
    let impossible = ProcessInfo {
        pid: PID_MAX_LIMIT,
        ..init()
    };
    let events = trace_from(
        &[init(), again, impossible],
        &[
            event(PID_MAX_LIMIT, 1, 1_100, 1_100, Kind::Fork),
            event(
                PID_MAX_LIMIT,
                1,
                1_100,
                1_200,
                Kind::Uid { inferred: false },
            ),
        ],
    );
    let ended = lifetimes(&events);
    assert_eq!(ended.len(), 1, "{ended:?}");
    assert_eq!(ended[0].0, 1);
    let on_recording: Vec<&Value> = (events.iter())
        .filter(|e| e["tid"] == PID_MAX_LIMIT && e["ph"] != "X")
        .filter(|e| e["args"]["name"] != "recording")
        .collect();
    assert!(on_recording.is_empty(), "{on_recording:?}");
}

#[test]
fn each_host_has_its_own_tracks_named_with_its_own_pids_and_its_name() {
    use crate::event::host::merged_pid;
    let info = Info {
        start_ns: ORIGIN,
        hosts: vec!["web".into(), "db".into()],
        ..Info::default()
    };
    let on = |host: usize, p: ProcessInfo| ProcessInfo {
        pid: merged_pid(host, p.pid),
        ppid: merged_pid(host, p.ppid),
        ..p
    };
    let root = |host: usize, name: &str| ProcessInfo {
        pid: merged_pid(host, 0),
        ppid: 0,
        start_ns: 0,
        comm: Comm::from(name),
        argv: Argv::from_args([name]),
        ..init()
    };
    let snapshot = [root(0, "web"), on(0, init()), root(1, "db"), on(1, init())];
    let fork = |host: usize| Event {
        pid: merged_pid(host, 50),
        tid: merged_pid(host, 50),
        ppid: merged_pid(host, 1),
        ..event(50, 1, 1_100, 1_100, Kind::Fork)
    };
    let mut out = Vec::new();
    let mut trace = Trace::start(&mut out, &info, &snapshot).unwrap();
    for e in [fork(0), fork(1)] {
        trace.event(&e).unwrap();
    }
    trace.finish(5_000 * MS).unwrap();
    let v: Value = serde_json::from_slice(&out).expect("JSON");
    let events = v["traceEvents"].as_array().unwrap();
    let begins = of(events, "B", "lifetime");
    let tracks: Vec<(u64, &Value, &Value)> = (begins.iter())
        .map(|e| {
            (
                e["tid"].as_u64().unwrap(),
                &e["args"]["pid"],
                &e["args"]["host"],
            )
        })
        .collect();
    let pid = |host: usize, pid: u32| u64::from(merged_pid(host, pid));
    assert_eq!(
        tracks,
        [
            (pid(0, 0), &json!(0), &json!("web")),
            (pid(1, 0), &json!(0), &json!("db")),
            (pid(0, 1), &json!(1), &json!("web")),
            (pid(1, 1), &json!(1), &json!("db")),
            (pid(0, 50), &json!(50), &json!("web")),
            (pid(1, 50), &json!(50), &json!("db")),
        ]
    );
    // Each host's init heads a trace "process" of its own, named with its host, and the
    // children of init go with it as one machine's do.
    let names: Vec<&str> = (events.iter())
        .filter(|e| e["name"] == "process_name")
        .filter_map(|e| e["args"]["name"].as_str())
        .collect();
    for name in [
        "sh 50 on web",
        "sh 50 on db",
        "init 1 on web",
        "init 1 on db",
    ] {
        assert!(names.contains(&name), "{names:?}");
    }
}
