use std::{
    cell::Cell,
    io::{self, BufReader, Cursor, Read, SeekFrom},
    rc::Rc,
    time::Duration,
};

use super::{codec::tests::every_kind, *};
use crate::{
    event::{Argv, Comm, Creds, Event, Kind},
    proc::snapshot::ProcessInfo,
};

const START_NS: u64 = 1_000_000_000;

pub(crate) fn info() -> Info {
    Info {
        host: "testhost".into(),
        kernel: "6.18.0-test".into(),
        backend: "eBPF".into(),
        wall_clock_offset_ns: 1_763_000_000_000_000_000,
        start_ns: START_NS,
        recorder: "test".into(),
        hosts: Vec::new(),
    }
}

fn snapshot() -> Vec<ProcessInfo> {
    (1..=3)
        .map(|pid| ProcessInfo {
            pid,
            ppid: pid - 1,
            start_ns: 10_000_000 * u64::from(pid),
            comm: Comm::from("init"),
            argv: Argv::from_args(["/sbin/init".to_owned(), format!("--arg={pid}")]),
            argv_truncated: false,
            creds: Creds::default(),
            state: 'S',
            kernel_thread: false,
            threads: 1,
            pid_ns: None,
            cgroup: None,
            sampled: None,
        })
        .collect()
}

/// Events of every kind, one per `step_ns` after the start.
pub(super) fn events(n: usize, step_ns: u64) -> Vec<Event> {
    let kinds = every_kind();
    (0..n)
        .map(|i| {
            let mut event = Event {
                ts_ns: START_NS + step_ns * (i as u64 + 1),
                pid: 100 + i as u32,
                ..kinds[i % kinds.len()].clone()
            };
            if let Kind::Lost { count } = &mut event.kind {
                *count = 3;
            }
            event
        })
        .collect()
}

/// A recording with one events frame per group. Returns the bytes and where each events
/// frame starts and ends.
pub(super) fn recording(groups: &[Vec<Event>]) -> (Vec<u8>, Vec<(usize, usize)>) {
    let mut writer = Writer::new(Vec::new(), &info(), &snapshot()).unwrap();
    let mut frames = Vec::new();
    for group in groups {
        let start = writer.summary().bytes as usize;
        group.iter().for_each(|e| writer.push(e).unwrap());
        writer.write_events().unwrap();
        frames.push((start, writer.summary().bytes as usize));
    }
    writer.finish(START_NS + 10_000_000_000).unwrap();
    (writer.into_inner(), frames)
}

/// Everything a reader gets from `bytes`, skipping damage; and the damage.
fn read_all(bytes: &[u8]) -> Result<(Vec<Event>, Vec<Damage>), OpenError> {
    let mut reader = Reader::new(Cursor::new(bytes))?;
    let (mut events, mut damage) = (Vec::new(), Vec::new());
    loop {
        match reader.next_batch(&mut events) {
            Ok(true) => {}
            Ok(false) => break,
            Err(d) => {
                damage.push(d);
                if reader.resync().at.is_none() {
                    break;
                }
            }
        }
    }
    Ok((events, damage))
}

pub(super) fn groups() -> Vec<Vec<Event>> {
    let all = events(15, 1_000);
    vec![all[..5].to_vec(), all[5..6].to_vec(), all[6..].to_vec()]
}

#[test]
fn round_trip_keeps_info_snapshot_events_and_end() {
    let groups = groups();
    let (bytes, _) = recording(&groups);
    let mut reader = Reader::new(Cursor::new(&bytes[..])).unwrap();
    assert_eq!(reader.info(), &info());
    assert_eq!(reader.snapshot(), snapshot());
    assert_eq!(reader.end(), None);
    let mut got = Vec::new();
    while reader.next_batch(&mut got).unwrap() {}
    assert_eq!(got, groups.concat());
    let lost = groups.concat().iter().map(Event::lost_count).sum::<u64>();
    assert!(lost > 0, "the events hold a loss report");
    assert_eq!(
        reader.end(),
        Some(&End {
            end_ns: START_NS + 10_000_000_000,
            events: 15 - 1,
            lost
        })
    );
    assert_eq!(reader.offset(), bytes.len() as u64);
}

#[test]
fn truncation_at_every_byte_keeps_every_complete_frame() {
    let groups = groups();
    let (bytes, frames) = recording(&groups);
    let events_offset = frames[0].0;
    for cut in 0..=bytes.len() {
        let result = read_all(&bytes[..cut]);
        if cut < events_offset {
            let message = result.err().unwrap().to_string();
            match cut {
                0 => assert_eq!(message, "not a forkwatch recording (the file is empty)"),
                _ => assert!(message.starts_with("damaged at byte "), "{cut}: {message}"),
            }
            continue;
        }
        let (got, damage) = result.unwrap();
        let complete: Vec<Event> = frames
            .iter()
            .zip(&groups)
            .filter(|((_, end), _)| *end <= cut)
            .flat_map(|(_, group)| group.clone())
            .collect();
        assert_eq!(got, complete, "cut at {cut}");
        let at_boundary = [frames[2].1, bytes.len()].contains(&cut)
            || frames.iter().any(|&(start, _)| start == cut);
        if at_boundary {
            assert_eq!(damage, [], "cut at {cut}");
        } else {
            let frame_start = frames
                .iter()
                .map(|&(start, _)| start)
                .chain([frames[2].1])
                .filter(|&start| start < cut)
                .max()
                .unwrap();
            assert_eq!(damage.len(), 1, "cut at {cut}");
            assert_eq!(damage[0].offset, frame_start as u64, "cut at {cut}");
            assert!(damage[0].problem.contains("ends inside a frame"));
        }
    }
}

#[test]
fn a_changed_byte_anywhere_loses_only_its_own_frame() {
    let groups = groups();
    let (bytes, frames) = recording(&groups);
    for at in frames[0].0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x20;
        let (got, damage) = read_all(&damaged).unwrap();
        let hit = frames
            .iter()
            .position(|&(start, end)| (start..end).contains(&at));
        let expected: Vec<Event> = groups
            .iter()
            .enumerate()
            .filter(|&(i, _)| Some(i) != hit)
            .flat_map(|(_, group)| group.clone())
            .collect();
        assert_eq!(got, expected, "byte {at} changed");
        let frame_start = hit.map_or(frames[2].1, |i| frames[i].0);
        assert_eq!(damage[0].offset, frame_start as u64, "byte {at} changed");
    }
}

#[test]
fn damage_stops_reading_until_resync() {
    let groups = groups();
    let (mut bytes, frames) = recording(&groups);
    bytes[frames[1].0 + 45] ^= 1;
    let mut reader = Reader::new(Cursor::new(&bytes[..])).unwrap();
    let mut got = Vec::new();
    assert!(reader.next_batch(&mut got).unwrap());
    let damage = reader.next_batch(&mut got).unwrap_err();
    assert_eq!(
        damage.to_string(),
        format!("damaged at byte {}: checksum mismatch", frames[1].0)
    );
    assert_eq!(reader.next_batch(&mut got), Err(damage));
    assert_eq!(got, groups[0]);
    assert_eq!(reader.resync().at, Some(frames[2].0 as u64));
    assert!(reader.next_batch(&mut got).unwrap());
    assert!(!reader.next_batch(&mut got).unwrap());
    assert_eq!(got, [groups[0].clone(), groups[2].clone()].concat());
    assert!(reader.end().is_some());
}

#[test]
fn other_files_and_newer_versions_are_refused() {
    let refuse = |bytes: &[u8]| Reader::new(Cursor::new(bytes)).err().unwrap().to_string();
    assert_eq!(
        refuse(b"{\"kind\":\"fork\"}\n"),
        "not a forkwatch recording (it looks like JSON lines, such as `events --json` prints)"
    );
    assert_eq!(refuse(b"\x7fELF\x02\x01"), "not a forkwatch recording");
    let (mut bytes, _) = recording(&groups());
    bytes[8..12].copy_from_slice(&5u32.to_le_bytes());
    assert_eq!(
        refuse(&bytes),
        "written by a newer forkwatch (recording format 5; this one reads up to 4): \
         replay it with a newer forkwatch-tui"
    );
    assert_eq!(
        refuse(&bytes[..5]),
        "damaged at byte 0: the file ends inside its header"
    );
}

#[test]
fn names_and_problems_from_a_file_are_shown_escaped() {
    let info = Info {
        host: "evil\x1b]52;c;aGk=\x07".into(),
        kernel: "6.18\r\nexit pid=1".into(),
        backend: "eBPF\u{202e}".into(),
        ..info()
    };
    let shown = info.to_string();
    assert!(
        shown.starts_with(
            r"recorded on evil\e]52;c;aGk=\a (Linux 6.18\r\nexit pid=1) with eBPF\u{202e} at "
        ),
        "{shown}"
    );
    let damage = Damage {
        offset: 7,
        problem: "unknown variant `\x1b[2J\u{9b}`".into(),
    };
    assert_eq!(
        damage.to_string(),
        r"damaged at byte 7: unknown variant `\e[2J\u{9b}`"
    );
}

#[test]
fn unknown_optional_frames_are_skipped_and_unknown_required_ones_are_damage() {
    let groups = groups();
    let (bytes, frames) = recording(&groups);
    let with_kind = |kind: u8| {
        let mut encoder = frame::FrameEncoder::new().unwrap();
        let mut extra = Vec::new();
        encoder
            .encode(frame::FrameKind::Events, 0, (0, 0), b"future", &mut extra)
            .unwrap();
        extra[4] = kind;
        let crc = {
            let mut h = crc32fast::Hasher::new();
            h.update(&extra[..36]);
            h.update(&extra[40..]);
            h.finalize()
        };
        extra[36..40].copy_from_slice(&crc.to_le_bytes());
        [&bytes[..frames[1].0], &extra, &bytes[frames[1].0..]].concat()
    };
    let (got, damage) = read_all(&with_kind(200)).unwrap();
    assert_eq!((got, damage), (groups.concat(), vec![]));
    let (got, damage) = read_all(&with_kind(9)).unwrap();
    assert_eq!(got, groups.concat());
    assert_eq!(
        damage[0].to_string(),
        format!("damaged at byte {}: unknown frame type 9", frames[1].0)
    );
}

#[test]
fn a_large_session_is_cut_into_frames_and_compressed() {
    let all = events(20_000, 50_000);
    let mut writer = Writer::new(Vec::new(), &info(), &snapshot()).unwrap();
    all.iter().for_each(|e| writer.push(e).unwrap());
    writer.finish(START_NS).unwrap();
    let auto = writer.into_inner();
    let (got, damage) = read_all(&auto).unwrap();
    assert_eq!((got.len(), damage), (all.len(), vec![]));
    let frames = auto.windows(4).filter(|w| *w == frame::MARKER).count();
    assert!(frames >= 5, "{frames} frames");
    assert!(auto.len() < all.len() * 10, "{} bytes", auto.len());
}

/// An in-memory file that counts the bytes read from it.
struct CountingInput {
    inner: Cursor<Vec<u8>>,
    read: Rc<Cell<usize>>,
}

impl Read for CountingInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n);
        Ok(n)
    }
}

impl io::Seek for CountingInput {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.inner.seek(to)
    }
}

impl Input for CountingInput {}

#[test]
fn the_extent_comes_from_one_pass_over_the_file() {
    let all = events(20_000, 50_000);
    let mut writer = Writer::new(Vec::new(), &info(), &snapshot()).unwrap();
    all.iter().for_each(|e| writer.push(e).unwrap());
    writer.finish(START_NS + 1).unwrap();
    let bytes = writer.into_inner();
    let len = bytes.len();
    let read = Rc::default();
    let input = CountingInput {
        inner: Cursor::new(bytes),
        read: Rc::clone(&read),
    };
    let mut reader = Reader::new(BufReader::with_capacity(256 * 1024, input)).unwrap();
    read.set(0);
    let extent = reader.extent().unwrap();
    assert_eq!(
        (extent.events, extent.end_ns),
        (all.len() as u64, all.last().unwrap().ts_ns)
    );
    assert!(read.get() <= len, "{} bytes read of {len}", read.get());
}

mod recorder {
    use super::*;
    use crate::private_file;

    /// A recorder of the tests' recording, to a new file at `path`.
    fn recorder_at(path: &Path) -> Recorder {
        Recorder::new(
            private_file::create(path).unwrap(),
            path,
            &info(),
            &snapshot(),
        )
        .unwrap()
    }

    #[test]
    fn events_reach_the_file_without_finish_and_all_of_them_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.fwrec");
        let recorder = recorder_at(&path);
        let all = events(1000, 1_000);
        recorder.record(all[..400].to_vec());
        // Written within the flush interval though nothing more arrives: what a kill -9
        // would leave.
        assert_eq!(first_events_on_disk(&path), all[..400]);
        recorder.record(all[400..].to_vec());
        let summary = recorder.finish(START_NS + 5).unwrap();
        assert_eq!(summary.bytes, std::fs::metadata(&path).unwrap().len());
        let losses = all
            .iter()
            .filter(|e| matches!(e.kind, Kind::Lost { .. }))
            .count();
        assert_eq!(
            (summary.tally.total(), summary.tally.lost),
            (1000 - losses as u64, 3 * losses as u64)
        );
        let mut reader = Reader::open(&path).unwrap();
        let mut got = Vec::new();
        while reader.next_batch(&mut got).unwrap() {}
        assert_eq!(got, all);
        assert_eq!(reader.end().unwrap().end_ns, START_NS + 5);
    }

    /// Dropped without `finish` (an early return, a panic), the recorder's thread still
    /// writes the events it holds; the file is then not closed properly.
    #[test]
    fn a_dropped_recorder_writes_the_events_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.fwrec");
        let recorder = recorder_at(&path);
        let all = events(400, 1_000);
        recorder.record(all.clone());
        drop(recorder);
        assert_eq!(first_events_on_disk(&path), all);
        let mut reader = Reader::open(&path).unwrap();
        while reader.next_batch(&mut Vec::new()).unwrap() {}
        assert_eq!(reader.end(), None);
    }

    /// The events of the first complete frames to reach `path`, polled as the recorder's
    /// thread writes them (it tells no one); empty after 30 s.
    fn first_events_on_disk(path: &Path) -> Vec<Event> {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (got, damage) = read_all(&std::fs::read(path).unwrap()).unwrap();
            assert_eq!(damage, []);
            if !got.is_empty() || std::time::Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn a_file_that_cannot_be_written_is_a_clear_error() {
        let full = std::fs::File::options()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let err = Recorder::new(full, Path::new("/dev/full"), &info(), &snapshot())
            .err()
            .unwrap();
        assert_eq!(
            format!("{err:#}"),
            "cannot write the recording /dev/full: No space left on device (os error 28)"
        );
    }

    use std::path::Path;
}

mod replay {
    use tokio::time::{Instant, timeout};

    use super::*;

    /// A replay of events 1 s apart (three frames), starting at `START_NS`.
    fn open() -> (tempfile::TempDir, Replay) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.fwrec");
        let all = events(6, 1_000_000_000);
        std::fs::write(&path, recording(&[all[..2].to_vec(), all[2..].to_vec()]).0).unwrap();
        let replay = Replay::open(&path).unwrap();
        (dir, replay)
    }

    fn times(batch: &[Event]) -> Vec<u64> {
        batch
            .iter()
            .map(|e| (e.ts_ns - START_NS) / 1_000_000_000)
            .collect()
    }

    /// From the second event's time, playing at real time.
    async fn plays_the_third_event_a_second_later(replay: &mut Replay) {
        replay.play();
        let t0 = Instant::now();
        let mut batch = Vec::new();
        assert!(replay.next_batch(&mut batch).await);
        assert_eq!(
            (times(&batch), t0.elapsed()),
            (vec![3], Duration::from_secs(1))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn plays_at_the_recorded_pace_scaled_by_the_speed() {
        let (_dir, mut replay) = open();
        let t0 = Instant::now();
        let mut batch = Vec::new();
        assert!(replay.next_batch(&mut batch).await);
        assert_eq!(
            (times(&batch), t0.elapsed()),
            (vec![1], Duration::from_secs(1))
        );
        replay.set_speed(Speed::times(4.0));
        batch.clear();
        assert!(replay.next_batch(&mut batch).await);
        assert_eq!(times(&batch), [2]);
        assert_eq!(t0.elapsed(), Duration::from_millis(1250));
        let position = replay.position();
        assert_eq!(position.at_ns, START_NS + 2_000_000_000);
        assert_eq!((position.events, position.total_events), (2, 6));
        assert_eq!(position.end_ns, START_NS + 10_000_000_000);

        replay.set_speed(Speed::Max);
        batch.clear();
        assert!(replay.next_batch(&mut batch).await);
        assert_eq!(times(&batch), [3, 4, 5, 6]);
        assert_eq!(t0.elapsed(), Duration::from_millis(1250));
        assert!(!replay.next_batch(&mut batch).await);
        assert!(replay.has_ended() && replay.closed_properly());
    }

    #[tokio::test(start_paused = true)]
    async fn paused_it_waits_for_ever_but_steps_one_event() {
        let (_dir, mut replay) = open();
        replay.pause();
        let mut batch = Vec::new();
        let waited = timeout(Duration::from_secs(3600), replay.next_batch(&mut batch)).await;
        assert!(waited.is_err() && batch.is_empty());
        replay.step();
        assert!(replay.next_batch(&mut batch).await);
        replay.step();
        assert!(replay.next_batch(&mut batch).await);
        assert_eq!(times(&batch), [1, 2]);
        assert_eq!(replay.position().at_ns, START_NS + 2_000_000_000);
        plays_the_third_event_a_second_later(&mut replay).await;
    }

    #[tokio::test(start_paused = true)]
    async fn seeks_forward_at_once_and_back_from_the_start() {
        let (_dir, mut replay) = open();
        replay.pause();
        let mut batch = Vec::new();
        assert_eq!(
            replay.seek(START_NS + 3_500_000_000).unwrap(),
            Seek::Forward
        );
        assert!(replay.next_batch(&mut batch).await);
        assert_eq!(times(&batch), [1, 2, 3]);
        assert_eq!(replay.position().at_ns, START_NS + 3_500_000_000);

        assert_eq!(
            replay.seek(START_NS + 2_000_000_000).unwrap(),
            Seek::Rewound
        );
        batch.clear();
        assert!(replay.next_batch(&mut batch).await);
        assert_eq!(times(&batch), [1, 2]);
        assert_eq!(replay.position().events, 2);

        plays_the_third_event_a_second_later(&mut replay).await;
        assert_eq!(replay.snapshot(), snapshot());
    }

    /// Every batch `replay` gives out (paused) until it has nothing more to give.
    async fn batches_while_paused(replay: &mut Replay) -> Vec<Vec<Event>> {
        let mut batches = Vec::new();
        loop {
            let mut batch = Vec::new();
            match timeout(Duration::from_secs(3600), replay.next_batch(&mut batch)).await {
                Ok(more) => {
                    assert!(more);
                    batches.push(batch);
                }
                Err(_) => return batches,
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_seek_comes_in_bounded_batches() {
        use super::super::replay::SEEK_BATCH;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.fwrec");
        let all = events(2 * SEEK_BATCH + 10, 1_000);
        std::fs::write(&path, recording(std::slice::from_ref(&all)).0).unwrap();
        let mut replay = Replay::open(&path).unwrap();
        replay.pause();

        let far = all[2 * SEEK_BATCH + 4].ts_ns;
        assert_eq!(replay.seek(far).unwrap(), Seek::Forward);
        let batches = batches_while_paused(&mut replay).await;
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, [SEEK_BATCH, SEEK_BATCH, 5]);
        assert_eq!(batches.concat(), all[..2 * SEEK_BATCH + 5]);
        assert_eq!(replay.position().at_ns, far);

        let back = all[SEEK_BATCH + 2].ts_ns;
        assert_eq!(replay.seek(back).unwrap(), Seek::Rewound);
        let batches = batches_while_paused(&mut replay).await;
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert_eq!(sizes, [SEEK_BATCH, 3]);
        assert_eq!(batches.concat(), all[..SEEK_BATCH + 3]);
        assert_eq!(replay.position().at_ns, back);
    }

    #[test]
    fn speeds_go_from_a_quarter_to_64_then_max() {
        let mut speed = Speed::REAL_TIME;
        let mut seen = vec![speed.to_string()];
        while speed != Speed::Max {
            speed = speed.faster();
            seen.push(speed.to_string());
        }
        assert_eq!(seen, ["1x", "2x", "4x", "8x", "16x", "32x", "64x", "max"]);
        let slowest = (0..20).fold(Speed::Max, |s, _| s.slower());
        assert_eq!(
            (slowest, slowest.to_string()),
            (Speed::Times(0.25), "1/4x".into())
        );
        assert_eq!(Speed::times(1000.0), Speed::Times(64.0));
    }
}
