//! `--record` on screen: the status line's recording segment, a slow disk, a write error;
//! and the tee itself, on a real file and on a pipe whose reader goes away.

use std::{
    ffi::CString,
    fs::File,
    os::unix::ffi::OsStrExt,
    path::Path,
    thread,
    time::{Duration, Instant},
};

use super::*;
use crate::{
    private_file,
    recording::{Reader, SLOW_DISK_BACKLOG},
    ui::record::{Recording, Status, end_recording},
};

/// The recording of the machine from 990 s on, into `file` (at `path`).
fn recording_into(file: File, path: &Path) -> Recording {
    Recording::create(file, path, "eBPF", 990 * S, &machine_processes()).unwrap()
}

/// The machine while recording.
fn recording_machine() -> App {
    let mut app = machine();
    app.recording = Some(Status::default());
    app
}

#[test]
fn the_status_line_shows_the_recording_a_slow_disk_and_a_write_error() {
    let mut app = recording_machine();
    let status = |events, backlog, error: Option<&str>| {
        AppEvent::Recording(Status {
            events,
            backlog,
            unqueued: 0,
            error: error.map(str::to_owned),
        })
    };
    update(&mut app, status(1_234, 0, None));
    let buf = draw_at(&mut app, 100, 3);
    assert_screen(
        &text(&buf),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
eBPF │ 8 processes, 2 exited │ 0 lost │           █          0/s │ ● rec 1234 events │ ? help
",
    );
    assert_eq!(style_at(&buf, "●").fg, Some(Color::Red));

    update(&mut app, status(250_000, SLOW_DISK_BACKLOG + 5, None));
    let buf = draw_at(&mut app, 100, 3);
    assert_screen(
        &text(&buf),
        r"
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
eBPF │ 8 processes, 2 exited │ 0 lost │ 0/s │ ● rec 250000 events slow disk: 100005 waiting │ ? help
",
    );
    assert_eq!(style_at(&buf, "slow disk").bg, Some(Color::Yellow));

    // Events that did not fit in the recorder's queue.
    update(
        &mut app,
        AppEvent::Recording(Status {
            events: 900_000,
            backlog: 0,
            unqueued: 4_321,
            error: None,
        }),
    );
    let buf = draw_at(&mut app, 120, 3);
    assert!(
        text(&buf)
            .ends_with("│ ● rec 900000 events 4321 recorded as lost: disk too slow │ ? help\n"),
        "{}",
        text(&buf)
    );
    assert_eq!(
        style_at(&buf, "4321 recorded as lost").bg,
        Some(Color::Yellow)
    );

    // The error in full in the banner, until Esc; the segment says the recording stopped.
    let error = "cannot write to the recording /mnt/small/s.fwrec: No space left on device \
                 (os error 28); the 249000 events written before stay readable";
    update(&mut app, status(250_000, 0, Some(error)));
    let buf = draw_at(&mut app, 100, 10);
    assert_screen(
        &text(&buf),
        r"
cannot write to the recording /mnt/small/s.fwrec: No space left on device (os error 28); the 249000
events written before stay readable
Esc hides this
    PID USER        AGE COMMAND
      1 root     16m39s /sbin/init
    400 root     16m30s ├─ /usr/sbin/sshd -D
    812 alice     8m20s │  └─ -bash
    900 alice       10s │     └─ make -j2
    901 alice      2.0s │        ├─ [exit 0] cc -c main.c
eBPF │ 8 processes, 2 exited │ 0 lost │ 0/s │ ● recording stopped: write error │ ? help
",
    );
    assert_eq!(style_at(&buf, "● recording stopped").fg, Some(Color::Red));
    key(&mut app, KeyCode::Esc);
    assert!(!screen(&mut app, 100, 10).contains("cannot write"));
}

#[test]
fn a_ui_that_fails_still_ends_its_recording_and_gives_its_own_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("failed.fwrec");
    let recording = recording_into(private_file::create(&path).unwrap(), &path);
    let failed = anyhow::anyhow!("cannot set the terminal up: no such device");
    let error = end_recording(Err(failed), Some(recording)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "cannot set the terminal up: no such device"
    );
    let mut reader = Reader::open(&path).unwrap();
    while reader.next_batch(&mut Vec::new()).unwrap() {}
    assert!(reader.end().is_some(), "closed with its end frame");
}

#[test]
fn the_tee_records_what_the_state_applies_from_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.fwrec");
    let mut recording = recording_into(private_file::create(&path).unwrap(), &path);
    let mut app = recording_machine();
    for event in [AppEvent::Events(make_events()), AppEvent::Tick(1_000 * S)] {
        if let Some(status) = recording.tee(&event) {
            update(&mut app, status);
        }
        update(&mut app, event);
    }
    assert!(screen(&mut app, 100, 12).contains("│ ● rec 10 events │"));
    let said = recording.finish().unwrap();
    assert!(
        said.starts_with("recorded 10 events (fork 4, exec 4, exit 2), 0 lost, "),
        "{said}"
    );
    assert!(said.ends_with(&format!(" to {}", path.display())), "{said}");

    let mut reader = Reader::open(&path).unwrap();
    assert_eq!(reader.snapshot(), machine_processes());
    assert_eq!(reader.info().start_ns, 990 * S);
    let mut events = Vec::new();
    while reader.next_batch(&mut events).unwrap() {}
    assert_eq!(events, make_events());
    assert!(reader.end().is_some(), "closed with its end frame");
}

#[test]
fn a_write_error_stops_the_recording_and_is_said_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("disk");
    let c_path = CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    // A disk that takes the start of the recording (into the pipe's buffer), then goes
    // away: writes fail (EPIPE).
    let (gone, wait_to_go) = std::sync::mpsc::channel::<()>();
    let far_end = {
        let fifo = fifo.clone();
        thread::spawn(move || {
            let pipe = File::open(fifo).unwrap();
            wait_to_go.recv().unwrap();
            drop(pipe);
        })
    };
    let mut recording = recording_into(File::options().write(true).open(&fifo).unwrap(), &fifo);
    gone.send(()).unwrap();
    far_end.join().unwrap();
    let mut app = recording_machine();
    assert!(recording.tee(&AppEvent::Events(make_events())).is_none());
    // The recorder writes within a second; its error shows on the next tick after.
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.recording.as_ref().unwrap().error.is_none() {
        assert!(Instant::now() < deadline, "no write error");
        thread::sleep(Duration::from_millis(20));
        let status = recording.tee(&AppEvent::Tick(1_000 * S)).unwrap();
        update(&mut app, status);
    }
    let error = format!(
        "cannot write to the recording {}: Broken pipe (os error 32); the 0 events written \
         before stay readable",
        fifo.display()
    );
    assert_eq!(
        app.recording.as_ref().unwrap().error.as_deref(),
        Some(error.as_str())
    );
    let shown = screen(&mut app, 200, 8);
    assert!(
        shown.starts_with(&format!("{error}\nEsc hides this\n")),
        "{shown}"
    );
    assert!(
        shown.contains("│ ● recording stopped: write error │"),
        "{shown}"
    );
    // The UI goes on; the recording does not.
    assert!(!app.should_quit());
    assert!(recording.tee(&AppEvent::Events(make_events())).is_none());
    assert_eq!(recording.status().events, 10);
    assert_eq!(recording.finish().unwrap_err().to_string(), error);
}
