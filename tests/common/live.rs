//! A live backend read against the real kernel, until the events a test waits for came.

use std::time::Duration;

use forkwatch::{
    event::{Event, Kind},
    source::{BackendChoice, Feed, LiveOptions, Source},
};

pub fn open(backend: BackendChoice) -> Source {
    let options = LiveOptions {
        backend,
        ..LiveOptions::default()
    };
    let (source, _) = Source::open_live(&options).expect("the backend opens (tests run as root)");
    source
}

/// Reads `source` until `done` holds for what it gave (a 30 s guard).
pub async fn read_until(
    source: &mut Source,
    events: &mut Vec<Event>,
    done: impl Fn(&[Event]) -> bool,
) {
    while !done(events) {
        tokio::time::timeout(Duration::from_secs(30), source.next_batch(events))
            .await
            .expect("the expected events arrive")
            .unwrap();
    }
}

pub fn exited(events: &[Event], pid: u32) -> bool {
    events
        .iter()
        .any(|e| e.pid == pid && matches!(e.kind, Kind::Exit(..)))
}
