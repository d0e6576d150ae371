//! A stream on screen (`replay -`): the status line says `arriving` while frames can
//! still come, then `stream broke` or `stream ended` with the reason in the banner, and
//! the tree stays.

use std::io::Write;

use super::{
    replay::{Replaying, record},
    *,
};
use crate::recording::Stream;

/// Plays at max speed a stream of the make recording, its first frame and a little of the
/// second in the pipe; then the input closes, after the `rest` of the recording if asked.
/// The screen at the end.
fn streamed(rest: bool) -> String {
    let dir = tempfile::tempdir().unwrap();
    let (path, frames) = record(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    let cut = frames.second_events as usize + 10;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (rx, mut tx) = std::io::pipe().unwrap();
        tx.write_all(&bytes[..cut]).unwrap();
        let replay = Stream::spool(rx).await.unwrap();
        let mut r = Replaying::of(replay, "standard input");
        for _ in 0..7 {
            r.key(KeyCode::Char(']')).await;
        }
        r.play_until("the first frame", |app| {
            app.replay_status().unwrap().position.events > 0
        })
        .await;
        let arriving = screen(&mut r.app, 110, 4);
        assert!(arriving.contains(" arriving │"), "{arriving}");
        if rest {
            tx.write_all(&bytes[cut..]).unwrap();
        }
        drop(tx);
        r.play_until("the end", |app| app.replay_status().unwrap().ended)
            .await;
        assert!(r.status().stream_end.is_some());
        screen(&mut r.app, 110, 5)
    })
}

#[test]
fn a_stream_that_breaks_says_so_and_keeps_the_tree() {
    let screen = streamed(false);
    assert_screen(
        &screen,
        r"
the stream broke: the input closed inside the frame at byte 666; what arrived stays shown
    PID USER        AGE COMMAND
      1 root     16m36s /sbin/init
    400 root     16m27s ├─ /usr/sbin/sshd -D
replay │ stream broke max 12:16:37.000 │ 8 processes, 1 exited │ 0 lost │ 0/s │ ? help
",
    );
}

#[test]
fn a_stream_that_ends_says_so() {
    let screen = streamed(true);
    assert_screen(
        &screen,
        r"
the stream ended: the recorder stopped properly
    PID USER        AGE COMMAND
      1 root     16m49s /sbin/init
    400 root     16m40s ├─ /usr/sbin/sshd -D
replay │ stream ended max 12:16:50.000 │ 6 processes │ 0 lost │ 0/s │ ? help
",
    );
}
