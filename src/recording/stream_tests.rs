//! Replays of recordings that are still arriving: through a real pipe into the spool, and
//! a file that grows.

use std::io::Write;

use super::{
    OpenError, Replay, Speed, Stream, StreamEnd,
    tests::{groups, recording},
};
use crate::event::Event;

/// Every event the replay gives until it ends.
async fn rest(replay: &mut Replay) -> Vec<Event> {
    let (mut all, mut batch) = (Vec::new(), Vec::new());
    while replay.next_batch(&mut batch).await {
        all.append(&mut batch);
    }
    all
}

/// A replay of what the returned end of a pipe is given, once `first` (the recording's
/// start) is in it.
async fn spooled(first: &[u8]) -> (Replay, std::io::PipeWriter) {
    let (rx, mut tx) = std::io::pipe().unwrap();
    tx.write_all(first).unwrap();
    let mut replay = Stream::spool(rx).await.unwrap();
    replay.set_speed(Speed::Max);
    (replay, tx)
}

#[tokio::test]
async fn a_stream_is_replayed_as_it_arrives_and_ends_at_its_end_frame() {
    let (bytes, frames) = recording(&groups());
    let sent: Vec<Event> = groups().concat();
    // The first events frame, and a few bytes of the next: those are not there yet.
    let (mut replay, mut tx) = spooled(&bytes[..frames[0].1 + 7]).await;
    let mut batch = Vec::new();
    assert!(replay.next_batch(&mut batch).await);
    assert_eq!(batch, sent[..5]);
    assert_eq!(replay.position().total_events, 5);
    assert_eq!(replay.stream_end(), None);

    tx.write_all(&bytes[frames[0].1 + 7..]).unwrap();
    // The extent grows with what arrived, before it is read.
    while replay.position().total_events < 15 {
        replay.grow();
        tokio::task::yield_now().await;
    }
    assert_eq!(rest(&mut replay).await, sent[5..]);
    assert_eq!(replay.stream_end(), Some(StreamEnd::Ended));
    drop(tx);
}

#[tokio::test]
async fn a_stream_whose_input_closes_inside_a_frame_broke_there() {
    let (bytes, frames) = recording(&groups());
    let (mut replay, tx) = spooled(&bytes[..frames[1].1 + 10]).await;
    drop(tx);
    assert_eq!(rest(&mut replay).await, groups()[..2].concat());
    let Some(StreamEnd::Broke(reason)) = replay.stream_end() else {
        panic!("{:?}", replay.stream_end());
    };
    assert!(
        reason.contains(&format!("inside the frame at byte {}", frames[1].1)),
        "{reason}"
    );
}

#[tokio::test]
async fn a_damaged_frame_in_an_open_stream_is_damage_not_waiting() {
    let (mut bytes, frames) = recording(&groups());
    bytes[frames[1].1 - 1] ^= 0xff;
    let (mut replay, tx) = spooled(&bytes).await;
    // The input stays open: the replay ends on the damage alone.
    assert_eq!(rest(&mut replay).await, groups()[0]);
    let end = replay.stream_end();
    let expected = format!("damaged at byte {}: checksum mismatch", frames[1].0);
    assert_eq!(end, Some(StreamEnd::Broke(expected)));
    drop(tx);
}

#[tokio::test]
async fn a_seek_past_what_arrived_goes_to_the_latest() {
    let (bytes, frames) = recording(&groups());
    let (mut replay, tx) = spooled(&bytes[..frames[1].1]).await;
    let latest = groups()[1][0].ts_ns;
    replay.seek(u64::MAX).unwrap();
    let mut batch = Vec::new();
    assert!(replay.next_batch(&mut batch).await);
    assert_eq!(batch, groups()[..2].concat());
    assert_eq!(replay.position().at_ns, latest);
    assert!(!replay.is_seeking());
    drop(tx);
    assert!(rest(&mut replay).await.is_empty());
    assert!(matches!(replay.stream_end(), Some(StreamEnd::Broke(_))));
}

#[tokio::test]
async fn an_input_that_is_empty_or_no_recording_is_refused() {
    let refused = |input: &'static [u8]| async move {
        match Stream::spool(input).await {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{input:?} was replayed"),
        }
    };
    assert_eq!(
        refused(b"").await,
        "not a forkwatch recording (the input is empty)"
    );
    assert_eq!(
        refused(b"hello\n").await,
        "not a forkwatch recording (it is text)"
    );
    let (bytes, _) = recording(&groups());
    let cut: &'static [u8] = bytes[..20].to_vec().leak();
    assert!(matches!(Stream::spool(cut).await, Err(OpenError::NotYet)));
}

#[tokio::test]
async fn a_damaged_start_of_an_open_stream_is_refused_at_once() {
    let (mut bytes, frames) = recording(&groups());
    // A byte of the info frame's payload, whose header starts after the file header.
    bytes[super::FILE_HEADER_LEN + 45] ^= 0xff;
    let (rx, mut tx) = std::io::pipe().unwrap();
    tx.write_all(&bytes[..frames[0].0]).unwrap();
    // The input stays open: what is there is damage, not a start still arriving.
    let refused = Stream::spool(rx).await.map(|_| ());
    assert!(matches!(refused, Err(OpenError::Damaged(_))), "{refused:?}");
    drop(tx);
}

#[tokio::test]
async fn a_followed_file_shows_what_is_written_after_it_started() {
    let (bytes, frames) = recording(&groups());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("growing.fwrec");
    let mut writer = std::fs::File::create(&path).unwrap();
    writer.write_all(&bytes[..frames[0].1]).unwrap();
    let mut replay = super::follow(std::fs::File::open(&path).unwrap())
        .await
        .unwrap();
    replay.set_speed(Speed::Max);
    let mut batch = Vec::new();
    assert!(replay.next_batch(&mut batch).await);
    assert_eq!(batch, groups()[0]);

    writer
        .write_all(&bytes[frames[0].1..frames[2].0 + 3])
        .unwrap();
    batch.clear();
    assert!(replay.next_batch(&mut batch).await);
    assert_eq!(batch, groups()[1]);
    writer.write_all(&bytes[frames[2].0 + 3..]).unwrap();
    assert_eq!(rest(&mut replay).await, groups()[2]);
    assert_eq!(replay.stream_end(), Some(StreamEnd::Ended));
}

/// Two hosts' streams (here the same recording twice, the second cut): merged as they
/// arrive, each host's events in its own block of pids and order, the second host named
/// apart, and its break said with its name.
#[tokio::test]
async fn streams_merge_as_they_arrive_each_host_in_its_block() {
    use crate::event::host::host_pid;
    let (bytes, frames) = recording(&groups());
    let (whole, cut) = (groups().concat(), groups()[..2].concat());
    let (a, tx_a) = spooled(&bytes).await;
    let (b, tx_b) = spooled(&bytes[..frames[1].1 + 10]).await;
    drop((tx_a, tx_b));
    let (rx, tx) = std::io::pipe().unwrap();
    let broken = super::merge_streams(vec![a, b], tx).unwrap();
    let mut merged = Stream::spool(rx).await.unwrap();
    merged.set_speed(Speed::Max);
    let events = rest(&mut merged).await;
    let host = |index: usize| -> Vec<Event> {
        (events.iter())
            .filter(|e| host_pid(e.pid).0 == Some(index))
            .map(|e| Event {
                pid: host_pid(e.pid).1,
                tid: host_pid(e.tid).1,
                ppid: host_pid(e.ppid).1,
                ..e.clone()
            })
            .collect()
    };
    assert_eq!(host(0), whole);
    assert_eq!(host(1), cut);
    assert_eq!(events.len(), whole.len() + cut.len());
    let names = &merged.info().hosts;
    assert_eq!(names.len(), 2);
    assert_eq!(names[1], format!("{} (2)", names[0]));
    let roots: Vec<String> = (merged.snapshot().iter())
        .filter(|p| host_pid(p.pid).1 == 0)
        .map(|p| p.comm.to_string())
        .collect();
    assert_eq!(roots.len(), 2);
    let broken = broken.lock().unwrap().clone();
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert!(
        broken[0].starts_with(&format!("{}: ", names[1])),
        "{broken:?}"
    );
    assert!(matches!(merged.stream_end(), Some(StreamEnd::Broke(_))));
}
