//! Command lines through each live backend, against the real kernel: an argv that could
//! not be read is said to be unknown, never given as an empty one.

use std::{process::Command, time::Duration};

use forkwatch::{
    cli::LiveArgs,
    event::{Event, Kind},
    probe::ProbeOptions,
    source::{BackendChoice, Source},
};

fn open(backend: BackendChoice) -> Source {
    let args = LiveArgs {
        backend,
        ..LiveArgs::default()
    };
    let (source, _) = Source::open_live(&args, &ProbeOptions::default())
        .expect("the backend opens (tests run as root)");
    source
}

/// Reads `source` until process `pid` has exited; returns its events.
async fn events_of(source: &mut Source, pid: u32) -> Vec<Event> {
    let mut events = Vec::new();
    while !events
        .iter()
        .any(|e: &Event| e.pid == pid && matches!(e.kind, Kind::Exit(_)))
    {
        tokio::time::timeout(Duration::from_secs(30), source.next_batch(&mut events))
            .await
            .expect("the process's events arrive")
            .unwrap();
    }
    events.retain(|e| e.pid == pid);
    events
}

/// The proc connector gives pids only, and the argv is read from /proc when the exec is
/// read: a process that has ended by then (a zombie, not yet reaped) has no argv to show.
#[tokio::test]
async fn netlink_says_the_argv_of_a_process_gone_by_then_is_unreadable() {
    let mut source = open(BackendChoice::Netlink);
    let mut child = Command::new("/bin/true").arg("gone").spawn().unwrap();
    let pid = child.id();
    // Ended, not reaped: /proc still shows it, with an empty cmdline.
    let zombie = format!("/proc/{pid}/stat");
    while !std::fs::read_to_string(&zombie)
        .unwrap()
        .rsplit(')')
        .next()
        .unwrap()
        .starts_with(" Z")
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    let events = events_of(&mut source, pid).await;
    child.wait().unwrap();
    let exec = events
        .iter()
        .find_map(|e| match &e.kind {
            Kind::Exec {
                argv,
                argv_unreadable,
                ..
            } => Some((argv.len(), *argv_unreadable)),
            _ => None,
        })
        .expect("an exec event");
    assert_eq!(exec, (0, true), "{events:#?}");
}
