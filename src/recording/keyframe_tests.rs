use std::{
    collections::BTreeMap,
    io::Cursor,
    sync::{Arc, Mutex},
};

use super::{tests::info, *};
use crate::{
    event::{Argv, Comm, Creds, Event, Kind},
    proc::snapshot::ProcessInfo,
};

fn process(pid: u32, argv_bytes: usize) -> ProcessInfo {
    ProcessInfo {
        pid,
        ppid: 1,
        start_ns: u64::from(pid) * 1_000,
        comm: Comm::from("job"),
        // Different in every process, so the parts do not compress to nothing.
        argv: Argv::from_args([format!("/bin/job{pid}{}", "x".repeat(argv_bytes))]),
        argv_truncated: false,
        creds: Creds::default(),
        state: '?',
        kernel_thread: false,
        threads: 1,
        pid_ns: None,
        cgroup: None,
        sampled: None,
    }
}

fn forks(pids: std::ops::Range<u32>, ts_ns: u64) -> Vec<Event> {
    pids.map(|pid| Event {
        ts_ns: ts_ns + u64::from(pid),
        pid,
        tid: pid,
        ppid: 1,
        kind: Kind::Fork,
        ..Event::lost(0, 0)
    })
    .collect()
}

/// Three groups of events with a keyframe after the first (2 processes) and after the
/// second (300 processes of 7 KiB each: more than one frame).
fn with_two_keyframes() -> (Vec<u8>, [Vec<Event>; 3], [Vec<ProcessInfo>; 2]) {
    let alive = |processes: &[ProcessInfo]| Alive {
        processes: processes.to_vec(),
        ..Alive::default()
    };
    let groups = [
        forks(10..20, 2_000_000_000),
        forks(20..30, 3_000_000_000),
        forks(30..40, 4_000_000_000),
    ];
    let small: Vec<ProcessInfo> = (1..3).map(|pid| process(pid, 10)).collect();
    let large: Vec<ProcessInfo> = (1..301).map(|pid| process(pid, 7 * 1024)).collect();
    let mut writer = Writer::new(Vec::new(), &info(), &[]).unwrap();
    for (i, group) in groups.iter().enumerate() {
        group.iter().for_each(|e| writer.push(e).unwrap());
        let at_ns = group.last().unwrap().ts_ns;
        match i {
            0 => writer.write_keyframe(at_ns, &alive(&small)).unwrap(),
            1 => writer.write_keyframe(at_ns, &alive(&large)).unwrap(),
            _ => {}
        }
    }
    writer.finish(5_000_000_000).unwrap();
    (writer.into_inner(), groups, [small, large])
}

fn reader(bytes: &[u8]) -> Reader<Cursor<&[u8]>> {
    let mut reader = Reader::new(Cursor::new(bytes)).unwrap();
    reader.extent().unwrap();
    reader
}

fn next_events(reader: &mut Reader<Cursor<&[u8]>>) -> Vec<Event> {
    let mut out = Vec::new();
    assert!(reader.next_batch(&mut out).unwrap());
    out
}

#[test]
fn reading_from_the_start_skips_keyframes() {
    let (bytes, groups, _) = with_two_keyframes();
    let mut reader = reader(&bytes);
    let mut all = Vec::new();
    while reader.next_batch(&mut all).unwrap() {}
    assert_eq!(all, groups.concat());
}

#[test]
fn a_reader_starts_after_the_latest_keyframe_at_or_before_a_time() {
    let (bytes, groups, [small, large]) = with_two_keyframes();
    let mut reader = reader(&bytes);
    let between = groups[1][5].ts_ns;
    let first = reader.keyframe_before(between).unwrap().unwrap();
    assert_eq!(first.at_ns, groups[0].last().unwrap().ts_ns);
    assert_eq!(first.events, 10);
    assert_eq!(&*first.processes, &small[..]);
    assert_eq!(next_events(&mut reader), groups[1]);

    let last = reader.keyframe_before(u64::MAX).unwrap().unwrap();
    assert_eq!(last.events, 20);
    assert_eq!(&*last.processes, &large[..]);
    assert_eq!(next_events(&mut reader), groups[2]);

    // Before the first keyframe: none, and reading starts at the first event.
    assert!(
        reader
            .keyframe_before(groups[0][3].ts_ns)
            .unwrap()
            .is_none()
    );
    assert_eq!(next_events(&mut reader), groups[0]);
}

#[test]
fn a_damaged_keyframe_gives_way_to_an_earlier_one_and_is_damage_when_read_through() {
    let (mut bytes, groups, [small, _]) = with_two_keyframes();
    // A byte in the large keyframe's second part.
    let second_part = {
        let reader = reader(&bytes);
        let (_, offset) = reader.keyframes[1];
        let first_len = 40
            + u32::from_le_bytes(
                bytes[offset as usize + 8..offset as usize + 12]
                    .try_into()
                    .unwrap(),
            ) as usize;
        offset as usize + first_len
    };
    assert_eq!(&bytes[second_part..second_part + 4], b"FWfr");
    bytes[second_part + 50] ^= 0xff;
    let mut reader = reader(&bytes);
    let keyframe = reader.keyframe_before(u64::MAX).unwrap().unwrap();
    assert_eq!(&*keyframe.processes, &small[..]);
    assert_eq!(next_events(&mut reader), groups[1]);
    // Until its checksum holds, nothing says the frame is a keyframe: it is damage, and
    // reading goes on after it.
    let mut out = Vec::new();
    let damage = reader.next_batch(&mut out).unwrap_err();
    assert_eq!(damage.offset, second_part as u64);
    reader.resync();
    assert_eq!(next_events(&mut reader), groups[2]);
}

/// A recording with one good keyframe after the first group, the second group, and then a
/// keyframe frame made by hand with `content`, `count` processes, at `time`.
fn with_a_crafted_keyframe(content: &str, count: u32, time: u64) -> Vec<u8> {
    let good = Alive {
        processes: vec![process(1, 0)],
        ..Alive::default()
    };
    let mut writer = Writer::new(Vec::new(), &info(), &[]).unwrap();
    forks(10..20, 2_000_000_000)
        .iter()
        .for_each(|e| writer.push(e).unwrap());
    writer.write_keyframe(2_000_000_019, &good).unwrap();
    forks(20..30, 3_000_000_000)
        .iter()
        .for_each(|e| writer.push(e).unwrap());
    writer.write_events().unwrap();
    let mut bytes = writer.into_inner();
    let mut frame = Vec::new();
    super::frame::FrameEncoder::new()
        .unwrap()
        .encode(
            super::frame::FrameKind::Keyframe,
            count,
            (time, time),
            content.as_bytes(),
            &mut frame,
        )
        .unwrap();
    bytes.extend_from_slice(&frame);
    bytes
}

#[test]
fn a_keyframe_that_says_what_its_header_does_not_gives_way() {
    let one = serde_json::to_string(&process(2, 0)).unwrap();
    let t = 3_000_000_029_u64;
    let head = |at: u64, events: u64, part: usize, parts: usize| {
        format!(r#""at_ns":{at},"events":{events},"part":{part},"parts":{parts}"#)
    };
    let crafted = [
        (
            "its time is not the header's",
            format!("{{{},\"processes\":[{one}]}}", head(t - 1, 20, 0, 1)),
            1,
        ),
        (
            "the second part alone",
            format!("{{{},\"processes\":[{one}]}}", head(t, 20, 1, 2)),
            1,
        ),
        (
            "a wrong count",
            format!("{{{},\"processes\":[{one}]}}", head(t, 20, 0, 1)),
            2,
        ),
        (
            "more events than the file",
            format!("{{{},\"processes\":[{one}]}}", head(t, 21, 0, 1)),
            1,
        ),
        (
            "a subreaper it does not hold",
            format!(
                "{{{},\"subreapers\":[7],\"processes\":[{one}]}}",
                head(t, 20, 0, 1)
            ),
            1,
        ),
        (
            "no processes field",
            format!("{{{}}}", head(t, 20, 0, 1)),
            0,
        ),
    ];
    for (what, content, count) in crafted {
        let bytes = with_a_crafted_keyframe(&content, count, t);
        let mut reader = reader(&bytes);
        assert_eq!(reader.keyframes.len(), 2, "{what}");
        let keyframe = reader.keyframe_before(u64::MAX).unwrap().unwrap();
        assert_eq!(keyframe.at_ns, 2_000_000_019, "{what}");
        // Read through, the crafted frame is skipped: its checksum holds.
        let mut all = Vec::new();
        while reader.next_batch(&mut all).unwrap() {}
        assert_eq!(all, forks(20..30, 3_000_000_000), "{what}");
    }
    // Made the same way, a sound one is taken.
    let sound = format!(
        "{{{},\"subreapers\":[2],\"processes\":[{one}]}}",
        head(t, 20, 0, 1)
    );
    let bytes = with_a_crafted_keyframe(&sound, 1, t);
    let mut reader = reader(&bytes);
    let keyframe = reader.keyframe_before(u64::MAX).unwrap().unwrap();
    assert_eq!((keyframe.at_ns, keyframe.subreapers), (t, vec![2]));
}

/// Alive: what the forks added and the exits took away.
#[derive(Clone, Default)]
struct Forks(Arc<Mutex<BTreeMap<u32, ProcessInfo>>>);

impl LiveSet for Forks {
    fn apply(&mut self, event: &Event) {
        let mut alive = self.0.lock().unwrap();
        match event.kind {
            Kind::Fork => {
                alive.insert(event.pid, process(event.pid, 0));
            }
            Kind::Exit(..) => {
                alive.remove(&event.pid);
            }
            _ => {}
        }
    }

    fn alive(&self) -> Alive {
        Alive {
            processes: self.0.lock().unwrap().values().cloned().collect(),
            ..Alive::default()
        }
    }
}

/// A recording of 1,000 forks, 50 per batch, with keyframes as `cadence` says.
fn forks_recorded(cadence: (u64, u64)) -> (Vec<u8>, Forks) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.fwrec");
    let file = std::fs::File::create(&path).unwrap();
    let live = Forks::default();
    let recorder = Recorder::with_keyframes_every(file, &info(), Box::new(live.clone()), cadence);
    let recorder = recorder.unwrap();
    for start in (0..1_000).step_by(50) {
        recorder.record(forks(start..start + 50, 2_000_000_000));
    }
    recorder.finish(3_000_000_000).unwrap();
    (std::fs::read(&path).unwrap(), live)
}

#[test]
fn the_recorder_writes_what_its_live_set_holds_every_so_many_events() {
    let (bytes, live) = forks_recorded((100, 0));
    let mut reader = reader(&bytes);
    // A keyframe after every 100 events (two batches of 50), the last one's at 1,000.
    assert_eq!(reader.keyframes.len(), 10);
    let last = reader.keyframe_before(u64::MAX).unwrap().unwrap();
    assert_eq!(last.events, 1_000);
    assert_eq!(last.at_ns, 2_000_000_000 + 999);
    assert_eq!(&*last.processes, &live.alive().processes[..]);
    let middle = reader
        .keyframe_before(2_000_000_000 + 450)
        .unwrap()
        .unwrap();
    assert_eq!(middle.events, 400);
    assert_eq!(middle.processes.len(), 400);
}

#[test]
fn keyframes_larger_than_what_the_events_add_are_written_less_often() {
    // Every keyframe holds every process so far, and grows faster than the events do.
    let (bytes, _) = forks_recorded((100, 8));
    let reader = reader(&bytes);
    let written = reader.keyframes.len();
    assert!((1..10).contains(&written), "{written} keyframes");
}
