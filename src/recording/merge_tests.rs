use std::{fs::File, io::BufReader, path::Path};

use super::{Part, merge};
use crate::{
    event::{Event, Kind, PID_MAX_LIMIT, host::merged_pid},
    private_file,
    proc::snapshot::ProcessInfo,
    recording::{Alive, Info, LiveSet, Reader, Writer, tests::info},
};

/// A live set that knows nothing: these merges are far too short for a keyframe.
struct Nothing;

impl LiveSet for Nothing {
    fn apply(&mut self, _: &Event) {}

    fn alive(&self) -> Alive {
        Alive::default()
    }
}

fn no_keyframes(_: &[ProcessInfo]) -> Box<dyn LiveSet> {
    Box::new(Nothing)
}

const S: u64 = 1_000_000_000;

fn fork(ts_ns: u64, pid: u32) -> Event {
    Event {
        ts_ns,
        pid,
        tid: pid,
        ppid: 1,
        start_ns: ts_ns,
        kind: Kind::Fork,
        ..Event::lost(0, 0)
    }
}

/// A recording of `info` holding `events`, at `dir/name`, opened.
fn part(dir: &Path, name: &str, info: &Info, events: &[Event]) -> Part {
    let path = dir.join(name);
    let mut writer = Writer::new(File::create(&path).unwrap(), info, &[]).unwrap();
    events.iter().for_each(|e| writer.push(e).unwrap());
    writer.finish(info.start_ns + 10 * S).unwrap();
    Part {
        path: name.into(),
        reader: Reader::open(&path).unwrap(),
    }
}

fn merged(dir: &Path, parts: Vec<Part>) -> Reader<BufReader<File>> {
    let out = private_file::unnamed_in(dir).unwrap();
    let (file, notes) = merge(parts, out, false, no_keyframes).unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    Reader::from_file(file).unwrap()
}

fn all(reader: &mut Reader<BufReader<File>>) -> Vec<Event> {
    let mut events = Vec::new();
    while reader.next_batch(&mut events).unwrap() {}
    events
}

#[test]
fn hosts_of_one_name_are_told_apart_and_each_pid_is_found_on_its_host() {
    let dir = tempfile::tempdir().unwrap();
    let parts = vec![
        part(dir.path(), "a", &info(), &[fork(2 * S, 50)]),
        part(dir.path(), "b", &info(), &[fork(3 * S, 50)]),
    ];
    let mut reader = merged(dir.path(), parts);
    let info = reader.info().clone();
    assert_eq!(info.hosts, ["testhost", "testhost (2)"]);
    assert_eq!(
        info.to_string(),
        "replay of 2 hosts: testhost, testhost (2)"
    );
    let pids: Vec<u32> = all(&mut reader).iter().map(|e| e.pid).collect();
    assert_eq!(pids, [merged_pid(0, 50), merged_pid(1, 50)]);
    assert_eq!(info.host_of(pids[0]), "testhost");
    assert_eq!(info.host_of(pids[1]), "testhost (2)");
    // Each host's pid 0 is at the top, named after it.
    let roots: Vec<(u32, u32, String)> = (reader.snapshot().iter())
        .map(|p| (p.pid, p.ppid, p.comm.to_string()))
        .collect();
    assert_eq!(
        roots,
        [
            (PID_MAX_LIMIT, 0, "testhost".to_owned()),
            (2 * PID_MAX_LIMIT, 0, "testhost (2)".to_owned())
        ]
    );
}

#[test]
fn each_host_keeps_its_time_of_day_on_the_clock_of_the_one_that_booted_first() {
    let dir = tempfile::tempdir().unwrap();
    // The second booted 100 s later: its boot time is 100 s less for the same moment.
    let later = Info {
        host: "later".into(),
        wall_clock_offset_ns: info().wall_clock_offset_ns + 100 * S as i64,
        ..info()
    };
    let parts = vec![
        part(dir.path(), "b", &later, &[fork(2 * S, 7)]),
        part(
            dir.path(),
            "a",
            &info(),
            &[fork(3 * S, 7), fork(103 * S, 8)],
        ),
    ];
    let mut reader = merged(dir.path(), parts);
    let clock = reader.info().wall_clock();
    assert_eq!(
        reader.info().wall_clock_offset_ns,
        info().wall_clock_offset_ns
    );
    let events = all(&mut reader);
    let times: Vec<(u32, u64)> = events.iter().map(|e| (e.pid, e.ts_ns)).collect();
    assert_eq!(
        times,
        [
            (merged_pid(1, 7), 3 * S),
            (merged_pid(0, 7), 102 * S),
            (merged_pid(1, 8), 103 * S)
        ]
    );
    let own = later.wall_clock().time_of_day(2 * S);
    assert_eq!(clock.time_of_day(events[1].ts_ns), own);
}

#[test]
fn a_pid_no_host_of_the_recording_gives_is_damage() {
    let dir = tempfile::tempdir().unwrap();
    let alone = part(
        dir.path(),
        "alone",
        &info(),
        &[fork(2 * S, PID_MAX_LIMIT + 1)],
    );
    let mut reader = alone.reader;
    let damage = reader.next_batch(&mut Vec::new()).unwrap_err();
    assert!(damage.problem.contains("which no kernel gives"), "{damage}");
    let one_host = Info {
        hosts: vec!["a".into()],
        ..info()
    };
    let beyond = part(
        dir.path(),
        "beyond",
        &one_host,
        &[fork(2 * S, merged_pid(1, 5))],
    );
    let mut reader = beyond.reader;
    let damage = reader.next_batch(&mut Vec::new()).unwrap_err();
    assert!(
        damage
            .problem
            .contains("of none of the recording's 1 hosts"),
        "{damage}"
    );
}

#[test]
fn a_long_merge_has_keyframes_as_a_recording_has() {
    let dir = tempfile::tempdir().unwrap();
    let half = crate::recording::KEYFRAME_EVENTS / 2 + 1;
    let forks = |first: u64| -> Vec<Event> {
        (0..half)
            .map(|i| fork(2 * S + first + 2 * i, 100 + (i % 30_000) as u32))
            .collect()
    };
    let parts = vec![
        part(dir.path(), "a", &info(), &forks(0)),
        part(dir.path(), "b", &info(), &forks(1)),
    ];
    let mut reader = merged(dir.path(), parts);
    reader.extent().unwrap();
    assert_eq!(reader.keyframes.len(), 1, "{:?}", reader.keyframes);
}

/// Pids no kernel gives (0, or the limit itself, which would wrap to 0) would land on the
/// host's root once moved, and could rename or end it: they are left out of a merge.
#[test]
fn an_event_naming_a_pid_no_kernel_gives_does_not_reach_the_hosts_root() {
    let dir = tempfile::tempdir().unwrap();
    let mut exit = fork(3 * S, PID_MAX_LIMIT);
    exit.kind = Kind::Exit(crate::event::ExitStatus::Code(0), None);
    let parts = vec![
        part(
            dir.path(),
            "a",
            &info(),
            &[fork(2 * S, 50), fork(2 * S, 0), exit],
        ),
        part(dir.path(), "b", &info(), &[fork(3 * S, 60)]),
    ];
    let mut reader = merged(dir.path(), parts);
    let pids: Vec<u32> = all(&mut reader).iter().map(|e| e.pid).collect();
    assert_eq!(pids, [merged_pid(0, 50), merged_pid(1, 60)]);
}
